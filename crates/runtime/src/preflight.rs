//! `xvs run`'s preflight: what only the running host can tell about a
//! configuration that `xvs check` accepted — an interface that does not
//! exist here, one that is not Ethernet, a NIC with fewer RX queues than
//! the queue ids the file binds, a kernel too old to share one UMEM among
//! several sockets, missing privileges, a locked-memory limit too small for
//! the UMEMs. All of it is read before anything is attached or bound, so a
//! refused start leaves every interface as it was, and the refusal is one
//! line that says what is wrong and what to change.
//!
//! Layer: runtime. [`HostFacts::read`] reads /proc and /sys (and asks the
//! kernel for each interface's index); [`decide`] is pure, so its every
//! answer is tested on made-up facts.

use xvs_config::marks::KeyIndex;
use xvs_config::Snapshot;

/// Linux capability numbers (linux/capability.h).
const CAP_NET_ADMIN: u32 = 12;
const CAP_NET_RAW: u32 = 13;
const CAP_IPC_LOCK: u32 = 14;
const CAP_SYS_ADMIN: u32 = 21;
const CAP_BPF: u32 = 39;

/// ARPHRD_ETHER (linux/if_arp.h): the only link type the steering program
/// and the workers parse.
const ARPHRD_ETHER: u16 = 1;

/// XDP_SHARED_UMEM between sockets of different queues or devices came
/// with Linux 5.10 ("xsk: Enable sharing of buffer pool between queues and
/// devices"); before, a worker could own one socket only.
const SHARED_UMEM_KERNEL: (u32, u32) = (5, 10);

/// What the configuration asks of one interface, with where the file says it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IfaceNeeds {
    pub name: String,
    pub queues: Vec<u32>,
    /// `file:line:col` of the interface's entry.
    pub at: String,
    /// `file:line:col` of its `queues:` key (the entry's when not given).
    pub queues_at: String,
}

/// What the configuration asks of the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Needs {
    pub interfaces: Vec<IfaceNeeds>,
    pub workers: usize,
    /// Bytes of UMEM every worker registers (pinned: RLIMIT_MEMLOCK).
    pub umem_bytes_per_worker: u64,
}

impl Needs {
    /// From a loaded configuration and its text (for the positions).
    pub fn of(snap: &Snapshot, text: &str, origin: &str, frame_size: u32) -> Needs {
        let index = KeyIndex::build(text).ok();
        let at = |key: &str| match &index {
            Some(i) => format!("{origin}:{}", i.locate(key)),
            None => origin.to_string(),
        };
        Needs {
            interfaces: snap
                .interfaces
                .iter()
                .enumerate()
                .map(|(i, iface)| IfaceNeeds {
                    name: iface.name.clone(),
                    queues: iface.queues.clone(),
                    at: at(&format!("interfaces[{i}]")),
                    queues_at: at(&format!("interfaces[{i}].queues")),
                })
                .collect(),
            workers: snap.global.workers.len().max(1),
            umem_bytes_per_worker: u64::from(snap.global.umem_frames) * u64::from(frame_size),
        }
    }

    /// True when some worker owns more than one socket (several interfaces,
    /// or more queues than workers): they share the worker's UMEM.
    fn shares_umem(&self) -> bool {
        let sockets: usize = self.interfaces.iter().map(|i| i.queues.len()).sum();
        sockets > self.workers
    }
}

/// What the host says about one interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IfaceFacts {
    /// False when the kernel knows no interface by that name (in this
    /// network namespace).
    pub exists: bool,
    /// From /sys/class/net/IF, when that is this namespace's view of the
    /// same interface (its ifindex matches); `None` when it cannot be told.
    pub sys: Option<SysFacts>,
}

/// /sys/class/net/IF: the link type and how many RX queues the kernel set
/// up (real_num_rx_queues: what `ethtool -L` changes, what AF_XDP binds to).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SysFacts {
    pub link_type: u16,
    pub rx_queues: u32,
}

/// RLIMIT_MEMLOCK.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemLock {
    Unlimited,
    Bytes(u64),
}

/// Everything [`decide`] looks at; `None` where the host could not tell
/// (the check that needs it is then skipped, never guessed).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HostFacts {
    /// In the order of [`Needs::interfaces`].
    pub interfaces: Vec<IfaceFacts>,
    /// (major, minor) of the running kernel.
    pub kernel: Option<(u32, u32)>,
    /// The effective capability set (CapEff).
    pub capabilities: Option<u64>,
    pub memlock: Option<MemLock>,
}

impl HostFacts {
    /// Read the facts for `needs` from this host.
    pub fn read(needs: &Needs) -> HostFacts {
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        HostFacts {
            interfaces: needs
                .interfaces
                .iter()
                .map(|i| iface_facts(&i.name))
                .collect(),
            kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .ok()
                .and_then(|t| parse_kernel(&t)),
            capabilities: parse_cap_eff(&status),
            memlock: std::fs::read_to_string("/proc/self/limits")
                .ok()
                .and_then(|t| parse_memlock(&t)),
        }
    }
}

fn iface_facts(name: &str) -> IfaceFacts {
    let Ok(ifindex) = xvs_xsk::ifindex(name) else {
        return IfaceFacts::default();
    };
    let dir = std::path::Path::new("/sys/class/net").join(name);
    let read = |file: &str| std::fs::read_to_string(dir.join(file)).ok();
    // A process moved into another network namespace without remounting
    // /sys sees the old namespace's devices there: trust /sys only when it
    // shows the interface the kernel just named.
    let same = read("ifindex").and_then(|t| t.trim().parse::<u32>().ok()) == Some(ifindex);
    let sys = same
        .then(|| {
            let link_type = read("type")?.trim().parse().ok()?;
            let rx_queues = std::fs::read_dir(dir.join("queues"))
                .ok()?
                .filter_map(Result::ok)
                .filter(|e| e.file_name().to_string_lossy().starts_with("rx-"))
                .count();
            Some(SysFacts {
                link_type,
                rx_queues: u32::try_from(rx_queues).ok()?,
            })
        })
        .flatten();
    IfaceFacts { exists: true, sys }
}

/// `6.18.0-1-amd64` → (6, 18).
pub fn parse_kernel(release: &str) -> Option<(u32, u32)> {
    let mut parts = release.trim().split(['.', '-']);
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

/// The `CapEff:` line of /proc/self/status (hexadecimal).
pub fn parse_cap_eff(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("CapEff:"))?;
    u64::from_str_radix(line.split_whitespace().nth(1)?, 16).ok()
}

/// The soft limit of `Max locked memory` in /proc/self/limits.
pub fn parse_memlock(limits: &str) -> Option<MemLock> {
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max locked memory"))?;
    let soft = line
        .trim_start_matches("Max locked memory")
        .split_whitespace()
        .next()?;
    if soft == "unlimited" {
        Some(MemLock::Unlimited)
    } else {
        soft.parse().ok().map(MemLock::Bytes)
    }
}

fn has(caps: u64, cap: u32) -> bool {
    caps & (1u64 << cap) != 0
}

fn list(items: &[u32]) -> String {
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn mib(bytes: u64) -> String {
    format!("{} MiB", bytes.div_ceil(1 << 20))
}

/// The first thing the host cannot give the configuration, as the one line
/// `xvs run` prints; `Ok` when nothing is known to be missing.
pub fn decide(needs: &Needs, host: &HostFacts) -> Result<(), String> {
    for (want, fact) in needs.interfaces.iter().zip(&host.interfaces) {
        let name = &want.name;
        if !fact.exists {
            return Err(format!(
                "interface {name} ({}) does not exist on this host: change the name to one \
                 `ip link` lists, or create {name} first",
                want.at
            ));
        }
        let Some(sys) = fact.sys else { continue };
        if sys.link_type != ARPHRD_ETHER {
            return Err(format!(
                "interface {name} ({}) is not Ethernet (link type {}): xvs forwards Ethernet \
                 frames only; use the Ethernet interface the traffic arrives on",
                want.at, sys.link_type
            ));
        }
        let Some(&highest) = want.queues.iter().max() else {
            continue;
        };
        let have = sys.rx_queues;
        if highest >= have {
            let need = highest + 1;
            let queues = if have == 1 { "queue" } else { "queues" };
            let workers = needs.workers;
            let fix = if workers as u64 > u64::from(have) {
                format!(
                    "set global.workers to {have} core{} and queues to [{}]",
                    if have == 1 { "" } else { "s" },
                    list(&(0..have).collect::<Vec<_>>())
                )
            } else {
                format!(
                    "use queues below {have}, e.g. [{}]",
                    list(&(0..have.min(workers as u32).max(1)).collect::<Vec<_>>())
                )
            };
            return Err(format!(
                "interface {name} has {have} RX {queues} but {} asks for queues [{}] \
                 ({workers} worker{}): {fix}, or give {name} {need} queues \
                 (ethtool -L {name} combined {need})",
                want.queues_at,
                list(&want.queues),
                if workers == 1 { "" } else { "s" },
            ));
        }
    }

    if let Some((major, minor)) = host.kernel {
        if needs.shares_umem() && (major, minor) < SHARED_UMEM_KERNEL {
            return Err(format!(
                "Linux {major}.{minor} cannot share a worker's UMEM between sockets of several \
                 queues or interfaces (needs {}.{}): run on a newer kernel, or give each worker \
                 one socket (one interface, as many queues as workers)",
                SHARED_UMEM_KERNEL.0, SHARED_UMEM_KERNEL.1
            ));
        }
    }

    if let Some(caps) = host.capabilities {
        let mut missing = Vec::new();
        if !has(caps, CAP_NET_ADMIN) {
            missing.push("CAP_NET_ADMIN (attach XDP)");
        }
        if !has(caps, CAP_NET_RAW) {
            missing.push("CAP_NET_RAW (AF_XDP and ARP sockets)");
        }
        if !has(caps, CAP_BPF) && !has(caps, CAP_SYS_ADMIN) {
            missing.push("CAP_BPF (load the steering program)");
        }
        if !missing.is_empty() {
            return Err(format!(
                "missing {}: run as root, or grant them (dist/xvs.service: AmbientCapabilities=)",
                missing.join(", ")
            ));
        }
        // The kernel pins every UMEM page against RLIMIT_MEMLOCK unless the
        // process has CAP_IPC_LOCK (xdp_umem_account_pages()).
        if !has(caps, CAP_IPC_LOCK) {
            if let Some(MemLock::Bytes(limit)) = host.memlock {
                let need = needs.umem_bytes_per_worker * needs.workers as u64;
                if need > limit {
                    return Err(format!(
                        "the locked-memory limit is {} but the UMEMs of {} worker{} need {}: \
                         raise it (ulimit -l unlimited; LimitMEMLOCK=infinity in the unit), \
                         grant CAP_IPC_LOCK, or lower global.umem_frames",
                        mib(limit),
                        needs.workers,
                        if needs.workers == 1 { "" } else { "s" },
                        mib(need)
                    ));
                }
            }
        }
    }
    Ok(())
}

/// Read the host and decide: the check `xvs run` makes before it attaches
/// or binds anything.
pub fn check(snap: &Snapshot, text: &str, origin: &str, frame_size: u32) -> Result<(), String> {
    let needs = Needs::of(snap, text, origin, frame_size);
    decide(&needs, &HostFacts::read(&needs))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROOT_CAPS: u64 = 0x1ff_ffff_ffff;

    fn iface(name: &str, queues: &[u32]) -> IfaceNeeds {
        IfaceNeeds {
            name: name.into(),
            queues: queues.to_vec(),
            at: "config.yaml:9:5".into(),
            queues_at: "config.yaml:12:5".into(),
        }
    }

    fn needs(workers: usize, interfaces: Vec<IfaceNeeds>) -> Needs {
        Needs {
            interfaces,
            workers,
            umem_bytes_per_worker: 4096 * 4096,
        }
    }

    fn veth(rx_queues: u32) -> IfaceFacts {
        IfaceFacts {
            exists: true,
            sys: Some(SysFacts {
                link_type: ARPHRD_ETHER,
                rx_queues,
            }),
        }
    }

    fn host(interfaces: Vec<IfaceFacts>) -> HostFacts {
        HostFacts {
            interfaces,
            kernel: Some((6, 18)),
            capabilities: Some(ROOT_CAPS),
            memlock: Some(MemLock::Bytes(8 << 20)),
        }
    }

    #[test]
    fn a_nic_with_fewer_rx_queues_than_the_workers_need() {
        let n = needs(2, vec![iface("eth1", &[0, 1])]);
        assert_eq!(
            decide(&n, &host(vec![veth(1)])),
            Err(
                "interface eth1 has 1 RX queue but config.yaml:12:5 asks for queues [0, 1] \
                 (2 workers): set global.workers to 1 core and queues to [0], or give eth1 2 \
                 queues (ethtool -L eth1 combined 2)"
                    .into()
            )
        );
        assert_eq!(decide(&n, &host(vec![veth(2)])), Ok(()));
        assert_eq!(decide(&n, &host(vec![veth(8)])), Ok(()));
    }

    #[test]
    fn a_queue_id_beyond_the_nic_with_enough_queues_for_the_workers() {
        let n = needs(1, vec![iface("eth0", &[3])]);
        assert_eq!(
            decide(&n, &host(vec![veth(2)])),
            Err(
                "interface eth0 has 2 RX queues but config.yaml:12:5 asks for queues [3] \
                 (1 worker): use queues below 2, e.g. [0], or give eth0 4 queues \
                 (ethtool -L eth0 combined 4)"
                    .into()
            )
        );
    }

    #[test]
    fn a_missing_interface() {
        let n = needs(1, vec![iface("eth0", &[0]), iface("eth9", &[0])]);
        assert_eq!(
            decide(&n, &host(vec![veth(1), IfaceFacts::default()])),
            Err(
                "interface eth9 (config.yaml:9:5) does not exist on this host: change the name \
                 to one `ip link` lists, or create eth9 first"
                    .into()
            )
        );
    }

    #[test]
    fn an_interface_that_is_not_ethernet() {
        let n = needs(1, vec![iface("lo", &[0])]);
        let lo = IfaceFacts {
            exists: true,
            sys: Some(SysFacts {
                link_type: 772,
                rx_queues: 1,
            }),
        };
        assert_eq!(
            decide(&n, &host(vec![lo])),
            Err(
                "interface lo (config.yaml:9:5) is not Ethernet (link type 772): xvs forwards \
                 Ethernet frames only; use the Ethernet interface the traffic arrives on"
                    .into()
            )
        );
    }

    #[test]
    fn what_sys_cannot_tell_is_not_guessed() {
        // /sys of another namespace: exists, but no queue count or type.
        let n = needs(2, vec![iface("eth1", &[0, 1])]);
        let unknown = IfaceFacts {
            exists: true,
            sys: None,
        };
        assert_eq!(decide(&n, &host(vec![unknown])), Ok(()));
        let nothing = HostFacts {
            interfaces: vec![unknown],
            ..HostFacts::default()
        };
        assert_eq!(decide(&n, &nothing), Ok(()));
    }

    #[test]
    fn a_kernel_without_shared_umem_across_queues() {
        let n = needs(1, vec![iface("eth0", &[0]), iface("eth1", &[0])]);
        let mut h = host(vec![veth(1), veth(1)]);
        h.kernel = Some((5, 4));
        assert_eq!(
            decide(&n, &h),
            Err(
                "Linux 5.4 cannot share a worker's UMEM between sockets of several queues or \
                 interfaces (needs 5.10): run on a newer kernel, or give each worker one socket \
                 (one interface, as many queues as workers)"
                    .into()
            )
        );
        // One socket per worker needs no sharing.
        let single = needs(2, vec![iface("eth0", &[0, 1])]);
        let mut h = host(vec![veth(2)]);
        h.kernel = Some((5, 4));
        assert_eq!(decide(&single, &h), Ok(()));
    }

    #[test]
    fn missing_privileges() {
        let n = needs(1, vec![iface("eth0", &[0])]);
        let mut h = host(vec![veth(1)]);
        h.capabilities = Some(0);
        assert_eq!(
            decide(&n, &h),
            Err(
                "missing CAP_NET_ADMIN (attach XDP), CAP_NET_RAW (AF_XDP and ARP sockets), \
                 CAP_BPF (load the steering program): run as root, or grant them \
                 (dist/xvs.service: AmbientCapabilities=)"
                    .into()
            )
        );
        // CAP_SYS_ADMIN stands in for CAP_BPF (kernels before 5.8).
        h.capabilities = Some(
            (1 << CAP_NET_ADMIN) | (1 << CAP_NET_RAW) | (1 << CAP_SYS_ADMIN) | (1 << CAP_IPC_LOCK),
        );
        assert_eq!(decide(&n, &h), Ok(()));
    }

    #[test]
    fn a_locked_memory_limit_below_the_umems() {
        let n = needs(2, vec![iface("eth0", &[0, 1])]);
        let mut h = host(vec![veth(2)]);
        h.capabilities = Some((1 << CAP_NET_ADMIN) | (1 << CAP_NET_RAW) | (1 << CAP_BPF));
        assert_eq!(
            decide(&n, &h),
            Err(
                "the locked-memory limit is 8 MiB but the UMEMs of 2 workers need 32 MiB: \
                 raise it (ulimit -l unlimited; LimitMEMLOCK=infinity in the unit), grant \
                 CAP_IPC_LOCK, or lower global.umem_frames"
                    .into()
            )
        );
        h.memlock = Some(MemLock::Unlimited);
        assert_eq!(decide(&n, &h), Ok(()));
        // Root (CAP_IPC_LOCK) is not held to the limit.
        h.memlock = Some(MemLock::Bytes(8 << 20));
        h.capabilities = Some(ROOT_CAPS);
        assert_eq!(decide(&n, &h), Ok(()));
    }

    #[test]
    fn proc_files_are_parsed() {
        assert_eq!(parse_kernel("6.18.0-1-amd64\n"), Some((6, 18)));
        assert_eq!(parse_kernel("5.10.0"), Some((5, 10)));
        assert_eq!(parse_kernel("x"), None);
        assert_eq!(
            parse_cap_eff("Name:\txvs\nCapInh:\t0\nCapEff:\t000001ffffffffff\n"),
            Some(ROOT_CAPS)
        );
        let limits = "Limit                     Soft Limit           Hard Limit           Units     \n\
                      Max locked memory         8388608              8388608              bytes     \n";
        assert_eq!(parse_memlock(limits), Some(MemLock::Bytes(8 << 20)));
        let unlimited =
            "Max locked memory         unlimited            unlimited            bytes\n";
        assert_eq!(parse_memlock(unlimited), Some(MemLock::Unlimited));
    }

    #[test]
    fn positions_come_from_the_file() {
        let text = "global:\n  workers: [0, 1]\ninterfaces:\n  - name: eth0\n    queues: [0, 1]\n  - name: eth1\n    addresses: [198.18.1.1/24]\n    queues: [0, 1]\n";
        let snap = xvs_config::load_str(text, "c.yaml").expect("valid");
        let n = Needs::of(&snap, text, "c.yaml", 4096);
        assert_eq!(n.workers, 2);
        assert_eq!(n.interfaces[1].at, "c.yaml:6:5");
        assert_eq!(n.interfaces[1].queues_at, "c.yaml:8:5");
        assert_eq!(n.umem_bytes_per_worker, 4096 * 4096);
    }
}
