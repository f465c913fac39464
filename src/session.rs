//! What the engine worker holds and answers: the parsed ruleset (loaded once
//! per edit, with its chain indexes), and for each request the views the page
//! shows — summary, problems, the tree's chains (rules on demand), the idle
//! diagram boxes, and the traced packets with every branch of the ruleset's
//! random choices. The messages between page and worker are here too, as
//! serde types. Plain Rust: the worker is a thin shell over [`Session`], and
//! the tests run it natively.

use crate::diagram;
use crate::packet_form::{FieldError, PacketForm};
use crate::timeline::{self, PacketView};
use crate::view_model::{self, ProblemRow, RuleNode, TableNode};
use nfsim::net::host::{Host, HostSpec, Sysctl};
use nfsim::path::pipeline::{index_ruleset, Backend};
use nfsim::ruleset::model::{Ruleset, TableKind};
use nfsim::scenario::{self, Loaded, Scenario, SimState};
use serde::{Deserialize, Serialize};

/// Problems sent to the page at most (the count says how many there are).
pub const PROBLEMS_SENT: usize = 500;
/// Branches of random choices explored at most.
pub const MAX_BRANCHES: usize = 64;

/// A packet of the sequence: crafted in the form, or the reply to an earlier one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[allow(clippy::large_enum_variant)] // most packets are forms, in short lists: a Box would only add an allocation each
pub enum PacketInput {
    Form(PacketForm),
    /// The reply to packet N (0-based), as the engine derives it.
    ReplyTo(usize),
}

/// What to trace.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlayInput {
    /// `ip -4 addr` text.
    pub addrs: String,
    /// `ip -4 route` text.
    pub routes: String,
    pub packets: Vec<PacketInput>,
    /// The packet whose outcomes are listed.
    pub selected: usize,
    /// The branch of random choices to show (its choices), or the seeded run.
    pub branch: Option<Vec<bool>>,
    pub seed: u64,
    /// The host's sysctls (`ip_forward`, `route_localnet`, `rp_filter`).
    #[serde(default)]
    pub sysctl: Sysctl,
    /// `ipset save` text for `-m set` rules; empty for none.
    #[serde(default)]
    pub ipsets: String,
    /// Which iptables wrote the rules: the order of the tables at a hook.
    #[serde(default)]
    pub backend: Backend,
    /// What the host's sockets listen on (`tcp/22 udp/53`), `none`, or
    /// empty when not modelled (then only echo requests get the stack's answer).
    #[serde(default)]
    pub listening: String,
}

/// The listening sockets text: `tcp/22 udp/53` (commas allowed), `none`
/// (nothing listens), or empty (not modelled).
pub fn parse_listening(text: &str) -> Result<Option<Vec<(u8, u16)>>, String> {
    let words: Vec<&str> = text
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|w| !w.is_empty())
        .collect();
    match words.as_slice() {
        [] => return Ok(None),
        [w] if w.eq_ignore_ascii_case("none") => return Ok(Some(Vec::new())),
        _ => {}
    }
    words
        .iter()
        .map(|w| {
            let (proto, port) = w
                .split_once('/')
                .ok_or_else(|| format!("listening: `{w}' is not tcp/PORT or udp/PORT"))?;
            let proto = match proto.to_ascii_lowercase().as_str() {
                "tcp" => 6,
                "udp" => 17,
                _ => return Err(format!("listening: `{w}' is not tcp/PORT or udp/PORT")),
            };
            let port = port
                .parse::<u16>()
                .map_err(|_| format!("listening: `{w}': the port is a number from 0 to 65535"))?;
            Ok((proto, port))
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

impl Default for PlayInput {
    fn default() -> Self {
        PlayInput {
            addrs: DEFAULT_ADDRS.into(),
            routes: DEFAULT_ROUTES.into(),
            packets: vec![PacketInput::Form(PacketForm::default())],
            selected: 0,
            branch: None,
            seed: 1,
            sysctl: Sysctl::default(),
            ipsets: String::new(),
            backend: Backend::default(),
            listening: String::new(),
        }
    }
}

/// The node of the source material: its address on eth0, the pod network
/// behind eth1.
pub const DEFAULT_ADDRS: &str = "1: lo    inet 127.0.0.1/8 scope host lo\n2: eth0    inet 198.51.100.1/24 brd 198.51.100.255 scope global eth0\n3: eth1    inet 203.0.113.1/24 brd 203.0.113.255 scope global eth1\n";
pub const DEFAULT_ROUTES: &str = "default via 198.51.100.254 dev eth0\n203.0.113.0/24 dev eth1 proto kernel scope link src 203.0.113.1\n";

/// One combination of random choices and where the selected packet ends.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OutcomeView {
    pub probability: f64,
    /// `33.3%`.
    pub percent: String,
    pub choices: Vec<bool>,
    /// Where the selected packet leaves as, or its fate.
    pub to: String,
    /// The packets shown are this branch.
    pub shown: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlayView {
    pub packets: Vec<PacketView>,
    /// Empty when the ruleset makes no random choice for this sequence.
    pub outcomes: Vec<OutcomeView>,
    /// The host's interfaces, for the "Arrives on" choice.
    pub interfaces: Vec<String>,
    /// The connection table after the last packet, as `conntrack -L` lists it.
    pub conntrack: Vec<String>,
}

/// Why a sequence cannot be traced: the packet's fields, or the rest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraceProblems {
    /// (packet index, field problems).
    pub fields: Vec<(usize, Vec<FieldError>)>,
    pub messages: Vec<String>,
    pub interfaces: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ParseView {
    /// `3 tables, 33 chains, 36 rules`.
    pub summary: String,
    /// `0 errors, 0 warnings`.
    pub counts: String,
    pub problems: Vec<ProblemRow>,
    /// All problems (more than [`PROBLEMS_SENT`] are not sent).
    pub problem_total: usize,
    /// Tables and their chains, without rules (asked for per chain).
    pub tree: Vec<TableNode>,
    /// Diagram boxes whose table does nothing at that hook.
    pub dimmed: Vec<String>,
}

/// "Run N packets" so far: where the packets went and how often each rule
/// matched (as `iptables -L -v` counts packets).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BatchView {
    pub sent: u64,
    pub total: u64,
    /// (fate, packets), most packets first.
    pub fates: Vec<(String, u64)>,
    /// (`address:port` the packets left for, packets), most packets first.
    pub endpoints: Vec<(String, u64)>,
    /// (line of the rule, packets it matched), in line order.
    pub counters: Vec<(usize, u64)>,
    pub rules: usize,
    /// How many rules no packet matched, and the first lines of them.
    pub never_hit: usize,
    pub never_hit_lines: Vec<usize>,
}

/// Lines of never-hit rules sent to the page at most.
pub const NEVER_HIT_SENT: usize = 1000;

impl BatchView {
    pub fn of(loaded: &Loaded, b: &scenario::Batch, total: u64) -> BatchView {
        let by_count = |m: &std::collections::BTreeMap<String, u64>| {
            let mut v: Vec<(String, u64)> = m.iter().map(|(k, n)| (k.clone(), *n)).collect();
            v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            v
        };
        let mut hit: std::collections::HashMap<(&str, &str, usize), u64> =
            std::collections::HashMap::new();
        for ((t, c, r), n) in &b.counters {
            hit.insert((t.as_str(), c.as_str(), *r), *n);
        }
        let mut counters = Vec::new();
        let mut never_hit_lines = Vec::new();
        let (mut rules, mut never_hit) = (0, 0);
        for t in &loaded.ruleset.tables {
            for c in &t.chains {
                for (i, r) in c.rules.iter().enumerate() {
                    rules += 1;
                    match hit.get(&(t.kind.name(), c.name.as_str(), i + 1)) {
                        Some(n) => counters.push((r.line, *n)),
                        None => {
                            never_hit += 1;
                            if never_hit_lines.len() < NEVER_HIT_SENT {
                                never_hit_lines.push(r.line);
                            }
                        }
                    }
                }
            }
        }
        counters.sort();
        never_hit_lines.sort();
        BatchView {
            sent: b.packets,
            total,
            fates: by_count(&b.fates),
            endpoints: by_count(&b.endpoints),
            counters,
            rules,
            never_hit,
            never_hit_lines,
        }
    }
}

/// Page → worker. The ruleset text travels beside the message, as a JS string.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Request {
    /// Parse the text sent with it (if `parse`), then trace `trace` (if any).
    Work {
        id: u32,
        parse: bool,
        trace: Option<PlayInput>,
    },
    /// The rules of one chain, for the tree.
    Chain {
        id: u32,
        table: String,
        chain: String,
    },
    /// Run `n` copies of the selected packet, each a new connection.
    Batch { id: u32, input: PlayInput, n: u64 },
    /// Stop batch `id`.
    Cancel { id: u32 },
    /// The loaded ruleset as `save` (canonical iptables-save), `commands`
    /// (an `iptables` script) or `nft` (as iptables-restore-translate writes it).
    Export { id: u32, format: String },
}

/// Worker → page.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Response {
    Ready,
    /// A parse is answered as soon as it is done (`done` false when a trace
    /// follows), so the summary and problems show before the trace.
    Work {
        id: u32,
        parsed: Option<ParseView>,
        traced: Option<Result<PlayView, TraceProblems>>,
        /// Milliseconds the worker spent parsing and tracing.
        parse_ms: f64,
        /// None when no trace was asked for yet.
        trace_ms: Option<f64>,
        done: bool,
    },
    Chain {
        id: u32,
        table: String,
        chain: String,
        rules: Vec<RuleNode>,
    },
    Export {
        id: u32,
        format: String,
        text: String,
    },
    /// Progress of batch `id` (sent every slice), or why it cannot run.
    Batch {
        id: u32,
        result: Result<BatchView, TraceProblems>,
        done: bool,
    },
}

/// The worker's state: the last ruleset loaded.
pub struct Session {
    loaded: Loaded,
    has_errors: bool,
}

impl Default for Session {
    fn default() -> Self {
        Session::new()
    }
}

fn empty_loaded(ruleset: Ruleset) -> Loaded {
    Loaded {
        scenario: Scenario {
            version: 1,
            ruleset: String::new(),
            host: HostSpec::default(),
            ipsets: None,
            seed: 1,
            backend: Default::default(),
            packets: Vec::new(),
            assume: Default::default(),
            force: Vec::new(),
        },
        index: index_ruleset(&ruleset),
        ruleset,
        host: Host::new(vec![], vec![], Sysctl::default()),
        sets: Default::default(),
    }
}

impl Session {
    pub fn new() -> Session {
        Session {
            loaded: empty_loaded(Ruleset::default()),
            has_errors: false,
        }
    }

    pub fn ruleset(&self) -> &Ruleset {
        &self.loaded.ruleset
    }

    /// Parse and validate `text`, keep the ruleset, and describe it.
    pub fn parse(&mut self, text: &str) -> ParseView {
        let mut parsed = nfsim::parse(text, None);
        // Rules that can never match and chains never reached, once the
        // ruleset loads (with errors, missing rules would skew them).
        if !parsed.has_errors() {
            parsed
                .diagnostics
                .extend(nfsim::ruleset::lint::lint(&parsed.ruleset));
            parsed
                .diagnostics
                .sort_by_key(|d| (d.span.start, d.severity));
        }
        let mut problems = view_model::problems(text, &parsed);
        let problem_total = problems.len();
        problems.truncate(PROBLEMS_SENT);
        let view = ParseView {
            summary: view_model::ruleset_counts(&parsed.ruleset),
            counts: view_model::problem_counts(&parsed),
            problems,
            problem_total,
            tree: view_model::tree_outline(&parsed.ruleset),
            dimmed: diagram::dimmed(&parsed.ruleset),
        };
        self.has_errors = parsed.has_errors();
        self.loaded = empty_loaded(parsed.ruleset);
        view
    }

    /// The ruleset exported as `save`, `commands` or `nft`.
    pub fn export(&self, format: &str) -> String {
        let r = &self.loaded.ruleset;
        match format {
            "commands" => nfsim::ruleset::export::to_commands(r),
            "nft" => nfsim::ruleset::export::to_nft(r),
            _ => nfsim::ruleset::render::render_save(r),
        }
    }

    /// The rules of one chain, for the tree.
    pub fn chain_rules(&self, table: &str, chain: &str) -> Vec<RuleNode> {
        TableKind::parse(table)
            .and_then(|k| self.loaded.ruleset.table(k))
            .and_then(|t| t.chain(chain))
            .map(view_model::rule_nodes)
            .unwrap_or_default()
    }

    /// Load the host, sets and packets of `input` beside the ruleset; the
    /// host's interfaces (also when something is wrong).
    fn prepare(&mut self, input: &PlayInput) -> Result<Vec<String>, TraceProblems> {
        let sysctl = input.sysctl;
        let mut problems = TraceProblems {
            fields: Vec::new(),
            messages: Vec::new(),
            interfaces: Vec::new(),
        };
        let mut host = match Host::from_ip_text(&input.addrs, &input.routes, sysctl) {
            Ok(h) => h,
            Err(errors) => {
                problems.messages = errors
                    .into_iter()
                    .map(|e| format!("host, line {}: {}", e.line, e.message))
                    .collect();
                return Err(problems);
            }
        };
        let interfaces: Vec<String> = host.interfaces.iter().map(|i| i.name.clone()).collect();
        problems.interfaces = interfaces.clone();
        if self.has_errors {
            problems
                .messages
                .push("The ruleset has errors (see Problems): fix them to trace a packet.".into());
        }
        let mut specs = Vec::new();
        for (i, p) in input.packets.iter().enumerate() {
            match p {
                PacketInput::Form(f) => match f.to_spec(&interfaces) {
                    Ok(v) => specs.push(v),
                    Err(e) => problems.fields.push((i, e)),
                },
                PacketInput::ReplyTo(n) if *n < i => specs.push(serde_json::json!({"reply_to": n})),
                PacketInput::ReplyTo(n) => problems.messages.push(format!(
                    "packet {}: a reply must answer an earlier packet, not {}",
                    i + 1,
                    n + 1
                )),
            }
        }
        if !problems.fields.is_empty() || !problems.messages.is_empty() {
            return Err(problems);
        }
        let packets = match specs
            .into_iter()
            .map(serde_json::from_value)
            .collect::<Result<Vec<_>, _>>()
        {
            Ok(p) => p,
            Err(e) => {
                problems.messages.push(format!("packet: {e}"));
                return Err(problems);
            }
        };
        let sets = if input.ipsets.trim().is_empty() {
            Default::default()
        } else {
            match scenario::parse_ipsets(&input.ipsets) {
                Ok(s) => s,
                Err(e) => {
                    problems.messages.push(format!("ipsets: {e}"));
                    return Err(problems);
                }
            }
        };
        match parse_listening(&input.listening) {
            Ok(l) => host.listening = l,
            Err(e) => {
                problems.messages.push(e);
                return Err(problems);
            }
        }
        self.loaded.sets = sets;
        self.loaded.host = host;
        self.loaded.scenario.backend = input.backend;
        self.loaded.scenario.packets = packets;
        self.loaded.scenario.seed = input.seed;
        Ok(interfaces)
    }

    /// A scenario for "Run N packets": the loaded ruleset and host, with the
    /// selected packet (or, for a reply, the crafted packet it answers) as its
    /// only packet. Owned, so a batch runs on while the user edits.
    pub fn batch_loaded(&mut self, input: &PlayInput) -> Result<Loaded, TraceProblems> {
        let mut i = input.selected.min(input.packets.len().saturating_sub(1));
        while let Some(PacketInput::ReplyTo(n)) = input.packets.get(i) {
            if *n >= i {
                break;
            }
            i = *n;
        }
        let only = PlayInput {
            packets: input.packets.get(i).cloned().into_iter().collect(),
            selected: 0,
            ..input.clone()
        };
        self.prepare(&only)?;
        Ok(self.loaded.clone())
    }

    /// Trace the packets of `input` through the loaded ruleset.
    pub fn trace(&mut self, input: &PlayInput) -> Result<PlayView, TraceProblems> {
        let interfaces = self.prepare(input)?;
        let mut problems = TraceProblems {
            fields: Vec::new(),
            messages: Vec::new(),
            interfaces: interfaces.clone(),
        };
        let loaded = &self.loaded;
        let mut state = SimState::new(loaded, input.seed, input.branch.clone());
        let (traced, conns) = match scenario::run_traced(loaded, &mut state) {
            Ok(r) => r,
            Err(e) => {
                problems.messages.push(e.to_string());
                return Err(problems);
            }
        };
        let selected = input.selected.min(traced.len().saturating_sub(1));
        let mut outcomes = Vec::new();
        if let Ok(branches) = scenario::branches(loaded, MAX_BRANCHES) {
            if branches.len() > 1 {
                for b in branches {
                    let to = b.paths.get(selected).map(timeline::destination);
                    let shown = b.paths.len() == traced.len()
                        && b.paths.iter().zip(&traced).all(|(a, t)| *a == t.path);
                    outcomes.push(OutcomeView {
                        percent: format!("{:.1}%", b.probability * 100.0),
                        probability: b.probability,
                        shown,
                        choices: b.choices,
                        to: to.unwrap_or_default(),
                    });
                }
                outcomes.sort_by(|a, b| a.to.cmp(&b.to));
            }
        }
        Ok(PlayView {
            packets: traced
                .iter()
                .map(|t| timeline::packet_view(&loaded.ruleset, t))
                .collect(),
            outcomes,
            interfaces,
            conntrack: conns.connections.iter().map(|c| c.list_line()).collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session() -> Session {
        let mut s = Session::new();
        let v = s.parse(view_model::EXAMPLE);
        assert_eq!(
            (v.summary.as_str(), v.counts.as_str()),
            ("3 tables, 33 chains, 36 rules", "0 errors, 0 warnings")
        );
        s
    }

    #[test]
    fn the_default_scenario_is_the_nodeport_walk() {
        let mut s = session();
        let v = s.trace(&PlayInput::default()).unwrap();
        let p = &v.packets[0];
        assert_eq!(p.fate.result, "forwarded");
        assert_eq!(p.fate.banner, "Forwarded out eth1");
        let nat: Vec<&str> = p
            .frames
            .iter()
            .filter(|f| f.matched && f.hook.as_deref() == Some("PREROUTING"))
            .map(|f| f.chain.as_deref().unwrap())
            .collect();
        assert_eq!(
            &nat[..5],
            [
                "PREROUTING",
                "KUBE-SERVICES",
                "KUBE-NODEPORTS",
                "KUBE-MARK-MASQ",
                "KUBE-NODEPORTS"
            ]
        );
        // The nat box shows the DNAT it made, the token's packet shows the change.
        let nat_box = p
            .frames
            .iter()
            .find(|f| f.node == "PREROUTING/nat" && f.box_verdict.is_some())
            .unwrap();
        let verdict = nat_box.box_verdict.as_deref().unwrap();
        assert!(
            verdict.starts_with("MARK 0x4000/0x4000 · DNAT 203.0.113.1"),
            "{verdict}"
        );
        let after = &p.states[nat_box.state];
        let dst = after
            .iter()
            .find(|r| r.name == "Destination address")
            .unwrap();
        assert_eq!(dst.before.as_deref(), Some("198.51.100.1"));
        assert!(dst.value.starts_with("203.0.113.1"));
        let mark = after.iter().find(|r| r.name == "Mark").unwrap();
        assert_eq!(
            (mark.value.as_str(), mark.before.as_deref()),
            ("0x4000", Some("0x0"))
        );
        // Narration in plain words.
        let first = p.frames.iter().find(|f| f.kind == "rule").unwrap();
        assert_eq!(
            first.narration,
            "nat PREROUTING, rule 1 sends the packet to KUBE-SERVICES: it matches every packet."
        );
        let miss = p
            .frames
            .iter()
            .find(|f| f.kind == "rule" && !f.matched)
            .unwrap();
        assert_eq!(miss.narration, "nat KUBE-SERVICES, rule 1 does not match: -d 192.0.2.100/32, but the destination is 198.51.100.1.");
        let dnat = p.frames.iter().find(|f| f.kind == "nat").unwrap();
        assert!(
            dnat.narration
                .starts_with("DNAT changed the destination 198.51.100.1:32719 → 203.0.113.1"),
            "{}",
            dnat.narration
        );
        // Three endpoints at a third each, the shown one marked.
        let to: Vec<&str> = v.outcomes.iter().map(|o| o.to.as_str()).collect();
        assert_eq!(
            to,
            ["203.0.113.10:80", "203.0.113.11:80", "203.0.113.12:80"]
        );
        assert!(v.outcomes.iter().all(|o| o.percent == "33.3%"));
        assert_eq!(v.outcomes.iter().filter(|o| o.shown).count(), 1);
        // Every rule the trace evaluated has a hit count for the gutter.
        assert!(p.hits.iter().any(|h| h.line == 54 && h.matched == 1));
        assert_eq!(p.frames.last().unwrap().node, "out");
        assert_eq!(p.frames[0].node, "in");
    }

    #[test]
    fn a_chosen_branch_is_replayed() {
        let mut s = session();
        let v = s.trace(&PlayInput::default()).unwrap();
        for o in &v.outcomes {
            let input = PlayInput {
                branch: Some(o.choices.clone()),
                ..PlayInput::default()
            };
            let w = s.trace(&input).unwrap();
            assert_eq!(w.packets[0].leaves_as.as_deref(), Some(o.to.as_str()));
            assert!(w.outcomes.iter().find(|x| x.to == o.to).unwrap().shown);
        }
    }

    #[test]
    fn the_reply_is_un_natted() {
        let mut s = session();
        let input = PlayInput {
            packets: vec![
                PacketInput::Form(PacketForm::default()),
                PacketInput::ReplyTo(0),
            ],
            ..PlayInput::default()
        };
        let v = s.trace(&input).unwrap();
        let reply = &v.packets[1];
        assert!(reply.title.contains("SYN,ACK"), "{}", reply.title);
        assert!(reply
            .frames
            .iter()
            .any(|f| f.kind == "conntrack" && f.verdict.starts_with("ESTABLISHED")));
        let unnat = reply
            .frames
            .iter()
            .find(|f| f.kind == "nat")
            .expect("un-NAT");
        assert!(
            unnat.narration.contains("NAT binding"),
            "{}",
            unnat.narration
        );
        assert_eq!(reply.fate.result, "forwarded");
        assert_eq!(reply.leaves_as.as_deref(), Some("192.0.2.50:45678"));
        // conntrack -L after the SYN and its SYN,ACK.
        assert_eq!(v.conntrack.len(), 1);
        assert!(v.conntrack[0].starts_with("tcp      6 60 SYN_RECV src=192.0.2.50 dst=198.51.100.1 sport=45678 dport=32719 src=203.0.113."), "{}", v.conntrack[0]);
        // The cost of the walk: the SYN is tried against every rule on its way.
        let cost = &v.packets[0].cost;
        assert_eq!(
            cost.rules,
            cost.per_hook.iter().map(|(_, n)| n).sum::<usize>()
        );
        assert_eq!(
            cost.per_hook
                .iter()
                .map(|(h, _)| h.as_str())
                .collect::<Vec<_>>(),
            ["PREROUTING", "FORWARD", "POSTROUTING"]
        );
        assert!(v.packets[0]
            .cost
            .text()
            .starts_with(&format!("{} rules evaluated: PREROUTING ", cost.rules)));
    }

    #[test]
    fn problems_come_back_per_field() {
        let mut s = session();
        let bad = PacketForm {
            dst: "198.51.100".into(),
            ..PacketForm::default()
        };
        let input = PlayInput {
            packets: vec![PacketInput::Form(bad)],
            ..PlayInput::default()
        };
        let e = s.trace(&input).unwrap_err();
        assert_eq!(e.fields[0].0, 0);
        assert_eq!(
            e.fields[0].1[0].message,
            "`198.51.100' is not an IPv4 address (like 192.0.2.50)"
        );
        let input = PlayInput {
            addrs: "2: eth0    inet 198.51.100.400/24".into(),
            ..PlayInput::default()
        };
        assert!(s.trace(&input).unwrap_err().messages[0].starts_with("host, line 1"));
        s.parse("*filter\n-A INPUT -j NOPE\nCOMMIT\n");
        assert!(s.trace(&PlayInput::default()).unwrap_err().messages[0].contains("errors"));
    }

    #[test]
    fn an_edit_that_drops_changes_the_fate() {
        let mut s = Session::new();
        let first = "-A FORWARD -m conntrack --ctstate NEW -m comment --comment \"kubernetes load balancer firewall\"";
        let text =
            view_model::EXAMPLE.replace(first, &format!("-A FORWARD -p tcp -j DROP\n{first}"));
        assert_ne!(text, view_model::EXAMPLE);
        s.parse(&text);
        let v = s.trace(&PlayInput::default()).unwrap();
        let p = &v.packets[0];
        assert_eq!(p.fate.result, "dropped");
        assert_eq!(p.fate.banner, "Dropped by filter FORWARD rule 1");
        let fwd = p
            .frames
            .iter()
            .find(|f| f.node == "FORWARD/filter" && f.box_verdict.is_some())
            .unwrap();
        assert_eq!(fwd.box_verdict.as_deref(), Some("DROP"));
        assert_eq!(p.frames.last().unwrap().node, "FORWARD/filter");
    }

    #[test]
    fn a_batch_spreads_over_the_endpoints_and_counts_rules() {
        let mut s = session();
        let input = PlayInput {
            packets: vec![
                PacketInput::Form(PacketForm::default()),
                PacketInput::ReplyTo(0),
            ],
            selected: 1,
            ..PlayInput::default()
        };
        // A reply selected: the batch sends the packet it answers.
        let loaded = s.batch_loaded(&input).unwrap();
        let mut run = scenario::BatchRun::new(&loaded).unwrap();
        run.run(1000);
        let v = BatchView::of(&loaded, &run.batch(), 1000);
        assert_eq!(v.fates, [("forwarded".to_string(), 1000)]);
        assert_eq!(v.endpoints.iter().map(|e| e.1).sum::<u64>(), 1000);
        assert_eq!(v.endpoints.len(), 3);
        for (to, n) in &v.endpoints {
            assert!(
                to.starts_with("203.0.113.1") && (283..=383).contains(n),
                "{to}: {n}"
            );
        }
        // The NodePort rule of KUBE-NODEPORTS matched all of them.
        assert!(v.counters.iter().any(|&(_, n)| n == 1000));
        assert_eq!(v.rules, 36);
        assert_eq!(v.never_hit + v.counters.len(), 36);
        assert_eq!(v.never_hit_lines.len(), v.never_hit);
    }

    #[test]
    fn shadowed_rules_and_unreachable_chains_are_problems() {
        let mut s = Session::new();
        let v = s.parse("*filter\n:INPUT ACCEPT [0:0]\n:LONELY - [0:0]\n-A INPUT -p tcp -j ACCEPT\n-A INPUT -p tcp --dport 22 -j DROP\n-A LONELY -j DROP\nCOMMIT\n");
        assert_eq!(v.counts, "0 errors, 2 warnings");
        let codes: Vec<(&str, usize)> = v
            .problems
            .iter()
            .map(|p| (p.code.as_str(), p.line))
            .collect();
        assert_eq!(codes, [("W0407", 3), ("W0406", 5)]);
        assert!(
            v.problems[1]
                .message
                .starts_with("rule 2 of INPUT can never match: rule 1 (line 4)"),
            "{}",
            v.problems[1].message
        );
    }

    #[test]
    fn the_ruleset_exports_three_ways() {
        let s = session();
        let save = s.export("save");
        assert!(
            save.contains("*nat\n") && save.contains("-A KUBE-NODEPORTS"),
            "{save}"
        );
        let commands = s.export("commands");
        assert!(
            commands.contains("iptables -t nat -A KUBE-NODEPORTS "),
            "{commands}"
        );
        // The script reads back to the same ruleset.
        let mut back = Session::new();
        back.parse(&commands);
        assert_eq!(
            back.export("save")
                .replace(|c: char| c.is_ascii_digit(), ""),
            save.replace(|c: char| c.is_ascii_digit(), "")
        );
        let nft = s.export("nft");
        assert!(
            nft.contains("add table ip nat") && nft.contains("add rule ip nat KUBE-NODEPORTS"),
            "{nft}"
        );
    }

    #[test]
    fn sysctls_and_ipsets_are_the_hosts() {
        let mut s = session();
        let input = PlayInput {
            sysctl: Sysctl {
                ip_forward: false,
                ..Sysctl::default()
            },
            ..PlayInput::default()
        };
        let v = s.trace(&input).unwrap();
        assert_eq!(
            v.packets[0].fate.banner,
            "Dropped by the stack, outside any rule: ip_forward off"
        );
        s.parse("*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -m set --match-set blocked src -j DROP\nCOMMIT\n");
        let input = PlayInput {
            packets: vec![PacketInput::Form(PacketForm {
                dport: "22".into(),
                ..PacketForm::default()
            })],
            ipsets: "create blocked hash:net family inet\nadd blocked 192.0.2.0/24\n".into(),
            ..PlayInput::default()
        };
        assert_eq!(s.trace(&input).unwrap().packets[0].fate.result, "dropped");
        let input = PlayInput {
            ipsets: String::new(),
            ..input
        };
        assert_eq!(
            s.trace(&input).unwrap().packets[0].fate.result,
            "delivered-local"
        );
    }

    #[test]
    fn long_runs_of_misses_are_one_frame() {
        let mut text = String::from("*filter\n:INPUT ACCEPT [0:0]\n");
        for i in 0..50 {
            text.push_str(&format!("-A INPUT -p tcp --dport {} -j DROP\n", 1000 + i));
        }
        text.push_str("-A INPUT -p tcp --dport 32719 -j REJECT --reject-with tcp-reset\nCOMMIT\n");
        let mut s = Session::new();
        s.parse(&text);
        let input = PlayInput {
            routes: "198.51.100.0/24 dev eth0\n".into(),
            ..PlayInput::default()
        };
        let v = s.trace(&input).unwrap();
        let p = &v.packets[0];
        let run = p.frames.iter().find(|f| f.kind == "rules").unwrap();
        assert_eq!((run.rule, run.rule_end), (Some(1), Some(50)));
        assert_eq!(run.text, "filter INPUT rules 1–50: no match (50 rules)");
        assert_eq!(p.hits.len(), 51);
        assert_eq!(p.fate.result, "rejected");
        assert!(p.frames.iter().any(|f| f.kind == "reject"));
        assert_eq!(p.fate.banner, "Rejected by filter INPUT rule 51");
        // Rules the index skipped still count: the kernel tries each one.
        assert_eq!(p.cost.text(), "51 rules evaluated: INPUT 51");
    }

    #[test]
    fn the_answer_the_host_sends_is_played_after_the_packet() {
        let text = "*filter\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n\
            -A INPUT -p tcp --dport 32719 -j REJECT --reject-with tcp-reset\n\
            -A OUTPUT -p tcp --tcp-flags RST RST -j DROP\nCOMMIT\n";
        let mut s = Session::new();
        s.parse(text);
        let input = PlayInput {
            routes: "198.51.100.0/24 dev eth0\ndefault via 198.51.100.254 dev eth0\n".into(),
            ..PlayInput::default()
        };
        let v = s.trace(&input).unwrap();
        let p = &v.packets[0];
        let kinds: Vec<&str> = p.frames.iter().map(|f| f.kind.as_str()).collect();
        let at = kinds.iter().position(|k| *k == "answer").unwrap();
        // The packet's own fate, then the host's RST through OUTPUT, dropped there.
        assert_eq!(kinds[at - 1], "fate");
        assert_eq!(
            p.frames[at - 1].narration,
            "Rejected by filter INPUT rule 1."
        );
        assert!(p.frames[at]
            .text
            .starts_with("answer: REJECT's answer: TCP RST,ACK"));
        let drop = &p.frames[p.frames.len() - 2];
        assert_eq!(
            (drop.node.as_str(), drop.verdict.as_str()),
            ("OUTPUT/filter", "DROP")
        );
        let last = p.frames.last().unwrap();
        assert_eq!(last.kind, "answer-fate");
        assert_eq!(
            last.narration,
            "The answer: dropped by filter OUTPUT rule 1."
        );
        // The page's fate is the packet's.
        assert_eq!(p.fate.result, "rejected");
    }

    #[test]
    fn the_backend_orders_input_and_listening_sockets_answer() {
        let text =
            "*nat\n:INPUT ACCEPT [0:0]\n-A INPUT -m conntrack --ctstate NEW -j ACCEPT\nCOMMIT\n\
            *security\n:INPUT ACCEPT [0:0]\n-A INPUT -j ACCEPT\nCOMMIT\n";
        let mut s = Session::new();
        s.parse(text);
        let order = |s: &mut Session, input: &PlayInput| -> Vec<String> {
            let v = s.trace(input).unwrap();
            v.packets[0]
                .frames
                .iter()
                .filter(|f| f.hook.as_deref() == Some("INPUT") && f.kind == "rule")
                .map(|f| f.table.clone().unwrap_or_default())
                .collect()
        };
        let mut input = PlayInput {
            routes: "198.51.100.0/24 dev eth0\ndefault via 198.51.100.254 dev eth0\n".into(),
            packets: vec![PacketInput::Form(PacketForm {
                dst: "198.51.100.1".into(),
                ..PacketForm::default()
            })],
            ..PlayInput::default()
        };
        // iptables-nft: security (150) after nat INPUT (100); legacy: before it (50).
        assert_eq!(order(&mut s, &input), ["nat", "security"]);
        input.backend = Backend::Legacy;
        assert_eq!(order(&mut s, &input), ["security", "nat"]);
        // Nothing listens: the host answers the SYN with a RST; not modelled: no answer.
        let answer = |s: &mut Session, input: &PlayInput| {
            let v = s.trace(input).unwrap();
            v.packets[0]
                .frames
                .iter()
                .find(|f| f.kind == "answer")
                .map(|f| f.text.clone())
        };
        assert_eq!(answer(&mut s, &input), None);
        input.listening = "none".into();
        assert!(answer(&mut s, &input)
            .unwrap()
            .starts_with("answer: the stack's RST"));
        input.listening = format!("tcp/{}", PacketForm::default().dport);
        assert_eq!(answer(&mut s, &input), None);
        input.listening = "tcp/x".into();
        assert_eq!(
            s.trace(&input).unwrap_err().messages,
            ["listening: `tcp/x': the port is a number from 0 to 65535"]
        );
    }
}
