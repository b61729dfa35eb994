//! A virtual service's quorum with hysteresis, as keepalived's
//! ipwrapper.c `update_quorum_state`: the sum is the effective weights of
//! the live real servers; a service with quorum loses it when the sum is 0
//! or below `quorum - hysteresis`, and one without gains it at
//! `quorum + hysteresis`, so a sum inside the band changes nothing.

/// The quorum state after the live weight became `sum`.
pub(crate) fn next(up: bool, sum: u64, quorum: u32, hysteresis: u32) -> bool {
    if up {
        let floor = u64::from(quorum.saturating_sub(hysteresis));
        !(sum == 0 || sum < floor)
    } else {
        sum >= gain_threshold(quorum, hysteresis)
    }
}

/// The state at start-up (ipwrapper.c `set_quorum_states`): up iff the
/// sum already reaches `quorum + hysteresis`.
pub(crate) fn initial(sum: u64, quorum: u32, hysteresis: u32) -> bool {
    sum >= gain_threshold(quorum, hysteresis)
}

fn gain_threshold(quorum: u32, hysteresis: u32) -> u64 {
    u64::from(quorum) + u64::from(hysteresis)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_flapping_inside_the_band() {
        // quorum 5, hysteresis 2: gained at 7, lost below 3.
        assert!(!initial(6, 5, 2));
        assert!(initial(7, 5, 2));
        for sum in 3..=6 {
            assert!(next(true, sum, 5, 2), "up stays up at {sum}");
            assert!(!next(false, sum, 5, 2), "down stays down at {sum}");
        }
        assert!(!next(true, 2, 5, 2));
        assert!(next(false, 7, 5, 2));
    }

    #[test]
    fn a_zero_sum_always_loses() {
        // quorum 1 hysteresis 1: the floor is 0, yet a sum of 0 loses.
        assert!(!next(true, 0, 1, 1));
        assert!(next(true, 1, 1, 1));
        assert!(!next(false, 1, 1, 1));
        assert!(next(false, 2, 1, 1));
    }
}
