//! Tracking: `vrrp_script` results with keepalived's rise/fall counter,
//! tracked interfaces, and what they make of an instance — its effective
//! priority, a FAULT, or a hold in Init until every weight-0 script has
//! answered once (keepalived `vrrp_track.c`, `vrrp_scheduler.c`
//! `vrrp_script_child_thread`; REFERENCE §8.4 "Tracking").

use std::collections::HashMap;
use std::time::{Duration, Instant};

use xvs_config::{VrrpInstance, VrrpScript};

/// How long after its timeout a run that never reported is given up: the
/// driver escalates TERM, KILL, KILL over 2 + 2 + 10 s as keepalived does,
/// and should report a failure; this only keeps a lost result from
/// stopping the script for good.
const LOST_RUN_GRACE: Duration = Duration::from_secs(15);

/// The shortest script interval scheduled (a zero interval, never valid,
/// must not spin the timer loop).
const MIN_SCRIPT_INTERVAL: Duration = Duration::from_millis(10);

/// One `vrrp_script`, shared by every instance that tracks it.
#[derive(Debug)]
pub(crate) struct ScriptState {
    pub(crate) cfg: VrrpScript,
    /// keepalived's `result`: `0..rise+fall`; the script is up while
    /// `result >= rise`.
    result: u32,
    /// No result yet (keepalived `SCRIPT_INIT_STATE_INIT`): the first
    /// result decides either way ("one success is enough").
    initial: bool,
    /// Next run; None if no instance tracks the script.
    pub(crate) next_run: Option<Instant>,
    /// A run is out (its result not yet back) since.
    running_since: Option<Instant>,
}

impl ScriptState {
    pub(crate) fn new(cfg: VrrpScript, used: bool, now: Instant) -> ScriptState {
        let rise = cfg.rise.max(1);
        ScriptState {
            cfg,
            // keepalived vrrp_init_script: `result = rise - 1`, one success
            // is enough (no init_fail in our configuration).
            result: rise - 1,
            initial: true,
            // keepalived runs every tracked script at start-up.
            next_run: used.then_some(now),
            running_since: None,
        }
    }

    fn rise(&self) -> u32 {
        self.cfg.rise.max(1)
    }

    fn fall(&self) -> u32 {
        self.cfg.fall.max(1)
    }

    /// Up, down, or not known yet.
    pub(crate) fn up(&self) -> Option<bool> {
        (!self.initial).then_some(self.result >= self.rise())
    }

    /// The script's timer fired: run it unless the last run is still out
    /// (keepalived: "already running - skipping run"). Returns whether to
    /// run it now.
    pub(crate) fn due(&mut self, now: Instant) -> bool {
        let interval = self.cfg.interval.max(MIN_SCRIPT_INTERVAL);
        self.next_run = Some(now + interval);
        if let Some(since) = self.running_since {
            if now < since + self.cfg.timeout + LOST_RUN_GRACE {
                return false;
            }
        }
        self.running_since = Some(now);
        true
    }

    /// A run finished. keepalived's counter: successes climb to `rise`
    /// (then jump to `rise + fall − 1`), failures fall back to `rise`
    /// (then reset to 0); a result contrary to the state restarts the
    /// count. Returns whether the script changed between up and down (or
    /// gave its first result).
    pub(crate) fn record(&mut self, success: bool) -> bool {
        self.running_since = None;
        let (rise, fall) = (self.rise(), self.fall());
        let before = self.up();
        if success {
            if self.result < rise - 1 {
                self.result += 1;
            } else {
                self.result = rise + fall - 1;
            }
        } else if self.result > rise {
            self.result -= 1;
        } else {
            self.result = 0;
        }
        self.initial = false;
        self.up() != before
    }
}

/// What an instance's trackers make of it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Assessment {
    /// Why it must be in FAULT (the first reason), if it must.
    pub(crate) fault: Option<String>,
    /// A weight-0 script has not answered yet (keepalived
    /// `num_script_init`): the instance waits in Init.
    pub(crate) pending: bool,
    /// The effective priority (base for an owner).
    pub(crate) priority: u8,
    /// Failing trackers by name, for `status`.
    pub(crate) failing: Vec<String>,
}

/// Assess instance `cfg` given its own link, the tracked links (absent =
/// up) and the scripts.
///
/// Priority (keepalived `vrrp_set_effective_priority` and
/// `process_script_update_priority`): base + Σ over weighted trackers of
/// `w` when a positive-weight tracker is up or a negative-weight tracker
/// is down, negated by `reverse` (keepalived multiplies by −1: a reversed
/// positive weight lowers the priority while the script is up), clamped to
/// 1..=254; an owner's 255 never moves. A weight-0 tracker down (for a
/// reversed weight-0 script: up) means FAULT.
pub(crate) fn assess(
    cfg: &VrrpInstance,
    own_link_up: bool,
    links: &HashMap<String, bool>,
    scripts: &[ScriptState],
) -> Assessment {
    let mut out = Assessment::default();
    let mut sum: i64 = 0;
    if !own_link_up {
        out.fault = Some(format!("interface {} down", cfg.interface));
        out.failing.push(cfg.interface.clone());
    }
    for t in &cfg.track_interfaces {
        let up = if t.name == cfg.interface {
            own_link_up
        } else {
            links.get(&t.name).copied().unwrap_or(true)
        };
        if !up && !out.failing.contains(&t.name) {
            out.failing.push(t.name.clone());
        }
        match t.weight {
            0 if !up => {
                out.fault
                    .get_or_insert_with(|| format!("interface {} down", t.name));
            }
            w if w > 0 && up => sum += i64::from(w),
            w if w < 0 && !up => sum += i64::from(w),
            _ => {}
        }
    }
    for t in &cfg.track_scripts {
        let Some(script) = scripts.get(t.script) else {
            continue;
        };
        let name = &script.cfg.name;
        let Some(up) = script.up() else {
            if t.weight == 0 {
                out.pending = true;
            }
            continue;
        };
        // keepalived: the script lowers the instance when down, or when
        // up if reversed.
        if up == t.reverse && !out.failing.contains(name) {
            out.failing.push(name.clone());
        }
        if t.weight == 0 {
            if up == t.reverse {
                out.fault.get_or_insert_with(|| {
                    if t.reverse {
                        format!("script {name} succeeded (reverse)")
                    } else {
                        format!("script {name} failed")
                    }
                });
            }
            continue;
        }
        let w = i64::from(t.weight);
        let contribution = match (w > 0, up) {
            (true, true) | (false, false) => w,
            _ => 0,
        };
        sum += if t.reverse {
            -contribution
        } else {
            contribution
        };
    }
    out.priority = if cfg.priority == 255 {
        255
    } else {
        // Clamped to 1..=254, so the cast cannot truncate.
        (i64::from(cfg.priority) + sum).clamp(1, 254) as u8
    };
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use xvs_config::Script;

    fn script(rise: u32, fall: u32) -> ScriptState {
        ScriptState::new(
            VrrpScript {
                name: "chk".into(),
                script: Script {
                    argv: vec!["/bin/true".into()],
                    user: None,
                    group: None,
                },
                interval: Duration::from_secs(1),
                timeout: Duration::from_secs(1),
                weight: 0,
                rise,
                fall,
            },
            true,
            Instant::now(),
        )
    }

    #[test]
    fn first_result_decides_either_way() {
        let mut s = script(3, 3);
        assert_eq!(s.up(), None);
        assert!(s.record(true));
        assert_eq!(s.up(), Some(true));
        let mut s = script(3, 3);
        assert!(s.record(false));
        assert_eq!(s.up(), Some(false));
    }

    #[test]
    fn fall_failures_to_go_down_rise_successes_to_come_back() {
        let mut s = script(2, 3);
        s.record(true);
        assert!(!s.record(false));
        assert!(!s.record(false));
        // A success in between restarts the fall count.
        assert!(!s.record(true));
        assert!(!s.record(false));
        assert!(!s.record(false));
        assert!(s.record(false));
        assert_eq!(s.up(), Some(false));
        assert!(!s.record(true));
        // A failure restarts the rise count.
        assert!(!s.record(false));
        assert!(!s.record(true));
        assert!(s.record(true));
        assert_eq!(s.up(), Some(true));
    }

    #[test]
    fn a_run_still_out_is_skipped_until_given_up() {
        let t0 = Instant::now();
        let mut s = script(1, 1);
        assert!(s.due(t0));
        assert_eq!(s.next_run, Some(t0 + Duration::from_secs(1)));
        assert!(!s.due(t0 + Duration::from_secs(1)));
        s.record(true);
        assert!(s.due(t0 + Duration::from_secs(2)));
        assert!(s.due(t0 + Duration::from_secs(2) + Duration::from_secs(1) + LOST_RUN_GRACE));
    }
}
