//! Predicates and arithmetic the schedulers share: which real servers are
//! in the list and usable, the weighted least-connection walk (wlc, sed, and
//! the fallback of lblc/lblcr), and the address folding of the hashing
//! schedulers.

use std::net::IpAddr;

use crate::SchedDest;

/// The linked real servers a hashing scheduler (dh, sh, mh) builds its
/// table from, in address then port order rather than list order.
///
/// IPVS walks its list, whose order is the order the real servers were
/// added (newest first). Two directors of one fleet that got the same real
/// servers in another order (a runtime `real-server add`, a delete and
/// re-add, a config written by another tool) would then build different
/// tables and send one flow to different real servers once ECMP moves it.
/// Sorting makes the table a function of the set of real servers and their
/// weights alone, as Maglev requires of every director (NSDI 2016, §3.4).
pub(crate) fn hash_members(dests: &[SchedDest]) -> Vec<usize> {
    let mut members: Vec<usize> = (0..dests.len()).filter(|&i| linked(&dests[i])).collect();
    members.sort_by_key(|&i| (dests[i].addr, dests[i].port, i));
    members
}

/// In the service list: a deleted real server is unlinked in IPVS, so every
/// scheduler acts as if it were not there.
pub(crate) fn linked(d: &SchedDest) -> bool {
    d.available
}

/// In the list, weight > 0 and no `F_OVERLOAD`: what rr, wrr, lc, nq, fo,
/// ovf and twos accept (REFERENCE §1, table).
pub(crate) fn usable(d: &SchedDest) -> bool {
    d.available && d.weight > 0 && !d.load.is_overloaded()
}

/// `a_oh · b_w > b_oh · a_w`, i.e. `a_oh / a_w > b_oh / b_w` without a
/// division. IPVS computes it in signed 64 bits; 128 bits here cannot
/// overflow for any counter or weight value and agrees wherever the kernel's
/// product fits.
pub(crate) fn heavier(a_oh: u64, a_w: u32, b_oh: u64, b_w: u32) -> bool {
    u128::from(a_oh) * u128::from(b_w) > u128::from(b_oh) * u128::from(a_w)
}

/// The weighted least-connection walk of ip_vs_wlc.c (also sed with its
/// own overhead, and `__ip_vs_lblc_schedule`/`__ip_vs_lblcr_schedule`):
/// the first non-overloaded dest with weight > 0 starts as `least`; each
/// later non-overloaded dest replaces it when
/// `oh_least · w_d > oh_d · w_least`. Ties keep the earlier dest, and a
/// later weight-0 dest can never win (its left side is 0).
pub(crate) fn weighted_least(
    dests: &[SchedDest],
    overhead: impl Fn(&SchedDest) -> u64,
) -> Option<usize> {
    // One pass: until a usable dest is found, weight-0 dests are skipped
    // (they cannot be the first `least`); after it they are compared, and
    // cannot win.
    let mut least: Option<(usize, u64, u32)> = None;
    for (i, d) in dests.iter().enumerate() {
        if !linked(d) || d.load.is_overloaded() {
            continue;
        }
        match least {
            None if d.weight == 0 => {}
            None => least = Some((i, overhead(d), d.weight)),
            Some((_, least_oh, least_w)) => {
                let oh = overhead(d);
                if heavier(least_oh, least_w, oh, d.weight) {
                    least = Some((i, oh, d.weight));
                }
            }
        }
    }
    least.map(|(i, _, _)| i)
}

/// ip_vs_dest_conn_overhead(): `activeconns × 256 + inactconns`.
pub(crate) fn conn_overhead(d: &SchedDest) -> u64 {
    d.load.overhead()
}

/// The 32-bit value IPVS's hashing schedulers feed to their hash:
/// `ntohl()` of the IPv4 address, or of the XOR of the four 32-bit words of
/// an IPv6 address (ip_vs_dh.c/ip_vs_sh.c/ip_vs_mh.c `addr_fold`). XOR
/// commutes with the byte swap, so folding host-order words is the same.
pub(crate) fn fold_addr(addr: IpAddr) -> u32 {
    match addr {
        IpAddr::V4(a) => u32::from(a),
        IpAddr::V6(a) => {
            let v = u128::from(a);
            // Truncating casts pick the four 32-bit words on purpose.
            (v as u32) ^ ((v >> 32) as u32) ^ ((v >> 64) as u32) ^ ((v >> 96) as u32)
        }
    }
}

/// The client port sh and mh hash with `sh-port`/`mh-port`: the source
/// port for TCP, UDP and SCTP, 0 for any other protocol
/// (`ip_vs_sh_get_port()`/`ip_vs_mh_get_port()`).
pub(crate) fn hashed_port(protocol: u8, src_port: u16, use_port: bool) -> u16 {
    const TCP: u8 = 6;
    const UDP: u8 = 17;
    const SCTP: u8 = 132;
    if use_port && matches!(protocol, TCP | UDP | SCTP) {
        src_port
    } else {
        0
    }
}

#[cfg(test)]
pub(crate) mod test_support {
    //! Builders for the scheduler unit tests.

    use std::net::{IpAddr, Ipv4Addr};
    use std::sync::Arc;

    use crate::{DestLoad, SchedDest, SchedKey, Thresholds};

    /// Real server 198.18.0.<n>:80 with the given weight (last_weight too).
    pub(crate) fn dest(n: u8, weight: u32) -> SchedDest {
        SchedDest {
            addr: IpAddr::V4(Ipv4Addr::new(198, 18, 0, n)),
            port: 80,
            weight,
            last_weight: weight,
            available: true,
            load: Arc::new(DestLoad::new(1)),
        }
    }

    /// Real servers 1..=n with these weights, in list order.
    pub(crate) fn dests(weights: &[u32]) -> Vec<SchedDest> {
        weights
            .iter()
            .zip(1u8..)
            .map(|(&w, n)| dest(n, w))
            .collect()
    }

    /// Gives a real server `active` established and `inactive` other entries.
    pub(crate) fn set_conns(d: &SchedDest, active: u32, inactive: u32) {
        for _ in 0..active + inactive {
            d.load.bind_conn(0, Thresholds::default());
        }
        for _ in 0..active {
            d.load.activate(0);
        }
    }

    /// Marks a real server overloaded (upper threshold 1, one connection).
    pub(crate) fn overload(d: &SchedDest) {
        d.load.bind_conn(0, Thresholds { upper: 1, lower: 0 });
        assert!(d.load.is_overloaded());
    }

    /// A TCP key from client 203.0.113.<n>:<port> to VIP 192.0.2.1.
    pub(crate) fn key(n: u8, port: u16) -> SchedKey {
        SchedKey {
            protocol: 6,
            src: IpAddr::V4(Ipv4Addr::new(203, 0, 113, n)),
            src_port: port,
            dst: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::*;
    use super::*;

    #[test]
    fn fold_is_host_order_for_ipv4_and_xor_of_words_for_ipv6() {
        assert_eq!(fold_addr("10.0.0.1".parse().unwrap()), 0x0a00_0001);
        assert_eq!(
            fold_addr("2001:db8:1:2:3:4:5:6".parse().unwrap()),
            // 0x20010db8 ^ 0x00010002 ^ 0x00030004 ^ 0x00050006
            0x2006_0db8
        );
    }

    #[test]
    fn port_only_for_transport_protocols_with_the_flag() {
        assert_eq!(hashed_port(6, 1234, true), 1234);
        assert_eq!(hashed_port(17, 1234, true), 1234);
        assert_eq!(hashed_port(132, 1234, true), 1234);
        assert_eq!(hashed_port(1, 1234, true), 0);
        assert_eq!(hashed_port(6, 1234, false), 0);
    }

    #[test]
    fn weighted_least_skips_weight_zero_as_first_and_never_lets_it_win() {
        let ds = dests(&[0, 2, 0]);
        set_conns(&ds[1], 50, 0);
        assert_eq!(weighted_least(&ds, conn_overhead), Some(1));
    }

    #[test]
    fn weighted_least_ties_keep_the_earlier() {
        let ds = dests(&[1, 2]);
        set_conns(&ds[0], 1, 0);
        set_conns(&ds[1], 2, 0);
        // 256·2 > 512·1 is false: equal ratios keep the first.
        assert_eq!(weighted_least(&ds, conn_overhead), Some(0));
    }

    #[test]
    fn weighted_least_skips_unlinked_and_overloaded() {
        let mut ds = dests(&[1, 1, 1]);
        set_conns(&ds[0], 5, 0);
        ds[1].available = false;
        overload(&ds[2]);
        assert_eq!(weighted_least(&ds, conn_overhead), Some(0));
        ds[0].available = false;
        assert_eq!(weighted_least(&ds, conn_overhead), None);
    }
}
