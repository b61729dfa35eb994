//! `health-cost`: what health-checking N real servers every second costs
//! the director's control side, as CPU-seconds per second of the
//! `xvs-health` thread (and of the whole `xvs run` process, for context).
//!
//! ```text
//! cargo build --release -p xvs -p xvs-health-bench
//! sudo target/release/health-cost --servers 1000 --seconds 30
//! ```
//!
//! It builds a NAT lab with one backend namespace holding `--servers`
//! extra addresses (the backend answers HTTP on every one), starts the
//! given `xvs` binary in the director's namespace with one service of
//! that many real servers, each with one checker (`delay_loop 1`,
//! `warmup 1` so the first checks spread over a second), waits until
//! every checker has passed once, then samples the health thread's
//! user+system CPU time (/proc/PID/task/TID/stat) and the number of
//! checks done (`xvs_health_checks_total`) over `--seconds`. Every check
//! must pass; a failed one makes the run invalid (it would measure a
//! different path).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::Parser;
use xvs_lab::{Lab, LabSpec, Method};

mod floor;

#[derive(Debug, Parser)]
#[command(
    name = "health-cost",
    about = "CPU cost of xvs health checks in the lab"
)]
struct Cli {
    /// The `xvs` binary to measure.
    #[arg(long, default_value = "target/release/xvs")]
    xvs: PathBuf,
    /// Real servers, each checked every second.
    #[arg(long, default_value_t = 1000)]
    servers: usize,
    /// Measuring time per checker kind.
    #[arg(long, default_value_t = 30)]
    seconds: u64,
    /// Checker kinds to measure, in order.
    #[arg(long, value_delimiter = ',', default_value = "tcp,http")]
    kinds: Vec<String>,
    /// Internal: run the floor (the simplest prober) in this process,
    /// reading its targets from this file; the measuring run starts it in
    /// the director's namespace.
    #[arg(long, hide = true)]
    floor_targets: Option<PathBuf>,
}

/// One measurement.
#[derive(Debug)]
struct Cost {
    kind: String,
    seconds: f64,
    checks: u64,
    failed: u64,
    health_cpu: f64,
    /// Of which in the kernel (system time).
    health_sys: f64,
    process_cpu: f64,
    /// The floor program's CPU-s/s for the same checks (see floor.rs).
    floor_cpu: f64,
    /// The floor's checks per second.
    floor_rate: f64,
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    if let Some(targets) = &cli.floor_targets {
        let kind = cli.kinds.first().map_or("tcp", String::as_str);
        return floor::run(targets, kind, cli.seconds);
    }
    if let Some(reason) = xvs_lab::missing_capability() {
        bail!("the lab cannot run here: {reason}");
    }
    let xvs = cli.xvs.canonicalize().with_context(|| {
        format!(
            "{} (build it: cargo build --release -p xvs)",
            cli.xvs.display()
        )
    })?;
    let mut results = Vec::new();
    for kind in &cli.kinds {
        results.push(measure(&xvs, kind, cli.servers, cli.seconds)?);
    }
    println!(
        "| checker | real servers | checks/s | health thread CPU-s/s | of which kernel | µs CPU per check | whole `xvs run` CPU-s/s | floor checks/s | floor CPU-s/s | health thread / floor |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for c in &results {
        let rate = c.checks as f64 / c.seconds;
        println!(
            "| {} | {} | {:.0} | {:.4} ({:.2} % of a core) | {:.4} | {:.1} | {:.4} | {:.0} | {:.4} | {:.2} |",
            c.kind,
            cli.servers,
            rate,
            c.health_cpu,
            c.health_cpu * 100.0,
            c.health_sys,
            c.health_cpu / rate.max(1.0) * 1e6,
            c.process_cpu,
            c.floor_rate,
            c.floor_cpu,
            c.health_cpu / c.floor_cpu.max(1e-9)
        );
        if c.failed > 0 {
            eprintln!(
                "health-cost: {} of {} {} checks failed: the run is not valid",
                c.failed, c.checks, c.kind
            );
        }
    }
    Ok(())
}

fn measure(xvs: &Path, kind: &str, servers: usize, seconds: u64) -> Result<Cost> {
    let checker = match kind {
        // log_all_failures: a failed check is logged with its reason,
        // which the run prints (a failing run measures another path).
        "tcp" => "{ type: tcp, log_all_failures: true }",
        "http" => "{ type: http, path: /health, log_all_failures: true }",
        other => bail!("unknown checker kind {other} (tcp or http)"),
    };
    let lab = Lab::build(LabSpec {
        real_servers: 1,
        ..LabSpec::new(Method::Nat)
    })?;
    let addresses = lab.add_backend_addresses(1, servers)?;
    let (c, r) = lab.director_ifaces();
    let mut yaml = format!(
        "global:\n  workers: [0]\n  idle: adaptive\n  conn_capacity: 65536\n  umem_frames: 4096\n  ring_size: 1024\n  health: {{ max_in_flight: {servers} }}\n\
         interfaces:\n  - name: {c}\n    addresses: [198.18.0.2/24]\n  - name: {r}\n    addresses: [198.18.1.1/24]\n\
         services:\n  - vip: 198.18.0.100\n    port: 80\n    method: nat\n    scheduler: wrr\n    delay_loop: 1\n    connect_timeout: 2\n    warmup: 1\n    real_servers:\n"
    );
    for a in &addresses {
        yaml.push_str(&format!(
            "      - {{ address: {a}, port: 8080, health: {checker} }}\n"
        ));
    }
    let dir = xvs_lab::lab_dir(lab.prefix());
    let (floor_rate, floor_cpu) = run_floor(&lab, &dir, &addresses, kind, seconds)?;
    let config = dir.join("health-cost.yaml");
    std::fs::write(&config, yaml)?;
    let sock = dir.join("xvs.sock");
    let mut proc = lab.spawn(
        &lab.ns_director(),
        &[
            &xvs.to_string_lossy(),
            "run",
            "-c",
            &config.to_string_lossy(),
            "--control",
            &sock.to_string_lossy(),
        ],
    )?;
    let pid = proc.pid().context("xvs run has no pid")?;

    // Every checker passes once before measuring.
    let t0 = Instant::now();
    loop {
        if !proc.is_running() {
            bail!("xvs run exited:\n{}", proc.log());
        }
        if let Some(status) = status(xvs, &sock) {
            let passed = count_passed(&status);
            if passed == servers {
                break;
            }
        }
        if t0.elapsed() > Duration::from_secs(60) {
            bail!("not every checker passed within 60 s:\n{}", proc.log());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let tid = health_thread(pid).context("no xvs-health thread")?;
    let (checks0, failed0) = checks(xvs, &sock)?;
    let (health0, process0) = (cpu(pid, Some(tid))?, cpu(pid, None)?);
    let sys0 = sys(pid, tid)?;
    let start = Instant::now();
    std::thread::sleep(Duration::from_secs(seconds));
    let elapsed = start.elapsed().as_secs_f64();
    let (health1, process1) = (cpu(pid, Some(tid))?, cpu(pid, None)?);
    let sys1 = sys(pid, tid)?;
    let (checks1, failed1) = checks(xvs, &sock)?;
    if failed1 > failed0 {
        let log = proc.log();
        let reasons: Vec<&str> = log
            .lines()
            .filter(|l| l.contains(" failed: ") || l.contains(" down: "))
            .take(5)
            .collect();
        eprintln!(
            "health-cost: failed {kind} checks, e.g.:\n{}",
            reasons.join("\n")
        );
    }
    drop(proc);
    drop(lab);
    Ok(Cost {
        kind: kind.to_string(),
        seconds: elapsed,
        checks: checks1 - checks0,
        failed: failed1 - failed0,
        health_cpu: (health1 - health0) / elapsed,
        health_sys: (sys1 - sys0) / elapsed,
        process_cpu: (process1 - process0) / elapsed,
        floor_cpu,
        floor_rate,
    })
}

/// The floor's run in the director's namespace (before xvs starts):
/// (checks per second, CPU-s/s).
fn run_floor(
    lab: &Lab,
    dir: &Path,
    addresses: &[std::net::Ipv4Addr],
    kind: &str,
    seconds: u64,
) -> Result<(f64, f64)> {
    let targets = dir.join("floor-targets");
    let list: Vec<String> = addresses.iter().map(|a| format!("{a}:8080")).collect();
    std::fs::write(&targets, list.join("\n"))?;
    let me = std::env::current_exe()?;
    let out = lab.exec(
        &lab.ns_director(),
        &[
            &me.to_string_lossy(),
            "--floor-targets",
            &targets.to_string_lossy(),
            "--kinds",
            kind,
            "--seconds",
            &seconds.to_string(),
        ],
    )?;
    let text = String::from_utf8_lossy(&out.stdout);
    let f: Vec<f64> = text
        .split_whitespace()
        .filter_map(|v| v.parse().ok())
        .collect();
    let [checks, failed, user, sys, elapsed] = f[..] else {
        bail!("floor printed {text:?}");
    };
    if failed > 0.0 {
        eprintln!("health-cost: the floor's {failed} of {checks} {kind} checks failed");
    }
    Ok((checks / elapsed, (user + sys) / elapsed))
}

fn status(xvs: &Path, sock: &Path) -> Option<serde_json::Value> {
    let out = Command::new(xvs)
        .args(["status", "--json", "--control"])
        .arg(sock)
        .output()
        .ok()?;
    serde_json::from_slice(&out.stdout).ok()
}

fn count_passed(status: &serde_json::Value) -> usize {
    status["services"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|s| s["real_servers"].as_array().into_iter().flatten())
        .filter(|rs| {
            rs["checkers"]
                .as_array()
                .is_some_and(|c| !c.is_empty() && c.iter().all(|c| c["last_result"] == "ok"))
        })
        .count()
}

/// (checks done, of which failed), from `xvs metrics`.
fn checks(xvs: &Path, sock: &Path) -> Result<(u64, u64)> {
    let out = Command::new(xvs)
        .args(["metrics", "--control"])
        .arg(sock)
        .output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let (mut all, mut failed) = (0, 0);
    for line in text
        .lines()
        .filter(|l| l.starts_with("xvs_health_checks_total{"))
    {
        let n: u64 = line
            .rsplit(' ')
            .next()
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0) as u64;
        all += n;
        if line.contains("result=\"fail\"") {
            failed += n;
        }
    }
    Ok((all, failed))
}

/// The task id of the thread named `xvs-health`.
fn health_thread(pid: u32) -> Option<u32> {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .ok()?
        .flatten()
        .find(|e| {
            std::fs::read_to_string(e.path().join("comm")).is_ok_and(|c| c.trim() == "xvs-health")
        })
        .and_then(|e| e.file_name().to_str()?.parse().ok())
}

/// User + system CPU seconds of a thread (or of the whole process).
fn cpu(pid: u32, tid: Option<u32>) -> Result<f64> {
    let (user, sys) = times(pid, tid)?;
    Ok(user + sys)
}

/// System CPU seconds of a thread.
fn sys(pid: u32, tid: u32) -> Result<f64> {
    Ok(times(pid, Some(tid))?.1)
}

/// (user, system) CPU seconds of a thread (or of the whole process).
pub(crate) fn times(pid: u32, tid: Option<u32>) -> Result<(f64, f64)> {
    let path = match tid {
        Some(t) => format!("/proc/{pid}/task/{t}/stat"),
        None => format!("/proc/{pid}/stat"),
    };
    let text = std::fs::read_to_string(&path).with_context(|| path.clone())?;
    // Fields after the ")" that closes the command name: state is field 3,
    // utime 14 and stime 15 (proc(5)).
    let rest = text
        .rsplit_once(')')
        .map(|(_, r)| r)
        .context("stat format")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| -> Result<f64> {
        fields
            .get(i - 3)
            .and_then(|v| v.parse::<f64>().ok())
            .with_context(|| format!("field {i} of {path}"))
    };
    // USER_HZ is 100 on every Linux ABI xvs runs on (sysconf(_SC_CLK_TCK)).
    Ok((ticks(14)? / 100.0, ticks(15)? / 100.0))
}
