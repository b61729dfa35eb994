//! `xvs-pktgen`: send fixed-size UDP datagrams (or TCP SYNs) from many
//! flows to one destination over AF_XDP, and report as JSON what was sent
//! and what arrived at the interfaces named with `--count-rx`.
//!
//! ```text
//! ip netns exec tpcl xvs-pktgen --dst-ip 198.18.0.100 --dst-port 9 \
//!     --dst-mac 02:..:.. --flows 1024 --size 64 --duration 10 --core 1 \
//!     --count-rx tprs1/eth0 --count-rx tprs2/eth0 --count-rx tprs3/eth0
//! ```
//!
//! Without `--dst-mac` the kernel resolves the next hop (one UDP datagram
//! sent the ordinary way triggers ARP; the answer is read from
//! /proc/net/arp). Without `--iface`/`--src-ip` the kernel's route to the
//! destination chooses them.

mod sys;
mod tx;

use std::net::Ipv4Addr;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Result};
use clap::Parser;
use xvs_pktgen::cpu::USER_HZ;
use xvs_pktgen::neigh::{format_mac, parse_mac};
use xvs_pktgen::{FlowSet, FrameSpec, JsonObject, Pacer, L4};

use crate::sys::IfaceRef;
use crate::tx::{Generator, TxConfig};

#[derive(Debug, Parser)]
#[command(
    name = "xvs-pktgen",
    about = "AF_XDP traffic generator for the xvs veth lab"
)]
struct Cli {
    /// Destination address (the VIP).
    #[arg(long)]
    dst_ip: Ipv4Addr,
    /// Destination port.
    #[arg(long, default_value_t = 9)]
    dst_port: u16,
    /// Destination MAC; resolved with ARP through the kernel when absent.
    #[arg(long, value_parser = mac_arg)]
    dst_mac: Option<[u8; 6]>,
    /// Interface to send on (default: the route's).
    #[arg(long)]
    iface: Option<String>,
    /// First source address (default: the route's source address).
    #[arg(long)]
    src_ip: Option<Ipv4Addr>,
    /// Consecutive source addresses the flows spread over.
    #[arg(long, default_value_t = 1)]
    src_ips: u32,
    /// First source port.
    #[arg(long, default_value_t = 1024)]
    src_port: u16,
    /// Distinct flows (source address × source port pairs).
    #[arg(long, default_value_t = 1024)]
    flows: u32,
    /// Ethernet frame size including the 4-byte FCS (pktgen/TRex convention).
    #[arg(long, default_value_t = 64)]
    size: usize,
    /// Send TCP SYNs instead of UDP datagrams.
    #[arg(long)]
    tcp: bool,
    /// Packets per second; 0 = flat out.
    #[arg(long, default_value_t = 0)]
    pps: u64,
    /// Seconds to send for.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// TX queues to send on, one AF_XDP socket each (spreads the load over
    /// the receiver's queues: a veth delivers on the RX queue of the TX
    /// queue's index).
    #[arg(long, default_value_t = 1)]
    queues: u32,
    /// Frames per TX burst.
    #[arg(long, default_value_t = 64)]
    batch: usize,
    /// Ring size (a power of two).
    #[arg(long, default_value_t = 2048)]
    ring: u32,
    /// UMEM frames (2 KiB each).
    #[arg(long, default_value_t = 4096)]
    frames: u32,
    /// Pin the generator to this core.
    #[arg(long)]
    core: Option<usize>,
    /// Count received packets on IFACE or NETNS/IFACE (repeatable): the
    /// difference of rx_packets across the run, minus background.
    #[arg(long = "count-rx")]
    count_rx: Vec<String>,
    /// Milliseconds to measure the background rate on the --count-rx
    /// interfaces before sending (0: assume none).
    #[arg(long, default_value_t = 1000)]
    background_ms: u64,
    /// Milliseconds to wait after the last frame before reading counters.
    #[arg(long, default_value_t = 300)]
    drain_ms: u64,
    /// A forwarder thread (TID) whose run time over the counting window is
    /// reported, with received packets per second of it (repeatable).
    #[arg(long = "cpu-of")]
    cpu_of: Vec<u32>,
    /// A core whose time by kind (user, system, softirq, ...) over the
    /// counting window is reported (repeatable).
    #[arg(long = "cpu-stat")]
    cpu_stat: Vec<usize>,
}

fn mac_arg(s: &str) -> Result<[u8; 6], String> {
    parse_mac(s).ok_or_else(|| format!("{s:?} is not a MAC address (aa:bb:cc:dd:ee:ff)"))
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xvs-pktgen: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn delta(after: &[u64], before: &[u64]) -> Vec<u64> {
    after
        .iter()
        .zip(before)
        .map(|(a, b)| a.saturating_sub(*b))
        .collect()
}

fn run(cli: Cli) -> Result<()> {
    if !(cli.duration > 0.0 && cli.duration.is_finite()) {
        return Err(anyhow!("--duration must be a positive number of seconds"));
    }
    if cli.batch == 0 || cli.queues == 0 {
        return Err(anyhow!("--batch and --queues must be at least 1"));
    }
    let route = sys::route_to(cli.dst_ip)?;
    let iface = cli.iface.clone().unwrap_or_else(|| route.dev.clone());
    let src = cli.src_ip.or(route.src).ok_or_else(|| {
        anyhow!(
            "the route to {} has no source address: give --src-ip",
            cli.dst_ip
        )
    })?;
    let dst_mac = match cli.dst_mac {
        Some(m) => m,
        None => sys::resolve_mac(cli.dst_ip, cli.dst_port, &route, Duration::from_secs(2))?,
    };
    let spec = FrameSpec {
        src_mac: sys::iface_mac(&iface)?,
        dst_mac,
        dst: cli.dst_ip,
        dport: cli.dst_port,
        l4: if cli.tcp { L4::TcpSyn } else { L4::Udp },
        size: cli.size,
    };
    let flows = FlowSet::new(src, cli.src_ips, cli.src_port, cli.flows)?;
    if let Some(id) = cli.core {
        if !core_affinity::set_for_current(core_affinity::CoreId { id }) {
            return Err(anyhow!("cannot pin to core {id}"));
        }
    }
    let cfg = TxConfig {
        queues: cli.queues,
        ring: cli.ring,
        frames: cli.frames,
        batch: cli.batch,
    };
    let mut generator = Generator::new(&iface, spec, flows, cfg)?;
    let counted: Vec<IfaceRef> = cli
        .count_rx
        .iter()
        .map(|s| IfaceRef::parse(s))
        .collect::<Result<_>>()?;
    let own = IfaceRef::parse(&iface)?;

    // Background: whatever else arrives on the counted interfaces (ARP,
    // neighbour discovery), as a rate to subtract.
    let mut bg_rate = 0.0;
    if !counted.is_empty() && cli.background_ms > 0 {
        let t0 = Instant::now();
        let b0 = sys::rx_packets(&counted)?;
        std::thread::sleep(Duration::from_millis(cli.background_ms));
        let b1 = sys::rx_packets(&counted)?;
        bg_rate = delta(&b1, &b0).iter().sum::<u64>() as f64 / t0.elapsed().as_secs_f64();
    }

    let tx0 = (own.stat("tx_packets")?, own.stat("tx_dropped")?);
    let cpu0 = sys::cpu_snapshot(&cli.cpu_of, &cli.cpu_stat)?;
    let t_rx0 = Instant::now();
    let rx0 = sys::rx_packets(&counted)?;
    let stats = generator.run(Duration::from_secs_f64(cli.duration), Pacer::new(cli.pps))?;
    std::thread::sleep(Duration::from_millis(cli.drain_ms));
    let rx1 = sys::rx_packets(&counted)?;
    let window = t_rx0.elapsed().as_secs_f64();
    let cpu1 = sys::cpu_snapshot(&cli.cpu_of, &cli.cpu_stat)?;
    let tx1 = (own.stat("tx_packets")?, own.stat("tx_dropped")?);

    let secs = stats.elapsed.as_secs_f64();
    let wire_tx = tx1.0.saturating_sub(tx0.0);
    let mut out = JsonObject::new()
        .string("iface", &iface)
        .string("dst", &format!("{}:{}", cli.dst_ip, cli.dst_port))
        .string("dst_mac", &format_mac(dst_mac))
        .string("l4", if cli.tcp { "tcp-syn" } else { "udp" })
        .uint("size", cli.size as u64)
        .uint("flows", u64::from(cli.flows))
        .uint("queues", u64::from(cli.queues))
        .uint("pps_target", cli.pps)
        .string(
            "mode",
            if generator.zero_copy() {
                "zero-copy"
            } else {
                "copy"
            },
        )
        .float("duration_s", secs, 3)
        .uint("sent", stats.completed)
        .uint("wire_tx", wire_tx)
        .uint("tx_dropped", tx1.1.saturating_sub(tx0.1))
        .uint("ring_full_rounds", stats.ring_full_rounds)
        .float("tx_pps", wire_tx as f64 / secs, 0);
    let mut rx_net = None;
    if !counted.is_empty() {
        let d = delta(&rx1, &rx0);
        let total: u64 = d.iter().sum();
        let background = bg_rate * window;
        let net = (total as f64 - background).max(0.0);
        let per_iface = counted
            .iter()
            .zip(&d)
            .fold(JsonObject::new(), |o, (i, n)| o.uint(&i.label(), *n));
        out = out
            .object("rx_by_iface", &per_iface)
            .uint("rx_total", total)
            .float("rx_background", background, 0)
            .float("rx_net", net, 0)
            .float("rx_pps", net / secs, 0)
            .float("delivered_ratio", net / wire_tx.max(1) as f64, 4);
        rx_net = Some(net);
    }
    out = out.float("window_s", window, 3);
    if !cli.cpu_of.is_empty() {
        let ns: u64 = delta(&cpu1.threads_ns, &cpu0.threads_ns).iter().sum();
        let secs = ns as f64 / 1e9;
        out = out.float("fwd_cpu_s", secs, 3);
        if let Some(net) = rx_net {
            out = out.float("rx_per_fwd_cpu_s", net / secs, 0);
        }
    }
    for (i, core) in cli.cpu_stat.iter().enumerate() {
        let d = cpu1.cores[i].since(&cpu0.cores[i]);
        let s = |ticks: u64| ticks as f64 / USER_HZ;
        let times = JsonObject::new()
            .float("user", s(d.user + d.nice), 2)
            .float("system", s(d.system), 2)
            .float("softirq", s(d.softirq + d.irq), 2)
            .float("idle", s(d.idle + d.iowait), 2)
            .float("steal", s(d.steal), 2);
        out = out.object(&format!("cpu{core}"), &times);
    }
    println!("{}", out.render());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counter_deltas_never_go_negative() {
        assert_eq!(delta(&[10, 5, 7], &[4, 6, 7]), vec![6, 0, 0]);
    }

    #[test]
    fn the_cli_takes_the_benchmark_settings() {
        let cli = Cli::try_parse_from([
            "xvs-pktgen",
            "--dst-ip",
            "198.18.0.100",
            "--dst-mac",
            "02:00:00:00:00:02",
            "--count-rx",
            "prs1/eth0",
            "--count-rx",
            "prs2/eth0",
            "--tcp",
        ])
        .unwrap();
        assert_eq!(cli.dst_mac, Some([2, 0, 0, 0, 0, 2]));
        assert_eq!(
            (cli.size, cli.flows, cli.pps, cli.dst_port),
            (64, 1024, 0, 9)
        );
        assert_eq!(cli.count_rx.len(), 2);
        assert!(cli.tcp);
        assert!(
            Cli::try_parse_from(["xvs-pktgen", "--dst-ip", "1.2.3.4", "--dst-mac", "x"]).is_err()
        );
    }
}
