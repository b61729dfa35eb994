//! Bytes per connection of the connection table, per address family:
//! builds tables that hold only IPv4 or only IPv6 entries and divides
//! `ConnTable::memory_bytes()` (slots and index, allocated once up front) by
//! the capacity. Run with `cargo run -p xvs-bench --release --bin conn-memory`.

use xvs_conn::{ConnTable, TableConfig, TableError};

/// Capacities shown: a small table, the default `conn_capacity`, and a big one.
const CAPACITIES: [usize; 3] = [4096, 1 << 20, 8 << 20];

fn per_conn(capacity_v4: usize, capacity_v6: usize, workers: usize) -> Result<f64, TableError> {
    let table = ConnTable::with_config(TableConfig {
        capacity_v4,
        capacity_v6,
        workers,
        hash_seed: 1,
    })?;
    Ok(table.memory_bytes() as f64 / table.capacity() as f64)
}

fn main() -> Result<(), TableError> {
    println!(
        "slot bytes: IPv4 {} , IPv6 {}; IPv4 at the maximum index load: {:.1}",
        ConnTable::V4_ENTRY_BYTES,
        ConnTable::V6_ENTRY_BYTES,
        ConnTable::V4_BYTES_PER_CONN
    );
    println!("| capacity | workers | bytes/conn IPv4 | bytes/conn IPv6 |");
    println!("|---:|---:|---:|---:|");
    for capacity in CAPACITIES {
        for workers in [1, 2] {
            println!(
                "| {capacity} | {workers} | {:.1} | {:.1} |",
                per_conn(capacity, 0, workers)?,
                per_conn(0, capacity, workers)?
            );
        }
    }
    Ok(())
}
