//! In-place NAT rewrites of a frame described by a [`FrameInfo`]: address
//! and port of either side, TTL / hop limit, and the packet quoted in an
//! ICMP error. Every checksum the change touches is patched by RFC 1624
//! (IPv4 header, TCP/UDP/ICMPv6 through the pseudo-header, the ICMP message
//! around a quoted packet), so the cost does not depend on the payload.
//!
//! These are the rewrites of ip_vs_nat_xmit / ip_vs_nat_icmp: NAT and
//! FullNAT call [`set_dst`] (VIP:vport -> RIP:rport) and [`set_src`]
//! (client -> local address, or RIP -> VIP on replies). The summary is
//! updated to match, and re-checked against the buffer so a summary of
//! another frame gets [`WireError::FrameMismatch`] instead of a panic.

use std::net::IpAddr;

use crate::checksum;
use crate::frame::{Fragment, FrameInfo, FrameKind, IcmpErrorInfo};
use crate::{ip_proto, ipv4, ipv6, tcp, udp, WireError};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    Src,
    Dst,
}

/// Rewrites the source address and port (port ignored unless TCP/UDP with
/// ports present) and patches the checksums.
pub fn set_src(
    frame: &mut [u8],
    info: &mut FrameInfo,
    addr: IpAddr,
    port: u16,
) -> Result<(), WireError> {
    rewrite(frame, info, Side::Src, addr, port)
}

/// Rewrites the destination address and port, as [`set_src`].
pub fn set_dst(
    frame: &mut [u8],
    info: &mut FrameInfo,
    addr: IpAddr,
    port: u16,
) -> Result<(), WireError> {
    rewrite(frame, info, Side::Dst, addr, port)
}

fn ip_slice<'a>(frame: &'a mut [u8], info: &FrameInfo) -> Result<&'a mut [u8], WireError> {
    frame
        .get_mut(info.l3_offset..info.ip_end())
        .ok_or(WireError::FrameMismatch)
}

fn rewrite(
    frame: &mut [u8],
    info: &mut FrameInfo,
    side: Side,
    addr: IpAddr,
    port: u16,
) -> Result<(), WireError> {
    let ip = ip_slice(frame, info)?;
    let l4_at = info
        .l4_offset
        .checked_sub(info.l3_offset)
        .filter(|&at| at <= ip.len())
        .ok_or(WireError::FrameMismatch)?;
    let old: IpAddr = match (info.kind, addr) {
        (FrameKind::Ipv4, IpAddr::V4(new)) => {
            let mut p = ipv4::Packet::new_checked(&mut *ip)?;
            let old = if side == Side::Src { p.src() } else { p.dst() };
            match side {
                Side::Src => p.set_src(new),
                Side::Dst => p.set_dst(new),
            }
            old.into()
        }
        (FrameKind::Ipv6, IpAddr::V6(new)) => {
            let mut p = ipv6::Packet::new_checked(&mut *ip)?;
            let old = if side == Side::Src { p.src() } else { p.dst() };
            match side {
                Side::Src => p.set_src(new),
                Side::Dst => p.set_dst(new),
            }
            old.into()
        }
        _ => return Err(WireError::FrameMismatch),
    };
    if info.fragment != Fragment::NotFirst {
        let port_at = if side == Side::Src { 0 } else { 2 };
        let l4 = &mut ip[l4_at..];
        match info.protocol {
            ip_proto::TCP => {
                if l4.len() < tcp::MIN_HEADER_LEN {
                    return Err(WireError::TcpTruncated);
                }
                let old_port = replace_port(l4, port_at, port);
                checksum::patch(l4, tcp::field::CHECKSUM.start, |hc| {
                    let hc = checksum::update_u16(hc, old_port, port);
                    checksum::update_addr(hc, &old, &addr)
                });
            }
            ip_proto::UDP => {
                if l4.len() < udp::HEADER_LEN {
                    return Err(WireError::UdpTruncated);
                }
                let old_port = replace_port(l4, port_at, port);
                udp::patch_checksum(l4, udp::field::CHECKSUM.start, |hc| {
                    let hc = checksum::update_u16(hc, old_port, port);
                    checksum::update_addr(hc, &old, &addr)
                });
            }
            // ICMPv6 covers the pseudo-header; ICMPv4 does not.
            ip_proto::ICMPV6 if info.kind == FrameKind::Ipv6 => {
                if l4.len() < crate::icmpv6::HEADER_LEN {
                    return Err(WireError::Icmpv6Truncated);
                }
                checksum::patch(l4, crate::icmpv6::field::CHECKSUM.start, |hc| {
                    checksum::update_addr(hc, &old, &addr)
                });
            }
            _ => {}
        }
    }
    let ports = info.has_ports();
    match side {
        Side::Src => {
            info.src = addr;
            if ports {
                info.src_port = port;
            }
        }
        Side::Dst => {
            info.dst = addr;
            if ports {
                info.dst_port = port;
            }
        }
    }
    Ok(())
}

fn replace_port(l4: &mut [u8], at: usize, port: u16) -> u16 {
    let old = u16::from_be_bytes([l4[at], l4[at + 1]]);
    l4[at..at + 2].copy_from_slice(&port.to_be_bytes());
    old
}

/// Decrements the TTL / hop limit before forwarding (ip_vs_xmit.c
/// decrement_ttl). `Ok(None)`, frame untouched, when it is already 0 or 1:
/// the packet must be dropped and answered with time exceeded.
pub fn decrement_hop_limit(
    frame: &mut [u8],
    info: &mut FrameInfo,
) -> Result<Option<u8>, WireError> {
    let ip = ip_slice(frame, info)?;
    let new = match info.kind {
        FrameKind::Ipv4 => ipv4::Packet::new_checked(ip)?.decrement_ttl(),
        FrameKind::Ipv6 => ipv6::Packet::new_checked(ip)?.decrement_hop_limit(),
        _ => return Err(WireError::FrameMismatch),
    };
    if let Some(h) = new {
        info.hop_limit = h;
    }
    Ok(new)
}

/// Rewrites the source address and port of the packet quoted in an ICMP
/// error, keeping the quoted IPv4 header checksum, the quoted TCP/UDP
/// checksum (when quoted) and the outer ICMP checksum right. Inbound NAT
/// of an error about a reply (ip_vs_nat_icmp): quoted source VIP:vport
/// becomes RIP:rport, so the real server sees its own packet.
pub fn set_icmp_inner_src(
    frame: &mut [u8],
    info: &FrameInfo,
    err: &mut IcmpErrorInfo,
    addr: IpAddr,
    port: u16,
) -> Result<(), WireError> {
    rewrite_inner(frame, info, err, Side::Src, addr, port)
}

/// As [`set_icmp_inner_src`] for the quoted destination: outbound NAT of an
/// error a real server sends about a client packet (quoted RIP:rport
/// becomes VIP:vport).
pub fn set_icmp_inner_dst(
    frame: &mut [u8],
    info: &FrameInfo,
    err: &mut IcmpErrorInfo,
    addr: IpAddr,
    port: u16,
) -> Result<(), WireError> {
    rewrite_inner(frame, info, err, Side::Dst, addr, port)
}

/// Writes `new` at `at` in the ICMP message and folds the change into its
/// checksum `hc`. `at` is even, as every field we touch is, so RFC 1624
/// applies word by word.
fn replace(msg: &mut [u8], at: usize, new: &[u8], hc: &mut u16) {
    let field = &mut msg[at..at + new.len()];
    *hc = checksum::update_bytes(*hc, field, new);
    field.copy_from_slice(new);
}

fn word(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

fn rewrite_inner(
    frame: &mut [u8],
    info: &FrameInfo,
    err: &mut IcmpErrorInfo,
    side: Side,
    addr: IpAddr,
    port: u16,
) -> Result<(), WireError> {
    let msg = frame
        .get_mut(info.l4_offset..info.ip_end())
        .ok_or(WireError::FrameMismatch)?;
    let rel = |off: usize| {
        off.checked_sub(info.l4_offset)
            .ok_or(WireError::FrameMismatch)
    };
    let (l3, l4) = (rel(err.inner_l3_offset)?, rel(err.inner_l4_offset)?);
    let old = if side == Side::Src { err.src } else { err.dst };
    let (addr_at, hdr_len) = match (old, addr) {
        (IpAddr::V4(_), IpAddr::V4(_)) => {
            let f = if side == Side::Src {
                ipv4::field::SRC
            } else {
                ipv4::field::DST
            };
            (l3 + f.start, ipv4::MIN_HEADER_LEN)
        }
        (IpAddr::V6(_), IpAddr::V6(_)) => {
            let f = if side == Side::Src {
                ipv6::field::SRC
            } else {
                ipv6::field::DST
            };
            (l3 + f.start, ipv6::HEADER_LEN)
        }
        _ => return Err(WireError::FrameMismatch),
    };
    if l3 + hdr_len > msg.len() || l4 > msg.len() || l4 < l3 + hdr_len || msg.len() < 4 {
        return Err(WireError::FrameMismatch);
    }
    let mut hc = word(msg, 2);
    let mut octets = [0u8; 16];
    let new_octets = match addr {
        IpAddr::V4(a) => {
            octets[..4].copy_from_slice(&a.octets());
            &octets[..4]
        }
        IpAddr::V6(a) => {
            octets.copy_from_slice(&a.octets());
            &octets[..]
        }
    };
    // Address first, then the quoted IPv4 header checksum that covers it.
    replace(msg, addr_at, new_octets, &mut hc);
    if let (IpAddr::V4(o), IpAddr::V4(n)) = (old, addr) {
        let at = l3 + ipv4::field::CHECKSUM.start;
        let inner_hc = checksum::update_ipv4_addr(word(msg, at), o, n);
        replace(msg, at, &inner_hc.to_be_bytes(), &mut hc);
    }
    let quoted_ports = matches!(err.protocol, ip_proto::TCP | ip_proto::UDP)
        && err.fragment != Fragment::NotFirst
        && l4 + 4 <= msg.len();
    if quoted_ports {
        let port_at = l4 + if side == Side::Src { 0 } else { 2 };
        let old_port = word(msg, port_at);
        replace(msg, port_at, &port.to_be_bytes(), &mut hc);
        // The quoted transport checksum, when the quote reaches it.
        let (ck_at, is_udp) = if err.protocol == ip_proto::TCP {
            (l4 + tcp::field::CHECKSUM.start, false)
        } else {
            (l4 + udp::field::CHECKSUM.start, true)
        };
        if ck_at + 2 <= msg.len() {
            let old_ck = word(msg, ck_at);
            let mut new_ck =
                checksum::update_addr(checksum::update_u16(old_ck, old_port, port), &old, &addr);
            if is_udp {
                new_ck = if old_ck == 0 {
                    0
                } else {
                    checksum::udp_wire_value(new_ck)
                };
            }
            replace(msg, ck_at, &new_ck.to_be_bytes(), &mut hc);
        }
    }
    msg[2..4].copy_from_slice(&hc.to_be_bytes());
    match side {
        Side::Src => {
            err.src = addr;
            if quoted_ports {
                err.src_port = port;
            }
        }
        Side::Dst => {
            err.dst = addr;
            if quoted_ports {
                err.dst_port = port;
            }
        }
    }
    Ok(())
}

/// Add `seq` and `ack` (mod 2³²) to the sequence and acknowledgment
/// numbers of a quoted TCP segment, as far as the quote reaches them,
/// with the quoted TCP checksum (when quoted) and the ICMP checksum
/// patched (RFC 1624). The SYN proxy's translation of an error about a
/// proxied flow: the host receiving it checks the quoted sequence number
/// against what it sent (Linux's tcp_v4_err drops one out of window). A
/// quote that is not of TCP, or of a later fragment, is left alone.
pub fn shift_icmp_inner_tcp(
    frame: &mut [u8],
    info: &FrameInfo,
    err: &IcmpErrorInfo,
    seq: u32,
    ack: u32,
) -> Result<(), WireError> {
    if err.protocol != ip_proto::TCP || err.fragment == Fragment::NotFirst {
        return Ok(());
    }
    let msg = frame
        .get_mut(info.l4_offset..info.ip_end())
        .ok_or(WireError::FrameMismatch)?;
    let l4 = err
        .inner_l4_offset
        .checked_sub(info.l4_offset)
        .ok_or(WireError::FrameMismatch)?;
    if msg.len() < 4 {
        return Err(WireError::FrameMismatch);
    }
    let mut hc = word(msg, 2);
    let ck_at = l4 + tcp::field::CHECKSUM.start;
    let mut inner_ck = (ck_at + 2 <= msg.len()).then(|| word(msg, ck_at));
    for (field, delta) in [(tcp::field::SEQ, seq), (tcp::field::ACK, ack)] {
        let at = l4 + field.start;
        if delta == 0 || at + 4 > msg.len() {
            continue;
        }
        let old: [u8; 4] = msg[at..at + 4].try_into().unwrap_or([0; 4]);
        let new = u32::from_be_bytes(old).wrapping_add(delta).to_be_bytes();
        if let Some(c) = inner_ck.as_mut() {
            *c = checksum::update_bytes(*c, &old, &new);
        }
        replace(msg, at, &new, &mut hc);
    }
    if let Some(c) = inner_ck {
        replace(msg, ck_at, &c.to_be_bytes(), &mut hc);
    }
    msg[2..4].copy_from_slice(&hc.to_be_bytes());
    Ok(())
}

#[cfg(test)]
#[path = "rewrite_tests.rs"]
mod tests;
