//! Measure the share link for each file given (as a JSON string, as the
//! playground's payload carries a ruleset): its length and the time to encode
//! and decode it (the fastest of several runs), at every DEFLATE level. Used to pick `nfsim::scenario::link::LEVEL`:
//! `cargo run --release -p nfsim --example linksize -- FILE...`
use miniz_oxide::deflate::compress_to_vec;
use std::time::Instant;

fn fastest(v: Vec<f64>) -> f64 {
    // The fastest run: the machine is shared, and slower runs measure the neighbours.
    v.into_iter().fold(f64::INFINITY, f64::min)
}

fn main() {
    for path in std::env::args().skip(1) {
        let text = std::fs::read_to_string(&path).expect("a readable UTF-8 file");
        let payload = serde_json::to_string(&text).expect("a string");
        println!("{path}: {} bytes as a JSON string", payload.len());
        let runs = if payload.len() > 1_000_000 { 11 } else { 51 };
        for level in 1..=9u8 {
            let mut enc = Vec::new();
            let mut len = 0;
            for _ in 0..runs {
                let t = Instant::now();
                let packed = compress_to_vec(payload.as_bytes(), level);
                len = packed.len().div_ceil(3) * 4 - (3 - packed.len() % 3) % 3 + 2;
                enc.push(t.elapsed().as_secs_f64() * 1e3);
            }
            println!(
                "  level {level}: link {len} chars, deflate {:.2} ms",
                fastest(enc)
            );
        }
        let link = nfsim::scenario::link::encode(&payload);
        let mut enc = Vec::new();
        let mut dec = Vec::new();
        for _ in 0..runs {
            let t = Instant::now();
            let l = nfsim::scenario::link::encode(&payload);
            enc.push(t.elapsed().as_secs_f64() * 1e3);
            let t = Instant::now();
            let back = nfsim::scenario::link::decode(&l).expect("round trip");
            dec.push(t.elapsed().as_secs_f64() * 1e3);
            assert_eq!(back, payload);
        }
        println!(
            "  link::encode (level {}): {} chars, encode {:.2} ms, decode {:.2} ms",
            nfsim::scenario::link::LEVEL,
            link.len(),
            fastest(enc),
            fastest(dec)
        );
    }
}
