//! `xvs run`: set up and run the daemon.
//!
//! 1. Load and validate the configuration; check the host can run it
//!    (crate::preflight); read each interface's MAC from the system when
//!    the file does not give it.
//! 2. Compile the forwarding plan; allocate the connection table.
//! 3. Attach the steering XDP program to every interface (replacing a
//!    stale one a crash may have left).
//! 4. Per worker: one UMEM and one AF_XDP socket per (interface, queue) the
//!    worker owns — queue q of every interface goes to worker
//!    `index(q) % workers` — registered in the steering program's XSKMAP.
//! 5. Start the pinned workers, the control-socket thread, the health-check
//!    thread, tell systemd `READY=1` (sd_notify), and run the control thread
//!    until SIGINT/SIGTERM; SIGHUP reloads. With `announce:` the signal
//!    first withdraws the VIPs from the routers and the director forwards
//!    for the drain time before stopping (crate::announce).
//! 6. On the way out: stop and join the workers (their sockets close), detach
//!    the XDP programs, remove the control socket.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use arc_swap::ArcSwap;
use crossbeam::channel;
use xvs_config::{ForwardMethod, IdlePolicy, MacAddr, Snapshot};
use xvs_conn::{ConnTable, TableConfig};
use xvs_dataplane::{
    DestRegistry, NeighborTable, Plan, SynProxy, SyncLink, Worker, WorkerCounters,
};
use xvs_xdp::{AttachMode, SteerRules, Steering};
use xvs_xsk::{BindMode, FramePool, PacketSocket, Umem, XskSocket};

use crate::control::{Control, ControlIface, PlanListener};
use crate::shared::{DriverCounters, Shared};
use crate::sync::SyncDriver;
use crate::vrrp::VrrpDriver;
use crate::worker_loop::{WorkerLoop, WorkerSocket};

/// UMEM frame size: one page per frame (room for a 1500-byte packet, the
/// kernel's 256-byte XDP headroom and our tunnel header).
pub const FRAME_SIZE: u32 = 4096;

/// Why the daemon could not start (or stopped).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("{0}")]
    Config(#[from] xvs_config::ConfigError),
    #[error("interface {iface}: {msg}")]
    Interface { iface: String, msg: String },
    #[error("{0}")]
    Plan(#[from] xvs_dataplane::PlanError),
    #[error("{0}")]
    Xsk(#[from] xvs_xsk::XskError),
    #[error("XDP on {iface}: {source}")]
    Xdp {
        iface: String,
        #[source]
        source: xvs_xdp::XdpError,
    },
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("connection table: {0}")]
    Table(String),
    #[error("{0}")]
    Setup(String),
    #[error("{0}")]
    Vrrp(String),
    /// The host cannot run this configuration (crate::preflight): one line.
    #[error("{0}")]
    Preflight(String),
}

/// Options of `xvs run` beyond the configuration file.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub config: PathBuf,
    /// Where the control socket listens.
    pub control_socket: PathBuf,
    /// XDP attach mode for the steering program (default: native, falling
    /// back to generic).
    pub xdp_mode: Option<AttachMode>,
}

/// Read `/sys/class/net/IF/address`.
fn system_mac(iface: &str) -> Option<[u8; 6]> {
    let text = std::fs::read_to_string(format!("/sys/class/net/{iface}/address")).ok()?;
    let mut mac = [0u8; 6];
    let mut parts = text.trim().split(':');
    for b in &mut mac {
        *b = u8::from_str_radix(parts.next()?, 16).ok()?;
    }
    Some(mac)
}

/// Fill in what the file left to the system (interface MACs).
fn resolve_system(snap: &mut Snapshot) -> Result<(), RunError> {
    for i in &mut snap.interfaces {
        xvs_xsk::ifindex(&i.name).map_err(|_| RunError::Interface {
            iface: i.name.clone(),
            msg: "no such interface on this host (check `interfaces:` in the config)".into(),
        })?;
        if i.mac.is_none() {
            i.mac = Some(system_mac(&i.name).ok_or_else(|| RunError::Interface {
                iface: i.name.clone(),
                msg: "cannot read its MAC address from /sys/class/net".into(),
            })?);
        }
    }
    Ok(())
}

/// Whether any service of `snap` has the SYN proxy on.
fn uses_synproxy(snap: &Snapshot) -> bool {
    snap.services.iter().any(|s| s.synproxy)
}

/// The SYN cookie key: `global.synproxy_key` when set (directors behind
/// one ECMP route accept each other's cookies), else random, drawn once
/// per process so cookies cannot be forged or replayed against another
/// start.
fn synproxy_key(global: &xvs_config::Global) -> Result<[u8; 16], RunError> {
    use std::io::Read;
    if let Some(key) = global.synproxy_key {
        return Ok(key.0);
    }
    let mut key = [0u8; 16];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut key))
        .map_err(|source| RunError::Io {
            what: "/dev/urandom (SYN cookie key)".into(),
            source,
        })?;
    Ok(key)
}

/// A reload may change services, real servers and tunables; interfaces,
/// workers and the table size need a restart. Copies the system-resolved
/// MACs into `new`.
pub fn check_reload_compatible(current: &Snapshot, new: &mut Snapshot) -> Result<(), String> {
    if new.global.workers != current.global.workers
        || new.global.conn_capacity != current.global.conn_capacity
        || new.global.umem_frames != current.global.umem_frames
        || new.global.ring_size != current.global.ring_size
        || new.global.health != current.global.health
        || new.global.metrics_listen != current.global.metrics_listen
        || new.global.synproxy_key != current.global.synproxy_key
    {
        return Err(
            "workers, conn_capacity, umem_frames, ring_size, health.max_in_flight, metrics_listen and synproxy_key need a restart"
                .into(),
        );
    }
    if new.interfaces.len() != current.interfaces.len()
        || new
            .interfaces
            .iter()
            .zip(&current.interfaces)
            .any(|(a, b)| a.name != b.name || a.queues != b.queues)
    {
        return Err("the interface list and queues need a restart".into());
    }
    if new.vrrp != current.vrrp
        || new.vrrp_scripts != current.vrrp_scripts
        || new.vrrp_sync_groups != current.vrrp_sync_groups
    {
        // Restarting the instances would make this director resign and
        // re-elect, a failover of its own; a reload must never do that.
        return Err("vrrp, vrrp_scripts and vrrp_sync_groups need a restart".into());
    }
    if new.sync != current.sync {
        return Err("sync needs a restart".into());
    }
    // The route device is made at start; which VIPs and the drain time
    // follow a reload.
    let device = |s: &Snapshot| {
        s.announce
            .as_ref()
            .map(|a| (a.device.clone(), a.table, a.protocol))
    };
    if device(new) != device(current) {
        return Err(
            "turning announce: on or off, or changing its device, table or protocol, needs a restart"
                .into(),
        );
    }
    // The SYN proxy's per-connection records are sized with the table at
    // start, and only when a service uses it.
    if uses_synproxy(new) && !uses_synproxy(current) {
        return Err("turning the SYN proxy on (synproxy: true) needs a restart".into());
    }
    for (n, c) in new.interfaces.iter_mut().zip(&current.interfaces) {
        if n.mac.is_none() {
            n.mac = c.mac;
        }
    }
    Ok(())
}

/// What the steering program must send to xvs for a plan.
pub fn steer_rules(plan: &Plan) -> SteerRules {
    let mut rules = SteerRules::default();
    for svc in &plan.services {
        if !rules.vips.contains(&svc.vip) {
            rules.vips.push(svc.vip);
        }
        for (sd, id) in svc.sched_dests.iter().zip(&svc.dest_ids) {
            let nat = plan
                .dest(*id)
                .is_some_and(|d| d.method == ForwardMethod::Nat);
            let key = (
                sd.addr,
                if sd.port == 0 { svc.port } else { sd.port },
                svc.protocol.number(),
            );
            if nat && !rules.nat_sources.contains(&key) {
                rules.nat_sources.push(key);
            }
        }
    }
    // A NAT real server that left the configuration (or a health check
    // took out) keeps its reply rule while it still has connections:
    // without it its replies would reach the kernel untranslated.
    for key in draining_nat_sources(plan) {
        if !rules.nat_sources.contains(&key) {
            rules.nat_sources.push(key);
        }
    }
    for p in &plan.pools {
        for a in &p.addresses {
            if !rules.local_addrs.contains(a) {
                rules.local_addrs.push(*a);
            }
        }
    }
    for iface in &plan.interfaces {
        for net in &iface.addresses {
            if !rules.own_addrs.contains(&net.addr) {
                rules.own_addrs.push(net.addr);
            }
        }
    }
    rules
}

/// The NAT reply sources ⟨address, port, protocol⟩ of real servers that
/// are no longer in rotation but still have connections (or templates)
/// bound, sorted: their replies must keep reaching xvs until the last one
/// ends.
pub fn draining_nat_sources(plan: &Plan) -> Vec<(std::net::IpAddr, u16, u8)> {
    let mut out: Vec<(std::net::IpAddr, u16, u8)> = plan
        .dests
        .iter()
        .flatten()
        .filter(|d| !d.available && d.method == ForwardMethod::Nat)
        .filter(|d| d.shared.load.totalconns() > 0)
        .map(|d| {
            let port = if d.port == 0 { d.vport } else { d.port };
            (d.address, port, d.protocol.number())
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Keeps the steering maps in step with the plan.
struct SteeringSet {
    steering: Vec<Steering>,
}

impl PlanListener for SteeringSet {
    fn plan_changed(&mut self, plan: &Plan) {
        let rules = steer_rules(plan);
        for s in &mut self.steering {
            if let Err(e) = s.update(&rules) {
                tracing::error!(interface = %s.ifname(), "updating steering maps failed: {e}");
            }
        }
    }
}

impl std::fmt::Debug for SteeringSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SteeringSet({})", self.steering.len())
    }
}

/// Assign queue q of every interface to a worker: `position % workers`.
fn assign_queues(snap: &Snapshot, workers: usize) -> Result<Vec<Vec<(usize, u32)>>, RunError> {
    let mut per_worker = vec![Vec::new(); workers];
    for (ii, iface) in snap.interfaces.iter().enumerate() {
        let queues = if iface.queues.is_empty() {
            vec![0]
        } else {
            iface.queues.clone()
        };
        if queues.len() < workers {
            return Err(RunError::Interface {
                iface: iface.name.clone(),
                msg: format!(
                    "{} queue(s) for {workers} workers: every worker needs a queue on every interface \
                     (set `queues:` to at least {workers} queues, e.g. [0, 1], and give the NIC that many)",
                    queues.len()
                ),
            });
        }
        for (pos, q) in queues.into_iter().enumerate() {
            per_worker[pos % workers].push((ii, q));
        }
    }
    Ok(per_worker)
}

/// Run the daemon until SIGINT/SIGTERM.
pub fn run(opts: &RunOptions) -> Result<(), RunError> {
    let text = std::fs::read_to_string(&opts.config).map_err(|source| {
        RunError::Config(xvs_config::ConfigError::Io {
            origin: opts.config.display().to_string(),
            source,
        })
    })?;
    // The running configuration: what runtime changes edit and
    // `xvs save` writes.
    let (running, mut snap) =
        xvs_config::edit::RunningConfig::from_text(&text, &opts.config.display().to_string())?;
    // Before anything is attached or bound: what only this host can tell.
    crate::preflight::check(&snap, &text, &opts.config.display().to_string(), FRAME_SIZE)
        .map_err(RunError::Preflight)?;
    resolve_system(&mut snap)?;
    // Read before any thread starts; the notifications follow start-up,
    // reloads and the stop.
    let notifier = crate::sd_notify::Notifier::from_env();
    snap.version = 1;
    let nworkers = snap.global.workers.len().max(1);
    let mut registry = DestRegistry::new(nworkers);
    // Until the health checker reports, real servers take their initial
    // state (keepalived: up, or down in alpha mode).
    let file_snapshot = Arc::new(snap.clone());
    let stop = Arc::new(AtomicBool::new(false));
    // VRRP starts with every instance backup (or owner-master): from the
    // first plan on, a backup neither answers for nor forwards its VIPs.
    let vrrp_ifaces: Vec<(String, MacAddr)> = snap
        .interfaces
        .iter()
        .map(|i| (i.name.clone(), i.mac.unwrap_or_default()))
        .collect();
    let vrrp = VrrpDriver::start(
        Arc::clone(&file_snapshot),
        &vrrp_ifaces,
        Arc::clone(&stop),
        Instant::now(),
    )
    .map_err(RunError::Vrrp)?;
    let mut effective = crate::control::effective(
        &file_snapshot,
        &xvs_health::HealthView::default(),
        vrrp.as_ref(),
    );
    effective.version = 1;
    let plan = Arc::new(Plan::compile(Arc::new(effective), &mut registry, None)?);

    let seed = {
        use std::hash::{BuildHasher, Hasher};
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u128(Instant::now().elapsed().as_nanos());
        h.finish()
    };
    let cap = snap.global.conn_capacity;
    let table = Arc::new(
        ConnTable::with_config(TableConfig {
            capacity_v4: cap,
            // IPv6 entries are twice the size; most deployments carry far
            // fewer of them. A quarter of the IPv4 capacity, at least 1024.
            capacity_v6: (cap / 4).max(1024),
            workers: nworkers,
            hash_seed: seed,
        })
        .map_err(|e| RunError::Table(e.to_string()))?,
    );
    let synproxy = if uses_synproxy(&snap) {
        Some(Arc::new(SynProxy::new(synproxy_key(&snap.global)?, &table)))
    } else {
        None
    };

    // Steering first: until a socket is registered, VIP traffic falls back
    // to the kernel, which drops it.
    let mode = opts.xdp_mode.unwrap_or(AttachMode::Native);
    let mut steering = Vec::new();
    for iface in &snap.interfaces {
        let s = Steering::attach(&iface.name, mode)
            .or_else(|e| {
                if opts.xdp_mode.is_none() {
                    Steering::attach(&iface.name, AttachMode::Generic)
                } else {
                    Err(e)
                }
            })
            .map_err(|source| RunError::Xdp {
                iface: iface.name.clone(),
                source,
            })?;
        steering.push(s);
    }

    let reload = Arc::new(AtomicBool::new(false));
    // A stop signal also wakes the control thread at once (a byte on this
    // pair): a VRRP master resigns without waiting out its poll.
    let (stop_wake, stop_write) =
        std::os::unix::net::UnixStream::pair().map_err(|source| RunError::Io {
            what: "signal pipe".into(),
            source,
        })?;
    // With `announce:`, a stop signal first withdraws the VIPs and drains
    // (crate::announce), which then sets `stop`.
    let stop_requested = Arc::new(AtomicBool::new(false));
    let signal_flag = if snap.announce.is_some() {
        &stop_requested
    } else {
        &stop
    };
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, Arc::clone(signal_flag)).map_err(|source| {
            RunError::Io {
                what: "signal handler".into(),
                source,
            }
        })?;
        let w = stop_write.try_clone().map_err(|source| RunError::Io {
            what: "signal pipe".into(),
            source,
        })?;
        signal_hook::low_level::pipe::register(sig, w).map_err(|source| RunError::Io {
            what: "signal handler".into(),
            source,
        })?;
    }
    signal_hook::flag::register(signal_hook::consts::SIGHUP, Arc::clone(&reload)).map_err(
        |source| RunError::Io {
            what: "signal handler".into(),
            source,
        },
    )?;

    let worker_counters: Vec<Arc<WorkerCounters>> = (0..nworkers)
        .map(|_| Arc::new(WorkerCounters::default()))
        .collect();
    let driver_counters: Vec<Arc<DriverCounters>> = (0..nworkers)
        .map(|_| Arc::new(DriverCounters::default()))
        .collect();
    let (calls_tx, calls_rx) = channel::bounded(64);
    let shared = Arc::new(Shared {
        plan: ArcSwap::new(Arc::clone(&plan)),
        neighbors: ArcSwap::new(Arc::new(NeighborTable::default())),
        stop: Arc::clone(&stop),
        epoch: Instant::now(),
        workers: worker_counters.clone(),
        drivers: driver_counters.clone(),
        health: crate::shared::HealthDesk::default(),
        vrrp: crate::shared::VrrpDesk::default(),
        sync: arc_swap::ArcSwapOption::empty(),
        announce: arc_swap::ArcSwapOption::empty(),
        calls: calls_tx,
        steering: steering.iter().map(Steering::counter_reader).collect(),
    });
    let (to_control, from_workers) = channel::bounded(4096);
    // Connection sync: a pair of bounded queues per worker.
    let sync_link = snap
        .sync
        .as_ref()
        .map(|s| Arc::new(SyncLink::new(nworkers, s.queue)));

    // Sockets, per worker.
    let assignment = assign_queues(&snap, nworkers)?;
    let bind_mode = match snap.interfaces.first().and_then(|i| i.zero_copy) {
        Some(true) => BindMode::ZeroCopy,
        Some(false) => BindMode::Copy,
        None => BindMode::Auto,
    };
    let ring = snap.global.ring_size;
    let mut loops = Vec::new();
    for (w, queues) in assignment.into_iter().enumerate() {
        let umem =
            Umem::new(snap.global.umem_frames, FRAME_SIZE).map_err(|source| RunError::Io {
                what: format!("worker {w} UMEM"),
                source,
            })?;
        let mut sockets: Vec<WorkerSocket> = Vec::new();
        let mut tx_socket = vec![None; snap.interfaces.len()];
        for (ii, q) in queues {
            let name = &snap.interfaces[ii].name;
            let first = sockets.first().map(|s| &s.sock);
            let sock = XskSocket::bind(&umem, first, name, q, ring, bind_mode)?;
            steering[ii]
                .set_socket(q, sock.fd())
                .map_err(|source| RunError::Xdp {
                    iface: name.clone(),
                    source,
                })?;
            if tx_socket[ii].is_none() {
                tx_socket[ii] = Some(sockets.len());
            }
            sockets.push(WorkerSocket::new(ii, sock));
        }
        let pool = FramePool::new(&umem);
        let mut pipeline = Worker::new(
            w,
            Arc::clone(&table),
            Arc::clone(&worker_counters[w]),
            seed ^ w as u64,
        );
        pipeline.set_sync(sync_link.clone());
        pipeline.set_synproxy(synproxy.clone());
        loops.push(WorkerLoop {
            id: w,
            pipeline,
            umem,
            pool,
            sockets,
            tx_socket,
            shared: Arc::clone(&shared),
            to_control: to_control.clone(),
            counters: Arc::clone(&driver_counters[w]),
            idle: snap.global.idle,
        });
    }

    let mut ctl_ifaces = Vec::new();
    for iface in &snap.interfaces {
        ctl_ifaces.push(ControlIface {
            name: iface.name.clone(),
            mac: iface.mac.unwrap_or_default(),
            arp: PacketSocket::open(&iface.name, xvs_xsk::packet::ETH_P_ARP)?,
            ipv6: PacketSocket::open(&iface.name, xvs_xsk::packet::ETH_P_IPV6)?,
        });
    }

    // Check latencies as a real histogram (seconds): from a LAN's
    // sub-millisecond answers to connect_timeout's seconds.
    let prometheus = metrics_exporter_prometheus::PrometheusBuilder::new()
        .set_buckets_for_metric(
            metrics_exporter_prometheus::Matcher::Full("xvs_health_check_duration_seconds".into()),
            &[
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                10.0,
            ],
        )
        .and_then(|b| b.install_recorder())
        .ok();
    let mut api = crate::api::Api::bind(&opts.control_socket).map_err(|source| RunError::Io {
        what: format!("control socket {}", opts.control_socket.display()),
        source,
    })?;
    if let Some(addr) = snap.global.metrics_listen {
        api = api.listen_metrics(addr).map_err(|source| RunError::Io {
            what: format!("metrics endpoint {addr} (global.metrics_listen)"),
            source,
        })?;
        tracing::info!("metrics on http://{addr}/metrics");
    }
    let zero_copy = loops
        .iter()
        .flat_map(|l| &l.sockets)
        .all(|s| s.sock.is_zero_copy());

    let mut handles = Vec::new();
    // How many workers run: a VIP is announced only while one does.
    let workers_running = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    for l in loops {
        let core = snap.global.workers.get(l.id).copied();
        let idle = l.idle;
        let running = Arc::clone(&workers_running);
        let h = std::thread::Builder::new()
            .name(format!("xvs-worker-{}", l.id))
            .spawn(move || {
                let _alive = crate::announce::WorkerAlive::enter(&running);
                if let Some(id) = core {
                    if !core_affinity::set_for_current(core_affinity::CoreId { id })
                        && idle == IdlePolicy::Busy
                    {
                        tracing::warn!(worker = l.id, "could not pin worker to core {id}");
                    }
                }
                l.run();
            })
            .map_err(|source| RunError::Io {
                what: "spawn worker".into(),
                source,
            })?;
        handles.push(h);
    }
    let api_handle = prometheus.map(|handle| {
        let (shared, table) = (Arc::clone(&shared), Arc::clone(&table));
        std::thread::Builder::new()
            .name("xvs-api".into())
            .spawn(move || api.serve(shared, table, handle))
    });

    let has_vrrp = vrrp.is_some();
    let mut control = Control::new(
        Arc::clone(&shared),
        from_workers,
        ctl_ifaces,
        registry,
        Some(opts.config.clone()),
        Arc::clone(&reload),
        Arc::clone(&table),
        SteeringSet { steering },
        Arc::clone(&file_snapshot),
        vrrp,
    );
    let (views_tx, views_rx) = channel::unbounded();
    let health = crate::health::HealthThread::spawn(
        Arc::clone(&file_snapshot),
        Arc::clone(&shared),
        views_tx,
    )
    .map_err(|source| RunError::Io {
        what: "health-check thread".into(),
        source,
    })?;
    control.attach_health(health, views_rx);
    control.wake_on(stop_wake);
    control.attach_calls(calls_rx, running);
    if let (Some(cfg), Some(link)) = (&snap.sync, &sync_link) {
        let mtu = snap
            .interfaces
            .iter()
            .find(|i| i.name == cfg.interface)
            .map_or(1500, |i| i.mtu);
        let mut driver = SyncDriver::start(
            cfg,
            mtu,
            Arc::clone(link),
            Arc::clone(&table),
            has_vrrp,
            Instant::now(),
        )
        .map_err(|source| RunError::Io {
            what: format!("sync socket on {} port {}", cfg.interface, cfg.port),
            source,
        })?;
        driver.set_synproxy(synproxy.clone());
        tracing::info!(
            "connection sync on {} port {} with {}{}",
            cfg.interface,
            cfg.port,
            cfg.peers
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", "),
            if cfg.bulk {
                "; asking for a bulk transfer before preempting"
            } else {
                ""
            }
        );
        control.attach_sync(driver);
    }
    if let Some(cfg) = &snap.announce {
        let driver = crate::announce::AnnounceDriver::start(
            cfg,
            Arc::clone(&workers_running),
            Arc::clone(&stop_requested),
        )
        .map_err(|e| RunError::Setup(format!("announce: route device {}: {e}", cfg.device)))?;
        tracing::info!(
            "announcing {} VIP(s) through routes on {} (table {}, proto {}) for BIRD; drain time {:?}",
            cfg.vips.len(),
            cfg.device,
            cfg.table,
            cfg.protocol,
            cfg.drain_time
        );
        control.attach_announce(driver);
    }
    // VRRP's timers run here: never behind a busy-polling worker.
    if let Err(e) = crate::health::keep_off_cores(&snap.global.workers) {
        tracing::warn!("control thread: cannot keep off the worker cores: {e}");
    }
    // Workers, the control socket, health checks and sync run: ready.
    let version = shared.plan.load().version;
    tracing::info!(
        version,
        "running {} service(s) on {} interface(s) with {} worker(s), {} mode; control socket {}",
        plan.services.len(),
        snap.interfaces.len(),
        nworkers,
        if zero_copy { "zero-copy" } else { "copy" },
        opts.control_socket.display()
    );
    notifier.ready(&crate::control::running_status(version));
    control.notify_systemd(notifier);
    control.run();

    stop.store(true, Ordering::Relaxed);
    control.stop_health();
    for h in handles {
        let _ = h.join();
    }
    if let Some(Ok(h)) = api_handle {
        let _ = h.join();
    }
    // Dropping `control` drops the steering programs: detached.
    drop(control);
    tracing::info!("stopped");
    Ok(())
}

/// Default control socket path.
pub fn default_control_socket() -> PathBuf {
    Path::new("/run/xvs/xvs.sock").to_path_buf()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_configured_cookie_key_is_used_else_a_random_one() {
        let keyed = xvs_config::load_str(
            "global:\n  synproxy_key: 0102030405060708090a0b0c0d0e0f10\n",
            "k.yaml",
        )
        .expect("valid");
        let expected: [u8; 16] = std::array::from_fn(|i| i as u8 + 1);
        assert_eq!(synproxy_key(&keyed.global).expect("key"), expected);
        let plain = xvs_config::load_str("{}\n", "p.yaml").expect("valid");
        let (a, b) = (
            synproxy_key(&plain.global).expect("key"),
            synproxy_key(&plain.global).expect("key"),
        );
        assert_ne!(a, b, "a fresh random key each time");
        assert_ne!(a, expected);
    }
}
