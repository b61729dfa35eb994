//! Client tuples for benches that need many distinct flows: flow `i` comes
//! from its own client address in 10.0.0.0/8 (behind the client-side
//! gateway, so it is routed like any remote client) with a scrambled source
//! port, so no two flows share a tuple and their hashes spread over the
//! connection table's index like real traffic.

use std::net::Ipv4Addr;

/// Distinct client addresses available (10.0.0.0/8).
pub const MAX_FLOWS: usize = 1 << 24;

/// The client address of flow `i` (wraps after [`MAX_FLOWS`]).
pub fn client_addr(i: usize) -> Ipv4Addr {
    // 10.0.0.0 + the low 24 bits of i.
    Ipv4Addr::from(0x0a00_0000 | (i as u32 & 0x00ff_ffff))
}

/// The client port of flow `i`: an unprivileged port that varies with i.
pub fn client_port(i: usize) -> u16 {
    // Multiplying by an odd constant scatters consecutive i over the range.
    let scrambled = (i as u32).wrapping_mul(0x9E37_79B1) >> 16;
    1024 + (scrambled % 64_000) as u16
}

/// `count` distinct flow indices in `0..live`, in a scattered order (a
/// permutation step: `k·STRIDE mod live` is distinct for k < live whenever
/// the stride is coprime with `live`).
pub fn scattered(count: usize, live: usize) -> Vec<usize> {
    if live == 0 {
        return Vec::new();
    }
    let mut stride = 2_654_435_761usize % live;
    while gcd(stride, live) != 1 {
        stride += 1;
    }
    (0..count.min(live)).map(|k| (k * stride) % live).collect()
}

fn gcd(mut a: usize, mut b: usize) -> usize {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn flows_have_distinct_addresses_and_ports_in_range() {
        assert_eq!(client_addr(0), Ipv4Addr::new(10, 0, 0, 0));
        assert_eq!(client_addr(0x01_0203), Ipv4Addr::new(10, 1, 2, 3));
        let addrs: HashSet<_> = (0..100_000).map(client_addr).collect();
        assert_eq!(addrs.len(), 100_000);
        assert!((0..100_000)
            .map(client_port)
            .all(|p| (1024..65_024).contains(&p)));
        assert_ne!(client_port(1), client_port(2));
    }

    #[test]
    fn scattered_picks_distinct_indices_below_live_and_not_in_order() {
        for live in [1, 1000, 1_000_000] {
            let picked = scattered(4096, live);
            assert_eq!(picked.len(), 4096.min(live));
            let set: HashSet<_> = picked.iter().copied().collect();
            assert_eq!(set.len(), picked.len(), "live={live}");
            assert!(picked.iter().all(|&i| i < live));
        }
        let picked = scattered(100, 1_000_000);
        assert!(picked.windows(2).any(|w| w[1] < w[0]), "not sequential");
        assert!(scattered(10, 0).is_empty());
    }
}
