//! The command line itself: help, exit codes, usage errors.

use crate::{fresh_db, load_examples, sheetbridge, sheetbridge_ok, stderr};

#[test]
fn every_command_has_examples_in_its_help() {
    for command in ["export", "import", "demo", "serve"] {
        let help = sheetbridge_ok(&[command, "--help"]);
        assert!(help.contains("Examples:"), "`sheetbridge {command} --help` shows no examples:\n{help}");
        assert!(help.contains(&format!("sheetbridge {command}")), "{help}");
    }
    let top = sheetbridge_ok(&["--help"]);
    assert!(top.contains("Exit codes:"), "{top}");
}

#[test]
fn a_wrong_flag_is_a_usage_error() {
    let out = sheetbridge(&["export", "--no-such-flag"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}

#[test]
fn a_missing_table_names_the_table() {
    let url = fresh_db();
    let dir = tempfile::tempdir().unwrap();
    let to = dir.path().join("x.xlsx");
    let out = sheetbridge(&["export", "--db", &url, "--table", "public.nope", "--to", to.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("nope"), "{}", stderr(&out));
    assert!(!to.exists(), "a failed export left a file behind");
}

#[test]
fn the_password_never_appears_in_errors() {
    let out = sheetbridge(&[
        "export",
        "--db",
        "postgres://someone:hunter2-secret@127.0.0.1:1/nowhere?connect_timeout=2",
        "--table",
        "t",
        "--to",
        "/tmp/never.xlsx",
    ]);
    assert!(!out.status.success());
    let all = format!("{}{}", stderr(&out), String::from_utf8_lossy(&out.stdout));
    assert!(!all.contains("hunter2"), "the password leaked: {all}");
    assert_eq!(out.status.code(), Some(7), "{all}");
    assert!(all.contains("127.0.0.1:1"), "the error does not name the server: {all}");
}

#[test]
fn a_table_without_a_primary_key_exports_but_import_asks_for_a_key() {
    let url = fresh_db();
    crate::psql(
        &url,
        "CREATE TABLE plain (code text, qty int); INSERT INTO plain VALUES ('a', 1), ('b', 2);",
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("plain.xlsx");
    let f = file.to_str().unwrap();
    sheetbridge_ok(&["export", "--db", &url, "--table", "plain", "--to", f]);
    let out = sheetbridge(&["import", "--db", &url, "--from", f, "--table", "plain"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("no primary key") && stderr(&out).contains("--key"), "{}", stderr(&out));
    // With --key it works, and finds nothing to change.
    let plan =
        sheetbridge_ok(&["import", "--db", &url, "--from", f, "--table", "plain", "--key", "code", "--json"]);
    let plan: serde_json::Value = serde_json::from_str(&plan).unwrap();
    assert_eq!(plan["unchanged"], 2, "{plan}");
}

#[test]
fn demo_data_loads_and_exports_with_the_view() {
    let url = fresh_db();
    load_examples(&url);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("open.xlsx");
    let out = sheetbridge_ok(&[
        "export",
        "--db",
        &url,
        "--table",
        "shop.open_orders",
        "--to",
        file.to_str().unwrap(),
        "--json",
    ]);
    let summary: serde_json::Value = serde_json::from_str(&out).unwrap();
    let expected: u64 = crate::psql(&url, "SELECT count(*) FROM shop.open_orders").parse().unwrap();
    assert_eq!(summary["rows"], expected);
    assert_eq!(summary["sheet"], "open_orders");
}

#[test]
fn the_demo_runs_end_to_end_and_cleans_up() {
    let out = sheetbridge(&["demo"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "demo failed:\n{text}\n{}", stderr(&out));
    for expected in [
        "\"a dozen\" is not an integer (column `quantity`, int4)",
        "nothing was written",
        "dry run: nothing was written",
        "1 to insert, 3 to update (4 cells)",
        "=call the customer first",
        "00042",
    ] {
        assert!(text.contains(expected), "the demo's output lacks {expected:?}:\n{text}");
    }
}

#[test]
fn the_config_file_supplies_the_database_and_reports_unset_variables() {
    let url = fresh_db();
    crate::psql(&url, "CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1), (2);");
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("sheetbridge.toml");
    std::fs::write(&config, "[database]\nurl = \"${TEST_DB_URL}\"\n").unwrap();
    let to = dir.path().join("t.xlsx");
    let run = |with_env: bool| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_sheetbridge"));
        cmd.args([
            "export",
            "--config",
            config.to_str().unwrap(),
            "--table",
            "t",
            "--to",
            to.to_str().unwrap(),
            "--json",
        ]);
        cmd.env_remove("SHEETBRIDGE_DB").env_remove("TEST_DB_URL");
        if with_env {
            cmd.env("TEST_DB_URL", &url);
        }
        cmd.output().unwrap()
    };
    let out = run(false);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("line 2") && stderr(&out).contains("${TEST_DB_URL}"), "{}", stderr(&out));
    let out = run(true);
    assert!(out.status.success(), "{}", stderr(&out));
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["rows"], 2);
}
