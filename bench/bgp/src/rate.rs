//! `bgp-rate`: forwarding rate against the number of directors behind the
//! ECMP router, on the lab of e2e_bgp (BIRD in the router and in three
//! directors, config/bird-director.conf as shipped).
//!
//! ```text
//! cargo build --release -p xvs -p xvs-pktgen -p xvs-bgp-bench
//! sudo target/release/bgp-rate --duration 5 --rounds 3
//! ```
//!
//! With 3, 2 and 1 directors announcing (the others drained with
//! `xvs drain`, so the router withdraws them), `xvs-pktgen` in the client
//! namespace sends TCP SYNs from many flows to the VIP's hold service,
//! flat out; the router spreads them with its multipath route; each
//! director forwards its share to the real servers (DR). Per step:
//! - packets the directors forwarded (their `xvs_forwarded_packets_total`)
//!   per second of wall clock and per CPU-second of the announcing
//!   directors' xvs processes (every thread's run time, from
//!   `/proc/PID/task/*/schedstat`);
//! - the share each director forwarded: the bench fails unless every
//!   announcing director forwarded traffic and no drained one did, so a
//!   figure is never one director's measured as three;
//! - the machine's softirq time (`/proc/stat`, all cores): where the
//!   router's kernel forwarding runs, owned by no thread; it also holds
//!   the veth delivery to the real servers and their answers, so it is an
//!   upper bound of the router's cost. System time (mostly the
//!   generator's sendto) is shown beside it.
//!
//! The generator, the router and the directors share this machine's
//! cores, so the wall-clock rate is bounded by the generator and cannot
//! grow with the number of directors; per CPU-second of the directors is
//! the figure that compares. See bench/README.md.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::Parser;
use xvs_e2e::bgp_support::{ecmp_lab, Ecmp, BGP_VIP};
use xvs_pktgen::cpu::{parse_proc_stat, parse_schedstat, CpuTimes, USER_HZ};

#[derive(Debug, Parser)]
#[command(
    name = "bgp-rate",
    about = "forwarding rate against the number of directors behind ECMP"
)]
struct Cli {
    /// Seconds of traffic per measurement.
    #[arg(long, default_value_t = 5.0)]
    duration: f64,
    /// Measurements per number of directors (3, 2, 1, then again).
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Packets per second offered; 0 = flat out (then the router and the
    /// generator take every core and the directors fight them for CPU).
    #[arg(long, default_value_t = 0)]
    pps: u64,
    /// Distinct flows (source ports) the generator spreads over.
    #[arg(long, default_value_t = 1024)]
    flows: u32,
}

/// The hold service of director_yaml: a TCP port every real server listens on.
const PORT: &str = "9000";

fn main() -> Result<()> {
    let cli = Cli::parse();
    let dir = std::env::current_exe()?
        .parent()
        .context("binary directory")?
        .to_path_buf();
    if std::env::var_os("XVS_BIN").is_none() {
        let xvs = dir.join("xvs");
        if !xvs.is_file() {
            bail!("no xvs at {}: cargo build --release -p xvs", xvs.display());
        }
        std::env::set_var("XVS_BIN", xvs);
    }
    let pktgen = dir.join("xvs-pktgen");
    if !pktgen.is_file() {
        bail!(
            "no xvs-pktgen at {}: cargo build --release -p xvs-pktgen",
            pktgen.display()
        );
    }
    let Some((_serial, e)) = ecmp_lab("bgp-rate") else {
        bail!("the lab cannot run here (root, network namespaces and bird2 needed)");
    };
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "directors  round  fwd_kpps  dir_cpu_s  fwd_per_dir_cpu_s  shares_%  softirq_s  system_s  gen_tx_kpps"
    );
    let mut all: Vec<(usize, Step)> = Vec::new();
    for round in 1..=cli.rounds {
        // 3, 2, 1 announcing: drain from the last, undrain at the end.
        for n in (1..=3).rev() {
            set_announcing(&e, n)?;
            let s = measure(&e, &pktgen, &cli, n, cores)?;
            println!(
                "{n:>9}  {round:>5}  {:>8.1}  {:>9.2}  {:>17.0}  {:>8}  {:>9.2}  {:>8.2}  {:>11.1}",
                s.fwd_pps() / 1e3,
                s.dir_cpu_s,
                s.per_cpu_s(),
                s.shares()
                    .iter()
                    .map(|p| format!("{p:.0}"))
                    .collect::<Vec<_>>()
                    .join("/"),
                s.softirq_s,
                s.system_s,
                s.gen_tx as f64 / s.wall_s / 1e3,
            );
            all.push((n, s));
        }
        set_announcing(&e, 3)?;
    }
    println!("\nmedian per number of directors:");
    println!("directors  fwd_kpps  fwd_per_dir_cpu_s  ratio_to_1  softirq_ns_per_pkt");
    let med = |n: usize, f: &dyn Fn(&Step) -> f64| {
        median(all.iter().filter(|(k, _)| *k == n).map(|(_, s)| f(s)))
    };
    let base = med(1, &Step::per_cpu_s);
    for n in 1..=3 {
        let per = med(n, &Step::per_cpu_s);
        println!(
            "{n:>9}  {:>8.1}  {:>17.0}  {:>10.2}  {:>18.0}",
            med(n, &Step::fwd_pps) / 1e3,
            per,
            per / base,
            med(n, &|s: &Step| s.softirq_s * 1e9 / s.fwd_total() as f64),
        );
    }
    Ok(())
}

/// Drain or undrain so that directors 1..=n announce, and wait until the
/// router's route has exactly their next hops.
fn set_announcing(e: &Ecmp, n: usize) -> Result<()> {
    for i in 1..=3 {
        let answer = e.xvs_cmd(i, if i <= n { "undrain" } else { "drain" });
        if answer.trim().is_empty() {
            bail!("xvs drain/undrain on director {i} said nothing");
        }
    }
    let want = e.directors[..n].iter().map(|d| d.addr.clone()).collect();
    e.wait_next_hops(
        &want,
        60,
        "the router routes through the announcing directors",
    );
    Ok(())
}

/// One measurement.
#[derive(Debug, Clone, PartialEq)]
struct Step {
    /// Directors announcing (the first `announcing` of `forwarded`).
    announcing: usize,
    /// Packets each director forwarded over the window.
    forwarded: Vec<u64>,
    /// Run time of the announcing directors' xvs processes, seconds.
    dir_cpu_s: f64,
    /// softirq + irq time of every core, seconds: the router's forwarding,
    /// with the veth delivery to the real servers and their answers.
    softirq_s: f64,
    /// system time of every core, seconds: mostly the generator's sendto
    /// (AF_XDP copy mode).
    system_s: f64,
    /// Window, seconds of wall clock.
    wall_s: f64,
    /// Frames the generator put on the wire.
    gen_tx: u64,
}

impl Step {
    fn fwd_total(&self) -> u64 {
        self.forwarded[..self.announcing].iter().sum()
    }
    fn fwd_pps(&self) -> f64 {
        self.fwd_total() as f64 / self.wall_s
    }
    fn per_cpu_s(&self) -> f64 {
        self.fwd_total() as f64 / self.dir_cpu_s.max(1e-9)
    }
    /// Percent of the forwarded packets each announcing director took.
    fn shares(&self) -> Vec<f64> {
        let total = self.fwd_total().max(1) as f64;
        self.forwarded[..self.announcing]
            .iter()
            .map(|&f| f as f64 * 100.0 / total)
            .collect()
    }
    /// The fixture did what the figure claims: every announcing director
    /// forwarded a real part of the traffic (at least a tenth of an even
    /// share: ECMP over many flows is not exact), and no drained one
    /// forwarded more than a hundredth of it.
    fn check(&self) -> Result<()> {
        let total = self.fwd_total();
        if total == 0 {
            bail!("no director forwarded anything: {self:?}");
        }
        let even = total as f64 / self.announcing as f64;
        for (i, &f) in self.forwarded.iter().enumerate() {
            if i < self.announcing && (f as f64) < even / 10.0 {
                bail!(
                    "director {} announces but forwarded only {f} of {total}: {self:?}",
                    i + 1
                );
            }
            if i >= self.announcing && f * 100 > total {
                bail!(
                    "director {} is drained but forwarded {f} of {total}: {self:?}",
                    i + 1
                );
            }
        }
        Ok(())
    }
}

fn median(values: impl Iterator<Item = f64>) -> f64 {
    let mut v: Vec<f64> = values.collect();
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Warm up (neighbours, xvs connections), then one measured run with
/// directors 1..=n announcing.
fn measure(e: &Ecmp, pktgen: &Path, cli: &Cli, n: usize, cores: usize) -> Result<Step> {
    pktgen_run(e, pktgen, cli, 0.5, 20_000)?;
    let fwd0 = forwarded(e)?;
    let cpu0 = director_cpu_ns(e, n)?;
    let stat0 = cores_times(cores)?;
    let t0 = Instant::now();
    let gen_tx = pktgen_run(e, pktgen, cli, cli.duration, cli.pps)?;
    let wall = t0.elapsed();
    let stat1 = cores_times(cores)?;
    let cpu1 = director_cpu_ns(e, n)?;
    // The last packets are on their way through the router: let the
    // counters settle before reading them.
    std::thread::sleep(Duration::from_millis(200));
    let fwd1 = forwarded(e)?;
    let d: Vec<CpuTimes> = stat1.iter().zip(&stat0).map(|(a, b)| a.since(b)).collect();
    let softirq_ticks: u64 = d.iter().map(|t| t.softirq + t.irq).sum();
    let system_ticks: u64 = d.iter().map(|t| t.system).sum();
    let step = Step {
        announcing: n,
        forwarded: fwd1.iter().zip(&fwd0).map(|(a, b)| a - b).collect(),
        dir_cpu_s: cpu1.saturating_sub(cpu0) as f64 / 1e9,
        softirq_s: softirq_ticks as f64 / USER_HZ,
        system_s: system_ticks as f64 / USER_HZ,
        wall_s: wall.as_secs_f64(),
        gen_tx,
    };
    step.check()?;
    Ok(step)
}

/// `xvs-pktgen` in the client namespace: TCP SYNs to the VIP through the
/// router (its MAC resolved by the kernel); frames put on the wire.
fn pktgen_run(e: &Ecmp, pktgen: &Path, cli: &Cli, secs: f64, pps: u64) -> Result<u64> {
    let out = e
        .lab
        .exec(
            &e.lab.ns_client(),
            &[
                pktgen.to_str().context("UTF-8 path")?,
                "--dst-ip",
                BGP_VIP,
                "--dst-port",
                PORT,
                "--tcp",
                "--flows",
                &cli.flows.to_string(),
                "--duration",
                &secs.to_string(),
                "--pps",
                &pps.to_string(),
                "--background-ms",
                "0",
                "--drain-ms",
                "0",
            ],
        )
        .context("run xvs-pktgen")?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        bail!(
            "xvs-pktgen failed: {}{}",
            text,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    json_uint(&text, "wire_tx").with_context(|| format!("no wire_tx in {text}"))
}

/// An unsigned field of a flat JSON object (xvs-pktgen's report).
fn json_uint(text: &str, key: &str) -> Option<u64> {
    let at = text.find(&format!("\"{key}\":"))? + key.len() + 3;
    let digits: String = text[at..]
        .trim_start()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// Each director's forwarded-packet counter.
fn forwarded(e: &Ecmp) -> Result<Vec<u64>> {
    e.directors
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let m = xvs_e2e::support::ask(&d.xvs.sock, "metrics")
                .with_context(|| format!("metrics of director {}", i + 1))?;
            Ok(xvs_e2e::support::metric_in(
                &m,
                "xvs_forwarded_packets_total",
                &[],
            ))
        })
        .collect()
}

/// Run time, in nanoseconds, of every thread of directors 1..=n's xvs.
fn director_cpu_ns(e: &Ecmp, n: usize) -> Result<u64> {
    let mut total = 0;
    for d in &e.directors[..n] {
        let pid = d.xvs.xvs.pid().context("xvs pid")?;
        let tasks = PathBuf::from(format!("/proc/{pid}/task"));
        for t in std::fs::read_dir(&tasks).with_context(|| tasks.display().to_string())? {
            // A thread may end between the listing and the read.
            if let Ok(s) = std::fs::read_to_string(t?.path().join("schedstat")) {
                total += parse_schedstat(&s).unwrap_or(0);
            }
        }
    }
    Ok(total)
}

fn cores_times(cores: usize) -> Result<Vec<CpuTimes>> {
    let text = std::fs::read_to_string("/proc/stat")?;
    (0..cores)
        .map(|c| parse_proc_stat(&text, c).with_context(|| format!("cpu{c} in /proc/stat")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(announcing: usize, forwarded: &[u64]) -> Step {
        Step {
            announcing,
            forwarded: forwarded.to_vec(),
            dir_cpu_s: 2.0,
            softirq_s: 1.0,
            system_s: 0.5,
            wall_s: 4.0,
            gen_tx: 1000,
        }
    }

    #[test]
    fn every_announcing_director_must_forward_its_part() {
        assert!(step(3, &[300, 350, 350]).check().is_ok());
        assert!(step(2, &[500, 500, 0]).check().is_ok());
        assert!(step(1, &[1000, 3, 0]).check().is_ok());
        // One director took everything while three announced.
        assert!(step(3, &[1000, 0, 0]).check().is_err());
        assert!(step(3, &[980, 10, 10]).check().is_err());
        // A drained director still forwarding: the route was not withdrawn.
        assert!(step(1, &[700, 300, 0]).check().is_err());
        assert!(step(2, &[0, 0, 0]).check().is_err());
    }

    #[test]
    fn rates_count_only_the_announcing_directors() {
        let s = step(2, &[600, 400, 2]);
        assert_eq!(s.fwd_total(), 1000);
        assert_eq!(s.fwd_pps(), 250.0);
        assert_eq!(s.per_cpu_s(), 500.0);
        assert_eq!(s.shares(), vec![60.0, 40.0]);
    }

    #[test]
    fn pktgen_report_fields() {
        let j = r#"{"sent": 12, "wire_tx": 34567, "tx_dropped": 0}"#;
        assert_eq!(json_uint(j, "wire_tx"), Some(34567));
        assert_eq!(json_uint(j, "sent"), Some(12));
        assert_eq!(json_uint(j, "rx_pps"), None);
        assert_eq!(median([3.0, 1.0, 2.0].into_iter()), 2.0);
    }
}
