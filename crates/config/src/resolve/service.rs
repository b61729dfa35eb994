//! `services:` — virtual services and their real servers, with ipvsadm's
//! defaults (wlc, DR, weight 1, dest port = service port) and the checks
//! ipvsadm and the kernel apply (ip_vs_ctl.c, ipvsadm.c), plus xvs's own
//! (FullNAT pools, Maglev table size).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use super::global::MAX_TIMEOUT_SECS;
use super::health::{resolve_checkers, Inherited};
use super::quorum::{resolve_rs_health, resolve_service_health};
use super::{Ctx, Result};
use crate::model::{Interface, LocalAddressPool, Persistence, RealServer, VirtualService};
use crate::raw::{
    HasCheckTiming, MethodText, ProtocolText, RawPersistence, RawRealServer, RawService,
    SchedFlagText,
};
use crate::types::{ForwardMethod, Protocol, SchedFlags, SchedulerKind};

/// IPVS_SVC_PERSISTENT_TIMEOUT: `-p` / `persistence: true` without a value.
const DEFAULT_PERSISTENCE_SECS: u64 = 360;
/// ip_vs_mh.c's default table size (CONFIG_IP_VS_MH_TAB_INDEX 12).
const DEFAULT_MH_TABLE_SIZE: u32 = 4093;
/// The largest table ip_vs_mh.c offers (CONFIG_IP_VS_MH_TAB_INDEX 17).
const MAX_MH_TABLE_SIZE: u64 = 131_071;

pub(super) fn resolve_services(
    raw: &[RawService],
    pools: &[LocalAddressPool],
    interfaces: &[Interface],
    ctx: &Ctx<'_>,
) -> Result<Vec<VirtualService>> {
    let mut seen: HashMap<(Protocol, IpAddr, u16), usize> = HashMap::new();
    let mut names: HashMap<String, usize> = HashMap::new();
    let mut out = Vec::with_capacity(raw.len());
    for (i, svc) in raw.iter().enumerate() {
        let base = format!("services[{i}]");
        let resolved = resolve_service(svc, &base, pools, ctx)?;
        check_dr_on_link(&resolved, &base, interfaces, ctx)?;
        let id = (resolved.protocol, resolved.vip, resolved.port);
        if let Some(first) = seen.insert(id, i) {
            return Err(ctx.err(
                format!("{base}.vip"),
                format!(
                    "{} {} is already defined by services[{first}]",
                    resolved.protocol,
                    addr_port(resolved.vip, resolved.port)
                ),
            ));
        }
        if let Some(first) = names.insert(resolved.name.clone(), i) {
            return Err(ctx.err(
                format!("{base}.name"),
                format!(
                    "the name `{}` is already used by services[{first}]",
                    resolved.name
                ),
            ));
        }
        out.push(resolved);
    }
    Ok(out)
}

/// `198.18.0.100:80` / `[fd00::100]:80`, as ipvsadm -n prints them.
pub(crate) fn addr_port(addr: IpAddr, port: u16) -> String {
    match addr {
        IpAddr::V4(a) => format!("{a}:{port}"),
        IpAddr::V6(a) => format!("[{a}]:{port}"),
    }
}

pub(super) fn method(text: MethodText) -> ForwardMethod {
    match text {
        MethodText::Dr => ForwardMethod::Dr,
        MethodText::Nat => ForwardMethod::Nat,
        MethodText::Tun => ForwardMethod::Tun,
        MethodText::Fullnat => ForwardMethod::FullNat,
    }
}

fn resolve_service(
    svc: &RawService,
    base: &str,
    pools: &[LocalAddressPool],
    ctx: &Ctx<'_>,
) -> Result<VirtualService> {
    let vip = svc.vip.0;
    let port = svc.port;
    let protocol = match svc.protocol {
        None | Some(ProtocolText::Tcp) => Protocol::Tcp,
        Some(ProtocolText::Udp) => Protocol::Udp,
    };
    let scheduler = svc.scheduler.map(|s| s.0).unwrap_or(SchedulerKind::Wlc);
    let sched_flags = resolve_flags(svc, scheduler, base, ctx)?;
    let persistence = resolve_persistence(svc.persistence.as_ref(), vip, base, ctx)?;

    // ip_vs_ctl.c / ipvsadm: a port-0 service matches every port, so it
    // must be persistent (the template pins the client to one RS).
    if port == 0 && persistence.is_none() {
        return Err(ctx.err(
            format!("{base}.port"),
            "port 0 (all ports) needs persistence, as in IPVS",
        ));
    }
    let ops = svc.ops.unwrap_or(false);
    // ipvsadm: "One-Packet Scheduling is only for UDP virtual services".
    if ops && protocol != Protocol::Udp {
        return Err(ctx.err(
            format!("{base}.ops"),
            "one-packet scheduling (ops) is only for UDP services",
        ));
    }

    let default_method = svc.method.map(method).unwrap_or(ForwardMethod::Dr);
    let mut real_servers: Vec<RealServer> = Vec::with_capacity(svc.real_servers.len());
    for (j, rs) in svc.real_servers.iter().enumerate() {
        let rs_base = format!("{base}.real_servers[{j}]");
        let resolved = resolve_real_server(rs, svc, vip, port, default_method, &rs_base, ctx)?;
        if let Some(first) = real_servers
            .iter()
            .position(|r| r.address == resolved.address && r.port == resolved.port)
        {
            return Err(ctx.err(
                rs_base,
                format!(
                    "real server {} is already listed at real_servers[{first}]",
                    addr_port(resolved.address, resolved.port)
                ),
            ));
        }
        real_servers.push(resolved);
    }

    let synproxy = svc.synproxy.unwrap_or(false);
    if synproxy {
        if protocol != Protocol::Tcp {
            return Err(ctx.err(
                format!("{base}.synproxy"),
                "the SYN proxy is for TCP services only",
            ));
        }
        // DR and TUN replies bypass the director, so it cannot translate
        // the real server's sequence numbers into the cookie's space.
        let bypasses = |m: ForwardMethod| !matches!(m, ForwardMethod::Nat | ForwardMethod::FullNat);
        let bypass = real_servers
            .iter()
            .map(|r| r.method)
            .chain(std::iter::once(default_method).filter(|_| real_servers.is_empty()))
            .find(|m| bypasses(*m));
        if let Some(m) = bypass {
            let m = if m == ForwardMethod::Dr { "DR" } else { "TUN" };
            return Err(ctx.err(
                format!("{base}.synproxy"),
                format!(
                    "the SYN proxy needs NAT or FullNAT real servers: {m} replies bypass the director, \
                     so it cannot translate them. Such services are protected by the table defences \
                     (global.table_pressure: half-open entries give way and time out sooner) \
                     and by the real servers' own SYN cookies (net.ipv4.tcp_syncookies)"
                ),
            ));
        }
    }

    let mh_table_size = match svc.mh_table_size {
        None => DEFAULT_MH_TABLE_SIZE,
        Some(_) if scheduler != SchedulerKind::Mh => {
            return Err(ctx.err(
                format!("{base}.mh_table_size"),
                format!("mh_table_size is only used by scheduler mh (this service uses {scheduler})"),
            ))
        }
        Some(n) if !(2..=MAX_MH_TABLE_SIZE).contains(&n) || !is_prime(n) => {
            return Err(ctx.err(
                format!("{base}.mh_table_size"),
                format!("the Maglev table size must be a prime up to {MAX_MH_TABLE_SIZE} (e.g. 251, 4093, 65521), got {n}"),
            ))
        }
        // Bounded by MAX_MH_TABLE_SIZE above.
        Some(n) => u32::try_from(n).unwrap_or(DEFAULT_MH_TABLE_SIZE),
    };
    // Maglev fills each slot with one RS; fewer slots than RS cannot place them all.
    if scheduler == SchedulerKind::Mh && (mh_table_size as usize) < real_servers.len() {
        return Err(ctx.err(
            format!("{base}.mh_table_size"),
            format!(
                "the Maglev table ({mh_table_size} slots) is smaller than the {} real servers",
                real_servers.len()
            ),
        ));
    }

    let health = resolve_service_health(svc, vip, port, default_method, &real_servers, base, ctx)?;
    let local_pool = resolve_pool_ref(svc, vip, &real_servers, &health, base, pools, ctx)?;

    Ok(VirtualService {
        name: svc
            .name
            .clone()
            .unwrap_or_else(|| format!("{protocol} {}", addr_port(vip, port))),
        protocol,
        vip,
        port,
        scheduler,
        sched_flags,
        mh_table_size,
        method: default_method,
        persistence,
        ops,
        synproxy,
        local_pool,
        real_servers,
        health,
    })
}

/// DR rewrites only the MAC, so the director must find the real server's
/// MAC on one of its links: either a static `mac`, or an address inside a
/// connected prefix to resolve with ARP/ND. Checked only when the file
/// lists its interfaces.
fn check_dr_on_link(
    svc: &VirtualService,
    base: &str,
    interfaces: &[Interface],
    ctx: &Ctx<'_>,
) -> Result<()> {
    if interfaces.is_empty() {
        return Ok(());
    }
    for (j, rs) in svc.real_servers.iter().enumerate() {
        let on_link = interfaces
            .iter()
            .flat_map(|i| i.addresses.iter())
            .any(|net| net.contains(rs.address));
        if rs.method == ForwardMethod::Dr && rs.mac.is_none() && !on_link {
            return Err(ctx.err(
                format!("{base}.real_servers[{j}].address"),
                format!(
                    "DR real server {} is not in any interface's prefix; DR only rewrites the MAC, \
                     so it must share a link with the director (or give its `mac`)",
                    rs.address
                ),
            ));
        }
    }
    if let Some(sorry) = &svc.health.sorry_server {
        let on_link = interfaces
            .iter()
            .flat_map(|i| i.addresses.iter())
            .any(|net| net.contains(sorry.address));
        if sorry.method == ForwardMethod::Dr && sorry.mac.is_none() && !on_link {
            return Err(ctx.err(
                format!("{base}.sorry_server.address"),
                format!(
                    "DR sorry server {} is not in any interface's prefix; it must share a link with the director (or give its `mac`)",
                    sorry.address
                ),
            ));
        }
    }
    Ok(())
}

fn resolve_flags(
    svc: &RawService,
    scheduler: SchedulerKind,
    base: &str,
    ctx: &Ctx<'_>,
) -> Result<SchedFlags> {
    let mut flags = SchedFlags::default();
    for (j, flag) in svc.flags.iter().enumerate() {
        let owner = match flag {
            SchedFlagText::ShFallback | SchedFlagText::ShPort => SchedulerKind::Sh,
            SchedFlagText::MhFallback | SchedFlagText::MhPort => SchedulerKind::Mh,
        };
        // keepalived ignores these flags on other schedulers with a log
        // line; a config that asks for them there is a mistake, so refuse.
        if owner != scheduler {
            return Err(ctx.err(
                format!("{base}.flags[{j}]"),
                format!(
                    "`{}` applies only to scheduler {owner} (this service uses {scheduler})",
                    flag.name()
                ),
            ));
        }
        match flag {
            SchedFlagText::ShFallback | SchedFlagText::MhFallback => flags.fallback = true,
            SchedFlagText::ShPort | SchedFlagText::MhPort => flags.port = true,
        }
    }
    Ok(flags)
}

fn resolve_persistence(
    raw: Option<&RawPersistence>,
    vip: IpAddr,
    base: &str,
    ctx: &Ctx<'_>,
) -> Result<Option<Persistence>> {
    let host_prefix: u8 = if vip.is_ipv4() { 32 } else { 128 };
    let key = format!("{base}.persistence");
    let check_timeout = |secs: u64, key: String| -> Result<Duration> {
        if secs == 0 || secs > MAX_TIMEOUT_SECS {
            return Err(ctx.err(
                key,
                format!("the persistence timeout must be 1..={MAX_TIMEOUT_SECS} s (use `false` to turn persistence off), got {secs}"),
            ));
        }
        Ok(Duration::from_secs(secs))
    };
    let (timeout, prefix) = match raw {
        None | Some(RawPersistence::Flag(false)) => return Ok(None),
        Some(RawPersistence::Flag(true)) => {
            (Duration::from_secs(DEFAULT_PERSISTENCE_SECS), host_prefix)
        }
        Some(RawPersistence::Timeout(secs)) => (check_timeout(*secs, key)?, host_prefix),
        Some(RawPersistence::Detailed(map)) => {
            let timeout = check_timeout(
                map.timeout.unwrap_or(DEFAULT_PERSISTENCE_SECS),
                format!("{key}.timeout"),
            )?;
            let prefix = match (map.netmask, map.prefix) {
                (Some(_), Some(_)) => {
                    return Err(ctx.err(
                        format!("{key}.prefix"),
                        "give either netmask or prefix, not both",
                    ))
                }
                (None, None) => host_prefix,
                (Some(mask), None) => {
                    if vip.is_ipv6() {
                        return Err(ctx.err(
                            format!("{key}.netmask"),
                            "netmask is for IPv4 services; give an IPv6 service a prefix length",
                        ));
                    }
                    netmask_prefix(mask.0).ok_or_else(|| {
                        ctx.err(
                            format!("{key}.netmask"),
                            format!("netmask {} is not contiguous (ones, then zeros)", mask.0),
                        )
                    })?
                }
                (None, Some(p)) => {
                    if p > u64::from(host_prefix) {
                        return Err(ctx.err(
                            format!("{key}.prefix"),
                            format!("prefix must be 0..={host_prefix} for this service's address family, got {p}"),
                        ));
                    }
                    // Bounded by host_prefix (<= 128) above.
                    u8::try_from(p).unwrap_or(host_prefix)
                }
            };
            (timeout, prefix)
        }
    };
    Ok(Some(Persistence { timeout, prefix }))
}

/// Prefix length of a contiguous IPv4 netmask (255.255.255.0 → 24).
pub(crate) fn netmask_prefix(mask: Ipv4Addr) -> Option<u8> {
    let bits = u32::from(mask);
    let ones = bits.leading_ones();
    // Contiguous iff nothing is set after the leading ones.
    let rest = bits.checked_shl(ones).unwrap_or(0);
    if rest == 0 {
        u8::try_from(ones).ok()
    } else {
        None
    }
}

fn is_prime(n: u64) -> bool {
    if n < 2 {
        return false;
    }
    let mut d = 2;
    while d * d <= n {
        if n.is_multiple_of(d) {
            return false;
        }
        d += 1;
    }
    true
}

fn resolve_real_server(
    rs: &RawRealServer,
    svc: &RawService,
    vip: IpAddr,
    service_port: u16,
    default_method: ForwardMethod,
    base: &str,
    ctx: &Ctx<'_>,
) -> Result<RealServer> {
    let address = rs.address.0;
    let method = rs.method.map(method).unwrap_or(default_method);
    // No 4in6/6in4 and no NAT46: every method keeps the VIP's family.
    if address.is_ipv4() != vip.is_ipv4() {
        return Err(ctx.err(
            format!("{base}.address"),
            format!(
                "real server {address} is {} but the VIP {vip} is {}; {} needs the same family",
                family(address),
                family(vip),
                method_word(method)
            ),
        ));
    }
    let port = match (method, rs.port) {
        (_, None) => service_port,
        // ipvsadm forces the dest port of DR/TUN services to the service
        // port: the packet reaches the RS unchanged, so it cannot differ.
        (ForwardMethod::Dr | ForwardMethod::Tun, Some(p)) if p != service_port => {
            return Err(ctx.err(
                format!("{base}.port"),
                format!(
                    "{} real servers must use the service port ({service_port}), got {p}",
                    method_word(method)
                ),
            ))
        }
        (_, Some(p)) => p,
    };
    let weight = rs.weight.unwrap_or(1);
    if weight > 65_535 {
        return Err(ctx.err(
            format!("{base}.weight"),
            format!("weight must be 0..=65535 (as ipvsadm -w), got {weight}"),
        ));
    }
    let upper = rs.upper_threshold.unwrap_or(0);
    let lower = rs.lower_threshold.unwrap_or(0);
    if upper != 0 && lower > upper {
        return Err(ctx.err(
            format!("{base}.lower_threshold"),
            format!("lower_threshold {lower} is above upper_threshold {upper}"),
        ));
    }
    let inherited = Inherited {
        levels: [rs.timing(), svc.timing()],
        virtualhost: [rs.virtualhost.as_deref(), svc.virtualhost.as_deref()],
        rs_port: port,
    };
    let checkers = resolve_checkers(rs.health.as_ref(), base, &inherited, ctx)?;
    let health = resolve_rs_health(rs, svc, base, ctx)?;
    Ok(RealServer {
        address,
        port,
        // Bounded by 65535 above.
        weight: u32::try_from(weight).unwrap_or(0),
        upper_threshold: upper,
        lower_threshold: lower,
        method,
        mac: rs.mac.map(|m| m.0),
        checkers,
        health,
    })
}

fn resolve_pool_ref(
    svc: &RawService,
    vip: IpAddr,
    real_servers: &[RealServer],
    health: &crate::health::ServiceHealth,
    base: &str,
    pools: &[LocalAddressPool],
    ctx: &Ctx<'_>,
) -> Result<Option<usize>> {
    let needs_pool = svc.method == Some(MethodText::Fullnat)
        || real_servers
            .iter()
            .any(|r| r.method == ForwardMethod::FullNat)
        || health
            .sorry_server
            .as_ref()
            .is_some_and(|s| s.method == ForwardMethod::FullNat);
    let key = format!("{base}.local_pool");
    let Some(name) = &svc.local_pool else {
        if needs_pool {
            return Err(ctx.err(
                key,
                "fullnat needs a local_pool: the local addresses to use as source towards the real servers",
            ));
        }
        return Ok(None);
    };
    if !needs_pool {
        return Err(ctx.err(
            key,
            "local_pool is only used by fullnat; this service has no fullnat real server",
        ));
    }
    let Some(index) = pools.iter().position(|p| &p.name == name) else {
        let known: Vec<&str> = pools.iter().map(|p| p.name.as_str()).collect();
        let known = if known.is_empty() {
            "no local_pools are defined".to_string()
        } else {
            format!("defined pools: {}", known.join(", "))
        };
        return Err(ctx.err(key, format!("unknown local pool `{name}` ({known})")));
    };
    if !pools[index]
        .addresses
        .iter()
        .any(|a| a.is_ipv4() == vip.is_ipv4())
    {
        return Err(ctx.err(
            key,
            format!(
                "pool `{name}` has no {} address for this {} service",
                family(vip),
                family(vip)
            ),
        ));
    }
    Ok(Some(index))
}

pub(super) fn family(addr: IpAddr) -> &'static str {
    if addr.is_ipv4() {
        "IPv4"
    } else {
        "IPv6"
    }
}

pub(super) fn method_word(method: ForwardMethod) -> &'static str {
    match method {
        ForwardMethod::Dr => "DR",
        ForwardMethod::Nat => "NAT",
        ForwardMethod::Tun => "TUN",
        ForwardMethod::FullNat => "FullNAT",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn netmasks() {
        assert_eq!(netmask_prefix(Ipv4Addr::new(255, 255, 255, 0)), Some(24));
        assert_eq!(netmask_prefix(Ipv4Addr::new(255, 255, 255, 255)), Some(32));
        assert_eq!(netmask_prefix(Ipv4Addr::new(0, 0, 0, 0)), Some(0));
        assert_eq!(netmask_prefix(Ipv4Addr::new(255, 255, 128, 0)), Some(17));
        assert_eq!(netmask_prefix(Ipv4Addr::new(255, 0, 255, 0)), None);
        assert_eq!(netmask_prefix(Ipv4Addr::new(0, 0, 0, 255)), None);
    }

    #[test]
    fn primes() {
        let primes: Vec<u64> = (0..30).filter(|&n| is_prime(n)).collect();
        assert_eq!(primes, [2, 3, 5, 7, 11, 13, 17, 19, 23, 29]);
        assert!(is_prime(4093));
        assert!(is_prime(65521));
        assert!(is_prime(131_071));
        assert!(!is_prime(4096));
    }

    #[test]
    fn addr_port_brackets_ipv6() {
        assert_eq!(
            addr_port("198.18.0.1".parse().expect("v4"), 80),
            "198.18.0.1:80"
        );
        assert_eq!(
            addr_port("fd00::1".parse().expect("v6"), 443),
            "[fd00::1]:443"
        );
    }
}
