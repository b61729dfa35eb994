//! MISC_CHECK programs and notify scripts: exit codes, misc_dynamic
//! weights, timeouts that SIGTERM then SIGKILL the whole process group,
//! users, the environment, and no zombie left behind.
//!
//! The tests here run one at a time (they look for zombie children of
//! this process, which another test's children could briefly be).

mod common;

use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use common::*;
use xvs_config::Script;
use xvs_probe::{DynamicWeight, Outcome, ProbeKind};

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn script(argv: &[&str]) -> Script {
    Script {
        argv: argv.iter().map(|a| a.to_string()).collect(),
        user: None,
        group: None,
    }
}

fn misc(script: Script, dynamic: bool) -> ProbeKind {
    ProbeKind::Misc { script, dynamic }
}

fn assert_no_zombies() {
    assert!(
        eventually(Duration::from_secs(5), || zombie_children().is_empty()),
        "zombie children left: {:?}",
        zombie_children()
    );
}

#[test]
fn exit_0_passes_and_exit_1_fails() {
    let _serial = serial();
    let mut prober = prober();
    let pass = run_one(
        &mut prober,
        probe(Duration::from_secs(10), misc(script(&["true"]), false)),
    );
    assert!(pass.outcome.is_pass(), "{pass:?}");
    let fail = run_one(
        &mut prober,
        probe(Duration::from_secs(10), misc(script(&["false"]), false)),
    );
    assert_eq!(reason(&fail), "exit status 1");
    // Reaped as they exited, not at some later sweep.
    assert!(zombie_children().is_empty(), "{:?}", zombie_children());
}

#[test]
fn misc_dynamic_exit_codes_set_the_weight() {
    let _serial = serial();
    let mut prober = prober();
    let weighted = run_one(
        &mut prober,
        probe(
            Duration::from_secs(10),
            misc(script(&["sh", "-c", "exit 7"]), true),
        ),
    );
    assert_eq!(
        weighted.outcome,
        Outcome::Pass {
            weight: Some(DynamicWeight::Set(5))
        }
    );
    let failed = run_one(
        &mut prober,
        probe(
            Duration::from_secs(10),
            misc(script(&["sh", "-c", "exit 1"]), true),
        ),
    );
    assert_eq!(reason(&failed), "exit status 1");
    let plain = run_one(
        &mut prober,
        probe(Duration::from_secs(10), misc(script(&["true"]), true)),
    );
    assert_eq!(plain.outcome, Outcome::Pass { weight: None });
}

#[test]
fn a_program_past_its_timeout_is_terminated_and_reaped() {
    let _serial = serial();
    let mut prober = prober();
    let done = run_one(
        &mut prober,
        probe(
            Duration::from_secs(1),
            misc(script(&["sleep", "30"]), false),
        ),
    );
    assert_eq!(reason(&done), "timed out after the misc_timeout");
    assert!(done.latency >= Duration::from_secs(1), "{done:?}");
    assert!(done.latency < Duration::from_secs(20), "{done:?}");
    assert_eq!(prober.counters().probes_timed_out, 1);
    assert_eq!(prober.in_flight(), 0);
    assert_no_zombies();
}

#[test]
fn a_program_that_ignores_sigterm_is_killed_with_its_whole_group() {
    let _serial = serial();
    let pid_file = temp_path("misc.pid");
    let path = pid_file.to_str().unwrap();
    // The shell records its pid (= its process group, as the leader) and
    // leaves a child in the group; both ignore SIGTERM.
    let stubborn = script(&[
        "sh",
        "-c",
        "trap '' TERM; echo $$ > \"$0\"; sleep 30 & wait; wait",
        path,
    ]);
    let mut prober = prober();
    let done = run_one(
        &mut prober,
        probe(Duration::from_secs(1), misc(stubborn, false)),
    );
    assert_eq!(reason(&done), "timed out after the misc_timeout");
    // SIGTERM at 1 s did nothing; SIGKILL came 2 s later.
    assert!(done.latency >= Duration::from_secs(3), "{done:?}");
    assert!(done.latency < Duration::from_secs(30), "{done:?}");
    assert_group_gone(&pid_file);
    assert_no_zombies();
}

#[test]
fn what_a_terminated_program_leaves_in_its_group_is_killed_too() {
    let _serial = serial();
    let pid_file = temp_path("misc.pid");
    let path = pid_file.to_str().unwrap();
    // The leader dies of SIGTERM; its child in the group ignores it.
    let leaves_a_child = script(&[
        "sh",
        "-c",
        "echo $$ > \"$0\"; (trap '' TERM; sleep 30) & wait",
        path,
    ]);
    let mut prober = prober();
    let done = run_one(
        &mut prober,
        probe(Duration::from_secs(1), misc(leaves_a_child, false)),
    );
    assert_eq!(reason(&done), "timed out after the misc_timeout");
    assert_group_gone(&pid_file);
    assert_no_zombies();
}

#[test]
fn the_environment_is_path_alone() {
    let _serial = serial();
    let mut prober = prober();
    let done = run_one(
        &mut prober,
        probe(
            Duration::from_secs(10),
            misc(
                script(&[
                    "sh",
                    "-c",
                    "test -n \"$PATH\" && test -z \"$HOME$USER$CARGO\"",
                ]),
                false,
            ),
        ),
    );
    assert!(done.outcome.is_pass(), "{done:?}");
}

#[test]
fn stdio_is_dev_null() {
    let _serial = serial();
    let mut prober = prober();
    let done = run_one(
        &mut prober,
        probe(
            Duration::from_secs(10),
            misc(
                script(&[
                    "sh",
                    "-c",
                    "test \"$(readlink /proc/self/fd/0)\" = /dev/null && \
                     test \"$(readlink /proc/$$/fd/1)\" = /dev/null",
                ]),
                false,
            ),
        ),
    );
    assert!(done.outcome.is_pass(), "{done:?}");
}

#[test]
fn a_program_runs_as_its_user() {
    let _serial = serial();
    if !nix::unistd::Uid::effective().is_root() {
        eprintln!("SKIP a_program_runs_as_its_user: needs root to switch users");
        return;
    }
    let Ok(Some(nobody)) = nix::unistd::User::from_name("nobody") else {
        eprintln!("SKIP a_program_runs_as_its_user: no user nobody");
        return;
    };
    // Root's supplementary groups are gone too (setgroups before setuid).
    let check = format!(
        "test \"$(id -u)\" = {} && test \"$(id -g)\" = {} && ! id -G | grep -qw 0",
        nobody.uid, nobody.gid
    );
    let mut as_nobody = script(&["sh", "-c", &check]);
    as_nobody.user = Some("nobody".into());
    let mut prober = prober();
    let done = run_one(
        &mut prober,
        probe(Duration::from_secs(10), misc(as_nobody, false)),
    );
    assert!(done.outcome.is_pass(), "{done:?}");
}

#[test]
fn an_unknown_user_fails_without_running_anything() {
    let _serial = serial();
    let mut ghost = script(&["true"]);
    ghost.user = Some("xvs-no-such-user".into());
    let mut prober = prober();
    let done = run_one(
        &mut prober,
        probe(Duration::from_secs(10), misc(ghost, false)),
    );
    assert_eq!(reason(&done), "user xvs-no-such-user does not exist");
}

#[test]
fn a_program_that_cannot_start_says_why() {
    let _serial = serial();
    let mut prober = prober();
    let done = run_one(
        &mut prober,
        probe(
            Duration::from_secs(10),
            misc(script(&["/nonexistent/xvs-check"]), false),
        ),
    );
    assert_eq!(
        reason(&done),
        "cannot run /nonexistent/xvs-check: no such file or directory"
    );
}

#[test]
fn a_cancelled_program_is_killed_and_reaped() {
    let _serial = serial();
    let mut prober = prober();
    prober.start(
        9,
        probe(
            Duration::from_secs(60),
            misc(script(&["sleep", "30"]), false),
        ),
    );
    let mut finished = Vec::new();
    prober
        .poll(Some(Duration::from_millis(50)), &mut finished)
        .unwrap();
    assert_eq!(prober.in_flight(), 1);
    prober.cancel(9);
    assert_eq!(prober.in_flight(), 0);
    assert_eq!(prober.children(), 1, "killed, and still to be reaped");
    assert!(eventually(Duration::from_secs(10), || {
        prober
            .poll(Some(Duration::from_millis(50)), &mut finished)
            .unwrap();
        prober.children() == 0
    }));
    assert!(zombie_children().is_empty(), "{:?}", zombie_children());
    assert!(finished.is_empty(), "a cancelled probe reports nothing");
}

#[test]
fn scripts_run_fire_and_forget() {
    let _serial = serial();
    let marker = temp_path("notified");
    let mut prober = prober();
    prober.run_script(
        &script(&["sh", "-c", "echo up > \"$0\"", marker.to_str().unwrap()]),
        Duration::from_secs(10),
    );
    assert_eq!(prober.in_flight(), 0, "scripts are not probes");
    assert_eq!(prober.children(), 1);
    let mut finished = Vec::new();
    assert!(eventually(Duration::from_secs(10), || {
        prober
            .poll(Some(Duration::from_millis(50)), &mut finished)
            .unwrap();
        marker.exists() && prober.children() == 0
    }));
    assert!(zombie_children().is_empty(), "{:?}", zombie_children());
    let _ = std::fs::remove_file(&marker);
    assert!(finished.is_empty());
    assert_eq!(prober.counters().scripts_run, 1);
}

#[test]
fn a_script_past_its_timeout_is_killed() {
    let _serial = serial();
    let mut prober = prober();
    prober.run_script(&script(&["sleep", "30"]), Duration::from_secs(1));
    let mut finished = Vec::new();
    assert!(eventually(Duration::from_secs(20), || {
        prober
            .poll(Some(Duration::from_millis(50)), &mut finished)
            .unwrap();
        prober.counters().scripts_killed == 1
    }));
    assert_no_zombies();
}

#[test]
fn a_script_that_cannot_start_is_counted_and_explained() {
    let _serial = serial();
    let mut prober = prober();
    prober.run_script(&script(&["/nonexistent/notify"]), Duration::from_secs(1));
    assert_eq!(prober.counters().scripts_failed, 1);
    assert_eq!(
        prober.take_script_errors(),
        ["/nonexistent/notify: cannot run /nonexistent/notify: no such file or directory"]
    );
    assert!(prober.take_script_errors().is_empty());
}

#[test]
fn shutdown_kills_and_reaps_every_child() {
    let _serial = serial();
    let mut prober = prober();
    for id in 0..3 {
        prober.start(
            id,
            probe(
                Duration::from_secs(60),
                misc(script(&["sleep", "30"]), false),
            ),
        );
    }
    prober.run_script(&script(&["sleep", "30"]), Duration::from_secs(60));
    assert_eq!(prober.children(), 4);
    prober.shutdown();
    assert_eq!((prober.in_flight(), prober.children()), (0, 0));
    // Reaped by shutdown itself: no poll needed.
    assert!(zombie_children().is_empty(), "{:?}", zombie_children());
}

/// The process group whose leader wrote its pid to `pid_file` has no live
/// member left (within 5 s).
fn assert_group_gone(pid_file: &std::path::Path) {
    let group: u32 = std::fs::read_to_string(pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let _ = std::fs::remove_file(pid_file);
    assert!(
        eventually(Duration::from_secs(5), || live_group_members(group)
            .is_empty()),
        "process group {group} still has {:?}",
        live_group_members(group)
    );
}
