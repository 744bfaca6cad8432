//! `sheetbridge export`: a table or a query's result → a workbook sheet or a Google Sheet tab.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use serde::Serialize;
use sheetbridge_core::{Error, ErrorKind, RowSink, Source, TableName, Value};
use sheetbridge_google_sheets::{ExportOptions, SheetRef, SheetsClient, Tab};
use sheetbridge_postgres::{quote_ident, PgConn};
use sheetbridge_xlsx::{WriteOptions, WriteReport, XlsxWriter};

use crate::cli::ExportArgs;
use crate::endpoint::SheetLocation;
use crate::exit::Code;
use crate::output::Progress;

#[derive(Debug, Serialize)]
pub struct ExportSummary {
    /// The workbook path, or the tab as `gsheet://ID/Tab`.
    pub file: String,
    pub sheet: String,
    pub rows: u64,
    pub columns: usize,
    /// The workbook's size (0 for a Google Sheet).
    pub bytes: u64,
    /// The Google Sheet tab's browser link.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Sheets API requests made.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requests: Option<u64>,
    pub seconds: f64,
}

pub async fn run(args: ExportArgs) -> anyhow::Result<Code> {
    let summary = export(&args).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else if let Some(url) = &summary.url {
        println!(
            "exported {} rows × {} columns to `{}` ({} API requests) in {:.1} s\n{url}",
            summary.rows,
            summary.columns,
            summary.file,
            summary.requests.unwrap_or(0),
            summary.seconds
        );
    } else {
        println!(
            "exported {} rows × {} columns to `{}` sheet `{}` ({} KB) in {:.1} s",
            summary.rows,
            summary.columns,
            summary.file,
            summary.sheet,
            summary.bytes / 1024,
            summary.seconds
        );
    }
    Ok(Code::Success)
}

/// Where the rows go.
pub enum Destination {
    Workbook(PathBuf),
    /// A tab of an existing spreadsheet, or a new spreadsheet (`target: None`).
    Google {
        client: SheetsClient,
        target: Option<SheetRef>,
    },
}

/// Does the export and says what it wrote.
pub async fn export(args: &ExportArgs) -> anyhow::Result<ExportSummary> {
    // The destination is checked (and Google's credential found) before the database is touched.
    let destination = match (&args.to, args.create) {
        (Some(to), false) => match SheetLocation::parse(to)? {
            SheetLocation::Workbook(path) => Destination::Workbook(path),
            SheetLocation::Google(sheet) => {
                let (client, _) = crate::google::client(args.db.config.as_deref())?;
                Destination::Google { client, target: Some(sheet) }
            }
        },
        (None, true) => {
            let (client, _) = crate::google::client(args.db.config.as_deref())?;
            Destination::Google { client, target: None }
        }
        _ => anyhow::bail!("export needs --to FILE|gsheet://ID/Tab, or --create"),
    };
    export_to(args, destination).await
}

/// Exports to a destination already resolved (`args.to` and `args.create` are not looked at).
pub async fn export_to(args: &ExportArgs, destination: Destination) -> anyhow::Result<ExportSummary> {
    let started = Instant::now();
    let mut conn = super::connect(&args.db).await?;
    let mut summary = match (&args.table, &args.query) {
        (Some(table), _) => {
            let name = TableName::parse(table).map_err(|m| Error::new(ErrorKind::InvalidInput, m))?;
            let estimate = estimated_rows(&conn, &name).await;
            let default_sheet = name.name.clone();
            let mut source = conn.table(name);
            if !args.columns.is_empty() {
                source = source.with_columns(args.columns.clone());
            }
            if let Some(filter) = &args.filter {
                source = source.with_filter(filter.clone());
            }
            write_out(&mut source, args, destination, &default_sheet, estimate).await?
        }
        (None, Some(query)) => {
            let mut source = conn.query(query);
            write_out(&mut source, args, destination, "query", None).await?
        }
        (None, None) => anyhow::bail!("export needs --table or --query"),
    };
    summary.seconds = started.elapsed().as_secs_f64();
    Ok(summary)
}

/// Streams `source` to the destination.
async fn write_out<S: Source>(
    source: &mut S,
    args: &ExportArgs,
    destination: Destination,
    default_sheet: &str,
    estimate: Option<u64>,
) -> anyhow::Result<ExportSummary> {
    match destination {
        Destination::Workbook(path) => {
            let sheet = args.sheet.clone().unwrap_or_else(|| default_sheet.to_owned());
            let (rows, columns, report) = to_workbook(source, args, &path, &sheet, estimate).await?;
            Ok(ExportSummary {
                file: path.display().to_string(),
                sheet,
                rows,
                columns,
                bytes: report.bytes,
                url: None,
                requests: None,
                seconds: 0.0,
            })
        }
        Destination::Google { client, target } => {
            let tab = args.sheet.clone().or_else(|| match target.as_ref().map(|t| &t.tab) {
                Some(Tab::Name(_) | Tab::Gid(_)) => None,
                _ => Some(default_sheet.to_owned()),
            });
            let options = ExportOptions {
                create: args.create,
                title: args.title.clone(),
                tab,
                replace: args.replace,
                time_zone: None,
            };
            let what = match &target {
                Some(t) => format!("export to `{t}`"),
                None => "export to a new Google spreadsheet".to_owned(),
            };
            let schema = source.schema().await.with_context(|| what.clone())?;
            let mut writer =
                client.export(target.as_ref(), &schema, &options).await.with_context(|| what.clone())?;
            let progress = Progress::rows("exporting", estimate);
            let rows = scan_into(source, &mut writer, &progress).await.with_context(|| what.clone())?;
            progress.set_stage("sending");
            let report = writer.finish().await.with_context(|| what.clone())?;
            progress.finish();
            let sheet = SheetRef::new(report.spreadsheet_id.clone(), Some(&report.tab));
            Ok(ExportSummary {
                file: sheet.to_string(),
                sheet: report.tab,
                rows,
                columns: report.columns,
                bytes: 0,
                url: Some(report.url),
                requests: Some(report.requests),
                seconds: 0.0,
            })
        }
    }
}

/// Streams `source` into the workbook; returns rows, columns and the writer's report.
async fn to_workbook<S: Source>(
    source: &mut S,
    args: &ExportArgs,
    path: &Path,
    sheet: &str,
    estimate: Option<u64>,
) -> anyhow::Result<(u64, usize, WriteReport)> {
    let what = format!("export to `{}` sheet `{sheet}`", path.display());
    let schema = source.schema().await.with_context(|| what.clone())?;
    let options = WriteOptions { sheet: sheet.to_owned(), force: args.force, ..WriteOptions::default() };
    let mut writer = XlsxWriter::create(path, &schema, &options).with_context(|| what.clone())?;

    let progress = Progress::rows("exporting", estimate);
    // On error the writer is dropped unfinished, which removes its temporary file.
    let rows = scan_into(source, &mut writer, &progress).await.with_context(|| what.clone())?;
    progress.set_stage("compressing");
    let report = writer.finish().with_context(|| what.clone())?;
    progress.finish();
    Ok((rows, schema.columns.len(), report))
}

/// Scans `source` into `writer`, counting rows on the progress bar.
async fn scan_into<S: Source, W: RowSink + Send>(
    source: &mut S,
    writer: &mut W,
    progress: &Progress,
) -> Result<u64, Error> {
    let mut pending = 0u64;
    let mut sink = |row: &[Value]| -> Result<(), Error> {
        writer.row(row)?;
        pending += 1;
        if pending == 4096 {
            progress.inc(pending);
            pending = 0;
        }
        Ok(())
    };
    source.scan(&mut sink).await
}

/// The planner's row estimate, for the progress bar; `None` when unknown.
async fn estimated_rows(conn: &PgConn, name: &TableName) -> Option<u64> {
    let qualified = match &name.schema {
        Some(s) => format!("{}.{}", quote_ident(s), quote_ident(&name.name)),
        None => quote_ident(&name.name),
    };
    let row = conn
        .client()
        .query_opt("SELECT reltuples::int8 FROM pg_class WHERE oid = to_regclass($1)", &[&qualified])
        .await
        .ok()??;
    let n: i64 = row.get(0);
    u64::try_from(n).ok().filter(|n| *n > 0)
}
