//! xvs-runtime: the daemon behind `xvs run` — pinned poll-mode workers on
//! AF_XDP sockets around the pure pipeline, the control thread (ARP/ND,
//! neighbours, announcements, VRRP, connection sync, reload, metrics), the health-check
//! thread, RCU publication of the plan, and the local control socket; its
//! log (`tracing` on stderr) and its notifications to systemd.
//!
//! Layer: runtime (uses every other crate). No `unsafe` here: the socket
//! and XDP code it drives lives in the driver crates.

pub mod announce;
pub mod api;
pub mod control;
pub mod daemon;
pub mod estimator;
pub mod export;
pub mod health;
pub mod l2;
pub mod logging;
pub mod neighbor;
pub mod preflight;
pub mod sd_notify;
pub mod shared;
pub mod sync;
pub mod vrrp;
pub mod vrrp_scripts;
pub mod vrrp_status;
pub mod worker_loop;

pub use daemon::{default_control_socket, run, RunError, RunOptions};
