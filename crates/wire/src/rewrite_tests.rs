//! Unit and property tests of `rewrite`: every rewritten frame must equal,
//! byte for byte, the frame etherparse builds with the new fields and
//! freshly computed checksums.

use super::*;
use crate::frame::parse_frame;
use crate::testutil::*;
use crate::{icmp, icmpv6, parse_icmp_error};
use etherparse::PacketBuilder;
use proptest::prelude::*;
use std::net::{Ipv4Addr, Ipv6Addr};

const RIP4: [u8; 4] = [10, 0, 0, 7];
const RIP6: [u8; 16] = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7];
const LIP6: [u8; 16] = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xfa];

#[test]
fn nat_in_tcp4_matches_etherparse() {
    let mut f = tcp4(true, b"GET / HTTP/1.0\r\n\r\n");
    let mut info = parse_frame(&f).unwrap();
    set_dst(&mut f, &mut info, RIP4.into(), 8080).unwrap();
    let mut want = Vec::new();
    PacketBuilder::ethernet2(CMAC, DMAC)
        .ipv4(CIP4, RIP4, 64)
        .tcp(40000, 8080, 1000, 65535)
        .syn()
        .write(&mut want, b"GET / HTTP/1.0\r\n\r\n")
        .unwrap();
    assert_eq!(f, want);
    assert_eq!(info, parse_frame(&f).unwrap());
}

#[test]
fn fullnat_udp6_matches_etherparse() {
    let mut f = udp6(b"query");
    let mut info = parse_frame(&f).unwrap();
    set_src(&mut f, &mut info, LIP6.into(), 61000).unwrap();
    set_dst(&mut f, &mut info, RIP6.into(), 5300).unwrap();
    let mut want = Vec::new();
    PacketBuilder::ethernet2(CMAC, DMAC)
        .ipv6(LIP6, RIP6, 64)
        .udp(61000, 5300)
        .write(&mut want, b"query")
        .unwrap();
    assert_eq!(f, want);
    assert_eq!(
        (info.src, info.src_port, info.dst, info.dst_port),
        (IpAddr::from(LIP6), 61000, IpAddr::from(RIP6), 5300)
    );
}

#[test]
fn udp4_without_checksum_stays_without() {
    let mut f = udp4(b"abc");
    f[40..42].fill(0);
    let mut info = parse_frame(&f).unwrap();
    set_dst(&mut f, &mut info, RIP4.into(), 99).unwrap();
    assert_eq!(&f[40..42], &[0, 0]);
    assert_eq!(&f[36..38], &99u16.to_be_bytes());
    assert!(ipv4::Packet::new_checked(&f[14..])
        .unwrap()
        .verify_checksum());
}

#[test]
fn icmpv6_pseudo_header_is_patched() {
    let mut f = Vec::new();
    PacketBuilder::ethernet2(CMAC, DMAC)
        .ipv6(CIP6, VIP6, 64)
        .icmpv6_echo_request(7, 8)
        .write(&mut f, b"ping")
        .unwrap();
    let mut info = parse_frame(&f).unwrap();
    set_dst(&mut f, &mut info, RIP6.into(), 1234).unwrap();
    let p = icmpv6::Packet::new_checked(&f[54..]).unwrap();
    assert!(p.verify_checksum(&CIP6.into(), &RIP6.into()));
    assert_eq!((info.src_port, info.dst_port), (0, 0), "no ports on ICMP");
    // ICMPv4 has no pseudo-header: its bytes do not change.
    let mut f = Vec::new();
    PacketBuilder::ethernet2(CMAC, DMAC)
        .ipv4(CIP4, VIP4, 64)
        .icmpv4_echo_request(7, 8)
        .write(&mut f, b"ping")
        .unwrap();
    let before = f[34..].to_vec();
    let mut info = parse_frame(&f).unwrap();
    set_dst(&mut f, &mut info, RIP4.into(), 1).unwrap();
    assert_eq!(f[34..], before[..]);
}

#[test]
fn fragments() {
    // Non-first: only the IP header changes.
    let mut f = udp4(&[0xab; 16]);
    f[20..22].copy_from_slice(&(0x2000u16 | 2).to_be_bytes());
    ipv4::Packet::new_checked(&mut f[14..])
        .unwrap()
        .fill_checksum();
    let l4 = f[34..].to_vec();
    let mut info = parse_frame(&f).unwrap();
    set_dst(&mut f, &mut info, RIP4.into(), 9).unwrap();
    assert_eq!(f[34..], l4[..]);
    assert_eq!(&f[30..34], &RIP4);
    assert!(ipv4::Packet::new_checked(&f[14..])
        .unwrap()
        .verify_checksum());

    // First fragment: the UDP checksum (over the whole datagram) is
    // patched exactly as it would be in the unfragmented datagram.
    let whole_payload = [0x5au8; 40];
    let mut whole = udp4(&whole_payload);
    let mut whole_info = parse_frame(&whole).unwrap();
    set_dst(&mut whole, &mut whole_info, RIP4.into(), 5300).unwrap();
    let mut first = udp4(&whole_payload);
    first.truncate(14 + 20 + 8 + 16);
    first[16..18].copy_from_slice(&(20u16 + 24).to_be_bytes());
    first[20] |= 0x20; // MF
    ipv4::Packet::new_checked(&mut first[14..])
        .unwrap()
        .fill_checksum();
    let mut info = parse_frame(&first).unwrap();
    assert_eq!(info.fragment, Fragment::First);
    set_dst(&mut first, &mut info, RIP4.into(), 5300).unwrap();
    assert_eq!(first[34..42], whole[34..42]);
}

#[test]
fn hop_limit() {
    let mut f = tcp4(true, &[]);
    let mut info = parse_frame(&f).unwrap();
    assert_eq!(decrement_hop_limit(&mut f, &mut info), Ok(Some(63)));
    assert_eq!(info.hop_limit, 63);
    assert!(ipv4::Packet::new_checked(&f[14..])
        .unwrap()
        .verify_checksum());
    let mut f = tcp6(&[]);
    f[21] = 1;
    let before = f.clone();
    let mut info = parse_frame(&f).unwrap();
    assert_eq!(decrement_hop_limit(&mut f, &mut info), Ok(None));
    assert_eq!(f, before);
    let mut arp = [0u8; 60];
    crate::arp::build_gratuitous(&mut arp, None, CMAC, VIP4.into()).unwrap();
    let mut info = parse_frame(&arp).unwrap();
    assert_eq!(
        decrement_hop_limit(&mut arp, &mut info),
        Err(WireError::FrameMismatch)
    );
}

#[test]
fn mismatches_are_errors_not_panics() {
    let mut f = tcp4(true, &[]);
    let mut info = parse_frame(&f).unwrap();
    assert_eq!(
        set_dst(&mut f, &mut info, RIP6.into(), 1),
        Err(WireError::FrameMismatch)
    );
    let mut short = f[..40].to_vec();
    assert_eq!(
        set_dst(&mut short, &mut info, RIP4.into(), 1),
        Err(WireError::FrameMismatch)
    );
    let mut bogus = info;
    bogus.l4_offset = 5;
    assert_eq!(
        set_dst(&mut f, &mut bogus, RIP4.into(), 1),
        Err(WireError::FrameMismatch)
    );
}

/// A TCP reply `src:sport -> CIP4:40000` as an IPv4 packet (what an ICMP
/// error quotes).
fn reply4(src: [u8; 4], sport: u16, seq: u32, ack: u32) -> Vec<u8> {
    let mut p = Vec::new();
    PacketBuilder::ipv4(src, CIP4, 63)
        .tcp(sport, 40000, seq, 1000)
        .ack(ack)
        .write(&mut p, b"response body")
        .unwrap();
    p
}

/// A router's port-unreachable about `pkt`, in an Ethernet frame.
fn unreachable4(pkt: &[u8]) -> Vec<u8> {
    let router = Ipv4Addr::new(203, 0, 113, 1);
    let mut buf = [0u8; 600];
    let n = icmp::build_error(&mut buf, icmp::ErrorKind::PortUnreachable, router, 3, pkt).unwrap();
    eth(0x0800, &buf[..n])
}

/// Inbound NAT of an ICMP error (ip_vs_nat_icmp): a router tells the VIP
/// that the reply VIP:80 -> CIP:40000 could not be delivered. After the
/// rewrite the real server must receive exactly the error it would have
/// got about the packet it really sent (RIP:8080 -> CIP:40000).
#[test]
fn icmp4_error_inbound_nat() {
    let mut f = unreachable4(&reply4(VIP4, 80, 77, 5));
    let want = unreachable4(&reply4(RIP4, 8080, 77, 5));
    let mut info = parse_frame(&f).unwrap();
    let mut err = parse_icmp_error(&f, &info).unwrap().unwrap();
    set_dst(&mut f, &mut info, RIP4.into(), 0).unwrap();
    set_icmp_inner_src(&mut f, &info, &mut err, RIP4.into(), 8080).unwrap();
    assert_eq!(f, want);
    assert_eq!(err, parse_icmp_error(&f, &info).unwrap().unwrap());
    assert_eq!(crate::frame::verify_icmp_checksum(&f, &info), Ok(()));
}

/// Outbound NAT of an ICMPv6 error a real server sends about a client
/// packet: quoted RIP:5300 becomes VIP:53, outer source RIP becomes VIP.
#[test]
fn icmp6_error_outbound_nat() {
    let sent_to = |dst: [u8; 16], dport: u16| {
        let mut p = Vec::new();
        PacketBuilder::ipv6(CIP6, dst, 64)
            .udp(5353, dport)
            .write(&mut p, b"q")
            .unwrap();
        p
    };
    let error_from = |src: [u8; 16], pkt: &[u8]| {
        let mut buf = [0u8; 200];
        let n = icmpv6::build_error(
            &mut buf,
            icmpv6::ErrorKind::PortUnreachable,
            src.into(),
            pkt,
        )
        .unwrap();
        eth(0x86dd, &buf[..n])
    };
    let mut f = error_from(RIP6, &sent_to(RIP6, 5300));
    let want = error_from(VIP6, &sent_to(VIP6, 53));
    let mut info = parse_frame(&f).unwrap();
    let mut err = parse_icmp_error(&f, &info).unwrap().unwrap();
    set_src(&mut f, &mut info, VIP6.into(), 0).unwrap();
    set_icmp_inner_dst(&mut f, &info, &mut err, VIP6.into(), 53).unwrap();
    assert_eq!(f, want);
    assert_eq!((err.dst, err.dst_port), (IpAddr::from(VIP6), 53));
    assert_eq!(
        set_icmp_inner_dst(&mut f, &info, &mut err, RIP4.into(), 1),
        Err(WireError::FrameMismatch)
    );
}

/// A TCP or UDP frame of either family built by etherparse.
fn build(
    v6: bool,
    tcp: bool,
    ips: ([u8; 16], [u8; 16]),
    ports: (u16, u16),
    payload: &[u8],
) -> Vec<u8> {
    let eth = PacketBuilder::ethernet2(CMAC, DMAC);
    let mut out = Vec::new();
    let v4 = |a: [u8; 16]| [a[0], a[1], a[2], a[3]];
    match (v6, tcp) {
        (false, true) => eth
            .ipv4(v4(ips.0), v4(ips.1), 64)
            .tcp(ports.0, ports.1, 1, 512)
            .write(&mut out, payload),
        (false, false) => eth
            .ipv4(v4(ips.0), v4(ips.1), 64)
            .udp(ports.0, ports.1)
            .write(&mut out, payload),
        (true, true) => eth
            .ipv6(ips.0, ips.1, 64)
            .tcp(ports.0, ports.1, 1, 512)
            .write(&mut out, payload),
        (true, false) => eth
            .ipv6(ips.0, ips.1, 64)
            .udp(ports.0, ports.1)
            .write(&mut out, payload),
    }
    .unwrap();
    out
}

fn addr(v6: bool, a: [u8; 16]) -> IpAddr {
    if v6 {
        Ipv6Addr::from(a).into()
    } else {
        Ipv4Addr::new(a[0], a[1], a[2], a[3]).into()
    }
}

proptest! {
    /// Incremental update == full recompute: rewriting any TCP/UDP frame of
    /// either family gives the bytes etherparse produces from scratch.
    #[test]
    fn rewrite_equals_rebuild(
        v6 in any::<bool>(), tcp in any::<bool>(),
        src in any::<[u8; 16]>(), dst in any::<[u8; 16]>(),
        nsrc in any::<[u8; 16]>(), ndst in any::<[u8; 16]>(),
        ports in any::<(u16, u16)>(), nports in any::<(u16, u16)>(),
        payload in proptest::collection::vec(any::<u8>(), 0..300),
        which in 0u8..3,
    ) {
        let mut f = build(v6, tcp, (src, dst), ports, &payload);
        let mut info = parse_frame(&f).unwrap();
        let (mut es, mut ed, mut ep) = (src, dst, ports);
        if which != 1 {
            set_src(&mut f, &mut info, addr(v6, nsrc), nports.0).unwrap();
            es = nsrc;
            ep.0 = nports.0;
        }
        if which != 0 {
            set_dst(&mut f, &mut info, addr(v6, ndst), nports.1).unwrap();
            ed = ndst;
            ep.1 = nports.1;
        }
        let want = build(v6, tcp, (es, ed), ep, &payload);
        prop_assert_eq!(&f, &want);
        prop_assert_eq!(info, parse_frame(&want).unwrap());
    }
}

/// The SYN proxy's shift of a quoted TCP segment: whole quotes get seq,
/// ack and the quoted checksum patched as if built that way; a quote cut
/// after 8 bytes of TCP (RFC 792's minimum) gets only its seq, with the
/// ICMP checksum still right; UDP quotes are left alone.
#[test]
fn icmp_inner_tcp_shift() {
    let segment = |seq: u32, ack: u32| reply4(VIP4, 80, seq, ack);
    let error_about = unreachable4;
    let mut f = error_about(&segment(0xffff_fff0, 5));
    let info = parse_frame(&f).unwrap();
    let err = parse_icmp_error(&f, &info).unwrap().unwrap();
    shift_icmp_inner_tcp(&mut f, &info, &err, 0x20, 0u32.wrapping_sub(3)).unwrap();
    assert_eq!(f, error_about(&segment(0x10, 2)));

    // Cut after the TCP sequence number.
    let short = |seq: u32| {
        let p = segment(seq, 5);
        error_about(&p[..28])
    };
    let mut f = short(100);
    let info = parse_frame(&f).unwrap();
    let err = parse_icmp_error(&f, &info).unwrap().unwrap();
    shift_icmp_inner_tcp(&mut f, &info, &err, 7, 9).unwrap();
    assert_eq!(f, short(107));
    assert_eq!(crate::frame::verify_icmp_checksum(&f, &info), Ok(()));

    let mut udp = Vec::new();
    PacketBuilder::ipv4(VIP4, CIP4, 63)
        .udp(53, 40000)
        .write(&mut udp, b"answer")
        .unwrap();
    let mut f = error_about(&udp);
    let before = f.clone();
    let info = parse_frame(&f).unwrap();
    let err = parse_icmp_error(&f, &info).unwrap().unwrap();
    shift_icmp_inner_tcp(&mut f, &info, &err, 7, 9).unwrap();
    assert_eq!(f, before);
}
