//! Writer → reader: every kind of value comes back exactly.

use std::io::Read;
use std::path::Path;

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
use sheetbridge_core::{ColumnType, ErrorKind, RowSink, TableSchema, Value};
use sheetbridge_xlsx::{WriteOptions, XlsxSource, XlsxWriter};

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
            text("+1"),
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

pub fn write(path: &Path, schema: &TableSchema, rows: &[Vec<Value>]) -> sheetbridge_xlsx::WriteReport {
    let mut w = XlsxWriter::create(path, schema, &WriteOptions::default()).unwrap();
    for r in rows {
        w.row(r).unwrap();
    }
    w.finish().unwrap()
}

fn sheet_xml(path: &Path) -> String {
    let mut zip = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
    let mut xml = String::new();
    zip.by_name("xl/worksheets/sheet1.xml").unwrap().read_to_string(&mut xml).unwrap();
    xml
}

#[test]
fn every_value_kind_round_trips_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("every_kind.xlsx");
    let s = every_kind_schema();
    let rows = every_kind_rows();
    let report = write(&path, &s, &rows);
    assert_eq!(report.rows, rows.len() as u64);
    assert_eq!(report.sheet, "every_kind");

    let (layout, back, summary) = read_all(&path, None, &s).unwrap();
    assert_eq!(layout.columns.len(), s.columns.len());
    assert_eq!(summary.rows, rows.len() as u64);
    let names: Vec<&str> = s.columns.iter().map(|c| c.name.as_str()).collect();
    let expected: Vec<(u32, Vec<Value>)> =
        rows.iter().enumerate().map(|(i, r)| (i as u32 + 2, r.clone())).collect();
    assert_rows(&back, &expected, &names);
}

#[test]
fn text_that_looks_like_a_formula_is_a_text_cell() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("formulas.xlsx");
    let s = schema("t", vec![key("id", ColumnType::Int32, "int4"), col("note", ColumnType::Text, "text")]);
    let rows: Vec<Vec<Value>> = ["=1+1", "+1", "-1", "@SUM(A1)", "=HYPERLINK(\"http://x\")", ""]
        .iter()
        .enumerate()
        .map(|(i, t)| vec![Value::Int(i as i64), text(t)])
        .collect();
    write(&path, &s, &rows);
    let xml = sheet_xml(&path);
    assert!(xml.contains(r#"<c r="B2" t="inlineStr"><is><t>=1+1</t></is></c>"#), "{xml}");
    assert!(xml.contains(r#"<is><t>@SUM(A1)</t></is>"#), "{xml}");
    // The only formula is the empty string's `=""`.
    assert_eq!(xml.matches("<f>").count(), 1, "{xml}");
    assert!(xml.contains(r#"t="str"><f>""</f><v></v>"#), "{xml}");
}

#[test]
fn header_is_bold_frozen_filtered_and_validated() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("look.xlsx");
    let s = every_kind_schema();
    write(&path, &s, &every_kind_rows());
    let xml = sheet_xml(&path);
    assert!(
        xml.contains(r#"<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>"#),
        "{xml}"
    );
    assert!(xml.contains(r#"<autoFilter ref="A1:Q9"/>"#), "{xml}");
    assert!(xml.contains(r#"<formula1>"TRUE,FALSE"</formula1>"#), "{xml}");
    assert!(xml.contains(r#"<formula1>"new,paid"</formula1>"#), "{xml}");
    assert!(xml.contains("<cols>"), "{xml}");
}

#[test]
fn long_enum_lists_live_on_a_hidden_sheet() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("enum.xlsx");
    let labels: Vec<String> = (0..40).map(|i| format!("status_number_{i}")).collect();
    let s = schema(
        "t",
        vec![key("id", ColumnType::Int32, "int4"), col("st", ColumnType::Enum(labels.clone()), "st")],
    );
    let report = write(&path, &s, &[vec![Value::Int(1), text("status_number_7")]]);
    assert!(report.skipped_validations.is_empty(), "{:?}", report.skipped_validations);
    let xml = sheet_xml(&path);
    assert!(xml.contains("<formula1>'sheetbridge_lists'!$A$1:$A$40</formula1>"), "{xml}");
    // The data sheet stays the first sheet, so a reader without a sheet name finds it.
    let (_, rows, _) = read_all(&path, None, &s).unwrap();
    assert_eq!(rows, vec![(2, vec![Value::Int(1), text("status_number_7")])]);
}

#[test]
fn cell_of_32768_characters_is_refused_naming_row_key_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("long.xlsx");
    let s = schema("t", vec![key("id", ColumnType::Int32, "int4"), col("note", ColumnType::Text, "text")]);
    let mut w = XlsxWriter::create(&path, &s, &WriteOptions::default()).unwrap();
    w.row(&[Value::Int(1), text("fine")]).unwrap();
    let e = w.row(&[Value::Int(42), Value::Text("x".repeat(32_768))]).unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::LimitExceeded);
    let m = e.to_string();
    assert!(m.contains("sheet `t` row 3 (key 42), column `note`: the text has 32768 characters"), "{m}");
    assert!(m.contains("limit of 32767"), "{m}");
    assert!(temp_files(dir.path()).is_empty(), "the temporary file is removed at once");
    assert!(w.finish().is_err(), "an abandoned workbook cannot be finished");
    assert!(!path.exists());
}

#[test]
fn header_matching_tolerates_case_and_blanks_but_not_ambiguity() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("headers.xlsx");
    let write_sheet = |header: &[&str], extra: Option<(u32, u16, &str)>| {
        let mut wb = rust_xlsxwriter::Workbook::new();
        let ws = wb.add_worksheet();
        for (c, h) in header.iter().enumerate() {
            if !h.is_empty() {
                ws.write_string(0, c as u16, *h).unwrap();
            }
            ws.write_number(1, c as u16, c as f64).unwrap();
        }
        if let Some((r, c, v)) = extra {
            ws.write_string(r, c, v).unwrap();
        }
        wb.save(&path).unwrap();
    };
    let s = schema("t", vec![key("id", ColumnType::Int32, "int4"), col("Qty", ColumnType::Int32, "int4")]);

    write_sheet(&["qty ", "ID"], Some((1, 5, "stray")));
    let (layout, rows, summary) = read_all(&path, None, &s).unwrap();
    assert_eq!(layout.columns, vec![0, 1]);
    assert_eq!(rows, vec![(2, vec![Value::Int(1), Value::Int(0)])]);
    assert_eq!(summary.beyond_header, vec!["F2".to_string()]);
    assert_eq!(summary.beyond_header_cells, 1);

    write_sheet(&["id", "qty", "id"], None);
    let e = XlsxSource::open(&path, None).unwrap().layout(&s).unwrap_err();
    assert!(e.to_string().ends_with("header cells A1 and C1 are both named `id`"), "{e}");

    write_sheet(&["id", "qty", "QTY "], None);
    let e = XlsxSource::open(&path, None).unwrap().layout(&s).unwrap_err();
    assert!(e.to_string().contains("header cells B1 (`qty`) and C1 (`QTY `) both match column `Qty`"), "{e}");

    write_sheet(&["id", "", "Qty"], None);
    let e = XlsxSource::open(&path, None).unwrap().layout(&s).unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::InvalidInput);
    assert!(e.to_string().contains("header cell B1 is blank but C1 (`Qty`) follows it"), "{e}");
}
