//! VRRP test support: a pair of directors on shared segments (the lab's
//! `directors: 2`), each running `xvs run` with a VRRP configuration made
//! here, their instances' states read back from `xvs status --json`, and
//! hand-made adverts sent from the client (scripts/lab-vrrp-advert.py).

use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde_json::Value;
use xvs_lab::{Lab, LabSpec, Method};

use crate::support::{ask, launch, Director, VIP4};

/// The VRRP tests time failovers: one at a time, so two pairs never
/// compete for the machine's two cores.
pub fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|p| p.into_inner())
}

/// A NAT lab with two directors (None, loudly, when not root).
pub fn pair_lab(test: &str) -> Option<(MutexGuard<'static, ()>, Lab)> {
    if !xvs_lab::require_root(test) {
        return None;
    }
    let guard = serial();
    let spec = LabSpec {
        directors: 2,
        ..LabSpec::new(Method::Nat)
    };
    Some((guard, Lab::build(spec).expect("pair lab builds")))
}

/// How one director of the pair is configured.
#[derive(Clone, Debug)]
pub struct Node {
    /// 1 or 2: addresses 198.18.0.(1+i) and 198.18.1.(1+i).
    pub index: usize,
    pub priority: u8,
    pub version: u8,
    /// Seconds.
    pub interval: f64,
    /// More keys for every instance, each line indented four spaces.
    pub instance_keys: String,
    /// More top-level YAML (vrrp_scripts: ...).
    pub extra: String,
    /// Put VI_OUT and VI_IN (and VI_OUT6, VI_IN6) in one sync group.
    pub sync_group: bool,
    /// Also IPv6: VI_OUT6 owning the VIP fd00:0:0:1::100, VI_IN6 the real
    /// servers' gateway fd00:0:0:2::1, and a NAT service on the VIP.
    pub ipv6: bool,
    /// Advertise by unicast to the other director of the pair (IPv4
    /// instances) instead of to the multicast group.
    pub unicast: bool,
    /// More keys for the IPv4 web service (indented four spaces).
    pub service_keys: String,
    /// Give each real server of the web service an HTTP check of /health.
    pub checked: bool,
}

impl Node {
    pub fn new(index: usize, priority: u8) -> Node {
        Node {
            index,
            priority,
            version: 3,
            interval: 0.1,
            instance_keys: String::new(),
            extra: String::new(),
            sync_group: true,
            ipv6: false,
            unicast: false,
            service_keys: String::new(),
            checked: false,
        }
    }
}

/// The director's own addresses in a pair: (client side, server side).
pub fn node_addrs(index: usize) -> (String, String) {
    (
        format!("198.18.0.{}", 1 + index),
        format!("198.18.1.{}", 1 + index),
    )
}

/// The whole `xvs run` configuration of one director of the pair: NAT
/// from the VIP to the three real servers, VI_OUT owning the VIP on the
/// client side and VI_IN the real servers' gateway 198.18.1.1.
pub fn node_yaml(lab: &Lab, n: &Node) -> String {
    let (c, r) = lab.director_ifaces();
    let (ca, ra) = node_addrs(n.index);
    let mut y = format!(
        concat!(
            "global:\n  workers: [0]\n  idle: adaptive\n  conn_capacity: 65536\n",
            "  umem_frames: 4096\n  ring_size: 1024\n",
            "interfaces:\n",
            "  - name: {c}\n    addresses: [{ca}/24, \"fd00:0:0:1::{i}/64\"]\n    queues: [0]\n",
            "  - name: {r}\n    addresses: [{ra}/24, \"fd00:0:0:2::{i}/64\"]\n    queues: [0]\n",
            "services:\n",
            "  - name: web\n    vip: {vip}\n    port: 80\n    protocol: tcp\n    scheduler: rr\n    method: nat\n",
            "{service_keys}",
            "    real_servers:\n",
            "      - {{address: 198.18.1.11, port: 80{check}}}\n",
            "      - {{address: 198.18.1.12, port: 80{check}}}\n",
            "      - {{address: 198.18.1.13, port: 80{check}}}\n",
            "{web6}",
            "vrrp:\n",
        ),
        i = 1 + n.index,
        service_keys = n.service_keys,
        check = if n.checked {
            ", health: {type: http, path: /health}"
        } else {
            ""
        },
        web6 = if n.ipv6 {
            concat!(
                "  - name: web6\n    vip: \"fd00:0:0:1::100\"\n    port: 80\n    protocol: tcp\n",
                "    scheduler: rr\n    method: nat\n    real_servers:\n",
                "      - {address: \"fd00:0:0:2::11\", port: 80}\n",
                "      - {address: \"fd00:0:0:2::12\", port: 80}\n",
                "      - {address: \"fd00:0:0:2::13\", port: 80}\n",
            )
        } else {
            ""
        },
        c = c,
        r = r,
        ca = ca,
        ra = ra,
        vip = VIP4,
    );
    let mut instances = vec![
        ("VI_OUT", &c, 51, "198.18.0.100/24"),
        ("VI_IN", &r, 52, "198.18.1.1/24"),
    ];
    if n.ipv6 {
        instances.push(("VI_OUT6", &c, 51, "\"fd00:0:0:1::100/64\""));
        instances.push(("VI_IN6", &r, 52, "\"fd00:0:0:2::1/64\""));
    }
    let other = if n.index == 1 { 2 } else { 1 };
    for &(name, iface, vrid, addr) in &instances {
        let peers = match (n.unicast, name) {
            (true, "VI_OUT") => format!("    unicast_peers: [{}]\n", node_addrs(other).0),
            (true, "VI_IN") => format!("    unicast_peers: [{}]\n", node_addrs(other).1),
            _ => String::new(),
        };
        // VRRPv2 is IPv4-only: IPv6 instances of a v2 node use v3.
        let version = if addr.contains(':') { 3 } else { n.version };
        y.push_str(&format!(
            concat!(
                "  - name: {name}\n    interface: {iface}\n    vrid: {vrid}\n",
                "    priority: {prio}\n    version: {ver}\n    advert_interval: {int}\n",
                "    virtual_addresses: [{addr}]\n{keys}{peers}",
            ),
            name = name,
            iface = iface,
            vrid = vrid,
            prio = n.priority,
            ver = version,
            int = n.interval,
            addr = addr,
            keys = n.instance_keys,
            peers = peers,
        ));
    }
    if n.sync_group {
        let names: Vec<&str> = instances.iter().map(|i| i.0).collect();
        y.push_str(&format!(
            "vrrp_sync_groups:\n  - name: PAIR\n    members: [{}]\n",
            names.join(", ")
        ));
    }
    y.push_str(&n.extra);
    y
}

/// Start director `n.index` of the pair.
pub fn start_node(lab: &Lab, n: &Node) -> Director {
    let yaml = node_yaml(lab, n);
    launch(
        lab,
        &lab.ns_director_n(n.index),
        &format!("xvs{}", n.index),
        &yaml,
    )
}

/// Start both directors of the pair (`high` must win) and wait until
/// `high` is master and `low` backup of VI_OUT and VI_IN.
pub fn start_pair(lab: &Lab, high: &Node, low: &Node) -> (Director, Director) {
    let d1 = start_node(lab, high);
    let d2 = start_node(lab, low);
    wait_state(&d1, &["VI_OUT", "VI_IN"], "master", 10);
    wait_state(&d2, &["VI_OUT", "VI_IN"], "backup", 10);
    (d1, d2)
}

/// Six HTTP requests from the client to `vip`:80, every one answered.
pub fn assert_serves(lab: &Lab, vip: &str, what: &str) {
    let report = lab
        .run_client(&lab.client_options(xvs_lab::Target::Http(super::support::url(vip, 80)), 6))
        .unwrap();
    assert_eq!(report.failed, 0, "{what}: {report:?}");
}

/// `xvs status --json` of `d`, or None if it does not answer.
pub fn status(d: &Director) -> Option<Value> {
    let text = ask(&d.sock, "status json")?;
    serde_json::from_str(&text).ok()
}

/// Instance `name`'s row of `xvs status --json`.
pub fn instance(d: &Director, name: &str) -> Option<Value> {
    status(d)?
        .get("vrrp")?
        .as_array()?
        .iter()
        .find(|i| i.get("name").and_then(Value::as_str) == Some(name))
        .cloned()
}

/// Instance `name`'s state ("master", "backup", "fault", "init").
pub fn state(d: &Director, name: &str) -> Option<String> {
    instance(d, name)?
        .get("state")?
        .as_str()
        .map(str::to_string)
}

/// A counter of instance `name` (`counters.KEY`).
pub fn counter(d: &Director, name: &str, key: &str) -> u64 {
    instance(d, name)
        .and_then(|i| i.get("counters")?.get(key)?.as_u64())
        .unwrap_or(0)
}

/// Instance `name`'s count of adverts rejected for `reason`.
pub fn rejected(d: &Director, name: &str, reason: &str) -> u64 {
    instance(d, name)
        .and_then(|i| {
            i.get("counters")?
                .get("rejected")?
                .as_array()?
                .iter()
                .find(|r| r.get(0).and_then(Value::as_str) == Some(reason))?
                .get(1)?
                .as_u64()
        })
        .unwrap_or(0)
}

/// Wait until every instance in `names` of `d` is in `want`; the time it took.
pub fn wait_state(d: &Director, names: &[&str], want: &str, secs: u64) -> Duration {
    let t0 = Instant::now();
    loop {
        if names.iter().all(|n| state(d, n).as_deref() == Some(want)) {
            return t0.elapsed();
        }
        assert!(
            t0.elapsed() < Duration::from_secs(secs),
            "{names:?} not {want} after {secs} s: {:?}\n{}",
            names.iter().map(|n| state(d, n)).collect::<Vec<_>>(),
            d.xvs.log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Send hand-made adverts from the client namespace (IPv4; see
/// scripts/lab-vrrp-advert.py for the arguments).
pub fn send_adverts(lab: &Lab, args: &[&str]) {
    let script = xvs_lab::scripts_dir().join("lab-vrrp-advert.py");
    let mut full = vec!["python3", script.to_str().unwrap(), "--iface", "eth0"];
    full.extend_from_slice(args);
    let out = lab
        .exec(&lab.ns_client(), &full)
        .expect("run lab-vrrp-advert.py");
    assert!(
        out.status.success(),
        "lab-vrrp-advert.py {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
