//! The daemon's counters, written in the Prometheus text exposition format
//! (version 0.0.4) by hand: a few families, a pair label, nothing more.
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `sheetbridge_up` | gauge | |
//! | `sheetbridge_ready` | gauge | |
//! | `sheetbridge_runs_total` | counter | `pair`, `status` |
//! | `sheetbridge_run_duration_seconds` | histogram | `pair` |
//! | `sheetbridge_cells_synced_total` | counter | `pair`, `direction` (`to_table`, `to_sheet`) |
//! | `sheetbridge_conflicts_total` | counter | `pair` |
//! | `sheetbridge_held_deletes` | gauge | `pair` |
//! | `sheetbridge_api_calls_total` | counter | `pair` |
//! | `sheetbridge_quota_wait_seconds_total` | counter | `pair` |
//! | `sheetbridge_consecutive_failures` | gauge | `pair` |
//! | `sheetbridge_last_success_timestamp_seconds` | gauge | `pair` (once a pass succeeded) |

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use super::{RunOutcome, RunStatus, STATUSES};

/// Upper bounds (seconds) of the run duration histogram's buckets.
pub const DURATION_BUCKETS: [f64; 12] = [0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0];

/// A per-pair family: name, type, help, the value (none: no sample).
type Family = (&'static str, &'static str, &'static str, fn(&PairMetrics) -> Option<f64>);

#[derive(Debug, Default, Clone)]
struct PairMetrics {
    /// Passes by status, in the order of [`STATUSES`].
    runs: [u64; STATUSES.len()],
    /// Non-cumulative counts per bucket; the last is +Inf.
    buckets: [u64; DURATION_BUCKETS.len() + 1],
    duration_sum: f64,
    cells_to_table: u64,
    cells_to_sheet: u64,
    conflicts: u64,
    held_deletes: u64,
    api_calls: u64,
    quota_wait: f64,
    consecutive_failures: u64,
    last_success: Option<f64>,
}

/// Every pair's numbers.
#[derive(Debug, Default)]
pub struct Metrics {
    pairs: Mutex<BTreeMap<String, PairMetrics>>,
}

impl Metrics {
    /// Metrics with a zero series for each of `pairs`.
    pub fn new<'a>(pairs: impl IntoIterator<Item = &'a str>) -> Metrics {
        let map = pairs.into_iter().map(|p| (p.to_owned(), PairMetrics::default())).collect();
        Metrics { pairs: Mutex::new(map) }
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<String, PairMetrics>> {
        // The map holds plain numbers: one a panicking writer left behind is still sound.
        self.pairs.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Counts a pass of `pair` that took `duration` and ended at `finished` (Unix seconds).
    pub fn record(
        &self,
        pair: &str,
        outcome: &RunOutcome,
        duration: Duration,
        consecutive_failures: u32,
        finished: f64,
    ) {
        let mut pairs = self.lock();
        let m = pairs.entry(pair.to_owned()).or_default();
        if let Some(i) = STATUSES.iter().position(|s| *s == outcome.status) {
            m.runs[i] += 1;
        }
        m.consecutive_failures = u64::from(consecutive_failures);
        if outcome.status == RunStatus::Skipped {
            return;
        }
        let seconds = duration.as_secs_f64();
        let bucket = DURATION_BUCKETS.iter().position(|b| seconds <= *b).unwrap_or(DURATION_BUCKETS.len());
        m.buckets[bucket] += 1;
        m.duration_sum += seconds;
        m.cells_to_table += outcome.cells_to_table;
        m.cells_to_sheet += outcome.cells_to_sheet;
        m.conflicts += outcome.conflicts;
        if outcome.status != RunStatus::Failed {
            // A failed pass does not know how many are held.
            m.held_deletes = outcome.held_deletes;
        }
        m.api_calls += outcome.api_calls;
        m.quota_wait += outcome.quota_wait.as_secs_f64();
        if outcome.status == RunStatus::Success {
            m.last_success = Some(finished);
        }
    }

    /// The exposition text; `ready` is the daemon's readiness.
    pub fn render(&self, ready: bool) -> String {
        let pairs = self.lock();
        let mut out = String::new();
        family(&mut out, "sheetbridge_up", "gauge", "1 while the daemon runs.");
        sample(&mut out, "sheetbridge_up", &[], 1.0);
        family(
            &mut out,
            "sheetbridge_ready",
            "gauge",
            "1 when the database is reached, migrated and listened to.",
        );
        sample(&mut out, "sheetbridge_ready", &[], if ready { 1.0 } else { 0.0 });

        family(&mut out, "sheetbridge_runs_total", "counter", "Passes of a pair, by how they ended.");
        for (pair, m) in pairs.iter() {
            for (status, n) in STATUSES.iter().zip(m.runs) {
                sample(
                    &mut out,
                    "sheetbridge_runs_total",
                    &[("pair", pair), ("status", status.as_str())],
                    n as f64,
                );
            }
        }

        let name = "sheetbridge_run_duration_seconds";
        family(&mut out, name, "histogram", "How long passes took (skipped turns not included).");
        for (pair, m) in pairs.iter() {
            let mut cumulative = 0;
            for (i, count) in m.buckets.iter().enumerate() {
                cumulative += count;
                let le = DURATION_BUCKETS.get(i).map_or("+Inf".to_owned(), |b| b.to_string());
                sample(
                    &mut out,
                    &format!("{name}_bucket"),
                    &[("pair", pair), ("le", &le)],
                    cumulative as f64,
                );
            }
            sample(&mut out, &format!("{name}_sum"), &[("pair", pair)], m.duration_sum);
            sample(&mut out, &format!("{name}_count"), &[("pair", pair)], cumulative as f64);
        }

        let name = "sheetbridge_cells_synced_total";
        family(&mut out, name, "counter", "Cells written, by the side they were written to.");
        for (pair, m) in pairs.iter() {
            sample(&mut out, name, &[("pair", pair), ("direction", "to_table")], m.cells_to_table as f64);
            sample(&mut out, name, &[("pair", pair), ("direction", "to_sheet")], m.cells_to_sheet as f64);
        }

        let per_pair: [Family; 6] = [
            ("sheetbridge_conflicts_total", "counter", "Conflicts found.", |m| Some(m.conflicts as f64)),
            ("sheetbridge_held_deletes", "gauge", "Deletes waiting for approval after the last pass.", |m| {
                Some(m.held_deletes as f64)
            }),
            ("sheetbridge_api_calls_total", "counter", "Requests made to the sheet's API.", |m| {
                Some(m.api_calls as f64)
            }),
            ("sheetbridge_quota_wait_seconds_total", "counter", "Time spent waiting for API quota.", |m| {
                Some(m.quota_wait)
            }),
            (
                "sheetbridge_consecutive_failures",
                "gauge",
                "Failed or partial passes since the last success.",
                |m| Some(m.consecutive_failures as f64),
            ),
            (
                "sheetbridge_last_success_timestamp_seconds",
                "gauge",
                "When the last successful pass ended (Unix time).",
                |m| m.last_success,
            ),
        ];
        for (name, kind, help, value) in per_pair {
            family(&mut out, name, kind, help);
            for (pair, m) in pairs.iter() {
                if let Some(v) = value(m) {
                    sample(&mut out, name, &[("pair", pair)], v);
                }
            }
        }
        out
    }
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    // Writing to a String cannot fail.
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

fn sample(out: &mut String, name: &str, labels: &[(&str, &str)], value: f64) {
    out.push_str(name);
    if !labels.is_empty() {
        out.push('{');
        for (i, (label, v)) in labels.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(label);
            out.push_str("=\"");
            out.push_str(&escape_label(v));
            out.push('"');
        }
        out.push('}');
    }
    let _ = writeln!(out, " {}", format_value(value));
}

/// A label value as the format wants it: `\`, `"` and newlines escaped.
pub fn escape_label(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

fn format_value(v: f64) -> String {
    if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.to_owned()
    } else if v.is_nan() {
        "NaN".to_owned()
    } else {
        // Rust prints whole floats without a fraction (`3`), which the format accepts.
        v.to_string()
    }
}
