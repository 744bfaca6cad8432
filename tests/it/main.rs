//! Tests of the `sheetbridge` command: the real binary against a real
//! PostgreSQL (one throwaway cluster for this test binary, a fresh database
//! per test) and real workbooks.

mod auth;
mod bad_input;
mod check;
mod cli;
mod cloudformation;
mod compose;
mod crash;
mod gsheet;
mod import;
mod libreoffice;
mod local_stack;
mod passwords;
mod roundtrip;
mod serve;
mod stack_sql;
mod sync;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A fresh database on this binary's throwaway cluster.
pub fn fresh_db() -> String {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
    let db = runtime.block_on(sheetbridge_postgres::testing::fresh_db());
    db.config.to_string()
}

/// Runs `sheetbridge` with `args`; no terminal, so no progress bars.
pub fn sheetbridge(args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_sheetbridge"))
        .args(args)
        .env_remove("SHEETBRIDGE_DB")
        .env("SHEETBRIDGE_NO_PROGRESS", "1")
        .output()
        .expect("running the sheetbridge binary");
    out
}

/// Runs `sheetbridge` and requires success, returning stdout.
pub fn sheetbridge_ok(args: &[&str]) -> String {
    let out = sheetbridge(args);
    assert!(
        out.status.success(),
        "sheetbridge {args:?} failed with {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs SQL with psql and returns its unaligned output (`|`-separated, one row a line).
pub fn psql(url: &str, sql: &str) -> String {
    let out = Command::new("psql")
        .args([url, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql])
        .output()
        .expect("running psql (install postgresql-client)");
    assert!(out.status.success(), "psql failed on {sql}:\n{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim_end().to_owned()
}

/// Every row of a table as text, ordered by its first column, for before/after comparisons.
pub fn dump(url: &str, table: &str) -> String {
    psql(url, &format!("SELECT t::text FROM {table} t ORDER BY 1"))
}

/// A fixture workbook of the xlsx connector's tests.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("connectors/xlsx/tests/fixtures").join(name)
}

/// Loads the demo's example data into `url`.
pub fn load_examples(url: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/demo/schema.sql");
    let out = Command::new("psql")
        .args([url, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-f"])
        .arg(&path)
        .output()
        .expect("running psql");
    assert!(out.status.success(), "loading {}: {}", path.display(), String::from_utf8_lossy(&out.stderr));
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}
