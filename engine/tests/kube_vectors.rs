//! kube-proxy's own packet-tracer vectors (shared/conformance/kube-proxy, copied
//! to fixtures/kube-proxy): 33 rulesets and 219 cases. Each case runs through
//! the real pipeline in all-branches mode; the tracer's `output` (every DNAT
//! endpoint of the statistic ladder, or ACCEPT/REJECT/DROP) and `masq`
//! (KUBE-MARK-MASQ reached) are read off the outcomes. Cases where the kernel
//! and that tracer's shortcuts disagree are listed in KNOWN with the reason.

use nfsim::path::pipeline::{Fate, PathStep};
use nfsim::path::walk::{Step, StepVerdict};
use nfsim::ruleset::model::Target;
use nfsim::scenario::{self, Loaded};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::path::Path;

/// (file stem, case name) the tracer gets differently from the kernel, and why.
const KNOWN: &[(&str, &str, &str)] = &[];

/// t01 is kube-proxy's fake-iptables text, whose multi-word comments are not
/// quoted (iptables-restore would reject it). Quote them as iptables-save does.
fn quote_comments(ruleset: &str) -> String {
    let mut out = String::new();
    for line in ruleset.lines() {
        let words: Vec<&str> = line.split(' ').collect();
        let mut i = 0;
        let mut fixed: Vec<String> = Vec::new();
        while i < words.len() {
            fixed.push(words[i].to_string());
            if words[i] == "--comment" && words.get(i + 1).is_some_and(|w| !w.starts_with('"')) {
                let mut j = i + 1;
                while j < words.len() && !words[j].starts_with('-') && words[j] != "!" {
                    j += 1;
                }
                fixed.push(format!("\"{}\"", words[i + 1..j].join(" ")));
                i = j;
                continue;
            }
            i += 1;
        }
        out.push_str(&fixed.join(" "));
        out.push('\n');
    }
    out
}

fn scenario_for(file: &Value, case: &Value) -> String {
    // nfsim models IPv4: IPv6 node addresses are left out.
    let node_ips: Vec<String> = file["node_ips"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .filter(|a| !a.contains(':'))
        .collect();
    let mut addrs = vec![format!("{}/24", node_ips[0])];
    addrs.extend(node_ips.iter().skip(1).map(|a| format!("{a}/32")));
    let src = case["sourceIP"].as_str().unwrap();
    let local = node_ips.iter().any(|n| n == src) || src.starts_with("127.");
    let gw = {
        let mut o: Vec<u8> = node_ips[0].split('.').map(|x| x.parse().unwrap()).collect();
        o[3] = if o[3] == 1 { 254 } else { 1 };
        format!("{}.{}.{}.{}", o[0], o[1], o[2], o[3])
    };
    let packet = json!({
        "from": if local { "local" } else { "eth0" },
        "src": src,
        "dst": case["destIP"],
        "protocol": case["protocol"],
        "sport": 40000,
        "dport": case["destPort"],
    });
    json!({
        "version": 1,
        "ruleset": if file["expected_restore_input"].is_null() { quote_comments(file["ruleset"].as_str().unwrap()) } else { file["ruleset"].as_str().unwrap().to_string() },
        "host": {
            "interfaces": [{"name": "eth0", "addresses": addrs}],
            "routes": [{"to": "default", "via": gw, "dev": "eth0"}],
            "sysctl": {"ip_forward": true, "route_localnet": true, "rp_filter": 0}
        },
        "seed": 1,
        "packets": [packet]
    })
    .to_string()
}

/// The tracer's view of all outcomes: (outputs, masq).
fn tracer_view(loaded: &Loaded) -> (BTreeSet<String>, bool) {
    let outcomes = scenario::run_all_branches(loaded, 256).unwrap();
    let mut outputs = BTreeSet::new();
    let mut masq = false;
    for (_, paths) in &outcomes {
        let path = &paths[0];
        for step in &path.steps {
            match step {
                PathStep::Nat { hook, after, .. }
                    if matches!(hook.name(), "PREROUTING" | "OUTPUT") =>
                {
                    let dst = after.to_string().split(" -> ").nth(1).unwrap().to_string();
                    outputs.insert(dst);
                }
                PathStep::Table { table, walk, .. } => {
                    let t = loaded.ruleset.table(*table).unwrap();
                    for s in &walk.steps {
                        let Step::Rule {
                            chain,
                            rule,
                            matched: true,
                            verdict,
                            ..
                        } = s
                        else {
                            continue;
                        };
                        let c = &t.chains[*chain];
                        let r = &c.rules[*rule];
                        if table.name() == "nat" && r.target.chain() == Some("KUBE-MARK-MASQ") {
                            masq = true;
                        }
                        let tracer_chain = matches!(
                            c.name.as_str(),
                            "KUBE-SERVICES"
                                | "KUBE-EXTERNAL-SERVICES"
                                | "KUBE-NODEPORTS"
                                | "KUBE-PROXY-FIREWALL"
                        );
                        let terminal = matches!(
                            verdict,
                            Some(StepVerdict::Accept | StepVerdict::Drop | StepVerdict::Reject)
                        );
                        let is_nat_target = matches!(&r.target, Target::Extension { .. })
                            && !matches!(verdict, Some(StepVerdict::Reject));
                        if terminal && (tracer_chain || table.name() == "nat") && !is_nat_target {
                            outputs.insert(r.target.name().unwrap().to_string());
                        }
                    }
                }
                _ => {}
            }
        }
        // A rejected packet was recorded from its rule's target above.
        if let Fate::Rejected { .. } = path.fate {
            assert!(
                outputs.contains("REJECT"),
                "{:?}: rejected, but no REJECT among {outputs:?}",
                loaded.scenario.packets[0]
            );
        }
    }
    (outputs, masq)
}

#[test]
fn kube_proxy_tracer_vectors() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/kube-proxy");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    let (mut passed, mut known, mut failures) = (0, 0, Vec::new());
    for f in &files {
        let stem = f.file_stem().unwrap().to_string_lossy().to_string();
        let file: Value = serde_json::from_str(&std::fs::read_to_string(f).unwrap()).unwrap();
        for case in file["cases"].as_array().unwrap() {
            let name = case["name"].as_str().unwrap();
            let scen = scenario_for(&file, case);
            let loaded = match Loaded::from_json(&scen) {
                Ok(l) => l,
                Err(e) => {
                    failures.push(format!("{stem} / {name}: cannot load: {e}"));
                    continue;
                }
            };
            let (outputs, masq) = tracer_view(&loaded);
            let want: BTreeSet<String> = case["output"]
                .as_str()
                .unwrap()
                .split(", ")
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect();
            let want_masq = case["masq"].as_bool().unwrap();
            let ok = outputs == want && masq == want_masq;
            let listed = KNOWN.iter().any(|(s, n, _)| *s == stem && *n == name);
            match (ok, listed) {
                (true, false) => passed += 1,
                (false, true) => known += 1,
                (true, true) => failures.push(format!("{stem} / {name}: listed as a known difference but now agrees")),
                (false, false) => failures.push(format!(
                    "{stem} / {name}: {} {} {}:{} -> nfsim {:?} masq={masq}, tracer {:?} masq={want_masq}",
                    case["protocol"].as_str().unwrap(),
                    case["sourceIP"].as_str().unwrap(),
                    case["destIP"].as_str().unwrap(),
                    case["destPort"],
                    outputs,
                    want
                )),
            }
        }
    }
    eprintln!(
        "kube-proxy vectors: {passed} agree, {known} known differences, {} unexplained",
        failures.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(passed + known, 219);
}
