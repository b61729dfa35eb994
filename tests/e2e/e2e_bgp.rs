//! Several directors behind an ECMP router, each announcing the VIP over
//! BGP through a real BIRD 2 (config/bird-director.conf as shipped) from
//! the routes xvs keeps on its route device (the `announce:` section).
//! The router (BIRD, `merge paths on`, 5-tuple multipath hashing) spreads
//! flows over the directors it has a route through; the real servers
//! answer the client directly (DR), and the directors pick real servers
//! with Maglev hashing and sloppy TCP, so a flow the router moves to
//! another director keeps its real server.
//!
//! Run: `cargo build -p xvs && cargo test -p xvs-e2e --test e2e_bgp`
//! (root and /usr/sbin/bird, or it skips loudly).

use std::collections::BTreeSet;
use std::time::Duration;

use xvs_e2e::bgp_support::{ecmp_lab, Ecmp, BGP_VIP};
use xvs_e2e::support::{ask, metric_in, wait_until};

/// Long-lived connections to the hold service through the router, from
/// the client's extra addresses.
fn hold(e: &Ecmp, n: usize) -> xvs_lab::Hold {
    let src: Vec<String> = e
        .lab
        .client_extra4()
        .iter()
        .map(ToString::to_string)
        .collect();
    let src: Vec<&str> = src.iter().map(String::as_str).collect();
    e.lab
        .hold_start(&format!("{BGP_VIP}:9000"), n, &src, 10.0)
        .expect("hold connections open")
}

/// The `announce` part of `xvs status --json`.
fn announce_status(sock: &std::path::Path) -> serde_json::Value {
    let text = ask(sock, "status json").expect("xvs answers status");
    let v: serde_json::Value = serde_json::from_str(&text).expect("status is JSON");
    v["announce"].clone()
}

fn all_three(e: &Ecmp) -> BTreeSet<String> {
    e.hops_without(None)
}

#[test]
fn flows_spread_and_a_killed_director_is_withdrawn() {
    let Some((_serial, e)) = ecmp_lab("flows_spread_and_a_killed_director_is_withdrawn") else {
        return;
    };
    // BFD runs between the router's BIRD and each director's (it may
    // come up a moment after BGP), one session per family: six.
    wait_until(
        30,
        "BFD up between the router and all three directors",
        || {
            e.router
                .ctl(&e.lab, &["show", "bfd", "s"])
                .matches(" Up ")
                .count()
                == 6
        },
        || e.router.ctl(&e.lab, &["show", "bfd", "s"]),
    );

    // New flows spread over all three directors.
    let before: Vec<u64> = (1..=3).map(|i| e.connections(i)).collect();
    assert_eq!(e.failed_requests(90), 0, "{}", e.diagnostics());
    let taken: Vec<u64> = (1..=3).map(|i| e.connections(i) - before[i - 1]).collect();
    assert!(
        taken.iter().all(|&n| n > 0),
        "new connections per director: {taken:?}"
    );

    // Long-lived connections through every director, then director 3's
    // xvs is killed: nothing it could run withdraws the VIP, the kernel
    // removing its route device does.
    let held_before = e.connections(3);
    let h = hold(&e, 60);
    // Some of them go through director 3 (its counters are exported once
    // a second).
    wait_until(
        10,
        "director 3 carries held connections",
        || e.connections(3) > held_before,
        || e.diagnostics(),
    );
    e.directors[2].xvs.xvs.signal("KILL").unwrap();
    e.wait_next_hops(
        &e.hops_without(Some(3)),
        30,
        "the router withdrew director 3's route after kill -9",
    );
    // Its BIRD still runs and its BGP peering is up: the withdrawal came
    // from the route, not from the peering going down.
    let p = e.directors[2]
        .bird
        .ctl(&e.lab, &["show", "protocols", "router1"]);
    assert!(p.contains("Established"), "director 3's BGP peering:\n{p}");
    // No new connection fails once the route is gone.
    assert_eq!(e.failed_requests(60), 0, "{}", e.diagnostics());
    // Connections through directors 1 and 2 went on untouched; those the
    // router moved off director 3 reached a director that picked the same
    // real server (Maglev) and took them mid-flow (sloppy TCP).
    let report = h.finish().expect("hold report");
    assert_eq!(report.opened, 60);
    assert_eq!(
        report.continued,
        report.opened,
        "every held connection goes on with its real server: {}",
        report.summary()
    );

    // A director that dies whole (its link, here) is noticed by BFD: the
    // router's peering with it goes down for that reason, well before the
    // 9 s hold time would say so.
    let (c, _) = e.lab.director_ifaces();
    e.lab
        .exec(&e.lab.ns_director_n(2), &["ip", "link", "set", &c, "down"])
        .unwrap();
    let only_one: BTreeSet<String> = [e.directors[0].addr.clone()].into();
    e.wait_next_hops(&only_one, 30, "the router dropped director 2");
    let p = e.router.ctl(&e.lab, &["show", "protocols", "all", "dir2"]);
    assert!(
        p.lines()
            .any(|l| l.contains("Last error") && l.contains("BFD")),
        "router's peering with director 2:\n{p}"
    );
    assert_eq!(e.failed_requests(30), 0, "{}", e.diagnostics());
}

#[test]
fn a_drained_director_takes_no_new_flows_and_stop_withdraws_first() {
    let Some((_serial, e)) =
        ecmp_lab("a_drained_director_takes_no_new_flows_and_stop_withdraws_first")
    else {
        return;
    };
    let h = hold(&e, 30);
    let answer = e.xvs_cmd(2, "drain");
    assert!(answer.contains("drained"), "{answer}");
    e.wait_next_hops(
        &e.hops_without(Some(2)),
        30,
        "the router withdrew the drained director",
    );
    let sock = &e.directors[1].xvs.sock;
    let m = ask(sock, "metrics").unwrap();
    assert_eq!(metric_in(&m, "xvs_drained", &[]), 1, "{m}");
    let status = announce_status(sock);
    assert_eq!(status["drained"], true, "{status}");
    assert_eq!(status["vips"][0]["withheld"], "drained", "{status}");
    let before = e.connections(2);
    assert_eq!(e.failed_requests(60), 0, "{}", e.diagnostics());
    assert_eq!(
        e.connections(2),
        before,
        "a drained director takes no new flow"
    );
    // Its established flows finish: the router moved them, they keep their
    // real server.
    let report = h.finish().expect("hold report");
    assert_eq!(report.continued, report.opened, "{}", report.summary());

    let answer = e.xvs_cmd(2, "undrain");
    assert!(answer.contains("undrained"), "{answer}");
    e.wait_next_hops(&all_three(&e), 30, "undrain announced the VIP again");
    let m = ask(sock, "metrics").unwrap();
    assert_eq!(metric_in(&m, "xvs_announced", &[BGP_VIP]), 1, "{m}");

    // SIGTERM: withdraw first, forward for the drain time, then exit.
    let mut e = e;
    e.directors[0].xvs.xvs.signal("TERM").unwrap();
    e.wait_next_hops(&e.hops_without(Some(1)), 30, "stop withdrew director 1");
    let status = e.directors[0]
        .xvs
        .xvs
        .wait_timeout(Duration::from_secs(20))
        .unwrap()
        .expect("xvs exits after its drain time");
    assert!(status.success(), "{status}");
    let log = e.directors[0].xvs.xvs.log();
    let at = |what: &str| {
        log.find(what)
            .unwrap_or_else(|| panic!("no {what:?} in the log:\n{log}"))
    };
    assert!(
        at("withdrew 198.18.3.100") < at("drain time over")
            && at("drain time over") < at("stopped"),
        "{log}"
    );
}

#[test]
fn a_director_whose_real_servers_all_fail_their_checks_withdraws() {
    let Some((_serial, e)) =
        ecmp_lab("a_director_whose_real_servers_all_fail_their_checks_withdraws")
    else {
        return;
    };
    // Director 3 alone loses sight of every real server: its kernel (the
    // health checks') drops what goes to them; forwarding is unaffected,
    // but its quorum is lost, so it must not attract flows.
    let ns = e.lab.ns_director_n(3);
    for k in 1..=e.lab.spec().real_servers {
        let rs = format!("{}/32", e.lab.rs_addr4(k));
        e.lab
            .exec(&ns, &["ip", "route", "add", "blackhole", &rs])
            .unwrap();
    }
    e.wait_next_hops(
        &e.hops_without(Some(3)),
        30,
        "the director without live real servers withdrew",
    );
    let status = announce_status(&e.directors[2].xvs.sock);
    assert_eq!(status["vips"][0]["withheld"], "no_quorum", "{status}");
    assert_eq!(e.failed_requests(60), 0, "{}", e.diagnostics());
    for k in 1..=e.lab.spec().real_servers {
        let rs = format!("{}/32", e.lab.rs_addr4(k));
        e.lab
            .exec(&ns, &["ip", "route", "del", "blackhole", &rs])
            .unwrap();
    }
    e.wait_next_hops(
        &all_three(&e),
        30,
        "its real servers back, it announces again",
    );
    wait_until(
        10,
        "status says announced",
        || announce_status(&e.directors[2].xvs.sock)["vips"][0]["announced"] == true,
        || e.diagnostics(),
    );
}
