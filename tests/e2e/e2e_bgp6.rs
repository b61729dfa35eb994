//! An IPv6 VIP announced over BGP by the directors' BIRD
//! (config/bird-director.conf as shipped: its IPv6 kernel protocol learns
//! the IPv6 table 100, its IPv6 session carries the route) to the ECMP
//! router, which installs one multipath IPv6 route through all three
//! directors; and withdrawn when a director's xvs is killed, by the
//! kernel removing its route device.
//!
//! Run: `cargo build -p xvs && cargo test -p xvs-e2e --test e2e_bgp6`
//! (root and /usr/sbin/bird, or it skips loudly).

use std::collections::BTreeSet;

use xvs_e2e::bgp_support::{ecmp_lab, BGP_VIP6};
use xvs_e2e::support::{ask, metric_in, url, wait_until};

#[test]
fn an_ipv6_vip_is_announced_through_every_director_and_withdrawn_on_kill() {
    let Some((_serial, e)) =
        ecmp_lab("an_ipv6_vip_is_announced_through_every_director_and_withdrawn_on_kill")
    else {
        return;
    };
    let all6: BTreeSet<String> = e.directors.iter().map(|d| d.addr6.clone()).collect();
    e.wait_next_hops6(
        &all6,
        60,
        "the router learnt the IPv6 VIP from all three directors",
    );
    // The route is xvs's, on its route device, in the IPv6 table 100.
    let r = e
        .lab
        .exec(
            &e.lab.ns_director_n(1),
            &["ip", "-6", "route", "show", "table", "100"],
        )
        .unwrap();
    let r = String::from_utf8_lossy(&r.stdout);
    assert!(
        r.contains(BGP_VIP6) && r.contains("dev xvs-bgp") && r.contains("proto 210"),
        "director 1's IPv6 table 100:\n{r}"
    );

    // Connections to the IPv6 VIP go through the router and the directors.
    // The service's label is ipvsadm's `TCP [VIP]:80`.
    let label = format!("[{BGP_VIP6}]:80");
    let forwarded = |i: usize| -> u64 {
        ask(&e.directors[i - 1].xvs.sock, "metrics")
            .map(|m| metric_in(&m, "xvs_service_connections_total", &[&label]))
            .unwrap_or(0)
    };
    let before: Vec<u64> = (1..=3).map(forwarded).collect();
    let mut opts = e
        .lab
        .client_options(xvs_lab::Target::Http(url(BGP_VIP6, 80)), 60);
    opts.concurrency = 4;
    let report = e.lab.run_client(&opts).expect("client runs");
    assert_eq!(report.failed, 0, "{}", e.diagnostics());
    wait_until(
        10,
        "the directors counted the IPv6 connections",
        || (1..=3).map(forwarded).sum::<u64>() - before.iter().sum::<u64>() >= 60,
        || e.diagnostics(),
    );
    // ... spread over all three by the router's multipath route.
    let taken: Vec<u64> = (1..=3).map(|i| forwarded(i) - before[i - 1]).collect();
    assert!(
        taken.iter().all(|&n| n > 0),
        "IPv6 connections per director: {taken:?}"
    );

    // kill -9 of director 3's xvs: its IPv6 route goes with its route
    // device, its BIRD withdraws, the router drops it as a next hop.
    e.directors[2].xvs.xvs.signal("KILL").unwrap();
    let two6: BTreeSet<String> = e.directors[..2].iter().map(|d| d.addr6.clone()).collect();
    e.wait_next_hops6(
        &two6,
        30,
        "the router withdrew director 3's IPv6 route after kill -9",
    );
    // Its BIRD and its IPv6 peering live on: the route did it.
    let p = e.directors[2]
        .bird
        .ctl(&e.lab, &["show", "protocols", "router1_6"]);
    assert!(p.contains("Established"), "director 3's IPv6 peering:\n{p}");
    let report = e.lab.run_client(&opts).expect("client runs");
    assert_eq!(report.failed, 0, "{}", e.diagnostics());
}
