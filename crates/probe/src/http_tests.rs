//! Tests of the HTTP_GET request and response judge.

use proptest::prelude::*;
use xvs_config::HttpProtocol;

use super::*;
use crate::spec::HttpRequest;

fn request(protocol: HttpProtocol) -> HttpRequest {
    HttpRequest {
        path: "/health".into(),
        host: "198.18.1.11:80".into(),
        protocol,
        status: vec![(200, 299)],
        digest: None,
    }
}

fn with_digest(body: &[u8]) -> HttpRequest {
    let mut req = request(HttpProtocol::Http10);
    req.digest = Some(Md5::digest(body).into());
    req
}

/// Feeds `chunks` until a verdict, then `finish` if none came.
fn run(req: &HttpRequest, chunks: &[&[u8]]) -> Outcome {
    let mut check = ResponseCheck::new(req);
    for chunk in chunks {
        if let Progress::Done(outcome) = check.feed(chunk) {
            return outcome;
        }
    }
    check.finish()
}

fn fail_reason(outcome: Outcome) -> String {
    match outcome {
        Outcome::Fail { reason } => reason,
        Outcome::Pass { .. } => panic!("expected a failure"),
    }
}

#[test]
fn request_http10_has_no_connection_header() {
    assert_eq!(
        request_bytes(&request(HttpProtocol::Http10)),
        b"GET /health HTTP/1.0\r\n\
          User-Agent: KeepAliveClient\r\n\
          Host: 198.18.1.11:80\r\n\
          \r\n"
    );
}

#[test]
fn request_http10_close_puts_connection_before_host() {
    assert_eq!(
        request_bytes(&request(HttpProtocol::Http10Close)),
        b"GET /health HTTP/1.0\r\n\
          User-Agent: KeepAliveClient\r\n\
          Connection: close\r\n\
          Host: 198.18.1.11:80\r\n\
          \r\n"
    );
}

#[test]
fn request_http11_closes_and_carries_an_ipv6_host() {
    let mut req = request(HttpProtocol::Http11);
    req.host = "[fd00::11]:8080".into();
    req.path = "/a?b=c".into();
    assert_eq!(
        request_bytes(&req),
        b"GET /a?b=c HTTP/1.1\r\n\
          User-Agent: KeepAliveClient\r\n\
          Connection: close\r\n\
          Host: [fd00::11]:8080\r\n\
          \r\n"
    );
}

#[test]
fn ok_status_without_length_passes_at_close() {
    let req = request(HttpProtocol::Http10);
    let mut check = ResponseCheck::new(&req);
    let progress = check.feed(b"HTTP/1.0 200 OK\r\nServer: x\r\n\r\nhello");
    assert_eq!(
        progress,
        Progress::NeedMore,
        "no length: wait for the close"
    );
    assert_eq!(check.finish(), Outcome::pass());
}

#[test]
fn refused_status_fails_at_the_head_end() {
    let req = request(HttpProtocol::Http10);
    let mut check = ResponseCheck::new(&req);
    assert_eq!(
        check.feed(b"HTTP/1.1 500 Internal Server Error\r\n\r\n"),
        Progress::Done(Outcome::fail("HTTP 500 not in 200-299"))
    );
}

#[test]
fn status_set_lists_single_codes_and_ranges() {
    let mut req = request(HttpProtocol::Http10);
    req.status = vec![(200, 200), (301, 302)];
    assert_eq!(run(&req, &[b"HTTP/1.0 302 Found\r\n\r\n"]), Outcome::pass());
    assert_eq!(
        fail_reason(run(&req, &[b"HTTP/1.0 404 Not Found\r\n\r\n"])),
        "HTTP 404 not in 200, 301-302"
    );
}

#[test]
fn status_outside_100_599_fails_even_if_listed() {
    let mut req = request(HttpProtocol::Http10);
    req.status = vec![(0, 999)];
    assert_eq!(
        fail_reason(run(&req, &[b"HTTP/1.0 600 Odd\r\n\r\n"])),
        "HTTP 600 not in 0-999"
    );
    assert!(!run(&req, &[b"HTTP/1.0 099 Odd\r\n\r\n"]).is_pass());
    assert!(run(&req, &[b"HTTP/1.0 599 Odd\r\n\r\n"]).is_pass());
}

#[test]
fn empty_status_set_accepts_nothing() {
    let mut req = request(HttpProtocol::Http10);
    req.status = vec![];
    assert_eq!(
        fail_reason(run(&req, &[b"HTTP/1.0 200 OK\r\n\r\n"])),
        "HTTP 200 not in (none)"
    );
}

#[test]
fn digest_of_the_body_passes_at_content_length() {
    let req = with_digest(b"hello");
    let mut check = ResponseCheck::new(&req);
    assert_eq!(
        check.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhel"),
        Progress::NeedMore
    );
    // The verdict comes at Content-Length, without waiting for the close.
    assert_eq!(check.feed(b"lo"), Progress::Done(Outcome::pass()));
}

#[test]
fn digest_covers_only_content_length_bytes() {
    // keepalived's http_process_response caps the MD5 update at
    // Content-Length: the trailing bytes are not part of the body.
    let req = with_digest(b"hello");
    let response = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello, and more";
    assert_eq!(run(&req, &[response]), Outcome::pass());
    let whole = with_digest(b"hello, and more");
    assert!(!run(&whole, &[response]).is_pass());
}

#[test]
fn digest_mismatch_names_the_digest_received() {
    let mut req = request(HttpProtocol::Http10);
    req.digest = Some([0; 16]);
    let outcome = run(&req, &[b"HTTP/1.0 200 OK\r\n\r\nhello"]);
    // md5("hello"), as `echo -n hello | md5sum` (keepalived's genhash).
    assert_eq!(
        fail_reason(outcome),
        "digest mismatch (got 5d41402abc4b2a76b9719d911017c592)"
    );
}

#[test]
fn digest_without_length_hashes_to_the_close() {
    let req = with_digest(b"first second");
    let outcome = run(&req, &[b"HTTP/1.0 200 OK\r\n\r\nfirst", b" ", b"second"]);
    assert_eq!(outcome, Outcome::pass());
}

#[test]
fn digest_of_an_empty_body() {
    let mut req = request(HttpProtocol::Http10);
    req.digest = Some([
        0xd4, 0x1d, 0x8c, 0xd9, 0x8f, 0x00, 0xb2, 0x04, 0xe9, 0x80, 0x09, 0x98, 0xec, 0xf8, 0x42,
        0x7e,
    ]);
    let mut check = ResponseCheck::new(&req);
    assert_eq!(
        check.feed(b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n"),
        Progress::Done(Outcome::pass()),
        "Content-Length 0 ends the body at the head end"
    );
}

#[test]
fn short_body_is_judged_at_close() {
    // keepalived only logs a Content-Length mismatch; the digest decides.
    let req = request(HttpProtocol::Http10);
    let outcome = run(
        &req,
        &[b"HTTP/1.0 200 OK\r\nContent-Length: 100\r\n\r\nabc"],
    );
    assert_eq!(outcome, Outcome::pass());
    let digest = with_digest(b"abc");
    let outcome = run(
        &digest,
        &[b"HTTP/1.0 200 OK\r\nContent-Length: 100\r\n\r\nabc"],
    );
    assert_eq!(outcome, Outcome::pass());
}

#[test]
fn invalid_content_length_is_ignored() {
    let req = with_digest(b"abcdef");
    let mut check = ResponseCheck::new(&req);
    assert_eq!(
        check.feed(b"HTTP/1.0 200 OK\r\nContent-Length: 3x\r\n\r\nabcdef"),
        Progress::NeedMore
    );
    assert_eq!(check.finish(), Outcome::pass());
}

#[test]
fn content_length_name_is_case_insensitive() {
    let req = with_digest(b"abc");
    let response = b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\nabcdef";
    assert_eq!(run(&req, &[response]), Outcome::pass());
}

#[test]
fn nothing_received_is_an_empty_response() {
    let req = request(HttpProtocol::Http10);
    assert_eq!(fail_reason(run(&req, &[])), "empty response");
}

#[test]
fn close_inside_the_head_fails() {
    let req = request(HttpProtocol::Http10);
    assert_eq!(
        fail_reason(run(&req, &[b"HTTP/1.0 200 OK\r\nServer: x\r\n"])),
        "connection closed before the header end"
    );
}

#[test]
fn head_larger_than_the_bound_fails() {
    let req = request(HttpProtocol::Http10);
    let mut check = ResponseCheck::new(&req);
    assert_eq!(check.feed(b"HTTP/1.0 200 OK\r\n"), Progress::NeedMore);
    let filler = vec![b'a'; MAX_HEAD_LEN];
    assert_eq!(
        check.feed(&filler),
        Progress::Done(Outcome::fail(format!(
            "response header too large (no end within {MAX_HEAD_LEN} bytes)"
        )))
    );
}

#[test]
fn head_ending_past_the_bound_fails_however_it_is_read() {
    // The end is searched for in the first MAX_HEAD_LEN bytes only, so a
    // large read cannot see an end that small reads would not.
    let req = request(HttpProtocol::Http10);
    let mut response = b"HTTP/1.0 200 OK\r\nX: ".to_vec();
    response.resize(MAX_HEAD_LEN + 10, b'a');
    response.extend_from_slice(b"\r\n\r\n");
    let want = Outcome::fail(format!(
        "response header too large (no end within {MAX_HEAD_LEN} bytes)"
    ));
    assert_eq!(run(&req, &[&response]), want, "one read");
    let pieces: Vec<&[u8]> = response.chunks(1000).collect();
    assert_eq!(run(&req, &pieces), want, "1000-byte reads");
}

#[test]
fn non_http_answer_is_malformed() {
    let req = request(HttpProtocol::Http10);
    let reason = fail_reason(run(&req, &[b"SSH-2.0-OpenSSH_9.6\r\n\r\n"]));
    assert!(reason.starts_with("malformed response: "), "{reason}");
}

#[test]
fn bare_lf_line_ends_and_leading_blank_lines_are_read() {
    let req = with_digest(b"ok");
    let outcome = run(&req, &[b"\r\n\nHTTP/1.0 200 OK\nContent-Length: 2\n\nok"]);
    assert_eq!(outcome, Outcome::pass());
}

#[test]
fn many_headers_are_read() {
    let req = with_digest(b"body");
    let mut response = b"HTTP/1.1 200 OK\r\n".to_vec();
    for i in 0..(MAX_HEADERS * 3) {
        response.extend_from_slice(format!("X-Filler-{i}: {i}\r\n").as_bytes());
    }
    response.extend_from_slice(b"Content-Length: 4\r\n\r\nbody");
    assert_eq!(run(&req, &[&response]), Outcome::pass());
}

#[test]
fn verdict_is_sticky() {
    let req = request(HttpProtocol::Http10);
    let mut check = ResponseCheck::new(&req);
    let first = check.feed(b"HTTP/1.0 503 Busy\r\n\r\n");
    assert_eq!(check.feed(b"HTTP/1.0 200 OK\r\n\r\n"), first);
    assert_eq!(Progress::Done(check.finish()), first);
}

#[test]
fn every_split_gives_the_same_outcome() {
    let body = b"<html>up</html>";
    let mut response =
        b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 15\r\n\r\n".to_vec();
    response.extend_from_slice(body);
    response.extend_from_slice(b"trailing junk");
    let cases = [
        (with_digest(body), Outcome::pass()),
        (
            with_digest(b"other"),
            Outcome::fail(format!("digest mismatch (got {})", hex(&Md5::digest(body)))),
        ),
    ];
    for (req, want) in cases {
        for cut in 0..=response.len() {
            let (a, b) = response.split_at(cut);
            assert_eq!(run(&req, &[a, b]), want, "split at {cut}");
        }
        let bytes: Vec<&[u8]> = response.chunks(1).collect();
        assert_eq!(run(&req, &bytes), want, "byte by byte");
    }
}

#[test]
fn every_split_of_a_refused_response_gives_the_same_outcome() {
    let req = request(HttpProtocol::Http10);
    let response = b"HTTP/1.0 404 Not Found\r\nServer: x\r\n\r\nnope";
    for cut in 0..=response.len() {
        let (a, b) = response.split_at(cut);
        assert_eq!(
            run(&req, &[a, b]),
            Outcome::fail("HTTP 404 not in 200-299"),
            "split at {cut}"
        );
    }
}

/// Splits `bytes` at the given cut points (taken modulo the length).
fn split<'a>(bytes: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
    points.sort_unstable();
    let mut out = Vec::new();
    let mut start = 0;
    for p in points {
        out.push(&bytes[start..p]);
        start = p;
    }
    out.push(&bytes[start..]);
    out
}

proptest! {
    /// Fuzz: arbitrary bytes, arbitrarily split, never panic and give the
    /// outcome of the same bytes in one read.
    #[test]
    fn arbitrary_bytes_split_anywhere_agree(
        bytes in proptest::collection::vec(any::<u8>(), 0..512),
        cuts in proptest::collection::vec(any::<usize>(), 0..8),
        digest in any::<bool>(),
    ) {
        let mut req = request(HttpProtocol::Http11);
        if digest {
            req.digest = Some([7; 16]);
        }
        let whole = run(&req, &[&bytes]);
        prop_assert_eq!(run(&req, &split(&bytes, &cuts)), whole);
    }

    /// Fuzz with a plausible prefix, so the head parser and the body path
    /// see arbitrary input too.
    #[test]
    fn arbitrary_heads_and_bodies_never_panic(
        head in "[ -~\r\n]{0,200}",
        body in proptest::collection::vec(any::<u8>(), 0..64),
        cuts in proptest::collection::vec(any::<usize>(), 0..8),
    ) {
        let mut bytes = b"HTTP/1.1 200 OK\r\n".to_vec();
        bytes.extend_from_slice(head.as_bytes());
        bytes.extend_from_slice(b"\r\n\r\n");
        bytes.extend_from_slice(&body);
        let req = with_digest(&body);
        let whole = run(&req, &[&bytes]);
        prop_assert_eq!(run(&req, &split(&bytes, &cuts)), whole);
    }

    /// Model: a well-formed response passes iff the digest is the MD5 of
    /// the body's first Content-Length bytes.
    #[test]
    fn digest_verdict_follows_the_model(
        body in proptest::collection::vec(any::<u8>(), 0..200),
        length in proptest::option::of(0usize..250),
        hashed_prefix in any::<bool>(),
        cuts in proptest::collection::vec(any::<usize>(), 0..8),
    ) {
        let mut bytes = b"HTTP/1.1 200 OK\r\n".to_vec();
        if let Some(len) = length {
            bytes.extend_from_slice(format!("Content-Length: {len}\r\n").as_bytes());
        }
        bytes.extend_from_slice(b"\r\n");
        bytes.extend_from_slice(&body);
        let counted = &body[..length.unwrap_or(body.len()).min(body.len())];
        let digested = if hashed_prefix { counted } else { &body[..] };
        let req = with_digest(digested);
        let want = counted == digested;
        prop_assert_eq!(run(&req, &split(&bytes, &cuts)).is_pass(), want);
    }
}
