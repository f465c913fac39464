//! A scenario run's output: each packet's path as the CLI's JSON (steps,
//! fate, packet_out, the host's answer; rules a chain index skipped
//! explained again or folded into one step), batch results as JSON, and the
//! readable text the CLI and the playground show, written from that JSON so
//! both say the same thing. Reading the JSON back never panics: a missing
//! field reads as empty.
//!
//! Not here: reading and running scenarios (the parent module) and the
//! share link's codec ([`super::link`]).

use super::{Batch, Loaded};
use crate::net::packet::Packet;
use crate::path::pipeline::{Fate, PacketPath, PathStep};
use crate::path::walk::{Step, StepVerdict};
use crate::ruleset::model::{Ruleset, TableKind, Target};
use crate::ruleset::value::Proto;
use serde_json::{json, Value};

/// Batch results as the CLI's JSON.
pub fn batch_json(loaded: &Loaded, b: &Batch) -> Value {
    let counters: Vec<Value> = b
        .counters
        .iter()
        .map(|((table, chain, rule), n)| {
            let line = TableKind::parse(table)
                .and_then(|k| loaded.ruleset.table(k))
                .and_then(|t| t.chain(chain))
                .map(|c| c.rules[rule - 1].line);
            json!({"table": table, "chain": chain, "rule": rule, "line": line, "packets": n})
        })
        .collect();
    json!({"batch": {"packets": b.packets, "fates": b.fates, "endpoints": b.endpoints, "counters": counters}})
}

fn verdict_name(v: StepVerdict) -> &'static str {
    match v {
        StepVerdict::Accept => "accept",
        StepVerdict::Drop => "drop",
        StepVerdict::Reject => "reject",
        StepVerdict::Queue => "queue",
        StepVerdict::Continue => "continue",
        StepVerdict::Jump => "jump",
        StepVerdict::Goto => "goto",
        StepVerdict::Return => "return",
    }
}

/// A packet's addresses and ports (type and code for ICMP) as the JSON shows them.
fn packet_json(p: &Packet) -> Value {
    let mut v = json!({"src": p.src.to_string(), "dst": p.dst.to_string(), "protocol": p.proto.save(), "sport": p.sport, "dport": p.dport});
    if p.proto == Proto::ICMP {
        v["icmp_type"] = json!(p.icmp_type);
        v["icmp_code"] = json!(p.icmp_code);
    }
    if p.proto == Proto::TCP {
        v["tcp_flags"] = json!(p.tcp_flags.names());
    }
    if let Some(i) = &p.inner {
        v["inner"] = json!({"src": i.src.to_string(), "dst": i.dst.to_string(), "protocol": i.proto.save(), "sport": i.sport, "dport": i.dport});
    }
    v
}

/// One packet's trace as the CLI's JSON: steps, fate, packet_out.
pub fn path_json(ruleset: &Ruleset, path: &PacketPath) -> Value {
    path_json_explaining(ruleset, path, usize::MAX)
}

/// [`path_json`], explaining at most the first `explain` rules of each run
/// the chain index skipped; the rest of such a run is one step
/// `{"kind": "skipped", "hook", "table", "chain", "from", "to", "lines"}`
/// (1-based rules `from..=to` and their lines): a 10,000-rule KUBE-SERVICES
/// need not be written out rule by rule to be shown as one run.
pub fn path_json_explaining(ruleset: &Ruleset, path: &PacketPath, explain: usize) -> Value {
    let mut steps = Vec::new();
    let mut no_host: Option<crate::net::host::Host> = None;
    for s in &path.steps {
        match s {
            PathStep::Table { hook, table, walk } => {
                let t = ruleset.table(*table).expect("walked tables exist");
                for st in &walk.steps {
                    if let Step::Skipped { chain, from, to, packet } = st {
                        // Rules the index passed over: explain each one. Their failing
                        // condition is an exact address or port: no host is needed.
                        let host = no_host.get_or_insert_with(|| {
                            crate::net::host::Host::new(vec![], vec![], crate::net::host::Sysctl::default())
                        });
                        let c = &t.chains[*chain];
                        for i in *from..*to {
                            let r = &c.rules[i];
                            if i - from >= explain {
                                let lines: Vec<usize> = c.rules[i..*to].iter().map(|r| r.line).collect();
                                steps.push(json!({"kind": "skipped", "hook": hook.name(), "table": table.name(), "chain": c.name, "from": i + 1, "to": *to, "lines": lines}));
                                break;
                            }
                            let f = crate::path::eval::explain(r, packet, *hook, host);
                            steps.push(json!({"kind": "rule", "hook": hook.name(), "table": table.name(), "chain": c.name, "rule": i + 1, "line": r.line, "matched": false, "failed": f.condition, "reason": format!("{}: {}", f.condition, f.reason)}));
                        }
                        continue;
                    }
                    steps.push(match st {
                        Step::Rule { chain, rule, matched, failed, verdict } => {
                            let c = &t.chains[*chain];
                            let r = &c.rules[*rule];
                            let mut v = json!({"kind": "rule", "hook": hook.name(), "table": table.name(), "chain": c.name, "rule": rule + 1, "line": r.line, "matched": matched});
                            match (matched, failed, verdict) {
                                (false, Some(f), _) => {
                                    v["failed"] = json!(f.condition);
                                    v["reason"] = json!(format!("{}: {}", f.condition, f.reason));
                                }
                                (true, _, verdict) => {
                                    let verdict = verdict.map_or("continue", verdict_name);
                                    if let Some(name) = r.target.name() {
                                        v["target"] = json!(name);
                                    }
                                    v["verdict"] = json!(verdict);
                                    v["reason"] = json!(match &r.target {
                                        Target::None => "every condition holds; the rule has no target and only counts".to_string(),
                                        _ => "every condition holds".to_string(),
                                    });
                                }
                                _ => {}
                            }
                            v
                        }
                        Step::Skipped { .. } => unreachable!("expanded above"),
                        Step::Return { chain } => json!({"kind": "return", "hook": hook.name(), "table": table.name(), "chain": t.chains[*chain].name}),
                        Step::Policy { chain, policy } => json!({"kind": "policy", "hook": hook.name(), "table": table.name(), "chain": t.chains[*chain].name, "verdict": policy.as_str().to_ascii_lowercase()}),
                    });
                }
            }
            PathStep::Conntrack { hook, state } => {
                steps.push(json!({"kind": "conntrack", "hook": hook.name(), "state": state}))
            }
            PathStep::Nat {
                hook,
                before,
                after,
            } => steps.push(
                json!({"kind": "nat", "hook": hook.name(), "before": before, "after": after}),
            ),
            PathStep::Routing { hook, decision } => {
                steps.push(json!({"kind": "routing", "hook": hook.name(), "decision": decision}))
            }
            PathStep::Reject { hook, oif, reply } => steps.push(json!({"kind": "reject", "hook": hook.name(), "oif": oif, "reply": packet_json(reply)})),
            PathStep::Unanswered { hook, why } => steps.push(json!({"kind": "reject", "hook": hook.name(), "oif": null, "reply": null, "why": why})),
            PathStep::Log { hook, line } => steps.push(json!({"kind": "log", "hook": hook.name(), "line": line})),
            PathStep::Trace { hook, line } => steps.push(json!({"kind": "trace", "hook": hook.name(), "line": line})),
        }
    }
    let fate = match &path.fate {
        Fate::DeliveredLocal => json!({"result": "delivered-local"}),
        Fate::Forwarded { oif } => json!({"result": "forwarded", "oif": oif}),
        Fate::Sent { oif } => json!({"result": "sent", "oif": oif}),
        Fate::Dropped { table, chain, rule } => {
            json!({"result": "dropped", "by": {"table": table.name(), "chain": chain, "rule": rule}})
        }
        Fate::Rejected { table, chain, rule } => {
            json!({"result": "rejected", "by": {"table": table.name(), "chain": chain, "rule": rule}})
        }
        Fate::Queued { table, chain, rule } => {
            json!({"result": "queued", "by": {"table": table.name(), "chain": chain, "rule": rule}})
        }
        Fate::DroppedOutsideRules { detail } => {
            json!({"result": "dropped-outside-rules", "detail": detail})
        }
    };
    let packet_out = path.packet_out.as_ref().map(packet_json);
    let mut v = json!({"steps": steps, "fate": fate, "packet_out": packet_out});
    if let Some(a) = &path.answer {
        // What the host sent by itself, and that packet's own path.
        let mut answer = path_json_explaining(ruleset, &a.path, explain);
        answer["cause"] = json!(a.cause.name());
        answer["packet"] = packet_json(&a.packet);
        v["answer"] = answer;
    }
    v
}

/// A readable trace, one step a line, ending with the fate.
/// One step of a trace (an element of `path_json`'s `steps`) as one line of
/// text; None for a kind it does not know.
pub fn step_text(s: &Value) -> Option<String> {
    let hook = s["hook"].as_str().unwrap_or("");
    Some(match s["kind"].as_str().unwrap_or("") {
        "rule" if s["matched"] == true => format!(
            "  {hook:<11} {}/{} rule {} (line {}): match -> {}{}",
            s["table"].as_str().unwrap_or(""),
            s["chain"].as_str().unwrap_or(""),
            s["rule"],
            s["line"],
            s["verdict"].as_str().unwrap_or(""),
            s["target"]
                .as_str()
                .map(|t| format!(" {t}"))
                .unwrap_or_default()
        ),
        "rule" => format!(
            "  {hook:<11} {}/{} rule {} (line {}): no match, {}",
            s["table"].as_str().unwrap_or(""),
            s["chain"].as_str().unwrap_or(""),
            s["rule"],
            s["line"],
            s["reason"].as_str().unwrap_or("")
        ),
        "return" => format!(
            "  {hook:<11} {}/{}: end of chain, return",
            s["table"].as_str().unwrap_or(""),
            s["chain"].as_str().unwrap_or("")
        ),
        "policy" => format!(
            "  {hook:<11} {}/{}: policy {}",
            s["table"].as_str().unwrap_or(""),
            s["chain"].as_str().unwrap_or(""),
            s["verdict"].as_str().unwrap_or("").to_uppercase()
        ),
        "conntrack" => format!(
            "  {hook:<11} conntrack: {}",
            s["state"].as_str().unwrap_or("")
        ),
        "nat" => format!(
            "  {hook:<11} nat: {} => {}",
            s["before"].as_str().unwrap_or(""),
            s["after"].as_str().unwrap_or("")
        ),
        "routing" => format!(
            "  {hook:<11} routing: {}",
            s["decision"].as_str().unwrap_or("")
        ),
        "log" => format!("  {hook:<11} log: {}", s["line"].as_str().unwrap_or("")),
        "trace" => format!("  {hook:<11} {}", s["line"].as_str().unwrap_or("")),
        "reject" if s["reply"].is_null() => format!(
            "  {hook:<11} reject: sends nothing ({})",
            s["why"].as_str().unwrap_or("")
        ),
        "reject" => {
            let r = &s["reply"];
            let what = match r["protocol"].as_str().unwrap_or("") {
                "icmp" => format!("ICMP type {} code {}", r["icmp_type"], r["icmp_code"]),
                _ => format!(
                    "TCP {} :{} -> :{}",
                    r["tcp_flags"].as_str().unwrap_or(""),
                    r["sport"],
                    r["dport"]
                ),
            };
            format!(
                "  {hook:<11} reject: sends {what} from {} to {} via {}",
                r["src"].as_str().unwrap_or(""),
                r["dst"].as_str().unwrap_or(""),
                s["oif"].as_str().unwrap_or("")
            )
        }
        _ => return None,
    })
}

pub fn path_text(ruleset: &Ruleset, path: &PacketPath) -> String {
    let v = path_json(ruleset, path);
    let mut out = String::new();
    write_path_text(&v, "", &mut out);
    out
}

/// The lines of one path (`path_json`'s value), each indented by `indent`,
/// then the answer the host sent, indented one step further.
fn write_path_text(v: &Value, indent: &str, out: &mut String) {
    for s in v["steps"].as_array().into_iter().flatten() {
        if let Some(line) = step_text(s) {
            out.push_str(indent);
            out.push_str(&line);
            out.push('\n');
        }
    }
    out.push_str(indent);
    out.push_str("  => ");
    out.push_str(&fate_text(v));
    out.push('\n');
    if let Some(a) = v.get("answer") {
        out.push_str(indent);
        out.push_str(&format!(
            "  answer ({}): the host sends {}\n",
            a["cause"].as_str().unwrap_or(""),
            packet_text(&a["packet"])
        ));
        write_path_text(a, &format!("{indent}  "), out);
    }
}

/// A packet of `path_json` in one phrase: `TCP RST,ACK 198.51.100.1:80 -> 192.0.2.7:40000`.
pub fn packet_text(p: &Value) -> String {
    let (src, dst) = (
        p["src"].as_str().unwrap_or(""),
        p["dst"].as_str().unwrap_or(""),
    );
    match p["protocol"].as_str().unwrap_or("") {
        "icmp" => format!(
            "ICMP type {} code {} {src} -> {dst}",
            p["icmp_type"], p["icmp_code"]
        ),
        "tcp" => format!(
            "TCP {} {src}:{} -> {dst}:{}",
            p["tcp_flags"].as_str().unwrap_or(""),
            p["sport"],
            p["dport"]
        ),
        proto => format!(
            "{} {src}:{} -> {dst}:{}",
            proto.to_uppercase(),
            p["sport"],
            p["dport"]
        ),
    }
}

/// A packet's fate (from `path_json`'s value) in words: the result, the
/// interface, what decided it, and the packet as it left.
pub fn fate_text(v: &Value) -> String {
    let fate = &v["fate"];
    let mut f = fate["result"].as_str().unwrap_or("").to_string();
    if let Some(oif) = fate["oif"].as_str() {
        f.push_str(&format!(" via {oif}"));
    }
    if let Some(by) = fate.get("by") {
        f.push_str(&format!(
            " by {}/{}{}",
            by["table"].as_str().unwrap_or(""),
            by["chain"].as_str().unwrap_or(""),
            by["rule"]
                .as_u64()
                .map(|r| format!(" rule {r}"))
                .unwrap_or_else(|| " policy".into())
        ));
    }
    if let Some(d) = fate["detail"].as_str() {
        f.push_str(&format!(" ({d})"));
    }
    let out = &v["packet_out"];
    if let Some(p) = out.as_object() {
        // (Indexing a Value, unlike a Map, gives null for a missing field.)
        let end = |p: &Value| {
            let proto = p["protocol"].as_str().unwrap_or("");
            match (p["src"].as_str(), p["dst"].as_str()) {
                (Some(s), Some(d))
                    if p.get("icmp_type").is_some()
                        || !matches!(proto, "tcp" | "udp" | "sctp" | "udplite" | "dccp") =>
                {
                    format!("{s} -> {d} {proto}")
                }
                (Some(s), Some(d)) => format!("{s}:{} -> {d}:{} {proto}", p["sport"], p["dport"]),
                _ => String::new(),
            }
        };
        f.push_str(&format!(", leaves as {}", end(out)));
        if let (Some(t), Some(c)) = (p.get("icmp_type"), p.get("icmp_code")) {
            f.push_str(&format!(" type {t} code {c}"));
        }
        if let Some(i) = p.get("inner").filter(|i| i.is_object()) {
            f.push_str(&format!(" quoting {}", end(i)));
        }
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The text is written from JSON the engine made, but reading it never
    /// panics: a step, a fate or a packet with fields missing reads as empty.
    #[test]
    fn text_from_json_with_fields_missing_does_not_panic() {
        for kind in [
            "rule",
            "return",
            "policy",
            "conntrack",
            "nat",
            "routing",
            "log",
            "trace",
            "reject",
        ] {
            assert!(step_text(&json!({ "kind": kind })).is_some());
            assert!(step_text(&json!({ "kind": kind, "matched": true })).is_some());
        }
        assert_eq!(step_text(&json!({})), None);
        assert_eq!(fate_text(&json!({})), "");
        let out = json!({"fate": {"by": {}}, "packet_out": {"inner": {}}});
        assert_eq!(fate_text(&out), " by / policy, leaves as  quoting ");
        assert_eq!(packet_text(&json!({})), " :null -> :null");
        let mut s = String::new();
        write_path_text(&json!({"answer": {}}), "", &mut s);
        assert_eq!(
            s,
            "  => \n  answer (): the host sends  :null -> :null\n    => \n"
        );
    }
}
