//! Tests of the PING_CHECK echo requests and reply matching.

use proptest::prelude::*;

use super::*;

const TARGET: Ipv4Addr = Ipv4Addr::new(198, 18, 1, 11);
const US: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
const ROUTER: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 254);
const TARGET6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 0x11);
const US6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 1);
const ROUTER6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 0xfe);
const ID: u16 = 0x1234;
const SEQ: u16 = 7;

/// RFC 1071 by the book, independent of xvs-wire: the one's-complement sum
/// of 16-bit words, an odd byte padded with zero.
fn rfc1071_sum(bytes: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    for pair in bytes.chunks(2) {
        let hi = u32::from(pair[0]) << 8;
        let lo = pair.get(1).map_or(0, |&b| u32::from(b));
        sum += hi | lo;
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum as u16
}

/// An IPv4 packet with `extra_ihl` words of options and the given flags.
fn ipv4(src: Ipv4Addr, dst: Ipv4Addr, payload: &[u8], extra_ihl: u8, flags_frag: u16) -> Vec<u8> {
    let header_len = 20 + 4 * usize::from(extra_ihl);
    let total = (header_len + payload.len()) as u16;
    let mut p = vec![0x45 + extra_ihl, 0];
    p.extend_from_slice(&total.to_be_bytes());
    p.extend_from_slice(&[0, 1]);
    p.extend_from_slice(&flags_frag.to_be_bytes());
    p.extend_from_slice(&[64, ip_proto::ICMP, 0, 0]);
    p.extend_from_slice(&src.octets());
    p.extend_from_slice(&dst.octets());
    p.resize(header_len, 1); // NOP options
    p.extend_from_slice(payload);
    p
}

/// An ICMP message with a valid checksum.
fn icmp_msg(msg_type: u8, code: u8, rest: [u8; 4], body: &[u8]) -> Vec<u8> {
    let mut m = vec![msg_type, code, 0, 0];
    m.extend_from_slice(&rest);
    m.extend_from_slice(body);
    let sum = !rfc1071_sum(&m);
    m[2..4].copy_from_slice(&sum.to_be_bytes());
    m
}

fn echo_reply_v4(id: u16, seq: u16) -> Vec<u8> {
    let [i0, i1] = id.to_be_bytes();
    let [s0, s1] = seq.to_be_bytes();
    icmp_msg(0, 0, [i0, i1, s0, s1], b"payload")
}

/// An ICMP error from ROUTER quoting our request to `dst` (IP header and
/// the first 8 bytes of the ICMP message, as RFC 792 asks).
fn error_v4(msg_type: u8, code: u8, dst: Ipv4Addr, id: u16, seq: u16) -> Vec<u8> {
    let request = echo_request_v4(id, seq, b"0123456789abcdef");
    let mut quote = ipv4(US, dst, &request, 0, 0);
    quote.truncate(20 + 8);
    ipv4(ROUTER, US, &icmp_msg(msg_type, code, [0; 4], &quote), 0, 0)
}

#[test]
fn echo_request_v4_golden() {
    assert_eq!(
        echo_request_v4(0x1234, 1, b"abcdefgh"),
        [
            8, 0, 0x54, 0x35, 0x12, 0x34, 0x00, 0x01, b'a', b'b', b'c', b'd', b'e', b'f', b'g',
            b'h'
        ]
    );
}

#[test]
fn echo_request_v4_checksum_verifies() {
    for payload in [&b""[..], b"a", b"abcdefg", &[0xff; 56]] {
        let msg = echo_request_v4(0xbeef, 0xfffe, payload);
        assert_eq!(rfc1071_sum(&msg), 0xffff, "payload of {}", payload.len());
        assert!(icmp::Packet::new_checked(&msg[..])
            .unwrap()
            .verify_checksum());
    }
}

#[test]
fn echo_request_v6_leaves_the_checksum_to_the_kernel() {
    assert_eq!(
        echo_request_v6(0x1234, 2, b"xy"),
        [128, 0, 0, 0, 0x12, 0x34, 0x00, 0x02, b'x', b'y']
    );
}

#[test]
fn echo_reply_from_the_target_passes() {
    let packet = ipv4(TARGET, US, &echo_reply_v4(ID, SEQ), 0, 0);
    assert_eq!(
        match_reply_v4(&packet, TARGET, ID, SEQ),
        Some(Outcome::pass())
    );
}

#[test]
fn echo_reply_behind_ip_options_passes() {
    let packet = ipv4(TARGET, US, &echo_reply_v4(ID, SEQ), 2, 0);
    assert_eq!(
        match_reply_v4(&packet, TARGET, ID, SEQ),
        Some(Outcome::pass())
    );
}

#[test]
fn other_replies_are_not_ours() {
    let cases = [
        (
            "other id",
            ipv4(TARGET, US, &echo_reply_v4(ID + 1, SEQ), 0, 0),
        ),
        (
            "other seq",
            ipv4(TARGET, US, &echo_reply_v4(ID, SEQ + 1), 0, 0),
        ),
        (
            "other source",
            ipv4(ROUTER, US, &echo_reply_v4(ID, SEQ), 0, 0),
        ),
        // Our own request, seen on the raw socket when pinging a local address.
        (
            "a request",
            ipv4(US, TARGET, &echo_request_v4(ID, SEQ, b"x"), 0, 0),
        ),
        (
            "a fragment",
            ipv4(TARGET, US, &echo_reply_v4(ID, SEQ), 0, 0x2000),
        ),
    ];
    for (what, packet) in cases {
        assert_eq!(match_reply_v4(&packet, TARGET, ID, SEQ), None, "{what}");
    }
}

#[test]
fn corrupt_replies_are_ignored() {
    let mut reply = echo_reply_v4(ID, SEQ);
    reply[9] ^= 1;
    assert_eq!(
        match_reply_v4(&ipv4(TARGET, US, &reply, 0, 0), TARGET, ID, SEQ),
        None
    );
}

#[test]
fn non_icmp_packets_are_ignored() {
    let mut packet = ipv4(TARGET, US, &echo_reply_v4(ID, SEQ), 0, 0);
    packet[9] = ip_proto::UDP;
    assert_eq!(match_reply_v4(&packet, TARGET, ID, SEQ), None);
}

#[test]
fn errors_quoting_our_request_fail() {
    assert_eq!(
        match_reply_v4(&error_v4(3, 1, TARGET, ID, SEQ), TARGET, ID, SEQ),
        Some(Outcome::fail("ICMP destination unreachable (code 1)"))
    );
    assert_eq!(
        match_reply_v4(&error_v4(11, 0, TARGET, ID, SEQ), TARGET, ID, SEQ),
        Some(Outcome::fail("ICMP time exceeded (code 0)"))
    );
    assert_eq!(
        match_reply_v4(&error_v4(12, 0, TARGET, ID, SEQ), TARGET, ID, SEQ),
        Some(Outcome::fail("ICMP parameter problem (code 0)"))
    );
}

#[test]
fn errors_about_other_requests_are_ignored() {
    let cases = [
        ("other target", error_v4(3, 1, ROUTER, ID, SEQ)),
        ("other id", error_v4(3, 1, TARGET, ID + 1, SEQ)),
        ("other seq", error_v4(3, 1, TARGET, ID, SEQ + 1)),
        ("source quench", error_v4(4, 0, TARGET, ID, SEQ)),
        ("redirect", error_v4(5, 1, TARGET, ID, SEQ)),
    ];
    for (what, packet) in cases {
        assert_eq!(match_reply_v4(&packet, TARGET, ID, SEQ), None, "{what}");
    }
}

#[test]
fn every_truncation_of_a_valid_packet_is_ignored() {
    for packet in [
        ipv4(TARGET, US, &echo_reply_v4(ID, SEQ), 0, 0),
        error_v4(3, 1, TARGET, ID, SEQ),
    ] {
        for len in 0..packet.len() {
            assert_eq!(
                match_reply_v4(&packet[..len], TARGET, ID, SEQ),
                None,
                "{len} bytes"
            );
        }
    }
}

fn echo_reply_v6(id: u16, seq: u16) -> Vec<u8> {
    let mut m = echo_request_v6(id, seq, b"payload");
    m[0] = 129;
    m
}

/// An ICMPv6 error quoting our request to `dst`, as much as fits.
fn error_v6(msg_type: u8, code: u8, dst: Ipv6Addr, id: u16, seq: u16) -> Vec<u8> {
    let request = echo_request_v6(id, seq, b"0123456789abcdef");
    let mut m = vec![msg_type, code, 0, 0, 0, 0, 0, 0];
    m.extend_from_slice(&[0x60, 0, 0, 0]);
    m.extend_from_slice(&(request.len() as u16).to_be_bytes());
    m.extend_from_slice(&[ip_proto::ICMPV6, 64]);
    m.extend_from_slice(&US6.octets());
    m.extend_from_slice(&dst.octets());
    m.extend_from_slice(&request);
    m
}

#[test]
fn echo_reply_v6_from_the_target_passes() {
    assert_eq!(
        match_reply_v6(&echo_reply_v6(ID, SEQ), TARGET6, TARGET6, ID, SEQ),
        Some(Outcome::pass())
    );
}

#[test]
fn other_v6_messages_are_not_ours() {
    let cases = [
        ("other source", echo_reply_v6(ID, SEQ), ROUTER6),
        ("other id", echo_reply_v6(ID + 1, SEQ), TARGET6),
        ("other seq", echo_reply_v6(ID, SEQ + 1), TARGET6),
        ("our request", echo_request_v6(ID, SEQ, b"x"), TARGET6),
        ("packet too big", error_v6(2, 0, TARGET6, ID, SEQ), ROUTER6),
        (
            "neighbour solicitation",
            vec![135, 0, 0, 0, 0, 0, 0, 0],
            TARGET6,
        ),
        (
            "error about another target",
            error_v6(1, 3, ROUTER6, ID, SEQ),
            ROUTER6,
        ),
        (
            "error about another id",
            error_v6(1, 3, TARGET6, ID + 1, SEQ),
            ROUTER6,
        ),
    ];
    for (what, msg, from) in cases {
        assert_eq!(match_reply_v6(&msg, from, TARGET6, ID, SEQ), None, "{what}");
    }
}

#[test]
fn v6_errors_quoting_our_request_fail() {
    assert_eq!(
        match_reply_v6(&error_v6(1, 3, TARGET6, ID, SEQ), ROUTER6, TARGET6, ID, SEQ),
        Some(Outcome::fail("ICMPv6 destination unreachable (code 3)"))
    );
    assert_eq!(
        match_reply_v6(&error_v6(3, 0, TARGET6, ID, SEQ), ROUTER6, TARGET6, ID, SEQ),
        Some(Outcome::fail("ICMPv6 time exceeded (code 0)"))
    );
    assert_eq!(
        match_reply_v6(&error_v6(4, 1, TARGET6, ID, SEQ), ROUTER6, TARGET6, ID, SEQ),
        Some(Outcome::fail("ICMPv6 parameter problem (code 1)"))
    );
}

#[test]
fn every_truncation_of_a_valid_v6_message_is_ignored() {
    let reply = echo_reply_v6(ID, SEQ);
    for len in 0..8 {
        assert_eq!(
            match_reply_v6(&reply[..len], TARGET6, TARGET6, ID, SEQ),
            None,
            "{len}"
        );
    }
    let error = error_v6(1, 3, TARGET6, ID, SEQ);
    for len in 0..(8 + 40 + 8) {
        assert_eq!(
            match_reply_v6(&error[..len], ROUTER6, TARGET6, ID, SEQ),
            None,
            "{len}"
        );
    }
}

proptest! {
    /// Fuzz: arbitrary packets never panic, and only a packet that carries
    /// our id and seq somewhere can be judged.
    #[test]
    fn arbitrary_v4_packets_never_panic(
        bytes in proptest::collection::vec(any::<u8>(), 0..128),
    ) {
        if match_reply_v4(&bytes, TARGET, ID, SEQ).is_some() {
            let needle = [ID.to_be_bytes(), SEQ.to_be_bytes()].concat();
            prop_assert!(bytes.windows(4).any(|w| w == needle));
        }
    }

    #[test]
    fn arbitrary_v6_messages_never_panic(
        bytes in proptest::collection::vec(any::<u8>(), 0..128),
    ) {
        if match_reply_v6(&bytes, ROUTER6, TARGET6, ID, SEQ).is_some() {
            let needle = [ID.to_be_bytes(), SEQ.to_be_bytes()].concat();
            prop_assert!(bytes.windows(4).any(|w| w == needle));
        }
    }

    /// Fuzz near valid input: packets with one byte changed never panic.
    #[test]
    fn mutated_replies_never_panic(at in 0usize..64, value in any::<u8>()) {
        for packet in [ipv4(TARGET, US, &echo_reply_v4(ID, SEQ), 0, 0), error_v4(3, 1, TARGET, ID, SEQ)] {
            let mut p = packet.clone();
            let at = at % p.len();
            p[at] = value;
            let _ = match_reply_v4(&p, TARGET, ID, SEQ);
        }
        let mut m = error_v6(1, 3, TARGET6, ID, SEQ);
        let at = at % m.len();
        m[at] = value;
        let _ = match_reply_v6(&m, ROUTER6, TARGET6, ID, SEQ);
    }
}
