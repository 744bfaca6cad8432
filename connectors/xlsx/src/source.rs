//! Reading a sheet of an .xlsx workbook as rows of a table, streamed.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use calamine::{DataRef, Reader, Xlsx};
use sheetbridge_core::convert::{number_text, SerialEpoch};
use sheetbridge_core::{a1, layout};
use sheetbridge_core::{CellProblem, Error, ErrorKind, Problems, RowSink, Source, TableSchema, Value};

use crate::config::ReadLimits;
use crate::convert::{cell_to_value, Raw};
use crate::error::{self, file};

/// Cells outside the header's columns listed by reference in a summary.
const LIST_BEYOND: usize = 20;

/// How a sheet's columns line up with a table's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SheetLayout {
    /// Schema indices of the columns the sheet supplies, ascending: the
    /// values of every row passed to the sink are these columns, in this order.
    pub columns: Vec<usize>,
    /// Header names that match no column of the schema (their cells are not read).
    pub unknown: Vec<String>,
    /// Schema columns the sheet has no header for.
    pub missing: Vec<String>,
    /// The header's row number (1-based, as Excel shows it).
    pub header_row: u32,
    /// Zero-based sheet columns of the header's first and last cell.
    first_col: u32,
    last_col: u32,
    /// Per sheet column from `first_col`: its position in `columns`, if read.
    slots: Vec<Option<usize>>,
}

/// What a read found besides the rows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadSummary {
    /// Rows passed to the sink.
    pub rows: u64,
    /// Blank rows between data rows, skipped. Blank (or formatted but empty)
    /// rows after the last data row are not counted.
    pub blank_rows_skipped: u64,
    /// The last data row's number (1-based); the header's when there is none.
    pub last_row: u32,
    /// Cells that hold data left or right of the header's columns (the first
    /// few, as `H7`); they were not read.
    pub beyond_header: Vec<String>,
    /// How many such cells there are in all.
    pub beyond_header_cells: u64,
}

/// A sheet of an .xlsx workbook, open for reading.
///
/// Memory stays bounded as the sheet grows: cells are streamed from the
/// sheet's XML one at a time. The one thing held whole is the workbook's
/// shared-strings table (every distinct text of the workbook), which grows
/// with the file; [`ReadLimits`] caps its size.
pub struct XlsxSource {
    path: PathBuf,
    workbook: Xlsx<BufReader<File>>,
    sheet: String,
    epoch: SerialEpoch,
    allow_empty: bool,
    /// For [`Source`]: the table the sheet is read as, and its layout once known.
    schema: Option<TableSchema>,
    layout: Option<SheetLayout>,
}

const ZIP_MAGIC: &[u8] = b"PK\x03\x04";
const EMPTY_ZIP_MAGIC: &[u8] = b"PK\x05\x06";
const CFB_MAGIC: &[u8] = &[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];

impl XlsxSource {
    /// Opens `sheet` of the workbook at `path` (the first sheet when `None`),
    /// with the default [`ReadLimits`].
    pub fn open(path: &Path, sheet: Option<&str>) -> Result<XlsxSource, Error> {
        Self::open_with_limits(path, sheet, &ReadLimits::default())
    }

    /// Opens a sheet to be read as `schema` through [`Source`].
    pub fn open_with_schema(
        path: &Path,
        sheet: Option<&str>,
        schema: TableSchema,
    ) -> Result<XlsxSource, Error> {
        let mut s = Self::open(path, sheet)?;
        s.schema = Some(schema);
        Ok(s)
    }

    pub fn open_with_limits(
        path: &Path,
        sheet: Option<&str>,
        limits: &ReadLimits,
    ) -> Result<XlsxSource, Error> {
        let f = open_checked(path, limits)?;
        let workbook: Xlsx<BufReader<File>> =
            Xlsx::new(BufReader::new(f)).map_err(|e| error::reader(path, None, e))?;

        let names = workbook.sheet_names();
        if names.is_empty() {
            return Err(Error::new(ErrorKind::InvalidInput, format!("{} has no sheets", file(path))));
        }
        let sheet = match sheet {
            None => names[0].clone(),
            Some(want) => match names.iter().find(|n| *n == want) {
                Some(n) => n.clone(),
                None => {
                    // Excel treats sheet names case-insensitively.
                    let folded: Vec<&String> =
                        names.iter().filter(|n| n.to_lowercase() == want.to_lowercase()).collect();
                    match folded.as_slice() {
                        [one] => (*one).clone(),
                        _ => {
                            let list: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
                            return Err(Error::new(
                                ErrorKind::NotFound,
                                format!(
                                    "{} has no sheet `{want}`; its sheets are {}",
                                    file(path),
                                    list.join(", ")
                                ),
                            ));
                        }
                    }
                }
            },
        };
        let epoch = if workbook.has_1904_epoch() { SerialEpoch::Excel1904 } else { SerialEpoch::Excel1900 };
        Ok(XlsxSource {
            path: path.to_owned(),
            workbook,
            sheet,
            epoch,
            allow_empty: false,
            schema: None,
            layout: None,
        })
    }

    /// The sheet being read.
    pub fn sheet(&self) -> &str {
        &self.sheet
    }

    /// The workbook's date system (1904 for some old Mac workbooks).
    pub fn epoch(&self) -> SerialEpoch {
        self.epoch
    }

    /// Whether a sheet with a header row and no data rows reads as an empty
    /// table (`true`) or is an error (`false`, the default: an import of
    /// nothing is usually the wrong sheet or file).
    pub fn allow_empty(&mut self, allow: bool) -> &mut Self {
        self.allow_empty = allow;
        self
    }

    fn at(&self) -> String {
        format!("{} sheet `{}`", file(&self.path), self.sheet)
    }

    /// Reads the header row (the first row holding anything) and matches its
    /// names to `schema`'s columns by the rules every connector shares
    /// ([`sheetbridge_core::layout`]): exactly first, then ignoring case and
    /// surrounding blanks where that is unambiguous. Columns may be in any
    /// order; duplicate names and blank header cells between names are errors.
    pub fn layout(&mut self, schema: &TableSchema) -> Result<SheetLayout, Error> {
        let at = self.at();
        let (path, sheet) = (self.path.clone(), self.sheet.clone());
        let mut cells = self
            .workbook
            .worksheet_cells_reader(&sheet)
            .map_err(|e| error::reader(&path, Some(&sheet), e))?;
        let mut header: Vec<(u32, String)> = Vec::new();
        let mut header_row = None;
        while let Some(cell) = cells.next_cell().map_err(|e| error::reader(&path, Some(&sheet), e))? {
            let (r, c) = cell.get_position();
            if header_row.is_some_and(|h| r > h) {
                break;
            }
            let text = match cell.get_value() {
                DataRef::Empty => continue,
                DataRef::String(s) => s.clone(),
                DataRef::SharedString(s) => (*s).to_owned(),
                DataRef::Float(f) => number_text(*f),
                DataRef::Int(i) => i.to_string(),
                DataRef::Bool(b) => if *b { "TRUE" } else { "FALSE" }.to_owned(),
                DataRef::DateTime(d) => number_text(d.as_f64()),
                DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => s.clone(),
                DataRef::Error(e) => e.to_string(),
            };
            if text.is_empty() {
                continue;
            }
            header_row = Some(r);
            header.push((c, text));
        }
        let Some(header_row) = header_row else {
            return Err(Error::new(ErrorKind::InvalidInput, format!("{at} is empty: it has no header row")));
        };
        header.sort_by_key(|(c, _)| *c);
        let shared = layout::match_header(&at, header_row, &header, schema)?;
        let first_col = header[0].0;
        let last_col = header[header.len() - 1].0;
        let mut slots = vec![None; (last_col - first_col + 1) as usize];
        for (slot, &c) in shared.sheet_columns.iter().enumerate() {
            slots[(c - first_col) as usize] = Some(slot);
        }
        Ok(SheetLayout {
            columns: shared.columns,
            unknown: shared.unknown,
            missing: shared.missing,
            header_row: shared.header_row,
            first_col,
            last_col,
            slots,
        })
    }

    /// Streams the data rows below the header to `sink` as `(sheet row
    /// number, values of layout.columns)`, converting every cell to its
    /// column's type.
    ///
    /// Every bad cell is collected, and reading goes on; rows with a bad cell
    /// are not passed to the sink. If any cell was bad, the result is a
    /// [`ErrorKind::Conversion`] error listing them all (the sink then saw
    /// only the good rows and must discard them). An error from the sink
    /// stops the read at once. The sink may take the values it is given
    /// (`std::mem::take`): every slot is rewritten for the next row.
    ///
    /// This is [`XlsxSource::read_cells`] and a [`RowConverter`] on one
    /// thread; a caller with a second core to spare runs them on two.
    pub fn read<F>(
        &mut self,
        layout: &SheetLayout,
        schema: &TableSchema,
        mut sink: F,
    ) -> Result<ReadSummary, Error>
    where
        F: FnMut(u32, &mut [Value]) -> Result<(), Error>,
    {
        let mut converter = self.converter(layout, schema)?;
        let mut values = vec![Value::Null; layout.columns.len()];
        let mut good = 0u64;
        let mut summary = self.read_cells(layout, |row_number, cells| {
            if converter.convert(row_number, cells, &mut values) {
                good += 1;
                sink(row_number, &mut values)?;
            }
            Ok(())
        })?;
        converter.finish()?;
        summary.rows = good;
        Ok(summary)
    }

    /// A converter of this sheet's rows (as [`XlsxSource::read_cells`]
    /// yields them) to `schema`'s types.
    pub fn converter(&self, layout: &SheetLayout, schema: &TableSchema) -> Result<RowConverter, Error> {
        let at = self.at();
        let cols = layout::layout_columns(&at, &layout.columns, schema)?;
        // The sheet column each slot is read from, for messages.
        let mut sheet_cols = vec![0u32; layout.columns.len()];
        for (offset, slot) in layout.slots.iter().enumerate() {
            if let Some(slot) = slot {
                sheet_cols[*slot] = layout.first_col + offset as u32;
            }
        }
        Ok(RowConverter { at, epoch: self.epoch, cols, sheet_cols, problems: Problems::default() })
    }

    /// Streams the data rows below the header to `sink` as `(sheet row
    /// number, cells of layout.columns)`, unconverted: the cheap part of a
    /// read, which a [`RowConverter`] completes (on another thread if one is
    /// free). The sink may take the cells: every slot is rewritten for the
    /// next row. Blank rows are skipped and counted; cells outside the
    /// header's columns are counted and listed. A sheet with a header and no
    /// data rows is an error unless [`XlsxSource::allow_empty`].
    pub fn read_cells<F>(&mut self, layout: &SheetLayout, mut sink: F) -> Result<ReadSummary, Error>
    where
        F: FnMut(u32, &mut [Cell]) -> Result<(), Error>,
    {
        let at = self.at();
        let (path, sheet) = (self.path.clone(), self.sheet.clone());
        let header_row = layout.header_row - 1;
        let mut reader = self
            .workbook
            .worksheet_cells_reader(&sheet)
            .map_err(|e| error::reader(&path, Some(&sheet), e))?;

        let mut summary = ReadSummary { last_row: layout.header_row, ..ReadSummary::default() };
        let mut cells = vec![Cell::Empty; layout.columns.len()];
        let mut current: Option<u32> = None;
        let mut row_has_data = false;
        // Blank rows seen since the last data row; they count as skipped
        // only when a data row follows.
        let mut pending_blank = 0u64;
        let mut last_seen = header_row;

        let mut finish_row = |r: u32,
                              cells: &mut Vec<Cell>,
                              row_has_data: bool,
                              summary: &mut ReadSummary,
                              pending_blank: &mut u64|
         -> Result<(), Error> {
            if !row_has_data {
                *pending_blank += 1;
                return Ok(());
            }
            summary.blank_rows_skipped += *pending_blank;
            *pending_blank = 0;
            summary.last_row = r + 1;
            summary.rows += 1;
            sink(r + 1, cells)?;
            cells.iter_mut().for_each(|c| *c = Cell::Empty);
            Ok(())
        };

        while let Some(cell) =
            reader.next_cell_with_formula_metadata().map_err(|e| error::reader(&path, Some(&sheet), e))?
        {
            let (r, c) = cell.pos;
            if r <= header_row {
                continue;
            }
            if current != Some(r) {
                if let Some(prev) = current {
                    finish_row(prev, &mut cells, row_has_data, &mut summary, &mut pending_blank)?;
                    last_seen = prev;
                }
                // Rows missing from the file between two rows are blank rows.
                pending_blank += u64::from(r.saturating_sub(last_seen + 1));
                current = Some(r);
                row_has_data = false;
            }
            let value = match &cell.value {
                // A formula the writing program never calculated.
                DataRef::Empty if cell.formula.is_some() => Cell::Uncalculated,
                DataRef::Empty => continue,
                DataRef::String(s) => Cell::Text(s.clone()),
                DataRef::SharedString(s) => Cell::Text((*s).to_owned()),
                DataRef::Float(f) => Cell::Number(*f),
                DataRef::Int(i) => Cell::Number(*i as f64),
                DataRef::Bool(b) => Cell::Bool(*b),
                DataRef::DateTime(d) => Cell::Number(d.as_f64()),
                DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => Cell::Iso(s.clone()),
                DataRef::Error(e) => Cell::Error(e.to_string()),
            };
            if c < layout.first_col || c > layout.last_col {
                if !matches!(value, Cell::Uncalculated) {
                    summary.beyond_header_cells += 1;
                    if summary.beyond_header.len() < LIST_BEYOND {
                        summary.beyond_header.push(a1::cell(r, c));
                    }
                }
                continue;
            }
            let Some(slot) = slot_of(layout, c) else { continue };
            row_has_data = true;
            cells[slot] = value;
        }
        if let Some(prev) = current {
            finish_row(prev, &mut cells, row_has_data, &mut summary, &mut pending_blank)?;
        }
        if summary.rows == 0 && !self.allow_empty {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                format!("{at} has a header row but no data rows below it"),
            ));
        }
        Ok(summary)
    }

    fn ensure_layout(&mut self) -> Result<(TableSchema, SheetLayout), Error> {
        let schema = self.schema.clone().ok_or_else(|| {
            Error::new(
                ErrorKind::InvalidInput,
                format!("{}: no table schema was given to read the sheet as", self.at()),
            )
        })?;
        let layout = match &self.layout {
            Some(l) => l.clone(),
            None => {
                let l = self.layout(&schema)?;
                layout::check_keys(&self.at(), &schema, &l.missing)?;
                self.layout = Some(l.clone());
                l
            }
        };
        Ok((schema, layout))
    }
}

/// A cell as the sheet holds it, before conversion to its column's type.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Cell {
    /// No cell, or a cell with nothing in it.
    #[default]
    Empty,
    /// A shared or inline string, or a formula's cached text.
    Text(String),
    /// A number (dates are numbers: serials of the workbook's epoch).
    Number(f64),
    Bool(bool),
    /// An ISO 8601 date/time cell (`t="d"`).
    Iso(String),
    /// A spreadsheet error value (`#DIV/0!`).
    Error(String),
    /// A formula with no calculated value in the file.
    Uncalculated,
}

/// Converts rows of [`Cell`]s to a table's values, collecting every bad
/// cell. Made by [`XlsxSource::converter`]; `Send`, so it can run on
/// another thread than the reading.
#[derive(Debug)]
pub struct RowConverter {
    at: String,
    epoch: SerialEpoch,
    cols: Vec<sheetbridge_core::Column>,
    sheet_cols: Vec<u32>,
    problems: Problems,
}

impl RowConverter {
    /// Converts one row into `out` (same length). False when a cell is bad:
    /// the problem is kept for [`RowConverter::finish`] and the row must be
    /// skipped. Cells are taken (left empty).
    pub fn convert(&mut self, row_number: u32, cells: &mut [Cell], out: &mut [Value]) -> bool {
        let r = row_number - 1;
        let mut good = true;
        for (slot, (cell, value)) in cells.iter_mut().zip(out.iter_mut()).enumerate() {
            let col = &self.cols[slot];
            let cell = std::mem::take(cell);
            let raw = match &cell {
                Cell::Empty => {
                    *value = Value::Null;
                    // An empty cell where the table needs a value and cannot make one.
                    if !col.nullable && !col.fills_itself() {
                        good = false;
                        self.problem(
                            r,
                            slot,
                            "an empty cell".into(),
                            "is not allowed: the column is NOT NULL and has no default".into(),
                        );
                    }
                    continue;
                }
                Cell::Uncalculated => {
                    good = false;
                    self.problem(
                        r,
                        slot,
                        "a formula".into(),
                        "has no calculated value in the file; open and save it in Excel or LibreOffice to \
                         calculate it"
                            .into(),
                    );
                    continue;
                }
                Cell::Text(s) => Raw::Text(s),
                Cell::Number(f) => Raw::Number(*f),
                Cell::Bool(b) => Raw::Bool(*b),
                Cell::Iso(s) => Raw::Iso(s),
                Cell::Error(e) => Raw::Error(e),
            };
            match cell_to_value(&col.ty, raw, self.epoch) {
                Ok(v) => {
                    if v.is_null() && !col.nullable && !col.fills_itself() {
                        good = false;
                        self.problem(
                            r,
                            slot,
                            raw.shown(),
                            "is empty, but the column is NOT NULL and has no default".into(),
                        );
                    }
                    *value = v;
                }
                Err(reason) => {
                    good = false;
                    self.problem(r, slot, raw.shown(), reason.0);
                }
            }
        }
        good
    }

    fn problem(&mut self, r: u32, slot: usize, value: String, reason: String) {
        let col = &self.cols[slot];
        self.problems.push(CellProblem {
            at: a1::cell(r, self.sheet_cols[slot]),
            column: col.name.clone(),
            type_name: col.type_name.clone(),
            value,
            reason,
        });
    }

    /// How many bad cells were found so far.
    pub fn bad_cells(&self) -> usize {
        self.problems.len()
    }

    /// `Ok` when every cell converted; else the conversion error listing them all.
    pub fn finish(self) -> Result<(), Error> {
        self.problems.into_result(&format!("import {}", self.at))
    }
}

fn slot_of(layout: &SheetLayout, c: u32) -> Option<usize> {
    if c < layout.first_col {
        return None;
    }
    layout.slots.get((c - layout.first_col) as usize).copied().flatten()
}

/// Reading through the contract: the sheet as the table given to
/// [`XlsxSource::open_with_schema`], limited to the columns the sheet has
/// (every key column must be there). Reading is blocking file IO; an async
/// caller runs it where blocking is allowed.
impl Source for XlsxSource {
    async fn schema(&mut self) -> Result<TableSchema, Error> {
        let (mut schema, layout) = self.ensure_layout()?;
        let keep: Vec<String> = layout.columns.iter().map(|&i| schema.columns[i].name.clone()).collect();
        // Invariant: every name comes from the schema itself.
        let _ = schema.project(&keep);
        Ok(schema)
    }

    async fn scan<S: RowSink + Send>(&mut self, sink: &mut S) -> Result<u64, Error> {
        let (schema, layout) = self.ensure_layout()?;
        let summary = self.read(&layout, &schema, |_, row| sink.row(row))?;
        Ok(summary.rows)
    }
}

/// Opens the workbook at `path` after checking it is one: not missing, not
/// empty, not an OLE file (encrypted or .xls), a zip archive within
/// `limits`. The file is returned rewound.
pub(crate) fn open_checked(path: &Path, limits: &ReadLimits) -> Result<File, Error> {
    let mut f = File::open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => {
            Error::new(ErrorKind::NotFound, format!("{} does not exist", file(path))).with_source(e)
        }
        _ => error::io(path, "open it", e),
    })?;
    let mut magic = [0u8; 8];
    let n = read_up_to(&mut f, &mut magic).map_err(|e| error::io(path, "read it", e))?;
    let magic = &magic[..n];
    if magic.starts_with(CFB_MAGIC) {
        return Err(cfb_error(path, f));
    }
    if n == 0 {
        return Err(Error::new(ErrorKind::InvalidInput, format!("{} is empty (0 bytes)", file(path))));
    }
    if !magic.starts_with(ZIP_MAGIC) && !magic.starts_with(EMPTY_ZIP_MAGIC) {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            format!(
                "{} is not an .xlsx workbook: it is not a zip archive (a CSV or text file renamed to .xlsx?)",
                file(path)
            ),
        ));
    }
    f.seek(SeekFrom::Start(0)).map_err(|e| error::io(path, "read it", e))?;
    check_zip(path, &mut f, limits)?;
    f.seek(SeekFrom::Start(0)).map_err(|e| error::io(path, "read it", e))?;
    Ok(f)
}

fn read_up_to(f: &mut File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// An OLE compound file: an encrypted OOXML workbook or an old binary .xls.
fn cfb_error(path: &Path, f: File) -> Error {
    let encrypted = holds_encrypted_package(f);
    let what = if encrypted {
        "is password-protected (encrypted); remove the password (File > Info > Protect Workbook in \
         Excel) and save it again"
    } else {
        "is not an .xlsx workbook but an OLE compound file: an old binary .xls workbook, or an \
         encrypted (password-protected) one; save it as .xlsx without a password"
    };
    Error::new(ErrorKind::InvalidInput, format!("{} {what}", file(path)))
}

/// Whether a compound file has the `EncryptedPackage` stream an encrypted
/// OOXML workbook is stored in: its directory entry holds the name in UTF-16LE.
///
/// Regression: this used to ask calamine, whose compound-file reader panics on a
/// damaged directory (an out-of-range slice in `cfb.rs`, found by the
/// `xlsx_read` fuzz target); the name is now looked for directly, streaming.
fn holds_encrypted_package(mut f: File) -> bool {
    let name: Vec<u8> = "EncryptedPackage".encode_utf16().flat_map(u16::to_le_bytes).collect();
    let mut window = vec![0u8; 64 * 1024 + name.len()];
    let mut kept = 0;
    loop {
        let n = match f.read(&mut window[kept..]) {
            Ok(0) | Err(_) => return false,
            Ok(n) => n,
        };
        let filled = kept + n;
        if window[..filled].windows(name.len()).any(|w| w == name.as_slice()) {
            return true;
        }
        // Keep the tail, in case the name straddles two reads.
        kept = (name.len() - 1).min(filled);
        window.copy_within(filled - kept..filled, 0);
    }
}

/// Refuses archives whose parts would inflate beyond `limits` (zip bombs),
/// before anything is inflated.
fn check_zip(path: &Path, f: &mut File, limits: &ReadLimits) -> Result<(), Error> {
    let mut zip = zip::ZipArchive::new(&mut *f).map_err(|e| {
        Error::new(
            ErrorKind::InvalidInput,
            format!("{} is damaged or truncated: its zip archive cannot be read ({e})", file(path)),
        )
        .with_source(e)
    })?;
    let mut total: u64 = 0;
    for i in 0..zip.len() {
        let entry = zip.by_index_raw(i).map_err(|e| {
            Error::new(ErrorKind::InvalidInput, format!("{} is damaged: {e}", file(path))).with_source(e)
        })?;
        let (size, packed) = (entry.size(), entry.compressed_size());
        let name = entry.name().map(|n| n.into_owned()).unwrap_or_else(|_| format!("#{i}"));
        let bomb = |why: String| {
            Err(Error::new(
                ErrorKind::LimitExceeded,
                format!("{}: part `{name}` {why}; refusing to read it (a zip bomb?)", file(path)),
            ))
        };
        if size > limits.max_part_bytes {
            return bomb(format!(
                "would inflate to {size} bytes, more than the limit of {}",
                limits.max_part_bytes
            ));
        }
        if size >= limits.ratio_from_bytes && size / packed.max(1) > limits.max_ratio {
            return bomb(format!(
                "would inflate {}× ({packed} bytes to {size}), more than the limit of {}×",
                size / packed.max(1),
                limits.max_ratio
            ));
        }
        total = total.saturating_add(size);
        if total > limits.max_total_bytes {
            return bomb(format!(
                "brings the inflated size of the archive past the limit of {} bytes",
                limits.max_total_bytes
            ));
        }
    }
    Ok(())
}
