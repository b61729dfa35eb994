//! Established-flow cost against table occupancy: the DR ACK path with
//! 1 K and with 1 M live connections in a 2^20-entry table (and 1 K in a
//! 4096-entry table, for contrast), the packets
//! rotating round-robin over up to 4096 established connections scattered
//! through the table, processed in receive bursts as the worker loop does
//! (`Rig::transmit_burst`: the burst's lookups are started together).
//! `frame_copy` is the copy into the burst buffers alone.
//! Run: `cargo bench -p xvs-bench --bench table_size`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use xvs_bench::rig::time_bursts;
use xvs_bench::{populated, Populated, POPULATED_CAPACITY};
use xvs_testkit::CLIENT_IF;

/// Live connections, table capacity and the bench id. `live_1k_cap4k`
/// keeps the 1 K connections in a 4096-entry table: against `live_1k`
/// it shows what spreading the same entries over a 2^20 table costs
/// (cache lines and TLB reach), apart from the number of entries.
const SIZES: [(usize, usize, &str); 3] = [
    (1_000, 4096, "live_1k_cap4k"),
    (1_000, POPULATED_CAPACITY, "live_1k"),
    (1_000_000, POPULATED_CAPACITY, "live_1m"),
];
/// `cargo test` runs each bench once as a smoke test (without `--bench`);
/// it then fills the "1 M" table with this many entries only, to keep the
/// unoptimised test run short.
const SMOKE_TEST_LIVE: usize = 50_000;

fn bench_table_size(c: &mut Criterion) {
    let mut group = c.benchmark_group("table_size");
    group
        .throughput(Throughput::Elements(1))
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    let smoke_test = !std::env::args().any(|a| a == "--bench");
    for (live, capacity, name) in SIZES {
        let live = if smoke_test {
            live.min(SMOKE_TEST_LIVE)
        } else {
            live
        };
        // One rig at a time: the 1 M table is ~100 MB.
        let Populated { mut rig, frames } =
            populated(live, capacity).unwrap_or_else(|e| panic!("populating {live}: {e}"));
        let mut next = 0;
        group.bench_function(name, |b| {
            b.iter_custom(|packets| {
                time_bursts(packets, &frames, &mut next, |burst| {
                    black_box(rig.transmit_burst(CLIENT_IF, black_box(burst)));
                })
            })
        });
        if name == "live_1m" {
            let mut next = 0;
            group.bench_function(xvs_bench::report::COPY_BASELINE, |b| {
                b.iter_custom(|packets| {
                    time_bursts(packets, &frames, &mut next, |burst| {
                        black_box(rig.copy_burst(black_box(burst)));
                    })
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench_table_size);
criterion_main!(benches);
