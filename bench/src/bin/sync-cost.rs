//! What connection sync costs the worker, as an A/B in one process: the
//! `sync` bench's scenarios (a stream of short TCP connections, see
//! `xvs_bench::sync_cost`) with the sync link off, on (events drained after
//! every burst in the same thread) and on with the events left queued
//! until the round ends, timed round by round in turn, so that whatever
//! the host does to one mode it does to the others within milliseconds.
//!
//! ```sh
//! cargo build -p xvs-bench --release --bin sync-cost
//! taskset -c 1 target/release/sync-cost 300     # rounds per mode
//! ```
//!
//! Prints, per mode, the fastest and the median round in ns per packet
//! minus the frame copy (timed the same way), and each mode's ratio to
//! off: on a shared machine the ratios are the figures to quote.

use std::hint::black_box;
use std::process::ExitCode;
use std::time::Duration;

use xvs_bench::rig::time_bursts;
use xvs_bench::sync_cost::run_round;
use xvs_bench::{sync_flows, SyncMode};

fn main() -> ExitCode {
    let rounds = match std::env::args().nth(1).map(|a| a.parse::<usize>()) {
        None => 200,
        Some(Ok(n)) if n > 0 => n,
        Some(_) => {
            eprintln!("usage: sync-cost [rounds per mode, default 200]");
            return ExitCode::from(2);
        }
    };
    let mut scenarios = Vec::new();
    for mode in SyncMode::ALL {
        match sync_flows(mode).and_then(|mut s| run_round(&mut s).map(|()| s)) {
            Ok(s) => scenarios.push(s),
            Err(e) => {
                eprintln!("{}: {e}", mode.name());
                return ExitCode::FAILURE;
            }
        }
    }
    let frames = scenarios[0].frames.clone();
    let packets = frames.len();
    let mut times: Vec<Vec<Duration>> = vec![Vec::with_capacity(rounds); scenarios.len()];
    let mut copies = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        for (s, t) in scenarios.iter_mut().zip(&mut times) {
            s.reset();
            let mut forwarded = 0;
            t.push(time_bursts(packets as u64, &frames, &mut 0, |b| {
                forwarded += s.burst(black_box(b));
            }));
            if forwarded != packets {
                eprintln!("{}: a round did not forward every frame", s.mode.name());
                return ExitCode::FAILURE;
            }
            if s.events_dropped() != 0 {
                eprintln!("{}: events were dropped", s.mode.name());
                return ExitCode::FAILURE;
            }
        }
        let rig = &mut scenarios[0].rig;
        copies.push(time_bursts(packets as u64, &frames, &mut 0, |b| {
            black_box(rig.copy_burst(black_box(b)));
        }));
    }
    let ns = |d: Duration| d.as_secs_f64() * 1e9 / packets as f64;
    let stats = |mut v: Vec<Duration>| {
        v.sort_unstable();
        (ns(v[0]), ns(v[v.len() / 2]))
    };
    let (copy_best, copy_median) = stats(copies);
    println!(
        "{rounds} rounds per mode of {packets} packets ({} flows); ns/packet minus the copy \
         ({copy_best:.1} fastest, {copy_median:.1} median)",
        packets / xvs_bench::PACKETS_PER_FLOW
    );
    let figures: Vec<(f64, f64)> = times
        .into_iter()
        .map(stats)
        .map(|(b, m)| (b - copy_best, m - copy_median))
        .collect();
    let (off_best, off_median) = figures[0];
    for (s, (best, median)) in scenarios.iter().zip(&figures) {
        println!(
            "{:>10}: fastest {best:6.1}  median {median:6.1}  ratio to off: fastest {:.3}, median {:.3}",
            s.mode.name(),
            best / off_best,
            median / off_median
        );
    }
    ExitCode::SUCCESS
}
