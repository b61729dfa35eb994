//! VRRP adverts: VRRPv2 (RFC 3768) and VRRPv3 (RFC 5798, RFC 9568) over
//! IPv4 and IPv6 — parsing with the structural checks keepalived's
//! `vrrp_check_packet` makes, the three checksum conventions, and the
//! whole Ethernet frame an advert is sent in (REFERENCE §8.1).
//!
//! Control path only: parsing allocates the address list.
//!
//! CONTRACT (types and signatures are fixed; bodies are filled in):
//! - [`parse_frame`] takes a whole Ethernet frame (VLAN tags skipped),
//!   checks the IP header (IPv4: version, IHL ≥ 5, total length within the
//!   frame — Ethernet padding tolerated —, header checksum, protocol 112,
//!   not a fragment; IPv6: next header 112 directly), and returns the IP
//!   facts plus the VRRP payload range. Errors name the reason.
//! - [`parse`] checks the VRRP message itself: version 2 or 3, type 1,
//!   exact length for the declared address count (v2: 8 + 4n + 8 auth
//!   bytes; v3: 8 + 4n or 16n; trailing bytes = error), v2 only over IPv4,
//!   and reports which checksum conventions verify; it never decides which
//!   one is required (the instance does, from its configuration).
//! - [`build`] writes a VRRP message with the checksum of the given
//!   convention; [`build_frame`] writes Ethernet + IP (IPv4: TTL 255, TOS
//!   0xC0, DF clear, identification from the caller; IPv6: hop limit 255,
//!   traffic class 0xC0) + the message, as keepalived sends it.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::ops::Range;
use std::time::Duration;

use crate::checksum;
use crate::ethernet::{self, ethertype, MacAddr};
use crate::family::{to_v4, to_v6};
use crate::{ip_proto, ipv4, ipv6, WireError};

/// IPv4 multicast group of VRRP (RFC 5798 §5.1.1.2).
pub const MULTICAST_V4: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);
/// IPv6 multicast group of VRRP (RFC 5798 §5.1.2.2).
pub const MULTICAST_V6: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12);
/// Ethernet addresses of those groups (RFC 1112 §6.4, RFC 2464 §7).
pub const MULTICAST_MAC_V4: MacAddr = [0x01, 0x00, 0x5e, 0x00, 0x00, 0x12];
pub const MULTICAST_MAC_V6: MacAddr = [0x33, 0x33, 0x00, 0x00, 0x00, 0x12];
/// The TTL / hop limit every advert is sent with and must arrive with.
pub const TTL: u8 = 255;
/// Fixed header length (both versions).
pub const HEADER_LEN: usize = 8;
/// VRRPv2 authentication data length.
pub const AUTH_LEN: usize = 8;
/// VRRPv2 authentication types (RFC 3768 §5.3.6; 2 = IP AH, obsolete).
pub const AUTH_NONE: u8 = 0;
pub const AUTH_PASS: u8 = 1;
pub const AUTH_AH: u8 = 2;
/// The only message type, ADVERTISEMENT (RFC 3768 §5.3.2, RFC 5798 §5.2.2).
pub const TYPE_ADVERTISEMENT: u8 = 1;
/// TOS / traffic class of every advert: precedence "internetwork control"
/// (IPTOS_PREC_INTERNETCONTROL), as keepalived writes it.
pub const TOS: u8 = 0xc0;
/// Largest VRRPv3 Max Advertise Interval: 12 bits of centiseconds
/// (RFC 5798 §5.2.7), 40.95 s.
pub const MAX_INTERVAL_V3: u16 = 0x0fff;
/// The count byte limits an advert to 255 addresses.
pub const MAX_ADDRESSES: usize = 255;

pub mod field {
    //! Byte positions of the VRRP message (REFERENCE §8.1 table).
    use core::ops::Range;
    /// Version (high nibble) and type (low nibble).
    pub const VER_TYPE: usize = 0;
    pub const VRID: usize = 1;
    pub const PRIORITY: usize = 2;
    /// Number of addresses in the list.
    pub const COUNT: usize = 3;
    /// VRRPv2: authentication type.
    pub const AUTH_TYPE: usize = 4;
    /// VRRPv2: advert interval in seconds.
    pub const ADVER_INT_V2: usize = 5;
    /// VRRPv3: 4 reserved bits and the 12-bit Max Advertise Interval.
    pub const MAX_ADVER_INT_V3: Range<usize> = 4..6;
    pub const CHECKSUM: Range<usize> = 6..8;
    /// Start of the address list (then, for VRRPv2, the auth data).
    pub const ADDRESSES: usize = 8;
}

/// The virtual router MAC: 00-00-5E-00-01-VRID (IPv4) or
/// 00-00-5E-00-02-VRID (IPv6) (RFC 5798 §7.3).
pub const fn virtual_mac(vrid: u8, ipv6: bool) -> MacAddr {
    [0x00, 0x00, 0x5e, 0x00, if ipv6 { 0x02 } else { 0x01 }, vrid]
}

/// How the checksum is computed (REFERENCE §8.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ChecksumKind {
    /// The VRRP message only: VRRPv2, and VRRPv3 over IPv4 per RFC 9568.
    MessageOnly,
    /// With the pseudo-header of the IP packet (src, dst, 112, length):
    /// VRRPv3 over IPv6 always; over IPv4 as keepalived does by default.
    PseudoHeader,
}

/// One advert's content (both versions).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Advert {
    /// 2 or 3.
    pub version: u8,
    pub vrid: u8,
    pub priority: u8,
    /// v2: the authentication type; v3: always 0.
    pub auth_type: u8,
    /// v2: whole seconds; v3: centiseconds (12 bits). Use [`Advert::interval`].
    pub interval_field: u16,
    /// The address list (all of the frame's family).
    pub addresses: Vec<IpAddr>,
    /// v2: the 8 authentication bytes (a PASS password, NUL-padded);
    /// v3: zeros.
    pub auth_data: [u8; AUTH_LEN],
}

impl Advert {
    /// The advert interval: seconds for v2, centiseconds for v3.
    pub fn interval(&self) -> Duration {
        if self.version == 2 {
            Duration::from_secs(u64::from(self.interval_field))
        } else {
            Duration::from_millis(u64::from(self.interval_field) * 10)
        }
    }
}

/// Which checksum conventions a received message verifies under.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ChecksumMatch {
    pub message_only: bool,
    pub pseudo_header: bool,
}

/// The IP facts of a received advert.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Received {
    pub src_mac: MacAddr,
    pub dst_mac: MacAddr,
    pub src: IpAddr,
    pub dst: IpAddr,
    /// TTL (IPv4) or hop limit (IPv6).
    pub ttl: u8,
    /// Where the VRRP message is in the frame.
    pub payload: Range<usize>,
}

/// Why a frame or message is not a usable advert. Stable names for
/// counters ([`ParseError::reason`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ParseError {
    /// Not IPv4/IPv6 protocol 112, or an IP header that does not hold up.
    NotVrrp,
    /// An IPv4 fragment (adverts are never fragmented).
    Fragment,
    /// Shorter than its headers claim.
    Truncated,
    /// Version not 2 or 3 (or 2 over IPv6).
    Version,
    /// Type not 1 (advertisement).
    Type,
    /// Length does not match the address count (+ auth data for v2).
    Length,
}

impl ParseError {
    pub const fn reason(self) -> &'static str {
        match self {
            ParseError::NotVrrp => "not_vrrp",
            ParseError::Fragment => "fragment",
            ParseError::Truncated => "truncated",
            ParseError::Version => "version",
            ParseError::Type => "type",
            ParseError::Length => "length",
        }
    }
}

/// The IP layer of an Ethernet frame carrying VRRP.
///
/// Errors: a frame or IP header cut short (or a total/payload length
/// beyond the bytes received) is [`ParseError::Truncated`]; any other IP
/// header that does not hold up, another protocol, or an IPv6 extension
/// header before VRRP is [`ParseError::NotVrrp`]; an IPv4 fragment of
/// protocol 112 is [`ParseError::Fragment`].
pub fn parse_frame(frame: &[u8]) -> Result<Received, ParseError> {
    let eth = ethernet::Packet::new_checked(frame).map_err(from_wire)?;
    let l3 = eth.header_len();
    let (src, dst, ttl, payload) = match eth.ethertype() {
        ethertype::IPV4 => ipv4_layer(eth.payload())?,
        ethertype::IPV6 => ipv6_layer(eth.payload())?,
        _ => return Err(ParseError::NotVrrp),
    };
    Ok(Received {
        src_mac: eth.source(),
        dst_mac: eth.destination(),
        src,
        dst,
        ttl,
        payload: l3 + payload.start..l3 + payload.end,
    })
}

/// The IP facts of an IPv4 packet and its payload range within `ip`
/// (Ethernet padding after the total length excluded).
fn ipv4_layer(ip: &[u8]) -> Result<(IpAddr, IpAddr, u8, Range<usize>), ParseError> {
    let p = ipv4::Packet::new_checked(ip).map_err(from_wire)?;
    if !p.verify_checksum() || p.protocol() != ip_proto::VRRP {
        return Err(ParseError::NotVrrp);
    }
    // An advert is far below any link MTU and never fragmented by its
    // sender; frames are read below reassembly, so a piece could not be
    // checked and is refused.
    if p.is_fragment() {
        return Err(ParseError::Fragment);
    }
    Ok((
        p.src().into(),
        p.dst().into(),
        p.ttl(),
        p.header_len()..p.total_len(),
    ))
}

/// The same for IPv6: VRRP must follow the fixed header directly. RFC 5798
/// §5.1.2.4 has the sender set Next Header to 112 and keepalived sends no
/// extension headers; an advert behind them is refused here, although the
/// kernel would hand one to keepalived's raw socket.
fn ipv6_layer(ip: &[u8]) -> Result<(IpAddr, IpAddr, u8, Range<usize>), ParseError> {
    let p = ipv6::Packet::new_checked(ip).map_err(from_wire)?;
    if p.next_header() != ip_proto::VRRP {
        return Err(ParseError::NotVrrp);
    }
    Ok((
        p.src().into(),
        p.dst().into(),
        p.hop_limit(),
        ipv6::HEADER_LEN..ipv6::HEADER_LEN + p.payload_len(),
    ))
}

/// Lengths that run past the frame are truncation; every other header
/// fault (version, IHL, too many VLAN tags) means it is not an advert.
fn from_wire(e: WireError) -> ParseError {
    match e {
        WireError::EthernetTruncated
        | WireError::VlanTruncated
        | WireError::Ipv4Truncated
        | WireError::Ipv4TotalLengthBeyondFrame
        | WireError::Ipv6Truncated
        | WireError::Ipv6BadPayloadLength => ParseError::Truncated,
        _ => ParseError::NotVrrp,
    }
}

/// The exact length of a message of `version` with `count` addresses
/// (RFC 3768 §5.1, RFC 5798 §5.1): the header, the addresses, and for
/// VRRPv2 the authentication data.
pub const fn message_len(version: u8, count: usize, ipv6: bool) -> usize {
    let addr_len = if ipv6 { 16 } else { 4 };
    let auth = if version == 2 { AUTH_LEN } else { 0 };
    HEADER_LEN + count * addr_len + auth
}

/// The VRRP message `msg`, received from `src` to `dst` (for the
/// pseudo-header checksum).
///
/// The address family of the list is that of `src`. Checks in the order
/// of the errors: [`ParseError::Truncated`] (shorter than the 8-byte
/// header), [`ParseError::Version`], [`ParseError::Type`],
/// [`ParseError::Length`] (not exactly [`message_len`]).
pub fn parse(msg: &[u8], src: IpAddr, dst: IpAddr) -> Result<(Advert, ChecksumMatch), ParseError> {
    if msg.len() < HEADER_LEN {
        return Err(ParseError::Truncated);
    }
    let ipv6 = src.is_ipv6();
    let version = msg[field::VER_TYPE] >> 4;
    // RFC 3768 defines VRRPv2 for IPv4 only; over IPv6 there is only v3.
    match (version, ipv6) {
        (2, false) | (3, _) => {}
        _ => return Err(ParseError::Version),
    }
    if msg[field::VER_TYPE] & 0x0f != TYPE_ADVERTISEMENT {
        return Err(ParseError::Type);
    }
    let count = usize::from(msg[field::COUNT]);
    if msg.len() != message_len(version, count, ipv6) {
        return Err(ParseError::Length);
    }
    // The length check above makes every range below lie within `msg`.
    let addr_end = message_len(3, count, ipv6);
    let list = &msg[field::ADDRESSES..addr_end];
    let addresses = if ipv6 {
        list.chunks_exact(16)
            .map(|c| IpAddr::V6(ipv6::addr_at(c, 0)))
            .collect()
    } else {
        list.chunks_exact(4)
            .map(|c| IpAddr::V4(ipv4::addr_at(c, 0)))
            .collect()
    };
    let (auth_type, interval_field, auth_data) = if version == 2 {
        let mut auth = [0u8; AUTH_LEN];
        auth.copy_from_slice(&msg[addr_end..]);
        (
            msg[field::AUTH_TYPE],
            u16::from(msg[field::ADVER_INT_V2]),
            auth,
        )
    } else {
        let at = field::MAX_ADVER_INT_V3.start;
        let word = u16::from_be_bytes([msg[at], msg[at + 1]]);
        // RFC 5798 §5.2.6: the reserved bits are ignored on receipt.
        (0, word & MAX_INTERVAL_V3, [0u8; AUTH_LEN])
    };
    let advert = Advert {
        version,
        vrid: msg[field::VRID],
        priority: msg[field::PRIORITY],
        auth_type,
        interval_field,
        addresses,
        auth_data,
    };
    let pseudo = checksum::pseudo_header(&src, &dst, ip_proto::VRRP, msg.len());
    let checks = ChecksumMatch {
        message_only: checksum::verifies(checksum::sum_bytes(0, msg)),
        pseudo_header: checksum::verifies(checksum::sum_bytes(pseudo, msg)),
    };
    Ok((advert, checks))
}

/// Append the VRRP message for `advert` to `out` with the checksum of
/// `kind` (`src`/`dst` feed the pseudo-header).
///
/// The layout follows `advert.version` (2: auth type, 8-bit interval in
/// seconds and the 8 auth bytes; otherwise VRRPv3: zero reserved bits, a
/// 12-bit interval in centiseconds, no auth bytes). Only addresses of
/// `src`'s family are written, at most [`MAX_ADDRESSES`] of them, and the
/// count byte says how many were; an interval too large for its field is
/// clamped to the largest value (never wrapped to a short one). A valid
/// configuration meets all three limits, so nothing is dropped in
/// practice.
pub fn build(out: &mut Vec<u8>, advert: &Advert, kind: ChecksumKind, src: IpAddr, dst: IpAddr) {
    let start = out.len();
    let v2 = advert.version == 2;
    let interval = if v2 {
        advert.interval_field.min(u16::from(u8::MAX)).to_be_bytes()
    } else {
        advert.interval_field.min(MAX_INTERVAL_V3).to_be_bytes()
    };
    out.extend_from_slice(&[
        (advert.version & 0x0f) << 4 | TYPE_ADVERTISEMENT,
        advert.vrid,
        advert.priority,
        0, // the count, filled in below
        if v2 { advert.auth_type } else { interval[0] },
        interval[1],
        0, // checksum
        0,
    ]);
    let mut count: u8 = 0;
    for addr in &advert.addresses {
        if count == u8::MAX {
            break;
        }
        match (addr, src) {
            (IpAddr::V4(a), IpAddr::V4(_)) => out.extend_from_slice(&a.octets()),
            (IpAddr::V6(a), IpAddr::V6(_)) => out.extend_from_slice(&a.octets()),
            _ => continue,
        }
        count += 1;
    }
    if v2 {
        out.extend_from_slice(&advert.auth_data);
    }
    let msg = &mut out[start..];
    msg[field::COUNT] = count;
    let initial = match kind {
        ChecksumKind::MessageOnly => 0,
        ChecksumKind::PseudoHeader => {
            checksum::pseudo_header(&src, &dst, ip_proto::VRRP, msg.len())
        }
    };
    let sum = checksum::finish(checksum::sum_bytes(initial, msg));
    msg[field::CHECKSUM].copy_from_slice(&sum.to_be_bytes());
}

/// Append a whole Ethernet frame carrying `advert` from `src` to `dst`.
///
/// Untagged Ethernet II, then the IP header as keepalived sends it: IPv4 with TOS 0xC0 (precedence internetwork control),
/// TTL 255, DF clear, no options; or IPv6 with traffic class 0xC0, flow
/// label 0, hop limit 255 and no extension headers. The frame is
/// zero-padded to the 60-byte Ethernet minimum (IPv4 adverts with one or
/// two addresses are shorter), as [`crate::arp`] pads its frames, since
/// not every transmit path pads.
///
/// The IP family is `src`'s; a `dst` of the other family (a caller bug)
/// is converted to it (IPv4-mapped, or 0.0.0.0 when it has no IPv4 form)
/// instead of panicking, and the checksum covers the converted address.
#[allow(clippy::too_many_arguments)]
pub fn build_frame(
    out: &mut Vec<u8>,
    src_mac: MacAddr,
    dst_mac: MacAddr,
    src: IpAddr,
    dst: IpAddr,
    ident: u16,
    advert: &Advert,
    kind: ChecksumKind,
) {
    let start = out.len();
    out.extend_from_slice(&dst_mac);
    out.extend_from_slice(&src_mac);
    let (ethertype, ip_header_len) = match src {
        IpAddr::V4(_) => (ethertype::IPV4, ipv4::MIN_HEADER_LEN),
        IpAddr::V6(_) => (ethertype::IPV6, ipv6::HEADER_LEN),
    };
    out.extend_from_slice(&ethertype.to_be_bytes());
    let ip_start = out.len();
    out.resize(ip_start + ip_header_len, 0);
    let msg_start = out.len();
    let emitted = match src {
        IpAddr::V4(s) => {
            let d = to_v4(dst);
            build(out, advert, kind, s.into(), d.into());
            ipv4::Repr {
                src: s,
                dst: d,
                protocol: ip_proto::VRRP,
                payload_len: out.len() - msg_start,
                ttl: TTL,
                tos: TOS,
                ident,
                dont_fragment: false,
            }
            .emit(&mut out[ip_start..msg_start])
        }
        IpAddr::V6(s) => {
            let d = to_v6(dst);
            build(out, advert, kind, s.into(), d.into());
            ipv6::Repr {
                src: s,
                dst: d,
                next_header: ip_proto::VRRP,
                payload_len: out.len() - msg_start,
                hop_limit: TTL,
                traffic_class: TOS,
                flow_label: 0,
            }
            .emit(&mut out[ip_start..msg_start])
        }
    };
    // `emit` fails only for a buffer shorter than the header, which was
    // reserved above, or a payload over 65535 bytes, and a message is at
    // most 8 + 255 × 16 + 8 = 4096 bytes (`build` caps the count at 255).
    debug_assert!(emitted.is_ok(), "{emitted:?}");
    if out.len() - start < ethernet::MIN_FRAME_LEN {
        out.resize(start + ethernet::MIN_FRAME_LEN, 0);
    }
}

#[cfg(test)]
#[path = "vrrp_tests.rs"]
mod tests;
