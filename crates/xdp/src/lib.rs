//! xvs-xdp: the two XDP programs xvs puts in the kernel, and their loader.
//!
//! - [`Steering`] attaches `bpf/steer.c` to an interface the director
//!   forwards on. It redirects to the receiving queue's AF_XDP socket only
//!   what xvs owns (VIP and local-address traffic, ARP/ND for them, NAT
//!   replies, VRRP, sync) and passes everything else to the kernel, so the
//!   director's own SSH and health checks keep working. It counts every
//!   frame once, by outcome and reason ([`SteerCounters`]).
//! - [`Decap`] attaches `bpf/decap.c` on a TUN-mode real server (`xvs
//!   decap`): it strips the outer IPIP / IPv6 header of packets for a VIP,
//!   since this kernel has no tunnel modules.
//!
//! Layer: driver. The C programs are compiled from source by build.rs and
//! embedded; [aya] loads them and attaches through BPF links, so the
//! kernel detaches a program by itself when the process that attached it
//! dies — a crash leaves nothing behind. What a restart can still find is
//! a program attached the legacy netlink way (by aya's fallback on old
//! kernels, or by a tool). Before attaching, xvs lists the interface's XDP
//! programs over rtnetlink and decides per program:
//! - its kernel name is one of [`OUR_PROGRAMS`] and no live BPF link holds
//!   it: a leftover, detached by identity (`XDP_FLAGS_REPLACE` with it as
//!   the expected program, so nothing attached meanwhile is removed);
//! - one of ours held by a BPF link: a running xvs owns the interface,
//!   refused with [`XdpError::Busy`];
//! - anything else: refused with [`XdpError::ForeignProgram`].
//!
//! No `unsafe` here: aya and nix wrap the system calls.
//!
//! The pure parts — rule encoding and diffing ([`rules`]), rtnetlink
//! message coding ([`netlink`]) — are unit tested; the programs themselves
//! are tested on golden frames through `BPF_PROG_TEST_RUN` (root) and end to
//! end in network namespaces (tests/).

mod attach;
mod decap;
pub mod netlink;
pub mod rules;
mod steer;
pub mod test_run;

#[cfg(test)]
mod golden;

pub use attach::{XdpError, OUR_PROGRAMS};
pub use decap::{Decap, DecapCounters};
pub use rules::SteerRules;
pub use steer::{
    SteerCounterReader, SteerCounters, SteerOutcome, Steering, REASONS as STEER_REASONS,
};

/// How an XDP program is attached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AttachMode {
    /// Driver (native) mode: runs before an skb is allocated. veth supports
    /// it; AF_XDP then works in copy mode on veth.
    Native,
    /// Generic (skb) mode: works on every device, slower.
    Generic,
}

impl From<AttachMode> for aya::programs::XdpMode {
    fn from(mode: AttachMode) -> Self {
        match mode {
            AttachMode::Native => aya::programs::XdpMode::Driver,
            AttachMode::Generic => aya::programs::XdpMode::Skb,
        }
    }
}

/// The compiled steering program (ELF, BPF target), for tools that want
/// to inspect or load it themselves.
pub static STEER_OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/steer.o"));

/// The compiled decap program (see [`STEER_OBJECT`]).
pub static DECAP_OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/decap.o"));

/// Name of the steering program in [`STEER_OBJECT`] (also its kernel name).
pub const STEER_PROGRAM: &str = "xvs_steer";
/// Name of the decap program in [`DECAP_OBJECT`] (also its kernel name).
pub const DECAP_PROGRAM: &str = "xvs_decap";
