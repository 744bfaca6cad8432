//! Export → open_tab: every kind of value comes back exactly.

use sheetbridge_core::testing::{edge_rows, edge_schema};
use sheetbridge_core::{ColumnType, RowSink, TableSchema, Value};
use sheetbridge_google_sheets::{ExportOptions, SheetRef, SheetsClient};

use crate::*;

/// Exports `rows` to a new spreadsheet; the tab's reference.
pub async fn export_new(
    c: &SheetsClient,
    s: &TableSchema,
    rows: &[Vec<Value>],
    tz: Option<&str>,
) -> SheetRef {
    let options =
        ExportOptions { create: true, time_zone: tz.map(str::to_owned), ..ExportOptions::default() };
    let mut w = c.export(None, s, &options).await.expect("export starts");
    for r in rows {
        w.row(r).expect("row");
    }
    let report = w.finish().await.expect("export finishes");
    assert_eq!(report.rows, rows.len() as u64);
    SheetRef::new(report.spreadsheet_id, Some(&report.tab))
}

#[tokio::test]
async fn every_value_kind_round_trips_exactly() {
    let emu = emulator();
    let c = client(&emu, "ada@example.com");
    let s = edge_schema();
    let rows = edge_rows();
    let at = export_new(&c, &s, &rows, None).await;
    let (layout, back) = read_all(&c, &at, &s).await.expect("reads back");
    assert_eq!(layout.columns.len(), s.columns.len());
    assert!(layout.unknown.is_empty() && layout.missing.is_empty(), "{layout:?}");
    assert_rows_eq(&s.columns, &back, &sheet_rows(&rows));
}

#[tokio::test]
async fn timestamptz_round_trips_through_a_spreadsheet_in_another_zone() {
    let emu = emulator();
    let c = client(&emu, "ada@example.com");
    let s = schema(
        "tz",
        vec![key("id", ColumnType::Int32, "int4"), col("at", ColumnType::TimestampTz, "timestamptz")],
    );
    let rows: Vec<Vec<Value>> = [
        ts(2024, 7, 1, 10, 0, 0, 0),
        ts(2024, 1, 15, 23, 30, 0, 250_000),
        // Berlin's clocks go back at 01:00 UTC: 02:30 local happens twice.
        ts(2024, 10, 27, 0, 30, 0, 0),
        ts(2024, 10, 27, 1, 30, 0, 0),
    ]
    .into_iter()
    .enumerate()
    .map(|(i, t)| vec![Value::Int(i as i64), Value::TimestampTz(t.and_utc())])
    .collect();
    let at = export_new(&c, &s, &rows, Some("Europe/Berlin")).await;
    let info = c.spreadsheet(&at.spreadsheet_id).await.expect("metadata");
    assert_eq!(info.time_zone, "Europe/Berlin");
    let (_, back) = read_all(&c, &at, &s).await.expect("reads back");
    assert_rows_eq(&s.columns, &back, &sheet_rows(&rows));
    // Summer 10:00 UTC is noon on the sheet.
    let shown = emu.with_sheets(|st| st.values_unformatted(&at.spreadsheet_id, "'tz'!B2")).expect("values");
    let serial = shown[0][0].as_f64().unwrap_or_default();
    assert!((serial.fract() - 0.5).abs() < 1e-9, "{serial}");
}

#[tokio::test]
async fn empty_string_and_null_stay_apart() {
    let emu = emulator();
    let c = client(&emu, "ada@example.com");
    let s = schema(
        "t",
        vec![
            key("id", ColumnType::Int32, "int4"),
            col("note", ColumnType::Text, "text"),
            col("n", ColumnType::Int32, "int4"),
        ],
    );
    let rows = vec![
        vec![Value::Int(1), text(""), Value::Null],
        vec![Value::Int(2), Value::Null, Value::Int(5)],
        vec![Value::Int(3), text("=\"\""), Value::Null],
        vec![Value::Int(4), text(""), Value::Int(7)],
    ];
    let at = export_new(&c, &s, &rows, None).await;
    let (_, back) = read_all(&c, &at, &s).await.expect("reads back");
    assert_rows_eq(&s.columns, &back, &sheet_rows(&rows));
}
