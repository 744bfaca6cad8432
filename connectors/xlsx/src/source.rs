//! Reading a sheet of an .xlsx workbook as rows of a table, streamed.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use calamine::{DataRef, Reader, Xlsx};
use sheetbridge_core::convert::{number_text, SerialEpoch};
use sheetbridge_core::{CellProblem, Error, ErrorKind, Problems, RowSink, Source, TableSchema, Value};

use crate::config::ReadLimits;
use crate::convert::{cell_to_value, Raw};
use crate::error::{self, file};
use crate::limits::cell_ref;

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
    /// names to `schema`'s columns: exactly first, then ignoring case and
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
        let first_col = header[0].0;
        let last_col = header[header.len() - 1].0;
        for pair in header.windows(2) {
            if pair[1].0 != pair[0].0 + 1 {
                return Err(Error::new(
                    ErrorKind::InvalidInput,
                    format!(
                        "{at}: header cell {} is blank but {} (`{}`) follows it; name the column or delete it",
                        cell_ref(header_row, pair[0].0 + 1),
                        cell_ref(header_row, pair[1].0),
                        pair[1].1
                    ),
                ));
            }
        }
        let refs = |c: u32| cell_ref(header_row, c);

        // Which header cell each schema column matched.
        let mut matched: Vec<Option<usize>> = vec![None; schema.columns.len()];
        let mut header_match: Vec<Option<usize>> = vec![None; header.len()];
        for (h, (c, name)) in header.iter().enumerate() {
            if let Some(dup) = header[..h].iter().find(|(_, n)| n == name) {
                return Err(Error::new(
                    ErrorKind::InvalidInput,
                    format!("{at}: header cells {} and {} are both named `{name}`", refs(dup.0), refs(*c)),
                ));
            }
            if let Some((i, _)) = schema.column(name) {
                matched[i] = Some(h);
                header_match[h] = Some(i);
            }
        }
        let fold = |s: &str| s.trim().to_lowercase();
        for h in 0..header.len() {
            if header_match[h].is_some() {
                continue;
            }
            let key = fold(&header[h].1);
            let candidates: Vec<usize> = schema
                .columns
                .iter()
                .enumerate()
                .filter(|(i, col)| matched[*i].is_none() && fold(&col.name) == key)
                .map(|(i, _)| i)
                .collect();
            if let [i] = candidates.as_slice() {
                let rivals: Vec<usize> = (0..header.len())
                    .filter(|&o| o != h && header_match[o].is_none() && fold(&header[o].1) == key)
                    .collect();
                if let Some(&o) = rivals.first() {
                    return Err(Error::new(
                        ErrorKind::InvalidInput,
                        format!(
                            "{at}: header cells {} (`{}`) and {} (`{}`) both match column `{}`; rename one",
                            refs(header[h.min(o)].0),
                            header[h.min(o)].1,
                            refs(header[h.max(o)].0),
                            header[h.max(o)].1,
                            schema.columns[*i].name
                        ),
                    ));
                }
                matched[*i] = Some(h);
                header_match[h] = Some(*i);
            }
        }

        let columns: Vec<usize> = (0..schema.columns.len()).filter(|&i| matched[i].is_some()).collect();
        let mut slots = vec![None; (last_col - first_col + 1) as usize];
        for (slot, &i) in columns.iter().enumerate() {
            if let Some(h) = matched[i] {
                slots[(header[h].0 - first_col) as usize] = Some(slot);
            }
        }
        Ok(SheetLayout {
            columns,
            unknown: header
                .iter()
                .zip(&header_match)
                .filter(|(_, m)| m.is_none())
                .map(|((_, n), _)| n.clone())
                .collect(),
            missing: schema
                .columns
                .iter()
                .zip(&matched)
                .filter(|(_, m)| m.is_none())
                .map(|(c, _)| c.name.clone())
                .collect(),
            header_row: header_row + 1,
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
    /// (`std::mem::take`): every slot is reset before the next row.
    pub fn read<F>(
        &mut self,
        layout: &SheetLayout,
        schema: &TableSchema,
        mut sink: F,
    ) -> Result<ReadSummary, Error>
    where
        F: FnMut(u32, &mut [Value]) -> Result<(), Error>,
    {
        let at = self.at();
        let (path, sheet, epoch) = (self.path.clone(), self.sheet.clone(), self.epoch);
        let cols: Vec<&sheetbridge_core::Column> = layout
            .columns
            .iter()
            .map(|&i| {
                schema.columns.get(i).ok_or_else(|| {
                    Error::new(
                        ErrorKind::InvalidInput,
                        format!("{at}: the layout does not belong to this schema"),
                    )
                })
            })
            .collect::<Result<_, _>>()?;
        let header_row = layout.header_row - 1;
        let mut cells = self
            .workbook
            .worksheet_cells_reader(&sheet)
            .map_err(|e| error::reader(&path, Some(&sheet), e))?;

        let mut summary = ReadSummary { last_row: layout.header_row, ..ReadSummary::default() };
        let mut problems = Problems::default();
        let mut values = vec![Value::Null; cols.len()];
        let mut current: Option<u32> = None;
        let mut row_bad = false;
        let mut row_has_data = false;
        let mut bad_rows = 0u64;
        // Blank rows seen since the last data row; they count as skipped
        // only when a data row follows.
        let mut pending_blank = 0u64;
        let mut last_seen = header_row;

        // The sheet column each slot is read from, for messages.
        let mut sheet_cols = vec![0u32; cols.len()];
        for (offset, slot) in layout.slots.iter().enumerate() {
            if let Some(slot) = slot {
                sheet_cols[*slot] = layout.first_col + offset as u32;
            }
        }
        let mut finish_row = |r: u32,
                              values: &mut Vec<Value>,
                              row_has_data: bool,
                              mut row_bad: bool,
                              summary: &mut ReadSummary,
                              pending_blank: &mut u64,
                              bad_rows: &mut u64,
                              problems: &mut Problems|
         -> Result<(), Error> {
            if !row_has_data {
                *pending_blank += 1;
                return Ok(());
            }
            summary.blank_rows_skipped += *pending_blank;
            *pending_blank = 0;
            summary.last_row = r + 1;
            // An empty cell where the table needs a value and cannot make one.
            for (slot, col) in cols.iter().enumerate() {
                if values[slot].is_null() && !col.nullable && !col.fills_itself() {
                    row_bad = true;
                    problems.push(CellProblem {
                        at: cell_ref(r, sheet_cols[slot]),
                        column: col.name.clone(),
                        type_name: col.type_name.clone(),
                        value: "an empty cell".into(),
                        reason: "is not allowed: the column is NOT NULL and has no default".into(),
                    });
                }
            }
            if row_bad {
                *bad_rows += 1;
            } else {
                sink(r + 1, values)?;
                summary.rows += 1;
            }
            values.iter_mut().for_each(|v| *v = Value::Null);
            Ok(())
        };

        while let Some(cell) =
            cells.next_cell_with_formula_metadata().map_err(|e| error::reader(&path, Some(&sheet), e))?
        {
            let (r, c) = cell.pos;
            if r <= header_row {
                continue;
            }
            if current != Some(r) {
                if let Some(prev) = current {
                    finish_row(
                        prev,
                        &mut values,
                        row_has_data,
                        row_bad,
                        &mut summary,
                        &mut pending_blank,
                        &mut bad_rows,
                        &mut problems,
                    )?;
                    last_seen = prev;
                }
                // Rows missing from the file between two rows are blank rows.
                pending_blank += u64::from(r.saturating_sub(last_seen + 1));
                current = Some(r);
                row_bad = false;
                row_has_data = false;
            }
            let iso;
            let raw = match &cell.value {
                DataRef::Empty => {
                    if cell.formula.is_none() {
                        continue;
                    }
                    // A formula the writing program never calculated.
                    if let Some(slot) = slot_of(layout, c) {
                        row_has_data = true;
                        row_bad = true;
                        values[slot] = Value::Error(String::new());
                        let col = cols[slot];
                        problems.push(CellProblem {
                            at: cell_ref(r, c),
                            column: col.name.clone(),
                            type_name: col.type_name.clone(),
                            value: "a formula".into(),
                            reason: "has no calculated value in the file; open and save it in Excel or \
                                     LibreOffice to calculate it"
                                .into(),
                        });
                    }
                    continue;
                }
                DataRef::String(s) => Raw::Text(s),
                DataRef::SharedString(s) => Raw::Text(s),
                DataRef::Float(f) => Raw::Number(*f),
                DataRef::Int(i) => Raw::Number(*i as f64),
                DataRef::Bool(b) => Raw::Bool(*b),
                DataRef::DateTime(d) => Raw::Number(d.as_f64()),
                DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => Raw::Iso(s),
                DataRef::Error(e) => {
                    iso = e.to_string();
                    Raw::Error(&iso)
                }
            };
            if c < layout.first_col || c > layout.last_col {
                summary.beyond_header_cells += 1;
                if summary.beyond_header.len() < LIST_BEYOND {
                    summary.beyond_header.push(cell_ref(r, c));
                }
                continue;
            }
            let Some(slot) = slot_of(layout, c) else { continue };
            row_has_data = true;
            let col = cols[slot];
            match cell_to_value(&col.ty, raw, epoch) {
                Ok(v) => values[slot] = v,
                Err(reason) => {
                    row_bad = true;
                    // Not empty: this cell's problem is reported already.
                    values[slot] = Value::Error(String::new());
                    problems.push(CellProblem {
                        at: cell_ref(r, c),
                        column: col.name.clone(),
                        type_name: col.type_name.clone(),
                        value: raw.shown(),
                        reason: reason.0,
                    });
                }
            }
        }
        if let Some(prev) = current {
            finish_row(
                prev,
                &mut values,
                row_has_data,
                row_bad,
                &mut summary,
                &mut pending_blank,
                &mut bad_rows,
                &mut problems,
            )?;
        }
        problems.into_result(&format!("import {at}"))?;
        if summary.rows == 0 && bad_rows == 0 && !self.allow_empty {
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
                let missing_keys: Vec<&str> = schema
                    .columns
                    .iter()
                    .filter(|c| c.key && l.missing.contains(&c.name))
                    .map(|c| c.name.as_str())
                    .collect();
                if !missing_keys.is_empty() {
                    return Err(Error::new(
                        ErrorKind::SchemaMismatch,
                        format!(
                            "{}: the header has no key column {}; rows cannot be matched without it",
                            self.at(),
                            missing_keys.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ")
                        ),
                    ));
                }
                self.layout = Some(l.clone());
                l
            }
        };
        Ok((schema, layout))
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
    // calamine recognises the encrypted package inside the compound file.
    let encrypted = matches!(Xlsx::new(BufReader::new(f)), Err(calamine::XlsxError::Password));
    let what = if encrypted {
        "is password-protected (encrypted); remove the password (File > Info > Protect Workbook in \
         Excel) and save it again"
    } else {
        "is not an .xlsx workbook but an OLE compound file: an old binary .xls workbook, or an \
         encrypted (password-protected) one; save it as .xlsx without a password"
    };
    Error::new(ErrorKind::InvalidInput, format!("{} {what}", file(path)))
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
