//! Tests of the SMTP_CHECK dialog.

use proptest::prelude::*;

use super::*;

const HELO: &[u8] = b"HELO smtpchecker.keepalived.org\r\n";

fn dialog() -> Dialog {
    Dialog::new("smtpchecker.keepalived.org")
}

fn fail(reason: &str) -> SmtpStep {
    SmtpStep::Done(Outcome::fail(reason))
}

/// Plays the server's replies, one per phase, each in `chunks` pieces cut
/// at `cut` (a reply is only sent once the previous command was read).
/// Returns every step the dialog took after each reply, and the outcome.
fn play(replies: &[&[u8]], cut: impl Fn(&[u8]) -> Vec<Vec<u8>>) -> (Vec<SmtpStep>, Outcome) {
    let mut d = dialog();
    let mut steps = Vec::new();
    for reply in replies {
        let mut step = SmtpStep::NeedMore;
        for piece in cut(reply) {
            step = d.on_bytes(&piece);
            if step != SmtpStep::NeedMore {
                break;
            }
        }
        steps.push(step.clone());
        if let SmtpStep::Done(outcome) = step {
            return (steps, outcome);
        }
    }
    let outcome = d.on_eof();
    (steps, outcome)
}

fn whole(reply: &[u8]) -> Vec<Vec<u8>> {
    vec![reply.to_vec()]
}

#[test]
fn postfix_exchange_passes() {
    // The exchange as captured against Postfix.
    let mut d = dialog();
    assert_eq!(
        d.on_bytes(b"220 mail.example.org ESMTP Postfix (Debian/GNU)\r\n"),
        SmtpStep::Send(HELO.to_vec())
    );
    assert_eq!(
        d.on_bytes(b"250 mail.example.org\r\n"),
        SmtpStep::Send(b"QUIT\r\n".to_vec())
    );
    assert_eq!(
        d.on_bytes(b"221 2.0.0 Bye\r\n"),
        SmtpStep::Done(Outcome::pass())
    );
}

#[test]
fn helo_carries_the_configured_name() {
    let mut d = Dialog::new("checker.example");
    assert_eq!(
        d.on_bytes(b"220 x\r\n"),
        SmtpStep::Send(b"HELO checker.example\r\n".to_vec())
    );
}

#[test]
fn multiline_banner_is_read_to_its_last_line() {
    let mut d = dialog();
    assert_eq!(
        d.on_bytes(b"220-mail.example.org ESMTP\r\n220-no UCE\r\n"),
        SmtpStep::NeedMore
    );
    assert_eq!(d.on_bytes(b"220 ready\r\n"), SmtpStep::Send(HELO.to_vec()));
}

#[test]
fn multiline_helo_answer_is_read_to_its_last_line() {
    let replies: [&[u8]; 3] = [
        b"220 x\r\n",
        b"250-x\r\n250-PIPELINING\r\n250 8BITMIME\r\n",
        b"221 bye\r\n",
    ];
    let (steps, outcome) = play(&replies, whole);
    assert_eq!(steps[1], SmtpStep::Send(b"QUIT\r\n".to_vec()));
    assert_eq!(outcome, Outcome::pass());
}

#[test]
fn last_line_code_is_judged() {
    let mut d = dialog();
    assert_eq!(
        d.on_bytes(b"220-hello\r\n554 go away\r\n"),
        fail("SMTP banner 554")
    );
}

#[test]
fn banner_other_than_220_fails() {
    let mut d = dialog();
    assert_eq!(
        d.on_bytes(b"554 5.7.1 no service\r\n"),
        fail("SMTP banner 554")
    );
}

#[test]
fn helo_answer_other_than_250_fails() {
    let mut d = dialog();
    d.on_bytes(b"220 x\r\n");
    assert_eq!(
        d.on_bytes(b"501 5.5.4 bad HELO\r\n"),
        fail("HELO answered 501")
    );
}

#[test]
fn any_line_after_quit_passes() {
    // keepalived's SMTP_RECV_QUIT does not read the code.
    let replies: [&[u8]; 3] = [b"220 x\r\n", b"250 x\r\n", b"500 what\r\n"];
    assert_eq!(play(&replies, whole).1, Outcome::pass());
}

#[test]
fn bare_code_and_lf_only_lines_are_replies() {
    let replies: [&[u8]; 3] = [b"220\n", b"250\r\n", b"221\n"];
    assert_eq!(play(&replies, whole).1, Outcome::pass());
}

#[test]
fn lines_that_are_not_replies_are_malformed() {
    let mut d = dialog();
    assert_eq!(
        d.on_bytes(b"SSH-2.0-OpenSSH_9.6\r\n"),
        fail("malformed SMTP reply to the banner: \"SSH-2.0-OpenSSH_9.6\"")
    );
    let mut d = dialog();
    assert_eq!(
        d.on_bytes(b"2200 x\r\n"),
        fail("malformed SMTP reply to the banner: \"2200 x\"")
    );
    let mut d = dialog();
    d.on_bytes(b"220 x\r\n");
    assert_eq!(
        d.on_bytes(b"25\r\n"),
        fail("malformed SMTP reply to HELO: \"25\"")
    );
}

#[test]
fn overlong_lines_fail() {
    let mut d = dialog();
    let mut line = b"220 ".to_vec();
    line.resize(MAX_LINE_LEN - 2, b'a');
    line.extend_from_slice(b"\r\n");
    assert_eq!(line.len(), MAX_LINE_LEN);
    assert_eq!(
        d.on_bytes(&line),
        SmtpStep::Send(HELO.to_vec()),
        "at the limit"
    );
    let mut d = dialog();
    line.insert(4, b'a');
    assert_eq!(
        d.on_bytes(&line),
        fail("SMTP reply line to the banner longer than 1024 bytes")
    );
}

#[test]
fn close_fails_in_every_phase() {
    let mut d = dialog();
    assert_eq!(
        d.on_eof(),
        Outcome::fail("connection closed during the banner")
    );

    let mut d = dialog();
    d.on_bytes(b"220 x\r\n");
    assert_eq!(d.on_eof(), Outcome::fail("connection closed during HELO"));

    let mut d = dialog();
    d.on_bytes(b"220 x\r\n");
    d.on_bytes(b"250 x\r\n");
    d.on_bytes(b"221 half a line");
    assert_eq!(d.on_eof(), Outcome::fail("connection closed during QUIT"));
}

#[test]
fn bytes_after_a_reply_are_dropped() {
    // As keepalived's smtp_get_line: the rest of the read is discarded, so
    // an answer sent before HELO was written does not count for HELO.
    let mut d = dialog();
    assert_eq!(
        d.on_bytes(b"220 x\r\n554 early\r\n"),
        SmtpStep::Send(HELO.to_vec())
    );
    assert_eq!(
        d.on_bytes(b"250 ok\r\n"),
        SmtpStep::Send(b"QUIT\r\n".to_vec())
    );
}

#[test]
fn verdict_is_sticky() {
    let mut d = dialog();
    let first = d.on_bytes(b"421 busy\r\n");
    assert_eq!(d.on_bytes(b"220 x\r\n"), first);
    assert_eq!(SmtpStep::Done(d.on_eof()), first);
}

#[test]
fn every_split_gives_the_same_dialog() {
    let scripts: [[&[u8]; 3]; 3] = [
        [
            b"220-mail.example.org ESMTP\r\n220 ready\r\n",
            b"250 mail.example.org\r\n",
            b"221 2.0.0 Bye\r\n",
        ],
        [b"220 x\r\n", b"250-x\r\n250 SIZE\r\n", b"221 bye\r\n"],
        [b"220 x\r\n", b"550 no\r\n", b""],
    ];
    for script in scripts {
        let want = play(&script, whole);
        let by_byte = play(&script, |r| r.chunks(1).map(<[u8]>::to_vec).collect());
        assert_eq!(by_byte, want, "byte by byte");
        for phase in 0..script.len() {
            for cut in 0..=script[phase].len() {
                let got = play(&script, |r| {
                    if r == script[phase] {
                        let (a, b) = r.split_at(cut);
                        vec![a.to_vec(), b.to_vec()]
                    } else {
                        vec![r.to_vec()]
                    }
                });
                assert_eq!(got, want, "phase {phase} split at {cut}");
            }
        }
    }
}

/// One reply: its code, continuation lines and text.
fn reply_strategy() -> impl Strategy<Value = (u16, usize, String)> {
    (
        prop_oneof![Just(220u16), Just(250), Just(221), 100u16..600],
        0usize..4,
        "[ -~]{0,40}",
    )
}

fn render((code, more, text): &(u16, usize, String)) -> Vec<u8> {
    let mut out = Vec::new();
    for _ in 0..*more {
        out.extend_from_slice(format!("{code}-{text}\r\n").as_bytes());
    }
    out.extend_from_slice(format!("{code} {text}\r\n").as_bytes());
    out
}

proptest! {
    /// Fuzz: arbitrary bytes in arbitrary reads never panic, and the dialog
    /// always ends in an outcome at EOF.
    #[test]
    fn arbitrary_reads_never_panic(
        reads in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 0..8),
    ) {
        let mut d = dialog();
        for read in &reads {
            let _ = d.on_bytes(read);
        }
        let outcome = d.on_eof();
        // Once over, the dialog keeps its verdict.
        prop_assert_eq!(d.on_eof(), outcome.clone());
        prop_assert_eq!(d.on_bytes(b"220 x\r\n"), SmtpStep::Done(outcome));
    }

    /// Model: the check passes iff the banner is 220 and HELO's answer 250,
    /// however each reply is cut into reads.
    #[test]
    fn verdict_follows_the_model(
        banner in reply_strategy(),
        helo in reply_strategy(),
        quit in reply_strategy(),
        cuts in proptest::collection::vec(any::<usize>(), 0..6),
    ) {
        let replies = [render(&banner), render(&helo), render(&quit)];
        let refs: Vec<&[u8]> = replies.iter().map(Vec::as_slice).collect();
        let cut = |r: &[u8]| {
            let mut points: Vec<usize> = cuts.iter().map(|c| c % (r.len() + 1)).collect();
            points.sort_unstable();
            let mut out = Vec::new();
            let mut start = 0;
            for p in points {
                out.push(r[start..p].to_vec());
                start = p;
            }
            out.push(r[start..].to_vec());
            out
        };
        let (_, outcome) = play(&refs, cut);
        let want = if banner.0 != 220 {
            Outcome::fail(format!("SMTP banner {}", banner.0))
        } else if helo.0 != 250 {
            Outcome::fail(format!("HELO answered {}", helo.0))
        } else {
            Outcome::pass()
        };
        prop_assert_eq!(outcome, want);
    }
}
