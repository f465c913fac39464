//! Time the phases of reading a dump, once, in a fresh process (as `nfsim check`
//! meets them: cold memory included):
//! `cargo run --release -p nfsim --example phases -- FILE [THREADS]`
use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args.next().expect("FILE");
    let threads: usize = args.next().map_or(1, |t| t.parse().expect("THREADS"));
    let t0 = Instant::now();
    let text = std::fs::read_to_string(path).unwrap();
    let t1 = Instant::now();
    let options = nfsim::ParseOptions::threads(threads);
    let parsed = nfsim::ruleset::parser::parse_text_with(&text, None, options);
    let t2 = Instant::now();
    let v = nfsim::ruleset::validate::validate_with(&parsed.ruleset, threads);
    let t3 = Instant::now();
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
    println!(
        "read {:.1} ms  parse {:.1} ms  validate {:.1} ms  ({} diagnostics)",
        ms(t1 - t0),
        ms(t2 - t1),
        ms(t3 - t2),
        v.len() + parsed.diagnostics.len()
    );
    // As the CLI does: the process ends, the OS reclaims the memory.
    std::mem::forget(parsed);
    std::mem::forget(text);
}
