//! End to end, every forwarding method: a real client in its namespace
//! sends real HTTP requests (TCP, many concurrent connections) and UDP
//! datagrams to the VIP, IPv4 and IPv6; a real `xvs run` forwards them on
//! AF_XDP sockets; real servers answer with their name. Round robin must
//! spread them exactly evenly.

use xvs_e2e::support::*;
use xvs_lab::Method;

fn exercise(r: &Running, label: &str) {
    let even = [("rs1", 20), ("rs2", 20), ("rs3", 20)];
    for vip in [VIP4, VIP6] {
        if vip == VIP6 {
            // Every IPv4 flow above, new or established, was handled by
            // the worker's fast path (IPv6 has none): at least the first
            // packet of each of the 60 TCP and 60 UDP flows.
            let fast = metric(r, "xvs_fast_path_packets_total", &[]);
            assert!(fast >= 120, "{label}: {fast} frames took the fast path");
        }
        let http = r.lab.http_requests(&url(vip, 80), 60, 10, None).unwrap();
        assert_spread(&format!("{label} HTTP to {vip}"), &http, &even, r);
        let dns = r.lab.udp_requests(udp(vip, 53), 60, None).unwrap();
        assert_spread(&format!("{label} UDP to {vip}"), &dns, &even, r);
    }
    // The counters saw it: 2 × 60 connections per protocol, and for the
    // methods that see replies, packets out.
    let conns = metric(r, "xvs_service_connections_total", &[]);
    assert_eq!(
        conns,
        240,
        "{label}: connections counted\n{}",
        request(r, "stats")
    );
}

#[test]
fn nat_tcp_udp_ipv4_ipv6() {
    let Some(lab) = lab("nat_tcp_udp_ipv4_ipv6", Method::Nat, 1) else {
        return;
    };
    let yaml = header(&lab, 1) + &web_and_dns("nat", 8080, 5353, "");
    let r = start(lab, &yaml);
    exercise(&r, "NAT");
    assert!(
        metric(&r, "xvs_service_out_packets_total", &[]) >= 240,
        "NAT replies pass through the director"
    );
}

#[test]
fn dr_tcp_udp_ipv4_ipv6() {
    let Some(lab) = lab("dr_tcp_udp_ipv4_ipv6", Method::Dr, 1) else {
        return;
    };
    let yaml = header(&lab, 1) + &web_and_dns("dr", 80, 53, "");
    let r = start(lab, &yaml);
    exercise(&r, "DR");
    assert_eq!(
        metric(&r, "xvs_service_out_packets_total", &[]),
        0,
        "DR replies bypass xvs"
    );
}

#[test]
fn tun_tcp_udp_ipv4_ipv6() {
    let Some(lab) = lab("tun_tcp_udp_ipv4_ipv6", Method::Tun, 1) else {
        return;
    };
    let yaml = header(&lab, 1) + &web_and_dns("tun", 80, 53, "");
    let mut r = start(lab, &yaml);
    start_decap(&mut r);
    exercise(&r, "TUN");
}

#[test]
fn fullnat_tcp_udp_ipv4_ipv6() {
    let Some(lab) = lab("fullnat_tcp_udp_ipv4_ipv6", Method::FullNat, 1) else {
        return;
    };
    let yaml = header(&lab, 1)
        + "local_pools:\n  - name: lip\n    addresses: [198.18.1.200, \"fd00:0:0:2::200\"]\n    ports: 20000-29999\n"
        + &web_and_dns("fullnat", 8080, 5353, "    local_pool: lip\n");
    let r = start(lab, &yaml);
    exercise(&r, "FullNAT");
    assert!(
        metric(&r, "xvs_service_out_packets_total", &[]) >= 240,
        "FullNAT replies pass through the director"
    );
}
