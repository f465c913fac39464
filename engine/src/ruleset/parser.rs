//! Reading a ruleset from text: the `iptables-save` format exactly as
//! `iptables-restore` reads it, and scripts of `iptables` commands as a shell
//! would run them. Both build the same [`Ruleset`]; every problem is reported
//! with its span and parsing recovers at the next line.
//!
//! This module splits lines and dispatches; option parsing is in
//! [`crate::ruleset::argv`], applying commands in [`crate::ruleset::apply`]. A dump is read a
//! block of lines at a time: its command lines are parsed (on other threads
//! too, when [`ParseOptions`] allows), then every line is applied in order, so
//! the result never depends on how the work was spread.

use crate::ruleset::apply::{self, check_chain_name, parse_policy};
use crate::ruleset::argv::Scratch;
use crate::ruleset::argv::{parse_invocation, parse_invocation_into, Invocation};
use crate::ruleset::model::*;
use crate::text::diagnostic::{codes, Diagnostic};
use crate::text::lexer::{restore_words_into, shell_words, Word};
use crate::text::span::Span;
use crate::text::suggest::suggest;
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
    parse_text_with(text, format, ParseOptions::default())
}

/// [`parse_text`], spreading the work as `options` allow.
pub fn parse_text_with(text: &str, format: Option<InputFormat>, options: ParseOptions) -> Parsed {
    let format = format.unwrap_or_else(|| detect_format(text));
    let mut diagnostics = Vec::new();
    let ruleset = match format {
        InputFormat::Save => parse_save(text, &mut diagnostics, options),
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
    /// For an append: the rules it and the appends right after it in its block
    /// bring to the same chain (a size hint for the chain's rule list).
    run: u32,
}

impl RuleLine<'_> {
    /// A line not parsed yet.
    fn blank() -> Self {
        RuleLine {
            diags: Vec::new(),
            inv: None,
            run: 0,
        }
    }

    /// The chain an append goes to.
    fn appends_to(&self) -> Option<&str> {
        let inv = self.inv.as_ref()?;
        if inv.op != crate::ruleset::argv::Op::Append {
            return None;
        }
        inv.chain.as_ref().map(|(c, _)| &**c)
    }
}

/// State reused from one line to the next.
#[derive(Default)]
struct Worker<'a> {
    scratch: Scratch,
    words: Vec<Word<'a>>,
}

/// Lex and parse one command line of a dump into `out` (blank, see
/// [`RuleLine::blank`]), where it stays until applied.
fn parse_rule_line_into<'a>(
    text: &'a str,
    lineno: usize,
    start: usize,
    line: &'a str,
    w: &mut Worker<'a>,
    out: &mut RuleLine<'a>,
) {
    let diags = &mut out.diags;
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
                    out.inv = None;
                    return;
                }
            },
        }
    }
    let inv = out.inv.get_or_insert_with(Invocation::empty);
    let words = &w.words[skip..];
    match parse_invocation_into(words, text, true, lineno, span, &mut w.scratch, inv) {
        Ok(()) => {
            diags.append(&mut inv.warnings);
            if let Some(c) = counters {
                inv.rules.iter_mut().for_each(|r| {
                    r.counters.get_or_insert_with(|| Box::new(c));
                });
            }
        }
        Err(d) => {
            diags.push(d);
            out.inv = None;
        }
    }
}

/// How the save-format reader may spread its work: the number of threads (the
/// caller's; 1 reads on the calling thread only) and the size of the blocks of
/// text they take turns on. The ruleset and diagnostics are the same whatever
/// the options: only the time differs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParseOptions {
    pub threads: usize,
    /// Bytes per block (rounded to whole lines).
    pub block: usize,
}

impl Default for ParseOptions {
    fn default() -> ParseOptions {
        ParseOptions {
            threads: 1,
            block: 64 * 1024,
        }
    }
}

impl ParseOptions {
    /// `threads` threads, on inputs large enough to gain from them.
    pub fn threads(threads: usize) -> ParseOptions {
        ParseOptions {
            threads: threads.max(1),
            ..ParseOptions::default()
        }
    }
}

/// What a dump line is, from its text alone (`trimmed` has no leading blanks).
/// Only command lines need the expensive parse, which is what may run ahead on
/// other threads; everything else is handled in order.
fn is_command_line(trimmed: &str) -> bool {
    let t = trimmed.trim_end();
    !(t.is_empty()
        || t.starts_with('#')
        || t.starts_with('*')
        || t.starts_with(':')
        || t == "COMMIT")
}

/// The reader's state between lines of a dump.
struct SaveState<'t> {
    /// Words of the line being read (one buffer for all chain declarations).
    words: Vec<Word<'t>>,
    ruleset: Ruleset,
    cursor: apply::Cursor,
    /// The open table: its kind and the line that opened it.
    open: Option<(TableKind, Span, usize)>,
    /// After an unknown `*table`, its lines are skipped up to its COMMIT.
    skipping: bool,
    last_line: usize,
}

impl<'t> SaveState<'t> {
    fn new() -> SaveState<'t> {
        SaveState {
            words: Vec::new(),
            ruleset: Ruleset::default(),
            cursor: apply::Cursor::default(),
            open: None,
            skipping: false,
            last_line: 0,
        }
    }

    /// Take one line. `command` gives the parsed form of a command line (called
    /// exactly once for each line [`is_command_line`] accepts, and never for others).
    fn line<'c>(
        &mut self,
        lineno: usize,
        start: usize,
        line: &'t str,
        diags: &mut Vec<Diagnostic>,
        command: impl FnOnce() -> &'c mut RuleLine<'t>,
    ) where
        't: 'c,
    {
        self.last_line = lineno;
        let trimmed = line.trim_start();
        let lead = line.len() - trimmed.len();
        let span = Span::new(start + lead, start + line.len());
        if is_command_line(trimmed) {
            let parsed = command();
            if self.skipping {
                return;
            }
            let Some((kind, _, _)) = self.open else {
                diags.push(Diagnostic::error(codes::NO_TABLE, span, "no table specified: this line comes before any `*table` line")
                    .with_hint("start each table with a line like *filter (or *nat, *mangle, *raw, *security) and end it with COMMIT"));
                return;
            };
            diags.append(&mut parsed.diags);
            if let Some(inv) = parsed.inv.as_mut() {
                for r in inv.rules.iter_mut() {
                    r.line = lineno;
                }
                let table = self.ruleset.table_mut(kind).expect("open table exists");
                self.cursor.expect(parsed.run as usize);
                if let Err(d) = apply::apply_in_place(table, inv, &mut self.cursor) {
                    diags.push(d);
                }
            }
            return;
        }
        if trimmed.trim_end().is_empty() || trimmed.starts_with('#') {
            return;
        }
        if let Some(name) = trimmed.strip_prefix('*') {
            self.skipping = false;
            let name = name.trim_end();
            if let Some((k, s, l)) = self.open {
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
            let ruleset = &mut self.ruleset;
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
                    self.open = Some((kind, span, lineno));
                }
                None => {
                    diags.push(unknown_table(
                        name,
                        Span::new(span.lo() + 1, span.hi()),
                        true,
                    ));
                    self.open = None;
                    self.skipping = true;
                }
            }
            return;
        }
        if self.skipping {
            self.skipping = trimmed.trim_end() != "COMMIT";
            return;
        }
        if trimmed.trim_end() == "COMMIT" {
            if self.open.take().is_none() {
                diags.push(
                    Diagnostic::error(codes::NO_TABLE, span, "COMMIT without an open table")
                        .with_hint("a table block starts with a line like *filter"),
                );
            }
            return;
        }
        let Some((kind, _, _)) = self.open else {
            diags.push(Diagnostic::error(codes::NO_TABLE, span, "no table specified: this line comes before any `*table` line")
                .with_hint("start each table with a line like *filter (or *nat, *mangle, *raw, *security) and end it with COMMIT"));
            return;
        };
        let table = self.ruleset.table_mut(kind).expect("open table exists");
        if let Some(decl) = trimmed.strip_prefix(':') {
            if let Err(d) = chain_decl(table, decl, start + lead + 1, &mut self.words) {
                diags.push(d);
            }
        }
    }

    fn finish(mut self, diags: &mut Vec<Diagnostic>) -> Ruleset {
        if let Some((k, s, _)) = self.open {
            diags.push(
                Diagnostic::error(
                    codes::MISSING_COMMIT,
                    s,
                    format!("COMMIT expected at line {}", self.last_line + 1),
                )
                .with_hint(format!("end the {} table with a COMMIT line", k.name())),
            );
        }
        shrink(&mut self.ruleset);
        self.ruleset
    }
}

fn parse_save(text: &str, diags: &mut Vec<Diagnostic>, options: ParseOptions) -> Ruleset {
    #[cfg(not(target_family = "wasm"))]
    if options.threads > 1 && text.len() > options.block {
        return parallel::parse_save(text, diags, options);
    }
    let block = options.block.max(1);
    let mut state = SaveState::new();
    let mut w = Worker::default();
    let mut lineno = 0;
    for k in 0..text.len().div_ceil(block) {
        let parsed = parse_block(text, block, k, &mut w);
        apply_block(&mut state, text, block, k, parsed, &mut lineno, diags);
    }
    state.finish(diags)
}

/// Where block `k` starts: the first line start at or after `k * block`. The
/// save-format reader takes the text a block at a time: parse its command
/// lines (the costly part, which other threads may do ahead), then apply them
/// in order.
fn block_start(text: &str, block: usize, k: usize) -> usize {
    let pos = k.saturating_mul(block);
    if pos == 0 {
        return 0;
    }
    if pos >= text.len() {
        return text.len();
    }
    memchr::memchr(b'\n', &text.as_bytes()[pos - 1..]).map_or(text.len(), |p| pos + p)
}

/// The lines of block `k`: (offset, line) as [`lines`] gives them, without
/// numbers. An empty block (inside a line longer than a block) has none.
fn block_lines(text: &str, block: usize, k: usize) -> impl Iterator<Item = (usize, &str)> {
    let (lo, hi) = (block_start(text, block, k), block_start(text, block, k + 1));
    (lo < hi)
        .then(|| lines(&text[lo..hi]))
        .into_iter()
        .flatten()
        .map(move |(_, start, line)| (lo + start, line))
}

/// Parse every command line of block `k`, in order, and note the runs of
/// appends to one chain.
fn parse_block<'a>(text: &'a str, block: usize, k: usize, w: &mut Worker<'a>) -> Vec<RuleLine<'a>> {
    // Sized for a block of typical rule lines (about 100 bytes each), so that
    // it seldom grows: a parsed line is large, and growing copies them all.
    let mut out: Vec<RuleLine<'a>> = Vec::with_capacity(block.min(text.len()) / 96 + 1);
    for (start, line) in block_lines(text, block, k) {
        if is_command_line(line.trim_start()) {
            out.push(RuleLine::blank());
            let slot = out.last_mut().expect("just pushed");
            parse_rule_line_into(text, 0, start, line, w, slot);
        }
    }
    let mut after = 0u32;
    for i in (0..out.len()).rev() {
        let own = out[i].inv.as_ref().map_or(0, |inv| inv.rules.len() as u32);
        let same = out.get(i + 1).is_some_and(|next| {
            next.appends_to().is_some() && next.appends_to() == out[i].appends_to()
        });
        after = own + if same { after } else { 0 };
        out[i].run = if out[i].appends_to().is_some() {
            after
        } else {
            0
        };
    }
    out
}

/// Apply block `k`, parsed, in order; `lineno` counts the lines read so far.
fn apply_block<'t>(
    state: &mut SaveState<'t>,
    text: &'t str,
    block: usize,
    k: usize,
    mut parsed: Vec<RuleLine<'t>>,
    lineno: &mut usize,
    diags: &mut Vec<Diagnostic>,
) {
    let mut parsed = parsed.iter_mut();
    for (start, line) in block_lines(text, block, k) {
        *lineno += 1;
        state.line(*lineno, start, line, diags, || {
            parsed.next().expect("one parsed line per command line")
        });
    }
}

/// Reading a dump on several threads. Every thread (the caller's included)
/// claims the next unclaimed block and parses it. The caller applies blocks
/// strictly in order, so the result is exactly the one-thread result. Helpers
/// stay at most a few blocks ahead of the caller, which bounds the memory held
/// by parsed lines waiting to be applied.
#[cfg(not(target_family = "wasm"))]
mod parallel {
    use super::*;
    use std::collections::HashMap;
    use std::sync::{Condvar, Mutex};

    /// Blocks parsed ahead per helper thread, at most.
    const AHEAD: usize = 4;

    struct Shared<'a> {
        /// The next block nobody has claimed.
        next: usize,
        /// The block the caller is applying (helpers stay within reach of it).
        applying: usize,
        /// Blocks parsed by helpers, waiting to be applied.
        ready: HashMap<usize, Vec<RuleLine<'a>>>,
    }

    pub(super) fn parse_save(
        text: &str,
        diags: &mut Vec<Diagnostic>,
        options: ParseOptions,
    ) -> Ruleset {
        let block = options.block.max(1);
        let blocks = text.len().div_ceil(block);
        let shared = Mutex::new(Shared {
            next: 0,
            applying: 0,
            ready: HashMap::new(),
        });
        let changed = Condvar::new();
        let helpers = options.threads - 1;
        let window = AHEAD * helpers;
        std::thread::scope(|scope| {
            for _ in 0..helpers {
                scope.spawn(|| {
                    let mut w = Worker::default();
                    loop {
                        let k = {
                            let mut s = shared.lock().unwrap();
                            while s.next < blocks && s.next > s.applying + window {
                                s = changed.wait(s).unwrap();
                            }
                            if s.next >= blocks {
                                return;
                            }
                            s.next += 1;
                            s.next - 1
                        };
                        let parsed = parse_block(text, block, k, &mut w);
                        shared.lock().unwrap().ready.insert(k, parsed);
                        changed.notify_all();
                    }
                });
            }
            let mut state = SaveState::new();
            let mut w = Worker::default();
            let mut lineno = 0;
            // The caller applies block k as soon as it is parsed; while it is not,
            // it parses the next unclaimed block itself rather than wait.
            let mut k = 0;
            while k < blocks {
                enum Next<'t> {
                    Apply(Vec<RuleLine<'t>>),
                    ParseAndApply,
                    ParseAhead(usize),
                }
                let next = {
                    let mut s = shared.lock().unwrap();
                    loop {
                        if let Some(p) = s.ready.remove(&k) {
                            break Next::Apply(p);
                        }
                        if s.next == k {
                            s.next += 1;
                            break Next::ParseAndApply;
                        }
                        if s.next < blocks && s.next <= k + window {
                            s.next += 1;
                            break Next::ParseAhead(s.next - 1);
                        }
                        s = changed.wait(s).unwrap();
                    }
                };
                let parsed = match next {
                    Next::Apply(p) => p,
                    Next::ParseAndApply => parse_block(text, block, k, &mut w),
                    Next::ParseAhead(j) => {
                        let parsed = parse_block(text, block, j, &mut w);
                        shared.lock().unwrap().ready.insert(j, parsed);
                        continue;
                    }
                };
                apply_block(&mut state, text, block, k, parsed, &mut lineno, diags);
                k += 1;
                shared.lock().unwrap().applying = k;
                changed.notify_all();
            }
            state.finish(diags)
        })
    }
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
    match suggest(name, TableKind::ALL.iter().map(|t| t.name())) {
        Some(s) => d.with_hint(format!(
            "did you mean `{s}'? The tables are raw, mangle, nat, filter and security"
        )),
        None => d.with_hint("the tables are raw, mangle, nat, filter and security"),
    }
}

/// `:NAME POLICY [p:b]` inside a table block.
fn chain_decl<'t>(
    table: &mut Table,
    decl: &'t str,
    base: usize,
    words: &mut Vec<Word<'t>>,
) -> Result<(), Diagnostic> {
    if let Some(e) = restore_words_into(decl, base, words) {
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
    let mut cursor = apply::Cursor::default();
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
