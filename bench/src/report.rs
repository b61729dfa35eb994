//! The figures table of bench/README.md, from criterion's saved results:
//! for every benchmark under `target/criterion`, the median time per
//! iteration (one packet), the same minus its group's `frame_copy`
//! baseline, and whether that meets the per-packet budget of DESIGN.md
//! "Performance" (established ≤ 50 ns, new flow ≤ 150 ns; one core at
//! 10 GbE line rate of 64-byte frames has 67.2 ns per packet).
//!
//! On a shared machine other work inflates whole runs, so the suite can be
//! run several times into named criterion baselines (`-- --save-baseline
//! run1`, ...); the table then shows, per benchmark, the lowest of the
//! runs' medians (the run least disturbed) and the range across runs.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde_yaml::Value;

/// Budget for a packet of an established flow (ns).
pub const ESTABLISHED_BUDGET_NS: f64 = 50.0;
/// Budget for the first packet of a new flow (ns).
pub const NEW_FLOW_BUDGET_NS: f64 = 150.0;
/// 10 GbE, 64-byte frames (84 bytes on the wire with preamble and gap):
/// 14.88 Mpps, 67.2 ns per packet on one core.
pub const LINE_RATE_NS: f64 = 67.2;
/// The id suffix of each group's copy-only baseline.
pub const COPY_BASELINE: &str = "frame_copy";

/// Why criterion's results could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not criterion's JSON: {source}")]
    Parse {
        path: PathBuf,
        #[source]
        source: serde_yaml::Error,
    },
    #[error("{path}: no {field} (is this criterion's output?)")]
    Missing { path: PathBuf, field: &'static str },
}

/// One benchmark's figure.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// criterion's full id, `group/function`.
    pub id: String,
    /// The lowest of the runs' median times per iteration, ns.
    pub median_ns: f64,
    /// The highest of the runs' medians, ns.
    pub worst_ns: f64,
    /// How many runs (baselines) the figure is taken from.
    pub runs: usize,
}

impl Row {
    /// A benchmark with one run.
    pub fn single(id: &str, median_ns: f64) -> Row {
        Row {
            id: id.to_owned(),
            median_ns,
            worst_ns: median_ns,
            runs: 1,
        }
    }

    pub fn group(&self) -> &str {
        self.id.split('/').next().unwrap_or("")
    }

    pub fn is_baseline(&self) -> bool {
        self.id.ends_with(COPY_BASELINE)
    }

    /// The budget that applies to this benchmark, if any.
    pub fn budget_ns(&self) -> Option<f64> {
        if self.is_baseline() {
            return None;
        }
        match self.group() {
            "established" | "table_size" => Some(ESTABLISHED_BUDGET_NS),
            "new_flow" => Some(NEW_FLOW_BUDGET_NS),
            _ => None,
        }
    }
}

fn read(path: &Path) -> Result<Value, ReportError> {
    let text = std::fs::read_to_string(path).map_err(|source| ReportError::Io {
        path: path.to_owned(),
        source,
    })?;
    serde_yaml::from_str(&text).map_err(|source| ReportError::Parse {
        path: path.to_owned(),
        source,
    })
}

/// The median point estimate in an `estimates.json` document (ns).
pub fn median_of(estimates: &Value) -> Option<f64> {
    estimates.get("median")?.get("point_estimate")?.as_f64()
}

/// The full id in a `benchmark.json` document.
pub fn full_id_of(benchmark: &Value) -> Option<String> {
    benchmark.get("full_id")?.as_str().map(str::to_owned)
}

/// Every benchmark saved under `dir` (criterion's output directory) in
/// any of the named `baselines` (criterion's own latest run is `new`),
/// one row per benchmark with the best and worst median over them,
/// sorted by id.
pub fn collect(dir: &Path, baselines: &[String]) -> Result<Vec<Row>, ReportError> {
    let mut medians: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    walk(dir, baselines, &mut medians)?;
    Ok(medians
        .into_iter()
        .map(|(id, m)| Row {
            id,
            median_ns: m.iter().copied().fold(f64::INFINITY, f64::min),
            worst_ns: m.iter().copied().fold(0.0, f64::max),
            runs: m.len(),
        })
        .collect())
}

fn walk(
    dir: &Path,
    baselines: &[String],
    medians: &mut BTreeMap<String, Vec<f64>>,
) -> Result<(), ReportError> {
    let io = |source| ReportError::Io {
        path: dir.to_owned(),
        source,
    };
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        if !path.is_dir() {
            continue;
        }
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let bench = path.join("benchmark.json");
        let est = path.join("estimates.json");
        if bench.is_file() && est.is_file() {
            if baselines.iter().any(|b| b == name) {
                let id = full_id_of(&read(&bench)?).ok_or(ReportError::Missing {
                    path: bench,
                    field: "full_id",
                })?;
                let median = median_of(&read(&est)?).ok_or(ReportError::Missing {
                    path: est,
                    field: "median.point_estimate",
                })?;
                medians.entry(id).or_default().push(median);
            }
        } else if name != "report" {
            walk(&path, baselines, medians)?;
        }
    }
    Ok(())
}

/// The Markdown table of `rows`: median, median minus the group's copy
/// baseline, budget, and verdict (judged on the net figure: in the
/// director the frame is already in the UMEM, nothing copies it).
pub fn render(rows: &[Row]) -> String {
    let baselines: BTreeMap<&str, f64> = rows
        .iter()
        .filter(|r| r.is_baseline())
        .map(|r| (r.group(), r.median_ns))
        .collect();
    let mut out = String::from(
        "| benchmark | median ns/packet | range over runs | minus copy | budget | meets budget | share of 67.2 ns |\n\
         |---|---:|---:|---:|---:|---|---:|\n",
    );
    for r in rows {
        let copy = if r.is_baseline() {
            None
        } else {
            baselines.get(r.group()).copied()
        };
        let net = copy.map_or(r.median_ns, |c| r.median_ns - c);
        let net_text = copy.map_or_else(|| "—".to_owned(), |_| format!("{net:.1}"));
        let (budget, verdict) = match r.budget_ns() {
            Some(b) if net <= b => (format!("≤ {b:.0}"), "yes"),
            Some(b) => (format!("≤ {b:.0}"), "**no**"),
            None => ("—".to_owned(), "—"),
        };
        let share = if r.is_baseline() {
            "—".to_owned()
        } else {
            format!("{:.0} %", 100.0 * net / LINE_RATE_NS)
        };
        // Writing to a String cannot fail.
        let range = if r.runs > 1 {
            format!("{:.1}–{:.1} ({})", r.median_ns, r.worst_ns, r.runs)
        } else {
            "—".to_owned()
        };
        let _ = writeln!(
            out,
            "| `{}` | {:.1} | {} | {} | {} | {} | {} |",
            r.id, r.median_ns, range, net_text, budget, verdict, share
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A real estimates.json written by criterion 0.8 (numbers shortened).
    const ESTIMATES: &str = r#"{"mean":{"confidence_interval":{"confidence_level":0.95,"lower_bound":31.47,"upper_bound":32.03},"point_estimate":31.72,"standard_error":0.14},"median":{"confidence_interval":{"confidence_level":0.95,"lower_bound":31.38,"upper_bound":31.81},"point_estimate":31.569833333333335,"standard_error":0.11},"median_abs_dev":{"confidence_interval":{"confidence_level":0.95,"lower_bound":0.2,"upper_bound":0.6},"point_estimate":0.41,"standard_error":0.1},"slope":null,"std_dev":{"confidence_interval":{"confidence_level":0.95,"lower_bound":0.4,"upper_bound":0.9},"point_estimate":0.7,"standard_error":0.1}}"#;
    const BENCHMARK: &str = r#"{"group_id":"established","function_id":"dr_in","value_str":null,"throughput":{"Elements":1},"full_id":"established/dr_in","directory_name":"established/dr_in","title":"established/dr_in"}"#;

    #[test]
    fn reads_criterion_json_median_and_id() {
        let est: Value = serde_yaml::from_str(ESTIMATES).expect("JSON parses as YAML");
        let median = median_of(&est).expect("median");
        assert!((median - 31.569_833).abs() < 1e-5, "{median}");
        let b: Value = serde_yaml::from_str(BENCHMARK).expect("JSON parses as YAML");
        assert_eq!(full_id_of(&b).as_deref(), Some("established/dr_in"));
        // Exponent notation, as serde_json writes very small or large floats.
        let tiny: Value = serde_yaml::from_str(r#"{"median":{"point_estimate":1.5e2}}"#)
            .expect("exponent parses");
        assert_eq!(median_of(&tiny), Some(150.0));
    }

    #[test]
    fn render_subtracts_the_group_copy_baseline_and_judges_the_net_figure() {
        let row = Row::single;
        let rows = [
            row("established/dr_in", 45.0),
            row("established/frame_copy", 4.0),
            row("established/tun_in", 56.0),
            row("new_flow/frame_copy", 6.0),
            row("new_flow/rr", 150.0),
            row("table_size/1k", 30.0),
        ];
        let t = render(&rows);
        assert!(
            t.contains("| `established/dr_in` | 45.0 | — | 41.0 | ≤ 50 | yes | 61 % |"),
            "{t}"
        );
        assert!(
            t.contains("| `established/tun_in` | 56.0 | — | 52.0 | ≤ 50 | **no** |"),
            "{t}"
        );
        assert!(
            t.contains("| `established/frame_copy` | 4.0 | — | — | — | — | — |"),
            "{t}"
        );
        assert!(
            t.contains("| `new_flow/rr` | 150.0 | — | 144.0 | ≤ 150 | yes |"),
            "{t}"
        );
        // No baseline in the group: judged on the raw figure.
        assert!(
            t.contains("| `table_size/1k` | 30.0 | — | — | ≤ 50 | yes |"),
            "{t}"
        );
    }

    #[test]
    fn collect_reports_a_missing_directory_as_an_error() {
        let e = collect(Path::new("/nonexistent/criterion"), &["new".into()]).expect_err("no dir");
        assert!(e.to_string().contains("/nonexistent/criterion"), "{e}");
    }

    /// Write one benchmark's saved result as criterion lays it out.
    fn save(root: &Path, id: &str, baseline: &str, median: f64) {
        let dir = root.join(id).join(baseline);
        std::fs::create_dir_all(&dir).expect("temp dir");
        let bench = format!(r#"{{"group_id":"g","function_id":"f","full_id":"{id}"}}"#);
        std::fs::write(dir.join("benchmark.json"), bench).expect("write");
        let est = format!(r#"{{"median":{{"point_estimate":{median}}}}}"#);
        std::fs::write(dir.join("estimates.json"), est).expect("write");
    }

    #[test]
    fn collect_takes_the_best_and_worst_median_over_the_named_baselines() {
        let root = std::env::temp_dir().join(format!("xvs-bench-report-{}", std::process::id()));
        save(&root, "established/dr_in", "run1", 50.0);
        save(&root, "established/dr_in", "run2", 40.0);
        save(&root, "established/dr_in", "new", 99.0);
        save(&root, "new_flow/rr", "run1", 120.0);
        let runs = ["run1".to_owned(), "run2".to_owned()];
        let rows = collect(&root, &runs).expect("collect");
        let _ = std::fs::remove_dir_all(&root);
        assert_eq!(
            rows,
            vec![
                Row {
                    id: "established/dr_in".into(),
                    median_ns: 40.0,
                    worst_ns: 50.0,
                    runs: 2
                },
                Row::single("new_flow/rr", 120.0),
            ]
        );
        let t = render(&rows);
        assert!(t.contains("| 40.0 | 40.0–50.0 (2) |"), "{t}");
    }
}
