//! Frames a worker sends besides the one it was handed.
//!
//! - The second and later fragments of a tunnelled IPv4 packet whose
//!   outer packet exceeds the egress MTU. The kernel's tunnel transmit
//!   (ip_vs_tunnel_xmit() with ip_local_out()) fragments such an outer packet when its DF is clear —
//!   the inner packet's DF is clear (every fragment's is), or pmtu_disc is
//!   off so DF is not copied — instead of dropping it (REFERENCE §5 MTU).
//! - The SYN proxy's window update: the real server's SYN-ACK becomes
//!   both the ACK that completes the server's handshake (the received
//!   frame) and the window update that lets the client, held at a zero
//!   window until then, send its request (the order of Linux's SYNPROXY
//!   target).
//!
//! The first fragment stays in the received frame and leaves with its
//! verdict; the others wait here, each with the same verdict, until the
//! driver copies them into free frames of its own
//! ([`Worker::take_extra_tx`]) right after handling the frame. A small
//! fixed set of buffers allocated with the worker: nothing allocates per
//! packet, and a packet whose fragments do not all fit is dropped whole
//! (`too_big`), never sent in part.
//!
//! Layer: dataplane. No I/O: the driver owns the frames and the rings.

use crate::verdict::Verdict;
use crate::worker::Worker;

/// Frames that may wait at once: a 4 KiB frame cut for a 576-byte MTU
/// makes 8 fragments, 7 of them extra.
pub(crate) const EXTRA_TX_FRAMES: usize = 8;
/// Largest extra frame: a 9,000-byte jumbo MTU and its Ethernet header.
pub(crate) const EXTRA_FRAME_LEN: usize = 9000 + 14;
/// Room a frame built in a lent buffer gets in front (as a received frame
/// has, should a rewrite need to grow it at the front).
pub(crate) const EXTRA_HEADROOM: usize = 64;

/// A ring of ready-to-send frames with their verdicts.
pub(crate) struct ExtraTx {
    bufs: Vec<Box<[u8]>>,
    /// Per slot: where the frame starts in its buffer, its length and its
    /// verdict.
    meta: [(usize, usize, Verdict); EXTRA_TX_FRAMES],
    head: usize,
    len: usize,
}

impl std::fmt::Debug for ExtraTx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExtraTx")
            .field("waiting", &self.len)
            .finish()
    }
}

impl ExtraTx {
    pub(crate) fn new() -> ExtraTx {
        ExtraTx {
            bufs: (0..EXTRA_TX_FRAMES)
                .map(|_| vec![0u8; EXTRA_HEADROOM + EXTRA_FRAME_LEN].into_boxed_slice())
                .collect(),
            meta: [(0, 0, Verdict::Pass); EXTRA_TX_FRAMES],
            head: 0,
            len: 0,
        }
    }

    /// Slots still free.
    pub(crate) fn room(&self) -> usize {
        EXTRA_TX_FRAMES - self.len
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Queue a frame that `write` builds in the next free buffer (returning
    /// its length, `None` to give up). False when full or given up.
    pub(crate) fn push(
        &mut self,
        verdict: Verdict,
        write: impl FnOnce(&mut [u8]) -> Option<usize>,
    ) -> bool {
        if self.len == EXTRA_TX_FRAMES {
            return false;
        }
        let i = (self.head + self.len) % EXTRA_TX_FRAMES;
        match write(&mut self.bufs[i]) {
            Some(n) if n <= EXTRA_FRAME_LEN => {
                self.meta[i] = (0, n, verdict);
                self.len += 1;
                true
            }
            _ => false,
        }
    }

    /// The next free buffer, taken out so that the caller can build a frame
    /// in it while using the worker (whose verdict is known only once it
    /// is built); hand it back with [`ExtraTx::commit`]. `None` when full.
    pub(crate) fn lend(&mut self) -> Option<Box<[u8]>> {
        if self.len == EXTRA_TX_FRAMES {
            return None;
        }
        let i = (self.head + self.len) % EXTRA_TX_FRAMES;
        Some(std::mem::take(&mut self.bufs[i]))
    }

    /// Give back the buffer [`ExtraTx::lend`] lent, queuing the frame built
    /// in it (`start`, `len`, verdict) or, with `None`, nothing.
    pub(crate) fn commit(&mut self, buf: Box<[u8]>, frame: Option<(usize, usize, Verdict)>) {
        let i = (self.head + self.len) % EXTRA_TX_FRAMES;
        self.bufs[i] = buf;
        if let Some((start, len, verdict)) = frame {
            if start + len <= self.bufs[i].len() {
                self.meta[i] = (start, len, verdict);
                self.len += 1;
            }
        }
    }

    /// Drop the last `n` queued frames (a packet that could not be queued
    /// whole).
    pub(crate) fn unpush(&mut self, n: usize) {
        self.len = self.len.saturating_sub(n);
    }

    /// Copy the oldest frame to the start of `out`: its length and verdict.
    /// `None` when empty or `out` is too short (the frame stays queued).
    fn pop_into(&mut self, out: &mut [u8]) -> Option<(usize, Verdict)> {
        if self.len == 0 {
            return None;
        }
        let (start, n, verdict) = self.meta[self.head];
        out.get_mut(..n)?
            .copy_from_slice(&self.bufs[self.head][start..start + n]);
        self.head = (self.head + 1) % EXTRA_TX_FRAMES;
        self.len -= 1;
        Some((n, verdict))
    }
}

impl Worker {
    /// Whether frames wait for [`Worker::take_extra_tx`].
    #[inline]
    pub fn has_extra_tx(&self) -> bool {
        !self.extra_tx.is_empty()
    }

    /// Copy the oldest waiting extra frame (a complete Ethernet frame) to
    /// the start of `out`: its length and what to do with it —
    /// [`Verdict::Forward`] or [`Verdict::NeedNeighbor`], as for the frame
    /// it was cut from. `None` when there is none or `out` is too short.
    pub fn take_extra_tx(&mut self, out: &mut [u8]) -> Option<(usize, Verdict)> {
        self.extra_tx.pop_into(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_leave_in_order_and_a_full_ring_refuses() {
        let mut q = ExtraTx::new();
        let v = Verdict::Forward { iface: 1 };
        for k in 0..EXTRA_TX_FRAMES {
            assert!(q.push(v, |b| {
                b[0] = k as u8;
                Some(1)
            }));
        }
        assert_eq!(q.room(), 0);
        assert!(!q.push(v, |_| Some(1)));
        q.unpush(1);
        assert!(
            !q.push(v, |_| None),
            "a writer that gives up queues nothing"
        );
        assert_eq!(q.room(), 1);
        let mut out = [0u8; 4];
        for k in 0..EXTRA_TX_FRAMES - 1 {
            assert_eq!(q.pop_into(&mut out), Some((1, v)));
            assert_eq!(out[0], k as u8);
        }
        assert!(q.is_empty());
        assert_eq!(q.pop_into(&mut out), None);
        // Too short an output keeps the frame.
        assert!(q.push(v, |_| Some(10)));
        assert_eq!(q.pop_into(&mut out), None);
        assert!(!q.is_empty());
    }

    #[test]
    fn a_lent_buffer_queues_the_frame_built_in_it() {
        let mut q = ExtraTx::new();
        let v = Verdict::Forward { iface: 2 };
        let mut b = q.lend().expect("room");
        b[EXTRA_HEADROOM..EXTRA_HEADROOM + 3].copy_from_slice(&[7, 8, 9]);
        q.commit(b, Some((EXTRA_HEADROOM, 3, v)));
        let b = q.lend().expect("room");
        q.commit(b, None);
        let mut out = [0u8; 8];
        assert_eq!(q.pop_into(&mut out), Some((3, v)));
        assert_eq!(&out[..3], &[7, 8, 9]);
        assert!(q.is_empty(), "a buffer given back empty queues nothing");
        // Every slot keeps a buffer after lending.
        for _ in 0..EXTRA_TX_FRAMES {
            assert!(q.push(v, |b| Some(b.len().min(1))));
        }
        assert!(q.lend().is_none(), "full");
    }
}
