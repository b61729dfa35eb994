//! The engine: one mio event loop for every probe in flight, a FIFO of
//! probes waiting for room under the in-flight cap, and the deadlines.
//!
//! Layer: driver. The health checker decides when to probe and what an
//! outcome means; this only runs probes and reports how each ended.
//!
//! Bounds: at most `max_in_flight` probes hold a socket or a child at
//! once; the rest wait in start order. A probe's timeout runs from when it
//! leaves the queue, and so does its latency. Nothing here blocks on a
//! peer: a target that never answers costs its own deadline and nothing
//! else.
//!
//! Scripts (`run_script`: notify and quorum scripts) are not counted
//! against the cap and never wait in the queue: they mark a transition
//! and must run when it happens, as keepalived runs them. They are few (one
//! per state change) and each holds one descriptor while it runs.

use std::collections::VecDeque;
use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::{Events, Poll, Waker};
use xvs_config::Script;
use xvs_probe::{Outcome, Probe, ProbeId, ProbeKind};

use crate::child::{ChildTask, POLL_INTERVAL};
use crate::datagram::DatagramTask;
use crate::http::HttpTask;
use crate::icmp::IcmpSockets;
use crate::slots::{classify, SlotRef, Slots, TokenKind, WAKER};
use crate::smtp::SmtpTask;
use crate::task::{Ctx, Step, Task};
use crate::tcp::TcpTask;
use crate::timers::Timers;
use crate::tls::TlsContext;
use crate::{file, limits};

/// Largest datagram a reply can be (UDP, DNS, ICMP): one buffer for all.
const SCRATCH_LEN: usize = 64 * 1024;

/// The engine's settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProberConfig {
    /// Probes that may hold a socket or a child at once; more wait, in
    /// order. At least 1 (0 is taken as 1).
    pub max_in_flight: usize,
}

/// One probe that ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finished {
    pub id: ProbeId,
    pub outcome: Outcome,
    /// From the probe's start (leaving the queue) to its end.
    pub latency: Duration,
}

/// Totals since the engine was made, for metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProberCounters {
    /// Probes that started (left the queue or never waited in it).
    pub probes_started: u64,
    /// Probes that had to wait for room under `max_in_flight`.
    pub probes_deferred: u64,
    /// Probes that failed at their deadline (a MISC_CHECK program killed
    /// after its timeout included).
    pub probes_timed_out: u64,
    /// Scripts started by `run_script`.
    pub scripts_run: u64,
    /// Scripts signalled because they outlived their timeout.
    pub scripts_killed: u64,
    /// Scripts that could not be started (unknown user, no such program);
    /// the reasons are in [`Prober::take_script_errors`].
    pub scripts_failed: u64,
}

/// What a slot is running for.
#[derive(Debug)]
enum Role {
    /// A probe: its end is reported.
    Probe {
        id: ProbeId,
        started: Instant,
        timeout: Duration,
    },
    /// A script: nothing is reported; counted.
    Script { timeout: Duration },
    /// A child whose probe or script is over (cancelled, given up) and
    /// that only waits to be reaped.
    Reaping,
}

#[derive(Debug)]
struct Entry {
    role: Role,
    task: Task,
    /// The current deadline, if any; the timer heap may hold stale ones.
    deadline: Option<Instant>,
}

#[derive(Debug)]
struct Queued {
    id: ProbeId,
    probe: Probe,
}

/// The health-probe I/O engine. See the crate documentation.
#[derive(Debug)]
pub struct Prober {
    poll: Poll,
    events: Events,
    /// The tokens of one wakeup, copied out of `events` (kept to reuse
    /// its allocation).
    ready: Vec<TokenKind>,
    waker: Arc<Waker>,
    max_in_flight: usize,
    slots: Slots<Entry>,
    timers: Timers,
    queue: VecDeque<Queued>,
    /// Probes that ended outside `poll` (at their start), delivered by the
    /// next `poll`.
    done: Vec<Finished>,
    in_flight: usize,
    /// Children without a pidfd, polled every [`POLL_INTERVAL`].
    polled_children: usize,
    icmp: IcmpSockets,
    tls: TlsContext,
    scratch: Vec<u8>,
    counters: ProberCounters,
    script_errors: Vec<String>,
}

impl Prober {
    /// Makes the engine, and raises RLIMIT_NOFILE's soft limit if
    /// `max_in_flight` probes would not fit under it (an error if they do
    /// not fit under the hard limit either).
    pub fn new(cfg: ProberConfig) -> io::Result<Prober> {
        let max_in_flight = cfg.max_in_flight.max(1);
        limits::ensure_fd_budget(max_in_flight)?;
        let poll = Poll::new()?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
        Ok(Prober {
            poll,
            events: Events::with_capacity(1024),
            ready: Vec::with_capacity(1024),
            waker,
            max_in_flight,
            slots: Slots::new(),
            timers: Timers::default(),
            queue: VecDeque::new(),
            done: Vec::new(),
            in_flight: 0,
            polled_children: 0,
            icmp: IcmpSockets::new(),
            tls: TlsContext::new(),
            scratch: vec![0; SCRATCH_LEN],
            counters: ProberCounters::default(),
            script_errors: Vec::new(),
        })
    }

    /// Starts a probe, or queues it when `max_in_flight` probes are
    /// running (or others already wait). Its timeout runs from when it
    /// actually starts. A probe that ends at once (a FILE_CHECK, a socket
    /// that cannot be opened) is reported by the next `poll`.
    pub fn start(&mut self, id: ProbeId, probe: Probe) {
        if self.in_flight < self.max_in_flight && self.queue.is_empty() {
            self.launch(id, probe, Instant::now());
        } else {
            self.counters.probes_deferred += 1;
            self.queue.push_back(Queued { id, probe });
        }
    }

    /// Runs a notify or quorum script and forgets it: not counted against
    /// `max_in_flight`, never queued, reaped when it exits, and after
    /// `timeout` sent SIGTERM, then SIGKILL 2 s later (its whole process
    /// group). A script that cannot start is counted in
    /// `scripts_failed`, its reason kept for [`Prober::take_script_errors`].
    pub fn run_script(&mut self, script: &Script, timeout: Duration) {
        let now = Instant::now();
        let r = self.slots.next_ref();
        let ctx = Ctx {
            registry: self.poll.registry(),
            token: r.token(),
            now,
            timeout,
            scratch: &mut self.scratch,
        };
        match ChildTask::spawn(script, false, &ctx) {
            Ok(child) => {
                self.counters.scripts_run += 1;
                if child.uses_polling() {
                    self.polled_children += 1;
                }
                let stored = self.slots.insert(Entry {
                    role: Role::Script { timeout },
                    task: Task::Child(child),
                    deadline: None,
                });
                debug_assert_eq!(stored, r);
                self.set_deadline(r, now + timeout);
            }
            Err(reason) => {
                self.counters.scripts_failed += 1;
                self.script_errors
                    .push(format!("{}: {reason}", script.display()));
            }
        }
    }

    /// Why scripts could not start, since the last call (oldest first).
    pub fn take_script_errors(&mut self) -> Vec<String> {
        std::mem::take(&mut self.script_errors)
    }

    /// Drops every probe with this id, running, queued or ended but not
    /// yet reported; a MISC_CHECK program is killed (and still reaped).
    pub fn cancel(&mut self, id: ProbeId) {
        self.queue.retain(|q| q.id != id);
        self.done.retain(|f| f.id != id);
        for r in self.slots.refs() {
            let is_it = matches!(
                self.slots.get_mut(r),
                Some(Entry { role: Role::Probe { id: running, .. }, .. }) if *running == id
            );
            if is_it {
                self.release(r, None, false);
            }
        }
    }

    /// Waits for I/O at most `timeout` (`None`: until something happens),
    /// less when a deadline comes first or the waker fires; advances every
    /// probe; appends the ones that ended to `finished`.
    pub fn poll(
        &mut self,
        timeout: Option<Duration>,
        finished: &mut Vec<Finished>,
    ) -> io::Result<()> {
        let now = Instant::now();
        self.start_queued(now);
        let mut wait = timeout;
        let mut cap = |limit: Duration| {
            wait = Some(wait.map_or(limit, |w| w.min(limit)));
        };
        if !self.done.is_empty() {
            cap(Duration::ZERO);
        }
        if let Some(next) = self.timers.next() {
            cap(next.saturating_duration_since(now));
        }
        if self.polled_children > 0 {
            cap(POLL_INTERVAL);
        }
        match self.poll.poll(&mut self.events, wait) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
        let mut ready = std::mem::take(&mut self.ready);
        ready.clear();
        ready.extend(self.events.iter().map(|e| classify(e.token())));
        let now = Instant::now();
        for &kind in &ready {
            match kind {
                TokenKind::Waker => {}
                TokenKind::Icmp(n) => {
                    for (r, outcome) in self.icmp.on_readable(n, &mut self.scratch) {
                        self.release(r, Some((outcome, now)), false);
                    }
                }
                TokenKind::Slot(r) => self.advance(r, now, false),
            }
        }
        self.ready = ready;
        if self.polled_children > 0 {
            for r in self.slots.refs() {
                let polled = matches!(
                    self.slots.get_mut(r),
                    Some(Entry { task: Task::Child(c), .. }) if c.uses_polling()
                );
                if polled {
                    self.advance(r, now, false);
                }
            }
        }
        while let Some((at, r)) = self.timers.pop_due(now) {
            let current = self.slots.get_mut(r).and_then(|e| e.deadline);
            if current == Some(at) {
                self.advance(r, now, true);
            }
        }
        self.start_queued(Instant::now());
        finished.append(&mut self.done);
        Ok(())
    }

    /// A handle another thread can wake `poll` with.
    pub fn waker(&self) -> Arc<Waker> {
        self.waker.clone()
    }

    /// Probes holding a socket or a child now (scripts not included).
    pub fn in_flight(&self) -> usize {
        self.in_flight
    }

    /// Child processes not reaped yet: MISC_CHECK programs, scripts, and
    /// the killed ones still to be reaped. For a shutdown that lets
    /// notify scripts finish (poll while this is above 0) before
    /// `shutdown` kills the rest.
    pub fn children(&self) -> usize {
        self.slots
            .values()
            .filter(|entry| matches!(entry.task, Task::Child(_)))
            .count()
    }

    /// Probes waiting for room under `max_in_flight`.
    pub fn queued(&self) -> usize {
        self.queue.len()
    }

    pub fn counters(&self) -> ProberCounters {
        self.counters
    }

    /// Stops everything: the queue is dropped, every probe is cancelled
    /// without a report, and every child (probes', scripts', the ones
    /// being reaped) is SIGKILLed with its group and waited for.
    pub fn shutdown(&mut self) {
        self.queue.clear();
        self.done.clear();
        for r in self.slots.refs() {
            if let Some(mut entry) = self.slots.remove(r) {
                if let Task::Child(child) = &mut entry.task {
                    child.kill();
                    child.wait_blocking();
                }
                self.close_task(r, entry.task);
            }
        }
        self.in_flight = 0;
        self.polled_children = 0;
        self.timers.clear();
        self.icmp.close_all(self.poll.registry());
    }

    fn start_queued(&mut self, now: Instant) {
        while self.in_flight < self.max_in_flight {
            let Some(Queued { id, probe }) = self.queue.pop_front() else {
                break;
            };
            self.launch(id, probe, now);
        }
    }

    /// Opens the probe's socket, child or file; a probe decided at once
    /// goes straight to `done`.
    fn launch(&mut self, id: ProbeId, probe: Probe, now: Instant) {
        self.counters.probes_started += 1;
        let timeout = probe.timeout;
        let finish_now = |outcome: Outcome| Finished {
            id,
            outcome,
            latency: now.elapsed(),
        };
        if let ProbeKind::File {
            path,
            weight,
            reverse,
        } = &probe.kind
        {
            let outcome = file::check(path, *weight, *reverse);
            self.done.push(finish_now(outcome));
            return;
        }
        let r = self.slots.next_ref();
        let ctx = Ctx {
            registry: self.poll.registry(),
            token: r.token(),
            now,
            timeout,
            scratch: &mut self.scratch,
        };
        let task = match &probe.kind {
            ProbeKind::Tcp(endpoint) => TcpTask::start(endpoint, &ctx).map(Task::Tcp),
            ProbeKind::Http {
                endpoint,
                tls,
                requests,
            } => HttpTask::start(endpoint, tls.as_ref(), requests, &mut self.tls, &ctx)
                .map(Task::Http),
            ProbeKind::Udp {
                endpoint,
                payload,
                expect,
            } => DatagramTask::start_udp(endpoint, payload, expect, &ctx).map(Task::Datagram),
            ProbeKind::Dns {
                endpoint,
                query_type,
                name,
            } => DatagramTask::start_dns(endpoint, *query_type, name, &ctx).map(Task::Datagram),
            ProbeKind::Smtp {
                endpoint,
                helo_name,
            } => SmtpTask::start(endpoint, helo_name, &ctx).map(Task::Smtp),
            ProbeKind::Icmp { target, bind } => self
                .icmp
                .start(*target, *bind, r, self.poll.registry())
                .map(Task::Ping),
            ProbeKind::Misc { script, dynamic } => ChildTask::spawn(script, *dynamic, &ctx)
                .map(Task::Child)
                .map_err(Outcome::fail),
            ProbeKind::File { .. } => Err(Outcome::fail("FILE_CHECK runs at start")),
        };
        match task {
            Ok(task) => {
                if matches!(&task, Task::Child(c) if c.uses_polling()) {
                    self.polled_children += 1;
                }
                let stored = self.slots.insert(Entry {
                    role: Role::Probe {
                        id,
                        started: now,
                        timeout,
                    },
                    task,
                    deadline: None,
                });
                debug_assert_eq!(stored, r);
                self.in_flight += 1;
                self.set_deadline(r, now + timeout);
            }
            Err(outcome) => self.done.push(finish_now(outcome)),
        }
    }

    fn set_deadline(&mut self, r: SlotRef, at: Instant) {
        if let Some(entry) = self.slots.get_mut(r) {
            entry.deadline = Some(at);
            self.timers.schedule(at, r);
        }
    }

    /// Lets the task in `r` act on readiness or, with `expired`, on its
    /// deadline.
    fn advance(&mut self, r: SlotRef, now: Instant, expired: bool) {
        let registry = self.poll.registry();
        let Some(entry) = self.slots.get_mut(r) else {
            // A late event of a probe that is gone.
            return;
        };
        let timeout = match entry.role {
            Role::Probe { timeout, .. } | Role::Script { timeout } => timeout,
            Role::Reaping => Duration::ZERO,
        };
        let mut ctx = Ctx {
            registry,
            token: r.token(),
            now,
            timeout,
            scratch: &mut self.scratch,
        };
        let step = if expired {
            entry.task.on_deadline(&mut ctx)
        } else {
            entry.task.on_ready(&mut ctx)
        };
        match step {
            Step::Wait => {}
            Step::WaitUntil(at) => self.set_deadline(r, at),
            Step::Done(outcome) => {
                let timed_out = expired && !outcome.is_pass();
                self.release(r, Some((outcome, now)), timed_out);
            }
        }
    }

    /// Ends what runs in `r`: reports a probe's outcome (`None`: cancelled,
    /// no report), counts a script, and frees the slot, except for a child
    /// not reaped yet, which stays (killed) until it is. `timed_out`: the
    /// deadline decided a failure (a child says so itself).
    fn release(&mut self, r: SlotRef, outcome: Option<(Outcome, Instant)>, timed_out: bool) {
        let Some(entry) = self.slots.get_mut(r) else {
            return;
        };
        let role = std::mem::replace(&mut entry.role, Role::Reaping);
        entry.deadline = None;
        let timed_out = timed_out || matches!(&entry.task, Task::Child(c) if c.timed_out());
        match role {
            Role::Probe { id, started, .. } => {
                self.in_flight -= 1;
                if timed_out {
                    self.counters.probes_timed_out += 1;
                }
                if let Some((outcome, now)) = outcome {
                    self.done.push(Finished {
                        id,
                        outcome,
                        latency: now.saturating_duration_since(started),
                    });
                }
            }
            Role::Script { .. } => {
                if timed_out {
                    self.counters.scripts_killed += 1;
                }
            }
            Role::Reaping => {}
        }
        if let Task::Child(child) = &mut entry.task {
            if !child.is_reaped() {
                // Cancelled or given up: kill it, and keep the slot (and
                // its pidfd) to reap it when it goes.
                child.kill();
                return;
            }
            if child.uses_polling() {
                self.polled_children -= 1;
            }
        }
        if let Some(entry) = self.slots.remove(r) {
            self.close_task(r, entry.task);
        }
    }

    fn close_task(&mut self, r: SlotRef, task: Task) {
        if let Task::Ping(ping) = &task {
            self.icmp.forget(ping, r);
        }
        task.close(self.poll.registry());
    }
}

impl Drop for Prober {
    fn drop(&mut self) {
        // No child outlives the engine, nor lingers as a zombie.
        self.shutdown();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_engine_can_move_to_the_control_thread() {
        fn send<T: Send>() {}
        send::<Prober>();
        send::<Finished>();
    }

    /// Where the kernel has no pidfd_open, children are polled: they are
    /// still reaped, and timed out, with the poll capped meanwhile.
    #[test]
    fn children_are_polled_where_there_is_no_pidfd() {
        crate::child::NO_PIDFD.store(true, std::sync::atomic::Ordering::Relaxed);
        let mut prober = Prober::new(ProberConfig { max_in_flight: 4 }).expect("prober");
        let script = |argv: &[&str]| Script {
            argv: argv.iter().map(|a| a.to_string()).collect(),
            user: None,
            group: None,
        };
        let misc = |argv: &[&str], timeout| Probe {
            timeout: Duration::from_secs(timeout),
            kind: ProbeKind::Misc {
                script: script(argv),
                dynamic: false,
            },
        };
        prober.start(1, misc(&["true"], 30));
        prober.start(2, misc(&["sleep", "30"], 1));
        prober.run_script(&script(&["true"]), Duration::from_secs(30));
        assert_eq!(prober.polled_children, 3);
        let mut finished = Vec::new();
        let started = Instant::now();
        let give_up = started + Duration::from_secs(60);
        while (finished.len() < 2 || !prober.slots.refs().is_empty()) && Instant::now() < give_up {
            prober
                .poll(Some(Duration::from_secs(60)), &mut finished)
                .expect("poll");
        }
        crate::child::NO_PIDFD.store(false, std::sync::atomic::Ordering::Relaxed);
        // The script's exit is seen by polling alone: without the capped
        // poll it would wait for its 30 s deadline.
        assert!(started.elapsed() < Duration::from_secs(25));
        assert_eq!(finished.len(), 2, "{finished:?}");
        assert_eq!(finished[0].id, 1);
        assert!(finished[0].outcome.is_pass(), "{finished:?}");
        assert_eq!(finished[1].id, 2);
        assert!(!finished[1].outcome.is_pass(), "{finished:?}");
        assert_eq!(prober.polled_children, 0);
        assert!(prober.slots.refs().is_empty());
    }

    #[test]
    fn a_cap_of_zero_still_runs_probes_one_at_a_time() {
        let prober = Prober::new(ProberConfig { max_in_flight: 0 }).expect("prober");
        assert_eq!(prober.max_in_flight, 1);
    }
}
