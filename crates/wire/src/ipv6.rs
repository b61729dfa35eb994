//! IPv6 fixed header (RFC 8200 §3) and a bounded walk over the extension
//! headers of RFC 8200 §4 (hop-by-hop, routing, fragment, destination
//! options) and AH (RFC 4302 §2.2) to the upper-layer header.
//!
//! ESP and No Next Header end the walk: what follows them is opaque. A
//! fragment header with a non-zero offset ends it too, since such a
//! fragment carries no upper-layer header (so no ports).

use std::net::Ipv6Addr;

use crate::frame::Fragment;
use crate::{ip_proto, WireError};

pub const HEADER_LEN: usize = 40;
/// Extension headers we walk before giving up: RFC 8200 §4.1's recommended
/// order has at most six before the upper layer (destination options may
/// appear twice), so eight leaves room without letting a crafted chain make
/// the per-packet cost unbounded.
pub const MAX_EXTENSIONS: usize = 8;

pub mod field {
    //! Byte ranges of the fixed header.
    use core::ops::Range;
    pub const VER_TC_FLOW: Range<usize> = 0..4;
    pub const PAYLOAD_LEN: Range<usize> = 4..6;
    pub const NEXT_HEADER: usize = 6;
    pub const HOP_LIMIT: usize = 7;
    pub const SRC: Range<usize> = 8..24;
    pub const DST: Range<usize> = 24..40;
}

/// A validated view of an IPv6 packet: the fixed header is present and the
/// payload length fits the buffer. Bytes after it (padding) are ignored.
#[derive(Debug, Clone, Copy)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        let b = buffer.as_ref();
        check_header(b)?;
        let payload = usize::from(u16::from_be_bytes([b[4], b[5]]));
        if HEADER_LEN + payload > b.len() {
            return Err(WireError::Ipv6BadPayloadLength);
        }
        Ok(Packet { buffer })
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn b(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    fn first_word(&self) -> u32 {
        let b = self.b();
        u32::from_be_bytes([b[0], b[1], b[2], b[3]])
    }

    pub fn traffic_class(&self) -> u8 {
        // Bits 4..12 of the first word.
        (self.first_word() >> 20) as u8
    }

    pub fn flow_label(&self) -> u32 {
        self.first_word() & 0x000f_ffff
    }

    pub fn payload_len(&self) -> usize {
        usize::from(u16::from_be_bytes([self.b()[4], self.b()[5]]))
    }

    /// Header plus payload: the IPv6 packet without link padding.
    pub fn total_len(&self) -> usize {
        HEADER_LEN + self.payload_len()
    }

    pub fn next_header(&self) -> u8 {
        self.b()[field::NEXT_HEADER]
    }

    pub fn hop_limit(&self) -> u8 {
        self.b()[field::HOP_LIMIT]
    }

    pub fn src(&self) -> Ipv6Addr {
        addr_at(self.b(), field::SRC.start)
    }

    pub fn dst(&self) -> Ipv6Addr {
        addr_at(self.b(), field::DST.start)
    }

    pub fn payload(&self) -> &[u8] {
        &self.b()[HEADER_LEN..self.total_len()]
    }

    /// Walks the extension headers to the upper layer (see [`walk_extensions`]).
    pub fn upper_layer(&self) -> Result<UpperLayer, WireError> {
        walk_extensions(&self.b()[..self.total_len()], self.next_header())
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    fn bm(&mut self) -> &mut [u8] {
        self.buffer.as_mut()
    }

    fn set_first_word(&mut self, w: u32) {
        self.bm()[field::VER_TC_FLOW].copy_from_slice(&w.to_be_bytes());
    }

    pub fn set_traffic_class(&mut self, tc: u8) {
        let w = (self.first_word() & 0xf00f_ffff) | (u32::from(tc) << 20);
        self.set_first_word(w);
    }

    pub fn set_flow_label(&mut self, label: u32) {
        let w = (self.first_word() & 0xfff0_0000) | (label & 0x000f_ffff);
        self.set_first_word(w);
    }

    pub fn set_hop_limit(&mut self, hop_limit: u8) {
        self.bm()[field::HOP_LIMIT] = hop_limit;
    }

    /// RFC 8200 §3 / RFC 4443 §3.3: returns the new hop limit, or `None`
    /// (packet untouched) when it is 0 or 1 and the packet must be answered
    /// with ICMPv6 time exceeded instead of forwarded.
    pub fn decrement_hop_limit(&mut self) -> Option<u8> {
        let hl = self.hop_limit();
        if hl <= 1 {
            return None;
        }
        self.set_hop_limit(hl - 1);
        Some(hl - 1)
    }

    /// IPv6 has no header checksum; upper-layer checksums covering this
    /// address must be patched by the caller (see `rewrite`).
    pub fn set_src(&mut self, addr: Ipv6Addr) {
        self.bm()[field::SRC].copy_from_slice(&addr.octets());
    }

    pub fn set_dst(&mut self, addr: Ipv6Addr) {
        self.bm()[field::DST].copy_from_slice(&addr.octets());
    }

    pub fn set_next_header(&mut self, next_header: u8) {
        self.bm()[field::NEXT_HEADER] = next_header;
    }

    pub fn payload_mut(&mut self) -> &mut [u8] {
        let end = self.total_len();
        &mut self.bm()[HEADER_LEN..end]
    }
}

pub(crate) fn addr_at(b: &[u8], at: usize) -> Ipv6Addr {
    let mut o = [0u8; 16];
    o.copy_from_slice(&b[at..at + 16]);
    Ipv6Addr::from(o)
}

/// Checks the fixed header is present with version 6.
pub(crate) fn check_header(b: &[u8]) -> Result<(), WireError> {
    if b.len() < HEADER_LEN {
        return Err(WireError::Ipv6Truncated);
    }
    if b[0] >> 4 != 6 {
        return Err(WireError::Ipv6BadVersion);
    }
    Ok(())
}

/// Where the upper-layer header of an IPv6 packet is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UpperLayer {
    /// Upper-layer protocol (or ESP / No Next Header, or for a non-first
    /// fragment the protocol its datagram carries).
    pub protocol: u8,
    /// Offset of the upper-layer header from the start of the IPv6 header.
    pub offset: usize,
    pub fragment: Fragment,
}

/// Walks the extension-header chain of `packet` (an IPv6 header followed
/// by as much of its payload as there is), starting from the fixed header's
/// `next_header`. At most [`MAX_EXTENSIONS`] headers are walked; every
/// length is checked against `packet`, so a quoted (truncated) packet in an
/// ICMPv6 error is walked as safely as a whole one.
pub fn walk_extensions(packet: &[u8], next_header: u8) -> Result<UpperLayer, WireError> {
    let mut nh = next_header;
    let mut offset = HEADER_LEN;
    let mut fragment = Fragment::None;
    for _ in 0..=MAX_EXTENSIONS {
        let len = match nh {
            // RFC 8200 §4.3-4.6: length in 8-octet units, first 8 not counted.
            ip_proto::HOP_BY_HOP | ip_proto::ROUTING | ip_proto::DEST_OPTS => {
                let hdr = packet
                    .get(offset..offset + 2)
                    .ok_or(WireError::Ipv6ExtensionTruncated)?;
                (usize::from(hdr[1]) + 1) * 8
            }
            // RFC 4302 §2.2: length in 4-octet units, minus 2.
            ip_proto::AH => {
                let hdr = packet
                    .get(offset..offset + 2)
                    .ok_or(WireError::Ipv6ExtensionTruncated)?;
                (usize::from(hdr[1]) + 2) * 4
            }
            // RFC 8200 §4.5: fixed 8 bytes; offset in 8-octet units in the
            // high 13 bits of bytes 2-3, M flag in the low bit.
            ip_proto::FRAGMENT => {
                let hdr = packet
                    .get(offset..offset + 8)
                    .ok_or(WireError::Ipv6ExtensionTruncated)?;
                let word = u16::from_be_bytes([hdr[2], hdr[3]]);
                let more = word & 1 != 0;
                let next = hdr[0];
                if word >> 3 != 0 {
                    return Ok(UpperLayer {
                        protocol: next,
                        offset: offset + 8,
                        fragment: Fragment::NotFirst,
                    });
                }
                // Offset 0 without M is an atomic fragment: RFC 6946 §4 says
                // to process it as a whole packet.
                if more {
                    fragment = Fragment::First;
                }
                nh = next;
                offset += 8;
                continue;
            }
            _ => {
                return Ok(UpperLayer {
                    protocol: nh,
                    offset,
                    fragment,
                })
            }
        };
        if offset + len > packet.len() {
            return Err(WireError::Ipv6ExtensionTruncated);
        }
        nh = packet[offset];
        offset += len;
    }
    Err(WireError::Ipv6TooManyExtensions)
}

/// The meaning of an IPv6 fixed header, for building packets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr {
    pub src: Ipv6Addr,
    pub dst: Ipv6Addr,
    pub next_header: u8,
    pub payload_len: usize,
    pub hop_limit: u8,
    pub traffic_class: u8,
    pub flow_label: u32,
}

impl Repr {
    /// Writes the 40-byte header into `out[..40]`.
    pub fn emit(&self, out: &mut [u8]) -> Result<usize, WireError> {
        let payload = u16::try_from(self.payload_len).map_err(|_| WireError::TooLong)?;
        let h = out.get_mut(..HEADER_LEN).ok_or(WireError::BufferTooSmall)?;
        let w = (6u32 << 28) | (u32::from(self.traffic_class) << 20) | (self.flow_label & 0xfffff);
        h[field::VER_TC_FLOW].copy_from_slice(&w.to_be_bytes());
        h[field::PAYLOAD_LEN].copy_from_slice(&payload.to_be_bytes());
        h[field::NEXT_HEADER] = self.next_header;
        h[field::HOP_LIMIT] = self.hop_limit;
        h[field::SRC].copy_from_slice(&self.src.octets());
        h[field::DST].copy_from_slice(&self.dst.octets());
        Ok(HEADER_LEN)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::{IpNumber, Ipv6Header, PacketBuilder};

    const A: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
    const B: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];

    fn tcp6(payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        PacketBuilder::ipv6(A, B, 33)
            .tcp(1234, 80, 1, 1000)
            .syn()
            .write(&mut out, payload)
            .unwrap();
        out
    }

    /// Splices extension headers between the fixed header and the payload.
    fn with_exts(base: &[u8], exts: &[(u8, Vec<u8>)]) -> Vec<u8> {
        let mut out = base[..40].to_vec();
        let upper = base[6];
        out[6] = exts[0].0;
        for (i, (_, body)) in exts.iter().enumerate() {
            let mut body = body.clone();
            body[0] = exts.get(i + 1).map_or(upper, |e| e.0);
            out.extend_from_slice(&body);
        }
        out.extend_from_slice(&base[40..]);
        let plen = (out.len() - 40) as u16;
        out[4..6].copy_from_slice(&plen.to_be_bytes());
        out
    }

    fn opts(len8: u8) -> Vec<u8> {
        let mut v = vec![0u8; (usize::from(len8) + 1) * 8];
        v[1] = len8;
        v[2] = 1; // PadN
        v[3] = (v.len() - 4) as u8;
        v
    }

    fn frag(offset_units: u16, more: bool) -> Vec<u8> {
        let w = (offset_units << 3) | u16::from(more);
        let mut v = vec![0u8; 8];
        v[2..4].copy_from_slice(&w.to_be_bytes());
        v[4..8].copy_from_slice(&0xdead_beefu32.to_be_bytes());
        v
    }

    #[test]
    fn getters_match_etherparse() {
        let mut b = tcp6(&[1, 2, 3]);
        b.extend_from_slice(&[0; 5]); // padding
        let p = Packet::new_checked(&b[..]).unwrap();
        let (h, _) = Ipv6Header::from_slice(&b).unwrap();
        assert_eq!(p.payload_len(), usize::from(h.payload_length));
        assert_eq!(p.next_header(), h.next_header.0);
        assert_eq!(p.hop_limit(), 33);
        assert_eq!(p.src(), Ipv6Addr::from(A));
        assert_eq!(p.dst(), Ipv6Addr::from(B));
        assert_eq!(p.payload().len(), 23);
        assert_eq!(
            p.upper_layer(),
            Ok(UpperLayer {
                protocol: 6,
                offset: 40,
                fragment: Fragment::None
            })
        );
    }

    #[test]
    fn validation_errors() {
        let b = tcp6(&[]);
        assert_eq!(
            Packet::new_checked(&b[..39]).unwrap_err(),
            WireError::Ipv6Truncated
        );
        let mut v = b.clone();
        v[0] = 0x45;
        assert_eq!(
            Packet::new_checked(&v[..]).unwrap_err(),
            WireError::Ipv6BadVersion
        );
        assert_eq!(
            Packet::new_checked(&b[..b.len() - 1]).unwrap_err(),
            WireError::Ipv6BadPayloadLength
        );
    }

    #[test]
    fn walks_to_tcp_through_every_kind() {
        let base = tcp6(&[9; 4]);
        let mut ah = vec![0u8; 24]; // AH with 12 bytes of ICV: len field 4
        ah[1] = 4;
        let b = with_exts(
            &base,
            &[
                (ip_proto::HOP_BY_HOP, opts(0)),
                (ip_proto::DEST_OPTS, opts(1)),
                (ip_proto::ROUTING, opts(0)),
                (ip_proto::FRAGMENT, frag(0, true)),
                (ip_proto::AH, ah),
                (ip_proto::DEST_OPTS, opts(0)),
            ],
        );
        let p = Packet::new_checked(&b[..]).unwrap();
        let ul = p.upper_layer().unwrap();
        assert_eq!(ul.protocol, ip_proto::TCP);
        assert_eq!(ul.offset, 40 + 8 + 16 + 8 + 8 + 24 + 8);
        assert_eq!(ul.fragment, Fragment::First);
        assert_eq!(&b[ul.offset..ul.offset + 2], &1234u16.to_be_bytes());
        // etherparse agrees on where the transport header is.
        let sliced = etherparse::SlicedPacket::from_ip(&b).unwrap();
        assert!(matches!(
            sliced.transport,
            None | Some(etherparse::TransportSlice::Tcp(_))
        ));
    }

    #[test]
    fn non_first_and_atomic_fragments() {
        let base = tcp6(&[]);
        let b = with_exts(&base, &[(ip_proto::FRAGMENT, frag(100, true))]);
        let ul = Packet::new_checked(&b[..]).unwrap().upper_layer().unwrap();
        assert_eq!(
            ul,
            UpperLayer {
                protocol: 6,
                offset: 48,
                fragment: Fragment::NotFirst
            }
        );
        let b = with_exts(&base, &[(ip_proto::FRAGMENT, frag(0, false))]);
        let ul = Packet::new_checked(&b[..]).unwrap().upper_layer().unwrap();
        assert_eq!(
            ul,
            UpperLayer {
                protocol: 6,
                offset: 48,
                fragment: Fragment::None
            }
        );
    }

    #[test]
    fn esp_and_no_next_header_stop() {
        let base = tcp6(&[]);
        let mut b = with_exts(&base, &[(ip_proto::DEST_OPTS, opts(0))]);
        b[40] = ip_proto::ESP;
        let ul = Packet::new_checked(&b[..]).unwrap().upper_layer().unwrap();
        assert_eq!((ul.protocol, ul.offset), (ip_proto::ESP, 48));
        b[40] = ip_proto::NO_NEXT_HEADER;
        let ul = Packet::new_checked(&b[..]).unwrap().upper_layer().unwrap();
        assert_eq!((ul.protocol, ul.offset), (ip_proto::NO_NEXT_HEADER, 48));
    }

    #[test]
    fn truncated_and_too_many() {
        let base = tcp6(&[]);
        let mut b = with_exts(&base, &[(ip_proto::DEST_OPTS, opts(0))]);
        b[41] = 200; // claims 1608 bytes
        assert_eq!(
            Packet::new_checked(&b[..]).unwrap().upper_layer(),
            Err(WireError::Ipv6ExtensionTruncated)
        );
        assert_eq!(
            walk_extensions(&b[..41], ip_proto::DEST_OPTS),
            Err(WireError::Ipv6ExtensionTruncated)
        );
        assert_eq!(
            walk_extensions(&b[..44], ip_proto::FRAGMENT),
            Err(WireError::Ipv6ExtensionTruncated)
        );
        let many: Vec<_> = (0..9).map(|_| (ip_proto::DEST_OPTS, opts(0))).collect();
        let b = with_exts(&base, &many);
        assert_eq!(
            Packet::new_checked(&b[..]).unwrap().upper_layer(),
            Err(WireError::Ipv6TooManyExtensions)
        );
        let eight: Vec<_> = (0..8).map(|_| (ip_proto::DEST_OPTS, opts(0))).collect();
        let b = with_exts(&base, &eight);
        assert_eq!(
            Packet::new_checked(&b[..])
                .unwrap()
                .upper_layer()
                .unwrap()
                .offset,
            40 + 64
        );
    }

    #[test]
    fn setters_and_repr() {
        let mut b = tcp6(&[]);
        let mut p = Packet::new_checked(&mut b[..]).unwrap();
        p.set_traffic_class(0xb9);
        p.set_flow_label(0x12345);
        assert_eq!(p.decrement_hop_limit(), Some(32));
        p.set_src(Ipv6Addr::from(B));
        p.set_dst(Ipv6Addr::from(A));
        assert_eq!((p.traffic_class(), p.flow_label()), (0xb9, 0x12345));
        let (h, _) = Ipv6Header::from_slice(&b).unwrap();
        assert_eq!(h.traffic_class, 0xb9);
        assert_eq!(h.flow_label.value(), 0x12345);
        assert_eq!((h.source, h.destination, h.hop_limit), (B, A, 32));

        let mut one = tcp6(&[]);
        one[7] = 1;
        assert_eq!(
            Packet::new_checked(&mut one[..])
                .unwrap()
                .decrement_hop_limit(),
            None
        );
        assert_eq!(one[7], 1);

        let r = Repr {
            src: A.into(),
            dst: B.into(),
            next_header: 41,
            payload_len: 60,
            hop_limit: 9,
            traffic_class: 0x20,
            flow_label: 0,
        };
        let mut out = [0u8; 40];
        assert_eq!(r.emit(&mut out), Ok(40));
        let want = Ipv6Header {
            traffic_class: 0x20,
            flow_label: Default::default(),
            payload_length: 60,
            next_header: IpNumber::IPV6_HEADER_HOP_BY_HOP,
            hop_limit: 9,
            source: A,
            destination: B,
        };
        let mut want = want.to_bytes();
        want[6] = 41;
        assert_eq!(out, want);
    }
}
