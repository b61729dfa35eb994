//! Loading an embedded program and attaching it to an interface so that a
//! restart always works, plus the crate's error type.
//!
//! How a stale program is recognised: xvs attaches through a BPF link
//! (`bpf_link_create`, Linux 5.9+), which the kernel releases — detaching
//! the program — when the last file descriptor to it closes, i.e. when the
//! process exits for any reason, crashes included. So on this kernel a dead
//! xvs leaves nothing. What can be left is a program attached the legacy
//! way (netlink `IFLA_XDP_FD`, as aya falls back to on old kernels, or as a
//! tool did): it stays until someone removes it. Before attaching, xvs asks
//! rtnetlink which programs the interface has and, for each:
//! - named like one of xvs's ([`OUR_PROGRAMS`]) and not held by any live
//!   BPF link: stale, detached by identity (`XDP_FLAGS_REPLACE` with the
//!   stale program as `IFLA_XDP_EXPECTED_FD`, so a program someone attached
//!   a moment later is never removed by mistake);
//! - named like xvs's but held by a BPF link: a running process owns it
//!   (another xvs on the same interface); refused with [`XdpError::Busy`];
//! - anything else: not ours, refused with [`XdpError::ForeignProgram`].

use std::os::fd::AsFd;

use aya::programs::links::LinkType;
use aya::programs::xdp::XdpLinkId;
use aya::programs::{loaded_links, loaded_programs, Xdp};
use aya::Ebpf;

use crate::netlink::{self, NetlinkError};
use crate::{AttachMode, DECAP_PROGRAM, STEER_PROGRAM};

/// Kernel names of the programs xvs attaches; a legacy-attached program
/// with one of these names is taken to be a leftover of a previous run.
pub const OUR_PROGRAMS: &[&str] = &[STEER_PROGRAM, DECAP_PROGRAM];

/// Why loading, attaching or updating an XDP program failed.
#[derive(Debug, thiserror::Error)]
pub enum XdpError {
    /// The embedded object could not be loaded (BPF syscalls refused,
    /// verifier rejection, missing privileges).
    #[error(
        "loading the {program} XDP object: {source} (this needs root, or CAP_BPF and \
         CAP_NET_ADMIN)"
    )]
    Load {
        program: &'static str,
        #[source]
        source: Box<aya::EbpfError>,
    },
    /// A program operation (verify, attach, detach, test run) failed.
    #[error("XDP program {program}: {source}")]
    Program {
        program: &'static str,
        #[source]
        source: Box<aya::programs::ProgramError>,
    },
    /// Listing the kernel's BPF links failed.
    #[error("listing BPF links: {0}")]
    Links(#[source] Box<aya::programs::links::LinkError>),
    /// A map lookup or update failed.
    #[error("BPF map {map}: {source}")]
    Map {
        map: &'static str,
        #[source]
        source: Box<aya::maps::MapError>,
    },
    /// The object lacks a program or map this crate expects (a build bug).
    #[error("the embedded XDP object has no {0}")]
    Missing(&'static str),
    /// No interface by that name (in this network namespace).
    #[error("no network interface named {0:?} in this network namespace")]
    UnknownInterface(String),
    /// Some other XDP program is attached to the interface.
    #[error(
        "{ifname}: XDP program {name:?} (id {id}) is attached and is not xvs's; detach it \
         first (`ip link set dev {ifname} xdp off`)"
    )]
    ForeignProgram {
        ifname: String,
        name: String,
        id: u32,
    },
    /// An xvs program on the interface is owned by a live process.
    #[error(
        "{ifname}: xvs program {name:?} (id {id}) is attached through a BPF link held by a \
         running process; is another xvs already running on this interface?"
    )]
    Busy {
        ifname: String,
        name: String,
        id: u32,
    },
    /// An rtnetlink request about the interface failed.
    #[error("{ifname}: {source}")]
    Netlink {
        ifname: String,
        #[source]
        source: NetlinkError,
    },
    /// A steering rule the program cannot express.
    #[error("{0}")]
    Rule(String),
    /// More entries than a map holds.
    #[error("steering map {map} holds at most {capacity} entries; the rules need {count}")]
    Capacity {
        map: &'static str,
        count: usize,
        capacity: usize,
    },
    /// A queue index beyond the socket map.
    #[error("rx queue {queue} is beyond the {capacity} AF_XDP sockets the steering program maps")]
    QueueOutOfRange { queue: u32, capacity: u32 },
}

impl XdpError {
    /// The OS error number at the root of this error, if there is one
    /// (e.g. `EPERM` without privileges, `EOPNOTSUPP` for a mode the driver
    /// lacks).
    pub fn os_error(&self) -> Option<i32> {
        let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(self);
        while let Some(e) = cur {
            if let Some(io) = e.downcast_ref::<std::io::Error>() {
                if let Some(code) = io.raw_os_error() {
                    return Some(code);
                }
            }
            if let Some(errno) = e.downcast_ref::<nix::Error>() {
                return Some(*errno as i32);
            }
            cur = e.source();
        }
        None
    }

    /// True when the kernel refused for lack of privilege (EPERM), so
    /// callers (and tests) can say "needs root" instead of failing. Not
    /// EACCES: that is also what the verifier returns for a rejected
    /// program, which is a bug to report, not a missing capability.
    pub fn is_permission_denied(&self) -> bool {
        self.os_error() == Some(nix::Error::EPERM as i32)
    }
}

/// Loads `object` and its program `program` into the kernel, unattached.
pub(crate) fn load(object: &[u8], program: &'static str) -> Result<Ebpf, XdpError> {
    let mut ebpf = Ebpf::load(object).map_err(|e| XdpError::Load {
        program,
        source: Box::new(e),
    })?;
    xdp_mut(&mut ebpf, program)?
        .load()
        .map_err(|e| program_error(program, e))?;
    Ok(ebpf)
}

pub(crate) fn program_error(program: &'static str, e: aya::programs::ProgramError) -> XdpError {
    XdpError::Program {
        program,
        source: Box::new(e),
    }
}

pub(crate) fn map_error(map: &'static str, e: aya::maps::MapError) -> XdpError {
    XdpError::Map {
        map,
        source: Box::new(e),
    }
}

pub(crate) fn xdp_mut<'a>(
    ebpf: &'a mut Ebpf,
    program: &'static str,
) -> Result<&'a mut Xdp, XdpError> {
    ebpf.program_mut(program)
        .ok_or(XdpError::Missing(program))?
        .try_into()
        .map_err(|e| program_error(program, e))
}

/// A loaded program attached to one interface; detached on drop.
#[derive(Debug)]
pub(crate) struct Attachment {
    pub ebpf: Ebpf,
    pub program: &'static str,
    pub ifname: String,
    pub ifindex: u32,
    link: Option<XdpLinkId>,
}

impl Attachment {
    /// Clears a stale xvs program from `ifname`, then attaches `program`
    /// of the loaded `ebpf` there through a BPF link.
    pub fn attach(
        mut ebpf: Ebpf,
        program: &'static str,
        ifname: &str,
        mode: AttachMode,
    ) -> Result<Attachment, XdpError> {
        let ifindex = nix::net::if_::if_nametoindex(ifname)
            .map_err(|_| XdpError::UnknownInterface(ifname.to_string()))?;
        clear_stale(ifindex, ifname)?;
        let link = xdp_mut(&mut ebpf, program)?
            .attach_to_if_index(ifindex, mode.into())
            .map_err(|e| program_error(program, e))?;
        Ok(Attachment {
            ebpf,
            program,
            ifname: ifname.to_string(),
            ifindex,
            link: Some(link),
        })
    }
}

impl Drop for Attachment {
    fn drop(&mut self) {
        if let Some(link) = self.link.take() {
            if let Ok(xdp) = xdp_mut(&mut self.ebpf, self.program) {
                // Closing the link fd detaches; nothing useful to do if the
                // kernel already dropped it.
                let _ = xdp.detach(link);
            }
        }
    }
}

/// Detaches legacy-attached xvs programs from `ifindex` (module docs).
fn clear_stale(ifindex: u32, ifname: &str) -> Result<(), XdpError> {
    let attached = netlink::attached_programs(ifindex).map_err(|source| XdpError::Netlink {
        ifname: ifname.to_string(),
        source,
    })?;
    if attached.is_empty() {
        return Ok(());
    }
    let mut held_by_links = Vec::new();
    for link in loaded_links() {
        // A link can vanish between listing and inspection: skip it.
        let Ok(link) = link else { continue };
        if matches!(link.link_type(), Ok(LinkType::Xdp)) {
            held_by_links.push(link.program_id());
        }
    }
    for stale in attached {
        let info = loaded_programs()
            .filter_map(Result::ok)
            .find(|p| p.id() == stale.prog_id);
        let name = info
            .as_ref()
            .and_then(|p| p.name_as_str())
            .unwrap_or("?")
            .to_string();
        let ours = OUR_PROGRAMS.iter().copied().find(|n| *n == name);
        let (Some(info), Some(ours)) = (info, ours) else {
            return Err(XdpError::ForeignProgram {
                ifname: ifname.to_string(),
                name,
                id: stale.prog_id,
            });
        };
        if held_by_links.contains(&stale.prog_id) {
            return Err(XdpError::Busy {
                ifname: ifname.to_string(),
                name,
                id: stale.prog_id,
            });
        }
        let fd = info.fd().map_err(|e| program_error(ours, e))?;
        netlink::detach_program(ifindex, stale.slot, fd.as_fd()).map_err(|source| {
            XdpError::Netlink {
                ifname: ifname.to_string(),
                source,
            }
        })?;
    }
    Ok(())
}
