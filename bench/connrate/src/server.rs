//! The real servers' side of the bench (bench layer): one epoll loop that
//! answers every connection on the request port with [`RESPONSE`] once it
//! has read [`REQUEST`], then closes it (the server closes first, as an
//! HTTP/1.0 server does, so TIME_WAIT stays on the servers and the
//! client's ports are free again at once), and reads and discards
//! whatever arrives on the sink port (the long-lived streams).

use std::io;
use std::net::SocketAddrV4;
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crate::sys::{self, Epoll, READ};
use crate::{REQUEST, RESPONSE};

const REQUEST_LISTENER: u64 = 0;
const SINK_LISTENER: u64 = 1;
const FIRST_CONN: u64 = 2;

/// What the server has done so far (readable from another thread).
#[derive(Debug, Default)]
pub struct ServerStats {
    pub answered: AtomicU64,
    pub sunk_bytes: AtomicU64,
}

#[derive(Debug)]
struct Conn {
    fd: OwnedFd,
    sink: bool,
    got: usize,
}

/// The listening sockets, bound before the loop runs (so a caller knows
/// the ports, and the lab knows the server is ready once it printed them).
#[derive(Debug)]
pub struct Server {
    request: OwnedFd,
    sink: Option<OwnedFd>,
}

impl Server {
    pub fn bind(request: SocketAddrV4, sink: Option<SocketAddrV4>) -> io::Result<Server> {
        Ok(Server {
            request: sys::listen(request, 4096)?,
            sink: sink.map(|a| sys::listen(a, 64)).transpose()?,
        })
    }

    /// (request port, sink port).
    pub fn ports(&self) -> io::Result<(u16, Option<u16>)> {
        Ok((
            sys::local_port(&self.request)?,
            self.sink.as_ref().map(sys::local_port).transpose()?,
        ))
    }

    /// Serve until `stop` is set (checked every 50 ms).
    pub fn run(self, stop: &AtomicBool, stats: &ServerStats) -> io::Result<()> {
        let mut ep = Epoll::new(1024)?;
        ep.add(&self.request, READ, REQUEST_LISTENER)?;
        if let Some(s) = &self.sink {
            ep.add(s, READ, SINK_LISTENER)?;
        }
        let mut conns: Vec<Option<Conn>> = Vec::new();
        let mut free: Vec<usize> = Vec::new();
        let mut ready = Vec::new();
        let mut buf = vec![0u8; 256 * 1024];
        while !stop.load(Ordering::Relaxed) {
            ep.wait(50, &mut ready)?;
            for &(token, _) in &ready {
                if token == REQUEST_LISTENER || token == SINK_LISTENER {
                    let sink = token == SINK_LISTENER;
                    let listener = if sink {
                        self.sink.as_ref().expect("registered only when bound")
                    } else {
                        &self.request
                    };
                    while let Some(fd) = sys::accept(listener)? {
                        let i = free.pop().unwrap_or_else(|| {
                            conns.push(None);
                            conns.len() - 1
                        });
                        ep.add(&fd, READ, FIRST_CONN + i as u64)?;
                        conns[i] = Some(Conn { fd, sink, got: 0 });
                    }
                    continue;
                }
                let i = (token - FIRST_CONN) as usize;
                let Some(conn) = conns[i].as_mut() else {
                    continue;
                };
                if serve(conn, &mut buf, stats) {
                    // Closing drops it from the epoll set.
                    conns[i] = None;
                    free.push(i);
                }
            }
        }
        Ok(())
    }
}

/// Read what is there; true when the connection is done with.
fn serve(conn: &mut Conn, buf: &mut [u8], stats: &ServerStats) -> bool {
    loop {
        match sys::read(&conn.fd, buf) {
            Ok(Some(0)) | Err(_) => return true,
            Ok(None) => return false,
            Ok(Some(n)) if conn.sink => {
                stats.sunk_bytes.fetch_add(n as u64, Ordering::Relaxed);
            }
            Ok(Some(n)) => {
                conn.got += n;
                if conn.got >= REQUEST.len() {
                    // 128 bytes into an empty socket buffer go out whole;
                    // if not, the client sees a short response and counts
                    // it as broken.
                    if let Ok(Some(_)) = sys::write(&conn.fd, RESPONSE) {
                        stats.answered.fetch_add(1, Ordering::Relaxed);
                    }
                    return true;
                }
            }
        }
    }
}
