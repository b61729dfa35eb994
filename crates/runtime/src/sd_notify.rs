//! Telling systemd how `xvs run` is doing, as sd_notify(3) does, without
//! libsystemd (layer: runtime driver). The unit in dist/xvs.service is
//! `Type=notify`: systemd counts the service as started on `READY=1`, shows
//! it reloading between `RELOADING=1` and the next `READY=1` (systemd ≥ 253
//! waits for that pair around `ExecReload=`), stopping after `STOPPING=1`,
//! and `STATUS=` in `systemctl status xvs`.
//!
//! The protocol (sd_notify(3), "NOTES"): one datagram of newline-separated
//! `VARIABLE=value` assignments sent to the AF_UNIX datagram socket named
//! by `$NOTIFY_SOCKET` — a file system path, or, when it starts with `@`, a
//! name in the abstract namespace. With no `$NOTIFY_SOCKET` (not started by
//! systemd) nothing is sent.

use std::ffi::{OsStr, OsString};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::sync::atomic::{AtomicBool, Ordering};

/// The environment variable systemd names its notification socket in.
pub const SOCKET_VAR: &str = "NOTIFY_SOCKET";

/// One assignment of a notification message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// `READY=1`: start-up finished, or a reload did.
    Ready,
    /// `RELOADING=1` with `MONOTONIC_USEC=` (CLOCK_MONOTONIC, µs), which
    /// systemd ≥ 253 wants with it to pair the reload with its request.
    Reloading { monotonic_usec: u64 },
    /// `STOPPING=1`: shutting down.
    Stopping,
    /// `STATUS=…`: one line for `systemctl status`.
    Status(String),
}

/// The datagram for `notices`, one assignment a line. A status is one
/// line: newlines in it become spaces.
pub fn message(notices: &[Notice]) -> String {
    let mut out = String::new();
    for n in notices {
        match n {
            Notice::Ready => out.push_str("READY=1\n"),
            Notice::Reloading { monotonic_usec } => {
                out.push_str("RELOADING=1\n");
                out.push_str(&format!("MONOTONIC_USEC={monotonic_usec}\n"));
            }
            Notice::Stopping => out.push_str("STOPPING=1\n"),
            Notice::Status(text) => {
                out.push_str("STATUS=");
                out.push_str(&text.replace(['\n', '\r'], " "));
                out.push('\n');
            }
        }
    }
    out
}

/// The socket address `$NOTIFY_SOCKET` names: `@name` is `name` in the
/// abstract namespace, anything else a path.
pub fn address(socket: &OsStr) -> io::Result<SocketAddr> {
    match socket.as_bytes().strip_prefix(b"@") {
        Some(name) => {
            use std::os::linux::net::SocketAddrExt;
            SocketAddr::from_abstract_name(name)
        }
        None => SocketAddr::from_pathname(socket),
    }
}

/// CLOCK_MONOTONIC now, in µs (what `MONOTONIC_USEC=` carries).
pub fn monotonic_usec() -> u64 {
    nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC).map_or(0, |t| {
        let secs = u64::try_from(t.tv_sec()).unwrap_or(0);
        let nanos = u64::try_from(t.tv_nsec()).unwrap_or(0);
        secs.saturating_mul(1_000_000).saturating_add(nanos / 1_000)
    })
}

/// Sends notifications to one socket, or nowhere.
#[derive(Debug, Default)]
pub struct Notifier {
    socket: Option<OsString>,
    /// A failed send is logged once, not on every status change.
    warned: AtomicBool,
}

impl Notifier {
    /// The socket systemd gave in `$NOTIFY_SOCKET`, if any.
    pub fn from_env() -> Notifier {
        Notifier::to(std::env::var_os(SOCKET_VAR).filter(|s| !s.is_empty()))
    }

    /// Notify `socket` (a path or `@abstract-name`), or nowhere.
    pub fn to(socket: Option<OsString>) -> Notifier {
        Notifier {
            socket,
            warned: AtomicBool::new(false),
        }
    }

    /// Send `notices` as one datagram (nothing without a socket).
    pub fn send(&self, notices: &[Notice]) -> io::Result<()> {
        let Some(socket) = &self.socket else {
            return Ok(());
        };
        let addr = address(socket)?;
        let sock = UnixDatagram::unbound()?;
        sock.send_to_addr(message(notices).as_bytes(), &addr)?;
        Ok(())
    }

    /// [`Notifier::send`], logging the first failure.
    pub fn notify(&self, notices: &[Notice]) {
        if let Err(e) = self.send(notices) {
            if !self.warned.swap(true, Ordering::Relaxed) {
                let socket = self.socket.as_deref().unwrap_or_default();
                tracing::warn!(
                    "cannot notify systemd on {SOCKET_VAR}={}: {e}",
                    socket.to_string_lossy()
                );
            }
        }
    }

    /// `READY=1` with a status line.
    pub fn ready(&self, status: &str) {
        self.notify(&[Notice::Ready, Notice::Status(status.into())]);
    }

    /// `RELOADING=1` (now) with a status line.
    pub fn reloading(&self, status: &str) {
        self.notify(&[
            Notice::Reloading {
                monotonic_usec: monotonic_usec(),
            },
            Notice::Status(status.into()),
        ]);
    }

    /// `STOPPING=1` with a status line.
    pub fn stopping(&self, status: &str) {
        self.notify(&[Notice::Stopping, Notice::Status(status.into())]);
    }

    /// A status line alone.
    pub fn status(&self, status: &str) {
        self.notify(&[Notice::Status(status.into())]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn receive(sock: &UnixDatagram) -> String {
        sock.set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        let mut buf = [0u8; 4096];
        let n = sock.recv(&mut buf).expect("a datagram");
        String::from_utf8(buf[..n].to_vec()).expect("UTF-8")
    }

    #[test]
    fn messages_are_one_assignment_a_line() {
        assert_eq!(
            message(&[Notice::Ready, Notice::Status("running version 1".into())]),
            "READY=1\nSTATUS=running version 1\n"
        );
        assert_eq!(
            message(&[Notice::Reloading {
                monotonic_usec: 12_345_678
            }]),
            "RELOADING=1\nMONOTONIC_USEC=12345678\n"
        );
        assert_eq!(message(&[Notice::Stopping]), "STOPPING=1\n");
        assert_eq!(
            message(&[Notice::Status("two\nlines\r".into())]),
            "STATUS=two lines \n"
        );
    }

    #[test]
    fn the_monotonic_clock_is_in_microseconds() {
        let a = monotonic_usec();
        std::thread::sleep(Duration::from_millis(20));
        let b = monotonic_usec();
        assert!(a > 0 && b >= a + 20_000 && b < a + 20_000_000, "{a} {b}");
    }

    #[test]
    fn sends_to_a_socket_path() {
        let dir = std::env::temp_dir().join(format!("xvs-sd-notify-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("notify.sock");
        let _ = std::fs::remove_file(&path);
        let systemd = UnixDatagram::bind(&path).expect("bind");
        let n = Notifier::to(Some(path.clone().into_os_string()));
        n.ready("running version 1");
        assert_eq!(receive(&systemd), "READY=1\nSTATUS=running version 1\n");
        n.reloading("reloading");
        let got = receive(&systemd);
        let mut lines = got.lines();
        assert_eq!(lines.next(), Some("RELOADING=1"));
        let usec: u64 = lines
            .next()
            .and_then(|l| l.strip_prefix("MONOTONIC_USEC="))
            .and_then(|v| v.parse().ok())
            .expect("MONOTONIC_USEC= after RELOADING=1");
        assert!(usec > 0 && usec <= monotonic_usec());
        assert_eq!(lines.next(), Some("STATUS=reloading"));
        n.stopping("stopping");
        assert_eq!(receive(&systemd), "STOPPING=1\nSTATUS=stopping\n");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn sends_to_an_abstract_socket() {
        use std::os::linux::net::SocketAddrExt;
        let name = format!("xvs-sd-notify-test-{}", std::process::id());
        let systemd = UnixDatagram::bind_addr(
            &SocketAddr::from_abstract_name(name.as_bytes()).expect("abstract name"),
        )
        .expect("bind");
        let n = Notifier::to(Some(format!("@{name}").into()));
        n.status("running version 7");
        assert_eq!(receive(&systemd), "STATUS=running version 7\n");
    }

    #[test]
    fn without_a_socket_nothing_is_sent() {
        assert!(Notifier::to(None).send(&[Notice::Ready]).is_ok());
        assert!(Notifier::default().send(&[Notice::Stopping]).is_ok());
    }

    #[test]
    fn a_missing_socket_is_an_error_not_a_panic() {
        let n = Notifier::to(Some("/nonexistent/xvs/notify.sock".into()));
        assert!(n.send(&[Notice::Ready]).is_err());
        n.ready("logged once, then quiet");
        n.ready("quiet");
        assert!(n.warned.load(Ordering::Relaxed));
    }
}
