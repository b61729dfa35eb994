//! `vrrp:` instances, with keepalived's defaults (priority 100, advert
//! interval 1 s, preempt on, initial state BACKUP, version 2 or 3 for
//! IPv6) and the limits of RFC 3768 (VRRPv2) and RFC 5798 (VRRPv3).

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Duration;

use super::{Ctx, Result};
use crate::model::{Interface, IpNet};
use crate::vrrp::{GarpSettings, V3Checksum, VrrpInstance, VrrpNotify};
use crate::raw::{RawVrrp, VrrpStateText};

pub(super) fn resolve_vrrp(
    raw: &[RawVrrp],
    interfaces: &[Interface],
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
        let resolved = resolve_instance(inst, &base, interfaces, ctx)?;
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
    ctx: &Ctx<'_>,
) -> Result<VrrpInstance> {
    if inst.interface.is_empty() {
        return Err(ctx.err(
            format!("{base}.interface"),
            "an instance needs an interface",
        ));
    }
    if !interfaces.is_empty() && !interfaces.iter().any(|i| i.name == inst.interface) {
        let known: Vec<&str> = interfaces.iter().map(|i| i.name.as_str()).collect();
        return Err(ctx.err(
            format!("{base}.interface"),
            format!(
                "unknown interface `{}` (interfaces: {})",
                inst.interface,
                known.join(", ")
            ),
        ));
    }

    // RFC 5798 §5.2.3: VRID is 1..=255.
    let vrid = match inst.vrid {
        v @ 1..=255 => v as u8,
        v => {
            return Err(ctx.err(
                format!("{base}.vrid"),
                format!("VRID must be 1..=255, got {v}"),
            ))
        }
    };
    let priority = match inst.priority.unwrap_or(100) {
        p @ 1..=255 => p as u8,
        // RFC 5798 §5.2.4: 0 is what a master sends when it gives up.
        0 => {
            return Err(ctx.err(
                format!("{base}.priority"),
                "priority 0 is reserved (a master sends it to resign); use 1..=255",
            ))
        }
        p => {
            return Err(ctx.err(
                format!("{base}.priority"),
                format!("priority must be 1..=255, got {p}"),
            ))
        }
    };

    let virtual_addresses: Vec<IpNet> = inst.virtual_addresses.iter().map(|a| a.0).collect();
    let Some(first_vip) = virtual_addresses.first() else {
        return Err(ctx.err(
            format!("{base}.virtual_addresses"),
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
                format!("{base}.version"),
                "VRRPv2 (RFC 3768) is IPv4-only; IPv6 addresses need version 3",
            ))
        }
        Some(v @ (2 | 3)) => v as u8,
        Some(v) => {
            return Err(ctx.err(
                format!("{base}.version"),
                format!("version must be 2 or 3, got {v}"),
            ))
        }
    };

    let advert_interval =
        resolve_interval(inst.advert_interval.unwrap_or(1.0), version, base, ctx)?;

    let initial_master = inst.state == Some(VrrpStateText::Master);
    let preempt = inst.preempt.unwrap_or(true);
    // keepalived.conf(5): nopreempt only works when the initial state is BACKUP.
    if !preempt && initial_master {
        return Err(ctx.err(
            format!("{base}.preempt"),
            "preempt: false needs state: backup (a node that starts as master preempts anyway)",
        ));
    }

    let unicast_peers: Vec<IpAddr> = inst.unicast_peers.iter().map(|p| p.0).collect();
    if let Some(j) = unicast_peers.iter().position(|p| p.is_ipv4() != ipv4) {
        return Err(ctx.err(
            format!("{base}.unicast_peers[{j}]"),
            "unicast peers must have the same address family as the virtual addresses",
        ));
    }

    let auth_pass = match &inst.auth_pass {
        None => None,
        Some(_) if version == 3 => {
            return Err(ctx.err(
                format!("{base}.auth_pass"),
                "VRRPv3 has no authentication (RFC 5798 §9); remove auth_pass or use version 2",
            ))
        }
        Some(p) if p.is_empty() || p.len() > 8 => {
            return Err(ctx.err(
                format!("{base}.auth_pass"),
                format!(
                    "the VRRPv2 password is 1 to 8 bytes (RFC 3768 §5.3.6.1), got {}",
                    p.len()
                ),
            ))
        }
        Some(p) => Some(p.clone()),
    };

    Ok(VrrpInstance {
        name: inst.name.clone(),
        interface: inst.interface.clone(),
        vrid,
        priority,
        version,
        advert_interval,
        initial_master,
        preempt,
        preempt_delay: Duration::ZERO,
        virtual_addresses,
        unicast_peers,
        source_address: None,
        auth_pass,
        down_timer_adverts: 3,
        v3_checksum: V3Checksum::PseudoHeader,
        use_vmac: false,
        accept: true,
        garp: GarpSettings::default(),
        track_interfaces: Vec::new(),
        track_scripts: Vec::new(),
        notify: VrrpNotify::default(),
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
