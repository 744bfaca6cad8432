//! The traits connectors implement, and what each promise means.
//!
//! # Source
//!
//! - [`Source::schema`] MUST describe the columns in the order
//!   [`Source::scan`] yields them, with the key columns marked.
//! - [`Source::scan`] MUST hand every row to the sink exactly once, from one
//!   consistent snapshot (a single transaction, a single read of a file or a
//!   tab). It SHOULD stream: memory may not grow with the number of rows.
//! - `Ok(n)` promises that all `n` rows were delivered; an error means the
//!   sink saw a prefix and MUST discard it.
//!
//! # Target
//!
//! - [`Target::apply`] MUST be atomic: either every change of the
//!   [`ChangeSet`] lands or none does (one transaction; one atomic file
//!   replace; one batch request).
//! - It MUST be idempotent: applying the same change set twice leaves the
//!   same state as applying it once (an insert whose key exists with the same
//!   values, an update already made, a delete of a missing row are no-ops).
//! - It MUST guard: an update or delete lands only where the row still holds
//!   the `old` values of the change. A row that changed since it was read is
//!   a [`Conflict`]; under [`OnConflict::Abort`] nothing is written, under
//!   [`OnConflict::Skip`] the conflicting rows are left as they are and the
//!   rest is applied.
//! - `Ok(report)` promises the report's changes are durable (committed,
//!   renamed into place, acknowledged) and that `report.conflicts` lists
//!   every change not applied.
//! - With [`ApplyOptions::dry_run`] it MUST compute the same report and write
//!   nothing.

use std::fmt;
use std::future::Future;

use crate::{ChangeSet, Error, Key, TableSchema, Value};

/// Receives rows from a [`Source`], one at a time, in schema column order.
/// The slice is only valid for the call; a sink copies what it keeps.
pub trait RowSink {
    fn row(&mut self, row: &[Value]) -> Result<(), Error>;
}

impl<F: FnMut(&[Value]) -> Result<(), Error>> RowSink for F {
    fn row(&mut self, row: &[Value]) -> Result<(), Error> {
        self(row)
    }
}

/// Something rows can be read from: a table, a query, a sheet.
pub trait Source {
    /// The columns, in the order `scan` yields them.
    fn schema(&mut self) -> impl Future<Output = Result<TableSchema, Error>> + Send;

    /// Streams every row to `sink`; returns how many rows were delivered.
    fn scan<S: RowSink + Send>(&mut self, sink: &mut S) -> impl Future<Output = Result<u64, Error>> + Send;
}

/// Something a [`ChangeSet`] can be applied to.
pub trait Target {
    fn apply(
        &mut self,
        schema: &TableSchema,
        changes: &ChangeSet,
        options: &ApplyOptions,
    ) -> impl Future<Output = Result<ApplyReport, Error>> + Send;
}

/// What to do when a guarded change finds the row changed since it was read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum OnConflict {
    /// Write nothing and report the conflicts (the default: an import is all or nothing).
    #[default]
    Abort,
    /// Apply everything else; leave the conflicting rows for the next run.
    Skip,
}

#[derive(Debug, Clone, Default)]
pub struct ApplyOptions {
    pub dry_run: bool,
    pub on_conflict: OnConflict,
}

/// What an apply did (or, in a dry run, would do).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ApplyReport {
    pub inserted: u64,
    pub updated_rows: u64,
    pub updated_cells: u64,
    pub deleted: u64,
    /// Keys the database generated for inserted rows whose key was empty, in
    /// the order of those rows in the change set.
    pub generated_keys: Vec<Key>,
    pub conflicts: Vec<Conflict>,
}

/// A guarded change that found the row changed since it was read.
#[derive(Debug, Clone, PartialEq)]
pub struct Conflict {
    pub key: Key,
    /// The column whose value moved, when one is known.
    pub column: Option<String>,
    /// The value the change expected (read earlier).
    pub expected: Value,
    /// The value found now (`Null` with `column: None` when the row is gone).
    pub found: Value,
}

/// `` key 7 column `qty`: read 3, now 4 ``, or `key 7: the row is gone`.
impl fmt::Display for Conflict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.column {
            Some(col) => {
                write!(f, "key {} column `{col}`: read {}, now {}", self.key, self.expected, self.found)
            }
            None => write!(f, "key {}: the row is gone", self.key),
        }
    }
}
