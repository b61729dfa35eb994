//! The descriptor budget: every probe in flight holds one descriptor (a
//! socket or a pidfd), so RLIMIT_NOFILE must leave room for
//! `max_in_flight` of them on top of what the daemon already has open.
//!
//! Layer: driver.

use std::io;

/// Descriptors kept in hand beyond the probes: the epoll instance, the
/// waker, the shared ICMP sockets, notify scripts' pidfds, TLS CA files
/// being read, and the rest of the daemon's growth.
const RESERVE: u64 = 64;

fn get() -> io::Result<libc::rlimit> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit(2) writes one `struct rlimit` to the pointer, which
    // points at a live local of that type.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(limit)
}

fn set(limit: &libc::rlimit) -> io::Result<()> {
    // SAFETY: setrlimit(2) reads one `struct rlimit` from the pointer, a
    // live reference of that type.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, limit) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

fn open_now() -> u64 {
    std::fs::read_dir("/proc/self/fd")
        .map(|dir| dir.count() as u64)
        .unwrap_or(0)
}

/// Raises the soft RLIMIT_NOFILE to the hard one when the soft one is too
/// low for `max_in_flight` probes; an error saying what to change when
/// even the hard limit is too low.
pub(crate) fn ensure_fd_budget(max_in_flight: usize) -> io::Result<()> {
    let needed = open_now() + max_in_flight as u64 + RESERVE;
    let limit = get()?;
    if limit.rlim_cur == libc::RLIM_INFINITY || limit.rlim_cur >= needed {
        return Ok(());
    }
    if limit.rlim_max != libc::RLIM_INFINITY && limit.rlim_max < needed {
        return Err(io::Error::other(format!(
            "max_in_flight {max_in_flight} needs about {needed} file descriptors, but \
             RLIMIT_NOFILE's hard limit is {}: raise it (LimitNOFILE= in the service \
             unit, or ulimit -Hn) or lower max_in_flight",
            limit.rlim_max
        )));
    }
    // An infinite hard limit cannot be the soft one for descriptors (it
    // must stay under fs.nr_open): ask for what is needed.
    let raised = if limit.rlim_max == libc::RLIM_INFINITY {
        needed
    } else {
        limit.rlim_max
    };
    set(&libc::rlimit {
        rlim_cur: raised,
        rlim_max: limit.rlim_max,
    })
    .map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("raising RLIMIT_NOFILE to {raised} for max_in_flight {max_in_flight}: {e}"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_budget_fits_and_leaves_the_limit_at_least_as_high() {
        let before = get().expect("getrlimit");
        ensure_fd_budget(16).expect("16 probes fit any sane limit");
        let after = get().expect("getrlimit");
        assert!(after.rlim_cur >= before.rlim_cur);
    }

    #[test]
    fn an_impossible_budget_is_an_error_that_says_what_to_change() {
        let err = ensure_fd_budget(usize::MAX / 4).expect_err("no limit is that high");
        let text = err.to_string();
        assert!(text.contains("max_in_flight"), "{text}");
    }
}
