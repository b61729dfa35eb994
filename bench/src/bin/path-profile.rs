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
//! general pipeline (the A/B the fast path is judged by). Frames go through
//! the rig in receive bursts, as in the benches; `--prefetch-min-live N`
//! sets from how many live entries the worker starts a burst's lookups
//! early (0: always), to A/B that step.
//!
//! With `--time` it also times blocks of packets (a round of new flows, or
//! 4096 established packets) and prints the fastest block's ns per packet,
//! minus the frame copy timed the same way: on a shared machine the
//! least-disturbed block is the steadiest quick A/B figure (criterion's
//! medians in bench/README.md remain the reported ones). For new flows it
//! also prints the median and slowest round, and with `--trace-rounds`
//! every round's time in order (how the host's contention comes and goes).
//! `--hot N` sends a `live_<entries>` scenario's ACKs over N connections
//! instead of the bench's 4,096, so one hot set can be timed in a small
//! and a full table.

use std::hint::black_box;
use std::process::ExitCode;
use std::time::Duration;

use xvs_bench::rig::{time_bursts, BURST};
use xvs_bench::{established, new_flows, populated_hot, Path, HOT_FLOWS, POPULATED_CAPACITY};
use xvs_config::SchedulerKind;
use xvs_testkit::CLIENT_IF;

fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let general = args.iter().any(|a| a == "--general");
    let time = args.iter().any(|a| a == "--time");
    let trace_rounds = args.iter().any(|a| a == "--trace-rounds");
    args.retain(|a| a != "--general" && a != "--time" && a != "--trace-rounds");
    // --prefetch-min-live N: from how many live entries the worker starts
    // a burst's lookups early (0 = always; default: the worker's own).
    let Ok(prefetch_min_live) = number_option(&mut args, "--prefetch-min-live") else {
        return ExitCode::from(2);
    };
    // --hot N: how many connections a live_<entries> scenario's ACKs cover.
    let Ok(hot) = number_option(&mut args, "--hot") else {
        return ExitCode::from(2);
    };
    let mut args = args.into_iter();
    let (Some(what), Some(n)) = (
        args.next(),
        args.next().and_then(|n| n.parse::<usize>().ok()),
    ) else {
        eprintln!(
            "usage: path-profile [--general] [--time] [--trace-rounds] [--prefetch-min-live N] [--hot N] <dr_in|nat_in|...|new_<sched>|live_<entries>> <iterations>"
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
        if let Some(m) = prefetch_min_live {
            s.rig.plan.prefetch_min_live = m;
        }
        let rounds = n.div_ceil(s.frames.len()).max(1);
        let mut all = Vec::with_capacity(rounds);
        let (mut best, mut best_copy) = (Duration::MAX, Duration::MAX);
        for _ in 0..rounds {
            // As the new_flow bench: the round timed, the expiry not.
            let frames = &s.frames;
            let rig = &mut s.rig;
            if time {
                let took = time_bursts(frames.len() as u64, frames, &mut 0, |burst| {
                    black_box(rig.copy_burst(black_box(burst)));
                });
                best_copy = best_copy.min(took);
            }
            let mut forwarded = 0;
            let took = time_bursts(frames.len() as u64, frames, &mut 0, |burst| {
                forwarded += rig.transmit_burst(xvs_testkit::CLIENT_IF, black_box(burst));
            });
            best = best.min(took);
            all.push(took);
            if forwarded != frames.len() || rig.table.len() != frames.len() {
                eprintln!("a round did not open and forward every flow");
                return ExitCode::FAILURE;
            }
            s.rig.expire_all();
        }
        println!("{} new flows", rounds * s.frames.len());
        if time {
            report(best, best_copy, s.frames.len());
            if trace_rounds {
                let ns =
                    |d: &Duration| format!("{:.0}", d.as_secs_f64() * 1e9 / s.frames.len() as f64);
                let per: Vec<String> = all.iter().map(ns).collect();
                println!(
                    "rounds in order (ns/packet with the copy): {}",
                    per.join(" ")
                );
            }
            all.sort_unstable();
            let median = all[all.len() / 2];
            let ns = |d: Duration| d.as_secs_f64() * 1e9 / s.frames.len() as f64;
            println!(
                "median round: {:.1} ns/packet (with the copy; slowest {:.1})",
                ns(median),
                ns(all[all.len() - 1])
            );
        }
        return ExitCode::SUCCESS;
    }
    // live_<entries>: the table_size bench's DR ACKs over a 2^20 table
    // holding that many connections.
    let (mut rig, ingress, frames) = if let Some(live) = what.strip_prefix("live_") {
        let Ok(live) = live.parse::<usize>() else {
            eprintln!("live_<entries>: {live} is not a number");
            return ExitCode::from(2);
        };
        match populated_hot(live, POPULATED_CAPACITY, hot.unwrap_or(HOT_FLOWS)) {
            Ok(p) => (p.rig, CLIENT_IF, p.frames),
            Err(err) => {
                eprintln!("setup: {err}");
                return ExitCode::FAILURE;
            }
        }
    } else {
        let Some(path) = Path::ALL.into_iter().find(|p| p.name() == what) else {
            eprintln!("no path {what}");
            return ExitCode::from(2);
        };
        match established(path) {
            Ok(e) => (e.rig, e.ingress, vec![e.frame; BURST]),
            Err(err) => {
                eprintln!("setup: {err}");
                return ExitCode::FAILURE;
            }
        }
    };
    let mut forwarded = 0usize;
    rig.worker.set_fast_path(!general);
    if let Some(m) = prefetch_min_live {
        rig.plan.prefetch_min_live = m;
    }
    let (mut best, mut best_copy) = (Duration::MAX, Duration::MAX);
    let mut left = n;
    let (mut next, mut next_copy) = (0, 0);
    while left > 0 {
        let block = left.min(BLOCK);
        let took = time_bursts(block as u64, &frames, &mut next, |burst| {
            forwarded += rig.transmit_burst(ingress, black_box(burst));
        });
        if block == BLOCK {
            best = best.min(took);
        }
        if time {
            let took = time_bursts(block as u64, &frames, &mut next_copy, |burst| {
                black_box(rig.copy_burst(black_box(burst)));
            });
            best_copy = best_copy.min(took);
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

/// Take `name N` out of `args`: `Ok(None)` if absent, `Err` (reported) if
/// N is not a number.
fn number_option(args: &mut Vec<String>, name: &str) -> Result<Option<usize>, ()> {
    let Some(i) = args.iter().position(|a| a == name) else {
        return Ok(None);
    };
    let Some(n) = args.get(i + 1).and_then(|n| n.parse::<usize>().ok()) else {
        eprintln!("{name} needs a number");
        return Err(());
    };
    args.drain(i..i + 2);
    Ok(Some(n))
}
