//! [`Lab`]: one built topology, the handle tests use to reach into its
//! namespaces, run the client and start processes, and which tears
//! everything down when dropped (also when the test panics, since unwinding
//! runs Drop).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use crate::backends::{self, Backend};
use crate::client::{parse_report, ClientOptions, ClientReport, Target};
use crate::names::{fresh_prefix, Names};
use crate::process::{run, run_with_stdin, LabProcess};
use crate::spec::*;
use crate::topology;
use crate::LabError;

/// Concurrent datagrams in [`Lab::udp_requests`]: a lost reply then costs
/// one timeout per batch, not per datagram.
const UDP_CONCURRENCY: usize = 4;

/// A built lab. See the crate docs for the topology.
#[derive(Debug)]
pub struct Lab {
    names: Names,
    spec: LabSpec,
    /// Logs of spawned processes and the saved spec.
    pub(crate) dir: PathBuf,
    /// Backend of real server i at index i-1 (None when stopped).
    backends: Vec<Option<Backend>>,
    /// Tear down on drop (false after [`leak`](Lab::leak) or for
    /// [`attach`](Lab::attach)ed labs).
    owned: bool,
    /// Numbers the logs of spawned processes.
    pub(crate) spawned: AtomicUsize,
    /// Offset into [`EXTRA_POOL4`] of the next free address block
    /// ([`add_backend_addresses`](Lab::add_backend_addresses)).
    pub(crate) extra_next: Mutex<u32>,
}

/// Where a lab keeps its logs and saved spec.
pub fn lab_dir(prefix: &str) -> PathBuf {
    std::env::temp_dir().join(format!("xvs-lab-{prefix}"))
}

const SPEC_FILE: &str = "spec";

impl Lab {
    /// Build a lab under a fresh prefix unique to this process.
    pub fn build(spec: LabSpec) -> Result<Lab, LabError> {
        loop {
            match Lab::build_with_prefix(spec.clone(), &fresh_prefix()) {
                // Left over from a crashed run of a process with our pid:
                // not ours to delete, so take the next prefix.
                Err(LabError::PrefixInUse { .. }) => continue,
                other => return other,
            }
        }
    }

    /// Build a lab whose names start with `prefix`; fails with
    /// [`LabError::PrefixInUse`] if any namespace of that prefix exists.
    pub fn build_with_prefix(spec: LabSpec, prefix: &str) -> Result<Lab, LabError> {
        spec.validate()?;
        let names = Names::new(prefix)?;
        if let Some((_, namespace)) = topology::lab_namespaces(&names)?.into_iter().next() {
            return Err(LabError::PrefixInUse {
                prefix: prefix.to_owned(),
                namespace,
            });
        }
        let dir = lab_dir(prefix);
        // Stale files of a torn-down lab with this prefix are not worth keeping.
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|e| LabError::io(&dir, e))?;
        let spec_path = dir.join(SPEC_FILE);
        std::fs::write(&spec_path, spec.to_text()).map_err(|e| LabError::io(&spec_path, e))?;
        let n = spec.real_servers;
        // Owned from here on: an error below drops `lab`, which deletes
        // whatever was created so far.
        let mut lab = Lab {
            names,
            spec,
            dir,
            backends: (0..n).map(|_| None).collect(),
            owned: true,
            spawned: AtomicUsize::new(0),
            extra_next: Mutex::new(0),
        };
        for i in 1..=n {
            let state = lab.state_dir(i);
            std::fs::create_dir_all(&state).map_err(|e| LabError::io(&state, e))?;
        }
        topology::build(&lab.names, &lab.spec)?;
        if lab.spec.backends {
            // Start all, then wait for each: the Python start-ups overlap.
            for i in 1..=n {
                lab.backends[i - 1] = Some(lab.launch_backend(i)?);
            }
            for i in 1..=n {
                lab.wait_backend(i)?;
            }
        }
        Ok(lab)
    }

    /// A handle on a lab another process built (`xvs-lab up`). It does not
    /// own the lab: dropping it tears nothing down.
    pub fn attach(prefix: &str) -> Result<Lab, LabError> {
        let names = Names::new(prefix)?;
        let present = topology::lab_namespaces(&names)?;
        if !present.iter().any(|(_, ns)| *ns == names.director()) {
            return Err(LabError::NoSuchLab(prefix.to_owned()));
        }
        let dir = lab_dir(prefix);
        let spec_path = dir.join(SPEC_FILE);
        let text = std::fs::read_to_string(&spec_path).map_err(|e| LabError::io(&spec_path, e))?;
        let spec = LabSpec::from_text(&text)?;
        Ok(Lab {
            backends: (0..spec.real_servers).map(|_| None).collect(),
            names,
            spec,
            dir,
            owned: false,
            spawned: AtomicUsize::new(0),
            // Starts at the pool's beginning: addresses added through the
            // handle that built the lab are not known here, so add extra
            // addresses through one handle per lab only.
            extra_next: Mutex::new(0),
        })
    }

    /// Leave the lab (and its backends) running after this handle is gone;
    /// returns the prefix for `xvs-lab down --prefix`.
    pub fn leak(mut self) -> String {
        for backend in self.backends.drain(..).flatten() {
            backend.process.detach();
        }
        self.owned = false;
        self.names.prefix().to_owned()
    }

    /// Tear down the lab with `prefix` (kill its processes, delete its
    /// namespaces and log directory). Idempotent; returns how many
    /// namespaces existed.
    pub fn teardown_prefix(prefix: &str) -> Result<usize, LabError> {
        let names = Names::new(prefix)?;
        let deleted = topology::teardown(&names)?;
        let _ = std::fs::remove_dir_all(lab_dir(prefix));
        Ok(deleted)
    }

    pub fn prefix(&self) -> &str {
        self.names.prefix()
    }

    pub fn spec(&self) -> &LabSpec {
        &self.spec
    }

    pub fn ns_client(&self) -> String {
        self.names.client()
    }

    /// The director's namespace; director 1's in a pair.
    pub fn ns_director(&self) -> String {
        self.names.director()
    }

    /// Director `i`'s (1-based) namespace: `{p}dir` for 1, `{p}dir2` for 2
    /// (which exists only in a pair; see [`LabSpec::directors`]).
    pub fn ns_director_n(&self, i: usize) -> String {
        self.names.director_n(i)
    }

    /// Every director's namespace, director 1 first.
    pub fn ns_directors(&self) -> Vec<String> {
        (1..=self.spec.directors)
            .map(|i| self.ns_director_n(i))
            .collect()
    }

    /// The upstream router's namespace (an ECMP lab, `directors: 3`).
    pub fn ns_router(&self) -> String {
        self.names.router()
    }

    pub fn ns_switch(&self) -> String {
        self.names.switch()
    }

    /// Real server `i` (1-based) namespace.
    pub fn ns_rs(&self, i: usize) -> String {
        self.names.real_server(i)
    }

    /// Every namespace of the lab: client, director(s), switch, real
    /// servers.
    pub fn namespaces(&self) -> Vec<String> {
        let mut all = vec![self.ns_client()];
        if self.spec.is_ecmp() {
            all.push(self.ns_router());
        }
        all.extend(self.ns_directors());
        all.push(self.ns_switch());
        all.extend((1..=self.spec.real_servers).map(|i| self.ns_rs(i)));
        all
    }

    /// The director's interfaces: (client side, real-server side).
    pub fn director_ifaces(&self) -> (String, String) {
        (self.names.dir_client_if(), self.names.dir_server_if())
    }

    /// Director `i`'s interfaces: (client side, real-server side). Both
    /// directors of a pair use the same names ({p}c, {p}r), each in its own
    /// namespace, so one keepalived or xvs configuration fits either.
    pub fn director_ifaces_n(&self, _director: usize) -> (String, String) {
        self.director_ifaces()
    }

    /// Director `i`'s interface addresses, `None` when the lab has no
    /// director `i`.
    pub fn director_addrs(&self, i: usize) -> Option<DirectorAddrs> {
        self.spec.director_addrs(i)
    }

    /// Fail unless director `i` exists.
    pub(crate) fn check_director(&self, i: usize) -> Result<(), LabError> {
        if i == 0 || i > self.spec.directors {
            return Err(LabError::Spec(format!(
                "no director {i} (the lab has 1..={}; build a pair with directors: 2)",
                self.spec.directors
            )));
        }
        Ok(())
    }

    /// The name real server `i`'s backend answers with (`rs1`, ...).
    pub fn rs_name(&self, i: usize) -> String {
        format!("rs{i}")
    }

    pub fn rs_addr4(&self, i: usize) -> Ipv4Addr {
        rs_addr4(i)
    }

    pub fn rs_addr6(&self, i: usize) -> Ipv6Addr {
        rs_addr6(i)
    }

    /// The client's main addresses.
    pub fn client_addr4(&self) -> Ipv4Addr {
        if self.spec.is_ecmp() {
            crate::ecmp::ECMP_CLIENT4
        } else {
            CLIENT4
        }
    }

    pub fn client_addr6(&self) -> Ipv6Addr {
        if self.spec.is_ecmp() {
            crate::ecmp::ECMP_CLIENT6
        } else {
            CLIENT6
        }
    }

    /// The extra client addresses 198.18.0.11 ..= 198.18.0.20 (usable as
    /// `src` in the client calls).
    pub fn client_extra4(&self) -> Vec<Ipv4Addr> {
        if self.spec.is_ecmp() {
            return crate::ecmp::ecmp_client_extra4();
        }
        CLIENT4_EXTRA
            .map(|h| Ipv4Addr::new(198, 18, 0, h))
            .collect()
    }

    /// Refuse namespaces that are not this lab's: tests must never act on
    /// the host or another lab by mistake.
    fn check_ns(&self, ns: &str) -> Result<(), LabError> {
        if self.names.role_of(ns).is_some() {
            Ok(())
        } else {
            Err(LabError::Spec(format!(
                "namespace {ns:?} is not part of lab {}",
                self.prefix()
            )))
        }
    }

    /// Run `args` in `ns` to completion; a non-zero exit is an error with
    /// the program's stderr.
    pub fn exec(&self, ns: &str, args: &[&str]) -> Result<Output, LabError> {
        self.exec_stdin(ns, args, None)
    }

    /// Same as [`exec`](Self::exec) (the name the TUN notes use).
    pub fn exec_in(&self, ns: &str, args: &[&str]) -> Result<Output, LabError> {
        self.exec(ns, args)
    }

    /// As [`exec`](Self::exec), feeding `stdin` to the program.
    pub fn exec_stdin(
        &self,
        ns: &str,
        args: &[&str],
        stdin: Option<&str>,
    ) -> Result<Output, LabError> {
        self.check_ns(ns)?;
        let mut full = vec!["ip", "netns", "exec", ns];
        full.extend_from_slice(args);
        run_with_stdin(&full, stdin)
    }

    /// Start `args` in `ns`; it is stopped when the returned handle is
    /// dropped, and killed with the namespaces when the lab is.
    pub fn spawn(&self, ns: &str, args: &[&str]) -> Result<LabProcess, LabError> {
        self.check_ns(ns)?;
        let n = self.spawned.fetch_add(1, Ordering::Relaxed);
        let program = args
            .first()
            .and_then(|p| Path::new(p).file_name())
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default();
        let log = self.dir.join(format!("{n}-{ns}-{program}.log"));
        let mut full = vec!["ip", "netns", "exec", ns];
        full.extend_from_slice(args);
        LabProcess::start(&full, &log)
    }

    /// The MAC address of `iface` in `ns`.
    pub fn mac(&self, ns: &str, iface: &str) -> Result<[u8; 6], LabError> {
        let path = format!("/sys/class/net/{iface}/address");
        let out = self.exec(ns, &["cat", &path])?;
        let text = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        parse_mac(&text).ok_or_else(|| LabError::Report {
            reason: format!("not a MAC address ({path} in {ns})"),
            output: text,
        })
    }

    /// The backend of real server `i`, if the lab runs it.
    pub fn backend_mut(&mut self, i: usize) -> Option<&mut LabProcess> {
        self.backends
            .get_mut(i.checked_sub(1)?)?
            .as_mut()
            .map(|b| &mut b.process)
    }

    /// Real server `i`'s backend state directory (`<lab dir>/state-rsI`):
    /// the files lab-backend.py reads on every request (see
    /// [`set_health_status`](Self::set_health_status) and its siblings).
    pub fn state_dir(&self, i: usize) -> PathBuf {
        self.dir.join(format!("state-rs{i}"))
    }

    /// Fail unless real server `i` exists.
    pub(crate) fn check_rs(&self, i: usize) -> Result<(), LabError> {
        if i == 0 || i > self.spec.real_servers {
            return Err(LabError::Spec(format!(
                "no real server {i} (the lab has 1..={})",
                self.spec.real_servers
            )));
        }
        Ok(())
    }

    /// Stop real server `i`'s backend (a real server whose service died,
    /// for health-check tests).
    pub fn stop_backend(&mut self, i: usize) -> Result<(), LabError> {
        if let Some(mut backend) = self
            .backends
            .get_mut(i.wrapping_sub(1))
            .and_then(Option::take)
        {
            backend.process.stop()?;
        }
        Ok(())
    }

    /// (Re)start real server `i`'s backend and wait until it listens. It
    /// serves HTTPS when [`write_tls`](Self::write_tls) put a certificate
    /// in its state directory before this call.
    pub fn start_backend(&mut self, i: usize) -> Result<(), LabError> {
        self.check_rs(i)?;
        self.stop_backend(i)?;
        self.backends[i - 1] = Some(self.launch_backend(i)?);
        self.wait_backend(i)
    }

    /// Start real server `i`'s backend (not waiting for it).
    fn launch_backend(&self, i: usize) -> Result<Backend, LabError> {
        let state = self.state_dir(i);
        std::fs::create_dir_all(&state).map_err(|e| LabError::io(&state, e))?;
        let log = self.dir.join(format!("backend-rs{i}.log"));
        backends::start(&self.ns_rs(i), &self.rs_name(i), &state, &log)
    }

    fn wait_backend(&mut self, i: usize) -> Result<(), LabError> {
        let ns = self.ns_rs(i);
        match self
            .backends
            .get_mut(i.wrapping_sub(1))
            .and_then(Option::as_mut)
        {
            Some(backend) => backends::wait_ready(&ns, backend, backends::READY_TIMEOUT),
            None => Err(LabError::Spec(format!("no backend on real server {i}"))),
        }
    }

    /// `count` HTTP GETs of `url` from the client namespace, `concurrency`
    /// at a time, each on a new connection, optionally from `src`.
    pub fn http_requests(
        &self,
        url: &str,
        count: usize,
        concurrency: usize,
        src: Option<IpAddr>,
    ) -> Result<ClientReport, LabError> {
        let mut opts = self.client_options(Target::Http(url.to_owned()), count);
        opts.concurrency = concurrency;
        opts.src = src;
        self.run_client(&opts)
    }

    /// `count` UDP datagrams to `addr` from the client namespace, each from
    /// a fresh socket, optionally from `src`.
    pub fn udp_requests(
        &self,
        addr: SocketAddr,
        count: usize,
        src: Option<IpAddr>,
    ) -> Result<ClientReport, LabError> {
        let mut opts = self.client_options(Target::Udp(addr), count);
        opts.concurrency = UDP_CONCURRENCY;
        opts.src = src;
        self.run_client(&opts)
    }

    /// Client options with this lab's defaults: when the lab runs the
    /// backends, only their names count as correct answers.
    pub fn client_options(&self, target: Target, count: usize) -> ClientOptions {
        let mut opts = ClientOptions::new(target, count);
        if self.spec.backends {
            opts.servers = Some(
                (1..=self.spec.real_servers)
                    .map(|i| self.rs_name(i))
                    .collect(),
            );
        }
        opts
    }

    /// Run lab-client.py in the client namespace with `opts`.
    pub fn run_client(&self, opts: &ClientOptions) -> Result<ClientReport, LabError> {
        let script = backends::script("lab-client.py");
        let args = opts.args();
        let ns = self.ns_client();
        let mut full = vec![
            "ip",
            "netns",
            "exec",
            ns.as_str(),
            "python3",
            script.as_str(),
        ];
        full.extend(args.iter().map(String::as_str));
        let out = run(&full)?;
        parse_report(&String::from_utf8_lossy(&out.stdout))
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        if !self.owned {
            return;
        }
        // Backends first, politely; then whatever else runs in the
        // namespaces is killed by the teardown.
        for mut backend in self.backends.drain(..).flatten() {
            let _ = backend.process.stop();
        }
        if let Err(e) = Lab::teardown_prefix(self.names.prefix()) {
            eprintln!("xvs-lab: tearing down lab {}: {e}", self.names.prefix());
        }
    }
}

/// Parse `aa:bb:cc:dd:ee:ff`.
pub fn parse_mac(text: &str) -> Option<[u8; 6]> {
    let mut mac = [0u8; 6];
    let mut parts = text.split(':');
    for byte in &mut mac {
        let part = parts.next()?;
        if part.len() != 2 {
            return None;
        }
        *byte = u8::from_str_radix(part, 16).ok()?;
    }
    parts.next().is_none().then_some(mac)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn macs_are_parsed() {
        assert_eq!(
            parse_mac("02:00:0a:ff:10:01"),
            Some([2, 0, 0x0a, 0xff, 0x10, 1])
        );
        for bad in [
            "",
            "02:00:0a:ff:10",
            "02:00:0a:ff:10:01:02",
            "2:00:0a:ff:10:01",
            "zz:00:0a:ff:10:01",
        ] {
            assert_eq!(parse_mac(bad), None, "{bad}");
        }
    }

    #[test]
    fn lab_dirs_are_per_prefix() {
        assert_ne!(lab_dir("a"), lab_dir("b"));
        assert!(lab_dir("demo").ends_with("xvs-lab-demo"));
    }
}
