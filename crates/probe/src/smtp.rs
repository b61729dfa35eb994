//! SMTP_CHECK, sans-IO: the dialog keepalived's check_smtp.c holds with a
//! mail server. Read the greeting, which must be 220; send `HELO <name>`,
//! whose answer must be 250; send `QUIT` and read one more line. Any other
//! code, a malformed reply or the connection closing before the end fails.
//!
//! Replies are read as RFC 5321 §4.2 defines them: `NNN-text` lines
//! continue a multiline reply, the `NNN text` (or bare `NNN`) line ends it,
//! and the code of that last line is judged. keepalived reads one line only
//! and so fails multiline greetings; we accept them.
//!
//! Layer: health (pure).

use crate::spec::Outcome;

/// Longest reply line accepted, CRLF included: twice RFC 5321's limit of
/// 512 octets (§4.5.3.1.5), for servers that stretch it. A longer line is
/// not SMTP; keepalived's 512-byte buffer would wrap and misread it.
pub const MAX_LINE_LEN: usize = 1024;

/// What the engine does next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SmtpStep {
    /// Write these bytes, then keep reading.
    Send(Vec<u8>),
    /// Keep reading (and call `on_eof` if the peer closes).
    NeedMore,
    /// The dialog is over; close.
    Done(Outcome),
}

/// One SMTP_CHECK dialog.
#[derive(Debug)]
pub struct Dialog {
    helo_name: String,
    phase: Phase,
    /// The reply line being read (without its LF), up to [`MAX_LINE_LEN`].
    line: Vec<u8>,
}

/// Which reply is awaited.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Phase {
    Banner,
    Helo,
    Quit,
    Done(Outcome),
}

impl Phase {
    /// How the reply is named in reasons.
    fn name(&self) -> &'static str {
        match self {
            Phase::Banner => "the banner",
            Phase::Helo => "HELO",
            Phase::Quit | Phase::Done(_) => "QUIT",
        }
    }
}

/// A complete reply line: `NNN-` continues the reply, `NNN ` or `NNN` ends it.
enum Line {
    Continues,
    Last(u16),
}

impl Dialog {
    pub fn new(helo_name: &str) -> Self {
        Dialog {
            helo_name: helo_name.to_owned(),
            phase: Phase::Banner,
            line: Vec::new(),
        }
    }

    /// Takes the next bytes read from the connection.
    ///
    /// Bytes after the end of a reply, in the same read, are dropped as
    /// keepalived does: the server cannot be answering a command we have
    /// not sent yet.
    pub fn on_bytes(&mut self, bytes: &[u8]) -> SmtpStep {
        if let Phase::Done(outcome) = &self.phase {
            return SmtpStep::Done(outcome.clone());
        }
        for &b in bytes {
            if b != b'\n' {
                if self.line.len() + 2 > MAX_LINE_LEN {
                    return self.end(Outcome::fail(format!(
                        "SMTP reply line to {} longer than {MAX_LINE_LEN} bytes",
                        self.phase.name()
                    )));
                }
                self.line.push(b);
                continue;
            }
            let line = std::mem::take(&mut self.line);
            if let Some(step) = self.on_line(&line) {
                return step;
            }
        }
        SmtpStep::NeedMore
    }

    /// The peer closed the connection.
    pub fn on_eof(&mut self) -> Outcome {
        if let Phase::Done(outcome) = &self.phase {
            return outcome.clone();
        }
        // keepalived's smtp_get_line_cb: a read of 0 fails the check in
        // every state, the wait for the QUIT answer included.
        let outcome = Outcome::fail(format!("connection closed during {}", self.phase.name()));
        self.phase = Phase::Done(outcome.clone());
        outcome
    }

    /// Handles one complete line; `Some` when the dialog moves on.
    fn on_line(&mut self, line: &[u8]) -> Option<SmtpStep> {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if self.phase == Phase::Quit {
            // keepalived's SMTP_RECV_QUIT: any line after QUIT passes.
            return Some(self.end(Outcome::pass()));
        }
        let code = match parse_line(line) {
            Some(Line::Continues) => return None,
            Some(Line::Last(code)) => code,
            None => {
                return Some(self.end(Outcome::fail(format!(
                    "malformed SMTP reply to {}: {}",
                    self.phase.name(),
                    quote(line)
                ))))
            }
        };
        match (&self.phase, code) {
            (Phase::Banner, 220) => {
                self.phase = Phase::Helo;
                Some(SmtpStep::Send(
                    format!("HELO {}\r\n", self.helo_name).into_bytes(),
                ))
            }
            (Phase::Banner, _) => Some(self.end(Outcome::fail(format!("SMTP banner {code}")))),
            (Phase::Helo, 250) => {
                self.phase = Phase::Quit;
                Some(SmtpStep::Send(b"QUIT\r\n".to_vec()))
            }
            (Phase::Helo, _) => Some(self.end(Outcome::fail(format!("HELO answered {code}")))),
            (Phase::Quit | Phase::Done(_), _) => None,
        }
    }

    fn end(&mut self, outcome: Outcome) -> SmtpStep {
        self.line.clear();
        self.phase = Phase::Done(outcome.clone());
        SmtpStep::Done(outcome)
    }
}

/// RFC 5321 §4.2: Reply-code, then `-` (more lines follow), or SP and
/// text, or nothing (the last line). keepalived's smtp_get_status likewise
/// wants exactly three digits followed by a space or the end.
fn parse_line(line: &[u8]) -> Option<Line> {
    let digits = line.get(..3)?;
    if !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let code = digits
        .iter()
        .fold(0u16, |acc, d| acc * 10 + u16::from(d - b'0'));
    match line.get(3) {
        None | Some(b' ') => Some(Line::Last(code)),
        Some(b'-') => Some(Line::Continues),
        Some(_) => None,
    }
}

/// The start of a line for a reason, quoted and escaped.
fn quote(line: &[u8]) -> String {
    const SHOWN: usize = 60;
    let text = String::from_utf8_lossy(&line[..line.len().min(SHOWN)]);
    let more = if line.len() > SHOWN { "..." } else { "" };
    format!("\"{}{more}\"", text.escape_debug())
}

#[cfg(test)]
#[path = "smtp_tests.rs"]
mod tests;
