//! Golden packet tests: an input frame (built by etherparse), the verdict,
//! and the exact expected output frame (also built by etherparse, with
//! every checksum computed from scratch) for every forwarding method ×
//! IPv4/IPv6 × TCP/UDP, in both directions where the method sees both.

use std::net::IpAddr;

use xvs_dataplane::Verdict;
use xvs_testkit::*;

const CPORT: u16 = 40001;

fn client(v6: bool) -> IpAddr {
    if v6 {
        CLIENT6.into()
    } else {
        CLIENT4.into()
    }
}

fn rs(v6: bool) -> IpAddr {
    if v6 {
        RS6[0].into()
    } else {
        RS4[0].into()
    }
}

fn lip(v6: bool) -> IpAddr {
    if v6 {
        LIP6.into()
    } else {
        LIP4.into()
    }
}

/// The first packet of a flow from the client to a VIP.
fn first_packet(method: &str, v6: bool, tcp: bool) -> Spec {
    if tcp {
        Spec::tcp(client(v6), CPORT, method_vip(method, v6), TCP_PORT, SYN)
    } else {
        Spec::udp(client(v6), CPORT, method_vip(method, v6), UDP_PORT)
    }
}

fn with_addrs(mut s: Spec, src: IpAddr, sport: u16, dst: IpAddr, dport: u16) -> Spec {
    s.src = src;
    s.dst = dst;
    s.l4 = match s.l4 {
        L4::Tcp { flags, seq, .. } => L4::Tcp {
            sport,
            dport,
            flags,
            seq,
        },
        L4::Udp { .. } => L4::Udp { sport, dport },
    };
    s
}

fn rport(method: &str, tcp: bool) -> u16 {
    match (method, tcp) {
        ("dr" | "tun", true) => TCP_PORT,
        ("dr" | "tun", false) => UDP_PORT,
        (_, true) => RS_TCP_PORT,
        (_, false) => RS_UDP_PORT,
    }
}

/// What the real server must receive for `first_packet` (non-TUN methods).
fn expected_to_rs(method: &str, v6: bool, tcp: bool, lport: u16) -> Vec<u8> {
    let input = first_packet(method, v6, tcp);
    let rp = rport(method, tcp);
    let out = match method {
        "dr" => input.clone(),
        "nat" => with_addrs(input.clone(), client(v6), CPORT, rs(v6), rp),
        "fullnat" => with_addrs(input.clone(), lip(v6), lport, rs(v6), rp),
        _ => unreachable!(),
    };
    out.ttl(63).macs(DIR_SERVER_MAC, rs_mac(0)).frame()
}

/// What the client must receive for a reply from the real server.
fn expected_reply(method: &str, v6: bool, tcp: bool) -> Vec<u8> {
    let s = if tcp {
        Spec::tcp(
            method_vip(method, v6),
            TCP_PORT,
            client(v6),
            CPORT,
            SYN | ACK,
        )
    } else {
        Spec::udp(method_vip(method, v6), UDP_PORT, client(v6), CPORT)
    };
    s.payload(b"reply")
        .ttl(63)
        .macs(DIR_CLIENT_MAC, GW_MAC)
        .frame()
}

/// The reply as the real server sends it (to the client for NAT, to the
/// local address for FullNAT).
fn reply_from_rs(method: &str, v6: bool, tcp: bool, lport: u16) -> Spec {
    let (dst, dport) = if method == "fullnat" {
        (lip(v6), lport)
    } else {
        (client(v6), CPORT)
    };
    let s = if tcp {
        Spec::tcp(rs(v6), rport(method, tcp), dst, dport, SYN | ACK)
    } else {
        Spec::udp(rs(v6), rport(method, tcp), dst, dport)
    };
    s.payload(b"reply").macs(rs_mac(0), DIR_SERVER_MAC)
}

/// First local port the single worker hands out from pool `lip` (1024-65535).
const FIRST_LPORT: u16 = 1024;

#[test]
fn dr_nat_fullnat_first_packet_and_reply_golden() {
    for method in ["dr", "nat", "fullnat"] {
        for v6 in [false, true] {
            for tcp in [true, false] {
                let (plan, _reg) = lab_plan(1);
                let n = lab_neighbors();
                let (_t, mut ws) = workers(&plan, 1);
                let w = &mut ws[0];
                let what = format!("{method} v6={v6} tcp={tcp}");
                let (v, out) = run(
                    w,
                    &plan,
                    &n,
                    100,
                    CLIENT_IF,
                    &first_packet(method, v6, tcp).frame(),
                );
                assert_eq!(v, Verdict::Forward { iface: SERVER_IF }, "{what}");
                assert_eq!(
                    out,
                    expected_to_rs(method, v6, tcp, FIRST_LPORT),
                    "{what}: frame to the real server"
                );
                if method == "dr" {
                    continue; // DR replies bypass the director
                }
                let reply = reply_from_rs(method, v6, tcp, FIRST_LPORT).frame();
                let (v, out) = run(w, &plan, &n, 101, SERVER_IF, &reply);
                assert_eq!(v, Verdict::Forward { iface: CLIENT_IF }, "{what}: reply");
                assert_eq!(
                    out,
                    expected_reply(method, v6, tcp),
                    "{what}: reply to the client"
                );
            }
        }
    }
}

#[test]
fn tun_encapsulates_4in4_and_6in6_golden() {
    for v6 in [false, true] {
        for tcp in [true, false] {
            let (plan, _reg) = lab_plan(1);
            let n = lab_neighbors();
            let (_t, mut ws) = workers(&plan, 1);
            let input = first_packet("tun", v6, tcp);
            let (v, out) = run(&mut ws[0], &plan, &n, 100, CLIENT_IF, &input.frame());
            assert_eq!(v, Verdict::Forward { iface: SERVER_IF });
            let inner = input.clone().ttl(63).ip_packet();
            // DF copied from the inner packet (pmtu_disc), which has it set.
            let expected = tunnel_frame(&inner, v6, &out, true);
            assert_eq!(out, expected, "tun v6={v6} tcp={tcp}");
        }
    }
}
