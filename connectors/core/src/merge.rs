//! The per-cell three-way merge at the heart of two-way sync: pure, no IO.
//!
//! [`merge`] takes the synced columns (a [`TableSchema`]), three snapshots
//! keyed by [`Key`] and a pair's [`MergeSettings`], and returns a
//! [`MergePlan`]: the [`ChangeSet`] to apply to the table, the one to apply to
//! the sheet, the new base, every conflict (settled or left open), the
//! deletions held for approval and those ignored.
//!
//! - `base`: per key, the row both sides last agreed on ([`Snapshot`]); empty on
//!   a first sync, absent for rows never synced.
//! - `table`, `sheet`: the rows as read now.
//!
//! Rows are whole rows in the schema's column order, key columns included,
//! and each is stored under the key its key columns hold
//! ([`TableSchema::key_of`]); a row of the wrong width or under another key is
//! an [`ErrorKind::InvalidInput`] error naming it; a schema without a key
//! column, or a per-column policy naming no column of the schema, is an
//! [`ErrorKind::SchemaMismatch`] error. Nothing else fails.
//!
//! **Rows with an incomplete key are not the merge's business.** A sheet row
//! whose key cells are empty (a row a person typed; [`Key::is_incomplete`])
//! cannot be matched to anything: the caller leaves it out of the `sheet`
//! snapshot, inserts it into the table itself and writes the generated key
//! back into the sheet. It reaches the merge on the next run, keyed, as a row
//! both sides hold.
//!
//! ```
//! use std::collections::HashMap;
//! use sheetbridge_core::merge::{merge, ConflictPolicy, DeletePolicy, Direction, MergeSettings};
//! use sheetbridge_core::schema::RelationKind;
//! use sheetbridge_core::{Column, ColumnType, Key, TableName, TableSchema, Value};
//!
//! let mut id = Column::new("id", ColumnType::Int64, "int8");
//! id.key = true;
//! let schema = TableSchema {
//!     name: TableName::new(None, "orders"),
//!     kind: RelationKind::Table,
//!     columns: vec![id, Column::new("qty", ColumnType::Int32, "int4"), Column::new("note", ColumnType::Text, "text")],
//! };
//! let row = |qty: i64, note: &str| vec![Value::Int(7), Value::Int(qty), Value::Text(note.into())];
//! let key = Key(vec![Value::Int(7)]);
//! let base = HashMap::from([(key.clone(), row(1, "new"))]);
//! let table = HashMap::from([(key.clone(), row(2, "new"))]); // the application changed qty
//! let sheet = HashMap::from([(key.clone(), row(1, "rush"))]); // a person changed the note
//!
//! let settings = MergeSettings::new(Direction::Both, ConflictPolicy::Flag, DeletePolicy::Propagate);
//! let plan = merge(&schema, &settings, &base, &table, &sheet).unwrap();
//! // Different cells of one row merge: each side gets the other's edit, guarded by the value read.
//! assert_eq!(plan.to_table.updates[0].cells[0].column, 2);
//! assert_eq!(plan.to_table.updates[0].cells[0].old, Value::Text("new".into()));
//! assert_eq!(plan.to_sheet.updates[0].cells[0].new, Value::Int(2));
//! assert!(plan.conflicts.is_empty());
//! assert_eq!(plan.base.set, vec![(key, row(2, "rush"))]);
//! ```
//!
//! # The rules
//!
//! Per key, with `B`, `T`, `S` the base, table and sheet rows (`-` absent):
//!
//! | B | T | S | outcome |
//! |---|---|---|---|
//! | ✓ | ✓ | ✓ | per cell (below) |
//! | - | ✓ | ✓ | per cell with no base: equal cells agree, differing cells are conflicts ([`ConflictKind::NoBase`]) settled by the policy (a first sync, or the same key inserted on both sides) |
//! | - | ✓ | - | an insert on the table: inserted into the sheet |
//! | - | - | ✓ | an insert on the sheet: inserted into the table |
//! | ✓ | - | ✓ | deleted on the table (below) |
//! | ✓ | ✓ | - | deleted on the sheet (below) |
//! | ✓ | - | - | deleted on both: the base forgets the key |
//!
//! Per cell of a non-key column, with `b`, `t`, `s` its three values:
//!
//! | cell | outcome |
//! |---|---|
//! | `t == s` | agreement; the base takes the value (it moves when both changed alike) |
//! | `t == b != s` | changed on the sheet only: the sheet's value goes to the table |
//! | `s == b != t` | changed on the table only: the table's value goes to the sheet |
//! | `b`, `t`, `s` all different | a conflict ([`ConflictKind::BothChanged`]) settled by the column's policy |
//!
//! Values compare exactly ([`Value`]'s `==`): NULL and `""` differ, `1.0` and
//! `1.00` as numerics differ. Key columns are never compared or written (rows
//! under one key hold the same key).
//!
//! **Conflict policy** ([`ConflictPolicy`], per pair with per-column
//! overrides): `TableWins` writes the table's value into the sheet,
//! `SheetWins` the reverse; `Flag` changes neither side, reports the conflict
//! as [`Resolution::Open`] and keeps the cell's old base value, so the
//! conflict is found again on every run until a person settles it: writing
//! the chosen value to the other side (guarded, like any update) makes the
//! cell agree, and the next merge moves the base. A row holding an open conflict with no base
//! at all gets no base row (there is no old value to keep); its cells are
//! compared as on a first sync until the conflict is settled. Every conflict
//! is reported, settled or not.
//!
//! **Deleted on one side** (`B` present, the row missing on side X, present on
//! side Y): when Y's row still equals the base, the deletion stands and the
//! delete policy applies. When Y edited the row since the base, it is a
//! delete-vs-edit conflict ([`ConflictKind::DeleteVsEdit`], a row-level
//! conflict) settled by the pair's default policy (per-column overrides do
//! not apply to rows): the winning side's action survives, so `X wins`
//! applies the deletion (through the delete policy) and `Y wins` inserts Y's
//! row back into X; `Flag` leaves both as they are and keeps the base.
//!
//! **Delete policy** ([`DeletePolicy`]), when a deletion stands:
//!
//! | policy | the other side | the base | reported |
//! |---|---|---|---|
//! | `Propagate` | the row is deleted (guarded by the row read) | the key is dropped | (counts) |
//! | `Hold` | left as it is, not re-inserted into X | Y's row | a [`HeldDelete`], every run until approved |
//! | `Ignore` | left as it is, not re-inserted into X | Y's row | an [`IgnoredDelete`], every run |
//!
//! Held and ignored deletions keep a base row on purpose. Forgetting the key
//! would make the next run see a row on Y with no base, which is an insert,
//! and re-insert it into X: exactly what both policies forbid. With the base
//! holding Y's row, the next run finds the same deletion again and leaves it
//! again (nothing is written, the same hold or ignore is reported). The base
//! stores rows only, no tombstones, so "deleted on X and ignored" cannot be
//! told from "deleted on X just now": an edit made on Y after the deletion
//! is therefore a delete-vs-edit conflict like any other, and when the edit
//! wins the row comes back to X. To approve a held delete, apply
//! [`HeldDelete::delete`] to the side that still holds the row and drop the
//! key from the base.
//!
//! **Direction** ([`Direction`]): `Both` as above. `ToSheet` makes the table
//! the source of truth: every difference is settled for the table (the
//! policy is not consulted) and nothing is ever written to the table. A
//! sheet edit the table did not also make is overwritten and reported as a
//! conflict of kind [`ConflictKind::Overwritten`] (resolution `TableWon`),
//! whether a cell, a row deleted on the sheet (inserted back, whatever the
//! delete policy) or a row only the sheet has (deleted from the sheet under
//! `Propagate`; held or ignored otherwise). Cells both sides changed, or that
//! differ with no base, are reported as under `Both` (`BothChanged`,
//! `NoBase`), resolved `TableWon`. A deletion on the table goes to the sheet
//! through the delete policy, and a sheet edit of that row is a
//! `DeleteVsEdit` conflict the table wins. `ToTable` mirrors it all.
//!
//! **Read-only columns** ([`crate::Column::read_only`]) are never written to the
//! table: under `Both` and `ToSheet` such a column merges as under `ToSheet`
//! (the table's value goes to the sheet, a sheet edit is overwritten and
//! reported); under `ToTable` it is not synced at all (no writes, no
//! conflicts; the base takes the table's value). Inserts carry whole rows,
//! read-only and generated columns included: the table's target leaves out
//! the columns it must not write.
//!
//! # What the plan promises
//!
//! - Updates carry `old` = the value read from the side they are for, and
//!   deletes carry the row read, so a target applies them guarded
//!   ([`crate::contract`]). Inserts are whole rows.
//! - Applying `to_table` to the table and `to_sheet` to the sheet makes both
//!   hold the same rows, except the cells of open conflicts and the rows of
//!   held and ignored deletions and open delete-vs-edit conflicts, which are
//!   exactly those reported; `base` then holds that result.
//! - Merging again with the new base and the sides as written yields no
//!   changes and no base changes; only the open conflicts, held deletes and
//!   ignored deletes are reported again.
//! - Swapping `table` and `sheet` with [`MergeSettings::mirrored`] swaps the
//!   outputs.
//! - Everything is ordered by key ([`cmp_keys`]), then by column.
//! - The work is linear in the number of rows plus `k log k` for the `k`
//!   keys that need anything; rows equal on all three sides are compared and
//!   not copied. A delete threshold ("stop when a run would delete more than
//!   N rows") is the caller's: the counts are the deletes' lengths.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{CellChange, ChangeSet, Delete, Error, ErrorKind, Key, TableSchema, Update, Value};

/// Rows keyed by their key, each a whole row in the schema's column order.
pub type Snapshot = HashMap<Key, Vec<Value>>;

/// One side of a pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    Table,
    Sheet,
}

impl Side {
    pub fn other(self) -> Side {
        match self {
            Side::Table => Side::Sheet,
            Side::Sheet => Side::Table,
        }
    }

    /// The side as messages name it: `table`, `sheet`.
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Table => "table",
            Side::Sheet => "sheet",
        }
    }
}

/// Which way changes may flow.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Both ways; conflicts are settled by the [`ConflictPolicy`].
    #[default]
    Both,
    /// The table is the source of truth: its changes go to the sheet, sheet
    /// edits are overwritten back (and reported), nothing is written to the table.
    ToSheet,
    /// The sheet is the source of truth (the mirror of `ToSheet`).
    ToTable,
}

impl Direction {
    /// The side that is the source of truth, if any.
    pub fn source(self) -> Option<Side> {
        match self {
            Direction::Both => None,
            Direction::ToSheet => Some(Side::Table),
            Direction::ToTable => Some(Side::Sheet),
        }
    }

    /// `ToSheet` ↔ `ToTable`.
    pub fn mirrored(self) -> Direction {
        match self {
            Direction::Both => Direction::Both,
            Direction::ToSheet => Direction::ToTable,
            Direction::ToTable => Direction::ToSheet,
        }
    }
}

/// How a conflict (both sides changed one cell differently, or a delete on
/// one side and an edit on the other) is settled under [`Direction::Both`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConflictPolicy {
    /// The table's value (or action) wins and is written to the sheet.
    TableWins,
    /// The sheet's value (or action) wins and is written to the table.
    SheetWins,
    /// Neither side is changed; the conflict stays open until a person
    /// settles it, and is reported on every run until then.
    #[serde(alias = "keep_both")]
    Flag,
}

impl ConflictPolicy {
    /// `TableWins` ↔ `SheetWins`.
    pub fn mirrored(self) -> ConflictPolicy {
        match self {
            ConflictPolicy::TableWins => ConflictPolicy::SheetWins,
            ConflictPolicy::SheetWins => ConflictPolicy::TableWins,
            ConflictPolicy::Flag => ConflictPolicy::Flag,
        }
    }

    fn winner(self) -> Option<Side> {
        match self {
            ConflictPolicy::TableWins => Some(Side::Table),
            ConflictPolicy::SheetWins => Some(Side::Sheet),
            ConflictPolicy::Flag => None,
        }
    }
}

/// What happens to a row deleted on one side (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeletePolicy {
    /// Delete it on the other side too.
    Propagate,
    /// Leave it on the other side; never re-insert it where it was deleted.
    Ignore,
    /// Leave it on the other side and report a [`HeldDelete`] for approval.
    Hold,
}

/// A pair's merge settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergeSettings {
    pub direction: Direction,
    /// The policy for conflicts of every column without an override, and for
    /// row-level (delete-vs-edit) conflicts.
    pub conflicts: ConflictPolicy,
    /// Per-column overrides, by column name. A name that is not a column of
    /// the merged schema is an error of [`merge`].
    pub column_conflicts: BTreeMap<String, ConflictPolicy>,
    pub deletes: DeletePolicy,
}

impl MergeSettings {
    pub fn new(direction: Direction, conflicts: ConflictPolicy, deletes: DeletePolicy) -> Self {
        MergeSettings { direction, conflicts, column_conflicts: BTreeMap::new(), deletes }
    }

    /// Adds a per-column conflict policy.
    pub fn with_column(mut self, column: &str, policy: ConflictPolicy) -> Self {
        self.column_conflicts.insert(column.to_owned(), policy);
        self
    }

    /// The settings seen from the other side: table and sheet swapped
    /// (`TableWins` ↔ `SheetWins`, `ToSheet` ↔ `ToTable`).
    pub fn mirrored(&self) -> MergeSettings {
        MergeSettings {
            direction: self.direction.mirrored(),
            conflicts: self.conflicts.mirrored(),
            column_conflicts: self.column_conflicts.iter().map(|(c, p)| (c.clone(), p.mirrored())).collect(),
            deletes: self.deletes,
        }
    }
}

/// What [`merge`] decided.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MergePlan {
    /// Changes for the table (updates guarded by the table's values, deletes
    /// by the table's rows).
    pub to_table: ChangeSet,
    /// Changes for the sheet (guarded by the sheet's values and rows).
    pub to_sheet: ChangeSet,
    /// How the base changes once both change sets are applied.
    pub base: BaseChanges,
    /// Every conflict found, settled or open, by key then column.
    pub conflicts: Vec<MergeConflict>,
    /// Deletions not applied, waiting for approval ([`DeletePolicy::Hold`]).
    pub held_deletes: Vec<HeldDelete>,
    /// Deletions left alone on the other side ([`DeletePolicy::Ignore`]).
    pub ignored_deletes: Vec<IgnoredDelete>,
    pub counts: MergeCounts,
}

impl MergePlan {
    /// True when nothing is to be written: no change to either side, none to the base.
    pub fn is_empty(&self) -> bool {
        self.to_table.is_empty() && self.to_sheet.is_empty() && self.base.is_empty()
    }

    /// The change set for `side`.
    pub fn to(&self, side: Side) -> &ChangeSet {
        match side {
            Side::Table => &self.to_table,
            Side::Sheet => &self.to_sheet,
        }
    }

    /// The conflicts still open (left for a person).
    pub fn open_conflicts(&self) -> impl Iterator<Item = &MergeConflict> {
        self.conflicts.iter().filter(|c| c.resolution == Resolution::Open)
    }
}

/// The new base: rows to write (whole rows, schema column order, under their
/// key) and keys to forget. Only rows whose base changes are listed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BaseChanges {
    pub set: Vec<(Key, Vec<Value>)>,
    pub drop: Vec<Key>,
}

impl BaseChanges {
    pub fn is_empty(&self) -> bool {
        self.set.is_empty() && self.drop.is_empty()
    }
}

/// Why two values (or rows) were in conflict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConflictKind {
    /// Both sides changed the cell since the base, to different values.
    BothChanged,
    /// No base for the row (first sync, or the key inserted on both sides)
    /// and the two sides' values differ.
    NoBase,
    /// One side deleted the row, the other edited it since the base (row level).
    DeleteVsEdit,
    /// A one-way pair overwrote an edit made on the side that is not the
    /// source of truth: a cell, a deleted row put back, or a row only that
    /// side had, deleted.
    Overwritten,
}

/// Which side's value (or action) survived a conflict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Resolution {
    TableWon,
    SheetWon,
    /// Nothing was changed; a person settles it.
    Open,
}

impl Resolution {
    fn won(side: Side) -> Resolution {
        match side {
            Side::Table => Resolution::TableWon,
            Side::Sheet => Resolution::SheetWon,
        }
    }

    pub fn mirrored(self) -> Resolution {
        match self {
            Resolution::TableWon => Resolution::SheetWon,
            Resolution::SheetWon => Resolution::TableWon,
            Resolution::Open => Resolution::Open,
        }
    }
}

/// A conflict, settled or open.
#[derive(Debug, Clone, PartialEq)]
pub struct MergeConflict {
    pub key: Key,
    pub kind: ConflictKind,
    pub values: Conflicted,
    pub resolution: Resolution,
}

/// What each side held where a conflict is.
#[derive(Debug, Clone, PartialEq)]
pub enum Conflicted {
    /// One cell: the column's index in the schema; `base` is `None` when the
    /// row has no base.
    Cell { column: usize, base: Option<Value>, table: Value, sheet: Value },
    /// A whole row (a delete against an edit, or a row a one-way pair put
    /// back or deleted): each side's row, `None` where the row is absent.
    Row { base: Option<Vec<Value>>, table: Option<Vec<Value>>, sheet: Option<Vec<Value>> },
}

impl MergeConflict {
    /// The column's index for a cell conflict; `None` for a row-level one.
    pub fn column(&self) -> Option<usize> {
        match self.values {
            Conflicted::Cell { column, .. } => Some(column),
            Conflicted::Row { .. } => None,
        }
    }

    /// The conflict with table and sheet swapped.
    pub fn mirrored(&self) -> MergeConflict {
        let values = match &self.values {
            Conflicted::Cell { column, base, table, sheet } => Conflicted::Cell {
                column: *column,
                base: base.clone(),
                table: sheet.clone(),
                sheet: table.clone(),
            },
            Conflicted::Row { base, table, sheet } => {
                Conflicted::Row { base: base.clone(), table: sheet.clone(), sheet: table.clone() }
            }
        };
        MergeConflict {
            key: self.key.clone(),
            kind: self.kind,
            values,
            resolution: self.resolution.mirrored(),
        }
    }

    /// The conflict as a person reads it, columns named by `schema`:
    /// ``key 7 column `qty` (changed on both sides): base 1, table 2, sheet 3; table won``.
    pub fn describe<'a>(&'a self, schema: &'a TableSchema) -> impl fmt::Display + 'a {
        Described { conflict: self, schema }
    }
}

struct Described<'a> {
    conflict: &'a MergeConflict,
    schema: &'a TableSchema,
}

impl fmt::Display for Described<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = self.conflict;
        write!(f, "key {}", c.key)?;
        let why = match c.kind {
            ConflictKind::BothChanged => "changed on both sides",
            ConflictKind::NoBase => "differs, never synced",
            ConflictKind::DeleteVsEdit => "deleted on one side, edited on the other",
            ConflictKind::Overwritten => "edited on the side that is not the source",
        };
        match &c.values {
            Conflicted::Cell { column, base, table, sheet } => {
                let name = self.schema.columns.get(*column).map_or("?", |c| c.name.as_str());
                write!(f, " column `{name}` ({why}): base ")?;
                match base {
                    Some(b) => write!(f, "{b}")?,
                    None => f.write_str("none")?,
                }
                write!(f, ", table {table}, sheet {sheet}")?;
            }
            Conflicted::Row { table, sheet, .. } => {
                let held = |r: &Option<Vec<Value>>| if r.is_some() { "has the row" } else { "has none" };
                write!(f, " ({why}): table {}, sheet {}", held(table), held(sheet))?;
            }
        }
        match c.resolution {
            Resolution::TableWon => f.write_str("; table won"),
            Resolution::SheetWon => f.write_str("; sheet won"),
            Resolution::Open => f.write_str("; open"),
        }
    }
}

/// A deletion not applied: the row is gone from `deleted_on` and still on
/// the other side, waiting for approval.
#[derive(Debug, Clone, PartialEq)]
pub struct HeldDelete {
    pub deleted_on: Side,
    pub key: Key,
    /// The row as the other side holds it.
    pub row: Vec<Value>,
}

impl HeldDelete {
    /// The guarded delete that approves it, for the side `deleted_on.other()`.
    pub fn delete(&self) -> Delete {
        Delete { key: self.key.clone(), old: Some(self.row.clone()) }
    }
}

/// A deletion left alone: the row is gone from `deleted_on` and kept on the other side.
#[derive(Debug, Clone, PartialEq)]
pub struct IgnoredDelete {
    pub deleted_on: Side,
    pub key: Key,
}

/// What a merge found, for the journal.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct MergeCounts {
    /// Keys in any of the three snapshots.
    pub keys: usize,
    /// Keys whose row is the same in the base, the table and the sheet.
    pub unchanged_rows: usize,
    /// Cells changed on both sides to the same value since the base.
    pub agreed_cells: usize,
    /// Every conflict, settled or open (`conflicts.len()`).
    pub conflicts: usize,
    /// Conflicts left open.
    pub open_conflicts: usize,
    pub held_deletes: usize,
    pub ignored_deletes: usize,
}

/// The order of keys in a plan: value by value, values of different kinds by
/// kind (null, bool, integer, numeric, float, text, ...), numerics as their
/// text, floats by [`f64::total_cmp`] with every NaN equal. Consistent with
/// [`Value`]'s `==`.
pub fn cmp_keys(a: &Key, b: &Key) -> Ordering {
    for (x, y) in a.0.iter().zip(&b.0) {
        match cmp_values(x, y) {
            Ordering::Equal => continue,
            other => return other,
        }
    }
    a.0.len().cmp(&b.0.len())
}

fn cmp_values(a: &Value, b: &Value) -> Ordering {
    use Value::*;
    match (a, b) {
        (Bool(x), Bool(y)) => x.cmp(y),
        (Int(x), Int(y)) => x.cmp(y),
        (Float(x), Float(y)) => {
            let canon = |f: f64| if f.is_nan() { f64::NAN } else { f };
            canon(*x).total_cmp(&canon(*y))
        }
        (Numeric(x), Numeric(y)) | (Text(x), Text(y)) | (Json(x), Json(y)) | (Error(x), Error(y)) => x.cmp(y),
        (Date(x), Date(y)) => x.cmp(y),
        (Time(x), Time(y)) => x.cmp(y),
        (Timestamp(x), Timestamp(y)) => x.cmp(y),
        (TimestampTz(x), TimestampTz(y)) => x.cmp(y),
        _ => a.tag().cmp(&b.tag()),
    }
}

/// Merges `table` and `sheet` against `base` under `settings`: see the
/// module docs for the rules and what the plan promises.
pub fn merge(
    schema: &TableSchema,
    settings: &MergeSettings,
    base: &Snapshot,
    table: &Snapshot,
    sheet: &Snapshot,
) -> Result<MergePlan, Error> {
    merge_rows(schema, settings, base, Rows::Borrowed(table), Rows::Borrowed(sheet))
}

/// [`merge`], consuming the table's and the sheet's rows: a row that goes
/// to the other side whole (an insert) is moved into the plan rather than
/// copied, so a first sync of a large table holds each row twice (the
/// insert and the new base), not three times. The plan is the same.
pub fn merge_owned(
    schema: &TableSchema,
    settings: &MergeSettings,
    base: &Snapshot,
    table: Snapshot,
    sheet: Snapshot,
) -> Result<MergePlan, Error> {
    merge_rows(schema, settings, base, Rows::Owned(table), Rows::Owned(sheet))
}

/// One side's rows, lent or given to the merge.
enum Rows<'a> {
    Borrowed(&'a Snapshot),
    Owned(Snapshot),
}

impl<'a> Rows<'a> {
    fn map(&self) -> &Snapshot {
        match self {
            Rows::Borrowed(m) => m,
            Rows::Owned(m) => m,
        }
    }

    /// The row under `key`: lent, or taken out of an owned snapshot.
    fn take(&mut self, key: &Key) -> Option<Cow<'a, [Value]>> {
        match self {
            Rows::Borrowed(m) => m.get(key).map(|r| Cow::Borrowed(r.as_slice())),
            Rows::Owned(m) => m.remove(key).map(Cow::Owned),
        }
    }
}

fn merge_rows(
    schema: &TableSchema,
    settings: &MergeSettings,
    base: &Snapshot,
    mut table_rows: Rows<'_>,
    mut sheet_rows: Rows<'_>,
) -> Result<MergePlan, Error> {
    let flows = flows(schema, settings)?;
    let keys = schema.key_indices();
    let (table, sheet) = (table_rows.map(), sheet_rows.map());
    check_rows(schema, &keys, [("base", base), ("table", table), ("sheet", sheet)])?;

    // Pass 1: every key once; those equal on all three sides need nothing.
    let mut counts = MergeCounts::default();
    let mut touched: Vec<Key> = Vec::new();
    for (k, t) in table {
        counts.keys += 1;
        match (base.get(k), sheet.get(k)) {
            (Some(b), Some(s)) if t == s && t == b => counts.unchanged_rows += 1,
            _ => touched.push(k.clone()),
        }
    }
    for k in sheet.keys().filter(|k| !table.contains_key(*k)) {
        counts.keys += 1;
        touched.push(k.clone());
    }
    for k in base.keys().filter(|k| !table.contains_key(*k) && !sheet.contains_key(*k)) {
        counts.keys += 1;
        touched.push(k.clone());
    }
    touched.sort_unstable_by(cmp_keys);

    // Pass 2: the keys that need something, in key order.
    let mut m = Merger { settings, flows: &flows, plan: MergePlan::default() };
    for k in &touched {
        let b = base.get(k);
        match (table_rows.take(k), sheet_rows.take(k)) {
            (Some(t), Some(s)) => m.both_present(k, b, &t, &s),
            (Some(t), None) => m.one_side(k, b, Side::Table, t),
            (None, Some(s)) => m.one_side(k, b, Side::Sheet, s),
            (None, None) => m.plan.base.drop.push(k.clone()),
        }
    }
    let mut plan = m.plan;
    counts.agreed_cells = plan.counts.agreed_cells;
    counts.conflicts = plan.conflicts.len();
    counts.open_conflicts = plan.open_conflicts().count();
    counts.held_deletes = plan.held_deletes.len();
    counts.ignored_deletes = plan.ignored_deletes.len();
    plan.counts = counts;
    Ok(plan)
}

/// How one non-key column's cells may move.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flow {
    /// Both ways, conflicts settled by the policy.
    Both(ConflictPolicy),
    /// From this side only; the other side's edits are overwritten.
    From(Side),
    /// Not at all (a read-only column of a `ToTable` pair).
    Never,
}

/// The flow of every non-key column: (schema index, flow).
fn flows(schema: &TableSchema, settings: &MergeSettings) -> Result<Vec<(usize, Flow)>, Error> {
    if !schema.has_key() {
        return Err(Error::new(
            ErrorKind::SchemaMismatch,
            format!("merge `{}`: no key column to match rows by", schema.name),
        ));
    }
    let unknown: Vec<&str> =
        settings.column_conflicts.keys().filter(|n| schema.column(n).is_none()).map(String::as_str).collect();
    if !unknown.is_empty() {
        return Err(Error::new(
            ErrorKind::SchemaMismatch,
            format!(
                "merge `{}`: a conflict policy names {} no synced column has: `{}`",
                schema.name,
                if unknown.len() == 1 { "a column" } else { "columns" },
                unknown.join("`, `")
            ),
        ));
    }
    Ok(schema
        .columns
        .iter()
        .enumerate()
        .filter(|(_, c)| !c.key)
        .map(|(i, c)| {
            let policy = settings.column_conflicts.get(&c.name).copied().unwrap_or(settings.conflicts);
            let flow = match (settings.direction, c.read_only) {
                (Direction::Both, false) => Flow::Both(policy),
                (Direction::Both | Direction::ToSheet, true) | (Direction::ToSheet, false) => {
                    Flow::From(Side::Table)
                }
                (Direction::ToTable, false) => Flow::From(Side::Sheet),
                (Direction::ToTable, true) => Flow::Never,
            };
            (i, flow)
        })
        .collect())
}

/// Every row has the schema's width and sits under the key it holds.
fn check_rows(schema: &TableSchema, keys: &[usize], snapshots: [(&str, &Snapshot); 3]) -> Result<(), Error> {
    const LISTED: usize = 5;
    let width = schema.columns.len();
    let mut problems = Vec::new();
    let mut more = 0usize;
    for (name, snapshot) in snapshots {
        for (k, row) in snapshot {
            let problem = if row.len() != width {
                Some(format!(
                    "{name} row of key {k} has {} values, the schema has {width} columns",
                    row.len()
                ))
            } else if k.0.len() != keys.len() || keys.iter().zip(&k.0).any(|(&i, v)| &row[i] != v) {
                Some(format!("{name} row stored under key {k} holds key {}", schema.key_of(row)))
            } else {
                None
            };
            if let Some(p) = problem {
                if problems.len() < LISTED {
                    problems.push(p);
                } else {
                    more += 1;
                }
            }
        }
    }
    if problems.is_empty() {
        return Ok(());
    }
    let mut message = format!("merge `{}`: rows that do not fit the schema", schema.name);
    for p in &problems {
        message.push_str("\n  ");
        message.push_str(p);
    }
    if more > 0 {
        message.push_str(&format!("\n  and {more} more"));
    }
    Err(Error::new(ErrorKind::InvalidInput, message))
}

struct Merger<'a> {
    settings: &'a MergeSettings,
    flows: &'a [(usize, Flow)],
    plan: MergePlan,
}

impl Merger<'_> {
    fn changes(&mut self, side: Side) -> &mut ChangeSet {
        match side {
            Side::Table => &mut self.plan.to_table,
            Side::Sheet => &mut self.plan.to_sheet,
        }
    }

    fn conflict(&mut self, key: &Key, kind: ConflictKind, values: Conflicted, resolution: Resolution) {
        self.plan.conflicts.push(MergeConflict { key: key.clone(), kind, values, resolution });
    }

    fn set_base(&mut self, key: &Key, row: Vec<Value>) {
        self.plan.base.set.push((key.clone(), row));
    }

    /// The row is on both sides: merge cell by cell.
    fn both_present(&mut self, key: &Key, b: Option<&Vec<Value>>, t: &[Value], s: &[Value]) {
        // The value each cell ends with on both sides (for the base); the
        // key columns keep the table's.
        let mut result: Vec<&Value> = t.iter().collect();
        let mut to_table = Vec::new();
        let mut to_sheet = Vec::new();
        let mut open_without_base = false;
        for &(c, flow) in self.flows {
            let (tv, sv, bv) = (&t[c], &s[c], b.map(|b| &b[c]));
            if flow == Flow::Never {
                // Not synced: the base keeps the table's value.
                continue;
            }
            if tv == sv {
                if bv.is_some_and(|bv| bv != tv) {
                    self.plan.counts.agreed_cells += 1;
                }
                continue;
            }
            let changed = match bv {
                Some(bv) if bv == tv => Some(Side::Sheet),
                Some(bv) if bv == sv => Some(Side::Table),
                _ => None,
            };
            let kind = if b.is_some() { ConflictKind::BothChanged } else { ConflictKind::NoBase };
            // Which side's value both sides end with (None: neither moves), and
            // whether that is reported as a conflict.
            let (winner, report) = match (flow, changed) {
                (Flow::Both(_), Some(side)) => (Some(side), None),
                (Flow::From(src), Some(side)) if side == src => (Some(side), None),
                (Flow::From(src), Some(_)) => (Some(src), Some(ConflictKind::Overwritten)),
                (Flow::From(src), None) => (Some(src), Some(kind)),
                (Flow::Both(policy), None) => (policy.winner(), Some(kind)),
                (Flow::Never, _) => (None, None),
            };
            match winner {
                Some(Side::Table) => {
                    to_sheet.push(CellChange { column: c, old: sv.clone(), new: tv.clone() });
                }
                Some(Side::Sheet) => {
                    to_table.push(CellChange { column: c, old: tv.clone(), new: sv.clone() });
                    result[c] = sv;
                }
                None => match bv {
                    Some(bv) => result[c] = bv,
                    None => open_without_base = true,
                },
            }
            if let Some(kind) = report {
                let values =
                    Conflicted::Cell { column: c, base: bv.cloned(), table: tv.clone(), sheet: sv.clone() };
                let resolution = winner.map_or(Resolution::Open, Resolution::won);
                self.conflict(key, kind, values, resolution);
            }
        }
        if !to_table.is_empty() {
            self.plan.to_table.updates.push(Update { key: key.clone(), cells: to_table });
        }
        if !to_sheet.is_empty() {
            self.plan.to_sheet.updates.push(Update { key: key.clone(), cells: to_sheet });
        }
        let same_as_base = b.is_some_and(|b| b.iter().zip(&result).all(|(x, y)| x == *y));
        if !open_without_base && !same_as_base {
            self.set_base(key, result.into_iter().cloned().collect());
        }
    }

    /// The row is on `present` only: an insert there, or a deletion on the
    /// other side.
    fn one_side(&mut self, key: &Key, b: Option<&Vec<Value>>, present: Side, row: Cow<'_, [Value]>) {
        let absent = present.other();
        let source = self.settings.direction.source();
        let Some(b) = b else {
            if source == Some(absent) {
                // A one-way pair's target has a row its source never had.
                self.deletion_stands(key, None, absent, &row);
            } else {
                let row = row.into_owned();
                self.set_base(key, row.clone());
                self.changes(absent).inserts.push(row);
            }
            return;
        };
        let row: &[Value] = &row;
        let edited = b.as_slice() != row;
        let rows = |b: &Vec<Value>| {
            let (table, sheet) = match present {
                Side::Table => (Some(row.to_vec()), None),
                Side::Sheet => (None, Some(row.to_vec())),
            };
            Conflicted::Row { base: Some(b.clone()), table, sheet }
        };
        if source == Some(present) {
            // Deleted on a one-way pair's target: put back.
            self.conflict(key, ConflictKind::Overwritten, rows(b), Resolution::won(present));
            self.reinsert(key, b, absent, row);
            return;
        }
        if !edited {
            self.deletion_stands(key, Some(b), absent, row);
            return;
        }
        let winner = match source {
            Some(src) => Some(src),
            None => self.settings.conflicts.winner(),
        };
        self.conflict(
            key,
            ConflictKind::DeleteVsEdit,
            rows(b),
            winner.map_or(Resolution::Open, Resolution::won),
        );
        match winner {
            Some(side) if side == present => self.reinsert(key, b, absent, row),
            Some(_) => self.deletion_stands(key, Some(b), absent, row),
            None => {}
        }
    }

    fn reinsert(&mut self, key: &Key, b: &[Value], into: Side, row: &[Value]) {
        self.changes(into).inserts.push(row.to_vec());
        if b != row {
            self.set_base(key, row.to_vec());
        }
    }

    /// The row is gone from `deleted_on` (or was never there, on a one-way
    /// pair's source) and that stands: the delete policy decides.
    fn deletion_stands(&mut self, key: &Key, b: Option<&Vec<Value>>, deleted_on: Side, row: &[Value]) {
        match self.settings.deletes {
            DeletePolicy::Propagate => {
                if b.is_none() {
                    let (table, sheet) = match deleted_on {
                        Side::Table => (None, Some(row.to_vec())),
                        Side::Sheet => (Some(row.to_vec()), None),
                    };
                    let values = Conflicted::Row { base: None, table, sheet };
                    self.conflict(key, ConflictKind::Overwritten, values, Resolution::won(deleted_on));
                } else {
                    self.plan.base.drop.push(key.clone());
                }
                let delete = Delete { key: key.clone(), old: Some(row.to_vec()) };
                self.changes(deleted_on.other()).deletes.push(delete);
            }
            DeletePolicy::Hold => {
                let held = HeldDelete { deleted_on, key: key.clone(), row: row.to_vec() };
                self.plan.held_deletes.push(held);
                self.keep_as_base(key, b, row);
            }
            DeletePolicy::Ignore => {
                self.plan.ignored_deletes.push(IgnoredDelete { deleted_on, key: key.clone() });
                self.keep_as_base(key, b, row);
            }
        }
    }

    /// A held or ignored row: the base takes the surviving row, so the next
    /// run finds the same deletion (and no edit) again.
    fn keep_as_base(&mut self, key: &Key, b: Option<&Vec<Value>>, row: &[Value]) {
        if b.is_none_or(|b| b.as_slice() != row) {
            self.set_base(key, row.to_vec());
        }
    }
}

#[cfg(test)]
mod properties;
#[cfg(test)]
mod tests;
