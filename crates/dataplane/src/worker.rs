//! One worker's packet pipeline: `process(frame) -> Verdict`.
//!
//! A worker owns its connection-table shard (as the only writer), its
//! scheduler state (rr/wrr cursors, lblc caches) and its counters; it reads
//! the published [`Plan`]. Nothing here allocates, locks or calls the OS:
//! the driver hands in each received frame and `now`, and acts on the
//! verdict. The steps follow IPVS's ip_vs_in/ip_vs_out:
//!
//! 1. parse once ([`xvs_wire::parse_frame`]); damage → counted drop;
//! 2. ARP, ND and VRRP → the control thread;
//! 3. to a VIP: find the entry or schedule a new one ([`crate::inbound`]);
//! 4. from a real server (NAT/FullNAT reply): translate back
//!    ([`crate::outbound`]);
//! 5. ICMP errors about known flows are translated both ways ([`crate::icmp`]);
//! 6. everything else is not ours → back to the kernel.

use std::net::IpAddr;
use std::sync::Arc;

use xvs_conn::{ConnEntry, ConnId, ConnTable, Direction};
use xvs_sched::{SchedDest, SchedState};
use xvs_wire::{ip_proto, parse_frame, Fragment, FrameInfo, FrameKind};

use crate::counters::WorkerCounters;
use crate::fast::Fast;
use crate::fragment_path::Fragments;
use crate::frame_buf::FrameBuf;
use crate::plan::Plan;
use crate::route::Neighbors;
use crate::sync_install::HOUSEKEEPING_INSTALL_BUDGET;
use crate::sync_link::SyncLink;
use crate::verdict::{DropReason, Punt, Verdict};

/// VRRP's IP protocol number (RFC 5798 §5.1.1.4).
const IPPROTO_VRRP: u8 = 112;
/// Room an ICMP error we originate may need (IPv6: 1280-byte packet + Ethernet).
pub(crate) const SCRATCH_LEN: usize = 1280 + 18;

/// Per-worker state; see the module docs.
#[derive(Debug)]
pub struct Worker {
    pub(crate) id: usize,
    pub(crate) conns: Arc<ConnTable>,
    pub(crate) counters: Arc<WorkerCounters>,
    /// Scheduler state per service of the plan in `plan_version`.
    pub(crate) sched: Vec<SchedState>,
    /// Identity ⟨proto, VIP, port⟩ and real-server list of each service the
    /// scheduler state belongs to, so a reload can carry state over.
    pub(crate) sched_services: Vec<((u8, IpAddr, u16), Vec<SchedDest>)>,
    pub(crate) plan_version: Option<u64>,
    pub(crate) seed: u64,
    /// IPv4 identification for packets we originate (IPIP outer headers, ICMP errors).
    pub(crate) ip_ident: u16,
    /// FullNAT: per pool, per local address, the next port to try.
    pub(crate) pool_cursors: Vec<Vec<u16>>,
    /// FullNAT: per pool, which local address the next flow starts with.
    pub(crate) pool_rotor: Vec<usize>,
    /// Where ICMP errors are built before they replace the frame.
    pub(crate) scratch: Box<[u8; SCRATCH_LEN]>,
    /// Whether IPv4 TCP/UDP of the common shape takes [`crate::fast`] (the default).
    pub(crate) fast_path: bool,
    /// The current burst's lookups as [`Worker::prefetch_burst`] left them.
    pub(crate) hints: crate::fast::Hints,
    /// Connection sync ([`Worker::set_sync`]); `None`: off.
    pub(crate) sync: Option<Arc<SyncLink>>,
    /// The shard is under pressure: new and refreshed SYN_RECV entries get
    /// `pressure_timeouts` ([`crate::pressure`]).
    pub(crate) under_pressure: bool,
    /// The plan's timeouts with the short SYN_RECV one (set on adopt).
    pub(crate) pressure_timeouts: xvs_config::Timeouts,
    /// What the first fragment of each recent fragmented datagram got
    /// ([`crate::fragment_path`]).
    pub(crate) frags: Fragments,
    /// The entry the current packet was forwarded with, when it is a first
    /// fragment (set by the forward, taken by [`crate::fragment_path`]).
    pub(crate) frag_first: Option<ConnEntry>,
    /// The SYN proxy's cookies and records ([`Worker::set_synproxy`]).
    pub(crate) synproxy: Option<Arc<crate::synproxy::SynProxy>>,
    /// Frames to send besides the one processed (a tunnelled packet's
    /// later outer fragments, a SYN proxy's window update), for the
    /// driver ([`crate::extra_tx`]).
    pub(crate) extra_tx: crate::extra_tx::ExtraTx,
}

impl Worker {
    /// A worker with index `id` (its shard in `conns`, its counter cells).
    pub fn new(
        id: usize,
        conns: Arc<ConnTable>,
        counters: Arc<WorkerCounters>,
        seed: u64,
    ) -> Worker {
        Worker {
            id,
            conns,
            counters,
            sched: Vec::new(),
            sched_services: Vec::new(),
            plan_version: None,
            seed,
            ip_ident: (seed as u16) ^ (id as u16).rotate_left(8),
            pool_cursors: Vec::new(),
            pool_rotor: Vec::new(),
            scratch: Box::new([0; SCRATCH_LEN]),
            fast_path: true,
            hints: crate::fast::Hints::new(),
            sync: None,
            under_pressure: false,
            pressure_timeouts: xvs_config::Timeouts::default(),
            frags: Fragments::new(),
            frag_first: None,
            synproxy: None,
            extra_tx: crate::extra_tx::ExtraTx::new(),
        }
    }

    /// Turn connection sync on (`Some`) or off (`None`, the default).
    /// On, the worker pushes onto its queue of `link` the id of every TCP
    /// entry that changes into a state IPVS syncs and of every persistence
    /// template it creates, and [`Worker::drain_installs`] takes synced
    /// connections from it. Off, each of those hooks is one branch. A link
    /// without a queue for this worker's index (built for fewer workers)
    /// is taken as off.
    pub fn set_sync(&mut self, link: Option<Arc<SyncLink>>) {
        self.sync = link.filter(|l| l.workers() > self.id);
    }

    /// The sync link, if sync is on.
    pub fn sync(&self) -> Option<&Arc<SyncLink>> {
        self.sync.as_ref()
    }

    /// Sync on: queue entry `id` to be sent to the backups.
    #[inline]
    pub(crate) fn sync_event(&self, id: ConnId) {
        if let Some(ws) = self.sync.as_deref().and_then(|l| l.get(self.id)) {
            ws.push_event(id);
        }
    }

    /// Turn the established-flow fast path off or on. Off, every packet
    /// takes the general pipeline; the result is the same, only slower
    /// (tests compare the two; benches time both).
    pub fn set_fast_path(&mut self, enabled: bool) {
        self.fast_path = enabled;
    }

    pub fn id(&self) -> usize {
        self.id
    }

    pub fn counters(&self) -> &Arc<WorkerCounters> {
        &self.counters
    }

    /// Adopt a new plan: the quiescent point where per-service scheduler
    /// state moves to the new plan. A service that stays (same ⟨proto, VIP,
    /// port⟩) carries its state over as IPVS edits a service in place (rr
    /// cursor kept, wrr restarted only when weights changed, lblc caches
    /// kept); a new service starts fresh. Called by `process` when the plan
    /// version changes; the driver may call it eagerly after a reload.
    pub fn adopt(&mut self, plan: &Plan) {
        if self.plan_version == Some(plan.version) && self.sched.len() == plan.services.len() {
            return;
        }
        let mut old_states: Vec<Option<SchedState>> = std::mem::take(&mut self.sched)
            .into_iter()
            .map(Some)
            .collect();
        let old_services = std::mem::take(&mut self.sched_services);
        let seed = self.seed;
        self.sched = plan
            .services
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let key = (s.protocol.number(), s.vip, s.port);
                let old = old_services
                    .iter()
                    .position(|(k, _)| *k == key)
                    .and_then(|o| old_states[o].take().map(|st| (st, &old_services[o].1)));
                match old {
                    Some((st, old_dests)) => s.scheduler.carry_state(st, old_dests, &s.sched_dests),
                    None => s
                        .scheduler
                        .new_state(seed ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)),
                }
            })
            .collect();
        self.sched_services = plan
            .services
            .iter()
            .map(|s| ((s.protocol.number(), s.vip, s.port), s.sched_dests.clone()))
            .collect();
        self.pool_cursors = plan
            .pools
            .iter()
            .map(|p| {
                let (lo, _) = p.worker_ports.get(self.id).copied().unwrap_or((1, 0));
                vec![lo; p.addresses.len()]
            })
            .collect();
        self.pool_rotor = vec![0; plan.pools.len()];
        self.pressure_timeouts =
            crate::pressure::shortened(&plan.timeouts, &plan.snapshot.global.table_pressure);
        self.plan_version = Some(plan.version);
    }

    /// Periodic work off the per-packet path: install up to
    /// [`HOUSEKEEPING_INSTALL_BUDGET`] synced connections (sync on), expire
    /// up to `budget` slots of this worker's connection shard, unbinding
    /// counters of what expired, decide whether the shard is still under
    /// pressure, and age the lblc/lblcr caches. Returns
    /// the number of entries freed.
    pub fn housekeeping(&mut self, plan: &Plan, now_secs: u32, budget: usize) -> usize {
        self.adopt(plan);
        if self.sync.is_some() {
            self.drain_installs(plan, now_secs, HOUSEKEEPING_INSTALL_BUDGET);
        }
        let worker = self.id;
        let freed = self.conns.expire_step(worker, now_secs, budget, |e| {
            crate::inbound::unbind_expired(plan, worker, e);
        });
        self.update_pressure(plan);
        self.frags.expire(now_secs);
        self.count_fragment_timeouts();
        for (svc, state) in plan.services.iter().zip(self.sched.iter_mut()) {
            svc.scheduler.housekeeping(state, now_secs);
        }
        freed
    }

    /// Decide what happens to one received frame on interface `ingress`
    /// (an index into the plan's interfaces); rewrite it in place.
    /// Inlined into the driver's receive loop: the fast path is short
    /// enough that a call per packet shows.
    #[inline(always)]
    pub fn process<N: Neighbors + ?Sized>(
        &mut self,
        plan: &Plan,
        neighbors: &N,
        now_secs: u32,
        ingress: usize,
        pkt: &mut FrameBuf<'_>,
    ) -> Verdict {
        self.counters.count_rx(pkt.len());
        let mut ctx = self.context(plan, neighbors, now_secs, ingress);
        let verdict = if self.fast_path {
            match self.fast_path(&ctx, pkt) {
                Fast::Done(v) => {
                    WorkerCounters::count(&self.counters.fast_path);
                    v
                }
                Fast::General => self.classify(&mut ctx, pkt),
            }
        } else {
            self.classify(&mut ctx, pkt)
        };
        self.count_verdict(verdict);
        verdict
    }

    /// [`Worker::process`] for a fragment [`Worker::take_released_fragment`]
    /// gave back: it was counted as received when it first arrived.
    pub fn process_released<N: Neighbors + ?Sized>(
        &mut self,
        plan: &Plan,
        neighbors: &N,
        now_secs: u32,
        ingress: usize,
        pkt: &mut FrameBuf<'_>,
    ) -> Verdict {
        let mut ctx = self.context(plan, neighbors, now_secs, ingress);
        let verdict = self.classify(&mut ctx, pkt);
        self.count_verdict(verdict);
        verdict
    }

    /// The context of one frame, the plan adopted first if it changed.
    #[inline(always)]
    fn context<'a, N: Neighbors + ?Sized>(
        &mut self,
        plan: &'a Plan,
        neighbors: &'a N,
        now_secs: u32,
        ingress: usize,
    ) -> Ctx<'a, N> {
        if self.plan_version != Some(plan.version) {
            self.adopt(plan);
        }
        Ctx {
            plan,
            neighbors,
            now: now_secs,
            ingress,
        }
    }

    /// Each frame's verdict in exactly one counter (a held fragment in
    /// none yet: in the one of its verdict once released or dropped).
    #[inline(always)]
    fn count_verdict(&self, verdict: Verdict) {
        match verdict {
            Verdict::Forward { .. } => WorkerCounters::count(&self.counters.forwarded),
            Verdict::NeedNeighbor { .. } => WorkerCounters::count(&self.counters.need_neighbor),
            Verdict::ToControl(_) => WorkerCounters::count(&self.counters.to_control),
            Verdict::Pass => WorkerCounters::count(&self.counters.passed),
            Verdict::Held => {}
            Verdict::Drop(reason) => {
                if reason != DropReason::Malformed {
                    self.counters.count_drop(reason)
                }
            }
        }
    }

    /// The general pipeline.
    fn classify<N: Neighbors + ?Sized>(
        &mut self,
        ctx: &mut Ctx<'_, N>,
        pkt: &mut FrameBuf<'_>,
    ) -> Verdict {
        let info = match parse_frame(pkt.frame()) {
            Ok(info) => info,
            Err(e) => {
                self.counters.count_malformed(&e);
                return Verdict::Drop(DropReason::Malformed);
            }
        };
        match info.kind {
            FrameKind::Arp => return Verdict::ToControl(Punt::Arp),
            FrameKind::Other(_) => return Verdict::Pass,
            FrameKind::Ipv4 | FrameKind::Ipv6 => {}
        }
        match info.protocol {
            IPPROTO_VRRP => return Verdict::ToControl(Punt::Vrrp),
            ip_proto::ICMPV6 if is_neighbor_discovery(pkt.frame(), &info) => {
                return Verdict::ToControl(Punt::NeighborDiscovery)
            }
            _ => {}
        }
        if let Some(standby) = ctx.plan.vip_standby(info.dst) {
            if standby {
                return Verdict::Drop(DropReason::VrrpStandby);
            }
            return match info.protocol {
                ip_proto::TCP | ip_proto::UDP if info.fragment != Fragment::None => {
                    self.fragment(ctx, pkt, info, Direction::Input)
                }
                ip_proto::TCP | ip_proto::UDP => self.inbound(ctx, pkt, info),
                ip_proto::ICMP | ip_proto::ICMPV6 => self.icmp_to_vip(ctx, pkt, info),
                _ => Verdict::Drop(DropReason::NoService),
            };
        }
        match info.protocol {
            ip_proto::TCP | ip_proto::UDP if info.fragment != Fragment::None => {
                self.fragment(ctx, pkt, info, Direction::Output)
            }
            ip_proto::TCP | ip_proto::UDP => self.outbound(ctx, pkt, info),
            ip_proto::ICMP | ip_proto::ICMPV6 => self.icmp_not_to_vip(ctx, pkt, info),
            _ => Verdict::Pass,
        }
    }

    /// A fresh IPv4 identification value.
    pub(crate) fn next_ident(&mut self) -> u16 {
        self.ip_ident = self.ip_ident.wrapping_add(1);
        self.ip_ident
    }
}

/// What one `process` call works with besides the frame.
pub(crate) struct Ctx<'a, N: Neighbors + ?Sized> {
    pub plan: &'a Plan,
    pub neighbors: &'a N,
    pub now: u32,
    pub ingress: usize,
}

/// ICMPv6 types 133-137 (RFC 4861 §4): router/neighbour discovery and redirect.
fn is_neighbor_discovery(frame: &[u8], info: &FrameInfo) -> bool {
    matches!(frame.get(info.l4_offset), Some(133..=137))
}
