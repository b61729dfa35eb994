//! `xvs-lab`: build a lab and leave it up (for demos and manual testing),
//! tear one down by prefix (also after a crashed test), and run the lab
//! client against it.
//!
//! ```text
//! xvs-lab up --method nat --prefix demo [--queues 2] [--real-servers 3]
//! xvs-lab up --method nat --prefix pair --directors 2   # a VRRP pair
//! xvs-lab client --prefix demo http://198.18.0.100/ --count 30
//! xvs-lab client --prefix demo udp://198.18.0.100:53 --count 30
//! xvs-lab health --prefix demo --real-server 3 --status 500   # /health answers 500
//! xvs-lab health --prefix demo --real-server 3 --reset        # healthy again
//! xvs-lab down --prefix demo
//! ```

use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use xvs_lab::{Lab, LabError, LabSpec, Method, Target};

#[derive(Debug, Parser)]
#[command(name = "xvs-lab", about = "The xvs network-namespace lab")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Build a lab and leave it running.
    Up {
        /// nat, dr, tun, fullnat or kernel-nat.
        #[arg(long, value_parser = parse_method)]
        method: Method,
        /// Letters, digits, '-' and '_', at most 12, starting with a letter;
        /// every namespace name starts with it (`xvs-` gives xvs-c, xvs-r).
        #[arg(long)]
        prefix: String,
        /// RX/TX queues of the director's veths.
        #[arg(long, default_value_t = 1)]
        queues: u32,
        #[arg(long, default_value_t = 3)]
        real_servers: usize,
        /// 1, or 2 for a VRRP pair on shared segments (the gateways
        /// 198.18.0.1 and 198.18.1.1 are then virtual addresses).
        #[arg(long, default_value_t = 1)]
        directors: usize,
        /// VIPs (repeatable; replaces the defaults 198.18.0.100 and fd00:0:0:1::100).
        #[arg(long = "vip")]
        vips: Vec<IpAddr>,
        /// FullNAT local addresses (repeatable; replaces the defaults).
        #[arg(long = "local")]
        locals: Vec<IpAddr>,
        /// Do not start lab-backend.py on the real servers.
        #[arg(long)]
        no_backends: bool,
    },
    /// Kill the lab's processes and delete its namespaces (idempotent).
    Down {
        #[arg(long)]
        prefix: String,
    },
    /// Make a real server's health-check answers fail or pass (the backend
    /// reads them on every request).
    Health {
        #[arg(long)]
        prefix: String,
        /// Which real server (1-based).
        #[arg(long)]
        real_server: usize,
        /// The HTTP status `GET /health` answers with.
        #[arg(long, conflicts_with = "reset")]
        status: Option<u16>,
        /// Back to the defaults (200, and the others).
        #[arg(long)]
        reset: bool,
    },
    /// Send requests from the lab's client namespace and print the report.
    Client {
        #[arg(long)]
        prefix: String,
        /// http://HOST[:PORT]/PATH, or udp://HOST:PORT.
        target: String,
        #[arg(long, default_value_t = 10)]
        count: usize,
        #[arg(long, default_value_t = 1)]
        concurrency: usize,
        /// Source address (one of the client's).
        #[arg(long)]
        src: Option<IpAddr>,
        /// Per-request timeout in milliseconds.
        #[arg(long, default_value_t = 2000)]
        timeout_ms: u64,
    },
}

fn parse_method(s: &str) -> Result<Method, String> {
    s.parse().map_err(|e: LabError| e.to_string())
}

fn parse_target(s: &str) -> Result<Target, LabError> {
    if s.starts_with("http://") {
        return Ok(Target::Http(s.to_owned()));
    }
    let addr = s.strip_prefix("udp://").unwrap_or(s);
    addr.parse::<SocketAddr>().map(Target::Udp).map_err(|_| {
        LabError::Spec(format!(
            "target {s:?} is neither http://... nor udp://HOST:PORT"
        ))
    })
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xvs-lab: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<(), LabError> {
    match cli.command {
        Cmd::Up {
            method,
            prefix,
            queues,
            real_servers,
            directors,
            vips,
            locals,
            no_backends,
        } => {
            let mut spec = LabSpec {
                method,
                queues,
                real_servers,
                directors,
                backends: !no_backends,
                ..LabSpec::default()
            };
            if !vips.is_empty() {
                (spec.vips4, spec.vips6) = split(&vips);
            }
            if !locals.is_empty() {
                (spec.local4, spec.local6) = split(&locals);
            }
            let lab = Lab::build_with_prefix(spec, &prefix)?;
            let (cif, rif) = lab.director_ifaces();
            println!(
                "lab {prefix} is up: method {method}, {directors} director(s), \
                 {real_servers} real servers, {queues} queue(s)"
            );
            println!("namespaces: {}", lab.namespaces().join(" "));
            println!("director interfaces: {cif} (client side), {rif} (real-server side)");
            if lab.spec().is_pair() {
                println!(
                    "gateways {} and {} (clients), {} and {} (real servers) are virtual: \
                     a VRRP master must hold them",
                    xvs_lab::CLIENT_GW4,
                    xvs_lab::CLIENT_GW6,
                    xvs_lab::SERVER_GW4,
                    xvs_lab::SERVER_GW6
                );
            }
            println!("tear down with: xvs-lab down --prefix {prefix}");
            lab.leak();
            Ok(())
        }
        Cmd::Down { prefix } => {
            let n = Lab::teardown_prefix(&prefix)?;
            println!("lab {prefix}: deleted {n} namespace(s)");
            Ok(())
        }
        Cmd::Health {
            prefix,
            real_server,
            status,
            reset,
        } => {
            let lab = Lab::attach(&prefix)?;
            match (status, reset) {
                (Some(code), _) => lab.set_health_status(real_server, code)?,
                (None, true) => lab.reset_health(real_server)?,
                (None, false) => {
                    return Err(LabError::Spec("give --status CODE or --reset".into()))
                }
            }
            Ok(())
        }
        Cmd::Client {
            prefix,
            target,
            count,
            concurrency,
            src,
            timeout_ms,
        } => {
            let lab = Lab::attach(&prefix)?;
            let mut opts = lab.client_options(parse_target(&target)?, count);
            opts.concurrency = concurrency;
            opts.src = src;
            opts.timeout = Duration::from_millis(timeout_ms);
            let report = lab.run_client(&opts)?;
            println!("ok {} failed {}", report.ok, report.failed);
            for (server, n) in &report.by_server {
                println!("  {server}: {n}");
            }
            for (error, n) in &report.errors {
                println!("  error x{n}: {error}");
            }
            Ok(())
        }
    }
}

fn split(addrs: &[IpAddr]) -> (Vec<std::net::Ipv4Addr>, Vec<std::net::Ipv6Addr>) {
    let v4 = addrs
        .iter()
        .filter_map(|a| match a {
            IpAddr::V4(a) => Some(*a),
            IpAddr::V6(_) => None,
        })
        .collect();
    let v6 = addrs
        .iter()
        .filter_map(|a| match a {
            IpAddr::V6(a) => Some(*a),
            IpAddr::V4(_) => None,
        })
        .collect();
    (v4, v6)
}
