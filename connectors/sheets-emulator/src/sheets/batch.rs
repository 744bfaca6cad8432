//! spreadsheets.batchUpdate: each request applied to a copy of the
//! spreadsheet, which replaces the original only when every request succeeded.
//! Also developer metadata search and get.

use serde_json::{json, Map, Value as Json};

use super::cell::{self, Cell};
use super::formula::Shift;
use super::get::{self, with_sheet};
use super::mask::{self, Mask};
use super::model::{Group, NamedRange, Rect, Sheet, Spreadsheet, MAX_CELLS};
use super::values;
use super::{random_id, ApiError, ApiResult};
use crate::oauth::Identity;

/// Google's limit on requests in one batch.
pub const MAX_REQUESTS: usize = 100_000;

type Step = Result<Option<Json>, String>;

pub fn batch_update(ss: &mut Spreadsheet, body: &Json, who: &Identity) -> ApiResult<Json> {
    let requests = match body.get("requests") {
        None | Some(Json::Null) => Vec::new(),
        Some(Json::Array(r)) => r.clone(),
        Some(other) => {
            return Err(ApiError::invalid_value(
                "requests",
                "type.googleapis.com/google.apps.sheets.v4.Request",
                other,
            ))
        }
    };
    if requests.is_empty() {
        return Err(ApiError::bad("Must specify at least one request."));
    }
    if requests.len() > MAX_REQUESTS {
        return Err(ApiError::bad(format!(
            "Invalid requests: the batch holds {} requests, more than the limit of {MAX_REQUESTS}.",
            requests.len()
        )));
    }
    let replies = apply_as(ss, &requests, Some(&who.user))?;
    let mut m = Map::new();
    m.insert("spreadsheetId".into(), json!(ss.id));
    m.insert("replies".into(), Json::Array(replies));
    if body.get("includeSpreadsheetInResponse").and_then(Json::as_bool) == Some(true) {
        let ranges: Vec<String> = body
            .get("responseRanges")
            .and_then(Json::as_array)
            .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
            .unwrap_or_default();
        let options = get::GetOptions {
            ranges,
            include_grid_data: body.get("responseIncludeGridData").and_then(Json::as_bool).unwrap_or(false),
            mask: None,
        };
        m.insert("updatedSpreadsheet".into(), get::spreadsheet_json(ss, &options)?);
    }
    Ok(Json::Object(m))
}

/// Applies every request or none; the replies, one per request.
pub fn apply_all(ss: &mut Spreadsheet, requests: &[Json]) -> ApiResult<Vec<Json>> {
    apply_as(ss, requests, None)
}

fn apply_as(ss: &mut Spreadsheet, requests: &[Json], user: Option<&str>) -> ApiResult<Vec<Json>> {
    // Sheets are shared (Arc) with the copy: only the ones a request changes are cloned.
    let mut work = ss.clone();
    let mut replies = Vec::with_capacity(requests.len());
    for (i, request) in requests.iter().enumerate() {
        let Some(obj) = request.as_object() else {
            return Err(ApiError::bad(format!("Invalid requests[{i}]: the request is not an object.")));
        };
        let Some((kind, body)) = obj.iter().find(|(_, v)| !v.is_null()) else {
            return Err(ApiError::bad(format!("Invalid requests[{i}]: No request set.")));
        };
        let step = apply_one(&mut work, kind, body, user);
        match step {
            Ok(Some(reply)) => replies.push(json!({ kind.clone(): reply })),
            Ok(None) => replies.push(json!({})),
            Err(message) if message.starts_with("Invalid JSON payload") => {
                return Err(ApiError::bad(message.replace("{i}", &i.to_string())))
            }
            Err(message) => return Err(ApiError::bad(format!("Invalid requests[{i}].{kind}: {message}"))),
        }
    }
    if work.cell_count() > MAX_CELLS && work.cell_count() > ss.cell_count() {
        return Err(values::cell_limit());
    }
    *ss = work;
    Ok(replies)
}

fn apply_one(ss: &mut Spreadsheet, kind: &str, r: &Json, user: Option<&str>) -> Step {
    match kind {
        "addSheet" => add_sheet(ss, r),
        "deleteSheet" => delete_sheet(ss, r),
        "duplicateSheet" => duplicate_sheet(ss, r),
        "updateSheetProperties" => update_sheet_properties(ss, r),
        "updateSpreadsheetProperties" => update_spreadsheet_properties(ss, r),
        "appendDimension" => append_dimension(ss, r),
        "insertDimension" => insert_dimension(ss, r),
        "deleteDimension" => delete_dimension(ss, r),
        "updateDimensionProperties" => update_dimension_properties(ss, r),
        "autoResizeDimensions" => auto_resize(ss, r),
        "updateCells" => update_cells(ss, r),
        "repeatCell" => repeat_cell(ss, r),
        "setDataValidation" => set_data_validation(ss, r),
        "mergeCells" => merge_cells(ss, r),
        "unmergeCells" => unmerge_cells(ss, r),
        "sortRange" => sort_range(ss, r),
        "addNamedRange" => add_named_range(ss, r),
        "updateNamedRange" => update_named_range(ss, r),
        "deleteNamedRange" => delete_named_range(ss, r),
        "setBasicFilter" => set_basic_filter(ss, r),
        "clearBasicFilter" => clear_basic_filter(ss, r),
        "addDimensionGroup" => add_group(ss, r),
        "deleteDimensionGroup" => delete_group(ss, r),
        "addProtectedRange" => add_protected_range(ss, r, user),
        "deleteProtectedRange" => delete_protected_range(ss, r),
        "copyPaste" => copy_paste(ss, r),
        "cutPaste" => cut_paste(ss, r),
        "createDeveloperMetadata" => create_metadata(ss, r),
        "updateDeveloperMetadata" => update_metadata(ss, r),
        "deleteDeveloperMetadata" => delete_metadata(ss, r),
        other => Err(format!("Invalid JSON payload received. Unknown name \"{other}\" at 'requests[{{i}}]': Cannot find field.")),
    }
}

// ---------- helpers ----------

fn sheet_index(ss: &Spreadsheet, id: Option<&Json>) -> Result<usize, String> {
    let id = id.and_then(Json::as_i64).unwrap_or(0);
    ss.sheet_index_by_id(id).ok_or_else(|| format!("No grid with id: {id}"))
}

fn index_of(v: &Json, key: &str) -> Option<u32> {
    v.get(key).and_then(Json::as_u64).map(|n| n.min(u64::from(u32::MAX)) as u32)
}

/// A GridRange, clamped to the sheet; missing bounds are the sheet's edges.
pub fn rect_of(s: &Sheet, range: &Json) -> Rect {
    let r0 = index_of(range, "startRowIndex").unwrap_or(0).min(s.row_count);
    let r1 = index_of(range, "endRowIndex").unwrap_or(s.row_count).min(s.row_count).max(r0);
    let c0 = index_of(range, "startColumnIndex").unwrap_or(0).min(s.col_count);
    let c1 = index_of(range, "endColumnIndex").unwrap_or(s.col_count).min(s.col_count).max(c0);
    Rect { r0, r1, c0, c1 }
}

fn range_of(ss: &Spreadsheet, range: Option<&Json>) -> Result<(usize, Rect), String> {
    let range = range.ok_or("Missing range.")?;
    let i = sheet_index(ss, range.get("sheetId"))?;
    Ok((i, rect_of(&ss.sheets[i], range)))
}

fn check_in_grid(s: &Sheet, range: &Json) -> Result<(), String> {
    let r1 = index_of(range, "endRowIndex").unwrap_or(0);
    let c1 = index_of(range, "endColumnIndex").unwrap_or(0);
    if r1 > s.row_count || c1 > s.col_count {
        return Err(format!(
            "Range ('{}'!{}) exceeds grid limits. Max rows: {}, max columns: {}",
            s.title.replace('\'', "''"),
            super::a1::cells_text(
                index_of(range, "startRowIndex").unwrap_or(0),
                index_of(range, "startColumnIndex").unwrap_or(0),
                r1.max(1),
                c1.max(1)
            ),
            s.row_count,
            s.col_count
        ));
    }
    Ok(())
}

/// Copies the masked fields of `source` into `target` (a missing field clears it).
fn apply_fields(target: &mut Map<String, Json>, source: &Json, m: &Mask) {
    if m.is_all() {
        if let Some(src) = source.as_object() {
            for (k, v) in src {
                target.insert(k.clone(), v.clone());
            }
        }
        return;
    }
    for (key, child) in &m.children {
        let src = source.get(key);
        if child.is_all() {
            match src {
                Some(v) if !v.is_null() => {
                    target.insert(key.clone(), v.clone());
                }
                _ => {
                    target.remove(key);
                }
            }
        } else {
            let entry = target.entry(key.clone()).or_insert_with(|| json!({}));
            if !entry.is_object() {
                *entry = json!({});
            }
            if let Some(inner) = entry.as_object_mut() {
                apply_fields(inner, src.unwrap_or(&Json::Null), child);
                if inner.is_empty() {
                    target.remove(key);
                }
            }
        }
    }
}

fn fields_of(r: &Json) -> Result<Mask, String> {
    match r.get("fields").and_then(Json::as_str) {
        Some(f) if !f.trim().is_empty() => Ok(mask::parse(f)),
        _ => Err("At least one field must be updated, but none were specified.".into()),
    }
}

/// A color component as Google stores it: a float32, zero left out.
fn round_color(v: &mut Json) {
    if let Some(m) = v.as_object_mut() {
        let is_color =
            !m.is_empty() && m.keys().all(|k| matches!(k.as_str(), "red" | "green" | "blue" | "alpha"));
        if is_color {
            let keys: Vec<String> = m.keys().cloned().collect();
            for k in keys {
                let n = m.get(&k).and_then(Json::as_f64).unwrap_or(0.0);
                // Sheets keeps 8 bits a channel: 0.5 comes back as 127/255.
                let n = if k == "alpha" { n } else { ((n.clamp(0.0, 1.0) * 255.0) + 1e-6).floor() / 255.0 };
                if n == 0.0 {
                    m.remove(&k);
                } else {
                    let f = n as f32;
                    let back: f64 = format!("{f}").parse().unwrap_or(n);
                    m.insert(k, cell::number_json(back));
                }
            }
            return;
        }
        for (_, child) in m.iter_mut() {
            round_color(child);
        }
    } else if let Some(a) = v.as_array_mut() {
        for child in a {
            round_color(child);
        }
    }
}

/// Drops proto3 defaults (false, 0, "", null, empty lists, objects left
/// empty) from stored JSON.
fn drop_defaults(v: &mut Json) {
    if let Some(m) = v.as_object_mut() {
        let had_children: Vec<String> = m
            .iter()
            .filter(|(_, x)| x.as_object().is_some_and(|o| !o.is_empty()))
            .map(|(k, _)| k.clone())
            .collect();
        for (_, child) in m.iter_mut() {
            drop_defaults(child);
        }
        m.retain(|k, x| {
            !(x.is_null()
                || x == &json!(false)
                || x.as_f64() == Some(0.0)
                || x.as_str() == Some("")
                || x.as_array().is_some_and(Vec::is_empty)
                || (x.as_object().is_some_and(Map::is_empty) && had_children.contains(k)))
        });
    }
}

/// Cleans a format or property object the way Google stores it, and adds
/// the `…Style` twin of each plain color.
fn normalize_format(v: &mut Json) {
    drop_defaults(v);
    round_color(v);
    let Some(m) = v.as_object_mut() else { return };
    for (plain, style) in [("backgroundColor", "backgroundColorStyle"), ("tabColor", "tabColorStyle")] {
        if let Some(c) = m.get(plain).cloned() {
            m.entry(style.to_owned()).or_insert_with(|| json!({ "rgbColor": c }));
        }
    }
    if let Some(tf) = m.get_mut("textFormat").and_then(Json::as_object_mut) {
        if let Some(c) = tf.get("foregroundColor").cloned() {
            tf.entry("foregroundColorStyle".to_owned()).or_insert_with(|| json!({ "rgbColor": c }));
        }
    }
}

// ---------- sheets ----------

fn unique_title(ss: &Spreadsheet) -> String {
    let mut n = ss.sheets.len() + 1;
    loop {
        let t = format!("Sheet{n}");
        if ss.sheet_index_by_title(&t).is_none() {
            return t;
        }
        n += 1;
    }
}

fn fresh_sheet_id(ss: &Spreadsheet) -> i32 {
    loop {
        let id = random_id();
        if ss.sheet_index_by_id(i64::from(id)).is_none() {
            return id;
        }
    }
}

fn add_sheet(ss: &mut Spreadsheet, r: &Json) -> Step {
    let props = r.get("properties").cloned().unwrap_or_else(|| json!({}));
    let id = match props.get("sheetId").and_then(Json::as_i64) {
        Some(id) => {
            if ss.sheet_index_by_id(id).is_some() {
                return Err(format!("Sheet with id {id} already exists."));
            }
            i32::try_from(id).map_err(|_| format!("Invalid sheet id: {id}"))?
        }
        None => fresh_sheet_id(ss),
    };
    let title = match props.get("title").and_then(Json::as_str) {
        Some(t) if !t.is_empty() => t.to_owned(),
        _ => unique_title(ss),
    };
    if ss.sheet_index_by_title(&title).is_some() {
        return Err(format!("A sheet with the name \"{title}\" already exists. Please enter another name."));
    }
    let rows = props.pointer("/gridProperties/rowCount").and_then(Json::as_u64).unwrap_or(1000) as u32;
    let cols = props.pointer("/gridProperties/columnCount").and_then(Json::as_u64).unwrap_or(26) as u32;
    let mut sheet = Sheet::new(id, &title, rows, cols);
    let mut extra = props.clone();
    if let Some(m) = extra.as_object_mut() {
        for k in ["sheetId", "title", "index", "sheetType"] {
            m.remove(k);
        }
        if let Some(Json::Object(grid)) = m.remove("gridProperties") {
            let mut g = Json::Object(grid);
            if let Some(gm) = g.as_object_mut() {
                gm.remove("rowCount");
                gm.remove("columnCount");
            }
            drop_defaults(&mut g);
            if let Json::Object(gm) = g {
                sheet.grid_props = gm;
            }
        }
    }
    normalize_format(&mut extra);
    if let Json::Object(m) = extra {
        sheet.props = m;
    }
    let index = props
        .get("index")
        .and_then(Json::as_u64)
        .map_or(ss.sheets.len(), |i| (i as usize).min(ss.sheets.len()));
    ss.sheets.insert(index, std::sync::Arc::new(sheet));
    if ss.cell_count() > MAX_CELLS {
        return Err(values::cell_limit().message);
    }
    Ok(Some(json!({"properties": ss.sheets[index].properties(index)})))
}

fn delete_sheet(ss: &mut Spreadsheet, r: &Json) -> Step {
    let i = sheet_index(ss, r.get("sheetId"))?;
    if ss.sheets.len() == 1 {
        return Err("You can't remove all the sheets in a document.".into());
    }
    let id = ss.sheets[i].id;
    ss.sheets.remove(i);
    ss.named_ranges.retain(|n| n.sheet_id != id);
    ss.developer_metadata.retain(|d| {
        d.pointer("/location/sheetId").and_then(Json::as_i64) != Some(i64::from(id))
            && d.pointer("/location/dimensionRange/sheetId").and_then(Json::as_i64) != Some(i64::from(id))
    });
    if ss.sheets.iter().all(|s| s.hidden()) {
        ss.sheet_mut(0).props.remove("hidden");
    }
    Ok(None)
}

fn duplicate_sheet(ss: &mut Spreadsheet, r: &Json) -> Step {
    let i = sheet_index(ss, r.get("sourceSheetId"))?;
    let mut copy = (*ss.sheets[i]).clone();
    copy.id = match r.get("newSheetId").and_then(Json::as_i64) {
        Some(id) if ss.sheet_index_by_id(id).is_some() => {
            return Err(format!("Sheet with id {id} already exists."))
        }
        Some(id) => i32::try_from(id).map_err(|_| format!("Invalid sheet id: {id}"))?,
        None => fresh_sheet_id(ss),
    };
    copy.title = match r.get("newSheetName").and_then(Json::as_str) {
        Some(t) if !t.is_empty() => t.to_owned(),
        _ => {
            let mut n = 1;
            loop {
                let t = if n == 1 {
                    format!("Copy of {}", copy.title)
                } else {
                    format!("Copy {n} of {}", copy.title)
                };
                if ss.sheet_index_by_title(&t).is_none() {
                    break t;
                }
                n += 1;
            }
        }
    };
    if ss.sheet_index_by_title(&copy.title).is_some() {
        return Err(format!(
            "A sheet with the name \"{}\" already exists. Please enter another name.",
            copy.title
        ));
    }
    copy.protected_ranges.clear();
    let index =
        r.get("insertSheetIndex").and_then(Json::as_u64).map_or(i + 1, |x| (x as usize).min(ss.sheets.len()));
    ss.sheets.insert(index, std::sync::Arc::new(copy));
    Ok(Some(json!({"properties": ss.sheets[index].properties(index)})))
}

fn update_sheet_properties(ss: &mut Spreadsheet, r: &Json) -> Step {
    let props = r.get("properties").cloned().unwrap_or_else(|| json!({}));
    let m = fields_of(r)?;
    let i = sheet_index(ss, props.get("sheetId"))?;
    let current = ss.sheets[i].properties(i);
    let mut target = current.as_object().cloned().unwrap_or_default();
    apply_fields(&mut target, &props, &m);
    let title = target.get("title").and_then(Json::as_str).unwrap_or("").to_owned();
    if title.is_empty() {
        return Err("The sheet name cannot be empty.".into());
    }
    if let Some(other) = ss.sheet_index_by_title(&title) {
        if other != i && ss.sheets[other].title.eq_ignore_ascii_case(&title) {
            return Err(format!(
                "A sheet with the name \"{title}\" already exists. Please enter another name."
            ));
        }
    }
    let hidden = target.get("hidden").and_then(Json::as_bool).unwrap_or(false);
    if hidden && ss.sheets.iter().enumerate().all(|(j, s)| j == i || s.hidden()) {
        return Err("You can't hide all the sheets in a document.".into());
    }
    let grid = target.remove("gridProperties").unwrap_or_else(|| json!({}));
    let rows = grid.get("rowCount").and_then(Json::as_u64).unwrap_or(0) as u32;
    let cols = grid.get("columnCount").and_then(Json::as_u64).unwrap_or(0) as u32;
    if rows == 0 || cols == 0 {
        return Err("Invalid grid size: a sheet needs at least one row and one column.".into());
    }
    let new_index = target.get("index").and_then(Json::as_u64).map(|x| x as usize);
    for k in ["sheetId", "title", "index", "sheetType"] {
        target.remove(k);
    }
    let mut extra = Json::Object(target);
    normalize_format(&mut extra);
    let mut grid_extra = grid;
    if let Some(g) = grid_extra.as_object_mut() {
        g.remove("rowCount");
        g.remove("columnCount");
    }
    drop_defaults(&mut grid_extra);
    {
        let s = ss.sheet_mut(i);
        s.title = title;
        if let Json::Object(m) = extra {
            s.props = m;
        }
        if let Json::Object(g) = grid_extra {
            s.grid_props = g;
        }
        resize(s, rows, cols);
    }
    if let Some(to) = new_index {
        let to = to.min(ss.sheets.len());
        let sheet = ss.sheets.remove(i);
        // Google counts the target index before the move.
        let to = if to > i { to - 1 } else { to };
        ss.sheets.insert(to.min(ss.sheets.len()), sheet);
    }
    Ok(None)
}

fn resize(s: &mut Sheet, rows: u32, cols: u32) {
    if rows < s.row_count {
        s.grid.truncate(rows, u32::MAX);
        s.row_meta.retain(|k, _| *k < rows);
        s.merges.retain(|m| m.r1 <= rows);
    }
    if cols < s.col_count {
        s.grid.truncate(u32::MAX, cols);
        s.col_meta.retain(|k, _| *k < cols);
        s.merges.retain(|m| m.c1 <= cols);
    }
    s.row_count = rows;
    s.col_count = cols;
    s.grid.trim();
}

fn update_spreadsheet_properties(ss: &mut Spreadsheet, r: &Json) -> Step {
    let props = r.get("properties").cloned().unwrap_or_else(|| json!({}));
    let m = fields_of(r)?;
    let mut target = ss.props.clone();
    apply_fields(&mut target, &props, &m);
    if target.get("title").and_then(Json::as_str).is_none_or(str::is_empty) {
        return Err("The spreadsheet title cannot be empty.".into());
    }
    ss.props = target;
    Ok(None)
}

// ---------- dimensions ----------

fn is_rows(r: &Json) -> Result<bool, String> {
    match r.get("dimension").and_then(Json::as_str) {
        Some("ROWS") => Ok(true),
        Some("COLUMNS") => Ok(false),
        _ => Err("The dimension must be ROWS or COLUMNS.".into()),
    }
}

fn shift_index(i: u32, at: u32, delta: i64) -> Option<u32> {
    if i < at {
        return Some(i);
    }
    let n = i64::from(i) + delta;
    if delta < 0 && i64::from(i) < i64::from(at) - delta {
        return None; // deleted
    }
    u32::try_from(n).ok()
}

/// Moves a half-open span [a, b) for an insert (delta > 0) or delete (delta < 0) at `at`.
fn shift_span(a: u32, b: u32, at: u32, delta: i64) -> Option<(u32, u32)> {
    if delta >= 0 {
        let d = delta as u32;
        let na = if a >= at { a + d } else { a };
        let nb = if b > at { b + d } else { b };
        return Some((na, nb));
    }
    let end = at + (-delta) as u32;
    let cut = |x: u32| {
        if x <= at {
            x
        } else if x >= end {
            x - (end - at)
        } else {
            at
        }
    };
    let (na, nb) = (cut(a), cut(b));
    (nb > na).then_some((na, nb))
}

fn shift_json_range(range: &mut Json, rows: bool, at: u32, delta: i64) -> bool {
    let (sk, ek) =
        if rows { ("startRowIndex", "endRowIndex") } else { ("startColumnIndex", "endColumnIndex") };
    let a = index_of(range, sk).unwrap_or(0);
    let Some(b) = index_of(range, ek) else { return true };
    match shift_span(a, b, at, delta) {
        Some((na, nb)) => {
            range[sk] = json!(na);
            range[ek] = json!(nb);
            true
        }
        None => false,
    }
}

/// Inserts rows as insertDimension does (append's INSERT_ROWS), moving
/// merges, named ranges, formulas and the rest below them. The caller has
/// checked the cell limit.
pub fn insert_rows(ss: &mut Spreadsheet, sheet: usize, at: u32, n: u32) {
    let _ = insert_span(ss, sheet, true, at, n);
}

fn shift_dimension(s: &mut Sheet, rows: bool, at: u32, delta: i64) {
    s.merges = s
        .merges
        .iter()
        .filter_map(|m| {
            let (a, b) = if rows { (m.r0, m.r1) } else { (m.c0, m.c1) };
            let (na, nb) = shift_span(a, b, at, delta)?;
            let mut m = *m;
            if rows {
                m.r0 = na;
                m.r1 = nb;
            } else {
                m.c0 = na;
                m.c1 = nb;
            }
            (m.rows() * m.cols() > 1).then_some(m)
        })
        .collect();
    let meta = if rows { &mut s.row_meta } else { &mut s.col_meta };
    let old = std::mem::take(meta);
    for (k, v) in old {
        if let Some(nk) = shift_index(k, at, delta) {
            meta.insert(nk, v);
        }
    }
    let groups = if rows { &mut s.row_groups } else { &mut s.col_groups };
    *groups = groups
        .iter()
        .filter_map(|g| {
            let (a, b) = shift_span(g.start, g.end, at, delta)?;
            Some(Group { start: a, end: b, ..g.clone() })
        })
        .collect();
    s.protected_ranges.retain_mut(|p| match p.get_mut("range") {
        Some(range) => shift_json_range(range, rows, at, delta),
        None => true,
    });
    if let Some(f) = &mut s.basic_filter {
        let keep = match f.get_mut("range") {
            Some(range) => shift_json_range(range, rows, at, delta),
            None => true,
        };
        if !keep {
            s.basic_filter = None;
        }
    }
}

fn shift_named(ss: &mut Spreadsheet, sheet_id: i32, rows: bool, at: u32, delta: i64) {
    ss.named_ranges.retain_mut(|n| {
        if n.sheet_id != sheet_id {
            return true;
        }
        let (a, b) = if rows { (n.rect.r0, n.rect.r1) } else { (n.rect.c0, n.rect.c1) };
        match shift_span(a, b, at, delta) {
            Some((na, nb)) => {
                if rows {
                    n.rect.r0 = na;
                    n.rect.r1 = nb;
                } else {
                    n.rect.c0 = na;
                    n.rect.c1 = nb;
                }
                true
            }
            None => false,
        }
    });
}

/// Rewrites every formula's references into sheet `target` after rows or
/// columns moved there. Rows without formulas are not touched (nor copied).
fn shift_formulas(ss: &mut Spreadsheet, target: usize, shift: Shift) {
    let target_title = ss.sheets[target].title.clone();
    for si in 0..ss.sheets.len() {
        let with_formulas: Vec<u32> = ss.sheets[si]
            .grid
            .rows()
            .enumerate()
            .filter(|(_, row)| row.iter().any(|c| c.formula().is_some()))
            .map(|(r, _)| r as u32)
            .collect();
        if with_formulas.is_empty() {
            continue;
        }
        let s = ss.sheet_mut(si);
        let own = s.title.clone();
        for r in with_formulas {
            let Some(row) = s.grid.existing_row_mut(r) else { continue };
            for cell in row.iter_mut() {
                let Some(f) = cell.formula() else { continue };
                let shifted = super::formula::shift_references(f, &own, &target_title, &shift);
                if shifted != f {
                    cell.extra_mut().formula = Some(shifted.into());
                }
            }
        }
    }
}

fn insert_span(ss: &mut Spreadsheet, i: usize, rows: bool, at: u32, n: u32) -> Result<(), String> {
    let sheet_id = ss.sheets[i].id;
    // Checked before anything grows: a huge request must not allocate.
    let other = u64::from(if rows { ss.sheets[i].col_count } else { ss.sheets[i].row_count });
    if ss.cell_count().saturating_add(u64::from(n).saturating_mul(other)) > MAX_CELLS {
        return Err(values::cell_limit().message);
    }
    let s = ss.sheet_mut(i);
    if rows {
        s.grid.insert_rows(at, n);
        s.row_count += n;
    } else {
        s.grid.insert_cols(at, n);
        s.col_count += n;
    }
    shift_dimension(s, rows, at, i64::from(n));
    shift_named(ss, sheet_id, rows, at, i64::from(n));
    shift_formulas(ss, i, Shift { rows, at, delta: i64::from(n) });
    if ss.cell_count() > MAX_CELLS {
        return Err(values::cell_limit().message);
    }
    Ok(())
}

fn append_dimension(ss: &mut Spreadsheet, r: &Json) -> Step {
    let i = sheet_index(ss, r.get("sheetId"))?;
    let rows = is_rows(r)?;
    let n = index_of(r, "length").unwrap_or(0);
    if n == 0 {
        return Err("Length must be greater than 0.".into());
    }
    let at = if rows { ss.sheets[i].row_count } else { ss.sheets[i].col_count };
    insert_span(ss, i, rows, at, n)?;
    Ok(None)
}

fn dimension_range(ss: &Spreadsheet, range: Option<&Json>) -> Result<(usize, bool, u32, u32), String> {
    let range = range.ok_or("Missing range.")?;
    let i = sheet_index(ss, range.get("sheetId"))?;
    let rows = is_rows(range)?;
    let s = &ss.sheets[i];
    let limit = if rows { s.row_count } else { s.col_count };
    let a = index_of(range, "startIndex").unwrap_or(0);
    let b = index_of(range, "endIndex").unwrap_or(limit);
    Ok((i, rows, a, b))
}

fn insert_dimension(ss: &mut Spreadsheet, r: &Json) -> Step {
    let (i, rows, a, b) = dimension_range(ss, r.get("range"))?;
    let s = &ss.sheets[i];
    let limit = if rows { s.row_count } else { s.col_count };
    if b <= a {
        return Err("The end index must be greater than the start index.".into());
    }
    if a > limit {
        return Err(format!(
            "Cannot insert {} starting at index {a}: the sheet has only {limit}.",
            if rows { "rows" } else { "columns" }
        ));
    }
    insert_span(ss, i, rows, a, b - a)?;
    Ok(None)
}

fn delete_dimension(ss: &mut Spreadsheet, r: &Json) -> Step {
    let (i, rows, a, b) = dimension_range(ss, r.get("range"))?;
    let sheet_id = ss.sheets[i].id;
    let s = &ss.sheets[i];
    let limit = if rows { s.row_count } else { s.col_count };
    let b = b.min(limit);
    if b <= a {
        return Err("The end index must be greater than the start index.".into());
    }
    if a == 0 && b >= limit {
        return Err(if rows {
            "You can't delete all the rows on the sheet.".into()
        } else {
            "You can't delete all the columns on the sheet.".into()
        });
    }
    let s = ss.sheet_mut(i);
    if rows {
        s.grid.delete_rows(a, b);
        s.row_count -= b - a;
    } else {
        s.grid.delete_cols(a, b);
        s.col_count -= b - a;
    }
    s.grid.trim();
    shift_dimension(s, rows, a, -i64::from(b - a));
    shift_named(ss, sheet_id, rows, a, -i64::from(b - a));
    shift_formulas(ss, i, Shift { rows, at: a, delta: -i64::from(b - a) });
    Ok(None)
}

fn update_dimension_properties(ss: &mut Spreadsheet, r: &Json) -> Step {
    let (i, rows, a, b) = dimension_range(ss, r.get("range"))?;
    let m = fields_of(r)?;
    let props = r.get("properties").cloned().unwrap_or_else(|| json!({}));
    let s = ss.sheet_mut(i);
    let limit = if rows { s.row_count } else { s.col_count };
    let meta = if rows { &mut s.row_meta } else { &mut s.col_meta };
    for k in a..b.min(limit) {
        let mut entry = meta.get(&k).and_then(Json::as_object).cloned().unwrap_or_default();
        apply_fields(&mut entry, &props, &m);
        let mut v = Json::Object(entry);
        drop_defaults(&mut v);
        match v {
            Json::Object(o) if !o.is_empty() => {
                meta.insert(k, Json::Object(o));
            }
            _ => {
                meta.remove(&k);
            }
        }
    }
    Ok(None)
}

fn auto_resize(ss: &mut Spreadsheet, r: &Json) -> Step {
    let (i, rows, a, b) = match r.get("dimensions") {
        Some(d) => dimension_range(ss, Some(d))?,
        None => return Err("Missing dimensions.".into()),
    };
    if rows {
        return Ok(None);
    }
    let widths: Vec<(u32, Option<u32>)> = {
        let s = &ss.sheets[i];
        (a..b.min(s.col_count))
            .map(|c| {
                let longest = s
                    .grid
                    .rows()
                    .filter_map(|row| row.get(c as usize))
                    .map(|cell| values::render_cell(ss, i, cell, &values::ReadOptions::default()))
                    .filter_map(|v| v.as_str().map(|t| t.chars().count()))
                    .max();
                // Width of Arial 10 text, as measured from Sheets' own resizing.
                (c, longest.filter(|n| *n > 0).map(|n| (n as f64 * 8.48).floor() as u32 + 8))
            })
            .collect()
    };
    let s = ss.sheet_mut(i);
    for (c, width) in widths {
        let entry = s.col_meta.entry(c).or_insert_with(|| json!({}));
        match width {
            Some(w) => entry["pixelSize"] = json!(w),
            None => {
                if let Some(m) = entry.as_object_mut() {
                    m.remove("pixelSize");
                }
            }
        }
        if entry.as_object().is_some_and(Map::is_empty) {
            s.col_meta.remove(&c);
        }
    }
    Ok(None)
}

// ---------- cells ----------

/// Applies the masked parts of a CellData to a cell.
fn apply_cell_data(cell: &mut Cell, data: &Json, m: &Mask) -> Result<(), String> {
    let all = m.is_all();
    let wants = |k: &str| all || m.child(k).is_some();
    if wants("userEnteredValue") {
        match data.get("userEnteredValue") {
            Some(v) => {
                if let Some(s) = v.get("stringValue").and_then(Json::as_str) {
                    if s.chars().count() > super::model::MAX_CELL_CHARS {
                        return Err(format!(
                            "Your input contains more than the maximum of {} characters in a single cell.",
                            super::model::MAX_CELL_CHARS
                        ));
                    }
                }
                cell.set_content(cell::from_extended(v));
            }
            None => cell.clear_content(),
        }
    }
    if wants("userEnteredFormat") {
        let sub =
            if all { Mask::default() } else { m.child("userEnteredFormat").cloned().unwrap_or_default() };
        let mut format = cell.format().and_then(Json::as_object).cloned().unwrap_or_default();
        let src = data.get("userEnteredFormat").cloned().unwrap_or(Json::Null);
        if sub.is_all() {
            format = src.as_object().cloned().unwrap_or_default();
        } else {
            apply_fields(&mut format, &src, &sub);
        }
        let mut v = Json::Object(format);
        normalize_format(&mut v);
        let e = cell.extra_mut();
        e.format = v.as_object().filter(|o| !o.is_empty()).map(|_| v.clone());
    }
    if wants("note") {
        let note = data.get("note").and_then(Json::as_str).filter(|n| !n.is_empty());
        cell.extra_mut().note = note.map(Into::into);
    }
    if wants("dataValidation") {
        let mut v = data.get("dataValidation").cloned().unwrap_or(Json::Null);
        drop_defaults(&mut v);
        cell.extra_mut().validation = (!v.is_null()).then_some(v);
    }
    cell.tidy();
    Ok(())
}

fn update_cells(ss: &mut Spreadsheet, r: &Json) -> Step {
    let m = fields_of(r)?;
    let rows = r.get("rows").and_then(Json::as_array).cloned().unwrap_or_default();
    let (i, r0, c0, bound) = if let Some(start) = r.get("start") {
        let i = sheet_index(ss, start.get("sheetId"))?;
        (i, index_of(start, "rowIndex").unwrap_or(0), index_of(start, "columnIndex").unwrap_or(0), None)
    } else if let Some(range) = r.get("range") {
        let i = sheet_index(ss, range.get("sheetId"))?;
        check_in_grid(&ss.sheets[i], range)?;
        let rect = rect_of(&ss.sheets[i], range);
        (i, rect.r0, rect.c0, Some(rect))
    } else {
        return Err("Either start or range must be set.".into());
    };
    let s = ss.sheet_mut(i);
    let height = rows.len() as u32;
    let width =
        rows.iter().map(|r| r.get("values").and_then(Json::as_array).map_or(0, Vec::len)).max().unwrap_or(0)
            as u32;
    if bound.is_none() && (r0.saturating_add(height) > s.row_count || c0.saturating_add(width) > s.col_count)
    {
        return Err(format!(
            "Range ('{}'!{}) exceeds grid limits. Max rows: {}, max columns: {}",
            s.title.replace('\'', "''"),
            super::a1::cells_text(r0, c0, r0.saturating_add(height.max(1)), c0.saturating_add(width.max(1))),
            s.row_count,
            s.col_count
        ));
    }
    let empty = json!({});
    let rect = bound.unwrap_or(Rect { r0, r1: r0 + height, c0, c1: c0 + width });
    for r in rect.r0..rect.r1 {
        let row = rows.get((r - r0) as usize).and_then(|x| x.get("values")).and_then(Json::as_array);
        let row_width = row.map_or(0, Vec::len) as u32;
        let c_end = if bound.is_some() { rect.c1 } else { c0 + row_width };
        for c in rect.c0..c_end {
            let data = row.and_then(|v| v.get((c - c0) as usize)).unwrap_or(&empty);
            if bound.is_some() && data == &empty && s.grid.get(r, c).is_none() {
                continue;
            }
            let cell = s.grid.cell_mut(r, c);
            apply_cell_data(cell, data, &m)?;
        }
        s.grid.trim_row(r);
    }
    s.grid.trim();
    Ok(None)
}

fn repeat_cell(ss: &mut Spreadsheet, r: &Json) -> Step {
    let m = fields_of(r)?;
    let (i, rect) = range_of(ss, r.get("range"))?;
    let data = r.get("cell").cloned().unwrap_or_else(|| json!({}));
    let s = ss.sheet_mut(i);
    let clearing = mask::apply(&data, &m).as_object().is_none_or(Map::is_empty);
    for row in rect.r0..rect.r1 {
        for c in rect.c0..rect.c1 {
            if clearing && s.grid.get(row, c).is_none() {
                continue;
            }
            apply_cell_data(s.grid.cell_mut(row, c), &data, &m)?;
        }
        s.grid.trim_row(row);
    }
    s.grid.trim();
    Ok(None)
}

fn set_data_validation(ss: &mut Spreadsheet, r: &Json) -> Step {
    let (i, rect) = range_of(ss, r.get("range"))?;
    let mut rule = r.get("rule").cloned().unwrap_or(Json::Null);
    drop_defaults(&mut rule);
    let data = json!({ "dataValidation": rule });
    let m = mask::parse("dataValidation");
    let s = ss.sheet_mut(i);
    for row in rect.r0..rect.r1 {
        for c in rect.c0..rect.c1 {
            if rule.is_null() && s.grid.get(row, c).is_none() {
                continue;
            }
            apply_cell_data(s.grid.cell_mut(row, c), &data, &m)?;
        }
        s.grid.trim_row(row);
    }
    s.grid.trim();
    Ok(None)
}

fn merge_cells(ss: &mut Spreadsheet, r: &Json) -> Step {
    let (i, rect) = range_of(ss, r.get("range"))?;
    let kind = r.get("mergeType").and_then(Json::as_str).unwrap_or("MERGE_ALL");
    let pieces: Vec<Rect> = match kind {
        "MERGE_ALL" => vec![rect],
        "MERGE_COLUMNS" => (rect.c0..rect.c1).map(|c| Rect { c0: c, c1: c + 1, ..rect }).collect(),
        "MERGE_ROWS" => (rect.r0..rect.r1).map(|row| Rect { r0: row, r1: row + 1, ..rect }).collect(),
        other => return Err(format!("Unknown merge type: {other}")),
    };
    let s = ss.sheet_mut(i);
    if s.merges
        .iter()
        .any(|m| m.intersects(&rect) && !(rect.contains(m.r0, m.c0) && rect.contains(m.r1 - 1, m.c1 - 1)))
    {
        return Err("You can't merge cells that are already partially merged.".into());
    }
    s.merges.retain(|m| !m.intersects(&rect));
    for p in pieces {
        if p.rows() * p.cols() <= 1 {
            continue;
        }
        for row in p.r0..p.r1 {
            for c in p.c0..p.c1 {
                if (row, c) != (p.r0, p.c0) && s.grid.get(row, c).is_some() {
                    s.grid.cell_mut(row, c).clear_content();
                }
            }
            s.grid.trim_row(row);
        }
        s.merges.push(p);
    }
    s.grid.trim();
    Ok(None)
}

fn unmerge_cells(ss: &mut Spreadsheet, r: &Json) -> Step {
    let (i, rect) = range_of(ss, r.get("range"))?;
    let s = ss.sheet_mut(i);
    if s.merges
        .iter()
        .any(|m| m.intersects(&rect) && !(rect.contains(m.r0, m.c0) && rect.contains(m.r1 - 1, m.c1 - 1)))
    {
        return Err("You must select all cells in a merged range to merge or unmerge them.".into());
    }
    s.merges.retain(|m| !m.intersects(&rect));
    Ok(None)
}

fn sort_key_rank(ss: &Spreadsheet, i: usize, cell: Option<&Cell>) -> (u8, f64, String) {
    let Some(cell) = cell else { return (9, 0.0, String::new()) };
    let v = match cell.formula() {
        Some(f) => super::formula::evaluate(ss, i, f),
        None => cell.value.clone(),
    };
    match v {
        cell::Value::Empty => (9, 0.0, String::new()),
        cell::Value::Number(n) => (0, n, String::new()),
        cell::Value::Text(t) => (1, 0.0, t.to_lowercase()),
        cell::Value::Bool(b) => (2, if b { 1.0 } else { 0.0 }, String::new()),
        cell::Value::Error(e) => (3, 0.0, e.to_string()),
    }
}

fn sort_range(ss: &mut Spreadsheet, r: &Json) -> Step {
    let (i, rect) = range_of(ss, r.get("range"))?;
    let specs: Vec<(u32, bool)> = r
        .get("sortSpecs")
        .and_then(Json::as_array)
        .map(|a| {
            a.iter()
                .map(|s| {
                    (
                        index_of(s, "dimensionIndex").unwrap_or(0),
                        s.get("sortOrder").and_then(Json::as_str) == Some("DESCENDING"),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let keys: Vec<Vec<(u8, f64, String)>> = (rect.r0..rect.r1)
        .map(|row| specs.iter().map(|(c, _)| sort_key_rank(ss, i, ss.sheets[i].grid.get(row, *c))).collect())
        .collect();
    let mut order: Vec<usize> = (0..keys.len()).collect();
    order.sort_by(|a, b| {
        for (k, (_, desc)) in specs.iter().enumerate() {
            let (x, y) = (&keys[*a][k], &keys[*b][k]);
            let ord = if x.0 == 9 || y.0 == 9 {
                x.0.cmp(&y.0)
            } else {
                let o =
                    x.0.cmp(&y.0)
                        .then(x.1.partial_cmp(&y.1).unwrap_or(std::cmp::Ordering::Equal))
                        .then(x.2.cmp(&y.2));
                if *desc {
                    o.reverse()
                } else {
                    o
                }
            };
            if ord != std::cmp::Ordering::Equal {
                return ord;
            }
        }
        std::cmp::Ordering::Equal
    });
    let s = ss.sheet_mut(i);
    let taken: Vec<Vec<Cell>> = (rect.r0..rect.r1)
        .map(|row| {
            (rect.c0..rect.c1)
                .map(|c| {
                    if s.grid.get(row, c).is_some() {
                        std::mem::take(s.grid.cell_mut(row, c))
                    } else {
                        Cell::default()
                    }
                })
                .collect()
        })
        .collect();
    let mut taken: Vec<Option<Vec<Cell>>> = taken.into_iter().map(Some).collect();
    for (dest, src) in order.into_iter().enumerate() {
        let row = rect.r0 + dest as u32;
        if let Some(cells) = taken[src].take() {
            for (j, cell) in cells.into_iter().enumerate() {
                if !cell.is_empty() || s.grid.get(row, rect.c0 + j as u32).is_some() {
                    *s.grid.cell_mut(row, rect.c0 + j as u32) = cell;
                }
            }
        }
        s.grid.trim_row(row);
    }
    s.grid.trim();
    Ok(None)
}

// ---------- named ranges ----------

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.chars().next().is_some_and(|c| c.is_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_alphanumeric() || c == '_' || c == '.')
        && super::a1::parse_cells(name).is_none()
        && !name.eq_ignore_ascii_case("true")
        && !name.eq_ignore_ascii_case("false")
}

fn add_named_range(ss: &mut Spreadsheet, r: &Json) -> Step {
    let nr = r.get("namedRange").cloned().unwrap_or_else(|| json!({}));
    let name = nr.get("name").and_then(Json::as_str).unwrap_or("").to_owned();
    if !valid_name(&name) {
        return Err(format!("Invalid name for a named range: {name}"));
    }
    if ss.named_ranges.iter().any(|n| n.name.eq_ignore_ascii_case(&name)) {
        return Err(format!("A named range with the name \"{name}\" already exists."));
    }
    let (i, rect) = range_of(ss, nr.get("range"))?;
    let id = match nr.get("namedRangeId").and_then(Json::as_str) {
        Some(id) if !id.is_empty() => id.to_owned(),
        _ => random_id().to_string(),
    };
    let named = NamedRange { id, name, sheet_id: ss.sheets[i].id, rect };
    let reply = named.json();
    ss.named_ranges.push(named);
    Ok(Some(json!({ "namedRange": reply })))
}

fn update_named_range(ss: &mut Spreadsheet, r: &Json) -> Step {
    let nr = r.get("namedRange").cloned().unwrap_or_else(|| json!({}));
    let m = fields_of(r)?;
    let id = nr.get("namedRangeId").and_then(Json::as_str).unwrap_or("").to_owned();
    let pos = ss
        .named_ranges
        .iter()
        .position(|n| n.id == id)
        .ok_or_else(|| format!("No named range with id: {id}"))?;
    let mut current = ss.named_ranges[pos].json().as_object().cloned().unwrap_or_default();
    if let Some(range) = current.get_mut("range") {
        range["sheetId"] = json!(ss.named_ranges[pos].sheet_id);
    }
    apply_fields(&mut current, &nr, &m);
    let name = current.get("name").and_then(Json::as_str).unwrap_or("").to_owned();
    if !valid_name(&name) {
        return Err(format!("Invalid name for a named range: {name}"));
    }
    if ss.named_ranges.iter().enumerate().any(|(j, n)| j != pos && n.name.eq_ignore_ascii_case(&name)) {
        return Err(format!("A named range with the name \"{name}\" already exists."));
    }
    let (i, rect) = range_of(ss, current.get("range"))?;
    ss.named_ranges[pos] = NamedRange { id, name, sheet_id: ss.sheets[i].id, rect };
    Ok(None)
}

fn delete_named_range(ss: &mut Spreadsheet, r: &Json) -> Step {
    let id = r.get("namedRangeId").and_then(Json::as_str).unwrap_or("");
    let before = ss.named_ranges.len();
    ss.named_ranges.retain(|n| n.id != id);
    if ss.named_ranges.len() == before {
        return Err(format!("No named range with id: {id}"));
    }
    Ok(None)
}

// ---------- filters, groups, protection ----------

fn full_range_json(s: &Sheet, rect: &Rect) -> Json {
    with_sheet(rect.grid_range(), s.id)
}

fn set_basic_filter(ss: &mut Spreadsheet, r: &Json) -> Step {
    let mut filter = r.get("filter").cloned().unwrap_or_else(|| json!({}));
    let (i, rect) = range_of(ss, filter.get("range"))?;
    let range = full_range_json(&ss.sheets[i], &rect);
    filter["range"] = range;
    drop_defaults(&mut filter);
    filter["range"] = full_range_json(&ss.sheets[i], &rect);
    ss.sheet_mut(i).basic_filter = Some(filter);
    Ok(None)
}

fn clear_basic_filter(ss: &mut Spreadsheet, r: &Json) -> Step {
    let i = sheet_index(ss, r.get("sheetId"))?;
    ss.sheet_mut(i).basic_filter = None;
    Ok(None)
}

fn groups_reply(s: &Sheet, rows: bool) -> Json {
    let groups = if rows { &s.row_groups } else { &s.col_groups };
    let dimension = if rows { "ROWS" } else { "COLUMNS" };
    let list: Vec<Json> = groups
        .iter()
        .map(|g| {
            let mut range = Map::new();
            if s.id != 0 {
                range.insert("sheetId".into(), json!(s.id));
            }
            range.insert("dimension".into(), json!(dimension));
            range.insert("startIndex".into(), json!(g.start));
            range.insert("endIndex".into(), json!(g.end));
            let mut m = Map::new();
            m.insert("range".into(), Json::Object(range));
            m.insert("depth".into(), json!(g.depth));
            if g.collapsed {
                m.insert("collapsed".into(), json!(true));
            }
            Json::Object(m)
        })
        .collect();
    if list.is_empty() {
        json!({})
    } else {
        json!({ "dimensionGroups": list })
    }
}

fn recompute_depths(groups: &mut [Group]) {
    let spans: Vec<(u32, u32)> = groups.iter().map(|g| (g.start, g.end)).collect();
    for g in groups.iter_mut() {
        g.depth = 1 + spans
            .iter()
            .filter(|(a, b)| *a <= g.start && g.end <= *b && (*a, *b) != (g.start, g.end))
            .count() as u32;
    }
}

fn add_group(ss: &mut Spreadsheet, r: &Json) -> Step {
    let (i, rows, a, b) = dimension_range(ss, r.get("range"))?;
    if b <= a {
        return Err("The end index must be greater than the start index.".into());
    }
    let s = ss.sheet_mut(i);
    let groups = if rows { &mut s.row_groups } else { &mut s.col_groups };
    if groups.iter().any(|g| g.start == a && g.end == b) {
        return Err("The group already exists.".into());
    }
    groups.push(Group { start: a, end: b, depth: 1, collapsed: false });
    groups.sort_by_key(|g| (g.start, std::cmp::Reverse(g.end)));
    recompute_depths(groups);
    // The first group turns the group controls' position on; it stays after the groups go.
    let flag = if rows { "rowGroupControlAfter" } else { "columnGroupControlAfter" };
    s.grid_props.entry(flag.to_owned()).or_insert(json!(true));
    Ok(Some(groups_reply(s, rows)))
}

fn delete_group(ss: &mut Spreadsheet, r: &Json) -> Step {
    let (i, rows, a, b) = dimension_range(ss, r.get("range"))?;
    let s = ss.sheet_mut(i);
    let groups = if rows { &mut s.row_groups } else { &mut s.col_groups };
    let before = groups.len();
    groups.retain(|g| !((g.start == a && g.end == b) || (g.start >= a && g.end <= b && g.depth == 1)));
    if groups.len() == before {
        return Err("No group with that range.".into());
    }
    recompute_depths(groups);
    Ok(Some(groups_reply(s, rows)))
}

fn add_protected_range(ss: &mut Spreadsheet, r: &Json, user: Option<&str>) -> Step {
    let pr = r.get("protectedRange").cloned().unwrap_or_else(|| json!({}));
    let (i, range) = if let Some(named) = pr.get("namedRangeId").and_then(Json::as_str) {
        let n = ss
            .named_ranges
            .iter()
            .find(|n| n.id == named)
            .ok_or_else(|| format!("No named range with id: {named}"))?;
        let i = ss.sheet_index_by_id(i64::from(n.sheet_id)).ok_or("No grid for the named range.")?;
        (i, None)
    } else {
        let (i, rect) = range_of(ss, pr.get("range"))?;
        (i, Some(full_range_json(&ss.sheets[i], &rect)))
    };
    let id = match pr.get("protectedRangeId").and_then(Json::as_i64) {
        Some(id) => id,
        None => i64::from(random_id()),
    };
    let mut m = Map::new();
    m.insert("protectedRangeId".into(), json!(id));
    if let Some(range) = range {
        m.insert("range".into(), range);
    }
    if let Some(n) = pr.get("namedRangeId") {
        m.insert("namedRangeId".into(), n.clone());
    }
    if let Some(d) = pr.get("description").and_then(Json::as_str).filter(|d| !d.is_empty()) {
        m.insert("description".into(), json!(d));
    }
    let warning = pr.get("warningOnly").and_then(Json::as_bool).unwrap_or(false);
    if warning {
        m.insert("warningOnly".into(), json!(true));
    }
    m.insert("requestingUserCanEdit".into(), json!(true));
    let mut reply = m.clone();
    reply.insert("editors".into(), json!({}));
    let mut stored = m;
    {
        let mut users: Vec<Json> =
            pr.pointer("/editors/users").and_then(Json::as_array).cloned().unwrap_or_default();
        if let Some(u) = user {
            if !users.iter().any(|x| x.as_str() == Some(u)) {
                users.insert(0, json!(u));
            }
        }
        let mut editors = Map::new();
        if !users.is_empty() {
            editors.insert("users".into(), Json::Array(users));
        }
        if let Some(g) = pr.pointer("/editors/groups").and_then(Json::as_array).filter(|g| !g.is_empty()) {
            editors.insert("groups".into(), Json::Array(g.clone()));
        }
        stored.insert("editors".into(), Json::Object(editors));
    }
    ss.sheet_mut(i).protected_ranges.push(Json::Object(stored));
    Ok(Some(json!({ "protectedRange": Json::Object(reply) })))
}

fn delete_protected_range(ss: &mut Spreadsheet, r: &Json) -> Step {
    let id = r.get("protectedRangeId").and_then(Json::as_i64).unwrap_or(0);
    for i in 0..ss.sheets.len() {
        if let Some(pos) = ss.sheets[i]
            .protected_ranges
            .iter()
            .position(|p| p.get("protectedRangeId").and_then(Json::as_i64) == Some(id))
        {
            ss.sheet_mut(i).protected_ranges.remove(pos);
            return Ok(None);
        }
    }
    Err(format!("No protected range with id: {id}"))
}

// ---------- copy and paste ----------

fn paste_cell(dest: &mut Cell, src: &Cell, paste: &str) {
    match paste {
        "PASTE_VALUES" => {
            // The source's formulas were already turned into their values.
            dest.value = src.value.clone();
            if let Some(e) = &mut dest.extra {
                e.formula = None;
            }
        }
        "PASTE_FORMAT" => {
            let f = src.format().cloned();
            dest.extra_mut().format = f;
        }
        "PASTE_FORMULA" => {
            dest.value = src.value.clone();
            dest.extra_mut().formula = src.formula().map(Into::into);
        }
        "PASTE_DATA_VALIDATION" => {
            let v = src.extra.as_ref().and_then(|e| e.validation.clone());
            dest.extra_mut().validation = v;
        }
        "PASTE_CONDITIONAL_FORMATTING" => {}
        _ => *dest = src.clone(),
    }
    dest.tidy();
}

/// For PASTE_VALUES: each formula replaced by its value.
fn values_only(ss: &Spreadsheet, sheet: usize, block: Vec<Vec<Cell>>) -> Vec<Vec<Cell>> {
    block
        .into_iter()
        .map(|row| {
            row.into_iter()
                .map(|mut c| {
                    if let Some(f) = c.formula() {
                        c.value = super::formula::evaluate(ss, sheet, f);
                        c.extra_mut().formula = None;
                        c.tidy();
                    }
                    c
                })
                .collect()
        })
        .collect()
}

fn copy_paste(ss: &mut Spreadsheet, r: &Json) -> Step {
    let (si, src) = range_of(ss, r.get("source"))?;
    let (di, dst) = range_of(ss, r.get("destination"))?;
    let paste = r.get("pasteType").and_then(Json::as_str).unwrap_or("PASTE_NORMAL").to_owned();
    let transpose = r.get("pasteOrientation").and_then(Json::as_str) == Some("TRANSPOSE");
    let block: Vec<Vec<Cell>> = (src.r0..src.r1)
        .map(|row| {
            (src.c0..src.c1).map(|c| ss.sheets[si].grid.get(row, c).cloned().unwrap_or_default()).collect()
        })
        .collect();
    let block = if paste == "PASTE_VALUES" { values_only(ss, si, block) } else { block };
    let block = if transpose {
        let h = src.cols() as usize;
        let w = src.rows() as usize;
        (0..h).map(|i| (0..w).map(|j| block[j][i].clone()).collect()).collect()
    } else {
        block
    };
    let bh = block.len() as u32;
    let bw = block.first().map_or(0, Vec::len) as u32;
    if bh == 0 || bw == 0 {
        return Ok(None);
    }
    // The destination takes whole copies of the source, at least one.
    let reps_r = (dst.rows() / bh).max(1);
    let reps_c = (dst.cols() / bw).max(1);
    let s = ss.sheet_mut(di);
    let (rows_needed, cols_needed) = (dst.r0 + reps_r * bh, dst.c0 + reps_c * bw);
    if rows_needed > s.row_count || cols_needed > s.col_count {
        s.row_count = s.row_count.max(rows_needed);
        s.col_count = s.col_count.max(cols_needed);
    }
    for rr in 0..reps_r {
        for rc in 0..reps_c {
            for (i, row) in block.iter().enumerate() {
                for (j, cell) in row.iter().enumerate() {
                    let (r, c) = (dst.r0 + rr * bh + i as u32, dst.c0 + rc * bw + j as u32);
                    if cell.is_empty() && s.grid.get(r, c).is_none() {
                        continue;
                    }
                    paste_cell(s.grid.cell_mut(r, c), cell, &paste);
                }
            }
        }
    }
    s.grid.trim();
    Ok(None)
}

fn cut_paste(ss: &mut Spreadsheet, r: &Json) -> Step {
    let (si, src) = range_of(ss, r.get("source"))?;
    let dest = r.get("destination").ok_or("Missing destination.")?;
    let di = sheet_index(ss, dest.get("sheetId"))?;
    let (dr, dc) = (index_of(dest, "rowIndex").unwrap_or(0), index_of(dest, "columnIndex").unwrap_or(0));
    let paste = r.get("pasteType").and_then(Json::as_str).unwrap_or("PASTE_NORMAL").to_owned();
    {
        let d = &ss.sheets[di];
        let (r1, c1) = (dr.saturating_add(src.rows()), dc.saturating_add(src.cols()));
        if r1 > d.row_count || c1 > d.col_count {
            return Err(format!(
                "Range ('{}'!{}) exceeds grid limits. Max rows: {}, max columns: {}",
                d.title.replace('\'', "''"),
                super::a1::cells_text(dr, dc, r1.max(1), c1.max(1)),
                d.row_count,
                d.col_count
            ));
        }
    }
    let block: Vec<Vec<Cell>> = {
        let s = ss.sheet_mut(si);
        (src.r0..src.r1)
            .map(|row| {
                (src.c0..src.c1)
                    .map(|c| {
                        if s.grid.get(row, c).is_some() {
                            std::mem::take(s.grid.cell_mut(row, c))
                        } else {
                            Cell::default()
                        }
                    })
                    .collect()
            })
            .collect()
    };
    let block = if paste == "PASTE_VALUES" { values_only(ss, si, block) } else { block };
    let s = ss.sheet_mut(di);
    for (i, row) in block.iter().enumerate() {
        for (j, cell) in row.iter().enumerate() {
            let (r, c) = (dr + i as u32, dc + j as u32);
            if cell.is_empty() && s.grid.get(r, c).is_none() {
                continue;
            }
            paste_cell(s.grid.cell_mut(r, c), cell, &paste);
        }
    }
    s.grid.trim();
    if si != di {
        ss.sheet_mut(si).grid.trim();
    }
    Ok(None)
}

// ---------- developer metadata ----------

fn metadata_location(ss: &Spreadsheet, loc: &Json) -> Result<Json, String> {
    if loc.get("spreadsheet").and_then(Json::as_bool) == Some(true) {
        return Ok(json!({"locationType": "SPREADSHEET", "spreadsheet": true}));
    }
    if let Some(id) = loc.get("sheetId").and_then(Json::as_i64) {
        ss.sheet_index_by_id(id).ok_or_else(|| format!("No grid with id: {id}"))?;
        return Ok(json!({"locationType": "SHEET", "sheetId": id}));
    }
    if let Some(d) = loc.get("dimensionRange") {
        let (i, rows, a, b) = dimension_range(ss, Some(d))?;
        return Ok(json!({
            "locationType": if rows { "ROW" } else { "COLUMN" },
            "dimensionRange": {"sheetId": ss.sheets[i].id, "dimension": if rows { "ROWS" } else { "COLUMNS" }, "startIndex": a, "endIndex": b}
        }));
    }
    Err("A developer metadata location must be set.".into())
}

fn create_metadata(ss: &mut Spreadsheet, r: &Json) -> Step {
    let dm = r.get("developerMetadata").cloned().unwrap_or_else(|| json!({}));
    let id = match dm.get("metadataId").and_then(Json::as_i64) {
        Some(id) => {
            if ss.developer_metadata.iter().any(|d| d.get("metadataId").and_then(Json::as_i64) == Some(id)) {
                return Err(format!("Developer metadata with ID {id} already exists."));
            }
            id
        }
        None => i64::from(random_id()),
    };
    let location = metadata_location(ss, dm.get("location").unwrap_or(&Json::Null))?;
    let visibility = dm.get("visibility").and_then(Json::as_str).unwrap_or("DOCUMENT");
    if !matches!(visibility, "DOCUMENT" | "PROJECT") {
        return Err(format!("Invalid developer metadata visibility: {visibility}"));
    }
    let mut m = Map::new();
    m.insert("metadataId".into(), json!(id));
    if let Some(k) = dm.get("metadataKey").and_then(Json::as_str) {
        m.insert("metadataKey".into(), json!(k));
    } else {
        return Err("A developer metadata key must be set.".into());
    }
    if let Some(v) = dm.get("metadataValue").and_then(Json::as_str).filter(|v| !v.is_empty()) {
        m.insert("metadataValue".into(), json!(v));
    }
    m.insert("location".into(), location);
    m.insert("visibility".into(), json!(visibility));
    let stored = Json::Object(m);
    ss.developer_metadata.push(stored.clone());
    Ok(Some(json!({ "developerMetadata": stored })))
}

fn lookup_matches(ss: &Spreadsheet, d: &Json, lookup: &Json) -> bool {
    if let Some(id) = lookup.get("metadataId").and_then(Json::as_i64) {
        if d.get("metadataId").and_then(Json::as_i64) != Some(id) {
            return false;
        }
    }
    for key in ["metadataKey", "metadataValue", "visibility"] {
        if let Some(want) = lookup.get(key).and_then(Json::as_str) {
            if d.get(key).and_then(Json::as_str) != Some(want) {
                return false;
            }
        }
    }
    if let Some(t) = lookup.get("locationType").and_then(Json::as_str) {
        if d.pointer("/location/locationType").and_then(Json::as_str) != Some(t) {
            return false;
        }
    }
    if let Some(loc) = lookup.get("metadataLocation") {
        match metadata_location(ss, loc) {
            Ok(want) => {
                let have = d.get("location").cloned().unwrap_or(Json::Null);
                let intersect = lookup.get("locationMatchingStrategy").and_then(Json::as_str)
                    == Some("INTERSECTING_LOCATION");
                if intersect {
                    let sheet = |l: &Json| {
                        l.get("sheetId")
                            .or_else(|| l.pointer("/dimensionRange/sheetId"))
                            .and_then(Json::as_i64)
                    };
                    if sheet(&want) != sheet(&have) {
                        return false;
                    }
                } else if want != have {
                    return false;
                }
            }
            Err(_) => return false,
        }
    }
    true
}

fn filter_matches(ss: &Spreadsheet, d: &Json, filter: &Json) -> bool {
    if let Some(lookup) = filter.get("developerMetadataLookup") {
        return lookup_matches(ss, d, lookup);
    }
    false
}

fn update_metadata(ss: &mut Spreadsheet, r: &Json) -> Step {
    let filters = r.get("dataFilters").and_then(Json::as_array).cloned().unwrap_or_default();
    let m = fields_of(r)?;
    let src = r.get("developerMetadata").cloned().unwrap_or_else(|| json!({}));
    let matched: Vec<usize> = (0..ss.developer_metadata.len())
        .filter(|i| filters.iter().any(|f| filter_matches(ss, &ss.developer_metadata[*i], f)))
        .collect();
    let location = match src.get("location") {
        Some(l) if m.wants(&["location"]) => Some(metadata_location(ss, l)?),
        _ => None,
    };
    let mut updated = Vec::new();
    for i in matched {
        let mut target = ss.developer_metadata[i].as_object().cloned().unwrap_or_default();
        apply_fields(&mut target, &src, &m);
        if let Some(l) = &location {
            target.insert("location".into(), l.clone());
        }
        ss.developer_metadata[i] = Json::Object(target);
        updated.push(ss.developer_metadata[i].clone());
    }
    Ok(Some(if updated.is_empty() { json!({}) } else { json!({ "developerMetadata": updated }) }))
}

fn delete_metadata(ss: &mut Spreadsheet, r: &Json) -> Step {
    let filter = r.get("dataFilter").cloned().unwrap_or(Json::Null);
    let mut deleted = Vec::new();
    let mut kept = Vec::new();
    for d in std::mem::take(&mut ss.developer_metadata) {
        if filter_matches(ss, &d, &filter) {
            deleted.push(d);
        } else {
            kept.push(d);
        }
    }
    ss.developer_metadata = kept;
    Ok(Some(if deleted.is_empty() { json!({}) } else { json!({ "deletedDeveloperMetadata": deleted }) }))
}

pub fn metadata_search(ss: &Spreadsheet, body: &Json) -> ApiResult<Json> {
    let filters = body.get("dataFilters").and_then(Json::as_array).cloned().unwrap_or_default();
    let mut matched = Vec::new();
    for d in &ss.developer_metadata {
        let hits: Vec<Json> = filters.iter().filter(|f| filter_matches(ss, d, f)).cloned().collect();
        if !hits.is_empty() {
            matched.push(json!({"developerMetadata": d, "dataFilters": hits}));
        }
    }
    Ok(if matched.is_empty() { json!({}) } else { json!({ "matchedDeveloperMetadata": matched }) })
}

pub fn metadata_get(ss: &Spreadsheet, id: &str) -> ApiResult<Json> {
    let id: i64 = id
        .parse()
        .map_err(|_| ApiError::invalid_value("metadata_id", "TYPE_INT32", &Json::String(id.to_owned())))?;
    ss.developer_metadata
        .iter()
        .find(|d| d.get("metadataId").and_then(Json::as_i64) == Some(id))
        .cloned()
        .ok_or_else(ApiError::not_found)
}

/// The ranges a DataFilter selects: an A1 range, a GridRange, or where the
/// matching developer metadata sits (a sheet, or rows or columns of one).
pub fn filter_ranges(ss: &Spreadsheet, filter: &Json) -> ApiResult<Vec<(usize, Rect)>> {
    if let Some(a1) = filter.get("a1Range").and_then(Json::as_str) {
        let r = values::resolve(ss, a1, true)?;
        return Ok(vec![(r.sheet, r.rect)]);
    }
    if let Some(g) = filter.get("gridRange") {
        let i = sheet_index(ss, g.get("sheetId")).map_err(ApiError::bad)?;
        return Ok(vec![(i, rect_of(&ss.sheets[i], g))]);
    }
    let mut out = Vec::new();
    if filter.get("developerMetadataLookup").is_some() {
        for d in ss.developer_metadata.iter().filter(|d| filter_matches(ss, d, filter)) {
            let loc = d.get("location").cloned().unwrap_or(Json::Null);
            if let Some(id) = loc.get("sheetId").and_then(Json::as_i64) {
                if let Some(i) = ss.sheet_index_by_id(id) {
                    out.push((i, ss.sheets[i].full()));
                }
            } else if let Some(dr) = loc.get("dimensionRange") {
                if let Ok((i, rows, a, b)) = dimension_range(ss, Some(dr)) {
                    let full = ss.sheets[i].full();
                    out.push((
                        i,
                        if rows { Rect { r0: a, r1: b, ..full } } else { Rect { c0: a, c1: b, ..full } },
                    ));
                }
            } else if loc.get("spreadsheet").and_then(Json::as_bool) == Some(true) {
                out.extend((0..ss.sheets.len()).map(|i| (i, ss.sheets[i].full())));
            }
        }
        return Ok(out);
    }
    Err(ApiError::bad("A data filter must set one of a1Range, gridRange or developerMetadataLookup."))
}
