//! sheetbridge's workbook, opened by LibreOffice, shows what the table holds.
//!
//! Needs `soffice` (`.ci/test` installs libreoffice-calc); without it
//! this test fails rather than skips.

use std::path::Path;
use std::process::Command;

use crate::{fresh_db, load_examples, psql, sheetbridge_ok};

/// Converts `xlsx` to CSV with LibreOffice (values as shown, UTF-8, comma, `"`).
fn soffice_csv(xlsx: &Path, dir: &Path) -> String {
    let out = Command::new("soffice")
        .arg(format!("-env:UserInstallation=file://{}", dir.join("profile").display()))
        .args(["--headless", "--convert-to", "csv:Text - txt - csv (StarCalc):44,34,76,1", "--outdir"])
        .arg(dir)
        .arg(xlsx)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run soffice ({e}); install LibreOffice: apt-get install libreoffice-calc")
        });
    assert!(out.status.success(), "soffice failed: {}", String::from_utf8_lossy(&out.stderr));
    let csv = dir.join(xlsx.with_extension("csv").file_name().unwrap());
    std::fs::read_to_string(&csv).unwrap_or_else(|e| panic!("soffice wrote no {}: {e}", csv.display()))
}

/// Splits CSV (quoted fields, doubled quotes, newlines inside quotes).
fn parse_csv(text: &str) -> Vec<Vec<String>> {
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

#[test]
fn libreoffice_shows_the_exported_table() {
    let url = fresh_db();
    load_examples(&url);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("orders.xlsx");
    sheetbridge_ok(&["export", "--db", &url, "--table", "shop.orders", "--to", file.to_str().unwrap()]);
    let shown = parse_csv(&soffice_csv(&file, dir.path()));

    // The table as the workbook's number formats show it: two decimals, ISO dates, UTC instants.
    let expected = parse_csv(&psql(
        &url,
        "COPY (SELECT 'id', 'customer_id', 'sku', 'status', 'quantity', 'amount', 'ordered_at', 'ship_date', 'paid', 'notes'
               UNION ALL
               SELECT * FROM (SELECT id::text, customer_id::text, sku, status::text, quantity::text,
                      to_char(amount, 'FM9999999990.00'),
                      to_char(ordered_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS'),
                      ship_date::text, CASE WHEN paid THEN 'TRUE' ELSE 'FALSE' END, notes
               FROM shop.orders t ORDER BY t.id) o)
         TO STDOUT (FORMAT csv)",
    ));
    assert_eq!(shown.len(), expected.len(), "row count differs:\n{shown:?}");
    for (r, (got, want)) in shown.iter().zip(&expected).enumerate() {
        for (c, (g, w)) in got.iter().zip(want).enumerate() {
            assert_eq!(g, w, "row {} column {} ({}) differs", r + 1, c + 1, expected[0][c]);
        }
        assert_eq!(got.len(), want.len(), "row {} has {} cells", r + 1, got.len());
    }
}
