//! Hostile traffic end to end: a spoofed-source SYN flood against a NAT
//! service whose director has a small connection table (1,024 entries,
//! one worker), while a real client opens a new connection every 100 ms
//! and a few connections opened before the flood keep exchanging data.
//!
//! With the table's defences on (`global.table_pressure`, the default),
//! every one of the client's connections during the flood and in the 10 s
//! after it succeeds, the held connections all carry on, and the
//! evictions that made room are counted. The same flood against the
//! defences turned off shows what they prevent; that run's success rate is
//! printed, not asserted. A DR service, which cannot use the SYN proxy,
//! gets through the same flood on the table defences alone, and so does a
//! persistent NAT service, whose spoofed clients' templates give way once
//! their half-open connections have.

use std::time::Duration;

use xvs_e2e::health_support::{report, unix_now, ClientLoop, Sample};
use xvs_e2e::support::{header, launch, metric_in, service, syn_flood, url, Director, VIP4};
use xvs_lab::{HoldReport, Lab, LabSpec, Method};

/// The table: the 1,024 entries, all one worker's shard.
const CAPACITY: usize = 1024;
/// The flood: 20,000 SYNs over 5 s from random addresses of the client
/// segment that no host has (198.18.0.128-254: the lab's client, its extra
/// addresses, the director and the VIPs are all below .128), so nothing
/// answers the real servers' SYN-ACKs, as with a real spoofed flood.
const FLOOD_SYNS: usize = 20_000;
const FLOOD_SECS: f64 = 5.0;
const FLOOD_SOURCES: &str = "198.18.0.128/25";
/// The real client: one new connection (an HTTP GET) every 100 ms, from
/// 1 s before the flood to 10 s after it.
const CLIENT_EVERY: Duration = Duration::from_millis(100);
const BEFORE_SECS: f64 = 1.0;
const AFTER_SECS: f64 = 10.0;
/// Long-lived connections opened before the flood (lab-hold.py: a third
/// chatty, a third idle, a third streaming from the server).
const HELD: usize = 6;

/// Service keys that make both services persistent per client address
/// (ipvsadm -p 300): every spoofed source then costs a template too.
const PERSISTENT: &str = "    persistence: 300\n";
/// The flood's 127 sources leave at most 127 templates: a table of 128
/// entries is one they alone would fill, with the real client's and the
/// held connections' entries on top.
const PERSISTENT_CAPACITY: usize = 128;
/// Against that table, 2,000 SYNs in the 5 s: each slot then gives way
/// about every 160 ms, not every 16 ms as under the full flood, which
/// would also take a real client's own half-open entry between its SYN
/// and its ACK on a loaded machine (as it would in IPVS), a test of the
/// machine's latency rather than of templates giving way.
const PERSISTENT_FLOOD_SYNS: usize = 2_000;

/// The director: a NAT web service (port 80) and the hold service (9000)
/// over the lab's three real servers, with `keys` on both services (a
/// [`PERSISTENT_CAPACITY`] table then, else [`CAPACITY`]; `run_flood`
/// then sends [`PERSISTENT_FLOOD_SYNS`]) and `pressure` as
/// `global.table_pressure`.
fn yaml(lab: &Lab, method: &str, pressure: &str, keys: &str) -> String {
    let capacity = if keys.is_empty() {
        CAPACITY
    } else {
        PERSISTENT_CAPACITY
    };
    let global = header(lab, 1).replace(
        "conn_capacity: 65536\n",
        &format!("conn_capacity: {capacity}\n  table_pressure: {pressure}\n"),
    );
    global
        + "services:\n"
        + &service("web", VIP4, "tcp", 80, method, "rr", 80, keys, &[1, 1, 1])
        + &service(
            "hold",
            VIP4,
            "tcp",
            9000,
            method,
            "rr",
            9000,
            keys,
            &[1, 1, 1],
        )
}

/// What one run under the flood measured.
struct Outcome {
    /// The client's requests started from the flood's start on.
    answered: usize,
    total: usize,
    held: HoldReport,
    metrics: String,
    flood: String,
}

impl Outcome {
    fn counter(&self, name: &str, labels: &[&str]) -> u64 {
        metric_in(&self.metrics, name, labels)
    }

    fn line(&self, what: &str) -> String {
        format!(
            "{what}: {} of {} client connections succeeded during the flood and the {AFTER_SECS} s after it ({:.1} %); held connections: {}; evictions: embryonic {}, closing {}, expired {}, template {}; SYNs refused (conn_table_full) {}; flood {}",
            self.answered,
            self.total,
            100.0 * self.answered as f64 / self.total.max(1) as f64,
            self.held.summary(),
            self.counter("xvs_conn_evictions_total", &["reason=\"embryonic\""]),
            self.counter("xvs_conn_evictions_total", &["reason=\"closing\""]),
            self.counter("xvs_conn_evictions_total", &["reason=\"expired\""]),
            self.counter("xvs_conn_evictions_total", &["reason=\"template\""]),
            self.counter("xvs_dropped_packets_total", &["reason=\"conn_table_full\""]),
            self.flood.trim(),
        )
    }
}

/// A one-queue lab for `method`; `None` without root.
fn flood_lab(method: Method) -> Option<Lab> {
    if !xvs_lab::require_root("e2e_hostile") {
        return None;
    }
    Some(
        Lab::build(LabSpec {
            queues: 1,
            ..LabSpec::new(method)
        })
        .expect("lab builds"),
    )
}

impl Outcome {
    /// With the defences on: every client connection during and after the
    /// flood got through, every held one opened and carried on, and
    /// evictions for `reason` made room.
    fn assert_unharmed(&self, what: &str, reason: &str) {
        let line = self.line(what);
        let expected = ((FLOOD_SECS + AFTER_SECS) / CLIENT_EVERY.as_secs_f64()) as usize;
        assert!(
            self.total >= expected * 8 / 10,
            "the client made {} connections, expected about {expected}",
            self.total
        );
        assert_eq!(self.answered, self.total, "{line}");
        assert_eq!(self.held.opened, HELD, "{}", self.held.summary());
        assert_eq!(self.held.continued, HELD, "{}", self.held.summary());
        let label = format!("reason=\"{reason}\"");
        assert!(
            self.counter("xvs_conn_evictions_total", &[&label]) > 0,
            "{line}"
        );
    }
}

/// Start a director with `pressure` (and `keys` on both services), hold
/// connections, run the client and the flood, and stop the director.
fn run_flood(lab: &Lab, method: &str, tag: &str, pressure: &str, keys: &str) -> Outcome {
    let mut d: Director = launch(
        lab,
        &lab.ns_director(),
        tag,
        &yaml(lab, method, pressure, keys),
    );
    let sources: Vec<String> = lab.client_extra4().iter().map(|a| a.to_string()).collect();
    let sources: Vec<&str> = sources.iter().map(String::as_str).collect();
    let hold = lab
        .hold_start(&format!("{VIP4}:9000"), HELD, &sources, 10.0)
        .unwrap_or_else(|e| panic!("{tag}: held connections: {e}\n{}", d.xvs.log()));
    let client = ClientLoop::every(
        lab,
        &url(VIP4, 80),
        Duration::from_secs_f64(BEFORE_SECS + FLOOD_SECS + AFTER_SECS),
        CLIENT_EVERY,
    );
    std::thread::sleep(Duration::from_secs_f64(BEFORE_SECS));
    let flood_start = unix_now();
    let syns = if keys.is_empty() {
        FLOOD_SYNS
    } else {
        PERSISTENT_FLOOD_SYNS
    };
    let out = syn_flood(lab, syns, FLOOD_SECS, FLOOD_SOURCES)
        .unwrap_or_else(|e| panic!("{tag}: lab-synflood.py: {e}"));
    let flood = String::from_utf8_lossy(&out.stdout).into_owned();
    let samples: Vec<Sample> = client.finish();
    let held = hold
        .finish()
        .unwrap_or_else(|e| panic!("{tag}: held connections' report: {e}"));
    let metrics = xvs_e2e::support::ask(&d.sock, "metrics").unwrap_or_default();
    let during_and_after: Vec<&Sample> = samples.iter().filter(|s| s.t >= flood_start).collect();
    let answered = during_and_after
        .iter()
        .filter(|s| s.error.is_none() && s.server.is_some())
        .count();
    let outcome = Outcome {
        answered,
        total: during_and_after.len(),
        held,
        metrics,
        flood,
    };
    let failures: Vec<String> = during_and_after
        .iter()
        .filter_map(|s| {
            s.error
                .as_ref()
                .map(|e| format!("{:.2}: {e}", s.t - flood_start))
        })
        .take(10)
        .collect();
    if !failures.is_empty() {
        report(&format!(
            "{tag}: first failures (s after the flood began): {failures:?}"
        ));
    }
    let _ = d.xvs.stop();
    outcome
}

#[test]
fn a_syn_flood_does_not_lock_out_clients_or_cut_established_connections() {
    let Some(lab) = flood_lab(Method::Nat) else {
        return;
    };

    let on = run_flood(&lab, "nat", "defended", "{}", "");
    report(&on.line("defences on"));
    let off = run_flood(
        &lab,
        "nat",
        "undefended",
        "{ evict: false, short_timeouts: false }",
        "",
    );
    report(&off.line("defences off"));

    // The flood reached the director: without the defences it filled the
    // table and SYNs were refused.
    assert!(
        off.counter("xvs_dropped_packets_total", &["reason=\"conn_table_full\""]) > 0,
        "the flood never filled the table: {}",
        off.line("defences off")
    );
    // With them: every client connection got through, none of the held
    // ones was cut, and the evictions that made room were counted.
    on.assert_unharmed("defences on", "embryonic");
}

/// DR (and TUN) cannot use the SYN proxy: the real servers' replies
/// bypass the director, which could not translate them (`xvs check`
/// refuses `synproxy: true` there). What protects such a service is the
/// table's defences on the director and the real servers' own SYN
/// cookies; the same flood against a DR service shows the clients keep
/// connecting.
#[test]
fn a_syn_flood_against_dr_is_met_by_the_table_defences() {
    let Some(lab) = flood_lab(Method::Dr) else {
        return;
    };
    let on = run_flood(&lab, "dr", "dr-defended", "{}", "");
    report(&on.line("DR, defences on"));
    on.assert_unharmed("DR, defences on", "embryonic");
}

/// A persistent service: each spoofed source leaves a template behind its
/// half-open entry, and templates outlive their connections by the
/// persistence timeout (300 s), so evicting half-open entries alone would
/// leave a table of orphaned templates ([`PERSISTENT_CAPACITY`]).
/// Templates that control nothing give way too; the real client's and the
/// held connections' templates, which control live connections, stay.
#[test]
fn a_syn_flood_against_a_persistent_service_does_not_fill_the_table_with_templates() {
    let Some(lab) = flood_lab(Method::Nat) else {
        return;
    };
    let on = run_flood(&lab, "nat", "persistent", "{}", PERSISTENT);
    report(&on.line("persistent NAT, defences on"));
    on.assert_unharmed("persistent NAT, defences on", "template");
}
