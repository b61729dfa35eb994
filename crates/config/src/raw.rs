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

mod vrrp;

pub use vrrp::*;

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
    #[serde(default)]
    pub vrrp_scripts: Vec<RawVrrpScript>,
    #[serde(default)]
    pub vrrp_sync_groups: Vec<RawSyncGroup>,
    pub sync: Option<RawConnSync>,
    pub announce: Option<RawAnnounce>,
}

/// `announce:` (BGP announcement of the VIPs through BIRD).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAnnounce {
    pub enabled: Option<bool>,
    pub device: Option<String>,
    pub table: Option<u64>,
    pub protocol: Option<u64>,
    pub drain_time: Option<f64>,
    pub vips: Option<Vec<Parsed<IpAddr>>>,
}

/// `sync:` (connection sync; ipvsadm --start-daemon's options and xvs's).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConnSync {
    pub interface: String,
    #[serde(default)]
    pub peers: Vec<Parsed<IpAddr>>,
    pub group: Option<Parsed<IpAddr>>,
    pub port: Option<u64>,
    pub sync_id: Option<u64>,
    pub source_address: Option<Parsed<IpAddr>>,
    pub refresh: Option<f64>,
    pub max_delay: Option<f64>,
    pub sweep_interval: Option<f64>,
    pub bulk: Option<bool>,
    pub bulk_timeout: Option<f64>,
    pub bulk_attempts: Option<u64>,
    pub queue: Option<u64>,
    pub mode: Option<SyncModeText>,
}

/// `sync.mode`.
#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncModeText {
    MasterBackup,
    AllToAll,
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
    #[serde(default)]
    pub health: RawHealthGlobal,
    #[serde(default)]
    pub table_pressure: RawTablePressure,
    /// `ADDRESS:PORT` of the Prometheus endpoint (parsed in resolve, so a
    /// bad one is reported with the fix).
    pub metrics_listen: Option<String>,
    /// The SYN cookie key, 32 hex digits (checked in resolve).
    pub synproxy_key: Option<String>,
}

/// `global.table_pressure`: the connection table's defences against a
/// flood of half-open connections.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTablePressure {
    pub evict: Option<bool>,
    pub evict_scan: Option<u64>,
    pub short_timeouts: Option<bool>,
    pub enter_percent: Option<u64>,
    pub leave_percent: Option<u64>,
    pub syn_recv: Option<u64>,
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
    pub synproxy: Option<bool>,
    pub local_pool: Option<String>,
    #[serde(default)]
    pub real_servers: Vec<RawRealServer>,
    // keepalived's virtual_server health keys.
    pub inhibit_on_failure: Option<bool>,
    pub quorum: Option<u64>,
    pub hysteresis: Option<u64>,
    pub quorum_up: Option<RawScript>,
    pub quorum_down: Option<RawScript>,
    pub sorry_server: Option<RawSorryServer>,
    pub sorry_server_inhibit: Option<bool>,
    pub slowstart: Option<f64>,
    pub omega: Option<bool>,
    pub ha_suspend: Option<bool>,
    pub virtualhost: Option<String>,
    pub connect_timeout: Option<f64>,
    pub delay_loop: Option<f64>,
    pub retry: Option<u32>,
    pub delay_before_retry: Option<f64>,
    pub warmup: Option<f64>,
    pub alpha: Option<bool>,
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
    pub health: Option<RawHealthList>,
    pub inhibit_on_failure: Option<bool>,
    pub notify_up: Option<RawScript>,
    pub notify_down: Option<RawScript>,
    pub slowstart: Option<f64>,
    pub virtualhost: Option<String>,
    pub connect_timeout: Option<f64>,
    pub delay_loop: Option<f64>,
    pub retry: Option<u32>,
    pub delay_before_retry: Option<f64>,
    pub warmup: Option<f64>,
    pub alpha: Option<bool>,
}

/// One checker. One flat shape for every kind so a key that does not
/// belong to the kind is reported by name and position; times are seconds
/// and may be fractional. Names follow keepalived.conf(5).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHealth {
    #[serde(rename = "type")]
    pub kind: HealthKindText,
    #[serde(alias = "connect_port")]
    pub port: Option<u16>,
    pub connect_ip: Option<Parsed<IpAddr>>,
    pub bindto: Option<Parsed<IpAddr>>,
    pub bind_port: Option<u16>,
    pub connect_timeout: Option<f64>,
    pub delay_loop: Option<f64>,
    pub retry: Option<u32>,
    pub delay_before_retry: Option<f64>,
    pub warmup: Option<f64>,
    pub alpha: Option<bool>,
    pub log_all_failures: Option<bool>,
    /// http/ssl: one URL written inline ...
    pub path: Option<String>,
    pub status: Option<Vec<Parsed<NumRange>>>,
    pub digest: Option<String>,
    pub virtualhost: Option<String>,
    /// ... or several.
    pub urls: Option<Vec<RawUrl>>,
    pub http_protocol: Option<HttpProtocolText>,
    /// ssl
    pub enable_sni: Option<bool>,
    pub sni_name: Option<String>,
    pub verify: Option<bool>,
    pub ca: Option<String>,
    /// udp: payload as hex (keepalived's free format).
    pub payload: Option<String>,
    pub require_reply: Option<RawRequireReply>,
    pub min_reply_length: Option<u32>,
    pub max_reply_length: Option<u32>,
    /// dns
    pub name: Option<String>,
    pub query_type: Option<String>,
    /// smtp
    pub helo_name: Option<String>,
    /// misc (script): command line, its timeout, misc_dynamic, user.
    #[serde(alias = "misc_path")]
    pub command: Option<String>,
    #[serde(alias = "misc_timeout")]
    pub timeout: Option<f64>,
    #[serde(alias = "misc_dynamic")]
    pub dynamic: Option<bool>,
    pub user: Option<String>,
    /// file: the tracked file, its weight multiplier and sense.
    pub file: Option<String>,
    pub weight: Option<i64>,
    pub reverse: Option<bool>,
}

/// The timing keys keepalived lets a checker, a real server and a virtual
/// server set (each level defaulting to the one above). Written out in each
/// of the three structs (serde's `flatten` would lose `deny_unknown_fields`
/// and the error positions) and gathered here by [`HasCheckTiming::timing`].
#[derive(Clone, Copy, Debug, Default)]
pub struct RawCheckTiming {
    pub connect_timeout: Option<f64>,
    pub delay_loop: Option<f64>,
    pub retry: Option<u32>,
    pub delay_before_retry: Option<f64>,
    pub warmup: Option<f64>,
    pub alpha: Option<bool>,
}

/// The structs that carry the timing keys.
pub trait HasCheckTiming {
    fn timing(&self) -> RawCheckTiming;
}

macro_rules! has_check_timing {
    ($($t:ty),*) => {$(
        impl HasCheckTiming for $t {
            fn timing(&self) -> RawCheckTiming {
                RawCheckTiming {
                    connect_timeout: self.connect_timeout,
                    delay_loop: self.delay_loop,
                    retry: self.retry,
                    delay_before_retry: self.delay_before_retry,
                    warmup: self.warmup,
                    alpha: self.alpha,
                }
            }
        }
    )*};
}

/// `health:` as one checker (a mapping) or several (a list).
#[derive(Debug)]
pub enum RawHealthList {
    One(Box<RawHealth>),
    Many(Vec<RawHealth>),
}

impl<'de> serde::Deserialize<'de> for RawHealthList {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ListVisitor;

        impl<'de> Visitor<'de> for ListVisitor {
            type Value = RawHealthList;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a checker ({type: tcp, ...}) or a list of checkers")
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                let one = RawHealth::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(RawHealthList::One(Box::new(one)))
            }

            fn visit_seq<A: de::SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                let many =
                    Vec::<RawHealth>::deserialize(de::value::SeqAccessDeserializer::new(seq))?;
                Ok(RawHealthList::Many(many))
            }
        }

        deserializer.deserialize_any(ListVisitor)
    }
}

/// One `url` of an HTTP/SSL check.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawUrl {
    pub path: String,
    pub status: Option<Vec<Parsed<NumRange>>>,
    pub digest: Option<String>,
    pub virtualhost: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
pub enum HttpProtocolText {
    #[serde(rename = "1.0")]
    Http10,
    #[serde(rename = "1.0C", alias = "1.0c")]
    Http10Close,
    #[serde(rename = "1.1")]
    Http11,
}

/// `require_reply: true` or `require_reply: "hex pattern"`.
#[derive(Debug)]
pub enum RawRequireReply {
    Flag(bool),
    Pattern(String),
}

impl<'de> serde::Deserialize<'de> for RawRequireReply {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ReplyVisitor;

        impl Visitor<'_> for ReplyVisitor {
            type Value = RawRequireReply;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("true/false, or the hex pattern the reply must start with")
            }

            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
                Ok(RawRequireReply::Flag(v))
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(RawRequireReply::Pattern(v.to_string()))
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(RawRequireReply::Pattern(v.to_string()))
            }
        }

        deserializer.deserialize_any(ReplyVisitor)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HealthKindText {
    Tcp,
    Http,
    Ssl,
    Udp,
    #[serde(alias = "ping")]
    Icmp,
    Dns,
    Smtp,
    #[serde(alias = "misc")]
    Script,
    File,
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
            HealthKindText::Smtp => "smtp",
            HealthKindText::Script => "script",
            HealthKindText::File => "file",
        }
    }
}

/// A notify or quorum script: a command line, or `{command, user}` where
/// user is `name` or `name:group`.
#[derive(Debug)]
pub enum RawScript {
    Command(String),
    Detailed(RawScriptMap),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawScriptMap {
    pub command: String,
    pub user: Option<String>,
}

impl<'de> serde::Deserialize<'de> for RawScript {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ScriptVisitor;

        impl<'de> Visitor<'de> for ScriptVisitor {
            type Value = RawScript;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a command line, or {command, user}")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(RawScript::Command(v.to_string()))
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                let detailed =
                    RawScriptMap::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(RawScript::Detailed(detailed))
            }
        }

        deserializer.deserialize_any(ScriptVisitor)
    }
}

/// `sorry_server:` — the server that takes a service's traffic while its
/// quorum is lost.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSorryServer {
    pub address: Parsed<IpAddr>,
    pub port: Option<u16>,
    pub weight: Option<u64>,
    pub method: Option<MethodText>,
    pub mac: Option<Parsed<MacAddr>>,
}

/// `global.health`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHealthGlobal {
    pub max_in_flight: Option<u64>,
}

has_check_timing!(RawHealth, RawRealServer, RawService);
