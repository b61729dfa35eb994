//! Property tests of the public API: whatever arrives, the receiver
//! answers without panicking; and any valid connection sent through a
//! [`Sender`]'s datagrams comes out of a [`Receiver`] as it went in (flags
//! normalised as a backup keeps them, timeout clamped to 24 bits).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};

use proptest::collection::vec;
use proptest::prelude::*;
use xvs_conn::{ConnFlags, ConnState};
use xvs_sync::{
    Received, Receiver, ReceiverConfig, Sender, SenderConfig, Synced, MAX_TIMEOUT_SECS, TCP, UDP,
};

fn usable(a: IpAddr) -> bool {
    let broadcast = matches!(a, IpAddr::V4(v4) if v4.is_broadcast());
    !a.is_unspecified() && !a.is_multicast() && !broadcast
}

fn addr(ipv6: bool) -> BoxedStrategy<IpAddr> {
    let any = if ipv6 {
        any::<u128>()
            .prop_map(|a| IpAddr::V6(Ipv6Addr::from(a)))
            .boxed()
    } else {
        any::<u32>()
            .prop_map(|a| IpAddr::V4(Ipv4Addr::from(a)))
            .boxed()
    };
    any.prop_filter("usable address", |&a| usable(a)).boxed()
}

/// A connection or template as a backup would accept it, with flag bits
/// outside BACKUP_MASK set at random.
fn valid_synced() -> impl Strategy<Value = Synced> {
    (any::<bool>(), any::<bool>(), any::<bool>()).prop_flat_map(|(ipv6, udp, template)| {
        let protocol = if udp { UDP } else { TCP };
        let state = if template {
            Just(ConnState::None).boxed()
        } else if udp {
            Just(ConnState::Udp).boxed()
        } else {
            (0u8..=10)
                .prop_map(|s| ConnState::from_u8(s).unwrap())
                .boxed()
        };
        let min_cport = u16::from(!template);
        let min_timeout = u32::from(!template);
        (
            (addr(ipv6), min_cport..=u16::MAX, addr(ipv6), any::<u16>()),
            (addr(ipv6), any::<u16>(), addr(ipv6), 1..=u16::MAX),
            (prop::sample::select(vec![0u32, 2, 3, 5]), any::<u32>()),
            (state, min_timeout..=u32::MAX, any::<Option<u16>>()),
        )
            .prop_map(
                move |(
                    (caddr, cport, vaddr, vport),
                    (daddr, dport, laddr, lport),
                    (method, bits),
                    (state, timeout_secs, worker),
                )| {
                    let mut flags = ConnFlags(bits & !0x7 | method);
                    flags.remove(ConnFlags::TEMPLATE);
                    if template {
                        flags.insert(ConnFlags::TEMPLATE);
                    }
                    let fullnat = method == 5 && !template;
                    Synced {
                        protocol,
                        caddr,
                        cport,
                        vaddr,
                        vport,
                        daddr,
                        dport,
                        local: fullnat.then_some((laddr, lport)),
                        flags,
                        state,
                        timeout_secs,
                        worker,
                        synproxy: None,
                    }
                },
            )
    })
}

fn peer() -> IpAddr {
    Ipv4Addr::new(192, 0, 2, 2).into()
}

proptest! {
    #[test]
    fn round_trip_through_datagrams(
        conns in vec(valid_synced(), 0..200),
        sync_id in any::<u8>(),
        mtu in prop::sample::select(vec![0u16, 576, 1280, 1500, 9000]),
        listen_any in any::<bool>(),
    ) {
        let t0 = Instant::now();
        let mut tx = Sender::new(SenderConfig {
            sync_id,
            mtu,
            max_delay: Duration::from_millis(20),
            refresh_secs: 0,
        });
        let mut rx = Receiver::new(ReceiverConfig {
            sync_id: if listen_any { 0 } else { sync_id },
            peers: vec![peer()],
        });
        for c in &conns {
            tx.push(c, t0);
        }
        let mut got = Vec::new();
        let later = t0 + Duration::from_millis(20);
        while let Some(d) = tx.poll_transmit(later) {
            match rx.handle(peer(), &d) {
                Received::Entries(e) => got.extend(e),
                other => prop_assert!(false, "{:?}", other),
            }
        }
        let want: Vec<Synced> = conns
            .iter()
            .map(|c| Synced {
                flags: c.flags & ConnFlags::BACKUP_MASK | ConnFlags::SYNC,
                timeout_secs: c.timeout_secs.min(MAX_TIMEOUT_SECS),
                ..*c
            })
            .collect();
        prop_assert_eq!(got, want);
        prop_assert_eq!(rx.counters().dropped_total(), 0);
        prop_assert_eq!(tx.stats().entries_sent, conns.len() as u64);
    }

    #[test]
    fn any_bytes_never_panic(bytes in vec(any::<u8>(), 0..2000), from_peer in any::<bool>()) {
        let mut rx = Receiver::new(ReceiverConfig { sync_id: 0, peers: vec![peer()] });
        let from = if from_peer { peer() } else { Ipv4Addr::LOCALHOST.into() };
        let _ = rx.handle(from, &bytes);
        prop_assert_eq!(rx.counters().datagrams, 1);
    }

    /// Real datagrams, corrupted anywhere: an answer, no panic.
    #[test]
    fn corrupted_datagrams_never_panic(
        conns in vec(valid_synced(), 1..20),
        edits in vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
    ) {
        let t0 = Instant::now();
        let mut tx = Sender::new(SenderConfig::default());
        for c in &conns {
            tx.push(c, t0);
        }
        tx.flush();
        let mut rx = Receiver::new(ReceiverConfig { sync_id: 0, peers: vec![peer()] });
        while let Some(mut d) = tx.poll_transmit(t0) {
            for (at, value) in &edits {
                let i = at.index(d.len());
                d[i] = *value;
            }
            if let Received::Entries(got) = rx.handle(peer(), &d) {
                // Returned entries are a fixed point of the checks (also
                // asserted by the sync_receiver fuzz target).
                for s in &got {
                    prop_assert_eq!(Synced::from_wire(&s.to_wire()), Ok(*s));
                }
            }
        }
        let c = rx.counters();
        prop_assert!(c.entries_ok <= conns.len() as u64);
    }
}
