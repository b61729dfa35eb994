//! [`ConnTable`]: the director's connection table, sharded per worker.
//!
//! Each worker owns one shard (two [`Store`]s: IPv4 and IPv6) and is its
//! only writer: it inserts the flows it schedules and expires them with
//! [`ConnTable::expire_step`]. Every worker can look up, read and update
//! entries of every shard without locks, because a NAT/FullNAT reply can
//! arrive on another worker's queue (RSS hashes the rewritten tuple). Who
//! writes what, and why a reader never sees a torn key, is in the
//! [`crate::slot`] docs; the index's concurrency is in [`crate::index`].
//!
//! Memory is allocated once in the constructor: per IPv4 connection a
//! 64-byte slot ([`ConnTable::V4_ENTRY_BYTES`]) plus its share of the index,
//! 4 key words at 8 bytes in 64-byte groups of 7 = 64·4/7 ≈ 36.6 bytes
//! (maximum index load 1/2, reached when every entry has both an input and
//! an output key), ≈ 100.6 bytes in all ([`ConnTable::V4_BYTES_PER_CONN`]).
//! An IPv6 connection costs a 128-byte slot plus the same index share.
//! Nothing allocates after construction.

use std::net::IpAddr;
use std::sync::atomic::AtomicUsize;
#[cfg(debug_assertions)]
use std::sync::atomic::Ordering;

use crate::entry::{ConnEntry, ConnId, InsertError, NewConn, TableConfig, TableError};
use crate::flags::ConnFlags;
use crate::hash::KeyHasher;
use crate::index::{KeyKind, MAX_SLOTS};
use crate::slot::{Fields, Slot, KEY_INPUT, KEY_OUTPUT, KEY_TEMPLATE, MAX24, V4_WORDS, V6_WORDS};
use crate::store::{Key, Store};

/// One worker's part of the table.
#[derive(Debug)]
pub(crate) struct Shard {
    pub(crate) v4: Store<V4_WORDS>,
    pub(crate) v6: Store<V6_WORDS>,
    /// Rolling expiry cursor over v4 slots then v6 slots (owner only).
    pub(crate) cursor: AtomicUsize,
    /// Debug builds: set while the owner is inside a writing call, to catch
    /// two threads claiming the same worker index.
    #[cfg(debug_assertions)]
    busy: std::sync::atomic::AtomicBool,
}

/// Debug-build guard for the one-writer-per-shard rule.
pub(crate) struct OwnerGuard<'a> {
    #[cfg(debug_assertions)]
    shard: &'a Shard,
    #[cfg(not(debug_assertions))]
    _p: std::marker::PhantomData<&'a Shard>,
}

impl Shard {
    fn new(v4: usize, v6: usize) -> Shard {
        Shard {
            v4: Store::new(v4),
            v6: Store::new(v6),
            cursor: AtomicUsize::new(0),
            #[cfg(debug_assertions)]
            busy: std::sync::atomic::AtomicBool::new(false),
        }
    }

    pub(crate) fn enter(&self) -> OwnerGuard<'_> {
        #[cfg(debug_assertions)]
        {
            let was = self.busy.swap(true, Ordering::Acquire);
            debug_assert!(!was, "two threads are writing one connection-table shard");
            OwnerGuard { shard: self }
        }
        #[cfg(not(debug_assertions))]
        OwnerGuard {
            _p: std::marker::PhantomData,
        }
    }

    fn len(&self) -> usize {
        self.v4.len() + self.v6.len()
    }
}

impl Drop for OwnerGuard<'_> {
    fn drop(&mut self) {
        #[cfg(debug_assertions)]
        self.shard.busy.store(false, Ordering::Release);
    }
}

/// Selects a shard's store by entry width, so table logic is written once.
pub(crate) trait PickStore<const W: usize> {
    fn store(&self) -> &Store<W>;
}

impl PickStore<V4_WORDS> for Shard {
    fn store(&self) -> &Store<V4_WORDS> {
        &self.v4
    }
}

impl PickStore<V6_WORDS> for Shard {
    fn store(&self) -> &Store<V6_WORDS> {
        &self.v6
    }
}

/// A slot of either family, for updates through an id.
pub(crate) enum SlotRef<'a> {
    V4(&'a Slot<V4_WORDS>),
    V6(&'a Slot<V6_WORDS>),
}

impl SlotRef<'_> {
    pub(crate) fn update(
        &self,
        idx: usize,
        gen: u32,
        f: impl FnMut(u64) -> Option<u64>,
    ) -> Option<(u64, u64)> {
        match self {
            SlotRef::V4(s) => s.update(idx, gen, f),
            SlotRef::V6(s) => s.update(idx, gen, f),
        }
    }

    /// The protocol of the live entry with generation `gen`.
    pub(crate) fn proto(&self, gen: u32) -> Option<u8> {
        let w = match self {
            SlotRef::V4(s) => s.meta(),
            SlotRef::V6(s) => s.meta(),
        };
        (w as u32 == gen).then_some((w >> 32) as u8)
    }
}

/// The four addresses of an entry as u128s, if they share one family
/// (`true` = IPv6).
fn same_family(addrs: [IpAddr; 4]) -> Option<(bool, [u128; 4])> {
    let v6 = addrs[0].is_ipv6();
    let mut out = [0u128; 4];
    for (o, a) in out.iter_mut().zip(addrs) {
        *o = match a {
            IpAddr::V4(a) if !v6 => u128::from(u32::from(a)),
            IpAddr::V6(a) if v6 => u128::from(a),
            _ => return None,
        };
    }
    Some((v6, out))
}

fn pair(a: IpAddr, b: IpAddr) -> Option<(bool, u128, u128)> {
    match (a, b) {
        (IpAddr::V4(a), IpAddr::V4(b)) => Some((false, u32::from(a).into(), u32::from(b).into())),
        (IpAddr::V6(a), IpAddr::V6(b)) => Some((true, a.into(), b.into())),
        _ => None,
    }
}

/// The director's connection table. `Send + Sync`: share it with `Arc`.
#[derive(Debug)]
pub struct ConnTable {
    pub(crate) shards: Box<[Shard]>,
    pub(crate) hasher: KeyHasher,
    capacity_v4: usize,
    capacity_v6: usize,
}

impl ConnTable {
    /// Shard count limit (7 bits of [`ConnId`]).
    pub const MAX_WORKERS: usize = 128;
    /// Per-shard, per-family entry limit (24 bits of [`ConnId`]).
    pub const MAX_SHARD_CAPACITY: usize = MAX_SLOTS;
    /// Bytes of one IPv4 entry slot.
    pub const V4_ENTRY_BYTES: usize = std::mem::size_of::<Slot<V4_WORDS>>();
    /// Bytes of one IPv6 entry slot.
    pub const V6_ENTRY_BYTES: usize = std::mem::size_of::<Slot<V6_WORDS>>();
    /// Bytes per IPv4 connection including its share of the index at the
    /// maximum load factor 1/2: 64 + 64·4/7 ≈ 100.57 (the index is rounded
    /// up to whole groups, so small tables pay a few bytes more).
    pub const V4_BYTES_PER_CONN: f64 = 64.0 + 64.0 * 4.0 / 7.0;

    /// A table for `capacity` IPv4 *and* `capacity` IPv6 connections over
    /// `workers` shards, with a fixed hash seed. Memory: about
    /// `capacity × (100.6 + 164.6)` bytes (IPv4 + IPv6 slots and indexes);
    /// use [`ConnTable::with_config`] to size the families apart, set a
    /// random seed, and get an error instead of clamping. Out-of-range sizes
    /// are clamped here (workers to 1..=128, shards to 2^24 entries).
    pub fn new(capacity: usize, workers: usize) -> ConnTable {
        let workers = workers.clamp(1, Self::MAX_WORKERS);
        let max = Self::MAX_SHARD_CAPACITY.saturating_mul(workers);
        let cap = capacity.min(max);
        Self::build(TableConfig {
            capacity_v4: cap,
            capacity_v6: cap,
            workers,
            hash_seed: 0x7876_735f_636f_6e6e, // "xvs_conn"
        })
    }

    /// A table sized by `cfg`, or why it cannot be built.
    pub fn with_config(cfg: TableConfig) -> Result<ConnTable, TableError> {
        if cfg.workers == 0 {
            return Err(TableError::NoWorkers);
        }
        if cfg.workers > Self::MAX_WORKERS {
            return Err(TableError::TooManyWorkers(cfg.workers));
        }
        let per_shard = cfg.capacity_v4.max(cfg.capacity_v6).div_ceil(cfg.workers);
        if per_shard > Self::MAX_SHARD_CAPACITY {
            return Err(TableError::ShardTooLarge { per_shard });
        }
        Ok(Self::build(cfg))
    }

    fn build(cfg: TableConfig) -> ConnTable {
        // Even split; the first `capacity % workers` shards take one more.
        let share =
            |total: usize, i: usize| total / cfg.workers + usize::from(i < total % cfg.workers);
        let shards = (0..cfg.workers)
            .map(|i| Shard::new(share(cfg.capacity_v4, i), share(cfg.capacity_v6, i)))
            .collect();
        ConnTable {
            shards,
            hasher: KeyHasher::new(cfg.hash_seed),
            capacity_v4: cfg.capacity_v4,
            capacity_v6: cfg.capacity_v6,
        }
    }

    /// Entries of both families the table can hold.
    pub fn capacity(&self) -> usize {
        self.capacity_v4 + self.capacity_v6
    }

    pub fn capacity_v4(&self) -> usize {
        self.capacity_v4
    }

    pub fn capacity_v6(&self) -> usize {
        self.capacity_v6
    }

    pub fn workers(&self) -> usize {
        self.shards.len()
    }

    /// Entries currently held (including expired ones not yet freed).
    pub fn len(&self) -> usize {
        self.shards.iter().map(Shard::len).sum()
    }

    /// Live IPv4 entries in `worker`'s shard (0 for a shard that does not
    /// exist): one relaxed load, for per-burst decisions.
    #[inline]
    pub fn live4(&self, worker: usize) -> usize {
        self.shards.get(worker).map_or(0, |s| s.v4.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Entries held by one worker's shard (0 for an unknown worker).
    pub fn shard_len(&self, worker: usize) -> usize {
        self.shards.get(worker).map_or(0, Shard::len)
    }

    /// Bytes allocated for slots and indexes.
    pub fn memory_bytes(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.v4.bytes() + s.v6.bytes())
            .sum()
    }

    /// Owner only (`worker` is the caller's own index): insert `c`.
    ///
    /// The entry is indexed under its input key ⟨proto, caddr, cport, vaddr,
    /// vport⟩ and, unless it has `NOOUTPUT` (DR/TUN), its output key ⟨proto,
    /// daddr, dport, laddr, lport⟩. A `TEMPLATE` entry is indexed only under
    /// ⟨proto, caddr (client net), vaddr, vport⟩ in a key space of its own; a
    /// `ONE_PACKET` entry is not indexed at all (reachable by id only). If
    /// `c.controller` is set, that entry's `n_controlled` is incremented.
    /// Fails with `Exists` if a present entry in any shard has one of the
    /// keys (two workers racing on one key can both succeed; RSS keeps a
    /// client tuple on one queue), with `Full` if this shard has no free
    /// slot for the family.
    pub fn insert(&self, worker: usize, c: &NewConn, now_secs: u32) -> Result<ConnId, InsertError> {
        self.insert_with(worker, c, now_secs, true)
    }

    /// [`Self::insert`] for a connection whose input key the caller has
    /// just looked up (`lookup_in*`) and not found: only the other keys are
    /// searched for a clash. The window this leaves — another worker
    /// inserting the same client tuple in between — is the one `insert`
    /// already has between its search and its publish.
    pub fn insert_unseen(
        &self,
        worker: usize,
        c: &NewConn,
        now_secs: u32,
    ) -> Result<ConnId, InsertError> {
        self.insert_with(worker, c, now_secs, false)
    }

    fn insert_with(
        &self,
        worker: usize,
        c: &NewConn,
        now_secs: u32,
        check_input: bool,
    ) -> Result<ConnId, InsertError> {
        let shard = self
            .shards
            .get(worker)
            .ok_or(InsertError::NoSuchWorker(worker))?;
        let _owner = shard.enter();
        let (v6, [caddr, vaddr, daddr, laddr]) = same_family([c.caddr, c.vaddr, c.daddr, c.laddr])
            .ok_or(InsertError::AddressFamilyMismatch)?;
        let mut flags = ConnFlags(c.flags.bits() & ConnFlags::STORED_MASK);
        let keys = if flags.contains(ConnFlags::TEMPLATE) {
            KEY_TEMPLATE
        } else if flags.contains(ConnFlags::ONE_PACKET) {
            0
        } else if flags.contains(ConnFlags::NOOUTPUT) {
            KEY_INPUT
        } else {
            KEY_INPUT | KEY_OUTPUT
        };
        if keys == 0 {
            flags.remove(ConnFlags::HASHED);
        } else {
            flags.insert(ConnFlags::HASHED);
        }
        let timeout = c.timeout_secs.min(MAX24);
        let fields = Fields {
            seq: 0,
            proto: c.protocol,
            keys,
            dest_id: c.dest_id,
            n_controlled: 0,
            controller: c.controller.map_or(0, ConnId::raw),
            flags: flags.bits(),
            state: c.state as u8,
            timeout,
            expires: now_secs.saturating_add(timeout),
            in_pkts: 0,
            cport: c.cport,
            vport: c.vport,
            dport: c.dport,
            lport: c.lport,
            caddr,
            vaddr,
            daddr,
            laddr,
        };
        if v6 {
            self.insert_in::<V6_WORDS>(worker, fields, c.controller, now_secs, check_input)
        } else {
            self.insert_in::<V4_WORDS>(worker, fields, c.controller, now_secs, check_input)
        }
    }

    fn insert_in<const W: usize>(
        &self,
        worker: usize,
        mut fields: Fields,
        controller: Option<ConnId>,
        now: u32,
        check_input: bool,
    ) -> Result<ConnId, InsertError>
    where
        Shard: PickStore<W>,
    {
        for key in Key::all_of(&fields) {
            if !check_input && key.kind == KeyKind::Input {
                continue;
            }
            if let Some(id) = self.find::<W>(worker, &key, now) {
                return Err(InsertError::Exists(id));
            }
        }
        let store: &Store<W> = self
            .shards
            .get(worker)
            .ok_or(InsertError::NoSuchWorker(worker))?
            .store();
        let (slot, gen) = store.alloc().ok_or(InsertError::Full)?;
        if let Some(ctl) = controller {
            if !self.adjust_controlled(ctl, true) {
                store.release(slot);
                return Err(InsertError::ControllerUnavailable);
            }
        }
        fields.seq = gen;
        if !store.publish(slot, &fields, &self.hasher) {
            // Unreachable by sizing (index at most half full); undo anyway.
            if let Some(ctl) = controller {
                self.adjust_controlled(ctl, false);
            }
            return Err(InsertError::Full);
        }
        Ok(ConnId::new(gen, W == V6_WORDS, worker, slot))
    }

    /// The shards a lookup searches, `worker`'s own first (most lookups
    /// hit there), then the others in turn.
    #[inline]
    pub(crate) fn probe_order(&self, worker: usize) -> impl Iterator<Item = usize> {
        let n = self.shards.len();
        let first = if worker < n { worker } else { 0 };
        (0..n).map(move |i| {
            if first + i < n {
                first + i
            } else {
                first + i - n
            }
        })
    }

    /// Search every shard, `worker`'s first, for a present entry with `key`.
    pub(crate) fn find<const W: usize>(&self, worker: usize, key: &Key, now: u32) -> Option<ConnId>
    where
        Shard: PickStore<W>,
    {
        let hash = key.hash::<W>(&self.hasher);
        self.probe_order(worker).find_map(|s| {
            let (slot, gen) = self.shards[s].store().find(hash, key, now)?;
            Some(ConnId::new(gen, W == V6_WORDS, s, slot))
        })
    }

    /// As [`Self::find`], returning the consistent copy the key matched.
    pub(crate) fn find_entry<const W: usize>(
        &self,
        worker: usize,
        key: &Key,
        now: u32,
    ) -> Option<ConnEntry>
    where
        Shard: PickStore<W>,
    {
        let hash = key.hash::<W>(&self.hasher);
        self.probe_order(worker).find_map(|s| {
            let (slot, f) = self.shards[s].store().find_fields(hash, key, now)?;
            Some(ConnEntry::from_fields(
                ConnId::new(f.seq, W == V6_WORDS, s, slot),
                &f,
            ))
        })
    }

    fn find_any_entry(&self, worker: usize, v6: bool, key: &Key, now: u32) -> Option<ConnEntry> {
        if v6 {
            self.find_entry::<V6_WORDS>(worker, key, now)
        } else {
            self.find_entry::<V4_WORDS>(worker, key, now)
        }
    }

    /// [`Self::lookup_in`] and [`Self::get`] in one pass over the slot: the
    /// per-packet path wants the entry, not just its id.
    #[allow(clippy::too_many_arguments)] // the 5-tuple plus worker and clock
    pub fn lookup_in_entry(
        &self,
        worker: usize,
        proto: u8,
        caddr: IpAddr,
        cport: u16,
        vaddr: IpAddr,
        vport: u16,
        now_secs: u32,
    ) -> Option<ConnEntry> {
        let (v6, key) = flow_key(KeyKind::Input, proto, caddr, cport, vaddr, vport)?;
        self.find_any_entry(worker, v6, &key, now_secs)
    }

    /// [`Self::lookup_out`] and [`Self::get`] in one pass over the slot.
    #[allow(clippy::too_many_arguments)]
    pub fn lookup_out_entry(
        &self,
        worker: usize,
        proto: u8,
        daddr: IpAddr,
        dport: u16,
        laddr: IpAddr,
        lport: u16,
        now_secs: u32,
    ) -> Option<ConnEntry> {
        let (v6, key) = flow_key(KeyKind::Output, proto, daddr, dport, laddr, lport)?;
        self.find_any_entry(worker, v6, &key, now_secs)
    }

    fn find_any(&self, worker: usize, v6: bool, key: &Key, now: u32) -> Option<ConnId> {
        if v6 {
            self.find::<V6_WORDS>(worker, key, now)
        } else {
            self.find::<V4_WORDS>(worker, key, now)
        }
    }

    /// Client → VIP direction: the present connection (not a template)
    /// with this input key. Searches `worker`'s shard first, then the
    /// others. Expired entries (now ≥ expires_at) are absent unless they
    /// still control others.
    #[allow(clippy::too_many_arguments)] // the 5-tuple plus worker and clock
    pub fn lookup_in(
        &self,
        worker: usize,
        proto: u8,
        caddr: IpAddr,
        cport: u16,
        vaddr: IpAddr,
        vport: u16,
        now_secs: u32,
    ) -> Option<ConnId> {
        let (v6, key) = flow_key(KeyKind::Input, proto, caddr, cport, vaddr, vport)?;
        self.find_any(worker, v6, &key, now_secs)
    }

    /// Real server → director reply direction: the connection whose real
    /// server is `daddr:dport` and whose director-side address is
    /// `laddr:lport` (the client for NAT, the local address for FullNAT).
    /// Only entries without `NOOUTPUT` at insert are indexed this way.
    #[allow(clippy::too_many_arguments)]
    pub fn lookup_out(
        &self,
        worker: usize,
        proto: u8,
        daddr: IpAddr,
        dport: u16,
        laddr: IpAddr,
        lport: u16,
        now_secs: u32,
    ) -> Option<ConnId> {
        let (v6, key) = flow_key(KeyKind::Output, proto, daddr, dport, laddr, lport)?;
        self.find_any(worker, v6, &key, now_secs)
    }

    /// The persistence template ⟨proto, client_net, vaddr, vport⟩
    /// (REFERENCE §3). A template past its timeout that still controls
    /// connections is present (its expiry re-arms it for 60 s).
    pub fn lookup_template(
        &self,
        worker: usize,
        proto: u8,
        client_net: IpAddr,
        vaddr: IpAddr,
        vport: u16,
        now_secs: u32,
    ) -> Option<ConnId> {
        let (v6, a, b) = pair(client_net, vaddr)?;
        self.find_any(worker, v6, &Key::template(proto, a, b, vport), now_secs)
    }

    pub(crate) fn slot_of(&self, id: ConnId) -> Option<SlotRef<'_>> {
        let shard = self.shards.get(id.worker())?;
        Some(if id.is_ipv6() {
            SlotRef::V6(shard.v6.slot(id.slot())?)
        } else {
            SlotRef::V4(shard.v4.slot(id.slot())?)
        })
    }

    /// A consistent copy of the entry `id` names, or `None` if it has been
    /// freed (stale id). An entry past its timeout but not yet freed by
    /// `expire_step` is still returned; check [`ConnEntry::is_expired`].
    pub fn get(&self, id: ConnId) -> Option<ConnEntry> {
        let shard = self.shards.get(id.worker())?;
        let f = if id.is_ipv6() {
            shard.v6.read(id.slot())?
        } else {
            shard.v4.read(id.slot())?
        };
        (f.seq == id.gen()).then(|| ConnEntry::from_fields(id, &f))
    }

    /// Call `f` with a consistent copy of every entry not yet freed, from
    /// any thread (for `xvs list -c`). Entries inserted or freed during the
    /// walk may or may not be seen; none is seen torn or twice.
    pub fn for_each(&self, mut f: impl FnMut(&ConnEntry)) {
        for (s, shard) in self.shards.iter().enumerate() {
            for i in 0..shard.v4.capacity() {
                if let Some(fl) = shard.v4.read(i) {
                    // i < capacity ≤ 2^24.
                    f(&ConnEntry::from_fields(
                        ConnId::new(fl.seq, false, s, i as u32),
                        &fl,
                    ));
                }
            }
            for i in 0..shard.v6.capacity() {
                if let Some(fl) = shard.v6.read(i) {
                    f(&ConnEntry::from_fields(
                        ConnId::new(fl.seq, true, s, i as u32),
                        &fl,
                    ));
                }
            }
        }
    }
}

/// The index key of a flow in one direction, and whether it is IPv6.
fn flow_key(
    kind: KeyKind,
    proto: u8,
    a: IpAddr,
    pa: u16,
    b: IpAddr,
    pb: u16,
) -> Option<(bool, Key)> {
    let (v6, a, b) = pair(a, b)?;
    Some((
        v6,
        Key {
            kind,
            proto,
            a,
            pa,
            b,
            pb,
        },
    ))
}
