//! `global:`, `interfaces:` and `local_pools:`: worker cores, table sizes
//! and timeouts, the interfaces the director forwards on, and the FullNAT
//! local-address pools.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

use super::{Ctx, Result};
use crate::health::HealthGlobal;
use crate::model::{
    Global, IdlePolicy, Interface, IpNet, LocalAddressPool, SynproxyKey, TablePressure, Timeouts,
    Tunables, DEFAULT_PREFETCH_MIN_LIVE,
};
use crate::raw::{IdleText, RawGlobal, RawInterface, RawPool, RawTablePressure, RawTimeouts};
use crate::text::NumRange;

/// ipvsadm's MAX_TIMEOUT (31 days): the longest --set / -p value it takes.
pub(crate) const MAX_TIMEOUT_SECS: u64 = 86_400 * 31;

const DEFAULT_CONN_CAPACITY: usize = 1 << 20;
const DEFAULT_UMEM_FRAMES: u32 = 4096;
const DEFAULT_RING_SIZE: u32 = 2048;

pub(super) fn resolve_global(raw: &RawGlobal, ctx: &Ctx<'_>) -> Result<Global> {
    let workers = match &raw.workers {
        None => vec![0],
        Some(cores) => {
            if cores.is_empty() {
                return Err(ctx.err("global.workers", "at least one worker core is needed"));
            }
            let mut seen: HashMap<u64, usize> = HashMap::new();
            let mut workers = Vec::with_capacity(cores.len());
            for (i, &core) in cores.iter().enumerate() {
                if let Some(first) = seen.insert(core, i) {
                    return Err(ctx.err(
                        format!("global.workers[{i}]"),
                        format!("core {core} is already listed at workers[{first}]; one worker per core"),
                    ));
                }
                let core = usize::try_from(core).map_err(|_| {
                    ctx.err(
                        format!("global.workers[{i}]"),
                        format!("core {core} is out of range"),
                    )
                })?;
                workers.push(core);
            }
            workers
        }
    };

    let conn_capacity = match raw.conn_capacity {
        None => DEFAULT_CONN_CAPACITY,
        Some(0) => {
            return Err(ctx.err(
                "global.conn_capacity",
                "the connection table needs room for at least one entry",
            ))
        }
        Some(n) => usize::try_from(n)
            .map_err(|_| ctx.err("global.conn_capacity", format!("{n} entries is too many")))?,
    };

    let ring_size = raw.ring_size.unwrap_or(DEFAULT_RING_SIZE);
    // Linux xsk_init_queue() refuses ring sizes that are not a power of two.
    if !ring_size.is_power_of_two() {
        return Err(ctx.err(
            "global.ring_size",
            format!("AF_XDP rings must be a power of two, got {ring_size}"),
        ));
    }
    let umem_frames = raw.umem_frames.unwrap_or(DEFAULT_UMEM_FRAMES);
    // The fill ring is kept full, so the UMEM needs at least one ring of frames.
    if umem_frames < ring_size {
        return Err(ctx.err(
            "global.umem_frames",
            format!("{umem_frames} UMEM frames cannot fill a ring of {ring_size}"),
        ));
    }

    let prefetch_min_live = match raw.prefetch_min_live {
        None => DEFAULT_PREFETCH_MIN_LIVE,
        Some(n) => usize::try_from(n).map_err(|_| {
            ctx.err(
                "global.prefetch_min_live",
                format!("{n} entries is too many"),
            )
        })?,
    };

    let health = match raw.health.max_in_flight {
        None => HealthGlobal::default(),
        Some(n) if (1..=MAX_PROBES_IN_FLIGHT).contains(&n) => HealthGlobal {
            // Bounded above.
            max_in_flight: u32::try_from(n).unwrap_or(1),
        },
        Some(n) => {
            return Err(ctx.err(
                "global.health.max_in_flight",
                format!("must be 1..={MAX_PROBES_IN_FLIGHT} probes, got {n}"),
            ))
        }
    };

    Ok(Global {
        workers,
        idle: match raw.idle {
            None | Some(IdleText::Busy) => IdlePolicy::Busy,
            Some(IdleText::Adaptive) => IdlePolicy::Adaptive,
        },
        conn_capacity,
        timeouts: resolve_timeouts(&raw.timeouts, ctx)?,
        tunables: resolve_tunables(raw, ctx)?,
        table_pressure: resolve_table_pressure(&raw.table_pressure, ctx)?,
        umem_frames,
        ring_size,
        prefetch_min_live,
        health,
        metrics_listen: resolve_metrics_listen(raw.metrics_listen.as_deref(), ctx)?,
        synproxy_key: resolve_synproxy_key(raw.synproxy_key.as_deref(), ctx)?,
    })
}

/// `global.synproxy_key`: exactly 32 hex digits, the 128-bit SipHash key
/// of the SYN cookies. Shorter keys are refused rather than padded: a
/// guessable key lets anyone forge cookies and open entries without a
/// handshake. All zeros is refused as the mark of a placeholder.
fn resolve_synproxy_key(raw: Option<&str>, ctx: &Ctx<'_>) -> Result<Option<SynproxyKey>> {
    const KEY: &str = "global.synproxy_key";
    let Some(text) = raw else {
        return Ok(None);
    };
    let text = text.trim();
    let hint =
        "write 32 hex digits (128 bits), e.g. from `od -An -tx1 -N16 /dev/urandom | tr -d ' \\n'`";
    if text.len() != 32 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ctx.err(
            KEY,
            format!(
                "is not a key: {} characters, not 32 hex digits; {hint}",
                text.len()
            ),
        ));
    }
    let mut key = [0u8; 16];
    for (i, byte) in key.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16)
            .map_err(|_| ctx.err(KEY, format!("is not a key; {hint}")))?;
    }
    if key == [0; 16] {
        return Err(ctx.err(
            KEY,
            format!("all zeros is a placeholder, not a key; {hint}"),
        ));
    }
    Ok(Some(SynproxyKey(key)))
}

/// `global.metrics_listen`: `127.0.0.1:9100`, `[::1]:9100`, `0.0.0.0:9100`.
/// No default: the endpoint is off unless asked for (the metrics say how
/// busy each service is, so where they are served is the operator's
/// choice). Port 0 is refused: Prometheus needs a port it can be told.
fn resolve_metrics_listen(raw: Option<&str>, ctx: &Ctx<'_>) -> Result<Option<SocketAddr>> {
    const KEY: &str = "global.metrics_listen";
    let Some(text) = raw else {
        return Ok(None);
    };
    let addr: SocketAddr = text.trim().parse().map_err(|_| {
        ctx.err(
            KEY,
            format!(
                "`{text}` is not ADDRESS:PORT; write e.g. 127.0.0.1:9100 or [::1]:9100 \
                 (a name is not resolved)"
            ),
        )
    })?;
    if addr.port() == 0 {
        return Err(ctx.err(
            KEY,
            "port 0 would pick a random port Prometheus cannot be told; give one, e.g. 9100",
        ));
    }
    Ok(Some(addr))
}

/// Each probe in flight holds a file descriptor (or a child process).
const MAX_PROBES_IN_FLIGHT: u64 = 65_536;

fn resolve_timeouts(raw: &RawTimeouts, ctx: &Ctx<'_>) -> Result<Timeouts> {
    let defaults = Timeouts::default();
    let pick = |value: Option<u64>, name: &str, default: u32| -> Result<u32> {
        let key = format!("global.timeouts.{name}");
        match value {
            None => Ok(default),
            // IPVS treats 0 as "keep the current value" in ipvsadm --set;
            // in a file it can only be a mistake (entries would expire at once).
            Some(0) => Err(ctx.err(key, "a timeout must be at least 1 second")),
            Some(v) if v > MAX_TIMEOUT_SECS => Err(ctx.err(
                key,
                format!("{v} s is longer than the 31 days (2678400 s) ipvsadm allows"),
            )),
            // Proven in range: v <= MAX_TIMEOUT_SECS < u32::MAX.
            Some(v) => Ok(u32::try_from(v).unwrap_or(u32::MAX)),
        }
    };
    Ok(Timeouts {
        tcp: pick(raw.tcp, "tcp", defaults.tcp)?,
        tcp_fin: pick(raw.tcp_fin, "tcp_fin", defaults.tcp_fin)?,
        udp: pick(raw.udp, "udp", defaults.udp)?,
        syn_sent: pick(raw.syn_sent, "syn_sent", defaults.syn_sent)?,
        syn_recv: pick(raw.syn_recv, "syn_recv", defaults.syn_recv)?,
        time_wait: pick(raw.time_wait, "time_wait", defaults.time_wait)?,
        close: pick(raw.close, "close", defaults.close)?,
        close_wait: pick(raw.close_wait, "close_wait", defaults.close_wait)?,
        last_ack: pick(raw.last_ack, "last_ack", defaults.last_ack)?,
        listen: pick(raw.listen, "listen", defaults.listen)?,
        synack: pick(raw.synack, "synack", defaults.synack)?,
    })
}

/// `global.table_pressure`. Defaults ([`TablePressure::default`]): both
/// defences on, as a director facing the Internet needs them; 64 slots
/// per eviction attempt (one or two cache lines of index work per
/// packet, and a table full of established entries costs no more);
/// short SYN_RECV timeouts from 75 % full until back to 50 %, the
/// hysteresis keeping a shard near the mark from flapping; 5 s, time for a
/// client's SYN retransmissions at 1 s and 3 s (RFC 6298 §2 initial RTO
/// of 1 s, doubled) to refresh a genuine half-open entry.
fn resolve_table_pressure(raw: &RawTablePressure, ctx: &Ctx<'_>) -> Result<TablePressure> {
    let d = TablePressure::default();
    let percent = |v: Option<u64>, name: &str, default: u8| -> Result<u8> {
        match v {
            None => Ok(default),
            Some(p @ 1..=100) => Ok(p as u8),
            Some(p) => Err(ctx.err(
                format!("global.table_pressure.{name}"),
                format!("a share of the table in percent, 1..=100, got {p}"),
            )),
        }
    };
    let enter_percent = percent(raw.enter_percent, "enter_percent", d.enter_percent)?;
    let leave_percent = percent(raw.leave_percent, "leave_percent", d.leave_percent)?;
    if leave_percent >= enter_percent {
        // Name the key the user wrote, or the one whose default clashes.
        let key = if raw.leave_percent.is_some() {
            "leave_percent"
        } else {
            "enter_percent"
        };
        return Err(ctx.err(
            format!("global.table_pressure.{key}"),
            format!(
                "leave_percent ({leave_percent}) must be below enter_percent ({enter_percent}), \
                 or a shard near the mark would flap in and out of pressure"
            ),
        ));
    }
    let evict_scan = match raw.evict_scan {
        None => d.evict_scan,
        Some(n @ 1..=4096) => n as u32,
        Some(n) => {
            return Err(ctx.err(
                "global.table_pressure.evict_scan",
                format!("slots examined per new connection must be 1..=4096, got {n}"),
            ))
        }
    };
    let syn_recv = match raw.syn_recv {
        None => d.syn_recv,
        Some(0) => {
            return Err(ctx.err(
                "global.table_pressure.syn_recv",
                "a timeout must be at least 1 second",
            ))
        }
        Some(v) if v > MAX_TIMEOUT_SECS => {
            return Err(ctx.err(
                "global.table_pressure.syn_recv",
                format!("{v} s is longer than the 31 days (2678400 s) ipvsadm allows"),
            ))
        }
        // Proven in range: v <= MAX_TIMEOUT_SECS < u32::MAX.
        Some(v) => u32::try_from(v).unwrap_or(u32::MAX),
    };
    Ok(TablePressure {
        evict: raw.evict.unwrap_or(d.evict),
        evict_scan,
        short_timeouts: raw.short_timeouts.unwrap_or(d.short_timeouts),
        enter_percent,
        leave_percent,
        syn_recv,
    })
}

fn resolve_tunables(raw: &RawGlobal, ctx: &Ctx<'_>) -> Result<Tunables> {
    let t = &raw.tunables;
    let d = Tunables::default();
    let conn_reuse_mode = match t.conn_reuse_mode {
        None => d.conn_reuse_mode,
        // ipvs-sysctl.rst: a bitmap of two bits (1 = reschedule when safe,
        // 2 = also for FIN_WAIT); nothing above 3 has a meaning.
        Some(v @ 0..=3) => v as u8,
        Some(v) => {
            return Err(ctx.err(
                "global.tunables.conn_reuse_mode",
                format!("must be 0..=3 (a bitmap of 1 and 2), got {v}"),
            ))
        }
    };
    Ok(Tunables {
        conn_reuse_mode,
        expire_nodest_conn: t.expire_nodest_conn.unwrap_or(d.expire_nodest_conn),
        expire_quiescent_template: t
            .expire_quiescent_template
            .unwrap_or(d.expire_quiescent_template),
        sloppy_tcp: t.sloppy_tcp.unwrap_or(d.sloppy_tcp),
        pmtu_disc: t.pmtu_disc.unwrap_or(d.pmtu_disc),
    })
}

pub(super) fn resolve_interfaces(raw: &[RawInterface], ctx: &Ctx<'_>) -> Result<Vec<Interface>> {
    let mut names: HashMap<&str, usize> = HashMap::new();
    let mut out = Vec::with_capacity(raw.len());
    for (i, iface) in raw.iter().enumerate() {
        let base = format!("interfaces[{i}]");
        let name = iface.name.as_str();
        // Linux dev_valid_name(): 1..IFNAMSIZ-1 bytes, no '/', ':' or whitespace.
        let valid_name = !name.is_empty()
            && name.len() <= 15
            && name != "."
            && name != ".."
            && !name
                .chars()
                .any(|c| c == '/' || c == ':' || c.is_whitespace());
        if !valid_name {
            return Err(ctx.err(
                format!("{base}.name"),
                format!(
                    "`{name}` is not a Linux interface name (1-15 bytes, no '/', ':' or spaces)"
                ),
            ));
        }
        if let Some(first) = names.insert(name, i) {
            return Err(ctx.err(
                format!("{base}.name"),
                format!("interface `{name}` is already defined by interfaces[{first}]"),
            ));
        }
        let addresses: Vec<IpNet> = iface.addresses.iter().map(|a| a.0).collect();

        let mtu = iface.mtu.unwrap_or(1500);
        let has_v6 = addresses.iter().any(|a| a.addr.is_ipv6());
        // RFC 791: every IPv4 link carries 68 bytes; RFC 8200 §5: IPv6 needs 1280.
        let min_mtu = if has_v6 { 1280 } else { 68 };
        if mtu < min_mtu || mtu > u64::from(u16::MAX) {
            return Err(ctx.err(
                format!("{base}.mtu"),
                format!("MTU must be {min_mtu}..=65535, got {mtu}"),
            ));
        }

        let queues = match &iface.queues {
            None => vec![0],
            Some(q) if q.is_empty() => {
                return Err(ctx.err(format!("{base}.queues"), "at least one NIC queue is needed"))
            }
            Some(q) => {
                for (j, queue) in q.iter().enumerate() {
                    if q[..j].contains(queue) {
                        return Err(ctx.err(
                            format!("{base}.queues[{j}]"),
                            format!("queue {queue} is listed twice"),
                        ));
                    }
                }
                q.clone()
            }
        };

        let gateway_v4 = iface.gateway_v4.map(|g| g.0);
        if let Some(gw) = gateway_v4 {
            if !addresses.iter().any(|net| net.contains(IpAddr::V4(gw))) {
                return Err(ctx.err(
                    format!("{base}.gateway_v4"),
                    format!("gateway {gw} is not in any IPv4 prefix of `{name}`; it could not be resolved with ARP"),
                ));
            }
        }
        let gateway_v6 = iface.gateway_v6.map(|g| g.0);
        if let Some(gw) = gateway_v6 {
            // Link-local routers (fe80::/10) are the usual IPv6 next hop and
            // are on-link by definition (RFC 4861 §4.2).
            let link_local = gw.segments()[0] & 0xffc0 == 0xfe80;
            if !link_local && !addresses.iter().any(|net| net.contains(IpAddr::V6(gw))) {
                return Err(ctx.err(
                    format!("{base}.gateway_v6"),
                    format!(
                        "gateway {gw} is neither link-local nor in any IPv6 prefix of `{name}`"
                    ),
                ));
            }
        }

        out.push(Interface {
            name: name.to_string(),
            mac: iface.mac.map(|m| m.0),
            addresses,
            gateway_v4,
            gateway_v6,
            mtu: u16::try_from(mtu).unwrap_or(u16::MAX), // range checked above
            queues,
            zero_copy: iface.zero_copy,
        });
    }
    Ok(out)
}

pub(super) fn resolve_pools(
    raw: &[RawPool],
    global: &Global,
    ctx: &Ctx<'_>,
) -> Result<Vec<LocalAddressPool>> {
    let mut names: HashMap<&str, usize> = HashMap::new();
    let mut out = Vec::with_capacity(raw.len());
    for (i, pool) in raw.iter().enumerate() {
        let base = format!("local_pools[{i}]");
        if pool.name.is_empty() {
            return Err(ctx.err(format!("{base}.name"), "a pool needs a name"));
        }
        if let Some(first) = names.insert(pool.name.as_str(), i) {
            return Err(ctx.err(
                format!("{base}.name"),
                format!(
                    "pool `{}` is already defined by local_pools[{first}]",
                    pool.name
                ),
            ));
        }
        if pool.addresses.is_empty() {
            return Err(ctx.err(
                format!("{base}.addresses"),
                "a FullNAT pool needs at least one local address",
            ));
        }
        let addresses: Vec<IpAddr> = pool.addresses.iter().map(|a| a.0).collect();
        for (j, addr) in addresses.iter().enumerate() {
            if addresses[..j].contains(addr) {
                return Err(ctx.err(
                    format!("{base}.addresses[{j}]"),
                    format!("{addr} is listed twice"),
                ));
            }
        }
        let range = pool.ports.map(|p| p.0).unwrap_or(NumRange {
            lo: 1024,
            hi: 65535,
        });
        let key = format!("{base}.ports");
        if range.lo == 0 || range.hi > 65535 {
            return Err(ctx.err(
                key,
                format!("ports must be 1..=65535, got {}-{}", range.lo, range.hi),
            ));
        }
        if range.lo > range.hi {
            return Err(ctx.err(
                key,
                format!(
                    "the port range {}-{} is empty (first port after last)",
                    range.lo, range.hi
                ),
            ));
        }
        // Each worker owns a disjoint slice of every local address's ports
        // (as DPVS's per-lcore sa_pool), so every worker needs at least one.
        let count = range.hi - range.lo + 1;
        if count < global.workers.len() as u64 {
            return Err(ctx.err(
                key,
                format!(
                    "{count} ports cannot be shared among {} workers; each worker needs its own ports",
                    global.workers.len()
                ),
            ));
        }
        out.push(LocalAddressPool {
            name: pool.name.clone(),
            addresses,
            // Both in 1..=65535, checked above.
            port_min: u16::try_from(range.lo).unwrap_or(1),
            port_max: u16::try_from(range.hi).unwrap_or(u16::MAX),
        });
    }
    Ok(out)
}
