//! BGP/ECMP test support: the lab's ECMP topology (`directors: 3`, see
//! xvs_lab::ecmp) with a real BIRD 2 in the router and in each director,
//! and `xvs run` with an `announce:` section in each director. The
//! directors' BIRD runs config/bird-director.conf as shipped, with only
//! the addresses of the director it runs on and its log put in place; the
//! router's BIRD learns the VIPs from all three and installs them as one
//! multipath route (`merge paths on`).
//!
//! Every BIRD runs with its own configuration, control socket and pid
//! file in the lab's directory, never the system's.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use xvs_lab::ecmp::{ROUTER_DIRECTORS4, ROUTER_DIRECTORS6, ROUTER_DIRECTORS_IF};
use xvs_lab::{Lab, LabProcess, LabSpec, Method};

use crate::support::{launch, Director};

/// The VIP behind the router: off every lab segment, so only the routes
/// the router learns over BGP reach it.
pub const BGP_VIP: &str = "198.18.3.100";
/// The IPv6 VIP, likewise off every lab segment (fd00:0:0:1..3::/64).
pub const BGP_VIP6: &str = "fd00:0:0:5::100";
/// The BIRD binary (Debian bird2).
pub const BIRD: &str = "/usr/sbin/bird";
pub const BIRDC: &str = "/usr/sbin/birdc";
/// The template the directors run.
pub fn director_template() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/bird-director.conf")
}

/// One ECMP lab at a time: each runs four BIRDs and three directors on
/// the machine's two cores.
pub fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|p| p.into_inner())
}

/// A BIRD daemon in a lab namespace.
#[derive(Debug)]
pub struct Bird {
    pub process: LabProcess,
    pub socket: PathBuf,
    pub ns: String,
}

impl Bird {
    /// `birdc -s SOCKET CMD...` in the daemon's namespace.
    pub fn ctl(&self, lab: &Lab, cmd: &[&str]) -> String {
        let mut args = vec![BIRDC, "-s", self.socket.to_str().expect("UTF-8 path")];
        args.extend_from_slice(cmd);
        match lab.exec(&self.ns, &args) {
            Ok(out) => String::from_utf8_lossy(&out.stdout).into_owned(),
            Err(e) => format!("birdc failed: {e}"),
        }
    }
}

/// The lab, the router's BIRD and the three directors (xvs + BIRD).
#[derive(Debug)]
pub struct Ecmp {
    pub lab: Lab,
    pub router: Bird,
    pub directors: Vec<Node>,
}

/// One director: its xvs and its BIRD.
#[derive(Debug)]
pub struct Node {
    pub xvs: Director,
    pub bird: Bird,
    /// Its address on the router's segment (the router's next hop).
    pub addr: String,
    /// Its IPv6 address there (the next hop of the IPv6 VIP).
    pub addr6: String,
}

/// Start BIRD with `conf` in `ns`, files named after `tag`.
pub fn start_bird(lab: &Lab, ns: &str, tag: &str, conf: &str) -> Bird {
    let dir = xvs_lab::lab_dir(lab.prefix());
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{tag}.conf"));
    std::fs::write(&path, conf).unwrap();
    let socket = dir.join(format!("{tag}.ctl"));
    let pid = dir.join(format!("{tag}.pid"));
    let s = |p: &Path| p.to_str().expect("UTF-8 path").to_owned();
    let process = lab
        .spawn(
            ns,
            &[
                BIRD,
                "-f",
                "-c",
                &s(&path),
                "-s",
                &s(&socket),
                "-P",
                &s(&pid),
            ],
        )
        .expect("spawn bird");
    let bird = Bird {
        process,
        socket,
        ns: ns.to_owned(),
    };
    let t0 = Instant::now();
    while !bird.ctl(lab, &["show", "status"]).contains("Daemon is up") {
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "bird in {ns} did not come up:\n{}",
            bird.process.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    bird
}

/// The router's BIRD: BGP with BFD to each director (one session per
/// family, `directors` holding each director's IPv4 and IPv6 address),
/// every learnt VIP into the kernel's main tables with ECMP.
pub fn router_conf(directors: &[(String, String)]) -> String {
    let mut c = format!(
        concat!(
            "log stderr all;\n",
            "router id {rt};\n",
            "protocol device {{ scan time 10; }}\n",
            "protocol kernel {{\n  merge paths on;\n  ipv4 {{ import none; export all; }};\n}}\n",
            "protocol kernel {{\n  merge paths on;\n  ipv6 {{ import none; export all; }};\n}}\n",
            "protocol bfd {{\n  interface \"{rif}\" {{ min rx interval 100 ms; min tx interval 100 ms; multiplier 3; }};\n}}\n",
            "template bgp director {{\n  local {rt} as 65000;\n  bfd on;\n  hold time 9;\n",
            "  keepalive time 3;\n  connect delay time 1;\n  connect retry time 2;\n  error wait time 1, 10;\n",
            "  ipv4 {{ import all; export none; }};\n}}\n",
            "template bgp director6 {{\n  local {rt6} as 65000;\n  bfd on;\n  hold time 9;\n",
            "  keepalive time 3;\n  connect delay time 1;\n  connect retry time 2;\n  error wait time 1, 10;\n",
            "  ipv6 {{ import all; export none; }};\n}}\n",
        ),
        rt = ROUTER_DIRECTORS4,
        rt6 = ROUTER_DIRECTORS6,
        rif = ROUTER_DIRECTORS_IF,
    );
    for (i, (d, d6)) in directors.iter().enumerate() {
        c.push_str(&format!(
            "protocol bgp dir{n} from director {{ neighbor {d} as 65001; }}\n\
             protocol bgp dir{n}_6 from director6 {{ neighbor {d6} as 65001; }}\n",
            n = i + 1
        ));
    }
    c
}

/// config/bird-director.conf for the director at `addr` and `addr6`: its
/// addresses in place of the template's examples, the log on stderr.
pub fn director_conf(addr: &str, addr6: &str) -> String {
    let template = std::fs::read_to_string(director_template()).expect("read the template");
    assert!(template.contains("198.18.0.2") && template.contains("neighbor 198.18.0.1 as"));
    assert!(template.contains("local fd00:0:0:1::2 as"));
    assert!(template.contains(&format!("neighbor {ROUTER_DIRECTORS6} as")));
    template
        .replace("log syslog all;", "log stderr all;")
        .replace("198.18.0.2", addr)
        .replace("fd00:0:0:1::2", addr6)
}

/// `xvs run` for director `i` (1-based): DR with Maglev hashing (the same
/// on every director, so a flow ECMP moves keeps its real server) and
/// sloppy TCP (a director creates the entry of a flow it sees mid-way),
/// the web service (80) with HTTP checks and the hold service (9000),
/// announced through the template's defaults; and web6, the IPv6 VIP's
/// port 80 (DR, mh, no checks), announced the same way.
pub fn director_yaml(lab: &Lab, i: usize) -> String {
    let (c, r) = lab.director_ifaces();
    let a = lab.director_addrs(i).expect("director exists");
    let servers = |port: u16, check: &str| -> String {
        (1..=lab.spec().real_servers)
            .map(|k| {
                format!(
                    "      - {{address: {}, port: {port}{check}}}\n",
                    lab.rs_addr4(k)
                )
            })
            .collect()
    };
    format!(
        concat!(
            "global:\n  workers: [0]\n  idle: adaptive\n  conn_capacity: 65536\n",
            "  umem_frames: 4096\n  ring_size: 1024\n",
            "  tunables: {{sloppy_tcp: true}}\n",
            "interfaces:\n",
            "  - name: {c}\n    addresses: [{ca}/24, {ca6}/64]\n    queues: [0]\n",
            "  - name: {r}\n    addresses: [{ra}/24, {ra6}/64]\n    queues: [0]\n",
            "services:\n",
            "  - name: web\n    vip: {vip}\n    port: 80\n    protocol: tcp\n",
            "    scheduler: mh\n    flags: [mh-port]\n    method: dr\n",
            "    delay_loop: 1\n    connect_timeout: 1\n    retry: 1\n    delay_before_retry: 1\n",
            "    real_servers:\n{web}",
            "  - name: hold\n    vip: {vip}\n    port: 9000\n    protocol: tcp\n",
            "    scheduler: mh\n    flags: [mh-port]\n    method: dr\n",
            "    real_servers:\n{hold}",
            "  - name: web6\n    vip: {vip6}\n    port: 80\n    protocol: tcp\n",
            "    scheduler: mh\n    flags: [mh-port]\n    method: dr\n",
            "    real_servers:\n{web6}",
            "announce:\n  drain_time: 2\n",
        ),
        c = c,
        r = r,
        ca = a.client4,
        ra = a.server4,
        ca6 = a.client6,
        ra6 = a.server6,
        vip = BGP_VIP,
        vip6 = BGP_VIP6,
        web6 = (1..=lab.spec().real_servers)
            .map(|k| format!("      - {{address: \"{}\", port: 80}}\n", lab.rs_addr6(k)))
            .collect::<String>(),
        web = servers(80, ", health: {type: http, path: /health}"),
        hold = servers(9000, ""),
    )
}

/// Start director `i`: its BIRD, then `xvs run`.
pub fn start_director(lab: &Lab, i: usize) -> Node {
    let ns = lab.ns_director_n(i);
    let a = lab.director_addrs(i).expect("director");
    let (addr, addr6) = (a.client4.to_string(), a.client6.to_string());
    let bird = start_bird(
        lab,
        &ns,
        &format!("bird-dir{i}"),
        &director_conf(&addr, &addr6),
    );
    let xvs = launch(lab, &ns, &format!("xvs-dir{i}"), &director_yaml(lab, i));
    Node {
        xvs,
        bird,
        addr,
        addr6,
    }
}

/// The ECMP lab with everything running and the VIP's route at the
/// router through all three directors (None, loudly, when the lab or
/// BIRD cannot run here).
pub fn ecmp_lab(test: &str) -> Option<(MutexGuard<'static, ()>, Ecmp)> {
    if !xvs_lab::require_root(test) {
        return None;
    }
    if !Path::new(BIRD).is_file() {
        assert!(
            std::env::var(xvs_lab::REQUIRE_ENV).as_deref() != Ok("1"),
            "{test}: {BIRD} is missing (apt-get install bird2) and {}=1",
            xvs_lab::REQUIRE_ENV
        );
        eprintln!(
            "\n*** SKIP {test}: {BIRD} is missing (scripts/install-deps.sh installs bird2) ***"
        );
        return None;
    }
    let guard = serial();
    let spec = LabSpec {
        directors: 3,
        vips4: vec![BGP_VIP.parse().unwrap()],
        vips6: vec![BGP_VIP6.parse().unwrap()],
        ..LabSpec::new(Method::Dr)
    };
    let lab = Lab::build(spec).expect("ECMP lab builds");
    let addrs: Vec<String> = (1..=3)
        .map(|i| lab.director_addrs(i).unwrap().client4.to_string())
        .collect();
    let both: Vec<(String, String)> = (1..=3)
        .map(|i| {
            let a = lab.director_addrs(i).unwrap();
            (a.client4.to_string(), a.client6.to_string())
        })
        .collect();
    let router = start_bird(&lab, &lab.ns_router(), "bird-router", &router_conf(&both));
    let directors: Vec<Node> = (1..=3).map(|i| start_director(&lab, i)).collect();
    let e = Ecmp {
        lab,
        router,
        directors,
    };
    let all: BTreeSet<String> = addrs.into_iter().collect();
    e.wait_next_hops(
        &all,
        60,
        "the router learnt the VIP from all three directors",
    );
    Some((guard, e))
}

impl Ecmp {
    /// The next hops of the router's route to the VIP (main table).
    pub fn next_hops(&self) -> BTreeSet<String> {
        let out = self
            .lab
            .exec(
                &self.lab.ns_router(),
                &["ip", "-4", "route", "show", BGP_VIP],
            )
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        parse_next_hops(&out)
    }

    /// The next hops of the router's route to the IPv6 VIP.
    pub fn next_hops6(&self) -> BTreeSet<String> {
        let out = self
            .lab
            .exec(
                &self.lab.ns_router(),
                &["ip", "-6", "route", "show", BGP_VIP6],
            )
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        parse_next_hops(&out)
    }

    /// Wait until the IPv6 VIP's next hops at the router are exactly `want`.
    pub fn wait_next_hops6(&self, want: &BTreeSet<String>, secs: u64, what: &str) {
        crate::support::wait_until(
            secs,
            what,
            || self.next_hops6() == *want,
            || {
                format!(
                    "IPv6 next hops: {:?}\n{}",
                    self.next_hops6(),
                    self.diagnostics()
                )
            },
        );
    }

    /// Wait until the VIP's next hops at the router are exactly `want`.
    pub fn wait_next_hops(&self, want: &BTreeSet<String>, secs: u64, what: &str) {
        crate::support::wait_until(
            secs,
            what,
            || self.next_hops() == *want,
            || self.diagnostics(),
        );
    }

    /// Next hops without director `i` (1-based), or of every director.
    pub fn hops_without(&self, i: Option<usize>) -> BTreeSet<String> {
        self.directors
            .iter()
            .enumerate()
            .filter(|(k, _)| Some(k + 1) != i)
            .map(|(_, n)| n.addr.clone())
            .collect()
    }

    /// Everything worth reading when a wait fails.
    pub fn diagnostics(&self) -> String {
        let mut s = format!(
            "router next hops: {:?}\nrouter BIRD:\n{}\n{}\n",
            self.next_hops(),
            self.router.ctl(&self.lab, &["show", "protocols"]),
            self.router.ctl(&self.lab, &["show", "route", "all"]),
        );
        for (i, n) in self.directors.iter().enumerate() {
            s.push_str(&format!(
                "--- director {}: BIRD\n{}\n--- xvs log (tail)\n{}\n",
                i + 1,
                n.bird
                    .ctl(&self.lab, &["show", "route", "table", "xvs_vips"]),
                tail(&n.xvs.xvs.log(), 15),
            ));
        }
        s
    }

    /// New connections a director has taken (both services).
    pub fn connections(&self, i: usize) -> u64 {
        let d = &self.directors[i - 1].xvs;
        crate::support::ask(&d.sock, "metrics")
            .map(|m| crate::support::metric_in(&m, "xvs_service_connections_total", &[]))
            .unwrap_or(0)
    }

    /// `xvs drain` / `xvs undrain` on director `i`: its answer.
    pub fn xvs_cmd(&self, i: usize, cmd: &str) -> String {
        let d = &self.directors[i - 1].xvs;
        let out = std::process::Command::new(crate::support::xvs_bin())
            .arg(cmd)
            .arg("--control")
            .arg(&d.sock)
            .output()
            .expect("run xvs");
        assert!(
            out.status.success(),
            "xvs {cmd}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `count` HTTP requests to the VIP, each on a new connection: the
    /// number that failed.
    pub fn failed_requests(&self, count: usize) -> usize {
        let mut opts = self.lab.client_options(
            xvs_lab::Target::Http(crate::support::url(BGP_VIP, 80)),
            count,
        );
        opts.concurrency = 4;
        let report = self.lab.run_client(&opts).expect("client runs");
        report.failed
    }
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// The `via` addresses of `ip route show` output (one path or several
/// `nexthop` lines).
pub fn parse_next_hops(text: &str) -> BTreeSet<String> {
    let words: Vec<&str> = text.split_whitespace().collect();
    words
        .windows(2)
        .filter(|w| w[0] == "via")
        .map(|w| w[1].to_owned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_hops_of_single_and_multipath_routes() {
        let one = "198.18.3.100 via 198.18.0.2 dev eth1 proto bird metric 32 \n";
        assert_eq!(parse_next_hops(one), ["198.18.0.2".to_owned()].into());
        let many = "198.18.3.100 proto bird metric 32 \n\tnexthop via 198.18.0.2 dev eth1 weight 1 \n\tnexthop via 198.18.0.4 dev eth1 weight 1 \n";
        assert_eq!(parse_next_hops(many).len(), 2);
        assert!(parse_next_hops("").is_empty());
    }

    #[test]
    fn the_template_is_put_in_place_for_each_director() {
        let c = director_conf("198.18.0.4", "fd00:0:0:1::4");
        assert!(c.contains("router id 198.18.0.4;"));
        assert!(c.contains("local 198.18.0.4 as 65001;"));
        assert!(c.contains("neighbor 198.18.0.1 as 65000;"));
        assert!(!c.contains("198.18.0.2"));
        assert!(c.contains("local fd00:0:0:1::4 as 65001;"));
        assert!(c.contains("neighbor fd00:0:0:1::1 as 65000;"));
        assert!(!c.contains("fd00:0:0:1::2 "));
    }
}
