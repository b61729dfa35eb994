//! Notify scripts (keepalived `vrrp_notify.c`): on each state change the
//! state's own script (`notify_master`, `notify_backup`, `notify_fault`,
//! `notify_stop`) as configured, then the generic `notify` with
//! `INSTANCE name STATE priority` appended — for a sync group
//! `GROUP name STATE 0` (keepalived passes 0 as a group's priority).

use xvs_config::{Script, VrrpNotify};

use crate::State;

/// The word keepalived passes for a state; Init is only entered when the
/// director stops, so it is STOP.
fn word(state: State) -> &'static str {
    match state {
        State::Master => "MASTER",
        State::Backup => "BACKUP",
        State::Fault => "FAULT",
        State::Init => "STOP",
    }
}

/// The scripts to run when `name` enters `state`: the state's own
/// script first, then the generic one with its arguments.
pub(crate) fn scripts(
    notify: &VrrpNotify,
    kind: &str,
    name: &str,
    state: State,
    priority: u8,
) -> Vec<Script> {
    let own = match state {
        State::Master => &notify.master,
        State::Backup => &notify.backup,
        State::Fault => &notify.fault,
        State::Init => &notify.stop,
    };
    let mut out: Vec<Script> = own.iter().cloned().collect();
    if let Some(any) = &notify.any {
        let mut s = any.clone();
        s.argv.extend([
            kind.to_string(),
            name.to_string(),
            word(state).to_string(),
            priority.to_string(),
        ]);
        out.push(s);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn script(cmd: &str) -> Script {
        Script {
            argv: vec![cmd.to_string()],
            user: None,
            group: None,
        }
    }

    #[test]
    fn state_script_then_generic_with_arguments() {
        let n = VrrpNotify {
            master: Some(script("/m")),
            backup: None,
            fault: Some(script("/f")),
            stop: Some(script("/s")),
            any: Some(script("/any")),
        };
        let got = scripts(&n, "INSTANCE", "vi_1", State::Master, 150);
        assert_eq!(got[0].argv, ["/m"]);
        assert_eq!(got[1].argv, ["/any", "INSTANCE", "vi_1", "MASTER", "150"]);
        let got = scripts(&n, "INSTANCE", "vi_1", State::Backup, 100);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].argv, ["/any", "INSTANCE", "vi_1", "BACKUP", "100"]);
        let got = scripts(&n, "GROUP", "g", State::Init, 0);
        assert_eq!(got[0].argv, ["/s"]);
        assert_eq!(got[1].argv, ["/any", "GROUP", "g", "STOP", "0"]);
        assert!(scripts(&VrrpNotify::default(), "INSTANCE", "x", State::Fault, 1).is_empty());
    }
}
