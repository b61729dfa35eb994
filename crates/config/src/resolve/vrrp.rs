//! `vrrp:` instances, with keepalived's defaults (keepalived.conf(5),
//! REFERENCE §8.4): priority 100, advert interval 1 s, initial state
//! BACKUP, preempt on with no delay, version 2 (3 for IPv6),
//! down_timer_adverts 3, the RFC 5798 pseudo-header in VRRPv3 IPv4
//! checksums, no VMAC, accept on, garp_master_delay 5 s,
//! garp_master_repeat 5, no garp refresh (1 announcement when set); and the
//! limits of RFC 3768 (VRRPv2) and RFC 5798 (VRRPv3). What an instance
//! tracks is in `vrrp_track`, sync groups in `vrrp_sync`.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Duration;

use super::script::resolve_vrrp_notify;
use super::service::family;
use super::vrrp_track::{first_weighted_tracker, resolve_track_interfaces, resolve_track_scripts};
use super::{seconds, Ctx, Result};
use crate::model::{Interface, IpNet};
use crate::raw::{HasVrrpNotify, RawVrrp, V3ChecksumText, VrrpStateText};
use crate::vrrp::{GarpSettings, V3Checksum, VrrpInstance, VrrpScript};

/// RFC 5798 §5.2.4: the priority of the router that owns the addresses.
const OWNER_PRIORITY: u8 = 255;
/// keepalived's TIMER_MAX_SEC: the longest preempt_delay it takes.
const MAX_PREEMPT_DELAY_SECS: f64 = 1000.0;
/// keepalived's VRRP_DOWN_TIMER_ADVERTS (the RFCs' 3) and its range.
const DEFAULT_DOWN_TIMER_ADVERTS: u64 = 3;
const DOWN_TIMER_ADVERTS_RANGE: std::ops::RangeInclusive<u64> = 1..=100;
/// keepalived takes any positive count of announcements per burst; xvs
/// caps a burst at 255 (an announcement per address each time).
const GARP_REPEAT_RANGE: std::ops::RangeInclusive<u64> = 1..=255;

pub(super) fn resolve_vrrp(
    raw: &[RawVrrp],
    interfaces: &[Interface],
    scripts: &[VrrpScript],
    ctx: &Ctx<'_>,
) -> Result<Vec<VrrpInstance>> {
    let mut names: HashMap<&str, usize> = HashMap::new();
    // (interface, vrid, is_ipv4) -> first instance index.
    let mut routers: HashMap<(&str, u8, bool), usize> = HashMap::new();
    let mut out = Vec::with_capacity(raw.len());
    for (i, inst) in raw.iter().enumerate() {
        let base = format!("vrrp[{i}]");
        if inst.name.is_empty() {
            return Err(ctx.err(format!("{base}.name"), "an instance needs a name"));
        }
        if let Some(first) = names.insert(inst.name.as_str(), i) {
            return Err(ctx.err(
                format!("{base}.name"),
                format!(
                    "instance `{}` is already defined by vrrp[{first}]",
                    inst.name
                ),
            ));
        }
        let resolved = resolve_instance(inst, &base, interfaces, scripts, ctx)?;
        let ipv4 = resolved
            .virtual_addresses
            .first()
            .is_some_and(|a| a.addr.is_ipv4());
        // RFC 5798 §7.3: IPv4 and IPv6 routers use different virtual MACs
        // (00-00-5E-00-01-VRID / 00-00-5E-00-02-VRID), so one VRID may serve
        // both families on a link; two of the same family would collide.
        if let Some(first) = routers.insert((inst.interface.as_str(), resolved.vrid, ipv4), i) {
            return Err(ctx.err(
                format!("{base}.vrid"),
                format!(
                    "VRID {} on `{}` is already used by vrrp[{first}] ({}) for {}",
                    resolved.vrid,
                    inst.interface,
                    raw[first].name,
                    if ipv4 { "IPv4" } else { "IPv6" }
                ),
            ));
        }
        out.push(resolved);
    }
    Ok(out)
}

fn resolve_instance(
    inst: &RawVrrp,
    base: &str,
    interfaces: &[Interface],
    scripts: &[VrrpScript],
    ctx: &Ctx<'_>,
) -> Result<VrrpInstance> {
    let key = |name: &str| format!("{base}.{name}");
    if inst.interface.is_empty() {
        return Err(ctx.err(key("interface"), "an instance needs an interface"));
    }
    if !interfaces.is_empty() && !interfaces.iter().any(|i| i.name == inst.interface) {
        let known: Vec<&str> = interfaces.iter().map(|i| i.name.as_str()).collect();
        return Err(ctx.err(
            key("interface"),
            format!(
                "unknown interface `{}` (interfaces: {})",
                inst.interface,
                known.join(", ")
            ),
        ));
    }
    let interface = interfaces.iter().find(|i| i.name == inst.interface);

    // RFC 5798 §5.2.3: VRID is 1..=255.
    let vrid = match inst.vrid {
        v @ 1..=255 => v as u8,
        v => {
            return Err(ctx.err(key("vrid"), format!("VRID must be 1..=255, got {v}")));
        }
    };
    let priority = match inst.priority.unwrap_or(100) {
        p @ 1..=255 => p as u8,
        // RFC 5798 §5.2.4: 0 is what a master sends when it gives up.
        0 => {
            return Err(ctx.err(
                key("priority"),
                "priority 0 is reserved (a master sends it to resign); use 1..=255",
            ))
        }
        p => {
            return Err(ctx.err(
                key("priority"),
                format!("priority must be 1..=255, got {p}"),
            ))
        }
    };
    let owner = priority == OWNER_PRIORITY;

    let virtual_addresses: Vec<IpNet> = inst.virtual_addresses.iter().map(|a| a.0).collect();
    let Some(first_vip) = virtual_addresses.first() else {
        return Err(ctx.err(
            key("virtual_addresses"),
            "an instance needs at least one virtual address",
        ));
    };
    let ipv4 = first_vip.addr.is_ipv4();
    // RFC 5798 §5.2.9: one virtual router carries one address family.
    if let Some(j) = virtual_addresses
        .iter()
        .position(|a| a.addr.is_ipv4() != ipv4)
    {
        return Err(ctx.err(
            format!("{base}.virtual_addresses[{j}]"),
            "an instance carries one address family; put IPv4 and IPv6 addresses in separate instances",
        ));
    }

    // keepalived: vrrp_version 2 by default, 3 for IPv6 (VRRPv2 is IPv4-only).
    let version = match inst.version {
        None if ipv4 => 2,
        None => 3,
        Some(2) if !ipv4 => {
            return Err(ctx.err(
                key("version"),
                "VRRPv2 (RFC 3768) is IPv4-only; IPv6 addresses need version 3",
            ))
        }
        Some(v @ (2 | 3)) => v as u8,
        Some(v) => return Err(ctx.err(key("version"), format!("version must be 2 or 3, got {v}"))),
    };

    let advert_interval =
        resolve_interval(inst.advert_interval.unwrap_or(1.0), version, base, ctx)?;

    let initial_master = inst.state == Some(VrrpStateText::Master);
    let preempt = inst.preempt.unwrap_or(true);
    // keepalived.conf(5): nopreempt only works when the initial state is BACKUP.
    if !preempt && initial_master {
        return Err(ctx.err(
            key("preempt"),
            "preempt: false needs state: backup (a node that starts as master preempts anyway)",
        ));
    }
    // RFC 5798 §6.1 (Preempt_Mode): the owner always preempts; keepalived
    // clears nopreempt on a priority-255 instance.
    if !preempt && owner {
        return Err(ctx.err(
            key("preempt"),
            "an address owner (priority 255) always preempts (RFC 5798 §6.1); remove preempt: false or lower the priority",
        ));
    }
    let preempt_delay = resolve_preempt_delay(inst, preempt, initial_master, base, ctx)?;

    let unicast_peers: Vec<IpAddr> = inst.unicast_peers.iter().map(|p| p.0).collect();
    if let Some(j) = unicast_peers.iter().position(|p| p.is_ipv4() != ipv4) {
        return Err(ctx.err(
            format!("{base}.unicast_peers[{j}]"),
            "unicast peers must have the same address family as the virtual addresses",
        ));
    }
    let source_address = match &inst.source_address {
        None => None,
        Some(addr) => Some(check_source_address(
            addr.0,
            ipv4,
            !unicast_peers.is_empty(),
            interface,
            &key("source_address"),
            ctx,
        )?),
    };

    let auth_pass = match &inst.auth_pass {
        None => None,
        Some(_) if version == 3 => {
            return Err(ctx.err(
                key("auth_pass"),
                "VRRPv3 has no authentication (RFC 5798 §9); remove auth_pass or use version 2",
            ))
        }
        Some(p) if p.is_empty() || p.len() > 8 => {
            return Err(ctx.err(
                key("auth_pass"),
                format!(
                    "the VRRPv2 password is 1 to 8 bytes (RFC 3768 §5.3.6.1), got {}",
                    p.len()
                ),
            ))
        }
        Some(p) => Some(p.clone()),
    };

    let down_timer_adverts = match inst.down_timer_adverts {
        None => DEFAULT_DOWN_TIMER_ADVERTS,
        Some(n) if DOWN_TIMER_ADVERTS_RANGE.contains(&n) => n,
        Some(n) => {
            return Err(ctx.err(
                key("down_timer_adverts"),
                format!("down_timer_adverts must be 1..=100 advert intervals (keepalived's range; the RFCs use 3), got {n}"),
            ))
        }
    };

    let v3_checksum = match inst.v3_checksum {
        None => V3Checksum::PseudoHeader,
        Some(_) if version == 2 => {
            return Err(ctx.err(
                key("v3_checksum"),
                "v3_checksum is for VRRPv3 over IPv4; VRRPv2 always sums the message alone (RFC 3768 §5.3.8)",
            ))
        }
        Some(_) if !ipv4 => {
            return Err(ctx.err(
                key("v3_checksum"),
                "v3_checksum is for VRRPv3 over IPv4; over IPv6 the checksum always covers the pseudo-header (RFC 5798 §5.2.8)",
            ))
        }
        Some(V3ChecksumText::PseudoHeader) => V3Checksum::PseudoHeader,
        Some(V3ChecksumText::MessageOnly) => V3Checksum::MessageOnly,
    };

    // RFC 5798 §6.1 (Accept_Mode) is about non-owners: the owner's
    // addresses are its own, and keepalived ignores no_accept for it.
    let accept = inst.accept.unwrap_or(true);
    if !accept && owner {
        return Err(ctx.err(
            key("accept"),
            "an address owner (priority 255) always accepts packets for its own addresses (RFC 5798 §6.1); remove accept: false or lower the priority",
        ));
    }

    let garp = resolve_garp(inst, base, ctx)?;
    let track_interfaces = resolve_track_interfaces(&inst.track_interfaces, base, ctx)?;
    let track_scripts = resolve_track_scripts(&inst.track_scripts, base, scripts, ctx)?;
    // keepalived (vrrp_complete_instance): an owner's priority never
    // moves, so it drops weighted trackers with only a log line.
    if owner {
        if let Some(weighted) = first_weighted_tracker(inst, base, &track_scripts, scripts) {
            return Err(ctx.err(
                weighted.key,
                format!(
                    "{}, but an address owner's priority (255) never changes: keepalived ignores weighted trackers on it. Use weight 0 (the instance goes to FAULT while the tracker fails) or a priority below 255",
                    weighted.what
                ),
            ));
        }
    }

    Ok(VrrpInstance {
        name: inst.name.clone(),
        interface: inst.interface.clone(),
        vrid,
        priority,
        version,
        advert_interval,
        initial_master,
        preempt,
        preempt_delay,
        virtual_addresses,
        unicast_peers,
        source_address,
        auth_pass,
        // Within 1..=100, checked above.
        down_timer_adverts: down_timer_adverts as u32,
        v3_checksum,
        use_vmac: inst.use_vmac.unwrap_or(false),
        accept,
        garp,
        track_interfaces,
        track_scripts,
        notify: resolve_vrrp_notify(&inst.notify_keys(), base, ctx)?,
    })
}

/// VRRPv2 carries whole seconds in 8 bits (RFC 3768 §5.3.7); VRRPv3
/// centiseconds in 12 bits (RFC 5798 §5.2.7).
fn resolve_interval(secs: f64, version: u8, base: &str, ctx: &Ctx<'_>) -> Result<Duration> {
    let key = format!("{base}.advert_interval");
    if !secs.is_finite() {
        return Err(ctx.err(key, "must be a number of seconds"));
    }
    if version == 2 {
        if secs.fract() != 0.0 || !(1.0..=255.0).contains(&secs) {
            return Err(ctx.err(
                key,
                format!("VRRPv2 adverts are whole seconds 1..=255, got {secs}"),
            ));
        }
        // Whole number in 1..=255, checked above.
        return Ok(Duration::from_secs(secs as u64));
    }
    let centis = (secs * 100.0).round();
    if (centis - secs * 100.0).abs() > 1e-6 || !(1.0..=4095.0).contains(&centis) {
        return Err(ctx.err(
            key,
            format!("VRRPv3 adverts are 0.01..=40.95 s in steps of 0.01 s, got {secs}"),
        ));
    }
    // Whole number in 1..=4095, checked above.
    Ok(Duration::from_millis(centis as u64 * 10))
}

/// keepalived.conf(5): 0..=1000 s; it delays a backup's preemption of a
/// lower-priority master, so it means nothing with nopreempt or for an
/// instance that starts as master (keepalived clears it in both cases).
fn resolve_preempt_delay(
    inst: &RawVrrp,
    preempt: bool,
    initial_master: bool,
    base: &str,
    ctx: &Ctx<'_>,
) -> Result<Duration> {
    let Some(secs) = inst.preempt_delay else {
        return Ok(Duration::ZERO);
    };
    let key = format!("{base}.preempt_delay");
    if !secs.is_finite() || !(0.0..=MAX_PREEMPT_DELAY_SECS).contains(&secs) {
        return Err(ctx.err(
            key,
            format!("preempt_delay must be 0..=1000 seconds (keepalived's limit), got {secs}"),
        ));
    }
    if secs > 0.0 && !preempt {
        return Err(ctx.err(
            key,
            "preempt_delay delays preemption, but preempt: false turns preemption off; remove one of them",
        ));
    }
    if secs > 0.0 && initial_master {
        return Err(ctx.err(
            key,
            "preempt_delay needs state: backup (keepalived ignores it for an instance that starts as master)",
        ));
    }
    // Finite and within 0..=1000, checked above.
    Ok(Duration::from_secs_f64(secs))
}

/// `source_address` (keepalived's unicast_src_ip / mcast_src_ip): one of
/// the interface's own addresses of the instance's family, since replies
/// and the RFC 5798 §6.4.3 tie-break use it.
fn check_source_address(
    addr: IpAddr,
    ipv4: bool,
    unicast: bool,
    interface: Option<&Interface>,
    key: &str,
    ctx: &Ctx<'_>,
) -> Result<IpAddr> {
    let want = if ipv4 { "IPv4" } else { "IPv6" };
    if addr.is_ipv4() != ipv4 {
        return Err(ctx.err(
            key,
            format!(
                "{addr} is an {} address, but the instance's virtual addresses are {want}",
                family(addr)
            ),
        ));
    }
    let usable = match addr {
        IpAddr::V4(a) => {
            !(a.is_unspecified() || a.is_multicast() || a.is_broadcast() || a.is_loopback())
        }
        IpAddr::V6(a) => !(a.is_unspecified() || a.is_multicast() || a.is_loopback()),
    };
    if !usable {
        return Err(ctx.err(
            key,
            format!(
                "{addr} cannot be the source of adverts; use a unicast address of the interface"
            ),
        ));
    }
    let link_local = |a: IpAddr| matches!(a, IpAddr::V6(v6) if v6.is_unicast_link_local());
    // RFC 5798 §5.1.2.1: multicast IPv6 adverts come from the link-local
    // address (keepalived accepts others only towards unicast peers).
    if !ipv4 && !unicast && !link_local(addr) {
        return Err(ctx.err(
            key,
            format!("{addr} is not link-local; multicast IPv6 adverts are sent from the interface's link-local (fe80::/10) address (RFC 5798 §5.1.2.1), or set unicast_peers"),
        ));
    }
    if let Some(iface) = interface {
        // Compare with the addresses the file lists of the same kind: an
        // IPv6 link-local address is rarely listed, so it is checked only
        // against listed link-local ones.
        let listed: Vec<IpAddr> = iface
            .addresses
            .iter()
            .map(|n| n.addr)
            .filter(|a| a.is_ipv4() == ipv4 && link_local(*a) == link_local(addr))
            .collect();
        if !listed.is_empty() && !listed.contains(&addr) {
            let shown: Vec<String> = listed.iter().map(IpAddr::to_string).collect();
            return Err(ctx.err(
                key,
                format!(
                    "{addr} is not an address of `{}` (its {want} addresses: {})",
                    iface.name,
                    shown.join(", ")
                ),
            ));
        }
    }
    Ok(addr)
}

/// keepalived's garp_master_* keys: announcements after becoming master
/// (a burst at once, another after the delay, then one every refresh).
fn resolve_garp(inst: &RawVrrp, base: &str, ctx: &Ctx<'_>) -> Result<GarpSettings> {
    let defaults = GarpSettings::default();
    let key = |name: &str| format!("{base}.{name}");
    let repeat = |value: Option<u64>, name: &str, default: u32| -> Result<u32> {
        match value {
            None => Ok(default),
            Some(n) if GARP_REPEAT_RANGE.contains(&n) => Ok(n as u32),
            Some(n) => Err(ctx.err(
                key(name),
                format!("{name} must be 1..=255 announcements per address, got {n}"),
            )),
        }
    };
    let master_delay = match inst.garp_master_delay {
        None => defaults.master_delay,
        Some(secs) => seconds(secs, &key("garp_master_delay"), true, ctx)?,
    };
    let master_refresh = match inst.garp_master_refresh {
        None => None,
        Some(secs) => {
            let every = seconds(secs, &key("garp_master_refresh"), true, ctx)?;
            (!every.is_zero()).then_some(every)
        }
    };
    if inst.garp_master_refresh_repeat.is_some() && master_refresh.is_none() {
        return Err(ctx.err(
            key("garp_master_refresh_repeat"),
            "garp_master_refresh_repeat has no effect without a garp_master_refresh interval; set one or remove it",
        ));
    }
    Ok(GarpSettings {
        master_delay,
        master_repeat: repeat(
            inst.garp_master_repeat,
            "garp_master_repeat",
            defaults.master_repeat,
        )?,
        master_refresh,
        master_refresh_repeat: repeat(
            inst.garp_master_refresh_repeat,
            "garp_master_refresh_repeat",
            defaults.master_refresh_repeat,
        )?,
    })
}
