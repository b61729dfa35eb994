//! The established-flow fast path: a packet of a known IPv4 TCP/UDP
//! connection, in the commonest frame shape ([`Flow4`]), forwarded with no
//! `IpAddr`, no `FrameInfo` and no writes to the connection entry unless
//! the packet changes it.
//!
//! It is a shortcut, not a second implementation of the rules. It first
//! checks everything that could make the packet special — a SYN on an
//! existing entry (conn_reuse_mode), OPS, an unavailable real server, TTL
//! about to run out, a packet over the MTU, a next hop without a known MAC,
//! a frame of another shape — and hands any such packet, untouched, to the
//! general pipeline ([`Fast::General`]). Only then does it apply the
//! general pipeline's own steps: the TCP transition and timer through
//! [`Worker::track`] (skipped when [`Conn4::unchanged_by`] says it would
//! write nothing), the same counters, the same rewrites in the same order
//! ([`Flow4`] patches checksums as `xvs_wire::rewrite` does). The
//! equivalence is tested packet for packet against the general pipeline
//! (tests/fast_path.rs).

use std::net::{IpAddr, Ipv4Addr};

use xvs_config::ForwardMethod;
use xvs_conn::{Conn4, Direction};
use xvs_wire::flow4::{Flow4, IP_AT};
use xvs_wire::{ipip, tcp};

use crate::frame_buf::FrameBuf;
use crate::inbound::entry_method;
use crate::route::{self, Neighbors};
use crate::verdict::{DropReason, Verdict};
use crate::worker::{Ctx, Worker};

const ETH_HEADER: usize = 14;
const IPIP_OVERHEAD: usize = 20;

/// What the fast path made of a frame.
pub(crate) enum Fast {
    /// Forwarded.
    Done(Verdict),
    /// To a VIP, and no connection has its input key: a new flow (the
    /// general path need not look again).
    NewFlow,
    /// Anything else: the general pipeline decides (frame untouched).
    General,
}

impl Worker {
    #[inline]
    pub(crate) fn fast_path<N: Neighbors + ?Sized>(
        &mut self,
        ctx: &Ctx<'_, N>,
        pkt: &mut FrameBuf<'_>,
    ) -> Fast {
        let Some(mut flow) = Flow4::parse(pkt.frame()) else {
            return Fast::General;
        };
        let plan = ctx.plan;
        let to_vip = plan.is_vip4(flow.dst);
        let dir = if to_vip {
            Direction::Input
        } else {
            Direction::Output
        };
        let Some(c) = self.conns.lookup4(
            self.id,
            dir,
            flow.protocol,
            flow.src,
            flow.src_port,
            flow.dst,
            flow.dst_port,
            ctx.now,
        ) else {
            return if to_vip { Fast::NewFlow } else { Fast::General };
        };
        // Packets the general path treats specially.
        let Some(dest) = plan.dest(c.dest_id) else {
            return Fast::General;
        };
        let ops = dest.service.is_some_and(|si| plan.services[si].ops);
        let syn = flow.tcp_flags & tcp::flags::SYN != 0;
        if ops || (to_vip && (syn || !dest.available)) || flow.ttl <= 1 {
            return Fast::General;
        }
        let method = entry_method(c.flags);
        let tun = to_vip && method == ForwardMethod::Tun;
        let (egress, route_dst, static_mac) = if to_vip {
            let Some(e) = dest.egress else {
                return Fast::General;
            };
            (e, c.daddr, dest.mac)
        } else {
            match route::route(&plan.interfaces, IpAddr::V4(Ipv4Addr::from(c.caddr))) {
                Some(e) => (e, c.caddr, None),
                None => return Fast::General,
            }
        };
        let ip_len = usize::from(flow.ip_len);
        let overhead = if tun { IPIP_OVERHEAD } else { 0 };
        if ip_len + overhead > usize::from(egress.mtu) {
            return Fast::General;
        }
        let route_ip = IpAddr::V4(Ipv4Addr::from(route_dst));
        let mac = match static_mac.filter(|_| egress.next_hop == route_ip) {
            Some(m) => m,
            None => match ctx.neighbors.lookup(egress.iface, egress.next_hop) {
                Some(m) => m,
                None => return Fast::General,
            },
        };
        let tunnel_src = if tun {
            match route::source_address(&plan.interfaces, egress.iface, route_ip) {
                Some(IpAddr::V4(s)) => Some(s),
                _ => return Fast::General,
            }
        } else {
            None
        };
        if tun && pkt.start() < IPIP_OVERHEAD + ETH_HEADER {
            return Fast::General;
        }

        // From here on the packet is forwarded: the general path's steps.
        self.track_fast(ctx, &c, dest, dir, flow.tcp_flags);
        if to_vip {
            dest.shared.stats.count_in(self.id, ip_len);
            dest.service_shared.stats.count_in(self.id, ip_len);
        } else {
            dest.shared.stats.count_out(self.id, ip_len);
            dest.service_shared.stats.count_out(self.id, ip_len);
        }
        let frame = pkt.frame_mut();
        flow.decrement_ttl(frame);
        match (to_vip, method) {
            (true, ForwardMethod::Nat) => flow.set_dst(frame, c.daddr, c.dport),
            (true, ForwardMethod::FullNat) => {
                flow.set_src(frame, c.laddr, c.lport);
                flow.set_dst(frame, c.daddr, c.dport);
            }
            (true, _) => {}
            (false, ForwardMethod::FullNat) => {
                flow.set_src(frame, c.vaddr, c.vport);
                flow.set_dst(frame, c.caddr, c.cport);
            }
            (false, _) => flow.set_src(frame, c.vaddr, c.vport),
        }
        let mut l2_start = pkt.start();
        let mut frame_len = ETH_HEADER + ip_len;
        if let Some(src) = tunnel_src {
            let ident = self.next_ident();
            let copy_df = plan.tunables.pmtu_disc;
            let ip_start = l2_start + IP_AT;
            let dst = Ipv4Addr::from(c.daddr);
            match ipip::encap_v4(pkt.buffer_mut(), ip_start, ip_len, src, dst, ident, copy_df) {
                Ok(outer) if outer >= ETH_HEADER => {
                    frame_len += ip_start - outer;
                    l2_start = outer - ETH_HEADER;
                }
                // Checked above: there is headroom, and the packet is whole.
                _ => return Fast::Done(Verdict::Drop(DropReason::NoHeadroom)),
            }
        }
        // The Ethernet header: ethertype stays IPv4 (4in4 too).
        let buf = pkt.buffer_mut();
        buf[l2_start..l2_start + 6].copy_from_slice(&mac);
        buf[l2_start + 6..l2_start + 12].copy_from_slice(&egress.src_mac);
        buf[l2_start + 12..l2_start + 14].copy_from_slice(&[0x08, 0x00]);
        pkt.set_bounds(l2_start, frame_len);
        Fast::Done(Verdict::Forward {
            iface: egress.iface,
        })
    }

    /// [`Worker::track`], unless the packet would leave the entry as it is.
    #[inline]
    fn track_fast<N: Neighbors + ?Sized>(
        &self,
        ctx: &Ctx<'_, N>,
        c: &Conn4,
        dest: &crate::plan::PlanDest,
        dir: Direction,
        tcp_flags: u8,
    ) {
        if !c.unchanged_by(dir, tcp_flags, &ctx.plan.timeouts, ctx.now) {
            self.track(ctx, c.id, c.protocol, c.flags, dest, dir, tcp_flags);
        }
    }
}
