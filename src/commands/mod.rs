//! One module a command.

pub mod auth;
pub mod check;
pub mod demo;
pub mod export;
pub mod import;
pub mod serve;
pub mod status;
pub mod sync;

use sheetbridge_postgres::{PgConfig, PgConn};

use crate::cli::DbArgs;
use crate::config::ConfigFile;
use crate::exit::CannotConnect;

/// Connects with `--db`, else the config file's `[database]`, else the PG*
/// environment variables.
pub(crate) async fn connect(db: &DbArgs) -> anyhow::Result<PgConn> {
    let config = database_config(db)?;
    // The connector's error names the server (never the password).
    let conn = sheetbridge_postgres::connect(&config).await.map_err(CannotConnect)?;
    Ok(conn)
}

/// The database `--db` names, else the config file's `[database]`, else the
/// PG* environment variables.
pub(crate) fn database_config(db: &DbArgs) -> anyhow::Result<PgConfig> {
    let from_file = || -> anyhow::Result<Option<PgConfig>> {
        match ConfigFile::locate(db.config.as_deref())? {
            Some(file) => Ok(file.database(|name| std::env::var(name).ok())?),
            None => Ok(None),
        }
    };
    let config = match &db.db {
        Some(url) => PgConfig::parse(url)?,
        None => match from_file()? {
            Some(config) => config,
            None => PgConfig::from_env()?,
        },
    };
    Ok(config)
}
