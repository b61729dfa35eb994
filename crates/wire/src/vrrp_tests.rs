//! Unit tests of `vrrp`: golden adverts as byte literals (VRRPv2 without
//! and with PASS authentication, VRRPv3 over IPv4 under both checksum
//! conventions, VRRPv3 over IPv6), every rejection reason, and property
//! tests: build → parse round trips and no panics on any input.
//!
//! The golden bytes were computed outside this crate twice: by a short
//! hand-written Python RFC 1071 sum, and by scapy 2.8.0 (`IP()/VRRP()`,
//! `IP()/VRRPv3()`, `IPv6()/VRRPv3()`), which agree byte for byte. One
//! checksum is also worked by hand below (`golden_v3_ipv4_both_conventions`).

use super::*;
use etherparse::{IpNumber, Ipv4Header, Ipv6Header};
use proptest::collection::vec;
use proptest::prelude::*;

const MAC: MacAddr = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56];
const SRC4: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 2);
const VIP4: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 10);
const VIP4B: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 11);
const SRC6: Ipv6Addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1);
const VIP6_LL: Ipv6Addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0x100);
const VIP6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x100);
const IDENT: u16 = 0x1234;

fn src4() -> IpAddr {
    SRC4.into()
}

fn group4() -> IpAddr {
    MULTICAST_V4.into()
}

fn src6() -> IpAddr {
    SRC6.into()
}

fn group6() -> IpAddr {
    MULTICAST_V6.into()
}

/// VRID 51, priority 100, one VIP, interval 1 s, no authentication.
fn v2_no_auth() -> Advert {
    Advert {
        version: 2,
        vrid: 51,
        priority: 100,
        auth_type: AUTH_NONE,
        interval_field: 1,
        addresses: vec![VIP4.into()],
        auth_data: [0; AUTH_LEN],
    }
}

/// The same instance with two VIPs and `auth_type PASS`, `auth_pass secret`.
fn v2_pass() -> Advert {
    Advert {
        auth_type: AUTH_PASS,
        addresses: vec![VIP4.into(), VIP4B.into()],
        auth_data: *b"secret\0\0",
        ..v2_no_auth()
    }
}

/// VRRPv3 VRID 51, priority 100, one VIP, interval 100 cs (1 s).
fn v3_ipv4() -> Advert {
    Advert {
        version: 3,
        vrid: 51,
        priority: 100,
        auth_type: 0,
        interval_field: 100,
        addresses: vec![VIP4.into()],
        auth_data: [0; AUTH_LEN],
    }
}

/// VRRPv3 over IPv6: VRID 7, priority 200, a link-local VIP first (RFC
/// 5798 §5.2.9) and a global one, interval 100 cs.
fn v3_ipv6() -> Advert {
    Advert {
        version: 3,
        vrid: 7,
        priority: 200,
        auth_type: 0,
        interval_field: 100,
        addresses: vec![VIP6_LL.into(), VIP6.into()],
        auth_data: [0; AUTH_LEN],
    }
}

fn message(advert: &Advert, kind: ChecksumKind, src: IpAddr, dst: IpAddr) -> Vec<u8> {
    let mut out = Vec::new();
    build(&mut out, advert, kind, src, dst);
    out
}

fn frame(advert: &Advert, kind: ChecksumKind, src: IpAddr, dst: IpAddr) -> Vec<u8> {
    let dst_mac = if src.is_ipv6() {
        MULTICAST_MAC_V6
    } else {
        MULTICAST_MAC_V4
    };
    let mut out = Vec::new();
    build_frame(&mut out, MAC, dst_mac, src, dst, IDENT, advert, kind);
    out
}

/// parse_frame then parse, as the receive path does.
fn receive(f: &[u8]) -> Result<(Received, Advert, ChecksumMatch), ParseError> {
    let r = parse_frame(f)?;
    let (advert, checks) = parse(&f[r.payload.clone()], r.src, r.dst)?;
    Ok((r, advert, checks))
}

/// Recomputes the IPv4 header checksum after a test edits the header.
fn refill_ipv4_checksum(f: &mut [u8]) {
    ipv4::Packet::new_checked(&mut f[14..])
        .unwrap()
        .fill_checksum();
}

const MESSAGE_ONLY: ChecksumMatch = ChecksumMatch {
    message_only: true,
    pseudo_header: false,
};
const PSEUDO_HEADER: ChecksumMatch = ChecksumMatch {
    message_only: false,
    pseudo_header: true,
};

/// VRRPv2, no authentication: the whole frame keepalived sends.
#[test]
fn golden_v2_no_auth() {
    #[rustfmt::skip]
    let want_msg = [
        0x21, 0x33, 0x64, 0x01, // v2 advert, VRID 51, priority 100, 1 address
        0x00, 0x01, 0xb9, 0x17, // auth none, 1 s, checksum
        0xc0, 0xa8, 0x01, 0x0a, // 192.168.1.10
        0, 0, 0, 0, 0, 0, 0, 0, // auth data
    ];
    let msg = message(&v2_no_auth(), ChecksumKind::MessageOnly, src4(), group4());
    assert_eq!(msg, want_msg);

    #[rustfmt::skip]
    let want_frame = [
        0x01, 0x00, 0x5e, 0x00, 0x00, 0x12, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0x08, 0x00,
        0x45, 0xc0, 0x00, 0x28, 0x12, 0x34, 0x00, 0x00, // TOS c0, 40 bytes, ident, DF clear
        0xff, 0x70, 0x06, 0xb5, // TTL 255, protocol 112, header checksum
        0xc0, 0xa8, 0x01, 0x02, 0xe0, 0x00, 0x00, 0x12,
    ];
    let f = frame(&v2_no_auth(), ChecksumKind::MessageOnly, src4(), group4());
    assert_eq!(f.len(), 60, "54 bytes padded to the Ethernet minimum");
    assert_eq!(f[..34], want_frame);
    assert_eq!(f[34..54], want_msg);
    assert_eq!(f[54..], [0; 6]);

    // etherparse reads the same IPv4 header.
    let (h, _) = Ipv4Header::from_slice(&f[14..]).unwrap();
    assert_eq!(h.dscp.value(), 0xc0 >> 2);
    assert_eq!((h.time_to_live, h.protocol), (255, IpNumber(112)));
    assert_eq!((h.identification, h.dont_fragment), (IDENT, false));
    assert_eq!(h.header_checksum, h.calc_header_checksum());

    let (r, advert, checks) = receive(&f).unwrap();
    assert_eq!(
        r,
        Received {
            src_mac: MAC,
            dst_mac: MULTICAST_MAC_V4,
            src: src4(),
            dst: group4(),
            ttl: 255,
            payload: 34..54,
        }
    );
    assert_eq!(advert, v2_no_auth());
    assert_eq!(advert.interval(), Duration::from_secs(1));
    assert_eq!(checks, MESSAGE_ONLY);
}

/// VRRPv2 with PASS authentication "secret", two addresses.
#[test]
fn golden_v2_pass_auth() {
    #[rustfmt::skip]
    let want = [
        0x21, 0x33, 0x64, 0x02, // v2 advert, VRID 51, priority 100, 2 addresses
        0x01, 0x01, 0xba, 0x16, // auth PASS, 1 s, checksum
        0xc0, 0xa8, 0x01, 0x0a, 0xc0, 0xa8, 0x01, 0x0b,
        b's', b'e', b'c', b'r', b'e', b't', 0, 0, // NUL-padded password
    ];
    let msg = message(&v2_pass(), ChecksumKind::MessageOnly, src4(), group4());
    assert_eq!(msg, want);
    let (advert, checks) = parse(&want, src4(), group4()).unwrap();
    assert_eq!(advert, v2_pass());
    assert_eq!(checks, MESSAGE_ONLY);

    let f = frame(&v2_pass(), ChecksumKind::MessageOnly, src4(), group4());
    assert_eq!(f.len(), 60, "58 bytes padded");
    assert_eq!(f[34..58], want);
    let (r, advert, _) = receive(&f).unwrap();
    assert_eq!(r.payload, 34..58);
    assert_eq!(advert.auth_data, *b"secret\0\0");
}

/// VRRPv3 over IPv4: the same advert under RFC 9568 (message only) and
/// keepalived's default (with the pseudo-header) carries different
/// checksums, and each verifies under its own convention only.
///
/// By hand, 16-bit words of the message with the checksum zeroed:
/// 3133 + 6401 + 0064 + c0a8 + 010a = 1574a, folded 574b; complement a8b4.
/// Pseudo-header: c0a8 + 0102 (src) + e000 + 0012 (dst) + 0070 (112) +
/// 000c (length 12) = 1a238, folded a239; 574b + a239 = f984; complement
/// 067b.
#[test]
fn golden_v3_ipv4_both_conventions() {
    let head = [0x31, 0x33, 0x64, 0x01, 0x00, 0x64]; // v3, VRID 51, prio 100, 1 addr, 100 cs
    let vip = [0xc0, 0xa8, 0x01, 0x0a];
    let rfc9568 = message(&v3_ipv4(), ChecksumKind::MessageOnly, src4(), group4());
    let keepalived = message(&v3_ipv4(), ChecksumKind::PseudoHeader, src4(), group4());
    assert_eq!(rfc9568, [&head[..], &[0xa8, 0xb4], &vip].concat());
    assert_eq!(keepalived, [&head[..], &[0x06, 0x7b], &vip].concat());
    assert_ne!(rfc9568, keepalived);

    let (advert, checks) = parse(&rfc9568, src4(), group4()).unwrap();
    assert_eq!((advert, checks), (v3_ipv4(), MESSAGE_ONLY));
    let (advert, checks) = parse(&keepalived, src4(), group4()).unwrap();
    assert_eq!((advert, checks), (v3_ipv4(), PSEUDO_HEADER));
    assert_eq!(v3_ipv4().interval(), Duration::from_secs(1));

    // The pseudo-header binds the addresses: another destination (a
    // unicast peer) no longer verifies, the message-only sum still does.
    let peer = IpAddr::from([192, 168, 1, 3]);
    assert!(!parse(&keepalived, src4(), peer).unwrap().1.pseudo_header);
    assert_eq!(parse(&rfc9568, src4(), peer).unwrap().1, MESSAGE_ONLY);

    #[rustfmt::skip]
    let want_ip = [
        0x45, 0xc0, 0x00, 0x20, 0x12, 0x34, 0x00, 0x00,
        0xff, 0x70, 0x06, 0xbd, 0xc0, 0xa8, 0x01, 0x02, 0xe0, 0x00, 0x00, 0x12,
    ];
    let f = frame(&v3_ipv4(), ChecksumKind::PseudoHeader, src4(), group4());
    assert_eq!(f.len(), 60);
    assert_eq!(f[14..34], want_ip);
    assert_eq!(f[34..46], keepalived[..]);
    let (r, advert, checks) = receive(&f).unwrap();
    assert_eq!(r.payload, 34..46, "padding is not part of the message");
    assert_eq!((advert, checks), (v3_ipv4(), PSEUDO_HEADER));
}

/// VRRPv3 over IPv6: the whole frame, checksum with the RFC 8200
/// pseudo-header.
#[test]
fn golden_v3_ipv6() {
    #[rustfmt::skip]
    let want = [
        0x33, 0x33, 0x00, 0x00, 0x00, 0x12, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0x86, 0xdd,
        0x6c, 0x00, 0x00, 0x00, 0x00, 0x28, 0x70, 0xff, // tc c0, 40 bytes, next header 112, HL 255
        0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, // fe80::1
        0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x12, // ff02::12
        0x31, 0x07, 0xc8, 0x02, 0x00, 0x64, 0xda, 0x28, // v3, VRID 7, prio 200, 2 addrs, 100 cs
        0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x00,
        0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x00,
    ];
    let f = frame(&v3_ipv6(), ChecksumKind::PseudoHeader, src6(), group6());
    assert_eq!(f, want);

    let (h, _) = Ipv6Header::from_slice(&f[14..]).unwrap();
    assert_eq!((h.traffic_class, h.flow_label.value()), (0xc0, 0));
    assert_eq!((h.next_header, h.hop_limit), (IpNumber(112), 255));
    assert_eq!(h.payload_length, 40);

    let (r, advert, checks) = receive(&f).unwrap();
    assert_eq!(
        (r.src, r.dst, r.ttl, r.payload, r.dst_mac),
        (src6(), group6(), 255, 54..94, MULTICAST_MAC_V6)
    );
    assert_eq!((advert, checks), (v3_ipv6(), PSEUDO_HEADER));
    // Message-only over IPv6 is not RFC 5798, but build does what it is told.
    let msg = message(&v3_ipv6(), ChecksumKind::MessageOnly, src6(), group6());
    assert_eq!(msg[6..8], [0xd8, 0x57]);
    assert_eq!(parse(&msg, src6(), group6()).unwrap().1, MESSAGE_ONLY);
}

#[test]
fn vlan_tags_and_padding_are_skipped() {
    let plain = frame(&v3_ipv4(), ChecksumKind::MessageOnly, src4(), group4());
    let want = receive(&plain).unwrap();
    for tags in [&[0x8100u16][..], &[0x88a8, 0x8100]] {
        let mut f = plain[..12].to_vec();
        for (i, tpid) in tags.iter().enumerate() {
            f.extend_from_slice(&tpid.to_be_bytes());
            f.extend_from_slice(&(100 + i as u16).to_be_bytes());
        }
        f.extend_from_slice(&plain[12..]);
        f.extend_from_slice(&[0xee; 9]); // more trailing junk
        let (r, advert, checks) = receive(&f).unwrap();
        let shift = 4 * tags.len();
        assert_eq!(
            r.payload,
            want.0.payload.start + shift..want.0.payload.end + shift
        );
        assert_eq!((advert, checks), (want.1.clone(), want.2));
    }
}

#[test]
fn v3_reserved_bits_are_ignored() {
    let mut msg = message(&v3_ipv4(), ChecksumKind::MessageOnly, src4(), group4());
    msg[4] |= 0xf0;
    let (advert, checks) = parse(&msg, src4(), group4()).unwrap();
    assert_eq!(advert.interval_field, 100);
    assert!(
        !checks.message_only,
        "the bits are still covered by the checksum"
    );
    // The largest interval: 40.95 s.
    msg[4..6].copy_from_slice(&0xffffu16.to_be_bytes());
    let (advert, _) = parse(&msg, src4(), group4()).unwrap();
    assert_eq!(advert.interval(), Duration::from_millis(40_950));
}

#[test]
fn bad_checksum_is_reported_not_rejected() {
    let mut msg = message(&v2_pass(), ChecksumKind::MessageOnly, src4(), group4());
    msg[7] ^= 0x01;
    let (advert, checks) = parse(&msg, src4(), group4()).unwrap();
    assert_eq!(advert, v2_pass());
    assert_eq!(checks, ChecksumMatch::default());
}

#[test]
fn build_limits() {
    // 300 IPv4 addresses and two IPv6 ones: 255 IPv4 are written.
    let mut advert = v3_ipv4();
    advert.addresses = (0..300u32)
        .map(|i| IpAddr::from(Ipv4Addr::from(i)))
        .collect();
    advert.addresses.insert(3, VIP6.into());
    advert.addresses.push(VIP6.into());
    advert.interval_field = 5000;
    let msg = message(&advert, ChecksumKind::PseudoHeader, src4(), group4());
    assert_eq!(msg.len(), message_len(3, MAX_ADDRESSES, false));
    let (got, checks) = parse(&msg, src4(), group4()).unwrap();
    assert_eq!(got.addresses.len(), 255);
    assert!(got.addresses.iter().all(IpAddr::is_ipv4));
    assert_eq!(got.addresses[254], IpAddr::from(Ipv4Addr::from(254u32)));
    assert_eq!(got.interval_field, MAX_INTERVAL_V3, "clamped, not wrapped");
    assert!(checks.pseudo_header);

    let mut advert = v2_no_auth();
    advert.interval_field = 300;
    let msg = message(&advert, ChecksumKind::MessageOnly, src4(), group4());
    assert_eq!(parse(&msg, src4(), group4()).unwrap().0.interval_field, 255);

    // The biggest advert still makes a frame that parses.
    let mut advert = v3_ipv6();
    advert.addresses = vec![VIP6.into(); 255];
    let f = frame(&advert, ChecksumKind::PseudoHeader, src6(), group6());
    assert_eq!(f.len(), 14 + 40 + message_len(3, 255, true));
    assert_eq!(receive(&f).unwrap().1, advert);
}

/// A caller mixing families gets a frame of the source's family, not a
/// panic, and its checksum matches what is in the frame.
#[test]
fn mixed_families_do_not_panic() {
    let f = frame(&v3_ipv4(), ChecksumKind::PseudoHeader, src4(), group6());
    let (r, _, checks) = receive(&f).unwrap();
    assert_eq!(r.dst, IpAddr::from(Ipv4Addr::UNSPECIFIED));
    assert!(checks.pseudo_header);
    let f = frame(&v3_ipv6(), ChecksumKind::PseudoHeader, src6(), group4());
    let (r, _, checks) = receive(&f).unwrap();
    assert_eq!(r.dst, IpAddr::from(MULTICAST_V4.to_ipv6_mapped()));
    assert!(checks.pseudo_header);
}

#[test]
fn error_not_vrrp() {
    let good = frame(&v2_no_auth(), ChecksumKind::MessageOnly, src4(), group4());
    let not_vrrp = |f: &[u8]| assert_eq!(parse_frame(f), Err(ParseError::NotVrrp));

    let mut f = good.clone();
    f[12..14].copy_from_slice(&ethernet::ethertype::ARP.to_be_bytes());
    not_vrrp(&f);
    // UDP, with a valid header checksum.
    let mut f = good.clone();
    f[14 + 9] = ip_proto::UDP;
    refill_ipv4_checksum(&mut f);
    not_vrrp(&f);
    // Header checksum off by one.
    let mut f = good.clone();
    f[14 + 11] ^= 1;
    not_vrrp(&f);
    // IPv6 version under the IPv4 ethertype, IHL 4, total length < IHL.
    for (at, value) in [(0, 0x65), (0, 0x44), (3, 19)] {
        let mut f = good.clone();
        f[14 + at] = value;
        not_vrrp(&f);
    }
    // IPv6 with a hop-by-hop header before VRRP.
    let mut f = frame(&v3_ipv6(), ChecksumKind::PseudoHeader, src6(), group6());
    f[14 + 6] = ip_proto::HOP_BY_HOP;
    not_vrrp(&f);
    // Three stacked VLAN tags.
    let mut f = good[..12].to_vec();
    for _ in 0..3 {
        f.extend_from_slice(&[0x81, 0x00, 0x00, 0x05]);
    }
    f.extend_from_slice(&good[12..]);
    not_vrrp(&f);
}

#[test]
fn error_fragment() {
    let good = frame(&v2_no_auth(), ChecksumKind::MessageOnly, src4(), group4());
    // MF set; offset 8 bytes; both.
    for flags in [ipv4::FLAG_MF, 0x0001, ipv4::FLAG_MF | 0x0010] {
        let mut f = good.clone();
        f[14 + 6..14 + 8].copy_from_slice(&flags.to_be_bytes());
        refill_ipv4_checksum(&mut f);
        assert_eq!(parse_frame(&f), Err(ParseError::Fragment), "{flags:#x}");
    }
    // DF alone is not a fragment.
    let mut f = good.clone();
    f[14 + 6..14 + 8].copy_from_slice(&ipv4::FLAG_DF.to_be_bytes());
    refill_ipv4_checksum(&mut f);
    assert!(receive(&f).is_ok());
}

#[test]
fn error_truncated() {
    let mut advert = v2_pass();
    advert.addresses.push(IpAddr::from([192, 168, 1, 12]));
    let good = frame(&advert, ChecksumKind::MessageOnly, src4(), group4());
    assert_eq!(good.len(), 62, "unpadded: a cut shortens the IP packet");
    // Ethernet header, VLAN tag, IPv4 header, IPv4 total length.
    for len in [0, 13, 14 + 19, 61] {
        assert_eq!(
            parse_frame(&good[..len]),
            Err(ParseError::Truncated),
            "{len}"
        );
    }
    let tagged = [&good[..12], &[0x81, 0x00, 0x00]].concat();
    assert_eq!(parse_frame(&tagged), Err(ParseError::Truncated));
    // IPv6 header and payload length.
    let good6 = frame(&v3_ipv6(), ChecksumKind::PseudoHeader, src6(), group6());
    for len in [14 + 39, good6.len() - 1] {
        assert_eq!(
            parse_frame(&good6[..len]),
            Err(ParseError::Truncated),
            "{len}"
        );
    }
    // A message shorter than its 8-byte header.
    let msg = message(&v3_ipv4(), ChecksumKind::MessageOnly, src4(), group4());
    for len in 0..HEADER_LEN {
        assert_eq!(
            parse(&msg[..len], src4(), group4()),
            Err(ParseError::Truncated)
        );
    }
}

#[test]
fn error_version() {
    let msg = message(&v2_no_auth(), ChecksumKind::MessageOnly, src4(), group4());
    for byte0 in [0x01, 0x11, 0x41, 0xf1] {
        let mut m = msg.clone();
        m[0] = byte0;
        assert_eq!(parse(&m, src4(), group4()), Err(ParseError::Version));
    }
    // VRRPv2 over IPv6, even with a length right for 16-byte addresses.
    let mut advert = v3_ipv6();
    advert.version = 2;
    let m = message(&advert, ChecksumKind::PseudoHeader, src6(), group6());
    assert_eq!(m.len(), message_len(2, 2, true));
    assert_eq!(parse(&m, src6(), group6()), Err(ParseError::Version));
}

#[test]
fn error_type() {
    let msg = message(&v3_ipv4(), ChecksumKind::MessageOnly, src4(), group4());
    for byte0 in [0x30, 0x32, 0x3f] {
        let mut m = msg.clone();
        m[0] = byte0;
        assert_eq!(parse(&m, src4(), group4()), Err(ParseError::Type));
    }
}

#[test]
fn error_length() {
    let length =
        |m: &[u8], src: IpAddr| assert_eq!(parse(m, src, group4()), Err(ParseError::Length));
    for advert in [v2_no_auth(), v2_pass(), v3_ipv4()] {
        let msg = message(&advert, ChecksumKind::MessageOnly, src4(), group4());
        // A trailing byte, a missing byte, a count one too high or low.
        length(&[&msg[..], &[0]].concat(), src4());
        length(&msg[..msg.len() - 1], src4());
        for count in [msg[3] + 1, msg[3] - 1] {
            let mut m = msg.clone();
            m[3] = count;
            length(&m, src4());
        }
    }
    // An IPv4-sized v3 list received over IPv6.
    let msg = message(&v3_ipv4(), ChecksumKind::MessageOnly, src4(), group4());
    length(&msg, src6());
    // v2 without its auth data.
    let msg = message(&v2_no_auth(), ChecksumKind::MessageOnly, src4(), group4());
    length(&msg[..12], src4());
    // Through the frame path: the IP length says 1 byte more (padding).
    let mut f = frame(&v2_pass(), ChecksumKind::MessageOnly, src4(), group4());
    f.push(0);
    f[14 + 3] += 1;
    refill_ipv4_checksum(&mut f);
    assert_eq!(receive(&f).unwrap_err(), ParseError::Length);
}

#[test]
fn reasons_are_distinct() {
    let all = [
        ParseError::NotVrrp,
        ParseError::Fragment,
        ParseError::Truncated,
        ParseError::Version,
        ParseError::Type,
        ParseError::Length,
    ];
    let mut names: Vec<_> = all.iter().map(|e| e.reason()).collect();
    assert!(names
        .iter()
        .all(|n| n.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')));
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), all.len());
}

#[test]
fn constants() {
    assert_eq!(virtual_mac(51, false), [0x00, 0x00, 0x5e, 0x00, 0x01, 51]);
    assert_eq!(virtual_mac(7, true), [0x00, 0x00, 0x5e, 0x00, 0x02, 7]);
    assert_eq!(crate::ndisc::multicast_mac(&MULTICAST_V6), MULTICAST_MAC_V6);
    let o = MULTICAST_V4.octets();
    assert_eq!(
        MULTICAST_MAC_V4,
        [0x01, 0x00, 0x5e, o[1] & 0x7f, o[2], o[3]]
    );
    assert_eq!(message_len(2, 1, false), 20);
    assert_eq!(message_len(3, 1, false), 12);
    assert_eq!(message_len(3, 2, true), 40);
}

/// An advert, the source and destination it is sent between, and the
/// checksum convention: of every shape `build` supports.
fn any_advert() -> impl Strategy<Value = (Advert, IpAddr, IpAddr, ChecksumKind)> {
    (
        any::<bool>(),
        any::<bool>(),
        (
            any::<u8>(),
            any::<u8>(),
            any::<u8>(),
            any::<[u8; AUTH_LEN]>(),
        ),
        (any::<u8>(), 0..=MAX_INTERVAL_V3),
        vec(any::<[u8; 16]>(), 0..40),
        (any::<[u8; 16]>(), any::<[u8; 16]>(), any::<bool>()),
    )
        .prop_map(
            |(ipv6, v2, (vrid, priority, auth_type, auth), (int2, int3), list, (s, d, pseudo))| {
                let addr = |o: [u8; 16]| -> IpAddr {
                    if ipv6 {
                        Ipv6Addr::from(o).into()
                    } else {
                        Ipv4Addr::new(o[0], o[1], o[2], o[3]).into()
                    }
                };
                let v2 = v2 && !ipv6;
                let advert = Advert {
                    version: if v2 { 2 } else { 3 },
                    vrid,
                    priority,
                    auth_type: if v2 { auth_type } else { 0 },
                    interval_field: if v2 { u16::from(int2) } else { int3 },
                    addresses: list.into_iter().map(addr).collect(),
                    auth_data: if v2 { auth } else { [0; AUTH_LEN] },
                };
                let kind = if pseudo {
                    ChecksumKind::PseudoHeader
                } else {
                    ChecksumKind::MessageOnly
                };
                (advert, addr(s), addr(d), kind)
            },
        )
}

proptest! {
    /// build → parse gives the advert back, verifying under its convention.
    #[test]
    fn round_trip_message((advert, src, dst, kind) in any_advert()) {
        let msg = message(&advert, kind, src, dst);
        let ipv6 = src.is_ipv6();
        prop_assert_eq!(msg.len(), message_len(advert.version, advert.addresses.len(), ipv6));
        let (got, checks) = parse(&msg, src, dst).unwrap();
        prop_assert_eq!(got, advert);
        match kind {
            ChecksumKind::MessageOnly => prop_assert!(checks.message_only),
            ChecksumKind::PseudoHeader => prop_assert!(checks.pseudo_header),
        }
    }

    /// build_frame → parse_frame → parse gives the frame's facts back.
    #[test]
    fn round_trip_frame(
        (advert, src, dst, kind) in any_advert(),
        macs in any::<(MacAddr, MacAddr)>(),
        ident in any::<u16>(),
    ) {
        let mut f = vec![0xaa; 3]; // build_frame appends
        build_frame(&mut f, macs.0, macs.1, src, dst, ident, &advert, kind);
        let f = &f[3..];
        prop_assert!(f.len() >= ethernet::MIN_FRAME_LEN);
        let r = parse_frame(f).unwrap();
        prop_assert_eq!((r.src_mac, r.dst_mac, r.src, r.dst, r.ttl), (macs.0, macs.1, src, dst, TTL));
        let msg = &f[r.payload.clone()];
        prop_assert_eq!(msg, &message(&advert, kind, src, dst)[..]);
        if src.is_ipv4() {
            let p = ipv4::Packet::new_checked(&f[14..]).unwrap();
            prop_assert_eq!((p.ident(), p.tos(), p.dont_fragment()), (ident, TOS, false));
        }
        prop_assert_eq!(parse(msg, src, dst).unwrap().0, advert);
    }

    /// Any byte string, as a frame or as a message of either family.
    #[test]
    fn any_bytes_never_panic(bytes in vec(any::<u8>(), 0..600)) {
        if let Ok(r) = parse_frame(&bytes) {
            let _ = parse(&bytes[r.payload], r.src, r.dst);
        }
        let _ = parse(&bytes, src4(), group4());
        let _ = parse(&bytes, src6(), group6());
    }

    /// A real advert frame, corrupted and cut anywhere: an answer, no panic.
    #[test]
    fn corrupted_frames_never_panic(
        (advert, src, dst, kind) in any_advert(),
        edits in vec((any::<prop::sample::Index>(), any::<u8>()), 0..6),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut f = frame(&advert, kind, src, dst);
        for (at, value) in edits {
            let i = at.index(f.len());
            f[i] = value;
        }
        f.truncate(cut.index(f.len() + 1));
        let _ = receive(&f);
    }
}
