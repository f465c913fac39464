//! Exporting a parsed ruleset in two other notations: a shell script of
//! `iptables` commands that rebuilds it ([`to_commands`]), and nftables syntax
//! as `iptables-restore-translate` 1.8.9 writes it ([`to_nft`]).
//!
//! Both start from the ruleset model, not from the text it was read from: what
//! they write is what the canonical iptables-save rendering ([`crate::ruleset::render`])
//! says, chains in its order. Neither reads a clock, so the translation has no
//! `# Translated by ... on DATE` / `# Completed on DATE` lines. This module
//! writes text only; it does not check what it writes against a kernel or `nft`.
//!
//! The nftables translation follows iptables 1.8.9's xlate callbacks word for
//! word (the spacing of `xt_xlate_add` included), so that its output equals the
//! real tool's for every rule the tool translates (`tests/export.rs` checks
//! this against recorded output). A rule that cannot be translated is written
//! the way the tool writes it: `# ` and the rule's words (`-t TABLE -A CHAIN ...`),
//! each followed by a space, with every negating `!` left empty (the tool's
//! option parser blanks it). Untranslatable, as in 1.8.9: `-m recent`, `-m set`,
//! `-m tos`, `-m physdev`, `-m nfacct`, `-m owner` other than one `--uid-owner`
//! or one `--gid-owner`, `-m sctp` without options, ICMP types that are not one
//! of iptables' named type ranges, `-j NETMAP`, `-j QUEUE`, `-j CT` without
//! `--notrack`, `CONNMARK --save-mark/--restore-mark` with different masks, and
//! every extension this engine keeps verbatim (`-m u32`, `-j TPROXY`, ...;
//! some of those the real tool does translate).
//!
//! Deliberate differences from 1.8.9, where its output would change what a
//! rule matches or does (each marked `DEVIATION` below):
//! - `udp ! --dport`: 1.8.9 reads the inversion of `--dport` from `--sport`'s
//!   flag; we write `udp dport != N` when `--dport` is negated.
//! - `tcp`/`udp` `! --sport 0:65535` (or `--dport`): 1.8.9 drops the
//!   condition; we write `!= 0-65535`. (iptables-save drops it too, so only a
//!   ruleset typed that way has it.)
//! - `-m multiport --ports` negated or with a range: 1.8.9 drops the `!` and
//!   splits a range into its two ends; we write `!=` and the range.
//! - `-m addrtype` with both `--src-type` and `--dst-type`: 1.8.9 keeps only the
//!   source; we write both `fib` expressions. A type `THROW`, `NAT` or
//!   `XRESOLVE` (which 1.8.9 leaves out) makes the rule untranslatable.
//! - `-m conntrack --ctstate` naming `SNAT` or `DNAT`: 1.8.9 writes `ct status
//!   snat` (or `dnat`) in place of the whole state set; we leave the rule
//!   untranslated.
//! - `! --icmp-type any`: 1.8.9 drops the `!`; we leave the rule untranslated.
//! - `-j TOS`: 1.8.9 writes `ip6 dscp set ...` (an IPv6 field, which nft
//!   refuses in an `ip` table, and a DSCP where the target sets TOS bits); we
//!   leave the rule untranslated.
//! - The `security` table's base chains: 1.8.9 gives them priority 0 (a typo in
//!   its table test); we give them the kernel's 50 (`NF_IP_PRI_SECURITY`).
//! - `-m sctp --chunk-types`: written untranslated (1.8.9 translates `all` and
//!   `only`; this engine keeps the option as text).
//!
//! 1.8.9's harmless or loud quirks are kept: of several comments only the last
//! is written; a comment or log prefix is put between double quotes as it is
//! (nft refuses one that holds a `"`); `--ctstatus NONE` gives a bare `ct
//! status`; negated states read `ct state ! new`; `--nflog-range` is dropped.

use crate::ruleset::matches::*;
use crate::ruleset::model::*;
use crate::ruleset::names;
use crate::ruleset::render::{rule_spec, save_order};
use crate::ruleset::targets::*;
use crate::ruleset::value::{Ipv4Net, PortRange, TcpFlags};
use crate::text::lexer::restore_words;

// ---------------------------------------------------------------------------
// iptables commands

/// Whether a shell word needs no quoting.
fn shell_safe(s: &str) -> bool {
    !s.is_empty()
        && s.bytes().all(|b| {
            b.is_ascii_alphanumeric()
                || matches!(
                    b,
                    b'_' | b'-' | b'.' | b'/' | b':' | b',' | b'+' | b'=' | b'@' | b'%'
                )
        })
}

/// A word as a POSIX shell reads it back: bare when it is plain, otherwise in
/// single quotes (a `'` inside becomes `'\''`).
pub fn shell_quote(s: &str) -> String {
    if shell_safe(s) {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        if c == '\'' {
            out.push_str("'\\''");
        } else {
            out.push(c);
        }
    }
    out.push('\'');
    out
}

/// The words of a rule specification (`-s 10.0.0.0/8 -j ACCEPT`), as
/// iptables-restore splits the canonical text, each with whether it was quoted.
fn spec_words(rule: &Rule) -> Vec<(String, bool)> {
    let spec = rule_spec(rule);
    let (words, _) = restore_words(&spec, 0);
    words
        .into_iter()
        .map(|w| (w.text.into_owned(), w.quoted))
        .collect()
}

/// Append the shell words for a piece of iptables-save text (`-s 10.0.0.0/8`,
/// ` --comment "a b"`): split as iptables-restore splits it, each word quoted
/// for the shell, an unquoted `!` left bare (it negates).
fn push_shell_words(out: &mut String, save_text: &str) {
    let (words, _) = restore_words(save_text, 0);
    for w in words {
        out.push(' ');
        if w.text == "!" && !w.quoted {
            out.push('!');
        } else {
            out.push_str(&shell_quote(&w.text));
        }
    }
}

/// An extension this engine keeps verbatim holds its options as the source
/// text wrote them (quotes included): they go into the command as they are.
fn push_verbatim(out: &mut String, args: &[String]) {
    for a in args {
        out.push(' ');
        out.push_str(a);
    }
}

/// One rule's specification as shell words.
fn push_rule_words(out: &mut String, rule: &Rule) {
    // Addresses, interfaces, protocol, fragment: the rule without its matches
    // and target, rendered.
    let mut base = Rule::new(rule.span, rule.line);
    base.src = rule.src.clone();
    base.dst = rule.dst.clone();
    base.ifaces = rule.ifaces.clone();
    base.proto = rule.proto.clone();
    base.fragment = rule.fragment;
    push_shell_words(out, &rule_spec(&base));
    let mut text = String::new();
    for m in rule.matches.iter() {
        out.push_str(" -m ");
        out.push_str(&shell_quote(m.kind.name()));
        match &m.kind {
            MatchKind::Unknown(u) => push_verbatim(out, &u.args),
            kind => {
                text.clear();
                kind.save(&mut text);
                push_shell_words(out, &text);
            }
        }
    }
    match &rule.target {
        Target::None => {}
        Target::Goto { chain } => {
            out.push_str(" -g ");
            out.push_str(&shell_quote(chain));
        }
        t => {
            out.push_str(" -j ");
            out.push_str(&shell_quote(t.name().unwrap_or_default()));
            match t {
                Target::Extension {
                    target: TargetKind::Unknown(u),
                } => push_verbatim(out, &u.args),
                Target::Extension { target } => {
                    text.clear();
                    target.save(&mut text);
                    push_shell_words(out, &text);
                }
                _ => {}
            }
        }
    }
}

/// The ruleset as a shell script of `iptables` commands that rebuild it from
/// empty tables: per table (in the ruleset's order), `-P` for every built-in
/// chain (always, ACCEPT included, so that every table the ruleset has is
/// mentioned and a script run on a host whose policies were changed still
/// gives this ruleset), `-N` for each user chain, then `-A` for each rule in
/// order, chains in iptables-save order. Words are single-quoted where a shell
/// would split or expand them; options of extensions kept verbatim are written
/// as their source wrote them. A rule's counters go in `-c P B`; a chain's
/// counters have no command and are left out. The script flushes nothing first.
pub fn to_commands(ruleset: &Ruleset) -> String {
    let mut out = String::with_capacity(ruleset.rule_count() * 100 + 64);
    out.push_str("#!/bin/sh\n");
    for table in &ruleset.tables {
        let t = table.kind.name();
        let chains = save_order(table);
        for c in chains.iter().filter(|c| c.is_builtin()) {
            if let Some(p) = c.policy {
                out.push_str(&format!(
                    "iptables -t {t} -P {} {}\n",
                    shell_quote(&c.name),
                    p.as_str()
                ));
            }
        }
        for c in chains.iter().filter(|c| !c.is_builtin()) {
            out.push_str(&format!("iptables -t {t} -N {}\n", shell_quote(&c.name)));
        }
        for c in &chains {
            for r in &c.rules {
                out.push_str(&format!("iptables -t {t} -A {}", shell_quote(&c.name)));
                if let Some(k) = &r.counters {
                    out.push_str(&format!(" -c {} {}", k.packets, k.bytes));
                }
                push_rule_words(&mut out, r);
                out.push('\n');
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------
// nftables, as iptables-restore-translate writes it

/// The rule text being built, with `xt_xlate_add`'s spacing: a piece that
/// starts with a letter, digit or bracket gets a space before it unless the
/// text so far ends in one. The comment is kept apart and goes last.
#[derive(Default)]
struct Xl {
    buf: String,
    comment: Option<String>,
}

/// C's `isspace` in the C locale.
fn c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

impl Xl {
    fn add(&mut self, s: &str) {
        if let (Some(&last), Some(&first)) = (self.buf.as_bytes().last(), s.as_bytes().first()) {
            if !c_space(last)
                && (first.is_ascii_alphanumeric()
                    || matches!(first, b'(' | b')' | b'{' | b'}' | b'[' | b']'))
            {
                self.buf.push(' ');
            }
        }
        self.buf.push_str(s);
    }

    /// The rule without trailing blanks (`xt_xlate_get`).
    fn finish(mut self) -> String {
        while self.buf.as_bytes().last().is_some_and(|&b| c_space(b)) {
            self.buf.pop();
        }
        self.buf
    }
}

/// The name `getprotobynumber` gives (Debian's /etc/protocols), if any.
fn protocol_name(p: u8) -> Option<&'static str> {
    match p {
        0 => Some("ip"),
        _ => names::proto_name(p),
    }
}

/// `xlate_ifname`: `+` at the end becomes `*`, a literal `*` there is escaped,
/// and a lone `+` matches every interface (nothing to write) or, negated, none.
fn xlate_ifname(xl: &mut Xl, meta: &str, name: &str, mut invert: bool) {
    if name.is_empty() || name.len() >= 16 {
        return;
    }
    let mut iface = String::with_capacity(name.len() + 1);
    if name == "+" {
        if !invert {
            return;
        }
        iface.push_str("INVAL/D");
        invert = false;
    } else {
        let last = name.len() - 1;
        for (i, c) in name.char_indices() {
            if c == '*' && i == last {
                iface.push('\\');
            }
            if c == '+' && i == last {
                iface.push('*');
            } else {
                iface.push(c);
            }
        }
    }
    xl.add(&format!(
        "{meta} {}\"{iface}\" ",
        if invert { "!= " } else { "" }
    ));
}

fn xlate_addr(xl: &mut Xl, selector: &str, a: &Option<AddrMatch>) {
    let Some(a) = a else { return };
    if !a.invert && a.net == Ipv4Net::ANY {
        return;
    }
    let addr = a.net.addr;
    match a.net.prefix_len() {
        None => xl.add(&format!(
            "{selector} & {} {} {addr} ",
            a.net.mask_addr(),
            if a.invert { "!=" } else { "==" }
        )),
        Some(32) => xl.add(&format!(
            "{selector} {}{addr} ",
            if a.invert { "!= " } else { "" }
        )),
        Some(n) => xl.add(&format!(
            "{selector} {}{addr}/{n} ",
            if a.invert { "!= " } else { "" }
        )),
    }
}

/// `xtables_ipmask_to_numeric`: nothing for a host, `/N`, or a dotted mask.
fn mask_suffix(net: &Ipv4Net) -> String {
    match net.prefix_len() {
        Some(32) => String::new(),
        Some(n) => format!("/{n}"),
        None => format!("/{}", net.mask_addr()),
    }
}

fn neq(inv: bool) -> &'static str {
    if inv {
        "!= "
    } else {
        ""
    }
}

fn ports_text(r: &PortRange) -> String {
    if r.lo == r.hi {
        r.lo.to_string()
    } else {
        format!("{}-{}", r.lo, r.hi)
    }
}

/// tcp/udp `--sport`/`--dport`: written unless it is the whole range.
/// DEVIATION: 1.8.9 also skips a negated whole range (a rule that can never
/// match then matches everything); we write `!= 0-65535`.
fn xlate_l4_port(xl: &mut Xl, proto: &str, dir: &str, v: &Option<Neg<PortRange>>) {
    if let Some(p) = v {
        if p.value != PortRange::ALL || p.invert {
            xl.add(&format!(
                "{proto} {dir} {}{}",
                neq(p.invert),
                ports_text(&p.value)
            ));
        }
    }
}

fn tcp_flag_list(flags: TcpFlags) -> String {
    const NAMES: [(&str, TcpFlags); 6] = [
        ("fin", TcpFlags::FIN),
        ("syn", TcpFlags::SYN),
        ("rst", TcpFlags::RST),
        ("psh", TcpFlags::PSH),
        ("ack", TcpFlags::ACK),
        ("urg", TcpFlags::URG),
    ];
    let list: Vec<&str> = NAMES
        .iter()
        .filter(|(_, f)| flags.contains(*f))
        .map(|(n, _)| *n)
        .collect();
    if list.is_empty() {
        "0x0".to_string()
    } else {
        list.join(",")
    }
}

fn state_bit(name: &str) -> u32 {
    names::CT_STATES
        .iter()
        .find(|(n, _)| *n == name)
        .map_or(0, |(_, b)| *b)
}

fn status_bit(name: &str) -> u32 {
    names::CT_STATUS
        .iter()
        .find(|(n, _)| *n == name)
        .map_or(0, |(_, b)| *b)
}

/// `state_xlate_print`: the states nftables knows, in its order.
fn ct_state_list(xl: &mut Xl, mask: u32, inverted: bool) {
    if inverted {
        xl.add("! ");
    }
    let mut sep = "";
    for (iptables, nft) in [
        ("INVALID", "invalid"),
        ("NEW", "new"),
        ("RELATED", "related"),
        ("ESTABLISHED", "established"),
        ("UNTRACKED", "untracked"),
    ] {
        if mask & state_bit(iptables) != 0 {
            xl.add(&format!("{sep}{nft}"));
            sep = ",";
        }
    }
}

fn ct_status_list(xl: &mut Xl, mask: u32, inverted: bool) {
    if inverted {
        xl.add("! ");
    }
    let mut sep = "";
    for (iptables, nft) in [
        ("EXPECTED", "expected"),
        ("SEEN_REPLY", "seen-reply"),
        ("ASSURED", "assured"),
        ("CONFIRMED", "confirmed"),
    ] {
        if mask & status_bit(iptables) != 0 {
            xl.add(&format!("{sep}{nft}"));
            sep = ",";
        }
    }
}

fn xlate_conntrack(xl: &mut Xl, m: &ConntrackMatch) -> bool {
    if m.state_alias {
        // `-m state`: state_xlate.
        xl.add("ct state ");
        if let Some(s) = &m.state {
            ct_state_list(xl, s.value, s.invert);
        }
        return true;
    }
    let mut space = "";
    let reply = m.dir_reply == Some(true);
    if let Some(r) = m.dir_reply {
        xl.add(&format!(
            "ct direction {}",
            if r { "reply" } else { "original" }
        ));
        space = " ";
    }
    if let Some(p) = &m.proto {
        xl.add(&format!(
            "{space}ct {} protocol {}{}",
            if reply { "reply" } else { "original" },
            neq(p.invert),
            p.value
        ));
        space = " ";
    }
    if let Some(s) = &m.state {
        if s.value & (state_bit("SNAT") | state_bit("DNAT")) != 0 {
            // DEVIATION: 1.8.9 writes `ct status snat` (or dnat) in place of the
            // whole state set, with --ctstatus's negation: not what it matches.
            return false;
        }
        xl.add(&format!("{space}ct state "));
        ct_state_list(xl, s.value, s.invert);
        space = " ";
    }
    if let Some(s) = &m.status {
        xl.add(&format!("{space}ct status "));
        ct_status_list(xl, s.value, s.invert);
        space = " ";
    }
    if let Some(e) = &m.expire {
        xl.add(&format!("{space}ct expiration {}", neq(e.invert)));
        if e.value.0 == e.value.1 {
            xl.add(&e.value.0.to_string());
        } else {
            xl.add(&format!("{}-{}", e.value.0, e.value.1));
        }
        space = " ";
    }
    for (label, v) in [
        ("original saddr", &m.orig_src),
        ("original daddr", &m.orig_dst),
        ("reply saddr", &m.repl_src),
        ("reply daddr", &m.repl_dst),
    ] {
        if let Some(v) = v {
            xl.add(&format!("{space}ct {label} {}", neq(v.invert)));
            xl.add(&format!("{}{}", v.value.addr, mask_suffix(&v.value)));
            space = " ";
        }
    }
    for (label, v) in [
        ("original proto-src", &m.orig_src_port),
        ("original proto-dst", &m.orig_dst_port),
        ("reply proto-src", &m.repl_src_port),
        ("reply proto-dst", &m.repl_dst_port),
    ] {
        if let Some(v) = v {
            xl.add(&format!("{space}ct {label} {}", neq(v.invert)));
            xl.add(&ports_text(&v.value));
            space = " ";
        }
    }
    true
}

/// `print_mark_xlate` of the mark and connmark matches.
fn mark_condition(xl: &mut Xl, m: &MarkMatch) {
    if m.mask != u32::MAX {
        xl.add(&format!(
            " and 0x{:x} {} 0x{:x}",
            m.mask,
            if m.invert { "!=" } else { "==" },
            m.mark
        ));
    } else {
        xl.add(&format!(" {}0x{:x}", neq(m.invert), m.mark));
    }
}

/// `print_rate_xlate`.
fn rate_text(period: u32) -> String {
    const RATES: [(&str, u32); 4] = [
        ("day", 10000 * 86400),
        ("hour", 10000 * 3600),
        ("minute", 10000 * 60),
        ("second", 10000),
    ];
    if period == 0 {
        return " inf".to_string();
    }
    let mut i = 1;
    while i < RATES.len() {
        let m = RATES[i].1;
        if period > m || m / period < m % period {
            break;
        }
        i += 1;
    }
    format!(" {}/{}", RATES[i - 1].1 / period, RATES[i - 1].0)
}

/// multiport revision 1 (`__multiport_xlate_v1`): entries are ports, a range
/// taking two.
fn xlate_multiport(xl: &mut Xl, m: &MultiportMatch, proto: u8) {
    let pname = match proto {
        6 => "tcp",
        17 => "udp",
        136 => "udplite",
        132 => "sctp",
        33 => "dccp",
        _ => "(null)",
    };
    xl.add(pname);
    match m.side {
        PortSide::Source => xl.add(" sport "),
        PortSide::Destination => xl.add(" dport "),
        PortSide::Either => {
            // DEVIATION: 1.8.9 ignores the `!` here and writes a range's two
            // ends as two ports; we keep both.
            xl.add(&format!(" sport . {pname} dport {}{{ ", neq(m.invert)));
            for (i, r) in m.ports.iter().enumerate() {
                if i != 0 {
                    xl.add(", ");
                }
                let p = ports_text(r);
                xl.add(&format!("0-65535 . {p}, {p} . 0-65535"));
            }
            xl.add(" }");
            return;
        }
    }
    if m.invert {
        xl.add("!= ");
    }
    let entries: usize = m
        .ports
        .iter()
        .map(|r| if r.lo == r.hi { 1 } else { 2 })
        .sum();
    let first_is_range = m.ports.first().is_some_and(|r| r.lo != r.hi);
    let braces = entries > 2 || (entries > 1 && !first_is_range);
    if braces {
        xl.add("{ ");
    }
    for (i, r) in m.ports.iter().enumerate() {
        let sep = if i > 0 { ", " } else { "" };
        xl.add(&format!("{sep}{}", r.lo));
        if r.lo != r.hi {
            xl.add(&format!("-{}", r.hi));
        }
    }
    if braces {
        xl.add("}");
    }
}

/// addrtype revision 1. DEVIATION: with both `--src-type` and `--dst-type`,
/// 1.8.9 writes only the source; we write both.
fn xlate_addrtype(xl: &mut Xl, m: &AddrtypeMatch) -> bool {
    // THROW, NAT and XRESOLVE have no nftables name (1.8.9 leaves them out).
    let known = (1u16 << 9) - 1;
    for v in [&m.src, &m.dst].into_iter().flatten() {
        if v.value & !known != 0 {
            return false;
        }
    }
    for (side, v) in [("saddr", &m.src), ("daddr", &m.dst)] {
        let Some(v) = v else { continue };
        xl.add("fib ");
        xl.add(&format!("{side} "));
        if m.limit_iface_in {
            xl.add(". iif ");
        } else if m.limit_iface_out {
            xl.add(". oif ");
        }
        xl.add("type ");
        if v.invert {
            xl.add("!= ");
        }
        let braces = v.value.count_ones() > 1;
        if braces {
            xl.add("{ ");
        }
        let mut sep = "";
        for (i, name) in names::ADDR_TYPES.iter().enumerate().take(9) {
            if v.value & (1 << i) != 0 {
                xl.add(&format!("{sep}{}", name.to_ascii_lowercase()));
                sep = ", ";
            }
        }
        if braces {
            xl.add(" }");
        }
    }
    if m.src.is_none() && m.dst.is_none() {
        // Neither type given (only --limit-iface-*): the tool's text as is.
        xl.add("fib ");
        xl.add("daddr ");
        if m.limit_iface_in {
            xl.add(". iif ");
        } else if m.limit_iface_out {
            xl.add(". oif ");
        }
        xl.add("type ");
    }
    true
}

/// One match; false when it cannot be translated.
fn xlate_match(xl: &mut Xl, rule: &Rule, m: &MatchKind) -> bool {
    match m {
        MatchKind::Tcp(t) => {
            xlate_l4_port(xl, "tcp", "sport", &t.sport);
            xlate_l4_port(xl, "tcp", "dport", &t.dport);
            if let Some(o) = &t.option {
                if o.value != 0 {
                    xl.add(&format!(
                        "tcp option {} {}",
                        o.value,
                        if o.invert { "missing" } else { "exists" }
                    ));
                }
            }
            if let Some(f) = &t.flags {
                let (mask, cmp) = f.value;
                if !mask.is_empty() || f.invert {
                    xl.add(&format!("tcp flags {}", neq(f.invert)));
                    xl.add(&tcp_flag_list(cmp));
                    xl.add(" / ");
                    xl.add(&tcp_flag_list(mask));
                }
            }
            true
        }
        MatchKind::Udp(u) => {
            // DEVIATION: 1.8.9 takes --dport's negation from --sport's flag.
            xlate_l4_port(xl, "udp", "sport", &u.sport);
            xlate_l4_port(xl, "udp", "dport", &u.dport);
            true
        }
        MatchKind::Sctp(s) => {
            if s.sport.is_none() && s.dport.is_none() && s.chunk_types.is_none() {
                return false;
            }
            if s.chunk_types.is_some() {
                return false;
            }
            for (dir, v) in [("sport", &s.sport), ("dport", &s.dport)] {
                if let Some(p) = v {
                    xl.add(&format!(
                        "sctp {dir}{} {}",
                        if p.invert { " !=" } else { "" },
                        ports_text(&p.value)
                    ));
                }
            }
            true
        }
        MatchKind::Icmp(i) => {
            if i.icmp_type == 0xff {
                if i.invert {
                    // DEVIATION: 1.8.9 drops the `!` of `! --icmp-type any`.
                    return false;
                }
                xl.add("ip protocol icmp");
                return true;
            }
            if i.code_min == i.code_max {
                return false;
            }
            match names::ICMP_TYPES
                .iter()
                .find(|(_, t, lo, hi)| *t == i.icmp_type && *lo == i.code_min && *hi == i.code_max)
            {
                Some((name, ..)) => {
                    xl.add(&format!("icmp type{} ", if i.invert { " !=" } else { "" }));
                    xl.add(name);
                    true
                }
                None => false,
            }
        }
        MatchKind::Multiport(mp) => {
            xlate_multiport(xl, mp, rule.proto.as_ref().map_or(0, |p| p.proto.0));
            true
        }
        MatchKind::Comment { comment } => {
            // xt_xlate_add_comment keeps 255 bytes of the quoted text.
            let mut c = format!("\"{comment}\"");
            if c.len() > 255 {
                let mut cut = 255;
                while !c.is_char_boundary(cut) {
                    cut -= 1;
                }
                c.truncate(cut);
            }
            xl.comment = Some(c);
            true
        }
        MatchKind::Addrtype(a) => xlate_addrtype(xl, a),
        MatchKind::Statistic(s) => {
            match s.mode {
                StatisticMode::Random { threshold } => xl.add(&format!(
                    "meta random & 2147483647 {} {threshold}",
                    if s.invert { ">=" } else { "<" }
                )),
                StatisticMode::Nth { every, packet } => {
                    xl.add(&format!("numgen inc mod {every} {}{packet}", neq(s.invert)))
                }
            }
            true
        }
        MatchKind::Conntrack(c) => xlate_conntrack(xl, c),
        MatchKind::Mark(m) => {
            xl.add("mark");
            mark_condition(xl, m);
            true
        }
        MatchKind::Connmark(m) => {
            xl.add("ct mark");
            mark_condition(xl, m);
            true
        }
        MatchKind::Iprange(r) => {
            for (sel, v) in [("ip saddr", &r.src), ("ip daddr", &r.dst)] {
                if let Some(v) = v {
                    xl.add(&format!(
                        "{sel}{} {}",
                        if v.invert { " !=" } else { "" },
                        v.value.0
                    ));
                    xl.add(&format!("-{}", v.value.1));
                }
            }
            true
        }
        MatchKind::Limit(l) => {
            xl.add("limit rate");
            xl.add(&rate_text(l.avg));
            if l.burst != 0 {
                xl.add(&format!(" burst {} packets", l.burst));
            }
            true
        }
        MatchKind::Owner(o) => {
            let only_uid = o.uid.is_some() && o.gid.is_none();
            let only_gid = o.gid.is_some() && o.uid.is_none();
            if o.socket_exists.is_some() || o.suppl_groups.is_some() || !(only_uid || only_gid) {
                return false;
            }
            let (label, v) = if only_uid {
                ("skuid", &o.uid)
            } else {
                ("skgid", &o.gid)
            };
            let Some(v) = v else { return false };
            xl.add(&format!("{label}{} ", if v.invert { " !=" } else { "" }));
            if v.value.0 != v.value.1 {
                xl.add(&format!("{}-{}", v.value.0, v.value.1));
            } else {
                xl.add(&v.value.0.to_string());
            }
            true
        }
        MatchKind::Mac { invert, mac } => {
            xl.add(&format!("ether saddr{} ", if *invert { " !=" } else { "" }));
            xl.add(&format!("{:02x}", mac[0]));
            for b in &mac[1..] {
                xl.add(&format!(":{b:02x}"));
            }
            true
        }
        MatchKind::Pkttype { invert, pkttype } => {
            xl.add(&format!("pkttype{} ", if *invert { " !=" } else { "" }));
            match pkttype {
                0 => xl.add("unicast"),
                1 => xl.add("broadcast"),
                2 => xl.add("multicast"),
                n => xl.add(&n.to_string()),
            }
            true
        }
        MatchKind::Length { invert, min, max } => {
            xl.add(&format!("meta length {}", neq(*invert)));
            if min == max {
                xl.add(&min.to_string());
            } else {
                xl.add(&format!("{min}-{max}"));
            }
            true
        }
        MatchKind::Ttl { mode, ttl } => {
            xl.add(match mode {
                TtlMode::Eq => "ip ttl",
                TtlMode::Ne => "ip ttl !=",
                TtlMode::Lt => "ip ttl lt",
                TtlMode::Gt => "ip ttl gt",
            });
            xl.add(&format!(" {ttl}"));
            true
        }
        MatchKind::Dscp { invert, dscp } => {
            xl.add("ip ");
            xl.add(&format!("dscp {}0x{dscp:02x}", neq(*invert)));
            true
        }
        // No xlate callback in iptables 1.8.9 (or, for Unknown, not modelled here).
        MatchKind::Recent(_)
        | MatchKind::Set(_)
        | MatchKind::Tos { .. }
        | MatchKind::Physdev(_)
        | MatchKind::Nfacct { .. }
        | MatchKind::Unknown(_) => false,
    }
}

/// syslog's `prioritynames`, first name for each level.
const LOG_LEVEL_NAMES: [&str; 8] = [
    "emerg", "alert", "crit", "err", "warn", "notice", "info", "debug",
];

/// `sprint_range` of the NAT targets.
fn nat_range_text(r: &NatRange) -> String {
    let mut s = String::new();
    if let Some((a, b)) = r.addrs {
        s.push_str(&a.to_string());
        if a != b {
            s.push('-');
            s.push_str(&b.to_string());
        }
    }
    if let Some((a, b)) = r.ports {
        s.push_str(&format!(":{a}"));
        if a != b {
            s.push_str(&format!("-{b}"));
        }
    }
    s
}

fn xlate_nat(xl: &mut Xl, verb: &str, n: &NatTarget) {
    xl.add(verb);
    if let Some(r) = &n.range {
        let text = nat_range_text(r);
        if !text.is_empty() {
            xl.add(&format!(" to {text}"));
        }
    }
    let mut sep = " ";
    for (on, flag) in [
        (n.random, "random"),
        (n.random_fully, "fully-random"),
        (n.persistent, "persistent"),
    ] {
        if on {
            xl.add(&format!("{sep}{flag}"));
            sep = ",";
        }
    }
}

/// The target extension; false when it cannot be translated.
fn xlate_target_ext(xl: &mut Xl, t: &TargetKind) -> bool {
    match t {
        TargetKind::Reject { with } => {
            let name = names::REJECT_TYPES
                .get(*with as usize)
                .map_or("icmp-port-unreachable", |(n, _)| *n);
            match name {
                "icmp-port-unreachable" => xl.add("reject"),
                "tcp-reset" => xl.add("reject with tcp reset"),
                other => {
                    let icmp = match other {
                        "icmp-net-unreachable" => "net-unreachable",
                        "icmp-host-unreachable" => "host-unreachable",
                        "icmp-proto-unreachable" => "prot-unreachable",
                        "icmp-net-prohibited" => "net-prohibited",
                        "icmp-host-prohibited" => "host-prohibited",
                        _ => "admin-prohibited",
                    };
                    xl.add(&format!("reject with icmp type {icmp}"));
                }
            }
            true
        }
        TargetKind::Log(l) => {
            xl.add("log");
            if !l.prefix.is_empty() {
                xl.add(&format!(" prefix \"{}\"", l.prefix));
            }
            let Some(pname) = LOG_LEVEL_NAMES.get(l.level as usize) else {
                return false;
            };
            if l.level != 4 {
                xl.add(&format!(" level {pname}"));
            }
            if l.tcp_sequence && l.tcp_options && l.ip_options && l.uid && l.macdecode {
                xl.add(" flags all");
            } else {
                if l.tcp_sequence || l.tcp_options {
                    let mut delim = " ";
                    xl.add(" flags tcp");
                    if l.tcp_sequence {
                        xl.add(" sequence");
                        delim = ",";
                    }
                    if l.tcp_options {
                        xl.add(&format!("{delim}options"));
                    }
                }
                if l.ip_options {
                    xl.add(" flags ip options");
                }
                if l.uid {
                    xl.add(" flags skuid");
                }
                if l.macdecode {
                    xl.add(" flags ether");
                }
            }
            true
        }
        TargetKind::Nflog(n) => {
            xl.add("log ");
            if !n.prefix.is_empty() {
                xl.add(&format!("prefix \"{}\" ", n.prefix));
            }
            // --nflog-range sets no copy length (it never worked); --nflog-size does.
            if let Some(s) = n.size {
                xl.add(&format!("snaplen {s} "));
            }
            if n.threshold != 0 {
                xl.add(&format!("queue-threshold {} ", n.threshold));
            }
            xl.add(&format!("group {} ", n.group));
            true
        }
        TargetKind::Mark { value, mask } => {
            xl.add("meta mark set ");
            let (v, m) = (*value, *mask);
            if m == u32::MAX {
                xl.add(&format!("0x{v:x} "));
            } else if v == 0 {
                xl.add(&format!("mark and 0x{:x} ", !m));
            } else if v == m {
                xl.add(&format!("mark or 0x{v:x} "));
            } else if m == 0 {
                xl.add(&format!("mark xor 0x{v:x} "));
            } else {
                xl.add(&format!("mark and 0x{:x} xor 0x{v:x} ", !m));
            }
            true
        }
        TargetKind::Connmark(mode) => match *mode {
            ConnmarkMode::Set { ctmark, ctmask } => {
                xl.add("ct mark set ");
                if ctmask == u32::MAX {
                    xl.add(&format!("0x{ctmark:x} "));
                } else if ctmark == 0 {
                    xl.add(&format!("ct mark and 0x{:x}", !ctmask));
                } else if ctmark == ctmask {
                    xl.add(&format!("ct mark or 0x{ctmark:x}"));
                } else if ctmask == 0 {
                    xl.add(&format!("ct mark xor 0x{ctmark:x}"));
                } else {
                    xl.add(&format!("ct mark xor 0x{ctmark:x} and 0x{:x}", !ctmask));
                }
                true
            }
            ConnmarkMode::Save { nfmask, ctmask } | ConnmarkMode::Restore { nfmask, ctmask } => {
                if matches!(mode, ConnmarkMode::Save { .. }) {
                    xl.add("ct mark set mark");
                } else {
                    xl.add("meta mark set ct mark");
                }
                if !(nfmask == u32::MAX && ctmask == u32::MAX) {
                    if nfmask == ctmask {
                        xl.add(&format!(" and 0x{nfmask:x}"));
                    } else {
                        return false;
                    }
                }
                true
            }
        },
        TargetKind::Dnat(n) => {
            xlate_nat(xl, "dnat", n);
            true
        }
        TargetKind::Snat(n) => {
            xlate_nat(xl, "snat", n);
            true
        }
        TargetKind::Masquerade(n) => {
            xlate_nat(xl, "masquerade", n);
            true
        }
        TargetKind::Redirect(n) => {
            xlate_nat(xl, "redirect", n);
            true
        }
        TargetKind::Ct(c) => {
            if c.notrack {
                xl.add("notrack");
                true
            } else {
                false
            }
        }
        TargetKind::Notrack => {
            xl.add("notrack");
            true
        }
        TargetKind::Trace => {
            xl.add("nftrace set 1");
            true
        }
        TargetKind::Nfqueue {
            num,
            total,
            bypass,
            cpu_fanout,
        } => {
            if *total > 1 {
                let last = *num as u32 + *total as u32 - 1;
                xl.add(&format!("queue num {num}-{last} "));
            } else {
                xl.add(&format!("queue num {num} "));
            }
            if *bypass {
                xl.add("bypass");
            }
            if *cpu_fanout {
                xl.add(&format!("{}fanout ", if *bypass { "," } else { "" }));
            }
            true
        }
        TargetKind::Tcpmss { mss } => {
            match mss {
                None => xl.add("tcp option maxseg size set rt mtu"),
                Some(m) => xl.add(&format!("tcp option maxseg size set {m}")),
            }
            true
        }
        TargetKind::Dscp { dscp } => {
            xl.add(&format!("ip dscp set 0x{dscp:02x}"));
            true
        }
        TargetKind::Classify { major, minor } => {
            xl.add("meta priority set ");
            let handle = (*major as u32) << 16 | *minor as u32;
            match handle {
                u32::MAX => xl.add("root"),
                0 => xl.add("none"),
                _ => xl.add(&format!("{major:x}:{minor:x}")),
            }
            true
        }
        // DEVIATION: 1.8.9 writes `ip6 dscp set ...` for -j TOS, which is
        // neither this family nor what the target does.
        TargetKind::Tos { .. } => false,
        TargetKind::Netmap { .. } | TargetKind::Unknown(_) => false,
    }
}

/// The nftables rule text after `add rule ip TABLE CHAIN `, or None when the
/// rule cannot be translated (see the module documentation for which).
pub fn nft_rule(rule: &Rule) -> Option<String> {
    let mut xl = Xl::default();
    if let Some(i) = rule.in_iface() {
        xlate_ifname(&mut xl, "iifname", i.iface.name(), i.invert);
    }
    if let Some(i) = rule.out_iface() {
        xlate_ifname(&mut xl, "oifname", i.iface.name(), i.invert);
    }
    if let Some(inv) = rule.fragment {
        xl.add(&format!(
            "ip frag-off & 0x1fff {}0 ",
            if inv { "" } else { "!= " }
        ));
    }
    if let Some(p) = rule.proto.as_ref().filter(|p| p.proto.0 != 0) {
        let pname = protocol_name(p.proto.0);
        let redundant = pname.is_some_and(|n| rule.matches.iter().any(|m| m.kind.name() == n));
        if !redundant {
            let name = pname.map_or_else(|| p.proto.0.to_string(), str::to_string);
            xl.add(&format!("ip protocol {}{name} ", neq(p.invert)));
        }
    }
    xlate_addr(&mut xl, "ip saddr", &rule.src);
    xlate_addr(&mut xl, "ip daddr", &rule.dst);
    for m in rule.matches.iter() {
        if !xlate_match(&mut xl, rule, &m.kind) {
            return None;
        }
    }
    xl.add("counter");
    match &rule.target {
        Target::None => {}
        Target::Verdict { verdict } => match verdict {
            Verdict::Accept => xl.add(" accept"),
            Verdict::Drop => xl.add(" drop"),
            Verdict::Return => xl.add(" return"),
            Verdict::Queue => return None,
        },
        Target::Jump { chain } => xl.add(&format!(" jump {chain}")),
        Target::Goto { chain } => xl.add(&format!(" goto {chain}")),
        Target::Extension { target } => {
            if !xlate_target_ext(&mut xl, target) {
                return None;
            }
        }
    }
    if let Some(c) = xl.comment.take() {
        xl.add(&format!(" comment {c}"));
    }
    Some(xl.finish())
}

/// How the real tool writes a rule it cannot translate: `# -t TABLE -A CHAIN
/// WORDS...`, every word followed by a space, negations blanked.
fn untranslated(table: TableKind, chain: &str, rule: &Rule) -> String {
    let mut out = format!("# -t {} -A {chain} ", table.name());
    for (w, quoted) in spec_words(rule) {
        if w != "!" || quoted {
            out.push_str(&w);
        }
        out.push(' ');
    }
    out
}

/// The base chain declaration `xlate_chain_set` writes.
fn base_chain(table: TableKind, chain: &Chain) -> String {
    let t = table.name();
    let kind = match (table, chain.hook) {
        (TableKind::Nat, _) => "nat",
        (TableKind::Mangle, Some(Hook::Output)) => "route",
        _ => "filter",
    };
    let priority = match (table, chain.hook) {
        (TableKind::Nat, Some(Hook::Prerouting | Hook::Output)) => -100,
        (TableKind::Nat, _) => 100,
        (TableKind::Mangle, _) => -150,
        (TableKind::Raw, _) => -300,
        // DEVIATION: 1.8.9 writes 0 here.
        (TableKind::Security, _) => 50,
        (TableKind::Filter, _) => 0,
    };
    let hook = chain.hook.map_or("", |h| match h {
        Hook::Prerouting => "prerouting",
        Hook::Input => "input",
        Hook::Forward => "forward",
        Hook::Output => "output",
        Hook::Postrouting => "postrouting",
    });
    let mut out = format!(
        "add chain ip {t} {} {{ type {kind} hook {hook} priority {priority}; ",
        chain.name
    );
    match chain.policy {
        Some(Policy::Accept) => out.push_str("policy accept; "),
        Some(Policy::Drop) => out.push_str("policy drop; "),
        None => {}
    }
    out.push_str("}\n");
    out
}

/// The ruleset in nftables syntax as `iptables-restore-translate` 1.8.9 writes
/// it for the ruleset's iptables-save dump (without its two dated comment
/// lines): per table `add table ip T`, its chains (base chains with type, hook,
/// priority and policy, user chains bare) in iptables-save order, then `add
/// rule ip T CHAIN ...` for every rule, or `# ...` for a rule that cannot be
/// translated. Counters are not carried (every rule gets a fresh `counter`).
pub fn to_nft(ruleset: &Ruleset) -> String {
    let mut out = String::with_capacity(ruleset.rule_count() * 100 + 64);
    for table in &ruleset.tables {
        let t = table.kind.name();
        out.push_str(&format!("add table ip {t}\n"));
        let chains = save_order(table);
        for c in &chains {
            if c.is_builtin() {
                out.push_str(&base_chain(table.kind, c));
            } else {
                out.push_str(&format!("add chain ip {t} {}\n", c.name));
            }
        }
        for c in &chains {
            for r in &c.rules {
                match nft_rule(r) {
                    Some(text) => {
                        out.push_str(&format!("add rule ip {t} {} {text}\n", c.name));
                    }
                    None => {
                        out.push_str(&untranslated(table.kind, &c.name, r));
                        out.push('\n');
                    }
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_are_spaced_as_xt_xlate_add_spaces_them() {
        let mut xl = Xl::default();
        xl.add("tcp dport ");
        xl.add("{ ");
        xl.add("80");
        xl.add(", 443");
        xl.add("}");
        xl.add("counter");
        xl.add(" accept");
        xl.add("log group 1 ");
        assert_eq!(
            xl.finish(),
            "tcp dport { 80, 443 } counter accept log group 1"
        );
    }

    #[test]
    fn shell_words_are_quoted_only_when_needed() {
        assert_eq!(shell_quote("KUBE-SVC-X"), "KUBE-SVC-X");
        assert_eq!(shell_quote("10.0.0.0/8"), "10.0.0.0/8");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
        assert_eq!(shell_quote("$HOME"), "'$HOME'");
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("!"), "'!'");
    }

    #[test]
    fn interface_wildcards_become_nftables_wildcards() {
        let mut xl = Xl::default();
        xlate_ifname(&mut xl, "iifname", "eth+", false);
        xlate_ifname(&mut xl, "oifname", "ab*", true);
        xlate_ifname(&mut xl, "iifname", "+", false);
        assert_eq!(xl.finish(), r#"iifname "eth*" oifname != "ab\*""#);
        let mut xl = Xl::default();
        xlate_ifname(&mut xl, "iifname", "+", true);
        assert_eq!(xl.finish(), r#"iifname "INVAL/D""#);
    }

    #[test]
    fn rates_pick_the_largest_unit_that_divides_well() {
        assert_eq!(rate_text(10000), " 1/second");
        assert_eq!(rate_text(10000 * 60 / 61), " 61/minute");
        assert_eq!(rate_text(10000 * 3600 / 3), " 3/hour");
        assert_eq!(rate_text(0), " inf");
    }
}
