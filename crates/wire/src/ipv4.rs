//! IPv4 header (RFC 791 §3.1): a validated view with options, setters that
//! keep the header checksum right by RFC 1624 incremental update, and a
//! [`Repr`] that writes a fresh option-less header (tunnels, ICMP errors).

use std::net::Ipv4Addr;

use crate::checksum;
use crate::WireError;

/// Header length without options.
pub const MIN_HEADER_LEN: usize = 20;
/// Largest total length the 16-bit field can express.
pub const MAX_TOTAL_LEN: usize = 0xffff;

pub mod field {
    //! Byte ranges of the fixed header.
    use core::ops::Range;
    pub const VER_IHL: usize = 0;
    pub const TOS: usize = 1;
    pub const TOTAL_LEN: Range<usize> = 2..4;
    pub const IDENT: Range<usize> = 4..6;
    pub const FLAGS_FRAG: Range<usize> = 6..8;
    pub const TTL: usize = 8;
    pub const PROTOCOL: usize = 9;
    pub const CHECKSUM: Range<usize> = 10..12;
    pub const SRC: Range<usize> = 12..16;
    pub const DST: Range<usize> = 16..20;
}

/// Flag bits in the flags/fragment-offset word.
pub const FLAG_DF: u16 = 0x4000;
pub const FLAG_MF: u16 = 0x2000;
const FRAG_OFFSET_MASK: u16 = 0x1fff;

/// A validated view of an IPv4 packet: the header and options are all
/// present and `IHL x 4 <= total length <= buffer length`. Bytes after the
/// total length (Ethernet padding) are ignored by [`Packet::payload`].
#[derive(Debug, Clone, Copy)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Validates the header as RFC 1122 §3.2.1.1-2 asks of a receiver.
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        let b = buffer.as_ref();
        let header_len = check_header(b)?;
        let total = usize::from(u16::from_be_bytes([b[2], b[3]]));
        if total < header_len {
            return Err(WireError::Ipv4TotalLengthBelowHeader);
        }
        if total > b.len() {
            return Err(WireError::Ipv4TotalLengthBeyondFrame);
        }
        Ok(Packet { buffer })
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn b(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    fn word(&self, at: usize) -> u16 {
        u16::from_be_bytes([self.b()[at], self.b()[at + 1]])
    }

    /// Header length in bytes (IHL x 4), options included.
    pub fn header_len(&self) -> usize {
        usize::from(self.b()[field::VER_IHL] & 0x0f) * 4
    }

    /// The TOS byte: DSCP (high six bits) and ECN (low two).
    pub fn tos(&self) -> u8 {
        self.b()[field::TOS]
    }

    pub fn total_len(&self) -> usize {
        usize::from(self.word(field::TOTAL_LEN.start))
    }

    pub fn ident(&self) -> u16 {
        self.word(field::IDENT.start)
    }

    pub fn dont_fragment(&self) -> bool {
        self.word(field::FLAGS_FRAG.start) & FLAG_DF != 0
    }

    pub fn more_fragments(&self) -> bool {
        self.word(field::FLAGS_FRAG.start) & FLAG_MF != 0
    }

    /// Fragment offset in bytes (the field counts 8-byte units).
    pub fn fragment_offset(&self) -> u16 {
        (self.word(field::FLAGS_FRAG.start) & FRAG_OFFSET_MASK) << 3
    }

    /// True for any piece of a fragmented datagram, first one included.
    pub fn is_fragment(&self) -> bool {
        self.more_fragments() || self.fragment_offset() != 0
    }

    pub fn ttl(&self) -> u8 {
        self.b()[field::TTL]
    }

    pub fn protocol(&self) -> u8 {
        self.b()[field::PROTOCOL]
    }

    pub fn checksum(&self) -> u16 {
        self.word(field::CHECKSUM.start)
    }

    pub fn src(&self) -> Ipv4Addr {
        addr_at(self.b(), field::SRC.start)
    }

    pub fn dst(&self) -> Ipv4Addr {
        addr_at(self.b(), field::DST.start)
    }

    /// Options bytes between the fixed header and the payload.
    pub fn options(&self) -> &[u8] {
        &self.b()[MIN_HEADER_LEN..self.header_len()]
    }

    /// The payload up to the total length (padding excluded).
    pub fn payload(&self) -> &[u8] {
        &self.b()[self.header_len()..self.total_len()]
    }

    /// The header checksum verifies (RFC 1071 over the header).
    pub fn verify_checksum(&self) -> bool {
        checksum::verifies(checksum::sum_bytes(0, &self.b()[..self.header_len()]))
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    fn bm(&mut self) -> &mut [u8] {
        self.buffer.as_mut()
    }

    /// Writes a 16-bit word of the header and patches the checksum.
    fn patch_word(&mut self, at: usize, new: u16) {
        let old = self.word(at);
        let hc = checksum::update_u16(self.checksum(), old, new);
        let b = self.bm();
        b[at..at + 2].copy_from_slice(&new.to_be_bytes());
        b[field::CHECKSUM].copy_from_slice(&hc.to_be_bytes());
    }

    pub fn set_tos(&mut self, tos: u8) {
        let ver_ihl = self.b()[field::VER_IHL];
        self.patch_word(field::VER_IHL, u16::from_be_bytes([ver_ihl, tos]));
    }

    pub fn set_ident(&mut self, ident: u16) {
        self.patch_word(field::IDENT.start, ident);
    }

    pub fn set_dont_fragment(&mut self, df: bool) {
        let w = self.word(field::FLAGS_FRAG.start);
        let w = if df { w | FLAG_DF } else { w & !FLAG_DF };
        self.patch_word(field::FLAGS_FRAG.start, w);
    }

    pub fn set_ttl(&mut self, ttl: u8) {
        let proto = self.protocol();
        self.patch_word(field::TTL, u16::from_be_bytes([ttl, proto]));
    }

    pub fn set_protocol(&mut self, protocol: u8) {
        let ttl = self.ttl();
        self.patch_word(field::TTL, u16::from_be_bytes([ttl, protocol]));
    }

    /// Forwarding step of RFC 1812 §5.3.1: returns the new TTL, or `None`
    /// (packet untouched) when the TTL is 0 or 1 and the packet must not be
    /// forwarded but answered with ICMP time exceeded (as ip_vs_xmit.c
    /// decrement_ttl does).
    pub fn decrement_ttl(&mut self) -> Option<u8> {
        let ttl = self.ttl();
        if ttl <= 1 {
            return None;
        }
        self.set_ttl(ttl - 1);
        Some(ttl - 1)
    }

    pub fn set_src(&mut self, addr: Ipv4Addr) {
        let hc = checksum::update_ipv4_addr(self.checksum(), self.src(), addr);
        let b = self.bm();
        b[field::SRC].copy_from_slice(&addr.octets());
        b[field::CHECKSUM].copy_from_slice(&hc.to_be_bytes());
    }

    pub fn set_dst(&mut self, addr: Ipv4Addr) {
        let hc = checksum::update_ipv4_addr(self.checksum(), self.dst(), addr);
        let b = self.bm();
        b[field::DST].copy_from_slice(&addr.octets());
        b[field::CHECKSUM].copy_from_slice(&hc.to_be_bytes());
    }

    /// Recomputes the header checksum from scratch.
    pub fn fill_checksum(&mut self) {
        let len = self.header_len();
        let b = self.bm();
        b[field::CHECKSUM].fill(0);
        let hc = checksum::checksum(&b[..len]);
        b[field::CHECKSUM].copy_from_slice(&hc.to_be_bytes());
    }

    pub fn payload_mut(&mut self) -> &mut [u8] {
        let (start, end) = (self.header_len(), self.total_len());
        &mut self.bm()[start..end]
    }
}

pub(crate) fn addr_at(b: &[u8], at: usize) -> Ipv4Addr {
    Ipv4Addr::new(b[at], b[at + 1], b[at + 2], b[at + 3])
}

/// Checks version, IHL and that the whole header is present; returns the
/// header length. Used both for real packets and for headers quoted in ICMP
/// errors, whose total length may exceed the bytes quoted.
pub(crate) fn check_header(b: &[u8]) -> Result<usize, WireError> {
    if b.len() < MIN_HEADER_LEN {
        return Err(WireError::Ipv4Truncated);
    }
    if b[0] >> 4 != 4 {
        return Err(WireError::Ipv4BadVersion);
    }
    let header_len = usize::from(b[0] & 0x0f) * 4;
    if header_len < MIN_HEADER_LEN {
        return Err(WireError::Ipv4BadIhl);
    }
    if header_len > b.len() {
        return Err(WireError::Ipv4Truncated);
    }
    Ok(header_len)
}

/// The meaning of an option-less IPv4 header, for building packets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub protocol: u8,
    /// Bytes after the header; the total length is this plus 20.
    pub payload_len: usize,
    pub ttl: u8,
    pub tos: u8,
    pub ident: u16,
    pub dont_fragment: bool,
}

impl Repr {
    /// Writes the 20-byte header with its checksum into `out[..20]`.
    pub fn emit(&self, out: &mut [u8]) -> Result<usize, WireError> {
        let total = MIN_HEADER_LEN + self.payload_len;
        let total = u16::try_from(total).map_err(|_| WireError::TooLong)?;
        let h = out
            .get_mut(..MIN_HEADER_LEN)
            .ok_or(WireError::BufferTooSmall)?;
        h[field::VER_IHL] = 0x45;
        h[field::TOS] = self.tos;
        h[field::TOTAL_LEN].copy_from_slice(&total.to_be_bytes());
        h[field::IDENT].copy_from_slice(&self.ident.to_be_bytes());
        let flags = if self.dont_fragment { FLAG_DF } else { 0 };
        h[field::FLAGS_FRAG].copy_from_slice(&flags.to_be_bytes());
        h[field::TTL] = self.ttl;
        h[field::PROTOCOL] = self.protocol;
        h[field::CHECKSUM].fill(0);
        h[field::SRC].copy_from_slice(&self.src.octets());
        h[field::DST].copy_from_slice(&self.dst.octets());
        let hc = checksum::checksum(h);
        h[field::CHECKSUM].copy_from_slice(&hc.to_be_bytes());
        Ok(MIN_HEADER_LEN)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::{IpNumber, Ipv4Header, PacketBuilder};

    /// A UDP-in-IPv4 packet from etherparse, without the Ethernet header.
    fn packet(ttl: u8, payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        PacketBuilder::ipv4([192, 168, 0, 1], [192, 168, 0, 199], ttl)
            .udp(4000, 53)
            .write(&mut out, payload)
            .unwrap();
        out
    }

    fn etherparse_header(b: &[u8]) -> Ipv4Header {
        Ipv4Header::from_slice(b).unwrap().0
    }

    #[test]
    fn getters_match_etherparse() {
        let mut h = Ipv4Header::new(8, 17, IpNumber::UDP, [1, 2, 3, 4], [5, 6, 7, 8]).unwrap();
        h.identification = 0xbeef;
        h.dont_fragment = true;
        h.dscp = etherparse::IpDscp::try_new(46).unwrap();
        h.ecn = etherparse::IpEcn::ONE;
        h.options = (&[1u8, 1, 1, 0][..]).try_into().unwrap(); // NOP NOP NOP EOL
        h.total_len = 32;
        h.header_checksum = h.calc_header_checksum();
        let mut b = h.to_bytes().to_vec();
        b.extend_from_slice(&[9; 8]);
        b.extend_from_slice(&[0; 6]); // Ethernet padding beyond total length
        let p = Packet::new_checked(&b[..]).unwrap();
        assert_eq!(p.header_len(), 24);
        assert_eq!(p.total_len(), 32);
        assert_eq!(p.tos(), 46 << 2 | 1);
        assert_eq!(p.ident(), 0xbeef);
        assert!(p.dont_fragment() && !p.more_fragments() && !p.is_fragment());
        assert_eq!(p.ttl(), 17);
        assert_eq!(p.protocol(), 17);
        assert_eq!(p.src(), Ipv4Addr::new(1, 2, 3, 4));
        assert_eq!(p.dst(), Ipv4Addr::new(5, 6, 7, 8));
        assert_eq!(p.options(), &[1, 1, 1, 0]);
        assert_eq!(p.payload(), &[9; 8]);
        assert!(p.verify_checksum());
        assert_eq!(p.checksum(), h.header_checksum);
    }

    #[test]
    fn fragment_fields() {
        let mut h = Ipv4Header::new(0, 64, IpNumber::TCP, [1, 1, 1, 1], [2, 2, 2, 2]).unwrap();
        h.more_fragments = true;
        h.fragment_offset = etherparse::IpFragOffset::try_new(185).unwrap();
        h.header_checksum = h.calc_header_checksum();
        let b = h.to_bytes();
        let p = Packet::new_checked(&b[..]).unwrap();
        assert!(p.more_fragments());
        assert_eq!(p.fragment_offset(), 1480);
        assert!(p.is_fragment());
    }

    #[test]
    fn validation_errors() {
        let good = packet(64, &[1, 2, 3]);
        assert_eq!(
            Packet::new_checked(&good[..19]).unwrap_err(),
            WireError::Ipv4Truncated
        );
        let mut b = good.clone();
        b[0] = 0x65;
        assert_eq!(
            Packet::new_checked(&b[..]).unwrap_err(),
            WireError::Ipv4BadVersion
        );
        b[0] = 0x44;
        assert_eq!(
            Packet::new_checked(&b[..]).unwrap_err(),
            WireError::Ipv4BadIhl
        );
        b[0] = 0x4f; // 60-byte header in a 31-byte packet
        assert_eq!(
            Packet::new_checked(&b[..]).unwrap_err(),
            WireError::Ipv4Truncated
        );
        let mut b = good.clone();
        b[2..4].copy_from_slice(&19u16.to_be_bytes());
        assert_eq!(
            Packet::new_checked(&b[..]).unwrap_err(),
            WireError::Ipv4TotalLengthBelowHeader
        );
        b[2..4].copy_from_slice(&(good.len() as u16 + 1).to_be_bytes());
        assert_eq!(
            Packet::new_checked(&b[..]).unwrap_err(),
            WireError::Ipv4TotalLengthBeyondFrame
        );
    }

    #[test]
    fn setters_keep_checksum_valid() {
        let mut b = packet(64, &[7; 10]);
        let mut p = Packet::new_checked(&mut b[..]).unwrap();
        p.set_src(Ipv4Addr::new(10, 1, 2, 3));
        p.set_dst(Ipv4Addr::new(172, 16, 0, 9));
        assert_eq!(p.decrement_ttl(), Some(63));
        p.set_tos(0xb8);
        p.set_ident(0x1234);
        p.set_dont_fragment(true);
        p.set_protocol(6);
        assert!(p.verify_checksum());
        let hc = p.checksum();
        p.fill_checksum();
        assert_eq!(p.checksum(), hc);

        let h = etherparse_header(&b);
        assert_eq!(h.source, [10, 1, 2, 3]);
        assert_eq!(h.destination, [172, 16, 0, 9]);
        assert_eq!(h.time_to_live, 63);
        assert_eq!(h.dscp.value(), 0xb8 >> 2);
        assert_eq!(h.identification, 0x1234);
        assert!(h.dont_fragment);
        assert_eq!(h.protocol, IpNumber::TCP);
        assert_eq!(h.header_checksum, h.calc_header_checksum());

        let mut p = Packet::new_checked(&mut b[..]).unwrap();
        p.set_dont_fragment(false);
        assert!(!p.dont_fragment());
        assert!(p.verify_checksum());
    }

    #[test]
    fn ttl_one_is_not_forwarded() {
        let mut b = packet(1, &[]);
        let before = b.clone();
        let mut p = Packet::new_checked(&mut b[..]).unwrap();
        assert_eq!(p.decrement_ttl(), None);
        assert_eq!(b, before);
        let mut b = packet(0, &[]);
        assert_eq!(
            Packet::new_checked(&mut b[..]).unwrap().decrement_ttl(),
            None
        );
    }

    #[test]
    fn repr_emits_what_etherparse_parses() {
        let r = Repr {
            src: Ipv4Addr::new(192, 0, 2, 1),
            dst: Ipv4Addr::new(198, 51, 100, 7),
            protocol: 4,
            payload_len: 100,
            ttl: 63,
            tos: 0x10,
            ident: 77,
            dont_fragment: true,
        };
        let mut out = [0u8; 20];
        assert_eq!(r.emit(&mut out), Ok(20));
        let h = etherparse_header(&out);
        let mut want =
            Ipv4Header::new(100, 63, IpNumber::IPV4, r.src.octets(), r.dst.octets()).unwrap();
        want.identification = 77;
        want.dont_fragment = true;
        want.dscp = etherparse::IpDscp::try_new(4).unwrap();
        want.header_checksum = want.calc_header_checksum();
        assert_eq!(h, want);
        assert_eq!(out, want.to_bytes()[..]);
        assert_eq!(r.emit(&mut out[..19]), Err(WireError::BufferTooSmall));
        let big = Repr {
            payload_len: 65516,
            ..r
        };
        assert_eq!(big.emit(&mut out), Err(WireError::TooLong));
    }
}
