//! Vocabulary shared by every layer: protocols, forwarding methods,
//! schedulers and their flags. Names follow ipvsadm/keepalived so operators
//! recognise them.

use std::fmt;

/// Transport protocol of a virtual service.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Protocol {
    Tcp,
    Udp,
}

impl Protocol {
    /// IANA protocol number as carried in the IPv4 protocol / IPv6 next-header field.
    pub const fn number(self) -> u8 {
        match self {
            Protocol::Tcp => 6,
            Protocol::Udp => 17,
        }
    }

    pub const fn from_number(n: u8) -> Option<Protocol> {
        match n {
            6 => Some(Protocol::Tcp),
            17 => Some(Protocol::Udp),
            _ => None,
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // ipvsadm prints "TCP"/"UDP" in the Prot column.
        f.write_str(match self {
            Protocol::Tcp => "TCP",
            Protocol::Udp => "UDP",
        })
    }
}

/// LVS forwarding method (ipvsadm -g/-m/-i, plus DPVS-style FullNAT).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ForwardMethod {
    /// Direct routing: rewrite MACs only (ipvsadm -g, "Route").
    Dr,
    /// Masquerading: rewrite destination, un-rewrite replies (ipvsadm -m, "Masq").
    Nat,
    /// IPIP tunnelling (ipvsadm -i, "Tunnel").
    Tun,
    /// Rewrite source (local address pool) and destination ("FullNat").
    FullNat,
}

impl ForwardMethod {
    /// The word `ipvsadm -Ln` prints in its Forward column.
    pub const fn ipvsadm_name(self) -> &'static str {
        match self {
            ForwardMethod::Dr => "Route",
            ForwardMethod::Nat => "Masq",
            ForwardMethod::Tun => "Tunnel",
            ForwardMethod::FullNat => "FullNat",
        }
    }

    /// True when replies from the real server come back through the director.
    pub const fn sees_replies(self) -> bool {
        matches!(self, ForwardMethod::Nat | ForwardMethod::FullNat)
    }
}

/// Every IPVS scheduler (net/netfilter/ipvs/ip_vs_*.c).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SchedulerKind {
    Rr,
    Wrr,
    Lc,
    Wlc,
    Sed,
    Nq,
    Dh,
    Sh,
    Lblc,
    Lblcr,
    Mh,
    Fo,
    Ovf,
    Twos,
}

impl SchedulerKind {
    pub const ALL: [SchedulerKind; 14] = [
        SchedulerKind::Rr,
        SchedulerKind::Wrr,
        SchedulerKind::Lc,
        SchedulerKind::Wlc,
        SchedulerKind::Sed,
        SchedulerKind::Nq,
        SchedulerKind::Dh,
        SchedulerKind::Sh,
        SchedulerKind::Lblc,
        SchedulerKind::Lblcr,
        SchedulerKind::Mh,
        SchedulerKind::Fo,
        SchedulerKind::Ovf,
        SchedulerKind::Twos,
    ];

    /// The scheduler's name as ipvsadm and keepalived spell it.
    pub const fn name(self) -> &'static str {
        match self {
            SchedulerKind::Rr => "rr",
            SchedulerKind::Wrr => "wrr",
            SchedulerKind::Lc => "lc",
            SchedulerKind::Wlc => "wlc",
            SchedulerKind::Sed => "sed",
            SchedulerKind::Nq => "nq",
            SchedulerKind::Dh => "dh",
            SchedulerKind::Sh => "sh",
            SchedulerKind::Lblc => "lblc",
            SchedulerKind::Lblcr => "lblcr",
            SchedulerKind::Mh => "mh",
            SchedulerKind::Fo => "fo",
            SchedulerKind::Ovf => "ovf",
            SchedulerKind::Twos => "twos",
        }
    }

    pub fn from_name(name: &str) -> Option<SchedulerKind> {
        SchedulerKind::ALL.into_iter().find(|k| k.name() == name)
    }
}

impl fmt::Display for SchedulerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Scheduler flags (ipvsadm -b / keepalived `sh-port`, `mh-fallback`, ...).
/// IPVS maps sh-fallback/mh-fallback to SCHED1 and sh-port/mh-port to SCHED2.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct SchedFlags {
    /// sh/mh: if the hashed real server is unavailable, try further buckets.
    pub fallback: bool,
    /// sh/mh: hash the client port as well as the client address.
    pub port: bool,
}

/// Identifies a virtual service inside one snapshot (its index in `Snapshot::services`).
pub type ServiceIndex = usize;
/// Identifies a real server within its service (its index in `VirtualService::real_servers`).
pub type DestIndex = usize;
