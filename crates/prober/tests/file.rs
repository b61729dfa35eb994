//! FILE_CHECK: the number in a file passes, fails or weighs; a file that
//! cannot be read fails with the reason.

mod common;

use std::time::Duration;

use common::*;
use xvs_probe::{DynamicWeight, Outcome, ProbeKind};

fn file_check(path: &std::path::Path, weight: i64, reverse: bool) -> ProbeKind {
    ProbeKind::File {
        path: path.to_path_buf(),
        weight,
        reverse,
    }
}

#[test]
fn zero_passes_and_non_zero_fails_with_weight_0() {
    let path = temp_path("track");
    let mut prober = prober();
    std::fs::write(&path, "0\n").unwrap();
    let pass = run_one(
        &mut prober,
        probe(Duration::from_secs(1), file_check(&path, 0, false)),
    );
    assert!(pass.outcome.is_pass(), "{pass:?}");
    std::fs::write(&path, "3\n").unwrap();
    let fail = run_one(
        &mut prober,
        probe(Duration::from_secs(1), file_check(&path, 0, false)),
    );
    assert!(!fail.outcome.is_pass(), "{fail:?}");
    let _ = std::fs::remove_file(&path);
}

#[test]
fn a_weight_scales_the_value() {
    let path = temp_path("track");
    std::fs::write(&path, "5").unwrap();
    let mut prober = prober();
    let done = run_one(
        &mut prober,
        probe(Duration::from_secs(1), file_check(&path, 3, false)),
    );
    assert_eq!(
        done.outcome,
        Outcome::Pass {
            weight: Some(DynamicWeight::Add(15))
        }
    );
    let reversed = run_one(
        &mut prober,
        probe(Duration::from_secs(1), file_check(&path, 3, true)),
    );
    assert_eq!(
        reversed.outcome,
        Outcome::Pass {
            weight: Some(DynamicWeight::Add(-15))
        }
    );
    let _ = std::fs::remove_file(&path);
}

#[test]
fn an_unreadable_file_fails_with_the_reason() {
    let path = temp_path("absent");
    let mut prober = prober();
    let done = run_one(
        &mut prober,
        probe(Duration::from_secs(1), file_check(&path, 0, false)),
    );
    assert_eq!(
        reason(&done),
        format!("cannot read {}: no such file or directory", path.display())
    );
}

#[test]
fn a_fifo_does_not_stall_the_engine() {
    let path = temp_path("fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&path)
        .status()
        .unwrap();
    assert!(made.success());
    let mut prober = prober();
    let done = run_one(
        &mut prober,
        probe(Duration::from_secs(1), file_check(&path, 0, false)),
    );
    // No writer: reads as empty, which keepalived takes as 0.
    assert!(done.outcome.is_pass(), "{done:?}");
    let _ = std::fs::remove_file(&path);
}
