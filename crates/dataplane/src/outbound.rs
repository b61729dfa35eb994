//! Real server → client replies (IPVS ip_vs_out): only NAT and FullNAT
//! entries are indexed in this direction. The reply is translated back so
//! the client sees the VIP:vport it talked to, the OUTPUT TCP transition is
//! applied, and the packet is routed to the client.

use xvs_config::ForwardMethod;
use xvs_conn::{ConnEntry, Direction};
use xvs_wire::{rewrite, Fragment, FrameInfo};

use crate::frame_buf::FrameBuf;
use crate::inbound::entry_method;
use crate::route::Neighbors;
use crate::verdict::{DropReason, Verdict};
use crate::worker::{Ctx, Worker};
use crate::xmit::Encap;

impl Worker {
    pub(crate) fn outbound<N: Neighbors + ?Sized>(
        &mut self,
        ctx: &mut Ctx<'_, N>,
        pkt: &mut FrameBuf<'_>,
        mut info: FrameInfo,
    ) -> Verdict {
        let to_local = ctx.plan.is_local_address(info.dst);
        if !info.has_ports() {
            return if to_local {
                Verdict::Drop(DropReason::Fragment)
            } else {
                Verdict::Pass
            };
        }
        let entry = self.conns.lookup_out_entry(
            self.id,
            info.protocol,
            info.src,
            info.src_port,
            info.dst,
            info.dst_port,
            ctx.now,
        );
        let Some(e) = entry else {
            // Not a reply we know: traffic to a FullNAT local address is
            // ours and dropped; anything else belongs to the kernel.
            return if to_local {
                Verdict::Drop(DropReason::UnknownReply)
            } else {
                Verdict::Pass
            };
        };
        if crate::synproxy::is_proxied(&e) {
            if let Some(v) = self.synproxy_out(ctx, pkt, &info, &e) {
                return v;
            }
        }
        if let Some(dest) = ctx.plan.dest(e.dest_id) {
            self.track(
                ctx,
                e.id,
                e.protocol,
                e.flags,
                dest,
                Direction::Output,
                info.tcp_flags,
            );
            dest.shared.stats.count_out(self.id, info.ip_len);
            dest.service_shared.stats.count_out(self.id, info.ip_len);
        }
        self.forward_to_client(ctx, pkt, &mut info, &e)
    }

    /// Un-NAT a reply (or an ICMP error's outer header) and send it to the client.
    pub(crate) fn forward_to_client<N: Neighbors + ?Sized>(
        &mut self,
        ctx: &Ctx<'_, N>,
        pkt: &mut FrameBuf<'_>,
        info: &mut FrameInfo,
        e: &ConnEntry,
    ) -> Verdict {
        if info.fragment == Fragment::First {
            self.frag_first = Some(*e);
        }
        let prep = match self.prepare(ctx, pkt, info, e.caddr, None, Encap::None) {
            Ok(p) => p,
            Err(v) => return v,
        };
        let frame = pkt.frame_mut();
        let res = match entry_method(e.flags) {
            ForwardMethod::FullNat => rewrite::set_src(frame, info, e.vaddr, e.vport)
                .and_then(|()| rewrite::set_dst(frame, info, e.caddr, e.cport)),
            _ => rewrite::set_src(frame, info, e.vaddr, e.vport),
        };
        if let Err(err) = res {
            self.counters.count_malformed(&err);
            return Verdict::Drop(DropReason::Malformed);
        }
        self.emit(ctx, pkt, info, prep, None)
    }
}
