//! End to end: a flood of malformed frames while a real client runs HTTP
//! requests through a NAT director. The client's namespace sends, with
//! scripts/lab-junk.py over AF_PACKET, a known number of frames of each
//! kind — addressed to the VIP and, where it means something, to an address
//! that is nobody's — and every frame must show up in exactly one counter
//! `xvs metrics` exports:
//!
//! - per kind, the counter it must land in moves by exactly the number
//!   sent: the steering program's `xvs_steer_frames_total{outcome, reason}`
//!   for what it passes to the kernel or steers as malformed, and the
//!   worker's `xvs_malformed_packets_total{reason}` for what reaches it
//!   (kinds chosen so that the client's own traffic never lands there);
//! - over the whole flood, the steering counters of the client-side
//!   interface moved by exactly the frames the client's veth sent, and the
//!   frames steered to xvs on both interfaces by exactly the frames the
//!   worker received (plus any the kernel dropped on the way, exported as
//!   xvs_xsk_*);
//!
//! and no HTTP request fails, and the director keeps running.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use xvs_e2e::support::*;
use xvs_lab::Method;

/// Frames of each kind.
const N: u64 = 1000;
/// On the client segment, and nobody's.
const OTHER4: &str = "198.18.0.77";
const OTHER6: &str = "fd00:0:0:1::77";

/// Where a kind's frames must be counted.
#[derive(Clone, Copy, Debug)]
enum Lands {
    /// `xvs_steer_frames_total{interface=<client side>, outcome, reason}`.
    Steer(&'static str, &'static str),
    /// `xvs_malformed_packets_total{reason}`, summed over workers.
    Worker(&'static str),
}

/// (kind for lab-junk.py, destination, counters that move by N each).
const KINDS: &[(&str, &str, &[Lands])] = &[
    (
        "unknown_ethertype",
        VIP4,
        &[Lands::Steer("passed", "unknown_ethertype")],
    ),
    (
        "arp_bad_lengths",
        VIP4,
        &[Lands::Steer("passed", "arp_unsupported")],
    ),
    (
        "arp_truncated",
        VIP4,
        &[Lands::Steer("passed", "arp_truncated")],
    ),
    (
        "vlan_stacked",
        VIP4,
        &[Lands::Steer("passed", "too_many_vlan_tags")],
    ),
    (
        "vlan_truncated",
        VIP4,
        &[Lands::Steer("passed", "vlan_truncated")],
    ),
    (
        "ipv4_bad_ihl",
        VIP4,
        &[
            Lands::Steer("steered", "malformed"),
            Lands::Worker("ipv4_bad_ihl"),
        ],
    ),
    (
        "ipv4_bad_ihl",
        OTHER4,
        &[Lands::Steer("passed", "ipv4_bad_ihl")],
    ),
    (
        "ipv4_bad_version",
        VIP4,
        &[
            Lands::Steer("steered", "malformed"),
            Lands::Worker("ipv4_bad_version"),
        ],
    ),
    (
        "ipv4_bad_version",
        OTHER4,
        &[Lands::Steer("passed", "ipv4_bad_version")],
    ),
    (
        "ipv6_bad_version",
        VIP6,
        &[
            Lands::Steer("steered", "malformed"),
            Lands::Worker("ipv6_bad_version"),
        ],
    ),
    (
        "ipv6_bad_version",
        OTHER6,
        &[Lands::Steer("passed", "ipv6_bad_version")],
    ),
    (
        "ipv4_truncated",
        VIP4,
        &[Lands::Steer("passed", "ipv4_truncated")],
    ),
    (
        "ipv6_truncated",
        VIP6,
        &[Lands::Steer("passed", "ipv6_truncated")],
    ),
    // Steered as any frame to the VIP (the program never reads the total
    // length or the TCP header of one): the worker tells what is wrong.
    (
        "ipv4_total_length",
        VIP4,
        &[Lands::Worker("ipv4_total_length_beyond_frame")],
    ),
    ("tcp_truncated", VIP4, &[Lands::Worker("tcp_truncated")]),
    (
        "tcp_truncated",
        OTHER4,
        &[Lands::Steer("passed", "l4_truncated")],
    ),
    ("fragment", OTHER4, &[Lands::Steer("passed", "fragment")]),
    // Well formed but nobody's: not_ours is shared with the client's own
    // link-local chatter, so only the totals below account for these.
    ("udp", OTHER4, &[]),
];

/// Counters that must not move while nothing is sent, read at once.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Totals {
    /// Frames the client's eth0 sent (all of them reach the director's
    /// client-side interface: a veth pair).
    client_tx: u64,
    /// The steering program's counts on the director's client-side
    /// interface, all outcomes and reasons.
    client_side: u64,
    /// Frames steered to a socket, both interfaces.
    steered: u64,
    /// Frames the worker received, and those the kernel dropped on the
    /// way to it.
    worker_rx: u64,
    xsk_dropped: u64,
}

fn totals(r: &Running, client_if: &str) -> Totals {
    let tx = r
        .lab
        .exec(
            &r.lab.ns_client(),
            &["cat", "/sys/class/net/eth0/statistics/tx_packets"],
        )
        .unwrap();
    let client_tx = String::from_utf8_lossy(&tx.stdout).trim().parse().unwrap();
    let m = request(r, "metrics");
    let iface = format!("interface=\"{client_if}\"");
    Totals {
        client_tx,
        client_side: metric_in(&m, "xvs_steer_frames_total", &[&iface]),
        steered: metric_in(&m, "xvs_steer_frames_total", &["outcome=\"steered\""]),
        worker_rx: metric_in(&m, "xvs_rx_packets_total", &[]),
        xsk_dropped: metric_in(&m, "xvs_xsk_rx_dropped_total", &[])
            + metric_in(&m, "xvs_xsk_rx_ring_full_total", &[]),
    }
}

/// [`totals`] once nothing moves: the same twice, 300 ms apart.
fn settled(r: &Running, client_if: &str) -> Totals {
    let mut last = totals(r, client_if);
    for _ in 0..100 {
        std::thread::sleep(Duration::from_millis(300));
        let now = totals(r, client_if);
        if now == last {
            return now;
        }
        last = now;
    }
    panic!("the counters never settled: {last:?}");
}

fn count(text: &str, lands: Lands, client_if: &str) -> u64 {
    match lands {
        Lands::Steer(outcome, reason) => metric_in(
            text,
            "xvs_steer_frames_total",
            &[
                &format!("interface=\"{client_if}\""),
                &format!("outcome=\"{outcome}\""),
                &format!("reason=\"{reason}\""),
            ],
        ),
        Lands::Worker(reason) => metric_in(
            text,
            "xvs_malformed_packets_total",
            &[&format!("reason=\"{reason}\"")],
        ),
    }
}

fn send_junk(r: &Running, director_mac: &str, kind: &str, dst: &str) {
    let script = xvs_lab::scripts_dir().join("lab-junk.py");
    let src = if dst.contains(':') {
        r.lab.client_addr6().to_string()
    } else {
        r.lab.client_addr4().to_string()
    };
    let n = N.to_string();
    let out = r
        .lab
        .exec(
            &r.lab.ns_client(),
            &[
                "python3",
                script.to_str().unwrap(),
                "--iface",
                "eth0",
                "--dst-mac",
                director_mac,
                "--kind",
                kind,
                "--count",
                &n,
                "--dst",
                dst,
                "--src",
                &src,
            ],
        )
        .unwrap_or_else(|e| panic!("lab-junk.py --kind {kind} --dst {dst}: {e}"));
    let said = String::from_utf8_lossy(&out.stdout);
    assert_eq!(said.trim(), format!("sent {N}"), "lab-junk.py {kind}");
}

#[test]
fn every_junk_frame_is_counted_once_and_clients_never_notice() {
    let Some(mut r) = start_web_and_dns(
        "every_junk_frame_is_counted_once_and_clients_never_notice",
        Method::Nat,
    ) else {
        return;
    };
    let (client_if, _) = r.lab.director_ifaces();
    let mac = r.lab.mac(&r.lab.ns_director(), &client_if).unwrap();
    let director_mac = mac
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":");

    // Warm up: the client has the VIP's MAC, the director its neighbours.
    let warm = r.lab.http_requests(&url(VIP4, 80), 30, 5, None).unwrap();
    assert_eq!(warm.failed, 0, "before the flood: {warm:?}");
    let before = settled(&r, &client_if);

    let flooding = AtomicBool::new(true);
    let mut deltas: Vec<(String, Vec<(String, u64)>)> = Vec::new();
    let reports = std::thread::scope(|scope| {
        // Stops the client thread however this scope ends (a failed
        // assertion included), so the scope's join cannot hang.
        struct Stop<'a>(&'a AtomicBool);
        impl Drop for Stop<'_> {
            fn drop(&mut self) {
                self.0.store(false, Ordering::Relaxed);
            }
        }
        let stop = Stop(&flooding);
        let clients = scope.spawn(|| {
            let mut reports = Vec::new();
            while flooding.load(Ordering::Relaxed) {
                reports.push(r.lab.http_requests(&url(VIP4, 80), 50, 5, None).unwrap());
            }
            reports
        });
        for (kind, dst, lands) in KINDS {
            let m0 = request(&r, "metrics");
            send_junk(&r, &director_mac, kind, dst);
            let what = format!("{kind} to {dst}");
            wait_until(
                30,
                &format!("{what}: every counter it lands in moves by {N}"),
                || {
                    let m = request(&r, "metrics");
                    lands
                        .iter()
                        .all(|l| count(&m, *l, &client_if) >= count(&m0, *l, &client_if) + N)
                },
                || request(&r, "metrics"),
            );
            let m1 = request(&r, "metrics");
            let moved: Vec<(String, u64)> = lands
                .iter()
                .map(|l| {
                    (
                        format!("{l:?}"),
                        count(&m1, *l, &client_if) - count(&m0, *l, &client_if),
                    )
                })
                .collect();
            for (counter, n) in &moved {
                assert_eq!(*n, N, "{what}: {counter} moved by {n}, not {N}");
            }
            deltas.push((what, moved));
        }
        drop(stop);
        clients.join().unwrap()
    });

    let after = settled(&r, &client_if);
    let sent = after.client_tx - before.client_tx;
    let counted = after.client_side - before.client_side;
    let junk = N * KINDS.len() as u64;
    eprintln!("junk frames per kind (counter: delta):");
    for (what, moved) in &deltas {
        eprintln!("  {what}: {moved:?}");
    }
    eprintln!(
        "client eth0 sent {sent} frames ({junk} junk); the steering program counted {counted}; \
         steered {} on both interfaces, the worker received {}, the kernel dropped {} on the way",
        after.steered - before.steered,
        after.worker_rx - before.worker_rx,
        after.xsk_dropped - before.xsk_dropped
    );
    assert!(sent >= junk, "{sent} frames sent, {junk} of them junk");
    assert_eq!(
        counted,
        sent,
        "every frame the client sent is in exactly one steering counter\n{}",
        request(&r, "metrics")
    );
    assert_eq!(
        after.steered - before.steered,
        (after.worker_rx - before.worker_rx) + (after.xsk_dropped - before.xsk_dropped),
        "every frame steered to xvs reached the worker or an xsk drop counter"
    );

    let requests: usize = reports.iter().map(|c| c.ok + c.failed).sum();
    let failed: usize = reports.iter().map(|c| c.failed).sum();
    let errors: BTreeMap<&String, usize> = reports
        .iter()
        .flat_map(|c| c.errors.iter().map(|(k, v)| (k, *v)))
        .collect();
    eprintln!("HTTP requests during the flood: {requests}, failed {failed}");
    assert!(requests > 0, "the client ran during the flood");
    assert_eq!(
        failed, 0,
        "HTTP requests failed during the flood: {errors:?}"
    );

    assert!(r.xvs.is_running(), "xvs run exited:\n{}", r.xvs.log());
    assert!(request(&r, "list").contains("198.18.0.100"));
    let after_flood = r.lab.http_requests(&url(VIP4, 80), 30, 5, None).unwrap();
    assert_eq!(after_flood.failed, 0, "after the flood: {after_flood:?}");
}
