//! The announcer driven by a virtual clock: each reason to withdraw, the
//! shutdown sequence, and a model check over random input sequences.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use proptest::prelude::*;

use super::*;

fn vip(n: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(198, 18, 0, n))
}

fn drain(a: &mut Announcer, now: Instant) -> Vec<Action> {
    std::iter::from_fn(|| a.poll(now)).collect()
}

fn serving(vips: &[(u8, bool)]) -> Input {
    Input::Vips(vips.iter().map(|&(n, ok)| (vip(n), ok)).collect())
}

/// A director with two VIPs, both servable, one worker: both announced.
fn running(t0: Instant) -> Announcer {
    let mut a = Announcer::new(Duration::from_secs(5));
    a.handle(serving(&[(1, true), (2, true)]), t0);
    assert_eq!(
        drain(&mut a, t0),
        vec![],
        "no worker yet: nothing announced"
    );
    a.handle(Input::Workers(1), t0);
    assert_eq!(
        drain(&mut a, t0),
        vec![Action::Announce(vip(1)), Action::Announce(vip(2))]
    );
    a
}

#[test]
fn announces_once_workers_run_and_withdraws_when_they_stop() {
    let t0 = Instant::now();
    let mut a = running(t0);
    a.handle(Input::Workers(1), t0);
    assert_eq!(drain(&mut a, t0), vec![], "no change, no action");
    a.handle(Input::Workers(0), t0);
    assert_eq!(
        drain(&mut a, t0),
        vec![Action::Withdraw(vip(1)), Action::Withdraw(vip(2))]
    );
    let st = a.status();
    assert_eq!(st.vips[0].withheld, Some(Withheld::NoWorkers));
    a.handle(Input::Workers(2), t0);
    assert_eq!(drain(&mut a, t0).len(), 2, "announced again");
}

#[test]
fn a_vip_whose_service_lost_quorum_is_withdrawn_alone() {
    let t0 = Instant::now();
    let mut a = running(t0);
    a.handle(serving(&[(1, false), (2, true)]), t0);
    assert_eq!(drain(&mut a, t0), vec![Action::Withdraw(vip(1))]);
    assert!(!a.is_announced(vip(1)) && a.is_announced(vip(2)));
    assert_eq!(a.status().vips[0].withheld, Some(Withheld::NoQuorum));
    a.handle(serving(&[(1, true), (2, true)]), t0);
    assert_eq!(drain(&mut a, t0), vec![Action::Announce(vip(1))]);
}

#[test]
fn a_vip_that_left_the_configuration_is_withdrawn() {
    let t0 = Instant::now();
    let mut a = running(t0);
    a.handle(serving(&[(2, true), (3, true)]), t0);
    assert_eq!(
        drain(&mut a, t0),
        vec![Action::Withdraw(vip(1)), Action::Announce(vip(3))],
        "withdrawals come before announcements"
    );
}

#[test]
fn drain_withdraws_everything_and_undrain_brings_back_what_can_serve() {
    let t0 = Instant::now();
    let mut a = running(t0);
    a.handle(Input::Drain, t0);
    assert_eq!(
        drain(&mut a, t0),
        vec![Action::Withdraw(vip(1)), Action::Withdraw(vip(2))]
    );
    assert!(a.is_drained());
    // Health changes while drained announce nothing.
    a.handle(serving(&[(1, true), (2, false)]), t0);
    assert_eq!(drain(&mut a, t0), vec![]);
    assert_eq!(a.status().vips[0].withheld, Some(Withheld::Drained));
    a.handle(Input::Undrain, t0);
    assert_eq!(drain(&mut a, t0), vec![Action::Announce(vip(1))]);
    // A drained director never exits by itself.
    a.handle(Input::Drain, t0);
    let _ = drain(&mut a, t0);
    assert_eq!(a.poll_timeout(), None);
    assert_eq!(a.poll(t0 + Duration::from_secs(3600)), None);
}

#[test]
fn shutdown_withdraws_first_then_exits_after_the_drain_time() {
    let t0 = Instant::now();
    let mut a = running(t0);
    let t1 = t0 + Duration::from_secs(10);
    a.handle(Input::Shutdown, t1);
    assert_eq!(
        drain(&mut a, t1),
        vec![Action::Withdraw(vip(1)), Action::Withdraw(vip(2))],
        "withdrawn at once, no exit yet"
    );
    let end = t1 + Duration::from_secs(5);
    assert_eq!(a.poll_timeout(), Some(end));
    assert_eq!(a.poll(end - Duration::from_millis(1)), None);
    // Nothing brings a VIP back while stopping.
    a.handle(Input::Undrain, t1);
    a.handle(Input::Workers(4), t1);
    assert_eq!(a.poll(t1), None);
    // A second signal does not push the exit back.
    a.handle(Input::Shutdown, t1 + Duration::from_secs(3));
    assert_eq!(a.poll_timeout(), Some(end));
    assert_eq!(a.poll(end), Some(Action::Exit));
    assert_eq!(a.poll(end), None, "exit is said once");
    assert_eq!(a.poll_timeout(), None);
    assert!(a.status().shutting_down);
}

#[test]
fn zero_drain_time_exits_right_after_the_withdrawals() {
    let t0 = Instant::now();
    let mut a = Announcer::new(Duration::ZERO);
    a.handle(serving(&[(1, true)]), t0);
    a.handle(Input::Workers(1), t0);
    let _ = drain(&mut a, t0);
    a.handle(Input::Shutdown, t0);
    assert_eq!(
        drain(&mut a, t0),
        vec![Action::Withdraw(vip(1)), Action::Exit]
    );
}

#[test]
fn a_vip_is_servable_only_when_every_service_on_it_has_quorum() {
    let folded = fold_services([(vip(1), true), (vip(1), false), (vip(2), true)]);
    assert_eq!(folded.get(&vip(1)), Some(&false));
    assert_eq!(folded.get(&vip(2)), Some(&true));
    assert_eq!(folded.len(), 2);
}

fn input() -> impl Strategy<Value = Input> {
    prop_oneof![
        (0usize..3).prop_map(Input::Workers),
        proptest::collection::btree_map(1u8..5, any::<bool>(), 0..4)
            .prop_map(|m| Input::Vips(m.into_iter().map(|(n, ok)| (vip(n), ok)).collect())),
        Just(Input::Drain),
        Just(Input::Undrain),
        Just(Input::Shutdown),
    ]
}

proptest! {
    /// Replaying the actions on a set gives exactly the VIPs a plain
    /// model says should be announced, never announcing one twice or
    /// withdrawing one that is not announced.
    #[test]
    fn actions_track_the_model(inputs in proptest::collection::vec(input(), 0..40)) {
        let t0 = Instant::now();
        let mut a = Announcer::new(Duration::from_secs(1));
        let mut routes = BTreeSet::new();
        let (mut workers, mut drained, mut stopping) = (0usize, false, false);
        let mut vips: BTreeMap<IpAddr, bool> = BTreeMap::new();
        for (i, input) in inputs.into_iter().enumerate() {
            match &input {
                Input::Workers(n) => workers = *n,
                Input::Vips(v) => vips = v.clone(),
                Input::Drain => drained = true,
                Input::Undrain => drained = false,
                Input::Shutdown => stopping = true,
            }
            let now = t0 + Duration::from_millis(i as u64);
            a.handle(input, now);
            while let Some(act) = a.poll(now) {
                match act {
                    Action::Announce(v) => prop_assert!(routes.insert(v)),
                    Action::Withdraw(v) => prop_assert!(routes.remove(&v)),
                    Action::Exit => prop_assert!(false, "exit before the drain time"),
                }
            }
            let want: BTreeSet<IpAddr> = vips
                .iter()
                .filter(|&(_, &ok)| ok && workers > 0 && !drained && !stopping)
                .map(|(&v, _)| v)
                .collect();
            prop_assert_eq!(&routes, &want);
        }
    }
}
