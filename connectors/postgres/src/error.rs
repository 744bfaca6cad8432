//! Postgres errors mapped to the kinds a caller acts on.
//!
//! Every error leaving this crate is a [`sheetbridge_core::Error`]. Its kind
//! comes from the SQLSTATE (or the IO failure) underneath; its message names
//! what was being done and repeats the server's message, detail and hint. The
//! original `tokio_postgres::Error` is kept as the source, so
//! [`sqlstate`] can still read the code.

use std::io;

use sheetbridge_core::{Error, ErrorKind};
use tokio_postgres::error::{DbError, SqlState};

/// The kind a Postgres failure maps to.
pub fn kind_of(e: &tokio_postgres::Error) -> ErrorKind {
    if let Some(db) = e.as_db_error() {
        return kind_of_code(db.code());
    }
    if e.is_closed() {
        return ErrorKind::Retryable;
    }
    if let Some(io) = io_source(e) {
        return match io.kind() {
            io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::NotConnected
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::TimedOut
            | io::ErrorKind::UnexpectedEof
            | io::ErrorKind::AddrNotAvailable
            | io::ErrorKind::Interrupted => ErrorKind::Retryable,
            io::ErrorKind::NotFound => ErrorKind::NotFound,
            io::ErrorKind::PermissionDenied => ErrorKind::Unauthorized,
            _ => ErrorKind::Other,
        };
    }
    // "timeout waiting for server" and similar have no io source.
    if e.to_string().contains("timeout") {
        return ErrorKind::Retryable;
    }
    ErrorKind::Other
}

/// The kind a SQLSTATE maps to.
pub fn kind_of_code(code: &SqlState) -> ErrorKind {
    let c = code.code();
    match c {
        // serialization_failure, deadlock_detected
        "40001" | "40P01" => ErrorKind::Retryable,
        // admin_shutdown, crash_shutdown, cannot_connect_now, too_many_connections,
        // lock_not_available, query_canceled (statement_timeout)
        "57P01" | "57P02" | "57P03" | "53300" | "55P03" | "57014" => ErrorKind::Retryable,
        // invalid_password, invalid_authorization_specification, insufficient_privilege
        "28P01" | "28000" | "42501" => ErrorKind::Unauthorized,
        // undefined_table, invalid_catalog_name (no such database), invalid_schema_name,
        // undefined_object
        "42P01" | "3D000" | "3F000" | "42704" => ErrorKind::NotFound,
        // undefined_column, datatype_mismatch, wrong_object_type, object_not_in_prerequisite_state
        "42703" | "42804" | "42809" | "55000" => ErrorKind::SchemaMismatch,
        // unique_violation etc.: the data disagrees with the table's rules
        _ if c.starts_with("23") => ErrorKind::InvalidInput,
        // data_exception: a value the type refuses
        _ if c.starts_with("22") => ErrorKind::Conversion,
        // connection_exception
        _ if c.starts_with("08") => ErrorKind::Retryable,
        // insufficient_resources (disk full, out of memory)
        _ if c.starts_with("53") => ErrorKind::Retryable,
        // syntax errors and access rule violations in SQL a user supplied
        _ if c.starts_with("42") => ErrorKind::InvalidInput,
        // read_only_sql_transaction and other invalid transaction states
        "25006" => ErrorKind::InvalidInput,
        _ => ErrorKind::Other,
    }
}

fn io_source(e: &tokio_postgres::Error) -> Option<&io::Error> {
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<io::Error>() {
            return Some(io);
        }
        source = s.source();
    }
    None
}

/// The server's words: message, then detail and hint when present.
pub fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => describe_db(db),
        None => {
            let mut text = e.to_string();
            let mut source = std::error::Error::source(e);
            while let Some(s) = source {
                text.push_str(": ");
                text.push_str(&s.to_string());
                source = s.source();
            }
            text
        }
    }
}

pub(crate) fn describe_db(db: &DbError) -> String {
    let mut text = db.message().to_owned();
    if let Some(d) = db.detail() {
        text.push_str(" (");
        text.push_str(d);
        text.push(')');
    }
    if let Some(h) = db.hint() {
        text.push_str("; hint: ");
        text.push_str(h);
    }
    text
}

/// Converts a Postgres error, naming what was being done:
/// `` describe table `orders`: permission denied for table orders ``.
pub fn pg_error(what: &str, e: tokio_postgres::Error) -> Error {
    let kind = kind_of(&e);
    Error::new(kind, format!("{what}: {}", describe(&e))).with_source(e)
}

/// The SQLSTATE under a connector error, when a Postgres error caused it.
pub fn sqlstate(e: &Error) -> Option<&SqlState> {
    let source = std::error::Error::source(e)?;
    source.downcast_ref::<tokio_postgres::Error>()?.code()
}

/// Adds the "what was being done" to a Postgres result.
pub(crate) trait Context<T> {
    fn context(self, what: impl FnOnce() -> String) -> Result<T, Error>;
}

impl<T> Context<T> for Result<T, tokio_postgres::Error> {
    fn context(self, what: impl FnOnce() -> String) -> Result<T, Error> {
        self.map_err(|e| pg_error(&what(), e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlstates_map_to_kinds() {
        assert_eq!(kind_of_code(&SqlState::T_R_SERIALIZATION_FAILURE), ErrorKind::Retryable);
        assert_eq!(kind_of_code(&SqlState::T_R_DEADLOCK_DETECTED), ErrorKind::Retryable);
        assert_eq!(kind_of_code(&SqlState::INVALID_PASSWORD), ErrorKind::Unauthorized);
        assert_eq!(kind_of_code(&SqlState::INVALID_AUTHORIZATION_SPECIFICATION), ErrorKind::Unauthorized);
        assert_eq!(kind_of_code(&SqlState::UNDEFINED_TABLE), ErrorKind::NotFound);
        assert_eq!(kind_of_code(&SqlState::UNIQUE_VIOLATION), ErrorKind::InvalidInput);
        assert_eq!(kind_of_code(&SqlState::INVALID_TEXT_REPRESENTATION), ErrorKind::Conversion);
        assert_eq!(kind_of_code(&SqlState::CONNECTION_FAILURE), ErrorKind::Retryable);
        assert_eq!(kind_of_code(&SqlState::READ_ONLY_SQL_TRANSACTION), ErrorKind::InvalidInput);
    }
}
