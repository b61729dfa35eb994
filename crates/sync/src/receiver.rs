//! The backup's half: datagrams in, checked connections out.
//!
//! Layer: sync (sans-IO). [`Receiver::handle`] takes one UDP payload and
//! its source address and answers with the connections to install, a bulk
//! control message, or a drop; every drop is counted under a stable
//! reason name ([`RecvCounters::drops`]). Never panics, whatever arrives.
//!
//! Checks, in order (REFERENCE §9, `ip_vs_process_message`):
//! 1. The source must be a configured peer ("not_peer"; an IPv4-mapped
//!    IPv6 source compares as IPv4).
//! 2. An xvs control datagram is answered as such; a v1 datagram must
//!    pass [`xvs_wire::sync::parse`] (its [`SyncError`] reason).
//! 3. With a non-zero own SyncID, another SyncID is dropped ("sync_id");
//!    SyncID 0 accepts any, as the kernel does.
//! 4. Each entry: its [`EntryError`] reason, else its
//!    [`crate::Invalid`] reason, else it is returned.

use std::net::IpAddr;

use xvs_wire::sync::{parse, parse_control, Control, EntryError, SyncError};

use crate::synced::{Invalid, Synced};

/// Every reason a [`Receiver`] drops a datagram or an entry for: the
/// source and SyncID checks, then [`SyncError::reason`],
/// [`EntryError::reason`] and [`Invalid::reason`] names.
pub const DROP_REASONS: [&str; 25] = [
    "not_peer",
    "sync_id",
    // SyncError
    "short",
    "size",
    "reserved",
    "version",
    "spare",
    // EntryError
    "entry_truncated",
    "entry_version",
    "entry_type",
    "entry_size",
    "option_malformed",
    "seq_data",
    "pe_data",
    "pe_name",
    "mandatory_option",
    // Invalid
    "protocol",
    "fwmark",
    "state",
    "method",
    "local",
    "family",
    "address",
    "cport",
    "timeout",
];

/// Who a [`Receiver`] listens to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReceiverConfig {
    /// Own SyncID; 0 accepts datagrams of any SyncID.
    pub sync_id: u8,
    /// The directors datagrams are accepted from.
    pub peers: Vec<IpAddr>,
}

impl ReceiverConfig {
    /// From the `sync:` section.
    pub fn from_config(c: &xvs_config::ConnSync) -> ReceiverConfig {
        ReceiverConfig {
            sync_id: c.sync_id,
            peers: c.peers.clone(),
        }
    }
}

/// What one datagram meant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Received {
    /// The valid entries of a sync datagram (possibly none; the invalid
    /// ones are counted).
    Entries(Vec<Synced>),
    /// A peer asks for the whole table.
    BulkRequest,
    /// A peer finished sending its whole table.
    BulkDone,
    /// The whole datagram was dropped (counted).
    Dropped,
}

/// What a [`Receiver`] has seen.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecvCounters {
    /// Datagrams handled, dropped ones included.
    pub datagrams: u64,
    /// Entries returned.
    pub entries_ok: u64,
    /// Control datagrams accepted.
    pub controls: u64,
    drops: [u64; DROP_REASONS.len()],
}

impl RecvCounters {
    /// Every reason of [`DROP_REASONS`] with its count, zeros included.
    pub fn drops(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        DROP_REASONS.iter().copied().zip(self.drops.iter().copied())
    }

    /// The count of one reason (0 for a name not in [`DROP_REASONS`]).
    pub fn dropped(&self, reason: &str) -> u64 {
        DROP_REASONS
            .iter()
            .position(|&r| r == reason)
            .map_or(0, |i| self.drops[i])
    }

    /// Drops of every reason together.
    pub fn dropped_total(&self) -> u64 {
        self.drops.iter().sum()
    }

    fn drop(&mut self, reason: &'static str) {
        // Every reason the receiver passes is in the list (tested); an
        // unlisted one would go uncounted rather than panic.
        if let Some(i) = DROP_REASONS.iter().position(|&r| r == reason) {
            self.drops[i] += 1;
        }
    }
}

/// Checks incoming sync datagrams. See the module documentation.
#[derive(Debug)]
pub struct Receiver {
    sync_id: u8,
    peers: Vec<IpAddr>,
    counters: RecvCounters,
}

impl Receiver {
    pub fn new(cfg: ReceiverConfig) -> Receiver {
        Receiver {
            sync_id: cfg.sync_id,
            peers: cfg.peers.into_iter().map(canonical).collect(),
            counters: RecvCounters::default(),
        }
    }

    /// One datagram (a whole UDP payload) from `from`.
    pub fn handle(&mut self, from: IpAddr, datagram: &[u8]) -> Received {
        self.counters.datagrams += 1;
        if !self.peers.contains(&canonical(from)) {
            return self.dropped("not_peer");
        }
        if let Some((sync_id, c)) = parse_control(datagram) {
            if !self.accepts(sync_id) {
                return self.dropped("sync_id");
            }
            self.counters.controls += 1;
            return match c {
                Control::BulkRequest => Received::BulkRequest,
                Control::BulkDone => Received::BulkDone,
            };
        }
        let (header, entries) = match parse(datagram) {
            Ok(parsed) => parsed,
            Err(e) => return self.dropped(SyncError::reason(e)),
        };
        if !self.accepts(header.sync_id) {
            return self.dropped("sync_id");
        }
        let mut out = Vec::with_capacity(entries.len());
        for entry in entries {
            match entry
                .map_err(EntryError::reason)
                .and_then(|e| Synced::from_wire(&e).map_err(Invalid::reason))
            {
                Ok(s) => out.push(s),
                Err(reason) => self.counters.drop(reason),
            }
        }
        self.counters.entries_ok += out.len() as u64;
        Received::Entries(out)
    }

    pub fn counters(&self) -> &RecvCounters {
        &self.counters
    }

    /// ip_vs_process_message: "SyncID sanity check" only when our own
    /// SyncID is set.
    fn accepts(&self, sync_id: u8) -> bool {
        self.sync_id == 0 || sync_id == self.sync_id
    }

    fn dropped(&mut self, reason: &'static str) -> Received {
        self.counters.drop(reason);
        Received::Dropped
    }
}

/// IPv4-mapped IPv6 addresses as IPv4, so a dual-stack socket's view of
/// an IPv4 peer matches the configured address.
fn canonical(a: IpAddr) -> IpAddr {
    match a {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(a, IpAddr::V4),
        v4 => v4,
    }
}

#[cfg(test)]
#[path = "receiver_tests.rs"]
mod tests;
