//! Print the figures table of bench/README.md from criterion's saved
//! results.
//!
//! `cargo bench -p xvs-bench`, then
//! `cargo run -p xvs-bench --release --bin bench-report` reads criterion's
//! latest run (`new`) under `target/criterion` (or
//! `$CARGO_TARGET_DIR/criterion`). To damp a shared machine's noise, run
//! the suite several times into named baselines
//! (`cargo bench -p xvs-bench -- --save-baseline run1`, `run2`, ...) and
//! name them: `bench-report run1 run2 run3` reports the best median of the
//! runs and their range. `--dir DIR` reads another criterion directory.

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut dir = None;
    let mut baselines = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--dir" {
            dir = args.next().map(PathBuf::from);
        } else {
            baselines.push(arg);
        }
    }
    if baselines.is_empty() {
        baselines.push("new".to_owned());
    }
    let dir = dir.unwrap_or_else(|| {
        let target = std::env::var_os("CARGO_TARGET_DIR").unwrap_or_else(|| "target".into());
        PathBuf::from(target).join("criterion")
    });
    match xvs_bench::report::collect(&dir, &baselines) {
        Ok(rows) if rows.is_empty() => {
            eprintln!(
                "no criterion results for {baselines:?} under {}: run `cargo bench -p xvs-bench` first",
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
