//! xvs-pktgen: a pktgen/TRex-like traffic generator on AF_XDP for the veth
//! lab (DESIGN.md "Performance"). It sends fixed-size Ethernet/IPv4 UDP
//! datagrams (or TCP SYNs) to one destination from many flows, flat out or
//! at a set rate, for a set time, and reports what it sent and — counted
//! at the receiving end, as ENVIRONMENT.md "Measuring throughput on veth"
//! asks — what arrived.
//!
//! Layer: benchmark tool. This library holds the pure parts, each tested
//! beside its code: frame templates and their per-flow patching
//! ([`frame`]), the flow range ([`flows`]), rate pacing ([`pacer`]), the
//! parsers behind destination-MAC resolution ([`neigh`]) and CPU
//! accounting ([`cpu`]), and the JSON report ([`report`]). The sockets,
//! clock and counters live in the `xvs-pktgen` binary.

pub mod cpu;
pub mod flows;
pub mod frame;
pub mod neigh;
pub mod pacer;
pub mod report;

pub use flows::{FlowError, FlowSet};
pub use frame::{retarget, Flow, FrameError, FrameSpec, L4};
pub use pacer::Pacer;
pub use report::JsonObject;
