//! `xvs check --fleet a.yaml b.yaml …`: the configurations of several
//! active directors behind ECMP must agree on everything that decides a
//! flow's real server, or a flow ECMP moves from one director to another
//! lands on another real server (DR, TUN) or is not recognised (NAT,
//! FullNAT). This module compares loaded configurations and lists every
//! such difference; what is per director (interfaces, addresses, workers,
//! VRRP, local address pools, sync peers) is not compared, except that
//! directors syncing `all_to_all` must not share a FullNAT local address
//! (two of them would hand out the same local port to two flows, and each
//! installs the other's entries).
//!
//! Layer: the `xvs` binary; [`differences`] is a pure function of the
//! loaded snapshots, [`run`] loads the files and prints.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use xvs_config::{Protocol, RealServer, SchedulerKind, Snapshot, SyncMode, VirtualService};

/// Exit status when the configurations disagree.
const EXIT_DIFFER: u8 = 1;
/// Exit status when a file cannot be loaded (as `xvs check`).
const EXIT_INVALID: u8 = 2;

/// One field on which two configurations disagree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Difference {
    /// Index of the configuration compared against (always the first).
    pub base: usize,
    /// Index of the one that differs.
    pub other: usize,
    /// The service ("TCP 198.18.0.100:80"), its real server, or "global".
    pub scope: String,
    pub field: &'static str,
    /// The value in `base`, then in `other` ("absent" when missing).
    pub values: (String, String),
}

/// A service as the fleet must agree on it: its identity.
type ServiceKey = (Protocol, IpAddr, u16);

fn service_name(k: &ServiceKey) -> String {
    format!("{} {}", k.0, xvs_config::ipvsadm::addr_port(k.1, k.2))
}

/// Every difference between `configs[0]` and each other configuration.
pub fn differences(configs: &[&Snapshot]) -> Vec<Difference> {
    let mut out = Vec::new();
    let Some((first, rest)) = configs.split_first() else {
        return out;
    };
    for (k, other) in rest.iter().enumerate() {
        let mut d = Diff {
            out: &mut out,
            other: k + 1,
        };
        d.global(first, other);
        d.services(first, other);
    }
    shared_local_addresses(configs, &mut out);
    out
}

/// Every FullNAT local address that two `all_to_all` directors both have
/// in a pool (every pair, not only against the first).
fn shared_local_addresses(configs: &[&Snapshot], out: &mut Vec<Difference>) {
    let all_to_all = |s: &Snapshot| {
        s.sync
            .as_ref()
            .is_some_and(|c| c.mode == SyncMode::AllToAll)
    };
    let pools = |s: &Snapshot| -> BTreeMap<IpAddr, String> {
        s.local_pools
            .iter()
            .flat_map(|p| p.addresses.iter().map(|&a| (a, p.name.clone())))
            .collect()
    };
    for (i, a) in configs.iter().enumerate().filter(|(_, s)| all_to_all(s)) {
        let pa = pools(a);
        for (j, b) in configs
            .iter()
            .enumerate()
            .skip(i + 1)
            .filter(|(_, s)| all_to_all(s))
        {
            for (addr, pool_b) in pools(b) {
                if let Some(pool_a) = pa.get(&addr) {
                    out.push(Difference {
                        base: i,
                        other: j,
                        scope: format!("local address {addr}"),
                        field: "in the pools of both (all_to_all needs one pool per director)",
                        values: (pool_a.clone(), pool_b),
                    });
                }
            }
        }
    }
}

struct Diff<'a> {
    out: &'a mut Vec<Difference>,
    other: usize,
}

impl Diff<'_> {
    fn field<T: PartialEq + Debug>(&mut self, scope: &str, field: &'static str, a: T, b: T) {
        if a != b {
            self.out.push(Difference {
                base: 0,
                other: self.other,
                scope: scope.to_string(),
                field,
                values: (format!("{a:?}"), format!("{b:?}")),
            });
        }
    }

    fn presence(&mut self, scope: String, field: &'static str, in_base: bool) {
        let (a, b) = if in_base {
            ("present", "absent")
        } else {
            ("absent", "present")
        };
        self.out.push(Difference {
            base: 0,
            other: self.other,
            scope,
            field,
            values: (a.to_string(), b.to_string()),
        });
    }

    /// Settings that change which packets create entries and how long
    /// templates hold a client, and sync's identity.
    fn global(&mut self, a: &Snapshot, b: &Snapshot) {
        let (ta, tb) = (&a.global.tunables, &b.global.tunables);
        // sloppy_tcp decides whether a director that receives a moved
        // flow mid-stream creates an entry for it (DR/TUN after a move).
        self.field("global", "sloppy_tcp", ta.sloppy_tcp, tb.sloppy_tcp);
        self.field(
            "global",
            "conn_reuse_mode",
            ta.conn_reuse_mode,
            tb.conn_reuse_mode,
        );
        self.field(
            "global",
            "expire_nodest_conn",
            ta.expire_nodest_conn,
            tb.expire_nodest_conn,
        );
        self.field(
            "global",
            "expire_quiescent_template",
            ta.expire_quiescent_template,
            tb.expire_quiescent_template,
        );
        match (&a.sync, &b.sync) {
            (Some(sa), Some(sb)) => {
                self.field("sync", "port", sa.port, sb.port);
                self.field("sync", "sync_id", sa.sync_id, sb.sync_id);
            }
            (None, None) => {}
            (sa, _) => self.presence("sync".into(), "section", sa.is_some()),
        }
    }

    fn services(&mut self, a: &Snapshot, b: &Snapshot) {
        let index = |s: &Snapshot| -> BTreeMap<ServiceKey, usize> {
            s.services
                .iter()
                .enumerate()
                .map(|(i, v)| ((v.protocol, v.vip, v.port), i))
                .collect()
        };
        let (ia, ib) = (index(a), index(b));
        for (k, &i) in &ia {
            match ib.get(k) {
                Some(&j) => self.service(&service_name(k), &a.services[i], &b.services[j]),
                None => self.presence(service_name(k), "service", true),
            }
        }
        for k in ib.keys().filter(|k| !ia.contains_key(k)) {
            self.presence(service_name(k), "service", false);
        }
    }

    fn service(&mut self, scope: &str, a: &VirtualService, b: &VirtualService) {
        self.field(scope, "scheduler", a.scheduler, b.scheduler);
        let hashed = |k: SchedulerKind| matches!(k, SchedulerKind::Sh | SchedulerKind::Mh);
        if hashed(a.scheduler) && hashed(b.scheduler) {
            self.field(
                scope,
                "flags.fallback",
                a.sched_flags.fallback,
                b.sched_flags.fallback,
            );
            self.field(scope, "flags.port", a.sched_flags.port, b.sched_flags.port);
        }
        if a.scheduler == SchedulerKind::Mh && b.scheduler == SchedulerKind::Mh {
            self.field(scope, "mh_table_size", a.mh_table_size, b.mh_table_size);
        }
        self.field(scope, "method", a.method, b.method);
        self.field(
            scope,
            "persistence.timeout",
            a.persistence.map(|p| p.timeout),
            b.persistence.map(|p| p.timeout),
        );
        self.field(
            scope,
            "persistence.netmask",
            a.persistence.map(|p| p.prefix),
            b.persistence.map(|p| p.prefix),
        );
        self.field(scope, "ops", a.ops, b.ops);
        self.field(scope, "synproxy", a.synproxy, b.synproxy);
        self.field(scope, "quorum", a.health.quorum, b.health.quorum);
        self.field(
            scope,
            "sorry_server",
            a.health
                .sorry_server
                .as_ref()
                .map(|s| (s.address, s.port, s.weight, s.method)),
            b.health
                .sorry_server
                .as_ref()
                .map(|s| (s.address, s.port, s.weight, s.method)),
        );
        let index = |v: &VirtualService| -> BTreeMap<(IpAddr, u16), usize> {
            v.real_servers
                .iter()
                .enumerate()
                .map(|(i, r)| ((r.address, r.port), i))
                .collect()
        };
        let (ia, ib) = (index(a), index(b));
        let rs_scope = |k: &(IpAddr, u16)| {
            format!(
                "{scope} real server {}",
                xvs_config::ipvsadm::addr_port(k.0, k.1)
            )
        };
        for (k, &i) in &ia {
            match ib.get(k) {
                Some(&j) => {
                    let (ra, rb) = (&a.real_servers[i], &b.real_servers[j]);
                    // A method inherited from differing service methods is
                    // already reported once, for the service.
                    let inherited = ra.method == a.method && rb.method == b.method;
                    if ra.method != rb.method && !inherited {
                        self.field(&rs_scope(k), "method", ra.method, rb.method);
                    }
                    self.real_server(&rs_scope(k), ra, rb);
                }
                None => self.presence(rs_scope(k), "real server", true),
            }
        }
        for k in ib.keys().filter(|k| !ia.contains_key(k)) {
            self.presence(rs_scope(k), "real server", false);
        }
    }

    fn real_server(&mut self, scope: &str, a: &RealServer, b: &RealServer) {
        self.field(scope, "weight", a.weight, b.weight);
        self.field(
            scope,
            "upper_threshold",
            a.upper_threshold,
            b.upper_threshold,
        );
        self.field(
            scope,
            "lower_threshold",
            a.lower_threshold,
            b.lower_threshold,
        );
        self.field(scope, "slowstart", a.health.slowstart, b.health.slowstart);
        self.field(
            scope,
            "inhibit_on_failure",
            a.health.inhibit_on_failure,
            b.health.inhibit_on_failure,
        );
    }
}

/// Load every file (stopping at the first that does not load, with its
/// file:line:col error), then print one line per difference, or that they
/// agree.
pub fn run(paths: &[PathBuf]) -> ExitCode {
    let mut snaps = Vec::with_capacity(paths.len());
    for p in paths {
        match xvs_config::load_file(p) {
            Ok(s) => snaps.push(s),
            Err(err) => {
                eprintln!("{err}");
                return ExitCode::from(EXIT_INVALID);
            }
        }
    }
    let refs: Vec<&Snapshot> = snaps.iter().collect();
    let diffs = differences(&refs);
    if diffs.is_empty() {
        println!("{} configs agree", paths.len());
        return ExitCode::SUCCESS;
    }
    for d in &diffs {
        println!("{}", render(paths, d));
    }
    eprintln!(
        "{} difference{} that would make directors disagree",
        diffs.len(),
        if diffs.len() == 1 { "" } else { "s" }
    );
    ExitCode::from(EXIT_DIFFER)
}

/// `a.yaml vs b.yaml: TCP 198.18.0.100:80: scheduler: Mh vs Sh`.
fn render(paths: &[PathBuf], d: &Difference) -> String {
    let name = |i: usize| paths.get(i).map_or_else(String::new, |p| show(p));
    format!(
        "{} vs {}: {}: {}: {} vs {}",
        name(d.base),
        name(d.other),
        d.scope,
        d.field,
        d.values.0,
        d.values.1
    )
}

fn show(p: &Path) -> String {
    p.display().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One director's config; `own` makes its per-director parts differ.
    fn config(own: u8, services: &str) -> Snapshot {
        let yaml = format!(
            "
global:
  workers: [{w}]
interfaces:
  - name: eth{own}
    addresses: [198.18.0.{own}/24]
services:
{services}",
            w = own % 2
        );
        xvs_config::load_str(&yaml, "t.yaml").expect("config")
    }

    const BASE: &str = "
  - vip: 198.18.0.100
    port: 80
    protocol: tcp
    method: dr
    scheduler: mh
    real_servers: [{address: 198.18.0.11, weight: 2}, {address: 198.18.0.12}]
";

    fn diff(a: &str, b: &str) -> Vec<(String, &'static str)> {
        let (a, b) = (config(2, a), config(3, b));
        differences(&[&a, &b])
            .into_iter()
            .map(|d| (d.scope, d.field))
            .collect()
    }

    /// A director syncing `all_to_all` with a FullNAT pool of `lips`.
    fn fullnat_director(own: u8, lips: &str, mode: &str) -> Snapshot {
        let yaml = format!(
            "
interfaces:
  - name: eth{own}
    addresses: [198.18.0.{own}/24]
local_pools:
  - name: lip
    addresses: [{lips}]
sync:
  interface: eth{own}
  peers: [198.18.0.{peer}]
  mode: {mode}
services:
  - vip: 198.18.0.100
    port: 80
    method: fullnat
    local_pool: lip
    real_servers: [{{address: 198.18.0.11}}]
",
            peer = own + 10
        );
        xvs_config::load_str(&yaml, "t.yaml").expect("config")
    }

    #[test]
    fn all_to_all_directors_sharing_a_local_address_are_reported() {
        let a = fullnat_director(2, "198.18.1.201", "all_to_all");
        let b = fullnat_director(3, "198.18.1.202", "all_to_all");
        let c = fullnat_director(4, "198.18.1.203, 198.18.1.202", "all_to_all");
        assert_eq!(differences(&[&a, &b]), []);
        let d = differences(&[&a, &b, &c]);
        assert_eq!(d.len(), 1, "{d:?}");
        assert_eq!(
            (d[0].base, d[0].other),
            (1, 2),
            "every pair, not only against the first"
        );
        assert_eq!(d[0].scope, "local address 198.18.1.202");
        // A master/backup pair shares its pool by design.
        let (m, bk) = (
            fullnat_director(2, "198.18.1.201", "master_backup"),
            fullnat_director(3, "198.18.1.201", "master_backup"),
        );
        assert_eq!(differences(&[&m, &bk]), []);
    }

    #[test]
    fn per_director_settings_and_list_order_are_not_differences() {
        let swapped = BASE.replace(
            "[{address: 198.18.0.11, weight: 2}, {address: 198.18.0.12}]",
            "[{address: 198.18.0.12}, {address: 198.18.0.11, weight: 2}]",
        );
        assert_eq!(diff(BASE, &swapped), []);
    }

    #[test]
    fn scheduler_flags_and_table_size_are_compared() {
        let svc = "TCP 198.18.0.100:80".to_string();
        assert_eq!(
            diff(BASE, &BASE.replace("scheduler: mh", "scheduler: sh")),
            [(svc.clone(), "scheduler")]
        );
        let sized = BASE.replace("scheduler: mh", "scheduler: mh\n    mh_table_size: 251");
        assert_eq!(diff(BASE, &sized), [(svc.clone(), "mh_table_size")]);
        let flagged = BASE.replace(
            "scheduler: mh",
            "scheduler: mh\n    flags: [mh-port, mh-fallback]",
        );
        assert_eq!(
            diff(BASE, &flagged),
            [(svc.clone(), "flags.fallback"), (svc.clone(), "flags.port")]
        );
        let nat = BASE.replace("method: dr", "method: nat");
        assert_eq!(diff(BASE, &nat), [(svc.clone(), "method")]);
        let sticky = BASE.replace("scheduler: mh", "scheduler: mh\n    persistence: 300");
        assert_eq!(
            diff(BASE, &sticky),
            [
                (svc.clone(), "persistence.timeout"),
                (svc, "persistence.netmask")
            ]
        );
    }

    #[test]
    fn real_servers_and_weights_are_compared() {
        let rs = |a: &str| format!("TCP 198.18.0.100:80 real server {a}:80");
        assert_eq!(
            diff(BASE, &BASE.replace("weight: 2", "weight: 3")),
            [(rs("198.18.0.11"), "weight")]
        );
        assert_eq!(
            diff(
                BASE,
                &BASE.replace("weight: 2", "weight: 2, upper_threshold: 10")
            ),
            [(rs("198.18.0.11"), "upper_threshold")]
        );
        assert_eq!(
            diff(
                BASE,
                &BASE.replace("{address: 198.18.0.12}", "{address: 198.18.0.13}")
            ),
            [
                (rs("198.18.0.12"), "real server"),
                (rs("198.18.0.13"), "real server")
            ]
        );
    }

    #[test]
    fn a_real_servers_own_method_is_compared_once() {
        let rs = "TCP 198.18.0.100:80 real server 198.18.0.12:80".to_string();
        let tun = BASE.replace(
            "{address: 198.18.0.12}",
            "{address: 198.18.0.12, method: tun}",
        );
        assert_eq!(diff(BASE, &tun), [(rs, "method")]);
        // The service's method changed: one line, not one per real server.
        let nat = BASE.replace("method: dr", "method: nat");
        assert_eq!(diff(BASE, &nat), [("TCP 198.18.0.100:80".into(), "method")]);
    }

    #[test]
    fn missing_services_and_global_tunables_are_compared() {
        let other = BASE.replace("vip: 198.18.0.100", "vip: 198.18.0.101");
        let d = {
            let (a, b) = (config(2, BASE), config(3, &other));
            differences(&[&a, &b])
        };
        assert_eq!(d.len(), 2);
        assert_eq!(d[0].scope, "TCP 198.18.0.100:80");
        assert_eq!(d[0].values, ("present".into(), "absent".into()));
        assert_eq!(d[1].scope, "TCP 198.18.0.101:80");
        assert_eq!(d[1].values, ("absent".into(), "present".into()));

        let mut a = config(2, BASE);
        let b = config(3, BASE);
        a.global.tunables.sloppy_tcp = true;
        let d = differences(&[&b, &b, &a]);
        assert_eq!(d.len(), 1);
        assert_eq!((d[0].other, d[0].field), (2, "sloppy_tcp"));
    }
}
