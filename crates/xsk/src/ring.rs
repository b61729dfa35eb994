//! The four AF_XDP rings (RX, TX, fill, completion) are single-producer /
//! single-consumer queues shared with the kernel: a power-of-two array of
//! descriptors plus a producer and a consumer index that only ever grow
//! (wrapping u32). One side writes descriptors then publishes its index
//! with a release store; the other reads the index with an acquire load
//! before touching descriptors (Documentation/networking/af_xdp.rst,
//! "Rings"). Each side caches the other's index and re-reads it only when
//! the cached view says the ring is full / empty, so a burst costs one
//! atomic load and one store.
//!
//! [`Ring`] holds raw pointers into memory owned elsewhere: the kernel's
//! mmap'd ring for a socket, or a heap array in the tests — the same code
//! runs in both, so the model tests exercise the real index arithmetic.

use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, Ordering};

/// One side of a ring. `T` is `xdp_desc` (RX/TX) or `u64` (fill/completion).
#[derive(Debug)]
pub struct Ring<T: Copy> {
    producer: NonNull<AtomicU32>,
    consumer: NonNull<AtomicU32>,
    flags: Option<NonNull<AtomicU32>>,
    descs: NonNull<T>,
    size: u32,
    mask: u32,
    /// Our own index (producer index if we produce, consumer if we consume).
    local: u32,
    /// Last seen value of the other side's index.
    cached_other: u32,
}

// SAFETY: a Ring is moved to the worker thread that owns the socket and
// used only there; the memory it points to (mmap'd ring or the test's heap
// array) lives as long as the owner that created the Ring keeps it, which
// the socket/test guarantees by keeping both together.
unsafe impl<T: Copy> Send for Ring<T> {}

impl<T: Copy> Ring<T> {
    /// # Safety
    /// `producer`, `consumer`, `flags` (if any) and `descs[..size]` must be
    /// valid, properly aligned and outlive the ring; `size` a power of two.
    /// `producing` says which index is ours.
    pub(crate) unsafe fn new(
        producer: NonNull<AtomicU32>,
        consumer: NonNull<AtomicU32>,
        flags: Option<NonNull<AtomicU32>>,
        descs: NonNull<T>,
        size: u32,
        producing: bool,
    ) -> Ring<T> {
        debug_assert!(size.is_power_of_two());
        // SAFETY: the caller guarantees both pointers are valid.
        let (p, c) = unsafe { (producer.as_ref(), consumer.as_ref()) };
        let (local, cached_other) = if producing {
            // The producer may fill `size` slots past the consumer.
            (
                p.load(Ordering::Relaxed),
                c.load(Ordering::Acquire).wrapping_add(size),
            )
        } else {
            (c.load(Ordering::Relaxed), p.load(Ordering::Acquire))
        };
        Ring {
            producer,
            consumer,
            flags,
            descs,
            size,
            mask: size - 1,
            local,
            cached_other,
        }
    }

    pub fn size(&self) -> u32 {
        self.size
    }

    fn producer(&self) -> &AtomicU32 {
        // SAFETY: valid for the ring's life (constructor contract).
        unsafe { self.producer.as_ref() }
    }

    fn consumer(&self) -> &AtomicU32 {
        // SAFETY: valid for the ring's life (constructor contract).
        unsafe { self.consumer.as_ref() }
    }

    fn slot(&self, idx: u32) -> *mut T {
        // SAFETY: `idx & mask` < size, inside the descriptor array.
        unsafe { self.descs.as_ptr().add((idx & self.mask) as usize) }
    }

    /// True when the kernel asked to be woken (XDP_RING_NEED_WAKEUP).
    pub fn needs_wakeup(&self) -> bool {
        self.flags.is_some_and(|f| {
            // SAFETY: valid for the ring's life (constructor contract).
            unsafe { f.as_ref() }.load(Ordering::Relaxed) & libc::XDP_RING_NEED_WAKEUP != 0
        })
    }

    // ---- producer side ----

    /// Free slots, refreshing the consumer index only if fewer than `want`
    /// are known free. `cached_other` holds consumer + size.
    pub fn free(&mut self, want: u32) -> u32 {
        let free = self.cached_other.wrapping_sub(self.local);
        if free >= want {
            return free;
        }
        self.cached_other = self
            .consumer()
            .load(Ordering::Acquire)
            .wrapping_add(self.size);
        self.cached_other.wrapping_sub(self.local)
    }

    /// Write up to `items.len()` descriptors and publish them; returns how
    /// many were written.
    pub fn produce(&mut self, items: &[T]) -> usize {
        let n = self.free(items.len() as u32).min(items.len() as u32);
        for (i, item) in items[..n as usize].iter().enumerate() {
            // SAFETY: slots local..local+n are free (owned by us until we
            // publish), and `slot` stays inside the array.
            unsafe { self.slot(self.local.wrapping_add(i as u32)).write(*item) };
        }
        if n > 0 {
            self.local = self.local.wrapping_add(n);
            // Release: descriptors are visible before the new index.
            self.producer().store(self.local, Ordering::Release);
        }
        n as usize
    }

    // ---- consumer side ----

    /// Entries ready to consume, refreshing the producer index only if
    /// fewer than `want` are known.
    pub fn available(&mut self, want: u32) -> u32 {
        let avail = self.cached_other.wrapping_sub(self.local);
        if avail >= want {
            return avail;
        }
        self.cached_other = self.producer().load(Ordering::Acquire);
        self.cached_other.wrapping_sub(self.local)
    }

    /// Read up to `out.len()` entries and release their slots.
    pub fn consume(&mut self, out: &mut [T]) -> usize {
        let n = self.available(out.len() as u32).min(out.len() as u32);
        for (i, o) in out[..n as usize].iter_mut().enumerate() {
            // SAFETY: slots local..local+n were published by the producer
            // (acquire above) and are ours until we release them.
            *o = unsafe { self.slot(self.local.wrapping_add(i as u32)).read() };
        }
        if n > 0 {
            self.local = self.local.wrapping_add(n);
            // Release: our reads complete before the producer may reuse slots.
            self.consumer().store(self.local, Ordering::Release);
        }
        n as usize
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::VecDeque;

    /// Heap memory laid out like a kernel ring, for tests.
    pub(crate) struct TestRing {
        pub prod: Box<AtomicU32>,
        pub cons: Box<AtomicU32>,
        pub flags: Box<AtomicU32>,
        pub descs: Vec<u64>,
    }

    impl TestRing {
        pub fn new(size: u32, start: u32) -> TestRing {
            TestRing {
                prod: Box::new(AtomicU32::new(start)),
                cons: Box::new(AtomicU32::new(start)),
                flags: Box::new(AtomicU32::new(0)),
                descs: vec![0; size as usize],
            }
        }

        pub fn sides(&mut self) -> (Ring<u64>, Ring<u64>) {
            let size = self.descs.len() as u32;
            let p = NonNull::from(&*self.prod);
            let c = NonNull::from(&*self.cons);
            let f = NonNull::from(&*self.flags);
            let d = NonNull::new(self.descs.as_mut_ptr()).unwrap();
            // SAFETY: the boxes and the vector outlive the rings in each test.
            unsafe {
                (
                    Ring::new(p, c, Some(f), d, size, true),
                    Ring::new(p, c, Some(f), d, size, false),
                )
            }
        }
    }

    #[test]
    fn fills_to_capacity_then_refuses() {
        let mut mem = TestRing::new(4, 0);
        let (mut tx, mut rx) = mem.sides();
        assert_eq!(tx.produce(&[1, 2, 3, 4, 5]), 4);
        assert_eq!(tx.produce(&[6]), 0);
        let mut out = [0u64; 3];
        assert_eq!(rx.consume(&mut out), 3);
        assert_eq!(out, [1, 2, 3]);
        assert_eq!(tx.produce(&[6, 7, 8, 9]), 3);
        let mut out = [0u64; 8];
        assert_eq!(rx.consume(&mut out), 4);
        assert_eq!(&out[..4], &[4, 6, 7, 8]);
    }

    #[test]
    fn need_wakeup_flag_is_read() {
        let mut mem = TestRing::new(4, 0);
        let (tx, _) = mem.sides();
        assert!(!tx.needs_wakeup());
        mem.flags
            .store(libc::XDP_RING_NEED_WAKEUP, Ordering::Relaxed);
        assert!(tx.needs_wakeup());
    }

    proptest! {
        /// The ring behaves as a bounded FIFO, including across the u32
        /// wrap of its indices.
        #[test]
        fn matches_a_bounded_fifo(
            log2 in 0u32..5,
            start in prop_oneof![Just(0u32), Just(u32::MAX - 7), any::<u32>()],
            ops in prop::collection::vec((any::<bool>(), 0usize..10), 1..200),
        ) {
            let size = 1u32 << log2;
            let mut mem = TestRing::new(size, start);
            let (mut tx, mut rx) = mem.sides();
            let mut model = VecDeque::new();
            let mut next = 0u64;
            for (produce, n) in ops {
                if produce {
                    let items: Vec<u64> = (0..n as u64).map(|i| next + i).collect();
                    let done = tx.produce(&items);
                    let expect = n.min(size as usize - model.len());
                    prop_assert_eq!(done, expect);
                    model.extend(items[..done].iter().copied());
                    next += done as u64;
                } else {
                    let mut out = vec![0u64; n];
                    let done = rx.consume(&mut out);
                    prop_assert_eq!(done, n.min(model.len()));
                    for o in &out[..done] {
                        prop_assert_eq!(Some(*o), model.pop_front());
                    }
                }
            }
        }
    }
}
