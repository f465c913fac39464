//! # Layer 1: text
//!
//! What every reader of input shares, with no knowledge of iptables: byte
//! [`span`]s and their line/column positions, the one [`diagnostic`] model
//! (errors and warnings as the CLI and the editor render them), the
//! [`lexer`] that splits a line into words as iptables-restore or a shell
//! would, and [`suggest`] for "did you mean" hints.
//!
//! This is the bottom layer: it uses no other layer of the crate. It does not
//! know what a rule, a packet or a chain is.

pub mod diagnostic;
pub mod lexer;
pub mod span;
pub mod suggest;
