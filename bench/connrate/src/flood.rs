//! `conn-rate flood` (bench layer): what a spoofed SYN flood at the
//! generator's full rate (`xvs-pktgen --tcp`, AF_XDP) does to an xvs NAT
//! director with a small table: the throughput of long-lived streams and
//! the success of real clients opening connections at a steady rate,
//! before, during and after the flood, with the table's defences on
//! (the `global.table_pressure` defaults), with the SYN proxy on as well,
//! and with both off; all in one run, on one lab.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::Args;
use xvs_connrate_bench::client::{LoadReport, StreamReport};
use xvs_lab::{Method, DEFAULT_VIP4};

use crate::rig::{self, Cores, Rig, XvsOptions, PORT};

#[derive(Debug, Args)]
pub struct FloodArgs {
    #[arg(long, default_value = "target/release/xvs")]
    xvs: PathBuf,
    #[arg(long, default_value = "target/release/xvs-pktgen")]
    pktgen: PathBuf,
    /// Seconds of traffic before the flood.
    #[arg(long, default_value_t = 3)]
    before: u64,
    /// Seconds of flood.
    #[arg(long, default_value_t = 5)]
    flood: u64,
    /// Seconds of traffic after the flood.
    #[arg(long, default_value_t = 5)]
    after: u64,
    /// Long-lived streams through the director.
    #[arg(long, default_value_t = 2)]
    streams: usize,
    /// New connections per second of the real clients.
    #[arg(long, default_value_t = 200)]
    client_rate: u64,
    /// The director's connection table (small, so that a flood fills it).
    #[arg(long, default_value_t = 4096)]
    conn_capacity: usize,
    /// Configurations, in order: defences, synproxy, off.
    #[arg(long, value_delimiter = ',', default_value = "defences,synproxy,off")]
    configs: Vec<String>,
    #[arg(long, default_value_t = 0)]
    director_core: usize,
    #[arg(long, default_value_t = 1)]
    load_core: usize,
    /// Where the results go (markdown); "-" for stdout only.
    #[arg(long, default_value = "bench/connflood.md")]
    out: String,
}

#[derive(Debug)]
struct Outcome {
    config: String,
    streams: StreamReport,
    clients: LoadReport,
    flood: serde_json::Value,
    entries_in_flood: f64,
    evictions: f64,
    synproxy_syn_acks: f64,
    /// Frames the director's sockets could not take (it fell behind).
    xsk_rx_dropped: f64,
    /// Frames the pipeline dropped, all reasons.
    dropped: f64,
    /// The drop and eviction counters by reason.
    reasons: Vec<String>,
}

fn options(config: &str, capacity: usize) -> Result<XvsOptions> {
    let (defences, synproxy) = match config {
        "defences" => (true, false),
        "synproxy" => (true, true),
        "off" => (false, false),
        other => bail!("unknown configuration {other} (defences, synproxy, off)"),
    };
    Ok(XvsOptions {
        idle: "busy",
        conn_capacity: capacity,
        defences,
        synproxy,
    })
}

pub fn run(a: &FloodArgs) -> Result<()> {
    if let Some(reason) = xvs_lab::missing_capability() {
        bail!("the lab cannot run here: {reason}");
    }
    let xvs = a.xvs.canonicalize().context("the xvs binary")?;
    let pktgen = a.pktgen.canonicalize().context("the xvs-pktgen binary")?;
    for c in &a.configs {
        options(c, a.conn_capacity)?;
    }
    let cores = Cores {
        director: a.director_core,
        load: a.load_core,
    };
    let rig = Rig::build(Method::Nat, cores)?;
    let mut outcomes = Vec::new();
    for config in &a.configs {
        outcomes.push(one(&rig, &xvs, &pktgen, a, config)?);
    }
    let doc = report(a, &outcomes);
    println!("{doc}");
    if a.out != "-" {
        std::fs::write(&a.out, &doc).with_context(|| a.out.clone())?;
    }
    Ok(())
}

fn one(
    rig: &Rig,
    xvs: &std::path::Path,
    pktgen: &std::path::Path,
    a: &FloodArgs,
    config: &str,
) -> Result<Outcome> {
    let o = options(config, a.conn_capacity)?;
    let director = rig::start_xvs(rig, xvs, &o)?;
    let warm = rig.load(0.3, 4, 0)?;
    if warm.completed + warm.completed_late == 0 {
        bail!(
            "no connection through the director ({warm:?}):\n{}",
            director.log()
        );
    }
    let total = (a.before + a.flood + a.after) as f64;
    let mut streams = rig.spawn_client(&rig.streams_args(total, a.streams))?;
    let mut clients = rig.spawn_client(&rig.load_args(total, 64, a.client_rate))?;
    std::thread::sleep(Duration::from_secs(a.before));
    let mac = rig
        .lab
        .mac(&rig.lab.ns_director(), &rig.lab.director_ifaces().0)?;
    let mac = mac.map(|b| format!("{b:02x}")).join(":");
    // Spoofed sources: 4,096 addresses of 10.0.0.0/8 (no route back from
    // the director), 256 ports each, so every SYN is a new flow.
    let flood = rig.lab.exec(
        &rig.lab.ns_client(),
        &[
            &pktgen.to_string_lossy(),
            "--tcp",
            "--dst-ip",
            &DEFAULT_VIP4.to_string(),
            "--dst-port",
            &PORT.to_string(),
            "--dst-mac",
            &mac,
            "--iface",
            "eth0",
            "--src-ip",
            "10.1.0.1",
            "--src-ips",
            "4096",
            "--flows",
            "1048576",
            "--duration",
            &a.flood.to_string(),
            "--core",
            &a.load_core.to_string(),
            "--background-ms",
            "0",
            "--drain-ms",
            "0",
        ],
    )?;
    let entries_in_flood = rig::xvs_metric(rig, xvs, "xvs_conn_entries");
    let flood: serde_json::Value = serde_json::from_slice(&flood.stdout)
        .with_context(|| String::from_utf8_lossy(&flood.stdout).into_owned())?;
    let streams = rig::streams_of(&mut streams)?;
    let clients = rig::load_of(&mut clients)?;
    let evictions = rig::xvs_metric(rig, xvs, "xvs_conn_evictions_total");
    let synproxy_syn_acks = rig::xvs_metric(rig, xvs, "xvs_synproxy_syn_acks_total");
    let xsk_rx_dropped = rig::xvs_metric(rig, xvs, "xvs_xsk_rx_dropped_total");
    let dropped = rig::xvs_metric(rig, xvs, "xvs_dropped_packets_total");
    let mut reasons = rig::xvs_metric_lines(rig, xvs, "xvs_dropped_packets_total");
    reasons.extend(rig::xvs_metric_lines(rig, xvs, "xvs_conn_evictions_total"));
    drop(director);
    eprintln!(
        "conn-flood: {config}: flood {:.0} SYN/s, streams {} bytes, clients {}/{} completed",
        flood["tx_pps"].as_f64().unwrap_or(0.0),
        streams.acked_bytes,
        clients.completed + clients.completed_late,
        clients.opened
    );
    if streams.connected == 0 {
        bail!("no stream connected: {:?}", streams.first_error);
    }
    Ok(Outcome {
        config: config.to_owned(),
        streams,
        clients,
        flood,
        entries_in_flood,
        evictions,
        synproxy_syn_acks,
        xsk_rx_dropped,
        dropped,
        reasons,
    })
}

/// Sum of `f` over the seconds in `range` (clamped to what exists).
fn over<T: Copy>(v: &[T], range: std::ops::Range<u64>, f: impl Fn(T) -> (u64, u64)) -> (u64, u64) {
    v.iter()
        .enumerate()
        .filter(|(i, _)| range.contains(&(*i as u64)))
        .map(|(_, x)| f(*x))
        .fold((0, 0), |(a, b), (x, y)| (a + x, b + y))
}

fn report(a: &FloodArgs, outcomes: &[Outcome]) -> String {
    let before = 0..a.before;
    let during = a.before..a.before + a.flood;
    let after = a.before + a.flood..a.before + a.flood + a.after;
    let mut t = String::from(
        "| Configuration | Flood, SYN/s sent | Table entries in the flood | Evictions | SYN proxy SYN-ACKs | Frames the director dropped / its sockets missed | Streams before, Mbit/s | during | after | Clients' connections completed before | during | after | of which slow (> 1 s) |\n|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    let pct = |(opened, done): (u64, u64)| {
        if opened == 0 {
            "—".to_owned()
        } else {
            format!("{:.1} % of {opened}", 100.0 * done as f64 / opened as f64)
        }
    };
    for o in outcomes {
        let mbit = |r: std::ops::Range<u64>| {
            let (bytes, secs) = over(&o.streams.per_second, r, |b| (b, 1));
            if secs == 0 {
                "—".to_owned()
            } else {
                format!("{:.0}", bytes as f64 * 8.0 / 1e6 / secs as f64)
            }
        };
        let name = match o.config.as_str() {
            "defences" => "defences on (table_pressure defaults)",
            "synproxy" => "defences on + SYN proxy",
            _ => "defences off (evict, short_timeouts: false)",
        };
        t.push_str(&format!(
            "| {name} | {:.0} | {:.0} | {:.0} | {:.0} | {:.0} / {:.0} | {} | {} | {} | {} | {} | {} | {} |\n",
            o.flood["tx_pps"].as_f64().unwrap_or(f64::NAN),
            o.entries_in_flood,
            o.evictions,
            o.synproxy_syn_acks,
            o.dropped,
            o.xsk_rx_dropped,
            mbit(before.clone()),
            mbit(during.clone()),
            mbit(after.clone()),
            pct(over(&o.clients.per_second, before.clone(), |p| p)),
            pct(over(&o.clients.per_second, during.clone(), |p| p)),
            pct(over(&o.clients.per_second, after.clone(), |p| p)),
            o.clients.slow,
        ));
    }
    let mut raw = String::new();
    for o in outcomes {
        raw.push_str(&format!(
            "{} streams: {}\n{} clients: {}\n{} flood: {}\n{} counters: {}\n",
            o.config,
            o.streams.to_json(),
            o.config,
            o.clients.to_json(),
            o.config,
            o.flood,
            o.config,
            o.reasons.join(", ")
        ));
    }
    format!(
        "# Streams and new connections under a SYN flood\n\n\
Measured with\n\n    sudo target/release/conn-rate flood --before {} --flood {} --after {} --streams {} --client-rate {} --conn-capacity {}\n\n\
An xvs NAT director (one busy-polling worker on core {}, a {}-entry table) with {} long-lived streams \
and real clients opening {} connections a second (the short exchange of `conn-rate rate`, 3 s \
timeout) for {} s; after {} s, `xvs-pktgen --tcp` sends spoofed SYNs to the VIP's port flat out for \
{} s, from 4,096 addresses of 10.1.0.0/16 with 256 ports each, on core {} with the clients and real servers. \
Table entries are read at the end of the flood; clients are counted by the second they opened in. \
See bench/README.md, \"Under a SYN flood\".\n\n{t}\n## Raw results\n\n```\n{raw}```\n",
        a.before,
        a.flood,
        a.after,
        a.streams,
        a.client_rate,
        a.conn_capacity,
        a.director_core,
        a.conn_capacity,
        a.streams,
        a.client_rate,
        a.before + a.flood + a.after,
        a.before,
        a.flood,
        a.load_core,
    )
}

#[cfg(test)]
mod tests {
    use super::over;

    #[test]
    fn windows_sum_the_seconds_they_cover() {
        let v = [(10, 9), (10, 10), (10, 2), (10, 0), (10, 10)];
        assert_eq!(over(&v, 0..2, |p| p), (20, 19));
        assert_eq!(over(&v, 2..4, |p| p), (20, 2));
        assert_eq!(over(&v, 4..9, |p| p), (10, 10), "clamped to what exists");
    }
}
