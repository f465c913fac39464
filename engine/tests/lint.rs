//! `nfsim::ruleset::lint`: shadowed rules (W0406) and chains never reached (W0407), each
//! case the smallest ruleset that shows it, and every stored real-world ruleset
//! (kube-proxy's vectors, the round-trip dumps, the generated node dump) linted
//! with exactly the warnings listed here.

use nfsim::text::diagnostic::{codes, locate};
use std::path::Path;

/// (code, line, message, hint) of each lint warning; the ruleset must parse cleanly.
fn lint(text: &str) -> Vec<(&'static str, usize, String, String)> {
    let parsed = nfsim::parse(text, None);
    let errors: Vec<_> = parsed.diagnostics.iter().filter(|d| d.is_error()).collect();
    assert!(errors.is_empty(), "{errors:?}");
    let diags = nfsim::ruleset::lint::lint(&parsed.ruleset);
    locate(text, &diags)
        .into_iter()
        .map(|d| {
            assert_eq!(d.line, d.end_line, "one line: {d:?}");
            (d.code, d.line, d.message, d.hint.unwrap_or_default())
        })
        .collect()
}

fn filter(rules: &str) -> String {
    format!("*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n{rules}COMMIT\n")
}

/// The lines of the W0406 warnings, each with the line of the rule that shadows it.
fn shadowed(text: &str) -> Vec<(usize, usize)> {
    lint(text)
        .into_iter()
        .filter(|d| d.0 == codes::SHADOWED_RULE)
        .map(|(_, line, msg, _)| {
            let by = msg
                .split("(line ")
                .nth(1)
                .and_then(|s| s.split(')').next())
                .and_then(|s| s.parse().ok())
                .unwrap();
            (line, by)
        })
        .collect()
}

// Line numbers: *filter is 1, the three policies 2-4, rules from 5.

#[test]
fn identical_rule_is_shadowed_with_a_message_naming_both() {
    let text = filter(concat!(
        "-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT\n",
        "-A INPUT -p udp -m udp --dport 53 -j ACCEPT\n",
        "-A INPUT -p tcp -m tcp --dport 22 -j DROP\n",
    ));
    let got = lint(&text);
    assert_eq!(got.len(), 1, "{got:?}");
    let (code, line, msg, hint) = &got[0];
    assert_eq!(*code, "W0406");
    assert_eq!(*line, 7);
    assert_eq!(
        msg,
        "rule 3 of INPUT can never match: rule 1 (line 5) catches every packet it would"
    );
    assert_eq!(hint, "rule 1 (-j ACCEPT) matches every packet this rule matches, so none gets here; delete this rule, or move it above rule 1");
    // The span is the whole rule line.
    let parsed = nfsim::parse(&text, None);
    let d = &nfsim::ruleset::lint::lint(&parsed.ruleset)[0];
    assert_eq!(
        &text[d.span.lo()..d.span.hi()],
        "-A INPUT -p tcp -m tcp --dport 22 -j DROP"
    );
}

#[test]
fn wider_prefix_shadows() {
    let text = filter(concat!(
        "-A INPUT -s 10.0.0.0/8 -j DROP\n",
        "-A INPUT -s 10.1.2.0/24 -p tcp -m tcp --dport 80 -j ACCEPT\n",
        "-A INPUT -s 11.1.2.0/24 -j ACCEPT\n",
        "-A INPUT -s 0.0.0.0/0 -d 192.0.2.0/24 -j REJECT --reject-with icmp-port-unreachable\n",
        "-A INPUT -d 192.0.2.7/32 -p udp -j ACCEPT\n",
        // Negations: ! -s 10.0.0.0/16 covers ! -s 10.0.0.0/8 (fewer addresses).
        "-A FORWARD ! -s 10.0.0.0/16 -j DROP\n",
        "-A FORWARD ! -s 10.0.0.0/8 -j ACCEPT\n",
        "-A FORWARD -s 10.0.0.0/8 -j ACCEPT\n",
    ));
    assert_eq!(shadowed(&text), vec![(6, 5), (9, 8), (11, 10)]);
}

#[test]
fn wildcard_interface_shadows() {
    let text = filter(concat!(
        "-A FORWARD -i eth+ -o wg0 -j ACCEPT\n",
        "-A FORWARD -i eth0 -o wg0 -p tcp -j DROP\n",
        "-A FORWARD -i eth1+ -o wg0 -j DROP\n",
        "-A FORWARD -i wlan0 -o wg0 -j DROP\n",
        "-A FORWARD -i eth0 -j DROP\n",
        "-A FORWARD -o wg1 -j DROP\n",
        "-A FORWARD -o wg1 -i ppp0 -j ACCEPT\n",
    ));
    assert_eq!(shadowed(&text), vec![(6, 5), (7, 5), (11, 10)]);
}

#[test]
fn port_range_and_multiport_shadow() {
    let text = filter(concat!(
        "-A INPUT -p tcp -m tcp --dport 1000:2000 -j DROP\n",
        "-A INPUT -p tcp -m tcp --dport 1500 -j ACCEPT\n",
        "-A INPUT -p tcp -m tcp --dport 1500:2500 -j ACCEPT\n",
        "-A INPUT -p tcp -m multiport --dports 1200,1300:1400 -j ACCEPT\n",
        "-A INPUT -p udp -m multiport --dports 53,123,5353 -j ACCEPT\n",
        "-A INPUT -p udp -m udp --dport 123 -j DROP\n",
        "-A INPUT -p udp -m udp --sport 123 -j DROP\n",
        "-A INPUT -p tcp -m multiport --ports 8080,8443 -j ACCEPT\n",
        "-A INPUT -p tcp -m tcp --sport 8443 --dport 9 -j DROP\n",
    ));
    // Line 8: multiport after a tcp range: the ranges are inside it, but
    // the earlier rule's tcp match also needs the later rule to have one.
    assert_eq!(shadowed(&text), vec![(6, 5), (10, 9), (13, 12)]);
}

#[test]
fn unconditional_verdict_is_left_to_validation() {
    // Everything after `-j ACCEPT` is validation's W0402, reported once there;
    // lint does not repeat it, but still looks at the rules before it.
    let text = filter(concat!(
        "-A INPUT -i lo -j ACCEPT\n",
        "-A INPUT -i lo -p icmp -j DROP\n",
        "-A INPUT -m comment --comment \"allow the rest\" -j ACCEPT\n",
        "-A INPUT -p tcp -j DROP\n",
        "-A INPUT -j FOO\n",
        ":FOO - [0:0]\n-A FOO -j LOG\n",
    ));
    assert_eq!(shadowed(&text), vec![(6, 5)]);
    let parsed = nfsim::parse(&text, None);
    let w0402: Vec<_> = parsed
        .diagnostics
        .iter()
        .filter(|d| d.code == codes::UNREACHABLE_RULE)
        .collect();
    assert_eq!(w0402.len(), 1);
    // The jump to FOO is after the unconditional ACCEPT: FOO is never reached.
    let got = lint(&text);
    let foo: Vec<_> = got
        .iter()
        .filter(|d| d.0 == codes::UNREACHABLE_CHAIN)
        .collect();
    assert_eq!(foo.len(), 1, "{got:?}");
    assert_eq!(foo[0].1, 10);
    assert_eq!(
        foo[0].2,
        "chain FOO is never reached: no rule that packets reach jumps to it"
    );
    assert_eq!(
        foo[0].3,
        "rule 5 of INPUT (line 9) jumps to it, but that rule can never match"
    );
}

#[test]
fn conditional_catch_all_shadows_everything_it_covers() {
    // Not unconditional (the kernel and validation see a condition), but it
    // matches every tcp packet: each later tcp rule is reported, once.
    let text = filter(concat!(
        "-A INPUT -p tcp -j ACCEPT\n",
        "-A INPUT -p tcp -m tcp --dport 22 -j DROP\n",
        "-A INPUT -p tcp -m tcp --dport 23 -j DROP\n",
        "-A INPUT -p tcp -s 192.0.2.0/24 -j DROP\n",
        "-A INPUT -p udp -j DROP\n",
    ));
    assert_eq!(shadowed(&text), vec![(6, 5), (7, 5), (8, 5)]);
}

#[test]
fn rules_that_do_not_end_the_walk_never_shadow() {
    let text = filter(concat!(
        ":LOGGED - [0:0]\n",
        "-A LOGGED -j LOG --log-prefix \"x \"\n",
        "-A INPUT -p tcp -m tcp --dport 22 -j LOG\n",
        "-A INPUT -p tcp -m tcp --dport 22 -j DROP\n",
        "-A INPUT -p tcp -m tcp --dport 23 -j LOGGED\n",
        "-A INPUT -p tcp -m tcp --dport 23 -j DROP\n",
        "-A FORWARD -p tcp -j MARK --set-xmark 0x1/0xffffffff\n",
        "-A FORWARD -p tcp -j ACCEPT\n",
        "-A FORWARD -p udp\n",
        "-A FORWARD -p udp -j DROP\n",
        "-A FORWARD -p icmp -j TCPMSS --clamp-mss-to-pmtu\n",
    ));
    // The TCPMSS rule is a validation error, not this test's business: drop it.
    let text = text.replace("-A FORWARD -p icmp -j TCPMSS --clamp-mss-to-pmtu\n", "");
    assert_eq!(shadowed(&text), vec![]);
}

#[test]
fn stateful_and_random_matches_never_shadow() {
    let text = filter(concat!(
        "-A INPUT -p tcp -m statistic --mode random --probability 0.50000000000 -j DROP\n",
        "-A INPUT -p tcp -m statistic --mode random --probability 0.50000000000 -j DROP\n",
        "-A INPUT -p udp -m limit --limit 5/sec -j ACCEPT\n",
        "-A INPUT -p udp -m udp --dport 53 -j ACCEPT\n",
        "-A INPUT -p icmp -m recent --rcheck --name x --mask 255.255.255.255 --rsource -j DROP\n",
        "-A INPUT -p icmp -j DROP\n",
        "-A INPUT -m set --match-set blocked src -j DROP\n",
        "-A INPUT -m set --match-set blocked src -j DROP\n",
        "-A INPUT -m statistic --mode nth --every 2 --packet 0 -j ACCEPT\n",
        "-A INPUT -m statistic --mode nth --every 2 --packet 0 -j ACCEPT\n",
        "-A INPUT -p sctp -m u32 --u32 \"0x0&0xf=0x5\" -j DROP\n",
        "-A INPUT -p sctp -j DROP\n",
        // nfacct stops matching while an object with a quota is under it.
        "-A INPUT -p gre -m nfacct --nfacct-name quota1 -j ACCEPT\n",
        "-A INPUT -p gre -m nfacct --nfacct-name quota1 -j ACCEPT\n",
    ));
    assert_eq!(shadowed(&text), vec![]);
}

#[test]
fn different_negations_or_protocols_do_not_shadow() {
    let text = filter(concat!(
        "-A INPUT -s 10.0.0.0/8 -j DROP\n",
        "-A INPUT ! -s 10.0.0.0/8 -j DROP\n",
        "-A INPUT -p tcp -m tcp ! --dport 22 -j DROP\n",
        "-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT\n",
        "-A INPUT -p tcp -m tcp --dport 23 -j ACCEPT\n",
        "-A OUTPUT -p tcp -j ACCEPT\n",
        "-A OUTPUT -p udp -j ACCEPT\n",
        "-A OUTPUT ! -p tcp -j DROP\n",
        "-A OUTPUT -p icmp -j DROP\n",
        "-A FORWARD -m conntrack --ctstate ESTABLISHED -j ACCEPT\n",
        "-A FORWARD -m conntrack ! --ctstate ESTABLISHED -j DROP\n",
        "-A FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n",
    ));
    // Line 9 (`--dport 23`) is caught by `! --dport 22`; line 13 (-p icmp) by
    // `! -p tcp`; the rest differ.
    assert_eq!(shadowed(&text), vec![(9, 7), (13, 12)]);
}

#[test]
fn conntrack_state_sets_and_marks() {
    let text = filter(concat!(
        "-A FORWARD -m state --state RELATED,ESTABLISHED -j ACCEPT\n",
        "-A FORWARD -m conntrack --ctstate ESTABLISHED -m tcp -p tcp -j ACCEPT\n",
        "-A FORWARD -m conntrack --ctstate ESTABLISHED,SNAT -j ACCEPT\n",
        "-A FORWARD -m mark --mark 0x4000/0x4000 -j ACCEPT\n",
        "-A FORWARD -m mark --mark 0x4001 -j ACCEPT\n",
        "-A FORWARD -m mark --mark 0x4000/0xc000 -j DROP\n",
        "-A FORWARD -m mark --mark 0x0/0x4000 -j DROP\n",
    ));
    assert_eq!(shadowed(&text), vec![(6, 5), (9, 8), (10, 8)]);
}

#[test]
fn a_change_in_between_breaks_the_cover() {
    // The MARK rule (direct, or inside a jumped-to chain) may make the third
    // rule match a packet the first did not: no warning.
    let text = filter(concat!(
        ":SETMARK - [0:0]\n",
        "-A SETMARK -j MARK --set-xmark 0x1/0xffffffff\n",
        "-A INPUT -m mark --mark 0x1 -j ACCEPT\n",
        "-A INPUT -j MARK --set-xmark 0x1/0xffffffff\n",
        "-A INPUT -m mark --mark 0x1 -j DROP\n",
        "-A FORWARD -m mark --mark 0x1 -j ACCEPT\n",
        "-A FORWARD -j SETMARK\n",
        "-A FORWARD -m mark --mark 0x1 -j DROP\n",
        // The mark does not matter to an address condition.
        "-A OUTPUT -d 192.0.2.1/32 -j ACCEPT\n",
        "-A OUTPUT -j SETMARK\n",
        "-A OUTPUT -d 192.0.2.1/32 -m mark --mark 0x1 -j DROP\n",
    ));
    assert_eq!(shadowed(&text), vec![(15, 13)]);
}

#[test]
fn every_kind_of_change_breaks_the_covers_that_read_it() {
    let mangle = |rules: &str| {
        format!("*mangle\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n{rules}COMMIT\n")
    };
    // (the rule in between, the condition read): never a warning.
    for (between, cond) in [
        ("-j CONNMARK --restore-mark", "-m mark --mark 0x1"),
        (
            "-j CONNMARK --set-xmark 0x1/0xffffffff",
            "-m connmark --mark 0x1",
        ),
        ("-j CONNMARK --save-mark", "-m connmark --mark 0x1"),
        ("-j TOS --set-tos 0x10/0xff", "-m tos --tos 0x10/0x3f"),
        ("-j DSCP --set-dscp 0x04", "-m dscp --dscp 0x04"),
        ("-j TOS --set-tos 0x10/0xff", "-m dscp --dscp 0x04"),
        (
            "-p tcp -m tcp --tcp-flags SYN,RST SYN -j TCPMSS --set-mss 1400",
            "-p tcp -m tcp --tcp-option 2",
        ),
        (
            "-p tcp -m tcp --tcp-flags SYN,RST SYN -j TCPMSS --set-mss 1400",
            "-m length --length 0:100",
        ),
        ("-j MARKER", "-m mark --mark 0x1"),
        ("-j MARKER2", "-m mark --mark 0x1"),
        (
            "-m u32 --u32 \"0x0&0xf=0x5\" -j TEE --gateway 192.0.2.1",
            "-s 10.0.0.0/8",
        ),
    ] {
        let text = mangle(&format!(
            ":MARKER - [0:0]\n:MARKER2 - [0:0]\n-A MARKER -j MARKER2\n-A MARKER2 -j MARK --set-xmark 0x1/0xffffffff\n\
             -A FORWARD {cond} -j ACCEPT\n-A FORWARD {between}\n-A FORWARD {cond} -j DROP\n"
        ));
        assert_eq!(shadowed(&text), vec![], "{between} / {cond}");
    }
    // In raw, NOTRACK and CT change the conntrack state.
    let raw = "*raw\n:PREROUTING ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n\
        -A PREROUTING -m conntrack --ctstate UNTRACKED -j ACCEPT\n-A PREROUTING -j NOTRACK\n-A PREROUTING -m conntrack --ctstate UNTRACKED -j DROP\n\
        -A OUTPUT -m conntrack --ctstate UNTRACKED -j ACCEPT\n-A OUTPUT -j CT --notrack\n-A OUTPUT -m conntrack --ctstate UNTRACKED -j DROP\nCOMMIT\n";
    assert_eq!(shadowed(raw), vec![]);
    // A change to something else leaves the cover standing.
    let text = mangle("-A FORWARD -m mark --mark 0x1 -j ACCEPT\n-A FORWARD -j TOS --set-tos 0x10/0xff\n-A FORWARD -j LOG\n-A FORWARD -m mark --mark 0x1 -j DROP\n");
    assert_eq!(shadowed(&text), vec![(10, 7)]);
}

#[test]
fn goto_and_nat_targets_end_the_walk() {
    let text = concat!(
        "*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n",
        ":SVC - [0:0]\n",
        "-A PREROUTING -d 10.96.0.1/32 -p tcp -m tcp --dport 443 -g SVC\n",
        "-A PREROUTING -d 10.96.0.1/32 -p tcp -m tcp --dport 443 -j DNAT --to-destination 192.0.2.1\n",
        "-A SVC -p tcp -m tcp -j DNAT --to-destination 192.0.2.10:6443\n",
        "-A SVC -p tcp -m tcp --dport 443 -j DNAT --to-destination 192.0.2.11:6443\n",
        "-A POSTROUTING -o eth0 -j MASQUERADE\n",
        "-A POSTROUTING -o eth0 -s 10.0.0.0/8 -j SNAT --to-source 192.0.2.1\n",
        "COMMIT\n",
    );
    assert_eq!(shadowed(text), vec![(8, 7), (10, 9), (12, 11)]);
}

#[test]
fn unreachable_chain_direct_and_transitive() {
    let text = filter(concat!(
        ":ORPHAN - [0:0]\n",
        ":CHILD - [0:0]\n",
        ":GRANDCHILD - [0:0]\n",
        ":USED - [0:0]\n",
        ":EMPTY - [0:0]\n",
        "-A INPUT -p tcp -j USED\n",
        "-A USED -j RETURN\n",
        "-A ORPHAN -j CHILD\n",
        "-A CHILD -j GRANDCHILD\n",
        "-A GRANDCHILD -j DROP\n",
    ));
    let got = lint(&text);
    let want = vec![
        (
            "W0407",
            5,
            "chain ORPHAN is never reached: no rule jumps to it".to_string(),
            "add a rule with -j ORPHAN to a chain packets pass through, or delete the chain (-X ORPHAN)".to_string(),
        ),
        (
            "W0407",
            6,
            "chain CHILD is never reached: no rule that packets reach jumps to it".to_string(),
            "rule 1 of ORPHAN (line 12) jumps to it, but ORPHAN is never reached either".to_string(),
        ),
        (
            "W0407",
            7,
            "chain GRANDCHILD is never reached: no rule that packets reach jumps to it".to_string(),
            "rule 1 of CHILD (line 13) jumps to it, but CHILD is never reached either".to_string(),
        ),
    ];
    assert_eq!(got, want);
    // The span is the chain's name in its declaration.
    let parsed = nfsim::parse(&text, None);
    let d = &nfsim::ruleset::lint::lint(&parsed.ruleset)[0];
    assert_eq!(&text[d.span.lo()..d.span.hi()], "ORPHAN");
}

#[test]
fn goto_reaches_a_chain() {
    let text = filter(concat!(
        ":VIA-GOTO - [0:0]\n",
        ":NEXT - [0:0]\n",
        "-A INPUT -i eth0 -g VIA-GOTO\n",
        "-A VIA-GOTO -p tcp -g NEXT\n",
        "-A NEXT -j DROP\n",
    ));
    assert_eq!(lint(&text), vec![]);
}

#[test]
fn chain_named_only_by_unreached_chains_or_itself() {
    let text = filter(concat!(
        ":LOOP - [0:0]\n",
        ":A - [0:0]\n",
        ":B - [0:0]\n",
        "-A LOOP -p tcp -j LOOP\n",
        "-A A -j B\n",
        "-A B -j A\n",
    ));
    let got: Vec<_> = lint(&text).into_iter().map(|d| (d.1, d.3)).collect();
    assert_eq!(
        got,
        vec![
            (5, "only its own rule 1 (line 8) jumps to it".to_string()),
            (
                6,
                "rule 1 of B (line 10) jumps to it, but B is never reached either".to_string()
            ),
            (
                7,
                "rule 1 of A (line 9) jumps to it, but A is never reached either".to_string()
            ),
        ]
    );
}

#[test]
fn chain_named_only_by_a_shadowed_rule() {
    let text = filter(concat!(
        ":SSH - [0:0]\n",
        "-A INPUT -p tcp -j ACCEPT\n",
        "-A INPUT -p tcp -m tcp --dport 22 -j SSH\n",
        "-A SSH -j DROP\n",
    ));
    let got = lint(&text);
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!((got[0].0, got[0].1), ("W0407", 5));
    assert_eq!(
        got[0].3,
        "rule 2 of INPUT (line 7) jumps to it, but that rule can never match"
    );
    assert_eq!((got[1].0, got[1].1), ("W0406", 7));
}

#[test]
fn commands_scripts_are_linted_too() {
    // `-I` puts the /32 rule first: then nothing is shadowed.
    let text = concat!(
        "iptables -N BLOCK\n",
        "iptables -A BLOCK -j DROP\n",
        "iptables -A INPUT -s 198.51.100.0/24 -j DROP\n",
        "iptables -A INPUT -s 198.51.100.9 -j ACCEPT\n",
        "iptables -I INPUT -s 198.51.100.10 -j ACCEPT\n",
    );
    let got: Vec<_> = lint(text).into_iter().map(|d| (d.0, d.1, d.2)).collect();
    assert_eq!(
        got,
        vec![
            (
                "W0407",
                1,
                "chain BLOCK is never reached: no rule jumps to it".to_string()
            ),
            (
                "W0406",
                4,
                "rule 3 of INPUT can never match: rule 2 (line 3) catches every packet it would"
                    .to_string()
            ),
        ]
    );
}

fn fixture_rulesets() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut out = Vec::new();
    let mut files: Vec<_> = std::fs::read_dir(root.join("kube-proxy"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    for p in files {
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
        out.push((
            p.file_name().unwrap().to_string_lossy().into_owned(),
            v["ruleset"].as_str().unwrap().to_string(),
        ));
    }
    let mut files: Vec<_> = std::fs::read_dir(root.join("roundtrip"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "in" || x == "out"))
        .collect();
    files.sort();
    for p in files {
        out.push((
            p.file_name().unwrap().to_string_lossy().into_owned(),
            std::fs::read_to_string(&p).unwrap(),
        ));
    }
    out
}

/// What every stored ruleset reports: (file, W0406 count, W0407 chains).
/// Each was read and is true: t01 is kube-proxy's test text without the jumps
/// from the built-in chains (installed outside iptables-restore); the reject
/// and no-endpoint cases have no endpoint chain, so nothing jumps to the
/// KUBE-MARK-MASQ chain kube-proxy always writes; ufw.in is cut down and lacks
/// ufw's jumps from INPUT/OUTPUT/FORWARD; the random dumps are random (their
/// W0406 findings are checked one by one in tests/lint_props.rs).
const FIXTURES: &[(&str, usize, &[&str])] = &[
    (
        "t01_trace_packet.json",
        0,
        &[
            "KUBE-EXTERNAL-SERVICES",
            "KUBE-FIREWALL",
            "KUBE-FORWARD",
            "KUBE-NODEPORTS",
            "KUBE-SERVICES",
            "KUBE-PROXY-FIREWALL",
            "KUBE-EXT-4SW47YFZTEDKD3PK",
            "KUBE-EXT-GNZBNJ2PO5MGZ6GT",
            "KUBE-EXT-NUKIZ6OKUXPJNT4C",
            "KUBE-EXT-X27LE4BHSL4DOUIK",
            "KUBE-FW-NUKIZ6OKUXPJNT4C",
            "KUBE-MARK-MASQ",
            "KUBE-NODEPORTS",
            "KUBE-POSTROUTING",
            "KUBE-SEP-C6EBXVWJJZMIWKLZ",
            "KUBE-SEP-I77PXRDZVX7PMWMN",
            "KUBE-SEP-OYPFS5VJICHGATKP",
            "KUBE-SEP-RS4RBKLTHTF2IUXJ",
            "KUBE-SEP-SXIVWICOYRO3J4NJ",
            "KUBE-SEP-UKSFD7AGPMPPLUHC",
            "KUBE-SERVICES",
            "KUBE-SVC-4SW47YFZTEDKD3PK",
            "KUBE-SVC-GNZBNJ2PO5MGZ6GT",
            "KUBE-SVC-NUKIZ6OKUXPJNT4C",
            "KUBE-SVC-X27LE4BHSL4DOUIK",
            "KUBE-SVC-XPGD46QRK7WJZT7O",
        ],
    ),
    ("t02_clusterip_reject.json", 0, &["KUBE-MARK-MASQ"]),
    ("t06_healthcheck_nodeport.json", 0, &["KUBE-MARK-MASQ"]),
    ("t07_externalips_reject.json", 0, &["KUBE-MARK-MASQ"]),
    ("t10_nodeport_reject.json", 0, &["KUBE-MARK-MASQ"]),
    ("t11_loadbalancer_reject.json", 0, &["KUBE-MARK-MASQ"]),
    ("t15c_itp_local_noendpoints.json", 0, &["KUBE-MARK-MASQ"]),
    ("t16d_term_local_nousable.json", 0, &["KUBE-MARK-MASQ"]),
    ("t17d_term_cluster_nousable.json", 0, &["KUBE-MARK-MASQ"]),
    ("t20_no_endpoints_reject.json", 0, &["KUBE-MARK-MASQ"]),
    ("kube_t02_clusterip_reject.in", 0, &["KUBE-MARK-MASQ"]),
    ("kube_t02_clusterip_reject.out", 0, &["KUBE-MARK-MASQ"]),
    ("kube_t06_healthcheck_nodeport.in", 0, &["KUBE-MARK-MASQ"]),
    ("kube_t06_healthcheck_nodeport.out", 0, &["KUBE-MARK-MASQ"]),
    ("kube_t07_externalips_reject.in", 0, &["KUBE-MARK-MASQ"]),
    ("kube_t07_externalips_reject.out", 0, &["KUBE-MARK-MASQ"]),
    ("kube_t10_nodeport_reject.in", 0, &["KUBE-MARK-MASQ"]),
    ("kube_t10_nodeport_reject.out", 0, &["KUBE-MARK-MASQ"]),
    ("kube_t11_loadbalancer_reject.in", 0, &["KUBE-MARK-MASQ"]),
    ("kube_t11_loadbalancer_reject.out", 0, &["KUBE-MARK-MASQ"]),
    ("kube_t15c_itp_local_noendpoints.in", 0, &["KUBE-MARK-MASQ"]),
    (
        "kube_t15c_itp_local_noendpoints.out",
        0,
        &["KUBE-MARK-MASQ"],
    ),
    ("kube_t16d_term_local_nousable.in", 0, &["KUBE-MARK-MASQ"]),
    ("kube_t16d_term_local_nousable.out", 0, &["KUBE-MARK-MASQ"]),
    ("kube_t17d_term_cluster_nousable.in", 0, &["KUBE-MARK-MASQ"]),
    (
        "kube_t17d_term_cluster_nousable.out",
        0,
        &["KUBE-MARK-MASQ"],
    ),
    ("kube_t20_no_endpoints_reject.in", 0, &["KUBE-MARK-MASQ"]),
    ("kube_t20_no_endpoints_reject.out", 0, &["KUBE-MARK-MASQ"]),
    // `--icmp-type any` then `--icmp-type 11`; A-CHAIN has no jump to it.
    ("probe_matches.in", 1, &["A-CHAIN"]),
    ("probe_matches.out", 1, &["A-CHAIN"]),
    // `-o eth0 -j MASQUERADE` then `-o eth0 -p tcp -j MASQUERADE ...`.
    ("probe_targets.in", 1, &["KUBE-SEP-X"]),
    ("probe_targets.out", 1, &["KUBE-SEP-X"]),
    ("random99_filter.in", 82, &[]),
    ("random99_filter.out", 82, &[]),
    ("random99_mangle.in", 65, &[]),
    ("random99_mangle.out", 65, &[]),
    // USERCHAIN: only its own (shadowed) rule 12 jumps to it.
    ("random99_nat.in", 51, &["USERCHAIN"]),
    ("random99_nat.out", 51, &["USERCHAIN"]),
    ("random99_raw.in", 21, &[]),
    ("random99_raw.out", 21, &[]),
    ("random_filter.in", 34, &[]),
    ("random_filter.out", 34, &[]),
    ("random_mangle.in", 18, &[]),
    ("random_mangle.out", 18, &[]),
    ("random_nat.in", 18, &[]),
    ("random_nat.out", 18, &[]),
    ("random_raw.in", 44, &[]),
    ("random_raw.out", 44, &[]),
    (
        "ufw.in",
        0,
        &[
            "ufw-before-input",
            "ufw-before-output",
            "ufw-before-forward",
            "ufw-not-local",
            "ufw-user-limit",
            "ufw-user-limit-accept",
            "ufw-after-input",
        ],
    ),
    // The export branch's probe of every extension: written to exercise the
    // translator, not as a firewall; each finding checked by hand (`-i +`
    // catches every interface, `! -d 10.1.0.0/255.255.0.255` every address
    // outside that pattern, ...).
    ("nft_probe.in", 69, &["probe-user", "ZZ", "SVC"]),
    // iptables-save drops the lone `-i +`: that rule is unconditional in the
    // dump, so the validator's W0402 covers what follows it, not lint.
    ("nft_probe.out", 0, &["SVC", "ZZ", "probe-user"]),
    (
        "ufw.out",
        0,
        &[
            "ufw-after-input",
            "ufw-before-forward",
            "ufw-before-input",
            "ufw-before-output",
            "ufw-not-local",
            "ufw-user-limit",
            "ufw-user-limit-accept",
        ],
    ),
];

#[test]
fn every_fixture_lints_as_recorded() {
    let all = fixture_rulesets();
    assert!(all.len() > 80);
    for (name, text) in &all {
        let parsed = nfsim::parse(text, None);
        let diags = nfsim::ruleset::lint::lint(&parsed.ruleset);
        let shadowed = diags
            .iter()
            .filter(|d| d.code == codes::SHADOWED_RULE)
            .count();
        let chains: Vec<&str> = diags
            .iter()
            .filter(|d| d.code == codes::UNREACHABLE_CHAIN)
            .map(|d| &text[d.span.lo()..d.span.hi()])
            .collect();
        let want = FIXTURES
            .iter()
            .find(|f| f.0 == name)
            .map_or((0, &[][..]), |f| (f.1, f.2));
        assert_eq!((shadowed, &chains[..]), want, "{name}");
        assert_eq!(diags.len(), shadowed + chains.len());
        // Deterministic.
        assert_eq!(diags, nfsim::ruleset::lint::lint(&parsed.ruleset));
    }
}

#[path = "../benches/support/kubegen.rs"]
mod kubegen;

#[test]
fn generated_kube_proxy_dump_is_clean() {
    let text = kubegen::kube_dump(2000, 3);
    assert_eq!(lint(&text), vec![]);
}
