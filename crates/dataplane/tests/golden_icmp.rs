//! Golden tests for ICMP/ICMPv6 errors about known connections (IPVS
//! ip_vs_in_icmp / ip_vs_out_icmp) and for the errors the director
//! originates (time exceeded, frag-needed / Packet Too Big, port unreachable).

use std::net::IpAddr;

use xvs_dataplane::{DropReason, Verdict};
use xvs_testkit::*;

const CPORT: u16 = 40002;

fn fam(v6: bool) -> (IpAddr, IpAddr, IpAddr, IpAddr, IpAddr) {
    // (client, NAT VIP, FullNAT VIP, RS, LIP)
    if v6 {
        (
            CLIENT6.into(),
            VIP6_NAT.into(),
            VIP6_FNAT.into(),
            RS6[0].into(),
            LIP6.into(),
        )
    } else {
        (
            CLIENT4.into(),
            VIP4_NAT.into(),
            VIP4_FNAT.into(),
            RS4[0].into(),
            LIP4.into(),
        )
    }
}

#[test]
fn nat_and_fullnat_icmp_errors_are_translated_both_ways() {
    for v6 in [false, true] {
        for fullnat in [false, true] {
            let (c, nat_vip, fnat_vip, rs, lip) = fam(v6);
            let vip = if fullnat { fnat_vip } else { nat_vip };
            let (plan, _reg) = lab_plan(1);
            let n = lab_neighbors();
            let (_t, mut ws) = workers(&plan, 1);
            let w = &mut ws[0];
            let what = format!("v6={v6} fullnat={fullnat}");
            // Open the flow.
            let (v, _) = run(
                w,
                &plan,
                &n,
                10,
                CLIENT_IF,
                &Spec::udp(c, CPORT, vip, UDP_PORT).frame(),
            );
            assert_eq!(v, Verdict::Forward { iface: SERVER_IF }, "{what}");
            let (laddr, lport) = if fullnat { (lip, 1024) } else { (c, CPORT) };

            // 1. The real server reports an error about the packet it got
            //    (laddr:lport -> RS:5353); the client must see an error about
            //    its own packet (client:CPORT -> VIP:53), from the VIP.
            let got_by_rs = Spec::udp(laddr, lport, rs, RS_UDP_PORT).ttl(63).ip_packet();
            let err = icmp_error_frame(rs_mac(0), DIR_SERVER_MAC, rs, laddr, &got_by_rs);
            let (v, out) = run(w, &plan, &n, 11, SERVER_IF, &err);
            assert_eq!(
                v,
                Verdict::Forward { iface: CLIENT_IF },
                "{what}: error to client"
            );
            let sent_by_client = Spec::udp(c, CPORT, vip, UDP_PORT).ttl(63).ip_packet();
            let mut expected = icmp_error_frame(DIR_CLIENT_MAC, GW_MAC, vip, c, &sent_by_client);
            set_ttl(&mut expected, 63);
            assert_eq!(out, expected, "{what}: error to client");

            // 2. A host near the client reports an error about our reply
            //    (VIP:53 -> client:CPORT); the real server must see an error
            //    about the packet it sent (RS:5353 -> laddr:lport).
            let reply_seen = Spec::udp(vip, UDP_PORT, c, CPORT).ttl(63).ip_packet();
            let err = icmp_error_frame(GW_MAC, DIR_CLIENT_MAC, c, vip, &reply_seen);
            let (v, out) = run(w, &plan, &n, 12, CLIENT_IF, &err);
            assert_eq!(
                v,
                Verdict::Forward { iface: SERVER_IF },
                "{what}: error to real server"
            );
            let rs_sent = Spec::udp(rs, RS_UDP_PORT, laddr, lport).ttl(63).ip_packet();
            let outer_src = if fullnat { laddr } else { c };
            let mut expected = icmp_error_frame(DIR_SERVER_MAC, rs_mac(0), outer_src, rs, &rs_sent);
            set_ttl(&mut expected, 63);
            assert_eq!(out, expected, "{what}: error to real server");
        }
    }
}

#[test]
fn dr_forwards_an_icmp_error_about_a_reply_unchanged_to_the_real_server() {
    for v6 in [false, true] {
        let (c, vip, rs): (IpAddr, IpAddr, IpAddr) = if v6 {
            (CLIENT6.into(), VIP6_DR.into(), RS6[0].into())
        } else {
            (CLIENT4.into(), VIP4_DR.into(), RS4[0].into())
        };
        let (plan, _reg) = lab_plan(1);
        let n = lab_neighbors();
        let (_t, mut ws) = workers(&plan, 1);
        let w = &mut ws[0];
        run(
            w,
            &plan,
            &n,
            10,
            CLIENT_IF,
            &Spec::udp(c, CPORT, vip, UDP_PORT).frame(),
        );
        let reply_seen = Spec::udp(vip, UDP_PORT, c, CPORT).ttl(60).ip_packet();
        let err = icmp_error_frame(GW_MAC, DIR_CLIENT_MAC, c, vip, &reply_seen);
        let (v, out) = run(w, &plan, &n, 11, CLIENT_IF, &err);
        assert_eq!(v, Verdict::Forward { iface: SERVER_IF });
        let mut expected = icmp_error_frame(DIR_SERVER_MAC, rs_mac(0), c, vip, &reply_seen);
        set_ttl(&mut expected, 63);
        assert_eq!(out, expected, "v6={v6}");
        let _ = rs;
    }
}

#[test]
fn icmp_error_with_bad_checksum_or_unknown_flow_is_dropped_and_counted() {
    let (plan, _reg) = lab_plan(1);
    let n = lab_neighbors();
    let (_t, mut ws) = workers(&plan, 1);
    let w = &mut ws[0];
    let c: IpAddr = CLIENT4.into();
    let vip: IpAddr = VIP4_NAT.into();
    // Unknown flow.
    let reply_seen = Spec::udp(vip, UDP_PORT, c, 999).ip_packet();
    let err = icmp_error_frame(GW_MAC, DIR_CLIENT_MAC, c, vip, &reply_seen);
    assert_eq!(
        run(w, &plan, &n, 1, CLIENT_IF, &err).0,
        Verdict::Drop(DropReason::IcmpNoConn)
    );
    // Known flow, corrupted checksum.
    run(
        w,
        &plan,
        &n,
        1,
        CLIENT_IF,
        &Spec::udp(c, 999, vip, UDP_PORT).frame(),
    );
    let mut err = icmp_error_frame(GW_MAC, DIR_CLIENT_MAC, c, vip, &reply_seen);
    err[14 + 20 + 2] ^= 0x55;
    assert_eq!(
        run(w, &plan, &n, 1, CLIENT_IF, &err).0,
        Verdict::Drop(DropReason::IcmpBadChecksum)
    );
    assert_eq!(w.counters().drops(DropReason::IcmpNoConn), 1);
    assert_eq!(w.counters().drops(DropReason::IcmpBadChecksum), 1);
}

#[test]
fn ttl_expiry_answers_time_exceeded_from_the_vip() {
    for v6 in [false, true] {
        let (c, vip, ..) = fam(v6);
        let (plan, _reg) = lab_plan(1);
        let n = lab_neighbors();
        let (_t, mut ws) = workers(&plan, 1);
        let input = Spec::udp(c, CPORT, vip, UDP_PORT).ttl(1);
        let (v, out) = run(&mut ws[0], &plan, &n, 1, CLIENT_IF, &input.frame());
        assert_eq!(v, Verdict::Forward { iface: CLIENT_IF }, "v6={v6}");
        assert_eq!(ws[0].counters().drops(DropReason::TtlExceeded), 1);
        let parsed = etherparse::PacketHeaders::from_ethernet_slice(&out).unwrap();
        let link = parsed.link.unwrap().ethernet2().unwrap();
        assert_eq!((link.source, link.destination), (DIR_CLIENT_MAC, GW_MAC));
        match parsed.transport.unwrap() {
            etherparse::TransportHeader::Icmpv4(h) => {
                assert_eq!(
                    h.icmp_type,
                    etherparse::Icmpv4Type::TimeExceeded(
                        etherparse::icmpv4::TimeExceededCode::TtlExceededInTransit
                    )
                );
                assert_eq!(
                    h.icmp_type.calc_checksum(parsed.payload.slice()),
                    h.checksum
                );
            }
            etherparse::TransportHeader::Icmpv6(h) => {
                assert_eq!(
                    h.icmp_type,
                    etherparse::Icmpv6Type::TimeExceeded(
                        etherparse::icmpv6::TimeExceededCode::HopLimitExceeded
                    )
                );
            }
            other => panic!("expected ICMP, got {other:?}"),
        }
        // The quoted packet is the client's, untouched.
        let quoted = input.ip_packet();
        assert!(
            out.windows(quoted.len()).any(|w| w == quoted.as_slice()),
            "quotes the offending packet"
        );
    }
}

#[test]
fn tun_too_big_with_df_answers_frag_needed_with_the_tunnel_mtu() {
    for v6 in [false, true] {
        let (c, vip): (IpAddr, IpAddr) = if v6 {
            (CLIENT6.into(), VIP6_TUN.into())
        } else {
            (CLIENT4.into(), VIP4_TUN.into())
        };
        let (plan, _reg) = lab_plan(1);
        let n = lab_neighbors();
        let (_t, mut ws) = workers(&plan, 1);
        let hdr = if v6 { 40 + 8 } else { 20 + 8 };
        // An IP packet of exactly 1500 bytes: fits the link, not the tunnel.
        let input = Spec::udp(c, CPORT, vip, UDP_PORT).payload(&vec![7u8; 1500 - hdr]);
        let (v, out) = run(&mut ws[0], &plan, &n, 1, CLIENT_IF, &input.frame());
        assert_eq!(v, Verdict::Forward { iface: CLIENT_IF }, "v6={v6}");
        assert_eq!(ws[0].counters().drops(DropReason::TooBig), 1);
        let parsed = etherparse::PacketHeaders::from_ethernet_slice(&out).unwrap();
        match parsed.transport.unwrap() {
            etherparse::TransportHeader::Icmpv4(h) => assert_eq!(
                h.icmp_type,
                etherparse::Icmpv4Type::DestinationUnreachable(
                    etherparse::icmpv4::DestUnreachableHeader::FragmentationNeeded {
                        next_hop_mtu: 1480
                    }
                )
            ),
            etherparse::TransportHeader::Icmpv6(h) => {
                assert_eq!(
                    h.icmp_type,
                    etherparse::Icmpv6Type::PacketTooBig { mtu: 1460 }
                )
            }
            other => panic!("expected ICMP, got {other:?}"),
        }
        // One byte less fits the tunnel and is forwarded.
        let fits =
            Spec::udp(c, CPORT, vip, UDP_PORT)
                .payload(&vec![7u8; 1500 - hdr - if v6 { 40 } else { 20 }]);
        assert_eq!(
            run(&mut ws[0], &plan, &n, 2, CLIENT_IF, &fits.frame()).0,
            Verdict::Forward { iface: SERVER_IF }
        );
    }
}

#[test]
fn no_available_real_server_answers_port_unreachable_and_counts() {
    let (plan, _reg) = lab_plan(1);
    let n = lab_neighbors();
    let (_t, mut ws) = workers(&plan, 1);
    let input = Spec::tcp(CLIENT4.into(), 5000, VIP4_EMPTY.into(), 80, SYN);
    let (v, out) = run(&mut ws[0], &plan, &n, 1, CLIENT_IF, &input.frame());
    assert_eq!(v, Verdict::Forward { iface: CLIENT_IF });
    assert_eq!(ws[0].counters().drops(DropReason::NoRealServer), 1);
    let parsed = etherparse::PacketHeaders::from_ethernet_slice(&out).unwrap();
    match parsed.transport.unwrap() {
        etherparse::TransportHeader::Icmpv4(h) => assert_eq!(
            h.icmp_type,
            etherparse::Icmpv4Type::DestinationUnreachable(
                etherparse::icmpv4::DestUnreachableHeader::Port
            )
        ),
        other => panic!("expected ICMP, got {other:?}"),
    }
}

/// Set the outer TTL / hop limit of an Ethernet+IP frame built by the
/// fixtures, fixing the IPv4 header checksum.
fn set_ttl(frame: &mut [u8], ttl: u8) {
    if frame[12..14] == [0x08, 0x00] {
        frame[14 + 8] = ttl;
        frame[14 + 10] = 0;
        frame[14 + 11] = 0;
        let sum = etherparse::Ipv4HeaderSlice::from_slice(&frame[14..])
            .unwrap()
            .to_header()
            .calc_header_checksum();
        frame[14 + 10..14 + 12].copy_from_slice(&sum.to_be_bytes());
    } else {
        frame[14 + 7] = ttl;
    }
}
