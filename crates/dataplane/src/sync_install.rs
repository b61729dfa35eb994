//! Connection sync, backup side of a worker: install the connections the
//! control thread received from the master into this worker's shard,
//! without scheduling, as ip_vs_proc_conn() does (REFERENCE §9).
//!
//! Per [`Install`]: the real server must be in the worker's plan with the
//! address and forwarding method the master used (the entry forwards with
//! the local real server's method, so a mismatch would forward wrongly);
//! an entry the table already has for the flow (or template) is updated
//! in place when it names the same real server ([`ConnTable::resync`]:
//! flags, state, timeout, timer) and replaced when it names another; a
//! new one is inserted into the worker's own shard and bound to the real
//! server's counters as a scheduled one is; a full shard makes room by the
//! same rules as for a scheduled connection (`global.table_pressure`). Installed entries are not
//! counted as new connections in the statistics: they were scheduled on
//! the master.
//!
//! [`ConnTable::resync`]: xvs_conn::ConnTable::resync

use std::sync::Arc;

use xvs_conn::{ConnFlags, InsertError};
use xvs_wire::ip_proto;

use crate::counters::bump;
use crate::plan::{Plan, PlanDest};
use crate::sync_link::{Install, InstallFailure};
use crate::worker::Worker;

/// Installs [`Worker::housekeeping`] takes from the queue per call.
pub const HOUSEKEEPING_INSTALL_BUDGET: usize = 256;

impl Worker {
    /// Pop up to `budget` [`Install`]s from this worker's queue and apply
    /// each (see the module docs); returns how many were popped, whatever
    /// became of them (each outcome is counted in the worker's
    /// [`crate::WorkerSync`]). Does nothing without a sync link.
    /// [`Worker::housekeeping`] calls it with
    /// [`HOUSEKEEPING_INSTALL_BUDGET`]; a driver may call it more often.
    pub fn drain_installs(&mut self, plan: &Plan, now_secs: u32, budget: usize) -> usize {
        let Some(ws) = self.sync.as_deref().and_then(|l| l.get(self.id)) else {
            return 0;
        };
        let mut n = 0;
        while n < budget {
            let Some(install) = ws.installs.pop() else {
                break;
            };
            n += 1;
            match self.install(plan, &install, now_secs) {
                Ok(Installed::New { replaced }) => {
                    bump(&ws.installed, 1);
                    if replaced {
                        bump(&ws.replaced, 1);
                    }
                }
                Ok(Installed::Updated) => bump(&ws.updated, 1),
                Err(reason) => ws.count_failure(reason),
            }
        }
        n
    }

    fn install(
        &self,
        plan: &Plan,
        install: &Install,
        now: u32,
    ) -> Result<Installed, InstallFailure> {
        let mut c = install.conn;
        // What a backup accepts of the master's flags, and SYNC
        // (ip_vs_proc_conn: flags & IP_VS_CONN_F_BACKUP_MASK | SYNC).
        c.flags = (c.flags & ConnFlags::BACKUP_MASK) | ConnFlags::SYNC;
        // A SYN-proxied connection keeps its flag (the pipeline then
        // translates it) and needs a record for its translation.
        let synproxy = match (&install.synproxy, &self.synproxy) {
            (None, _) => None,
            (Some(d), Some(sp)) => Some((d, Arc::clone(sp))),
            (Some(_), None) => return Err(InstallFailure::NoSynproxy),
        };
        if synproxy.is_some() {
            c.flags |= ConnFlags::SYNPROXY;
        }
        let record = |id| match &synproxy {
            Some((d, sp)) => sp.install_synced(id, d),
            None => true,
        };
        let dest = self.sync_dest(plan, install)?;
        let template = c.flags.contains(ConnFlags::TEMPLATE);
        let existing = if template {
            self.conns
                .lookup_template(self.id, c.protocol, c.caddr, c.vaddr, c.vport, now)
                .and_then(|id| self.conns.get(id))
        } else {
            self.conns
                .lookup_in_entry(self.id, c.protocol, c.caddr, c.cport, c.vaddr, c.vport, now)
        };
        let mut replaced = false;
        if let Some(e) = existing {
            if e.dest_id == c.dest_id {
                if let Some(t) = self
                    .conns
                    .resync(e.id, c.flags, c.state, c.timeout_secs, now)
                {
                    if t.became_active {
                        dest.shared.load.activate(self.id);
                    } else if t.became_inactive {
                        dest.shared.load.deactivate(self.id);
                    }
                    if !record(e.id) {
                        self.conns.expire_now(e.id);
                        return Err(InstallFailure::NoSynproxy);
                    }
                    return Ok(Installed::Updated);
                }
                // Freed since the lookup: install it afresh.
            } else {
                // The master moved the flow to another real server (it was
                // rescheduled there): ours is stale. The owner's sweep frees
                // it and unbinds its real server; a template that still
                // controls connections lives on for them, out of every
                // lookup, as an invalid template does (REFERENCE §3).
                self.conns.expire_now(e.id);
                if template {
                    self.conns.unhash(e.id);
                }
                replaced = true;
            }
        }
        // A synced UDP connection is one the master saw live across a
        // sweep (what it waits for before sending one, as TCP waits for
        // ESTABLISHED): on this side it is no one-burst flow to evict.
        if c.protocol == ip_proto::UDP && !template {
            c.flags |= ConnFlags::REFRESHED;
        }
        // A full shard makes room by the master's rules (`insert_making_room`:
        // expired, half-open, unused templates, then closing entries; never
        // an established one), so the entries the master evicted — which
        // v1 sync cannot announce, see crates/sync/README.md — give way
        // here to what it still holds instead of refusing its installs.
        let id = match self.insert_making_room(plan, &c, now, false) {
            Err(InsertError::ControllerUnavailable) => {
                // The template the control thread named is gone: the
                // connection stands on its own (a backup's synced entries
                // need no controller to forward).
                c.controller = None;
                self.insert_making_room(plan, &c, now, false)
            }
            r => r,
        };
        let id = match id {
            Ok(id) => id,
            Err(InsertError::Exists(_)) => return Err(InstallFailure::Conflict),
            Err(InsertError::AddressFamilyMismatch) => return Err(InstallFailure::Family),
            // Full, or (a driver bug) no shard for this worker: no room.
            Err(_) => return Err(InstallFailure::TableFull),
        };
        // Bound as new_conn/schedule bind what they insert (REFERENCE
        // §4.3): every connection as inactive, then active if it is not.
        if template {
            dest.shared.load.bind_template(self.id);
        } else {
            dest.shared.load.bind_conn(self.id, dest.thresholds);
            if !c.flags.contains(ConnFlags::INACTIVE) {
                dest.shared.load.activate(self.id);
            }
        }
        // After the binding, so the sweep that frees a refused entry
        // unbinds what was bound.
        if !record(id) {
            self.conns.expire_now(id);
            return Err(InstallFailure::NoSynproxy);
        }
        Ok(Installed::New { replaced })
    }

    /// The install's real server in `plan`, if it is the one the master
    /// forwarded to: present, available, same address and method.
    fn sync_dest<'p>(
        &self,
        plan: &'p Plan,
        install: &Install,
    ) -> Result<&'p PlanDest, InstallFailure> {
        let c = &install.conn;
        let Some(dest) = plan.dest(c.dest_id).filter(|d| d.available) else {
            // Resolved against a plan this worker has not loaded yet.
            return Err(if install.plan_version > plan.version {
                InstallFailure::StalePlan
            } else {
                InstallFailure::NoDest
            });
        };
        if dest.address != c.daddr || c.flags.method() != Some(dest.method) {
            return Err(InstallFailure::StalePlan);
        }
        Ok(dest)
    }
}

/// What an install did.
enum Installed {
    /// A new entry; `replaced`: one bound to another real server was expired.
    New { replaced: bool },
    /// An existing entry to the same real server was updated.
    Updated,
}
