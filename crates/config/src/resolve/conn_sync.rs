//! `sync:`: connection sync with other directors. IPVS's defaults where it
//! has them (port 8848, SyncID 0); the peers are always listed, since they
//! are also the filter that keeps anyone else's datagrams out.

use std::collections::HashSet;
use std::net::IpAddr;
use std::time::Duration;

use super::service::family;
use super::{seconds, Ctx, Result};
use crate::conn_sync::{ConnSync, SyncMode, DEFAULT_SYNC_PORT};
use crate::model::Interface;
use crate::raw::{RawConnSync, SyncModeText};

const DEFAULT_REFRESH_SECS: f64 = 30.0;
const DEFAULT_MAX_DELAY_SECS: f64 = 0.02;
const DEFAULT_SWEEP_SECS: f64 = 1.0;
const DEFAULT_BULK_TIMEOUT_SECS: f64 = 2.0;
const DEFAULT_BULK_ATTEMPTS: u64 = 3;
const DEFAULT_QUEUE: u64 = 16_384;
const QUEUE_RANGE: std::ops::RangeInclusive<u64> = 64..=1 << 22;

pub(super) fn resolve_sync(
    raw: &RawConnSync,
    interfaces: &[Interface],
    ctx: &Ctx<'_>,
) -> Result<ConnSync> {
    let Some(iface) = interfaces.iter().find(|i| i.name == raw.interface) else {
        let known: Vec<&str> = interfaces.iter().map(|i| i.name.as_str()).collect();
        return Err(ctx.err(
            "sync.interface",
            format!(
                "unknown interface `{}` (interfaces: {})",
                raw.interface,
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            ),
        ));
    };
    if raw.peers.is_empty() {
        return Err(ctx.err(
            "sync.peers",
            "list the other directors: sync datagrams from anyone else are dropped",
        ));
    }
    let own: HashSet<IpAddr> = interfaces
        .iter()
        .flat_map(|i| i.addresses.iter().map(|n| n.addr))
        .collect();
    let mut peers = Vec::with_capacity(raw.peers.len());
    for (k, p) in raw.peers.iter().enumerate() {
        let key = format!("sync.peers[{k}]");
        let addr = p.0;
        if addr.is_unspecified() || addr.is_multicast() {
            return Err(ctx.err(key, format!("{addr} is not a director's address")));
        }
        if own.contains(&addr) {
            return Err(ctx.err(key, format!("{addr} is this director's own address")));
        }
        if let Some(first) = peers.iter().position(|&q| q == addr) {
            return Err(ctx.err(key, format!("{addr} is already listed at peers[{first}]")));
        }
        if let Some(&first) = peers.first() {
            let first: IpAddr = first;
            if first.is_ipv4() != addr.is_ipv4() {
                return Err(ctx.err(
                    key,
                    format!(
                        "{addr} is {}, peers[0] {}: the peers share one family",
                        family(addr),
                        family(first)
                    ),
                ));
            }
        }
        peers.push(addr);
    }
    let v4 = peers[0].is_ipv4();
    let group = match &raw.group {
        None => None,
        Some(g) => {
            let g = g.0;
            if !g.is_multicast() || g.is_ipv4() != v4 {
                return Err(ctx.err(
                    "sync.group",
                    format!(
                        "{g} is not an {} multicast group (IPVS uses 224.0.0.81)",
                        family(peers[0])
                    ),
                ));
            }
            Some(g)
        }
    };
    let source = match &raw.source_address {
        Some(s) => {
            if !iface.addresses.iter().any(|n| n.addr == s.0) {
                return Err(ctx.err(
                    "sync.source_address",
                    format!("{} is not an address of `{}`", s.0, iface.name),
                ));
            }
            if s.0.is_ipv4() != v4 {
                return Err(ctx.err(
                    "sync.source_address",
                    format!("{} is not of the peers' family ({})", s.0, family(peers[0])),
                ));
            }
            s.0
        }
        None => iface
            .addresses
            .iter()
            .map(|n| n.addr)
            .find(|a| a.is_ipv4() == v4)
            .ok_or_else(|| {
                ctx.err(
                    "sync.interface",
                    format!(
                        "`{}` has no {} address to send sync datagrams from",
                        iface.name,
                        family(peers[0])
                    ),
                )
            })?,
    };
    let port = match raw.port {
        None => DEFAULT_SYNC_PORT,
        Some(p) => u16::try_from(p)
            .ok()
            .filter(|&p| p != 0)
            .ok_or_else(|| ctx.err("sync.port", format!("must be 1..=65535, got {p}")))?,
    };
    let sync_id = match raw.sync_id {
        None => 0,
        Some(v) => u8::try_from(v)
            .map_err(|_| ctx.err("sync.sync_id", format!("must be 0..=255, got {v}")))?,
    };
    let refresh = seconds(
        raw.refresh.unwrap_or(DEFAULT_REFRESH_SECS),
        "sync.refresh",
        true,
        ctx,
    )?;
    let max_delay = seconds(
        raw.max_delay.unwrap_or(DEFAULT_MAX_DELAY_SECS),
        "sync.max_delay",
        false,
        ctx,
    )?;
    if max_delay > Duration::from_secs(2) {
        return Err(ctx.err(
            "sync.max_delay",
            "at most 2 seconds (IPVS flushes a partial buffer after 2 s)",
        ));
    }
    let sweep_interval = seconds(
        raw.sweep_interval.unwrap_or(DEFAULT_SWEEP_SECS),
        "sync.sweep_interval",
        false,
        ctx,
    )?;
    if sweep_interval < Duration::from_millis(100) {
        return Err(ctx.err("sync.sweep_interval", "at least 0.1 seconds"));
    }
    let bulk_timeout = seconds(
        raw.bulk_timeout.unwrap_or(DEFAULT_BULK_TIMEOUT_SECS),
        "sync.bulk_timeout",
        false,
        ctx,
    )?;
    let bulk_attempts = raw.bulk_attempts.unwrap_or(DEFAULT_BULK_ATTEMPTS);
    if !(1..=100).contains(&bulk_attempts) {
        return Err(ctx.err(
            "sync.bulk_attempts",
            format!("must be 1..=100, got {bulk_attempts}"),
        ));
    }
    let queue = raw.queue.unwrap_or(DEFAULT_QUEUE);
    if !QUEUE_RANGE.contains(&queue) {
        return Err(ctx.err(
            "sync.queue",
            format!(
                "must be {}..={}, got {queue}",
                QUEUE_RANGE.start(),
                QUEUE_RANGE.end()
            ),
        ));
    }
    Ok(ConnSync {
        interface: iface.name.clone(),
        peers,
        group,
        port,
        sync_id,
        source,
        refresh,
        max_delay,
        sweep_interval,
        bulk: raw.bulk.unwrap_or(true),
        bulk_timeout,
        // ≤ 100 and ≤ 2^22, checked above.
        bulk_attempts: bulk_attempts as u32,
        queue: queue as usize,
        mode: match raw.mode {
            None | Some(SyncModeText::MasterBackup) => SyncMode::MasterBackup,
            Some(SyncModeText::AllToAll) => SyncMode::AllToAll,
        },
    })
}
