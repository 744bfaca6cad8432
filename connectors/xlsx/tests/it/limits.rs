//! Excel's limits are checked before anything is written.

use sheetbridge_core::{ColumnType, ErrorKind};
use sheetbridge_xlsx::{WriteOptions, XlsxWriter};

use crate::*;

fn create_err(sheet: &str, columns: usize) -> sheetbridge_core::Error {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.xlsx");
    let cols = (0..columns).map(|i| col(&format!("c{i}"), ColumnType::Int32, "int4")).collect();
    let options = WriteOptions { sheet: sheet.into(), ..WriteOptions::default() };
    let e = XlsxWriter::create(&path, &schema("t", cols), &options).err().expect("create must fail");
    assert!(std::fs::read_dir(dir.path()).unwrap().next().is_none(), "nothing was created");
    e
}

#[test]
fn sheet_name_longer_than_31_characters() {
    let e = create_err("a_sheet_name_that_is_much_too_long", 1);
    assert_eq!(e.kind(), &ErrorKind::LimitExceeded);
    assert!(e.to_string().contains("sheet name `a_sheet_name_that_is_much_too_long` has 34 characters, more than Excel's limit of 31"), "{e}");
}

#[test]
fn sheet_name_with_forbidden_characters() {
    for c in ['[', ']', ':', '*', '?', '/', '\\'] {
        let e = create_err(&format!("a{c}b"), 1);
        assert!(e.to_string().contains(&format!("contains `{c}`")), "{e}");
    }
    assert!(create_err("'quoted'", 1).to_string().contains("apostrophe"));
    assert_eq!(create_err("   ", 1).kind(), &ErrorKind::InvalidInput);
}

#[test]
fn more_than_16384_columns() {
    let e = create_err("", 16_385);
    assert_eq!(e.kind(), &ErrorKind::LimitExceeded);
    assert!(e.to_string().contains("has 16385 columns, more than Excel's limit of 16384 per sheet"), "{e}");
}

#[test]
fn default_sheet_name_is_the_table_name_made_legal() {
    let s = schema("orders/2024: [all of them, every single one]", vec![col("a", ColumnType::Int32, "int4")]);
    let name = sheetbridge_xlsx::default_sheet_name(&s);
    assert_eq!(name, "orders_2024_ _all of them, ever");
    assert!(sheetbridge_xlsx::limits::check_sheet_name(&name).is_ok());
}
