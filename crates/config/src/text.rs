//! Scalar value syntaxes of the config file: addresses, prefixes, MACs,
//! port and status ranges, scheduler names. Each is parsed while serde reads
//! the document ([`Parsed`]), so a malformed value is reported by serde_yaml
//! with its exact line:col and key path, like any other type error.

use std::fmt;
use std::marker::PhantomData;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde::de::{self, Deserialize, Deserializer, Visitor};

use crate::model::{IpNet, MacAddr};
use crate::types::SchedulerKind;

/// A value with its own text syntax.
pub trait FromYamlStr: Sized {
    /// What the value looks like, for "expected ..." messages.
    const EXPECTING: &'static str;
    fn from_yaml_str(text: &str) -> Result<Self, String>;
}

/// A scalar parsed with [`FromYamlStr`] during deserialization. Integers are
/// accepted too and parsed as their decimal text (`ports: 8080`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Parsed<T>(pub T);

impl<'de, T: FromYamlStr> Deserialize<'de> for Parsed<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ParsedVisitor<T>(PhantomData<T>);

        impl<T: FromYamlStr> Visitor<'_> for ParsedVisitor<T> {
            type Value = Parsed<T>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(T::EXPECTING)
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                T::from_yaml_str(v.trim()).map(Parsed).map_err(E::custom)
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                self.visit_str(&v.to_string())
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                self.visit_str(&v.to_string())
            }
        }

        deserializer.deserialize_any(ParsedVisitor(PhantomData))
    }
}

impl FromYamlStr for IpAddr {
    const EXPECTING: &'static str = "an IPv4 or IPv6 address";
    fn from_yaml_str(text: &str) -> Result<Self, String> {
        text.parse()
            .map_err(|_| format!("`{text}` is not an IPv4 or IPv6 address"))
    }
}

impl FromYamlStr for Ipv4Addr {
    const EXPECTING: &'static str = "an IPv4 address";
    fn from_yaml_str(text: &str) -> Result<Self, String> {
        text.parse()
            .map_err(|_| format!("`{text}` is not an IPv4 address"))
    }
}

impl FromYamlStr for Ipv6Addr {
    const EXPECTING: &'static str = "an IPv6 address";
    fn from_yaml_str(text: &str) -> Result<Self, String> {
        text.parse()
            .map_err(|_| format!("`{text}` is not an IPv6 address"))
    }
}

/// `addr` or `addr/prefix`; without a prefix the host prefix (/32, /128),
/// as `ip addr add` and keepalived's virtual_ipaddress assume.
impl FromYamlStr for IpNet {
    const EXPECTING: &'static str = "an address with optional prefix, e.g. 198.18.0.2/24";
    fn from_yaml_str(text: &str) -> Result<Self, String> {
        let (addr_text, prefix_text) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text, None),
        };
        let addr = IpAddr::from_yaml_str(addr_text)?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix_text {
            None => max,
            Some(p) => match p.parse::<u8>() {
                Ok(n) if n <= max => n,
                _ => {
                    return Err(format!(
                        "bad prefix length `/{p}` in `{text}`: must be 0..={max}"
                    ))
                }
            },
        };
        Ok(IpNet { addr, prefix })
    }
}

/// Six hex octets separated by `:` or `-`; multicast/broadcast and the
/// all-zero address are refused since they cannot name one station.
impl FromYamlStr for MacAddr {
    const EXPECTING: &'static str = "a MAC address, e.g. 02:00:00:00:00:01";
    fn from_yaml_str(text: &str) -> Result<Self, String> {
        let bad = || {
            format!(
                "`{text}` is not a MAC address (expected six hex octets like 02:00:00:00:00:01)"
            )
        };
        let parts: Vec<&str> = text.split([':', '-']).collect();
        if parts.len() != 6 {
            return Err(bad());
        }
        let mut mac = [0u8; 6];
        for (octet, part) in mac.iter_mut().zip(&parts) {
            // from_str_radix would also take a sign, so check the digits first.
            if part.is_empty() || part.len() > 2 || !part.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(bad());
            }
            *octet = u8::from_str_radix(part, 16).map_err(|_| bad())?;
        }
        // IEEE 802: the I/G bit (LSB of the first octet) marks group addresses.
        if mac[0] & 1 == 1 {
            return Err(format!(
                "`{text}` is a multicast/broadcast MAC; a station needs a unicast MAC"
            ));
        }
        if mac == [0; 6] {
            return Err(format!("`{text}` is the all-zero MAC"));
        }
        Ok(mac)
    }
}

/// An inclusive `lo-hi` range, or one number. Order is not checked here:
/// the user of the range decides what an inverted one means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NumRange {
    pub lo: u64,
    pub hi: u64,
}

impl FromYamlStr for NumRange {
    const EXPECTING: &'static str = "a number or a range like 1024-65535";
    fn from_yaml_str(text: &str) -> Result<Self, String> {
        let num = |s: &str| {
            s.trim()
                .parse::<u64>()
                .map_err(|_| format!("`{text}` is not a number or a range like 1024-65535"))
        };
        match text.split_once('-') {
            Some((lo, hi)) => Ok(NumRange {
                lo: num(lo)?,
                hi: num(hi)?,
            }),
            None => {
                let n = num(text)?;
                Ok(NumRange { lo: n, hi: n })
            }
        }
    }
}

impl FromYamlStr for SchedulerKind {
    const EXPECTING: &'static str = "an IPVS scheduler name";
    fn from_yaml_str(text: &str) -> Result<Self, String> {
        SchedulerKind::from_name(text).ok_or_else(|| {
            let names: Vec<&str> = SchedulerKind::ALL.iter().map(|k| k.name()).collect();
            format!(
                "unknown scheduler `{text}`, expected one of {}",
                names.join(", ")
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_nets() {
        let net = IpNet::from_yaml_str("198.18.0.2/24").expect("valid");
        assert_eq!(
            net,
            IpNet {
                addr: IpAddr::V4(Ipv4Addr::new(198, 18, 0, 2)),
                prefix: 24
            }
        );
        assert_eq!(
            IpNet::from_yaml_str("198.18.0.100").expect("valid").prefix,
            32
        );
        assert_eq!(IpNet::from_yaml_str("fd00::2").expect("valid").prefix, 128);
        assert_eq!(
            IpNet::from_yaml_str("fd00::2/64").expect("valid").prefix,
            64
        );
        assert!(IpNet::from_yaml_str("198.18.0.2/33").is_err());
        assert!(IpNet::from_yaml_str("fd00::2/129").is_err());
        assert!(IpNet::from_yaml_str("198.18.0.2/").is_err());
        assert!(IpNet::from_yaml_str("198.18.0/24").is_err());
    }

    #[test]
    fn macs() {
        assert_eq!(
            MacAddr::from_yaml_str("02:00:00:00:00:01"),
            Ok([2, 0, 0, 0, 0, 1])
        );
        assert_eq!(
            MacAddr::from_yaml_str("02-AB-cd-00-00-ff"),
            Ok([2, 0xab, 0xcd, 0, 0, 0xff])
        );
        assert!(MacAddr::from_yaml_str("02:00:00:00:00").is_err());
        assert!(MacAddr::from_yaml_str("02:00:00:00:00:01:02").is_err());
        assert!(MacAddr::from_yaml_str("02:00:00:00:00:1g").is_err());
        assert!(MacAddr::from_yaml_str("02:00:00:00:00:100").is_err());
        assert!(MacAddr::from_yaml_str("02::00:00:00:01").is_err());
        assert!(MacAddr::from_yaml_str("02:+1:00:00:00:01").is_err());
        assert!(MacAddr::from_yaml_str("ff:ff:ff:ff:ff:ff").is_err());
        assert!(MacAddr::from_yaml_str("01:00:5e:00:00:01").is_err());
        assert!(MacAddr::from_yaml_str("00:00:00:00:00:00").is_err());
    }

    #[test]
    fn ranges() {
        assert_eq!(
            NumRange::from_yaml_str("1024-65535"),
            Ok(NumRange {
                lo: 1024,
                hi: 65535
            })
        );
        assert_eq!(
            NumRange::from_yaml_str("200"),
            Ok(NumRange { lo: 200, hi: 200 })
        );
        assert_eq!(
            NumRange::from_yaml_str("9 - 3"),
            Ok(NumRange { lo: 9, hi: 3 })
        );
        assert!(NumRange::from_yaml_str("a-b").is_err());
        assert!(NumRange::from_yaml_str("").is_err());
        assert!(NumRange::from_yaml_str("-5").is_err());
    }

    #[test]
    fn schedulers_by_name() {
        assert_eq!(SchedulerKind::from_yaml_str("mh"), Ok(SchedulerKind::Mh));
        let err = SchedulerKind::from_yaml_str("roundrobin").expect_err("unknown");
        assert!(err.contains("rr, wrr, lc, wlc"), "{err}");
    }

    #[test]
    fn parsed_reports_position_through_serde_yaml() {
        #[derive(serde::Deserialize, Debug)]
        struct Doc {
            #[allow(dead_code)]
            mac: Parsed<MacAddr>,
        }
        let err = serde_yaml::from_str::<Doc>("mac: 02:00:zz:00:00:01\n").expect_err("bad MAC");
        let location = err.location().expect("serde_yaml gives a location");
        assert_eq!((location.line(), location.column()), (1, 6));
        assert!(err.to_string().contains("not a MAC address"), "{err}");

        #[derive(serde::Deserialize, Debug)]
        struct Ports {
            ports: Parsed<NumRange>,
        }
        let doc: Ports = serde_yaml::from_str("ports: 8080\n").expect("integer accepted");
        assert_eq!(doc.ports.0, NumRange { lo: 8080, hi: 8080 });
    }
}
