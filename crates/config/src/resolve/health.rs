//! `health:` blocks of real servers, with keepalived's defaults
//! (keepalived.conf(5), REFERENCE §7.1): connect_timeout 5 s, delay_loop
//! 60 s, retry 1 (MISC_CHECK 0, DNS_CHECK 3), delay_before_retry 1 s
//! (HTTP/SSL 3 s, DNS = delay_loop), warmup = delay_loop, HTTP status
//! 200-299, DNS type SOA and name ".", SMTP HELO name
//! `smtpchecker.keepalived.org` (check_smtp.h). Each timing key is taken
//! from the checker, else its real server, else its service, as keepalived
//! inherits them (check_data.c).

use std::time::Duration;

use super::script::{decode_hex, resolve_script_parts};
use super::{seconds, Ctx, Result};
use crate::health::{
    DnsCheck, DnsQueryType, FileCheck, HealthCheck, HealthCheckKind, HttpCheck, HttpProtocol,
    HttpUrl, MiscCheck, TlsCheck, UdpCheck,
};
use crate::raw::{
    HasCheckTiming, HealthKindText, HttpProtocolText, RawCheckTiming, RawHealth, RawHealthList,
    RawRequireReply, RawUrl,
};
use crate::text::NumRange;
use crate::text::Parsed;

const DEFAULT_CONNECT_TIMEOUT: f64 = 5.0;
const DEFAULT_DELAY_LOOP: f64 = 60.0;
/// FILE_CHECK has no delay_loop in keepalived (it watches the file with
/// inotify); xvs reads the file this often unless told otherwise.
const DEFAULT_FILE_INTERVAL: f64 = 1.0;
/// keepalived's SMTP_DEFAULT_HELO (check_smtp.h).
const DEFAULT_HELO: &str = "smtpchecker.keepalived.org";
/// keepalived's IPVS_WEIGHT_LIMIT: FILE_CHECK weights are within ±2^31-1.
const FILE_WEIGHT_LIMIT: i64 = i32::MAX as i64;
/// UDP_CHECK's default max_reply_length.
const DEFAULT_MAX_REPLY: u32 = 255;

/// What a checker inherits from its real server and service.
pub(super) struct Inherited<'a> {
    /// Timing keys of the real server, then of the service.
    pub levels: [RawCheckTiming; 2],
    /// `virtualhost` of the real server, then of the service.
    pub virtualhost: [Option<&'a str>; 2],
    /// The real server's port (the default port probed).
    pub rs_port: u16,
}

/// All checkers of one real server (`base` = `...real_servers[j]`).
pub(super) fn resolve_checkers(
    list: Option<&RawHealthList>,
    base: &str,
    inherited: &Inherited<'_>,
    ctx: &Ctx<'_>,
) -> Result<Vec<HealthCheck>> {
    match list {
        None => Ok(Vec::new()),
        Some(RawHealthList::One(raw)) => Ok(vec![resolve_health(
            raw,
            &format!("{base}.health"),
            inherited,
            ctx,
        )?]),
        Some(RawHealthList::Many(raws)) => raws
            .iter()
            .enumerate()
            .map(|(k, raw)| resolve_health(raw, &format!("{base}.health[{k}]"), inherited, ctx))
            .collect(),
    }
}

/// The first value set at the checker, real-server or service level.
fn inherit<T: Copy>(
    own: Option<T>,
    levels: &[RawCheckTiming; 2],
    f: fn(&RawCheckTiming) -> Option<T>,
) -> Option<T> {
    own.or_else(|| f(&levels[0])).or_else(|| f(&levels[1]))
}

fn resolve_health(
    raw: &RawHealth,
    base: &str,
    inherited: &Inherited<'_>,
    ctx: &Ctx<'_>,
) -> Result<HealthCheck> {
    use HealthKindText as K;
    let kind = raw.kind;
    reject_foreign_keys(raw, base, ctx)?;
    let own = raw.timing();
    let levels = &inherited.levels;
    let key = |k: &str| format!("{base}.{k}");

    let probes_port = matches!(kind, K::Tcp | K::Http | K::Ssl | K::Udp | K::Dns | K::Smtp);
    if raw.port == Some(0) {
        return Err(ctx.err(key("port"), "port 0 cannot be probed"));
    }
    if probes_port && raw.port.is_none() && inherited.rs_port == 0 {
        return Err(ctx.err(
            key("type"),
            "the real server has no port (a port-0 service) to probe; give the checker a `connect_port`",
        ));
    }

    let connect_timeout = seconds(
        inherit(own.connect_timeout, levels, |t| t.connect_timeout)
            .unwrap_or(DEFAULT_CONNECT_TIMEOUT),
        &key("connect_timeout"),
        false,
        ctx,
    )?;
    let delay_loop_default = if kind == K::File {
        // A file checker reads its file; only its own delay_loop applies.
        own.delay_loop.unwrap_or(DEFAULT_FILE_INTERVAL)
    } else {
        inherit(own.delay_loop, levels, |t| t.delay_loop).unwrap_or(DEFAULT_DELAY_LOOP)
    };
    let delay_loop = seconds(delay_loop_default, &key("delay_loop"), false, ctx)?;
    let delay_before_retry = match inherit(own.delay_before_retry, levels, |t| t.delay_before_retry)
    {
        Some(v) => seconds(v, &key("delay_before_retry"), true, ctx)?,
        None => match kind {
            K::Http | K::Ssl => Duration::from_secs(3),
            K::Dns => delay_loop,
            _ => Duration::from_secs(1),
        },
    };
    let retry = match kind {
        K::File => 0,
        _ => inherit(own.retry, levels, |t| t.retry).unwrap_or(match kind {
            K::Script => 0,
            K::Dns => 3,
            _ => 1,
        }),
    };
    let warmup = match (kind, inherit(own.warmup, levels, |t| t.warmup)) {
        (K::File, _) => Duration::ZERO,
        (_, Some(v)) => seconds(v, &key("warmup"), true, ctx)?,
        (_, None) => delay_loop,
    };
    // check_file.c: a file's state is known at once, so never alpha.
    let alpha = kind != K::File && inherit(own.alpha, levels, |t| t.alpha).unwrap_or(false);

    let check_kind = match kind {
        K::Tcp => HealthCheckKind::Tcp,
        K::Icmp => HealthCheckKind::Icmp,
        K::Http => HealthCheckKind::Http(resolve_http(raw, base, inherited, ctx)?),
        K::Ssl => {
            let http = resolve_http(raw, base, inherited, ctx)?;
            let tls = resolve_tls(raw, &http, base, inherited, ctx)?;
            HealthCheckKind::Ssl(http, tls)
        }
        K::Udp => HealthCheckKind::Udp(resolve_udp(raw, base, ctx)?),
        K::Dns => HealthCheckKind::Dns(resolve_dns(raw, base, ctx)?),
        K::Smtp => {
            let helo_name = raw
                .helo_name
                .clone()
                .unwrap_or_else(|| DEFAULT_HELO.to_string());
            if helo_name.is_empty()
                || helo_name
                    .chars()
                    .any(|c| c.is_whitespace() || c.is_control())
            {
                return Err(ctx.err(
                    key("helo_name"),
                    format!("`{helo_name}` is not a HELO name (one word, no spaces)"),
                ));
            }
            HealthCheckKind::Smtp { helo_name }
        }
        K::Script => {
            let Some(command) = raw.command.as_deref() else {
                return Err(ctx.err(
                    key("command"),
                    "a script (MISC_CHECK) check needs a command to run",
                ));
            };
            let script = resolve_script_parts(
                command,
                raw.user.as_deref(),
                &key("command"),
                &key("user"),
                ctx,
            )?;
            let timeout = match raw.timeout {
                Some(v) => seconds(v, &key("timeout"), false, ctx)?,
                None => delay_loop,
            };
            HealthCheckKind::Misc(MiscCheck {
                script,
                timeout,
                dynamic: raw.dynamic.unwrap_or(false),
            })
        }
        K::File => HealthCheckKind::File(resolve_file(raw, base, ctx)?),
    };

    Ok(HealthCheck {
        kind: check_kind,
        connect_ip: raw.connect_ip.map(|p| p.0),
        port: raw.port,
        bindto: raw.bindto.map(|p| p.0),
        bind_port: raw.bind_port,
        connect_timeout,
        delay_loop,
        retry,
        delay_before_retry,
        warmup,
        alpha,
        log_all_failures: raw.log_all_failures.unwrap_or(false),
    })
}

/// Keys that only some kinds use: naming them on another kind is refused
/// rather than ignored, so a `path` on a tcp check does not look effective.
fn reject_foreign_keys(raw: &RawHealth, base: &str, ctx: &Ctx<'_>) -> Result<()> {
    use HealthKindText as K;
    let kind = raw.kind;
    let http = matches!(kind, K::Http | K::Ssl);
    let connects = matches!(kind, K::Tcp | K::Http | K::Ssl | K::Udp | K::Dns | K::Smtp);
    let checks: [(&str, bool, bool, &str); 31] = [
        (
            "port",
            raw.port.is_some(),
            connects,
            "tcp, http, ssl, udp, dns and smtp",
        ),
        (
            "connect_ip",
            raw.connect_ip.is_some(),
            connects || kind == K::Icmp,
            "network",
        ),
        (
            "bindto",
            raw.bindto.is_some(),
            connects || kind == K::Icmp,
            "network",
        ),
        (
            "bind_port",
            raw.bind_port.is_some(),
            connects,
            "tcp, http, ssl, udp, dns and smtp",
        ),
        (
            "connect_timeout",
            raw.connect_timeout.is_some(),
            connects || kind == K::Icmp,
            "network",
        ),
        (
            "retry",
            raw.retry.is_some(),
            kind != K::File,
            "all but file",
        ),
        (
            "delay_before_retry",
            raw.delay_before_retry.is_some(),
            kind != K::File,
            "all but file",
        ),
        (
            "warmup",
            raw.warmup.is_some(),
            kind != K::File,
            "all but file",
        ),
        (
            "alpha",
            raw.alpha.is_some(),
            kind != K::File,
            "all but file",
        ),
        (
            "log_all_failures",
            raw.log_all_failures.is_some(),
            kind != K::File,
            "all but file",
        ),
        ("path", raw.path.is_some(), http, "http and ssl"),
        ("status", raw.status.is_some(), http, "http and ssl"),
        ("digest", raw.digest.is_some(), http, "http and ssl"),
        (
            "virtualhost",
            raw.virtualhost.is_some(),
            http,
            "http and ssl",
        ),
        ("urls", raw.urls.is_some(), http, "http and ssl"),
        (
            "http_protocol",
            raw.http_protocol.is_some(),
            http,
            "http and ssl",
        ),
        (
            "enable_sni",
            raw.enable_sni.is_some(),
            kind == K::Ssl,
            "ssl",
        ),
        ("sni_name", raw.sni_name.is_some(), kind == K::Ssl, "ssl"),
        ("verify", raw.verify.is_some(), kind == K::Ssl, "ssl"),
        ("ca", raw.ca.is_some(), kind == K::Ssl, "ssl"),
        ("payload", raw.payload.is_some(), kind == K::Udp, "udp"),
        (
            "require_reply",
            raw.require_reply.is_some(),
            kind == K::Udp,
            "udp",
        ),
        (
            "min_reply_length",
            raw.min_reply_length.is_some(),
            kind == K::Udp,
            "udp",
        ),
        (
            "max_reply_length",
            raw.max_reply_length.is_some(),
            kind == K::Udp,
            "udp",
        ),
        ("name", raw.name.is_some(), kind == K::Dns, "dns"),
        (
            "query_type",
            raw.query_type.is_some(),
            kind == K::Dns,
            "dns",
        ),
        (
            "helo_name",
            raw.helo_name.is_some(),
            kind == K::Smtp,
            "smtp",
        ),
        (
            "command",
            raw.command.is_some(),
            kind == K::Script,
            "script",
        ),
        (
            "timeout",
            raw.timeout.is_some(),
            kind == K::Script,
            "script",
        ),
        (
            "dynamic",
            raw.dynamic.is_some(),
            kind == K::Script,
            "script",
        ),
        ("user", raw.user.is_some(), kind == K::Script, "script"),
    ];
    for (key, present, allowed, owners) in checks {
        if present && !allowed {
            return Err(ctx.err(
                format!("{base}.{key}"),
                format!(
                    "`{key}` applies only to {owners} checks, not {}",
                    kind.name()
                ),
            ));
        }
    }
    for (key, present) in [
        ("file", raw.file.is_some()),
        ("weight", raw.weight.is_some()),
        ("reverse", raw.reverse.is_some()),
    ] {
        if present && kind != K::File {
            return Err(ctx.err(
                format!("{base}.{key}"),
                format!("`{key}` applies only to file checks, not {}", kind.name()),
            ));
        }
    }
    Ok(())
}

fn resolve_http(
    raw: &RawHealth,
    base: &str,
    inherited: &Inherited<'_>,
    ctx: &Ctx<'_>,
) -> Result<HttpCheck> {
    let checker_host = raw
        .virtualhost
        .as_deref()
        .or(inherited.virtualhost[0])
        .or(inherited.virtualhost[1]);
    if let Some(h) = raw.virtualhost.as_deref() {
        check_host(h, &format!("{base}.virtualhost"), ctx)?;
    }
    let inline = raw.path.is_some() || raw.status.is_some() || raw.digest.is_some();
    let urls = match (&raw.urls, inline) {
        (Some(_), true) => {
            return Err(ctx.err(
                format!("{base}.urls"),
                "give either one URL inline (path, status, digest) or `urls`, not both",
            ))
        }
        (Some(list), false) => {
            if list.is_empty() {
                return Err(ctx.err(format!("{base}.urls"), "give at least one URL"));
            }
            list.iter()
                .enumerate()
                .map(|(i, u)| resolve_url(u, &format!("{base}.urls[{i}]"), checker_host, ctx))
                .collect::<Result<Vec<_>>>()?
        }
        (None, _) => {
            let inline_url = RawUrlRef {
                path: raw.path.as_deref().unwrap_or("/"),
                status: raw.status.as_deref(),
                digest: raw.digest.as_deref(),
                virtualhost: None,
            };
            vec![resolve_url_parts(&inline_url, base, checker_host, ctx)?]
        }
    };
    Ok(HttpCheck {
        urls,
        protocol: match raw.http_protocol {
            None | Some(HttpProtocolText::Http10) => HttpProtocol::Http10,
            Some(HttpProtocolText::Http10Close) => HttpProtocol::Http10Close,
            Some(HttpProtocolText::Http11) => HttpProtocol::Http11,
        },
    })
}

/// The fields of one URL, borrowed from either spelling.
struct RawUrlRef<'a> {
    path: &'a str,
    status: Option<&'a [Parsed<NumRange>]>,
    digest: Option<&'a str>,
    virtualhost: Option<&'a str>,
}

fn resolve_url(
    u: &RawUrl,
    base: &str,
    checker_host: Option<&str>,
    ctx: &Ctx<'_>,
) -> Result<HttpUrl> {
    if let Some(h) = u.virtualhost.as_deref() {
        check_host(h, &format!("{base}.virtualhost"), ctx)?;
    }
    resolve_url_parts(
        &RawUrlRef {
            path: &u.path,
            status: u.status.as_deref(),
            digest: u.digest.as_deref(),
            virtualhost: u.virtualhost.as_deref(),
        },
        base,
        checker_host,
        ctx,
    )
}

fn resolve_url_parts(
    u: &RawUrlRef<'_>,
    base: &str,
    checker_host: Option<&str>,
    ctx: &Ctx<'_>,
) -> Result<HttpUrl> {
    let path = u.path;
    if !path.starts_with('/') || path.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(ctx.err(
            format!("{base}.path"),
            format!("`{path}` is not a request path (must start with '/' and have no spaces)"),
        ));
    }
    Ok(HttpUrl {
        path: path.to_string(),
        status: resolve_status(u.status, base, ctx)?,
        digest: resolve_digest(u.digest, base, ctx)?,
        virtualhost: u.virtualhost.or(checker_host).map(str::to_string),
    })
}

/// A `Host:` value: printable, no spaces (RFC 9110 §7.2).
fn check_host(host: &str, key: &str, ctx: &Ctx<'_>) -> Result<()> {
    if host.is_empty() || host.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(ctx.err(
            key,
            format!("`{host}` is not a host name for the Host header"),
        ));
    }
    Ok(())
}

fn resolve_status(
    list: Option<&[Parsed<NumRange>]>,
    base: &str,
    ctx: &Ctx<'_>,
) -> Result<Vec<(u16, u16)>> {
    let Some(list) = list else {
        return Ok(vec![(200, 299)]);
    };
    if list.is_empty() {
        return Err(ctx.err(
            format!("{base}.status"),
            "give at least one status code or range",
        ));
    }
    let mut out = Vec::with_capacity(list.len());
    for (i, range) in list.iter().enumerate() {
        let r = range.0;
        // RFC 9110 §15: status codes are three digits, 100..=599.
        if !(100..=599).contains(&r.lo) || !(100..=599).contains(&r.hi) || r.lo > r.hi {
            return Err(ctx.err(
                format!("{base}.status[{i}]"),
                format!(
                    "`{}-{}` is not an HTTP status range within 100-599",
                    r.lo, r.hi
                ),
            ));
        }
        // Both within 100..=599, checked above.
        out.push((
            u16::try_from(r.lo).unwrap_or(0),
            u16::try_from(r.hi).unwrap_or(0),
        ));
    }
    Ok(out)
}

/// keepalived's `digest`: the MD5 of the body as 32 hex digits.
fn resolve_digest(digest: Option<&str>, base: &str, ctx: &Ctx<'_>) -> Result<Option<[u8; 16]>> {
    let Some(digest) = digest else {
        return Ok(None);
    };
    let bytes = (digest.len() == 32)
        .then(|| decode_hex(digest))
        .flatten()
        .and_then(|v| <[u8; 16]>::try_from(v).ok());
    match bytes {
        Some(b) => Ok(Some(b)),
        None => Err(ctx.err(
            format!("{base}.digest"),
            format!("digest must be an MD5 sum (32 hex digits, as genhash prints), got `{digest}`"),
        )),
    }
}

fn resolve_tls(
    raw: &RawHealth,
    http: &HttpCheck,
    base: &str,
    inherited: &Inherited<'_>,
    ctx: &Ctx<'_>,
) -> Result<TlsCheck> {
    let enable = raw.enable_sni.unwrap_or(false) || raw.sni_name.is_some();
    let sni = if enable {
        let name = raw
            .sni_name
            .as_deref()
            .or(raw.virtualhost.as_deref())
            .or(inherited.virtualhost[0])
            .or(inherited.virtualhost[1])
            .or(http.urls.first().and_then(|u| u.virtualhost.as_deref()));
        match name {
            Some(n) if is_dns_name(n) => Some(n.to_string()),
            Some(n) => {
                return Err(ctx.err(
                    format!("{base}.sni_name"),
                    format!("`{n}` is not a DNS name to send as SNI"),
                ))
            }
            None => {
                return Err(ctx.err(
                    format!("{base}.enable_sni"),
                    "enable_sni needs a name: give `sni_name` or a `virtualhost`",
                ))
            }
        }
    } else {
        None
    };
    let verify = raw.verify.unwrap_or(false);
    let ca_file = match &raw.ca {
        None => None,
        Some(path) => {
            let p = std::path::PathBuf::from(path);
            if !p.is_file() {
                return Err(ctx.err(
                    format!("{base}.ca"),
                    format!("CA file `{path}` does not exist or is not a file"),
                ));
            }
            Some(p)
        }
    };
    if verify && ca_file.is_none() {
        return Err(ctx.err(
            format!("{base}.verify"),
            "verify needs `ca`: the PEM file of the CA that signed the real servers' certificates",
        ));
    }
    Ok(TlsCheck {
        sni,
        verify,
        ca_file,
    })
}

/// RFC 1035 §2.3.1 letters, digits and hyphens, dot-separated (and `_`,
/// which some internal names use).
fn is_dns_name(name: &str) -> bool {
    let name = name.trim_end_matches('.');
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        })
}

fn resolve_udp(raw: &RawHealth, base: &str, ctx: &Ctx<'_>) -> Result<UdpCheck> {
    let payload = match &raw.payload {
        None => None,
        Some(hex) => Some(decode_hex(hex).filter(|v| !v.is_empty()).ok_or_else(|| {
            ctx.err(
                format!("{base}.payload"),
                format!("payload `{hex}` is not hex bytes (e.g. \"0a1b2c\" or keepalived's \"Ab12f 3\")"),
            )
        })?),
    };
    let (require_reply, reply_pattern) = match &raw.require_reply {
        None | Some(RawRequireReply::Flag(false)) => (false, None),
        Some(RawRequireReply::Flag(true)) => (true, None),
        Some(RawRequireReply::Pattern(p)) => (
            true,
            Some(decode_pattern(p).ok_or_else(|| {
                ctx.err(
                    format!("{base}.require_reply"),
                    format!("`{p}` is not a hex pattern (hex digits, X for a nibble to ignore)"),
                )
            })?),
        ),
    };
    let min = raw.min_reply_length.unwrap_or(0);
    let max = raw.max_reply_length.unwrap_or(DEFAULT_MAX_REPLY);
    if min > max {
        return Err(ctx.err(
            format!("{base}.min_reply_length"),
            format!("min_reply_length {min} is above max_reply_length {max}"),
        ));
    }
    if !require_reply && (raw.min_reply_length.is_some() || raw.max_reply_length.is_some()) {
        return Err(ctx.err(
            format!("{base}.require_reply"),
            "reply lengths are only checked with require_reply",
        ));
    }
    Ok(UdpCheck {
        payload,
        require_reply,
        reply_pattern,
        min_reply_length: min,
        max_reply_length: max,
    })
}

/// keepalived's require_reply HEX_STR: hex digits and X/x (a nibble to
/// ignore), grouped as [`decode_hex`] groups them. Each byte comes back
/// as (value, mask).
fn decode_pattern(text: &str) -> Option<Vec<(u8, u8)>> {
    let mut out = Vec::new();
    for group in text.split_whitespace() {
        let chars: Vec<char> = group.chars().collect();
        for pair in chars.chunks(2) {
            let nibble = |c: char| -> Option<(u8, u8)> {
                if c == 'x' || c == 'X' {
                    Some((0, 0))
                } else {
                    c.to_digit(16).map(|d| (d as u8, 0xf))
                }
            };
            let (value, mask) = match pair {
                [lo] => nibble(*lo)?,
                [hi, lo] => {
                    let (hv, hm) = nibble(*hi)?;
                    let (lv, lm) = nibble(*lo)?;
                    ((hv << 4) | lv, (hm << 4) | lm)
                }
                _ => return None,
            };
            out.push((value, mask));
        }
    }
    (!out.is_empty()).then_some(out)
}

fn resolve_dns(raw: &RawHealth, base: &str, ctx: &Ctx<'_>) -> Result<DnsCheck> {
    let name = raw.name.clone().unwrap_or_else(|| ".".to_string());
    // RFC 1035 §2.3.4: names are at most 255 octets on the wire (253
    // characters in text), labels at most 63.
    let bad_label = name.trim_end_matches('.').split('.').any(|l| l.len() > 63)
        || (name != "." && name.trim_end_matches('.').split('.').any(str::is_empty));
    if name.is_empty() || name.len() > 253 || bad_label {
        return Err(ctx.err(
            format!("{base}.name"),
            format!("`{name}` is not a DNS name"),
        ));
    }
    let query_type = match &raw.query_type {
        None => DnsQueryType::Soa,
        Some(t) => DnsQueryType::ALL
            .into_iter()
            .find(|q| q.name().eq_ignore_ascii_case(t))
            .ok_or_else(|| {
                ctx.err(
                    format!("{base}.query_type"),
                    format!("unknown DNS query type `{t}` (A, NS, CNAME, SOA, MX, TXT or AAAA)"),
                )
            })?,
    };
    Ok(DnsCheck { query_type, name })
}

fn resolve_file(raw: &RawHealth, base: &str, ctx: &Ctx<'_>) -> Result<FileCheck> {
    let path = match raw.file.as_deref() {
        Some(p) if !p.trim().is_empty() => std::path::PathBuf::from(p),
        _ => {
            return Err(ctx.err(
                format!("{base}.file"),
                "a file check needs the `file` to read",
            ))
        }
    };
    let weight = raw.weight.unwrap_or(1);
    if !(-FILE_WEIGHT_LIMIT..=FILE_WEIGHT_LIMIT).contains(&weight) {
        return Err(ctx.err(
            format!("{base}.weight"),
            format!("weight must be within ±{FILE_WEIGHT_LIMIT}, got {weight}"),
        ));
    }
    Ok(FileCheck {
        path,
        weight,
        reverse: raw.reverse.unwrap_or(false),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_mask_x_nibbles() {
        assert_eq!(
            decode_pattern("0aXb x1"),
            Some(vec![(0x0a, 0xff), (0x0b, 0x0f), (0x01, 0x0f)])
        );
        assert_eq!(decode_pattern("zz"), None);
        assert_eq!(decode_pattern(""), None);
    }

    #[test]
    fn dns_names() {
        assert!(is_dns_name("www.example.test"));
        assert!(is_dns_name("a-b_c."));
        assert!(!is_dns_name("bad name"));
        assert!(!is_dns_name("a..b"));
        assert!(!is_dns_name(""));
    }
}
