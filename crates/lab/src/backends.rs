//! The real servers' services: starting scripts/lab-backend.py in a
//! real-server namespace and waiting until it listens, probed from inside
//! that namespace with `ss -p` (so "ready" means this very process holds
//! exactly the sockets it should, not that the script printed something or
//! that a previous backend still holds the ports).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use crate::hold::HOLD_PORT;
use crate::process::{run, LabProcess, POLL};
use crate::spec::{DNS_PORT, HTTPS_PORT, HTTP_PORTS, SMTP_PORT, UDP_PORTS};
use crate::state::{CERT_FILE, KEY_FILE};
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

/// The backend's files that turn HTTPS on; lab-backend.py serves
/// [`HTTPS_PORT`] exactly when both exist at its start.
pub const TLS_FILES: [&str; 2] = [CERT_FILE, KEY_FILE];

/// True when a backend started now with state directory `state` serves
/// HTTPS (the rule lab-backend.py applies).
pub fn tls_enabled(state: &Path) -> bool {
    TLS_FILES.iter().all(|f| state.join(f).is_file())
}

/// The (protocol, port) pairs a backend listens on: HTTP, UDP echo, DNS,
/// SMTP, the hold service, and HTTPS when `tls`.
pub fn backend_ports(tls: bool) -> BTreeSet<(Proto, u16)> {
    HTTP_PORTS
        .iter()
        .chain([SMTP_PORT, HOLD_PORT].iter())
        .chain(tls.then_some(HTTPS_PORT).iter())
        .map(|&p| (Proto::Tcp, p))
        .chain(
            UDP_PORTS
                .iter()
                .chain([DNS_PORT].iter())
                .map(|&p| (Proto::Udp, p)),
        )
        .collect()
}

/// Parse `ss -Hlntup` output into the (protocol, port) pairs process
/// `pid` listens on. Lines look like
/// `tcp LISTEN 0 128 *:80 *:* users:(("python3",pid=4929,fd=3))` or
/// `udp UNCONN 0 0 [::]:53 [::]:* users:(...)`, with one `users` entry per
/// process sharing the socket.
pub fn listening_ports_of(ss_output: &str, pid: u32) -> BTreeSet<(Proto, u16)> {
    let needle = format!("pid={pid},");
    listening_sockets(ss_output)
        .filter(|(_, _, users)| users.contains(&needle))
        .map(|(proto, port, _)| (proto, port))
        .collect()
}

/// (protocol, local port, the `users:` field or "") of each line.
fn listening_sockets(ss_output: &str) -> impl Iterator<Item = (Proto, u16, &str)> {
    ss_output.lines().filter_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let proto = match *fields.first()? {
            "tcp" => Proto::Tcp,
            "udp" => Proto::Udp,
            _ => return None,
        };
        let (_, port) = fields.get(4)?.rsplit_once(':')?;
        let users = fields.get(6).copied().unwrap_or("");
        Some((proto, port.parse().ok()?, users))
    })
}

/// A started backend and the sockets it must hold once ready.
#[derive(Debug)]
pub struct Backend {
    pub process: LabProcess,
    pub ports: BTreeSet<(Proto, u16)>,
}

/// Start `lab-backend.py NAME --state STATE` in `ns`, output to `log`.
/// The expected ports are decided here, from the files in `state` as they
/// are now, by the rule the script applies at its start.
pub fn start(ns: &str, name: &str, state: &Path, log: &Path) -> Result<Backend, LabError> {
    let script = script("lab-backend.py");
    let ports = backend_ports(tls_enabled(state));
    let state = state.to_string_lossy();
    let process = LabProcess::start(
        &[
            "ip", "netns", "exec", ns, "python3", &script, name, "--state", &state,
        ],
        log,
    )?;
    Ok(Backend { process, ports })
}

/// Wait until the backend in `ns` holds exactly its sockets, or fail with
/// what it printed if it exits or takes longer than `timeout`.
pub fn wait_ready(ns: &str, backend: &mut Backend, timeout: Duration) -> Result<(), LabError> {
    let want = &backend.ports;
    let process = &mut backend.process;
    let pid = process.pid().ok_or_else(|| LabError::NotReady {
        what: format!("backend in {ns}"),
        timeout,
        detail: "it was already stopped".into(),
    })?;
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = process.try_wait()? {
            return Err(LabError::NotReady {
                what: format!("backend in {ns}"),
                timeout,
                detail: format!("it exited ({status}): {}", process.log().trim()),
            });
        }
        let out = run(&["ip", "netns", "exec", ns, "ss", "-Hlntup"])?;
        let listening = listening_ports_of(&String::from_utf8_lossy(&out.stdout), pid);
        // Equal, not a superset: a backend that serves HTTPS when the lab
        // expects it not to (or the reverse) is not the backend asked for.
        if listening == *want {
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

    fn listening_ports(ss_output: &str) -> BTreeSet<(Proto, u16)> {
        listening_sockets(ss_output)
            .map(|(proto, port, _)| (proto, port))
            .collect()
    }

    // Captured from `ss -Hlntup` in a real-server namespace (iproute2 6.1):
    // backend 4929 without TLS, plus another process on 81.
    const SS: &str = "\
udp UNCONN 0      0      *:5300 *:* users:((\"python3\",pid=4929,fd=8))
udp UNCONN 0      0      *:5353 *:* users:((\"python3\",pid=4929,fd=7))
udp UNCONN 0      0      *:53   *:* users:((\"python3\",pid=4929,fd=6))
tcp LISTEN 0      128    *:2525 *:* users:((\"python3\",pid=4929,fd=5))
tcp LISTEN 0      1024   *:9000 *:* users:((\"python3\",pid=4929,fd=9))
tcp LISTEN 0      128    0.0.0.0:81 0.0.0.0:* users:((\"nc\",pid=49290,fd=3))
tcp LISTEN 0      128    *:80   *:* users:((\"python3\",pid=4929,fd=3))
tcp LISTEN 0      128    [::]:8080 [::]:* users:((\"python3\",pid=4929,fd=4))
";

    #[test]
    fn ss_output_is_parsed() {
        let ports = listening_ports(SS);
        assert!(backend_ports(false).is_subset(&ports), "{ports:?}");
        assert!(ports.contains(&(Proto::Tcp, 81)));
        assert!(!ports.contains(&(Proto::Udp, 80)));
        // Only the backend's own sockets, and exactly the non-TLS set.
        assert_eq!(listening_ports_of(SS, 4929), backend_ports(false));
        assert_ne!(listening_ports_of(SS, 4929), backend_ports(true));
        assert!(listening_ports_of(SS, 49290).contains(&(Proto::Tcp, 81)));
        assert!(
            listening_ports_of(SS, 492).is_empty(),
            "pid=492 is not pid=4929"
        );
    }

    #[test]
    fn tls_adds_443_and_nothing_else() {
        let plain = backend_ports(false);
        let tls = backend_ports(true);
        assert_eq!(
            tls.difference(&plain).collect::<Vec<_>>(),
            [&(Proto::Tcp, HTTPS_PORT)]
        );
        assert_eq!(
            plain.len(),
            7,
            "80, 8080, 2525, 9000 TCP; 53, 5353, 5300 UDP"
        );
    }

    #[test]
    fn a_missing_port_is_not_ready() {
        let partial: String = SS
            .lines()
            .filter(|l| !l.contains(":5353"))
            .collect::<Vec<_>>()
            .join("\n");
        assert_ne!(listening_ports_of(&partial, 4929), backend_ports(false));
        assert!(listening_ports("garbage\nraw UNCONN 0 0 *:1 *:*\ntcp LISTEN\n").is_empty());
    }

    #[test]
    fn tls_needs_both_files() {
        let dir = std::env::temp_dir().join(format!("xvs-lab-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        assert!(!tls_enabled(&dir));
        std::fs::write(dir.join("cert.pem"), "c").unwrap();
        assert!(!tls_enabled(&dir));
        std::fs::write(dir.join("key.pem"), "k").unwrap();
        assert!(tls_enabled(&dir));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn scripts_are_found() {
        assert!(Path::new(&script("lab-backend.py")).is_file());
        assert!(Path::new(&script("lab-client.py")).is_file());
        assert!(Path::new(&script("lab-hold.py")).is_file());
    }
}
