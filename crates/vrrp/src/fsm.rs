//! The per-instance state table (RFC 5798 §6.4, RFC 3768 §6.4 the same
//! without interval adoption) with keepalived's choices where the RFCs
//! leave room (REFERENCE §8.3–8.4). Each row is a method; the RFC text it
//! implements is quoted above it. Group effects (sync groups) are in
//! `sync_group.rs`; receive checks in `check.rs`.
//!
//! | State | Event | Action (RFC 5798 §6.4 / keepalived) |
//! |---|---|---|
//! | Init | Startup, priority 255 | send advert, announce, Adver_Timer, → Master |
//! | Init | Startup, else | Master_Down_Timer := Master_Down_Interval, → Backup |
//! | Init | Startup, link or weight-0 tracker down | → Fault (keepalived) |
//! | Backup | Master_Down_Timer | send advert, announce, Adver_Timer, → Master |
//! | Backup | advert priority 0 | Master_Down_Timer := Skew_Time |
//! | Backup | advert priority ≥ ours, or Preempt_Mode false (or within preempt_delay) | (v3) adopt interval; Master_Down_Timer := Master_Down_Interval |
//! | Backup | advert priority lower, Preempt_Mode true | discard (the remaining down time runs on) |
//! | Master | Adver_Timer | send advert, restart Adver_Timer |
//! | Master | advert priority 0 | send advert, restart Adver_Timer |
//! | Master | advert higher priority, or equal and sender address greater | (v3) adopt interval; Master_Down_Timer := Master_Down_Interval; → Backup |
//! | Master | advert lower priority | send advert at once, restart Adver_Timer (RFC 9568 §6.4.3, keepalived) |
//! | Backup, Master | weight-0 tracker or own link down | (Master: send priority 0) → Fault |
//! | Fault | every fault cleared | Master_Adver_Interval := own; → Backup (an owner: → Master) |
//! | any | Shutdown | (Master: send priority 0) → Init |

use std::net::IpAddr;
use std::time::{Duration, Instant};

use xvs_wire::vrrp::{Advert, ChecksumMatch};

use crate::check::{self, Rx};
use crate::garp::Garp;
use crate::instance::{DownCause, Last};
use crate::notify;
use crate::router::Router;
use crate::timers;
use crate::track;
use crate::{Action, Reason, Reject, State};

impl Router {
    // ---- effects -------------------------------------------------------

    /// Send an advert with `priority` to the group or every peer.
    pub(crate) fn send_advert(&mut self, i: usize, priority: u8) {
        let Some(inst) = self.instances.get_mut(i) else {
            return;
        };
        let advert = inst.advert(priority);
        let checksum = inst.checksum_kind();
        for dst in inst.destinations() {
            self.actions.push_back(Action::Send {
                instance: i,
                interface: inst.cfg.interface.clone(),
                src_mac: inst.mac(),
                src: inst.env.primary,
                dst,
                advert: advert.clone(),
                checksum,
            });
        }
        inst.tally.adverts_sent += 1;
        if priority == 0 {
            inst.tally.priority_zero_sent += 1;
        }
    }

    /// `count` gratuitous ARPs / unsolicited NAs for every virtual address.
    pub(crate) fn announce(&mut self, i: usize, count: u32) {
        let Some(inst) = self.instances.get(i) else {
            return;
        };
        if inst.addresses().is_empty() {
            return;
        }
        for _ in 0..count {
            self.actions.push_back(Action::Announce {
                instance: i,
                interface: inst.cfg.interface.clone(),
                mac: inst.mac(),
                addresses: inst.addresses().to_vec(),
            });
        }
    }

    fn set_state(&mut self, i: usize, to: State, reason: Reason, now: Instant) {
        let inst = &mut self.instances[i];
        let from = inst.state;
        inst.state = to;
        if from == State::Master && to != State::Master {
            inst.tally.released_master += 1;
            inst.garp.cancel();
        }
        if to == State::Master {
            inst.tally.became_master += 1;
        }
        inst.last = Some(Last {
            at: now,
            from,
            to,
            reason: reason.clone(),
        });
        self.actions.push_back(Action::Transition {
            instance: i,
            from,
            to,
            reason,
        });
    }

    fn notify_instance(&mut self, i: usize) {
        let inst = &self.instances[i];
        for script in notify::scripts(
            &inst.cfg.notify,
            "INSTANCE",
            &inst.cfg.name,
            inst.state,
            inst.effective,
        ) {
            self.actions.push_back(Action::Notify { script });
        }
    }

    fn adver_interval(&self, i: usize) -> Duration {
        self.instances[i].own_interval()
    }

    // ---- entering a state (one instance) ---------------------------------

    /// RFC 5798 §6.4.2: "Send an ADVERTISEMENT … broadcast a gratuitous
    /// ARP request [IPv6: an unsolicited ND Neighbor Advertisement] …
    /// Set the Adver_Timer to Advertisement_Interval … Transition to the
    /// {Master} state". Order as keepalived: the advert first (the old
    /// master must drop the addresses before our GARPs), then the
    /// transition (the driver starts serving), the announcements, the
    /// notify scripts.
    pub(crate) fn enter_master(&mut self, i: usize, reason: Reason, now: Instant) {
        let priority = {
            let inst = &mut self.instances[i];
            // keepalived vrrp_state_become_master: back to our own interval.
            inst.master_adver_interval = inst.own_interval();
            inst.wants_master = true;
            inst.master = None;
            inst.preempt_until = None;
            inst.down_cause = DownCause::Silence;
            inst.effective
        };
        self.send_advert(i, priority);
        self.set_state(i, State::Master, reason, now);
        let (garp, count) = Garp::start(&self.instances[i].cfg.garp, now);
        self.instances[i].garp = garp;
        self.announce(i, count);
        self.instances[i].timer = Some(now + self.adver_interval(i));
        self.notify_instance(i);
    }

    /// → Backup with Master_Down_Timer := Master_Down_Interval. From
    /// Master no priority-0 advert is sent (keepalived
    /// `vrrp_state_leave_master(.., false)`); from Fault or Init the
    /// interval is our own again (`vrrp_state_leave_fault`). A caller
    /// that adopted a master's interval or address sets them first.
    pub(crate) fn enter_backup(&mut self, i: usize, reason: Reason, now: Instant) {
        {
            let inst = &mut self.instances[i];
            if inst.state != State::Master {
                inst.master_adver_interval = inst.own_interval();
            }
            inst.wants_master = false;
            inst.preempt_until = None;
            inst.down_cause = DownCause::Silence;
            inst.timer = Some(now + inst.master_down_interval());
        }
        self.set_state(i, State::Backup, reason, now);
        self.notify_instance(i);
    }

    /// → Fault. keepalived: a master going to FAULT sends priority 0 so a
    /// backup takes over after its skew time (`vrrp_state_leave_master`;
    /// keepalived's `down_instance` path sends it twice, once is enough).
    pub(crate) fn enter_fault(&mut self, i: usize, reason: Reason, now: Instant) {
        if self.instances[i].state == State::Master {
            self.send_advert(i, 0);
        }
        self.idle(i);
        self.set_state(i, State::Fault, reason, now);
        self.notify_instance(i);
    }

    /// RFC 5798 §6.4.3 Shutdown: "Cancel the Adver_Timer; Send an
    /// ADVERTISEMENT with Priority = 0; Transition to the {Initialize}
    /// state"; notify_stop runs for every instance (keepalived
    /// `notify_shutdown`), including one that never left Init.
    pub(crate) fn enter_init_on_shutdown(&mut self, i: usize, now: Instant) {
        if self.instances[i].state == State::Master {
            self.send_advert(i, 0);
        }
        self.idle(i);
        if self.instances[i].state != State::Init {
            self.set_state(i, State::Init, Reason::Shutdown, now);
        }
        let inst = &self.instances[i];
        for script in notify::scripts(
            &inst.cfg.notify,
            "INSTANCE",
            &inst.cfg.name,
            State::Init,
            inst.effective,
        ) {
            self.actions.push_back(Action::Notify { script });
        }
    }

    fn idle(&mut self, i: usize) {
        let inst = &mut self.instances[i];
        inst.timer = None;
        inst.garp.cancel();
        inst.master = None;
        inst.wants_master = false;
        inst.preempt_until = None;
        inst.down_cause = DownCause::Silence;
    }

    // ---- events ------------------------------------------------------

    /// Start-up of an instance outside a sync group (RFC 5798 §6.4.1).
    /// keepalived: only an owner becomes master at once; `state MASTER`
    /// alone starts as backup with the full down interval. An instance
    /// whose weight-0 scripts have not answered yet stays in Init.
    pub(crate) fn start_single(&mut self, i: usize, now: Instant) {
        let inst = &self.instances[i];
        if inst.state != State::Init || inst.pending {
            return;
        }
        if let Some(what) = inst.fault.clone() {
            self.enter_fault(i, Reason::Fault { what }, now);
        } else if inst.is_owner() {
            self.enter_master(i, Reason::Startup, now);
        } else {
            self.enter_backup(i, Reason::Startup, now);
        }
    }

    /// An advert dispatched to instance `i` (the codec accepted it).
    pub(crate) fn on_advert(
        &mut self,
        i: usize,
        rx: &Rx,
        advert: &Advert,
        sums: ChecksumMatch,
        now: Instant,
    ) {
        let inst = &mut self.instances[i];
        // keepalived ignores adverts in FAULT and before start-up.
        if !matches!(inst.state, State::Backup | State::Master) {
            return;
        }
        let passed = match check::check(inst, rx, advert, sums) {
            Ok(p) => p,
            Err(why) => {
                inst.tally.reject(why);
                return;
            }
        };
        inst.tally.adverts_received += 1;
        if passed.address_mismatch {
            // RFC 5798 §7.1 "MAY verify"; keepalived counts and goes on.
            inst.tally.reject(Reject::AddressList);
        }
        if advert.priority == 0 {
            inst.tally.priority_zero_received += 1;
        }
        match inst.state {
            State::Backup => self.backup_rx(i, rx.src, advert, now),
            State::Master => self.master_rx(i, rx.src, advert, now),
            State::Init | State::Fault => {}
        }
    }

    /// RFC 5798 §6.4.2, Backup, "If an ADVERTISEMENT is received".
    fn backup_rx(&mut self, i: usize, from: IpAddr, advert: &Advert, now: Instant) {
        let held = self.preempt_held;
        let inst = &mut self.instances[i];
        let priority = advert.priority;
        // "If the Priority in the ADVERTISEMENT is zero, then: Set the
        // Master_Down_Timer to Skew_Time".
        if priority == 0 {
            inst.timer = Some(now + inst.skew());
            inst.down_cause = DownCause::Resigned { from };
            inst.master = None;
            return;
        }
        let lower = priority < inst.effective;
        // keepalived preempt_delay: a lower-priority master is still
        // accepted until preempt_delay after the first such advert.
        let delay = inst.preempt_delay();
        let delaying = !delay.is_zero() && inst.preempt_until.is_none_or(|until| until > now);
        inst.master = Some((from, priority));
        if !lower || !inst.preempts() || delaying || held {
            // "If Preempt_Mode is False, or if the Priority in the
            // ADVERTISEMENT is greater than or equal to the local Priority,
            // then: Set Master_Adver_Interval to Adver Interval contained in
            // the ADVERTISEMENT [v3]; Recompute the Master_Down_Interval;
            // Reset the Master_Down_Timer to Master_Down_Interval".
            if inst.cfg.version == 3 {
                inst.master_adver_interval = timers::adopted_interval(advert.interval_field);
            }
            inst.timer = Some(now + inst.master_down_interval());
            inst.down_cause = DownCause::Silence;
            inst.wants_master = false;
            if !delay.is_zero() {
                if !lower {
                    inst.preempt_until = None;
                } else if inst.preempt_until.is_none() {
                    inst.preempt_until = Some(now + delay);
                }
            }
        } else {
            // "Otherwise: Discard the ADVERTISEMENT" — the timer runs on.
            inst.down_cause = DownCause::Preempting { from, priority };
        }
    }

    /// RFC 5798 §6.4.3, Master, "If an ADVERTISEMENT is received".
    fn master_rx(&mut self, i: usize, from: IpAddr, advert: &Advert, now: Instant) {
        let priority = advert.priority;
        let effective = self.instances[i].effective;
        // "If the Priority in the ADVERTISEMENT is zero, then: Send an
        // ADVERTISEMENT; Reset the Adver_Timer to Advertisement_Interval".
        if priority == 0 {
            self.send_advert(i, effective);
            self.instances[i].timer = Some(now + self.adver_interval(i));
            return;
        }
        // Another router is master too.
        let inst = &mut self.instances[i];
        // "If the Priority in the ADVERTISEMENT is greater than the local
        // Priority, or the Priority … is equal to the local Priority and
        // the primary IP Address of the sender is greater than the local
        // primary IP Address, then: Cancel Adver_Timer; Set
        // Master_Adver_Interval to Adver Interval contained in the
        // ADVERTISEMENT [v3]; Recompute …; Set Master_Down_Timer to
        // Master_Down_Interval; Transition to the {Backup} state".
        // Yielding is how a preemption ends too: not counted as split
        // brain here (the other side counts it if it was one).
        if priority > effective || (priority == effective && inst.sender_is_greater(from)) {
            if inst.cfg.version == 3 {
                inst.master_adver_interval = timers::adopted_interval(advert.interval_field);
            }
            inst.master = Some((from, priority));
            self.enter_backup(i, Reason::HigherPriority { from, priority }, now);
            self.sync_backup(i, now);
            return;
        }
        // "Otherwise: Discard the ADVERTISEMENT" (RFC 5798); RFC 9568
        // §6.4.3 and keepalived (unless lower_prio_no_advert) send an
        // advert at once so the lower-priority master yields now rather
        // than after its down interval.
        self.send_advert(i, effective);
        self.instances[i].timer = Some(now + self.adver_interval(i));
        // A lower-priority master that started before our first advert
        // could reach it (a preemption whose adverts crossed) is not a
        // split brain; one that has been master longer took the
        // addresses over — a partition, or this director stalled — and
        // the clients and real servers it announced itself to must hear
        // from us again (keepalived: garp_lower_prio_repeat, by default
        // as many as garp_master_repeat).
        let inst = &self.instances[i];
        let master_since = inst
            .last
            .as_ref()
            .filter(|l| l.to == State::Master)
            .map(|l| l.at);
        if master_since.is_some_and(|at| now.duration_since(at) >= self.adver_interval(i)) {
            let repeat = inst.cfg.garp.master_repeat;
            self.instances[i].tally.split_brain += 1;
            self.actions.push_back(Action::SplitBrain {
                instance: i,
                other: from,
                other_priority: priority,
                ours: effective,
            });
            self.announce(i, repeat);
        }
    }

    /// Instance `i`'s timer is due.
    pub(crate) fn on_timer(&mut self, i: usize, now: Instant) {
        match self.instances[i].state {
            // "If the Adver_Timer fires, then: Send an ADVERTISEMENT; Reset
            // the Adver_Timer to Advertisement_Interval".
            State::Master => {
                let effective = self.instances[i].effective;
                self.send_advert(i, effective);
                self.instances[i].timer = Some(now + self.adver_interval(i));
            }
            // "If the Master_Down_Timer fires, then: … Transition to the
            // {Master} state".
            State::Backup => {
                let reason = self.instances[i].down_cause.reason();
                self.try_master(i, reason, now);
            }
            State::Init | State::Fault => self.instances[i].timer = None,
        }
    }

    /// A backup whose down timer ran out: master, unless its sync group
    /// holds it (then it waits another down interval wanting MASTER,
    /// keepalived `vrrp_sync_can_goto_master`).
    fn try_master(&mut self, i: usize, reason: Reason, now: Instant) {
        if !self.can_goto_master(i) {
            let inst = &mut self.instances[i];
            inst.wants_master = true;
            inst.timer = Some(now + inst.master_down_interval());
            return;
        }
        self.enter_master(i, reason, now);
        self.sync_master(i, now);
    }

    /// Recompute instance `i`'s priority and faults from its trackers
    /// (no state change; see [`Router::reassess`]).
    pub(crate) fn refresh_tracking(&mut self, i: usize, now: Instant) {
        let own_up = self
            .links
            .get(&self.instances[i].cfg.interface)
            .copied()
            .unwrap_or(true);
        let a = track::assess(&self.instances[i].cfg, own_up, &self.links, &self.scripts);
        let inst = &mut self.instances[i];
        if a.priority != inst.effective {
            // keepalived vrrp_set_effective_priority: a backup's running
            // down timer moves by the change of Master_Down_Interval (the
            // skew); a master's next advert carries the new priority.
            let old = inst.master_down_interval();
            inst.effective = a.priority;
            let new = inst.master_down_interval();
            if inst.state == State::Backup {
                if let Some(t) = inst.timer {
                    inst.timer = Some(if new >= old {
                        t + (new - old)
                    } else {
                        t.checked_sub(old - new).unwrap_or(t).max(now)
                    });
                }
            }
        }
        inst.fault = a.fault;
        inst.pending = a.pending;
        inst.failing = a.failing;
    }

    /// A tracker or link changed: recompute priority and faults, and move
    /// the instance (and its group) if it must.
    pub(crate) fn reassess(&mut self, i: usize, now: Instant) {
        self.refresh_tracking(i, now);
        let inst = &self.instances[i];
        match inst.state {
            State::Init => {
                if !self.stopped {
                    self.start(i, now);
                }
            }
            State::Backup | State::Master => {
                if let Some(what) = inst.fault.clone() {
                    self.enter_fault(i, Reason::Fault { what }, now);
                    self.sync_fault(i, now);
                }
            }
            State::Fault => {
                if inst.fault.is_none() && !inst.pending {
                    self.recover(i, now);
                }
            }
        }
    }

    /// Start instance `i` (and its group, if every member is ready).
    pub(crate) fn start(&mut self, i: usize, now: Instant) {
        match self.instances[i].group {
            Some(g) => self.start_group(g, now),
            None => self.start_single(i, now),
        }
    }

    /// Every fault of `i` cleared (keepalived `try_up_instance`): back to
    /// Backup with the full down interval, an owner straight to Master; a
    /// sync-group member only once no member is faulty.
    fn recover(&mut self, i: usize, now: Instant) {
        if self.instances[i].group.is_some() {
            self.group_recover(i, now);
        } else if self.instances[i].is_owner() {
            self.enter_master(i, Reason::Recovered, now);
        } else {
            self.enter_backup(i, Reason::Recovered, now);
        }
    }
}
