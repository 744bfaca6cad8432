//! The conformance suite every spreadsheet connector's round trip passes, and
//! the helpers its tests build tables with (the `testing` feature; never in
//! a release build).
//!
//! [`edge_schema`] has a column of every [`ColumnType`]; [`edge_rows`] fills
//! them with the values a sheet most easily gets wrong (integers beyond
//! 2^53, exact numerics, NaN and the infinities, dates outside the serials'
//! range, microseconds, text that looks like a formula or a number, NULL
//! beside `""`, the longest text a cell holds). A connector writes them,
//! reads them back and compares with [`assert_rows_eq`], which names the
//! first differing row (sheet row and key) and column, expected vs actual.
//!
//! ```
//! use sheetbridge_core::testing::{assert_rows_eq, edge_rows, edge_schema, sheet_rows};
//!
//! let schema = edge_schema();
//! let written = sheet_rows(&edge_rows());
//! let read_back = written.clone(); // a connector's write and read go here
//! assert_rows_eq(&schema.columns, &read_back, &written);
//! ```

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};

use crate::schema::RelationKind;
use crate::{Column, ColumnType, Key, TableName, TableSchema, Value};

/// Rows as a connector reads them: (sheet row number, values).
pub type Rows = Vec<(u32, Vec<Value>)>;

/// A nullable column that is not part of the key.
pub fn col(name: &str, ty: ColumnType, type_name: &str) -> Column {
    Column::new(name, ty, type_name)
}

/// A key column (not nullable).
pub fn key(name: &str, ty: ColumnType, type_name: &str) -> Column {
    let mut c = Column::new(name, ty, type_name);
    c.key = true;
    c.nullable = false;
    c
}

/// A table `name` (no schema) of `columns`.
pub fn schema(name: &str, columns: Vec<Column>) -> TableSchema {
    TableSchema { name: TableName::new(None, name), kind: RelationKind::Table, columns }
}

/// `numeric(p, s)`.
pub fn numeric(p: u32, s: u32) -> ColumnType {
    ColumnType::Numeric { precision: Some(p), scale: Some(s) }
}

pub fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("valid test date")
}

pub fn ts(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32, us: u32) -> NaiveDateTime {
    date(y, mo, d).and_hms_micro_opt(h, mi, s, us).expect("valid test time")
}

pub fn text(s: &str) -> Value {
    Value::Text(s.into())
}

pub fn num(s: &str) -> Value {
    Value::Numeric(s.into())
}

/// `rows` numbered as a sheet with its header in row 1 holds them (from row 2).
pub fn sheet_rows(rows: &[Vec<Value>]) -> Rows {
    rows.iter().enumerate().map(|(i, r)| (i as u32 + 2, r.clone())).collect()
}

/// The table `every_kind`: a key, then a column of every [`ColumnType`]
/// (two numerics: plain and `numeric(12,2)`).
pub fn edge_schema() -> TableSchema {
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
            col("count", ColumnType::Int32, "int4"),
        ],
    )
}

/// Rows covering the edges of every kind, in [`edge_schema`] order; keys 1 to 9.
pub fn edge_rows() -> Vec<Vec<Value>> {
    let n = Value::Null;
    let t = |h, m, s, us| Value::Time(NaiveTime::from_hms_micro_opt(h, m, s, us).expect("valid time"));
    let tz = |t: NaiveDateTime| Value::TimestampTz(t.and_utc());
    let f4 = |f: f32| Value::Float(f as f64);
    // A row of `id` and NULLs but for `note`.
    let only_note = |id: i64, note: Value| {
        let mut row = vec![n.clone(); 18];
        row[0] = Value::Int(id);
        row[12] = note;
        row
    };
    let mut rows = vec![
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
            text("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
            text("paid"),
            text("{1,2,3}"),
            Value::Int(i32::MIN as i64),
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
            Value::Int(i32::MAX as i64),
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
            Value::Int(0),
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
            Value::TimestampTz(DateTime::<Utc>::MIN_UTC),
            n.clone(),
            text("-1"),
            n.clone(),
            n.clone(),
            n.clone(),
            n.clone(),
            Value::Int(-1),
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
            n.clone(),
        ],
    ];
    let mut six = only_note(6, text("007"));
    six[3] = num("0.00000000000000000001");
    six[8] = Value::Date(NaiveDate::MIN);
    rows.push(six);
    let mut seven = only_note(7, text("Ünïcödé 🙂 emoji 👩‍👩‍👧 and\nnew line\t tab  "));
    seven[3] = num("-0.000001");
    rows.push(seven);
    // The longest text a cell holds: 32,767 UTF-16 units (2-byte UTF-8 each).
    rows.push(only_note(8, Value::Text("ü".repeat(32_767))));
    // A leading `+` (like `-` and `=`) must not make the text a number or a formula.
    rows.push(only_note(9, text("+1")));
    rows
}

/// Asserts that `actual` rows are `expected`, both `(sheet row, values of
/// columns)`. A difference panics naming the first differing row (its sheet
/// row and, when `columns` has key columns, its key) and column, with the
/// expected and the actual value.
#[track_caller]
pub fn assert_rows_eq(columns: &[Column], actual: &[(u32, Vec<Value>)], expected: &[(u32, Vec<Value>)]) {
    let keys: Vec<usize> = columns.iter().enumerate().filter(|(_, c)| c.key).map(|(i, _)| i).collect();
    let row = |(n, values): &(u32, Vec<Value>)| {
        if keys.is_empty() {
            format!("sheet row {n}")
        } else {
            let key = Key(keys.iter().map(|&i| values.get(i).cloned().unwrap_or_default()).collect());
            format!("sheet row {n} (key {key})")
        }
    };
    for (a, e) in actual.iter().zip(expected) {
        if a.0 != e.0 {
            panic!("{}: read as sheet row {}", row(e), a.0);
        }
        for (i, (av, ev)) in a.1.iter().zip(&e.1).enumerate() {
            if av != ev {
                let name = columns.get(i).map_or("?", |c| c.name.as_str());
                panic!("{}, column `{name}`: expected {ev:?}, got {av:?}", row(e));
            }
        }
        if a.1.len() != e.1.len() {
            panic!("{}: expected {} values, got {}", row(e), e.1.len(), a.1.len());
        }
    }
    if let Some(missing) = expected.get(actual.len()) {
        panic!(
            "{}: expected, not read ({} rows expected, {} read)",
            row(missing),
            expected.len(),
            actual.len()
        );
    }
    if let Some(extra) = actual.get(expected.len()) {
        panic!(
            "{}: read, not expected ({} rows expected, {} read)",
            row(extra),
            expected.len(),
            actual.len()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_edge_schema_has_a_column_of_every_type() {
        // A new ColumnType fails to compile here until the suite has a column of it.
        let index = |ty: &ColumnType| match ty {
            ColumnType::Bool => 0,
            ColumnType::Int16 => 1,
            ColumnType::Int32 => 2,
            ColumnType::Int64 => 3,
            ColumnType::Numeric { .. } => 4,
            ColumnType::Float32 => 5,
            ColumnType::Float64 => 6,
            ColumnType::Text => 7,
            ColumnType::Date => 8,
            ColumnType::Time => 9,
            ColumnType::Timestamp => 10,
            ColumnType::TimestampTz => 11,
            ColumnType::Json => 12,
            ColumnType::Uuid => 13,
            ColumnType::Enum(_) => 14,
            ColumnType::Other => 15,
        };
        let schema = edge_schema();
        let mut seen = [false; 16];
        for c in &schema.columns {
            seen[index(&c.ty)] = true;
        }
        assert_eq!(seen, [true; 16], "{:?}", schema.columns);
        for (i, r) in edge_rows().iter().enumerate() {
            assert_eq!(r.len(), schema.columns.len(), "row {i}");
            assert_eq!(r[0], Value::Int(i as i64 + 1), "keys are 1, 2, ...");
        }
    }

    #[test]
    #[should_panic(expected = "sheet row 3 (key 2), column `note`: expected Text(\"a\"), got Null")]
    fn a_difference_names_the_row_key_and_column() {
        let s =
            schema("t", vec![key("id", ColumnType::Int32, "int4"), col("note", ColumnType::Text, "text")]);
        let expected = sheet_rows(&[vec![Value::Int(1), text("")], vec![Value::Int(2), text("a")]]);
        let mut actual = expected.clone();
        actual[1].1[1] = Value::Null;
        assert_rows_eq(&s.columns, &actual, &expected);
    }

    #[test]
    #[should_panic(expected = "sheet row 3 (key 2): expected, not read (2 rows expected, 1 read)")]
    fn a_missing_row_is_named() {
        let s = schema("t", vec![key("id", ColumnType::Int32, "int4")]);
        let expected = sheet_rows(&[vec![Value::Int(1)], vec![Value::Int(2)]]);
        assert_rows_eq(&s.columns, &expected[..1], &expected);
    }
}
