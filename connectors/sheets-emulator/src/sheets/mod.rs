//! The Sheets v4 API: spreadsheets, values, batch updates, developer metadata.
//!
//! Requests arrive whole from the server; [`handle`] checks the token's
//! scopes and the per-minute quotas, then routes to `values`, `get` or
//! `batch`. [`Store`] also has in-process admin methods for tests, served over
//! HTTP by [`admin`] under `/__emulator/sheets/`.

pub mod a1;
mod batch;
pub mod cell;
mod formula;
mod get;
mod mask;
pub mod model;
mod query;
mod quota;
mod values;

use std::collections::HashMap;
use std::sync::Arc;

use hyper::Method;
use serde_json::{json, Value as Json};

use crate::oauth::Identity;
use crate::server::{google_error, HttpRequest, HttpResponse};
use crate::{lock, Quota, Shared};

pub use model::{Sheet, Spreadsheet};
use query::Query;

/// An error answered with Google's error body.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub code: u16,
    pub message: String,
    /// Google's `details` array, when it sends one.
    pub details: Option<Json>,
}

impl ApiError {
    pub fn new(code: u16, message: impl Into<String>) -> ApiError {
        ApiError { code, message: message.into(), details: None }
    }

    pub fn bad(message: impl Into<String>) -> ApiError {
        ApiError::new(400, message)
    }

    pub fn not_found() -> ApiError {
        ApiError::new(404, "Requested entity was not found.")
    }

    /// A body field of the wrong JSON type, worded as Google's JSON parser words it.
    pub fn invalid_value(field: &str, type_name: &str, value: &Json) -> ApiError {
        let shown = match value {
            Json::String(s) => format!("\"{s}\""),
            other => other.to_string(),
        };
        let message = format!("Invalid value at '{field}' ({type_name}), {shown}");
        ApiError {
            code: 400,
            details: Some(json!([{
                "@type": "type.googleapis.com/google.rpc.BadRequest",
                "fieldViolations": [{"field": field, "description": message}]
            }])),
            message,
        }
    }

    pub fn unable_to_parse(range: &str) -> ApiError {
        ApiError::bad(format!("Unable to parse range: {range}"))
    }

    pub fn response(&self) -> HttpResponse {
        let mut response = google_error(self.code, &self.message);
        if let Some(details) = &self.details {
            if let Ok(mut body) = serde_json::from_slice::<Json>(&response.body) {
                if let Some(error) = body.get_mut("error").and_then(Json::as_object_mut) {
                    error.insert("details".into(), details.clone());
                }
                response = HttpResponse::json(self.code, &body);
            }
        }
        response
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// Every spreadsheet the emulator holds, and the quota windows.
#[derive(Debug)]
pub struct Store {
    quota: Quota,
    spreadsheets: HashMap<String, Spreadsheet>,
    usage: quota::Usage,
}

const READ_SCOPES: &[&str] = &[
    "https://www.googleapis.com/auth/spreadsheets",
    "https://www.googleapis.com/auth/spreadsheets.readonly",
    "https://www.googleapis.com/auth/drive",
    "https://www.googleapis.com/auth/drive.readonly",
    "https://www.googleapis.com/auth/drive.file",
];
const WRITE_SCOPES: &[&str] = &[
    "https://www.googleapis.com/auth/spreadsheets",
    "https://www.googleapis.com/auth/drive",
    "https://www.googleapis.com/auth/drive.file",
];

impl Store {
    pub fn new(quota: Quota) -> Store {
        Store { quota, spreadsheets: HashMap::new(), usage: quota::Usage::default() }
    }

    pub fn quota(&self) -> Quota {
        self.quota
    }

    /// Changes the per-minute quotas from now on.
    pub fn set_quota(&mut self, quota: Quota) {
        self.quota = quota;
    }

    /// Forgets the requests counted so far, as if a minute had passed.
    pub fn forget_quota_usage(&mut self) {
        self.usage = quota::Usage::default();
    }

    /// Creates a spreadsheet as Google makes a new one (`Sheet1`, 1000 × 26);
    /// `id` keeps a given id, otherwise a fresh Google-like one is made.
    /// An existing spreadsheet with that id is replaced. Returns the id.
    pub fn create_spreadsheet(&mut self, id: Option<&str>, title: &str) -> String {
        let id = id.map(str::to_owned).unwrap_or_else(new_spreadsheet_id);
        self.spreadsheets.insert(id.clone(), Spreadsheet::new(&id, title));
        id
    }

    /// Copies a spreadsheet under a new id and title (Drive's files.copy).
    pub fn copy_spreadsheet(&mut self, from: &str, new_id: Option<&str>, title: &str) -> Option<String> {
        let mut copy = self.spreadsheets.get(from)?.clone();
        let id = new_id.map(str::to_owned).unwrap_or_else(new_spreadsheet_id);
        copy.id = id.clone();
        copy.props.insert("title".into(), json!(title));
        self.spreadsheets.insert(id.clone(), copy);
        Some(id)
    }

    /// Removes a spreadsheet (Drive's files.delete); whether it existed.
    pub fn delete_spreadsheet(&mut self, id: &str) -> bool {
        self.spreadsheets.remove(id).is_some()
    }

    /// Makes a spreadsheet private to `owner`: other users get 403.
    pub fn set_owner(&mut self, id: &str, owner: Option<&str>) -> bool {
        match self.spreadsheets.get_mut(id) {
            Some(ss) => {
                ss.owner = owner.map(str::to_owned);
                true
            }
            None => false,
        }
    }

    pub fn spreadsheet(&self, id: &str) -> Option<&Spreadsheet> {
        self.spreadsheets.get(id)
    }

    pub fn spreadsheet_mut(&mut self, id: &str) -> Option<&mut Spreadsheet> {
        self.spreadsheets.get_mut(id)
    }

    pub fn spreadsheet_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.spreadsheets.keys().cloned().collect();
        ids.sort();
        ids
    }

    /// Adds a tab (1000 × 26 unless given) and returns its sheetId.
    pub fn add_sheet(
        &mut self,
        id: &str,
        title: &str,
        rows: Option<u32>,
        cols: Option<u32>,
    ) -> ApiResult<i32> {
        let ss = self.spreadsheets.get_mut(id).ok_or_else(ApiError::not_found)?;
        let mut request = json!({"properties": {"title": title}});
        if rows.is_some() || cols.is_some() {
            request["properties"]["gridProperties"] =
                json!({"rowCount": rows.unwrap_or(1000), "columnCount": cols.unwrap_or(26)});
        }
        let reply = batch::apply_all(ss, &[json!({ "addSheet": request })])?;
        Ok(reply[0]["addSheet"]["properties"]["sheetId"].as_i64().unwrap_or(0) as i32)
    }

    /// A range's values as values.get returns them (FORMATTED_VALUE, ROWS),
    /// trailing empty rows and cells trimmed. `range` is A1 (`Sheet1`, `Sheet1!A1:C`).
    pub fn values(&self, id: &str, range: &str) -> ApiResult<Vec<Vec<Json>>> {
        self.values_rendered(id, range, cell::Render::Formatted)
    }

    /// Like [`Store::values`], with numbers and booleans as JSON (UNFORMATTED_VALUE).
    pub fn values_unformatted(&self, id: &str, range: &str) -> ApiResult<Vec<Vec<Json>>> {
        self.values_rendered(id, range, cell::Render::Unformatted)
    }

    fn values_rendered(&self, id: &str, range: &str, render: cell::Render) -> ApiResult<Vec<Vec<Json>>> {
        let ss = self.spreadsheets.get(id).ok_or_else(ApiError::not_found)?;
        let options = values::ReadOptions { render, ..values::ReadOptions::default() };
        let body = values::read_range(ss, range, &options)?;
        Ok(match body.get("values") {
            Some(Json::Array(rows)) => {
                rows.iter().map(|r| r.as_array().cloned().unwrap_or_default()).collect()
            }
            _ => Vec::new(),
        })
    }

    /// Writes rows starting at the top-left of `range`, as a person typing
    /// them would (USER_ENTERED: `=1+1` is a formula, `1,000` a number).
    pub fn set_values(&mut self, id: &str, range: &str, rows: Vec<Vec<Json>>) -> ApiResult<()> {
        self.write_values(id, range, rows, true)
    }

    /// Like [`Store::set_values`], but stored as given (RAW).
    pub fn set_values_raw(&mut self, id: &str, range: &str, rows: Vec<Vec<Json>>) -> ApiResult<()> {
        self.write_values(id, range, rows, false)
    }

    fn write_values(&mut self, id: &str, range: &str, rows: Vec<Vec<Json>>, user: bool) -> ApiResult<()> {
        let ss = self.spreadsheets.get_mut(id).ok_or_else(ApiError::not_found)?;
        let values = Json::Array(rows.into_iter().map(Json::Array).collect());
        let body = json!({"range": range, "values": values});
        let input = if user { values::Input::UserEntered } else { values::Input::Raw };
        values::write_many(ss, &mut [body], input, false, values::Grow::Yes, None)?;
        Ok(())
    }

    /// Sets a cell's note (what a person adds with Insert → Note).
    pub fn set_note(&mut self, id: &str, sheet_title: &str, row: u32, col: u32, note: &str) -> ApiResult<()> {
        let ss = self.spreadsheets.get_mut(id).ok_or_else(ApiError::not_found)?;
        let index = ss.sheet_index_by_title(sheet_title).ok_or_else(ApiError::not_found)?;
        let cell = ss.sheet_mut(index).grid.cell_mut(row, col);
        cell.extra_mut().note = if note.is_empty() { None } else { Some(note.into()) };
        cell.tidy();
        Ok(())
    }

    /// Applies spreadsheets.batchUpdate requests directly (no quota, no auth).
    pub fn batch_update(&mut self, id: &str, requests: &[Json]) -> ApiResult<Vec<Json>> {
        let ss = self.spreadsheets.get_mut(id).ok_or_else(ApiError::not_found)?;
        batch::apply_all(ss, requests)
    }
}

/// A Google-like spreadsheet id: 44 characters of the URL-safe base64 alphabet, starting with `1`.
pub fn new_spreadsheet_id() -> String {
    use base64::Engine;
    let mut bytes = [0u8; 33];
    random_bytes(&mut bytes);
    let text = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    format!("1{}", &text[..43])
}

pub(crate) fn random_bytes(out: &mut [u8]) {
    use ring::rand::SecureRandom;
    if ring::rand::SystemRandom::new().fill(out).is_err() {
        // Fall back to the clock; ids only need to be unlikely to collide.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        for (i, b) in out.iter_mut().enumerate() {
            *b = (nanos >> ((i % 16) * 8)) as u8 ^ (i as u8).wrapping_mul(31);
        }
    }
}

/// A random positive i32, as Google picks sheet and range ids.
pub(crate) fn random_id() -> i32 {
    let mut b = [0u8; 4];
    random_bytes(&mut b);
    let n = i32::from_le_bytes(b) & 0x7fff_ffff;
    if n == 0 {
        1
    } else {
        n
    }
}

fn unauthenticated() -> HttpResponse {
    google_error(
        401,
        "Request is missing required authentication credential. Expected OAuth 2 access token, \
         login cookie or other valid authentication credential. \
         See https://developers.google.com/identity/sign-in/web/devconsole-project.",
    )
}

fn insufficient_scopes(method: &str) -> ApiError {
    ApiError {
        code: 403,
        message: "Request had insufficient authentication scopes.".into(),
        details: Some(json!([{
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": "ACCESS_TOKEN_SCOPE_INSUFFICIENT",
            "domain": "googleapis.com",
            "metadata": {"service": "sheets.googleapis.com", "method": format!("google.apps.sheets.v4.SpreadsheetsService.{method}")}
        }])),
    }
}

/// What a request is, once its path is read.
#[derive(Debug)]
enum Call {
    Create,
    Get(String),
    BatchUpdate(String),
    GetByDataFilter(String),
    ValuesGet(String, String),
    ValuesUpdate(String, String),
    ValuesAppend(String, String),
    ValuesClear(String, String),
    ValuesBatchGet(String),
    ValuesBatchUpdate(String),
    ValuesBatchClear(String),
    ValuesBatchGetByFilter(String),
    ValuesBatchUpdateByFilter(String),
    ValuesBatchClearByFilter(String),
    CopySheet(String, String),
    MetadataGet(String, String),
    MetadataSearch(String),
}

impl Call {
    fn spreadsheet_id(&self) -> Option<&str> {
        match self {
            Call::Create => None,
            Call::Get(id)
            | Call::BatchUpdate(id)
            | Call::GetByDataFilter(id)
            | Call::ValuesGet(id, _)
            | Call::ValuesUpdate(id, _)
            | Call::ValuesAppend(id, _)
            | Call::ValuesClear(id, _)
            | Call::ValuesBatchGet(id)
            | Call::ValuesBatchUpdate(id)
            | Call::ValuesBatchClear(id)
            | Call::ValuesBatchGetByFilter(id)
            | Call::ValuesBatchUpdateByFilter(id)
            | Call::ValuesBatchClearByFilter(id)
            | Call::CopySheet(id, _)
            | Call::MetadataGet(id, _)
            | Call::MetadataSearch(id) => Some(id),
        }
    }

    fn is_read(&self) -> bool {
        matches!(
            self,
            Call::Get(_)
                | Call::GetByDataFilter(_)
                | Call::ValuesGet(..)
                | Call::ValuesBatchGet(_)
                | Call::ValuesBatchGetByFilter(_)
                | Call::MetadataGet(..)
                | Call::MetadataSearch(_)
        )
    }

    fn method_name(&self) -> &'static str {
        match self {
            Call::Create => "CreateSpreadsheet",
            Call::Get(_) => "GetSpreadsheet",
            Call::BatchUpdate(_) => "BatchUpdateSpreadsheet",
            Call::GetByDataFilter(_) => "GetSpreadsheetByDataFilter",
            Call::ValuesGet(..) => "GetValues",
            Call::ValuesUpdate(..) => "UpdateValues",
            Call::ValuesAppend(..) => "AppendValues",
            Call::ValuesClear(..) => "ClearValues",
            Call::ValuesBatchGet(_) => "BatchGetValues",
            Call::ValuesBatchUpdate(_) => "BatchUpdateValues",
            Call::ValuesBatchClear(_) => "BatchClearValues",
            Call::ValuesBatchGetByFilter(_) => "BatchGetValuesByDataFilter",
            Call::ValuesBatchUpdateByFilter(_) => "BatchUpdateValuesByDataFilter",
            Call::ValuesBatchClearByFilter(_) => "BatchClearValuesByDataFilter",
            Call::CopySheet(..) => "CopySheetTo",
            Call::MetadataGet(..) => "GetDeveloperMetadata",
            Call::MetadataSearch(_) => "SearchDeveloperMetadata",
        }
    }
}

fn decode(segment: &str) -> String {
    percent_encoding::percent_decode_str(segment).decode_utf8_lossy().into_owned()
}

/// Reads the path (still percent-encoded) into a call.
fn route(method: &Method, raw_path: &str) -> Option<Call> {
    let rest = raw_path.strip_prefix("/v4/spreadsheets")?;
    if rest.is_empty() || rest == "/" {
        return (method == Method::POST).then_some(Call::Create);
    }
    let rest = rest.strip_prefix('/')?;
    let (id_part, tail) = match rest.find('/') {
        Some(pos) => (&rest[..pos], Some(&rest[pos + 1..])),
        None => (rest, None),
    };
    let Some(tail) = tail else {
        // `ID`, `ID:batchUpdate`, `ID:getByDataFilter`
        return match id_part.rsplit_once(':') {
            Some((id, "batchUpdate")) if method == Method::POST => Some(Call::BatchUpdate(decode(id))),
            Some((id, "getByDataFilter")) if method == Method::POST => {
                Some(Call::GetByDataFilter(decode(id)))
            }
            None if method == Method::GET => Some(Call::Get(decode(id_part))),
            _ => None,
        };
    };
    let id = decode(id_part);
    if let Some(verb) = tail.strip_prefix("values:") {
        return match (method.clone(), verb) {
            (Method::GET, "batchGet") => Some(Call::ValuesBatchGet(id)),
            (Method::POST, "batchUpdate") => Some(Call::ValuesBatchUpdate(id)),
            (Method::POST, "batchClear") => Some(Call::ValuesBatchClear(id)),
            (Method::POST, "batchGetByDataFilter") => Some(Call::ValuesBatchGetByFilter(id)),
            (Method::POST, "batchUpdateByDataFilter") => Some(Call::ValuesBatchUpdateByFilter(id)),
            (Method::POST, "batchClearByDataFilter") => Some(Call::ValuesBatchClearByFilter(id)),
            _ => None,
        };
    }
    if let Some(range) = tail.strip_prefix("values/") {
        if let Some((r, verb)) = range.rsplit_once(':') {
            match (method.clone(), verb) {
                (Method::POST, "append") => return Some(Call::ValuesAppend(id, decode(r))),
                (Method::POST, "clear") => return Some(Call::ValuesClear(id, decode(r))),
                _ => {}
            }
        }
        return match *method {
            Method::GET => Some(Call::ValuesGet(id, decode(range))),
            Method::PUT => Some(Call::ValuesUpdate(id, decode(range))),
            _ => None,
        };
    }
    if let Some(sheet) = tail.strip_prefix("sheets/").and_then(|t| t.strip_suffix(":copyTo")) {
        if method == Method::POST {
            return Some(Call::CopySheet(id, decode(sheet)));
        }
    }
    if tail == "developerMetadata:search" && method == Method::POST {
        return Some(Call::MetadataSearch(id));
    }
    if let Some(meta) = tail.strip_prefix("developerMetadata/") {
        if method == Method::GET {
            return Some(Call::MetadataGet(id, decode(meta)));
        }
    }
    None
}

pub(crate) fn handle(shared: &Shared, request: &HttpRequest, identity: Option<Identity>) -> HttpResponse {
    let Some(identity) = identity else { return unauthenticated() };
    let Some(call) = route(&request.method, &request.path) else {
        return google_error(404, "Requested entity was not found.");
    };
    let scopes = if call.is_read() { READ_SCOPES } else { WRITE_SCOPES };
    if !identity.scopes.iter().any(|s| scopes.contains(&s.as_str())) {
        return insufficient_scopes(call.method_name()).response();
    }
    let query = Query::parse(request.query.as_deref().unwrap_or(""));
    let mut store = lock(&shared.sheets);
    let quota = store.quota;
    if let Err(e) = store.usage.admit(&quota, &identity, call.is_read()) {
        return e.response();
    }
    let result = store.call(&call, &query, &request.body, &identity);
    drop(store);
    match result {
        Ok(body) => {
            let body = match query.get("fields") {
                Some(fields) if !matches!(call, Call::Get(_)) => mask::apply(&body, &mask::parse(fields)),
                _ => body,
            };
            HttpResponse::json(200, &body)
        }
        Err(e) => e.response(),
    }
}

fn parse_body(body: &[u8]) -> ApiResult<Json> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(json!({}));
    }
    serde_json::from_slice(body).map_err(|e| ApiError::bad(format!("Invalid JSON payload received. {e}")))
}

impl Store {
    fn call(&mut self, call: &Call, query: &Query, body: &[u8], who: &Identity) -> ApiResult<Json> {
        if let Call::Create = call {
            let body = parse_body(body)?;
            return self.create_from_body(&body);
        }
        let id = call.spreadsheet_id().unwrap_or_default();
        let ss = self.spreadsheets.get_mut(id).ok_or_else(ApiError::not_found)?;
        if let Some(owner) = &ss.owner {
            if owner != &who.user {
                return Err(ApiError::new(403, "The caller does not have permission"));
            }
        }
        match call {
            Call::Create => Err(ApiError::not_found()),
            Call::Get(_) => get::get(ss, query),
            Call::GetByDataFilter(_) => {
                let body = parse_body(body)?;
                get::get_by_data_filter(ss, query, &body)
            }
            Call::BatchUpdate(_) => {
                let body = parse_body(body)?;
                batch::batch_update(ss, &body, who)
            }
            Call::ValuesGet(_, range) => values::get(ss, range, query),
            Call::ValuesBatchGet(_) => values::batch_get(ss, query),
            Call::ValuesUpdate(_, range) => {
                let body = parse_body(body)?;
                values::update(ss, range, query, body, Some(&who.user))
            }
            Call::ValuesBatchUpdate(_) => {
                let body = parse_body(body)?;
                values::batch_update(ss, body, Some(&who.user))
            }
            Call::ValuesAppend(_, range) => {
                let body = parse_body(body)?;
                values::append(ss, range, query, body, Some(&who.user))
            }
            Call::ValuesClear(_, range) => values::clear(ss, range, Some(&who.user)),
            Call::ValuesBatchClear(_) => {
                let body = parse_body(body)?;
                values::batch_clear(ss, &body, Some(&who.user))
            }
            Call::ValuesBatchGetByFilter(_) => {
                let body = parse_body(body)?;
                values::batch_get_by_filter(ss, &body)
            }
            Call::ValuesBatchUpdateByFilter(_) => {
                let body = parse_body(body)?;
                values::batch_update_by_filter(ss, body, Some(&who.user))
            }
            Call::ValuesBatchClearByFilter(_) => {
                let body = parse_body(body)?;
                values::batch_clear_by_filter(ss, &body, Some(&who.user))
            }
            Call::CopySheet(_, sheet) => {
                let body = parse_body(body)?;
                self.copy_sheet_to(id, sheet, &body, who)
            }
            Call::MetadataGet(_, meta) => batch::metadata_get(ss, meta),
            Call::MetadataSearch(_) => {
                let body = parse_body(body)?;
                batch::metadata_search(ss, &body)
            }
        }
    }

    /// sheets.copyTo: the tab, values and formats, into another spreadsheet
    /// the caller can open, as "Copy of …" at the end.
    fn copy_sheet_to(&mut self, from: &str, sheet: &str, body: &Json, who: &Identity) -> ApiResult<Json> {
        let sheet_id: i64 =
            sheet.parse().map_err(|_| ApiError::invalid_value("sheet_id", "TYPE_INT32", &json!(sheet)))?;
        let source = self.spreadsheets.get(from).ok_or_else(ApiError::not_found)?;
        let index = source.sheet_index_by_id(sheet_id).ok_or_else(ApiError::not_found)?;
        let mut copy = (*source.sheets[index]).clone();
        let dest_id = body.get("destinationSpreadsheetId").and_then(Json::as_str).unwrap_or("");
        let dest = self.spreadsheets.get_mut(dest_id).ok_or_else(ApiError::not_found)?;
        if dest.owner.as_ref().is_some_and(|o| o != &who.user) {
            return Err(ApiError::new(403, "The caller does not have permission"));
        }
        copy.id = loop {
            let id = random_id();
            if dest.sheet_index_by_id(i64::from(id)).is_none() {
                break id;
            }
        };
        let base = format!("Copy of {}", copy.title);
        let mut title = base.clone();
        let mut n = 2;
        while dest.sheet_index_by_title(&title).is_some() {
            title = format!("{base} {n}");
            n += 1;
        }
        copy.title = title;
        copy.protected_ranges.clear();
        if dest.cell_count() + u64::from(copy.row_count) * u64::from(copy.col_count) > model::MAX_CELLS {
            return Err(values::cell_limit());
        }
        dest.sheets.push(Arc::new(copy));
        let at = dest.sheets.len() - 1;
        Ok(dest.sheets[at].properties(at))
    }

    fn create_from_body(&mut self, body: &Json) -> ApiResult<Json> {
        let title =
            body.pointer("/properties/title").and_then(Json::as_str).unwrap_or("Untitled spreadsheet");
        let id = new_spreadsheet_id();
        let mut ss = Spreadsheet::new(&id, title);
        if let Some(props) = body.get("properties").and_then(Json::as_object) {
            for (k, v) in props {
                ss.props.insert(k.clone(), v.clone());
            }
        }
        if let Some(sheets) = body.get("sheets").and_then(Json::as_array) {
            if !sheets.is_empty() {
                ss.sheets.clear();
                let requests: Vec<Json> = sheets
                    .iter()
                    .map(|s| {
                        let mut props = s.get("properties").cloned().unwrap_or_else(|| json!({}));
                        if props.get("sheetId").is_none() && ss.sheets.is_empty() {
                            props["sheetId"] = json!(0);
                        }
                        json!({"addSheet": {"properties": props}})
                    })
                    .collect();
                for (i, r) in requests.into_iter().enumerate() {
                    let mut r = r;
                    if i == 0 && r.pointer("/addSheet/properties/sheetId").is_none() {
                        r["addSheet"]["properties"]["sheetId"] = json!(0);
                    }
                    batch::apply_all(&mut ss, &[r])?;
                }
            }
        }
        if let Some(named) = body.get("namedRanges").and_then(Json::as_array) {
            let requests: Vec<Json> =
                named.iter().map(|n| json!({"addNamedRange": {"namedRange": n}})).collect();
            batch::apply_all(&mut ss, &requests)?;
        }
        let out = get::spreadsheet_json(&ss, &get::GetOptions::default())?;
        self.spreadsheets.insert(id, ss);
        Ok(out)
    }
}

/// The admin API over HTTP, under `/__emulator/sheets/`:
///
/// - `POST spreadsheets` `{"spreadsheetId"?, "title"?, "owner"?}` → `{"spreadsheetId"}`
/// - `POST spreadsheets/ID/copy` `{"spreadsheetId"?, "title"}` → `{"spreadsheetId"}`
/// - `DELETE spreadsheets/ID`
/// - `GET spreadsheets/ID/values/RANGE[?valueRenderOption=UNFORMATTED_VALUE]` → `{"values": [[…]]}`
/// - `PUT spreadsheets/ID/values/RANGE[?valueInputOption=RAW]` `{"values": [[…]]}` (USER_ENTERED by default)
/// - `POST spreadsheets/ID/batchUpdate` `{"requests": […]}` → `{"replies": […]}` (no auth, no quota)
/// - `PUT quota` `{"readsPerUser"?, "writesPerUser"?, "readsPerProject"?, "writesPerProject"?}`
/// - `DELETE quota`: forget the requests counted so far
pub(crate) fn admin(shared: &Shared, request: &HttpRequest, rest: &str) -> HttpResponse {
    let query = Query::parse(request.query.as_deref().unwrap_or(""));
    let mut store = lock(&shared.sheets);
    let result = admin_call(&mut store, &request.method, rest, &query, &request.body);
    match result {
        Ok(body) => HttpResponse::json(200, &body),
        Err(e) => e.response(),
    }
}

fn admin_call(store: &mut Store, method: &Method, rest: &str, query: &Query, body: &[u8]) -> ApiResult<Json> {
    let parts: Vec<&str> = rest.splitn(4, '/').collect();
    match (method.clone(), parts.as_slice()) {
        (Method::POST, ["spreadsheets"]) => {
            let body = parse_body(body)?;
            let title = body.get("title").and_then(Json::as_str).unwrap_or("Untitled spreadsheet");
            let id = store.create_spreadsheet(body.get("spreadsheetId").and_then(Json::as_str), title);
            if let Some(owner) = body.get("owner").and_then(Json::as_str) {
                store.set_owner(&id, Some(owner));
            }
            Ok(json!({"spreadsheetId": id}))
        }
        (Method::GET, ["spreadsheets"]) => Ok(json!({"spreadsheetIds": store.spreadsheet_ids()})),
        (Method::DELETE, ["quota"]) => {
            store.forget_quota_usage();
            Ok(json!({}))
        }
        (Method::PUT, ["quota"]) => {
            let body = parse_body(body)?;
            let field = |k: &str, old: u32| {
                body.get(k).and_then(Json::as_u64).map_or(old, |n| u32::try_from(n).unwrap_or(u32::MAX))
            };
            let q = store.quota;
            store.set_quota(Quota {
                reads_per_user: field("readsPerUser", q.reads_per_user),
                writes_per_user: field("writesPerUser", q.writes_per_user),
                reads_per_project: field("readsPerProject", q.reads_per_project),
                writes_per_project: field("writesPerProject", q.writes_per_project),
            });
            Ok(json!({}))
        }
        (Method::POST, ["spreadsheets", id, "copy"]) => {
            let body = parse_body(body)?;
            let from = decode(id);
            let title = body.get("title").and_then(Json::as_str).map(str::to_owned).unwrap_or_else(|| {
                format!("Copy of {}", store.spreadsheet(&from).map(Spreadsheet::title).unwrap_or(""))
            });
            let new_id = store
                .copy_spreadsheet(&from, body.get("spreadsheetId").and_then(Json::as_str), &title)
                .ok_or_else(ApiError::not_found)?;
            Ok(json!({"spreadsheetId": new_id}))
        }
        (Method::DELETE, ["spreadsheets", id]) => {
            if store.delete_spreadsheet(&decode(id)) {
                Ok(json!({}))
            } else {
                Err(ApiError::not_found())
            }
        }
        (Method::GET, ["spreadsheets", id, "values", range]) => {
            let render = match query.get("valueRenderOption") {
                Some("UNFORMATTED_VALUE") => cell::Render::Unformatted,
                Some("FORMULA") => cell::Render::Formula,
                _ => cell::Render::Formatted,
            };
            let rows = store.values_rendered(&decode(id), &decode(range), render)?;
            Ok(json!({"values": rows}))
        }
        (Method::PUT, ["spreadsheets", id, "values", range]) => {
            let body = parse_body(body)?;
            let rows: Vec<Vec<Json>> = match body.get("values") {
                Some(Json::Array(rows)) => {
                    rows.iter().map(|r| r.as_array().cloned().unwrap_or_default()).collect()
                }
                _ => return Err(ApiError::bad("values must be an array of rows")),
            };
            let raw = query.get("valueInputOption") == Some("RAW");
            store.write_values(&decode(id), &decode(range), rows, !raw)?;
            Ok(json!({}))
        }
        (Method::POST, ["spreadsheets", id, "batchUpdate"]) => {
            let body = parse_body(body)?;
            let requests = body.get("requests").and_then(Json::as_array).cloned().unwrap_or_default();
            let replies = store.batch_update(&decode(id), &requests)?;
            Ok(json!({"replies": replies}))
        }
        _ => Err(ApiError::new(404, "Not Found")),
    }
}

#[cfg(test)]
mod never_panics {
    //! The parsers of untrusted text (A1 ranges, typed values, formulas,
    //! field masks, number formats) fed many generated strings: each must
    //! answer, never panic.

    use super::*;

    const PIECES: &[&str] = &[
        "'",
        "''",
        "!",
        ":",
        "A",
        "Z",
        "ZZZ",
        "$",
        "1",
        "0",
        "9999999999",
        "-",
        "+",
        ",",
        ".",
        "e",
        "%",
        "=",
        "(",
        ")",
        "\"",
        "Sheet1",
        "é",
        "🌵",
        " ",
        "/",
        "TRUE",
        "SUM",
        "A1:B2",
        "&",
        "^",
        "<>",
        "yyyy",
        "mm",
        "am/pm",
        "年",
    ];

    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
    }

    #[test]
    fn parsing_generated_text_never_panics() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let mut ss = Spreadsheet::new("x", "t");
        ss.sheet_mut(0).grid.cell_mut(0, 0).set_content(cell::parse_typed("=A1+1"));
        for _ in 0..20_000 {
            let len = (rng.next() % 12) as usize;
            let text: String =
                (0..len).map(|_| PIECES[(rng.next() % PIECES.len() as u64) as usize]).collect();
            let _ = a1::parse(&text);
            let _ = cell::parse_typed(&text);
            let _ = formula::evaluate(&ss, 0, &format!("={text}"));
            let _ = mask::apply(&json!({"a": [{"b": 1}]}), &mask::parse(&text));
            let _ = values::resolve(&ss, &text, true);
            let _ = cell::format_number(43831.5, Some(("DATE_TIME", &text)));
        }
        let deep = format!("={}1{}", "(".repeat(40_000), ")".repeat(40_000));
        assert_eq!(formula::evaluate(&ss, 0, &deep), cell::Value::Error("#ERROR!".into()));
        let _ = mask::parse(&"a(".repeat(30_000));
    }

    #[test]
    fn a_formula_that_reads_itself_ends_in_an_error() {
        let mut ss = Spreadsheet::new("x", "t");
        ss.sheet_mut(0).grid.cell_mut(0, 0).set_content(cell::parse_typed("=A1+1"));
        assert!(matches!(formula::evaluate(&ss, 0, "=A1"), cell::Value::Error(_)));
    }
}
