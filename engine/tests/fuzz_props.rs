//! Property tests over generated token soups (the fuzzing that runs in CI; the
//! cargo-fuzz target in `engine/fuzz/` runs the same properties for longer).
//!
//! For any input: parsing and linting never panic; every diagnostic's span
//! (lint's too) lies inside the text; and whatever parses without errors
//! renders to text that parses again without errors and renders identically
//! (the renderer is a fixed point).

use proptest::prelude::*;

const WORDS: &[&str] = &[
    "*filter",
    "*nat",
    "*mangle",
    "*raw",
    "*security",
    "*bogus",
    "COMMIT",
    ":INPUT",
    ":FORWARD",
    ":OUTPUT",
    ":PREROUTING",
    ":POSTROUTING",
    ":X",
    ":KUBE-SVC-ABC",
    "ACCEPT",
    "DROP",
    "-",
    "[0:0]",
    "[1:2]",
    "[x:y]",
    "-A",
    "-I",
    "-R",
    "-D",
    "-N",
    "-X",
    "-F",
    "-P",
    "-E",
    "-Z",
    "-t",
    "INPUT",
    "OUTPUT",
    "X",
    "KUBE-SVC-ABC",
    "-s",
    "-d",
    "!",
    "-i",
    "-o",
    "eth0",
    "eth+",
    "lo",
    "-p",
    "tcp",
    "udp",
    "icmp",
    "sctp",
    "all",
    "47",
    "-f",
    "-m",
    "-j",
    "-g",
    "--dport",
    "--sport",
    "22",
    "1:1024",
    "65536",
    ":80",
    "ssh",
    "--syn",
    "--tcp-flags",
    "SYN,ACK",
    "ALL",
    "NONE",
    "--tcp-option",
    "comment",
    "--comment",
    "\"a b\"",
    "\"un",
    "\"\\\"q\\\"\"",
    "statistic",
    "--mode",
    "random",
    "nth",
    "--probability",
    "0.5",
    "1.5",
    "--every",
    "--packet",
    "3",
    "0",
    "conntrack",
    "--ctstate",
    "NEW,ESTABLISHED",
    "INVALID",
    "--ctproto",
    "--ctorigdst",
    "--ctdir",
    "REPLY",
    "state",
    "--state",
    "mark",
    "--mark",
    "0x4000/0x4000",
    "0xzz",
    "multiport",
    "--dports",
    "80,443",
    "addrtype",
    "--dst-type",
    "LOCAL",
    "--src-type",
    "limit",
    "--limit",
    "3/min",
    "--limit-burst",
    "recent",
    "--set",
    "--rcheck",
    "--seconds",
    "--name",
    "set",
    "--match-set",
    "s",
    "src,dst",
    "owner",
    "--uid-owner",
    "1000",
    "icmp",
    "--icmp-type",
    "echo-request",
    "3/3",
    "any",
    "u32",
    "--u32",
    "0>>22",
    "MARK",
    "--set-xmark",
    "--set-mark",
    "0x1",
    "CONNMARK",
    "--save-mark",
    "--restore-mark",
    "--mask",
    "DNAT",
    "--to-destination",
    "192.0.2.1:80",
    "192.0.2.1-192.0.2.9:80-90",
    "SNAT",
    "--to-source",
    "MASQUERADE",
    "--to-ports",
    "1024-2048",
    "--random-fully",
    "REDIRECT",
    "REJECT",
    "--reject-with",
    "tcp-reset",
    "LOG",
    "--log-prefix",
    "--log-level",
    "NFLOG",
    "--nflog-group",
    "CT",
    "--notrack",
    "NOTRACK",
    "TRACE",
    "NFQUEUE",
    "--queue-num",
    "TCPMSS",
    "--clamp-mss-to-pmtu",
    "TPROXY",
    "--on-port",
    "RETURN",
    "QUEUE",
    "192.0.2.1",
    "10.0.0.0/8",
    "1.2.3.4/255.0.255.0",
    "300.1.1.1",
    "1.2.3",
    "/33",
    "iptables",
    "sudo",
    "#",
    "\\",
    "'q'",
    "\u{e9}",
    "\t",
    "",
];

fn soup() -> impl Strategy<Value = String> {
    let word = prop_oneof![
        8 => prop::sample::select(WORDS).prop_map(str::to_string),
        1 => "[ -~]{0,12}",
        1 => any::<String>().prop_map(|s| s.chars().take(8).collect()),
    ];
    let line = prop::collection::vec(word, 0..14).prop_map(|w| w.join(" "));
    prop::collection::vec(line, 0..24).prop_map(|l| l.join("\n"))
}

/// Lines that look like real rules, so that many soups parse cleanly and the
/// round-trip property gets exercised, not only the error paths.
fn plausible() -> impl Strategy<Value = String> {
    let opt = prop::sample::select(
        &[
            "-s 192.0.2.0/24",
            "! -d 198.51.100.7",
            "-i eth0",
            "-p tcp --dport 22",
            "-p udp -m udp --sport 53",
            "-p tcp -m multiport --dports 80,443",
            "-m comment --comment \"x y\"",
            "-m mark --mark 0x1/0xff",
            "-m conntrack --ctstate NEW",
            "-m statistic --mode random --probability 0.25",
            "-m limit --limit 5/sec",
            "-p icmp --icmp-type 8",
            "-m addrtype --dst-type LOCAL",
            "-m u32 --u32 \"0>>22&0x3C@0>>16=0x50\"",
        ][..],
    );
    let target = prop::sample::select(
        &[
            "-j ACCEPT",
            "-j DROP",
            "-j RETURN",
            "-j X",
            "-g X",
            "-j LOG --log-prefix \"p: \"",
            "-j MARK --set-mark 1",
            "",
        ][..],
    );
    let rule = (
        prop::sample::select(&["INPUT", "FORWARD", "OUTPUT", "X"][..]),
        prop::collection::vec(opt, 0..4),
        target,
    )
        .prop_map(|(c, o, t)| format!("-A {c} {} {t}", o.join(" ")));
    prop::collection::vec(rule, 0..12).prop_map(|r| {
        format!(
            "*filter\n:INPUT DROP [0:0]\n:X - [0:0]\n{}\nCOMMIT\n",
            r.join("\n")
        )
    })
}

fn check(text: &str) -> Result<(), TestCaseError> {
    for format in [
        None,
        Some(nfsim::InputFormat::Save),
        Some(nfsim::InputFormat::Commands),
    ] {
        let parsed = nfsim::parse(text, format);
        // Several threads, cutting the text into tiny blocks, read it the same.
        let split = nfsim::parse_with(
            text,
            format,
            nfsim::ParseOptions {
                threads: 2,
                block: 16,
            },
        );
        prop_assert!(
            split == parsed,
            "two threads read this differently from one"
        );
        for d in &parsed.diagnostics {
            prop_assert!(
                d.span.lo() <= d.span.hi() && d.span.hi() <= text.len(),
                "span {:?} outside {} bytes",
                d.span,
                text.len()
            );
            prop_assert!(text.is_char_boundary(d.span.lo()) && text.is_char_boundary(d.span.hi()));
        }
        // Rendering the diagnostics must not panic either.
        let _ = nfsim::text::diagnostic::render_terminal("soup", text, &parsed.diagnostics);
        // Nor linting whatever was read, with spans inside the text.
        let lint = nfsim::ruleset::lint::lint(&parsed.ruleset);
        for d in &lint {
            prop_assert!(d.span.lo() <= d.span.hi() && d.span.hi() <= text.len());
            prop_assert!(text.is_char_boundary(d.span.lo()) && text.is_char_boundary(d.span.hi()));
        }
        let _ = nfsim::text::diagnostic::render_terminal("soup", text, &lint);
        if !parsed.has_errors() {
            let once = nfsim::ruleset::render::render_save(&parsed.ruleset);
            let again = nfsim::parse(&once, Some(nfsim::InputFormat::Save));
            prop_assert!(
                !again.has_errors(),
                "rendering does not re-parse:\n{once}\n{:#?}",
                again.diagnostics
            );
            let twice = nfsim::ruleset::render::render_save(&again.ruleset);
            prop_assert_eq!(&once, &twice);
            // The exports: nftables never panics; the command script rebuilds
            // the ruleset (chain counters aside: no command sets them).
            let _ = nfsim::ruleset::export::to_nft(&parsed.ruleset);
            let script = nfsim::ruleset::export::to_commands(&parsed.ruleset);
            let rebuilt = nfsim::parse(&script, None);
            prop_assert!(
                !rebuilt.has_errors(),
                "the command script does not parse:\n{script}\n{:#?}",
                rebuilt.diagnostics
            );
            let mut zeroed = parsed.ruleset.clone();
            for c in zeroed.tables.iter_mut().flat_map(|t| t.chains.iter_mut()) {
                c.counters = Default::default();
            }
            prop_assert_eq!(
                nfsim::ruleset::render::render_save(&rebuilt.ruleset),
                nfsim::ruleset::render::render_save(&zeroed)
            );
        }
    }
    Ok(())
}

fn cases() -> u32 {
    std::env::var("NFSIM_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(512)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn token_soups_never_panic_and_round_trip(text in soup()) {
        check(&text)?;
    }

    #[test]
    fn plausible_rulesets_round_trip(text in plausible()) {
        check(&text)?;
    }
}
