//! # Layer 4: the packet's path
//!
//! A packet through the ruleset: whether one rule matches it and why not
//! ([`eval`]), one table at one hook rule by rule with jumps and returns
//! ([`walk`]), and the hooks in the kernel's order with routing, conntrack,
//! NAT, REJECT's reply and log lines ([`pipeline`]). Private modules do the
//! pipeline's single jobs: `nat` (the address and port a NAT target picks),
//! `answer` (what REJECT and the host's stack send back), `route` (martians,
//! rp_filter, the output route) and `log` (the kernel's LOG/TRACE line).
//!
//! It may use [`crate::net`], [`crate::ruleset`] and [`crate::text`]. It runs
//! one packet at a time; state that outlives a packet (the scenario's
//! counters, clock and random draws) is handed in, and reading scenarios and
//! rendering traces is [`crate::scenario`]'s.

mod answer;
pub mod eval;
mod log;
mod nat;
pub mod pipeline;
mod route;
pub mod walk;
