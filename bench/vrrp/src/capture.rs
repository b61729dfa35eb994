//! What a lab segment carried, with the kernel's receive time: a packet
//! socket opened inside one lab namespace (a thread that `setns`es there)
//! keeps every ARP frame (who claims which address, from which MAC) and
//! every VRRP advert (source, VRID, priority). The kernel stamps a frame
//! when it receives it (SO_TIMESTAMPNS, CLOCK_REALTIME), so the figure
//! does not depend on when this thread runs.
//!
//! Two uses: in the client's namespace, the first ARP frame from the
//! backup's MAC that claims the VIP is when the VIP moved as the client
//! sees it (a new master announces its addresses with gratuitous ARP,
//! keepalived and xvs alike); in the backup's namespace, the gaps between
//! the master's adverts are what the backup's down timer measures.

use std::io::IoSliceMut;
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;

use anyhow::{anyhow, Context, Result};
use nix::sched::{setns, CloneFlags};
use nix::sys::socket::{
    recvmsg, setsockopt, socket, sockopt, AddressFamily, ControlMessageOwned, LinkAddr, MsgFlags,
    SockFlag, SockProtocol, SockType,
};
use nix::sys::time::{TimeSpec, TimeVal};
use std::os::fd::AsRawFd;

/// What a frame said.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum What {
    /// An ARP request or reply whose sender address is `addr`: the sender
    /// claims it (gratuitous ARP, or an answer for it).
    Arp { addr: Ipv4Addr, op: u16 },
    /// A VRRP advert (IP protocol 112).
    Advert {
        src: Ipv4Addr,
        vrid: u8,
        priority: u8,
    },
}

/// One frame of interest and when the kernel received it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Frame {
    pub t: f64,
    /// The Ethernet source.
    pub mac: [u8; 6],
    pub what: What,
}

const ETH_HEADER: usize = 14;
const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_ARP: u16 = 0x0806;
const IPPROTO_VRRP: u8 = 112;

/// The part of `frame` this bench looks at, if any (RFC 826 for ARP over
/// Ethernet, RFC 5798 §5.1 for the advert's first bytes).
pub fn parse(frame: &[u8]) -> Option<(Option<[u8; 6]>, What)> {
    let mac: [u8; 6] = frame.get(6..12)?.try_into().ok()?;
    let ethertype = u16::from_be_bytes([*frame.get(12)?, *frame.get(13)?]);
    let rest = frame.get(ETH_HEADER..)?;
    match ethertype {
        ETHERTYPE_ARP => {
            // htype 1 (Ethernet), ptype IPv4, hlen 6, plen 4.
            if rest.get(..6)? != [0, 1, 8, 0, 6, 4] {
                return None;
            }
            let op = u16::from_be_bytes([rest[6], rest[7]]);
            let spa: [u8; 4] = rest.get(14..18)?.try_into().ok()?;
            Some((
                Some(mac),
                What::Arp {
                    addr: Ipv4Addr::from(spa),
                    op,
                },
            ))
        }
        ETHERTYPE_IPV4 => {
            let ihl = usize::from(rest.first()? & 0x0f) * 4;
            if *rest.get(9)? != IPPROTO_VRRP || ihl < 20 {
                return None;
            }
            let src: [u8; 4] = rest.get(12..16)?.try_into().ok()?;
            let vrrp = rest.get(ihl..)?;
            Some((
                Some(mac),
                What::Advert {
                    src: Ipv4Addr::from(src),
                    vrid: *vrrp.get(1)?,
                    priority: *vrrp.get(2)?,
                },
            ))
        }
        _ => None,
    }
}

/// A running capture; stopped when dropped.
#[derive(Debug)]
pub struct Capture {
    frames: Arc<Mutex<Vec<Frame>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Capture {
    /// Capture on `iface` in network namespace `ns` (a name `ip netns`
    /// knows). Returns once the socket is open.
    pub fn start(ns: &str, iface: &str) -> Result<Capture> {
        let frames = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<()>>();
        let (ns, iface) = (ns.to_owned(), iface.to_owned());
        let (f, s) = (frames.clone(), stop.clone());
        let thread = std::thread::Builder::new()
            .name("capture".into())
            .spawn(move || {
                let fd = match open(&ns, &iface) {
                    Ok(v) => {
                        let _ = ready_tx.send(Ok(()));
                        v
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                read_frames(fd, &f, &s);
            })?;
        ready_rx
            .recv()
            .map_err(|_| anyhow!("the capture thread ended before opening its socket"))??;
        Ok(Capture {
            frames,
            stop,
            thread: Some(thread),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Frame>> {
        self.frames.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The frames received in `[from, to)` that `pred` accepts.
    pub fn between(&self, from: f64, to: f64, pred: impl Fn(&Frame) -> bool) -> Vec<Frame> {
        self.lock()
            .iter()
            .filter(|f| f.t >= from && f.t < to && pred(f))
            .copied()
            .collect()
    }

    /// The first frame at or after `since` that `pred` accepts.
    pub fn first_since(&self, since: f64, pred: impl Fn(&Frame) -> bool) -> Option<Frame> {
        self.lock()
            .iter()
            .find(|f| f.t >= since && pred(f))
            .copied()
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The socket and the interface index to keep, opened in `ns`.
struct Opened {
    fd: std::os::fd::OwnedFd,
    ifindex: usize,
}

fn open(ns: &str, iface: &str) -> Result<Opened> {
    let path = format!("/run/netns/{ns}");
    let netns = std::fs::File::open(&path).with_context(|| path.clone())?;
    // Only this thread moves; the rest of the bench stays where it is.
    setns(&netns, CloneFlags::CLONE_NEWNET).with_context(|| format!("setns {path}"))?;
    let ifindex =
        nix::net::if_::if_nametoindex(iface).with_context(|| format!("{iface} in {ns}"))?;
    let fd = socket(
        AddressFamily::Packet,
        SockType::Raw,
        SockFlag::SOCK_CLOEXEC,
        SockProtocol::EthAll,
    )
    .context("packet socket")?;
    setsockopt(&fd, sockopt::ReceiveTimestampns, &true).context("SO_TIMESTAMPNS")?;
    // Wake up now and then to see whether to stop.
    setsockopt(&fd, sockopt::ReceiveTimeout, &TimeVal::new(0, 100_000)).context("SO_RCVTIMEO")?;
    Ok(Opened {
        fd,
        ifindex: usize::try_from(ifindex).unwrap_or(usize::MAX),
    })
}

fn read_frames(opened: Opened, frames: &Mutex<Vec<Frame>>, stop: &AtomicBool) {
    let mut buf = vec![0u8; 2048];
    let mut cmsg = nix::cmsg_space!(TimeSpec);
    while !stop.load(Ordering::Relaxed) {
        let (n, t, ifindex) = {
            let mut iov = [IoSliceMut::new(&mut buf)];
            let msg = match recvmsg::<LinkAddr>(
                opened.fd.as_raw_fd(),
                &mut iov,
                Some(&mut cmsg),
                MsgFlags::empty(),
            ) {
                Ok(m) => m,
                Err(nix::errno::Errno::EAGAIN | nix::errno::Errno::EINTR) => continue,
                Err(_) => return,
            };
            let t = msg.cmsgs().ok().and_then(|mut c| {
                c.find_map(|m| match m {
                    ControlMessageOwned::ScmTimestampns(ts) => {
                        Some(ts.tv_sec() as f64 + ts.tv_nsec() as f64 * 1e-9)
                    }
                    _ => None,
                })
            });
            (msg.bytes, t, msg.address.map(|a| a.ifindex()))
        };
        if ifindex != Some(opened.ifindex) {
            continue;
        }
        let Some((Some(mac), what)) = parse(&buf[..n.min(buf.len())]) else {
            continue;
        };
        let t = t.unwrap_or_else(crate::stamp::unix_now);
        frames
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(Frame { t, mac, what });
    }
}

/// The longest gap between consecutive frames (by time), and how many
/// gaps exceed `over`.
pub fn gaps(times: &[f64], over: f64) -> (f64, usize) {
    let mut longest = 0.0f64;
    let mut count = 0;
    for w in times.windows(2) {
        let g = w[1] - w[0];
        longest = longest.max(g);
        if g > over {
            count += 1;
        }
    }
    (longest, count)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A gratuitous ARP request for 198.18.0.100 from 02:00:00:00:00:02,
    /// as keepalived and xvs send it.
    const GARP: [u8; 42] = [
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0, 0, 0, 0, 0x02, 0x08, 0x06, // Ethernet
        0, 1, 8, 0, 6, 4, 0, 1, // Ethernet/IPv4, request
        0x02, 0, 0, 0, 0, 0x02, 198, 18, 0, 100, // sender
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 198, 18, 0, 100, // target
    ];

    /// A VRRPv3 advert from 198.18.0.2, VRID 51, priority 150, 1 s.
    const ADVERT: [u8; 46] = [
        0x01, 0x00, 0x5e, 0x00, 0x00, 0x12, 0x02, 0, 0, 0, 0, 0x01, 0x08, 0x00, // Ethernet
        0x45, 0xc0, 0x00, 0x20, 0, 0, 0, 0, 255, 112, 0, 0, 198, 18, 0, 2, 224, 0, 0,
        18, // IPv4
        0x31, 51, 150, 1, 0x00, 0x64, 0, 0, 198, 18, 0, 100, // VRRP
    ];

    #[test]
    fn gratuitous_arp_names_its_sender() {
        let (mac, what) = parse(&GARP).unwrap();
        assert_eq!(mac, Some([2, 0, 0, 0, 0, 2]));
        assert_eq!(
            what,
            What::Arp {
                addr: Ipv4Addr::new(198, 18, 0, 100),
                op: 1
            }
        );
        // Cut short, or not Ethernet/IPv4: nothing.
        assert_eq!(parse(&GARP[..30]), None);
        let mut other = GARP;
        other[16] = 0x86;
        assert_eq!(parse(&other), None);
    }

    #[test]
    fn adverts_name_their_router_and_priority() {
        let (_, what) = parse(&ADVERT).unwrap();
        assert_eq!(
            what,
            What::Advert {
                src: Ipv4Addr::new(198, 18, 0, 2),
                vrid: 51,
                priority: 150
            }
        );
        let mut tcp = ADVERT;
        tcp[23] = 6;
        assert_eq!(parse(&tcp), None);
        assert_eq!(parse(&ADVERT[..35]), None);
    }

    #[test]
    fn gaps_are_measured_between_neighbours() {
        let (longest, over) = gaps(&[0.0, 0.01, 0.02, 0.07, 0.08], 0.03);
        assert!((longest - 0.05).abs() < 1e-9);
        assert_eq!(over, 1);
        assert_eq!(gaps(&[1.0], 0.0), (0.0, 0));
    }
}
