//! False transitions under load: an xvs pair with 10 ms adverts and TCP
//! health checks (delay_loop 1), the master forwarding a flat-out UDP
//! flood from bench/pktgen (AF_XDP, 64-byte frames, 1,024 flows) plus the
//! open-loop HTTP client, for `seconds`. Both directors' workers are
//! pinned to core 0, and xvs keeps its control thread (VRRP's timers) off
//! the worker cores, so on this 2-core machine it runs on core 1; the
//! generator is pinned to core 1 too (it then competes with the control
//! threads, and so does the veth receive work it causes, which runs on
//! the sending core) or to core 0 (it competes with the workers).
//!
//! Counted on both directors: VRRP transitions (metrics and log lines).
//! To tell where a late advert was late, three captures: the master's
//! adverts as its own interface sent them, the same adverts as the
//! backup's interface received them, and the ARP frames the client saw.
//! Also the control threads' run-queue wait (/proc/PID/task/PID/schedstat)
//! and the kernel's per-CPU backlog drops (/proc/net/softnet_stat).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use xvs_lab::{Lab, LabSpec, Method};

use crate::capture::{gaps, Capture, Frame, What};
use crate::client::ClientLoop;
use crate::pair::{Daemon, Pair, PRIORITIES};
use crate::stamp::unix_now;
use crate::stats::{master_down, Sample, AT_ONCE};
use crate::xvs_node::{metric, XvsNode, FLOOD_PORT, VIP4};

/// The gaps between one instance's adverts at one place.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Gaps {
    pub adverts: usize,
    pub longest: f64,
    pub over_two_intervals: usize,
    pub over_master_down: usize,
    /// The five longest: (when the gap ended, its length).
    pub worst: Vec<(f64, f64)>,
}

impl Gaps {
    fn of(frames: &[Frame], advert: Duration) -> Gaps {
        let times: Vec<f64> = frames.iter().map(|f| f.t).collect();
        let (longest, over_two_intervals) = gaps(&times, 2.0 * advert.as_secs_f64());
        let (_, over_master_down) = gaps(&times, master_down(PRIORITIES[1], advert));
        let mut worst: Vec<(f64, f64)> = times.windows(2).map(|w| (w[1], w[1] - w[0])).collect();
        worst.sort_by(|a, b| b.1.total_cmp(&a.1));
        worst.truncate(5);
        Gaps {
            adverts: times.len(),
            longest,
            over_two_intervals,
            over_master_down,
            worst,
        }
    }

    fn json(&self) -> Value {
        json!({
            "adverts": self.adverts,
            "longest_s": self.longest,
            "over_two_intervals": self.over_two_intervals,
            "over_master_down": self.over_master_down,
            "worst": self.worst,
        })
    }
}

/// What the HTTP client saw during the flood.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Http {
    pub requests: usize,
    pub failed: usize,
    /// Answered, but not within [`AT_ONCE`].
    pub slow: usize,
    /// The longest run of consecutive failed requests (by start time):
    /// (first start, last start, how many).
    pub longest_failing: (f64, f64, usize),
}

pub fn http_seen(samples: &[Sample], from: f64, to: f64) -> Http {
    let mut v: Vec<&Sample> = samples.iter().filter(|s| s.t >= from && s.t < to).collect();
    v.sort_by(|a, b| a.t.total_cmp(&b.t));
    let mut longest = (0.0, 0.0, 0);
    let mut run: Option<(f64, f64, usize)> = None;
    for s in &v {
        if s.ok {
            run = None;
            continue;
        }
        let r = run.map_or((s.t, s.t, 1), |(a, _, n)| (a, s.t, n + 1));
        if r.2 > longest.2 {
            longest = r;
        }
        run = Some(r);
    }
    Http {
        requests: v.len(),
        failed: v.iter().filter(|s| !s.ok).count(),
        slow: v.iter().filter(|s| s.ok && s.d >= AT_ONCE).count(),
        longest_failing: longest,
    }
}

/// What the saturation run found.
#[derive(Debug)]
pub struct Saturation {
    pub generator_core: usize,
    /// Which run of this placement (1-based).
    pub run: usize,
    pub advert: Duration,
    /// The generator's sending time.
    pub seconds: f64,
    /// xvs_vrrp_became_master_total + released_master_total over the run,
    /// per director.
    pub transitions: [f64; 2],
    /// Transition lines each director wrote during the run.
    pub transition_lines: [Vec<String>; 2],
    /// The master's xvs_forwarded_packets_total over the run, per second.
    pub forwarded_pps: f64,
    /// The generator's report (tx_pps, rx_pps at the real servers, ...).
    pub pktgen: Value,
    /// The master's VI_OUT adverts as its interface sent them, and as the
    /// backup's received them.
    pub sent: Gaps,
    pub received: Gaps,
    /// The master's adverts_sent and the backup's adverts_received
    /// counters (VI_OUT) over the run.
    pub counted: (f64, f64),
    /// Per director: the control thread's CPU time and run-queue wait over
    /// the run (seconds), and how many times it ran.
    pub control: [(f64, f64, u64); 2],
    /// Per CPU: packets the kernel dropped from its backlog over the run.
    pub backlog_drops: Vec<u64>,
    pub http: Http,
    /// ARP frames claiming the VIP that the client received during the
    /// run, from the backup's MAC and from the master's.
    pub claims: (usize, usize),
    /// The client's neighbour entry for the VIP at the end.
    pub client_neigh: String,
    /// Health checks that failed during the run, per director.
    pub failed_checks: [f64; 2],
}

/// One saturation run's settings.
#[derive(Clone, Debug)]
pub struct Plan<'a> {
    /// How long the generator sends.
    pub seconds: f64,
    pub advert: Duration,
    /// The core the generator is pinned to.
    pub generator_core: usize,
    /// Which run of this placement (1-based).
    pub run: usize,
    pub xvs: &'a Path,
    pub pktgen: &'a Path,
}

pub fn measure(plan: &Plan<'_>, out: &Path, prefix: &str) -> Result<Saturation> {
    let Plan {
        seconds,
        advert,
        generator_core,
        run,
        xvs,
        pktgen,
    } = *plan;
    let spec = LabSpec {
        directors: 2,
        ..LabSpec::new(Method::Nat)
    };
    let lab = Lab::build_with_prefix(spec, prefix).with_context(|| format!("lab {prefix}"))?;
    cheap_receivers(&lab)?;
    let logs = out.join(format!(
        "xvs-saturation-{}ms-gen{generator_core}-{run}",
        advert.as_millis()
    ));
    std::fs::create_dir_all(&logs)?;
    let mut pair = Pair::new(&lab, Daemon::Xvs, advert, xvs, &logs)?;
    pair.health = true;
    pair.flood_service = true;
    pair.start(2)?;
    pair.start(1)?;
    pair.wait_settled(Duration::from_secs(30))?;
    // Every check has run a few times.
    std::thread::sleep(Duration::from_secs(3));
    let (c, _) = lab.director_ifaces();
    let at_master = Capture::start(&lab.ns_director_n(1), &c)?;
    let at_backup = Capture::start(&lab.ns_director_n(2), &c)?;
    let at_client = Capture::start(&lab.ns_client(), "eth0")?;
    let (Some(d1), Some(d2)) = (pair.xvs_node(1), pair.xvs_node(2)) else {
        bail!("the pair runs no xvs");
    };
    let mac = [1, 2].map(|i| lab.mac(&lab.ns_director_n(i), &c));
    let [Ok(mac1), Ok(mac2)] = mac else {
        bail!("no MAC for the directors' client-side interfaces");
    };

    let client = ClientLoop::start(
        &lab,
        &format!("http://{VIP4}/"),
        Duration::from_secs_f64(seconds + 3.0),
        Duration::from_millis(20),
        &logs.join("timeline.jsonl"),
    )?;
    std::thread::sleep(Duration::from_secs(1));
    let counts: Vec<String> = (1..=lab.spec().real_servers)
        .flat_map(|i| ["--count-rx".to_owned(), format!("{}/eth0", lab.ns_rs(i))])
        .collect();
    let before = [metrics(d1)?, metrics(d2)?];
    let sched0 = [schedstat(d1), schedstat(d2)];
    let drops0 = backlog_drops();
    let t0 = unix_now();
    let gen = Command::new("ip")
        .args(["netns", "exec", &lab.ns_client()])
        .arg(pktgen)
        .args(["--dst-ip", VIP4, "--dst-port", &FLOOD_PORT.to_string()])
        .args(["--flows", "1024", "--size", "64"])
        .args(["--core", &generator_core.to_string()])
        .args(["--duration", &format!("{seconds}")])
        .args(["--background-ms", "0", "--cpu-stat", "0", "--cpu-stat", "1"])
        .args(&counts)
        .stdin(Stdio::null())
        .output()
        .context("run xvs-pktgen")?;
    let t1 = unix_now();
    let after = [metrics(d1)?, metrics(d2)?];
    let sched1 = [schedstat(d1), schedstat(d2)];
    let drops1 = backlog_drops();
    let samples: Vec<Sample> = client.finish();
    if !gen.status.success() {
        bail!(
            "xvs-pktgen failed: {}",
            String::from_utf8_lossy(&gen.stderr)
        );
    }
    let pktgen: Value = serde_json::from_slice(&gen.stdout)
        .with_context(|| String::from_utf8_lossy(&gen.stdout).into_owned())?;
    let sent_s = pktgen
        .get("duration_s")
        .and_then(Value::as_f64)
        .unwrap_or(t1 - t0);

    let delta = |i: usize, name: &str, labels: &[&str]| {
        metric(&after[i], name, labels) - metric(&before[i], name, labels)
    };
    let transitions = [0, 1].map(|i| {
        delta(i, "xvs_vrrp_became_master_total", &[])
            + delta(i, "xvs_vrrp_released_master_total", &[])
    });
    let failed_checks = [0, 1].map(|i| delta(i, "xvs_health_checks_total", &["result=\"fail\""]));
    let out_label = ["instance=\"VI_OUT\""];
    let counted = (
        delta(0, "xvs_vrrp_adverts_sent_total", &out_label),
        delta(1, "xvs_vrrp_adverts_received_total", &out_label),
    );
    let transition_lines = [d1, d2].map(|d| {
        d.lines
            .between(t0, t1 + 1.0, |l| {
                l.starts_with("xvs: vrrp: ") && l.contains(" -> ")
            })
            .into_iter()
            .map(|l| format!("{:.3} {}", l.t, l.text))
            .collect::<Vec<_>>()
    });
    let master_ip: std::net::Ipv4Addr = "198.18.0.2".parse()?;
    let vip: std::net::Ipv4Addr = VIP4.parse()?;
    let adverts =
        |f: &Frame| matches!(f.what, What::Advert { src, vrid: 51, .. } if src == master_ip);
    let sent = Gaps::of(&at_master.between(t0, t1, adverts), advert);
    let received = Gaps::of(&at_backup.between(t0, t1, adverts), advert);
    let claim_from = |m: [u8; 6]| {
        at_client
            .between(t0, t1 + 1.0, |f| {
                f.mac == m && matches!(f.what, What::Arp { addr, .. } if addr == vip)
            })
            .len()
    };
    let client_neigh = lab
        .exec(&lab.ns_client(), &["ip", "neigh", "show", VIP4])
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    let control = [0, 1].map(|i| match (sched0[i], sched1[i]) {
        (Some(a), Some(b)) => (
            (b.0 - a.0) as f64 * 1e-9,
            (b.1 - a.1) as f64 * 1e-9,
            b.2 - a.2,
        ),
        _ => (f64::NAN, f64::NAN, 0),
    });
    let forwarded = delta(0, "xvs_forwarded_packets_total", &[]);
    let result = Saturation {
        generator_core,
        run,
        advert,
        seconds: sent_s,
        transitions,
        transition_lines,
        forwarded_pps: forwarded / (t1 - t0),
        pktgen,
        sent,
        received,
        counted,
        control,
        backlog_drops: drops1
            .iter()
            .zip(drops0.iter().chain(std::iter::repeat(&0)))
            .map(|(b, a)| b.saturating_sub(*a))
            .collect(),
        http: http_seen(&samples, t0, t1),
        claims: (claim_from(mac2), claim_from(mac1)),
        client_neigh,
        failed_checks,
    };
    std::fs::write(logs.join("result.json"), to_json(&result).to_string())?;
    drop((at_master, at_backup, at_client));
    drop(pair);
    drop(lab);
    Ok(result)
}

pub fn to_json(s: &Saturation) -> Value {
    json!({
        "scenario": format!("xvs-saturation-{}ms-gen{}", s.advert.as_millis(), s.generator_core),
        "run": s.run,
        "generator_core": s.generator_core,
        "advert_s": s.advert.as_secs_f64(),
        "seconds": s.seconds,
        "transitions": s.transitions,
        "transition_lines": s.transition_lines,
        "forwarded_pps": s.forwarded_pps,
        "pktgen": s.pktgen,
        "sent": s.sent.json(),
        "received": s.received.json(),
        "adverts_sent_counted": s.counted.0,
        "adverts_received_counted": s.counted.1,
        "control_run_wait_slices": s.control.iter().map(|c| json!([c.0, c.1, c.2])).collect::<Vec<_>>(),
        "backlog_drops": s.backlog_drops,
        "http": {
            "requests": s.http.requests,
            "failed": s.http.failed,
            "slow": s.http.slow,
            "longest_failing": [s.http.longest_failing.0, s.http.longest_failing.1, s.http.longest_failing.2],
        },
        "claims_from_backup": s.claims.0,
        "claims_from_master": s.claims.1,
        "client_neigh": s.client_neigh,
        "failed_checks": s.failed_checks,
    })
}

fn metrics(d: &XvsNode) -> Result<String> {
    d.metrics().context("xvs metrics did not answer")
}

/// (run ns, run-queue wait ns, times run) of a director's control thread:
/// the main thread, whose task id is the process id.
fn schedstat(d: &XvsNode) -> Option<(u64, u64, u64)> {
    let pid = d.pid()?;
    let text = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/schedstat")).ok()?;
    let v: Vec<u64> = text
        .split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect();
    Some((*v.first()?, *v.get(1)?, *v.get(2)?))
}

/// Per CPU, packets dropped because its backlog was full (the second
/// column of /proc/net/softnet_stat, hexadecimal).
fn backlog_drops() -> Vec<u64> {
    std::fs::read_to_string("/proc/net/softnet_stat")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| u64::from_str_radix(l.split_whitespace().nth(1)?, 16).ok())
        .collect()
}

/// As bench/throughput.sh: the switch's bridges skip netfilter and each
/// real server drops the flood at its ingress hook, after the interface
/// counted it, so the flood costs the receivers no UDP lookup and no ICMP
/// port-unreachable.
fn cheap_receivers(lab: &Lab) -> Result<()> {
    // br_netfilter may not be loaded: then there is nothing to turn off.
    let _ = lab.exec(
        &lab.ns_switch(),
        &[
            "sysctl",
            "-q",
            "-w",
            "net.bridge.bridge-nf-call-iptables=0",
            "net.bridge.bridge-nf-call-ip6tables=0",
            "net.bridge.bridge-nf-call-arptables=0",
        ],
    );
    let rules = format!(
        "table netdev xvs_vrrp_bench {{\n    chain ingress {{\n        type filter hook ingress device \"eth0\" priority -500; policy accept;\n        udp dport {FLOOD_PORT} drop\n    }}\n}}\n"
    );
    for i in 1..=lab.spec().real_servers {
        lab.exec_stdin(&lab.ns_rs(i), &["nft", "-f", "-"], Some(&rules))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(t: f64, ok: bool) -> Sample {
        Sample { t, d: 0.01, ok }
    }

    #[test]
    fn the_longest_failing_stretch_is_found_in_start_order() {
        let samples = [
            s(1.0, true),
            s(1.2, false),
            s(1.1, false),
            s(1.3, true),
            s(2.0, false),
            s(2.1, false),
            s(2.2, false),
            s(9.0, false),
        ];
        let h = http_seen(&samples, 0.0, 5.0);
        assert_eq!((h.requests, h.failed, h.slow), (7, 5, 0));
        assert_eq!(h.longest_failing, (2.0, 2.2, 3));
    }

    #[test]
    fn advert_gaps_are_listed_longest_first() {
        let frame = |t: f64| Frame {
            t,
            mac: [0; 6],
            what: What::Arp {
                addr: std::net::Ipv4Addr::UNSPECIFIED,
                op: 1,
            },
        };
        let frames: Vec<Frame> = [0.0, 0.01, 0.02, 0.08, 0.09, 0.105]
            .into_iter()
            .map(frame)
            .collect();
        let g = Gaps::of(&frames, Duration::from_millis(10));
        assert_eq!(g.adverts, 6);
        assert_eq!((g.over_two_intervals, g.over_master_down), (1, 1));
        assert!((g.worst[0].1 - 0.06).abs() < 1e-9 && (g.worst[0].0 - 0.08).abs() < 1e-9);
        assert!((g.worst[1].1 - 0.015).abs() < 1e-9);
    }
}
