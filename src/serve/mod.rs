//! `sheetbridge serve`: every pair on its schedule, as a long-running service.
//!
//! The daemon runs each pair on a task of its own. A pair's pass is whatever
//! a [`PairRunner`] does (the sync engine in the product, a fake in tests);
//! the daemon decides *when* it runs and makes sure it never runs twice at
//! once:
//!
//! - in this process, because a pair's passes run one after another on its task;
//! - across processes and machines, because each pass first takes the pair's
//!   Postgres advisory lock ([`sheetbridge_postgres::lock`]) on a connection
//!   of its own and holds it for the whole pass; a replica that finds the lock
//!   taken reports the turn as [`RunStatus::Skipped`].
//!
//! A pair is due at its schedule ([`Schedule`]; an interval's first pass at start), early when its table changes
//! (LISTEN/NOTIFY, debounced: after [`ServeOptions::debounce`] without a
//! further change one run covers the whole burst), and after a failure at the end
//! of its backoff instead (exponential per pair, capped, reset by a success). A pass that
//! fails or panics is logged and counted and the loop goes on; other pairs
//! never wait for it. [`Daemon::stop`] lets running passes finish and starts
//! no new ones.
//!
//! The daemon also serves `/healthz`, `/readyz` (the database reached and
//! migrated, the change listener connected) and `/metrics` (Prometheus text
//! format, [`metrics`]) over HTTP.
//!
//! ```no_run
//! use std::sync::Arc;
//! use std::time::Duration;
//! use sheetbridge::config::Schedule;
//! use sheetbridge::serve::{Daemon, PairRunner, PairSpec, RunOutcome, ServeOptions};
//! use sheetbridge_core::TableName;
//!
//! struct Engine;
//! impl PairRunner for Engine {
//!     async fn run(&self, pair: &str) -> RunOutcome {
//!         RunOutcome::success()
//!     }
//! }
//!
//! # async fn start() -> anyhow::Result<()> {
//! let database = sheetbridge_postgres::PgConfig::parse("postgres://app@db/shop")?;
//! let pairs = vec![PairSpec::new("orders", Schedule::Every(Duration::from_secs(300)))
//!     .watching(TableName::new(Some("public"), "orders"))];
//! let daemon = Daemon::start(Arc::new(Engine), pairs, ServeOptions::new(database)).await?;
//! let code = sheetbridge::serve::run_until_signal(daemon).await?;
//! # Ok(())
//! # }
//! ```

mod daemon;
mod database;
mod http;
pub mod metrics;
#[cfg(test)]
mod tests;

use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sheetbridge_core::TableName;
use sheetbridge_postgres::PgConfig;

use crate::config::{PairConfig, Schedule, DEFAULT_LISTEN};

pub use daemon::{run_until_signal, Daemon, RunReport, Stopper, Trigger};

/// How a pass of a pair ended: the journal's own status (`sheetbridge.run.status`).
pub use sheetbridge_postgres::state::RunStatus;

/// Every status, in the order the metrics list them.
pub const STATUSES: [RunStatus; 4] =
    [RunStatus::Success, RunStatus::Partial, RunStatus::Failed, RunStatus::Skipped];

/// What one pass of one pair did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunOutcome {
    pub status: RunStatus,
    /// Cells written into the table.
    pub cells_to_table: u64,
    /// Cells written into the sheet.
    pub cells_to_sheet: u64,
    /// Conflicts found (and settled by the pair's policy, or held).
    pub conflicts: u64,
    /// Deletes waiting for approval after this pass (a level, not a count of this pass).
    pub held_deletes: u64,
    /// Requests made to the sheet's API (Google Sheets); 0 for a workbook.
    pub api_calls: u64,
    /// Time spent waiting for the API's quota.
    pub quota_wait: Duration,
    /// Why the pass failed or was partial or skipped, for the log.
    pub error: Option<String>,
}

impl RunOutcome {
    /// A successful pass that changed nothing.
    pub fn success() -> RunOutcome {
        RunOutcome {
            status: RunStatus::Success,
            cells_to_table: 0,
            cells_to_sheet: 0,
            conflicts: 0,
            held_deletes: 0,
            api_calls: 0,
            quota_wait: Duration::ZERO,
            error: None,
        }
    }

    /// A pass stopped by `error`.
    pub fn failed(error: impl fmt::Display) -> RunOutcome {
        RunOutcome { status: RunStatus::Failed, error: Some(error.to_string()), ..RunOutcome::success() }
    }

    /// A turn not taken, and why.
    pub fn skipped(reason: impl fmt::Display) -> RunOutcome {
        RunOutcome { status: RunStatus::Skipped, error: Some(reason.to_string()), ..RunOutcome::success() }
    }
}

/// One pass of one pair: the sync engine behind `serve`.
///
/// Contract:
/// - `run` MUST return [`RunStatus::Success`] only when the pass finished:
///   a pass that wrote some of its changes is `Partial`, one that wrote none
///   because of an error is `Failed` (with `error` set).
/// - `run` MUST be safe to call again after any outcome, or after the
///   process died in the middle of a pass: the next pass converges.
/// - `run` need not guard against concurrent passes of the same pair: the
///   daemon never starts one while another runs, in this process or (through
///   the pair's advisory lock) in any other `serve` on the same database.
/// - `run` SHOULD NOT panic; if it does, the daemon counts a failed pass and goes on.
pub trait PairRunner: Send + Sync + 'static {
    fn run(&self, pair: &str) -> impl Future<Output = RunOutcome> + Send;
}

/// When the first pass of a pair is due after the daemon starts at
/// `start`: at once for an interval, at the next matching minute for cron.
pub fn first_due(schedule: &Schedule, start: DateTime<Utc>) -> DateTime<Utc> {
    match schedule {
        Schedule::Every(_) => start,
        Schedule::Cron(_) => schedule.next_after(start),
    }
}

/// A pair as the daemon sees it.
#[derive(Debug, Clone)]
pub struct PairSpec {
    pub name: String,
    pub schedule: Schedule,
    /// The pair's table: its changes wake the pair early.
    pub table: Option<TableName>,
}

impl PairSpec {
    pub fn new(name: impl Into<String>, schedule: Schedule) -> PairSpec {
        PairSpec { name: name.into(), schedule, table: None }
    }

    /// Wakes the pair early when `table` changes.
    pub fn watching(mut self, table: TableName) -> PairSpec {
        self.table = Some(table);
        self
    }
}

impl From<&PairConfig> for PairSpec {
    fn from(pair: &PairConfig) -> PairSpec {
        PairSpec::new(pair.name.clone(), pair.schedule.clone()).watching(pair.table.clone())
    }
}

/// How this process runs (flags and the config's `[serve]`; what to sync is the pairs).
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// The database holding the `sheetbridge` schema, the pairs' locks and the change notifications.
    pub database: PgConfig,
    /// Where `/healthz`, `/readyz` and `/metrics` are served.
    pub listen: SocketAddr,
    /// A table change runs its pairs once no further change came for this long.
    pub debounce: Duration,
    /// The wait after the first failure of a pair; it doubles with each further failure.
    pub backoff: Duration,
    /// The longest wait after failures.
    pub backoff_max: Duration,
    /// The first wait before reconnecting to the database; it doubles up to `reconnect_max`.
    pub reconnect: Duration,
    pub reconnect_max: Duration,
    /// Run every pair once, now, then stop (`--once`).
    pub once: bool,
}

impl ServeOptions {
    /// The defaults: listen on 127.0.0.1:9464, 2 s debounce, backoff from
    /// 10 s to 10 min, reconnect from 0.5 s to 30 s.
    pub fn new(database: PgConfig) -> ServeOptions {
        ServeOptions {
            database,
            listen: DEFAULT_LISTEN,
            debounce: Duration::from_secs(2),
            backoff: Duration::from_secs(10),
            backoff_max: Duration::from_secs(600),
            reconnect: Duration::from_millis(500),
            reconnect_max: Duration::from_secs(30),
            once: false,
        }
    }
}

/// The wait after `failures` consecutive failures: `base · 2^(failures-1)`,
/// at most `max`; none without failures.
pub fn backoff(base: Duration, max: Duration, failures: u32) -> Duration {
    if failures == 0 {
        return Duration::ZERO;
    }
    let factor = 1u32.checked_shl(failures - 1).unwrap_or(u32::MAX);
    base.checked_mul(factor).unwrap_or(max).min(max)
}
