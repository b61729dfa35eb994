//! The buffer a frame is processed in: a frame inside a larger buffer with
//! headroom in front (for the IPIP header TUN adds) and room behind (for an
//! ICMP error that replaces the frame). AF_XDP UMEM frames have exactly this
//! shape: a chunk, the packet at some offset within it.

/// A frame at `buf[start..start + len]`.
#[derive(Debug)]
pub struct FrameBuf<'a> {
    buf: &'a mut [u8],
    start: usize,
    len: usize,
}

impl<'a> FrameBuf<'a> {
    /// `None` when `start + len` does not fit in `buf`.
    #[inline]
    pub fn new(buf: &'a mut [u8], start: usize, len: usize) -> Option<FrameBuf<'a>> {
        (start.checked_add(len)? <= buf.len()).then_some(FrameBuf { buf, start, len })
    }

    /// The frame bytes.
    #[inline]
    pub fn frame(&self) -> &[u8] {
        &self.buf[self.start..self.start + self.len]
    }

    #[inline]
    pub fn frame_mut(&mut self) -> &mut [u8] {
        &mut self.buf[self.start..self.start + self.len]
    }

    /// Offset of the frame in the buffer (the headroom in front of it).
    #[inline]
    pub fn start(&self) -> usize {
        self.start
    }

    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The whole buffer, for builders that work across the frame boundary.
    #[inline]
    pub(crate) fn buffer_mut(&mut self) -> &mut [u8] {
        self.buf
    }

    pub(crate) fn capacity(&self) -> usize {
        self.buf.len()
    }

    /// Make `buf[start..start + len]` the frame (bounds checked by callers
    /// against `capacity`; out-of-range values are clamped so this never panics).
    #[inline]
    pub(crate) fn set_bounds(&mut self, start: usize, len: usize) {
        let start = start.min(self.buf.len());
        self.start = start;
        self.len = len.min(self.buf.len() - start);
    }
}
