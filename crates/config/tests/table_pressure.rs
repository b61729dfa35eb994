//! `global.table_pressure`: the connection table's defences against
//! half-open floods — on by default with stated values, each key checked
//! and refused at its line:col.

mod common;

use common::{accepts, rejects};
use xvs_config::TablePressure;

#[test]
fn on_by_default() {
    let p = accepts("{}\n").global.table_pressure;
    assert_eq!(p, TablePressure::default());
    assert!(p.evict && p.short_timeouts);
    assert_eq!(
        (p.evict_scan, p.enter_percent, p.leave_percent, p.syn_recv),
        (64, 75, 50, 5)
    );
}

#[test]
fn every_key_is_read() {
    let p = accepts(
        "global:\n  table_pressure:\n    evict: false\n    evict_scan: 8\n    short_timeouts: false\n    enter_percent: 90\n    leave_percent: 80\n    syn_recv: 3\n",
    )
    .global
    .table_pressure;
    assert_eq!(
        p,
        TablePressure {
            evict: false,
            evict_scan: 8,
            short_timeouts: false,
            enter_percent: 90,
            leave_percent: 80,
            syn_recv: 3,
        }
    );
}

#[test]
fn bad_values_are_refused_where_written() {
    rejects(
        "global:\n  table_pressure:\n    enter_percent: 101\n",
        "3:5",
        "global.table_pressure.enter_percent",
        "1..=100, got 101",
    );
    rejects(
        "global:\n  table_pressure:\n    enter_percent: 60\n    leave_percent: 60\n",
        "4:5",
        "global.table_pressure.leave_percent",
        "must be below enter_percent (60)",
    );
    // Only enter_percent written, below the default leave mark.
    rejects(
        "global:\n  table_pressure:\n    enter_percent: 40\n",
        "3:5",
        "global.table_pressure.enter_percent",
        "leave_percent (50) must be below enter_percent (40)",
    );
    rejects(
        "global:\n  table_pressure:\n    evict_scan: 0\n",
        "3:5",
        "global.table_pressure.evict_scan",
        "1..=4096, got 0",
    );
    rejects(
        "global:\n  table_pressure:\n    syn_recv: 0\n",
        "3:5",
        "global.table_pressure.syn_recv",
        "at least 1 second",
    );
    rejects(
        "global:\n  table_pressure:\n    evict: maybe\n",
        "3:12",
        "global.table_pressure.evict",
        "invalid type",
    );
    rejects(
        "global:\n  table_pressure:\n    drop_entry: 1\n",
        "3:5",
        "global.table_pressure.drop_entry",
        "unknown field",
    );
}
