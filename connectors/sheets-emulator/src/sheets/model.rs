//! Spreadsheets, sheets and grids as the emulator holds them.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{json, Map, Value as Json};

use super::a1;
use super::cell::Cell;

/// Google's limit on cells in one spreadsheet (all sheets, empty cells included).
pub const MAX_CELLS: u64 = 10_000_000;
/// Google's limit on characters in one cell.
pub const MAX_CELL_CHARS: usize = 50_000;

/// A rectangle of a sheet, zero-based, ends exclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rect {
    pub r0: u32,
    pub r1: u32,
    pub c0: u32,
    pub c1: u32,
}

impl Rect {
    pub fn rows(&self) -> u32 {
        self.r1.saturating_sub(self.r0)
    }
    pub fn cols(&self) -> u32 {
        self.c1.saturating_sub(self.c0)
    }
    pub fn intersects(&self, o: &Rect) -> bool {
        self.r0 < o.r1 && o.r0 < self.r1 && self.c0 < o.c1 && o.c0 < self.c1
    }
    pub fn contains(&self, r: u32, c: u32) -> bool {
        r >= self.r0 && r < self.r1 && c >= self.c0 && c < self.c1
    }
    /// GridRange JSON without sheetId (Google writes every bound, zeros too).
    pub fn grid_range(&self) -> Json {
        json!({
            "startRowIndex": self.r0,
            "endRowIndex": self.r1,
            "startColumnIndex": self.c0,
            "endColumnIndex": self.c1,
        })
    }
}

/// The cells of one sheet: rows of cells, each row as long as its last
/// non-empty cell (at most), rows as many as the last non-empty row (at most).
/// Rows are shared between copies of a grid (a batch works on a copy), so a
/// copy costs a pointer a row and only the rows a batch changes are cloned.
#[derive(Debug, Clone, Default)]
pub struct Grid {
    rows: Vec<Arc<Vec<Cell>>>,
}

impl Grid {
    /// Rows stored (the last one holding anything, at most).
    pub fn len(&self) -> u32 {
        self.rows.len() as u32
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    pub fn get(&self, r: u32, c: u32) -> Option<&Cell> {
        self.rows.get(r as usize)?.get(c as usize)
    }

    pub fn row(&self, r: u32) -> &[Cell] {
        self.rows.get(r as usize).map_or(&[], |row| row.as_slice())
    }

    /// Every stored row, in order.
    pub fn rows(&self) -> impl Iterator<Item = &[Cell]> {
        self.rows.iter().map(|r| r.as_slice())
    }

    pub fn cell_mut(&mut self, r: u32, c: u32) -> &mut Cell {
        let row = self.row_mut(r, c as usize + 1);
        &mut row[c as usize]
    }

    /// The row's cells, grown to `len` so they can be written in place.
    pub fn row_mut(&mut self, r: u32, len: usize) -> &mut Vec<Cell> {
        let r = r as usize;
        if self.rows.len() <= r {
            self.rows.resize_with(r + 1, Default::default);
        }
        let row = Arc::make_mut(&mut self.rows[r]);
        if row.len() < len {
            row.resize_with(len, Cell::default);
        }
        row
    }

    /// A stored row, to change in place (`None` past the last stored row).
    pub fn existing_row_mut(&mut self, r: u32) -> Option<&mut Vec<Cell>> {
        self.rows.get_mut(r as usize).map(Arc::make_mut)
    }

    /// Drops trailing empty cells and rows.
    pub fn trim(&mut self) {
        for row in &mut self.rows {
            if row.last().is_some_and(Cell::is_empty) {
                let row = Arc::make_mut(row);
                while row.last().is_some_and(Cell::is_empty) {
                    row.pop();
                }
            }
        }
        self.trim_tail();
    }

    /// Drops trailing empty rows.
    pub fn trim_tail(&mut self) {
        while self.rows.last().is_some_and(|r| r.is_empty()) {
            self.rows.pop();
        }
    }

    pub fn trim_row(&mut self, r: u32) {
        if let Some(row) = self.rows.get_mut(r as usize) {
            if row.last().is_some_and(Cell::is_empty) {
                let row = Arc::make_mut(row);
                while row.last().is_some_and(Cell::is_empty) {
                    row.pop();
                }
            }
        }
    }

    pub fn insert_rows(&mut self, at: u32, n: u32) {
        let at = at as usize;
        if at < self.rows.len() {
            self.rows.splice(at..at, std::iter::repeat_with(Default::default).take(n as usize));
        }
    }

    pub fn delete_rows(&mut self, at: u32, end: u32) {
        let len = self.rows.len();
        let (a, b) = ((at as usize).min(len), (end as usize).min(len));
        self.rows.drain(a..b);
    }

    pub fn insert_cols(&mut self, at: u32, n: u32) {
        let at = at as usize;
        for row in &mut self.rows {
            if at < row.len() {
                Arc::make_mut(row).splice(at..at, std::iter::repeat_with(Cell::default).take(n as usize));
            }
        }
    }

    pub fn delete_cols(&mut self, at: u32, end: u32) {
        for row in &mut self.rows {
            let len = row.len();
            let (a, b) = ((at as usize).min(len), (end as usize).min(len));
            if a < b {
                Arc::make_mut(row).drain(a..b);
            }
        }
    }

    /// Drops everything at or beyond `rows` × `cols`.
    pub fn truncate(&mut self, rows: u32, cols: u32) {
        self.rows.truncate(rows as usize);
        for row in &mut self.rows {
            if row.len() > cols as usize {
                Arc::make_mut(row).truncate(cols as usize);
            }
        }
    }
}

/// A dimension group (`rowGroups` / `columnGroups`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub start: u32,
    pub end: u32,
    pub depth: u32,
    pub collapsed: bool,
}

/// One tab.
#[derive(Debug, Clone)]
pub struct Sheet {
    pub id: i32,
    pub title: String,
    pub row_count: u32,
    pub col_count: u32,
    /// Other SheetProperties (hidden, tabColorStyle, rightToLeft…), as Google returns them.
    pub props: Map<String, Json>,
    /// Other GridProperties (frozenRowCount, hideGridlines…).
    pub grid_props: Map<String, Json>,
    pub grid: Grid,
    pub merges: Vec<Rect>,
    pub basic_filter: Option<Json>,
    pub protected_ranges: Vec<Json>,
    pub row_groups: Vec<Group>,
    pub col_groups: Vec<Group>,
    /// DimensionProperties that differ from the default, by index.
    pub row_meta: BTreeMap<u32, Json>,
    pub col_meta: BTreeMap<u32, Json>,
}

impl Sheet {
    pub fn new(id: i32, title: &str, rows: u32, cols: u32) -> Sheet {
        Sheet {
            id,
            title: title.to_owned(),
            row_count: rows,
            col_count: cols,
            props: Map::new(),
            grid_props: Map::new(),
            grid: Grid::default(),
            merges: Vec::new(),
            basic_filter: None,
            protected_ranges: Vec::new(),
            row_groups: Vec::new(),
            col_groups: Vec::new(),
            row_meta: BTreeMap::new(),
            col_meta: BTreeMap::new(),
        }
    }

    pub fn full(&self) -> Rect {
        Rect { r0: 0, r1: self.row_count, c0: 0, c1: self.col_count }
    }

    pub fn hidden(&self) -> bool {
        self.props.get("hidden").and_then(Json::as_bool).unwrap_or(false)
    }

    pub fn properties(&self, index: usize) -> Json {
        let mut grid = Map::new();
        grid.insert("rowCount".into(), json!(self.row_count));
        grid.insert("columnCount".into(), json!(self.col_count));
        for (k, v) in &self.grid_props {
            grid.insert(k.clone(), v.clone());
        }
        let mut m = Map::new();
        m.insert("sheetId".into(), json!(self.id));
        m.insert("title".into(), json!(self.title));
        m.insert("index".into(), json!(index));
        m.insert("sheetType".into(), json!("GRID"));
        m.insert("gridProperties".into(), Json::Object(grid));
        for (k, v) in &self.props {
            m.insert(k.clone(), v.clone());
        }
        Json::Object(m)
    }

    /// `Sheet1!A1:B2` for a rectangle of this sheet.
    pub fn a1(&self, r: &Rect) -> String {
        a1::range_text(&self.title, r.r0, r.c0, r.r1.max(r.r0 + 1), r.c1.max(r.c0 + 1))
    }
}

#[derive(Debug, Clone)]
pub struct NamedRange {
    pub id: String,
    pub name: String,
    pub sheet_id: i32,
    pub rect: Rect,
}

impl NamedRange {
    pub fn json(&self) -> Json {
        let mut range = self.rect.grid_range();
        if self.sheet_id != 0 {
            if let Some(m) = range.as_object_mut() {
                m.insert("sheetId".into(), json!(self.sheet_id));
            }
        }
        json!({"namedRangeId": self.id, "name": self.name, "range": range})
    }
}

/// One spreadsheet.
#[derive(Debug, Clone)]
pub struct Spreadsheet {
    pub id: String,
    /// SpreadsheetProperties (title, locale, timeZone, defaultFormat…).
    pub props: Map<String, Json>,
    /// Sheets in tab order; shared so a batch can copy the spreadsheet and
    /// only clone the sheets it changes.
    pub sheets: Vec<Arc<Sheet>>,
    pub named_ranges: Vec<NamedRange>,
    pub developer_metadata: Vec<Json>,
    /// Who may open it; `None` is anyone with a valid token.
    pub owner: Option<String>,
}

const DEFAULT_FORMAT: &str = r#"{"backgroundColor":{"red":1,"green":1,"blue":1},"padding":{"top":2,"right":3,"bottom":2,"left":3},"verticalAlignment":"BOTTOM","wrapStrategy":"OVERFLOW_CELL","textFormat":{"foregroundColor":{},"fontFamily":"arial,sans,sans-serif","fontSize":10,"bold":false,"italic":false,"strikethrough":false,"underline":false,"foregroundColorStyle":{"rgbColor":{}}},"backgroundColorStyle":{"rgbColor":{"red":1,"green":1,"blue":1}}}"#;

const THEME: &str = r#"{"primaryFontFamily":"Arial","themeColors":[{"colorType":"TEXT","color":{"rgbColor":{}}},{"colorType":"BACKGROUND","color":{"rgbColor":{"red":1,"green":1,"blue":1}}},{"colorType":"ACCENT1","color":{"rgbColor":{"red":0.25882354,"green":0.52156866,"blue":0.95686275}}},{"colorType":"ACCENT2","color":{"rgbColor":{"red":0.91764706,"green":0.2627451,"blue":0.20784314}}},{"colorType":"ACCENT3","color":{"rgbColor":{"red":0.9843137,"green":0.7372549,"blue":0.015686275}}},{"colorType":"ACCENT4","color":{"rgbColor":{"red":0.20392157,"green":0.65882355,"blue":0.3254902}}},{"colorType":"ACCENT5","color":{"rgbColor":{"red":1,"green":0.42745098,"blue":0.003921569}}},{"colorType":"ACCENT6","color":{"rgbColor":{"red":0.27450982,"green":0.7411765,"blue":0.7764706}}},{"colorType":"LINK","color":{"rgbColor":{"red":0.06666667,"green":0.33333334,"blue":0.8}}}]}"#;

impl Spreadsheet {
    /// A new spreadsheet as Google makes one: `Sheet1` (id 0), 1000 × 26, en_US, Etc/GMT.
    pub fn new(id: &str, title: &str) -> Spreadsheet {
        let mut props = Map::new();
        props.insert("title".into(), json!(title));
        props.insert("locale".into(), json!("en_US"));
        props.insert("autoRecalc".into(), json!("ON_CHANGE"));
        props.insert("timeZone".into(), json!("Etc/GMT"));
        props.insert("defaultFormat".into(), serde_json::from_str(DEFAULT_FORMAT).unwrap_or_default());
        props.insert("spreadsheetTheme".into(), serde_json::from_str(THEME).unwrap_or_default());
        Spreadsheet {
            id: id.to_owned(),
            props,
            sheets: vec![Arc::new(Sheet::new(0, "Sheet1", 1000, 26))],
            named_ranges: Vec::new(),
            developer_metadata: Vec::new(),
            owner: None,
        }
    }

    pub fn title(&self) -> &str {
        self.props.get("title").and_then(Json::as_str).unwrap_or("")
    }

    pub fn sheet_index_by_id(&self, id: i64) -> Option<usize> {
        self.sheets.iter().position(|s| i64::from(s.id) == id)
    }

    pub fn sheet_index_by_title(&self, title: &str) -> Option<usize> {
        self.sheets
            .iter()
            .position(|s| s.title == title)
            .or_else(|| self.sheets.iter().position(|s| s.title.eq_ignore_ascii_case(title)))
    }

    pub fn sheet_mut(&mut self, index: usize) -> &mut Sheet {
        Arc::make_mut(&mut self.sheets[index])
    }

    /// Cells of every grid (rows × columns), as Google counts toward its limit.
    pub fn cell_count(&self) -> u64 {
        self.sheets.iter().map(|s| u64::from(s.row_count) * u64::from(s.col_count)).sum()
    }

    pub fn url(&self) -> String {
        format!("https://docs.google.com/spreadsheets/d/{}/edit", self.id)
    }
}
