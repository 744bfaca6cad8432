//! Writer → reader: every kind of value comes back exactly.

use std::io::Read;
use std::path::Path;

use sheetbridge_core::testing::{edge_rows, edge_schema};
use sheetbridge_core::{ColumnType, ErrorKind, RowSink, TableSchema, Value};
use sheetbridge_xlsx::{WriteOptions, XlsxSource, XlsxWriter};

use crate::*;

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
    let s = edge_schema();
    let rows = edge_rows();
    let report = write(&path, &s, &rows);
    assert_eq!(report.rows, rows.len() as u64);
    assert_eq!(report.sheet, "every_kind");

    let (layout, back, summary) = read_all(&path, None, &s).unwrap();
    assert_eq!(layout.columns.len(), s.columns.len());
    assert_eq!(summary.rows, rows.len() as u64);
    assert_rows_eq(&s.columns, &back, &sheet_rows(&rows));
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
    let s = edge_schema();
    write(&path, &s, &edge_rows());
    let xml = sheet_xml(&path);
    assert!(
        xml.contains(r#"<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>"#),
        "{xml}"
    );
    assert!(xml.contains(r#"<autoFilter ref="A1:R10"/>"#), "{xml}");
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
