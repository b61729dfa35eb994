//! The director's neighbour cache (ARP for IPv4, ND for IPv6), sans-IO:
//! the control thread feeds it what it hears and asks it which addresses to
//! probe; workers read published snapshots of it. Timings follow Linux's
//! defaults in spirit (net.ipv4.neigh.default): an entry is trusted for
//! `REACHABLE_MS` after it was last confirmed, then re-probed while it keeps
//! being used (the old MAC stays usable meanwhile, as Linux's STALE state),
//! and forgotten after `MAX_PROBES` probes go unanswered. Unresolved
//! addresses are probed once a second.

use std::collections::HashMap;
use std::net::IpAddr;

use xvs_config::MacAddr;

/// How long a confirmed entry is trusted without re-probing.
pub const REACHABLE_MS: u64 = 30_000;
/// Interval between probes of one address.
pub const PROBE_INTERVAL_MS: u64 = 1_000;
/// Unanswered probes before an entry is dropped / resolution given up
/// (until the next request or the next round for a wanted address).
pub const MAX_PROBES: u32 = 3;
/// Bound on the number of entries (protects against floods of requests).
pub const MAX_ENTRIES: usize = 65_536;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Entry {
    mac: Option<MacAddr>,
    confirmed_ms: u64,
    last_probe_ms: Option<u64>,
    probes: u32,
    /// Resolved on demand (a worker asked) rather than configured.
    wanted: bool,
}

/// Neighbour cache keyed by (interface index, address).
#[derive(Debug, Default)]
pub struct NeighborCache {
    entries: HashMap<(usize, IpAddr), Entry>,
    version: u64,
}

impl NeighborCache {
    pub fn new() -> NeighborCache {
        NeighborCache::default()
    }

    /// Bumped whenever a MAC appears, changes or disappears.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// Keep `ip` resolved for as long as the configuration names it (real
    /// servers, gateways): probed from now on, kept fresh, never forgotten.
    pub fn want(&mut self, iface: usize, ip: IpAddr) {
        self.entries
            .entry((iface, ip))
            .and_modify(|e| e.wanted = true)
            .or_insert(Entry {
                mac: None,
                confirmed_ms: 0,
                last_probe_ms: None,
                probes: 0,
                wanted: true,
            });
    }

    /// Forget which addresses are wanted (before a reload re-declares them).
    pub fn clear_wanted(&mut self) {
        for e in self.entries.values_mut() {
            e.wanted = false;
        }
    }

    /// A worker could not forward to `ip`: resolve it now.
    pub fn request(&mut self, iface: usize, ip: IpAddr) {
        if self.entries.len() >= MAX_ENTRIES && !self.entries.contains_key(&(iface, ip)) {
            return;
        }
        let e = self.entries.entry((iface, ip)).or_insert(Entry {
            mac: None,
            confirmed_ms: 0,
            last_probe_ms: None,
            probes: 0,
            wanted: false,
        });
        if e.mac.is_none() && e.probes >= MAX_PROBES {
            // A fresh request restarts a resolution that gave up.
            e.probes = 0;
            e.last_probe_ms = None;
        }
    }

    /// We heard `ip` is at `mac` (ARP reply/request, NA, NS with a source
    /// link-layer option). Only addresses already in the cache are updated
    /// unless `create` — a director must not fill its cache from every
    /// broadcast on the wire.
    pub fn learn(
        &mut self,
        iface: usize,
        ip: IpAddr,
        mac: MacAddr,
        now_ms: u64,
        create: bool,
    ) -> bool {
        let key = (iface, ip);
        let Some(e) = self.entries.get_mut(&key) else {
            if create && self.entries.len() < MAX_ENTRIES {
                self.entries.insert(
                    key,
                    Entry {
                        mac: Some(mac),
                        confirmed_ms: now_ms,
                        last_probe_ms: None,
                        probes: 0,
                        wanted: false,
                    },
                );
                self.version += 1;
                return true;
            }
            return false;
        };
        let changed = e.mac != Some(mac);
        e.mac = Some(mac);
        e.confirmed_ms = now_ms;
        e.probes = 0;
        e.last_probe_ms = None;
        if changed {
            self.version += 1;
        }
        changed
    }

    /// Addresses to probe now (each at most once per `PROBE_INTERVAL_MS`);
    /// entries whose probes all went unanswered lose their MAC (and are
    /// removed unless wanted).
    pub fn poll_probes(&mut self, now_ms: u64, out: &mut Vec<(usize, IpAddr)>) {
        out.clear();
        let mut lost = false;
        self.entries.retain(|key, e| {
            let fresh = e.mac.is_some() && now_ms.saturating_sub(e.confirmed_ms) < REACHABLE_MS;
            if fresh {
                return true;
            }
            let due = e
                .last_probe_ms
                .is_none_or(|t| now_ms.saturating_sub(t) >= PROBE_INTERVAL_MS);
            if !due {
                return true;
            }
            if e.probes >= MAX_PROBES {
                if e.mac.take().is_some() {
                    lost = true;
                }
                if !e.wanted {
                    return false;
                }
                // Wanted addresses keep being probed, more slowly.
                if e.last_probe_ms
                    .is_some_and(|t| now_ms.saturating_sub(t) < 10 * PROBE_INTERVAL_MS)
                {
                    return true;
                }
            }
            e.probes = e.probes.saturating_add(1);
            e.last_probe_ms = Some(now_ms);
            out.push(*key);
            true
        });
        if lost {
            self.version += 1;
        }
    }

    pub fn lookup(&self, iface: usize, ip: IpAddr) -> Option<MacAddr> {
        self.entries.get(&(iface, ip)).and_then(|e| e.mac)
    }

    /// Every resolved entry (what workers get).
    pub fn resolved(&self) -> HashMap<(usize, IpAddr), MacAddr> {
        self.entries
            .iter()
            .filter_map(|(k, e)| e.mac.map(|m| (*k, m)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAC: MacAddr = [2, 0, 0, 0, 0, 9];

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn wanted_addresses_are_probed_until_answered() {
        let mut c = NeighborCache::new();
        let mut out = Vec::new();
        c.want(1, ip("198.18.1.11"));
        c.poll_probes(0, &mut out);
        assert_eq!(out, vec![(1, ip("198.18.1.11"))]);
        c.poll_probes(500, &mut out);
        assert!(out.is_empty(), "not again within a second");
        c.poll_probes(1000, &mut out);
        assert_eq!(out.len(), 1);
        assert!(c.learn(1, ip("198.18.1.11"), MAC, 1100, false));
        assert_eq!(c.lookup(1, ip("198.18.1.11")), Some(MAC));
        c.poll_probes(2000, &mut out);
        assert!(out.is_empty(), "fresh entries are not probed");
    }

    #[test]
    fn stale_entries_are_reprobed_and_dropped_when_silent() {
        let mut c = NeighborCache::new();
        let mut out = Vec::new();
        c.request(0, ip("198.18.0.1"));
        c.learn(0, ip("198.18.0.1"), MAC, 0, false);
        let v = c.version();
        // Stale: probed but still usable.
        c.poll_probes(REACHABLE_MS, &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(c.lookup(0, ip("198.18.0.1")), Some(MAC));
        c.poll_probes(REACHABLE_MS + 1000, &mut out);
        c.poll_probes(REACHABLE_MS + 2000, &mut out);
        assert_eq!(c.lookup(0, ip("198.18.0.1")), Some(MAC));
        // Three probes unanswered: gone (it was requested, not wanted).
        c.poll_probes(REACHABLE_MS + 3000, &mut out);
        assert!(out.is_empty());
        assert_eq!(c.lookup(0, ip("198.18.0.1")), None);
        assert!(c.version() > v);
    }

    #[test]
    fn learning_does_not_create_entries_unless_asked() {
        let mut c = NeighborCache::new();
        assert!(!c.learn(0, ip("198.18.0.77"), MAC, 0, false));
        assert_eq!(c.lookup(0, ip("198.18.0.77")), None);
        assert!(c.learn(0, ip("198.18.0.77"), MAC, 0, true));
        assert_eq!(c.resolved().len(), 1);
    }
}
