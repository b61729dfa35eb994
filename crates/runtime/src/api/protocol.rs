//! The control protocol's messages (docs/control-protocol.md): one JSON
//! request line in, one JSON answer out, both carrying the protocol
//! version. Parsing and validation are here, with no socket, so every
//! refusal is unit-tested.
//!
//! ```text
//! → {"version":1,"command":"list","args":{"service":"tcp:198.18.0.100:80"}}
//! ← {"version":1,"ok":true,"data":{...}}
//! ← {"version":1,"ok":false,"error":"no service tcp:198.18.0.100:81 ..."}
//! ```

use serde::{Deserialize, Serialize};
/// The JSON values requests and answers carry (re-exported so clients
/// need no JSON crate of their own).
pub use serde_json::{Map, Value};
use xvs_config::edit::{Change, ServerRef, ServiceRef};

use crate::shared::ControlRequest;

/// The protocol version this build speaks (requests and answers).
pub const VERSION: u32 = 1;

/// Every command, as the error for an unknown one lists them.
pub const COMMANDS: [&str; 11] = [
    "list",
    "conns",
    "status",
    "metrics",
    "reload",
    "service",
    "real_server",
    "diff",
    "save",
    "drain",
    "undrain",
];

/// A request line as sent.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestLine {
    pub version: u32,
    pub command: String,
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub args: Value,
}

/// The answer object: `data` when `ok`, `error` when not.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Answer {
    pub version: u32,
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Answer {
    pub fn ok(data: Value) -> Answer {
        Answer {
            version: VERSION,
            ok: true,
            data: Some(data),
            error: None,
        }
    }

    pub fn error(message: impl Into<String>) -> Answer {
        Answer {
            version: VERSION,
            ok: false,
            data: None,
            error: Some(message.into()),
        }
    }

    /// The answer as one line (compact JSON and a newline).
    pub fn to_line(&self) -> String {
        // Serialising a Value-holding struct cannot fail (string keys only).
        let mut line = serde_json::to_string(self)
            .unwrap_or_else(|e| format!(r#"{{"version":{VERSION},"ok":false,"error":"{e}"}}"#));
        line.push('\n');
        line
    }
}

/// A request, validated.
#[derive(Debug)]
pub enum Request {
    /// Services and real servers with their counters and rates.
    List { service: Option<ServiceRef> },
    /// Connection entries, optionally of one service and/or real server.
    Conns {
        service: Option<ServiceRef>,
        real_server: Option<ServerRef>,
    },
    /// The health checker's, VRRP's and sync's view; `text`: as
    /// `xvs status` prints it instead of the JSON object.
    Status { text: bool },
    /// Prometheus text.
    Metrics,
    /// For the control thread: reload, a runtime change, diff, save.
    Control(ControlRequest),
}

/// The request line `command` with `args`, as a client sends it.
pub fn request_line(command: &str, args: Value) -> String {
    let line = RequestLine {
        version: VERSION,
        command: command.to_string(),
        args,
    };
    let mut text = serde_json::to_string(&line).unwrap_or_default();
    text.push('\n');
    text
}

/// Parse and validate one request line. The error is the answer's text.
pub fn parse_request(line: &str) -> Result<Request, String> {
    let line: RequestLine = serde_json::from_str(line.trim()).map_err(|e| {
        format!(
            "not a request: {e}; send one JSON line such as \
             {{\"version\":{VERSION},\"command\":\"list\"}} (docs/control-protocol.md)"
        )
    })?;
    if line.version != VERSION {
        return Err(format!(
            "protocol version {} is not supported: this daemon speaks version {VERSION}",
            line.version
        ));
    }
    let args = if line.args.is_null() {
        Value::Object(Default::default())
    } else {
        line.args
    };
    let command = line.command.as_str();
    let bad = |e: serde_json::Error| format!("{command}: bad args: {e}");
    match command {
        "list" => {
            let a: ListArgs = serde_json::from_value(args).map_err(bad)?;
            Ok(Request::List {
                service: service_ref(a.service.as_deref())?,
            })
        }
        "conns" => {
            let a: ConnsArgs = serde_json::from_value(args).map_err(bad)?;
            Ok(Request::Conns {
                service: service_ref(a.service.as_deref())?,
                real_server: a.real_server.as_deref().map(ServerRef::parse).transpose()?,
            })
        }
        "status" => {
            let a: StatusArgs = serde_json::from_value(args).map_err(bad)?;
            Ok(Request::Status { text: a.text })
        }
        "metrics" | "reload" | "diff" | "save" | "drain" | "undrain" => {
            let _: NoArgs = serde_json::from_value(args).map_err(bad)?;
            Ok(match command {
                "metrics" => Request::Metrics,
                "reload" => Request::Control(ControlRequest::Reload),
                "diff" => Request::Control(ControlRequest::Diff),
                "drain" => Request::Control(ControlRequest::Drain(true)),
                "undrain" => Request::Control(ControlRequest::Drain(false)),
                _ => Request::Control(ControlRequest::Save),
            })
        }
        "service" => {
            let a: ChangeArgs = serde_json::from_value(args).map_err(bad)?;
            service_change(a).map(|c| Request::Control(ControlRequest::Change(c)))
        }
        "real_server" => {
            let a: ChangeArgs = serde_json::from_value(args).map_err(bad)?;
            real_server_change(a).map(|c| Request::Control(ControlRequest::Change(c)))
        }
        other => Err(format!(
            "unknown command {other:?}; supported: {}",
            COMMANDS.join(", ")
        )),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NoArgs {}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListArgs {
    service: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConnsArgs {
    service: Option<String>,
    real_server: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StatusArgs {
    #[serde(default)]
    text: bool,
}

/// `service` and `real_server`: which action, on what, with which keys.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ChangeArgs {
    action: String,
    service: Option<String>,
    server: Option<String>,
    yaml: Option<String>,
}

fn service_ref(text: Option<&str>) -> Result<Option<ServiceRef>, String> {
    text.map(ServiceRef::parse).transpose()
}

/// Take `what` from the args, or say the action needs it.
fn need<'a>(
    value: &'a Option<String>,
    command: &str,
    action: &str,
    what: &str,
) -> Result<&'a str, String> {
    value
        .as_deref()
        .ok_or_else(|| format!("{command} {action} needs args.{what}"))
}

/// Refuse args the action does not take (a mistake, not something to ignore).
fn refuse(value: &Option<String>, command: &str, action: &str, what: &str) -> Result<(), String> {
    match value {
        Some(_) => Err(format!("{command} {action} takes no args.{what}")),
        None => Ok(()),
    }
}

fn service_change(a: ChangeArgs) -> Result<Change, String> {
    const C: &str = "service";
    let action = a.action.as_str();
    refuse(&a.server, C, action, "server")?;
    match action {
        "add" => {
            // The new service's key is in its YAML (vip, port, protocol).
            refuse(&a.service, C, action, "service")?;
            Ok(Change::AddService {
                yaml: need(&a.yaml, C, action, "yaml")?.to_string(),
            })
        }
        "edit" => Ok(Change::EditService {
            service: ServiceRef::parse(need(&a.service, C, action, "service")?)?,
            yaml: need(&a.yaml, C, action, "yaml")?.to_string(),
        }),
        "remove" => {
            refuse(&a.yaml, C, action, "yaml")?;
            Ok(Change::RemoveService {
                service: ServiceRef::parse(need(&a.service, C, action, "service")?)?,
            })
        }
        other => Err(format!(
            "service: unknown action {other:?}; supported: add, edit, remove"
        )),
    }
}

fn real_server_change(a: ChangeArgs) -> Result<Change, String> {
    const C: &str = "real_server";
    let action = a.action.as_str();
    if !matches!(action, "add" | "edit" | "remove" | "drain") {
        return Err(format!(
            "real_server: unknown action {action:?}; supported: add, edit, remove, drain"
        ));
    }
    let service = ServiceRef::parse(need(&a.service, C, action, "service")?)?;
    if action == "add" {
        // The new real server's address and port are in its YAML.
        refuse(&a.server, C, action, "server")?;
        return Ok(Change::AddRealServer {
            service,
            yaml: need(&a.yaml, C, action, "yaml")?.to_string(),
        });
    }
    let server = ServerRef::parse(need(&a.server, C, action, "server")?)?;
    match action {
        "edit" => Ok(Change::EditRealServer {
            service,
            server,
            yaml: need(&a.yaml, C, action, "yaml")?.to_string(),
        }),
        "remove" => {
            refuse(&a.yaml, C, action, "yaml")?;
            Ok(Change::RemoveRealServer { service, server })
        }
        _ => {
            refuse(&a.yaml, C, action, "yaml")?;
            Ok(Change::DrainRealServer { service, server })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: Value) -> Result<Request, String> {
        parse_request(&v.to_string())
    }

    fn change(v: Value) -> Change {
        match parse(v) {
            Ok(Request::Control(ControlRequest::Change(c))) => c,
            other => panic!("not a change: {other:?}"),
        }
    }

    #[test]
    fn list_with_and_without_a_service() {
        assert!(matches!(
            parse(json!({"version": 1, "command": "list"})),
            Ok(Request::List { service: None })
        ));
        let Ok(Request::List { service: Some(s) }) = parse(
            json!({"version": 1, "command": "list", "args": {"service": "udp:[fd00::100]:53"}}),
        ) else {
            panic!("list with a service");
        };
        assert_eq!(s.to_string(), "udp:[fd00::100]:53");
        let err = parse(json!({"version": 1, "command": "list", "args": {"service": "nonsense"}}))
            .expect_err("bad service");
        assert!(err.contains("is not a service"), "{err}");
    }

    #[test]
    fn request_line_round_trips() {
        let line = request_line("conns", json!({"real_server": "198.18.1.11"}));
        assert!(line.ends_with('\n'));
        let Ok(Request::Conns {
            service: None,
            real_server: Some(r),
        }) = parse_request(&line)
        else {
            panic!("{line}");
        };
        assert_eq!(r.to_string(), "198.18.1.11");
        // No args at all is the same as empty args.
        assert!(matches!(
            parse_request(&request_line("metrics", Value::Null)),
            Ok(Request::Metrics)
        ));
    }

    #[test]
    fn version_is_checked() {
        let err = parse(json!({"version": 2, "command": "list"})).expect_err("v2");
        assert_eq!(
            err,
            "protocol version 2 is not supported: this daemon speaks version 1"
        );
        let err = parse(json!({"command": "list"})).expect_err("no version");
        assert!(err.contains("missing field `version`"), "{err}");
    }

    #[test]
    fn unknown_command_names_the_supported_ones() {
        let err = parse(json!({"version": 1, "command": "flush"})).expect_err("unknown");
        assert_eq!(
            err,
            "unknown command \"flush\"; supported: list, conns, status, metrics, reload, service, real_server, diff, save, drain, undrain"
        );
    }

    #[test]
    fn old_text_requests_get_a_pointer_to_the_protocol() {
        let err = parse_request("list\n").expect_err("text");
        assert!(err.starts_with("not a request: "), "{err}");
        assert!(err.contains("docs/control-protocol.md"), "{err}");
    }

    #[test]
    fn unknown_args_are_refused() {
        let err = parse(json!({"version": 1, "command": "list", "args": {"stats": true}}))
            .expect_err("unknown arg");
        assert!(
            err.starts_with("list: bad args: unknown field `stats`"),
            "{err}"
        );
        let err = parse(json!({"version": 1, "command": "reload", "args": {"now": 1}}))
            .expect_err("unknown arg");
        assert!(err.starts_with("reload: bad args"), "{err}");
        let err = parse(json!({"version": 1, "command": "list", "args": [1]})).expect_err("array");
        assert!(err.starts_with("list: bad args"), "{err}");
    }

    #[test]
    fn control_requests() {
        for (command, want) in [
            ("reload", "Reload"),
            ("diff", "Diff"),
            ("save", "Save"),
            ("drain", "Drain(true)"),
            ("undrain", "Drain(false)"),
        ] {
            let r = parse(json!({"version": 1, "command": command})).expect("valid");
            assert_eq!(format!("{r:?}"), format!("Control({want})"));
        }
        assert!(matches!(
            parse(json!({"version": 1, "command": "status", "args": {"text": true}})),
            Ok(Request::Status { text: true })
        ));
        assert!(matches!(
            parse(json!({"version": 1, "command": "status"})),
            Ok(Request::Status { text: false })
        ));
    }

    #[test]
    fn service_changes() {
        let c = change(json!({"version": 1, "command": "service",
            "args": {"action": "add", "yaml": "{vip: 198.18.0.100, port: 81}"}}));
        assert_eq!(
            c,
            Change::AddService {
                yaml: "{vip: 198.18.0.100, port: 81}".into()
            }
        );
        let c = change(json!({"version": 1, "command": "service",
            "args": {"action": "edit", "service": "tcp:198.18.0.100:80", "yaml": "{scheduler: rr}"}}));
        assert_eq!(c.to_string(), "edit service tcp:198.18.0.100:80");
        let c = change(json!({"version": 1, "command": "service",
            "args": {"action": "remove", "service": "198.18.0.100:80"}}));
        assert_eq!(c.to_string(), "remove service tcp:198.18.0.100:80");

        for (args, fragment) in [
            (json!({"action": "add"}), "service add needs args.yaml"),
            (
                json!({"action": "add", "service": "1.2.3.4:80", "yaml": "{}"}),
                "service add takes no args.service",
            ),
            (
                json!({"action": "edit", "yaml": "{}"}),
                "service edit needs args.service",
            ),
            (
                json!({"action": "remove", "service": "1.2.3.4:80", "yaml": "{}"}),
                "service remove takes no args.yaml",
            ),
            (
                json!({"action": "drain", "service": "1.2.3.4:80"}),
                "service: unknown action \"drain\"; supported: add, edit, remove",
            ),
            (
                json!({"action": "remove", "service": "1.2.3.4:80", "server": "1.1.1.1"}),
                "service remove takes no args.server",
            ),
        ] {
            let err = parse(json!({"version": 1, "command": "service", "args": args}))
                .expect_err(fragment);
            assert_eq!(err, fragment);
        }
    }

    #[test]
    fn real_server_changes() {
        let c = change(json!({"version": 1, "command": "real_server",
            "args": {"action": "add", "service": "tcp:198.18.0.100:80", "yaml": "{address: 198.18.1.14}"}}));
        assert_eq!(c.to_string(), "add a real server to tcp:198.18.0.100:80");
        let c = change(json!({"version": 1, "command": "real_server",
            "args": {"action": "edit", "service": "tcp:198.18.0.100:80", "server": "198.18.1.11:8080", "yaml": "{weight: 3}"}}));
        assert_eq!(
            c,
            Change::EditRealServer {
                service: ServiceRef::parse("tcp:198.18.0.100:80").expect("valid"),
                server: ServerRef::parse("198.18.1.11:8080").expect("valid"),
                yaml: "{weight: 3}".into()
            }
        );
        let c = change(json!({"version": 1, "command": "real_server",
            "args": {"action": "drain", "service": "udp:198.18.0.100:53", "server": "198.18.1.11"}}));
        assert_eq!(
            c.to_string(),
            "drain real server 198.18.1.11 of udp:198.18.0.100:53"
        );
        let c = change(json!({"version": 1, "command": "real_server",
            "args": {"action": "remove", "service": "udp:198.18.0.100:53", "server": "[fd00::11]:53"}}));
        assert_eq!(
            c.to_string(),
            "remove real server [fd00::11]:53 from udp:198.18.0.100:53"
        );
        for (args, fragment) in [
            (
                json!({"action": "add", "yaml": "{}"}),
                "real_server add needs args.service",
            ),
            (
                json!({"action": "add", "service": "1.2.3.4:80", "server": "1.1.1.1", "yaml": "{}"}),
                "real_server add takes no args.server",
            ),
            (
                json!({"action": "edit", "service": "1.2.3.4:80", "server": "1.1.1.1"}),
                "real_server edit needs args.yaml",
            ),
            (
                json!({"action": "drain", "service": "1.2.3.4:80"}),
                "real_server drain needs args.server",
            ),
            (
                json!({"action": "drain", "service": "1.2.3.4:80", "server": "1.1.1.1", "yaml": "{}"}),
                "real_server drain takes no args.yaml",
            ),
            (
                json!({"action": "quiesce", "service": "1.2.3.4:80"}),
                "real_server: unknown action \"quiesce\"; supported: add, edit, remove, drain",
            ),
        ] {
            let err = parse(json!({"version": 1, "command": "real_server", "args": args}))
                .expect_err(fragment);
            assert_eq!(err, fragment);
        }
        let err = parse(json!({"version": 1, "command": "real_server",
            "args": {"action": "drain", "service": "1.2.3.4:80", "server": "host"}}))
        .expect_err("bad server");
        assert!(err.contains("is not a real server"), "{err}");
    }

    proptest::proptest! {
        /// Whatever a client sends, the answer is a request or an error
        /// message, never a panic (this doubles as the parser's fuzz target).
        #[test]
        fn any_line_parses_or_is_refused(line in ".{0,200}") {
            let _ = parse_request(&line);
        }

        /// JSON-shaped junk reaches the per-command argument checks.
        #[test]
        fn any_args_parse_or_are_refused(
            command in proptest::sample::select(COMMANDS.to_vec()),
            key in "[a-z_]{1,12}",
            value in ".{0,40}",
            action in proptest::sample::select(vec!["add", "edit", "remove", "drain", "x"]),
        ) {
            let line = request_line(command, json!({key.as_str(): value, "action": action}));
            let _ = parse_request(&line);
        }
    }

    #[test]
    fn answers_serialise_as_documented() {
        assert_eq!(
            Answer::ok(json!({"a": 1})).to_line(),
            "{\"version\":1,\"ok\":true,\"data\":{\"a\":1}}\n"
        );
        assert_eq!(
            Answer::error("no").to_line(),
            "{\"version\":1,\"ok\":false,\"error\":\"no\"}\n"
        );
        let back: Answer =
            serde_json::from_str(&Answer::error("no").to_line()).expect("round trip");
        assert_eq!(back, Answer::error("no"));
    }
}
