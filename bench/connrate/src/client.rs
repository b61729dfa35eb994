//! The client side of the bench (bench layer): many short TCP connections
//! (connect, a small request, the whole response, close), kept
//! `concurrency` at a time on one epoll loop, optionally paced; and a few
//! long-lived streams that write as fast as TCP lets them. Both count what
//! actually happened (completed exchanges and bytes the peer acknowledged),
//! so a run that measures a failure path shows it.

use std::io;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};

use crate::sys::{self, Epoll, READ, WRITE};
use crate::{REQUEST, RESPONSE};

/// What one load run does.
#[derive(Clone, Debug)]
pub struct LoadSpec {
    pub target: SocketAddrV4,
    /// Source addresses, used in turn (each has the whole ephemeral range).
    pub sources: Vec<Ipv4Addr>,
    /// Connections in flight at most.
    pub concurrency: usize,
    /// How long new connections are opened for.
    pub duration: Duration,
    /// A connection not finished after this long counts as timed out.
    pub timeout: Duration,
    /// New connections per second at most; 0 = as fast as they complete.
    pub rate: u64,
}

/// What one load run did. A connection is one exchange: connect, send
/// [`REQUEST`], read [`RESPONSE`] to the server's close, close.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LoadReport {
    /// Connections opened (attempted).
    pub opened: u64,
    /// Whole exchanges, completed while new connections were being opened.
    pub completed: u64,
    /// Whole exchanges completed after the opening window (in flight at
    /// its end).
    pub completed_late: u64,
    /// Of the completed ones, those that took over a second (a SYN was
    /// retransmitted: the first one got no answer).
    pub slow: u64,
    /// The connect failed (refused, reset, unreachable).
    pub connect_failed: u64,
    /// Connected, but reset or closed before the whole response.
    pub broken: u64,
    /// Not finished within the timeout.
    pub timed_out: u64,
    /// No local port or address for a new connection.
    pub no_port: u64,
    /// Response bytes received in completed exchanges.
    pub bytes: u64,
    /// The opening window, seconds.
    pub elapsed_s: f64,
    /// Per second of the window (by when the connection was opened):
    /// (opened, completed in the end).
    pub per_second: Vec<(u64, u64)>,
    /// The first error seen, for the log.
    pub first_error: Option<String>,
}

impl LoadReport {
    /// Connections that ended, one way or another.
    pub fn ended(&self) -> u64 {
        self.completed
            + self.completed_late
            + self.connect_failed
            + self.broken
            + self.timed_out
            + self.no_port
    }

    /// Completed exchanges per second of the window.
    pub fn rate(&self) -> f64 {
        self.completed as f64 / self.elapsed_s.max(1e-9)
    }

    /// Share of the ended connections that completed.
    pub fn success(&self) -> f64 {
        (self.completed + self.completed_late) as f64 / (self.ended().max(1)) as f64
    }

    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "opened": self.opened,
            "completed": self.completed,
            "completed_late": self.completed_late,
            "slow": self.slow,
            "connect_failed": self.connect_failed,
            "broken": self.broken,
            "timed_out": self.timed_out,
            "no_port": self.no_port,
            "bytes": self.bytes,
            "elapsed_s": self.elapsed_s,
            "per_second": self.per_second,
            "first_error": self.first_error,
        })
    }

    pub fn from_json(v: &serde_json::Value) -> Option<LoadReport> {
        let n = |k: &str| v[k].as_u64();
        Some(LoadReport {
            opened: n("opened")?,
            completed: n("completed")?,
            completed_late: n("completed_late")?,
            slow: n("slow")?,
            connect_failed: n("connect_failed")?,
            broken: n("broken")?,
            timed_out: n("timed_out")?,
            no_port: n("no_port")?,
            bytes: n("bytes")?,
            elapsed_s: v["elapsed_s"].as_f64()?,
            per_second: v["per_second"]
                .as_array()?
                .iter()
                .map(|p| Some((p[0].as_u64()?, p[1].as_u64()?)))
                .collect::<Option<_>>()?,
            first_error: v["first_error"].as_str().map(str::to_owned),
        })
    }
}

#[derive(Debug, PartialEq)]
enum Stage {
    Connecting,
    Reading,
}

#[derive(Debug)]
struct Conn {
    fd: OwnedFd,
    stage: Stage,
    started: Instant,
    got: usize,
    /// Index of the second of the window it was opened in.
    second: usize,
    late: bool,
}

enum Outcome {
    Completed,
    ConnectFailed(io::Error),
    Broken(String),
}

/// Run the short-connection load.
pub fn run_load(spec: &LoadSpec) -> io::Result<LoadReport> {
    if spec.sources.is_empty() || spec.concurrency == 0 {
        return Err(io::Error::other("no sources or no concurrency"));
    }
    let mut ep = Epoll::new(spec.concurrency.min(4096))?;
    let mut slots: Vec<Option<Conn>> = (0..spec.concurrency).map(|_| None).collect();
    let mut free: Vec<usize> = (0..spec.concurrency).rev().collect();
    let mut report = LoadReport::default();
    let seconds = spec.duration.as_secs_f64().ceil().max(1.0) as usize;
    report.per_second = vec![(0, 0); seconds];
    let start = Instant::now();
    let end = start + spec.duration;
    let interval = (spec.rate > 0).then(|| Duration::from_secs_f64(1.0 / spec.rate as f64));
    let mut next_open = start;
    let mut next_src = 0usize;
    let mut ready = Vec::new();
    let mut buf = vec![0u8; 4096];
    let mut last_scan = start;
    let mut in_flight = 0usize;
    loop {
        let now = Instant::now();
        let opening = now < end;
        if opening {
            while let Some(&i) = free.last() {
                if interval.is_some() && now < next_open {
                    break;
                }
                free.pop();
                if let Some(iv) = interval {
                    next_open += iv;
                    // A stall is not made up for with a burst.
                    if next_open + iv < now {
                        next_open = now;
                    }
                }
                let second = ((now - start).as_secs_f64() as usize).min(seconds - 1);
                report.opened += 1;
                report.per_second[second].0 += 1;
                let src = spec.sources[next_src % spec.sources.len()];
                next_src += 1;
                match open(spec.target, src) {
                    Ok(fd) => {
                        ep.add(&fd, WRITE, i as u64)?;
                        slots[i] = Some(Conn {
                            fd,
                            stage: Stage::Connecting,
                            started: now,
                            got: 0,
                            second,
                            late: false,
                        });
                        in_flight += 1;
                    }
                    Err(e) => {
                        let no_port = matches!(
                            e.raw_os_error(),
                            Some(libc::EADDRNOTAVAIL) | Some(libc::EADDRINUSE) | Some(libc::EMFILE)
                        );
                        if no_port {
                            report.no_port += 1;
                        } else {
                            report.connect_failed += 1;
                        }
                        report
                            .first_error
                            .get_or_insert_with(|| format!("connect: {e}"));
                        free.push(i);
                        if no_port {
                            // Out of ports or files: retrying at once would spin.
                            break;
                        }
                    }
                }
            }
        } else if in_flight == 0 {
            break;
        }
        if !opening && now >= end + spec.timeout {
            // What is still open has timed out: the scan below would say so.
            for conn in slots.iter_mut() {
                if conn.take().is_some() {
                    report.timed_out += 1;
                }
            }
            break;
        }
        let wait_ms = match interval {
            Some(_) => 1,
            None if free.is_empty() || !opening => 10,
            None => 0,
        };
        ep.wait(wait_ms, &mut ready)?;
        for &(token, events) in &ready {
            let i = token as usize;
            let Some(conn) = slots[i].as_mut() else {
                continue;
            };
            let outcome = match step(conn, events, &ep, i, &mut buf) {
                Ok(None) => continue,
                Ok(Some(o)) => o,
                Err(e) => Outcome::Broken(e.to_string()),
            };
            let conn = slots[i].take().expect("slot checked above");
            in_flight -= 1;
            free.push(i);
            let late = conn.late;
            match outcome {
                Outcome::Completed => {
                    if late {
                        report.completed_late += 1;
                    } else {
                        report.completed += 1;
                    }
                    report.per_second[conn.second].1 += 1;
                    report.bytes += conn.got as u64;
                    if conn.started.elapsed() > Duration::from_secs(1) {
                        report.slow += 1;
                    }
                }
                Outcome::ConnectFailed(e) => {
                    report.connect_failed += 1;
                    report
                        .first_error
                        .get_or_insert_with(|| format!("connect: {e}"));
                }
                Outcome::Broken(why) => {
                    report.broken += 1;
                    report.first_error.get_or_insert(why);
                }
            }
        }
        let now = Instant::now();
        if now >= end && report.elapsed_s == 0.0 {
            report.elapsed_s = spec.duration.as_secs_f64();
            for conn in slots.iter_mut().flatten() {
                conn.late = true;
            }
        }
        if now - last_scan >= Duration::from_millis(20) {
            last_scan = now;
            for (i, slot) in slots.iter_mut().enumerate() {
                if slot
                    .as_ref()
                    .is_some_and(|c| now - c.started >= spec.timeout)
                {
                    *slot = None;
                    in_flight -= 1;
                    free.push(i);
                    report.timed_out += 1;
                    report
                        .first_error
                        .get_or_insert_with(|| "timed out".to_owned());
                }
            }
        }
    }
    if report.elapsed_s == 0.0 {
        report.elapsed_s = spec.duration.as_secs_f64();
    }
    Ok(report)
}

fn open(target: SocketAddrV4, src: Ipv4Addr) -> io::Result<OwnedFd> {
    let fd = sys::tcp_socket()?;
    sys::bind_source(&fd, src)?;
    sys::connect(&fd, target)?;
    Ok(fd)
}

/// Advance one connection on a readiness event; Some when it ended.
fn step(
    conn: &mut Conn,
    events: u32,
    ep: &Epoll,
    token: usize,
    buf: &mut [u8],
) -> io::Result<Option<Outcome>> {
    if conn.stage == Stage::Connecting {
        if let Some(e) = sys::take_error(&conn.fd)? {
            return Ok(Some(Outcome::ConnectFailed(e)));
        }
        if events & WRITE == 0 {
            return Ok(None);
        }
        match sys::write(&conn.fd, REQUEST)? {
            Some(n) if n == REQUEST.len() => {}
            // A 16-byte request into an empty socket buffer is sent whole.
            _ => return Ok(Some(Outcome::Broken("request not sent whole".into()))),
        }
        conn.stage = Stage::Reading;
        ep.modify(&conn.fd, READ, token as u64)?;
        return Ok(None);
    }
    loop {
        match sys::read(&conn.fd, buf) {
            Ok(Some(0)) => {
                return Ok(Some(if conn.got == RESPONSE.len() {
                    Outcome::Completed
                } else {
                    Outcome::Broken(format!(
                        "response of {} bytes, not {}",
                        conn.got,
                        RESPONSE.len()
                    ))
                }));
            }
            Ok(Some(n)) => {
                let at = conn.got;
                conn.got += n;
                // Check what arrived against the response: another server
                // (or a proxy's error page) must not count.
                if conn.got > RESPONSE.len() || buf[..n] != RESPONSE[at..at + n] {
                    return Ok(Some(Outcome::Broken("unexpected response bytes".into())));
                }
            }
            Ok(None) => return Ok(None),
            Err(e) => return Ok(Some(Outcome::Broken(format!("read: {e}")))),
        }
    }
}

/// What one stream run does: `streams` connections from `source`, each
/// writing as fast as TCP lets it for `duration`.
#[derive(Clone, Debug)]
pub struct StreamSpec {
    pub target: SocketAddrV4,
    pub source: Ipv4Addr,
    pub streams: usize,
    pub duration: Duration,
}

/// What the streams achieved: bytes the receiver acknowledged, in total
/// and per second of the run.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StreamReport {
    pub connected: usize,
    pub failed: usize,
    pub acked_bytes: u64,
    pub elapsed_s: f64,
    /// Bytes acknowledged in each second of the run.
    pub per_second: Vec<u64>,
    pub first_error: Option<String>,
}

impl StreamReport {
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "connected": self.connected,
            "failed": self.failed,
            "acked_bytes": self.acked_bytes,
            "elapsed_s": self.elapsed_s,
            "per_second": self.per_second,
            "first_error": self.first_error,
        })
    }

    pub fn from_json(v: &serde_json::Value) -> Option<StreamReport> {
        Some(StreamReport {
            connected: v["connected"].as_u64()? as usize,
            failed: v["failed"].as_u64()? as usize,
            acked_bytes: v["acked_bytes"].as_u64()?,
            elapsed_s: v["elapsed_s"].as_f64()?,
            per_second: v["per_second"]
                .as_array()?
                .iter()
                .map(serde_json::Value::as_u64)
                .collect::<Option<_>>()?,
            first_error: v["first_error"].as_str().map(str::to_owned),
        })
    }
}

/// Run the streams.
pub fn run_streams(spec: &StreamSpec) -> io::Result<StreamReport> {
    let mut ep = Epoll::new(spec.streams.max(1))?;
    let mut report = StreamReport::default();
    let mut conns: Vec<Option<(OwnedFd, bool, u64)>> = Vec::new();
    for i in 0..spec.streams {
        match open(spec.target, spec.source) {
            Ok(fd) => {
                ep.add(&fd, WRITE, i as u64)?;
                conns.push(Some((fd, false, 0)));
            }
            Err(e) => {
                report.failed += 1;
                report
                    .first_error
                    .get_or_insert_with(|| format!("connect: {e}"));
                conns.push(None);
            }
        }
    }
    let chunk = vec![0x5au8; 64 * 1024];
    let start = Instant::now();
    let end = start + spec.duration;
    let mut ready = Vec::new();
    let mut next_sample = start + Duration::from_secs(1);
    let mut last_acked = 0u64;
    // Bytes of streams that failed, counted as written: what the peer
    // had acknowledged is no longer readable once the socket is gone.
    let mut retired = 0u64;
    let acked = |conns: &[Option<(OwnedFd, bool, u64)>], retired: u64| -> u64 {
        retired
            + conns
                .iter()
                .flatten()
                .map(|(fd, _, written)| written.saturating_sub(sys::unacked(fd).unwrap_or(0)))
                .sum::<u64>()
    };
    while Instant::now() < end {
        ep.wait(10, &mut ready)?;
        for &(token, _) in &ready {
            let i = token as usize;
            let Some((fd, connected, written)) = conns[i].as_mut() else {
                continue;
            };
            if !*connected {
                if let Some(e) = sys::take_error(fd)? {
                    report.failed += 1;
                    report
                        .first_error
                        .get_or_insert_with(|| format!("connect: {e}"));
                    conns[i] = None;
                    continue;
                }
                *connected = true;
                report.connected += 1;
            }
            loop {
                match sys::write(fd, &chunk) {
                    Ok(Some(n)) => *written += n as u64,
                    Ok(None) => break,
                    Err(e) => {
                        report.failed += 1;
                        report
                            .first_error
                            .get_or_insert_with(|| format!("write: {e}"));
                        retired += *written;
                        conns[i] = None;
                        break;
                    }
                }
            }
        }
        let now = Instant::now();
        if now >= next_sample {
            next_sample += Duration::from_secs(1);
            let a = acked(&conns, retired);
            report.per_second.push(a.saturating_sub(last_acked));
            last_acked = a;
        }
    }
    report.elapsed_s = start.elapsed().as_secs_f64();
    report.acked_bytes = acked(&conns, retired);
    Ok(report)
}
