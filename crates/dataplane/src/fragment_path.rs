//! Fragmented TCP/UDP datagrams through the pipeline, both directions.
//!
//! The first fragment takes the ordinary path (client → VIP:
//! [`crate::inbound`]; real server → client: [`crate::outbound`]) and what
//! it got is recorded in the worker's [`FragMap`] under the datagram's key
//! (see [`crate::fragments`]): the connection entry it was forwarded with,
//! or that it was dropped or not ours. Each later fragment gets the same:
//! DR changes its MACs, TUN encapsulates it (an IPIP packet whose inner
//! packet is a fragment; the outer header's DF as for any packet), NAT
//! rewrites its destination address — FullNAT its source too — and the
//! IPv4 header checksum, and replies are translated back (source to the
//! VIP; FullNAT destination to the client). Ports and the L4 checksum live
//! in the first fragment only, which the ordinary rewrite already fixes.
//!
//! Later fragments that arrive before their first are held and come back
//! through [`Worker::take_released_fragment`] and
//! [`Worker::process_released`] once it has decided. Their verdict until
//! then is [`Verdict::Held`]; each is counted once, when it is finally
//! forwarded, dropped (`frag_orphan`, `frag_timeout`) or passed.
//!
//! Replies: the steering program claims every non-first fragment from a
//! NAT real server (it has no ports to match), including fragments of
//! datagrams the kernel owns — say the real server's own traffic routed
//! through the director. AF_XDP has no way to hand a received frame back
//! to the kernel's receive path (the XDP verdict is final once the frame is
//! redirected to a socket), so such a fragment, whose first fragment went
//! to the kernel and never reaches a worker, waits in the hold pool and is
//! dropped and counted as `frag_timeout`; a first fragment that reaches a
//! worker and is not a known reply is passed, and so are its later
//! fragments (counted as not ours).
//!
//! Layer: dataplane.

use xvs_conn::{ConnEntry, Direction};
use xvs_wire::{fragment_id, Fragment, FrameInfo};

use crate::fragments::{Found, FragFull, FragKey, FragMap};
use crate::frame_buf::FrameBuf;
use crate::route::Neighbors;
use crate::verdict::{DropReason, Verdict};
use crate::worker::{Ctx, Worker};

/// What the first fragment of a datagram got.
#[derive(Clone, Copy, Debug)]
pub(crate) enum FragDecision {
    /// Forwarded with this entry, in this direction.
    Forward(ConnEntry, Direction),
    /// Dropped (no service, table full, ...): the rest are dropped too.
    Drop,
    /// Not ours: the rest are passed too.
    Pass,
}

pub(crate) type Fragments = FragMap<FragDecision>;

impl Worker {
    /// A fragment of a TCP/UDP datagram, to a VIP (`Direction::Input`) or
    /// not (`Direction::Output`: a reply, if ours).
    pub(crate) fn fragment<N: Neighbors + ?Sized>(
        &mut self,
        ctx: &mut Ctx<'_, N>,
        pkt: &mut FrameBuf<'_>,
        mut info: FrameInfo,
        dir: Direction,
    ) -> Verdict {
        let id = match fragment_id(pkt.frame(), &info) {
            Ok(Some(id)) => id,
            Ok(None) => return self.unfragmented(ctx, pkt, info, dir),
            Err(e) => {
                self.counters.count_malformed(&e);
                return Verdict::Drop(DropReason::Malformed);
            }
        };
        let key = FragKey::new(info.src, info.dst, info.protocol, id.ident);
        let verdict = if info.fragment == Fragment::First {
            let v = self.first_fragment(ctx, pkt, info, key, dir);
            self.frags
                .progress(&key, id.offset, id.data_len, id.more, ctx.now);
            v
        } else {
            match self.frags.lookup(&key, ctx.now) {
                Found::Decided(d) => {
                    self.frags
                        .progress(&key, id.offset, id.data_len, id.more, ctx.now);
                    self.later_fragment(ctx, pkt, &mut info, d)
                }
                Found::Waiting | Found::Unknown => {
                    match self.frags.hold(&key, pkt.frame(), ctx.ingress, ctx.now) {
                        Ok(()) => Verdict::Held,
                        Err(FragFull::Map) => Verdict::Drop(DropReason::FragMapFull),
                        Err(FragFull::Hold) => Verdict::Drop(DropReason::FragHoldFull),
                    }
                }
            }
        };
        self.count_fragment_timeouts();
        verdict
    }

    fn unfragmented<N: Neighbors + ?Sized>(
        &mut self,
        ctx: &mut Ctx<'_, N>,
        pkt: &mut FrameBuf<'_>,
        info: FrameInfo,
        dir: Direction,
    ) -> Verdict {
        match dir {
            Direction::Output => self.outbound(ctx, pkt, info),
            _ => self.inbound(ctx, pkt, info),
        }
    }

    /// The ordinary path, then record what it decided for the rest.
    fn first_fragment<N: Neighbors + ?Sized>(
        &mut self,
        ctx: &mut Ctx<'_, N>,
        pkt: &mut FrameBuf<'_>,
        info: FrameInfo,
        key: FragKey,
        dir: Direction,
    ) -> Verdict {
        self.frag_first = None;
        let verdict = self.unfragmented(ctx, pkt, info, dir);
        let decision = match (verdict, self.frag_first.take()) {
            (Verdict::Forward { .. } | Verdict::NeedNeighbor { .. }, Some(e)) => {
                FragDecision::Forward(e, dir)
            }
            (Verdict::Pass, _) => FragDecision::Pass,
            _ => FragDecision::Drop,
        };
        // A full map loses only the record: this fragment goes on, and
        // later ones are counted as frag_map_full when they cannot be held.
        let _ = self.frags.decide(&key, decision, ctx.now);
        verdict
    }

    /// A later fragment of a datagram whose first fragment decided `d`.
    fn later_fragment<N: Neighbors + ?Sized>(
        &mut self,
        ctx: &Ctx<'_, N>,
        pkt: &mut FrameBuf<'_>,
        info: &mut FrameInfo,
        d: FragDecision,
    ) -> Verdict {
        match d {
            FragDecision::Forward(e, Direction::Output) => {
                if let Some(dest) = ctx.plan.dest(e.dest_id) {
                    dest.shared.stats.count_out(self.id, info.ip_len);
                    dest.service_shared.stats.count_out(self.id, info.ip_len);
                }
                self.forward_to_client(ctx, pkt, info, &e)
            }
            FragDecision::Forward(e, _) => {
                let Some(dest) = ctx.plan.dest(e.dest_id) else {
                    return Verdict::Drop(DropReason::DestUnavailable);
                };
                dest.shared.stats.count_in(self.id, info.ip_len);
                dest.service_shared.stats.count_in(self.id, info.ip_len);
                self.forward_to_real_server(ctx, pkt, info, &e, dest)
            }
            FragDecision::Drop => Verdict::Drop(DropReason::FragOrphan),
            FragDecision::Pass => Verdict::Pass,
        }
    }

    /// Count held fragments whose datagram timed out or was evicted.
    pub(crate) fn count_fragment_timeouts(&mut self) {
        for _ in 0..self.frags.take_timed_out() {
            self.counters.count_drop(DropReason::FragTimeout);
        }
        for _ in 0..self.frags.take_evicted() {
            self.counters.count_drop(DropReason::FragMapFull);
        }
    }

    /// Whether held fragments were released by their first fragment and
    /// wait for [`Worker::take_released_fragment`].
    #[inline]
    pub fn has_released_fragments(&self) -> bool {
        self.frags.has_released()
    }

    /// Copy the oldest released fragment to the start of `out`: its length
    /// and the interface it was received on, for
    /// [`Worker::process_released`]. Leave room in front of `out` for a
    /// tunnel header, as for a received frame. `None` when there is none
    /// or `out` is too short.
    pub fn take_released_fragment(&mut self, out: &mut [u8]) -> Option<(usize, usize)> {
        self.frags.take_released(out)
    }
}
