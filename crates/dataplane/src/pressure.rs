//! A worker's defences when its connection-table shard fills up
//! (`global.table_pressure`): a new connection that finds the shard full
//! makes room by evicting a half-open entry or a template that controls
//! nothing, else a closing entry
//! ([`xvs_conn::ConnTable::make_room`], IPVS's drop_entry idea), and while
//! the shard is under pressure new and refreshed SYN_RECV entries get a
//! short timeout (IPVS's secure_tcp idea, ip_vs_proto_tcp.c: under memory
//! pressure the kernel switches to its "secure" state table so that
//! half-open entries leave sooner).
//!
//! Layer: dataplane. The pressure flag is the worker's own (its shard has
//! one writer); it is decided with hysteresis from the shard's fill, on
//! each new connection and in housekeeping, and shown as a gauge.

use xvs_config::{TablePressure, Timeouts};
use xvs_conn::{ConnId, InsertError, NewConn};

use crate::counters::WorkerCounters;
use crate::inbound::unbind_expired;
use crate::plan::Plan;
use crate::worker::Worker;

/// The pressure settings of `plan`.
fn settings(plan: &Plan) -> &TablePressure {
    &plan.snapshot.global.table_pressure
}

/// `base` with the short SYN_RECV timeout of `p` (never a longer one).
pub(crate) fn shortened(base: &Timeouts, p: &TablePressure) -> Timeouts {
    Timeouts {
        syn_recv: base.syn_recv.min(p.syn_recv),
        ..*base
    }
}

impl Worker {
    /// The timeouts new and refreshed entries get now: the plan's, or
    /// with a short SYN_RECV timeout while the shard is under pressure.
    #[inline]
    pub(crate) fn timeouts<'a>(&'a self, plan: &'a Plan) -> &'a Timeouts {
        if self.under_pressure {
            &self.pressure_timeouts
        } else {
            &plan.timeouts
        }
    }

    /// Enter pressure when the shard is `enter_percent` full, leave it
    /// when it is back to `leave_percent` (hysteresis, so a shard near one
    /// mark does not flap). Off in the config: never under pressure.
    pub(crate) fn update_pressure(&mut self, plan: &Plan) {
        let p = settings(plan);
        let was = self.under_pressure;
        self.under_pressure = if !p.short_timeouts {
            false
        } else {
            let fill = self.conns.shard_fill_percent(self.id);
            if was {
                fill > u32::from(p.leave_percent)
            } else {
                fill >= u32::from(p.enter_percent)
            }
        };
        if was != self.under_pressure {
            self.counters.set_pressure(self.under_pressure);
        }
    }

    /// Insert `new` into this worker's shard (`unseen`: the caller just
    /// missed its input key, [`xvs_conn::ConnTable::insert_unseen`]); if
    /// the shard is full and eviction is on, free one half-open entry,
    /// template controlling nothing (never the one `new` names) or closing
    /// entry — unbinding its real server's counters as its expiry would,
    /// counting why — and try once more. A SYN still refused is the
    /// caller's `conn_table_full` drop.
    pub(crate) fn insert_making_room(
        &self,
        plan: &Plan,
        new: &NewConn,
        now: u32,
        unseen: bool,
    ) -> Result<ConnId, InsertError> {
        let insert = || {
            if unseen {
                self.conns.insert_unseen(self.id, new, now)
            } else {
                self.conns.insert(self.id, new, now)
            }
        };
        match insert() {
            Err(InsertError::Full) if settings(plan).evict => {
                let worker = self.id;
                let counters: &WorkerCounters = &self.counters;
                let scan = settings(plan).evict_scan as usize;
                let freed = self.conns.make_room(
                    worker,
                    new.caddr.is_ipv6(),
                    now,
                    scan,
                    new.controller,
                    |e, why| {
                        unbind_expired(plan, worker, e);
                        counters.count_eviction(why);
                    },
                );
                match freed {
                    Some(_) => insert(),
                    None => Err(InsertError::Full),
                }
            }
            other => other,
        }
    }
}
