//! xvs-wire: zero-copy packet views, in-place rewrite and RFC 1624 checksums.
//!
//! Layer: wire, the bottom of the stack (see DESIGN.md); it depends on no
//! other xvs crate. One module per protocol, smoltcp-style: each holds a
//! `Packet<T: AsRef<[u8]>>` view with `new_checked`, its field byte ranges as
//! constants, getters, and setters when `T: AsMut<[u8]>`. Setters that touch
//! a checksummed field patch the checksum with RFC 1624 instead of
//! recomputing it. [`frame`] parses a whole Ethernet frame in one pass into
//! the [`FrameInfo`] summary the data plane branches on, and [`rewrite`]
//! applies NAT rewrites to a frame described by it.
//!
//! Nothing on the per-packet path allocates or copies payload; only the
//! ICMP error builders (the slow path) copy the quoted packet.
//!
//! A NAT director's inbound step, as the data plane does it:
//!
//! ```
//! use std::net::Ipv4Addr;
//! use xvs_wire::{parse_frame, rewrite, FrameKind};
//!
//! // A client SYN to the VIP 192.0.2.80:80 (built here with etherparse).
//! let mut frame = Vec::new();
//! etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
//!     .ipv4([198, 51, 100, 9], [192, 0, 2, 80], 64)
//!     .tcp(40000, 80, 1, 65535)
//!     .syn()
//!     .write(&mut frame, &[])
//!     .unwrap();
//!
//! let mut info = parse_frame(&frame)?;
//! assert_eq!((info.kind, info.dst_port), (FrameKind::Ipv4, 80));
//! // Forward to the real server 10.0.0.7:8080; checksums follow.
//! rewrite::decrement_hop_limit(&mut frame, &mut info)?;
//! rewrite::set_dst(&mut frame, &mut info, Ipv4Addr::new(10, 0, 0, 7).into(), 8080)?;
//! assert_eq!(parse_frame(&frame)?, info);
//! # Ok::<(), xvs_wire::WireError>(())
//! ```

pub mod arp;
pub mod checksum;
mod error;
pub mod ethernet;
mod family;
pub mod flow4;
pub mod fragment;
pub mod frame;
pub mod icmp;
pub mod icmpv6;
pub mod ipip;
pub mod ipv4;
pub mod ipv6;
pub mod ndisc;
pub mod rewrite;
pub mod sync;
pub mod tcp;
pub mod udp;
pub mod vrrp;

#[cfg(test)]
mod testutil;

pub use error::WireError;
pub use ethernet::MacAddr;
pub use fragment::{fragment_id, keep_first_ipv4_fragment, split_ipv4, FragmentId, Ipv4Split};
pub use frame::{parse_frame, parse_icmp_error, Fragment, FrameInfo, FrameKind, IcmpErrorInfo};

/// IANA protocol numbers (IPv4 protocol / IPv6 next header) used here.
pub mod ip_proto {
    pub const HOP_BY_HOP: u8 = 0;
    pub const ICMP: u8 = 1;
    /// IPv4 encapsulated in IP (RFC 2003).
    pub const IPIP: u8 = 4;
    pub const TCP: u8 = 6;
    pub const UDP: u8 = 17;
    /// IPv6 encapsulated in IP (RFC 2473).
    pub const IPV6: u8 = 41;
    pub const ROUTING: u8 = 43;
    pub const FRAGMENT: u8 = 44;
    pub const ESP: u8 = 50;
    pub const AH: u8 = 51;
    pub const ICMPV6: u8 = 58;
    pub const NO_NEXT_HEADER: u8 = 59;
    pub const DEST_OPTS: u8 = 60;
    pub const VRRP: u8 = 112;
}
