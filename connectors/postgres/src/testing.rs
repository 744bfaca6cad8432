//! Test helpers: one [`LocalCluster`] per test binary, a fresh database per
//! test. The cluster starts on first use, is stopped when the process exits,
//! and a cluster that cannot start panics with the reason (tests never skip).

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

use crate::{connect, LocalCluster, LocalOptions, PgConfig, PgConn};

static CLUSTER: OnceLock<LocalCluster> = OnceLock::new();
static SSL_CLUSTER: OnceLock<LocalCluster> = OnceLock::new();
static NEXT_DB: AtomicU32 = AtomicU32::new(1);

extern "C" fn stop_clusters() {
    for c in [&CLUSTER, &SSL_CLUSTER] {
        if let Some(cluster) = c.get() {
            cluster.stop_and_remove();
        }
    }
}

fn register_exit_hook() {
    static HOOK: OnceLock<()> = OnceLock::new();
    HOOK.get_or_init(|| {
        // SAFETY: `stop_clusters` is an `extern "C" fn()` that never unwinds
        // across the boundary (it only runs commands and removes files).
        unsafe {
            libc::atexit(stop_clusters);
        }
    });
}

fn start(options: &LocalOptions) -> LocalCluster {
    register_exit_hook();
    match LocalCluster::start_with(options) {
        Ok(c) => c,
        Err(e) => panic!("the test cluster could not start (PostgreSQL server binaries are required):\n{e}"),
    }
}

/// The test binary's cluster.
pub fn cluster() -> &'static LocalCluster {
    CLUSTER.get_or_init(|| start(&LocalOptions::default()))
}

/// A second cluster that serves TLS with a self-signed certificate.
pub fn ssl_cluster() -> &'static LocalCluster {
    SSL_CLUSTER.get_or_init(|| start(&LocalOptions { ssl: true, ..LocalOptions::default() }))
}

/// A database of its own for one test.
pub struct TestDb {
    pub name: String,
    pub config: PgConfig,
}

impl TestDb {
    pub async fn connect(&self) -> PgConn {
        match connect(&self.config).await {
            Ok(c) => c,
            Err(e) => panic!("connect to the test database {}: {e}", self.name),
        }
    }

    /// Runs SQL (several statements allowed), panicking with the error.
    pub async fn exec(&self, sql: &str) {
        let conn = self.connect().await;
        if let Err(e) = conn.client().batch_execute(sql).await {
            panic!("test SQL failed: {}\n{sql}", crate::error::describe(&e));
        }
    }
}

/// Creates a fresh database on the test cluster.
pub async fn fresh_db() -> TestDb {
    let name = format!("t{}_{}", std::process::id(), NEXT_DB.fetch_add(1, Ordering::SeqCst));
    match cluster().create_database(&name).await {
        Ok(config) => TestDb { name, config },
        Err(e) => panic!("create test database {name}: {e}"),
    }
}
