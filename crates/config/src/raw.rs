//! The YAML schema as operators write it: serde structs that mirror the file
//! one to one, every one with `deny_unknown_fields` so a misspelt key is an
//! error at its line:col instead of a silently ignored setting. Optional
//! keys are `Option`s here; defaults and all cross-field checks are applied
//! when `resolve` turns this into a [`crate::Snapshot`].
//!
//! Numbers whose range is part of the LVS semantics (weights, VRIDs,
//! priorities) are read wide (`u64`) so that `resolve` can say what the
//! valid range is instead of serde's "expected u8".

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;

use crate::model::{IpNet, MacAddr};
use crate::text::{NumRange, Parsed};
use crate::types::SchedulerKind;

/// The whole file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    #[serde(default)]
    pub global: RawGlobal,
    #[serde(default)]
    pub interfaces: Vec<RawInterface>,
    #[serde(default)]
    pub local_pools: Vec<RawPool>,
    #[serde(default)]
    pub services: Vec<RawService>,
    #[serde(default)]
    pub vrrp: Vec<RawVrrp>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawGlobal {
    pub workers: Option<Vec<u64>>,
    pub idle: Option<IdleText>,
    pub conn_capacity: Option<u64>,
    #[serde(default)]
    pub timeouts: RawTimeouts,
    #[serde(default)]
    pub tunables: RawTunables,
    pub umem_frames: Option<u32>,
    pub ring_size: Option<u32>,
    pub prefetch_min_live: Option<u64>,
}

#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IdleText {
    Busy,
    Adaptive,
}

/// Connection-table timeouts in seconds (ipvsadm --set, plus IPVS's other
/// TCP states).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTimeouts {
    pub tcp: Option<u64>,
    pub tcp_fin: Option<u64>,
    pub udp: Option<u64>,
    pub syn_sent: Option<u64>,
    pub syn_recv: Option<u64>,
    pub time_wait: Option<u64>,
    pub close: Option<u64>,
    pub close_wait: Option<u64>,
    pub last_ack: Option<u64>,
    pub listen: Option<u64>,
    pub synack: Option<u64>,
}

/// IPVS sysctl equivalents (ipvs-sysctl.rst).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTunables {
    pub conn_reuse_mode: Option<u64>,
    pub expire_nodest_conn: Option<bool>,
    pub expire_quiescent_template: Option<bool>,
    pub sloppy_tcp: Option<bool>,
    pub pmtu_disc: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawInterface {
    pub name: String,
    pub mac: Option<Parsed<MacAddr>>,
    #[serde(default)]
    pub addresses: Vec<Parsed<IpNet>>,
    pub gateway_v4: Option<Parsed<Ipv4Addr>>,
    pub gateway_v6: Option<Parsed<Ipv6Addr>>,
    pub mtu: Option<u64>,
    pub queues: Option<Vec<u32>>,
    pub zero_copy: Option<bool>,
}

/// A FullNAT local-address pool.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPool {
    pub name: String,
    #[serde(default)]
    pub addresses: Vec<Parsed<IpAddr>>,
    pub ports: Option<Parsed<NumRange>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawService {
    pub name: Option<String>,
    pub vip: Parsed<IpAddr>,
    pub port: u16,
    pub protocol: Option<ProtocolText>,
    pub scheduler: Option<Parsed<SchedulerKind>>,
    #[serde(default)]
    pub flags: Vec<SchedFlagText>,
    pub mh_table_size: Option<u64>,
    pub method: Option<MethodText>,
    pub persistence: Option<RawPersistence>,
    pub ops: Option<bool>,
    pub local_pool: Option<String>,
    #[serde(default)]
    pub real_servers: Vec<RawRealServer>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProtocolText {
    Tcp,
    Udp,
}

/// Forwarding method words: ipvsadm's -g/-m/-i plus FullNAT.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MethodText {
    Dr,
    Nat,
    Tun,
    Fullnat,
}

/// Scheduler flags as ipvsadm -b and keepalived spell them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SchedFlagText {
    ShFallback,
    ShPort,
    MhFallback,
    MhPort,
}

impl SchedFlagText {
    pub fn name(self) -> &'static str {
        match self {
            SchedFlagText::ShFallback => "sh-fallback",
            SchedFlagText::ShPort => "sh-port",
            SchedFlagText::MhFallback => "mh-fallback",
            SchedFlagText::MhPort => "mh-port",
        }
    }
}

/// `persistence:` — `300`, `true` (360 s, as `ipvsadm -p` without a value),
/// `false`, or `{timeout: 300, netmask: 255.255.255.0}` / `{timeout, prefix: 64}`.
#[derive(Debug)]
pub enum RawPersistence {
    Flag(bool),
    Timeout(u64),
    Detailed(RawPersistenceMap),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPersistenceMap {
    pub timeout: Option<u64>,
    pub netmask: Option<Parsed<Ipv4Addr>>,
    pub prefix: Option<u64>,
}

impl<'de> serde::Deserialize<'de> for RawPersistence {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct PersistenceVisitor;

        impl<'de> Visitor<'de> for PersistenceVisitor {
            type Value = RawPersistence;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a timeout in seconds, true/false, or {timeout, netmask | prefix}")
            }

            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
                Ok(RawPersistence::Flag(v))
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(RawPersistence::Timeout(v))
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Err(E::invalid_value(de::Unexpected::Signed(v), &self))
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                let detailed =
                    RawPersistenceMap::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(RawPersistence::Detailed(detailed))
            }
        }

        deserializer.deserialize_any(PersistenceVisitor)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRealServer {
    pub address: Parsed<IpAddr>,
    pub port: Option<u16>,
    pub weight: Option<u64>,
    pub upper_threshold: Option<u32>,
    pub lower_threshold: Option<u32>,
    pub method: Option<MethodText>,
    pub mac: Option<Parsed<MacAddr>>,
    pub health: Option<RawHealth>,
}

/// A health check. One flat shape for every kind so a key that does not
/// belong to the kind is reported by name and position; times are seconds
/// and may be fractional.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHealth {
    #[serde(rename = "type")]
    pub kind: HealthKindText,
    pub port: Option<u16>,
    pub connect_timeout: Option<f64>,
    pub delay_loop: Option<f64>,
    pub retry: Option<u32>,
    pub delay_before_retry: Option<f64>,
    /// http/ssl
    pub path: Option<String>,
    pub status: Option<Vec<Parsed<NumRange>>>,
    pub digest: Option<String>,
    /// udp: payload as hex.
    pub payload: Option<String>,
    pub require_reply: Option<bool>,
    /// dns: query name.
    pub name: Option<String>,
    /// script: command line.
    pub command: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HealthKindText {
    Tcp,
    Http,
    Ssl,
    Udp,
    Icmp,
    Dns,
    Script,
}

impl HealthKindText {
    pub fn name(self) -> &'static str {
        match self {
            HealthKindText::Tcp => "tcp",
            HealthKindText::Http => "http",
            HealthKindText::Ssl => "ssl",
            HealthKindText::Udp => "udp",
            HealthKindText::Icmp => "icmp",
            HealthKindText::Dns => "dns",
            HealthKindText::Script => "script",
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawVrrp {
    pub name: String,
    pub interface: String,
    pub vrid: u64,
    pub priority: Option<u64>,
    pub version: Option<u64>,
    pub advert_interval: Option<f64>,
    pub state: Option<VrrpStateText>,
    pub preempt: Option<bool>,
    #[serde(default)]
    pub virtual_addresses: Vec<Parsed<IpNet>>,
    #[serde(default)]
    pub unicast_peers: Vec<Parsed<IpAddr>>,
    pub auth_pass: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VrrpStateText {
    Master,
    Backup,
}
