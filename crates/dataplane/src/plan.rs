//! The forwarding plan: a [`Snapshot`] compiled for the per-packet path.
//!
//! The control thread builds one `Plan` per configuration version and
//! publishes it to the workers (RCU); workers only read it. Compiling adds
//! what the packet path needs on top of the plain configuration: the
//! service lookup index, the schedulers' tables (dh/sh/mh), and stable
//! real-server identities.
//!
//! Real-server identity must survive reloads: connection entries name their
//! real server by a `dest_id` (a u32 that fits the compact entry), and the
//! load counters lc/wlc compare and the `--stats` counters must carry on
//! across a reload that keeps the real server. The [`DestRegistry`] (owned by
//! the control thread, passed to every compile) hands out those ids and
//! keeps the shared counters; a real server that leaves the configuration
//! keeps its id and counters with `available = false`, as IPVS parks a
//! deleted destination in its trash list, so entries still bound to it
//! unbind cleanly and reappear if it is added back.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use ahash::RandomState;

use xvs_config::{
    ForwardMethod, Interface, MacAddr, Persistence, Protocol, Snapshot, Timeouts, Tunables,
};
use xvs_sched::{DestLoad, SchedDest, SchedError, ServiceScheduler, Thresholds};

use crate::counters::Stats;
use crate::route::{route, source_address, Egress};

/// VIP lists up to this long are scanned, longer ones binary-searched
/// ([`Plan::is_vip4`]).
const LINEAR_VIPS: usize = 32;

/// Everything shared about one real server across plans: its load counters
/// (read by the schedulers) and its statistics.
#[derive(Debug)]
pub struct DestShared {
    pub id: u32,
    pub load: Arc<DestLoad>,
    pub stats: Stats,
}

/// Statistics of one virtual service, shared across plans.
#[derive(Debug)]
pub struct ServiceShared {
    pub stats: Stats,
}

type ServiceKey = (Protocol, IpAddr, u16);
type DestKey = (Protocol, IpAddr, u16, IpAddr, u16);

/// Stable identities and counters for services and real servers, across reloads.
#[derive(Debug)]
pub struct DestRegistry {
    workers: usize,
    dest_ids: HashMap<DestKey, u32>,
    dests: Vec<Arc<DestShared>>,
    services: HashMap<ServiceKey, Arc<ServiceShared>>,
}

impl DestRegistry {
    pub fn new(workers: usize) -> DestRegistry {
        DestRegistry {
            workers: workers.max(1),
            dest_ids: HashMap::new(),
            dests: Vec::new(),
            services: HashMap::new(),
        }
    }

    fn dest(&mut self, key: DestKey) -> Arc<DestShared> {
        if let Some(&id) = self.dest_ids.get(&key) {
            return Arc::clone(&self.dests[id as usize]);
        }
        let id = self.dests.len() as u32;
        let shared = Arc::new(DestShared {
            id,
            load: Arc::new(DestLoad::new(self.workers)),
            stats: Stats::new(self.workers),
        });
        self.dest_ids.insert(key, id);
        self.dests.push(Arc::clone(&shared));
        shared
    }

    fn service(&mut self, key: ServiceKey) -> Arc<ServiceShared> {
        let workers = self.workers;
        Arc::clone(self.services.entry(key).or_insert_with(|| {
            Arc::new(ServiceShared {
                stats: Stats::new(workers),
            })
        }))
    }
}

/// A real server as the packet path sees it.
#[derive(Debug)]
pub struct PlanDest {
    pub id: u32,
    /// Index of its service in `Plan::services`; `None` for a real server
    /// no longer configured.
    pub service: Option<usize>,
    /// Statistics of the service it belongs (or belonged) to.
    pub service_shared: Arc<ServiceShared>,
    pub address: IpAddr,
    pub port: u16,
    /// Protocol and port of the service it belongs (or belonged) to: with
    /// `port`, the source of its NAT replies.
    pub protocol: Protocol,
    pub vport: u16,
    pub method: ForwardMethod,
    pub weight: u32,
    /// False once the real server left the configuration (IPVS: no F_AVAILABLE).
    pub available: bool,
    pub thresholds: Thresholds,
    pub mac: Option<MacAddr>,
    /// Where packets to this real server leave (worked out once here, not
    /// per packet); `None` when no interface reaches it.
    pub egress: Option<Egress>,
    /// Whose MAC a frame to it carries: its configured MAC when it is its
    /// own next hop, else the plan's next hop the neighbour cache resolves.
    /// `None` exactly when `egress` is.
    pub next_hop: Option<NextHop>,
    /// The director's address a TUN packet to it carries as outer source
    /// (`source_address` of its egress), worked out once here.
    pub tunnel_src: Option<IpAddr>,
    pub shared: Arc<DestShared>,
}

/// Where the destination MAC of a frame to a real server comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NextHop {
    /// Configured for the real server, which is its own next hop.
    Static(MacAddr),
    /// Entry `n` of [`Plan::hops`], resolved by the neighbour cache.
    Hop(u32),
}

/// A directly connected IPv4 prefix (the fast path's route for replies).
#[derive(Clone, Copy, Debug)]
struct Connected4 {
    net: u32,
    mask: u32,
    /// The egress, with `next_hop` to be replaced by the destination.
    egress: Egress,
}

/// Interns the next hops a plan names (real servers' next hops and
/// gateways) as small numbers.
#[derive(Default)]
struct HopSet {
    hops: Vec<(usize, IpAddr)>,
    index: HashMap<(usize, IpAddr), u32>,
}

impl HopSet {
    fn intern(&mut self, iface: usize, ip: IpAddr) -> u32 {
        *self.index.entry((iface, ip)).or_insert_with(|| {
            self.hops.push((iface, ip));
            (self.hops.len() - 1) as u32
        })
    }

    /// The MAC source for a real server at `address` reached by `egress`.
    fn next_hop(
        &mut self,
        address: IpAddr,
        mac: Option<MacAddr>,
        egress: Option<Egress>,
    ) -> Option<NextHop> {
        let e = egress?;
        Some(match mac {
            Some(m) if e.next_hop == address => NextHop::Static(m),
            _ => NextHop::Hop(self.intern(e.iface, e.next_hop)),
        })
    }
}

/// Source of [`Plan::id`]: every compiled plan gets a new number.
static NEXT_PLAN_ID: AtomicU64 = AtomicU64::new(1);

/// A virtual service as the packet path sees it.
#[derive(Debug)]
pub struct PlanService {
    pub protocol: Protocol,
    pub vip: IpAddr,
    pub port: u16,
    pub persistence: Option<Persistence>,
    pub ops: bool,
    /// SYN proxy (NAT and FullNAT real servers; crate::synproxy).
    pub synproxy: bool,
    pub local_pool: Option<usize>,
    pub scheduler: ServiceScheduler,
    /// The scheduler's view of the real servers, in list order.
    pub sched_dests: Vec<SchedDest>,
    /// `dest_id` of each real server, same order as `sched_dests`.
    pub dest_ids: Vec<u32>,
    pub shared: Arc<ServiceShared>,
}

/// A FullNAT local-address pool with each worker's share of the ports.
#[derive(Debug)]
pub struct PlanPool {
    pub addresses: Vec<IpAddr>,
    /// Inclusive port range of each worker: ports are split into contiguous
    /// blocks so two workers never hand out the same local address:port.
    pub worker_ports: Vec<(u16, u16)>,
}

/// The compiled, immutable forwarding plan.
#[derive(Debug)]
pub struct Plan {
    pub version: u64,
    /// Unique to this compiled plan (never 0): what a neighbour table's
    /// per-hop MACs are valid for.
    pub id: u64,
    /// The next hops the plan names (`NextHop::Hop(n)` is `hops[n]`), for
    /// the neighbour table to keep their MACs in an array.
    pub hops: Vec<(usize, IpAddr)>,
    pub snapshot: Arc<Snapshot>,
    pub services: Vec<PlanService>,
    /// Indexed by `dest_id`; `None` for ids the registry knows but that
    /// never belonged to a service of a plan built from it (cannot happen
    /// in practice; kept total so a lookup never panics).
    pub dests: Vec<Option<PlanDest>>,
    pub pools: Vec<PlanPool>,
    pub interfaces: Vec<Interface>,
    pub timeouts: Timeouts,
    pub tunables: Tunables,
    pub workers: usize,
    /// `global.prefetch_min_live`: from how many live IPv4 entries in its
    /// shard a worker starts a burst's lookups early
    /// ([`crate::Worker::prefetch_burst`]).
    pub prefetch_min_live: usize,
    service_index: HashMap<(u128, u32), usize, RandomState>,
    /// Every VIP; true while it is on VRRP standby (`Snapshot::standby`).
    vips: HashMap<u128, bool, RandomState>,
    /// The IPv4 VIPs served now (not on standby), sorted: the fast path's membership test
    /// ([`Plan::is_vip4`]: cheaper than hashing a u128).
    vips4: Box<[u32]>,
    local_addresses: HashMap<u128, (), RandomState>,
    /// IPv4 routing as [`route`] does it, flattened: connected prefixes in
    /// interface order, then the first IPv4 gateway and its hop.
    connected4: Box<[Connected4]>,
    gateway4: Option<(Egress, u32)>,
}

/// An address as one integer: IPv4 as its IPv4-mapped IPv6 form, so the
/// per-packet maps hash one `u128` instead of an enum.
#[inline]
fn addr_key(a: IpAddr) -> u128 {
    match a {
        IpAddr::V4(v4) => (0xffff_u128 << 32) | u128::from(u32::from(v4)),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

#[inline]
fn service_key(protocol: u8, vip: IpAddr, port: u16) -> (u128, u32) {
    (addr_key(vip), (u32::from(port) << 8) | u32::from(protocol))
}

/// Why a snapshot could not be compiled (validated configs compile; this
/// guards the scheduler's own limits).
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("service {service}: {source}")]
    Scheduler {
        service: String,
        #[source]
        source: SchedError,
    },
}

impl Plan {
    /// Compile `snapshot`; `previous` supplies the real servers that left the
    /// configuration (kept unavailable so their entries drain).
    pub fn compile(
        snapshot: Arc<Snapshot>,
        registry: &mut DestRegistry,
        previous: Option<&Plan>,
    ) -> Result<Plan, PlanError> {
        let workers = snapshot.global.workers.len().max(1);
        let mut services = Vec::with_capacity(snapshot.services.len());
        let mut dests: Vec<Option<PlanDest>> = Vec::new();
        let mut service_index = HashMap::with_hasher(RandomState::new());
        let mut vips = HashMap::with_hasher(RandomState::new());
        let mut vips4 = Vec::new();
        let mut hops = HopSet::default();

        for (si, svc) in snapshot.services.iter().enumerate() {
            let service_shared = registry.service((svc.protocol, svc.vip, svc.port));
            let mut sched_dests = Vec::with_capacity(svc.real_servers.len());
            let mut dest_ids = Vec::with_capacity(svc.real_servers.len());
            for rs in &svc.real_servers {
                let shared = registry.dest((svc.protocol, svc.vip, svc.port, rs.address, rs.port));
                let thresholds = Thresholds {
                    upper: rs.upper_threshold,
                    lower: rs.lower_threshold,
                };
                let previous_dest = previous
                    .and_then(|p| p.dest(shared.id))
                    .filter(|d| d.available);
                // IPVS keeps last_weight at the last non-zero weight (mh uses it).
                let last_weight = match (rs.weight, previous_dest) {
                    (0, Some(p)) if p.weight != 0 => p.weight,
                    _ => rs.weight,
                };
                if let Some(p) = previous_dest {
                    shared.load.on_edit(p.thresholds, thresholds);
                }
                sched_dests.push(SchedDest {
                    addr: rs.address,
                    port: rs.port,
                    weight: rs.weight,
                    last_weight,
                    available: true,
                    load: Arc::clone(&shared.load),
                });
                dest_ids.push(shared.id);
                let id = shared.id as usize;
                if dests.len() <= id {
                    dests.resize_with(id + 1, || None);
                }
                let egress = route(&snapshot.interfaces, rs.address);
                dests[id] = Some(PlanDest {
                    id: shared.id,
                    service: Some(si),
                    service_shared: Arc::clone(&service_shared),
                    address: rs.address,
                    port: rs.port,
                    protocol: svc.protocol,
                    vport: svc.port,
                    method: rs.method,
                    weight: rs.weight,
                    available: true,
                    thresholds,
                    mac: rs.mac,
                    egress,
                    next_hop: hops.next_hop(rs.address, rs.mac, egress),
                    tunnel_src: egress
                        .and_then(|e| source_address(&snapshot.interfaces, e.iface, rs.address)),
                    shared,
                });
            }
            let scheduler = ServiceScheduler::new(
                svc.scheduler,
                svc.sched_flags,
                svc.mh_table_size,
                &sched_dests,
            )
            .map_err(|source| PlanError::Scheduler {
                service: svc.name.clone(),
                source,
            })?;
            service_index.insert(service_key(svc.protocol.number(), svc.vip, svc.port), si);
            // A VIP whose VRRP instance is not master here stays a VIP
            // (its traffic is dropped and counted, not passed on), but
            // the fast path never takes it for one.
            let standby = snapshot.standby.binary_search(&svc.vip).is_ok();
            vips.insert(addr_key(svc.vip), standby);
            if let (IpAddr::V4(a), false) = (svc.vip, standby) {
                vips4.push(u32::from(a));
            }
            services.push(PlanService {
                protocol: svc.protocol,
                vip: svc.vip,
                port: svc.port,
                persistence: svc.persistence,
                ops: svc.ops,
                synproxy: svc.synproxy,
                local_pool: svc.local_pool,
                scheduler,
                sched_dests,
                dest_ids,
                shared: service_shared,
            });
        }

        // Real servers that were in the previous plan but are gone now stay
        // known, unavailable, so their entries can drain and unbind.
        if let Some(prev) = previous {
            for d in prev.dests.iter().flatten() {
                let id = d.id as usize;
                if dests.len() <= id {
                    dests.resize_with(id + 1, || None);
                }
                if dests[id].is_none() {
                    dests[id] = Some(PlanDest {
                        id: d.id,
                        service: None,
                        service_shared: Arc::clone(&d.service_shared),
                        address: d.address,
                        port: d.port,
                        protocol: d.protocol,
                        vport: d.vport,
                        method: d.method,
                        weight: d.weight,
                        available: false,
                        thresholds: d.thresholds,
                        mac: d.mac,
                        egress: d.egress,
                        next_hop: hops.next_hop(d.address, d.mac, d.egress),
                        tunnel_src: d.tunnel_src,
                        shared: Arc::clone(&d.shared),
                    });
                }
            }
        }

        let pools = snapshot
            .local_pools
            .iter()
            .map(|p| PlanPool {
                addresses: p.addresses.clone(),
                worker_ports: split_ports(p.port_min, p.port_max, workers),
            })
            .collect::<Vec<_>>();
        let mut local_addresses = HashMap::with_hasher(RandomState::new());
        for p in &pools {
            for a in &p.addresses {
                local_addresses.insert(addr_key(*a), ());
            }
        }

        // The same egresses route() builds, flattened for the fast path.
        let egress_of =
            |iface: usize, next_hop: IpAddr| Egress::of(&snapshot.interfaces, iface, next_hop);
        let mut connected4 = Vec::new();
        for (iface, i) in snapshot.interfaces.iter().enumerate() {
            for net in &i.addresses {
                if let IpAddr::V4(a) = net.addr {
                    let mask = u32::MAX
                        .checked_shl(32 - u32::from(net.prefix.min(32)))
                        .unwrap_or(0);
                    connected4.push(Connected4 {
                        net: u32::from(a) & mask,
                        mask,
                        egress: egress_of(iface, net.addr),
                    });
                }
            }
        }
        let gateway4 = snapshot
            .interfaces
            .iter()
            .enumerate()
            .find_map(|(iface, i)| Some((iface, IpAddr::V4(i.gateway_v4?))))
            .map(|(iface, gw)| (egress_of(iface, gw), hops.intern(iface, gw)));
        // Every gateway is a next hop whose MAC the packet path may need.
        for (iface, i) in snapshot.interfaces.iter().enumerate() {
            for gw in [i.gateway_v4.map(IpAddr::V4), i.gateway_v6.map(IpAddr::V6)]
                .into_iter()
                .flatten()
            {
                hops.intern(iface, gw);
            }
        }

        Ok(Plan {
            version: snapshot.version,
            id: NEXT_PLAN_ID.fetch_add(1, Ordering::Relaxed),
            hops: hops.hops,
            connected4: connected4.into_boxed_slice(),
            gateway4,
            services,
            dests,
            pools,
            interfaces: snapshot.interfaces.clone(),
            timeouts: snapshot.global.timeouts,
            tunables: snapshot.global.tunables,
            workers,
            prefetch_min_live: snapshot.global.prefetch_min_live,
            service_index,
            vips4: {
                vips4.sort_unstable();
                vips4.dedup();
                vips4.into_boxed_slice()
            },
            vips,
            local_addresses,
            snapshot,
        })
    }

    /// The service for a packet to `vip:port` (exact port first, then the
    /// all-ports service, as IPVS's ⟨proto, VIP, port⟩ → ⟨proto, VIP, 0⟩).
    #[inline]
    pub fn find_service(&self, protocol: u8, vip: IpAddr, port: u16) -> Option<usize> {
        self.service_index
            .get(&service_key(protocol, vip, port))
            .or_else(|| self.service_index.get(&service_key(protocol, vip, 0)))
            .copied()
    }

    #[inline]
    pub fn is_vip(&self, addr: IpAddr) -> bool {
        self.vips.contains_key(&addr_key(addr))
    }

    /// `Some(true)` for a VIP this director does not serve now (its VRRP
    /// instance is backup or fault), `Some(false)` for one it serves.
    #[inline]
    pub fn vip_standby(&self, addr: IpAddr) -> Option<bool> {
        self.vips.get(&addr_key(addr)).copied()
    }

    /// [`Self::is_vip`] for an IPv4 address as a number. A director has
    /// a handful of VIPs: up to [`LINEAR_VIPS`] they are all compared in
    /// one pass without a data-dependent branch (a binary search is a
    /// chain of dependent loads and compares, and its branches follow the
    /// traffic); more are binary-searched (the list is sorted).
    #[inline]
    pub fn is_vip4(&self, addr: u32) -> bool {
        if self.vips4.len() <= LINEAR_VIPS {
            self.vips4.iter().fold(false, |hit, &v| hit | (v == addr))
        } else {
            self.vips4.binary_search(&addr).is_ok()
        }
    }

    /// True for a FullNAT local address (replies to it are ours).
    #[inline]
    pub fn is_local_address(&self, addr: IpAddr) -> bool {
        self.local_addresses.contains_key(&addr_key(addr))
    }

    /// [`route`] for an IPv4 destination, with the plan's hop number of
    /// the next hop when it is a gateway (`None`: the destination itself,
    /// on a connected prefix).
    #[inline]
    pub fn route4(&self, dst: u32) -> Option<(Egress, Option<u32>)> {
        for c in self.connected4.iter() {
            if dst & c.mask == c.net {
                let mut e = c.egress;
                e.next_hop = IpAddr::V4(Ipv4Addr::from(dst));
                return Some((e, None));
            }
        }
        self.gateway4.map(|(e, hop)| (e, Some(hop)))
    }

    #[inline]
    pub fn dest(&self, id: u32) -> Option<&PlanDest> {
        self.dests.get(id as usize).and_then(Option::as_ref)
    }
}

/// Split `min..=max` into `workers` contiguous, non-overlapping blocks.
/// Validation guarantees at least one port per worker; should it not hold,
/// the surplus workers get an empty block (start > end).
fn split_ports(min: u16, max: u16, workers: usize) -> Vec<(u16, u16)> {
    let total = u32::from(max).saturating_sub(u32::from(min)) + 1;
    let workers = workers as u32;
    (0..workers)
        .map(|w| {
            let start = u32::from(min) + total * w / workers;
            let end = u32::from(min) + total * (w + 1) / workers;
            if end == start {
                (1, 0)
            } else {
                (start as u16, (end - 1) as u16)
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::split_ports;

    #[test]
    fn ports_split_into_disjoint_blocks_covering_the_range() {
        let blocks = split_ports(1024, 65535, 3);
        assert_eq!(blocks[0].0, 1024);
        assert_eq!(blocks[2].1, 65535);
        for w in blocks.windows(2) {
            assert_eq!(u32::from(w[0].1) + 1, u32::from(w[1].0));
        }
        assert_eq!(split_ports(10, 13, 2), vec![(10, 11), (12, 13)]);
        assert_eq!(split_ports(10, 10, 1), vec![(10, 10)]);
    }
}
