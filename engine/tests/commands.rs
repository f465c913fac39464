//! Scripts of iptables commands: each command's errors, with iptables' wording.

use nfsim::{parse, InputFormat};

/// The single error a script produces: (1-based line, code, message).
fn error_of(script: &str) -> (usize, &'static str, String) {
    let parsed = parse(script, Some(InputFormat::Commands));
    let errors: Vec<_> = parsed.diagnostics.iter().filter(|d| d.is_error()).collect();
    assert_eq!(
        errors.len(),
        1,
        "expected one error, got {:#?}",
        parsed.diagnostics
    );
    let line = script[..errors[0].span.lo()].matches('\n').count() + 1;
    (line, errors[0].code, errors[0].message.clone())
}

#[test]
fn append_to_a_chain_that_does_not_exist() {
    let (line, code, msg) = error_of("iptables -N web\niptables -A wbe -j ACCEPT\n");
    assert_eq!((line, code), (2, "E0205"));
    assert!(
        msg.starts_with("No chain/target/match by that name"),
        "{msg}"
    );
}

#[test]
fn new_chain_twice() {
    assert_eq!(
        error_of("iptables -N web\niptables -N web\n"),
        (2, "E0204", "Chain already exists".into())
    );
}

#[test]
fn delete_chain_errors() {
    assert_eq!(error_of("iptables -X INPUT\n").1, "E0211");
    let (_, _, msg) = error_of("iptables -N a\niptables -A a -j ACCEPT\niptables -X a\n");
    assert_eq!(msg, "Directory not empty");
    let (_, _, msg) = error_of("iptables -N a\niptables -A INPUT -j a\niptables -X a\n");
    assert!(msg.starts_with("Too many links"), "{msg}");
    // Without a name, -X deletes every (unreferenced) user chain.
    let parsed = parse("iptables -N a\niptables -N b\niptables -X\n", None);
    assert!(parsed.diagnostics.is_empty());
    assert_eq!(parsed.ruleset.chain_count(), 3);
}

#[test]
fn rule_numbers_out_of_range() {
    assert_eq!(
        error_of("iptables -I INPUT 3 -j ACCEPT\n").2,
        "Index of insertion too big"
    );
    assert_eq!(
        error_of("iptables -R INPUT 1 -j ACCEPT\n").2,
        "Index of replacement too big"
    );
    assert_eq!(
        error_of("iptables -D INPUT 1\n").2,
        "Index of deletion too big"
    );
    assert_eq!(
        error_of("iptables -A INPUT -p udp -j ACCEPT\niptables -D INPUT -p tcp -j ACCEPT\n").2,
        "Bad rule (does a matching rule exist in that chain?)"
    );
}

#[test]
fn policies() {
    assert_eq!(error_of("iptables -N x\niptables -P x DROP\n").1, "E0207");
    assert_eq!(
        error_of("iptables -P INPUT REJECT\n").2,
        "Bad policy name `REJECT'"
    );
    assert_eq!(error_of("iptables -t nat -P PREROUTING DROP\n").1, "E0209");
    assert_eq!(
        error_of("iptables -t nat -A PREROUTING -j DROP\n").1,
        "E0209"
    );
}

#[test]
fn rename_follows_jumps_and_refuses_clashes() {
    let parsed = parse(
        "iptables -N a\niptables -A INPUT -j a\niptables -E a b\n",
        None,
    );
    assert!(parsed.diagnostics.is_empty(), "{:?}", parsed.diagnostics);
    let out = nfsim::ruleset::render::render_save(&parsed.ruleset);
    assert!(out.contains(":b - [0:0]\n-A INPUT -j b\n"), "{out}");
    assert_eq!(
        error_of("iptables -N a\niptables -N b\niptables -E a b\n").1,
        "E0204"
    );
}

#[test]
fn tables_and_lines_that_are_not_iptables() {
    assert_eq!(
        error_of("iptables -t filtre -A INPUT -j ACCEPT\n").2,
        "can't initialize iptables table `filtre': Table does not exist"
    );
    assert_eq!(
        error_of("iptables -A INPUT -j ACCEPT\nip6tables -A INPUT -j ACCEPT\n").1,
        "E0212"
    );
}

#[test]
fn shell_quoting_and_continuations() {
    let script = "sudo iptables -A INPUT -m comment --comment 'it'\\''s' \\\n  -j LOG --log-prefix \"x: \"\n";
    let parsed = parse(script, None);
    assert!(parsed.diagnostics.is_empty(), "{:?}", parsed.diagnostics);
    assert_eq!(
        nfsim::ruleset::render::render_save(&parsed.ruleset),
        "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n-A INPUT -m comment --comment \"it\\'s\" -j LOG --log-prefix \"x: \"\nCOMMIT\n"
    );
}

#[test]
fn comma_lists_expand_into_one_rule_per_pair() {
    let parsed = parse(
        "iptables -A INPUT -s 192.0.2.1,192.0.2.2 -d 198.51.100.1,198.51.100.2 -j DROP\n",
        None,
    );
    let out = nfsim::ruleset::render::render_save(&parsed.ruleset);
    let rules: Vec<&str> = out.lines().filter(|l| l.starts_with("-A")).collect();
    assert_eq!(
        rules,
        [
            "-A INPUT -s 192.0.2.1/32 -d 198.51.100.1/32 -j DROP",
            "-A INPUT -s 192.0.2.1/32 -d 198.51.100.2/32 -j DROP",
            "-A INPUT -s 192.0.2.2/32 -d 198.51.100.1/32 -j DROP",
            "-A INPUT -s 192.0.2.2/32 -d 198.51.100.2/32 -j DROP",
        ]
    );
}
