//! Connection sync end to end: two xvs directors under VRRP, long-lived
//! TCP connections through NAT, FullNAT and DR (sh over ten client
//! addresses, so the real server matters; `sloppy_tcp` off, so a backup
//! cannot adopt mid-stream flows on its own), the master killed with
//! SIGKILL, then started again: it asks the new master for a bulk
//! transfer, holds preemption until it arrived, and takes the VIPs back.
//! Every connection must carry on across both failovers (a chatty third,
//! an idle third that speaks only at the end, a third streaming from the
//! server), counted per method by scripts/lab-hold.py.
//!
//! Also: datagrams from a host that is not a peer, or with another SyncID,
//! are dropped and counted, and install nothing.

use std::time::{Duration, Instant};

use xvs_e2e::support::{
    ask, launch, metric_in, metrics, sync_counter, wait_installed, wait_until, Director,
};
use xvs_e2e::vrrp_support::{node_addrs, serial, wait_state};
use xvs_lab::{HoldReport, Lab, LabSpec, Method};

const BOTH: [&str; 2] = ["VI_OUT", "VI_IN"];
/// One VIP per method, all on port 9000 (lab-backend.py's hold service).
const METHODS: [(&str, &str); 3] = [
    ("nat", "198.18.0.100"),
    ("fullnat", "198.18.0.101"),
    ("dr", "198.18.0.102"),
];
const LOCAL4: &str = "198.18.1.200";
/// Connections per method and phase.
const PER_METHOD: usize = 200;

/// A DR-ready pair lab (the VIPs on the real servers' loopback, which
/// NAT and FullNAT do not mind) with three VIPs; None, loudly, when not
/// root.
fn sync_lab(test: &str) -> Option<(std::sync::MutexGuard<'static, ()>, Lab)> {
    if !xvs_lab::require_root(test) {
        return None;
    }
    let guard = serial();
    let spec = LabSpec {
        directors: 2,
        vips4: METHODS.iter().map(|(_, v)| v.parse().unwrap()).collect(),
        local4: vec![LOCAL4.parse().unwrap()],
        ..LabSpec::new(Method::Dr)
    };
    Some((guard, Lab::build(spec).expect("pair lab builds")))
}

/// Director `index` (1 or 2) of the pair: a service per method, VRRP
/// for the VIPs (client side) and for the gateway and local address
/// (server side), sync with the other director over the server side.
fn yaml(lab: &Lab, index: usize, priority: u8, sync_extra: &str) -> String {
    let (c, r) = lab.director_ifaces();
    let (ca, ra) = node_addrs(index);
    let other = node_addrs(if index == 1 { 2 } else { 1 }).1;
    let mut y = format!(
        "global:\n  workers: [0]\n  idle: adaptive\n  conn_capacity: 65536\n  umem_frames: 4096\n  ring_size: 1024\n\
         interfaces:\n  - name: {c}\n    addresses: [{ca}/24]\n    queues: [0]\n  - name: {r}\n    addresses: [{ra}/24]\n    queues: [0]\n\
         local_pools:\n  - name: lip\n    addresses: [{LOCAL4}]\n    ports: 1024-65535\n\
         services:\n"
    );
    for (method, vip) in METHODS {
        y.push_str(&format!(
            "  - name: {method}\n    vip: {vip}\n    port: 9000\n    protocol: tcp\n    scheduler: sh\n    method: {method}\n"
        ));
        if method == "fullnat" {
            y.push_str("    local_pool: lip\n");
        }
        y.push_str("    real_servers:\n");
        for rs in 11..=13 {
            y.push_str(&format!("      - {{address: 198.18.1.{rs}, port: 9000}}\n"));
        }
    }
    let vips: Vec<String> = METHODS.iter().map(|(_, v)| format!("{v}/24")).collect();
    y.push_str(&format!(
        "vrrp:\n  - name: VI_OUT\n    interface: {c}\n    vrid: 51\n    priority: {priority}\n    version: 3\n    advert_interval: 0.1\n    virtual_addresses: [{}]\n\
         \x20 - name: VI_IN\n    interface: {r}\n    vrid: 52\n    priority: {priority}\n    version: 3\n    advert_interval: 0.1\n    virtual_addresses: [198.18.1.1/24, {LOCAL4}/24]\n\
         vrrp_sync_groups:\n  - name: PAIR\n    members: [VI_OUT, VI_IN]\n\
         sync:\n  interface: {r}\n  peers: [{other}]\n  sync_id: 7\n{sync_extra}",
        vips.join(", ")
    ));
    y
}

fn start(lab: &Lab, index: usize, priority: u8) -> Director {
    launch(
        lab,
        &lab.ns_director_n(index),
        &format!("xvs{index}"),
        &yaml(lab, index, priority, ""),
    )
}

/// Wait until backup `d` asked for the master's table and received it
/// whole.
fn wait_bulk_done(d: &Director) {
    wait_until(
        10,
        "the backup's bulk transfer completes",
        || metric_in(&metrics(d), "xvs_sync_bulk_state", &[]) == 2,
        || format!("{}\n{}", metrics(d), d.xvs.log()),
    );
}

/// The ten extra client addresses (198.18.0.11-20): sh spreads them.
fn sources() -> Vec<String> {
    xvs_lab::CLIENT4_EXTRA
        .map(|h| format!("198.18.0.{h}"))
        .collect()
}

/// Open PER_METHOD held connections to every method's VIP.
fn open_all(lab: &Lab) -> Vec<(&'static str, xvs_lab::Hold)> {
    let src = sources();
    let src: Vec<&str> = src.iter().map(String::as_str).collect();
    METHODS
        .iter()
        .map(|&(method, vip)| {
            let hold = lab
                .hold_start(&format!("{vip}:9000"), PER_METHOD, &src, 10.0)
                .unwrap_or_else(|e| panic!("{method}: {e}"));
            (method, hold)
        })
        .collect()
}

fn finish_all(holds: Vec<(&'static str, xvs_lab::Hold)>) -> Vec<(&'static str, HoldReport)> {
    holds
        .into_iter()
        .map(|(m, h)| (m, h.finish().unwrap_or_else(|e| panic!("{m}: {e}"))))
        .collect()
}

#[test]
fn established_connections_survive_kill_and_preempt_back() {
    let Some((_serial, lab)) = sync_lab("established_connections_survive_kill_and_preempt_back")
    else {
        return;
    };
    let mut d1 = start(&lab, 1, 150);
    wait_state(&d1, &BOTH, "master", 15);
    let d2 = start(&lab, 2, 100);
    wait_state(&d2, &BOTH, "backup", 10);
    // The backup asked for the master's table before anything else.
    wait_bulk_done(&d2);

    // Phase 1: connections opened on director 1, synced to director 2.
    let first = open_all(&lab);
    let want = (3 * PER_METHOD) as u64;
    wait_installed(
        &d2,
        want,
        "the backup installed every established connection",
    );
    std::thread::sleep(Duration::from_secs(1));
    d1.xvs.signal("KILL").unwrap();
    let killed = Instant::now();
    wait_state(&d2, &BOTH, "master", 10);
    eprintln!("takeover after {:?}", killed.elapsed());
    std::thread::sleep(Duration::from_secs(3));

    // Phase 2: new connections on director 2, which director 1 has never
    // seen; then director 1 returns.
    let second = open_all(&lab);
    let _ = d1.xvs.wait_timeout(Duration::from_secs(2));
    let d1 = start(&lab, 1, 150);
    wait_state(&d1, &BOTH, "master", 20);
    wait_state(&d2, &BOTH, "backup", 10);
    // (Metrics are recorded once a second.)
    wait_until(
        5,
        "the returning master preempted after its bulk transfer",
        || {
            let m = metrics(&d1);
            metric_in(&m, "xvs_sync_bulk_state", &[]) == 2
                && metric_in(&m, "xvs_sync_total", &["counter=\"installed\""]) >= 2 * want
        },
        || metrics(&d1),
    );
    let status: serde_json::Value =
        serde_json::from_str(&ask(&d1.sock, "status json").unwrap()).unwrap();
    assert_eq!(status["sync"]["bulk"], "done", "{status}");
    assert_eq!(status["sync"]["preemption_held"], false, "{status}");
    assert!(
        status["sync"]["counters"]["installed"].as_u64() >= Some(2 * want),
        "{status}"
    );
    assert!(
        d1.xvs.log().contains("preemption held") && d1.xvs.log().contains("preemption released"),
        "{}",
        d1.xvs.log()
    );
    std::thread::sleep(Duration::from_secs(3));

    let mut failed = Vec::new();
    for (phase, reports) in [
        ("opened before the kill (both failovers)", finish_all(first)),
        (
            "opened after the takeover (preempt-back)",
            finish_all(second),
        ),
    ] {
        for (method, r) in reports {
            eprintln!(
                "{method:8} {phase}: {}/{} continued ({:.1} %) {}",
                r.continued,
                r.opened,
                100.0 * r.continued as f64 / r.opened.max(1) as f64,
                r.summary()
            );
            if r.opened != PER_METHOD || r.continued != r.opened {
                failed.push(format!("{method} {phase}: {}", r.summary()));
            }
            assert!(
                r.by_server.len() > 1,
                "{method}: sh over ten sources reaches several real servers: {:?}",
                r.by_server
            );
        }
    }
    assert!(
        failed.is_empty(),
        "every connection continues:\n{}\n{}\n{}",
        failed.join("\n"),
        metrics(&d1),
        metrics(&d2)
    );
}

#[test]
fn datagrams_from_strangers_or_another_sync_id_are_dropped_and_counted() {
    let Some((_serial, lab)) =
        sync_lab("datagrams_from_strangers_or_another_sync_id_are_dropped_and_counted")
    else {
        return;
    };
    let d2 = start(&lab, 2, 100);
    wait_state(&d2, &BOTH, "master", 15);
    let (_, r2) = node_addrs(2);
    // A well-formed v1 datagram with one NAT entry for a configured
    // service, sent from a real server (not a peer), and with SyncID 9 from
    // the peer's address (added to the real server for the test).
    let script = xvs_lab::scripts_dir().join("lab-sync-send.py");
    let rs = lab.ns_rs(1);
    let send = |args: &[&str]| {
        let mut full = vec!["python3", script.to_str().unwrap()];
        full.extend_from_slice(args);
        let out = lab.exec(&rs, &full).expect("run lab-sync-send.py");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    send(&["--to", &r2, "--sync-id", "7"]);
    wait_until(
        5,
        "a stranger's datagram is counted",
        || sync_counter(&d2, "dropped_not_peer") >= 1,
        || metrics(&d2),
    );
    let peer = node_addrs(1).1;
    lab.exec(
        &rs,
        &["ip", "addr", "add", &format!("{peer}/32"), "dev", "eth0"],
    )
    .unwrap();
    send(&["--to", &r2, "--from", &peer, "--sync-id", "9"]);
    send(&["--to", &r2, "--from", &peer, "--truncate"]);
    wait_until(
        5,
        "another SyncID and a truncated datagram are counted",
        || sync_counter(&d2, "dropped_sync_id") >= 1 && sync_counter(&d2, "dropped_size") >= 1,
        || metrics(&d2),
    );
    // From the peer with the right SyncID the entry is valid, but this
    // director is master of the VIP: not installed either.
    send(&["--to", &r2, "--from", &peer, "--sync-id", "7"]);
    wait_until(
        5,
        "an entry for a VIP served here is refused",
        || sync_counter(&d2, "dropped_vip_served_here") >= 1,
        || metrics(&d2),
    );
    assert_eq!(sync_counter(&d2, "installed"), 0, "{}", metrics(&d2));
    assert!(ask(&d2.sock, "list").is_some(), "still running");
}

/// Active/active: director 1 is master of group A (FullNAT VIP
/// 198.18.0.101, local address .200) and backup of group B (FullNAT VIP
/// 198.18.0.100, local address .201); director 2 the other way round.
fn yaml_active_active(lab: &Lab, index: usize) -> String {
    let (c, r) = lab.director_ifaces();
    let (ca, ra) = node_addrs(index);
    let other = node_addrs(if index == 1 { 2 } else { 1 }).1;
    let (pa, pb) = if index == 1 { (150, 100) } else { (100, 150) };
    let mut y = format!(
        "global:\n  workers: [0]\n  idle: adaptive\n  conn_capacity: 65536\n  umem_frames: 4096\n  ring_size: 1024\n\
         interfaces:\n  - name: {c}\n    addresses: [{ca}/24]\n    queues: [0]\n  - name: {r}\n    addresses: [{ra}/24]\n    queues: [0]\n\
         local_pools:\n  - name: lip_a\n    addresses: [198.18.1.200]\n    ports: 1024-65535\n  - name: lip_b\n    addresses: [198.18.1.201]\n    ports: 1024-65535\n\
         services:\n"
    );
    for (name, vip, pool) in [
        ("a", "198.18.0.101", "lip_a"),
        ("b", "198.18.0.100", "lip_b"),
    ] {
        y.push_str(&format!(
            "  - name: {name}\n    vip: {vip}\n    port: 9000\n    protocol: tcp\n    scheduler: sh\n    method: fullnat\n    local_pool: {pool}\n    real_servers:\n"
        ));
        for rs in 11..=13 {
            y.push_str(&format!("      - {{address: 198.18.1.{rs}, port: 9000}}\n"));
        }
    }
    y.push_str("vrrp:\n");
    for (name, iface, vrid, prio, addrs) in [
        ("A_OUT", &c, 51, pa, "198.18.0.101/24"),
        ("A_IN", &r, 52, pa, "198.18.1.200/24, 198.18.1.1/24"),
        ("B_OUT", &c, 53, pb, "198.18.0.100/24"),
        ("B_IN", &r, 54, pb, "198.18.1.201/24"),
    ] {
        y.push_str(&format!(
            "  - name: {name}\n    interface: {iface}\n    vrid: {vrid}\n    priority: {prio}\n    version: 3\n    advert_interval: 0.1\n    virtual_addresses: [{addrs}]\n"
        ));
    }
    y.push_str(&format!(
        "vrrp_sync_groups:\n  - {{name: A, members: [A_OUT, A_IN]}}\n  - {{name: B, members: [B_OUT, B_IN]}}\n\
         sync:\n  interface: {r}\n  peers: [{other}]\n"
    ));
    y
}

#[test]
fn active_active_syncs_both_ways_at_once() {
    if !xvs_lab::require_root("active_active_syncs_both_ways_at_once") {
        return;
    }
    let _serial = serial();
    let spec = LabSpec {
        directors: 2,
        vips4: vec![
            "198.18.0.100".parse().unwrap(),
            "198.18.0.101".parse().unwrap(),
        ],
        local4: vec![
            "198.18.1.200".parse().unwrap(),
            "198.18.1.201".parse().unwrap(),
        ],
        ..LabSpec::new(Method::FullNat)
    };
    let lab = Lab::build(spec).expect("pair lab builds");
    let launch_n = |i: usize| {
        launch(
            &lab,
            &lab.ns_director_n(i),
            &format!("xvs{i}"),
            &yaml_active_active(&lab, i),
        )
    };
    let (a, b) = (["A_OUT", "A_IN"], ["B_OUT", "B_IN"]);
    let mut d1 = launch_n(1);
    let mut d2 = launch_n(2);
    wait_state(&d1, &a, "master", 15);
    wait_state(&d2, &b, "master", 15);
    wait_state(&d1, &b, "backup", 10);
    wait_state(&d2, &a, "backup", 10);

    let src = sources();
    let src: Vec<&str> = src.iter().map(String::as_str).collect();
    let n = 100;
    let hold_a = lab.hold_start("198.18.0.101:9000", n, &src, 10.0).unwrap();
    let hold_b = lab.hold_start("198.18.0.100:9000", n, &src, 10.0).unwrap();
    // Each director is master of one group and receives the other's.
    for (d, what) in [
        (&d1, "B's connections from director 2"),
        (&d2, "A's from director 1"),
    ] {
        wait_installed(d, n as u64, &format!("installed {what}"));
    }

    // Director 1 dies: director 2 serves both groups.
    d1.xvs.signal("KILL").unwrap();
    wait_state(&d2, &a, "master", 10);
    std::thread::sleep(Duration::from_secs(2));
    // It returns, gets director 2's table, takes group A back.
    let _ = d1.xvs.wait_timeout(Duration::from_secs(2));
    d1 = launch_n(1);
    wait_state(&d1, &a, "master", 20);
    wait_state(&d2, &a, "backup", 10);
    std::thread::sleep(Duration::from_secs(2));
    // Director 2 dies: director 1 takes group B with what it synced.
    d2.xvs.signal("KILL").unwrap();
    wait_state(&d1, &b, "master", 10);
    std::thread::sleep(Duration::from_secs(2));

    let mut bad = Vec::new();
    for (group, h) in [("A", hold_a), ("B", hold_b)] {
        let r = h.finish().unwrap();
        eprintln!("group {group}: {}", r.summary());
        if r.opened != n || r.continued != n {
            bad.push(format!("group {group}: {}", r.summary()));
        }
    }
    let _ = d2.xvs.wait_timeout(Duration::from_secs(2));
    assert!(
        bad.is_empty(),
        "every connection continues through both failovers:\n{}\n{}",
        bad.join("\n"),
        metrics(&d1)
    );
}

#[test]
fn multicast_sync_keeps_connections_through_a_kill() {
    let Some((_serial, lab)) = sync_lab("multicast_sync_keeps_connections_through_a_kill") else {
        return;
    };
    let start_mc = |index: usize, priority: u8| {
        launch(
            &lab,
            &lab.ns_director_n(index),
            &format!("xvs{index}"),
            &yaml(&lab, index, priority, "  group: 224.0.0.81\n"),
        )
    };
    let mut d1 = start_mc(1, 150);
    wait_state(&d1, &BOTH, "master", 15);
    let d2 = start_mc(2, 100);
    wait_state(&d2, &BOTH, "backup", 10);
    let src = sources();
    let src: Vec<&str> = src.iter().map(String::as_str).collect();
    let n = 50;
    let holds: Vec<_> = METHODS
        .iter()
        .map(|&(m, vip)| {
            (
                m,
                lab.hold_start(&format!("{vip}:9000"), n, &src, 10.0)
                    .unwrap(),
            )
        })
        .collect();
    wait_installed(
        &d2,
        (3 * n) as u64,
        "the backup installed what the master multicast",
    );
    d1.xvs.signal("KILL").unwrap();
    wait_state(&d2, &BOTH, "master", 10);
    std::thread::sleep(Duration::from_secs(2));
    let mut bad = Vec::new();
    for (m, r) in finish_all(holds) {
        eprintln!("{m} (multicast): {}", r.summary());
        if r.opened != n || r.continued != n {
            bad.push(format!("{m}: {}", r.summary()));
        }
    }
    let _ = d1.xvs.wait_timeout(Duration::from_secs(2));
    assert!(bad.is_empty(), "{}\n{}", bad.join("\n"), metrics(&d2));
}

/// SYN-proxied NAT and FullNAT connections survive a failover: the
/// backup receives each one's sequence translation with the entry (xvs
/// sync option 0x46) and translates every later segment as the master
/// did. Without it the backup would forward the client's acknowledgments
/// in the proxy's sequence space, and each connection would stall.
#[test]
fn proxied_connections_survive_a_failover() {
    let Some((_serial, lab)) = sync_lab("proxied_connections_survive_a_failover") else {
        return;
    };
    let proxied = |index, priority| {
        let y = yaml(&lab, index, priority, "")
            .replace(
                "  workers: [0]\n",
                "  workers: [0]\n  synproxy_key: 6a1f0c9e3b7d24588e0f1a2b3c4d5e6f\n",
            )
            .replace("    method: nat\n", "    method: nat\n    synproxy: true\n")
            .replace(
                "    method: fullnat\n",
                "    method: fullnat\n    synproxy: true\n",
            );
        launch(&lab, &lab.ns_director_n(index), &format!("xvs{index}"), &y)
    };
    let d1 = proxied(1, 150);
    wait_state(&d1, &BOTH, "master", 15);
    let d2 = proxied(2, 100);
    wait_state(&d2, &BOTH, "backup", 10);
    wait_bulk_done(&d2);

    let holds = open_all(&lab);
    let want = (3 * PER_METHOD) as u64;
    wait_installed(
        &d2,
        want,
        "the backup installed every established connection",
    );
    let m1 = metrics(&d1);
    let cookies = metric_in(&m1, "xvs_synproxy_syn_acks_total", &[]);
    assert!(
        cookies >= (2 * PER_METHOD) as u64,
        "the NAT and FullNAT connections were opened by the proxy: {cookies} cookie SYN-ACKs"
    );
    std::thread::sleep(Duration::from_secs(1));
    d1.xvs.signal("KILL").unwrap();
    wait_state(&d2, &BOTH, "master", 10);
    std::thread::sleep(Duration::from_secs(3));

    let m2 = metrics(&d2);
    let mut failed = Vec::new();
    for (method, r) in finish_all(holds) {
        eprintln!(
            "{method:8} proxied, across the failover: {}/{} continued {}",
            r.continued,
            r.opened,
            r.summary()
        );
        if r.opened != PER_METHOD || r.continued != r.opened {
            failed.push(format!("{method}: {}", r.summary()));
        }
    }
    assert_eq!(sync_counter(&d2, "install_failed_no_synproxy"), 0, "{m2}");
    assert!(
        failed.is_empty(),
        "every proxied connection continues on the backup:\n{}\n{m2}",
        failed.join("\n")
    );
}
