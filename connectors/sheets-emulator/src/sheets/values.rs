//! spreadsheets.values: get, batchGet, update, batchUpdate, append, clear, batchClear.

use serde_json::{json, Map, Value as Json};

use super::a1;
use super::cell::{self, DateRender, Render, Value};
use super::formula;
use super::model::{Rect, Spreadsheet, MAX_CELLS, MAX_CELL_CHARS};
use super::query::Query;
use super::{ApiError, ApiResult};

/// A range read against a spreadsheet.
#[derive(Debug, Clone, Copy)]
pub struct Resolved {
    pub sheet: usize,
    /// Clamped to the grid.
    pub rect: Rect,
    /// A bare sheet name (`Sheet1`): reads echo only the part holding data.
    pub whole_sheet: bool,
    /// The range was given down to a cell (`A1`), so writes may run past it
    /// (as far as the data goes) but not past a given end.
    pub open_end: bool,
}

/// Resolves an A1 range; `strict` refuses ranges that reach past the grid.
pub fn resolve(ss: &Spreadsheet, text: &str, strict: bool) -> ApiResult<Resolved> {
    let parsed = a1::parse(text).ok_or_else(|| ApiError::unable_to_parse(text))?;
    let sheet = match &parsed.sheet {
        Some(name) => Some(ss.sheet_index_by_title(name).ok_or_else(|| ApiError::unable_to_parse(text))?),
        None => None,
    };
    let Some(cells) = parsed.cells else {
        let name = parsed.name.as_deref().unwrap_or("");
        if let Some(nr) = ss.named_ranges.iter().find(|n| n.name.eq_ignore_ascii_case(name)) {
            let index = ss
                .sheet_index_by_id(i64::from(nr.sheet_id))
                .ok_or_else(|| ApiError::unable_to_parse(text))?;
            let s = &ss.sheets[index];
            let rect = Rect {
                r0: nr.rect.r0.min(s.row_count),
                r1: nr.rect.r1.min(s.row_count),
                c0: nr.rect.c0.min(s.col_count),
                c1: nr.rect.c1.min(s.col_count),
            };
            return Ok(Resolved { sheet: index, rect, whole_sheet: false, open_end: false });
        }
        if parsed.sheet.is_none() {
            if let Some(index) = ss.sheet_index_by_title(name) {
                return Ok(Resolved {
                    sheet: index,
                    rect: ss.sheets[index].full(),
                    whole_sheet: true,
                    open_end: false,
                });
            }
            return Err(ApiError::unable_to_parse(text));
        }
        if !name.is_empty() {
            return Err(ApiError::unable_to_parse(text));
        }
        let index = sheet.unwrap_or(0);
        return Ok(Resolved {
            sheet: index,
            rect: ss.sheets[index].full(),
            whole_sheet: true,
            open_end: false,
        });
    };
    let index = match sheet {
        Some(i) => i,
        None => ss.sheets.iter().position(|s| !s.hidden()).unwrap_or(0),
    };
    let s = &ss.sheets[index];
    let (sr, er) = (cells.start.row, cells.end.row);
    let (sc, ec) = (cells.start.col, cells.end.col);
    let r0 = match (sr, er) {
        (Some(a), Some(b)) => a.min(b),
        (Some(a), None) | (None, Some(a)) if sr.is_some() => a,
        _ => 0,
    };
    let c0 = match (sc, ec) {
        (Some(a), Some(b)) => a.min(b),
        (Some(a), None) if sc.is_some() => a,
        _ => 0,
    };
    let r_end = match (sr, er) {
        (Some(a), Some(b)) => Some(a.max(b) + 1),
        _ => None,
    };
    let c_end = match (sc, ec) {
        (Some(a), Some(b)) => Some(a.max(b) + 1),
        _ => None,
    };
    let open_end = cells.start == cells.end;
    let max_r = r_end.unwrap_or(r0 + 1).max(r0 + 1);
    let max_c = c_end.unwrap_or(c0 + 1).max(c0 + 1);
    if strict && (max_r > s.row_count || max_c > s.col_count) {
        let cells = Rect { r0, c0, r1: r_end.unwrap_or(r0 + 1), c1: c_end.unwrap_or(c0 + 1) };
        return Err(grid_error(&sheet_as_typed(text, &s.title), &cells, s.row_count, s.col_count));
    }
    let rect = Rect {
        r0: r0.min(s.row_count),
        r1: r_end.unwrap_or(s.row_count).min(s.row_count),
        c0: c0.min(s.col_count),
        c1: c_end.unwrap_or(s.col_count).min(s.col_count),
    };
    Ok(Resolved { sheet: index, rect, whole_sheet: false, open_end })
}

/// The sheet part of a range as the caller wrote it (`'Sheet1'`), for errors.
fn sheet_as_typed(text: &str, title: &str) -> String {
    match text.trim().rfind('!') {
        Some(pos) => text.trim()[..pos].to_owned(),
        None => a1::quote_sheet(title),
    }
}

/// Google's error for a range (or a write) reaching past the grid.
pub fn grid_error(sheet: &str, cells: &Rect, rows: u32, cols: u32) -> ApiError {
    ApiError::bad(format!(
        "Range ({sheet}!{}) exceeds grid limits. Max rows: {rows}, max columns: {cols}",
        a1::cells_text(cells.r0, cells.c0, cells.r1.max(cells.r0 + 1), cells.c1.max(cells.c0 + 1))
    ))
}

#[derive(Debug, Clone, Copy)]
pub struct ReadOptions {
    pub render: Render,
    pub dates: DateRender,
    pub columns: bool,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions { render: Render::Formatted, dates: DateRender::Serial, columns: false }
    }
}

fn read_options(query: &Query) -> ApiResult<ReadOptions> {
    let render = match query.get("valueRenderOption") {
        None | Some("FORMATTED_VALUE") => Render::Formatted,
        Some("UNFORMATTED_VALUE") => Render::Unformatted,
        Some("FORMULA") => Render::Formula,
        Some(other) => {
            return Err(ApiError::bad(format!(
                "Invalid value at 'value_render_option' (type.googleapis.com/google.apps.sheets.v4.ValueRenderOption), \"{other}\""
            )))
        }
    };
    let dates = match query.get("dateTimeRenderOption") {
        Some("FORMATTED_STRING") => DateRender::FormattedString,
        _ => DateRender::Serial,
    };
    let columns = matches!(query.get("majorDimension"), Some("COLUMNS"));
    Ok(ReadOptions { render, dates, columns })
}

/// The rendered value of one cell.
pub fn render_cell(ss: &Spreadsheet, sheet: usize, c: &cell::Cell, options: &ReadOptions) -> Json {
    if c.extra.is_none() {
        return cell::render(&c.value, None, options.render, options.dates);
    }
    if let Some(f) = c.formula() {
        if options.render == Render::Formula {
            return Json::String(f.to_owned());
        }
        let v = formula::evaluate(ss, sheet, f);
        return cell::render(&v, c.number_format(), options.render, options.dates);
    }
    cell::render(&c.value, c.number_format(), options.render, options.dates)
}

fn is_blank(c: &cell::Cell) -> bool {
    matches!(c.value, Value::Empty) && c.formula().is_none()
}

/// Reads a rectangle: rows of rendered values, trailing blanks trimmed.
pub fn read_rect(ss: &Spreadsheet, sheet: usize, rect: &Rect, options: &ReadOptions) -> Vec<Json> {
    let s = &ss.sheets[sheet];
    let r_end = rect.r1.min(s.grid.len());
    let empty = Json::String(String::new());
    if options.columns {
        let mut cols: Vec<Vec<Json>> = Vec::new();
        for c in rect.c0..rect.c1 {
            let mut col = Vec::new();
            let mut last = 0;
            for r in rect.r0..r_end {
                match s.grid.get(r, c) {
                    Some(cell) if !is_blank(cell) => {
                        col.resize(last, empty.clone());
                        col.push(render_cell(ss, sheet, cell, options));
                        last = col.len();
                    }
                    _ => col.push(empty.clone()),
                }
            }
            col.truncate(last);
            cols.push(col);
        }
        while cols.last().is_some_and(Vec::is_empty) {
            cols.pop();
        }
        return cols.into_iter().map(Json::Array).collect();
    }
    let mut rows: Vec<Json> = Vec::new();
    let mut last_row = 0;
    for r in rect.r0..r_end {
        let row = s.grid.row(r);
        let end = (rect.c1 as usize).min(row.len());
        let start = (rect.c0 as usize).min(end);
        let cells = &row[start..end];
        let Some(last) = cells.iter().rposition(|c| !is_blank(c)) else {
            rows.push(Json::Array(Vec::new()));
            continue;
        };
        let mut out = Vec::with_capacity(last + 1);
        for c in &cells[..=last] {
            out.push(render_cell(ss, sheet, c, options));
        }
        rows.push(Json::Array(out));
        last_row = rows.len();
    }
    rows.truncate(last_row);
    rows
}

fn value_range(ss: &Spreadsheet, resolved: &Resolved, options: &ReadOptions) -> Json {
    let s = &ss.sheets[resolved.sheet];
    // A bare sheet name echoes the whole grid, data or not.
    let echo = resolved.rect;
    let mut m = Map::new();
    m.insert("range".into(), json!(s.a1(&echo)));
    m.insert("majorDimension".into(), json!(if options.columns { "COLUMNS" } else { "ROWS" }));
    let rows = read_rect(ss, resolved.sheet, &resolved.rect, options);
    if !rows.is_empty() {
        m.insert("values".into(), Json::Array(rows));
    }
    Json::Object(m)
}

/// One range as values.get answers it.
pub fn read_range(ss: &Spreadsheet, range: &str, options: &ReadOptions) -> ApiResult<Json> {
    let resolved = resolve(ss, range, true)?;
    Ok(value_range(ss, &resolved, options))
}

pub fn get(ss: &Spreadsheet, range: &str, query: &Query) -> ApiResult<Json> {
    let options = read_options(query)?;
    read_range(ss, range, &options)
}

pub fn batch_get(ss: &Spreadsheet, query: &Query) -> ApiResult<Json> {
    let options = read_options(query)?;
    let mut out = Vec::new();
    for range in query.all("ranges") {
        out.push(read_range(ss, range, &options)?);
    }
    let mut m = Map::new();
    m.insert("spreadsheetId".into(), json!(ss.id));
    if !out.is_empty() {
        m.insert("valueRanges".into(), Json::Array(out));
    }
    Ok(Json::Object(m))
}

/// Whether a write past the grid grows it (a person pasting) or is refused (the API).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grow {
    Yes,
    No,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    Raw,
    UserEntered,
}

fn input_option(value: Option<&str>) -> ApiResult<Input> {
    match value {
        Some("RAW") => Ok(Input::Raw),
        Some("USER_ENTERED") => Ok(Input::UserEntered),
        None | Some("") | Some("INPUT_VALUE_OPTION_UNSPECIFIED") => {
            Err(ApiError::bad("'valueInputOption' is required but not specified"))
        }
        Some(other) => Err(ApiError::bad(format!(
            "Invalid value at 'value_input_option' (type.googleapis.com/google.apps.sheets.v4.ValueInputOption), \"{other}\""
        ))),
    }
}

/// A write checked and ready to apply.
pub struct Planned {
    /// The sheet as the request named it, for errors.
    shown_sheet: String,
    /// Rows and columns holding at least one non-null value (what Google reports).
    touched_rows: u32,
    touched_cols: u32,
    sheet: usize,
    r0: u32,
    c0: u32,
    /// Rows of values in row-major order (columns already transposed).
    rows: Vec<Vec<Json>>,
    width: u32,
    cells: u64,
}

/// Checks one ValueRange; its `values` are taken out of `item`, not copied.
fn plan(ss: &Spreadsheet, item: &mut Json, field: &str, at: Option<(usize, u32, u32)>) -> ApiResult<Planned> {
    let values = match item.get_mut("values").map(Json::take) {
        None | Some(Json::Null) => Vec::new(),
        Some(Json::Array(rows)) => rows,
        Some(other) => {
            return Err(ApiError::invalid_value(
                &format!("{field}.values"),
                "type.googleapis.com/google.protobuf.ListValue",
                &other,
            ))
        }
    };
    let mut rows: Vec<Vec<Json>> = Vec::with_capacity(values.len());
    for (i, row) in values.into_iter().enumerate() {
        match row {
            Json::Array(cells) => rows.push(cells),
            Json::Null => rows.push(Vec::new()),
            other => {
                return Err(ApiError::invalid_value(
                    &format!("{field}.values[{i}]"),
                    "type.googleapis.com/google.protobuf.ListValue",
                    &other,
                ))
            }
        }
    }
    let columns = match item.get("majorDimension").and_then(Json::as_str) {
        Some("COLUMNS") => true,
        None | Some("ROWS") | Some("DIMENSION_UNSPECIFIED") => false,
        Some(other) => {
            return Err(ApiError::bad(format!(
                "Invalid value at '{field}.major_dimension' (type.googleapis.com/google.apps.sheets.v4.Dimension), \"{other}\""
            )))
        }
    };
    if columns {
        let height = rows.iter().map(Vec::len).max().unwrap_or(0);
        let mut t: Vec<Vec<Json>> = vec![Vec::new(); height];
        for (ci, col) in rows.into_iter().enumerate() {
            for (ri, v) in col.into_iter().enumerate() {
                let row = &mut t[ri];
                if row.len() < ci {
                    row.resize(ci, Json::Null);
                }
                row.push(v);
            }
        }
        rows = t;
    }
    for row in &rows {
        for v in row {
            if let Json::String(s) = v {
                if s.len() > MAX_CELL_CHARS && s.chars().count() > MAX_CELL_CHARS {
                    return Err(ApiError::bad(format!(
                        "Your input contains more than the maximum of {MAX_CELL_CHARS} characters in a single cell."
                    )));
                }
            }
        }
    }
    let width = rows.iter().map(Vec::len).max().unwrap_or(0) as u32;
    // Google counts the cells it wrote: a null leaves a cell alone.
    let cells: u64 = rows.iter().map(|r| r.iter().filter(|v| !v.is_null()).count() as u64).sum();
    let (sheet, r0, c0, shown_sheet) = match at {
        Some((sheet, r0, c0)) => (sheet, r0, c0, a1::quote_sheet(&ss.sheets[sheet].title)),
        None => {
            let range = item.get("range").and_then(Json::as_str).unwrap_or("");
            let resolved = resolve(ss, range, true)?;
            let s = &ss.sheets[resolved.sheet];
            let r = resolved.rect;
            let height = rows.len() as u32;
            if !resolved.open_end && !resolved.whole_sheet {
                if height > r.rows() {
                    return Err(ApiError::bad(format!(
                        "Requested writing within range [{}], but tried writing to row [{}]",
                        s.a1(&r),
                        r.r0 + height
                    )));
                }
                if width > r.cols() {
                    return Err(ApiError::bad(format!(
                        "Requested writing within range [{}], but tried writing to column [{}]",
                        s.a1(&r),
                        a1::column_name(r.c0 + r.cols())
                    )));
                }
            }
            (resolved.sheet, r.r0, r.c0, sheet_as_typed(range, &s.title))
        }
    };
    let touched_rows = rows.iter().filter(|r| r.iter().any(|v| !v.is_null())).count() as u32;
    let mut touched = vec![false; width as usize];
    for row in &rows {
        for (j, v) in row.iter().enumerate() {
            if !v.is_null() {
                touched[j] = true;
            }
        }
    }
    let touched_cols = touched.iter().filter(|t| **t).count() as u32;
    Ok(Planned { shown_sheet, touched_rows, touched_cols, sheet, r0, c0, rows, width, cells })
}

/// Grows a sheet to hold a write, refusing what passes the cell limit.
fn grow_for(ss: &mut Spreadsheet, p: &Planned) -> ApiResult<()> {
    let need_rows = p.r0 + p.rows.len() as u32;
    let need_cols = p.c0 + p.width;
    let s = &ss.sheets[p.sheet];
    if need_rows <= s.row_count && need_cols <= s.col_count {
        return Ok(());
    }
    let new_rows = need_rows.max(s.row_count);
    let new_cols = need_cols.max(s.col_count);
    let before = u64::from(s.row_count) * u64::from(s.col_count);
    let after = u64::from(new_rows) * u64::from(new_cols);
    if ss.cell_count() - before + after > MAX_CELLS {
        return Err(cell_limit());
    }
    let s = ss.sheet_mut(p.sheet);
    s.row_count = new_rows;
    s.col_count = new_cols;
    Ok(())
}

/// Refuses an edit by `user` that touches a protected range they may not
/// edit (warning-only ranges and the spreadsheet's owner excepted). `None`
/// is the admin API, which edits anything.
pub fn check_protection(ss: &Spreadsheet, sheet: usize, rect: &Rect, user: Option<&str>) -> ApiResult<()> {
    let Some(user) = user else { return Ok(()) };
    if ss.owner.as_deref() == Some(user) || rect.rows() == 0 || rect.cols() == 0 {
        return Ok(());
    }
    let s = &ss.sheets[sheet];
    for p in &s.protected_ranges {
        if p.get("warningOnly").and_then(Json::as_bool) == Some(true) {
            continue;
        }
        let editors = p.pointer("/editors/users").and_then(Json::as_array);
        if editors.is_some_and(|u| u.iter().any(|e| e.as_str() == Some(user))) {
            continue;
        }
        let protected = match p.get("range") {
            Some(range) => super::batch::rect_of(s, range),
            None => match p.get("namedRangeId").and_then(Json::as_str) {
                Some(id) => match ss.named_ranges.iter().find(|n| n.id == id) {
                    Some(n) => n.rect,
                    None => continue,
                },
                None => continue,
            },
        };
        if protected.intersects(rect) {
            return Err(ApiError::bad(
                "You are trying to edit a protected cell or object. Please contact the spreadsheet owner to \
                 remove protection if you need to edit.",
            ));
        }
    }
    Ok(())
}

pub fn cell_limit() -> ApiError {
    ApiError::bad(format!(
        "This action would increase the number of cells in the workbook above the limit of {MAX_CELLS} cells."
    ))
}

fn apply(ss: &mut Spreadsheet, p: Planned, input: Input) {
    let s = ss.sheet_mut(p.sheet);
    for (i, row) in p.rows.into_iter().enumerate() {
        let r = p.r0 + i as u32;
        if row.iter().all(Json::is_null) {
            continue;
        }
        let needed = p.c0 as usize + row.len();
        let cells = s.grid.row_mut(r, needed);
        for (j, v) in row.into_iter().enumerate() {
            if v.is_null() {
                continue;
            }
            let entered = match input {
                Input::Raw => cell::raw_owned(v),
                // A cell formatted as plain text takes what is typed as text.
                Input::UserEntered
                    if cells[p.c0 as usize + j].number_format().is_some_and(|(k, _)| k == "TEXT") =>
                {
                    cell::raw_owned(v)
                }
                Input::UserEntered => cell::user_entered(&v),
            };
            cells[p.c0 as usize + j].set_content(entered);
        }
        s.grid.trim_row(r);
    }
    s.grid.trim_tail();
}

fn update_reply(ss: &Spreadsheet, p: &Planned, include: Option<&ReadOptions>) -> Json {
    let s = &ss.sheets[p.sheet];
    let mut m = Map::new();
    m.insert("spreadsheetId".into(), json!(ss.id));
    let height = p.rows.len() as u32;
    if height > 0 && p.width > 0 {
        let rect = Rect { r0: p.r0, r1: p.r0 + height, c0: p.c0, c1: p.c0 + p.width };
        m.insert("updatedRange".into(), json!(s.a1(&rect)));
        m.insert("updatedRows".into(), json!(p.touched_rows));
        m.insert("updatedColumns".into(), json!(p.touched_cols));
        m.insert("updatedCells".into(), json!(p.cells));
        if let Some(options) = include {
            let mut data = Map::new();
            data.insert("range".into(), json!(s.a1(&rect)));
            data.insert("majorDimension".into(), json!(if options.columns { "COLUMNS" } else { "ROWS" }));
            let rows = read_rect(ss, p.sheet, &rect, options);
            if !rows.is_empty() {
                data.insert("values".into(), Json::Array(rows));
            }
            m.insert("updatedData".into(), Json::Object(data));
        }
    } else if let Some(options) = include {
        let _ = options;
        m.insert("updatedData".into(), json!({}));
    }
    Json::Object(m)
}

fn include_options(
    include: bool,
    query_render: Option<&str>,
    query_dates: Option<&str>,
) -> Option<ReadOptions> {
    include.then_some(ReadOptions {
        render: match query_render {
            Some("UNFORMATTED_VALUE") => Render::Unformatted,
            Some("FORMULA") => Render::Formula,
            _ => Render::Formatted,
        },
        dates: match query_dates {
            Some("FORMATTED_STRING") => DateRender::FormattedString,
            _ => DateRender::Serial,
        },
        columns: false,
    })
}

/// Checks every write, then applies them all (a failing one changes nothing).
pub fn write_many(
    ss: &mut Spreadsheet,
    data: &mut [Json],
    input: Input,
    many: bool,
    grow: Grow,
    user: Option<&str>,
) -> ApiResult<Vec<(usize, Planned)>> {
    let mut plans = Vec::with_capacity(data.len());
    for (i, item) in data.iter_mut().enumerate() {
        let field = if many { format!("data[{i}]") } else { "data".to_owned() };
        let p = plan(ss, item, &field, None)?;
        let s = &ss.sheets[p.sheet];
        let (r1, c1) = (p.r0 + p.rows.len() as u32, p.c0 + p.width);
        if grow == Grow::No && (r1 > s.row_count || c1 > s.col_count) {
            // values.update does not add rows or columns (append does).
            let cells = Rect { r0: p.r0, c0: p.c0, r1, c1 };
            return Err(grid_error(&p.shown_sheet, &cells, s.row_count, s.col_count));
        }
        check_protection(ss, p.sheet, &Rect { r0: p.r0, c0: p.c0, r1, c1 }, user)?;
        plans.push(p);
    }
    // Size every sheet for its writes first, so a refused one changes nothing.
    let mut sizes: Vec<(u32, u32)> = ss.sheets.iter().map(|s| (s.row_count, s.col_count)).collect();
    for p in &plans {
        let (rows, cols) = &mut sizes[p.sheet];
        *rows = (*rows).max(p.r0 + p.rows.len() as u32);
        *cols = (*cols).max(p.c0 + p.width);
    }
    let total: u64 = sizes.iter().map(|(r, c)| u64::from(*r) * u64::from(*c)).sum();
    if total > MAX_CELLS && total > ss.cell_count() {
        return Err(cell_limit());
    }
    for (i, (rows, cols)) in sizes.into_iter().enumerate() {
        if ss.sheets[i].row_count != rows || ss.sheets[i].col_count != cols {
            let s = ss.sheet_mut(i);
            s.row_count = rows;
            s.col_count = cols;
        }
    }
    let mut out = Vec::with_capacity(plans.len());
    for (i, p) in plans.into_iter().enumerate() {
        let summary = p_shape(&p);
        apply(ss, p, input);
        out.push((i, summary));
    }
    Ok(out)
}

fn p_shape(p: &Planned) -> Planned {
    Planned {
        shown_sheet: String::new(),
        touched_rows: p.touched_rows,
        touched_cols: p.touched_cols,
        sheet: p.sheet,
        r0: p.r0,
        c0: p.c0,
        rows: Vec::new(),
        width: p.width,
        cells: p.cells,
    }
}

/// What a write reports: the shape of what was written.
fn summary_reply(ss: &Spreadsheet, p: &Planned, height: u32, include: Option<&ReadOptions>) -> Json {
    let shaped = Planned {
        shown_sheet: String::new(),
        touched_rows: p.touched_rows,
        touched_cols: p.touched_cols,
        sheet: p.sheet,
        r0: p.r0,
        c0: p.c0,
        rows: vec![Vec::new(); height as usize],
        width: p.width,
        cells: p.cells,
    };
    update_reply(ss, &shaped, include)
}

fn heights(data: &[Json]) -> Vec<u32> {
    data.iter()
        .map(|d| {
            let rows = d.get("values").and_then(Json::as_array);
            match d.get("majorDimension").and_then(Json::as_str) {
                Some("COLUMNS") => rows
                    .map_or(0, |r| r.iter().map(|c| c.as_array().map_or(0, Vec::len)).max().unwrap_or(0))
                    as u32,
                _ => rows.map_or(0, Vec::len) as u32,
            }
        })
        .collect()
}

pub fn update(
    ss: &mut Spreadsheet,
    range: &str,
    query: &Query,
    body: Json,
    user: Option<&str>,
) -> ApiResult<Json> {
    let input = input_option(query.get("valueInputOption"))?;
    let mut item = body;
    if let Some(given) = item.get("range").and_then(Json::as_str) {
        if given != range
            && resolve(ss, given, false).ok().map(|r| (r.sheet, r.rect))
                != resolve(ss, range, false).ok().map(|r| (r.sheet, r.rect))
        {
            return Err(ApiError::bad(format!(
                "Requested entity range [{range}] does not match the range in the body [{given}]."
            )));
        }
    }
    if let Some(m) = item.as_object_mut() {
        m.insert("range".into(), json!(range));
    } else {
        return Err(ApiError::bad("Invalid JSON payload received."));
    }
    let include = include_options(
        query.flag("includeValuesInResponse").unwrap_or(false),
        query.get("responseValueRenderOption"),
        query.get("responseDateTimeRenderOption"),
    );
    let h = heights(std::slice::from_ref(&item));
    let done = write_many(ss, std::slice::from_mut(&mut item), input, false, Grow::No, user)?;
    let (_, p) = &done[0];
    Ok(summary_reply(ss, p, h[0], include.as_ref()))
}

pub fn batch_update(ss: &mut Spreadsheet, mut body: Json, user: Option<&str>) -> ApiResult<Json> {
    let input = input_option(body.get("valueInputOption").and_then(Json::as_str))?;
    let mut data = match body.get_mut("data").map(Json::take) {
        None | Some(Json::Null) => Vec::new(),
        Some(Json::Array(d)) => d,
        Some(other) => {
            return Err(ApiError::invalid_value(
                "data",
                "type.googleapis.com/google.apps.sheets.v4.ValueRange",
                &other,
            ))
        }
    };
    let include = include_options(
        body.get("includeValuesInResponse").and_then(Json::as_bool).unwrap_or(false),
        body.get("responseValueRenderOption").and_then(Json::as_str),
        body.get("responseDateTimeRenderOption").and_then(Json::as_str),
    );
    let h = heights(&data);
    let done = write_many(ss, &mut data, input, true, Grow::No, user)?;
    let mut responses = Vec::new();
    let (mut rows, mut cols, mut cells) = (0u64, 0u64, 0u64);
    let mut sheets = std::collections::BTreeSet::new();
    for (i, p) in &done {
        if h[*i] > 0 && p.width > 0 {
            rows += u64::from(p.touched_rows);
            cols = cols.max(u64::from(p.touched_cols));
            cells += p.cells;
            sheets.insert(p.sheet);
        }
        responses.push(summary_reply(ss, p, h[*i], include.as_ref()));
    }
    let mut m = Map::new();
    m.insert("spreadsheetId".into(), json!(ss.id));
    if cells > 0 {
        m.insert("totalUpdatedRows".into(), json!(rows));
        m.insert("totalUpdatedColumns".into(), json!(cols));
        m.insert("totalUpdatedCells".into(), json!(cells));
        m.insert("totalUpdatedSheets".into(), json!(sheets.len()));
    }
    if !responses.is_empty() {
        m.insert("responses".into(), Json::Array(responses));
    }
    Ok(Json::Object(m))
}

fn has_content(ss: &Spreadsheet, sheet: usize, r: u32, c: u32) -> bool {
    ss.sheets[sheet].grid.get(r, c).is_some_and(|cell| !is_blank(cell))
}

/// The table values.append extends, as Google finds it: the last cell
/// holding data in the range (the bottom row, its rightmost cell), and the
/// block of cells holding data around it (touching, diagonals included).
fn find_table(ss: &Spreadsheet, resolved: &Resolved) -> Option<Rect> {
    let s = &ss.sheets[resolved.sheet];
    let area = resolved.rect;
    let (mut r, mut c) = (None, 0);
    let r_end = area.r1.min(s.grid.len());
    for row in (area.r0..r_end).rev() {
        let cells = s.grid.row(row);
        let end = (area.c1 as usize).min(cells.len());
        let start = (area.c0 as usize).min(end);
        if let Some(pos) = cells[start..end].iter().rposition(|c| !is_blank(c)) {
            r = Some(row);
            c = (start + pos) as u32;
            break;
        }
    }
    let r = r?;
    let mut t = Rect { r0: r, r1: r + 1, c0: c, c1: c + 1 };
    // The block may reach past the range, within the grid.
    let area = s.full();
    loop {
        let mut grew = false;
        // down
        if t.r1 < area.r1 {
            let lo = t.c0.saturating_sub(1).max(area.c0);
            let hi = (t.c1 + 1).min(area.c1);
            if (lo..hi).any(|col| has_content(ss, resolved.sheet, t.r1, col)) {
                t.r1 += 1;
                grew = true;
            }
        }
        // up
        if t.r0 > area.r0 {
            let lo = t.c0.saturating_sub(1).max(area.c0);
            let hi = (t.c1 + 1).min(area.c1);
            if (lo..hi).any(|col| has_content(ss, resolved.sheet, t.r0 - 1, col)) {
                t.r0 -= 1;
                grew = true;
            }
        }
        // right
        if t.c1 < area.c1 {
            let lo = t.r0.saturating_sub(1).max(area.r0);
            let hi = (t.r1 + 1).min(area.r1);
            if (lo..hi).any(|row| has_content(ss, resolved.sheet, row, t.c1)) {
                t.c1 += 1;
                grew = true;
            }
        }
        // left
        if t.c0 > area.c0 {
            let lo = t.r0.saturating_sub(1).max(area.r0);
            let hi = (t.r1 + 1).min(area.r1);
            if (lo..hi).any(|row| has_content(ss, resolved.sheet, row, t.c0 - 1)) {
                t.c0 -= 1;
                grew = true;
            }
        }
        if !grew {
            return Some(t);
        }
    }
}

pub fn append(
    ss: &mut Spreadsheet,
    range: &str,
    query: &Query,
    mut body: Json,
    user: Option<&str>,
) -> ApiResult<Json> {
    let input = input_option(query.get("valueInputOption"))?;
    let insert_rows = match query.get("insertDataOption") {
        None | Some("OVERWRITE") => false,
        Some("INSERT_ROWS") => true,
        Some(other) => {
            return Err(ApiError::bad(format!(
                "Invalid value at 'insert_data_option' (type.googleapis.com/google.apps.sheets.v4.InsertDataOption), \"{other}\""
            )))
        }
    };
    let resolved = resolve(ss, range, true)?;
    let table = find_table(ss, &resolved);
    let (r0, c0) = match table {
        Some(t) => (t.r1, t.c0),
        None => (resolved.rect.r0, resolved.rect.c0),
    };
    let p = plan(ss, &mut body, "data", Some((resolved.sheet, r0, c0)))?;
    let target = Rect { r0, c0, r1: r0 + p.rows.len() as u32, c1: c0 + p.width };
    check_protection(ss, resolved.sheet, &target, user)?;
    let height = p.rows.len() as u32;
    if insert_rows && height > 0 {
        let s = &ss.sheets[resolved.sheet];
        if ss.cell_count() + u64::from(height) * u64::from(s.col_count) > MAX_CELLS {
            return Err(cell_limit());
        }
        super::batch::insert_rows(ss, resolved.sheet, r0, height);
    }
    grow_for(ss, &p)?;
    let include = include_options(
        query.flag("includeValuesInResponse").unwrap_or(false),
        query.get("responseValueRenderOption"),
        query.get("responseDateTimeRenderOption"),
    );
    let shape = p_shape(&p);
    apply(ss, p, input);
    let s = &ss.sheets[resolved.sheet];
    let mut m = Map::new();
    m.insert("spreadsheetId".into(), json!(ss.id));
    if let Some(t) = table {
        m.insert("tableRange".into(), json!(s.a1(&t)));
    }
    m.insert("updates".into(), summary_reply(ss, &shape, height, include.as_ref()));
    Ok(Json::Object(m))
}

fn clear_one(ss: &mut Spreadsheet, range: &str, user: Option<&str>) -> ApiResult<(usize, Rect)> {
    let resolved = resolve(ss, range, true)?;
    check_protection(ss, resolved.sheet, &resolved.rect, user)?;
    Ok((resolved.sheet, resolved.rect))
}

fn clear_rect(ss: &mut Spreadsheet, sheet: usize, rect: &Rect) {
    let s = ss.sheet_mut(sheet);
    let r_end = rect.r1.min(s.grid.len());
    for r in rect.r0..r_end {
        if let Some(row) = s.grid.existing_row_mut(r) {
            let end = (rect.c1 as usize).min(row.len());
            let start = (rect.c0 as usize).min(end);
            for c in &mut row[start..end] {
                c.clear_content();
            }
        }
        s.grid.trim_row(r);
    }
    s.grid.trim_tail();
}

pub fn clear(ss: &mut Spreadsheet, range: &str, user: Option<&str>) -> ApiResult<Json> {
    let (sheet, rect) = clear_one(ss, range, user)?;
    clear_rect(ss, sheet, &rect);
    Ok(json!({"spreadsheetId": ss.id, "clearedRange": ss.sheets[sheet].a1(&rect)}))
}

pub fn batch_clear(ss: &mut Spreadsheet, body: &Json, user: Option<&str>) -> ApiResult<Json> {
    let ranges: Vec<String> = body
        .get("ranges")
        .and_then(Json::as_array)
        .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
        .unwrap_or_default();
    let mut targets = Vec::new();
    for r in &ranges {
        targets.push(clear_one(ss, r, user)?);
    }
    let mut cleared = Vec::new();
    for (sheet, rect) in targets {
        clear_rect(ss, sheet, &rect);
        cleared.push(json!(ss.sheets[sheet].a1(&rect)));
    }
    let mut m = Map::new();
    m.insert("spreadsheetId".into(), json!(ss.id));
    if !cleared.is_empty() {
        m.insert("clearedRanges".into(), Json::Array(cleared));
    }
    Ok(Json::Object(m))
}

fn filters_of(body: &Json) -> Vec<Json> {
    body.get("dataFilters").and_then(Json::as_array).cloned().unwrap_or_default()
}

/// values.batchGetByDataFilter: one ValueRange per range a filter selects.
pub fn batch_get_by_filter(ss: &Spreadsheet, body: &Json) -> ApiResult<Json> {
    let mut query = String::new();
    for key in ["valueRenderOption", "dateTimeRenderOption", "majorDimension"] {
        if let Some(v) = body.get(key).and_then(Json::as_str) {
            query.push_str(&format!("{key}={v}&"));
        }
    }
    let options = read_options(&Query::parse(&query))?;
    let mut out = Vec::new();
    for filter in filters_of(body) {
        for (sheet, rect) in super::batch::filter_ranges(ss, &filter)? {
            let resolved = Resolved { sheet, rect, whole_sheet: false, open_end: false };
            out.push(json!({"valueRange": value_range(ss, &resolved, &options), "dataFilters": [filter]}));
        }
    }
    let mut m = Map::new();
    m.insert("spreadsheetId".into(), json!(ss.id));
    if !out.is_empty() {
        m.insert("valueRanges".into(), Json::Array(out));
    }
    Ok(Json::Object(m))
}

/// values.batchUpdateByDataFilter: each item written at the first range its filter selects.
pub fn batch_update_by_filter(ss: &mut Spreadsheet, mut body: Json, user: Option<&str>) -> ApiResult<Json> {
    let mut data = match body.get_mut("data").map(Json::take) {
        Some(Json::Array(d)) => d,
        _ => Vec::new(),
    };
    let mut filters = Vec::with_capacity(data.len());
    for item in &mut data {
        let filter = item.get("dataFilter").cloned().unwrap_or(Json::Null);
        let (sheet, rect) = super::batch::filter_ranges(ss, &filter)?
            .into_iter()
            .next()
            .ok_or_else(|| ApiError::bad("No range matches the data filter."))?;
        if let Some(m) = item.as_object_mut() {
            m.insert("range".into(), json!(ss.sheets[sheet].a1(&rect)));
        }
        filters.push(filter);
    }
    if let Some(m) = body.as_object_mut() {
        m.insert("data".into(), Json::Array(data));
    }
    let mut reply = batch_update(ss, body, user)?;
    if let Some(Json::Array(responses)) = reply.get_mut("responses") {
        for (r, f) in responses.iter_mut().zip(filters) {
            if let Some(m) = r.as_object_mut() {
                m.remove("spreadsheetId");
                m.insert("dataFilter".into(), f);
            }
        }
    }
    Ok(reply)
}

/// values.batchClearByDataFilter.
pub fn batch_clear_by_filter(ss: &mut Spreadsheet, body: &Json, user: Option<&str>) -> ApiResult<Json> {
    let mut ranges = Vec::new();
    for filter in filters_of(body) {
        for (sheet, rect) in super::batch::filter_ranges(ss, &filter)? {
            ranges.push(json!(ss.sheets[sheet].a1(&rect)));
        }
    }
    batch_clear(ss, &json!({ "ranges": ranges }), user)
}
