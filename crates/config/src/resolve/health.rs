//! `health:` blocks of real servers, with keepalived's defaults
//! (keepalived.conf(5), REFERENCE §7.1): connect_timeout 5 s, delay_loop
//! 60 s, retry 1 (MISC_CHECK 0, DNS_CHECK 3), delay_before_retry 1 s
//! (HTTP/SSL 3 s, DNS = delay_loop), HTTP status 200-299, DNS name ".".

use std::time::Duration;

use super::{seconds, Ctx, Result};
use crate::model::{HealthCheck, HealthCheckKind};
use crate::raw::{HealthKindText, RawHealth};

const DEFAULT_CONNECT_TIMEOUT: f64 = 5.0;
const DEFAULT_DELAY_LOOP: f64 = 60.0;

pub(super) fn resolve_health(raw: &RawHealth, base: &str, ctx: &Ctx<'_>) -> Result<HealthCheck> {
    use HealthKindText as K;
    let kind = raw.kind;
    reject_foreign_keys(raw, base, ctx)?;

    if raw.port == Some(0) {
        return Err(ctx.err(format!("{base}.port"), "port 0 cannot be probed"));
    }
    let connect_timeout = seconds(
        raw.connect_timeout.unwrap_or(DEFAULT_CONNECT_TIMEOUT),
        &format!("{base}.connect_timeout"),
        false,
        ctx,
    )?;
    let delay_loop = seconds(
        raw.delay_loop.unwrap_or(DEFAULT_DELAY_LOOP),
        &format!("{base}.delay_loop"),
        false,
        ctx,
    )?;
    let delay_before_retry = match raw.delay_before_retry {
        Some(v) => seconds(v, &format!("{base}.delay_before_retry"), true, ctx)?,
        None => match kind {
            K::Http | K::Ssl => Duration::from_secs(3),
            K::Dns => delay_loop,
            K::Tcp | K::Udp | K::Icmp | K::Script => Duration::from_secs(1),
        },
    };
    let retry = raw.retry.unwrap_or(match kind {
        K::Script => 0,
        K::Dns => 3,
        K::Tcp | K::Http | K::Ssl | K::Udp | K::Icmp => 1,
    });

    let kind = match kind {
        K::Tcp => HealthCheckKind::Tcp,
        K::Icmp => HealthCheckKind::Icmp,
        K::Http | K::Ssl => {
            let path = raw.path.clone().unwrap_or_else(|| "/".to_string());
            if !path.starts_with('/') || path.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(ctx.err(
                    format!("{base}.path"),
                    format!(
                        "`{path}` is not a request path (must start with '/' and have no spaces)"
                    ),
                ));
            }
            let status = resolve_status(raw, base, ctx)?;
            let digest = resolve_digest(raw, base, ctx)?;
            if kind == K::Http {
                HealthCheckKind::Http {
                    path,
                    status,
                    digest,
                }
            } else {
                HealthCheckKind::Ssl {
                    path,
                    status,
                    digest,
                }
            }
        }
        K::Udp => HealthCheckKind::Udp {
            payload: match &raw.payload {
                None => None,
                Some(hex) => Some(decode_hex(hex).ok_or_else(|| {
                    ctx.err(
                        format!("{base}.payload"),
                        format!("payload `{hex}` is not hex bytes (e.g. \"0a1b2c\")"),
                    )
                })?),
            },
            require_reply: raw.require_reply.unwrap_or(false),
        },
        K::Dns => {
            let name = raw.name.clone().unwrap_or_else(|| ".".to_string());
            // RFC 1035 §2.3.4: names are at most 255 octets on the wire
            // (253 characters in text), labels at most 63.
            let bad_label = name.trim_end_matches('.').split('.').any(|l| l.len() > 63)
                || (name != "." && name.trim_end_matches('.').split('.').any(str::is_empty));
            if name.is_empty() || name.len() > 253 || bad_label {
                return Err(ctx.err(
                    format!("{base}.name"),
                    format!("`{name}` is not a DNS name"),
                ));
            }
            HealthCheckKind::Dns { name }
        }
        K::Script => match &raw.command {
            Some(command) if !command.trim().is_empty() => HealthCheckKind::Script {
                command: command.clone(),
            },
            _ => {
                return Err(ctx.err(
                    format!("{base}.command"),
                    "a script check needs a command to run",
                ))
            }
        },
    };

    Ok(HealthCheck {
        kind,
        port: raw.port,
        connect_timeout,
        delay_loop,
        retry,
        delay_before_retry,
    })
}

/// Keys that only some kinds use: naming them on another kind is refused
/// rather than ignored, so a `path` on a tcp check does not look effective.
fn reject_foreign_keys(raw: &RawHealth, base: &str, ctx: &Ctx<'_>) -> Result<()> {
    use HealthKindText as K;
    let kind = raw.kind;
    let checks: [(&str, bool, &str); 8] = [
        ("port", raw.port.is_some(), "tcp, http, ssl, udp and dns"),
        ("path", raw.path.is_some(), "http and ssl"),
        ("status", raw.status.is_some(), "http and ssl"),
        ("digest", raw.digest.is_some(), "http and ssl"),
        ("payload", raw.payload.is_some(), "udp"),
        ("require_reply", raw.require_reply.is_some(), "udp"),
        ("name", raw.name.is_some(), "dns"),
        ("command", raw.command.is_some(), "script"),
    ];
    for (key, present, owners) in checks {
        let allowed = match key {
            "port" => !matches!(kind, K::Icmp | K::Script),
            "path" | "status" | "digest" => matches!(kind, K::Http | K::Ssl),
            "payload" | "require_reply" => kind == K::Udp,
            "name" => kind == K::Dns,
            _ => kind == K::Script,
        };
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
    Ok(())
}

fn resolve_status(raw: &RawHealth, base: &str, ctx: &Ctx<'_>) -> Result<Vec<(u16, u16)>> {
    let Some(list) = &raw.status else {
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
fn resolve_digest(raw: &RawHealth, base: &str, ctx: &Ctx<'_>) -> Result<Option<String>> {
    let Some(digest) = &raw.digest else {
        return Ok(None);
    };
    if digest.len() != 32 || !digest.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(ctx.err(
            format!("{base}.digest"),
            format!("digest must be an MD5 sum (32 hex digits), got `{digest}`"),
        ));
    }
    Ok(Some(digest.to_ascii_lowercase()))
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    let text = text.trim();
    // from_str_radix would also take a sign, so check the digits first.
    if text.is_empty()
        || !text.len().is_multiple_of(2)
        || !text.bytes().all(|b| b.is_ascii_hexdigit())
    {
        return None;
    }
    let bytes = text.as_bytes();
    bytes
        .chunks(2)
        .map(|pair| {
            let s = std::str::from_utf8(pair).ok()?;
            u8::from_str_radix(s, 16).ok()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_payloads() {
        assert_eq!(decode_hex("0a1B2c"), Some(vec![0x0a, 0x1b, 0x2c]));
        assert_eq!(decode_hex("abc"), None);
        assert_eq!(decode_hex(""), None);
        assert_eq!(decode_hex("zz"), None);
        assert_eq!(decode_hex("+1"), None);
    }
}
