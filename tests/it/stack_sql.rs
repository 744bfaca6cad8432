//! The stack's SQL (sql/stack/*.sql) on two throwaway clusters, tested with
//! pgTAP (sql/tests/*.sql, run by pg_prove): an origin that asks for
//! passwords over TCP (scram-sha-256), and a custom database with
//! postgres_fdw and pg_cron preloaded, brought up in the order the stack's
//! bring-up uses: the SQL files (twice: they must be re-runnable), the
//! foreign server and its user mapping, then sheetbridge's migrations as
//! the `sheetbridge` role. One test, so the clusters start once; pg_cron
//! runs one refresh for real (60_cron_run.sql), which waits for the next
//! whole minute.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use sheetbridge_postgres::local::find_bindir;
use sheetbridge_postgres::migrate::MIGRATIONS;
use sheetbridge_postgres::{connect, migrate, LocalCluster, LocalOptions, PgConfig, Secret, SslMode};

/// The custom database: pg_cron's (`cron.database_name`).
const CUSTOM_DB: &str = "stack";
const ORIGIN_DB: &str = "app";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A password for this run only (128 random bits, hex).
fn password() -> String {
    let mut bytes = [0u8; 16];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .expect("reading /dev/urandom");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `text` as an SQL string literal.
fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

fn output(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// Runs a file with the cluster's psql as the superuser, stopping at the first error.
fn psql_file(psql: &Path, cluster: &LocalCluster, db: &str, file: &Path) -> String {
    let out = Command::new(psql)
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", &cluster.url(db), "-f"])
        .arg(file)
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}", psql.display()));
    assert!(out.status.success(), "psql -f {} failed:\n{}", file.display(), output(&out));
    output(&out)
}

/// The `.sql` files of a folder, in name order.
fn sql_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "sql"))
        .collect();
    files.sort();
    files
}

async fn execute(config: &PgConfig, sql: &str) {
    let conn = connect(config).await.unwrap_or_else(|e| panic!("connecting to {}: {e:#}", config.dbname));
    if let Err(e) = conn.client().batch_execute(sql).await {
        panic!("setting up the stack's test clusters: {}", sheetbridge_postgres::error::describe(&e));
    }
}

/// The origin lets only `postgres` in without a password; everyone else
/// gives one over TCP (LocalCluster trusts everyone).
fn require_passwords(psql: &Path, origin: &LocalCluster) {
    let hba = origin.dir().join("data/pg_hba.conf");
    std::fs::write(
        &hba,
        "local all all trust\n\
         host all postgres 127.0.0.1/32 trust\n\
         host all all 127.0.0.1/32 scram-sha-256\n",
    )
    .expect("writing the origin's pg_hba.conf");
    let reload = Command::new(psql)
        .args(["-X", "-q", "-d", &origin.url(ORIGIN_DB), "-c", "SELECT pg_reload_conf()"])
        .output()
        .expect("running psql");
    assert!(reload.status.success(), "reloading the origin's configuration:\n{}", output(&reload));
    // The reload is asynchronous: wait until `app` without its password is refused.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let out = Command::new(psql)
            .args(["-X", "-w", "-d", &format!("postgres://app@127.0.0.1:{}/{ORIGIN_DB}", origin.port())])
            .args(["-c", "SELECT 1"])
            .output()
            .expect("running psql");
        if !out.status.success() {
            let said = output(&out);
            assert!(said.contains("password"), "the origin refused `app` for another reason:\n{said}");
            return;
        }
        assert!(Instant::now() < deadline, "the origin still lets `app` in without a password");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn the_stack_sql_passes_its_pgtap_tests_against_an_origin_with_passwords_and_a_custom_database_with_pg_cron()
{
    let bindir = find_bindir().unwrap_or_else(|e| panic!("{e}"));
    let psql = bindir.join("psql");
    assert!(psql.exists(), "no psql in {} (install postgresql-client-15)", bindir.display());
    let prove = Command::new("pg_prove").arg("--version").output();
    assert!(
        prove.is_ok_and(|o| o.status.success()),
        "pg_prove is missing (apt-get install libtap-parser-sourcehandler-pgtap-perl)"
    );
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");

    // The origin: the fixture's tables, read by `app` with a password.
    let origin = LocalCluster::start().expect("starting the origin cluster");
    runtime.block_on(origin.create_database(ORIGIN_DB)).expect("creating the origin's database");
    psql_file(&psql, &origin, ORIGIN_DB, &root().join("sql/tests/fixtures/origin.sql"));
    let app_password = password();
    runtime.block_on(execute(
        &origin.config(ORIGIN_DB),
        &format!("ALTER ROLE app PASSWORD {}", literal(&app_password)),
    ));
    require_passwords(&psql, &origin);

    // The custom cluster, with pg_cron preloaded for its database.
    let settings = vec![
        "shared_preload_libraries = 'pg_cron'".to_owned(),
        format!("cron.database_name = '{CUSTOM_DB}'"),
        "cron.use_background_workers = on".to_owned(),
        "max_worker_processes = 16".to_owned(),
    ];
    let custom = LocalCluster::start_with(&LocalOptions { settings, ..LocalOptions::default() })
        .expect("starting the custom cluster with pg_cron preloaded (apt-get install postgresql-15-cron)");
    let custom_config =
        runtime.block_on(custom.create_database(CUSTOM_DB)).expect("creating the custom database");
    let available = runtime.block_on(async {
        let conn = connect(&custom_config).await.expect("connecting to the custom database");
        let rows = conn
            .client()
            .query(
                "SELECT name FROM pg_available_extensions WHERE name IN ('pg_cron', 'pgtap', 'postgres_fdw') ORDER BY name",
                &[],
            )
            .await
            .expect("listing the available extensions");
        rows.iter().map(|r| r.get::<_, String>(0)).collect::<Vec<_>>()
    });
    assert_eq!(
        available,
        ["pg_cron", "pgtap", "postgres_fdw"],
        "extensions missing (apt-get install postgresql-15-cron postgresql-15-pgtap postgresql-contrib)"
    );

    // The stack's SQL, in name order, twice.
    let stack = sql_files(&root().join("sql/stack"));
    assert!(stack.len() >= 5, "sql/stack/ has its files: {stack:?}");
    for round in ["first", "second"] {
        for file in &stack {
            let said = psql_file(&psql, &custom, CUSTOM_DB, file);
            assert!(!said.contains("ERROR"), "the {round} run of {} said:\n{said}", file.display());
        }
    }

    // The foreign server and a mapping every role with USAGE on it may use
    // (the refreshes run as sheetbridge_refresh), and sheetbridge's own
    // schema, migrated by the sheetbridge role itself.
    let sheetbridge_password = password();
    runtime.block_on(execute(
        &custom_config,
        &format!(
            "CREATE EXTENSION pgtap;
             CREATE SERVER origin FOREIGN DATA WRAPPER postgres_fdw
                 OPTIONS (host '127.0.0.1', port {}, dbname {});
             CREATE USER MAPPING FOR PUBLIC SERVER origin OPTIONS (user 'app', password {});
             ALTER ROLE sheetbridge PASSWORD {};",
            literal(&origin.port().to_string()),
            literal(ORIGIN_DB),
            literal(&app_password),
            literal(&sheetbridge_password),
        ),
    ));
    let as_sheetbridge = PgConfig::new("127.0.0.1", custom.port(), "sheetbridge", CUSTOM_DB)
        .with_password(Secret::new(sheetbridge_password))
        .with_sslmode(SslMode::Disable);
    let report = runtime.block_on(async {
        let mut conn = connect(&as_sheetbridge).await.expect("connecting as sheetbridge");
        migrate(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("the sheetbridge role migrating its schema: {e:#}"))
    });
    assert_eq!(report.applied.len(), MIGRATIONS.len(), "every migration applied by the sheetbridge role");

    // The pgTAP tests.
    let tests = sql_files(&root().join("sql/tests"));
    assert!(tests.len() >= 6, "sql/tests/ has its tests: {tests:?}");
    let started = Instant::now();
    let out = Command::new("pg_prove")
        .arg("--psql-bin")
        .arg(&psql)
        .args(["-h", "127.0.0.1", "-p", &custom.port().to_string(), "-U", "postgres", "-d", CUSTOM_DB])
        .args(["--failures", "--comments", "--nocolor"])
        .args(&tests)
        .output()
        .expect("running pg_prove");
    let said = output(&out);
    assert!(out.status.success(), "pg_prove failed:\n{said}");
    assert!(said.contains("All tests successful."), "pg_prove said:\n{said}");
    assert!(said.contains(&format!("Files={}", tests.len())), "pg_prove ran every file:\n{said}");
    assert!(!said.contains(&app_password), "a password reached pg_prove's output");
    eprintln!("pg_prove: {} files in {:.1} s", tests.len(), started.elapsed().as_secs_f64());
}
