//! Unit tests of `frame`: golden frames from etherparse, every rejection
//! reason, and ICMP error parsing.

use super::*;
use crate::testutil::*;
use crate::{icmp as icmp4, icmpv6 as icmp6, tcp::flags};
use etherparse::{PacketBuilder, SlicedPacket, TransportSlice, VlanId};
use std::net::Ipv6Addr;

fn v4(a: [u8; 4]) -> IpAddr {
    IpAddr::from(a)
}

fn v6(a: [u8; 16]) -> IpAddr {
    IpAddr::from(a)
}

#[test]
fn tcp4_syn_summary() {
    let f = tcp4(true, b"hello");
    let info = parse_frame(&f).unwrap();
    assert_eq!(
        info,
        FrameInfo {
            l3_offset: 14,
            vlan: None,
            kind: FrameKind::Ipv4,
            l4_offset: 34,
            protocol: 6,
            src: v4(CIP4),
            dst: v4(VIP4),
            src_port: 40000,
            dst_port: 80,
            tcp_flags: flags::SYN,
            fragment: Fragment::None,
            ip_len: 45,
            hop_limit: 64,
            dont_fragment: true,
        }
    );
    assert!(info.has_ports() && info.is_ip());
    assert_eq!((info.ip_end(), info.l4_len()), (59, 25));
    // etherparse agrees on the transport header.
    let s = SlicedPacket::from_ethernet(&f).unwrap();
    let Some(TransportSlice::Tcp(t)) = s.transport else {
        panic!("not tcp")
    };
    assert_eq!(
        (t.source_port(), t.destination_port()),
        (info.src_port, info.dst_port)
    );
}

#[test]
fn vlan_ipv6_udp_with_extensions_and_padding() {
    let mut f = Vec::new();
    PacketBuilder::ethernet2(CMAC, DMAC)
        .double_vlan(VlanId::try_new(10).unwrap(), VlanId::try_new(20).unwrap())
        .ipv6(CIP6, VIP6, 7)
        .udp(1111, 2222)
        .write(&mut f, &[1, 2, 3])
        .unwrap();
    // Insert a destination-options header (8 bytes) before UDP.
    let l3 = 22;
    let mut g = f[..l3 + 40].to_vec();
    g[l3 + 6] = ip_proto::DEST_OPTS;
    g.extend_from_slice(&[ip_proto::UDP, 0, 1, 4, 0, 0, 0, 0]);
    g.extend_from_slice(&f[l3 + 40..]);
    let plen = (g.len() - l3 - 40) as u16;
    g[l3 + 4..l3 + 6].copy_from_slice(&plen.to_be_bytes());
    g.extend_from_slice(&[0; 4]); // padding
    let info = parse_frame(&g).unwrap();
    assert_eq!(info.vlan, Some(10));
    assert_eq!(info.kind, FrameKind::Ipv6);
    assert_eq!((info.l3_offset, info.l4_offset), (22, 22 + 48));
    assert_eq!(
        (info.protocol, info.src_port, info.dst_port),
        (17, 1111, 2222)
    );
    assert_eq!((info.src, info.dst), (v6(CIP6), v6(VIP6)));
    assert_eq!(info.ip_len, 40 + 8 + 11);
    assert_eq!(info.hop_limit, 7);
    assert!(info.dont_fragment);
}

#[test]
fn minimum_frame_padding_is_not_ip() {
    let mut f = udp4(&[1]);
    assert_eq!(f.len(), 43);
    f.resize(60, 0);
    let info = parse_frame(&f).unwrap();
    assert_eq!(info.ip_len, 29);
    assert_eq!(info.ip_end(), 43);
}

#[test]
fn arp_and_other_ethertypes() {
    let mut buf = [0u8; 60];
    crate::arp::build_request(&mut buf, Some(3), CMAC, VIP4.into(), CIP4.into()).unwrap();
    let info = parse_frame(&buf).unwrap();
    assert_eq!(
        (info.kind, info.vlan, info.l3_offset),
        (FrameKind::Arp, Some(3), 18)
    );
    assert!(!info.is_ip() && !info.has_ports());
    let mut f = udp4(&[]);
    f[12..14].copy_from_slice(&0x88ccu16.to_be_bytes()); // LLDP
    let info = parse_frame(&f).unwrap();
    assert_eq!(info.kind, FrameKind::Other(0x88cc));
    assert_eq!((info.ip_len, info.src_port), (0, 0));
}

#[test]
fn fragments() {
    // First fragment: MF set, UDP length covers the whole datagram.
    let mut f = udp4(&[0; 16]);
    f[20] |= 0x20;
    f[38..40].copy_from_slice(&100u16.to_be_bytes());
    let info = parse_frame(&f).unwrap();
    assert_eq!(info.fragment, Fragment::First);
    assert_eq!((info.src_port, info.dst_port), (5353, 53));
    // Non-first: no ports even though bytes are there.
    let mut f = udp4(&[0; 16]);
    f[20..22].copy_from_slice(&(0x2000u16 | 3).to_be_bytes());
    let info = parse_frame(&f).unwrap();
    assert_eq!(info.fragment, Fragment::NotFirst);
    assert_eq!((info.src_port, info.dst_port, info.l4_offset), (0, 0, 34));
    assert!(!info.has_ports());
    // IPv6 non-first fragment.
    let f = tcp6(&[]);
    let mut g = f[..54].to_vec();
    g[20] = ip_proto::FRAGMENT;
    g.extend_from_slice(&[ip_proto::TCP, 0, 0, 0x18 | 1, 0, 0, 0, 1]);
    g.extend_from_slice(&f[54..]);
    let plen = (g.len() - 54) as u16;
    g[18..20].copy_from_slice(&plen.to_be_bytes());
    let info = parse_frame(&g).unwrap();
    assert_eq!(
        (info.fragment, info.protocol, info.src_port),
        (Fragment::NotFirst, 6, 0)
    );
}

/// Each kind of damage has its own reason.
#[test]
fn every_rejection_reason() {
    let tcp = tcp4(true, &[]);
    let udp = udp4(&[1, 2]);
    let case = |mut f: Vec<u8>, edit: &dyn Fn(&mut Vec<u8>)| {
        edit(&mut f);
        parse_frame(&f).unwrap_err()
    };
    assert_eq!(
        case(tcp.clone(), &|f| f.truncate(13)),
        WireError::EthernetTruncated
    );
    assert_eq!(
        case(tcp.clone(), &|f| {
            f.truncate(14);
            f[12..14].copy_from_slice(&[0x81, 0]);
        }),
        WireError::VlanTruncated
    );
    assert_eq!(
        case(tcp.clone(), &|f| f.truncate(33)),
        WireError::Ipv4Truncated
    );
    assert_eq!(
        case(tcp.clone(), &|f| f[14] = 0x65),
        WireError::Ipv4BadVersion
    );
    assert_eq!(case(tcp.clone(), &|f| f[14] = 0x44), WireError::Ipv4BadIhl);
    assert_eq!(
        case(tcp.clone(), &|f| f[17] += 1),
        WireError::Ipv4TotalLengthBeyondFrame
    );
    assert_eq!(
        case(tcp.clone(), &|f| f[16..18].copy_from_slice(&[0, 19])),
        WireError::Ipv4TotalLengthBelowHeader
    );
    assert_eq!(
        case(tcp.clone(), &|f| f[46] = 0x40),
        WireError::TcpBadDataOffset
    );
    assert_eq!(
        case(tcp.clone(), &|f| f[46] = 0x60),
        WireError::TcpDataOffsetBeyondPacket
    );
    assert_eq!(
        case(tcp.clone(), &|f| {
            f.truncate(44);
            f[16..18].copy_from_slice(&30u16.to_be_bytes());
        }),
        WireError::TcpTruncated
    );
    assert_eq!(
        case(udp.clone(), &|f| {
            f.truncate(40);
            f[16..18].copy_from_slice(&26u16.to_be_bytes());
        }),
        WireError::UdpTruncated
    );
    assert_eq!(
        case(udp.clone(), &|f| f[39] += 1),
        WireError::UdpLengthMismatch
    );
    assert_eq!(
        case(udp.clone(), &|f| f[39] = 7),
        WireError::UdpLengthMismatch
    );
    assert_eq!(
        case(udp.clone(), &|f| {
            f[23] = ip_proto::ICMP;
            // 10-byte payload is enough; shrink it to 6.
            f.truncate(40);
            f[16..18].copy_from_slice(&26u16.to_be_bytes());
        }),
        WireError::IcmpTruncated
    );
    let t6 = tcp6(&[]);
    assert_eq!(
        case(t6.clone(), &|f| f.truncate(53)),
        WireError::Ipv6Truncated
    );
    assert_eq!(
        case(t6.clone(), &|f| f[14] = 0x45),
        WireError::Ipv6BadVersion
    );
    assert_eq!(
        case(t6.clone(), &|f| f[19] += 1),
        WireError::Ipv6BadPayloadLength
    );
    assert_eq!(
        case(t6.clone(), &|f| f[20] = ip_proto::DEST_OPTS), // TCP bytes read as options
        WireError::Ipv6ExtensionTruncated
    );
    assert_eq!(
        case(t6.clone(), &|f| {
            f.truncate(54);
            f[20] = ip_proto::DEST_OPTS;
            for i in 0..9 {
                let next = if i == 8 {
                    ip_proto::NO_NEXT_HEADER
                } else {
                    ip_proto::DEST_OPTS
                };
                f.extend_from_slice(&[next, 0, 1, 4, 0, 0, 0, 0]);
            }
            f[18..20].copy_from_slice(&72u16.to_be_bytes());
        }),
        WireError::Ipv6TooManyExtensions
    );
    assert_eq!(
        case(udp6(&[]), &|f| {
            f[20] = ip_proto::ICMPV6;
            f[54] = 1; // an error type needs 8 bytes; give it 8 but claim 3
            f.truncate(57);
            f[18..20].copy_from_slice(&3u16.to_be_bytes());
        }),
        WireError::Icmpv6Truncated
    );
    let mut three = vec![0u8; 26];
    for at in [12, 16, 20] {
        three[at..at + 2].copy_from_slice(&[0x81, 0]);
    }
    assert_eq!(parse_frame(&three).unwrap_err(), WireError::TooManyVlanTags);
}

/// A frame from a router to the VIP: ICMP error about a packet the VIP sent.
fn icmp4_error_frame(kind: icmp4::ErrorKind, about: &[u8]) -> Vec<u8> {
    let mut buf = [0u8; 700];
    let n = icmp4::build_error(&mut buf, kind, [203, 0, 113, 1].into(), 1, about).unwrap();
    eth(0x0800, &buf[..n])
}

#[test]
fn icmp4_frag_needed_about_tcp() {
    // What the VIP sent to the client: VIP:80 -> CIP:40000.
    let mut sent = Vec::new();
    PacketBuilder::ipv4(VIP4, CIP4, 64)
        .tcp(80, 40000, 1, 100)
        .write(&mut sent, &[0u8; 1400])
        .unwrap();
    let f = icmp4_error_frame(icmp4::ErrorKind::FragmentationNeeded { mtu: 1280 }, &sent);
    let info = parse_frame(&f).unwrap();
    assert_eq!(info.protocol, ip_proto::ICMP);
    assert_eq!(verify_icmp_checksum(&f, &info), Ok(()));
    let e = parse_icmp_error(&f, &info).unwrap().unwrap();
    assert_eq!(
        e,
        IcmpErrorInfo {
            icmp_type: 3,
            icmp_code: 4,
            mtu: 1280,
            inner_l3_offset: 14 + 20 + 8,
            inner_l4_offset: 14 + 20 + 8 + 20,
            inner_end: f.len(),
            protocol: 6,
            src: v4(VIP4),
            dst: v4(CIP4),
            src_port: 80,
            dst_port: 40000,
            fragment: Fragment::None,
        }
    );
    assert_eq!(f.len(), 14 + 576);
    // A flipped bit anywhere in the message fails verification.
    let mut bad = f.clone();
    bad[100] ^= 0x10;
    assert_eq!(
        verify_icmp_checksum(&bad, &info),
        Err(WireError::IcmpBadChecksum)
    );
}

#[test]
fn icmp6_packet_too_big_about_udp() {
    let mut sent = Vec::new();
    PacketBuilder::ipv6(VIP6, CIP6, 64)
        .udp(53, 5353)
        .write(&mut sent, &[0u8; 1400])
        .unwrap();
    let mut buf = [0u8; 1400];
    let router = Ipv6Addr::new(0x2001, 0xdb8, 9, 0, 0, 0, 0, 1);
    let n = icmp6::build_error(
        &mut buf,
        icmp6::ErrorKind::PacketTooBig { mtu: 1280 },
        router,
        &sent,
    )
    .unwrap();
    let f = eth(0x86dd, &buf[..n]);
    let info = parse_frame(&f).unwrap();
    assert_eq!(verify_icmp_checksum(&f, &info), Ok(()));
    let e = parse_icmp_error(&f, &info).unwrap().unwrap();
    assert_eq!((e.icmp_type, e.mtu, e.protocol), (2, 1280, 17));
    assert_eq!(
        (e.src, e.dst, e.src_port, e.dst_port),
        (v6(VIP6), v6(CIP6), 53, 5353)
    );
    assert_eq!(
        (e.inner_l3_offset, e.inner_l4_offset),
        (14 + 48, 14 + 48 + 40)
    );
    let mut bad = f.clone();
    bad[30] ^= 1; // source address: the pseudo-header no longer matches
    let info_bad = parse_frame(&bad).unwrap();
    assert_eq!(
        verify_icmp_checksum(&bad, &info_bad),
        Err(WireError::IcmpBadChecksum)
    );
}

#[test]
fn icmp_non_errors_and_bad_quotes() {
    // Echo request: not an error.
    let mut f = Vec::new();
    PacketBuilder::ethernet2(CMAC, DMAC)
        .ipv4(CIP4, VIP4, 64)
        .icmpv4_echo_request(1, 1)
        .write(&mut f, b"x")
        .unwrap();
    let info = parse_frame(&f).unwrap();
    assert_eq!(parse_icmp_error(&f, &info), Ok(None));
    assert_eq!(verify_icmp_checksum(&f, &info), Ok(()));
    // TCP: not ICMP at all.
    let t = tcp4(true, &[]);
    assert_eq!(parse_icmp_error(&t, &parse_frame(&t).unwrap()), Ok(None));
    assert_eq!(
        verify_icmp_checksum(&t, &parse_frame(&t).unwrap()),
        Err(WireError::FrameMismatch)
    );

    // Quote cut inside the inner IP header.
    let sent = &tcp4(true, &[])[14..];
    let f = icmp4_error_frame(icmp4::ErrorKind::PortUnreachable, sent);
    let mut short = f[..14 + 20 + 8 + 12].to_vec();
    short[16..18].copy_from_slice(&40u16.to_be_bytes());
    let info = parse_frame(&short).unwrap();
    assert_eq!(
        parse_icmp_error(&short, &info),
        Err(WireError::IcmpInnerTruncated)
    );
    // Quote with the IP header but no ports.
    let mut short = f[..14 + 20 + 8 + 22].to_vec();
    short[16..18].copy_from_slice(&50u16.to_be_bytes());
    let info = parse_frame(&short).unwrap();
    assert_eq!(
        parse_icmp_error(&short, &info),
        Err(WireError::IcmpInnerTruncated)
    );
    // Quote that is not IPv4.
    let mut bad = f.clone();
    bad[42] = 0x35;
    let info = parse_frame(&bad).unwrap();
    assert_eq!(
        parse_icmp_error(&bad, &info),
        Err(WireError::IcmpInnerMalformed)
    );
    // A summary of another frame is refused, not trusted.
    let info = parse_frame(&f).unwrap();
    assert_eq!(
        parse_icmp_error(&f[..40], &info),
        Err(WireError::FrameMismatch)
    );
}

#[test]
fn icmp_error_policy() {
    let syn = tcp4(true, &[]);
    let info = parse_frame(&syn).unwrap();
    assert!(may_send_icmp_error(&syn, &info, false));
    // Broadcast link-layer destination.
    let mut b = syn.clone();
    b[0] = 0xff;
    assert!(!may_send_icmp_error(&b, &parse_frame(&b).unwrap(), false));
    // Multicast IP destination.
    let mut m = syn.clone();
    m[30] = 224;
    assert!(!may_send_icmp_error(&m, &parse_frame(&m).unwrap(), false));
    // Source not a single host.
    let mut z = syn.clone();
    z[26..30].fill(0);
    assert!(!may_send_icmp_error(&z, &parse_frame(&z).unwrap(), false));
    // An ICMP error is never answered with one.
    let e = icmp4_error_frame(icmp4::ErrorKind::TimeExceeded, &syn[14..]);
    assert!(!may_send_icmp_error(&e, &parse_frame(&e).unwrap(), false));
    // A non-first fragment neither.
    let mut frag = udp4(&[0; 16]);
    frag[20..22].copy_from_slice(&3u16.to_be_bytes());
    assert!(!may_send_icmp_error(
        &frag,
        &parse_frame(&frag).unwrap(),
        false
    ));
    // IPv6: multicast destination only for Packet Too Big.
    let mut u = udp6(&[1]);
    u[38] = 0xff;
    let info = parse_frame(&u).unwrap();
    assert!(!may_send_icmp_error(&u, &info, false));
    assert!(may_send_icmp_error(&u, &info, true));
    let ok6 = udp6(&[1]);
    assert!(may_send_icmp_error(
        &ok6,
        &parse_frame(&ok6).unwrap(),
        false
    ));
}
