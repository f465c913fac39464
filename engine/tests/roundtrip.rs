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
            return format!("line {}:\n  iptables-save: {w}\n  nfsim:         {g}", i + 1);
        }
    }
    format!("lengths differ: {} vs {} lines", want.lines().count(), got.lines().count())
}

#[test]
fn rendering_matches_real_iptables_save() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/roundtrip");
    let mut checked = 0;
    let mut failures = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    entries.sort();
    for input in entries.iter().filter(|p| p.extension().is_some_and(|e| e == "in")) {
        let name = input.file_stem().unwrap().to_string_lossy().to_string();
        let out_path = input.with_extension("out");
        let real = std::fs::read_to_string(&out_path).unwrap_or_else(|_| panic!("{name}.in has no recorded {name}.out"));
        let src = std::fs::read_to_string(input).unwrap();

        let parsed = nfsim::parse(&src, None);
        let errors: Vec<_> = parsed.diagnostics.iter().filter(|d| d.is_error()).collect();
        if !errors.is_empty() {
            failures.push(format!("{name}.in: unexpected errors: {errors:?}"));
            continue;
        }
        let ours = nfsim::render::render_save(&parsed.ruleset);
        let (want, got) = (tables(&real), tables(&ours));
        if want.keys().collect::<Vec<_>>() != got.keys().collect::<Vec<_>>() {
            failures.push(format!("{name}.in: tables {:?} vs {:?}", want.keys(), got.keys()));
        }
        for (t, w) in &want {
            let g = got.get(t).map(String::as_str).unwrap_or("");
            if w != g {
                failures.push(format!("{name}.in {t}: {}", first_difference(w, g)));
            }
        }

        // The dump itself renders back byte for byte (comment lines aside).
        let real_no_comments: String = real.lines().filter(|l| !l.starts_with('#')).map(|l| format!("{l}\n")).collect();
        let again = nfsim::parse(&real, None);
        assert!(!again.has_errors(), "{name}.out: {:?}", again.diagnostics);
        let rendered = nfsim::render::render_save(&again.ruleset);
        if rendered != real_no_comments {
            failures.push(format!("{name}.out: {}", first_difference(&real_no_comments, &rendered)));
        }
        checked += 1;
    }
    assert!(failures.is_empty(), "{} of {checked} fixtures differ from iptables-save:\n{}", failures.len(), failures.join("\n"));
    assert!(checked >= 30, "expected the recorded fixtures, found {checked}");
}
