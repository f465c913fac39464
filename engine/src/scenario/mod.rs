//! # Layer 5: scenarios
//!
//! The top layer: a scenario run from its JSON (this module) to its report
//! (the traces as JSON and text: the private `report` module, whose
//! functions are re-exported here), and [`link`], the share link's codec (a
//! text packed into a URL fragment, unpacked with caps against hostile
//! links). It may use every layer below
//! ([`crate::path`], [`crate::net`], [`crate::ruleset`], [`crate::text`]);
//! nothing in the engine uses it. It does no I/O: files and the browser are
//! the CLI's and the playground's.
//!
//! A scenario: the ruleset text, the host, ipsets, a seed and the packets, as
//! the JSON a person writes or shares. Running it sends the packets in order
//! through one pipeline and one connection table, with the state that outlives
//! a packet (random draws from the seed, nth counters, limit buckets on the
//! scenario's clock, recent lists), and renders the traces as the CLI's JSON.
//!
//! All-branches mode follows every `statistic --mode random` choice both ways
//! and reports each outcome with its probability. This module does no I/O.

pub mod link;
mod report;

pub use report::{
    batch_json, fate_text, packet_text, path_json, path_json_explaining, path_text, step_text,
};

use crate::net::conntrack::ConnTable;
use crate::net::host::{Host, HostSpec};
use crate::net::packet::{Packet, PacketSpec, FROM_LOCAL};
use crate::path::eval::{MatchId, MatchState};
use crate::path::pipeline::{
    index_ruleset, run_packet_indexed, Backend, Fate, Origin, PacketPath, PathStep, RulesetIndex,
};
use crate::path::walk::Step;
use crate::ruleset::matches::{LimitMatch, RecentCommand, RecentMatch, SetMatch};
use crate::ruleset::model::{Ruleset, TableKind};
use crate::ruleset::value::{Ipv4, Ipv4Net, Proto, TcpFlags};
use crate::text::diagnostic::Diagnostic;
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};

/// A forced choice for one `statistic --mode random` rule.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Force {
    #[serde(default = "nat")]
    pub table: String,
    pub chain: String,
    /// 1-based, as iptables-save lists the chain.
    pub rule: usize,
    #[serde(rename = "match")]
    pub matches: bool,
}

fn nat() -> String {
    "nat".into()
}

fn one() -> u64 {
    1
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub version: u32,
    pub ruleset: String,
    #[serde(default)]
    pub host: HostSpec,
    #[serde(default)]
    pub ipsets: Option<String>,
    #[serde(default = "one")]
    pub seed: u64,
    /// Which iptables loaded the ruleset: `nft` (the default) or `legacy`.
    /// It decides where the security table runs in INPUT.
    #[serde(default)]
    pub backend: Backend,
    pub packets: Vec<PacketSpec>,
    /// For extensions nfsim does not evaluate (u32, string, mac, ...): assume
    /// they match (true) or not (false, the default).
    #[serde(default)]
    pub assume: BTreeMap<String, bool>,
    /// Random statistic rules forced to match or not.
    #[serde(default)]
    pub force: Vec<Force>,
}

/// Everything that can be wrong with a scenario before it runs.
#[derive(Clone, Debug)]
pub enum ScenarioError {
    Json(String),
    Ruleset(Vec<Diagnostic>),
    Host(Vec<String>),
    Packet { index: usize, message: String },
}

impl std::fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ScenarioError::Json(e) => write!(f, "scenario: {e}"),
            ScenarioError::Ruleset(d) => write!(
                f,
                "the ruleset has {} error(s)",
                d.iter().filter(|d| d.is_error()).count()
            ),
            ScenarioError::Host(e) => write!(f, "host: {}", e.join("; ")),
            ScenarioError::Packet { index, message } => write!(f, "packet {index}: {message}"),
        }
    }
}

/// A loaded scenario, ready to run.
#[derive(Clone)]
pub struct Loaded {
    pub scenario: Scenario,
    pub ruleset: Ruleset,
    /// Indexes of the ruleset's long chains, built once.
    pub index: RulesetIndex,
    pub host: Host,
    pub sets: HashMap<String, IpSet>,
}

impl Loaded {
    pub fn from_json(text: &str) -> Result<Loaded, ScenarioError> {
        let scenario: Scenario =
            serde_json::from_str(text).map_err(|e| ScenarioError::Json(e.to_string()))?;
        if scenario.version != 1 {
            return Err(ScenarioError::Json(format!(
                "unsupported version {} (this nfsim reads version 1)",
                scenario.version
            )));
        }
        let parsed = crate::parse(&scenario.ruleset, None);
        if parsed.has_errors() {
            return Err(ScenarioError::Ruleset(parsed.diagnostics));
        }
        let host = scenario
            .host
            .build()
            .map_err(|e| ScenarioError::Host(e.into_iter().map(|e| e.message).collect()))?;
        let sets = match &scenario.ipsets {
            Some(t) => parse_ipsets(t).map_err(|e| ScenarioError::Json(format!("ipsets: {e}")))?,
            None => HashMap::new(),
        };
        for (i, p) in scenario.packets.iter().enumerate() {
            for (key, n) in [
                ("reply_to", p.reply_to),
                ("icmp_error_for", p.icmp_error_for),
            ] {
                if let Some(n) = n.filter(|&n| n >= i) {
                    return Err(ScenarioError::Packet {
                        index: i,
                        message: format!("{key} {n} must name an earlier packet"),
                    });
                }
            }
            if p.reply_to.is_some() && p.icmp_error_for.is_some() {
                return Err(ScenarioError::Packet {
                    index: i,
                    message: "a packet is either reply_to or icmp_error_for, not both".into(),
                });
            }
            let derived = p.reply_to.is_some() || p.icmp_error_for.is_some();
            if !derived && p.from != FROM_LOCAL && host.interface(&p.from).is_none() {
                return Err(ScenarioError::Packet {
                    index: i,
                    message: format!("from: no interface `{}' on the host", p.from),
                });
            }
        }
        let index = index_ruleset(&parsed.ruleset);
        Ok(Loaded {
            scenario,
            index,
            ruleset: parsed.ruleset,
            host,
            sets,
        })
    }
}

/// One ipset from `ipset save` text: hash:ip and hash:net of one or two
/// dimensions (address, or address and port).
#[derive(Clone, Debug, Default)]
pub struct IpSet {
    pub kind: String,
    pub entries: Vec<(Ipv4Net, Option<(u8, u16)>)>,
}

pub fn parse_ipsets(text: &str) -> Result<HashMap<String, IpSet>, String> {
    let mut sets: HashMap<String, IpSet> = HashMap::new();
    for (i, line) in text.lines().enumerate() {
        let w: Vec<&str> = line.split_whitespace().collect();
        match w.as_slice() {
            [] => {}
            ["create", name, kind, ..] => {
                if !matches!(
                    *kind,
                    "hash:ip" | "hash:net" | "hash:ip,port" | "hash:net,port"
                ) {
                    return Err(format!("line {}: set type {kind} is not modelled", i + 1));
                }
                sets.insert(
                    name.to_string(),
                    IpSet {
                        kind: kind.to_string(),
                        entries: vec![],
                    },
                );
            }
            ["add", name, elem, ..] => {
                let set = sets
                    .get_mut(*name)
                    .ok_or(format!("line {}: no set {name}", i + 1))?;
                let (addr, port) = match elem.split_once(',') {
                    Some((a, p)) => {
                        let (proto, port) = p.split_once(':').unwrap_or(("tcp", p));
                        let proto = Proto::parse(proto)?.0;
                        (
                            a,
                            Some((
                                proto,
                                port.parse::<u16>()
                                    .map_err(|_| format!("line {}: bad port {port}", i + 1))?,
                            )),
                        )
                    }
                    None => (*elem, None),
                };
                set.entries.push((
                    Ipv4Net::parse(addr).map_err(|e| format!("line {}: {e}", i + 1))?,
                    port,
                ));
            }
            _ => return Err(format!("line {}: expected `create` or `add`", i + 1)),
        }
    }
    Ok(sets)
}

/// The state that outlives one packet, for a whole scenario run.
pub struct SimState<'a> {
    rng: u64,
    /// Forced random choices by (table, chain, 0-based rule).
    forced: HashMap<(u8, u32, u32), bool>,
    /// All-branches mode: the choices to replay, then the ones made.
    script: Option<Vec<bool>>,
    pub decisions: Vec<(bool, f64)>,
    /// How many of `decisions` had been made when each packet of the run
    /// was done (cumulative, one entry per packet): decision `d` was made
    /// for the first packet `i` with `d < decided_by_packet[i]`.
    pub decided_by_packet: Vec<usize>,
    nth: HashMap<MatchId, u32>,
    limit: HashMap<MatchId, (u64, u64)>,
    recent: HashMap<String, HashMap<Ipv4, (Vec<u64>, u8)>>,
    sets: &'a HashMap<String, IpSet>,
    assume: &'a BTreeMap<String, bool>,
    /// The scenario clock, in milliseconds.
    pub now_ms: u64,
    /// When `Some`, every random choice made, in order, with the rule that
    /// made it (forced, replayed or drawn): what turns a branch into `force`
    /// entries and back. `None` (what [`SimState::new`] gives) records nothing.
    pub trail: Option<Vec<(MatchId, bool)>>,
}

impl<'a> SimState<'a> {
    pub fn new(loaded: &'a Loaded, seed: u64, script: Option<Vec<bool>>) -> SimState<'a> {
        let mut forced = HashMap::new();
        for f in &loaded.scenario.force {
            let Some(kind) = TableKind::parse(&f.table) else {
                continue;
            };
            if let Some((ti, t)) = loaded
                .ruleset
                .tables
                .iter()
                .enumerate()
                .find(|(_, t)| t.kind == kind)
            {
                let _ = ti;
                if let Some(ci) = t.chain_index(&f.chain) {
                    forced.insert(
                        (kind as u8, ci as u32, f.rule.saturating_sub(1) as u32),
                        f.matches,
                    );
                }
            }
        }
        SimState {
            rng: seed,
            forced,
            script,
            decisions: Vec::new(),
            decided_by_packet: Vec::new(),
            nth: HashMap::new(),
            limit: HashMap::new(),
            recent: HashMap::new(),
            sets: &loaded.sets,
            assume: &loaded.scenario.assume,
            now_ms: 0,
            trail: None,
        }
    }

    fn next_u32(&mut self) -> u32 {
        // splitmix64
        self.rng = self.rng.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        (z ^ (z >> 31)) as u32
    }

    /// A `statistic --mode random` rule's choice: forced, replayed from the
    /// script (all-branches mode), or drawn from the seed.
    fn choose(&mut self, id: MatchId, threshold: u32) -> bool {
        if let Some(&f) = self.forced.get(&(id.table, id.chain, id.rule)) {
            return f;
        }
        let p = threshold as f64 / 2147483648.0;
        if let Some(script) = &mut self.script {
            // Replay the prefix, then take the "match" branch (or the only possible one).
            let choice = if self.decisions.len() < script.len() {
                script[self.decisions.len()]
            } else {
                p > 0.0
            };
            if self.decisions.len() >= script.len() {
                script.push(choice);
            }
            self.decisions
                .push((choice, if choice { p } else { 1.0 - p }));
            return choice;
        }
        (self.next_u32() & 0x7fff_ffff) < threshold
    }
}

impl MatchState for SimState<'_> {
    fn random(&mut self, id: MatchId, threshold: u32) -> bool {
        let choice = self.choose(id, threshold);
        if let Some(trail) = &mut self.trail {
            trail.push((id, choice));
        }
        choice
    }

    fn nth(&mut self, id: MatchId, every: u32) -> u32 {
        let c = self.nth.entry(id).or_insert(every - 1);
        *c = if *c == every - 1 { 0 } else { *c + 1 };
        *c
    }

    fn limit(&mut self, id: MatchId, m: &LimitMatch) -> bool {
        // xt_limit's credits, in 1/10000 s: a full bucket to start, refilled with time.
        let cap = m.avg as u64 * m.burst as u64;
        let now = self.now_ms;
        let (credit, prev) = self.limit.entry(id).or_insert((cap, now));
        *credit = (*credit + (now - *prev) * 10).min(cap);
        *prev = now;
        if *credit >= m.avg as u64 {
            *credit -= m.avg as u64;
            true
        } else {
            false
        }
    }

    fn recent(&mut self, m: &RecentMatch, addr: Ipv4, ttl: u8) -> bool {
        let now = self.now_ms;
        let list = self.recent.entry(m.name.clone()).or_default();
        let addr = addr.masked(m.mask.0);
        let hit = match m.command {
            RecentCommand::Set => {
                let e = list.entry(addr).or_insert((vec![], ttl));
                e.0.push(now);
                e.1 = ttl;
                true
            }
            RecentCommand::Remove => list.remove(&addr).is_some(),
            RecentCommand::Rcheck | RecentCommand::Update => match list.get_mut(&addr) {
                None => false,
                Some(e) if m.rttl && e.1 != ttl => false,
                Some(e) => {
                    let hit = if m.seconds > 0 || m.hitcount > 0 {
                        let since = now.saturating_sub(m.seconds as u64 * 1000);
                        let n =
                            e.0.iter()
                                .filter(|&&t| m.seconds == 0 || t >= since)
                                .count() as u32;
                        n >= m.hitcount.max(1)
                    } else {
                        true
                    };
                    if m.command == RecentCommand::Update {
                        e.0.push(now);
                    }
                    hit
                }
            },
        };
        hit != m.invert
    }

    fn ipset(&mut self, set: &SetMatch, p: &Packet) -> Option<bool> {
        let s = self.sets.get(&set.name)?;
        let addr = |src: bool| if src { p.src } else { p.dst };
        let port = |src: bool| if src { p.sport } else { p.dport };
        let first = *set.dirs.first()?;
        Some(s.entries.iter().any(|(net, pp)| {
            net.contains(addr(first))
                && match (pp, set.dirs.get(1)) {
                    (Some((proto, port_v)), Some(&d)) => *proto == p.proto.0 && *port_v == port(d),
                    (None, _) => true,
                    (Some(_), None) => false,
                }
        }))
    }

    fn assume(&mut self, extension: &str) -> bool {
        self.assume.get(extension).copied().unwrap_or(false)
    }
}

/// Build packet `index` of the scenario, deriving replies from earlier results.
fn packet_of(
    loaded: &Loaded,
    index: usize,
    done: &[PacketPath],
    sent: &[(Packet, Origin)],
) -> Result<(Packet, Origin), ScenarioError> {
    let spec = &loaded.scenario.packets[index];
    let err = |message: String| ScenarioError::Packet { index, message };
    // A derived packet answers packet N: it starts from N as it left the
    // host (or as the host's socket got it, after NAT), and comes back from
    // where N went to.
    let answered = |n: usize, what: &str| -> Result<(Packet, Origin), ScenarioError> {
        let path = &done[n];
        let seen = path
            .packet_out
            .clone()
            .or_else(|| path.delivered.clone())
            .unwrap_or_else(|| sent[n].0.clone());
        let origin = match &path.fate {
            Fate::Forwarded { oif } | Fate::Sent { oif } => Origin::Interface(oif.clone()),
            Fate::DeliveredLocal => Origin::Local {
                uid: spec.uid,
                gid: spec.gid,
            },
            _ => {
                return Err(err(format!(
                    "packet {n} never left the host, so it has no {what}"
                )))
            }
        };
        Ok((seen, origin))
    };
    if let Some(n) = spec.icmp_error_for {
        // The error quotes packet N as its receiver got it, comes from that
        // receiver (unless `src` says otherwise) and goes to packet N's source.
        let (seen, origin) = answered(n, "ICMP error")?;
        let src = match &spec.src {
            Some(s) => {
                Ipv4::parse(s).map_err(|_| err(format!("src: `{s}' is not an IPv4 address")))?
            }
            None => seen.dst,
        };
        let p = Packet {
            src,
            dst: seen.src,
            proto: Proto::ICMP,
            sport: 0,
            dport: 0,
            tcp_flags: TcpFlags::NONE,
            icmp_type: spec.icmp_type.unwrap_or(3),
            icmp_code: spec.icmp_code.unwrap_or(3),
            mark: 0,
            // IP header, ICMP header, the quoted IP header and 8 bytes of it.
            length: spec.length.unwrap_or(56),
            ttl: spec.ttl.unwrap_or(64),
            tos: 0,
            fragment: false,
            inner: Some(crate::net::packet::Tuple::of(&seen)),
        };
        return Ok((p, origin));
    }
    if let Some(n) = spec.reply_to {
        let (seen, origin) = answered(n, "reply")?;
        let mut p = seen.clone();
        (p.src, p.dst, p.sport, p.dport) = (seen.dst, seen.src, seen.dport, seen.sport);
        // A new packet from the other end: its own TTL and TOS, and the
        // length the answered packet had as it was sent (not what a TCPMSS
        // option on the way added), unless the scenario gives one.
        (p.ttl, p.tos) = (spec.ttl.unwrap_or(64), spec.tos);
        p.length = spec.length.unwrap_or(sent[n].0.length);
        p.tcp_flags =
            if seen.tcp_flags.contains(TcpFlags::SYN) && !seen.tcp_flags.contains(TcpFlags::ACK) {
                TcpFlags::SYN | TcpFlags::ACK
            } else {
                TcpFlags::ACK
            };
        if p.proto == Proto::ICMP {
            p.icmp_type = match seen.icmp_type {
                8 => 0,
                13 => 14,
                t => t,
            };
        }
        p.mark = 0;
        return Ok((p, origin));
    }
    let p = spec.to_packet().map_err(err)?;
    let origin = if spec.from == FROM_LOCAL {
        Origin::Local {
            uid: spec.uid,
            gid: spec.gid,
        }
    } else {
        Origin::Interface(spec.from.clone())
    };
    Ok((p, origin))
}

/// Run every packet of the scenario in order.
pub fn run(loaded: &Loaded, state: &mut SimState) -> Result<Vec<PacketPath>, ScenarioError> {
    Ok(run_inner(loaded, state)?.0)
}

/// A packet of a scenario run: the packet as it entered, where it came from,
/// and its path.
#[derive(Clone, Debug)]
pub struct Traced {
    pub packet: Packet,
    pub origin: Origin,
    pub path: PacketPath,
}

/// [`run`], keeping each packet as it entered (derived packets included),
/// and the connection table as the last packet left it.
pub fn run_traced(
    loaded: &Loaded,
    state: &mut SimState,
) -> Result<(Vec<Traced>, ConnTable), ScenarioError> {
    let (paths, entered, conns) = run_inner(loaded, state)?;
    Ok((
        entered
            .into_iter()
            .zip(paths)
            .map(|((packet, origin), path)| Traced {
                packet,
                origin,
                path,
            })
            .collect(),
        conns,
    ))
}

/// Each packet's path, and each packet as it entered with its origin.
#[allow(clippy::type_complexity)]
fn run_inner(
    loaded: &Loaded,
    state: &mut SimState,
) -> Result<(Vec<PacketPath>, Vec<(Packet, Origin)>, ConnTable), ScenarioError> {
    let mut conns = ConnTable::for_ruleset(&loaded.ruleset);
    let mut done = Vec::new();
    let mut sent = Vec::new();
    for i in 0..loaded.scenario.packets.len() {
        let (p, origin) = packet_of(loaded, i, &done, &sent)?;
        state.now_ms = loaded.scenario.packets[i].time_ms;
        conns.now_ms = state.now_ms;
        let path = run_packet_indexed(
            &loaded.ruleset,
            Some(&loaded.index),
            true,
            &loaded.host,
            p.clone(),
            &origin,
            state,
            &mut conns,
            loaded.scenario.seed ^ i as u64,
            loaded.scenario.backend,
        );
        sent.push((p, origin));
        done.push(path);
        state.decided_by_packet.push(state.decisions.len());
    }
    Ok((done, sent, conns))
}

/// All-branches mode: every combination of random choices, with its probability.
pub fn run_all_branches(
    loaded: &Loaded,
    max_outcomes: usize,
) -> Result<Vec<(f64, Vec<PacketPath>)>, ScenarioError> {
    Ok(branches(loaded, max_outcomes)?
        .into_iter()
        .map(|b| (b.probability, b.paths))
        .collect())
}

/// One combination of the scenario's random choices and where it leads.
#[derive(Clone, Debug)]
pub struct Branch {
    pub probability: f64,
    /// The choices made, in order: `SimState::new(loaded, seed, Some(choices))`
    /// replays exactly this branch.
    pub choices: Vec<bool>,
    pub paths: Vec<PacketPath>,
}

/// [`run_all_branches`] with each branch's choices, to replay one of them.
pub fn branches(loaded: &Loaded, max_outcomes: usize) -> Result<Vec<Branch>, ScenarioError> {
    let mut outcomes = Vec::new();
    let mut pending: Vec<Vec<bool>> = vec![vec![]];
    while let Some(prefix) = pending.pop() {
        if outcomes.len() >= max_outcomes {
            break;
        }
        let mut state = SimState::new(loaded, loaded.scenario.seed, Some(prefix.clone()));
        let paths = run(loaded, &mut state)?;
        let probability: f64 = state.decisions.iter().map(|(_, p)| p).product();
        // Every choice made beyond the prefix has an alternative to explore.
        for i in prefix.len()..state.decisions.len() {
            let (choice, p) = state.decisions[i];
            if p < 1.0 {
                let mut alt: Vec<bool> = state.decisions[..i].iter().map(|(c, _)| *c).collect();
                alt.push(!choice);
                pending.push(alt);
            }
        }
        if probability > 0.0 {
            outcomes.push(Branch {
                probability,
                choices: state.decisions.iter().map(|(c, _)| *c).collect(),
                paths,
            });
        }
    }
    Ok(outcomes)
}

/// Batch mode's result: per-rule hit counters (as `iptables -L -v` counts
/// them), fates and where the packets went, for N copies of a packet.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Batch {
    pub packets: u64,
    pub fates: BTreeMap<String, u64>,
    /// "dst:dport" of the packets that left the host.
    pub endpoints: BTreeMap<String, u64>,
    /// (table, chain, 1-based rule) -> packets that matched it.
    pub counters: BTreeMap<(String, String, usize), u64>,
}

/// Send `n` copies of the scenario's first packet, each a new connection (the
/// source port steps up from the packet's own), through one seeded state.
/// Only the counts are kept, never the traces.
pub fn run_batch(loaded: &Loaded, n: u64) -> Result<Batch, ScenarioError> {
    let mut run = BatchRun::new(loaded)?;
    run.run(n);
    Ok(run.batch())
}

/// A batch run that goes on in slices ([`BatchRun::run`]), so a caller can
/// show progress and stop between them; the counts are the same as one
/// [`run_batch`] of the total.
pub struct BatchRun<'a> {
    loaded: &'a Loaded,
    base: Packet,
    origin: Origin,
    state: SimState<'a>,
    conns: ConnTable,
    sent: u64,
    // Counted by numbers while running; named in [`BatchRun::batch`].
    fates: HashMap<&'static str, u64>,
    endpoints: HashMap<(Ipv4, u16), u64>,
    counters: HashMap<(TableKind, usize, usize), u64>,
}

impl<'a> BatchRun<'a> {
    pub fn new(loaded: &'a Loaded) -> Result<BatchRun<'a>, ScenarioError> {
        if loaded.scenario.packets.is_empty() {
            return Err(ScenarioError::Packet {
                index: 0,
                message: "batch mode needs a packet".into(),
            });
        }
        let (base, origin) = packet_of(loaded, 0, &[], &[])?;
        Ok(BatchRun {
            loaded,
            base,
            origin,
            state: SimState::new(loaded, loaded.scenario.seed, None),
            conns: ConnTable::for_ruleset(&loaded.ruleset),
            sent: 0,
            fates: HashMap::new(),
            endpoints: HashMap::new(),
            counters: HashMap::new(),
        })
    }

    /// Packets sent so far.
    pub fn sent(&self) -> u64 {
        self.sent
    }

    /// Send `n` more packets.
    pub fn run(&mut self, n: u64) {
        let loaded = self.loaded;
        let base = &self.base;
        for _ in 0..n {
            let i = self.sent;
            let mut p = base.clone();
            if p.has_ports() {
                p.sport = 1024 + ((base.sport as u64 - 1024 + i) % (65536 - 1024)) as u16;
            }
            let path = run_packet_indexed(
                &loaded.ruleset,
                Some(&loaded.index),
                false,
                &loaded.host,
                p,
                &self.origin,
                &mut self.state,
                &mut self.conns,
                loaded.scenario.seed ^ i,
                loaded.scenario.backend,
            );
            self.sent += 1;
            let fate = match &path.fate {
                Fate::DeliveredLocal => "delivered-local",
                Fate::Forwarded { .. } => "forwarded",
                Fate::Sent { .. } => "sent",
                Fate::Dropped { .. } => "dropped",
                Fate::Rejected { .. } => "rejected",
                Fate::Queued { .. } => "queued",
                Fate::DroppedOutsideRules { .. } => "dropped-outside-rules",
            };
            *self.fates.entry(fate).or_default() += 1;
            if let Some(out) = &path.packet_out {
                *self.endpoints.entry((out.dst, out.dport)).or_default() += 1;
            }
            for step in &path.steps {
                let PathStep::Table { table, walk, .. } = step else {
                    continue;
                };
                for s in &walk.steps {
                    if let Step::Rule {
                        chain,
                        rule,
                        matched: true,
                        ..
                    } = s
                    {
                        *self.counters.entry((*table, *chain, *rule)).or_default() += 1;
                    }
                }
            }
        }
    }

    /// The counts so far.
    pub fn batch(&self) -> Batch {
        let loaded = self.loaded;
        Batch {
            packets: self.sent,
            fates: self
                .fates
                .iter()
                .map(|(k, v)| (k.to_string(), *v))
                .collect(),
            endpoints: self
                .endpoints
                .iter()
                .map(|((a, port), v)| (format!("{}:{port}", *a), *v))
                .collect(),
            counters: self
                .counters
                .iter()
                .map(|((table, chain, rule), v)| {
                    let t = loaded.ruleset.table(*table).expect("walked tables exist");
                    (
                        (
                            table.name().to_string(),
                            t.chains[*chain].name.clone(),
                            rule + 1,
                        ),
                        *v,
                    )
                })
                .collect(),
        }
    }
}
