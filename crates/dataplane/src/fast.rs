//! The fast path for IPv4 TCP/UDP in the commonest frame shape
//! ([`Flow4`]: untagged, no IP options, not a fragment): packets of known
//! connections are forwarded with no `IpAddr`, no `FrameInfo` and no
//! writes to the connection entry unless the packet changes it; the first
//! packet of a new flow skips the general parser and the general forward.
//!
//! It is a shortcut, not a second implementation of the rules. For a
//! known connection it first checks everything that could make the packet
//! special — a SYN on an existing entry (conn_reuse_mode), OPS, an
//! unavailable real server — and [`Worker::route4`] everything that could
//! make its forward special — TTL about to run out, over the MTU, no
//! route, a next hop without a known MAC — and hands any such packet,
//! untouched, to the general pipeline ([`Fast::General`]). New flows are
//! opened by the general pipeline's own [`Worker::open`]. Then the general
//! pipeline's steps follow in its order: the TCP transition and timer
//! through [`Worker::track`] (skipped when [`Conn4::unchanged_by`] says it
//! would write nothing), the same counters, the same rewrites ([`Flow4`]
//! patches checksums in the order `xvs_wire::rewrite` does). The
//! equivalence is tested packet for packet against the general pipeline
//! (tests/fast_path.rs).

use std::net::{IpAddr, Ipv4Addr};

use xvs_config::{ForwardMethod, MacAddr};
use xvs_conn::{Conn4, ConnFlags, ConnTable, Direction, Prefetch4};
use xvs_wire::flow4::{Flow4, IP_AT};
use xvs_wire::tcp;

use crate::frame_buf::FrameBuf;
use crate::inbound::entry_method;
use crate::plan::{NextHop, Plan, PlanDest};
use crate::route::Neighbors;
use crate::verdict::{DropReason, Verdict};
use crate::worker::{Ctx, Worker};

const ETH_HEADER: usize = 14;
const IPIP_OVERHEAD: usize = 20;
/// Frames whose lookups [`Worker::prefetch_burst`] starts at once (a
/// longer burst is taken in pieces of this size).
const PREFETCH_BURST: usize = 64;

/// What the fast path made of a frame.
pub(crate) enum Fast {
    /// Handled: forwarded, or (a new flow that could not open) dropped or
    /// answered as the general pipeline would.
    Done(Verdict),
    /// Anything else: the general pipeline decides (frame untouched).
    General,
}

/// Where and how a packet of a known connection leaves: everything
/// [`Worker::send4`] needs, worked out before anything is changed.
struct Route4 {
    iface: usize,
    src_mac: MacAddr,
    dst_mac: MacAddr,
    method: ForwardMethod,
    /// TUN: the outer source address.
    tunnel_src: Option<Ipv4Addr>,
}

/// What [`Worker::prefetch_burst`] learnt of each frame of the burst's
/// first [`PREFETCH_BURST`], for the fast path to take in order.
#[derive(Debug)]
pub(crate) struct Hints {
    /// Boxed: 2 KiB inline would push the worker's other fields apart.
    at: Box<[Prefetch4; PREFETCH_BURST]>,
    /// The hint the next processed frame takes.
    next: usize,
    /// How many of `at` are this burst's.
    len: usize,
}

impl Hints {
    pub(crate) fn new() -> Hints {
        Hints {
            at: Box::new([Prefetch4::NONE; PREFETCH_BURST]),
            next: 0,
            len: 0,
        }
    }

    /// The next frame's hint, if the burst has one left.
    #[inline(always)]
    fn take(&mut self) -> Option<&Prefetch4> {
        let h = self.at[..self.len].get(self.next)?;
        self.next += 1;
        Some(h)
    }
}

/// Both stages of the burst prefetch for the next `hints.len()` frames
/// (stage one for all, then stage two for all); how many there were.
#[inline(always)]
fn start_lookups<'f>(
    conns: &ConnTable,
    worker: usize,
    plan: &Plan,
    hints: &mut [Prefetch4],
    frames: &mut impl Iterator<Item = &'f [u8]>,
) -> usize {
    let mut n = 0;
    for (hint, frame) in hints.iter_mut().zip(frames) {
        *hint = prefetch_index(conns, worker, plan, frame);
        n += 1;
    }
    for hint in &mut hints[..n] {
        conns.prefetch4_entry(hint);
    }
    n
}

/// Stage one of the burst prefetch for one frame of `worker`.
#[inline(always)]
fn prefetch_index(conns: &ConnTable, worker: usize, plan: &Plan, frame: &[u8]) -> Prefetch4 {
    let Some((protocol, src, src_port, dst, dst_port)) = Flow4::peek(frame) else {
        return Prefetch4::NONE;
    };
    let dir = if plan.is_vip4(dst) {
        Direction::Input
    } else {
        Direction::Output
    };
    conns.prefetch4(worker, dir, protocol, src, src_port, dst, dst_port)
}

impl Worker {
    #[inline(always)]
    pub(crate) fn fast_path<N: Neighbors + ?Sized>(
        &mut self,
        ctx: &Ctx<'_, N>,
        pkt: &mut FrameBuf<'_>,
    ) -> Fast {
        let hint = self.hints.take();
        let Some(flow) = Flow4::parse(pkt.frame()) else {
            return Fast::General;
        };
        let to_vip = ctx.plan.is_vip4(flow.dst);
        let dir = if to_vip {
            Direction::Input
        } else {
            Direction::Output
        };
        match self.conns.lookup4_hinted(
            hint,
            self.id,
            dir,
            flow.protocol,
            flow.src,
            flow.src_port,
            flow.dst,
            flow.dst_port,
            ctx.now,
        ) {
            Some(c) => self.established4(ctx, pkt, flow, &c, dir),
            // New TCP flows of a director with SYN-proxied services: the
            // general path decides whether the proxy answers.
            None if to_vip
                && !(self.synproxy.is_some() && flow.protocol == xvs_wire::ip_proto::TCP) =>
            {
                Fast::Done(self.open4(ctx, pkt, flow))
            }
            None => Fast::General,
        }
    }

    /// Start loading, for a burst of frames about to be processed, the
    /// connection-table memory their fast-path lookups will read: call it
    /// before processing them. Stage one (for every frame: peek at the
    /// tuple, hash, prefetch the index group) and stage two (for every
    /// frame: read the group, prefetch the entry slot it names) each run
    /// over the whole burst, so each stage's misses overlap. With a table
    /// much larger than the caches every lookup otherwise pays two
    /// dependent misses, one after the other.
    ///
    /// Only while the worker's shard holds at least the plan's
    /// `prefetch_min_live` IPv4 entries (`global.prefetch_min_live`,
    /// default [`xvs_config::DEFAULT_PREFETCH_MIN_LIVE`]): below
    /// that its entries and their index groups stay in the caches, and the
    /// two stages (about 155 instructions a packet, net of what the hints
    /// save) cost more than the loads they would hide. A hint: it changes
    /// nothing, and frames the fast path would not look up are skipped.
    ///
    /// What the two stages learn of each frame (key, hash, slot) is kept
    /// for the first [`PREFETCH_BURST`] frames, and the fast path's lookup
    /// of the frames processed next, in the same order, starts from it
    /// ([`xvs_conn::ConnTable::lookup4_hinted`]): no second hash, and no
    /// index probe when the slot holds the key. A frame whose tuple is not
    /// the one its hint was made for (frames skipped or reordered by the
    /// caller) just looks up without it.
    #[inline]
    pub fn prefetch_burst<'f>(&mut self, plan: &Plan, frames: impl IntoIterator<Item = &'f [u8]>) {
        self.hints.next = 0;
        self.hints.len = 0;
        if !self.fast_path || self.conns.live4(self.id) < plan.prefetch_min_live {
            return;
        }
        let mut frames = frames.into_iter();
        let n = start_lookups(
            &self.conns,
            self.id,
            plan,
            &mut self.hints.at[..],
            &mut frames,
        );
        self.hints.len = n;
        if n == PREFETCH_BURST {
            self.prefetch_rest(plan, frames);
        }
    }

    /// [`Worker::prefetch_burst`] past its first [`PREFETCH_BURST`] frames
    /// (longer than the worker loop's bursts): the same two stages, piece
    /// by piece, their hints not kept. Out of line, so that the common
    /// burst does not initialise this second array.
    #[cold]
    fn prefetch_rest<'f>(&self, plan: &Plan, mut frames: impl Iterator<Item = &'f [u8]>) {
        let mut hints = [Prefetch4::NONE; PREFETCH_BURST];
        while start_lookups(&self.conns, self.id, plan, &mut hints, &mut frames) > 0 {}
    }

    /// Stage one of [`Worker::prefetch_burst`] for one frame: start the
    /// lookup the fast path will make (direction from the VIP test, key,
    /// index group) and return what stage two needs
    /// ([`xvs_conn::ConnTable::prefetch4_entry`]).
    #[inline(always)]
    pub fn prefetch_index(&self, plan: &Plan, frame: &[u8]) -> Prefetch4 {
        if !self.fast_path {
            return Prefetch4::NONE;
        }
        prefetch_index(&self.conns, self.id, plan, frame)
    }

    /// A packet of a known connection.
    #[inline(always)]
    fn established4<N: Neighbors + ?Sized>(
        &mut self,
        ctx: &Ctx<'_, N>,
        pkt: &mut FrameBuf<'_>,
        flow: Flow4,
        c: &Conn4,
        dir: Direction,
    ) -> Fast {
        let plan = ctx.plan;
        let to_vip = dir == Direction::Input;
        // Packets the general path treats specially.
        let Some(dest) = plan.dest(c.dest_id) else {
            return Fast::General;
        };
        let ops = dest.service.is_some_and(|si| plan.services[si].ops);
        let syn = flow.tcp_flags & tcp::flags::SYN != 0;
        if ops || c.flags.contains(ConnFlags::SYNPROXY) || (to_vip && (syn || !dest.available)) {
            return Fast::General;
        }
        let Some(route) = self.route4(ctx, pkt, &flow, c, dest, to_vip) else {
            return Fast::General;
        };
        // From here on the packet is forwarded: the general path's steps.
        if !c.unchanged_by(dir, flow.tcp_flags, self.timeouts(plan), ctx.now) {
            self.track(ctx, c.id, c.protocol, c.flags, dest, dir, flow.tcp_flags);
        }
        let ip_len = usize::from(flow.ip_len);
        if to_vip {
            dest.shared.stats.count_in(self.id, ip_len);
            dest.service_shared.stats.count_in(self.id, ip_len);
        } else {
            dest.shared.stats.count_out(self.id, ip_len);
            dest.service_shared.stats.count_out(self.id, ip_len);
        }
        Fast::Done(self.send4(ctx, pkt, flow, c, &route, to_vip))
    }

    /// The first packet of a flow to a VIP: the general pipeline's
    /// [`Worker::open`] (service, scheduler, insert) and its steps after
    /// it, with the forward done here when [`Worker::route4`] allows.
    fn open4<N: Neighbors + ?Sized>(
        &mut self,
        ctx: &Ctx<'_, N>,
        pkt: &mut FrameBuf<'_>,
        flow: Flow4,
    ) -> Verdict {
        let mut info = flow.info();
        // Inserted already tracked: no transition to apply here.
        let id = match self.open(ctx, pkt, &info) {
            Ok(id) => id,
            Err(v) => return v,
        };
        let Some(c) = self.conns.get4(id) else {
            return Verdict::Drop(DropReason::ConnTableFull);
        };
        let Some(dest) = ctx.plan.dest(c.dest_id) else {
            return Verdict::Drop(DropReason::DestUnavailable);
        };
        let ip_len = usize::from(flow.ip_len);
        dest.shared.stats.count_in(self.id, ip_len);
        dest.service_shared.stats.count_in(self.id, ip_len);
        match self.route4(ctx, pkt, &flow, &c, dest, true) {
            Some(route) => self.send4(ctx, pkt, flow, &c, &route, true),
            // TTL running out, too big, no MAC yet, ...: as the general path.
            None => match self.conns.get(id) {
                Some(e) => self.forward_to_real_server(ctx, pkt, &mut info, &e, dest),
                None => Verdict::Drop(DropReason::ConnTableFull),
            },
        }
    }

    /// Where the packet goes, if nothing about it needs the general
    /// path's care: TTL about to run out, over the MTU, no route, a next
    /// hop without a known MAC, no headroom for the tunnel header.
    #[inline(always)]
    fn route4<N: Neighbors + ?Sized>(
        &self,
        ctx: &Ctx<'_, N>,
        pkt: &FrameBuf<'_>,
        flow: &Flow4,
        c: &Conn4,
        dest: &PlanDest,
        to_vip: bool,
    ) -> Option<Route4> {
        if flow.ttl <= 1 {
            return None;
        }
        let plan = ctx.plan;
        let method = entry_method(c.flags);
        let tun = to_vip && method == ForwardMethod::Tun;
        // The next hop's MAC: a configured one or the neighbour table's
        // slot for the plan's hop; only an on-link client is hashed.
        let (egress, dst_mac) = if to_vip {
            let egress = dest.egress?;
            let mac = match dest.next_hop? {
                NextHop::Static(m) => m,
                NextHop::Hop(h) => ctx.neighbors.lookup_hop(plan, h)?,
            };
            (egress, mac)
        } else {
            let (egress, hop) = plan.route4(c.caddr)?;
            let mac = match hop {
                Some(h) => ctx.neighbors.lookup_hop(plan, h)?,
                None => ctx.neighbors.lookup(egress.iface, egress.next_hop)?,
            };
            (egress, mac)
        };
        let overhead = if tun { IPIP_OVERHEAD } else { 0 };
        if usize::from(flow.ip_len) + overhead > usize::from(egress.mtu) {
            return None;
        }
        let tunnel_src = if tun {
            if pkt.start() < IPIP_OVERHEAD + ETH_HEADER {
                return None;
            }
            match dest.tunnel_src? {
                IpAddr::V4(s) => Some(s),
                IpAddr::V6(_) => return None,
            }
        } else {
            None
        };
        Some(Route4 {
            iface: egress.iface,
            src_mac: egress.src_mac,
            dst_mac,
            method,
            tunnel_src,
        })
    }

    /// Rewrite per the method and direction, encapsulate for TUN, and put
    /// the Ethernet header on: the general path's prepare/rewrite/emit.
    #[inline(always)]
    fn send4<N: Neighbors + ?Sized>(
        &mut self,
        ctx: &Ctx<'_, N>,
        pkt: &mut FrameBuf<'_>,
        mut flow: Flow4,
        c: &Conn4,
        route: &Route4,
        to_vip: bool,
    ) -> Verdict {
        let ip_len = usize::from(flow.ip_len);
        let frame = pkt.frame_mut();
        // TTL and NAT in one pass, each checksum patched once (each arm
        // its own inlined copy: the options are constants there).
        match (to_vip, route.method) {
            (true, ForwardMethod::Nat) => flow.translate(frame, None, Some((c.daddr, c.dport))),
            (true, ForwardMethod::FullNat) => {
                flow.translate(frame, Some((c.laddr, c.lport)), Some((c.daddr, c.dport)))
            }
            (true, _) => flow.decrement_ttl(frame),
            (false, ForwardMethod::FullNat) => {
                flow.translate(frame, Some((c.vaddr, c.vport)), Some((c.caddr, c.cport)))
            }
            (false, _) => flow.translate(frame, Some((c.vaddr, c.vport)), None),
        }
        let mut l2_start = pkt.start();
        let mut frame_len = ETH_HEADER + ip_len;
        if let Some(src) = route.tunnel_src {
            let ident = self.next_ident();
            let copy_df = ctx.plan.tunables.pmtu_disc;
            let ip_start = l2_start + IP_AT;
            let buf = pkt.buffer_mut();
            match flow.encap_ipip(buf, ip_start, u32::from(src), c.daddr, ident, copy_df) {
                Some(outer) if outer >= ETH_HEADER => {
                    frame_len += ip_start - outer;
                    l2_start = outer - ETH_HEADER;
                }
                // route4 checked the headroom.
                _ => return Verdict::Drop(DropReason::NoHeadroom),
            }
        }
        // The Ethernet header: ethertype stays IPv4 (4in4 too).
        let buf = pkt.buffer_mut();
        buf[l2_start..l2_start + 6].copy_from_slice(&route.dst_mac);
        buf[l2_start + 6..l2_start + 12].copy_from_slice(&route.src_mac);
        buf[l2_start + 12..l2_start + 14].copy_from_slice(&[0x08, 0x00]);
        pkt.set_bounds(l2_start, frame_len);
        Verdict::Forward { iface: route.iface }
    }
}
