//! Reading a tab as rows of a table: one metadata read, one `values.batchGet`.

use reqwest::Method;
use sheetbridge_core::convert::keeps_empty_text;
use sheetbridge_core::layout;
use sheetbridge_core::{
    CellProblem, Column, Error, ErrorKind, Problems, RowSink, Source, TableSchema, Value,
};

pub use sheetbridge_core::layout::SheetLayout;

use crate::a1;
use crate::client::{Call, SheetsClient};
use crate::convert::{cell_to_value, shown, Zone, EMPTY_TEXT_FORMULA};
use crate::meta::{SpreadsheetInfo, TabInfo};
use crate::quota::Class;
use crate::sheet_ref::SheetRef;
use crate::wire::{BatchGetResponse, WireCell};

/// What a read found besides the rows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadSummary {
    /// Rows passed to the sink.
    pub rows: u64,
    /// Blank rows between data rows, skipped.
    pub blank_rows_skipped: u64,
    /// The last data row's number (1-based); the header's when there is none.
    pub last_row: u32,
}

/// A tab, read whole (its values came in one `values.batchGet`), ready to be
/// converted to a table's rows. Implements [`Source`] once given a schema.
#[derive(Debug)]
pub struct TabSource {
    client: SheetsClient,
    info: SpreadsheetInfo,
    tab: TabInfo,
    pub(crate) zone: Zone,
    /// Every row of the tab from its first, as Google returned them (ragged).
    pub(crate) grid: Vec<Vec<WireCell>>,
    allow_empty: bool,
    schema: Option<TableSchema>,
    layout: Option<SheetLayout>,
}

impl SheetsClient {
    /// Opens a tab for reading: one `spreadsheets.get` (tabs, sizes, time
    /// zone) and one `values.batchGet` of the whole tab with
    /// `UNFORMATTED_VALUE` and `SERIAL_NUMBER`.
    pub async fn open_tab(&self, sheet: &SheetRef) -> Result<TabSource, Error> {
        let info = self.spreadsheet(&sheet.spreadsheet_id).await?;
        let tab = info.tab(&sheet.tab)?.clone();
        let grid = self
            .batch_get(
                &info.spreadsheet_id,
                &[a1::whole_sheet(&tab.title)],
                "UNFORMATTED_VALUE",
                "read of the tab's values",
            )
            .await?
            .into_iter()
            .next()
            .unwrap_or_default();
        let zone = Zone::named(&info.time_zone);
        Ok(TabSource {
            client: self.clone(),
            info,
            tab,
            zone,
            grid,
            allow_empty: false,
            schema: None,
            layout: None,
        })
    }

    /// One `values.batchGet` of `ranges`, rows major, dates as serials.
    pub(crate) async fn batch_get(
        &self,
        spreadsheet: &str,
        ranges: &[String],
        render: &str,
        what: &str,
    ) -> Result<Vec<Vec<Vec<WireCell>>>, Error> {
        let mut path = format!("{}/values:batchGet?", SheetsClient::spreadsheet_path(spreadsheet));
        for r in ranges {
            path.push_str("ranges=");
            path.push_str(&a1::query_value(r));
            path.push('&');
        }
        path.push_str("majorDimension=ROWS&valueRenderOption=");
        path.push_str(render);
        path.push_str("&dateTimeRenderOption=SERIAL_NUMBER");
        let r: BatchGetResponse = self
            .call_json(Call {
                method: Method::GET,
                path,
                body: None,
                class: Class::Read,
                idempotent: true,
                what,
                spreadsheet,
            })
            .await?;
        let mut out: Vec<Vec<Vec<WireCell>>> = r.value_ranges.into_iter().map(|v| v.values).collect();
        out.resize_with(ranges.len(), Vec::new);
        Ok(out)
    }
}

impl TabSource {
    /// The tab, to be read as `schema` through [`Source`].
    pub fn with_schema(mut self, schema: TableSchema) -> TabSource {
        self.schema = Some(schema);
        self.layout = None;
        self
    }

    /// Whether a tab with a header and no data rows reads as an empty table
    /// (`true`) or is an error (`false`, the default).
    pub fn allow_empty(&mut self, allow: bool) -> &mut Self {
        self.allow_empty = allow;
        self
    }

    pub fn spreadsheet(&self) -> &SpreadsheetInfo {
        &self.info
    }

    pub fn tab(&self) -> &TabInfo {
        &self.tab
    }

    /// `gsheet://ID/Tab`, as messages name the tab.
    pub fn location(&self) -> String {
        SheetRef::new(self.info.spreadsheet_id.clone(), Some(&self.tab.title)).to_string()
    }

    fn at(&self) -> String {
        format!("`{}`", self.location())
    }

    /// Matches the header row's names to `schema`'s columns, by the rules
    /// every connector shares ([`sheetbridge_core::layout`]). The header is
    /// the first row holding anything.
    pub fn layout(&self, schema: &TableSchema) -> Result<SheetLayout, Error> {
        let at = self.at();
        let Some((header_row, row)) =
            self.grid.iter().enumerate().find(|(_, r)| r.iter().any(|c| !is_blank(c)))
        else {
            return Err(Error::new(ErrorKind::InvalidInput, format!("{at} is empty: it has no header row")));
        };
        let header_row = header_row as u32;
        let header: Vec<(u32, String)> = row
            .iter()
            .enumerate()
            .filter(|(_, c)| !is_blank(c))
            .map(|(i, c)| (i as u32, header_text(c)))
            .collect();
        layout::match_header(&at, header_row, &header, schema)
    }

    /// Converts the data rows below the header and hands them to `sink` as
    /// `(sheet row number, values of layout.columns)`, in row order.
    ///
    /// Every bad cell is collected and reading goes on; rows with a bad cell
    /// are not passed on. If any cell was bad the result is a
    /// [`ErrorKind::Conversion`] error listing them all with their A1 names
    /// (the sink then saw only the good rows and must discard them). The sink
    /// may take the values it is given: every slot is rewritten for the next row.
    pub async fn read<F>(
        &mut self,
        layout: &SheetLayout,
        schema: &TableSchema,
        mut sink: F,
    ) -> Result<ReadSummary, Error>
    where
        F: FnMut(u32, &mut [Value]) -> Result<(), Error>,
    {
        let mut converter = self.converter(layout, schema).await?;
        let mut values = vec![Value::Null; layout.columns.len()];
        for (r, row) in self.grid.iter().enumerate().skip(converter.first_data) {
            if let Some(n) = converter.convert(r, row, &mut values) {
                sink(n, &mut values)?;
            }
        }
        converter.finish()
    }

    /// Like [`TabSource::read`], but the rows are pulled one at a time and the
    /// tab's cells are freed as their rows are converted, so a caller that
    /// writes rows elsewhere (an import) holds the tab once, not twice.
    pub async fn into_rows(mut self, layout: &SheetLayout, schema: &TableSchema) -> Result<TabRows, Error> {
        let converter = self.converter(layout, schema).await?;
        let first = converter.first_data;
        let grid = std::mem::take(&mut self.grid);
        let mut rows = grid.into_iter().enumerate();
        if first > 0 {
            rows.nth(first - 1);
        }
        Ok(TabRows { rows, converter })
    }

    /// What converting this tab's rows to `layout`'s columns needs (one more
    /// `values.batchGet` when some text cell may hold the empty string).
    async fn converter(&self, layout: &SheetLayout, schema: &TableSchema) -> Result<RowConverter, Error> {
        let at = self.at();
        let cols = layout::layout_columns(&at, &layout.columns, schema)?;
        let first_data = layout.header_row as usize; // zero-based index of the row below the header
        let col_refs: Vec<&Column> = cols.iter().collect();
        let empty_texts = self.empty_texts(layout, &col_refs, first_data).await?;
        let needs_zone = cols.iter().any(|c| c.ty == sheetbridge_core::ColumnType::TimestampTz);
        if needs_zone && !self.zone.is_known() {
            tracing::warn!(zone = self.zone.name(), "the spreadsheet's time zone is unknown");
        }
        Ok(RowConverter {
            at,
            location: self.location(),
            cols,
            sheet_columns: layout.sheet_columns.clone(),
            empty_texts,
            zone: self.zone.clone(),
            allow_empty: self.allow_empty,
            first_data,
            problems: Problems::default(),
            summary: ReadSummary { last_row: layout.header_row, ..ReadSummary::default() },
            pending_blank: 0,
        })
    }

    /// The cells of text columns that hold the empty string (the formula
    /// `=""`) rather than nothing, as `(zero-based row, column)`. Asks Google
    /// only when some text cell reads `""`: a second `values.batchGet` of
    /// those columns with the `FORMULA` render option.
    pub(crate) async fn empty_texts(
        &self,
        layout: &SheetLayout,
        cols: &[&Column],
        first_data: usize,
    ) -> Result<std::collections::HashSet<(u32, u32)>, Error> {
        let mut out = std::collections::HashSet::new();
        let text_cols: Vec<u32> = layout
            .sheet_columns
            .iter()
            .zip(cols)
            .filter(|(_, col)| keeps_empty_text(&col.ty))
            .map(|(&c, _)| c)
            .collect();
        let ambiguous = |c: u32| {
            self.grid
                .iter()
                .skip(first_data)
                .any(|row| matches!(row.get(c as usize), Some(WireCell::Text(s)) if s.is_empty()))
        };
        let asked: Vec<u32> = text_cols.into_iter().filter(|&c| ambiguous(c)).collect();
        if asked.is_empty() {
            return Ok(out);
        }
        let last = self.grid.len().max(first_data + 1) as u32;
        let ranges: Vec<String> =
            asked.iter().map(|&c| a1::range(&self.tab.title, first_data as u32, c, last - 1, c)).collect();
        let columns = self
            .client
            .batch_get(&self.info.spreadsheet_id, &ranges, "FORMULA", "read of the tab's empty-string cells")
            .await?;
        for (&c, column) in asked.iter().zip(columns) {
            for (i, row) in column.into_iter().enumerate() {
                if matches!(row.first(), Some(WireCell::Text(f)) if is_empty_text_formula(f)) {
                    out.insert((first_data as u32 + i as u32, c));
                }
            }
        }
        Ok(out)
    }

    fn ensure_layout(&mut self) -> Result<(TableSchema, SheetLayout), Error> {
        let schema = self.schema.clone().ok_or_else(|| {
            Error::new(
                ErrorKind::InvalidInput,
                format!("{}: no table schema was given to read the tab as", self.at()),
            )
        })?;
        if let Some(l) = &self.layout {
            return Ok((schema, l.clone()));
        }
        let l = self.layout(&schema)?;
        layout::check_keys(&self.at(), &schema, &l.missing)?;
        self.layout = Some(l.clone());
        Ok((schema, l))
    }
}

/// `=""`, allowing blanks Google may keep (`= ""`).
fn is_empty_text_formula(f: &str) -> bool {
    let compact: String = f.chars().filter(|c| !c.is_whitespace()).collect();
    compact == EMPTY_TEXT_FORMULA
}

/// Converts a tab's rows one by one, collecting every bad cell.
#[derive(Debug)]
struct RowConverter {
    at: String,
    location: String,
    cols: Vec<Column>,
    sheet_columns: Vec<u32>,
    empty_texts: std::collections::HashSet<(u32, u32)>,
    zone: Zone,
    allow_empty: bool,
    /// Zero-based index of the first row below the header.
    first_data: usize,
    problems: Problems,
    summary: ReadSummary,
    pending_blank: u64,
}

impl RowConverter {
    /// Converts zero-based row `r` into `values`; its sheet row number when it
    /// is a good data row, `None` when it is blank or has a bad cell.
    fn convert(&mut self, r: usize, row: &[WireCell], values: &mut [Value]) -> Option<u32> {
        let empty = WireCell::Empty;
        let has_data =
            self.sheet_columns.iter().any(|&c| row.get(c as usize).is_some_and(|cell| !is_blank(cell)))
                || self.sheet_columns.iter().any(|&c| self.empty_texts.contains(&(r as u32, c)));
        if !has_data {
            self.pending_blank += 1;
            return None;
        }
        self.summary.blank_rows_skipped += self.pending_blank;
        self.pending_blank = 0;
        let mut good = true;
        for (slot, (&c, col)) in self.sheet_columns.iter().zip(&self.cols).enumerate() {
            // Ragged rows: a cell past the row's end is empty.
            let cell = row.get(c as usize).unwrap_or(&empty);
            let is_empty_text = matches!(cell, WireCell::Text(s) if s.is_empty());
            let result = if is_empty_text && keeps_empty_text(&col.ty) {
                Ok(if self.empty_texts.contains(&(r as u32, c)) {
                    Value::Text(String::new())
                } else {
                    Value::Null
                })
            } else {
                cell_to_value(&col.ty, cell, &self.zone)
            };
            match result {
                Ok(v) => {
                    if v.is_null() && !col.nullable && !col.fills_itself() {
                        good = false;
                        self.problems.push(problem(
                            &self.location,
                            r as u32,
                            c,
                            col,
                            "an empty cell".into(),
                            "is not allowed: the column is NOT NULL and has no default".into(),
                        ));
                    }
                    values[slot] = v;
                }
                Err(reason) => {
                    good = false;
                    self.problems.push(problem(&self.location, r as u32, c, col, shown(cell), reason.0));
                }
            }
        }
        self.summary.last_row = r as u32 + 1;
        if good {
            self.summary.rows += 1;
            Some(r as u32 + 1)
        } else {
            None
        }
    }

    /// Every bad cell as one error, or what the read found.
    fn finish(self) -> Result<ReadSummary, Error> {
        self.problems.into_result(&format!("import {}", self.at))?;
        if self.summary.rows == 0 && !self.allow_empty {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                format!("{} has a header row but no data rows below it", self.at),
            ));
        }
        Ok(self.summary)
    }
}

/// A tab's rows, converted as they are pulled ([`TabSource::into_rows`]).
#[derive(Debug)]
pub struct TabRows {
    rows: std::iter::Enumerate<std::vec::IntoIter<Vec<WireCell>>>,
    converter: RowConverter,
}

impl TabRows {
    /// The next good data row: its sheet row number, its values written into
    /// `values` (one per layout column). Rows with a bad cell are skipped and
    /// their cells remembered for [`TabRows::finish`].
    pub fn next_row(&mut self, values: &mut [Value]) -> Option<u32> {
        for (r, row) in self.rows.by_ref() {
            if let Some(n) = self.converter.convert(r, &row, values) {
                return Some(n);
            }
        }
        None
    }

    /// Whether some cell so far was bad (nothing should be written then).
    pub fn has_bad_cells(&self) -> bool {
        !self.converter.problems.is_empty()
    }

    /// Every bad cell as one [`ErrorKind::Conversion`] error, or what the read found.
    pub fn finish(self) -> Result<ReadSummary, Error> {
        self.converter.finish()
    }
}

pub(crate) fn is_blank(cell: &WireCell) -> bool {
    match cell {
        WireCell::Empty => true,
        WireCell::Text(s) => s.is_empty(),
        _ => false,
    }
}

fn header_text(cell: &WireCell) -> String {
    match cell {
        WireCell::Empty => String::new(),
        WireCell::Text(s) => s.clone(),
        WireCell::Number(f) => sheetbridge_core::convert::number_text(*f),
        WireCell::Bool(b) => if *b { "TRUE" } else { "FALSE" }.into(),
    }
}

fn problem(
    location: &str,
    row: u32,
    col: u32,
    column: &Column,
    value: String,
    reason: String,
) -> CellProblem {
    CellProblem {
        at: format!("{location} {}", a1::cell(row, col)),
        column: column.name.clone(),
        type_name: column.type_name.clone(),
        value,
        reason,
    }
}

impl Source for TabSource {
    async fn schema(&mut self) -> Result<TableSchema, Error> {
        let (mut schema, layout) = self.ensure_layout()?;
        let keep: Vec<String> = layout.columns.iter().map(|&i| schema.columns[i].name.clone()).collect();
        // Invariant: every name comes from the schema itself.
        let _ = schema.project(&keep);
        Ok(schema)
    }

    async fn scan<S: RowSink + Send>(&mut self, sink: &mut S) -> Result<u64, Error> {
        let (schema, layout) = self.ensure_layout()?;
        let summary = self.read(&layout, &schema, |_, row| sink.row(row)).await?;
        Ok(summary.rows)
    }
}
