//! Established-flow cost against table occupancy: the DR ACK path with
//! 1 K and with 1 M live connections in a 2^20-entry table, the packets
//! rotating round-robin over up to 4096 established connections scattered
//! through the table. `frame_copy` is the rotating copy alone.
//! Run: `cargo bench -p xvs-bench --bench table_size`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use xvs_bench::{populated, Populated};
use xvs_testkit::CLIENT_IF;

/// Live connections per bench and the bench id.
const SIZES: [(usize, &str); 2] = [(1_000, "live_1k"), (1_000_000, "live_1m")];

fn bench_table_size(c: &mut Criterion) {
    let mut group = c.benchmark_group("table_size");
    group
        .throughput(Throughput::Elements(1))
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    for (live, name) in SIZES {
        // One rig at a time: the 1 M table is ~100 MB.
        let Populated { mut rig, frames } =
            populated(live).unwrap_or_else(|e| panic!("populating {live}: {e}"));
        let mut next = 0usize;
        group.bench_function(name, |b| {
            b.iter(|| {
                let frame = &frames[next];
                next = if next + 1 == frames.len() {
                    0
                } else {
                    next + 1
                };
                rig.process(CLIENT_IF, black_box(frame))
            })
        });
        if live == 1_000_000 {
            let mut next = 0usize;
            group.bench_function(xvs_bench::report::COPY_BASELINE, |b| {
                b.iter(|| {
                    let frame = &frames[next];
                    next = if next + 1 == frames.len() {
                        0
                    } else {
                        next + 1
                    };
                    rig.copy_only(black_box(frame))
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench_table_size);
criterion_main!(benches);
