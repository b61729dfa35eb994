//! The daemon's log: the `tracing` events of every thread of `xvs run`,
//! one line each on stderr. Driver code (layer: runtime); the binary
//! installs it with [`init`] before it starts the daemon.
//!
//! A line is the level, the message, then the event's fields:
//!
//! ```text
//! 2025-01-02T03:04:05.678901Z INFO reload of /etc/xvs/xvs.yaml: published version 2 version=2
//! ```
//!
//! Under systemd, when stderr is the journal stream (`JOURNAL_STREAM`,
//! systemd.exec(5)), there is no timestamp (journald stamps every entry
//! itself) and the line starts with a `<N>` syslog priority, which journald
//! takes off and keeps as the entry's priority (sd-daemon(3)), so
//! `journalctl -u xvs -p warning` shows warnings and errors only:
//!
//! ```text
//! <4>WARN reload failed: /etc/xvs/xvs.yaml:7:16: …; keeping version 1
//! ```
//!
//! Colours only when stderr is a terminal. A newline inside a message is
//! written as `\n`: one event stays one line (one journal entry). `XVS_LOG`
//! filters as `RUST_LOG` does for other programs (`debug`,
//! `info,xvs_runtime::vrrp=debug`); the default is `info`.

use std::fmt;
use std::io::IsTerminal;

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::filter::{EnvFilter, LevelFilter};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::{FormatTime, SystemTime};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, MakeWriter};
use tracing_subscriber::registry::LookupSpan;

/// The environment variable with the filter directives.
pub const FILTER_VAR: &str = "XVS_LOG";

/// How lines look on this stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineFormat {
    /// An RFC 3339 UTC timestamp first (not for journald, which stamps
    /// every entry itself).
    pub timestamps: bool,
    /// A `<N>` syslog priority prefix for journald (sd-daemon(3)).
    pub priority_prefix: bool,
    /// ANSI colours on the level.
    pub ansi: bool,
}

impl LineFormat {
    /// The format for a stderr that is (or is not) the journal stream and
    /// a terminal.
    pub fn choose(journal: bool, terminal: bool) -> LineFormat {
        LineFormat {
            timestamps: !journal,
            priority_prefix: journal,
            ansi: terminal && !journal,
        }
    }
}

/// Whether stderr is the journal stream. systemd.exec(5): `JOURNAL_STREAM`
/// is `DEVICE:INODE` of the stream it connected stdout/stderr to, to be
/// compared with stderr's own, since the variable is inherited by
/// programs whose stderr was redirected elsewhere.
pub fn is_journal_stream(journal_stream: Option<&str>, stderr: Option<(u64, u64)>) -> bool {
    let (Some(var), Some(stderr)) = (journal_stream, stderr) else {
        return false;
    };
    let Some((dev, ino)) = var.split_once(':') else {
        return false;
    };
    match (dev.parse::<u64>(), ino.parse::<u64>()) {
        (Ok(dev), Ok(ino)) => (dev, ino) == stderr,
        _ => false,
    }
}

/// Device and inode of stderr (through a duplicate of the descriptor).
fn stderr_identity() -> Option<(u64, u64)> {
    use std::os::fd::AsFd;
    use std::os::unix::fs::MetadataExt;
    let fd = std::io::stderr().as_fd().try_clone_to_owned().ok()?;
    let meta = std::fs::File::from(fd).metadata().ok()?;
    Some((meta.dev(), meta.ino()))
}

/// The filter `XVS_LOG` asks for (`info` when unset or empty), or why its
/// directives do not parse.
pub fn filter(directives: Option<&str>) -> Result<EnvFilter, String> {
    EnvFilter::builder()
        .with_default_directive(LevelFilter::INFO.into())
        .parse(directives.unwrap_or(""))
        .map_err(|e| e.to_string())
}

/// Install the daemon's log as the process-wide subscriber (once; a second
/// call changes nothing). `log` records (aya, mio) go to it as well.
pub fn init() {
    let journal = is_journal_stream(
        std::env::var("JOURNAL_STREAM").ok().as_deref(),
        stderr_identity(),
    );
    let format = LineFormat::choose(journal, std::io::stderr().is_terminal());
    let directives = std::env::var(FILTER_VAR).ok();
    let (filter, rejected) = match filter(directives.as_deref()) {
        Ok(f) => (f, None),
        Err(e) => (EnvFilter::new("info"), Some(e)),
    };
    if builder(format, filter, std::io::stderr).try_init().is_ok() {
        if let Some(e) = rejected {
            tracing::warn!(
                "{FILTER_VAR}={}: {e}; logging at info",
                directives.unwrap_or_default()
            );
        }
    }
}

/// The subscriber [`init`] installs, writing to `writer`.
fn builder<W>(
    format: LineFormat,
    filter: EnvFilter,
    writer: W,
) -> tracing_subscriber::fmt::SubscriberBuilder<
    tracing_subscriber::fmt::format::DefaultFields,
    Line,
    EnvFilter,
    W,
>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    tracing_subscriber::fmt()
        .with_writer(writer)
        .with_ansi(format.ansi)
        .event_format(Line(format))
        .with_env_filter(filter)
}

/// The syslog priority of a level (RFC 5424 §6.2.1: 3 error, 4 warning,
/// 6 informational, 7 debug).
pub fn syslog_priority(level: Level) -> u8 {
    match level {
        Level::ERROR => 3,
        Level::WARN => 4,
        Level::INFO => 6,
        Level::DEBUG | Level::TRACE => 7,
    }
}

/// The line format as a `tracing-subscriber` event formatter.
#[derive(Debug, Clone, Copy)]
pub struct Line(pub LineFormat);

impl<S, N> FormatEvent<S, N> for Line
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let level = *event.metadata().level();
        if self.0.priority_prefix {
            write!(writer, "<{}>", syslog_priority(level))?;
        }
        if self.0.timestamps {
            SystemTime.format_time(&mut writer)?;
            writer.write_char(' ')?;
        }
        if writer.has_ansi_escapes() {
            let colour = match level {
                Level::ERROR => "31",
                Level::WARN => "33",
                Level::INFO => "32",
                Level::DEBUG => "34",
                Level::TRACE => "35",
            };
            write!(writer, "\x1b[{colour}m{level}\x1b[0m ")?;
        } else {
            write!(writer, "{level} ")?;
        }
        let mut one_line = OneLine(writer.by_ref());
        ctx.field_format()
            .format_fields(Writer::new(&mut one_line), event)?;
        writeln!(writer)
    }
}

/// Writes newlines (and carriage returns) as `\n` (`\r`).
struct OneLine<'a>(Writer<'a>);

impl fmt::Write for OneLine<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let mut rest = s;
        while let Some(at) = rest.find(['\n', '\r']) {
            self.0.write_str(&rest[..at])?;
            self.0.write_str(if rest[at..].starts_with('\n') {
                "\\n"
            } else {
                "\\r"
            })?;
            rest = &rest[at + 1..];
        }
        self.0.write_str(rest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    /// A `MakeWriter` into a shared buffer.
    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("not poisoned").extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Buffer {
        type Writer = Buffer;
        fn make_writer(&'a self) -> Buffer {
            self.clone()
        }
    }

    /// What `emit` logs, formatted as `format` with `directives`.
    fn logged(format: LineFormat, directives: Option<&str>, emit: impl FnOnce()) -> String {
        let buf = Buffer::default();
        let subscriber = builder(
            format,
            filter(directives).expect("valid directives"),
            buf.clone(),
        )
        .finish();
        tracing::subscriber::with_default(subscriber, emit);
        let bytes = buf.0.lock().expect("not poisoned").clone();
        String::from_utf8(bytes).expect("UTF-8")
    }

    #[test]
    fn journald_gets_a_priority_and_no_timestamp() {
        let f = LineFormat::choose(true, false);
        let out = logged(f, None, || {
            tracing::info!(version = 2, "reload of x.yaml: published version 2");
            tracing::warn!("reload failed: x.yaml:3:1: bad; keeping version 2");
            tracing::error!("updating steering maps failed: gone");
        });
        assert_eq!(
            out,
            "<6>INFO reload of x.yaml: published version 2 version=2\n\
             <4>WARN reload failed: x.yaml:3:1: bad; keeping version 2\n\
             <3>ERROR updating steering maps failed: gone\n"
        );
    }

    #[test]
    fn elsewhere_lines_start_with_an_rfc3339_timestamp() {
        let out = logged(LineFormat::choose(false, false), None, || {
            let name = "VI_1";
            tracing::info!(instance = %name, "vrrp: {name}: BACKUP -> MASTER");
        });
        let (stamp, rest) = out.split_once(' ').expect("a timestamp, then the line");
        assert_eq!(rest, "INFO vrrp: VI_1: BACKUP -> MASTER instance=VI_1\n");
        // 2025-01-02T03:04:05.678901Z
        let b = stamp.as_bytes();
        assert_eq!(b.len(), 27, "{stamp}");
        assert!(b[4] == b'-' && b[7] == b'-' && b[10] == b'T' && b[13] == b':');
        assert!(b[19] == b'.' && b[26] == b'Z', "{stamp}");
        assert!(!out.contains('\x1b'), "no colours off a terminal: {out:?}");
    }

    #[test]
    fn a_terminal_gets_coloured_levels() {
        let f = LineFormat::choose(false, true);
        assert!(f.ansi && f.timestamps && !f.priority_prefix);
        let out = logged(f, None, || tracing::warn!("preemption released"));
        assert!(
            out.contains("\x1b[33mWARN\x1b[0m preemption released"),
            "{out:?}"
        );
    }

    #[test]
    fn the_journal_is_never_coloured() {
        assert_eq!(
            LineFormat::choose(true, true),
            LineFormat {
                timestamps: false,
                priority_prefix: true,
                ansi: false
            }
        );
    }

    #[test]
    fn one_event_is_one_line() {
        let out = logged(LineFormat::choose(true, false), None, || {
            tracing::warn!("health: script said\nfirst\r\nsecond");
        });
        assert_eq!(out, "<4>WARN health: script said\\nfirst\\r\\nsecond\n");
    }

    #[test]
    fn xvs_log_filters_by_level_and_module() {
        let f = LineFormat::choose(true, false);
        let quiet = logged(f, None, || tracing::debug!("hidden"));
        assert_eq!(quiet, "", "info is the default");
        let loud = logged(f, Some("debug"), || tracing::debug!("shown"));
        assert_eq!(loud, "<7>DEBUG shown\n");
        let other = logged(f, Some("info,some_other_crate=debug"), || {
            tracing::debug!("hidden")
        });
        assert_eq!(other, "");
        assert!(filter(Some("info,=[")).is_err());
    }

    #[test]
    fn the_journal_stream_is_recognised_by_device_and_inode() {
        assert!(is_journal_stream(Some("8:12345"), Some((8, 12345))));
        // Inherited, but stderr goes elsewhere now.
        assert!(!is_journal_stream(Some("8:12345"), Some((8, 999))));
        assert!(!is_journal_stream(None, Some((8, 12345))));
        assert!(!is_journal_stream(Some("8:12345"), None));
        assert!(!is_journal_stream(Some("garbage"), Some((8, 12345))));
        assert!(!is_journal_stream(Some(""), Some((0, 0))));
    }
}
