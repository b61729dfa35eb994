//! Transmission: the last steps every forwarded frame takes, shared by all
//! methods and both directions — MTU check, TTL decrement, optional IPIP
//! encapsulation (fragmenting an IPv4 outer packet that exceeds the MTU
//! with DF clear), egress choice, and the new Ethernet header — plus the
//! ICMP errors the director itself originates towards a client.
//!
//! Order, as ip_vs_xmit.c: the MTU check quotes the packet as the client
//! sent it, so it comes before any rewrite; then the TTL is decremented
//! (kernel commit 8d8e20e2d7bb: every non-local forward does); then the
//! method's rewrite, done by the caller between [`Worker::prepare`] and
//! [`Worker::emit`].

use std::net::IpAddr;

use xvs_config::MacAddr;
use xvs_wire::{
    ethernet, icmp, icmpv6, ipip, keep_first_ipv4_fragment, rewrite, split_ipv4, FrameInfo,
    FrameKind, Ipv4Split,
};

use crate::frame_buf::FrameBuf;
use crate::plan::{NextHop, PlanDest};
use crate::route::{self, Egress, Neighbors};
use crate::verdict::{DropReason, Verdict};
use crate::worker::{Ctx, Worker};

const ETH_HEADER: usize = 14;
const IPV4_HEADER: usize = 20;
const IPV6_HEADER: usize = 40;

/// Whether the packet leaves as it is or inside an IPIP tunnel to `rip`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Encap {
    None,
    Ipip,
}

/// What `prepare` found: where the packet goes.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Prepared {
    pub egress: Egress,
    pub encap: Encap,
    pub route_dst: IpAddr,
}

/// The error a director answers a too-big or expired packet with.
#[derive(Clone, Copy, Debug)]
pub(crate) enum IcmpReply {
    TooBig { mtu: u32 },
    TimeExceeded,
    PortUnreachable,
}

impl Worker {
    /// Route `route_dst`, check the MTU (answering the sender with
    /// frag-needed / Packet Too Big when the packet cannot go) and decrement
    /// the TTL (answering time-exceeded). `Err` carries the final verdict.
    pub(crate) fn prepare<N: Neighbors + ?Sized>(
        &mut self,
        ctx: &Ctx<'_, N>,
        pkt: &mut FrameBuf<'_>,
        info: &mut FrameInfo,
        route_dst: IpAddr,
        known_egress: Option<Egress>,
        encap: Encap,
    ) -> Result<Prepared, Verdict> {
        let Some(egress) = known_egress.or_else(|| route::route(&ctx.plan.interfaces, route_dst))
        else {
            return Err(Verdict::Drop(DropReason::NoRoute));
        };
        let v6 = info.kind == FrameKind::Ipv6;
        let overhead = match (encap, v6) {
            (Encap::None, _) => 0,
            (Encap::Ipip, false) => IPV4_HEADER,
            (Encap::Ipip, true) => IPV6_HEADER,
        };
        if info.ip_len + overhead > usize::from(egress.mtu) {
            // With DF, or for IPv6, tell the sender the size that fits
            // (RFC 1191, RFC 8201). TUN copies DF only with pmtu_disc
            // (REFERENCE §5 MTU).
            let df =
                info.dont_fragment && (encap == Encap::None || ctx.plan.tunables.pmtu_disc || v6);
            // IPv4 into a tunnel with the outer DF clear: the kernel's
            // tunnel transmit fragments the outer packet
            // (ensure_mtu_is_adequate() lets it through, ip_local_out()
            // fragments it); `emit` does ([`crate::extra_tx`]).
            if !df && !v6 && encap == Encap::Ipip {
                return self.prepared_hop(ctx, pkt, info, egress, encap, route_dst);
            }
            // Other IPv4 without DF could be fragmented by a router too;
            // xvs does not fragment a packet it forwards as it is: drop
            // and count.
            let mtu = u32::from(egress.mtu).saturating_sub(overhead as u32);
            return Err(if df {
                self.reply_icmp(
                    ctx,
                    pkt,
                    info,
                    IcmpReply::TooBig { mtu },
                    DropReason::TooBig,
                )
            } else {
                Verdict::Drop(DropReason::TooBig)
            });
        }
        self.prepared_hop(ctx, pkt, info, egress, encap, route_dst)
    }

    /// The end of [`Worker::prepare`] once the packet may go: decrement
    /// the TTL (answering time-exceeded).
    fn prepared_hop<N: Neighbors + ?Sized>(
        &mut self,
        ctx: &Ctx<'_, N>,
        pkt: &mut FrameBuf<'_>,
        info: &mut FrameInfo,
        egress: Egress,
        encap: Encap,
        route_dst: IpAddr,
    ) -> Result<Prepared, Verdict> {
        match rewrite::decrement_hop_limit(pkt.frame_mut(), info) {
            Ok(Some(_)) => {}
            Ok(None) => {
                return Err(self.reply_icmp(
                    ctx,
                    pkt,
                    info,
                    IcmpReply::TimeExceeded,
                    DropReason::TtlExceeded,
                ))
            }
            Err(e) => {
                self.counters.count_malformed(&e);
                return Err(Verdict::Drop(DropReason::Malformed));
            }
        }
        Ok(Prepared {
            egress,
            encap,
            route_dst,
        })
    }

    /// Encapsulate if asked, put a fresh Ethernet header in front of the IP
    /// packet and make it the frame. `to` is the real server the packet
    /// goes to, whose next hop and tunnel source the plan worked out (its
    /// egress is `prep.egress`); `None` for a packet to a client, whose
    /// next hop is looked up.
    pub(crate) fn emit<N: Neighbors + ?Sized>(
        &mut self,
        ctx: &Ctx<'_, N>,
        pkt: &mut FrameBuf<'_>,
        info: &FrameInfo,
        prep: Prepared,
        to: Option<&PlanDest>,
    ) -> Verdict {
        let Egress {
            iface,
            next_hop,
            src_mac,
            ..
        } = prep.egress;
        let mut ip_start = pkt.start() + info.l3_offset;
        let mut ip_len = info.ip_len;
        let v6 = info.kind == FrameKind::Ipv6;
        if prep.encap == Encap::Ipip {
            // Only real servers are tunnelled to.
            let Some(outer_src) = to.and_then(|d| d.tunnel_src) else {
                return Verdict::Drop(DropReason::NoRoute);
            };
            let ident = self.next_ident();
            let copy_df = ctx.plan.tunables.pmtu_disc;
            let res = match (outer_src, prep.route_dst) {
                (IpAddr::V4(s), IpAddr::V4(d)) if !v6 => {
                    ipip::encap_v4(pkt.buffer_mut(), ip_start, ip_len, s, d, ident, copy_df)
                }
                (IpAddr::V6(s), IpAddr::V6(d)) if v6 => {
                    ipip::encap_v6(pkt.buffer_mut(), ip_start, ip_len, s, d)
                }
                _ => return Verdict::Drop(DropReason::FamilyMismatch),
            };
            match res {
                Ok(outer_start) => {
                    ip_len += ip_start - outer_start;
                    ip_start = outer_start;
                }
                Err(_) => return Verdict::Drop(DropReason::NoHeadroom),
            }
        }
        let Some(l2_start) = ip_start.checked_sub(ETH_HEADER) else {
            return Verdict::Drop(DropReason::NoHeadroom);
        };
        let dst_mac = match to.and_then(|d| d.next_hop) {
            Some(NextHop::Static(mac)) => Some(mac),
            Some(NextHop::Hop(h)) => ctx.neighbors.lookup_hop(ctx.plan, h),
            None => ctx.neighbors.lookup(iface, next_hop),
        };
        let ethertype = if v6 {
            ethernet::ethertype::IPV6
        } else {
            ethernet::ethertype::IPV4
        };
        let buf = pkt.buffer_mut();
        if ethernet::write_header(
            &mut buf[l2_start..],
            dst_mac.unwrap_or([0; 6]),
            src_mac,
            None,
            ethertype,
        )
        .is_err()
        {
            return Verdict::Drop(DropReason::NoHeadroom);
        }
        let verdict = match dst_mac {
            Some(_) => Verdict::Forward { iface },
            None => Verdict::NeedNeighbor { iface, next_hop },
        };
        if ip_len > usize::from(prep.egress.mtu) {
            // Only a tunnelled IPv4 packet with the outer DF clear gets
            // here (`prepare`).
            return self.emit_outer_fragments(pkt, l2_start, ip_len, prep.egress.mtu, verdict);
        }
        pkt.set_bounds(l2_start, ETH_HEADER + ip_len);
        verdict
    }

    /// Cut the outer IPv4 packet of `ip_len` bytes behind the Ethernet
    /// header at `l2_start` into fragments that fit `mtu` (RFC 791 §3.2):
    /// the first stays in the frame, the others queue in
    /// [`crate::extra_tx`] with the same `verdict` and Ethernet header.
    /// All or nothing: without room for every fragment the packet is
    /// dropped as `too_big`.
    fn emit_outer_fragments(
        &mut self,
        pkt: &mut FrameBuf<'_>,
        l2_start: usize,
        ip_len: usize,
        mtu: u16,
        verdict: Verdict,
    ) -> Verdict {
        let Some(split) = Ipv4Split::new(ip_len, IPV4_HEADER, usize::from(mtu)) else {
            return Verdict::Drop(DropReason::TooBig);
        };
        if split.count - 1 > self.extra_tx.room() {
            return Verdict::Drop(DropReason::TooBig);
        }
        let buf = pkt.buffer_mut();
        let Some(frame) = buf.get_mut(l2_start..l2_start + ETH_HEADER + ip_len) else {
            return Verdict::Drop(DropReason::Malformed);
        };
        for k in 1..split.count {
            let queued = self.extra_tx.push(verdict, |out| {
                out.get_mut(..ETH_HEADER)?
                    .copy_from_slice(&frame[..ETH_HEADER]);
                let n =
                    split_ipv4(&frame[ETH_HEADER..], &split, k, out.get_mut(ETH_HEADER..)?).ok()?;
                Some(ETH_HEADER + n)
            });
            if !queued {
                self.extra_tx.unpush(k - 1);
                return Verdict::Drop(DropReason::TooBig);
            }
        }
        match keep_first_ipv4_fragment(&mut frame[ETH_HEADER..], &split) {
            Ok(n) => {
                pkt.set_bounds(l2_start, ETH_HEADER + n);
                verdict
            }
            Err(_) => {
                self.extra_tx.unpush(split.count - 1);
                Verdict::Drop(DropReason::TooBig)
            }
        }
    }

    /// Replace the frame with an ICMP/ICMPv6 error to its sender, sent back
    /// out of the interface it came in on, to the MAC it came from. Counts
    /// `reason` when the error is sent; when RFC 1122/4443 forbid an error
    /// about this packet, the packet is just dropped for `reason`.
    pub(crate) fn reply_icmp<N: Neighbors + ?Sized>(
        &mut self,
        ctx: &Ctx<'_, N>,
        pkt: &mut FrameBuf<'_>,
        info: &FrameInfo,
        kind: IcmpReply,
        reason: DropReason,
    ) -> Verdict {
        let frame = pkt.frame();
        if !xvs_wire::frame::may_send_icmp_error(
            frame,
            info,
            matches!(kind, IcmpReply::TooBig { .. }),
        ) {
            return Verdict::Drop(reason);
        }
        let Some(iface) = ctx.plan.interfaces.get(ctx.ingress) else {
            return Verdict::Drop(reason);
        };
        let Some(offending) = frame.get(info.l3_offset..info.ip_end()) else {
            return Verdict::Drop(reason);
        };
        let peer_mac: MacAddr = frame[6..12].try_into().unwrap_or([0; 6]);
        let our_mac = iface
            .mac
            .unwrap_or_else(|| frame[0..6].try_into().unwrap_or([0; 6]));
        // The error comes from the address the client was talking to (the
        // VIP), as the kernel's icmp_send uses the packet's local address.
        let ident = self.next_ident();
        let out = &mut self.scratch[ETH_HEADER..];
        let built = match (info.dst, kind) {
            (IpAddr::V4(src), k) => {
                let kind = match k {
                    IcmpReply::TooBig { mtu } => icmp::ErrorKind::FragmentationNeeded {
                        mtu: u16::try_from(mtu).unwrap_or(u16::MAX),
                    },
                    IcmpReply::TimeExceeded => icmp::ErrorKind::TimeExceeded,
                    IcmpReply::PortUnreachable => icmp::ErrorKind::PortUnreachable,
                };
                icmp::build_error(out, kind, src, ident, offending)
            }
            (IpAddr::V6(src), k) => {
                let kind = match k {
                    IcmpReply::TooBig { mtu } => icmpv6::ErrorKind::PacketTooBig { mtu },
                    IcmpReply::TimeExceeded => icmpv6::ErrorKind::HopLimitExceeded,
                    IcmpReply::PortUnreachable => icmpv6::ErrorKind::PortUnreachable,
                };
                icmpv6::build_error(out, kind, src, offending)
            }
        };
        let Ok(ip_len) = built else {
            return Verdict::Drop(reason);
        };
        let ethertype = match info.kind {
            FrameKind::Ipv6 => ethernet::ethertype::IPV6,
            _ => ethernet::ethertype::IPV4,
        };
        if ethernet::write_header(&mut self.scratch[..], peer_mac, our_mac, None, ethertype)
            .is_err()
        {
            return Verdict::Drop(reason);
        }
        let total = ETH_HEADER + ip_len;
        // Put the error where the frame was (or at the buffer start if the
        // frame sits too close to the end for a larger error).
        let start = if pkt.start() + total <= pkt.capacity() {
            pkt.start()
        } else {
            0
        };
        if start + total > pkt.capacity() {
            return Verdict::Drop(reason);
        }
        pkt.buffer_mut()[start..start + total].copy_from_slice(&self.scratch[..total]);
        pkt.set_bounds(start, total);
        self.counters.count_drop(reason);
        Verdict::Forward { iface: ctx.ingress }
    }
}
