//! `infra/local/stack`: the whole stack from local PostgreSQL binaries, and
//! the end-to-end path through it as its processes really run: a row written
//! in the origin database is imported through postgres_fdw by pg_cron's
//! refresh into the custom database, `sheetbridge serve` carries it to a tab
//! of the Sheets emulator, and a cell a person types in that tab lands back
//! in the custom database. `down` stops every process the stack started.

use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::{json, Value as Json};

/// Where the binaries of this test build are, with `sheets-emulator` built
/// beside `sheetbridge` when this run did not build it already (a run of
/// this test binary alone builds only the root package's binaries).
fn bin_dir() -> PathBuf {
    let sheetbridge = Path::new(env!("CARGO_BIN_EXE_sheetbridge"));
    let dir = sheetbridge.parent().expect("the binary's folder").to_owned();
    if !dir.join("sheets-emulator").exists() {
        let mut cargo = Command::new(option_env!("CARGO").unwrap_or("cargo"));
        cargo.current_dir(env!("CARGO_MANIFEST_DIR")).args([
            "build",
            "--locked",
            "-p",
            "sheetbridge-sheets-emulator",
            "--bin",
            "sheets-emulator",
        ]);
        if dir.file_name().is_some_and(|n| n == "release") {
            cargo.arg("--release");
        }
        if let Some(target) = dir.parent() {
            cargo.arg("--target-dir").arg(target);
        }
        let out = cargo.output().expect("running cargo to build sheets-emulator");
        assert!(out.status.success(), "building sheets-emulator failed:\n{}", crate::stderr(&out));
        assert!(
            dir.join("sheets-emulator").exists(),
            "cargo built no {}",
            dir.join("sheets-emulator").display()
        );
    }
    dir
}

/// A stack in a temporary state directory; dropped, it is brought down.
struct Stack {
    dir: tempfile::TempDir,
    down: bool,
}

impl Stack {
    fn script() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("infra/local/stack")
    }

    fn run(dir: &Path, args: &[&str]) -> Output {
        Command::new("bash")
            .arg(Self::script())
            .arg("--dir")
            .arg(dir)
            .args(args)
            .env_remove("SHEETBRIDGE_STACK_DIR")
            .env_remove("SHEETBRIDGE_BIN_DIR")
            .env_remove("SHEETBRIDGE_LOG")
            .env_remove("STACK_INCLUDE")
            .env_remove("STACK_EXCLUDE")
            .env_remove("STACK_PAIR")
            .env_remove("STACK_INTERVAL")
            .env_remove("STACK_ORIGIN_SQL")
            .env_remove("STACK_SQL_DIR")
            .output()
            .expect("running infra/local/stack")
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = Self::run(self.dir.path(), args);
        assert!(
            out.status.success(),
            "infra/local/stack {args:?} failed with {:?}\nstdout:\n{}\nstderr:\n{}\n{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            crate::stderr(&out),
            self.logs()
        );
        String::from_utf8_lossy(&out.stdout).into_owned() + &crate::stderr(&out)
    }

    /// The ends of the stack's logs, for a failure's message (they hold no secrets).
    fn logs(&self) -> String {
        let mut text = String::new();
        for name in [
            "sheetbridge.log",
            "emulator.log",
            "custom.log",
            "origin.log",
            "custom-init.log",
            "origin-init.log",
        ] {
            let content =
                std::fs::read_to_string(self.dir.path().join("logs").join(name)).unwrap_or_default();
            let lines: Vec<&str> = content.lines().collect();
            let tail = lines[lines.len().saturating_sub(15)..].join("\n");
            text.push_str(&format!("--- end of logs/{name}\n{tail}\n"));
        }
        text
    }

    /// `stack env`'s variables.
    fn env(&self) -> HashMap<String, String> {
        self.ok(&["env"])
            .lines()
            .filter_map(|l| l.strip_prefix("export "))
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    }

    /// The pids the stack's processes run as: serve, the emulator and the two postmasters.
    fn pids(&self) -> Vec<(String, i32)> {
        let read = |path: PathBuf| -> Option<i32> {
            std::fs::read_to_string(path).ok()?.lines().next()?.trim().parse().ok()
        };
        let d = self.dir.path();
        [
            ("sheetbridge", d.join("sheetbridge.pid")),
            ("emulator", d.join("emulator.pid")),
            ("origin", d.join("origin/data/postmaster.pid")),
            ("custom", d.join("custom/data/postmaster.pid")),
        ]
        .into_iter()
        .filter_map(|(name, path)| read(path).map(|pid| (name.to_owned(), pid)))
        .collect()
    }

    /// Brings the stack down and checks nothing of it still runs.
    fn down(&mut self) {
        let pids = self.pids();
        assert_eq!(pids.len(), 4, "the stack should record four processes: {pids:?}");
        self.ok(&["down"]);
        self.down = true;
        let left: Vec<&(String, i32)> = pids.iter().filter(|(_, pid)| running(*pid)).collect();
        assert!(left.is_empty(), "still running after `stack down`: {left:?}");
        let dir = self.dir.path().to_string_lossy().into_owned();
        let mentioning: Vec<String> = std::fs::read_dir("/proc")
            .expect("reading /proc")
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().parse::<i32>().is_ok_and(running))
            .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
            .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
            .filter(|c| c.contains(&dir))
            .collect();
        assert!(
            mentioning.is_empty(),
            "processes of the stack's folder left after `stack down`: {mentioning:?}"
        );
        // Down again changes nothing and still succeeds.
        let again = self.ok(&["down"]);
        assert!(
            again.contains("sheetbridge: not running") && again.contains("origin: not running"),
            "{again}"
        );
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        if !self.down {
            let out = Self::run(self.dir.path(), &["down"]);
            if !out.status.success() {
                eprintln!("infra/local/stack down failed:\n{}", crate::stderr(&out));
            }
        }
    }
}

/// Whether a process runs (a zombie does not count).
fn running(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat.rsplit_once(") ").is_some_and(|(_, rest)| !rest.starts_with('Z')),
        Err(_) => false,
    }
}

/// psql against a database of the stack, its passwords from the stack's pgpass file.
fn psql(env: &HashMap<String, String>, url: &str, sql: &str) -> String {
    let out = Command::new("psql")
        .args([url, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql])
        .env("PGPASSFILE", &env["PGPASSFILE"])
        .env("PGCONNECT_TIMEOUT", "10")
        .output()
        .expect("running psql (install postgresql-client)");
    assert!(out.status.success(), "psql failed on {sql}:\n{}", crate::stderr(&out));
    String::from_utf8_lossy(&out.stdout).trim_end().to_owned()
}

fn wait_for<T>(what: &str, limit: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(start.elapsed() < limit, "waited {} s for {what}", limit.as_secs());
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// The emulator's admin API, over HTTP as a person's browser would reach the sheet.
struct Emulator {
    base: String,
    spreadsheet: String,
    http: reqwest::Client,
    runtime: tokio::runtime::Runtime,
}

impl Emulator {
    fn url(&self, range: &str) -> String {
        format!("{}/__emulator/sheets/spreadsheets/{}/values/{range}", self.base, self.spreadsheet)
    }

    /// The tab's rows as typed values (UNFORMATTED_VALUE), the header first.
    fn rows(&self, tab: &str) -> Vec<Vec<Json>> {
        let url = self.url(tab) + "?valueRenderOption=UNFORMATTED_VALUE";
        let body: Json = self.runtime.block_on(async {
            let response = self.http.get(&url).send().await.expect("reading the tab");
            assert!(response.status().is_success(), "GET {url}: {}", response.status());
            response.json().await.expect("a JSON body")
        });
        serde_json::from_value(body["values"].clone()).unwrap_or_default()
    }

    /// Types `value` into one cell, as a person does (USER_ENTERED).
    fn type_into(&self, cell: &str, value: &str) {
        let url = self.url(cell);
        self.runtime.block_on(async {
            let response = self
                .http
                .put(&url)
                .json(&json!({ "values": [[value]] }))
                .send()
                .await
                .expect("writing a cell");
            let status = response.status();
            assert!(status.is_success(), "PUT {url}: {status} {}", response.text().await.unwrap_or_default());
        });
    }
}

/// The row of `tab` whose `id` column holds `id`, as column name → value, and its sheet row number.
fn sheet_row(rows: &[Vec<Json>], id: i64) -> Option<(usize, HashMap<String, Json>)> {
    let header: Vec<String> =
        rows.first()?.iter().map(|h| h.as_str().unwrap_or_default().to_owned()).collect();
    let at = header.iter().position(|h| h == "id")?;
    rows.iter().enumerate().skip(1).find(|(_, r)| r.get(at).and_then(Json::as_i64) == Some(id)).map(
        |(i, r)| {
            let row =
                header.iter().cloned().zip(r.iter().cloned().chain(std::iter::repeat(Json::Null))).collect();
            (i + 1, row)
        },
    )
}

fn column_letter(rows: &[Vec<Json>], name: &str) -> char {
    let at = rows[0]
        .iter()
        .position(|h| h == name)
        .unwrap_or_else(|| panic!("no column `{name}` in {:?}", rows[0]));
    (b'A' + u8::try_from(at).expect("a column within A..Z")) as char
}

#[test]
fn an_origin_row_reaches_the_sheet_through_the_stack_and_a_sheet_edit_lands_in_the_custom_database() {
    let bins = bin_dir();
    let mut stack = Stack { dir: tempfile::tempdir().expect("a state folder"), down: false };
    let bin_arg = bins.to_str().expect("a UTF-8 path");
    let up = stack.ok(&["up", "--bin-dir", bin_arg]);
    for part in ["origin: started", "custom: started", "emulator: started", "sheetbridge: serving"] {
        assert!(up.contains(part), "`stack up` did not say `{part}`:\n{up}");
    }

    // Secrets: generated into files only their owner reads, and printed nowhere.
    let state = stack.dir.path();
    for file in ["secrets.env", "pgpass", "google-key.json"] {
        let mode = std::fs::metadata(state.join(file)).expect(file).permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{file} is readable by others: {mode:o}");
    }
    let secrets = std::fs::read_to_string(state.join("secrets.env")).expect("secrets.env");
    let passwords: Vec<&str> =
        secrets.lines().filter_map(|l| l.split_once('=')).map(|(_, v)| v).filter(|v| v.len() >= 16).collect();
    assert_eq!(passwords.len(), 5, "five generated passwords expected in secrets.env");

    // Up again on a running stack: everything is found running, nothing breaks.
    let again = stack.ok(&["up", "--bin-dir", bin_arg]);
    for part in ["origin: running", "custom: running", "emulator: running", "sheetbridge: running"] {
        assert!(again.contains(part), "the second `stack up` did not say `{part}`:\n{again}");
    }
    let status = stack.ok(&["status"]);
    assert!(status.contains("sheetbridge: running") && status.contains("(ready)"), "{status}");

    let env = stack.env();
    let (origin, custom) = (&env["ORIGIN_URL"], &env["CUSTOM_URL"]);
    let config = std::fs::read_to_string(state.join("sheetbridge.toml")).expect("the generated config");
    let serve_log = || std::fs::read_to_string(state.join("logs/sheetbridge.log")).unwrap_or_default();
    let mut texts = vec![up.clone(), again.clone(), status.clone(), config];
    texts.push(env.values().cloned().collect::<Vec<_>>().join(" "));
    for log in std::fs::read_dir(state.join("logs")).expect("the logs folder").flatten() {
        texts.push(std::fs::read_to_string(log.path()).unwrap_or_default());
    }
    for text in &texts {
        for password in &passwords {
            assert!(
                !text.contains(password),
                "a generated password was printed or written in clear:\n{text}"
            );
        }
    }
    assert!(origin.starts_with("postgres://postgres@127.0.0.1:") && !origin.contains(":@"), "{origin}");

    // The origin takes password logins only: without the pgpass file it refuses.
    let refused = Command::new("psql")
        .args([origin.as_str(), "-X", "-w", "-c", "SELECT 1"])
        .env("PGPASSFILE", "/nonexistent")
        .env_remove("PGPASSWORD")
        .output()
        .expect("running psql");
    assert!(!refused.status.success(), "the origin let psql in without a password");

    // The emulator's tab has the origin's rows before anything is changed.
    let emulator = Emulator {
        base: env["SHEETS_EMULATOR_URL"].clone(),
        spreadsheet: env["SPREADSHEET_ID"].clone(),
        http: reqwest::Client::new(),
        runtime: tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime"),
    };
    let origin_count: usize =
        psql(&env, origin, "SELECT count(*) FROM shop.orders").parse().expect("a count");
    wait_for("the first pass to fill the tab", Duration::from_secs(30), || {
        (emulator.rows("Orders").len() == origin_count + 1).then_some(())
    });

    // 1. The application writes in the origin: a new order and a changed one.
    let id: i64 = psql(
        &env,
        origin,
        "INSERT INTO shop.orders (customer_id, sku, quantity, amount, ordered_at, notes) \
         VALUES (2, 'LOCAL-STACK', 3, 12.50, '2024-06-01 12:00+00', 'from the origin') RETURNING id",
    )
    .parse()
    .expect("the new order's id");
    psql(&env, origin, "UPDATE shop.orders SET notes = 'changed at the origin' WHERE id = 1");
    let job_runs = "SELECT count(*) FROM cron.job_run_details d JOIN cron.job j USING (jobid) \
                    WHERE j.jobname = 'refresh shop.orders' AND d.status = 'succeeded'";
    let runs_before: i64 = psql(&env, custom, job_runs).parse().expect("a count");

    // 2. pg_cron's refresh (every whole minute) brings both into the custom database.
    let started = Instant::now();
    let copy = format!("SELECT sku, notes FROM shop.orders WHERE id = {id}");
    wait_for("pg_cron's refresh to copy the new order", Duration::from_secs(75), || {
        let new = psql(&env, custom, &copy);
        let changed = psql(&env, custom, "SELECT notes FROM shop.orders WHERE id = 1");
        (new == "LOCAL-STACK|from the origin" && changed == "changed at the origin").then_some(())
    });
    eprintln!("pg_cron's refresh copied the rows after {:.1} s", started.elapsed().as_secs_f64());
    let runs_after: i64 = psql(&env, custom, job_runs).parse().expect("a count");
    assert!(
        runs_after > runs_before,
        "the rows arrived without a successful pg_cron run of `refresh shop.orders`"
    );

    // 3. sheetbridge serve carries them to the tab.
    let (row, values) =
        wait_for("serve to write the new order into the tab", Duration::from_secs(30), || {
            let rows = emulator.rows("Orders");
            let changed = sheet_row(&rows, 1)?;
            let new = sheet_row(&rows, id)?;
            (changed.1["notes"] == "changed at the origin").then_some(new)
        });
    assert_eq!(values["sku"], json!("LOCAL-STACK"), "the new order's row in the tab: {values:?}");
    assert_eq!(values["notes"], json!("from the origin"), "the new order's row in the tab: {values:?}");
    assert_eq!(values["quantity"], json!(3), "the new order's row in the tab: {values:?}");

    // The refresh runs on whole minutes and puts the origin's values back over the copy; a
    // person's edit is checked well before the next one.
    let second: f64 = psql(&env, custom, "SELECT extract(second FROM now())").parse().expect("seconds");
    if second > 35.0 {
        let runs: i64 = psql(&env, custom, job_runs).parse().expect("a count");
        wait_for("the next refresh to pass", Duration::from_secs(40), || {
            (psql(&env, custom, job_runs).parse::<i64>().ok()? > runs).then_some(())
        });
    }

    // 4. A person types into the tab; serve lands the edit in the custom database.
    let rows = emulator.rows("Orders");
    emulator.type_into(&format!("Orders!{}{row}", column_letter(&rows, "notes")), "typed in the sheet");
    emulator.type_into(&format!("Orders!{}{row}", column_letter(&rows, "quantity")), "7");
    let landed = format!("SELECT notes, quantity FROM shop.orders WHERE id = {id}");
    wait_for("the sheet's edit to land in the custom database", Duration::from_secs(30), || {
        (psql(&env, custom, &landed) == "typed in the sheet|7").then_some(())
    });
    let metrics = emulator.runtime.block_on(async {
        let url = format!("{}/metrics", env["SHEETBRIDGE_SERVE_URL"]);
        emulator.http.get(&url).send().await.expect("GET /metrics").text().await.expect("a body")
    });
    assert!(
        metrics.contains("sheetbridge_runs_total{pair=\"orders\",status=\"success\"}"),
        "no successful pass in /metrics:\n{metrics}"
    );
    assert!(!serve_log().contains("status=\"failed\""), "a pass failed:\n{}", serve_log());

    stack.down();
}
