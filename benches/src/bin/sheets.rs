//! Export and import through the Google Sheets API, against the local Sheets emulator.
//!
//! ```text
//! sheets [--sizes 10000,100000] [--sheetbridge target/release/sheetbridge]
//! ```
//!
//! Starts a throwaway PostgreSQL and the emulator (in this process), fills `bench.orders`
//! with N rows of 10 mixed columns, then runs the real `sheetbridge` binary under
//! `/usr/bin/time -v`: `export --to gsheet://ID/orders`, and `import --from` that tab into
//! an empty copy of the table. Reports wall time, CPU time and peak memory of the command
//! (the emulator and the server are not counted), the Sheets API requests it made and their
//! largest body, and checks the import against the source both ways (`EXCEPT`).

use std::process::Command;
use std::time::Instant;

use anyhow::{bail, ensure, Context, Result};
use sheetbridge_postgres::local::LocalCluster;
use sheetbridge_sheets_emulator::{Emulator, Options, Quota};

const TABLE: &str = "
CREATE SCHEMA bench;
CREATE TYPE bench.status AS ENUM ('new', 'paid', 'shipped', 'cancelled');
CREATE TABLE bench.orders (
    id         bigint PRIMARY KEY,
    customer   text NOT NULL,
    email      text,
    amount     numeric(12,2) NOT NULL,
    quantity   integer NOT NULL,
    status     bench.status NOT NULL,
    ordered_at timestamptz NOT NULL,
    ship_date  date,
    paid       boolean NOT NULL,
    notes      text
);";

fn main() -> Result<()> {
    let mut sizes = vec![10_000u64, 100_000];
    let mut sheetbridge = "target/release/sheetbridge".to_owned();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--sizes" => {
                sizes = args
                    .next()
                    .context("--sizes needs a list")?
                    .split(',')
                    .map(|s| s.trim().parse().context("a size is a row count"))
                    .collect::<Result<_>>()?;
            }
            "--sheetbridge" => sheetbridge = args.next().context("--sheetbridge needs a path")?,
            other => bail!("unknown argument {other}"),
        }
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let cluster = LocalCluster::start()?;
    runtime.block_on(cluster.create_database("bench"))?;
    let url = cluster.url("bench");
    psql(&url, TABLE)?;
    let quota = Quota {
        reads_per_user: 1_000_000,
        writes_per_user: 1_000_000,
        reads_per_project: 1_000_000,
        writes_per_project: 1_000_000,
    };
    let emulator = Emulator::start(Options { quota, ..Options::default() })?;
    let key = service_account(&emulator)?;

    println!("| rows × 10 columns | export | requests (largest body) | import | check |");
    println!("|---|---|---|---|---|");
    for n in sizes {
        psql(&url, "TRUNCATE bench.orders")?;
        psql(
            &url,
            &format!(
                "INSERT INTO bench.orders
                 SELECT g, 'customer ' || (g % 9973), CASE WHEN g % 7 = 0 THEN NULL ELSE 'c' || g || '@example.com' END,
                        (g % 100000) / 100.0, 1 + g % 50, (ARRAY['new','paid','shipped','cancelled'])[1 + g % 4]::bench.status,
                        timestamptz '2024-01-01 00:00:00+00' + g * interval '17 seconds',
                        CASE WHEN g % 3 = 0 THEN NULL ELSE date '2024-01-01' + (g % 400) END,
                        g % 2 = 0, CASE WHEN g % 5 = 0 THEN 'note ' || g ELSE NULL END
                 FROM generate_series(1, {n}) g"
            ),
        )?;
        let id = emulator.with_sheets(|s| s.create_spreadsheet(None, "bench"));
        let tab = format!("gsheet://{id}/orders");
        emulator.clear_requests();
        let export = timed(
            &sheetbridge,
            &key,
            &emulator,
            &["export", "--db", &url, "--table", "bench.orders", "--to", &tab],
        )?;
        let requests = emulator.requests();
        let sheets_calls: Vec<_> = requests.iter().filter(|r| r.path.starts_with("/v4/")).collect();
        let largest = sheets_calls.iter().map(|r| r.body_bytes).max().unwrap_or(0);

        psql(&url, "DROP TABLE IF EXISTS bench.orders_in; CREATE TABLE bench.orders_in (LIKE bench.orders INCLUDING ALL)")?;
        let import = timed(
            &sheetbridge,
            &key,
            &emulator,
            &["import", "--db", &url, "--from", &tab, "--table", "bench.orders_in", "--mode", "insert"],
        )?;
        let diff = psql(
            &url,
            "SELECT (SELECT count(*) FROM (TABLE bench.orders EXCEPT TABLE bench.orders_in) a)
                  + (SELECT count(*) FROM (TABLE bench.orders_in EXCEPT TABLE bench.orders) b)",
        )?;
        ensure!(diff.trim() == "0", "{n} rows: the imported table differs from the source in {diff} rows");
        println!(
            "| {n} | {export} | {} ({:.2} MB) | {import} | identical |",
            sheets_calls.len(),
            largest as f64 / 1e6
        );
        emulator.with_sheets(|s| s.delete_spreadsheet(&id));
    }
    Ok(())
}

/// Runs sheetbridge under `/usr/bin/time -v`; "wall s, CPU s, peak MB".
fn timed(sheetbridge: &str, key: &str, emulator: &Emulator, args: &[&str]) -> Result<String> {
    let started = Instant::now();
    let out = Command::new("/usr/bin/time")
        .arg("-v")
        .arg(sheetbridge)
        .args(args)
        .env("SHEETBRIDGE_GOOGLE_ENDPOINT", emulator.base_url())
        .env("SHEETBRIDGE_GOOGLE_CREDENTIALS", key)
        .env("SHEETBRIDGE_NO_PROGRESS", "1")
        .output()
        .context("running /usr/bin/time (Debian: apt install time)")?;
    let wall = started.elapsed().as_secs_f64();
    let err = String::from_utf8_lossy(&out.stderr);
    ensure!(out.status.success(), "sheetbridge {args:?} failed:\n{err}");
    let field = |name: &str| -> f64 {
        err.lines()
            .find_map(|l| l.trim().strip_prefix(name).map(|v| v.trim().parse().unwrap_or(0.0)))
            .unwrap_or(0.0)
    };
    let cpu = field("User time (seconds):") + field("System time (seconds):");
    let peak_mb = field("Maximum resident set size (kbytes):") / 1024.0;
    Ok(format!("{wall:.2} s, CPU {cpu:.2} s, {peak_mb:.0} MB"))
}

/// A service account the emulator knows; its key JSON (made with the openssl command).
fn service_account(emulator: &Emulator) -> Result<String> {
    let out = Command::new("openssl")
        .args(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"])
        .output()
        .context("running openssl")?;
    ensure!(out.status.success(), "openssl failed");
    let key = serde_json::json!({
        "type": "service_account", "project_id": "bench", "private_key_id": "1",
        "private_key": String::from_utf8(out.stdout)?, "client_email": "bench@bench.iam.gserviceaccount.com",
        "token_uri": "https://oauth2.googleapis.com/token",
    })
    .to_string();
    emulator.with_oauth(|o| o.register_service_account(&key)).map_err(anyhow::Error::msg)?;
    Ok(key)
}

fn psql(url: &str, sql: &str) -> Result<String> {
    let out = Command::new("psql")
        .args([url, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql])
        .output()
        .context("running psql")?;
    ensure!(out.status.success(), "psql: {}", String::from_utf8_lossy(&out.stderr));
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}
