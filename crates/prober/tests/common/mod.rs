//! Helpers shared by the engine's tests: loopback servers on ephemeral
//! ports (std threads), and a poll loop with a generous bound.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use xvs_probe::{Endpoint, Probe, ProbeId, ProbeKind};
use xvs_prober::{Finished, Prober, ProberConfig};

pub fn prober() -> Prober {
    Prober::new(ProberConfig { max_in_flight: 64 }).expect("prober")
}

pub fn endpoint(target: SocketAddr) -> Endpoint {
    Endpoint { target, bind: None }
}

pub fn probe(timeout: Duration, kind: ProbeKind) -> Probe {
    Probe { timeout, kind }
}

/// Polls until `count` probes have finished, in the order they finished.
/// Panics after `bound` (kept generous: the machine is shared).
pub fn run(prober: &mut Prober, count: usize, bound: Duration) -> Vec<Finished> {
    let deadline = Instant::now() + bound;
    let mut finished = Vec::new();
    while finished.len() < count {
        assert!(
            Instant::now() < deadline,
            "only {} of {count} probes finished within {bound:?}: {finished:?}",
            finished.len()
        );
        prober
            .poll(Some(Duration::from_millis(100)), &mut finished)
            .expect("poll");
    }
    finished
}

/// Runs one probe to its end.
pub fn run_one(prober: &mut Prober, probe: Probe) -> Finished {
    prober.start(1, probe);
    let mut finished = run(prober, 1, Duration::from_secs(30));
    assert_eq!(finished.len(), 1);
    finished.remove(0)
}

pub fn by_id(finished: &[Finished], id: ProbeId) -> &Finished {
    finished
        .iter()
        .find(|f| f.id == id)
        .unwrap_or_else(|| panic!("probe {id} not among {finished:?}"))
}

pub fn reason(f: &Finished) -> String {
    match &f.outcome {
        xvs_probe::Outcome::Fail { reason } => reason.clone(),
        other => panic!("probe {} passed: {other:?}", f.id),
    }
}

/// A file path of this test process's own, removed by the caller or left
/// in the temp dir.
pub fn temp_path(name: &str) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    std::env::temp_dir().join(format!("xvs-prober-{}-{n}-{name}", std::process::id()))
}

/// Reads one HTTP request head (up to the blank line).
pub fn read_head(stream: &mut impl Read) -> Vec<u8> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => break,
        }
    }
    head
}

/// An HTTP server answering every connection with `response` and closing.
pub fn http_server(response: Vec<u8>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let response = response.clone();
            thread::spawn(move || {
                read_head(&mut stream);
                let _ = stream.write_all(&response);
            });
        }
    });
    addr
}

/// A server that accepts connections and never says anything.
pub fn silent_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    thread::spawn(move || {
        let mut held: Vec<TcpStream> = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream);
        }
    });
    addr
}

/// A loopback port nothing listens on (bound, then released).
pub fn closed_tcp_port() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr")
}

pub fn response(status: u16, body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.0 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// One line of /proc/<pid>/stat that matters here.
pub struct ProcStat {
    pub pid: u32,
    pub state: char,
    pub ppid: u32,
    pub pgrp: u32,
}

/// Every process on the host, as /proc shows it now.
pub fn processes() -> Vec<ProcStat> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(entry.path().join("stat")).ok()?;
            // "pid (comm) S ppid pgrp ...": comm may hold spaces and parens.
            let rest = &stat[stat.rfind(')')? + 2..];
            let mut fields = rest.split(' ');
            let state = fields.next()?.chars().next()?;
            let ppid = fields.next()?.parse().ok()?;
            let pgrp = fields.next()?.parse().ok()?;
            Some(ProcStat {
                pid,
                state,
                ppid,
                pgrp,
            })
        })
        .collect()
}

/// Zombie children of this test process.
pub fn zombie_children() -> Vec<u32> {
    let me = std::process::id();
    processes()
        .into_iter()
        .filter(|p| p.ppid == me && p.state == 'Z')
        .map(|p| p.pid)
        .collect()
}

/// Live (not zombie) members of process group `pgrp`.
pub fn live_group_members(pgrp: u32) -> Vec<u32> {
    processes()
        .into_iter()
        .filter(|p| p.pgrp == pgrp && p.state != 'Z')
        .map(|p| p.pid)
        .collect()
}

/// Waits up to `bound` for `done()`; whether it came true.
pub fn eventually(bound: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + bound;
    loop {
        if done() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(20));
    }
}
