//! What the steering program must claim for xvs, as plain data: the rule
//! sets a snapshot implies ([`SteerRules`]), their encoding as the keys of
//! the BPF maps `bpf/steer.c` reads, and the per-map diff that turns the
//! maps of one configuration into those of the next.
//!
//! Pure logic (no BPF calls): [`crate::Steering::update`] applies the diffs.
//! Applying upserts before removals means an address present in both the
//! old and the new configuration is never briefly missing from the maps, so
//! a reload does not bounce its traffic to the kernel.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::XdpError;

/// IANA protocol numbers the steering program can match NAT replies on:
/// they carry the source port in the first two bytes of the L4 header.
pub const IPPROTO_TCP: u8 = 6;
/// UDP (see [`IPPROTO_TCP`]).
pub const IPPROTO_UDP: u8 = 17;
/// SCTP (see [`IPPROTO_TCP`]); IPVS balances SCTP too.
pub const IPPROTO_SCTP: u8 = 132;

/// Value bit in `local4`/`local6`: the address is a VIP.
pub const LOCAL_VIP: u8 = 1;
/// Value bit in `local4`/`local6`: the address is a FullNAT local address.
pub const LOCAL_LIP: u8 = 2;
/// Value bit in `local4`/`local6`: the address is one of the director's
/// own (an interface address). Packets to it are the kernel's even when
/// they come from a NAT real server's service port, and so are ARP
/// requests and neighbour solicitations for it.
pub const LOCAL_SELF: u8 = 4;

/// Capacities of the steering maps, as declared in `bpf/steer.c`.
pub const LOCAL_CAPACITY: usize = 16384;
/// See [`LOCAL_CAPACITY`].
pub const NAT_CAPACITY: usize = 65536;
/// See [`LOCAL_CAPACITY`].
pub const NAT_SOURCE_CAPACITY: usize = 16384;

/// Everything xvs owns on an interface, in the terms of the configuration.
///
/// Order and duplicates do not matter: the maps are sets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SteerRules {
    /// Virtual addresses: every packet to one is xvs's, and so are ARP
    /// requests and neighbour solicitations asking for one.
    pub vips: Vec<IpAddr>,
    /// FullNAT local addresses (LIPs), treated like VIPs.
    pub local_addrs: Vec<IpAddr>,
    /// NAT real servers as ⟨address, port, IANA protocol⟩: their replies
    /// (source = this tuple) come back through the director. Port 0 means
    /// every port of that address and protocol (a port-0 service). The
    /// addresses also claim ICMP/ICMPv6 errors sent by these servers.
    pub nat_sources: Vec<(IpAddr, u16, u8)>,
    /// The director's own addresses: never claimed by the NAT-reply rules
    /// (the director's own connections to a real server's service port,
    /// such as health checks, get replies from that port too), nor by
    /// ARP/ND. A VIP or local address listed here as well stays claimed.
    pub own_addrs: Vec<IpAddr>,
    /// Claim VRRP (IP protocol 112).
    pub vrrp: bool,
    /// Claim UDP to this destination port (connection sync).
    pub sync_port: Option<u16>,
}

/// Key of `local4`, `natsrc4`: the address in network byte order.
pub fn v4_key(addr: Ipv4Addr) -> [u8; 4] {
    addr.octets()
}

/// Key of `local6`, `natsrc6`: the address in network byte order.
pub fn v6_key(addr: Ipv6Addr) -> [u8; 16] {
    addr.octets()
}

/// Key of `nat4` (`struct nat4_key` in steer.c): address, port in network
/// byte order, protocol, one zero pad byte.
pub fn nat4_key(addr: Ipv4Addr, port: u16, proto: u8) -> [u8; 8] {
    let mut key = [0u8; 8];
    key[..4].copy_from_slice(&addr.octets());
    key[4..6].copy_from_slice(&port.to_be_bytes());
    key[6] = proto;
    key
}

/// Key of `nat6` (`struct nat6_key` in steer.c): as [`nat4_key`] with a
/// 16-byte address; 20 bytes in all.
pub fn nat6_key(addr: Ipv6Addr, port: u16, proto: u8) -> [u8; 20] {
    let mut key = [0u8; 20];
    key[..16].copy_from_slice(&addr.octets());
    key[16..18].copy_from_slice(&port.to_be_bytes());
    key[18] = proto;
    key
}

/// The exact contents of every steering map for one [`SteerRules`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct MapContents {
    pub local4: BTreeMap<[u8; 4], u8>,
    pub local6: BTreeMap<[u8; 16], u8>,
    pub nat4: BTreeMap<[u8; 8], u8>,
    pub nat6: BTreeMap<[u8; 20], u8>,
    pub natsrc4: BTreeMap<[u8; 4], u8>,
    pub natsrc6: BTreeMap<[u8; 16], u8>,
    /// settings[0]: 1 to claim VRRP.
    pub vrrp: u32,
    /// settings[1]: the sync port, 0 for none.
    pub sync_port: u32,
}

impl MapContents {
    /// Encodes `rules`, rejecting protocols steer.c cannot match on and
    /// sets larger than their map.
    pub fn from_rules(rules: &SteerRules) -> Result<MapContents, XdpError> {
        let mut m = MapContents::default();
        let mut mark = |addr: IpAddr, bit: u8| match addr {
            IpAddr::V4(a) => *m.local4.entry(v4_key(a)).or_insert(0) |= bit,
            IpAddr::V6(a) => *m.local6.entry(v6_key(a)).or_insert(0) |= bit,
        };
        for &vip in &rules.vips {
            mark(vip, LOCAL_VIP);
        }
        for &lip in &rules.local_addrs {
            mark(lip, LOCAL_LIP);
        }
        for &own in &rules.own_addrs {
            mark(own, LOCAL_SELF);
        }
        for &(addr, port, proto) in &rules.nat_sources {
            if !matches!(proto, IPPROTO_TCP | IPPROTO_UDP | IPPROTO_SCTP) {
                return Err(XdpError::Rule(format!(
                    "NAT real server {addr} port {port}: protocol {proto} has no ports to \
                     match replies on (use TCP 6, UDP 17 or SCTP 132)"
                )));
            }
            match addr {
                IpAddr::V4(a) => {
                    m.nat4.insert(nat4_key(a, port, proto), 1);
                    m.natsrc4.insert(v4_key(a), 1);
                }
                IpAddr::V6(a) => {
                    m.nat6.insert(nat6_key(a, port, proto), 1);
                    m.natsrc6.insert(v6_key(a), 1);
                }
            }
        }
        m.vrrp = u32::from(rules.vrrp);
        m.sync_port = rules.sync_port.map_or(0, u32::from);

        check_capacity("local4", m.local4.len(), LOCAL_CAPACITY)?;
        check_capacity("local6", m.local6.len(), LOCAL_CAPACITY)?;
        check_capacity("nat4", m.nat4.len(), NAT_CAPACITY)?;
        check_capacity("nat6", m.nat6.len(), NAT_CAPACITY)?;
        check_capacity("natsrc4", m.natsrc4.len(), NAT_SOURCE_CAPACITY)?;
        check_capacity("natsrc6", m.natsrc6.len(), NAT_SOURCE_CAPACITY)?;
        Ok(m)
    }
}

fn check_capacity(map: &'static str, count: usize, capacity: usize) -> Result<(), XdpError> {
    if count > capacity {
        return Err(XdpError::Capacity {
            map,
            count,
            capacity,
        });
    }
    Ok(())
}

/// The operations that turn one map's contents into another's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MapDiff<K> {
    /// Keys to insert, or whose value changed.
    pub upserts: Vec<(K, u8)>,
    /// Keys to delete.
    pub removals: Vec<K>,
}

impl<K> MapDiff<K> {
    pub fn is_empty(&self) -> bool {
        self.upserts.is_empty() && self.removals.is_empty()
    }
}

/// Computes the smallest set of per-key operations from `old` to `new`.
pub(crate) fn diff<K: Ord + Copy>(old: &BTreeMap<K, u8>, new: &BTreeMap<K, u8>) -> MapDiff<K> {
    let upserts = new
        .iter()
        .filter(|(k, v)| old.get(k) != Some(v))
        .map(|(k, v)| (*k, *v))
        .collect();
    let removals = old
        .keys()
        .filter(|k| !new.contains_key(k))
        .copied()
        .collect();
    MapDiff { upserts, removals }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn v4(s: &str) -> IpAddr {
        IpAddr::V4(s.parse().unwrap())
    }
    fn v6(s: &str) -> IpAddr {
        IpAddr::V6(s.parse().unwrap())
    }

    #[test]
    fn nat_keys_match_the_c_struct_layout() {
        // struct nat4_key { __u32 addr; __be16 port; __u8 proto; __u8 pad; }
        assert_eq!(
            nat4_key("198.18.0.10".parse().unwrap(), 8080, IPPROTO_TCP),
            [198, 18, 0, 10, 0x1f, 0x90, 6, 0]
        );
        // struct nat6_key { __u8 addr[16]; __be16 port; __u8 proto; __u8 pad; }
        let k = nat6_key("fd00::1:2".parse().unwrap(), 53, IPPROTO_UDP);
        assert_eq!(
            k,
            [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 2, 0, 53, 17, 0]
        );
        assert_eq!(v4_key("10.1.2.3".parse().unwrap()), [10, 1, 2, 3]);
    }

    #[test]
    fn an_address_that_is_both_vip_and_local_address_carries_both_bits() {
        let rules = SteerRules {
            vips: vec![v4("198.18.0.1"), v6("fd00::1"), v4("198.18.0.1")],
            local_addrs: vec![v4("198.18.0.1"), v4("198.18.0.2")],
            ..Default::default()
        };
        let m = MapContents::from_rules(&rules).unwrap();
        assert_eq!(
            m.local4.get(&[198, 18, 0, 1]),
            Some(&(LOCAL_VIP | LOCAL_LIP))
        );
        assert_eq!(m.local4.get(&[198, 18, 0, 2]), Some(&LOCAL_LIP));
        assert_eq!(m.local4.len(), 2);
        assert_eq!(m.local6.len(), 1);
        assert!(m.nat4.is_empty() && m.natsrc4.is_empty());
    }

    #[test]
    fn own_addresses_carry_the_self_bit_and_a_vip_among_them_stays_a_vip() {
        let rules = SteerRules {
            vips: vec![v4("198.18.0.100")],
            own_addrs: vec![v4("198.18.0.2"), v6("fd00::2"), v4("198.18.0.100")],
            ..Default::default()
        };
        let m = MapContents::from_rules(&rules).unwrap();
        assert_eq!(m.local4.get(&[198, 18, 0, 2]), Some(&LOCAL_SELF));
        assert_eq!(
            m.local4.get(&[198, 18, 0, 100]),
            Some(&(LOCAL_VIP | LOCAL_SELF)),
            "steer.c claims anything with the VIP or LIP bit"
        );
        assert_eq!(m.local6.len(), 1);
    }

    #[test]
    fn nat_sources_fill_the_tuple_map_and_the_address_only_map() {
        let rules = SteerRules {
            nat_sources: vec![
                (v4("198.18.1.10"), 80, IPPROTO_TCP),
                (v4("198.18.1.10"), 53, IPPROTO_UDP),
                (v6("fd00::10"), 0, IPPROTO_SCTP),
            ],
            vrrp: true,
            sync_port: Some(8848),
            ..Default::default()
        };
        let m = MapContents::from_rules(&rules).unwrap();
        assert_eq!(m.nat4.len(), 2);
        assert_eq!(m.natsrc4.len(), 1, "one address, two tuples");
        assert!(m
            .nat6
            .contains_key(&nat6_key("fd00::10".parse().unwrap(), 0, IPPROTO_SCTP)));
        assert_eq!(m.natsrc6.len(), 1);
        assert_eq!((m.vrrp, m.sync_port), (1, 8848));
    }

    #[test]
    fn a_nat_protocol_without_ports_is_rejected_with_its_name() {
        let rules = SteerRules {
            nat_sources: vec![(v4("198.18.1.10"), 0, 1)],
            ..Default::default()
        };
        let err = MapContents::from_rules(&rules).unwrap_err();
        assert!(
            matches!(err, XdpError::Rule(ref m) if m.contains("198.18.1.10") && m.contains("protocol 1"))
        );
    }

    #[test]
    fn too_many_vips_for_the_map_is_an_error_not_a_truncation() {
        let vips = (0..=LOCAL_CAPACITY as u32)
            .map(|i| IpAddr::V4(Ipv4Addr::from(0xc612_0000 + i)))
            .collect();
        let rules = SteerRules {
            vips,
            ..Default::default()
        };
        match MapContents::from_rules(&rules) {
            Err(XdpError::Capacity {
                map,
                count,
                capacity,
            }) => {
                assert_eq!(
                    (map, count, capacity),
                    ("local4", LOCAL_CAPACITY + 1, LOCAL_CAPACITY)
                );
            }
            other => panic!("expected a capacity error, got {other:?}"),
        }
    }

    #[test]
    fn diff_upserts_new_and_changed_keys_and_removes_vanished_ones() {
        let old: BTreeMap<[u8; 4], u8> =
            [([1, 1, 1, 1], 1), ([2, 2, 2, 2], 1), ([3, 3, 3, 3], 1)].into();
        let new: BTreeMap<[u8; 4], u8> =
            [([2, 2, 2, 2], 1), ([3, 3, 3, 3], 3), ([4, 4, 4, 4], 2)].into();
        let d = diff(&old, &new);
        assert_eq!(d.upserts, vec![([3, 3, 3, 3], 3), ([4, 4, 4, 4], 2)]);
        assert_eq!(d.removals, vec![[1, 1, 1, 1]]);
        assert!(diff(&new, &new).is_empty());
    }

    proptest! {
        /// Applying the diff to the old map yields exactly the new one, and
        /// the diff never touches a key whose value did not change.
        #[test]
        fn diff_applied_to_old_is_new(
            old in proptest::collection::btree_map(any::<[u8; 2]>(), 1u8..4, 0..40),
            new in proptest::collection::btree_map(any::<[u8; 2]>(), 1u8..4, 0..40),
        ) {
            let d = diff(&old, &new);
            let mut applied = old.clone();
            for (k, v) in &d.upserts {
                prop_assert_ne!(old.get(k), Some(v));
                applied.insert(*k, *v);
            }
            for k in &d.removals {
                prop_assert!(!new.contains_key(k));
                applied.remove(k);
            }
            prop_assert_eq!(applied, new);
        }
    }
}
