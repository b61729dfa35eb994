//! MISC_CHECK, sans-IO: what a finished program's exit means, as
//! keepalived's check_misc.c (misc_check_child_thread) reads it. Running
//! the program, the misc_timeout and the SIGTERM/SIGKILL that follow it
//! are the engine's.
//!
//! Layer: health (pure).

use crate::spec::{DynamicWeight, Outcome};

/// Judges how a MISC_CHECK program ended: its exit `code`, or the
/// `signal` that killed it, and whether that kill was ours (`timed_out`).
///
/// Exit 0 passes. Without `dynamic`, any other exit fails. With
/// `misc_dynamic`, exit 1 fails and 2-255 pass with the real server's
/// weight set to `status - 2`; exit 0 passes with no weight (keepalived
/// then puts the configured weight back). A program we killed at the
/// timeout fails whatever it returned, as the contract in `spec` says
/// (keepalived would still take a 0 from a program that caught SIGTERM).
pub fn exit_outcome(
    code: Option<i32>,
    signal: Option<i32>,
    timed_out: bool,
    dynamic: bool,
) -> Outcome {
    if timed_out {
        return Outcome::fail("timed out after the misc_timeout");
    }
    match (code, signal) {
        (Some(0), _) => Outcome::pass(),
        (Some(status @ 2..=255), _) if dynamic => Outcome::Pass {
            // 2..=255, so status - 2 is 0..=253.
            weight: Some(DynamicWeight::Set(status.unsigned_abs() - 2)),
        },
        (Some(status), _) => Outcome::fail(format!("exit status {status}")),
        (None, Some(signal)) => match signal_name(signal) {
            Some(name) => Outcome::fail(format!("killed by signal {signal} ({name})")),
            None => Outcome::fail(format!("killed by signal {signal}")),
        },
        (None, None) => Outcome::fail("ended with neither an exit status nor a signal"),
    }
}

/// Names of the signals that usually end a check program (Linux numbers,
/// signal(7)).
fn signal_name(signal: i32) -> Option<&'static str> {
    Some(match signal {
        1 => "SIGHUP",
        2 => "SIGINT",
        3 => "SIGQUIT",
        4 => "SIGILL",
        6 => "SIGABRT",
        7 => "SIGBUS",
        8 => "SIGFPE",
        9 => "SIGKILL",
        11 => "SIGSEGV",
        13 => "SIGPIPE",
        14 => "SIGALRM",
        15 => "SIGTERM",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn set(weight: u32) -> Outcome {
        Outcome::Pass {
            weight: Some(DynamicWeight::Set(weight)),
        }
    }

    #[test]
    fn exit_zero_passes_without_a_weight() {
        assert_eq!(exit_outcome(Some(0), None, false, false), Outcome::pass());
        assert_eq!(exit_outcome(Some(0), None, false, true), Outcome::pass());
    }

    #[test]
    fn plain_check_fails_on_any_other_exit() {
        for status in [1, 2, 3, 127, 255] {
            assert_eq!(
                exit_outcome(Some(status), None, false, false),
                Outcome::fail(format!("exit status {status}"))
            );
        }
    }

    #[test]
    fn dynamic_exit_one_fails() {
        assert_eq!(
            exit_outcome(Some(1), None, false, true),
            Outcome::fail("exit status 1")
        );
    }

    #[test]
    fn dynamic_exit_sets_the_weight_to_status_minus_two() {
        assert_eq!(exit_outcome(Some(2), None, false, true), set(0));
        assert_eq!(exit_outcome(Some(12), None, false, true), set(10));
        assert_eq!(exit_outcome(Some(255), None, false, true), set(253));
    }

    #[test]
    fn statuses_outside_a_byte_fail() {
        // WEXITSTATUS is 0-255; anything else is a caller's mistake.
        assert_eq!(
            exit_outcome(Some(256), None, false, true),
            Outcome::fail("exit status 256")
        );
        assert_eq!(
            exit_outcome(Some(-1), None, false, true),
            Outcome::fail("exit status -1")
        );
    }

    #[test]
    fn our_kill_at_the_timeout_fails_as_a_timeout() {
        let want = Outcome::fail("timed out after the misc_timeout");
        assert_eq!(exit_outcome(None, Some(15), true, false), want);
        assert_eq!(exit_outcome(None, Some(9), true, true), want);
        assert_eq!(exit_outcome(Some(0), None, true, false), want);
    }

    #[test]
    fn other_kills_fail_with_the_signal() {
        assert_eq!(
            exit_outcome(None, Some(11), false, false),
            Outcome::fail("killed by signal 11 (SIGSEGV)")
        );
        assert_eq!(
            exit_outcome(None, Some(64), false, true),
            Outcome::fail("killed by signal 64")
        );
    }

    #[test]
    fn no_status_at_all_fails() {
        assert!(!exit_outcome(None, None, false, false).is_pass());
    }

    proptest! {
        /// Model: passes exactly on 0, and on 2-255 with misc_dynamic.
        #[test]
        fn verdict_follows_the_model(
            code in proptest::option::of(any::<i32>()),
            signal in proptest::option::of(any::<i32>()),
            timed_out in any::<bool>(),
            dynamic in any::<bool>(),
        ) {
            let got = exit_outcome(code, signal, timed_out, dynamic);
            let good_exit = match code {
                Some(0) => true,
                Some(2..=255) => dynamic,
                _ => false,
            };
            prop_assert_eq!(got.is_pass(), good_exit && !timed_out);
        }
    }
}
