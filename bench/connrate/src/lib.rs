//! xvs-connrate-bench: new TCP connections per second through a director
//! on the veth lab (xvs NAT against kernel nftables DNAT and HAProxy), and
//! established throughput and new-connection success under a SYN flood.
//! The library holds the traffic ends, which the unit tests run on
//! loopback: the generator (client.rs) and the real servers (server.rs).
//! Bench layer; see bench/README.md, "New connections".
#![allow(unsafe_code)]

pub mod client;
pub mod server;
mod sys;

pub use sys::pin_to;

/// What a client sends on each short connection.
pub const REQUEST: &[u8] = b"GET / xvs-bench\n";
/// What the server answers, then it closes: 128 bytes, a small response.
pub const RESPONSE: &[u8; 128] = b"HTTP/1.0 200 OK\r\nContent-Length: 89\r\n\r\n\
xvs-connrate-bench response padded to one hundred and twenty-eight bytes, ok............\n";

#[cfg(test)]
mod tests;
