//! `sheetbridge sync`: two-way passes of configured pairs through the real binary, against a
//! real PostgreSQL, a workbook and the Sheets emulator.

use std::path::{Path, PathBuf};

use sheetbridge_core::{TableName, TableSchema, Value};
use sheetbridge_xlsx::{RewriteOptions, XlsxSource};

use crate::gsheet::Google;
use crate::{dump, fresh_db, load_examples, psql, stderr};

/// A config file for `url` with `pairs` (TOML) in a folder of its own.
fn config(dir: &Path, url: &str, pairs: &str) -> PathBuf {
    let path = dir.join("sheetbridge.toml");
    std::fs::write(&path, format!("[database]\nurl = \"{url}\"\n\n{pairs}")).expect("writing the config");
    path
}

fn report(out: &str) -> Vec<serde_json::Value> {
    serde_json::from_str(out).unwrap_or_else(|e| panic!("not a JSON report ({e}):\n{out}"))
}

fn google_pair(id: &str, extra: &str) -> String {
    format!(
        "[[pair]]\nname = \"orders\"\ntable = \"shop.orders\"\nsheet = \"gsheet://{id}/Orders\"\n\
         columns = [\"id\", \"customer_id\", \"sku\", \"quantity\", \"amount\", \"status\", \"ordered_at\", \"paid\", \"notes\"]\n\
         schedule = \"5m\"\nmax_deletes = 5\n{extra}\n"
    )
}

/// A database with the example data, the emulator, and the `orders` pair (with `extra`
/// settings) between them, synced once.
pub struct Paired {
    pub url: String,
    pub google: Google,
    pub id: String,
    pub file: String,
    pub dir: tempfile::TempDir,
}

impl Paired {
    pub fn new(extra: &str) -> Paired {
        let url = fresh_db();
        load_examples(&url);
        let google = Google::start();
        let id = google.spreadsheet("Shop");
        let dir = tempfile::tempdir().expect("a folder");
        let file = config(dir.path(), &url, &google_pair(&id, extra)).to_str().expect("utf-8").to_owned();
        google.ok(&["sync", "--config", &file]);
        Paired { url, google, id, file, dir }
    }
}

/// The tab's values by header name, for one sheet row (1-based, header is row 1).
fn cell(google: &Google, id: &str, row: usize, column: &str) -> serde_json::Value {
    let values = google.values(id, "Orders");
    let at = values[0].iter().position(|h| h == column).unwrap_or_else(|| panic!("no column {column}"));
    values.get(row - 1).and_then(|r| r.get(at)).cloned().unwrap_or(serde_json::Value::Null)
}

fn column_letter(google: &Google, id: &str, column: &str) -> char {
    let values = google.values(id, "Orders");
    let at = values[0].iter().position(|h| h == column).unwrap_or_else(|| panic!("no column {column}"));
    char::from(b'A' + u8::try_from(at).expect("few columns"))
}

#[test]
fn edits_on_both_sides_merge_and_the_same_cell_follows_the_policy() {
    let url = fresh_db();
    load_examples(&url);
    let google = Google::start();
    let id = google.spreadsheet("Shop");
    let dir = tempfile::tempdir().expect("a folder");
    let file = config(dir.path(), &url, &google_pair(&id, "conflict = \"table_wins\""));
    let file = file.to_str().expect("utf-8");

    // First sync: the tab is made with every row; a second pass has nothing to do.
    let first = report(&google.ok(&["sync", "--config", file, "--json"]));
    assert_eq!(first[0]["status"], "success", "{first:?}");
    assert_eq!(first[0]["to_sheet"]["inserts"], 40, "{first:?}");
    assert_eq!(google.values(&id, "Orders").len(), 41);
    let again = report(&google.ok(&["sync", "--config", file, "--json"]));
    assert_eq!(
        (again[0]["to_sheet"]["updated_cells"].as_u64(), again[0]["to_table"]["updated_cells"].as_u64()),
        (Some(0), Some(0))
    );

    // Row 2 of the sheet is order 1. The sheet changes quantity and notes; the table changes
    // sku and notes: different cells merge, the same cell (notes) goes to the table's side.
    let (q, n) = (column_letter(&google, &id, "quantity"), column_letter(&google, &id, "notes"));
    google
        .emulator
        .with_sheets(|s| {
            s.set_values(&id, &format!("Orders!{q}2"), vec![vec![serde_json::json!(17)]])?;
            s.set_values(&id, &format!("Orders!{n}2"), vec![vec![serde_json::json!("from the sheet")]])
        })
        .expect("a person edits the tab");
    psql(&url, "UPDATE shop.orders SET sku = 'T-1', notes = 'from the table' WHERE id = 1");
    let out = report(&google.ok(&["sync", "--config", file, "--json"]));
    assert_eq!(out[0]["status"], "success", "{out:?}");
    assert_eq!(
        psql(&url, "SELECT quantity || ' ' || sku || ' ' || notes FROM shop.orders WHERE id = 1"),
        "17 T-1 from the table"
    );
    assert_eq!(cell(&google, &id, 2, "sku"), "T-1");
    assert_eq!(cell(&google, &id, 2, "notes"), "from the table");
    assert_eq!(out[0]["conflicts"].as_array().map(Vec::len), Some(1), "{out:?}");
    let logged =
        psql(&url, "SELECT \"column\" || ' ' || resolution FROM sheetbridge.conflict WHERE pair = 'orders'");
    assert_eq!(logged, "notes table");
    let runs = psql(&url, "SELECT count(*) FILTER (WHERE status = 'success') || '/' || count(*) FROM sheetbridge.run WHERE pair = 'orders'");
    assert_eq!(runs, "3/3");
}

#[test]
fn new_rows_both_ways_keys_from_the_table_and_deletes_with_a_threshold() {
    let paired = Paired::new("deletes = \"propagate\"");
    let (url, google, id, file) = (&paired.url, &paired.google, &paired.id, paired.file.as_str());

    // A person adds two orders at the bottom with no id; the application adds one.
    let values = google.values(id, "Orders");
    let header: Vec<String> = values[0].iter().map(|h| h.as_str().unwrap_or("").to_owned()).collect();
    let typed = |sku: &str| -> Vec<serde_json::Value> {
        header
            .iter()
            .map(|h| match h.as_str() {
                "id" => serde_json::json!(""),
                "customer_id" => serde_json::json!(2),
                "sku" => serde_json::json!(sku),
                "quantity" => serde_json::json!(1),
                "amount" => serde_json::json!(9.5),
                "status" => serde_json::json!("new"),
                "ordered_at" => serde_json::json!("2024-05-01 10:00:00"),
                "paid" => serde_json::json!(false),
                _ => serde_json::json!(""),
            })
            .collect()
    };
    google
        .emulator
        .with_sheets(|s| s.set_values(id, "Orders!A42", vec![typed("NEW-1"), typed("NEW-2")]))
        .expect("a person types two rows");
    psql(url, "INSERT INTO shop.orders (customer_id, sku, quantity, amount, ordered_at) VALUES (1, 'APP-1', 2, 3.00, now())");
    let out = report(&google.ok(&["sync", "--config", file, "--json"]));
    assert_eq!(out[0]["keys_made"], 2, "{out:?}");
    assert_eq!(out[0]["to_table"]["inserts"], 2, "{out:?}");
    assert_eq!(out[0]["to_sheet"]["inserts"], 1, "{out:?}");
    let skus = psql(
        url,
        "SELECT string_agg(sku, ',' ORDER BY id) FROM shop.orders WHERE sku LIKE 'NEW-%' OR sku = 'APP-1'",
    );
    assert_eq!(skus, "APP-1,NEW-1,NEW-2");
    // The keys the table made are in the sheet, so another pass inserts nothing twice.
    let ids: Vec<serde_json::Value> = (42..=43).map(|r| cell(google, id, r, "id")).collect();
    assert!(ids.iter().all(|v| v.as_i64().is_some()), "keys written back: {ids:?}");
    let again = report(&google.ok(&["sync", "--config", file, "--json"]));
    assert_eq!(
        (again[0]["to_table"]["inserts"].as_u64(), again[0]["to_sheet"]["inserts"].as_u64()),
        (Some(0), Some(0)),
        "{again:?}"
    );
    assert_eq!(psql(url, "SELECT count(*) FROM shop.orders"), "43");

    // A delete in the table reaches the sheet; ten deletes exceed max_deletes = 5 and stop the run.
    psql(url, "DELETE FROM shop.orders WHERE id = 3");
    google.ok(&["sync", "--config", file]);
    assert_eq!(google.values(id, "Orders").len(), 43, "header + 42 rows, no blank row");
    let before = dump(url, "shop.orders");
    psql(url, "DELETE FROM shop.orders WHERE id BETWEEN 10 AND 19");
    let stopped = google.run(&["sync", "--config", file]);
    assert_eq!(stopped.status.code(), Some(5), "{}", stderr(&stopped));
    assert!(
        String::from_utf8_lossy(&stopped.stdout).contains("max_deletes"),
        "{}",
        String::from_utf8_lossy(&stopped.stdout)
    );
    assert_eq!(google.values(id, "Orders").len(), 43, "nothing was deleted from the sheet");
    assert_ne!(dump(url, "shop.orders"), before);
    google.ok(&["sync", "--config", file, "--yes"]);
    assert_eq!(google.values(id, "Orders").len(), 33);
}

#[test]
fn a_workbook_pair_keeps_the_other_sheets_and_merges_edits() {
    let url = fresh_db();
    load_examples(&url);
    let dir = tempfile::tempdir().expect("a folder");
    let pair = "[[pair]]\nname = \"customers\"\ntable = \"shop.customers\"\nsheet = \"book.xlsx\"\ntab = \"Customers\"\nschedule = \"1h\"\n";
    let file = config(dir.path(), &url, pair);
    let file = file.to_str().expect("utf-8");
    // The workbook a person already uses: a summary with formulas and a chart over its own
    // `Orders` sheet, notes, defined names (openpyxl's, saved by LibreOffice).
    let book = dir.path().join("book.xlsx");
    std::fs::copy(crate::fixture("multi_sheet_libreoffice.xlsx"), &book).expect("copy the workbook");
    let others = |label: &str| -> Vec<(String, String)> {
        let out = tempfile::tempdir().expect("a folder");
        let copy = out.path().join(format!("{label}.xlsx"));
        std::fs::copy(&book, &copy).expect("copy");
        sheetbridge_xlsx::testing::soffice_sheets_to_csv(&copy, out.path())
            .into_iter()
            .filter(|(name, _)| name != "Customers")
            .collect()
    };
    let before = others("before");
    assert_eq!(before.len(), 3, "{before:?}");
    crate::sheetbridge_ok(&["sync", "--config", file]);

    // A person edits an e-mail in the workbook; the application renames a customer.
    let dry = report(&crate::sheetbridge_ok(&["sync", "--config", file, "--dry-run", "--json"]));
    assert_eq!(dry[0]["to_table"]["updated_cells"], 0, "{dry:?}");
    with_workbook_rows(&url, "shop.customers", &book, "Customers", |schema, rows| {
        let (email, _) = schema.column("email").expect("email");
        rows[0][email] = Value::Text("zoe@new.example".into());
    });
    psql(&url, "UPDATE shop.customers SET name = 'José Á.' WHERE id = 2");
    let out = report(&crate::sheetbridge_ok(&["sync", "--config", file, "--json"]));
    assert_eq!(out[0]["status"], "success", "{out:?}");
    assert_eq!(psql(&url, "SELECT email FROM shop.customers WHERE id = 1"), "zoe@new.example");
    let mut names = Vec::new();
    with_workbook_rows(&url, "shop.customers", &book, "Customers", |schema, rows| {
        let (name, _) = schema.column("name").expect("name");
        names = rows.iter().map(|r| r[name].to_string()).collect();
    });
    assert!(names.iter().any(|n| n.contains("José Á.")), "{names:?}");
    let again = report(&crate::sheetbridge_ok(&["sync", "--config", file, "--json"]));
    assert_eq!(again[0]["to_sheet"]["updated_cells"], 0, "{again:?}");
    assert_eq!(again[0]["to_table"]["updated_cells"], 0, "{again:?}");
    // LibreOffice reads every other sheet as before: values, formula results and all.
    assert_eq!(others("after"), before);
}

/// The example data and a `customers` pair with `book.xlsx` (sheet `Customers`) beside its
/// config, synced once: the database URL, the folder and the config file.
fn customers_workbook_pair() -> (String, tempfile::TempDir, String) {
    let url = fresh_db();
    load_examples(&url);
    let dir = tempfile::tempdir().expect("a folder");
    let pair = "[[pair]]\nname = \"customers\"\ntable = \"shop.customers\"\nsheet = \"book.xlsx\"\ntab = \"Customers\"\n";
    let file = config(dir.path(), &url, pair).to_str().expect("utf-8").to_owned();
    crate::sheetbridge_ok(&["sync", "--config", &file]);
    (url, dir, file)
}

/// Reads a workbook sheet's rows as `table`'s columns, lets `edit` change them, and writes the
/// sheet back the way a person's save would (the workbook's other sheets kept).
fn with_workbook_rows(
    url: &str,
    table: &str,
    path: &Path,
    sheet: &str,
    edit: impl FnOnce(&TableSchema, &mut Vec<Vec<Value>>),
) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
    let schema = runtime.block_on(async {
        let config = sheetbridge_postgres::PgConfig::parse(url).expect("url");
        let conn = sheetbridge_postgres::connect(&config).await.expect("connect");
        conn.describe_table(&TableName::parse(table).expect("name")).await.expect("describe")
    });
    let mut source = XlsxSource::open(path, Some(sheet)).expect("open the workbook");
    let layout = source.layout(&schema).expect("layout");
    let mut rows = Vec::new();
    source
        .read(&layout, &schema, |_, values: &mut [Value]| {
            let mut row = vec![Value::Null; schema.columns.len()];
            for (v, &i) in values.iter_mut().zip(&layout.columns) {
                row[i] = std::mem::take(v);
            }
            rows.push(row);
            Ok(())
        })
        .expect("read the sheet");
    let before = rows.clone();
    edit(&schema, &mut rows);
    if rows != before {
        sheetbridge_xlsx::rewrite_sheet(path, sheet, &schema, &rows, &RewriteOptions::default())
            .expect("save the workbook");
    }
}

#[test]
fn flagged_conflicts_and_held_deletes_wait_for_resolve_and_the_next_sync_carries_it_out() {
    let paired = Paired::new("conflict = \"flag\"\ndeletes = \"hold\"");
    let (url, google, id, file) = (&paired.url, &paired.google, &paired.id, paired.file.as_str());

    // Both sides change order 1's notes; the sheet deletes order 2 (row 3).
    let n = column_letter(google, id, "notes");
    google
        .emulator
        .with_sheets(|s| {
            s.set_values(id, &format!("Orders!{n}2"), vec![vec![serde_json::json!("sheet says")]])
        })
        .expect("edit");
    google
        .emulator
        .with_sheets(|s| {
            let sheet_id =
                s.spreadsheet(id).and_then(|ss| ss.sheets.iter().find(|t| t.title == "Orders").map(|t| t.id));
            let sheet_id = sheet_id.expect("the Orders tab");
            s.batch_update(
                id,
                &[serde_json::json!({"deleteDimension": {"range":
                {"sheetId": sheet_id, "dimension": "ROWS", "startIndex": 2, "endIndex": 3}}})],
            )
        })
        .expect("a person deletes row 3");
    psql(url, "UPDATE shop.orders SET notes = 'table says' WHERE id = 1");
    let out = report(&google.ok(&["sync", "--config", file, "--json"]));
    assert_eq!(
        (out[0]["open_conflicts"].as_u64(), out[0]["held_deletes"].as_u64()),
        (Some(1), Some(1)),
        "{out:?}"
    );
    assert_eq!(
        psql(url, "SELECT notes FROM shop.orders WHERE id = 1"),
        "table says",
        "a flagged cell is left alone"
    );
    assert_eq!(cell(google, id, 2, "notes"), "sheet says");
    assert_eq!(
        psql(url, "SELECT count(*) FROM shop.orders WHERE id = 2"),
        "1",
        "a held delete is not carried out"
    );
    // Another pass neither changes them nor logs them twice.
    google.ok(&["sync", "--config", file]);

    let status = report(&format!("[{}]", google.ok(&["status", "--config", file, "--json"])));
    let conflict = status[0]["open_conflicts"][0]["id"].as_i64().expect("an open conflict");
    let held = status[0]["held_deletes"][0]["id"].as_i64().expect("a held delete");
    assert_eq!(status[0]["open_conflicts"].as_array().map(Vec::len), Some(1), "{status:?}");
    google.ok(&["resolve", "--config", file, "conflict", &conflict.to_string(), "--keep", "sheet"]);
    google.ok(&["resolve", "--config", file, "delete", &held.to_string(), "--approve"]);
    let refused = google.run(&["resolve", "--config", file, "delete", &held.to_string(), "--approve"]);
    assert!(!refused.status.success(), "a decision is taken once");

    let out = report(&google.ok(&["sync", "--config", file, "--json"]));
    assert_eq!(out[0]["status"], "success", "{out:?}");
    assert_eq!(psql(url, "SELECT notes FROM shop.orders WHERE id = 1"), "sheet says");
    assert_eq!(
        psql(url, "SELECT count(*) FROM shop.orders WHERE id = 2"),
        "0",
        "the approved delete reached the table"
    );
    let status = report(&format!("[{}]", google.ok(&["status", "--config", file, "--json"])));
    assert_eq!(status[0]["open_conflicts"].as_array().map(Vec::len), Some(0), "{status:?}");
    assert_eq!(status[0]["held_deletes"].as_array().map(Vec::len), Some(0), "{status:?}");
    let again = report(&google.ok(&["sync", "--config", file, "--json"]));
    assert_eq!(
        (again[0]["to_table"]["updated_cells"].as_u64(), again[0]["to_sheet"]["updated_cells"].as_u64()),
        (Some(0), Some(0)),
        "{again:?}"
    );
}

#[test]
fn rows_sorted_in_the_sheet_still_match_by_key() {
    let paired = Paired::new("");
    let (url, google, id, file) = (&paired.url, &paired.google, &paired.id, paired.file.as_str());
    // A person sorts the data rows by sku, descending, and then edits order 7 where it landed.
    let values = google.values(id, "Orders");
    let sku = values[0].iter().position(|h| h == "sku").expect("sku");
    google
        .emulator
        .with_sheets(|s| {
            let sheet_id = s
                .spreadsheet(id)
                .and_then(|ss| ss.sheets.iter().find(|t| t.title == "Orders").map(|t| t.id))
                .expect("the Orders tab");
            s.batch_update(
                id,
                &[serde_json::json!({"sortRange": {
                "range": {"sheetId": sheet_id, "startRowIndex": 1, "endRowIndex": 41},
                "sortSpecs": [{"dimensionIndex": sku, "sortOrder": "DESCENDING"}]}})],
            )
        })
        .expect("a person sorts the tab");
    let sorted = google.values(id, "Orders");
    assert_ne!(sorted, values, "the sort moved rows");
    let quiet = report(&google.ok(&["sync", "--config", file, "--json"]));
    for side in ["to_table", "to_sheet"] {
        assert_eq!(quiet[0][side]["updated_cells"], 0, "moving rows is no change: {quiet:?}");
        assert_eq!(quiet[0][side]["inserts"], 0, "{quiet:?}");
        assert_eq!(quiet[0][side]["deletes"], 0, "{quiet:?}");
    }
    let row = sorted.iter().position(|r| r.first() == Some(&serde_json::json!(7))).expect("order 7") + 1;
    let q = column_letter(google, id, "quantity");
    google
        .emulator
        .with_sheets(|s| s.set_values(id, &format!("Orders!{q}{row}"), vec![vec![serde_json::json!(77)]]))
        .expect("edit");
    google.ok(&["sync", "--config", file]);
    assert_eq!(psql(url, "SELECT quantity FROM shop.orders WHERE id = 7"), "77");
    assert_eq!(google.values(id, "Orders")[row - 1][0], 7, "the sheet keeps the person's order");
}

#[test]
fn a_workbook_open_in_libreoffice_is_skipped_and_synced_once_closed() {
    let (url, dir, file) = customers_workbook_pair();
    let (url, file) = (url.as_str(), file.as_str());
    let book = dir.path().join("book.xlsx");
    let before = std::fs::read(&book).expect("the workbook");
    // LibreOffice's lock file beside the workbook: someone has it open.
    let lock = dir.path().join(".~lock.book.xlsx#");
    std::fs::write(&lock, ",Ada Lovelace,laptop,25.11.2026 10:00,file:///home/ada/.config/libreoffice/4;")
        .expect("lock");
    psql(url, "UPDATE shop.customers SET country = 'IE' WHERE id = 5");
    let out = report(&crate::sheetbridge_ok(&["sync", "--config", file, "--json"]));
    assert_eq!(out[0]["status"], "skipped", "{out:?}");
    assert!(
        out[0]["error"]
            .as_str()
            .is_some_and(|e| e.contains("is open in LibreOffice") && e.contains("after it is closed")),
        "says why and what happens next: {out:?}"
    );
    assert_eq!(std::fs::read(&book).expect("the workbook"), before, "a locked workbook is not touched");
    std::fs::remove_file(&lock).expect("close it");
    let out = report(&crate::sheetbridge_ok(&["sync", "--config", file, "--json"]));
    assert_eq!(out[0]["status"], "success", "{out:?}");
    assert_eq!(out[0]["to_sheet"]["updated_cells"], 1, "{out:?}");
}

#[test]
fn quota_errors_in_the_middle_of_a_pass_are_waited_out_and_the_pass_completes() {
    use sheetbridge_sheets_emulator::{Fault, Route};
    let paired = Paired::new("");
    let (url, google, id, file) = (&paired.url, &paired.google, &paired.id, paired.file.as_str());
    psql(url, "UPDATE shop.orders SET quantity = 99 WHERE id IN (1, 2, 3)");
    // Google says 429 (quota) to the pass's reads and writes, then lets it through.
    google.emulator.faults().push(Fault::rate_limited(Route::Sheets, 1, 3));
    let out = report(&google.ok(&["sync", "--config", file, "--json"]));
    assert_eq!(out[0]["status"], "success", "{out:?}");
    assert_eq!(out[0]["to_sheet"]["updated_cells"], 3, "{out:?}");
    let throttled = google.emulator.requests().iter().filter(|r| r.status == 429).count();
    assert_eq!(throttled, 3, "the faults were met");
    assert_eq!(cell(google, id, 2, "quantity"), 99);
}

#[test]
fn two_serve_processes_on_one_pair_never_run_it_at_once() {
    let url = fresh_db();
    load_examples(&url);
    let google = Google::start();
    let id = google.spreadsheet("Shop");
    let dir = tempfile::tempdir().expect("a folder");
    let file =
        config(dir.path(), &url, &google_pair(&id, "").replace("schedule = \"5m\"", "schedule = \"1s\""));
    let spawn = |listen: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_sheetbridge"))
            .args(["serve", "--config", file.to_str().expect("utf-8"), "--listen", listen])
            .env("SHEETBRIDGE_GOOGLE_ENDPOINT", google.emulator.base_url())
            .env("SHEETBRIDGE_GOOGLE_CREDENTIALS", google.key())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("starting serve")
    };
    let (mut a, mut b) = (spawn("127.0.0.1:0"), spawn("127.0.0.1:0"));
    // Let both run for a while, with the table changing under them.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(8);
    let mut n = 0;
    while std::time::Instant::now() < deadline {
        n += 1;
        psql(&url, &format!("UPDATE shop.orders SET quantity = {} WHERE id = 1", 100 + n));
        std::thread::sleep(std::time::Duration::from_millis(400));
    }
    for child in [&mut a, &mut b] {
        let _ = std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    }
    for child in [&mut a, &mut b] {
        let status = child.wait().expect("serve ends");
        assert_eq!(status.code(), Some(0), "serve exits 0 on SIGTERM");
    }
    // The journal's runs of the pair never overlap in time.
    let runs = psql(
        &url,
        "SELECT count(*) FROM sheetbridge.run r1 JOIN sheetbridge.run r2 ON r1.id < r2.id AND r1.pair = r2.pair
         WHERE r1.started_at < r2.finished_at AND r2.started_at < r1.finished_at",
    );
    assert_eq!(runs, "0", "two passes of one pair overlapped");
    let passes: u64 =
        psql(&url, "SELECT count(*) FROM sheetbridge.run WHERE status = 'success'").parse().expect("a count");
    assert!(passes >= 3, "the pair kept being synced: {passes} passes");
    assert_eq!(psql(&url, "SELECT count(*) FROM sheetbridge.run WHERE status IN ('failed', 'running')"), "0");
    // Both sides agree at the end.
    let last = psql(&url, "SELECT quantity FROM shop.orders WHERE id = 1");
    google.ok(&["sync", "--config", file.to_str().expect("utf-8")]);
    assert_eq!(cell(&google, &id, 2, "quantity").to_string(), last);
}

#[test]
fn a_row_added_to_a_workbook_without_an_id_gets_one_from_the_table_once() {
    let (url, dir, file) = customers_workbook_pair();
    let (url, file) = (url.as_str(), file.as_str());
    let book = dir.path().join("book.xlsx");
    with_workbook_rows(url, "shop.customers", &book, "Customers", |schema, rows| {
        let mut ada = rows[0].clone();
        let set = |row: &mut Vec<Value>, column: &str, value: Value| {
            let (i, _) = schema.column(column).expect("a column");
            row[i] = value;
        };
        set(&mut ada, "id", Value::Null);
        set(&mut ada, "name", Value::Text("Ada Lovelace".into()));
        set(&mut ada, "email", Value::Text("ada@example.com".into()));
        rows.push(ada);
    });
    let out = report(&crate::sheetbridge_ok(&["sync", "--config", file, "--json"]));
    assert_eq!(
        (out[0]["keys_made"].as_u64(), out[0]["to_table"]["inserts"].as_u64()),
        (Some(1), Some(1)),
        "{out:?}"
    );
    let id = psql(url, "SELECT id FROM shop.customers WHERE name = 'Ada Lovelace'");
    let mut ids = Vec::new();
    with_workbook_rows(url, "shop.customers", &book, "Customers", |schema, rows| {
        let (i, _) = schema.column("id").expect("id");
        ids = rows.iter().map(|r| r[i].to_string()).collect();
    });
    assert_eq!(ids.last(), Some(&id), "the workbook row holds the table's key: {ids:?}");
    let again = report(&crate::sheetbridge_ok(&["sync", "--config", file, "--json"]));
    assert_eq!(
        (again[0]["keys_made"].as_u64(), again[0]["to_table"]["inserts"].as_u64()),
        (Some(0), Some(0)),
        "{again:?}"
    );
    assert_eq!(psql(url, "SELECT count(*) FROM shop.customers WHERE name = 'Ada Lovelace'"), "1");
}

#[test]
fn the_same_edit_on_both_sides_agrees_and_moves_the_base() {
    let paired = Paired::new("conflict = \"flag\"");
    let (url, google, id, file) = (&paired.url, &paired.google, &paired.id, paired.file.as_str());
    let n = column_letter(google, id, "notes");
    let sheet_notes = |text: &str| {
        google
            .emulator
            .with_sheets(|s| s.set_values(id, &format!("Orders!{n}2"), vec![vec![serde_json::json!(text)]]))
            .expect("a person edits the tab");
    };

    // Both sides make the same edit: nothing to write, no conflict, and the base moves.
    sheet_notes("agreed");
    psql(url, "UPDATE shop.orders SET notes = 'agreed' WHERE id = 1");
    let out = report(&google.ok(&["sync", "--config", file, "--json"]));
    assert_eq!(out[0]["status"], "success", "{out:?}");
    assert_eq!(out[0]["to_table"]["updated_cells"], 0, "{out:?}");
    assert_eq!(out[0]["to_sheet"]["updated_cells"], 0, "{out:?}");
    assert_eq!(out[0]["conflicts"].as_array().map(Vec::len), Some(0), "{out:?}");
    let base =
        psql(url, "SELECT row->>'notes' FROM sheetbridge.base_row WHERE pair = 'orders' AND key = '[\"1\"]'");
    assert_eq!(base, "agreed");

    // So a later edit on one side is that side's change, not a conflict (the policy is `flag`).
    sheet_notes("later");
    let out = report(&google.ok(&["sync", "--config", file, "--json"]));
    assert_eq!(out[0]["conflicts"].as_array().map(Vec::len), Some(0), "{out:?}");
    assert_eq!(out[0]["to_table"]["updated_cells"], 1, "{out:?}");
    assert_eq!(psql(url, "SELECT notes FROM shop.orders WHERE id = 1"), "later");
}

#[test]
fn each_pass_counts_its_own_api_calls_when_pairs_share_a_client() {
    let url = fresh_db();
    load_examples(&url);
    let google = Google::start();
    let id = google.spreadsheet("Shop");
    let dir = tempfile::tempdir().expect("a folder");
    let customers = format!(
        "[[pair]]\nname = \"customers\"\ntable = \"shop.customers\"\nsheet = \"gsheet://{id}/Customers\"\n\
         schedule = \"5m\"\n"
    );
    let file = config(dir.path(), &url, &format!("{}{customers}", google_pair(&id, "")));
    let file = file.to_str().expect("utf-8");
    google.ok(&["sync", "--config", file]);

    // Both pairs' passes run at once on one client; each counts only its own requests. Slow
    // answers make sure the two passes overlap.
    google.emulator.clear_requests();
    google.emulator.faults().push(sheetbridge_sheets_emulator::Fault::latency(
        sheetbridge_sheets_emulator::Route::Sheets,
        std::time::Duration::from_millis(200),
        20,
    ));
    let out = google.run(&crate::serve::serve_once(file));
    let log = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{log}");
    let passes = crate::serve::finished_passes(&log);
    assert_eq!(passes.len(), 2, "{log}");
    let sent = google.emulator.requests().iter().filter(|r| r.path.starts_with("/v4/")).count() as u64;
    let counted: Vec<u64> = passes.iter().map(|p| p["api_calls"].as_u64().unwrap_or(0)).collect();
    assert!(counted.iter().all(|&c| c > 0), "{passes:?}");
    assert_eq!(counted.iter().sum::<u64>(), sent, "{passes:?}");
    let journal = psql(
        &url,
        "SELECT string_agg(pair || '=' || (counts->>'api_calls'), ' ' ORDER BY pair) FROM sheetbridge.run r \
         WHERE id IN (SELECT max(id) FROM sheetbridge.run GROUP BY pair)",
    );
    let by_pair: Vec<String> = passes
        .iter()
        .map(|p| format!("{}={}", p["pair"].as_str().unwrap_or(""), p["api_calls"]))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(journal, by_pair.join(" "));
}

#[test]
fn a_tab_made_by_export_is_in_agreement_with_its_table_on_the_first_sync() {
    let url = fresh_db();
    load_examples(&url);
    let google = Google::start();
    let id = google.spreadsheet("Shop");
    google.ok(&["export", "--db", &url, "--table", "shop.orders", "--to", &format!("gsheet://{id}/Orders")]);
    let dir = tempfile::tempdir().expect("a folder");
    let file = config(dir.path(), &url, &google_pair(&id, "conflict = \"flag\""));
    let file = file.to_str().expect("utf-8");
    // Every value the export wrote (timestamps to the microsecond among them) reads back as the
    // table holds it: nothing to write either way, no conflict.
    let out = report(&google.ok(&["sync", "--config", file, "--json"]));
    assert_eq!(out[0]["status"], "success", "{out:?}");
    assert_eq!(out[0]["conflicts"].as_array().map(Vec::len), Some(0), "{out:?}");
    assert_eq!(out[0]["to_table"]["updated_cells"], 0, "{out:?}");
    assert_eq!(out[0]["to_sheet"]["updated_cells"], 0, "{out:?}");
}

#[test]
fn a_key_typed_on_two_rows_of_the_sheet_stops_the_pass_naming_both_rows() {
    let paired = Paired::new("");
    let (url, google, id, file) = (&paired.url, &paired.google, &paired.id, paired.file.as_str());
    let (k, n) = (column_letter(google, id, "id"), column_letter(google, id, "notes"));
    // A person copies order 1's id into row 4 and edits a note: nothing may be written.
    let first_id = cell(google, id, 2, "id");
    google
        .emulator
        .with_sheets(|s| {
            s.set_values(id, &format!("Orders!{k}4"), vec![vec![first_id.clone()]])?;
            s.set_values(id, &format!("Orders!{n}5"), vec![vec![serde_json::json!("edited")]])
        })
        .expect("a person edits the tab");
    let before = psql(url, "SELECT notes FROM shop.orders ORDER BY id LIMIT 5");
    let out = google.run(&["sync", "--config", file]);
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), stderr(&out));
    assert_eq!(out.status.code(), Some(3), "{said}");
    assert!(said.contains("a key may stand on one row only") && said.contains("on rows 2 and 4"), "{said}");
    assert_eq!(psql(url, "SELECT notes FROM shop.orders ORDER BY id LIMIT 5"), before);
    let failed =
        psql(url, "SELECT status FROM sheetbridge.run WHERE pair = 'orders' ORDER BY id DESC LIMIT 1");
    assert_eq!(failed, "failed");
}
