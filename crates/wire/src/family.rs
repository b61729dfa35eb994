//! Addresses of the other family, for builders that write one family's
//! fields from an `IpAddr` (VRRP, connection sync): IPv4 from an
//! IPv4-mapped IPv6 address (else 0.0.0.0), IPv6 as IPv4-mapped.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

pub(crate) fn to_v4(a: IpAddr) -> Ipv4Addr {
    match a {
        IpAddr::V4(v4) => v4,
        IpAddr::V6(v6) => v6.to_ipv4_mapped().unwrap_or(Ipv4Addr::UNSPECIFIED),
    }
}

pub(crate) fn to_v6(a: IpAddr) -> Ipv6Addr {
    match a {
        IpAddr::V4(v4) => v4.to_ipv6_mapped(),
        IpAddr::V6(v6) => v6,
    }
}
