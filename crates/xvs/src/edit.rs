//! `xvs service …` and `xvs real-server …`: runtime changes to the running
//! director with ipvsadm's semantics (-A/-E/-D, -a/-e/-d, and drain =
//! weight 0). Each becomes one YAML mapping with the keys the file's
//! `services:` / `real_servers:` entries use (from the flags, plus any
//! keys of `--yaml`), which the daemon validates exactly as it validates
//! the file. The change lasts until the next reload; `xvs save` writes it
//! down, `xvs diff` shows what differs from the file.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use xvs_config::edit::ServiceRef;
use xvs_runtime::api::client::{self, change_yaml, Scalar};
use xvs_runtime::api::protocol::{Map, Value};

use crate::control::{ask, Socket};

#[derive(Debug, Subcommand)]
pub enum ServiceCommand {
    /// Add a virtual service (ipvsadm -A). Other keys a `services:` entry
    /// takes (flags, ops, local_pool, health keys, real_servers) go in
    /// --yaml.
    Add {
        /// [tcp:|udp:]VIP:PORT
        #[arg(value_name = "SERVICE")]
        service: String,
        /// tcp (default) or udp; the same as a tcp:/udp: prefix.
        #[arg(long, value_parser = ["tcp", "udp"])]
        protocol: Option<String>,
        #[command(flatten)]
        keys: ServiceKeys,
        #[command(flatten)]
        socket: Socket,
    },
    /// Change keys of a virtual service (ipvsadm -E); the others keep their
    /// values (`--yaml '{key: null}'` returns one to its default).
    Edit {
        /// [tcp:|udp:]VIP:PORT
        #[arg(value_name = "SERVICE")]
        service: String,
        #[command(flatten)]
        keys: ServiceKeys,
        #[command(flatten)]
        socket: Socket,
    },
    /// Remove a virtual service (ipvsadm -D).
    Remove {
        /// [tcp:|udp:]VIP:PORT
        #[arg(value_name = "SERVICE")]
        service: String,
        #[command(flatten)]
        socket: Socket,
    },
}

/// The service keys the flags set.
#[derive(Debug, Args)]
pub struct ServiceKeys {
    /// Scheduler: rr wrr lc wlc sed nq dh sh lblc lblcr mh fo ovf twos.
    #[arg(long, value_name = "S")]
    scheduler: Option<String>,
    /// The real servers' default forwarding method.
    #[arg(long, value_name = "M", value_parser = ["dr", "nat", "tun", "fullnat"])]
    method: Option<String>,
    /// Persistence timeout in seconds (ipvsadm -p); 0 turns it off.
    #[arg(long, value_name = "SECS")]
    persistence: Option<u64>,
    /// More keys, as a YAML mapping: '{ops: true, flags: [sh-port]}'.
    #[arg(long, value_name = "YAML")]
    yaml: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum RealServerCommand {
    /// Add a real server to a service (ipvsadm -a). Other keys a
    /// `real_servers:` entry takes (thresholds, mac, checkers) go in --yaml.
    Add {
        #[command(flatten)]
        target: Target,
        #[command(flatten)]
        keys: RealServerKeys,
        #[command(flatten)]
        socket: Socket,
    },
    /// Change keys of a real server (ipvsadm -e).
    Edit {
        #[command(flatten)]
        target: Target,
        #[command(flatten)]
        keys: RealServerKeys,
        #[command(flatten)]
        socket: Socket,
    },
    /// Remove a real server (ipvsadm -d); its connections drain as after a
    /// reload that removed it.
    Remove {
        #[command(flatten)]
        target: Target,
        #[command(flatten)]
        socket: Socket,
    },
    /// Set its weight to 0: no new connections, existing ones go on
    /// (quiescing).
    Drain {
        #[command(flatten)]
        target: Target,
        #[command(flatten)]
        socket: Socket,
    },
}

/// Which real server of which service.
#[derive(Debug, Args)]
pub struct Target {
    /// The service: [tcp:|udp:]VIP:PORT
    #[arg(value_name = "SERVICE")]
    service: String,
    /// The real server: ADDRESS[:PORT] (the port defaults as in the file).
    #[arg(value_name = "ADDR[:PORT]")]
    server: String,
}

/// The real-server keys the flags set.
#[derive(Debug, Args)]
pub struct RealServerKeys {
    /// Weight 0..=65535 (0 quiesces).
    #[arg(long, value_name = "W")]
    weight: Option<u32>,
    /// Forwarding method for this real server.
    #[arg(long, value_name = "M", value_parser = ["dr", "nat", "tun", "fullnat"])]
    method: Option<String>,
    /// More keys, as a YAML mapping: '{upper_threshold: 100}'.
    #[arg(long, value_name = "YAML")]
    yaml: Option<String>,
}

pub fn service(cmd: &ServiceCommand) -> ExitCode {
    let (socket, args) = match cmd {
        ServiceCommand::Add {
            service,
            protocol,
            keys,
            socket,
        } => (socket, add_service_args(service, protocol.as_deref(), keys)),
        ServiceCommand::Edit {
            service,
            keys,
            socket,
        } => (
            socket,
            service_keys(keys, Vec::new(), true)
                .map(|yaml| args(&[("action", "edit"), ("service", service), ("yaml", &yaml)])),
        ),
        ServiceCommand::Remove { service, socket } => (
            socket,
            Ok(args(&[("action", "remove"), ("service", service)])),
        ),
    };
    send(socket, "service", args)
}

pub fn real_server(cmd: &RealServerCommand) -> ExitCode {
    let (socket, args) = match cmd {
        RealServerCommand::Add {
            target,
            keys,
            socket,
        } => (socket, add_real_server_args(target, keys)),
        RealServerCommand::Edit {
            target,
            keys,
            socket,
        } => (
            socket,
            real_server_keys(keys, Vec::new(), true).map(|yaml| {
                args(&[
                    ("action", "edit"),
                    ("service", &target.service),
                    ("server", &target.server),
                    ("yaml", &yaml),
                ])
            }),
        ),
        RealServerCommand::Remove { target, socket } => (socket, Ok(target_args("remove", target))),
        RealServerCommand::Drain { target, socket } => (socket, Ok(target_args("drain", target))),
    };
    send(socket, "real_server", args)
}

fn send(socket: &Socket, command: &str, args: Result<Value, String>) -> ExitCode {
    let args = match args {
        Ok(a) => a,
        Err(e) => {
            eprintln!("xvs {}: {e}", command.replace('_', "-"));
            return ExitCode::from(2);
        }
    };
    match ask(&socket.control, command, args)
        .and_then(|d| client::text(d).map_err(crate::control::fail))
    {
        Ok(text) => {
            println!("{}", text.trim_end());
            ExitCode::SUCCESS
        }
        Err(code) => code,
    }
}

fn args(pairs: &[(&str, &str)]) -> Value {
    let map: Map<String, Value> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_string(), Value::String((*v).to_string())))
        .collect();
    Value::Object(map)
}

fn target_args(action: &str, t: &Target) -> Value {
    args(&[
        ("action", action),
        ("service", &t.service),
        ("server", &t.server),
    ])
}

/// `service add`: the service's key (vip, port, protocol) from SERVICE and
/// --protocol, plus the other flags.
fn add_service_args(
    service: &str,
    protocol: Option<&str>,
    keys: &ServiceKeys,
) -> Result<Value, String> {
    let key = ServiceRef::parse(service)?;
    let prefix = service
        .trim()
        .split_once(':')
        .map(|(p, _)| p.to_ascii_lowercase())
        .filter(|p| p == "tcp" || p == "udp");
    let protocol = match (prefix.as_deref(), protocol) {
        (Some(p), Some(q)) if p != q => {
            return Err(format!(
                "{service} is {p}, but --protocol says {q}; keep one"
            ))
        }
        (Some(p), _) | (None, Some(p)) => p.to_string(),
        (None, None) => "tcp".to_string(),
    };
    let pairs = vec![
        ("vip", Scalar::Text(key.vip.to_string())),
        ("port", Scalar::Number(u64::from(key.port))),
        ("protocol", Scalar::Text(protocol)),
    ];
    let yaml = service_keys(keys, pairs, false)?;
    Ok(args(&[("action", "add"), ("yaml", &yaml)]))
}

fn service_keys(
    keys: &ServiceKeys,
    mut pairs: Vec<(&'static str, Scalar)>,
    edit: bool,
) -> Result<String, String> {
    if let Some(s) = &keys.scheduler {
        pairs.push(("scheduler", Scalar::Text(s.clone())));
    }
    if let Some(m) = &keys.method {
        pairs.push(("method", Scalar::Text(m.clone())));
    }
    match keys.persistence {
        Some(0) => pairs.push(("persistence", Scalar::Bool(false))),
        Some(secs) => pairs.push(("persistence", Scalar::Number(secs))),
        None => {}
    }
    if edit && pairs.is_empty() && keys.yaml.is_none() {
        return Err(
            "nothing to change: give --scheduler, --method, --persistence or --yaml".into(),
        );
    }
    change_yaml(&pairs, keys.yaml.as_deref())
}

/// `real-server add`: address and port from ADDR[:PORT], plus the flags.
fn add_real_server_args(t: &Target, keys: &RealServerKeys) -> Result<Value, String> {
    let server = xvs_config::edit::ServerRef::parse(&t.server)?;
    let mut pairs = vec![("address", Scalar::Text(server.address.to_string()))];
    if let Some(port) = server.port {
        pairs.push(("port", Scalar::Number(u64::from(port))));
    }
    let yaml = real_server_keys(keys, pairs, false)?;
    Ok(args(&[
        ("action", "add"),
        ("service", &t.service),
        ("yaml", &yaml),
    ]))
}

fn real_server_keys(
    keys: &RealServerKeys,
    mut pairs: Vec<(&'static str, Scalar)>,
    edit: bool,
) -> Result<String, String> {
    if let Some(w) = keys.weight {
        pairs.push(("weight", Scalar::Number(u64::from(w))));
    }
    if let Some(m) = &keys.method {
        pairs.push(("method", Scalar::Text(m.clone())));
    }
    if edit && pairs.is_empty() && keys.yaml.is_none() {
        return Err("nothing to change: give --weight, --method or --yaml".into());
    }
    change_yaml(&pairs, keys.yaml.as_deref())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(scheduler: Option<&str>, persistence: Option<u64>, yaml: Option<&str>) -> ServiceKeys {
        ServiceKeys {
            scheduler: scheduler.map(str::to_string),
            method: None,
            persistence,
            yaml: yaml.map(str::to_string),
        }
    }

    fn yaml_of(v: &Value) -> &str {
        v["yaml"].as_str().expect("yaml arg")
    }

    #[test]
    fn service_add_carries_its_key() {
        let a = add_service_args(
            "udp:[fd00::100]:53",
            None,
            &keys(Some("rr"), Some(60), None),
        )
        .expect("valid");
        assert_eq!(a["action"], "add");
        assert_eq!(
            yaml_of(&a),
            "vip: fd00::100\nport: 53\nprotocol: udp\nscheduler: rr\npersistence: 60\n"
        );
        let a = add_service_args("198.18.0.100:80", Some("udp"), &keys(None, Some(0), None))
            .expect("valid");
        assert_eq!(
            yaml_of(&a),
            "vip: 198.18.0.100\nport: 80\nprotocol: udp\npersistence: false\n"
        );
        let err = add_service_args("tcp:198.18.0.100:80", Some("udp"), &keys(None, None, None))
            .expect_err("conflict");
        assert_eq!(
            err,
            "tcp:198.18.0.100:80 is tcp, but --protocol says udp; keep one"
        );
        let err = add_service_args(
            "198.18.0.100:80",
            None,
            &keys(None, None, Some("{port: 81}")),
        )
        .expect_err("twice");
        assert!(err.contains("`port` is given twice"), "{err}");
    }

    #[test]
    fn an_edit_needs_something_to_change() {
        let err = service_keys(&keys(None, None, None), Vec::new(), true).expect_err("empty");
        assert!(err.starts_with("nothing to change"), "{err}");
        assert_eq!(
            service_keys(&keys(None, None, Some("{ops: true}")), Vec::new(), true),
            Ok("ops: true\n".to_string())
        );
        let rk = RealServerKeys {
            weight: None,
            method: None,
            yaml: None,
        };
        assert!(real_server_keys(&rk, Vec::new(), true).is_err());
    }

    #[test]
    fn real_server_add_carries_address_and_port() {
        let t = Target {
            service: "tcp:198.18.0.100:80".into(),
            server: "198.18.1.14:8080".into(),
        };
        let k = RealServerKeys {
            weight: Some(3),
            method: Some("nat".into()),
            yaml: Some("{upper_threshold: 10}".into()),
        };
        let a = add_real_server_args(&t, &k).expect("valid");
        assert_eq!(a["service"], "tcp:198.18.0.100:80");
        assert_eq!(
            yaml_of(&a),
            "upper_threshold: 10\naddress: 198.18.1.14\nport: 8080\nweight: 3\nmethod: nat\n"
        );
        let t = Target {
            service: "tcp:198.18.0.100:80".into(),
            server: "fd00::14".into(),
        };
        let k = RealServerKeys {
            weight: None,
            method: None,
            yaml: None,
        };
        assert_eq!(
            yaml_of(&add_real_server_args(&t, &k).expect("valid")),
            "address: fd00::14\n"
        );
    }
}
