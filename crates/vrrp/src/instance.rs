//! One virtual router's variables (RFC 5798 §6.1 parameters and §6.2
//! timers, plus keepalived's `wantstate`, `preempt_time` and counters) and
//! what follows from its configuration alone: the advert it sends, where
//! to, with which checksum, and its timer values.
//!
//! The transitions between states live in `fsm.rs`; this file holds no
//! behaviour that depends on another instance.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use xvs_config::{V3Checksum, VrrpInstance};
use xvs_wire::vrrp::{
    virtual_mac, Advert, ChecksumKind, AUTH_LEN, AUTH_NONE, AUTH_PASS, MULTICAST_V4, MULTICAST_V6,
};
use xvs_wire::MacAddr;

use crate::garp::Garp;
use crate::timers;
use crate::{Counters, InstanceEnv, Reason, Reject, State};

/// The shortest interval used for timers: one VRRPv3 centisecond. The
/// configuration never allows less; this keeps a zero from spinning the
/// timer loop.
const MIN_INTERVAL: Duration = Duration::from_millis(10);

/// What a Master_Down_Timer expiry means, from the last advert seen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum DownCause {
    /// Nothing heard for Master_Down_Interval.
    Silence,
    /// The master sent priority 0; only the skew is left.
    Resigned { from: IpAddr },
    /// A lower-priority master is being preempted.
    Preempting { from: IpAddr, priority: u8 },
}

impl DownCause {
    pub(crate) fn reason(&self) -> Reason {
        match *self {
            DownCause::Silence => Reason::MasterDown,
            DownCause::Resigned { from } => Reason::MasterResigned { from },
            DownCause::Preempting { from, priority } => Reason::Preempt { from, priority },
        }
    }
}

/// The last state change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Last {
    pub(crate) at: Instant,
    pub(crate) from: State,
    pub(crate) to: State,
    pub(crate) reason: Reason,
}

/// Monotonic counters; rejections indexed like [`Reject::ALL`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Tally {
    pub(crate) adverts_received: u64,
    pub(crate) adverts_sent: u64,
    pub(crate) priority_zero_received: u64,
    pub(crate) priority_zero_sent: u64,
    pub(crate) became_master: u64,
    pub(crate) released_master: u64,
    pub(crate) split_brain: u64,
    pub(crate) rejected: [u64; Reject::ALL.len()],
}

impl Tally {
    pub(crate) fn reject(&mut self, why: Reject) {
        if let Some(i) = Reject::ALL.iter().position(|r| *r == why) {
            self.rejected[i] += 1;
        }
    }

    pub(crate) fn to_counters(&self) -> Counters {
        Counters {
            adverts_received: self.adverts_received,
            adverts_sent: self.adverts_sent,
            priority_zero_received: self.priority_zero_received,
            priority_zero_sent: self.priority_zero_sent,
            became_master: self.became_master,
            released_master: self.released_master,
            split_brain: self.split_brain,
            rejected: Reject::ALL
                .iter()
                .zip(self.rejected)
                .map(|(r, n)| (r.name().to_string(), n))
                .collect(),
        }
    }
}

#[derive(Debug)]
pub(crate) struct Instance {
    pub(crate) cfg: VrrpInstance,
    pub(crate) env: InstanceEnv,
    pub(crate) ipv6: bool,
    /// The virtual addresses (without prefixes), as adverts carry them.
    pub(crate) vips: Vec<IpAddr>,
    pub(crate) state: State,
    /// keepalived's `wantstate == MASTER`: what a sync-group member would
    /// do alone (its down timer ran out, or it is configured `state
    /// MASTER`); the group lets it only when every member wants it.
    pub(crate) wants_master: bool,
    /// Priority after tracking (255 for an owner).
    pub(crate) effective: u8,
    /// RFC 5798 §6.1 Master_Adver_Interval (a v3 backup adopts the
    /// master's; otherwise the configured interval).
    pub(crate) master_adver_interval: Duration,
    /// Adver_Timer in Master, Master_Down_Timer in Backup.
    pub(crate) timer: Option<Instant>,
    pub(crate) down_cause: DownCause,
    /// keepalived `preempt_time`: until when a lower-priority master is
    /// still accepted (set by the first such advert).
    pub(crate) preempt_until: Option<Instant>,
    /// The current master as last heard (address, priority).
    pub(crate) master: Option<(IpAddr, u8)>,
    pub(crate) garp: Garp,
    pub(crate) group: Option<usize>,
    pub(crate) tally: Tally,
    pub(crate) last: Option<Last>,
    /// From the last tracking assessment.
    pub(crate) fault: Option<String>,
    pub(crate) pending: bool,
    pub(crate) failing: Vec<String>,
}

impl Instance {
    pub(crate) fn new(cfg: VrrpInstance, env: InstanceEnv, group: Option<usize>) -> Instance {
        let vips: Vec<IpAddr> = cfg.virtual_addresses.iter().map(|n| n.addr).collect();
        let ipv6 = vips.first().map_or(env.primary.is_ipv6(), IpAddr::is_ipv6);
        Instance {
            master_adver_interval: cfg.advert_interval.max(MIN_INTERVAL),
            effective: cfg.priority,
            wants_master: cfg.priority == 255 || cfg.initial_master,
            cfg,
            env,
            ipv6,
            vips,
            state: State::Init,
            timer: None,
            down_cause: DownCause::Silence,
            preempt_until: None,
            master: None,
            garp: Garp::default(),
            group,
            tally: Tally::default(),
            last: None,
            fault: None,
            pending: false,
            failing: Vec::new(),
        }
    }

    pub(crate) fn is_owner(&self) -> bool {
        self.cfg.priority == 255
    }

    pub(crate) fn is_unicast(&self) -> bool {
        !self.cfg.unicast_peers.is_empty()
    }

    /// RFC 5798 §6.1 Preempt_Mode; an owner always preempts, and
    /// keepalived clears `nopreempt` with `state MASTER`.
    pub(crate) fn preempts(&self) -> bool {
        self.cfg.preempt || self.is_owner() || self.cfg.initial_master
    }

    /// keepalived clears `preempt_delay` with `state MASTER` (and an owner
    /// preempts at once).
    pub(crate) fn preempt_delay(&self) -> Duration {
        if self.is_owner() || self.cfg.initial_master {
            Duration::ZERO
        } else {
            self.cfg.preempt_delay
        }
    }

    /// Advertisement_Interval as configured (at least 1 cs).
    pub(crate) fn own_interval(&self) -> Duration {
        self.cfg.advert_interval.max(MIN_INTERVAL)
    }

    /// The priority the timers use (keepalived: 255 for an owner even when
    /// it has backed off).
    fn timer_priority(&self) -> u8 {
        if self.is_owner() {
            255
        } else {
            self.effective
        }
    }

    pub(crate) fn skew(&self) -> Duration {
        timers::skew(
            self.cfg.version,
            self.timer_priority(),
            self.master_adver_interval,
        )
    }

    pub(crate) fn master_down_interval(&self) -> Duration {
        timers::master_down_interval(
            self.cfg.version,
            self.timer_priority(),
            self.master_adver_interval,
            self.cfg.down_timer_adverts,
        )
    }

    /// Our interval field: a master always sends its own configured
    /// interval (RFC 5798 §6.4.3 sends Advertisement_Interval).
    pub(crate) fn interval_field(&self) -> u16 {
        timers::interval_field(self.cfg.version, self.cfg.advert_interval)
    }

    /// The 8 authentication bytes: the password NUL-padded (RFC 3768
    /// §5.3.10), or zeros.
    pub(crate) fn auth_data(&self) -> [u8; AUTH_LEN] {
        let mut data = [0u8; AUTH_LEN];
        if self.cfg.version == 2 {
            if let Some(pass) = &self.cfg.auth_pass {
                for (d, s) in data.iter_mut().zip(pass.as_bytes()) {
                    *d = *s;
                }
            }
        }
        data
    }

    pub(crate) fn auth_type(&self) -> u8 {
        if self.cfg.version == 2 && self.cfg.auth_pass.is_some() {
            AUTH_PASS
        } else {
            AUTH_NONE
        }
    }

    pub(crate) fn advert(&self, priority: u8) -> Advert {
        Advert {
            version: self.cfg.version,
            vrid: self.cfg.vrid,
            priority,
            auth_type: self.auth_type(),
            interval_field: self.interval_field(),
            addresses: self.vips.clone(),
            auth_data: self.auth_data(),
        }
    }

    /// The checksum convention (REFERENCE §8.1): v2 the message only; v3
    /// over IPv6 the pseudo-header; v3 over IPv4 as configured.
    pub(crate) fn checksum_kind(&self) -> ChecksumKind {
        match (self.cfg.version, self.ipv6, self.cfg.v3_checksum) {
            (2, _, _) => ChecksumKind::MessageOnly,
            (_, true, _) => ChecksumKind::PseudoHeader,
            (_, false, V3Checksum::PseudoHeader) => ChecksumKind::PseudoHeader,
            (_, false, V3Checksum::MessageOnly) => ChecksumKind::MessageOnly,
        }
    }

    /// The multicast group, or every unicast peer.
    pub(crate) fn destinations(&self) -> Vec<IpAddr> {
        if self.is_unicast() {
            self.cfg.unicast_peers.clone()
        } else if self.ipv6 {
            vec![IpAddr::V6(MULTICAST_V6)]
        } else {
            vec![IpAddr::V4(MULTICAST_V4)]
        }
    }

    /// The MAC adverts and announcements go out from: the virtual MAC with
    /// `use_vmac`, else the interface's.
    pub(crate) fn mac(&self) -> MacAddr {
        if self.cfg.use_vmac {
            virtual_mac(self.cfg.vrid, self.ipv6)
        } else {
            self.env.mac
        }
    }

    /// RFC 5798 §6.4.3: "the primary IP address of the sender is greater
    /// than the local primary IP address", compared as unsigned integers
    /// in network byte order.
    pub(crate) fn sender_is_greater(&self, sender: IpAddr) -> bool {
        match (sender, self.env.primary) {
            (IpAddr::V4(s), IpAddr::V4(o)) => u32::from(s) > u32::from(o),
            (IpAddr::V6(s), IpAddr::V6(o)) => u128::from(s) > u128::from(o),
            // Dispatch matched the family; a mismatch cannot win.
            _ => false,
        }
    }

    /// Addresses served while master.
    pub(crate) fn addresses(&self) -> &[IpAddr] {
        &self.vips
    }
}
