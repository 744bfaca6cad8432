//! Change sets: what one side must do to agree with the other.

use crate::{Key, Value};

/// The changes to apply to one side, by key.
///
/// Rows are in the column order of the [`crate::TableSchema`] the change set
/// was made against. Every update and delete carries the value each cell held
/// when it was read (`old`): a [`crate::Target`] applies a change only where
/// the row still holds those values, so a write that happened in between is
/// reported as a conflict instead of being overwritten.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChangeSet {
    /// Whole rows to insert. A key column that is NULL and fills itself
    /// (identity, serial, default) is left to the database.
    pub inserts: Vec<Vec<Value>>,
    pub updates: Vec<Update>,
    pub deletes: Vec<Delete>,
}

impl ChangeSet {
    pub fn is_empty(&self) -> bool {
        self.inserts.is_empty() && self.updates.is_empty() && self.deletes.is_empty()
    }

    /// Number of cells the updates change.
    pub fn updated_cells(&self) -> usize {
        self.updates.iter().map(|u| u.cells.len()).sum()
    }
}

/// Some cells of one row.
#[derive(Debug, Clone, PartialEq)]
pub struct Update {
    pub key: Key,
    pub cells: Vec<CellChange>,
}

/// One cell: the column's index in the schema, the value read, the value to write.
#[derive(Debug, Clone, PartialEq)]
pub struct CellChange {
    pub column: usize,
    pub old: Value,
    pub new: Value,
}

/// A row to delete, with the row as it was read when it is known (a delete is
/// then guarded like an update: a row changed since is not deleted).
#[derive(Debug, Clone, PartialEq)]
pub struct Delete {
    pub key: Key,
    pub old: Option<Vec<Value>>,
}
