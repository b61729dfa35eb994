//! HTTP_GET and SSL_GET: each URL on its own connection, one after the
//! other, each with the probe's full timeout; the first failing URL fails
//! the probe.
//!
//! Layer: driver. The bytes are the pure crate's: the request from
//! `xvs_probe::http::request_bytes`, and everything read goes to a
//! `ResponseCheck` until it has a verdict (or the peer closes, and
//! `finish` judges what came). TLS is a rustls `ClientConnection` driven
//! with `read_tls`/`write_tls` over the non-blocking socket.

use std::io::{self, Read, Write};
use std::sync::Arc;

use mio::net::TcpStream;
use mio::Registry;
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection};
use xvs_probe::http::{request_bytes, ResponseCheck};
use xvs_probe::{Endpoint, HttpRequest, Outcome, Progress, TlsParams};

use crate::net::{self, describe, secs};
use crate::task::{Ctx, Step};
use crate::tcp::register_stream;
use crate::tls::{server_name, TlsContext};

#[derive(Debug)]
pub(crate) struct HttpTask {
    endpoint: Endpoint,
    requests: Vec<HttpRequest>,
    /// The request on the current connection.
    current: usize,
    tls: Option<(Arc<ClientConfig>, ServerName<'static>)>,
    conn: Option<Exchange>,
}

/// One request's connection.
#[derive(Debug)]
struct Exchange {
    stream: TcpStream,
    connected: bool,
    tls: Option<ClientConnection>,
    request: Vec<u8>,
    /// Plain: bytes of `request` written. TLS: 0 until handed to rustls.
    written: usize,
    check: Option<ResponseCheck>,
}

/// A drive of the exchange: `Ok(None)` wait for more, `Ok(Some)` the
/// response's verdict, `Err` the connection failed (a reason).
type Drive = Result<Option<Outcome>, String>;

impl HttpTask {
    pub fn start(
        endpoint: &Endpoint,
        tls: Option<&TlsParams>,
        requests: &[HttpRequest],
        tls_context: &mut TlsContext,
        ctx: &Ctx<'_>,
    ) -> Result<Box<HttpTask>, Outcome> {
        if requests.is_empty() {
            return Err(Outcome::fail("no URL to check"));
        }
        let tls = match tls {
            Some(params) => {
                let config = tls_context.client_config(params).map_err(Outcome::fail)?;
                let name = server_name(params, endpoint.target.ip()).map_err(Outcome::fail)?;
                Some((config, name))
            }
            None => None,
        };
        let mut task = Box::new(HttpTask {
            endpoint: *endpoint,
            requests: requests.to_vec(),
            current: 0,
            tls,
            conn: None,
        });
        task.open(ctx).map_err(|reason| task.failed(reason))?;
        Ok(task)
    }

    fn open(&mut self, ctx: &Ctx<'_>) -> Result<(), String> {
        let request = &self.requests[self.current];
        let stream = register_stream(&self.endpoint, ctx)?;
        self.conn = Some(Exchange {
            stream,
            connected: false,
            tls: None,
            request: request_bytes(request),
            written: 0,
            check: Some(ResponseCheck::new(request)),
        });
        Ok(())
    }

    /// A failure of the current request; with several URLs the reason
    /// says which one.
    fn failed(&self, reason: String) -> Outcome {
        if self.requests.len() > 1 {
            Outcome::fail(format!(
                "GET {}: {reason}",
                self.requests[self.current].path
            ))
        } else {
            Outcome::fail(reason)
        }
    }

    pub fn on_ready(&mut self, ctx: &mut Ctx<'_>) -> Step {
        let Some(conn) = self.conn.as_mut() else {
            return Step::Wait;
        };
        let verdict = match conn.drive(&self.tls, ctx.scratch) {
            Ok(None) => return Step::Wait,
            Ok(Some(outcome)) => outcome,
            Err(reason) => return Step::Done(self.failed(reason)),
        };
        if let Some(conn) = self.conn.take() {
            conn.close(ctx.registry, self.endpoint_has_fixed_port());
        }
        match verdict {
            Outcome::Fail { reason } => Step::Done(self.failed(reason)),
            Outcome::Pass { .. } if self.current + 1 == self.requests.len() => {
                Step::Done(Outcome::pass())
            }
            Outcome::Pass { .. } => {
                self.current += 1;
                match self.open(ctx) {
                    Ok(()) => Step::WaitUntil(ctx.now + ctx.timeout),
                    Err(reason) => Step::Done(self.failed(reason)),
                }
            }
        }
    }

    pub fn on_deadline(&mut self, ctx: &mut Ctx<'_>) -> Step {
        let after = secs(ctx.timeout);
        let reason = match &self.conn {
            Some(conn) if !conn.connected => format!("connect timeout after {after}"),
            Some(Exchange { tls: Some(tls), .. }) if tls.is_handshaking() => {
                format!("TLS handshake timeout after {after}")
            }
            _ => format!("no complete HTTP response within {after}"),
        };
        Step::Done(self.failed(reason))
    }

    fn endpoint_has_fixed_port(&self) -> bool {
        self.endpoint.bind.is_some_and(|b| b.port() != 0)
    }

    pub fn close(mut self: Box<Self>, registry: &Registry) {
        let fixed_port = self.endpoint_has_fixed_port();
        if let Some(conn) = self.conn.take() {
            conn.close(registry, fixed_port);
        }
    }
}

impl Exchange {
    fn drive(
        &mut self,
        tls: &Option<(Arc<ClientConfig>, ServerName<'static>)>,
        buf: &mut [u8],
    ) -> Drive {
        if !self.connected {
            if !net::connect_result(&self.stream)? {
                return Ok(None);
            }
            self.connected = true;
            if let Some((config, name)) = tls {
                let conn = ClientConnection::new(config.clone(), name.clone())
                    .map_err(|e| format!("TLS: {e}"))?;
                self.tls = Some(conn);
            }
        }
        if self.tls.is_some() {
            self.drive_tls(buf)
        } else {
            self.drive_plain(buf)
        }
    }

    fn drive_plain(&mut self, buf: &mut [u8]) -> Drive {
        while self.written < self.request.len() {
            match self.stream.write(&self.request[self.written..]) {
                Ok(0) => return Err("write: connection closed".into()),
                Ok(n) => self.written += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(format!("write: {}", describe(&e))),
            }
        }
        loop {
            match self.stream.read(buf) {
                Ok(0) => return Ok(Some(self.finish())),
                Ok(n) => {
                    if let Some(outcome) = self.feed(&buf[..n]) {
                        return Ok(Some(outcome));
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(format!("read: {}", describe(&e))),
            }
        }
    }

    /// Moves TLS records both ways until the socket would block, handing
    /// the request to rustls once the handshake is done and the plaintext
    /// that comes back to the response check.
    fn drive_tls(&mut self, buf: &mut [u8]) -> Drive {
        let Some(tls) = self.tls.as_mut() else {
            return Ok(None);
        };
        loop {
            let mut progress = false;
            while tls.wants_write() {
                match tls.write_tls(&mut self.stream) {
                    Ok(_) => progress = true,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(format!("write: {}", describe(&e))),
                }
            }
            if !tls.is_handshaking() && self.written == 0 {
                // rustls buffers the whole request; it goes out as records
                // on the next write_tls.
                tls.writer()
                    .write_all(&self.request)
                    .map_err(|e| format!("TLS: {e}"))?;
                self.written = self.request.len();
                continue;
            }
            let mut eof = false;
            match tls.read_tls(&mut self.stream) {
                Ok(0) => eof = true,
                Ok(_) => {
                    progress = true;
                    if let Err(e) = tls.process_new_packets() {
                        // Let the alert rustls queued go out, if it can.
                        let _ = tls.write_tls(&mut self.stream);
                        return Err(if tls.is_handshaking() {
                            format!("TLS handshake: {e}")
                        } else {
                            format!("TLS: {e}")
                        });
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => progress = true,
                Err(e) => return Err(format!("read: {}", describe(&e))),
            }
            if eof && tls.is_handshaking() {
                return Err("TLS handshake: connection closed by the server".into());
            }
            loop {
                match tls.reader().read(buf) {
                    // close_notify: the response is complete.
                    Ok(0) => return Ok(Some(finish(&mut self.check))),
                    Ok(n) => {
                        if let Some(outcome) = feed(&mut self.check, &buf[..n]) {
                            return Ok(Some(outcome));
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    // Closed without close_notify: common among HTTPS
                    // servers and harmless here, since the response check
                    // judges framing itself.
                    Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                        return Ok(Some(finish(&mut self.check)))
                    }
                    Err(e) => return Err(format!("TLS: {e}")),
                }
            }
            if eof {
                return Ok(Some(finish(&mut self.check)));
            }
            if !progress {
                return Ok(None);
            }
        }
    }

    fn feed(&mut self, bytes: &[u8]) -> Option<Outcome> {
        feed(&mut self.check, bytes)
    }

    fn finish(&mut self) -> Outcome {
        finish(&mut self.check)
    }

    /// Sends close_notify if it can go out at once, then lets go of the
    /// socket (with a reset when the source port is fixed, so that the
    /// next check can bind it).
    fn close(mut self, registry: &Registry, fixed_port: bool) {
        if let Some(tls) = self.tls.as_mut() {
            if !tls.is_handshaking() {
                tls.send_close_notify();
                let _ = tls.write_tls(&mut self.stream);
            }
        }
        if fixed_port {
            net::reset_on_close(&self.stream);
        }
        let _ = registry.deregister(&mut self.stream);
    }
}

fn feed(check: &mut Option<ResponseCheck>, bytes: &[u8]) -> Option<Outcome> {
    match check.as_mut()?.feed(bytes) {
        Progress::NeedMore => None,
        Progress::Done(outcome) => Some(outcome),
    }
}

fn finish(check: &mut Option<ResponseCheck>) -> Outcome {
    match check.take() {
        Some(check) => check.finish(),
        // A verdict was already returned for this connection.
        None => Outcome::fail("response judged twice"),
    }
}
