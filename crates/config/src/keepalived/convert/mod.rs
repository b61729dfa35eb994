//! keepalived's keywords to xvs's keys, section by section: `global`
//! (global_defs), `vrrp` (vrrp_script, vrrp_sync_group), `instance`
//! (vrrp_instance), `vsg` (virtual_server_group), `lvs` (virtual_server),
//! `servers` (real_server, sorry_server), `checkers`. Each keyword is
//! either carried or reported as a [`Note`] with the reason; top-level
//! blocks xvs has no use for are reported here.

mod checkers;
mod global;
mod instance;
mod lvs;
mod servers;
mod vrrp;
mod vsg;

use std::net::IpAddr;

use super::lexer::Lexed;
use super::tree::{self, Node};
use super::yaml::Y;
use super::{Import, KeepalivedError, NeededAddress, NeededInterface, Needs, Note};

/// A list section: items with the comment written above each.
pub(crate) type Items = Vec<(Option<String>, Y)>;

/// The converted sections, in the order they are written.
#[derive(Clone, Debug, Default)]
pub(crate) struct Body {
    /// `global.timeouts` (lvs_timeouts).
    pub timeouts: Option<Y>,
    pub services: Items,
    pub vrrp_scripts: Items,
    pub vrrp: Items,
    pub vrrp_sync_groups: Items,
    /// `sync:` and its comment.
    pub sync: Option<(String, Y)>,
}

/// The conversion's running state: what it reports and what it needs.
#[derive(Debug, Default)]
pub(crate) struct Conv {
    pub notes: Vec<Note>,
    pub remarks: Vec<String>,
    pub needs: Needs,
    /// global_defs `script_user`: the user of scripts that name none.
    pub script_user: Option<String>,
}

impl Conv {
    /// `node` is not carried, for `reason`.
    pub fn skip(&mut self, node: &Node, reason: impl Into<String>) {
        self.notes.push(Note::new(&node.at, &node.text(), reason));
    }

    /// `node`'s value is unusable; keepalived ignores such a line with a
    /// config error, and so does the import.
    pub fn invalid(&mut self, node: &Node, problem: String) {
        self.skip(node, format!("{problem}; keepalived ignores the line too"));
    }

    pub fn need_interface(&mut self, name: &str, why: &str) {
        if !self.needs.interfaces.iter().any(|i| i.name == name) {
            self.needs.interfaces.push(NeededInterface {
                name: name.to_string(),
                why: why.to_string(),
            });
        }
    }

    pub fn need_address(&mut self, addr: IpAddr, why: &str) {
        if !self.needs.addresses.iter().any(|a| a.addr == addr) {
            self.needs.addresses.push(NeededAddress {
                addr,
                why: why.to_string(),
            });
        }
    }
}

pub(crate) fn convert(lexed: Lexed) -> Result<Import, KeepalivedError> {
    let files = lexed.files;
    let nodes = tree::build(lexed.pieces)?;
    let mut conv = Conv {
        notes: lexed.notes,
        ..Conv::default()
    };
    let mut defaults = global::Defaults::default();
    for node in nodes.iter().filter(|n| n.keyword() == "global_defs") {
        global::global_defs(&mut conv, node, &mut defaults);
    }
    let track_files = checkers::track_files(&mut conv, &nodes);
    let vrrp = vrrp::convert(&mut conv, &nodes, &defaults);
    let groups = vsg::groups(&mut conv, &nodes)?;
    let services = lvs::services(&mut conv, &nodes, &groups, &track_files)?;
    let sync = match &defaults.sync_daemon {
        Some(node) => global::sync_daemon(&mut conv, node, &vrrp.info),
        None => None,
    };
    for node in &nodes {
        if let Some(reason) = top_level_reason(node.keyword()) {
            conv.skip(node, reason);
        }
    }
    // In file order (the order the files were read), each note once
    // (a group's real servers are placed in several services).
    let mut notes = conv.notes;
    notes.sort_by_key(|n| {
        (
            files
                .iter()
                .position(|f| *f == n.file)
                .unwrap_or(usize::MAX),
            n.line,
        )
    });
    notes.dedup();
    Ok(Import {
        files,
        notes,
        remarks: conv.remarks,
        needs: conv.needs,
        body: Body {
            timeouts: defaults.timeouts,
            services,
            vrrp_scripts: vrrp.scripts,
            vrrp: vrrp.instances,
            vrrp_sync_groups: vrrp.groups,
            sync,
        },
    })
}

/// Why a top-level block is not carried; None for the ones converted.
fn top_level_reason(keyword: &str) -> Option<String> {
    let reason = match keyword {
        "global_defs" | "vrrp_script" | "vrrp_instance" | "vrrp_sync_group" | "virtual_server"
        | "virtual_server_group" | "track_file" | "vrrp_track_file" => return None,
        "static_ipaddress" | "static_routes" | "static_rules" => {
            "xvs does not manage the kernel's addresses, routes or rules; keep them in the system's network configuration"
        }
        "linkbeat_interfaces" => "xvs follows link state from the kernel; no polling to configure",
        "track_group" => "xvs has no static track groups",
        "garp_group" => "xvs paces gratuitous ARP/NA per instance (garp_master_*); no groups",
        "vrrp_track_process" => {
            "xvs has no process tracking; a vrrp_script can check the process (e.g. with pidof)"
        }
        "bfd_instance" => "xvs has no BFD",
        "SSL" => {
            "xvs's SSL_GET sends no client certificate; give a checker `ca:` to verify the server"
        }
        "net_namespace" | "net_namespace_ipvs" | "namespace_with_ipsets" => {
            "run xvs in the namespace instead (ip netns exec)"
        }
        "instance" | "use_pid_dir" | "child_wait_time" | "linkbeat_use_polling" => {
            "keepalived process management; not needed by xvs"
        }
        "interface_up_down_delays" => "xvs has no interface transition delays",
        _ => "unknown keyword (keepalived would report it too)",
    };
    Some(reason.to_string())
}
