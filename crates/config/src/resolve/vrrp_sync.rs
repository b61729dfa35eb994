//! `vrrp_sync_groups:` (keepalived's vrrp_sync_group): instances that
//! change state together (REFERENCE §8.4). keepalived's rules: an instance
//! is in one group at most, and the members' trackers are unweighted
//! (it ignores weights in a group unless `sync_group_tracking_weight`,
//! which xvs does not offer), since members whose priorities drift apart
//! would be master on different nodes and re-elect forever.

use std::collections::HashMap;

use super::script::resolve_vrrp_notify;
use super::vrrp_track::first_weighted_tracker;
use super::{Ctx, Result};
use crate::raw::{HasVrrpNotify, RawSyncGroup, RawVrrp};
use crate::vrrp::{VrrpInstance, VrrpScript, VrrpSyncGroup};

pub(super) fn resolve_sync_groups(
    raw: &[RawSyncGroup],
    raw_vrrp: &[RawVrrp],
    vrrp: &[VrrpInstance],
    scripts: &[VrrpScript],
    ctx: &Ctx<'_>,
) -> Result<Vec<VrrpSyncGroup>> {
    let mut names: HashMap<&str, usize> = HashMap::new();
    // instance index -> the group that holds it.
    let mut group_of: HashMap<usize, usize> = HashMap::new();
    let mut out = Vec::with_capacity(raw.len());
    for (g, group) in raw.iter().enumerate() {
        let base = format!("vrrp_sync_groups[{g}]");
        if group.name.is_empty() {
            return Err(ctx.err(format!("{base}.name"), "a sync group needs a name"));
        }
        if let Some(first) = names.insert(group.name.as_str(), g) {
            return Err(ctx.err(
                format!("{base}.name"),
                format!(
                    "sync group `{}` is already defined by vrrp_sync_groups[{first}]",
                    group.name
                ),
            ));
        }
        // keepalived accepts one member with a warning that it "probably
        // isn't what you want": such a group synchronises nothing.
        if group.members.len() < 2 {
            return Err(ctx.err(
                format!("{base}.members"),
                format!(
                    "a sync group needs at least two instances to keep together, got {}",
                    group.members.len()
                ),
            ));
        }
        let mut members = Vec::with_capacity(group.members.len());
        for (m, member) in group.members.iter().enumerate() {
            let key = format!("{base}.members[{m}]");
            let Some(i) = vrrp.iter().position(|inst| inst.name == *member) else {
                let message = if vrrp.is_empty() {
                    format!("unknown instance `{member}`: no vrrp instances are defined")
                } else {
                    let known: Vec<&str> = vrrp.iter().map(|inst| inst.name.as_str()).collect();
                    format!("unknown instance `{member}` (vrrp: {})", known.join(", "))
                };
                return Err(ctx.err(key, message));
            };
            if let Some(first) = members.iter().position(|&j| j == i) {
                return Err(ctx.err(
                    key,
                    format!("instance `{member}` is already listed at members[{first}]"),
                ));
            }
            if let Some(&other) = group_of.get(&i) {
                return Err(ctx.err(
                    key,
                    format!(
                        "instance `{member}` is already in sync group `{}` (vrrp_sync_groups[{other}]); an instance can be in one group only",
                        raw[other].name
                    ),
                ));
            }
            let inst_base = format!("vrrp[{i}]");
            if let Some(weighted) =
                first_weighted_tracker(&raw_vrrp[i], &inst_base, &vrrp[i].track_scripts, scripts)
            {
                return Err(ctx.err(
                    weighted.key,
                    format!(
                        "{}, but `{member}` is in sync group `{}` ({key}): members change state together, so their trackers must have weight 0 (a failing one puts the whole group in FAULT). Weighted trackers could leave members master on different nodes; keepalived ignores them unless sync_group_tracking_weight, which xvs does not support",
                        weighted.what, group.name
                    ),
                ));
            }
            members.push(i);
        }
        check_owners(&members, vrrp, &base, ctx)?;
        for &i in &members {
            group_of.insert(i, g);
        }
        out.push(VrrpSyncGroup {
            name: group.name.clone(),
            members,
            notify: resolve_vrrp_notify(&group.notify_keys(), &base, ctx)?,
        });
    }
    Ok(out)
}

/// keepalived (vrrp_sync_set_group): a group starts as master only if
/// every member is an address owner starting as master, and it warns
/// that a group mixing those with other instances "won't work": the
/// owners take over at once while the group holds the rest as backup.
fn check_owners(members: &[usize], vrrp: &[VrrpInstance], base: &str, ctx: &Ctx<'_>) -> Result<()> {
    let starts_master = |i: usize| vrrp[i].priority == 255 && vrrp[i].initial_master;
    let Some(&head) = members.first() else {
        return Ok(());
    };
    let first = starts_master(head);
    if let Some(m) = members.iter().position(|&i| starts_master(i) != first) {
        let (owner, other) = if first {
            (head, members[m])
        } else {
            (members[m], head)
        };
        return Err(ctx.err(
            format!("{base}.members[{m}]"),
            format!(
                "`{}` is an address owner starting as master (priority 255, state: master) but `{}` is not; a sync group holds all of one kind or the other, or the owner takes over while the group keeps the rest backup",
                vrrp[owner].name, vrrp[other].name
            ),
        ));
    }
    Ok(())
}
