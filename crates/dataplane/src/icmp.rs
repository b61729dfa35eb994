//! ICMP and ICMPv6 errors about known connections, translated as IPVS does
//! (ip_vs_in_icmp / ip_vs_out_icmp, REFERENCE §5 "ICMP errors"):
//!
//! * towards a real server — an error a client-side host sends about a
//!   reply VIP:vport → CIP:cport: DR/TUN forward it unchanged with the
//!   entry's method; NAT rewrites the outer destination to the RIP and the
//!   quoted source to RIP:rport; FullNAT also moves the outer source to the
//!   local address and the quoted destination to LIP:lport, so the real
//!   server sees an error about exactly the packet it sent;
//! * towards a client — an error a real server sends about a packet the
//!   director forwarded (NAT, FullNAT): the outer source becomes the VIP
//!   and the quoted packet is the one the client sent (…→ VIP:vport).
//!
//! The outer ICMP checksum is verified before acting, as the kernel does.
//!
//! A SYN-proxied connection's two halves number their bytes differently
//! (the client saw the proxy's cookie as the server's ISN), so the quoted
//! TCP segment is also moved into the receiver's sequence space: the
//! server's sequence number of a quoted reply (+Δseq), the acknowledgment
//! of a quoted client segment (−Δseq). Linux drops an error whose quoted
//! sequence number is outside what it has in flight (tcp_v4_err,
//! tcp_v6_err), which would lose a fragmentation-needed and black-hole
//! the path.

use xvs_config::ForwardMethod;
use xvs_conn::ConnEntry;
use xvs_wire::{frame, parse_icmp_error, rewrite, FrameInfo, IcmpErrorInfo, WireError};

use crate::frame_buf::FrameBuf;
use crate::inbound::entry_method;
use crate::route::Neighbors;
use crate::verdict::{DropReason, Punt, Verdict};
use crate::worker::{Ctx, Worker};
use crate::xmit::Encap;

impl Worker {
    /// ICMP to a VIP: an error about one of our replies, or something for
    /// the control thread (echo requests to the VIP).
    pub(crate) fn icmp_to_vip<N: Neighbors + ?Sized>(
        &mut self,
        ctx: &mut Ctx<'_, N>,
        pkt: &mut FrameBuf<'_>,
        mut info: FrameInfo,
    ) -> Verdict {
        let mut err = match self.icmp_error(pkt, &info) {
            Ok(Some(err)) => err,
            Ok(None) => return Verdict::ToControl(Punt::IcmpToDirector),
            Err(v) => return v,
        };
        // The quoted packet is a reply VIP:vport → CIP:cport.
        let entry = self.conns.lookup_in_entry(
            self.id,
            err.protocol,
            err.dst,
            err.dst_port,
            err.src,
            err.src_port,
            ctx.now,
        );
        let Some(e) = entry else {
            return Verdict::Drop(DropReason::IcmpNoConn);
        };
        let Some(dest) = ctx.plan.dest(e.dest_id) else {
            return Verdict::Drop(DropReason::DestUnavailable);
        };
        let method = entry_method(e.flags);
        if matches!(method, ForwardMethod::Dr | ForwardMethod::Tun) {
            return self.forward_to_real_server(ctx, pkt, &mut info, &e, dest);
        }
        let prep = match self.prepare(ctx, pkt, &mut info, e.daddr, dest.egress, Encap::None) {
            Ok(p) => p,
            Err(v) => return v,
        };
        let res = translate_to_real_server(pkt.frame_mut(), &mut info, &mut err, &e, method)
            .and_then(|()| match self.proxied_seq_delta(&e) {
                // The quoted reply's sequence number, into the server's space.
                Some(d) => rewrite::shift_icmp_inner_tcp(pkt.frame_mut(), &info, &err, d, 0),
                None => Ok(()),
            });
        if let Err(werr) = res {
            self.counters.count_malformed(&werr);
            return Verdict::Drop(DropReason::Malformed);
        }
        self.emit(ctx, pkt, &info, prep, Some(dest))
    }

    /// ICMP not addressed to a VIP: an error from a real server about a
    /// packet we forwarded (NAT/FullNAT), or not ours at all.
    pub(crate) fn icmp_not_to_vip<N: Neighbors + ?Sized>(
        &mut self,
        ctx: &mut Ctx<'_, N>,
        pkt: &mut FrameBuf<'_>,
        mut info: FrameInfo,
    ) -> Verdict {
        let to_local = ctx.plan.is_local_address(info.dst);
        let quoted = match parse_icmp_error(pkt.frame(), &info) {
            Ok(Some(q)) => q,
            Ok(None) => {
                return if to_local {
                    Verdict::ToControl(Punt::IcmpToDirector)
                } else {
                    Verdict::Pass
                };
            }
            Err(_) if !to_local => return Verdict::Pass,
            Err(e) => {
                self.counters.count_malformed(&e);
                return Verdict::Drop(DropReason::Malformed);
            }
        };
        // The quoted packet is the one the real server received:
        // CIP:cport (FullNAT: LIP:lport) → RIP:rport.
        let entry = self.conns.lookup_out_entry(
            self.id,
            quoted.protocol,
            quoted.dst,
            quoted.dst_port,
            quoted.src,
            quoted.src_port,
            ctx.now,
        );
        let Some(e) = entry else {
            return if to_local {
                Verdict::Drop(DropReason::IcmpNoConn)
            } else {
                Verdict::Pass
            };
        };
        let mut err = match self.icmp_error(pkt, &info) {
            Ok(Some(err)) => err,
            Ok(None) => return Verdict::Pass,
            Err(v) => return v,
        };
        let prep = match self.prepare(ctx, pkt, &mut info, e.caddr, None, Encap::None) {
            Ok(p) => p,
            Err(v) => return v,
        };
        let res = translate_to_client(pkt.frame_mut(), &mut info, &mut err, &e).and_then(|()| {
            match self.proxied_seq_delta(&e) {
                // The quoted acknowledgment, into the client's space.
                Some(d) => rewrite::shift_icmp_inner_tcp(
                    pkt.frame_mut(),
                    &info,
                    &err,
                    0,
                    0u32.wrapping_sub(d),
                ),
                None => Ok(()),
            }
        });
        if let Err(werr) = res {
            self.counters.count_malformed(&werr);
            return Verdict::Drop(DropReason::Malformed);
        }
        self.emit(ctx, pkt, &info, prep, None)
    }

    /// Δseq of a SYN-proxied entry whose real server has answered.
    fn proxied_seq_delta(&self, e: &ConnEntry) -> Option<u32> {
        if !crate::synproxy::is_proxied(e) {
            return None;
        }
        self.synproxy.as_ref()?.seq_delta(e.id)
    }

    /// Parse the error and verify its checksum; `Ok(None)` for non-errors.
    fn icmp_error(
        &mut self,
        pkt: &FrameBuf<'_>,
        info: &FrameInfo,
    ) -> Result<Option<IcmpErrorInfo>, Verdict> {
        match parse_icmp_error(pkt.frame(), info) {
            Ok(Some(err)) => match frame::verify_icmp_checksum(pkt.frame(), info) {
                Ok(()) => Ok(Some(err)),
                Err(_) => Err(Verdict::Drop(DropReason::IcmpBadChecksum)),
            },
            Ok(None) => Ok(None),
            Err(e) => {
                self.counters.count_malformed(&e);
                Err(Verdict::Drop(DropReason::Malformed))
            }
        }
    }
}

/// NAT/FullNAT: make an error about the reply VIP → CIP read as an error
/// about the real server's packet RIP → CIP (FullNAT: RIP → LIP).
fn translate_to_real_server(
    frame: &mut [u8],
    info: &mut FrameInfo,
    err: &mut IcmpErrorInfo,
    e: &ConnEntry,
    method: ForwardMethod,
) -> Result<(), WireError> {
    if method == ForwardMethod::FullNat {
        rewrite::set_src(frame, info, e.laddr, 0)?;
        rewrite::set_icmp_inner_dst(frame, info, err, e.laddr, e.lport)?;
    }
    rewrite::set_dst(frame, info, e.daddr, 0)?;
    rewrite::set_icmp_inner_src(frame, info, err, e.daddr, e.dport)
}

/// NAT/FullNAT: make an error about the forwarded packet (→ RIP) read as an
/// error about the client's packet CIP:cport → VIP:vport.
fn translate_to_client(
    frame: &mut [u8],
    info: &mut FrameInfo,
    err: &mut IcmpErrorInfo,
    e: &ConnEntry,
) -> Result<(), WireError> {
    rewrite::set_src(frame, info, e.vaddr, 0)?;
    if entry_method(e.flags) == ForwardMethod::FullNat {
        rewrite::set_dst(frame, info, e.caddr, 0)?;
        rewrite::set_icmp_inner_src(frame, info, err, e.caddr, e.cport)?;
    }
    rewrite::set_icmp_inner_dst(frame, info, err, e.vaddr, e.vport)
}
