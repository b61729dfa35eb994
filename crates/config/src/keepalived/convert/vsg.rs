//! `virtual_server_group NAME { ... }`: the addresses and ports a group
//! stands for, expanded as keepalived's `alloc_vsg_entry` reads them —
//! `ADDR [PORT]`, `A.B.C.D-E` (the last byte; for IPv6 the last group, in
//! hex), `A-B` (two whole addresses), `ADDR/LEN` (every address of the
//! prefix, whose host bits must be 0). `fwmark` entries are not carried
//! (xvs matches on address and port only).

use std::collections::HashMap;
use std::net::IpAddr;

use super::super::tree::Node;
use super::super::{KeepalivedError, Origin};
use super::Conv;

/// A group entry this large is almost certainly a mistake: each address
/// becomes a service of its own.
const MAX_ADDRESSES_PER_ENTRY: u128 = 256;

/// One virtual address and port of a group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Member {
    pub addr: IpAddr,
    /// 0 when the entry has none (then the service must be persistent).
    pub port: u16,
    pub at: Origin,
}

pub(crate) fn groups(
    conv: &mut Conv,
    nodes: &[Node],
) -> Result<HashMap<String, Vec<Member>>, KeepalivedError> {
    let mut out = HashMap::new();
    for node in nodes
        .iter()
        .filter(|n| n.keyword() == "virtual_server_group")
    {
        let Some(name) = node.arg(0) else {
            conv.invalid(node, "virtual_server_group needs a name".into());
            continue;
        };
        let mut members = Vec::new();
        for entry in node.entries() {
            if entry.keyword() == "fwmark" {
                conv.skip(
                    entry,
                    "xvs has no firewall-mark services (it matches address, port and protocol)",
                );
                continue;
            }
            let port = match entry.arg(0) {
                None => 0,
                Some(p) => p
                    .parse::<u16>()
                    .map_err(|_| entry.at.error(format!("`{p}` is not a port")))?,
            };
            let addrs = expand(entry.keyword()).map_err(|m| entry.at.error(m))?;
            if addrs.is_empty() {
                conv.skip(
                    entry,
                    format!("expands to more than {MAX_ADDRESSES_PER_ENTRY} addresses, each a service: write a smaller range"),
                );
                continue;
            }
            members.extend(addrs.into_iter().map(|addr| Member {
                addr,
                port,
                at: entry.at.clone(),
            }));
        }
        out.insert(name.to_string(), members);
    }
    Ok(out)
}

/// The addresses of one entry; empty when there are too many.
pub(crate) fn expand(spec: &str) -> Result<Vec<IpAddr>, String> {
    let bad = || format!("`{spec}` is not an address, a range or a prefix");
    let (first, last) = if let Some((addr, len)) = spec.split_once('/') {
        let addr: IpAddr = addr.parse().map_err(|_| bad())?;
        let bits: u32 = if addr.is_ipv4() { 32 } else { 128 };
        let len: u32 = len
            .parse()
            .ok()
            .filter(|l| (1..=bits).contains(l))
            .ok_or_else(bad)?;
        let host = if len == bits {
            0
        } else {
            u128::MAX >> (128 - (bits - len))
        };
        let start = to_int(addr);
        if start & host != 0 {
            return Err(format!("`{spec}`: the host bits of the prefix must be 0"));
        }
        (start, start | host)
    } else if let Some((start, end)) = spec.split_once('-') {
        let addr: IpAddr = start.parse().map_err(|_| bad())?;
        let last = if end.contains('.') || end.contains(':') {
            let e: IpAddr = end.parse().map_err(|_| bad())?;
            if e.is_ipv4() != addr.is_ipv4() {
                return Err(format!("`{spec}`: both ends must be of one family"));
            }
            to_int(e)
        } else if addr.is_ipv4() {
            let n: u128 = end.parse().ok().filter(|n| *n <= 255).ok_or_else(bad)?;
            (to_int(addr) & !0xff) | n
        } else {
            let n = u128::from_str_radix(end, 16)
                .ok()
                .filter(|n| *n <= 0xffff)
                .ok_or_else(bad)?;
            (to_int(addr) & !0xffff) | n
        };
        if last < to_int(addr) {
            return Err(format!("`{spec}`: the range ends before it starts"));
        }
        (to_int(addr), last)
    } else {
        let addr: IpAddr = spec.parse().map_err(|_| bad())?;
        (to_int(addr), to_int(addr))
    };
    if last - first >= MAX_ADDRESSES_PER_ENTRY {
        return Ok(Vec::new());
    }
    let v4 = !spec.contains(':');
    Ok((first..=last).map(|n| from_int(n, v4)).collect())
}

fn to_int(addr: IpAddr) -> u128 {
    match addr {
        IpAddr::V4(a) => u128::from(u32::from(a)),
        IpAddr::V6(a) => u128::from(a),
    }
}

fn from_int(n: u128, v4: bool) -> IpAddr {
    if v4 {
        // Within the IPv4 range: both ends were IPv4 addresses.
        IpAddr::from(u32::try_from(n).unwrap_or(0).to_be_bytes())
    } else {
        IpAddr::from(n.to_be_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strs(spec: &str) -> Vec<String> {
        expand(spec)
            .unwrap()
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn ranges_as_keepalived_reads_them() {
        assert_eq!(strs("198.18.0.100"), ["198.18.0.100"]);
        assert_eq!(strs("198.18.0.101-102"), ["198.18.0.101", "198.18.0.102"]);
        assert_eq!(
            strs("198.18.0.254-198.18.1.1"),
            ["198.18.0.254", "198.18.0.255", "198.18.1.0", "198.18.1.1"]
        );
        assert_eq!(strs("198.18.0.8/31"), ["198.18.0.8", "198.18.0.9"]);
        assert_eq!(strs("fd00::a-b"), ["fd00::a", "fd00::b"]);
        assert_eq!(strs("fd00::/127"), ["fd00::", "fd00::1"]);
        assert!(expand("198.18.0.9/31").is_err());
        assert!(expand("198.18.0.5-4").is_err());
        assert!(expand("198.18.0.0/16").unwrap().is_empty());
        assert!(expand("nonsense").is_err());
    }
}
