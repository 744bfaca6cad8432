//! Applying a change set to a keyed tab (two-way sync's sheet side).
//!
//! 1. The tab is read (one `spreadsheets.get`, one `values.batchGet`, and the
//!    `FORMULA` read of text columns when some cell reads `""`), and its rows
//!    are located by key, never by position.
//! 2. Every change is checked against what the tab holds now: an update whose
//!    cell no longer holds `old`, a guarded delete of a row that changed, an
//!    insert whose key exists with other values are [`Conflict`]s. Under
//!    [`OnConflict::Abort`] nothing is written and the error lists them; under
//!    [`OnConflict::Skip`] they are left out and reported. A cell that already
//!    holds `new`, a delete of a row that is gone, an insert of a row that is
//!    there with the same values change nothing: applying twice is applying once.
//! 3. One `spreadsheets.batchUpdate` for structure: the rows to delete, as
//!    `deleteDimension` requests from the highest row down (so each index is
//!    still right when its turn comes, and no blank row is left behind: a
//!    clear is not a delete), and the grid grown for the inserted rows.
//! 4. One `values.batchUpdate` (`RAW`) for every changed cell and every
//!    inserted row (at their places after the deletes; inserted rows follow
//!    the last row holding data), and, when some new value is the empty
//!    string, one more (`USER_ENTERED`) writing `=""` into those cells.
//!
//! Google has no conditional write: a person editing a checked cell between
//! step 1 and step 4 is overwritten. A failure between step 3 and step 4
//! leaves the deletes done and the values not written; the next run reads the
//! tab again and completes it.

use std::collections::{HashMap, HashSet};

use sheetbridge_core::convert::keeps_empty_text;
use sheetbridge_core::{
    ApplyOptions, ApplyReport, ChangeSet, Column, Conflict, Error, ErrorKind, Key, OnConflict, TableSchema,
    Target, Value,
};

use crate::a1;
use crate::client::SheetsClient;
use crate::convert::{cell_to_value, value_to_cell, Out};
use crate::limits;
use crate::sheet_ref::SheetRef;
use crate::source::{is_blank, SheetLayout, TabSource};
use crate::target::{batch_update, empty_text_bodies, pack, values_update, write_cell};
use crate::wire::{self, Request, WireCell};

/// A tab that change sets are applied to, its rows matched by key.
#[derive(Debug, Clone)]
pub struct TabTarget {
    client: SheetsClient,
    sheet: SheetRef,
}

impl SheetsClient {
    /// The tab `sheet` as a [`Target`] for keyed change sets.
    pub fn tab_target(&self, sheet: &SheetRef) -> TabTarget {
        TabTarget { client: self.clone(), sheet: sheet.clone() }
    }
}

/// The tab as read for an apply.
struct Current<'a> {
    tab: &'a TabSource,
    layout: SheetLayout,
    /// Schema index → zero-based tab column.
    column_of: HashMap<usize, u32>,
    empty_texts: HashSet<(u32, u32)>,
    /// Key → zero-based sheet row.
    rows: HashMap<Key, u32>,
    duplicates: HashMap<Key, Vec<u32>>,
}

impl Current<'_> {
    fn value(&self, row: u32, schema_col: usize, col: &Column) -> Value {
        let Some(&c) = self.column_of.get(&schema_col) else { return Value::Null };
        let empty = WireCell::Empty;
        let cell = self.tab.grid.get(row as usize).and_then(|r| r.get(c as usize)).unwrap_or(&empty);
        if matches!(cell, WireCell::Text(s) if s.is_empty()) && keeps_empty_text(&col.ty) {
            return if self.empty_texts.contains(&(row, c)) {
                Value::Text(String::new())
            } else {
                Value::Null
            };
        }
        // A cell that does not convert is shown as it is, so it never equals a value read before.
        cell_to_value(&col.ty, cell, &self.tab.zone)
            .unwrap_or_else(|_| Value::Error(crate::convert::shown(cell)))
    }
}

impl TabTarget {
    /// Reads the tab as it is now and indexes its rows by key (rows whose key
    /// is empty, typed by a person, are left out: they match nothing).
    async fn current<'t>(
        &self,
        tab: &'t TabSource,
        schema: &TableSchema,
        at: &str,
    ) -> Result<Current<'t>, Error> {
        let layout = tab.layout(schema)?;
        let keys = schema.key_indices();
        if keys.is_empty() {
            return Err(Error::new(
                ErrorKind::SchemaMismatch,
                format!("apply to {at}: table `{}` has no key to match rows by", schema.name),
            ));
        }
        let column_of: HashMap<usize, u32> =
            layout.columns.iter().copied().zip(layout.sheet_columns.iter().copied()).collect();
        if let Some(&k) = keys.iter().find(|k| !column_of.contains_key(k)) {
            return Err(Error::new(
                ErrorKind::SchemaMismatch,
                format!(
                    "apply to {at}: the header has no key column `{}`; rows cannot be matched without it",
                    schema.columns[k].name
                ),
            ));
        }
        let cols: Vec<&Column> = layout.columns.iter().map(|&i| &schema.columns[i]).collect();
        let first_data = layout.header_row as usize;
        let empty_texts = tab.empty_texts(&layout, &cols, first_data).await?;
        let mut current =
            Current { tab, layout, column_of, empty_texts, rows: HashMap::new(), duplicates: HashMap::new() };
        for r in first_data..tab.grid.len() {
            let row = &tab.grid[r];
            if current.layout.sheet_columns.iter().all(|&c| row.get(c as usize).is_none_or(is_blank)) {
                continue;
            }
            let key = Key(keys.iter().map(|&k| current.value(r as u32, k, &schema.columns[k])).collect());
            if key.is_incomplete() {
                continue;
            }
            if let Some(&first) = current.rows.get(&key) {
                current.duplicates.entry(key).or_insert_with(|| vec![first]).push(r as u32);
            } else {
                current.rows.insert(key, r as u32);
            }
        }
        Ok(current)
    }

    /// Writes keys the table made into rows a person added with an empty key:
    /// `(sheet row number, the row's values as read, the key)`. A row that no
    /// longer holds what was read (moved, edited, given a key meanwhile) is
    /// left alone. Returns the sheet row numbers written.
    pub async fn assign_keys(
        &mut self,
        schema: &TableSchema,
        rows: &[(u32, Vec<Value>, Key)],
    ) -> Result<Vec<u32>, Error> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let tab = self.client.open_tab(&self.sheet).await?;
        let at = format!("`{}`", tab.location());
        let current = self.current(&tab, schema, &at).await?;
        let keys = schema.key_indices();
        let mut plan = Plan::default();
        let mut written = Vec::new();
        for (number, read, key) in rows {
            let Some(r) = number.checked_sub(1) else { continue };
            let unchanged = schema.columns.iter().enumerate().all(|(i, col)| {
                !current.column_of.contains_key(&i)
                    || read.get(i).is_some_and(|v| *v == current.value(r, i, col))
            });
            if !unchanged {
                continue;
            }
            for (&k, v) in keys.iter().zip(&key.0) {
                plan.cells.push((r, k, v.clone()));
            }
            plan.updated_rows += 1;
            written.push(*number);
        }
        if !plan.cells.is_empty() {
            write(&self.client, &tab, &current, schema, plan).await?;
        }
        Ok(written)
    }
}

impl Target for TabTarget {
    async fn apply(
        &mut self,
        schema: &TableSchema,
        changes: &ChangeSet,
        options: &ApplyOptions,
    ) -> Result<ApplyReport, Error> {
        let tab = self.client.open_tab(&self.sheet).await?;
        let at = format!("`{}`", tab.location());
        let current = self.current(&tab, schema, &at).await?;
        let plan = plan(schema, changes, &current, &at)?;
        if !plan.conflicts.is_empty() && options.on_conflict == OnConflict::Abort {
            return Err(Error::conflicts(&format!("apply to {at}"), &plan.conflicts));
        }
        let report = ApplyReport {
            inserted: plan.inserts.len() as u64,
            updated_rows: plan.updated_rows,
            updated_cells: plan.cells.len() as u64,
            deleted: plan.deletes.len() as u64,
            generated_keys: Vec::new(),
            conflicts: plan.conflicts.clone(),
        };
        if options.dry_run || (plan.cells.is_empty() && plan.inserts.is_empty() && plan.deletes.is_empty()) {
            return Ok(report);
        }
        write(&self.client, &tab, &current, schema, plan).await?;
        tracing::info!(
            tab = tab.location().as_str(),
            inserted = report.inserted,
            updated_cells = report.updated_cells,
            deleted = report.deleted,
            conflicts = report.conflicts.len(),
            "change set applied to the tab"
        );
        Ok(report)
    }
}

/// What an apply writes, in the tab's rows as they are before the deletes.
#[derive(Default)]
struct Plan {
    /// `(row, schema column, new value)`.
    cells: Vec<(u32, usize, Value)>,
    updated_rows: u64,
    inserts: Vec<Vec<Value>>,
    /// Zero-based sheet rows, highest first.
    deletes: Vec<u32>,
    conflicts: Vec<Conflict>,
}

fn plan(schema: &TableSchema, changes: &ChangeSet, current: &Current<'_>, at: &str) -> Result<Plan, Error> {
    let find = |key: &Key| -> Result<Option<u32>, Error> {
        if let Some(rows) = current.duplicates.get(key) {
            let list: Vec<String> = rows.iter().map(|r| (r + 1).to_string()).collect();
            return Err(Error::new(
                ErrorKind::SchemaMismatch,
                format!("apply to {at}: key {key} is in rows {} of the tab; make it unique", list.join(", ")),
            ));
        }
        Ok(current.rows.get(key).copied())
    };
    let mut plan = Plan::default();
    let missing_column = |i: usize| {
        Error::new(
            ErrorKind::SchemaMismatch,
            format!("apply to {at}: the tab has no column `{}` to write", schema.columns[i].name),
        )
    };
    let mut deleted: HashSet<u32> = HashSet::new();
    for d in &changes.deletes {
        let Some(row) = find(&d.key)? else { continue };
        if let Some(old) = &d.old {
            let moved = schema.columns.iter().enumerate().find_map(|(i, col)| {
                let expected = old.get(i)?;
                if !current.column_of.contains_key(&i) {
                    return None;
                }
                let found = current.value(row, i, col);
                (&found != expected).then(|| (col.name.clone(), expected.clone(), found))
            });
            if let Some((column, expected, found)) = moved {
                plan.conflicts.push(Conflict { key: d.key.clone(), column: Some(column), expected, found });
                continue;
            }
        }
        if deleted.insert(row) {
            plan.deletes.push(row);
        }
    }
    for u in &changes.updates {
        let Some(row) = find(&u.key)? else {
            if let Some(c) = u.cells.first() {
                plan.conflicts.push(Conflict {
                    key: u.key.clone(),
                    column: None,
                    expected: c.old.clone(),
                    found: Value::Null,
                });
            }
            continue;
        };
        if deleted.contains(&row) {
            continue;
        }
        let mut mine = Vec::new();
        let mut conflicted = false;
        for c in &u.cells {
            let col = schema.columns.get(c.column).ok_or_else(|| {
                Error::new(
                    ErrorKind::InvalidInput,
                    format!("apply to {at}: a change names column {} of {}", c.column, schema.columns.len()),
                )
            })?;
            if !current.column_of.contains_key(&c.column) {
                return Err(missing_column(c.column));
            }
            let found = current.value(row, c.column, col);
            if found == c.new {
                continue;
            }
            if found != c.old {
                conflicted = true;
                plan.conflicts.push(Conflict {
                    key: u.key.clone(),
                    column: Some(col.name.clone()),
                    expected: c.old.clone(),
                    found,
                });
                continue;
            }
            mine.push((row, c.column, c.new.clone()));
        }
        // A row is updated whole or not at all: its other cells may depend on the one that moved.
        if conflicted {
            continue;
        }
        if !mine.is_empty() {
            plan.updated_rows += 1;
            plan.cells.extend(mine);
        }
    }
    let mut inserted: HashSet<Key> = HashSet::new();
    for row in &changes.inserts {
        if row.len() != schema.columns.len() {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                format!(
                    "apply to {at}: an insert has {} values for {} columns",
                    row.len(),
                    schema.columns.len()
                ),
            ));
        }
        let key = schema.key_of(row);
        if key.is_incomplete() {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                format!(
                    "apply to {at}: an inserted row has an empty key ({key}); a sheet cannot make one up"
                ),
            ));
        }
        if let Some((i, _)) =
            row.iter().enumerate().find(|(i, v)| !v.is_null() && !current.column_of.contains_key(i))
        {
            return Err(missing_column(i));
        }
        match find(&key)? {
            Some(existing) if !deleted.contains(&existing) => {
                let differs = schema.columns.iter().enumerate().find_map(|(i, col)| {
                    current.column_of.get(&i)?;
                    let found = current.value(existing, i, col);
                    (found != row[i]).then(|| (col.name.clone(), row[i].clone(), found))
                });
                if let Some((column, expected, found)) = differs {
                    plan.conflicts.push(Conflict { key, column: Some(column), expected, found });
                }
            }
            _ => {
                if inserted.insert(key) {
                    plan.inserts.push(row.clone());
                }
            }
        }
    }
    plan.deletes.sort_unstable_by(|a, b| b.cmp(a));
    check_limits(schema, &plan, current, at)?;
    Ok(plan)
}

/// Google's limits for what the plan writes: characters a cell, cells a
/// spreadsheet. Checked before anything is sent; nothing is truncated.
fn check_limits(schema: &TableSchema, plan: &Plan, current: &Current<'_>, at: &str) -> Result<(), Error> {
    // The key is looked up only for the message: finding it is a scan of the tab's rows.
    let too_long = |i: usize, v: &Value, key: &dyn Fn() -> Key| -> Result<(), Error> {
        let text = match v {
            Value::Text(s) | Value::Json(s) | Value::Numeric(s) | Value::Error(s) => s.as_str(),
            _ => return Ok(()),
        };
        match limits::too_long_for_cell(text) {
            None => Ok(()),
            Some(n) => Err(Error::new(
                ErrorKind::LimitExceeded,
                format!(
                    "apply to {at}: the value of column `{}` for key {} has {n} characters, more than the {} \
                     a Google Sheets cell holds; nothing was written",
                    schema.columns[i].name,
                    key(),
                    limits::MAX_CELL_CHARS
                ),
            )),
        }
    };
    for (row, i, v) in &plan.cells {
        let key = || current.rows.iter().find(|(_, r)| *r == row).map_or(Key(Vec::new()), |(k, _)| k.clone());
        too_long(*i, v, &key)?;
    }
    for row in &plan.inserts {
        let key = || schema.key_of(row);
        for (i, v) in row.iter().enumerate() {
            too_long(i, v, &key)?;
        }
    }
    let info = current.tab.spreadsheet();
    let tab = current.tab.tab();
    let others: u64 = info
        .tabs
        .iter()
        .filter(|t| t.sheet_id != tab.sheet_id)
        .map(|t| u64::from(t.rows) * u64::from(t.columns))
        .sum();
    let rows =
        (current.tab.grid.len() - plan.deletes.len() + plan.inserts.len()).max(tab.rows as usize) as u64;
    limits::check_cells(&format!("apply to {at}"), rows, u64::from(tab.columns), others)
}

async fn write(
    client: &SheetsClient,
    tab: &TabSource,
    current: &Current<'_>,
    schema: &TableSchema,
    plan: Plan,
) -> Result<(), Error> {
    let info = tab.tab();
    let spreadsheet = tab.spreadsheet().spreadsheet_id.clone();
    let title = info.title.clone();
    let zone = &tab.zone;
    let max_payload = client.options().max_payload_bytes.max(4096);
    // Where a row of today's tab is once the deletes are done.
    let ascending: Vec<u32> = plan.deletes.iter().rev().copied().collect();
    let shifted = |row: u32| row - ascending.partition_point(|&d| d < row) as u32;
    let last_used = tab.grid.len() as u32; // rows holding anything, the header included
    let first_insert = last_used - plan.deletes.len() as u32;
    let needed_rows = first_insert + plan.inserts.len() as u32;
    let rows_after_deletes = info.rows.saturating_sub(plan.deletes.len() as u32);

    let mut requests: Vec<Request> = plan
        .deletes
        .iter()
        .map(|&r| {
            Request::DeleteDimension(wire::DeleteDimension {
                range: wire::DimensionRange {
                    sheet_id: info.sheet_id,
                    dimension: "ROWS",
                    start_index: r,
                    end_index: r + 1,
                },
            })
        })
        .collect();
    if needed_rows > rows_after_deletes {
        requests.push(Request::UpdateSheetProperties(wire::UpdateSheetProperties {
            properties: wire::SheetProperties {
                sheet_id: Some(info.sheet_id),
                grid_properties: Some(wire::GridProperties {
                    row_count: Some(needed_rows),
                    ..Default::default()
                }),
                ..Default::default()
            },
            fields: "gridProperties.rowCount".into(),
        }));
    }
    if !requests.is_empty() {
        batch_update(client, &spreadsheet, requests, "change of the tab's rows").await?;
    }

    // Value items: one per changed cell, one per run of inserted rows.
    let mut items: Vec<Vec<u8>> = Vec::new();
    let mut empty_cells: Vec<(u32, u32)> = Vec::new();
    for (row, i, v) in &plan.cells {
        let c = current.column_of[i];
        let r = shifted(*row);
        let out = value_to_cell(&schema.columns[*i].ty, v, zone);
        if out == Out::EmptyText {
            empty_cells.push((r, c));
        }
        let mut item = Vec::new();
        item.extend_from_slice(b"{\"range\":");
        let _ = serde_json::to_writer(&mut item, &a1::cell_in(&title, r, c));
        item.extend_from_slice(b",\"values\":[[");
        write_value(&mut item, &out, false);
        item.extend_from_slice(b"]]}");
        items.push(item);
    }
    let width = current.layout.sheet_columns.iter().copied().max().map_or(0, |m| m + 1);
    let mut slot_of_sheet_col: Vec<Option<usize>> = vec![None; width as usize];
    for (&i, &c) in &current.column_of {
        slot_of_sheet_col[c as usize] = Some(i);
    }
    let mut block: Vec<u8> = Vec::new();
    let mut block_start = first_insert;
    let mut block_rows = 0u32;
    let close = |block: &mut Vec<u8>, start: u32, rows: u32, items: &mut Vec<Vec<u8>>| {
        if rows == 0 {
            return;
        }
        let mut item = Vec::with_capacity(block.len() + 64);
        item.extend_from_slice(b"{\"range\":");
        let _ = serde_json::to_writer(&mut item, &a1::range(&title, start, 0, start + rows - 1, width - 1));
        item.extend_from_slice(b",\"values\":[");
        item.append(block);
        item.extend_from_slice(b"]}");
        items.push(item);
    };
    for (n, row) in plan.inserts.iter().enumerate() {
        let r = first_insert + n as u32;
        if block_rows > 0 {
            block.push(b',');
        }
        block.push(b'[');
        for (c, slot) in slot_of_sheet_col.iter().enumerate() {
            if c > 0 {
                block.push(b',');
            }
            match slot {
                // Not a column of the table: left as it is.
                None => block.extend_from_slice(b"null"),
                Some(i) => {
                    let out = value_to_cell(&schema.columns[*i].ty, &row[*i], zone);
                    if out == Out::EmptyText {
                        empty_cells.push((r, c as u32));
                    }
                    write_value(&mut block, &out, true);
                }
            }
        }
        block.push(b']');
        block_rows += 1;
        if block.len() > max_payload / 2 {
            close(&mut block, block_start, block_rows, &mut items);
            block_start = r + 1;
            block_rows = 0;
        }
    }
    close(&mut block, block_start, block_rows, &mut items);
    for body in pack(items, br#"{"valueInputOption":"RAW","data":["#, max_payload) {
        values_update(client, &spreadsheet, body, "write of the changed cells").await?;
    }
    for body in empty_text_bodies(&title, &empty_cells, max_payload) {
        values_update(client, &spreadsheet, body, "write of the empty strings").await?;
    }
    Ok(())
}

/// A value as JSON for a RAW write: as an export writes it, but NULL in a
/// new row is skipped (`null`) instead of clearing the cell (`""`).
fn write_value(buf: &mut Vec<u8>, out: &Out<'_>, new_row: bool) {
    if new_row && matches!(out, Out::Blank) {
        buf.extend_from_slice(b"null");
    } else {
        write_cell(buf, out);
    }
}
