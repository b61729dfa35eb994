//! The client side of the control socket, for the `xvs` CLI: send one
//! request, read the answer, hand back its `data` or the daemon's error.
//! Also the YAML mapping a runtime change carries, built from the CLI's
//! flags and its `--yaml`.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::protocol::{request_line, Answer, VERSION};

/// How long the CLI waits for an answer: longer than the daemon waits for
/// its control thread ([`super::dispatch::CONTROL_WAIT`]), so the daemon's
/// own timeout message arrives first.
pub const ANSWER_WAIT: Duration = Duration::from_secs(15);

/// Why a request got no data.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot reach the daemon at {}: {source} (is `xvs run` running with this --control?)", path.display())]
    Connect {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("permission denied on the control socket {}: only root may use it; run xvs as root", path.display())]
    PermissionDenied { path: PathBuf },
    #[error("control socket {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "the daemon's answer is not one this xvs understands (protocol version {VERSION}): {0}"
    )]
    BadAnswer(String),
    /// The daemon's error answer, as it worded it.
    #[error("{0}")]
    Refused(String),
}

/// Send `command` with `args` to the daemon at `path`; its `data`.
pub fn call(path: &Path, command: &str, args: Value) -> Result<Value, ClientError> {
    let io = |source: std::io::Error| ClientError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut s = UnixStream::connect(path).map_err(|source| {
        if source.kind() == std::io::ErrorKind::PermissionDenied {
            ClientError::PermissionDenied {
                path: path.to_path_buf(),
            }
        } else {
            ClientError::Connect {
                path: path.to_path_buf(),
                source,
            }
        }
    })?;
    s.set_read_timeout(Some(ANSWER_WAIT)).map_err(io)?;
    s.set_write_timeout(Some(ANSWER_WAIT)).map_err(io)?;
    // A daemon that refuses at once (busy) may answer and close before
    // the request is written: read its answer whatever the write did.
    let sent = s.write_all(request_line(command, args).as_bytes());
    let mut bytes = Vec::new();
    let read = s.read_to_end(&mut bytes);
    if !bytes.ends_with(b"\n") {
        // No whole answer: say why.
        sent.map_err(io)?;
        read.map_err(io)?;
    }
    let text = String::from_utf8_lossy(&bytes);
    let answer: Answer = serde_json::from_str(text.trim())
        .map_err(|e| ClientError::BadAnswer(format!("{e}: {text:?}")))?;
    if answer.version != VERSION {
        return Err(ClientError::BadAnswer(format!(
            "it speaks version {}",
            answer.version
        )));
    }
    if answer.ok {
        Ok(answer.data.unwrap_or(Value::Null))
    } else {
        Err(ClientError::Refused(
            answer
                .error
                .unwrap_or_else(|| "refused without a reason".to_string()),
        ))
    }
}

/// `data` as the documented type.
pub fn decode<T: DeserializeOwned>(data: Value) -> Result<T, ClientError> {
    serde_json::from_value(data).map_err(|e| ClientError::BadAnswer(e.to_string()))
}

/// `data` that is text (metrics, the control thread's answers).
pub fn text(data: Value) -> Result<String, ClientError> {
    match data {
        Value::String(s) => Ok(s),
        other => Err(ClientError::BadAnswer(format!(
            "expected text, got {other}"
        ))),
    }
}

/// `data` as `--json` prints it: pretty, one trailing newline.
pub fn pretty(data: &Value) -> String {
    let mut s = serde_json::to_string_pretty(data).unwrap_or_default();
    s.push('\n');
    s
}

/// A value for [`change_yaml`].
#[derive(Clone, Debug, PartialEq)]
pub enum Scalar {
    Text(String),
    Number(u64),
    Bool(bool),
}

/// The YAML mapping of a runtime change: `keys` (from the CLI's flags)
/// merged with the mapping `extra` (`--yaml`, flow or block style). A key
/// given both ways is refused rather than silently picking one.
pub fn change_yaml(keys: &[(&str, Scalar)], extra: Option<&str>) -> Result<String, String> {
    use serde_yaml::{Mapping, Value as Yaml};
    let mut map = match extra.map(serde_yaml::from_str::<Yaml>).transpose() {
        Err(e) => return Err(format!("--yaml: {e}")),
        Ok(None | Some(Yaml::Null)) => Mapping::new(),
        Ok(Some(Yaml::Mapping(m))) => m,
        Ok(Some(_)) => {
            return Err("--yaml must be a mapping such as '{weight: 2, method: nat}'".into())
        }
    };
    for (key, value) in keys {
        let key_value = Yaml::String((*key).to_string());
        if map.contains_key(&key_value) {
            return Err(format!(
                "`{key}` is given twice: by its flag and in --yaml; keep one"
            ));
        }
        let value = match value {
            Scalar::Text(t) => Yaml::String(t.clone()),
            Scalar::Number(n) => Yaml::Number((*n).into()),
            Scalar::Bool(b) => Yaml::Bool(*b),
        };
        map.insert(key_value, value);
    }
    serde_yaml::to_string(&Yaml::Mapping(map))
        .map_err(|e| format!("cannot write the change as YAML: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_and_yaml_merge_into_one_mapping() {
        let yaml = change_yaml(
            &[
                ("vip", Scalar::Text("fd00::100".into())),
                ("port", Scalar::Number(80)),
                ("ops", Scalar::Bool(false)),
            ],
            Some("{scheduler: wrr, flags: [sh-port]}"),
        )
        .expect("merges");
        let back: serde_yaml::Value = serde_yaml::from_str(&yaml).expect("valid YAML");
        assert_eq!(back["scheduler"], serde_yaml::Value::from("wrr"));
        assert_eq!(back["vip"], serde_yaml::Value::from("fd00::100"));
        assert_eq!(back["port"], serde_yaml::Value::from(80));
        assert_eq!(back["ops"], serde_yaml::Value::from(false));
        assert_eq!(back["flags"][0], serde_yaml::Value::from("sh-port"));
        // Block style works too; no --yaml is an empty mapping plus the flags.
        let block = change_yaml(&[], Some("weight: 3\nmethod: dr\n")).expect("block");
        assert_eq!(block, "weight: 3\nmethod: dr\n");
        assert_eq!(
            change_yaml(&[("weight", Scalar::Number(0))], None),
            Ok("weight: 0\n".into())
        );
    }

    #[test]
    fn conflicts_and_non_mappings_are_refused() {
        assert_eq!(
            change_yaml(&[("weight", Scalar::Number(1))], Some("{weight: 2}")),
            Err("`weight` is given twice: by its flag and in --yaml; keep one".into())
        );
        assert_eq!(
            change_yaml(&[], Some("[1, 2]")),
            Err("--yaml must be a mapping such as '{weight: 2, method: nat}'".into())
        );
        let err = change_yaml(&[], Some("{weight: ")).expect_err("syntax");
        assert!(err.starts_with("--yaml: "), "{err}");
    }

    #[test]
    fn answers_from_a_fake_daemon() {
        use std::os::unix::net::UnixListener;
        let dir = std::env::temp_dir().join(format!("xvs-client-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("c.sock");
        let _ = std::fs::remove_file(&path);
        let listener = UnixListener::bind(&path).expect("bind");
        let server = std::thread::spawn(move || {
            for answer in [
                Answer::ok(Value::String("done".into())).to_line(),
                Answer::error("no such service").to_line(),
                "{\"version\":2,\"ok\":true}\n".to_string(),
            ] {
                let (mut s, _) = listener.accept().expect("client");
                let mut line = String::new();
                std::io::BufRead::read_line(&mut std::io::BufReader::new(&s), &mut line)
                    .expect("request");
                assert!(
                    line.starts_with("{\"version\":1,\"command\":\"reload\""),
                    "{line}"
                );
                s.write_all(answer.as_bytes()).expect("answer");
            }
        });
        assert_eq!(
            call(&path, "reload", Value::Null)
                .and_then(text)
                .expect("ok"),
            "done"
        );
        let err = call(&path, "reload", Value::Null).expect_err("refused");
        assert_eq!(err.to_string(), "no such service");
        let err = call(&path, "reload", Value::Null).expect_err("version 2");
        assert!(err.to_string().contains("it speaks version 2"), "{err}");
        server.join().expect("fake daemon");
        let _ = std::fs::remove_dir_all(&dir);
        let err = call(&path, "list", Value::Null).expect_err("gone");
        assert!(matches!(err, ClientError::Connect { .. }), "{err}");
    }
}
