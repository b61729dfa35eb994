//! The RFC 5798 §6.4 state table, row by row: every event in every state
//! (Init, Backup, Master, Fault), for VRRPv2/IPv4, VRRPv3/IPv4 and
//! VRRPv3/IPv6, driven through real frames and a virtual clock. Each row
//! asserts the resulting state, the transition reason, the adverts sent
//! (by priority) and when the instance's timer fires next.

mod common;

use std::time::Duration;

use common::*;
use xvs_vrrp::{Reason, State};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Event {
    /// Advert priority 200 from 10.0.0.9 / fe80::9.
    Higher,
    /// Priority 100 (ours) from a greater address.
    EqualGreaterAddress,
    /// Priority 100 (ours) from a smaller address (10.0.0.3).
    EqualSmallerAddress,
    /// Priority 50.
    Lower,
    /// Priority 0 (the master resigns).
    Zero,
    /// The instance's own timer (Master_Down_Timer / Adver_Timer).
    Timer,
    Shutdown,
    LinkDown,
    LinkUp,
    /// The weight-0 track script fails / succeeds.
    ScriptFail,
    ScriptOk,
}

/// What a row expects.
struct Expect {
    state: State,
    /// The transition's reason, if there is one.
    reason: Option<Reason>,
    /// Priorities of the adverts sent.
    sent: Vec<u8>,
    /// The instance timer after the event, from the event's instant.
    timer: Option<Duration>,
}

fn expect(state: State, reason: Option<Reason>, sent: &[u8], timer: Option<f64>) -> Expect {
    Expect {
        state,
        reason,
        sent: sent.to_vec(),
        timer: timer.map(secs),
    }
}

/// An instance of priority 100 at host 5 tracking a weight-0 script, put
/// into `state`, 0.5 s after it got there.
fn in_state(state: State, version: u8, ipv6: bool) -> Harness {
    let mut cfg = instance("vi", 7, 100, version, ipv6);
    cfg.track_scripts = vec![track(0, 0, false)];
    let mut script = vrrp_script("chk", 0, 1, 1);
    // Keep the script timer out of the way of the instance's.
    script.interval = secs(1000.0);
    let mut h = Harness::new(vec![cfg], vec![script], Vec::new(), vec![env(ipv6, 5)]);
    h.drain();
    if state != State::Init {
        h.router.handle_script(0, true, h.now);
        h.drain();
        assert_eq!(h.state(), State::Backup);
    }
    match state {
        State::Master => {
            let due = h.router.poll_timeout().unwrap();
            h.run_until(due);
            assert_eq!(h.state(), State::Master);
        }
        State::Fault => {
            h.router.handle_link("eth0", false, h.now);
            h.drain();
            assert_eq!(h.state(), State::Fault);
        }
        _ => {}
    }
    h.advance(secs(0.5));
    h
}

fn table(ipv6: bool) -> Vec<(State, Event, Expect)> {
    use Event::*;
    use State::*;
    let nine = host(ipv6, 9);
    let link_down = || Reason::Fault {
        what: "interface eth0 down".into(),
    };
    let script_failed = || Reason::Fault {
        what: "script chk failed".into(),
    };
    let down = 3.609375;
    vec![
        // Init: waiting for the weight-0 script's first result.
        (Init, Higher, expect(Init, None, &[], None)),
        (Init, EqualGreaterAddress, expect(Init, None, &[], None)),
        (Init, EqualSmallerAddress, expect(Init, None, &[], None)),
        (Init, Lower, expect(Init, None, &[], None)),
        (Init, Zero, expect(Init, None, &[], None)),
        (Init, Timer, expect(Init, None, &[], None)),
        (Init, Shutdown, expect(Init, None, &[], None)),
        (Init, LinkDown, expect(Init, None, &[], None)),
        (Init, LinkUp, expect(Init, None, &[], None)),
        (
            Init,
            ScriptFail,
            expect(Fault, Some(script_failed()), &[], None),
        ),
        (
            Init,
            ScriptOk,
            expect(Backup, Some(Reason::Startup), &[], Some(down)),
        ),
        // Backup.
        (Backup, Higher, expect(Backup, None, &[], Some(down))),
        (
            Backup,
            EqualGreaterAddress,
            expect(Backup, None, &[], Some(down)),
        ),
        (
            Backup,
            EqualSmallerAddress,
            expect(Backup, None, &[], Some(down)),
        ),
        // Preempt: discard, the remaining down time runs on.
        (Backup, Lower, expect(Backup, None, &[], Some(down - 0.5))),
        // Master_Down_Timer := Skew_Time.
        (Backup, Zero, expect(Backup, None, &[], Some(0.609375))),
        (
            Backup,
            Timer,
            expect(Master, Some(Reason::MasterDown), &[100], Some(1.0)),
        ),
        (
            Backup,
            Shutdown,
            expect(Init, Some(Reason::Shutdown), &[], None),
        ),
        (
            Backup,
            LinkDown,
            expect(Fault, Some(link_down()), &[], None),
        ),
        (Backup, LinkUp, expect(Backup, None, &[], Some(down - 0.5))),
        (
            Backup,
            ScriptFail,
            expect(Fault, Some(script_failed()), &[], None),
        ),
        (
            Backup,
            ScriptOk,
            expect(Backup, None, &[], Some(down - 0.5)),
        ),
        // Master.
        (
            Master,
            Higher,
            expect(
                Backup,
                Some(Reason::HigherPriority {
                    from: nine,
                    priority: 200,
                }),
                &[],
                Some(down),
            ),
        ),
        (
            Master,
            EqualGreaterAddress,
            expect(
                Backup,
                Some(Reason::HigherPriority {
                    from: nine,
                    priority: 100,
                }),
                &[],
                Some(down),
            ),
        ),
        (
            Master,
            EqualSmallerAddress,
            expect(Master, None, &[100], Some(1.0)),
        ),
        (Master, Lower, expect(Master, None, &[100], Some(1.0))),
        (Master, Zero, expect(Master, None, &[100], Some(1.0))),
        (Master, Timer, expect(Master, None, &[100], Some(1.0))),
        (
            Master,
            Shutdown,
            expect(Init, Some(Reason::Shutdown), &[0], None),
        ),
        (
            Master,
            LinkDown,
            expect(Fault, Some(link_down()), &[0], None),
        ),
        (Master, LinkUp, expect(Master, None, &[], Some(0.5))),
        (
            Master,
            ScriptFail,
            expect(Fault, Some(script_failed()), &[0], None),
        ),
        (Master, ScriptOk, expect(Master, None, &[], Some(0.5))),
        // Fault (own link down): adverts are not even looked at.
        (Fault, Higher, expect(Fault, None, &[], None)),
        (Fault, EqualGreaterAddress, expect(Fault, None, &[], None)),
        (Fault, EqualSmallerAddress, expect(Fault, None, &[], None)),
        (Fault, Lower, expect(Fault, None, &[], None)),
        (Fault, Zero, expect(Fault, None, &[], None)),
        (Fault, Timer, expect(Fault, None, &[], None)),
        (
            Fault,
            Shutdown,
            expect(Init, Some(Reason::Shutdown), &[], None),
        ),
        (Fault, LinkDown, expect(Fault, None, &[], None)),
        (
            Fault,
            LinkUp,
            expect(Backup, Some(Reason::Recovered), &[], Some(down)),
        ),
        (Fault, ScriptFail, expect(Fault, None, &[], None)),
        (Fault, ScriptOk, expect(Fault, None, &[], None)),
    ]
}

fn run(version: u8, ipv6: bool) {
    let mut rows = 0;
    for (state, event, want) in table(ipv6) {
        let mut h = in_state(state, version, ipv6);
        let before = h.router.status(h.now)[0].counters.clone();
        let t = h.now;
        let acts = match event {
            Event::Higher => h.recv_advert(ipv6, 9, &peer_advert(version, ipv6, 7, 200)),
            Event::EqualGreaterAddress => {
                h.recv_advert(ipv6, 9, &peer_advert(version, ipv6, 7, 100))
            }
            Event::EqualSmallerAddress => {
                h.recv_advert(ipv6, 3, &peer_advert(version, ipv6, 7, 100))
            }
            Event::Lower => h.recv_advert(ipv6, 3, &peer_advert(version, ipv6, 7, 50)),
            Event::Zero => h.recv_advert(ipv6, 9, &peer_advert(version, ipv6, 7, 0)),
            Event::Timer => {
                // The instance's timer, or (none) 10 s of nothing.
                let due = h.router.poll_timeout().filter(|d| *d < t + secs(100.0));
                let acts = untimed(h.run_until(due.unwrap_or(t + secs(10.0))));
                assert!(h.now >= t);
                acts
            }
            Event::Shutdown => {
                h.router.shutdown(h.now);
                h.drain()
            }
            Event::LinkDown | Event::LinkUp => {
                h.router.handle_link("eth0", event == Event::LinkUp, h.now);
                h.drain()
            }
            Event::ScriptFail | Event::ScriptOk => {
                h.router.handle_script(0, event == Event::ScriptOk, h.now);
                h.drain()
            }
        };
        let ctx = format!("v{version} ipv6={ipv6} {state:?} {event:?}");
        assert_eq!(h.state(), want.state, "{ctx}: state");
        let reasons: Vec<Reason> = transitions(&acts).into_iter().map(|t| t.3).collect();
        assert_eq!(
            reasons,
            want.reason.into_iter().collect::<Vec<_>>(),
            "{ctx}: reason"
        );
        let sent: Vec<u8> = sends(&acts).into_iter().map(|s| s.1).collect();
        assert_eq!(sent, want.sent, "{ctx}: adverts");
        // Timer: the script runs every 1000 s, GARP after 5 s; the
        // instance timer is the only thing earlier.
        let next = h.router.poll_timeout().filter(|d| *d < h.now + secs(4.9));
        assert_eq!(next.map(|d| d - h.now), want.timer, "{ctx}: timer");
        // This table's Master has just taken over: adverts from another
        // master now are the takeover's own crossing, never split brain
        // (which needs a master for at least one interval hearing a lower
        // one: tests/master.rs).
        let after = &h.router.status(h.now)[0].counters;
        assert_eq!(
            after.split_brain - before.split_brain,
            0,
            "{ctx}: split brain"
        );
        rows += 1;
    }
    assert_eq!(rows, 44);
}

#[test]
fn state_table_v2_ipv4() {
    run(2, false);
}

#[test]
fn state_table_v3_ipv4() {
    run(3, false);
}

#[test]
fn state_table_v3_ipv6() {
    run(3, true);
}
