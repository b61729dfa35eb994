//! Unit tests of `sync`: golden datagrams written out by hand field by
//! field from the layout in REFERENCE §9 (IPv4 TCP, IPv6 UDP, seq data,
//! xvs options), every rejection reason, and property tests: build →
//! parse round trips and no panics on any input.

use super::*;
use proptest::collection::vec;
use proptest::prelude::*;

const TCP: u8 = 6;
const UDP: u8 = 17;

/// 198.18.0.10:40000 → 198.18.0.100:80 → 198.18.1.11:8080, TCP
/// ESTABLISHED (state 1), flags 0, timeout 900 s.
fn tcp4() -> SyncEntry {
    SyncEntry {
        ipv6: false,
        protocol: TCP,
        flags: 0,
        state: 1,
        cport: 40000,
        vport: 80,
        dport: 8080,
        fwmark: 0,
        timeout: 900,
        caddr: Ipv4Addr::new(198, 18, 0, 10).into(),
        vaddr: Ipv4Addr::new(198, 18, 0, 100).into(),
        daddr: Ipv4Addr::new(198, 18, 1, 11).into(),
        options: vec![],
    }
}

/// The fixed 36 bytes of `tcp4()` with the entry size given.
fn tcp4_fixed(size: u8) -> Vec<u8> {
    vec![
        0x00, // type: IPv4
        0x06, // protocol: TCP
        0x00, size, // entry version 0, entry size
        0x00, 0x00, 0x00, 0x00, // flags
        0x00, 0x01, // state: ESTABLISHED
        0x9c, 0x40, // cport 40000
        0x00, 0x50, // vport 80
        0x1f, 0x90, // dport 8080
        0x00, 0x00, 0x00, 0x00, // fwmark
        0x00, 0x00, 0x03, 0x84, // timeout 900
        0xc6, 0x12, 0x00, 0x0a, // caddr 198.18.0.10
        0xc6, 0x12, 0x00, 0x64, // vaddr 198.18.0.100
        0xc6, 0x12, 0x01, 0x0b, // daddr 198.18.1.11
    ]
}

/// Header (SyncID 7, one entry) + `tcp4()`'s fixed part declaring
/// `36 + options.len()` bytes + `options` + padding.
fn tcp4_with(options: &[u8]) -> Vec<u8> {
    let size = 36 + options.len();
    let padded = size.next_multiple_of(4);
    let total = (8 + padded) as u16;
    let mut d = vec![0x00, 0x07, 0, 0, 0x01, 0x01, 0x00, 0x00];
    d[2..4].copy_from_slice(&total.to_be_bytes());
    d.extend(tcp4_fixed(size as u8));
    d.extend_from_slice(options);
    d.resize(usize::from(total), 0);
    d
}

fn built(sync_id: u8, entries: &[SyncEntry]) -> Vec<u8> {
    let mut d = vec![0xaa; 3]; // build appends
    assert_eq!(
        build(&mut d, sync_id, entries),
        entries.len().min(MAX_ENTRIES)
    );
    assert_eq!(&d[..3], &[0xaa; 3]);
    d.split_off(3)
}

fn ok(entries: Vec<SyncEntry>) -> Vec<Result<SyncEntry, EntryError>> {
    entries.into_iter().map(Ok).collect()
}

#[test]
fn golden_ipv4_tcp() {
    #[rustfmt::skip]
    let golden = [
        // header
        0x00,       // reserved
        0x07,       // SyncID 7
        0x00, 0x2c, // size: 8 + 36 = 44
        0x01,       // one entry
        0x01,       // version 1
        0x00, 0x00, // spare
        // entry
        0x00,       // type: IPv4
        0x06,       // protocol: TCP
        0x00, 0x24, // entry version 0, size 36
        0x00, 0x00, 0x00, 0x00, // flags
        0x00, 0x01, // state 1: ESTABLISHED
        0x9c, 0x40, // cport 40000
        0x00, 0x50, // vport 80
        0x1f, 0x90, // dport 8080
        0x00, 0x00, 0x00, 0x00, // fwmark 0
        0x00, 0x00, 0x03, 0x84, // timeout 900 s
        0xc6, 0x12, 0x00, 0x0a, // caddr 198.18.0.10
        0xc6, 0x12, 0x00, 0x64, // vaddr 198.18.0.100
        0xc6, 0x12, 0x01, 0x0b, // daddr 198.18.1.11
    ];
    assert_eq!(built(7, &[tcp4()]), golden);
    assert_eq!(tcp4_with(&[]), golden);
    let (h, entries) = parse(&golden).unwrap();
    assert_eq!(
        h,
        SyncHeader {
            sync_id: 7,
            count: 1
        }
    );
    assert_eq!(entries, ok(vec![tcp4()]));
}

#[test]
fn golden_ipv6_udp() {
    let entry = SyncEntry {
        ipv6: true,
        protocol: UDP,
        flags: 0x0000_0100,
        state: 0,
        cport: 53000,
        vport: 53,
        dport: 5353,
        fwmark: 0x2a,
        timeout: 300,
        caddr: "2001:db8::a".parse().unwrap(),
        vaddr: "2001:db8::64".parse().unwrap(),
        daddr: "2001:db8:1::b".parse().unwrap(),
        options: vec![],
    };
    #[rustfmt::skip]
    let golden = [
        // header
        0x00, 0x01, // reserved, SyncID 1
        0x00, 0x50, // size: 8 + 72 = 80
        0x01, 0x01, // one entry, version 1
        0x00, 0x00, // spare
        // entry
        0x01,       // type: IPv6
        0x11,       // protocol: UDP
        0x00, 0x48, // entry version 0, size 72
        0x00, 0x00, 0x01, 0x00, // flags 0x100
        0x00, 0x00, // state 0
        0xcf, 0x08, // cport 53000
        0x00, 0x35, // vport 53
        0x14, 0xe9, // dport 5353
        0x00, 0x00, 0x00, 0x2a, // fwmark 42
        0x00, 0x00, 0x01, 0x2c, // timeout 300 s
        // caddr 2001:db8::a
        0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x00, 0x0a,
        // vaddr 2001:db8::64
        0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x00, 0x64,
        // daddr 2001:db8:1::b
        0x20, 0x01, 0x0d, 0xb8, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0x00, 0x0b,
    ];
    assert_eq!(built(1, std::slice::from_ref(&entry)), golden);
    let (h, entries) = parse(&golden).unwrap();
    assert_eq!(
        h,
        SyncHeader {
            sync_id: 1,
            count: 1
        }
    );
    assert_eq!(entries, ok(vec![entry]));
}

#[test]
fn golden_seq_data() {
    #[rustfmt::skip]
    let seq = [
        0x00, 0x00, 0x03, 0xe8, // in_seq.init_seq 1000
        0x00, 0x00, 0x00, 0x04, // in_seq.delta 4
        0x00, 0x00, 0x00, 0x00, // in_seq.previous_delta 0
        0x00, 0x00, 0x07, 0xd0, // out_seq.init_seq 2000
        0xff, 0xff, 0xff, 0xfc, // out_seq.delta -4
        0x00, 0x00, 0x00, 0x00, // out_seq.previous_delta 0
    ];
    let entry = SyncEntry {
        options: vec![SyncOption::Seq(seq)],
        ..tcp4()
    };
    let mut golden = vec![
        0x00, 0x07, // reserved, SyncID 7
        0x00, 0x48, // size: 8 + 62 + 2 padding = 72
        0x01, 0x01, 0x00, 0x00, // one entry, version 1, spare
    ];
    golden.extend(tcp4_fixed(0x3e)); // entry size 36 + 2 + 24 = 62
    golden.extend([0x01, 0x18]); // option: seq data, 24 bytes
    golden.extend(seq);
    golden.extend([0x00, 0x00]); // padding to 64
    assert_eq!(golden.len(), 72);
    assert_eq!(built(7, std::slice::from_ref(&entry)), golden);
    assert_eq!(parse(&golden).unwrap().1, ok(vec![entry]));
}

#[test]
fn golden_xvs_options() {
    let local = SyncOption::xvs_local(Ipv4Addr::new(198, 18, 0, 5).into(), 40001);
    let worker = SyncOption::xvs_worker(3);
    let entry = SyncEntry {
        options: vec![local.clone(), worker.clone()],
        ..tcp4()
    };
    let mut golden = vec![
        0x00, 0x07, // reserved, SyncID 7
        0x00, 0x38, // size: 8 + 48 = 56
        0x01, 0x01, 0x00, 0x00, // one entry, version 1, spare
    ];
    golden.extend(tcp4_fixed(0x30)); // entry size 36 + 8 + 4 = 48
    golden.extend([
        0x44, 0x06, // xvs local address + port, 6 bytes
        0xc6, 0x12, 0x00, 0x05, // 198.18.0.5
        0x9c, 0x41, // port 40001
        0x45, 0x02, // xvs owning worker, 2 bytes
        0x00, 0x03, // worker 3
    ]);
    assert_eq!(built(7, std::slice::from_ref(&entry)), golden);
    assert_eq!(parse(&golden).unwrap().1, ok(vec![entry]));
    assert_eq!(
        local.as_xvs_local(),
        Some((Ipv4Addr::new(198, 18, 0, 5).into(), 40001))
    );
    assert_eq!(worker.as_xvs_worker(), Some(3));
    assert_eq!(worker.as_xvs_local(), None);
    assert_eq!(local.as_xvs_worker(), None);
    let v6: IpAddr = "2001:db8::5".parse().unwrap();
    assert_eq!(SyncOption::xvs_local(v6, 1).as_xvs_local(), Some((v6, 1)));
    // Both are optional and not a known type once the bit is masked, so
    // the kernel's `switch (ptype & ~IPVS_OPT_F_PARAM)` skips them.
    for kind in [OPT_XVS_LOCAL, OPT_XVS_WORKER] {
        assert_ne!(kind & OPT_F_OPTIONAL, 0);
        assert!(!(1..=3).contains(&(kind & !OPT_F_OPTIONAL)));
    }
}

#[test]
fn optional_bit_on_known_types_reads_as_known() {
    let d = tcp4_with(&[0x42, 0x01, 0xaa, 0x43, 0x02, b's', b'n', 0x50, 0x01, 0x09]);
    let got = parse(&d).unwrap().1;
    let want = SyncEntry {
        options: vec![
            SyncOption::PeData(vec![0xaa]),
            SyncOption::PeName(b"sn".to_vec()),
            SyncOption::Other {
                kind: 0x50,
                data: vec![0x09],
            },
        ],
        ..tcp4()
    };
    assert_eq!(got, ok(vec![want]));
}

#[test]
fn constants() {
    assert_eq!(max_message_len(1500), 1444);
    assert_eq!(max_message_len(0), 4);
    assert_eq!(max_message_len(u16::MAX), 4 + 24 * 255);
    assert_eq!((PORT, GROUP), (8848, Ipv4Addr::new(224, 0, 0, 81)));
}

#[test]
fn build_caps_entries() {
    let entries = vec![tcp4(); 300];
    let mut d = Vec::new();
    assert_eq!(build(&mut d, 0, &entries), 255);
    assert_eq!(d.len(), 8 + 255 * 36);
    let (h, got) = parse(&d).unwrap();
    assert_eq!((h.count, got.len()), (255, 255));
}

#[test]
fn build_leaves_out_options_the_kernel_rejects() {
    let entry = SyncEntry {
        options: vec![
            SyncOption::PeData(vec![]),
            SyncOption::PeName(vec![b'x'; 17]),
            SyncOption::Other {
                kind: 0x44,
                data: vec![0; 256],
            },
        ],
        ..tcp4()
    };
    assert_eq!(built(7, &[entry]), tcp4_with(&[]));
}

#[test]
fn header_errors() {
    let good = tcp4_with(&[]);
    assert_eq!(parse(&good[..7]), Err(SyncError::Short));
    assert_eq!(parse(&[]), Err(SyncError::Short));
    let mut long = good.clone();
    long.push(0);
    assert_eq!(parse(&long), Err(SyncError::Size));
    let cases = [
        (0, 1, SyncError::Reserved, "reserved"),
        (5, 0, SyncError::Version, "version"),
        (5, 2, SyncError::Version, "version"),
        (7, 1, SyncError::Spare, "spare"),
    ];
    for (at, value, err, reason) in cases {
        let mut d = good.clone();
        d[at] = value;
        assert_eq!(parse(&d), Err(err));
        assert_eq!(err.reason(), reason);
    }
    assert_eq!(SyncError::Short.reason(), "short");
    assert_eq!(SyncError::Size.reason(), "size");
}

/// The entry results of `d` with its SyncID-7 header.
fn entries_of(d: &[u8]) -> Vec<Result<SyncEntry, EntryError>> {
    let (h, e) = parse(d).unwrap();
    assert_eq!(h.sync_id, 7);
    e
}

#[test]
fn entry_structure_errors_drop_the_rest() {
    // Announcing two entries with one present: the second is cut short.
    let mut d = tcp4_with(&[]);
    d[4] = 2;
    assert_eq!(entries_of(&d), vec![Ok(tcp4()), Err(EntryError::Truncated)]);

    // Each case below announces two entries, so a second tcp4 entry
    // follows the damaged one and must not be reported.
    let two = |edit: &dyn Fn(&mut Vec<u8>)| {
        let mut d = built(7, &[tcp4(), tcp4()]);
        edit(&mut d);
        entries_of(&d)
    };
    // Entry size beyond the datagram.
    assert_eq!(
        two(&|d| d[10..12].copy_from_slice(&0x0100u16.to_be_bytes())),
        vec![Err(EntryError::Truncated)]
    );
    // Entry version 1.
    assert_eq!(two(&|d| d[10] = 0x10), vec![Err(EntryError::Version)]);
    // Type 2: neither IPv4 nor IPv6.
    assert_eq!(two(&|d| d[8] = 0x02), vec![Err(EntryError::Type)]);
    // IPv6 type with an IPv4-sized entry.
    assert_eq!(two(&|d| d[8] = 0x01), vec![Err(EntryError::Size)]);
    // Sizes smaller than the fixed part, down to 0.
    for size in [0, 4, 35] {
        assert_eq!(two(&|d| d[11] = size), vec![Err(EntryError::Size)]);
    }
}

#[test]
fn entry_option_errors() {
    let cases: [(&[u8], EntryError, &str); 9] = [
        (&[0x44], EntryError::Option, "option_malformed"),
        (&[0x44, 0x00], EntryError::Option, "option_malformed"),
        (&[0x44, 0x05, 1, 2], EntryError::Option, "option_malformed"),
        (&[0x01, 0x04, 0, 0, 0, 0], EntryError::SeqData, "seq_data"),
        (
            &[0x02, 1, b'a', 0x42, 1, b'b'],
            EntryError::PeData,
            "pe_data",
        ),
        (
            &[0x03, 1, b'a', 0x03, 1, b'b'],
            EntryError::PeName,
            "pe_name",
        ),
        (
            &[
                0x03, 17, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17,
            ],
            EntryError::PeName,
            "pe_name",
        ),
        (
            &[0x04, 0x01, 0x00],
            EntryError::MandatoryOption(4),
            "mandatory_option",
        ),
        (
            &[0x44, 0x01, 0x00, 0x3f, 0x01, 0x00],
            EntryError::MandatoryOption(0x3f),
            "mandatory_option",
        ),
    ];
    for (options, err, reason) in cases {
        assert_eq!(
            entries_of(&tcp4_with(options)),
            vec![Err(err)],
            "{options:02x?}"
        );
        assert_eq!(err.reason(), reason);
    }
    let mut seq_twice = vec![0x01, 24];
    seq_twice.extend([0; 24]);
    seq_twice.extend(seq_twice.clone());
    assert_eq!(
        entries_of(&tcp4_with(&seq_twice)),
        vec![Err(EntryError::SeqData)]
    );
    for (err, reason) in [
        (EntryError::Truncated, "entry_truncated"),
        (EntryError::Version, "entry_version"),
        (EntryError::Type, "entry_type"),
        (EntryError::Size, "entry_size"),
    ] {
        assert_eq!(err.reason(), reason);
        assert!(err.drops_rest());
    }
}

#[test]
fn mandatory_option_skips_only_its_entry() {
    let bad = SyncEntry {
        options: vec![SyncOption::Other {
            kind: 0x04,
            data: vec![0],
        }],
        ..tcp4()
    };
    let d = built(7, &[tcp4(), bad, tcp4()]);
    assert_eq!(
        entries_of(&d),
        vec![Ok(tcp4()), Err(EntryError::MandatoryOption(4)), Ok(tcp4())]
    );
    assert!(!EntryError::MandatoryOption(4).drops_rest());

    // A malformed option drops the rest.
    let broken = SyncEntry {
        options: vec![SyncOption::PeName(b"a".to_vec())],
        ..tcp4()
    };
    let mut d = built(7, &[broken, tcp4()]);
    d[8 + 36] = 0x01; // the PE name becomes a 1-byte seq option
    assert_eq!(entries_of(&d), vec![Err(EntryError::SeqData)]);
}

fn any_addr(ipv6: bool) -> BoxedStrategy<IpAddr> {
    if ipv6 {
        any::<[u8; 16]>()
            .prop_map(|a| Ipv6Addr::from(a).into())
            .boxed()
    } else {
        any::<[u8; 4]>()
            .prop_map(|a| Ipv4Addr::from(a).into())
            .boxed()
    }
}

fn any_options() -> impl Strategy<Value = Vec<SyncOption>> {
    let other = (any::<u8>(), vec(any::<u8>(), 1..40))
        .prop_map(|(k, data)| (OPT_F_OPTIONAL | k, data))
        .prop_filter("known type", |(k, _)| {
            !(1..=3).contains(&(k & !OPT_F_OPTIONAL))
        })
        .prop_map(|(kind, data)| SyncOption::Other { kind, data });
    (
        proptest::option::of(any::<[u8; 24]>().prop_map(SyncOption::Seq)),
        proptest::option::of(vec(any::<u8>(), 1..=255).prop_map(SyncOption::PeData)),
        proptest::option::of(vec(any::<u8>(), 1..=16).prop_map(SyncOption::PeName)),
        vec(other, 0..3),
    )
        .prop_map(|(seq, data, name, other)| {
            seq.into_iter()
                .chain(data)
                .chain(name)
                .chain(other)
                .collect()
        })
}

fn any_entry() -> impl Strategy<Value = SyncEntry> {
    any::<bool>().prop_flat_map(|ipv6| {
        (
            (any::<u8>(), any::<u32>(), any::<u16>(), any::<[u16; 3]>()),
            (any::<u32>(), any::<u32>()),
            (any_addr(ipv6), any_addr(ipv6), any_addr(ipv6)),
            any_options(),
        )
            .prop_map(
                move |((protocol, flags, state, ports), (fwmark, timeout), addrs, options)| {
                    SyncEntry {
                        ipv6,
                        protocol,
                        flags,
                        state,
                        cport: ports[0],
                        vport: ports[1],
                        dport: ports[2],
                        fwmark,
                        timeout,
                        caddr: addrs.0,
                        vaddr: addrs.1,
                        daddr: addrs.2,
                        options,
                    }
                },
            )
    })
}

#[test]
fn golden_control() {
    let mut d = vec![0xaa];
    build_control(&mut d, 7, Control::BulkRequest);
    build_control(&mut d, 0xfe, Control::BulkDone);
    assert_eq!(
        d,
        [
            0xaa, // build_control appends
            0x00, 0x07, 0x00, 0x08, 0x00, 0x01, b'X', b'B', // request, SyncID 7
            0x00, 0xfe, 0x00, 0x08, 0x00, 0x01, b'X', b'D', // done, SyncID 254
        ]
    );
    assert_eq!(parse_control(&d[1..9]), Some((7, Control::BulkRequest)));
    assert_eq!(parse_control(&d[9..]), Some((0xfe, Control::BulkDone)));
    // To the v1 parser it is a header with spare bytes set; a kernel
    // backup takes it for v0 with no entries.
    assert_eq!(parse(&d[1..9]), Err(SyncError::Spare));
}

#[test]
fn control_exact_pattern_only() {
    let good = [0x00, 0x07, 0x00, 0x08, 0x00, 0x01, b'X', b'B'];
    assert!(parse_control(&good).is_some());
    assert_eq!(parse_control(&good[..7]), None);
    let mut long = good.to_vec();
    long.push(0);
    assert_eq!(parse_control(&long), None);
    // Every byte but the SyncID is fixed or a known kind.
    for i in [0, 2, 3, 4, 5, 6, 7] {
        let mut d = good;
        d[i] ^= 0x10;
        assert_eq!(parse_control(&d), None, "byte {i}");
    }
    for kind in 0..=255u8 {
        let mut d = good;
        d[7] = kind;
        assert_eq!(parse_control(&d).is_some(), kind == b'B' || kind == b'D');
    }
    // A real (empty) v1 datagram is not a control datagram.
    assert_eq!(parse_control(&built(7, &[])), None);
}

proptest! {
    /// build → parse gives the entries back.
    #[test]
    fn round_trip(sync_id in any::<u8>(), entries in vec(any_entry(), 0..8)) {
        let d = built(sync_id, &entries);
        prop_assert_eq!(d.len() % 4, 0);
        let (h, got) = parse(&d).unwrap();
        prop_assert_eq!(h, SyncHeader { sync_id, count: entries.len() as u8 });
        prop_assert_eq!(got, ok(entries));
    }

    /// Any byte string, raw or behind a valid header.
    #[test]
    fn any_bytes_never_panic(bytes in vec(any::<u8>(), 0..600), count in any::<u8>()) {
        let _ = parse(&bytes);
        let _ = parse_control(&bytes);
        let total = (8 + bytes.len()) as u16;
        let mut d = vec![0, 0, 0, 0, count, 1, 0, 0];
        d[2..4].copy_from_slice(&total.to_be_bytes());
        d.extend_from_slice(&bytes);
        let (h, e) = parse(&d).unwrap();
        prop_assert!(e.len() <= usize::from(h.count));
    }

    /// A real datagram, corrupted and cut anywhere: an answer, no panic.
    #[test]
    fn corrupted_never_panic(
        entries in vec(any_entry(), 1..4),
        edits in vec((any::<prop::sample::Index>(), any::<u8>()), 0..6),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut d = built(0, &entries);
        for (at, value) in edits {
            let i = at.index(d.len());
            d[i] = value;
        }
        d.truncate(cut.index(d.len() + 1));
        let _ = parse(&d);
        // Again with the size field fixed up so the entries are read.
        if d.len() >= HEADER_LEN {
            let n = d.len() as u16;
            d[2..4].copy_from_slice(&n.to_be_bytes());
            let _ = parse(&d);
        }
    }
}

#[test]
fn golden_xvs_synproxy_option() {
    let d = SynproxyDelta {
        seq: 0x6000_1234,
        ts: 0xffff_fff0,
        server_scale: 9,
        client_sees_scale: 7,
        client_scale: 8,
        server_sees_scale: 8,
    };
    let option = SyncOption::xvs_synproxy(&d);
    let entry = SyncEntry {
        options: vec![option.clone()],
        ..tcp4()
    };
    let mut golden = vec![
        0x00, 0x07, // reserved, SyncID 7
        0x00, 0x3c, // size: 8 + 52 = 60
        0x01, 0x01, 0x00, 0x00, // one entry, version 1, spare
    ];
    golden.extend(tcp4_fixed(0x32)); // entry size 36 + 14 = 50
    golden.extend([
        0x46, 0x0c, // xvs SYN proxy translation, 12 bytes
        0x60, 0x00, 0x12, 0x34, // Δseq
        0xff, 0xff, 0xff, 0xf0, // Δts
        9, 7, 8, 8, // scales: server, client sees, client, server sees
        0x00, 0x00, // padding to 52
    ]);
    assert_eq!(built(7, std::slice::from_ref(&entry)), golden);
    assert_eq!(parse(&golden).unwrap().1, ok(vec![entry]));
    assert_eq!(option.as_xvs_synproxy(), Some(d));
    assert_eq!(SyncOption::xvs_worker(3).as_xvs_synproxy(), None);
    // A scale past RFC 7323's 14, or a short option, is not a translation.
    let mut bad = SyncOption::xvs_synproxy(&SynproxyDelta {
        server_scale: 15,
        ..d
    });
    assert_eq!(bad.as_xvs_synproxy(), None);
    if let SyncOption::Other { data, .. } = &mut bad {
        data.truncate(8);
    }
    assert_eq!(bad.as_xvs_synproxy(), None);
    // Optional and unknown to the kernel once the bit is masked.
    assert_ne!(OPT_XVS_SYNPROXY & OPT_F_OPTIONAL, 0);
    assert!(!(1..=3).contains(&(OPT_XVS_SYNPROXY & !OPT_F_OPTIONAL)));
}
