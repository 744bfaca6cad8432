//! The writer's cost over a bare rust_xlsxwriter pipeline, without Postgres.
//!
//!     cargo bench -p sheetbridge-xlsx --bench export -- [ROWS] [RUNS]
//!
//! `XlsxWriter` runs twice per round: with its default compression level
//! and with level 6, the bare pipeline's (rust_xlsxwriter's default).
//!
//! Both sides write the same 9-column rows, shaped like the speed
//! benchmark's `bench.orders` (see benches/ at the root), to a
//! constant-memory sheet: `bare` as benches/src/bin/bare.rs does (numbers,
//! strings, two prepared date formats), `XlsxWriter` with everything it adds
//! (exactness checks, per-column formats, widths, validation, autofilter,
//! atomic rename). The rows are made on the fly the same way for both and
//! the runs alternate; the median of each is printed with the ratio.

use std::path::Path;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use rust_xlsxwriter::{Format, Workbook};
use sheetbridge_core::{RowSink, Value};
use sheetbridge_xlsx::{WriteOptions, XlsxWriter};

#[path = "shared/orders.rs"]
mod orders;
use orders::{fill, schema};

const COLUMNS: [&str; 9] =
    ["id", "customer", "email", "amount", "quantity", "ordered_at", "ship_date", "paid", "notes"];

fn bare(path: &Path, rows: u64) -> Duration {
    let start = Instant::now();
    let mut workbook = Workbook::new();
    let ts_format = Format::new().set_num_format("yyyy-mm-dd hh:mm:ss");
    let date_format = Format::new().set_num_format("yyyy-mm-dd");
    let sheet = workbook.add_worksheet_with_constant_memory().expect("sheet");
    sheet.set_name("orders").expect("name");
    for (c, name) in COLUMNS.iter().enumerate() {
        sheet.write_string(0, c as u16, *name).expect("header");
    }
    let mut row = vec![Value::Null; 9];
    const SERIAL_1970: f64 = 25_569.0;
    for id in 1..=rows {
        fill(id, &mut row);
        let r = id as u32;
        let s = &mut *sheet;
        if let Value::Int(i) = row[0] {
            s.write_number(r, 0, i as f64).expect("cell");
        }
        for c in [1usize, 2, 8] {
            if let Value::Text(t) = &row[c] {
                s.write_string(r, c as u16, t.as_str()).expect("cell");
            }
        }
        if let Value::Numeric(n) = &row[3] {
            s.write_number(r, 3, n.parse::<f64>().unwrap_or(0.0)).expect("cell");
        }
        if let Value::Int(i) = row[4] {
            s.write_number(r, 4, i as f64).expect("cell");
        }
        if let Value::TimestampTz(t) = row[5] {
            let serial = t.timestamp_micros() as f64 / 86_400_000_000.0 + SERIAL_1970;
            s.write_number_with_format(r, 5, serial, &ts_format).expect("cell");
        }
        if let Value::Date(d) = row[6] {
            let days = (d - NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default()).num_days();
            s.write_number_with_format(r, 6, days as f64 + SERIAL_1970, &date_format).expect("cell");
        }
        if let Value::Bool(b) = row[7] {
            s.write_boolean(r, 7, b).expect("cell");
        }
    }
    workbook.save(path).expect("save");
    start.elapsed()
}

fn ours(path: &Path, rows: u64, level: Option<u8>) -> Duration {
    let start = Instant::now();
    let schema = schema();
    let mut options = WriteOptions { sheet: "orders".into(), ..WriteOptions::default() };
    if let Some(level) = level {
        options.compression_level = level;
    }
    let mut w = XlsxWriter::create(path, &schema, &options).expect("create");
    let mut row = vec![Value::Null; 9];
    for id in 1..=rows {
        fill(id, &mut row);
        w.row(&row).expect("row");
    }
    w.finish().expect("finish");
    start.elapsed()
}

fn bare_read(path: &Path) -> Duration {
    let start = Instant::now();
    let mut wb: calamine::Xlsx<_> = calamine::open_workbook(path).expect("open");
    let mut cells = wb.worksheet_cells_reader("orders").expect("sheet");
    let mut n = 0u64;
    while let Some(cell) = cells.next_cell().expect("cell") {
        if !matches!(cell.get_value(), calamine::DataRef::Empty) {
            n += 1;
        }
    }
    assert!(n > 0);
    start.elapsed()
}

fn ours_read(path: &Path, rows: u64) -> Duration {
    let start = Instant::now();
    let schema = schema();
    let mut source = sheetbridge_xlsx::XlsxSource::open(path, None).expect("open");
    let layout = source.layout(&schema).expect("layout");
    let mut n = 0u64;
    let summary = source
        .read(&layout, &schema, |_, _| {
            n += 1;
            Ok(())
        })
        .expect("read");
    assert_eq!((summary.rows, n), (rows, rows));
    start.elapsed()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    let rows: u64 = args.first().and_then(|a| a.parse().ok()).unwrap_or(1_000_000);
    let runs: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(3);
    let dir = std::env::temp_dir();
    let a = dir.join("sheetbridge-bench-bare.xlsx");
    let b = dir.join("sheetbridge-bench-ours.xlsx");
    let c = dir.join("sheetbridge-bench-ours-6.xlsx");
    let (mut tb, mut to, mut t6) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..runs {
        tb.push(bare(&a, rows));
        to.push(ours(&b, rows, None));
        t6.push(ours(&c, rows, Some(6)));
    }
    let (mb, mo, m6) = (median(tb.clone()), median(to.clone()), median(t6.clone()));
    let size = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    println!("rows {rows}, runs {runs} (round-robin), median and runs, ratio to bare, file size");
    let line = |name: &str, m: Duration, all: &[Duration], p: &Path| {
        println!(
            "{name:<24} {:>6.2} s  {all:.2?}  {:.3}x  {} bytes",
            m.as_secs_f64(),
            m.as_secs_f64() / mb.as_secs_f64(),
            size(p)
        )
    };
    line("bare rust_xlsxwriter", mb, &tb, &a);
    line("XlsxWriter (default)", mo, &to, &b);
    line("XlsxWriter (level 6)", m6, &t6, &c);

    // Reading the file back: XlsxSource (every cell converted and checked)
    // against calamine's bare cell reader.
    let (mut rb, mut ro) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        rb.push(bare_read(&b));
        ro.push(ours_read(&b, rows));
    }
    let (mrb, mro) = (median(rb.clone()), median(ro.clone()));
    println!("read calamine cells      {:>6.2} s  {rb:.2?}", mrb.as_secs_f64());
    println!(
        "read XlsxSource          {:>6.2} s  {ro:.2?}  {:.3}x",
        mro.as_secs_f64(),
        mro.as_secs_f64() / mrb.as_secs_f64()
    );
}
