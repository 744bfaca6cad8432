//! `sheetbridge sync [PAIR...]`: one two-way pass over the configured pairs.

use anyhow::Context;
use clap::Args;
use sheetbridge_core::ErrorKind;
use sheetbridge_google_sheets::SheetsClient;
use sheetbridge_postgres::lock::{advisory_unlock, pair_lock_key, try_advisory_lock};

use crate::cli::DbArgs;
use crate::config::{ConfigFile, PairConfig};
use crate::endpoint::SheetLocation;
use crate::engine::{self, PairReport, SyncOptions};
use crate::exit::{Code, NeedsConfirmation};

/// One two-way pass over the pairs of the config file.
#[derive(Debug, Args)]
pub struct SyncArgs {
    #[command(flatten)]
    pub db: DbArgs,

    /// Only these pairs (default: every enabled pair).
    #[arg(value_name = "PAIR")]
    pub pairs: Vec<String>,

    /// Show the plan of each pair (cells each way, conflicts, deletes) and change nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// Run a plan that deletes more rows than the pair's max_deletes.
    #[arg(long)]
    pub yes: bool,

    /// Print the reports as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

pub async fn run(args: SyncArgs) -> anyhow::Result<Code> {
    let reports = sync(&args).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&reports)?);
    } else {
        for r in &reports {
            print!("{}", render(r));
        }
    }
    if reports.iter().any(|r| r.needs_confirmation) {
        return Err(NeedsConfirmation(
            "a pair's plan deletes more rows than it allows; nothing of it was written".into(),
        )
        .into());
    }
    Ok(exit_code(&reports))
}

/// Success when no pass failed; when some did, the code of their error if
/// they all share it (3 when every failure was bad input, say), else 1.
/// A partial pass is a failure (1).
fn exit_code(reports: &[PairReport]) -> Code {
    let codes: Vec<Code> = reports
        .iter()
        .filter_map(|r| match (r.status, &r.error_kind) {
            ("failed", Some(kind)) => Some(crate::exit::code_for_kind(kind)),
            ("failed" | "partial", _) => Some(Code::Failure),
            _ => None,
        })
        .collect();
    match codes.first() {
        None => Code::Success,
        Some(first) if codes.iter().all(|c| c == first) => *first,
        Some(_) => Code::Failure,
    }
}

/// Runs every selected pair once; a pair's failure does not stop the others.
pub async fn sync(args: &SyncArgs) -> anyhow::Result<Vec<PairReport>> {
    let file = ConfigFile::locate(args.db.config.as_deref())?
        .context("sync needs a config file with [[pair]] sections (--config FILE or ./sheetbridge.toml)")?;
    let pairs = file.pairs(|name| std::env::var(name).ok()).map_err(|problems| {
        anyhow::anyhow!("{}", problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))
    })?;
    let selected: Vec<&PairConfig> = if args.pairs.is_empty() {
        pairs.iter().filter(|p| p.enabled).collect()
    } else {
        let unknown: Vec<&String> =
            args.pairs.iter().filter(|n| !pairs.iter().any(|p| &p.name == *n)).collect();
        if !unknown.is_empty() {
            anyhow::bail!(
                "config `{}` has no pair {}",
                file.path().display(),
                unknown.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
            );
        }
        pairs.iter().filter(|p| args.pairs.contains(&p.name)).collect()
    };
    let db = DbArgs { db: args.db.db.clone(), config: Some(file.path().to_owned()) };
    let mut conn = super::connect(&db).await?;
    sheetbridge_postgres::migrate(&mut conn).await?;
    let google: Option<SheetsClient> = if selected.iter().any(|p| matches!(p.sheet, SheetLocation::Google(_)))
    {
        Some(crate::google::client(Some(file.path()))?.0)
    } else {
        None
    };
    let options = SyncOptions { dry_run: args.dry_run, allow_deletes: args.yes };
    let mut reports = Vec::new();
    for pair in selected {
        reports.push(sync_one(&mut conn, pair, google.as_ref(), &options).await);
    }
    Ok(reports)
}

/// One pair under its lock; another process running it makes this one skip.
pub async fn sync_one(
    conn: &mut sheetbridge_postgres::PgConn,
    pair: &PairConfig,
    google: Option<&SheetsClient>,
    options: &SyncOptions,
) -> PairReport {
    let failed = |pair: &PairConfig, status: &'static str, error: &sheetbridge_core::Error| PairReport {
        pair: pair.name.clone(),
        status,
        dry_run: options.dry_run,
        to_table: Default::default(),
        to_sheet: Default::default(),
        conflicts: Vec::new(),
        open_conflicts: 0,
        held_deletes: 0,
        keys_made: 0,
        needs_confirmation: false,
        wrote: false,
        api_calls: 0,
        quota_wait_seconds: 0.0,
        error: Some(error.to_string()),
        error_kind: Some(error.kind().clone()),
        seconds: 0.0,
    };
    let side = match engine::sheet_side(pair, google) {
        Ok(side) => side,
        Err(e) => return failed(pair, "failed", &e),
    };
    let key = pair_lock_key(&pair.name);
    match try_advisory_lock(conn, key).await {
        Ok(true) => {}
        Ok(false) => {
            let busy =
                sheetbridge_core::Error::new(ErrorKind::Locked, "another sheetbridge is syncing this pair");
            return failed(pair, "skipped", &busy);
        }
        Err(e) => return failed(pair, "failed", &e),
    }
    // The report of a pass an error stopped keeps what it planned and wrote, and its status.
    let result = engine::sync_pair_report(conn, pair, &side, options).await;
    let _ = advisory_unlock(conn, key).await;
    match result {
        Ok((report, _)) => report,
        Err(e) => {
            let status = if e.kind() == &ErrorKind::Locked { "skipped" } else { "failed" };
            failed(pair, status, &e)
        }
    }
}

/// A pair's report as a person reads it.
pub fn render(r: &PairReport) -> String {
    let mut out = format!(
        "pair `{}`: {}{}\n",
        r.pair,
        if r.dry_run { "plan (dry run, nothing written)" } else { r.status },
        if r.dry_run { String::new() } else { format!(" in {:.1} s", r.seconds) }
    );
    let side = |name: &str, c: &engine::SideCounts| {
        format!(
            "  to the {name}: {} inserts, {} cells in {} rows updated, {} deletes{}\n",
            c.inserts,
            c.updated_cells,
            c.updated_rows,
            c.deletes,
            if c.skipped_conflicts > 0 {
                format!(" ({} rows changed meanwhile, left for the next run)", c.skipped_conflicts)
            } else {
                String::new()
            }
        )
    };
    out.push_str(&side("table", &r.to_table));
    out.push_str(&side("sheet", &r.to_sheet));
    if r.keys_made > 0 {
        out.push_str(&format!("  {} new sheet rows got keys from the table\n", r.keys_made));
    }
    if !r.conflicts.is_empty() {
        out.push_str(&format!(
            "  {} conflicts ({} open, see `sheetbridge status`):\n",
            r.conflicts.len(),
            r.open_conflicts
        ));
        for c in r.conflicts.iter().take(20) {
            out.push_str(&format!("    {c}\n"));
        }
    }
    if r.held_deletes > 0 {
        out.push_str(&format!("  {} deletions held for approval (`sheetbridge resolve`)\n", r.held_deletes));
    }
    if r.api_calls > 0 {
        out.push_str(&format!("  {} Google Sheets API calls\n", r.api_calls));
    }
    if let Some(e) = &r.error {
        out.push_str(&format!("  error: {e}\n"));
    }
    out
}
