//! What rewriting one sheet of an existing workbook costs over exporting
//! the same rows to a new file, without Postgres.
//!
//!     cargo bench -p sheetbridge-xlsx --bench rewrite -- [ROWS] [RUNS]
//!
//! Each round copies tests/fixtures/multi_sheet_libreoffice.xlsx (three
//! sheets, a chart, defined names), then `export` writes ROWS rows with
//! `XlsxWriter` to a new file and `rewrite` writes them as its `Orders`
//! sheet with `rewrite_sheet` (scratch workbook, splice, backup, rename).
//! The rows are the export bench's 9 columns, made on the fly; the median of
//! each is printed with the ratio.

use std::path::Path;
use std::time::{Duration, Instant};

use sheetbridge_core::{RowSink, Value};
use sheetbridge_xlsx::{RewriteOptions, SheetRewriter, WriteOptions, XlsxWriter};

#[path = "shared/orders.rs"]
mod orders;
use orders::{fill, schema};

fn export(path: &Path, rows: u64) -> Duration {
    let start = Instant::now();
    let mut w = XlsxWriter::create(path, &schema(), &WriteOptions::default()).expect("writer");
    let mut row = vec![Value::Null; 9];
    for id in 1..=rows {
        fill(id, &mut row);
        w.row(&row).expect("row");
    }
    w.finish().expect("finish");
    start.elapsed()
}

fn rewrite(path: &Path, rows: u64) -> Duration {
    let start = Instant::now();
    let options = RewriteOptions { keep_backups: 1, ..RewriteOptions::default() };
    let mut w = SheetRewriter::open(path, "Orders", &schema(), &options).expect("rewriter");
    let mut row = vec![Value::Null; 9];
    for id in 1..=rows {
        fill(id, &mut row);
        w.row(&row).expect("row");
    }
    w.finish().expect("finish");
    start.elapsed()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let args: Vec<u64> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let rows = args.first().copied().unwrap_or(100_000);
    let runs = args.get(1).copied().unwrap_or(3).max(1);
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/multi_sheet_libreoffice.xlsx");
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut exports, mut rewrites) = (Vec::new(), Vec::new());
    let (mut export_bytes, mut rewrite_bytes) = (0, 0);
    for _ in 0..runs {
        let new = dir.path().join("export.xlsx");
        exports.push(export(&new, rows));
        export_bytes = std::fs::metadata(&new).map(|m| m.len()).unwrap_or(0);
        let book = dir.path().join("book.xlsx");
        std::fs::copy(&fixture, &book).expect("copy the fixture");
        rewrites.push(rewrite(&book, rows));
        rewrite_bytes = std::fs::metadata(&book).map(|m| m.len()).unwrap_or(0);
    }
    let (e, r) = (median(exports), median(rewrites));
    println!("rows {rows}, runs {runs}");
    println!("export  {:>8.3} s  {export_bytes} bytes", e.as_secs_f64());
    println!(
        "rewrite {:>8.3} s  {rewrite_bytes} bytes  ({:.2}x the export)",
        r.as_secs_f64(),
        r.as_secs_f64() / e.as_secs_f64()
    );
}
