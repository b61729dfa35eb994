//! The neighbour table the benches hand to the pipeline. The runtime
//! publishes an ahash map of ⟨interface, IP⟩ → MAC to its workers; the
//! testkit's `StaticNeighbors` uses std's SipHash map, which costs more per
//! lookup. Benches use this ahash map so that the MAC lookup of NAT and
//! FullNAT (DR and TUN real servers carry a configured MAC instead) is
//! measured at its production cost.

use std::collections::HashMap;
use std::net::IpAddr;

use ahash::RandomState;
use xvs_config::MacAddr;
use xvs_dataplane::Neighbors;
use xvs_testkit::{
    rs_mac, CLIENT4_DIRECT, CLIENT_IF, CLIENT_MAC, GW4, GW6, GW_MAC, RS4, RS6, SERVER_IF,
};

/// ⟨interface, IP⟩ → MAC in an ahash map.
#[derive(Clone, Debug, Default)]
pub struct FastNeighbors {
    map: HashMap<(usize, IpAddr), MacAddr, RandomState>,
}

impl FastNeighbors {
    pub fn new() -> FastNeighbors {
        FastNeighbors::default()
    }

    pub fn insert(&mut self, iface: usize, ip: IpAddr, mac: MacAddr) {
        self.map.insert((iface, ip), mac);
    }

    /// The testkit's fixture neighbours (gateways, the on-link client and
    /// the three lab real servers), as `xvs_testkit::lab_neighbors`.
    pub fn lab() -> FastNeighbors {
        let mut n = FastNeighbors::new();
        n.insert(CLIENT_IF, GW4.into(), GW_MAC);
        n.insert(CLIENT_IF, GW6.into(), GW_MAC);
        n.insert(CLIENT_IF, CLIENT4_DIRECT.into(), CLIENT_MAC);
        for (i, rs) in RS4.iter().enumerate() {
            n.insert(SERVER_IF, (*rs).into(), rs_mac(i));
        }
        for (i, rs) in RS6.iter().enumerate() {
            n.insert(SERVER_IF, (*rs).into(), rs_mac(i));
        }
        n
    }
}

impl Neighbors for FastNeighbors {
    #[inline]
    fn lookup(&self, iface: usize, ip: IpAddr) -> Option<MacAddr> {
        self.map.get(&(iface, ip)).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lab_neighbors_resolve_gateway_and_real_servers_per_interface() {
        let n = FastNeighbors::lab();
        assert_eq!(n.lookup(CLIENT_IF, GW4.into()), Some(GW_MAC));
        assert_eq!(n.lookup(SERVER_IF, RS4[2].into()), Some(rs_mac(2)));
        assert_eq!(n.lookup(SERVER_IF, RS6[0].into()), Some(rs_mac(0)));
        // Keyed by interface too: the gateway is not a neighbour on the server side.
        assert_eq!(n.lookup(SERVER_IF, GW4.into()), None);
    }
}
