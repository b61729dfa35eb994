//! What a lab looks like: the forwarding method the real servers are
//! prepared for, how many real servers and queues, the VIPs and FullNAT
//! local addresses, and the fixed addresses of the topology. Also the
//! one-line-per-field text form a lab saves beside its logs so that
//! `xvs-lab client` can find a lab that `xvs-lab up` left running.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use crate::LabError;

/// The client's main address (on the director's client segment).
pub const CLIENT4: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 10);
/// The client's IPv6 address.
pub const CLIENT6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 1, 0, 0, 0, 0x10);
/// Extra client source addresses (198.18.0.11 ..= 198.18.0.20), for tests
/// of source hashing and persistence.
pub const CLIENT4_EXTRA: std::ops::RangeInclusive<u8> = 11..=20;
/// The director's address on the client side ({p}c).
pub const DIR_CLIENT4: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
pub const DIR_CLIENT6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 1, 0, 0, 0, 2);
/// The director's address on the real-server side ({p}r): the real
/// servers' default gateway.
pub const DIR_SERVER4: Ipv4Addr = Ipv4Addr::new(198, 18, 1, 1);
pub const DIR_SERVER6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 2, 0, 0, 0, 1);
/// Default VIPs.
pub const DEFAULT_VIP4: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 100);
pub const DEFAULT_VIP6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 1, 0, 0, 0, 0x100);
/// Default FullNAT local addresses (configured on no interface: xvs
/// answers ARP/ND for them).
pub const DEFAULT_LOCAL4: Ipv4Addr = Ipv4Addr::new(198, 18, 1, 200);
pub const DEFAULT_LOCAL6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 2, 0, 0, 0, 0x200);
/// Prefix lengths of the two segments.
pub const PREFIX_LEN4: u8 = 24;
pub const PREFIX_LEN6: u8 = 64;
/// Ports every lab backend serves (lab-backend.py): HTTP, and UDP echo.
pub const HTTP_PORTS: [u16; 2] = [80, 8080];
pub const UDP_PORTS: [u16; 2] = [53, 5353];
/// HTTPS, the HTTP handler behind TLS: served only when the backend's
/// state directory holds `cert.pem` and `key.pem` at start
/// ([`Lab::write_tls`](crate::Lab::write_tls)).
pub const HTTPS_PORT: u16 = 443;
/// UDP: a DNS responder whose RCODE a test sets
/// ([`Lab::set_dns_rcode`](crate::Lab::set_dns_rcode)).
pub const DNS_PORT: u16 = 5300;
/// TCP: an SMTP banner server (220 banner, HELO, QUIT).
pub const SMTP_PORT: u16 = 2525;
/// The HTTP path whose status and body a test sets
/// ([`Lab::set_health_status`](crate::Lab::set_health_status)).
pub const HEALTH_PATH: &str = "/health";
/// Where [`Lab::add_backend_addresses`](crate::Lab::add_backend_addresses)
/// takes extra real-server addresses from: 198.19.0.0/16, inside the test
/// range and away from the client and real-server segments (198.18.0.0/24,
/// 198.18.1.0/24).
pub const EXTRA_POOL4: Ipv4Addr = Ipv4Addr::new(198, 19, 0, 0);
pub const EXTRA_POOL4_LEN: u8 = 16;
/// Real servers are 198.18.1.11 upwards; this many keeps them below the
/// default local address 198.18.1.200.
pub const MAX_REAL_SERVERS: usize = 100;
/// Queue counts a director veth may be created with.
pub const MAX_QUEUES: u32 = 16;

/// Real server `i` (1-based): 198.18.1.(10+i).
pub fn rs_addr4(i: usize) -> Ipv4Addr {
    Ipv4Addr::new(198, 18, 1, 10u8.saturating_add(clamp_rs(i)))
}

/// Real server `i` (1-based): fd00:0:0:2::(10+i), with 10+i written in hex
/// digits as decimal reads ("::11" for i = 1), matching the IPv4 address.
pub fn rs_addr6(i: usize) -> Ipv6Addr {
    let n = u16::from(10u8.saturating_add(clamp_rs(i)));
    // 11 → 0x11: the decimal digits reused as hex digits, so the last
    // group reads like the IPv4 host part.
    let hexlike = (n / 100) * 0x100 + ((n / 10) % 10) * 0x10 + n % 10;
    Ipv6Addr::new(0xfd00, 0, 0, 2, 0, 0, 0, hexlike)
}

fn clamp_rs(i: usize) -> u8 {
    // Indices are validated against MAX_REAL_SERVERS by LabSpec::validate;
    // clamping keeps these helpers total for any argument.
    u8::try_from(i.min(MAX_REAL_SERVERS)).unwrap_or(u8::MAX)
}

/// How the real servers (and, for the baseline, the director) are prepared.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Method {
    /// The director is the real servers' default gateway; nothing more.
    Nat,
    /// VIPs on the real servers' `lo`, ARP for them suppressed.
    Dr,
    /// As Dr; the test attaches xvs's IPIP decap helper itself.
    Tun,
    /// Nothing more: replies go to the local addresses, on-link.
    FullNat,
    /// The director namespace balances with nftables DNAT (the baseline).
    KernelNat,
}

impl Method {
    pub const ALL: [Method; 5] = [
        Method::Nat,
        Method::Dr,
        Method::Tun,
        Method::FullNat,
        Method::KernelNat,
    ];

    /// The name the CLI and the saved spec use.
    pub const fn name(self) -> &'static str {
        match self {
            Method::Nat => "nat",
            Method::Dr => "dr",
            Method::Tun => "tun",
            Method::FullNat => "fullnat",
            Method::KernelNat => "kernel-nat",
        }
    }

    /// True when the real servers hold the VIPs on `lo` (DR and TUN reply
    /// from the VIP themselves).
    pub const fn vip_on_real_servers(self) -> bool {
        matches!(self, Method::Dr | Method::Tun)
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Method {
    type Err = LabError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Method::ALL
            .into_iter()
            .find(|m| m.name() == s)
            .ok_or_else(|| {
                LabError::Spec(format!(
                    "unknown method {s:?} (one of nat, dr, tun, fullnat, kernel-nat)"
                ))
            })
    }
}

/// The shape of a lab. `LabSpec::default()` is a NAT lab with 3 real
/// servers, 1 queue, the default VIPs and local addresses, and backends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabSpec {
    pub method: Method,
    pub real_servers: usize,
    /// RX and TX queues of the director's two veths (and their peers).
    pub queues: u32,
    pub vips4: Vec<Ipv4Addr>,
    pub vips6: Vec<Ipv6Addr>,
    pub local4: Vec<Ipv4Addr>,
    pub local6: Vec<Ipv6Addr>,
    /// Start lab-backend.py on every real server.
    pub backends: bool,
}

impl Default for LabSpec {
    fn default() -> Self {
        LabSpec {
            method: Method::Nat,
            real_servers: 3,
            queues: 1,
            vips4: vec![DEFAULT_VIP4],
            vips6: vec![DEFAULT_VIP6],
            local4: vec![DEFAULT_LOCAL4],
            local6: vec![DEFAULT_LOCAL6],
            backends: true,
        }
    }
}

impl LabSpec {
    /// The default lab prepared for `method`.
    pub fn new(method: Method) -> Self {
        LabSpec {
            method,
            ..LabSpec::default()
        }
    }

    /// Refuse specs the lab cannot build, and any address outside the test
    /// ranges 198.18.0.0/15 and fd00::/8 (the lab never targets anything
    /// else).
    pub fn validate(&self) -> Result<(), LabError> {
        if self.real_servers == 0 || self.real_servers > MAX_REAL_SERVERS {
            return Err(LabError::Spec(format!(
                "real_servers must be 1..={MAX_REAL_SERVERS}, got {}",
                self.real_servers
            )));
        }
        if self.queues == 0 || self.queues > MAX_QUEUES {
            return Err(LabError::Spec(format!(
                "queues must be 1..={MAX_QUEUES}, got {}",
                self.queues
            )));
        }
        let all = self
            .vips4
            .iter()
            .chain(&self.local4)
            .map(|a| IpAddr::V4(*a))
            .chain(
                self.vips6
                    .iter()
                    .chain(&self.local6)
                    .map(|a| IpAddr::V6(*a)),
            );
        for addr in all {
            if !in_test_ranges(addr) {
                return Err(LabError::Spec(format!(
                    "{addr} is outside 198.18.0.0/15 and fd00::/8, the only ranges the lab uses"
                )));
            }
            if self.fixed_addr(addr) {
                return Err(LabError::Spec(format!(
                    "{addr} is already a client, director or real-server address of the lab"
                )));
            }
            if in_extra_pool(addr) {
                return Err(LabError::Spec(format!(
                    "{addr} is in {EXTRA_POOL4}/{EXTRA_POOL4_LEN}, kept for extra real-server addresses"
                )));
            }
        }
        Ok(())
    }

    /// True when `addr` is one of the addresses the topology assigns.
    fn fixed_addr(&self, addr: IpAddr) -> bool {
        let mut fixed: Vec<IpAddr> = vec![
            CLIENT4.into(),
            CLIENT6.into(),
            DIR_CLIENT4.into(),
            DIR_CLIENT6.into(),
            DIR_SERVER4.into(),
            DIR_SERVER6.into(),
        ];
        fixed.extend(CLIENT4_EXTRA.map(|h| IpAddr::V4(Ipv4Addr::new(198, 18, 0, h))));
        for i in 1..=self.real_servers {
            fixed.push(rs_addr4(i).into());
            fixed.push(rs_addr6(i).into());
        }
        fixed.contains(&addr)
    }

    /// The text a lab saves beside its logs: one `key=value` per line,
    /// address lists comma-separated.
    pub fn to_text(&self) -> String {
        fn list<T: fmt::Display>(items: &[T]) -> String {
            items
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(",")
        }
        format!(
            "method={}\nreal_servers={}\nqueues={}\nvips4={}\nvips6={}\nlocal4={}\nlocal6={}\nbackends={}\n",
            self.method,
            self.real_servers,
            self.queues,
            list(&self.vips4),
            list(&self.vips6),
            list(&self.local4),
            list(&self.local6),
            self.backends,
        )
    }

    /// Parse [`to_text`](Self::to_text) back.
    pub fn from_text(text: &str) -> Result<Self, LabError> {
        fn bad(what: &str, value: &str) -> LabError {
            LabError::Spec(format!("saved spec: bad {what} {value:?}"))
        }
        fn list<T: FromStr>(key: &str, value: &str) -> Result<Vec<T>, LabError> {
            value
                .split(',')
                .filter(|s| !s.is_empty())
                .map(|s| s.parse().map_err(|_| bad(key, s)))
                .collect()
        }
        let mut spec = LabSpec::default();
        let mut seen = Vec::new();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let (key, value) = line.split_once('=').ok_or_else(|| bad("line", line))?;
            match key {
                "method" => spec.method = value.parse()?,
                "real_servers" => spec.real_servers = value.parse().map_err(|_| bad(key, value))?,
                "queues" => spec.queues = value.parse().map_err(|_| bad(key, value))?,
                "vips4" => spec.vips4 = list(key, value)?,
                "vips6" => spec.vips6 = list(key, value)?,
                "local4" => spec.local4 = list(key, value)?,
                "local6" => spec.local6 = list(key, value)?,
                "backends" => spec.backends = value.parse().map_err(|_| bad(key, value))?,
                _ => return Err(bad("key", key)),
            }
            seen.push(key.to_owned());
        }
        if !seen.iter().any(|k| k == "method") {
            return Err(LabError::Spec("saved spec has no method".into()));
        }
        spec.validate()?;
        Ok(spec)
    }
}

/// True for 198.18.0.0/15 and fd00::/8.
pub fn in_test_ranges(addr: IpAddr) -> bool {
    match addr {
        IpAddr::V4(a) => {
            let o = a.octets();
            o[0] == 198 && (o[1] == 18 || o[1] == 19)
        }
        IpAddr::V6(a) => a.octets()[0] == 0xfd,
    }
}

/// True for addresses of [`EXTRA_POOL4`]/[`EXTRA_POOL4_LEN`].
pub fn in_extra_pool(addr: IpAddr) -> bool {
    match addr {
        IpAddr::V4(a) => {
            let mask = u32::MAX << (32 - EXTRA_POOL4_LEN);
            u32::from(a) & mask == u32::from(EXTRA_POOL4)
        }
        IpAddr::V6(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_server_addresses_follow_the_plan() {
        assert_eq!(rs_addr4(1), Ipv4Addr::new(198, 18, 1, 11));
        assert_eq!(rs_addr4(3), Ipv4Addr::new(198, 18, 1, 13));
        assert_eq!(rs_addr6(1).to_string(), "fd00:0:0:2::11");
        assert_eq!(rs_addr6(3).to_string(), "fd00:0:0:2::13");
        assert_eq!(rs_addr6(90).to_string(), "fd00:0:0:2::100");
        assert_eq!(rs_addr4(MAX_REAL_SERVERS), Ipv4Addr::new(198, 18, 1, 110));
        // Out of range clamps instead of wrapping onto another address.
        assert_eq!(rs_addr4(100_000), rs_addr4(MAX_REAL_SERVERS));
    }

    #[test]
    fn method_names_round_trip() {
        for m in Method::ALL {
            assert_eq!(m.name().parse::<Method>().ok(), Some(m));
        }
        assert!("ipvs".parse::<Method>().is_err());
        assert!(Method::Dr.vip_on_real_servers() && Method::Tun.vip_on_real_servers());
        assert!(!Method::Nat.vip_on_real_servers() && !Method::KernelNat.vip_on_real_servers());
    }

    #[test]
    fn default_spec_is_valid() {
        assert_eq!(LabSpec::default().validate().ok(), Some(()));
    }

    #[test]
    fn validate_refuses_bad_counts() {
        for (rs, q) in [
            (0, 1),
            (MAX_REAL_SERVERS + 1, 1),
            (3, 0),
            (3, MAX_QUEUES + 1),
        ] {
            let spec = LabSpec {
                real_servers: rs,
                queues: q,
                ..LabSpec::default()
            };
            assert!(
                matches!(spec.validate(), Err(LabError::Spec(_))),
                "{rs} {q}"
            );
        }
    }

    #[test]
    fn validate_refuses_addresses_outside_test_ranges() {
        let spec = LabSpec {
            vips4: vec![Ipv4Addr::new(10, 0, 0, 1)],
            ..LabSpec::default()
        };
        assert!(spec.validate().is_err());
        let spec = LabSpec {
            local6: vec!["2001:db8::1".parse().unwrap_or(Ipv6Addr::LOCALHOST)],
            ..LabSpec::default()
        };
        assert!(spec.validate().is_err());
        assert!(in_test_ranges(
            "198.19.255.1".parse().unwrap_or(IpAddr::V4(CLIENT4))
        ));
        assert!(!in_test_ranges(IpAddr::V4(Ipv4Addr::new(198, 20, 0, 1))));
    }

    #[test]
    fn the_extra_pool_is_a_test_range_kept_from_vips() {
        let first = IpAddr::V4(EXTRA_POOL4);
        let last = IpAddr::V4(Ipv4Addr::new(198, 19, 255, 255));
        assert!(in_extra_pool(first) && in_extra_pool(last));
        assert!(in_test_ranges(first) && in_test_ranges(last));
        assert!(!in_extra_pool(IpAddr::V4(DEFAULT_VIP4)));
        assert!(!in_extra_pool(IpAddr::V4(rs_addr4(MAX_REAL_SERVERS))));
        let spec = LabSpec {
            vips4: vec![Ipv4Addr::new(198, 19, 3, 1)],
            ..LabSpec::default()
        };
        assert!(spec.validate().is_err());
    }

    #[test]
    fn validate_refuses_a_vip_that_is_a_topology_address() {
        let spec = LabSpec {
            vips4: vec![rs_addr4(2)],
            ..LabSpec::default()
        };
        assert!(spec.validate().is_err());
        let spec = LabSpec {
            vips4: vec![Ipv4Addr::new(198, 18, 0, 15)],
            ..LabSpec::default()
        };
        assert!(spec.validate().is_err());
    }

    #[test]
    fn text_form_round_trips() {
        let spec = LabSpec {
            method: Method::KernelNat,
            real_servers: 5,
            queues: 2,
            vips4: vec![DEFAULT_VIP4, Ipv4Addr::new(198, 18, 0, 101)],
            vips6: vec![],
            local4: vec![DEFAULT_LOCAL4],
            local6: vec![DEFAULT_LOCAL6],
            backends: false,
        };
        let text = spec.to_text();
        assert!(text.contains("method=kernel-nat\n"), "{text}");
        assert!(text.contains("vips4=198.18.0.100,198.18.0.101\n"), "{text}");
        assert_eq!(LabSpec::from_text(&text).ok(), Some(spec));
    }

    #[test]
    fn text_form_rejects_garbage() {
        assert!(LabSpec::from_text("method=nat\nqueues=lots\n").is_err());
        assert!(LabSpec::from_text("real_servers=3\n").is_err());
        assert!(LabSpec::from_text("method=nat\ncolour=blue\n").is_err());
        assert!(LabSpec::from_text("method=nat\nvips4=198.18.0.1000\n").is_err());
    }
}
