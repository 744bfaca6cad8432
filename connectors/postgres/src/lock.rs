//! Advisory locks that keep one pair from running twice at once, also across
//! processes and machines.
//!
//! A pair's lock is a session-level `pg_try_advisory_lock` on a key derived
//! from its name ([`pair_lock_key`]). Whoever holds it keeps the connection
//! that took it open for the whole run and releases it at the end
//! ([`advisory_unlock`]); if the process dies the server ends the session and
//! the lock goes with it. Session locks nest within one session, so a caller
//! uses one connection per pair and never takes a pair's lock twice on it.
//!
//! ```no_run
//! use sheetbridge_postgres::lock::{advisory_unlock, pair_lock_key, try_advisory_lock};
//! # async fn run(conn: &sheetbridge_postgres::PgConn) -> Result<(), sheetbridge_core::Error> {
//! let key = pair_lock_key("orders");
//! if try_advisory_lock(conn, key).await? {
//!     // ... one pass of the pair ...
//!     advisory_unlock(conn, key).await?;
//! } else {
//!     // another process runs the pair: skip this turn
//! }
//! # Ok(())
//! # }
//! ```

use sha2::{Digest, Sha256};
use sheetbridge_core::Error;

use crate::error::Context;
use crate::PgConn;

/// The lock key of a pair: the first 8 bytes of
/// sha256(`"sheetbridge pair " + name`) as a big-endian integer. Stable
/// across versions and machines (every replica must derive the same key).
pub fn pair_lock_key(pair: &str) -> i64 {
    let digest = Sha256::digest(format!("sheetbridge pair {pair}").as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(first)
}

/// Takes the session-level advisory lock `key` if nobody holds it: `true`
/// when this session now holds it, `false` when another session does.
pub async fn try_advisory_lock(conn: &PgConn, key: i64) -> Result<bool, Error> {
    let row = conn
        .client
        .query_one("SELECT pg_try_advisory_lock($1)", &[&key])
        .await
        .context(|| format!("take advisory lock {key}"))?;
    Ok(row.get(0))
}

/// Releases the lock `key` taken by this session: `false` when this session
/// did not hold it (the server also warns).
pub async fn advisory_unlock(conn: &PgConn, key: i64) -> Result<bool, Error> {
    let row = conn
        .client
        .query_one("SELECT pg_advisory_unlock($1)", &[&key])
        .await
        .context(|| format!("release advisory lock {key}"))?;
    Ok(row.get(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pair_key_is_stable_and_distinct() {
        // Pinned: replicas of different versions must agree on the key.
        let digest = Sha256::digest(b"sheetbridge pair orders");
        assert_eq!(pair_lock_key("orders").to_be_bytes(), digest[..8]);
        assert_eq!(pair_lock_key("orders"), pair_lock_key("orders"));
        assert_ne!(pair_lock_key("orders"), pair_lock_key("orders2"));
        assert_ne!(pair_lock_key("orders"), crate::migrate::MIGRATION_LOCK_KEY);
    }
}
