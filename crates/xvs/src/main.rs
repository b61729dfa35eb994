//! The `xvs` appliance binary: one executable for running the director and
//! for operating it (`run`, `check`, `list`, `status`, `metrics`, `reload`,
//! `decap`).
//! Each subcommand lives in its own module; this file only parses the
//! command line and maps results to exit codes.

mod check;
mod ops;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Userspace LVS/IPVS + keepalived on AF_XDP.
#[derive(Debug, Parser)]
#[command(name = "xvs", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Validate a config file and print its virtual services as `ipvsadm -Ln` would.
    ///
    /// Exits 0 if the file is valid, 2 (with file:line:col on stderr) if not.
    Check {
        /// The YAML config file.
        #[arg(short = 'c', long = "config", value_name = "FILE")]
        config: PathBuf,
    },
    /// Run the director: AF_XDP workers on the configured interfaces.
    ///
    /// Stops cleanly on SIGINT/SIGTERM (detaching everything it attached);
    /// SIGHUP (or `xvs reload`) reloads the config, keeping the running one
    /// if the new file is rejected.
    Run {
        /// The YAML config file.
        #[arg(short = 'c', long = "config", value_name = "FILE")]
        config: PathBuf,
        /// The control socket `xvs list` and `xvs metrics` talk to.
        #[arg(long, value_name = "PATH", default_value = "/run/xvs/xvs.sock")]
        control: PathBuf,
        /// XDP attach mode of the steering program (default: native, falling back to generic).
        #[arg(long, value_name = "MODE", value_parser = ["native", "generic"])]
        xdp_mode: Option<String>,
    },
    /// List the running director's virtual services, as `ipvsadm -Ln`.
    List {
        /// Packet, byte and connection counters (`ipvsadm -Ln --stats`).
        #[arg(long)]
        stats: bool,
        /// Full numbers instead of K/M/G (`--exact`).
        #[arg(long)]
        exact: bool,
        #[arg(long, value_name = "PATH", default_value = "/run/xvs/xvs.sock")]
        control: PathBuf,
    },
    /// Show the health checker's view: every real server's state, effective
    /// weight and time since its last transition, each checker's last
    /// result with its reason, and each service's quorum.
    Status {
        /// The same as JSON, for scripts.
        #[arg(long)]
        json: bool,
        #[arg(long, value_name = "PATH", default_value = "/run/xvs/xvs.sock")]
        control: PathBuf,
    },
    /// Print the running director's metrics (Prometheus text format).
    Metrics {
        #[arg(long, value_name = "PATH", default_value = "/run/xvs/xvs.sock")]
        control: PathBuf,
    },
    /// Ask the running director to reload its config file.
    Reload {
        #[arg(long, value_name = "PATH", default_value = "/run/xvs/xvs.sock")]
        control: PathBuf,
    },
    /// On a TUN-mode real server: strip the IPIP header of packets for the
    /// given VIPs with an XDP program (for kernels without the ipip module).
    ///
    /// Runs until SIGINT/SIGTERM, then detaches.
    Decap {
        /// The interface the tunnelled packets arrive on.
        #[arg(long, value_name = "IF")]
        iface: String,
        /// A VIP served through the tunnel (repeat for several).
        #[arg(long = "vip", value_name = "ADDR", required = true)]
        vips: Vec<std::net::IpAddr>,
        /// XDP attach mode (default: native, falling back to generic).
        #[arg(long, value_name = "MODE", value_parser = ["native", "generic"])]
        xdp_mode: Option<String>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Check { config } => check::run(&config),
        Command::Run {
            config,
            control,
            xdp_mode,
        } => ops::run(config, control, xdp_mode.as_deref()),
        Command::List {
            stats,
            exact,
            control,
        } => {
            let what = match (stats, exact) {
                (false, _) => "list",
                (true, false) => "stats",
                (true, true) => "stats exact",
            };
            ops::request(&control, what)
        }
        Command::Status { json, control } => {
            ops::request(&control, if json { "status json" } else { "status" })
        }
        Command::Metrics { control } => ops::request(&control, "metrics"),
        Command::Reload { control } => ops::request(&control, "reload"),
        Command::Decap {
            iface,
            vips,
            xdp_mode,
        } => ops::decap(&iface, &vips, xdp_mode.as_deref()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn check_takes_short_and_long_config() {
        for args in [
            ["xvs", "check", "-c", "a.yaml"],
            ["xvs", "check", "--config", "a.yaml"],
        ] {
            let cli = Cli::try_parse_from(args).expect("valid command line");
            let Command::Check { config } = cli.command else {
                panic!("parsed as another subcommand");
            };
            assert_eq!(config, PathBuf::from("a.yaml"));
        }
        assert!(Cli::try_parse_from(["xvs", "check"]).is_err());
    }
}
