//! `sheetbridge serve`: every enabled pair of the config file on its
//! schedule, with health, readiness and metrics endpoints ([`crate::serve`]).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use sheetbridge_core::ErrorKind;
use sheetbridge_google_sheets::SheetsClient;
use sheetbridge_postgres::{PgConfig, PgConn};
use tokio::sync::Mutex;

use crate::cli::DbArgs;
use crate::config::{ConfigFile, LogFormat, PairConfig};
use crate::endpoint::SheetLocation;
use crate::engine::{self, PairReport, SheetSide, SyncOptions};
use crate::exit::Code;
use crate::serve::{Daemon, PairRunner, PairSpec, RunOutcome, RunStatus, ServeOptions};

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub db: DbArgs,

    /// Where /healthz, /readyz and /metrics are served (default: [serve] listen, else 127.0.0.1:9464).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,

    /// Log lines as `text` or `json` (default: [serve] log_format, else text).
    #[arg(long, value_name = "text|json", value_parser = parse_log_format)]
    pub log_format: Option<LogFormat>,

    /// Run every enabled pair once, now, and exit (1 when a pair failed).
    #[arg(long)]
    pub once: bool,
}

fn parse_log_format(text: &str) -> Result<LogFormat, String> {
    match text {
        "text" => Ok(LogFormat::Text),
        "json" => Ok(LogFormat::Json),
        other => Err(format!("`{other}` is not a log format: text or json")),
    }
}

/// Runs until SIGTERM/SIGINT (or, with `--once`, until every pair ran).
/// Logging starts here, once `[serve] log_format` is known; `log` is `--log`.
pub async fn run(args: ServeArgs, log: &str) -> anyhow::Result<Code> {
    let file = ConfigFile::locate(args.db.config.as_deref())?
        .context("serve needs a config file with [[pair]] sections (--config FILE or ./sheetbridge.toml)")?;
    let env = |name: &str| std::env::var(name).ok();
    let problems = |p: Vec<crate::config::ConfigProblem>| {
        anyhow::anyhow!("{}", p.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))
    };
    let settings = file.serve(env).map_err(problems)?;
    crate::init_logging(log, args.log_format.unwrap_or(settings.log_format));
    let pairs: Vec<PairConfig> =
        file.pairs(env).map_err(problems)?.into_iter().filter(|p| p.enabled).collect();
    if pairs.is_empty() {
        anyhow::bail!("config `{}` has no enabled [[pair]]: nothing to serve", file.path().display());
    }
    let db = DbArgs { db: args.db.db.clone(), config: Some(file.path().to_owned()) };
    let database = super::database_config(&db)?;
    let google = if pairs.iter().any(|p| matches!(p.sheet, SheetLocation::Google(_))) {
        Some(crate::google::client(Some(file.path()))?.0)
    } else {
        None
    };
    let specs = pairs.iter().map(PairSpec::from).collect();
    let runner = Arc::new(Engine::new(database.clone(), pairs, google.as_ref()));
    let options = ServeOptions {
        listen: args.listen.unwrap_or(settings.listen),
        once: args.once,
        ..ServeOptions::new(database)
    };
    let daemon = Daemon::start(runner, specs, options).await?;
    crate::serve::run_until_signal(daemon).await
}

/// The sync engine as the daemon's runner: one pass of a pair is
/// [`engine::sync_pair`] on the pair's own connection (the daemon holds the
/// pair's lock on another).
struct Engine {
    database: PgConfig,
    pairs: HashMap<String, EnginePair>,
}

struct EnginePair {
    config: PairConfig,
    /// The sheet to sync with, or why it cannot be reached (each pass reports it).
    side: Result<SheetSide, String>,
    /// Kept between passes; dropped after an error.
    conn: Mutex<Option<PgConn>>,
}

impl Engine {
    fn new(database: PgConfig, pairs: Vec<PairConfig>, google: Option<&SheetsClient>) -> Engine {
        let pairs = pairs
            .into_iter()
            .map(|config| {
                let side = engine::sheet_side(&config, google).map_err(|e| e.to_string());
                (config.name.clone(), EnginePair { config, side, conn: Mutex::new(None) })
            })
            .collect();
        Engine { database, pairs }
    }
}

impl PairRunner for Engine {
    async fn run(&self, pair: &str) -> RunOutcome {
        let Some(p) = self.pairs.get(pair) else {
            return RunOutcome::failed(format!("no pair `{pair}` in the config"));
        };
        let side = match &p.side {
            Ok(side) => side,
            Err(e) => return RunOutcome::failed(e),
        };
        let mut slot = p.conn.lock().await;
        if slot.as_ref().is_some_and(|c| c.client().is_closed()) {
            *slot = None;
        }
        let conn = match &mut *slot {
            Some(conn) => conn,
            None => match sheetbridge_postgres::connect(&self.database).await {
                Ok(conn) => slot.insert(conn),
                Err(e) => return RunOutcome::failed(e),
            },
        };
        let result = engine::sync_pair_report(conn, &p.config, side, &SyncOptions::default()).await;
        match result {
            // A pass an error stopped after it wrote part of its work is partial, not failed.
            Ok((report, None)) => outcome(&report),
            Ok((report, Some(_))) if report.status == "partial" => outcome(&report),
            Ok((_, Some(e))) | Err(e) => {
                if e.kind() == &ErrorKind::Retryable {
                    *slot = None;
                }
                if e.kind() == &ErrorKind::Locked {
                    RunOutcome::skipped(e)
                } else {
                    RunOutcome::failed(e)
                }
            }
        }
    }
}

fn outcome(r: &PairReport) -> RunOutcome {
    let status = match r.status {
        "success" => RunStatus::Success,
        "partial" => RunStatus::Partial,
        "skipped" => RunStatus::Skipped,
        _ => RunStatus::Failed,
    };
    RunOutcome {
        status,
        cells_to_table: r.to_table.cells(),
        cells_to_sheet: r.to_sheet.cells(),
        conflicts: r.conflicts.len() as u64,
        held_deletes: r.held_deletes,
        api_calls: r.api_calls,
        quota_wait: Duration::from_secs_f64(r.quota_wait_seconds.max(0.0)),
        error: r.error.clone(),
    }
}
