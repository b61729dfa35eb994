//! The output file: a header saying what was read and what was not
//! carried (file:line and why, as YAML comments), then `global:`,
//! `interfaces:` (the director's own, each saying where it came from),
//! and the converted sections.

use std::net::{Ipv4Addr, Ipv6Addr};

use super::yaml::{render_document, MapBuilder, Y};
use super::Import;
use crate::model::IpNet;

/// What keepalived.conf does not say but xvs needs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Director {
    /// `global.workers`: cores (None: xvs's default, core 0).
    pub workers: Option<Vec<u64>>,
    /// `global.idle`: `busy` or `adaptive` (None: xvs's default, busy).
    pub idle: Option<String>,
    pub interfaces: Vec<DirectorInterface>,
}

/// One interface of the director.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirectorInterface {
    pub name: String,
    pub addresses: Vec<IpNet>,
    pub gateway_v4: Option<Ipv4Addr>,
    pub gateway_v6: Option<Ipv6Addr>,
    /// Written when not 1500.
    pub mtu: Option<u16>,
    /// Where it came from, written above it (`from --interface`, `read
    /// from the system`).
    pub origin: String,
}

pub(crate) fn render(import: &Import, director: &Director) -> String {
    let mut out = header(import);
    let mut sections: Vec<(String, Y)> = Vec::new();

    let mut global = MapBuilder::default();
    if let Some(workers) = &director.workers {
        global.put("workers", Y::list(workers.iter().map(Y::num)));
    }
    if let Some(idle) = &director.idle {
        global.put("idle", Y::str(idle.clone()));
    }
    if let Some(t) = &import.body.timeouts {
        global.put("timeouts", t.clone());
    }
    if !global.0.is_empty() {
        sections.push(("global".into(), global.build()));
    }

    let interfaces: Vec<(Option<String>, Y)> = director
        .interfaces
        .iter()
        .map(|i| (Some(i.origin.clone()), interface(i)))
        .collect();
    if !interfaces.is_empty() {
        sections.push(("interfaces".into(), Y::List(interfaces)));
    }
    let body = &import.body;
    for (key, items) in [
        ("services", &body.services),
        ("vrrp_scripts", &body.vrrp_scripts),
        ("vrrp", &body.vrrp),
        ("vrrp_sync_groups", &body.vrrp_sync_groups),
    ] {
        if !items.is_empty() {
            sections.push((key.into(), Y::List(items.clone())));
        }
    }
    out.push('\n');
    out.push_str(&render_document(&sections));
    if let Some((comment, sync)) = &body.sync {
        out.push('\n');
        for line in comment.lines() {
            out.push_str(&format!("# {line}\n"));
        }
        out.push_str(&render_document(&[("sync".into(), sync.clone())]));
    }
    out
}

fn interface(i: &DirectorInterface) -> Y {
    let mut map = MapBuilder::default();
    map.put("name", Y::str(i.name.clone()));
    map.put(
        "addresses",
        Y::list(
            i.addresses
                .iter()
                .map(|a| Y::Str(format!("{}/{}", a.addr, a.prefix))),
        ),
    );
    if let Some(gw) = i.gateway_v4 {
        map.put("gateway_v4", Y::str(gw.to_string()));
    }
    if let Some(gw) = i.gateway_v6 {
        map.put("gateway_v6", Y::str(gw.to_string()));
    }
    if let Some(mtu) = i.mtu.filter(|m| *m != 1500) {
        map.put("mtu", Y::num(mtu));
    }
    map.build()
}

fn header(import: &Import) -> String {
    let mut h = String::new();
    h.push_str("# xvs configuration converted from keepalived.conf by `xvs import`.\n");
    h.push_str(&format!("# Read: {}\n", import.files.join(", ")));
    for remark in &import.remarks {
        h.push_str(&format!("# {remark}\n"));
    }
    h.push_str("#\n");
    if import.notes.is_empty() {
        h.push_str("# Every option was carried.\n");
    } else {
        h.push_str(&format!(
            "# Not carried ({}), each with where it is and why:\n",
            import.notes.len()
        ));
        for note in &import.notes {
            h.push_str(&format!("#   {note}\n"));
        }
    }
    h.push_str("#\n# Check it with: xvs check -c FILE\n");
    h
}
