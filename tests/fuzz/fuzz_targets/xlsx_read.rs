//! Any bytes as an .xlsx workbook: opening, laying out and reading every cell must end in
//! rows or an error, never a panic, a hang or unbounded memory (the reader's limits apply).
#![no_main]

use libfuzzer_sys::fuzz_target;
use sheetbridge_core::testing::edge_schema;
use sheetbridge_core::Value;
use sheetbridge_xlsx::XlsxSource;

fuzz_target!(|data: &[u8]| {
    let Ok(dir) = tempfile::tempdir() else { return };
    let path = dir.path().join("fuzz.xlsx");
    if std::fs::write(&path, data).is_err() {
        return;
    }
    // Every column type sheetbridge knows, so every conversion is reached.
    let schema = edge_schema();
    let Ok(mut source) = XlsxSource::open(&path, None) else { return };
    let Ok(layout) = source.layout(&schema) else { return };
    let _ = source.read(&layout, &schema, |_, row: &mut [Value]| {
        assert_eq!(row.len(), layout.columns.len());
        Ok(())
    });
});
