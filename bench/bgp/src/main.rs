//! `bgp-withdraw`: how long the upstream router keeps a route through a
//! director that can no longer serve, on the ECMP lab of e2e_bgp (three
//! directors, BIRD everywhere, config/bird-director.conf as shipped).
//!
//! ```text
//! cargo build --release -p xvs -p xvs-bgp-bench
//! sudo target/release/bgp-withdraw --runs 20
//! ```
//!
//! Per run, one of director 3's failures, then the time until the
//! router's kernel route to the VIP no longer goes through director 3
//! (polled with `ip -n ROUTER route show VIP`, a few milliseconds per
//! poll; the figure is the middle of the last poll that still had it and
//! the first that did not), then the director is restored and the route
//! waited for:
//! - `kill`: SIGKILL to xvs. Its route device dies with it; BIRD sees the
//!   route go and withdraws.
//! - `term`: SIGTERM to xvs: it withdraws first, then drains.
//! - `link`: the director's link to the router goes down (the machine
//!   dead, as the router sees it): BFD, 100 ms x 3, ends the peering.
//!
//! See bench/README.md for the figures.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::Parser;
use xvs_e2e::bgp_support::{ecmp_lab, Ecmp, BGP_VIP};

#[derive(Debug, Parser)]
#[command(
    name = "bgp-withdraw",
    about = "time from a director's death to its withdrawal at the router"
)]
struct Cli {
    /// Failures per kind.
    #[arg(long, default_value_t = 20)]
    runs: usize,
    /// Kinds to run, comma-separated: kill, term, link.
    #[arg(long, value_delimiter = ',', default_values_t = ["kill".to_string(), "term".to_string(), "link".to_string()])]
    only: Vec<String>,
}

/// One measurement: (last poll that still routed through the director,
/// first that did not), both since the failure.
type Sample = (Duration, Duration);

fn main() -> Result<()> {
    let cli = Cli::parse();
    // The support code finds xvs beside the test executables; here it is
    // beside this binary.
    if std::env::var_os("XVS_BIN").is_none() {
        let exe = std::env::current_exe()?;
        let xvs = exe.parent().context("binary directory")?.join("xvs");
        if !xvs.is_file() {
            bail!("no xvs at {}: cargo build --release -p xvs", xvs.display());
        }
        std::env::set_var("XVS_BIN", xvs);
    }
    if !Path::new(xvs_e2e::bgp_support::BIRD).is_file() {
        bail!(
            "{} is missing (apt-get install bird2)",
            xvs_e2e::bgp_support::BIRD
        );
    }
    let Some((_serial, mut e)) = ecmp_lab("bgp-withdraw") else {
        bail!("the lab cannot run here (root and network namespaces needed)");
    };
    println!("kind  runs  min_ms  median_ms  p90_ms  max_ms  poll_ms(median)");
    for kind in &cli.only {
        let mut samples = Vec::new();
        for _ in 0..cli.runs {
            samples.push(one(&mut e, kind)?);
        }
        report(kind, &samples);
    }
    Ok(())
}

/// Fail director 3 as `kind` says, time the withdrawal, restore it.
fn one(e: &mut Ecmp, kind: &str) -> Result<Sample> {
    let target = e.directors[2].addr.clone();
    let ns = e.lab.ns_director_n(3);
    let (c, _) = e.lab.director_ifaces();
    let pid = e.directors[2].xvs.xvs.pid().context("xvs pid")?;
    let pid = nix::unistd::Pid::from_raw(i32::try_from(pid)?);
    let router = e.lab.ns_router();
    let t0 = Instant::now();
    match kind {
        "kill" => nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL)?,
        "term" => nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM)?,
        "link" => {
            run(&["ip", "-n", &ns, "link", "set", &c, "down"])?;
        }
        other => bail!("unknown kind {other} (kill, term, link)"),
    }
    let mut last_seen = Duration::ZERO;
    let gone = loop {
        let before = t0.elapsed();
        let routes = run(&["ip", "-n", &router, "-4", "route", "show", BGP_VIP])?;
        if !xvs_e2e::bgp_support::parse_next_hops(&routes).contains(&target) {
            break t0.elapsed();
        }
        last_seen = before;
        if t0.elapsed() > Duration::from_secs(30) {
            bail!(
                "{kind}: still routed through director 3 after 30 s:\n{}",
                e.diagnostics()
            );
        }
    };
    // Restore.
    match kind {
        "link" => {
            run(&["ip", "-n", &ns, "link", "set", &c, "up"])?;
            // The kernel drops an interface's IPv6 addresses when its link
            // goes down (keep_addr_on_down is 0): put the director's back,
            // or its IPv6 BGP session never comes up again.
            let addr6 = format!("{}/{}", e.directors[2].addr6, xvs_lab::PREFIX_LEN6);
            run(&[
                "ip", "-n", &ns, "addr", "replace", &addr6, "dev", &c, "nodad",
            ])?;
        }
        _ => {
            let mut xvs = e.directors[2].xvs.xvs.wait_timeout(Duration::from_secs(20));
            if !matches!(xvs, Ok(Some(_))) {
                e.directors[2].xvs.xvs.signal("KILL")?;
                xvs = e.directors[2].xvs.xvs.wait_timeout(Duration::from_secs(5));
            }
            xvs.context("xvs exit")?;
            // A fresh xvs; its BIRD ran on and picks the route up.
            let fresh = start_director_xvs(e, 3);
            e.directors[2].xvs = fresh;
        }
    }
    let all = e.hops_without(None);
    e.wait_next_hops(&all, 60, "director 3 announced again");
    // BGP may be back before BFD: a failure then would only be seen by
    // the hold time. Start the next run with BFD up with every director
    // (one session per family).
    let t = Instant::now();
    while e
        .router
        .ctl(&e.lab, &["show", "bfd", "s"])
        .matches(" Up ")
        .count()
        < 6
    {
        if t.elapsed() > Duration::from_secs(30) {
            bail!("BFD not up again with every director:\n{}", e.diagnostics());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok((last_seen, gone))
}

/// Start only xvs again in director `i` (its BIRD kept running).
fn start_director_xvs(e: &Ecmp, i: usize) -> xvs_e2e::support::Director {
    let yaml = xvs_e2e::bgp_support::director_yaml(&e.lab, i);
    let n = RESTARTS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    xvs_e2e::support::launch(
        &e.lab,
        &e.lab.ns_director_n(i),
        &format!("xvs-dir{i}-again{n}"),
        &yaml,
    )
}

static RESTARTS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

fn run(args: &[&str]) -> Result<String> {
    let out = Command::new(args[0]).args(&args[1..]).output()?;
    if !out.status.success() {
        bail!(
            "{}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn report(kind: &str, samples: &[Sample]) {
    let mut mid: Vec<f64> = samples
        .iter()
        .map(|(a, b)| (ms(*a) + ms(*b)) / 2.0)
        .collect();
    let mut poll: Vec<f64> = samples.iter().map(|(a, b)| ms(*b) - ms(*a)).collect();
    mid.sort_by(f64::total_cmp);
    poll.sort_by(f64::total_cmp);
    let q = |v: &[f64], p: f64| v[((v.len() - 1) as f64 * p).round() as usize];
    println!(
        "{kind:<5} {:>4}  {:>6.0}  {:>9.0}  {:>6.0}  {:>6.0}  {:>6.1}",
        mid.len(),
        q(&mid, 0.0),
        q(&mid, 0.5),
        q(&mid, 0.9),
        q(&mid, 1.0),
        q(&poll, 0.5)
    );
}
