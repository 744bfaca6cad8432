//! spreadsheets.get (and getByDataFilter): properties, sheets, grid data,
//! with `ranges`, `includeGridData` and `fields` masks.

use serde_json::{json, Map, Value as Json};

use super::cell::{self, DateRender, Render};
use super::mask::{self, Mask};
use super::model::{Rect, Sheet, Spreadsheet};
use super::query::Query;
use super::values;
use super::{formula, ApiResult};

#[derive(Debug, Default)]
pub struct GetOptions {
    pub ranges: Vec<String>,
    pub include_grid_data: bool,
    pub mask: Option<Mask>,
}

pub fn get(ss: &Spreadsheet, query: &Query) -> ApiResult<Json> {
    let options = GetOptions {
        ranges: query.all("ranges").into_iter().map(str::to_owned).collect(),
        include_grid_data: query.flag("includeGridData").unwrap_or(false),
        mask: query.get("fields").map(mask::parse),
    };
    spreadsheet_json(ss, &options)
}

pub fn get_by_data_filter(ss: &Spreadsheet, query: &Query, body: &Json) -> ApiResult<Json> {
    let mut ranges = Vec::new();
    for f in body.get("dataFilters").and_then(Json::as_array).into_iter().flatten() {
        if let Some(a1) = f.get("a1Range").and_then(Json::as_str) {
            ranges.push(a1.to_owned());
        } else if let Some(g) = f.get("gridRange") {
            let sheet_id = g.get("sheetId").and_then(Json::as_i64).unwrap_or(0);
            if let Some(i) = ss.sheet_index_by_id(sheet_id) {
                let s = &ss.sheets[i];
                let rect = super::batch::rect_of(s, g);
                ranges.push(s.a1(&rect));
            }
        }
    }
    let options = GetOptions {
        ranges,
        include_grid_data: body.get("includeGridData").and_then(Json::as_bool).unwrap_or(false),
        mask: query.get("fields").map(mask::parse),
    };
    spreadsheet_json(ss, &options)
}

pub fn spreadsheet_json(ss: &Spreadsheet, options: &GetOptions) -> ApiResult<Json> {
    let wants = |path: &[&str]| options.mask.as_ref().is_none_or(|m| m.wants(path));
    let with_data = options.include_grid_data
        || options
            .mask
            .as_ref()
            .is_some_and(|m| !m.is_all() && m.child("sheets").is_some_and(|s| s.child("data").is_some()));
    // Which sheets, and which rectangles of each.
    let mut per_sheet: Vec<(usize, Vec<Rect>)> = Vec::new();
    if options.ranges.is_empty() {
        for (i, s) in ss.sheets.iter().enumerate() {
            per_sheet.push((i, vec![s.full()]));
        }
    } else {
        for r in &options.ranges {
            let resolved = values::resolve(ss, r, true)?;
            match per_sheet.iter_mut().find(|(i, _)| *i == resolved.sheet) {
                Some((_, rects)) => rects.push(resolved.rect),
                None => per_sheet.push((resolved.sheet, vec![resolved.rect])),
            }
        }
        per_sheet.sort_by_key(|(i, _)| *i);
    }
    let mut sheets = Vec::new();
    for (i, rects) in &per_sheet {
        let s = &ss.sheets[*i];
        let mut m = Map::new();
        m.insert("properties".into(), s.properties(*i));
        if with_data {
            let data: Vec<Json> = rects
                .iter()
                .map(|r| grid_data(ss, *i, r, &|p: &[&str]| wants(&[&["sheets", "data"], p].concat())))
                .collect();
            m.insert("data".into(), Json::Array(data));
        }
        if !s.merges.is_empty() {
            m.insert(
                "merges".into(),
                Json::Array(s.merges.iter().map(|r| with_sheet(r.grid_range(), s.id)).collect()),
            );
        }
        if let Some(f) = &s.basic_filter {
            m.insert("basicFilter".into(), f.clone());
        }
        if !s.protected_ranges.is_empty() {
            m.insert("protectedRanges".into(), Json::Array(s.protected_ranges.clone()));
        }
        if !s.row_groups.is_empty() {
            m.insert("rowGroups".into(), groups_json(&s.row_groups, "ROWS", s.id));
        }
        if !s.col_groups.is_empty() {
            m.insert("columnGroups".into(), groups_json(&s.col_groups, "COLUMNS", s.id));
        }
        let metadata: Vec<Json> = ss
            .developer_metadata
            .iter()
            .filter(|d| {
                d.pointer("/location/sheetId").and_then(Json::as_i64) == Some(i64::from(s.id))
                    || d.pointer("/location/dimensionRange/sheetId").and_then(Json::as_i64)
                        == Some(i64::from(s.id))
            })
            .cloned()
            .collect();
        if !metadata.is_empty() {
            m.insert("developerMetadata".into(), Json::Array(metadata));
        }
        sheets.push(Json::Object(m));
    }
    let mut out = Map::new();
    out.insert("spreadsheetId".into(), json!(ss.id));
    out.insert("properties".into(), Json::Object(ss.props.clone()));
    out.insert("sheets".into(), Json::Array(sheets));
    if !ss.named_ranges.is_empty() {
        out.insert("namedRanges".into(), Json::Array(ss.named_ranges.iter().map(|n| n.json()).collect()));
    }
    let top_metadata: Vec<Json> = ss
        .developer_metadata
        .iter()
        .filter(|d| d.pointer("/location/spreadsheet").and_then(Json::as_bool) == Some(true))
        .cloned()
        .collect();
    if !top_metadata.is_empty() {
        out.insert("developerMetadata".into(), Json::Array(top_metadata));
    }
    out.insert("spreadsheetUrl".into(), json!(ss.url()));
    let mut body = Json::Object(out);
    if let Some(m) = &options.mask {
        body = mask::apply(&body, m);
    }
    trim_grid_data(&mut body);
    Ok(body)
}

pub fn with_sheet(mut range: Json, sheet_id: i32) -> Json {
    if sheet_id != 0 {
        if let Some(m) = range.as_object_mut() {
            m.insert("sheetId".into(), json!(sheet_id));
        }
    }
    range
}

fn groups_json(groups: &[super::model::Group], dimension: &str, sheet_id: i32) -> Json {
    Json::Array(
        groups
            .iter()
            .map(|g| {
                let mut range = Map::new();
                if sheet_id != 0 {
                    range.insert("sheetId".into(), json!(sheet_id));
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
            .collect(),
    )
}

fn dimension_meta(meta: &std::collections::BTreeMap<u32, Json>, index: u32, default_size: u32) -> Json {
    let mut m = Map::new();
    m.insert("pixelSize".into(), json!(default_size));
    if let Some(Json::Object(extra)) = meta.get(&index) {
        for (k, v) in extra {
            m.insert(k.clone(), v.clone());
        }
    }
    Json::Object(m)
}

fn grid_data(ss: &Spreadsheet, sheet: usize, rect: &Rect, wants: &dyn Fn(&[&str]) -> bool) -> Json {
    let s: &Sheet = &ss.sheets[sheet];
    let mut m = Map::new();
    if rect.r0 != 0 {
        m.insert("startRow".into(), json!(rect.r0));
    }
    if rect.c0 != 0 {
        m.insert("startColumn".into(), json!(rect.c0));
    }
    if wants(&["rowData"]) {
        let mut rows = Vec::new();
        let r_end = rect.r1.min(s.grid.len());
        for r in rect.r0..r_end {
            let row = s.grid.row(r);
            let end = (rect.c1 as usize).min(row.len());
            let start = (rect.c0 as usize).min(end);
            let cells: Vec<Json> = row[start..end].iter().map(|c| cell_data(ss, sheet, c)).collect();
            let mut rm = Map::new();
            if !cells.is_empty() {
                rm.insert("values".into(), Json::Array(cells));
            }
            rows.push(Json::Object(rm));
        }
        if !rows.is_empty() {
            m.insert("rowData".into(), Json::Array(rows));
        }
    }
    if wants(&["rowMetadata"]) {
        let meta: Vec<Json> = (rect.r0..rect.r1).map(|r| dimension_meta(&s.row_meta, r, 21)).collect();
        m.insert("rowMetadata".into(), Json::Array(meta));
    }
    if wants(&["columnMetadata"]) {
        let meta: Vec<Json> = (rect.c0..rect.c1).map(|c| dimension_meta(&s.col_meta, c, 100)).collect();
        m.insert("columnMetadata".into(), Json::Array(meta));
    }
    Json::Object(m)
}

/// CellData for one cell.
pub fn cell_data(ss: &Spreadsheet, sheet: usize, c: &cell::Cell) -> Json {
    let mut m = Map::new();
    let effective = match c.formula() {
        Some(f) => {
            m.insert("userEnteredValue".into(), json!({"formulaValue": f}));
            Some(formula::evaluate(ss, sheet, f))
        }
        None => {
            if let Some(v) = cell::extended_value(&c.value) {
                m.insert("userEnteredValue".into(), v);
            }
            None
        }
    };
    let value = effective.as_ref().unwrap_or(&c.value);
    if let Some(v) = cell::extended_value(value) {
        m.insert("effectiveValue".into(), v);
        let formatted = cell::render(value, c.number_format(), Render::Formatted, DateRender::Serial);
        m.insert("formattedValue".into(), formatted);
    }
    if let Some(f) = c.format() {
        m.insert("userEnteredFormat".into(), f.clone());
    }
    if let Some(n) = c.note() {
        m.insert("note".into(), json!(n));
    }
    if let Some(v) = c.extra.as_ref().and_then(|e| e.validation.as_ref()) {
        m.insert("dataValidation".into(), v.clone());
    }
    Json::Object(m)
}

fn is_empty_object(v: &Json) -> bool {
    v.as_object().is_some_and(Map::is_empty)
}

/// Drops trailing empty cells and rows of each GridData, as Google leaves them out.
fn trim_grid_data(body: &mut Json) {
    let Some(sheets) = body.get_mut("sheets").and_then(Json::as_array_mut) else { return };
    for sheet in sheets {
        let Some(data) = sheet.get_mut("data").and_then(Json::as_array_mut) else { continue };
        for d in data {
            let Some(obj) = d.as_object_mut() else { continue };
            let mut remove_rows = false;
            if let Some(Json::Array(rows)) = obj.get_mut("rowData") {
                for row in rows.iter_mut() {
                    let Some(ro) = row.as_object_mut() else { continue };
                    let mut remove = false;
                    if let Some(Json::Array(values)) = ro.get_mut("values") {
                        while values.last().is_some_and(is_empty_object) {
                            values.pop();
                        }
                        remove = values.is_empty();
                    }
                    if remove {
                        ro.remove("values");
                    }
                }
                while rows.last().is_some_and(is_empty_object) {
                    rows.pop();
                }
                remove_rows = rows.is_empty();
            }
            if remove_rows {
                obj.remove("rowData");
            }
        }
    }
}
