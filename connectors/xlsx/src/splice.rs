//! Rewriting one sheet of an existing workbook and keeping everything else:
//! the rows go through [`XlsxWriter`] into a scratch workbook (so the sheet
//! has exactly the cells, formats, dropdowns, frozen bold header and
//! autofilter an export writes), then that sheet is spliced into a copy of
//! the workbook at the zip level, and the copy is renamed over the original.
//!
//! What the copy keeps byte for byte: every zip entry except those listed
//! here (compressed data copied as it is, not inflated): other sheets,
//! shared strings, the theme, drawings and charts, defined names' other
//! entries, document properties. What it rewrites:
//!
//! - the synced sheet's XML (its style indices remapped into the workbook's
//!   style sheet, strings inline, so the shared-strings table is unchanged);
//!   of its old relationships only its drawing is kept (charts and
//!   pictures placed over the sheet stay where they were); the parts only
//!   the others led to (comments, tables: tied to the old rows, they do not
//!   fit the new ones) are left out, with their content types;
//! - `styles.xml`: our fonts, number formats and cell formats appended after
//!   the workbook's own (reused when equal), so every index other sheets use
//!   keeps its meaning;
//! - `workbook.xml`: the sheet's hidden `_xlnm._FilterDatabase` name (the
//!   autofilter range), `fullCalcOnLoad="1"` on `<calcPr>` (formulas on other
//!   sheets that read the synced one are calculated again on opening), and
//!   a `<sheet>` entry when the sheet is new;
//! - `calcChain.xml` is dropped with its relationship and content type
//!   (Excel rebuilds it; its entries for the old cells would be wrong);
//! - for a new sheet: its relationship and its content type.
//!
//! `docProps/app.xml` (the sheet titles Excel lists in File > Info) is not
//! updated when a sheet is added; Excel rewrites it on its next save.
//! Formulas on other sheets keep their stored results until calculated:
//! Excel calculates on opening (`fullCalcOnLoad`); LibreOffice shows the
//! stored results of a workbook that has them until recalculated (Data >
//! Calculate > Recalculate Hard), unless its "Recalculation on File Load"
//! setting for Excel files is "Always".

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{BufReader, Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use sheetbridge_core::a1;
use sheetbridge_core::{Error, ErrorKind, RowSink, TableSchema, Value};
use tempfile::{NamedTempFile, TempDir};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipArchive, ZipWriter};

use crate::backup;
use crate::config::{ReadLimits, RewriteOptions, WriteOptions};
use crate::error::{self, file};
use crate::limits;
use crate::lock;
use crate::ooxml::{self, SheetFit, WorkbookEdit};
use crate::source::open_checked;
use crate::target::{WriteReport, XlsxWriter};

const WORKSHEET_TYPE: &str = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet";
const STYLES_TYPE: &str = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles";
const WORKSHEET_CONTENT: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml";
const STYLES_CONTENT: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml";

/// What a finished rewrite did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RewriteReport {
    /// The workbook replaced (or created).
    pub path: PathBuf,
    pub sheet: String,
    /// Data rows written (the header not counted).
    pub rows: u64,
    /// Size of the workbook written.
    pub bytes: u64,
    /// The sheet did not exist and was added (or the whole workbook was new).
    pub added: bool,
    /// Parts of the workbook copied byte for byte.
    pub kept_parts: usize,
    /// The backup copy of the previous workbook, if one was kept.
    pub backup: Option<PathBuf>,
    /// Older backups removed to keep [`RewriteOptions::keep_backups`].
    pub pruned: Vec<PathBuf>,
    /// Columns whose data validation was left out, with the reason.
    pub skipped_validations: Vec<String>,
}

/// The size and modification time of a file, to notice another program
/// saving it while we write.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Stamp {
    len: u64,
    modified: Option<SystemTime>,
}

fn stamp(path: &Path) -> std::io::Result<Stamp> {
    let m = fs::metadata(path)?;
    Ok(Stamp { len: m.len(), modified: m.modified().ok() })
}

/// Streams rows into one sheet of an existing workbook; [`SheetRewriter::finish`]
/// splices it in and atomically replaces the workbook, keeping every other
/// sheet and part. Dropping it unfinished changes nothing.
pub struct SheetRewriter {
    path: PathBuf,
    sheet: String,
    options: RewriteOptions,
    columns: usize,
    writer: XlsxWriter,
    /// The scratch directory holding the generated workbook (beside the
    /// target, so a large sheet does not fill a small /tmp).
    scratch: Option<TempDir>,
    /// The original's size and time when opened; `None` when there was no
    /// file: the generated workbook is then the result.
    original: Option<Stamp>,
}

impl SheetRewriter {
    /// Checks the sheet name, Excel's limits and a program holding the file
    /// open ([`ErrorKind::Locked`]), then starts the new sheet. Nothing at
    /// `path` changes before [`SheetRewriter::finish`].
    pub fn open(
        path: &Path,
        sheet: &str,
        schema: &TableSchema,
        options: &RewriteOptions,
    ) -> Result<SheetRewriter, Error> {
        options.write_options(sheet).validate()?;
        limits::check_sheet_name(sheet)
            .map_err(|e| Error::new(e.kind().clone(), format!("{}: {}", file(path), e.message())))?;
        lock::check(path, options.force)?;
        let original = match stamp(path) {
            Ok(s) => Some(s),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(error::io(path, "read its size", e)),
        };
        remove_stale_temps(path);
        if original.is_some() {
            // A file that is no workbook is reported before any row is written.
            open_checked(path, &ReadLimits::default())?;
        }
        let (writer, scratch) = match original {
            None => (XlsxWriter::create(path, schema, &options.write_options(sheet))?, None),
            Some(_) => {
                let name = path.file_name().and_then(|n| n.to_str()).ok_or_else(|| {
                    Error::new(ErrorKind::InvalidInput, format!("{}: not a file name", file(path)))
                })?;
                let scratch = tempfile::Builder::new()
                    .prefix(&format!(".{name}.tmp-"))
                    .tempdir_in(dir_of(path))
                    .map_err(|e| error::io(path, "create a scratch directory beside it", e))?;
                // Compression 1: the scratch workbook is read once, right away.
                let scratch_options =
                    WriteOptions { force: true, compression_level: 1, ..options.write_options(sheet) };
                let writer =
                    XlsxWriter::create(&scratch.path().join("sheet.xlsx"), schema, &scratch_options)?;
                (writer, Some(scratch))
            }
        };
        Ok(SheetRewriter {
            path: path.to_owned(),
            sheet: sheet.to_owned(),
            options: options.clone(),
            columns: schema.columns.len(),
            writer,
            scratch,
            original,
        })
    }

    /// Finishes the sheet, splices it into a copy of the workbook, keeps a
    /// backup of the previous file, renames the copy over it and prunes old
    /// backups. A crash at any point leaves the old workbook or the new one,
    /// complete. Refuses ([`ErrorKind::Locked`]) when a program opened the
    /// workbook meanwhile, and ([`ErrorKind::Conflict`]) when it was saved
    /// meanwhile: the next run reads it again.
    pub fn finish(self) -> Result<RewriteReport, Error> {
        let SheetRewriter { path, sheet, options, columns, writer, scratch, original } = self;
        let written = writer.finish()?;
        let (Some(original), Some(scratch)) = (original, scratch) else {
            return Ok(RewriteReport {
                path,
                sheet,
                rows: written.rows,
                bytes: written.bytes,
                added: true,
                kept_parts: 0,
                backup: None,
                pruned: Vec::new(),
                skipped_validations: written.skipped_validations,
            });
        };
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("workbook.xlsx");
        let mut out = tempfile::Builder::new()
            .prefix(&format!(".{name}.tmp-"))
            .tempfile_in(dir_of(&path))
            .map_err(|e| error::io(&path, "create a temporary file beside it", e))?;
        let spliced = splice(&path, &sheet, &written, columns, &options, out.as_file_mut())?;
        let f = out.as_file_mut();
        f.flush().map_err(|e| error::io(&path, "write the workbook", e))?;
        f.sync_all().map_err(|e| error::io(&path, "flush the workbook to disk", e))?;
        let bytes = f.metadata().map(|m| m.len()).unwrap_or(0);
        drop(scratch);
        pause_point("written");

        // The workbook may have been opened or saved while we wrote.
        lock::check(&path, options.force)?;
        let now = stamp(&path).map_err(|e| error::io(&path, "read its size", e))?;
        if now != original {
            return Err(Error::new(
                ErrorKind::Conflict,
                format!(
                    "{} changed while its sheet `{sheet}` was being rewritten (saved by another \
                     program?); it was left as it is, and the next run reads it again",
                    file(&path)
                ),
            ));
        }
        let backup = if options.keep_backups > 0 { Some(backup::make(&path)?) } else { None };
        pause_point("backed-up");
        persist(out, &path)?;
        pause_point("renamed");
        let pruned =
            if options.keep_backups > 0 { backup::prune(&path, options.keep_backups) } else { Vec::new() };
        Ok(RewriteReport {
            path,
            sheet,
            rows: written.rows,
            bytes,
            added: spliced.added,
            kept_parts: spliced.kept_parts,
            backup,
            pruned,
            skipped_validations: written.skipped_validations,
        })
    }
}

impl RowSink for SheetRewriter {
    fn row(&mut self, row: &[Value]) -> Result<(), Error> {
        self.writer.row(row)
    }
}

/// Replaces (or adds) sheet `sheet` of the workbook at `path` with `rows`
/// (values in `schema`'s column order), keeping every other part of the
/// workbook; see [`SheetRewriter`].
pub fn rewrite_sheet<I, R>(
    path: &Path,
    sheet: &str,
    schema: &TableSchema,
    rows: I,
    options: &RewriteOptions,
) -> Result<RewriteReport, Error>
where
    I: IntoIterator<Item = R>,
    R: AsRef<[Value]>,
{
    let mut w = SheetRewriter::open(path, sheet, schema, options)?;
    for row in rows {
        w.row(row.as_ref())?;
    }
    w.finish()
}

fn dir_of(path: &Path) -> &Path {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    }
}

/// Temp files and scratch directories older than this, beside a workbook, are
/// left over from a process killed while writing it.
const STALE_TEMP: Duration = Duration::from_secs(3600);

/// Removes what a killed rewrite of `path` left beside it (`.orders.xlsx.tmp-*`
/// older than [`STALE_TEMP`]; a running writer touches its files far more often).
fn remove_stale_temps(path: &Path) {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else { return };
    let prefix = format!(".{name}.tmp-");
    let Ok(entries) = fs::read_dir(dir_of(path)) else { return };
    for e in entries.flatten() {
        if !e.file_name().to_str().is_some_and(|n| n.starts_with(&prefix)) {
            continue;
        }
        let old = e
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > STALE_TEMP);
        if old {
            let p = e.path();
            let _ = if p.is_dir() { fs::remove_dir_all(&p) } else { fs::remove_file(&p) };
        }
    }
}

fn persist(out: NamedTempFile, path: &Path) -> Result<(), Error> {
    out.persist(path).map_err(|e| error::io(path, "rename the new workbook into place", e.error))?;
    if let Ok(d) = File::open(dir_of(path)) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Stops here when a test asked to (see `testing::PAUSE_AT_ENV`), so it can
/// kill the process at this exact step.
fn pause_point(step: &str) {
    #[cfg(feature = "testing")]
    crate::testing::pause_point(step);
    #[cfg(not(feature = "testing"))]
    let _ = step;
}

struct Spliced {
    added: bool,
    kept_parts: usize,
}

/// A zip archive's entries by lower-cased name, to find parts whatever case
/// a relationship spells them in.
struct Parts<R> {
    zip: ZipArchive<R>,
    names: HashMap<String, String>,
}

impl<R: Read + Seek> Parts<R> {
    fn new(zip: ZipArchive<R>) -> Self {
        let names = zip.file_names().flatten().map(|n| (n.to_lowercase(), n.into_owned())).collect();
        Parts { zip, names }
    }

    fn name(&self, part: &str) -> Option<&str> {
        self.names.get(&part.to_lowercase()).map(String::as_str)
    }

    fn read(&mut self, part: &str) -> Result<Option<Vec<u8>>, String> {
        let Some(name) = self.name(part).map(str::to_owned) else { return Ok(None) };
        let mut f = self.zip.by_name(&name).map_err(|e| format!("cannot open part `{name}`: {e}"))?;
        let mut buf = Vec::with_capacity(f.size().min(64 << 20) as usize);
        f.read_to_end(&mut buf).map_err(|e| format!("cannot inflate part `{name}`: {e}"))?;
        Ok(Some(buf))
    }

    fn need(&mut self, part: &str) -> Result<Vec<u8>, String> {
        self.read(part)?.ok_or_else(|| format!("it has no part `{part}`"))
    }
}

/// The workbook part a package's `_rels/.rels` names.
fn workbook_part<R: Read + Seek>(parts: &mut Parts<R>) -> Result<String, String> {
    let rels = ooxml::parse_rels(&parts.need("_rels/.rels")?)?;
    Ok(rels
        .iter()
        .find(|r| r.is("officeDocument") && !r.external)
        .map(|r| ooxml::resolve("", &r.target))
        .unwrap_or_else(|| "xl/workbook.xml".into()))
}

/// A sheet to put into the workbook: its name, whether hidden, and the part
/// of the scratch workbook holding it.
struct NewSheet {
    name: String,
    hidden: bool,
    from: String,
}

/// Where a sheet of the scratch workbook goes in the output.
struct Placed {
    from: String,
    selected: bool,
    /// The relationship id of the old sheet's drawing, kept on the new one.
    drawing: Option<String>,
}

fn splice(
    path: &Path,
    sheet: &str,
    written: &WriteReport,
    columns: usize,
    options: &RewriteOptions,
    out: &mut File,
) -> Result<Spliced, Error> {
    let bad = |what: String| {
        Error::new(
            ErrorKind::InvalidInput,
            format!("{} cannot have its sheet `{sheet}` rewritten: {what}", file(path)),
        )
    };
    let f = open_checked(path, &ReadLimits::default())?;
    let zip = ZipArchive::new(BufReader::new(f)).map_err(|e| bad(format!("its zip archive: {e}")))?;
    let mut theirs = Parts::new(zip);
    let gen_file = File::open(&written.path).map_err(|e| error::io(&written.path, "open it", e))?;
    let gen_zip = ZipArchive::new(BufReader::new(gen_file))
        .map_err(|e| bad(format!("the generated sheet cannot be read back: {e}")))?;
    let mut ours = Parts::new(gen_zip);

    // The workbook, its relationships, its sheets.
    let wb_part = workbook_part(&mut theirs).map_err(&bad)?;
    let wb_xml = theirs.need(&wb_part).map_err(&bad)?;
    let wb_rels_part = ooxml::rels_of(&wb_part);
    let wb_rels_xml = theirs.need(&wb_rels_part).map_err(&bad)?;
    let wb_rels = ooxml::parse_rels(&wb_rels_xml).map_err(&bad)?;
    let info = ooxml::parse_workbook(&wb_xml).map_err(&bad)?;
    let rel_by_id = |id: &str| wb_rels.iter().find(|r| r.id == id);

    // The scratch workbook's sheets: ours, then the hidden list sheet if any.
    let our_wb = workbook_part(&mut ours).map_err(&bad)?;
    let our_info = ooxml::parse_workbook(&ours.need(&our_wb).map_err(&bad)?).map_err(&bad)?;
    let our_rels = ooxml::parse_rels(&ours.need(&ooxml::rels_of(&our_wb)).map_err(&bad)?).map_err(&bad)?;
    let mut new_sheets = Vec::new();
    for s in &our_info.sheets {
        let rel =
            our_rels.iter().find(|r| r.id == s.rid).ok_or_else(|| bad(format!("sheet `{}`", s.name)))?;
        new_sheets.push(NewSheet {
            name: s.name.clone(),
            hidden: s.state.is_some(),
            from: ooxml::resolve(&our_wb, &rel.target),
        });
    }
    let strings = match ours.read("xl/sharedStrings.xml").map_err(&bad)? {
        Some(x) => ooxml::parse_shared_strings(&x).map_err(&bad)?,
        None => Vec::new(),
    };
    let our_styles = ours.need("xl/styles.xml").map_err(&bad)?;

    let mut edited: HashMap<String, Vec<u8>> = HashMap::new();
    let mut dropped: Vec<String> = Vec::new();
    let mut drop_rels: Vec<String> = Vec::new();
    let mut drop_types: Vec<String> = Vec::new();
    let mut add_rels: Vec<(String, String, String)> = Vec::new();
    let mut add_types: Vec<(String, String)> = Vec::new();
    let mut replaced: HashMap<String, Placed> = HashMap::new();
    let mut appended: Vec<(String, Placed)> = Vec::new();
    let mut edit = WorkbookEdit::default();
    let mut added = false;

    let mut used_ids: Vec<String> = wb_rels.iter().map(|r| r.id.clone()).collect();
    let mut new_rid = || {
        let mut n = used_ids.len() + 1;
        while used_ids.contains(&format!("rId{n}")) {
            n += 1;
        }
        let id = format!("rId{n}");
        used_ids.push(id.clone());
        id
    };
    let worksheet_type =
        wb_rels.iter().find(|r| r.is("worksheet")).map(|r| r.ty.clone()).unwrap_or(WORKSHEET_TYPE.into());
    let wb_dir = wb_part.rsplit_once('/').map(|(d, _)| format!("{d}/")).unwrap_or_default();

    // Styles: ours merged into theirs, or ours as the workbook's when it has none.
    let styles_rel = wb_rels.iter().find(|r| r.is("styles") && !r.external);
    let xf_map = match styles_rel.map(|r| ooxml::resolve(&wb_part, &r.target)) {
        Some(part) if theirs.name(&part).is_some() => {
            let their_styles = theirs.need(&part).map_err(&bad)?;
            let merged =
                ooxml::merge_styles(&their_styles, &our_styles).map_err(|e| bad(format!("styles: {e}")))?;
            edited.insert(theirs.name(&part).unwrap_or(&part).to_owned(), merged.xml);
            merged.xf_map
        }
        _ => {
            let part = format!("{wb_dir}styles.xml");
            if theirs.name(&part).is_some() {
                return Err(bad(format!("`{part}` is not its style sheet")));
            }
            add_rels.push((new_rid(), STYLES_TYPE.into(), ooxml::relative(&wb_part, &part)));
            add_types.push((format!("/{part}"), STYLES_CONTENT.into()));
            appended.push((part, Placed { from: "xl/styles.xml".into(), selected: false, drawing: None }));
            Vec::new()
        }
    };
    let styles_appended = xf_map.is_empty();

    let mut next_sheet_id = info.sheets.iter().map(|s| s.sheet_id).max().unwrap_or(0) + 1;
    let mut data_index = None;
    for (k, ns) in new_sheets.iter().enumerate() {
        let existing = info.sheets.iter().position(|s| s.name.to_lowercase() == ns.name.to_lowercase());
        let index = match existing {
            Some(i) => {
                let s = &info.sheets[i];
                let rel = rel_by_id(&s.rid)
                    .ok_or_else(|| bad(format!("sheet `{}` has no relationship `{}`", s.name, s.rid)))?;
                if !rel.is("worksheet") {
                    return Err(bad(format!(
                        "sheet `{}` is not a worksheet ({}); rename it or choose another sheet",
                        s.name,
                        rel.ty.rsplit('/').next().unwrap_or("")
                    )));
                }
                let part = ooxml::resolve(&wb_part, &rel.target);
                let name =
                    theirs.name(&part).ok_or_else(|| bad(format!("it has no part `{part}`")))?.to_owned();
                let selected = {
                    let f = theirs.zip.by_name(&name).map_err(|e| bad(format!("part `{name}`: {e}")))?;
                    ooxml::sheet_is_selected(BufReader::new(f))
                        .map_err(|e| bad(format!("part `{name}`: {e}")))?
                };
                // Of the old sheet's relationships only its drawing (charts,
                // pictures placed over the grid) is kept; comments, tables and
                // links belong to the old rows.
                let mut drawing = None;
                if let Some(rels_name) = theirs.name(&ooxml::rels_of(&name)).map(str::to_owned) {
                    let xml = theirs.need(&rels_name).map_err(&bad)?;
                    let rels = ooxml::parse_rels(&xml).map_err(&bad)?;
                    match rels.iter().find(|r| r.is("drawing") && !r.external) {
                        Some(keep) => {
                            let others: Vec<String> =
                                rels.iter().filter(|r| r.id != keep.id).map(|r| r.id.clone()).collect();
                            edited.insert(rels_name, ooxml::edit_rels(&xml, &others, &[]).map_err(&bad)?);
                            drawing = Some(keep.id.clone());
                        }
                        None => dropped.push(rels_name),
                    }
                }
                replaced.insert(name, Placed { from: ns.from.clone(), selected, drawing });
                i
            }
            None => {
                added |= k == 0;
                let mut n = info.sheets.len() + 1;
                let part = loop {
                    let p = format!("{wb_dir}worksheets/sheet{n}.xml");
                    if theirs.name(&p).is_none() && !appended.iter().any(|(a, _)| *a == p) {
                        break p;
                    }
                    n += 1;
                };
                let rid = new_rid();
                add_rels.push((rid.clone(), worksheet_type.clone(), ooxml::relative(&wb_part, &part)));
                add_types.push((format!("/{part}"), WORKSHEET_CONTENT.into()));
                edit.add_sheets.push((ns.name.clone(), next_sheet_id, rid, ns.hidden));
                next_sheet_id += 1;
                appended.push((part, Placed { from: ns.from.clone(), selected: false, drawing: None }));
                info.sheets.len() + edit.add_sheets.len() - 1
            }
        };
        if k == 0 {
            data_index = Some(index);
        }
    }

    // The autofilter's range, as the hidden name Excel keeps for it.
    if let Some(i) = data_index {
        let last_col = a1::column_letters(columns.saturating_sub(1) as u32);
        let range = format!("$A$1:${last_col}${}", written.rows + 1);
        edit.filter = Some((i, ooxml::sheet_ref(sheet, &range)));
    }

    // The calculation chain lists cells of the old sheet: dropped, Excel rebuilds it.
    for r in wb_rels.iter().filter(|r| r.is("calcChain") && !r.external) {
        let part = ooxml::resolve(&wb_part, &r.target);
        if let Some(name) = theirs.name(&part) {
            dropped.push(name.to_owned());
        }
        drop_rels.push(r.id.clone());
        drop_types.push(format!("/{part}"));
    }

    let wb_name = theirs.name(&wb_part).unwrap_or(&wb_part).to_owned();
    edited.insert(wb_name, ooxml::edit_workbook(&wb_xml, &info, &edit).map_err(&bad)?);
    if !drop_rels.is_empty() || !add_rels.is_empty() {
        let name = theirs.name(&wb_rels_part).unwrap_or(&wb_rels_part).to_owned();
        edited.insert(name, ooxml::edit_rels(&wb_rels_xml, &drop_rels, &add_rels).map_err(&bad)?);
    }
    // Parts only the replaced sheet led to (its comments, tables, drawing)
    // would be left behind unreferenced: they go too, with their content types.
    let before = reachable(&mut theirs, &HashMap::new(), &[]).map_err(&bad)?;
    let after = reachable(&mut theirs, &edited, &dropped).map_err(&bad)?;
    let mut orphans: Vec<&String> = before.iter().filter(|p| !after.contains(*p)).collect();
    orphans.sort();
    for part in orphans {
        if let Some(name) = theirs.name(part).map(str::to_owned) {
            if !dropped.contains(&name) {
                drop_types.push(format!("/{name}"));
                dropped.push(name.clone());
            }
            if let Some(rels) = theirs.name(&ooxml::rels_of(&name)) {
                dropped.push(rels.to_owned());
            }
        }
    }

    if !drop_types.is_empty() || !add_types.is_empty() {
        let ct = theirs.need("[Content_Types].xml").map_err(&bad)?;
        let name = theirs.name("[Content_Types].xml").unwrap_or("[Content_Types].xml").to_owned();
        edited.insert(name, ooxml::edit_content_types(&ct, &drop_types, &add_types).map_err(&bad)?);
    }

    // Write the copy: entries in their order, ours where they change.
    let level = i64::from(options.compression_level);
    let deflated = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        .compression_level(Some(level));
    let werr = |e: zip::result::ZipError| error::io(path, "write the new workbook", std::io::Error::other(e));
    let mut zw = ZipWriter::new(&mut *out);
    let mut kept_parts = 0;
    for i in 0..theirs.zip.len() {
        let entry = theirs.zip.by_index_raw(i).map_err(|e| bad(format!("entry {i}: {e}")))?;
        let name = entry.name().map(|n| n.into_owned()).map_err(|e| bad(format!("entry {i}: {e}")))?;
        if dropped.contains(&name) {
            continue;
        }
        if let Some(xml) = edited.get(&name) {
            drop(entry);
            zw.start_file(name.as_str(), deflated).map_err(werr)?;
            zw.write_all(xml).map_err(|e| error::io(path, "write the new workbook", e))?;
        } else if let Some(placed) = replaced.get(&name) {
            drop(entry);
            zw.start_file(name.as_str(), deflated).map_err(werr)?;
            write_sheet(&mut ours, placed, &xf_map, &strings, &mut zw).map_err(&bad)?;
        } else {
            zw.raw_copy_file(entry).map_err(werr)?;
            kept_parts += 1;
        }
        if i == 1 {
            pause_point("writing");
        }
    }
    for (name, placed) in &appended {
        zw.start_file(name.as_str(), deflated).map_err(werr)?;
        if styles_appended && placed.from == "xl/styles.xml" {
            zw.write_all(&our_styles).map_err(|e| error::io(path, "write the new workbook", e))?;
        } else {
            write_sheet(&mut ours, placed, &xf_map, &strings, &mut zw).map_err(&bad)?;
        }
    }
    zw.finish().map_err(werr)?;
    Ok(Spliced { added, kept_parts })
}

/// The parts reachable from the package's relationships, following every
/// part's `.rels` (as `edited` has it, unless in `dropped`), by lower-cased name.
fn reachable<R: Read + Seek>(
    parts: &mut Parts<R>,
    edited: &HashMap<String, Vec<u8>>,
    dropped: &[String],
) -> Result<std::collections::HashSet<String>, String> {
    let mut seen = std::collections::HashSet::new();
    let mut queue = vec![String::new()];
    while let Some(part) = queue.pop() {
        let rels_part = if part.is_empty() { "_rels/.rels".to_owned() } else { ooxml::rels_of(&part) };
        let Some(name) = parts.name(&rels_part).map(str::to_owned) else { continue };
        if dropped.contains(&name) {
            continue;
        }
        let xml = match edited.get(&name) {
            Some(x) => x.clone(),
            None => parts.need(&name)?,
        };
        for rel in ooxml::parse_rels(&xml)? {
            if rel.external {
                continue;
            }
            let target = ooxml::resolve(&part, &rel.target);
            if parts.name(&target).is_some() && seen.insert(target.to_lowercase()) {
                queue.push(target);
            }
        }
    }
    Ok(seen)
}

/// Streams a sheet of the scratch workbook into the zip entry just started.
fn write_sheet<R: Read + Seek, W: Write + Seek>(
    ours: &mut Parts<R>,
    placed: &Placed,
    xf_map: &[u32],
    strings: &[String],
    zw: &mut ZipWriter<W>,
) -> Result<(), String> {
    let identity: Vec<u32>;
    let xf_map = if xf_map.is_empty() {
        identity = (0..u32::from(u16::MAX)).collect();
        &identity[..]
    } else {
        xf_map
    };
    let name =
        ours.name(&placed.from).ok_or_else(|| format!("no generated part `{}`", placed.from))?.to_owned();
    let f = ours.zip.by_name(&name).map_err(|e| format!("generated part `{name}`: {e}"))?;
    let fit = SheetFit { xf_map, strings, selected: placed.selected, drawing: placed.drawing.as_deref() };
    ooxml::fit_sheet(BufReader::with_capacity(64 << 10, f), std::io::BufWriter::new(zw), &fit)
}
