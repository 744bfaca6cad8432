//! Behaviour sheetbridge relies on that the recordings do not show: quotas,
//! limits, atomic batches, large ranges, RAW against USER_ENTERED, the admin API.

use std::time::Instant;

use serde_json::{json, Value as Json};
use sheetbridge_sheets_emulator::{Emulator, Options, Quota};

use crate::http::{self, get, post, put};

const SCOPE: &str = "https://www.googleapis.com/auth/spreadsheets";
const READONLY: &str = "https://www.googleapis.com/auth/spreadsheets.readonly";

fn roomy() -> Options {
    let quota = Quota {
        reads_per_user: 100_000,
        writes_per_user: 100_000,
        reads_per_project: 100_000,
        writes_per_project: 100_000,
    };
    Options { quota, ..Options::default() }
}

fn setup(options: Options) -> (Emulator, String, String) {
    let emulator = Emulator::start(options).expect("start");
    let token = emulator.issue_token("ada@example.com", &[SCOPE]);
    let id = emulator.with_sheets(|s| s.create_spreadsheet(None, "Test"));
    (emulator, token, id)
}

fn values_url(id: &str, range: &str) -> String {
    let encoded = percent_encoding::utf8_percent_encode(range, percent_encoding::NON_ALPHANUMERIC);
    format!("/v4/spreadsheets/{id}/values/{encoded}")
}

fn error_message(reply: &http::Reply) -> String {
    reply.json()["error"]["message"].as_str().unwrap_or("").to_owned()
}

#[test]
fn spreadsheet_ids_look_like_googles() {
    let (_e, _t, id) = setup(roomy());
    assert_eq!(id.len(), 44, "{id}");
    assert!(id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'), "{id}");
}

#[test]
fn reads_past_the_per_user_quota_get_429_until_the_minute_passes() {
    let quota =
        Quota { reads_per_user: 3, writes_per_user: 2, reads_per_project: 300, writes_per_project: 300 };
    let (emulator, token, id) = setup(Options { quota, ..Options::default() });
    let url = values_url(&id, "Sheet1!A1");
    for i in 0..3 {
        assert_eq!(get(&emulator, &url, &token).status, 200, "read {i}");
    }
    let refused = get(&emulator, &url, &token);
    assert_eq!(refused.status, 429, "{}", refused.body);
    let body = refused.json();
    assert_eq!(body["error"]["status"], "RESOURCE_EXHAUSTED");
    let message = error_message(&refused);
    assert!(
        message.starts_with(
            "Quota exceeded for quota metric 'Read requests' and limit 'Read requests per minute per user' \
             of service 'sheets.googleapis.com' for consumer 'project_number:"
        ),
        "{message}"
    );
    // Writes have their own window; a batch counts once.
    let batch = json!({"valueInputOption": "RAW", "data": [
        {"range": "Sheet1!A1", "values": [[1]]}, {"range": "Sheet1!B1", "values": [[2]]}, {"range": "Sheet1!C1", "values": [[3]]}
    ]});
    let batch_url = format!("/v4/spreadsheets/{id}/values:batchUpdate");
    assert_eq!(post(&emulator, &batch_url, &token, &batch).status, 200);
    assert_eq!(post(&emulator, &batch_url, &token, &batch).status, 200);
    let refused = post(&emulator, &batch_url, &token, &batch);
    assert_eq!(refused.status, 429);
    assert!(error_message(&refused).contains("'Write requests per minute per user'"), "{}", refused.body);
    // A test need not wait the minute out.
    let forgot = http::send(&emulator, "DELETE", "/__emulator/sheets/quota", None, None);
    assert_eq!(forgot.status, 200);
    assert_eq!(get(&emulator, &url, &token).status, 200);
}

#[test]
fn the_project_quota_is_shared_by_its_users() {
    let quota =
        Quota { reads_per_user: 10, writes_per_user: 10, reads_per_project: 3, writes_per_project: 10 };
    let (emulator, token, id) = setup(Options { quota, ..Options::default() });
    let other = emulator.issue_token("bob@example.com", &[SCOPE]);
    let url = format!("/v4/spreadsheets/{id}");
    assert_eq!(get(&emulator, &url, &token).status, 200);
    assert_eq!(get(&emulator, &url, &other).status, 200);
    assert_eq!(get(&emulator, &url, &token).status, 200);
    let refused = get(&emulator, &url, &other);
    assert_eq!(refused.status, 429);
    assert!(
        error_message(&refused).contains("limit 'Read requests per minute' of service"),
        "{}",
        refused.body
    );
}

#[test]
fn a_read_only_token_reads_but_cannot_write() {
    let (emulator, _token, id) = setup(roomy());
    let readonly = emulator.issue_token("ada@example.com", &[READONLY]);
    assert_eq!(get(&emulator, &format!("/v4/spreadsheets/{id}"), &readonly).status, 200);
    let url = format!("{}?valueInputOption=RAW", values_url(&id, "Sheet1!A1"));
    let refused = put(&emulator, &url, &readonly, &json!({"values": [["x"]]}));
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert_eq!(error_message(&refused), "Request had insufficient authentication scopes.");
    assert_eq!(refused.json()["error"]["status"], "PERMISSION_DENIED");
}

#[test]
fn errors_are_worded_like_googles() {
    let (emulator, token, id) = setup(roomy());
    let missing = get(&emulator, "/v4/spreadsheets/nope", &token);
    assert_eq!(missing.status, 404);
    assert_eq!(error_message(&missing), "Requested entity was not found.");
    let bad = get(&emulator, &values_url(&id, "Nope!A1"), &token);
    assert_eq!(bad.status, 400);
    assert_eq!(error_message(&bad), "Unable to parse range: Nope!A1");
    let outside = get(&emulator, &values_url(&id, "'Sheet1'!A1:B2000"), &token);
    assert_eq!(outside.status, 400);
    assert_eq!(
        error_message(&outside),
        "Range ('Sheet1'!A1:B2000) exceeds grid limits. Max rows: 1000, max columns: 26"
    );
}

#[test]
fn a_cell_longer_than_50000_characters_is_refused() {
    let (emulator, token, id) = setup(roomy());
    let url = format!("{}?valueInputOption=RAW", values_url(&id, "Sheet1!A1"));
    let long = "x".repeat(50_001);
    let refused = put(&emulator, &url, &token, &json!({"values": [[long]]}));
    assert_eq!(refused.status, 400);
    assert_eq!(
        error_message(&refused),
        "Your input contains more than the maximum of 50000 characters in a single cell."
    );
    let fits = put(&emulator, &url, &token, &json!({"values": [["x".repeat(50_000)]]}));
    assert_eq!(fits.status, 200, "{}", fits.body);
}

#[test]
fn a_spreadsheet_cannot_grow_past_ten_million_cells() {
    let (emulator, token, id) = setup(roomy());
    let url = format!("/v4/spreadsheets/{id}:batchUpdate");
    let grow = json!({"requests": [{"addSheet": {"properties": {"title": "Big", "gridProperties": {"rowCount": 400_000, "columnCount": 26}}}}]});
    let refused = post(&emulator, &url, &token, &grow);
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert!(
        error_message(&refused)
            .contains("would increase the number of cells in the workbook above the limit of 10000000 cells"),
        "{}",
        refused.body
    );
    let sheets = emulator.with_sheets(|s| s.spreadsheet(&id).map(|ss| ss.sheets.len()));
    assert_eq!(sheets, Some(1));
}

#[test]
fn a_batch_of_more_than_100000_requests_is_refused() {
    let (emulator, token, id) = setup(roomy());
    let one = json!({"updateSpreadsheetProperties": {"properties": {"title": "t"}, "fields": "title"}});
    let requests: Vec<Json> = std::iter::repeat_n(one, 100_001).collect();
    let refused = post(
        &emulator,
        &format!("/v4/spreadsheets/{id}:batchUpdate"),
        &token,
        &json!({"requests": requests}),
    );
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert!(error_message(&refused).contains("100000"), "{}", refused.body);
}

#[test]
fn a_failing_request_leaves_the_whole_batch_unapplied() {
    let (emulator, token, id) = setup(roomy());
    let url = format!("/v4/spreadsheets/{id}:batchUpdate");
    let batch = json!({"requests": [
        {"addSheet": {"properties": {"title": "Added"}}},
        {"updateCells": {"start": {"sheetId": 0}, "rows": [{"values": [{"userEnteredValue": {"stringValue": "x"}}]}], "fields": "userEnteredValue"}},
        {"deleteSheet": {"sheetId": 123456}}
    ]});
    let refused = post(&emulator, &url, &token, &batch);
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert_eq!(error_message(&refused), "Invalid requests[2].deleteSheet: No grid with id: 123456");
    let titles = emulator.with_sheets(|s| {
        s.spreadsheet(&id).map(|ss| ss.sheets.iter().map(|sh| sh.title.clone()).collect::<Vec<_>>())
    });
    assert_eq!(titles, Some(vec!["Sheet1".to_owned()]));
    let values = emulator.with_sheets(|s| s.values(&id, "Sheet1"));
    assert_eq!(values, Ok(vec![]));

    let values_batch = json!({"valueInputOption": "RAW", "data": [
        {"range": "Sheet1!A1", "values": [["kept out"]]},
        {"range": "Nope!A1", "values": [["x"]]}
    ]});
    let refused =
        post(&emulator, &format!("/v4/spreadsheets/{id}/values:batchUpdate"), &token, &values_batch);
    assert_eq!(refused.status, 400);
    assert_eq!(emulator.with_sheets(|s| s.values(&id, "Sheet1")), Ok(vec![]));
}

#[test]
fn raw_keeps_text_and_user_entered_parses_it() {
    let (emulator, token, id) = setup(roomy());
    let inputs = json!([["=1+1", "'007", "007", "1,000", "12%", "2024-01-31", "TRUE", "=SUM(A2:C2)"]]);
    let raw = put(
        &emulator,
        &format!("{}?valueInputOption=RAW", values_url(&id, "Sheet1!A1")),
        &token,
        &json!({"values": inputs}),
    );
    assert_eq!(raw.status, 200, "{}", raw.body);
    let typed = put(
        &emulator,
        &format!("{}?valueInputOption=USER_ENTERED", values_url(&id, "Sheet1!A2")),
        &token,
        &json!({"values": inputs}),
    );
    assert_eq!(typed.status, 200, "{}", typed.body);
    let read = |render: &str| {
        let url = format!("{}?valueRenderOption={render}", values_url(&id, "Sheet1!A1:H2"));
        get(&emulator, &url, &token).json()["values"].clone()
    };
    assert_eq!(read("FORMATTED_VALUE")[0], inputs[0], "RAW stores text as sent");
    assert_eq!(
        read("FORMATTED_VALUE")[1],
        json!(["2", "007", "7", "1,000", "12%", "2024-01-31", "TRUE", "9"]),
        "USER_ENTERED"
    );
    assert_eq!(read("UNFORMATTED_VALUE")[1], json!([2, "007", 7, 1000, 0.12, 45322, true, 9]));
    assert_eq!(read("FORMULA")[1][0], json!("=1+1"));
    let serials = get(
        &emulator,
        &format!(
            "{}?valueRenderOption=UNFORMATTED_VALUE&dateTimeRenderOption=FORMATTED_STRING",
            values_url(&id, "Sheet1!F2")
        ),
        &token,
    );
    assert_eq!(serials.json()["values"], json!([["2024-01-31"]]));
}

#[test]
fn a_large_range_round_trips_through_batch_update_and_batch_get() {
    let (emulator, token, id) = setup(roomy());
    let rows: Vec<Json> = (0..100_000)
        .map(|r| {
            Json::Array((0..10).map(|c| if c == 0 { json!(r) } else { json!(format!("r{r}c{c}")) }).collect())
        })
        .collect();
    let too_far =
        json!({"valueInputOption": "RAW", "data": [{"range": "Sheet1!A1", "values": rows[..1001]}]});
    let refused = post(&emulator, &format!("/v4/spreadsheets/{id}/values:batchUpdate"), &token, &too_far);
    assert_eq!(refused.status, 400, "values.batchUpdate does not grow the grid");
    assert_eq!(
        error_message(&refused),
        "Range (Sheet1!A1:J1001) exceeds grid limits. Max rows: 1000, max columns: 26"
    );
    let resize = json!({"requests": [{"updateSheetProperties": {
        "properties": {"sheetId": 0, "gridProperties": {"rowCount": 100_000, "columnCount": 10}},
        "fields": "gridProperties(rowCount,columnCount)"
    }}]});
    assert_eq!(post(&emulator, &format!("/v4/spreadsheets/{id}:batchUpdate"), &token, &resize).status, 200);
    let body = json!({"valueInputOption": "RAW", "data": [{"range": "Sheet1!A1", "values": rows}]});
    let started = Instant::now();
    let written = post(&emulator, &format!("/v4/spreadsheets/{id}/values:batchUpdate"), &token, &body);
    assert_eq!(written.status, 200, "{}", &written.body[..written.body.len().min(300)]);
    assert_eq!(written.json()["totalUpdatedCells"], json!(1_000_000));
    let read = get(
        &emulator,
        &format!("/v4/spreadsheets/{id}/values:batchGet?ranges=Sheet1!A1:J100000&valueRenderOption=UNFORMATTED_VALUE"),
        &token,
    );
    assert_eq!(read.status, 200);
    let back = read.json();
    let values = back["valueRanges"][0]["values"].as_array().cloned().unwrap_or_default();
    assert_eq!(values.len(), 100_000);
    assert_eq!(
        values[99_999],
        json!([
            99_999, "r99999c1", "r99999c2", "r99999c3", "r99999c4", "r99999c5", "r99999c6", "r99999c7",
            "r99999c8", "r99999c9"
        ])
    );
    assert_eq!(back["valueRanges"][0]["range"], "Sheet1!A1:J100000");
    eprintln!("100,000 × 10 written and read back in {:?}", started.elapsed());
}

#[test]
fn append_with_insert_rows_moves_what_is_below() {
    let (emulator, token, id) = setup(roomy());
    emulator.with_sheets(|s| {
        s.set_values(&id, "Sheet1!A1", vec![vec![json!("h1"), json!("h2")], vec![json!("a"), json!("b")]])
            .expect("seed");
        s.set_values(&id, "Sheet1!A5", vec![vec![json!("below")]]).expect("seed");
    });
    let url = format!(
        "{}:append?valueInputOption=RAW&insertDataOption=INSERT_ROWS",
        values_url(&id, "Sheet1!A1:B2")
    );
    let reply = post(&emulator, &url, &token, &json!({"values": [["c", "d"]]}));
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.json()["tableRange"], "Sheet1!A1:B2");
    assert_eq!(reply.json()["updates"]["updatedRange"], "Sheet1!A3:B3");
    let values = emulator.with_sheets(|s| s.values(&id, "Sheet1!A1:A6")).expect("read");
    assert_eq!(
        values,
        vec![vec![json!("h1")], vec![json!("a")], vec![json!("c")], vec![], vec![], vec![json!("below")]]
    );
    let rows = emulator.with_sheets(|s| s.spreadsheet(&id).map(|ss| ss.sheets[0].row_count));
    assert_eq!(rows, Some(1001));
}

#[test]
fn developer_metadata_is_created_searched_read_and_deleted() {
    let (emulator, token, id) = setup(roomy());
    let url = format!("/v4/spreadsheets/{id}:batchUpdate");
    let created = post(
        &emulator,
        &url,
        &token,
        &json!({"requests": [{"createDeveloperMetadata": {"developerMetadata": {
            "metadataKey": "sheetbridge.pair", "metadataValue": "orders", "location": {"sheetId": 0}, "visibility": "DOCUMENT"
        }}}]}),
    );
    assert_eq!(created.status, 200, "{}", created.body);
    let meta = created.json()["replies"][0]["createDeveloperMetadata"]["developerMetadata"].clone();
    let meta_id = meta["metadataId"].as_i64().expect("an id");
    assert_eq!(meta["location"], json!({"locationType": "SHEET", "sheetId": 0}));
    let found = post(
        &emulator,
        &format!("/v4/spreadsheets/{id}/developerMetadata:search"),
        &token,
        &json!({"dataFilters": [{"developerMetadataLookup": {"metadataKey": "sheetbridge.pair"}}]}),
    );
    assert_eq!(found.json()["matchedDeveloperMetadata"][0]["developerMetadata"], meta);
    let one = get(&emulator, &format!("/v4/spreadsheets/{id}/developerMetadata/{meta_id}"), &token);
    assert_eq!(one.json(), meta);
    let deleted = post(
        &emulator,
        &url,
        &token,
        &json!({"requests": [{"deleteDeveloperMetadata": {"dataFilter": {"developerMetadataLookup": {"metadataId": meta_id}}}}]}),
    );
    assert_eq!(deleted.json()["replies"][0]["deleteDeveloperMetadata"]["deletedDeveloperMetadata"][0], meta);
    let gone = get(&emulator, &format!("/v4/spreadsheets/{id}/developerMetadata/{meta_id}"), &token);
    assert_eq!(gone.status, 404);
}

#[test]
fn spreadsheets_create_makes_googles_default_spreadsheet() {
    let (emulator, token, _) = setup(roomy());
    let created = post(&emulator, "/v4/spreadsheets", &token, &json!({"properties": {"title": "New"}}));
    assert_eq!(created.status, 200, "{}", created.body);
    let body = created.json();
    let id = body["spreadsheetId"].as_str().unwrap_or("");
    assert_eq!(body["spreadsheetUrl"], format!("https://docs.google.com/spreadsheets/d/{id}/edit"));
    assert_eq!(
        body["sheets"][0]["properties"],
        json!({"sheetId": 0, "title": "Sheet1", "index": 0, "sheetType": "GRID", "gridProperties": {"rowCount": 1000, "columnCount": 26}})
    );
    assert_eq!(body["properties"]["timeZone"], "Etc/GMT");
    let masked = get(&emulator, &format!("/v4/spreadsheets/{id}?fields=sheets(properties(title))"), &token);
    assert_eq!(masked.json(), json!({"sheets": [{"properties": {"title": "Sheet1"}}]}));
}

#[test]
fn the_admin_api_over_http_creates_writes_and_reads() {
    let (emulator, _token, _) = setup(roomy());
    let created = http::send(
        &emulator,
        "POST",
        "/__emulator/sheets/spreadsheets",
        None,
        Some(&json!({"spreadsheetId": "1abc", "title": "Orders"}).to_string()),
    );
    assert_eq!(created.json(), json!({"spreadsheetId": "1abc"}));
    let written = http::send(
        &emulator,
        "PUT",
        "/__emulator/sheets/spreadsheets/1abc/values/Sheet1!A1",
        None,
        Some(&json!({"values": [["id", "total"], ["1", "=2*21"]]}).to_string()),
    );
    assert_eq!(written.status, 200, "{}", written.body);
    let read = http::send(&emulator, "GET", "/__emulator/sheets/spreadsheets/1abc/values/Sheet1", None, None);
    assert_eq!(read.json(), json!({"values": [["id", "total"], ["1", "42"]]}));
    let unformatted = emulator.with_sheets(|s| s.values_unformatted("1abc", "Sheet1!B2"));
    assert_eq!(unformatted, Ok(vec![vec![json!(42)]]));
}

#[test]
fn number_formats_set_by_repeat_cell_shape_what_is_typed_and_shown() {
    let (emulator, token, id) = setup(roomy());
    let format = |col: u32, kind: &str, pattern: &str| {
        json!({"repeatCell": {
            "range": {"sheetId": 0, "startColumnIndex": col, "endColumnIndex": col + 1},
            "cell": {"userEnteredFormat": {"numberFormat": {"type": kind, "pattern": pattern}}},
            "fields": "userEnteredFormat.numberFormat"
        }})
    };
    let reply = post(
        &emulator,
        &format!("/v4/spreadsheets/{id}:batchUpdate"),
        &token,
        &json!({"requests": [
            format(0, "TEXT", "@"),
            format(1, "DATE_TIME", "yyyy-mm-dd hh:mm:ss.000"),
            format(2, "NUMBER", "0.00")
        ]}),
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    let typed = put(
        &emulator,
        &format!("{}?valueInputOption=USER_ENTERED", values_url(&id, "Sheet1!A1")),
        &token,
        &json!({"values": [["007", 43831.5000115741, 2.5], ["=1+1"]]}),
    );
    assert_eq!(typed.status, 200, "{}", typed.body);
    let shown = get(&emulator, &values_url(&id, "Sheet1!A1:C2"), &token).json();
    assert_eq!(shown["values"], json!([["007", "2020-01-01 12:00:01.000", "2.50"], ["=1+1"]]));
}

#[test]
fn data_filters_select_ranges_by_a1_grid_or_developer_metadata() {
    let (emulator, token, id) = setup(roomy());
    emulator.with_sheets(|s| {
        s.set_values(&id, "Sheet1!A1", vec![vec![json!("id"), json!("name")], vec![json!(1), json!("Ada")]])
            .expect("seed")
    });
    let tag = json!({"requests": [{"createDeveloperMetadata": {"developerMetadata": {
        "metadataKey": "header", "location": {"dimensionRange": {"sheetId": 0, "dimension": "ROWS", "startIndex": 0, "endIndex": 1}},
        "visibility": "DOCUMENT"
    }}}]});
    assert_eq!(post(&emulator, &format!("/v4/spreadsheets/{id}:batchUpdate"), &token, &tag).status, 200);
    let lookup = json!({"developerMetadataLookup": {"metadataKey": "header"}});
    let read = post(
        &emulator,
        &format!("/v4/spreadsheets/{id}/values:batchGetByDataFilter"),
        &token,
        &json!({"dataFilters": [lookup, {"a1Range": "Sheet1!B2"}]}),
    );
    assert_eq!(read.status, 200, "{}", read.body);
    let body = read.json();
    assert_eq!(body["valueRanges"][0]["valueRange"]["range"], "Sheet1!A1:Z1");
    assert_eq!(body["valueRanges"][0]["valueRange"]["values"], json!([["id", "name"]]));
    assert_eq!(body["valueRanges"][0]["dataFilters"][0], lookup);
    assert_eq!(body["valueRanges"][1]["valueRange"]["values"], json!([["Ada"]]));
    let write = post(
        &emulator,
        &format!("/v4/spreadsheets/{id}/values:batchUpdateByDataFilter"),
        &token,
        &json!({"valueInputOption": "RAW", "data": [{"dataFilter": {"gridRange": {"sheetId": 0, "startRowIndex": 1, "endRowIndex": 2, "startColumnIndex": 1, "endColumnIndex": 2}}, "values": [["Grace"]]}]}),
    );
    assert_eq!(write.status, 200, "{}", write.body);
    assert_eq!(write.json()["responses"][0]["updatedRange"], "Sheet1!B2");
    assert_eq!(emulator.with_sheets(|s| s.values(&id, "Sheet1!B2")), Ok(vec![vec![json!("Grace")]]));
}

#[test]
fn a_sheet_copies_into_another_spreadsheet() {
    let (emulator, token, id) = setup(roomy());
    let other = emulator.with_sheets(|s| {
        s.set_values(&id, "Sheet1!A1", vec![vec![json!("x")]]).expect("seed");
        s.create_spreadsheet(None, "Other")
    });
    let copied = post(
        &emulator,
        &format!("/v4/spreadsheets/{id}/sheets/0:copyTo"),
        &token,
        &json!({"destinationSpreadsheetId": other}),
    );
    assert_eq!(copied.status, 200, "{}", copied.body);
    assert_eq!(copied.json()["title"], "Copy of Sheet1");
    assert_eq!(copied.json()["index"], 1);
    assert_eq!(emulator.with_sheets(|s| s.values(&other, "'Copy of Sheet1'!A1")), Ok(vec![vec![json!("x")]]));
}

#[test]
fn a_protected_range_refuses_other_users_but_not_its_editors() {
    let (emulator, token, id) = setup(roomy());
    let bob = emulator.issue_token("bob@example.com", &[SCOPE]);
    let protect = json!({"requests": [{"addProtectedRange": {"protectedRange": {
        "range": {"sheetId": 0, "startRowIndex": 0, "endRowIndex": 1}, "description": "header"
    }}}]});
    let added = post(&emulator, &format!("/v4/spreadsheets/{id}:batchUpdate"), &token, &protect);
    assert_eq!(added.status, 200, "{}", added.body);
    let header = format!("{}?valueInputOption=RAW", values_url(&id, "Sheet1!A1"));
    let refused = put(&emulator, &header, &bob, &json!({"values": [["mine"]]}));
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert!(error_message(&refused).starts_with("You are trying to edit a protected cell or object."));
    let below = format!("{}?valueInputOption=RAW", values_url(&id, "Sheet1!A2"));
    assert_eq!(put(&emulator, &below, &bob, &json!({"values": [["fine"]]})).status, 200);
    assert_eq!(put(&emulator, &header, &token, &json!({"values": [["editor"]]})).status, 200);
}

#[test]
fn formulas_follow_rows_inserted_and_deleted_above_what_they_read() {
    let (emulator, token, id) = setup(roomy());
    emulator.with_sheets(|s| {
        s.set_values(
            &id,
            "Sheet1!A1",
            vec![vec![json!(1)], vec![json!(2)], vec![json!(3)], vec![json!("=SUM(A1:A3)")]],
        )
        .expect("seed")
    });
    let url = format!("/v4/spreadsheets/{id}:batchUpdate");
    let insert = json!({"requests": [{"insertDimension": {"range": {"sheetId": 0, "dimension": "ROWS", "startIndex": 1, "endIndex": 3}}}]});
    assert_eq!(post(&emulator, &url, &token, &insert).status, 200);
    let formula = |range: &str| {
        get(&emulator, &format!("{}?valueRenderOption=FORMULA", values_url(&id, range)), &token).json()
            ["values"]
            .clone()
    };
    assert_eq!(formula("Sheet1!A6"), json!([["=SUM(A1:A5)"]]));
    let delete = json!({"requests": [{"deleteDimension": {"range": {"sheetId": 0, "dimension": "ROWS", "startIndex": 0, "endIndex": 3}}}]});
    assert_eq!(post(&emulator, &url, &token, &delete).status, 200);
    assert_eq!(formula("Sheet1!A3"), json!([["=SUM(A1:A2)"]]));
    assert_eq!(emulator.with_sheets(|s| s.values(&id, "Sheet1!A3")), Ok(vec![vec![json!("5")]]));
}

#[test]
fn requests_with_huge_sizes_are_refused_without_allocating() {
    let (emulator, token, id) = setup(roomy());
    let url = format!("/v4/spreadsheets/{id}:batchUpdate");
    for request in [
        json!({"insertDimension": {"range": {"sheetId": 0, "dimension": "ROWS", "startIndex": 0, "endIndex": 4_000_000_000u64}}}),
        json!({"appendDimension": {"sheetId": 0, "dimension": "COLUMNS", "length": 4_000_000_000u64}}),
        json!({"cutPaste": {"source": {"sheetId": 0, "endRowIndex": 1, "endColumnIndex": 1}, "destination": {"sheetId": 0, "rowIndex": 4_000_000_000u64}}}),
        json!({"updateCells": {"start": {"sheetId": 0, "rowIndex": 4_294_967_295u64}, "rows": [{"values": [{}]}], "fields": "*"}}),
        json!({"updateSheetProperties": {"properties": {"sheetId": 0, "gridProperties": {"rowCount": 4_000_000_000u64}}, "fields": "gridProperties.rowCount"}}),
    ] {
        let refused = post(&emulator, &url, &token, &json!({"requests": [request]}));
        assert_eq!(refused.status, 400, "{request}: {}", refused.body);
    }
    let size = emulator
        .with_sheets(|s| s.spreadsheet(&id).map(|ss| (ss.sheets[0].row_count, ss.sheets[0].col_count)));
    assert_eq!(size, Some((1000, 26)));
}

/// A small xorshift generator: the same cases on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick<'a>(&mut self, items: &'a [Json]) -> &'a Json {
        &items[(self.next() % items.len() as u64) as usize]
    }
}

#[test]
fn generated_requests_are_answered_never_dropped() {
    let (emulator, token, id) = setup(roomy());
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let numbers: Vec<Json> = [
        json!(0),
        json!(1),
        json!(2),
        json!(5),
        json!(-1),
        json!(999),
        json!(1000),
        json!(26),
        json!(4_000_000_000u64),
        json!("x"),
        json!(null),
        json!(1.5),
    ]
    .to_vec();
    let kinds = [
        "addSheet",
        "deleteSheet",
        "updateSheetProperties",
        "insertDimension",
        "deleteDimension",
        "appendDimension",
        "updateCells",
        "repeatCell",
        "mergeCells",
        "unmergeCells",
        "sortRange",
        "copyPaste",
        "cutPaste",
        "addNamedRange",
        "deleteNamedRange",
        "setBasicFilter",
        "addDimensionGroup",
        "deleteDimensionGroup",
        "addProtectedRange",
        "setDataValidation",
        "createDeveloperMetadata",
        "deleteDeveloperMetadata",
        "autoResizeDimensions",
        "updateDimensionProperties",
        "duplicateSheet",
        "noSuchRequest",
    ];
    let ranges =
        ["Sheet1!A1:C3", "A:A", "2:5", "'Sheet1'!B2", "Nope!A1", "Sheet1!A1:ZZZ99999", "", "'", "Sheet1!A0"];
    for n in 0..1500 {
        let mut grid = serde_json::Map::new();
        for key in [
            "sheetId",
            "startRowIndex",
            "endRowIndex",
            "startColumnIndex",
            "endColumnIndex",
            "startIndex",
            "endIndex",
            "rowIndex",
            "columnIndex",
            "length",
        ] {
            if rng.next().is_multiple_of(2) {
                grid.insert(key.into(), rng.pick(&numbers).clone());
            }
        }
        if rng.next().is_multiple_of(2) {
            grid.insert(
                "dimension".into(),
                json!(if rng.next().is_multiple_of(2) { "ROWS" } else { "COLUMNS" }),
            );
        }
        let range = Json::Object(grid);
        let kind = kinds[(rng.next() % kinds.len() as u64) as usize];
        let fields =
            ["*", "title", "gridProperties.rowCount", "userEnteredValue", "note"][(rng.next() % 5) as usize];
        let body = json!({
            "range": range, "source": range, "destination": range, "dimensions": range,
            "sheetId": rng.pick(&numbers), "length": rng.pick(&numbers), "dimension": "ROWS",
            "properties": {"sheetId": rng.pick(&numbers), "title": format!("t{}", rng.next() % 4), "gridProperties": {"rowCount": rng.pick(&numbers), "columnCount": rng.pick(&numbers)}, "hidden": rng.next().is_multiple_of(2)},
            "fields": fields,
            "rows": [{"values": [{"userEnteredValue": {"stringValue": "v"}}, {"note": "n"}]}],
            "cell": {"userEnteredFormat": {"backgroundColor": {"red": 0.5}}},
            "start": range,
            "sortSpecs": [{"dimensionIndex": rng.pick(&numbers), "sortOrder": "DESCENDING"}],
            "namedRange": {"name": format!("n{}", rng.next() % 3), "range": range, "namedRangeId": format!("{}", rng.next() % 3)},
            "namedRangeId": format!("{}", rng.next() % 3),
            "filter": {"range": range},
            "protectedRange": {"range": range},
            "rule": {"condition": {"type": "ONE_OF_LIST", "values": [{"userEnteredValue": "y"}]}},
            "developerMetadata": {"metadataKey": "k", "location": {"sheetId": rng.pick(&numbers)}, "visibility": "DOCUMENT"},
            "dataFilter": {"developerMetadataLookup": {"metadataKey": "k"}},
            "sourceSheetId": rng.pick(&numbers),
            "mergeType": "MERGE_ALL",
        });
        let reply = post(
            &emulator,
            &format!("/v4/spreadsheets/{id}:batchUpdate"),
            &token,
            &json!({"requests": [{ kind: body }]}),
        );
        assert!(matches!(reply.status, 200 | 400 | 404), "#{n} {kind}: {} {}", reply.status, reply.body);
        let range = ranges[(rng.next() % ranges.len() as u64) as usize];
        let url = format!("{}?valueInputOption=USER_ENTERED", values_url(&id, range));
        let reply =
            put(&emulator, &url, &token, &json!({"values": [["=A1+1", "1,000", "x"], [null, "2020-01-01"]]}));
        assert!(matches!(reply.status, 200 | 400), "#{n} PUT {range}: {} {}", reply.status, reply.body);
        let reply = get(&emulator, &values_url(&id, range), &token);
        assert!(matches!(reply.status, 200 | 400), "#{n} GET {range}: {} {}", reply.status, reply.body);
    }
    let whole = get(&emulator, &format!("/v4/spreadsheets/{id}?includeGridData=true"), &token);
    assert_eq!(whole.status, 200);
}

#[test]
fn paste_values_pastes_what_formulas_show() {
    let (emulator, token, id) = setup(roomy());
    emulator.with_sheets(|s| {
        s.set_values(&id, "Sheet1!A1", vec![vec![json!(2), json!("=A1*21")]]).expect("seed")
    });
    let paste = json!({"requests": [{"copyPaste": {
        "source": {"sheetId": 0, "startRowIndex": 0, "endRowIndex": 1, "startColumnIndex": 0, "endColumnIndex": 2},
        "destination": {"sheetId": 0, "startRowIndex": 1, "endRowIndex": 2, "startColumnIndex": 0, "endColumnIndex": 2},
        "pasteType": "PASTE_VALUES"
    }}]});
    assert_eq!(post(&emulator, &format!("/v4/spreadsheets/{id}:batchUpdate"), &token, &paste).status, 200);
    let url = format!("{}?valueRenderOption=FORMULA", values_url(&id, "Sheet1!A2:B2"));
    assert_eq!(get(&emulator, &url, &token).json()["values"], json!([[2, 42]]));
}
