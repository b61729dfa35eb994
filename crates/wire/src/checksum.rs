//! The Internet checksum: RFC 1071 one's-complement sums, the IPv4 and IPv6
//! pseudo-headers (RFC 9293 §3.1, RFC 768, RFC 8200 §8.1) and RFC 1624
//! incremental updates.
//!
//! Every in-place rewrite in xvs patches checksums with [`update_u16`],
//! [`update_u32`] or [`update_bytes`] instead of re-summing the packet, so the
//! cost of a NAT rewrite does not depend on the payload length.
//!
//! Conventions: a *sum* (`u32`) is an unfolded one's-complement accumulator;
//! [`fold`] reduces it to 16 bits; a *checksum* (`u16`) is the complement of
//! a folded sum, as carried in headers.

use crate::family::to_v6;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Adds `data` to the running sum `initial` (RFC 1071 §4.1).
///
/// Words are taken big-endian; an odd trailing byte is padded with a zero
/// low byte, as RFC 1071 specifies, so `data` must start on an even offset
/// of the summed message. Works on 32-bit words and folds at the end: the
/// two halves of a 32-bit word add up to the same one's-complement sum as
/// two 16-bit words, since 2^16 = 1 (mod 2^16 - 1).
pub fn sum_bytes(initial: u32, data: &[u8]) -> u32 {
    let mut acc = u64::from(initial);
    let mut words = data.chunks_exact(4);
    for w in &mut words {
        acc += u64::from(u32::from_be_bytes([w[0], w[1], w[2], w[3]]));
    }
    let rest = words.remainder();
    let mut tail = [0u8; 4];
    tail[..rest.len()].copy_from_slice(rest);
    acc += u64::from(u32::from_be_bytes(tail));
    fold64(acc)
}

/// Folds a 64-bit accumulator to at most 17 bits and hands back a `u32`
/// that can keep accumulating without overflow.
fn fold64(mut acc: u64) -> u32 {
    while acc >> 32 != 0 {
        acc = (acc & 0xffff_ffff) + (acc >> 32);
    }
    // acc < 2^32 now; one more fold keeps the result small.
    let acc = (acc & 0xffff) + (acc >> 16);
    // acc <= 0xffff + 0xffff < 2^32: fits in u32.
    acc as u32
}

/// Folds the carries of a sum into 16 bits (end-around carry).
#[inline]
pub fn fold(sum: u32) -> u16 {
    // Two end-around carries always suffice for 32 bits: the first leaves
    // at most 0xffff + 0xffff, the second at most 0xffff. No loop, no branch.
    let sum = (sum & 0xffff) + (sum >> 16);
    let sum = (sum & 0xffff) + (sum >> 16);
    sum as u16
}

/// The checksum of a message: the complement of its folded sum.
pub fn checksum(data: &[u8]) -> u16 {
    !fold(sum_bytes(0, data))
}

/// Finishes a sum into a header checksum value.
pub fn finish(sum: u32) -> u16 {
    !fold(sum)
}

/// True when a message whose checksum field is included in `sum` verifies:
/// the one's-complement sum of everything is all ones (RFC 1071 §1).
pub fn verifies(sum: u32) -> bool {
    fold(sum) == 0xffff
}

/// Sum of the IPv4 pseudo-header (RFC 9293 §3.1, RFC 768): source,
/// destination, zero, protocol, and the 16-bit upper-layer length.
pub fn pseudo_header_v4(src: Ipv4Addr, dst: Ipv4Addr, protocol: u8, length: u16) -> u32 {
    let s = src.octets();
    let d = dst.octets();
    u32::from(u16::from_be_bytes([s[0], s[1]]))
        + u32::from(u16::from_be_bytes([s[2], s[3]]))
        + u32::from(u16::from_be_bytes([d[0], d[1]]))
        + u32::from(u16::from_be_bytes([d[2], d[3]]))
        + u32::from(protocol)
        + u32::from(length)
}

/// Sum of the IPv6 pseudo-header (RFC 8200 §8.1): source, destination,
/// 32-bit upper-layer length, three zero bytes and the next header.
pub fn pseudo_header_v6(src: &Ipv6Addr, dst: &Ipv6Addr, next_header: u8, length: u32) -> u32 {
    let sum = sum_bytes(0, &src.octets());
    let sum = sum_bytes(sum, &dst.octets());
    sum + (length >> 16) + (length & 0xffff) + u32::from(next_header)
}

/// Pseudo-header sum for either family. A real packet never mixes
/// families; if a caller does, the IPv4 side is summed as its IPv4-mapped
/// IPv6 address rather than panicking.
pub fn pseudo_header(src: &IpAddr, dst: &IpAddr, protocol: u8, length: usize) -> u32 {
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            // Callers pass IPv4 payload lengths, which are below 2^16; the
            // `as` keeps the sum defined for anything larger.
            pseudo_header_v4(*s, *d, protocol, length as u16)
        }
        _ => pseudo_header_v6(&to_v6(*src), &to_v6(*dst), protocol, length as u32),
    }
}

/// RFC 1624 for an address of either family (pseudo-header changes).
pub fn update_addr(checksum: u16, old: &IpAddr, new: &IpAddr) -> u16 {
    match (old, new) {
        (IpAddr::V4(o), IpAddr::V4(n)) => update_ipv4_addr(checksum, *o, *n),
        _ => update_ipv6_addr(checksum, &to_v6(*old), &to_v6(*new)),
    }
}

/// Reads the big-endian checksum at `at`, lets `f` compute the new value and
/// stores it. Callers guarantee `at + 2 <= buf.len()` (a validated view).
pub(crate) fn patch(buf: &mut [u8], at: usize, f: impl FnOnce(u16) -> u16) {
    let old = u16::from_be_bytes([buf[at], buf[at + 1]]);
    buf[at..at + 2].copy_from_slice(&f(old).to_be_bytes());
}

/// RFC 1624 eqn. 3: the new checksum after one 16-bit word of the covered
/// data changes from `old` to `new`: `HC' = ~(~HC + ~m + m')`.
///
/// Unlike eqn. 2 of RFC 1141 this never produces the wrong zero: for data
/// that is not all zeros the result is the one a full recompute gives.
#[inline]
pub fn update_u16(checksum: u16, old: u16, new: u16) -> u16 {
    let sum = u32::from(!checksum) + u32::from(!old) + u32::from(new);
    !fold(sum)
}

/// RFC 1624 for a 32-bit field (two adjacent aligned words).
#[inline]
pub fn update_u32(checksum: u16, old: u32, new: u32) -> u16 {
    let sum = u32::from(!checksum)
        + u32::from(!(old >> 16) as u16)
        + u32::from(!(old as u16))
        + (new >> 16)
        + (new & 0xffff);
    !fold(sum)
}

/// RFC 1624 for a run of words replaced at once (an address, a port pair).
///
/// `old` and `new` must have the same length and start on an even offset
/// of the covered data; a shorter `new` is treated as zero-padded, which is
/// what the sum of the bytes that are really there would see.
pub fn update_bytes(checksum: u16, old: &[u8], new: &[u8]) -> u16 {
    // ~old summed word by word is the one's-complement negation of the sum
    // of old: !fold(sum(old)) subtracts it in one step.
    let removed = u32::from(!fold(sum_bytes(0, old)));
    let added = sum_bytes(0, new);
    !fold(u32::from(!checksum) + removed + added)
}

/// RFC 1624 for an IPv4 address in the covered data or pseudo-header.
pub fn update_ipv4_addr(checksum: u16, old: Ipv4Addr, new: Ipv4Addr) -> u16 {
    update_u32(checksum, u32::from(old), u32::from(new))
}

/// RFC 1624 for an IPv6 address in the covered data or pseudo-header.
pub fn update_ipv6_addr(checksum: u16, old: &Ipv6Addr, new: &Ipv6Addr) -> u16 {
    update_bytes(checksum, &old.octets(), &new.octets())
}

/// RFC 768: a UDP checksum that computes to zero is sent as all ones, since
/// zero on the wire means "no checksum" (IPv4) or is invalid (RFC 8200 §8.1).
#[inline]
pub fn udp_wire_value(checksum: u16) -> u16 {
    if checksum == 0 {
        0xffff
    } else {
        checksum
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// RFC 1071 §3 worked example: bytes 00 01 f2 03 f4 f5 f6 f7 sum to ddf2.
    #[test]
    fn rfc1071_example() {
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(fold(sum_bytes(0, &data)), 0xddf2);
        assert_eq!(checksum(&data), !0xddf2);
    }

    #[test]
    fn odd_length_pads_low_byte() {
        assert_eq!(fold(sum_bytes(0, &[0x12])), 0x1200);
        assert_eq!(fold(sum_bytes(0, &[0x12, 0x34, 0x56])), 0x1234 + 0x5600);
        // The 32-bit chunking gives the same answer as plain 16-bit words.
        let data: Vec<u8> = (0..=255u8).chain(0..=100).collect();
        let mut naive: u32 = 0;
        for c in data.chunks(2) {
            let hi = u32::from(c[0]) << 8;
            let lo = c.get(1).map_or(0, |&b| u32::from(b));
            naive += hi | lo;
        }
        assert_eq!(fold(sum_bytes(0, &data)), fold(naive));
    }

    /// A real IPv4 header (Wikipedia's classic example) checksums to b861.
    #[test]
    fn ipv4_header_example() {
        let hdr = [
            0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00, 0xc0, 0xa8,
            0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
        ];
        assert_eq!(checksum(&hdr), 0xb861);
        let mut with = hdr;
        with[10..12].copy_from_slice(&0xb861u16.to_be_bytes());
        assert!(verifies(sum_bytes(0, &with)));
    }

    /// RFC 1624 §4 example: HC = 0xDD2F, m = 0x5555 -> m' = 0x3285 gives 0x0000.
    #[test]
    fn rfc1624_example() {
        assert_eq!(update_u16(0xdd2f, 0x5555, 0x3285), 0x0000);
    }

    #[test]
    fn pseudo_headers_match_etherparse() {
        use etherparse::{Ipv4Header, Ipv6Header, UdpHeader};
        let payload = [1u8, 2, 3, 4, 5];
        let udp = UdpHeader::without_ipv4_checksum(1000, 53, payload.len()).unwrap();
        let ip4 = Ipv4Header::new(
            13,
            64,
            etherparse::IpNumber::UDP,
            [10, 0, 0, 1],
            [10, 0, 0, 2],
        )
        .unwrap();
        let want = udp.calc_checksum_ipv4(&ip4, &payload).unwrap();
        let mut msg = udp.to_bytes().to_vec();
        msg.extend_from_slice(&payload);
        let ours = pseudo_header_v4([10, 0, 0, 1].into(), [10, 0, 0, 2].into(), 17, 13);
        assert_eq!(udp_wire_value(finish(sum_bytes(ours, &msg))), want);

        let ip6 = Ipv6Header {
            traffic_class: 0,
            flow_label: Default::default(),
            payload_length: 13,
            next_header: etherparse::IpNumber::UDP,
            hop_limit: 64,
            source: [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
            destination: [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2],
        };
        let want6 = udp.calc_checksum_ipv6(&ip6, &payload).unwrap();
        let ours6 = pseudo_header_v6(&ip6.source.into(), &ip6.destination.into(), 17, 13);
        assert_eq!(udp_wire_value(finish(sum_bytes(ours6, &msg))), want6);
    }

    fn word_at(data: &[u8], i: usize) -> u16 {
        u16::from_be_bytes([data[i], data[i + 1]])
    }

    proptest! {
        /// Replacing one aligned word: incremental == full recompute.
        #[test]
        fn update_u16_matches_recompute(
            mut data in proptest::collection::vec(any::<u8>(), 2..200),
            idx in any::<prop::sample::Index>(),
            new in any::<u16>(),
        ) {
            // Keep the data non-zero: the all-zero message is the one case
            // where one's complement has two zeros (RFC 1624 §3).
            data[0] |= 1;
            let words = data.len() / 2;
            let i = idx.index(words) * 2;
            prop_assume!(i != 0);
            let hc = checksum(&data);
            let old = word_at(&data, i);
            data[i..i + 2].copy_from_slice(&new.to_be_bytes());
            prop_assert_eq!(update_u16(hc, old, new), checksum(&data));
        }

        /// Replacing an aligned 32-bit field or a 16-byte address.
        #[test]
        fn update_wide_matches_recompute(
            mut data in proptest::collection::vec(any::<u8>(), 40..120),
            new32 in any::<u32>(),
            new128 in any::<[u8; 16]>(),
        ) {
            data[0] |= 1;
            let hc = checksum(&data);
            let old32 = u32::from_be_bytes([data[4], data[5], data[6], data[7]]);
            data[4..8].copy_from_slice(&new32.to_be_bytes());
            let hc = update_u32(hc, old32, new32);
            prop_assert_eq!(hc, checksum(&data));
            let old128: [u8; 16] = data[20..36].try_into().unwrap();
            data[20..36].copy_from_slice(&new128);
            let hc = update_ipv6_addr(hc, &Ipv6Addr::from(old128), &Ipv6Addr::from(new128));
            prop_assert_eq!(hc, checksum(&data));
        }

        /// UDP: with the 0 -> 0xFFFF rule applied to both, the incremental
        /// update of a UDP-style checksum matches a full recompute even when
        /// the stored value is the all-ones form of zero.
        #[test]
        fn udp_rule_survives_updates(
            mut data in proptest::collection::vec(any::<u8>(), 8..64),
            new in any::<u16>(),
        ) {
            data[0] |= 1;
            let hc = udp_wire_value(checksum(&data));
            let old = word_at(&data, 2);
            data[2..4].copy_from_slice(&new.to_be_bytes());
            prop_assert_eq!(
                udp_wire_value(update_u16(hc, old, new)),
                udp_wire_value(checksum(&data))
            );
        }
    }
}
