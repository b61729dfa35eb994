//! TCP header (RFC 9293 §3.1): a validated view over a segment (the IP
//! payload), flags, checksum over the pseudo-header, and in-place port and
//! sequence rewrites that patch the checksum by RFC 1624.
//!
//! Address rewrites happen in the IP header, but the TCP checksum covers
//! them through the pseudo-header: [`Packet::update_pseudo_header`] applies
//! that part of the change.

use std::net::IpAddr;

use crate::checksum;
use crate::{ip_proto, WireError};

pub const MIN_HEADER_LEN: usize = 20;

pub mod field {
    //! Byte ranges of the fixed header.
    use core::ops::Range;
    pub const SRC_PORT: Range<usize> = 0..2;
    pub const DST_PORT: Range<usize> = 2..4;
    pub const SEQ: Range<usize> = 4..8;
    pub const ACK: Range<usize> = 8..12;
    pub const DATA_OFFSET: usize = 12;
    pub const FLAGS: usize = 13;
    pub const WINDOW: Range<usize> = 14..16;
    pub const CHECKSUM: Range<usize> = 16..18;
    pub const URGENT: Range<usize> = 18..20;
}

/// Control bits in byte 13 (RFC 9293 §3.1, RFC 3168 §6.1 for ECE/CWR).
pub mod flags {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const PSH: u8 = 0x08;
    pub const ACK: u8 = 0x10;
    pub const URG: u8 = 0x20;
    pub const ECE: u8 = 0x40;
    pub const CWR: u8 = 0x80;
}

/// A validated view of a TCP segment: the header and its options are
/// present (data offset between 5 and the segment length).
#[derive(Debug, Clone, Copy)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

/// Checks the header of a segment (or of the first fragment of one) and
/// returns its length.
pub(crate) fn check_header(b: &[u8]) -> Result<usize, WireError> {
    if b.len() < MIN_HEADER_LEN {
        return Err(WireError::TcpTruncated);
    }
    let header_len = usize::from(b[field::DATA_OFFSET] >> 4) * 4;
    if header_len < MIN_HEADER_LEN {
        return Err(WireError::TcpBadDataOffset);
    }
    if header_len > b.len() {
        return Err(WireError::TcpDataOffsetBeyondPacket);
    }
    Ok(header_len)
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// `buffer` is the whole segment: the IP payload, not the frame tail.
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        check_header(buffer.as_ref())?;
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

    fn u32_at(&self, at: usize) -> u32 {
        let b = self.b();
        u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
    }

    pub fn src_port(&self) -> u16 {
        self.u16_at(field::SRC_PORT.start)
    }

    pub fn dst_port(&self) -> u16 {
        self.u16_at(field::DST_PORT.start)
    }

    pub fn seq_number(&self) -> u32 {
        self.u32_at(field::SEQ.start)
    }

    pub fn ack_number(&self) -> u32 {
        self.u32_at(field::ACK.start)
    }

    pub fn header_len(&self) -> usize {
        usize::from(self.b()[field::DATA_OFFSET] >> 4) * 4
    }

    /// The eight control bits of byte 13 (see [`flags`]).
    pub fn flags(&self) -> u8 {
        self.b()[field::FLAGS]
    }

    pub fn syn(&self) -> bool {
        self.flags() & flags::SYN != 0
    }

    pub fn ack(&self) -> bool {
        self.flags() & flags::ACK != 0
    }

    pub fn fin(&self) -> bool {
        self.flags() & flags::FIN != 0
    }

    pub fn rst(&self) -> bool {
        self.flags() & flags::RST != 0
    }

    pub fn window(&self) -> u16 {
        self.u16_at(field::WINDOW.start)
    }

    pub fn checksum(&self) -> u16 {
        self.u16_at(field::CHECKSUM.start)
    }

    pub fn urgent(&self) -> u16 {
        self.u16_at(field::URGENT.start)
    }

    pub fn options(&self) -> &[u8] {
        &self.b()[MIN_HEADER_LEN..self.header_len()]
    }

    pub fn payload(&self) -> &[u8] {
        &self.b()[self.header_len()..]
    }

    /// The checksum over pseudo-header and segment verifies.
    pub fn verify_checksum(&self, src: &IpAddr, dst: &IpAddr) -> bool {
        let ph = checksum::pseudo_header(src, dst, ip_proto::TCP, self.b().len());
        checksum::verifies(checksum::sum_bytes(ph, self.b()))
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    fn bm(&mut self) -> &mut [u8] {
        self.buffer.as_mut()
    }

    fn patch_u16(&mut self, at: usize, new: u16) {
        let old = self.u16_at(at);
        let b = self.bm();
        b[at..at + 2].copy_from_slice(&new.to_be_bytes());
        checksum::patch(b, field::CHECKSUM.start, |hc| {
            checksum::update_u16(hc, old, new)
        });
    }

    fn patch_u32(&mut self, at: usize, new: u32) {
        let old = self.u32_at(at);
        let b = self.bm();
        b[at..at + 4].copy_from_slice(&new.to_be_bytes());
        checksum::patch(b, field::CHECKSUM.start, |hc| {
            checksum::update_u32(hc, old, new)
        });
    }

    pub fn set_src_port(&mut self, port: u16) {
        self.patch_u16(field::SRC_PORT.start, port);
    }

    pub fn set_dst_port(&mut self, port: u16) {
        self.patch_u16(field::DST_PORT.start, port);
    }

    pub fn set_seq_number(&mut self, seq: u32) {
        self.patch_u32(field::SEQ.start, seq);
    }

    pub fn set_ack_number(&mut self, ack: u32) {
        self.patch_u32(field::ACK.start, ack);
    }

    /// Patches the checksum for an address change in the pseudo-header
    /// (the caller rewrites the IP header itself).
    pub fn update_pseudo_header(&mut self, old: &IpAddr, new: &IpAddr) {
        checksum::patch(self.bm(), field::CHECKSUM.start, |hc| {
            checksum::update_addr(hc, old, new)
        });
    }

    /// Recomputes the checksum from scratch.
    pub fn fill_checksum(&mut self, src: &IpAddr, dst: &IpAddr) {
        let len = self.b().len();
        let b = self.bm();
        b[field::CHECKSUM].fill(0);
        let ph = checksum::pseudo_header(src, dst, ip_proto::TCP, len);
        let hc = checksum::finish(checksum::sum_bytes(ph, b));
        b[field::CHECKSUM].copy_from_slice(&hc.to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::{PacketBuilder, TcpHeader};
    use std::net::{Ipv4Addr, Ipv6Addr};

    const C4: [u8; 4] = [203, 0, 113, 5];
    const V4: [u8; 4] = [192, 0, 2, 10];

    /// An IPv4 SYN with MSS and window-scale options; returns (ip header
    /// length, whole packet).
    fn syn4(payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        PacketBuilder::ipv4(C4, V4, 64)
            .tcp(40000, 80, 0x0102_0304, 64240)
            .syn()
            .options(&[
                etherparse::TcpOptionElement::MaximumSegmentSize(1460),
                etherparse::TcpOptionElement::Noop,
                etherparse::TcpOptionElement::WindowScale(7),
            ])
            .unwrap()
            .write(&mut out, payload)
            .unwrap();
        out
    }

    fn ips() -> (IpAddr, IpAddr) {
        (Ipv4Addr::from(C4).into(), Ipv4Addr::from(V4).into())
    }

    #[test]
    fn getters_match_etherparse() {
        let b = syn4(b"hello");
        let seg = &b[20..];
        let p = Packet::new_checked(seg).unwrap();
        let (h, _) = TcpHeader::from_slice(seg).unwrap();
        assert_eq!((p.src_port(), p.dst_port()), (40000, 80));
        assert_eq!(p.seq_number(), 0x0102_0304);
        assert_eq!(p.ack_number(), 0);
        assert_eq!(p.header_len(), h.header_len());
        assert_eq!(p.header_len(), 28);
        assert_eq!(p.flags(), flags::SYN);
        assert!(p.syn() && !p.ack() && !p.fin() && !p.rst());
        assert_eq!(p.window(), 64240);
        assert_eq!(p.checksum(), h.checksum);
        assert_eq!(p.options(), h.options.as_slice());
        assert_eq!(p.payload(), b"hello");
        let (s, d) = ips();
        assert!(p.verify_checksum(&s, &d));
        assert!(!p.verify_checksum(&d, &Ipv4Addr::new(1, 1, 1, 1).into()));
    }

    #[test]
    fn validation_errors() {
        let b = syn4(&[]);
        let seg = &b[20..];
        assert_eq!(
            Packet::new_checked(&seg[..19]).unwrap_err(),
            WireError::TcpTruncated
        );
        let mut s = seg.to_vec();
        s[12] = 0x40;
        assert_eq!(
            Packet::new_checked(&s[..]).unwrap_err(),
            WireError::TcpBadDataOffset
        );
        assert_eq!(
            Packet::new_checked(&seg[..27]).unwrap_err(),
            WireError::TcpDataOffsetBeyondPacket
        );
    }

    #[test]
    fn nat_rewrite_matches_etherparse_checksum() {
        let mut b = syn4(b"payload!");
        let (old_src, old_dst) = ips();
        let rip: IpAddr = Ipv4Addr::new(10, 0, 0, 7).into();
        let lip: IpAddr = Ipv4Addr::new(10, 0, 0, 250).into();
        {
            let mut p = Packet::new_checked(&mut b[20..]).unwrap();
            p.set_dst_port(8080);
            p.set_src_port(61000);
            p.set_seq_number(0xfeed_f00d);
            p.set_ack_number(7);
            p.update_pseudo_header(&old_dst, &rip);
            p.update_pseudo_header(&old_src, &lip);
            assert!(p.verify_checksum(&lip, &rip));
        }
        // Recompute what etherparse expects for the rewritten packet.
        let mut out = Vec::new();
        PacketBuilder::ipv4([10, 0, 0, 250], [10, 0, 0, 7], 64)
            .tcp(61000, 8080, 0xfeed_f00d, 64240)
            .syn()
            .options(&[
                etherparse::TcpOptionElement::MaximumSegmentSize(1460),
                etherparse::TcpOptionElement::Noop,
                etherparse::TcpOptionElement::WindowScale(7),
            ])
            .unwrap()
            .write(&mut out, b"payload!")
            .unwrap();
        out[28..32].copy_from_slice(&7u32.to_be_bytes());
        let mut want = Packet::new_checked(&mut out[20..]).unwrap();
        want.fill_checksum(&lip, &rip);
        assert_eq!(b[20..], out[20..]);
    }

    #[test]
    fn ipv6_checksum_and_rewrite() {
        let a = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
        let v = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x80);
        let r = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 7);
        let mut b = Vec::new();
        PacketBuilder::ipv6(a.octets(), v.octets(), 64)
            .tcp(5555, 443, 1, 100)
            .ack(9)
            .write(&mut b, &[1, 2, 3])
            .unwrap();
        let mut p = Packet::new_checked(&mut b[40..]).unwrap();
        assert!(p.verify_checksum(&a.into(), &v.into()));
        p.update_pseudo_header(&v.into(), &r.into());
        p.set_dst_port(8443);
        assert!(p.verify_checksum(&a.into(), &r.into()));
    }
}
