//! Time the phases of reading a dump: `cargo run --release -p nfsim --example phases -- FILE`
use std::time::Instant;
fn main() {
    let path = std::env::args().nth(1).expect("FILE");
    let text = std::fs::read_to_string(path).unwrap();
    sizes();
    for _ in 0..3 {
        let t = Instant::now();
        let parsed = nfsim::parser::parse_text(&text, None);
        let t1 = t.elapsed();
        let v = nfsim::validate::validate(&parsed.ruleset);
        let t2 = t.elapsed();
        let out = nfsim::render::render_save(&parsed.ruleset);
        let t3 = t.elapsed();
        drop(parsed);
        let t4 = t.elapsed();
        println!("parse {:?} validate {:?} render {:?} drop {:?} ({} diags, {} bytes)", t1, t2 - t1, t3 - t2, t4 - t3, v.len(), out.len());
    }
}

#[allow(dead_code)]
fn sizes() {
    println!(
        "Rule {} Match {} MatchKind {} Target {} TargetKind {}",
        std::mem::size_of::<nfsim::ruleset::Rule>(),
        std::mem::size_of::<nfsim::ruleset::Match>(),
        std::mem::size_of::<nfsim::matches::MatchKind>(),
        std::mem::size_of::<nfsim::ruleset::Target>(),
        std::mem::size_of::<nfsim::targets::TargetKind>()
    );
}
