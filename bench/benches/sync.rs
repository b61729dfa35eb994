//! Connection sync: ns per packet of a steady stream of short TCP
//! connections (SYN, ACK, three data segments, FIN+ACK, interleaved; see
//! `xvs_bench::sync_cost`) with the worker's sync link off, on (after
//! every burst, in the same thread, the control thread's work: events
//! popped, entries read and offered to the sync sender, datagrams taken),
//! and on with the events left queued until the round ends (`on_queued`:
//! the worker's pushes alone; consumed untimed). `frame_copy` is the copy of
//! the frames into the burst buffers alone. Run:
//! `cargo bench -p xvs-bench --bench sync`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use xvs_bench::rig::time_bursts;
use xvs_bench::sync_cost::run_round;
use xvs_bench::{sync_flows, SyncFlows, SyncMode};

/// Time `iters` packets in rounds; `burst` handles one burst of frames.
fn rounds(
    s: &mut SyncFlows,
    iters: u64,
    mut burst: impl FnMut(&mut SyncFlows, &[Vec<u8>]),
) -> Duration {
    let mut total = Duration::ZERO;
    let mut left = iters;
    // The frames are moved out so the closure may borrow the scenario.
    let frames = std::mem::take(&mut s.frames);
    while left > 0 {
        let n = left.min(frames.len() as u64);
        // Untimed: consume the events, flush the sender, empty the table.
        s.reset();
        total += time_bursts(n, &frames, &mut 0, |b| burst(s, black_box(b)));
        left -= n;
    }
    s.frames = frames;
    total
}

fn bench_sync(c: &mut Criterion) {
    let mut group = c.benchmark_group("sync");
    group
        .throughput(Throughput::Elements(1))
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    for mode in SyncMode::ALL {
        let mut s = sync_flows(mode).unwrap_or_else(|e| panic!("setting up {}: {e}", mode.name()));
        // Self-check: a round forwards every frame, queues the events and
        // syncs the entries.
        run_round(&mut s).unwrap_or_else(|e| panic!("{}: {e}", mode.name()));
        group.bench_function(mode.name(), |b| {
            b.iter_custom(|iters| {
                rounds(&mut s, iters, |s, frames| {
                    black_box(s.burst(frames));
                })
            })
        });
    }
    let mut s = sync_flows(SyncMode::Off).unwrap_or_else(|e| panic!("setting up: {e}"));
    group.bench_function(xvs_bench::report::COPY_BASELINE, |b| {
        b.iter_custom(|iters| {
            rounds(&mut s, iters, |s, frames| {
                black_box(s.rig.copy_burst(frames));
            })
        })
    });
    group.finish();
}

criterion_group!(benches, bench_sync);
criterion_main!(benches);
