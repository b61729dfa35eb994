//! `status` rows as `xvs status` shows them, and their JSON.

mod common;

use common::*;
use xvs_vrrp::{Reason, State};

#[test]
fn backup_row_then_master_row() {
    let mut cfg = instance("vi_1", 7, 100, 3, false);
    cfg.track_interfaces = vec![xvs_config::TrackInterface {
        name: "eth1".into(),
        weight: -10,
    }];
    let mut h = Harness::single(cfg, env(false, 5));
    h.drain();
    h.advance(secs(1.0));
    h.recv_advert(false, 9, &advert(3, 7, 150, 200, vec![vip(false, 0)]));
    h.router.handle_link("eth1", false, h.now);
    h.advance(secs(0.25));
    let st = &h.router.status(h.now)[0];
    assert_eq!(st.name, "vi_1");
    assert_eq!(st.interface, "eth0");
    assert_eq!((st.vrid, st.version), (7, 3));
    assert_eq!(st.state, State::Backup);
    assert_eq!((st.base_priority, st.effective_priority), (100, 90));
    assert_eq!(st.master, Some(host(false, 9)));
    assert_eq!(st.master_priority, Some(150));
    assert_eq!(st.advert_interval_ms, 2000);
    assert_eq!(st.virtual_addresses, vec![vip(false, 0)]);
    assert_eq!(st.sync_group, None);
    assert_eq!(st.faults, vec!["eth1".to_string()]);
    let last = st.last_transition.as_ref().unwrap();
    assert_eq!(
        (last.from, last.to, &last.reason),
        (State::Init, State::Backup, &Reason::Startup)
    );
    assert_eq!(last.ago_ms, 1250);
    assert_eq!(st.counters.adverts_received, 1);

    let json = serde_json::to_value(st).unwrap();
    assert_eq!(json["state"], "backup");
    assert_eq!(json["last_transition"]["reason"]["kind"], "startup");
    assert_eq!(json["counters"]["rejected"][0][0], "ttl");

    // The master goes away: we are master, the row shows ourselves.
    h.run_until(h.at(secs(20.0)));
    let st = &h.router.status(h.now)[0];
    assert_eq!(st.state, State::Master);
    assert_eq!(st.master, Some(host(false, 5)));
    assert_eq!(st.master_priority, Some(90));
    assert_eq!(st.advert_interval_ms, 1000);
    assert_eq!(st.counters.became_master, 1);
    let json = serde_json::to_value(st).unwrap();
    assert_eq!(json["last_transition"]["reason"]["kind"], "master_down");
}

#[test]
fn reasons_serialize_with_their_fields() {
    let r = Reason::HigherPriority {
        from: host(false, 9),
        priority: 200,
    };
    assert_eq!(
        serde_json::to_string(&r).unwrap(),
        r#"{"kind":"higher_priority","from":"10.0.0.9","priority":200}"#
    );
}
