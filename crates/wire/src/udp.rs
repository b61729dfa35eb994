//! UDP header (RFC 768): a validated view over a datagram (the IP payload),
//! checksum over the pseudo-header, and in-place port and pseudo-header
//! rewrites that patch the checksum by RFC 1624.
//!
//! Two UDP rules shape every rewrite here: a computed checksum of zero is
//! sent as 0xFFFF (RFC 768), and an IPv4 checksum of zero means "none sent"
//! and must stay zero after a rewrite, or the receiver would verify a
//! checksum that was never computed. A zero checksum over IPv6 is invalid
//! (RFC 8200 §8.1); we leave it untouched too and let the receiver drop it.

use std::net::IpAddr;

use crate::checksum;
use crate::{ip_proto, WireError};

pub const HEADER_LEN: usize = 8;

pub mod field {
    //! Byte ranges of the header.
    use core::ops::Range;
    pub const SRC_PORT: Range<usize> = 0..2;
    pub const DST_PORT: Range<usize> = 2..4;
    pub const LENGTH: Range<usize> = 4..6;
    pub const CHECKSUM: Range<usize> = 6..8;
}

/// A validated view of a UDP datagram whose length field equals the
/// length of the buffer (the IP payload).
#[derive(Debug, Clone, Copy)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// `buffer` is the whole datagram. The length field must be at least 8
    /// and equal the buffer length: we are stricter than Linux (which trims
    /// to a shorter UDP length) because a forwarder must not pass on bytes
    /// the checksum does not cover.
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        let b = buffer.as_ref();
        if b.len() < HEADER_LEN {
            return Err(WireError::UdpTruncated);
        }
        let len = usize::from(u16::from_be_bytes([b[4], b[5]]));
        if len < HEADER_LEN || len != b.len() {
            return Err(WireError::UdpLengthMismatch);
        }
        Ok(Packet { buffer })
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn b(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    fn u16_at(&self, at: usize) -> u16 {
        u16::from_be_bytes([self.b()[at], self.b()[at + 1]])
    }

    pub fn src_port(&self) -> u16 {
        self.u16_at(field::SRC_PORT.start)
    }

    pub fn dst_port(&self) -> u16 {
        self.u16_at(field::DST_PORT.start)
    }

    pub fn len(&self) -> usize {
        usize::from(self.u16_at(field::LENGTH.start))
    }

    /// Never true for a validated view (the header is 8 bytes); here for
    /// clippy's `len_without_is_empty`.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn checksum(&self) -> u16 {
        self.u16_at(field::CHECKSUM.start)
    }

    pub fn payload(&self) -> &[u8] {
        &self.b()[HEADER_LEN..]
    }

    /// Verifies the checksum; an IPv4 datagram sent without one (zero)
    /// passes, an IPv6 one fails (RFC 8200 §8.1).
    pub fn verify_checksum(&self, src: &IpAddr, dst: &IpAddr) -> bool {
        if self.checksum() == 0 {
            return src.is_ipv4();
        }
        let ph = checksum::pseudo_header(src, dst, ip_proto::UDP, self.b().len());
        checksum::verifies(checksum::sum_bytes(ph, self.b()))
    }
}

/// Applies an RFC 1624 update to a UDP checksum field, keeping "none" (0)
/// as it is and sending a computed zero as 0xFFFF.
pub(crate) fn patch_checksum(b: &mut [u8], at: usize, f: impl FnOnce(u16) -> u16) {
    checksum::patch(b, at, |hc| {
        if hc == 0 {
            0
        } else {
            checksum::udp_wire_value(f(hc))
        }
    });
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    fn bm(&mut self) -> &mut [u8] {
        self.buffer.as_mut()
    }

    fn patch_u16(&mut self, at: usize, new: u16) {
        let old = self.u16_at(at);
        let b = self.bm();
        b[at..at + 2].copy_from_slice(&new.to_be_bytes());
        patch_checksum(b, field::CHECKSUM.start, |hc| {
            checksum::update_u16(hc, old, new)
        });
    }

    pub fn set_src_port(&mut self, port: u16) {
        self.patch_u16(field::SRC_PORT.start, port);
    }

    pub fn set_dst_port(&mut self, port: u16) {
        self.patch_u16(field::DST_PORT.start, port);
    }

    /// Patches the checksum for an address change in the pseudo-header.
    pub fn update_pseudo_header(&mut self, old: &IpAddr, new: &IpAddr) {
        patch_checksum(self.bm(), field::CHECKSUM.start, |hc| {
            checksum::update_addr(hc, old, new)
        });
    }

    /// Computes the checksum from scratch (never leaves it zero).
    pub fn fill_checksum(&mut self, src: &IpAddr, dst: &IpAddr) {
        let len = self.b().len();
        let b = self.bm();
        b[field::CHECKSUM].fill(0);
        let ph = checksum::pseudo_header(src, dst, ip_proto::UDP, len);
        let hc = checksum::udp_wire_value(checksum::finish(checksum::sum_bytes(ph, b)));
        b[field::CHECKSUM].copy_from_slice(&hc.to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::{PacketBuilder, UdpHeader};
    use proptest::prelude::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    fn udp4(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        PacketBuilder::ipv4(src, dst, 64)
            .udp(sport, dport)
            .write(&mut out, payload)
            .unwrap();
        out
    }

    #[test]
    fn getters_match_etherparse() {
        let b = udp4([10, 0, 0, 1], [10, 0, 0, 2], 5353, 53, b"query");
        let p = Packet::new_checked(&b[20..]).unwrap();
        let (h, _) = UdpHeader::from_slice(&b[20..]).unwrap();
        assert_eq!((p.src_port(), p.dst_port(), p.len()), (5353, 53, 13));
        assert_eq!(p.checksum(), h.checksum);
        assert_eq!(p.payload(), b"query");
        assert!(p.verify_checksum(
            &Ipv4Addr::new(10, 0, 0, 1).into(),
            &Ipv4Addr::new(10, 0, 0, 2).into()
        ));
    }

    #[test]
    fn validation_errors() {
        let b = udp4([10, 0, 0, 1], [10, 0, 0, 2], 1, 2, b"abc");
        assert_eq!(
            Packet::new_checked(&b[20..27]).unwrap_err(),
            WireError::UdpTruncated
        );
        assert_eq!(
            Packet::new_checked(&b[20..30]).unwrap_err(),
            WireError::UdpLengthMismatch
        );
        let mut s = b[20..].to_vec();
        s[4..6].copy_from_slice(&7u16.to_be_bytes());
        assert_eq!(
            Packet::new_checked(&s[..]).unwrap_err(),
            WireError::UdpLengthMismatch
        );
    }

    #[test]
    fn zero_checksum_means_none_and_stays_zero() {
        let mut b = udp4([10, 0, 0, 1], [10, 0, 0, 2], 1, 2, b"abc");
        b[26..28].fill(0);
        let mut p = Packet::new_checked(&mut b[20..]).unwrap();
        let (s, d): (IpAddr, IpAddr) = (
            Ipv4Addr::new(10, 0, 0, 1).into(),
            Ipv4Addr::new(10, 0, 0, 2).into(),
        );
        assert!(p.verify_checksum(&s, &d));
        p.set_dst_port(9999);
        p.update_pseudo_header(&d, &Ipv4Addr::new(10, 9, 9, 9).into());
        assert_eq!(p.checksum(), 0);
        // IPv6 forbids a zero checksum.
        let v6: IpAddr = Ipv6Addr::LOCALHOST.into();
        assert!(!p.verify_checksum(&v6, &v6));
    }

    /// Find a payload whose datagram checksum computes to zero, so it is
    /// sent as 0xFFFF, and check a rewrite that leads back to zero keeps
    /// the 0xFFFF form (RFC 768).
    #[test]
    fn computed_zero_is_sent_as_ffff() {
        let (s, d) = ([10, 0, 0, 1], [10, 0, 0, 2]);
        let (si, di): (IpAddr, IpAddr) = (Ipv4Addr::from(s).into(), Ipv4Addr::from(d).into());
        // The payload word W makes the one's-complement total all ones.
        let mut b = udp4(s, d, 1000, 2000, &[0, 0]);
        b[26..28].fill(0);
        let sum = checksum::fold(checksum::sum_bytes(
            checksum::pseudo_header(&si, &di, 17, 10),
            &b[20..],
        ));
        let w = !sum;
        b[28..30].copy_from_slice(&w.to_be_bytes());
        let mut p = Packet::new_checked(&mut b[20..]).unwrap();
        p.fill_checksum(&si, &di);
        assert_eq!(p.checksum(), 0xffff);
        assert!(p.verify_checksum(&si, &di));
        p.set_src_port(1001);
        assert!(p.verify_checksum(&si, &di));
        p.set_src_port(1000);
        assert_eq!(p.checksum(), 0xffff);
    }

    proptest! {
        /// Rewriting ports and addresses incrementally gives the checksum
        /// etherparse computes for the rewritten datagram.
        #[test]
        fn rewrite_matches_full_recompute(
            src in any::<[u8; 4]>(), dst in any::<[u8; 4]>(),
            new_src in any::<[u8; 4]>(), new_dst in any::<[u8; 4]>(),
            sport in any::<u16>(), dport in any::<u16>(),
            new_sport in any::<u16>(), new_dport in any::<u16>(),
            payload in proptest::collection::vec(any::<u8>(), 0..64),
        ) {
            let mut b = udp4(src, dst, sport, dport, &payload);
            let mut p = Packet::new_checked(&mut b[20..]).unwrap();
            p.set_src_port(new_sport);
            p.set_dst_port(new_dport);
            let (os, od): (IpAddr, IpAddr) = (Ipv4Addr::from(src).into(), Ipv4Addr::from(dst).into());
            let (ns, nd): (IpAddr, IpAddr) = (Ipv4Addr::from(new_src).into(), Ipv4Addr::from(new_dst).into());
            p.update_pseudo_header(&os, &ns);
            p.update_pseudo_header(&od, &nd);
            let want = udp4(new_src, new_dst, new_sport, new_dport, &payload);
            prop_assert_eq!(&b[20..], &want[20..]);
        }
    }
}
