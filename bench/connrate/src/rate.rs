//! `conn-rate rate` (bench layer): new TCP connections per second through
//! xvs NAT, kernel nftables DNAT and HAProxy in TCP mode, on three labs of
//! the same topology, rounds interleaved; per second and per CPU-second of
//! the director's core. Writes the table and every round's figures.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::Args;
use xvs_connrate_bench::client::LoadReport;
use xvs_lab::Method;

use crate::rig::{self, Cores, Director, Rig, XvsOptions};

#[derive(Debug, Args)]
pub struct RateArgs {
    /// The xvs binary.
    #[arg(long, default_value = "target/release/xvs")]
    xvs: PathBuf,
    /// The HAProxy binary (Debian's haproxy).
    #[arg(long, default_value = "/usr/sbin/haproxy")]
    haproxy: PathBuf,
    /// Seconds of load per round and candidate.
    #[arg(long, default_value_t = 5.0)]
    seconds: f64,
    /// Rounds; every candidate runs once per round, interleaved.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Connections the generator keeps in flight.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Candidates, in the order each round runs them.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "xvs-busy,xvs-adaptive,nftables,haproxy"
    )]
    candidates: Vec<String>,
    #[arg(long, default_value_t = 0)]
    director_core: usize,
    #[arg(long, default_value_t = 1)]
    load_core: usize,
    /// Where the results go (markdown); "-" for stdout only.
    #[arg(long, default_value = "bench/connrate.md")]
    out: String,
}

/// One candidate's round.
#[derive(Debug, Clone)]
struct Round {
    load: LoadReport,
    /// Wall seconds the load ran, as the orchestrator saw it.
    window_s: f64,
    /// The director's core's time in that window.
    core: rig::CoreTime,
    /// The director process's CPU seconds (xvs, HAProxy), if any.
    process_s: Option<f64>,
    load1: String,
}

impl Round {
    /// The director's CPU seconds: its process's user and system time
    /// (none for nftables) and the interrupt and softirq time of its core.
    fn cpu_s(&self) -> f64 {
        self.process_s.unwrap_or(0.0) + self.core.irq
    }

    fn per_cpu(&self) -> f64 {
        self.load.completed as f64 / self.cpu_s().max(1e-9)
    }
}

fn label(name: &str) -> &'static str {
    match name {
        "xvs-busy" => "xvs NAT, worker busy-polling (`idle: busy`)",
        "xvs-adaptive" => "xvs NAT, worker sleeping when idle (`idle: adaptive`)",
        "nftables" => "kernel conntrack + nftables DNAT",
        "haproxy" => "HAProxy 2.6, TCP mode, 1 thread",
        _ => "?",
    }
}

pub fn run(a: &RateArgs) -> Result<()> {
    if let Some(reason) = xvs_lab::missing_capability() {
        bail!("the lab cannot run here: {reason}");
    }
    for c in &a.candidates {
        if label(c) == "?" {
            bail!("unknown candidate {c} (xvs-busy, xvs-adaptive, nftables, haproxy)");
        }
    }
    let xvs = a
        .xvs
        .canonicalize()
        .with_context(|| format!("{} (cargo build --release -p xvs)", a.xvs.display()))?;
    let cores = Cores {
        director: a.director_core,
        load: a.load_core,
    };
    let wants = |p: &str| a.candidates.iter().any(|c| c.starts_with(p));
    let xvs_rig = wants("xvs")
        .then(|| Rig::build(Method::Nat, cores))
        .transpose()?;
    let nft_rig = wants("nftables")
        .then(|| Rig::build(Method::KernelNat, cores))
        .transpose()?;
    let ha_rig = if wants("haproxy") {
        // The kernel-NAT lab holds the VIP on the director; without the
        // DNAT table HAProxy answers on it itself.
        let r = Rig::build(Method::KernelNat, cores)?;
        r.lab.exec(
            &r.lab.ns_director(),
            &["nft", "delete", "table", "inet", "xvs_lab"],
        )?;
        Some(r)
    } else {
        None
    };
    let load_before = loadavg();
    let t0 = Instant::now();
    let mut rounds: Vec<(String, Vec<Round>)> = a
        .candidates
        .iter()
        .map(|c| (c.clone(), Vec::new()))
        .collect();
    for round in 1..=a.rounds {
        for (name, results) in rounds.iter_mut() {
            let (rig, director) = match name.as_str() {
                "xvs-busy" | "xvs-adaptive" => {
                    let rig = xvs_rig.as_ref().expect("built above");
                    let idle = if name == "xvs-busy" {
                        "busy"
                    } else {
                        "adaptive"
                    };
                    let d = rig::start_xvs(
                        rig,
                        &xvs,
                        &XvsOptions {
                            idle,
                            conn_capacity: 1 << 20,
                            defences: true,
                            synproxy: false,
                        },
                    )?;
                    (rig, d)
                }
                "nftables" => (nft_rig.as_ref().expect("built above"), Director::Kernel),
                _ => {
                    let rig = ha_rig.as_ref().expect("built above");
                    (rig, rig::start_haproxy(rig, &a.haproxy)?)
                }
            };
            let r = measure(rig, &director, a)?;
            eprintln!(
                "conn-rate: round {round} {name}: {:.0} conn/s, director {:.2} CPU-s/s (core busy {:.2}), {:.0} conn per CPU-s, failed {}",
                r.load.rate(),
                r.cpu_s() / r.window_s,
                r.core.busy / r.window_s,
                r.per_cpu(),
                r.load.ended() - r.load.completed - r.load.completed_late
            );
            drop(director);
            results.push(r);
        }
    }
    let elapsed = t0.elapsed().as_secs();
    let doc = report(a, &rounds, &load_before, &loadavg(), elapsed);
    println!("{doc}");
    if a.out != "-" {
        std::fs::write(&a.out, &doc).with_context(|| a.out.clone())?;
        eprintln!("conn-rate: wrote {}", a.out);
    }
    Ok(())
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn measure(rig: &Rig, director: &Director, a: &RateArgs) -> Result<Round> {
    // Warm-up: neighbour resolution, and proof that the path works.
    let warm = rig.load(0.5, a.concurrency, 0)?;
    if warm.completed + warm.completed_late == 0 {
        bail!(
            "no connection completed through the director (warm-up {warm:?}):\n{}",
            director.log()
        );
    }
    let load1 = loadavg();
    let pid = director.pid();
    let c0 = rig::core_time(rig.cores.director)?;
    let p0 = pid.map(rig::process_cpu).transpose()?;
    let t = Instant::now();
    let load = rig.load(a.seconds, a.concurrency, 0)?;
    let window_s = t.elapsed().as_secs_f64();
    let c1 = rig::core_time(rig.cores.director)?;
    let p1 = pid.map(rig::process_cpu).transpose()?;
    Ok(Round {
        load,
        window_s,
        core: c1.since(c0),
        process_s: p0.zip(p1).map(|(a, b)| b - a),
        load1,
    })
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn report(
    a: &RateArgs,
    rounds: &[(String, Vec<Round>)],
    load_before: &str,
    load_after: &str,
    elapsed: u64,
) -> String {
    let best = |rs: &[Round]| -> Option<Round> {
        rs.iter()
            .max_by(|x, y| x.load.rate().total_cmp(&y.load.rate()))
            .cloned()
    };
    let eff = |rs: &[Round]| median(rs.iter().map(Round::per_cpu).collect());
    let find = |n: &str| {
        rounds
            .iter()
            .find(|(k, _)| k == n)
            .map(|(_, r)| r.as_slice())
    };
    let base_rate = |n: &str| find(n).and_then(best).map(|b| b.load.rate());
    let base_eff = |n: &str| find(n).map(eff);
    let mut t = String::new();
    t.push_str("| Director | Connections/s (best round) | Director CPU-s/s | of which process | Director core busy | Connections per director CPU-s (median) | × nftables /s | × HAProxy /s | × nftables per CPU-s | × HAProxy per CPU-s | Failed | Connections/s per round |\n");
    t.push_str("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n");
    let ratio = |x: f64, b: Option<f64>| match b {
        Some(b) if b > 0.0 => format!("{:.2}", x / b),
        _ => "n/a".into(),
    };
    for (name, rs) in rounds {
        let Some(b) = best(rs) else { continue };
        let e = eff(rs);
        let failed: u64 = rs
            .iter()
            .map(|r| r.load.ended() - r.load.completed - r.load.completed_late)
            .sum();
        let per: Vec<String> = rs.iter().map(|r| format!("{:.0}", r.load.rate())).collect();
        t.push_str(&format!(
            "| {} | {:.0} | {:.2} | {} | {:.2} | {:.0} | {} | {} | {} | {} | {} | {} |\n",
            label(name),
            b.load.rate(),
            b.cpu_s() / b.window_s,
            b.process_s
                .map_or("—".into(), |p| format!("{:.2}", p / b.window_s)),
            b.core.busy / b.window_s,
            e,
            ratio(b.load.rate(), base_rate("nftables")),
            ratio(b.load.rate(), base_rate("haproxy")),
            ratio(e, base_eff("nftables")),
            ratio(e, base_eff("haproxy")),
            failed,
            per.join(", ")
        ));
    }
    let mut raw = String::new();
    for (name, rs) in rounds {
        for (i, r) in rs.iter().enumerate() {
            let mut j = r.load.to_json();
            j["window_s"] = r.window_s.into();
            j["director_core_busy_s"] = r.core.busy.into();
            j["director_core_irq_s"] = r.core.irq.into();
            j["director_process_s"] = r.process_s.into();
            j["load1_before"] = r.load1.clone().into();
            raw.push_str(&format!("{name} round {}: {j}\n", i + 1));
        }
    }
    let cmd = format!(
        "sudo target/release/conn-rate rate --seconds {} --rounds {} --concurrency {}",
        a.seconds, a.rounds, a.concurrency
    );
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_owned())
        })
        .unwrap_or_default();
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let notes = preserved_notes(Path::new(&a.out));
    format!(
        "# New TCP connections per second through NAT on the veth lab\n\n\
Measured with\n\n    {cmd}\n\n\
({elapsed} s for all runs; load average {load_before} before, {load_after} after; {cpu}, \
2 cores, Linux {kernel_t}, a VM shared with other jobs.)\n\n\
Each connection: connect to the VIP 198.18.0.100:80, send a 16-byte request, read the real \
server's 128-byte response to its close, close. {conc} connections in flight from the 11 client \
addresses, for {secs} s per round, {rounds_n} round(s), candidates interleaved in each round; \
three real servers (this binary's epoll server), round robin. The director alone on core \
{dc}; the generator, the real servers and the client's, switch's and real servers' kernel work \
(RPS) on core {lc}. \"Director CPU-s/s\" is the director process's user and system time \
(xvs: all its threads, workers and control; HAProxy: its process; nftables: none) plus the \
interrupt and softirq time of core {dc} (the kernel's packet work for the director: all of \
nftables' NAT, HAProxy's TCP stack, xvs's transmit path), per second of the run; connections \
per director CPU-s divide by it. \"Director core busy\" is core {dc}'s whole busy time, \
for context: other jobs on this shared machine run there too. A busy-polling xvs worker \
spends its idle time polling, so that row's figure per CPU-s is a lower bound; \
`idle: adaptive` is the same xvs with a worker that sleeps when it has nothing to do. \
See bench/README.md, \"New connections\", for the method and its limits.\n\n{t}\n{notes}\n## Raw results\n\n```\n{raw}```\n",
        kernel_t = kernel.trim(),
        conc = a.concurrency,
        secs = a.seconds,
        rounds_n = a.rounds,
        dc = a.director_core,
        lc = a.load_core,
    )
}

/// A hand-written analysis between these markers survives a re-run.
fn preserved_notes(out: &Path) -> String {
    let (begin, end) = ("<!-- analysis:begin -->", "<!-- analysis:end -->");
    let Ok(old) = std::fs::read_to_string(out) else {
        return String::new();
    };
    match (old.find(begin), old.find(end)) {
        (Some(b), Some(e)) if b < e => format!("{}\n", &old[b..e + end.len()]),
        _ => String::new(),
    }
}
