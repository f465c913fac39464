//! Time the phases of reading a dump:
//! `cargo run --release -p nfsim --example phases -- FILE`
use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args.next().expect("FILE");
    let text = std::fs::read_to_string(path).unwrap();
    for _ in 0..5 {
        let t = Instant::now();
        let parsed = nfsim::parser::parse_text(&text, None);
        let t1 = t.elapsed();
        let v = nfsim::validate::validate(&parsed.ruleset);
        let t2 = t.elapsed();
        std::mem::forget(parsed);
        println!(
            "parse {:>6.1} ms  validate {:>5.1} ms  ({} diagnostics)",
            t1.as_secs_f64() * 1e3,
            (t2 - t1).as_secs_f64() * 1e3,
            v.len()
        );
    }
}
