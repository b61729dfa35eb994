//! Bulk transfer, the requesting side: a director that joins or returns
//! asks its peers for their whole connection table and holds preemption
//! until it has arrived, so it does not take over flows it has never
//! heard of. IPVS has no such exchange (a fresh backup learns only the
//! connections that change or are refreshed after it starts); xvs adds it
//! with two control datagrams ([`xvs_wire::sync::Control`]).
//!
//! Layer: sync (sans-IO, quinn-style). [`Bulk::start`] asks for a
//! request; the driver sends one whenever [`Bulk::poll_request`] says so.
//! Entries arriving count as progress and push the deadline; BulkDone
//! ends it. After `attempt_timeout` without progress the request is sent
//! again, and after `attempts` requests the director gives up and goes
//! ahead without the table.
//!
//! | state   | event                         | next                          |
//! |---------|-------------------------------|-------------------------------|
//! | any     | `start`                       | Waiting { 1 }, request now    |
//! | Waiting | entries                       | Waiting, deadline pushed      |
//! | Waiting | BulkDone                      | Done                          |
//! | Waiting | deadline, attempt < attempts  | Waiting { +1 }, request now   |
//! | Waiting | deadline, attempt = attempts  | GaveUp                        |
//! | GaveUp  | BulkDone (late)               | Done                          |

use std::time::{Duration, Instant};

/// How patiently a [`Bulk`] waits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BulkConfig {
    /// How long a request waits for progress before the next one.
    pub attempt_timeout: Duration,
    /// Requests sent before giving up (at least 1).
    pub attempts: u32,
}

impl Default for BulkConfig {
    /// 2 s, 3 attempts (the `sync.bulk_timeout` and `sync.bulk_attempts`
    /// defaults).
    fn default() -> BulkConfig {
        BulkConfig {
            attempt_timeout: Duration::from_secs(2),
            attempts: 3,
        }
    }
}

impl BulkConfig {
    /// From the `sync:` section.
    pub fn from_config(c: &xvs_config::ConnSync) -> BulkConfig {
        BulkConfig {
            attempt_timeout: c.bulk_timeout,
            attempts: c.bulk_attempts,
        }
    }
}

/// Where a bulk transfer stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BulkState {
    /// Never started.
    Idle,
    /// Request number `attempt` (from 1) is out.
    Waiting { attempt: u32 },
    /// A peer sent BulkDone.
    Done,
    /// Every attempt timed out.
    GaveUp,
}

/// The requesting side of a bulk transfer. See the module documentation.
#[derive(Debug)]
pub struct Bulk {
    cfg: BulkConfig,
    state: BulkState,
    /// When the current attempt times out (while Waiting).
    deadline: Option<Instant>,
    /// A request should go out.
    request: bool,
}

impl Bulk {
    pub fn new(cfg: BulkConfig) -> Bulk {
        Bulk {
            cfg,
            state: BulkState::Idle,
            deadline: None,
            request: false,
        }
    }

    /// Starts (or restarts) a transfer: a request is wanted now.
    pub fn start(&mut self, now: Instant) {
        self.state = BulkState::Waiting { attempt: 1 };
        self.deadline = Some(now + self.cfg.attempt_timeout);
        self.request = true;
    }

    /// Whether a BulkRequest should be sent now: after [`Bulk::start`],
    /// and after each attempt that timed out (handled here if the driver
    /// has not called [`Bulk::handle_timeout`] yet). True once per
    /// request.
    pub fn poll_request(&mut self, now: Instant) -> bool {
        self.handle_timeout(now);
        std::mem::take(&mut self.request)
    }

    /// Entries arrived from a peer: the transfer is moving, the deadline
    /// starts again from `now`.
    pub fn on_entries(&mut self, now: Instant) {
        if matches!(self.state, BulkState::Waiting { .. }) {
            self.deadline = Some(now + self.cfg.attempt_timeout);
        }
    }

    /// A peer sent BulkDone. Outside a transfer (Idle: another director
    /// asked) it changes nothing; a late one after giving up still
    /// counts.
    pub fn on_done(&mut self, _now: Instant) {
        if matches!(self.state, BulkState::Waiting { .. } | BulkState::GaveUp) {
            self.state = BulkState::Done;
            self.deadline = None;
            self.request = false;
        }
    }

    /// When the current attempt times out.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.deadline
    }

    /// At or after the deadline: the next attempt (a request is wanted),
    /// or GaveUp after the last one. Does nothing before the deadline.
    pub fn handle_timeout(&mut self, now: Instant) {
        let BulkState::Waiting { attempt } = self.state else {
            return;
        };
        if self.deadline.is_none_or(|d| now < d) {
            return;
        }
        if attempt < self.cfg.attempts {
            self.state = BulkState::Waiting {
                attempt: attempt + 1,
            };
            self.deadline = Some(now + self.cfg.attempt_timeout);
            self.request = true;
        } else {
            self.state = BulkState::GaveUp;
            self.deadline = None;
            self.request = false;
        }
    }

    /// Whether preemption may go ahead: not waiting for a transfer.
    pub fn settled(&self) -> bool {
        !matches!(self.state, BulkState::Waiting { .. })
    }

    pub fn state(&self) -> BulkState {
        self.state
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn idle_is_settled() {
        let t0 = Instant::now();
        let mut b = Bulk::new(BulkConfig::default());
        assert!(b.settled());
        assert!(!b.poll_request(t0));
        assert_eq!(b.poll_timeout(), None);
        b.on_done(t0);
        assert_eq!(b.state(), BulkState::Idle);
    }

    #[test]
    fn done_after_entries() {
        let t0 = Instant::now();
        let mut b = Bulk::new(BulkConfig::default());
        b.start(t0);
        assert!(!b.settled());
        assert!(b.poll_request(t0));
        assert!(!b.poll_request(t0), "once per attempt");
        assert_eq!(b.poll_timeout(), Some(t0 + 2 * S));
        // Entries keep it alive past the first deadline.
        b.on_entries(t0 + S);
        b.handle_timeout(t0 + 2 * S);
        assert!(!b.poll_request(t0 + 2 * S));
        assert_eq!(b.state(), BulkState::Waiting { attempt: 1 });
        assert_eq!(b.poll_timeout(), Some(t0 + 3 * S));
        b.on_done(t0 + 2 * S);
        assert_eq!(b.state(), BulkState::Done);
        assert!(b.settled());
        assert_eq!(b.poll_timeout(), None);
        // Nothing moves it any more.
        b.on_entries(t0 + 10 * S);
        b.handle_timeout(t0 + 10 * S);
        assert_eq!(b.state(), BulkState::Done);
    }

    #[test]
    fn retries_then_gives_up() {
        let t0 = Instant::now();
        let mut b = Bulk::new(BulkConfig::default());
        b.start(t0);
        assert!(b.poll_request(t0));
        assert!(!b.poll_request(t0 + 2 * S - Duration::from_millis(1)));
        // The driver may poll for the request without handling the timeout.
        assert!(b.poll_request(t0 + 2 * S));
        assert_eq!(b.state(), BulkState::Waiting { attempt: 2 });
        b.handle_timeout(t0 + 4 * S);
        assert_eq!(b.state(), BulkState::Waiting { attempt: 3 });
        assert!(b.poll_request(t0 + 4 * S));
        b.handle_timeout(t0 + 6 * S);
        assert_eq!(b.state(), BulkState::GaveUp);
        assert!(b.settled());
        assert!(!b.poll_request(t0 + 6 * S));
        assert_eq!(b.poll_timeout(), None);
        // A late BulkDone still records that the table arrived.
        b.on_done(t0 + 7 * S);
        assert_eq!(b.state(), BulkState::Done);
        // Returning again: a new transfer.
        b.start(t0 + 100 * S);
        assert_eq!(b.state(), BulkState::Waiting { attempt: 1 });
        assert!(b.poll_request(t0 + 100 * S));
    }

    #[test]
    fn at_least_one_attempt() {
        let t0 = Instant::now();
        let mut b = Bulk::new(BulkConfig {
            attempt_timeout: S,
            attempts: 0,
        });
        b.start(t0);
        assert!(b.poll_request(t0));
        b.handle_timeout(t0 + S);
        assert_eq!(b.state(), BulkState::GaveUp);
    }
}
