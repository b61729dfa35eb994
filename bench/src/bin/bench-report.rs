//! Print the figures table of bench/README.md from criterion's saved
//! results: `cargo bench -p xvs-bench`, then
//! `cargo run -p xvs-bench --release --bin bench-report [DIR]` (DIR defaults
//! to `target/criterion`, or `$CARGO_TARGET_DIR/criterion`).

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let dir = std::env::args_os().nth(1).map_or_else(
        || {
            let target = std::env::var_os("CARGO_TARGET_DIR").unwrap_or_else(|| "target".into());
            PathBuf::from(target).join("criterion")
        },
        PathBuf::from,
    );
    match xvs_bench::report::collect(&dir) {
        Ok(rows) if rows.is_empty() => {
            eprintln!(
                "no criterion results under {}: run `cargo bench -p xvs-bench` first",
                dir.display()
            );
            ExitCode::FAILURE
        }
        Ok(rows) => {
            print!("{}", xvs_bench::report::render(&rows));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("bench-report: {e}");
            ExitCode::FAILURE
        }
    }
}
