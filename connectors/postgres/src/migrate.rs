//! The `sheetbridge` schema's migrations, embedded and checksummed.
//!
//! [`migrate`] takes a session advisory lock ([`MIGRATION_LOCK_KEY`]) so two
//! processes never migrate at once, makes sure
//! `sheetbridge.schema_migrations` exists, refuses to go on when a migration
//! already applied differs from the file this binary carries (its sha256
//! checksum changed) or when the database knows migrations this binary does
//! not, and applies each pending migration in its own transaction.

use sha2::{Digest, Sha256};
use sheetbridge_core::{Error, ErrorKind};

use crate::error::Context;
use crate::PgConn;

/// One numbered migration file.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    pub version: i32,
    /// The file name, for messages (`0001_sheetbridge_schema.sql`).
    pub name: &'static str,
    pub sql: &'static str,
}

/// The migrations this binary carries, in order.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "0001_sheetbridge_schema.sql",
        sql: include_str!("../../../sql/migrations/0001_sheetbridge_schema.sql"),
    },
    Migration {
        version: 2,
        name: "0002_sync_state.sql",
        sql: include_str!("../../../sql/migrations/0002_sync_state.sql"),
    },
    Migration {
        version: 3,
        name: "0003_notify.sql",
        sql: include_str!("../../../sql/migrations/0003_notify.sql"),
    },
    Migration {
        version: 4,
        name: "0004_decisions.sql",
        sql: include_str!("../../../sql/migrations/0004_decisions.sql"),
    },
    Migration { version: 5, name: "0005_api.sql", sql: include_str!("../../../sql/migrations/0005_api.sql") },
];

/// The `pg_advisory_lock` key the runner holds while it works: the bytes of
/// "sheetbri" as a big-endian integer.
pub const MIGRATION_LOCK_KEY: i64 = 0x7368_6565_7462_7269;

impl Migration {
    /// sha256 of the file, in lower-case hex.
    pub fn checksum(&self) -> String {
        Sha256::digest(self.sql.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// What a run of [`migrate`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MigrationReport {
    /// Versions applied by this run, in order.
    pub applied: Vec<i32>,
    /// Versions that were already there.
    pub already: Vec<i32>,
}

const BOOTSTRAP: &str = "
CREATE SCHEMA IF NOT EXISTS sheetbridge;
CREATE TABLE IF NOT EXISTS sheetbridge.schema_migrations (
    version    integer PRIMARY KEY,
    name       text NOT NULL,
    checksum   text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)";

/// Brings the `sheetbridge` schema up to date with [`MIGRATIONS`].
pub async fn migrate(conn: &mut PgConn) -> Result<MigrationReport, Error> {
    migrate_with(conn, MIGRATIONS).await
}

/// [`migrate`] with a given list (for tests).
pub async fn migrate_with(conn: &mut PgConn, migrations: &[Migration]) -> Result<MigrationReport, Error> {
    let what = || "migrate the sheetbridge schema".to_owned();
    conn.client.execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK_KEY]).await.context(what)?;
    let result = run(conn, migrations).await;
    let unlock =
        conn.client.execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK_KEY]).await.context(what);
    let report = result?;
    unlock?;
    Ok(report)
}

async fn run(conn: &mut PgConn, migrations: &[Migration]) -> Result<MigrationReport, Error> {
    let what = || "migrate the sheetbridge schema".to_owned();
    conn.client.batch_execute(BOOTSTRAP).await.context(what)?;
    let rows = conn
        .client
        .query("SELECT version, name, checksum FROM sheetbridge.schema_migrations ORDER BY version", &[])
        .await
        .context(what)?;
    let mut report = MigrationReport::default();
    for row in &rows {
        let version: i32 = row.get(0);
        let name: String = row.get(1);
        let checksum: String = row.get(2);
        match migrations.iter().find(|m| m.version == version) {
            None => {
                return Err(Error::new(
                    ErrorKind::SchemaMismatch,
                    format!(
                        "the database has sheetbridge migration {version} (`{name}`), which this sheetbridge does not know: it was migrated by a newer version"
                    ),
                ))
            }
            Some(m) if m.checksum() != checksum => {
                return Err(Error::new(
                    ErrorKind::SchemaMismatch,
                    format!(
                        "migration `{}` was applied with checksum {checksum}, but the file now has {}: an applied migration must never be edited",
                        m.name,
                        m.checksum()
                    ),
                ))
            }
            Some(_) => report.already.push(version),
        }
    }
    for m in migrations.iter().filter(|m| !report.already.contains(&m.version)) {
        let what = || format!("apply migration `{}`", m.name);
        let tx = conn.client.transaction().await.context(what)?;
        tx.batch_execute(m.sql).await.context(what)?;
        tx.execute(
            "INSERT INTO sheetbridge.schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
            &[&m.version, &m.name, &m.checksum()],
        )
        .await
        .context(what)?;
        tx.commit().await.context(what)?;
        tracing::info!(version = m.version, name = m.name, "migration applied");
        report.applied.push(m.version);
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_numbered_in_order_and_checksummed() {
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(m.version as usize, i + 1);
            assert!(m.name.starts_with(&format!("{:04}_", m.version)), "{}", m.name);
            assert_eq!(m.checksum().len(), 64);
        }
    }
}
