//! xvs-route: the kernel side of announcing VIPs over BGP.
//!
//! xvs does not speak BGP; BIRD does, and announces what it learns from
//! a kernel routing table (BIRD's `kernel` protocol with `learn`). The
//! director tells BIRD "this VIP can be served here" by installing the
//! route `VIP/32 dev <device> proto <n> table <t>` and "it cannot" by
//! removing it ([`RouteDevice::announce`], [`RouteDevice::withdraw`]).
//!
//! The device is a TUN device created without `TUNSETPERSIST`: the
//! kernel removes it, and every route through it, when the last file
//! descriptor on it closes — when xvs exits, and equally when it is
//! killed with SIGKILL or crashes, with nothing run by the dead process.
//! BIRD learns of the removal over netlink and withdraws the VIPs from
//! its BGP peers at once. A route through a device was chosen over the
//! VIP as a local address (which BIRD's `direct` protocol would pick up):
//! a local address would make the kernel answer ARP for the VIP on every
//! interface (arp_ignore 0) and deliver traffic for it locally; a route
//! in a table no `ip rule` consults changes nothing on the director.
//!
//! Layer: driver. `unsafe` is allowed here for the one ioctl that binds
//! the TUN device; rtnetlink messages are pure functions tested on bytes.

#![allow(unsafe_code)]

mod netlink;
mod tun;

use std::net::IpAddr;
use std::os::fd::OwnedFd;

pub use netlink::{RouteSpec, RTPROT_XVS};

/// Why a route device or route could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum RouteError {
    #[error("device name {0:?}: 1 to 15 bytes, no '/' or whitespace")]
    BadName(String),
    #[error(
        "an interface named {0} exists already: xvs must create it itself, so that it \
         disappears with the process (another xvs running? a device left by `ip tuntap add`? \
         remove it with `ip link del {0}` or choose announce.device)"
    )]
    Exists(String),
    #[error("cannot open /dev/net/tun: {0} (is the tun module loaded? xvs needs CAP_NET_ADMIN)")]
    OpenTun(std::io::Error),
    #[error(
        "TUNSETIFF {name}: {source} (EBUSY: another process holds the device — another xvs running?)"
    )]
    Bind {
        name: String,
        source: std::io::Error,
    },
    #[error("{name}: no such interface after creating it: {source}")]
    Index { name: String, source: nix::Error },
    #[error("rtnetlink {call}: {source}")]
    Socket {
        call: &'static str,
        source: nix::Error,
    },
    #[error("{what}: the kernel refused: {source}")]
    Kernel {
        what: String,
        source: std::io::Error,
    },
    #[error("malformed rtnetlink reply: {0}")]
    Malformed(&'static str),
}

/// The TUN device and the VIP routes through it.
#[derive(Debug)]
pub struct RouteDevice {
    /// Holding this keeps the device (and its routes) alive.
    _fd: OwnedFd,
    name: String,
    ifindex: u32,
    table: u32,
    protocol: u8,
}

impl RouteDevice {
    /// Create the device `name` (non-persistent), bring it up, and make
    /// routes in kernel table `table` with route protocol `protocol`.
    pub fn create(name: &str, table: u32, protocol: u8) -> Result<RouteDevice, RouteError> {
        // TUNSETIFF on an existing persistent TUN device attaches to it
        // instead of making a new one: its routes would then outlive xvs,
        // the one thing this device is for.
        if nix::net::if_::if_nametoindex(name).is_ok() {
            return Err(RouteError::Exists(name.to_string()));
        }
        let fd = tun::create(name)?;
        let ifindex = nix::net::if_::if_nametoindex(name).map_err(|source| RouteError::Index {
            name: name.to_string(),
            source,
        })?;
        netlink::request(
            &netlink::encode_link_up(1, ifindex),
            1,
            &format!("bringing {name} up"),
        )?;
        Ok(RouteDevice {
            _fd: fd,
            name: name.to_string(),
            ifindex,
            table,
            protocol,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    fn spec(&self, vip: IpAddr) -> RouteSpec {
        RouteSpec {
            dst: vip,
            ifindex: self.ifindex,
            table: self.table,
            protocol: self.protocol,
        }
    }

    /// Install `vip`'s host route (replacing an identical one).
    pub fn announce(&self, vip: IpAddr) -> Result<(), RouteError> {
        let msg = netlink::encode_route(2, &self.spec(vip), true);
        netlink::request(
            &msg,
            2,
            &format!("adding the route to {vip} via {}", self.name),
        )
    }

    /// Remove `vip`'s host route (already gone is fine).
    pub fn withdraw(&self, vip: IpAddr) -> Result<(), RouteError> {
        let msg = netlink::encode_route(3, &self.spec(vip), false);
        match netlink::request(&msg, 3, &format!("removing the route to {vip}")) {
            Err(RouteError::Kernel { source, .. })
                if matches!(source.raw_os_error(), Some(libc::ESRCH | libc::ENOENT)) =>
            {
                Ok(())
            }
            other => other,
        }
    }
}
