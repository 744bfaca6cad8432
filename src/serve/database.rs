//! The database side of the daemon: reach it, migrate it, watch the pairs'
//! tables, LISTEN for their changes; reconnect with backoff when it goes away.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use sheetbridge_core::Error;
use sheetbridge_postgres::notify::{watch_table, Listener, CHANGE_CHANNEL};
use sheetbridge_postgres::{connect, migrate};
use tokio::sync::watch;

use super::daemon::Shared;

/// Notification payload (`schema.table`) → the pairs of that table.
type Routes = HashMap<String, Vec<usize>>;

/// Keeps the database ready and the listener connected until `stop`.
pub(super) async fn maintain(shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    let options = &shared.options;
    let mut delay = options.reconnect;
    let mut connected_before = false;
    loop {
        let setup = tokio::select! {
            _ = stop.wait_for(|s| *s) => return,
            setup = setup(&shared) => setup,
        };
        match setup {
            Ok((mut listener, routes)) => {
                delay = options.reconnect;
                shared.set_ready(Ok(()));
                if connected_before {
                    // Changes made while the listener was away sent nothing it saw.
                    for i in routes.values().flatten() {
                        shared.pairs[*i].changed.notify_one();
                    }
                }
                connected_before = true;
                tracing::info!(database = %options.database, watched = routes.len(), "database ready");
                loop {
                    let notification = tokio::select! {
                        _ = stop.wait_for(|s| *s) => return,
                        n = listener.recv() => n,
                    };
                    let Some(n) = notification else { break };
                    for i in routes.get(n.payload()).into_iter().flatten() {
                        let pair = &shared.pairs[*i];
                        pair.pending_changes.fetch_add(1, Ordering::SeqCst);
                        pair.changed.notify_one();
                    }
                }
                let why = "the connection listening for table changes was lost; reconnecting";
                tracing::warn!(database = %options.database, "{why}");
                shared.set_ready(Err(why.to_owned()));
            }
            Err(e) => {
                shared.set_ready(Err(e.to_string()));
                if options.once && !connected_before {
                    // One pass of each pair was asked for, not a service that waits for its database.
                    shared.stop.stop();
                    return;
                }
                tracing::warn!(error = %e, retry_in_ms = delay.as_millis() as u64, "database not ready");
            }
        }
        tokio::select! {
            _ = stop.wait_for(|s| *s) => return,
            _ = tokio::time::sleep(delay) => {}
        }
        delay = delay.saturating_mul(2).min(options.reconnect_max);
    }
}

/// Connects, migrates, installs the change trigger on each pair's table and LISTENs.
async fn setup(shared: &Shared) -> Result<(Listener, Routes), Error> {
    let mut conn = connect(&shared.database_for("setup")).await?;
    migrate(&mut conn).await?;
    let mut routes = Routes::new();
    for (i, pair) in shared.pairs.iter().enumerate() {
        let Some(table) = &pair.spec.table else { continue };
        match watch_table(&conn, table).await {
            Ok(payloads) => {
                for payload in payloads {
                    routes.entry(payload).or_default().push(i);
                }
            }
            // The pair still runs on its schedule (and its passes will name the problem).
            Err(e) => tracing::warn!(
                pair = %pair.spec.name, table = %table, error = %e,
                "changes of the table will not wake the pair early"
            ),
        }
    }
    let listener = Listener::connect(&shared.database_for("listener"), CHANGE_CHANNEL).await?;
    Ok((listener, routes))
}
