//! A throwaway Postgres cluster on this machine, for `sheetbridge demo` and
//! the tests.
//!
//! [`LocalCluster::start`] finds the server binaries (`pg_config --bindir`,
//! else the newest `/usr/lib/postgresql/*/bin`), runs `initdb` into a fresh
//! temporary directory, listens on 127.0.0.1 on a free port and on a socket
//! in that directory, and starts the server with `pg_ctl -w`. `initdb`
//! refuses to run as root, so as root both run as the `postgres` OS user
//! (created when missing). Dropping the cluster stops it
//! (`pg_ctl -m immediate stop`) and removes the directory.

use std::fmt;
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use sheetbridge_core::{Error, ErrorKind};

use crate::config::{connect, PgConfig, SslMode};
use crate::convert::quote_ident;

/// Options for [`LocalCluster::start_with`].
#[derive(Debug, Clone, Default)]
pub struct LocalOptions {
    /// Extra `postgresql.conf` lines (`shared_preload_libraries = 'pg_cron'`).
    pub settings: Vec<String>,
    /// Serve TLS with a self-signed certificate (made with `openssl req`).
    pub ssl: bool,
}

/// A running throwaway cluster. The superuser is `postgres`, trusted
/// without a password from 127.0.0.1 and the socket.
pub struct LocalCluster {
    dir: Option<tempfile::TempDir>,
    path: PathBuf,
    bindir: PathBuf,
    port: u16,
    as_postgres: bool,
    ssl: bool,
    stopped: std::sync::atomic::AtomicBool,
}

impl fmt::Debug for LocalCluster {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalCluster").field("path", &self.path).field("port", &self.port).finish()
    }
}

fn fail(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::Other, message)
}

fn run(mut cmd: Command, what: &str) -> Result<Output, Error> {
    let out = cmd.output().map_err(|e| fail(format!("{what}: cannot run {:?}: {e}", cmd.get_program())))?;
    if !out.status.success() {
        return Err(fail(format!(
            "{what} failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        )));
    }
    Ok(out)
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// The directory holding `initdb`, `pg_ctl` and `postgres`.
pub fn find_bindir() -> Result<PathBuf, Error> {
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output() {
        if out.status.success() {
            let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
            if dir.join("initdb").exists() && dir.join("pg_ctl").exists() {
                return Ok(dir);
            }
        }
    }
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_string_lossy().split('.').next()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, p)| p).ok_or_else(|| {
        fail("no PostgreSQL server binaries: `pg_config --bindir` has no initdb and /usr/lib/postgresql/*/bin is empty (install postgresql)")
    })
}

fn ids_of_postgres() -> Result<(u32, u32), Error> {
    let id = |flag: &str| -> Result<u32, Error> {
        let mut cmd = Command::new("id");
        cmd.args([flag, "postgres"]);
        let out = run(cmd, "look up the postgres OS user")?;
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .map_err(|_| fail("`id postgres` printed no number"))
    };
    if Command::new("id").arg("postgres").output().map(|o| o.status.success()).unwrap_or(false) {
        return Ok((id("-u")?, id("-g")?));
    }
    let mut cmd = Command::new("useradd");
    cmd.args(["--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "postgres"]);
    run(cmd, "create the postgres OS user")?;
    Ok((id("-u")?, id("-g")?))
}

fn chown_tree(path: &Path, uid: u32, gid: u32) -> Result<(), Error> {
    std::os::unix::fs::chown(path, Some(uid), Some(gid))
        .map_err(|e| fail(format!("chown {}: {e}", path.display())))?;
    if path.is_dir() {
        for entry in std::fs::read_dir(path).map_err(|e| fail(format!("read {}: {e}", path.display())))? {
            let entry = entry.map_err(|e| fail(format!("read {}: {e}", path.display())))?;
            chown_tree(&entry.path(), uid, gid)?;
        }
    }
    Ok(())
}

/// A throwaway certificate authority and a server certificate it signed for
/// `localhost` and 127.0.0.1 (webpki refuses a CA certificate used as the
/// server's own, so a bare self-signed one cannot be verified).
fn make_certificates(dir: &Path) -> Result<(), Error> {
    let openssl = |args: &[&str], what: &str| -> Result<(), Error> {
        let mut cmd = Command::new("openssl");
        cmd.current_dir(dir).args(args);
        run(cmd, what).map(|_| ())
    };
    openssl(
        &["req", "-new", "-x509", "-days", "30", "-nodes", "-subj", "/CN=sheetbridge test CA"]
            .iter()
            .chain(&["-keyout", "ca.key", "-out", "ca.crt"])
            .copied()
            .collect::<Vec<_>>(),
        "make a test certificate authority with openssl",
    )?;
    openssl(
        &["req", "-new", "-nodes", "-subj", "/CN=localhost", "-keyout", "server.key", "-out", "server.csr"],
        "make a server key with openssl",
    )?;
    std::fs::write(
        dir.join("server.ext"),
        "basicConstraints=CA:FALSE\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n\
         keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
    )
    .map_err(|e| fail(format!("write server.ext: {e}")))?;
    openssl(
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "30",
            "-extfile",
            "server.ext",
            "-out",
            "server.crt",
        ],
        "sign the server certificate with openssl",
    )?;
    std::fs::set_permissions(dir.join("server.key"), std::fs::Permissions::from_mode(0o600))
        .map_err(|e| fail(format!("chmod server.key: {e}")))
}

fn free_port() -> Result<u16, Error> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| fail(format!("find a free port: {e}")))?;
    Ok(l.local_addr().map_err(|e| fail(format!("find a free port: {e}")))?.port())
}

impl LocalCluster {
    /// Starts a cluster with the default options.
    pub fn start() -> Result<LocalCluster, Error> {
        Self::start_with(&LocalOptions::default())
    }

    pub fn start_with(options: &LocalOptions) -> Result<LocalCluster, Error> {
        let bindir = find_bindir()?;
        let as_postgres = is_root();
        let dir = tempfile::Builder::new()
            .prefix("sheetbridge-pg-")
            .tempdir()
            .map_err(|e| fail(format!("make a temporary directory: {e}")))?;
        let path = dir.path().to_owned();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| fail(format!("chmod {}: {e}", path.display())))?;
        std::fs::create_dir(path.join("sock")).map_err(|e| fail(format!("mkdir sock: {e}")))?;
        let mut cluster = LocalCluster {
            dir: Some(dir),
            path,
            bindir,
            port: 0,
            as_postgres,
            ssl: options.ssl,
            stopped: std::sync::atomic::AtomicBool::new(true),
        };
        let data = cluster.path.join("data");
        if options.ssl {
            make_certificates(&cluster.path)?;
        }
        if as_postgres {
            let (uid, gid) = ids_of_postgres()?;
            chown_tree(&cluster.path, uid, gid)?;
        }
        let mut initdb = cluster.command("initdb");
        initdb.arg("-D").arg(&data).args([
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
            "--no-sync",
            "-U",
            "postgres",
        ]);
        run(initdb, "initdb")?;

        let mut last_error = None;
        for _ in 0..5 {
            cluster.port = free_port()?;
            let mut conf = vec![
                "listen_addresses = '127.0.0.1'".to_owned(),
                format!("port = {}", cluster.port),
                format!("unix_socket_directories = '{}'", cluster.path.join("sock").display()),
                "fsync = off".into(),
                "synchronous_commit = off".into(),
                "full_page_writes = off".into(),
                "max_connections = 100".into(),
            ];
            if options.ssl {
                conf.push("ssl = on".into());
                conf.push(format!("ssl_cert_file = '{}'", cluster.path.join("server.crt").display()));
                conf.push(format!("ssl_key_file = '{}'", cluster.path.join("server.key").display()));
            }
            conf.extend(options.settings.iter().cloned());
            std::fs::write(data.join("postgresql.auto.conf"), conf.join("\n") + "\n")
                .map_err(|e| fail(format!("write postgresql.auto.conf: {e}")))?;
            let log = cluster.path.join("server.log");
            let mut start = cluster.command("pg_ctl");
            start.arg("-D").arg(&data).arg("-l").arg(&log).args(["-w", "-t", "60", "start"]);
            match run(start, "pg_ctl start") {
                Ok(_) => {
                    cluster.stopped.store(false, std::sync::atomic::Ordering::SeqCst);
                    tracing::info!(port = cluster.port, dir = %cluster.path.display(), "local cluster started");
                    return Ok(cluster);
                }
                Err(e) => {
                    let log_text = std::fs::read_to_string(&log).unwrap_or_default();
                    let in_use = log_text.contains("Address already in use");
                    last_error = Some(fail(format!("{}\nserver log:\n{log_text}", e.message())));
                    if !in_use {
                        break;
                    }
                }
            }
        }
        Err(last_error.unwrap_or_else(|| fail("pg_ctl start failed")))
    }

    fn command(&self, program: &str) -> Command {
        let bin = self.bindir.join(program);
        if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(bin);
            c
        } else {
            Command::new(bin)
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The directory holding the data, the socket and the log.
    pub fn dir(&self) -> &Path {
        &self.path
    }

    /// The certificate of the authority that signed the server's
    /// certificate (with `ssl`): what `sslrootcert` should trust.
    pub fn certificate(&self) -> Option<PathBuf> {
        self.ssl.then(|| self.path.join("ca.crt"))
    }

    /// `postgres://postgres@127.0.0.1:PORT/DB`.
    pub fn url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }

    /// A config for database `db` (TLS off unless the cluster serves it).
    pub fn config(&self, db: &str) -> PgConfig {
        PgConfig::new("127.0.0.1", self.port, "postgres", db).with_sslmode(if self.ssl {
            SslMode::Prefer
        } else {
            SslMode::Disable
        })
    }

    /// Creates database `name`; returns its config.
    pub async fn create_database(&self, name: &str) -> Result<PgConfig, Error> {
        let conn = connect(&self.config("postgres")).await?;
        let sql = format!("CREATE DATABASE {}", quote_ident(name));
        let mut attempts = 0;
        loop {
            match conn.client.batch_execute(&sql).await {
                Ok(()) => break,
                // Two CREATE DATABASE at once may find template1 busy.
                Err(e)
                    if attempts < 20
                        && crate::error::describe(&e).contains("being accessed by other users") =>
                {
                    attempts += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
                Err(e) => return Err(crate::error::pg_error(&format!("create database `{name}`"), e)),
            }
        }
        Ok(self.config(name))
    }

    /// Stops the server now (idempotent); the directory goes with the value.
    pub fn stop(&self) {
        if self.stopped.swap(true, std::sync::atomic::Ordering::SeqCst) {
            return;
        }
        let mut stop = self.command("pg_ctl");
        stop.arg("-D").arg(self.path.join("data")).args(["-m", "immediate", "-w", "stop"]);
        if let Err(e) = run(stop, "pg_ctl stop") {
            tracing::warn!(error = %e, "stop the local cluster");
        }
    }

    /// Stops the server and removes its directory, for exit hooks where the
    /// value itself is never dropped.
    pub fn stop_and_remove(&self) {
        self.stop();
        std::fs::remove_dir_all(&self.path).ok();
    }
}

impl Drop for LocalCluster {
    fn drop(&mut self) {
        self.stop();
        if let Some(dir) = self.dir.take() {
            dir.close().ok();
        }
    }
}
