//! Files that are not readable workbooks: each gets a clear error naming it.

use sheetbridge_core::ErrorKind;
use sheetbridge_xlsx::{ReadLimits, XlsxSource};

use crate::*;

fn open_err(name: &str) -> sheetbridge_core::Error {
    match XlsxSource::open(&fixture(name), None) {
        Ok(_) => panic!("{name} opened"),
        Err(e) => e,
    }
}

fn assert_err(name: &str, kind: ErrorKind, phrase: &str) {
    let e = open_err(name);
    let text = e.to_string();
    assert_eq!(e.kind(), &kind, "{name}: {text}");
    assert!(
        text.contains(&format!("`{}`", fixture(name).display())),
        "{name}: the message names the file: {text}"
    );
    assert!(text.contains(phrase), "{name}: {text:?} should say {phrase:?}");
}

#[test]
fn truncated_workbook() {
    assert_err("truncated.xlsx", ErrorKind::InvalidInput, "is damaged or truncated");
}

#[test]
fn text_file_renamed_to_xlsx() {
    assert_err("not_a_zip.xlsx", ErrorKind::InvalidInput, "not a zip archive");
}

#[test]
fn password_protected_workbook() {
    assert_err("encrypted.xlsx", ErrorKind::InvalidInput, "is password-protected (encrypted)");
}

/// Regression: a compound file with a damaged directory (found by the `xlsx_read` fuzz
/// target, tests/fuzz) made the reader panic inside calamine while it checked for
/// encryption; it is now an error like any other non-workbook.
#[test]
fn damaged_ole_file_is_an_error_not_a_panic() {
    assert_err(
        "damaged_ole.xlsx",
        ErrorKind::InvalidInput,
        "is not an .xlsx workbook but an OLE compound file",
    );
}

#[test]
fn synthetic_ole_file_is_named_as_such() {
    // An OLE compound file header with nothing behind it (an old .xls, say).
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.xlsx");
    let mut bytes = vec![0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];
    bytes.resize(512, 0);
    std::fs::write(&path, bytes).unwrap();
    let e = XlsxSource::open(&path, None).err().unwrap();
    assert_eq!(e.kind(), &ErrorKind::InvalidInput);
    assert!(e.to_string().contains("OLE compound file"), "{e}");
}

#[test]
fn workbook_without_sheets() {
    assert_err("no_sheets.xlsx", ErrorKind::InvalidInput, "has no sheets");
}

#[test]
fn zip_bomb_is_refused_before_inflating() {
    assert_err("zip_bomb.xlsx", ErrorKind::LimitExceeded, "part `xl/worksheets/sheet1.xml` would inflate");
    // With the ratio check off, the declared size alone stops it.
    let limits = ReadLimits { max_ratio: u64::MAX, max_part_bytes: 32 << 20, ..ReadLimits::default() };
    let e = XlsxSource::open_with_limits(&fixture("zip_bomb.xlsx"), None, &limits).err().unwrap();
    assert_eq!(e.kind(), &ErrorKind::LimitExceeded);
    assert!(e.to_string().contains("more than the limit of 33554432"), "{e}");
}

#[test]
fn missing_file() {
    let e = XlsxSource::open(&fixture("does_not_exist.xlsx"), None).err().unwrap();
    assert_eq!(e.kind(), &ErrorKind::NotFound);
    assert!(e.to_string().ends_with("does_not_exist.xlsx` does not exist"), "{e}");
}

#[test]
fn empty_sheet_and_header_only_sheet() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("empty.xlsx");
    let s = schema("t", vec![key("id", sheetbridge_core::ColumnType::Int32, "int4")]);
    // Header only: what an export of an empty table writes.
    let w = sheetbridge_xlsx::XlsxWriter::create(&path, &s, &Default::default()).unwrap();
    w.finish().unwrap();
    let mut source = XlsxSource::open(&path, None).unwrap();
    let layout = source.layout(&s).unwrap();
    let e = source.read(&layout, &s, |_, _| Ok(())).unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::InvalidInput);
    assert!(e.to_string().ends_with("sheet `t` has a header row but no data rows below it"), "{e}");
    source.allow_empty(true);
    assert_eq!(source.read(&layout, &s, |_, _| Ok(())).unwrap().rows, 0);

    // A sheet with nothing at all.
    let mut wb = rust_xlsxwriter::Workbook::new();
    wb.add_worksheet().set_name("Blank").unwrap();
    wb.save(&path).unwrap();
    let e = XlsxSource::open(&path, None).unwrap().layout(&s).unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::InvalidInput);
    assert!(e.to_string().ends_with("sheet `Blank` is empty: it has no header row"), "{e}");
}
