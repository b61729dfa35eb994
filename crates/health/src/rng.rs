//! A small deterministic random generator (SplitMix64: Steele, Lea and
//! Flood, "Fast splittable pseudorandom number generators", 2014) for the
//! warmup spread and UDP_CHECK's random payload. keepalived uses
//! `random()`; nothing here needs cryptographic strength, only a stream
//! that a test can reproduce from its seed.

use std::time::Duration;

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    pub(crate) fn new(seed: u64) -> SplitMix64 {
        SplitMix64 { state: seed }
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, max]`, both ends included, as keepalived's
    /// `warmup * random() / RAND_MAX` (register_checkers_thread).
    pub(crate) fn duration_up_to(&mut self, max: Duration) -> Duration {
        let max_ns = u64::try_from(max.as_nanos()).unwrap_or(u64::MAX);
        let scaled = u128::from(max_ns) * u128::from(self.next_u64()) / u128::from(u64::MAX);
        // scaled <= max_ns, so it fits.
        Duration::from_nanos(u64::try_from(scaled).unwrap_or(max_ns))
    }

    /// 16 random bytes: UDP_CHECK's payload when none is configured.
    pub(crate) fn bytes16(&mut self) -> [u8; 16] {
        let mut out = [0u8; 16];
        out[..8].copy_from_slice(&self.next_u64().to_le_bytes());
        out[8..].copy_from_slice(&self.next_u64().to_le_bytes());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_outputs_for_seed_zero() {
        // The published first outputs of SplitMix64 seeded with 0.
        let mut r = SplitMix64::new(0);
        assert_eq!(r.next_u64(), 0xe220_a839_7b1d_cdaf);
        assert_eq!(r.next_u64(), 0x6e78_9e6a_a1b9_65f4);
    }

    #[test]
    fn durations_stay_within_bounds() {
        let mut r = SplitMix64::new(42);
        let max = Duration::from_secs(60);
        let draws: Vec<Duration> = (0..1000).map(|_| r.duration_up_to(max)).collect();
        assert!(draws.iter().all(|d| *d <= max));
        // Spread over the range, not stuck at one end.
        assert!(draws.iter().any(|d| *d < Duration::from_secs(10)));
        assert!(draws.iter().any(|d| *d > Duration::from_secs(50)));
        assert_eq!(r.duration_up_to(Duration::ZERO), Duration::ZERO);
    }
}
