//! `announce:`: BGP announcement of the VIPs through BIRD. Defaults match
//! config/bird-director.conf; see crate::announce for why each is what it is.

use std::collections::BTreeSet;
use std::net::IpAddr;

use super::{seconds, Ctx, Result};
use crate::announce::{
    Announce, DEFAULT_ANNOUNCE_DEVICE, DEFAULT_ANNOUNCE_PROTOCOL, DEFAULT_ANNOUNCE_TABLE,
    DEFAULT_DRAIN_TIME,
};
use crate::model::VirtualService;
use crate::raw::RawAnnounce;

/// Tables the kernel reserves (rtnetlink.h: unspec 0, compat 252,
/// default 253, main 254, local 255).
const RESERVED_TABLES: [u64; 5] = [0, 252, 253, 254, 255];

pub(super) fn resolve_announce(
    raw: &RawAnnounce,
    services: &[VirtualService],
    ctx: &Ctx<'_>,
) -> Result<Option<Announce>> {
    if raw.enabled == Some(false) {
        return Ok(None);
    }
    let device = raw
        .device
        .clone()
        .unwrap_or_else(|| DEFAULT_ANNOUNCE_DEVICE.to_string());
    if device.is_empty()
        || device.len() > 15
        || device
            .bytes()
            .any(|b| b == b'/' || b == b':' || b.is_ascii_whitespace())
    {
        return Err(ctx.err(
            "announce.device",
            format!("{device:?} is not an interface name (1 to 15 bytes, no '/', ':' or spaces)"),
        ));
    }
    let table = raw.table.unwrap_or(u64::from(DEFAULT_ANNOUNCE_TABLE));
    if RESERVED_TABLES.contains(&table) || table > u64::from(u32::MAX) {
        return Err(ctx.err(
            "announce.table",
            format!(
                "{table} is not a table of its own (0 and 252..=255 are the kernel's; at most {})",
                u32::MAX
            ),
        ));
    }
    let protocol = raw.protocol.unwrap_or(u64::from(DEFAULT_ANNOUNCE_PROTOCOL));
    // rtnetlink.h: 0..=4 are the kernel's own (unspec, redirect, kernel,
    // boot, static); BIRD's kernel protocol does not learn those.
    if !(5..=255).contains(&protocol) {
        return Err(ctx.err(
            "announce.protocol",
            format!("must be 5..=255 (0..=4 are the kernel's own), got {protocol}"),
        ));
    }
    let drain_time = match raw.drain_time {
        None => DEFAULT_DRAIN_TIME,
        Some(s) => seconds(s, "announce.drain_time", true, ctx)?,
    };
    let service_vips: BTreeSet<IpAddr> = services.iter().map(|s| s.vip).collect();
    let vips = match &raw.vips {
        None => service_vips.into_iter().collect(),
        Some(list) => {
            let mut seen = BTreeSet::new();
            for (k, v) in list.iter().enumerate() {
                let key = format!("announce.vips[{k}]");
                if !service_vips.contains(&v.0) {
                    return Err(ctx.err(key, format!("{} is not the VIP of a service", v.0)));
                }
                if !seen.insert(v.0) {
                    return Err(ctx.err(key, format!("{} is listed twice", v.0)));
                }
            }
            seen.into_iter().collect()
        }
    };
    Ok(Some(Announce {
        device,
        table: table as u32,
        protocol: protocol as u8,
        drain_time,
        vips,
    }))
}
