//! Run one established path (or a round of new flows) many times in a
//! plain loop, for profilers: `valgrind --tool=callgrind` counts the
//! instructions per packet exactly, which a shared VM's timings cannot.
//!
//! ```sh
//! cargo build -p xvs-bench --release --bin path-profile
//! valgrind --tool=callgrind target/release/path-profile dr_in 100000
//! ```
//!
//! With `--general` the worker's fast path is off: every packet takes the
//! general pipeline (the A/B the fast path is judged by).
//!
//! With `--time` it also times blocks of packets (a round of new flows, or
//! 4096 established packets) and prints the fastest block's ns per packet,
//! minus the frame copy timed the same way: on a shared machine the
//! least-disturbed block is the steadiest quick A/B figure (criterion's
//! medians in bench/README.md remain the reported ones).

use std::hint::black_box;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use xvs_bench::new_flow::run_round;
use xvs_bench::{established, new_flows, Path};
use xvs_config::SchedulerKind;

fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let general = args.iter().any(|a| a == "--general");
    let time = args.iter().any(|a| a == "--time");
    args.retain(|a| a != "--general" && a != "--time");
    let mut args = args.into_iter();
    let (Some(what), Some(n)) = (
        args.next(),
        args.next().and_then(|n| n.parse::<usize>().ok()),
    ) else {
        eprintln!(
            "usage: path-profile [--general] [--time] <dr_in|nat_in|...|new_<sched>> <iterations>"
        );
        return ExitCode::from(2);
    };
    if let Some(name) = what.strip_prefix("new_") {
        let Some(kind) = SchedulerKind::ALL.into_iter().find(|k| k.name() == name) else {
            eprintln!("no scheduler {name}");
            return ExitCode::from(2);
        };
        let mut s = match new_flows(kind) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("setup: {e}");
                return ExitCode::FAILURE;
            }
        };
        s.rig.worker.set_fast_path(!general);
        let rounds = n.div_ceil(s.frames.len()).max(1);
        let (mut best, mut best_copy) = (Duration::MAX, Duration::MAX);
        for _ in 0..rounds {
            if time {
                // As the new_flow bench: the round timed, the expiry not.
                let start = Instant::now();
                for f in &s.frames {
                    black_box(s.rig.copy_only(black_box(f)));
                }
                best_copy = best_copy.min(start.elapsed());
                let start = Instant::now();
                for f in &s.frames {
                    black_box(s.rig.transmit(xvs_testkit::CLIENT_IF, black_box(f)));
                }
                best = best.min(start.elapsed());
                if s.rig.table.len() != s.frames.len() {
                    eprintln!("a round did not open every flow");
                    return ExitCode::FAILURE;
                }
            } else if let Err(e) = run_round(&mut s) {
                eprintln!("{e}");
                return ExitCode::FAILURE;
            }
            s.rig.expire_all();
        }
        println!("{} new flows", rounds * s.frames.len());
        if time {
            report(best, best_copy, s.frames.len());
        }
        return ExitCode::SUCCESS;
    }
    let Some(path) = Path::ALL.into_iter().find(|p| p.name() == what) else {
        eprintln!("no path {what}");
        return ExitCode::from(2);
    };
    let mut e = match established(path) {
        Ok(e) => e,
        Err(err) => {
            eprintln!("setup: {err}");
            return ExitCode::FAILURE;
        }
    };
    let mut forwarded = 0usize;
    e.rig.worker.set_fast_path(!general);
    e.rig.prime_ring(&e.frame);
    let (mut best, mut best_copy) = (Duration::MAX, Duration::MAX);
    let mut left = n;
    while left > 0 {
        let block = left.min(BLOCK);
        let start = Instant::now();
        for _ in 0..block {
            if e.rig
                .transmit_ring(e.ingress, black_box(&e.frame))
                .is_some()
            {
                forwarded += 1;
            }
        }
        if block == BLOCK {
            best = best.min(start.elapsed());
        }
        if time {
            let start = Instant::now();
            for _ in 0..block {
                black_box(e.rig.copy_only(black_box(&e.frame)));
            }
            best_copy = best_copy.min(start.elapsed());
        }
        left -= block;
    }
    println!("{forwarded}/{n} forwarded");
    if time {
        report(best, best_copy, BLOCK);
    }
    if forwarded == n {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Established packets per timed block.
const BLOCK: usize = 4096;

/// Print the fastest block's ns per packet, with and without the copy.
fn report(best: Duration, best_copy: Duration, per_block: usize) {
    let ns = |d: Duration| d.as_secs_f64() * 1e9 / per_block as f64;
    println!(
        "fastest block: {:.1} ns/packet ({:.1} with the frame copy of {:.1})",
        ns(best) - ns(best_copy),
        ns(best),
        ns(best_copy)
    );
}
