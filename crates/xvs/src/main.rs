//! The `xvs` appliance binary: one executable for running the director and
//! for operating it (`check`, later `run`, `list`, `reload`, `import`,
//! `decap`). Each subcommand lives in its own module; this file only parses
//! the command line and maps results to exit codes.

mod check;

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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Check { config } => check::run(&config),
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
            let Command::Check { config } = cli.command;
            assert_eq!(config, PathBuf::from("a.yaml"));
        }
        assert!(Cli::try_parse_from(["xvs", "check"]).is_err());
    }
}
