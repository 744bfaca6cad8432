//! `sheetbridge export`: a table or a query's result → a workbook sheet.

use std::time::Instant;

use anyhow::Context;
use serde::Serialize;
use sheetbridge_core::{Error, ErrorKind, RowSink, Source, TableName, Value};
use sheetbridge_postgres::{quote_ident, PgConn};
use sheetbridge_xlsx::{WriteOptions, WriteReport, XlsxWriter};

use crate::cli::ExportArgs;
use crate::exit::Code;
use crate::output::Progress;

#[derive(Debug, Serialize)]
pub struct ExportSummary {
    pub file: String,
    pub sheet: String,
    pub rows: u64,
    pub columns: usize,
    pub bytes: u64,
    pub seconds: f64,
}

pub async fn run(args: ExportArgs) -> anyhow::Result<Code> {
    let summary = export(&args).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
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

/// Does the export and says what it wrote.
pub async fn export(args: &ExportArgs) -> anyhow::Result<ExportSummary> {
    let started = Instant::now();
    let mut conn = super::connect(&args.db).await?;
    let (summary_rows, columns, sheet, report) = match (&args.table, &args.query) {
        (Some(table), _) => {
            let name = TableName::parse(table).map_err(|m| Error::new(ErrorKind::InvalidInput, m))?;
            let estimate = estimated_rows(&conn, &name).await;
            let sheet = args.sheet.clone().unwrap_or_else(|| name.name.clone());
            let mut source = conn.table(name);
            if !args.columns.is_empty() {
                source = source.with_columns(args.columns.clone());
            }
            if let Some(filter) = &args.filter {
                source = source.with_filter(filter.clone());
            }
            let (rows, columns, report) = write_out(&mut source, args, &sheet, estimate).await?;
            (rows, columns, sheet, report)
        }
        (None, Some(query)) => {
            let sheet = args.sheet.clone().unwrap_or_else(|| "query".to_owned());
            let mut source = conn.query(query);
            let (rows, columns, report) = write_out(&mut source, args, &sheet, None).await?;
            (rows, columns, sheet, report)
        }
        (None, None) => anyhow::bail!("export needs --table or --query"),
    };
    Ok(ExportSummary {
        file: args.to.display().to_string(),
        sheet,
        rows: summary_rows,
        columns,
        bytes: report.bytes,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Streams `source` into the workbook; returns rows, columns and the writer's report.
async fn write_out<S: Source>(
    source: &mut S,
    args: &ExportArgs,
    sheet: &str,
    estimate: Option<u64>,
) -> anyhow::Result<(u64, usize, WriteReport)> {
    let what = format!("export to `{}` sheet `{sheet}`", args.to.display());
    let schema = source.schema().await.with_context(|| what.clone())?;
    let options = WriteOptions { sheet: sheet.to_owned(), force: args.force, ..WriteOptions::default() };
    let mut writer = XlsxWriter::create(&args.to, &schema, &options).with_context(|| what.clone())?;

    let progress = Progress::rows("exporting", estimate);
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
    // On error the writer is dropped unfinished, which removes its temporary file.
    let rows = source.scan(&mut sink).await.with_context(|| what.clone())?;
    progress.set_stage("compressing");
    let report = writer.finish().with_context(|| what.clone())?;
    progress.finish();
    Ok((rows, schema.columns.len(), report))
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
