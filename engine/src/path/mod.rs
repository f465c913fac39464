//! # Layer 4: the packet's path
//!
//! A packet through the ruleset: whether one rule matches it and why not
//! ([`eval`]), one table at one hook rule by rule with jumps and returns
//! ([`walk`]), and the hooks in the kernel's order with routing, conntrack,
//! NAT, REJECT's reply and log lines ([`pipeline`]).
//!
//! It may use [`crate::net`], [`crate::ruleset`] and [`crate::text`]. It runs
//! one packet at a time; state that outlives a packet (the scenario's
//! counters, clock and random draws) is handed in, and reading scenarios and
//! rendering traces is [`crate::scenario`]'s.

pub mod eval;
pub mod pipeline;
pub mod walk;
