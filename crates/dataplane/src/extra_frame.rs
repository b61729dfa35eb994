//! A second frame that one received frame makes the pipeline send.
//!
//! Almost every frame is rewritten in place into at most one frame. The
//! SYN proxy is the exception: the real server's SYN-ACK becomes both the
//! ACK that completes the server's handshake and the window update that
//! lets the client, held at a zero window until then, send its request
//! (the order of Linux's SYNPROXY target). The second frame is built here,
//! fully rewritten and with its verdict, and the driver takes it right
//! after acting on the first ([`crate::Worker::take_extra_frame`]).
//!
//! Layer: dataplane. One slot per worker: the pipeline makes at most one
//! extra frame per received frame, and the driver takes it before the next.

use crate::verdict::Verdict;

/// Room in front of the extra frame (as a received frame has, should a
/// rewrite need to grow it at the front).
pub(crate) const EXTRA_HEADROOM: usize = 64;
/// The extra frame's buffer: headroom and a TCP segment without payload
/// (Ethernet, VLAN tags, IPv6 with extension headers, 60-byte TCP header).
pub(crate) const EXTRA_LEN: usize = EXTRA_HEADROOM + 448;

/// The slot.
#[derive(Debug)]
pub(crate) struct ExtraFrame {
    pub(crate) buf: Box<[u8]>,
    /// Where the frame is in `buf`, its length and its verdict.
    pub(crate) ready: Option<(usize, usize, Verdict)>,
}

impl ExtraFrame {
    pub(crate) fn new() -> ExtraFrame {
        ExtraFrame {
            buf: vec![0; EXTRA_LEN].into_boxed_slice(),
            ready: None,
        }
    }

    /// Copy the waiting frame to the start of `out`: its length and
    /// verdict. The slot is empty afterwards, also when `out` is too short
    /// (the frame is then lost, as a full TX ring loses one).
    pub(crate) fn take(&mut self, out: &mut [u8]) -> Option<(usize, Verdict)> {
        let (start, len, verdict) = self.ready.take()?;
        let src = self.buf.get(start..start + len)?;
        out.get_mut(..len)?.copy_from_slice(src);
        Some((len, verdict))
    }
}
