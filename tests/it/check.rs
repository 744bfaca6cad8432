//! `sheetbridge check`: the config file validated and every endpoint reached,
//! against a real PostgreSQL, the Sheets emulator and real workbooks; nothing
//! is ever written.

use std::path::Path;

use crate::gsheet::Google;
use crate::{fresh_db, load_examples, psql, sheetbridge_ok, stderr};

/// Every file in `dir` with its bytes, to show nothing was written there.
fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .expect("listing the folder")
        .map(|e| {
            let e = e.expect("an entry");
            (e.file_name().to_string_lossy().into_owned(), std::fs::read(e.path()).unwrap_or_default())
        })
        .collect();
    out.sort();
    out
}

/// Only reads reached the emulator (and the token endpoint).
fn only_reads(google: &Google) {
    for r in google.emulator.requests() {
        assert!(
            r.method == "GET" || r.path.contains("token"),
            "check wrote to Google: {} {}",
            r.method,
            r.path
        );
    }
}

fn no_sheetbridge_schema(url: &str) {
    assert_eq!(
        psql(url, "SELECT count(*) FROM pg_namespace WHERE nspname = 'sheetbridge'"),
        "0",
        "check created the sheetbridge schema"
    );
}

/// A database with the shop, a spreadsheet with the orders tab, a workbook with the customers.
fn setup(google: &Google, dir: &Path) -> (String, String) {
    let url = fresh_db();
    load_examples(&url);
    let id = google.spreadsheet("Shop");
    google.ok(&["export", "--db", &url, "--table", "shop.orders", "--to", &format!("gsheet://{id}/orders")]);
    let book = dir.join("customers.xlsx");
    sheetbridge_ok(&[
        "export",
        "--db",
        &url,
        "--table",
        "shop.customers",
        "--to",
        book.to_str().expect("utf-8"),
    ]);
    google.emulator.clear_requests();
    (url, id)
}

#[test]
fn a_good_config_checks_out_and_nothing_is_written() {
    let google = Google::start();
    let dir = tempfile::tempdir().expect("a folder");
    let (url, id) = setup(&google, dir.path());
    let config = dir.path().join("sheetbridge.toml");
    std::fs::write(
        &config,
        format!(
            r#"[database]
url = "${{CHECK_DB:-{url}}}"

[serve]
listen = "127.0.0.1:0"

[[pair]]
name = "orders"
table = "shop.orders"
sheet = "gsheet://{id}/orders"
read_only = ["amount"]
conflict = "flag"
conflict_columns = {{ notes = "sheet_wins" }}
deletes = "hold"
max_deletes = "5%"
schedule = "*/5 * * * *"

[[pair]]
name = "customers"
table = "shop.customers"
sheet = "customers.xlsx"
tab = "customers"
direction = "to_sheet"
schedule = "1h"

# Not there yet: the first sync makes the workbook and the tab.
[[pair]]
name = "new_book"
table = "shop.customers"
sheet = "new.xlsx"
schedule = "@daily"

[[pair]]
name = "new_tab"
table = "shop.customers"
sheet = "gsheet://{id}/Customers"
enabled = false
"#
        ),
    )
    .expect("writing the config");
    let before = files(dir.path());
    let config = config.to_str().expect("utf-8");

    let out = google.run(&["check", "--config", config]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(0), "{text}\n{}", stderr(&out));
    for pair in ["orders", "customers", "new_book", "new_tab"] {
        assert!(text.contains(&format!("ok: pair `{pair}`")), "pair {pair} is not reported ok:\n{text}");
    }
    assert!(text.contains("line 30, pair `new_book`: workbook"), "{text}");
    assert!(text.contains("pair `new_tab`") && text.contains("first sync creates it"), "{text}");

    let out = google.run(&["check", "--config", config, "--json", "orders"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(report["ok"], true, "{report}");
    assert_eq!(report["pairs"].as_array().map(Vec::len), Some(1), "only the pair asked for: {report}");
    assert_eq!(report["pairs"][0]["name"], "orders");

    no_sheetbridge_schema(&url);
    only_reads(&google);
    assert_eq!(files(dir.path()), before, "check changed the folder");
}

#[test]
fn every_problem_is_listed_with_its_pair_and_nothing_is_written() {
    let google = Google::start();
    let dir = tempfile::tempdir().expect("a folder");
    let (url, id) = setup(&google, dir.path());
    let config = dir.path().join("sheetbridge.toml");
    std::fs::write(
        &config,
        format!(
            r#"[database]
url = "{url}"

[[pair]]
name = "gone"
table = "shop.nope"
sheet = "customers.xlsx"

[[pair]]
name = "typo"
table = "shop.orders"
sheet = "gsheet://{id}/orders"
read_only = ["amount", "colour"]

[[pair]]
name = "when"
table = "shop.customers"
sheet = "customers.xlsx"
tab = "customers"
schedule = "every five minutes"
read_only = ["shade"]

[[pair]]
name = "elsewhere"
table = "shop.orders"
sheet = "gsheet://1NoSuchSpreadsheetXXXXXXXXXXXXXXXXXXXXXXXXX/orders"

[[pair]]
name = "no_tab"
table = "shop.orders"
sheet = "gsheet://{id}/Nope"
direction = "to_table"

[[pair]]
name = "header"
table = "shop.orders"
sheet = "customers.xlsx"
tab = "customers"
"#
        ),
    )
    .expect("writing the config");
    let before = files(dir.path());
    let config = config.to_str().expect("utf-8");

    let out = google.run(&["check", "--config", config]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(
        out.status.code(),
        Some(3),
        "config and schema problems are exit 3:\n{text}\n{}",
        stderr(&out)
    );
    let file = format!("config `{config}`");
    for needle in [
        format!("{file} line 6, pair `gone`: table `shop.nope` does not exist"),
        format!("{file} line 13, pair `typo`: `read_only` names column `colour`, which `shop.orders` does not have"),
        format!("{file} line 20, pair `when`: `schedule`:"),
        format!("{file} line 26, pair `elsewhere`: `gsheet://1NoSuchSpreadsheetXXXXXXXXXXXXXXXXXXXXXXXXX/orders`"),
        format!("{file} line 31, pair `no_tab`:"),
        format!("{file} line 37, pair `header`: `"),
    ] {
        assert!(text.lines().any(|l| l.contains(&needle)), "no line holds {needle:?}:\n{text}");
    }
    assert!(text.contains("has no tab `Nope`"), "{text}");
    assert!(text.contains("the header lacks synced columns: `customer_id`, `sku`"), "{text}");
    assert!(text.contains("the header has columns the pair does not sync: `name`, `email`"), "{text}");
    // The pair with a bad schedule was still taken to the database.
    let shade = format!("{file} line 21, pair `when`: `read_only` names column `shade`");
    assert!(text.lines().any(|l| l.contains(&shade)), "{text}");
    for bad in ["gone", "typo", "elsewhere", "no_tab", "header"] {
        assert!(!text.contains(&format!("ok: pair `{bad}`")), "pair {bad} reported ok:\n{text}");
    }

    let out = google.run(&["check", "--config", config, "--json"]);
    assert_eq!(out.status.code(), Some(3));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!((report["ok"].as_bool(), report["exit_code"].as_u64()), (Some(false), Some(3)), "{report}");
    let findings = report["findings"].as_array().expect("findings");
    for pair in ["gone", "typo", "when", "elsewhere", "no_tab", "header"] {
        assert!(
            findings.iter().any(|f| f["pair"] == pair && f["severity"] == "error"),
            "no error for pair {pair}: {report}"
        );
    }
    let when = findings.iter().find(|f| f["pair"] == "when").expect("the schedule problem");
    assert_eq!((when["kind"].as_str(), when["line"].as_u64()), (Some("config"), Some(20)), "{when}");

    no_sheetbridge_schema(&url);
    only_reads(&google);
    assert_eq!(files(dir.path()), before, "check changed the folder");
}

#[test]
fn an_unreachable_database_is_exit_7_without_the_password() {
    let dir = tempfile::tempdir().expect("a folder");
    let config = dir.path().join("sheetbridge.toml");
    std::fs::write(
        &config,
        "[database]\nurl = \"postgres://someone@127.0.0.1:1/nowhere?connect_timeout=2\"\npassword = \"${PW}\"\n\n\
         [[pair]]\nname = \"t\"\ntable = \"t\"\nsheet = \"t.xlsx\"\n",
    )
    .expect("writing the config");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sheetbridge"))
        .args(["check", "--config", config.to_str().expect("utf-8")])
        .env_remove("SHEETBRIDGE_DB")
        .env("PW", "hunter2-secret")
        .output()
        .expect("running sheetbridge");
    let all = format!("{}{}", String::from_utf8_lossy(&out.stdout), stderr(&out));
    assert_eq!(out.status.code(), Some(7), "{all}");
    assert!(all.contains("127.0.0.1:1"), "the error does not name the server: {all}");
    assert!(!all.contains("hunter2"), "the password leaked: {all}");
}

#[test]
fn a_pair_not_in_the_file_is_named() {
    let dir = tempfile::tempdir().expect("a folder");
    let config = dir.path().join("sheetbridge.toml");
    std::fs::write(&config, "[[pair]]\nname = \"a\"\ntable = \"t\"\nsheet = \"gsheet://abc/T\"\nkey = []\n")
        .expect("writing the config");
    let out = crate::sheetbridge(&[
        "check",
        "--config",
        config.to_str().expect("utf-8"),
        "--db",
        "postgres://x@127.0.0.1:1/none?connect_timeout=1",
        "b",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(3), "{text}{}", stderr(&out));
    assert!(text.contains("pair `b`: there is no such pair in the file (its pairs: `a`)"), "{text}");
}

#[test]
fn migrations_this_binary_does_not_know_are_a_problem() {
    let url = fresh_db();
    load_examples(&url);
    psql(
        &url,
        "CREATE SCHEMA sheetbridge; CREATE TABLE sheetbridge.schema_migrations \
         (version integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL, \
          applied_at timestamptz NOT NULL DEFAULT now()); \
         INSERT INTO sheetbridge.schema_migrations VALUES (999, '0999_future.sql', 'x')",
    );
    let dir = tempfile::tempdir().expect("a folder");
    let book = dir.path().join("customers.xlsx");
    sheetbridge_ok(&[
        "export",
        "--db",
        &url,
        "--table",
        "shop.customers",
        "--to",
        book.to_str().expect("utf-8"),
    ]);
    let config = dir.path().join("sheetbridge.toml");
    std::fs::write(
        &config,
        format!("[database]\nurl = \"{url}\"\n\n[[pair]]\nname = \"c\"\ntable = \"shop.customers\"\nsheet = \"customers.xlsx\"\ntab = \"customers\"\n"),
    )
    .expect("writing the config");
    let out = crate::sheetbridge(&["check", "--config", config.to_str().expect("utf-8")]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(3), "{text}{}", stderr(&out));
    assert!(text.contains("migration 999 (`0999_future.sql`)"), "{text}");
    assert!(text.contains("ok: pair `c`"), "{text}");
    assert_eq!(psql(&url, "SELECT count(*) FROM sheetbridge.schema_migrations"), "1", "check migrated");

    let help = sheetbridge_ok(&["check", "--help"]);
    assert!(help.contains("Examples:") && help.contains("sheetbridge check"), "{help}");
}

#[test]
fn without_a_google_credential_each_google_pair_says_how_to_get_one() {
    let google = Google::start();
    let url = fresh_db();
    load_examples(&url);
    let id = google.spreadsheet("Shop");
    let dir = tempfile::tempdir().expect("a folder");
    let config = dir.path().join("sheetbridge.toml");
    std::fs::write(
        &config,
        format!(
            "[database]\nurl = \"{url}\"\n\n[[pair]]\nname = \"orders\"\ntable = \"shop.orders\"\n\
             sheet = \"gsheet://{id}/orders\"\n"
        ),
    )
    .expect("writing the config");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sheetbridge"))
        .args(["check", "--config", config.to_str().expect("utf-8")])
        .env_remove("SHEETBRIDGE_DB")
        .env_remove("SHEETBRIDGE_GOOGLE_CREDENTIALS")
        .env_remove("SHEETBRIDGE_GOOGLE_CREDENTIALS_FILE")
        .env("SHEETBRIDGE_GOOGLE_ENDPOINT", google.emulator.base_url())
        .env("HOME", dir.path())
        .env("XDG_CONFIG_HOME", dir.path())
        .output()
        .expect("running sheetbridge");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(7), "{text}{}", stderr(&out));
    assert!(text.contains("line 7, pair `orders`") && text.contains("sheetbridge auth login"), "{text}");
    assert!(google.emulator.requests().is_empty(), "nothing should reach Google without a credential");
}
