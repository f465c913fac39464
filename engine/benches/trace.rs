//! Tracing one packet through kube-proxy style dumps: a NodePort SYN through
//! the 10k-service × 3-endpoint dump, and sample-mode throughput at 1k services.
//! Run: `cargo bench -p nfsim --bench trace`.
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use nfsim::scenario::{self, Loaded, SimState};
use std::hint::black_box;

#[path = "support/kubegen.rs"]
mod kubegen;

fn scenario_for(services: usize) -> String {
    serde_json::json!({
        "version": 1,
        "ruleset": kubegen::kube_dump(services, 3),
        "host": {"interfaces": [{"name": "eth0", "addresses": ["198.51.100.1/24"]}, {"name": "eth1", "addresses": ["10.244.0.1/16"]}],
                 "routes": [{"to": "default", "via": "198.51.100.254", "dev": "eth0"}]},
        "seed": 1,
        // The last service's NodePort: the walk passes every earlier rule.
        "packets": [{"from": "eth0", "src": "192.0.2.50", "dst": "198.51.100.1", "protocol": "tcp", "sport": 45678, "dport": 30000 + ((services - 1) % 2768) as u16}]
    })
    .to_string()
}

fn trace(c: &mut Criterion) {
    let mut g = c.benchmark_group("trace");
    for services in [1_000, 10_000] {
        let loaded = Loaded::from_json(&scenario_for(services)).unwrap();
        g.throughput(Throughput::Elements(1));
        g.bench_function(format!("nodeport-{services}"), |b| {
            b.iter(|| {
                let mut state = SimState::new(&loaded, 1, None);
                let paths = scenario::run(black_box(&loaded), &mut state).unwrap();
                assert_eq!(paths.len(), 1);
                paths
            })
        });
    }
    g.finish();

    // Sample-mode throughput: batch mode folds N new connections into counters.
    let mut g = c.benchmark_group("batch");
    let loaded = Loaded::from_json(&scenario_for(1_000)).unwrap();
    const N: u64 = 10_000;
    g.throughput(Throughput::Elements(N));
    g.sample_size(10);
    g.bench_function("nodeport-1000", |b| {
        b.iter(|| scenario::run_batch(black_box(&loaded), N).unwrap())
    });
    g.finish();
}

criterion_group!(benches, trace);
criterion_main!(benches);
