//! `export`/`import` against a Google Sheet tab, through the Sheets emulator:
//! the real binary, a real PostgreSQL, a service-account credential that goes
//! through the emulator's JWT-bearer token endpoint.

use std::process::{Command, Output};

use sheetbridge_sheets_emulator::{testing, Emulator, Options};

use crate::roundtrip::ALL_TYPES;
use crate::{dump, fresh_db, load_examples, psql, stderr};

/// An emulator that knows one service account, and that account's key.
pub struct Google {
    pub emulator: Emulator,
    key: String,
    home: tempfile::TempDir,
}

impl Google {
    pub fn start() -> Google {
        let emulator = Emulator::start(Options::default()).expect("starting the Sheets emulator");
        let key = testing::service_account_key("sync@shop-sync.iam.gserviceaccount.com", "shop-sync");
        emulator.with_oauth(|o| o.register_service_account(&key)).expect("registering the service account");
        Google { emulator, key, home: tempfile::tempdir().expect("a home folder") }
    }

    /// The service-account key the emulator knows (JSON).
    pub fn key(&self) -> &str {
        &self.key
    }

    /// A new spreadsheet (one empty tab, `Sheet1`); its id.
    pub fn spreadsheet(&self, title: &str) -> String {
        self.emulator.with_sheets(|s| s.create_spreadsheet(None, title))
    }

    /// Runs `sheetbridge` with this emulator as Google and the key as its credential.
    pub fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_sheetbridge"))
            .args(args)
            .env_remove("SHEETBRIDGE_DB")
            .env_remove("SHEETBRIDGE_GOOGLE_CREDENTIALS_FILE")
            .env("SHEETBRIDGE_NO_PROGRESS", "1")
            .env("SHEETBRIDGE_GOOGLE_ENDPOINT", self.emulator.base_url())
            .env("SHEETBRIDGE_GOOGLE_CREDENTIALS", &self.key)
            .env("HOME", self.home.path())
            .env("XDG_CONFIG_HOME", self.home.path())
            .output()
            .expect("running the sheetbridge binary")
    }

    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "sheetbridge {args:?} failed with {:?}\nstdout:\n{}\nstderr:\n{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            stderr(&out)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The tab's values as Google's UNFORMATTED_VALUE rendering gives them.
    pub fn values(&self, id: &str, range: &str) -> Vec<Vec<serde_json::Value>> {
        self.emulator.with_sheets(|s| s.values_unformatted(id, range)).expect("reading the tab")
    }
}

#[test]
fn every_type_round_trips_exactly_through_a_tab() {
    let url = fresh_db();
    psql(&url, ALL_TYPES);
    psql(&url, "CREATE TABLE edge_copy (LIKE edge INCLUDING ALL)");
    let google = Google::start();
    let id = google.spreadsheet("Edge cases");
    let tab = format!("gsheet://{id}/edge");
    google.ok(&["export", "--db", &url, "--table", "edge", "--to", &tab]);

    google.ok(&["import", "--db", &url, "--from", &tab, "--table", "edge_copy", "--mode", "insert"]);
    let (before, after) = (dump(&url, "edge"), dump(&url, "edge_copy"));
    for (b, a) in before.lines().zip(after.lines()) {
        assert_eq!(b, a, "a row changed on the way through the Google Sheet");
    }
    assert_eq!(before.lines().count(), after.lines().count());

    let out = google.ok(&["import", "--db", &url, "--from", &tab, "--table", "edge", "--json"]);
    let plan: serde_json::Value = serde_json::from_str(&out).expect("JSON summary");
    assert_eq!(plan["unchanged"], 6, "an unchanged tab planned changes: {plan}");
    assert_eq!(plan["updates"], 0, "{plan}");
}

#[test]
fn an_edit_in_the_sheet_lands_in_the_table_after_a_plan() {
    let url = fresh_db();
    load_examples(&url);
    let google = Google::start();
    let out = google.ok(&[
        "export",
        "--db",
        &url,
        "--table",
        "shop.orders",
        "--create",
        "--title",
        "Orders",
        "--json",
    ]);
    let summary: serde_json::Value = serde_json::from_str(&out).expect("JSON summary");
    let tab = summary["file"].as_str().expect("the new tab's reference").to_owned();
    let url_in_browser = summary["url"].as_str().expect("a link").to_owned();
    assert!(url_in_browser.starts_with("https://docs.google.com/spreadsheets/d/"), "{summary}");
    let id = tab.trim_start_matches("gsheet://").split('/').next().expect("id").to_owned();

    // A person types into the tab: a quantity, and a note that looks like a formula.
    let values = google.values(&id, "orders");
    let header: Vec<&str> = values[0].iter().map(|v| v.as_str().unwrap_or("")).collect();
    let col = |name: &str| header.iter().position(|h| *h == name).expect("column in the header");
    let letter = |i: usize| char::from(b'A' + u8::try_from(i).expect("few columns"));
    let (quantity, notes) = (letter(col("quantity")), letter(col("notes")));
    google
        .emulator
        .with_sheets(|s| {
            s.set_values(&id, &format!("orders!{quantity}3"), vec![vec![serde_json::json!("12")]])?;
            s.set_values_raw(&id, &format!("orders!{notes}3"), vec![vec![serde_json::json!("=1+1")]])
        })
        .expect("editing the tab");

    let before = psql(&url, "SELECT quantity FROM shop.orders WHERE id = 2");
    assert_ne!(before, "12");
    // The browser link works as well as the gsheet:// form.
    let link = format!("https://docs.google.com/spreadsheets/d/{id}/edit#gid=0");
    let plan = google.ok(&[
        "import",
        "--db",
        &url,
        "--from",
        &link,
        "--sheet",
        "orders",
        "--table",
        "shop.orders",
        "--dry-run",
        "--json",
    ]);
    let plan: serde_json::Value = serde_json::from_str(&plan).expect("JSON plan");
    assert_eq!((plan["updates"].as_u64(), plan["updated_cells"].as_u64()), (Some(1), Some(2)), "{plan}");
    assert_eq!(psql(&url, "SELECT quantity FROM shop.orders WHERE id = 2"), before, "a dry run wrote");

    google.ok(&["import", "--db", &url, "--from", &tab, "--table", "shop.orders"]);
    assert_eq!(psql(&url, "SELECT quantity || ' ' || notes FROM shop.orders WHERE id = 2"), "12 =1+1");
}

#[test]
fn bad_cells_in_a_tab_are_all_named_and_nothing_is_written() {
    let url = fresh_db();
    load_examples(&url);
    let google = Google::start();
    let id = google.spreadsheet("Orders");
    let tab = format!("gsheet://{id}/orders");
    google.ok(&["export", "--db", &url, "--table", "shop.orders", "--to", &tab]);
    let values = google.values(&id, "orders");
    let header: Vec<&str> = values[0].iter().map(|v| v.as_str().unwrap_or("")).collect();
    let col = |name: &str| header.iter().position(|h| *h == name).expect("column in the header");
    let letter = |i: usize| char::from(b'A' + u8::try_from(i).expect("few columns"));
    let (q, a) = (letter(col("quantity")), letter(col("amount")));
    google
        .emulator
        .with_sheets(|s| {
            s.set_values(&id, &format!("orders!{q}4"), vec![vec![serde_json::json!("a dozen")]])?;
            s.set_values(&id, &format!("orders!{a}6"), vec![vec![serde_json::json!("12.345")]])
        })
        .expect("editing the tab");
    let before = dump(&url, "shop.orders");
    let out = google.run(&["import", "--db", &url, "--from", &tab, "--table", "shop.orders"]);
    assert_eq!(out.status.code(), Some(3), "bad input is exit 3: {}", stderr(&out));
    let err = stderr(&out);
    for needle in [
        format!("{q}4"),
        "a dozen".to_owned(),
        format!("{a}6"),
        "12.345".to_owned(),
        "quantity".to_owned(),
        "amount".to_owned(),
    ] {
        assert!(err.contains(&needle), "the error does not name {needle}:\n{err}");
    }
    assert_eq!(dump(&url, "shop.orders"), before, "a refused import wrote");
}

#[test]
fn without_a_credential_the_command_says_how_to_get_one() {
    let url = fresh_db();
    load_examples(&url);
    let google = Google::start();
    let home = tempfile::tempdir().expect("home");
    let out = Command::new(env!("CARGO_BIN_EXE_sheetbridge"))
        .args([
            "export",
            "--db",
            &url,
            "--table",
            "shop.orders",
            "--to",
            "gsheet://1BxiMVs0XRA5nFMdKvBdBZjgmUUqptlbs74OgvE2upms/Orders",
        ])
        .env_remove("SHEETBRIDGE_GOOGLE_CREDENTIALS")
        .env_remove("SHEETBRIDGE_GOOGLE_CREDENTIALS_FILE")
        .env("SHEETBRIDGE_GOOGLE_ENDPOINT", google.emulator.base_url())
        .env("HOME", home.path())
        .env("XDG_CONFIG_HOME", home.path())
        .output()
        .expect("running sheetbridge");
    assert_eq!(out.status.code(), Some(7), "{}", stderr(&out));
    assert!(stderr(&out).contains("sheetbridge auth login"), "{}", stderr(&out));
    assert!(google.emulator.requests().is_empty(), "nothing should reach Google without a credential");
}

#[test]
fn the_config_file_alone_points_every_command_at_the_emulator() {
    let url = fresh_db();
    load_examples(&url);
    let google = Google::start();
    let id = google.spreadsheet("Customers");
    let dir = tempfile::tempdir().expect("a folder");
    let key_file = dir.path().join("key.json");
    std::fs::write(&key_file, &google.key).expect("writing the key");
    let config = dir.path().join("sheetbridge.toml");
    std::fs::write(
        &config,
        format!(
            "[database]\nurl = \"{url}\"\n\n[google]\nendpoint = \"${{EMULATOR}}\"\ncredentials_file = \"{}\"\n",
            key_file.display()
        ),
    )
    .expect("writing the config");
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_sheetbridge"))
            .args(args)
            .env_remove("SHEETBRIDGE_DB")
            .env_remove("SHEETBRIDGE_GOOGLE_ENDPOINT")
            .env_remove("SHEETBRIDGE_GOOGLE_CREDENTIALS")
            .env_remove("SHEETBRIDGE_GOOGLE_CREDENTIALS_FILE")
            .env("EMULATOR", google.emulator.base_url())
            .env("HOME", dir.path())
            .env("XDG_CONFIG_HOME", dir.path())
            .output()
            .expect("running sheetbridge")
    };
    let config = config.to_str().expect("utf-8");
    let tab = format!("gsheet://{id}/customers");
    let out = run(&["export", "--config", config, "--table", "shop.customers", "--to", &tab]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(google.values(&id, "customers").len(), 6, "header and five customers");

    let status = run(&["auth", "status", "--config", config]);
    assert!(status.status.success(), "{}", stderr(&status));
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(text.contains("sync@shop-sync.iam.gserviceaccount.com"), "{text}");
    assert!(!text.contains("PRIVATE KEY") && !stderr(&status).contains("PRIVATE KEY"), "the key leaked");
}

#[test]
fn passing_faults_are_retried_and_a_refusal_fails_the_run() {
    use sheetbridge_sheets_emulator::{Fault, Route};
    let url = fresh_db();
    load_examples(&url);
    let google = Google::start();
    let id = google.spreadsheet("Orders");
    let faults = google.emulator.faults();
    faults.push(Fault::status(Route::Token, 503, 1));
    faults.push(Fault::rate_limited(Route::Sheets, 1, 1));
    faults.push(Fault::status(Route::Sheets, 503, 1));
    faults.push(Fault::drop_connection(Route::Sheets, 1));
    let tab = format!("gsheet://{id}/orders");
    let out = google.ok(&["export", "--db", &url, "--table", "shop.orders", "--to", &tab, "--json"]);
    let summary: serde_json::Value = serde_json::from_str(&out).expect("JSON summary");
    assert_eq!(summary["rows"], 40, "{summary}");
    assert_eq!(google.values(&id, "orders").len(), 41, "every row arrived despite the faults");
    let statuses: Vec<u16> = google.emulator.requests().iter().map(|r| r.status).collect();
    for status in [503, 429, 0] {
        assert!(statuses.contains(&status), "fault {status} was not met: {statuses:?}");
    }

    // Google refuses for good (the account may not open the spreadsheet): the run fails, says
    // why, and prints no summary.
    faults.push(Fault::status(Route::Sheets, 403, 10));
    let out = google.run(&[
        "export",
        "--db",
        &url,
        "--table",
        "shop.customers",
        "--to",
        &format!("gsheet://{id}/customers"),
    ]);
    assert_eq!(out.status.code(), Some(7), "{}", stderr(&out));
    assert!(
        out.stdout.is_empty(),
        "a failed run printed a summary: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(stderr(&out).contains("sync@shop-sync.iam.gserviceaccount.com"), "{}", stderr(&out));
}
