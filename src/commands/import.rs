//! `sheetbridge import`: a workbook sheet or a Google Sheet tab → a table, with a plan first.

use std::path::Path;
use std::time::Instant;

use anyhow::Context;
use serde::Serialize;
use sheetbridge_core::{Error, ErrorKind, TableName, TableSchema, Value};
use sheetbridge_google_sheets::{SheetRef, SheetsClient};
use sheetbridge_postgres::import::{ImportMode, ImportPlan, Importer, PlannedAction, PlannedChange};
use sheetbridge_postgres::PgConn;
use sheetbridge_xlsx::{Cell, ReadSummary, XlsxSource};
use tokio::sync::mpsc;

use crate::cli::{ImportArgs, Mode};
use crate::endpoint::SheetLocation;
use crate::exit::{Code, NeedsConfirmation};
use crate::output::{clip, table, Progress};

/// Rows travel from the reading thread to the database in batches of this many.
const BATCH_ROWS: usize = 2048;

/// What an import did, or would do in a dry run.
#[derive(Debug, Serialize)]
pub struct ImportSummary {
    pub file: String,
    pub sheet: String,
    pub table: String,
    pub mode: &'static str,
    pub dry_run: bool,
    /// True when the changes were committed.
    pub written: bool,
    pub rows: u64,
    pub inserts: u64,
    pub updates: u64,
    pub updated_cells: u64,
    pub unchanged: u64,
    pub deletes: u64,
    /// Table columns the sheet does not have (they keep their values).
    pub missing_columns: Vec<String>,
    /// Sheet columns the table does not have (ignored with --ignore-unknown).
    pub ignored_columns: Vec<String>,
    pub blank_rows_skipped: u64,
    /// Cells holding data outside the header's columns (not read): the first few, and how many.
    pub cells_outside_header: Vec<String>,
    pub cells_outside_header_count: u64,
    pub changes: Vec<ChangeLine>,
    pub seconds: f64,
}

#[derive(Debug, Serialize)]
pub struct ChangeLine {
    pub key: String,
    pub action: &'static str,
    pub column: Option<String>,
    pub old: Option<String>,
    pub new: Option<String>,
}

pub async fn run(args: ImportArgs) -> anyhow::Result<Code> {
    let summary = import(&args).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        print!("{}", render(&summary));
    }
    Ok(Code::Success)
}

fn mode_of(mode: Mode) -> (ImportMode, &'static str) {
    match mode {
        Mode::Upsert => (ImportMode::Upsert, "upsert"),
        Mode::Insert => (ImportMode::Insert, "insert"),
        Mode::Mirror => (ImportMode::Mirror, "mirror"),
    }
}

/// What reading the sheet found besides the rows (the rows went to the importer).
struct Read {
    /// The workbook's path, or the tab as `gsheet://ID/Tab`.
    file: String,
    /// The sheet's name, as the summary shows it.
    sheet: String,
    /// Table columns the sheet has no header for.
    missing: Vec<String>,
    /// Sheet columns that match no table column.
    unknown: Vec<String>,
    blank_rows_skipped: u64,
    beyond_header: Vec<String>,
    beyond_header_cells: u64,
}

/// Reads the sheet, plans, and applies unless it is a dry run. Nothing is
/// written when any cell is bad, a key repeats, or the plan needs `--yes`.
pub async fn import(args: &ImportArgs) -> anyhow::Result<ImportSummary> {
    // Google's credential is found before the database is touched.
    let google = match SheetLocation::parse(&args.from)? {
        SheetLocation::Google(_) => Some(crate::google::client(args.db.config.as_deref())?.0),
        SheetLocation::Workbook(_) => None,
    };
    import_with(args, google).await
}

/// [`import`] with the Sheets client to use for a Google Sheet given.
pub async fn import_with(args: &ImportArgs, google: Option<SheetsClient>) -> anyhow::Result<ImportSummary> {
    let started = Instant::now();
    let (mode, _) = mode_of(args.mode);
    let location = SheetLocation::parse(&args.from)?;
    let mut conn = super::connect(&args.db).await?;
    let name = TableName::parse(&args.table).map_err(|m| Error::new(ErrorKind::InvalidInput, m))?;
    let mut schema = conn.describe_table(&name).await?;
    check_table(&mut schema, args)?;

    let (mut importer, read, what) = match (location, google) {
        (SheetLocation::Google(sheet), Some(client)) => {
            let sheet = match &args.sheet {
                Some(tab) => sheet.with_tab(tab),
                None => sheet,
            };
            from_google(&mut conn, &client, &sheet, &schema, args, mode).await?
        }
        (SheetLocation::Workbook(path), _) => from_workbook(&mut conn, &path, &schema, args, mode).await?,
        (SheetLocation::Google(sheet), None) => {
            anyhow::bail!("import `{sheet}`: no Google credential was given")
        }
    };

    tracing::debug!(seconds = started.elapsed().as_secs_f64(), "rows sent");
    let plan = match importer.plan(args.show).await {
        Ok(plan) => plan,
        Err(e) => {
            return Err(anyhow::Error::new(e).context(what));
        }
    };
    let mut summary = summarize(args, &schema, &read, &plan);
    if plan.deletes > args.max_deletes && !args.yes && !args.dry_run {
        importer.rollback().await.ok();
        print!("{}", render(&summary));
        return Err(NeedsConfirmation(format!(
            "{what}: the plan deletes {} rows of `{}`, more than --max-deletes {}; nothing was written. \
             Check the plan above, then rerun with --yes",
            plan.deletes, schema.name, args.max_deletes
        ))
        .into());
    }
    tracing::debug!(seconds = started.elapsed().as_secs_f64(), "planned");
    if args.dry_run {
        importer.rollback().await.with_context(|| what.clone())?;
    } else {
        importer.commit().await.with_context(|| what.clone())?;
        summary.written = true;
    }
    summary.seconds = started.elapsed().as_secs_f64();
    Ok(summary)
}

/// Reads a workbook sheet into an import: the workbook is parsed on a blocking
/// thread while its cells are converted, checked and sent to the database here.
async fn from_workbook<'c>(
    conn: &'c mut PgConn,
    path: &Path,
    schema: &TableSchema,
    args: &ImportArgs,
    mode: ImportMode,
) -> anyhow::Result<(Importer<'c>, Read, String)> {
    let started = Instant::now();
    let file = path.display().to_string();
    let reader_path = path.to_owned();
    let sheet_arg = args.sheet.clone();
    let schema_for_reader = schema.clone();
    let (mut source, layout) = tokio::task::spawn_blocking(move || -> Result<_, Error> {
        let mut source = XlsxSource::open(&reader_path, sheet_arg.as_deref())?;
        let layout = source.layout(&schema_for_reader)?;
        Ok((source, layout))
    })
    .await
    .context("reading the workbook")??;
    tracing::debug!(seconds = started.elapsed().as_secs_f64(), "workbook open");
    let sheet = source.sheet().to_owned();
    let what = format!("import `{file}` sheet `{sheet}`");
    check_layout(schema, &layout.unknown, &layout.missing, args, mode, &what)?;

    let width = layout.columns.len();
    let mut importer =
        conn.begin_import(schema, &layout.columns, mode).await.with_context(|| what.clone())?;
    let progress = Progress::rows("importing", None);

    // The channel bounds what is in flight.
    let mut converter = source.converter(&layout, schema)?;
    let (tx, mut rx) = mpsc::channel::<(Vec<u32>, Vec<Cell>)>(4);
    let reader_layout = layout.clone();
    let reader = tokio::task::spawn_blocking(move || {
        let mut numbers = Vec::with_capacity(BATCH_ROWS);
        let mut cells = Vec::with_capacity(BATCH_ROWS * width);
        let result = source.read_cells(&reader_layout, |row_number, row: &mut [Cell]| {
            numbers.push(row_number);
            // Moved, not copied: the reader rewrites every slot for the next row.
            cells.extend(row.iter_mut().map(std::mem::take));
            if numbers.len() == BATCH_ROWS {
                let batch = (std::mem::take(&mut numbers), std::mem::take(&mut cells));
                tx.blocking_send(batch).map_err(|_| Error::new(ErrorKind::Other, "the import stopped"))?;
                numbers.reserve(BATCH_ROWS);
                cells.reserve(BATCH_ROWS * width);
            }
            Ok(())
        });
        if result.is_ok() && !numbers.is_empty() {
            // The receiver only goes away when the import already failed.
            let _ = tx.blocking_send((numbers, cells));
        }
        result
    });

    let mut write_error = None;
    let mut values = vec![Value::Null; width];
    while let Some((numbers, mut cells)) = rx.recv().await {
        let mut rows = cells.chunks_exact_mut(width.max(1));
        for n in &numbers {
            let row = rows.next().unwrap_or(&mut []);
            // Rows with a bad cell are skipped; once any cell was bad nothing
            // will be written, so the rest is only converted, to list every problem.
            if !converter.convert(*n, row, &mut values) || converter.bad_cells() > 0 {
                continue;
            }
            if let Err(e) = importer.write(*n, &values).await {
                write_error = Some(e);
                break;
            }
        }
        if write_error.is_some() {
            break;
        }
        progress.inc(numbers.len() as u64);
    }
    drop(rx);
    let read = reader.await.context("reading the workbook")?;
    progress.finish();
    let read: ReadSummary = match (read.and_then(|r| converter.finish().map(|()| r)), write_error) {
        (Ok(summary), None) => summary,
        // The reader's errors name the file and sheet already.
        (Err(e), None) => {
            importer.rollback().await.ok();
            return Err(e.into());
        }
        (_, Some(e)) => {
            importer.rollback().await.ok();
            return Err(anyhow::Error::new(e).context(what));
        }
    };
    let read = Read {
        file,
        sheet,
        missing: layout.missing,
        unknown: layout.unknown,
        blank_rows_skipped: read.blank_rows_skipped,
        beyond_header: read.beyond_header,
        beyond_header_cells: read.beyond_header_cells,
    };
    Ok((importer, read, what))
}

/// Reads a Google Sheet tab (one `values.batchGet`) into an import.
async fn from_google<'c>(
    conn: &'c mut PgConn,
    client: &SheetsClient,
    sheet: &SheetRef,
    schema: &TableSchema,
    args: &ImportArgs,
    mode: ImportMode,
) -> anyhow::Result<(Importer<'c>, Read, String)> {
    let source = client.open_tab(sheet).await.with_context(|| format!("import `{sheet}`"))?;
    let tab = source.tab().title.clone();
    let what = format!("import `{}`", sheet.with_tab(&tab));
    let layout = source.layout(schema).with_context(|| what.clone())?;
    check_layout(schema, &layout.unknown, &layout.missing, args, mode, &what)?;

    // Rows are converted as they go to the database, and the tab's cells freed with them.
    // Once any cell is bad nothing will be written: the rest is only converted, to list
    // every problem.
    let mut rows = source.into_rows(&layout, schema).await.with_context(|| what.clone())?;
    let mut importer =
        conn.begin_import(schema, &layout.columns, mode).await.with_context(|| what.clone())?;
    let progress = Progress::rows("importing", None);
    let mut values = vec![Value::Null; layout.columns.len()];
    while let Some(n) = rows.next_row(&mut values) {
        if rows.has_bad_cells() {
            continue;
        }
        if let Err(e) = importer.write(n, &values).await {
            importer.rollback().await.ok();
            return Err(anyhow::Error::new(e).context(what));
        }
        progress.inc(1);
    }
    progress.finish();
    let read = match rows.finish() {
        Ok(read) => read,
        Err(e) => {
            importer.rollback().await.ok();
            return Err(e.into());
        }
    };
    let read = Read {
        file: sheet.with_tab(&tab).to_string(),
        sheet: tab,
        missing: layout.missing,
        unknown: layout.unknown,
        blank_rows_skipped: read.blank_rows_skipped,
        beyond_header: Vec::new(),
        beyond_header_cells: 0,
    };
    Ok((importer, read, what))
}

/// The table must be writable and have a key to match rows by.
fn check_table(schema: &mut TableSchema, args: &ImportArgs) -> Result<(), Error> {
    if !args.key.is_empty() {
        schema.set_key(&args.key).map_err(|unknown| {
            Error::new(
                ErrorKind::InvalidInput,
                format!("--key names columns `{}` does not have: {}", schema.name, unknown.join(", ")),
            )
        })?;
    }
    if !schema.writable() {
        return Err(Error::new(
            ErrorKind::SchemaMismatch,
            format!("`{}` cannot be written: it is a view Postgres cannot update through", schema.name),
        ));
    }
    if !schema.has_key() {
        return Err(Error::new(
            ErrorKind::SchemaMismatch,
            format!(
                "`{}` has no primary key, so rows of the sheet cannot be matched to rows of the table; \
                 add a primary key or name the columns that identify a row with --key col,...",
                schema.name
            ),
        ));
    }
    Ok(())
}

fn check_layout(
    schema: &TableSchema,
    unknown: &[String],
    missing: &[String],
    args: &ImportArgs,
    mode: ImportMode,
    what: &str,
) -> Result<(), Error> {
    let mut problems = Vec::new();
    if !unknown.is_empty() && !args.ignore_unknown {
        problems.push(format!(
            "the sheet has columns `{}` does not: {} (remove them, or pass --ignore-unknown)",
            schema.name,
            quoted(unknown)
        ));
    }
    let missing_keys: Vec<String> = schema
        .columns
        .iter()
        .filter(|c| c.key && missing.contains(&c.name))
        .filter(|c| !(mode == ImportMode::Insert && c.fills_itself()))
        .map(|c| c.name.clone())
        .collect();
    if !missing_keys.is_empty() {
        problems.push(format!(
            "the sheet lacks the key column(s) rows are matched by: {}",
            quoted(&missing_keys)
        ));
    }
    if mode == ImportMode::Insert {
        let required: Vec<String> = schema
            .columns
            .iter()
            .filter(|c| !c.key && !c.nullable && !c.fills_itself() && missing.contains(&c.name))
            .map(|c| c.name.clone())
            .collect();
        if !required.is_empty() {
            problems.push(format!(
                "the sheet lacks columns new rows need (NOT NULL, no default): {}",
                quoted(&required)
            ));
        }
    }
    if problems.is_empty() {
        return Ok(());
    }
    Err(Error::new(
        ErrorKind::SchemaMismatch,
        format!("{what}: {}; nothing was written", problems.join("; ")),
    ))
}

fn quoted(names: &[String]) -> String {
    names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
}

fn summarize(args: &ImportArgs, schema: &TableSchema, read: &Read, plan: &ImportPlan) -> ImportSummary {
    ImportSummary {
        file: read.file.clone(),
        sheet: read.sheet.clone(),
        table: schema.name.to_string(),
        mode: mode_of(args.mode).1,
        dry_run: args.dry_run,
        written: false,
        rows: plan.rows,
        inserts: plan.inserts,
        updates: plan.updates,
        updated_cells: plan.updated_cells,
        unchanged: plan.unchanged,
        deletes: plan.deletes,
        missing_columns: read.missing.clone(),
        ignored_columns: if args.ignore_unknown { read.unknown.clone() } else { Vec::new() },
        blank_rows_skipped: read.blank_rows_skipped,
        cells_outside_header: read.beyond_header.clone(),
        cells_outside_header_count: read.beyond_header_cells,
        changes: plan.sample.iter().map(change_line).collect(),
        seconds: 0.0,
    }
}

fn change_line(c: &PlannedChange) -> ChangeLine {
    let text = |v: &Value| (!v.is_null() || c.column.is_some()).then(|| v.to_string());
    ChangeLine {
        key: c.key.to_string(),
        action: match c.action {
            PlannedAction::Insert => "insert",
            PlannedAction::Update => "update",
            PlannedAction::Delete => "delete",
        },
        column: c.column.clone(),
        old: text(&c.old),
        new: text(&c.new),
    }
}

/// The plan as a person reads it: counts, then the first changes.
pub fn render(s: &ImportSummary) -> String {
    let verb = if s.dry_run {
        "plan for"
    } else if s.written {
        "imported"
    } else {
        "import of"
    };
    // A Google Sheet's reference names its tab already.
    let from = if SheetRef::looks_like(&s.file) {
        format!("`{}`", s.file)
    } else {
        format!("`{}` sheet `{}`", s.file, s.sheet)
    };
    let mut out = format!("{verb} {from} → `{}` ({})\n", s.table, s.mode);
    out.push_str(&format!(
        "  {} rows read: {} to insert, {} to update ({} cells), {} unchanged, {} to delete\n",
        s.rows, s.inserts, s.updates, s.updated_cells, s.unchanged, s.deletes
    ));
    if s.blank_rows_skipped > 0 {
        out.push_str(&format!("  {} blank rows inside the data were skipped\n", s.blank_rows_skipped));
    }
    if s.cells_outside_header_count > 0 {
        out.push_str(&format!(
            "  {} cells outside the header's columns were not read: {}{}\n",
            s.cells_outside_header_count,
            s.cells_outside_header.join(", "),
            if s.cells_outside_header_count as usize > s.cells_outside_header.len() { ", ..." } else { "" }
        ));
    }
    if !s.missing_columns.is_empty() {
        out.push_str(&format!("  not in the sheet, left as they are: {}\n", quoted(&s.missing_columns)));
    }
    if !s.ignored_columns.is_empty() {
        out.push_str(&format!("  ignored sheet columns: {}\n", quoted(&s.ignored_columns)));
    }
    if !s.changes.is_empty() {
        let total = s.inserts + s.updated_cells + s.deletes;
        out.push_str(&format!("\n  first {} of {} changes:\n", s.changes.len(), total));
        let rows: Vec<Vec<String>> = s
            .changes
            .iter()
            .map(|c| {
                let (column, old, new) = match c.action {
                    "insert" => ("(new row)".to_owned(), String::new(), String::new()),
                    "delete" => ("(row deleted)".to_owned(), String::new(), String::new()),
                    _ => (
                        c.column.clone().unwrap_or_default(),
                        clip(c.old.clone().unwrap_or_default(), 40),
                        clip(c.new.clone().unwrap_or_default(), 40),
                    ),
                };
                let arrow = if old.is_empty() && new.is_empty() { "" } else { "→" };
                let key = if c.action == "insert" && c.key == "NULL" {
                    "(new)".to_owned()
                } else {
                    clip(c.key.clone(), 30)
                };
                vec![key, column, old, arrow.to_owned(), new]
            })
            .collect();
        out.push_str(&table(&["key", "column", "old", "", "new"], &rows));
    }
    if s.dry_run {
        out.push_str("dry run: nothing was written\n");
    } else if s.written {
        out.push_str(&format!("committed in {:.1} s\n", s.seconds));
    }
    out
}
