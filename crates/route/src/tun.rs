//! Creating a non-persistent TUN device (Documentation/networking/tuntap.rst):
//! open /dev/net/tun and bind it to a name with TUNSETIFF. Without
//! TUNSETPERSIST the device is unregistered when the descriptor closes,
//! which the kernel does for a process however it ends.

use std::fs::OpenOptions;
use std::os::fd::{AsRawFd, OwnedFd};

use crate::RouteError;

/// `_IOW('T', 202, int)` from include/uapi/linux/if_tun.h.
const TUNSETIFF: u32 = 0x4004_54ca;
const IFF_TUN: u16 = 0x0001;
/// No packet-information header on reads (xvs never reads).
const IFF_NO_PI: u16 = 0x1000;
/// `struct ifreq`: a 16-byte name, then a 24-byte union whose first
/// member for TUNSETIFF is the `short` flags.
const IFREQ_LEN: usize = 40;

pub(crate) fn valid_name(name: &str) -> bool {
    (1..16).contains(&name.len())
        && !name
            .bytes()
            .any(|b| b == b'/' || b == 0 || b.is_ascii_whitespace())
}

pub(crate) fn ifreq(name: &str) -> [u8; IFREQ_LEN] {
    let mut req = [0u8; IFREQ_LEN];
    req[..name.len()].copy_from_slice(name.as_bytes());
    req[16..18].copy_from_slice(&(IFF_TUN | IFF_NO_PI).to_ne_bytes());
    req
}

pub(crate) fn create(name: &str) -> Result<OwnedFd, RouteError> {
    if !valid_name(name) {
        return Err(RouteError::BadName(name.to_string()));
    }
    // O_CLOEXEC (std's default): scripts xvs runs must not inherit the
    // descriptor, or the device would outlive xvs in them.
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/net/tun")
        .map_err(RouteError::OpenTun)?;
    let mut req = ifreq(name);
    // SAFETY: `file` is an open /dev/net/tun descriptor and `req` is a
    // 40-byte buffer laid out as `struct ifreq` (name NUL-terminated since
    // valid_name caps it at 15 bytes), which TUNSETIFF reads and may write
    // back within its size; it outlives the call.
    let rc = unsafe { libc::ioctl(file.as_raw_fd(), TUNSETIFF as _, req.as_mut_ptr()) };
    if rc < 0 {
        return Err(RouteError::Bind {
            name: name.to_string(),
            source: std::io::Error::last_os_error(),
        });
    }
    Ok(OwnedFd::from(file))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_kernel_accepts() {
        assert!(valid_name("xvs-bgp"));
        assert!(valid_name("a23456789012345"));
        assert!(!valid_name("a234567890123456"), "16 bytes leave no NUL");
        assert!(!valid_name(""));
        assert!(!valid_name("a/b"));
        assert!(!valid_name("a b"));
    }

    #[test]
    fn ifreq_has_the_name_then_the_flags() {
        let r = ifreq("xvs0");
        assert_eq!(&r[..5], b"xvs0\0");
        assert_eq!(u16::from_ne_bytes([r[16], r[17]]), 0x1001);
        assert!(r[18..].iter().all(|&b| b == 0));
    }
}
