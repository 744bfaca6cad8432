//! The xlsx connector's integration tests: one binary, modules by topic.

mod atomic;
mod bad_files;
mod fixtures;
mod libreoffice;
mod limits;
mod mangled;
mod roundtrip;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use chrono::{NaiveDate, NaiveDateTime};
use sheetbridge_core::schema::RelationKind;
use sheetbridge_core::{Column, ColumnType, Error, TableName, TableSchema, Value};
use sheetbridge_xlsx::{ReadSummary, SheetLayout, XlsxSource};

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

pub fn col(name: &str, ty: ColumnType, type_name: &str) -> Column {
    Column::new(name, ty, type_name)
}

pub fn key(name: &str, ty: ColumnType, type_name: &str) -> Column {
    let mut c = Column::new(name, ty, type_name);
    c.key = true;
    c.nullable = false;
    c
}

pub fn schema(name: &str, columns: Vec<Column>) -> TableSchema {
    TableSchema { name: TableName::new(None, name), kind: RelationKind::Table, columns }
}

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

/// Rows as read: (sheet row number, values).
pub type Rows = Vec<(u32, Vec<Value>)>;

/// Every row of `path` read as `schema`.
pub fn read_all(
    path: &Path,
    sheet: Option<&str>,
    schema: &TableSchema,
) -> Result<(SheetLayout, Rows, ReadSummary), Error> {
    let mut source = XlsxSource::open(path, sheet)?;
    source.allow_empty(true);
    let layout = source.layout(schema)?;
    let mut rows = Vec::new();
    let summary = source.read(&layout, schema, |n, values| {
        rows.push((n, values.to_vec()));
        Ok(())
    })?;
    Ok((layout, rows, summary))
}

/// Compares rows and names the first differing (row, column) with both values.
pub fn assert_rows(actual: &[(u32, Vec<Value>)], expected: &[(u32, Vec<Value>)], names: &[&str]) {
    for ((an, a), (en, e)) in actual.iter().zip(expected) {
        assert_eq!(an, en, "sheet row numbers differ");
        for (i, (av, ev)) in a.iter().zip(e).enumerate() {
            assert_eq!(
                av,
                ev,
                "row {en}, column `{}`: expected {ev:?}, got {av:?}",
                names.get(i).unwrap_or(&"?")
            );
        }
        assert_eq!(a.len(), e.len(), "row {en}: number of values");
    }
    assert_eq!(actual.len(), expected.len(), "number of rows");
}

/// Runs a future that never waits (the xlsx connector's are ready at once).
pub fn ready<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    match f.as_mut().poll(&mut cx) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("the future waited; the xlsx connector does blocking IO only"),
    }
}

/// Files in `dir` whose name starts with `.` and contains `.tmp-` (left-over temp files).
pub fn temp_files(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with('.') && n.contains(".tmp-"))
                .collect()
        })
        .unwrap_or_default()
}
