//! Lines stamped with the wall clock as they arrive: a daemon's log read
//! from a pipe (`xvs run` writes its state changes to stderr, unbuffered)
//! or keepalived's notify FIFO. Every instant in this bench is UNIX time
//! in seconds (CLOCK_REALTIME), the clock lab-client.py stamps its
//! requests with and the kernel stamps received frames with, so the
//! figures of different sources are comparable.
//!
//! The stamp is taken when the reading thread gets the line, so it lags
//! the write by that thread's wake-up: well under a millisecond on an idle
//! core, more when both cores are busy. The frames the kernel stamps
//! (capture.rs) do not have that lag and check it.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{SystemTime, UNIX_EPOCH};

/// The wall clock as UNIX seconds.
pub fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// One line and when it arrived.
#[derive(Clone, Debug, PartialEq)]
pub struct Line {
    pub t: f64,
    pub text: String,
}

/// The lines of one source so far, shared with the thread reading it.
#[derive(Clone, Debug, Default)]
pub struct Lines(Arc<Mutex<Vec<Line>>>);

impl Lines {
    fn lock(&self) -> MutexGuard<'_, Vec<Line>> {
        // A reader thread that panicked left whole lines behind: keep them.
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn push(&self, t: f64, text: &str) {
        self.lock().push(Line {
            t,
            text: text.to_owned(),
        });
    }

    /// When the first line at or after `since` that `pred` accepts arrived.
    pub fn first_since(&self, since: f64, pred: impl Fn(&str) -> bool) -> Option<f64> {
        self.lock()
            .iter()
            .find(|l| l.t >= since && pred(&l.text))
            .map(|l| l.t)
    }

    /// The lines that arrived in `[from, to)` and that `pred` accepts.
    pub fn between(&self, from: f64, to: f64, pred: impl Fn(&str) -> bool) -> Vec<Line> {
        self.lock()
            .iter()
            .filter(|l| l.t >= from && l.t < to && pred(&l.text))
            .cloned()
            .collect()
    }

    /// The last `n` lines, for error messages.
    pub fn tail(&self, n: usize) -> String {
        let lines = self.lock();
        let from = lines.len().saturating_sub(n);
        lines[from..]
            .iter()
            .map(|l| format!("{:.3} {}", l.t, l.text))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// A line that ends [`follow`] as end of file does: written into a FIFO
/// that the reader itself holds open for writing (keepalived_node.rs).
pub const END: &str = "\u{1}end of bench";

/// Read `source` line by line on a thread until its end (or [`END`]),
/// stamping each line into `lines` and copying it (with the stamp) to
/// `log`.
pub fn follow(
    source: impl Read + Send + 'static,
    lines: Lines,
    mut log: Option<File>,
) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name("stamp".into())
        .spawn(move || {
            let mut reader = BufReader::new(source);
            let mut buf = String::new();
            loop {
                buf.clear();
                match reader.read_line(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        let t = unix_now();
                        let text = buf.trim_end();
                        if text == END {
                            break;
                        }
                        if let Some(f) = log.as_mut() {
                            let _ = writeln!(f, "{t:.6} {text}");
                        }
                        lines.push(t, text);
                    }
                }
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_found_by_time_and_content() {
        let lines = Lines::default();
        lines.push(1.0, "xvs: vrrp: VI_OUT: init -> backup (start)");
        lines.push(2.0, "xvs: vrrp: VI_OUT: backup -> master (master down)");
        lines.push(3.0, "xvs: vrrp: VI_IN: backup -> master (sync group)");
        let master = |l: &str| l.contains("VI_OUT: ") && l.contains("-> master");
        assert_eq!(lines.first_since(0.0, master), Some(2.0));
        assert_eq!(lines.first_since(2.5, master), None);
        assert_eq!(lines.between(1.5, 3.5, |_| true).len(), 2);
        assert!(lines.tail(1).ends_with("(sync group)"));
    }

    #[test]
    fn a_followed_source_is_read_to_its_end() {
        let lines = Lines::default();
        let text: &[u8] = b"one\ntwo\nthree";
        let before = unix_now();
        follow(text, lines.clone(), None).unwrap().join().unwrap();
        let all = lines.between(before, f64::INFINITY, |_| true);
        let texts: Vec<&str> = all.iter().map(|l| l.text.as_str()).collect();
        assert_eq!(texts, ["one", "two", "three"]);
        assert!(all.windows(2).all(|w| w[0].t <= w[1].t));
    }
}
