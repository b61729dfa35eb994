//! [`Synced`]: one connection as xvs synchronises it, and the checks a
//! backup applies before it believes a received entry ([`Invalid`]).
//!
//! Layer: sync (sans-IO). The wire form is [`xvs_wire::sync::SyncEntry`];
//! this module maps it to and from the connection table's vocabulary
//! ([`ConnFlags`], [`ConnState`]) the way `ip_vs_sync.c` does
//! (`ip_vs_sync_conn_v1` on the master, `ip_vs_proc_sync_conn` on the
//! backup), plus xvs's FullNAT local address, owning worker and SYN proxy
//! translation carried in the optional TLVs 0x44, 0x45 and 0x46.

use std::net::IpAddr;

use xvs_conn::{ConnEntry, ConnFlags, ConnState};
use xvs_wire::sync::{SyncEntry, SyncOption, SynproxyDelta};

/// IP protocol numbers xvs balances.
pub const TCP: u8 = 6;
pub const UDP: u8 = 17;

/// Largest timeout the connection table stores (24 bits, ~194 days);
/// longer received timeouts are clamped to it.
pub const MAX_TIMEOUT_SECS: u32 = 0x00FF_FFFF;

/// The state number IPVS sends for every UDP entry (ip_vs_proto_udp.c
/// `IP_VS_UDP_S_NORMAL`, UDP's only state, numbered in UDP's own space).
const IPVS_UDP_NORMAL: u16 = 0;

/// One connection (or persistence template) in xvs terms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Synced {
    /// 6 (TCP) or 17 (UDP).
    pub protocol: u8,
    pub caddr: IpAddr,
    pub cport: u16,
    pub vaddr: IpAddr,
    pub vport: u16,
    pub daddr: IpAddr,
    pub dport: u16,
    /// FullNAT local address and port (non-template FullNAT entries only).
    pub local: Option<(IpAddr, u16)>,
    /// IPVS flags. Received entries carry `received & BACKUP_MASK | SYNC`.
    pub flags: ConnFlags,
    /// TCP states as the kernel numbers them, [`ConnState::Udp`] for UDP,
    /// [`ConnState::None`] for templates.
    pub state: ConnState,
    /// Idle timeout of the current state, seconds (≤ [`MAX_TIMEOUT_SECS`]
    /// once received).
    pub timeout_secs: u32,
    /// The worker owning the entry on the sender (xvs peers only; IPVS
    /// does not send it).
    pub worker: Option<u16>,
    /// The sequence translation of a SYN-proxied NAT or FullNAT
    /// connection (xvs peers only). `from_entry` cannot know it (it lives
    /// beside the table); the sender's caller fills it in. Received, it
    /// sets [`ConnFlags::SYNPROXY`].
    pub synproxy: Option<SynproxyDelta>,
}

/// Why a received entry is not believed. Stable names for counters
/// ([`Invalid::reason`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
pub enum Invalid {
    /// Protocol other than TCP or UDP.
    #[error("synced entry has protocol {0}; xvs balances TCP (6) and UDP (17) only")]
    Protocol(u8),
    /// A fwmark: xvs has no fwmark services.
    #[error("synced entry carries fwmark {0}; xvs has no fwmark services")]
    Fwmark(u32),
    /// State number not a state of the entry's protocol.
    #[error("synced entry has state {state}, not a state of protocol {protocol}")]
    State { protocol: u8, state: u16 },
    /// Forwarding method other than MASQ, TUNNEL, DROUTE or FULLNAT.
    #[error("synced entry has forwarding method {0}; xvs forwards with 0 (NAT), 2 (TUN), 3 (DR) or 5 (FullNAT)")]
    Method(u32),
    /// A FullNAT entry without a well-formed local address option of its
    /// family and a non-zero port, or with an unusable local address.
    #[error("synced FullNAT entry lacks a usable local address and port")]
    Local,
    /// An address of the other family than the entry's type says.
    #[error("synced entry mixes IPv4 and IPv6 addresses")]
    Family,
    /// An unspecified, multicast or broadcast address.
    #[error("synced entry has an unspecified, multicast or broadcast address")]
    Address,
    /// Client port 0 on a connection (templates may have it).
    #[error("synced connection has client port 0")]
    ClientPort,
    /// Timeout 0 on a connection.
    #[error("synced connection has timeout 0")]
    Timeout,
}

impl Invalid {
    /// Every reason name, for counters that list all of them.
    pub const REASONS: [&'static str; 9] = [
        "protocol", "fwmark", "state", "method", "local", "family", "address", "cport", "timeout",
    ];

    pub const fn reason(self) -> &'static str {
        match self {
            Invalid::Protocol(_) => "protocol",
            Invalid::Fwmark(_) => "fwmark",
            Invalid::State { .. } => "state",
            Invalid::Method(_) => "method",
            Invalid::Local => "local",
            Invalid::Family => "family",
            Invalid::Address => "address",
            Invalid::ClientPort => "cport",
            Invalid::Timeout => "timeout",
        }
    }
}

impl Synced {
    /// The sync view of a table entry. `local` is set for non-template
    /// FullNAT entries only (a FullNAT template has no local address: the
    /// dataplane stores the client network there); `worker` is the shard
    /// owning the entry.
    pub fn from_entry(e: &ConnEntry) -> Synced {
        let fullnat = e.flags.method_bits() == ConnFlags::FWD_FULLNAT.bits();
        Synced {
            protocol: e.protocol,
            caddr: e.caddr,
            cport: e.cport,
            vaddr: e.vaddr,
            vport: e.vport,
            daddr: e.daddr,
            dport: e.dport,
            local: (fullnat && !e.is_template()).then_some((e.laddr, e.lport)),
            flags: e.flags,
            state: e.state,
            timeout_secs: e.timeout_secs,
            // ConnId packs the worker in 7 bits.
            worker: u16::try_from(e.id.worker()).ok(),
            synproxy: None,
        }
    }

    pub fn is_template(&self) -> bool {
        self.flags.contains(ConnFlags::TEMPLATE)
    }

    /// The entry on the wire. Flags are masked with `BACKUP_MASK` (what a
    /// backup keeps anyway); the state is the TCP state number, 0 for UDP
    /// (IPVS's `IP_VS_UDP_S_NORMAL`, so kernel backups accept it) and for
    /// templates; fwmark 0. Options: the FullNAT local address when
    /// `local` is set, the owning worker when known.
    pub fn to_wire(&self) -> SyncEntry {
        let state = if self.is_template() || self.state == ConnState::Udp {
            0
        } else {
            u16::from(self.state as u8)
        };
        let mut options = Vec::with_capacity(2);
        if let Some((addr, port)) = self.local {
            options.push(SyncOption::xvs_local(addr, port));
        }
        if let Some(w) = self.worker {
            options.push(SyncOption::xvs_worker(w));
        }
        if let Some(d) = &self.synproxy {
            options.push(SyncOption::xvs_synproxy(d));
        }
        SyncEntry {
            ipv6: self.caddr.is_ipv6(),
            protocol: self.protocol,
            flags: (self.flags & ConnFlags::BACKUP_MASK).bits(),
            state,
            cport: self.cport,
            vport: self.vport,
            dport: self.dport,
            fwmark: 0,
            timeout: self.timeout_secs,
            caddr: self.caddr,
            vaddr: self.vaddr,
            daddr: self.daddr,
            options,
        }
    }

    /// A received entry, checked as a backup must before installing it.
    ///
    /// As `ip_vs_proc_sync_conn`: flags become `received & BACKUP_MASK |
    /// SYNC`; a template's state is forced to NONE whatever was sent; a
    /// connection's state must be one of its protocol's. xvs adds: TCP or
    /// UDP only, no fwmark, a method xvs forwards with, FullNAT
    /// connections with their local address, no unspecified, multicast or
    /// broadcast addresses (a template's client network may be 0.0.0.0/0),
    /// client port and timeout non-zero on connections, timeout clamped
    /// to 24 bits. UDP state 0 (IPVS) and 11 (xvs's `Udp`) both read as
    /// [`ConnState::Udp`].
    pub fn from_wire(e: &SyncEntry) -> Result<Synced, Invalid> {
        if e.protocol != TCP && e.protocol != UDP {
            return Err(Invalid::Protocol(e.protocol));
        }
        if e.fwmark != 0 {
            return Err(Invalid::Fwmark(e.fwmark));
        }
        let flags = ConnFlags(e.flags) & ConnFlags::BACKUP_MASK | ConnFlags::SYNC;
        let template = flags.contains(ConnFlags::TEMPLATE);
        let state = if template {
            // ip_vs_proc_sync_conn: "state = 0" for templates.
            ConnState::None
        } else {
            conn_state(e.protocol, e.state).ok_or(Invalid::State {
                protocol: e.protocol,
                state: e.state,
            })?
        };
        let method = flags.method_bits();
        if flags.method().is_none() {
            return Err(Invalid::Method(method));
        }
        let family_ok = |a: IpAddr| a.is_ipv6() == e.ipv6;
        if ![e.caddr, e.vaddr, e.daddr].into_iter().all(family_ok) {
            return Err(Invalid::Family);
        }
        let caddr_ok = usable(e.caddr) || (template && e.caddr.is_unspecified());
        if !caddr_ok || !usable(e.vaddr) || !usable(e.daddr) {
            return Err(Invalid::Address);
        }
        let local = if method == ConnFlags::FWD_FULLNAT.bits() && !template {
            let (addr, port) = e
                .options
                .iter()
                .find_map(SyncOption::as_xvs_local)
                .ok_or(Invalid::Local)?;
            if !family_ok(addr) || port == 0 || !usable(addr) {
                return Err(Invalid::Local);
            }
            Some((addr, port))
        } else {
            None
        };
        // A translation only means something on a connection the backup
        // forwards both ways (NAT, FullNAT); elsewhere it is ignored.
        let proxied = !template
            && (method == ConnFlags::FWD_MASQ.bits() || method == ConnFlags::FWD_FULLNAT.bits());
        let synproxy = e
            .options
            .iter()
            .find_map(SyncOption::as_xvs_synproxy)
            .filter(|_| proxied);
        let flags = if synproxy.is_some() {
            flags | ConnFlags::SYNPROXY
        } else {
            flags
        };
        if !template && e.cport == 0 {
            return Err(Invalid::ClientPort);
        }
        if !template && e.timeout == 0 {
            return Err(Invalid::Timeout);
        }
        Ok(Synced {
            protocol: e.protocol,
            caddr: e.caddr,
            cport: e.cport,
            vaddr: e.vaddr,
            vport: e.vport,
            daddr: e.daddr,
            dport: e.dport,
            local,
            flags,
            state,
            timeout_secs: e.timeout.min(MAX_TIMEOUT_SECS),
            worker: e.options.iter().find_map(SyncOption::as_xvs_worker),
            synproxy,
        })
    }
}

/// The state of a received connection: any IPVS TCP state (0..=10, the
/// kernel's `state < pp->num_states`) for TCP; 0 or 11 for UDP.
fn conn_state(protocol: u8, state: u16) -> Option<ConnState> {
    let s = ConnState::from_u8(u8::try_from(state).ok()?)?;
    match (protocol, s) {
        (TCP, ConnState::Udp) => None,
        (TCP, s) => Some(s),
        (UDP, ConnState::Udp) => Some(ConnState::Udp),
        (UDP, _) if state == IPVS_UDP_NORMAL => Some(ConnState::Udp),
        _ => None,
    }
}

/// An address a connection can have: not unspecified, multicast or the
/// IPv4 limited broadcast.
fn usable(a: IpAddr) -> bool {
    let broadcast = matches!(a, IpAddr::V4(v4) if v4.is_broadcast());
    !a.is_unspecified() && !a.is_multicast() && !broadcast
}

#[cfg(test)]
#[path = "synced_tests.rs"]
pub(crate) mod tests;
