//! The generator's contact with the system outside its sockets: interface
//! counters (here and in other namespaces), the kernel's route to the
//! destination, and destination-MAC resolution (see `xvs_pktgen::neigh`).

use std::net::{Ipv4Addr, UdpSocket};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use xvs_pktgen::cpu::{parse_proc_stat, parse_schedstat, CpuTimes};
use xvs_pktgen::neigh::{parse_mac, parse_proc_arp, parse_route_get, Route};

/// A counter of one interface: in this namespace (`IF`) or another one
/// (`NS/IF`, read through `ip netns exec NS`, which mounts that
/// namespace's sysfs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IfaceRef {
    pub ns: Option<String>,
    pub iface: String,
}

impl IfaceRef {
    pub fn parse(text: &str) -> Result<IfaceRef> {
        let (ns, iface) = match text.split_once('/') {
            Some((ns, iface)) => (Some(ns.to_owned()), iface),
            None => (None, text),
        };
        if iface.is_empty() || iface.contains('/') || ns.as_deref() == Some("") {
            bail!("--count-rx {text:?}: expected IFACE or NETNS/IFACE");
        }
        Ok(IfaceRef {
            ns,
            iface: iface.to_owned(),
        })
    }

    pub fn label(&self) -> String {
        match &self.ns {
            Some(ns) => format!("{ns}/{}", self.iface),
            None => self.iface.clone(),
        }
    }

    /// `/sys/class/net/IF/statistics/NAME`.
    pub fn stat(&self, name: &str) -> Result<u64> {
        let path = format!("/sys/class/net/{}/statistics/{name}", self.iface);
        let text = match &self.ns {
            None => std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?,
            Some(ns) => {
                let out = Command::new("ip")
                    .args(["netns", "exec", ns, "cat", &path])
                    .output()
                    .with_context(|| format!("running ip netns exec {ns} cat {path}"))?;
                if !out.status.success() {
                    bail!(
                        "reading {path} in namespace {ns}: {}",
                        String::from_utf8_lossy(&out.stderr).trim()
                    );
                }
                String::from_utf8_lossy(&out.stdout).into_owned()
            }
        };
        text.trim()
            .parse()
            .with_context(|| format!("{}: counter {name} is not a number: {text:?}", self.label()))
    }
}

/// Sum of `rx_packets` over `ifaces`, and each one.
pub fn rx_packets(ifaces: &[IfaceRef]) -> Result<Vec<u64>> {
    ifaces.iter().map(|i| i.stat("rx_packets")).collect()
}

/// Run time of thread `tid` so far, in nanoseconds.
pub fn thread_runtime_ns(tid: u32) -> Result<u64> {
    let path = format!("/proc/{tid}/schedstat");
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    parse_schedstat(&text).ok_or_else(|| anyhow!("{path}: unexpected contents {text:?}"))
}

/// Times of `core` so far, from /proc/stat.
pub fn core_times(core: usize) -> Result<CpuTimes> {
    let text = std::fs::read_to_string("/proc/stat").context("reading /proc/stat")?;
    parse_proc_stat(&text, core).ok_or_else(|| anyhow!("/proc/stat has no cpu{core} line"))
}

/// A snapshot of everything CPU-related the report compares.
#[derive(Debug, Clone)]
pub struct CpuSnapshot {
    pub threads_ns: Vec<u64>,
    pub cores: Vec<CpuTimes>,
}

pub fn cpu_snapshot(tids: &[u32], cores: &[usize]) -> Result<CpuSnapshot> {
    Ok(CpuSnapshot {
        threads_ns: tids
            .iter()
            .map(|&t| thread_runtime_ns(t))
            .collect::<Result<_>>()?,
        cores: cores
            .iter()
            .map(|&c| core_times(c))
            .collect::<Result<_>>()?,
    })
}

/// The kernel's route to `dst` in this namespace.
pub fn route_to(dst: Ipv4Addr) -> Result<Route> {
    let out = Command::new("ip")
        .args(["-4", "route", "get", &dst.to_string()])
        .output()
        .context("running ip route get")?;
    let text = String::from_utf8_lossy(&out.stdout);
    parse_route_get(&text).ok_or_else(|| {
        anyhow!(
            "no route to {dst}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )
    })
}

/// This interface's own MAC.
pub fn iface_mac(iface: &str) -> Result<[u8; 6]> {
    let path = format!("/sys/class/net/{iface}/address");
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    parse_mac(&text).ok_or_else(|| anyhow!("{path}: not a MAC address: {text:?}"))
}

/// Resolve the MAC of `route.next_hop(dst)` the kernel's way: send one UDP
/// datagram to `dst:port` (the kernel ARPs for the next hop before it can
/// send it), then wait up to `timeout` for a complete entry in
/// /proc/net/arp.
pub fn resolve_mac(dst: Ipv4Addr, port: u16, route: &Route, timeout: Duration) -> Result<[u8; 6]> {
    let hop = route.next_hop(dst);
    let lookup = || {
        std::fs::read_to_string("/proc/net/arp")
            .ok()
            .and_then(|t| parse_proc_arp(&t, hop, &route.dev))
    };
    if let Some(mac) = lookup() {
        return Ok(mac);
    }
    let sock = UdpSocket::bind("0.0.0.0:0").context("binding a UDP socket")?;
    sock.send_to(b"xvs-pktgen arp", (dst, port))
        .with_context(|| format!("sending to {dst}:{port}"))?;
    let t0 = Instant::now();
    while t0.elapsed() < timeout {
        if let Some(mac) = lookup() {
            return Ok(mac);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    bail!(
        "next hop {hop} on {} did not answer ARP within {timeout:?}; give --dst-mac",
        route.dev
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn count_rx_takes_an_interface_with_an_optional_namespace() {
        let local = IfaceRef::parse("eth0").unwrap();
        assert_eq!((local.ns, local.iface.as_str()), (None, "eth0"));
        let remote = IfaceRef::parse("tprs1/eth0").unwrap();
        assert_eq!(remote.ns.as_deref(), Some("tprs1"));
        assert_eq!(remote.label(), "tprs1/eth0");
        assert!(IfaceRef::parse("a/b/c").is_err());
        assert!(IfaceRef::parse("/eth0").is_err());
        assert!(IfaceRef::parse("ns/").is_err());
    }

    #[test]
    fn our_own_thread_and_core_times_are_readable() {
        let me = std::process::id();
        assert!(thread_runtime_ns(me).unwrap() > 0, "this process has run");
        let snap = cpu_snapshot(&[me], &[0]).unwrap();
        assert_eq!((snap.threads_ns.len(), snap.cores.len()), (1, 1));
        assert!(core_times(100_000).is_err());
    }

    #[test]
    fn loopback_counters_read_as_numbers() {
        // Every namespace has lo; its counter file holds a number.
        assert!(IfaceRef::parse("lo").unwrap().stat("rx_packets").is_ok());
        assert!(IfaceRef::parse("no-such-if0")
            .unwrap()
            .stat("rx_packets")
            .is_err());
    }
}
