//! A real server's backend state: the files in its state directory that
//! scripts/lab-backend.py reads on every request, so a test changes what a
//! health check sees by writing a file, without restarting anything.
//!
//! ```text
//! <lab dir>/state-rsI/status       GET /health status code (absent: 200)
//!                     body         GET /health body (absent: "rsI ok\n")
//!                     dns_rcode    RCODE of UDP 5300 answers (absent: 0)
//!                     smtp_banner  the TCP 2525 greeting (absent: "220 rsI ESMTP")
//!                     cert.pem     with key.pem, at backend start: HTTPS on 443
//!                     key.pem
//! ```
//!
//! Every write goes to a temporary file in the same directory first and is
//! renamed over the old one (rename(2) is atomic within a file system), so
//! the backend never reads a half-written file.

use std::path::Path;

use crate::{Lab, LabError};

/// The file names lab-backend.py reads (its module docstring lists them).
pub const STATUS_FILE: &str = "status";
pub const BODY_FILE: &str = "body";
pub const DNS_RCODE_FILE: &str = "dns_rcode";
pub const SMTP_BANNER_FILE: &str = "smtp_banner";
pub const CERT_FILE: &str = "cert.pem";
pub const KEY_FILE: &str = "key.pem";

/// Write `contents` to `dir/name` by rename, creating `dir` if needed.
pub(crate) fn write_atomic(dir: &Path, name: &str, contents: &[u8]) -> Result<(), LabError> {
    std::fs::create_dir_all(dir).map_err(|e| LabError::io(dir, e))?;
    // A dot name the backend never reads; per-process so that two writers
    // (two handles on one lab) cannot rename each other's half files.
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    std::fs::write(&tmp, contents).map_err(|e| LabError::io(&tmp, e))?;
    let path = dir.join(name);
    std::fs::rename(&tmp, &path).map_err(|e| LabError::io(&path, e))
}

/// Remove `dir/name`; a missing file is already the goal.
fn remove(dir: &Path, name: &str) -> Result<(), LabError> {
    let path = dir.join(name);
    match std::fs::remove_file(&path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(LabError::io(&path, e)),
        _ => Ok(()),
    }
}

impl Lab {
    /// Make real server `i`'s `GET /health` answer with HTTP status `code`
    /// (100..=599) from the next request on.
    pub fn set_health_status(&self, i: usize, code: u16) -> Result<(), LabError> {
        self.check_rs(i)?;
        if !(100..=599).contains(&code) {
            return Err(LabError::Spec(format!(
                "HTTP status {code} is not 100..=599"
            )));
        }
        write_atomic(&self.state_dir(i), STATUS_FILE, code.to_string().as_bytes())
    }

    /// Make real server `i`'s `GET /health` answer with `body` (byte for
    /// byte: an HTTP_GET digest check hashes exactly this).
    pub fn set_health_body(&self, i: usize, body: &str) -> Result<(), LabError> {
        self.check_rs(i)?;
        write_atomic(&self.state_dir(i), BODY_FILE, body.as_bytes())
    }

    /// Make real server `i`'s DNS responder (UDP 5300) answer with RCODE
    /// `rcode` (0..=15; RFC 1035 §4.1.1: 0 no error, 2 server failure,
    /// 3 name error, 5 refused).
    pub fn set_dns_rcode(&self, i: usize, rcode: u8) -> Result<(), LabError> {
        self.check_rs(i)?;
        if rcode > 15 {
            return Err(LabError::Spec(format!(
                "DNS RCODE {rcode} does not fit the header's 4 bits"
            )));
        }
        write_atomic(
            &self.state_dir(i),
            DNS_RCODE_FILE,
            rcode.to_string().as_bytes(),
        )
    }

    /// Make real server `i`'s SMTP server (TCP 2525) greet with the line
    /// `banner` (without CRLF; e.g. `554 no service` for a refusing server).
    pub fn set_smtp_banner(&self, i: usize, banner: &str) -> Result<(), LabError> {
        self.check_rs(i)?;
        if banner.contains(['\r', '\n']) {
            return Err(LabError::Spec(format!(
                "SMTP banner {banner:?} must be one line"
            )));
        }
        write_atomic(&self.state_dir(i), SMTP_BANNER_FILE, banner.as_bytes())
    }

    /// Back to the defaults: `/health` 200 with `rsI ok`, DNS RCODE 0, the
    /// standard SMTP banner. TLS files are kept.
    pub fn reset_health(&self, i: usize) -> Result<(), LabError> {
        self.check_rs(i)?;
        let dir = self.state_dir(i);
        for name in [STATUS_FILE, BODY_FILE, DNS_RCODE_FILE, SMTP_BANNER_FILE] {
            remove(&dir, name)?;
        }
        Ok(())
    }

    /// Give real server `i` a TLS certificate chain and private key (PEM);
    /// its backend serves HTTPS on 443 from its next
    /// [`start_backend`](Self::start_backend) on.
    pub fn write_tls(&self, i: usize, cert_pem: &str, key_pem: &str) -> Result<(), LabError> {
        self.check_rs(i)?;
        let dir = self.state_dir(i);
        write_atomic(&dir, KEY_FILE, key_pem.as_bytes())?;
        write_atomic(&dir, CERT_FILE, cert_pem.as_bytes())
    }

    /// Remove real server `i`'s certificate: no HTTPS from its next
    /// [`start_backend`](Self::start_backend) on.
    pub fn remove_tls(&self, i: usize) -> Result<(), LabError> {
        self.check_rs(i)?;
        let dir = self.state_dir(i);
        remove(&dir, CERT_FILE)?;
        remove(&dir, KEY_FILE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_and_leaves_no_temporary() {
        let dir = std::env::temp_dir().join(format!("xvs-lab-state-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        write_atomic(&dir, STATUS_FILE, b"503").unwrap();
        write_atomic(&dir, STATUS_FILE, b"200").unwrap();
        assert_eq!(std::fs::read(dir.join(STATUS_FILE)).unwrap(), b"200");
        let names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, [STATUS_FILE]);
        remove(&dir, STATUS_FILE).unwrap();
        remove(&dir, STATUS_FILE).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn file_names_match_the_backend_script() {
        let script = std::fs::read_to_string(crate::backends::script("lab-backend.py")).unwrap();
        for name in [
            STATUS_FILE,
            BODY_FILE,
            DNS_RCODE_FILE,
            SMTP_BANNER_FILE,
            CERT_FILE,
            KEY_FILE,
        ] {
            assert!(script.contains(&format!("\"{name}\"")), "{name}");
        }
    }
}
