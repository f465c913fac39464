//! Export (`nfsim::ruleset::export`): the `iptables` command script rebuilds every fixture
//! ruleset, and the nftables translation equals what the real
//! `iptables-restore-translate` 1.8.9 wrote for every recorded dump
//! (`fixtures/nft/NAME.nft`, from `fixtures/roundtrip/NAME.out` by
//! `scripts/record-nft.sh`), rule for rule, except where export.rs documents a
//! deliberate difference; those are recognised here from the iptables rule and
//! checked to differ only in the documented way.

use nfsim::ruleset::export::{to_commands, to_nft};
use nfsim::ruleset::model::{Counters, Ruleset};
use nfsim::ruleset::render::{render_save, rule_spec, save_order};
use nfsim::text::lexer::restore_words;
use nfsim::{parse, InputFormat};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn fixture_dir(dir: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(dir)
}

fn fixtures(dir: &str, ext: &str) -> Vec<PathBuf> {
    let mut entries: Vec<_> = std::fs::read_dir(fixture_dir(dir))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect();
    entries.sort();
    entries
}

/// Every fixture ruleset: the roundtrip dumps, the command scripts and the
/// kube-proxy vectors' rulesets.
fn fixture_rulesets() -> Vec<(String, String)> {
    let mut out = Vec::new();
    for p in fixtures("roundtrip", "in")
        .into_iter()
        .chain(fixtures("commands", "sh"))
    {
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        out.push((name, std::fs::read_to_string(&p).unwrap()));
    }
    for p in fixtures("kube-proxy", "json") {
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        out.push((name, v["ruleset"].as_str().unwrap().to_string()));
    }
    out
}

/// The ruleset without chain counters, which no command sets.
fn without_chain_counters(r: &Ruleset) -> Ruleset {
    let mut r = r.clone();
    for t in &mut r.tables {
        for c in &mut t.chains {
            c.counters = Counters::default();
        }
    }
    r
}

#[test]
fn the_command_script_rebuilds_every_fixture_ruleset() {
    let mut checked = 0;
    for (name, text) in fixture_rulesets() {
        let original = parse(&text, None).ruleset;
        let script = to_commands(&original);
        let again = parse(&script, None);
        assert_eq!(again.format, InputFormat::Commands, "{name}");
        let errors: Vec<_> = again.diagnostics.iter().filter(|d| d.is_error()).collect();
        assert!(errors.is_empty(), "{name}: {errors:?}\n{script}");
        assert_eq!(
            render_save(&again.ruleset),
            render_save(&without_chain_counters(&original)),
            "{name}: the script does not rebuild the ruleset:\n{script}"
        );
        // Written twice, the same bytes.
        assert_eq!(to_commands(&again.ruleset), script, "{name}");
        checked += 1;
    }
    assert!(checked >= 80, "expected every fixture, found {checked}");
}

#[test]
fn commands_quote_what_the_shell_would_split_or_expand() {
    let save = "*filter\n:INPUT ACCEPT [3:4]\n:a$b - [0:0]\n\
        [7:8] -A INPUT -m comment --comment \"it's \\\"$HOME\\\" \\\\ ok\" -j a$b\n\
        -A INPUT -m comment --comment \"!\" -m comment --comment \"#x\" ! -s 10.0.0.0/8 -j LOG --log-prefix \"a b \"\n\
        COMMIT\n";
    let r = parse(save, None);
    assert!(!r.has_errors(), "{:?}", r.diagnostics);
    let script = to_commands(&r.ruleset);
    assert_eq!(
        script,
        "#!/bin/sh\n\
         iptables -t filter -P INPUT ACCEPT\n\
         iptables -t filter -P FORWARD ACCEPT\n\
         iptables -t filter -P OUTPUT ACCEPT\n\
         iptables -t filter -N 'a$b'\n\
         iptables -t filter -A INPUT -c 7 8 -m comment --comment 'it'\\''s \"$HOME\" \\ ok' -j 'a$b'\n\
         iptables -t filter -A INPUT ! -s 10.0.0.0/8 -m comment --comment '!' -m comment --comment '#x' -j LOG --log-prefix 'a b '\n"
    );
    let again = parse(&script, None);
    assert!(!again.has_errors(), "{:?}", again.diagnostics);
    assert_eq!(
        render_save(&again.ruleset),
        render_save(&without_chain_counters(&r.ruleset))
    );
}

/// For each line of a translation, the iptables rule it came from
/// (`-t TABLE -A CHAIN ...`), or None for table and chain lines.
fn rule_of_each_line(r: &Ruleset) -> Vec<Option<String>> {
    let mut out = Vec::new();
    for t in &r.tables {
        let chains = save_order(t);
        out.push(None);
        out.extend(chains.iter().map(|_| None));
        for c in &chains {
            for rule in &c.rules {
                out.push(Some(format!(
                    "-t {} -A {}{}",
                    t.kind.name(),
                    c.name,
                    rule_spec(rule)
                )));
            }
        }
    }
    out
}

/// How iptables-restore-translate writes a rule it cannot translate.
fn untranslated(rule: &str) -> String {
    let (words, _) = restore_words(rule, 0);
    let mut out = String::from("# ");
    for w in words {
        if w.text != "!" || w.quoted {
            out.push_str(&w.text);
        }
        out.push(' ');
    }
    out
}

/// `text` without the `!= ` that follows any of `after`.
fn without_negation(text: &str, after: &[&str]) -> String {
    let mut t = text.to_string();
    for a in after {
        t = t.replace(&format!("{a}!= "), a);
    }
    t
}

/// The part of a translated rule before `from` and after `to` (both present).
fn outside(text: &str, from: &str, to: &str) -> Option<(String, String)> {
    let a = text.find(from)?;
    let b = a + text[a..].find(to)?;
    Some((text[..a].to_string(), text[b..].to_string()))
}

/// `ours` is `real` with a `fib daddr` clause after its `fib saddr` one
/// (negations aside: 1.8.9 puts either side's `!=` on the source).
fn both_fib_clauses(real: &str, ours: &str) -> bool {
    let clause = |t: &str| -> Option<(usize, usize)> {
        let a = t.find("fib saddr")?;
        Some((a, a + t[a..].find(" counter")?))
    };
    let (Some((ra, rb)), Some((oa, ob))) = (clause(real), clause(ours)) else {
        return false;
    };
    real[..ra] == ours[..oa]
        && real[rb..] == ours[ob..]
        && ours[oa..ob]
            .replace("!= ", "")
            .starts_with(&(real[ra..rb].replace("!= ", "") + " fib daddr"))
}

/// Which documented difference explains `ours` != `real` for `rule`, if one
/// does; each is checked to be the only difference.
fn deliberate(rule: Option<&str>, real: &str, ours: &str) -> Option<&'static str> {
    let Some(rule) = rule else {
        // A chain line: only the security table's priority differs.
        return (real.starts_with("add chain ip security ")
            && ours.replace("priority 50;", "priority 0;") == real)
            .then_some("security table priority 50");
    };
    let words: Vec<&str> = rule.split(' ').collect();
    let is_untranslated = ours == untranslated(rule);
    if words.windows(2).any(|w| w == ["-j", "TOS"])
        && is_untranslated
        && real.contains("ip6 dscp set")
    {
        return Some("-j TOS left untranslated");
    }
    let nat_state = words
        .windows(2)
        .any(|w| w[0] == "--ctstate" && w[1].split(',').any(|s| s == "SNAT" || s == "DNAT"));
    if nat_state
        && is_untranslated
        && (real.contains("ct status snat") || real.contains("ct status dnat"))
    {
        return Some("--ctstate SNAT/DNAT left untranslated");
    }
    if rule.contains(" ! --icmp-type any") && is_untranslated {
        return Some("! --icmp-type any left untranslated");
    }
    if words.windows(2).any(|w| w == ["-m", "udp"])
        && rule.contains("! --")
        && without_negation(ours, &["udp sport ", "udp dport "])
            == without_negation(real, &["udp sport ", "udp dport "])
    {
        return Some("udp port negation");
    }
    if words.windows(2).any(|w| w == ["-m", "multiport"]) && rule.contains("--ports ") {
        if let (Some(a), Some(b)) = (
            outside(ours, " sport . ", " }"),
            outside(real, " sport . ", " }"),
        ) {
            if a == b {
                return Some("multiport --ports negated or with a range");
            }
        }
    }
    if words.windows(2).any(|w| w == ["-m", "addrtype"]) {
        let both = rule.contains("--src-type") && rule.contains("--dst-type");
        let unnamed = ["THROW", "NAT", "XRESOLVE"].iter().any(|t| {
            words
                .windows(2)
                .any(|w| w[0].ends_with("-type") && w[1].split(',').any(|x| x == *t))
        });
        if unnamed && is_untranslated {
            return Some("addrtype THROW/NAT/XRESOLVE left untranslated");
        }
        if both && both_fib_clauses(real, ours) {
            return Some("addrtype with both --src-type and --dst-type");
        }
    }
    None
}

/// Line counts of the comparison.
#[derive(Default)]
struct Tally {
    chain_lines: usize,
    chain_lines_same: usize,
    translated: usize,
    translated_same: usize,
    untranslated: usize,
    untranslated_same: usize,
    deliberate: BTreeMap<&'static str, usize>,
}

#[test]
fn nft_translation_matches_iptables_restore_translate() {
    let mut n = Tally::default();
    let mut failures = Vec::new();
    let mut files = 0;
    for golden_path in fixtures("nft", "nft") {
        let name = golden_path
            .file_stem()
            .unwrap()
            .to_string_lossy()
            .to_string();
        let golden = std::fs::read_to_string(&golden_path).unwrap();
        let dump = std::fs::read_to_string(fixture_dir("roundtrip").join(format!("{name}.out")))
            .unwrap_or_else(|_| panic!("{name}.nft has no roundtrip/{name}.out"));
        let parsed = parse(&dump, None);
        assert!(!parsed.has_errors(), "{name}: {:?}", parsed.diagnostics);
        let ours = to_nft(&parsed.ruleset);
        let rules = rule_of_each_line(&parsed.ruleset);
        let (real_lines, our_lines): (Vec<&str>, Vec<&str>) =
            (golden.lines().collect(), ours.lines().collect());
        if real_lines.len() != our_lines.len() || our_lines.len() != rules.len() {
            failures.push(format!(
                "{name}: {} lines from the tool, {} from us, {} expected",
                real_lines.len(),
                our_lines.len(),
                rules.len()
            ));
            continue;
        }
        for ((real, our), rule) in real_lines.iter().zip(&our_lines).zip(&rules) {
            let same = real == our;
            match (rule, real.starts_with("# ")) {
                (None, _) => {
                    n.chain_lines += 1;
                    n.chain_lines_same += usize::from(same);
                }
                (Some(_), false) => {
                    n.translated += 1;
                    n.translated_same += usize::from(same);
                }
                (Some(_), true) => {
                    n.untranslated += 1;
                    n.untranslated_same += usize::from(same);
                }
            }
            if same {
                continue;
            }
            match deliberate(rule.as_deref(), real, our) {
                Some(why) => *n.deliberate.entry(why).or_default() += 1,
                None => failures.push(format!(
                    "{name}: {}\n  real: {real}\n  ours: {our}",
                    rule.as_deref().unwrap_or("(chain)")
                )),
            }
        }
        // Untranslated rules are written exactly as the tool writes them.
        for (our, rule) in our_lines.iter().zip(&rules) {
            if let (true, Some(rule)) = (our.starts_with("# "), rule) {
                assert_eq!(*our, untranslated(rule), "{name}");
            }
        }
        files += 1;
    }
    let reasons: Vec<String> = n
        .deliberate
        .iter()
        .map(|(k, v)| format!("    {v:>4}  {k}"))
        .collect();
    eprintln!(
        "nft translation against iptables-restore-translate 1.8.9, {files} dumps:\n\
         rules the tool translates:           {:>5}, ours identical {}\n\
         rules the tool leaves as `# ...`:    {:>5}, ours identical {}\n\
         table and chain lines:               {:>5}, ours identical {}\n\
         deliberate differences:\n{}",
        n.translated,
        n.translated_same,
        n.untranslated,
        n.untranslated_same,
        n.chain_lines,
        n.chain_lines_same,
        reasons.join("\n")
    );
    assert!(
        failures.is_empty(),
        "{} lines differ from iptables-restore-translate without a documented reason:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(
        files >= 47,
        "expected the recorded translations, found {files}"
    );
    // Every rule the tool leaves untranslated we leave untranslated too, in its words.
    assert_eq!(n.untranslated_same, n.untranslated);
    assert!(n.translated > 3000 && n.translated_same * 100 >= n.translated * 95);
}

#[test]
fn nft_deviations_write_what_the_rule_means() {
    let save = "*security\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n\
        -A INPUT -p udp -m udp ! --dport 53 -j DROP\n\
        -A INPUT -p tcp -m tcp ! --sport 0:65535 -j DROP\n\
        -A INPUT -p tcp -m multiport ! --ports 80:90,100 -j DROP\n\
        -A INPUT -m addrtype ! --src-type LOCAL --dst-type UNICAST --limit-iface-in -j DROP\n\
        -A INPUT -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP\n\
        COMMIT\n";
    let r = parse(save, Some(InputFormat::Save));
    assert!(!r.has_errors(), "{:?}", r.diagnostics);
    assert_eq!(
        to_nft(&r.ruleset),
        "add table ip security\n\
         add chain ip security INPUT { type filter hook input priority 50; policy accept; }\n\
         add chain ip security FORWARD { type filter hook forward priority 50; policy accept; }\n\
         add chain ip security OUTPUT { type filter hook output priority 50; policy accept; }\n\
         add rule ip security INPUT udp dport != 53 counter drop\n\
         add rule ip security INPUT tcp sport != 0-65535 counter drop\n\
         add rule ip security INPUT ip protocol tcp tcp sport . tcp dport != { 0-65535 . 80-90, 80-90 . 0-65535, 0-65535 . 100, 100 . 0-65535 } counter drop\n\
         add rule ip security INPUT fib saddr . iif type != local fib daddr . iif type unicast counter drop\n\
         # -t security -A INPUT -m conntrack  --ctstate RELATED,ESTABLISHED,DNAT -j DROP \n"
    );
}
