//! Unit tests of `synced`: golden datagrams from table entries (FullNAT
//! IPv4, DR IPv6 UDP, a template), what IPVS masters send, and every
//! rejection reason.

use std::net::{Ipv4Addr, Ipv6Addr};

use xvs_conn::ConnId;
use xvs_wire::sync::{build, parse};

use super::*;

/// An id naming worker `worker` (generation 2, slot 5).
pub(crate) fn id(worker: u64, v6: bool) -> ConnId {
    ConnId::from_raw((2 << 32) | (u64::from(v6) << 31) | (worker << 24) | 5)
}

fn v4(d: u8) -> IpAddr {
    Ipv4Addr::new(198, 18, 0, d).into()
}

/// 198.18.0.10:40000 → 198.18.0.100:80, local 198.18.0.5:40001 →
/// 198.18.1.11:8080, TCP ESTABLISHED, FullNAT, worker 3, 900 s.
pub(crate) fn fullnat4() -> ConnEntry {
    ConnEntry {
        id: id(3, false),
        protocol: TCP,
        caddr: v4(10),
        cport: 40000,
        vaddr: v4(100),
        vport: 80,
        laddr: v4(5),
        lport: 40001,
        daddr: Ipv4Addr::new(198, 18, 1, 11).into(),
        dport: 8080,
        flags: ConnFlags::FWD_FULLNAT | ConnFlags::HASHED,
        dest_id: 9,
        controller: None,
        state: ConnState::Established,
        timeout_secs: 900,
        expires_at: 1900,
        in_pkts: 4,
        n_controlled: 0,
    }
}

fn v6(s: &str) -> IpAddr {
    s.parse::<Ipv6Addr>().unwrap().into()
}

/// [2001:db8::10]:5353 → [2001:db8::100]:53 → [2001:db8:1::11]:53, UDP,
/// DR (inactive, no output), worker 1, 300 s.
pub(crate) fn dr6_udp() -> ConnEntry {
    ConnEntry {
        id: id(1, true),
        protocol: UDP,
        caddr: v6("2001:db8::10"),
        cport: 5353,
        vaddr: v6("2001:db8::100"),
        vport: 53,
        laddr: v6("2001:db8::10"),
        lport: 5353,
        daddr: v6("2001:db8:1::11"),
        dport: 53,
        flags: ConnFlags::FWD_DROUTE
            | ConnFlags::NOOUTPUT
            | ConnFlags::INACTIVE
            | ConnFlags::HASHED,
        state: ConnState::Udp,
        timeout_secs: 300,
        ..fullnat4()
    }
}

/// A FullNAT persistence template for 198.18.0.0/24 → 198.18.0.100:80
/// (as the dataplane inserts one: local = client network, port 0).
pub(crate) fn template4() -> ConnEntry {
    ConnEntry {
        caddr: v4(0),
        cport: 0,
        laddr: v4(0),
        lport: 0,
        flags: ConnFlags::TEMPLATE | ConnFlags::FWD_FULLNAT | ConnFlags::HASHED,
        state: ConnState::None,
        timeout_secs: 360,
        ..fullnat4()
    }
}

fn datagram(entries: &[ConnEntry]) -> Vec<u8> {
    let wire: Vec<_> = entries
        .iter()
        .map(|e| Synced::from_entry(e).to_wire())
        .collect();
    let mut d = Vec::new();
    build(&mut d, 7, &wire);
    d
}

fn round_trip(e: &ConnEntry) -> Result<Synced, Invalid> {
    let d = datagram(std::slice::from_ref(e));
    let (_, mut got) = parse(&d).unwrap();
    Synced::from_wire(&got.remove(0).unwrap())
}

#[test]
fn golden_fullnat_ipv4() {
    let golden = [
        0x00, 0x07, 0x00, 0x38, // reserved, SyncID 7, size 8 + 48
        0x01, 0x01, 0x00, 0x00, // one entry, version 1, spare
        0x00, 0x06, 0x00, 0x30, // IPv4, TCP, entry size 36 + 8 + 4
        0x00, 0x00, 0x00, 0x05, // flags: FULLNAT (HASHED masked off)
        0x00, 0x01, // state ESTABLISHED
        0x9c, 0x40, 0x00, 0x50, 0x1f, 0x90, // cport 40000, vport 80, dport 8080
        0x00, 0x00, 0x00, 0x00, // fwmark
        0x00, 0x00, 0x03, 0x84, // timeout 900
        0xc6, 0x12, 0x00, 0x0a, // caddr 198.18.0.10
        0xc6, 0x12, 0x00, 0x64, // vaddr 198.18.0.100
        0xc6, 0x12, 0x01, 0x0b, // daddr 198.18.1.11
        0x44, 0x06, 0xc6, 0x12, 0x00, 0x05, 0x9c, 0x41, // local 198.18.0.5:40001
        0x45, 0x02, 0x00, 0x03, // worker 3
    ];
    assert_eq!(datagram(&[fullnat4()]), golden);
    let s = round_trip(&fullnat4()).unwrap();
    assert_eq!(s.local, Some((v4(5), 40001)));
    assert_eq!(s.worker, Some(3));
    assert_eq!(s.flags, ConnFlags::FWD_FULLNAT | ConnFlags::SYNC);
    assert_eq!(s.state, ConnState::Established);
}

#[test]
fn golden_ipv6_udp() {
    let mut golden = vec![
        0x00, 0x07, 0x00, 0x54, // reserved, SyncID 7, size 8 + 76
        0x01, 0x01, 0x00, 0x00, // one entry, version 1, spare
        0x01, 0x11, 0x00, 0x4c, // IPv6, UDP, entry size 72 + 4
        0x00, 0x00, 0x01, 0x83, // flags: DROUTE | NOOUTPUT | INACTIVE
        0x00, 0x00, // state: IPVS's UDP NORMAL
        0x14, 0xe9, 0x00, 0x35, 0x00, 0x35, // cport 5353, vport 53, dport 53
        0x00, 0x00, 0x00, 0x00, // fwmark
        0x00, 0x00, 0x01, 0x2c, // timeout 300
    ];
    let addr = |last: u8, net: u8| {
        let mut a = [0u8; 16];
        a[..4].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
        a[5] = net;
        a[15] = last;
        a
    };
    golden.extend(addr(0x10, 0)); // caddr 2001:db8::10
    let mut vaddr = addr(0, 0); // vaddr 2001:db8::100
    vaddr[14] = 0x01;
    golden.extend(vaddr);
    golden.extend(addr(0x11, 1)); // daddr 2001:db8:1::11
    golden.extend([0x45, 0x02, 0x00, 0x01]); // worker 1
    assert_eq!(datagram(&[dr6_udp()]), golden);
    let s = round_trip(&dr6_udp()).unwrap();
    assert_eq!(s.state, ConnState::Udp);
    assert_eq!(s.local, None);
    assert_eq!(s.flags.bits(), 0x183 | 0x20);
}

#[test]
fn templates_carry_no_local_and_state_none() {
    let s = Synced::from_entry(&template4());
    assert!(s.is_template());
    assert_eq!(s.local, None);
    let w = s.to_wire();
    assert_eq!((w.state, w.options.len()), (0, 1));
    let back = round_trip(&template4()).unwrap();
    assert_eq!(back.caddr, v4(0)); // the client network 198.18.0.0/24
                                   // A /0 persistence network gives 0.0.0.0: fine for a template.
    let all = ConnEntry {
        caddr: Ipv4Addr::UNSPECIFIED.into(),
        ..template4()
    };
    assert_eq!(round_trip(&all).unwrap().caddr, all.caddr);
    assert_eq!((back.cport, back.state), (0, ConnState::None));
    // Whatever state a master sends for a template reads as NONE.
    let odd = SyncEntry { state: 77, ..w };
    assert_eq!(Synced::from_wire(&odd).unwrap().state, ConnState::None);
}

/// What a kernel master sends: no xvs options, UDP in state 0, flags
/// with bits outside BACKUP_MASK (HASHED is already cleared, ONE_PACKET
/// and NFCT are not).
#[test]
fn accepts_ipvs_entries() {
    let w = SyncEntry {
        options: vec![],
        flags: 0x183 | 0x1_0000 | 0x2000 | 0x20,
        ..Synced::from_entry(&dr6_udp()).to_wire()
    };
    let s = Synced::from_wire(&w).unwrap();
    assert_eq!(s.worker, None);
    assert_eq!(s.flags.bits(), 0x183 | 0x20);
    let eleven = SyncEntry { state: 11, ..w };
    assert_eq!(Synced::from_wire(&eleven).unwrap().state, ConnState::Udp);
    let big = SyncEntry {
        timeout: u32::MAX,
        ..Synced::from_entry(&fullnat4()).to_wire()
    };
    assert_eq!(
        Synced::from_wire(&big).unwrap().timeout_secs,
        MAX_TIMEOUT_SECS
    );
}

#[test]
fn every_rejection() {
    let tcp = Synced::from_entry(&fullnat4()).to_wire();
    let udp = Synced::from_entry(&dr6_udp()).to_wire();
    let tpl = Synced::from_entry(&template4()).to_wire();
    let bcast: IpAddr = Ipv4Addr::BROADCAST.into();
    let mcast: IpAddr = Ipv4Addr::new(224, 0, 0, 81).into();
    let unspec: IpAddr = Ipv4Addr::UNSPECIFIED.into();
    let cases: Vec<(SyncEntry, Invalid)> = vec![
        (
            SyncEntry {
                protocol: 132,
                ..tcp.clone()
            },
            Invalid::Protocol(132),
        ),
        (
            SyncEntry {
                protocol: 0,
                ..tpl.clone()
            },
            Invalid::Protocol(0),
        ),
        (
            SyncEntry {
                fwmark: 7,
                ..tpl.clone()
            },
            Invalid::Fwmark(7),
        ),
        (
            SyncEntry {
                state: 11,
                ..tcp.clone()
            },
            Invalid::State {
                protocol: 6,
                state: 11,
            },
        ),
        (
            SyncEntry {
                state: 256 + 1,
                ..tcp.clone()
            },
            Invalid::State {
                protocol: 6,
                state: 257,
            },
        ),
        (
            SyncEntry {
                state: 1,
                ..udp.clone()
            },
            Invalid::State {
                protocol: 17,
                state: 1,
            },
        ),
        (
            SyncEntry {
                flags: 0x1,
                ..tcp.clone()
            },
            Invalid::Method(1),
        ),
        (
            SyncEntry {
                flags: 0x4,
                ..tcp.clone()
            },
            Invalid::Method(4),
        ),
        (
            SyncEntry {
                flags: 0x6,
                ..tcp.clone()
            },
            Invalid::Method(6),
        ),
        (
            SyncEntry {
                flags: 0x1007,
                ..tpl.clone()
            },
            Invalid::Method(7),
        ),
        (
            SyncEntry {
                options: vec![],
                ..tcp.clone()
            },
            Invalid::Local,
        ),
        (
            SyncEntry {
                options: vec![SyncOption::xvs_local(v4(5), 0)],
                ..tcp.clone()
            },
            Invalid::Local,
        ),
        (
            SyncEntry {
                options: vec![SyncOption::xvs_local(v6("2001:db8::5"), 1)],
                ..tcp.clone()
            },
            Invalid::Local,
        ),
        (
            SyncEntry {
                options: vec![SyncOption::xvs_local(mcast, 1)],
                ..tcp.clone()
            },
            Invalid::Local,
        ),
        (
            SyncEntry {
                vaddr: v6("::1"),
                ..tcp.clone()
            },
            Invalid::Family,
        ),
        (
            SyncEntry {
                caddr: unspec,
                ..tcp.clone()
            },
            Invalid::Address,
        ),
        (
            SyncEntry {
                vaddr: mcast,
                ..tcp.clone()
            },
            Invalid::Address,
        ),
        (
            SyncEntry {
                daddr: bcast,
                ..tcp.clone()
            },
            Invalid::Address,
        ),
        (
            SyncEntry {
                vaddr: unspec,
                ..tpl.clone()
            },
            Invalid::Address,
        ),
        (
            SyncEntry {
                daddr: v6("ff02::12"),
                ..udp.clone()
            },
            Invalid::Address,
        ),
        (
            SyncEntry {
                caddr: v6("::"),
                ..udp.clone()
            },
            Invalid::Address,
        ),
        (
            SyncEntry {
                cport: 0,
                ..tcp.clone()
            },
            Invalid::ClientPort,
        ),
        (
            SyncEntry {
                timeout: 0,
                ..udp.clone()
            },
            Invalid::Timeout,
        ),
    ];
    for (entry, want) in cases {
        assert_eq!(Synced::from_wire(&entry), Err(want), "{entry:?}");
        assert!(Invalid::REASONS.contains(&want.reason()));
    }
    // Non-FullNAT entries ignore a local option; templates may have
    // cport 0, vport 0, dport 0 and timeout 0.
    let dr = SyncEntry {
        options: vec![SyncOption::xvs_local(v4(5), 0)],
        flags: 3,
        ..tcp.clone()
    };
    assert_eq!(Synced::from_wire(&dr).unwrap().local, None);
    let ports0 = SyncEntry {
        vport: 0,
        dport: 0,
        timeout: 0,
        ..tpl
    };
    assert!(Synced::from_wire(&ports0).is_ok());
    let vport0 = SyncEntry {
        vport: 0,
        dport: 0,
        ..tcp
    };
    assert!(Synced::from_wire(&vport0).is_ok());
}

#[test]
fn reasons_are_unique() {
    let mut r = Invalid::REASONS.to_vec();
    r.sort_unstable();
    r.dedup();
    assert_eq!(r.len(), Invalid::REASONS.len());
}

/// A SYN-proxied FullNAT connection carries its translation in option
/// 0x46 and comes back with it and the SYNPROXY flag (the flag itself is
/// not sent: IPVS has no such bit); on a method the backup cannot
/// translate (DR), or on a template, the option is ignored.
#[test]
fn synproxy_translation_round_trips() {
    let d = SynproxyDelta {
        seq: 0x1234_5678,
        ts: 99,
        server_scale: 9,
        client_sees_scale: 7,
        client_scale: 7,
        server_sees_scale: 7,
    };
    let mut e = fullnat4();
    e.flags |= ConnFlags::SYNPROXY;
    let mut s = Synced::from_entry(&e);
    assert_eq!(s.synproxy, None, "the caller fills it in");
    s.synproxy = Some(d);
    let wire = s.to_wire();
    assert_eq!(wire.flags & ConnFlags::SYNPROXY.bits(), 0);
    let mut datagram = Vec::new();
    build(&mut datagram, 1, std::slice::from_ref(&wire));
    let got = Synced::from_wire(parse(&datagram).unwrap().1[0].as_ref().unwrap()).unwrap();
    assert_eq!(got.synproxy, Some(d));
    assert!(got.flags.contains(ConnFlags::SYNPROXY));
    let plain = Synced::from_wire(&Synced::from_entry(&fullnat4()).to_wire()).unwrap();
    assert!(!plain.flags.contains(ConnFlags::SYNPROXY));
    assert_eq!(plain.synproxy, None);
    for other in [dr6_udp(), template4()] {
        let mut s = Synced::from_entry(&other);
        s.synproxy = Some(d);
        let got = Synced::from_wire(&s.to_wire()).unwrap();
        assert_eq!(got.synproxy, None);
        assert!(!got.flags.contains(ConnFlags::SYNPROXY));
    }
}
