//! Runtime changes against a simple model: random sequences of adds,
//! edits, removals and drains on config/lab.yaml succeed exactly when the
//! model says ipvsadm would, leave the services and real servers the
//! model has, and are atomic when refused; after each one the saved YAML
//! loads to the same snapshot. Also: every example file survives
//! from_text → to_yaml → load, and many changes on each of them.

use std::net::IpAddr;
use std::path::Path;

use proptest::prelude::*;
use xvs_config::edit::{Change, RunningConfig, ServerRef, ServiceRef};
use xvs_config::{load_str, Protocol, SchedulerKind, Snapshot};

const LAB: &str = include_str!("../../../config/lab.yaml");

#[derive(Clone, Debug, PartialEq, Eq)]
struct ModelService {
    id: ServiceRef,
    scheduler: SchedulerKind,
    /// (address, port, weight) in list order.
    servers: Vec<(IpAddr, u16, u32)>,
}

fn project(snap: &Snapshot) -> Vec<ModelService> {
    snap.services
        .iter()
        .map(|s| ModelService {
            id: ServiceRef::of(s),
            scheduler: s.scheduler,
            servers: s
                .real_servers
                .iter()
                .map(|r| (r.address, r.port, r.weight))
                .collect(),
        })
        .collect()
}

#[derive(Clone, Debug)]
enum Op {
    AddService(ServiceRef),
    RemoveService(ServiceRef),
    EditScheduler(ServiceRef, SchedulerKind),
    AddServer(ServiceRef, IpAddr, Option<u16>, u32),
    EditWeight(ServiceRef, ServerRef, u32),
    RemoveServer(ServiceRef, ServerRef),
    Drain(ServiceRef, ServerRef),
}

fn services() -> impl Strategy<Value = ServiceRef> {
    (
        any::<bool>(),
        100u8..=101,
        prop_oneof![Just(80u16), Just(81)],
    )
        .prop_map(|(udp, last, port)| ServiceRef {
            protocol: if udp { Protocol::Udp } else { Protocol::Tcp },
            vip: IpAddr::from([198, 18, 0, last]),
            port,
        })
}

fn addresses() -> impl Strategy<Value = IpAddr> {
    (11u8..=14).prop_map(|last| IpAddr::from([198, 18, 1, last]))
}

fn ports() -> impl Strategy<Value = Option<u16>> {
    prop_oneof![Just(None), Just(Some(80u16)), Just(Some(8080))]
}

fn servers() -> impl Strategy<Value = ServerRef> {
    (addresses(), ports()).prop_map(|(address, port)| ServerRef { address, port })
}

/// Mostly valid weights, and one ipvsadm refuses.
fn weights() -> impl Strategy<Value = u32> {
    prop_oneof![Just(0u32), Just(1), Just(3), Just(65_535), Just(70_000)]
}

fn ops() -> impl Strategy<Value = Op> {
    let scheduler = prop_oneof![Just(SchedulerKind::Rr), Just(SchedulerKind::Wlc)];
    prop_oneof![
        services().prop_map(Op::AddService),
        services().prop_map(Op::RemoveService),
        (services(), scheduler).prop_map(|(s, k)| Op::EditScheduler(s, k)),
        (services(), addresses(), ports(), weights())
            .prop_map(|(s, a, p, w)| Op::AddServer(s, a, p, w)),
        (services(), servers(), weights()).prop_map(|(s, r, w)| Op::EditWeight(s, r, w)),
        (services(), servers()).prop_map(|(s, r)| Op::RemoveServer(s, r)),
        (services(), servers()).prop_map(|(s, r)| Op::Drain(s, r)),
    ]
}

fn change(op: &Op) -> Change {
    match *op {
        Op::AddService(s) => Change::AddService {
            yaml: format!(
                "{{vip: {}, port: {}, protocol: {}, method: nat, scheduler: rr}}",
                s.vip,
                s.port,
                if s.protocol == Protocol::Udp {
                    "udp"
                } else {
                    "tcp"
                }
            ),
        },
        Op::RemoveService(service) => Change::RemoveService { service },
        Op::EditScheduler(service, k) => Change::EditService {
            service,
            yaml: format!("scheduler: {k}\n"),
        },
        Op::AddServer(service, address, port, weight) => Change::AddRealServer {
            service,
            yaml: match port {
                Some(p) => format!("{{address: {address}, port: {p}, weight: {weight}}}"),
                None => format!("{{address: {address}, weight: {weight}}}"),
            },
        },
        Op::EditWeight(service, server, weight) => Change::EditRealServer {
            service,
            server,
            yaml: format!("{{weight: {weight}}}"),
        },
        Op::RemoveServer(service, server) => Change::RemoveRealServer { service, server },
        Op::Drain(service, server) => Change::DrainRealServer { service, server },
    }
}

/// ipvsadm's answer: the model after `op`, or None if refused.
fn model_apply(model: &[ModelService], op: &Op) -> Option<Vec<ModelService>> {
    let mut next = model.to_vec();
    let find = |id: ServiceRef| next.iter().position(|s| s.id == id);
    let server_at = |svc: &ModelService, r: &ServerRef| {
        let found: Vec<usize> = (0..svc.servers.len())
            .filter(|&j| {
                svc.servers[j].0 == r.address && r.port.is_none_or(|p| p == svc.servers[j].1)
            })
            .collect();
        (found.len() == 1).then(|| found[0])
    };
    match *op {
        Op::AddService(id) => {
            if find(id).is_some() {
                return None;
            }
            next.push(ModelService {
                id,
                scheduler: SchedulerKind::Rr,
                servers: Vec::new(),
            });
        }
        Op::RemoveService(id) => {
            let i = find(id)?;
            next.remove(i);
        }
        Op::EditScheduler(id, k) => {
            let i = find(id)?;
            next[i].scheduler = k;
        }
        Op::AddServer(id, address, port, weight) => {
            let i = find(id)?;
            let port = port.unwrap_or(id.port);
            let svc = &mut next[i];
            if weight > 65_535 || svc.servers.iter().any(|s| (s.0, s.1) == (address, port)) {
                return None;
            }
            svc.servers.push((address, port, weight));
        }
        Op::EditWeight(id, r, weight) => {
            let i = find(id)?;
            let j = server_at(&next[i], &r)?;
            if weight > 65_535 {
                return None;
            }
            next[i].servers[j].2 = weight;
        }
        Op::RemoveServer(id, r) => {
            let i = find(id)?;
            let j = server_at(&next[i], &r)?;
            next[i].servers.remove(j);
        }
        Op::Drain(id, r) => {
            let i = find(id)?;
            let j = server_at(&next[i], &r)?;
            next[i].servers[j].2 = 0;
        }
    }
    Some(next)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn changes_follow_the_model(ops in proptest::collection::vec(ops(), 1..40)) {
        let (mut running, snap) = RunningConfig::from_text(LAB, "lab.yaml").expect("valid");
        let mut model = project(&snap);
        let mut last = snap;
        let mut applied = 0;
        for op in &ops {
            let before = running.to_yaml();
            let expected = model_apply(&model, op);
            match (running.apply(&change(op)), expected) {
                (Ok(snap), Some(next)) => {
                    prop_assert_eq!(project(&snap), next.clone(), "{:?}", op);
                    let saved = load_str(&running.to_yaml(), "saved.yaml").expect("saved loads");
                    prop_assert_eq!(&saved, &snap);
                    model = next;
                    last = snap;
                    applied += 1;
                }
                (Err(e), None) => {
                    prop_assert_eq!(running.to_yaml(), before);
                    prop_assert_eq!(running.snapshot(), &last);
                    prop_assert!(e.to_string().starts_with("runtime change: "), "{}", e);
                }
                (got, want) => prop_assert!(false, "{:?}: got {:?}, the model says {:?}", op, got.map(|s| project(&s)), want),
            }
            prop_assert_eq!(running.changes(), applied);
        }
    }
}

fn examples() -> Vec<(String, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("config/ exists")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            (
                p.display().to_string(),
                std::fs::read_to_string(&p).expect("readable"),
            )
        })
        .collect()
}

#[test]
fn every_example_round_trips_through_to_yaml() {
    for (name, text) in examples() {
        let (running, snap) =
            RunningConfig::from_text(&text, &name).unwrap_or_else(|e| panic!("{e}"));
        let saved =
            load_str(&running.to_yaml(), "saved.yaml").unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(saved, snap, "{name}");
    }
}

/// On every example: drain and restore every real server, then remove
/// every service; each step's saved YAML loads to its snapshot.
#[test]
fn many_changes_on_every_example() {
    for (name, text) in examples() {
        let (mut running, file) = RunningConfig::from_text(&text, &name).expect("valid");
        let apply = |running: &mut RunningConfig, change: Change| {
            let snap = running
                .apply(&change)
                .unwrap_or_else(|e| panic!("{name}: {change}: {e}"));
            let saved = load_str(&running.to_yaml(), "saved.yaml")
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(saved, snap, "{name}: {change}");
            snap
        };
        for svc in &file.services {
            let service = ServiceRef::of(svc);
            for rs in &svc.real_servers {
                let server = ServerRef {
                    address: rs.address,
                    port: Some(rs.port),
                };
                let drained = apply(&mut running, Change::DrainRealServer { service, server });
                let now = drained
                    .services
                    .iter()
                    .find(|s| ServiceRef::of(s) == service)
                    .expect("kept");
                assert!(now
                    .real_servers
                    .iter()
                    .any(|r| r.address == rs.address && r.weight == 0));
                apply(
                    &mut running,
                    Change::EditRealServer {
                        service,
                        server,
                        yaml: format!("weight: {}", rs.weight),
                    },
                );
            }
        }
        assert!(
            xvs_config::edit::diff(&file, running.snapshot()).is_empty(),
            "{name}"
        );
        for svc in &file.services {
            apply(
                &mut running,
                Change::RemoveService {
                    service: ServiceRef::of(svc),
                },
            );
        }
        assert!(running.snapshot().services.is_empty());
    }
}
