//! End to end: two routers on one simulated link, every advert written by
//! the real codec (`build_frame`) and read back through `handle_frame`,
//! under one virtual clock. Election, failover on priority 0, split brain
//! seen and resolved within one advert interval, for VRRPv2/IPv4,
//! VRRPv3/IPv4 (multicast and unicast) and VRRPv3/IPv6.

mod common;

use std::time::{Duration, Instant};

use common::*;
use xvs_config::VrrpInstance;
use xvs_vrrp::{Action, InstanceEnv, Reason, Router, State};
use xvs_wire::vrrp::{build_frame, MULTICAST_MAC_V4, MULTICAST_MAC_V6};

struct Net {
    routers: Vec<Router>,
    t0: Instant,
    now: Instant,
    /// Frames cross the link.
    connected: bool,
    /// Every action with when and by whom.
    log: Vec<(Duration, usize, Action)>,
    frames: u64,
}

impl Net {
    fn new(cfgs: Vec<(VrrpInstance, InstanceEnv)>) -> Net {
        let t0 = Instant::now();
        let routers = cfgs
            .into_iter()
            .map(|(cfg, env)| Router::new(&[cfg], &[], &[], vec![env], t0))
            .collect();
        let mut net = Net {
            routers,
            t0,
            now: t0,
            connected: true,
            log: Vec::new(),
            frames: 0,
        };
        net.flush();
        net
    }

    fn flush(&mut self) {
        loop {
            let mut any = false;
            for i in 0..self.routers.len() {
                while let Some(action) = self.routers[i].poll_action() {
                    any = true;
                    self.log.push((self.now - self.t0, i, action.clone()));
                    let Action::Send {
                        interface,
                        src_mac,
                        src,
                        dst,
                        advert,
                        checksum,
                        ..
                    } = action
                    else {
                        continue;
                    };
                    if !self.connected {
                        continue;
                    }
                    let dst_mac = match dst {
                        std::net::IpAddr::V4(_) if dst.is_multicast() => MULTICAST_MAC_V4,
                        std::net::IpAddr::V6(_) if dst.is_multicast() => MULTICAST_MAC_V6,
                        _ => PEER_MAC,
                    };
                    let mut frame = Vec::new();
                    build_frame(&mut frame, src_mac, dst_mac, src, dst, 1, &advert, checksum);
                    for j in 0..self.routers.len() {
                        if j != i {
                            self.frames += 1;
                            self.routers[j].handle_frame(&interface, &frame, self.now);
                        }
                    }
                }
            }
            if !any {
                break;
            }
        }
    }

    fn run_until(&mut self, t: Duration) {
        let end = self.t0 + t;
        loop {
            self.flush();
            let next = self.routers.iter().filter_map(Router::poll_timeout).min();
            match next {
                Some(due) if due <= end => {
                    self.now = due;
                    for r in &mut self.routers {
                        if r.poll_timeout().is_some_and(|d| d <= due) {
                            r.handle_timeout(due);
                        }
                    }
                }
                _ => break,
            }
        }
        self.now = end;
        self.flush();
    }

    fn states(&self) -> Vec<State> {
        self.routers.iter().map(|r| r.state(0)).collect()
    }

    fn transitions(&self) -> Vec<(Duration, usize, State, Reason)> {
        self.log
            .iter()
            .filter_map(|(t, i, a)| match a {
                Action::Transition { to, reason, .. } => Some((*t, *i, *to, reason.clone())),
                _ => None,
            })
            .collect()
    }
}

/// Variants: (version, ipv6, unicast).
const VARIANTS: [(u8, bool, bool); 4] = [
    (2, false, false),
    (3, false, false),
    (3, false, true),
    (3, true, false),
];

fn pair(version: u8, ipv6: bool, unicast: bool, prio_a: u8, prio_b: u8) -> Net {
    let mut a = instance("vi", 7, prio_a, version, ipv6);
    let mut b = instance("vi", 7, prio_b, version, ipv6);
    if unicast {
        a.unicast_peers = vec![host(ipv6, 9)];
        b.unicast_peers = vec![host(ipv6, 5)];
    }
    let mut eb = env(ipv6, 9);
    eb.mac = PEER_MAC;
    Net::new(vec![(a, env(ipv6, 5)), (b, eb)])
}

#[test]
fn higher_priority_wins_and_priority_zero_hands_over_at_skew_time() {
    for (version, ipv6, unicast) in VARIANTS {
        let ctx = format!("v{version} ipv6={ipv6} unicast={unicast}");
        let mut net = pair(version, ipv6, unicast, 200, 100);
        net.run_until(secs(30.0));
        assert_eq!(net.states(), vec![State::Master, State::Backup], "{ctx}");
        // a: 3 s + 56/256 s.
        assert_eq!(
            net.transitions()[2],
            (us(3_218_750), 0, State::Master, Reason::MasterDown),
            "{ctx}"
        );
        let b = &net.routers[1].status(net.now)[0];
        assert_eq!(b.master, Some(host(ipv6, 5)), "{ctx}");
        assert_eq!(b.master_priority, Some(200), "{ctx}");
        assert_eq!(b.counters.adverts_received, 27, "{ctx}");
        assert!(
            b.counters.rejected.iter().all(|(_, n)| *n == 0),
            "{ctx}: {b:?}"
        );
        // a stops: b takes over after its skew time.
        net.routers[0].shutdown(net.now);
        net.run_until(secs(40.0));
        assert_eq!(net.states(), vec![State::Init, State::Master], "{ctx}");
        let last = net.transitions().last().cloned().unwrap();
        assert_eq!(
            last,
            (
                secs(30.0) + us(609_375),
                1,
                State::Master,
                Reason::MasterResigned {
                    from: host(ipv6, 5)
                }
            ),
            "{ctx}"
        );
    }
}

#[test]
fn split_brain_is_counted_and_resolved_within_one_interval() {
    // Healed at `heal`: a (200) advertises at x.21875 s, b (100) at
    // x.609375 s. Whoever speaks first, b yields at once: if b's advert
    // comes first, a answers it immediately (RFC 9568 §6.4.3) and counts
    // the split brain; b yielding to a higher priority counts nothing (a
    // preemption ends the same way).
    for (heal, yield_at, split_a) in [(10.1, us(10_218_750), 0), (10.5, us(10_609_375), 1)] {
        for (version, ipv6, unicast) in VARIANTS {
            let ctx = format!("heal {heal} v{version} ipv6={ipv6} unicast={unicast}");
            let mut net = pair(version, ipv6, unicast, 200, 100);
            // Partitioned: both become master.
            net.connected = false;
            net.run_until(secs(10.0));
            assert_eq!(net.states(), vec![State::Master, State::Master], "{ctx}");
            net.run_until(secs(heal));
            net.connected = true;
            net.run_until(secs(12.0));
            assert_eq!(net.states(), vec![State::Master, State::Backup], "{ctx}");
            let yielded = net.transitions().last().cloned().unwrap();
            assert_eq!(
                yielded,
                (
                    yield_at,
                    1,
                    State::Backup,
                    Reason::HigherPriority {
                        from: host(ipv6, 5),
                        priority: 200
                    }
                ),
                "{ctx}"
            );
            assert!(yielded.0 - secs(heal) <= secs(1.0), "{ctx}");
            let split = |i: usize| net.routers[i].status(net.now)[0].counters.split_brain;
            assert_eq!((split(0), split(1)), (split_a, 0), "{ctx}");
        }
    }
}

#[test]
fn equal_priority_the_greater_address_wins() {
    for (version, ipv6, unicast) in VARIANTS {
        let mut net = pair(version, ipv6, unicast, 100, 100);
        net.run_until(secs(20.0));
        // Both time out at the same instant; a (host 5) yields to b (host 9).
        assert_eq!(
            net.states(),
            vec![State::Backup, State::Master],
            "v{version} ipv6={ipv6} unicast={unicast}"
        );
    }
}

#[test]
fn master_fault_resigns_and_recovery_preempts_back() {
    let mut net = pair(2, false, false, 200, 100);
    net.run_until(secs(10.0));
    net.routers[0].handle_link("eth0", false, net.now);
    net.run_until(secs(15.0));
    assert_eq!(net.states(), vec![State::Fault, State::Master]);
    let t = net.transitions();
    assert_eq!(t[t.len() - 1].0, secs(10.0) + us(609_375));
    // a comes back as backup, hears b (100 < 200), preempts after its
    // down interval.
    net.routers[0].handle_link("eth0", true, net.now);
    net.run_until(secs(25.0));
    assert_eq!(net.states(), vec![State::Master, State::Backup]);
    let t = net.transitions();
    assert_eq!(t[t.len() - 3].3, Reason::Recovered);
    assert_eq!(
        t[t.len() - 2],
        (
            secs(15.0) + us(3_218_750),
            0,
            State::Master,
            Reason::Preempt {
                from: host(false, 9),
                priority: 100
            }
        )
    );
    assert_eq!(
        t[t.len() - 1].3,
        Reason::HigherPriority {
            from: host(false, 5),
            priority: 200
        }
    );
    assert!(net.frames > 0);
}
