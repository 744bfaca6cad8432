//! Test helpers shared by this crate's tests and the command's: a workbook
//! opened by LibreOffice itself, as the CSV it shows.
//!
//! Needs `soffice` (Debian: `apt-get install -y --no-install-recommends
//! libreoffice-calc`); without it the helper panics: tests fail, never skip.

use std::path::Path;
use std::process::Command;

/// Converts `xlsx` to CSV with headless LibreOffice (values as shown,
/// UTF-8, comma, `"`), with a profile of its own under `outdir`, and
/// returns the CSV text.
pub fn soffice_to_csv(xlsx: &Path, outdir: &Path) -> String {
    let profile = outdir.join("lo-profile");
    let out = Command::new("soffice")
        .arg(format!("-env:UserInstallation=file://{}", profile.display()))
        .args([
            "--headless",
            "--convert-to",
            "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,true,false",
        ])
        .arg("--outdir")
        .arg(outdir)
        .arg(xlsx)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run `soffice` ({e}): this test opens workbooks in LibreOffice; \
                 install it with `apt-get install -y --no-install-recommends libreoffice-calc`"
            )
        });
    assert!(out.status.success(), "soffice failed: {}", String::from_utf8_lossy(&out.stderr));
    let csv = outdir.join(xlsx.with_extension("csv").file_name().unwrap_or_default());
    std::fs::read_to_string(&csv).unwrap_or_else(|e| {
        panic!("soffice wrote no {}: {e}; stderr: {}", csv.display(), String::from_utf8_lossy(&out.stderr))
    })
}

/// Splits CSV as LibreOffice writes it (quoted fields, doubled quotes,
/// line breaks inside quotes).
pub fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let (mut rows, mut row, mut field, mut quoted) = (Vec::new(), Vec::new(), String::new(), false);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            ('"', q) => quoted = !q,
            (',', false) => row.push(std::mem::take(&mut field)),
            ('\r', false) => {}
            ('\n', false) => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (c, _) => field.push(c),
        }
    }
    if !field.is_empty() || !row.is_empty() {
        row.push(field);
        rows.push(row);
    }
    rows
}
