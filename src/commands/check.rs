//! `sheetbridge check`: the config file validated, then every endpoint it
//! names reached, read-only. Each problem is one line naming its pair and,
//! where it comes from the file, its line.
//!
//! Nothing is written anywhere: the table checks read `pg_catalog`, the
//! migrations are applied inside a transaction that is rolled back, Google is
//! only read (`spreadsheets.get`, `values.batchGet`), and a workbook is only
//! opened.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use clap::Args;
use serde::Serialize;
use sheetbridge_core::schema::Generated;
use sheetbridge_core::{Error, ErrorKind, TableSchema};
use sheetbridge_google_sheets::{SheetRef, SheetsClient, SpreadsheetInfo, Tab};
use sheetbridge_postgres::error::pg_error;
use sheetbridge_postgres::migrate::{MIGRATIONS, MIGRATION_LOCK_KEY};
use sheetbridge_postgres::{PgConfig, PgConn};
use sheetbridge_xlsx::XlsxSource;

use crate::config::{ConfigFile, ConfigProblem, Direction, PairConfig};
use crate::endpoint::SheetLocation;
use crate::exit::Code;

/// Validate the config file and reach every table and sheet it names.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The config file (default: ./sheetbridge.toml).
    #[arg(long, env = "SHEETBRIDGE_CONFIG")]
    pub config: Option<PathBuf>,

    /// Postgres connection URL, instead of the file's [database] (the password is never printed).
    #[arg(long, env = "SHEETBRIDGE_DB", hide_env_values = true)]
    pub db: Option<String>,

    /// Only these pairs (default: every pair, enabled or not).
    #[arg(value_name = "PAIR")]
    pub pairs: Vec<String>,

    /// Print the findings as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

/// What a problem is about, which decides the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// The file says something wrong or impossible (exit 3).
    Config,
    /// The database or the sheet does not fit the pair: a missing table,
    /// column or tab, a header that does not match (exit 3).
    Schema,
    /// Could not connect, or not allowed (exit 7).
    Connection,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Error,
    /// Worth knowing, not wrong (a tab the first sync will create).
    Warning,
}

/// One thing `check` found.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub severity: Severity,
    pub kind: Kind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pair: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    pub message: String,
    /// The line as text output shows it.
    pub text: String,
}

/// A pair as checked.
#[derive(Debug, Clone, Serialize)]
pub struct PairReport {
    pub name: String,
    pub table: String,
    pub sheet: String,
    pub enabled: bool,
    /// No error was found for it.
    pub ok: bool,
}

/// The whole answer.
#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    pub config: String,
    pub ok: bool,
    pub exit_code: u8,
    pub pairs: Vec<PairReport>,
    pub findings: Vec<Finding>,
}

pub async fn run(args: CheckArgs) -> anyhow::Result<Code> {
    let report = check(&args).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", render(&report));
    }
    Ok(code_of(&report.findings))
}

/// 0 when no error was found; 3 when any is the file's or the schema's; else 7.
pub fn code_of(findings: &[Finding]) -> Code {
    let errors = || findings.iter().filter(|f| f.severity == Severity::Error);
    if errors().any(|f| f.kind != Kind::Connection) {
        Code::BadInput
    } else if errors().next().is_some() {
        Code::Connection
    } else {
        Code::Success
    }
}

/// One line a finding, then one line a pair that is fine, then the count.
pub fn render(report: &CheckReport) -> String {
    let mut out = String::new();
    for f in &report.findings {
        let label = match f.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        out.push_str(&format!("{label}: {}\n", f.text));
    }
    for p in report.pairs.iter().filter(|p| p.ok) {
        let off = if p.enabled { "" } else { " (disabled)" };
        out.push_str(&format!("ok: pair `{}`: {} ⇄ {}{off}\n", p.name, p.table, p.sheet));
    }
    let errors = report.findings.iter().filter(|f| f.severity == Severity::Error).count();
    let warnings = report.findings.len() - errors;
    if errors == 0 {
        out.push_str(&format!(
            "`{}`: {} pair(s) checked, all is well ({warnings} warning(s))\n",
            report.config,
            report.pairs.len()
        ));
    } else {
        out.push_str(&format!("`{}`: {errors} problem(s), {warnings} warning(s)\n", report.config));
    }
    out
}

/// Collects findings with the file's name.
struct Findings {
    file: PathBuf,
    list: Vec<Finding>,
}

impl Findings {
    fn push(
        &mut self,
        severity: Severity,
        kind: Kind,
        pair: Option<&str>,
        line: Option<usize>,
        message: String,
    ) {
        let problem = ConfigProblem { file: self.file.clone(), line, pair: pair.map(str::to_owned), message };
        self.list.push(Finding {
            severity,
            kind,
            pair: problem.pair.clone(),
            line,
            text: problem.to_string(),
            message: problem.message,
        });
    }

    fn error(&mut self, kind: Kind, pair: &PairConfig, field: &str, message: String) {
        self.push(Severity::Error, kind, Some(&pair.name), Some(pair.line_of(field)), message);
    }

    fn warning(&mut self, pair: &PairConfig, field: &str, message: String) {
        self.push(Severity::Warning, Kind::Schema, Some(&pair.name), Some(pair.line_of(field)), message);
    }

    fn has_errors_for(&self, pair: &str) -> bool {
        self.list.iter().any(|f| f.severity == Severity::Error && f.pair.as_deref() == Some(pair))
    }
}

/// The kind of a connector error: reaching or being allowed, else the schema's.
fn kind_of(e: &Error) -> Kind {
    match e.kind() {
        ErrorKind::Unauthorized | ErrorKind::Retryable | ErrorKind::RateLimited { .. } => Kind::Connection,
        _ => Kind::Schema,
    }
}

/// Validates the file and reaches every endpoint; problems are findings, not errors.
pub async fn check(args: &CheckArgs) -> anyhow::Result<CheckReport> {
    let env = |name: &str| std::env::var(name).ok();
    let Some(file) = ConfigFile::locate(args.config.as_deref())? else {
        return Err(Error::new(
            ErrorKind::NotFound,
            "no config file: give --config FILE (or SHEETBRIDGE_CONFIG), or create ./sheetbridge.toml \
             (examples/sheetbridge.toml shows every key)",
        )
        .into());
    };
    let mut found = Findings { file: file.path().to_owned(), list: Vec::new() };
    let config_problem = |found: &mut Findings, p: ConfigProblem| {
        let text = p.to_string();
        found.list.push(Finding {
            severity: Severity::Error,
            kind: Kind::Config,
            pair: p.pair,
            line: p.line,
            message: p.message,
            text,
        });
    };

    let database = match (&args.db, file.database(env)) {
        (Some(url), _) => match PgConfig::parse(url) {
            Ok(c) => Some(c),
            Err(e) => {
                found.push(Severity::Error, Kind::Config, None, None, format!("--db: {}", e.message()));
                None
            }
        },
        (None, Ok(Some(c))) => Some(c),
        (None, Ok(None)) => match PgConfig::from_env() {
            Ok(c) => Some(c),
            Err(e) => {
                found.push(Severity::Error, Kind::Config, None, None, e.message().to_owned());
                None
            }
        },
        (None, Err(e)) => {
            config_problem(
                &mut found,
                ConfigProblem {
                    file: file.path().to_owned(),
                    line: None,
                    pair: None,
                    message: e.message().into(),
                },
            );
            None
        }
    };
    let google_ok = match file.google(env) {
        Ok(_) => true,
        Err(e) => {
            config_problem(
                &mut found,
                ConfigProblem {
                    file: file.path().to_owned(),
                    line: None,
                    pair: None,
                    message: e.message().into(),
                },
            );
            false
        }
    };
    if let Err(problems) = file.serve(env) {
        for p in problems {
            config_problem(&mut found, p);
        }
    }
    let (mut pairs, problems) = file.resolve_pairs(env);
    let wanted =
        |name: Option<&str>| args.pairs.is_empty() || name.is_some_and(|n| args.pairs.iter().any(|a| a == n));
    for p in problems {
        if wanted(p.pair.as_deref()) {
            config_problem(&mut found, p);
        }
    }
    for name in &args.pairs {
        if !pairs.iter().any(|p| &p.name == name) {
            let known: Vec<String> = pairs.iter().map(|p| format!("`{}`", p.name)).collect();
            let known = if known.is_empty() { "none".to_owned() } else { known.join(", ") };
            found.push(
                Severity::Error,
                Kind::Config,
                Some(name),
                None,
                format!("there is no such pair in the file (its pairs: {known})"),
            );
        }
    }
    pairs.retain(|p| wanted(Some(&p.name)));
    if file.pairs.is_empty() {
        found.push(Severity::Warning, Kind::Config, None, None, "the file has no [[pair]]".to_owned());
    }

    // The database: connected once; the migrations tried; each pair's table described.
    let mut schemas: BTreeMap<String, TableSchema> = BTreeMap::new();
    if let Some(config) = database {
        match sheetbridge_postgres::connect(&config).await {
            Err(e) => found.push(Severity::Error, Kind::Connection, None, None, e.to_string()),
            Ok(mut conn) => {
                if let Err((kind, message)) = try_migrations(&mut conn).await {
                    found.push(Severity::Error, kind, None, None, message);
                }
                for pair in &pairs {
                    if let Some(schema) = check_table(&conn, pair, &mut found).await {
                        schemas.insert(pair.name.clone(), schema);
                    }
                }
            }
        }
    }

    // The sheets.
    let needs_google = pairs.iter().any(|p| matches!(p.sheet, SheetLocation::Google(_)));
    let google = if needs_google && google_ok {
        match crate::google::client(Some(file.path())) {
            Ok((client, _)) => Some(client),
            Err(e) => {
                let message = crate::exit::render(&e);
                for pair in pairs.iter().filter(|p| matches!(p.sheet, SheetLocation::Google(_))) {
                    found.error(Kind::Connection, pair, "sheet", message.clone());
                }
                None
            }
        }
    } else {
        None
    };
    let mut spreadsheets: BTreeMap<String, Result<SpreadsheetInfo, Error>> = BTreeMap::new();
    for pair in &pairs {
        let schema = schemas.get(&pair.name);
        match &pair.sheet {
            SheetLocation::Google(sheet) => {
                if let Some(client) = &google {
                    check_google(client, pair, sheet, schema, &mut spreadsheets, &mut found).await;
                }
            }
            SheetLocation::Workbook(path) => check_workbook(pair, path, schema, &mut found).await,
        }
    }

    let reports = pairs
        .iter()
        .map(|p| PairReport {
            name: p.name.clone(),
            table: p.table.to_string(),
            sheet: match &p.sheet {
                SheetLocation::Workbook(path) => format!("{} sheet `{}`", path.display(), tab_label(&p.tab)),
                SheetLocation::Google(s) => s.to_string(),
            },
            enabled: p.enabled,
            ok: !found.has_errors_for(&p.name),
        })
        .collect();
    let code = code_of(&found.list);
    Ok(CheckReport {
        config: file.path().display().to_string(),
        ok: code == Code::Success,
        exit_code: code as u8,
        pairs: reports,
        findings: found.list,
    })
}

fn tab_label(tab: &Tab) -> String {
    match tab {
        Tab::Name(n) => n.clone(),
        Tab::Gid(g) => format!("gid {g}"),
        Tab::First => "(first)".to_owned(),
    }
}

/// Applies the pending migrations inside a transaction and rolls it back: the
/// schema would migrate, and nothing was written. An applied migration that
/// differs from this binary's, or one this binary does not know, is a problem.
async fn try_migrations(conn: &mut PgConn) -> Result<(), (Kind, String)> {
    let failed =
        |e: Error| (kind_of(&e), format!("the sheetbridge schema cannot be migrated: {}", e.message()));
    let tx = conn.client_mut().transaction().await.map_err(|e| failed(pg_error("begin", e)))?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK_KEY])
        .await
        .map_err(|e| failed(pg_error("wait for the migration lock", e)))?;
    let exists: bool = tx
        .query_one("SELECT to_regclass('sheetbridge.schema_migrations') IS NOT NULL", &[])
        .await
        .map_err(|e| failed(pg_error("look for sheetbridge.schema_migrations", e)))?
        .get(0);
    let mut applied = Vec::new();
    if exists {
        let rows = tx
            .query("SELECT version, name, checksum FROM sheetbridge.schema_migrations ORDER BY version", &[])
            .await
            .map_err(|e| failed(pg_error("read sheetbridge.schema_migrations", e)))?;
        for row in rows {
            let (version, name, checksum): (i32, String, String) = (row.get(0), row.get(1), row.get(2));
            match MIGRATIONS.iter().find(|m| m.version == version) {
                None => {
                    return Err((
                        Kind::Schema,
                        format!(
                            "the database has sheetbridge migration {version} (`{name}`), which this \
                             sheetbridge does not know: it was migrated by a newer version"
                        ),
                    ))
                }
                Some(m) if m.checksum() != checksum => {
                    return Err((
                        Kind::Schema,
                        format!(
                            "migration `{}` was applied with checksum {checksum}, but this sheetbridge \
                             carries {}: an applied migration must never be edited",
                            m.name,
                            m.checksum()
                        ),
                    ))
                }
                Some(_) => applied.push(version),
            }
        }
    } else {
        tx.batch_execute("CREATE SCHEMA IF NOT EXISTS sheetbridge")
            .await
            .map_err(|e| failed(pg_error("create schema sheetbridge", e)))?;
    }
    for m in MIGRATIONS.iter().filter(|m| !applied.contains(&m.version)) {
        tx.batch_execute(m.sql).await.map_err(|e| failed(pg_error(&format!("apply `{}`", m.name), e)))?;
    }
    tx.rollback().await.map_err(|e| failed(pg_error("roll back", e)))?;
    Ok(())
}

/// The pair's columns as the schema has them: key, selection, read-only and
/// conflict columns exist; the table can be written when the sheet writes to it.
async fn check_table(conn: &PgConn, pair: &PairConfig, found: &mut Findings) -> Option<TableSchema> {
    let mut schema = match conn.describe_table(&pair.table).await {
        Ok(s) => s,
        Err(e) => {
            found.error(kind_of(&e), pair, "table", e.message().to_owned());
            return None;
        }
    };
    let table = schema.name.to_string();
    let unknown = |field: &str, names: &[String], schema: &TableSchema, found: &mut Findings| {
        for n in names.iter().filter(|n| schema.column(n).is_none()) {
            found.error(
                Kind::Schema,
                pair,
                field,
                format!("`{field}` names column `{n}`, which `{table}` does not have"),
            );
        }
    };
    unknown("key", &pair.key, &schema, found);
    unknown("columns", &pair.columns, &schema, found);
    unknown("exclude", &pair.exclude, &schema, found);
    unknown("read_only", &pair.read_only, &schema, found);
    let conflict_columns: Vec<String> = pair.conflict.per_column.keys().cloned().collect();
    unknown("conflict_columns", &conflict_columns, &schema, found);

    if pair.key.is_empty() {
        if !schema.has_key() {
            found.error(
                Kind::Schema,
                pair,
                "table",
                format!("`{table}` has no primary key; name the columns rows are matched by in `key`"),
            );
        }
    } else {
        // Unknown key columns were reported above, one by one.
        let _ = schema.set_key(&pair.key);
    }

    let writes_table = pair.direction != Direction::ToSheet;
    if writes_table {
        if !schema.writable() {
            found.error(
                Kind::Schema,
                pair,
                "table",
                format!("`{table}` cannot be written (a view that is not updatable?); use direction = \"to_sheet\""),
            );
        } else {
            let rel = qualified(&schema);
            for privilege in ["SELECT", "INSERT", "UPDATE", "DELETE"] {
                match conn
                    .client()
                    .query_one("SELECT has_table_privilege($1::text::regclass, $2)", &[&rel, &privilege])
                    .await
                {
                    Ok(row) if row.get::<_, bool>(0) => {}
                    Ok(_) => found.error(
                        Kind::Connection,
                        pair,
                        "table",
                        format!("the database user may not {privilege} `{table}`"),
                    ),
                    Err(e) => {
                        found.error(Kind::Connection, pair, "table", format!("privileges of `{table}`: {e}"))
                    }
                }
            }
        }
    } else {
        let rel = qualified(&schema);
        if let Ok(row) =
            conn.client().query_one("SELECT has_table_privilege($1::text::regclass, 'SELECT')", &[&rel]).await
        {
            if !row.get::<_, bool>(0) {
                found.error(
                    Kind::Connection,
                    pair,
                    "table",
                    format!("the database user may not SELECT `{table}`"),
                );
            }
        }
    }

    // The synced columns, in order.
    let synced: Vec<String> = if pair.columns.is_empty() {
        schema.columns.iter().map(|c| c.name.clone()).filter(|c| !pair.exclude.contains(c)).collect()
    } else {
        pair.columns.iter().filter(|c| schema.column(c).is_some()).cloned().collect()
    };
    if writes_table && schema.writable() {
        for c in schema.columns.iter().filter(|c| !synced.contains(&c.name)) {
            if !c.nullable && !c.fills_itself() {
                found.error(
                    Kind::Schema,
                    pair,
                    if pair.columns.is_empty() { "exclude" } else { "columns" },
                    format!(
                        "column `{}` of `{table}` is NOT NULL without a default but is not synced: \
                         a row added in the sheet could not be inserted",
                        c.name
                    ),
                );
            }
        }
    }
    if schema.project(&synced).is_err() {
        return None;
    }
    for c in &mut schema.columns {
        if c.generated == Generated::Always || c.generated == Generated::Stored {
            c.read_only = true;
        }
    }
    Some(schema)
}

fn qualified(schema: &TableSchema) -> String {
    let q = sheetbridge_postgres::quote_ident;
    match &schema.name.schema {
        Some(s) => format!("{}.{}", q(s), q(&schema.name.name)),
        None => q(&schema.name.name),
    }
}

/// The header's names against the synced columns.
fn check_header(pair: &PairConfig, unknown: &[String], missing: &[String], at: &str, found: &mut Findings) {
    let list = |names: &[String]| names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ");
    if !unknown.is_empty() {
        let message = format!("{at}: the header has columns the pair does not sync: {}", list(unknown));
        found.error(Kind::Schema, pair, "sheet", message);
    }
    if !missing.is_empty() {
        let message = format!("{at}: the header lacks synced columns: {}", list(missing));
        found.error(Kind::Schema, pair, "sheet", message);
    }
}

async fn check_google(
    client: &SheetsClient,
    pair: &PairConfig,
    sheet: &SheetRef,
    schema: Option<&TableSchema>,
    spreadsheets: &mut BTreeMap<String, Result<SpreadsheetInfo, Error>>,
    found: &mut Findings,
) {
    let id = &sheet.spreadsheet_id;
    if !spreadsheets.contains_key(id) {
        let info = client.spreadsheet(id).await;
        spreadsheets.insert(id.clone(), info);
    }
    let info = match spreadsheets.get(id) {
        Some(Ok(info)) => info,
        Some(Err(e)) => {
            found.error(kind_of(e), pair, "sheet", format!("`{sheet}`: {}", e.message()));
            return;
        }
        None => return,
    };
    let at = format!("`{sheet}`");
    if let Err(e) = info.tab(&pair.tab) {
        match (&pair.tab, pair.direction) {
            (Tab::Name(name), Direction::Both | Direction::ToSheet) => found.warning(
                pair,
                "sheet",
                format!("spreadsheet `{id}` has no tab `{name}` yet; the first sync creates it"),
            ),
            _ => found.error(Kind::Schema, pair, "sheet", e.message().to_owned()),
        }
        return;
    }
    let Some(schema) = schema else { return };
    let tab = match client.open_tab(sheet).await {
        Ok(tab) => tab,
        Err(e) => {
            found.error(kind_of(&e), pair, "sheet", e.message().to_owned());
            return;
        }
    };
    match tab.layout(schema) {
        Ok(layout) => check_header(pair, &layout.unknown, &layout.missing, &at, found),
        Err(e) => empty_or_bad(pair, e, found),
    }
}

/// An empty tab is fine when the sync writes the sheet (the first one writes the header).
fn empty_or_bad(pair: &PairConfig, e: Error, found: &mut Findings) {
    if e.message().contains("is empty") && pair.direction != Direction::ToTable {
        found.warning(pair, "sheet", format!("{}; the first sync writes it", e.message()));
    } else {
        found.error(kind_of(&e), pair, "sheet", e.message().to_owned());
    }
}

async fn check_workbook(pair: &PairConfig, path: &Path, schema: Option<&TableSchema>, found: &mut Findings) {
    let writes_sheet = pair.direction != Direction::ToTable;
    let shown = path.display();
    if !path.exists() {
        if !writes_sheet {
            found.error(Kind::Schema, pair, "sheet", format!("workbook `{shown}` does not exist"));
            return;
        }
        let folder = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        if !folder.is_dir() {
            found.error(
                Kind::Schema,
                pair,
                "sheet",
                format!("workbook `{shown}` does not exist, nor does its folder `{}`", folder.display()),
            );
        } else if !writable(folder) {
            found.error(
                Kind::Connection,
                pair,
                "sheet",
                format!(
                    "workbook `{shown}` does not exist, and its folder `{}` is not writable",
                    folder.display()
                ),
            );
        } else {
            found.warning(
                pair,
                "sheet",
                format!("workbook `{shown}` does not exist yet; the first sync creates it"),
            );
        }
        return;
    }
    if writes_sheet && !writable(path) {
        found.error(Kind::Connection, pair, "sheet", format!("workbook `{shown}` is not writable"));
    }
    let Tab::Name(sheet) = pair.tab.clone() else { return };
    let owned = path.to_owned();
    let schema = schema.cloned();
    type Header = Option<(Vec<String>, Vec<String>)>;
    let opened = tokio::task::spawn_blocking(move || -> Result<Header, Error> {
        let mut source = XlsxSource::open(&owned, Some(&sheet))?;
        match schema {
            Some(schema) => source.layout(&schema).map(|l| Some((l.unknown, l.missing))),
            None => Ok(None),
        }
    })
    .await;
    let at = format!("`{shown}` sheet `{}`", tab_label(&pair.tab));
    match opened {
        Ok(Ok(Some((unknown, missing)))) => check_header(pair, &unknown, &missing, &at, found),
        Ok(Ok(None)) => {}
        Ok(Err(e)) if *e.kind() == ErrorKind::NotFound && writes_sheet => {
            found.warning(pair, "sheet", format!("{}; the first sync adds it", e.message()))
        }
        Ok(Err(e)) => empty_or_bad(pair, e, found),
        Err(e) => found.error(Kind::Schema, pair, "sheet", format!("reading `{shown}`: {e}")),
    }
}

/// Whether this process may write in `path` (a file or folder), asked without writing.
#[cfg(unix)]
fn writable(path: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let Ok(c) = std::ffi::CString::new(path.as_os_str().as_bytes()) else { return false };
    // SAFETY: `c` is a NUL-terminated path that outlives the call; access(2) only reads it.
    unsafe { libc::access(c.as_ptr(), libc::W_OK) == 0 }
}

#[cfg(not(unix))]
fn writable(path: &Path) -> bool {
    std::fs::metadata(path).map(|m| !m.permissions().readonly()).unwrap_or(false)
}
