//! Fuzz the whole per-packet function: the fixture director (every method,
//! both families) processes the input split into frames; nothing may
//! panic, and whatever it forwards must parse.
//!
//! The plan and the neighbour table are built once per process (building
//! them per input held the target near 500 executions per second). What an
//! input may change is reset after it, through the real teardown: every
//! entry the input made is expired by the workers' own housekeeping, which
//! must leave every real server with no connections counted against it —
//! a leak in the unbind path fails here. The table and the workers (their
//! scheduler state and local-port cursors) are made afresh, with a table of
//! 64 entries per family: cheap to make and sweep, and small enough that an
//! input can fill it and reach the full-table paths.
#![no_main]

use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use xvs_conn::ConnTable;
use xvs_dataplane::{Plan, StaticNeighbors, Verdict, Worker, WorkerCounters};

const WORKERS: usize = 2;
/// Entries per address family, over both workers' shards.
const CAPACITY: usize = 64;

/// Later than any entry an input can make expires: inputs run at
/// `now` = frame index, and the fixture's longest timeout (persistence,
/// TCP established) is minutes.
const AFTER_EVERYTHING: u32 = 10_000_000;

fn world() -> &'static (Plan, StaticNeighbors) {
    static WORLD: OnceLock<(Plan, StaticNeighbors)> = OnceLock::new();
    WORLD.get_or_init(|| {
        // A worker's fragment map and hold pool are a few hundred KB,
        // above glibc's mmap threshold: each input would map them afresh
        // and fault every page in (most of the time spent). Keep them on
        // the heap, where the next input reuses the same pages.
        // SAFETY: mallopt only changes glibc's allocator tuning for later
        // allocations; no pointer or memory is handed to it.
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, 64 << 20);
            libc::mallopt(libc::M_TRIM_THRESHOLD, 256 << 20);
        }
        let (plan, _registry) = xvs_testkit::lab_plan(WORKERS);
        (plan, xvs_testkit::lab_neighbors())
    })
}

fuzz_target!(|data: &[u8]| {
    let (plan, neighbors) = world();
    let table = Arc::new(ConnTable::new(CAPACITY, WORKERS));
    let mut workers: Vec<Worker> = (0..WORKERS)
        .map(|i| {
            let counters = Arc::new(WorkerCounters::default());
            Worker::new(i, Arc::clone(&table), counters, 0x5eed + i as u64)
        })
        .collect();
    // Frames are separated by 0xFF so one input can open a flow and then
    // exercise its established path, replies and errors.
    for (i, frame) in data.split(|b| *b == 0xFF).enumerate() {
        let w = &mut workers[i % WORKERS];
        let (v, out) = xvs_testkit::run(w, plan, neighbors, i as u32, i % WORKERS, frame);
        if let Verdict::Forward { .. } = v {
            assert!(xvs_wire::parse_frame(&out).is_ok());
        }
    }
    for w in &mut workers {
        w.housekeeping(plan, AFTER_EVERYTHING, CAPACITY);
    }
    assert_eq!(table.len(), 0, "every entry expires");
    for dest in plan.dests.iter().flatten() {
        let load = &dest.shared.load;
        assert_eq!(
            (load.activeconns(), load.inactconns(), load.persistconns()),
            (0, 0, 0),
            "real server {}:{} still counts connections after all expired",
            dest.address,
            dest.port
        );
    }
});
