//! sheetbridge's workbook, opened by LibreOffice, shows what the table holds.
//!
//! Needs `soffice` (`.ci/test` installs libreoffice-calc); without it
//! this test fails rather than skips.

use sheetbridge_xlsx::testing::{parse_csv, soffice_to_csv};

use crate::{fresh_db, load_examples, psql, sheetbridge_ok};

#[test]
fn libreoffice_shows_the_exported_table() {
    let url = fresh_db();
    load_examples(&url);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("orders.xlsx");
    sheetbridge_ok(&["export", "--db", &url, "--table", "shop.orders", "--to", file.to_str().unwrap()]);
    let shown = parse_csv(&soffice_to_csv(&file, dir.path()));

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
