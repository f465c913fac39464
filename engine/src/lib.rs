//! # nfsim — a faithful model of Linux netfilter/iptables
//!
//! The engine behind the iptables playground, its CLI and its tests. It is pure:
//! no clock, no global randomness, no I/O, no web types — text, host, time and
//! seeds come in as values, and the same inputs always give the same outputs.
//!
//! Layers, from text to model:
//! - [`span`] and [`diagnostic`]: positions and the one problem model that the
//!   CLI and the editor both render.
//! - [`lexer`]: words of a line, as iptables-restore or a shell splits them.
//! - [`argv`]: one iptables invocation parsed option by option into typed
//!   values ([`value`], [`matches`](mod@matches), [`targets`]).
//! - [`parser`] and [`apply`]: the iptables-save format and command scripts
//!   building a [`ruleset::Ruleset`].
//! - [`validate`]: the kernel's load-time checks on the whole ruleset.
//! - [`render`]: the canonical iptables-save text; [`export`]: the same ruleset
//!   as `iptables` commands or as nftables rules.
//! - [`lint`]: warnings beyond the kernel's checks (shadowed rules, chains
//!   never reached), on request.
//!
//! The model they build on: [`ruleset`] (tables, chains and typed rules, each
//! with its source span), [`names`] (the fixed name tables iptables resolves:
//! protocols, services, ICMP types, ...) and [`strtab`] (the chain-name index
//! for large dumps).
//!
//! Layers, from model to packets:
//! - [`host`]: interfaces, addresses, routes and sysctls; route and
//!   address-type look-ups. [`packet`]: a crafted packet and its JSON form.
//! - [`eval`]: whether one rule matches a packet, and if not, why.
//! - [`walk`]: one table at one hook, rule by rule, jumps and returns.
//! - [`conntrack`]: the connection table, states, status bits and NAT
//!   bindings.
//! - [`pipeline`]: a packet's path through the hooks in the kernel's order,
//!   routing, conntrack and NAT included.
//! - [`scenario`]: ruleset, host, packets and seed as JSON, run with the state
//!   that outlives a packet; traces rendered as the CLI's JSON and text.
//!
//! Beside them: [`link`], the share link's codec (a text packed into a URL
//! fragment, unpacked with caps against hostile links).
#![forbid(unsafe_code)]

pub mod apply;
pub mod argv;
pub mod conntrack;
pub mod diagnostic;
pub mod eval;
pub mod export;
pub mod host;
pub mod lexer;
pub mod link;
pub mod lint;
pub mod matches;
pub mod names;
pub mod packet;
pub mod parser;
pub mod pipeline;
pub mod render;
pub mod ruleset;
pub mod scenario;
pub mod span;
pub mod strtab;
pub mod targets;
pub mod validate;
pub mod value;
pub mod walk;

pub use diagnostic::{Diagnostic, Severity};
pub use parser::{InputFormat, ParseOptions, Parsed};
pub use ruleset::Ruleset;

/// Parse `text` (format detected unless given) and validate the result:
/// every diagnostic, sorted by position.
pub fn parse(text: &str, format: Option<InputFormat>) -> Parsed {
    parse_with(text, format, ParseOptions::default())
}

/// [`parse`], spreading the work as `options` allow (the result is the same).
pub fn parse_with(text: &str, format: Option<InputFormat>, options: ParseOptions) -> Parsed {
    let mut parsed = parser::parse_text_with(text, format, options);
    parsed
        .diagnostics
        .extend(validate::validate_with(&parsed.ruleset, options.threads));
    parsed
        .diagnostics
        .sort_by_key(|d| (d.span.start, d.severity));
    parsed
}
