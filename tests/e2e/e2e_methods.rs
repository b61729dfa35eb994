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
    let Some(r) = start_web_and_dns("nat_tcp_udp_ipv4_ipv6", Method::Nat) else {
        return;
    };
    exercise(&r, "NAT");
    assert!(
        metric(&r, "xvs_service_out_packets_total", &[]) >= 240,
        "NAT replies pass through the director"
    );
}

#[test]
fn dr_tcp_udp_ipv4_ipv6() {
    let Some(r) = start_web_and_dns("dr_tcp_udp_ipv4_ipv6", Method::Dr) else {
        return;
    };
    exercise(&r, "DR");
    assert_eq!(
        metric(&r, "xvs_service_out_packets_total", &[]),
        0,
        "DR replies bypass xvs"
    );
}

#[test]
fn tun_tcp_udp_ipv4_ipv6() {
    let Some(r) = start_web_and_dns("tun_tcp_udp_ipv4_ipv6", Method::Tun) else {
        return;
    };
    exercise(&r, "TUN");
}

#[test]
fn fullnat_tcp_udp_ipv4_ipv6() {
    let Some(r) = start_web_and_dns("fullnat_tcp_udp_ipv4_ipv6", Method::FullNat) else {
        return;
    };
    exercise(&r, "FullNAT");
    assert!(
        metric(&r, "xvs_service_out_packets_total", &[]) >= 240,
        "FullNAT replies pass through the director"
    );
}
