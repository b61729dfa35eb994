//! keepalived's virtual-server and real-server health keys around the
//! checkers: inhibit_on_failure, notify_up/notify_down, quorum with
//! hysteresis and its scripts, the sorry server, omega, ha_suspend, and
//! xvs's slowstart (from HAProxy). Defaults as keepalived.conf(5): quorum
//! 1, hysteresis 0, sorry server weight 1 and the service's method,
//! ha_suspend off.

use std::collections::HashSet;
use std::net::IpAddr;

use super::script::resolve_script;
use super::service::{addr_port, family, method, method_word};
use super::{seconds, Ctx, Result};
use crate::health::{RealServerHealth, ServiceHealth, SorryServer};
use crate::model::{LocalAddressPool, RealServer, VirtualService};
use crate::raw::{RawRealServer, RawService};
use crate::types::ForwardMethod;

/// The health keys of real server `rs` of service `svc`.
pub(super) fn resolve_rs_health(
    rs: &RawRealServer,
    svc: &RawService,
    base: &str,
    ctx: &Ctx<'_>,
) -> Result<RealServerHealth> {
    let slowstart = match rs.slowstart.or(svc.slowstart) {
        None => None,
        Some(v) => {
            let key = if rs.slowstart.is_some() {
                format!("{base}.slowstart")
            } else {
                // Reported at the service, where it was written.
                base.rsplit_once(".real_servers")
                    .map_or(base.to_string(), |(s, _)| s.to_string())
                    + ".slowstart"
            };
            Some(seconds(v, &key, false, ctx)?)
        }
    };
    Ok(RealServerHealth {
        inhibit_on_failure: rs
            .inhibit_on_failure
            .or(svc.inhibit_on_failure)
            .unwrap_or(false),
        notify_up: rs
            .notify_up
            .as_ref()
            .map(|s| resolve_script(s, &format!("{base}.notify_up"), ctx))
            .transpose()?,
        notify_down: rs
            .notify_down
            .as_ref()
            .map(|s| resolve_script(s, &format!("{base}.notify_down"), ctx))
            .transpose()?,
        slowstart,
    })
}

/// The health keys of a service whose real servers are resolved.
pub(super) fn resolve_service_health(
    svc: &RawService,
    vip: IpAddr,
    port: u16,
    default_method: ForwardMethod,
    real_servers: &[RealServer],
    base: &str,
    ctx: &Ctx<'_>,
) -> Result<ServiceHealth> {
    let key = |k: &str| format!("{base}.{k}");
    let quorum = match svc.quorum {
        None => 1,
        Some(q) if q == 0 || q > u64::from(u32::MAX) => {
            return Err(ctx.err(
                key("quorum"),
                format!(
                    "quorum must be 1..={} (a sum of weights), got {q}",
                    u32::MAX
                ),
            ))
        }
        Some(q) => u32::try_from(q).unwrap_or(u32::MAX),
    };
    let hysteresis = match svc.hysteresis {
        None => 0,
        Some(h) if h >= u64::from(quorum) => {
            return Err(ctx.err(
                key("hysteresis"),
                format!("hysteresis {h} must be below the quorum {quorum} (keepalived would lower it to {})", quorum - 1),
            ))
        }
        Some(h) => u32::try_from(h).unwrap_or(0),
    };
    // Dynamic weights (MISC_CHECK misc_dynamic, FILE_CHECK) can raise a
    // real server above its configured weight, so only a fixed pool is
    // held to its total.
    let dynamic = real_servers.iter().flat_map(|r| &r.checkers).any(|c| {
        matches!(
            &c.kind,
            crate::health::HealthCheckKind::Misc(m) if m.dynamic
        ) || matches!(c.kind, crate::health::HealthCheckKind::File(_))
    });
    let total: u64 = real_servers.iter().map(|r| u64::from(r.weight)).sum();
    if svc.quorum.is_some() && !dynamic && u64::from(quorum) > total {
        return Err(ctx.err(
            key("quorum"),
            format!(
                "quorum {quorum} exceeds the total weight {total} of the real servers, so it could never be met"
            ),
        ));
    }
    let sorry_server = match &svc.sorry_server {
        None => None,
        Some(raw) => {
            let skey = key("sorry_server");
            let address = raw.address.0;
            if address.is_ipv4() != vip.is_ipv4() {
                return Err(ctx.err(
                    format!("{skey}.address"),
                    format!(
                        "sorry server {address} is {} but the VIP {vip} is {}",
                        family(address),
                        family(vip)
                    ),
                ));
            }
            let method = raw.method.map(method).unwrap_or(default_method);
            let sport = match (method, raw.port) {
                (_, None) => port,
                (ForwardMethod::Dr | ForwardMethod::Tun, Some(p)) if p != port => {
                    return Err(ctx.err(
                        format!("{skey}.port"),
                        format!(
                            "a {} sorry server must use the service port ({port}), got {p}",
                            method_word(method)
                        ),
                    ))
                }
                (_, Some(p)) => p,
            };
            let weight = raw.weight.unwrap_or(1);
            if weight > 65_535 {
                return Err(ctx.err(
                    format!("{skey}.weight"),
                    format!("weight must be 0..=65535, got {weight}"),
                ));
            }
            if let Some(j) = real_servers
                .iter()
                .position(|r| r.address == address && r.port == sport)
            {
                return Err(ctx.err(
                    skey,
                    format!(
                        "the sorry server {} is also real_servers[{j}]; a sorry server stands in for the real servers",
                        addr_port(address, sport)
                    ),
                ));
            }
            Some(SorryServer {
                address,
                port: sport,
                method,
                // Bounded by 65535 above.
                weight: u32::try_from(weight).unwrap_or(1),
                mac: raw.mac.map(|m| m.0),
            })
        }
    };
    if svc.sorry_server_inhibit == Some(true) && sorry_server.is_none() {
        return Err(ctx.err(
            key("sorry_server_inhibit"),
            "sorry_server_inhibit needs a sorry_server",
        ));
    }
    Ok(ServiceHealth {
        quorum,
        hysteresis,
        quorum_up: svc
            .quorum_up
            .as_ref()
            .map(|s| resolve_script(s, &key("quorum_up"), ctx))
            .transpose()?,
        quorum_down: svc
            .quorum_down
            .as_ref()
            .map(|s| resolve_script(s, &key("quorum_down"), ctx))
            .transpose()?,
        sorry_server,
        sorry_server_inhibit: svc.sorry_server_inhibit.unwrap_or(false),
        omega: svc.omega.unwrap_or(false),
        // Accepted on any service: one whose VIP is in no VRRP instance
        // is simply never suspended.
        ha_suspend: svc.ha_suspend.unwrap_or(false),
    })
}

/// A checker's `bindto` must be an address whose replies reach the
/// kernel: xvs takes every packet to a VIP or a FullNAT local address, so
/// a probe leaving from one would never see its answer.
pub(super) fn check_bindto(
    services: &[VirtualService],
    pools: &[LocalAddressPool],
    ctx: &Ctx<'_>,
) -> Result<()> {
    let vips: HashSet<IpAddr> = services.iter().map(|s| s.vip).collect();
    let locals: HashSet<IpAddr> = pools
        .iter()
        .flat_map(|p| p.addresses.iter().copied())
        .collect();
    for (i, svc) in services.iter().enumerate() {
        for (j, rs) in svc.real_servers.iter().enumerate() {
            for (k, check) in rs.checkers.iter().enumerate() {
                let Some(bind) = check.bindto else { continue };
                let what = if vips.contains(&bind) {
                    "a VIP"
                } else if locals.contains(&bind) {
                    "a FullNAT local address"
                } else {
                    continue;
                };
                let base = format!("services[{i}].real_servers[{j}].health");
                let listed = format!("{base}[{k}].bindto");
                let key = if ctx.index.get(&listed).is_some() {
                    listed
                } else {
                    format!("{base}.bindto")
                };
                return Err(ctx.err(
                    key,
                    format!(
                        "bindto {bind} is {what}: xvs takes every packet to it, so the probe's replies would never reach the checker; use one of the director's own addresses"
                    ),
                ));
            }
        }
    }
    Ok(())
}
