//! [`Decap`]: the TUN-mode receive helper attached on a real server
//! (`xvs decap --iface IF --vip VIP...`). It strips the outer IPv4/IPv6
//! header of tunnelled packets whose inner destination is one of the VIPs
//! and passes the inner packet to the kernel stack; see `bpf/decap.c`.

use std::collections::BTreeMap;
use std::net::IpAddr;

use crate::attach::{self, Attachment};
use crate::rules::{v4_key, v6_key};
use crate::steer::{percpu_sum, sync_map};
use crate::{AttachMode, XdpError, DECAP_OBJECT, DECAP_PROGRAM};

/// Capacity of the `vip4` and `vip6` maps, as in decap.c.
pub const VIP_CAPACITY: usize = 4096;

/// Packet counts of the decap program, summed over CPUs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DecapCounters {
    /// Tunnelled packets for a VIP, decapsulated and passed on.
    pub decapsulated: u64,
    /// Everything else, passed untouched.
    pub passed: u64,
}

/// The decap program attached to one interface. Detaches on drop.
#[derive(Debug)]
pub struct Decap {
    attachment: Attachment,
}

impl Decap {
    /// Loads the decap program with `vips` in its maps and attaches it to
    /// `ifname` (in the calling thread's network namespace), replacing a
    /// stale xvs program left there. The VIPs are in place before the
    /// program is attached, so no tunnelled packet is missed.
    pub fn attach(ifname: &str, vips: &[IpAddr], mode: AttachMode) -> Result<Decap, XdpError> {
        let mut ebpf = attach::load(DECAP_OBJECT, DECAP_PROGRAM)?;
        let mut v4 = BTreeMap::new();
        let mut v6 = BTreeMap::new();
        for vip in vips {
            match vip {
                IpAddr::V4(a) => v4.insert(v4_key(*a), 1u8),
                IpAddr::V6(a) => v6.insert(v6_key(*a), 1u8),
            };
        }
        for (map, count) in [("vip4", v4.len()), ("vip6", v6.len())] {
            if count > VIP_CAPACITY {
                return Err(XdpError::Capacity {
                    map,
                    count,
                    capacity: VIP_CAPACITY,
                });
            }
        }
        sync_map(&mut ebpf, "vip4", &mut BTreeMap::new(), &v4)?;
        sync_map(&mut ebpf, "vip6", &mut BTreeMap::new(), &v6)?;
        let attachment = Attachment::attach(ebpf, DECAP_PROGRAM, ifname, mode)?;
        Ok(Decap { attachment })
    }

    /// The interface this program is attached to.
    pub fn ifname(&self) -> &str {
        &self.attachment.ifname
    }

    /// The program's counters, summed over CPUs.
    pub fn counters(&self) -> Result<DecapCounters, XdpError> {
        let ebpf = &self.attachment.ebpf;
        Ok(DecapCounters {
            decapsulated: percpu_sum(ebpf, 0)?,
            passed: percpu_sum(ebpf, 1)?,
        })
    }
}
