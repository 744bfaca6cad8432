//! Writing a table to an .xlsx workbook: one sheet, streamed, atomically
//! replacing the file.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use rust_xlsxwriter::{DataValidation, Format, Formula, Workbook};
use sheetbridge_core::a1;
use sheetbridge_core::convert::SerialEpoch;
use sheetbridge_core::{ColumnType, Error, ErrorKind, RowSink, TableSchema, Value};
use tempfile::NamedTempFile;

use crate::config::WriteOptions;
use crate::convert::{value_to_cell, Out};
use crate::error::{self, file};
use crate::limits::{self, MAX_COLUMNS, MAX_ROWS, MAX_VALIDATION_LIST_CHARS};
use crate::lock;

/// Rows whose text sets the column widths.
const WIDTH_SAMPLE_ROWS: u32 = 100;
const MIN_WIDTH: usize = 8;
const MAX_WIDTH: usize = 60;
/// The hidden sheet holding long enum label lists for data validation.
const LISTS_SHEET: &str = "sheetbridge_lists";

/// What a finished write did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteReport {
    /// The workbook written (renamed into place).
    pub path: PathBuf,
    pub sheet: String,
    /// Data rows written (the header not counted).
    pub rows: u64,
    /// Size of the file written.
    pub bytes: u64,
    /// Columns whose data validation was left out, with the reason.
    pub skipped_validations: Vec<String>,
}

/// How a column's values are shown, decided once per column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    General,
    Date,
    DateTime,
    Time,
}

struct ColumnPlan {
    ty: ColumnType,
    shape: Shape,
    /// Prepared format for serials with sub-second parts, or for serials in a
    /// column whose own format is not a date format.
    ms_format: Option<Format>,
    width: usize,
}

/// Streams rows into a new workbook; [`XlsxWriter::finish`] renames it over
/// the target. Dropping the writer without finishing removes the temporary
/// file and leaves the target as it was.
pub struct XlsxWriter {
    path: PathBuf,
    temp: Option<NamedTempFile>,
    workbook: Workbook,
    sheet: String,
    columns: Vec<ColumnPlan>,
    key: Vec<usize>,
    names: Vec<String>,
    epoch: SerialEpoch,
    /// The next sheet row to write (0 is the header).
    next_row: u32,
    formats: Formats,
    /// The hidden list sheet's range per enum column whose labels do not fit
    /// an inline list.
    list_ranges: Vec<Option<String>>,
    skipped_validations: Vec<String>,
}

struct Formats {
    date: Format,
    datetime: Format,
    datetime_ms: Format,
    time: Format,
    time_ms: Format,
}

impl Formats {
    fn new() -> Self {
        Formats {
            date: Format::new().set_num_format("yyyy-mm-dd"),
            datetime: Format::new().set_num_format("yyyy-mm-dd hh:mm:ss"),
            datetime_ms: Format::new().set_num_format("yyyy-mm-dd hh:mm:ss.000"),
            time: Format::new().set_num_format("hh:mm:ss"),
            time_ms: Format::new().set_num_format("hh:mm:ss.000"),
        }
    }
}

fn shape_of(ty: &ColumnType) -> Shape {
    match ty {
        ColumnType::Date => Shape::Date,
        ColumnType::Timestamp | ColumnType::TimestampTz => Shape::DateTime,
        ColumnType::Time => Shape::Time,
        _ => Shape::General,
    }
}

/// The sheet name a table gets when none is given: its name, with the
/// characters Excel refuses replaced by `_`, cut to 31 characters.
pub fn default_sheet_name(schema: &TableSchema) -> String {
    let mut name: String = schema
        .name
        .name
        .chars()
        .map(|c| if limits::SHEET_NAME_FORBIDDEN.contains(&c) { '_' } else { c })
        .take(limits::MAX_SHEET_NAME_CHARS)
        .collect();
    while name.starts_with('\'') || name.ends_with('\'') {
        name = name.trim_matches('\'').to_owned();
    }
    if name.trim().is_empty() {
        name = "Sheet1".into();
    }
    name
}

impl XlsxWriter {
    /// Checks everything knowable up front (Excel's limits, the sheet name,
    /// a program holding the file), then prepares the workbook in a
    /// temporary file beside `path`. Nothing at `path` changes before
    /// [`XlsxWriter::finish`].
    pub fn create(path: &Path, schema: &TableSchema, options: &WriteOptions) -> Result<XlsxWriter, Error> {
        options.validate()?;
        let sheet = if options.sheet.is_empty() { default_sheet_name(schema) } else { options.sheet.clone() };
        limits::check_sheet_name(&sheet).map_err(|e| prefix(path, e))?;
        let ncols = schema.columns.len();
        if ncols == 0 {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                format!("{}: table `{}` has no columns to write", file(path), schema.name),
            ));
        }
        if ncols > MAX_COLUMNS {
            return Err(Error::new(
                ErrorKind::LimitExceeded,
                format!(
                    "{}: table `{}` has {ncols} columns, more than Excel's limit of {MAX_COLUMNS} per sheet",
                    file(path),
                    schema.name
                ),
            ));
        }
        lock::check(path, options.force)?;

        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| Error::new(ErrorKind::InvalidInput, format!("{}: not a file name", file(path))))?;
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let temp = tempfile::Builder::new()
            .prefix(&format!(".{name}.tmp-"))
            .tempfile_in(dir)
            .map_err(|e| error::io(path, "create a temporary file beside it", e))?;

        let formats = Formats::new();
        let mut workbook = Workbook::new();
        workbook.set_zip_compression_level(options.compression_level);
        let bold = Format::new().set_bold();
        let mut columns = Vec::with_capacity(ncols);
        {
            let ws = workbook
                .add_worksheet_with_constant_memory()
                .map_err(|e| error::writer(path, "start the worksheet", e))?;
            ws.set_name(&sheet).map_err(|e| error::writer(path, "name the sheet", e))?;
            for (c, col) in schema.columns.iter().enumerate() {
                let c16 = c as u16;
                let shape = shape_of(&col.ty);
                // The column's own format: cells written without a format
                // take it, so no cell needs a format look-up.
                let column_format = match (&col.ty, shape) {
                    (_, Shape::Date) => Some(formats.date.clone()),
                    (_, Shape::DateTime) => Some(formats.datetime.clone()),
                    (_, Shape::Time) => Some(formats.time.clone()),
                    (ColumnType::Numeric { scale: Some(s), .. }, _) if *s > 0 => {
                        Some(Format::new().set_num_format(format!("0.{}", "0".repeat(*s as usize))))
                    }
                    (ColumnType::Numeric { scale: Some(0), .. }, _) => {
                        Some(Format::new().set_num_format("0"))
                    }
                    _ => None,
                };
                if let Some(f) = &column_format {
                    ws.set_column_format(c16, f).map_err(|e| error::writer(path, "format a column", e))?;
                }
                let ms_format = match shape {
                    Shape::DateTime => Some(formats.datetime_ms.clone()),
                    Shape::Time => Some(formats.time_ms.clone()),
                    _ => None,
                };
                ws.write_string_with_format(0, c16, &col.name, &bold)
                    .map_err(|e| error::writer(path, "write the header", e))?;
                let width = match shape {
                    Shape::Date => 10,
                    Shape::DateTime => 19,
                    Shape::Time => 8,
                    Shape::General => 0,
                }
                .max(col.name.chars().count() + 2);
                columns.push(ColumnPlan { ty: col.ty.clone(), shape, ms_format, width });
            }
            // The empty string is written as the formula `=""`; its cached
            // result must be "" too (rust_xlsxwriter's default is 0).
            ws.set_formula_result_default("");
            ws.set_freeze_panes(1, 0).map_err(|e| error::writer(path, "freeze the header", e))?;
        }

        let mut writer = XlsxWriter {
            path: path.to_owned(),
            temp: Some(temp),
            workbook,
            sheet,
            columns,
            key: schema.key_indices(),
            names: schema.columns.iter().map(|c| c.name.clone()).collect(),
            epoch: options.epoch,
            next_row: 1,
            formats,
            list_ranges: vec![None; ncols],
            skipped_validations: Vec::new(),
        };
        writer.add_list_sheet(schema)?;
        Ok(writer)
    }

    /// Enum columns whose labels do not fit Excel's 255-character inline
    /// list get their labels on a hidden sheet the validation refers to.
    fn add_list_sheet(&mut self, schema: &TableSchema) -> Result<(), Error> {
        let long: Vec<(usize, &Vec<String>)> = schema
            .columns
            .iter()
            .enumerate()
            .filter_map(|(i, c)| match &c.ty {
                ColumnType::Enum(labels) if !labels.is_empty() && !fits_inline_list(labels) => {
                    Some((i, labels))
                }
                _ => None,
            })
            .collect();
        if long.is_empty() {
            return Ok(());
        }
        let name =
            if self.sheet == LISTS_SHEET { format!("{LISTS_SHEET}_2") } else { LISTS_SHEET.to_owned() };
        let path = self.path.clone();
        let ws = self.workbook.add_worksheet();
        ws.set_name(&name).map_err(|e| error::writer(&path, "add the list sheet", e))?;
        ws.set_hidden(true);
        for (list_col, (i, labels)) in long.into_iter().enumerate() {
            let list_col = list_col as u16;
            for (r, label) in labels.iter().enumerate() {
                ws.write_string(r as u32, list_col, label)
                    .map_err(|e| error::writer(&path, "write the enum labels", e))?;
            }
            let letters = a1::column_letters(list_col.into());
            self.list_ranges[i] = Some(format!("='{name}'!${letters}$1:${letters}${}", labels.len()));
        }
        Ok(())
    }

    /// The sheet row the next row goes to (1-based, as Excel shows it).
    fn sheet_row_number(&self) -> u32 {
        self.next_row + 1
    }

    /// Forgets the temporary file (which removes it) and returns `e`: after a
    /// failed row the workbook is incomplete and must not be finished.
    fn abandon(&mut self, e: Error) -> Error {
        self.temp = None;
        e
    }

    fn describe_row(&self, row: &[Value]) -> String {
        let n = self.sheet_row_number();
        if self.key.is_empty() {
            return format!("row {n}");
        }
        let key: Vec<String> = self.key.iter().filter_map(|&i| row.get(i)).map(|v| v.to_string()).collect();
        format!("row {n} (key {})", key.join(", "))
    }

    fn write_row(&mut self, row: &[Value]) -> Result<(), Error> {
        if self.temp.is_none() {
            return Err(Error::new(
                ErrorKind::Other,
                format!("{}: an earlier row failed; the workbook was abandoned", file(&self.path)),
            ));
        }
        if row.len() != self.columns.len() {
            let e = Error::new(
                ErrorKind::InvalidInput,
                format!(
                    "{}: {} has {} values, but the sheet has {} columns",
                    file(&self.path),
                    self.describe_row(row),
                    row.len(),
                    self.columns.len()
                ),
            );
            return Err(self.abandon(e));
        }
        if self.next_row >= MAX_ROWS {
            let e = Error::new(
                ErrorKind::LimitExceeded,
                format!(
                    "{} sheet `{}`: the table has more than {} rows, Excel's limit of {MAX_ROWS} rows per \
                     sheet with the header; nothing was written",
                    file(&self.path),
                    self.sheet,
                    MAX_ROWS - 1
                ),
            );
            return Err(self.abandon(e));
        }
        let r = self.next_row;
        let sample = r <= WIDTH_SAMPLE_ROWS;
        // Invariant: sheet 0 is the data sheet added in `create`.
        let ws = match self.workbook.worksheet_from_index(0) {
            Ok(ws) => ws,
            Err(e) => {
                let e = error::writer(&self.path, "find the data sheet", e);
                return Err(self.abandon(e));
            }
        };
        let mut failure = None;
        for (c, (plan, v)) in self.columns.iter_mut().zip(row).enumerate() {
            let c16 = c as u16;
            let out = value_to_cell(&plan.ty, v, self.epoch);
            if sample {
                plan.width = plan.width.max(shown_width(&out));
            }
            let written = match out {
                Out::Blank => continue,
                Out::Number(f) => ws.write_number(r, c16, f),
                Out::Serial { serial, subsecond } => {
                    let explicit = match (plan.shape, v, subsecond) {
                        (Shape::DateTime | Shape::Time, _, true) => plan.ms_format.as_ref(),
                        (Shape::Date, Value::Date(_), _)
                        | (Shape::DateTime, Value::Timestamp(_) | Value::TimestampTz(_), _)
                        | (Shape::Time, Value::Time(_), _) => None,
                        // A serial in a column of another type gets its own format.
                        (_, Value::Date(_), _) => Some(&self.formats.date),
                        (_, Value::Time(_), _) => Some(&self.formats.time),
                        _ => Some(&self.formats.datetime),
                    };
                    match explicit {
                        Some(f) => ws.write_number_with_format(r, c16, serial, f),
                        None => ws.write_number(r, c16, serial),
                    }
                }
                Out::Bool(b) => ws.write_boolean(r, c16, b),
                Out::Text(s) => match limits::too_long_for_cell(s) {
                    None => ws.write_string(r, c16, s),
                    Some(n) => {
                        failure =
                            Some(too_long(&self.path, &self.sheet, &self.names[c], r, &self.key, row, n));
                        break;
                    }
                },
                Out::Owned(s) => ws.write_string(r, c16, s),
                Out::EmptyText => ws.write_formula(r, c16, Formula::new("=\"\"").set_result("")),
            };
            if let Err(e) = written {
                failure = Some(error::writer(&self.path, "write a cell", e));
                break;
            }
        }
        if let Some(e) = failure {
            return Err(self.abandon(e));
        }
        self.next_row += 1;
        Ok(())
    }

    /// Adds the column widths, autofilter and data validation, saves the
    /// workbook, flushes it to disk and renames it over the target.
    pub fn finish(mut self) -> Result<WriteReport, Error> {
        let Some(mut temp) = self.temp.take() else {
            return Err(Error::new(
                ErrorKind::Other,
                format!("{}: an earlier row failed; nothing was written", file(&self.path)),
            ));
        };
        let path = self.path.clone();
        let last_row = self.next_row - 1;
        let last_col = (self.columns.len() - 1) as u16;
        let validations = self.validations(last_row)?;
        let ws = self
            .workbook
            .worksheet_from_index(0)
            .map_err(|e| error::writer(&path, "find the data sheet", e))?;
        for (c, plan) in self.columns.iter().enumerate() {
            let width = plan.width.clamp(MIN_WIDTH, MAX_WIDTH);
            ws.set_column_width(c as u16, width as f64)
                .map_err(|e| error::writer(&path, "size a column", e))?;
        }
        ws.autofilter(0, 0, last_row, last_col).map_err(|e| error::writer(&path, "add the autofilter", e))?;
        for (c, v) in validations {
            ws.add_data_validation(1, c, last_row, c, &v)
                .map_err(|e| error::writer(&path, "add data validation", e))?;
        }
        self.workbook
            .save_to_writer(temp.as_file_mut())
            .map_err(|e| error::writer(&path, "save the workbook", e))?;
        let f = temp.as_file_mut();
        f.flush().map_err(|e| error::io(&path, "write the workbook", e))?;
        f.sync_all().map_err(|e| error::io(&path, "flush the workbook to disk", e))?;
        let bytes = f.metadata().map(|m| m.len()).unwrap_or(0);
        temp.persist(&path).map_err(|e| error::io(&path, "rename the new workbook into place", e.error))?;
        sync_dir(&path);
        Ok(WriteReport {
            path,
            sheet: self.sheet.clone(),
            rows: u64::from(last_row),
            bytes,
            skipped_validations: std::mem::take(&mut self.skipped_validations),
        })
    }

    fn validations(&mut self, last_row: u32) -> Result<Vec<(u16, DataValidation)>, Error> {
        let mut out = Vec::new();
        if last_row == 0 {
            return Ok(out);
        }
        for (c, plan) in self.columns.iter().enumerate() {
            let v = match &plan.ty {
                ColumnType::Bool => DataValidation::new().allow_list_strings(&["TRUE", "FALSE"]),
                ColumnType::Enum(labels) if labels.is_empty() => continue,
                ColumnType::Enum(labels) => match &self.list_ranges[c] {
                    Some(range) => Ok(DataValidation::new().allow_list_formula(Formula::new(range))),
                    None if fits_inline_list(labels) => DataValidation::new().allow_list_strings(labels),
                    None => {
                        self.skipped_validations.push(format!(
                            "column `{}`: its labels do not fit Excel's {MAX_VALIDATION_LIST_CHARS}-character list",
                            self.names[c]
                        ));
                        continue;
                    }
                },
                _ => continue,
            };
            match v {
                Ok(v) => out.push((c as u16, v)),
                Err(e) => self.skipped_validations.push(format!("column `{}`: {e}", self.names[c])),
            }
        }
        Ok(out)
    }
}

impl RowSink for XlsxWriter {
    fn row(&mut self, row: &[Value]) -> Result<(), Error> {
        self.write_row(row)
    }
}

/// Whether labels can be an inline list: at most 255 characters joined with
/// commas, and no label holding a comma (which would split it).
fn fits_inline_list(labels: &[String]) -> bool {
    let joined: usize = labels.iter().map(|l| l.replace('"', "\"\"").encode_utf16().count()).sum::<usize>()
        + labels.len().saturating_sub(1);
    joined <= MAX_VALIDATION_LIST_CHARS && !labels.iter().any(|l| l.contains(','))
}

/// The width a cell's text needs, in characters, for the first rows.
fn shown_width(out: &Out<'_>) -> usize {
    match out {
        Out::Blank | Out::EmptyText => 0,
        Out::Number(f) => {
            if f.fract() == 0.0 && f.abs() < 1e15 {
                format!("{f}").len()
            } else {
                12
            }
        }
        Out::Serial { subsecond, .. } => {
            if *subsecond {
                23
            } else {
                10
            }
        }
        Out::Bool(_) => 5,
        Out::Text(s) => s.chars().take(MAX_WIDTH).count(),
        Out::Owned(s) => s.chars().take(MAX_WIDTH).count(),
    }
}

fn too_long(path: &Path, sheet: &str, column: &str, r: u32, key: &[usize], row: &[Value], n: usize) -> Error {
    let at = if key.is_empty() {
        format!("row {}", r + 1)
    } else {
        let k: Vec<String> = key.iter().filter_map(|&i| row.get(i)).map(|v| v.to_string()).collect();
        format!("row {} (key {})", r + 1, k.join(", "))
    };
    Error::new(
        ErrorKind::LimitExceeded,
        format!(
            "{} sheet `{sheet}` {at}, column `{column}`: the text has {n} characters, more than Excel's \
             limit of {} per cell; nothing was written",
            file(path),
            limits::MAX_CELL_CHARS
        ),
    )
}

fn prefix(path: &Path, e: Error) -> Error {
    Error::new(e.kind().clone(), format!("{}: {}", file(path), e.message()))
}

/// Makes the rename durable. Best effort: not every platform can open a
/// directory for syncing.
fn sync_dir(path: &Path) {
    if let Some(dir) = path.parent() {
        let dir = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
    }
}
