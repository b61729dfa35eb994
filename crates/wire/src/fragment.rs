//! Where a fragment sits in its datagram, and which datagram it belongs
//! to: the IPv4 identification / flags / offset word (RFC 791 §3.1) and
//! the IPv6 Fragment extension header (RFC 8200 §4.5, next header 44).
//!
//! [`crate::parse_frame`] already tells first from later fragments and,
//! for an IPv6 first fragment, finds the upper-layer header behind the
//! Fragment header; this module reads what it does not keep: the
//! identification that ties the pieces of one datagram together, and the
//! offset. A reassembling host keys its queue on ⟨source, destination,
//! protocol, identification⟩ for IPv4 (the kernel's ip_fragment.c) and on
//! ⟨source, destination, identification⟩ for IPv6 (RFC 8200 §4.5, the
//! kernel's reassembly.c); [`FragmentId`] carries what both need.
//!
//! [`split_ipv4`] goes the other way: it cuts an IPv4 packet with DF
//! clear into fragments that fit an MTU (RFC 791 §3.2), as the kernel's
//! ip_do_fragment() does for a tunnel's outer packet.
//!
//! Layer: wire. No allocation; every offset is checked against the frame.

use crate::frame::{Fragment, FrameInfo, FrameKind};
use crate::{ip_proto, ipv4, ipv6, WireError};

/// RFC 8200 §4.5: the Fragment header is 8 octets.
pub const IPV6_FRAGMENT_HEADER_LEN: usize = 8;

/// The fragmentation fields of one fragment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FragmentId {
    /// IPv4: the 16-bit identification; IPv6: the 32-bit one.
    pub ident: u32,
    /// Offset of this fragment's data in the datagram, in bytes.
    pub offset: u32,
    /// More fragments follow.
    pub more: bool,
    /// Bytes of the datagram this fragment carries: the IP payload after
    /// the IPv4 header, or after the IPv6 Fragment header (RFC 8200 §4.5:
    /// the fragmentable part).
    pub data_len: u32,
}

/// How an IPv4 packet of `ip_len` bytes with an `header_len`-byte header
/// is cut to fit `mtu` (RFC 791 §3.2): each fragment but the last carries
/// `step` payload bytes (a multiple of 8, as offsets count 8-octet units),
/// `count` fragments in all. `None` if the packet fits, or if no payload
/// fits beside the header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Split {
    pub step: usize,
    pub count: usize,
}

impl Ipv4Split {
    pub fn new(ip_len: usize, header_len: usize, mtu: usize) -> Option<Ipv4Split> {
        if ip_len <= mtu {
            return None;
        }
        let step = mtu.checked_sub(header_len)? & !7;
        let data = ip_len.checked_sub(header_len)?;
        // 13-bit offsets: a payload beyond 65,528 bytes cannot be cut.
        if step == 0 || data > 0xFFFF {
            return None;
        }
        Some(Ipv4Split {
            step,
            count: data.div_ceil(step),
        })
    }

    /// The payload range of fragment `k` (0-based) of a packet whose
    /// payload is `data` bytes.
    pub fn piece(&self, k: usize, data: usize) -> core::ops::Range<usize> {
        let start = (k * self.step).min(data);
        start..(start + self.step).min(data)
    }
}

/// Write fragment `k` of `split` of the IPv4 packet `packet` (DF clear,
/// not itself a fragment: the header is copied whole, options included,
/// which is right for the option-less headers xvs builds) into `out`:
/// header with total length, offset and MF set, then its payload bytes.
/// Returns the fragment's length.
pub fn split_ipv4(
    packet: &[u8],
    split: &Ipv4Split,
    k: usize,
    out: &mut [u8],
) -> Result<usize, WireError> {
    let ip = ipv4::Packet::new_checked(packet)?;
    let hl = ip.header_len();
    let payload = ip.payload();
    let range = split.piece(k, payload.len());
    let len = hl + range.len();
    let out = out.get_mut(..len).ok_or(WireError::TooLong)?;
    out[..hl].copy_from_slice(&packet[..hl]);
    out[hl..].copy_from_slice(&payload[range.clone()]);
    // len ≤ hl + step < 2^16; offset / 8 < 2^13 (checked in `new`).
    out[ipv4::field::TOTAL_LEN].copy_from_slice(&(len as u16).to_be_bytes());
    let df = u16::from_be_bytes([packet[6], packet[7]]) & ipv4::FLAG_DF;
    let mf = if k + 1 < split.count {
        ipv4::FLAG_MF
    } else {
        0
    };
    let word = df | mf | (range.start / 8) as u16;
    out[ipv4::field::FLAGS_FRAG].copy_from_slice(&word.to_be_bytes());
    ipv4::Packet::new_checked(&mut out[..])?.fill_checksum();
    Ok(len)
}

/// Make the IPv4 packet at the start of `packet` the first fragment of
/// `split` in place (its payload already sits where the first fragment's
/// does): total length, MF and checksum. Write the later fragments with
/// [`split_ipv4`] first, as they read the packet's header. Returns the
/// first fragment's length.
pub fn keep_first_ipv4_fragment(packet: &mut [u8], split: &Ipv4Split) -> Result<usize, WireError> {
    let hl = ipv4::Packet::new_checked(&packet[..])?.header_len();
    let len = hl + split.step;
    // len ≤ the packet's total length < 2^16 (`Ipv4Split::new`: step < data).
    packet[ipv4::field::TOTAL_LEN].copy_from_slice(&(len as u16).to_be_bytes());
    let word = u16::from_be_bytes([packet[6], packet[7]]) | ipv4::FLAG_MF;
    packet[ipv4::field::FLAGS_FRAG].copy_from_slice(&word.to_be_bytes());
    ipv4::Packet::new_checked(&mut packet[..len])?.fill_checksum();
    Ok(len)
}

/// The fragmentation fields of a fragment described by `info` (from
/// [`crate::parse_frame`] on the same `frame`); `Ok(None)` for a packet
/// that is not a fragment (RFC 6946 atomic fragments included).
pub fn fragment_id(frame: &[u8], info: &FrameInfo) -> Result<Option<FragmentId>, WireError> {
    if info.fragment == Fragment::None {
        return Ok(None);
    }
    let ip = frame
        .get(info.l3_offset..info.ip_end())
        .ok_or(WireError::FrameMismatch)?;
    match info.kind {
        FrameKind::Ipv4 => {
            ipv4::check_header(ip)?;
            let word = u16::from_be_bytes([ip[6], ip[7]]);
            let header = usize::from(ip[0] & 0x0f) * 4;
            Ok(Some(FragmentId {
                ident: u32::from(u16::from_be_bytes([ip[4], ip[5]])),
                offset: u32::from(word & 0x1fff) * 8,
                more: word & ipv4::FLAG_MF != 0,
                data_len: len_u32(ip.len().saturating_sub(header)),
            }))
        }
        FrameKind::Ipv6 => {
            ipv6::check_header(ip)?;
            let at = ipv6_fragment_header(ip)?.ok_or(WireError::FrameMismatch)?;
            let h = &ip[at..at + IPV6_FRAGMENT_HEADER_LEN];
            let word = u16::from_be_bytes([h[2], h[3]]);
            Ok(Some(FragmentId {
                ident: u32::from_be_bytes([h[4], h[5], h[6], h[7]]),
                offset: u32::from(word >> 3) * 8,
                more: word & 1 != 0,
                data_len: len_u32(ip.len() - at - IPV6_FRAGMENT_HEADER_LEN),
            }))
        }
        _ => Err(WireError::FrameMismatch),
    }
}

/// A packet length (at most 64 KiB + headers) as `u32`.
fn len_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Offset, from the start of the IPv6 header in `packet`, of its Fragment
/// header, walking the headers RFC 8200 §4.1 allows before it (hop-by-hop,
/// routing, destination options; AH for good measure) with the same bound
/// as [`ipv6::walk_extensions`]. `None` when the chain reaches an upper
/// layer first.
pub fn ipv6_fragment_header(packet: &[u8]) -> Result<Option<usize>, WireError> {
    let mut nh = *packet
        .get(ipv6::field::NEXT_HEADER)
        .ok_or(WireError::Ipv6Truncated)?;
    let mut at = ipv6::HEADER_LEN;
    for _ in 0..=ipv6::MAX_EXTENSIONS {
        let len = match nh {
            ip_proto::FRAGMENT => {
                return if at + IPV6_FRAGMENT_HEADER_LEN <= packet.len() {
                    Ok(Some(at))
                } else {
                    Err(WireError::Ipv6ExtensionTruncated)
                };
            }
            ip_proto::HOP_BY_HOP | ip_proto::ROUTING | ip_proto::DEST_OPTS => {
                let h = packet
                    .get(at..at + 2)
                    .ok_or(WireError::Ipv6ExtensionTruncated)?;
                (usize::from(h[1]) + 1) * 8
            }
            ip_proto::AH => {
                let h = packet
                    .get(at..at + 2)
                    .ok_or(WireError::Ipv6ExtensionTruncated)?;
                (usize::from(h[1]) + 2) * 4
            }
            _ => return Ok(None),
        };
        if at + len > packet.len() {
            return Err(WireError::Ipv6ExtensionTruncated);
        }
        nh = packet[at];
        at += len;
    }
    Err(WireError::Ipv6TooManyExtensions)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse_frame;

    const ETH: [u8; 14] = [2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x86, 0xdd];

    /// An IPv6 frame: fixed header, `exts` (each: next header of what
    /// follows is filled in), then `tail`.
    fn v6_frame(first_nh: u8, exts: &[Vec<u8>], tail: &[u8]) -> Vec<u8> {
        let payload: usize = exts.iter().map(Vec::len).sum::<usize>() + tail.len();
        let mut f = ETH.to_vec();
        f.extend_from_slice(&[0x60, 0, 0, 0]);
        f.extend_from_slice(&(payload as u16).to_be_bytes());
        f.extend_from_slice(&[first_nh, 64]);
        f.extend_from_slice(&[0xfd; 16]);
        f.extend_from_slice(&[0xfe; 16]);
        for e in exts {
            f.extend_from_slice(e);
        }
        f.extend_from_slice(tail);
        f
    }

    fn frag_hdr(next: u8, offset: u16, more: bool, ident: u32) -> Vec<u8> {
        let word = (offset / 8) << 3 | u16::from(more);
        let mut h = vec![next, 0];
        h.extend_from_slice(&word.to_be_bytes());
        h.extend_from_slice(&ident.to_be_bytes());
        h
    }

    #[test]
    fn ipv6_first_fragment_behind_destination_options() {
        // Destination options (8 bytes), then Fragment, then UDP.
        let dopts = vec![ip_proto::FRAGMENT, 0, 1, 4, 0, 0, 0, 0];
        let udp = [0x9c, 0x41, 0, 53, 0x10, 0, 0, 0];
        let f = v6_frame(
            ip_proto::DEST_OPTS,
            &[dopts, frag_hdr(ip_proto::UDP, 0, true, 0xdead_beef)],
            &udp,
        );
        let info = parse_frame(&f).unwrap();
        assert_eq!(info.fragment, Fragment::First);
        assert_eq!(info.dst_port, 53);
        assert_eq!(
            fragment_id(&f, &info).unwrap(),
            Some(FragmentId {
                ident: 0xdead_beef,
                offset: 0,
                more: true,
                data_len: 8,
            })
        );
    }

    #[test]
    fn ipv6_later_fragment_has_no_upper_layer_header() {
        let f = v6_frame(
            ip_proto::FRAGMENT,
            &[frag_hdr(ip_proto::UDP, 1448, false, 7)],
            &[0xaa; 24],
        );
        let info = parse_frame(&f).unwrap();
        assert_eq!(info.fragment, Fragment::NotFirst);
        assert_eq!((info.src_port, info.dst_port), (0, 0));
        assert_eq!(info.protocol, ip_proto::UDP);
        assert_eq!(
            fragment_id(&f, &info).unwrap(),
            Some(FragmentId {
                ident: 7,
                offset: 1448,
                more: false,
                data_len: 24,
            })
        );
    }

    #[test]
    fn ipv4_fields() {
        let mut f = ETH.to_vec();
        f[12..14].copy_from_slice(&[0x08, 0x00]);
        let mut ip = vec![0x45, 0, 0, 28, 0x12, 0x34, 0x20 | 0x01, 0x72, 64, 17, 0, 0];
        ip.extend_from_slice(&[10, 0, 0, 1, 10, 0, 0, 2]);
        ip.extend_from_slice(&[0; 8]);
        f.extend_from_slice(&ip);
        let info = parse_frame(&f).unwrap();
        assert_eq!(info.fragment, Fragment::NotFirst);
        assert_eq!(
            fragment_id(&f, &info).unwrap(),
            Some(FragmentId {
                ident: 0x1234,
                offset: 0x172 * 8,
                more: true,
                data_len: 8,
            })
        );
    }

    #[test]
    fn not_a_fragment_and_damage() {
        let udp = [0x9c, 0x41, 0, 53, 0, 8, 0, 0];
        let f = v6_frame(ip_proto::UDP, &[], &udp);
        let info = parse_frame(&f).unwrap();
        assert_eq!(fragment_id(&f, &info).unwrap(), None);
        // A chain that stops short of its Fragment header.
        let cut = v6_frame(ip_proto::FRAGMENT, &[], &[17, 0, 0]);
        assert_eq!(
            ipv6_fragment_header(&cut[14..]),
            Err(WireError::Ipv6ExtensionTruncated)
        );
        assert_eq!(ipv6_fragment_header(&f[14..]), Ok(None));
    }

    #[test]
    fn split_cuts_at_multiples_of_eight_and_reassembles() {
        // A 1520-byte IPIP packet (20-byte outer header, 1500 inner) for a
        // 1500-byte MTU: 1480 + 20 payload bytes.
        let mut pkt = vec![0x45, 0, 0x05, 0xF0, 0xAB, 0xCD, 0, 0, 64, 4, 0, 0];
        pkt.extend_from_slice(&[10, 0, 0, 1, 10, 0, 0, 2]);
        pkt.extend((0..1500u32).map(|i| (i * 7) as u8));
        ipv4::Packet::new_checked(&mut pkt[..])
            .unwrap()
            .fill_checksum();
        let split = Ipv4Split::new(pkt.len(), 20, 1500).unwrap();
        assert_eq!(
            split,
            Ipv4Split {
                step: 1480,
                count: 2
            }
        );
        let mut data = Vec::new();
        let mut seen = Vec::new();
        for k in 0..split.count {
            let mut out = [0u8; 1600];
            let n = split_ipv4(&pkt, &split, k, &mut out).unwrap();
            let ip = ipv4::Packet::new_checked(&out[..n]).unwrap();
            assert!(ip.verify_checksum());
            assert_eq!(ip.total_len(), n);
            assert!(n <= 1500);
            assert_eq!((ip.ident(), ip.protocol(), ip.ttl()), (0xABCD, 4, 64));
            assert!(!ip.dont_fragment());
            seen.push((ip.fragment_offset(), ip.more_fragments(), n));
            data.extend_from_slice(ip.payload());
        }
        assert_eq!(seen, vec![(0, true, 1500), (1480, false, 40)]);
        assert_eq!(data, pkt[20..]);
        // The first fragment made in place is the one split_ipv4 writes.
        let mut first = [0u8; 1600];
        let n = split_ipv4(&pkt, &split, 0, &mut first).unwrap();
        let mut in_place = pkt.clone();
        assert_eq!(keep_first_ipv4_fragment(&mut in_place, &split), Ok(n));
        assert_eq!(in_place[..n], first[..n]);
        // Fits, or nothing fits beside the header: no split.
        assert_eq!(Ipv4Split::new(1500, 20, 1500), None);
        assert_eq!(Ipv4Split::new(1520, 20, 27), None);
        // Three pieces for a small MTU; the last is the remainder.
        let s = Ipv4Split::new(1520, 20, 576).unwrap();
        assert_eq!((s.step, s.count), (552, 3));
        assert_eq!(s.piece(2, 1500), 1104..1500);
        // Too short an output buffer is an error, not a panic.
        assert_eq!(
            split_ipv4(&pkt, &split, 0, &mut [0u8; 100]),
            Err(WireError::TooLong)
        );
    }
}
