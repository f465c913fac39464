//! A traced packet as the player shows it: a list of frames (one per thing
//! the packet meets: conntrack, each rule tried, returns, policies, NAT,
//! routing, the fate), each with the diagram box it happens at, a one-line
//! text for the Trace list, one plain sentence of narration, the packet's
//! fields at that moment, and each table box's verdict once its walk is over.
//! Long runs of rules that do not match (a 10,000-service KUBE-SERVICES) are
//! one frame. Built from the engine's trace (`scenario::path_json`); no
//! iptables logic of its own besides reading the rules' targets back.

use crate::diagram::table_node;
use nfsim::path::pipeline::Origin;
use nfsim::ruleset::model::{Rule, Ruleset, TableKind, Target};
use nfsim::ruleset::targets::TargetKind;
use nfsim::ruleset::value::Proto;
use nfsim::scenario::{self, Traced};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};

/// Runs of more non-matching rules than this in one chain become one frame.
pub const GROUP_MIN: usize = 6;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Frame {
    /// `start`, `conntrack`, `rule`, `rules` (a run of rules that do not
    /// match), `return`, `policy`, `nat`, `routing`, `reject`, `log`,
    /// `trace`, `fate`.
    pub kind: String,
    /// The diagram node it happens at.
    pub node: String,
    pub hook: Option<String>,
    pub table: Option<String>,
    pub chain: Option<String>,
    /// 1-based rule number (the first of a run).
    pub rule: Option<usize>,
    /// The last rule of a run.
    pub rule_end: Option<usize>,
    /// The rule's line in the editor.
    pub line: Option<usize>,
    pub matched: bool,
    /// How deep in jumps the walk is (0 in the built-in chain).
    pub depth: usize,
    /// `jump KUBE-SERVICES`, `no match`, `ACCEPT`, `policy DROP`, `NEW`, ...
    pub verdict: String,
    /// The line of the Trace list.
    pub text: String,
    /// The rule as written, or why it did not match.
    pub detail: Option<String>,
    pub narration: String,
    /// Index into [`PacketView::states`].
    pub state: usize,
    /// The node's verdict once this frame ends its walk there.
    pub box_verdict: Option<String>,
}

impl Frame {
    /// The glyph before the frame in lists: ✓ a rule matched, ✗ it did not
    /// (or a run did not), ⚑ a policy, ↩ a return, • anything else.
    pub fn mark(&self) -> &'static str {
        match (self.kind.as_str(), self.matched) {
            ("rule", true) => "✓",
            ("rule" | "rules", false) => "✗",
            ("policy", _) => "⚑",
            ("return", _) => "↩",
            _ => "•",
        }
    }
}

/// One field of the packet-state tree.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldRow {
    pub name: String,
    pub value: String,
    /// What it was when the packet arrived, when something changed it.
    pub before: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FateView {
    /// The engine's result: `delivered-local`, `forwarded`, `sent`,
    /// `dropped`, `rejected`, `queued`, `dropped-outside-rules`.
    pub result: String,
    /// The banner: "Forwarded out eth1", "Dropped by filter INPUT policy", ...
    pub banner: String,
    /// The engine's fate line (what the CLI prints).
    pub text: String,
}

/// How often the trace evaluated a rule (by line) and how often it matched.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hit {
    pub line: usize,
    pub evaluated: u32,
    pub matched: u32,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PacketView {
    /// `tcp 192.0.2.50:45678 -> 198.51.100.1:32719 SYN on eth0`.
    pub title: String,
    pub frames: Vec<Frame>,
    pub states: Vec<Vec<FieldRow>>,
    pub fate: FateView,
    pub hits: Vec<Hit>,
    /// Where it leaves as (`203.0.113.10:80`), when it leaves.
    pub leaves_as: Option<String>,
    /// How many rules the kernel evaluated for this packet.
    pub cost: Cost,
}

/// The cost of the walk: rules evaluated, in all and per hook (in the order
/// the packet met the hooks). iptables tries a chain's rules one by one, so a
/// chain of 10,000 services costs up to 10,000 evaluations per packet.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cost {
    pub rules: usize,
    pub per_hook: Vec<(String, usize)>,
}

impl Cost {
    pub fn of(path: &nfsim::path::pipeline::PacketPath) -> Cost {
        let mut cost = Cost::default();
        for step in &path.steps {
            let nfsim::path::pipeline::PathStep::Table { hook, walk, .. } = step else {
                continue;
            };
            let n: usize = walk
                .steps
                .iter()
                .map(|s| match s {
                    nfsim::path::walk::Step::Rule { .. } => 1,
                    nfsim::path::walk::Step::Skipped { from, to, .. } => to - from,
                    _ => 0,
                })
                .sum();
            cost.rules += n;
            match cost.per_hook.last_mut() {
                Some((h, k)) if h == hook.name() => *k += n,
                _ => cost.per_hook.push((hook.name().to_string(), n)),
            }
        }
        cost
    }

    /// `36 rules evaluated: PREROUTING 20 · FORWARD 4 · POSTROUTING 12`.
    pub fn text(&self) -> String {
        let hooks: Vec<String> = self
            .per_hook
            .iter()
            .map(|(h, n)| format!("{h} {n}"))
            .collect();
        let n = self.rules;
        format!(
            "{n} rule{} evaluated{}{}",
            if n == 1 { "" } else { "s" },
            if hooks.is_empty() { "" } else { ": " },
            hooks.join(" · ")
        )
    }
}

/// The packet's fields as the player follows them.
#[derive(Clone, Debug, PartialEq)]
struct Fields {
    iif: String,
    oif: String,
    src: String,
    dst: String,
    proto: String,
    sport: Option<u16>,
    dport: Option<u16>,
    flags: Option<String>,
    icmp: Option<String>,
    mark: u32,
    ct: String,
}

impl Fields {
    fn rows(&self, first: &Fields) -> Vec<FieldRow> {
        let mut rows = Vec::new();
        let mut row = |name: &str, now: String, then: String| {
            rows.push(FieldRow {
                name: name.into(),
                before: (now != then).then_some(then),
                value: now,
            })
        };
        row("Arrived on", self.iif.clone(), first.iif.clone());
        row("Source address", self.src.clone(), first.src.clone());
        row("Destination address", self.dst.clone(), first.dst.clone());
        row("Protocol", self.proto.clone(), first.proto.clone());
        let port = |p: Option<u16>| p.map(|p| p.to_string()).unwrap_or_default();
        if self.sport.is_some() {
            row("Source port", port(self.sport), port(first.sport));
            row("Destination port", port(self.dport), port(first.dport));
        }
        if let Some(f) = &self.flags {
            row(
                "TCP flags",
                f.clone(),
                first.flags.clone().unwrap_or_default(),
            );
        }
        if let Some(i) = &self.icmp {
            row("ICMP", i.clone(), first.icmp.clone().unwrap_or_default());
        }
        row(
            "Mark",
            format!("{:#x}", self.mark),
            format!("{:#x}", first.mark),
        );
        row("Conntrack", self.ct.clone(), first.ct.clone());
        row("Out interface", self.oif.clone(), first.oif.clone());
        rows
    }

    /// Apply a NAT step's `after` endpoints (`a:p -> b:q` or `a -> b`).
    fn apply_endpoints(&mut self, after: &str) {
        let Some((s, d)) = after.split_once(" -> ") else {
            return;
        };
        let split = |e: &str| match e.rsplit_once(':') {
            Some((a, p)) => (a.to_string(), p.parse().ok()),
            None => (e.to_string(), None),
        };
        let ((sa, sp), (da, dp)) = (split(s), split(d));
        self.src = sa;
        self.dst = da;
        if self.sport.is_some() {
            self.sport = sp.or(self.sport);
            self.dport = dp.or(self.dport);
        }
    }
}

fn s(v: &Value, key: &str) -> String {
    v[key].as_str().unwrap_or("").to_string()
}

fn opt(v: &Value, key: &str) -> Option<String> {
    v[key].as_str().map(str::to_string)
}

/// A rule spec's words, unquoted, as iptables-restore splits them.
fn split_words(spec: &str) -> Vec<String> {
    nfsim::text::lexer::restore_words(spec, 0)
        .0
        .into_iter()
        .map(|w| w.text.into_owned())
        .collect()
}

/// The rule's conditions as iptables-save writes them, without its comments
/// and target; None when it has none (it matches every packet).
fn conditions(rule: &Rule) -> Option<String> {
    let mut r = rule.clone();
    r.matches = rule
        .matches
        .iter()
        .filter(|m| m.kind.name() != "comment")
        .cloned()
        .collect();
    r.target = Target::None;
    let spec = nfsim::ruleset::render::rule_spec(&r);
    let spec = spec.trim_start();
    (!spec.is_empty()).then(|| spec.to_string())
}

/// The target as a short verdict: `DNAT --to-destination 10.0.0.5:80` →
/// `DNAT 10.0.0.5:80`.
fn target_short(target: &Target) -> Option<String> {
    let mut out = vec![target.name()?.to_string()];
    if let Target::Extension { target } = target {
        let mut options = String::new();
        target.save(&mut options);
        out.extend(
            split_words(&options)
                .into_iter()
                .filter(|w| !w.starts_with("--")),
        );
    }
    Some(out.join(" "))
}

struct Lookup<'a>(&'a Ruleset);

impl Lookup<'_> {
    fn rule(&self, table: &str, chain: &str, n: usize) -> Option<&Rule> {
        let t = self.0.table(TableKind::parse(table)?)?;
        t.chain(chain)?.rules.get(n.checked_sub(1)?)
    }
}

/// The packet as it entered, in the player's words.
fn first_fields(t: &Traced) -> Fields {
    let iif = match &t.origin {
        Origin::Interface(i) => i.clone(),
        Origin::Local { uid, .. } => format!("local process (uid {uid})"),
    };
    fields_of(&t.packet, iif)
}

/// A packet's fields as the player shows them, arriving from `iif`.
fn fields_of(p: &nfsim::net::packet::Packet, iif: String) -> Fields {
    let ports = p.has_ports();
    Fields {
        iif,
        oif: "-".into(),
        src: if p.src.is_unspecified() {
            "(chosen by routing)".into()
        } else {
            p.src.to_string()
        },
        dst: p.dst.to_string(),
        proto: p.proto.save(),
        sport: ports.then_some(p.sport),
        dport: ports.then_some(p.dport),
        flags: (p.proto == Proto::TCP).then(|| p.tcp_flags.names()),
        icmp: (p.proto == Proto::ICMP)
            .then(|| format!("type {} code {}", p.icmp_type, p.icmp_code)),
        mark: p.mark,
        ct: "-".into(),
    }
}

/// The one-line title of a traced packet.
pub fn title(t: &Traced) -> String {
    let f = first_fields(t);
    let end = |a: &str, p: Option<u16>| match p {
        Some(p) => format!("{a}:{p}"),
        None => a.to_string(),
    };
    let mut out = format!(
        "{} {} -> {}",
        f.proto,
        end(&f.src, f.sport),
        end(&f.dst, f.dport)
    );
    if let Some(fl) = &f.flags {
        out.push(' ');
        out.push_str(fl);
    }
    if let Some(i) = &f.icmp {
        out.push(' ');
        out.push_str(i);
    }
    match &t.origin {
        Origin::Interface(i) => out.push_str(&format!(" on {i}")),
        Origin::Local { .. } => out.push_str(" from a local process"),
    }
    out
}

fn thousands(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A "COND: REASON" explanation as a sentence's end: "COND, but REASON".
fn but(reason: &str) -> String {
    match reason.split_once(": ") {
        Some((cond, why)) => format!("{cond}, but {why}"),
        None => reason.to_string(),
    }
}

/// Add the packet's state unless it is the one already last.
fn push_state(states: &mut Vec<Vec<FieldRow>>, rows: Vec<FieldRow>) {
    if states.last() != Some(&rows) {
        states.push(rows);
    }
}

/// Build the player's view of one traced packet.
pub fn packet_view(ruleset: &Ruleset, t: &Traced) -> PacketView {
    // Runs the index skipped are shown as one frame once longer than
    // GROUP_MIN: explaining the first few of each is enough.
    let json = scenario::path_json_explaining(ruleset, &t.path, GROUP_MIN + 1);
    // What the host sent back by itself (REJECT's answer, an echo reply, a
    // RST) follows the packet's own fate: its steps come after an "answer"
    // marker, and its own fate closes the list.
    let answer = json.get("answer").filter(|a| a.is_object());
    let mut all: Vec<Value> = json["steps"].as_array().cloned().unwrap_or_default();
    if let Some(a) = answer {
        all.push(serde_json::json!({"kind": "answer"}));
        all.extend(a["steps"].as_array().cloned().unwrap_or_default());
    }
    let steps: &[Value] = &all;
    let lookup = Lookup(ruleset);
    let mut first = first_fields(t);
    let mut cur = first.clone();
    let mut states = vec![first.rows(&first)];
    let mut frames: Vec<Frame> = Vec::new();
    let mut hits: BTreeMap<usize, Hit> = BTreeMap::new();
    let start_node = match t.origin {
        Origin::Interface(_) => "in",
        Origin::Local { .. } => "local",
    };
    frames.push(Frame {
        kind: "start".into(),
        node: start_node.into(),
        verdict: "arrives".into(),
        text: format!("packet: {}", title(t)),
        narration: match &t.origin {
            Origin::Interface(i) => format!("A packet arrives on {i}: {}.", title(t)),
            Origin::Local { .. } => format!("A local process sends a packet: {}.", title(t)),
        },
        ..Frame::default()
    });
    // The call stack of the table walk in progress: (hook, table) and chains.
    let mut walk: Option<(String, String)> = None;
    let mut stack: Vec<String> = Vec::new();
    let mut last_node = start_node.to_string();
    let mut i = 0;
    while i < steps.len() {
        let st = &steps[i];
        let kind = s(st, "kind");
        if kind == "answer" {
            let a = answer.expect("the marker is there only with an answer");
            let (f, _) = fate_frame(&json, &last_node, &mut cur, &first, &mut states);
            frames.push(f);
            let built = &t
                .path
                .answer
                .as_ref()
                .expect("the JSON has an answer")
                .packet;
            first = fields_of(built, "the host itself".into());
            cur = first.clone();
            push_state(&mut states, cur.rows(&first));
            let what = scenario::packet_text(&a["packet"]);
            let why = match a["cause"].as_str().unwrap_or("") {
                "reject" => "REJECT's answer",
                "echo-reply" => "the stack's echo reply",
                "reset" => "the stack's RST (nothing listens on that port)",
                "port-unreachable" => "the stack's port unreachable (nothing listens on that port)",
                "time-exceeded" => "the stack's time exceeded (the TTL ran out)",
                "unreachable" => "the stack's destination unreachable (no way to forward it)",
                other => other,
            };
            frames.push(Frame {
                kind: "answer".into(),
                node: "local".into(),
                verdict: "the host answers".into(),
                text: format!("answer: {why}: {what}"),
                narration: format!(
                    "The host answers by itself with {why}: {what}. It is a locally generated packet: it goes out through OUTPUT and POSTROUTING, and the rules there see it too."
                ),
                state: states.len() - 1,
                ..Frame::default()
            });
            walk = None;
            stack.clear();
            last_node = "local".into();
            i += 1;
            continue;
        }
        let hook = opt(st, "hook");
        let table = opt(st, "table");
        let hk = hook.clone().unwrap_or_default();
        if let (Some(h), Some(tb)) = (&hook, &table) {
            if walk.as_ref() != Some(&(h.clone(), tb.clone())) {
                walk = Some((h.clone(), tb.clone()));
                stack = vec![s(st, "chain")];
            }
        } else if !matches!(kind.as_str(), "log" | "trace" | "reject") {
            walk = None;
        }
        let node = match (kind.as_str(), &table) {
            (_, Some(tb)) => table_node(&hk, tb),
            ("conntrack", _) => table_node(&hk, "conntrack"),
            ("nat", _) => table_node(&hk, "nat"),
            ("routing", _) if hk == "OUTPUT" => "routing-out".into(),
            ("routing", _) => "routing-in".into(),
            _ => last_node.clone(),
        };
        let chain = opt(st, "chain");
        let ch = chain.clone().unwrap_or_default();
        let tb = table.clone().unwrap_or_default();
        let depth = stack.len().saturating_sub(1);
        let mut f = Frame {
            kind: kind.clone(),
            node: node.clone(),
            hook: hook.clone(),
            table: table.clone(),
            chain: chain.clone(),
            depth,
            ..Frame::default()
        };
        match kind.as_str() {
            "rule" if st["matched"] != true => {
                // A run of rules that do not match, in one chain.
                // Rules written out one by one, and the rest of runs the
                // chain index skipped ("skipped" steps), in the same chain.
                let mut j = i;
                let mut count = 0;
                let mut last = 0;
                while j < steps.len()
                    && ((steps[j]["kind"] == "rule" && steps[j]["matched"] != true)
                        || steps[j]["kind"] == "skipped")
                    && steps[j]["chain"] == st["chain"]
                    && steps[j]["table"] == st["table"]
                    && steps[j]["hook"] == st["hook"]
                {
                    let mut hit = |line: usize| {
                        hits.entry(line)
                            .or_insert(Hit {
                                line,
                                evaluated: 0,
                                matched: 0,
                            })
                            .evaluated += 1;
                    };
                    if steps[j]["kind"] == "skipped" {
                        for l in steps[j]["lines"]
                            .as_array()
                            .map(Vec::as_slice)
                            .unwrap_or_default()
                        {
                            hit(l.as_u64().unwrap_or(0) as usize);
                            count += 1;
                        }
                        last = steps[j]["to"].as_u64().unwrap_or(0) as usize;
                    } else {
                        hit(steps[j]["line"].as_u64().unwrap_or(0) as usize);
                        count += 1;
                        last = steps[j]["rule"].as_u64().unwrap_or(0) as usize;
                    }
                    j += 1;
                }
                let n = st["rule"].as_u64().unwrap_or(0) as usize;
                f.rule = Some(n);
                f.line = st["line"].as_u64().map(|l| l as usize);
                let reason = s(st, "reason");
                if count > GROUP_MIN {
                    f.kind = "rules".into();
                    f.rule_end = Some(last);
                    f.verdict = "no match".into();
                    f.text = format!(
                        "{tb} {ch} rules {}–{}: no match ({} rules)",
                        thousands(n),
                        thousands(last),
                        thousands(count)
                    );
                    f.detail = Some(format!("rule {n}: {reason}"));
                    f.narration = format!(
                        "{tb} {ch}, rules {} to {} do not match this packet (the kernel still tries each one: {} rules, O(n)). The first: {}.",
                        thousands(n),
                        thousands(last),
                        thousands(count),
                        but(&reason)
                    );
                    f.state = states.len() - 1;
                    frames.push(f);
                    last_node = node;
                    i = j;
                    continue;
                }
                f.verdict = "no match".into();
                f.text = format!("{tb} {ch} rule {n}: no match");
                f.detail = Some(reason.clone());
                f.narration = format!("{tb} {ch}, rule {n} does not match: {}.", but(&reason));
            }
            "rule" => {
                let n = st["rule"].as_u64().unwrap_or(0) as usize;
                let line = st["line"].as_u64().unwrap_or(0) as usize;
                let h = hits.entry(line).or_insert(Hit {
                    line,
                    evaluated: 0,
                    matched: 0,
                });
                h.evaluated += 1;
                h.matched += 1;
                f.rule = Some(n);
                f.line = Some(line);
                f.matched = true;
                let verdict = s(st, "verdict");
                let target = opt(st, "target");
                let rule = lookup.rule(&tb, &ch, n);
                let short = rule
                    .and_then(|r| target_short(&r.target))
                    .or(target.clone())
                    .unwrap_or_default();
                let why = match rule.and_then(conditions) {
                    Some(c) => format!("it matches ({c})"),
                    None => "it matches every packet".into(),
                };
                f.detail = rule.map(|r| {
                    nfsim::ruleset::render::rule_spec(r)
                        .trim_start()
                        .to_string()
                });
                let t_name = target.clone().unwrap_or_default();
                let (v, action) = match verdict.as_str() {
                    "jump" => {
                        stack.push(t_name.clone());
                        (
                            format!("jump {t_name}"),
                            format!("sends the packet to {t_name}"),
                        )
                    }
                    "goto" => {
                        if let Some(top) = stack.last_mut() {
                            *top = t_name.clone();
                        }
                        (
                            format!("goto {t_name}"),
                            format!("goes to {t_name} (no return here)"),
                        )
                    }
                    "return" => {
                        stack.pop();
                        ("RETURN".into(), "returns to the calling chain".into())
                    }
                    "accept" => (
                        short.clone(),
                        match t_name.as_str() {
                            "ACCEPT" => "accepts it (the rest of this table is skipped)".into(),
                            _ => format!("applies {short} and ends this table's walk"),
                        },
                    ),
                    "drop" => (short.clone(), "drops it".into()),
                    "reject" => (short.clone(), "rejects it".into()),
                    "queue" => (short.clone(), "queues it to userspace".into()),
                    _ => {
                        // A non-terminating target: the walk goes on.
                        if let Some(Rule {
                            target:
                                Target::Extension {
                                    target: TargetKind::Mark { value, mask },
                                },
                            ..
                        }) = rule
                        {
                            cur.mark = (cur.mark & !mask) ^ value;
                        }
                        let what = if t_name.is_empty() {
                            "only counts it".to_string()
                        } else {
                            format!("applies {short}, and the walk goes on")
                        };
                        (
                            if t_name.is_empty() {
                                "count".into()
                            } else {
                                short.clone()
                            },
                            what,
                        )
                    }
                };
                f.verdict = v.clone();
                f.text = format!("{tb} {ch} rule {n}: {v}");
                f.narration = format!("{tb} {ch}, rule {n} {action}: {why}.");
            }
            "return" => {
                stack.pop();
                let back = stack.last().cloned().unwrap_or_default();
                f.verdict = "return".into();
                f.text = format!("{tb} {ch}: end of chain, return");
                f.narration = if back.is_empty() {
                    format!("{tb} {ch} ends without a decision: the walk returns.")
                } else {
                    format!("{tb} {ch} ends without a decision: back to {back}, after the rule that jumped.")
                };
            }
            "policy" => {
                let p = s(st, "verdict").to_uppercase();
                f.verdict = format!("policy {p}");
                f.text = format!("{tb} {ch}: policy {p}");
                f.narration = if ruleset
                    .table(TableKind::parse(&tb).unwrap_or(TableKind::Filter))
                    .and_then(|t| t.chain(&ch))
                    .is_some_and(|c| c.rules.is_empty())
                {
                    format!("{tb} {hk} has no rules: its policy {p} decides.")
                } else {
                    format!("No rule of {tb} {ch} decided: its policy {p} does.")
                };
            }
            "conntrack" => {
                let state = s(st, "state");
                cur.ct = state.clone();
                f.verdict = state.clone();
                f.text = format!("conntrack ({hk}): {state}");
                f.narration = match state.as_str() {
                    "NEW" => "Conntrack sees the first packet of a new connection: state NEW. NAT rules are consulted for it.".into(),
                    st if st.starts_with("ESTABLISHED") => format!("Conntrack finds the packet's connection: {st}. Its NAT bindings apply; the nat table is not consulted."),
                    st if st.starts_with("RELATED") => format!("Conntrack relates the packet to a known connection: {st}."),
                    st => format!("Conntrack: {st}."),
                };
            }
            "nat" => {
                let (before, after) = (s(st, "before"), s(st, "after"));
                cur.apply_endpoints(&after);
                let (b, a) = (before.split_once(" -> "), after.split_once(" -> "));
                let (what, changed) = match (b, a) {
                    (Some((bs, bd)), Some((as_, ad))) if bd != ad && bs == as_ => (
                        format!("changed the destination {bd} → {ad}"),
                        ad.to_string(),
                    ),
                    (Some((bs, bd)), Some((as_, ad))) if bs != as_ && bd == ad => {
                        (format!("changed the source {bs} → {as_}"), as_.to_string())
                    }
                    _ => (format!("changed {before} → {after}"), after.clone()),
                };
                f.detail = Some(changed);
                let who = if walk.is_some()
                    || frames
                        .last()
                        .is_some_and(|f| f.table.as_deref() == Some("nat"))
                {
                    let nat_rule = frames
                        .iter()
                        .rev()
                        .take_while(|f| f.node == node)
                        .find(|f| f.matched && f.kind == "rule");
                    nat_rule
                        .map(|f| f.verdict.split(' ').next().unwrap_or("NAT").to_string())
                        .unwrap_or_else(|| "The connection's NAT binding".into())
                } else {
                    "The connection's NAT binding".into()
                };
                f.verdict = format!("{before} → {after}");
                f.text = format!("nat ({hk}): {before} → {after}");
                f.narration = format!("{who} {what}.");
                walk = None;
            }
            "routing" => {
                let d = s(st, "decision");
                if let Some(dev) = d.rsplit_once("dev ").map(|(_, dev)| dev.to_string()) {
                    cur.oif = dev;
                }
                let changed = cur.dst != first.dst;
                f.verdict = d.clone();
                f.text = format!("routing ({hk}): {d}");
                f.narration = if changed && hk == "PREROUTING" {
                    format!(
                        "The routing decision looks at the new destination {}: {d}.",
                        cur.dst
                    )
                } else {
                    format!("Routing decision: {d}.")
                };
            }
            "reject" if st["reply"].is_null() => {
                let why = s(st, "why");
                f.verdict = "no reply".into();
                f.text = format!("reject: sends nothing ({why})");
                f.narration = format!("REJECT sends nothing back: {why}.");
            }
            "reject" => {
                let r = &st["reply"];
                let what = match r["protocol"].as_str() {
                    Some("icmp") => format!(
                        "an ICMP error (type {} code {})",
                        r["icmp_type"], r["icmp_code"]
                    ),
                    _ => format!("a TCP {}", r["tcp_flags"].as_str().unwrap_or("RST")),
                };
                f.verdict = "reply sent".into();
                f.text = format!(
                    "reject: sends {what} to {} via {}",
                    s(r, "dst"),
                    s(st, "oif")
                );
                f.narration = format!(
                    "REJECT answers the sender with {what}, out of {}.",
                    s(st, "oif")
                );
            }
            "log" | "trace" => {
                let line = s(st, "line");
                f.verdict = kind.to_uppercase();
                f.text = format!("{kind}: {line}");
                f.narration = format!("The kernel log gets a line: {line}");
            }
            _ => {
                f.text = kind.clone();
                f.narration = kind.clone();
            }
        }
        push_state(&mut states, cur.rows(&first));
        f.state = states.len() - 1;
        last_node = node;
        frames.push(f);
        i += 1;
    }
    let fate = fate_view(&json);
    let leaves_as = json["packet_out"].as_object().map(|p| {
        let dst = p["dst"].as_str().unwrap_or("");
        match p.get("dport") {
            Some(d) if !d.is_null() && p.get("icmp_type").is_none() && d != 0 => {
                format!("{dst}:{d}")
            }
            _ => dst.to_string(),
        }
    });
    let (mut last, answered) = fate_frame(
        answer.unwrap_or(&json),
        &last_node,
        &mut cur,
        &first,
        &mut states,
    );
    if answer.is_some() {
        last.kind = "answer-fate".into();
        last.text = format!("answer: {}", answered.text);
        last.narration = format!("The answer: {}.", lower_first(&answered.banner));
    }
    frames.push(last);
    set_box_verdicts(&mut frames);
    PacketView {
        title: title(t),
        frames,
        states,
        fate,
        hits: hits.into_values().collect(),
        leaves_as,
        cost: Cost::of(&t.path),
    }
}

/// At the last frame of each visit to a box, what the box decided: marks
/// and other changes, then the table's verdict (`MARK 0x4000 · DNAT
/// 203.0.113.10:80`), the conntrack state, the routing decision.
fn set_box_verdicts(frames: &mut [Frame]) {
    let mut i = 0;
    while i < frames.len() {
        let node = frames[i].node.clone();
        let mut j = i;
        while j + 1 < frames.len()
            && frames[j + 1].node == node
            && !matches!(
                frames[j + 1].kind.as_str(),
                "fate" | "answer" | "answer-fate"
            )
        {
            j += 1;
        }
        let run = &frames[i..=j];
        let verdict = match run[0].kind.as_str() {
            "start" | "fate" | "answer" | "answer-fate" => None,
            "conntrack" | "routing" => Some(run.last().unwrap().verdict.clone()),
            _ => {
                let mut parts: Vec<String> = run
                    .iter()
                    .filter(|f| {
                        f.kind == "rule"
                            && f.matched
                            && !f.verdict.starts_with("jump")
                            && !f.verdict.starts_with("goto")
                            && f.verdict != "RETURN"
                    })
                    .map(|f| f.verdict.clone())
                    .collect();
                if let Some(nat) = run.iter().find(|f| f.kind == "nat") {
                    let after = nat.detail.clone().unwrap_or_default();
                    if parts.is_empty() {
                        parts.push(format!("NAT binding → {after}"));
                    } else if let Some(last) = parts.last_mut() {
                        // MASQUERADE and friends: show what they chose.
                        if last.split(' ').count() == 1 {
                            *last = format!("{last} → {after}");
                        }
                    }
                }
                if let Some(p) = run.iter().find(|f| f.kind == "policy") {
                    parts.push(p.verdict.clone());
                }
                if parts.is_empty() {
                    parts.push("ACCEPT".into());
                }
                Some(parts.join(" · "))
            }
        };
        frames[j].box_verdict = verdict;
        i = j + 1;
    }
}

/// The fate banner of a path, without building its whole trace.
pub fn fate_banner(path: &nfsim::path::pipeline::PacketPath) -> String {
    use nfsim::path::pipeline::Fate;
    let by = |what: &str, table: &TableKind, chain: &str, rule: &Option<usize>| {
        let rule = rule
            .map(|r| format!("rule {r}"))
            .unwrap_or_else(|| "policy".into());
        format!("{what} by {} {chain} {rule}", table.name())
    };
    match &path.fate {
        Fate::DeliveredLocal => "Delivered to a local process".into(),
        Fate::Forwarded { oif } => format!("Forwarded out {oif}"),
        Fate::Sent { oif } => format!("Sent out {oif}"),
        Fate::Dropped { table, chain, rule } => by("Dropped", table, chain, rule),
        Fate::Rejected { table, chain, rule } => by("Rejected", table, chain, rule),
        Fate::Queued { table, chain, rule } => by("Queued to userspace", table, chain, rule),
        Fate::DroppedOutsideRules { detail } => {
            format!("Dropped by the stack, outside any rule: {detail}")
        }
    }
}

/// The closing frame of a path (`path_json`'s value: the packet's, or its
/// answer's): where it ends, its fate; the fields take the packet as it left.
fn fate_frame(
    v: &Value,
    last_node: &str,
    cur: &mut Fields,
    first: &Fields,
    states: &mut Vec<Vec<FieldRow>>,
) -> (Frame, FateView) {
    let fate = fate_view(v);
    let end = match fate.result.as_str() {
        "delivered-local" => "local".to_string(),
        "forwarded" | "sent" => "out".to_string(),
        _ => last_node.to_string(),
    };
    if let Some(p) = v["packet_out"].as_object() {
        if let (Some(s_), Some(d)) = (p["src"].as_str(), p["dst"].as_str()) {
            let after = match (p.get("sport"), p.get("dport")) {
                (Some(sp), Some(dp)) if cur.sport.is_some() => format!("{s_}:{sp} -> {d}:{dp}"),
                _ => format!("{s_} -> {d}"),
            };
            cur.apply_endpoints(&after);
            push_state(states, cur.rows(first));
        }
    }
    let frame = Frame {
        kind: "fate".into(),
        node: end,
        verdict: fate.result.clone(),
        text: format!("fate: {}", fate.text),
        narration: format!("{}.", fate.banner),
        state: states.len() - 1,
        ..Frame::default()
    };
    (frame, fate)
}

fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_lowercase().chain(c).collect())
        .unwrap_or_default()
}

/// Where a path's packet leaves as (`203.0.113.10:80`), or its fate.
pub fn destination(path: &nfsim::path::pipeline::PacketPath) -> String {
    match &path.packet_out {
        Some(p) if p.has_ports() && p.inner.is_none() => format!("{}:{}", p.dst, p.dport),
        Some(p) => p.dst.to_string(),
        None => fate_banner(path),
    }
}

/// The fate banner and the engine's fate line.
pub fn fate_view(json: &Value) -> FateView {
    let fate = &json["fate"];
    let result = s(fate, "result");
    let by = |what: &str| {
        let b = &fate["by"];
        let rule = b["rule"]
            .as_u64()
            .map(|r| format!("rule {r}"))
            .unwrap_or_else(|| "policy".into());
        format!("{what} by {} {} {rule}", s(b, "table"), s(b, "chain"))
    };
    let banner = match result.as_str() {
        "delivered-local" => "Delivered to a local process".to_string(),
        "forwarded" => format!("Forwarded out {}", s(fate, "oif")),
        "sent" => format!("Sent out {}", s(fate, "oif")),
        "dropped" => by("Dropped"),
        "rejected" => by("Rejected"),
        "queued" => by("Queued to userspace"),
        "dropped-outside-rules" => format!(
            "Dropped by the stack, outside any rule: {}",
            s(fate, "detail")
        ),
        other => other.to_string(),
    };
    FateView {
        result,
        banner,
        text: scenario::fate_text(json),
    }
}

/// The diagram boxes the packet has reached by frame `cursor`, each with
/// the verdict of the last walk that ended there (None while none has).
pub fn box_states(frames: &[Frame], cursor: usize) -> HashMap<String, Option<String>> {
    let mut m: HashMap<String, Option<String>> = HashMap::new();
    for f in frames.iter().take(cursor + 1) {
        let e = m.entry(f.node.clone()).or_insert(None);
        if f.box_verdict.is_some() {
            *e = f.box_verdict.clone();
        }
    }
    m
}

/// The frames of the current visit to one box (a table's whole chain walk
/// there): frames `a..b` around frame `at`.
pub fn box_visit(frames: &[Frame], at: usize) -> (usize, usize) {
    let Some(node) = frames.get(at).map(|f| &f.node) else {
        return (0, 0);
    };
    let mut a = at;
    while a > 0 && frames[a - 1].node == *node {
        a -= 1;
    }
    let mut b = at + 1;
    while b < frames.len() && frames[b].node == *node {
        b += 1;
    }
    (a, b)
}

/// How far Step forward / Step back go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Granularity {
    Rule,
    Chain,
    Hook,
}

impl Granularity {
    fn key(self, f: &Frame) -> String {
        match self {
            Granularity::Rule => String::new(),
            Granularity::Chain => format!("{}|{}", f.node, f.chain.as_deref().unwrap_or("")),
            // A hook's tables and conntrack are one stop; routing decisions and
            // the ends are stops of their own.
            Granularity::Hook => match (&f.hook, f.node.contains('/')) {
                (Some(h), true) => h.clone(),
                _ => f.node.clone(),
            },
        }
    }
}

/// The next frame at `g`'s granularity after `at` (or before it, `back`).
pub fn step_index(frames: &[Frame], at: usize, g: Granularity, back: bool) -> usize {
    if frames.is_empty() {
        return 0;
    }
    let at = at.min(frames.len() - 1);
    if g == Granularity::Rule {
        return if back {
            at.saturating_sub(1)
        } else {
            (at + 1).min(frames.len() - 1)
        };
    }
    let key = |i: usize| g.key(&frames[i]);
    if back {
        if at == 0 {
            return 0;
        }
        // To the start of the previous group.
        let mut i = at - 1;
        let k = key(i);
        while i > 0 && key(i - 1) == k {
            i -= 1;
        }
        i
    } else {
        let k = key(at);
        let mut i = at;
        while i + 1 < frames.len() && key(i) == k {
            i += 1;
        }
        i
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions_and_targets_read_back_from_the_rule() {
        let parsed = nfsim::parse(
            "*nat\n:PREROUTING ACCEPT [0:0]\n:KUBE-SVC-X - [0:0]\n\
             -A PREROUTING -p tcp -m comment --comment \"default/nginx-demo-1:\" -m tcp --dport 32719 -j KUBE-SVC-X\n\
             -A PREROUTING -j KUBE-SVC-X\n\
             -A PREROUTING -p tcp -m tcp -j DNAT --to-destination 203.0.113.10:80\n\
             -A PREROUTING -j MARK --set-xmark 0x4000/0x4000\nCOMMIT\n",
            None,
        );
        assert!(!parsed.has_errors(), "{:?}", parsed.diagnostics);
        let rules = &parsed.ruleset.tables[0].chain("PREROUTING").unwrap().rules;
        assert_eq!(
            conditions(&rules[0]).as_deref(),
            Some("-p tcp -m tcp --dport 32719")
        );
        assert_eq!(conditions(&rules[1]), None);
        assert_eq!(
            target_short(&rules[0].target).as_deref(),
            Some("KUBE-SVC-X")
        );
        assert_eq!(
            target_short(&rules[2].target).as_deref(),
            Some("DNAT 203.0.113.10:80")
        );
        assert_eq!(
            target_short(&rules[3].target).as_deref(),
            Some("MARK 0x4000/0x4000")
        );
        assert_eq!(
            but("-p tcp: the packet is udp"),
            "-p tcp, but the packet is udp"
        );
        assert_eq!(thousands(9998), "9,998");
        assert_eq!(thousands(100), "100");
    }

    fn frame(node: &str, hook: Option<&str>, chain: Option<&str>) -> Frame {
        Frame {
            node: node.into(),
            hook: hook.map(Into::into),
            chain: chain.map(Into::into),
            ..Frame::default()
        }
    }

    #[test]
    fn steps_go_by_rule_chain_or_hook() {
        let pre = Some("PREROUTING");
        let f = vec![
            frame("in", None, None),
            frame("PREROUTING/conntrack", pre, None),
            frame("PREROUTING/nat", pre, Some("PREROUTING")),
            frame("PREROUTING/nat", pre, Some("KUBE-SERVICES")),
            frame("PREROUTING/nat", pre, Some("KUBE-SERVICES")),
            frame("routing-in", pre, None),
            frame("out", None, None),
        ];
        use Granularity::*;
        assert_eq!(step_index(&f, 0, Rule, false), 1);
        assert_eq!(step_index(&f, 6, Rule, false), 6);
        assert_eq!(step_index(&f, 0, Rule, true), 0);
        assert_eq!(step_index(&f, 2, Chain, false), 3);
        assert_eq!(step_index(&f, 3, Chain, false), 5);
        assert_eq!(step_index(&f, 5, Chain, true), 3);
        assert_eq!(step_index(&f, 0, Hook, false), 1);
        assert_eq!(
            step_index(&f, 1, Hook, false),
            5,
            "routing is a stop of its own"
        );
        assert_eq!(step_index(&f, 5, Hook, true), 1);
        assert_eq!(step_index(&f, 6, Hook, true), 5);
        assert_eq!(step_index(&[], 3, Hook, true), 0);
    }

    #[test]
    fn boxes_are_visited_in_order_and_keep_their_last_verdict() {
        let mut f = vec![
            frame("in", None, None),
            frame("PREROUTING/nat", Some("PREROUTING"), Some("PREROUTING")),
            frame("PREROUTING/nat", Some("PREROUTING"), Some("KUBE-SERVICES")),
            frame("routing-in", Some("PREROUTING"), None),
        ];
        f[2].box_verdict = Some("DNAT 203.0.113.10:80".into());
        let at = |c| box_states(&f, c);
        assert_eq!(
            at(1).get("PREROUTING/nat"),
            Some(&None),
            "reached, walk not over"
        );
        assert_eq!(
            at(2)["PREROUTING/nat"].as_deref(),
            Some("DNAT 203.0.113.10:80")
        );
        assert!(!at(2).contains_key("routing-in"));
        assert_eq!(box_visit(&f, 1), (1, 3));
        assert_eq!(box_visit(&f, 3), (3, 4));
        assert_eq!(box_visit(&f, 9), (0, 0));
    }
}
