//! Addresses and MACs of the fixture topology (all in 198.18.0.0/15 and
//! fd00::/8):
//!
//! ```text
//! clients ── gw 198.18.0.1 ── [client if 0: 198.18.0.2] xvs [if 1: 198.18.1.1] ── real servers 198.18.1.11-13
//! ```

use std::net::{Ipv4Addr, Ipv6Addr};

pub const CLIENT_IF: usize = 0;
pub const SERVER_IF: usize = 1;

pub const DIR_CLIENT_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];
pub const DIR_SERVER_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x02];
pub const GW_MAC: [u8; 6] = [0x02, 0, 0, 0, 0xee, 0x01];
pub const CLIENT_MAC: [u8; 6] = [0x02, 0, 0, 0, 0xcc, 0x01];

pub const fn rs_mac(i: usize) -> [u8; 6] {
    [0x02, 0, 0, 0, 0xaa, 0x11 + i as u8]
}

pub const GW4: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
pub const GW6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 1, 0, 0, 0, 1);
pub const DIR4: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
pub const DIR4_SERVERS: Ipv4Addr = Ipv4Addr::new(198, 18, 1, 1);
pub const DIR6_SERVERS: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 2, 0, 0, 0, 1);

/// A client behind the gateway.
pub const CLIENT4: Ipv4Addr = Ipv4Addr::new(198, 19, 0, 7);
pub const CLIENT6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 9, 0, 0, 0, 7);
/// A client on the director's client segment.
pub const CLIENT4_DIRECT: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 50);

pub const RS4: [Ipv4Addr; 3] = [
    Ipv4Addr::new(198, 18, 1, 11),
    Ipv4Addr::new(198, 18, 1, 12),
    Ipv4Addr::new(198, 18, 1, 13),
];
pub const RS6: [Ipv6Addr; 3] = [
    Ipv6Addr::new(0xfd00, 0, 0, 2, 0, 0, 0, 0x11),
    Ipv6Addr::new(0xfd00, 0, 0, 2, 0, 0, 0, 0x12),
    Ipv6Addr::new(0xfd00, 0, 0, 2, 0, 0, 0, 0x13),
];

/// FullNAT local addresses.
pub const LIP4: Ipv4Addr = Ipv4Addr::new(198, 18, 1, 200);
pub const LIP6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 2, 0, 0, 0, 0x200);

/// VIPs per method (IPv4).
pub const VIP4_DR: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 10);
pub const VIP4_NAT: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 11);
pub const VIP4_TUN: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 12);
pub const VIP4_FNAT: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 13);
/// Persistent NAT service (port 443).
pub const VIP4_PERSIST: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 14);
/// A service whose only real server has weight 0.
pub const VIP4_EMPTY: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 15);
/// FullNAT with a two-port pool (exhaustion).
pub const VIP4_TINY: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 16);

/// UDP NAT service with one-packet scheduling (two real servers).
pub const VIP4_OPS: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 17);

/// VIPs per method (IPv6).
pub const VIP6_DR: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 1, 0, 0, 0, 0x10);
pub const VIP6_NAT: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 1, 0, 0, 0, 0x11);
pub const VIP6_TUN: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 1, 0, 0, 0, 0x12);
pub const VIP6_FNAT: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 1, 0, 0, 0, 0x13);

/// The VIP of the service for `method` ("dr", "nat", "tun", "fullnat").
pub fn method_vip(method: &str, v6: bool) -> std::net::IpAddr {
    match (method, v6) {
        ("dr", false) => VIP4_DR.into(),
        ("nat", false) => VIP4_NAT.into(),
        ("tun", false) => VIP4_TUN.into(),
        ("fullnat", false) => VIP4_FNAT.into(),
        ("dr", true) => VIP6_DR.into(),
        ("nat", true) => VIP6_NAT.into(),
        ("tun", true) => VIP6_TUN.into(),
        ("fullnat", true) => VIP6_FNAT.into(),
        _ => unreachable!("no service for method {method:?}"),
    }
}

/// Service ports: TCP 80 and UDP 53 on every VIP; NAT/FullNAT real servers
/// listen on 8080 (TCP) and 5353 (UDP); DR/TUN keep the service port.
pub const TCP_PORT: u16 = 80;
pub const UDP_PORT: u16 = 53;
pub const RS_TCP_PORT: u16 = 8080;
pub const RS_UDP_PORT: u16 = 5353;
