//! An AF_XDP socket bound to one (interface, queue), with its four rings
//! mmap'd (Documentation/networking/af_xdp.rst). The first socket of a
//! worker registers the worker's [`Umem`]; the others share it
//! (XDP_SHARED_UMEM, each with its own fill and completion ring, which the
//! kernel requires when the device or queue differs).

use std::ffi::CString;
use std::io;
use std::mem::{size_of, MaybeUninit};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::ptr::NonNull;
use std::sync::atomic::AtomicU32;

use crate::ring::Ring;
use crate::umem::Umem;

/// A packet descriptor on the RX/TX rings (struct xdp_desc).
pub type Desc = libc::xdp_desc;

/// Zero-copy or copy mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BindMode {
    /// Zero-copy when the driver supports it, else copy (veth: copy).
    Auto,
    ZeroCopy,
    Copy,
}

/// Why a socket could not be set up; each names the step and the OS error.
#[derive(Debug, thiserror::Error)]
pub enum XskError {
    #[error("interface {0:?} not found")]
    NoSuchInterface(String),
    #[error("AF_XDP {step} on {iface} queue {queue}: {source}")]
    Os {
        step: &'static str,
        iface: String,
        queue: u32,
        #[source]
        source: io::Error,
    },
    #[error("ring size {0} is not a power of two")]
    RingSize(u32),
}

/// One mmap'd ring region, unmapped on drop.
#[derive(Debug)]
struct Mapping {
    ptr: NonNull<u8>,
    len: usize,
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: exactly the region mapped in `map_ring`.
        unsafe { libc::munmap(self.ptr.as_ptr().cast(), self.len) };
    }
}

// SAFETY: the mapping is owned memory; moving it with its socket is fine.
unsafe impl Send for Mapping {}

/// An AF_XDP socket. Drop closes it (the kernel detaches it from the
/// XSKMAP and releases the queue).
#[derive(Debug)]
pub struct XskSocket {
    // Field order matters for Drop: rings (pointers into the mappings) and
    // mappings go before the fd.
    pub rx: Ring<Desc>,
    pub tx: Ring<Desc>,
    pub fill: Ring<u64>,
    pub comp: Ring<u64>,
    _maps: [Mapping; 4],
    fd: OwnedFd,
    iface: String,
    ifindex: u32,
    queue: u32,
    zero_copy: bool,
}

fn os<'a>(
    step: &'static str,
    iface: &'a str,
    queue: u32,
) -> impl FnOnce(io::Error) -> XskError + 'a {
    move |source| XskError::Os {
        step,
        iface: iface.to_string(),
        queue,
        source,
    }
}

fn check(rc: libc::c_int) -> io::Result<()> {
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

fn setsockopt<T>(fd: RawFd, opt: libc::c_int, val: &T) -> io::Result<()> {
    // SAFETY: `val` points at a live T of the size we pass.
    check(unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_XDP,
            opt,
            (val as *const T).cast(),
            size_of::<T>() as libc::socklen_t,
        )
    })
}

/// The kernel's ifindex for `name`.
pub fn ifindex(name: &str) -> Result<u32, XskError> {
    let c = CString::new(name).map_err(|_| XskError::NoSuchInterface(name.into()))?;
    // SAFETY: `c` is a valid NUL-terminated string.
    let idx = unsafe { libc::if_nametoindex(c.as_ptr()) };
    if idx == 0 {
        Err(XskError::NoSuchInterface(name.into()))
    } else {
        Ok(idx)
    }
}

impl XskSocket {
    /// Create a socket on `iface` queue `queue` with rings of `ring_size`
    /// entries. With `shared` = None it registers `umem`; otherwise it
    /// shares the UMEM `shared` registered (same `umem` must be passed).
    pub fn bind(
        umem: &Umem,
        shared: Option<&XskSocket>,
        iface: &str,
        queue: u32,
        ring_size: u32,
        mode: BindMode,
    ) -> Result<XskSocket, XskError> {
        if !ring_size.is_power_of_two() {
            return Err(XskError::RingSize(ring_size));
        }
        let ifindex = ifindex(iface)?;
        // A socket sharing another's UMEM inherits its mode: the kernel
        // refuses mode and need_wakeup flags with XDP_SHARED_UMEM.
        if let Some(s) = shared {
            return Self::try_bind(
                umem,
                shared,
                iface,
                ifindex,
                queue,
                ring_size,
                0,
                s.zero_copy,
            );
        }
        let attempts: &[(u16, bool)] = match mode {
            BindMode::Auto => &[(libc::XDP_ZEROCOPY, true), (libc::XDP_COPY, false)],
            BindMode::ZeroCopy => &[(libc::XDP_ZEROCOPY, true)],
            BindMode::Copy => &[(libc::XDP_COPY, false)],
        };
        let mut last = None;
        for &(flag, zc) in attempts {
            match Self::try_bind(umem, shared, iface, ifindex, queue, ring_size, flag, zc) {
                Ok(s) => return Ok(s),
                // Zero-copy unsupported by the driver: fall back to copy.
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or(XskError::RingSize(ring_size)))
    }

    #[allow(clippy::too_many_arguments)]
    fn try_bind(
        umem: &Umem,
        shared: Option<&XskSocket>,
        iface: &str,
        ifindex: u32,
        queue: u32,
        ring_size: u32,
        mode_flag: u16,
        zero_copy: bool,
    ) -> Result<XskSocket, XskError> {
        // SAFETY: plain socket(2) call; the fd is owned below.
        let raw = unsafe { libc::socket(libc::AF_XDP, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) };
        if raw < 0 {
            return Err(os("socket", iface, queue)(io::Error::last_os_error()));
        }
        // SAFETY: `raw` is a fresh fd we own.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let f = fd.as_raw_fd();
        if shared.is_none() {
            let (addr, len) = umem.area();
            let reg = libc::xdp_umem_reg {
                addr: addr as u64,
                len: len as u64,
                chunk_size: umem.frame_size(),
                headroom: 0,
                flags: 0,
                tx_metadata_len: 0,
            };
            setsockopt(f, libc::XDP_UMEM_REG, &reg).map_err(os("UMEM register", iface, queue))?;
        }
        for opt in [
            libc::XDP_UMEM_FILL_RING,
            libc::XDP_UMEM_COMPLETION_RING,
            libc::XDP_RX_RING,
            libc::XDP_TX_RING,
        ] {
            setsockopt(f, opt, &ring_size).map_err(os("ring setup", iface, queue))?;
        }
        let mut off = MaybeUninit::<libc::xdp_mmap_offsets>::zeroed();
        let mut optlen = size_of::<libc::xdp_mmap_offsets>() as libc::socklen_t;
        // SAFETY: `off` has room for the struct; the kernel fills it.
        check(unsafe {
            libc::getsockopt(
                f,
                libc::SOL_XDP,
                libc::XDP_MMAP_OFFSETS,
                off.as_mut_ptr().cast(),
                &mut optlen,
            )
        })
        .map_err(os("mmap offsets", iface, queue))?;
        // SAFETY: zero-initialised and filled by getsockopt.
        let off = unsafe { off.assume_init() };

        let desc_len = size_of::<Desc>();
        let rx_map = map_ring(
            f,
            libc::XDP_PGOFF_RX_RING as u64,
            &off.rx,
            ring_size,
            desc_len,
        )
        .map_err(os("mmap rx", iface, queue))?;
        let tx_map = map_ring(
            f,
            libc::XDP_PGOFF_TX_RING as u64,
            &off.tx,
            ring_size,
            desc_len,
        )
        .map_err(os("mmap tx", iface, queue))?;
        let fill_map = map_ring(f, libc::XDP_UMEM_PGOFF_FILL_RING, &off.fr, ring_size, 8)
            .map_err(os("mmap fill", iface, queue))?;
        let comp_map = map_ring(
            f,
            libc::XDP_UMEM_PGOFF_COMPLETION_RING,
            &off.cr,
            ring_size,
            8,
        )
        .map_err(os("mmap completion", iface, queue))?;

        let mut sxdp = libc::sockaddr_xdp {
            sxdp_family: libc::AF_XDP as u16,
            sxdp_flags: if shared.is_some() {
                0
            } else {
                mode_flag | libc::XDP_USE_NEED_WAKEUP
            },
            sxdp_ifindex: ifindex,
            sxdp_queue_id: queue,
            sxdp_shared_umem_fd: 0,
        };
        if let Some(s) = shared {
            sxdp.sxdp_flags |= libc::XDP_SHARED_UMEM;
            sxdp.sxdp_shared_umem_fd = s.fd() as u32;
        }
        // SAFETY: `sxdp` is a valid sockaddr_xdp of the size passed.
        check(unsafe {
            libc::bind(
                f,
                (&sxdp as *const libc::sockaddr_xdp).cast(),
                size_of::<libc::sockaddr_xdp>() as libc::socklen_t,
            )
        })
        .map_err(os("bind", iface, queue))?;

        // SAFETY: each mapping covers its ring's producer, consumer, flags
        // and descriptor array at the offsets the kernel reported, and the
        // mappings live in the same struct as the rings (dropped after them).
        let (rx, tx, fill, comp) = unsafe {
            (
                ring_at(&rx_map, &off.rx, ring_size, false),
                ring_at(&tx_map, &off.tx, ring_size, true),
                ring_at(&fill_map, &off.fr, ring_size, true),
                ring_at(&comp_map, &off.cr, ring_size, false),
            )
        };
        Ok(XskSocket {
            rx,
            tx,
            fill,
            comp,
            _maps: [rx_map, tx_map, fill_map, comp_map],
            fd,
            iface: iface.to_string(),
            ifindex,
            queue,
            zero_copy,
        })
    }

    pub fn fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    pub fn iface(&self) -> &str {
        &self.iface
    }

    pub fn ifindex(&self) -> u32 {
        self.ifindex
    }

    pub fn queue(&self) -> u32 {
        self.queue
    }

    pub fn is_zero_copy(&self) -> bool {
        self.zero_copy
    }

    /// Kick the kernel to transmit what is on the TX ring (needed in copy
    /// mode, and in zero-copy mode when the TX ring asks for a wakeup).
    pub fn kick_tx(&self) {
        // SAFETY: sendto with a null buffer of length 0 is the documented
        // AF_XDP TX wakeup; errors (EAGAIN/EBUSY/ENOBUFS) mean "try later".
        unsafe {
            libc::sendto(
                self.fd(),
                std::ptr::null(),
                0,
                libc::MSG_DONTWAIT,
                std::ptr::null(),
                0,
            )
        };
    }

    /// Wake the kernel's RX processing when the fill ring asks for it.
    pub fn kick_rx(&self) {
        // SAFETY: recvfrom with a null buffer of length 0 is the documented
        // AF_XDP RX/fill wakeup.
        unsafe {
            libc::recvfrom(
                self.fd(),
                std::ptr::null_mut(),
                0,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
            )
        };
    }

    /// Kernel-side drop statistics (rx_dropped, rx_ring_full, fill ring empty, ...).
    pub fn statistics(&self) -> io::Result<libc::xdp_statistics> {
        let mut st = MaybeUninit::<libc::xdp_statistics>::zeroed();
        let mut len = size_of::<libc::xdp_statistics>() as libc::socklen_t;
        // SAFETY: `st` has room for the struct.
        check(unsafe {
            libc::getsockopt(
                self.fd(),
                libc::SOL_XDP,
                libc::XDP_STATISTICS,
                st.as_mut_ptr().cast(),
                &mut len,
            )
        })?;
        // SAFETY: zero-initialised and (partly) filled by the kernel.
        Ok(unsafe { st.assume_init() })
    }
}

/// Block until any of `fds` is readable or `timeout_ms` passes (the
/// adaptive idle policy's sleep).
pub fn poll_readable(fds: &[RawFd], timeout_ms: i32) -> io::Result<usize> {
    let mut pfds: Vec<libc::pollfd> = fds
        .iter()
        .map(|&fd| libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    // SAFETY: `pfds` is a valid array of `len` pollfds.
    let n = unsafe { libc::poll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, timeout_ms) };
    if n < 0 {
        let e = io::Error::last_os_error();
        if e.kind() == io::ErrorKind::Interrupted {
            return Ok(0);
        }
        return Err(e);
    }
    Ok(n as usize)
}

fn map_ring(
    fd: RawFd,
    pgoff: u64,
    off: &libc::xdp_ring_offset,
    size: u32,
    desc_len: usize,
) -> io::Result<Mapping> {
    let len = off.desc as usize + size as usize * desc_len;
    // SAFETY: mapping the ring region of an AF_XDP socket at the kernel's
    // page offset; checked for MAP_FAILED.
    let ptr = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED | libc::MAP_POPULATE,
            fd,
            pgoff as libc::off_t,
        )
    };
    if ptr == libc::MAP_FAILED {
        return Err(io::Error::last_os_error());
    }
    let ptr =
        NonNull::new(ptr.cast::<u8>()).ok_or_else(|| io::Error::other("mmap returned null"))?;
    Ok(Mapping { ptr, len })
}

/// # Safety
/// `map` must be the mapping of a ring described by `off` with `size`
/// entries of `T`.
unsafe fn ring_at<T: Copy>(
    map: &Mapping,
    off: &libc::xdp_ring_offset,
    size: u32,
    producing: bool,
) -> Ring<T> {
    let base = map.ptr.as_ptr();
    // SAFETY: the offsets come from the kernel for this mapping; the
    // producer/consumer/flags words are u32 and suitably aligned, the
    // descriptor array holds `size` entries (the mapping length includes it).
    unsafe {
        let at = |o: u64| NonNull::new_unchecked(base.add(o as usize));
        Ring::new(
            at(off.producer).cast::<AtomicU32>(),
            at(off.consumer).cast::<AtomicU32>(),
            Some(at(off.flags).cast::<AtomicU32>()),
            at(off.desc).cast::<T>(),
            size,
            producing,
        )
    }
}
