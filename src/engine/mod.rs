//! One sync pass of one pair: read both sides and the base, merge, write the
//! table, then the sheet, then the base, and journal the run.
//!
//! The order is DESIGN.md's: the table's changes in one transaction, each
//! update guarded by the values read (a concurrent application write is left
//! alone and the row retried next run); the sheet's in as few writes as
//! possible; the base last, and only for rows both sides now hold. A crash at
//! any point leaves a state the next pass converges from: a side written but
//! not the base reads as both sides having changed to the same value, which
//! is agreement. Rows a person added to the sheet with an empty key get keys
//! from the table's default *before* anything else is written, and those keys
//! go into the sheet first, so a crash can never insert them twice.

mod sheet;
mod table;

/// Aborts the process here when `SHEETBRIDGE_FAILPOINT` names `step` (with the
/// `failpoints` feature only): the tests of crash safety kill a sync at every
/// step this way, as a `kill -9` would, and check that the next pass converges.
/// `SHEETBRIDGE_PAUSEPOINT=<step>:<file>` instead makes the pass create `file` at that
/// step and wait until it is removed, so a test can act (write to the table, say) in
/// the middle of a pass.
fn failpoint(step: &str) {
    #[cfg(feature = "failpoints")]
    {
        if std::env::var("SHEETBRIDGE_FAILPOINT").ok().as_deref() == Some(step) {
            std::process::abort();
        }
        if let Ok(pause) = std::env::var("SHEETBRIDGE_PAUSEPOINT") {
            if let Some((at, file)) = pause.split_once(':') {
                if at == step && std::fs::write(file, step).is_ok() {
                    while std::path::Path::new(file).exists() {
                        std::thread::sleep(std::time::Duration::from_millis(20));
                    }
                }
            }
        }
    }
    #[cfg(not(feature = "failpoints"))]
    let _ = step;
}

use std::collections::{HashMap, HashSet};

use serde::Serialize;
use sheetbridge_core::merge::{self, Conflicted, Direction, MergeConflict, MergePlan, Resolution};
use sheetbridge_core::{
    ApplyOptions, ApplyReport, ChangeSet, Error, ErrorKind, Key, OnConflict, TableSchema, Target, Value,
};
use sheetbridge_google_sheets::{ExportOptions, SheetRef, SheetsClient, Tab};
use sheetbridge_postgres::state::{self, ConflictRecord, RunStatus};
use sheetbridge_postgres::PgConn;
use sheetbridge_xlsx::RewriteOptions;

pub use sheet::{SheetSide, SheetSnapshot};

use crate::config::PairConfig;
use crate::endpoint::SheetLocation;

/// How a pass runs.
#[derive(Debug, Clone, Default)]
pub struct SyncOptions {
    /// Plan only: read both sides, merge, report; write nothing.
    pub dry_run: bool,
    /// Run even when the plan deletes more rows than the pair allows.
    pub allow_deletes: bool,
}

/// What a pass did (or, dry, would do).
#[derive(Debug, Clone, Serialize)]
pub struct PairReport {
    pub pair: String,
    pub status: &'static str,
    pub dry_run: bool,
    pub to_table: SideCounts,
    pub to_sheet: SideCounts,
    /// Conflicts found, settled or left open, described for a person.
    pub conflicts: Vec<String>,
    pub open_conflicts: u64,
    pub held_deletes: u64,
    /// Rows given keys from the table's default.
    pub keys_made: u64,
    /// The plan deletes more rows than the pair allows: nothing was written; run it with --yes.
    pub needs_confirmation: bool,
    /// Something was written (keys into the sheet, the table, the sheet): a pass an error
    /// stops after that is partial, not failed.
    #[serde(skip)]
    pub wrote: bool,
    /// Sheets API requests this pass made (retries included), counted apart
    /// from other passes that share the client.
    pub api_calls: u64,
    /// Seconds this pass waited for the credential's API quota.
    pub quota_wait_seconds: f64,
    pub error: Option<String>,
    /// What kind of error stopped the pass, for the exit code.
    #[serde(skip)]
    pub error_kind: Option<ErrorKind>,
    pub seconds: f64,
}

/// Changes written to (or planned for) one side.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SideCounts {
    pub inserts: u64,
    pub updated_rows: u64,
    pub updated_cells: u64,
    pub deletes: u64,
    /// Rows that changed under the pass (written meanwhile); left for the next pass.
    pub skipped_conflicts: u64,
}

impl SideCounts {
    fn planned(c: &ChangeSet) -> SideCounts {
        SideCounts {
            inserts: c.inserts.len() as u64,
            updated_rows: c.updates.len() as u64,
            updated_cells: c.updated_cells() as u64,
            deletes: c.deletes.len() as u64,
            skipped_conflicts: 0,
        }
    }

    fn applied(r: &ApplyReport) -> SideCounts {
        SideCounts {
            inserts: r.inserted,
            updated_rows: r.updated_rows,
            updated_cells: r.updated_cells,
            deletes: r.deleted,
            skipped_conflicts: r.conflicts.len() as u64,
        }
    }

    pub fn cells(&self) -> u64 {
        self.updated_cells + self.inserts + self.deletes
    }
}

/// The sheet side of `pair` (a Google client is needed for a Google Sheet).
pub fn sheet_side(pair: &PairConfig, google: Option<&SheetsClient>) -> Result<SheetSide, Error> {
    match &pair.sheet {
        SheetLocation::Workbook(path) => {
            let tab = match &pair.tab {
                Tab::Name(n) => n.clone(),
                _ => pair.table.name.clone(),
            };
            Ok(SheetSide::Workbook { path: path.clone(), tab })
        }
        SheetLocation::Google(sheet) => {
            let client = google.ok_or_else(|| {
                Error::new(ErrorKind::Unauthorized, format!("pair `{}`: no Google credential", pair.name))
            })?;
            let sheet = match &pair.tab {
                Tab::First => sheet.clone(),
                tab => SheetRef { spreadsheet_id: sheet.spreadsheet_id.clone(), tab: tab.clone() },
            };
            Ok(SheetSide::Google { client: client.clone(), sheet })
        }
    }
}

/// One pass of `pair`. The caller holds the pair's lock. Errors that stop the
/// pass come back as `Err` after the journal says `failed`; a pass that wrote
/// some of its changes is journaled `partial` (see [`sync_pair_report`]).
pub async fn sync_pair(
    conn: &mut PgConn,
    pair: &PairConfig,
    side: &SheetSide,
    options: &SyncOptions,
) -> Result<PairReport, Error> {
    let (report, error) = sync_pair_report(conn, pair, side, options).await?;
    match error {
        Some(e) => Err(e),
        None => Ok(report),
    }
}

/// [`sync_pair`], with the report also for a pass an error stopped: its
/// `status` says whether it wrote part of its work (`partial`) or nothing
/// (`failed`, `skipped`). `Err` only when the journal itself could not be written.
pub async fn sync_pair_report(
    conn: &mut PgConn,
    pair: &PairConfig,
    side: &SheetSide,
    options: &SyncOptions,
) -> Result<(PairReport, Option<Error>), Error> {
    let started = std::time::Instant::now();
    // Counters of this pass's own: other passes may use the same client meanwhile.
    let side = &side.counted();
    let run_id = if options.dry_run {
        None
    } else {
        state::close_abandoned_runs(conn.client(), &pair.name).await?;
        Some(state::start_run(conn.client(), &pair.name, "sync").await?)
    };
    let mut report = PairReport {
        pair: pair.name.clone(),
        status: "success",
        dry_run: options.dry_run,
        to_table: SideCounts::default(),
        to_sheet: SideCounts::default(),
        conflicts: Vec::new(),
        open_conflicts: 0,
        held_deletes: 0,
        keys_made: 0,
        needs_confirmation: false,
        wrote: false,
        api_calls: 0,
        quota_wait_seconds: 0.0,
        error: None,
        error_kind: None,
        seconds: 0.0,
    };
    let result = pass(conn, pair, side, options, run_id, &mut report).await;
    if let SheetSide::Google { client, .. } = side {
        let stats = client.stats();
        report.api_calls = stats.calls;
        report.quota_wait_seconds = stats.quota_wait.as_secs_f64();
    }
    report.seconds = started.elapsed().as_secs_f64();
    let status = match &result {
        Ok(status) => *status,
        Err(_) if report.wrote => RunStatus::Partial,
        Err(e) if e.kind() == &ErrorKind::Locked => RunStatus::Skipped,
        Err(_) => RunStatus::Failed,
    };
    report.status = status.as_str();
    if let Err(e) = &result {
        report.error = Some(e.to_string());
        report.error_kind = Some(e.kind().clone());
    }
    if let Some(id) = run_id {
        let counts = serde_json::json!({
            "to_table": report.to_table, "to_sheet": report.to_sheet,
            "conflicts": report.conflicts.len(), "open_conflicts": report.open_conflicts,
            "held_deletes": report.held_deletes, "keys_made": report.keys_made,
            "api_calls": report.api_calls, "quota_wait_seconds": report.quota_wait_seconds,
            "seconds": report.seconds,
        });
        state::finish_run(conn.client(), id, status, &counts, report.error.as_deref()).await?;
    }
    Ok((report, result.err()))
}

async fn pass(
    conn: &mut PgConn,
    pair: &PairConfig,
    side: &SheetSide,
    options: &SyncOptions,
    run_id: Option<i64>,
    report: &mut PairReport,
) -> Result<RunStatus, Error> {
    let label = side.label();
    // The table's columns the pair syncs, and its key.
    let described = conn.describe_table(&pair.table).await?;
    let columns: Vec<String> =
        described.columns.iter().filter(|c| pair.selects(&c.name)).map(|c| c.name.clone()).collect();
    let mut schema = table::schema(conn, &pair.table, &columns, &pair.key).await?;
    for column in &mut schema.columns {
        if pair.read_only.contains(&column.name) {
            column.read_only = true;
        }
    }
    let mut sheet = side.read(&schema).await?;
    if !sheet.exists && state::has_base(conn.client(), &pair.name).await? {
        return Err(Error::new(
            ErrorKind::NotFound,
            format!(
                "pair `{}`: {label} is gone, but rows were synced with it; nothing was deleted from `{}`. \
                 Restore the sheet, or forget the pair's state to start again",
                pair.name, pair.table
            ),
        ));
    }

    // Rows typed into the sheet without a key: keys from the table, into the sheet first.
    let settings = pair.merge_settings();
    let takes_sheet_rows = settings.direction != Direction::ToSheet;
    if !sheet.keyless.is_empty() && takes_sheet_rows && !options.dry_run {
        let keys = table::make_keys(conn, &schema, sheet.keyless.len()).await?;
        let assigned = assign_keys(side, &schema, &mut sheet, keys).await?;
        report.keys_made = assigned;
        report.wrote |= assigned > 0;
        failpoint("keys_written");
    }

    // A person's decisions (`sheetbridge resolve`) since the last pass.
    let decisions = state::pending_decisions(conn.client(), &pair.name).await?;
    let decided: HashSet<Key> = decisions
        .iter()
        .filter_map(|d| match d {
            state::Decision::Conflict { key, .. } | state::Decision::HeldDelete { key, .. } => {
                state::parse_key(&schema, key).ok()
            }
        })
        .collect();

    // The table and the base are streamed past the sheet: a row that reads the
    // same on all three sides needs nothing, so only rows that differ somewhere
    // are kept for the merge (memory follows the changes, not the table).
    let sheet_count = sheet.rows.len();
    let (table_rows, mut base, unchanged, table_count) =
        narrow(conn, pair, &schema, &columns, &mut sheet.rows, &decided).await?;
    let unchanged_rows = unchanged.len();
    let sheet_rows = if matches!(side, SheetSide::Google { .. }) {
        // A tab is written from the plan, by key: its rows are not needed after the merge.
        drop(unchanged);
        std::mem::take(&mut sheet.rows)
    } else {
        // A workbook's sheet is rewritten whole, from all of its rows.
        let differing = sheet.rows.clone();
        sheet.rows.extend(unchanged);
        differing
    };

    let decided_holds = settle(&schema, &decisions, &mut base, &table_rows, &sheet_rows)?;
    // The rows a decided hold needs after the merge, which takes the rest.
    let held_rows = |rows: &merge::Snapshot| -> merge::Snapshot {
        decided_holds.iter().filter_map(|(k, _, _)| rows.get(k).map(|r| (k.clone(), r.clone()))).collect()
    };
    let (held_table, held_sheet) = (held_rows(&table_rows), held_rows(&sheet_rows));
    let mut plan = merge::merge_owned(&schema, &settings, &base, table_rows, sheet_rows)?;
    plan.counts.keys += unchanged_rows;
    plan.counts.unchanged_rows += unchanged_rows;
    carry_out_holds(&decided_holds, &mut plan, &held_table, &held_sheet);
    report.to_table = SideCounts::planned(&plan.to_table);
    report.to_sheet = SideCounts::planned(&plan.to_sheet);
    report.conflicts = plan.conflicts.iter().map(|c| c.describe(&schema).to_string()).collect();
    report.open_conflicts = plan.counts.open_conflicts as u64;
    report.held_deletes = plan.held_deletes.len() as u64;

    let deletes = (plan.to_table.deletes.len() + plan.to_sheet.deletes.len()) as u64;
    let rows = table_count.max(sheet_count as u64);
    // The plan holds what is left to write.
    drop(base);
    if pair.max_deletes.exceeded(deletes, rows) && !options.allow_deletes {
        report.needs_confirmation = true;
        return Err(Error::new(
            ErrorKind::LimitExceeded,
            format!(
                "pair `{}`: the plan deletes {deletes} of {rows} rows, more than max_deletes = {}; nothing was \
                 written. Check the plan (sheetbridge sync {} --dry-run), then run it with --yes",
                pair.name, pair.max_deletes, pair.name
            ),
        ));
    }
    if options.dry_run {
        return Ok(RunStatus::Success);
    }
    failpoint("planned");

    // 1. The table, in one transaction, guarded.
    let skip = ApplyOptions { dry_run: false, on_conflict: OnConflict::Skip };
    let mut moved: HashSet<Key> = HashSet::new();
    if !plan.to_table.is_empty() {
        let mut target = conn.table(pair.table.clone()).with_columns(columns.clone());
        let applied = target.apply(&schema, &plan.to_table, &skip).await?;
        moved.extend(applied.conflicts.iter().map(|c| c.key.clone()));
        report.to_table = SideCounts::applied(&applied);
        report.wrote |= report.to_table.cells() > 0;
    }
    failpoint("table_written");
    // 2. The sheet.
    let sheet_report = write_sheet(side, &schema, &sheet, &plan, &moved).await?;
    moved.extend(sheet_report.conflicts.iter().map(|c| c.key.clone()));
    report.to_sheet = SideCounts::applied(&sheet_report);
    report.wrote |= report.to_sheet.cells() > 0;
    failpoint("sheet_written");
    // 3. The base, for rows both sides now hold; conflicts and holds recorded.
    let set: Vec<(&Key, &[Value])> =
        plan.base.set.iter().filter(|(k, _)| !moved.contains(k)).map(|(k, r)| (k, r.as_slice())).collect();
    let drop: Vec<Key> = plan.base.drop.iter().filter(|k| !moved.contains(k)).cloned().collect();
    state::save_base(conn.client(), &pair.name, &schema, set, &drop).await?;
    failpoint("base_written");
    let records: Vec<ConflictRecord> = plan.conflicts.iter().map(|c| record(&schema, c)).collect();
    state::record_conflicts(conn.client(), &pair.name, run_id, &records).await?;
    let held: Vec<(Key, &'static str, Option<serde_json::Value>)> = plan
        .held_deletes
        .iter()
        .map(|h| (h.key.clone(), h.deleted_on.as_str(), Some(state::row_json(&schema.columns, &h.row))))
        .collect();
    state::hold_deletes(conn.client(), &pair.name, run_id, &held).await?;
    // A decision on a row left for the next pass is carried out by that pass.
    let carried: Vec<state::Decision> = decisions
        .into_iter()
        .filter(|d| {
            let key = match d {
                state::Decision::Conflict { key, .. } | state::Decision::HeldDelete { key, .. } => key,
            };
            state::parse_key(&schema, key).map_or(true, |k| !moved.contains(&k))
        })
        .collect();
    state::decisions_applied(conn.client(), &carried).await?;
    Ok(if moved.is_empty() { RunStatus::Success } else { RunStatus::Partial })
}

/// The table and base rows the merge needs, read past the sheet's rows.
///
/// The table is scanned in one snapshot: a row equal to the sheet's row under
/// its key is only noted (`agreed`), any other row is kept. The base is then
/// streamed: an agreed row whose base is the same is unchanged on all three
/// sides, so its sheet row moves out of `sheet` into the rows returned as
/// unchanged, and nothing else of it is kept; any other base row is kept, and
/// an agreed row with a different or no base gets its table row back (the
/// sheet's, which it equals). Keys a person decided on are always kept.
/// Returns the table rows, the base rows, the unchanged sheet rows and how
/// many rows the table has; `sheet` is left with the rows that differ somewhere.
async fn narrow(
    conn: &mut PgConn,
    pair: &PairConfig,
    schema: &TableSchema,
    columns: &[String],
    sheet: &mut merge::Snapshot,
    decided: &HashSet<Key>,
) -> Result<(merge::Snapshot, state::BaseRows, merge::Snapshot, u64), Error> {
    let mut table_rows: merge::Snapshot = HashMap::new();
    let mut agreed: HashSet<Key> = HashSet::with_capacity(sheet.len());
    let table_count = table::scan(conn, &pair.table, schema, columns, |key, row| {
        if !decided.contains(&key) && sheet.get(&key).is_some_and(|s| s.as_slice() == row) {
            agreed.insert(key);
        } else {
            table_rows.insert(key, row.to_vec());
        }
        Ok(())
    })
    .await?;
    let mut base: state::BaseRows = HashMap::new();
    let mut unchanged: merge::Snapshot = HashMap::new();
    state::scan_base(conn.client(), &pair.name, schema, |key, row| {
        match agreed.take(&key) {
            Some(key) if sheet.get(&key) == Some(&row) => {
                if let Some((key, row)) = sheet.remove_entry(&key) {
                    unchanged.insert(key, row);
                }
            }
            Some(key) => {
                table_rows.insert(key.clone(), sheet[&key].clone());
                base.insert(key, row);
            }
            None => {
                base.insert(key, row);
            }
        }
        Ok(())
    })
    .await?;
    // Agreed rows with no base (a first sync, or the same row added on both sides).
    for key in agreed {
        let row = sheet[&key].clone();
        table_rows.insert(key, row);
    }
    Ok((table_rows, base, unchanged, table_count))
}

/// Turns conflicts a person settled into base values that make the merge
/// carry the chosen side over: the losing side's value becomes the base, so
/// only the winner reads as changed. Returns the decided held deletions.
fn settle(
    schema: &TableSchema,
    decisions: &[state::Decision],
    base: &mut state::BaseRows,
    table: &merge::Snapshot,
    sheet: &merge::Snapshot,
) -> Result<Vec<(Key, merge::Side, bool)>, Error> {
    let mut holds = Vec::new();
    for d in decisions {
        match d {
            state::Decision::Conflict { key, column, side, .. } => {
                let key = state::parse_key(schema, key)?;
                let (winner, loser) = if side == "table" { (table, sheet) } else { (sheet, table) };
                match column {
                    Some(name) => {
                        let Some((i, _)) = schema.column(name) else { continue };
                        let Some(lost) = loser.get(&key) else { continue };
                        let row = base.entry(key.clone()).or_insert_with(|| lost.clone());
                        row[i] = lost[i].clone();
                    }
                    None => match (winner.get(&key), loser.get(&key)) {
                        // The winner kept the row: no base, so it is inserted on the other side.
                        (Some(_), _) => {
                            base.remove(&key);
                        }
                        // The winner deleted it: the loser's row as base, so the delete goes over.
                        (None, Some(lost)) => {
                            base.insert(key, lost.clone());
                        }
                        (None, None) => {}
                    },
                }
            }
            state::Decision::HeldDelete { key, deleted_on, approved, .. } => {
                let side = if deleted_on == "table" { merge::Side::Table } else { merge::Side::Sheet };
                holds.push((state::parse_key(schema, key)?, side, *approved));
            }
        }
    }
    Ok(holds)
}

/// Carries out decided held deletions: an approved one deletes the row from
/// the side that still has it; a rejected one puts the row back where it was
/// deleted. Either way it is no longer held.
fn carry_out_holds(
    holds: &[(Key, merge::Side, bool)],
    plan: &mut MergePlan,
    table: &merge::Snapshot,
    sheet: &merge::Snapshot,
) {
    for (key, deleted_on, approved) in holds {
        plan.held_deletes.retain(|h| &h.key != key);
        let (kept_on, kept) = match deleted_on {
            merge::Side::Table => (&mut plan.to_sheet, sheet.get(key)),
            merge::Side::Sheet => (&mut plan.to_table, table.get(key)),
        };
        let Some(row) = kept else { continue };
        if *approved {
            kept_on.deletes.push(sheetbridge_core::Delete { key: key.clone(), old: Some(row.clone()) });
            plan.base.set.retain(|(k, _)| k != key);
            plan.base.drop.push(key.clone());
        } else {
            let back = match deleted_on {
                merge::Side::Table => &mut plan.to_table,
                merge::Side::Sheet => &mut plan.to_sheet,
            };
            back.inserts.push(row.clone());
            plan.base.set.retain(|(k, _)| k != key);
            plan.base.set.push((key.clone(), row.clone()));
        }
    }
}

/// Gives the keyless sheet rows `keys`, writing them into the sheet; the rows
/// that got one join the keyed rows. How many.
async fn assign_keys(
    side: &SheetSide,
    schema: &TableSchema,
    sheet: &mut SheetSnapshot,
    keys: Vec<Key>,
) -> Result<u64, Error> {
    let key_columns = schema.key_indices();
    let with_keys: Vec<(u32, Vec<Value>, Key)> = std::mem::take(&mut sheet.keyless)
        .into_iter()
        .zip(keys)
        .map(|((n, row), key)| (n, row, key))
        .collect();
    let written: Vec<u32> = match side {
        SheetSide::Google { client, sheet: at } => {
            client.tab_target(at).assign_keys(schema, &with_keys).await?
        }
        SheetSide::Workbook { path, tab } => {
            // The whole sheet is rewritten with the keys, in its order.
            let by_number: HashMap<u32, &Key> = with_keys.iter().map(|(n, _, k)| (*n, k)).collect();
            let mut rows: Vec<(u32, Vec<Value>)> =
                sheet.order.iter().map(|(k, n)| (*n, sheet.rows[k].clone())).collect();
            for (n, row, key) in &with_keys {
                let mut row = row.clone();
                for (&i, v) in key_columns.iter().zip(&key.0) {
                    row[i] = v.clone();
                }
                rows.push((*n, row));
            }
            rows.sort_by_key(|(n, _)| *n);
            write_workbook(path, tab, schema, rows.iter().map(|(_, r)| r.as_slice())).await?;
            by_number.keys().copied().collect()
        }
    };
    let written: HashSet<u32> = written.into_iter().collect();
    let mut made = 0;
    for (n, mut row, key) in with_keys {
        if !written.contains(&n) {
            continue;
        }
        for (&i, v) in key_columns.iter().zip(&key.0) {
            row[i] = v.clone();
        }
        sheet.order.push((key.clone(), n));
        sheet.rows.insert(key, row);
        made += 1;
    }
    sheet.order.sort_by_key(|(_, n)| *n);
    Ok(made)
}

async fn write_workbook<'r>(
    path: &std::path::Path,
    tab: &str,
    schema: &TableSchema,
    rows: impl Iterator<Item = &'r [Value]>,
) -> Result<(), Error> {
    // Open in Excel or LibreOffice: skipped this pass (the program would save its copy over
    // ours), synced on the first pass after it is closed.
    if let Some((program, lock)) = sheetbridge_xlsx::lock_holder(path) {
        return Err(Error::new(
            ErrorKind::Locked,
            format!(
                "`{}` is open in {program} (its lock file `{}` is beside it), so this pass left it alone; \
                 it is synced on the first pass after it is closed",
                path.display(),
                lock.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
            ),
        ));
    }
    let rows: Vec<Vec<Value>> = rows.map(<[Value]>::to_vec).collect();
    let (path, tab, schema) = (path.to_owned(), tab.to_owned(), schema.clone());
    tokio::task::spawn_blocking(move || {
        if path.exists() {
            sheetbridge_xlsx::rewrite_sheet(&path, &tab, &schema, &rows, &RewriteOptions::default())
                .map(|_| ())
        } else {
            let options = sheetbridge_xlsx::WriteOptions { sheet: tab, ..Default::default() };
            let mut writer = sheetbridge_xlsx::XlsxWriter::create(&path, &schema, &options)?;
            for row in &rows {
                sheetbridge_core::RowSink::row(&mut writer, row)?;
            }
            writer.finish().map(|_| ())
        }
    })
    .await
    .map_err(|e| Error::new(ErrorKind::Other, format!("writing the workbook: {e}")))?
}

/// Writes the plan's sheet changes; rows in `moved` (changed in the table
/// meanwhile) are left for the next pass.
async fn write_sheet(
    side: &SheetSide,
    schema: &TableSchema,
    sheet: &SheetSnapshot,
    plan: &MergePlan,
    moved: &HashSet<Key>,
) -> Result<ApplyReport, Error> {
    let changes = without(&plan.to_sheet, moved, schema);
    if changes.is_empty() {
        return Ok(ApplyReport::default());
    }
    match side {
        SheetSide::Google { client, sheet: at } => {
            if sheet.exists {
                let skip = ApplyOptions { dry_run: false, on_conflict: OnConflict::Skip };
                client.tab_target(at).apply(schema, &changes, &skip).await
            } else {
                // A first sync into a tab that does not exist yet: the table's rows are all inserts.
                let tab = match &at.tab {
                    Tab::Name(n) => Some(n.clone()),
                    _ => None,
                };
                let options = ExportOptions { tab, ..ExportOptions::default() };
                let mut writer = client.export(Some(at), schema, &options).await?;
                let mut rows: Vec<&Vec<Value>> = changes.inserts.iter().collect();
                rows.sort_by(|a, b| merge::cmp_keys(&schema.key_of(a), &schema.key_of(b)));
                for row in rows {
                    sheetbridge_core::RowSink::row(&mut writer, row)?;
                }
                let done = writer.finish().await?;
                Ok(ApplyReport { inserted: done.rows, ..ApplyReport::default() })
            }
        }
        SheetSide::Workbook { path, tab } => {
            // The sheet's rows in their order, changed; new rows at the bottom.
            let deleted: HashSet<&Key> = changes.deletes.iter().map(|d| &d.key).collect();
            let updates: HashMap<&Key, &sheetbridge_core::Update> =
                changes.updates.iter().map(|u| (&u.key, u)).collect();
            let mut rows: Vec<Vec<Value>> = Vec::with_capacity(sheet.rows.len() + changes.inserts.len());
            let mut updated_cells = 0;
            for (key, _) in &sheet.order {
                if deleted.contains(key) {
                    continue;
                }
                let mut row = sheet.rows[key].clone();
                if let Some(u) = updates.get(key) {
                    for c in &u.cells {
                        row[c.column] = c.new.clone();
                        updated_cells += 1;
                    }
                }
                rows.push(row);
            }
            let mut inserts: Vec<&Vec<Value>> = changes.inserts.iter().collect();
            inserts.sort_by(|a, b| merge::cmp_keys(&schema.key_of(a), &schema.key_of(b)));
            rows.extend(inserts.into_iter().cloned());
            write_workbook(path, tab, schema, rows.iter().map(Vec::as_slice)).await?;
            Ok(ApplyReport {
                inserted: changes.inserts.len() as u64,
                updated_rows: changes.updates.len() as u64,
                updated_cells,
                deleted: changes.deletes.len() as u64,
                ..ApplyReport::default()
            })
        }
    }
}

/// `changes` without the rows whose key is in `moved`.
fn without<'c>(
    changes: &'c ChangeSet,
    moved: &HashSet<Key>,
    schema: &TableSchema,
) -> std::borrow::Cow<'c, ChangeSet> {
    if moved.is_empty() {
        return std::borrow::Cow::Borrowed(changes);
    }
    std::borrow::Cow::Owned(ChangeSet {
        inserts: changes.inserts.iter().filter(|r| !moved.contains(&schema.key_of(r))).cloned().collect(),
        updates: changes.updates.iter().filter(|u| !moved.contains(&u.key)).cloned().collect(),
        deletes: changes.deletes.iter().filter(|d| !moved.contains(&d.key)).cloned().collect(),
    })
}

/// A conflict as the log keeps it.
fn record(schema: &TableSchema, c: &MergeConflict) -> ConflictRecord {
    let text = |v: &Value| sheetbridge_core::convert::value_text(v);
    let row_text =
        |r: &Option<Vec<Value>>| r.as_ref().map(|r| state::row_json(&schema.columns, r).to_string());
    let (column, base, table, sheet) = match &c.values {
        Conflicted::Cell { column, base, table, sheet } => (
            Some(schema.columns[*column].name.clone()),
            base.as_ref().and_then(text),
            text(table),
            text(sheet),
        ),
        Conflicted::Row { base, table, sheet } => (None, row_text(base), row_text(table), row_text(sheet)),
    };
    ConflictRecord {
        key: c.key.clone(),
        column,
        base,
        table,
        sheet,
        resolution: match c.resolution {
            Resolution::TableWon => "table",
            Resolution::SheetWon => "sheet",
            Resolution::Open => "held",
        },
    }
}
