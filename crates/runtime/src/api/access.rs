//! Who may talk to the control socket: root (or the user the daemon runs
//! as), and nobody else — the socket changes the running configuration.
//!
//! Three layers, each enough on its own for a local user without root:
//!
//! - **The directory.** Created 0700 when missing (default `/run/xvs`). An
//!   existing one is used as it is only if no one but root (or the
//!   daemon's user) owns or can write it: otherwise another user could
//!   replace the socket by one of theirs and read what `xvs` sends. Its
//!   mode is never changed, since it may be shared (`/run`, a test's
//!   directory); a group- or world-writable or foreign one is refused with
//!   the fix in the message.
//! - **The socket file**, mode 0600: `connect(2)` by anyone else fails with
//!   EACCES.
//! - **The peer's credentials** (`SO_PEERCRED`), checked on every
//!   connection: a uid other than 0 or the daemon's is answered with an
//!   error and the connection closed, so even a socket opened up by hand
//!   (chmod) or reached through a leaked descriptor serves no one else.

use std::fs::{DirBuilder, Permissions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::path::Path;

use nix::sys::socket::{getsockopt, sockopt::PeerCredentials};
use nix::unistd::Uid;

/// The socket's own mode.
pub const SOCKET_MODE: u32 = 0o600;
/// The mode of a directory the daemon creates for its socket.
pub const DIR_MODE: u32 = 0o700;

/// Make `dir` ready to hold the socket: create it (0700) if missing,
/// refuse it if another user owns or can write it.
pub fn prepare_dir(dir: &Path) -> io::Result<()> {
    match std::fs::metadata(dir) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            DirBuilder::new()
                .recursive(true)
                .mode(DIR_MODE)
                .create(dir)?;
            // The umask may have taken bits away, never added any; set it
            // exactly so `ls -ld` shows what the docs say.
            std::fs::set_permissions(dir, Permissions::from_mode(DIR_MODE))
        }
        Err(e) => Err(e),
        Ok(meta) if !meta.is_dir() => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} is not a directory", dir.display()),
        )),
        Ok(meta) => match dir_problem(meta.mode(), meta.uid(), Uid::effective().as_raw()) {
            Some(problem) => Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!(
                    "directory {}: {problem}; use a directory only root can write \
                     (remove it and xvs creates it with mode 0700)",
                    dir.display()
                ),
            )),
            None => Ok(()),
        },
    }
}

/// Why a directory with `mode` owned by `owner` must not hold the socket
/// of a daemon running as `euid`.
pub fn dir_problem(mode: u32, owner: u32, euid: u32) -> Option<String> {
    if owner != 0 && owner != euid {
        return Some(format!(
            "owned by uid {owner}, who could replace the socket"
        ));
    }
    // Sticky or not: whoever can write the directory can take the socket's
    // name before the daemon binds it.
    if mode & 0o022 != 0 {
        return Some(format!(
            "writable by {} (mode {:04o}), who could replace the socket",
            if mode & 0o002 != 0 {
                "everyone"
            } else {
                "its group"
            },
            mode & 0o7777
        ));
    }
    None
}

/// Set the bound socket's mode to 0600. Until this returns the socket may
/// carry the umask's mode; the peer check covers that moment.
pub fn secure_socket(path: &Path) -> io::Result<()> {
    std::fs::set_permissions(path, Permissions::from_mode(SOCKET_MODE))
}

/// Whether the process at the other end of `stream` may use the socket;
/// the error is the answer it gets.
pub fn check_peer(stream: &UnixStream) -> Result<(), String> {
    let creds = getsockopt(stream, PeerCredentials)
        .map_err(|e| format!("cannot read the client's credentials (SO_PEERCRED): {e}"))?;
    match peer_problem(creds.uid(), Uid::effective().as_raw()) {
        Some(problem) => Err(problem),
        None => Ok(()),
    }
}

/// Why a client running as `uid` is refused by a daemon running as `euid`.
pub fn peer_problem(uid: u32, euid: u32) -> Option<String> {
    if uid == 0 || uid == euid {
        return None;
    }
    Some(format!(
        "permission denied: uid {uid} may not use the control socket \
         (only root{}); run xvs as root",
        if euid == 0 {
            String::new()
        } else {
            format!(" or uid {euid}")
        }
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directory_rules() {
        assert_eq!(dir_problem(0o40700, 0, 0), None);
        // Readable by others is fine: the socket is 0600 and checked.
        assert_eq!(dir_problem(0o40755, 0, 0), None);
        assert_eq!(dir_problem(0o40700, 1000, 1000), None);
        assert_eq!(
            dir_problem(0o41777, 0, 0).as_deref(),
            Some("writable by everyone (mode 1777), who could replace the socket")
        );
        assert_eq!(
            dir_problem(0o40775, 0, 0).as_deref(),
            Some("writable by its group (mode 0775), who could replace the socket")
        );
        assert_eq!(
            dir_problem(0o40700, 1000, 0).as_deref(),
            Some("owned by uid 1000, who could replace the socket")
        );
    }

    #[test]
    fn peer_rules() {
        assert_eq!(peer_problem(0, 0), None);
        assert_eq!(peer_problem(1000, 1000), None);
        assert_eq!(peer_problem(0, 1000), None);
        assert_eq!(
            peer_problem(65534, 0).as_deref(),
            Some("permission denied: uid 65534 may not use the control socket (only root); run xvs as root")
        );
        assert_eq!(
            peer_problem(65534, 1000).as_deref(),
            Some("permission denied: uid 65534 may not use the control socket (only root or uid 1000); run xvs as root")
        );
    }

    #[test]
    fn creates_a_private_directory_and_refuses_an_open_one() {
        let base = std::env::temp_dir().join(format!("xvs-access-{}", std::process::id()));
        let dir = base.join("run").join("xvs");
        prepare_dir(&dir).expect("created");
        let mode = std::fs::metadata(&dir).expect("exists").mode() & 0o7777;
        assert_eq!(mode, 0o700);
        // Existing and private: used as it is.
        prepare_dir(&dir).expect("reused");
        std::fs::set_permissions(&dir, Permissions::from_mode(0o777)).expect("chmod");
        let err = prepare_dir(&dir).expect_err("world-writable");
        assert!(
            err.to_string().contains("writable by everyone (mode 0777)"),
            "{err}"
        );
        // Refused, not repaired: its mode is left as it was.
        let mode = std::fs::metadata(&dir).expect("exists").mode() & 0o7777;
        assert_eq!(mode, 0o777);
        let _ = std::fs::remove_dir_all(&base);
    }

    #[test]
    fn peer_of_a_socket_pair_is_ourselves() {
        let (a, _b) = UnixStream::pair().expect("pair");
        assert_eq!(check_peer(&a), Ok(()));
    }
}
