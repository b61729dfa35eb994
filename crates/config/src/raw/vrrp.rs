//! The VRRP part of the schema: `vrrp:` instances, `vrrp_scripts:` and
//! `vrrp_sync_groups:`, named after keepalived.conf(5)'s `vrrp_instance`,
//! `vrrp_script` and `vrrp_sync_group` keywords (`virtual_router_id` is
//! `vrid`, `advert_int` is `advert_interval`, `unicast_src_ip` /
//! `mcast_src_ip` is `source_address`, `nopreempt` is `preempt: false`,
//! `v3_checksum_as_v2` is `v3_checksum: message_only`).

use std::fmt;
use std::marker::PhantomData;
use std::net::IpAddr;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;

use super::RawScript;
use crate::model::IpNet;
use crate::text::Parsed;

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
    pub preempt_delay: Option<f64>,
    #[serde(default)]
    pub virtual_addresses: Vec<Parsed<IpNet>>,
    #[serde(default)]
    pub unicast_peers: Vec<Parsed<IpAddr>>,
    pub source_address: Option<Parsed<IpAddr>>,
    pub auth_pass: Option<String>,
    pub down_timer_adverts: Option<u64>,
    pub v3_checksum: Option<V3ChecksumText>,
    pub use_vmac: Option<bool>,
    pub accept: Option<bool>,
    pub garp_master_delay: Option<f64>,
    pub garp_master_repeat: Option<u64>,
    pub garp_master_refresh: Option<f64>,
    pub garp_master_refresh_repeat: Option<u64>,
    #[serde(default)]
    pub track_interfaces: Vec<NameOr<RawTrackInterface>>,
    #[serde(default)]
    pub track_scripts: Vec<NameOr<RawTrackScript>>,
    pub notify_master: Option<RawScript>,
    pub notify_backup: Option<RawScript>,
    pub notify_fault: Option<RawScript>,
    pub notify_stop: Option<RawScript>,
    pub notify: Option<RawScript>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VrrpStateText {
    Master,
    Backup,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum V3ChecksumText {
    PseudoHeader,
    MessageOnly,
}

/// `track_interfaces` item written as a mapping.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTrackInterface {
    pub name: String,
    pub weight: Option<i64>,
}

/// `track_scripts` item written as a mapping.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTrackScript {
    pub name: String,
    pub weight: Option<i64>,
    pub reverse: Option<bool>,
}

/// A `vrrp_scripts:` entry.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawVrrpScript {
    pub name: String,
    pub script: RawScript,
    pub interval: Option<f64>,
    pub timeout: Option<f64>,
    pub weight: Option<i64>,
    pub rise: Option<u64>,
    pub fall: Option<u64>,
}

/// A `vrrp_sync_groups:` entry.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSyncGroup {
    pub name: String,
    pub members: Vec<String>,
    pub notify_master: Option<RawScript>,
    pub notify_backup: Option<RawScript>,
    pub notify_fault: Option<RawScript>,
    pub notify_stop: Option<RawScript>,
    pub notify: Option<RawScript>,
}

/// The five notify keys of an instance or a sync group, by key name.
pub type RawNotifyKeys<'a> = [(&'static str, Option<&'a RawScript>); 5];

/// The structs that carry keepalived's notify keys.
pub trait HasVrrpNotify {
    /// In [`crate::vrrp::VrrpNotify`] field order: master, backup,
    /// fault, stop, any.
    fn notify_keys(&self) -> RawNotifyKeys<'_>;
}

macro_rules! has_vrrp_notify {
    ($($t:ty),*) => {$(
        impl HasVrrpNotify for $t {
            fn notify_keys(&self) -> RawNotifyKeys<'_> {
                [
                    ("notify_master", self.notify_master.as_ref()),
                    ("notify_backup", self.notify_backup.as_ref()),
                    ("notify_fault", self.notify_fault.as_ref()),
                    ("notify_stop", self.notify_stop.as_ref()),
                    ("notify", self.notify.as_ref()),
                ]
            }
        }
    )*};
}

has_vrrp_notify!(RawVrrp, RawSyncGroup);

/// A list item written either as a bare name or as a mapping with the
/// name and options (`- chk_nginx` or `- {name: chk_nginx, weight: -20}`).
#[derive(Debug)]
pub enum NameOr<T> {
    Name(String),
    Detailed(T),
}

/// What the mapping form of a [`NameOr`] item looks like, for "expected ..."
/// messages.
pub trait Expecting {
    const EXPECTING: &'static str;
}

impl Expecting for RawTrackInterface {
    const EXPECTING: &'static str = "an interface name, or {name, weight}";
}

impl Expecting for RawTrackScript {
    const EXPECTING: &'static str = "a vrrp_scripts name, or {name, weight, reverse}";
}

impl<'de, T: Deserialize<'de> + Expecting> Deserialize<'de> for NameOr<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct NameOrVisitor<T>(PhantomData<T>);

        impl<'de, T: Deserialize<'de> + Expecting> Visitor<'de> for NameOrVisitor<T> {
            type Value = NameOr<T>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(T::EXPECTING)
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(NameOr::Name(v.to_string()))
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                let detailed = T::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(NameOr::Detailed(detailed))
            }
        }

        deserializer.deserialize_any(NameOrVisitor(PhantomData))
    }
}
