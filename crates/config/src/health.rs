//! The resolved health-check configuration: keepalived's checkers
//! (TCP_CHECK, HTTP_GET, SSL_GET, UDP_CHECK, PING_CHECK, DNS_CHECK,
//! SMTP_CHECK, MISC_CHECK, FILE_CHECK) with every default applied
//! (checker ← real server ← virtual server ← keepalived's own, REFERENCE
//! §7.1), and the service-level behaviour around them (inhibit_on_failure,
//! quorum, sorry server, notify scripts, slowstart).
//!
//! Plain data: the health crate runs it, nothing here probes anything.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::types::ForwardMethod;

/// One checker of a real server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HealthCheck {
    pub kind: HealthCheckKind,
    /// `connect_ip`: the address probed (default: the real server's).
    pub connect_ip: Option<IpAddr>,
    /// `connect_port` (or `port`): the port probed (default: the real
    /// server's). Unused by PING_CHECK, MISC_CHECK and FILE_CHECK.
    pub port: Option<u16>,
    /// `bindto`: the director address probes leave from (default: the
    /// kernel's choice of source for the route).
    pub bindto: Option<IpAddr>,
    /// `bind_port`: the source port probes leave from (default: any).
    pub bind_port: Option<u16>,
    /// Default 5 s.
    pub connect_timeout: Duration,
    /// Interval between checks. Default 60 s.
    pub delay_loop: Duration,
    /// Failures of an up checker retried before it is declared down
    /// (down after `retry + 1` consecutive failures). Default 1 (MISC 0,
    /// DNS 3).
    pub retry: u32,
    /// Pause before such a retry. Default 1 s (HTTP/SSL 3 s, DNS = delay_loop).
    pub delay_before_retry: Duration,
    /// The first check runs after 1 s plus a random delay up to this.
    /// Default: delay_loop; 0 disables.
    pub warmup: Duration,
    /// keepalived's alpha mode: the checker starts failed, so the real
    /// server joins only once its checks pass. Default off.
    pub alpha: bool,
    /// Log every failure of an up checker, not only transitions.
    pub log_all_failures: bool,
}

impl HealthCheck {
    /// The keepalived name of the checker (`TCP_CHECK`, `HTTP_GET`, ...).
    pub fn keepalived_name(&self) -> &'static str {
        self.kind.keepalived_name()
    }

    /// The short name used in the YAML `type:` key and in metrics labels.
    pub fn type_name(&self) -> &'static str {
        self.kind.type_name()
    }
}

/// What a checker probes, and how.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HealthCheckKind {
    /// TCP_CHECK: a connection completes within connect_timeout.
    Tcp,
    /// HTTP_GET.
    Http(HttpCheck),
    /// SSL_GET: HTTP_GET over TLS.
    Ssl(HttpCheck, TlsCheck),
    /// UDP_CHECK.
    Udp(UdpCheck),
    /// PING_CHECK: ICMP / ICMPv6 echo.
    Icmp,
    /// DNS_CHECK (over UDP).
    Dns(DnsCheck),
    /// SMTP_CHECK: a 2xx banner, HELO answered 2xx, QUIT.
    Smtp { helo_name: String },
    /// MISC_CHECK: a program's exit code.
    Misc(MiscCheck),
    /// FILE_CHECK: an integer read from a file.
    File(FileCheck),
}

impl HealthCheckKind {
    pub fn keepalived_name(&self) -> &'static str {
        match self {
            HealthCheckKind::Tcp => "TCP_CHECK",
            HealthCheckKind::Http(_) => "HTTP_GET",
            HealthCheckKind::Ssl(..) => "SSL_GET",
            HealthCheckKind::Udp(_) => "UDP_CHECK",
            HealthCheckKind::Icmp => "PING_CHECK",
            HealthCheckKind::Dns(_) => "DNS_CHECK",
            HealthCheckKind::Smtp { .. } => "SMTP_CHECK",
            HealthCheckKind::Misc(_) => "MISC_CHECK",
            HealthCheckKind::File(_) => "FILE_CHECK",
        }
    }

    pub fn type_name(&self) -> &'static str {
        match self {
            HealthCheckKind::Tcp => "tcp",
            HealthCheckKind::Http(_) => "http",
            HealthCheckKind::Ssl(..) => "ssl",
            HealthCheckKind::Udp(_) => "udp",
            HealthCheckKind::Icmp => "icmp",
            HealthCheckKind::Dns(_) => "dns",
            HealthCheckKind::Smtp { .. } => "smtp",
            HealthCheckKind::Misc(_) => "misc",
            HealthCheckKind::File(_) => "file",
        }
    }
}

/// The HTTP version line and `Connection: close` of a request
/// (keepalived's `http_protocol`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum HttpProtocol {
    /// `HTTP/1.0` (keepalived's default).
    #[default]
    Http10,
    /// `HTTP/1.0` with `Connection: close` ("1.0C").
    Http10Close,
    /// `HTTP/1.1` with `Connection: close`.
    Http11,
}

/// HTTP_GET / SSL_GET: every URL must pass. Each check fetches all of
/// them, one after the other (keepalived fetches one URL per delay_loop
/// unless `fast_recovery`; xvs always behaves as with fast_recovery, so a
/// failing second URL is seen within one delay_loop).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpCheck {
    pub urls: Vec<HttpUrl>,
    pub protocol: HttpProtocol,
}

/// One `url { ... }` of an HTTP check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpUrl {
    /// Request path, starting with '/'.
    pub path: String,
    /// Accepted status codes as inclusive ranges (default 200-299).
    pub status: Vec<(u16, u16)>,
    /// MD5 of the body, 16 bytes (keepalived's `digest`, from genhash).
    pub digest: Option<[u8; 16]>,
    /// `Host:` value (url > checker > real server > service); `None`:
    /// `ip:port` of the target.
    pub virtualhost: Option<String>,
}

/// SSL_GET's TLS settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsCheck {
    /// The server name sent (SNI) and verified: `sni_name`, else the
    /// virtualhost, when `enable_sni` is set; `None`: no SNI.
    pub sni: Option<String>,
    /// Verify the certificate chain (and the name when `sni` is set).
    /// Off by default, as keepalived.
    pub verify: bool,
    /// PEM CA bundle to verify against (default: none, so `verify`
    /// needs it).
    pub ca_file: Option<PathBuf>,
}

/// UDP_CHECK.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UdpCheck {
    /// Datagram to send; `None`: 16 random bytes, as keepalived.
    pub payload: Option<Vec<u8>>,
    /// A reply is required (else: success unless an ICMP unreachable
    /// arrives within connect_timeout).
    pub require_reply: bool,
    /// The reply's first min(len, pattern) bytes must match; each byte is
    /// (value, mask): mask bits 0 are `X` nibbles, ignored.
    pub reply_pattern: Option<Vec<(u8, u8)>>,
    /// Accepted reply lengths (default 0..=255).
    pub min_reply_length: u32,
    pub max_reply_length: u32,
}

/// DNS query types keepalived's DNS_CHECK offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DnsQueryType {
    A,
    Ns,
    Cname,
    Soa,
    Mx,
    Txt,
    Aaaa,
}

impl DnsQueryType {
    pub const ALL: [DnsQueryType; 7] = [
        DnsQueryType::A,
        DnsQueryType::Ns,
        DnsQueryType::Cname,
        DnsQueryType::Soa,
        DnsQueryType::Mx,
        DnsQueryType::Txt,
        DnsQueryType::Aaaa,
    ];

    /// The IANA RR type number (RFC 1035 §3.2.2, RFC 3596).
    pub const fn code(self) -> u16 {
        match self {
            DnsQueryType::A => 1,
            DnsQueryType::Ns => 2,
            DnsQueryType::Cname => 5,
            DnsQueryType::Soa => 6,
            DnsQueryType::Mx => 15,
            DnsQueryType::Txt => 16,
            DnsQueryType::Aaaa => 28,
        }
    }

    pub const fn name(self) -> &'static str {
        match self {
            DnsQueryType::A => "A",
            DnsQueryType::Ns => "NS",
            DnsQueryType::Cname => "CNAME",
            DnsQueryType::Soa => "SOA",
            DnsQueryType::Mx => "MX",
            DnsQueryType::Txt => "TXT",
            DnsQueryType::Aaaa => "AAAA",
        }
    }
}

/// DNS_CHECK: pass = a reply with the query's ID, QR set and RCODE 0.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DnsCheck {
    /// Default SOA.
    pub query_type: DnsQueryType,
    /// Default ".".
    pub name: String,
}

/// A program to run (notify scripts, quorum scripts, MISC_CHECK), already
/// split into its arguments (no shell is involved, as in keepalived).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Script {
    pub argv: Vec<String>,
    /// Run as this user (default: the daemon's user).
    pub user: Option<String>,
    /// Run with this group (default: the user's primary group).
    pub group: Option<String>,
}

impl Script {
    /// The command line as written, for logs.
    pub fn display(&self) -> String {
        self.argv.join(" ")
    }
}

/// MISC_CHECK.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MiscCheck {
    pub script: Script,
    /// `misc_timeout` (default: the checker's delay_loop); then SIGTERM,
    /// and SIGKILL 2 s later; either is a failure.
    pub timeout: Duration,
    /// `misc_dynamic`: exit 0 pass, 1 fail, 2-255 pass with the real
    /// server's weight set to `status - 2`.
    pub dynamic: bool,
}

/// FILE_CHECK: the file holds an integer. With `weight` 0 a non-zero
/// value is a failure; otherwise value × weight (negated by `reverse`) is
/// added to the real server's weight, and a result at or below
/// -2147483648 is a failure.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileCheck {
    pub path: PathBuf,
    pub weight: i64,
    pub reverse: bool,
}

/// Health behaviour of one real server beyond its checkers.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct RealServerHealth {
    /// Keep the real server at weight 0 when it fails instead of removing
    /// it (established connections and persistence templates carry on).
    pub inhibit_on_failure: bool,
    pub notify_up: Option<Script>,
    pub notify_down: Option<Script>,
    /// A real server that comes back ramps its weight from 1 to its
    /// configured weight over this time (HAProxy's slowstart).
    pub slowstart: Option<Duration>,
}

/// The server used when a service loses its quorum (keepalived's
/// `sorry_server`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SorryServer {
    pub address: IpAddr,
    pub port: u16,
    pub method: ForwardMethod,
    pub weight: u32,
    /// Next-hop MAC, as for a real server.
    pub mac: Option<[u8; 6]>,
}

/// Health behaviour of one virtual service.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceHealth {
    /// Minimum sum of the weights of live real servers (default 1).
    pub quorum: u32,
    /// Quorum is gained at `quorum + hysteresis` and lost below
    /// `quorum - hysteresis` (default 0).
    pub hysteresis: u32,
    pub quorum_up: Option<Script>,
    pub quorum_down: Option<Script>,
    pub sorry_server: Option<SorryServer>,
    /// Keep the sorry server at weight 0 while the quorum holds.
    pub sorry_server_inhibit: bool,
    /// keepalived's omega: at shutdown, run the down notifiers.
    pub omega: bool,
    /// keepalived's ha_suspend: while this director is not master of the
    /// VIP (its VRRP instance is backup, fault or not yet started), no
    /// check of this service runs and its real servers keep the state
    /// they had; checking resumes at once when the VIP becomes master
    /// here. A service whose VIP belongs to no VRRP instance is never
    /// standby, so it is never suspended (the key is then harmless).
    pub ha_suspend: bool,
}

impl Default for ServiceHealth {
    fn default() -> Self {
        ServiceHealth {
            quorum: 1,
            hysteresis: 0,
            quorum_up: None,
            quorum_down: None,
            sorry_server: None,
            sorry_server_inhibit: false,
            omega: false,
            ha_suspend: false,
        }
    }
}

/// Process-wide health-check settings (`global.health`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HealthGlobal {
    /// Probes in flight at once (each holds a socket or a child process);
    /// checks due beyond it wait their turn. Default 512.
    pub max_in_flight: u32,
}

impl Default for HealthGlobal {
    fn default() -> Self {
        HealthGlobal { max_in_flight: 512 }
    }
}
