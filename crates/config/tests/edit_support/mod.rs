//! Helpers shared by the runtime-change tests (tests/edit.rs,
//! tests/edit_servers.rs): references, starting documents, and assertions
//! that a change is applied (and saved YAML loads to its snapshot) or
//! refused (and nothing moved).

#![allow(dead_code)] // not every test binary uses every helper

use xvs_config::edit::{Change, RunningConfig, ServerRef, ServiceRef};
use xvs_config::{load_str, Snapshot};

pub const LAB: &str = include_str!("../../../../config/lab.yaml");
pub const NAT: &str = include_str!("../../../../config/nat.yaml");
pub const DR: &str = include_str!("../../../../config/dr.yaml");
pub const WEB: &str = "tcp:198.18.0.100:80";

pub fn service(text: &str) -> ServiceRef {
    ServiceRef::parse(text).expect("a service")
}

pub fn server(text: &str) -> ServerRef {
    ServerRef::parse(text).expect("a server")
}

pub fn start(text: &str) -> RunningConfig {
    RunningConfig::from_text(text, "config/x.yaml")
        .unwrap_or_else(|e| panic!("{e}"))
        .0
}

#[track_caller]
pub fn applied(running: &mut RunningConfig, change: Change) -> Snapshot {
    let snap = running
        .apply(&change)
        .unwrap_or_else(|e| panic!("{change}: {e}"));
    let saved = load_str(&running.to_yaml(), "saved.yaml").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        saved, snap,
        "to_yaml does not load to the snapshot of {change}"
    );
    snap
}

/// Apply a change that must be refused; check nothing moved and return
/// the error as the operator reads it.
#[track_caller]
pub fn refused(running: &mut RunningConfig, change: Change) -> String {
    let (before, count) = (running.to_yaml(), running.changes());
    let e = running.apply(&change).expect_err("must be refused");
    assert_eq!(
        running.to_yaml(),
        before,
        "a refused change edited the document"
    );
    assert_eq!(running.changes(), count);
    assert_eq!(e.location(), None, "{e}");
    let text = e.to_string();
    assert!(text.starts_with("runtime change: "), "{text}");
    // Only the operator's own YAML has positions worth printing.
    if !text.contains("the change's YAML does not parse") {
        assert!(!text.contains(" line ") && !text.contains(":1:1"), "{text}");
    }
    text
}

pub fn add_service(yaml: &str) -> Change {
    Change::AddService { yaml: yaml.into() }
}

pub fn edit_service(svc: &str, yaml: &str) -> Change {
    Change::EditService {
        service: service(svc),
        yaml: yaml.into(),
    }
}

pub fn add_server(svc: &str, yaml: &str) -> Change {
    Change::AddRealServer {
        service: service(svc),
        yaml: yaml.into(),
    }
}

pub fn edit_server(svc: &str, rs: &str, yaml: &str) -> Change {
    Change::EditRealServer {
        service: service(svc),
        server: server(rs),
        yaml: yaml.into(),
    }
}

pub fn weights(snap: &Snapshot, i: usize) -> Vec<u32> {
    snap.services[i]
        .real_servers
        .iter()
        .map(|r| r.weight)
        .collect()
}
