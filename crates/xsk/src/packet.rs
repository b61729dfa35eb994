//! A raw link-layer (AF_PACKET) socket bound to one interface: how the
//! control thread sends ARP/ND replies, gratuitous ARP and neighbour
//! solicitations, and hears the ARP replies and neighbour advertisements
//! that the steering program leaves to the kernel (an AF_PACKET socket sees
//! every frame the kernel receives on the interface, so xvs and the kernel
//! both learn neighbours without the XDP program duplicating frames).

use std::io;
use std::mem::size_of;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use crate::socket::{ifindex, XskError};

/// Ethertypes to listen for.
pub const ETH_P_ARP: u16 = 0x0806;
pub const ETH_P_IPV6: u16 = 0x86DD;
pub const ETH_P_IP: u16 = 0x0800;

#[derive(Debug)]
pub struct PacketSocket {
    fd: OwnedFd,
    ifindex: u32,
    ethertype: u16,
}

impl PacketSocket {
    /// Open a non-blocking socket on `iface` receiving frames of `ethertype`.
    pub fn open(iface: &str, ethertype: u16) -> Result<PacketSocket, XskError> {
        let idx = ifindex(iface)?;
        let err = |step, source| XskError::Os {
            step,
            iface: iface.to_string(),
            queue: 0,
            source,
        };
        let proto = ethertype.to_be();
        // SAFETY: plain socket(2); the fd is owned below.
        let raw = unsafe {
            libc::socket(
                libc::AF_PACKET,
                libc::SOCK_RAW | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                i32::from(proto),
            )
        };
        if raw < 0 {
            return Err(err("packet socket", io::Error::last_os_error()));
        }
        // SAFETY: `raw` is a fresh fd we own.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let sll = sockaddr_ll(idx, proto);
        // SAFETY: `sll` is a valid sockaddr_ll of the size passed.
        let rc = unsafe {
            libc::bind(
                fd.as_raw_fd(),
                (&sll as *const libc::sockaddr_ll).cast(),
                size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        if rc < 0 {
            return Err(err("packet bind", io::Error::last_os_error()));
        }
        Ok(PacketSocket {
            fd,
            ifindex: idx,
            ethertype,
        })
    }

    pub fn fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// The ethertype the socket was opened for.
    pub fn ethertype(&self) -> u16 {
        self.ethertype
    }

    /// Keep only IPv4 (or IPv6) frames whose IP protocol (next header) is
    /// `protocol`: a classic BPF socket filter, `ether[12:2] = 0x800 and
    /// ip[9] = protocol` (IPv6: `0x86dd` and `ip6[6]`; extension headers
    /// are not walked), so the socket wakes for nothing else.
    pub fn filter_ip_protocol(&self, ipv6: bool, protocol: u8) -> io::Result<()> {
        let (ethertype, offset) = if ipv6 {
            (u32::from(ETH_P_IPV6), 14 + 6)
        } else {
            (u32::from(ETH_P_IP), 14 + 9)
        };
        let code = [
            // ldh [12]: the ethertype
            libc::sock_filter {
                code: 0x28,
                jt: 0,
                jf: 0,
                k: 12,
            },
            // jeq #ethertype, next, drop
            libc::sock_filter {
                code: 0x15,
                jt: 0,
                jf: 3,
                k: ethertype,
            },
            // ldb [offset]: the protocol / next header
            libc::sock_filter {
                code: 0x30,
                jt: 0,
                jf: 0,
                k: offset,
            },
            // jeq #protocol, accept, drop
            libc::sock_filter {
                code: 0x15,
                jt: 0,
                jf: 1,
                k: u32::from(protocol),
            },
            // ret #0x40000: the whole frame
            libc::sock_filter {
                code: 0x06,
                jt: 0,
                jf: 0,
                k: 0x40000,
            },
            // ret #0: drop
            libc::sock_filter {
                code: 0x06,
                jt: 0,
                jf: 0,
                k: 0,
            },
        ];
        let prog = libc::sock_fprog {
            len: code.len() as u16,
            filter: code.as_ptr().cast_mut(),
        };
        // SAFETY: `prog` points at `code`, valid for the call; the kernel
        // copies the program.
        let rc = unsafe {
            libc::setsockopt(
                self.fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_ATTACH_FILTER,
                (&prog as *const libc::sock_fprog).cast(),
                size_of::<libc::sock_fprog>() as libc::socklen_t,
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        // Frames queued before the filter was attached passed no filter.
        let mut buf = [0u8; 64];
        while let Ok(Some(_)) = self.recv(&mut buf) {}
        Ok(())
    }

    /// Receive frames sent to the link-layer multicast address `mac` on
    /// this interface (PACKET_ADD_MEMBERSHIP: the NIC's filter lets them in).
    pub fn join_multicast(&self, mac: [u8; 6]) -> io::Result<()> {
        self.add_membership(libc::PACKET_MR_MULTICAST, Some(mac))
    }

    /// Receive every frame on the interface whatever its destination MAC
    /// (PACKET_MR_PROMISC): a virtual MAC xvs answers for must reach it.
    pub fn promiscuous(&self) -> io::Result<()> {
        self.add_membership(libc::PACKET_MR_PROMISC, None)
    }

    fn add_membership(&self, kind: i32, mac: Option<[u8; 6]>) -> io::Result<()> {
        // SAFETY: packet_mreq is plain data; all-zero is valid.
        let mut mreq: libc::packet_mreq = unsafe { std::mem::zeroed() };
        mreq.mr_ifindex = self.ifindex as i32;
        mreq.mr_type = kind as u16;
        if let Some(mac) = mac {
            mreq.mr_alen = 6;
            mreq.mr_address[..6].copy_from_slice(&mac);
        }
        // SAFETY: `mreq` is a valid packet_mreq of the size passed.
        let rc = unsafe {
            libc::setsockopt(
                self.fd.as_raw_fd(),
                libc::SOL_PACKET,
                libc::PACKET_ADD_MEMBERSHIP,
                (&mreq as *const libc::packet_mreq).cast(),
                size_of::<libc::packet_mreq>() as libc::socklen_t,
            )
        };
        if rc < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(())
        }
    }

    /// Transmit one complete Ethernet frame on the interface.
    pub fn send(&self, frame: &[u8]) -> io::Result<()> {
        let sll = sockaddr_ll(self.ifindex, 0);
        // SAFETY: `frame` is a valid buffer of its length; `sll` a valid address.
        let n = unsafe {
            libc::sendto(
                self.fd.as_raw_fd(),
                frame.as_ptr().cast(),
                frame.len(),
                0,
                (&sll as *const libc::sockaddr_ll).cast(),
                size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        if n < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(())
        }
    }

    /// Receive one frame the kernel received (outgoing copies are skipped).
    /// `Ok(None)` when nothing is waiting.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        loop {
            // SAFETY: zeroed sockaddr_ll is a valid out-parameter.
            let mut from: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
            let mut len = size_of::<libc::sockaddr_ll>() as libc::socklen_t;
            // SAFETY: `buf` is writable for its length; `from`/`len` valid.
            let n = unsafe {
                libc::recvfrom(
                    self.fd.as_raw_fd(),
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                    0,
                    (&mut from as *mut libc::sockaddr_ll).cast(),
                    &mut len,
                )
            };
            if n < 0 {
                let e = io::Error::last_os_error();
                return match e.kind() {
                    io::ErrorKind::WouldBlock => Ok(None),
                    io::ErrorKind::Interrupted => continue,
                    _ => Err(e),
                };
            }
            if from.sll_pkttype == libc::PACKET_OUTGOING {
                continue;
            }
            return Ok(Some(n as usize));
        }
    }
}

fn sockaddr_ll(ifindex: u32, proto_be: u16) -> libc::sockaddr_ll {
    // SAFETY: sockaddr_ll is plain data; all-zero is valid.
    let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    sll.sll_family = libc::AF_PACKET as u16;
    sll.sll_protocol = proto_be;
    sll.sll_ifindex = ifindex as i32;
    sll
}

/// A raw IP socket for one protocol that is only ever drained. While one
/// is open the kernel does not answer packets of that protocol sent to a
/// local address with ICMP protocol-unreachable: VRRP adverts unicast to
/// the director are read from its AF_PACKET socket instead.
#[derive(Debug)]
pub struct IpProtocolSink {
    fd: OwnedFd,
}

impl IpProtocolSink {
    pub fn open(ipv6: bool, protocol: u8) -> io::Result<IpProtocolSink> {
        let family = if ipv6 { libc::AF_INET6 } else { libc::AF_INET };
        // SAFETY: plain socket(2); the fd is owned below.
        let raw = unsafe {
            libc::socket(
                family,
                libc::SOCK_RAW | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                i32::from(protocol),
            )
        };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `raw` is a fresh fd we own.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        Ok(IpProtocolSink { fd })
    }

    pub fn fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// Throw away whatever is queued.
    pub fn drain(&self) {
        let mut buf = [0u8; 2048];
        loop {
            // SAFETY: `buf` is writable for its length.
            let n = unsafe {
                libc::recv(
                    self.fd.as_raw_fd(),
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                    libc::MSG_DONTWAIT,
                )
            };
            if n <= 0 {
                break;
            }
        }
    }
}
