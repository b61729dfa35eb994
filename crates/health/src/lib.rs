//! xvs-health: keepalived's health-checker half as sans-IO state machines
//! (REFERENCE.md §7): when each checker runs (warmup, delay_loop,
//! delay_before_retry), what a result means (retry, alpha), when a real
//! server is alive, its effective weight (misc_dynamic, FILE_CHECK, and
//! HAProxy's slowstart), a service's quorum with hysteresis and its sorry
//! server, and the notify and quorum scripts to run.
//!
//! Layer: health (depends on config and the probe contract). The
//! [`Monitor`] takes `now` and probe outcomes and returns probes to run,
//! [`Event`]s and a [`HealthView`]; [`apply`] turns a snapshot and a view
//! into the configuration the workers forward with. Sockets, processes
//! and clocks live in `xvs-prober` and the runtime.

mod checker;
mod monitor;
pub mod probes;
mod quorum;
mod rng;
pub mod slowstart;
mod status;
mod view;

use std::net::IpAddr;

pub use monitor::Monitor;
pub use probes::build_probe;
pub use status::{CheckerStatus, QuorumStatus, RealServerStatus, ServiceStatus, Status};
pub use view::{apply, server_key, service_key, HealthView, ServerView, ServiceView, MAX_WEIGHT};

/// A virtual service: protocol, VIP, port.
pub type ServiceKey = (xvs_config::Protocol, IpAddr, u16);
/// A real server within its service: RIP, port.
pub type ServerKey = (IpAddr, u16);

/// Something for the I/O layer to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A line for the daemon log: real-server transitions with their
    /// reason, quorum gained or lost, the sorry server in or out, dynamic
    /// weight changes.
    Log(String),
    /// Run this program now (notify_up/notify_down, quorum_up/quorum_down),
    /// fire and forget.
    RunScript(xvs_config::Script),
}
