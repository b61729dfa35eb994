//! The SYN proxy's pure logic (sans-IO): what a director needs to answer a
//! SYN itself, keep no state until the client's ACK proves it can receive,
//! and then splice the client's connection to one it opens to the real
//! server.
//!
//! - [`cookie`]: SYN cookies, the initial sequence number of the
//!   director's SYN-ACK, which proves on the ACK that the client saw it
//!   (the technique of RFC 4987 §3.6).
//! - [`options`]: the TCP options of a SYN, the ones a cookie carries
//!   (MSS in the cookie; window scale and SACK in the timestamp, as Linux
//!   does), and the option blocks of the segments the proxy writes.
//! - [`shift`]: the per-connection translation once both halves exist:
//!   the real server's sequence and timestamp spaces differ from those the
//!   client was given, and its window scale may too.
//!
//! The data plane (crates/dataplane) owns the frames, the connection
//! entries and the timers; nothing here allocates or keeps state.
#![deny(unsafe_code)]

pub mod cookie;
pub mod options;
pub mod shift;

pub use cookie::{Flow, SynCookies, ERA_SECS, MSS_TABLE};
pub use options::SynOptions;
pub use shift::Shift;
