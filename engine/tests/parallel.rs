//! Reading a dump on several threads gives exactly what one thread gives: the
//! same ruleset (rules, their line numbers and spans) and the same diagnostics
//! in the same order, whatever the block size — including blocks smaller than
//! a line, blocks that cut a table's header, and broken input.

#[path = "../benches/support/kubegen.rs"]
mod kubegen;

use nfsim::{InputFormat, ParseOptions};
use std::path::Path;

/// Parse `text` once on one thread and then with several threads and block
/// sizes; every result must equal the first.
fn same_on_every_split(name: &str, text: &str) {
    let one = nfsim::parse(text, Some(InputFormat::Save));
    for threads in [2, 3, 4] {
        for block in [1, 7, 64, 300, 4096, 64 * 1024] {
            if block < 64 && text.len() > 20_000 {
                continue; // tens of thousands of blocks: slow in debug builds, and no new cases
            }
            let many = nfsim::parse_with(
                text,
                Some(InputFormat::Save),
                ParseOptions { threads, block },
            );
            if many != one {
                let first_rule_difference = one
                    .ruleset
                    .tables
                    .iter()
                    .zip(&many.ruleset.tables)
                    .flat_map(|(a, b)| a.chains.iter().zip(&b.chains))
                    .flat_map(|(a, b)| a.rules.iter().zip(&b.rules))
                    .find(|(a, b)| a != b);
                panic!(
                    "{name}: {threads} threads with {block}-byte blocks differ from one thread\n\
                     diagnostics: {} vs {}\nfirst differing rule: {first_rule_difference:#?}",
                    one.diagnostics.len(),
                    many.diagnostics.len()
                );
            }
        }
    }
}

#[test]
fn every_fixture_reads_the_same_on_several_threads() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut count = 0;
    for dir in ["roundtrip", "invalid", "kube-proxy", "oracle", "walk"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
            continue;
        };
        let mut paths: Vec<_> = entries.map(|e| e.unwrap().path()).collect();
        paths.sort();
        for path in paths {
            let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
            if !matches!(ext, "in" | "out" | "rules") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            same_on_every_split(&path.display().to_string(), &text);
            count += 1;
        }
    }
    assert!(count > 100, "only {count} fixtures found");
}

#[test]
fn a_kube_proxy_dump_reads_the_same_on_several_threads() {
    same_on_every_split("kube 200x3", &kubegen::kube_dump(200, 3));
}

#[test]
fn broken_dumps_give_the_same_diagnostics_in_the_same_order() {
    let cases = [
        // Lines before any table, an unknown table skipped to its COMMIT, a
        // missing COMMIT, a table given twice, CRLF line ends, no final newline.
        "-A INPUT -j DROP\n*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -p tcp --dport 22 -j ACCEPT\n\
         *bogus\n-A X -j Y\n:Z - [0:0]\nCOMMIT\n*nat\n:PREROUTING ACCEPT [0:0]\n\
         -A PREROUTING -j DNAT --to-destination 192.0.2.1\nCOMMIT\n*nat\r\n:OUTPUT ACCEPT [0:0]\r\n\
         -A OUTPUT -m nosuch --foo -j ACCEPT\r\n-A OUTPUT -j MISSING\r\nCOMMIT",
        // Errors on consecutive lines, an unterminated quote, counters, a
        // comma list expanding into several rules, -I/-D/-R between appends.
        "*filter\n:INPUT ACCEPT [0:0]\n:X - [0:0]\n[1:2] -A INPUT -s 192.0.2.1,192.0.2.2 -j X\n\
         -A INPUT --dport 80 -j ACCEPT\n-A X -m comment --comment \"open -j ACCEPT\n\
         -I INPUT 1 -j ACCEPT\n-D INPUT 2\n-R INPUT 1 -j DROP\n-A X -j X\n[x:y] -A X -j RETURN\n\
         -A NOPE -j ACCEPT\n:X - [0:0]\nCOMMIT\n",
        // Runs of appends: to a missing chain (each line must fail on its own),
        // to a built-in chain with a misplaced -o, with a DROP in nat, and
        // runs split by comments, blank lines and other commands.
        "*nat\n:PREROUTING ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:A - [0:0]\n\
         -A GONE -p tcp -j A\n-A GONE -p udp -j A\n-A GONE -j LOG\n-A GONE -j ACCEPT\n\
         -A PREROUTING -j A\n-A PREROUTING -o eth0 -j A\n-A PREROUTING -j A\n\
         -A A -j RETURN\n-A A -j DROP\n-A A -j ACCEPT\n# between\n-A A -j MARK --set-mark 1\n\n\
         -A A -s 192.0.2.1,192.0.2.2 -j ACCEPT\n-A A -j ACCEPT\n-I A 2 -j ACCEPT\n-A A -j ACCEPT\n\
         -A GONE -j ACCEPT\n-A GONE -j ACCEPT\nCOMMIT\n",
        "",
        "\n\n\n",
        "*filter\n",
    ];
    for (i, text) in cases.iter().enumerate() {
        let one = nfsim::parse(text, Some(InputFormat::Save));
        assert!(
            i >= 2 || one.has_errors(),
            "case {i} is meant to have errors"
        );
        same_on_every_split(&format!("broken case {i}"), text);
    }
}

#[test]
fn validation_on_several_threads_reports_the_same() {
    // A large nat table with problems spread through it: jumps to missing
    // chains, a loop, targets in the wrong hook, rules that cannot be reached.
    let dump = kubegen::kube_dump(400, 3);
    let mut broken = String::new();
    let mut extra = 0;
    for line in dump.lines() {
        broken.push_str(line);
        broken.push('\n');
        if line.starts_with("-A KUBE-SEP-") && line.contains("DNAT") {
            extra += 1;
            let chain = line.split_whitespace().nth(1).unwrap();
            match extra % 5 {
                // (Few of these: each one's hint searches every chain name.)
                0 if extra % 50 == 0 => {
                    broken.push_str(&format!("-A {chain} -j KUBE-MISSING-{extra}\n"))
                }
                1 => broken.push_str(&format!("-A {chain} -j KUBE-SERVICES\n")),
                2 => broken.push_str(&format!(
                    "-A {chain} -j SNAT --to-source 192.0.2.{}\n",
                    extra % 250
                )),
                3 => broken.push_str(&format!("-A {chain} -j RETURN\n-A {chain} -j ACCEPT\n")),
                _ => {}
            }
        }
    }
    let parsed = nfsim::parse(&broken, Some(InputFormat::Save));
    let one = nfsim::ruleset::validate::validate_with(&parsed.ruleset, 1);
    assert!(one.len() > 100, "only {} diagnostics", one.len());
    for threads in [2, 3, 4, 7] {
        let many = nfsim::ruleset::validate::validate_with(&parsed.ruleset, threads);
        assert!(many == one, "{threads} threads report differently");
    }
}
