//! # Layer 3: network state
//!
//! The things a packet's path is made of, without the path itself: the
//! crafted [`packet`] (and its 5-[`Tuple`](packet::Tuple)), the [`host`] it
//! meets (interfaces, addresses, routes, sysctls; route and address-type
//! look-ups) with [`iptext`], which reads it from `ip addr`/`ip route` text
//! and the scenario's JSON, and the [`conntrack`] table (connections, states,
//! status bits, NAT bindings). [`hash`] is the hasher their indexes use.
//!
//! It may use [`crate::ruleset`] (values, and the model to know whether a
//! ruleset turns tracking on) and [`crate::text`]. It does not evaluate rules
//! or walk chains: that is [`crate::path`].

pub mod conntrack;
pub mod hash;
pub mod host;
pub mod iptext;
pub mod packet;
