//! The database password, when the URL has none: `PGPASSWORD`, then the password file
//! (`PGPASSFILE` or `~/.pgpass`), as libpq finds them, against a server that asks for it.

use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use sheetbridge_postgres::local::LocalCluster;

use crate::stderr;

const PASSWORD: &str = "pw-4f1c9a2e7b";

/// A cluster where `app` must give its password over TCP.
fn cluster() -> LocalCluster {
    let cluster = LocalCluster::start().expect("a throwaway cluster");
    crate::psql(&cluster.url("postgres"), &format!("CREATE ROLE app LOGIN PASSWORD '{PASSWORD}'"));
    std::fs::write(
        cluster.dir().join("data/pg_hba.conf"),
        "local all all trust\nhost all postgres 127.0.0.1/32 trust\nhost all all 127.0.0.1/32 scram-sha-256\n",
    )
    .expect("writing pg_hba.conf");
    crate::psql(&cluster.url("postgres"), "SELECT pg_reload_conf()");
    // The reload is asynchronous: wait until `app` without a password is refused.
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        let out = Command::new("psql")
            .args([
                "-X",
                "-w",
                "-d",
                &format!("postgres://app@127.0.0.1:{}/postgres", cluster.port()),
                "-c",
                "",
            ])
            .env_remove("PGPASSWORD")
            .env("PGPASSFILE", "/nonexistent")
            .output()
            .expect("running psql");
        if !out.status.success() {
            return cluster;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("the cluster still lets `app` in without a password");
}

fn export(cluster: &LocalCluster, dir: &std::path::Path, env: &[(&str, &str)]) -> Output {
    let url = format!("postgres://app@127.0.0.1:{}/postgres?sslmode=disable", cluster.port());
    let book = dir.join("one.xlsx");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sheetbridge"));
    cmd.args(["export", "--db", &url, "--query", "SELECT 1 AS one", "--to"])
        .arg(&book)
        .args(["--replace"])
        .env_remove("PGPASSWORD")
        .env_remove("PGPASSFILE")
        .env("HOME", dir)
        .env("SHEETBRIDGE_NO_PROGRESS", "1");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("running sheetbridge")
}

#[test]
fn a_url_without_a_password_takes_pgpassword_or_the_password_file() {
    let cluster = cluster();
    let dir = tempfile::tempdir().expect("a folder");

    // No password anywhere: refused, and said so.
    let out = export(&cluster, dir.path(), &[]);
    assert_eq!(out.status.code(), Some(7), "{}", stderr(&out));
    assert!(stderr(&out).contains("password"), "{}", stderr(&out));

    // PGPASSWORD.
    let out = export(&cluster, dir.path(), &[("PGPASSWORD", PASSWORD)]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    // ~/.pgpass: the first matching line, stars for the rest.
    let pgpass = dir.path().join(".pgpass");
    let lines = format!(
        "# sheetbridge's test\nother.example.com:5432:*:app:wrong\n127.0.0.1:{}:*:app:{PASSWORD}\n",
        cluster.port()
    );
    std::fs::write(&pgpass, lines).expect("writing .pgpass");
    std::fs::set_permissions(&pgpass, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let out = export(&cluster, dir.path(), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    // PGPASSFILE names another file.
    let elsewhere = dir.path().join("elsewhere");
    std::fs::copy(&pgpass, &elsewhere).expect("copying");
    std::fs::set_permissions(&elsewhere, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    std::fs::remove_file(&pgpass).expect("removing .pgpass");
    let out = export(&cluster, dir.path(), &[("PGPASSFILE", elsewhere.to_str().expect("utf-8"))]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    // A file others may read is ignored, with a warning that says how to fix it.
    std::fs::set_permissions(&elsewhere, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let out = export(&cluster, dir.path(), &[("PGPASSFILE", elsewhere.to_str().expect("utf-8"))]);
    let said = stderr(&out);
    assert_eq!(out.status.code(), Some(7), "{said}");
    assert!(said.contains("chmod 0600"), "{said}");
    assert!(!said.contains(PASSWORD), "the password was printed: {said}");
}
