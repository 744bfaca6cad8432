//! The xlsx connector's integration tests: one binary, modules by topic.

mod atomic;
mod bad_files;
mod fixtures;
mod libreoffice;
mod limits;
mod mangled;
mod rewrite;
mod roundtrip;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::pin;
use std::task::{Context, Poll, Waker};

pub use sheetbridge_core::testing::{
    assert_rows_eq, col, date, key, num, numeric, schema, sheet_rows, text, ts, Rows,
};
use sheetbridge_core::{Error, TableSchema};
use sheetbridge_xlsx::{ReadSummary, SheetLayout, XlsxSource};

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

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
