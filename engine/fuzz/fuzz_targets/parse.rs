//! libFuzzer target: any bytes as a ruleset, in both formats. Parsing and
//! linting never panic, spans stay inside the text, reading on two threads in
//! small blocks gives exactly what one thread gives, and whatever parses cleanly renders to
//! a fixed point. Run: `cd engine && RUSTC_BOOTSTRAP=1 cargo fuzz run parse`.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    for format in [None, Some(nfsim::InputFormat::Save), Some(nfsim::InputFormat::Commands)] {
        let parsed = nfsim::parse(text, format);
        let split = nfsim::parse_with(text, format, nfsim::ParseOptions { threads: 2, block: 16 });
        assert!(split == parsed, "two threads read this differently from one");
        for d in &parsed.diagnostics {
            assert!(d.span.hi() <= text.len() && text.is_char_boundary(d.span.lo()) && text.is_char_boundary(d.span.hi()));
        }
        let _ = nfsim::text::diagnostic::render_terminal("fuzz", text, &parsed.diagnostics);
        let lint = nfsim::ruleset::lint::lint(&parsed.ruleset);
        for d in &lint {
            assert!(d.span.hi() <= text.len() && text.is_char_boundary(d.span.lo()) && text.is_char_boundary(d.span.hi()));
        }
        if !parsed.has_errors() {
            let once = nfsim::ruleset::render::render_save(&parsed.ruleset);
            let again = nfsim::parse(&once, Some(nfsim::InputFormat::Save));
            assert!(!again.has_errors(), "rendering does not re-parse:\n{once}\n{:?}", again.diagnostics);
            assert_eq!(once, nfsim::ruleset::render::render_save(&again.ruleset));
        }
    }
});
