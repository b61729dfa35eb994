//! xvs health probes, sans-IO: what a check sends and how its answer is
//! judged, for every keepalived checker (HTTP/SSL, SMTP, DNS, UDP, ICMP,
//! MISC exit codes, FILE values), as pure functions and small state
//! machines over bytes. The [`spec`] module is the contract between the
//! health checker (`xvs-health`, when and what it means) and the I/O
//! engine (`xvs-prober`, sockets and processes).
//!
//! Layer: health (pure; no sockets, clocks or threads). See DESIGN.md.

pub mod dns;
pub mod http;
pub mod icmp;
pub mod smtp;
pub mod spec;
pub mod udp;

pub use http::Progress;
pub use smtp::SmtpStep;
pub use spec::*;
