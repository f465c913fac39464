//! # Layer 2: the ruleset
//!
//! What iptables-save describes and the kernel loads, and everything done to it
//! as text: the [`model`] (tables, chains, typed rules) with its [`value`]s,
//! its tables and [`hook`]s, fixed [`names`] and the chain-name index
//! ([`strtab`]); the match and target extensions ([`matches`](mod@matches),
//! [`targets`], each described once in a table of descriptors, and what they
//! share in [`ext`]); reading it ([`argv`] for one invocation, [`parser`] for dumps and
//! scripts, [`apply`] for commands); checking it ([`validate`]: the kernel's
//! load-time checks; [`lint`]: proven warnings beyond them); writing it
//! ([`render`]: canonical iptables-save; [`export`]: `iptables` commands and
//! nftables).
//!
//! It may use only [`crate::text`]. It knows nothing of packets, hosts or
//! connections: whether a rule matches a packet is [`crate::path`]'s business.

pub mod apply;
pub mod argv;
pub mod export;
pub mod ext;
pub mod hook;
pub mod lint;
pub mod matches;
pub mod model;
pub mod names;
pub mod parser;
pub mod render;
pub mod strtab;
pub mod targets;
pub mod validate;
pub mod value;
