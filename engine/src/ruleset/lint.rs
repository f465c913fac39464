//! Rule analysis beyond what the kernel checks at load time: rules that can never
//! match because an earlier rule of the same chain catches every packet they
//! would ([`codes::SHADOWED_RULE`]), and user-defined chains that no reached rule
//! jumps or goes to ([`codes::UNREACHABLE_CHAIN`]).
//!
//! Every finding is a proof, never a guess. An earlier rule shadows a later one
//! only when it ends the walk for the packets it matches (a standard verdict, a
//! goto, or a terminal target: REJECT, NFQUEUE, the NAT targets) and each of its
//! conditions follows from the later rule's: the same match, or a containment this
//! module can prove (prefixes, `eth+` patterns, port sets, conntrack state sets,
//! mark masks, ...). It must also read nothing that a rule in between may change
//! (a MARK, CONNMARK, TOS/DSCP, CT/NOTRACK or TCPMSS target, a jump into a chain
//! holding one, or any unknown target). Rules with statistic, limit, recent,
//! set, nfacct or unknown matches, and unknown targets, never shadow anything.
//! A chain is reached when a rule that can match, in a reached chain, jumps or
//! goes to it; empty chains are never reported (they hold no rule that fails
//! to run: kube-proxy keeps empty canary chains on purpose).
//!
//! This is not [`crate::ruleset::validate`]: the kernel's checks, and the rules after an
//! unconditional verdict (W0402), stay there and are not reported again here. It
//! does not evaluate packets, reads only a finished [`Ruleset`], and does no I/O.

use crate::ruleset::matches::{
    AddrtypeMatch, ConntrackMatch, IcmpMatch, IprangeMatch, MarkMatch, MatchKind, Neg, PortSide,
};
use crate::ruleset::model::{AddrMatch, IfaceMatch, ProtoMatch, Rule, Ruleset, Table, Target};
use crate::ruleset::targets::{ConnmarkMode, TargetKind};
use crate::ruleset::value::{prefix_mask, Iface, Ipv4, PortRange, TcpFlags};
use crate::text::diagnostic::{codes, Diagnostic};
use rustc_hash::FxBuildHasher;
use std::collections::HashMap;

/// Every warning about `ruleset`, sorted by position: at most one per rule and
/// one per chain.
pub fn lint(ruleset: &Ruleset) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for table in &ruleset.tables {
        lint_table(table, &mut out);
    }
    out.sort_by_key(|d| d.span.start);
    out
}

// What a target may change for the rules after it (`writes`) and what a rule's
// conditions depend on (`reads`). Addresses, interfaces, protocol and ports never
// change within a chain (the targets that rewrite them end the walk).
const W_MARK: u8 = 1;
const W_CTMARK: u8 = 2;
const W_CT: u8 = 4;
const W_TOS: u8 = 8;
/// The packet's length and TCP options (TCPMSS may insert an option).
const W_PAYLOAD: u8 = 16;
/// Anything at all: only an unknown target writes it.
const W_OTHER: u8 = 32;
const W_ALL: u8 = u8::MAX;

/// One jump or goto of a table, resolved.
#[derive(Clone, Copy)]
struct Edge {
    rule: u32,
    /// The user chain entered, or [`NOWHERE`] when the name does not resolve
    /// to one (validation reports that).
    to: u32,
    goto: bool,
}

const NOWHERE: u32 = u32::MAX;

/// The jumps and gotos of a table: chain c's are `edges[first[c]..first[c + 1]]`,
/// in rule order.
struct Graph {
    edges: Vec<Edge>,
    first: Vec<u32>,
}

impl Graph {
    fn of(&self, chain: usize) -> &[Edge] {
        &self.edges[self.first[chain] as usize..self.first[chain + 1] as usize]
    }
}

fn lint_table(table: &Table, out: &mut Vec<Diagnostic>) {
    let n = table.chains.len();
    // One pass over the rules (a dump's rules do not fit in the cache, so
    // each pass over them costs): jumps resolved, what each chain's own
    // targets change, and where a chain's first rule that ends the walk with
    // a rule after it is (only from there can a rule be shadowed).
    let mut graph = Graph {
        edges: Vec::new(),
        first: Vec::with_capacity(n + 1),
    };
    let mut writes = vec![0u8; n];
    let mut scan_from = vec![u32::MAX; n];
    // Jumps name their chain with shared strings (the parser reuses recent
    // ones): a few recent names by address spare most look-ups.
    let mut recent: [(usize, usize, u32); 4] = [(0, 0, NOWHERE); 4];
    for (ci, chain) in table.chains.iter().enumerate() {
        graph.first.push(graph.edges.len() as u32);
        let mut w = 0;
        let last = chain.rules.len().saturating_sub(1);
        for (ri, rule) in chain.rules.iter().enumerate() {
            match &rule.target {
                Target::Jump { chain: name } | Target::Goto { chain: name } => {
                    let key = (name.as_ptr() as usize, name.len());
                    let to = match recent.iter().position(|r| (r.0, r.1) == key) {
                        Some(i) => {
                            let hit = recent[i];
                            recent[..=i].rotate_right(1);
                            hit.2
                        }
                        None => {
                            let to = table
                                .chain_index(name)
                                .filter(|&t| !table.chains[t].is_builtin())
                                .map_or(NOWHERE, |t| t as u32);
                            recent.rotate_right(1);
                            recent[0] = (key.0, key.1, to);
                            to
                        }
                    };
                    if to == NOWHERE {
                        w = W_ALL;
                    }
                    graph.edges.push(Edge {
                        rule: ri as u32,
                        to,
                        goto: matches!(rule.target, Target::Goto { .. }),
                    });
                }
                Target::Extension { target } => w |= extension_writes(target),
                Target::None | Target::Verdict { .. } => {}
            }
            if scan_from[ci] == u32::MAX && ri < last && rule.target.ends_chain() {
                scan_from[ci] = ri as u32;
            }
        }
        writes[ci] = w;
    }
    graph.first.push(graph.edges.len() as u32);
    propagate_writes(&graph, &mut writes);

    // Per chain: the rules that never match.
    let mut dead: Vec<Dead> = (0..n).map(|_| Dead::default()).collect();
    let mut cands = Candidates::default();
    for (ci, chain) in table.chains.iter().enumerate() {
        let from = scan_from[ci];
        if from == u32::MAX {
            continue;
        }
        let edges = graph.of(ci);
        let edges = &edges[edges.partition_point(|e| e.rule < from)..];
        let d = shadowed_rules(chain, from as usize, edges, &writes, &mut cands);
        for &(rule, by) in &d.shadowed {
            out.push(shadow_diagnostic(chain, rule as usize, by as usize));
        }
        dead[ci] = d;
    }
    unreachable_chains(table, &graph, &dead, out);
}

/// The rules of a chain that never match.
#[derive(Default)]
struct Dead {
    /// (rule, the earlier rule that catches all its packets), in rule order.
    shadowed: Vec<(u32, u32)>,
    /// From this rule on, the chain is never walked: the rule before it is
    /// unconditional and ends the chain (validation's W0402).
    from: Option<u32>,
}

impl Dead {
    fn has(&self, rule: u32) -> bool {
        self.from.is_some_and(|f| rule >= f)
            || self.shadowed.binary_search_by_key(&rule, |s| s.0).is_ok()
    }
}

/// What a target extension may change for the rules after it.
fn extension_writes(target: &TargetKind) -> u8 {
    match target {
        TargetKind::Mark { .. } => W_MARK,
        TargetKind::Connmark(ConnmarkMode::Restore { .. }) => W_MARK,
        TargetKind::Connmark(_) => W_CTMARK,
        TargetKind::Dscp { .. } | TargetKind::Tos { .. } => W_TOS,
        TargetKind::Ct(_) | TargetKind::Notrack => W_CT | W_CTMARK,
        TargetKind::Tcpmss { .. } => W_PAYLOAD,
        TargetKind::Unknown(_) => W_ALL,
        // LOG, NFLOG, TRACE and CLASSIFY change nothing a match reads; the
        // others end the walk.
        _ => 0,
    }
}

/// What a rule's target may change for the rules after it in its chain.
fn target_writes(target: &Target, edge: Option<&Edge>, chains: &[u8]) -> u8 {
    match target {
        // A goto never comes back to this chain; a jump does, with whatever
        // the chains it enters changed.
        Target::Jump { .. } => match edge.map(|e| e.to) {
            Some(t) if t != NOWHERE => chains[t as usize],
            _ => W_ALL,
        },
        Target::Goto { .. } | Target::None | Target::Verdict { .. } => 0,
        Target::Extension { target } => extension_writes(target),
    }
}

/// Turn each chain's own writes into what entering it may change by the time
/// the walk comes back: its own, and those of every chain it jumps or goes
/// to, propagated from callees to callers until nothing changes.
fn propagate_writes(graph: &Graph, writes: &mut [u8]) {
    let n = writes.len();
    // Callers of each chain, as a flat list (counting sort by target).
    let mut callers_first = vec![0u32; n + 1];
    for e in graph.edges.iter().filter(|e| e.to != NOWHERE) {
        callers_first[e.to as usize + 1] += 1;
    }
    for c in 0..n {
        callers_first[c + 1] += callers_first[c];
    }
    let mut fill = callers_first.clone();
    let mut callers = vec![0u32; callers_first[n] as usize];
    for c in 0..n {
        for e in graph.of(c).iter().filter(|e| e.to != NOWHERE) {
            let slot = &mut fill[e.to as usize];
            callers[*slot as usize] = c as u32;
            *slot += 1;
        }
    }
    // Each chain is queued at most once per bit it gains.
    let mut work: Vec<u32> = (0..n as u32).filter(|&c| writes[c as usize] != 0).collect();
    while let Some(t) = work.pop() {
        let w = writes[t as usize];
        let t = t as usize;
        for &c in &callers[callers_first[t] as usize..callers_first[t + 1] as usize] {
            let c = c as usize;
            if writes[c] | w != writes[c] {
                writes[c] |= w;
                work.push(c as u32);
            }
        }
    }
}

// Condition kinds, for a quick test: an earlier rule needing a kind the later
// rule has no condition of cannot cover it.
const K_SRC: u32 = 1 << 0;
const K_DST: u32 = 1 << 1;
const K_IN: u32 = 1 << 2;
const K_OUT: u32 = 1 << 3;
const K_PROTO: u32 = 1 << 4;
const K_FRAG: u32 = 1 << 5;
const K_TCP: u32 = 1 << 6;
const K_UDP: u32 = 1 << 7;
const K_SCTP: u32 = 1 << 8;
const K_ICMP: u32 = 1 << 9;
/// Any match reading the ports (tcp, udp, sctp, multiport).
const K_PORTS: u32 = 1 << 10;
const K_ADDRTYPE: u32 = 1 << 11;
const K_CONNTRACK: u32 = 1 << 12;
const K_MARK: u32 = 1 << 13;
const K_CONNMARK: u32 = 1 << 14;
const K_IPRANGE: u32 = 1 << 15;
/// The other deterministic matches, compared only for equality.
const K_SAME: u32 = 1 << 16;
const K_LENGTH: u32 = 1 << 17;
/// A match whose outcome depends on more than the packet (statistic, limit,
/// recent, set, and nfacct, which stops matching while an object with a
/// quota is under it) or is unknown: a rule with one never covers another.
const K_NEVER: u32 = 1 << 31;

fn match_kind_bits(m: &MatchKind) -> u32 {
    match m {
        MatchKind::Comment { .. } => 0,
        MatchKind::Tcp(_) => K_TCP | K_PORTS,
        MatchKind::Udp(_) => K_UDP | K_PORTS,
        MatchKind::Sctp(_) => K_SCTP | K_PORTS,
        MatchKind::Multiport(_) => K_PORTS,
        MatchKind::Icmp(_) => K_ICMP,
        MatchKind::Addrtype(_) => K_ADDRTYPE,
        MatchKind::Conntrack(_) => K_CONNTRACK,
        MatchKind::Mark(_) => K_MARK,
        MatchKind::Connmark(_) => K_CONNMARK,
        MatchKind::Iprange(_) => K_IPRANGE,
        MatchKind::Length { .. } => K_LENGTH,
        MatchKind::Owner(_)
        | MatchKind::Mac { .. }
        | MatchKind::Pkttype { .. }
        | MatchKind::Ttl { .. }
        | MatchKind::Tos { .. }
        | MatchKind::Dscp { .. }
        | MatchKind::Physdev(_) => K_SAME,
        MatchKind::Statistic(_)
        | MatchKind::Limit(_)
        | MatchKind::Recent(_)
        | MatchKind::Set(_)
        | MatchKind::Nfacct { .. }
        | MatchKind::Unknown(_) => K_NEVER,
    }
}

/// What a rule's own conditions read that a target may change.
fn match_reads(m: &MatchKind) -> u8 {
    match m {
        MatchKind::Mark(_) => W_MARK,
        MatchKind::Connmark(_) => W_CTMARK,
        MatchKind::Conntrack(_) => W_CT,
        MatchKind::Tos { .. } | MatchKind::Dscp { .. } => W_TOS,
        MatchKind::Length { .. } => W_PAYLOAD,
        MatchKind::Tcp(t) if t.option.is_some() => W_PAYLOAD,
        _ => 0,
    }
}

fn addr_trivial(a: &AddrMatch) -> bool {
    !a.invert && a.net.is_any()
}

/// The kinds of condition a rule has (`has`) and those a later rule must have
/// for this one to cover it (`needs`: trivially true conditions left out).
fn kinds(rule: &Rule) -> (u32, u32) {
    let mut has = 0;
    let mut needs = 0;
    let mut both = |present: bool, needed: bool, bit: u32| {
        if present {
            has |= bit;
        }
        if needed {
            needs |= bit;
        }
    };
    both(
        rule.src.is_some(),
        rule.src.as_ref().is_some_and(|a| !addr_trivial(a)),
        K_SRC,
    );
    both(
        rule.dst.is_some(),
        rule.dst.as_ref().is_some_and(|a| !addr_trivial(a)),
        K_DST,
    );
    both(rule.in_iface().is_some(), rule.in_iface().is_some(), K_IN);
    both(
        rule.out_iface().is_some(),
        rule.out_iface().is_some(),
        K_OUT,
    );
    let proto = rule.proto.as_ref().is_some_and(|p| p.proto.0 != 0);
    both(proto, proto, K_PROTO);
    both(rule.fragment.is_some(), rule.fragment.is_some(), K_FRAG);
    for m in rule.matches.iter() {
        let bits = match_kind_bits(&m.kind);
        has |= bits & !K_NEVER;
        // The earlier rule's multiport needs some port-reading match in the
        // later one; its tcp match needs a tcp match.
        needs |= match m.kind {
            MatchKind::Tcp(_) | MatchKind::Udp(_) | MatchKind::Sctp(_) => bits & !K_PORTS,
            _ => bits,
        };
    }
    (has, needs)
}

/// A value that a covering rule's condition pins down exactly, to find the
/// rules it may cover without comparing it with every later rule.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Key {
    /// `-d`: prefix length and the network.
    Dst(u8, Ipv4),
    Src(u8, Ipv4),
    /// A single destination port.
    Dport(u16),
    In(Iface),
    Out(Iface),
}

/// The single destination ports a rule requires (tcp/udp/sctp `--dport N`,
/// multiport `--dports N`).
fn single_dports(rule: &Rule) -> impl Iterator<Item = u16> + '_ {
    rule.matches.iter().filter_map(|m| match &m.kind {
        MatchKind::Tcp(t) => single(t.dport.as_ref()),
        MatchKind::Udp(u) => single(u.dport.as_ref()),
        MatchKind::Sctp(s) => single(s.dport.as_ref()),
        MatchKind::Multiport(mp) if !mp.invert && mp.side == PortSide::Destination => {
            let p = mp.ports.first()?.lo;
            mp.ports.iter().all(|r| r.lo == p && r.hi == p).then_some(p)
        }
        _ => None,
    })
}

fn single(p: Option<&Neg<PortRange>>) -> Option<u16> {
    p.filter(|p| !p.invert && p.value.lo == p.value.hi)
        .map(|p| p.value.lo)
}

fn exact_iface(i: Option<&IfaceMatch>) -> Option<Iface> {
    i.filter(|i| !i.invert && !i.iface.is_wildcard())
        .map(|i| i.iface)
}

/// The most selective key of a covering rule, if it has one.
fn anchor(rule: &Rule) -> Option<Key> {
    let mut best: Option<(u32, Key)> = None;
    let mut offer = |score: u32, key: Key| {
        if best.is_none_or(|(s, _)| score > s) {
            best = Some((score, key));
        }
    };
    let prefix = |a: &Option<AddrMatch>| {
        a.as_ref()
            .filter(|a| !a.invert && !a.net.is_any())
            .and_then(|a| Some((a.net.prefix_len()?, a.net.addr)))
    };
    if let Some((len, addr)) = prefix(&rule.dst) {
        offer(len, Key::Dst(len as u8, addr));
    }
    if let Some((len, addr)) = prefix(&rule.src) {
        offer(len, Key::Src(len as u8, addr));
    }
    if let Some(p) = single_dports(rule).next() {
        offer(16, Key::Dport(p));
    }
    if let Some(i) = exact_iface(rule.in_iface()) {
        offer(4, Key::In(i));
    }
    if let Some(i) = exact_iface(rule.out_iface()) {
        offer(4, Key::Out(i));
    }
    best.map(|(_, k)| k)
}

/// The rules of one chain so far that may cover a later one.
#[derive(Default)]
struct Candidates {
    /// (rule index, what its conditions read, the kinds it needs).
    rules: Vec<(u32, u8, u32)>,
    /// Candidates (positions in `rules`) by their anchor, each list in rule order.
    keyed: HashMap<Key, Vec<u32>, FxBuildHasher>,
    /// Candidates without an anchor.
    general: Vec<u32>,
    /// Bit L set when some candidate is keyed by a `-d` (`-s`) prefix of length L.
    dst_lens: u64,
    src_lens: u64,
    /// Per write bit, 1 + the index of the last rule that wrote it (0: none).
    last_write: [u32; 8],
}

impl Candidates {
    fn clear(&mut self) {
        self.rules.clear();
        self.keyed.clear();
        self.general.clear();
        self.dst_lens = 0;
        self.src_lens = 0;
        self.last_write = [0; 8];
    }

    fn add(&mut self, index: u32, rule: &Rule, needs: u32) {
        let reads = rule
            .matches
            .iter()
            .fold(W_OTHER, |r, m| r | match_reads(&m.kind));
        let pos = self.rules.len() as u32;
        self.rules.push((index, reads, needs));
        match anchor(rule) {
            Some(key) => {
                match key {
                    Key::Dst(len, _) => self.dst_lens |= 1 << len,
                    Key::Src(len, _) => self.src_lens |= 1 << len,
                    _ => {}
                }
                self.keyed.entry(key).or_default().push(pos);
            }
            None => self.general.push(pos),
        }
    }

    fn wrote(&mut self, index: u32, writes: u8) {
        for (bit, last) in self.last_write.iter_mut().enumerate() {
            if writes & (1 << bit) != 0 {
                *last = index + 1;
            }
        }
    }

    /// The first candidate in `list` (before `best`) that covers `later`.
    fn first_in(&self, list: &[u32], chain: &[Rule], later: &Rule, has: u32, best: u32) -> u32 {
        for &pos in list {
            let (index, reads, needs) = self.rules[pos as usize];
            if index >= best {
                break;
            }
            if needs & !has != 0 {
                continue;
            }
            // Nothing between the two may change what the earlier rule reads.
            let clobbered =
                (0..8).any(|bit| reads & (1 << bit) != 0 && self.last_write[bit] > index);
            if !clobbered && covers(&chain[index as usize], later) {
                return index;
            }
        }
        best
    }

    /// The first candidate that covers `later`, if any.
    fn find(&self, chain: &[Rule], later: &Rule) -> Option<u32> {
        if self.rules.is_empty() {
            return None;
        }
        let (has, _) = kinds(later);
        let mut best = u32::MAX;
        let mut look = |list: Option<&Vec<u32>>, best: &mut u32| {
            if let Some(list) = list {
                *best = self.first_in(list, chain, later, has, *best);
            }
        };
        let probe_prefix =
            |lens: u64,
             a: &Option<AddrMatch>,
             key: fn(u8, Ipv4) -> Key,
             best: &mut u32,
             look: &mut dyn FnMut(Option<&Vec<u32>>, &mut u32)| {
                let Some(a) = a.as_ref().filter(|a| !a.invert) else {
                    return;
                };
                // A prefix is contained in this one only if it is no longer than
                // the longest prefix within this mask.
                let max = a.net.mask.leading_ones();
                for len in 1..=max {
                    if lens & (1 << len) != 0 {
                        look(
                            self.keyed
                                .get(&key(len as u8, a.net.addr.masked(prefix_mask(len as u8)))),
                            best,
                        );
                    }
                }
            };
        if self.dst_lens != 0 {
            probe_prefix(self.dst_lens, &later.dst, Key::Dst, &mut best, &mut look);
        }
        if self.src_lens != 0 {
            probe_prefix(self.src_lens, &later.src, Key::Src, &mut best, &mut look);
        }
        if !self.keyed.is_empty() {
            for p in single_dports(later) {
                look(self.keyed.get(&Key::Dport(p)), &mut best);
            }
            if let Some(i) = exact_iface(later.in_iface()) {
                look(self.keyed.get(&Key::In(i)), &mut best);
            }
            if let Some(i) = exact_iface(later.out_iface()) {
                look(self.keyed.get(&Key::Out(i)), &mut best);
            }
        }
        look(Some(&self.general), &mut best);
        (best != u32::MAX).then_some(best)
    }
}

/// Walk one chain in order from `from` (its first rule that ends the walk):
/// each rule is checked against the earlier rules that end the walk, then may
/// become one itself. Stops at the first unconditional rule that ends the
/// chain (the rest is validation's W0402). `edges` are the chain's jumps and
/// gotos from `from` on.
fn shadowed_rules(
    chain: &crate::ruleset::model::Chain,
    from: usize,
    edges: &[Edge],
    writes: &[u8],
    cands: &mut Candidates,
) -> Dead {
    let mut dead = Dead::default();
    cands.clear();
    let mut es = edges.iter().peekable();
    for (ri, rule) in chain.rules.iter().enumerate().skip(from) {
        let ri32 = ri as u32;
        let edge = es.next_if(|e| e.rule == ri32);
        if let Some(by) = cands.find(&chain.rules, rule) {
            dead.shadowed.push((ri32, by));
        }
        if rule.target.ends_chain() {
            if rule.is_unconditional() {
                if ri + 1 < chain.rules.len() {
                    dead.from = Some(ri32 + 1);
                }
                return dead;
            }
            let (_, needs) = kinds(rule);
            if needs & K_NEVER == 0 && ri + 1 < chain.rules.len() {
                cands.add(ri32, rule, needs);
            }
        } else {
            let w = target_writes(&rule.target, edge, writes);
            if w != 0 {
                cands.wrote(ri32, w);
            }
        }
    }
    dead
}

/// Whether every packet `later` matches is matched by `earlier`, the packet's
/// state being the same at both.
fn covers(earlier: &Rule, later: &Rule) -> bool {
    addr_implied(earlier.src.as_ref(), later.src.as_ref())
        && addr_implied(earlier.dst.as_ref(), later.dst.as_ref())
        && iface_implied(earlier.in_iface(), later.in_iface())
        && iface_implied(earlier.out_iface(), later.out_iface())
        && proto_implied(earlier.proto.as_ref(), later.proto.as_ref())
        && earlier.fragment.is_none_or(|f| later.fragment == Some(f))
        && earlier
            .matches
            .iter()
            .all(|m| match_implied(&m.kind, later))
}

fn addr_implied(e: Option<&AddrMatch>, l: Option<&AddrMatch>) -> bool {
    let Some(e) = e else { return true };
    if addr_trivial(e) {
        return true;
    }
    let Some(l) = l else { return false };
    match (e.invert, l.invert) {
        (false, false) => e.net.covers(&l.net),
        (true, true) => l.net.covers(&e.net),
        (true, false) => e.net.disjoint(&l.net),
        (false, true) => false,
    }
}

/// Every name `q` matches, `p` matches (`eth+` covers `eth0` and `eth1+`).
fn pattern_covers(p: &Iface, q: &Iface) -> bool {
    match p.name().strip_suffix('+') {
        Some(prefix) => q
            .name()
            .strip_suffix('+')
            .unwrap_or(q.name())
            .starts_with(prefix),
        None => !q.is_wildcard() && p.name() == q.name(),
    }
}

fn patterns_disjoint(p: &Iface, q: &Iface) -> bool {
    let stem = |i: &Iface| i.name().strip_suffix('+').map(str::to_string);
    match (stem(p), stem(q)) {
        (None, None) => p.name() != q.name(),
        (Some(a), None) => !q.name().starts_with(&a),
        (None, Some(b)) => !p.name().starts_with(&b),
        (Some(a), Some(b)) => !a.starts_with(&b) && !b.starts_with(&a),
    }
}

fn iface_implied(e: Option<&IfaceMatch>, l: Option<&IfaceMatch>) -> bool {
    let Some(e) = e else { return true };
    let Some(l) = l else { return false };
    match (e.invert, l.invert) {
        (false, false) => pattern_covers(&e.iface, &l.iface),
        (true, true) => pattern_covers(&l.iface, &e.iface),
        (true, false) => patterns_disjoint(&e.iface, &l.iface),
        (false, true) => false,
    }
}

fn proto_implied(e: Option<&ProtoMatch>, l: Option<&ProtoMatch>) -> bool {
    // The kernel skips the protocol test when it is 0 (`all`), `!` or not.
    let Some(e) = e.filter(|e| e.proto.0 != 0) else {
        return true;
    };
    let Some(l) = l.filter(|l| l.proto.0 != 0) else {
        return false;
    };
    match (e.invert, l.invert) {
        (false, false) | (true, true) => e.proto == l.proto,
        (true, false) => e.proto != l.proto,
        (false, true) => false,
    }
}

/// A port condition of the later rule: which port, negated or not, which set.
struct PortCond<'a> {
    side: PortSide,
    invert: bool,
    ranges: &'a [PortRange],
}

/// The port conditions of a rule's tcp, udp, sctp and multiport matches. A
/// negated `--ports` says neither port is in the set: one condition per side.
fn port_conds(rule: &Rule) -> Vec<PortCond<'_>> {
    let mut out = Vec::new();
    for m in rule.matches.iter() {
        let (s, d) = match &m.kind {
            MatchKind::Tcp(t) => (&t.sport, &t.dport),
            MatchKind::Udp(u) => (&u.sport, &u.dport),
            MatchKind::Sctp(c) => (&c.sport, &c.dport),
            MatchKind::Multiport(mp) => {
                let sides: &[PortSide] = match (mp.invert, mp.side) {
                    (true, PortSide::Either) => &[PortSide::Source, PortSide::Destination],
                    (_, PortSide::Source) => &[PortSide::Source],
                    (_, PortSide::Destination) => &[PortSide::Destination],
                    (false, PortSide::Either) => &[PortSide::Either],
                };
                for &side in sides {
                    out.push(PortCond {
                        side,
                        invert: mp.invert,
                        ranges: &mp.ports,
                    });
                }
                continue;
            }
            _ => continue,
        };
        for (side, p) in [(PortSide::Source, s), (PortSide::Destination, d)] {
            if let Some(p) = p {
                out.push(PortCond {
                    side,
                    invert: p.invert,
                    ranges: std::slice::from_ref(&p.value),
                });
            }
        }
    }
    out
}

/// Every port of `inner` is in `outer`.
fn ports_subset(inner: &[PortRange], outer: &[PortRange]) -> bool {
    inner.iter().all(|r| {
        let mut lo = r.lo as u32;
        // Each step moves past one range of `outer`: at most that many steps.
        for _ in 0..=outer.len() {
            let Some(next) = outer
                .iter()
                .filter(|o| (o.lo as u32) <= lo && lo <= o.hi as u32)
                .map(|o| o.hi as u32)
                .max()
            else {
                return false;
            };
            if next >= r.hi as u32 {
                return true;
            }
            lo = next + 1;
        }
        false
    })
}

fn ports_disjoint(a: &[PortRange], b: &[PortRange]) -> bool {
    a.iter()
        .all(|x| b.iter().all(|y| x.hi < y.lo || y.hi < x.lo))
}

/// The earlier rule's `[!] --Xport SET` follows from the later rule's port conditions.
fn port_set_implied(conds: &[PortCond], side: PortSide, invert: bool, set: &[PortRange]) -> bool {
    conds.iter().any(|c| {
        if !invert {
            // The Either side: sport or dport in the set.
            (side == PortSide::Either || c.side == side) && !c.invert && ports_subset(c.ranges, set)
        } else {
            c.side == side
                && if c.invert {
                    ports_subset(set, c.ranges)
                } else {
                    ports_disjoint(c.ranges, set)
                }
        }
    })
}

fn port_implied(conds: &[PortCond], side: PortSide, p: Option<&Neg<PortRange>>) -> bool {
    p.is_none_or(|p| {
        (!p.invert && p.value == PortRange::ALL)
            || port_set_implied(conds, side, p.invert, std::slice::from_ref(&p.value))
    })
}

/// `(flags & mask) == cmp`, negated or not, follows from the later rule's.
fn flags_implied(e: &Neg<(TcpFlags, TcpFlags)>, l: &Neg<(TcpFlags, TcpFlags)>) -> bool {
    let ((m1, c1), (m2, c2)) = (e.value, l.value);
    if e == l {
        return true;
    }
    !l.invert && m2.contains(m1) && (c2 & m1 == c1) != e.invert
}

/// The kernel's `icmp_type_code_match`: type 0xff is any type; otherwise the
/// type is equal and the code within the range; `!` inverts the whole.
fn icmp_implied(e: &IcmpMatch, l: &IcmpMatch) -> bool {
    if e == l || (!e.invert && e.icmp_type == 0xff) {
        return true;
    }
    if l.invert || l.icmp_type == 0xff || e.icmp_type == 0xff {
        return false;
    }
    let inside = e.icmp_type == l.icmp_type && e.code_min <= l.code_min && l.code_max <= e.code_max;
    let apart = e.icmp_type != l.icmp_type || l.code_max < e.code_min || e.code_max < l.code_min;
    if e.invert {
        apart
    } else {
        inside
    }
}

/// Type sets of the addrtype match (an address has exactly one type).
fn types_implied(e: &Neg<u16>, l: &Neg<u16>) -> bool {
    match (e.invert, l.invert) {
        (false, false) => l.value & !e.value == 0,
        (true, true) => e.value & !l.value == 0,
        (true, false) => e.value & l.value == 0,
        (false, true) => false,
    }
}

fn addrtype_implied(e: &AddrtypeMatch, l: &Rule) -> bool {
    let side = |ev: &Option<Neg<u16>>, pick: fn(&AddrtypeMatch) -> &Option<Neg<u16>>| {
        ev.as_ref().is_none_or(|ev| {
            l.matches.iter().any(|m| match &m.kind {
                MatchKind::Addrtype(la) => {
                    la.limit_iface_in == e.limit_iface_in
                        && la.limit_iface_out == e.limit_iface_out
                        && pick(la).as_ref().is_some_and(|lv| types_implied(ev, lv))
                }
                _ => false,
            })
        })
    };
    side(&e.src, |a| &a.src) && side(&e.dst, |a| &a.dst)
}

/// Conntrack: the same match, or state sets alone. A packet's state bits may be
/// several (ESTABLISHED and SNAT), so only set inclusion is used, never disjointness.
fn conntrack_implied(e: &ConntrackMatch, l: &Rule) -> bool {
    let state_only = ConntrackMatch {
        state_alias: e.state_alias,
        state: e.state.clone(),
        ..ConntrackMatch::default()
    };
    let lcs = || {
        l.matches.iter().filter_map(|m| match &m.kind {
            MatchKind::Conntrack(c) => Some(&**c),
            _ => None,
        })
    };
    if lcs().any(|c| c == e) {
        return true;
    }
    let Some(es) = e.state.as_ref().filter(|_| *e == state_only) else {
        return false;
    };
    lcs().any(|c| {
        c.state
            .as_ref()
            .is_some_and(|ls| match (es.invert, ls.invert) {
                (false, false) => ls.value & !es.value == 0,
                (true, true) => es.value & !ls.value == 0,
                _ => false,
            })
    })
}

fn mark_implied(e: &MarkMatch, l: &MarkMatch) -> bool {
    e == l || (!e.invert && !l.invert && e.mask & !l.mask == 0 && l.mark & e.mask == e.mark)
}

fn iprange_implied(e: &IprangeMatch, l: &Rule) -> bool {
    type Side = Option<Neg<(Ipv4, Ipv4)>>;
    let side = |ev: &Side, pick: fn(&IprangeMatch) -> &Side| {
        ev.as_ref().is_none_or(|ev| {
            l.matches.iter().any(|m| match &m.kind {
                MatchKind::Iprange(lr) => pick(lr).as_ref().is_some_and(|lv| {
                    lv == ev
                        || (!ev.invert
                            && !lv.invert
                            && ev.value.0 <= lv.value.0
                            && lv.value.1 <= ev.value.1)
                }),
                _ => false,
            })
        })
    };
    side(&e.src, |r| &r.src) && side(&e.dst, |r| &r.dst)
}

/// The earlier rule's match `e` is true of every packet the later rule matches.
fn match_implied(e: &MatchKind, l: &Rule) -> bool {
    let lm = || l.matches.iter().map(|m| &m.kind);
    match e {
        MatchKind::Comment { .. } => true,
        MatchKind::Statistic(_)
        | MatchKind::Limit(_)
        | MatchKind::Recent(_)
        | MatchKind::Set(_)
        | MatchKind::Nfacct { .. }
        | MatchKind::Unknown(_) => false,
        // The later rule's own tcp match guarantees what this one needs before
        // reading ports (a first fragment with a whole header); then each option.
        MatchKind::Tcp(t) => {
            let tcps = || {
                lm().filter_map(|k| match k {
                    MatchKind::Tcp(lt) => Some(lt),
                    _ => None,
                })
            };
            let conds = port_conds(l);
            tcps().next().is_some()
                && port_implied(&conds, PortSide::Source, t.sport.as_ref())
                && port_implied(&conds, PortSide::Destination, t.dport.as_ref())
                && t.flags.as_ref().is_none_or(|f| {
                    tcps().any(|lt| lt.flags.as_ref().is_some_and(|lf| flags_implied(f, lf)))
                })
                && t.option
                    .as_ref()
                    .is_none_or(|o| tcps().any(|lt| lt.option.as_ref() == Some(o)))
        }
        MatchKind::Udp(u) => {
            let conds = port_conds(l);
            lm().any(|k| matches!(k, MatchKind::Udp(_)))
                && port_implied(&conds, PortSide::Source, u.sport.as_ref())
                && port_implied(&conds, PortSide::Destination, u.dport.as_ref())
        }
        MatchKind::Sctp(s) => {
            let conds = port_conds(l);
            lm().any(|k| matches!(k, MatchKind::Sctp(_)))
                && port_implied(&conds, PortSide::Source, s.sport.as_ref())
                && port_implied(&conds, PortSide::Destination, s.dport.as_ref())
                && s.chunk_types.as_ref().is_none_or(|c| {
                    lm().any(
                        |k| matches!(k, MatchKind::Sctp(ls) if ls.chunk_types.as_ref() == Some(c)),
                    )
                })
        }
        MatchKind::Multiport(mp) => {
            let conds = port_conds(l);
            if lm().any(|k| k == e) {
                return true;
            }
            match (mp.invert, mp.side) {
                (true, PortSide::Either) => {
                    port_set_implied(&conds, PortSide::Source, true, &mp.ports)
                        && port_set_implied(&conds, PortSide::Destination, true, &mp.ports)
                }
                (inv, side) => port_set_implied(&conds, side, inv, &mp.ports),
            }
        }
        MatchKind::Icmp(i) => lm().any(|k| matches!(k, MatchKind::Icmp(li) if icmp_implied(i, li))),
        MatchKind::Addrtype(a) => addrtype_implied(a, l),
        MatchKind::Conntrack(c) => conntrack_implied(c, l),
        MatchKind::Mark(m) => lm().any(|k| matches!(k, MatchKind::Mark(lk) if mark_implied(m, lk))),
        MatchKind::Connmark(m) => {
            lm().any(|k| matches!(k, MatchKind::Connmark(lk) if mark_implied(m, lk)))
        }
        MatchKind::Iprange(r) => iprange_implied(r, l),
        MatchKind::Length { invert, min, max } => lm().any(|k| {
            k == e
                || matches!(k, MatchKind::Length { invert: li, min: lmin, max: lmax }
                    if !invert && !li && min <= lmin && lmax <= max)
        }),
        MatchKind::Owner(_)
        | MatchKind::Mac { .. }
        | MatchKind::Pkttype { .. }
        | MatchKind::Ttl { .. }
        | MatchKind::Tos { .. }
        | MatchKind::Dscp { .. }
        | MatchKind::Physdev(_) => lm().any(|k| k == e),
    }
}

/// How a rule's target ends the walk, as iptables writes it.
fn target_text(target: &Target) -> String {
    match target {
        Target::Goto { chain } => format!("-g {chain}"),
        t => format!("-j {}", t.name().unwrap_or_default()),
    }
}

fn shadow_diagnostic(chain: &crate::ruleset::model::Chain, rule: usize, by: usize) -> Diagnostic {
    let (r, b) = (&chain.rules[rule], &chain.rules[by]);
    Diagnostic::warning(
        codes::SHADOWED_RULE,
        r.span,
        format!(
            "rule {} of {} can never match: rule {} (line {}) catches every packet it would",
            rule + 1,
            chain.name,
            by + 1,
            b.line
        ),
    )
    .with_hint(format!(
        "rule {} ({}) matches every packet this rule matches, so none gets here; delete this rule, or move it above rule {}",
        by + 1,
        target_text(&b.target),
        by + 1
    ))
}

/// User chains that no live rule of a reached chain jumps or goes to.
fn unreachable_chains(table: &Table, graph: &Graph, dead: &[Dead], out: &mut Vec<Diagnostic>) {
    let n = table.chains.len();
    let mut reached = vec![false; n];
    let mut stack: Vec<usize> = Vec::new();
    for (ci, c) in table.chains.iter().enumerate() {
        if c.is_builtin() {
            reached[ci] = true;
            stack.push(ci);
        }
    }
    while let Some(c) = stack.pop() {
        for e in graph.of(c) {
            if e.to == NOWHERE {
                continue;
            }
            let t = e.to as usize;
            if !reached[t] && !dead[c].has(e.rule) {
                reached[t] = true;
                stack.push(t);
            }
        }
    }
    if reached.iter().all(|r| *r) {
        return;
    }
    // For each chain not reached: the first rule naming it from a reached chain
    // (which must then be dead), else the first rule naming it at all.
    let mut named_by: Vec<Option<(usize, Edge)>> = vec![None; n];
    for c in 0..n {
        for e in graph.of(c) {
            if e.to == NOWHERE || reached[e.to as usize] {
                continue;
            }
            let t = e.to as usize;
            let better = match named_by[t] {
                None => true,
                Some((prev, _)) => reached[c] && !reached[prev],
            };
            if better {
                named_by[t] = Some((c, *e));
            }
        }
    }
    for (t, chain) in table.chains.iter().enumerate() {
        // An empty chain has no rule that fails to run (kube-proxy keeps empty
        // canary chains on purpose).
        if reached[t] || chain.rules.is_empty() {
            continue;
        }
        let span = if chain.span.is_empty() {
            chain.rules[0].span
        } else {
            chain.span
        };
        let d = match named_by[t] {
            None => Diagnostic::warning(
                codes::UNREACHABLE_CHAIN,
                span,
                format!("chain {} is never reached: no rule jumps to it", chain.name),
            )
            .with_hint(format!(
                "add a rule with -j {0} to a chain packets pass through, or delete the chain (-X {0})",
                chain.name
            )),
            Some((c, e)) => {
                let from = &table.chains[c];
                let rule = &from.rules[e.rule as usize];
                let verb = if e.goto { "goes" } else { "jumps" };
                let why = if c == t {
                    format!("only its own rule {} (line {}) {verb} to it", e.rule + 1, rule.line)
                } else if reached[c] {
                    format!(
                        "rule {} of {} (line {}) {verb} to it, but that rule can never match",
                        e.rule + 1,
                        from.name,
                        rule.line
                    )
                } else {
                    format!(
                        "rule {} of {} (line {}) {verb} to it, but {} is never reached either",
                        e.rule + 1,
                        from.name,
                        rule.line,
                        from.name
                    )
                };
                Diagnostic::warning(
                    codes::UNREACHABLE_CHAIN,
                    span,
                    format!(
                        "chain {} is never reached: no rule that packets reach jumps to it",
                        chain.name
                    ),
                )
                .with_hint(why)
            }
        };
        out.push(d);
    }
}
