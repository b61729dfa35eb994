//! Driving scripts/lab-client.py: the command line for a batch of HTTP or
//! UDP requests, and the report it prints (one JSON object).

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use serde::Deserialize;

use crate::LabError;

/// What one batch of requests did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct ClientReport {
    /// Requests answered correctly by a lab backend.
    pub ok: usize,
    /// Requests that got no answer or a wrong one.
    pub failed: usize,
    /// Correct answers per backend name (`rs1`, `rs2`, ...).
    pub by_server: BTreeMap<String, usize>,
    /// Failure reasons (`timeout: no answer`, `ConnectionRefusedError: ...`)
    /// with how many requests failed that way.
    #[serde(default)]
    pub errors: BTreeMap<String, usize>,
}

impl ClientReport {
    /// How many real servers answered at least once.
    pub fn servers_seen(&self) -> usize {
        self.by_server.values().filter(|&&n| n > 0).count()
    }
}

/// What to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// GET this URL (`http://198.18.0.100/`, `http://[fd00:0:0:1::100]:8080/?size=100000`).
    Http(String),
    /// Datagrams to this address.
    Udp(SocketAddr),
}

/// One batch of requests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientOptions {
    pub target: Target,
    pub count: usize,
    /// Requests in flight at once (threads in the client).
    pub concurrency: usize,
    /// Source address to bind (one of the client's addresses).
    pub src: Option<IpAddr>,
    /// How long one request may take before it counts as failed.
    pub timeout: Duration,
    /// Backend names that may answer; `None` accepts any well-formed name.
    pub servers: Option<Vec<String>>,
}

/// The per-request timeout unless a test asks otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);

impl ClientOptions {
    pub fn new(target: Target, count: usize) -> Self {
        ClientOptions {
            target,
            count,
            concurrency: 1,
            src: None,
            timeout: DEFAULT_TIMEOUT,
            servers: None,
        }
    }

    /// The lab-client.py arguments (after the script path).
    pub fn args(&self) -> Vec<String> {
        let (mode, target) = match &self.target {
            Target::Http(url) => ("http", url.clone()),
            Target::Udp(addr) => ("udp", addr.to_string()),
        };
        let mut args = vec![
            mode.to_owned(),
            target,
            "--count".to_owned(),
            self.count.to_string(),
            "--concurrency".to_owned(),
            self.concurrency.max(1).to_string(),
            "--timeout".to_owned(),
            format!("{:.3}", self.timeout.as_secs_f64().max(0.001)),
        ];
        if let Some(src) = self.src {
            args.push("--source".to_owned());
            args.push(src.to_string());
        }
        if let Some(servers) = self.servers.as_ref().filter(|s| !s.is_empty()) {
            args.push("--servers".to_owned());
            args.push(servers.join(","));
        }
        args
    }
}

/// Parse the report lab-client.py printed (JSON is YAML, so serde_yaml
/// reads it).
pub fn parse_report(stdout: &str) -> Result<ClientReport, LabError> {
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with('{'))
        .ok_or_else(|| LabError::Report {
            reason: "no JSON object".into(),
            output: stdout.to_owned(),
        })?;
    let report: ClientReport = serde_yaml::from_str(line).map_err(|e| LabError::Report {
        reason: e.to_string(),
        output: stdout.to_owned(),
    })?;
    let answered: usize = report.by_server.values().sum();
    if answered != report.ok {
        return Err(LabError::Report {
            reason: format!("ok is {} but by_server sums to {answered}", report.ok),
            output: stdout.to_owned(),
        });
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_is_parsed() {
        let out = r#"{"ok": 29, "failed": 1, "by_server": {"rs1": 10, "rs2": 10, "rs3": 9}, "errors": {"timeout: no answer": 1}}
"#;
        let r = parse_report(out).unwrap();
        assert_eq!((r.ok, r.failed, r.servers_seen()), (29, 1, 3));
        assert_eq!(r.by_server["rs3"], 9);
        assert_eq!(r.errors["timeout: no answer"], 1);
    }

    #[test]
    fn report_with_quoted_error_text_is_parsed() {
        let out = r#"{"ok": 0, "failed": 2, "by_server": {}, "errors": {"unknown server 'rs9'": 1, "body is not NAME\\n plus padding: b'\\x00'": 1}}"#;
        let r = parse_report(out).unwrap();
        assert_eq!(r.failed, 2);
        assert!(r.errors.contains_key("unknown server 'rs9'"));
        assert!(r
            .errors
            .contains_key("body is not NAME\\n plus padding: b'\\x00'"));
    }

    #[test]
    fn inconsistent_or_missing_report_is_an_error() {
        assert!(parse_report("Traceback (most recent call last):\n").is_err());
        assert!(parse_report(r#"{"ok": 2, "failed": 0, "by_server": {"rs1": 1}}"#).is_err());
        assert!(parse_report(r#"{"ok": "many"}"#).is_err());
    }

    #[test]
    fn args_name_every_option() {
        let mut o = ClientOptions::new(Target::Udp("[fd00:0:0:1::100]:53".parse().unwrap()), 5);
        o.src = Some("fd00:0:0:1::10".parse().unwrap());
        o.servers = Some(vec!["rs1".into(), "rs2".into()]);
        o.timeout = Duration::from_millis(500);
        assert_eq!(
            o.args(),
            [
                "udp",
                "[fd00:0:0:1::100]:53",
                "--count",
                "5",
                "--concurrency",
                "1",
                "--timeout",
                "0.500",
                "--source",
                "fd00:0:0:1::10",
                "--servers",
                "rs1,rs2"
            ]
        );
        let http = ClientOptions::new(Target::Http("http://198.18.0.100/".into()), 30);
        assert_eq!(http.args()[..2], ["http", "http://198.18.0.100/"]);
        assert!(!http.args().contains(&"--servers".to_owned()));
    }
}
