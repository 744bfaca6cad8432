//! One module a command.

pub mod demo;
pub mod export;
pub mod import;

use anyhow::Context;
use sheetbridge_postgres::{PgConfig, PgConn};

use crate::cli::DbArgs;

/// Connects with `--db`, or with the PG* environment variables when it is absent.
pub(crate) async fn connect(db: &DbArgs) -> anyhow::Result<PgConn> {
    let config = match &db.db {
        Some(url) => PgConfig::parse(url)?,
        None => PgConfig::from_env()?,
    };
    let conn =
        sheetbridge_postgres::connect(&config).await.with_context(|| format!("connecting to {config}"))?;
    Ok(conn)
}
