//! What to probe and what came of it: the contract between the health
//! checker's state machines (`xvs-health`, which decide *when* and read
//! *what it means*) and the I/O engine (`xvs-prober`, which opens the
//! sockets and runs the programs). Plain data.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use xvs_config::{HttpProtocol, Script};

/// Names one probe in flight; chosen by the health checker, echoed back
/// with its [`Outcome`].
pub type ProbeId = u64;

/// One check to run once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Probe {
    /// The whole probe must finish within this (connect_timeout for
    /// network checks, misc_timeout for programs); past it the probe
    /// fails with a timeout reason. A MISC_CHECK program then gets
    /// SIGTERM, and SIGKILL 2 s later.
    pub timeout: Duration,
    pub kind: ProbeKind,
}

/// Where a network probe goes, and where it leaves from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Endpoint {
    /// connect_ip:connect_port (default: the real server's address:port).
    pub target: SocketAddr,
    /// bindto:bind_port; `None`: the kernel picks (port 0: any port).
    pub bind: Option<SocketAddr>,
}

/// The check itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProbeKind {
    /// TCP_CHECK: the connection completes.
    Tcp(Endpoint),
    /// HTTP_GET (`tls: None`) and SSL_GET: every request passes, each on
    /// its own connection, one after the other.
    Http {
        endpoint: Endpoint,
        tls: Option<TlsParams>,
        requests: Vec<HttpRequest>,
    },
    /// UDP_CHECK.
    Udp {
        endpoint: Endpoint,
        payload: Vec<u8>,
        expect: UdpExpect,
    },
    /// PING_CHECK: an ICMP (IPv4) or ICMPv6 echo answered.
    Icmp {
        target: IpAddr,
        bind: Option<IpAddr>,
    },
    /// DNS_CHECK over UDP: a reply with the query's ID, QR set, RCODE 0.
    Dns {
        endpoint: Endpoint,
        /// RR type number (1 A, 2 NS, 5 CNAME, 6 SOA, 15 MX, 16 TXT, 28 AAAA).
        query_type: u16,
        name: String,
    },
    /// SMTP_CHECK: banner 220, `HELO name` answered 250, `QUIT`.
    Smtp {
        endpoint: Endpoint,
        helo_name: String,
    },
    /// MISC_CHECK: run the program; exit 0 passes. With `dynamic`, exit 1
    /// fails and 2-255 pass with weight `status - 2`.
    Misc { script: Script, dynamic: bool },
    /// FILE_CHECK: read an integer from the file.
    File {
        path: PathBuf,
        weight: i64,
        reverse: bool,
    },
}

impl ProbeKind {
    /// The checker's short name, as in the YAML `type:` key (metric labels).
    pub fn type_name(&self) -> &'static str {
        match self {
            ProbeKind::Tcp(_) => "tcp",
            ProbeKind::Http { tls: None, .. } => "http",
            ProbeKind::Http { tls: Some(_), .. } => "ssl",
            ProbeKind::Udp { .. } => "udp",
            ProbeKind::Icmp { .. } => "icmp",
            ProbeKind::Dns { .. } => "dns",
            ProbeKind::Smtp { .. } => "smtp",
            ProbeKind::Misc { .. } => "misc",
            ProbeKind::File { .. } => "file",
        }
    }
}

/// One GET of an HTTP check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpRequest {
    /// Request path, starting with '/'.
    pub path: String,
    /// The `Host:` value (a virtualhost, or `ip:port` / `[v6]:port`).
    pub host: String,
    pub protocol: HttpProtocol,
    /// Accepted status codes, inclusive ranges.
    pub status: Vec<(u16, u16)>,
    /// MD5 the body must have.
    pub digest: Option<[u8; 16]>,
}

/// SSL_GET's TLS client settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsParams {
    /// Server name to send (SNI) and, with `verify`, to verify.
    pub sni: Option<String>,
    /// Verify the chain against `ca_file` (off: any certificate passes).
    pub verify: bool,
    pub ca_file: Option<PathBuf>,
}

/// What a UDP_CHECK accepts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UdpExpect {
    /// Without it, silence until the timeout passes; only an ICMP
    /// unreachable fails.
    pub require_reply: bool,
    /// (value, mask) per byte; compared over min(reply, pattern) bytes.
    pub pattern: Option<Vec<(u8, u8)>>,
    pub min_len: u32,
    pub max_len: u32,
}

/// A weight a passing probe reports (MISC_CHECK misc_dynamic, FILE_CHECK).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DynamicWeight {
    /// misc_dynamic: the real server's weight becomes this (exit status - 2).
    Set(u32),
    /// FILE_CHECK: add this (value × weight, negated by reverse) to the
    /// real server's configured weight.
    Add(i64),
}

/// How one probe ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Pass {
        weight: Option<DynamicWeight>,
    },
    /// `reason` is for people: "HTTP 500", "connect timeout after 3 s",
    /// "digest mismatch", "exit status 1".
    Fail {
        reason: String,
    },
}

impl Outcome {
    pub fn pass() -> Outcome {
        Outcome::Pass { weight: None }
    }

    pub fn fail(reason: impl Into<String>) -> Outcome {
        Outcome::Fail {
            reason: reason.into(),
        }
    }

    pub fn is_pass(&self) -> bool {
        matches!(self, Outcome::Pass { .. })
    }
}
