//! Test helpers shared by this crate's tests and the command's: a workbook
//! opened by LibreOffice itself, as the CSV it shows.
//!
//! Needs `soffice` (Debian: `apt-get install -y --no-install-recommends
//! libreoffice-calc`); without it the helper panics: tests fail, never skip.

use std::path::Path;
use std::process::Command;

/// Names a step of a sheet rewrite (`writing`, `written`, `backed-up`,
/// `renamed`) at which the process stops and waits to be killed, so a test
/// can kill it at exactly that point.
pub const PAUSE_AT_ENV: &str = "SHEETBRIDGE_XLSX_PAUSE_AT";
/// The file created when the process reaches the step of [`PAUSE_AT_ENV`].
pub const PAUSE_MARKER_ENV: &str = "SHEETBRIDGE_XLSX_PAUSE_MARKER";

/// Waits forever at `step` when [`PAUSE_AT_ENV`] names it, after creating
/// the marker file of [`PAUSE_MARKER_ENV`].
pub fn pause_point(step: &str) {
    if std::env::var(PAUSE_AT_ENV).ok().as_deref() != Some(step) {
        return;
    }
    if let Ok(marker) = std::env::var(PAUSE_MARKER_ENV) {
        let _ = std::fs::write(marker, step);
    }
    loop {
        std::thread::sleep(std::time::Duration::from_secs(1));
    }
}

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

/// Converts every sheet of `xlsx` to CSV with headless LibreOffice (as
/// [`soffice_to_csv`] does the first) and returns `(sheet name, CSV text)`
/// in the workbook's order. LibreOffice writes `{stem}-{sheet}.csv` per sheet.
pub fn soffice_sheets_to_csv(xlsx: &Path, outdir: &Path) -> Vec<(String, String)> {
    let profile = outdir.join("lo-profile");
    let out = Command::new("soffice")
        .arg(format!("-env:UserInstallation=file://{}", profile.display()))
        .args([
            "--headless",
            "--convert-to",
            "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,true,false,false,-1",
        ])
        .arg("--outdir")
        .arg(outdir)
        .arg(xlsx)
        .output()
        .unwrap_or_else(|e| panic!("cannot run `soffice` ({e}); install libreoffice-calc"));
    assert!(out.status.success(), "soffice failed: {}", String::from_utf8_lossy(&out.stderr));
    let stem = xlsx.file_stem().unwrap_or_default().to_string_lossy().into_owned();
    // "Writing sheet Orders -> /tmp/x/book-Orders.csv", one line per sheet, in order.
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let mut sheets = Vec::new();
    for line in said.lines() {
        let Some(rest) = line.trim().strip_prefix("Writing sheet ") else { continue };
        let Some((sheet, csv)) = rest.split_once(" -> ") else { continue };
        let text = std::fs::read_to_string(csv.trim())
            .unwrap_or_else(|e| panic!("soffice said it wrote {csv} for sheet {sheet} of {stem}: {e}"));
        sheets.push((sheet.to_owned(), text));
    }
    assert!(!sheets.is_empty(), "soffice converted no sheet of {}: {said}", xlsx.display());
    sheets
}
