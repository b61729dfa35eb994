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
}
