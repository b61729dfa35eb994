//! Egress selection: which interface and next hop reach an address, and the
//! neighbour (MAC) lookup the pipeline asks the driver for.
//!
//! The director's routing is deliberately simple, like an appliance's: a
//! destination inside a connected prefix of an interface is reached
//! directly; anything else goes to that family's gateway. The neighbour
//! cache itself lives outside the pure pipeline (the AF_XDP driver resolves
//! with ARP/ND and ages entries); the pipeline only reads it through
//! [`Neighbors`].

use std::collections::HashMap;
use std::net::IpAddr;

use ahash::RandomState;
use xvs_config::{Interface, MacAddr};

use crate::plan::Plan;

/// Read access to the neighbour cache (IP → MAC per interface).
pub trait Neighbors {
    fn lookup(&self, iface: usize, ip: IpAddr) -> Option<MacAddr>;

    /// The MAC of `plan`'s next hop number `hop` ([`Plan::hops`]): the
    /// same answer as [`Neighbors::lookup`] of that hop, which a table
    /// built for `plan` gives without hashing.
    #[inline]
    fn lookup_hop(&self, plan: &Plan, hop: u32) -> Option<MacAddr> {
        let &(iface, ip) = plan.hops.get(hop as usize)?;
        self.lookup(iface, ip)
    }
}

/// The neighbour table workers read, published by the control thread:
/// ⟨interface, IP⟩ → MAC in an ahash map, and the MACs of one plan's next
/// hops (real servers, gateways) in an array, so that forwarding to a
/// real server or a gateway reads one slot instead of hashing. The array
/// is used only with the plan it was built for; with any other plan (a
/// worker that loaded a newer plan first) lookups go to the map.
#[derive(Clone, Debug, Default)]
pub struct NeighborTable {
    map: HashMap<(usize, IpAddr), MacAddr, RandomState>,
    /// [`Plan::id`] the hop array belongs to (0: none).
    plan_id: u64,
    hop_macs: Box<[Option<MacAddr>]>,
}

impl NeighborTable {
    /// A table of `entries`, with the hop array of `plan` if given.
    pub fn new(
        entries: impl IntoIterator<Item = ((usize, IpAddr), MacAddr)>,
        plan: Option<&Plan>,
    ) -> NeighborTable {
        let map: HashMap<_, _, RandomState> = entries.into_iter().collect();
        let (plan_id, hop_macs) = match plan {
            Some(p) => (p.id, p.hops.iter().map(|k| map.get(k).copied()).collect()),
            None => (0, Box::default()),
        };
        NeighborTable {
            map,
            plan_id,
            hop_macs,
        }
    }

    /// The same entries with the hop array of `plan`.
    pub fn for_plan(&self, plan: &Plan) -> NeighborTable {
        NeighborTable::new(self.map.iter().map(|(k, v)| (*k, *v)), Some(plan))
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

impl Neighbors for NeighborTable {
    #[inline]
    fn lookup(&self, iface: usize, ip: IpAddr) -> Option<MacAddr> {
        self.map.get(&(iface, ip)).copied()
    }

    #[inline]
    fn lookup_hop(&self, plan: &Plan, hop: u32) -> Option<MacAddr> {
        if plan.id == self.plan_id {
            return self.hop_macs.get(hop as usize).copied().flatten();
        }
        let &(iface, ip) = plan.hops.get(hop as usize)?;
        self.lookup(iface, ip)
    }
}

/// A fixed neighbour table: tests, benches and static-MAC deployments.
#[derive(Clone, Debug, Default)]
pub struct StaticNeighbors {
    entries: HashMap<(usize, IpAddr), MacAddr>,
}

impl StaticNeighbors {
    pub fn new() -> StaticNeighbors {
        StaticNeighbors::default()
    }

    pub fn insert(&mut self, iface: usize, ip: IpAddr, mac: MacAddr) {
        self.entries.insert((iface, ip), mac);
    }
}

impl Neighbors for StaticNeighbors {
    fn lookup(&self, iface: usize, ip: IpAddr) -> Option<MacAddr> {
        self.entries.get(&(iface, ip)).copied()
    }
}

/// Where a packet to some address leaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Egress {
    pub iface: usize,
    /// The address whose MAC the frame goes to (the destination itself or a gateway).
    pub next_hop: IpAddr,
    /// The interface's MAC (source MAC of the frame).
    pub src_mac: MacAddr,
    /// The interface's layer-3 MTU.
    pub mtu: u16,
}

impl Egress {
    /// Leaving by interface `iface` (an index into `interfaces`) towards
    /// `next_hop`.
    pub fn of(interfaces: &[Interface], iface: usize, next_hop: IpAddr) -> Egress {
        let i = &interfaces[iface];
        Egress {
            iface,
            next_hop,
            src_mac: i.mac.unwrap_or_default(),
            mtu: i.mtu,
        }
    }
}

/// Find the egress for `dst` among `interfaces`.
pub fn route(interfaces: &[Interface], dst: IpAddr) -> Option<Egress> {
    let egress = |iface: usize, next_hop: IpAddr| Egress::of(interfaces, iface, next_hop);
    for (idx, i) in interfaces.iter().enumerate() {
        if i.addresses.iter().any(|net| net.contains(dst)) {
            return Some(egress(idx, dst));
        }
    }
    for (idx, i) in interfaces.iter().enumerate() {
        let gw = match dst {
            IpAddr::V4(_) => i.gateway_v4.map(IpAddr::V4),
            IpAddr::V6(_) => i.gateway_v6.map(IpAddr::V6),
        };
        if let Some(gw) = gw {
            return Some(egress(idx, gw));
        }
    }
    None
}

/// The director's own address on `iface` of the same family as `like`
/// (the "route source" used as the outer source of IPIP packets).
pub fn source_address(interfaces: &[Interface], iface: usize, like: IpAddr) -> Option<IpAddr> {
    let i = interfaces.get(iface)?;
    i.addresses
        .iter()
        .map(|n| n.addr)
        .find(|a| a.is_ipv4() == like.is_ipv4() && !is_link_local(*a))
        .or_else(|| {
            i.addresses
                .iter()
                .map(|n| n.addr)
                .find(|a| a.is_ipv4() == like.is_ipv4())
        })
}

fn is_link_local(a: IpAddr) -> bool {
    match a {
        IpAddr::V4(v4) => v4.is_link_local(),
        IpAddr::V6(v6) => v6.segments()[0] & 0xffc0 == 0xfe80,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use xvs_config::IpNet;

    fn iface(name: &str, addrs: &[&str], gw4: Option<&str>) -> Interface {
        Interface {
            name: name.into(),
            mac: Some([2, 0, 0, 0, 0, name.len() as u8]),
            addresses: addrs
                .iter()
                .map(|a| {
                    let (ip, p) = a.split_once('/').unwrap();
                    IpNet {
                        addr: ip.parse().unwrap(),
                        prefix: p.parse().unwrap(),
                    }
                })
                .collect(),
            gateway_v4: gw4.map(|g| g.parse().unwrap()),
            gateway_v6: None,
            mtu: 1500,
            queues: vec![0],
            zero_copy: None,
        }
    }

    #[test]
    fn connected_prefix_wins_over_gateway() {
        let ifs = [
            iface("c", &["198.18.0.2/24"], Some("198.18.0.1")),
            iface("rr", &["198.18.1.1/24", "fd00:1::1/64"], None),
        ];
        let e = route(&ifs, "198.18.1.11".parse().unwrap()).unwrap();
        assert_eq!((e.iface, e.next_hop), (1, "198.18.1.11".parse().unwrap()));
        let e = route(&ifs, "203.0.113.9".parse().unwrap()).unwrap();
        assert_eq!((e.iface, e.next_hop), (0, "198.18.0.1".parse().unwrap()));
        let e = route(&ifs, "fd00:1::20".parse().unwrap()).unwrap();
        assert_eq!(e.iface, 1);
        assert_eq!(route(&ifs, "fd00:9::1".parse().unwrap()), None);
    }

    #[test]
    fn source_address_matches_family() {
        let ifs = [iface("rr", &["198.18.1.1/24", "fd00:1::1/64"], None)];
        assert_eq!(
            source_address(&ifs, 0, "fd00:1::9".parse().unwrap()),
            Some("fd00:1::1".parse().unwrap())
        );
        assert_eq!(
            source_address(&ifs, 0, "198.18.1.9".parse().unwrap()),
            Some("198.18.1.1".parse().unwrap())
        );
    }
}
