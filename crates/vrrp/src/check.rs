//! Receive checks: is this advert one the instance may act on? In
//! keepalived's order (`vrrp.c` `vrrp_check_packet`, REFERENCE §8.4),
//! after the codec's own checks (version 2/3, type 1, exact length),
//! which the caller counts as [`Reject::Malformed`]:
//!
//! | Check | RFC / keepalived | On failure |
//! |---|---|---|
//! | source is our own primary address | (looped back, or a peer with our address) | drop, [`Reject::Own`] |
//! | TTL / hop limit 255, multicast only | RFC 5798 §7.1 "MUST verify that the IPv4 TTL is 255"; keepalived skips it for unicast | drop, [`Reject::Ttl`] |
//! | version | RFC 5798 §7.1 "MUST verify the VRRP version" | drop, [`Reject::VersionMismatch`] |
//! | v2 auth type, PASS bytes | RFC 3768 §7.1 "MUST perform authentication specified by Auth Type" | drop, [`Reject::Auth`] |
//! | v2 interval | RFC 3768 §7.1 "MUST verify that the Adver Interval … is the same" | drop, [`Reject::Interval`] |
//! | v3 interval | RFC 5798 §7.1 only the v2 check; keepalived logs | accept |
//! | checksum, the instance's convention | RFC 5798 §7.1 "MUST verify the VRRP checksum" | drop, [`Reject::Checksum`] |
//! | multicast / unicast as configured | keepalived "Expected unicast packet but received multicast" | drop, [`Reject::NotPeer`] |
//! | address count and set | RFC 5798 §7.1 "MAY verify"; keepalived counts `addr_list_err` but does not drop | count [`Reject::AddressList`], accept |
//! | unicast source a configured peer | keepalived `check_unicast_src` | drop, [`Reject::NotPeer`] |
//!
//! The VRID and family were matched by dispatch (an advert for no
//! instance is [`Reject::UnknownVrid`], counted by the router).

use std::net::IpAddr;

use xvs_wire::vrrp::{Advert, ChecksumKind, ChecksumMatch, TTL};

use crate::instance::Instance;
use crate::Reject;

/// The IP facts the checks need.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Rx {
    pub(crate) src: IpAddr,
    pub(crate) dst: IpAddr,
    pub(crate) ttl: u8,
}

/// An advert that passed: `address_mismatch` is counted but not acted on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Passed {
    pub(crate) address_mismatch: bool,
}

pub(crate) fn check(
    inst: &Instance,
    rx: &Rx,
    advert: &Advert,
    sums: ChecksumMatch,
) -> Result<Passed, Reject> {
    if rx.src == inst.env.primary {
        return Err(Reject::Own);
    }
    if !inst.is_unicast() && rx.ttl != TTL {
        return Err(Reject::Ttl);
    }
    if advert.version != inst.cfg.version {
        return Err(Reject::VersionMismatch);
    }
    if inst.cfg.version == 2 {
        if advert.auth_type != inst.auth_type() {
            return Err(Reject::Auth);
        }
        if inst.cfg.auth_pass.is_some() && advert.auth_data != inst.auth_data() {
            return Err(Reject::Auth);
        }
        // keepalived: "to prevent concurrent VRID running => multiple
        // master in 1 VRID".
        if advert.interval_field != inst.interval_field() {
            return Err(Reject::Interval);
        }
    }
    let verified = match inst.checksum_kind() {
        ChecksumKind::MessageOnly => sums.message_only,
        ChecksumKind::PseudoHeader => sums.pseudo_header,
    };
    if !verified {
        return Err(Reject::Checksum);
    }
    if rx.dst.is_multicast() == inst.is_unicast() {
        return Err(Reject::NotPeer);
    }
    let address_mismatch = advert.addresses.len() != inst.vips.len()
        || inst.vips.iter().any(|v| !advert.addresses.contains(v));
    if inst.is_unicast() && !inst.cfg.unicast_peers.contains(&rx.src) {
        return Err(Reject::NotPeer);
    }
    Ok(Passed { address_mismatch })
}
