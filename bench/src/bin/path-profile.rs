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

use std::hint::black_box;
use std::process::ExitCode;

use xvs_bench::new_flow::run_round;
use xvs_bench::{established, new_flows, Path};
use xvs_config::SchedulerKind;

fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let general = args.iter().any(|a| a == "--general");
    args.retain(|a| a != "--general");
    let mut args = args.into_iter();
    let (Some(what), Some(n)) = (
        args.next(),
        args.next().and_then(|n| n.parse::<usize>().ok()),
    ) else {
        eprintln!("usage: path-profile [--general] <dr_in|nat_in|...|new_<sched>> <iterations>");
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
        for _ in 0..rounds {
            if let Err(e) = run_round(&mut s) {
                eprintln!("{e}");
                return ExitCode::FAILURE;
            }
            s.rig.expire_all();
        }
        println!("{} new flows", rounds * s.frames.len());
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
    for _ in 0..n {
        if e.rig
            .transmit_ring(e.ingress, black_box(&e.frame))
            .is_some()
        {
            forwarded += 1;
        }
    }
    println!("{forwarded}/{n} forwarded");
    if forwarded == n {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
