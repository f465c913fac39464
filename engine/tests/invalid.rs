//! The invalid-input corpus. Each `fixtures/invalid/NAME.rules` isolates one
//! validation rule. `NAME.kernel` records what the real kernel said when
//! iptables-legacy-restore loaded it (scripts/record-kernel-verdicts.sh):
//! nfsim must report an error exactly when the kernel refused the ruleset.
//! `NAME.diag` is the snapshot of nfsim's rendered diagnostics; set
//! `NFSIM_BLESS=1` to rewrite snapshots after an intended change.

use std::path::Path;

#[test]
fn invalid_corpus_agrees_with_the_kernel_and_snapshots() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/invalid");
    let bless = std::env::var_os("NFSIM_BLESS").is_some();
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    paths.sort();
    let mut failures = Vec::new();
    let mut count = 0;
    for path in paths
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "rules"))
    {
        count += 1;
        let name = path.file_stem().unwrap().to_string_lossy().to_string();
        let text = std::fs::read_to_string(path).unwrap();
        let parsed = nfsim::parse(&text, None);
        let rendered = nfsim::text::diagnostic::render_terminal(
            &format!("{name}.rules"),
            &text,
            &parsed.diagnostics,
        );

        let kernel = std::fs::read_to_string(path.with_extension("kernel"))
            .unwrap_or_else(|_| panic!("{name}: no recorded kernel verdict"));
        let refused = kernel.starts_with("refused");
        if refused != parsed.has_errors() {
            failures.push(format!(
                "{name}: the kernel {} it, nfsim reports {} error(s):\n{rendered}",
                if refused { "refused" } else { "accepted" },
                parsed.diagnostics.iter().filter(|d| d.is_error()).count()
            ));
        }
        if name.starts_with("warn_") && !parsed.diagnostics.iter().any(|d| !d.is_error()) {
            failures.push(format!("{name}: expected a warning, got none"));
        }
        if name.starts_with("many_errors")
            && parsed.diagnostics.iter().filter(|d| d.is_error()).count() < 4
        {
            failures.push(format!(
                "{name}: every problem should be reported in one pass:\n{rendered}"
            ));
        }

        let snap = path.with_extension("diag");
        if bless {
            std::fs::write(&snap, &rendered).unwrap();
        } else {
            match std::fs::read_to_string(&snap) {
                Ok(want) if want == rendered => {}
                Ok(want) => failures.push(format!(
                    "{name}: diagnostics changed\n--- snapshot\n{want}--- now\n{rendered}"
                )),
                Err(_) => failures.push(format!(
                    "{name}: no snapshot {name}.diag (run with NFSIM_BLESS=1 once)"
                )),
            }
        }
    }
    assert!(count >= 45, "corpus went missing: {count} cases");
    assert!(
        failures.is_empty(),
        "{} of {count} cases failed:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}
