//! The target file is replaced whole or not at all, and never under a
//! program that holds it open.

use sheetbridge_core::{ColumnType, ErrorKind, RowSink, Value};
use sheetbridge_xlsx::{WriteOptions, XlsxWriter};

use crate::*;

fn table() -> sheetbridge_core::TableSchema {
    schema("orders", vec![key("id", ColumnType::Int32, "int4"), col("note", ColumnType::Text, "text")])
}

#[test]
fn a_failing_write_leaves_the_existing_file_byte_identical() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("orders.xlsx");
    std::fs::write(&path, b"the previous workbook").unwrap();
    let mut w = XlsxWriter::create(&path, &table(), &WriteOptions::default()).unwrap();
    assert_eq!(temp_files(dir.path()).len(), 1, "the new workbook is written beside the target");
    assert!(temp_files(dir.path())[0].starts_with(".orders.xlsx.tmp-"));
    w.row(&[Value::Int(1), text("ok")]).unwrap();
    assert!(w.row(&[Value::Int(2), Value::Text("x".repeat(40_000))]).is_err());
    drop(w);
    assert_eq!(std::fs::read(&path).unwrap(), b"the previous workbook");
    assert!(temp_files(dir.path()).is_empty());
}

#[test]
fn dropping_an_unfinished_writer_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("orders.xlsx");
    std::fs::write(&path, b"old").unwrap();
    let mut w = XlsxWriter::create(&path, &table(), &WriteOptions::default()).unwrap();
    w.row(&[Value::Int(1), text("a")]).unwrap();
    drop(w);
    assert_eq!(std::fs::read(&path).unwrap(), b"old");
    assert!(temp_files(dir.path()).is_empty());
}

#[test]
fn finish_replaces_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("orders.xlsx");
    std::fs::write(&path, b"old").unwrap();
    let mut w = XlsxWriter::create(&path, &table(), &WriteOptions::default()).unwrap();
    w.row(&[Value::Int(1), text("a")]).unwrap();
    let report = w.finish().unwrap();
    assert_eq!(report.rows, 1);
    assert_eq!(report.bytes, std::fs::metadata(&path).unwrap().len());
    assert!(temp_files(dir.path()).is_empty());
    let (_, rows, _) = read_all(&path, None, &table()).unwrap();
    assert_eq!(rows, vec![(2, vec![Value::Int(1), text("a")])]);
}

#[test]
fn lock_files_stop_the_write_and_force_overrides() {
    for (lock, program) in [("~$orders.xlsx", "Excel"), (".~lock.orders.xlsx#", "LibreOffice")] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("orders.xlsx");
        std::fs::write(&path, b"old").unwrap();
        std::fs::write(dir.path().join(lock), b"").unwrap();
        let e = XlsxWriter::create(&path, &table(), &WriteOptions::default()).err().unwrap();
        assert_eq!(e.kind(), &ErrorKind::Locked);
        let m = e.to_string();
        assert!(m.contains(&format!("is open in {program} (its lock file `{lock}` is beside it)")), "{m}");
        assert!(m.contains("--force"), "{m}");
        assert!(temp_files(dir.path()).is_empty());
        assert_eq!(std::fs::read(&path).unwrap(), b"old");

        let force = WriteOptions { force: true, ..WriteOptions::default() };
        let w = XlsxWriter::create(&path, &table(), &force).unwrap();
        w.finish().unwrap();
        assert_ne!(std::fs::read(&path).unwrap(), b"old");
    }
}
