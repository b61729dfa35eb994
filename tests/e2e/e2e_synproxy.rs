//! The SYN proxy end to end, for NAT and FullNAT: a web service with
//! `synproxy: true` on a director with a small table (1,024 entries, one
//! worker).
//!
//! - Real HTTP clients (curl; Linux with timestamps, window scaling and
//!   SACK, then with timestamps off in the client's namespace) get their
//!   answers through the proxied handshake.
//! - An 8 MiB download through one proxied connection arrives byte for
//!   byte: every segment of it and every ACK went through the sequence,
//!   timestamp, window and SACK translation.
//! - Each client waits at the cookie SYN-ACK's zero window and sends its
//!   request on the window update the director sends once the real server
//!   is connected: no request is dropped as early data.
//! - A spoofed SYN flood (20,000 SYNs in 5 s) is answered with cookies and
//!   adds no entry to the table, while a real client opening a connection
//!   every 100 ms keeps succeeding.

use std::time::Duration;

use xvs_e2e::health_support::{report, unix_now, ClientLoop, Sample};
use xvs_e2e::support::{ask, header, launch, metric_in, service, syn_flood, url, Director, VIP4};
use xvs_lab::{Lab, LabSpec, Method};

const CAPACITY: usize = 1024;
const FLOOD_SYNS: usize = 20_000;
const FLOOD_SECS: f64 = 5.0;
/// Addresses on the client segment that no host has (see e2e_hostile).
const FLOOD_SOURCES: &str = "198.18.0.128/25";
const CLIENT_EVERY: Duration = Duration::from_millis(100);
const BEFORE_SECS: f64 = 1.0;
const AFTER_SECS: f64 = 5.0;
/// The download: half the backend's 16 MiB limit.
const TRANSFER: usize = 8 * 1024 * 1024;

fn yaml(lab: &Lab, method: &str) -> String {
    let global = header(lab, 1).replace(
        "conn_capacity: 65536\n",
        &format!("conn_capacity: {CAPACITY}\n"),
    );
    let (pools, keys) = if method == "fullnat" {
        (
            "local_pools:\n  - name: lip\n    addresses: [198.18.1.200]\n    ports: 20000-29999\n",
            "    synproxy: true\n    local_pool: lip\n",
        )
    } else {
        ("", "    synproxy: true\n")
    };
    global
        + pools
        + "services:\n"
        + &service("web", VIP4, "tcp", 80, method, "rr", 80, keys, &[1, 1, 1])
}

/// `n` HTTP GETs with curl from the client namespace; how many got a 200.
fn curl_ok(lab: &Lab, n: usize) -> usize {
    (0..n)
        .filter(|_| {
            lab.exec(
                &lab.ns_client(),
                &[
                    "curl",
                    "-s",
                    "-o",
                    "/dev/null",
                    "-w",
                    "%{http_code}",
                    "--max-time",
                    "5",
                    &url(VIP4, 80),
                ],
            )
            .is_ok_and(|o| o.stdout == b"200")
        })
        .count()
}

fn entries(d: &Director) -> u64 {
    ask(&d.sock, "metrics").map_or(0, |m| metric_in(&m, "xvs_conn_entries", &[]))
}

fn run(method: Method, name: &str) {
    if !xvs_lab::require_root(name) {
        return;
    }
    let lab = Lab::build(LabSpec {
        queues: 1,
        ..LabSpec::new(method)
    })
    .expect("lab builds");
    let m = if method == Method::FullNat {
        "fullnat"
    } else {
        "nat"
    };
    let mut d = launch(&lab, &lab.ns_director(), name, &yaml(&lab, m));

    // Real clients, with the client namespace's default TCP options.
    let ok = curl_ok(&lab, 20);
    assert_eq!(ok, 20, "{m}: curl with timestamps\n{}", d.xvs.log());
    // And without timestamps: the cookie then keeps no window scale or
    // SACK, and the connections still work.
    lab.exec(
        &lab.ns_client(),
        &["sysctl", "-qw", "net.ipv4.tcp_timestamps=0"],
    )
    .expect("sysctl");
    let ok_no_ts = curl_ok(&lab, 10);
    lab.exec(
        &lab.ns_client(),
        &["sysctl", "-qw", "net.ipv4.tcp_timestamps=1"],
    )
    .expect("sysctl");
    assert_eq!(ok_no_ts, 10, "{m}: curl without timestamps");

    // A long transfer through one proxied connection, checked byte for byte.
    let dir = xvs_lab::lab_dir(lab.prefix());
    let body_path = dir.join(format!("{name}-body"));
    let head_path = dir.join(format!("{name}-head"));
    let target = format!("{}?size={TRANSFER}", url(VIP4, 80));
    let out = lab
        .exec(
            &lab.ns_client(),
            &[
                "curl",
                "-s",
                "--max-time",
                "60",
                "-D",
                head_path.to_str().expect("UTF-8"),
                "-o",
                body_path.to_str().expect("UTF-8"),
                &target,
            ],
        )
        .expect("curl runs");
    assert!(
        out.status.success(),
        "{m}: download failed: {out:?}\n{}",
        d.xvs.log()
    );
    let head = std::fs::read_to_string(&head_path).expect("headers");
    let server = head
        .lines()
        .find_map(|l| l.strip_prefix("X-Server: "))
        .expect("X-Server header")
        .trim()
        .to_string();
    let body = std::fs::read(&body_path).expect("body");
    let mut expected = format!("{server}\n").into_bytes();
    expected.resize(TRANSFER, b'x');
    assert_eq!(body.len(), TRANSFER, "{m}: download length");
    assert!(
        body == expected,
        "{m}: the download's bytes differ from what {server} sent"
    );
    let sum = lab
        .exec(
            &lab.ns_client(),
            &["sha256sum", body_path.to_str().expect("UTF-8")],
        )
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .split(' ')
                .next()
                .unwrap_or("")
                .to_string()
        })
        .unwrap_or_default();
    // Each client sat at the cookie SYN-ACK's zero window until its real
    // server was connected and the window update came: no request was sent
    // early, dropped and retransmitted (the 200 ms a first request would
    // otherwise wait), and every connection got its update.
    let metrics = ask(&d.sock, "metrics").unwrap_or_default();
    let early = metric_in(&metrics, "xvs_synproxy_early_data_total", &[]);
    let updates = metric_in(&metrics, "xvs_synproxy_window_updates_total", &[]);
    report(&format!(
        "{m}: 20/20 curl with timestamps, 10/10 without; {TRANSFER}-byte download from {server} intact (sha256 {sum}); window updates {updates}, early data dropped {early}"
    ));
    assert_eq!(early, 0, "{m}: client data sent before the server answered");
    assert_eq!(updates, 31, "{m}: one window update per proxied connection");

    // The flood, with a real client connecting throughout.
    let before = entries(&d);
    let client = ClientLoop::every(
        &lab,
        &url(VIP4, 80),
        Duration::from_secs_f64(BEFORE_SECS + FLOOD_SECS + AFTER_SECS),
        CLIENT_EVERY,
    );
    std::thread::sleep(Duration::from_secs_f64(BEFORE_SECS));
    let flood_start = unix_now();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watcher = {
        let stop = std::sync::Arc::clone(&stop);
        let sock = d.sock.clone();
        std::thread::spawn(move || {
            let mut max = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                if let Some(m) = ask(&sock, "metrics") {
                    max = max.max(metric_in(&m, "xvs_conn_entries", &[]));
                }
                std::thread::sleep(Duration::from_millis(200));
            }
            max
        })
    };
    let flood = syn_flood(&lab, FLOOD_SYNS, FLOOD_SECS, FLOOD_SOURCES).expect("lab-synflood.py");
    let samples: Vec<Sample> = client.finish();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let max_entries = watcher.join().expect("watcher");
    let metrics = ask(&d.sock, "metrics").unwrap_or_default();
    let during: Vec<&Sample> = samples.iter().filter(|s| s.t >= flood_start).collect();
    let answered = during
        .iter()
        .filter(|s| s.error.is_none() && s.server.is_some())
        .count();
    let made = samples.len() as u64;
    let syn_acks = metric_in(&metrics, "xvs_synproxy_syn_acks_total", &[]);
    let line = format!(
        "{m} with the SYN proxy: {answered} of {} client connections succeeded during the flood and the {AFTER_SECS} s after it; table entries {before} before, at most {max_entries} during (client connections {made}); cookie SYN-ACKs {syn_acks}; bad cookies {}; early data {}; flood {}",
        during.len(),
        metric_in(&metrics, "xvs_dropped_packets_total", &["reason=\"synproxy_bad_cookie\""]),
        metric_in(&metrics, "xvs_synproxy_early_data_total", &[]),
        String::from_utf8_lossy(&flood.stdout).trim(),
    );
    report(&line);
    let _ = d.xvs.stop();

    let expected = ((FLOOD_SECS + AFTER_SECS) / CLIENT_EVERY.as_secs_f64()) as usize;
    assert!(during.len() >= expected * 8 / 10, "{line}");
    assert_eq!(answered, during.len(), "{line}");
    // The flood was answered, statelessly: the table grew by the real
    // client's connections at most, never by the flood's SYNs.
    assert!(syn_acks as usize >= FLOOD_SYNS / 2, "{line}");
    assert!(max_entries <= before + made, "{line}");
    assert_eq!(
        metric_in(
            &metrics,
            "xvs_dropped_packets_total",
            &["reason=\"conn_table_full\""]
        ),
        0,
        "{line}"
    );
}

#[test]
fn nat_synproxy_serves_clients_and_shrugs_off_a_syn_flood() {
    run(Method::Nat, "synproxy-nat");
}

#[test]
fn fullnat_synproxy_serves_clients_and_shrugs_off_a_syn_flood() {
    run(Method::FullNat, "synproxy-fullnat");
}
