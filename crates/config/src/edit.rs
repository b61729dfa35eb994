//! The running configuration and the changes an operator makes to it at
//! run time (`xvs service …`, `xvs real-server …`), with ipvsadm's
//! semantics (-A/-E/-D, -a/-e/-d), validated exactly as the file is: the
//! running configuration is kept as a YAML document, a change edits it,
//! and the edited document goes through the same loader as the file.
//!
//! Also what differs between two snapshots (`xvs diff`, in `diff.rs`) and
//! the running configuration as YAML `xvs check` accepts (`xvs save`).
//!
//! Layer: config. Pure: text in, [`Snapshot`] or [`ConfigError`] out.

use std::fmt;
use std::net::{IpAddr, SocketAddr};

use serde_yaml::{Mapping, Value};

use crate::error::{ErrorStage, Location};
use crate::{load_str, ConfigError, Protocol, RealServer, Snapshot, VirtualService};

mod diff;
mod doc;

pub use diff::diff;
use doc::{
    find_server, find_service, fragment, key_values, merge, server_entry, servers, service_entry,
    service_ref_in, services, yaml_ip, yaml_port, yaml_protocol,
};

/// Which virtual service: ⟨protocol, VIP, port⟩ (`tcp:198.18.0.100:80`,
/// `udp:[fd00::100]:53`; the protocol defaults to TCP).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ServiceRef {
    pub protocol: Protocol,
    pub vip: IpAddr,
    pub port: u16,
}

/// Which real server of a service: its address and port (None: the only
/// real server at that address).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ServerRef {
    pub address: IpAddr,
    pub port: Option<u16>,
}

/// One runtime change. `yaml` is a mapping with the keys a `services:`
/// entry (or a `real_servers:` entry) has in the file, in flow or block
/// style. In an edit, `key: null` removes the key (its default applies).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// ipvsadm -A: a new service (error if one with its key exists). It
    /// may list its real servers.
    AddService { yaml: String },
    /// ipvsadm -E: set these keys of the service (others kept; its key
    /// ⟨protocol, vip, port⟩ cannot change, and `real_servers` is refused:
    /// real servers change one at a time).
    EditService { service: ServiceRef, yaml: String },
    /// ipvsadm -D.
    RemoveService { service: ServiceRef },
    /// ipvsadm -a (error if its address:port exists; the port defaults to
    /// the service port, as in the file).
    AddRealServer { service: ServiceRef, yaml: String },
    /// ipvsadm -e: set these keys of the real server (address and port
    /// cannot change).
    EditRealServer {
        service: ServiceRef,
        server: ServerRef,
        yaml: String,
    },
    /// ipvsadm -d: its connections drain as after a reload that removed it.
    RemoveRealServer {
        service: ServiceRef,
        server: ServerRef,
    },
    /// Weight 0: no new connections, existing ones kept (quiescing).
    /// Idempotent: draining a server already at weight 0 succeeds.
    DrainRealServer {
        service: ServiceRef,
        server: ServerRef,
    },
}

impl ServiceRef {
    /// `tcp:198.18.0.100:80`, `198.18.0.100:80` (TCP), `udp:[fd00::100]:53`.
    pub fn parse(text: &str) -> Result<ServiceRef, String> {
        let text = text.trim();
        let (protocol, rest) = match text.split_once(':') {
            Some((p, rest)) if p.eq_ignore_ascii_case("tcp") => (Protocol::Tcp, rest),
            Some((p, rest)) if p.eq_ignore_ascii_case("udp") => (Protocol::Udp, rest),
            _ => (Protocol::Tcp, text),
        };
        let addr: SocketAddr = rest.parse().map_err(|_| {
            format!(
                "`{text}` is not a service: expected [tcp:|udp:]VIP:PORT, \
                 e.g. tcp:198.18.0.100:80 or udp:[fd00::100]:53"
            )
        })?;
        Ok(ServiceRef {
            protocol,
            vip: addr.ip(),
            port: addr.port(),
        })
    }

    /// The key of a resolved service.
    pub fn of(service: &VirtualService) -> ServiceRef {
        ServiceRef {
            protocol: service.protocol,
            vip: service.vip,
            port: service.port,
        }
    }
}

impl fmt::Display for ServiceRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let protocol = match self.protocol {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        };
        write!(f, "{protocol}:{}", SocketAddr::new(self.vip, self.port))
    }
}

impl ServerRef {
    /// `198.18.1.11:80`, `198.18.1.11`, `[fd00::11]:80`, `fd00::11`.
    pub fn parse(text: &str) -> Result<ServerRef, String> {
        let text = text.trim();
        if let Ok(addr) = text.parse::<SocketAddr>() {
            return Ok(ServerRef {
                address: addr.ip(),
                port: Some(addr.port()),
            });
        }
        let bare = text
            .strip_prefix('[')
            .and_then(|t| t.strip_suffix(']'))
            .unwrap_or(text);
        let address = bare.parse().map_err(|_| {
            format!(
                "`{text}` is not a real server: expected ADDRESS or ADDRESS:PORT, \
                 e.g. 198.18.1.11:80 or [fd00::11]:80"
            )
        })?;
        Ok(ServerRef {
            address,
            port: None,
        })
    }

    fn matches(&self, rs: &RealServer) -> bool {
        rs.address == self.address && self.port.is_none_or(|p| p == rs.port)
    }
}

impl fmt::Display for ServerRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.port {
            Some(port) => write!(f, "{}", SocketAddr::new(self.address, port)),
            None => write!(f, "{}", self.address),
        }
    }
}

impl fmt::Display for Change {
    /// What the change does, for logs (`edit real server 198.18.1.11:80 of tcp:198.18.0.100:80`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Change::AddService { .. } => write!(f, "add a service"),
            Change::EditService { service, .. } => write!(f, "edit service {service}"),
            Change::RemoveService { service } => write!(f, "remove service {service}"),
            Change::AddRealServer { service, .. } => write!(f, "add a real server to {service}"),
            Change::EditRealServer {
                service, server, ..
            } => write!(f, "edit real server {server} of {service}"),
            Change::RemoveRealServer { service, server } => {
                write!(f, "remove real server {server} from {service}")
            }
            Change::DrainRealServer { service, server } => {
                write!(f, "drain real server {server} of {service}")
            }
        }
    }
}

/// What the loader names the edited document in errors it returns (they
/// are rewritten, see [`from_loader`], so this never reaches the operator).
const RUNNING: &str = "running configuration";

/// The running configuration: the document the file was loaded from, with
/// every runtime change applied since.
#[derive(Debug, Clone)]
pub struct RunningConfig {
    /// The YAML document, top-level mapping.
    doc: Mapping,
    /// `doc` as YAML: the exact text the last snapshot was loaded from.
    rendered: String,
    /// Where the document came from (the config file's path).
    origin: String,
    changes: usize,
    /// The last snapshot: its services and real servers are, in order, the
    /// entries of `doc` (the loader keeps list order), so a lookup in it
    /// gives the index to edit.
    snapshot: Snapshot,
}

impl RunningConfig {
    /// From the configuration file's text (as loaded by the daemon at start
    /// or reload). Errors are the loader's, at the file's line:col.
    pub fn from_text(text: &str, origin: &str) -> Result<(RunningConfig, Snapshot), ConfigError> {
        let snapshot = load_str(text, origin)?;
        // The loader accepted the text, so it is one YAML mapping; these
        // can fail only if serde_yaml disagrees with itself.
        let whole = |message: String| ConfigError::Invalid {
            origin: origin.to_string(),
            location: Location::START,
            key: String::new(),
            message,
            stage: ErrorStage::Syntax,
        };
        let doc: Mapping = serde_yaml::from_str(text).map_err(|e| whole(e.to_string()))?;
        let rendered = render(&doc).map_err(whole)?;
        let running = RunningConfig {
            doc,
            rendered,
            origin: origin.to_string(),
            changes: 0,
            snapshot: snapshot.clone(),
        };
        Ok((running, snapshot))
    }

    /// Apply one change: on success the new snapshot (version 0, as
    /// `load_str` gives); on error `self` is unchanged and the error
    /// ([`ConfigError::RuntimeChange`]) names the service, server or key.
    pub fn apply(&mut self, change: &Change) -> Result<Snapshot, ConfigError> {
        let mut doc = self.doc.clone();
        let context = edit(&mut doc, &self.snapshot, change)?;
        let rendered = render(&doc).map_err(|e| {
            refused(
                "",
                format!("cannot write the changed configuration as YAML: {e}"),
                ErrorStage::Syntax,
            )
        })?;
        let snapshot = load_str(&rendered, RUNNING).map_err(|e| from_loader(e, &context))?;
        self.doc = doc;
        self.rendered = rendered;
        self.snapshot = snapshot.clone();
        self.changes += 1;
        Ok(snapshot)
    }

    /// The running configuration as YAML that `xvs check` accepts and
    /// that loads to the snapshot of the last change. Comments are not
    /// kept (a header line says so).
    pub fn to_yaml(&self) -> String {
        let n = self.changes;
        let plural = if n == 1 { "" } else { "s" };
        format!(
            "# xvs running configuration: {} with {n} runtime change{plural} applied.\n\
             # Written from memory: the comments of the file are not kept.\n{}",
            self.origin, self.rendered
        )
    }

    /// Changes applied since `from_text`.
    pub fn changes(&self) -> usize {
        self.changes
    }

    /// The snapshot of the running configuration (version 0).
    pub fn snapshot(&self) -> &Snapshot {
        &self.snapshot
    }
}

fn render(doc: &Mapping) -> Result<String, String> {
    serde_yaml::to_string(doc).map_err(|e| e.to_string())
}

fn refused(key: impl Into<String>, message: impl Into<String>, stage: ErrorStage) -> ConfigError {
    ConfigError::RuntimeChange {
        key: key.into(),
        message: message.into(),
        stage,
    }
}

/// A loader error on the edited document: its line:col points into YAML
/// the operator never saw, so keep the key path (which `xvs save` output
/// shares) and the message, and say which change it was.
fn from_loader(e: ConfigError, context: &str) -> ConfigError {
    match e {
        ConfigError::Invalid {
            key,
            message,
            stage,
            ..
        } => refused(key, format!("{message} (refused: {context})"), stage),
        other => other,
    }
}

/// Edit `doc` as `change` says; the description of the change for errors.
fn edit(doc: &mut Mapping, snap: &Snapshot, change: &Change) -> Result<String, ConfigError> {
    match change {
        Change::AddService { yaml } => {
            let entry = fragment(yaml)?;
            let id = service_ref_in(&entry);
            if let Some(id) = id.filter(|id| snap.services.iter().any(|s| ServiceRef::of(s) == *id))
            {
                return Err(refused(
                    "",
                    format!(
                        "service {id} already exists (ipvsadm -A refuses it too): \
                         edit it, or remove it first"
                    ),
                    ErrorStage::Semantic,
                ));
            }
            services(doc)?.push(Value::Mapping(entry));
            Ok(id.map_or_else(|| "add a service".into(), |id| format!("add service {id}")))
        }
        Change::EditService { service, yaml } => {
            let i = find_service(snap, service)?;
            let keys = fragment(yaml)?;
            if keys.contains_key("real_servers") {
                return Err(refused(
                    format!("services[{i}].real_servers"),
                    "a service edit cannot set real_servers: change real servers one at a time \
                     (add, edit, remove, drain; ipvsadm -a/-e/-d)",
                    ErrorStage::Semantic,
                ));
            }
            for (key, value) in key_values(&keys) {
                let same = match key {
                    "vip" => yaml_ip(value) == Some(service.vip),
                    "port" => yaml_port(value) == Some(service.port),
                    "protocol" => yaml_protocol(Some(value)) == Some(service.protocol),
                    _ => true,
                };
                if !same {
                    return Err(refused(
                        format!("services[{i}].{key}"),
                        format!(
                            "the protocol, VIP and port identify service {service} and cannot be \
                             edited: add the new service and remove this one"
                        ),
                        ErrorStage::Semantic,
                    ));
                }
            }
            merge(service_entry(doc, i)?, keys, &["vip", "port", "protocol"]);
            Ok(change.to_string())
        }
        Change::RemoveService { service } => {
            let i = find_service(snap, service)?;
            services(doc)?.remove(i);
            Ok(change.to_string())
        }
        Change::AddRealServer { service, yaml } => {
            let i = find_service(snap, service)?;
            let svc = &snap.services[i];
            let entry = fragment(yaml)?;
            let address = entry.get("address").and_then(yaml_ip);
            let port = match entry.get("port") {
                // As the loader: no port is the service port.
                None | Some(Value::Null) => Some(svc.port),
                Some(v) => yaml_port(v),
            };
            let context = match (address, port) {
                (Some(address), Some(port)) => {
                    let server = SocketAddr::new(address, port);
                    if svc
                        .real_servers
                        .iter()
                        .any(|r| r.address == address && r.port == port)
                    {
                        return Err(refused(
                            "",
                            format!(
                                "service {service} already has real server {server} \
                                 (ipvsadm -a refuses it too): edit it instead"
                            ),
                            ErrorStage::Semantic,
                        ));
                    }
                    format!("add real server {server} to {service}")
                }
                _ => change.to_string(),
            };
            servers(service_entry(doc, i)?)?.push(Value::Mapping(entry));
            Ok(context)
        }
        Change::EditRealServer {
            service,
            server,
            yaml,
        } => {
            let i = find_service(snap, service)?;
            let svc = &snap.services[i];
            let j = find_server(svc, service, server)?;
            let rs = &svc.real_servers[j];
            let keys = fragment(yaml)?;
            for (key, value) in key_values(&keys) {
                let same = match key {
                    "address" => yaml_ip(value) == Some(rs.address),
                    "port" if value.is_null() => rs.port == svc.port,
                    "port" => yaml_port(value) == Some(rs.port),
                    _ => true,
                };
                if !same {
                    return Err(refused(
                        format!("services[{i}].real_servers[{j}].{key}"),
                        format!(
                            "the address and port identify real server {} of {service} and \
                             cannot be edited: add the new real server and remove this one",
                            SocketAddr::new(rs.address, rs.port)
                        ),
                        ErrorStage::Semantic,
                    ));
                }
            }
            merge(server_entry(doc, i, j)?, keys, &["address", "port"]);
            Ok(change.to_string())
        }
        Change::RemoveRealServer { service, server } => {
            let i = find_service(snap, service)?;
            let j = find_server(&snap.services[i], service, server)?;
            servers(service_entry(doc, i)?)?.remove(j);
            Ok(change.to_string())
        }
        Change::DrainRealServer { service, server } => {
            let i = find_service(snap, service)?;
            let j = find_server(&snap.services[i], service, server)?;
            server_entry(doc, i, j)?.insert("weight".into(), 0.into());
            Ok(change.to_string())
        }
    }
}

#[cfg(test)]
#[path = "edit_tests.rs"]
mod tests;
