//! Postgres connector.
