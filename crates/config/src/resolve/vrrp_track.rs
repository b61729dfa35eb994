//! `vrrp_scripts:` (keepalived's vrrp_script blocks) and what an instance
//! tracks (`track_interfaces`, `track_scripts`), with keepalived's
//! defaults (keepalived.conf(5), REFERENCE §8.4): a script runs every
//! 1 s, times out after its interval, counts up after 1 success and down
//! after 1 failure, and has weight 0 (FAULT while failing); an interface
//! has weight 0; a tracked script takes the script's weight unless the
//! instance gives its own.

use std::collections::HashMap;

use super::script::resolve_script;
use super::{seconds, Ctx, Result};
use crate::raw::{NameOr, RawTrackInterface, RawTrackScript, RawVrrp, RawVrrpScript};
use crate::vrrp::{TrackInterface, TrackScript, VrrpScript};

/// keepalived.conf(5): tracker weights are -253..=253, so one weight moves
/// a non-owner priority (1..=254) across the whole range and no further.
const WEIGHT_LIMIT: i64 = 253;
const DEFAULT_SCRIPT_INTERVAL: f64 = 1.0;

pub(super) fn resolve_vrrp_scripts(
    raw: &[RawVrrpScript],
    ctx: &Ctx<'_>,
) -> Result<Vec<VrrpScript>> {
    let mut names: HashMap<&str, usize> = HashMap::new();
    let mut out = Vec::with_capacity(raw.len());
    for (i, s) in raw.iter().enumerate() {
        let base = format!("vrrp_scripts[{i}]");
        let key = |name: &str| format!("{base}.{name}");
        if s.name.is_empty() {
            return Err(ctx.err(key("name"), "a vrrp script needs a name"));
        }
        if let Some(first) = names.insert(s.name.as_str(), i) {
            return Err(ctx.err(
                key("name"),
                format!(
                    "vrrp script `{}` is already defined by vrrp_scripts[{first}]",
                    s.name
                ),
            ));
        }
        let script = resolve_script(&s.script, &key("script"), ctx)?;
        let interval = seconds(
            s.interval.unwrap_or(DEFAULT_SCRIPT_INTERVAL),
            &key("interval"),
            false,
            ctx,
        )?;
        let timeout = match s.timeout {
            None => interval,
            Some(secs) => seconds(secs, &key("timeout"), false, ctx)?,
        };
        out.push(VrrpScript {
            name: s.name.clone(),
            script,
            interval,
            timeout,
            weight: weight(s.weight.unwrap_or(0), &key("weight"), ctx)?,
            rise: count(s.rise, &key("rise"), "successes", ctx)?,
            fall: count(s.fall, &key("fall"), "failures", ctx)?,
        });
    }
    Ok(out)
}

fn weight(value: i64, key: &str, ctx: &Ctx<'_>) -> Result<i32> {
    if !(-WEIGHT_LIMIT..=WEIGHT_LIMIT).contains(&value) {
        return Err(ctx.err(
            key,
            format!("weight must be -253..=253 (keepalived's range), got {value}"),
        ));
    }
    // Within ±253, checked above.
    Ok(value as i32)
}

/// `rise` / `fall`: consecutive results, default 1.
fn count(value: Option<u64>, key: &str, what: &str, ctx: &Ctx<'_>) -> Result<u32> {
    match value {
        None => Ok(1),
        Some(0) => Err(ctx.err(
            key,
            format!("must be at least 1 (consecutive {what} before the result counts)"),
        )),
        Some(n) => u32::try_from(n)
            .map_err(|_| ctx.err(key, format!("{n} consecutive {what} is too many"))),
    }
}

/// A `NameOr` item's name and the key path to blame for it: the item
/// itself when written as a bare name, its `name` key otherwise.
fn name_and_key<'a, T>(
    item: &'a NameOr<T>,
    name_of: impl Fn(&'a T) -> &'a str,
    item_key: &str,
) -> (&'a str, String) {
    match item {
        NameOr::Name(name) => (name, item_key.to_string()),
        NameOr::Detailed(map) => (name_of(map), format!("{item_key}.name")),
    }
}

pub(super) fn resolve_track_interfaces(
    raw: &[NameOr<RawTrackInterface>],
    base: &str,
    ctx: &Ctx<'_>,
) -> Result<Vec<TrackInterface>> {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    let mut out = Vec::with_capacity(raw.len());
    for (j, item) in raw.iter().enumerate() {
        let item_key = format!("{base}.track_interfaces[{j}]");
        let (name, name_key) = name_and_key(item, |m| m.name.as_str(), &item_key);
        if name.is_empty() {
            return Err(ctx.err(name_key, "a tracked interface needs a name"));
        }
        // Any interface of the system may be tracked (an uplink xvs does
        // not forward on, a bond's slave), as in keepalived; only the name
        // must be one Linux can have (IFNAMSIZ 16 with the NUL, no '/',
        // no whitespace).
        if name.len() > 15 || name.contains('/') || name.chars().any(char::is_whitespace) {
            return Err(ctx.err(
                name_key,
                format!("`{name}` is not an interface name (at most 15 bytes, no '/' or spaces)"),
            ));
        }
        if let Some(first) = seen.insert(name, j) {
            return Err(ctx.err(
                name_key,
                format!("interface `{name}` is already tracked by track_interfaces[{first}]"),
            ));
        }
        let weight = match item {
            NameOr::Detailed(RawTrackInterface {
                weight: Some(w), ..
            }) => weight(*w, &format!("{item_key}.weight"), ctx)?,
            _ => 0,
        };
        out.push(TrackInterface {
            name: name.to_string(),
            weight,
        });
    }
    Ok(out)
}

pub(super) fn resolve_track_scripts(
    raw: &[NameOr<RawTrackScript>],
    base: &str,
    scripts: &[VrrpScript],
    ctx: &Ctx<'_>,
) -> Result<Vec<TrackScript>> {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    let mut out = Vec::with_capacity(raw.len());
    for (j, item) in raw.iter().enumerate() {
        let item_key = format!("{base}.track_scripts[{j}]");
        let (name, name_key) = name_and_key(item, |m| m.name.as_str(), &item_key);
        if name.is_empty() {
            return Err(ctx.err(
                name_key,
                "a tracked script needs the name of a vrrp_scripts entry",
            ));
        }
        let Some(script) = scripts.iter().position(|s| s.name == name) else {
            let message = if scripts.is_empty() {
                format!("unknown vrrp script `{name}`: no vrrp_scripts are defined")
            } else {
                let known: Vec<&str> = scripts.iter().map(|s| s.name.as_str()).collect();
                format!(
                    "unknown vrrp script `{name}` (vrrp_scripts: {})",
                    known.join(", ")
                )
            };
            return Err(ctx.err(name_key, message));
        };
        if let Some(first) = seen.insert(name, j) {
            return Err(ctx.err(
                name_key,
                format!("vrrp script `{name}` is already tracked by track_scripts[{first}]"),
            ));
        }
        let (weight, reverse) = match item {
            NameOr::Name(_) => (scripts[script].weight, false),
            NameOr::Detailed(map) => (
                match map.weight {
                    Some(w) => weight(w, &format!("{item_key}.weight"), ctx)?,
                    None => scripts[script].weight,
                },
                map.reverse.unwrap_or(false),
            ),
        };
        out.push(TrackScript {
            script,
            weight,
            reverse,
        });
    }
    Ok(out)
}

/// A tracker whose weight moves the priority.
pub(super) struct WeightedTracker {
    /// Where to point: the `weight` key, or the item when the weight is
    /// the default (a script's own).
    pub key: String,
    /// What it is, e.g. `track_interfaces[0] (eth1) has weight -10`.
    pub what: String,
}

/// The first tracker of the instance `raw` with a non-zero weight, if any
/// (`track_scripts` is what [`resolve_track_scripts`] made of its list).
pub(super) fn first_weighted_tracker(
    raw: &RawVrrp,
    base: &str,
    track_scripts: &[TrackScript],
    scripts: &[VrrpScript],
) -> Option<WeightedTracker> {
    for (j, item) in raw.track_interfaces.iter().enumerate() {
        if let NameOr::Detailed(RawTrackInterface {
            name,
            weight: Some(w),
        }) = item
        {
            if *w != 0 {
                return Some(WeightedTracker {
                    key: format!("{base}.track_interfaces[{j}].weight"),
                    what: format!("track_interfaces[{j}] (`{name}`) has weight {w}"),
                });
            }
        }
    }
    for (j, (item, tracked)) in raw.track_scripts.iter().zip(track_scripts).enumerate() {
        if tracked.weight == 0 {
            continue;
        }
        let script = &scripts[tracked.script];
        let explicit = matches!(
            item,
            NameOr::Detailed(RawTrackScript {
                weight: Some(_),
                ..
            })
        );
        return Some(if explicit {
            WeightedTracker {
                key: format!("{base}.track_scripts[{j}].weight"),
                what: format!(
                    "track_scripts[{j}] (`{}`) has weight {}",
                    script.name, tracked.weight
                ),
            }
        } else {
            WeightedTracker {
                key: format!("{base}.track_scripts[{j}]"),
                what: format!(
                    "track_scripts[{j}] (`{}`) has weight {}, the script's own (vrrp_scripts[{}].weight; give weight: 0 here to override it)",
                    script.name, tracked.weight, tracked.script
                ),
            }
        });
    }
    None
}
