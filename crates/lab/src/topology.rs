//! Building and tearing down a lab's namespaces with `ip`, `sysctl` and
//! `nft`, each run inside the namespace it configures. A lab has one
//! director, or two (a VRRP pair) that share the client segment (bridge
//! br1) and the real-server segment (br0) through the switch.
//!
//! Every namespace gets IPv6 DAD off (`accept_dad=0`, and `nodad` on each
//! address) so addresses are usable at once instead of after a second of
//! tentative state, and router solicitations off so the only traffic on the
//! wires is the test's own plus ARP/ND, which is never short-circuited with
//! static neighbour entries.

use std::thread;
use std::time::{Duration, Instant};

use crate::names::{parse_netns_list, Names, Role};
use crate::nft::kernel_nat_ruleset;
use crate::process::{run, run_with_stdin, POLL};
use crate::spec::*;
use crate::LabError;

/// `ip -n NS ARGS...`.
pub(crate) fn ip(ns: &str, args: &[&str]) -> Result<(), LabError> {
    let mut full = vec!["ip", "-n", ns];
    full.extend_from_slice(args);
    run(&full).map(drop)
}

/// Give `ifname` in `ns` its IPv4 and IPv6 address (no duplicate address
/// detection: the lab's addresses are unique and DAD would delay them) and
/// bring it up.
pub(crate) fn addresses_up(
    ns: &str,
    ifname: &str,
    a4: impl std::fmt::Display,
    a6: impl std::fmt::Display,
) -> Result<(), LabError> {
    ip(
        ns,
        &["addr", "add", &format!("{a4}/{PREFIX_LEN4}"), "dev", ifname],
    )?;
    ip(
        ns,
        &[
            "addr",
            "add",
            &format!("{a6}/{PREFIX_LEN6}"),
            "dev",
            ifname,
            "nodad",
        ],
    )?;
    ip(ns, &["link", "set", ifname, "up"])
}

/// `ip netns exec NS sysctl -q -w K=V ...`: sysctls under net.* are per
/// namespace.
pub(crate) fn sysctl(ns: &str, settings: &[String]) -> Result<(), LabError> {
    let mut full = vec!["ip", "netns", "exec", ns, "sysctl", "-q", "-w"];
    full.extend(settings.iter().map(String::as_str));
    run(&full).map(drop)
}

/// Compute TCP/UDP checksums in software on a host's veth. A veth
/// normally leaves them to "offload" (CHECKSUM_PARTIAL: only the
/// pseudo-header sum is in the packet), which the kernel finishes when the
/// packet stays an skb; an XDP program or AF_XDP socket on the other end
/// sees the raw bytes, so a forwarder like xvs would pass on packets with
/// unfinished checksums. Real NICs deliver complete checksums to XDP.
pub(crate) fn full_checksums(ns: &str, iface: &str) -> Result<(), LabError> {
    run(&[
        "ip", "netns", "exec", ns, "ethtool", "-K", iface, "tx", "off",
    ])
    .map(drop)
}

fn s(settings: &[&str]) -> Vec<String> {
    settings.iter().map(|x| (*x).to_owned()).collect()
}

/// Every namespace name on the machine.
pub fn list_namespaces() -> Result<Vec<String>, LabError> {
    let out = run(&["ip", "netns", "list"])?;
    Ok(parse_netns_list(&String::from_utf8_lossy(&out.stdout)))
}

/// The namespaces on the machine that belong to the lab `names`, client
/// first, real servers last.
pub fn lab_namespaces(names: &Names) -> Result<Vec<(Role, String)>, LabError> {
    let mut found: Vec<(Role, String)> = list_namespaces()?
        .into_iter()
        .filter_map(|ns| names.role_of(&ns).map(|role| (role, ns)))
        .collect();
    found.sort();
    Ok(found)
}

/// Create every namespace, link and address of the lab (no backends).
/// On error the caller tears down whatever was made.
pub(crate) fn build(names: &Names, spec: &LabSpec) -> Result<(), LabError> {
    let client = names.client();
    let switch = names.switch();
    let servers: Vec<String> = (1..=spec.real_servers)
        .map(|i| names.real_server(i))
        .collect();
    let mut all = vec![client.clone()];
    if spec.is_ecmp() {
        all.push(names.router());
    }
    all.extend((1..=spec.directors).map(|i| names.director_n(i)));
    all.push(switch.clone());
    all.extend(servers.iter().cloned());

    for ns in &all {
        run(&["ip", "netns", "add", ns])?;
    }
    for ns in &all {
        // Set before any link exists: links created in the namespace take
        // the "default" values. IPv4 "default" is inherited from the host
        // (devconf_inherit_init_net=0), so rp_filter is set explicitly.
        let mut settings = s(&[
            "net.ipv6.conf.all.accept_dad=0",
            "net.ipv6.conf.default.accept_dad=0",
            "net.ipv6.conf.all.router_solicitations=0",
            "net.ipv6.conf.default.router_solicitations=0",
            "net.ipv4.conf.all.rp_filter=0",
            "net.ipv4.conf.default.rp_filter=0",
        ]);
        if *ns == switch {
            // The switch is layer 2 only: no addresses, no MLD or RS noise.
            settings.push("net.ipv6.conf.default.disable_ipv6=1".into());
        }
        sysctl(ns, &settings)?;
        ip(ns, &["link", "set", "lo", "up"])?;
    }

    for i in 1..=spec.directors {
        build_director(names, spec, i)?;
    }
    if spec.is_pair() {
        // The client's eth0 plugs into the switch instead of a director.
        veth(&switch, "cl", "eth0", &client, spec.queues)?;
    }
    if spec.is_ecmp() {
        crate::ecmp::build_router(names, spec)?;
        crate::ecmp::build_client(names)?;
    } else {
        build_client(names, spec)?;
    }
    bridge(&switch, "br0")?;
    for i in 1..=spec.directors {
        let port = names.switch_server_port(i);
        ip(&switch, &["link", "set", &port, "master", "br0", "up"])?;
    }
    if spec.directors >= 2 {
        // The client segment (a pair: the client and both directors'
        // {p}c; ECMP: the router and every director's {p}c).
        bridge(&switch, "br1")?;
        let first = if spec.is_ecmp() { "rt" } else { "cl" };
        let ports = std::iter::once(first.to_owned())
            .chain((1..=spec.directors).map(|i| names.switch_client_port(i)));
        for port in ports {
            ip(&switch, &["link", "set", &port, "master", "br1", "up"])?;
        }
    }
    if spec.is_ecmp() {
        // The router is the real servers' gateway.
        ip(&switch, &["link", "set", "rts", "master", "br0", "up"])?;
    }
    for (i, ns) in servers.iter().enumerate() {
        build_real_server(names, spec, i + 1, ns)?;
    }
    if spec.method == Method::KernelNat {
        for i in 1..=spec.directors {
            build_kernel_nat(names, spec, i)?;
        }
    }
    if spec.directors >= 2 {
        wait_links_up(&all)?;
    }
    Ok(())
}

/// How long a new link may take to report carrier.
const LINK_UP_TIMEOUT: Duration = Duration::from_secs(10);

/// Wait until every link but `lo` in `namespaces` is operationally up. A
/// veth's carrier change reaches the bridge through the kernel's linkwatch
/// work, which runs up to a second late; until then the bridge drops what
/// the port receives, and a VRRP advert sent at start-up would be lost.
fn wait_links_up(namespaces: &[String]) -> Result<(), LabError> {
    let deadline = Instant::now() + LINK_UP_TIMEOUT;
    for ns in namespaces {
        loop {
            let out = run(&["ip", "-n", ns, "-br", "link", "show"])?;
            let down = links_not_up(&String::from_utf8_lossy(&out.stdout));
            if down.is_empty() {
                break;
            }
            if Instant::now() >= deadline {
                return Err(LabError::NotReady {
                    what: format!("the links of {ns}"),
                    timeout: LINK_UP_TIMEOUT,
                    detail: format!("still not up: {}", down.join(", ")),
                });
            }
            thread::sleep(POLL);
        }
    }
    Ok(())
}

/// The links of `ip -br link show` output that are not `UP`, `lo` aside
/// (its state is `UNKNOWN`). Lines look like
/// `dirc@if2  DOWN  3a:36:1a:25:4f:d8 <NO-CARRIER,BROADCAST,...>`.
fn links_not_up(output: &str) -> Vec<String> {
    output
        .lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            let name = words.next()?;
            let state = words.next()?;
            (name != "lo" && state != "UP").then(|| name.to_owned())
        })
        .collect()
}

/// A bridge in the switch: no STP (nothing loops, and STP would hold the
/// ports in listening state), no multicast snooping (VRRP adverts and ND
/// are flooded, as on a plain hub).
fn bridge(switch: &str, name: &str) -> Result<(), LabError> {
    ip(
        switch,
        &[
            "link",
            "add",
            name,
            "type",
            "bridge",
            "stp_state",
            "0",
            "mcast_snooping",
            "0",
        ],
    )?;
    ip(switch, &["link", "set", name, "up"])
}

/// A veth pair from `ns` (`local`) to `peer_ns` (`peer`), both ends with
/// `queues` RX and TX queues.
pub(crate) fn veth(
    ns: &str,
    local: &str,
    peer: &str,
    peer_ns: &str,
    queues: u32,
) -> Result<(), LabError> {
    let q = queues.to_string();
    let queues = ["numtxqueues", q.as_str(), "numrxqueues", q.as_str()];
    let mut args = vec!["link", "add", local];
    args.extend_from_slice(&queues);
    args.extend_from_slice(&["type", "veth", "peer", "name", peer, "netns", peer_ns]);
    args.extend_from_slice(&queues);
    ip(ns, &args)
}

/// Director `i`: forwarding on, two veths with the lab's queue count and
/// addresses. A single director's client veth goes straight to the
/// client's eth0; a pair's go to the switch (br1 and br0).
fn build_director(names: &Names, spec: &LabSpec, i: usize) -> Result<(), LabError> {
    let dir = names.director_n(i);
    let addrs = spec
        .director_addrs(i)
        .ok_or_else(|| LabError::Spec(format!("the lab has no director {i}")))?;
    let (cif, rif) = (names.dir_client_if(), names.dir_server_if());
    sysctl(
        &dir,
        &s(&[
            "net.ipv4.ip_forward=1",
            "net.ipv6.conf.all.forwarding=1",
            // A director forwarding back out of the interface a packet came
            // in on (as xvs may) must not also send ICMP redirects.
            "net.ipv4.conf.all.send_redirects=0",
            "net.ipv4.conf.default.send_redirects=0",
        ]),
    )?;
    let (client_peer, client_peer_ns) = if spec.directors >= 2 {
        (names.switch_client_port(i), names.switch())
    } else {
        ("eth0".to_owned(), names.client())
    };
    veth(&dir, &cif, &client_peer, &client_peer_ns, spec.queues)?;
    veth(
        &dir,
        &rif,
        &names.switch_server_port(i),
        &names.switch(),
        spec.queues,
    )?;
    for (ifname, a4, a6) in [
        (&cif, addrs.client4, addrs.client6),
        (&rif, addrs.server4, addrs.server6),
    ] {
        addresses_up(&dir, ifname, a4, a6)?;
    }
    if spec.directors >= 2 {
        // In a pair the directors also talk to each other through the
        // switch (VRRP, connection sync): what one director's kernel sends
        // must reach the other's XDP program with finished checksums too.
        full_checksums(&dir, &cif)?;
        full_checksums(&dir, &rif)?;
    }
    sysctl(
        &dir,
        &[
            format!("net.ipv4.conf.{cif}.rp_filter=0"),
            format!("net.ipv4.conf.{rif}.rp_filter=0"),
        ],
    )
}

fn build_client(names: &Names, spec: &LabSpec) -> Result<(), LabError> {
    let cl = names.client();
    ip(
        &cl,
        &[
            "addr",
            "add",
            &format!("{CLIENT4}/{PREFIX_LEN4}"),
            "dev",
            "eth0",
        ],
    )?;
    for host in CLIENT4_EXTRA {
        let addr = format!("198.18.0.{host}/{PREFIX_LEN4}");
        ip(&cl, &["addr", "add", &addr, "dev", "eth0"])?;
    }
    ip(
        &cl,
        &[
            "addr",
            "add",
            &format!("{CLIENT6}/{PREFIX_LEN6}"),
            "dev",
            "eth0",
            "nodad",
        ],
    )?;
    ip(&cl, &["link", "set", "eth0", "up"])?;
    full_checksums(&cl, "eth0")?;
    // Everything beyond the client segment (the real servers, off-link
    // VIPs) is reached through the director; in a pair through the
    // virtual gateway a VRRP master may hold (VIPs on the client segment
    // are on-link and need no gateway).
    let (gw4, gw6) = if spec.is_pair() {
        (CLIENT_GW4, CLIENT_GW6)
    } else {
        (DIR_CLIENT4, DIR_CLIENT6)
    };
    ip(&cl, &["route", "add", "default", "via", &gw4.to_string()])?;
    ip(
        &cl,
        &["-6", "route", "add", "default", "via", &gw6.to_string()],
    )
}

fn build_real_server(names: &Names, spec: &LabSpec, i: usize, ns: &str) -> Result<(), LabError> {
    let sw = names.switch();
    let port = format!("rs{i}");
    ip(
        &sw,
        &[
            "link", "add", &port, "type", "veth", "peer", "name", "eth0", "netns", ns,
        ],
    )?;
    ip(&sw, &["link", "set", &port, "master", "br0", "up"])?;
    ip(
        ns,
        &[
            "addr",
            "add",
            &format!("{}/{PREFIX_LEN4}", rs_addr4(i)),
            "dev",
            "eth0",
        ],
    )?;
    ip(
        ns,
        &[
            "addr",
            "add",
            &format!("{}/{PREFIX_LEN6}", rs_addr6(i)),
            "dev",
            "eth0",
            "nodad",
        ],
    )?;
    ip(ns, &["link", "set", "eth0", "up"])?;
    full_checksums(ns, "eth0")?;
    ip(
        ns,
        &["route", "add", "default", "via", &SERVER_GW4.to_string()],
    )?;
    ip(
        ns,
        &[
            "-6",
            "route",
            "add",
            "default",
            "via",
            &SERVER_GW6.to_string(),
        ],
    )?;
    // TUN real servers receive the decapsulated packet (to the VIP) on
    // eth0 while the VIP lives on lo: strict reverse-path checks would
    // drop it.
    let mut settings = s(&[
        "net.ipv4.conf.eth0.rp_filter=0",
        "net.ipv4.conf.lo.rp_filter=0",
    ]);
    if spec.method.vip_on_real_servers() {
        // The LVS-DR real-server recipe: hold the VIP on lo, never answer
        // ARP for it on eth0 (arp_ignore=1: only for addresses of the
        // receiving interface) and never use it as an ARP source
        // (arp_announce=2), so only the director owns the VIP on the wire.
        settings.extend(s(&[
            "net.ipv4.conf.all.arp_ignore=1",
            "net.ipv4.conf.all.arp_announce=2",
            "net.ipv4.conf.eth0.arp_ignore=1",
            "net.ipv4.conf.eth0.arp_announce=2",
            "net.ipv6.conf.lo.accept_dad=0",
        ]));
        for vip in &spec.vips4 {
            ip(ns, &["addr", "add", &format!("{vip}/32"), "dev", "lo"])?;
        }
        // IPv6 needs no arp_ignore: ND answers only for addresses of the
        // interface the solicitation arrived on (ndisc_recv_ns).
        for vip in &spec.vips6 {
            ip(
                ns,
                &["addr", "add", &format!("{vip}/128"), "dev", "lo", "nodad"],
            )?;
        }
    }
    sysctl(ns, &settings)
}

/// The kernel NAT baseline on director `i`. A single director holds the
/// VIPs itself; in a pair they are left to VRRP (keepalived adds them to
/// the master's interface), and both directors get the ruleset.
fn build_kernel_nat(names: &Names, spec: &LabSpec, i: usize) -> Result<(), LabError> {
    let dir = names.director_n(i);
    let cif = names.dir_client_if();
    if !spec.is_pair() {
        for vip in &spec.vips4 {
            ip(&dir, &["addr", "add", &format!("{vip}/32"), "dev", &cif])?;
        }
        for vip in &spec.vips6 {
            ip(
                &dir,
                &["addr", "add", &format!("{vip}/128"), "dev", &cif, "nodad"],
            )?;
        }
    }
    let rs4: Vec<_> = (1..=spec.real_servers).map(rs_addr4).collect();
    let rs6: Vec<_> = (1..=spec.real_servers).map(rs_addr6).collect();
    let ruleset = kernel_nat_ruleset(&spec.vips4, &spec.vips6, &rs4, &rs6);
    run_with_stdin(
        &["ip", "netns", "exec", &dir, "nft", "-f", "-"],
        Some(&ruleset),
    )
    .map(drop)
}

/// Kill every process inside the lab's namespaces and delete them.
/// Idempotent: returns how many namespaces were deleted (0 when none
/// existed).
pub fn teardown(names: &Names) -> Result<usize, LabError> {
    let found = lab_namespaces(names)?;
    for (_, ns) in &found {
        kill_all_in(ns);
    }
    let mut first_error = None;
    for (_, ns) in &found {
        if let Err(e) = run(&["ip", "netns", "delete", ns]) {
            // Someone else deleted it meanwhile: that is the goal anyway.
            if list_namespaces().map(|l| l.contains(ns)).unwrap_or(true) {
                first_error.get_or_insert(e);
            }
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(found.len()),
    }
}

/// SIGKILL every process in `ns` (backends, xvs, anything a test left).
/// Best effort: a process may exit between listing and killing.
fn kill_all_in(ns: &str) {
    let Ok(out) = run(&["ip", "netns", "pids", ns]) else {
        return;
    };
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let pids: Vec<&str> = text
        .split_whitespace()
        .filter(|p| p.bytes().all(|b| b.is_ascii_digit()))
        .collect();
    if pids.is_empty() {
        return;
    }
    let mut args = vec!["kill", "-s", "KILL"];
    args.extend(pids);
    let _ = run(&args);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_that_are_not_up_are_found() {
        let out = "\
lo               UNKNOWN        00:00:00:00:00:00 <LOOPBACK,UP,LOWER_UP>
dirc@if2         DOWN           3a:36:1a:25:4f:d8 <NO-CARRIER,BROADCAST,MULTICAST,UP,LOWER_UP>
dir2c@if2        UP             7a:35:d6:a8:57:44 <BROADCAST,MULTICAST,UP,LOWER_UP>
br1              UP             0a:29:6e:fc:d7:a3 <BROADCAST,MULTICAST,UP,LOWER_UP>
rs1@if2          LOWERLAYERDOWN ca:e7:b7:d1:0a:0f <BROADCAST,MULTICAST,UP>
";
        assert_eq!(links_not_up(out), ["dirc@if2", "rs1@if2"]);
        assert!(links_not_up("lo UNKNOWN 00:00:00:00:00:00 <LOOPBACK,UP,LOWER_UP>\n").is_empty());
    }
}
