//! # nfsim — a faithful model of Linux netfilter/iptables
//!
//! The engine behind the iptables playground, its CLI and its tests. It is pure:
//! no clock, no global randomness, no I/O, no web types — text, host, time and
//! seeds come in as values, and the same inputs always give the same outputs.
//!
//! ## Layers
//!
//! Five folders, one per layer. A layer uses only the layers below it, never
//! one above (no module cycle):
//!
//! ```text
//!  scenario   a scenario file run with the state that outlives a packet;
//!     |       traces as JSON and text; the share link's codec
//!   path      one rule against one packet (eval), one table at one hook
//!     |       (walk), the hooks in the kernel's order (pipeline)
//!    net      the packet and its tuple, the host (addresses, routes,
//!     |       sysctls), the connection table
//!  ruleset    the model, its values and names, matches and targets; reading
//!     |       (argv, parser, apply), checking (validate, lint), writing
//!     |       (render, export)
//!   text      spans, diagnostics, splitting lines into words, suggestions
//! ```
//!
//! - [`text`]: [`span`](text::span), [`diagnostic`](text::diagnostic) (the
//!   one problem model the CLI and the editor both render),
//!   [`lexer`](text::lexer) (words of a line, as iptables-restore or a shell
//!   splits them), [`suggest`](text::suggest) ("did you mean").
//! - [`ruleset`]: the [`model`](ruleset::model) (tables, chains and typed
//!   rules, each with its source span) with its [`value`](ruleset::value)s and
//!   [`names`](ruleset::names); the extensions ([`matches`](mod@ruleset::matches),
//!   [`targets`](ruleset::targets), and what they share in
//!   [`ext`](ruleset::ext)); [`argv`](ruleset::argv) (one invocation, option by
//!   option), [`parser`](ruleset::parser) and [`apply`](ruleset::apply)
//!   (iptables-save dumps and command scripts); [`validate`](ruleset::validate)
//!   (the kernel's load-time checks) and [`lint`](ruleset::lint) (warnings
//!   beyond them); [`render`](ruleset::render) (canonical iptables-save) and
//!   [`export`](ruleset::export) (`iptables` commands, nftables).
//! - [`net`]: the [`packet`](net::packet) and its [`Tuple`](net::packet::Tuple),
//!   the [`host`](net::host) (read from `ip` text and JSON by
//!   [`iptext`](net::iptext)), the [`conntrack`](net::conntrack) table, and the
//!   [`hash`](net::hash) their indexes use.
//! - [`path`]: [`eval`](path::eval) (whether one rule matches, and if not why),
//!   [`walk`](path::walk) (one table at one hook, jumps and returns),
//!   [`pipeline`](path::pipeline) (routing, conntrack, NAT and every hook;
//!   beside it, private, `nat`, `answer`, `route` and `log` do its single
//!   jobs).
//! - [`scenario`]: ruleset, host, packets and seed as JSON, run and reported
//!   (the report, JSON and text, in `scenario/report.rs`);
//!   [`link`](scenario::link), the share link's codec.
//!
//! ## Where to add a new match or target
//!
//! Each extension has one descriptor, and the compiler finds the rest. A
//! match (`-m NAME`):
//! 1. [`ruleset::matches`](mod@ruleset::matches): a variant of
//!    [`MatchKind`](ruleset::matches::MatchKind) and its
//!    [`MatchDesc`](ruleset::matches::MatchDesc) in
//!    [`MATCHES`](ruleset::matches::MATCHES): its name, its options (written
//!    with `opt!`, see [`ruleset::ext`]), the protocol it needs, its fresh
//!    state, the options that take two words, the hooks the kernel allows it
//!    in (read by [`ruleset::validate`]) and whether the kernel tracks
//!    connections for it (read by [`ruleset::model::needs_conntrack`]); a
//!    descriptor missing one of these does not build. Take it out of
//!    [`ruleset::argv`]'s `OTHER_MATCHES` if it was kept verbatim before.
//! 2. Every `match` on `MatchKind` is exhaustive, so the build then stops at
//!    each place the variant needs handling: `name`, `apply`, `final_check`,
//!    `save`, [`path::eval`]'s `match_one` (whether it matches a packet, and
//!    why not), [`ruleset::export`] (its nftables translation) and
//!    [`ruleset::lint`].
//!
//! A target (`-j NAME`) follows the same pattern: a
//! [`TargetKind`](ruleset::targets::TargetKind) variant and its
//! [`TargetDesc`](ruleset::targets::TargetDesc) in
//! [`TARGETS`](ruleset::targets::TARGETS) (with its table, hooks and
//! connection tracking), then the variant's methods, and what it does to a
//! packet in [`path::walk`] (`BasicTargets`, when no connection is involved)
//! or [`path::pipeline`] (its target runner; a NAT target's address and port
//! in `path/nat.rs`). Still by hand, in [`ruleset::validate`]'s `check_rule`:
//! a check that depends on the rule's protocol or the target's options
//! (REJECT's tcp-reset, a NAT target's ports, TCPMSS's SYN and clamping
//! hooks). Tests: fixtures under `engine/tests/fixtures` (the `oracle/` cases
//! are recorded against the real kernel, see the README).
#![forbid(unsafe_code)]

pub mod net;
pub mod path;
pub mod ruleset;
pub mod scenario;
pub mod text;

pub use ruleset::model::Ruleset;
pub use ruleset::parser::{InputFormat, ParseOptions, Parsed};
pub use text::diagnostic::{Diagnostic, Severity};

/// Parse `text` (format detected unless given) and validate the result:
/// every diagnostic, sorted by position.
pub fn parse(text: &str, format: Option<InputFormat>) -> Parsed {
    parse_with(text, format, ParseOptions::default())
}

/// [`parse`], spreading the work as `options` allow (the result is the same).
pub fn parse_with(text: &str, format: Option<InputFormat>, options: ParseOptions) -> Parsed {
    let mut parsed = ruleset::parser::parse_text_with(text, format, options);
    parsed.diagnostics.extend(ruleset::validate::validate_with(
        &parsed.ruleset,
        options.threads,
    ));
    parsed
        .diagnostics
        .sort_by_key(|d| (d.span.start, d.severity));
    parsed
}
