//! Timer arithmetic of RFC 3768 §6.1 / RFC 5798 §6.1 in keepalived's
//! units (`include/vrrp.h`: `VRRP_TIMER_SKEW`, `VRRP_MS_DOWN_TIMER`):
//! microseconds, truncating divisions, the effective priority (255 for
//! an address owner) and `down_timer_adverts` instead of the RFC's 3.
//!
//! Pure functions: the state table asks, nothing here keeps time.

use std::time::Duration;

/// RFC 5798 §6.1 Skew_Time for `priority` at `master_adver_interval`.
///
/// VRRPv2 (RFC 3768 §6.1): `(256 − Priority) / 256` seconds, whatever the
/// interval. VRRPv3: `((256 − Priority) × Master_Adver_Interval) / 256`,
/// which keepalived computes from centiseconds as `(256 − p) · cs · 625 / 16`
/// µs (exact: 10 000 / 256 = 625 / 16).
pub(crate) fn skew(version: u8, priority: u8, master_adver_interval: Duration) -> Duration {
    skew_term(version, 256 - u64::from(priority), master_adver_interval)
}

/// keepalived's `VRRP_TIMER_SKEW_MIN`: the skew with a priority term of 1,
/// the shortest wait of a sync-group member that wants MASTER at start-up.
pub(crate) fn skew_min(version: u8, master_adver_interval: Duration) -> Duration {
    skew_term(version, 1, master_adver_interval)
}

fn skew_term(version: u8, term: u64, master_adver_interval: Duration) -> Duration {
    let micros = if version == 2 {
        term * 1_000_000 / 256
    } else {
        term * centiseconds(master_adver_interval) * 625 / 16
    };
    Duration::from_micros(micros)
}

/// RFC 5798 §6.1 Master_Down_Interval: `down_timer_adverts ·
/// Master_Adver_Interval + Skew_Time` (the RFC's multiplier is 3, the
/// default of keepalived's `down_timer_adverts`).
pub(crate) fn master_down_interval(
    version: u8,
    priority: u8,
    master_adver_interval: Duration,
    down_timer_adverts: u32,
) -> Duration {
    master_adver_interval.saturating_mul(down_timer_adverts.max(1))
        + skew(version, priority, master_adver_interval)
}

/// Whole centiseconds of `d` (the VRRPv3 interval unit).
pub(crate) fn centiseconds(d: Duration) -> u64 {
    u64::try_from(d.as_millis() / 10).unwrap_or(u64::MAX / 1_000_000)
}

/// The advert's interval field for a configured interval: VRRPv2 whole
/// seconds in 8 bits (RFC 3768 §5.3.7), VRRPv3 centiseconds in 12 bits
/// (RFC 5798 §5.2.7); at least 1 either way (the configuration rejects
/// anything outside the field, this only keeps a bad value from wrapping).
pub(crate) fn interval_field(version: u8, interval: Duration) -> u16 {
    if version == 2 {
        u16::try_from(interval.as_secs().clamp(1, 255)).unwrap_or(255)
    } else {
        u16::try_from(centiseconds(interval).clamp(1, 4095)).unwrap_or(4095)
    }
}

/// The interval a received VRRPv3 advert asks backups to adopt (RFC 5798
/// §6.4.2). A zero field would make the down timer nothing but the skew;
/// it is read as the smallest interval, 1 cs.
pub(crate) fn adopted_interval(interval_field: u16) -> Duration {
    Duration::from_millis(u64::from(interval_field.clamp(1, 4095)) * 10)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_values() {
        // REFERENCE §8.2: prio 100, 1 s → skew 0.609375 s, down 3.609375 s.
        let s = Duration::from_secs(1);
        assert_eq!(skew(2, 100, s), Duration::from_micros(609_375));
        assert_eq!(skew(3, 100, s), Duration::from_micros(609_375));
        assert_eq!(
            master_down_interval(2, 100, s, 3),
            Duration::from_micros(3_609_375)
        );
        assert_eq!(
            master_down_interval(3, 100, s, 3),
            Duration::from_micros(3_609_375)
        );
    }

    #[test]
    fn v2_skew_ignores_the_interval_v3_scales_with_it() {
        let s5 = Duration::from_secs(5);
        assert_eq!(skew(2, 100, s5), Duration::from_micros(609_375));
        assert_eq!(skew(3, 100, s5), Duration::from_micros(3_046_875));
        // 255 − 1 = 255 · 10^6 / 256 µs, truncated.
        assert_eq!(
            skew(2, 1, Duration::from_secs(1)),
            Duration::from_micros(996_093)
        );
        assert_eq!(
            skew(2, 255, Duration::from_secs(1)),
            Duration::from_micros(3_906)
        );
        // v3 50 cs, prio 200: 56 · 50 · 625 / 16 = 109 375 µs.
        assert_eq!(
            skew(3, 200, Duration::from_millis(500)),
            Duration::from_micros(109_375)
        );
        assert_eq!(
            skew_min(2, Duration::from_secs(1)),
            Duration::from_micros(3_906)
        );
        assert_eq!(
            skew_min(3, Duration::from_secs(1)),
            Duration::from_micros(3_906)
        );
    }

    #[test]
    fn down_timer_adverts_multiplies_the_interval() {
        let s = Duration::from_secs(1);
        assert_eq!(
            master_down_interval(2, 100, s, 1),
            Duration::from_micros(1_609_375)
        );
        assert_eq!(
            master_down_interval(2, 100, s, 10),
            Duration::from_micros(10_609_375)
        );
        // A zero multiplier (never valid) behaves as 1.
        assert_eq!(
            master_down_interval(2, 100, s, 0),
            Duration::from_micros(1_609_375)
        );
    }

    #[test]
    fn interval_fields() {
        assert_eq!(interval_field(2, Duration::from_secs(1)), 1);
        assert_eq!(interval_field(2, Duration::from_secs(300)), 255);
        assert_eq!(interval_field(2, Duration::ZERO), 1);
        assert_eq!(interval_field(3, Duration::from_millis(1230)), 123);
        assert_eq!(interval_field(3, Duration::from_secs(100)), 4095);
        assert_eq!(adopted_interval(0), Duration::from_millis(10));
        assert_eq!(adopted_interval(250), Duration::from_millis(2500));
    }
}
