//! TCP_CHECK: the check passes when the connection completes; it is then
//! reset at once (see [`net::reset_on_close`]).
//!
//! Layer: driver. Also home of [`register_stream`], which the HTTP and
//! SMTP tasks use for their connections.

use mio::net::TcpStream;
use mio::{Interest, Registry};
use xvs_probe::{Endpoint, Outcome};

use crate::net::{self, describe, secs};
use crate::task::{Ctx, Step};

#[derive(Debug)]
pub(crate) struct TcpTask {
    stream: TcpStream,
}

/// Opens a connection to `endpoint` and registers it under the task's
/// token for both directions (edge-triggered: the writable edge says the
/// connect is over).
pub(crate) fn register_stream(endpoint: &Endpoint, ctx: &Ctx<'_>) -> Result<TcpStream, String> {
    let mut stream = net::tcp_connect(endpoint)?;
    ctx.registry
        .register(
            &mut stream,
            ctx.token,
            Interest::READABLE | Interest::WRITABLE,
        )
        .map_err(|e| format!("epoll: {}", describe(&e)))?;
    Ok(stream)
}

impl TcpTask {
    pub fn start(endpoint: &Endpoint, ctx: &Ctx<'_>) -> Result<TcpTask, Outcome> {
        let stream = register_stream(endpoint, ctx).map_err(Outcome::fail)?;
        Ok(TcpTask { stream })
    }

    pub fn on_ready(&mut self, _ctx: &mut Ctx<'_>) -> Step {
        match net::connect_result(&self.stream) {
            Ok(true) => Step::Done(Outcome::pass()),
            Ok(false) => Step::Wait,
            Err(reason) => Step::Done(Outcome::fail(reason)),
        }
    }

    pub fn on_deadline(&mut self, ctx: &mut Ctx<'_>) -> Step {
        Step::Done(Outcome::fail(format!(
            "connect timeout after {}",
            secs(ctx.timeout)
        )))
    }

    pub fn close(mut self, registry: &Registry) {
        net::reset_on_close(&self.stream);
        let _ = registry.deregister(&mut self.stream);
    }
}
