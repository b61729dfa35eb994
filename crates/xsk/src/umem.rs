//! UMEM: the packet memory shared with the kernel — one anonymous mmap
//! split into equal frames (chunks). A frame is identified by its offset
//! ("address") in the area; the kernel writes received packets into frames
//! we put on a fill ring and reads the frames we put on a TX ring. While a
//! frame is on a ring it belongs to the kernel; the [`FramePool`] tracks
//! the ones that belong to us.

use std::io;
use std::ptr::NonNull;

/// Packet memory for one worker, registered with the first socket bound on
/// it and shared by all that worker's sockets (XDP_SHARED_UMEM), so a frame
/// received on one interface can be transmitted on another without a copy.
#[derive(Debug)]
pub struct Umem {
    area: NonNull<u8>,
    len: usize,
    frame_size: u32,
    frames: u32,
}

// SAFETY: the area is plain memory owned by this value; moving it between
// threads is fine. It is not Sync: frames are handed out as &mut slices
// through `&mut self`, so only the owning thread touches them.
unsafe impl Send for Umem {}

impl Umem {
    /// Map `frames` frames of `frame_size` bytes (a power of two, 2048 or
    /// 4096 as the kernel requires for aligned chunks).
    pub fn new(frames: u32, frame_size: u32) -> io::Result<Umem> {
        if !(frame_size == 2048 || frame_size == 4096) || frames == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("UMEM: frame size must be 2048 or 4096 and frames > 0 (got {frame_size} × {frames})"),
            ));
        }
        let len = frames as usize * frame_size as usize;
        // SAFETY: anonymous private mapping of `len` bytes; the result is
        // checked for MAP_FAILED below and unmapped in Drop.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_POPULATE,
                -1,
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let area =
            NonNull::new(ptr.cast::<u8>()).ok_or_else(|| io::Error::other("mmap returned null"))?;
        Ok(Umem {
            area,
            len,
            frame_size,
            frames,
        })
    }

    pub fn frame_size(&self) -> u32 {
        self.frame_size
    }

    pub fn frames(&self) -> u32 {
        self.frames
    }

    pub(crate) fn area(&self) -> (*mut u8, usize) {
        (self.area.as_ptr(), self.len)
    }

    /// Base address (offset) of the frame containing `addr`.
    #[inline]
    pub fn chunk_of(&self, addr: u64) -> u64 {
        addr & !(u64::from(self.frame_size) - 1)
    }

    /// The `len` bytes at `addr`, for reading a received frame (an
    /// address from the RX ring: userspace owns that frame until it goes
    /// back on the fill or TX ring); `None` unless they lie inside one
    /// frame of the area.
    #[inline]
    pub fn bytes(&self, addr: u64, len: usize) -> Option<&[u8]> {
        let chunk = self.chunk_of(addr);
        if chunk >= self.len as u64 {
            return None;
        }
        let off = (addr - chunk) as usize;
        if off.checked_add(len)? > self.frame_size as usize {
            return None;
        }
        // SAFETY: addr + len lies inside one frame, inside the mapping, and
        // `&self` rules out a live `frame_mut` slice. Like `frame_mut`, it
        // relies on the caller passing a frame userspace owns, which the
        // kernel does not write; the bytes are plain `u8`s either way.
        Some(unsafe { std::slice::from_raw_parts(self.area.as_ptr().add(addr as usize), len) })
    }

    /// The whole frame containing `addr`, and `addr`'s offset inside it.
    /// `None` for an address outside the area (a kernel descriptor we do
    /// not trust blindly).
    #[inline]
    pub fn frame_mut(&mut self, addr: u64) -> Option<(&mut [u8], usize)> {
        let chunk = self.chunk_of(addr);
        if chunk >= self.len as u64 {
            return None;
        }
        let off = (addr - chunk) as usize;
        // SAFETY: chunk + frame_size <= len (chunk < len and len is a
        // multiple of frame_size); `&mut self` makes this the only live
        // slice into the area.
        let slice = unsafe {
            std::slice::from_raw_parts_mut(
                self.area.as_ptr().add(chunk as usize),
                self.frame_size as usize,
            )
        };
        Some((slice, off))
    }

    /// Ask the CPU to start loading the cache line at `addr` (and the next
    /// one, where a frame's headers may continue). Received frames were
    /// written by the kernel on whichever core ran the receive path, so the
    /// first read of each is a cache miss; issuing the loads for a whole RX
    /// burst before processing it overlaps those misses instead of paying
    /// them one packet at a time. An address outside the area is ignored.
    #[inline]
    pub fn prefetch(&self, addr: u64) {
        if addr >= self.len as u64 {
            return;
        }
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
            // SAFETY: `addr < len`, so the pointer is inside the mapping
            // (and `addr + 64` at most one line past a frame's data, still
            // inside the area or harmlessly past it: a prefetch never
            // faults and reads nothing into the program's state).
            unsafe {
                let p = self.area.as_ptr().add(addr as usize).cast::<i8>();
                _mm_prefetch::<_MM_HINT_T0>(p);
                _mm_prefetch::<_MM_HINT_T0>(p.wrapping_add(64));
            }
        }
    }
}

impl Drop for Umem {
    fn drop(&mut self) {
        // SAFETY: unmapping exactly the mapping made in `new`; sockets that
        // registered it are closed first (the owner drops them before the UMEM).
        unsafe { libc::munmap(self.area.as_ptr().cast(), self.len) };
    }
}

/// The frames that currently belong to userspace (a LIFO of frame base
/// addresses: reusing the most recently freed frame is cache-friendly).
#[derive(Debug)]
pub struct FramePool {
    free: Vec<u64>,
}

impl FramePool {
    /// All frames of `umem` start free.
    pub fn new(umem: &Umem) -> FramePool {
        let fs = u64::from(umem.frame_size());
        FramePool {
            free: (0..u64::from(umem.frames()))
                .rev()
                .map(|i| i * fs)
                .collect(),
        }
    }

    pub fn len(&self) -> usize {
        self.free.len()
    }

    pub fn is_empty(&self) -> bool {
        self.free.is_empty()
    }

    pub fn alloc(&mut self) -> Option<u64> {
        self.free.pop()
    }

    /// Return a frame (any address inside it).
    pub fn free(&mut self, chunk: u64) {
        self.free.push(chunk);
    }

    /// Take up to `n` frames into `out` (cleared first).
    pub fn take(&mut self, n: usize, out: &mut Vec<u64>) {
        out.clear();
        let k = n.min(self.free.len());
        out.extend(self.free.drain(self.free.len() - k..));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_addressed_by_chunk() {
        let mut u = Umem::new(4, 2048).unwrap();
        assert_eq!(u.chunk_of(2048 + 300), 2048);
        let (f, off) = u.frame_mut(2048 + 300).unwrap();
        assert_eq!((f.len(), off), (2048, 300));
        f[0] = 7;
        f[301] = 9;
        assert!(u.frame_mut(4 * 2048).is_none());
        // Reading: inside one frame only.
        assert_eq!(u.bytes(2048 + 300, 2), Some(&[0u8, 9][..]));
        assert_eq!(u.bytes(2048, 1), Some(&[7u8][..]));
        assert_eq!(u.bytes(2048 + 300, 1748).map(<[u8]>::len), Some(1748));
        assert!(u.bytes(2048 + 300, 1749).is_none());
        assert!(u.bytes(4 * 2048, 1).is_none());
        assert!(u.bytes(u64::MAX, 1).is_none());
        assert!(Umem::new(4, 1000).is_err());
    }

    #[test]
    fn pool_hands_out_every_frame_once() {
        let u = Umem::new(8, 4096).unwrap();
        let mut p = FramePool::new(&u);
        let mut got = Vec::new();
        while let Some(a) = p.alloc() {
            got.push(a);
        }
        got.sort_unstable();
        assert_eq!(got, (0..8).map(|i| i * 4096).collect::<Vec<_>>());
        p.free(4096);
        let mut out = Vec::new();
        p.take(5, &mut out);
        assert_eq!(out, vec![4096]);
    }
}
