//! Reading a ruleset from text: the `iptables-save` format exactly as
//! `iptables-restore` reads it, and scripts of `iptables` commands as a shell
//! would run them. Both build the same [`Ruleset`]; every problem is reported
//! with its span and parsing recovers at the next line.
//!
//! This module splits lines and dispatches; option parsing is in
//! [`crate::argv`], applying commands in [`crate::apply`].

use crate::apply::{self, check_chain_name, parse_policy};
use crate::argv::Scratch;
use crate::argv::{parse_invocation, Invocation};
use crate::diagnostic::{codes, Diagnostic};
use crate::lexer::{restore_words, restore_words_into, shell_words, Word};
use crate::ruleset::*;
use crate::span::Span;
use serde::Serialize;

/// The two input formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum InputFormat {
    /// iptables-save / iptables-restore text.
    Save,
    /// A script of `iptables ...` commands.
    Commands,
}

impl InputFormat {
    pub fn parse(s: &str) -> Option<InputFormat> {
        match s {
            "save" => Some(InputFormat::Save),
            "commands" => Some(InputFormat::Commands),
            _ => None,
        }
    }
}

/// The result of reading a ruleset: the model as far as it could be built, and
/// every diagnostic found (parse errors, then validation).
#[derive(Clone, Debug, PartialEq)]
pub struct Parsed {
    pub ruleset: Ruleset,
    pub diagnostics: Vec<Diagnostic>,
    pub format: InputFormat,
}

impl Parsed {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Guess the format from the first line that is not blank or a comment.
pub fn detect_format(text: &str) -> InputFormat {
    for line in text.lines() {
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        let first = t.split_whitespace().next().unwrap_or("");
        let base = first.rsplit('/').next().unwrap_or(first);
        return if matches!(
            base,
            "sudo" | "iptables" | "iptables-legacy" | "iptables-nft" | "doas" | "set"
        ) {
            InputFormat::Commands
        } else {
            InputFormat::Save
        };
    }
    InputFormat::Save
}

/// Lines with their byte offsets, without the newline (and without a trailing `\r`).
/// A final newline does not start another line.
fn lines(text: &str) -> impl Iterator<Item = (usize, usize, &str)> {
    let body = text.strip_suffix('\n').unwrap_or(text);
    let bytes = body.as_bytes();
    let mut offset = 0;
    let mut lineno = 0;
    std::iter::from_fn(move || {
        if offset > bytes.len() || (body.is_empty() && lineno > 0) {
            return None;
        }
        let start = offset;
        let end = memchr::memchr(b'\n', &bytes[start..]).map_or(bytes.len(), |p| start + p);
        offset = end + 1;
        lineno += 1;
        let l = &body[start..end];
        Some((lineno, start, l.strip_suffix('\r').unwrap_or(l)))
    })
}

/// Parse without validating (see [`crate::parse`] for both).
pub fn parse_text(text: &str, format: Option<InputFormat>) -> Parsed {
    let format = format.unwrap_or_else(|| detect_format(text));
    let mut diagnostics = Vec::new();
    let ruleset = match format {
        InputFormat::Save => parse_save(text, &mut diagnostics),
        InputFormat::Commands => parse_commands(text, &mut diagnostics),
    };
    Parsed {
        ruleset,
        diagnostics,
        format,
    }
}

/// A command line of a dump, parsed but not yet applied.
struct RuleLine<'a> {
    diags: Vec<Diagnostic>,
    inv: Option<Invocation<'a>>,
}

/// State reused from one line to the next.
#[derive(Default)]
struct Worker<'a> {
    scratch: Scratch,
    words: Vec<Word<'a>>,
}

/// Lex and parse one command line of a dump, without applying it.
fn parse_rule_line<'a>(
    text: &'a str,
    lineno: usize,
    start: usize,
    line: &'a str,
    w: &mut Worker<'a>,
) -> RuleLine<'a> {
    let mut diags = Vec::new();
    let lead = line.len() - line.trim_start().len();
    let span = Span::new(start + lead, start + line.len());
    if let Some(e) = restore_words_into(line, start, &mut w.words) {
        diags.push(
            Diagnostic::warning(codes::LEX, e.span, e.message).with_hint(
                "close the quote; iptables-restore groups words with double quotes only",
            ),
        );
    }
    let mut counters = None;
    let mut skip = 0;
    if let Some(first) = w.words.first().filter(|f| f.text.starts_with('[')) {
        skip = 1;
        match Counters::parse(&first.text) {
            Some(c) => counters = Some(c),
            None => match Counters::parse_lenient(&first.text) {
                Some(c) => {
                    diags.push(Diagnostic::warning(codes::BAD_COUNTERS, first.span, format!("counters `{}' are not two numbers; iptables-restore reads them as [{}:{}]", first.text, c.packets, c.bytes))
                        .with_hint("counters look like [packets:bytes], e.g. [0:0]"));
                    counters = Some(c);
                }
                None => {
                    diags.push(
                        Diagnostic::error(
                            codes::BAD_VALUE,
                            first.span,
                            format!("Bad counters `{}'", first.text),
                        )
                        .with_hint("counters look like [packets:bytes], e.g. [0:0]"),
                    );
                    return RuleLine { diags, inv: None };
                }
            },
        }
    }
    match parse_invocation(&w.words[skip..], text, true, lineno, span, &mut w.scratch) {
        Ok(mut inv) => {
            diags.append(&mut inv.warnings);
            if let Some(c) = counters {
                inv.rules.iter_mut().for_each(|r| {
                    r.counters.get_or_insert_with(|| Box::new(c));
                });
            }
            RuleLine {
                diags,
                inv: Some(inv),
            }
        }
        Err(d) => {
            diags.push(d);
            RuleLine { diags, inv: None }
        }
    }
}

fn parse_save(text: &str, diags: &mut Vec<Diagnostic>) -> Ruleset {
    let mut ruleset = Ruleset::default();
    let mut worker = Worker::default();
    let mut cursor = None;
    // The open table: its kind and the line that opened it.
    let mut open: Option<(TableKind, Span, usize)> = None;
    // After an unknown `*table`, its lines are skipped up to its COMMIT.
    let mut skipping = false;
    let mut last_line = 0;
    for (lineno, start, line) in lines(text) {
        last_line = lineno;
        let trimmed = line.trim_start();
        let lead = line.len() - trimmed.len();
        let span = Span::new(start + lead, start + line.len());
        if trimmed.trim_end().is_empty() || trimmed.starts_with('#') {
            continue;
        }
        if let Some(name) = trimmed.strip_prefix('*') {
            skipping = false;
            let name = name.trim_end();
            if let Some((k, s, l)) = open {
                diags.push(
                    Diagnostic::error(
                        codes::MISSING_COMMIT,
                        s,
                        format!("COMMIT expected at line {lineno}"),
                    )
                    .with_hint(format!(
                        "table {} opened at line {l} is not closed by COMMIT before the next table",
                        k.name()
                    )),
                );
            }
            match TableKind::parse(name) {
                Some(kind) => {
                    if ruleset.table(kind).is_some() {
                        diags.push(Diagnostic::warning(codes::TABLE_REPLACED, span, format!("table {name} appears again: this block replaces the earlier one"))
                            .with_hint("iptables-restore flushes a table each time its *table line is read"));
                    }
                    let fresh = Table::new(kind, span);
                    match ruleset.tables.iter().position(|t| t.kind == kind) {
                        Some(i) => ruleset.tables[i] = fresh,
                        None => ruleset.tables.push(fresh),
                    }
                    open = Some((kind, span, lineno));
                }
                None => {
                    diags.push(unknown_table(
                        name,
                        Span::new(span.lo() + 1, span.hi()),
                        true,
                    ));
                    open = None;
                    skipping = true;
                }
            }
            continue;
        }
        if skipping {
            skipping = trimmed.trim_end() != "COMMIT";
            continue;
        }
        if trimmed.trim_end() == "COMMIT" {
            if open.take().is_none() {
                diags.push(
                    Diagnostic::error(codes::NO_TABLE, span, "COMMIT without an open table")
                        .with_hint("a table block starts with a line like *filter"),
                );
            }
            continue;
        }
        let Some((kind, _, _)) = open else {
            diags.push(Diagnostic::error(codes::NO_TABLE, span, "no table specified: this line comes before any `*table` line")
                .with_hint("start each table with a line like *filter (or *nat, *mangle, *raw, *security) and end it with COMMIT"));
            continue;
        };
        let table = ruleset.table_mut(kind).expect("open table exists");
        if let Some(decl) = trimmed.strip_prefix(':') {
            if let Err(d) = chain_decl(table, decl, start + lead + 1) {
                diags.push(d);
            }
            continue;
        }
        let RuleLine {
            diags: mut found,
            inv,
        } = parse_rule_line(text, lineno, start, line, &mut worker);
        diags.append(&mut found);
        if let Some(inv) = inv {
            if let Err(d) = apply::apply(table, inv, &mut cursor) {
                diags.push(d);
            }
        }
    }
    if let Some((k, s, _)) = open {
        diags.push(
            Diagnostic::error(
                codes::MISSING_COMMIT,
                s,
                format!("COMMIT expected at line {}", last_line + 1),
            )
            .with_hint(format!("end the {} table with a COMMIT line", k.name())),
        );
    }
    shrink(&mut ruleset);
    ruleset
}

/// Give back the spare capacity of rule lists: a dump has tens of thousands of
/// two-rule chains, each of which grew a four-rule buffer.
fn shrink(ruleset: &mut Ruleset) {
    for t in ruleset.tables.iter_mut() {
        for c in t.chains.iter_mut() {
            c.rules.shrink_to_fit();
        }
    }
}

/// iptables-restore and iptables word this differently; `restore` picks which.
fn unknown_table(name: &str, span: Span, restore: bool) -> Diagnostic {
    let message = if restore {
        format!("unable to initialize table '{name}'")
    } else {
        format!("can't initialize iptables table `{name}': Table does not exist")
    };
    let d = Diagnostic::error(codes::UNKNOWN_TABLE, span, message);
    match crate::argv::suggest(name, TableKind::ALL.iter().map(|t| t.name())) {
        Some(s) => d.with_hint(format!(
            "did you mean `{s}'? The tables are raw, mangle, nat, filter and security"
        )),
        None => d.with_hint("the tables are raw, mangle, nat, filter and security"),
    }
}

/// `:NAME POLICY [p:b]` inside a table block.
fn chain_decl(table: &mut Table, decl: &str, base: usize) -> Result<(), Diagnostic> {
    let (words, unterminated) = restore_words(decl, base);
    if let Some(e) = unterminated {
        return Err(Diagnostic::error(codes::LEX, e.span, e.message));
    }
    let Some(name) = words.first() else {
        return Err(Diagnostic::error(
            codes::BAD_LINE,
            Span::new(base - 1, base),
            "chain declaration without a name",
        )
        .with_hint("declare chains as :NAME POLICY [packets:bytes], e.g. :KUBE-SERVICES - [0:0]"));
    };
    let policy = words.get(1);
    let counters = match words.get(2) {
        Some(c) => Some(Counters::parse(&c.text).ok_or_else(|| {
            Diagnostic::error(
                codes::BAD_VALUE,
                c.span,
                format!("Bad counters `{}'", c.text),
            )
            .with_hint("counters look like [packets:bytes], e.g. [0:0]")
        })?),
        None => None,
    };
    if let Some(extra) = words.get(3) {
        return Err(Diagnostic::error(
            codes::BAD_LINE,
            extra.span,
            format!("unexpected `{}' after the chain's counters", extra.text),
        ));
    }
    if name.text.len() >= 29 {
        return Err(Diagnostic::error(
            codes::BAD_CHAIN_NAME,
            name.span,
            format!("Invalid chain name `{}' (28 chars max)", name.text),
        ));
    }
    let existing = table.chain_index(&name.text);
    match existing {
        Some(i) if table.chains[i].is_builtin() => {
            let c = &mut table.chains[i];
            if !c.span.is_empty() {
                return Err(Diagnostic::error(
                    codes::DUPLICATE_CHAIN,
                    name.span,
                    format!("chain `{}' is declared twice", name.text),
                ));
            }
            c.span = name.span;
            if let Some(p) = policy {
                if p.text != "-" {
                    let pol = parse_policy(&p.text, p.span)?;
                    table.chains[i].policy = Some(pol);
                    if table.kind == TableKind::Nat && pol == Policy::Drop {
                        // iptables-restore accepts this (only `iptables -P` refuses it).
                        return Err(Diagnostic::warning(codes::NAT_DROP, p.span, "DROP policy in the nat table: iptables-restore loads it, but `iptables -t nat -P` refuses it")
                            .with_hint("every new connection that no nat rule accepts will be dropped; filter in the filter table instead"));
                    }
                }
            }
            if let Some(c) = counters {
                table.chains[i].counters = c;
            }
        }
        Some(_) => {
            return Err(Diagnostic::error(
                codes::DUPLICATE_CHAIN,
                name.span,
                format!("error creating chain '{}':File exists", name.text),
            )
            .with_hint("the chain is declared twice in this table"));
        }
        None => {
            check_chain_name(&name.text, name.span)?;
            if let Some(p) = policy.filter(|p| p.text != "-") {
                let builtin_elsewhere = Hook::parse(&name.text).is_some();
                let d = Diagnostic::error(
                    codes::POLICY_ON_USER_CHAIN,
                    p.span,
                    format!(
                        "Can't set policy `{}' on `{}': Bad built-in chain name",
                        p.text, name.text
                    ),
                );
                return Err(if builtin_elsewhere {
                    d.with_hint(format!(
                        "the {} table has no built-in chain {}; user chains take `-` as policy",
                        table.kind.name(),
                        name.text
                    ))
                } else {
                    d.with_hint("user-defined chains take `-` as policy")
                });
            }
            table.add_chain(Chain {
                name: name.text.to_string(),
                hook: None,
                policy: None,
                counters: counters.unwrap_or_default(),
                rules: vec![],
                span: name.span,
            });
        }
    }
    Ok(())
}

fn parse_commands(text: &str, diags: &mut Vec<Diagnostic>) -> Ruleset {
    let mut ruleset = Ruleset::default();
    let mut scratch = Scratch::default();
    let mut cursor = None;
    // A line ending in an odd number of backslashes continues on the next: the
    // command is the original text across those lines (the shell tokeniser
    // reads `\<newline>` as a continuation), so spans stay exact.
    let mut pending: Option<(usize, usize)> = None;
    for (lineno, line_start, line) in lines(text) {
        let (lineno, start) = pending.take().unwrap_or((lineno, line_start));
        let full = &text[start..line_start + line.len()];
        let trailing = full.len() - full.trim_end_matches('\\').len();
        if trailing % 2 == 1 {
            pending = Some((lineno, start));
            continue;
        }
        let words = match shell_words(full, start) {
            Ok(w) => w,
            Err(e) => {
                diags.push(
                    Diagnostic::error(codes::LEX, e.span, e.message).with_hint("close the quote"),
                );
                continue;
            }
        };
        let mut i = 0;
        while i < words.len() && matches!(&*words[i].text, "sudo" | "doas" | "-E") {
            i += 1;
        }
        let Some(cmd) = words.get(i) else { continue };
        let base = cmd.text.rsplit('/').next().unwrap_or(&cmd.text);
        if !matches!(base, "iptables" | "iptables-legacy" | "iptables-nft") {
            if matches!(base, "set" | "true" | ":") {
                continue;
            }
            diags.push(Diagnostic::error(codes::BAD_LINE, cmd.span, format!("expected an `iptables` command, found `{}'", cmd.text))
                .with_hint("each line of a command script is `iptables [-t TABLE] COMMAND ...`; use the iptables-save format for dumps"));
            continue;
        }
        let span = Span::new(cmd.span.lo(), start + full.trim_end().len());
        let rest = &words[i + 1..];
        let inv = match parse_invocation(rest, text, false, lineno, span, &mut scratch) {
            Ok(inv) => inv,
            Err(d) => {
                diags.push(d);
                continue;
            }
        };
        let mut inv = inv;
        diags.append(&mut inv.warnings);
        let kind = match &inv.table {
            None => TableKind::Filter,
            Some((name, s)) => match TableKind::parse(name) {
                Some(k) => k,
                None => {
                    diags.push(unknown_table(name, *s, false));
                    continue;
                }
            },
        };
        let table = ruleset.table_or_insert(kind);
        if let Err(d) = apply::apply(table, inv, &mut cursor) {
            diags.push(d);
        }
    }
    shrink(&mut ruleset);
    ruleset
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_formats() {
        assert_eq!(detect_format("# hi\n*filter\n"), InputFormat::Save);
        assert_eq!(
            detect_format("\nsudo iptables -A INPUT -j DROP\n"),
            InputFormat::Commands
        );
        assert_eq!(detect_format("/sbin/iptables -F\n"), InputFormat::Commands);
    }
}
