//! xvs-cpu: CPU hints with no safe form on stable Rust, for the pure
//! crates that must not hold `unsafe` themselves (DESIGN.md "Layers": the
//! unsafe lives in thin driver crates; this one drives the CPU's cache).
//!
//! [`prefetch`] starts loading the cache line of a value without waiting
//! for it. The connection table uses it to overlap the misses of a whole
//! receive burst's lookups: with a table far larger than the caches every
//! lookup misses twice (index group, then entry slot), and paid one packet
//! at a time those two misses cost more than everything else the packet
//! needs.
//!
//! A prefetch changes no program state, never faults and reads nothing
//! into a register, so it is correct whatever the address holds; on
//! targets without a prefetch instruction here it does nothing.
#![allow(unsafe_code)]

/// Start loading the cache line that holds the start of `value` into
/// every cache level, for a read soon. A hint: no effect on behaviour.
#[inline(always)]
pub fn prefetch<T: ?Sized>(value: &T) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        let p = (value as *const T).cast::<i8>();
        // SAFETY: `p` comes from a live reference; PREFETCHT0 only hints
        // the cache, never faults and has no architectural effect.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(p) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = value;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prefetch_changes_nothing() {
        let v = vec![7u64; 64];
        for w in v.chunks(8) {
            prefetch(w);
        }
        prefetch(&v[63]);
        prefetch("str");
        assert!(v.iter().all(|&x| x == 7));
    }
}
