//! xvs-prober: the I/O engine that runs health-check probes for the
//! director. Every probe of every kind (TCP connects, HTTP and TLS
//! exchanges, UDP and DNS datagrams, ICMP echoes, MISC_CHECK programs,
//! FILE_CHECK reads) is multiplexed on one mio event loop with one
//! deadline each; there is never a thread per check.
//!
//! Layer: driver. This crate moves bytes and time and nothing else: *when*
//! to probe and *what a result means* belong to `xvs-health`, and *what
//! to send and how to judge the answer* to the sans-IO `xvs-probe`. It is
//! one of the crates where `unsafe` is allowed, for the few system calls
//! nix does not wrap (pidfd_open, raw-socket ICMP filters, rlimits,
//! setgroups before exec); each block says why it is sound.
//!
//! ```no_run
//! use std::time::Duration;
//! use xvs_prober::{Prober, ProberConfig};
//! use xvs_probe::{Endpoint, Probe, ProbeKind};
//!
//! let mut prober = Prober::new(ProberConfig { max_in_flight: 256 })?;
//! let target = Endpoint { target: "192.0.2.10:80".parse().unwrap(), bind: None };
//! prober.start(7, Probe { timeout: Duration::from_secs(3), kind: ProbeKind::Tcp(target) });
//! let mut finished = Vec::new();
//! while finished.is_empty() {
//!     prober.poll(Some(Duration::from_secs(1)), &mut finished)?;
//! }
//! println!("probe {} {:?} in {:?}", finished[0].id, finished[0].outcome, finished[0].latency);
//! # Ok::<(), std::io::Error>(())
//! ```
#![allow(unsafe_code)]

mod child;
mod datagram;
mod engine;
mod file;
mod http;
mod icmp;
mod limits;
mod net;
mod slots;
mod smtp;
mod task;
mod tcp;
mod timers;
mod tls;

pub use engine::{Finished, Prober, ProberConfig, ProberCounters};
