//! One-pass parse of a received Ethernet frame into [`FrameInfo`], the
//! small `Copy` summary the data plane branches on, and of the packet
//! quoted by an ICMP/ICMPv6 error into [`IcmpErrorInfo`].
//!
//! Every length is checked once here, and each kind of damage has its own
//! [`WireError`] so the data plane can count drops per reason. Trailing
//! Ethernet padding after the IP packet (minimum-size frames) is allowed
//! and excluded from [`FrameInfo::ip_len`].

use std::net::{IpAddr, Ipv4Addr};

use crate::checksum;
use crate::ethernet::{self, ethertype};
use crate::icmp;
use crate::icmpv6;
use crate::{ip_proto, ipv4, ipv6, tcp, udp, WireError};

/// Where a packet sits in a fragmented datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fragment {
    /// Not fragmented (an IPv6 atomic fragment counts as not fragmented,
    /// RFC 6946 §4).
    None,
    /// Offset 0 with more fragments: carries the upper-layer header.
    First,
    /// Non-zero offset: no upper-layer header, so no ports.
    NotFirst,
}

/// What the Ethernet frame carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FrameKind {
    Ipv4,
    Ipv6,
    Arp,
    /// Any other ethertype, as found after the VLAN tags.
    Other(u16),
}

/// Summary of one frame. Offsets are from the start of the frame.
///
/// For ARP and other non-IP frames only `l3_offset`, `vlan` and `kind` are
/// meaningful; the rest hold neutral values (offsets equal `l3_offset`,
/// addresses `0.0.0.0`, lengths and ports 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameInfo {
    /// After the Ethernet header and VLAN tags.
    pub l3_offset: usize,
    /// Outermost VLAN id, if tagged.
    pub vlan: Option<u16>,
    pub kind: FrameKind,
    /// Upper-layer header (after IPv4 options / IPv6 extension headers);
    /// for a non-first fragment, the start of its fragment data.
    pub l4_offset: usize,
    /// Upper-layer protocol, after IPv6 extension headers.
    pub protocol: u8,
    pub src: IpAddr,
    pub dst: IpAddr,
    /// 0 when not TCP/UDP or for a non-first fragment.
    pub src_port: u16,
    pub dst_port: u16,
    /// TCP control bits (`tcp::flags`), 0 otherwise.
    pub tcp_flags: u8,
    pub fragment: Fragment,
    /// Length of the IP packet from its header (padding excluded).
    pub ip_len: usize,
    /// TTL / hop limit.
    pub hop_limit: u8,
    /// IPv4 DF; true for IPv6, whose routers never fragment (RFC 8200 §5).
    pub dont_fragment: bool,
}

impl FrameInfo {
    fn non_ip(l3_offset: usize, vlan: Option<u16>, kind: FrameKind) -> FrameInfo {
        FrameInfo {
            l3_offset,
            vlan,
            kind,
            l4_offset: l3_offset,
            protocol: 0,
            src: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            dst: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            src_port: 0,
            dst_port: 0,
            tcp_flags: 0,
            fragment: Fragment::None,
            ip_len: 0,
            hop_limit: 0,
            dont_fragment: false,
        }
    }

    pub fn is_ip(&self) -> bool {
        matches!(self.kind, FrameKind::Ipv4 | FrameKind::Ipv6)
    }

    /// End of the IP packet in the frame (start of any padding).
    pub fn ip_end(&self) -> usize {
        self.l3_offset + self.ip_len
    }

    /// Bytes from the upper-layer header to the end of the IP packet.
    pub fn l4_len(&self) -> usize {
        self.ip_end().saturating_sub(self.l4_offset)
    }

    /// True when the packet carries ports (TCP/UDP, not a later fragment).
    pub fn has_ports(&self) -> bool {
        matches!(self.protocol, ip_proto::TCP | ip_proto::UDP)
            && self.fragment != Fragment::NotFirst
    }
}

/// Parses a whole Ethernet frame: tags, IPv4 (with options) or IPv6 (with
/// extension headers), and the TCP/UDP/ICMP header when present.
pub fn parse_frame(frame: &[u8]) -> Result<FrameInfo, WireError> {
    let eth = ethernet::Packet::new_checked(frame)?;
    let l3 = eth.header_len();
    let vlan = eth.vlan();
    match eth.ethertype() {
        ethertype::IPV4 => parse_ipv4(frame, l3, vlan),
        ethertype::IPV6 => parse_ipv6(frame, l3, vlan),
        ethertype::ARP => Ok(FrameInfo::non_ip(l3, vlan, FrameKind::Arp)),
        other => Ok(FrameInfo::non_ip(l3, vlan, FrameKind::Other(other))),
    }
}

fn parse_ipv4(frame: &[u8], l3: usize, vlan: Option<u16>) -> Result<FrameInfo, WireError> {
    let ip = ipv4::Packet::new_checked(&frame[l3..])?;
    let fragment = if ip.fragment_offset() != 0 {
        Fragment::NotFirst
    } else if ip.more_fragments() {
        Fragment::First
    } else {
        Fragment::None
    };
    let l4 = L4::parse(ip.protocol(), ip.payload(), fragment, false)?;
    Ok(FrameInfo {
        l3_offset: l3,
        vlan,
        kind: FrameKind::Ipv4,
        l4_offset: l3 + ip.header_len(),
        protocol: ip.protocol(),
        src: IpAddr::V4(ip.src()),
        dst: IpAddr::V4(ip.dst()),
        src_port: l4.src_port,
        dst_port: l4.dst_port,
        tcp_flags: l4.tcp_flags,
        fragment,
        ip_len: ip.total_len(),
        hop_limit: ip.ttl(),
        dont_fragment: ip.dont_fragment(),
    })
}

fn parse_ipv6(frame: &[u8], l3: usize, vlan: Option<u16>) -> Result<FrameInfo, WireError> {
    let ip = ipv6::Packet::new_checked(&frame[l3..])?;
    let upper = ip.upper_layer()?;
    let l4_bytes = &frame[l3 + upper.offset..l3 + ip.total_len()];
    let l4 = L4::parse(upper.protocol, l4_bytes, upper.fragment, true)?;
    Ok(FrameInfo {
        l3_offset: l3,
        vlan,
        kind: FrameKind::Ipv6,
        l4_offset: l3 + upper.offset,
        protocol: upper.protocol,
        src: IpAddr::V6(ip.src()),
        dst: IpAddr::V6(ip.dst()),
        src_port: l4.src_port,
        dst_port: l4.dst_port,
        tcp_flags: l4.tcp_flags,
        fragment: upper.fragment,
        ip_len: ip.total_len(),
        hop_limit: ip.hop_limit(),
        dont_fragment: true,
    })
}

/// The transport fields the frame summary carries.
struct L4 {
    src_port: u16,
    dst_port: u16,
    tcp_flags: u8,
}

impl L4 {
    const NONE: L4 = L4 {
        src_port: 0,
        dst_port: 0,
        tcp_flags: 0,
    };

    fn parse(protocol: u8, b: &[u8], fragment: Fragment, v6: bool) -> Result<L4, WireError> {
        if fragment == Fragment::NotFirst {
            return Ok(L4::NONE);
        }
        let ports = |b: &[u8]| {
            (
                u16::from_be_bytes([b[0], b[1]]),
                u16::from_be_bytes([b[2], b[3]]),
            )
        };
        match protocol {
            ip_proto::TCP => {
                tcp::check_header(b)?;
                let (src_port, dst_port) = ports(b);
                Ok(L4 {
                    src_port,
                    dst_port,
                    tcp_flags: b[tcp::field::FLAGS],
                })
            }
            ip_proto::UDP => {
                if b.len() < udp::HEADER_LEN {
                    return Err(WireError::UdpTruncated);
                }
                let len = usize::from(u16::from_be_bytes([b[4], b[5]]));
                // The first fragment holds only part of the datagram the
                // UDP length describes.
                let exact = fragment == Fragment::None;
                if len < udp::HEADER_LEN || (exact && len != b.len()) || len < b.len() {
                    return Err(WireError::UdpLengthMismatch);
                }
                let (src_port, dst_port) = ports(b);
                Ok(L4 {
                    src_port,
                    dst_port,
                    tcp_flags: 0,
                })
            }
            ip_proto::ICMP if !v6 => {
                icmp::Packet::new_checked(b)?;
                Ok(L4::NONE)
            }
            ip_proto::ICMPV6 if v6 => {
                icmpv6::Packet::new_checked(b)?;
                Ok(L4::NONE)
            }
            _ => Ok(L4::NONE),
        }
    }
}

/// The packet quoted inside an ICMP or ICMPv6 error, as its original sender
/// sent it: `src`/`src_port` are the sender's, so a flow lookup for it uses
/// the reverse of the quoted tuple.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IcmpErrorInfo {
    pub icmp_type: u8,
    pub icmp_code: u8,
    /// Next-hop MTU of fragmentation-needed (RFC 1191) or Packet Too Big
    /// (RFC 4443 §3.2); 0 for other errors.
    pub mtu: u32,
    /// Frame offset of the quoted IP header.
    pub inner_l3_offset: usize,
    /// Frame offset of the quoted upper-layer header.
    pub inner_l4_offset: usize,
    /// End of the quoted bytes in the frame (the ICMP message's end).
    pub inner_end: usize,
    pub protocol: u8,
    pub src: IpAddr,
    pub dst: IpAddr,
    /// 0 unless the quote is TCP/UDP with its ports present.
    pub src_port: u16,
    pub dst_port: u16,
    pub fragment: Fragment,
}

/// For an ICMP (in IPv4) or ICMPv6 (in IPv6) error frame, the quoted
/// packet's protocol, addresses, ports and offsets. `Ok(None)` for any
/// other frame, including informational ICMP and a non-first fragment.
/// The quoted packet may be cut short (RFC 792 guarantees its IP header and
/// 8 bytes); lengths are checked against what was quoted. The outer ICMP
/// checksum is not verified here: see [`verify_icmp_checksum`].
pub fn parse_icmp_error(
    frame: &[u8],
    info: &FrameInfo,
) -> Result<Option<IcmpErrorInfo>, WireError> {
    let v6 = match (info.kind, info.protocol) {
        (FrameKind::Ipv4, ip_proto::ICMP) => false,
        (FrameKind::Ipv6, ip_proto::ICMPV6) => true,
        _ => return Ok(None),
    };
    if info.fragment == Fragment::NotFirst {
        return Ok(None);
    }
    let msg = frame
        .get(info.l4_offset..info.ip_end())
        .ok_or(WireError::FrameMismatch)?;
    let (t, code) = match msg {
        [t, code, ..] => (*t, *code),
        _ => return Err(truncated(v6)),
    };
    let is_error = if v6 {
        icmpv6::is_error_type(t)
    } else {
        icmp::is_error_type(t)
    };
    if !is_error {
        return Ok(None);
    }
    if msg.len() < icmp::HEADER_LEN {
        return Err(truncated(v6));
    }
    let rest = u32::from_be_bytes([msg[4], msg[5], msg[6], msg[7]]);
    let mtu = match (v6, t, code) {
        (false, icmp::msg_type::DEST_UNREACHABLE, icmp::unreach_code::FRAG_NEEDED) => rest & 0xffff,
        (true, icmpv6::msg_type::PACKET_TOO_BIG, _) => rest,
        _ => 0,
    };
    let inner_l3 = info.l4_offset + icmp::HEADER_LEN;
    let quote = &msg[icmp::HEADER_LEN..];
    let inner = if v6 {
        quoted_ipv6(quote)?
    } else {
        quoted_ipv4(quote)?
    };
    let (src_port, dst_port) = match (inner.protocol, inner.fragment) {
        (_, Fragment::NotFirst) => (0, 0),
        (ip_proto::TCP | ip_proto::UDP, _) => {
            let p = quote
                .get(inner.l4..inner.l4 + 4)
                .ok_or(WireError::IcmpInnerTruncated)?;
            (
                u16::from_be_bytes([p[0], p[1]]),
                u16::from_be_bytes([p[2], p[3]]),
            )
        }
        _ => (0, 0),
    };
    Ok(Some(IcmpErrorInfo {
        icmp_type: t,
        icmp_code: code,
        mtu,
        inner_l3_offset: inner_l3,
        inner_l4_offset: inner_l3 + inner.l4,
        inner_end: info.ip_end(),
        protocol: inner.protocol,
        src: inner.src,
        dst: inner.dst,
        src_port,
        dst_port,
        fragment: inner.fragment,
    }))
}

fn truncated(v6: bool) -> WireError {
    if v6 {
        WireError::Icmpv6Truncated
    } else {
        WireError::IcmpTruncated
    }
}

/// Quoted-packet fields; `l4` is relative to the quote.
struct Quoted {
    protocol: u8,
    src: IpAddr,
    dst: IpAddr,
    l4: usize,
    fragment: Fragment,
}

fn inner_error(e: WireError) -> WireError {
    match e {
        WireError::Ipv4Truncated | WireError::Ipv6Truncated | WireError::Ipv6ExtensionTruncated => {
            WireError::IcmpInnerTruncated
        }
        _ => WireError::IcmpInnerMalformed,
    }
}

fn quoted_ipv4(q: &[u8]) -> Result<Quoted, WireError> {
    let hlen = ipv4::check_header(q).map_err(inner_error)?;
    let frag = u16::from_be_bytes([q[6], q[7]]);
    let fragment = if frag & 0x1fff != 0 {
        Fragment::NotFirst
    } else if frag & ipv4::FLAG_MF != 0 {
        Fragment::First
    } else {
        Fragment::None
    };
    Ok(Quoted {
        protocol: q[ipv4::field::PROTOCOL],
        src: IpAddr::V4(ipv4::addr_at(q, ipv4::field::SRC.start)),
        dst: IpAddr::V4(ipv4::addr_at(q, ipv4::field::DST.start)),
        l4: hlen,
        fragment,
    })
}

fn quoted_ipv6(q: &[u8]) -> Result<Quoted, WireError> {
    ipv6::check_header(q).map_err(inner_error)?;
    // Walk no further than the quoted packet claims to be.
    let claimed = ipv6::HEADER_LEN + usize::from(u16::from_be_bytes([q[4], q[5]]));
    let avail = &q[..claimed.min(q.len())];
    let upper = ipv6::walk_extensions(avail, q[ipv6::field::NEXT_HEADER]).map_err(inner_error)?;
    Ok(Quoted {
        protocol: upper.protocol,
        src: IpAddr::V6(ipv6::addr_at(q, ipv6::field::SRC.start)),
        dst: IpAddr::V6(ipv6::addr_at(q, ipv6::field::DST.start)),
        l4: upper.offset,
        fragment: upper.fragment,
    })
}

/// Verifies the checksum of the ICMP/ICMPv6 message in `frame`, as IPVS
/// does before acting on an error (ip_vs_in_icmp). A fragment of a larger
/// message cannot be verified and fails.
pub fn verify_icmp_checksum(frame: &[u8], info: &FrameInfo) -> Result<(), WireError> {
    let msg = frame
        .get(info.l4_offset..info.ip_end())
        .ok_or(WireError::FrameMismatch)?;
    let ok = info.fragment == Fragment::None
        && match (info.kind, info.protocol, info.src, info.dst) {
            (FrameKind::Ipv4, ip_proto::ICMP, _, _) => {
                checksum::verifies(checksum::sum_bytes(0, msg))
            }
            (FrameKind::Ipv6, ip_proto::ICMPV6, IpAddr::V6(s), IpAddr::V6(d)) => {
                icmpv6::Packet::new_checked(msg).is_ok_and(|p| p.verify_checksum(&s, &d))
            }
            _ => return Err(WireError::FrameMismatch),
        };
    if ok {
        Ok(())
    } else {
        Err(WireError::IcmpBadChecksum)
    }
}

/// Whether an ICMP/ICMPv6 error may be sent about this frame: RFC 1122
/// §3.2.2 (IPv4) and RFC 4443 §2.4 (e) (IPv6) forbid errors about ICMP
/// errors (and redirects), about non-first fragments, about packets sent
/// to a link-layer or IP broadcast/multicast address, and about packets
/// whose source is not a single host. Packet Too Big is the one error
/// IPv6 allows for multicast destinations; pass `packet_too_big` for it.
pub fn may_send_icmp_error(frame: &[u8], info: &FrameInfo, packet_too_big: bool) -> bool {
    if !info.is_ip() || info.fragment == Fragment::NotFirst {
        return false;
    }
    let eth_multicast = frame
        .get(ethernet::field::DESTINATION)
        .is_none_or(|d| d[0] & 1 != 0);
    let about_error = match parse_icmp_error(frame, info) {
        Ok(Some(_)) | Err(_) => true,
        Ok(None) => {
            let t = frame.get(info.l4_offset).copied();
            match info.protocol {
                ip_proto::ICMP => t == Some(icmp::msg_type::REDIRECT),
                ip_proto::ICMPV6 => t == Some(icmpv6::msg_type::REDIRECT),
                _ => false,
            }
        }
    };
    if about_error {
        return false;
    }
    match (info.src, info.dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            !eth_multicast
                && !d.is_broadcast()
                && !d.is_multicast()
                && !s.is_unspecified()
                && !s.is_broadcast()
                && !s.is_multicast()
                && !s.is_loopback()
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            (packet_too_big || (!eth_multicast && !d.is_multicast()))
                && !s.is_unspecified()
                && !s.is_multicast()
        }
        _ => false,
    }
}

#[cfg(test)]
#[path = "frame_tests.rs"]
mod tests;
