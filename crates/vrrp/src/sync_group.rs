//! Sync groups (keepalived `vrrp_sync.c`; REFERENCE §8.4 "Sync groups"):
//! members change state together.
//!
//! | Event | Effect |
//! |---|---|
//! | start-up | all FAULT if one is faulty; all MASTER if all are owners; else all BACKUP (members that want MASTER wait one interval + the minimal skew) |
//! | member's down timer runs out | MASTER only if every other member wants MASTER (else held in BACKUP, wanting it), then all go MASTER |
//! | member MASTER → BACKUP | every master member → BACKUP |
//! | member → FAULT | every other member → FAULT |
//! | last faulty member recovers | all → BACKUP |
//!
//! The group's own notify scripts run when the group's state changes.

use std::time::Instant;

use xvs_config::VrrpSyncGroup;

use crate::notify;
use crate::router::Router;
use crate::timers;
use crate::{Action, Reason, State};

#[derive(Debug)]
pub(crate) struct Group {
    pub(crate) cfg: VrrpSyncGroup,
    /// keepalived `sgroup->state` (Init until started).
    pub(crate) state: State,
    /// Valid member indices (out-of-range or doubly-grouped ones dropped).
    pub(crate) members: Vec<usize>,
}

impl Router {
    fn group_members(&self, i: usize) -> Option<(usize, Vec<usize>)> {
        let g = self.instances.get(i)?.group?;
        Some((g, self.groups.get(g)?.members.clone()))
    }

    fn set_group_state(&mut self, g: usize, state: State) {
        let Some(group) = self.groups.get_mut(g) else {
            return;
        };
        if group.state == state {
            return;
        }
        group.state = state;
        for script in notify::scripts(&group.cfg.notify, "GROUP", &group.cfg.name, state, 0) {
            self.actions.push_back(Action::Notify { script });
        }
    }

    fn sync_reason(&self, i: usize) -> Reason {
        Reason::SyncGroup {
            member: self.instances[i].cfg.name.clone(),
        }
    }

    /// Start every member of group `g` once none waits for a first script
    /// result (keepalived holds the group while `num_member_init`).
    pub(crate) fn start_group(&mut self, g: usize, now: Instant) {
        let Some(members) = self.groups.get(g).map(|gr| gr.members.clone()) else {
            return;
        };
        let ready = |r: &Router, m: usize| r.instances[m].state == State::Init;
        if members.iter().any(|&m| self.instances[m].pending)
            || !members.iter().all(|&m| ready(self, m))
        {
            return;
        }
        if let Some(&faulty) = members.iter().find(|&&m| self.instances[m].fault.is_some()) {
            let by = self.sync_reason(faulty);
            for &m in &members {
                let reason = match self.instances[m].fault.clone() {
                    Some(what) => Reason::Fault { what },
                    None => by.clone(),
                };
                self.enter_fault(m, reason, now);
            }
            self.set_group_state(g, State::Fault);
        } else if members.iter().all(|&m| self.instances[m].is_owner()) {
            for &m in &members {
                self.enter_master(m, Reason::Startup, now);
            }
            self.set_group_state(g, State::Master);
        } else {
            for &m in &members {
                let wants = {
                    let inst = &self.instances[m];
                    inst.is_owner() || inst.cfg.initial_master
                };
                self.enter_backup(m, Reason::Startup, now);
                if wants {
                    // keepalived vrrp_init_state: "We need to allow one
                    // adver_int to pass to ensure there is no other master".
                    let inst = &mut self.instances[m];
                    inst.wants_master = true;
                    inst.timer = Some(
                        now + inst.master_adver_interval
                            + timers::skew_min(inst.cfg.version, inst.master_adver_interval),
                    );
                }
            }
            self.set_group_state(g, State::Backup);
        }
    }

    /// keepalived `vrrp_sync_can_goto_master`: alone, or the group is
    /// master, or every other member is master or wants to be.
    pub(crate) fn can_goto_master(&self, i: usize) -> bool {
        let Some((g, members)) = self.group_members(i) else {
            return true;
        };
        if self.groups[g].state == State::Master {
            return true;
        }
        members.iter().filter(|&&m| m != i).all(|&m| {
            let o = &self.instances[m];
            o.state == State::Master || (o.state == State::Backup && o.wants_master)
        })
    }

    /// `i` became master: the rest follow (keepalived `vrrp_sync_master`).
    pub(crate) fn sync_master(&mut self, i: usize, now: Instant) {
        let Some((g, members)) = self.group_members(i) else {
            return;
        };
        let reason = self.sync_reason(i);
        for m in members {
            if m != i && self.instances[m].state == State::Backup {
                self.enter_master(m, reason.clone(), now);
            }
        }
        self.set_group_state(g, State::Master);
    }

    /// `i` left master for backup: every master member follows without a
    /// priority-0 advert (keepalived `vrrp_sync_backup`).
    pub(crate) fn sync_backup(&mut self, i: usize, now: Instant) {
        let Some((g, members)) = self.group_members(i) else {
            return;
        };
        let reason = self.sync_reason(i);
        for m in members {
            if m != i && self.instances[m].state == State::Master {
                self.enter_backup(m, reason.clone(), now);
            }
        }
        self.set_group_state(g, State::Backup);
    }

    /// `i` went to fault: every other member follows (keepalived
    /// `vrrp_sync_fault`; a master member sends priority 0).
    pub(crate) fn sync_fault(&mut self, i: usize, now: Instant) {
        let Some((g, members)) = self.group_members(i) else {
            return;
        };
        let reason = self.sync_reason(i);
        for m in members {
            if m != i && matches!(self.instances[m].state, State::Backup | State::Master) {
                self.enter_fault(m, reason.clone(), now);
            }
        }
        self.set_group_state(g, State::Fault);
    }

    /// `i`'s own faults cleared: if no member is still faulty, the whole
    /// group comes back to BACKUP (keepalived `try_up_instance` with
    /// `num_member_fault`, then `vrrp_sync_backup`).
    pub(crate) fn group_recover(&mut self, i: usize, now: Instant) {
        let Some((g, members)) = self.group_members(i) else {
            return;
        };
        if members
            .iter()
            .any(|&m| self.instances[m].fault.is_some() || self.instances[m].pending)
        {
            return;
        }
        let by = self.sync_reason(i);
        let order = std::iter::once(i).chain(members.into_iter().filter(|&m| m != i));
        for m in order.collect::<Vec<_>>() {
            if self.instances[m].state != State::Fault {
                continue;
            }
            let reason = if m == i {
                Reason::Recovered
            } else {
                by.clone()
            };
            self.enter_backup(m, reason, now);
            let inst = &mut self.instances[m];
            if inst.is_owner() {
                // keepalived try_up_instance: an owner wanting MASTER waits
                // one interval and its skew.
                inst.wants_master = true;
                inst.timer = Some(now + inst.master_adver_interval + inst.skew());
            }
        }
        self.set_group_state(g, State::Backup);
    }
}
