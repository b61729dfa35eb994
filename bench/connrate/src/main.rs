//! `conn-rate`: new TCP connections per second through a director on the
//! veth lab, xvs NAT against kernel nftables DNAT and HAProxy in TCP mode,
//! per second and per CPU-second of the director's core; and (`flood`)
//! established throughput and real clients' connection success under a
//! spoofed SYN flood, with xvs's defences on and off.
//!
//! ```text
//! cargo build --release -p xvs -p xvs-pktgen -p xvs-connrate-bench
//! sudo target/release/conn-rate rate --seconds 5 --rounds 3
//! sudo target/release/conn-rate flood --seconds 12
//! ```
//!
//! The other subcommands are the traffic ends the runs start in the lab's
//! namespaces: `serve` (the real servers), `load` (the short connections),
//! `streams` (long-lived streams). Method: bench/README.md, "New
//! connections".

mod flood;
mod rate;
mod rig;

use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use xvs_connrate_bench::client::{run_load, run_streams, LoadSpec, StreamSpec};
use xvs_connrate_bench::server::{Server, ServerStats};

#[derive(Debug, Parser)]
#[command(
    name = "conn-rate",
    about = "New TCP connections per second through a director, in the lab"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// New connections per second: xvs, nftables and HAProxy, interleaved.
    Rate(rate::RateArgs),
    /// Streams and new connections under a SYN flood, defences on and off.
    Flood(flood::FloodArgs),
    /// (In the lab) a real server: answers short connections, sinks streams.
    Serve {
        #[arg(long)]
        listen: SocketAddrV4,
        #[arg(long)]
        sink_port: Option<u16>,
        #[arg(long)]
        core: Option<usize>,
    },
    /// (In the lab) the short-connection generator; prints a JSON report.
    Load {
        #[arg(long)]
        target: SocketAddrV4,
        #[arg(long = "source", required = true)]
        sources: Vec<Ipv4Addr>,
        #[arg(long, default_value_t = 64)]
        concurrency: usize,
        #[arg(long, default_value_t = 5.0)]
        seconds: f64,
        #[arg(long, default_value_t = 3.0)]
        timeout: f64,
        /// Connections per second at most; 0 = as fast as they complete.
        #[arg(long, default_value_t = 0)]
        rate: u64,
        #[arg(long)]
        core: Option<usize>,
    },
    /// (In the lab) long-lived streams; prints a JSON report.
    Streams {
        #[arg(long)]
        target: SocketAddrV4,
        #[arg(long)]
        source: Ipv4Addr,
        #[arg(long, default_value_t = 2)]
        streams: usize,
        #[arg(long, default_value_t = 10.0)]
        seconds: f64,
        #[arg(long)]
        core: Option<usize>,
    },
}

/// Default paths of the programs under test.
pub fn default_xvs() -> PathBuf {
    PathBuf::from("target/release/xvs")
}

fn pin(core: Option<usize>) -> Result<()> {
    if let Some(c) = core {
        xvs_connrate_bench::pin_to(c).with_context(|| format!("pinning to core {c}"))?;
    }
    Ok(())
}

fn main() -> Result<()> {
    match Cli::parse().cmd {
        Cmd::Rate(a) => rate::run(&a),
        Cmd::Flood(a) => flood::run(&a),
        Cmd::Serve {
            listen,
            sink_port,
            core,
        } => {
            pin(core)?;
            let sink = sink_port.map(|p| SocketAddrV4::new(*listen.ip(), p));
            let server = Server::bind(listen, sink)?;
            println!("ready {:?}", server.ports()?);
            // Runs until the lab stops it (SIGTERM).
            let stop = AtomicBool::new(false);
            server.run(&stop, &ServerStats::default())?;
            Ok(())
        }
        Cmd::Load {
            target,
            sources,
            concurrency,
            seconds,
            timeout,
            rate,
            core,
        } => {
            pin(core)?;
            if seconds <= 0.0 {
                bail!("--seconds must be positive");
            }
            let report = run_load(&LoadSpec {
                target,
                sources,
                concurrency,
                duration: Duration::from_secs_f64(seconds),
                timeout: Duration::from_secs_f64(timeout),
                rate,
            })?;
            println!("{}", report.to_json());
            Ok(())
        }
        Cmd::Streams {
            target,
            source,
            streams,
            seconds,
            core,
        } => {
            pin(core)?;
            let report = run_streams(&StreamSpec {
                target,
                source,
                streams,
                duration: Duration::from_secs_f64(seconds),
            })?;
            println!("{}", report.to_json());
            Ok(())
        }
    }
}
