//! The lab side of `conn-rate` (bench layer): a lab per director kind with
//! this binary's servers on the real servers, where each side's kernel
//! work runs (RPS), the directors (xvs, HAProxy, nftables) started and
//! stopped, the generator run in the client namespace, and the CPU time
//! of the director's core read around it.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use xvs_connrate_bench::client::{LoadReport, StreamReport};
use xvs_lab::{Lab, LabProcess, LabSpec, Method, CLIENT4, CLIENT4_EXTRA, DEFAULT_VIP4};

/// Real servers in every lab.
pub const REAL_SERVERS: usize = 3;
/// The short-connection port and the streams' port (on the VIP and on
/// every real server).
pub const PORT: u16 = 80;
pub const SINK_PORT: u16 = 81;

/// Where things run: the director alone on one core, everything else
/// (generator, real servers, the client's and servers' kernel work) on
/// the other.
#[derive(Clone, Copy, Debug)]
pub struct Cores {
    pub director: usize,
    pub load: usize,
}

/// A lab with the servers running.
#[derive(Debug)]
pub struct Rig {
    pub lab: Lab,
    pub me: PathBuf,
    pub cores: Cores,
    _servers: Vec<LabProcess>,
}

fn mask(core: usize) -> String {
    format!("{:x}", 1u64 << core)
}

impl Rig {
    pub fn build(method: Method, cores: Cores) -> Result<Rig> {
        let lab = Lab::build(LabSpec {
            real_servers: REAL_SERVERS,
            backends: false,
            ..LabSpec::new(method)
        })?;
        let me = std::env::current_exe()?;
        let (c, r) = lab.director_ifaces();
        // Receive work after a veth transmit runs on the sending core;
        // RPS moves each receiver's protocol work to its side's core: the
        // director's interfaces to the director's core, the client's, the
        // switch's ports and the real servers' to the load core. (An xvs
        // director's frames are taken by XDP before RPS: see README.)
        let d = mask(cores.director);
        let l = mask(cores.load);
        let mut steer: Vec<(String, String, String)> = vec![
            (lab.ns_director(), c.clone(), d.clone()),
            (lab.ns_director(), r.clone(), d.clone()),
            (lab.ns_client(), "eth0".into(), l.clone()),
            (lab.ns_switch(), "dir".into(), l.clone()),
        ];
        for i in 1..=REAL_SERVERS {
            steer.push((lab.ns_switch(), format!("rs{i}"), l.clone()));
            steer.push((lab.ns_rs(i), "eth0".into(), l.clone()));
        }
        for (ns, iface, m) in &steer {
            let path = format!("/sys/class/net/{iface}/queues/rx-0/rps_cpus");
            lab.exec(&ns.clone(), &["sh", "-c", &format!("echo {m} > {path}")])?;
        }
        // Every source address gets the whole port range; so do HAProxy's
        // connections to the real servers.
        for ns in [lab.ns_client(), lab.ns_director()] {
            lab.exec(
                &ns,
                &[
                    "sysctl",
                    "-q",
                    "-w",
                    "net.ipv4.ip_local_port_range=1024 65535",
                ],
            )?;
        }
        let mut servers = Vec::new();
        for i in 1..=REAL_SERVERS {
            servers.push(lab.spawn(
                &lab.ns_rs(i),
                &[
                    &me.to_string_lossy(),
                    "serve",
                    "--listen",
                    &format!("0.0.0.0:{PORT}"),
                    "--sink-port",
                    &SINK_PORT.to_string(),
                    "--core",
                    &cores.load.to_string(),
                ],
            )?);
        }
        let t0 = Instant::now();
        for s in &mut servers {
            while !s.log().contains("ready") {
                if !s.is_running() || t0.elapsed() > Duration::from_secs(10) {
                    bail!("a real server did not start: {}", s.log());
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        Ok(Rig {
            lab,
            me,
            cores,
            _servers: servers,
        })
    }

    pub fn dir(&self) -> PathBuf {
        xvs_lab::lab_dir(self.lab.prefix())
    }

    /// The client's source addresses: its main one and the extra ten.
    pub fn sources() -> Vec<Ipv4Addr> {
        std::iter::once(CLIENT4)
            .chain(CLIENT4_EXTRA.map(|h| Ipv4Addr::new(198, 18, 0, h)))
            .collect()
    }

    /// Run the short-connection generator in the client namespace.
    pub fn load(&self, seconds: f64, concurrency: usize, rate: u64) -> Result<LoadReport> {
        let args = self.load_args(seconds, concurrency, rate);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = self.lab.exec(&self.lab.ns_client(), &args)?;
        let v: serde_json::Value = serde_json::from_slice(&out.stdout)
            .with_context(|| String::from_utf8_lossy(&out.stdout).into_owned())?;
        LoadReport::from_json(&v).context("the generator's report")
    }

    pub fn load_args(&self, seconds: f64, concurrency: usize, rate: u64) -> Vec<String> {
        let mut args = vec![
            self.me.to_string_lossy().into_owned(),
            "load".into(),
            "--target".into(),
            format!("{DEFAULT_VIP4}:{PORT}"),
            "--seconds".into(),
            seconds.to_string(),
            "--concurrency".into(),
            concurrency.to_string(),
            "--rate".into(),
            rate.to_string(),
            "--core".into(),
            self.cores.load.to_string(),
        ];
        for s in Rig::sources() {
            args.push("--source".into());
            args.push(s.to_string());
        }
        args
    }

    pub fn streams_args(&self, seconds: f64, streams: usize) -> Vec<String> {
        vec![
            self.me.to_string_lossy().into_owned(),
            "streams".into(),
            "--target".into(),
            format!("{DEFAULT_VIP4}:{SINK_PORT}"),
            "--source".into(),
            CLIENT4.to_string(),
            "--streams".into(),
            streams.to_string(),
            "--seconds".into(),
            seconds.to_string(),
            "--core".into(),
            self.cores.load.to_string(),
        ]
    }

    /// Start a process in the client namespace (its log holds its report).
    pub fn spawn_client(&self, args: &[String]) -> Result<LabProcess> {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        Ok(self.lab.spawn(&self.lab.ns_client(), &a)?)
    }
}

/// The JSON object a finished client process printed as its last line.
pub fn report_of(proc: &mut LabProcess) -> Result<serde_json::Value> {
    if proc.wait_timeout(Duration::from_secs(60))?.is_none() {
        bail!("a client did not finish: {}", proc.log());
    }
    let log = proc.log();
    let line = log
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .with_context(|| format!("no report in {log:?}"))?;
    Ok(serde_json::from_str(line)?)
}

pub fn streams_of(proc: &mut LabProcess) -> Result<StreamReport> {
    StreamReport::from_json(&report_of(proc)?).context("the streams' report")
}

pub fn load_of(proc: &mut LabProcess) -> Result<LoadReport> {
    LoadReport::from_json(&report_of(proc)?).context("the generator's report")
}

/// One core's time in seconds (USER_HZ = 100), from /proc/stat.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct CoreTime {
    /// Everything but idle, iowait and steal.
    pub busy: f64,
    /// Interrupts and softirqs (the kernel's packet work).
    pub irq: f64,
}

impl CoreTime {
    pub fn since(self, before: CoreTime) -> CoreTime {
        CoreTime {
            busy: self.busy - before.busy,
            irq: self.irq - before.irq,
        }
    }
}

pub fn core_time(core: usize) -> Result<CoreTime> {
    let text = std::fs::read_to_string("/proc/stat")?;
    core_time_of(&text, core).with_context(|| format!("no cpu{core} in /proc/stat"))
}

/// The times of `cpu{core}` in a /proc/stat text.
pub fn core_time_of(text: &str, core: usize) -> Option<CoreTime> {
    let name = format!("cpu{core}");
    let line = text
        .lines()
        .find(|l| l.split_whitespace().next() == Some(name.as_str()))?;
    let f: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(|v| v.parse().ok())
        .collect::<Option<_>>()?;
    // user nice system idle iowait irq softirq steal ...
    let irq = f.get(5)? + f.get(6)?;
    let busy = f.first()? + f.get(1)? + f.get(2)? + irq;
    Some(CoreTime {
        busy: busy as f64 / 100.0,
        irq: irq as f64 / 100.0,
    })
}

/// User + system seconds of a process, all its threads.
pub fn process_cpu(pid: u32) -> Result<f64> {
    let path = format!("/proc/{pid}/stat");
    let text = std::fs::read_to_string(&path).with_context(|| path.clone())?;
    let rest = text
        .rsplit_once(')')
        .map(|(_, r)| r)
        .context("stat format")?;
    let f: Vec<&str> = rest.split_whitespace().collect();
    // Fields 14 and 15 (utime, stime) are at 11 and 12 after the name.
    let t = |i: usize| {
        f.get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .context("stat field")
    };
    Ok((t(11)? + t(12)?) / 100.0)
}

/// A director under test.
#[derive(Debug)]
pub enum Director {
    Xvs {
        proc: LabProcess,
    },
    Haproxy {
        proc: LabProcess,
    },
    /// nftables DNAT: the lab's ruleset, nothing runs.
    Kernel,
}

impl Director {
    pub fn pid(&self) -> Option<u32> {
        match self {
            Director::Xvs { proc } | Director::Haproxy { proc } => proc.pid(),
            Director::Kernel => None,
        }
    }

    pub fn log(&self) -> String {
        match self {
            Director::Xvs { proc } | Director::Haproxy { proc } => proc.log(),
            Director::Kernel => String::new(),
        }
    }
}

/// What an xvs director is configured with beyond the NAT service.
#[derive(Clone, Debug)]
pub struct XvsOptions {
    pub idle: &'static str,
    pub conn_capacity: usize,
    /// `global.table_pressure` evict and short_timeouts.
    pub defences: bool,
    pub synproxy: bool,
}

pub fn xvs_config(rig: &Rig, o: &XvsOptions) -> String {
    let (c, r) = rig.lab.director_ifaces();
    let core = rig.cores.director;
    let mut y = format!(
        "global:\n  workers: [{core}]\n  idle: {}\n  conn_capacity: {}\n  umem_frames: 4096\n  ring_size: 2048\n",
        o.idle, o.conn_capacity
    );
    if !o.defences {
        y.push_str("  table_pressure: { evict: false, short_timeouts: false }\n");
    }
    y.push_str(&format!(
        "interfaces:\n  - name: {c}\n    addresses: [198.18.0.2/24]\n  - name: {r}\n    addresses: [198.18.1.1/24]\nservices:\n"
    ));
    for (name, port, synproxy) in [("req", PORT, o.synproxy), ("sink", SINK_PORT, false)] {
        y.push_str(&format!(
            "  - name: {name}\n    vip: {DEFAULT_VIP4}\n    port: {port}\n    protocol: tcp\n    scheduler: rr\n    method: nat\n"
        ));
        if synproxy {
            y.push_str("    synproxy: true\n");
        }
        y.push_str("    real_servers:\n");
        for i in 1..=REAL_SERVERS {
            y.push_str(&format!(
                "      - {{ address: {}, port: {port} }}\n",
                xvs_lab::rs_addr4(i)
            ));
        }
    }
    y
}

pub fn start_xvs(rig: &Rig, xvs: &Path, o: &XvsOptions) -> Result<Director> {
    let dir = rig.dir();
    let cfg = dir.join("xvs.yaml");
    std::fs::write(&cfg, xvs_config(rig, o))?;
    let sock = dir.join("xvs.sock");
    let _ = std::fs::remove_file(&sock);
    let args = [
        "run",
        "-c",
        &cfg.to_string_lossy(),
        "--control",
        &sock.to_string_lossy(),
    ];
    let answers = || {
        Ok(Command::new(xvs)
            .args(["list", "--control"])
            .arg(&sock)
            .output()
            .is_ok_and(|o| o.status.success()))
    };
    let proc = start_director(rig, "xvs run", xvs, &args, 15, 100, answers)?;
    Ok(Director::Xvs { proc })
}

/// Start `program args` in the director's namespace, the whole process on
/// the director's core (its control thread is the director's too), and
/// poll `ready` every `poll_ms` until it holds; fail with the process's
/// log, naming it `what`, if it exits or `secs` pass first.
fn start_director(
    rig: &Rig,
    what: &str,
    program: &Path,
    args: &[&str],
    secs: u64,
    poll_ms: u64,
    mut ready: impl FnMut() -> Result<bool>,
) -> Result<LabProcess> {
    let core = rig.cores.director.to_string();
    let program = program.to_string_lossy();
    let mut argv = vec!["taskset", "-c", &core, &program];
    argv.extend_from_slice(args);
    let mut proc = rig.lab.spawn(&rig.lab.ns_director(), &argv)?;
    let t0 = Instant::now();
    while !ready()? {
        if !proc.is_running() || t0.elapsed() > Duration::from_secs(secs) {
            bail!("{what} did not start:\n{}", proc.log());
        }
        std::thread::sleep(Duration::from_millis(poll_ms));
    }
    Ok(proc)
}

/// What `xvs metrics` prints for the running director; None if it could
/// not be run.
fn xvs_metrics(rig: &Rig, xvs: &Path) -> Option<String> {
    let sock = rig.dir().join("xvs.sock");
    let out = Command::new(xvs)
        .args(["metrics", "--control"])
        .arg(&sock)
        .output()
        .ok()?;
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `xvs metrics` of a running director, the lines that start with `prefix`.
pub fn xvs_metric(rig: &Rig, xvs: &Path, prefix: &str) -> f64 {
    let Some(text) = xvs_metrics(rig, xvs) else {
        return f64::NAN;
    };
    text.lines()
        .filter(|l| l.starts_with(prefix))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// The nonzero `xvs metrics` lines that start with `prefix`.
pub fn xvs_metric_lines(rig: &Rig, xvs: &Path, prefix: &str) -> Vec<String> {
    let Some(text) = xvs_metrics(rig, xvs) else {
        return Vec::new();
    };
    text.lines()
        .filter(|l| l.starts_with(prefix))
        .filter(|l| l.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok()) != Some(0.0))
        .map(str::to_owned)
        .collect()
}

pub fn haproxy_config() -> String {
    let mut y = format!(
        "global\n    nbthread 1\n    maxconn 8000\n\n\
         defaults\n    mode tcp\n    timeout connect 5s\n    timeout client 30s\n    timeout server 30s\n\n\
         frontend req\n    bind {DEFAULT_VIP4}:{PORT}\n    default_backend req\n\n\
         backend req\n    balance roundrobin\n"
    );
    for i in 1..=REAL_SERVERS {
        y.push_str(&format!(
            "    server rs{i} {}:{PORT}\n",
            xvs_lab::rs_addr4(i)
        ));
    }
    y.push_str(&format!(
        "\nfrontend sink\n    bind {DEFAULT_VIP4}:{SINK_PORT}\n    default_backend sink\n\nbackend sink\n    balance roundrobin\n"
    ));
    for i in 1..=REAL_SERVERS {
        y.push_str(&format!(
            "    server rs{i} {}:{SINK_PORT}\n",
            xvs_lab::rs_addr4(i)
        ));
    }
    y
}

pub fn start_haproxy(rig: &Rig, haproxy: &Path) -> Result<Director> {
    let cfg = rig.dir().join("haproxy.cfg");
    std::fs::write(&cfg, haproxy_config())?;
    // Listening once `ss` in the director's namespace shows the VIP's port.
    let listening = || {
        let out = rig.lab.exec(&rig.lab.ns_director(), &["ss", "-Htln"])?;
        Ok(String::from_utf8_lossy(&out.stdout).contains(&format!("{DEFAULT_VIP4}:{PORT}")))
    };
    let args = ["-db", "-f", &cfg.to_string_lossy()];
    let proc = start_director(rig, "haproxy", haproxy, &args, 10, 50, listening)?;
    Ok(Director::Haproxy { proc })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_time_is_everything_but_idle_iowait_and_steal() {
        let text =
            "cpu  1 2 3 4 5 6 7 8 0 0\ncpu0 100 0 50 900 10 5 45 7 0 0\ncpu1 1 1 1 1 1 1 1 1 0 0\n";
        let c0 = core_time_of(text, 0).unwrap();
        assert_eq!((c0.busy, c0.irq), (2.0, 0.5));
        assert_eq!(core_time_of(text, 1).unwrap().busy, 0.05);
        assert_eq!(core_time_of(text, 2), None);
    }

    #[test]
    fn the_process_cpu_is_read_past_the_name() {
        let pid = std::process::id();
        assert!(process_cpu(pid).unwrap() >= 0.0);
    }
}
