//! The floor the health thread is measured against: the simplest program
//! that makes the same checks from the same namespace — every target once
//! a second, ten milliseconds' worth at a time (the health thread's own
//! batching), blocking sockets, no event loop, no state machine, no
//! status. TCP: connect, then close with a reset (SO_LINGER 0, as the
//! prober does, so both leave no TIME_WAIT). HTTP: connect, keepalived's
//! request, read to the end, check the status line, close.
//!
//! Prints one line: `checks failed user_seconds system_seconds elapsed`.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

/// The batching interval.
const SLOT: Duration = Duration::from_millis(10);
const TIMEOUT: Duration = Duration::from_secs(2);

pub fn run(targets: &Path, kind: &str, seconds: u64) -> Result<()> {
    let text = std::fs::read_to_string(targets).with_context(|| targets.display().to_string())?;
    let targets: Vec<SocketAddr> = text.lines().filter_map(|l| l.trim().parse().ok()).collect();
    anyhow::ensure!(!targets.is_empty(), "no targets");
    let http = kind == "http";
    let per_slot = (targets.len() as f64 * SLOT.as_secs_f64()).max(1.0);
    let (user0, sys0) = crate::times(std::process::id(), None)?;
    let start = Instant::now();
    let (mut checks, mut failed, mut owed, mut next) = (0u64, 0u64, 0.0, 0usize);
    let mut slot_end = start + SLOT;
    while start.elapsed() < Duration::from_secs(seconds) {
        owed += per_slot;
        while owed >= 1.0 {
            owed -= 1.0;
            let target = targets[next % targets.len()];
            next += 1;
            checks += 1;
            let ok = if http {
                http_check(target)
            } else {
                tcp_check(target)
            };
            if !ok {
                failed += 1;
            }
        }
        let now = Instant::now();
        if slot_end > now {
            std::thread::sleep(slot_end - now);
        }
        slot_end += SLOT;
    }
    let elapsed = start.elapsed().as_secs_f64();
    let (user1, sys1) = crate::times(std::process::id(), None)?;
    println!(
        "{checks} {failed} {:.3} {:.3} {elapsed:.3}",
        user1 - user0,
        sys1 - sys0
    );
    Ok(())
}

fn connect(target: SocketAddr) -> Option<TcpStream> {
    let stream = TcpStream::connect_timeout(&target, TIMEOUT).ok()?;
    let reset = nix::libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    nix::sys::socket::setsockopt(&stream, nix::sys::socket::sockopt::Linger, &reset).ok()?;
    Some(stream)
}

fn tcp_check(target: SocketAddr) -> bool {
    connect(target).is_some()
}

fn http_check(target: SocketAddr) -> bool {
    let Some(mut stream) = connect(target) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(TIMEOUT));
    let request =
        format!("GET /health HTTP/1.0\r\nUser-Agent: KeepAliveClient\r\nHost: {target}\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut answer = Vec::new();
    if stream.read_to_end(&mut answer).is_err() {
        return false;
    }
    answer.starts_with(b"HTTP/1.0 200") || answer.starts_with(b"HTTP/1.1 200")
}
