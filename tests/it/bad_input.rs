//! Bad input: a clear error naming the file (sheet, cell, column, value), and the table untouched.

use crate::import::{workbook, C};
use crate::{dump, fixture, fresh_db, load_examples, sheetbridge, stderr};

/// Imports `file` into shop.orders expecting failure with `code`; the table must be unchanged.
fn refused(url: &str, file: &str, code: i32, sheet: Option<&str>) -> String {
    let before = dump(url, "shop.orders");
    let mut args = vec!["import", "--db", url, "--from", file, "--table", "shop.orders"];
    if let Some(s) = sheet {
        args.extend(["--sheet", s]);
    }
    let out = sheetbridge(&args);
    assert_eq!(out.status.code(), Some(code), "import of {file}:\n{}", stderr(&out));
    assert_eq!(dump(url, "shop.orders"), before, "the table changed after a refused import of {file}");
    let err = stderr(&out);
    let name = std::path::Path::new(file).file_name().unwrap().to_str().unwrap();
    assert!(err.contains(name), "the error does not name the file `{name}`:\n{err}");
    err
}

#[test]
fn every_bad_cell_is_reported_at_once() {
    let url = fresh_db();
    load_examples(&url);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("orders.xlsx");
    workbook(
        &file,
        "Orders",
        &["id", "customer_id", "sku", "status", "quantity", "amount", "ordered_at", "paid"],
        &[
            vec![
                C::N(1.0),
                C::N(1.0),
                C::S("001"),
                C::S("new"),
                C::S("abc"),
                C::N(1.0),
                C::S("2024-01-01 10:00:00Z"),
                C::B(true),
            ],
            vec![
                C::N(2.0),
                C::N(1.0),
                C::S("002"),
                C::S("lost"),
                C::N(2.0),
                C::S("12.345"),
                C::S("yesterday"),
                C::S("maybe"),
            ],
            vec![
                C::N(3.0),
                C::N(1.5),
                C::S("003"),
                C::S("new"),
                C::N(3.0),
                C::N(3.0),
                C::N(45292.5),
                C::B(false),
            ],
        ],
    );
    let err = refused(&url, file.to_str().unwrap(), 3, None);
    for expected in [
        "sheet `Orders`",
        "cell E2: \"abc\" is not an integer (column `quantity`, int4)",
        "cell D3: \"lost\" is not one of new, paid, shipped, cancelled (column `status`, order_status)",
        "cell F3: \"12.345\" has 3 decimal places, more than the column's 2 (column `amount`, numeric(12,2))",
        "cell G3",
        "cell H3",
        "cell B4: 1.5 is not an integer (column `customer_id`, int4)",
        "6 bad cells",
    ] {
        assert!(err.contains(expected), "missing {expected:?} in:\n{err}");
    }
}

#[test]
fn broken_files_are_refused_by_name() {
    let url = fresh_db();
    load_examples(&url);
    for (name, words) in [
        ("truncated.xlsx", "damaged or truncated"),
        ("not_a_zip.xlsx", "not an .xlsx"),
        ("encrypted.xlsx", "encrypted"),
        ("zip_bomb.xlsx", "zip bomb"),
    ] {
        let path = fixture(name);
        assert!(path.exists(), "fixture {} is missing", path.display());
        let err = refused(&url, path.to_str().unwrap(), 3, None);
        assert!(err.to_lowercase().contains(words), "{name}: expected {words:?} in:\n{err}");
    }
}

#[test]
fn a_missing_sheet_lists_the_sheets_there_are() {
    let url = fresh_db();
    load_examples(&url);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("one.xlsx");
    workbook(&file, "Orders", &["id"], &[vec![C::N(1.0)]]);
    let err = refused(&url, file.to_str().unwrap(), 3, Some("Nope"));
    assert!(err.contains("Nope") && err.contains("Orders"), "{err}");
}

#[test]
fn a_header_only_sheet_is_refused() {
    let url = fresh_db();
    load_examples(&url);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("header-only.xlsx");
    workbook(&file, "Orders", &["id", "sku"], &[]);
    let err = refused(&url, file.to_str().unwrap(), 3, None);
    assert!(err.contains("no data rows") || err.contains("only a header"), "{err}");
}

#[test]
fn a_locked_workbook_stops_the_export_unless_forced() {
    let url = fresh_db();
    load_examples(&url);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("orders.xlsx");
    std::fs::write(dir.path().join(".~lock.orders.xlsx#"), "someone,host,2026").unwrap();
    let f = file.to_str().unwrap();
    let out = sheetbridge(&["export", "--db", &url, "--table", "shop.orders", "--to", f]);
    assert_eq!(out.status.code(), Some(6), "{}", stderr(&out));
    assert!(stderr(&out).contains("LibreOffice") && stderr(&out).contains("--force"), "{}", stderr(&out));
    assert!(!file.exists());
    crate::sheetbridge_ok(&["export", "--db", &url, "--table", "shop.orders", "--to", f, "--force"]);
    assert!(file.exists());
}
