//! Export and import through the Google Sheets API, against the local Sheets emulator.
//!
//! ```text
//! sheets [--sizes 10000,100000] [--sync-sizes 10000,100000] [--sync-columns 10]
//!        [--sheetbridge target/release/sheetbridge]
//! ```
//!
//! Starts a throwaway PostgreSQL and the emulator (in this process), fills `bench.orders`
//! with N rows of 10 mixed columns, then runs the real `sheetbridge` binary under
//! `/usr/bin/time -v`: `export --to gsheet://ID/orders`, and `import --from` that tab into
//! an empty copy of the table. Reports wall time, CPU time and peak memory of the command
//! (the emulator and the server are not counted), the Sheets API requests it made and their
//! largest body, and checks the import against the source both ways (`EXCEPT`). Then
//! `sync` of the table with a tab: the first pass, a pass with nothing changed (it must
//! write nothing), and a pass with 1% of the rows changed on each side (it must write
//! exactly those cells), with the requests each made. `--sync-columns 9` syncs 9 of the
//! 10 columns (not `email`): a tab holds at most 10 million cells, so 1,000,000 rows of
//! 10 columns cannot be one tab, 9 can.

use std::process::Command;
use std::time::Instant;

use anyhow::{bail, ensure, Context, Result};
use sheetbridge_postgres::local::LocalCluster;
use sheetbridge_sheets_emulator::{Emulator, Options, Quota};

/// The table's columns; a pair of fewer columns leaves out the first ones of [`DROPPED`].
const COLUMNS: [&str; 10] =
    ["id", "customer", "email", "amount", "quantity", "status", "ordered_at", "ship_date", "paid", "notes"];
const DROPPED: [&str; 7] = ["email", "ship_date", "customer", "paid", "amount", "ordered_at", "status"];

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
    let mut sync_sizes = vec![10_000u64, 100_000];
    let mut sync_columns = COLUMNS.len();
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
            "--sync-sizes" => {
                sync_sizes = args
                    .next()
                    .context("--sync-sizes needs a list")?
                    .split(',')
                    .map(|s| s.trim().parse().context("a size is a row count"))
                    .collect::<Result<_>>()?;
            }
            "--sync-columns" => {
                sync_columns = args.next().context("--sync-columns needs a count")?.parse()?;
                ensure!(
                    (3..=COLUMNS.len()).contains(&sync_columns),
                    "--sync-columns is 3 to {}",
                    COLUMNS.len()
                );
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
        fill(&url, n)?;
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
        if diff.trim() != "0" {
            let sample = psql(
                &url,
                "(SELECT 'source', * FROM (TABLE bench.orders EXCEPT TABLE bench.orders_in) a ORDER BY id LIMIT 3)
                 UNION ALL (SELECT 'imported', * FROM (TABLE bench.orders_in EXCEPT TABLE bench.orders) b ORDER BY id LIMIT 3)",
            )?;
            bail!(
                "{n} rows: the imported table differs from the source in {} rows, e.g.\n{sample}",
                diff.trim()
            );
        }
        println!(
            "| {n} | {export} | {} ({:.2} MB) | {import} | identical |",
            sheets_calls.len(),
            largest as f64 / 1e6
        );
        emulator.with_sheets(|s| s.delete_spreadsheet(&id));
    }

    // Two-way sync of the same table with a tab: the first pass (the tab is made), a pass
    // with nothing changed, and a pass with 1% of the rows changed on each side.
    let synced: Vec<&str> =
        COLUMNS.iter().copied().filter(|c| !DROPPED[..COLUMNS.len() - sync_columns].contains(c)).collect();
    println!();
    println!("Sync of {} columns: {}", synced.len(), synced.join(", "));
    println!("| rows | first sync | no change: time, requests (writes) | 1% changed each side: time, requests (writes), cells |");
    println!("|---|---|---|---|");
    let dir = std::env::temp_dir().join(format!("sheets-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    for &n in &sync_sizes {
        fill(&url, n)?;
        // Each size starts as a first sync (the schema exists after the first pass).
        psql(&url, "DROP SCHEMA IF EXISTS sheetbridge CASCADE")?;
        let id = emulator.with_sheets(|s| s.create_spreadsheet(None, "bench"));
        let config = dir.join("sheetbridge.toml");
        std::fs::write(
            &config,
            format!(
                "[database]\nurl = \"{url}\"\n\n[[pair]]\nname = \"orders\"\ntable = \"bench.orders\"\n\
                 sheet = \"gsheet://{id}/orders\"\nschedule = \"5m\"\nmax_deletes = \"100%\"\ncolumns = [{}]\n",
                synced.iter().map(|c| format!("\"{c}\"")).collect::<Vec<_>>().join(", ")
            ),
        )?;
        let config = config.to_str().context("a UTF-8 path")?.to_owned();
        let sync = ["sync", "--config", config.as_str()];
        let first = timed(&sheetbridge, &key, &emulator, &sync)?;
        emulator.clear_requests();
        let quiet = timed(&sheetbridge, &key, &emulator, &sync)?;
        let (quiet_calls, quiet_writes) = calls(&emulator);

        // 1% of the rows: the application changes quantity, a person changes notes (other rows).
        let step = 100;
        psql(&url, &format!("UPDATE bench.orders SET quantity = quantity + 1000 WHERE id % {step} = 0"))?;
        let notes_col = synced.iter().position(|c| *c == "notes").context("notes is synced")? as u8;
        emulator.with_sheets(|s| -> Result<()> {
            for row in (1..=n).filter(|r| r % step == 50) {
                let range = format!("orders!{}{}", char::from(b'A' + notes_col), row + 1);
                s.set_values_raw(&id, &range, vec![vec![serde_json::json!(format!("edited {row}"))]])
                    .map_err(|e| anyhow::anyhow!("{e:?}"))?;
            }
            Ok(())
        })?;
        emulator.clear_requests();
        let changed = timed(&sheetbridge, &key, &emulator, &sync)?;
        let (changed_calls, changed_writes) = calls(&emulator);
        let cells = psql(&url, "SELECT coalesce(sum((counts->'to_table'->>'updated_cells')::int + (counts->'to_sheet'->>'updated_cells')::int), 0) FROM sheetbridge.run WHERE id = (SELECT max(id) FROM sheetbridge.run)")?;
        let expected = 2 * (n / step);
        ensure!(
            cells.trim() == expected.to_string(),
            "{n} rows: the 1% pass wrote {} cells, not {expected}",
            cells.trim()
        );
        println!(
            "| {n} | {first} | {quiet}, {quiet_calls} ({quiet_writes}) | {changed}, {changed_calls} ({changed_writes}), {} |",
            cells.trim()
        );
        emulator.with_sheets(|s| s.delete_spreadsheet(&id));
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// Sheets API requests since the log was cleared: all of them, and the writes among them.
fn calls(emulator: &Emulator) -> (usize, usize) {
    let requests = emulator.requests();
    let sheets: Vec<_> = requests.iter().filter(|r| r.path.starts_with("/v4/")).collect();
    let writes = sheets.iter().filter(|r| r.method != "GET" && !r.path.ends_with(":batchGet")).count();
    (sheets.len(), writes)
}

/// `bench.orders` with rows 1..=n.
fn fill(url: &str, n: u64) -> Result<()> {
    psql(url, "TRUNCATE bench.orders")?;
    psql(
        url,
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
    // SHEETBRIDGE_LOG=info in the environment makes each command's log show its steps' times.
    if std::env::var_os("SHEETBRIDGE_LOG").is_some() {
        eprintln!("--- sheetbridge {}\n{err}", args.join(" "));
    }
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
