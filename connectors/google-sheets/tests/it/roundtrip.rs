//! Export → open_tab: every kind of value comes back exactly.

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
use sheetbridge_core::{ColumnType, RowSink, TableSchema, Value};
use sheetbridge_google_sheets::{ExportOptions, SheetRef, SheetsClient};

use crate::*;

pub fn every_kind_schema() -> TableSchema {
    schema(
        "every_kind",
        vec![
            key("id", ColumnType::Int64, "int8"),
            col("big", ColumnType::Int64, "int8"),
            col("small", ColumnType::Int16, "int2"),
            col("n", ColumnType::Numeric { precision: None, scale: None }, "numeric"),
            col("money", numeric(12, 2), "numeric(12,2)"),
            col("f8", ColumnType::Float64, "float8"),
            col("f4", ColumnType::Float32, "float4"),
            col("flag", ColumnType::Bool, "bool"),
            col("day", ColumnType::Date, "date"),
            col("at", ColumnType::Timestamp, "timestamp"),
            col("at_tz", ColumnType::TimestampTz, "timestamptz"),
            col("clock", ColumnType::Time, "time"),
            col("note", ColumnType::Text, "text"),
            col("doc", ColumnType::Json, "jsonb"),
            col("uid", ColumnType::Uuid, "uuid"),
            col("status", ColumnType::Enum(vec!["new".into(), "paid".into()]), "order_status"),
            col("tags", ColumnType::Other, "text[]"),
        ],
    )
}

fn tz(t: NaiveDateTime) -> Value {
    Value::TimestampTz(t.and_utc())
}

/// Rows covering the edges of every kind, in `every_kind_schema` order.
pub fn every_kind_rows() -> Vec<Vec<Value>> {
    let n = Value::Null;
    let t = |h, m, s, us| Value::Time(NaiveTime::from_hms_micro_opt(h, m, s, us).expect("valid time"));
    let f4 = |f: f32| Value::Float(f as f64);
    let uuid = text("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
    vec![
        vec![
            Value::Int(1),
            Value::Int(i64::MAX),
            Value::Int(i16::MIN as i64),
            num("12345678901234567890.123456789"),
            num("1.50"),
            Value::Float(0.1),
            f4(0.1),
            Value::Bool(true),
            Value::Date(date(1850, 1, 1)),
            Value::Timestamp(ts(2024, 5, 1, 13, 45, 7, 123_456)),
            tz(ts(2024, 5, 1, 11, 45, 0, 0)),
            t(13, 45, 7, 500_000),
            text("=SUM(A1:A2)"),
            Value::Json(r#"{"a": [1, 2.5, "x"]}"#.into()),
            uuid.clone(),
            text("paid"),
            text("{1,2,3}"),
        ],
        vec![
            Value::Int(2),
            Value::Int(i64::MIN),
            Value::Int(i16::MAX as i64),
            num("NaN"),
            num("-0.01"),
            Value::Float(f64::NAN),
            f4(f32::NEG_INFINITY),
            Value::Bool(false),
            Value::Date(date(10000, 1, 1)),
            Value::Timestamp(ts(1899, 12, 31, 23, 59, 59, 999_999)),
            tz(ts(2024, 12, 31, 23, 59, 59, 999_999)),
            t(0, 0, 0, 0),
            text(""),
            Value::Json("[]".into()),
            n.clone(),
            text("new"),
            text(r#"{"a,b","c\"d"}"#),
        ],
        vec![
            Value::Int(3),
            Value::Int(9_007_199_254_740_992),
            Value::Int(0),
            num("Infinity"),
            num("9999999999.99"),
            Value::Float(-0.0),
            f4(1.5),
            n.clone(),
            Value::Date(date(1900, 2, 28)),
            Value::Timestamp(ts(9999, 12, 31, 23, 59, 59, 0)),
            tz(ts(1970, 1, 1, 0, 0, 0, 1)),
            t(23, 59, 59, 999_999),
            text("'quoted"),
            Value::Json("null".into()),
            n.clone(),
            n.clone(),
            n.clone(),
        ],
        vec![
            Value::Int(4),
            Value::Int(-9_007_199_254_740_993),
            n.clone(),
            num("-Infinity"),
            num("0.00"),
            Value::Float(f64::INFINITY),
            f4(f32::MAX),
            n.clone(),
            Value::Date(date(1900, 3, 1)),
            Value::Timestamp(NaiveDateTime::MAX),
            Value::TimestampTz(chrono::DateTime::<chrono::Utc>::MIN_UTC),
            n.clone(),
            text("-1"),
            n.clone(),
            n.clone(),
            n.clone(),
            n.clone(),
        ],
        vec![
            Value::Int(5),
            Value::Int(9_007_199_254_740_993),
            n.clone(),
            num("0.1"),
            num("-12345678.90"),
            Value::Float(1e300),
            n.clone(),
            n.clone(),
            Value::Date(NaiveDate::MAX),
            Value::Timestamp(ts(1900, 1, 1, 0, 0, 0, 0)),
            n.clone(),
            n.clone(),
            text("@x"),
            n.clone(),
            n.clone(),
            n.clone(),
            n.clone(),
        ],
        vec![
            Value::Int(6),
            n.clone(),
            n.clone(),
            num("0.00000000000000000001"),
            n.clone(),
            n.clone(),
            n.clone(),
            n.clone(),
            Value::Date(NaiveDate::MIN),
            n.clone(),
            n.clone(),
            n.clone(),
            text("007"),
            n.clone(),
            n.clone(),
            n.clone(),
            n.clone(),
        ],
        vec![
            Value::Int(7),
            n.clone(),
            n.clone(),
            num("-0.000001"),
            n.clone(),
            n.clone(),
            n.clone(),
            n.clone(),
            n.clone(),
            n.clone(),
            n.clone(),
            n.clone(),
            text("Ünïcödé 🙂 emoji 👩‍👩‍👧 and\nnew line\t tab  "),
            n.clone(),
            n.clone(),
            n.clone(),
            n.clone(),
        ],
        vec![
            Value::Int(8),
            n.clone(),
            n.clone(),
            n.clone(),
            n.clone(),
            n.clone(),
            n.clone(),
            n.clone(),
            n.clone(),
            n.clone(),
            n.clone(),
            n.clone(),
            // The longest text a cell holds: 32,767 UTF-16 units (2-byte UTF-8 each).
            Value::Text("ü".repeat(32_767)),
            n.clone(),
            n.clone(),
            n.clone(),
            n,
        ],
    ]
}

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
    let s = every_kind_schema();
    let rows = every_kind_rows();
    let at = export_new(&c, &s, &rows, None).await;
    let (layout, back) = read_all(&c, &at, &s).await.expect("reads back");
    assert_eq!(layout.columns.len(), s.columns.len());
    assert!(layout.unknown.is_empty() && layout.missing.is_empty(), "{layout:?}");
    let names: Vec<&str> = s.columns.iter().map(|c| c.name.as_str()).collect();
    let expected: Rows = rows.iter().enumerate().map(|(i, r)| (i as u32 + 2, r.clone())).collect();
    assert_rows(&back, &expected, &names);
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
    let expected: Rows = rows.iter().enumerate().map(|(i, r)| (i as u32 + 2, r.clone())).collect();
    assert_rows(&back, &expected, &["id", "at"]);
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
    let expected: Rows = rows.iter().enumerate().map(|(i, r)| (i as u32 + 2, r.clone())).collect();
    assert_rows(&back, &expected, &["id", "note", "n"]);
}
