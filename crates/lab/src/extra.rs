//! Extra real-server addresses: many IPv4 addresses on one real server's
//! namespace, routed to it from the director, so a test or benchmark can
//! configure hundreds or thousands of real servers (each its own RIP)
//! without a namespace per server. The backend binds [::], so it answers
//! on every one of them.
//!
//! Addresses come from [`EXTRA_POOL4`]/[`EXTRA_POOL4_LEN`] in aligned
//! power-of-two blocks, one block per call, so each call needs exactly one
//! director route (`ip route add BLOCK via RIP`).

use std::fmt::Write;
use std::net::Ipv4Addr;

use crate::process::run_with_stdin;
use crate::spec::{EXTRA_POOL4, EXTRA_POOL4_LEN};
use crate::topology::ip;
use crate::{Lab, LabError};

/// One allocated block: its first address, prefix length, and the
/// `count` addresses handed out (the first `count` of the block).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Block {
    pub network: Ipv4Addr,
    pub prefix_len: u8,
    pub addresses: Vec<Ipv4Addr>,
}

/// Allocate `count` (> 0) addresses at pool offset `*next` or after:
/// the smallest power-of-two block holding them, aligned to its size.
/// Advances `*next` past the block; `None` when the pool is exhausted.
pub fn allocate(next: &mut u32, count: u32) -> Option<Block> {
    let pool = 1u32 << (32 - EXTRA_POOL4_LEN);
    let size = count.checked_next_power_of_two()?;
    if count == 0 || size > pool {
        return None;
    }
    // Round up to a multiple of the block size (a power of two).
    let start = next.checked_add(size - 1)? & !(size - 1);
    let end = start.checked_add(size)?;
    if end > pool {
        return None;
    }
    *next = end;
    let network = u32::from(EXTRA_POOL4) + start;
    Some(Block {
        network: Ipv4Addr::from(network),
        prefix_len: 32 - size.trailing_zeros() as u8,
        addresses: (0..count).map(|k| Ipv4Addr::from(network + k)).collect(),
    })
}

/// The `ip -batch` input adding `addresses` as /32s on `iface`.
pub fn address_batch(addresses: &[Ipv4Addr], iface: &str) -> String {
    let mut out = String::new();
    for a in addresses {
        let _ = writeln!(out, "address add {a}/32 dev {iface}");
    }
    out
}

impl Lab {
    /// Put `count` extra IPv4 addresses on real server `i` (from
    /// 198.19.0.0/16, see [`EXTRA_POOL4`]) and route their block through
    /// it in the director's namespace (both, in a pair), so the director's
    /// kernel reaches every one of them and the backend answers on each
    /// (HTTP, HTTPS, UDP, DNS, SMTP). Returns the addresses; each call
    /// gets a fresh block, and they are never reused within the lab.
    pub fn add_backend_addresses(&self, i: usize, count: usize) -> Result<Vec<Ipv4Addr>, LabError> {
        self.check_rs(i)?;
        if count == 0 {
            return Ok(Vec::new());
        }
        let exhausted = || {
            LabError::Spec(format!(
                "{count} more extra addresses do not fit in {EXTRA_POOL4}/{EXTRA_POOL4_LEN}"
            ))
        };
        let wanted = u32::try_from(count).map_err(|_| exhausted())?;
        let block = {
            // A poisoned lock only means another thread panicked mid-call;
            // the offset it guards is still a valid offset.
            let mut next = self
                .extra_next
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            allocate(&mut next, wanted).ok_or_else(exhausted)?
        };
        let ns = self.ns_rs(i);
        run_with_stdin(
            &["ip", "-n", &ns, "-batch", "-"],
            Some(&address_batch(&block.addresses, "eth0")),
        )?;
        // Every director of a pair: either may be the master.
        for director in self.ns_directors() {
            ip(
                &director,
                &[
                    "route",
                    "add",
                    &format!("{}/{}", block.network, block.prefix_len),
                    "via",
                    &self.rs_addr4(i).to_string(),
                ],
            )?;
        }
        Ok(block.addresses)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(text: &str) -> Ipv4Addr {
        text.parse().expect("a literal address")
    }

    #[test]
    fn blocks_are_aligned_powers_of_two() {
        let mut next = 0;
        let a = allocate(&mut next, 1000).unwrap();
        assert_eq!((a.network, a.prefix_len), (addr("198.19.0.0"), 22));
        assert_eq!(a.addresses.len(), 1000);
        assert_eq!(a.addresses[999], addr("198.19.3.231"));
        assert_eq!(next, 1024);
        let b = allocate(&mut next, 3).unwrap();
        assert_eq!((b.network, b.prefix_len), (addr("198.19.4.0"), 30));
        // A bigger block after a small one starts at its own alignment.
        let c = allocate(&mut next, 256).unwrap();
        assert_eq!((c.network, c.prefix_len), (addr("198.19.5.0"), 24));
        let d = allocate(&mut next, 1).unwrap();
        assert_eq!((d.network, d.prefix_len), (addr("198.19.6.0"), 32));
    }

    #[test]
    fn the_pool_runs_out_cleanly() {
        let mut next = 0;
        assert!(allocate(&mut next, 0).is_none());
        assert!(allocate(&mut next, 65_537).is_none());
        assert_eq!(next, 0, "a refused request takes nothing");
        let all = allocate(&mut next, 65_536).unwrap();
        assert_eq!(all.prefix_len, 16);
        assert_eq!(all.addresses.last(), Some(&addr("198.19.255.255")));
        assert!(allocate(&mut next, 1).is_none());
        let mut near_end = 65_535;
        assert!(allocate(&mut near_end, 2).is_none());
        assert!(allocate(&mut u32::MAX.clone(), 1).is_none());
    }

    #[test]
    fn batch_adds_host_addresses() {
        let text = address_batch(&[addr("198.19.0.0"), addr("198.19.0.1")], "eth0");
        assert_eq!(
            text,
            "address add 198.19.0.0/32 dev eth0\naddress add 198.19.0.1/32 dev eth0\n"
        );
    }
}
