//! The values that cross the table's API: connection ids, the record a
//! worker inserts ([`NewConn`]), the consistent copy it reads back
//! ([`ConnEntry`]), transition results, sizing and errors.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use thiserror::Error;

use crate::flags::ConnFlags;
use crate::slot::Fields;
use crate::tcp_state::ConnState;

/// Names one entry: its shard (the worker that owns it), address family,
/// slot and generation. Packing, high to low: generation (32 bits), IPv6
/// flag (1), shard (7), slot (24). An id whose entry has been freed or
/// reused fails every lookup and update (the generation no longer matches),
/// so ids may be held across packets safely. A valid id is never 0 (live
/// generations are ≡ 2 mod 4), so sync code may use 0 as "none".
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ConnId(u64);

impl ConnId {
    pub(crate) const fn new(gen: u32, v6: bool, shard: usize, slot: u32) -> ConnId {
        ConnId(
            ((gen as u64) << 32)
                | ((v6 as u64) << 31)
                | (((shard as u64) & 0x7F) << 24)
                | ((slot as u64) & 0xFF_FFFF),
        )
    }

    /// The packed value (e.g. to store an id in another structure).
    pub const fn raw(self) -> u64 {
        self.0
    }

    /// An id from [`ConnId::raw`]. Any value is accepted; a value that does
    /// not name a live entry simply fails lookups.
    pub const fn from_raw(raw: u64) -> ConnId {
        ConnId(raw)
    }

    /// The worker (shard) owning the entry.
    pub const fn worker(self) -> usize {
        ((self.0 >> 24) & 0x7F) as usize
    }

    pub const fn is_ipv6(self) -> bool {
        (self.0 >> 31) & 1 == 1
    }

    pub(crate) const fn slot(self) -> usize {
        (self.0 & 0xFF_FFFF) as usize
    }

    pub(crate) const fn gen(self) -> u32 {
        (self.0 >> 32) as u32
    }
}

/// A connection (or persistence template) to insert.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NewConn {
    /// IP protocol number (6 TCP, 17 UDP; 0 for fwmark templates).
    pub protocol: u8,
    /// Client address/port (for a template: the client network, port 0).
    pub caddr: IpAddr,
    pub cport: u16,
    /// Virtual service address/port (fwmark templates: the mark as an
    /// address of the service's family, e.g. `0.0.0.7`).
    pub vaddr: IpAddr,
    pub vport: u16,
    /// FullNAT local address/port; equal to caddr/cport for other methods.
    pub laddr: IpAddr,
    pub lport: u16,
    /// Real server address/port.
    pub daddr: IpAddr,
    pub dport: u16,
    /// IPVS flags: method bits, `INACTIVE` (new entries are bound inactive,
    /// see [`ConnFlags::for_method`]), `NOOUTPUT` for DR/TUN, `TEMPLATE`,
    /// `ONE_PACKET`, `SYNC`... `HASHED` is managed by the table.
    pub flags: ConnFlags,
    /// Stable real-server id, opaque to the table (handed back on expiry).
    pub dest_id: u32,
    /// The persistence template controlling this entry, if any.
    pub controller: Option<ConnId>,
    pub state: ConnState,
    /// Idle timeout in seconds (new TCP entries: 3 s in NONE, REFERENCE
    /// §4.1). Stored in 24 bits: values above ~194 days are clamped.
    pub timeout_secs: u32,
}

/// A consistent copy of an entry. Key fields (addresses, ports, protocol,
/// dest_id, controller) are from one insert; flags/state/timeout, the timer
/// and counters are each a value the entry really had at the time of the
/// copy (other workers may have changed them since).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnEntry {
    pub id: ConnId,
    pub protocol: u8,
    pub caddr: IpAddr,
    pub cport: u16,
    pub vaddr: IpAddr,
    pub vport: u16,
    pub laddr: IpAddr,
    pub lport: u16,
    pub daddr: IpAddr,
    pub dport: u16,
    pub flags: ConnFlags,
    pub dest_id: u32,
    pub controller: Option<ConnId>,
    pub state: ConnState,
    /// Idle timeout of the current state, seconds.
    pub timeout_secs: u32,
    /// Absolute time (the callers' `now_secs` clock) at which the entry
    /// expires unless refreshed; 0 after `expire_now`.
    pub expires_at: u32,
    /// Packets counted with [`crate::ConnTable::count_packet`] (24-bit,
    /// wrapping).
    pub in_pkts: u32,
    /// Live entries this one controls (templates).
    pub n_controlled: u32,
}

impl ConnEntry {
    pub(crate) fn from_fields(id: ConnId, f: &Fields) -> ConnEntry {
        let ip = |a: u128| -> IpAddr {
            if id.is_ipv6() {
                IpAddr::V6(Ipv6Addr::from(a))
            } else {
                // IPv4 fields were stored from a u32: the cast keeps them.
                IpAddr::V4(Ipv4Addr::from(a as u32))
            }
        };
        ConnEntry {
            id,
            protocol: f.proto,
            caddr: ip(f.caddr),
            cport: f.cport,
            vaddr: ip(f.vaddr),
            vport: f.vport,
            laddr: ip(f.laddr),
            lport: f.lport,
            daddr: ip(f.daddr),
            dport: f.dport,
            flags: ConnFlags(f.flags),
            dest_id: f.dest_id,
            controller: (f.controller != 0).then_some(ConnId::from_raw(f.controller)),
            // The byte was written from a ConnState; NONE is a safe reading
            // of anything else.
            state: ConnState::from_u8(f.state).unwrap_or(ConnState::None),
            timeout_secs: f.timeout,
            expires_at: f.expires,
            in_pkts: f.in_pkts,
            n_controlled: f.n_controlled,
        }
    }

    pub fn is_template(&self) -> bool {
        self.flags.contains(ConnFlags::TEMPLATE)
    }

    /// True once `now` has reached the expiry time.
    pub fn is_expired(&self, now_secs: u32) -> bool {
        now_secs >= self.expires_at
    }

    /// Seconds left before expiry (0 if expired), for `ipvsadm -Lnc`'s
    /// expire column.
    pub fn expires_in(&self, now_secs: u32) -> u32 {
        self.expires_at.saturating_sub(now_secs)
    }
}

/// Result of [`crate::ConnTable::tcp_transition`]. `became_active` /
/// `became_inactive` tell the caller to move one connection between the
/// real server's inactive and active counters (REFERENCE §4.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transition {
    pub old: ConnState,
    pub new: ConnState,
    pub became_active: bool,
    pub became_inactive: bool,
}

/// Why an insert failed. The table is unchanged in every case.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
pub enum InsertError {
    /// The worker's shard has no free slot for this address family; the
    /// new flow must be dropped (and counted), established ones carry on.
    #[error("connection table shard full (raise conn_capacity)")]
    Full,
    /// A live entry already has this entry's input, output or template key.
    #[error("a connection with the same key already exists ({0:?})")]
    Exists(ConnId),
    /// Client, virtual, local and real-server addresses must all be IPv4
    /// or all IPv6.
    #[error("connection addresses mix IPv4 and IPv6")]
    AddressFamilyMismatch,
    /// The controlling template was freed meanwhile (or controls the
    /// maximum 2^24 − 1 entries): look it up or create it again.
    #[error("controlling template is gone; look it up again")]
    ControllerUnavailable,
    /// The worker index names no shard.
    #[error("worker {0} has no connection-table shard")]
    NoSuchWorker(usize),
}

/// Sizing of a [`crate::ConnTable`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TableConfig {
    /// IPv4 connections, all workers together (split evenly over shards).
    pub capacity_v4: usize,
    /// IPv6 connections, all workers together.
    pub capacity_v6: usize,
    /// Worker count = shard count (1..=[`crate::ConnTable::MAX_WORKERS`]).
    pub workers: usize,
    /// Secret seed of the index hash; pass a random value in production so
    /// clients cannot aim flows at one index group.
    pub hash_seed: u64,
}

/// Why a table could not be built.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
pub enum TableError {
    #[error("connection table needs at least one worker")]
    NoWorkers,
    #[error("{0} workers exceed the connection table's limit of {max}", max = crate::ConnTable::MAX_WORKERS)]
    TooManyWorkers(usize),
    #[error("{per_shard} connections per worker exceed the limit of {max}; add workers or lower conn_capacity", max = crate::ConnTable::MAX_SHARD_CAPACITY)]
    ShardTooLarge { per_shard: usize },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_packing_round_trips() {
        let id = ConnId::new(0xDEAD_BEE2, true, 127, 0xAB_CDEF);
        assert_eq!(id.gen(), 0xDEAD_BEE2);
        assert!(id.is_ipv6());
        assert_eq!(id.worker(), 127);
        assert_eq!(id.slot(), 0xAB_CDEF);
        assert_eq!(ConnId::from_raw(id.raw()), id);
        assert_eq!(ConnId::new(2, false, 0, 0).raw(), 0x0000_0002_0000_0000);
    }

    #[test]
    fn expiry_helpers() {
        let f = Fields {
            seq: 2,
            expires: 100,
            flags: ConnFlags::TEMPLATE.bits(),
            state: 99,
            ..Fields::default()
        };
        let e = ConnEntry::from_fields(ConnId::new(2, false, 0, 0), &f);
        assert!(e.is_template());
        assert_eq!(e.state, ConnState::None);
        assert_eq!(e.expires_in(40), 60);
        assert_eq!(e.expires_in(140), 0);
        assert!(!e.is_expired(99));
        assert!(e.is_expired(100));
        assert_eq!(e.caddr, IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    }
}
