//! Property test: the table against a plain model (a Vec of entries with
//! explicit keys, timers and reference counts) under random sequences of
//! inserts, lookups, timer changes and sweeps, with a virtual clock.
//!
//! The model states the contract in the simplest terms: an entry is present
//! while it is hashed and its timer runs or it controls others; an insert
//! fails with `Exists` when a present entry anywhere has one of its keys,
//! with `Full` when its shard's family has no unfreed slot left; a sweep
//! frees expired entries in slot order from the cursor and re-arms
//! controllers for 60 s; making room frees, from the eviction cursor and
//! within the scan bound, the first entry that is expired, half-open or a
//! template, and controls nothing (every connection here stays in NONE, so each is
//! half-open; the closing/established order has its own tests). Half the cases run with a hash under which every
//! key collides, so that index overflow chains are exercised too.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use proptest::prelude::*;
use xvs_config::ForwardMethod;

use crate::hash::KeyHasher;
use crate::{
    Conn4, ConnEntry, ConnFlags, ConnId, ConnState, ConnTable, Direction, Eviction, InsertError,
    NewConn, TableConfig, CONTROLLER_REARM_SECS,
};

const WORKERS: usize = 2;
const CAP_V4: usize = 5; // per shard: up to 10 keys, more than one 7-word group
const CAP_V6: usize = 2;

fn client(v6: bool, c: u8) -> IpAddr {
    if v6 {
        IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, u16::from(c) + 1))
    } else {
        IpAddr::V4(Ipv4Addr::new(198, 51, 100, c + 1))
    }
}

fn vip(v6: bool) -> IpAddr {
    if v6 {
        IpAddr::V6(Ipv6Addr::new(0xfd00, 0x10, 0, 0, 0, 0, 0, 0x100))
    } else {
        IpAddr::V4(Ipv4Addr::new(198, 18, 10, 100))
    }
}

fn rip(v6: bool, r: u8) -> IpAddr {
    if v6 {
        IpAddr::V6(Ipv6Addr::new(0xfd00, 1, 0, 0, 0, 0, 0, u16::from(r) + 0x11))
    } else {
        IpAddr::V4(Ipv4Addr::new(10, 0, 0, r + 11))
    }
}

#[derive(Clone, Debug)]
enum Op {
    Insert {
        worker: usize,
        v6: bool,
        client: u8,
        cport: u16,
        vport: u16,
        rs: u8,
        dr: bool,
        timeout: u32,
        ctl: Option<usize>,
    },
    InsertTemplate {
        worker: usize,
        v6: bool,
        client: u8,
        timeout: u32,
    },
    LookupIn {
        worker: usize,
        v6: bool,
        client: u8,
        cport: u16,
        vport: u16,
    },
    LookupOut {
        worker: usize,
        v6: bool,
        rs: u8,
        client: u8,
        cport: u16,
    },
    LookupTemplate {
        worker: usize,
        v6: bool,
        client: u8,
    },
    Touch {
        pick: usize,
        timeout: u32,
    },
    ExpireNow {
        pick: usize,
    },
    Unhash {
        pick: usize,
    },
    Get {
        pick: usize,
    },
    Advance {
        secs: u32,
    },
    Sweep {
        worker: usize,
    },
    MakeRoom {
        worker: usize,
        v6: bool,
        scan: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let w = 0..WORKERS;
    prop_oneof![
        6 => (w.clone(), any::<bool>(), 0u8..4, 0u16..3, 80u16..82, 0u8..2, any::<bool>(), 1u32..20,
              proptest::option::of(0usize..64))
            .prop_map(|(worker, v6, client, cport, vport, rs, dr, timeout, ctl)| Op::Insert {
                worker, v6, client, cport, vport, rs, dr, timeout, ctl
            }),
        2 => (w.clone(), any::<bool>(), 0u8..4, 1u32..30)
            .prop_map(|(worker, v6, client, timeout)| Op::InsertTemplate { worker, v6, client, timeout }),
        4 => (w.clone(), any::<bool>(), 0u8..4, 0u16..3, 80u16..82)
            .prop_map(|(worker, v6, client, cport, vport)| Op::LookupIn { worker, v6, client, cport, vport }),
        3 => (w.clone(), any::<bool>(), 0u8..2, 0u8..4, 0u16..3)
            .prop_map(|(worker, v6, rs, client, cport)| Op::LookupOut { worker, v6, rs, client, cport }),
        2 => (w.clone(), any::<bool>(), 0u8..4)
            .prop_map(|(worker, v6, client)| Op::LookupTemplate { worker, v6, client }),
        2 => (0usize..64, 1u32..20).prop_map(|(pick, timeout)| Op::Touch { pick, timeout }),
        1 => (0usize..64).prop_map(|pick| Op::ExpireNow { pick }),
        1 => (0usize..64).prop_map(|pick| Op::Unhash { pick }),
        2 => (0usize..64).prop_map(|pick| Op::Get { pick }),
        4 => (0u32..8).prop_map(|secs| Op::Advance { secs }),
        3 => w.clone().prop_map(|worker| Op::Sweep { worker }),
        3 => (w, any::<bool>(), 0usize..8)
            .prop_map(|(worker, v6, scan)| Op::MakeRoom { worker, v6, scan }),
    ]
}

/// The model's view of one entry ever inserted.
#[derive(Clone, Debug)]
struct M {
    id: ConnId,
    worker: usize,
    v6: bool,
    /// (client, cport, vport) for connections.
    input: Option<(u8, u16, u16)>,
    /// (rs, client, cport) for connections that see replies.
    output: Option<(u8, u8, u16)>,
    /// client for templates.
    template: Option<u8>,
    expires: u32,
    n_ctl: u32,
    controller: Option<usize>,
    hashed: bool,
    freed: bool,
}

impl M {
    fn present(&self, now: u32) -> bool {
        !self.freed && self.hashed && (now < self.expires || self.n_ctl > 0)
    }
}

struct World {
    t: ConnTable,
    m: Vec<M>,
    now: u32,
}

impl World {
    fn find(&self, pred: impl Fn(&M) -> bool) -> Option<ConnId> {
        let hits: Vec<&M> = self
            .m
            .iter()
            .filter(|e| e.present(self.now) && pred(e))
            .collect();
        assert!(
            hits.len() <= 1,
            "model holds two present entries with one key: {hits:?}"
        );
        hits.first().map(|e| e.id)
    }

    fn unfreed(&self, worker: usize, v6: bool) -> usize {
        self.m
            .iter()
            .filter(|e| !e.freed && e.worker == worker && e.v6 == v6)
            .count()
    }

    fn insert(
        &mut self,
        worker: usize,
        v6: bool,
        mut e: M,
        c: NewConn,
    ) -> Result<(), TestCaseError> {
        let got = self.t.insert(worker, &c, self.now);
        let exists = e
            .input
            .and_then(|k| self.find(|x| x.v6 == v6 && x.input == Some(k)))
            .or_else(|| {
                e.output
                    .and_then(|k| self.find(|x| x.v6 == v6 && x.output == Some(k)))
            })
            .or_else(|| {
                e.template
                    .and_then(|k| self.find(|x| x.v6 == v6 && x.template == Some(k)))
            });
        let cap = if v6 { CAP_V6 } else { CAP_V4 };
        if let Some(id) = exists {
            prop_assert_eq!(got, Err(InsertError::Exists(id)));
        } else if self.unfreed(worker, v6) == cap {
            prop_assert_eq!(got, Err(InsertError::Full));
        } else {
            let id = got.map_err(|err| TestCaseError::fail(format!("insert: {err}")))?;
            prop_assert_eq!(id.worker(), worker);
            e.id = id;
            if let Some(c) = e.controller {
                self.m[c].n_ctl += 1;
            }
            self.m.push(e);
        }
        Ok(())
    }

    /// Full-budget sweep of `worker`, in the table's slot order.
    fn sweep(&mut self, worker: usize) -> Result<(), TestCaseError> {
        let shard = &self.t.shards[worker];
        let n4 = shard.v4.capacity();
        let total = n4 + shard.v6.capacity();
        let cursor = shard.cursor.load(std::sync::atomic::Ordering::Relaxed) % total;
        let pos = |e: &M| {
            let p = if e.v6 { n4 + e.id.slot() } else { e.id.slot() };
            (p + total - cursor) % total
        };
        let mut order: Vec<usize> = (0..self.m.len())
            .filter(|&i| !self.m[i].freed && self.m[i].worker == worker)
            .collect();
        order.sort_by_key(|&i| pos(&self.m[i]));
        let mut want = Vec::new();
        for i in order {
            if self.now < self.m[i].expires {
                continue;
            }
            if self.m[i].n_ctl > 0 {
                self.m[i].expires = self.now + CONTROLLER_REARM_SECS;
                continue;
            }
            self.m[i].freed = true;
            if let Some(c) = self.m[i].controller {
                self.m[c].n_ctl -= 1;
            }
            want.push(self.m[i].id);
        }
        let mut got = Vec::new();
        self.t
            .expire_step(worker, self.now, usize::MAX, |e| got.push(e.id));
        prop_assert_eq!(got, want);
        Ok(())
    }

    /// `make_room` with the model's prediction: the slots from the
    /// store's eviction cursor, at most `scan` of them, and the first
    /// entry there that is expired, a connection or a template, controlling
    /// nothing.
    fn make_room(&mut self, worker: usize, v6: bool, scan: usize) -> Result<(), TestCaseError> {
        let shard = &self.t.shards[worker];
        let (cap, cursor) = if v6 {
            (shard.v6.capacity(), shard.v6.evict_cursor())
        } else {
            (shard.v4.capacity(), shard.v4.evict_cursor())
        };
        let mut want = None;
        for k in 0..scan.min(cap) {
            let slot = (cursor % cap + k) % cap;
            let Some(i) = (0..self.m.len()).find(|&i| {
                let e = &self.m[i];
                !e.freed && e.worker == worker && e.v6 == v6 && e.id.slot() == slot
            }) else {
                continue;
            };
            let e = &self.m[i];
            let class = if self.now >= e.expires && e.n_ctl == 0 {
                Eviction::Expired
            } else if e.n_ctl > 0 {
                continue;
            } else if e.template.is_some() {
                Eviction::Template
            } else {
                Eviction::Embryonic
            };
            want = Some((i, class));
            break;
        }
        let mut got = Vec::new();
        let class = self
            .t
            .make_room(worker, v6, self.now, scan, None, |e, c| got.push((e.id, c)));
        prop_assert_eq!(class, want.map(|(_, c)| c));
        prop_assert_eq!(
            got,
            want.map(|(i, c)| (self.m[i].id, c))
                .into_iter()
                .collect::<Vec<_>>()
        );
        if let Some((i, _)) = want {
            self.m[i].freed = true;
            if let Some(c) = self.m[i].controller {
                self.m[c].n_ctl -= 1;
            }
        }
        Ok(())
    }

    fn apply(&mut self, op: Op) -> Result<(), TestCaseError> {
        let now = self.now;
        match op {
            Op::Insert {
                worker,
                v6,
                client: cl,
                cport,
                vport,
                rs,
                dr,
                timeout,
                ctl,
            } => {
                // Only present templates are offered as controllers, as the
                // data plane only holds ids it just looked up.
                let ctl = ctl.and_then(|p| {
                    let tpls: Vec<usize> = (0..self.m.len())
                        .filter(|&i| self.m[i].template.is_some() && self.m[i].present(now))
                        .collect();
                    (!tpls.is_empty()).then(|| tpls[p % tpls.len()])
                });
                let m = if dr {
                    ForwardMethod::Dr
                } else {
                    ForwardMethod::Nat
                };
                let c = NewConn {
                    protocol: 6,
                    caddr: client(v6, cl),
                    cport,
                    vaddr: vip(v6),
                    vport,
                    laddr: client(v6, cl),
                    lport: cport,
                    daddr: rip(v6, rs),
                    dport: 80,
                    flags: ConnFlags::for_method(m),
                    dest_id: u32::from(rs),
                    controller: ctl.map(|i| self.m[i].id),
                    state: ConnState::None,
                    timeout_secs: timeout,
                };
                let e = M {
                    id: ConnId::from_raw(0),
                    worker,
                    v6,
                    input: Some((cl, cport, vport)),
                    output: (!dr).then_some((rs, cl, cport)),
                    template: None,
                    expires: now + timeout,
                    n_ctl: 0,
                    controller: ctl,
                    hashed: true,
                    freed: false,
                };
                self.insert(worker, v6, e, c)?;
            }
            Op::InsertTemplate {
                worker,
                v6,
                client: cl,
                timeout,
            } => {
                let c = NewConn {
                    protocol: 6,
                    caddr: client(v6, cl),
                    cport: 0,
                    vaddr: vip(v6),
                    vport: 80,
                    laddr: client(v6, cl),
                    lport: 0,
                    daddr: rip(v6, 0),
                    dport: 80,
                    flags: ConnFlags::for_method(ForwardMethod::Dr) | ConnFlags::TEMPLATE,
                    dest_id: 0,
                    controller: None,
                    state: ConnState::None,
                    timeout_secs: timeout,
                };
                let e = M {
                    id: ConnId::from_raw(0),
                    worker,
                    v6,
                    input: None,
                    output: None,
                    template: Some(cl),
                    expires: now + timeout,
                    n_ctl: 0,
                    controller: None,
                    hashed: true,
                    freed: false,
                };
                self.insert(worker, v6, e, c)?;
            }
            Op::LookupIn {
                worker,
                v6,
                client: cl,
                cport,
                vport,
            } => {
                let got = self
                    .t
                    .lookup_in(worker, 6, client(v6, cl), cport, vip(v6), vport, now);
                let want = self.find(|x| x.v6 == v6 && x.input == Some((cl, cport, vport)));
                prop_assert_eq!(got, want);
                let entry =
                    self.t
                        .lookup_in_entry(worker, 6, client(v6, cl), cport, vip(v6), vport, now);
                prop_assert_eq!(entry.map(|e| e.id), want);
                if let (IpAddr::V4(c), IpAddr::V4(v)) = (client(v6, cl), vip(v6)) {
                    let c4 = self.t.lookup4(
                        worker,
                        Direction::Input,
                        6,
                        c.into(),
                        cport,
                        v.into(),
                        vport,
                        now,
                    );
                    prop_assert_eq!(c4.map(compact), entry.map(|e| compact_of(&e)));
                    if let Some(e) = entry {
                        prop_assert_eq!(self.t.get4(e.id).map(compact), Some(compact_of(&e)));
                    }
                }
            }
            Op::LookupOut {
                worker,
                v6,
                rs,
                client: cl,
                cport,
            } => {
                let got = self
                    .t
                    .lookup_out(worker, 6, rip(v6, rs), 80, client(v6, cl), cport, now);
                let want = self.find(|x| x.v6 == v6 && x.output == Some((rs, cl, cport)));
                prop_assert_eq!(got, want);
                let entry =
                    self.t
                        .lookup_out_entry(worker, 6, rip(v6, rs), 80, client(v6, cl), cport, now);
                prop_assert_eq!(entry.map(|e| e.id), want);
                if let (IpAddr::V4(r), IpAddr::V4(c)) = (rip(v6, rs), client(v6, cl)) {
                    let c4 = self.t.lookup4(
                        worker,
                        Direction::Output,
                        6,
                        r.into(),
                        80,
                        c.into(),
                        cport,
                        now,
                    );
                    prop_assert_eq!(c4.map(compact), entry.map(|e| compact_of(&e)));
                    if let Some(e) = entry {
                        prop_assert_eq!(self.t.get4(e.id).map(compact), Some(compact_of(&e)));
                    }
                }
            }
            Op::LookupTemplate {
                worker,
                v6,
                client: cl,
            } => {
                let got = self
                    .t
                    .lookup_template(worker, 6, client(v6, cl), vip(v6), 80, now);
                let want = self.find(|x| x.v6 == v6 && x.template == Some(cl));
                prop_assert_eq!(got, want);
            }
            Op::Touch { pick, timeout } => {
                // Only present entries are touched (a worker touches what it
                // just looked up); touching an absent one could revive a
                // second entry with a key already reused.
                let live: Vec<usize> = (0..self.m.len())
                    .filter(|&i| self.m[i].present(now))
                    .collect();
                if let Some(&i) = live.get(pick % live.len().max(1)) {
                    prop_assert!(self.t.touch(self.m[i].id, timeout, now));
                    self.m[i].expires = now + timeout;
                }
            }
            Op::ExpireNow { pick } => {
                if let Some(e) = self.m.get_mut(pick) {
                    prop_assert_eq!(self.t.expire_now(e.id), !e.freed);
                    if !e.freed {
                        e.expires = 0;
                    }
                }
            }
            Op::Unhash { pick } => {
                if let Some(e) = self.m.get_mut(pick) {
                    prop_assert_eq!(self.t.unhash(e.id), !e.freed);
                    e.hashed = false;
                }
            }
            Op::Get { pick } => {
                if let Some(e) = self.m.get(pick) {
                    let got = self.t.get(e.id);
                    if e.freed {
                        prop_assert_eq!(got, None);
                    } else {
                        let g = got.ok_or_else(|| TestCaseError::fail("unfreed entry missing"))?;
                        prop_assert_eq!(g.expires_at, e.expires);
                        prop_assert_eq!(g.n_controlled, e.n_ctl);
                        prop_assert_eq!(g.flags.contains(ConnFlags::HASHED), e.hashed);
                        prop_assert_eq!(g.controller, e.controller.map(|c| self.m[c].id));
                        prop_assert_eq!(g.is_template(), e.template.is_some());
                    }
                }
            }
            Op::Advance { secs } => self.now += secs,
            Op::Sweep { worker } => self.sweep(worker)?,
            Op::MakeRoom { worker, v6, scan } => self.make_room(worker, v6, scan)?,
        }
        // Invariants after every step.
        for w in 0..WORKERS {
            let unfreed = self.unfreed(w, false) + self.unfreed(w, true);
            prop_assert_eq!(self.t.shard_len(w), unfreed);
        }
        Ok(())
    }
}

/// A [`Conn4`]'s fields, as a tuple to compare with a [`ConnEntry`]'s.
type Compact = (ConnId, u8, u32, u8, u32, u32, u32, u32, [(IpAddr, u16); 4]);

fn compact(c: Conn4) -> Compact {
    let a = |x: u32| IpAddr::V4(x.into());
    (
        c.id,
        c.protocol,
        c.flags.bits(),
        c.state,
        c.timeout_secs,
        c.expires_at,
        c.dest_id,
        c.n_controlled,
        [
            (a(c.caddr), c.cport),
            (a(c.vaddr), c.vport),
            (a(c.daddr), c.dport),
            (a(c.laddr), c.lport),
        ],
    )
}

fn compact_of(e: &ConnEntry) -> Compact {
    (
        e.id,
        e.protocol,
        e.flags.bits(),
        e.state as u8,
        e.timeout_secs,
        e.expires_at,
        e.dest_id,
        e.n_controlled,
        [
            (e.caddr, e.cport),
            (e.vaddr, e.vport),
            (e.daddr, e.dport),
            (e.laddr, e.lport),
        ],
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn table_matches_model(ops in proptest::collection::vec(op(), 1..120), collide in any::<bool>()) {
        let mut t = ConnTable::with_config(TableConfig {
            capacity_v4: CAP_V4 * WORKERS,
            capacity_v6: CAP_V6 * WORKERS,
            workers: WORKERS,
            hash_seed: 42,
        }).map_err(|e| TestCaseError::fail(e.to_string()))?;
        if collide {
            // Every key in one group with one tag: overflow chains across
            // groups and full-key comparison on every probe.
            t.hasher = KeyHasher::degenerate();
        }
        let mut w = World { t, m: Vec::new(), now: 1 };
        for op in ops {
            w.apply(op)?;
        }
        // Drain: far in the future, repeated sweeps free everything
        // (controlled entries first, then their templates).
        for _ in 0..3 {
            w.now += 10_000;
            for worker in 0..WORKERS {
                w.sweep(worker)?;
            }
        }
        prop_assert!(w.t.is_empty());
        for s in w.t.shards.iter() {
            prop_assert_eq!(s.v4.index().used_words() + s.v6.index().used_words(), 0);
            prop_assert_eq!(s.v4.index().total_overflow() + s.v6.index().total_overflow(), 0);
        }
    }
}
