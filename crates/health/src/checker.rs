//! One checker's retry state machine, as keepalived's checkers share it
//! (check_tcp.c `tcp_epilog`, with the same shape in check_ping.c,
//! check_dns.c `dns_final`, check_misc.c and check_smtp.c): `is_up`,
//! `has_run` and the retry counter `retry_it`, and the delay until the
//! next run. Pure: the monitor applies the verdict to its real server.
//!
//! | state before       | result | after                          | next run in         |
//! |--------------------|--------|--------------------------------|---------------------|
//! | any                | pass   | up, retry_it = 0               | delay_loop          |
//! | up or not yet run, retry_it ≥ retry | fail | down, retry_it = 0 | delay_loop      |
//! | up, retry_it < retry | fail | up, retry_it + 1               | delay_before_retry  |
//! | down, has run      | fail   | down                           | delay_loop          |
//!
//! `retry_it` starts at `retry` (check_data.c, "one failure is enough
//! initially"), so a check that fails at start-up is down at once, while a
//! running up checker goes down after `retry + 1` consecutive failures.
//!
//! HTTP_GET and SSL_GET differ in one delay: once a URL is declared
//! failed, check_http.c waits max(delay_before_retry, delay_loop) before
//! each further attempt, not delay_loop.

use std::time::Duration;

use xvs_config::{HealthCheck, HealthCheckKind};

/// keepalived's `is_up`, `has_run` and `retry_it` of one checker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RetryState {
    pub up: bool,
    pub has_run: bool,
    pub retry_it: u32,
}

/// What one result did to a checker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Down → up.
    Recovered,
    /// Up → down; `after_retries` is how many retries failed first (0 when
    /// the very first run failed, as keepalived logs "failed." then
    /// rather than "failed after N retries.").
    Failed { after_retries: u32 },
    /// A checker that started down (alpha) failed its first run: it stays
    /// down, but keepalived's update_svr_checker_state still runs the
    /// real server's notify_down.
    FirstRunFailed,
    /// An up checker failed and will be retried; this was failure
    /// `attempt` of the `retry` it may have before it is declared down.
    Retrying { attempt: u32 },
    /// Nothing changed (a pass while up, a failure while down).
    Steady,
}

impl RetryState {
    /// A checker at start-up: up unless alpha, and one failure enough.
    pub(crate) fn start(check: &HealthCheck) -> RetryState {
        RetryState {
            up: !check.alpha,
            has_run: false,
            retry_it: check.retry,
        }
    }

    /// Apply one result; returns what changed and the delay until the
    /// next run.
    pub(crate) fn record(&mut self, pass: bool, check: &HealthCheck) -> (Verdict, Duration) {
        let was_up = self.up;
        let had_run = self.has_run;
        self.has_run = true;
        if pass {
            self.retry_it = 0;
            self.up = true;
            let verdict = if was_up {
                Verdict::Steady
            } else {
                Verdict::Recovered
            };
            return (verdict, check.delay_loop);
        }
        if (was_up || !had_run) && self.retry_it >= check.retry {
            self.retry_it = 0;
            self.up = false;
            let verdict = if was_up {
                Verdict::Failed {
                    after_retries: if had_run { check.retry } else { 0 },
                }
            } else {
                Verdict::FirstRunFailed
            };
            return (verdict, down_delay(check));
        }
        if was_up {
            self.retry_it = self.retry_it.saturating_add(1);
            return (
                Verdict::Retrying {
                    attempt: self.retry_it,
                },
                check.delay_before_retry,
            );
        }
        (Verdict::Steady, down_delay(check))
    }
}

/// The wait after a failure that leaves the checker down.
fn down_delay(check: &HealthCheck) -> Duration {
    match check.kind {
        // check_http.c http_get_retry/epilog: with a failed URL the next
        // attempt waits the longer of the two.
        HealthCheckKind::Http(_) | HealthCheckKind::Ssl(..) => {
            check.delay_loop.max(check.delay_before_retry)
        }
        _ => check.delay_loop,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use xvs_config::{HttpCheck, HttpProtocol};

    fn tcp(retry: u32, alpha: bool) -> HealthCheck {
        HealthCheck {
            kind: HealthCheckKind::Tcp,
            connect_ip: None,
            port: None,
            bindto: None,
            bind_port: None,
            connect_timeout: Duration::from_secs(3),
            delay_loop: Duration::from_secs(10),
            retry,
            delay_before_retry: Duration::from_secs(2),
            warmup: Duration::ZERO,
            alpha,
            log_all_failures: false,
        }
    }

    const LOOP: Duration = Duration::from_secs(10);
    const RETRY: Duration = Duration::from_secs(2);

    #[test]
    fn a_first_failure_is_down_at_once() {
        let c = tcp(3, false);
        let mut s = RetryState::start(&c);
        assert_eq!(
            s.record(false, &c),
            (Verdict::Failed { after_retries: 0 }, LOOP)
        );
        assert!(!s.up);
    }

    #[test]
    fn a_running_checker_is_down_after_retry_plus_one_failures() {
        let c = tcp(2, false);
        let mut s = RetryState::start(&c);
        assert_eq!(s.record(true, &c), (Verdict::Steady, LOOP));
        assert_eq!(
            s.record(false, &c),
            (Verdict::Retrying { attempt: 1 }, RETRY)
        );
        assert_eq!(
            s.record(false, &c),
            (Verdict::Retrying { attempt: 2 }, RETRY)
        );
        assert!(s.up);
        assert_eq!(
            s.record(false, &c),
            (Verdict::Failed { after_retries: 2 }, LOOP)
        );
        assert!(!s.up);
        // Down stays down on failures, checked every delay_loop.
        assert_eq!(s.record(false, &c), (Verdict::Steady, LOOP));
        // One pass brings it back.
        assert_eq!(s.record(true, &c), (Verdict::Recovered, LOOP));
        assert!(s.up);
    }

    #[test]
    fn a_pass_between_failures_resets_the_retries() {
        let c = tcp(1, false);
        let mut s = RetryState::start(&c);
        s.record(true, &c);
        assert_eq!(
            s.record(false, &c),
            (Verdict::Retrying { attempt: 1 }, RETRY)
        );
        assert_eq!(s.record(true, &c), (Verdict::Steady, LOOP));
        assert_eq!(
            s.record(false, &c),
            (Verdict::Retrying { attempt: 1 }, RETRY)
        );
    }

    #[test]
    fn retry_zero_fails_at_the_first_failure() {
        let c = tcp(0, false);
        let mut s = RetryState::start(&c);
        s.record(true, &c);
        assert_eq!(
            s.record(false, &c),
            (Verdict::Failed { after_retries: 0 }, LOOP)
        );
    }

    #[test]
    fn alpha_starts_down_and_its_first_failure_is_reported() {
        let c = tcp(1, true);
        let mut s = RetryState::start(&c);
        assert!(!s.up);
        assert_eq!(s.record(false, &c), (Verdict::FirstRunFailed, LOOP));
        assert_eq!(s.record(false, &c), (Verdict::Steady, LOOP));
        assert_eq!(s.record(true, &c), (Verdict::Recovered, LOOP));
    }

    #[test]
    fn a_failed_http_check_waits_the_longer_delay() {
        let mut c = tcp(1, false);
        c.kind = HealthCheckKind::Http(HttpCheck {
            urls: vec![],
            protocol: HttpProtocol::Http10,
        });
        c.delay_loop = Duration::from_secs(1);
        c.delay_before_retry = Duration::from_secs(3);
        let mut s = RetryState::start(&c);
        assert_eq!(
            s.record(false, &c),
            (Verdict::Failed { after_retries: 0 }, Duration::from_secs(3))
        );
        assert_eq!(
            s.record(false, &c),
            (Verdict::Steady, Duration::from_secs(3))
        );
        assert_eq!(
            s.record(true, &c),
            (Verdict::Recovered, Duration::from_secs(1))
        );
        assert_eq!(
            s.record(false, &c),
            (Verdict::Retrying { attempt: 1 }, Duration::from_secs(3))
        );
        // TCP_CHECK keeps delay_loop while down.
        c.kind = HealthCheckKind::Tcp;
        let mut s = RetryState::start(&c);
        assert_eq!(
            s.record(false, &c),
            (Verdict::Failed { after_retries: 0 }, Duration::from_secs(1))
        );
    }
}
