//! How far this machine's TLB reaches, measured: dependent loads ("pointer
//! chasing") over `n` cache lines, once packed densely and once one line
//! per 4 KiB page, in memory backed by transparent huge pages.
//!
//! If the TLB holds 2 MiB translations, 256 lines one per 4 KiB page (1 MiB,
//! inside one or two huge pages) cost what 256 dense lines cost. If they
//! cost clearly more, the hardware caches 4 KiB translations even for the
//! process's 2 MiB pages: the memory under the guest is mapped in 4 KiB pages
//! (a hypervisor's EPT), and every lookup in a table larger than the TLB's
//! reach pays a (nested) page walk whatever the program does. bench/README.md
//! ("Machine note") and bench/HISTORY.md ("Why the 1 M table costs what it
//! does") use it to
//! explain `table_size/live_1m`.
//!
//! Run: `cargo run -p xvs-bench --release --bin tlb-reach` (pin it with
//! `taskset -c 1` for steadier figures).

use std::time::Instant;

/// Words (u64) per cache line.
const LINE: usize = 8;
/// Words per 4 KiB page plus one line, so spread lines also rotate through
/// the L1 sets instead of piling into one.
const PAGE_PLUS_LINE: usize = 512 + LINE;
/// The largest arrangement: 16,384 lines one per page ≈ 68 MB.
const WORDS: usize = 16_384 * PAGE_PLUS_LINE + LINE;
const LOADS: usize = 1 << 20;
const PASSES: usize = 7;

/// A random cyclic order of `0..n` (xorshift Fisher–Yates), so no
/// prefetcher can follow the chase.
fn shuffled(n: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    let mut s: u64 = 0x9e37_79b9_7f4a_7c15;
    for i in (1..n).rev() {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        // The remainder is ≤ i, a usize.
        let j = (s % (i as u64 + 1)) as usize;
        order.swap(i, j);
    }
    order
}

/// Fastest ns per dependent load over `n` lines `spacing` words apart.
fn chase(memory: &mut [u64], n: usize, spacing: usize) -> f64 {
    let order = shuffled(n);
    for (k, &line) in order.iter().enumerate() {
        let next = order[(k + 1) % n];
        memory[line * spacing] = (next * spacing) as u64;
    }
    let mut best = f64::MAX;
    for _ in 0..PASSES {
        let mut at = order[0] * spacing;
        let t = Instant::now();
        for _ in 0..LOADS {
            // Values are indices written above, all < memory.len().
            at = memory[at] as usize;
        }
        let ns = t.elapsed().as_nanos() as f64 / LOADS as f64;
        std::hint::black_box(at);
        best = best.min(ns);
    }
    best
}

fn anon_huge_kib() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/smaps_rollup").ok()?;
    let line = text.lines().find(|l| l.starts_with("AnonHugePages:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn main() {
    let mut memory: Vec<u64> = Vec::with_capacity(WORDS);
    let advised = xvs_hint::advise_huge_pages::<u64>(memory.spare_capacity_mut());
    // The first touch, after the advice: no reallocation, the capacity is
    // already WORDS.
    memory.resize(WORDS, 0);
    println!(
        "huge-page advice {}; AnonHugePages now {} KiB of {} KiB",
        if advised { "taken" } else { "refused" },
        anon_huge_kib().map_or_else(|| "?".to_string(), |k| k.to_string()),
        WORDS * 8 / 1024
    );
    println!(
        "{:>7}  {:>10}  {:>18}  ratio",
        "lines", "dense ns", "1 per 4 KiB ns"
    );
    for n in [256, 1024, 4096, 16_384] {
        let dense = chase(&mut memory, n, LINE);
        let spread = chase(&mut memory, n, PAGE_PLUS_LINE);
        println!(
            "{n:>7}  {dense:>10.1}  {spread:>18.1}  {:.2}",
            spread / dense
        );
    }
}
