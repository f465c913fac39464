//! The CLI contract, exactly as the issue states it: exit codes, the terminal
//! diagnostic form, the JSON shape, `fmt` output and `--input`.

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn nfsim(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_nfsim"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut pipe = child.stdin.take().unwrap();
    // A usage error may exit before reading its input: a broken pipe is fine.
    let _ = pipe.write_all(stdin.unwrap_or("").as_bytes());
    drop(pipe);
    child.wait_with_output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

const GOOD: &str = "*filter\n:INPUT DROP [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n-A INPUT -p tcp --dport 22 -j ACCEPT\nCOMMIT\n";
const BAD: &str = "*filter\n:INPUT DROP [0:0]\n-A INPUT -p tcp --dprot 22 -j ACCEPT\n-A INPUT -j NOWHERE\nCOMMIT\n";

#[test]
fn check_exit_codes() {
    assert_eq!(nfsim(&["check", "-"], Some(GOOD)).status.code(), Some(0));
    assert_eq!(nfsim(&["check", "-"], Some(BAD)).status.code(), Some(1));
    let warn_only = "*filter\n:X - [0:0]\n-A X -j RETURN\n-A X -j ACCEPT\nCOMMIT\n";
    let out = nfsim(&["check", "-"], Some(warn_only));
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stderr).contains("warning[W0402]"));
    assert_eq!(
        nfsim(&["check", "/nonexistent/rules.v4"], None)
            .status
            .code(),
        Some(2)
    );
    assert_eq!(nfsim(&["check"], None).status.code(), Some(2));
    assert_eq!(nfsim(&["frobnicate", "-"], None).status.code(), Some(2));
    assert_eq!(
        nfsim(&["check", "--format", "yaml", "-"], None)
            .status
            .code(),
        Some(2)
    );
}

#[test]
fn check_prints_terminal_diagnostics_on_stderr() {
    let dir = std::env::temp_dir().join(format!("nfsim-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("rules.v4");
    std::fs::write(&file, BAD).unwrap();
    let out = nfsim(&["check", file.to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let err = text(&out.stderr);
    let first = err.lines().next().unwrap();
    assert_eq!(
        first,
        format!(
            "{}:3:17: error[E0101]: unknown option \"--dprot\"",
            file.display()
        )
    );
    assert!(err.contains("   3 | -A INPUT -p tcp --dprot 22 -j ACCEPT\n     |                 ^^^^^^^\n     = hint: did you mean \"--dport\"?\n"), "{err}");
    assert!(
        err.contains(":4:10: error[E0301]: Couldn't load target `NOWHERE'"),
        "{err}"
    );
}

#[test]
fn check_json_has_exactly_the_contract_shape() {
    let out = nfsim(&["check", "--format", "json", "-"], Some(BAD));
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, ["diagnostics", "summary"]);
    let d = &v["diagnostics"][0];
    let keys: Vec<&str> = d.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "severity",
            "code",
            "message",
            "line",
            "column",
            "end_line",
            "end_column"
        ]
    );
    assert_eq!(d["severity"], "error");
    assert_eq!(d["code"], "E0101");
    assert_eq!(d["message"], "unknown option \"--dprot\"");
    assert_eq!(
        (d["line"].as_u64(), d["column"].as_u64()),
        (Some(3), Some(17))
    );
    assert_eq!(
        (d["end_line"].as_u64(), d["end_column"].as_u64()),
        (Some(3), Some(24))
    );
    assert_eq!(v["diagnostics"].as_array().unwrap().len(), 2);
    // The summary counts what loaded: the rule with the bad option did not.
    assert_eq!(
        v["summary"],
        serde_json::json!({"tables": 1, "chains": 3, "rules": 1})
    );

    let ok = nfsim(&["check", "--format", "json", "-"], Some(GOOD));
    assert_eq!(ok.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&ok.stdout).unwrap();
    assert_eq!(v["diagnostics"], serde_json::json!([]));
    assert_eq!(
        v["summary"],
        serde_json::json!({"tables": 1, "chains": 3, "rules": 1})
    );
}

/// A ruleset that loads, with a rule that can never match and a chain only it jumps to.
const LINTED: &str = "*filter\n:INPUT DROP [0:0]\n:SSH - [0:0]\n-A INPUT -p tcp -j ACCEPT\n-A INPUT -p tcp -m tcp --dport 22 -j SSH\n-A SSH -s 10.0.0.0/8 -j ACCEPT\n-A SSH -j DROP\n-A SSH -j LOG\nCOMMIT\n";

#[test]
fn check_lint_adds_warnings_in_both_formats() {
    // Without --lint: only validation's warning (the LOG after `-j DROP`).
    let plain = nfsim(&["check", "-"], Some(LINTED));
    assert_eq!(plain.status.code(), Some(0));
    let err = text(&plain.stderr);
    assert!(
        err.contains("warning[W0402]") && !err.contains("W0406") && !err.contains("W0407"),
        "{err}"
    );

    let out = nfsim(&["check", "--lint", "-"], Some(LINTED));
    assert_eq!(
        out.status.code(),
        Some(0),
        "warnings do not change the exit status"
    );
    assert!(out.stdout.is_empty());
    let err = text(&out.stderr);
    assert!(err.starts_with(concat!(
        "<stdin>:3:2: warning[W0407]: chain SSH is never reached: no rule that packets reach jumps to it\n",
        "   3 | :SSH - [0:0]\n",
        "     |  ^^^\n",
        "     = hint: rule 2 of INPUT (line 5) jumps to it, but that rule can never match\n",
        "<stdin>:5:1: warning[W0406]: rule 2 of INPUT can never match: rule 1 (line 4) catches every packet it would\n",
        "   5 | -A INPUT -p tcp -m tcp --dport 22 -j SSH\n",
        "     | ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^\n",
        "     = hint: rule 1 (-j ACCEPT) matches every packet this rule matches, so none gets here; delete this rule, or move it above rule 1\n",
    )), "{err}");
    // Merged with validation's, in position order.
    assert!(
        err.ends_with("= hint: the rule at line 7 matches every packet and ends with -j DROP\n"),
        "{err}"
    );

    let json = nfsim(&["check", "--lint", "--format", "json", "-"], Some(LINTED));
    assert_eq!(json.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let codes: Vec<(&str, u64)> = v["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["code"].as_str().unwrap(), d["line"].as_u64().unwrap()))
        .collect();
    assert_eq!(codes, [("W0407", 3), ("W0406", 5), ("W0402", 8)]);
    assert_eq!(v["diagnostics"][1]["end_column"], 41);

    // A ruleset with errors is not linted (its failed rules are missing).
    let bad = nfsim(&["check", "--lint", "-"], Some(BAD));
    assert_eq!(bad.status.code(), Some(1));
    assert!(!text(&bad.stderr).contains("warning[W04"));
    // --lint is check's.
    assert_eq!(
        nfsim(&["fmt", "--lint", "-"], Some(GOOD)).status.code(),
        Some(2)
    );
}

#[test]
fn fmt_prints_the_canonical_rendering() {
    let out = nfsim(&["fmt", "-"], Some(GOOD));
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        text(&out.stdout),
        "*filter\n:INPUT DROP [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT\nCOMMIT\n"
    );
    let bad = nfsim(&["fmt", "-"], Some(BAD));
    assert_eq!(bad.status.code(), Some(1));
    assert!(bad.stdout.is_empty());
    assert!(text(&bad.stderr).contains("error[E0101]"));
}

#[test]
fn fmt_writes_commands_or_nftables_on_request() {
    // The default and `--output save` are the canonical rendering, byte for byte.
    let save = nfsim(&["fmt", "--output", "save", "-"], Some(GOOD));
    assert_eq!(save.stdout, nfsim(&["fmt", "-"], Some(GOOD)).stdout);
    let commands = nfsim(&["fmt", "--output=commands", "-"], Some(GOOD));
    assert_eq!(commands.status.code(), Some(0));
    assert_eq!(
        text(&commands.stdout),
        "#!/bin/sh\n\
         iptables -t filter -P INPUT DROP\n\
         iptables -t filter -P FORWARD ACCEPT\n\
         iptables -t filter -P OUTPUT ACCEPT\n\
         iptables -t filter -A INPUT -p tcp -m tcp --dport 22 -j ACCEPT\n"
    );
    let nft = nfsim(&["fmt", "--output", "nft", "-"], Some(GOOD));
    assert_eq!(nft.status.code(), Some(0));
    assert_eq!(
        text(&nft.stdout),
        "add table ip filter\n\
         add chain ip filter INPUT { type filter hook input priority 0; policy drop; }\n\
         add chain ip filter FORWARD { type filter hook forward priority 0; policy accept; }\n\
         add chain ip filter OUTPUT { type filter hook output priority 0; policy accept; }\n\
         add rule ip filter INPUT tcp dport 22 counter accept\n"
    );
    // Errors still print nothing; a bad value or a misplaced flag is a usage error.
    let bad = nfsim(&["fmt", "--output", "nft", "-"], Some(BAD));
    assert_eq!(bad.status.code(), Some(1));
    assert!(bad.stdout.is_empty());
    assert_eq!(
        nfsim(&["fmt", "--output", "xml", "-"], Some(GOOD))
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        nfsim(&["check", "--output", "nft", "-"], Some(GOOD))
            .status
            .code(),
        Some(2)
    );
}

#[test]
fn input_format_can_be_forced() {
    let script = "iptables -A INPUT -s 192.0.2.1 -j DROP\n";
    let out = nfsim(&["fmt", "--input", "commands", "-"], Some(script));
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stdout).contains("-A INPUT -s 192.0.2.1/32 -j DROP\n"));
    // The same text read as iptables-save is a line outside any table.
    let forced = nfsim(&["check", "--input", "save", "-"], Some(script));
    assert_eq!(forced.status.code(), Some(1));
    assert!(text(&forced.stderr).contains("error[E0201]"));
    assert_eq!(
        nfsim(&["check", "--input", "xml", "-"], Some(script))
            .status
            .code(),
        Some(2)
    );
}

fn scenario() -> String {
    std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../engine/tests/fixtures/scenarios/kube_nodeport.json"
    ))
    .unwrap()
}

#[test]
fn trace_json_has_the_contract_shape() {
    let out = nfsim(&["trace", "--format", "json", "-"], Some(&scenario()));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let packets = v["packets"].as_array().unwrap();
    assert_eq!(packets.len(), 2);
    let steps = packets[0]["steps"].as_array().unwrap();
    let rule = steps
        .iter()
        .find(|s| s["kind"] == "rule" && s["chain"] == "KUBE-NODEPORTS" && s["rule"] == 2)
        .unwrap();
    assert_eq!(rule["hook"], "PREROUTING");
    assert_eq!(rule["table"], "nat");
    assert_eq!(rule["line"], 59);
    assert_eq!(rule["matched"], true);
    assert_eq!(rule["target"], "KUBE-SVC-JKOCBQALQGD3X3RT");
    assert_eq!(rule["verdict"], "jump");
    assert!(rule["reason"].is_string());
    let miss = steps
        .iter()
        .find(|s| s["kind"] == "rule" && s["matched"] == false)
        .unwrap();
    assert_eq!(miss["failed"], "-d 192.0.2.100/32");
    let policy = steps.iter().find(|s| s["kind"] == "policy").unwrap();
    assert_eq!(
        (
            policy["hook"].as_str(),
            policy["table"].as_str(),
            policy["verdict"].as_str()
        ),
        (Some("PREROUTING"), Some("mangle"), Some("accept"))
    );
    let ret = steps.iter().find(|s| s["kind"] == "return").unwrap();
    assert_eq!(ret["chain"], "KUBE-MARK-MASQ");
    assert!(
        steps.iter().any(|s| s["kind"] == "routing")
            && steps.iter().any(|s| s["kind"] == "conntrack")
            && steps.iter().any(|s| s["kind"] == "nat")
    );
    assert_eq!(
        packets[0]["fate"],
        serde_json::json!({"result": "forwarded", "oif": "eth1"})
    );
    let out0 = &packets[0]["packet_out"];
    assert_eq!(
        (
            out0["src"].as_str(),
            out0["protocol"].as_str(),
            out0["dport"].as_u64()
        ),
        (Some("203.0.113.1"), Some("tcp"), Some(80))
    );
    // Deterministic: the same scenario and seed give the same bytes.
    let again = nfsim(&["trace", "--format", "json", "-"], Some(&scenario()));
    assert_eq!(out.stdout, again.stdout);
}

#[test]
fn trace_all_branches_and_text() {
    let out = nfsim(
        &["trace", "--all-branches", "--format", "json", "-"],
        Some(&scenario()),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let outcomes = v["outcomes"].as_array().unwrap();
    assert_eq!(outcomes.len(), 3);
    for o in outcomes {
        assert!((o["probability"].as_f64().unwrap() - 1.0 / 3.0).abs() < 1e-9);
        assert_eq!(o["packets"].as_array().unwrap().len(), 2);
    }
    let t = nfsim(&["trace", "--seed", "3", "-"], Some(&scenario()));
    assert_eq!(t.status.code(), Some(0));
    let s = text(&t.stdout);
    assert!(s.starts_with("packet 0\n"), "{s}");
    assert!(
        s.contains("nat/KUBE-NODEPORTS rule 2 (line 59): match -> jump KUBE-SVC-JKOCBQALQGD3X3RT"),
        "{s}"
    );
    assert!(s.contains("=> forwarded via eth1"), "{s}");
    // Errors: a broken ruleset is shown with its diagnostics; usage errors exit 2.
    let broken = scenario().replacen(
        "-j MARK --set-xmark 0x4000/0x4000",
        "-j MARK --set-xmork 0x4000/0x4000",
        1,
    );
    let b = nfsim(&["trace", "-"], Some(&broken));
    assert_eq!(b.status.code(), Some(1));
    assert!(
        text(&b.stderr).contains("error[E0101]: unknown option \"--set-xmork\""),
        "{}",
        text(&b.stderr)
    );
    assert_eq!(
        nfsim(&["check", "--seed", "1", "-"], Some(""))
            .status
            .code(),
        Some(2)
    );
}

#[test]
fn trace_choices_replays_each_branch_all_branches_lists() {
    let all = nfsim(
        &["trace", "--all-branches", "--format", "json", "-"],
        Some(&scenario()),
    );
    let v: serde_json::Value = serde_json::from_slice(&all.stdout).unwrap();
    let outcomes = v["outcomes"].as_array().unwrap();
    // Three endpoints: 1/3 for the first, then 1/2 of the rest, then the last.
    let listed: Vec<&str> = outcomes
        .iter()
        .map(|o| o["choices"].as_str().unwrap())
        .collect();
    assert_eq!(listed, ["1", "01", "00"]);
    let mut endpoints = std::collections::BTreeSet::new();
    for o in outcomes {
        let bits = o["choices"].as_str().unwrap();
        let one = nfsim(
            &["trace", "--choices", bits, "--format", "json", "-"],
            Some(&scenario()),
        );
        assert_eq!(one.status.code(), Some(0), "{}", text(&one.stderr));
        let b: serde_json::Value = serde_json::from_slice(&one.stdout).unwrap();
        assert_eq!(b["packets"], o["packets"], "--choices {bits}");
        assert_eq!(b["probability"], o["probability"], "--choices {bits}");
        let made: String = b["choices"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                // Every draw is made for the first packet (the reply follows its connection).
                assert_eq!(c["packet"], 0, "{c}");
                if c["matched"].as_bool().unwrap() {
                    '1'
                } else {
                    '0'
                }
            })
            .collect();
        assert_eq!(made, bits);
        endpoints.insert(b["packets"][0]["packet_out"]["dst"].to_string());
    }
    assert_eq!(endpoints.len(), 3, "{endpoints:?}");
    // Text: the branch's choices head the trace.
    let t = nfsim(&["trace", "--choices", "01", "-"], Some(&scenario()));
    assert!(
        text(&t.stdout).starts_with("choices '01' (probability 0.333333)\npacket 0\n"),
        "{}",
        text(&t.stdout)
    );
    let bad = nfsim(&["trace", "--choices", "012", "-"], Some(&scenario()));
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        text(&bad.stderr).contains("expected 0 or 1 for each choice, found '2'"),
        "{}",
        text(&bad.stderr)
    );
}

#[test]
fn trace_batch_counts_rules_fates_and_endpoints() {
    let out = nfsim(
        &["trace", "--batch", "3000", "--format", "json", "-"],
        Some(&scenario()),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let b = &v["batch"];
    assert_eq!(b["packets"], 3000);
    assert_eq!(b["fates"], serde_json::json!({"forwarded": 3000}));
    let ends = b["endpoints"].as_object().unwrap();
    assert_eq!(ends.len(), 3);
    for (e, n) in ends {
        let share = n.as_f64().unwrap() / 3000.0;
        assert!((share - 1.0 / 3.0).abs() < 0.04, "{e}: {share}");
    }
    let svc_rule_2 = b["counters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["chain"] == "KUBE-SVC-JKOCBQALQGD3X3RT" && c["rule"] == 2)
        .unwrap();
    assert_eq!(svc_rule_2["line"], 72);
    assert_eq!(svc_rule_2["packets"], ends["203.0.113.10:80"]);
    assert_eq!(
        nfsim(&["trace", "--batch", "0", "-"], Some(&scenario()))
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        nfsim(
            &["trace", "--batch", "5", "--all-branches", "-"],
            Some(&scenario())
        )
        .status
        .code(),
        Some(2)
    );
}

#[test]
fn files_and_redirected_stdin_read_like_a_pipe() {
    // A file is mapped, stdin redirected from a file too; a pipe is read. All
    // three give the same text, multi-byte characters kept and invalid bytes
    // replaced (U+FFFD) rather than refused. Large enough for the two-half
    // UTF-8 check, with a multi-byte character on each side of the middle.
    let dir = std::env::temp_dir().join(format!("nfsim-cli-map-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut body = String::from("*filter\n:INPUT ACCEPT [0:0]\n");
    for i in 0..20_000 {
        body.push_str(&format!(
            "-A INPUT -s 192.0.2.{} -m comment --comment \"café {i}\" -j ACCEPT\n",
            i % 250
        ));
    }
    body.push_str("COMMIT\n");
    assert!(body.len() > 1 << 20);
    let mut bad = body.clone().into_bytes();
    let at = "*filter\n:INPUT ACCEPT [0:0]\n".len();
    bad.splice(at..at, [b'#', b' ', 0xe9, b'\n']); // a Latin-1 byte in a comment line
    for (name, bytes) in [("good.rules", body.as_bytes()), ("bad.rules", &bad[..])] {
        let file = dir.join(name);
        std::fs::write(&file, bytes).unwrap();
        let path = file.to_str().unwrap();
        let mapped = nfsim(&["fmt", path], None);
        let redirected = Command::new(env!("CARGO_BIN_EXE_nfsim"))
            .args(["fmt", "-"])
            .stdin(std::fs::File::open(&file).unwrap())
            .output()
            .unwrap();
        let lossy = String::from_utf8_lossy(bytes).into_owned();
        let piped = nfsim(&["fmt", "-"], Some(&lossy));
        assert_eq!(
            mapped.status.code(),
            Some(0),
            "{name}: {}",
            text(&mapped.stderr)
        );
        assert_eq!(text(&mapped.stdout), text(&piped.stdout), "{name}");
        assert_eq!(text(&redirected.stdout), text(&piped.stdout), "{name}");
        assert!(text(&mapped.stdout).contains("café 19999"));
    }
    let empty = dir.join("empty.rules");
    std::fs::write(&empty, "").unwrap();
    assert_eq!(
        nfsim(&["check", empty.to_str().unwrap()], None)
            .status
            .code(),
        Some(0)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn trace_backend_orders_the_security_table() {
    // nat INPUT (100) rewrites the source; security INPUT runs at 50 with
    // iptables-legacy (before it) and at 150 with iptables-nft (after it).
    let ruleset = "*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n-A INPUT -p tcp -j SNAT --to-source 192.0.2.7\nCOMMIT\n*security\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n-A INPUT -s 192.0.2.7/32 -j DROP\nCOMMIT\n";
    let scenario = |backend: Option<&str>| {
        let mut v = serde_json::json!({
            "version": 1, "ruleset": ruleset,
            "host": {"interfaces": [{"name": "eth0", "addresses": ["198.51.100.1/24"]}]},
            "packets": [{"from": "eth0", "src": "198.51.100.2", "dst": "198.51.100.1", "dport": 22}]
        });
        if let Some(b) = backend {
            v["backend"] = b.into();
        }
        v.to_string()
    };
    let fate = |args: &[&str], s: &str| {
        let out = nfsim(args, Some(s));
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        v["packets"][0]["fate"]["result"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let json = ["trace", "--format", "json", "-"];
    // The default is nft: security sees the translated source and drops it.
    assert_eq!(fate(&json, &scenario(None)), "dropped");
    assert_eq!(fate(&json, &scenario(Some("legacy"))), "delivered-local");
    // --backend overrides the file.
    let legacy = ["trace", "--backend", "legacy", "--format", "json", "-"];
    assert_eq!(fate(&legacy, &scenario(Some("nft"))), "delivered-local");
    let nft = ["trace", "--backend=nft", "--format", "json", "-"];
    assert_eq!(fate(&nft, &scenario(Some("legacy"))), "dropped");
    let bad = nfsim(&["trace", "--backend", "xt", "-"], Some(&scenario(None)));
    assert_eq!(bad.status.code(), Some(2));
    let misplaced = nfsim(&["check", "--backend", "nft", "-"], Some(""));
    assert_eq!(misplaced.status.code(), Some(2));
    let unknown = scenario(Some("iptables"));
    assert_eq!(
        nfsim(&["trace", "-"], Some(&unknown)).status.code(),
        Some(1)
    );
}

#[test]
fn help_and_version_go_to_stdout_and_exit_0() {
    for args in [
        &["--help"][..],
        &["-h"],
        &["check", "--help"],
        &["fmt", "-h"],
        &["trace", "--help"],
        &["help", "trace"],
    ] {
        let out = nfsim(args, None);
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        assert!(out.stderr.is_empty(), "{args:?}: {}", text(&out.stderr));
        assert!(text(&out.stdout).contains("Usage: nfsim"), "{args:?}");
    }
    let top = text(&nfsim(&["--help"], None).stdout);
    for command in ["check", "fmt", "trace"] {
        assert!(top.contains(&format!("  {command} ")), "{top}");
    }
    assert!(top.contains("Exit status: 0 no errors"), "{top}");
    let trace = text(&nfsim(&["trace", "--help"], None).stdout);
    for flag in [
        "--seed",
        "--backend",
        "--all-branches",
        "--batch",
        "--format",
    ] {
        assert!(trace.contains(flag), "{trace}");
    }
    let version = nfsim(&["--version"], None);
    assert_eq!(version.status.code(), Some(0));
    assert_eq!(
        text(&version.stdout),
        format!("nfsim {}\n", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn usage_errors_go_to_stderr_and_exit_2() {
    // No command: the help, on stderr.
    let none = nfsim(&[], None);
    assert_eq!(none.status.code(), Some(2));
    assert!(none.stdout.is_empty());
    assert!(text(&none.stderr).contains("Usage: nfsim <COMMAND>"));
    for args in [
        &["check", "a", "b"][..],
        &["fmt", "--format", "json", "-"],
        &["trace", "--input", "save", "-"],
        &["trace", "--seed", "x", "-"],
        &["check", "--lint=yes", "-"],
    ] {
        let out = nfsim(args, Some(""));
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(out.stdout.is_empty(), "{args:?}");
        let err = text(&out.stderr);
        assert!(err.contains("try '--help'"), "{args:?}: {err}");
    }
    // Two exclusive modes: the error names both.
    let both = nfsim(&["trace", "--all-branches", "--batch", "5", "-"], Some(""));
    assert_eq!(both.status.code(), Some(2));
    let err = text(&both.stderr);
    assert!(
        err.contains("'--all-branches'")
            && err.contains("'--batch <N>'")
            && err.contains("cannot be used with"),
        "{err}"
    );
    // A repeated option takes its last value, as before clap.
    let out = nfsim(
        &["check", "--format", "text", "--format", "json", "-"],
        Some(GOOD),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).starts_with("{\n"));
}
