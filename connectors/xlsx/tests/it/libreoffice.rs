//! Our output opened by LibreOffice itself (headless, converted to CSV).
//!
//! Needs `soffice` (Debian: `apt-get install -y --no-install-recommends
//! libreoffice-calc`); without it this test fails rather than skips.

use sheetbridge_core::{ColumnType, Value};
use sheetbridge_xlsx::testing::{parse_csv, soffice_to_csv};

use crate::roundtrip::write;
use crate::*;

#[test]
fn libreoffice_shows_our_values_as_typed_cells() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shown.xlsx");
    let s = schema(
        "shown",
        vec![
            key("id", ColumnType::Int64, "int8"),
            col("money", numeric(12, 2), "numeric(12,2)"),
            col("day", ColumnType::Date, "date"),
            col("at", ColumnType::Timestamp, "timestamp"),
            col("flag", ColumnType::Bool, "bool"),
            col("note", ColumnType::Text, "text"),
            col("n", ColumnType::Numeric { precision: None, scale: None }, "numeric"),
        ],
    );
    let rows = vec![
        vec![
            Value::Int(1),
            num("1.50"),
            Value::Date(date(2024, 5, 1)),
            Value::Timestamp(ts(2024, 5, 1, 13, 45, 7, 0)),
            Value::Bool(true),
            text("=1+1"),
            num("12345678901234567890.123456789"),
        ],
        vec![
            Value::Int(i64::MAX),
            num("-0.01"),
            Value::Date(date(1850, 1, 1)),
            Value::Timestamp(ts(2024, 5, 1, 13, 45, 7, 250_000)),
            Value::Bool(false),
            text(""),
            num("NaN"),
        ],
        vec![
            Value::Int(3),
            Value::Null,
            Value::Null,
            Value::Null,
            Value::Null,
            text("Ünïcödé 🙂, \"quoted\""),
            num("0.1"),
        ],
    ];
    write(&path, &s, &rows);
    let csv = soffice_to_csv(&path, dir.path());
    let got = parse_csv(&csv);
    let expected: Vec<Vec<&str>> = vec![
        vec!["id", "money", "day", "at", "flag", "note", "n"],
        vec![
            "1",
            "1.50",
            "2024-05-01",
            "2024-05-01 13:45:07",
            "TRUE",
            "=1+1",
            "12345678901234567890.123456789",
        ],
        vec!["9223372036854775807", "-0.01", "1850-01-01", "2024-05-01 13:45:07.250", "FALSE", "", "NaN"],
        vec!["3", "", "", "", "", "Ünïcödé 🙂, \"quoted\"", "0.1"],
    ];
    for (i, (g, e)) in got.iter().zip(&expected).enumerate() {
        assert_eq!(g, e, "line {} of LibreOffice's CSV differs; whole CSV:\n{csv}", i + 1);
    }
    assert_eq!(got.len(), expected.len(), "{csv}");
}
