//! Programs the health checker and VRRP run (notify_up/notify_down,
//! quorum_up/quorum_down, MISC_CHECK, vrrp_scripts, VRRP notify_*) and
//! keepalived's hex byte strings.
//!
//! A command line is split into arguments as a POSIX shell would split it
//! (quotes and backslashes), but no shell runs it, as in keepalived: to
//! use pipes or variables, write `/bin/sh -c '...'`.

use super::{Ctx, Result};
use crate::health::Script;
use crate::raw::{RawNotifyKeys, RawScript};
use crate::vrrp::VrrpNotify;

/// A notify or quorum script at `key`.
pub(super) fn resolve_script(raw: &RawScript, key: &str, ctx: &Ctx<'_>) -> Result<Script> {
    match raw {
        RawScript::Command(command) => resolve_script_parts(command, None, key, key, ctx),
        RawScript::Detailed(map) => resolve_script_parts(
            &map.command,
            map.user.as_deref(),
            &format!("{key}.command"),
            &format!("{key}.user"),
            ctx,
        ),
    }
}

/// The notify_master/backup/fault/stop and notify scripts of a VRRP
/// instance or sync group at `base`.
pub(super) fn resolve_vrrp_notify(
    keys: &RawNotifyKeys<'_>,
    base: &str,
    ctx: &Ctx<'_>,
) -> Result<VrrpNotify> {
    let mut scripts = [None, None, None, None, None];
    for (slot, (name, raw)) in scripts.iter_mut().zip(keys) {
        if let Some(raw) = raw {
            *slot = Some(resolve_script(raw, &format!("{base}.{name}"), ctx)?);
        }
    }
    let [master, backup, fault, stop, any] = scripts;
    Ok(VrrpNotify {
        master,
        backup,
        fault,
        stop,
        any,
    })
}

/// A command line and an optional `user` or `user:group`.
pub(super) fn resolve_script_parts(
    command: &str,
    user: Option<&str>,
    command_key: &str,
    user_key: &str,
    ctx: &Ctx<'_>,
) -> Result<Script> {
    let argv = shell_words::split(command).map_err(|e| {
        ctx.err(
            command_key,
            format!("cannot split `{command}` into arguments: {e}"),
        )
    })?;
    if argv.is_empty() || argv[0].is_empty() {
        return Err(ctx.err(command_key, "the command is empty"));
    }
    let (user, group) = match user {
        None => (None, None),
        Some(text) => {
            let (u, g) = match text.split_once(':') {
                Some((u, g)) => (u.trim(), Some(g.trim())),
                None => (text.trim(), None),
            };
            let valid = |name: &str| {
                !name.is_empty()
                    && name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '$'))
            };
            if !valid(u) || g.is_some_and(|g| !valid(g)) {
                return Err(ctx.err(
                    user_key,
                    format!("`{text}` is not a user name, or user:group"),
                ));
            }
            (Some(u.to_string()), g.map(str::to_string))
        }
    };
    Ok(Script { argv, user, group })
}

/// keepalived's free-format hex string (UDP_CHECK payload): groups
/// separated by spaces, each read as pairs of digits from the left, a
/// lone last digit standing for its own byte ("Ab12f 3" is AB 12 0F 03).
/// Also plain "0a1b2c".
pub(super) fn decode_hex(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    for group in text.split_whitespace() {
        let digits: Option<Vec<u8>> = group
            .chars()
            .map(|c| c.to_digit(16).map(|d| d as u8))
            .collect();
        for pair in digits?.chunks(2) {
            out.push(match pair {
                [hi, lo] => (hi << 4) | lo,
                [lo] => *lo,
                _ => return None,
            });
        }
    }
    (!out.is_empty()).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_in_keepalived_free_format() {
        assert_eq!(decode_hex("0a1B2c"), Some(vec![0x0a, 0x1b, 0x2c]));
        // The example of keepalived.conf(5).
        assert_eq!(
            decode_hex("Ab12f 3 456 546443123"),
            Some(vec![
                0xab, 0x12, 0x0f, 0x03, 0x45, 0x06, 0x54, 0x64, 0x43, 0x12, 0x03
            ])
        );
        assert_eq!(decode_hex(""), None);
        assert_eq!(decode_hex("zz"), None);
        assert_eq!(decode_hex("+1"), None);
    }
}
