//! `vrrp-failover`: how long a VRRP failover takes with xvs and with
//! keepalived on the same lab, and whether a loaded xvs master keeps its
//! adverts going.
//!
//! ```text
//! cargo build --release -p xvs -p xvs-pktgen -p xvs-vrrp-bench
//! sudo target/release/vrrp-failover --runs 20                 # everything
//! sudo target/release/vrrp-failover --runs 5 --only xvs-kill-100ms
//! sudo target/release/vrrp-failover --list
//! ```
//!
//! Each configuration gets its own VRRP-pair lab (client, two directors
//! on shared segments, three real servers). See README.md for the method
//! and the figures.

mod capture;
mod client;
mod failover;
mod keepalived_node;
mod pair;
mod saturation;
mod stamp;
mod stats;
mod xvs_node;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::Parser;

use failover::{Run, Scenario};
use pair::{Daemon, Stop, PRIORITIES};
use stats::{kill_window, master_down, median_worst, skew, ClientSeen};

#[derive(Debug, Parser)]
#[command(
    name = "vrrp-failover",
    about = "VRRP failover times of xvs and keepalived pairs in the lab"
)]
struct Cli {
    /// Stops of the master per failover configuration.
    #[arg(long, default_value_t = 20)]
    runs: usize,
    /// Configurations to run, comma-separated (default: all; see --list).
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// List the configurations and exit.
    #[arg(long)]
    list: bool,
    /// Length of a saturation run, seconds.
    #[arg(long, default_value_t = 60.0)]
    saturation_seconds: f64,
    /// Saturation runs per generator placement.
    #[arg(long, default_value_t = 1)]
    saturation_runs: usize,
    /// During the saturation runs, this many busy-looping threads (not
    /// pinned, ordinary priority): a host that other jobs keep busy, as
    /// this shared machine often is.
    #[arg(long, default_value_t = 0)]
    hogs: usize,
    /// The `xvs` binary (default: beside this one).
    #[arg(long)]
    xvs: Option<PathBuf>,
    /// The `xvs-pktgen` binary (default: beside this one).
    #[arg(long)]
    pktgen: Option<PathBuf>,
    /// Where the per-run records (runs.jsonl) and the daemons' stamped logs
    /// go (default: /tmp/xvs-vrrp-bench-UNIXTIME).
    #[arg(long)]
    out: Option<PathBuf>,
}

/// The saturation runs' names in --only, with the core the generator is
/// pinned to.
const SATURATION: [(&str, usize); 2] = [
    ("xvs-saturation-10ms-gen1", 1),
    ("xvs-saturation-10ms-gen0", 0),
];

fn scenarios() -> Vec<Scenario> {
    let s = |daemon: Daemon, stop: Stop, ms: u64| Scenario {
        name: format!(
            "{}-{}-{}",
            daemon.name(),
            match stop {
                Stop::Kill => "kill",
                Stop::Term => "term",
                Stop::Stall => "stall",
            },
            if ms >= 1000 {
                format!("{}s", ms / 1000)
            } else {
                format!("{ms}ms")
            }
        ),
        daemon,
        stop,
        advert: Duration::from_millis(ms),
    };
    vec![
        s(Daemon::Xvs, Stop::Kill, 1000),
        s(Daemon::Xvs, Stop::Kill, 100),
        s(Daemon::Xvs, Stop::Kill, 10),
        s(Daemon::Keepalived, Stop::Kill, 1000),
        s(Daemon::Keepalived, Stop::Kill, 100),
        s(Daemon::Xvs, Stop::Term, 100),
        s(Daemon::Xvs, Stop::Term, 10),
        s(Daemon::Keepalived, Stop::Term, 100),
        s(Daemon::Xvs, Stop::Stall, 10),
        s(Daemon::Keepalived, Stop::Stall, 10),
    ]
}

/// Configurations run only when named in --only: not in the issue's list.
const EXTRA: [&str; 2] = ["xvs-stall-10ms", "keepalived-stall-10ms"];

fn interrupted_flag() -> &'static Arc<AtomicBool> {
    static FLAG: OnceLock<Arc<AtomicBool>> = OnceLock::new();
    FLAG.get_or_init(|| Arc::new(AtomicBool::new(false)))
}

/// Fail once Ctrl-C (or SIGTERM) was pressed, so the run unwinds through
/// the normal returns and every lab and daemon is torn down.
pub fn check_interrupted() -> Result<()> {
    if interrupted_flag().load(Ordering::Relaxed) {
        bail!("interrupted");
    }
    Ok(())
}

/// Busy-looping threads, stopped when dropped.
#[derive(Debug)]
struct Hogs {
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Hogs {
    fn start(n: usize) -> Result<Hogs> {
        let stop = Arc::new(AtomicBool::new(false));
        let threads = (0..n)
            .map(|i| {
                let stop = stop.clone();
                std::thread::Builder::new()
                    .name(format!("hog-{i}"))
                    .spawn(move || {
                        while !stop.load(Ordering::Relaxed) {
                            std::hint::spin_loop();
                        }
                    })
            })
            .collect::<std::io::Result<Vec<_>>>()?;
        Ok(Hogs { stop, threads })
    }
}

impl Drop for Hogs {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

fn beside_me(name: &str) -> Result<PathBuf> {
    let me = std::env::current_exe()?;
    Ok(me.with_file_name(name))
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let all = scenarios();
    if cli.list {
        for s in &all {
            println!("{}", s.name);
        }
        for (name, _) in SATURATION {
            println!("{name}");
        }
        return Ok(());
    }
    for name in &cli.only {
        if !SATURATION.iter().any(|(n, _)| n == name) && !all.iter().any(|s| &s.name == name) {
            bail!("no configuration {name:?} (see --list)");
        }
    }
    let wanted = |name: &str| {
        (cli.only.is_empty() && !EXTRA.contains(&name)) || cli.only.iter().any(|o| o == name)
    };
    if let Some(reason) = xvs_lab::missing_capability() {
        bail!("the lab cannot run here: {reason}");
    }
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, interrupted_flag().clone())?;
    }
    let xvs = match &cli.xvs {
        Some(p) => p.clone(),
        None => beside_me("xvs")?,
    };
    let xvs = xvs
        .canonicalize()
        .with_context(|| format!("{} (build it: cargo build --release -p xvs)", xvs.display()))?;
    let out = cli.out.clone().unwrap_or_else(|| {
        PathBuf::from(format!("/tmp/xvs-vrrp-bench-{}", stamp::unix_now() as u64))
    });
    std::fs::create_dir_all(&out)?;
    let mut records = std::fs::File::options()
        .create(true)
        .append(true)
        .open(out.join("runs.jsonl"))?;
    eprintln!("vrrp-failover: records and logs in {}", out.display());
    let mut record = |v: &serde_json::Value| -> Result<()> {
        writeln!(records, "{v}")?;
        Ok(())
    };

    // A prefix of this process: `vrb` + pid + two hex digits per lab (at
    // most 3 + 7 + 2 characters: the lab allows 12).
    let prefix = |k: usize| format!("vrb{:x}{:02x}", std::process::id(), k % 256);
    let mut rows = Vec::new();
    for (k, sc) in all.iter().enumerate() {
        if !wanted(&sc.name) {
            continue;
        }
        if sc.daemon == Daemon::Keepalived && !xvs_lab::keepalived_path().is_file() {
            bail!(
                "{}: keepalived is not installed ({}; apt-get install keepalived)",
                sc.name,
                xvs_lab::keepalived_path().display()
            );
        }
        let runs = failover::measure(sc, cli.runs, &xvs, &out, &prefix(k), &mut record)?;
        rows.push((sc.clone(), runs));
    }
    let mut saturations = Vec::new();
    for (k, (name, core)) in SATURATION.iter().enumerate() {
        if !wanted(name) {
            continue;
        }
        let pktgen = match &cli.pktgen {
            Some(p) => p.clone(),
            None => beside_me("xvs-pktgen")?,
        };
        let pktgen = pktgen.canonicalize().with_context(|| {
            format!(
                "{} (build it: cargo build --release -p xvs-pktgen)",
                pktgen.display()
            )
        })?;
        for n in 0..cli.saturation_runs {
            let hogs = Hogs::start(cli.hogs)?;
            let plan = saturation::Plan {
                seconds: cli.saturation_seconds,
                advert: Duration::from_millis(10),
                generator_core: *core,
                run: n + 1,
                xvs: &xvs,
                pktgen: &pktgen,
            };
            let s = saturation::measure(
                &plan,
                &out,
                &prefix(all.len() + k * cli.saturation_runs + n),
            )?;
            drop(hogs);
            let mut row = saturation::to_json(&s);
            row["hogs"] = cli.hogs.into();
            record(&row)?;
            print_saturation(&s);
            saturations.push(s);
        }
    }
    print_table(&rows);
    if !saturations.is_empty() {
        println!();
        print_saturation_table(&saturations);
    }
    print_machine(&out);
    Ok(())
}

fn print_table(rows: &[(Scenario, Vec<Run>)]) {
    if rows.is_empty() {
        return;
    }
    println!(
        "| pair | stop | advert | runs | backup reports master (ms from the signal) | backup claims the VIP on the wire (ms from the signal) | expected from the signal (ms) | claim after the master's last advert (ms) | expected (ms) | first new connection answered at once (ms from the signal) | requests delayed ≥ 0.5 s, per stop | requests failed, per stop |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (sc, runs) in rows {
        let (lo, hi) = kill_window(PRIORITIES[1], sc.advert);
        let md = master_down(PRIORITIES[1], sc.advert) * 1000.0;
        let sk = skew(PRIORITIES[1], sc.advert) * 1000.0;
        let (from_signal, from_advert) = match sc.stop {
            Stop::Kill | Stop::Stall => (
                format!("{:.0}–{:.0}", lo * 1000.0, hi * 1000.0),
                format!("{md:.1}"),
            ),
            Stop::Term => (format!("{sk:.1}"), format!("{sk:.1}")),
        };
        let pick = |f: &dyn Fn(&Run) -> Option<f64>| -> String {
            let v: Vec<f64> = runs.iter().filter_map(f).collect();
            let missing = runs.len() - v.len();
            if missing > 0 {
                format!("{} ({missing} never)", cell(&v))
            } else {
                cell(&v)
            }
        };
        let (client, delayed) = if sc.daemon == Daemon::Xvs {
            let count = |f: fn(&ClientSeen) -> usize| -> String {
                let v: Vec<f64> = runs
                    .iter()
                    .filter_map(|r| r.client.as_ref().map(|c| f(c) as f64))
                    .collect();
                match median_worst(&v) {
                    Some((m, w)) => format!("{m:.1} / {w:.0}"),
                    None => "n/a".to_owned(),
                }
            };
            (
                pick(&|r| r.client.as_ref()?.at_once_after),
                format!(
                    "{} | {}",
                    count(|c| c.slow_after),
                    count(|c| c.failed_after)
                ),
            )
        } else {
            ("n/a (no IPVS)".to_owned(), "n/a | n/a".to_owned())
        };
        println!(
            "| {} | {} | {} ms | {} | {} | {} | {from_signal} | {} | {from_advert} | {client} | {delayed} |",
            sc.daemon.name(),
            match sc.stop {
                Stop::Kill => "SIGKILL",
                Stop::Term => "SIGTERM",
                Stop::Stall => "SIGSTOP, SIGCONT",
            },
            sc.advert.as_millis(),
            runs.len(),
            pick(&|r| r.master),
            pick(&|r| r.claim),
            pick(&|r| r.after_last_advert),
        );
    }
}

/// Milliseconds, "median / worst".
fn cell(xs: &[f64]) -> String {
    match median_worst(xs) {
        Some((m, w)) => format!("{:.1} / {:.1}", m * 1000.0, w * 1000.0),
        None => "n/a".to_owned(),
    }
}

fn print_saturation_table(runs: &[saturation::Saturation]) {
    println!("| generator on | run | seconds | generator sent (kpps) | master forwarded (kpps) | transitions master / backup | backup's longest advert gap (ms) | gaps over Master_Down_Interval | HTTP requests failed |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for s in runs {
        let tx = s
            .pktgen
            .get("tx_pps")
            .and_then(|v| v.as_f64())
            .unwrap_or(0.0);
        println!(
            "| core {} | {} | {:.0} | {:.0} | {:.0} | {} / {} | {:.1} | {} | {} of {} |",
            s.generator_core,
            s.run,
            s.seconds,
            tx / 1e3,
            s.forwarded_pps / 1e3,
            s.transitions[0],
            s.transitions[1],
            s.received.longest * 1000.0,
            s.received.over_master_down,
            s.http.failed,
            s.http.requests
        );
    }
}

/// The whole story of one saturation run, on stderr as it ends.
fn print_saturation(s: &saturation::Saturation) {
    let pps = |key: &str| s.pktgen.get(key).and_then(|v| v.as_f64()).unwrap_or(0.0) / 1e3;
    let g = |g: &saturation::Gaps| {
        format!(
            "{} adverts, longest gap {:.1} ms, {} gaps over 2 intervals, {} over Master_Down_Interval; worst {}",
            g.adverts,
            g.longest * 1000.0,
            g.over_two_intervals,
            g.over_master_down,
            g.worst
                .iter()
                .map(|(t, d)| format!("{:.0} ms ending {t:.3}", d * 1000.0))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    eprintln!();
    eprintln!(
        "saturation, generator on core {} ({:.1} s, adverts every {} ms):",
        s.generator_core,
        s.seconds,
        s.advert.as_millis()
    );
    eprintln!(
        "  VRRP transitions: director 1 (master) {}, director 2 (backup) {}",
        s.transitions[0], s.transitions[1]
    );
    eprintln!(
        "  generator sent {:.0} kpps, real servers received {:.0} kpps, master forwarded {:.0} kpps (xvs_forwarded_packets_total)",
        pps("tx_pps"),
        pps("rx_pps"),
        s.forwarded_pps / 1e3
    );
    eprintln!("  master's VI_OUT adverts as sent: {}", g(&s.sent));
    eprintln!("  the same as the backup received them: {}", g(&s.received));
    eprintln!(
        "  counters: master sent {} VI_OUT adverts, backup received {}",
        s.counted.0, s.counted.1
    );
    for (i, (run, wait, slices)) in s.control.iter().enumerate() {
        eprintln!(
            "  director {} control thread: {:.2} s on CPU, {:.2} s waiting for it, {} runs ({:.3} ms mean wait)",
            i + 1,
            run,
            wait,
            slices,
            wait / (*slices).max(1) as f64 * 1000.0
        );
    }
    eprintln!("  kernel backlog drops per CPU: {:?}", s.backlog_drops);
    eprintln!(
        "  HTTP every 20 ms: {} requests, {} failed, {} answered after ≥ 0.5 s; longest failing stretch {} requests from {:.3} to {:.3}",
        s.http.requests,
        s.http.failed,
        s.http.slow,
        s.http.longest_failing.2,
        s.http.longest_failing.0,
        s.http.longest_failing.1
    );
    eprintln!(
        "  ARP frames claiming the VIP seen by the client: {} from the backup, {} from the master; client's entry at the end: {}",
        s.claims.0, s.claims.1, s.client_neigh
    );
    eprintln!(
        "  failed health checks: director 1 {}, director 2 {}",
        s.failed_checks[0], s.failed_checks[1]
    );
    for (i, lines) in s.transition_lines.iter().enumerate() {
        for l in lines {
            eprintln!("  director {}: {l}", i + 1);
        }
    }
}

fn print_machine(out: &Path) {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_owned())
        })
        .unwrap_or_default();
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!();
    println!(
        "machine: {cpu}, {} cores; load average {}; records in {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" "),
        out.display()
    );
}
