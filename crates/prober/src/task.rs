//! What the engine asks of every kind of probe in flight.
//!
//! Layer: driver. A task owns its socket or child; the engine owns the
//! clock, the queue and the deadlines. A task is woken by readiness of its
//! own token ([`Task::on_ready`]) or by its deadline ([`Task::on_deadline`]),
//! and answers with a [`Step`]. Readiness is edge-triggered: a task does
//! all the I/O it can until the kernel says "would block", and must treat
//! a wakeup with nothing to do as normal.

use std::time::{Duration, Instant};

use mio::{Registry, Token};
use xvs_probe::Outcome;

use crate::child::ChildTask;
use crate::datagram::DatagramTask;
use crate::http::HttpTask;
use crate::icmp::PingTask;
use crate::smtp::SmtpTask;
use crate::tcp::TcpTask;

/// What a task may use while it runs.
pub(crate) struct Ctx<'a> {
    pub registry: &'a Registry,
    /// The task's own token, for (re)registering its sources.
    pub token: Token,
    pub now: Instant,
    /// The probe's timeout, for deadlines a task moves itself (the next
    /// HTTP request) and for its reasons.
    pub timeout: Duration,
    /// A shared receive buffer, large enough for any datagram.
    pub scratch: &'a mut [u8],
}

/// A task's answer to a wakeup.
#[derive(Debug)]
pub(crate) enum Step {
    /// Nothing decided; the deadline stays.
    Wait,
    /// Nothing decided; the deadline moves to this instant.
    WaitUntil(Instant),
    Done(Outcome),
}

#[derive(Debug)]
pub(crate) enum Task {
    Tcp(TcpTask),
    Http(Box<HttpTask>),
    Datagram(DatagramTask),
    Smtp(SmtpTask),
    Ping(PingTask),
    Child(ChildTask),
}

impl Task {
    pub fn on_ready(&mut self, ctx: &mut Ctx<'_>) -> Step {
        match self {
            Task::Tcp(t) => t.on_ready(ctx),
            Task::Http(t) => t.on_ready(ctx),
            Task::Datagram(t) => t.on_ready(ctx),
            Task::Smtp(t) => t.on_ready(ctx),
            // Echo replies arrive on the shared socket, not on a token of
            // the probe's own.
            Task::Ping(_) => Step::Wait,
            Task::Child(t) => t.on_ready(),
        }
    }

    pub fn on_deadline(&mut self, ctx: &mut Ctx<'_>) -> Step {
        match self {
            Task::Tcp(t) => t.on_deadline(ctx),
            Task::Http(t) => t.on_deadline(ctx),
            Task::Datagram(t) => t.on_deadline(ctx),
            Task::Smtp(t) => t.on_deadline(ctx),
            Task::Ping(t) => t.on_deadline(ctx),
            Task::Child(t) => t.on_deadline(ctx),
        }
    }

    /// Lets go of the task's sources. Children are not handled here: the
    /// engine keeps an unreaped child until it is reaped.
    pub fn close(self, registry: &Registry) {
        match self {
            Task::Tcp(t) => t.close(registry),
            Task::Http(t) => t.close(registry),
            Task::Datagram(t) => t.close(registry),
            Task::Smtp(t) => t.close(registry),
            Task::Ping(_) => {}
            Task::Child(t) => t.close(registry),
        }
    }
}
