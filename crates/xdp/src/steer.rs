//! [`Steering`]: the steering program attached to one interface, its rule
//! maps kept in step with configuration reloads, and its AF_XDP socket map.
//!
//! The maps start empty, so right after [`Steering::attach`] everything
//! passes to the kernel; [`Steering::update`] claims what the rules name.
//! Until a queue has a socket ([`Steering::set_socket`]), claimed packets
//! on it also fall back to the kernel (counted as `no_socket`).
//!
//! The program counts every frame once, by outcome and reason
//! ([`SteerCounters`]); [`SteerCounterReader`] reads those counts from any
//! thread (the metrics exporter's).

use std::borrow::Borrow;
use std::collections::BTreeMap;
use std::os::fd::RawFd;
use std::sync::Arc;

use aya::maps::{Array, HashMap, MapData, PerCpuArray, XskMap};
use aya::Ebpf;
use aya::Pod;

use crate::attach::{self, map_error, Attachment};
use crate::rules::{diff, MapContents, SteerRules};
use crate::{AttachMode, XdpError, STEER_OBJECT, STEER_PROGRAM};

/// Capacity of the `xsks` map (queues per interface), as in steer.c.
pub const MAX_QUEUES: u32 = 256;

// Indices of the `settings` array, as the enum in steer.c.
const SET_VRRP: u32 = 0;
const SET_SYNC_PORT: u32 = 1;

/// The reasons of `enum xvs_reason` in steer.c, in its order (a test
/// reads the C enum and compares): the first eight (`XVS_R_CLAIMED`) are
/// why a frame was steered to xvs, the rest why it was passed to the
/// kernel. Each is
/// also a metric label value, never renamed.
pub const REASONS: &[&str] = &[
    "to_vip",
    "malformed",
    "nat_reply",
    "icmp_error",
    "arp",
    "nd",
    "vrrp",
    "sync",
    "own_address",
    "not_ours",
    "unknown_ethertype",
    "ethernet_truncated",
    "vlan_truncated",
    "too_many_vlan_tags",
    "arp_truncated",
    "arp_unsupported",
    "arp_not_request",
    "ipv4_truncated",
    "ipv4_bad_version",
    "ipv4_bad_ihl",
    "ipv6_truncated",
    "ipv6_bad_version",
    "fragment",
    "l4_truncated",
];

/// How many of [`REASONS`] are steering reasons (`XVS_R_CLAIMED`).
pub(crate) const CLAIMED: usize = 8;

/// Slots of the `counters` array: one per reason, then the no-socket
/// fallbacks of the steering reasons (`XVS_CNT_MAX`).
pub(crate) const COUNTERS: usize = REASONS.len() + CLAIMED;

/// What the steering program did with a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SteerOutcome {
    /// Redirected to the queue's AF_XDP socket.
    Steered,
    /// Not xvs's: passed to the kernel.
    Passed,
    /// xvs's, but the queue had no socket registered: passed to the kernel.
    NoSocket,
}

impl SteerOutcome {
    /// The metric label value.
    pub fn name(self) -> &'static str {
        match self {
            SteerOutcome::Steered => "steered",
            SteerOutcome::Passed => "passed",
            SteerOutcome::NoSocket => "no_socket",
        }
    }
}

/// The counters slot of `(outcome, reason index)`, if that pair exists.
pub(crate) fn slot(outcome: SteerOutcome, reason: usize) -> Option<u32> {
    let i = match outcome {
        SteerOutcome::Steered if reason < CLAIMED => reason,
        SteerOutcome::Passed if (CLAIMED..REASONS.len()).contains(&reason) => reason,
        SteerOutcome::NoSocket if reason < CLAIMED => REASONS.len() + reason,
        _ => return None,
    };
    u32::try_from(i).ok()
}

/// Frame counts of the steering program on one interface by outcome and
/// reason, summed over CPUs since it was loaded. Every frame the
/// interface received is in exactly one of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SteerCounters {
    slots: [u64; COUNTERS],
}

impl Default for SteerCounters {
    fn default() -> Self {
        SteerCounters {
            slots: [0; COUNTERS],
        }
    }
}

impl SteerCounters {
    /// The count of one outcome and reason (0 for a pair that cannot
    /// occur, such as a passing reason with outcome steered).
    pub fn get(&self, outcome: SteerOutcome, reason: &str) -> u64 {
        REASONS
            .iter()
            .position(|r| *r == reason)
            .and_then(|i| slot(outcome, i))
            .map_or(0, |s| self.slots[s as usize])
    }

    /// Every (outcome, reason, count) that can occur, zeros included.
    pub fn iter(&self) -> impl Iterator<Item = (SteerOutcome, &'static str, u64)> + '_ {
        let outcomes = [
            SteerOutcome::Steered,
            SteerOutcome::NoSocket,
            SteerOutcome::Passed,
        ];
        outcomes.into_iter().flat_map(move |o| {
            REASONS
                .iter()
                .enumerate()
                .filter_map(move |(i, r)| slot(o, i).map(|s| (o, *r, self.slots[s as usize])))
        })
    }

    /// Frames of one outcome, all reasons.
    pub fn total(&self, outcome: SteerOutcome) -> u64 {
        self.iter()
            .filter(|(o, _, _)| *o == outcome)
            .fold(0u64, |a, (_, _, n)| a.wrapping_add(n))
    }

    /// Frames redirected to a socket.
    pub fn redirected(&self) -> u64 {
        self.total(SteerOutcome::Steered)
    }

    /// Frames that were not xvs's and went to the kernel.
    pub fn passed(&self) -> u64 {
        self.total(SteerOutcome::Passed)
    }

    /// Frames that were xvs's but whose queue had no socket registered,
    /// which therefore went to the kernel as well.
    pub fn no_socket(&self) -> u64 {
        self.total(SteerOutcome::NoSocket)
    }

    /// Reads every slot of a `counters` map.
    pub(crate) fn read<T: Borrow<MapData>>(
        map: &PerCpuArray<T, u64>,
    ) -> Result<SteerCounters, XdpError> {
        let mut c = SteerCounters::default();
        for (i, v) in c.slots.iter_mut().enumerate() {
            let index = u32::try_from(i).unwrap_or(u32::MAX);
            let values = map.get(&index, 0).map_err(|e| map_error("counters", e))?;
            *v = values.iter().copied().fold(0u64, u64::wrapping_add);
        }
        Ok(c)
    }
}

/// Reads the counters of one interface's steering program from any
/// thread, for as long as it lives (the program itself may be gone).
#[derive(Clone)]
pub struct SteerCounterReader {
    ifname: Arc<str>,
    map: Arc<PerCpuArray<MapData, u64>>,
}

impl std::fmt::Debug for SteerCounterReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SteerCounterReader({})", self.ifname)
    }
}

impl SteerCounterReader {
    /// The interface the program is attached to.
    pub fn ifname(&self) -> &str {
        &self.ifname
    }

    /// The counts now, summed over CPUs.
    pub fn read(&self) -> Result<SteerCounters, XdpError> {
        SteerCounters::read(&*self.map)
    }
}

/// The steering program attached to one interface. Detaches on drop.
#[derive(Debug)]
pub struct Steering {
    attachment: Attachment,
    /// What the maps hold now, so an update writes only the difference.
    current: MapContents,
    /// The `counters` map, taken out of the object so readers can share it.
    counters: SteerCounterReader,
}

impl Steering {
    /// Loads the steering program and attaches it to `ifname` (in the
    /// calling thread's network namespace), replacing a stale xvs program
    /// left there (the crate docs say how one is recognised). All rule
    /// maps start empty: everything passes until [`Steering::update`].
    pub fn attach(ifname: &str, mode: AttachMode) -> Result<Steering, XdpError> {
        let ebpf = attach::load(STEER_OBJECT, STEER_PROGRAM)?;
        let mut attachment = Attachment::attach(ebpf, STEER_PROGRAM, ifname, mode)?;
        let map = attachment
            .ebpf
            .take_map("counters")
            .ok_or(XdpError::Missing("counters"))?;
        let map = PerCpuArray::try_from(map).map_err(|e| map_error("counters", e))?;
        Ok(Steering {
            attachment,
            current: MapContents::default(),
            counters: SteerCounterReader {
                ifname: Arc::from(ifname),
                map: Arc::new(map),
            },
        })
    }

    /// The interface this program is attached to.
    pub fn ifname(&self) -> &str {
        &self.attachment.ifname
    }

    /// The interface index this program is attached to.
    pub fn ifindex(&self) -> u32 {
        self.attachment.ifindex
    }

    /// Replaces the rule sets. Only the difference from the current maps is
    /// written, new entries before removals, so addresses present before
    /// and after never stop being claimed. On error the maps hold a mix of
    /// old and new rules; the next successful update converges them.
    pub fn update(&mut self, rules: &SteerRules) -> Result<(), XdpError> {
        let new = MapContents::from_rules(rules)?;
        write_rules(&mut self.attachment.ebpf, &mut self.current, &new)
    }

    /// Registers the AF_XDP socket `fd` for rx queue `queue`: packets the
    /// program claims on that queue go to it from now on. Registering
    /// again replaces the previous socket; the kernel removes the entry
    /// itself when the socket is closed.
    pub fn set_socket(&mut self, queue: u32, fd: RawFd) -> Result<(), XdpError> {
        if queue >= MAX_QUEUES {
            return Err(XdpError::QueueOutOfRange {
                queue,
                capacity: MAX_QUEUES,
            });
        }
        let map = self
            .attachment
            .ebpf
            .map_mut("xsks")
            .ok_or(XdpError::Missing("xsks"))?;
        let mut xsks: XskMap<&mut MapData> =
            XskMap::try_from(map).map_err(|e| map_error("xsks", e))?;
        xsks.set(queue, fd, 0).map_err(|e| map_error("xsks", e))
    }

    /// The program's counters, summed over CPUs.
    pub fn counters(&self) -> Result<SteerCounters, XdpError> {
        self.counters.read()
    }

    /// A reader of the program's counters for another thread.
    pub fn counter_reader(&self) -> SteerCounterReader {
        self.counters.clone()
    }
}

/// Writes the difference between `cur` (what the maps of the loaded
/// steering object hold) and `new`, updating `cur` as it goes.
pub(crate) fn write_rules(
    ebpf: &mut Ebpf,
    cur: &mut MapContents,
    new: &MapContents,
) -> Result<(), XdpError> {
    sync_map(ebpf, "local4", &mut cur.local4, &new.local4)?;
    sync_map(ebpf, "local6", &mut cur.local6, &new.local6)?;
    sync_map(ebpf, "nat4", &mut cur.nat4, &new.nat4)?;
    sync_map(ebpf, "nat6", &mut cur.nat6, &new.nat6)?;
    sync_map(ebpf, "natsrc4", &mut cur.natsrc4, &new.natsrc4)?;
    sync_map(ebpf, "natsrc6", &mut cur.natsrc6, &new.natsrc6)?;
    if cur.vrrp != new.vrrp {
        set_setting(ebpf, SET_VRRP, new.vrrp)?;
        cur.vrrp = new.vrrp;
    }
    if cur.sync_port != new.sync_port {
        set_setting(ebpf, SET_SYNC_PORT, new.sync_port)?;
        cur.sync_port = new.sync_port;
    }
    Ok(())
}

/// Sums one slot of the per-CPU `counters` array (decap's layout too).
pub(crate) fn percpu_sum(ebpf: &Ebpf, index: u32) -> Result<u64, XdpError> {
    let map = ebpf.map("counters").ok_or(XdpError::Missing("counters"))?;
    let counters: PerCpuArray<&MapData, u64> =
        PerCpuArray::try_from(map).map_err(|e| map_error("counters", e))?;
    let values = counters
        .get(&index, 0)
        .map_err(|e| map_error("counters", e))?;
    Ok(values.iter().copied().fold(0u64, u64::wrapping_add))
}

/// Reads the `counters` map of a steering object still holding it.
#[cfg(test)]
pub(crate) fn read_counters(ebpf: &Ebpf) -> Result<SteerCounters, XdpError> {
    let map = ebpf.map("counters").ok_or(XdpError::Missing("counters"))?;
    let counters: PerCpuArray<&MapData, u64> =
        PerCpuArray::try_from(map).map_err(|e| map_error("counters", e))?;
    SteerCounters::read(&counters)
}

fn set_setting(ebpf: &mut Ebpf, index: u32, value: u32) -> Result<(), XdpError> {
    let map = ebpf
        .map_mut("settings")
        .ok_or(XdpError::Missing("settings"))?;
    let mut settings: Array<&mut MapData, u32> =
        Array::try_from(map).map_err(|e| map_error("settings", e))?;
    settings
        .set(index, value, 0)
        .map_err(|e| map_error("settings", e))
}

/// Brings BPF hash map `name` from `current` to `wanted`, keeping `current`
/// equal to what the kernel map holds after every single operation.
pub(crate) fn sync_map<K: Pod + Ord + Copy>(
    ebpf: &mut Ebpf,
    name: &'static str,
    current: &mut BTreeMap<K, u8>,
    wanted: &BTreeMap<K, u8>,
) -> Result<(), XdpError> {
    let d = diff(current, wanted);
    if d.is_empty() {
        return Ok(());
    }
    let map = ebpf.map_mut(name).ok_or(XdpError::Missing(name))?;
    let mut hash: HashMap<&mut MapData, K, u8> =
        HashMap::try_from(map).map_err(|e| map_error(name, e))?;
    // Upserts first so surviving keys never disappear; but if the map
    // could overflow on the way, make room first (from_rules already
    // checked that the final contents fit).
    let capacity = hash_capacity(name);
    let removals_first = current.len() + d.upserts.len() > capacity;
    if removals_first {
        remove_all(&mut hash, name, current, &d.removals)?;
    }
    for (k, v) in &d.upserts {
        hash.insert(k, v, 0).map_err(|e| map_error(name, e))?;
        current.insert(*k, *v);
    }
    if !removals_first {
        remove_all(&mut hash, name, current, &d.removals)?;
    }
    Ok(())
}

fn remove_all<K: Pod + Ord + Copy>(
    hash: &mut HashMap<&mut MapData, K, u8>,
    name: &'static str,
    current: &mut BTreeMap<K, u8>,
    keys: &[K],
) -> Result<(), XdpError> {
    for k in keys {
        match hash.remove(k) {
            Ok(()) => {}
            // Already gone is what we wanted.
            Err(e) if is_not_found(&e) => {}
            Err(e) => return Err(map_error(name, e)),
        }
        current.remove(k);
    }
    Ok(())
}

fn is_not_found(e: &aya::maps::MapError) -> bool {
    match e {
        aya::maps::MapError::KeyNotFound => true,
        aya::maps::MapError::SyscallError(sys) => {
            sys.io_error.raw_os_error() == Some(nix::Error::ENOENT as i32)
        }
        _ => false,
    }
}

fn hash_capacity(name: &str) -> usize {
    use crate::rules::{LOCAL_CAPACITY, NAT_CAPACITY, NAT_SOURCE_CAPACITY};
    match name {
        "nat4" | "nat6" => NAT_CAPACITY,
        "natsrc4" | "natsrc6" => NAT_SOURCE_CAPACITY,
        "vip4" | "vip6" => crate::decap::VIP_CAPACITY,
        _ => LOCAL_CAPACITY,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The C enum `xvs_reason` in steer.c, read from the source: its
    /// names, lower-cased without the prefix, must be [`REASONS`] in
    /// order, and `XVS_R_CLAIMED` must sit at [`CLAIMED`].
    #[test]
    fn reasons_mirror_the_c_enum() {
        let src = include_str!("../bpf/steer.c");
        let start = src
            .find("enum xvs_reason {")
            .expect("enum xvs_reason in steer.c");
        let body = &src[start..];
        let body = &body[..body.find("};").expect("end of enum xvs_reason")];
        let mut names = Vec::new();
        let mut claimed_at = None;
        for line in body.lines().skip(1) {
            let name = line.trim().trim_end_matches(',');
            let name = name.split(" = ").next().unwrap_or(name).trim();
            let Some(name) = name.strip_prefix("XVS_R_") else {
                continue;
            };
            match name {
                "CLAIMED" => claimed_at = Some(names.len()),
                "MAX" => break,
                _ => names.push(name.to_ascii_lowercase()),
            }
        }
        assert_eq!(
            names, REASONS,
            "steer.c's enum xvs_reason and REASONS differ"
        );
        assert_eq!(claimed_at, Some(CLAIMED));
        assert!(
            src.contains("#define XVS_CNT_MAX (XVS_R_MAX + XVS_R_CLAIMED)"),
            "the counters array layout COUNTERS assumes"
        );
    }

    #[test]
    fn every_slot_belongs_to_exactly_one_outcome_and_reason() {
        let mut seen = [0u32; COUNTERS];
        for o in [
            SteerOutcome::Steered,
            SteerOutcome::Passed,
            SteerOutcome::NoSocket,
        ] {
            for i in 0..REASONS.len() {
                if let Some(s) = slot(o, i) {
                    seen[s as usize] += 1;
                }
            }
        }
        assert!(seen.iter().all(|n| *n == 1), "{seen:?}");
        let mut c = SteerCounters::default();
        c.slots[slot(SteerOutcome::NoSocket, 1).unwrap() as usize] = 7;
        c.slots[slot(SteerOutcome::Passed, CLAIMED).unwrap() as usize] = 3;
        assert_eq!(c.get(SteerOutcome::NoSocket, "malformed"), 7);
        assert_eq!(c.get(SteerOutcome::Steered, "malformed"), 0);
        assert_eq!(c.get(SteerOutcome::Passed, "own_address"), 3);
        assert_eq!(
            c.get(SteerOutcome::Steered, "own_address"),
            0,
            "no such pair"
        );
        assert_eq!((c.redirected(), c.passed(), c.no_socket()), (0, 3, 7));
        assert_eq!(c.iter().count(), COUNTERS);
    }
}
