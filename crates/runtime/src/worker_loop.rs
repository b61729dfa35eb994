//! One worker thread: the poll-mode loop around the pure pipeline.
//!
//! Each iteration (DESIGN.md "Workers"): reap TX completions → refill the
//! fill rings → take an RX burst from every socket → run each frame
//! through [`xvs_dataplane::Worker::process`] → queue forwards on the TX ring
//! of the egress interface → flush TX (kicking the kernel only when
//! need_wakeup or copy mode asks) → load the current plan (the quiescent
//! point) for the next batch. The per-packet path takes no locks, makes no
//! allocations and no syscalls; punted frames (ARP/ND/ping, a few per
//! second) are copied to the control thread.
//!
//! Frames whose next hop is not resolved yet wait in a short queue (at most
//! [`MAX_PENDING`] frames, [`PENDING_MS`] each) while the control thread
//! resolves it, then go out with the right MAC, or are dropped and counted.

use std::collections::VecDeque;
use std::net::IpAddr;
use std::os::fd::RawFd;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use crossbeam::channel::Sender;
use xvs_config::IdlePolicy;
use xvs_dataplane::{FrameBuf, Neighbors, Verdict, Worker, HOUSEKEEPING_INSTALL_BUDGET};
use xvs_xsk::{poll_readable, Desc, FramePool, Umem, XskSocket};

use crate::shared::{ControlMsg, DriverCounters, Shared};

/// RX burst size per socket.
pub const BATCH: usize = 64;
/// Frames that may wait for neighbour resolution at once, per worker.
pub const MAX_PENDING: usize = 256;
/// How long a frame may wait for its neighbour.
pub const PENDING_MS: u64 = 1000;
/// Idle iterations before the adaptive policy sleeps in poll(). Few: at a
/// few thousand new connections a second (frames tens of µs apart) 2,048
/// empty iterations never ran out, so an adaptive worker spun as a busy
/// one does and most of its CPU time was the spin (bench/README.md, "New
/// connections": 16 instead of 2,048 took xvs from ≈ 12–13 K to ≈ 21–22 K
/// connections per CPU-second there). A frame that arrives while the
/// worker sleeps costs one wake-up.
const SPINS_BEFORE_SLEEP: u32 = 16;
/// The adaptive policy's longest sleep.
const IDLE_POLL_MS: i32 = 10;
/// Connection-table slots examined per housekeeping pass.
const EXPIRE_BUDGET: usize = 512;
/// Where a released fragment is put in its frame: the kernel's XDP
/// headroom, which received frames have in front of them too.
const RELEASE_HEADROOM: usize = 256;

/// One socket a worker serves.
#[derive(Debug)]
pub struct WorkerSocket {
    /// Index of the interface in the plan.
    pub iface: usize,
    pub sock: XskSocket,
    /// Frames on the TX ring not yet completed.
    pub tx_in_flight: u32,
    /// How many frames this socket's fill ring is topped up to (see
    /// [`WorkerLoop::refill`]).
    pub fill_target: u32,
}

impl WorkerSocket {
    /// A socket for the plan's interface `iface`, starting with the small
    /// fill target of a quiet interface.
    pub fn new(iface: usize, sock: XskSocket) -> WorkerSocket {
        let fill_target = MIN_FILL.min(sock.fill.size());
        WorkerSocket {
            iface,
            sock,
            tx_in_flight: 0,
            fill_target,
        }
    }
}

/// A busy socket's next fill target: double `current`, but not past the
/// ring (`ring` entries) nor past what the other sockets' targets
/// (`others`) leave of the UMEM's `frames`; never below `current` or the
/// starting target.
fn grown_fill_target(current: u32, ring: u32, frames: u32, others: u32) -> u32 {
    let cap = ring
        .min(frames.saturating_sub(others))
        .max(MIN_FILL.min(ring));
    current.saturating_mul(2).min(cap).max(current)
}

/// The fill target a socket starts with: enough for the trickle a quiet
/// interface sees (ARP, the odd reply), not enough to strand frames.
const MIN_FILL: u32 = 256;

/// In copy mode one `sendto` transmits at most 32 frames (the kernel's
/// TX batch), so a burst needs several kicks; bounded per loop.
const MAX_KICKS: usize = 8;

#[derive(Debug, Clone, Copy)]
struct Pending {
    chunk: u64,
    start: usize,
    len: usize,
    iface: usize,
    next_hop: IpAddr,
    since_ms: u64,
}

/// A worker thread's whole state.
#[derive(Debug)]
pub struct WorkerLoop {
    pub id: usize,
    pub pipeline: Worker,
    pub umem: Umem,
    pub pool: FramePool,
    pub sockets: Vec<WorkerSocket>,
    /// Interface index → socket used to transmit on it.
    pub tx_socket: Vec<Option<usize>>,
    pub shared: Arc<Shared>,
    pub to_control: Sender<ControlMsg>,
    pub counters: Arc<DriverCounters>,
    pub idle: IdlePolicy,
}

impl WorkerLoop {
    /// Top every fill ring up to its target. The fill ring is what
    /// absorbs traffic while the worker is not polling (a burst, or the
    /// worker preempted on a shared core), so a busy socket's target grows
    /// to its whole ring. A quiet one keeps a small target: frames on a
    /// fill ring stay there until a packet arrives, and frames stranded on
    /// an idle interface are frames the busy one lacks. Targets grow, by
    /// doubling, when a socket's RX burst comes back full (see `run`),
    /// and never past what the other sockets' targets leave of the UMEM.
    /// No frames are held back otherwise: forwarding, TX and frames
    /// waiting on a neighbour all reuse the received frame, and what is in
    /// flight comes back through the completion ring.
    fn refill(&mut self, scratch: &mut Vec<u64>) {
        for s in &mut self.sockets {
            let size = s.sock.fill.size();
            let on_ring = size - s.sock.fill.free(size).min(size);
            let want = s
                .fill_target
                .saturating_sub(on_ring)
                .min(self.pool.len() as u32) as usize;
            if want == 0 {
                continue;
            }
            self.pool.take(want, scratch);
            let n = s.sock.fill.produce(scratch);
            for &a in &scratch[n..] {
                self.pool.free(a);
            }
            if s.sock.fill.needs_wakeup() {
                s.sock.kick_rx();
            }
        }
    }

    /// Socket `si` is busy: double its fill target, up to its ring and to
    /// what the other sockets' targets leave of the UMEM.
    fn grow_fill_target(&mut self, si: usize) {
        // Saturated, every burst is full: once at the ring, nothing to do.
        if self.sockets[si].fill_target >= self.sockets[si].sock.fill.size() {
            return;
        }
        let others: u32 = self
            .sockets
            .iter()
            .enumerate()
            .filter(|&(i, _)| i != si)
            .map(|(_, s)| s.fill_target)
            .sum();
        let frames = self.umem.frames();
        let s = &mut self.sockets[si];
        s.fill_target = grown_fill_target(s.fill_target, s.sock.fill.size(), frames, others);
    }

    fn reap_completions(&mut self) {
        let mut done = [0u64; BATCH];
        for s in &mut self.sockets {
            loop {
                let n = s.sock.comp.consume(&mut done);
                s.tx_in_flight = s.tx_in_flight.saturating_sub(n as u32);
                for &a in &done[..n] {
                    self.pool.free(self.umem.chunk_of(a));
                }
                if n < BATCH {
                    break;
                }
            }
        }
    }

    /// Run until the shared stop flag is set.
    pub fn run(mut self) {
        let mut rx = [Desc {
            addr: 0,
            len: 0,
            options: 0,
        }; BATCH];
        let mut tx: Vec<Vec<Desc>> = self
            .sockets
            .iter()
            .map(|_| Vec::with_capacity(BATCH * 4))
            .collect();
        let mut pending: VecDeque<Pending> = VecDeque::with_capacity(MAX_PENDING);
        let mut scratch = Vec::with_capacity(4096);
        let fds: Vec<RawFd> = self.sockets.iter().map(|s| s.sock.fd()).collect();
        let mut idle_spins = 0u32;
        let mut iterations = 0u64;
        let mut stats_sampled_at = u32::MAX;
        self.refill(&mut scratch);
        while !self.shared.stop.load(Ordering::Relaxed) {
            let plan = self.shared.plan.load();
            let neighbors = self.shared.neighbors.load();
            let now = self.shared.now_secs();
            self.reap_completions();
            self.refill(&mut scratch);

            let mut got = 0;
            for si in 0..self.sockets.len() {
                let n = self.sockets[si].sock.rx.consume(&mut rx);
                got += n;
                if n == BATCH {
                    self.grow_fill_target(si);
                }
                let ingress = self.sockets[si].iface;
                // Start loading every frame's headers before processing
                // the burst: the kernel wrote them on another core, and
                // the misses overlap instead of stalling packet by packet.
                for d in &rx[..n] {
                    self.umem.prefetch(d.addr);
                }
                // Then their connection lookups, stage by stage over the
                // burst (the pipeline skips this while its table is small).
                let umem = &self.umem;
                let frames = rx[..n]
                    .iter()
                    .filter_map(|d| umem.bytes(d.addr, d.len as usize));
                self.pipeline.prefetch_burst(&plan, frames);
                for d in &rx[..n] {
                    let chunk = self.umem.chunk_of(d.addr);
                    let Some((frame, off)) = self.umem.frame_mut(d.addr) else {
                        DriverCounters::add(&self.counters.bad_descriptors, 1);
                        continue;
                    };
                    let Some(mut fb) = FrameBuf::new(frame, off, d.len as usize) else {
                        DriverCounters::add(&self.counters.bad_descriptors, 1);
                        self.pool.free(chunk);
                        continue;
                    };
                    let verdict = self
                        .pipeline
                        .process(&plan, &**neighbors, now, ingress, &mut fb);
                    let (start, len) = (fb.start(), fb.len());
                    self.dispatch(verdict, chunk, start, len, ingress, &mut tx, &mut pending);
                    if self.pipeline.has_extra_tx() {
                        self.send_extra_tx(ingress, &mut tx, &mut pending);
                    }
                }
                // Fragments that waited for the first of their datagram,
                // which this burst brought: each in a frame of its own.
                while self.pipeline.has_released_fragments() {
                    if !self.release_fragment(&plan, &**neighbors, now, &mut tx, &mut pending) {
                        break;
                    }
                }
            }

            if !pending.is_empty() {
                self.release_pending(&mut pending, &**neighbors, &mut tx);
            }
            self.flush_tx(&mut tx);

            // Synced connections from the control thread: every pass (an
            // empty queue is one load), so a backup that sleeps between
            // polls still installs them within its poll interval.
            if self.pipeline.sync().is_some() {
                self.pipeline
                    .drain_installs(&plan, now, HOUSEKEEPING_INSTALL_BUDGET);
            }
            iterations += 1;
            if iterations.is_multiple_of(64) {
                self.pipeline.housekeeping(&plan, now, EXPIRE_BUDGET);
                if now != stats_sampled_at {
                    stats_sampled_at = now;
                    self.sample_socket_stats();
                }
            }
            drop(plan);
            drop(neighbors);

            if got > 0 {
                idle_spins = 0;
                continue;
            }
            idle_spins = idle_spins.saturating_add(1);
            match self.idle {
                IdlePolicy::Busy => std::hint::spin_loop(),
                IdlePolicy::Adaptive if idle_spins > SPINS_BEFORE_SLEEP && pending.is_empty() => {
                    // Sleep until a socket has packets (or a short timeout,
                    // so housekeeping and the stop flag are still seen).
                    if let Ok(0) = poll_readable(&fds, IDLE_POLL_MS) {
                        // A whole poll interval without a frame: sweep the
                        // table here too. Housekeeping otherwise runs every
                        // 64 iterations, and a worker that sleeps after a
                        // few empty ones makes few iterations while idle.
                        let plan = self.shared.plan.load();
                        let now = self.shared.now_secs();
                        self.pipeline.housekeeping(&plan, now, EXPIRE_BUDGET);
                    }
                }
                IdlePolicy::Adaptive => std::hint::spin_loop(),
            }
        }
        // Return everything to the pool; the sockets close on drop.
        for p in pending {
            self.pool.free(p.chunk);
        }
    }

    /// Act on the verdict for the frame at `chunk + start`, `len` bytes.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)] // the frame, where it came from, and the queues it may join
    fn dispatch(
        &mut self,
        verdict: Verdict,
        chunk: u64,
        start: usize,
        len: usize,
        ingress: usize,
        tx: &mut [Vec<Desc>],
        pending: &mut VecDeque<Pending>,
    ) {
        match verdict {
            Verdict::Forward { iface } => match self.tx_socket.get(iface).copied().flatten() {
                Some(ti) => tx[ti].push(Desc {
                    addr: chunk + start as u64,
                    len: len as u32,
                    options: 0,
                }),
                None => self.pool.free(chunk),
            },
            Verdict::NeedNeighbor { iface, next_hop } => {
                let _ = self.to_control.try_send(ControlMsg::Resolve {
                    iface,
                    ip: next_hop,
                });
                if pending.len() < MAX_PENDING {
                    pending.push_back(Pending {
                        chunk,
                        start,
                        len,
                        iface,
                        next_hop,
                        since_ms: self.shared.now_ms(),
                    });
                } else {
                    DriverCounters::add(&self.counters.neighbor_timeout, 1);
                    self.pool.free(chunk);
                }
            }
            Verdict::ToControl(_) => {
                let frame = self
                    .umem
                    .bytes(chunk + start as u64, len)
                    .map(<[u8]>::to_vec)
                    .unwrap_or_default();
                let msg = ControlMsg::Punt {
                    iface: ingress,
                    frame,
                };
                if self.to_control.try_send(msg).is_err() {
                    DriverCounters::add(&self.counters.punt_dropped, 1);
                }
                self.pool.free(chunk);
            }
            // Not ours (steering should not have sent it), dropped
            // (already counted by the pipeline), or held (the pipeline
            // kept a copy).
            Verdict::Pass | Verdict::Drop(_) | Verdict::Held => self.pool.free(chunk),
        }
    }

    /// Take one released fragment into a free frame, run it through the
    /// pipeline again and act on the verdict. False when no frame is free
    /// (it stays queued for the next pass).
    fn release_fragment<N: Neighbors + ?Sized>(
        &mut self,
        plan: &xvs_dataplane::Plan,
        neighbors: &N,
        now: u32,
        tx: &mut [Vec<Desc>],
        pending: &mut VecDeque<Pending>,
    ) -> bool {
        let Some(chunk) = self.pool.alloc() else {
            return false;
        };
        let Some((frame, _)) = self.umem.frame_mut(chunk) else {
            self.pool.free(chunk);
            return false;
        };
        // The headroom a received frame has, for a tunnel header.
        let at = RELEASE_HEADROOM.min(frame.len());
        let Some((len, ingress)) = self.pipeline.take_released_fragment(&mut frame[at..]) else {
            self.pool.free(chunk);
            return false;
        };
        let Some(mut fb) = FrameBuf::new(frame, at, len) else {
            self.pool.free(chunk);
            return true;
        };
        let verdict = self
            .pipeline
            .process_released(plan, neighbors, now, ingress, &mut fb);
        let (start, len) = (fb.start(), fb.len());
        self.dispatch(verdict, chunk, start, len, ingress, tx, pending);
        if self.pipeline.has_extra_tx() {
            self.send_extra_tx(ingress, tx, pending);
        }
        true
    }

    /// Send the frames the pipeline queued besides the one it was handed
    /// (a tunnelled packet's later outer fragments, a SYN proxy's window
    /// update), each in a free frame
    /// of its own, right behind that one. Without a free frame the rest
    /// stay queued for the next call.
    fn send_extra_tx(
        &mut self,
        ingress: usize,
        tx: &mut [Vec<Desc>],
        pending: &mut VecDeque<Pending>,
    ) {
        while self.pipeline.has_extra_tx() {
            let Some(chunk) = self.pool.alloc() else {
                return;
            };
            let Some((frame, _)) = self.umem.frame_mut(chunk) else {
                self.pool.free(chunk);
                return;
            };
            let Some((len, verdict)) = self.pipeline.take_extra_tx(frame) else {
                self.pool.free(chunk);
                return;
            };
            self.dispatch(verdict, chunk, 0, len, ingress, tx, pending);
        }
    }

    fn release_pending<N: Neighbors + ?Sized>(
        &mut self,
        pending: &mut VecDeque<Pending>,
        neighbors: &N,
        tx: &mut [Vec<Desc>],
    ) {
        let now_ms = self.shared.now_ms();
        for _ in 0..pending.len() {
            let Some(p) = pending.pop_front() else { break };
            if let Some(mac) = neighbors.lookup(p.iface, p.next_hop) {
                if let (Some((frame, _)), Some(ti)) = (
                    self.umem.frame_mut(p.chunk),
                    self.tx_socket.get(p.iface).copied().flatten(),
                ) {
                    frame[p.start..p.start + 6].copy_from_slice(&mac);
                    tx[ti].push(Desc {
                        addr: p.chunk + p.start as u64,
                        len: p.len as u32,
                        options: 0,
                    });
                    continue;
                }
                self.pool.free(p.chunk);
            } else if now_ms.saturating_sub(p.since_ms) > PENDING_MS {
                DriverCounters::add(&self.counters.neighbor_timeout, 1);
                self.pool.free(p.chunk);
            } else {
                pending.push_back(p);
            }
        }
    }

    fn flush_tx(&mut self, tx: &mut [Vec<Desc>]) {
        for (ti, batch) in tx.iter_mut().enumerate() {
            let ws = &mut self.sockets[ti];
            if !batch.is_empty() {
                let n = ws.sock.tx.produce(batch);
                ws.tx_in_flight += n as u32;
                DriverCounters::add(&self.counters.tx_packets, n as u64);
                for d in &batch[n..] {
                    self.pool.free(self.umem.chunk_of(d.addr));
                }
                if n < batch.len() {
                    DriverCounters::add(&self.counters.tx_ring_full, (batch.len() - n) as u64);
                }
                batch.clear();
            }
            if ws.tx_in_flight == 0 {
                continue;
            }
            if ws.sock.is_zero_copy() {
                if ws.sock.tx.needs_wakeup() {
                    ws.sock.kick_tx();
                }
                continue;
            }
            // Copy mode: the kernel transmits only inside sendto, 32
            // frames at a time; keep kicking while our frames are queued,
            // or the TX ring backs up, the fill ring runs dry and the
            // kernel drops at RX before we see the packets.
            let mut done = [0u64; BATCH];
            for _ in 0..MAX_KICKS {
                ws.sock.kick_tx();
                let n = ws.sock.comp.consume(&mut done);
                ws.tx_in_flight = ws.tx_in_flight.saturating_sub(n as u32);
                for &a in &done[..n] {
                    self.pool.free(self.umem.chunk_of(a));
                }
                if ws.tx_in_flight == 0 || n == 0 {
                    break;
                }
            }
        }
    }

    /// Copy the kernel's per-socket drop counters into ours (once a second).
    fn sample_socket_stats(&mut self) {
        let mut rx_dropped = 0;
        let mut fill_empty = 0;
        let mut rx_full = 0;
        for s in &self.sockets {
            if let Ok(st) = s.sock.statistics() {
                rx_dropped += st.rx_dropped;
                fill_empty += st.rx_fill_ring_empty_descs;
                rx_full += st.rx_ring_full;
            }
        }
        let c = &self.counters;
        c.kernel_rx_dropped.store(rx_dropped, Ordering::Relaxed);
        c.kernel_fill_ring_empty
            .store(fill_empty, Ordering::Relaxed);
        c.kernel_rx_ring_full.store(rx_full, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_busy_socket_doubles_up_to_its_ring() {
        let mut t = MIN_FILL;
        let mut seen = vec![t];
        while t < 2048 {
            t = grown_fill_target(t, 2048, 4096, MIN_FILL);
            seen.push(t);
        }
        assert_eq!(seen, [256, 512, 1024, 2048]);
        assert_eq!(grown_fill_target(2048, 2048, 4096, MIN_FILL), 2048);
    }

    #[test]
    fn growth_leaves_the_other_sockets_their_targets() {
        // Two busy sockets sharing 4096 frames with rings of 4096: the
        // second cannot take what the first already holds.
        assert_eq!(grown_fill_target(2048, 4096, 4096, 2048), 2048);
        assert_eq!(grown_fill_target(1024, 4096, 4096, 2048), 2048);
        assert_eq!(grown_fill_target(256, 4096, 4096, 3584), 512);
    }

    #[test]
    fn a_target_never_shrinks_nor_starves() {
        // The others' targets already exceed the UMEM: keep what it has,
        // and at least the starting target.
        assert_eq!(grown_fill_target(1024, 2048, 2048, 4096), 1024);
        assert_eq!(grown_fill_target(MIN_FILL, 2048, 512, 4096), MIN_FILL);
        // A ring smaller than the starting target caps it.
        assert_eq!(grown_fill_target(64, 64, 4096, 0), 64);
    }
}
