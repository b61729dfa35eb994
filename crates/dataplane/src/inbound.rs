//! Client → VIP packets (IPVS ip_vs_in): find the connection entry or
//! schedule a new one — with persistence templates, conn_reuse_mode and
//! expire_nodest_conn as the kernel applies them — then track the TCP
//! state and forward with the real server's method.

use std::net::IpAddr;

use xvs_config::ForwardMethod;
use xvs_conn::{
    opened_tcp, ConnEntry, ConnFlags, ConnId, ConnState, Direction, InsertError, NewConn,
};
use xvs_sched::SchedKey;
use xvs_wire::{ip_proto, rewrite, tcp, Fragment, FrameInfo};

use crate::frame_buf::FrameBuf;
use crate::plan::{Plan, PlanDest};
use crate::route::Neighbors;
use crate::sync_link::syncs_tcp_state;
use crate::verdict::{DropReason, Verdict};
use crate::worker::{Ctx, Worker};
use crate::xmit::{Encap, IcmpReply};

/// FullNAT: local ports tried per local address before giving up on a new flow.
const FULLNAT_MAX_PROBE: u32 = 256;

/// The forwarding method an entry was created with.
pub(crate) fn entry_method(flags: ConnFlags) -> ForwardMethod {
    let fwd = flags.bits() & ConnFlags::FWD_MASK.bits();
    if fwd == ConnFlags::FWD_DROUTE.bits() {
        ForwardMethod::Dr
    } else if fwd == ConnFlags::FWD_TUNNEL.bits() {
        ForwardMethod::Tun
    } else if fwd == ConnFlags::FWD_FULLNAT.bits() {
        ForwardMethod::FullNat
    } else {
        ForwardMethod::Nat
    }
}

/// Unbind an entry the owner's expiry sweep freed from its real server's
/// counters (REFERENCE §2, §4.3).
pub(crate) fn unbind_expired(plan: &Plan, worker: usize, e: &ConnEntry) {
    let Some(dest) = plan.dest(e.dest_id) else {
        return;
    };
    if e.is_template() {
        dest.shared.load.unbind_template(worker);
    } else {
        let was_active = !e.flags.contains(ConnFlags::INACTIVE);
        dest.shared
            .load
            .unbind_conn(worker, was_active, dest.thresholds);
    }
}

/// `addr` masked to its first `prefix` bits (the persistence granularity).
fn client_net(addr: IpAddr, prefix: u8) -> IpAddr {
    match addr {
        IpAddr::V4(a) => {
            let bits = u32::from(prefix.min(32));
            let mask = if bits == 0 {
                0
            } else {
                u32::MAX << (32 - bits)
            };
            IpAddr::V4((u32::from(a) & mask).into())
        }
        IpAddr::V6(a) => {
            let bits = u32::from(prefix.min(128));
            let mask = if bits == 0 {
                0
            } else {
                u128::MAX << (128 - bits)
            };
            IpAddr::V6((u128::from(a) & mask).into())
        }
    }
}

impl Worker {
    pub(crate) fn inbound<N: Neighbors + ?Sized>(
        &mut self,
        ctx: &mut Ctx<'_, N>,
        pkt: &mut FrameBuf<'_>,
        mut info: FrameInfo,
    ) -> Verdict {
        if info.fragment == Fragment::NotFirst {
            // No ports: IPVS reassembles first; we have no reassembly.
            return Verdict::Drop(DropReason::Fragment);
        }
        let plan = ctx.plan;
        let proto = info.protocol;
        let is_tcp = proto == ip_proto::TCP;
        let syn = is_tcp
            && info.tcp_flags & tcp::flags::SYN != 0
            && info.tcp_flags & tcp::flags::RST == 0;
        let (caddr, cport, vaddr, vport) = (info.src, info.src_port, info.dst, info.dst_port);

        let mut found = self
            .conns
            .lookup_in_entry(self.id, proto, caddr, cport, vaddr, vport, ctx.now);
        if let Some(e) = found {
            let dest = plan.dest(e.dest_id);
            match dest {
                // One-packet scheduling: every datagram is scheduled anew; the
                // entry the previous one left (NAT/FullNAT, for its reply) is
                // replaced.
                Some(d) if d.service.is_some_and(|si| plan.services[si].ops) => {
                    self.conns.expire_now(e.id);
                    found = None;
                }
                // ip_vs_in decides on reuse before it looks at the real
                // server: a client reusing the ports of a TIME_WAIT entry is
                // scheduled afresh even when that entry's server has left
                // (a health check removed it), instead of being dropped.
                _ if syn && e.n_controlled == 0 && self.reuse(plan, &e, dest) => {
                    self.conns.expire_now(e.id);
                    found = None;
                }
                Some(d) if d.available => {}
                _ if plan.tunables.expire_nodest_conn => {
                    self.conns.expire_now(e.id);
                    found = None;
                }
                // Beyond IPVS (which drops these packets): a real server
                // that left — a reload or runtime change removed it, or a
                // health check — drains. Its established connections keep
                // being forwarded until they end; it gets no new ones.
                Some(_) => {}
                None => return Verdict::Drop(DropReason::DestUnavailable),
            }
        }
        // A new entry is inserted already tracked (see new_conn).
        let (entry, tracked) = match found {
            Some(e) => (e, false),
            None => {
                if is_tcp && self.synproxy.is_some() {
                    if let Some(v) = self.synproxy_open(ctx, pkt, &info) {
                        return v;
                    }
                }
                let id = match self.open(ctx, pkt, &info) {
                    Ok(id) => id,
                    Err(v) => return v,
                };
                match self.conns.get(id) {
                    Some(e) => (e, true),
                    None => return Verdict::Drop(DropReason::ConnTableFull),
                }
            }
        };
        let Some(dest) = plan.dest(entry.dest_id) else {
            return Verdict::Drop(DropReason::DestUnavailable);
        };
        if crate::synproxy::is_proxied(&entry) {
            if let Some(v) = self.synproxy_in(ctx, pkt, &info, &entry, dest) {
                return v;
            }
        }
        if !tracked {
            self.track(
                ctx,
                entry.id,
                entry.protocol,
                entry.flags,
                dest,
                Direction::Input,
                info.tcp_flags,
            );
        }
        dest.shared.stats.count_in(self.id, info.ip_len);
        dest.service_shared.stats.count_in(self.id, info.ip_len);
        self.forward_to_real_server(ctx, pkt, &mut info, &entry, dest)
    }

    /// A packet to a VIP that no connection has: find its service, check
    /// that it may open a connection, and schedule and insert one, already
    /// tracked (see [`Worker::new_conn`]). `Err` is the verdict when
    /// nothing opens (dropped, or answered with port unreachable as
    /// ip_vs_leave does).
    pub(crate) fn open<N: Neighbors + ?Sized>(
        &mut self,
        ctx: &Ctx<'_, N>,
        pkt: &mut FrameBuf<'_>,
        info: &FrameInfo,
    ) -> Result<ConnId, Verdict> {
        let plan = ctx.plan;
        let Some(si) = plan.find_service(info.protocol, info.dst, info.dst_port) else {
            return Err(Verdict::Drop(DropReason::NoService));
        };
        // Only a SYN opens a TCP connection (sloppy_tcp: any non-RST).
        let rst = info.tcp_flags & tcp::flags::RST != 0;
        let opens = info.protocol != ip_proto::TCP
            || (info.tcp_flags & tcp::flags::SYN != 0 && !rst)
            || (plan.tunables.sloppy_tcp && !rst);
        if !opens {
            return Err(Verdict::Drop(DropReason::TcpNotSyn));
        }
        match self.new_conn(ctx, si, info) {
            Ok(id) => Ok(id),
            // ip_vs_leave: port unreachable to the client, drop.
            Err(DropReason::NoRealServer) => Err(self.reply_icmp(
                ctx,
                pkt,
                info,
                IcmpReply::PortUnreachable,
                DropReason::NoRealServer,
            )),
            Err(reason) => Err(Verdict::Drop(reason)),
        }
    }

    /// conn_reuse_mode / expire_nodest_conn: should a new-connection packet
    /// that hit this entry be scheduled afresh? (REFERENCE §4.4)
    ///
    /// Beyond IPVS: a SYN whose entry's real server has left the service
    /// (a health check removed it) is always scheduled afresh, whatever
    /// the entry's state. IPVS drops it unless expire_nodest_conn, so a
    /// client that reuses the ports of a connection the dead server reset
    /// (CLOSE) or never answered (SYN_RECV) is black-holed until that entry
    /// times out; a SYN starts a new connection, and the old one has no
    /// server left to finish on. Other packets of such entries are still
    /// dropped as IPVS drops them.
    fn reuse(&self, plan: &Plan, e: &ConnEntry, dest: Option<&PlanDest>) -> bool {
        if dest.is_none_or(|d| !d.available) {
            return true;
        }
        if plan.tunables.expire_nodest_conn && dest.is_some_and(|d| d.weight == 0) {
            return true;
        }
        let mode = plan.tunables.conn_reuse_mode;
        e.protocol == ip_proto::TCP
            && mode != 0
            && (e.state == ConnState::TimeWait
                || (mode & 2 != 0
                    && e.state == ConnState::FinWait
                    && e.flags.contains(ConnFlags::NOOUTPUT)))
    }

    /// Apply the TCP transition (or the UDP idle timeout) to entry `id`
    /// (`protocol`, `flags` as found) and move the real server between its
    /// active and inactive counts; with sync on, queue the entry for the
    /// backups when it changed into a synced state.
    #[allow(clippy::too_many_arguments)] // the entry's id, protocol and flags, and the packet's
    pub(crate) fn track<N: Neighbors + ?Sized>(
        &self,
        ctx: &Ctx<'_, N>,
        id: ConnId,
        protocol: u8,
        flags: ConnFlags,
        dest: &PlanDest,
        dir: Direction,
        tcp_flags: u8,
    ) {
        if protocol == ip_proto::TCP {
            if let Some(t) =
                self.conns
                    .tcp_transition(id, dir, tcp_flags, self.timeouts(ctx.plan), ctx.now)
            {
                if t.became_active {
                    dest.shared.load.activate(self.id);
                } else if t.became_inactive {
                    dest.shared.load.deactivate(self.id);
                }
                // Connection sync: a change into a state IPVS syncs is
                // sent at once (ip_vs_sync_conn_needed()); a packet that
                // leaves the state as it was (the timer re-armed) pushes
                // nothing.
                if self.sync.is_some() && t.new != t.old && syncs_tcp_state(t.new) {
                    self.sync_event(id);
                }
            }
        } else if !flags.contains(ConnFlags::ONE_PACKET) {
            self.conns.touch(id, ctx.plan.timeouts.udp, ctx.now);
        }
    }

    /// Schedule a new connection for service `si` and insert its entry,
    /// already in the state the opening packet leaves it in (a TCP entry
    /// goes straight to SYN_RECV, say, instead of NONE and a transition a
    /// moment later: the same entry and counters with one write instead of
    /// three).
    pub(crate) fn new_conn<N: Neighbors + ?Sized>(
        &mut self,
        ctx: &Ctx<'_, N>,
        si: usize,
        info: &FrameInfo,
    ) -> Result<ConnId, DropReason> {
        let plan = ctx.plan;
        let svc = &plan.services[si];
        let (pos, template) = self.schedule(ctx, si, info)?;
        let dest_id = svc.dest_ids[pos];
        let dest = plan.dest(dest_id).ok_or(DropReason::NoRealServer)?;
        // DR/TUN and all-ports services keep the packet's port when the real
        // server's port is 0 / forced equal (ipvsadm forces it for DR/TUN).
        let dport = if dest.port == 0 || svc.port == 0 {
            info.dst_port
        } else {
            dest.port
        };
        let (laddr, lport) = if dest.method == ForwardMethod::FullNat {
            let pool = svc.local_pool.ok_or(DropReason::NoLocalPool)?;
            self.alloc_local(ctx, pool, info.protocol, dest.address, dport)?
        } else {
            (info.src, info.src_port)
        };
        let mut flags = ConnFlags::for_method(dest.method);
        // Only the SYN proxy reaches here for a TCP flow of a proxied
        // service (it answers the SYN itself and opens on the ACK).
        if svc.synproxy
            && info.protocol == ip_proto::TCP
            && self.synproxy.is_some()
            && crate::synproxy::proxies(dest.method)
        {
            flags |= ConnFlags::SYNPROXY;
        }
        // OPS (REFERENCE §3): IPVS never hashes the entry and lets netfilter
        // conntrack un-NAT the reply. Without conntrack, NAT and FullNAT
        // keep a hashed entry so the reply can be translated (the next
        // datagram replaces it, scheduled anew); DR and TUN see no replies,
        // so their entry is never hashed and expires at once.
        let ops = svc.ops && info.protocol == ip_proto::UDP;
        let ops_unhashed = ops && !dest.method.sees_replies();
        if ops_unhashed {
            flags |= ConnFlags::ONE_PACKET;
        }
        self.update_pressure(plan);
        let (state, timeout_secs) = match info.protocol {
            ip_proto::TCP => {
                let (f, state) = opened_tcp(flags, info.tcp_flags);
                flags = f;
                (state, state.timeout(self.timeouts(plan)))
            }
            _ if ops_unhashed => (ConnState::Udp, 0),
            _ => (ConnState::Udp, plan.timeouts.udp),
        };
        let new = NewConn {
            protocol: info.protocol,
            caddr: info.src,
            cport: info.src_port,
            vaddr: info.dst,
            vport: info.dst_port,
            laddr,
            lport,
            daddr: dest.address,
            dport,
            flags,
            dest_id,
            controller: template,
            state,
            timeout_secs,
        };
        // open() is only reached after the input key missed.
        let inserted = match self.insert_making_room(plan, &new, ctx.now, true) {
            // Another worker freed the template to make room in its shard
            // between our lookup and this insert: the connection goes
            // where it was scheduled, uncontrolled, as when the template
            // could not be inserted at all.
            Err(InsertError::ControllerUnavailable) => {
                let alone = NewConn {
                    controller: None,
                    ..new
                };
                self.insert_making_room(plan, &alone, ctx.now, true)
            }
            r => r,
        };
        let id = match inserted {
            Ok(id) => id,
            Err(InsertError::Full) => return Err(DropReason::ConnTableFull),
            // The input key just missed, so this is another connection
            // with our reply tuple (NAT: the same client port to two VIPs
            // on one real server). Riding on it would send this flow's
            // packets with that flow's translation; drop, as the reply
            // could not be told apart either.
            Err(InsertError::Exists(_)) => return Err(DropReason::ReplyKeyInUse),
            Err(InsertError::AddressFamilyMismatch) => return Err(DropReason::FamilyMismatch),
            Err(_) => return Err(DropReason::ConnTableFull),
        };
        dest.shared.load.bind_conn(self.id, dest.thresholds);
        if !flags.contains(ConnFlags::INACTIVE) {
            // Opened straight into ESTABLISHED (sloppy_tcp with an ACK).
            dest.shared.load.activate(self.id);
        }
        // Connection sync: an entry opened straight into a synced state
        // (sloppy_tcp) is sent as a transition into it would be.
        if self.sync.is_some() && info.protocol == ip_proto::TCP && syncs_tcp_state(state) {
            self.sync_event(id);
        }
        dest.shared.stats.count_conn(self.id);
        svc.shared.stats.count_conn(self.id);
        Ok(id)
    }

    /// Run the scheduler, through a persistence template when the service
    /// is persistent (REFERENCE §3). Returns the real server's position in
    /// the service and the controlling template.
    fn schedule<N: Neighbors + ?Sized>(
        &mut self,
        ctx: &Ctx<'_, N>,
        si: usize,
        info: &FrameInfo,
    ) -> Result<(usize, Option<ConnId>), DropReason> {
        let plan = ctx.plan;
        let svc = &plan.services[si];
        let key = SchedKey {
            protocol: info.protocol,
            src: info.src,
            src_port: info.src_port,
            dst: info.dst,
        };
        let Some(p) = svc.persistence else {
            let pos = svc
                .scheduler
                .pick(&mut self.sched[si], &svc.sched_dests, &key, ctx.now);
            return pos.map(|pos| (pos, None)).ok_or(DropReason::NoRealServer);
        };
        let timeout = u32::try_from(p.timeout.as_secs()).unwrap_or(u32::MAX);
        let snet = client_net(info.src, p.prefix);
        // Template ⟨proto, snet, 0, VIP, vport⟩; all-ports services use vport 0.
        let tport = svc.port;
        if let Some(t) = self
            .conns
            .lookup_template(self.id, info.protocol, snet, svc.vip, tport, ctx.now)
            .and_then(|id| self.conns.get(id))
        {
            let valid = plan.dest(t.dest_id).filter(|d| {
                d.available
                    && d.service == Some(si)
                    && !(plan.tunables.expire_quiescent_template && d.weight == 0)
            });
            match valid.and_then(|d| svc.dest_ids.iter().position(|&id| id == d.id)) {
                Some(pos) => {
                    self.conns.touch(t.id, timeout, ctx.now);
                    return Ok((pos, Some(t.id)));
                }
                // An invalid template never matches again and just expires.
                None => {
                    self.conns.unhash(t.id);
                }
            }
        }
        let pos = svc
            .scheduler
            .pick(&mut self.sched[si], &svc.sched_dests, &key, ctx.now)
            .ok_or(DropReason::NoRealServer)?;
        let dest_id = svc.dest_ids[pos];
        let dest = plan.dest(dest_id).ok_or(DropReason::NoRealServer)?;
        let dport = if svc.port == 0 { 0 } else { dest.port };
        let template = NewConn {
            protocol: info.protocol,
            caddr: snet,
            cport: 0,
            vaddr: svc.vip,
            vport: tport,
            laddr: snet,
            lport: 0,
            daddr: dest.address,
            dport,
            flags: ConnFlags::TEMPLATE | ConnFlags::from_method(dest.method),
            dest_id,
            controller: None,
            state: ConnState::None,
            timeout_secs: timeout,
        };
        match self.insert_making_room(plan, &template, ctx.now, false) {
            Ok(id) => {
                dest.shared.load.bind_template(self.id);
                // Connection sync: backups need the template to keep the
                // client on the same real server after a takeover.
                if self.sync.is_some() {
                    self.sync_event(id);
                }
                Ok((pos, Some(id)))
            }
            Err(InsertError::Full) => Err(DropReason::ConnTableFull),
            // Without a template the connection still goes where scheduled.
            Err(_) => Ok((pos, None)),
        }
    }

    /// FullNAT: a local address:port for a new flow to `rip:rport` from this
    /// worker's share of the pool's ports; unique per ⟨proto, RIP, rport,
    /// LIP, lport⟩, which is the reply's lookup key.
    fn alloc_local<N: Neighbors + ?Sized>(
        &mut self,
        ctx: &Ctx<'_, N>,
        pool: usize,
        proto: u8,
        rip: IpAddr,
        rport: u16,
    ) -> Result<(IpAddr, u16), DropReason> {
        let p = ctx.plan.pools.get(pool).ok_or(DropReason::NoLocalPool)?;
        let (lo, hi) = p
            .worker_ports
            .get(self.id)
            .copied()
            .ok_or(DropReason::NoLocalPool)?;
        if lo > hi || p.addresses.is_empty() {
            return Err(DropReason::NoLocalPool);
        }
        let range = u32::from(hi - lo) + 1;
        let n = p.addresses.len();
        let rotor = self.pool_rotor[pool];
        for k in 0..n {
            let ai = (rotor + k) % n;
            let laddr = p.addresses[ai];
            if laddr.is_ipv4() != rip.is_ipv4() {
                continue;
            }
            for _ in 0..range.min(FULLNAT_MAX_PROBE) {
                let cursor = &mut self.pool_cursors[pool][ai];
                let port = (*cursor).clamp(lo, hi);
                *cursor = if port >= hi { lo } else { port + 1 };
                if self
                    .conns
                    .lookup_out(self.id, proto, rip, rport, laddr, port, ctx.now)
                    .is_none()
                {
                    self.pool_rotor[pool] = ai + 1;
                    return Ok((laddr, port));
                }
            }
        }
        Err(DropReason::FullNatPortsExhausted)
    }

    /// Rewrite per the entry's method and send towards its real server.
    pub(crate) fn forward_to_real_server<N: Neighbors + ?Sized>(
        &mut self,
        ctx: &Ctx<'_, N>,
        pkt: &mut FrameBuf<'_>,
        info: &mut FrameInfo,
        e: &ConnEntry,
        dest: &PlanDest,
    ) -> Verdict {
        if info.fragment == Fragment::First {
            self.frag_first = Some(*e);
        }
        let method = entry_method(e.flags);
        let encap = if method == ForwardMethod::Tun {
            Encap::Ipip
        } else {
            Encap::None
        };
        let prep = match self.prepare(ctx, pkt, info, e.daddr, dest.egress, encap) {
            Ok(p) => p,
            Err(v) => return v,
        };
        let frame = pkt.frame_mut();
        let res = match method {
            ForwardMethod::Dr | ForwardMethod::Tun => Ok(()),
            ForwardMethod::Nat => rewrite::set_dst(frame, info, e.daddr, e.dport),
            ForwardMethod::FullNat => rewrite::set_src(frame, info, e.laddr, e.lport)
                .and_then(|()| rewrite::set_dst(frame, info, e.daddr, e.dport)),
        };
        if let Err(err) = res {
            self.counters.count_malformed(&err);
            return Verdict::Drop(DropReason::Malformed);
        }
        self.emit(ctx, pkt, info, prep, Some(dest))
    }
}
