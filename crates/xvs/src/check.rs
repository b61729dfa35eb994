//! `xvs check -c FILE`: load and validate a config without touching any
//! interface, then print the resolved virtual services in `ipvsadm -Ln`
//! layout (counters 0) so the operator sees what xvs understood.
//! Exit status 2 on a rejected config, like ipvsadm's failures.

use std::io::Write as _;
use std::path::Path;
use std::process::ExitCode;

/// Exit status for a config that cannot be used.
const EXIT_INVALID: u8 = 2;

pub fn run(path: &Path) -> ExitCode {
    match xvs_config::load_file(path) {
        Ok(snapshot) => {
            let text = xvs_config::ipvsadm::list(&snapshot);
            // A closed stdout (e.g. `| head`) is not a config problem.
            let _ = std::io::stdout().write_all(text.as_bytes());
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("{err}");
            ExitCode::from(EXIT_INVALID)
        }
    }
}
