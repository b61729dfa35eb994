//! Finding the destination MAC when `--dst-mac` is not given: the kernel's
//! own route and neighbour tables decide. The generator asks `ip route get
//! DST` for the outgoing interface, source address and next hop, makes the
//! kernel resolve the next hop by sending it one ordinary UDP datagram (an
//! ARP request goes out, RFC 826), then reads the answer from
//! `/proc/net/arp`. These are the parsers for those two texts; the I/O is
//! in the binary.

use std::net::Ipv4Addr;

/// What `ip route get DST` says about a destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub dev: String,
    /// The gateway, when the destination is not on-link.
    pub via: Option<Ipv4Addr>,
    /// The source address the kernel would use.
    pub src: Option<Ipv4Addr>,
}

impl Route {
    /// The address whose MAC frames to `dst` go to.
    pub fn next_hop(&self, dst: Ipv4Addr) -> Ipv4Addr {
        self.via.unwrap_or(dst)
    }
}

/// Parses the first line of `ip route get` output, e.g.
/// `198.18.0.100 via 198.18.0.1 dev eth0 src 198.18.0.10 uid 0`.
pub fn parse_route_get(text: &str) -> Option<Route> {
    let words: Vec<&str> = text.lines().next()?.split_whitespace().collect();
    let after = |key: &str| {
        words
            .windows(2)
            .find(|w| w[0] == key)
            .map(|w| w[1].to_owned())
    };
    Some(Route {
        dev: after("dev")?,
        via: after("via").and_then(|v| v.parse().ok()),
        src: after("src").and_then(|v| v.parse().ok()),
    })
}

/// Parses `aa:bb:cc:dd:ee:ff`.
pub fn parse_mac(text: &str) -> Option<[u8; 6]> {
    let mut mac = [0u8; 6];
    let mut parts = text.trim().split(':');
    for b in &mut mac {
        let p = parts.next()?;
        if p.is_empty() || p.len() > 2 {
            return None;
        }
        *b = u8::from_str_radix(p, 16).ok()?;
    }
    parts.next().is_none().then_some(mac)
}

/// Formats a MAC the way `ip link` prints it.
pub fn format_mac(mac: [u8; 6]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// ATF_COM in /proc/net/arp's flags column: the entry is resolved.
const ATF_COM: u32 = 0x2;

/// The resolved MAC of `ip` on `dev` in `/proc/net/arp` text (columns: IP
/// address, HW type, Flags, HW address, Mask, Device).
pub fn parse_proc_arp(text: &str, ip: Ipv4Addr, dev: &str) -> Option<[u8; 6]> {
    text.lines().skip(1).find_map(|line| {
        let cols: Vec<&str> = line.split_whitespace().collect();
        let [addr, _hw, flags, mac, _mask, device] = cols.as_slice() else {
            return None;
        };
        let flags = u32::from_str_radix(flags.trim_start_matches("0x"), 16).ok()?;
        (addr.parse::<Ipv4Addr>().ok()? == ip && *device == dev && flags & ATF_COM != 0)
            .then(|| parse_mac(mac))
            .flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_get_on_link_and_via_a_gateway() {
        let on_link =
            parse_route_get("198.18.0.100 dev eth0 src 198.18.0.10 uid 0 \n    cache \n").unwrap();
        assert_eq!(
            on_link,
            Route {
                dev: "eth0".into(),
                via: None,
                src: Some(Ipv4Addr::new(198, 18, 0, 10)),
            }
        );
        let dst = Ipv4Addr::new(198, 18, 0, 100);
        assert_eq!(on_link.next_hop(dst), dst);
        let routed =
            parse_route_get("198.18.1.11 via 198.18.0.2 dev eth0 src 198.18.0.10 uid 0\n").unwrap();
        assert_eq!(routed.next_hop(dst), Ipv4Addr::new(198, 18, 0, 2));
        assert_eq!(
            parse_route_get("RTNETLINK answers: Network is unreachable"),
            None
        );
        assert_eq!(parse_route_get(""), None);
    }

    #[test]
    fn proc_arp_gives_only_complete_entries_of_the_device() {
        let text = "\
IP address       HW type     Flags       HW address            Mask     Device
198.18.0.2       0x1         0x2         02:aa:bb:cc:dd:01     *        eth0
198.18.0.100     0x1         0x0         00:00:00:00:00:00     *        eth0
198.18.0.3       0x1         0x2         02:aa:bb:cc:dd:03     *        eth1
";
        let ip = |s: &str| s.parse::<Ipv4Addr>().unwrap();
        assert_eq!(
            parse_proc_arp(text, ip("198.18.0.2"), "eth0"),
            Some([2, 0xaa, 0xbb, 0xcc, 0xdd, 1])
        );
        assert_eq!(
            parse_proc_arp(text, ip("198.18.0.100"), "eth0"),
            None,
            "incomplete"
        );
        assert_eq!(
            parse_proc_arp(text, ip("198.18.0.3"), "eth0"),
            None,
            "other device"
        );
    }

    #[test]
    fn macs_parse_and_print() {
        assert_eq!(parse_mac("02:0a:FF:00:1:2\n"), Some([2, 10, 255, 0, 1, 2]));
        assert_eq!(parse_mac("02:0a:ff:00:01"), None);
        assert_eq!(parse_mac("02:0a:ff:00:01:02:03"), None);
        assert_eq!(parse_mac("02:0a:fff:00:01:02"), None);
        assert_eq!(format_mac([2, 10, 255, 0, 1, 2]), "02:0a:ff:00:01:02");
    }
}
