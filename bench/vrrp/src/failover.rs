//! Failover runs: stop the master (director 1) `runs` times, each time
//! timing from the signal to (a) the backup reporting master, (b) the
//! backup's first ARP frame claiming the VIP on the client's segment, and
//! for xvs (c) the first new connection the client got answered at once;
//! then restart director 1, let it preempt back and settle, and go again.

use std::io::Write;
use std::net::Ipv4Addr;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};
use serde_json::json;
use xvs_lab::{Lab, LabSpec, Method};

use crate::capture::{Capture, What};
use crate::client::ClientLoop;
use crate::pair::{Daemon, Pair, Stop, PRIORITIES, STALL_INTERVALS};
use crate::stamp::unix_now;
use crate::stats::{client_seen, master_down, ClientSeen};
use crate::xvs_node::VIP4;

/// One configuration of the failover measurements.
#[derive(Clone, Debug)]
pub struct Scenario {
    pub name: String,
    pub daemon: Daemon,
    pub stop: Stop,
    pub advert: Duration,
}

/// What one stop of the master cost, in seconds from the signal.
#[derive(Clone, Debug, Default)]
pub struct Run {
    /// The backup wrote that VI_OUT became master (xvs: its log line;
    /// keepalived: its notify FIFO line), stamped on arrival.
    pub master: Option<f64>,
    /// The backup's first ARP frame claiming the VIP, as the client's
    /// kernel received it.
    pub claim: Option<f64>,
    /// That claim, counted from the master's last VI_OUT advert the client
    /// received (both stamped by the client's kernel), and that advert's
    /// priority (0 after a SIGTERM).
    pub after_last_advert: Option<f64>,
    pub last_priority: Option<u8>,
    /// xvs only: what the open-loop client saw.
    pub client: Option<ClientSeen>,
    /// A stall only: when the backup went back to backup; when the
    /// master's first ARP frame claiming the VIP after the backup's claim
    /// reached the client (it announces itself again); and the client's
    /// neighbour entry for the VIP a second after the backup yielded,
    /// with whether it names the backup's MAC.
    pub yielded: Option<f64>,
    pub reclaim: Option<f64>,
    pub client_neigh: Option<String>,
    pub neigh_is_backup: Option<bool>,
}

/// How long the client runs before the signal.
const LEAD: Duration = Duration::from_millis(1500);
/// How long the client keeps going after the expected takeover.
const TAIL: Duration = Duration::from_secs(3);
/// After a stall, how long the client keeps going: long enough for its
/// neighbour entry to go stale and be resolved again (Linux:
/// base_reachable_time 30 s, so reachable 15–45 s, then 5 s of delay and
/// 3 unicast probes a second apart).
const STALL_TAIL: Duration = Duration::from_secs(60);
/// How long the settled pair is left alone before the next stop: the
/// returning master's gratuitous ARPs have reached the client and its
/// first connections through the new path are done.
const SETTLE: Duration = Duration::from_secs(1);

pub fn measure(
    sc: &Scenario,
    runs: usize,
    xvs: &Path,
    out: &Path,
    prefix: &str,
    mut record: impl FnMut(&serde_json::Value) -> Result<()>,
) -> Result<Vec<Run>> {
    let spec = LabSpec {
        directors: 2,
        ..LabSpec::new(Method::Nat)
    };
    let lab = Lab::build_with_prefix(spec, prefix).with_context(|| format!("lab {prefix}"))?;
    let logs = out.join(&sc.name);
    std::fs::create_dir_all(&logs)?;
    let (c, _) = lab.director_ifaces();
    let mac1 = lab.mac(&lab.ns_director_n(1), &c)?;
    let mac2 = lab.mac(&lab.ns_director_n(2), &c)?;
    let vip: Ipv4Addr = VIP4.parse()?;
    // Director 1's address on the client side: the source of its adverts.
    let master_ip = Ipv4Addr::new(198, 18, 0, 2);
    let capture = Capture::start(&lab.ns_client(), "eth0")?;
    let mut pair = Pair::new(&lab, sc.daemon, sc.advert, xvs, &logs)?;
    pair.start(2)?;
    pair.start(1)?;
    let down = master_down(PRIORITIES[1], sc.advert);
    let settle_timeout = Duration::from_secs(30) + sc.advert * 20;
    pair.wait_settled(settle_timeout)?;

    let mut results = Vec::with_capacity(runs);
    for n in 1..=runs {
        crate::check_interrupted()?;
        pair.wait_settled(settle_timeout)?;
        std::thread::sleep(SETTLE.max(sc.advert * 3));
        let client = match sc.daemon {
            Daemon::Xvs => Some(ClientLoop::start(
                &lab,
                &format!("http://{VIP4}/"),
                LEAD + sc.advert
                    + Duration::from_secs_f64(down)
                    + if sc.stop == Stop::Stall {
                        STALL_TAIL
                    } else {
                        TAIL
                    },
                Duration::from_millis(20),
                &logs.join(format!("timeline-{n}.jsonl")),
            )?),
            Daemon::Keepalived => None,
        };
        if client.is_some() {
            std::thread::sleep(LEAD);
        } else if sc.stop == Stop::Stall {
            // No HTTP client (keepalived does not forward here): one ping
            // gives the client a neighbour entry for the VIP to look at.
            let _ = lab.exec(&lab.ns_client(), &["ping", "-c", "1", "-W", "1", VIP4]);
        }
        // Stop at a random point of the advert interval: a kill's cost
        // depends on how long ago the master's last advert left, and a
        // loop this regular would otherwise hit the same phase every time.
        std::thread::sleep(sc.advert.mul_f64(random_fraction()));
        let at = pair.stop(1, sc.stop)?;
        // The takeover, seen in the backup's own words.
        let deadline = at + 3.0 * down + 5.0;
        let master = loop {
            if let Some(t) = pair.became_master(2, at) {
                break Some(t - at);
            }
            if unix_now() > deadline {
                break None;
            }
            std::thread::sleep(Duration::from_millis(2));
        };
        // Its announcement, as the client's kernel received it.
        let claimed = |f: &crate::capture::Frame| {
            f.mac == mac2 && matches!(f.what, What::Arp { addr, .. } if addr == vip)
        };
        let claim_deadline = unix_now() + 1.0;
        let claim = loop {
            if let Some(f) = capture.first_since(at, claimed) {
                break Some(f.t - at);
            }
            if unix_now() > claim_deadline {
                break None;
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        // The master's last VI_OUT advert before that claim (after a
        // SIGTERM, its priority-0 advert), as the same client kernel
        // received it: what the backup's timer ran from.
        let last_advert = claim.and_then(|c| {
            capture
                .between(at - 3.0 * down - 1.0, at + c, |f| {
                    f.mac == mac1
                        && matches!(f.what, What::Advert { src, vrid: 51, .. } if src == master_ip)
                })
                .last()
                .copied()
        });
        let after_last_advert = match (claim, last_advert) {
            (Some(c), Some(f)) => Some(at + c - f.t),
            _ => None,
        };
        let last_priority = last_advert.and_then(|f| match f.what {
            What::Advert { priority, .. } => Some(priority),
            What::Arp { .. } => None,
        });
        // A stalled master goes on: the backup should yield to it again.
        let (mut yielded, mut reclaim, mut client_neigh) = (None, None, None);
        if sc.stop == Stop::Stall {
            let deadline = unix_now() + 5.0;
            yielded = loop {
                if let Some(t) = pair.became(2, "backup", at) {
                    break Some(t - at);
                }
                if unix_now() > deadline {
                    break None;
                }
                std::thread::sleep(Duration::from_millis(5));
            };
            std::thread::sleep(Duration::from_secs(1));
            client_neigh = lab
                .exec(&lab.ns_client(), &["ip", "neigh", "show", VIP4])
                .ok()
                .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned());
            let backup_claim = at + claim.unwrap_or(0.0);
            reclaim = capture
                .first_since(backup_claim, |f| {
                    f.mac == mac1 && matches!(f.what, What::Arp { addr, .. } if addr == vip)
                })
                .map(|f| f.t - at);
        }
        let neigh_is_backup = client_neigh
            .as_ref()
            .map(|n| n.to_lowercase().contains(&format_mac(mac2)));
        let seen = client.map(|c| client_seen(&c.finish(), at));
        let run = Run {
            master,
            claim,
            after_last_advert,
            last_priority,
            client: seen,
            yielded,
            reclaim,
            client_neigh,
            neigh_is_backup,
        };
        report(sc, n, runs, &run, &pair);
        record(&json!({
            "scenario": sc.name,
            "daemon": sc.daemon.name(),
            "stop": format!("{:?}", sc.stop).to_lowercase(),
            "advert_s": sc.advert.as_secs_f64(),
            "run": n,
            "at": at,
            "master_s": run.master,
            "claim_s": run.claim,
            "claim_after_last_advert_s": run.after_last_advert,
            "last_advert_priority": run.last_priority,
            "client_at_once_s": run.client.as_ref().and_then(|c| c.at_once_after),
            "client_after": run.client.as_ref().map(|c| c.after),
            "client_slow_after": run.client.as_ref().map(|c| c.slow_after),
            "client_failed_after": run.client.as_ref().map(|c| c.failed_after),
            "client_before": run.client.as_ref().map(|c| c.before),
            "client_failed_before": run.client.as_ref().map(|c| c.failed_before),
            "client_last_slow_s": run.client.as_ref().and_then(|c| c.last_slow_after),
            "stall_s": (sc.stop == Stop::Stall).then(|| (sc.advert * STALL_INTERVALS).as_secs_f64()),
            "yielded_s": run.yielded,
            "reclaim_s": run.reclaim,
            "client_neigh": run.client_neigh,
            "client_neigh_is_backup": run.neigh_is_backup,
        }))?;
        results.push(run);
        if sc.stop != Stop::Stall {
            pair.reap(1);
            if sc.daemon == Daemon::Keepalived && sc.stop == Stop::Kill {
                forget_crashed_addresses(&lab)?;
            }
            pair.start(1)?;
        }
    }
    drop(pair);
    drop(capture);
    drop(lab);
    Ok(results)
}

/// A SIGKILLed keepalived leaves its virtual addresses on the interfaces
/// (it had no chance to remove them), and the director's kernel would go
/// on answering ARP for the VIP. Remove them, as a reboot would, before
/// the next start.
fn forget_crashed_addresses(lab: &Lab) -> Result<()> {
    let ns = lab.ns_director_n(1);
    let (c, r) = lab.director_ifaces();
    for (iface, addr) in [(&c, "198.18.0.100/24"), (&r, "198.18.1.1/24")] {
        if lab.has_address(&ns, iface, addr.split('/').next().unwrap_or("").parse()?) {
            lab.exec(&ns, &["ip", "addr", "del", addr, "dev", iface])?;
        }
    }
    Ok(())
}

/// A number in [0, 1) that differs from call to call (std's hasher keys
/// are random per process; the clock makes each call differ).
fn random_fraction() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(unix_now().to_bits());
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}

/// `aa:bb:cc:dd:ee:ff`, as `ip neigh` writes it.
fn format_mac(m: [u8; 6]) -> String {
    m.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn ms(x: Option<f64>) -> String {
    x.map_or_else(|| "never".to_owned(), |v| format!("{:.1} ms", v * 1000.0))
}

fn report(sc: &Scenario, n: usize, runs: usize, run: &Run, pair: &Pair<'_>) {
    let mut line = format!(
        "{} run {n}/{runs}: backup master after {}, claims the VIP on the wire after {} ({} after the master's last advert, priority {})",
        sc.name,
        ms(run.master),
        ms(run.claim),
        ms(run.after_last_advert),
        run.last_priority.map_or("?".to_owned(), |p| p.to_string())
    );
    if let Some(y) = run.yielded {
        line.push_str(&format!(
            "; yielded to the resumed master after {}; the master claimed the VIP again after {}; client's entry for the VIP a second later: {}{}",
            ms(Some(y)),
            ms(run.reclaim),
            run.client_neigh.as_deref().unwrap_or("?"),
            if run.neigh_is_backup == Some(true) {
                " (the backup's MAC)"
            } else {
                ""
            }
        ));
    }
    if let Some(c) = &run.client {
        line.push_str(&format!(
            "; last request not answered at once started {} after the stop",
            ms(c.last_slow_after)
        ));
        line.push_str(&format!(
            "; new connections answered at once after {}; of {} requests started after the stop {} were not answered at once and {} failed ({} of {} in the second before failed)",
            ms(c.at_once_after),
            c.after,
            c.slow_after,
            c.failed_after,
            c.failed_before,
            c.before
        ));
    }
    let mut err = std::io::stderr();
    let _ = writeln!(err, "{line}");
    if run.master.is_none() {
        let _ = writeln!(err, "director 2's last lines:\n{}", pair.tail(2));
    }
}
