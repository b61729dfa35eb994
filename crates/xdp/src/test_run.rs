//! [`SteerTestRun`]: the compiled steering program run by the kernel on
//! frames given to it, with no interface attached (`BPF_PROG_TEST_RUN`),
//! for fuzzing and tests that check what the program itself decides. The
//! rule maps are filled from [`SteerRules`] exactly as [`crate::Steering`]
//! fills them. Needs root (CAP_BPF, CAP_NET_ADMIN).
//!
//! With no AF_XDP socket registered, a claimed frame falls back to the
//! kernel and is counted as `no_socket`; the reason is the one a socket
//! would have received it for.

use aya::maps::{MapData, PerCpuArray};
use aya::programs::{TestRun, TestRunOptions, Xdp};
use aya::Ebpf;

use crate::attach::{self, map_error};
use crate::rules::{MapContents, SteerRules};
use crate::steer::{write_rules, SteerCounters, SteerOutcome};
use crate::{XdpError, STEER_OBJECT, STEER_PROGRAM};

/// `XDP_PASS`, the verdict of every frame when no socket is registered.
pub const XDP_PASS: u32 = 2;
/// The shortest frame `BPF_PROG_TEST_RUN` accepts (an Ethernet header).
pub const MIN_FRAME: usize = 14;

/// The steering program loaded (not attached) with rules in its maps.
pub struct SteerTestRun {
    ebpf: Ebpf,
    counters: PerCpuArray<MapData, u64>,
    before: SteerCounters,
}

impl std::fmt::Debug for SteerTestRun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SteerTestRun")
    }
}

/// What one run of the program did with a frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SteerDecision {
    /// The XDP verdict.
    pub verdict: u32,
    /// Every counter that moved, with how much: exactly one, by one, for a
    /// correct program.
    pub moved: Vec<(SteerOutcome, &'static str, u64)>,
}

impl SteerTestRun {
    /// Load the steering program and fill its maps from `rules`.
    pub fn load(rules: &SteerRules) -> Result<SteerTestRun, XdpError> {
        let mut ebpf = attach::load(STEER_OBJECT, STEER_PROGRAM)?;
        write_rules(
            &mut ebpf,
            &mut MapContents::default(),
            &MapContents::from_rules(rules)?,
        )?;
        let map = ebpf
            .take_map("counters")
            .ok_or(XdpError::Missing("counters"))?;
        let counters = PerCpuArray::try_from(map).map_err(|e| map_error("counters", e))?;
        let before = SteerCounters::read(&counters)?;
        Ok(SteerTestRun {
            ebpf,
            counters,
            before,
        })
    }

    /// Run the program once on `frame` (at least [`MIN_FRAME`] bytes: the
    /// kernel refuses shorter test input).
    pub fn run(&mut self, frame: &[u8]) -> Result<SteerDecision, XdpError> {
        let xdp: &Xdp = self
            .ebpf
            .program(STEER_PROGRAM)
            .ok_or(XdpError::Missing(STEER_PROGRAM))?
            .try_into()
            .map_err(|e| attach::program_error(STEER_PROGRAM, e))?;
        let result = xdp
            .test_run(TestRunOptions {
                data_in: Some(frame),
                ..TestRunOptions::new()
            })
            .map_err(|e| attach::program_error(STEER_PROGRAM, e))?;
        let after = SteerCounters::read(&self.counters)?;
        let moved = after
            .iter()
            .zip(self.before.iter())
            .filter(|((_, _, a), (_, _, b))| a != b)
            .map(|((o, r, a), (_, _, b))| (o, r, a.wrapping_sub(b)))
            .collect();
        self.before = after;
        Ok(SteerDecision {
            verdict: result.return_value,
            moved,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::IpAddr;

    #[test]
    fn a_frame_to_a_vip_moves_one_counter() {
        if !nix::unistd::geteuid().is_root() {
            eprintln!("SKIP a_frame_to_a_vip_moves_one_counter: loading BPF programs needs root");
            return;
        }
        let vip: IpAddr = "198.18.0.10".parse().unwrap();
        let rules = SteerRules {
            vips: vec![vip],
            ..Default::default()
        };
        let mut run = SteerTestRun::load(&rules).expect("load");
        // Ethernet + IPv4 (IHL 5) + UDP 40000 -> 53 to the VIP.
        let mut frame = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00];
        frame.extend_from_slice(&[0x45, 0, 0, 28, 0, 1, 0, 0, 64, 17, 0, 0]);
        frame.extend_from_slice(&[198, 19, 0, 7, 198, 18, 0, 10]);
        frame.extend_from_slice(&[0x9c, 0x40, 0, 53, 0, 8, 0, 0]);
        let d = run.run(&frame).expect("test run");
        assert_eq!(d.verdict, XDP_PASS, "no socket: falls back to the kernel");
        assert_eq!(d.moved, vec![(SteerOutcome::NoSocket, "to_vip", 1)]);
        // Another address is not ours, and the counts restart from the last run.
        frame[30..34].copy_from_slice(&[198, 18, 0, 99]);
        let d = run.run(&frame).expect("test run");
        assert_eq!(d.moved, vec![(SteerOutcome::Passed, "not_ours", 1)]);
    }
}
