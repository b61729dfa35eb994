//! Shutdown (RFC 5798 §6.4.3 "If a Shutdown event is received"): masters
//! resign with priority 0, every instance goes to Init and runs
//! notify_stop, and the router goes quiet.

mod common;

use common::*;
use xvs_vrrp::{Reason, State};

#[test]
fn every_state_stops_and_only_masters_resign() {
    let mut master = instance("m", 1, 255, 2, false);
    master.notify.stop = Some(script("/stop-m"));
    let backup = instance("b", 2, 100, 3, false);
    let mut fault = instance("f", 3, 100, 2, false);
    fault.interface = "eth9".into();
    fault.notify.stop = Some(script("/stop-f"));
    let mut held = instance("i", 4, 100, 2, false);
    held.track_scripts = vec![track(0, 0, false)];
    held.notify.any = Some(script("/any"));
    let mut down = env(false, 5);
    down.up = false;
    let mut h = Harness::new(
        vec![master, backup, fault, held],
        vec![vrrp_script("chk", 0, 1, 1)],
        Vec::new(),
        vec![env(false, 5), env(false, 5), down, env(false, 5)],
    );
    h.drain();
    let states: Vec<State> = (0..4).map(|i| h.router.state(i)).collect();
    assert_eq!(
        states,
        [State::Master, State::Backup, State::Fault, State::Init]
    );
    h.advance(secs(0.5));
    h.router.shutdown(h.now);
    let acts = h.drain();
    assert_eq!(sends(&acts), vec![(0, 0, group_addr(false))]);
    assert_eq!(
        transitions(&acts),
        vec![
            (0, State::Master, State::Init, Reason::Shutdown),
            (1, State::Backup, State::Init, Reason::Shutdown),
            (2, State::Fault, State::Init, Reason::Shutdown),
        ]
    );
    assert_eq!(
        notifies(&acts),
        vec![
            vec!["/stop-m".to_string()],
            vec!["/stop-f".to_string()],
            ["/any", "INSTANCE", "i", "STOP", "100"]
                .iter()
                .map(|s| s.to_string())
                .collect(),
        ]
    );
    let c = &h.router.status(h.now)[0].counters;
    assert_eq!((c.priority_zero_sent, c.released_master), (1, 1));
    assert!(h.router.master_addresses().is_empty());
    assert_eq!(h.router.standby_addresses().len(), 1);
}

#[test]
fn a_stopped_router_is_quiet() {
    let mut h = Harness::single(instance("vi", 7, 255, 2, false), env(false, 5));
    h.drain();
    h.router.shutdown(h.now);
    h.drain();
    assert_eq!(h.router.poll_timeout(), None);
    h.router.shutdown(h.now);
    h.router.handle_link("eth0", false, h.now);
    h.router.handle_script(0, true, h.now);
    h.recv_advert(false, 9, &peer_advert(2, false, 7, 200));
    h.router.handle_timeout(h.at(secs(100.0)));
    assert!(h.drain().is_empty());
    assert_eq!(h.state(), State::Init);
    assert_eq!(h.router.status(h.now)[0].counters.adverts_received, 0);
}
