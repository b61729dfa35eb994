//! SYN cookies: the director's initial sequence number in a SYN-ACK is a
//! keyed hash of the flow, so the client's ACK (acknowledging it + 1)
//! proves the client received the SYN-ACK, with no state kept between the
//! two (RFC 4987 §3.6).
//!
//! Layout of the 32-bit cookie, high bits first:
//!
//! | bits | what |
//! |------|------|
//! | 5    | era: `now / 64 s`, modulo 32 |
//! | 3    | index of the client's MSS in [`MSS_TABLE`] |
//! | 24   | SipHash-2-4 of the flow, the client's ISN, the full era and the MSS index, under the director's key |
//!
//! A cookie is accepted in its own era and the next, so it lives 64 to
//! 128 s (Linux accepts cookies for up to two minutes, MAX_SYNCOOKIE_AGE).
//! A forged ACK passes with probability 2^-24 per try, against a key the
//! attacker never sees. The hash covers the full era, not only the five
//! bits on the wire, so an old cookie does not come back valid 32 eras
//! later.

use std::hash::Hasher;
use std::net::IpAddr;

use siphasher::sip::SipHasher24;

/// Seconds per era.
pub const ERA_SECS: u32 = 64;
/// Eras after its own in which a cookie is still accepted.
const MAX_AGE_ERAS: u32 = 1;
const ERA_SHIFT: u32 = 27;
const ERA_MASK: u32 = 0x1f;
const MSS_SHIFT: u32 = 24;
const MSS_MASK: u32 = 0x7;
const HASH_MASK: u32 = 0x00ff_ffff;

/// The MSS values a cookie can carry; the client is given the largest
/// not above the MSS it announced. 536 and 1220 are the IPv4 and IPv6
/// defaults (RFC 9293 §3.7.1, RFC 8200 §5), 1460/1440 the common
/// Ethernet values with and without timestamps, 8960 a 9000-byte jumbo
/// frame.
pub const MSS_TABLE: [u16; 8] = [536, 1220, 1300, 1360, 1400, 1440, 1460, 8960];

/// The connection a cookie is bound to, as the client addressed it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Flow {
    pub client: IpAddr,
    pub client_port: u16,
    pub vip: IpAddr,
    pub vport: u16,
}

/// The director's cookie key.
#[derive(Clone)]
pub struct SynCookies {
    k0: u64,
    k1: u64,
}

impl std::fmt::Debug for SynCookies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the key.
        f.write_str("SynCookies { .. }")
    }
}

impl SynCookies {
    /// Cookies under a 128-bit key. A director draws it at random at
    /// start; directors that must accept each other's cookies share it.
    pub fn new(key: [u8; 16]) -> SynCookies {
        let (a, b) = key.split_at(8);
        let word = |s: &[u8]| {
            let mut w = [0u8; 8];
            w.copy_from_slice(s);
            u64::from_le_bytes(w)
        };
        SynCookies {
            k0: word(a),
            k1: word(b),
        }
    }

    /// The cookie for a SYN of `flow` with sequence number `client_isn`
    /// announcing `client_mss` (`None`: no MSS option, the family's
    /// default applies) at `now_secs`.
    pub fn issue(
        &self,
        flow: &Flow,
        client_isn: u32,
        client_mss: Option<u16>,
        now_secs: u32,
    ) -> u32 {
        let era = now_secs / ERA_SECS;
        let mss = mss_index(client_mss.unwrap_or(default_mss(flow)));
        ((era & ERA_MASK) << ERA_SHIFT)
            | (u32::from(mss) << MSS_SHIFT)
            | self.hash(flow, client_isn, era, mss)
    }

    /// The MSS the cookie carries if `cookie` (the client's ACK number
    /// minus one) was issued for `flow` and `client_isn` (its sequence
    /// number minus one) at most one era before `now_secs`; `None` for a
    /// forged, stale or foreign ACK.
    pub fn check(&self, flow: &Flow, client_isn: u32, cookie: u32, now_secs: u32) -> Option<u16> {
        let now_era = now_secs / ERA_SECS;
        let age = now_era.wrapping_sub(cookie >> ERA_SHIFT) & ERA_MASK;
        if age > MAX_AGE_ERAS || age > now_era {
            return None;
        }
        let era = now_era - age;
        let mss = ((cookie >> MSS_SHIFT) & MSS_MASK) as u8;
        (self.hash(flow, client_isn, era, mss) == cookie & HASH_MASK)
            .then(|| MSS_TABLE[usize::from(mss)])
    }

    fn hash(&self, flow: &Flow, client_isn: u32, era: u32, mss: u8) -> u32 {
        let mut h = SipHasher24::new_with_keys(self.k0, self.k1);
        for (addr, port) in [(flow.client, flow.client_port), (flow.vip, flow.vport)] {
            match addr {
                IpAddr::V4(a) => {
                    h.write_u8(4);
                    h.write(&a.octets());
                }
                IpAddr::V6(a) => {
                    h.write_u8(6);
                    h.write(&a.octets());
                }
            }
            h.write_u16(port);
        }
        h.write_u32(client_isn);
        h.write_u32(era);
        h.write_u8(mss);
        (h.finish() as u32) & HASH_MASK
    }
}

/// The MSS a peer that sends no MSS option accepts (RFC 9293 §3.7.1:
/// 536 for IPv4; RFC 8200 §5: 1280 − 60 for IPv6).
fn default_mss(flow: &Flow) -> u16 {
    match flow.client {
        IpAddr::V4(_) => 536,
        IpAddr::V6(_) => 1220,
    }
}

/// Index of the largest table entry not above `mss` (the smallest entry
/// when `mss` is below them all: a client cannot be given less than 536).
fn mss_index(mss: u16) -> u8 {
    MSS_TABLE
        .iter()
        .rposition(|&m| m <= mss)
        .map_or(0, |i| i as u8)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const KEY: [u8; 16] = *b"0123456789abcdef";

    fn flow() -> Flow {
        Flow {
            client: "198.19.0.7".parse().unwrap(),
            client_port: 40000,
            vip: "198.18.0.11".parse().unwrap(),
            vport: 80,
        }
    }

    #[test]
    fn a_cookie_checks_in_its_era_and_the_next_only() {
        let c = SynCookies::new(KEY);
        let t = 10 * ERA_SECS + 5;
        let cookie = c.issue(&flow(), 1000, Some(1460), t);
        assert_eq!(c.check(&flow(), 1000, cookie, t), Some(1460));
        assert_eq!(c.check(&flow(), 1000, cookie, t + ERA_SECS), Some(1460));
        assert_eq!(
            c.check(&flow(), 1000, cookie, 12 * ERA_SECS),
            None,
            "two eras on"
        );
        // Thirty-two eras on, the five era bits match again; the hash
        // over the full era does not.
        assert_eq!(c.check(&flow(), 1000, cookie, t + 32 * ERA_SECS), None);
        // A cookie from the future (an ACK before its SYN) is refused.
        assert_eq!(c.check(&flow(), 1000, cookie, t - ERA_SECS), None);
    }

    #[test]
    fn a_cookie_is_bound_to_the_flow_the_isn_and_the_key() {
        let c = SynCookies::new(KEY);
        let cookie = c.issue(&flow(), 1000, Some(1460), 100);
        let mut other = flow();
        other.client_port = 40001;
        assert_eq!(c.check(&other, 1000, cookie, 100), None);
        let mut other = flow();
        other.vip = "198.18.0.12".parse().unwrap();
        assert_eq!(c.check(&other, 1000, cookie, 100), None);
        assert_eq!(c.check(&flow(), 1001, cookie, 100), None);
        assert_eq!(
            SynCookies::new(*b"fedcba9876543210").check(&flow(), 1000, cookie, 100),
            None
        );
        // Another MSS index in the same cookie is another hash.
        assert_eq!(c.check(&flow(), 1000, cookie ^ (1 << MSS_SHIFT), 100), None);
    }

    #[test]
    fn the_mss_is_rounded_down_to_the_table() {
        let c = SynCookies::new(KEY);
        let got = |mss| {
            let cookie = c.issue(&flow(), 7, mss, 0);
            c.check(&flow(), 7, cookie, 0).unwrap()
        };
        assert_eq!(got(Some(1460)), 1460);
        assert_eq!(got(Some(1459)), 1440);
        assert_eq!(got(Some(9000)), 8960);
        assert_eq!(got(Some(100)), 536, "never below the IPv4 minimum");
        assert_eq!(got(None), 536, "IPv4 default");
        let mut v6 = flow();
        v6.client = "fd00::7".parse().unwrap();
        v6.vip = "fd00::11".parse().unwrap();
        let cookie = c.issue(&v6, 7, None, 0);
        assert_eq!(c.check(&v6, 7, cookie, 0), Some(1220), "IPv6 default");
    }

    #[test]
    fn the_key_is_not_printed() {
        assert_eq!(format!("{:?}", SynCookies::new(KEY)), "SynCookies { .. }");
    }

    proptest! {
        #[test]
        fn issued_cookies_check_and_forgeries_rarely_do(
            isn in any::<u32>(), port in any::<u16>(), now in 0u32..u32::MAX / 2,
            mss in proptest::option::of(any::<u16>()), guess in any::<u32>(),
        ) {
            let c = SynCookies::new(KEY);
            let mut f = flow();
            f.client_port = port;
            let cookie = c.issue(&f, isn, mss, now);
            prop_assert!(c.check(&f, isn, cookie, now).is_some());
            // A random guess passes only if it is the cookie (2^-24 chance
            // otherwise, which proptest's few hundred cases will not hit).
            if guess != cookie {
                prop_assert!(c.check(&f, isn, guess, now).is_none() || (guess & HASH_MASK) == (cookie & HASH_MASK));
            }
        }
    }
}
