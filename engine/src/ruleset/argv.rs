//! One `iptables` invocation's words turned into a typed [`Invocation`]: the
//! command (`-A`, `-I`, `-N`, ...), its chain, and the rule it carries, parsed
//! option by option the way iptables' `do_parse` does (main options, `!`,
//! extension options going to the most recently loaded extension that defines
//! them, implicit protocol matches, `-s`/`-d` comma lists expanded into rules).
//!
//! Both input formats share it: an iptables-save line and an iptables command
//! line are the same argument vector. It does not apply the command to a
//! ruleset (see [`crate::ruleset::apply`]).

use crate::ruleset::ext::{OptSpec, Seen, UnknownExt};
use crate::ruleset::matches::{self, MatchKind};
use crate::ruleset::model::*;
use crate::ruleset::targets::{self, TargetKind, Verdict};
use crate::ruleset::value::{Iface, Ipv4Net, Proto};
use crate::text::diagnostic::{codes, Diagnostic};
use crate::text::lexer::Word;
use crate::text::span::Span;
use crate::text::suggest::suggest;
use smallvec::SmallVec;
use std::borrow::Cow;
use std::sync::Arc;

/// What the invocation asks for.
#[derive(Clone, Debug, PartialEq)]
pub enum Op {
    Append,
    Insert(usize),
    Replace(usize),
    /// Delete by number, or by rule specification when None.
    Delete(Option<usize>),
    Check,
    NewChain,
    DeleteChain,
    Flush,
    Zero,
    Policy(String, Span),
    Rename(String, Span),
    List,
}

#[derive(Clone, Debug)]
pub struct Invocation<'a> {
    pub op: Op,
    pub op_span: Span,
    pub table: Option<(String, Span)>,
    pub chain: Option<(Cow<'a, str>, Span)>,
    /// The rules the specification expands to (one unless `-s`/`-d` held lists).
    pub rules: Rules,
    /// Warnings found while parsing (unknown extensions kept verbatim).
    pub warnings: Vec<Diagnostic>,
}

impl Invocation<'_> {
    /// A blank invocation for [`parse_invocation_into`] to fill.
    pub fn empty() -> Self {
        Invocation {
            op: Op::List,
            op_span: Span::default(),
            table: None,
            chain: None,
            rules: Rules::new(),
            warnings: Vec::new(),
        }
    }
}

/// An invocation's rules: almost always exactly one, kept without a heap allocation.
pub type Rules = SmallVec<[Rule; 1]>;

/// The networks of one `-s`/`-d` option (a comma list is rare).
type Nets = SmallVec<[Ipv4Net; 1]>;

/// Names of real xtables extensions this engine keeps verbatim without modelling.
const OTHER_MATCHES: &[&str] = &[
    "ah",
    "bpf",
    "cgroup",
    "cluster",
    "connbytes",
    "connlabel",
    "connlimit",
    "cpu",
    "dccp",
    "devgroup",
    "ecn",
    "esp",
    "hashlimit",
    "helper",
    "ipvs",
    "osf",
    "policy",
    "quota",
    "rateest",
    "realm",
    "rpfilter",
    "socket",
    "string",
    "tcpmss",
    "time",
    "u32",
    "udplite",
    "ipv4options",
    "conntrack2",
    "geoip",
    "ipp2p",
    "account",
    "condition",
    "fuzzy",
    "iface",
    "lscan",
    "psd",
    "quota2",
    "pknock",
    "dhcpmac",
];
const OTHER_TARGETS: &[&str] = &[
    "AUDIT",
    "CHECKSUM",
    "CLUSTERIP",
    "CONNSECMARK",
    "ECN",
    "HL",
    "HMARK",
    "IDLETIMER",
    "LED",
    "RATEEST",
    "SECMARK",
    "SET",
    "SYNPROXY",
    "TCPOPTSTRIP",
    "TEE",
    "TPROXY",
    "TTL",
    "ULOG",
    "IPMARK",
    "TARPIT",
    "DELUDE",
    "CHAOS",
    "ACCOUNT",
    "LOGMARK",
    "SYSRQ",
    "DHCPMAC",
    "STEAL",
];

/// A main (non-extension) option: its command letter and whether it takes a value.
#[derive(Clone, Copy)]
struct Main {
    key: char,
    has_arg: bool,
}

const fn main(key: char, has_arg: bool) -> Option<Main> {
    Some(Main { key, has_arg })
}

/// The long spellings, for suggestions and unambiguous-prefix matching.
const MAIN_LONG: &[(&str, char)] = &[
    ("--append", 'A'),
    ("--check", 'C'),
    ("--delete", 'D'),
    ("--insert", 'I'),
    ("--replace", 'R'),
    ("--list", 'L'),
    ("--list-rules", 'L'),
    ("--flush", 'F'),
    ("--zero", 'Z'),
    ("--new-chain", 'N'),
    ("--new", 'N'),
    ("--delete-chain", 'X'),
    ("--policy", 'P'),
    ("--rename-chain", 'E'),
    ("--protocol", 'p'),
    ("--source", 's'),
    ("--src", 's'),
    ("--destination", 'd'),
    ("--dst", 'd'),
    ("--jump", 'j'),
    ("--goto", 'g'),
    ("--in-interface", 'i'),
    ("--out-interface", 'o'),
    ("--fragment", 'f'),
    ("--match", 'm'),
    ("--table", 't'),
    ("--set-counters", 'c'),
    ("--verbose", 'v'),
    ("--numeric", 'v'),
    ("--exact", 'v'),
    ("--wait", 'w'),
    ("--wait-interval", 'W'),
    ("--ipv4", 'v'),
    ("--line-numbers", 'v'),
    ("--modprobe", 'W'),
];

/// The main option spelled exactly `opt`.
fn main_exact(opt: &str) -> Option<Main> {
    match opt {
        "-A" | "--append" => main('A', true),
        "-C" | "--check" => main('C', true),
        "-D" | "--delete" => main('D', true),
        "-I" | "--insert" => main('I', true),
        "-R" | "--replace" => main('R', true),
        "-L" | "--list" | "-S" | "--list-rules" => main('L', false),
        "-F" | "--flush" => main('F', false),
        "-Z" | "--zero" => main('Z', false),
        "-N" | "--new-chain" | "--new" => main('N', true),
        "-X" | "--delete-chain" => main('X', false),
        "-P" | "--policy" => main('P', true),
        "-E" | "--rename-chain" => main('E', true),
        "-p" | "--protocol" => main('p', true),
        "-s" | "--source" | "--src" => main('s', true),
        "-d" | "--destination" | "--dst" => main('d', true),
        "-j" | "--jump" => main('j', true),
        "-g" | "--goto" => main('g', true),
        "-i" | "--in-interface" => main('i', true),
        "-o" | "--out-interface" => main('o', true),
        "-f" | "--fragment" => main('f', false),
        "-m" | "--match" => main('m', true),
        "-t" | "--table" => main('t', true),
        "-c" | "--set-counters" => main('c', true),
        "-v" | "--verbose" | "-n" | "--numeric" | "-x" | "--exact" | "-4" | "--ipv4"
        | "--line-numbers" => main('v', false),
        "-w" | "--wait" => main('w', false),
        "-W" | "--wait-interval" | "--modprobe" => main('W', true),
        _ => None,
    }
}

/// State an invocation parser keeps from one line to the next: a reusable
/// buffer of loaded extensions, and the strings recent rules used, so that
/// rules share equal strings that recur close together (kube-proxy repeats a
/// service's comment on the rules of its chains, and jumps to KUBE-MARK-MASQ
/// from every endpoint's chain). A global table of every string would share
/// more, but looking strings up in it was a third of the parse: most lookups
/// miss the cache for strings seen long before.
#[derive(Default)]
pub struct Scratch {
    loaded: Vec<Loaded>,
    /// Recent strings of each [`Repeats`] kind, most recent first.
    recent: [[Option<Arc<str>>; RECENT]; 2],
}

/// Recent strings kept per kind.
const RECENT: usize = 4;

impl Scratch {
    /// `s` as a shared string: a recent one of its kind when equal, else new.
    fn intern_again(&mut self, kind: Repeats, s: &str) -> Arc<str> {
        let recent = &mut self.recent[kind as usize];
        if let Some(i) = recent.iter().position(|r| r.as_deref() == Some(s)) {
            let hit = recent[i].clone().expect("found");
            recent[..=i].rotate_right(1);
            return hit;
        }
        let new: Arc<str> = Arc::from(s);
        recent.rotate_right(1);
        recent[0] = Some(new.clone());
        new
    }
}

/// Kinds of strings that tend to repeat from one line to the next.
#[derive(Clone, Copy)]
enum Repeats {
    Comment,
    Chain,
}

/// A loaded extension while options are being read.
struct Loaded {
    kind: LoadedKind,
    /// The extension's option table (looked up once, at load).
    options: &'static [OptSpec],
    /// Options seen (bit i = the extension's option i), for final checks.
    seen: u64,
    span: Span,
}

enum LoadedKind {
    Match(MatchKind),
    Target(TargetKind),
}

impl Loaded {
    fn name(&self) -> &str {
        match &self.kind {
            LoadedKind::Match(m) => m.name(),
            LoadedKind::Target(t) => t.name(),
        }
    }
    fn match_(kind: MatchKind, span: Span) -> Loaded {
        let options = matches::match_options(kind.name());
        Loaded {
            kind: LoadedKind::Match(kind),
            options,
            seen: 0,
            span,
        }
    }
    fn target(kind: TargetKind, span: Span) -> Loaded {
        let options = targets::target_options(kind.name());
        Loaded {
            kind: LoadedKind::Target(kind),
            options,
            seen: 0,
            span,
        }
    }
    fn options(&self) -> &'static [OptSpec] {
        self.options
    }
    fn is_unknown(&self) -> bool {
        matches!(
            &self.kind,
            LoadedKind::Match(MatchKind::Unknown(_)) | LoadedKind::Target(TargetKind::Unknown(_))
        )
    }
}

/// An error diagnostic (every problem an invocation has is one).
fn err(code: &'static str, span: Span, msg: impl Into<String>) -> Diagnostic {
    Diagnostic::error(code, span, msg)
}

/// Parse one invocation. `text` is the whole source (for verbatim slices),
/// `in_restore` forbids `-t` as iptables-restore does, and `line` is the 1-based
/// line the rule will report.
pub fn parse_invocation<'a>(
    words: &[Word<'a>],
    text: &str,
    in_restore: bool,
    line: usize,
    line_span: Span,
    scratch: &mut Scratch,
) -> Result<Invocation<'a>, Diagnostic> {
    let mut inv = Invocation::empty();
    parse_invocation_into(words, text, in_restore, line, line_span, scratch, &mut inv)?;
    Ok(inv)
}

/// [`parse_invocation`] into `out` (blank, see [`Invocation::empty`]), where
/// it will stay: a dump's parsed lines are large and many.
pub fn parse_invocation_into<'a>(
    words: &[Word<'a>],
    text: &str,
    in_restore: bool,
    line: usize,
    line_span: Span,
    scratch: &mut Scratch,
    out: &mut Invocation<'a>,
) -> Result<(), Diagnostic> {
    let mut loaded = std::mem::take(&mut scratch.loaded);
    loaded.clear();
    let mut parse = Parse {
        words,
        text,
        in_restore,
        line,
        line_span,
        scratch,
        loaded,
        op: None,
        table: None,
        chain: None,
        srcs: None,
        dsts: None,
        rule: Rule::new(line_span, line),
        target_loaded: false,
        proto_loaded: false,
        warnings: Vec::new(),
        has_rule_parts: false,
    };
    let result = parse.read_words().and_then(|()| parse.finish(out));
    let mut loaded = parse.loaded;
    loaded.clear();
    scratch.loaded = loaded;
    result
}

/// One `-s`/`-d` as given: negated, its networks, its span.
type AddrOption = Option<(bool, Nets, Span)>;

/// One invocation while its words are read: the words and where they come
/// from, the extensions loaded so far, and what the options have set. Reading
/// ([`Parse::read_words`]) goes option by option; [`Parse::finish`] runs the
/// extensions' final checks and writes the invocation.
struct Parse<'w, 'a, 's> {
    words: &'w [Word<'a>],
    /// The whole source, for verbatim slices of unmodelled extensions.
    text: &'w str,
    /// iptables-restore input (where `-t` is refused).
    in_restore: bool,
    line: usize,
    line_span: Span,
    scratch: &'s mut Scratch,
    /// The extensions loaded so far, in load order (a buffer from `scratch`).
    loaded: Vec<Loaded>,
    op: Option<(Op, Span)>,
    table: Option<(String, Span)>,
    chain: Option<(Cow<'a, str>, Span)>,
    srcs: AddrOption,
    dsts: AddrOption,
    rule: Rule,
    /// A target extension is among `loaded`.
    target_loaded: bool,
    /// A match that needs a protocol (tcp, udp, ...) is among `loaded`, so
    /// none is loaded implicitly.
    proto_loaded: bool,
    warnings: Vec<Diagnostic>,
    /// Some option only a rule specification takes was given.
    has_rule_parts: bool,
}

impl<'w, 'a> Parse<'w, 'a, '_> {
    /// Every word, option by option: `!`, then a main option or an
    /// extension's.
    fn read_words(&mut self) -> Result<(), Diagnostic> {
        let words = self.words;
        let mut invert: Option<Span> = None;
        let mut i = 0;
        while i < words.len() {
            let w = &words[i];
            if w.text == "!" && !w.quoted {
                if invert.is_some() {
                    return Err(err(
                        codes::BAD_NEGATION,
                        w.span,
                        "multiple `!' flags not allowed",
                    ));
                }
                invert = Some(w.span);
                i += 1;
                continue;
            }
            if !w.text.starts_with('-') || w.text == "-" {
                return Err(err(codes::BAD_ARGUMENT, w.span, format!("Bad argument `{}'", w.text))
                    .with_hint("every word must be an option or an option's value; quote values that contain spaces"));
            }
            let inv = invert.take();
            // Main options (exact, then `--long=value` is not accepted by iptables either).
            // The extension option the word names, if any (looked up once: a main
            // option's unambiguous prefix only counts when no extension claims it).
            let exact = main_exact(&w.text);
            let ext = match exact {
                Some(_) => None,
                None => lookup(&self.loaded, &w.text),
            };
            i = match exact.or_else(|| main_prefix(&w.text, ext.is_some())) {
                Some(m) => i + self.main_option(i, m, inv)?,
                None => self.extension_option(i, ext, inv)?,
            };
        }
        if let Some(s) = invert {
            return Err(err(
                codes::BAD_NEGATION,
                s,
                "`!' must be followed by an option",
            ));
        }
        Ok(())
    }

    /// The word after word `i`, which option `i` requires.
    fn need_arg(&self, i: usize) -> Result<&'w Word<'a>, Diagnostic> {
        let words = self.words;
        words.get(i + 1).ok_or_else(|| {
            let w = &words[i];
            err(
                codes::MISSING_ARGUMENT,
                w.span,
                format!("option \"{}\" requires an argument", w.text),
            )
        })
    }

    /// Main option `m` at word `i` (`inv`: the `!` before it): how many
    /// words it took.
    fn main_option(&mut self, i: usize, m: Main, inv: Option<Span>) -> Result<usize, Diagnostic> {
        let w = &self.words[i];
        let arg = if m.has_arg {
            Some(self.need_arg(i)?)
        } else {
            None
        };
        let invertible = matches!(m.key, 'p' | 's' | 'd' | 'i' | 'o' | 'f');
        if let (Some(s), false) = (inv, invertible) {
            return Err(err(
                codes::BAD_NEGATION,
                s,
                format!("cannot have ! before {}", w.text),
            ));
        }
        let inv = inv.is_some();
        let consumed = if m.has_arg { 2 } else { 1 };
        match m.key {
            'A' | 'C' | 'D' | 'I' | 'R' | 'L' | 'F' | 'Z' | 'N' | 'X' | 'P' | 'E' => {
                return self.command(i, m, arg)
            }
            't' => {
                if self.in_restore {
                    return Err(err(
                        codes::BAD_COMMAND,
                        w.span,
                        "The -t option cannot be used in iptables-restore",
                    )
                    .with_hint("the table comes from the `*table` line above"));
                }
                let a = arg.unwrap();
                self.table = Some((a.text.to_string(), a.span));
            }
            'p' => self.protocol(w, arg.unwrap(), inv)?,
            's' | 'd' => self.addresses(w, m.key, arg.unwrap(), inv)?,
            'i' | 'o' => self.interface(w, m.key, arg.unwrap(), inv)?,
            'f' => {
                self.rule.fragment = Some(inv);
                self.has_rule_parts = true;
            }
            'm' => self.load_match(w, arg.unwrap())?,
            'j' | 'g' => self.load_target(w, m.key, arg.unwrap())?,
            'c' => return self.counters(i, arg.unwrap()),
            _ => {
                // -v -n -x -w -W --line-numbers --modprobe: no effect on the ruleset.
            }
        }
        Ok(consumed)
    }

    /// A command (`-A`, `-I`, ..., `-E`) at word `i`, with its chain `arg`
    /// when it requires one: the operation, its optional chain and rule
    /// number. How many words it took.
    fn command(
        &mut self,
        i: usize,
        m: Main,
        arg: Option<&'w Word<'a>>,
    ) -> Result<usize, Diagnostic> {
        let words = self.words;
        let w = &words[i];
        if let Some((_, prev)) = &self.op {
            return Err(err(
                codes::BAD_COMMAND,
                w.span,
                "Cannot use two commands at once",
            )
            .with_hint(format!(
                "the line already has a command at column {}",
                prev.lo().saturating_sub(self.line_span.lo()) + 1
            )));
        }
        let mut consumed = if m.has_arg { 2 } else { 1 };
        let optional_chain = |i: usize| -> Option<(Cow<'a, str>, Span)> {
            words
                .get(i + 1)
                .filter(|n| !n.text.starts_with('-') && (n.text != "!" || n.quoted))
                .map(|n| (n.text.clone(), n.span))
        };
        let number_at = |j: usize| -> Option<(usize, Span)> {
            words
                .get(j)
                .and_then(|n| n.text.parse::<usize>().ok().map(|v| (v, n.span)))
        };
        // A rule number after the chain (1-based; iptables refuses 0).
        let rule_number = |j: usize| -> Result<Option<usize>, Diagnostic> {
            match number_at(j) {
                Some((0, s)) => Err(err(codes::BAD_VALUE, s, "Invalid rule number `0'")),
                other => Ok(other.map(|(n, _)| n)),
            }
        };
        let the_op = match m.key {
            'A' => Op::Append,
            'C' => Op::Check,
            'I' => match rule_number(i + 2)? {
                Some(n) => {
                    consumed = 3;
                    Op::Insert(n)
                }
                None => Op::Insert(1),
            },
            'R' => match rule_number(i + 2)? {
                Some(n) => {
                    consumed = 3;
                    Op::Replace(n)
                }
                None => {
                    return Err(err(
                        codes::MISSING_ARGUMENT,
                        w.span,
                        "-R requires a rule number",
                    ))
                }
            },
            'D' => match number_at(i + 2) {
                Some((n, _)) if words.len() == i + 3 => {
                    consumed = 3;
                    Op::Delete(Some(n))
                }
                _ => Op::Delete(None),
            },
            'N' => Op::NewChain,
            'P' => {
                let t = words.get(i + 2).ok_or_else(|| {
                    err(
                        codes::MISSING_ARGUMENT,
                        w.span,
                        "-P requires a chain and a policy",
                    )
                })?;
                consumed = 3;
                Op::Policy(t.text.to_string(), t.span)
            }
            'E' => {
                let t = words.get(i + 2).ok_or_else(|| {
                    err(
                        codes::MISSING_ARGUMENT,
                        w.span,
                        "-E requires old-chain-name and new-chain-name",
                    )
                })?;
                consumed = 3;
                Op::Rename(t.text.to_string(), t.span)
            }
            'X' | 'F' | 'Z' | 'L' => {
                if let Some(c) = optional_chain(i) {
                    self.chain = Some(c);
                    consumed = 2;
                }
                match m.key {
                    'X' => Op::DeleteChain,
                    'F' => Op::Flush,
                    'Z' => Op::Zero,
                    _ => Op::List,
                }
            }
            _ => unreachable!(),
        };
        if let Some(a) = arg {
            self.chain = Some((a.text.clone(), a.span));
        }
        self.op = Some((the_op, w.span));
        Ok(consumed)
    }

    /// `-p PROTO` (`w` the option, `a` its value).
    fn protocol(&mut self, w: &Word<'_>, a: &Word<'_>, inv: bool) -> Result<(), Diagnostic> {
        if self.rule.proto.is_some() {
            return Err(err(
                codes::DUPLICATE_OPTION,
                w.span,
                "multiple -p flags not allowed",
            ));
        }
        let proto = Proto::parse(&a.text).map_err(|e| err(codes::BAD_VALUE, a.span, e))?;
        if proto.0 == 0 && inv {
            return Err(err(
                codes::BAD_NEGATION,
                a.span,
                "rule would never match protocol",
            ));
        }
        self.rule.proto = Some(ProtoMatch { invert: inv, proto });
        self.has_rule_parts = true;
        Ok(())
    }

    /// `-s`/`-d` (`key` says which) with a comma list of networks, kept
    /// aside until [`Parse::expand`] makes one rule per pair.
    fn addresses(
        &mut self,
        w: &Word<'_>,
        key: char,
        a: &Word<'_>,
        inv: bool,
    ) -> Result<(), Diagnostic> {
        let slot = if key == 's' {
            &mut self.srcs
        } else {
            &mut self.dsts
        };
        if slot.is_some() {
            return Err(err(
                codes::DUPLICATE_OPTION,
                w.span,
                format!("multiple -{key} flags not allowed"),
            ));
        }
        let mut nets = Nets::new();
        for part in a.text.split(',') {
            let net = Ipv4Net::parse(part).map_err(|e| {
                err(codes::BAD_VALUE, a.span, e).with_hint("addresses are dotted quads with an optional /prefix or /mask; host names are not resolved")
            })?;
            nets.push(net);
        }
        if inv && nets.len() > 1 {
            return Err(err(
                codes::BAD_NEGATION,
                w.span,
                "! not allowed with multiple source or destination IP addresses".to_string(),
            ));
        }
        *slot = Some((inv, nets, w.span.join(a.span)));
        self.has_rule_parts = true;
        Ok(())
    }

    /// `-i`/`-o` (`key` says which).
    fn interface(
        &mut self,
        w: &Word<'_>,
        key: char,
        a: &Word<'_>,
        inv: bool,
    ) -> Result<(), Diagnostic> {
        let iface = Iface::parse(&a.text).map_err(|e| err(codes::BAD_VALUE, a.span, e))?;
        let ifaces = self.rule.ifaces_mut();
        let slot = if key == 'i' {
            &mut ifaces.in_iface
        } else {
            &mut ifaces.out_iface
        };
        if slot.is_some() {
            return Err(err(
                codes::DUPLICATE_OPTION,
                w.span,
                format!("multiple -{key} flags not allowed"),
            ));
        }
        *slot = Some(IfaceMatch { invert: inv, iface });
        self.has_rule_parts = true;
        Ok(())
    }

    /// `-m NAME`: a modelled match, one kept verbatim (with a warning), or
    /// an error naming the closest match.
    fn load_match(&mut self, w: &Word<'_>, a: &Word<'_>) -> Result<(), Diagnostic> {
        let name: &str = &a.text;
        let span = w.span.join(a.span);
        let kind = if matches::match_desc(name).is_some() {
            matches::new_match(name)
        } else if OTHER_MATCHES.contains(&name) {
            self.warnings.push(
                Diagnostic::warning(
                    codes::UNKNOWN_EXTENSION,
                    span,
                    format!("match extension `{name}' is kept verbatim but not evaluated"),
                )
                .with_hint("a trace asks whether to assume it matches or not"),
            );
            MatchKind::Unknown(Box::new(UnknownExt {
                name: name.to_string(),
                args: vec![],
            }))
        } else {
            return Err(err(
                codes::UNKNOWN_EXTENSION_NAME,
                a.span,
                format!("Couldn't load match `{name}':No such file or directory"),
            )
            .with_hint(
                suggest(
                    name,
                    matches::MATCHES
                        .iter()
                        .map(|d| d.name)
                        .chain(OTHER_MATCHES.iter().copied()),
                )
                .map_or_else(
                    || "no match extension has this name".to_string(),
                    |s| format!("did you mean `{s}'?"),
                ),
            ));
        };
        if matches::match_required_proto(name).is_some() {
            self.proto_loaded = true;
        }
        self.loaded.push(Loaded::match_(kind, span));
        self.has_rule_parts = true;
        Ok(())
    }

    /// `-j NAME` or `-g CHAIN` (`key` says which): a verdict, a target
    /// extension (modelled or kept verbatim), or a jump to a chain.
    fn load_target(&mut self, w: &Word<'_>, key: char, a: &Word<'_>) -> Result<(), Diagnostic> {
        let rule = &mut self.rule;
        if self.target_loaded || !matches!(rule.target, Target::None) {
            return Err(err(
                codes::DUPLICATE_OPTION,
                w.span,
                "multiple -j flags not allowed",
            ));
        }
        let name: &str = &a.text;
        rule.target_span = w.span.join(a.span);
        if key == 'g' {
            rule.target = Target::Goto {
                chain: self.scratch.intern_again(Repeats::Chain, name),
            };
        } else if let Some(v) = Verdict::parse(name) {
            rule.target = Target::Verdict { verdict: v };
        } else if targets::target_desc(name).is_some() {
            self.loaded
                .push(Loaded::target(targets::new_target(name), rule.target_span));
            self.target_loaded = true;
        } else if OTHER_TARGETS.contains(&name) {
            self.warnings.push(
                Diagnostic::warning(
                    codes::UNKNOWN_EXTENSION,
                    rule.target_span,
                    format!("target extension `{name}' is kept verbatim but not evaluated"),
                )
                .with_hint("a trace treats it as a non-terminating target"),
            );
            self.loaded.push(Loaded::target(
                TargetKind::Unknown(Box::new(UnknownExt {
                    name: name.to_string(),
                    args: vec![],
                })),
                rule.target_span,
            ));
            self.target_loaded = true;
        } else {
            rule.target = Target::Jump {
                chain: self.scratch.intern_again(Repeats::Chain, name),
            };
        }
        self.has_rule_parts = true;
        Ok(())
    }

    /// `-c PACKETS BYTES` at word `i` (`a` the first value): three words.
    fn counters(&mut self, i: usize, a: &Word<'_>) -> Result<usize, Diagnostic> {
        let w = &self.words[i];
        let b = self.words.get(i + 2).ok_or_else(|| {
            err(
                codes::MISSING_ARGUMENT,
                w.span,
                "-c requires packet and byte counter",
            )
        })?;
        let p = a.text.parse().map_err(|_| {
            err(
                codes::BAD_VALUE,
                a.span,
                "-c packet counter not numeric".to_string(),
            )
        })?;
        let by = b.text.parse().map_err(|_| {
            err(
                codes::BAD_VALUE,
                b.span,
                "-c byte counter not numeric".to_string(),
            )
        })?;
        self.rule.counters = Some(Box::new(Counters {
            packets: p,
            bytes: by,
        }));
        Ok(3)
    }

    /// An extension's option at word `i` (`ext`: the loaded extension that
    /// claims it, if any): the protocol's match loaded implicitly when
    /// needed, the option kept verbatim for an unmodelled extension, or
    /// applied to the extension. The index of the next word.
    fn extension_option(
        &mut self,
        mut i: usize,
        ext: Option<(usize, OptSpec)>,
        inv: Option<Span>,
    ) -> Result<usize, Diagnostic> {
        let words = self.words;
        let w = &words[i];
        // Extension options: the most recently loaded extension that defines it.
        let mut found = ext;
        if found.is_none() && !self.proto_loaded {
            // iptables loads the protocol's match implicitly on an unknown option.
            if let Some(p) = self.rule.proto.as_ref().and_then(|p| p.proto.name()) {
                if matches::match_required_proto(p).is_some()
                    && matches::match_options(p).iter().any(|o| o.name == w.text)
                {
                    self.loaded
                        .push(Loaded::match_(matches::new_match(p), w.span));
                    self.proto_loaded = true;
                    found = lookup(&self.loaded, &w.text);
                }
            }
        }
        let Some((idx, spec)) = found else {
            return self.keep_verbatim(i, inv);
        };
        if let (Some(s), false) = (inv, spec.invertible) {
            return Err(err(
                codes::BAD_NEGATION,
                s,
                format!(
                    "{}: option \"{}\" cannot be inverted.",
                    self.loaded[idx].name(),
                    w.text
                ),
            ));
        }
        let inv = inv.is_some();
        let proto = self.rule.proto.as_ref().map(|p| p.proto.0);
        let l = &mut self.loaded[idx];
        let two_args = spec.has_arg && matches::takes_two_args(l.name(), spec.name);
        let mut end = w.span;
        let result = if !spec.has_arg {
            i += 1;
            match &mut l.kind {
                LoadedKind::Match(m) => m.apply(spec.name, inv, "", proto),
                LoadedKind::Target(t) => t.apply(spec.name, ""),
            }
        } else if two_args {
            let a = self.need_arg(i)?;
            let b = words.get(i + 2).ok_or_else(|| {
                err(
                    codes::MISSING_ARGUMENT,
                    w.span.join(a.span),
                    format!("option \"{}\" requires two arguments", w.text),
                )
            })?;
            end = b.span;
            i += 3;
            match &mut self.loaded[idx].kind {
                LoadedKind::Match(m @ MatchKind::Tcp(_)) => {
                    matches::apply_tcp_flags(m, inv, &a.text, &b.text)
                }
                LoadedKind::Match(m) => {
                    m.apply(spec.name, inv, &format!("{} {}", a.text, b.text), proto)
                }
                LoadedKind::Target(_) => unreachable!(),
            }
        } else {
            let a = self.need_arg(i)?;
            end = a.span;
            i += 2;
            match &mut self.loaded[idx].kind {
                // Comments are shared between rules through the interner.
                LoadedKind::Match(MatchKind::Comment { comment }) => {
                    matches::check_comment(&a.text)
                        .map(|()| *comment = self.scratch.intern_again(Repeats::Comment, &a.text))
                }
                LoadedKind::Match(m) => m.apply(spec.name, inv, &a.text, proto),
                LoadedKind::Target(t) => t.apply(spec.name, &a.text),
            }
        };
        let span = w.span.join(end);
        if let Err(e) = result {
            let ext_name = self.loaded[idx].name();
            return Err(err(
                codes::BAD_VALUE,
                span,
                format!("{ext_name}: {e}").replacen(
                    &format!("{ext_name}: {ext_name}: "),
                    &format!("{ext_name}: "),
                    1,
                ),
            ));
        }
        let l = &mut self.loaded[idx];
        if let Some(bit) = l.options().iter().position(|o| o.name == spec.name) {
            l.seen |= 1 << bit;
        }
        l.span = l.span.join(span);
        Ok(i)
    }

    /// An option at word `i` no loaded extension claims: kept with its values
    /// as the most recent unmodelled extension's, else an unknown option.
    /// The index of the next word.
    fn keep_verbatim(&mut self, mut i: usize, inv: Option<Span>) -> Result<usize, Diagnostic> {
        let words = self.words;
        let w = &words[i];
        // An option of an unmodelled extension: keep it and its values verbatim.
        let Some(u) = self.loaded.iter_mut().rev().find(|l| l.is_unknown()) else {
            return Err(unknown_option(w, &self.rule, &self.loaded));
        };
        let args = match &mut u.kind {
            LoadedKind::Match(MatchKind::Unknown(u))
            | LoadedKind::Target(TargetKind::Unknown(u)) => &mut u.args,
            _ => unreachable!(),
        };
        // One group per option: its source text exactly, from `!` (if any)
        // through its last value, inner spacing included.
        let start = inv.map_or(w.span.lo(), |s| s.lo());
        let mut end = w.span;
        i += 1;
        while let Some(n) = words.get(i) {
            if !n.quoted && (n.text.starts_with('-') || n.text == "!") {
                break;
            }
            end = n.span;
            i += 1;
        }
        args.push(
            self.text
                .get(start..end.hi())
                .unwrap_or(&*w.text)
                .to_string(),
        );
        u.span = u.span.join(end);
        Ok(i)
    }

    /// After the last word: a command is required, the extensions' final
    /// checks run, and the invocation is written to `out`.
    fn finish(&mut self, out: &mut Invocation<'a>) -> Result<(), Diagnostic> {
        let Some((op, op_span)) = self.op.take() else {
            return Err(
                err(codes::BAD_COMMAND, self.line_span, "no command specified").with_hint(
                    "a rule line starts with -A CHAIN (or -I, -R, -D, -N, -P, -F, -X, -E)",
                ),
            );
        };
        self.final_checks()?;
        let takes_rule = matches!(
            op,
            Op::Append | Op::Insert(_) | Op::Replace(_) | Op::Delete(None) | Op::Check
        );
        if !takes_rule && self.has_rule_parts {
            return Err(err(
                codes::BAD_COMMAND,
                op_span,
                "Illegal option with this command",
            )
            .with_hint("only -A, -I, -R, -D and -C take a rule specification"));
        }
        out.rules.clear();
        if takes_rule {
            self.expand(&op, op_span, &mut out.rules)?;
        }
        out.op = op;
        out.op_span = op_span;
        out.table = self.table.take();
        out.chain = self.chain.take();
        out.warnings = std::mem::take(&mut self.warnings);
        Ok(())
    }

    /// Each extension's final check, in load order, moving it into the rule;
    /// then multiport's need for a protocol with ports (a userspace check).
    fn final_checks(&mut self) -> Result<(), Diagnostic> {
        let rule = &mut self.rule;
        let mut rule_matches =
            Vec::with_capacity(self.loaded.len() - usize::from(self.target_loaded));
        for l in self.loaded.drain(..) {
            let seen = Seen {
                mask: l.seen,
                options: l.options(),
            };
            match l.kind {
                LoadedKind::Match(m) => {
                    m.final_check(seen)
                        .map_err(|e| err(codes::EXTENSION_CHECK, l.span, prefixed(m.name(), e)))?;
                    rule_matches.push(Match {
                        kind: m,
                        span: l.span,
                    });
                }
                LoadedKind::Target(t) => {
                    t.final_check(seen)
                        .map_err(|e| err(codes::EXTENSION_CHECK, l.span, prefixed(t.name(), e)))?;
                    rule.target_span = l.span;
                    rule.target = Target::Extension { target: t };
                }
            }
        }
        rule.matches = rule_matches.into_boxed_slice();
        for m in &rule.matches {
            if let MatchKind::Multiport(_) = m.kind {
                let ok = rule
                    .proto
                    .as_ref()
                    .is_some_and(|p| !p.invert && p.proto.has_ports());
                if !ok {
                    return Err(err(
                        codes::PROTO_REQUIRED,
                        m.span,
                        "multiport needs `-p tcp', `-p udp', `-p udplite', `-p sctp' or `-p dccp'",
                    ));
                }
            }
        }
        Ok(())
    }

    /// The rules of a command that takes one: `-s a,b -d c,d` is one rule per
    /// pair, sources outermost, as iptables expands it (and a replacement or
    /// deletion must come to one).
    fn expand(&mut self, op: &Op, op_span: Span, rules: &mut Rules) -> Result<(), Diagnostic> {
        fn list(x: &AddrOption) -> (bool, Option<&[Ipv4Net]>) {
            match x {
                Some((inv, v, _)) => (*inv, Some(v.as_slice())),
                None => (false, None),
            }
        }
        let (s_inv, s_list) = list(&self.srcs);
        let (d_inv, d_list) = list(&self.dsts);
        let (s_n, d_n) = (s_list.map_or(1, <[_]>::len), d_list.map_or(1, <[_]>::len));
        if matches!(op, Op::Replace(_) | Op::Delete(_)) && s_n * d_n > 1 {
            return Err(err(
                codes::BAD_COMMAND,
                op_span,
                "Replacement rule does not specify a unique address",
            ));
        }
        let total = s_n * d_n;
        for si in 0..s_n {
            for di in 0..d_n {
                let mut r = if rules.len() + 1 == total {
                    std::mem::replace(&mut self.rule, Rule::new(self.line_span, self.line))
                } else {
                    self.rule.clone()
                };
                r.src = s_list.map(|l| AddrMatch {
                    invert: s_inv,
                    net: l[si],
                });
                r.dst = d_list.map(|l| AddrMatch {
                    invert: d_inv,
                    net: l[di],
                });
                rules.push(r);
            }
        }
        Ok(())
    }
}

/// `NAME: message`, unless the message already names the extension.
fn prefixed(name: &str, msg: String) -> String {
    if msg
        .to_ascii_lowercase()
        .starts_with(&name.to_ascii_lowercase())
    {
        msg
    } else {
        format!("{name}: {msg}")
    }
}

/// The main long option `opt` is an unambiguous prefix of, as getopt_long
/// accepts; `extension` says whether a loaded extension claims `opt` (exactly
/// or as a prefix), which takes precedence.
fn main_prefix(opt: &str, extension: bool) -> Option<Main> {
    if opt.starts_with("--") && opt.len() > 3 && !extension {
        let mut keys = MAIN_LONG
            .iter()
            .filter(|(l, _)| l.starts_with(opt))
            .map(|(l, _)| main_exact(l).unwrap());
        let first = keys.next()?;
        if keys.all(|k| k.key == first.key) {
            return Some(first);
        }
    }
    None
}

/// The loaded extension that claims option `opt` (the most recent one that
/// defines it, else the one whose option it is an unambiguous prefix of) and
/// the option's spec.
fn lookup(loaded: &[Loaded], opt: &str) -> Option<(usize, OptSpec)> {
    for (i, l) in loaded.iter().enumerate().rev() {
        if let Some(s) = l.options().iter().find(|o| o.name == opt) {
            return Some((i, *s));
        }
    }
    // Unambiguous prefix among loaded extensions' options.
    if opt.starts_with("--") && opt.len() > 3 {
        let mut hit = None;
        for (i, l) in loaded.iter().enumerate().rev() {
            for s in l.options().iter().filter(|o| o.name.starts_with(opt)) {
                if hit.is_some_and(|(_, h): (usize, OptSpec)| h.name != s.name) {
                    return None;
                }
                hit.get_or_insert((i, *s));
            }
        }
        return hit;
    }
    None
}

/// The error for an option nobody claims, with a hint that names the extension
/// it belongs to or the closest spelling.
fn unknown_option(w: &Word<'_>, rule: &Rule, loaded: &[Loaded]) -> Diagnostic {
    let opt: &str = &w.text;
    let d = err(
        codes::UNKNOWN_OPTION,
        w.span,
        format!("unknown option \"{opt}\""),
    );
    // Is it an option of a protocol match that was not loaded?
    let owners: Vec<&str> = ["tcp", "udp", "sctp", "icmp"]
        .into_iter()
        .filter(|p| matches::match_options(p).iter().any(|o| o.name == opt))
        .collect();
    if !owners.is_empty() {
        let have = rule.proto.as_ref().map(|p| p.proto.save());
        let want = owners
            .iter()
            .map(|p| format!("-p {p}"))
            .collect::<Vec<_>>()
            .join(" or ");
        return Diagnostic {
            code: codes::PROTO_REQUIRED,
            ..d
        }
        .with_hint(match have {
            Some(p) => format!(
                "{opt} belongs to the {} match, but the rule says -p {p}: use {want}",
                owners.join("/")
            ),
            None => format!(
                "{opt} belongs to the {} match: add {want} before it",
                owners.join("/")
            ),
        });
    }
    let owner = matches::MATCHES
        .iter()
        .find(|d| d.options.iter().any(|o| o.name == opt))
        .map(|d| d.name)
        .map(|m| format!("{opt} belongs to the {m} match: add -m {m} before it"))
        .or_else(|| {
            targets::TARGETS
                .iter()
                .find(|d| d.options.iter().any(|o| o.name == opt))
                .map(|d| d.name)
                .map(|t| format!("{opt} is an option of the {t} target: it must follow -j {t}"))
        });
    if let Some(h) = owner {
        return d.with_hint(h);
    }
    let mut candidates: Vec<&str> = MAIN_LONG.iter().map(|(l, _)| *l).collect();
    for l in loaded {
        candidates.extend(l.options().iter().map(|o| o.name));
    }
    // The protocol's match is loaded implicitly, so its options count too.
    if let Some(p) = rule.proto.as_ref().and_then(|p| p.proto.name()) {
        candidates.extend(matches::match_options(p).iter().map(|o| o.name));
    }
    match suggest(opt, candidates.iter()) {
        Some(s) => d.with_hint(format!("did you mean \"{s}\"?")),
        None => d,
    }
}

#[cfg(test)]
mod sharing_tests {
    use crate::ruleset::matches::MatchKind;
    use crate::ruleset::model::Target;
    use std::sync::Arc;

    #[test]
    fn strings_recurring_on_nearby_rules_are_shared() {
        let text = "*nat\n:KUBE-SVC-A - [0:0]\n:KUBE-SEP-1 - [0:0]\n:KUBE-SEP-2 - [0:0]\n:KUBE-MARK-MASQ - [0:0]\n\
            -A KUBE-SVC-A -m comment --comment \"ns/a:http\" -j KUBE-MARK-MASQ\n\
            -A KUBE-SVC-A -m comment --comment \"ns/a:http\" -j KUBE-SEP-1\n\
            -A KUBE-SVC-A -m comment --comment \"ns/a:http\" -j KUBE-SEP-2\n\
            -A KUBE-SEP-1 -m comment --comment \"ns/a:http\" -j KUBE-MARK-MASQ\n\
            -A KUBE-SEP-2 -m comment --comment \"other\" -j KUBE-MARK-MASQ\nCOMMIT\n";
        let parsed = crate::parse(text, None);
        assert!(parsed.diagnostics.is_empty(), "{:?}", parsed.diagnostics);
        let rules: Vec<_> = parsed.ruleset.tables[0]
            .chains
            .iter()
            .flat_map(|c| &c.rules)
            .collect();
        let comment = |i: usize| match &rules[i].matches[0].kind {
            MatchKind::Comment { comment } => comment.clone(),
            k => panic!("{k:?}"),
        };
        let jump = |i: usize| match &rules[i].target {
            Target::Jump { chain } => chain.clone(),
            t => panic!("{t:?}"),
        };
        assert!(Arc::ptr_eq(&comment(0), &comment(1)) && Arc::ptr_eq(&comment(0), &comment(3)));
        assert_eq!(&*comment(4), "other");
        // KUBE-MARK-MASQ, with two other jump targets between its uses.
        assert!(Arc::ptr_eq(&jump(0), &jump(3)) && Arc::ptr_eq(&jump(0), &jump(4)));
        assert_eq!((&*jump(1), &*jump(2)), ("KUBE-SEP-1", "KUBE-SEP-2"));
    }
}
