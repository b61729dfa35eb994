//! Fuzz the compiled steering program (crates/xdp/bpf/steer.c), run by the
//! kernel with BPF_PROG_TEST_RUN on each input as a frame, its maps filled
//! from the fixture director's rules (every VIP, NAT real server, FullNAT
//! local address and own address of crates/testkit/src/lab.yaml, VRRP and
//! a sync port claimed). The verifier already proves the program safe;
//! this checks what it decides: the verdict is XDP_PASS (no socket is
//! registered) and exactly one counter moved, by one — a frame counted
//! twice or not at all fails.
//!
//! libFuzzer sees only this process's coverage, not the program's
//! branches, so the reason the program counted is turned into a branch
//! here: reaching a new reason is new coverage. Needs root; without it the
//! target says so once and tests nothing.
#![no_main]

use std::sync::{Mutex, OnceLock};

use libfuzzer_sys::fuzz_target;
use xvs_xdp::test_run::{SteerTestRun, MIN_FRAME, XDP_PASS};
use xvs_xdp::STEER_REASONS;

fn program() -> Option<&'static Mutex<SteerTestRun>> {
    static PROGRAM: OnceLock<Option<Mutex<SteerTestRun>>> = OnceLock::new();
    PROGRAM
        .get_or_init(|| {
            let (plan, _registry) = xvs_testkit::lab_plan(1);
            let mut rules = xvs_runtime::daemon::steer_rules(&plan);
            rules.vrrp = true;
            rules.sync_port = Some(8848);
            match SteerTestRun::load(&rules) {
                Ok(p) => Some(Mutex::new(p)),
                Err(e) => {
                    eprintln!("steer_program: cannot load the steering program ({e}); run as root");
                    None
                }
            }
        })
        .as_ref()
}

/// One function per (outcome, reason) slot: each is its own coverage
/// point, so the fuzzer keeps an input that reaches a reason none before
/// it did. (One `if` in a loop would be one edge for every reason.)
macro_rules! hit_table {
    ($($n:literal)*) => {
        const HITS: &[fn()] = &[$({
            #[inline(never)]
            fn hit() {
                std::hint::black_box($n);
            }
            hit
        }),*];
    };
}
hit_table!(0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32 33 34 35 36 37 38 39 40 41 42 43 44 45 46 47 48 49 50 51 52 53 54 55 56 57 58 59 60 61 62 63 64 65 66 67 68 69 70 71 72 73 74 75 76 77 78 79 80 81 82 83 84 85 86 87 88 89 90 91 92 93 94 95);

fn reached(outcome: usize, reason: usize) {
    if let Some(hit) = HITS.get(outcome * STEER_REASONS.len() + reason) {
        hit();
    }
}

fuzz_target!(|data: &[u8]| {
    let Some(program) = program() else {
        return;
    };
    if data.len() < MIN_FRAME {
        return;
    }
    let mut program = program.lock().unwrap_or_else(|e| e.into_inner());
    let d = program.run(data).expect("BPF_PROG_TEST_RUN");
    assert_eq!(d.verdict, XDP_PASS, "no socket is registered: {d:?}");
    assert_eq!(d.moved.len(), 1, "one counter per frame: {d:?}");
    let (outcome, reason, n) = d.moved[0];
    assert_eq!(n, 1, "counted once: {d:?}");
    let r = STEER_REASONS.iter().position(|x| *x == reason).unwrap_or(0);
    reached(outcome as usize, r);
});
