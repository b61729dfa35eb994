//! The neighbour entries the benches start from. [`crate::Rig`] turns
//! them into the runtime's own published table ([`NeighborTable`], built
//! for the rig's plan as the control thread builds it), so the MAC lookups
//! of every method are measured at their production cost.

use std::net::IpAddr;

use xvs_config::MacAddr;
use xvs_dataplane::{NeighborTable, Plan};

/// ⟨interface, IP⟩ → MAC entries, as the control thread's cache resolves them.
#[derive(Clone, Debug, Default)]
pub struct FastNeighbors {
    entries: Vec<((usize, IpAddr), MacAddr)>,
}

impl FastNeighbors {
    pub fn new() -> FastNeighbors {
        FastNeighbors::default()
    }

    pub fn insert(&mut self, iface: usize, ip: IpAddr, mac: MacAddr) {
        self.entries.push(((iface, ip), mac));
    }

    /// The testkit's fixture neighbours (gateways, the on-link client and
    /// the three lab real servers).
    pub fn lab() -> FastNeighbors {
        FastNeighbors {
            entries: xvs_testkit::lab_neighbor_entries(),
        }
    }

    /// The table workers read, with the hop slots of `plan`.
    pub fn table(&self, plan: &Plan) -> NeighborTable {
        NeighborTable::new(self.entries.iter().copied(), Some(plan))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use xvs_dataplane::Neighbors;
    use xvs_testkit::{rs_mac, CLIENT_IF, GW4, GW_MAC, RS4, RS6, SERVER_IF};

    #[test]
    fn lab_neighbors_resolve_gateway_and_real_servers_per_interface() {
        let n = FastNeighbors::lab().table(&xvs_testkit::lab_plan(1).0);
        assert_eq!(n.lookup(CLIENT_IF, GW4.into()), Some(GW_MAC));
        assert_eq!(n.lookup(SERVER_IF, RS4[2].into()), Some(rs_mac(2)));
        assert_eq!(n.lookup(SERVER_IF, RS6[0].into()), Some(rs_mac(0)));
        // Keyed by interface too: the gateway is not a neighbour on the server side.
        assert_eq!(n.lookup(SERVER_IF, GW4.into()), None);
    }
}
