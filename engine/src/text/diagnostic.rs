//! The one diagnostic model: what went wrong, where, and what to do about it.
//!
//! Parser and validator push [`Diagnostic`]s; the CLI renders them for terminals
//! (`FILE:LINE:COL: error[CODE]: message`, source line, caret, hint) or as JSON, and
//! the web editor renders the same values under the text. This module renders text
//! and JSON but performs no I/O.

use crate::text::span::{LineIndex, Span};
use serde::Serialize;
use std::fmt::Write as _;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

/// One problem found in a ruleset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    /// A short stable code such as `E0101`; see [`codes`].
    pub code: &'static str,
    /// What is wrong, in iptables' own wording where it has one.
    pub message: String,
    pub span: Span,
    /// A plain-words suggestion.
    pub hint: Option<String>,
}

impl Diagnostic {
    pub fn error(code: &'static str, span: Span, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            code,
            message: message.into(),
            span,
            hint: None,
        }
    }
    pub fn warning(code: &'static str, span: Span, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            code,
            message: message.into(),
            span,
            hint: None,
        }
    }
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// A diagnostic with its span resolved to 1-based lines and columns
/// (`end_column` is exclusive), as the JSON contract and the editor want it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Located {
    pub severity: Severity,
    pub code: &'static str,
    pub message: String,
    pub line: usize,
    pub column: usize,
    pub end_line: usize,
    pub end_column: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

/// Resolve spans against `text`.
pub fn locate(text: &str, diagnostics: &[Diagnostic]) -> Vec<Located> {
    let index = LineIndex::new(text);
    diagnostics
        .iter()
        .map(|d| {
            let start = index.position(text, d.span.lo());
            let end = index.position(text, d.span.hi().max(d.span.lo()));
            Located {
                severity: d.severity,
                code: d.code,
                message: d.message.clone(),
                line: start.line,
                column: start.column,
                end_line: end.line,
                end_column: end.column,
                hint: d.hint.clone(),
            }
        })
        .collect()
}

/// Render for a terminal:
/// ```text
/// rules.v4:3:12: error[E0203]: unknown option "--dprot"
///     3 | -A INPUT -p tcp --dprot 22 -j ACCEPT
///       |                 ^^^^^^^
///       = hint: did you mean "--dport"?
/// ```
pub fn render_terminal(file: &str, text: &str, diagnostics: &[Diagnostic]) -> String {
    if diagnostics.is_empty() {
        return String::new();
    }
    let index = LineIndex::new(text);
    let mut out = String::new();
    for d in diagnostics {
        let pos = index.position(text, d.span.lo());
        let _ = writeln!(
            out,
            "{file}:{}:{}: {}[{}]: {}",
            pos.line,
            pos.column,
            d.severity.as_str(),
            d.code,
            d.message
        );
        let line0 = pos.line - 1;
        let line = index.line_text(text, line0);
        let gutter = pos.line.to_string().len().max(4);
        let _ = writeln!(out, "{:>gutter$} | {}", pos.line, line);
        let line_start = index.line_start(line0);
        let line_end = line_start + line.len();
        let end = d.span.hi().min(line_end).max(d.span.lo());
        let width = text
            .get(d.span.lo().min(line_end)..end)
            .map_or(1, |s| s.chars().count())
            .max(1);
        let _ = writeln!(
            out,
            "{:>gutter$} | {}{}",
            "",
            " ".repeat(pos.column - 1),
            "^".repeat(width)
        );
        if let Some(h) = &d.hint {
            let _ = writeln!(out, "{:>gutter$} = hint: {}", "", h);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_rendering_points_at_the_span() {
        let text = "*filter\n-A INPUT -p tcp --dprot 22 -j ACCEPT\n";
        let start = text.find("--dprot").unwrap();
        let d = Diagnostic::error(
            "E0203",
            Span::new(start, start + 7),
            "unknown option \"--dprot\"",
        )
        .with_hint("did you mean \"--dport\"?");
        let out = render_terminal("r.v4", text, &[d]);
        assert_eq!(
            out,
            concat!(
                "r.v4:2:17: error[E0203]: unknown option \"--dprot\"\n",
                "   2 | -A INPUT -p tcp --dprot 22 -j ACCEPT\n",
                "     |                 ^^^^^^^\n",
                "     = hint: did you mean \"--dport\"?\n",
            )
        );
    }
}

/// The diagnostic codes. Parse-time codes are E01xx, structure E02xx,
/// kernel load-time checks E03xx, warnings W04xx.
pub mod codes {
    /// An unterminated quote.
    pub const LEX: &str = "E0001";
    pub const UNKNOWN_OPTION: &str = "E0101";
    pub const MISSING_ARGUMENT: &str = "E0102";
    /// A value that does not parse: address, port, mark, probability, ...
    pub const BAD_VALUE: &str = "E0103";
    /// `-m NAME` / `-j NAME` that names no extension.
    pub const UNKNOWN_EXTENSION_NAME: &str = "E0104";
    /// A protocol option (`--dport`) or match without the `-p` it needs.
    pub const PROTO_REQUIRED: &str = "E0105";
    pub const BAD_ARGUMENT: &str = "E0106";
    pub const BAD_NEGATION: &str = "E0107";
    /// An extension's own final check (a required option is missing, ...).
    pub const EXTENSION_CHECK: &str = "E0108";
    pub const DUPLICATE_OPTION: &str = "E0109";
    /// A rule or chain line before any `*table` line.
    pub const NO_TABLE: &str = "E0201";
    pub const MISSING_COMMIT: &str = "E0202";
    pub const UNKNOWN_TABLE: &str = "E0203";
    pub const DUPLICATE_CHAIN: &str = "E0204";
    pub const NO_SUCH_CHAIN: &str = "E0205";
    pub const BAD_CHAIN_NAME: &str = "E0206";
    pub const POLICY_ON_USER_CHAIN: &str = "E0207";
    pub const BAD_POLICY: &str = "E0208";
    pub const NAT_DROP: &str = "E0209";
    pub const BAD_COMMAND: &str = "E0210";
    /// A rule number or rule to delete that does not exist; a chain that cannot be deleted.
    pub const BAD_RULE_REF: &str = "E0211";
    pub const BAD_LINE: &str = "E0212";
    pub const UNDEFINED_CHAIN: &str = "E0301";
    pub const JUMP_LOOP: &str = "E0302";
    pub const TARGET_HOOK: &str = "E0303";
    pub const TARGET_TABLE: &str = "E0304";
    pub const MATCH_HOOK: &str = "E0305";
    pub const PROTO_MISMATCH: &str = "E0306";
    pub const UNKNOWN_EXTENSION: &str = "W0401";
    pub const UNREACHABLE_RULE: &str = "W0402";
    pub const TABLE_REPLACED: &str = "W0403";
    /// Counters that are not numbers (iptables-restore reads them as 0).
    pub const BAD_COUNTERS: &str = "W0404";
    /// An address range whose start is after its end: it never matches.
    pub const RANGE_REVERSED: &str = "W0405";
    /// A rule that can never match: an earlier rule of its chain catches every
    /// packet it would (`nfsim::ruleset::lint`).
    pub const SHADOWED_RULE: &str = "W0406";
    /// A user chain with rules that no reached rule jumps or goes to (`nfsim::ruleset::lint`).
    pub const UNREACHABLE_CHAIN: &str = "W0407";
}
