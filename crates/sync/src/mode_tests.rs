//! Unit tests of `mode`: three directors, each a model table with the
//! real [`Sender`] and [`Receiver`], exchanging every datagram with the
//! other two under a virtual clock (one step a second, a sweep each
//! step), as the runtime's driver does.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use xvs_config::SyncMode;
use xvs_conn::{ConnEntry, ConnFlags, ConnId, ConnState};

use super::*;
use crate::{Received, Receiver, ReceiverConfig, Sender, SenderConfig, Synced, TCP};

/// The client's flow: (client port). One client address, one VIP.
type Flow = u16;

const ESTABLISHED_SECS: u32 = 120;
const FIN_WAIT_SECS: u32 = 30;

fn ip(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(198, 18, 0, last))
}

fn timeout(state: ConnState) -> u32 {
    match state {
        ConnState::Established => ESTABLISHED_SECS,
        _ => FIN_WAIT_SECS,
    }
}

struct Director {
    addr: IpAddr,
    table: BTreeMap<Flow, ConnEntry>,
    next_slot: u64,
    events: Vec<Flow>,
    sender: Sender,
    receiver: Receiver,
    moved: Moved,
}

impl Director {
    fn new(me: u8, peers: [u8; 2]) -> Director {
        Director {
            addr: ip(me),
            table: BTreeMap::new(),
            next_slot: 1,
            events: Vec::new(),
            sender: Sender::new(SenderConfig {
                refresh_secs: 30,
                ..SenderConfig::default()
            }),
            receiver: Receiver::new(ReceiverConfig {
                sync_id: 0,
                peers: peers.iter().map(|&p| ip(p)).collect(),
            }),
            moved: Moved::new(),
        }
    }

    /// A new entry of this table (a fresh id, as the table's slots give).
    fn entry(&mut self, cport: Flow, state: ConnState, flags: ConnFlags, now: u32) -> ConnEntry {
        self.next_slot += 1;
        ConnEntry {
            id: ConnId::from_raw((2 << 32) | self.next_slot),
            protocol: TCP,
            caddr: ip(200),
            cport,
            vaddr: ip(100),
            vport: 80,
            laddr: ip(200),
            lport: cport,
            daddr: IpAddr::V4(Ipv4Addr::new(198, 18, 1, 11)),
            dport: 80,
            flags: flags | ConnFlags::FWD_MASQ | ConnFlags::HASHED,
            dest_id: 1,
            controller: None,
            state,
            timeout_secs: timeout(state),
            expires_at: now + timeout(state),
            in_pkts: 0,
            n_controlled: 0,
        }
    }

    /// A client packet through this director leaves the flow in `state`:
    /// created (an event), moved to a new state (an event), or its timer
    /// re-armed (no event, as a worker does).
    fn packet(&mut self, cport: Flow, state: ConnState, now: u32) {
        match self.table.get_mut(&cport) {
            Some(e) => {
                if e.state != state {
                    e.state = state;
                    e.timeout_secs = timeout(state);
                    self.events.push(cport);
                }
                e.expires_at = now + e.timeout_secs;
            }
            None => {
                let e = self.entry(cport, state, ConnFlags(0), now);
                self.table.insert(cport, e);
                self.events.push(cport);
            }
        }
    }

    /// One pass of the driver: events, a sweep, every datagram out.
    fn send(&mut self, mode: SyncMode, at: Instant) -> Vec<Vec<u8>> {
        for f in std::mem::take(&mut self.events) {
            if let Some(e) = self.table.get(&f) {
                if offered(mode, true, e, Origin::Event, false) {
                    self.sender.offer(e, at);
                }
            }
        }
        self.sender.begin_sweep();
        self.moved.begin_sweep();
        for e in self.table.values() {
            let here = self.moved.moved_here(e);
            if offered(mode, true, e, Origin::Sweep, here) {
                self.sender.offer(e, at);
            } else if e.flags.contains(ConnFlags::SYNC) {
                // The peers have this copy: refreshes count from it.
                self.sender.note(e);
            }
        }
        self.sender.end_sweep();
        self.moved.end_sweep();
        self.sender.flush();
        std::iter::from_fn(|| self.sender.poll_transmit(at)).collect()
    }

    /// A peer's datagram, installed as a worker does: the same real
    /// server refreshes flags' state and timer (SYNC unchanged), another
    /// replaces the entry, a new flow is inserted with SYNC.
    fn receive(&mut self, mode: SyncMode, from: IpAddr, datagram: &[u8], now: u32) {
        let Received::Entries(list) = self.receiver.handle(from, datagram) else {
            panic!("a model datagram was refused");
        };
        for s in list {
            assert!(
                installs(mode, false),
                "no VRRP: nothing is served by one only"
            );
            self.install(&s, now);
        }
    }

    fn install(&mut self, s: &Synced, now: u32) {
        self.moved.on_install(s, now);
        match self.table.get_mut(&s.cport) {
            Some(e) if e.daddr == s.daddr => {
                e.state = s.state;
                e.timeout_secs = s.timeout_secs;
                e.expires_at = now + s.timeout_secs;
            }
            _ => {
                let e = self.entry(s.cport, s.state, ConnFlags::SYNC, now);
                self.table.insert(s.cport, e);
            }
        }
    }

    fn expire(&mut self, now: u32) {
        self.table.retain(|_, e| e.expires_at > now);
    }
}

/// What a run saw: per second, the directors (0..3) holding the flow and
/// its state there; entries each director sent.
struct Run {
    holders: Vec<Vec<(usize, ConnState)>>,
    sent: [u64; 3],
}

/// Run three directors for `secs` seconds; `traffic(t)` says which
/// director carries a packet of flow 40000 at second `t` and the state it
/// leaves the flow in.
fn run(mode: SyncMode, secs: u32, traffic: impl Fn(u32) -> Option<(usize, ConnState)>) -> Run {
    let mut ds = [
        Director::new(1, [2, 3]),
        Director::new(2, [1, 3]),
        Director::new(3, [1, 2]),
    ];
    let start = Instant::now();
    let mut holders = Vec::new();
    // Datagrams sent in one step arrive in the next: the directors'
    // sweeps are not in phase.
    let mut in_flight: Vec<(usize, Vec<u8>)> = Vec::new();
    for t in 0..secs {
        let at = start + Duration::from_secs(u64::from(t));
        for (i, datagram) in std::mem::take(&mut in_flight) {
            let from = ds[i].addr;
            for (j, peer) in ds.iter_mut().enumerate() {
                if j != i {
                    peer.receive(mode, from, &datagram, t);
                }
            }
        }
        if let Some((d, state)) = traffic(t) {
            ds[d].packet(40000, state, t);
        }
        for (i, d) in ds.iter_mut().enumerate() {
            in_flight.extend(d.send(mode, at).into_iter().map(|x| (i, x)));
        }
        for d in &mut ds {
            d.expire(t);
        }
        holders.push(
            (0..3)
                .filter_map(|i| ds[i].table.get(&40000).map(|e| (i, e.state)))
                .collect(),
        );
    }
    Run {
        holders,
        sent: [0, 1, 2].map(|i| ds[i].sender.stats().entries_sent),
    }
}

/// A client talks through director A (0) for 300 s, then goes quiet.
fn through_a(t: u32) -> Option<(usize, ConnState)> {
    (t < 300).then_some((0, ConnState::Established))
}

#[test]
fn all_to_all_copies_reach_every_peer_and_die_with_the_connection() {
    let r = run(SyncMode::AllToAll, 1200, through_a);
    assert_eq!(
        r.holders[1],
        [
            (0, ConnState::Established),
            (1, ConnState::Established),
            (2, ConnState::Established)
        ],
        "B and C have A's entry a second after it was created"
    );
    // The last packet at 299 re-arms A's entry to 419; the last refresh
    // A sent (its timer moved 30 s since the previous one) holds the
    // copies at most until then.
    let gone = r.holders.iter().position(Vec::is_empty).expect("expired");
    assert!(
        gone <= 420,
        "the entry outlived its connection: gone at {gone}"
    );
    assert!(r.holders[gone..].iter().all(Vec::is_empty), "came back");
    // A sent it once, then once per refresh step (30 s) while the flow
    // was alive; B and C sent nothing they only received.
    assert_eq!(r.sent[1..], [0, 0], "received entries were sent again");
    assert!(r.sent[0] <= 1 + 300 / 30, "A sent {}", r.sent[0]);
}

#[test]
fn master_backup_without_vrrp_echoes_received_entries() {
    // The reason for all_to_all: with IPVS's rule and no VRRP every
    // director serves every VIP, so each sweep sends what it received
    // back to its creator and on to the third director: every entry
    // crosses the network from each of the N directors.
    let r = run(SyncMode::MasterBackup, 1200, through_a);
    let alone = run(SyncMode::AllToAll, 1200, through_a);
    assert!(
        r.sent[1] >= alone.sent[0] && r.sent[2] >= alone.sent[0],
        "master_backup {:?}, all_to_all {:?}",
        r.sent,
        alone.sent
    );
}

#[test]
fn a_flow_moved_to_another_director_carries_its_state_to_all() {
    // ECMP moves the flow from A to B at 100 s; B's traffic closes it at
    // 200 s.
    let moved = |t: u32| match t {
        0..100 => Some((0, ConnState::Established)),
        100..200 => Some((1, ConnState::Established)),
        200..210 => Some((1, ConnState::FinWait)),
        _ => None,
    };
    let r = run(SyncMode::AllToAll, 600, moved);
    // B forwards the moved flow on the entry it received from A (no new
    // entry: a new one would have gone to the peers as created by B).
    assert_eq!(r.holders[150].len(), 3);
    // B's state change reaches A and C.
    assert_eq!(
        r.holders[201],
        [
            (0, ConnState::FinWait),
            (1, ConnState::FinWait),
            (2, ConnState::FinWait)
        ]
    );
    let gone = r.holders.iter().position(Vec::is_empty).expect("expired");
    assert!(gone <= 210 + FIN_WAIT_SECS as usize + 30, "gone at {gone}");
    // B sent what its own traffic did: a refresh per step (30 s) while
    // it carried the flow, and FIN_WAIT; A its entry, its refreshes and
    // at most one answer to each update B made to A's own entry (its
    // timer moved): no loop.
    assert!(
        r.sent[1] >= 2 && r.sent[1] <= 1 + 110 / 30 + 1,
        "B: {:?}",
        r.sent
    );
    assert_eq!(r.sent[2], 0, "C only received: {:?}", r.sent);
}

#[test]
fn a_long_lived_moved_flow_keeps_its_copies_alive() {
    // ECMP moves the flow from A to B at 100 s; it lasts far longer than
    // the ESTABLISHED timeout there, then moves on to C at 600 s.
    let moved = |t: u32| match t {
        0..100 => Some((0, ConnState::Established)),
        100..600 => Some((1, ConnState::Established)),
        600..700 => Some((2, ConnState::Established)),
        _ => None,
    };
    let r = run(SyncMode::AllToAll, 1200, moved);
    // B's packets re-arm the copy it received; it refreshes A's and C's,
    // so C still has the entry when the flow reaches it.
    let all = [
        (0, ConnState::Established),
        (1, ConnState::Established),
        (2, ConnState::Established),
    ];
    for t in [300, 450, 599] {
        assert_eq!(r.holders[t], all, "at {t} s");
    }
    let gone = r.holders.iter().position(Vec::is_empty).expect("expired");
    assert!((700..=820 + 30).contains(&gone), "gone at {gone}");
    // Bounded: B refreshes once per step (30 s) while it carries the flow,
    // A answers each once (its own entry's timer moved), C only received
    // until 600 s.
    assert!(r.sent[1] <= 2 + 500 / 30, "{:?}", r.sent);
}

#[test]
fn moved_forgets_flows_two_sweeps_did_not_see() {
    let mut d = Director::new(1, [2, 3]);
    let mut e = d.entry(40000, ConnState::Established, ConnFlags::SYNC, 0);
    let mut moved = Moved::new();
    moved.on_install(&Synced::from_entry(&e), 0);
    // Re-armed only as far as the install (and the clock slack): a copy.
    e.expires_at = ESTABLISHED_SECS + 2;
    assert!(!moved.moved_here(&e));
    // Re-armed further by local packets: moved here.
    e.expires_at = ESTABLISHED_SECS + 3;
    assert!(moved.moved_here(&e));
    // A director's own entry never counts.
    let own = d.entry(40000, ConnState::Established, ConnFlags(0), 100);
    assert!(!moved.moved_here(&own));
    // One sweep may miss it (the install still queued); two forget it.
    moved.begin_sweep();
    moved.end_sweep();
    assert_eq!(moved.len(), 1);
    moved.begin_sweep();
    moved.end_sweep();
    assert!(moved.is_empty());
    assert!(!moved.moved_here(&e), "forgotten: not known as a copy");
}
