//! `ipvsadm -Ln` and `ipvsadm -Ln --stats` renderings of a [`Snapshot`],
//! so operators read xvs with the eyes they read IPVS with. `xvs check`
//! prints the list with zero counters; `xvs list` passes live ones.
//!
//! Layout as ipvsadm.c `print_service_entry` / `print_largenum`
//! (REFERENCE §6): services and real servers sorted as ipvsadm sorts them
//! (libipvs `ipvs_cmp_services` / `ipvs_cmp_dests`: family, protocol,
//! address, port — compared as numbers, where ipvsadm subtracts in `int`);
//! scheduler flags printed as newer ipvsadm does, ` (sh-fallback,sh-port)`
//! after the scheduler name; FullNAT's Forward word is DPVS's `FullNat`.

use std::fmt::Write as _;
use std::net::IpAddr;

use crate::model::{Snapshot, VirtualService};
use crate::types::{DestIndex, Protocol, SchedulerKind, ServiceIndex};

/// ip_vs.h IP_VS_VERSION_CODE 0x010201, as ipvsadm prints it.
const IPVS_VERSION: &str = "1.2.1";

/// Live connection counts of one real server.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DestConns {
    pub active: u32,
    pub inactive: u32,
}

/// Traffic counters of a service or real server (`--stats` columns).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Connections scheduled, templates excluded.
    pub conns: u64,
    pub in_packets: u64,
    pub out_packets: u64,
    /// IP-level bytes.
    pub in_bytes: u64,
    pub out_bytes: u64,
}

/// `ipvsadm -Ln` with every counter 0 (what `xvs check` prints).
pub fn list(snapshot: &Snapshot) -> String {
    list_with(snapshot, |_, _| DestConns::default())
}

/// `ipvsadm -Ln` with live connection counts from `conns(service, dest)`
/// (indices into the snapshot, whatever order the lines are printed in).
pub fn list_with(
    snapshot: &Snapshot,
    conns: impl Fn(ServiceIndex, DestIndex) -> DestConns,
) -> String {
    let mut out = header(snapshot);
    out.push_str("Prot LocalAddress:Port Scheduler Flags\n");
    out.push_str("  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n");
    for si in sorted_services(snapshot) {
        let svc = &snapshot.services[si];
        out.push_str(&service_line(svc));
        out.push('\n');
        for di in sorted_dests(svc) {
            let rs = &svc.real_servers[di];
            let c = conns(si, di);
            // "  -> %-28s %-7s %-6d %-10u %-10u": trailing blanks are kept.
            let _ = writeln!(
                out,
                "  -> {:<28} {:<7} {:<6} {:<10} {:<10}",
                dest_name(rs.address, rs.port),
                rs.method.ipvsadm_name(),
                rs.weight,
                c.active,
                c.inactive
            );
        }
    }
    out
}

/// `ipvsadm -Ln --stats` (or `--stats --exact` when `exact`).
pub fn list_stats(
    snapshot: &Snapshot,
    service_stats: impl Fn(ServiceIndex) -> Stats,
    dest_stats: impl Fn(ServiceIndex, DestIndex) -> Stats,
    exact: bool,
) -> String {
    let mut out = header(snapshot);
    let _ = write!(out, "{:<33}", "Prot LocalAddress:Port");
    for title in ["Conns", "InPkts", "OutPkts", "InBytes", "OutBytes"] {
        let _ = write!(out, " {title:>8}");
    }
    out.push_str("\n  -> RemoteAddress:Port\n");
    for si in sorted_services(snapshot) {
        let svc = &snapshot.services[si];
        let _ = write!(
            out,
            "{:<33}",
            service_name(&svc.protocol.to_string(), svc.vip, svc.port)
        );
        push_stats(&mut out, service_stats(si), exact);
        for di in sorted_dests(svc) {
            let rs = &svc.real_servers[di];
            let _ = write!(out, "  -> {:<28}", dest_name(rs.address, rs.port));
            push_stats(&mut out, dest_stats(si, di), exact);
        }
    }
    out
}

fn push_stats(out: &mut String, s: Stats, exact: bool) {
    for n in [
        s.conns,
        s.in_packets,
        s.out_packets,
        s.in_bytes,
        s.out_bytes,
    ] {
        out.push_str(&if exact {
            largenum_exact(n)
        } else {
            largenum(n)
        });
    }
    out.push('\n');
}

fn header(snapshot: &Snapshot) -> String {
    format!(
        "IP Virtual Server version {IPVS_VERSION} (size={})\n",
        snapshot.global.conn_capacity
    )
}

/// ipvsadm's `print_largenum`: 9 columns; from 10^8 on, 8 digits plus a
/// K/M/G/T unit (each unit dividing by 1000 from the previous).
pub fn largenum(n: u64) -> String {
    if n < 100_000_000 {
        format!("{n:>9}")
    } else if n < 1_000_000_000 {
        format!("{:>8}K", n / 1_000)
    } else if n < 100_000_000_000 {
        format!("{:>8}M", n / 1_000_000)
    } else if n < 100_000_000_000_000 {
        format!("{:>8}G", n / 1_000_000_000)
    } else {
        format!("{:>8}T", n / 1_000_000_000_000)
    }
}

/// `--exact`: the full number right-aligned in max(9, digits + 1) columns,
/// so columns stay separated by at least one blank.
pub fn largenum_exact(n: u64) -> String {
    let digits = n.to_string();
    let width = if digits.len() <= 8 {
        9
    } else {
        digits.len() + 1
    };
    format!("{digits:>width$}")
}

/// `TCP  198.18.0.100:80` — IPv4 names are cut to 33 characters as ipvsadm
/// does (it never matters numerically); IPv6 ones are not. `protocol` as
/// printed (`TCP`, `UDP`).
pub fn service_name(protocol: &str, vip: IpAddr, port: u16) -> String {
    let mut name = format!("{protocol}  {}", addr_port(vip, port));
    if vip.is_ipv4() {
        name.truncate(33);
    }
    name
}

/// A real server's column: IPv4 cut to 28 characters as ipvsadm does.
pub fn dest_name(addr: IpAddr, port: u16) -> String {
    let mut name = addr_port(addr, port);
    if addr.is_ipv4() {
        name.truncate(28);
    }
    name
}

/// `a.b.c.d:port` or `[v6]:port`, as `ipvsadm -n` prints an endpoint.
pub fn addr_port(addr: IpAddr, port: u16) -> String {
    match addr {
        IpAddr::V4(a) => format!("{a}:{port}"),
        IpAddr::V6(a) => format!("[{a}]:{port}"),
    }
}

/// `TCP  VIP:port sched [(flags)] [persistent T [mask M]] [ops]`.
fn service_line(svc: &VirtualService) -> String {
    service_line_of(
        &svc.protocol.to_string(),
        svc.vip,
        svc.port,
        &svc.scheduler.to_string(),
        &sched_flag_names(svc),
        svc.persistence.map(|p| (p.timeout.as_secs(), p.prefix)),
        svc.ops,
    )
}

/// A service's line of the `-Ln` layout: `TCP  VIP:port sched [(flags)]
/// [persistent T [mask M]] [ops]`; `persistence` is (timeout seconds,
/// client prefix length).
pub fn service_line_of(
    protocol: &str,
    vip: IpAddr,
    port: u16,
    scheduler: &str,
    flags: &[impl AsRef<str>],
    persistence: Option<(u64, u8)>,
    ops: bool,
) -> String {
    let mut line = format!("{} {scheduler}", service_name(protocol, vip, port));
    if !flags.is_empty() {
        let names: Vec<&str> = flags.iter().map(AsRef::as_ref).collect();
        let _ = write!(line, " ({})", names.join(","));
    }
    if let Some((timeout, prefix)) = persistence {
        let _ = write!(line, " persistent {timeout}");
        match vip {
            IpAddr::V4(_) if prefix < 32 => {
                let _ = write!(line, " mask {}", ipv4_netmask(prefix));
            }
            IpAddr::V6(_) if prefix < 128 => {
                let _ = write!(line, " mask {prefix}");
            }
            _ => {}
        }
    }
    if ops {
        line.push_str(" ops");
    }
    line
}

/// Flag names in ipvsadm's order (SCHED1 fallback, then SCHED2 port).
fn sched_flag_names(svc: &VirtualService) -> Vec<&'static str> {
    let prefix_mh = svc.scheduler == SchedulerKind::Mh;
    let mut names = Vec::new();
    if svc.sched_flags.fallback {
        names.push(if prefix_mh {
            "mh-fallback"
        } else {
            "sh-fallback"
        });
    }
    if svc.sched_flags.port {
        names.push(if prefix_mh { "mh-port" } else { "sh-port" });
    }
    names
}

fn ipv4_netmask(prefix: u8) -> std::net::Ipv4Addr {
    let bits = u32::MAX
        .checked_shl(32 - u32::from(prefix.min(32)))
        .unwrap_or(0);
    std::net::Ipv4Addr::from(bits)
}

/// AF_INET (2) sorts before AF_INET6 (10).
fn addr_key(addr: IpAddr) -> (u8, u128) {
    match addr {
        IpAddr::V4(a) => (0, u128::from(u32::from(a))),
        IpAddr::V6(a) => (1, u128::from(a)),
    }
}

fn sorted_services(snapshot: &Snapshot) -> Vec<ServiceIndex> {
    let mut order: Vec<ServiceIndex> = (0..snapshot.services.len()).collect();
    order.sort_by_key(|&i| {
        let s = &snapshot.services[i];
        let (family, addr) = addr_key(s.vip);
        (family, protocol_key(s.protocol), addr, s.port)
    });
    order
}

fn protocol_key(p: Protocol) -> u8 {
    p.number()
}

fn sorted_dests(svc: &VirtualService) -> Vec<DestIndex> {
    let mut order: Vec<DestIndex> = (0..svc.real_servers.len()).collect();
    order.sort_by_key(|&i| {
        let rs = &svc.real_servers[i];
        (addr_key(rs.address), rs.port)
    });
    order
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load_str;

    /// The services of the layout tests (also the daemon's listing
    /// renderer's, which must print what this module prints).
    const CONFIG: &str = include_str!("ipvsadm_example.yaml");

    #[test]
    fn list_matches_ipvsadm_layout() {
        let snap = load_str(CONFIG, "t.yaml").expect("valid");
        let expected = "\
IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port Scheduler Flags
  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn
TCP  192.168.10.100:80 wlc persistent 300 mask 255.255.255.0
  -> 10.0.0.11:80                 Masq    3      0          0         
  -> 10.0.0.12:80                 Route   1      0          0         
TCP  198.18.0.53:53 rr persistent 360
UDP  198.18.0.53:53 sh (sh-fallback,sh-port) ops
  -> 198.18.1.2:53                Tunnel  1      0          0         
TCP  [fd00::100]:443 mh (mh-port) persistent 60 mask 64
  -> [fd00:1::11]:443             Route   0      0          0         
";
        assert_eq!(list(&snap), expected);
    }

    #[test]
    fn list_with_live_counters_follows_snapshot_indices() {
        let snap = load_str(CONFIG, "t.yaml").expect("valid");
        // services[0].real_servers[0] is 10.0.0.12, printed second.
        let text = list_with(&snap, |s, d| DestConns {
            active: (s * 100 + d) as u32,
            inactive: 123_456_789,
        });
        assert!(text
            .contains("  -> 10.0.0.11:80                 Masq    3      1          123456789 \n"));
        assert!(text
            .contains("  -> 10.0.0.12:80                 Route   1      0          123456789 \n"));
        assert!(text
            .contains("  -> 198.18.1.2:53                Tunnel  1      100        123456789 \n"));
    }

    #[test]
    fn fullnat_forward_word() {
        let snap = load_str(
            "local_pools:\n  - {name: lip, addresses: [198.18.1.10]}\nservices:\n  - vip: 198.18.0.1\n    port: 80\n    method: fullnat\n    local_pool: lip\n    real_servers:\n      - {address: 198.18.1.20, port: 8080, weight: 65535}\n",
            "t.yaml",
        )
        .expect("valid");
        assert!(list(&snap).ends_with(
            "TCP  198.18.0.1:80 wlc\n  -> 198.18.1.20:8080             FullNat 65535  0          0         \n"
        ));
    }

    #[test]
    fn largenum_rule() {
        assert_eq!(largenum(0), "        0");
        assert_eq!(largenum(99_999_999), " 99999999");
        assert_eq!(largenum(100_000_000), "  100000K");
        assert_eq!(largenum(999_999_999), "  999999K");
        assert_eq!(largenum(1_000_000_000), "    1000M");
        assert_eq!(largenum(99_999_999_999), "   99999M");
        assert_eq!(largenum(100_000_000_000), "     100G");
        assert_eq!(largenum(99_999_999_999_999), "   99999G");
        assert_eq!(largenum(100_000_000_000_000), "     100T");
        assert_eq!(largenum(u64::MAX), "18446744T");
    }

    #[test]
    fn largenum_exact_rule() {
        assert_eq!(largenum_exact(0), "        0");
        assert_eq!(largenum_exact(12_345_678), " 12345678");
        assert_eq!(largenum_exact(123_456_789), " 123456789");
        assert_eq!(largenum_exact(u64::MAX), " 18446744073709551615");
    }

    #[test]
    fn stats_layout() {
        let snap = load_str(
            "services:\n  - vip: 192.168.10.100\n    port: 80\n    real_servers:\n      - address: 10.0.0.11\n",
            "t.yaml",
        )
        .expect("valid");
        let svc = Stats {
            conns: 1234,
            in_packets: 56_789,
            out_packets: 45_678,
            in_bytes: 4_567_890,
            out_bytes: 345_678_901,
        };
        let dest = Stats {
            conns: 617,
            in_packets: 28_394,
            out_packets: 22_839,
            in_bytes: 2_283_945,
            out_bytes: 172_839_450,
        };
        let expected = "\
IP Virtual Server version 1.2.1 (size=1048576)
Prot LocalAddress:Port               Conns   InPkts  OutPkts  InBytes OutBytes
  -> RemoteAddress:Port
TCP  192.168.10.100:80                1234    56789    45678  4567890  345678K
  -> 10.0.0.11:80                      617    28394    22839  2283945  172839K
";
        assert_eq!(list_stats(&snap, |_| svc, |_, _| dest, false), expected);
        let exact = list_stats(&snap, |_| svc, |_, _| dest, true);
        assert!(exact.contains(
            "TCP  192.168.10.100:80                1234    56789    45678  4567890 345678901\n"
        ));
    }

    #[test]
    fn netmask_from_prefix() {
        assert_eq!(ipv4_netmask(24).to_string(), "255.255.255.0");
        assert_eq!(ipv4_netmask(0).to_string(), "0.0.0.0");
        assert_eq!(ipv4_netmask(32).to_string(), "255.255.255.255");
        assert_eq!(ipv4_netmask(17).to_string(), "255.255.128.0");
    }
}
