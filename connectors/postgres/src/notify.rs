//! LISTEN/NOTIFY: table changes that wake a pair before its schedule.
//!
//! Migration `0003_notify.sql` gives the `sheetbridge` schema a trigger
//! function that sends `schema.table` on the [`CHANGE_CHANNEL`] after every
//! statement that changes a watched table, and `sheetbridge.watch_table`,
//! which installs it on one table, or a view and what it reads (safe to call again). A [`Listener`] is a
//! dedicated connection that LISTENs and hands the notifications over.
//!
//! ```no_run
//! use sheetbridge_postgres::notify::{watch_table, Listener, CHANGE_CHANNEL};
//! # async fn run(config: &sheetbridge_postgres::PgConfig, conn: &sheetbridge_postgres::PgConn)
//! # -> Result<(), sheetbridge_core::Error> {
//! let orders = sheetbridge_core::TableName::new(None, "orders");
//! let payloads = watch_table(conn, &orders).await?; // ["public.orders"]
//! let mut listener = Listener::connect(config, CHANGE_CHANNEL).await?;
//! while let Some(n) = listener.recv().await {
//!     if payloads.iter().any(|p| p == n.payload()) { /* wake the pair */ }
//! }
//! // `None`: the connection ended; reconnect.
//! # Ok(())
//! # }
//! ```

use sheetbridge_core::{Error, TableName};
use tokio::sync::mpsc;
pub use tokio_postgres::Notification;

use crate::config::connect_forwarding;
use crate::error::Context;
use crate::introspect::qualified;
use crate::{quote_ident, PgConfig, PgConn};

/// The channel `sheetbridge.notify_change()` notifies.
pub const CHANGE_CHANNEL: &str = "sheetbridge_change";

/// A connection that LISTENs on one channel.
#[derive(Debug)]
pub struct Listener {
    conn: PgConn,
    notifications: mpsc::UnboundedReceiver<Notification>,
}

impl Listener {
    /// Connects and LISTENs on `channel`.
    pub async fn connect(config: &PgConfig, channel: &str) -> Result<Listener, Error> {
        let (tx, notifications) = mpsc::unbounded_channel();
        let conn = connect_forwarding(config, Some(tx)).await?;
        conn.client
            .batch_execute(&format!("LISTEN {}", quote_ident(channel)))
            .await
            .context(|| format!("listen on `{channel}` at {}", conn.target))?;
        Ok(Listener { conn, notifications })
    }

    /// The next notification; `None` once the connection has ended.
    pub async fn recv(&mut self) -> Option<Notification> {
        self.notifications.recv().await
    }

    /// The connection, e.g. to check it with a query.
    pub fn conn(&self) -> &PgConn {
        &self.conn
    }
}

/// Installs the change trigger on `table` (safe to call again) and returns
/// the payloads that mean it changed: `schema.table`, unquoted. For a view,
/// the trigger also goes on every table and view it reads (writes through an
/// updatable view fire its base table's triggers), and their payloads come too.
pub async fn watch_table(conn: &PgConn, table: &TableName) -> Result<Vec<String>, Error> {
    let rows = conn
        .client
        .query("SELECT sheetbridge.watch_table($1::text::regclass)", &[&qualified(table)])
        .await
        .context(|| format!("watch table `{table}` for changes"))?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}
