//! The arithmetic of the figures, kept apart from the lab so it is tested:
//! what the client saw after a kill, medians and worsts, and what RFC 5798
//! says the takeover should take.

use std::time::Duration;

/// One request of lab-client.py's timeline.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    /// UNIX seconds when it started.
    pub t: f64,
    /// Seconds it took, answered or failed.
    pub d: f64,
    pub ok: bool,
}

/// An answer this fast took no SYN retransmit (Linux's first is at 1 s).
pub const AT_ONCE: f64 = 0.5;

/// What the client saw around an event at `at`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ClientSeen {
    /// Seconds from `at` to the start of the first request started after
    /// it that was answered within [`AT_ONCE`]: from then on a new
    /// connection reaches a forwarding master.
    pub at_once_after: Option<f64>,
    /// Requests started after `at`; how many of them were not answered at
    /// once (a SYN retransmitted, or failed), and how many failed.
    pub after: usize,
    pub slow_after: usize,
    /// Seconds from `at` to the start of the last request that was not
    /// answered at once: when the outage really ended.
    pub last_slow_after: Option<f64>,
    pub failed_after: usize,
    /// Requests started in the second before `at` that failed (a run
    /// whose forwarding was not settled shows here).
    pub failed_before: usize,
    pub before: usize,
}

/// Read the timeline's JSON lines (`{"t", "d", "server", "error"}`).
pub fn parse_timeline(text: &str) -> Vec<Sample> {
    text.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| {
            Some(Sample {
                t: v.get("t")?.as_f64()?,
                d: v.get("d")?.as_f64()?,
                ok: v.get("error").is_none_or(serde_json::Value::is_null),
            })
        })
        .collect()
}

pub fn client_seen(samples: &[Sample], at: f64) -> ClientSeen {
    let after: Vec<&Sample> = samples.iter().filter(|s| s.t >= at).collect();
    let before: Vec<&Sample> = samples
        .iter()
        .filter(|s| s.t < at && s.t >= at - 1.0)
        .collect();
    ClientSeen {
        at_once_after: after
            .iter()
            .filter(|s| s.ok && s.d < AT_ONCE)
            .map(|s| s.t - at)
            .reduce(f64::min),
        after: after.len(),
        slow_after: after.iter().filter(|s| !s.ok || s.d >= AT_ONCE).count(),
        last_slow_after: after
            .iter()
            .filter(|s| !s.ok || s.d >= AT_ONCE)
            .map(|s| s.t - at)
            .reduce(f64::max),
        failed_after: after.iter().filter(|s| !s.ok).count(),
        failed_before: before.iter().filter(|s| !s.ok).count(),
        before: before.len(),
    }
}

/// The median (the mean of the middle two for an even count) and the
/// largest of `xs`; `None` when empty.
pub fn median_worst(xs: &[f64]) -> Option<(f64, f64)> {
    let mut v: Vec<f64> = xs.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    let median = if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    };
    Some((median, v[v.len() - 1]))
}

/// RFC 5798 §6.1: Skew_Time = ((256 - Priority) × Master_Adver_Interval) / 256.
pub fn skew(priority: u8, advert: Duration) -> f64 {
    (256.0 - f64::from(priority)) * advert.as_secs_f64() / 256.0
}

/// RFC 5798 §6.1: Master_Down_Interval = 3 × Master_Adver_Interval + Skew_Time.
pub fn master_down(priority: u8, advert: Duration) -> f64 {
    3.0 * advert.as_secs_f64() + skew(priority, advert)
}

/// What a kill of the master should cost the backup, seen from the kill:
/// the down timer was restarted by the last advert, which left between 0
/// and one interval before the kill, so the takeover falls in
/// `[Master_Down_Interval − interval, Master_Down_Interval]`.
pub fn kill_window(priority: u8, advert: Duration) -> (f64, f64) {
    let md = master_down(priority, advert);
    (md - advert.as_secs_f64(), md)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(t: f64, d: f64, ok: bool) -> Sample {
        Sample { t, d, ok }
    }

    #[test]
    fn the_first_prompt_answer_after_the_event_counts() {
        let samples = [
            s(9.5, 0.002, true),
            s(9.9, 0.003, false),
            s(10.00, 1.02, true), // SYN retransmitted: not at once
            s(10.02, 2.0, false),
            s(10.40, 0.004, true),
            s(10.36, 0.003, true), // completes later, started earlier
            s(10.80, 0.002, true),
        ];
        let seen = client_seen(&samples, 10.0);
        assert!((seen.at_once_after.unwrap() - 0.36).abs() < 1e-9);
        assert_eq!((seen.after, seen.slow_after, seen.failed_after), (5, 2, 1));
        assert!((seen.last_slow_after.unwrap() - 0.02).abs() < 1e-9);
        assert_eq!((seen.before, seen.failed_before), (2, 1));
        assert_eq!(client_seen(&samples[..4], 10.0).at_once_after, None);
    }

    #[test]
    fn timelines_are_read_with_errors_as_failures() {
        let text = concat!(
            r#"{"t": 1.5, "d": 0.01, "server": "rs1", "error": null}"#,
            "\n",
            r#"{"t": 1.6, "d": 2.0, "server": null, "error": "timeout: no answer"}"#,
            "\nnot json\n",
        );
        assert_eq!(
            parse_timeline(text),
            [s(1.5, 0.01, true), s(1.6, 2.0, false)]
        );
    }

    #[test]
    fn medians_and_worsts() {
        assert_eq!(median_worst(&[]), None);
        assert_eq!(median_worst(&[3.0, 1.0, 2.0]), Some((2.0, 3.0)));
        assert_eq!(median_worst(&[4.0, 1.0, 3.0, 2.0]), Some((2.5, 4.0)));
        assert_eq!(median_worst(&[f64::NAN, 1.0]), Some((1.0, 1.0)));
    }

    #[test]
    fn rfc_5798_timers() {
        let a = Duration::from_secs(1);
        assert!((skew(100, a) - 0.609375).abs() < 1e-9);
        assert!((master_down(100, a) - 3.609375).abs() < 1e-9);
        let (lo, hi) = kill_window(100, Duration::from_millis(10));
        assert!((lo - 0.02609375).abs() < 1e-9 && (hi - 0.03609375).abs() < 1e-9);
    }
}
