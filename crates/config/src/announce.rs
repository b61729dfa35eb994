//! The resolved `announce:` section: which VIPs this director announces
//! to its routers over BGP, through BIRD, and how (the route device and
//! table BIRD learns from, the drain time on stop).
//!
//! Plain data: the xvs-announce crate decides, the runtime applies.

use std::net::IpAddr;
use std::time::Duration;

/// Default name of the route device (config/bird-director.conf matches).
pub const DEFAULT_ANNOUNCE_DEVICE: &str = "xvs-bgp";
/// Default kernel table the VIP routes go in (config/bird-director.conf
/// learns it): not main (254), local (255) or default (253), so the
/// director's own forwarding never consults it.
pub const DEFAULT_ANNOUNCE_TABLE: u32 = 100;
/// Default route protocol of the VIP routes (`proto 210` in `ip route`).
pub const DEFAULT_ANNOUNCE_PROTOCOL: u8 = 210;
/// Default time between withdrawing the VIPs on stop and exiting: a few
/// BGP update rounds for the routers to move new flows away, and time
/// for short connections to finish.
pub const DEFAULT_DRAIN_TIME: Duration = Duration::from_secs(5);

/// How a director announces its VIPs.
///
/// Guaranteed by the loader: `device` is a valid interface name, `table`
/// is not one of the kernel's reserved tables, every VIP in `vips` is the
/// VIP of a configured service.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Announce {
    /// The TUN device the VIP routes go through.
    pub device: String,
    /// The kernel routing table BIRD learns them from.
    pub table: u32,
    /// Their route protocol number.
    pub protocol: u8,
    /// How long the director keeps forwarding after it withdrew its VIPs
    /// on SIGTERM/SIGINT, before it exits.
    pub drain_time: Duration,
    /// The VIPs announced (sorted, unique); every service VIP unless the
    /// file lists them.
    pub vips: Vec<IpAddr>,
}
