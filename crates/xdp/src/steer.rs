//! [`Steering`]: the steering program attached to one interface, its rule
//! maps kept in step with configuration reloads, and its AF_XDP socket map.
//!
//! The maps start empty, so right after [`Steering::attach`] everything
//! passes to the kernel; [`Steering::update`] claims what the rules name.
//! Until a queue has a socket ([`Steering::set_socket`]), claimed packets
//! on it also fall back to the kernel (counted as `no_socket`).

use std::collections::BTreeMap;
use std::os::fd::RawFd;

use aya::maps::{Array, HashMap, MapData, PerCpuArray, XskMap};
use aya::Ebpf;
use aya::Pod;

use crate::attach::{self, map_error, Attachment};
use crate::rules::{diff, MapContents, SteerRules};
use crate::{AttachMode, XdpError, STEER_OBJECT, STEER_PROGRAM};

/// Capacity of the `xsks` map (queues per interface), as in steer.c.
pub const MAX_QUEUES: u32 = 256;

// Indices of the `counters` and `settings` arrays, as the enums in steer.c.
pub(crate) const CNT_STEERED: u32 = 0;
pub(crate) const CNT_PASSED: u32 = 1;
pub(crate) const CNT_NO_SOCKET: u32 = 2;
const SET_VRRP: u32 = 0;
const SET_SYNC_PORT: u32 = 1;

/// Packet counts of the steering program on one interface, summed over
/// CPUs since it was loaded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SteerCounters {
    /// Packets that matched a rule: a redirect to the queue's socket was
    /// attempted.
    pub redirected: u64,
    /// Packets that were not xvs's and went to the kernel.
    pub passed: u64,
    /// Of `redirected`, those whose queue had no socket registered, which
    /// therefore went to the kernel as well.
    pub no_socket: u64,
}

/// The steering program attached to one interface. Detaches on drop.
#[derive(Debug)]
pub struct Steering {
    attachment: Attachment,
    /// What the maps hold now, so an update writes only the difference.
    current: MapContents,
}

impl Steering {
    /// Loads the steering program and attaches it to `ifname` (in the
    /// calling thread's network namespace), replacing a stale xvs program
    /// left there (the crate docs say how one is recognised). All rule
    /// maps start empty: everything passes until [`Steering::update`].
    pub fn attach(ifname: &str, mode: AttachMode) -> Result<Steering, XdpError> {
        let ebpf = attach::load(STEER_OBJECT, STEER_PROGRAM)?;
        let attachment = Attachment::attach(ebpf, STEER_PROGRAM, ifname, mode)?;
        Ok(Steering {
            attachment,
            current: MapContents::default(),
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
        let ebpf = &self.attachment.ebpf;
        Ok(SteerCounters {
            redirected: percpu_sum(ebpf, CNT_STEERED)?,
            passed: percpu_sum(ebpf, CNT_PASSED)?,
            no_socket: percpu_sum(ebpf, CNT_NO_SOCKET)?,
        })
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

/// Sums one slot of the per-CPU `counters` array.
pub(crate) fn percpu_sum(ebpf: &Ebpf, index: u32) -> Result<u64, XdpError> {
    let map = ebpf.map("counters").ok_or(XdpError::Missing("counters"))?;
    let counters: PerCpuArray<&MapData, u64> =
        PerCpuArray::try_from(map).map_err(|e| map_error("counters", e))?;
    let values = counters
        .get(&index, 0)
        .map_err(|e| map_error("counters", e))?;
    Ok(values.iter().copied().fold(0u64, u64::wrapping_add))
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
