//! Reading a config: text → key index (yaml-rust2, for positions and the
//! shape of the top-level node) → schema (serde_yaml into [`crate::raw`])
//! → semantic checks and defaults ([`crate::resolve`]) → [`Snapshot`].

use std::path::Path;

use crate::error::{ConfigError, ErrorStage, Location};
use crate::marks::{KeyIndex, RootKind};
use crate::model::Snapshot;
use crate::raw::RawConfig;
use crate::resolve::{resolve, Ctx};

/// Load and validate a config file. Errors name the path as given.
pub fn load_file(path: &Path) -> Result<Snapshot, ConfigError> {
    let origin = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
        origin: origin.clone(),
        source,
    })?;
    load_str(&text, &origin)
}

/// Load and validate config text; `origin` is what errors print before
/// `:line:col` (normally the file name).
pub fn load_str(text: &str, origin: &str) -> Result<Snapshot, ConfigError> {
    let invalid = |location: Location, key: String, message: String, stage: ErrorStage| {
        ConfigError::Invalid {
            origin: origin.to_string(),
            location: crate::marks::within(text, location),
            key,
            message,
            stage,
        }
    };

    let index = KeyIndex::build(text)
        .map_err(|e| invalid(e.location, String::new(), e.message, ErrorStage::Syntax))?;
    let top_level =
        "expected a mapping with the keys global, interfaces, local_pools, services, vrrp, vrrp_scripts, vrrp_sync_groups, sync";
    match index.root() {
        RootKind::Mapping => {}
        RootKind::Empty => {
            return Err(invalid(
                index.root_location(),
                String::new(),
                format!("the config is empty; {top_level}"),
                ErrorStage::Syntax,
            ))
        }
        RootKind::Sequence | RootKind::Scalar => {
            let found = if index.root() == RootKind::Sequence {
                "a list"
            } else {
                "a single value"
            };
            return Err(invalid(
                index.root_location(),
                String::new(),
                format!("the top level is {found}; {top_level}"),
                ErrorStage::Syntax,
            ));
        }
    }

    let raw: RawConfig = serde_yaml::from_str(text).map_err(|e| {
        let (location, key, message) = split_serde_error(&e);
        invalid(location, key, message, ErrorStage::Schema)
    })?;
    resolve(
        &raw,
        &Ctx {
            origin,
            index: &index,
        },
    )
}

/// Take serde_yaml's "path: message at line L column C" apart into its
/// position, key path and message, so it prints like our own errors.
fn split_serde_error(e: &serde_yaml::Error) -> (Location, String, String) {
    let location = e
        .location()
        .map(|l| Location {
            line: l.line().max(1),
            col: l.column().max(1),
        })
        .unwrap_or(Location::START);
    let mut text = e.to_string();
    if let Some(l) = e.location() {
        let suffix = format!(" at line {} column {}", l.line(), l.column());
        if let Some(at) = text.find(&suffix) {
            text.replace_range(at..at + suffix.len(), "");
        }
    }
    // serde_yaml prefixes the key path (`services[0].port: `) when it is
    // not the root; a path has no spaces, a message's first words do.
    let (mut key, message) = match text.split_once(": ") {
        Some((path, rest)) if is_key_path(path) => (path.to_string(), rest.to_string()),
        _ => (String::new(), text),
    };
    // serde names the unknown key only in the message; make it the path.
    if let Some(name) = message
        .strip_prefix("unknown field `")
        .and_then(|rest| rest.split_once('`'))
        .map(|(name, _)| name)
    {
        key = if key.is_empty() {
            name.to_string()
        } else {
            format!("{key}.{name}")
        };
    }
    (location, key, message)
}

fn is_key_path(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '[' | ']'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(text: &str) -> ConfigError {
        load_str(text, "t.yaml").expect_err("must be rejected")
    }

    #[test]
    fn minimal_config_gets_ipvsadm_defaults() {
        let snap =
            load_str("services:\n  - vip: 198.18.0.100\n    port: 80\n", "t.yaml").expect("valid");
        let svc = &snap.services[0];
        assert_eq!(svc.name, "TCP 198.18.0.100:80");
        assert_eq!(svc.scheduler, crate::types::SchedulerKind::Wlc);
        assert_eq!(svc.method, crate::types::ForwardMethod::Dr);
        assert_eq!(svc.mh_table_size, 4093);
        assert!(svc.persistence.is_none());
        assert_eq!(snap.global.workers, vec![0]);
        assert_eq!(snap.global.conn_capacity, 1 << 20);
        assert_eq!(snap.global.timeouts, crate::model::Timeouts::default());
        assert_eq!(
            snap.global.prefetch_min_live,
            crate::model::DEFAULT_PREFETCH_MIN_LIVE
        );
    }

    #[test]
    fn prefetch_threshold_is_read_and_checked() {
        let snap = load_str("global:\n  prefetch_min_live: 0\n", "t.yaml").expect("valid");
        assert_eq!(snap.global.prefetch_min_live, 0);
        let e = error("global:\n  prefetch_min_live: -1\n");
        assert_eq!(e.key(), "global.prefetch_min_live");
        assert_eq!(e.location(), Some(Location { line: 2, col: 22 }));
    }

    #[test]
    fn empty_and_non_mapping_documents() {
        let e = error("");
        assert_eq!(e.stage(), Some(ErrorStage::Syntax));
        assert!(
            e.to_string().starts_with("t.yaml:1:1: the config is empty"),
            "{e}"
        );
        let e = error("# nothing yet\n");
        assert!(e.to_string().contains("the config is empty"), "{e}");
        let e = error("\n\n- a\n- b\n");
        assert!(
            e.to_string()
                .starts_with("t.yaml:3:1: the top level is a list"),
            "{e}"
        );
        let e = error("hello\n");
        assert!(
            e.to_string()
                .starts_with("t.yaml:1:1: the top level is a single value"),
            "{e}"
        );
    }

    #[test]
    fn syntax_error_position() {
        let e = error("services:\n  - vip: [198.18.0.1\n");
        assert_eq!(e.stage(), Some(ErrorStage::Syntax));
        assert_eq!(e.location(), Some(Location { line: 3, col: 1 }));
        assert!(
            e.to_string().starts_with("t.yaml:3:1: YAML syntax error: "),
            "{e}"
        );
    }

    #[test]
    fn unknown_key_is_named_in_the_path() {
        let e = error("services:\n  - vip: 198.18.0.1\n    port: 80\n    sheduler: rr\n");
        assert_eq!(e.stage(), Some(ErrorStage::Schema));
        assert_eq!(e.key(), "services[0].sheduler");
        assert_eq!(e.location(), Some(Location { line: 4, col: 5 }));
        assert!(
            e.message()
                .starts_with("unknown field `sheduler`, expected one of"),
            "{e}"
        );
        assert!(
            !e.to_string().contains("at line"),
            "position printed twice: {e}"
        );
    }

    #[test]
    fn type_error_keeps_serde_path_and_position() {
        let e = error("global:\n  conn_capacity: lots\n");
        assert_eq!(e.key(), "global.conn_capacity");
        assert_eq!(e.location(), Some(Location { line: 2, col: 18 }));
        assert!(
            e.message().starts_with("invalid type: string \"lots\""),
            "{e}"
        );
    }

    #[test]
    fn missing_required_key() {
        let e = error("services:\n  - port: 80\n");
        assert_eq!(e.key(), "services[0]");
        assert_eq!(e.location(), Some(Location { line: 2, col: 5 }));
        assert_eq!(e.message(), "missing field `vip`");
    }

    #[test]
    fn io_error_names_the_file() {
        let e = load_file(Path::new("/nonexistent/xvs.yaml")).expect_err("no such file");
        assert!(
            e.to_string()
                .starts_with("/nonexistent/xvs.yaml: cannot read the config file: "),
            "{e}"
        );
        assert_eq!(e.location(), None);
    }
}
