//! xvs-hint: hints to the CPU and the kernel that change speed, never
//! behaviour, and have no safe form on stable Rust. The pure crates must
//! not hold `unsafe` themselves (DESIGN.md "Layers": the unsafe lives in
//! thin driver crates), so the two calls they need live here.
//!
//! - [`prefetch`] starts loading the cache line of a value without
//!   waiting for it. The connection table uses it to overlap the misses of
//!   a whole receive burst's lookups: with a table far larger than the
//!   caches every lookup misses twice (index group, then entry slot), and
//!   paid one packet at a time those misses cost more than everything else
//!   the packet needs.
//! - [`advise_huge_pages`] asks the kernel to back a large allocation with
//!   2 MiB pages (transparent huge pages in `madvise` mode, the common
//!   default). A 1 M-entry table spans ≈ 100 MB: on 4 KiB pages nearly
//!   every lookup also misses the TLB.
//!
//! Neither changes program state: a prefetch never faults and reads
//! nothing into a register; the advice only changes how the kernel maps
//! memory the caller already owns, and is ignored where unsupported.
#![allow(unsafe_code)]

use std::mem::MaybeUninit;

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

/// Ask the kernel to back the whole pages inside `memory` with huge pages
/// (`madvise(MADV_HUGEPAGE)`). Call it on memory not yet written — a
/// `Vec`'s spare capacity, say — so the first touch faults huge pages in
/// directly instead of waiting for khugepaged. Returns whether the kernel
/// took the advice; false (nothing done) for a range smaller than a page,
/// where transparent huge pages are off or unsupported, and off Linux.
pub fn advise_huge_pages<T>(memory: &mut [MaybeUninit<T>]) -> bool {
    #[cfg(target_os = "linux")]
    {
        const PAGE: usize = 4096;
        let start = memory.as_mut_ptr() as usize;
        let end = start + std::mem::size_of_val(memory);
        let first = start.next_multiple_of(PAGE);
        let last = end - end % PAGE;
        if last <= first {
            return false;
        }
        // SAFETY: [first, last) lies inside `memory`, which the caller
        // holds exclusively; MADV_HUGEPAGE changes only how the kernel
        // backs those pages, never their contents or validity.
        let rc = unsafe {
            libc::madvise(
                first as *mut libc::c_void,
                last - first,
                libc::MADV_HUGEPAGE,
            )
        };
        rc == 0
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = memory;
        false
    }
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

    #[test]
    fn advice_covers_whole_pages_only() {
        let mut small: Vec<u64> = Vec::with_capacity(16);
        assert!(!advise_huge_pages(small.spare_capacity_mut()));
        // 8 MiB: whole pages inside. The kernel may still refuse (THP
        // "never", or a kernel without it), so only a refusal's cause is
        // checked; either way the memory stays usable.
        let mut big: Vec<u64> = Vec::with_capacity(1 << 20);
        let took = advise_huge_pages(big.spare_capacity_mut());
        let thp = std::fs::read_to_string("/sys/kernel/mm/transparent_hugepage/enabled")
            .unwrap_or_default();
        if thp.contains("[madvise]") || thp.contains("[always]") {
            assert!(took, "THP is on ({}), madvise refused", thp.trim());
        }
        big.extend((0..1u64 << 20).map(|i| i * 3));
        assert_eq!(big[12345], 12345 * 3);
    }
}
