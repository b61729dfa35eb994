//! HTTP_GET / SSL_GET, sans-IO: the request keepalived's check_http.c
//! sends, and a streaming judge of the answer (status code, then the MD5 of
//! the body when a `digest` is configured). TLS, if any, is the engine's:
//! this module sees plaintext bytes.
//!
//! Layer: health (pure). The response head is parsed by `httparse`; the
//! body is hashed as it arrives and never buffered.

use std::fmt::Write as _;

use md5::{Digest, Md5};
use xvs_config::HttpProtocol;

use crate::spec::{HttpRequest, Outcome};

/// Largest response head we wait for. keepalived reads into a 4 KiB buffer
/// and gives up when it fills without a header end; we allow more, since
/// servers with many cookies or CSP headers exceed 4 KiB, but stay bounded.
pub const MAX_HEAD_LEN: usize = 64 * 1024;

/// The status codes keepalived accepts at all (check_http.h
/// HTTP_STATUS_CODE_MIN/MAX); a code outside fails whatever the set says.
const STATUS_MIN: u16 = 100;
const STATUS_MAX: u16 = 599;

/// Header slots for httparse. A head may carry more; see [`parse_head`].
const MAX_HEADERS: usize = 128;

/// The request, as keepalived's `request_template`: request line,
/// `User-Agent`, `Connection: close` for 1.0C and 1.1, then `Host`, then
/// the blank line. `req.host` is already `name`, `ip:port` or `[v6]:port`.
pub fn request_bytes(req: &HttpRequest) -> Vec<u8> {
    let minor = match req.protocol {
        HttpProtocol::Http10 | HttpProtocol::Http10Close => 0,
        HttpProtocol::Http11 => 1,
    };
    let close = match req.protocol {
        HttpProtocol::Http10 => "",
        HttpProtocol::Http10Close | HttpProtocol::Http11 => "Connection: close\r\n",
    };
    format!(
        "GET {} HTTP/1.{minor}\r\nUser-Agent: KeepAliveClient\r\n{close}Host: {}\r\n\r\n",
        req.path, req.host
    )
    .into_bytes()
}

/// Where a streaming judge stands after some bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Progress {
    /// Keep reading (and call `finish` if the peer closes).
    NeedMore,
    /// The verdict is in; stop reading and close.
    Done(Outcome),
}

/// Judges one response as it streams in.
///
/// As keepalived's http_handle_response: the response must not be empty
/// (a complete head), its status must be in the accepted set, and with a
/// digest the MD5 of the body (bytes after the head, capped at
/// Content-Length) must match. Unlike keepalived, which always reads to
/// EOF, the verdict comes as soon as it is known: a refused status at the
/// end of the head, the body at Content-Length.
#[derive(Debug)]
pub struct ResponseCheck {
    status: Vec<(u16, u16)>,
    digest: Option<[u8; 16]>,
    state: State,
}

#[derive(Debug)]
enum State {
    Head(HeadScan),
    Body {
        /// Body bytes still expected (Content-Length), if it was given.
        remaining: Option<u64>,
        hasher: Option<Md5>,
    },
    Done(Outcome),
}

/// The head so far, and where the search for its end stands.
#[derive(Debug, Default)]
struct HeadScan {
    buf: Vec<u8>,
    /// Bytes of `buf` already scanned.
    scanned: usize,
    /// A byte other than CR/LF was seen: httparse skips leading empty
    /// lines, so the blank line that ends the head comes after one.
    started: bool,
    /// Bytes other than CR in the current line.
    line_len: usize,
}

impl HeadScan {
    /// Scans what was not scanned yet (never past [`MAX_HEAD_LEN`]) and
    /// returns the head length once the blank line after it is seen.
    /// Scanning is byte-wise with kept state, so how the bytes were split
    /// into reads does not change the result.
    fn find_end(&mut self) -> Option<usize> {
        let limit = self.buf.len().min(MAX_HEAD_LEN);
        while self.scanned < limit {
            let b = self.buf[self.scanned];
            self.scanned += 1;
            match b {
                b'\r' | b'\n' if !self.started => {}
                b'\r' => {}
                b'\n' if self.line_len == 0 => return Some(self.scanned),
                b'\n' => self.line_len = 0,
                _ => {
                    self.started = true;
                    self.line_len += 1;
                }
            }
        }
        None
    }
}

impl ResponseCheck {
    pub fn new(req: &HttpRequest) -> Self {
        ResponseCheck {
            status: req.status.clone(),
            digest: req.digest,
            state: State::Head(HeadScan::default()),
        }
    }

    /// Takes the next bytes read from the connection.
    pub fn feed(&mut self, bytes: &[u8]) -> Progress {
        match &mut self.state {
            State::Done(_) => {}
            State::Body { .. } => self.take_body(bytes),
            State::Head(scan) => {
                scan.buf.extend_from_slice(bytes);
                match scan.find_end() {
                    Some(end) => {
                        let buf = std::mem::take(&mut scan.buf);
                        self.on_head(&buf, end);
                    }
                    None if scan.scanned >= MAX_HEAD_LEN => {
                        self.state = State::Done(Outcome::fail(format!(
                            "response header too large (no end within {MAX_HEAD_LEN} bytes)"
                        )));
                    }
                    None => {}
                }
            }
        }
        match &self.state {
            State::Done(outcome) => Progress::Done(outcome.clone()),
            State::Head(_) | State::Body { .. } => Progress::NeedMore,
        }
    }

    /// The peer closed the connection (or the TLS session ended): judge
    /// what arrived.
    pub fn finish(self) -> Outcome {
        match self.state {
            State::Done(outcome) => outcome,
            // keepalived: "Read, no data received from" (no header end).
            State::Head(scan) if scan.buf.is_empty() => Outcome::fail("empty response"),
            State::Head(_) => Outcome::fail("connection closed before the header end"),
            // keepalived logs a Content-Length mismatch but judges the
            // digest of what arrived; so do we.
            State::Body { hasher, .. } => judge_digest(self.digest, hasher),
        }
    }

    /// The head is `buf[..end]`: judge the status, then start on the body
    /// bytes that came with it.
    fn on_head(&mut self, buf: &[u8], end: usize) {
        let head = match parse_head(&buf[..end]) {
            Ok(head) => head,
            Err(reason) => {
                self.state = State::Done(Outcome::fail(reason));
                return;
            }
        };
        if let Some(reason) = self.refuse_status(head.code) {
            self.state = State::Done(Outcome::fail(reason));
            return;
        }
        self.state = State::Body {
            remaining: head.content_length,
            hasher: self.digest.map(|_| Md5::new()),
        };
        self.take_body(buf.get(head.len..).unwrap_or_default());
    }

    /// Hashes body bytes up to Content-Length; at Content-Length, judges.
    fn take_body(&mut self, bytes: &[u8]) {
        let State::Body { remaining, hasher } = &mut self.state else {
            return;
        };
        let take = match *remaining {
            // A u64 that does not fit usize is more than any slice holds.
            Some(left) => usize::try_from(left).map_or(bytes.len(), |l| l.min(bytes.len())),
            None => bytes.len(),
        };
        if let Some(h) = hasher.as_mut() {
            h.update(&bytes[..take]);
        }
        if let Some(left) = remaining.as_mut() {
            // take <= left, so this does not underflow.
            *left -= take as u64;
            if *left == 0 {
                let hasher = hasher.take();
                self.state = State::Done(judge_digest(self.digest, hasher));
            }
        }
    }

    /// The failure reason for a status keepalived would not accept.
    fn refuse_status(&self, code: u16) -> Option<String> {
        let listed = self
            .status
            .iter()
            .any(|&(lo, hi)| (lo..=hi).contains(&code));
        if (STATUS_MIN..=STATUS_MAX).contains(&code) && listed {
            return None;
        }
        Some(format!(
            "HTTP {code} not in {}",
            format_ranges(&self.status)
        ))
    }
}

/// What the judge needs from a response head.
#[derive(Debug, PartialEq, Eq)]
struct Head {
    /// Bytes of the head, blank line included.
    len: usize,
    code: u16,
    content_length: Option<u64>,
}

/// Parses a complete head. httparse is told to be as lenient as keepalived,
/// which reads nothing but the status code and Content-Length: extra
/// spaces, obsolete line folding and invalid header lines are tolerated.
fn parse_head(head: &[u8]) -> Result<Head, String> {
    match parse_head_with(head, MAX_HEADERS) {
        // More headers than slots: parse again with one slot per line the
        // head holds (it is at most MAX_HEAD_LEN bytes, so this is bounded).
        Err(httparse::Error::TooManyHeaders) => {
            let lines = head.iter().filter(|&&b| b == b'\n').count();
            parse_head_with(head, lines)
        }
        other => other,
    }
    .map_err(|e| format!("malformed response: {e}"))
}

fn parse_head_with(head: &[u8], slots: usize) -> Result<Head, httparse::Error> {
    let mut config = httparse::ParserConfig::default();
    config
        .allow_multiple_spaces_in_response_status_delimiters(true)
        .allow_spaces_after_header_name_in_responses(true)
        .allow_obsolete_multiline_headers_in_responses(true)
        .ignore_invalid_headers_in_responses(true);
    let mut slots = vec![httparse::EMPTY_HEADER; slots];
    let mut response = httparse::Response::new(&mut slots);
    match config.parse_response(&mut response, head)? {
        httparse::Status::Complete(len) => Ok(Head {
            len,
            code: response.code.unwrap_or(0),
            content_length: content_length(response.headers),
        }),
        // The scanner saw the blank line after a non-empty line, so httparse
        // wants more only if it reads the head differently (a bare CR ends
        // no line for it); the head is then malformed.
        httparse::Status::Partial => Err(httparse::Error::NewLine),
    }
}

/// The first Content-Length, as keepalived's extract_content_length; a
/// value that is not a plain decimal number is ignored, as there.
fn content_length(headers: &[httparse::Header<'_>]) -> Option<u64> {
    let header = headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("content-length"))?;
    let text = std::str::from_utf8(header.value).ok()?.trim();
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// Pass, or "digest mismatch (got <hex>)"; no digest configured passes.
fn judge_digest(want: Option<[u8; 16]>, hasher: Option<Md5>) -> Outcome {
    let (Some(want), Some(hasher)) = (want, hasher) else {
        return Outcome::pass();
    };
    let got: [u8; 16] = hasher.finalize().into();
    if got == want {
        Outcome::pass()
    } else {
        Outcome::fail(format!("digest mismatch (got {})", hex(&got)))
    }
}

fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        // Writing to a String cannot fail.
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// "200-299", "200, 301-302", or "(none)".
fn format_ranges(ranges: &[(u16, u16)]) -> String {
    if ranges.is_empty() {
        return "(none)".into();
    }
    let parts: Vec<String> = ranges
        .iter()
        .map(|&(lo, hi)| {
            if lo == hi {
                lo.to_string()
            } else {
                format!("{lo}-{hi}")
            }
        })
        .collect();
    parts.join(", ")
}

#[cfg(test)]
#[path = "http_tests.rs"]
mod tests;
