//! Property tests: no input panics the router (frames come off the
//! wire), and any sequence of events keeps its invariants.

mod common;

use std::time::Duration;

use common::*;
use proptest::prelude::*;
use xvs_vrrp::{Action, State};
use xvs_wire::vrrp::ChecksumKind;

#[derive(Clone, Debug)]
enum Ev {
    Advert {
        from: u16,
        prio: u8,
        vrid: u8,
        interval: u16,
    },
    Garbage(Vec<u8>),
    Flip {
        at: usize,
        byte: u8,
    },
    Wait(u32),
    Link {
        iface: u8,
        up: bool,
    },
    Script {
        ok: bool,
    },
    Shutdown,
}

fn ev() -> impl Strategy<Value = Ev> {
    prop_oneof![
        4 => (prop::sample::select(vec![3u16, 5, 9]), any::<u8>(), 6u8..9, prop::sample::select(vec![1u16, 2, 50, 100, 0])).prop_map(|(from, prio, vrid, interval)| Ev::Advert { from, prio, vrid, interval }),
        1 => prop::collection::vec(any::<u8>(), 0..120).prop_map(Ev::Garbage),
        1 => (0usize..80, any::<u8>()).prop_map(|(at, byte)| Ev::Flip { at, byte }),
        4 => (0u32..5000).prop_map(Ev::Wait),
        1 => (0u8..2, any::<bool>()).prop_map(|(iface, up)| Ev::Link { iface, up }),
        1 => any::<bool>().prop_map(|ok| Ev::Script { ok }),
        1 => Just(Ev::Shutdown),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn arbitrary_frames_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let mut h = Harness::single(instance("vi", 7, 100, 2, false), env(false, 5));
        h.recv(&bytes);
        // A valid frame with one byte changed.
        let a = peer_advert(2, false, 7, 200);
        let mut f = frame(host(false, 9), group_addr(false), &a, ChecksumKind::MessageOnly);
        if !bytes.is_empty() {
            let at = usize::from(bytes[0]) % f.len();
            f[at] = bytes.get(1).copied().unwrap_or(0);
        }
        h.recv(&f);
    }

    #[test]
    fn invariants_hold_under_any_events(
        version in prop::sample::select(vec![2u8, 3]),
        prio in prop::sample::select(vec![1u8, 100, 254, 255]),
        events in prop::collection::vec(ev(), 1..60),
    ) {
        let mut cfg = instance("vi", 7, prio, version, false);
        cfg.track_interfaces = vec![xvs_config::TrackInterface { name: "eth1".into(), weight: -20 }];
        cfg.track_scripts = vec![track(0, 0, false)];
        let mut h = Harness::new(vec![cfg], vec![vrrp_script("chk", 0, 2, 2)], Vec::new(), vec![env(false, 5)]);
        let mut stopped = false;
        for e in events {
            match e {
                Ev::Advert { from, prio, vrid, interval } => {
                    let a = advert(version, vrid, prio, interval, vec![vip(false, 0)]);
                    h.recv_advert(false, from, &a);
                }
                Ev::Garbage(b) => { h.recv(&b); }
                Ev::Flip { at, byte } => {
                    let a = peer_advert(version, false, 7, 150);
                    let mut f = frame(host(false, 9), group_addr(false), &a, kind_for(version));
                    let at = at % f.len();
                    f[at] = byte;
                    h.recv(&f);
                }
                Ev::Wait(ms) => { h.advance(Duration::from_millis(u64::from(ms))); }
                Ev::Link { iface, up } => {
                    h.router.handle_link(if iface == 0 { "eth0" } else { "eth1" }, up, h.now);
                }
                Ev::Script { ok } => h.router.handle_script(0, ok, h.now),
                Ev::Shutdown => { h.router.shutdown(h.now); stopped = true; }
            }
            let acts = h.drain();
            let st = &h.router.status(h.now)[0];
            // Priority bounds.
            if prio == 255 { prop_assert_eq!(st.effective_priority, 255); }
            else { prop_assert!((1..=254).contains(&st.effective_priority)); }
            // Timers never lie in the past.
            if let Some(t) = h.router.poll_timeout() { prop_assert!(t >= h.now); }
            // Every address is either served or on standby.
            let state = h.state();
            prop_assert_eq!(h.router.master_addresses().is_empty(), state != State::Master);
            prop_assert_eq!(h.router.standby_addresses().is_empty(), state == State::Master);
            if stopped { prop_assert_eq!(state, State::Init); }
            // Adverts only from a master, or priority 0 on the way out.
            for a in &acts {
                if let Action::Send { advert, .. } = a {
                    let left_master = acts
                        .iter()
                        .any(|x| matches!(x, Action::Transition { from: State::Master, .. }));
                    prop_assert!(advert.priority == 0 || state == State::Master || left_master);
                }
            }
        }
    }
}
