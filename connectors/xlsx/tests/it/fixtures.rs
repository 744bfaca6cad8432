//! Workbooks written by other programs (openpyxl, LibreOffice), read with
//! exact expected values. tests/fixtures/make_fixtures.py wrote them.

use sheetbridge_core::convert::SerialEpoch;
use sheetbridge_core::{ColumnType, ErrorKind, Value};
use sheetbridge_xlsx::XlsxSource;

use crate::*;

#[test]
fn openpyxl_types_reordered_headers_blank_and_trailing_formatted_rows() {
    let s = schema(
        "orders",
        vec![
            key("id", ColumnType::Int64, "int8"),
            col("name", ColumnType::Text, "text"),
            col("qty", ColumnType::Int32, "int4"),
            col("price", numeric(12, 2), "numeric(12,2)"),
            col("ordered_on", ColumnType::Date, "date"),
            col("ordered_at", ColumnType::Timestamp, "timestamp"),
            col("paid", ColumnType::Bool, "bool"),
            col("code", ColumnType::Text, "text"),
            col("ratio", ColumnType::Float64, "float8"),
            col("missing_col", ColumnType::Text, "text"),
        ],
    );
    let (layout, rows, summary) = read_all(&fixture("openpyxl_types.xlsx"), Some("Orders"), &s).unwrap();
    assert_eq!(layout.columns, vec![0, 1, 2, 3, 4, 5, 6, 7, 8]);
    assert_eq!(layout.unknown, vec!["comment".to_string()]);
    assert_eq!(layout.missing, vec!["missing_col".to_string()]);
    assert_eq!(layout.header_row, 1);
    // Every column but the missing one, which is last.
    let read = &s.columns[..s.columns.len() - 1];
    let expected = vec![
        (
            2,
            vec![
                Value::Int(1),
                text("Widget"),
                Value::Int(3),
                num("19.99"),
                Value::Date(date(2024, 1, 15)),
                Value::Timestamp(ts(2024, 1, 15, 13, 45, 30, 125_000)),
                Value::Bool(true),
                text("007"),
                Value::Float(0.1),
            ],
        ),
        (
            3,
            vec![
                Value::Int(2),
                text("Gadget"),
                Value::Int(42),                 // a number stored as text
                num("1.50"),                    // text "1.5" in a numeric(12,2) column
                Value::Date(date(1900, 2, 10)), // serial 41, before Excel's fictitious 1900-02-29
                Value::Timestamp(ts(1999, 12, 31, 23, 59, 59, 0)),
                Value::Bool(false),
                text("0042"),
                Value::Float(2.5),
            ],
        ),
        (
            6,
            vec![
                Value::Int(3),
                text("Ünïcödé 🙂"),
                Value::Int(7),
                num("1234567.89"),
                Value::Date(date(2000, 2, 29)),
                Value::Null,
                Value::Bool(true),
                text("=not a formula"),
                Value::Float(-1e-5),
            ],
        ),
    ];
    assert_rows_eq(read, &rows, &expected);
    assert_eq!(summary.rows, 3);
    assert_eq!(
        summary.blank_rows_skipped, 2,
        "rows 4 and 5; the formatted rows 7-10 after the data are not counted"
    );
    assert_eq!(summary.last_row, 6);
    assert!(summary.beyond_header.is_empty());
}

#[test]
fn libreoffice_shared_strings_cached_formulas_and_true_formula() {
    let s = schema(
        "orders",
        vec![
            key("id", ColumnType::Int64, "int8"),
            col("name", ColumnType::Text, "text"),
            col("qty", ColumnType::Int32, "int4"),
            col("price", numeric(12, 2), "numeric(12,2)"),
            col("total", ColumnType::Numeric { precision: None, scale: None }, "numeric"),
            col("paid", ColumnType::Bool, "bool"),
            col("ordered_on", ColumnType::Date, "date"),
            col("ordered_at", ColumnType::Timestamp, "timestamp"),
            col("label", ColumnType::Text, "text"),
            col("code", ColumnType::Text, "text"),
        ],
    );
    let (layout, rows, summary) = read_all(&fixture("libreoffice.xlsx"), None, &s).unwrap();
    assert!(layout.unknown.is_empty() && layout.missing.is_empty());
    let expected = vec![
        (
            2,
            vec![
                Value::Int(1),
                text("Widget"),
                Value::Int(3),
                num("19.99"),
                num("59.97"), // =C2*D2, cached
                Value::Bool(true),
                Value::Date(date(2024, 1, 15)),
                // LibreOffice writes 45306.5732638889 (15 digits): 13:45:30, not 13:45:30.000001.
                Value::Timestamp(ts(2024, 1, 15, 13, 45, 30, 0)),
                text("Widget-1"), // a string formula's cached value
                text("007"),
            ],
        ),
        (
            3,
            vec![
                Value::Int(2),
                text("Gadget"),
                Value::Int(42), // the text "42"
                num("0.50"),
                num("21"),
                Value::Bool(false),
                // LibreOffice writes 1900-02-10 as serial 42, which Excel (and so
                // this reader) shows as 1900-02-11: its serials before 1900-03-01
                // do not count Excel's fictitious 1900-02-29.
                Value::Date(date(1900, 2, 11)),
                Value::Timestamp(ts(1999, 12, 31, 23, 59, 59, 0)),
                text("Gadget-2"),
                text("Widget"),
            ],
        ),
        (
            6,
            vec![
                Value::Int(3),
                text("Ünïcödé 🙂"),
                Value::Int(-7),
                num("1234567.80"),
                num("-8641974.6"),
                Value::Bool(true), // =TRUE(), a formula cell with a cached boolean
                Value::Null,
                Value::Null,
                text("Ünïcödé 🙂-3"),
                text("=not a formula"),
            ],
        ),
    ];
    assert_rows_eq(&s.columns, &rows, &expected);
    assert_eq!(summary.blank_rows_skipped, 2);
}

#[test]
fn epoch_1904_workbook_dates() {
    let s = schema(
        "mac",
        vec![col("day", ColumnType::Date, "date"), col("at", ColumnType::Timestamp, "timestamp")],
    );
    let source = XlsxSource::open(&fixture("epoch_1904.xlsx"), None).unwrap();
    assert_eq!(source.epoch(), SerialEpoch::Excel1904);
    assert_eq!(source.sheet(), "Mac");
    let (_, rows, _) = read_all(&fixture("epoch_1904.xlsx"), None, &s).unwrap();
    let expected = vec![
        (2, vec![Value::Date(date(2024, 1, 15)), Value::Timestamp(ts(2024, 1, 15, 6, 30, 0, 0))]),
        (3, vec![Value::Date(date(1904, 1, 1)), Value::Timestamp(ts(1904, 1, 2, 12, 0, 0, 0))]),
    ];
    assert_rows_eq(&s.columns, &rows, &expected);
}

#[test]
fn shared_strings_table() {
    let s =
        schema("words", vec![key("key", ColumnType::Int32, "int4"), col("word", ColumnType::Text, "text")]);
    let (_, rows, _) = read_all(&fixture("shared_strings.xlsx"), Some("shared"), &s).unwrap();
    let expected = vec![
        (2, vec![Value::Int(1), text("alpha")]),
        (3, vec![Value::Int(2), text("beta")]),
        (4, vec![Value::Int(3), text("alpha")]),
    ];
    assert_rows_eq(&s.columns, &rows, &expected);
}

#[test]
fn every_bad_cell_is_reported_and_bad_rows_are_held_back() {
    let s = schema(
        "bad",
        vec![
            key("id", ColumnType::Int32, "int4"),
            col("qty", ColumnType::Int32, "int4"),
            col("day", ColumnType::Date, "date"),
            col("flag", ColumnType::Bool, "bool"),
            col("price", numeric(4, 2), "numeric(4,2)"),
            col("note", ColumnType::Text, "text"),
        ],
    );
    let mut source = XlsxSource::open(&fixture("bad_cells.xlsx"), None).unwrap();
    let layout = source.layout(&s).unwrap();
    let mut delivered = Vec::new();
    let e = source
        .read(&layout, &s, |n, _| {
            delivered.push(n);
            Ok(())
        })
        .unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::Conversion);
    assert_eq!(delivered, vec![5], "only the row without a bad cell reaches the sink");
    let found: Vec<(String, String)> =
        e.problems().iter().map(|p| (p.at.clone(), p.reason.clone())).collect();
    let expected = [
        ("B2", "is not an integer"),
        ("B3", "is not an integer"),
        ("C3", "is not a date (YYYY-MM-DD)"),
        ("D3", "is not a boolean (TRUE or FALSE)"),
        ("E3", "has 3 decimal places, more than the column's 2"),
        ("B4", "is a spreadsheet error, not a value"),
        ("C4", "has no calculated value in the file"),
    ];
    assert_eq!(found.len(), expected.len(), "{e}");
    for ((at, reason), (want_at, want_reason)) in found.iter().zip(expected) {
        assert_eq!(at, want_at, "{e}");
        assert!(reason.starts_with(want_reason), "{at}: {reason:?} should start with {want_reason:?}");
    }
    let message = e.to_string();
    assert!(
        message.starts_with(&format!(
            "import `{}` sheet `Bad`: 7 bad cells, nothing was written",
            fixture("bad_cells.xlsx").display()
        )),
        "{message}"
    );
    assert!(message.contains("cell B2: \"abc\" is not an integer (column `qty`, int4)"), "{message}");
    assert!(message.contains("cell B4: #DIV/0! is a spreadsheet error"), "{message}");
}

#[test]
fn missing_sheet_lists_the_sheets_there_are() {
    let e = XlsxSource::open(&fixture("libreoffice.xlsx"), Some("Nope")).err().unwrap();
    assert_eq!(e.kind(), &ErrorKind::NotFound);
    assert!(e.to_string().ends_with("has no sheet `Nope`; its sheets are `Orders`"), "{e}");
}

#[test]
fn source_contract_yields_the_projected_schema_and_every_row() {
    use sheetbridge_core::Source;
    let s = schema(
        "words",
        vec![
            key("key", ColumnType::Int32, "int4"),
            col("absent", ColumnType::Text, "text"),
            col("word", ColumnType::Text, "text"),
        ],
    );
    let mut source = XlsxSource::open_with_schema(&fixture("shared_strings.xlsx"), None, s).unwrap();
    let got = ready(source.schema()).unwrap();
    assert_eq!(got.columns.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(), vec!["key", "word"]);
    let mut rows = Vec::new();
    let mut sink = |row: &[Value]| {
        rows.push(row.to_vec());
        Ok(())
    };
    assert_eq!(ready(source.scan(&mut sink)).unwrap(), 3);
    assert_eq!(rows[1], vec![Value::Int(2), text("beta")]);

    // A sheet without the key column cannot be matched by key.
    let s =
        schema("words", vec![key("id", ColumnType::Int32, "int4"), col("word", ColumnType::Text, "text")]);
    let mut source = XlsxSource::open_with_schema(&fixture("shared_strings.xlsx"), None, s).unwrap();
    let e = ready(source.schema()).unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::SchemaMismatch);
    assert!(e.to_string().contains("no key column `id`"), "{e}");
}
