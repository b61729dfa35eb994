//! UDP_CHECK and DNS_CHECK: one datagram out on a connected UDP socket,
//! replies (and ICMP errors) in.
//!
//! Layer: driver. As keepalived's check_udp.c: without `require_reply`
//! the check passes unless an ICMP unreachable comes back before the
//! deadline (a reply passes at once); with it, the first reply is judged
//! by `xvs_probe::udp`. DNS_CHECK sends a query with a random ID and waits
//! for a reply `xvs_probe::dns` accepts as an answer to it.

use std::hash::{BuildHasher, Hasher};
use std::io;

use mio::net::UdpSocket;
use mio::{Interest, Registry};
use xvs_probe::{Endpoint, Outcome, UdpExpect};

use crate::net::{self, describe, icmp_error_reason, secs};
use crate::task::{Ctx, Step};
use xvs_probe::{dns, udp};

#[derive(Debug)]
enum Kind {
    Udp(UdpExpect),
    Dns { id: u16 },
}

#[derive(Debug)]
pub(crate) struct DatagramTask {
    socket: UdpSocket,
    kind: Kind,
    request: Vec<u8>,
    sent: bool,
}

/// A fresh random 16-bit value (the DNS ID must not be guessable by an
/// off-path host). std seeds every `RandomState` from the OS's random
/// source, so this needs no generator of our own.
fn random_u16() -> u16 {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u8(0);
    // Truncation intended: 16 random bits of 64.
    hasher.finish() as u16
}

impl DatagramTask {
    pub fn start_udp(
        endpoint: &Endpoint,
        payload: &[u8],
        expect: &UdpExpect,
        ctx: &Ctx<'_>,
    ) -> Result<DatagramTask, Outcome> {
        Self::start(endpoint, payload.to_vec(), Kind::Udp(expect.clone()), ctx)
    }

    pub fn start_dns(
        endpoint: &Endpoint,
        query_type: u16,
        name: &str,
        ctx: &Ctx<'_>,
    ) -> Result<DatagramTask, Outcome> {
        let id = random_u16();
        let query = dns::query(id, query_type, name).map_err(Outcome::fail)?;
        Self::start(endpoint, query, Kind::Dns { id }, ctx)
    }

    fn start(
        endpoint: &Endpoint,
        request: Vec<u8>,
        kind: Kind,
        ctx: &Ctx<'_>,
    ) -> Result<DatagramTask, Outcome> {
        let mut socket = net::udp_connect(endpoint).map_err(Outcome::fail)?;
        ctx.registry
            .register(
                &mut socket,
                ctx.token,
                Interest::READABLE | Interest::WRITABLE,
            )
            .map_err(|e| Outcome::fail(format!("epoll: {}", describe(&e))))?;
        let mut task = DatagramTask {
            socket,
            kind,
            request,
            sent: false,
        };
        // A fresh UDP socket can send at once; a failure here is final.
        if let Some(outcome) = task.send() {
            return Err(outcome);
        }
        Ok(task)
    }

    /// Sends the request if it is not out yet; `Some` when that failed.
    fn send(&mut self) -> Option<Outcome> {
        if self.sent {
            return None;
        }
        match self.socket.send(&self.request) {
            Ok(_) => {
                self.sent = true;
                None
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => None,
            Err(e) => Some(Outcome::fail(send_failure(&e))),
        }
    }

    pub fn on_ready(&mut self, ctx: &mut Ctx<'_>) -> Step {
        if let Some(outcome) = self.send() {
            return Step::Done(outcome);
        }
        loop {
            let len = match self.socket.recv(ctx.scratch) {
                Ok(len) => len,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Step::Wait,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Step::Done(Outcome::fail(icmp_error_reason(&e))),
            };
            let reply = &ctx.scratch[..len];
            match &self.kind {
                Kind::Udp(expect) if expect.require_reply => {
                    return Step::Done(udp::check_reply(expect, reply));
                }
                // keepalived: without require_reply any reply passes.
                Kind::Udp(_) => return Step::Done(Outcome::pass()),
                Kind::Dns { id } => {
                    if let Some(outcome) = dns::check_reply(*id, reply) {
                        return Step::Done(outcome);
                    }
                    // Not an answer to our query: keep waiting.
                }
            }
        }
    }

    pub fn on_deadline(&mut self, ctx: &mut Ctx<'_>) -> Step {
        if !self.sent {
            return Step::Done(Outcome::fail(format!(
                "could not send within {}",
                secs(ctx.timeout)
            )));
        }
        match &self.kind {
            // Silence is success without require_reply (keepalived's
            // udp_socket_state on THREAD_READ_TIMEOUT).
            Kind::Udp(expect) if !expect.require_reply => Step::Done(Outcome::pass()),
            Kind::Udp(_) | Kind::Dns { .. } => Step::Done(Outcome::fail(format!(
                "no reply within {}",
                secs(ctx.timeout)
            ))),
        }
    }

    pub fn close(mut self, registry: &Registry) {
        let _ = registry.deregister(&mut self.socket);
    }
}

fn send_failure(err: &io::Error) -> String {
    match icmp_error_reason(err) {
        reason if reason.starts_with("ICMP") => reason,
        _ => format!("send: {}", describe(err)),
    }
}
