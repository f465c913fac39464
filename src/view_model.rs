//! What the playground shows, derived from the engine's values as plain data:
//! problem rows for the editor and the table → chain → rule tree. Pure Rust,
//! tested natively; the components only display these.

use nfsim::diagnostic::{locate, Located};
use nfsim::render;
use nfsim::Parsed;

/// One row under the editor.
#[derive(Clone, Debug, PartialEq)]
pub struct ProblemRow {
    pub severity: &'static str,
    pub code: &'static str,
    pub line: usize,
    pub column: usize,
    pub message: String,
    pub hint: Option<String>,
}

impl ProblemRow {
    /// `3:17` as the editor prints a position.
    pub fn position(&self) -> String {
        format!("{}:{}", self.line, self.column)
    }
}

pub fn problems(text: &str, parsed: &Parsed) -> Vec<ProblemRow> {
    locate(text, &parsed.diagnostics)
        .into_iter()
        .map(|l: Located| ProblemRow {
            severity: l.severity.as_str(),
            code: l.code,
            line: l.line,
            column: l.column,
            message: l.message,
            hint: l.hint,
        })
        .collect()
}

#[derive(Clone, Debug, PartialEq)]
pub struct RuleNode {
    /// 1-based position in its chain, as iptables -L --line-numbers counts.
    pub index: usize,
    pub line: usize,
    /// The rule as iptables-save prints it, without `-A CHAIN`.
    pub spec: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ChainNode {
    pub name: String,
    /// `ACCEPT`/`DROP` for built-ins, None for user chains.
    pub policy: Option<&'static str>,
    /// All rules of the chain (the list below may be cut at [`RULES_SHOWN`]).
    pub rule_count: usize,
    pub rules: Vec<RuleNode>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct TableNode {
    pub name: &'static str,
    /// All chains of the table (the list below may be cut at [`CHAINS_SHOWN`]).
    pub chain_count: usize,
    pub chains: Vec<ChainNode>,
}

/// Rules shown per chain and chains per table before "N more": a 150k-rule
/// dump must stay responsive, so only what is shown is rendered.
pub const RULES_SHOWN: usize = 200;
pub const CHAINS_SHOWN: usize = 400;

pub fn tree(parsed: &Parsed) -> Vec<TableNode> {
    parsed
        .ruleset
        .tables
        .iter()
        .map(|t| TableNode {
            name: t.kind.name(),
            chain_count: t.chains.len(),
            chains: render::save_order(t)
                .into_iter()
                .take(CHAINS_SHOWN)
                .map(|c| ChainNode {
                    name: c.name.clone(),
                    policy: c.policy.map(|p| p.as_str()),
                    rule_count: c.rules.len(),
                    rules: c
                        .rules
                        .iter()
                        .take(RULES_SHOWN)
                        .enumerate()
                        .map(|(i, r)| RuleNode {
                            index: i + 1,
                            line: r.line,
                            spec: render::rule_spec(r).trim_start().to_string(),
                        })
                        .collect(),
                })
                .collect(),
        })
        .collect()
}

pub fn summary(parsed: &Parsed) -> String {
    let errors = parsed.diagnostics.iter().filter(|d| d.is_error()).count();
    let warnings = parsed.diagnostics.len() - errors;
    let plural =
        |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    format!(
        "{}, {}, {} · {}, {}",
        plural(parsed.ruleset.tables.len(), "table", "tables"),
        plural(parsed.ruleset.chain_count(), "chain", "chains"),
        plural(parsed.ruleset.rule_count(), "rule", "rules"),
        plural(errors, "error", "errors"),
        plural(warnings, "warning", "warnings"),
    )
}

/// The packet and host the trace pane starts with: the source material's
/// NodePort SYN arriving on the node's `eth0`.
#[derive(Clone, Debug, PartialEq)]
pub struct TraceForm {
    /// An interface name, or `local` for a packet the host sends.
    pub from: String,
    pub src: String,
    pub dst: String,
    pub protocol: String,
    pub dport: String,
    /// `ip -4 addr` (or `ip -4 -o addr`) text.
    pub addrs: String,
    /// `ip -4 route` text.
    pub routes: String,
}

impl Default for TraceForm {
    fn default() -> Self {
        TraceForm {
            from: "eth0".into(),
            src: "192.0.2.50".into(),
            dst: "198.51.100.1".into(),
            protocol: "tcp".into(),
            dport: "32719".into(),
            addrs: "1: lo    inet 127.0.0.1/8 scope host lo\n2: eth0    inet 198.51.100.1/24 brd 198.51.100.255 scope global eth0\n3: eth1    inet 203.0.113.1/24 brd 203.0.113.255 scope global eth1\n".into(),
            routes: "default via 203.0.113.2 dev eth1\n".into(),
        }
    }
}

/// One line of a trace.
#[derive(Clone, Debug, PartialEq)]
pub struct TraceStep {
    /// `rule`, `policy`, `return`, `conntrack`, `nat`, `routing`, `log`, ...
    pub kind: String,
    /// For rule steps: whether the rule matched.
    pub matched: bool,
    /// For rule steps: the rule's source line, to show it in the editor.
    pub line: Option<usize>,
    pub text: String,
}

/// A traced packet: its steps and fate, and where the random choices can send it.
#[derive(Clone, Debug, PartialEq)]
pub struct TraceView {
    pub steps: Vec<TraceStep>,
    pub fate: String,
    /// (probability in percent, where the packet leaves to) for each outcome
    /// of the ruleset's random choices, when there is more than one.
    pub outcomes: Vec<(String, String)>,
}

/// Trace the form's packet through the parsed ruleset on the form's host.
/// Problems come back as one readable message per line.
pub fn trace(parsed: &Parsed, form: &TraceForm) -> Result<TraceView, Vec<String>> {
    use nfsim::host::{Host, HostSpec, Sysctl};
    use nfsim::scenario::{self, Loaded, Scenario, SimState};
    if parsed.has_errors() {
        return Err(vec![
            "The ruleset has errors: fix them to trace a packet.".into()
        ]);
    }
    let sysctl = Sysctl {
        ip_forward: true,
        route_localnet: false,
        rp_filter: 0,
    };
    let host = Host::from_ip_text(&form.addrs, &form.routes, sysctl).map_err(|errors| {
        errors
            .into_iter()
            .map(|e| format!("host line {}: {}", e.line, e.message))
            .collect::<Vec<_>>()
    })?;
    let mut packet = serde_json::json!({
        "from": form.from.trim(),
        "dst": form.dst.trim(),
        "protocol": form.protocol.trim(),
    });
    if !form.src.trim().is_empty() {
        packet["src"] = form.src.trim().into();
    }
    if matches!(form.protocol.trim(), "tcp" | "udp" | "sctp") && !form.dport.trim().is_empty() {
        match form.dport.trim().parse::<u16>() {
            Ok(p) => packet["dport"] = p.into(),
            Err(_) => {
                return Err(vec![format!(
                    "destination port: `{}' is not a port number",
                    form.dport.trim()
                )])
            }
        }
    }
    let spec = serde_json::from_value(packet).map_err(|e| vec![format!("packet: {e}")])?;
    let from = form.from.trim();
    if from != "local" && host.interface(from).is_none() {
        return Err(vec![format!("from: the host has no interface `{from}'")]);
    }
    let loaded = Loaded {
        scenario: Scenario {
            version: 1,
            ruleset: String::new(),
            host: HostSpec::default(),
            ipsets: None,
            seed: 1,
            packets: vec![spec],
            assume: Default::default(),
            force: Vec::new(),
        },
        index: nfsim::pipeline::index_ruleset(&parsed.ruleset),
        ruleset: parsed.ruleset.clone(),
        host,
        sets: Default::default(),
    };
    let mut state = SimState::new(&loaded, 1, None);
    let paths = scenario::run(&loaded, &mut state).map_err(|e| vec![e.to_string()])?;
    let path = &paths[0];
    let json = scenario::path_json(&loaded.ruleset, path);
    let steps = json["steps"]
        .as_array()
        .map(|a| a.as_slice())
        .unwrap_or_default()
        .iter()
        .filter_map(|s| {
            Some(TraceStep {
                kind: s["kind"].as_str().unwrap_or("").to_string(),
                matched: s["matched"] == true,
                line: s["line"].as_u64().map(|l| l as usize),
                text: scenario::step_text(s)?.trim().to_string(),
            })
        })
        .collect();
    let fate = scenario::fate_text(&json);
    let mut outcomes = Vec::new();
    if let Ok(all) = scenario::run_all_branches(&loaded, 64) {
        if all.len() > 1 {
            for (p, paths) in &all {
                let v = scenario::path_json(&loaded.ruleset, &paths[0]);
                let to = match v["packet_out"].as_object() {
                    Some(o) => format!("{}:{}", o["dst"].as_str().unwrap_or(""), o["dport"]),
                    None => v["fate"]["result"].as_str().unwrap_or("").to_string(),
                };
                outcomes.push((format!("{:.1}%", p * 100.0), to));
            }
        }
    }
    Ok(TraceView {
        steps,
        fate,
        outcomes,
    })
}

/// The source material's kube-proxy NodePort example, which the editor starts with.
pub const EXAMPLE: &str = include_str!("examples/kube_nodeport.rules");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_packet_walks_the_nodeport_example() {
        let parsed = nfsim::parse(EXAMPLE, None);
        let t = trace(&parsed, &TraceForm::default()).unwrap();
        let hit = |chain: &str| t.steps.iter().any(|s| s.matched && s.text.contains(chain));
        assert!(hit("nat/KUBE-NODEPORTS rule 2"), "{:#?}", t.steps);
        assert!(hit("KUBE-MARK-MASQ"));
        assert!(t.fate.starts_with("forwarded via eth1"), "{}", t.fate);
        assert!(t
            .steps
            .iter()
            .filter(|s| s.kind == "rule")
            .all(|s| s.line.is_some()));
        let to: Vec<&str> = t.outcomes.iter().map(|(_, to)| to.as_str()).collect();
        assert_eq!(
            to,
            ["203.0.113.10:80", "203.0.113.11:80", "203.0.113.12:80"],
            "{:?}",
            t.outcomes
        );
        assert!(t.outcomes.iter().all(|(p, _)| p == "33.3%"));
    }

    #[test]
    fn trace_problems_are_reported_not_panicked() {
        let parsed = nfsim::parse(EXAMPLE, None);
        let bad = TraceForm {
            dst: "198.51.100".into(),
            ..TraceForm::default()
        };
        assert!(trace(&parsed, &bad).unwrap_err()[0].contains("dst"));
        let bad = TraceForm {
            from: "eth9".into(),
            ..TraceForm::default()
        };
        assert!(trace(&parsed, &bad).unwrap_err()[0].contains("eth9"));
        let bad = TraceForm {
            dport: "http".into(),
            ..TraceForm::default()
        };
        assert!(trace(&parsed, &bad).unwrap_err()[0].contains("port"));
        let bad = TraceForm {
            addrs: "2: eth0    inet 198.51.100.400/24".into(),
            ..TraceForm::default()
        };
        assert!(trace(&parsed, &bad).unwrap_err()[0].starts_with("host line 1"));
        let broken = nfsim::parse("*filter\n-A INPUT -j NOPE\nCOMMIT\n", None);
        assert!(trace(&broken, &TraceForm::default()).is_err());
    }

    #[test]
    fn the_example_loads_cleanly_and_shows_its_chains() {
        let parsed = nfsim::parse(EXAMPLE, None);
        assert!(problems(EXAMPLE, &parsed).is_empty());
        let t = tree(&parsed);
        let nat = t.iter().find(|t| t.name == "nat").unwrap();
        let svc = nat
            .chains
            .iter()
            .find(|c| c.name == "KUBE-SVC-JKOCBQALQGD3X3RT")
            .unwrap();
        assert_eq!(svc.policy, None);
        assert_eq!(svc.rules.len(), 4);
        assert!(
            svc.rules[1].spec.contains("--probability 0.33333333349"),
            "{}",
            svc.rules[1].spec
        );
        assert_eq!(nat.chains[0].name, "PREROUTING");
        assert_eq!(nat.chains[0].policy, Some("ACCEPT"));
        assert_eq!(
            summary(&parsed),
            "3 tables, 33 chains, 36 rules · 0 errors, 0 warnings"
        );
    }

    #[test]
    fn a_broken_rule_becomes_a_problem_row_with_its_position() {
        let text = EXAMPLE.replace(
            "-A KUBE-MARK-MASQ -j MARK",
            "-A KUBE-MARK-MASQ -j MARK --set-mork 1",
        );
        let parsed = nfsim::parse(&text, None);
        let rows = problems(&text, &parsed);
        let line = text.lines().position(|l| l.contains("--set-mork")).unwrap() + 1;
        assert_eq!(rows.len(), 1, "{rows:?}");
        assert_eq!(
            (rows[0].line, rows[0].severity, rows[0].code),
            (line, "error", "E0101")
        );
        assert_eq!(rows[0].message, "unknown option \"--set-mork\"");
        assert_eq!(
            rows[0].hint.as_deref(),
            Some("did you mean \"--set-mark\"?")
        );
    }
}
