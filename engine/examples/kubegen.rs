//! Write a generated kube-proxy style dump to stdout:
//! `cargo run --release -p nfsim --example kubegen -- SERVICES ENDPOINTS > dump.rules`
#[path = "../benches/support/kubegen.rs"]
mod kubegen;

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("SERVICES ENDPOINTS"))
        .collect();
    let (services, endpoints) = (
        args.first().copied().unwrap_or(1000),
        args.get(1).copied().unwrap_or(3),
    );
    print!("{}", kubegen::kube_dump(services, endpoints));
}
