//! What a lab looks like: the forwarding method the real servers are
//! prepared for, how many directors, real servers and queues, the VIPs and
//! FullNAT local addresses, and the fixed addresses of the topology. Also the
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
/// The director's address on the client side ({p}c); director 1's in a
/// pair too.
pub const DIR_CLIENT4: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
pub const DIR_CLIENT6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 1, 0, 0, 0, 2);
/// A single director's address on the real-server side ({p}r): the real
/// servers' default gateway. In a pair it is on no interface (see
/// [`SERVER_GW4`]).
pub const DIR_SERVER4: Ipv4Addr = Ipv4Addr::new(198, 18, 1, 1);
pub const DIR_SERVER6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 2, 0, 0, 0, 1);
/// A VRRP pair (`directors = 2`): director 1's address on the real-server
/// side. 198.18.1.1 and fd00:0:0:2::1 ([`SERVER_GW4`], [`SERVER_GW6`])
/// are then on no interface: they are the real servers' gateway, a VRRP
/// virtual address the master holds. Director 1 keeps [`DIR_CLIENT4`] and
/// [`DIR_CLIENT6`] on the client side.
pub const DIR1_PAIR_SERVER4: Ipv4Addr = Ipv4Addr::new(198, 18, 1, 2);
pub const DIR1_PAIR_SERVER6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 2, 0, 0, 0, 2);
/// A VRRP pair: director 2's addresses, client side and real-server side.
pub const DIR2_CLIENT4: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 3);
pub const DIR2_CLIENT6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 1, 0, 0, 0, 3);
pub const DIR2_SERVER4: Ipv4Addr = Ipv4Addr::new(198, 18, 1, 3);
pub const DIR2_SERVER6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 2, 0, 0, 0, 3);
/// The real servers' default gateway, in every lab: the single director's
/// own address, or in a pair a VRRP virtual address.
pub const SERVER_GW4: Ipv4Addr = DIR_SERVER4;
pub const SERVER_GW6: Ipv6Addr = DIR_SERVER6;
/// A VRRP pair: the client's default gateway, on no interface (a VRRP
/// virtual address the client-side instance can hold). The VIPs of the
/// client segment are reached on-link without it; it only matters for
/// off-link destinations (the real servers in NAT tests, VIPs outside
/// 198.18.0.0/24).
pub const CLIENT_GW4: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
pub const CLIENT_GW6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 1, 0, 0, 0, 1);
/// How many directors a lab may have: one, a VRRP pair, or three behind
/// an ECMP router (crate::ecmp).
pub const MAX_DIRECTORS: usize = 3;
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

/// The interface addresses of one director.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DirectorAddrs {
    /// On its client-side veth ({p}c).
    pub client4: Ipv4Addr,
    pub client6: Ipv6Addr,
    /// On its real-server-side veth ({p}r).
    pub server4: Ipv4Addr,
    pub server6: Ipv6Addr,
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
    /// 1, 2 for a VRRP pair on shared segments, or 3 behind an upstream
    /// ECMP router (the crate docs and crate::ecmp draw the topologies).
    pub directors: usize,
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
            directors: 1,
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
        if self.directors == 0 || self.directors > MAX_DIRECTORS {
            return Err(LabError::Spec(format!(
                "directors must be 1..={MAX_DIRECTORS} (2 is a VRRP pair, 3 ECMP), got {}",
                self.directors
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
            let on_directors_segment = match addr {
                IpAddr::V4(a) => a.octets()[..3] == crate::ecmp::DIRECTORS_NET4.octets()[..3],
                IpAddr::V6(a) => a.segments()[..4] == [0xfd00, 0, 0, 1],
            };
            if self.is_ecmp() && on_directors_segment {
                return Err(LabError::Spec(format!(
                    "{addr} is on the directors' segment: behind an ECMP router a VIP must be off every segment (e.g. 198.18.3.0/24), or ARP, not the routes, would pick the director"
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

    /// True for a VRRP pair (two directors).
    pub fn is_pair(&self) -> bool {
        self.directors == 2
    }

    /// True for three directors behind an ECMP router (crate::ecmp).
    pub fn is_ecmp(&self) -> bool {
        self.directors == 3
    }

    /// Director `i`'s (1-based) interface addresses, `None` when the lab
    /// has no director `i`. A single director has [`DIR_CLIENT4`] and
    /// [`DIR_SERVER4`] (the real servers' gateway); in a pair, director 1
    /// has .2 and director 2 .3 on both sides, and the gateways are
    /// virtual.
    pub fn director_addrs(&self, i: usize) -> Option<DirectorAddrs> {
        match (self.directors, i) {
            (1, 1) => Some(DirectorAddrs {
                client4: DIR_CLIENT4,
                client6: DIR_CLIENT6,
                server4: DIR_SERVER4,
                server6: DIR_SERVER6,
            }),
            (2, 1) => Some(DirectorAddrs {
                client4: DIR_CLIENT4,
                client6: DIR_CLIENT6,
                server4: DIR1_PAIR_SERVER4,
                server6: DIR1_PAIR_SERVER6,
            }),
            (2, 2) => Some(DirectorAddrs {
                client4: DIR2_CLIENT4,
                client6: DIR2_CLIENT6,
                server4: DIR2_SERVER4,
                server6: DIR2_SERVER6,
            }),
            // ECMP: director i is .(1+i) on both segments, the router .1.
            (3, 1..=3) => {
                let h = 1 + i as u8;
                Some(DirectorAddrs {
                    client4: Ipv4Addr::new(198, 18, 0, h),
                    client6: Ipv6Addr::new(0xfd00, 0, 0, 1, 0, 0, 0, u16::from(h)),
                    server4: Ipv4Addr::new(198, 18, 1, h),
                    server6: Ipv6Addr::new(0xfd00, 0, 0, 2, 0, 0, 0, u16::from(h)),
                })
            }
            _ => None,
        }
    }

    /// True when `addr` is one of the addresses the topology assigns (or,
    /// in a pair, one of the virtual gateways).
    fn fixed_addr(&self, addr: IpAddr) -> bool {
        let mut fixed: Vec<IpAddr> = vec![CLIENT4.into(), CLIENT6.into()];
        for d in (1..=self.directors).filter_map(|i| self.director_addrs(i)) {
            fixed.extend::<[IpAddr; 4]>([
                d.client4.into(),
                d.client6.into(),
                d.server4.into(),
                d.server6.into(),
            ]);
        }
        if self.is_ecmp() {
            use crate::ecmp::*;
            fixed.extend::<[IpAddr; 6]>([
                ECMP_CLIENT4.into(),
                ECMP_CLIENT6.into(),
                ROUTER_CLIENT4.into(),
                ROUTER_CLIENT6.into(),
                ROUTER_DIRECTORS4.into(),
                ROUTER_DIRECTORS6.into(),
            ]);
            fixed.extend(ecmp_client_extra4().into_iter().map(IpAddr::V4));
        }
        if self.is_pair() {
            fixed.extend::<[IpAddr; 4]>([
                SERVER_GW4.into(),
                SERVER_GW6.into(),
                CLIENT_GW4.into(),
                CLIENT_GW6.into(),
            ]);
        }
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
            "method={}\nreal_servers={}\nqueues={}\nvips4={}\nvips6={}\nlocal4={}\nlocal6={}\nbackends={}\ndirectors={}\n",
            self.method,
            self.real_servers,
            self.queues,
            list(&self.vips4),
            list(&self.vips6),
            list(&self.local4),
            list(&self.local6),
            self.backends,
            self.directors,
        )
    }

    /// Parse [`to_text`](Self::to_text) back. Keys that are absent keep
    /// their defaults.
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
                // Absent in specs saved before pairs existed: 1 (the default).
                "directors" => spec.directors = value.parse().map_err(|_| bad(key, value))?,
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
            directors: 2,
        };
        let text = spec.to_text();
        assert!(text.contains("method=kernel-nat\n"), "{text}");
        assert!(text.contains("vips4=198.18.0.100,198.18.0.101\n"), "{text}");
        assert!(text.contains("directors=2\n"), "{text}");
        assert_eq!(LabSpec::from_text(&text).ok(), Some(spec));
        let single = LabSpec::default();
        assert_eq!(LabSpec::from_text(&single.to_text()).ok(), Some(single));
    }

    #[test]
    fn a_spec_saved_before_pairs_has_one_director() {
        let old = "method=nat\nreal_servers=3\nqueues=1\nbackends=true\n";
        let spec = LabSpec::from_text(old).expect("an old saved spec");
        assert_eq!(spec.directors, 1);
    }

    #[test]
    fn director_counts_are_one_or_two() {
        for (n, ok) in [(0, false), (1, true), (2, true), (3, false)] {
            let spec = LabSpec {
                directors: n,
                ..LabSpec::default()
            };
            assert_eq!(spec.validate().is_ok(), ok, "{n}");
        }
        assert!(LabSpec::from_text("method=nat\ndirectors=3\n").is_err());
        assert!(LabSpec::from_text("method=nat\ndirectors=two\n").is_err());
    }

    #[test]
    fn director_addresses_follow_the_plan() {
        let single = LabSpec::default();
        let d1 = single.director_addrs(1).expect("director 1");
        assert_eq!((d1.client4, d1.server4), (DIR_CLIENT4, DIR_SERVER4));
        assert_eq!((d1.client6, d1.server6), (DIR_CLIENT6, DIR_SERVER6));
        assert_eq!(single.director_addrs(2), None);
        assert_eq!(single.director_addrs(0), None);

        let pair = LabSpec {
            directors: 2,
            ..LabSpec::default()
        };
        let d1 = pair.director_addrs(1).expect("director 1");
        let d2 = pair.director_addrs(2).expect("director 2");
        assert_eq!(
            [d1.client4, d1.server4, d2.client4, d2.server4].map(|a| a.to_string()),
            ["198.18.0.2", "198.18.1.2", "198.18.0.3", "198.18.1.3"]
        );
        assert_eq!(
            [d1.client6, d1.server6, d2.client6, d2.server6].map(|a| a.to_string()),
            [
                "fd00:0:0:1::2",
                "fd00:0:0:2::2",
                "fd00:0:0:1::3",
                "fd00:0:0:2::3"
            ]
        );
        assert_eq!(pair.director_addrs(3), None);
        // The gateways are virtual in a pair: on neither director.
        for d in [d1, d2] {
            assert_ne!(d.server4, SERVER_GW4);
            assert_ne!(d.server6, SERVER_GW6);
            assert_ne!(d.client4, CLIENT_GW4);
        }
    }

    #[test]
    fn a_pair_keeps_its_addresses_and_gateways_from_vips() {
        for vip in [DIR2_CLIENT4, CLIENT_GW4, SERVER_GW4, DIR1_PAIR_SERVER4] {
            let spec = LabSpec {
                directors: 2,
                vips4: vec![vip],
                ..LabSpec::default()
            };
            assert!(spec.validate().is_err(), "{vip}");
        }
        let spec = LabSpec {
            directors: 2,
            vips6: vec![CLIENT_GW6],
            ..LabSpec::default()
        };
        assert!(spec.validate().is_err());
        // A single director leaves 198.18.0.3 free.
        let spec = LabSpec {
            vips4: vec![DIR2_CLIENT4],
            ..LabSpec::default()
        };
        assert!(spec.validate().is_ok());
    }

    #[test]
    fn text_form_rejects_garbage() {
        assert!(LabSpec::from_text("method=nat\nqueues=lots\n").is_err());
        assert!(LabSpec::from_text("real_servers=3\n").is_err());
        assert!(LabSpec::from_text("method=nat\ncolour=blue\n").is_err());
        assert!(LabSpec::from_text("method=nat\nvips4=198.18.0.1000\n").is_err());
    }
}
