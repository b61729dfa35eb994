//! SMTP_CHECK: connect, then let `xvs_probe::smtp::Dialog` talk (banner,
//! HELO, QUIT) while this task moves its bytes.
//!
//! Layer: driver.

use std::io::{self, Read, Write};

use mio::net::TcpStream;
use mio::Registry;
use xvs_probe::{Endpoint, Outcome};

use crate::net::{self, describe, secs};
use crate::task::{Ctx, Step};
use crate::tcp::register_stream;
use xvs_probe::smtp::{Dialog, SmtpStep};

#[derive(Debug)]
pub(crate) struct SmtpTask {
    stream: TcpStream,
    connected: bool,
    dialog: Dialog,
    out: Vec<u8>,
    fixed_port: bool,
}

impl SmtpTask {
    pub fn start(endpoint: &Endpoint, helo_name: &str, ctx: &Ctx<'_>) -> Result<SmtpTask, Outcome> {
        let stream = register_stream(endpoint, ctx).map_err(Outcome::fail)?;
        Ok(SmtpTask {
            stream,
            connected: false,
            dialog: Dialog::new(helo_name),
            out: Vec::new(),
            fixed_port: endpoint.bind.is_some_and(|b| b.port() != 0),
        })
    }

    pub fn on_ready(&mut self, ctx: &mut Ctx<'_>) -> Step {
        match self.drive(ctx.scratch) {
            Ok(None) => Step::Wait,
            Ok(Some(outcome)) => Step::Done(outcome),
            Err(reason) => Step::Done(Outcome::fail(reason)),
        }
    }

    fn drive(&mut self, buf: &mut [u8]) -> Result<Option<Outcome>, String> {
        if !self.connected {
            if !net::connect_result(&self.stream)? {
                return Ok(None);
            }
            self.connected = true;
        }
        self.flush()?;
        loop {
            let n = match self.stream.read(buf) {
                Ok(0) => return Ok(Some(self.dialog.on_eof())),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(format!("read: {}", describe(&e))),
            };
            match self.dialog.on_bytes(&buf[..n]) {
                SmtpStep::NeedMore => {}
                SmtpStep::Send(bytes) => {
                    self.out.extend_from_slice(&bytes);
                    self.flush()?;
                }
                SmtpStep::Done(outcome) => {
                    // A last command (QUIT) may be waiting: send what fits.
                    let _ = self.flush();
                    return Ok(Some(outcome));
                }
            }
        }
    }

    /// Writes what the dialog asked to send, as far as the socket takes it.
    fn flush(&mut self) -> Result<(), String> {
        while !self.out.is_empty() {
            match self.stream.write(&self.out) {
                Ok(0) => return Err("write: connection closed".into()),
                Ok(n) => {
                    self.out.drain(..n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(format!("write: {}", describe(&e))),
            }
        }
        Ok(())
    }

    pub fn on_deadline(&mut self, ctx: &mut Ctx<'_>) -> Step {
        let after = secs(ctx.timeout);
        Step::Done(Outcome::fail(if self.connected {
            format!("SMTP dialog not over within {after}")
        } else {
            format!("connect timeout after {after}")
        }))
    }

    pub fn close(mut self, registry: &Registry) {
        if self.fixed_port {
            net::reset_on_close(&self.stream);
        }
        let _ = registry.deregister(&mut self.stream);
    }
}
