//! The `xvs` appliance binary: one executable for running the director and
//! for operating it (`run`, `check`, `list`, `conns`, `status`, `metrics`,
//! `reload`, `service`, `real-server`, `diff`, `save`, `decap`).
//! Each subcommand lives in its own module; this file only parses the
//! command line and maps results to exit codes.

mod check;
mod control;
mod edit;
mod fleet;
mod import;
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
    ///
    /// With `--fleet a.yaml b.yaml …`: the configs of several active
    /// directors (ECMP); prints one line per difference that would make
    /// them send a flow to different real servers (services, schedulers and
    /// their flags, mh table size, methods, persistence, real servers,
    /// weights, thresholds) and exits 1, or "N configs agree" and exits 0.
    Check {
        /// The YAML config file.
        #[arg(
            short = 'c',
            long = "config",
            value_name = "FILE",
            required_unless_present = "fleet",
            conflicts_with = "fleet"
        )]
        config: Option<PathBuf>,
        /// Compare the configs of the directors of one fleet.
        #[arg(long, value_name = "FILE", num_args = 2..)]
        fleet: Vec<PathBuf>,
    },
    /// Convert a keepalived.conf (and what it includes) to xvs YAML.
    ///
    /// Lists every option it does not carry, with file:line and why, on
    /// stderr and at the top of the output; exits 2 if the file cannot be
    /// read or the result does not pass `xvs check`.
    Import(import::ImportArgs),
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
    /// List the running director's virtual services, as `ipvsadm -Ln`
    /// (`--stats`, `--rate`, `--exact`, one `--service`, or `--json`).
    List(control::ListArgs),
    /// List connection entries, as `ipvsadm -Lnc` (FullNAT: with the local
    /// address), optionally of one service and/or real server.
    Conns(control::ConnsArgs),
    /// Show the health checker's view: every real server's state, effective
    /// weight and time since its last transition, each checker's last
    /// result with its reason, and each service's quorum; VRRP and sync.
    Status(control::StatusArgs),
    /// Print the running director's metrics (Prometheus text format).
    Metrics(control::Socket),
    /// Reload the config file. Prints what changed; a rejected file is
    /// reported (file:line:col) and the running configuration kept (exit 1).
    /// Replaces every runtime change.
    Reload(control::Socket),
    /// Change the running director's virtual services (ipvsadm -A/-E/-D),
    /// until the next reload.
    #[command(subcommand)]
    Service(edit::ServiceCommand),
    /// Change a service's real servers (ipvsadm -a/-e/-d, drain), until the
    /// next reload.
    #[command(subcommand)]
    RealServer(edit::RealServerCommand),
    /// Show what the running configuration changes from the file.
    Diff(control::Socket),
    /// Withdraw every VIP from the routers (BGP, `announce:`) while
    /// forwarding on: new flows go to the other directors, established
    /// ones finish here. Lasts until `xvs undrain` or a restart.
    Drain(control::Socket),
    /// Announce the VIPs again after `xvs drain` (those that can be served).
    Undrain(control::Socket),
    /// Print (or write with -o) the running configuration as YAML that
    /// `xvs check` accepts.
    Save(control::SaveArgs),
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
        Command::Check { config, fleet } => match config {
            Some(c) => check::run(&c),
            None => fleet::run(&fleet),
        },
        Command::Import(args) => import::run(args),
        Command::Run {
            config,
            control,
            xdp_mode,
        } => {
            // The daemon logs through `tracing`: one line an event on
            // stderr, for journald or a terminal; XVS_LOG filters.
            xvs_runtime::logging::init();
            ops::run(config, control, xdp_mode.as_deref())
        }
        Command::List(a) => control::list(&a),
        Command::Conns(a) => control::conns(&a),
        Command::Status(a) => control::status(&a),
        Command::Metrics(s) => control::text(&s, "metrics"),
        Command::Reload(s) => control::text(&s, "reload"),
        Command::Service(c) => edit::service(&c),
        Command::RealServer(c) => edit::real_server(&c),
        Command::Diff(s) => control::text(&s, "diff"),
        Command::Drain(s) => control::text(&s, "drain"),
        Command::Undrain(s) => control::text(&s, "undrain"),
        Command::Save(a) => control::save(&a),
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
            let Command::Check { config, .. } = cli.command else {
                panic!("parsed as another subcommand");
            };
            assert_eq!(config, Some(PathBuf::from("a.yaml")));
        }
        assert!(Cli::try_parse_from(["xvs", "check"]).is_err());
    }

    #[test]
    fn check_fleet_takes_two_files_or_more_and_no_config() {
        let cli = Cli::try_parse_from(["xvs", "check", "--fleet", "a.yaml", "b.yaml", "c.yaml"])
            .expect("valid command line");
        let Command::Check { config, fleet } = cli.command else {
            panic!("parsed as another subcommand");
        };
        assert_eq!(config, None);
        assert_eq!(fleet.len(), 3);
        assert!(Cli::try_parse_from(["xvs", "check", "--fleet", "a.yaml"]).is_err());
        assert!(Cli::try_parse_from([
            "xvs", "check", "-c", "a.yaml", "--fleet", "a.yaml", "b.yaml"
        ])
        .is_err());
    }
}
