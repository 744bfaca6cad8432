//! `sheetbridge serve` as a process: one pass of every pair with `--once`, the
//! HTTP endpoints while it runs, and a clean stop on SIGTERM.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::{fresh_db, load_examples};

fn config(dir: &Path, url: &str) -> String {
    let path = dir.join("sheetbridge.toml");
    let text = format!(
        "[database]\nurl = \"{url}\"\n\n[[pair]]\nname = \"customers\"\ntable = \"shop.customers\"\n\
         sheet = \"book.xlsx\"\ntab = \"Customers\"\nschedule = \"1h\"\n"
    );
    std::fs::write(&path, text).expect("writing the config");
    path.to_str().expect("utf-8").to_owned()
}

/// `GET path` → (status, body), or None when nothing answers.
fn get(addr: SocketAddr, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let status = response.split(' ').nth(1)?.parse().ok()?;
    let body = response.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
    Some((status, body))
}

fn wait_until<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(Instant::now() < deadline, "waited 30 s for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `sheetbridge serve --once` of `config`, logging a JSON line a pass.
pub fn serve_once(config: &str) -> [&str; 10] {
    [
        "serve",
        "--config",
        config,
        "--once",
        "--listen",
        "127.0.0.1:0",
        "--log-format",
        "json",
        "--log",
        "sheetbridge=info",
    ]
}

/// The "pass finished" lines of serve's JSON log; every line must be JSON.
pub fn finished_passes(stderr: &str) -> Vec<serde_json::Value> {
    stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON log line ({e}): {l}")))
        .filter(|l: &serde_json::Value| l["message"] == "pass finished")
        .collect()
}

#[test]
fn serve_once_runs_every_pair_and_logs_a_json_line_a_pass() {
    let url = fresh_db();
    load_examples(&url);
    let dir = tempfile::tempdir().expect("a folder");
    let file = config(dir.path(), &url);
    let out = crate::sheetbridge(&serve_once(&file));
    let stderr = crate::stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(dir.path().join("book.xlsx").exists(), "the pass did not write the workbook");
    let passes = finished_passes(&stderr);
    assert_eq!(passes.len(), 1, "{stderr}");
    assert_eq!(
        (&passes[0]["pair"], &passes[0]["status"]),
        (&"customers".into(), &"success".into()),
        "{stderr}"
    );
    assert!(passes[0]["cells_to_sheet"].as_u64().unwrap_or(0) > 0, "{stderr}");
}

#[test]
fn serve_answers_health_readiness_and_metrics_and_stops_on_sigterm() {
    let url = fresh_db();
    load_examples(&url);
    let dir = tempfile::tempdir().expect("a folder");
    let file = config(dir.path(), &url);
    // A free port (the daemon binds it right after).
    let addr = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port");
    let log = std::fs::File::create(dir.path().join("serve.log")).expect("a log file");
    let mut child = Command::new(env!("CARGO_BIN_EXE_sheetbridge"))
        .args(["serve", "--config", &file, "--listen", &addr.to_string(), "--log", "info"])
        .env_remove("SHEETBRIDGE_DB")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("starting sheetbridge serve");
    let log = || std::fs::read_to_string(dir.path().join("serve.log")).unwrap_or_default();

    wait_until("/healthz", || get(addr, "/healthz").filter(|(s, _)| *s == 200));
    wait_until("/readyz", || get(addr, "/readyz").filter(|(s, _)| *s == 200));
    let success = "sheetbridge_runs_total{pair=\"customers\",status=\"success\"} 1";
    let metrics = wait_until("a successful pass in /metrics", || {
        get(addr, "/metrics").filter(|(s, body)| *s == 200 && body.contains(success)).map(|(_, b)| b)
    });
    assert!(metrics.contains("sheetbridge_up 1"), "{metrics}");
    assert!(metrics.contains("sheetbridge_last_success_timestamp_seconds{pair=\"customers\"}"), "{metrics}");

    // SAFETY: kill(2) on the child's pid, which is ours and not yet reaped.
    let sent = unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    assert_eq!(sent, 0);
    let status = wait_until("the process to exit after SIGTERM", || child.try_wait().ok().flatten());
    assert_eq!(status.code(), Some(0), "{}", log());
    assert!(log().contains("stopping"), "{}", log());
}

#[test]
fn serve_once_without_its_database_fails_and_says_why() {
    let dir = tempfile::tempdir().expect("a folder");
    let file = config(dir.path(), "postgres://nobody@127.0.0.1:1/nowhere?connect_timeout=2");
    let out = crate::sheetbridge(&["serve", "--config", &file, "--once", "--listen", "127.0.0.1:0"]);
    let stderr = crate::stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("no pair ran") && stderr.contains("127.0.0.1:1"), "{stderr}");
}

#[test]
fn a_second_sigterm_exits_at_once_while_a_pass_still_runs() {
    let url = fresh_db();
    load_examples(&url);
    let dir = tempfile::tempdir().expect("a folder");
    let file = config(dir.path(), &url);
    let addr = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port");
    let log_path = dir.path().join("serve.log");
    let log_file = std::fs::File::create(&log_path).expect("a log file");
    let mut child = Command::new(env!("CARGO_BIN_EXE_sheetbridge"))
        .args(["serve", "--config", &file, "--listen", &addr.to_string(), "--log", "info"])
        .env_remove("SHEETBRIDGE_DB")
        .stdout(Stdio::null())
        .stderr(log_file)
        .spawn()
        .expect("starting sheetbridge serve");
    let log = || std::fs::read_to_string(&log_path).unwrap_or_default();
    let success = "sheetbridge_runs_total{pair=\"customers\",status=\"success\"} 1";
    wait_until("the first pass", || get(addr, "/metrics").filter(|(_, body)| body.contains(success)));

    // The run journal is locked, then the table changes: the early pass waits in the database.
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
    let locker = runtime.block_on(async {
        let config = sheetbridge_postgres::PgConfig::parse(&url).expect("url");
        let conn = sheetbridge_postgres::connect(&config).await.expect("connect");
        conn.client()
            .batch_execute("BEGIN; LOCK TABLE sheetbridge.run IN ACCESS EXCLUSIVE MODE")
            .await
            .expect("lock the journal");
        conn
    });
    crate::psql(&url, "UPDATE shop.customers SET name = name WHERE id = 1");
    let waiting =
        "SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = 'sheetbridge.run'::regclass";
    wait_until("the pass to wait for the journal", || (crate::psql(&url, waiting) != "0").then_some(()));

    let term = || {
        // SAFETY: kill(2) on the child's pid, which is ours and not yet reaped.
        assert_eq!(unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) }, 0);
    };
    term();
    wait_until("the first SIGTERM to be taken", || log().contains("stopping").then_some(()));
    term();
    let status = wait_until("the process to exit", || child.try_wait().ok().flatten());
    assert_eq!(status.code(), Some(128 + libc::SIGTERM), "{}", log());
    assert!(log().contains("second signal"), "{}", log());
    drop(locker);
}
