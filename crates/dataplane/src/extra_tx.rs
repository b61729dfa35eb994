//! Frames a worker sends besides the one it was handed: the second and
//! later fragments of a tunnelled IPv4 packet whose outer packet exceeds
//! the egress MTU. The kernel's tunnel transmit (ip_vs_tunnel_xmit() with
//! ip_local_out()) fragments such an outer packet when its DF is clear —
//! the inner packet's DF is clear (every fragment's is), or pmtu_disc is
//! off so DF is not copied — instead of dropping it (REFERENCE §5 MTU).
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

/// A ring of ready-to-send frames with their verdicts.
pub(crate) struct ExtraTx {
    bufs: Vec<Box<[u8]>>,
    meta: [(usize, Verdict); EXTRA_TX_FRAMES],
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
                .map(|_| vec![0u8; EXTRA_FRAME_LEN].into_boxed_slice())
                .collect(),
            meta: [(0, Verdict::Pass); EXTRA_TX_FRAMES],
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
                self.meta[i] = (n, verdict);
                self.len += 1;
                true
            }
            _ => false,
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
        let (n, verdict) = self.meta[self.head];
        out.get_mut(..n)?
            .copy_from_slice(&self.bufs[self.head][..n]);
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
}
