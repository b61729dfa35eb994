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

use crate::ethernet::MacAddr;

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
pub fn parse_frame(frame: &[u8]) -> Result<Received, ParseError> {
    let _ = frame;
    todo!("filled in by the wire helper")
}

/// The VRRP message `msg`, received from `src` to `dst` (for the
/// pseudo-header checksum).
pub fn parse(msg: &[u8], src: IpAddr, dst: IpAddr) -> Result<(Advert, ChecksumMatch), ParseError> {
    let _ = (msg, src, dst);
    todo!("filled in by the wire helper")
}

/// Append the VRRP message for `advert` to `out` with the checksum of
/// `kind` (`src`/`dst` feed the pseudo-header).
pub fn build(out: &mut Vec<u8>, advert: &Advert, kind: ChecksumKind, src: IpAddr, dst: IpAddr) {
    let _ = (out, advert, kind, src, dst);
    todo!("filled in by the wire helper")
}

/// Append a whole Ethernet frame carrying `advert` from `src` to `dst`.
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
    let _ = (out, src_mac, dst_mac, src, dst, ident, advert, kind);
    todo!("filled in by the wire helper")
}
