//! Property tests for the pipeline over generated rulesets and packets.
//!
//! For any ruleset that loads and any packets: tracing never panics, the JSON
//! and text renderings never panic, a scenario run is deterministic (same seed,
//! same trace), batch mode runs, and a walk through the chain indexes gives
//! exactly the trace of a plain rule-by-rule walk. No rule `nfsim::ruleset::lint` says
//! can never match (W0406) matches in any trace, and no chain it says is never
//! reached (W0407) is walked.
//!
//! Cases that do not load or run are not failures, so the test counts the
//! cases each check saw and fails when a share is missing: a generator that
//! drifted would otherwise make the properties hold vacuously.

use nfsim::net::conntrack::ConnTable;
use nfsim::path::pipeline::{run_packet, run_packet_indexed, Origin};
use nfsim::path::pipeline::{PacketPath, PathStep};
use nfsim::path::walk::Step;
use nfsim::ruleset::model::{Ruleset, TableKind};
use nfsim::scenario::{self, Loaded, SimState};
use proptest::prelude::*;
use proptest::test_runner::TestRunner;
use std::cell::Cell;
use std::collections::HashSet;

/// The rules lint says never match and the chains it says are never reached,
/// as (table, chain, rule) and (table, chain).
type Claims = (
    HashSet<(TableKind, usize, usize)>,
    HashSet<(TableKind, usize)>,
);

fn lint_claims(ruleset: &Ruleset) -> Claims {
    let (mut rules, mut chains) = (HashSet::new(), HashSet::new());
    for d in nfsim::ruleset::lint::lint(ruleset) {
        for t in &ruleset.tables {
            for (ci, c) in t.chains.iter().enumerate() {
                if d.code == "W0407" && c.span == d.span {
                    chains.insert((t.kind, ci));
                }
                for (ri, r) in c.rules.iter().enumerate() {
                    if d.code == "W0406" && r.span == d.span {
                        rules.insert((t.kind, ci, ri));
                    }
                }
            }
        }
    }
    (rules, chains)
}

/// Check the claims against what packets did; count the steps that tried a
/// rule lint says never matches.
fn lint_holds(claims: &Claims, paths: &[PacketPath]) -> Result<usize, TestCaseError> {
    let mut tried = 0;
    for path in paths {
        for step in &path.steps {
            let PathStep::Table { table, walk, .. } = step else {
                continue;
            };
            for s in &walk.steps {
                let chain = match s {
                    Step::Rule {
                        chain,
                        rule,
                        matched,
                        ..
                    } => {
                        let claimed = claims.0.contains(&(*table, *chain, *rule));
                        prop_assert!(
                            !(*matched && claimed),
                            "lint says {table:?} chain {chain} rule {rule} never matches, but it did"
                        );
                        tried += usize::from(claimed);
                        *chain
                    }
                    Step::Skipped { chain, .. }
                    | Step::Return { chain }
                    | Step::Policy { chain, .. } => *chain,
                };
                prop_assert!(
                    !claims.1.contains(&(*table, chain)),
                    "lint says {table:?} chain {chain} is never reached, but it was walked"
                );
            }
        }
    }
    Ok(tried)
}

/// Conditions a rule may carry (several are combined).
const MATCHES: &[&str] = &[
    "",
    "-s 192.0.2.50/32",
    "! -s 192.0.2.0/24",
    "-d 198.51.100.1/32",
    "-d 203.0.113.9/32",
    "-d 10.96.0.7/32",
    "-i eth0",
    "-o eth1",
    "-i lo",
    "-p tcp",
    "-p udp",
    "-p icmp",
    "-p tcp -m tcp --dport 80",
    "-p tcp -m tcp --dport 22",
    "-p tcp -m tcp --sport 1024:65535 --dport 443",
    "-p tcp -m tcp --tcp-flags SYN,ACK SYN",
    "-p udp -m udp --dport 53",
    "-p icmp -m icmp --icmp-type 8",
    "-p tcp -m multiport --dports 80,443,8000:8080",
    "-m conntrack --ctstate NEW",
    "-m conntrack --ctstate ESTABLISHED,RELATED",
    "-m conntrack --ctstate INVALID",
    "-m state --state NEW",
    "-m mark --mark 0x1/0x1",
    "-m connmark --mark 0x2",
    "-m addrtype --dst-type LOCAL",
    "-m statistic --mode random --probability 0.50000000000",
    "-m statistic --mode nth --every 2 --packet 0",
    "-m limit --limit 2/sec --limit-burst 1",
    "-m recent --name r1 --set",
    "-m recent --name r1 --rcheck --seconds 60",
    "-m comment --comment \"a comment\"",
    "-m length --length 0:100",
    "-m ttl --ttl-gt 10",
    "-m iprange --src-range 192.0.2.1-192.0.2.100",
    "-m u32 --u32 \"0>>22&0x3C@4=0x29\"",
];

/// Targets by table and chain (`{U}` becomes a user chain of the table), each
/// with the protocol it needs. Kept to what loads, so most cases trace.
fn targets(table: &str, chain: &str) -> &'static [(&'static str, &'static str)] {
    match (table, chain) {
        ("raw", _) => &[
            ("", ""),
            ("", "-j ACCEPT"),
            ("", "-j DROP"),
            ("", "-j RETURN"),
            ("", "-j CT --notrack"),
            ("", "-j MARK --set-xmark 0x1/0xffffffff"),
            ("", "-j TRACE"),
            ("", "-j NFQUEUE --queue-num 2 --queue-bypass"),
        ],
        ("mangle", _) => &[
            ("", ""),
            ("", "-j ACCEPT"),
            ("", "-j DROP"),
            ("", "-j RETURN"),
            ("", "-j MARK --set-xmark 0x1/0xffffffff"),
            ("", "-j CONNMARK --save-mark"),
            ("", "-j CONNMARK --restore-mark"),
            ("", "-j LOG --log-prefix \"m: \""),
            ("", "-j TOS --set-tos 0x10/0xff"),
            ("", "-j {U}"),
            ("", "-g {U}"),
        ],
        ("filter", _) => &[
            ("", ""),
            ("", "-j ACCEPT"),
            ("", "-j DROP"),
            ("", "-j RETURN"),
            ("", "-j REJECT"),
            ("-p tcp", "-j REJECT --reject-with tcp-reset"),
            ("", "-j REJECT --reject-with icmp-host-prohibited"),
            ("", "-j LOG --log-prefix \"x: \" --log-uid"),
            ("", "-j MARK --set-xmark 0x2/0xffffffff"),
            ("", "-j CONNMARK --set-mark 0x2"),
            ("", "-j NFQUEUE --queue-num 1"),
            ("", "-j {U}"),
            ("", "-g {U}"),
        ],
        ("nat", "PREROUTING" | "OUTPUT") => &[
            ("", ""),
            ("", "-j RETURN"),
            ("", "-j ACCEPT"),
            ("", "-j DNAT --to-destination 203.0.113.9"),
            (
                "-p tcp",
                "-j DNAT --to-destination 203.0.113.10-203.0.113.20:8000-8010",
            ),
            ("-p tcp", "-j DNAT --to-destination 127.0.0.1:8080"),
            ("-p udp", "-j REDIRECT --to-ports 5353"),
            ("", "-j NETMAP --to 10.0.0.0/24"),
            ("", "-j {U}"),
        ],
        ("nat", "POSTROUTING") => &[
            ("", ""),
            ("", "-j RETURN"),
            ("", "-j SNAT --to-source 203.0.113.1"),
            (
                "-p tcp",
                "-j SNAT --to-source 203.0.113.100-203.0.113.120:20000-20010 --random",
            ),
            ("", "-j MASQUERADE"),
            (
                "-p udp",
                "-j MASQUERADE --to-ports 30000-30010 --random-fully",
            ),
            ("", "-j {U}"),
        ],
        ("nat", "INPUT") => &[
            ("", ""),
            ("", "-j RETURN"),
            ("", "-j SNAT --to-source 192.0.2.1"),
            ("", "-j {U}"),
        ],
        _ => &[
            ("", ""),
            ("", "-j RETURN"),
            ("", "-j ACCEPT"),
            ("", "-j MARK --set-xmark 0x4/0x4"),
        ],
    }
}

/// (table, built-in chains, user chains a random rule may jump to)
fn tables() -> [(
    &'static str,
    &'static [&'static str],
    &'static [&'static str],
); 4] {
    [
        ("raw", &["PREROUTING", "OUTPUT"], &[]),
        (
            "mangle",
            &["PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"],
            &["M1"],
        ),
        (
            "nat",
            &["PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"],
            &["N1"],
        ),
        (
            "filter",
            &["INPUT", "FORWARD", "OUTPUT"],
            &["F1", "F2", "F3"],
        ),
    ]
}

#[derive(Clone, Debug)]
struct GenRule {
    table: usize,
    chain: usize,
    matches: Vec<usize>,
    target: usize,
    user: usize,
}

fn gen_rule() -> impl Strategy<Value = GenRule> {
    (
        0..4usize,
        0..16usize,
        prop::collection::vec(0..MATCHES.len(), 0..3),
        0..16usize,
        0..3usize,
    )
        .prop_map(|(table, chain, matches, target, user)| GenRule {
            table,
            chain,
            matches,
            target,
            user,
        })
}

fn ruleset_text(rules: &[GenRule], policy_drop: bool, long_chain: usize) -> String {
    let mut out = String::new();
    for (ti, (name, builtins, users)) in tables().iter().enumerate() {
        out.push_str(&format!("*{name}\n"));
        for b in *builtins {
            let p = if policy_drop && *name == "filter" && *b == "FORWARD" {
                "DROP"
            } else {
                "ACCEPT"
            };
            out.push_str(&format!(":{b} {p} [0:0]\n"));
        }
        for u in *users {
            out.push_str(&format!(":{u} - [0:0]\n"));
        }
        if *name == "nat" {
            out.push_str(":N2 - [0:0]\n");
        }
        let chains: Vec<&str> = builtins.iter().chain(users.iter()).copied().collect();
        for r in rules.iter().filter(|r| r.table == ti) {
            let chain = chains[r.chain % chains.len()];
            let list = targets(name, chain);
            let (proto, target) = list[r.target % list.len()];
            let target = if users.is_empty() {
                target.replace("{U}", "ACCEPT")
            } else {
                target.replace("{U}", users[r.user % users.len()])
            };
            // One -p per rule, the target's if it needs one; no -i on output
            // chains or -o on input chains (iptables refuses them).
            let mut words: Vec<&str> = Vec::new();
            if !proto.is_empty() {
                words.push(proto);
            }
            for &i in &r.matches {
                let m = MATCHES[i];
                // The option a match word sets (`-p`, `-s`, ...; `-m` may repeat).
                let flag = |w: &str| {
                    w.trim_start_matches("! ")
                        .split(' ')
                        .next()
                        .unwrap_or("")
                        .to_string()
                };
                let f = flag(m);
                if f != "-m" && !f.is_empty() && words.iter().any(|w| flag(w) == f) {
                    continue;
                }
                if (m.starts_with("-i") && matches!(chain, "OUTPUT" | "POSTROUTING"))
                    || (m.starts_with("-o") && matches!(chain, "PREROUTING" | "INPUT"))
                {
                    continue;
                }
                words.push(m);
            }
            out.push_str(&format!("-A {chain} {} {target}\n", words.join(" ")));
        }
        // A long chain of exact destinations and ports, so the indexes are used.
        if *name == "nat" && long_chain > 0 {
            for i in 0..long_chain {
                out.push_str(&format!(
                    "-A N2 -d 10.96.{}.{}/32 -p tcp -m tcp --dport {} -j DNAT --to-destination 203.0.113.{}:80\n",
                    i / 250,
                    i % 250 + 1,
                    80 + (i % 3),
                    i % 200 + 1
                ));
            }
            out.push_str("-A PREROUTING -j N2\n-A OUTPUT -j N2\n");
        }
        out.push_str("COMMIT\n");
    }
    out
}

const ADDRS: &[&str] = &[
    "192.0.2.50",
    "198.51.100.1",
    "203.0.113.9",
    "10.96.0.7",
    "10.96.0.80",
    "127.0.0.1",
    "203.0.113.1",
    "0.0.0.0",
];

fn gen_packet() -> impl Strategy<Value = serde_json::Value> {
    (0..3usize, 0..ADDRS.len(), 0..ADDRS.len(), 0..3usize, 0..4usize, 0..3usize)
        .prop_map(|(from, s, d, proto, port, flags)| {
            let from = ["eth0", "eth1", "local"][from];
            let proto = ["tcp", "udp", "icmp"][proto];
            let mut p = serde_json::json!({"from": from, "src": ADDRS[s], "dst": ADDRS[d], "protocol": proto});
            if proto != "icmp" {
                p["dport"] = serde_json::json!([80, 22, 443, 53][port]);
            }
            if proto == "tcp" {
                p["tcp_flags"] = serde_json::json!(["SYN", "ACK", "SYN,ACK"][flags]);
            }
            p
        })
}

fn scenario_json(text: &str, packets: &[serde_json::Value], reply: bool) -> String {
    let mut packets = packets.to_vec();
    if reply {
        packets.push(serde_json::json!({"reply_to": 0}));
        packets.push(serde_json::json!({"icmp_error_for": 0}));
    }
    serde_json::json!({
        "version": 1, "ruleset": text, "seed": 3,
        // Both backends: they order the tables differently at INPUT.
        "backend": if text.len() % 2 == 0 { "nft" } else { "legacy" },
        "host": {"interfaces": [{"name": "eth0", "addresses": ["198.51.100.1/24"]}, {"name": "eth1", "addresses": ["203.0.113.1/24"]}],
                 "routes": [{"to": "default", "via": "203.0.113.2", "dev": "eth1"}],
                 "sysctl": {"ip_forward": true, "rp_filter": 1}},
        "packets": packets
    })
    .to_string()
}

/// How far the cases got. A generator that drifted (rulesets that no longer
/// load, packets that never reach a long chain, no rule lint can flag) would
/// make the properties hold without checking anything: the test counts what
/// each check actually saw and requires a share of the cases.
#[derive(Default, Debug)]
struct Reached {
    cases: Cell<usize>,
    /// The scenario loaded (rulesets with loops or misplaced targets do not).
    loaded: Cell<usize>,
    /// A packet's indexed walk, compared with the plain walk, skipped rules
    /// (the index was used).
    indexed: Cell<usize>,
    /// The scenario ran: determinism and lint's claims were checked.
    ran: Cell<usize>,
    /// Lint flagged a rule or chain, and a packet's trace was checked against it.
    lint_claims: Cell<usize>,
    /// A rule lint says never matches was tried by a packet (and did not
    /// match). Rare by nature (a packet reaches such a rule only by missing
    /// the rule that shadows it), so only reported.
    lint_tried: Cell<usize>,
    /// All-branches mode ran with more than one outcome, each checked against lint.
    branches: Cell<usize>,
}

fn bump(c: &Cell<usize>) {
    c.set(c.get() + 1);
}

fn traces_hold(
    reached: &Reached,
    rules: &[GenRule],
    packets: &[serde_json::Value],
    policy_drop: bool,
    long: usize,
    reply: bool,
) -> Result<(), TestCaseError> {
    bump(&reached.cases);
    let text = ruleset_text(rules, policy_drop, long);
    let loaded = Loaded::from_json(&scenario_json(&text, packets, reply));
    let Ok(loaded) = loaded else {
        // Rulesets with loops or misplaced targets are refused at load time.
        return Ok(());
    };
    bump(&reached.loaded);
    // The indexed walk and the plain walk agree step for step.
    let mut indexed = false;
    for spec in &loaded.scenario.packets {
        if spec.reply_to.is_some() || spec.icmp_error_for.is_some() {
            continue;
        }
        let mut p = spec.to_packet().unwrap();
        let origin = if spec.from == "local" {
            if p.src.is_unspecified() {
                p.src = nfsim::ruleset::value::Ipv4::parse("203.0.113.1").unwrap();
            }
            Origin::Local { uid: 0, gid: 0 }
        } else {
            Origin::Interface(spec.from.clone())
        };
        let (mut s1, mut s2) = (
            SimState::new(&loaded, 9, None),
            SimState::new(&loaded, 9, None),
        );
        let (mut c1, mut c2) = (
            ConnTable::for_ruleset(&loaded.ruleset),
            ConnTable::for_ruleset(&loaded.ruleset),
        );
        let full = run_packet(
            &loaded.ruleset,
            &loaded.host,
            p.clone(),
            &origin,
            &mut s1,
            &mut c1,
            1,
            loaded.scenario.backend,
        );
        let fast = run_packet_indexed(
            &loaded.ruleset,
            Some(&loaded.index),
            true,
            &loaded.host,
            p,
            &origin,
            &mut s2,
            &mut c2,
            1,
            loaded.scenario.backend,
        );
        prop_assert_eq!(
            scenario::path_json(&loaded.ruleset, &full),
            scenario::path_json(&loaded.ruleset, &fast)
        );
        let skipped = fast.steps.iter().any(|s| {
            matches!(s, PathStep::Table { walk, .. } if walk.steps.iter().any(|w| matches!(w, Step::Skipped { .. })))
        });
        indexed |= skipped;
    }
    if indexed {
        bump(&reached.indexed);
    }
    let run = |seed| {
        let mut state = SimState::new(&loaded, seed, None);
        scenario::run(&loaded, &mut state)
    };
    let Ok(paths) = run(3) else {
        // A derived packet whose original never left the host: reported, not run.
        return Ok(());
    };
    bump(&reached.ran);
    let again = run(3).unwrap();
    let render = |paths: &[nfsim::path::pipeline::PacketPath]| -> Vec<String> {
        paths
            .iter()
            .map(|p| {
                let j = scenario::path_json(&loaded.ruleset, p).to_string();
                j + &scenario::path_text(&loaded.ruleset, p)
            })
            .collect()
    };
    prop_assert_eq!(render(&paths), render(&again));
    let claims = lint_claims(&loaded.ruleset);
    let tried = lint_holds(&claims, &paths)?;
    if !claims.0.is_empty() || !claims.1.is_empty() {
        bump(&reached.lint_claims);
    }
    if tried > 0 {
        bump(&reached.lint_tried);
    }
    scenario::run_batch(&loaded, 4).unwrap();
    if let Ok(outcomes) = scenario::run_all_branches(&loaded, 64) {
        for (_, paths) in &outcomes {
            lint_holds(&claims, paths)?;
        }
        if outcomes.len() > 1 {
            bump(&reached.branches);
        }
    }
    Ok(())
}

#[test]
fn traces_never_panic_and_are_deterministic() {
    let cases = std::env::var("NFSIM_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256);
    // What proptest! sets up: the case count and the regressions file beside this one.
    let mut runner = TestRunner::new(ProptestConfig {
        cases,
        source_file: Some(file!()),
        ..ProptestConfig::default()
    });
    let reached = Reached::default();
    let strategy = (
        prop::collection::vec(gen_rule(), 0..40),
        prop::collection::vec(gen_packet(), 1..4),
        any::<bool>(),
        prop_oneof![Just(0usize), 40..80usize],
        any::<bool>(),
    );
    let result = runner.run(&strategy, |(rules, packets, policy_drop, long, reply)| {
        traces_hold(&reached, &rules, &packets, policy_drop, long, reply)
    });
    if let Err(e) = result {
        panic!("{e}\n{runner}");
    }
    eprintln!("{reached:?}");
    let n = reached.cases.get();
    assert!(n >= cases as usize, "ran {n} of {cases} cases");
    // Each check saw at least a fifth of its usual share of the cases
    // (rounded down). The usual shares, over 3,000 cases: 96% load, 58% run,
    // 27% use the chain index, 48% have lint claims, 5% have several random
    // outcomes; at 256 cases chance misses a fifth about once in 10^4 runs.
    let at_least = |what: &str, c: &Cell<usize>, usual: f64| {
        let min = (usual / 5.0 * n as f64).floor() as usize;
        assert!(
            c.get() >= min,
            "only {} of {n} cases {what} (at least {min} expected): the generator no longer exercises it ({reached:?})",
            c.get()
        );
    };
    at_least("loaded", &reached.loaded, 0.96);
    at_least("ran", &reached.ran, 0.58);
    at_least("used the chain index", &reached.indexed, 0.27);
    at_least("had lint claims", &reached.lint_claims, 0.48);
    at_least("had several random outcomes", &reached.branches, 0.05);
}
