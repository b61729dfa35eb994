//! FILE_CHECK: read the tracked file (its first [`MAX_LEN`] bytes) and let
//! `xvs_probe::file::evaluate` read the number in it.
//!
//! Layer: driver. The read happens at once, on the loop: the file is
//! local and small. It is opened non-blocking so that a FIFO put where a
//! file was expected cannot stall every other probe.

use std::fs::OpenOptions;
use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use xvs_probe::Outcome;

use crate::net::describe;
use xvs_probe::file;

/// keepalived reads a tracked file's first line; 4 KiB holds any number.
pub(crate) const MAX_LEN: u64 = 4096;

pub(crate) fn check(path: &Path, weight: i64, reverse: bool) -> Outcome {
    let mut bytes = Vec::new();
    let read = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .and_then(|f| f.take(MAX_LEN).read_to_end(&mut bytes));
    if let Err(e) = read {
        return Outcome::fail(format!("cannot read {}: {}", path.display(), describe(&e)));
    }
    file::evaluate(&String::from_utf8_lossy(&bytes), weight, reverse)
}
