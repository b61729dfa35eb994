//! Connection flags with the IPVS bit values (include/uapi/linux/ip_vs.h,
//! REFERENCE.md §0), so that sync messages and `ipvsadm`-style output carry
//! the numbers operators and peers expect.
//!
//! The low three bits are the forwarding method. IPVS uses 0..=4 (MASQ,
//! LOCALNODE, TUNNEL, DROUTE, BYPASS); xvs adds [`ConnFlags::FWD_FULLNAT`] =
//! 5 for DPVS-style FullNAT, a value the kernel never sends (a peer running
//! kernel IPVS would not know the method, which is right: it cannot do
//! FullNAT). The table stores 24 flag bits (every IPVS flag fits); bits
//! above [`ConnFlags::STORED_MASK`] are dropped on insert.

use std::fmt;
use std::ops::{BitAnd, BitOr, BitOrAssign, Not};

use xvs_config::ForwardMethod;

/// IPVS connection flags (`IP_VS_CONN_F_*`).
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct ConnFlags(pub u32);

impl ConnFlags {
    pub const EMPTY: ConnFlags = ConnFlags(0);
    /// Forwarding-method field.
    pub const FWD_MASK: ConnFlags = ConnFlags(0x0007);
    pub const FWD_MASQ: ConnFlags = ConnFlags(0x0000);
    pub const FWD_LOCALNODE: ConnFlags = ConnFlags(0x0001);
    pub const FWD_TUNNEL: ConnFlags = ConnFlags(0x0002);
    pub const FWD_DROUTE: ConnFlags = ConnFlags(0x0003);
    pub const FWD_BYPASS: ConnFlags = ConnFlags(0x0004);
    /// xvs only: FullNAT (source and destination rewritten). Not an IPVS
    /// value; chosen inside the method field so the field stays one number.
    pub const FWD_FULLNAT: ConnFlags = ConnFlags(0x0005);
    /// Entry was created from a sync message.
    pub const SYNC: ConnFlags = ConnFlags(0x0020);
    /// Entry is in the table's index (cleared by [`crate::ConnTable::unhash`]
    /// so it never matches a lookup again, as ip_vs_conn_unhash()).
    pub const HASHED: ConnFlags = ConnFlags(0x0040);
    /// No replies expected through the director (every non-NAT method).
    pub const NOOUTPUT: ConnFlags = ConnFlags(0x0080);
    /// Counted in the real server's `inactconns`.
    pub const INACTIVE: ConnFlags = ConnFlags(0x0100);
    pub const OUT_SEQ: ConnFlags = ConnFlags(0x0200);
    pub const IN_SEQ: ConnFlags = ConnFlags(0x0400);
    /// Client port unknown (FTP helpers, sync). Stored but not interpreted by
    /// lookups: xvs keys every entry with its real client port.
    pub const NO_CPORT: ConnFlags = ConnFlags(0x0800);
    /// Persistence template (REFERENCE §3).
    pub const TEMPLATE: ConnFlags = ConnFlags(0x1000);
    /// One-packet scheduling: the entry is never indexed (only reachable by
    /// its id) and is freed by the first expiry pass after its timeout.
    pub const ONE_PACKET: ConnFlags = ConnFlags(0x2000);
    /// Keep conntrack (stored for sync fidelity only).
    pub const NFCT: ConnFlags = ConnFlags(0x1_0000);
    /// xvs only, not an IPVS value (the top stored bit, outside
    /// [`ConnFlags::BACKUP_MASK`], so a peer ignores it): a packet re-armed
    /// the entry's idle timer after the second it was opened in
    /// ([`crate::ConnTable::touch`]). A UDP entry without it has carried one
    /// burst at most, and gives way like a half-open TCP one when its shard
    /// is full ([`crate::Eviction`]).
    pub const REFRESHED: ConnFlags = ConnFlags(0x80_0000);
    /// xvs only, not an IPVS value (outside [`ConnFlags::BACKUP_MASK`]):
    /// the director's SYN proxy opened the entry, and its segments are
    /// translated between the client's and the real server's sequence
    /// spaces (crates/dataplane, synproxy).
    pub const SYNPROXY: ConnFlags = ConnFlags(0x40_0000);
    /// Flags a sync backup accepts (`IP_VS_CONN_F_BACKUP_MASK`).
    pub const BACKUP_MASK: ConnFlags =
        ConnFlags(0x0007 | 0x0080 | 0x0100 | 0x0600 | 0x0800 | 0x1000);
    /// Flags a sync update may change (`IP_VS_CONN_F_BACKUP_UPD_MASK`).
    pub const BACKUP_UPD_MASK: ConnFlags = ConnFlags(0x0100 | 0x0600);
    /// Bits the table stores per entry.
    pub const STORED_MASK: u32 = 0x00FF_FFFF;

    pub const fn bits(self) -> u32 {
        self.0
    }

    pub const fn contains(self, other: ConnFlags) -> bool {
        self.0 & other.0 == other.0
    }

    pub const fn intersects(self, other: ConnFlags) -> bool {
        self.0 & other.0 != 0
    }

    pub fn insert(&mut self, other: ConnFlags) {
        self.0 |= other.0;
    }

    pub fn remove(&mut self, other: ConnFlags) {
        self.0 &= !other.0;
    }

    /// The forwarding-method field alone.
    pub const fn method_bits(self) -> u32 {
        self.0 & Self::FWD_MASK.0
    }

    /// The forwarding method, when it is one xvs forwards with.
    pub const fn method(self) -> Option<ForwardMethod> {
        match self.method_bits() {
            0 => Some(ForwardMethod::Nat),
            2 => Some(ForwardMethod::Tun),
            3 => Some(ForwardMethod::Dr),
            5 => Some(ForwardMethod::FullNat),
            _ => None,
        }
    }

    /// The method bits for `m`.
    pub const fn from_method(m: ForwardMethod) -> ConnFlags {
        match m {
            ForwardMethod::Nat => Self::FWD_MASQ,
            ForwardMethod::Tun => Self::FWD_TUNNEL,
            ForwardMethod::Dr => Self::FWD_DROUTE,
            ForwardMethod::FullNat => Self::FWD_FULLNAT,
        }
    }

    /// Flags a new entry to a real server using `m` starts with, as
    /// __ip_vs_update_dest() computes a dest's conn_flags: the method, always
    /// `INACTIVE` (every entry is bound as inactive, REFERENCE §4.3) and
    /// `NOOUTPUT` unless replies come back through the director.
    pub const fn for_method(m: ForwardMethod) -> ConnFlags {
        let mut bits = Self::from_method(m).0 | Self::INACTIVE.0;
        if !m.sees_replies() {
            bits |= Self::NOOUTPUT.0;
        }
        ConnFlags(bits)
    }
}

impl BitOr for ConnFlags {
    type Output = ConnFlags;
    fn bitor(self, rhs: ConnFlags) -> ConnFlags {
        ConnFlags(self.0 | rhs.0)
    }
}

impl BitOrAssign for ConnFlags {
    fn bitor_assign(&mut self, rhs: ConnFlags) {
        self.0 |= rhs.0;
    }
}

impl BitAnd for ConnFlags {
    type Output = ConnFlags;
    fn bitand(self, rhs: ConnFlags) -> ConnFlags {
        ConnFlags(self.0 & rhs.0)
    }
}

impl Not for ConnFlags {
    type Output = ConnFlags;
    fn not(self) -> ConnFlags {
        ConnFlags(!self.0)
    }
}

impl fmt::Debug for ConnFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const NAMES: [(ConnFlags, &str); 12] = [
            (ConnFlags::SYNC, "SYNC"),
            (ConnFlags::HASHED, "HASHED"),
            (ConnFlags::NOOUTPUT, "NOOUTPUT"),
            (ConnFlags::INACTIVE, "INACTIVE"),
            (ConnFlags::OUT_SEQ, "OUT_SEQ"),
            (ConnFlags::IN_SEQ, "IN_SEQ"),
            (ConnFlags::NO_CPORT, "NO_CPORT"),
            (ConnFlags::TEMPLATE, "TEMPLATE"),
            (ConnFlags::ONE_PACKET, "ONE_PACKET"),
            (ConnFlags::NFCT, "NFCT"),
            (ConnFlags::REFRESHED, "REFRESHED"),
            (ConnFlags::FWD_MASK, ""),
        ];
        let method = match self.method_bits() {
            0 => "MASQ",
            1 => "LOCALNODE",
            2 => "TUNNEL",
            3 => "DROUTE",
            4 => "BYPASS",
            5 => "FULLNAT",
            _ => "FWD?",
        };
        write!(f, "ConnFlags({method}")?;
        for (flag, name) in NAMES {
            if !name.is_empty() && self.contains(flag) {
                write!(f, "|{name}")?;
            }
        }
        write!(f, ")")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_the_kernels() {
        // include/uapi/linux/ip_vs.h, REFERENCE §0.
        assert_eq!(ConnFlags::NOOUTPUT.bits(), 0x80);
        assert_eq!(ConnFlags::INACTIVE.bits(), 0x100);
        assert_eq!(ConnFlags::TEMPLATE.bits(), 0x1000);
        assert_eq!(ConnFlags::ONE_PACKET.bits(), 0x2000);
        assert_eq!(ConnFlags::NFCT.bits(), 0x10000);
        assert_eq!(ConnFlags::BACKUP_MASK.bits(), 0x1F87);
        assert_eq!(ConnFlags::BACKUP_UPD_MASK.bits(), 0x700);
        // Every named flag survives the 24-bit store.
        assert_eq!(ConnFlags::NFCT.bits() & !ConnFlags::STORED_MASK, 0);
        assert_eq!(ConnFlags::REFRESHED.bits() & !ConnFlags::STORED_MASK, 0);
        assert_eq!(
            ConnFlags::REFRESHED.bits() & ConnFlags::BACKUP_MASK.bits(),
            0
        );
    }

    #[test]
    fn method_round_trips_and_fullnat_is_five() {
        for m in [
            ForwardMethod::Nat,
            ForwardMethod::Dr,
            ForwardMethod::Tun,
            ForwardMethod::FullNat,
        ] {
            assert_eq!(ConnFlags::from_method(m).method(), Some(m));
        }
        assert_eq!(ConnFlags::from_method(ForwardMethod::FullNat).bits(), 5);
        assert_eq!(ConnFlags::FWD_BYPASS.method(), None);
    }

    #[test]
    fn for_method_sets_nooutput_only_without_replies() {
        let nat = ConnFlags::for_method(ForwardMethod::Nat);
        assert!(nat.contains(ConnFlags::INACTIVE));
        assert!(!nat.contains(ConnFlags::NOOUTPUT));
        let full = ConnFlags::for_method(ForwardMethod::FullNat);
        assert!(!full.contains(ConnFlags::NOOUTPUT));
        let dr = ConnFlags::for_method(ForwardMethod::Dr);
        assert_eq!(dr.bits(), 0x3 | 0x80 | 0x100);
        let tun = ConnFlags::for_method(ForwardMethod::Tun);
        assert!(tun.contains(ConnFlags::NOOUTPUT));
    }

    #[test]
    fn debug_names_the_bits() {
        let f = ConnFlags::for_method(ForwardMethod::Dr) | ConnFlags::TEMPLATE;
        assert_eq!(
            format!("{f:?}"),
            "ConnFlags(DROUTE|NOOUTPUT|INACTIVE|TEMPLATE)"
        );
    }
}
