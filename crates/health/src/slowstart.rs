//! Slowstart, from HAProxy (keepalived has none): a real server that
//! comes back does not take its full share of new connections at once;
//! its weight ramps from 1 to its effective weight `W` over the period
//! `T`: `w(t) = max(1, ceil(W·t/T))`, `W` from `t ≥ T` on. A weight of 0
//! stays 0. The ramp advances by timers, each at the instant the integer
//! weight next changes, but never closer than [`MIN_STEP`] to the last
//! step (each step publishes a new forwarding plan).

use std::time::{Duration, Instant};

/// The least time between two steps of a ramp.
pub const MIN_STEP: Duration = Duration::from_millis(250);

/// The ramped weight `elapsed` into a ramp of `period` towards `full`.
pub fn ramp_weight(full: u32, elapsed: Duration, period: Duration) -> u32 {
    if full == 0 {
        return 0;
    }
    if elapsed >= period {
        return full;
    }
    let t = elapsed.as_nanos();
    let p = period.as_nanos(); // > elapsed >= 0, so non-zero
    let w = (u128::from(full) * t).div_ceil(p);
    // w <= full since t < p.
    u32::try_from(w).unwrap_or(full).max(1)
}

/// The time into the ramp at which [`ramp_weight`] next changes after
/// `elapsed`; `None` once it is full.
pub fn next_change(full: u32, elapsed: Duration, period: Duration) -> Option<Duration> {
    let k = ramp_weight(full, elapsed, period);
    if k >= full {
        return None;
    }
    // ceil(W·t/T) exceeds k just after t = k·T/W.
    let ns = u128::from(k) * period.as_nanos() / u128::from(full) + 1;
    Some(Duration::from_nanos(u64::try_from(ns).unwrap_or(u64::MAX)))
}

/// A ramp in progress.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Ramp {
    pub start: Instant,
    pub period: Duration,
    /// The weight it gives now.
    pub current: u32,
    /// When it next steps.
    pub next: Instant,
}

impl Ramp {
    /// A ramp that starts at `now`, or `None` when there is nothing to
    /// ramp (a full weight of 0 or 1, or no period).
    pub(crate) fn begin(full: u32, period: Duration, now: Instant) -> Option<Ramp> {
        let mut ramp = Ramp {
            start: now,
            period,
            current: 0,
            next: now,
        };
        ramp.step(full, now).then_some(ramp)
    }

    /// Recompute at `now` (a timer, or a change of the full weight);
    /// false once the ramp is over.
    pub(crate) fn step(&mut self, full: u32, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.start);
        self.current = ramp_weight(full, elapsed, self.period);
        let Some(at) = next_change(full, elapsed, self.period) else {
            return false;
        };
        let change = self.start.checked_add(at);
        let floor = now.checked_add(MIN_STEP);
        self.next = match (change, floor) {
            (Some(c), Some(f)) => c.max(f),
            (Some(c), None) => c,
            (None, Some(f)) => f,
            (None, None) => now,
        };
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn ramp_values_follow_the_formula() {
        let t = 10 * S;
        assert_eq!(ramp_weight(100, Duration::ZERO, t), 1);
        assert_eq!(ramp_weight(100, Duration::from_millis(1), t), 1);
        assert_eq!(ramp_weight(100, S, t), 10);
        assert_eq!(ramp_weight(100, Duration::from_millis(1001), t), 11);
        assert_eq!(ramp_weight(100, 5 * S, t), 50);
        assert_eq!(ramp_weight(100, 10 * S, t), 100);
        assert_eq!(ramp_weight(100, 60 * S, t), 100);
        assert_eq!(ramp_weight(0, S, t), 0, "weight 0 stays 0");
        assert_eq!(ramp_weight(3, Duration::ZERO, t), 1);
    }

    #[test]
    fn next_change_is_just_after_each_integer_step() {
        let t = 10 * S;
        // W = 4: 1 until 2.5 s, 2 until 5 s, 3 until 7.5 s, then 4.
        let at = next_change(4, Duration::ZERO, t).unwrap();
        assert_eq!(at, Duration::from_millis(2500) + Duration::from_nanos(1));
        assert_eq!(ramp_weight(4, at, t), 2);
        assert_eq!(ramp_weight(4, at - Duration::from_nanos(1), t), 1);
        let at = next_change(4, at, t).unwrap();
        assert_eq!(at, 5 * S + Duration::from_nanos(1));
        assert_eq!(next_change(4, 10 * S, t), None);
    }

    #[test]
    fn steps_are_at_least_a_quarter_second_apart() {
        let base = Instant::now();
        // W = 1000 over 1 s would change every millisecond.
        let mut ramp = Ramp::begin(1000, S, base).unwrap();
        assert_eq!(ramp.current, 1);
        assert_eq!(ramp.next, base + MIN_STEP);
        let mut now = ramp.next;
        let mut steps = vec![ramp.current];
        while ramp.step(1000, now) {
            steps.push(ramp.current);
            assert!(ramp.next >= now + MIN_STEP);
            now = ramp.next;
        }
        steps.push(ramp.current);
        assert_eq!(steps, [1, 250, 500, 750, 1000]);
    }

    #[test]
    fn nothing_to_ramp_for_weights_zero_and_one() {
        let base = Instant::now();
        assert!(Ramp::begin(0, S, base).is_none());
        assert!(Ramp::begin(1, S, base).is_none());
        assert!(Ramp::begin(2, S, base).is_some());
        assert!(Ramp::begin(2, Duration::ZERO, base).is_none());
    }
}
