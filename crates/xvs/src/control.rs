//! The commands that ask a running director over its control socket
//! (docs/control-protocol.md): the listings (`list`, `conns`), `status`,
//! `metrics`, and the requests the control thread answers (`reload`,
//! `diff`, `save`). Runtime changes are in `edit.rs`.
//!
//! Listings print ipvsadm's layouts, rendered from the same data `--json`
//! prints as the daemon sent it.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use xvs_runtime::api::client::{self, ClientError};
use xvs_runtime::api::data::{ConnsListing, Listing};
use xvs_runtime::api::protocol::{Map, Value};
use xvs_runtime::api::render::{self, Columns};

/// The control socket a command talks to.
#[derive(Debug, Args)]
pub struct Socket {
    /// The running director's control socket (`xvs run --control`).
    #[arg(long, value_name = "PATH", default_value = "/run/xvs/xvs.sock")]
    pub control: PathBuf,
}

/// `xvs list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Connection, packet and byte totals (`ipvsadm -Ln --stats`).
    #[arg(long, conflicts_with = "rate")]
    pub stats: bool,
    /// Connections, packets and bytes per second, averaged as the IPVS
    /// estimator does every 2 s (`ipvsadm -Ln --rate`).
    #[arg(long)]
    pub rate: bool,
    /// Full numbers instead of K/M/G (`--exact`).
    #[arg(long)]
    pub exact: bool,
    /// Only this service: [tcp:|udp:]VIP:PORT (`ipvsadm -Ln -t VIP:PORT`).
    #[arg(long, value_name = "SERVICE")]
    pub service: Option<String>,
    /// Print the daemon's data as JSON (all counters and rates, whatever
    /// the layout flags say).
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub socket: Socket,
}

/// `xvs conns`.
#[derive(Debug, Args)]
pub struct ConnsArgs {
    /// Only this service's entries: [tcp:|udp:]VIP:PORT.
    #[arg(long, value_name = "SERVICE")]
    pub service: Option<String>,
    /// Only the entries to this real server: ADDRESS[:PORT].
    #[arg(long, value_name = "ADDR[:PORT]")]
    pub real_server: Option<String>,
    /// Print the daemon's data as JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub socket: Socket,
}

/// `xvs status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The same as JSON, for scripts.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub socket: Socket,
}

/// `xvs save`.
#[derive(Debug, Args)]
pub struct SaveArgs {
    /// Write the configuration to FILE (mode 0600 if new) instead of stdout.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub socket: Socket,
}

/// The request's data, or the reason on stderr and exit status 1.
pub fn ask(socket: &Path, command: &str, args: Value) -> Result<Value, ExitCode> {
    client::call(socket, command, args).map_err(fail)
}

/// Say why on stderr; exit status 1.
pub fn fail(e: ClientError) -> ExitCode {
    eprintln!("xvs: {e}");
    ExitCode::FAILURE
}

fn print(text: &str) -> ExitCode {
    let mut out = std::io::stdout().lock();
    let mut write = || -> std::io::Result<()> {
        out.write_all(text.as_bytes())?;
        if !text.is_empty() && !text.ends_with('\n') {
            out.write_all(b"\n")?;
        }
        out.flush()
    };
    match write() {
        Ok(()) => ExitCode::SUCCESS,
        // A closed pipe (`xvs conns | head`) is not worth a message.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xvs: stdout: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Run a request and print its data with `show`.
fn run(
    socket: &Path,
    command: &str,
    args: Value,
    show: impl FnOnce(Value) -> Result<String, ClientError>,
) -> ExitCode {
    match ask(socket, command, args).and_then(|data| show(data).map_err(fail)) {
        Ok(text) => print(&text),
        Err(code) => code,
    }
}

fn args_of(pairs: &[(&str, Option<&str>)]) -> Value {
    let mut map = Map::new();
    for (key, value) in pairs {
        if let Some(v) = value {
            map.insert((*key).to_string(), Value::String((*v).to_string()));
        }
    }
    Value::Object(map)
}

pub fn list(a: &ListArgs) -> ExitCode {
    let args = args_of(&[("service", a.service.as_deref())]);
    let columns = if a.stats {
        Columns::Stats
    } else if a.rate {
        Columns::Rate
    } else {
        Columns::Connections
    };
    let (json, exact, one) = (a.json, a.exact, a.service.is_some());
    run(&a.socket.control, "list", args, |data| {
        if json {
            return Ok(client::pretty(&data));
        }
        let listing: Listing = client::decode(data)?;
        Ok(render::listing(&listing, columns, exact, one))
    })
}

pub fn conns(a: &ConnsArgs) -> ExitCode {
    let args = args_of(&[
        ("service", a.service.as_deref()),
        ("real_server", a.real_server.as_deref()),
    ]);
    let json = a.json;
    run(&a.socket.control, "conns", args, |data| {
        if json {
            return Ok(client::pretty(&data));
        }
        let conns: ConnsListing = client::decode(data)?;
        Ok(render::conns(&conns))
    })
}

pub fn status(a: &StatusArgs) -> ExitCode {
    if a.json {
        run(&a.socket.control, "status", Value::Null, |data| {
            Ok(client::pretty(&data))
        })
    } else {
        let args = Value::Object(
            [("text".to_string(), Value::Bool(true))]
                .into_iter()
                .collect(),
        );
        run(&a.socket.control, "status", args, client::text)
    }
}

/// A request without args whose answer is text (`metrics`, `reload`, `diff`).
pub fn text(socket: &Socket, command: &str) -> ExitCode {
    run(&socket.control, command, Value::Null, client::text)
}

pub fn save(a: &SaveArgs) -> ExitCode {
    let yaml = match ask(&a.socket.control, "save", Value::Null)
        .and_then(|d| client::text(d).map_err(fail))
    {
        Ok(yaml) => yaml,
        Err(code) => return code,
    };
    let Some(path) = &a.output else {
        return print(&yaml);
    };
    match write_private(path, yaml.as_bytes()) {
        Ok(()) => {
            eprintln!("xvs: running configuration written to {}", path.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("xvs: cannot write {}: {e}", path.display());
            ExitCode::FAILURE
        }
    }
}

/// Write `bytes` to `path`, creating it 0600 (a configuration may hold
/// VRRP passwords and script paths); an existing file keeps its mode.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}
