//! The Postgres side of sheetbridge.
//!
//! Reads tables and export queries as consistent snapshots streamed with
//! binary COPY ([`PgTable`], [`PgQuery`] implement
//! [`sheetbridge_core::Source`]); applies change sets in one transaction,
//! every update and delete guarded by the values it read ([`PgTable`]
//! implements [`sheetbridge_core::Target`]); imports whole files in insert,
//! upsert or mirror mode with a plan first ([`PgConn::begin_import`]); runs
//! the `sheetbridge` schema's migrations ([`migrate`]); keeps a sync pair
//! to one runner at a time with advisory locks ([`lock`]) and hears table
//! changes through LISTEN/NOTIFY ([`notify`]); and starts a
//! throwaway local cluster for the demo and the tests ([`LocalCluster`]).
//!
//! ```no_run
//! use sheetbridge_core::{Source, TableName, Value};
//! use sheetbridge_postgres::{connect, PgConfig};
//!
//! # async fn run() -> Result<(), sheetbridge_core::Error> {
//! let config = PgConfig::parse("postgres://app@localhost/shop?sslmode=require")?;
//! let mut conn = connect(&config).await?;
//! let schema = conn.describe_table(&TableName::new(None, "orders")).await?;
//! println!("{} has {} columns", schema.name, schema.columns.len());
//! let mut total = 0i64;
//! let rows = conn
//!     .table(TableName::new(None, "orders"))
//!     .with_columns(vec!["id".into(), "quantity".into()])
//!     .scan(&mut |row: &[Value]| {
//!         if let Value::Int(q) = row[1] {
//!             total += q;
//!         }
//!         Ok(())
//!     })
//!     .await?;
//! println!("{rows} orders, {total} items");
//! # Ok(())
//! # }
//! ```

pub mod config;
pub mod convert;
mod copy;
pub mod error;
pub mod import;
mod introspect;
pub mod local;
pub mod lock;
pub mod migrate;
pub mod notify;
pub mod source;
pub mod state;
mod target;
#[cfg(feature = "testing")]
pub mod testing;

pub use config::{connect, PgConfig, PgConn, Secret, SslMode};
pub use convert::quote_ident;
pub use import::{ImportMode, ImportPlan, Importer, PlannedAction, PlannedChange};
pub use local::{LocalCluster, LocalOptions};
pub use migrate::{migrate, MigrationReport};
pub use source::{PgQuery, PgTable};
