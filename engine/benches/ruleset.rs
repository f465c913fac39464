//! Parse + validate, render and lint of kube-proxy style dumps at 1k and 10k
//! services (3 endpoints each), parsing on one thread and on two. Run:
//! `cargo bench -p nfsim`.
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::hint::black_box;

#[path = "support/kubegen.rs"]
mod kubegen;

fn parse_and_validate(c: &mut Criterion) {
    let mut g = c.benchmark_group("parse+validate");
    g.sample_size(10);
    for services in [1_000, 10_000] {
        let dump = kubegen::kube_dump(services, 3);
        g.throughput(Throughput::Bytes(dump.len() as u64));
        for threads in [1, 2] {
            let id = BenchmarkId::new(format!("{threads}-thread"), services);
            let options = nfsim::ParseOptions::threads(threads);
            g.bench_with_input(id, &dump, |b, d| {
                // Dropping the result is not part of parsing (the CLI exits instead).
                b.iter_with_large_drop(|| {
                    let parsed = nfsim::parse_with(black_box(d), None, options);
                    assert!(!parsed.has_errors());
                    parsed
                })
            });
        }
    }
    g.finish();
}

fn render(c: &mut Criterion) {
    let mut g = c.benchmark_group("render");
    g.sample_size(10);
    for services in [1_000, 10_000] {
        let parsed = nfsim::parse(&kubegen::kube_dump(services, 3), None);
        g.bench_with_input(
            BenchmarkId::from_parameter(services),
            &parsed.ruleset,
            |b, r| b.iter(|| nfsim::ruleset::render::render_save(black_box(r))),
        );
    }
    g.finish();
}

fn lint(c: &mut Criterion) {
    let mut g = c.benchmark_group("lint");
    g.sample_size(20);
    for services in [1_000, 10_000] {
        let parsed = nfsim::parse(&kubegen::kube_dump(services, 3), None);
        g.bench_with_input(
            BenchmarkId::from_parameter(services),
            &parsed.ruleset,
            |b, r| {
                b.iter(|| {
                    let warnings = nfsim::ruleset::lint::lint(black_box(r));
                    assert!(warnings.is_empty());
                    warnings
                })
            },
        );
    }
    g.finish();
}

criterion_group!(benches, parse_and_validate, render, lint);
criterion_main!(benches);
