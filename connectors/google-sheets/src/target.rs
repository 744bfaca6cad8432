//! Writing to a tab: an export (a table to a new or replaced tab) and the
//! keyed apply of a change set.
//!
//! # Export
//!
//! [`SheetsClient::export`] checks the target (one `spreadsheets.get` when
//! the spreadsheet exists) and returns a [`TabWriter`], a [`RowSink`]. Rows
//! are serialized as they come, straight into request bodies of at most
//! [`crate::ClientOptions::max_payload_bytes`] (Google recommends 2 MB);
//! [`TabWriter::finish`] then sends, in order:
//!
//! 1. `spreadsheets.create` when [`ExportOptions::create`];
//! 2. one `spreadsheets.batchUpdate` preparing the tab: added (or, when it
//!    exists and [`ExportOptions::replace`], its values, formats and
//!    validations cleared and sheetbridge's old protections removed), the
//!    grid sized to the columns and the rows plus room for new ones (at least
//!    1,000 rows, as a new tab has, and 200 below the data), the header row frozen and
//!    bold, number formats for date, time and numeric columns, strict
//!    dropdowns for enum and boolean columns, key and read-only columns
//!    protected with a warning;
//! 3. the values, `RAW`, in as few `values.batchUpdate` calls as the payload
//!    limit allows (100,000 rows of 10 columns take about seven);
//! 4. when some text is the empty string, one more `values.batchUpdate`
//!    (`USER_ENTERED`) writing `=""` into those cells (see the crate docs).
//!
//! Limits (columns, characters per cell, cells per spreadsheet) are checked
//! before the first write; a value is never truncated.
//!
//! The serialized rows wait in memory until `finish` (about 1.2 bytes of JSON
//! per byte of value text, 14 MB for 100,000 rows of 10 columns): the grid
//! must be sized, in the one structural request, before the first value is
//! written, and the number of rows is known only at the end. Google's limit
//! of 10 million cells bounds it.

use std::fmt::Write as _;

use bytes::Bytes;
use reqwest::Method;
use sheetbridge_core::{ColumnType, Error, ErrorKind, RowSink, TableSchema, Value};

use crate::a1;
use crate::client::{Call, SheetsClient};
use crate::convert::{has_subsecond, number_format, value_to_cell, Out, Zone, EMPTY_TEXT_FORMULA};
use crate::limits;
use crate::meta::{SpreadsheetInfo, TabInfo};
use crate::quota::Class;
use crate::sheet_ref::{SheetRef, Tab};
use crate::wire::{self, Request};

/// How sheetbridge marks the protected ranges it adds (a replace removes them).
pub(crate) const PROTECTION_PREFIX: &str = "sheetbridge:";

/// Where and how an export writes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExportOptions {
    /// Make a new spreadsheet (the target is then `None`).
    pub create: bool,
    /// The new spreadsheet's title; the table's name when `None`.
    pub title: Option<String>,
    /// The tab to write; the target's tab name, else the table's name.
    pub tab: Option<String>,
    /// Overwrite the tab when it exists (its values, formats, validations and
    /// sheetbridge's protections are replaced; its gid, and so links to it,
    /// stay). Without it an existing tab is an error and nothing is written.
    pub replace: bool,
    /// The new spreadsheet's time zone (an IANA name); `Etc/UTC` when `None`.
    /// An existing spreadsheet keeps its own.
    pub time_zone: Option<String>,
}

/// What an export did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportReport {
    pub spreadsheet_id: String,
    pub tab: String,
    /// The tab's browser link.
    pub url: String,
    /// Data rows written (the header not counted).
    pub rows: u64,
    pub columns: usize,
    /// Sheets API requests the export made (retries not counted).
    pub requests: u64,
}

/// Where the tab goes.
#[derive(Debug)]
enum Destination {
    /// A new spreadsheet titled so.
    Create { title: String },
    /// An existing spreadsheet; the tab exists when `tab` is `Some`.
    Existing { info: SpreadsheetInfo, tab: Option<TabInfo> },
}

/// Rows on their way to a tab; see the module docs. Nothing is written
/// before [`TabWriter::finish`].
#[derive(Debug)]
pub struct TabWriter {
    client: SheetsClient,
    schema: TableSchema,
    destination: Destination,
    tab_name: String,
    zone: Zone,
    time_zone: String,
    /// The other tabs' cells, for the spreadsheet's cell limit.
    other_cells: u64,
    max_payload: usize,
    /// Finished `values.batchUpdate` bodies.
    chunks: Vec<Bytes>,
    /// The body being filled: rows from `chunk_first_row` (zero-based).
    chunk: Vec<u8>,
    chunk_first_row: u32,
    chunk_rows: u32,
    /// Zero-based sheet row of the next row.
    next_row: u32,
    /// Cells holding the empty string, `(row, col)`.
    empty_texts: Vec<(u32, u32)>,
    subsecond: Vec<bool>,
    requests: u64,
}

/// Empty rows an export leaves below the data.
const SPARE_ROWS: u64 = 200;
/// The fewest rows an exported tab has (a new tab in the browser has 1,000).
const MIN_GRID_ROWS: u64 = 1000;

const VALUES_PREFIX: &[u8] = br#"{"valueInputOption":"RAW","data":[{"majorDimension":"ROWS","values":["#;

impl SheetsClient {
    /// Starts an export of `schema`'s rows to `target`'s tab (or, with
    /// [`ExportOptions::create`], to a new spreadsheet). Checks what can be
    /// checked before any row: the spreadsheet and tab, the column limit,
    /// the tab name. Writes nothing.
    pub async fn export(
        &self,
        target: Option<&SheetRef>,
        schema: &TableSchema,
        options: &ExportOptions,
    ) -> Result<TabWriter, Error> {
        let table = format!("table `{}`", schema.name);
        if schema.columns.is_empty() {
            return Err(Error::new(ErrorKind::InvalidInput, format!("{table} has no columns to export")));
        }
        limits::check_columns(&table, schema.columns.len())?;
        let target_tab = match target.map(|t| &t.tab) {
            Some(Tab::Name(n)) => Some(n.clone()),
            _ => None,
        };
        let mut tab_name = options.tab.clone().or(target_tab).unwrap_or_else(|| schema.name.name.clone());
        let (destination, zone_name) = match (options.create, target) {
            (true, Some(t)) => {
                return Err(Error::new(
                    ErrorKind::InvalidInput,
                    format!("an export that creates a spreadsheet takes no target, but {t} was given"),
                ))
            }
            (false, None) => {
                return Err(Error::new(
                    ErrorKind::InvalidInput,
                    "an export needs a target spreadsheet, or `create` to make one",
                ))
            }
            (true, None) => {
                let title = options.title.clone().unwrap_or_else(|| schema.name.to_string());
                let zone = options.time_zone.clone().unwrap_or_else(|| "Etc/UTC".to_owned());
                (Destination::Create { title }, zone)
            }
            (false, Some(t)) => {
                let info = self.spreadsheet(&t.spreadsheet_id).await?;
                let existing = match (&t.tab, options.tab.as_ref()) {
                    (_, Some(name)) | (Tab::Name(name), None) => info.tab_named(name).cloned(),
                    (Tab::Gid(_), None) => Some(info.tab(&t.tab)?.clone()),
                    (Tab::First, None) => info.tab_named(&tab_name).cloned(),
                };
                if let Some(tab) = &existing {
                    if !options.replace {
                        return Err(Error::new(
                            ErrorKind::InvalidInput,
                            format!(
                                "tab `{}` already exists in spreadsheet `{}`; export with replace to overwrite it",
                                tab.title, info.spreadsheet_id
                            ),
                        ));
                    }
                    tab_name = tab.title.clone();
                }
                let zone = info.time_zone.clone();
                (Destination::Existing { info, tab: existing }, zone)
            }
        };
        limits::check_tab_name(&tab_name)?;
        let other_cells = match &destination {
            Destination::Existing { info, tab } => info
                .tabs
                .iter()
                .filter(|t| tab.as_ref().is_none_or(|mine| mine.sheet_id != t.sheet_id))
                .map(|t| u64::from(t.rows) * u64::from(t.columns))
                .sum(),
            Destination::Create { .. } => 0,
        };
        let zone = Zone::named(&zone_name);
        let requests = u64::from(matches!(destination, Destination::Existing { .. }));
        let mut w = TabWriter {
            client: self.clone(),
            destination,
            tab_name,
            zone,
            time_zone: zone_name,
            other_cells,
            max_payload: self.options().max_payload_bytes.max(4096),
            chunks: Vec::new(),
            chunk: Vec::new(),
            chunk_first_row: 0,
            chunk_rows: 0,
            next_row: 0,
            empty_texts: Vec::new(),
            subsecond: vec![false; schema.columns.len()],
            schema: schema.clone(),
            requests,
        };
        w.header()?;
        Ok(w)
    }
}

impl RowSink for TabWriter {
    fn row(&mut self, row: &[Value]) -> Result<(), Error> {
        if row.len() != self.schema.columns.len() {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                format!(
                    "a row of {} values was given for the {} columns of table `{}`",
                    row.len(),
                    self.schema.columns.len(),
                    self.schema.name
                ),
            ));
        }
        let r = self.next_row;
        let mut line = Vec::with_capacity(16 * row.len());
        line.push(b'[');
        for (c, v) in row.iter().enumerate() {
            if c > 0 {
                line.push(b',');
            }
            let ty = &self.schema.columns[c].ty;
            let out = value_to_cell(ty, v, &self.zone);
            if let Out::Text(s) = &out {
                self.check_length(s, r, c)?;
            } else if let Out::Owned(s) = &out {
                self.check_length(s, r, c)?;
            }
            if has_subsecond(v) {
                self.subsecond[c] = true;
            }
            if out == Out::EmptyText {
                self.empty_texts.push((r, c as u32));
            }
            write_cell(&mut line, &out);
        }
        line.push(b']');
        self.push_line(line)?;
        let rows = u64::from(self.next_row);
        if rows.saturating_mul(self.schema.columns.len() as u64).saturating_add(self.other_cells)
            > limits::MAX_CELLS
        {
            limits::check_cells(&self.what(), rows, self.schema.columns.len() as u64, self.other_cells)?;
        }
        Ok(())
    }
}

/// One cell as JSON: numbers and booleans native, text escaped, NULL as `""`
/// (which clears the cell: an export is a full rewrite).
pub(crate) fn write_cell(buf: &mut Vec<u8>, out: &Out<'_>) {
    // Writing to a Vec cannot fail; serde_json only fails on non-finite
    // floats, which value_to_cell never gives as numbers.
    let _ = match out {
        Out::Blank | Out::EmptyText => {
            buf.extend_from_slice(b"\"\"");
            Ok(())
        }
        Out::Number(f) => serde_json::to_writer(&mut *buf, f),
        Out::Bool(b) => {
            buf.extend_from_slice(if *b { b"true" } else { b"false" });
            Ok(())
        }
        Out::Text(s) => serde_json::to_writer(&mut *buf, s),
        Out::Owned(s) => serde_json::to_writer(&mut *buf, s),
    };
}

impl TabWriter {
    fn what(&self) -> String {
        format!("export of table `{}` to tab `{}`", self.schema.name, self.tab_name)
    }

    fn check_length(&self, s: &str, row: u32, col: usize) -> Result<(), Error> {
        if let Some(n) = limits::too_long_for_cell(s) {
            return Err(Error::new(
                ErrorKind::LimitExceeded,
                format!(
                    "{}: the value of column `{}` in data row {} (cell {}) has {n} characters, more than the {} \
                     a Google Sheets cell holds; nothing was written",
                    self.what(),
                    self.schema.columns[col].name,
                    row,
                    a1::cell(row, col as u32),
                    limits::MAX_CELL_CHARS
                ),
            ));
        }
        Ok(())
    }

    fn header(&mut self) -> Result<(), Error> {
        let mut line = Vec::new();
        line.push(b'[');
        for (c, col) in self.schema.columns.iter().enumerate() {
            if c > 0 {
                line.push(b',');
            }
            let _ = serde_json::to_writer(&mut line, &col.name);
        }
        line.push(b']');
        self.push_line(line)
    }

    /// Appends one serialized row to the current body, closing it first
    /// when the row would take it past the payload limit.
    fn push_line(&mut self, line: Vec<u8>) -> Result<(), Error> {
        let closing = 160 + self.tab_name.len() * 2;
        if self.chunk_rows > 0 && self.chunk.len() + 1 + line.len() + closing > self.max_payload {
            self.close_chunk();
        }
        if self.chunk_rows == 0 {
            self.chunk.clear();
            self.chunk.extend_from_slice(VALUES_PREFIX);
            self.chunk_first_row = self.next_row;
        } else {
            self.chunk.push(b',');
        }
        self.chunk.extend_from_slice(&line);
        self.chunk_rows += 1;
        self.next_row += 1;
        Ok(())
    }

    fn close_chunk(&mut self) {
        if self.chunk_rows == 0 {
            return;
        }
        let last_col = self.schema.columns.len() as u32 - 1;
        let range = a1::range(
            &self.tab_name,
            self.chunk_first_row,
            0,
            self.chunk_first_row + self.chunk_rows - 1,
            last_col,
        );
        let mut body = std::mem::take(&mut self.chunk);
        body.extend_from_slice(b"],\"range\":");
        let _ = serde_json::to_writer(&mut body, &range);
        body.extend_from_slice(b"}]}");
        self.chunks.push(Bytes::from(body));
        self.chunk_rows = 0;
    }

    /// Writes everything: see the module docs for the requests, in order.
    /// Returns once Google acknowledged every one; an error means the tab
    /// may hold part of the export (a re-run replaces it).
    pub async fn finish(mut self) -> Result<ExportReport, Error> {
        self.close_chunk();
        let rows = u64::from(self.next_row.saturating_sub(1));
        let columns = self.schema.columns.len();
        let needed = (rows + 1).max(2);
        limits::check_cells(&self.what(), needed, columns as u64, self.other_cells)?;
        // Room below the data, as a new tab in the browser has, so people can type new
        // rows (with the formats and dropdowns) without adding rows first; dropped when
        // it would cross the spreadsheet's cell limit.
        let roomy = (needed + SPARE_ROWS).max(MIN_GRID_ROWS);
        let grid_rows = match limits::check_cells(&self.what(), roomy, columns as u64, self.other_cells) {
            Ok(()) => roomy,
            Err(_) => needed,
        };
        let grid_rows = u32::try_from(grid_rows).unwrap_or(u32::MAX);

        let (spreadsheet_id, sheet_id, requests) = match &self.destination {
            Destination::Create { title } => {
                let (id, sheet_id) = self.create(title.clone(), grid_rows).await?;
                (id, sheet_id, self.prepare_requests(sheet_id, grid_rows, None))
            }
            Destination::Existing { info, tab } => {
                let sheet_id = match tab {
                    Some(t) => t.sheet_id,
                    None => info.tabs.iter().map(|t| t.sheet_id).max().map_or(1, |m| m.max(0) + 1),
                };
                let mut requests = Vec::new();
                match tab {
                    None => requests.push(Request::AddSheet(wire::AddSheet {
                        properties: self.sheet_properties(
                            Some(sheet_id),
                            grid_rows,
                            Some(info.tabs.len() as u32),
                        ),
                    })),
                    Some(t) => {
                        requests.push(Request::UpdateCells(wire::UpdateCells {
                            range: wire::GridRange { sheet_id, ..Default::default() },
                            fields: "userEnteredValue,userEnteredFormat,dataValidation".into(),
                        }));
                        for &id in &t.own_protections {
                            requests.push(Request::DeleteProtectedRange(wire::DeleteProtectedRange {
                                protected_range_id: id,
                            }));
                        }
                        requests.push(Request::UpdateSheetProperties(wire::UpdateSheetProperties {
                            properties: self.sheet_properties(Some(sheet_id), grid_rows, None),
                            fields: "gridProperties.rowCount,gridProperties.columnCount,gridProperties.frozenRowCount"
                                .into(),
                        }));
                    }
                }
                let more = self.prepare_requests(sheet_id, grid_rows, Some(()));
                requests.extend(more);
                (info.spreadsheet_id.clone(), sheet_id, requests)
            }
        };
        self.batch_update(&spreadsheet_id, requests, "preparation of the tab").await?;
        let chunks = std::mem::take(&mut self.chunks);
        for body in chunks {
            self.values_update(&spreadsheet_id, body, "write of the tab's values").await?;
        }
        let empties = std::mem::take(&mut self.empty_texts);
        for body in empty_text_bodies(&self.tab_name, &empties, self.max_payload) {
            self.values_update(&spreadsheet_id, body, "write of the tab's empty strings").await?;
        }
        tracing::info!(
            spreadsheet = spreadsheet_id.as_str(),
            tab = self.tab_name.as_str(),
            rows,
            columns,
            requests = self.requests,
            "export written"
        );
        Ok(ExportReport {
            url: SheetRef { spreadsheet_id: spreadsheet_id.clone(), tab: Tab::Gid(sheet_id) }.url(),
            spreadsheet_id,
            tab: self.tab_name.clone(),
            rows,
            columns,
            requests: self.requests,
        })
    }

    fn sheet_properties(
        &self,
        sheet_id: Option<i64>,
        grid_rows: u32,
        index: Option<u32>,
    ) -> wire::SheetProperties {
        wire::SheetProperties {
            sheet_id,
            title: Some(self.tab_name.clone()),
            index,
            grid_properties: Some(wire::GridProperties {
                row_count: Some(grid_rows),
                column_count: Some(self.schema.columns.len() as u32),
                frozen_row_count: Some(1),
            }),
        }
    }

    /// Header format, number formats, dropdowns and protections.
    fn prepare_requests(&self, sheet_id: i64, grid_rows: u32, _existing: Option<()>) -> Vec<Request> {
        let mut out = Vec::new();
        let columns = self.schema.columns.len() as u32;
        out.push(Request::RepeatCell(wire::RepeatCell {
            range: wire::GridRange {
                sheet_id,
                start_row_index: Some(0),
                end_row_index: Some(1),
                start_column_index: Some(0),
                end_column_index: Some(columns),
            },
            cell: wire::CellData {
                user_entered_format: wire::CellFormat {
                    text_format: Some(wire::TextFormat { bold: true }),
                    ..Default::default()
                },
            },
            fields: "userEnteredFormat.textFormat.bold".into(),
        }));
        let body = |c: usize| wire::GridRange {
            sheet_id,
            start_row_index: Some(1),
            end_row_index: Some(grid_rows),
            start_column_index: Some(c as u32),
            end_column_index: Some(c as u32 + 1),
        };
        for (c, col) in self.schema.columns.iter().enumerate() {
            if let Some((kind, pattern)) = number_format(&col.ty, self.subsecond[c]) {
                out.push(Request::RepeatCell(wire::RepeatCell {
                    range: body(c),
                    cell: wire::CellData {
                        user_entered_format: wire::CellFormat {
                            number_format: Some(wire::NumberFormat { kind, pattern }),
                            ..Default::default()
                        },
                    },
                    fields: "userEnteredFormat.numberFormat".into(),
                }));
            }
            let choices: Option<Vec<String>> = match &col.ty {
                ColumnType::Enum(labels) if !labels.is_empty() => Some(labels.clone()),
                ColumnType::Bool => Some(vec!["TRUE".into(), "FALSE".into()]),
                _ => None,
            };
            if let Some(choices) = choices {
                out.push(Request::SetDataValidation(wire::SetDataValidation {
                    range: body(c),
                    rule: wire::DataValidationRule {
                        condition: wire::BooleanCondition {
                            kind: "ONE_OF_LIST",
                            values: choices
                                .into_iter()
                                .map(|v| wire::ConditionValue { user_entered_value: v })
                                .collect(),
                        },
                        strict: true,
                        show_custom_ui: true,
                    },
                }));
            }
            if col.key || col.read_only {
                let why = if col.key { "key" } else { "read-only" };
                out.push(Request::AddProtectedRange(wire::AddProtectedRange {
                    protected_range: wire::ProtectedRange {
                        range: body(c),
                        description: format!(
                            "{PROTECTION_PREFIX} `{}` is a {why} column of table `{}`",
                            col.name, self.schema.name
                        ),
                        warning_only: true,
                    },
                }));
            }
        }
        out
    }

    async fn create(&mut self, title: String, grid_rows: u32) -> Result<(String, i64), Error> {
        let body = wire::Spreadsheet {
            spreadsheet_id: String::new(),
            spreadsheet_url: None,
            properties: wire::SpreadsheetProperties {
                title: Some(title),
                locale: None,
                time_zone: Some(self.time_zone.clone()),
            },
            sheets: vec![wire::Sheet {
                properties: self.sheet_properties(None, grid_rows, None),
                protected_ranges: Vec::new(),
            }],
        };
        let body = serde_json::to_vec(&body)
            .map_err(|e| Error::new(ErrorKind::Other, format!("cannot encode the new spreadsheet: {e}")))?;
        self.requests += 1;
        let created: wire::Spreadsheet = self
            .client
            .call_json(Call {
                method: Method::POST,
                path: String::new(),
                body: Some(Bytes::from(body)),
                class: Class::Write,
                idempotent: false,
                what: "creation of a spreadsheet",
                spreadsheet: "",
            })
            .await?;
        let sheet_id = created.sheets.first().and_then(|s| s.properties.sheet_id).unwrap_or(0);
        if created.spreadsheet_id.is_empty() {
            return Err(Error::new(ErrorKind::Other, "Google created a spreadsheet but did not say its id"));
        }
        Ok((created.spreadsheet_id, sheet_id))
    }

    async fn batch_update(
        &mut self,
        spreadsheet: &str,
        requests: Vec<Request>,
        what: &str,
    ) -> Result<(), Error> {
        self.requests += 1;
        batch_update(&self.client, spreadsheet, requests, what).await
    }

    async fn values_update(&mut self, spreadsheet: &str, body: Bytes, what: &str) -> Result<(), Error> {
        self.requests += 1;
        values_update(&self.client, spreadsheet, body, what).await
    }
}

/// One `spreadsheets.batchUpdate`. Not idempotent (adding a tab twice fails).
pub(crate) async fn batch_update(
    client: &SheetsClient,
    spreadsheet: &str,
    requests: Vec<Request>,
    what: &str,
) -> Result<(), Error> {
    let body = wire::BatchUpdate { requests, include_spreadsheet_in_response: false };
    let body = serde_json::to_vec(&body)
        .map_err(|e| Error::new(ErrorKind::Other, format!("cannot encode the {what}: {e}")))?;
    client
        .call(Call {
            method: Method::POST,
            path: format!("{}:batchUpdate", SheetsClient::spreadsheet_path(spreadsheet)),
            body: Some(Bytes::from(body)),
            class: Class::Write,
            idempotent: false,
            what,
            spreadsheet,
        })
        .await
        .map(|_| ())
}

/// One `values.batchUpdate` of a body made here. Idempotent: the same
/// values land in the same cells.
pub(crate) async fn values_update(
    client: &SheetsClient,
    spreadsheet: &str,
    body: Bytes,
    what: &str,
) -> Result<(), Error> {
    client
        .call(Call {
            method: Method::POST,
            path: format!("{}/values:batchUpdate", SheetsClient::spreadsheet_path(spreadsheet)),
            body: Some(body),
            class: Class::Write,
            idempotent: true,
            what,
            spreadsheet,
        })
        .await
        .map(|_| ())
}

/// `values.batchUpdate` bodies (`USER_ENTERED`) putting `=""` into `cells`,
/// runs of one column merged into one range, each body within `max_payload`.
pub(crate) fn empty_text_bodies(tab: &str, cells: &[(u32, u32)], max_payload: usize) -> Vec<Bytes> {
    let mut cells = cells.to_vec();
    cells.sort_by_key(|&(r, c)| (c, r));
    let mut runs: Vec<(u32, u32, u32)> = Vec::new(); // (col, first row, last row)
    for (r, c) in cells {
        match runs.last_mut() {
            Some((rc, _, last)) if *rc == c && *last + 1 == r => *last = r,
            _ => runs.push((c, r, r)),
        }
    }
    let head = br#"{"valueInputOption":"USER_ENTERED","data":["#;
    let formula = serde_json::to_string(EMPTY_TEXT_FORMULA).unwrap_or_default();
    let mut items = Vec::with_capacity(runs.len());
    for (c, first, last) in runs {
        let mut item = String::new();
        let range = a1::range(tab, first, c, last, c);
        let _ = write!(
            item,
            "{{\"range\":{},\"majorDimension\":\"COLUMNS\",\"values\":[[",
            serde_json::to_string(&range).unwrap_or_default()
        );
        for i in first..=last {
            if i > first {
                item.push(',');
            }
            item.push_str(&formula);
        }
        item.push_str("]]}");
        items.push(item.into_bytes());
    }
    pack(items, head, max_payload)
}

/// Packs data items into bodies of at most `max` bytes (an item larger than
/// that goes alone).
pub(crate) fn pack(items: Vec<Vec<u8>>, head: &[u8], max: usize) -> Vec<Bytes> {
    let mut out = Vec::new();
    let mut body: Vec<u8> = Vec::new();
    for item in items {
        if !body.is_empty() && body.len() + item.len() + 3 > max {
            body.extend_from_slice(b"]}");
            out.push(Bytes::from(std::mem::take(&mut body)));
        }
        if body.is_empty() {
            body.extend_from_slice(head);
        } else {
            body.push(b',');
        }
        body.extend_from_slice(&item);
    }
    if !body.is_empty() {
        body.extend_from_slice(b"]}");
        out.push(Bytes::from(body));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_strings_are_written_as_formulas_in_runs() {
        let bodies = empty_text_bodies("Q&A", &[(1, 0), (2, 0), (3, 0), (5, 0), (1, 2)], 2_000_000);
        assert_eq!(bodies.len(), 1);
        let v: serde_json::Value = serde_json::from_slice(&bodies[0]).unwrap_or_default();
        assert_eq!(v["valueInputOption"], "USER_ENTERED");
        assert_eq!(v["data"][0]["range"], "'Q&A'!A2:A4");
        assert_eq!(v["data"][0]["values"][0].as_array().map(Vec::len), Some(3));
        assert_eq!(v["data"][0]["values"][0][0], "=\"\"");
        assert_eq!(v["data"][1]["range"], "'Q&A'!A6:A6");
        assert_eq!(v["data"][2]["range"], "'Q&A'!C2:C2");
        let many: Vec<(u32, u32)> = (0..1000).map(|r| (r * 2, 0)).collect();
        let bodies = empty_text_bodies("T", &many, 4096);
        assert!(bodies.len() > 5);
        for b in &bodies {
            assert!(b.len() <= 4096);
            assert!(serde_json::from_slice::<serde_json::Value>(b).is_ok());
        }
    }
}
