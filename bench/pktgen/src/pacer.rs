//! Rate limiting for `--pps`: how many packets the generator may send now,
//! given how long it has run and how many it has sent. Pure (time is an
//! argument) so it is tested without a clock. Falling behind is made up in
//! batches of at most `want`, so the long-run rate is the target rate as
//! long as the generator can reach it.

/// The target rate, or none for flat out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pacer {
    pps: Option<u64>,
}

impl Pacer {
    /// `pps` = 0 means flat out.
    pub fn new(pps: u64) -> Pacer {
        Pacer {
            pps: (pps > 0).then_some(pps),
        }
    }

    pub fn is_limited(&self) -> bool {
        self.pps.is_some()
    }

    /// Packets allowed now, at most `want`: those due by `elapsed_ns` at the
    /// target rate that have not been sent yet.
    pub fn allowance(&self, elapsed_ns: u64, sent: u64, want: u64) -> u64 {
        let Some(pps) = self.pps else {
            return want;
        };
        // u128: pps × ns overflows u64 after a few seconds at Mpps rates.
        let due = u128::from(pps) * u128::from(elapsed_ns) / 1_000_000_000;
        let due = u64::try_from(due).unwrap_or(u64::MAX);
        due.saturating_sub(sent).min(want)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flat_out_always_allows_the_whole_batch() {
        let p = Pacer::new(0);
        assert!(!p.is_limited());
        assert_eq!(p.allowance(0, u64::MAX, 64), 64);
    }

    #[test]
    fn a_limited_rate_releases_packets_as_time_passes() {
        let p = Pacer::new(1_000_000); // one per microsecond
        assert_eq!(p.allowance(0, 0, 64), 0);
        assert_eq!(p.allowance(10_000, 0, 64), 10);
        assert_eq!(p.allowance(10_000, 10, 64), 0);
        // Far behind: catch up one batch at a time.
        assert_eq!(p.allowance(1_000_000, 10, 64), 64);
        // Ten seconds in, exactly ten million due.
        assert_eq!(p.allowance(10_000_000_000, 9_999_990, 64), 10);
    }

    #[test]
    fn simulated_run_keeps_the_target_rate() {
        // A generator that could send 64 packets every 10 µs (6.4 Mpps),
        // limited to 250 kpps for one simulated second.
        let p = Pacer::new(250_000);
        let mut sent = 0u64;
        let mut t = 0u64;
        while t < 1_000_000_000 {
            sent += p.allowance(t, sent, 64);
            t += 10_000;
        }
        assert!((249_900..=250_000).contains(&sent), "{sent}");
    }
}
