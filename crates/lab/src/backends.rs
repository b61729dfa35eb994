//! The real servers' services: starting scripts/lab-backend.py in a
//! real-server namespace and waiting until it listens, probed from inside
//! that namespace with `ss` (so "ready" means the sockets exist, not that
//! the script printed something).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use crate::process::{run, LabProcess, POLL};
use crate::spec::{HTTP_PORTS, UDP_PORTS};
use crate::LabError;

/// How long a backend gets to bind its sockets (Python starts in well
/// under a second; a loaded CI machine gets slack).
pub const READY_TIMEOUT: Duration = Duration::from_secs(20);

/// Where the lab's scripts are: `$XVS_LAB_SCRIPTS`, else the repository's
/// scripts/ directory.
pub fn scripts_dir() -> PathBuf {
    match std::env::var_os("XVS_LAB_SCRIPTS") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts"),
    }
}

/// The path of one script.
pub fn script(name: &str) -> String {
    scripts_dir().join(name).to_string_lossy().into_owned()
}

/// A transport protocol as `ss` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Proto {
    Tcp,
    Udp,
}

/// The (protocol, port) pairs a backend must listen on.
pub fn backend_ports() -> BTreeSet<(Proto, u16)> {
    HTTP_PORTS
        .iter()
        .map(|&p| (Proto::Tcp, p))
        .chain(UDP_PORTS.iter().map(|&p| (Proto::Udp, p)))
        .collect()
}

/// Parse `ss -Hlntu` output into the listening (protocol, port) pairs.
/// Lines look like `tcp LISTEN 0 128 *:80 *:*` or
/// `udp UNCONN 0 0 [::]:53 [::]:*`.
pub fn listening_ports(ss_output: &str) -> BTreeSet<(Proto, u16)> {
    ss_output
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let proto = match *fields.first()? {
                "tcp" => Proto::Tcp,
                "udp" => Proto::Udp,
                _ => return None,
            };
            let (_, port) = fields.get(4)?.rsplit_once(':')?;
            Some((proto, port.parse().ok()?))
        })
        .collect()
}

/// Start lab-backend.py NAME in `ns`, output to `log`.
pub fn start(ns: &str, name: &str, log: &Path) -> Result<LabProcess, LabError> {
    let script = script("lab-backend.py");
    LabProcess::start(&["ip", "netns", "exec", ns, "python3", &script, name], log)
}

/// Wait until the backend in `ns` listens on every port, or fail with what
/// it printed if it exits or takes longer than `timeout`.
pub fn wait_ready(ns: &str, process: &mut LabProcess, timeout: Duration) -> Result<(), LabError> {
    let want = backend_ports();
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = process.try_wait()? {
            return Err(LabError::NotReady {
                what: format!("backend in {ns}"),
                timeout,
                detail: format!("it exited ({status}): {}", process.log().trim()),
            });
        }
        let out = run(&["ip", "netns", "exec", ns, "ss", "-Hlntu"])?;
        let listening = listening_ports(&String::from_utf8_lossy(&out.stdout));
        if want.is_subset(&listening) {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(LabError::NotReady {
                what: format!("backend in {ns}"),
                timeout,
                detail: format!(
                    "listening on {listening:?}, want {want:?}; log: {}",
                    process.log().trim()
                ),
            });
        }
        thread::sleep(POLL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Captured from `ss -Hlntu` in a real-server namespace (iproute2 6.1).
    const SS: &str = "\
udp UNCONN 0      0            *:53       *:*
udp UNCONN 0      0            *:5353     *:*
tcp LISTEN 0      128    0.0.0.0:81 0.0.0.0:*
tcp LISTEN 0      128          *:80       *:*
tcp LISTEN 0      128       [::]:8080  [::]:*
";

    #[test]
    fn ss_output_is_parsed() {
        let ports = listening_ports(SS);
        assert!(backend_ports().is_subset(&ports), "{ports:?}");
        assert!(ports.contains(&(Proto::Tcp, 81)));
        assert!(!ports.contains(&(Proto::Udp, 80)));
    }

    #[test]
    fn a_missing_port_is_not_ready() {
        let partial: String = SS
            .lines()
            .filter(|l| !l.contains(":5353"))
            .collect::<Vec<_>>()
            .join("\n");
        assert!(!backend_ports().is_subset(&listening_ports(&partial)));
        assert!(listening_ports("garbage\nraw UNCONN 0 0 *:1 *:*\ntcp LISTEN\n").is_empty());
    }

    #[test]
    fn scripts_are_found() {
        assert!(Path::new(&script("lab-backend.py")).is_file());
        assert!(Path::new(&script("lab-client.py")).is_file());
    }
}
