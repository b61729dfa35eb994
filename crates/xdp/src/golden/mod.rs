//! Golden-frame tests of the compiled XDP programs: the real objects are
//! loaded into the kernel and run with `BPF_PROG_TEST_RUN` on hand-built
//! frames; each case checks the verdict, which counter moved and, for
//! decap, the exact output frame (the Katran-style fixture: input frame,
//! expected verdict, expected output frame).
//!
//! Loading BPF needs root: without it every test here says SKIP on stderr
//! and returns (CI runs as root, so there they run).

mod decap;
mod steer;

use aya::programs::{TestRun, TestRunOptions, Xdp};
use aya::Ebpf;

use crate::attach::load;

pub const XDP_PASS: u32 = 2;

/// Loads `object`, or reports why this test is skipped.
pub fn load_or_skip(test: &str, object: &[u8], program: &'static str) -> Option<Ebpf> {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("SKIP {test}: loading BPF programs needs root");
        return None;
    }
    match load(object, program) {
        Ok(ebpf) => Some(ebpf),
        Err(e) if e.is_permission_denied() => {
            eprintln!("SKIP {test}: the kernel refused to load BPF: {e}");
            None
        }
        Err(e) => panic!("{test}: loading {program}: {e}"),
    }
}

/// Runs `program` once on `frame`: (verdict, output frame).
pub fn run(ebpf: &Ebpf, program: &str, frame: &[u8]) -> (u32, Vec<u8>) {
    let xdp: &Xdp = ebpf
        .program(program)
        .expect("program is in the object")
        .try_into()
        .expect("program is XDP");
    let mut out = vec![0u8; 4096];
    let result = xdp
        .test_run(TestRunOptions {
            data_in: Some(frame),
            data_out: Some(&mut out),
            ..TestRunOptions::new()
        })
        .expect("BPF_PROG_TEST_RUN");
    out.truncate(result.data_size_out as usize);
    (result.return_value, out)
}

pub const CLIENT_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];
pub const DIRECTOR_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x02];
