//! Checks across sections that `xvs run` would otherwise only meet at
//! start-up: the workers against each interface's queues (and queue ids
//! the steering program can map), and one address
//! given two roles (twice on the interfaces, in two local pools with
//! overlapping ports, a local address that is also a VIP). Run by
//! `check`, `run` and `reload` alike, since they all load through
//! [`super::resolve`].

use std::collections::HashMap;
use std::net::IpAddr;

use super::service::addr_port;
use super::{Ctx, Result};
use crate::model::{Global, Interface, LocalAddressPool, VirtualService};
use crate::raw::RawInterface;

/// Sockets the steering program's XSKMAP holds, indexed by RX queue id
/// (crates/xdp/bpf/steer.c, `max_entries` of `xsks`): a socket on a higher
/// queue could not be registered.
const STEER_QUEUES: u32 = 256;

/// Every worker owns one AF_XDP socket on every interface (the daemon hands
/// queue position p of each interface to worker `p % workers`), so an
/// interface needs at least as many queues as there are workers: a worker
/// without a queue on an interface could neither receive from it nor send
/// on it.
pub(super) fn check_queues(
    raw: &[RawInterface],
    global: &Global,
    interfaces: &[Interface],
    ctx: &Ctx<'_>,
) -> Result<()> {
    let workers = global.workers.len();
    for (i, (iface, raw)) in interfaces.iter().zip(raw).enumerate() {
        if let Some(j) = iface.queues.iter().position(|&q| q >= STEER_QUEUES) {
            return Err(ctx.err(
                format!("interfaces[{i}].queues[{j}]"),
                format!(
                    "queue {} is beyond the {STEER_QUEUES} queues (0..={}) the steering \
                     program can hand to sockets; use a lower queue id",
                    iface.queues[j],
                    STEER_QUEUES - 1
                ),
            ));
        }
        let have = iface.queues.len();
        if have >= workers {
            continue;
        }
        let name = &iface.name;
        let wanted = list((0..workers).map(|q| q.to_string()));
        let cores = list(global.workers.iter().map(ToString::to_string));
        let fix = format!(
            "list {workers} queues here, e.g. `queues: [{wanted}]`, and give {name} that many \
             (ethtool -L {name} combined {workers}), or use one worker per queue \
             (e.g. `workers: [{}]`)",
            list(global.workers.iter().take(have).map(ToString::to_string))
        );
        let (key, what) = if raw.queues.is_some() {
            (
                format!("interfaces[{i}].queues"),
                format!(
                    "{have} queue{} ([{}])",
                    plural(have),
                    list(iface.queues.iter().map(ToString::to_string))
                ),
            )
        } else {
            (
                format!("interfaces[{i}]"),
                "no `queues:`, so queue 0 only,".to_string(),
            )
        };
        return Err(ctx.err(
            key,
            format!(
                "{what} for {workers} workers (global.workers [{cores}]): every worker needs a \
                 queue of its own on every interface; {fix}"
            ),
        ));
    }
    Ok(())
}

/// One address, one role. The director's own addresses must be unique
/// across its interfaces (ARP/ND would answer for one of them only, and
/// the kernel would pick either as source); a local address may sit in two
/// pools only with disjoint ports (each pool hands its ports out on its own,
/// so overlapping ranges would give two connections to one real server the
/// same ⟨LIP, lport⟩ and their replies could not be told apart); and a
/// local address cannot also be a VIP (the steering program claims both,
/// and a reply to a local port could not be told from a client's packet to
/// the service).
pub(super) fn check_addresses(
    interfaces: &[Interface],
    pools: &[LocalAddressPool],
    services: &[VirtualService],
    ctx: &Ctx<'_>,
) -> Result<()> {
    let mut own: HashMap<IpAddr, (usize, usize)> = HashMap::new();
    for (i, iface) in interfaces.iter().enumerate() {
        for (j, net) in iface.addresses.iter().enumerate() {
            if let Some((fi, fj)) = own.insert(net.addr, (i, j)) {
                let first = &interfaces[fi].name;
                let where_ = if fi == i {
                    format!("it is already listed at addresses[{fj}]")
                } else {
                    format!(
                        "it is already an address of interface {first} (interfaces[{fi}].addresses[{fj}]); \
                         an address belongs to one interface"
                    )
                };
                return Err(ctx.err(
                    format!("interfaces[{i}].addresses[{j}]"),
                    format!("{} is given twice: {where_}", net.addr),
                ));
            }
        }
    }

    let mut vips: HashMap<IpAddr, usize> = HashMap::new();
    for (s, svc) in services.iter().enumerate() {
        vips.entry(svc.vip).or_insert(s);
    }
    let mut locals: HashMap<IpAddr, (usize, usize)> = HashMap::new();
    for (p, pool) in pools.iter().enumerate() {
        for (j, &addr) in pool.addresses.iter().enumerate() {
            let key = format!("local_pools[{p}].addresses[{j}]");
            if let Some(&s) = vips.get(&addr) {
                let svc = &services[s];
                return Err(ctx.err(
                    key,
                    format!(
                        "local address {addr} is also the VIP of services[{s}] ({} {}): replies \
                         to a local port could not be told from clients of the service; give \
                         the pool an address of its own",
                        svc.protocol,
                        addr_port(svc.vip, svc.port)
                    ),
                ));
            }
            if let Some(&(fp, fj)) = locals.get(&addr) {
                let other = &pools[fp];
                let overlap = pool.port_min <= other.port_max && other.port_min <= pool.port_max;
                if overlap {
                    return Err(ctx.err(
                        key,
                        format!(
                            "local address {addr} is already in pool `{}` \
                             (local_pools[{fp}].addresses[{fj}]) with ports {}-{} overlapping \
                             {}-{} here: two connections could get the same source port; give \
                             the pools disjoint `ports:` or different addresses",
                            other.name,
                            other.port_min,
                            other.port_max,
                            pool.port_min,
                            pool.port_max
                        ),
                    ));
                }
            }
            locals.insert(addr, (p, j));
        }
    }
    Ok(())
}

fn list(items: impl Iterator<Item = String>) -> String {
    items.collect::<Vec<_>>().join(", ")
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

#[cfg(test)]
mod tests {
    use crate::load_str;

    /// The error `yaml` is rejected with, as `xvs check` prints it.
    #[track_caller]
    fn rejected(yaml: &str) -> String {
        match load_str(yaml, "c.yaml") {
            Ok(_) => panic!("accepted:\n{yaml}"),
            Err(e) => e.to_string(),
        }
    }

    const TWO_WORKERS: &str = "global:\n  workers: [0, 1]\ninterfaces:\n";

    #[test]
    fn two_workers_on_the_default_single_queue_are_refused() {
        // The README's old sample: two workers, no `queues:`.
        let yaml = format!(
            "{TWO_WORKERS}  - name: eth0\n    addresses: [198.18.0.2/24]\n  - name: eth1\n    addresses: [198.18.1.1/24]\n"
        );
        assert_eq!(
            rejected(&yaml),
            "c.yaml:4:5: interfaces[0]: no `queues:`, so queue 0 only, for 2 workers \
             (global.workers [0, 1]): every worker needs a queue of its own on every interface; \
             list 2 queues here, e.g. `queues: [0, 1]`, and give eth0 that many \
             (ethtool -L eth0 combined 2), or use one worker per queue (e.g. `workers: [0]`)"
        );
    }

    #[test]
    fn fewer_listed_queues_than_workers_point_at_the_queues() {
        let yaml = "global:\n  workers: [2, 3, 4]\ninterfaces:\n  - name: eth0\n    queues: [0, 1, 2]\n  - name: eth1\n    queues: [0, 1]\n";
        assert_eq!(
            rejected(yaml),
            "c.yaml:7:5: interfaces[1].queues: 2 queues ([0, 1]) for 3 workers \
             (global.workers [2, 3, 4]): every worker needs a queue of its own on every \
             interface; list 3 queues here, e.g. `queues: [0, 1, 2]`, and give eth1 that many \
             (ethtool -L eth1 combined 3), or use one worker per queue (e.g. `workers: [2, 3]`)"
        );
    }

    #[test]
    fn as_many_queues_as_workers_or_more_are_accepted() {
        let yaml = format!("{TWO_WORKERS}  - name: eth0\n    queues: [4, 5, 6]\n  - name: eth1\n    queues: [0, 1]\n");
        assert!(load_str(&yaml, "ok.yaml").is_ok());
        assert!(load_str("interfaces:\n  - name: eth0\n", "ok.yaml").is_ok());
    }

    #[test]
    fn a_queue_the_steering_program_cannot_map_is_refused() {
        let yaml = "interfaces:\n  - name: eth0\n    queues: [0, 256]\n";
        assert_eq!(
            rejected(yaml),
            "c.yaml:3:17: interfaces[0].queues[1]: queue 256 is beyond the 256 queues \
             (0..=255) the steering program can hand to sockets; use a lower queue id"
        );
        assert!(load_str(
            "interfaces:\n  - name: eth0\n    queues: [255]\n",
            "ok.yaml"
        )
        .is_ok());
    }

    #[test]
    fn an_address_on_two_interfaces_is_refused() {
        let yaml = "interfaces:\n  - name: eth0\n    addresses: [198.18.0.2/24]\n  - name: eth1\n    addresses: [198.18.1.1/24, 198.18.0.2/32]\n";
        assert_eq!(
            rejected(yaml),
            "c.yaml:5:32: interfaces[1].addresses[1]: 198.18.0.2 is given twice: it is already \
             an address of interface eth0 (interfaces[0].addresses[0]); an address belongs to \
             one interface"
        );
    }

    #[test]
    fn an_address_twice_on_one_interface_is_refused() {
        let yaml =
            "interfaces:\n  - name: eth0\n    addresses: [\"fd00::2/64\", \"fd00::2/128\"]\n";
        assert_eq!(
            rejected(yaml),
            "c.yaml:3:31: interfaces[0].addresses[1]: fd00::2 is given twice: it is already \
             listed at addresses[0]"
        );
    }

    const FULLNAT_SERVICE: &str = "services:\n  - vip: 198.18.0.100\n    port: 80\n    method: fullnat\n    local_pool: a\n    real_servers:\n      - address: 198.18.1.11\n";

    #[test]
    fn a_local_address_that_is_a_vip_is_refused() {
        let yaml = format!(
            "local_pools:\n  - name: a\n    addresses: [198.18.1.200, 198.18.0.100]\n{FULLNAT_SERVICE}"
        );
        assert_eq!(
            rejected(&yaml),
            "c.yaml:3:31: local_pools[0].addresses[1]: local address 198.18.0.100 is also the \
             VIP of services[0] (TCP 198.18.0.100:80): replies to a local port could not be told \
             from clients of the service; give the pool an address of its own"
        );
    }

    #[test]
    fn a_local_address_in_two_pools_needs_disjoint_ports() {
        let pools = "local_pools:\n  - name: a\n    addresses: [198.18.1.200]\n    ports: 1024-40000\n  - name: b\n    addresses: [198.18.1.201, 198.18.1.200]\n";
        let yaml = format!("{pools}    ports: 30000-65535\n{FULLNAT_SERVICE}");
        assert_eq!(
            rejected(&yaml),
            "c.yaml:6:31: local_pools[1].addresses[1]: local address 198.18.1.200 is already in \
             pool `a` (local_pools[0].addresses[0]) with ports 1024-40000 overlapping \
             30000-65535 here: two connections could get the same source port; give the pools \
             disjoint `ports:` or different addresses"
        );
        let disjoint = format!("{pools}    ports: 40001-65535\n{FULLNAT_SERVICE}");
        assert!(load_str(&disjoint, "ok.yaml").is_ok());
    }

    #[test]
    fn a_pool_needs_a_port_for_every_worker() {
        // Each worker owns a disjoint slice of every local address's ports.
        let yaml = format!(
            "global:\n  workers: [0, 1, 2]\nlocal_pools:\n  - name: a\n    addresses: [198.18.1.200]\n    ports: 5000-5001\n{FULLNAT_SERVICE}"
        );
        assert_eq!(
            rejected(&yaml),
            "c.yaml:6:5: local_pools[0].ports: 2 ports cannot be shared among 3 workers; each \
             worker needs its own ports"
        );
    }
}
