//! Property tests: the frame parser and everything a data plane does with
//! its result never panic, on arbitrary bytes and on arbitrary mutations
//! of valid frames, and the summary's offsets always lie inside the frame.
//! These double as a cheap stand-in for the cargo-fuzz target in fuzz/.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use etherparse::{PacketBuilder, VlanId};
use proptest::prelude::*;
use xvs_wire::{
    frame, icmp, icmpv6, ipip, parse_frame, parse_icmp_error, rewrite, FrameInfo, FrameKind,
};

const A: [u8; 6] = [2, 0, 0, 0, 0, 1];
const B: [u8; 6] = [2, 0, 0, 0, 0, 2];
const C4: [u8; 4] = [198, 51, 100, 9];
const V4: [u8; 4] = [192, 0, 2, 80];
const C6: [u8; 16] = [0x20, 1, 0xd, 0xb8, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9];
const V6: [u8; 16] = [0x20, 1, 0xd, 0xb8, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x80];

/// Valid frames of every kind the parser distinguishes.
fn templates() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut push = |f: Vec<u8>| out.push(f);
    let mut f = Vec::new();
    PacketBuilder::ethernet2(A, B)
        .ipv4(C4, V4, 64)
        .tcp(1, 80, 0, 9)
        .syn()
        .write(&mut f, b"x")
        .unwrap();
    push(f);
    let mut f = Vec::new();
    PacketBuilder::ethernet2(A, B)
        .double_vlan(VlanId::try_new(1).unwrap(), VlanId::try_new(2).unwrap())
        .ipv6(C6, V6, 64)
        .udp(1, 53)
        .write(&mut f, b"query")
        .unwrap();
    push(f);
    let mut f = Vec::new();
    PacketBuilder::ethernet2(A, B)
        .ipv6(C6, V6, 64)
        .icmpv6_echo_request(1, 2)
        .write(&mut f, b"p")
        .unwrap();
    push(f);
    // ICMP errors quoting TCP and UDP packets.
    let mut inner = Vec::new();
    PacketBuilder::ipv4(V4, C4, 64)
        .tcp(80, 1, 0, 9)
        .write(&mut inner, &[0; 40])
        .unwrap();
    let mut buf = [0u8; 700];
    let n = icmp::build_error(
        &mut buf,
        icmp::ErrorKind::FragmentationNeeded { mtu: 1400 },
        C4.into(),
        1,
        &inner,
    )
    .unwrap();
    push(eth(0x0800, &buf[..n]));
    let mut inner6 = Vec::new();
    PacketBuilder::ipv6(V6, C6, 64)
        .udp(53, 1)
        .write(&mut inner6, &[0; 40])
        .unwrap();
    let n = icmpv6::build_error(
        &mut buf,
        icmpv6::ErrorKind::PacketTooBig { mtu: 1280 },
        C6.into(),
        &inner6,
    )
    .unwrap();
    push(eth(0x86dd, &buf[..n]));
    // An IPIP tunnel frame.
    let mut f = Vec::new();
    PacketBuilder::ethernet2(A, B)
        .ipv4(V4, C4, 9)
        .write(&mut f, etherparse::IpNumber::IPV4, &inner)
        .unwrap();
    push(f);
    // ARP.
    let mut arp = [0u8; 60];
    xvs_wire::arp::build_gratuitous(&mut arp, None, A, V4.into()).unwrap();
    push(arp.to_vec());
    out
}

fn eth(ethertype: u16, ip: &[u8]) -> Vec<u8> {
    let mut f = B.to_vec();
    f.extend_from_slice(&A);
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend_from_slice(ip);
    f
}

/// Runs everything the data plane may do with a parsed frame.
fn exercise(f: &[u8]) {
    let Ok(info) = parse_frame(f) else { return };
    check_offsets(f, &info);
    let err = parse_icmp_error(f, &info);
    let _ = frame::verify_icmp_checksum(f, &info);
    let _ = frame::may_send_icmp_error(f, &info, false);
    if let Ok(Some(e)) = err {
        assert!(info.l4_offset < e.inner_l3_offset);
        assert!(e.inner_l3_offset <= e.inner_l4_offset && e.inner_l4_offset <= e.inner_end);
        assert!(e.inner_end <= f.len());
        let mut g = f.to_vec();
        let mut e2 = e;
        let _ = rewrite::set_icmp_inner_src(&mut g, &info, &mut e2, e.dst, 7);
        let _ = rewrite::set_icmp_inner_dst(&mut g, &info, &mut e2, e.src, 8);
    }
    let (a, b): (IpAddr, IpAddr) = match info.kind {
        FrameKind::Ipv6 => (Ipv6Addr::LOCALHOST.into(), Ipv6Addr::UNSPECIFIED.into()),
        _ => (Ipv4Addr::LOCALHOST.into(), Ipv4Addr::BROADCAST.into()),
    };
    let mut g = f.to_vec();
    let mut i = info;
    if rewrite::set_dst(&mut g, &mut i, a, 1).is_ok() {
        let _ = rewrite::set_src(&mut g, &mut i, b, 2);
        // The rewritten frame still parses to the same shape.
        let again = parse_frame(&g).expect("a rewrite keeps a valid frame valid");
        assert_eq!(
            (again.l4_offset, again.ip_len, again.protocol),
            (i.l4_offset, i.ip_len, i.protocol)
        );
    }
    let _ = rewrite::decrement_hop_limit(&mut g, &mut i);
    let len = g.len();
    let _ = ipip::decap_frame(&mut g, 0..len);
    let mut h = vec![0u8; 40];
    h.extend_from_slice(f);
    let len = h.len();
    let t = ipip::Tunnel::V4(ipip::Ipv4Tunnel {
        src: V4.into(),
        dst: C4.into(),
        ident: 1,
        copy_df: true,
    });
    let _ = ipip::encap_frame(&mut h, 40..len, &t);
}

fn check_offsets(f: &[u8], info: &FrameInfo) {
    assert!(info.l3_offset <= f.len());
    if info.is_ip() {
        assert!(info.l3_offset < info.l4_offset);
        assert!(info.l4_offset <= info.ip_end());
        assert!(info.ip_end() <= f.len());
    }
}

fn ethertype() -> impl Strategy<Value = u16> {
    prop_oneof![
        Just(0x0800u16),
        Just(0x86dd),
        Just(0x0806),
        Just(0x8100),
        Just(0x88a8),
        any::<u16>()
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        exercise(&bytes);
    }

    /// Arbitrary bytes behind a plausible Ethernet header and IP version, so
    /// most cases reach the IP and transport parsers.
    #[test]
    fn arbitrary_ip_payloads(
        et in ethertype(),
        first in prop_oneof![Just(0x45u8), Just(0x46), Just(0x60), any::<u8>()],
        bytes in proptest::collection::vec(any::<u8>(), 0..200),
    ) {
        let mut f = vec![0u8; 12];
        f.extend_from_slice(&et.to_be_bytes());
        f.push(first);
        f.extend_from_slice(&bytes);
        exercise(&f);
    }

    #[test]
    fn mutated_valid_frames(
        which in any::<prop::sample::Index>(),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..6),
        cut in proptest::option::of(any::<prop::sample::Index>()),
    ) {
        let t = templates();
        let mut f = t[which.index(t.len())].clone();
        for (at, byte) in edits {
            let i = at.index(f.len());
            f[i] = byte;
        }
        if let Some(c) = cut {
            let n = c.index(f.len() + 1);
            f.truncate(n);
        }
        exercise(&f);
    }
}

#[test]
fn templates_parse() {
    for f in templates() {
        let info = parse_frame(&f).unwrap();
        check_offsets(&f, &info);
    }
}
