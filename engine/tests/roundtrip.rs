//! Round-trip against the real iptables: every `fixtures/roundtrip/NAME.in` was
//! loaded with iptables-legacy-restore 1.8.9 and dumped with iptables-save into
//! `NAME.out` (scripts/record-roundtrip.sh). Our rendering of the input must equal
//! the real dump table by table, and rendering the dump must give it back byte
//! for byte.

use std::collections::BTreeMap;
use std::path::Path;

fn tables(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut cur: Option<String> = None;
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        if line.starts_with('*') {
            cur = Some(line.to_string());
        }
        if let Some(c) = &cur {
            let block: &mut String = out.entry(c.clone()).or_default();
            block.push_str(line);
            block.push('\n');
        }
    }
    out
}

fn first_difference(want: &str, got: &str) -> String {
    for (i, (w, g)) in want.lines().zip(got.lines()).enumerate() {
        if w != g {
            return format!(
                "line {}:\n  iptables-save: {w}\n  nfsim:         {g}",
                i + 1
            );
        }
    }
    format!(
        "lengths differ: {} vs {} lines",
        want.lines().count(),
        got.lines().count()
    )
}

fn fixtures(dir: &str, ext: &str) -> Vec<std::path::PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(dir);
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.retain(|p| p.extension().is_some_and(|e| e == ext));
    entries.sort();
    entries
}

#[test]
fn rendering_matches_real_iptables_save() {
    let mut checked = 0;
    let mut failures = Vec::new();
    // Dumps (`.in`, iptables-restore input) and command scripts (`.sh`, run by a shell).
    for input in fixtures("roundtrip", "in")
        .iter()
        .chain(&fixtures("commands", "sh"))
    {
        let name = input.file_name().unwrap().to_string_lossy().to_string();
        let out_path = input.with_extension("out");
        let real = std::fs::read_to_string(&out_path)
            .unwrap_or_else(|_| panic!("{name} has no recorded .out"));
        let src = std::fs::read_to_string(input).unwrap();

        let parsed = nfsim::parse(&src, None);
        let errors: Vec<_> = parsed.diagnostics.iter().filter(|d| d.is_error()).collect();
        if !errors.is_empty() {
            failures.push(format!("{name}: unexpected errors: {errors:?}"));
            continue;
        }
        let ours = nfsim::ruleset::render::render_save(&parsed.ruleset);
        let (want, got) = (tables(&real), tables(&ours));
        if want.keys().collect::<Vec<_>>() != got.keys().collect::<Vec<_>>() {
            failures.push(format!(
                "{name}: tables {:?} vs {:?}",
                want.keys(),
                got.keys()
            ));
        }
        for (t, w) in &want {
            let g = got.get(t).map(String::as_str).unwrap_or("");
            if w != g {
                failures.push(format!("{name} {t}: {}", first_difference(w, g)));
            }
        }

        // The dump itself renders back byte for byte (comment lines aside).
        let real_no_comments: String = real
            .lines()
            .filter(|l| !l.starts_with('#'))
            .map(|l| format!("{l}\n"))
            .collect();
        let again = nfsim::parse(&real, None);
        assert!(
            !again.has_errors(),
            "{name} (.out): {:?}",
            again.diagnostics
        );
        let rendered = nfsim::ruleset::render::render_save(&again.ruleset);
        if rendered != real_no_comments {
            failures.push(format!(
                "{name} (.out): {}",
                first_difference(&real_no_comments, &rendered)
            ));
        }
        checked += 1;
    }
    assert!(
        failures.is_empty(),
        "{} of {checked} fixtures differ from iptables-save:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(
        checked >= 39,
        "expected the recorded fixtures, found {checked}"
    );
}

#[test]
fn a_dump_and_the_commands_that_build_it_give_the_same_ruleset() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let save = std::fs::read_to_string(root.join("roundtrip/kube_nodeport.out")).unwrap();
    let script = std::fs::read_to_string(root.join("commands/kube_nodeport.sh")).unwrap();
    let a = nfsim::parse(&save, None);
    let b = nfsim::parse(&script, None);
    assert_eq!(a.format, nfsim::InputFormat::Save);
    assert_eq!(b.format, nfsim::InputFormat::Commands);
    assert!(
        a.diagnostics.is_empty() && b.diagnostics.is_empty(),
        "{:?} {:?}",
        a.diagnostics,
        b.diagnostics
    );
    // The same tables, none missing and none extra, in the same order.
    let kinds = |r: &nfsim::ruleset::model::Ruleset| -> Vec<&str> {
        r.tables.iter().map(|t| t.kind.name()).collect()
    };
    assert_eq!(kinds(&a.ruleset), kinds(&b.ruleset));
    for table in &a.ruleset.tables {
        let other = b.ruleset.table(table.kind).expect("same tables");
        let mut x = String::new();
        let mut y = String::new();
        nfsim::ruleset::render::render_table(&mut x, table);
        nfsim::ruleset::render::render_table(&mut y, other);
        assert_eq!(x, y, "table {}", table.kind.name());
    }
}
