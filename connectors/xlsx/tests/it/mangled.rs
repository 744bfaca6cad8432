//! Damaged workbooks: thousands of mangled variants of real files are read,
//! and every one gives `Ok` or a clear `Err`, never a panic. A deterministic
//! stand-in for a fuzzer, cheap enough to run in every test run.

use std::io::{Read, Write};

use sheetbridge_core::ColumnType;
use sheetbridge_xlsx::XlsxSource;

use crate::*;

/// xorshift64*: a fixed sequence, so a failure names its case and repeats.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// The workbook's parts, with the sheet XML passed through `mangle`.
fn rezip(original: &[u8], mangle: &mut dyn FnMut(&mut Vec<u8>)) -> Vec<u8> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(original)).expect("a fixture");
    let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for i in 0..archive.len() {
        let mut part = archive.by_index(i).expect("part");
        let name = part.name().expect("a part name").to_string();
        let mut bytes = Vec::new();
        part.read_to_end(&mut bytes).expect("read part");
        if name.starts_with("xl/worksheets/") || name == "xl/sharedStrings.xml" {
            mangle(&mut bytes);
        }
        out.start_file(name, zip::write::SimpleFileOptions::default()).expect("start");
        out.write_all(&bytes).expect("write");
    }
    out.finish().expect("finish").into_inner()
}

fn read_all(path: &std::path::Path) {
    let s = schema(
        "t",
        vec![
            key("id", ColumnType::Int64, "int8"),
            col("name", ColumnType::Text, "text"),
            col("amount", numeric(12, 2), "numeric(12,2)"),
            col("day", ColumnType::Date, "date"),
            col("at", ColumnType::TimestampTz, "timestamptz"),
            col("ok", ColumnType::Bool, "bool"),
        ],
    );
    let Ok(mut source) = XlsxSource::open(path, None) else { return };
    let Ok(layout) = source.layout(&s) else { return };
    let _ = source.read(&layout, &s, |_, _| Ok(()));
}

#[test]
fn mangled_workbooks_are_errors_not_panics() {
    let mut rng = Rng(0x005E_ED0F_5EE7);
    let dir = tempfile::tempdir().unwrap();
    for name in ["openpyxl_types.xlsx", "libreoffice.xlsx", "shared_strings.xlsx", "bad_cells.xlsx"] {
        let original = std::fs::read(fixture(name)).unwrap();
        for case in 0..150 {
            let kind = case % 5;
            let bytes = if kind == 4 {
                // Raw damage to the archive itself.
                let mut b = original.clone();
                for _ in 0..1 + rng.below(8) {
                    let at = rng.below(b.len());
                    b[at] = rng.next() as u8;
                }
                b
            } else {
                let (mut a, mut b, mut c) = (rng.next(), rng.next(), rng.next());
                rezip(&original, &mut |xml: &mut Vec<u8>| {
                    if xml.is_empty() {
                        return;
                    }
                    let at = (a as usize) % xml.len();
                    match kind {
                        0 => xml.truncate(at),
                        1 => {
                            let bytes = b"<>&\"'/=0a \xff";
                            xml[at] = bytes[(b % bytes.len() as u64) as usize];
                        }
                        2 => {
                            let end = (at + (c as usize % 64)).min(xml.len());
                            xml.drain(at..end);
                        }
                        _ => {
                            let snippet: &[u8] = match b % 4 {
                                0 => b"<c r=\"XFD1048577\"><v>1</v></c>",
                                1 => b"<c r=\"B2\" t=\"s\"><v>99999999</v></c>",
                                2 => b"<row r=\"0\">",
                                _ => b"<c r=\"A1\" t=\"n\"><v>1e999</v></c>",
                            };
                            let tail = xml.split_off(at);
                            xml.extend_from_slice(snippet);
                            xml.extend_from_slice(&tail);
                        }
                    }
                    a = a.rotate_left(7);
                    b = b.rotate_left(11);
                    c = c.rotate_left(13);
                })
            };
            let path = dir.path().join(format!("{name}-{case}.xlsx"));
            std::fs::write(&path, &bytes).unwrap();
            let outcome = std::panic::catch_unwind(|| read_all(&path));
            assert!(outcome.is_ok(), "reading case {case} of {name} (kind {kind}) panicked");
        }
    }
}
