//! Table walks against the kernel: each `fixtures/walk/NAME.case.json` was run
//! by the kernel oracle (ip_tables, legacy backend) into NAME.oracle.json. The
//! filter table's events there — the rules that matched, in order, with their
//! verdicts, the implicit returns and the policy — must be exactly what nfsim's
//! walk reports as matched.

mod support;

use nfsim::net::host::{Host, HostSpec};
use nfsim::path::eval::{Conn, ConnView};
use nfsim::path::walk::{walk, BasicTargets, Env, Step, StepVerdict, TableVerdict};
use nfsim::ruleset::model::{Hook, Policy, Target};
use serde_json::Value;
use std::path::Path;
use support::{packet, Replay};

/// The oracle's default topology: eth0 198.51.100.1/24 (client side), eth1 203.0.113.1/24.
fn oracle_host() -> Host {
    serde_json::from_str::<HostSpec>(
        r#"{"interfaces":[{"name":"eth0","addresses":["198.51.100.1/24"]},{"name":"eth1","addresses":["203.0.113.1/24"]}],
            "routes":[{"to":"default","via":"203.0.113.2","dev":"eth1"}]}"#,
    )
    .unwrap()
    .build()
    .unwrap()
}

#[test]
fn filter_walks_match_the_kernels_trace() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/walk");
    let host = oracle_host();
    let mut cases: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".case.json"))
        .collect();
    cases.sort();
    assert!(cases.len() >= 5);
    for case in cases {
        let name = case
            .file_name()
            .unwrap()
            .to_string_lossy()
            .replace(".case.json", "");
        let spec: Value = serde_json::from_str(&std::fs::read_to_string(&case).unwrap()).unwrap();
        let oracle: Value = serde_json::from_str(
            &std::fs::read_to_string(dir.join(format!("{name}.oracle.json"))).unwrap(),
        )
        .unwrap();
        let rules =
            std::fs::read_to_string(dir.join(spec["ruleset_file"].as_str().unwrap())).unwrap();
        let parsed = nfsim::parse(&rules, None);
        assert!(!parsed.has_errors(), "{name}: {:?}", parsed.diagnostics);
        let table = parsed
            .ruleset
            .table(nfsim::ruleset::model::TableKind::Filter)
            .unwrap();

        // A first packet arriving on eth0 for a local address: INPUT, state NEW.
        let mut p = packet(&spec["packet"]);
        let ct = ConnView::new_for(&p);
        let env = Env {
            hook: Hook::Input,
            in_iface: Some("eth0"),
            out_iface: None,
            host: &host,
            owner: nfsim::path::eval::Socket::None,
            conn: Conn::Tracked(&ct),
            explain: true,
        };
        let w = walk(
            table,
            None,
            3,
            &mut p,
            &env,
            &mut Replay::default(),
            &mut BasicTargets,
        );

        let chain_name = |c: usize| table.chains[c].name.clone();
        let ours: Vec<(String, String, Option<u64>, String)> = w
            .steps
            .iter()
            .filter_map(|s| match s {
                Step::Rule {
                    chain,
                    rule,
                    matched: true,
                    verdict,
                    ..
                } => {
                    let r = &table.chains[*chain].rules[*rule];
                    let v = match (verdict, &r.target) {
                        (Some(StepVerdict::Jump), Target::Jump { chain: to }) => {
                            format!("JUMP {to}")
                        }
                        (Some(StepVerdict::Goto), Target::Goto { chain: to }) => {
                            format!("GOTO {to}")
                        }
                        (Some(v), _) => format!("{v:?}").to_uppercase(),
                        (None, _) => "CONTINUE".into(),
                    };
                    Some((chain_name(*chain), "rule".into(), Some(*rule as u64 + 1), v))
                }
                Step::Rule { .. } | Step::Skipped { .. } => None,
                Step::Return { chain } => {
                    Some((chain_name(*chain), "return".into(), None, "RETURN".into()))
                }
                Step::Policy { chain, policy } => Some((
                    chain_name(*chain),
                    "policy".into(),
                    None,
                    policy.as_str().into(),
                )),
            })
            .collect();
        let kernel: Vec<(String, String, Option<u64>, String)> = oracle["trace"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["table"] == "filter")
            .map(|e| {
                (
                    e["chain"].as_str().unwrap().into(),
                    e["type"].as_str().unwrap().into(),
                    e["rule_index"].as_u64(),
                    e["verdict"].as_str().unwrap().into(),
                )
            })
            .collect();
        assert_eq!(ours, kernel, "{name}: nfsim vs kernel");

        let fate = oracle["fate"]["result"].as_str().unwrap();
        let want = if fate == "dropped" {
            TableVerdict::Drop
        } else {
            TableVerdict::Accept
        };
        assert_eq!(w.verdict, want, "{name}: fate {fate}");
        if let (Step::Policy { policy, .. }, "dropped") = (w.steps.last().unwrap(), fate) {
            assert_eq!(*policy, Policy::Drop);
        }
    }
}
