//! The running document as YAML values: reading the operator's YAML
//! fragment, merging its keys into an entry, reading the identity keys
//! (VIP, port, protocol, address) as the loader would, and finding the
//! service or real server a reference names (in the snapshot, whose lists
//! are the document's, in order).

use std::fmt;
use std::net::{IpAddr, SocketAddr};

use serde_yaml::{Mapping, Value};

use super::{refused, ServerRef, ServiceRef};
use crate::error::ErrorStage;
use crate::{ConfigError, Protocol, RealServer, Snapshot, VirtualService};

/// The operator's YAML: a non-empty mapping.
pub(super) fn fragment(yaml: &str) -> Result<Mapping, ConfigError> {
    let value: Value = serde_yaml::from_str(yaml).map_err(|e| {
        refused(
            "",
            format!("the change's YAML does not parse: {e}"),
            ErrorStage::Syntax,
        )
    })?;
    let found = match value {
        Value::Mapping(m) if !m.is_empty() => return Ok(m),
        Value::Mapping(_) | Value::Null => "nothing",
        Value::Sequence(_) => "a list",
        _ => "a single value",
    };
    Err(refused(
        "",
        format!("the change's YAML is {found}; expected a mapping of keys, e.g. {{weight: 2}}"),
        ErrorStage::Schema,
    ))
}

/// The string keys of a fragment with their values (other keys are left
/// for the loader to reject).
pub(super) fn key_values(keys: &Mapping) -> impl Iterator<Item = (&str, &Value)> {
    keys.iter().filter_map(|(k, v)| Some((k.as_str()?, v)))
}

/// Set `keys` in `entry`, except the identity keys `fixed` (already
/// checked equal); `null` removes a key.
pub(super) fn merge(entry: &mut Mapping, keys: Mapping, fixed: &[&str]) {
    for (key, value) in keys {
        if key.as_str().is_some_and(|k| fixed.contains(&k)) {
            continue;
        }
        if value.is_null() {
            entry.shift_remove(&key);
        } else {
            entry.insert(key, value);
        }
    }
}

/// Values as the loader reads them (`Parsed<IpAddr>`, `u16`, `ProtocolText`).
pub(super) fn yaml_ip(value: &Value) -> Option<IpAddr> {
    value.as_str()?.trim().parse().ok()
}

pub(super) fn yaml_port(value: &Value) -> Option<u16> {
    value.as_u64().and_then(|p| u16::try_from(p).ok())
}

pub(super) fn yaml_protocol(value: Option<&Value>) -> Option<Protocol> {
    match value {
        None | Some(Value::Null) => Some(Protocol::Tcp),
        Some(Value::String(s)) if s == "tcp" => Some(Protocol::Tcp),
        Some(Value::String(s)) if s == "udp" => Some(Protocol::Udp),
        Some(_) => None,
    }
}

/// The key of a `services:` entry, if its keys are well-formed.
pub(super) fn service_ref_in(entry: &Mapping) -> Option<ServiceRef> {
    Some(ServiceRef {
        protocol: yaml_protocol(entry.get("protocol"))?,
        vip: yaml_ip(entry.get("vip")?)?,
        port: yaml_port(entry.get("port")?)?,
    })
}

pub(super) fn find_service(snap: &Snapshot, service: &ServiceRef) -> Result<usize, ConfigError> {
    snap.services
        .iter()
        .position(|s| ServiceRef::of(s) == *service)
        .ok_or_else(|| {
            let known: Vec<ServiceRef> = snap.services.iter().map(ServiceRef::of).collect();
            refused(
                "",
                format!(
                    "there is no service {service} (services: {})",
                    brief(&known)
                ),
                ErrorStage::Semantic,
            )
        })
}

pub(super) fn find_server(
    svc: &VirtualService,
    service: &ServiceRef,
    server: &ServerRef,
) -> Result<usize, ConfigError> {
    let all = |servers: &mut dyn Iterator<Item = &RealServer>| {
        let list: Vec<SocketAddr> = servers
            .map(|r| SocketAddr::new(r.address, r.port))
            .collect();
        brief(&list)
    };
    let found: Vec<usize> = (0..svc.real_servers.len())
        .filter(|&j| server.matches(&svc.real_servers[j]))
        .collect();
    match found[..] {
        [j] => Ok(j),
        [] => Err(refused(
            "",
            format!(
                "service {service} has no real server {server} (it has {})",
                all(&mut svc.real_servers.iter())
            ),
            ErrorStage::Semantic,
        )),
        _ => Err(refused(
            "",
            format!(
                "service {service} has {} real servers at {server} ({}): give the port",
                found.len(),
                all(&mut found.iter().map(|&j| &svc.real_servers[j]))
            ),
            ErrorStage::Semantic,
        )),
    }
}

/// At most eight items, comma-separated; "none" for none.
pub(super) fn brief<T: fmt::Display>(items: &[T]) -> String {
    const SHOWN: usize = 8;
    if items.is_empty() {
        return "none".into();
    }
    let mut text: Vec<String> = items.iter().take(SHOWN).map(T::to_string).collect();
    if items.len() > SHOWN {
        text.push(format!("and {} more", items.len() - SHOWN));
    }
    text.join(", ")
}

/// The document no longer matches its snapshot: a bug, not the operator's.
pub(super) fn out_of_step(what: &str) -> ConfigError {
    refused(
        "",
        format!("the running document does not match its snapshot ({what}); this is a bug"),
        ErrorStage::Semantic,
    )
}

/// The `services:` list, created if absent.
pub(super) fn services(doc: &mut Mapping) -> Result<&mut Vec<Value>, ConfigError> {
    list(doc, "services")
}

/// The `real_servers:` list of a service entry, created if absent.
pub(super) fn servers(entry: &mut Mapping) -> Result<&mut Vec<Value>, ConfigError> {
    list(entry, "real_servers")
}

pub(super) fn list<'a>(map: &'a mut Mapping, key: &str) -> Result<&'a mut Vec<Value>, ConfigError> {
    let slot = map
        .entry(key.into())
        .or_insert_with(|| Value::Sequence(Vec::new()));
    if slot.is_null() {
        *slot = Value::Sequence(Vec::new());
    }
    slot.as_sequence_mut()
        .ok_or_else(|| out_of_step(&format!("{key} is not a list")))
}

pub(super) fn service_entry(doc: &mut Mapping, i: usize) -> Result<&mut Mapping, ConfigError> {
    services(doc)?
        .get_mut(i)
        .and_then(Value::as_mapping_mut)
        .ok_or_else(|| out_of_step(&format!("no mapping at services[{i}]")))
}

pub(super) fn server_entry(
    doc: &mut Mapping,
    i: usize,
    j: usize,
) -> Result<&mut Mapping, ConfigError> {
    servers(service_entry(doc, i)?)?
        .get_mut(j)
        .and_then(Value::as_mapping_mut)
        .ok_or_else(|| out_of_step(&format!("no mapping at services[{i}].real_servers[{j}]")))
}
