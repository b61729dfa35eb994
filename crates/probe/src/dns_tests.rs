//! Tests of the DNS_CHECK query and reply judge.

use hickory_proto::rr::DNSClass;
use proptest::prelude::*;

use super::*;

/// A reply header: `id`, QR set, RD and RA set, `rcode`, then `rest`.
fn reply(id: u16, rcode: u8, rest: &[u8]) -> Vec<u8> {
    let mut out = id.to_be_bytes().to_vec();
    out.extend_from_slice(&[0x81, 0x80 | rcode, 0, 1, 0, 0, 0, 0, 0, 0]);
    out.extend_from_slice(rest);
    out
}

#[test]
fn default_query_is_soa_for_the_root() {
    // keepalived's defaults: type SOA, name ".".
    assert_eq!(
        query(0x1234, 6, ".").unwrap(),
        [
            0x12, 0x34, // ID
            0x01, 0x00, // QR 0, opcode QUERY, RD 1; RCODE 0
            0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // QD 1, AN/NS/AR 0
            0x00, // root name
            0x00, 0x06, // QTYPE SOA
            0x00, 0x01, // QCLASS IN
        ]
    );
}

#[test]
fn query_names_are_absolute_with_or_without_the_final_dot() {
    let want = [
        0xbe, 0xef, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, //
        7, b'e', b'x', b'a', b'm', b'p', b'l', b'e', 3, b'c', b'o', b'm', 0, //
        0x00, 0x1c, 0x00, 0x01,
    ];
    assert_eq!(query(0xbeef, 28, "example.com").unwrap(), want);
    assert_eq!(query(0xbeef, 28, "example.com.").unwrap(), want);
}

#[test]
fn query_decodes_back_to_its_question() {
    let bytes = query(7, 15, "mail.example.org").unwrap();
    let message = Message::from_vec(&bytes).unwrap();
    assert_eq!(message.id(), 7);
    assert_eq!(message.message_type(), MessageType::Query);
    assert_eq!(message.op_code(), OpCode::Query);
    assert!(message.recursion_desired());
    assert_eq!(message.queries().len(), 1);
    let q = &message.queries()[0];
    assert_eq!(q.name().to_ascii(), "mail.example.org.");
    assert_eq!(q.query_type(), RecordType::MX);
    assert_eq!(q.query_class(), DNSClass::IN);
    assert!(message.answers().is_empty() && message.additionals().is_empty());
    assert!(
        message.extensions().is_none(),
        "no EDNS: keepalived sends none"
    );
}

#[test]
fn unknown_types_are_sent_by_number() {
    let bytes = query(1, 65, "svc.example").unwrap();
    assert_eq!(&bytes[bytes.len() - 4..], [0, 65, 0, 1]);
}

#[test]
fn bad_names_are_errors() {
    let long_label = "a".repeat(64);
    let err = query(1, 1, &long_label).unwrap_err();
    assert!(
        err.starts_with(&format!("DNS name `{long_label}`: ")),
        "{err}"
    );
    assert_eq!(
        query(1, 1, "a..b"),
        Err("DNS name `a..b`: empty label".into())
    );
    let too_long = ["abcdefghij"; 26].join(".");
    assert!(
        query(1, 1, &too_long).is_err(),
        "names are at most 255 bytes"
    );
}

#[test]
fn labels_go_out_as_written() {
    // keepalived copies the bytes between dots: no host-name rules.
    let bytes = query(1, 16, "_dmarc.-x.Example").unwrap();
    assert_eq!(
        &bytes[12..bytes.len() - 4],
        b"\x06_dmarc\x02-x\x07Example\x00"
    );
    assert_eq!(query(1, 6, "").unwrap(), query(1, 6, ".").unwrap());
}

#[test]
fn noerror_answer_passes() {
    let q = query(0x4242, 6, ".").unwrap();
    assert_eq!(
        check_reply(0x4242, &reply(0x4242, 0, &q[12..])),
        Some(Outcome::pass())
    );
}

#[test]
fn header_alone_is_judged() {
    // keepalived reads the header only: no question needed.
    assert_eq!(check_reply(9, &reply(9, 0, &[])), Some(Outcome::pass()));
    assert_eq!(
        check_reply(9, &reply(9, 2, &[0xff; 3])),
        Some(Outcome::fail("DNS rcode SERVFAIL"))
    );
}

#[test]
fn error_rcodes_fail_with_their_name() {
    let cases = [
        (1, "DNS rcode FORMERR"),
        (2, "DNS rcode SERVFAIL"),
        (3, "DNS rcode NXDOMAIN"),
        (4, "DNS rcode NOTIMP"),
        (5, "DNS rcode REFUSED"),
        (9, "DNS rcode NOTAUTH"),
        (12, "DNS rcode 12"),
    ];
    for (rcode, reason) in cases {
        assert_eq!(
            check_reply(1, &reply(1, rcode, &[])),
            Some(Outcome::fail(reason)),
            "rcode {rcode}"
        );
    }
}

#[test]
fn other_ids_are_not_ours() {
    assert_eq!(check_reply(1, &reply(2, 0, &[])), None);
}

#[test]
fn queries_are_not_answers() {
    // A query (QR = 0) with our ID, e.g. our own datagram looped back.
    let q = query(5, 6, ".").unwrap();
    assert_eq!(check_reply(5, &q), None);
}

#[test]
fn datagrams_shorter_than_a_header_are_skipped() {
    let r = reply(3, 0, &[]);
    assert_eq!(check_reply(3, &r[..11]), None);
    assert_eq!(check_reply(3, &[]), None);
}

proptest! {
    /// Fuzz and model: any datagram is judged as keepalived's header
    /// checks say, without panicking.
    #[test]
    fn arbitrary_datagrams_follow_the_header_model(
        id in any::<u16>(),
        bytes in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let got = check_reply(id, &bytes);
        let ours = bytes.len() >= 12
            && u16::from_be_bytes([bytes[0], bytes[1]]) == id
            && bytes[2] & 0x80 != 0;
        prop_assert_eq!(got.is_some(), ours);
        if let Some(outcome) = got {
            prop_assert_eq!(outcome.is_pass(), bytes[3] & 0x0f == 0);
        }
    }

    /// Any name of printable labels round-trips through the query.
    #[test]
    fn queries_round_trip(
        id in any::<u16>(),
        qtype in any::<u16>(),
        labels in proptest::collection::vec("[!-~&&[^.]]{1,20}", 0..5),
    ) {
        let name = labels.join(".");
        let bytes = query(id, qtype, &name).unwrap();
        let message = Message::from_vec(&bytes).unwrap();
        prop_assert_eq!(message.id(), id);
        prop_assert_eq!(message.queries().len(), 1);
        prop_assert_eq!(u16::from(message.queries()[0].query_type()), qtype);
        let sent: Vec<&[u8]> = message.queries()[0].name().iter().collect();
        let written: Vec<&[u8]> = labels.iter().map(|l| l.as_bytes()).collect();
        prop_assert_eq!(sent, written);
    }
}
