//! A sync killed at any step leaves both sides recoverable: the next pass converges with
//! nothing lost and nothing duplicated. Killed at each step by a failpoint (the binary is
//! built with the `failpoints` feature in the tests) and with SIGKILL in the middle of a
//! slow run.

use std::time::Duration;

use sheetbridge_sheets_emulator::{Fault, Route};

use crate::gsheet::Google;
use crate::psql;
use crate::sync::Paired;

fn setup() -> (String, Google, String, tempfile::TempDir, String) {
    let p = Paired::new("deletes = \"propagate\"");
    (p.url, p.google, p.id, p.dir, p.file)
}

/// Edits on both sides: a quantity in the sheet, notes in the table, a row typed into the
/// sheet without an id, a row inserted and one deleted by the application.
fn edit_both_sides(url: &str, google: &Google, id: &str) {
    let values = google.values(id, "Orders");
    let header: Vec<String> = values[0].iter().map(|h| h.as_str().unwrap_or("").to_owned()).collect();
    let col = |name: &str| {
        char::from(b'A' + u8::try_from(header.iter().position(|h| h == name).expect("column")).expect("few"))
    };
    let typed: Vec<serde_json::Value> = header
        .iter()
        .map(|h| match h.as_str() {
            "customer_id" => serde_json::json!(3),
            "sku" => serde_json::json!("TYPED"),
            "quantity" => serde_json::json!(4),
            "amount" => serde_json::json!(1.25),
            "status" => serde_json::json!("new"),
            "ordered_at" => serde_json::json!("2024-06-01 09:00:00"),
            "paid" => serde_json::json!(true),
            _ => serde_json::json!(""),
        })
        .collect();
    google
        .emulator
        .with_sheets(|s| {
            s.set_values(id, &format!("Orders!{}5", col("quantity")), vec![vec![serde_json::json!(44)]])?;
            s.set_values(id, "Orders!A42", vec![typed])
        })
        .expect("a person edits the tab");
    psql(url, "UPDATE shop.orders SET notes = 'table edit' WHERE id = 6");
    psql(url, "INSERT INTO shop.orders (customer_id, sku, quantity, amount, ordered_at) VALUES (2, 'APP', 1, 2.00, now())");
    psql(url, "DELETE FROM shop.orders WHERE id = 9");
}

/// Both sides hold every edit exactly once, and a further pass has nothing to do.
fn assert_converged(url: &str, google: &Google, id: &str, file: &str, when: &str) {
    let out = google.ok(&["sync", "--config", file, "--json"]);
    let report: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(report[0]["status"], "success", "{when}: the pass after the crash: {report}");
    let settled = google.ok(&["sync", "--config", file, "--json"]);
    let settled: serde_json::Value = serde_json::from_str(&settled).expect("JSON");
    for side in ["to_table", "to_sheet"] {
        for count in ["inserts", "updated_cells", "deletes"] {
            assert_eq!(
                settled[0][side][count], 0,
                "{when}: a third pass still writes {side}.{count}: {settled}"
            );
        }
    }
    assert_eq!(psql(url, "SELECT quantity FROM shop.orders WHERE id = 4"), "44", "{when}: the sheet's edit");
    assert_eq!(
        psql(url, "SELECT count(*) FROM shop.orders WHERE sku = 'TYPED'"),
        "1",
        "{when}: the typed row, once"
    );
    assert_eq!(psql(url, "SELECT count(*) FROM shop.orders WHERE id = 9"), "0", "{when}: the deleted row");
    let values = google.values(id, "Orders");
    let header = &values[0];
    let at = |name: &str| header.iter().position(|h| h == name).expect("column");
    let rows = &values[1..];
    let notes_of_6 = rows.iter().find(|r| r[at("id")] == 6).map(|r| r.get(at("notes")).cloned());
    assert_eq!(
        notes_of_6,
        Some(Some(serde_json::json!("table edit"))),
        "{when}: the table's edit in the sheet"
    );
    assert_eq!(
        rows.iter().filter(|r| r.get(at("sku")) == Some(&serde_json::json!("TYPED"))).count(),
        1,
        "{when}"
    );
    assert_eq!(
        rows.iter().filter(|r| r.get(at("sku")) == Some(&serde_json::json!("APP"))).count(),
        1,
        "{when}"
    );
    assert!(rows.iter().all(|r| r[at("id")] != 9), "{when}: the deleted row is gone from the sheet");
    assert!(rows.iter().all(|r| r[at("id")].is_i64()), "{when}: every sheet row has its key");
    assert_eq!(
        rows.len().to_string(),
        psql(url, "SELECT count(*) FROM shop.orders"),
        "{when}: as many rows on both sides"
    );
}

#[test]
fn a_sync_killed_at_every_step_converges_on_the_next_pass() {
    for step in ["keys_written", "table_written", "sheet_written", "base_written"] {
        let (url, google, id, _dir, file) = setup();
        edit_both_sides(&url, &google, &id);
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_sheetbridge"))
            .args(["sync", "--config", &file])
            .env("SHEETBRIDGE_FAILPOINT", step)
            .env("SHEETBRIDGE_GOOGLE_ENDPOINT", google.emulator.base_url())
            .env("SHEETBRIDGE_GOOGLE_CREDENTIALS", google.key())
            .output()
            .expect("running sheetbridge");
        assert!(out.status.code().is_none(), "{step}: the failpoint did not stop the process: {out:?}");
        // The journal of the killed run says it did not finish; the next pass closes it as failed.
        assert_eq!(
            psql(&url, "SELECT count(*) FROM sheetbridge.run WHERE status = 'running'"),
            "1",
            "{step}"
        );
        assert_converged(&url, &google, &id, &file, step);
        assert_eq!(
            psql(&url, "SELECT count(*) FROM sheetbridge.run WHERE status = 'success'"),
            "3",
            "{step}: the killed run is never counted a success"
        );
    }
}

#[test]
fn a_sync_killed_mid_write_by_sigkill_converges_on_the_next_pass() {
    let (url, google, id, _dir, file) = setup();
    edit_both_sides(&url, &google, &id);
    // Every Sheets call takes a while, so the kill lands while the pass is writing.
    google.emulator.faults().push(Fault::latency(Route::Sheets, Duration::from_millis(400), 20));
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_sheetbridge"))
        .args(["sync", "--config", &file])
        .env("SHEETBRIDGE_GOOGLE_ENDPOINT", google.emulator.base_url())
        .env("SHEETBRIDGE_GOOGLE_CREDENTIALS", google.key())
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("running sheetbridge");
    let started = std::time::Instant::now();
    // Kill once the sheet has been written to at least once (the keys, or the changes).
    while google.emulator.requests().iter().filter(|r| r.method != "GET").count() < 1
        && started.elapsed() < Duration::from_secs(30)
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().expect("SIGKILL");
    let _ = child.wait();
    google.emulator.faults().clear();
    assert_converged(&url, &google, &id, &file, "after SIGKILL");
}

#[test]
fn an_application_write_during_a_pass_is_never_overwritten() {
    let (url, google, id, dir, file) = setup();
    // The sheet changes order 4's quantity; the pass plans to write it to the table...
    let values = google.values(&id, "Orders");
    let q = values[0].iter().position(|h| h == "quantity").expect("quantity");
    let q = char::from(b'A' + u8::try_from(q).expect("few"));
    google
        .emulator
        .with_sheets(|s| s.set_values(&id, &format!("Orders!{q}5"), vec![vec![serde_json::json!(44)]]))
        .expect("edit");
    let pause = dir.path().join("paused");
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_sheetbridge"))
        .args(["sync", "--config", &file, "--json"])
        .env("SHEETBRIDGE_PAUSEPOINT", format!("planned:{}", pause.display()))
        .env("SHEETBRIDGE_GOOGLE_ENDPOINT", google.emulator.base_url())
        .env("SHEETBRIDGE_GOOGLE_CREDENTIALS", google.key())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("running sheetbridge");
    let started = std::time::Instant::now();
    while !pause.exists() {
        assert!(started.elapsed() < Duration::from_secs(30), "the pass never reached its plan");
        std::thread::sleep(Duration::from_millis(20));
    }
    // ...while the application writes the same row.
    psql(&url, "UPDATE shop.orders SET quantity = 5000 WHERE id = 4");
    std::fs::remove_file(&pause).expect("let the pass go on");
    let out = child.wait_with_output().expect("the pass ends");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(report[0]["status"], "partial", "the moved row is left for the next pass: {report}");
    assert_eq!(report[0]["to_table"]["skipped_conflicts"], 1, "{report}");
    assert_eq!(
        psql(&url, "SELECT quantity FROM shop.orders WHERE id = 4"),
        "5000",
        "the application's write stands"
    );
    // The next pass sees both sides changed: a conflict, settled by the policy (table_wins) and logged.
    let next = google.ok(&["sync", "--config", &file, "--json"]);
    let next: serde_json::Value = serde_json::from_str(&next).expect("JSON");
    assert_eq!(next[0]["status"], "success", "{next}");
    assert_eq!(psql(&url, "SELECT quantity FROM shop.orders WHERE id = 4"), "5000");
    assert_eq!(psql(&url, "SELECT count(*) FROM sheetbridge.conflict WHERE \"column\" = 'quantity'"), "1");
    let values = google.values(&id, "Orders");
    let row = values.iter().find(|r| r.first() == Some(&serde_json::json!(4))).expect("order 4");
    let at = values[0].iter().position(|h| h == "quantity").expect("quantity");
    assert_eq!(row[at], 5000);
}
