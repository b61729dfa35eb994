//! New flows: ns per SYN that opens a connection on a DR service with 8
//! real servers, for each of the 14 IPVS schedulers. SYNs are replayed in
//! rounds of `FLOWS_PER_ROUND` distinct flows; before each round, outside
//! the timed region, every entry is expired (`Rig::expire_all`) so each SYN
//! is a new flow again. Each round is processed in receive bursts of
//! consecutive SYNs, as the worker loop does (`Rig::transmit_burst`).
//! `rr_full_table` is `rr` into a table exactly full of half-open
//! entries, each SYN evicting one (what a SYN flood costs a new
//! connection). `frame_copy` is the copy of the SYN frames into the burst buffers alone. Run: `cargo bench -p xvs-bench --bench new_flow`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use xvs_bench::rig::time_bursts;
use xvs_bench::{new_flows, NewFlows, FLOWS_PER_ROUND};
use xvs_config::SchedulerKind;
use xvs_testkit::CLIENT_IF;

/// Time `iters` packets in rounds; `burst` handles one burst of frames.
fn rounds(
    s: &mut NewFlows,
    iters: u64,
    mut burst: impl FnMut(&mut xvs_bench::Rig, &[Vec<u8>]),
) -> Duration {
    let mut total = Duration::ZERO;
    let mut left = iters;
    while left > 0 {
        let n = left.min(FLOWS_PER_ROUND as u64);
        // Untimed: empty the table (and unbind the real servers' counters).
        s.rig.expire_all();
        let rig = &mut s.rig;
        total += time_bursts(n, &s.frames, &mut 0, |frames| burst(rig, black_box(frames)));
        left -= n;
    }
    total
}

fn bench_new_flow(c: &mut Criterion) {
    let mut group = c.benchmark_group("new_flow");
    group
        .throughput(Throughput::Elements(1))
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    for kind in SchedulerKind::ALL {
        let mut s = new_flows(kind).unwrap_or_else(|e| panic!("setting up {}: {e}", kind.name()));
        // Self-check: one full round forwards every SYN as a new entry.
        xvs_bench::new_flow::run_round(&mut s).unwrap_or_else(|e| panic!("{}: {e}", kind.name()));
        group.bench_function(kind.name(), |b| {
            b.iter_custom(|iters| {
                rounds(&mut s, iters, |rig, frames| {
                    black_box(rig.transmit_burst(CLIENT_IF, frames));
                })
            })
        });
    }
    // A SYN flood's cost: every SYN evicts a half-open entry to get in.
    let mut full =
        xvs_bench::new_flow::new_flows_full_table().unwrap_or_else(|e| panic!("full table: {e}"));
    xvs_bench::new_flow::run_full(&mut full, FLOWS_PER_ROUND)
        .unwrap_or_else(|e| panic!("full table: {e}"));
    group.bench_function("rr_full_table", |b| {
        b.iter_custom(|iters| {
            let rig = &mut full.rig;
            time_bursts(iters, &full.frames, &mut full.next, |frames| {
                black_box(rig.transmit_burst(CLIENT_IF, black_box(frames)));
            })
        })
    });
    let mut s = new_flows(SchedulerKind::Rr).unwrap_or_else(|e| panic!("setting up: {e}"));
    group.bench_function(xvs_bench::report::COPY_BASELINE, |b| {
        b.iter_custom(|iters| {
            rounds(&mut s, iters, |rig, frames| {
                black_box(rig.copy_burst(frames));
            })
        })
    });
    group.finish();
}

criterion_group!(benches, bench_new_flow);
criterion_main!(benches);
