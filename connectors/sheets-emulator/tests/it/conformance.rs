//! Replays every Sheets API interaction recorded from Google (gspread's
//! cassettes) against a fresh emulator per cassette and compares status and
//! JSON. Drive calls are not compared: the ones that create, copy, delete or
//! import a spreadsheet are turned into the same change through the admin
//! API, so the Sheets calls that follow see what Google's did.
//!
//! Ids the server picks (sheetId, namedRangeId, protectedRangeId,
//! metadataId) differ from the recorded ones: the first time a recorded id
//! meets the emulator's in a response, the pair is learned, and from then on
//! requests are rewritten and responses compared through it.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde_json::{json, Value as Json};
use sheetbridge_sheets_emulator::{Emulator, Options, Quota};

use crate::http;

/// The account the cassettes were recorded with (a service account).
const RECORDED_USER: &str = "telegram-budgeter@telegram-budgeter.iam.gserviceaccount.com";
const ID_KEYS: &[&str] = &["sheetId", "namedRangeId", "protectedRangeId", "metadataId"];

/// The recorded cassettes, kept in the repository as one zip archive (see
/// `tests/conformance/README.md`): `(file name, JSON text)`, sorted by name.
fn cassettes() -> Vec<(String, String)> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/conformance/gspread-cassettes.zip");
    let file = std::fs::File::open(&path)
        .unwrap_or_else(|e| panic!("the recorded cassettes are expected at {}: {e}", path.display()));
    let mut archive = zip::ZipArchive::new(file).expect("the cassettes archive");
    let mut out = Vec::new();
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).expect("a cassette in the archive");
        let name = entry.name().expect("a cassette's name is UTF-8").into_owned();
        let Some(name) = name.strip_suffix(".json").map(str::to_owned) else { continue };
        let mut text = String::new();
        std::io::Read::read_to_string(&mut entry, &mut text).expect("a cassette is UTF-8 JSON");
        out.push((name, text));
    }
    out.sort();
    out
}

#[derive(Default)]
struct Ids {
    /// recorded → emulator
    forward: HashMap<String, String>,
    /// emulator → recorded
    backward: HashMap<String, String>,
}

fn id_text(v: &Json) -> Option<String> {
    match v {
        Json::Number(n) => Some(n.to_string()),
        Json::String(s) => Some(s.clone()),
        _ => None,
    }
}

impl Ids {
    fn learn(&mut self, expected: &Json, actual: &Json) {
        match (expected, actual) {
            (Json::Object(e), Json::Object(a)) => {
                for (k, ev) in e {
                    let Some(av) = a.get(k) else { continue };
                    if ID_KEYS.contains(&k.as_str()) {
                        if let (Some(et), Some(at)) = (id_text(ev), id_text(av)) {
                            if !self.forward.contains_key(&et) && !self.backward.contains_key(&at) {
                                self.forward.insert(et.clone(), at.clone());
                                self.backward.insert(at, et);
                            }
                        }
                    } else {
                        self.learn(ev, av);
                    }
                }
            }
            (Json::Array(e), Json::Array(a)) => {
                for (ev, av) in e.iter().zip(a) {
                    self.learn(ev, av);
                }
            }
            _ => {}
        }
    }

    /// Rewrites recorded ids in a request body to the emulator's.
    fn rewrite(&self, v: &mut Json) {
        match v {
            Json::Object(m) => {
                for (k, x) in m.iter_mut() {
                    if ID_KEYS.contains(&k.as_str()) {
                        if let Some(mapped) = id_text(x).and_then(|t| self.forward.get(&t)) {
                            *x = match x {
                                Json::Number(_) => {
                                    mapped.parse::<i64>().map(Json::from).unwrap_or(Json::Null)
                                }
                                _ => Json::String(mapped.clone()),
                            };
                        }
                    } else {
                        self.rewrite(x);
                    }
                }
            }
            Json::Array(a) => a.iter_mut().for_each(|x| self.rewrite(x)),
            _ => {}
        }
    }
}

/// The first difference between the recorded and the emulator's JSON, as a path.
fn diff(expected: &Json, actual: &Json, ids: &Ids, path: &str) -> Option<String> {
    match (expected, actual) {
        (Json::Object(e), Json::Object(a)) => {
            for (k, ev) in e {
                let p = format!("{path}.{k}");
                match a.get(k) {
                    None => return Some(format!("{p}: missing (recorded {})", short(ev))),
                    Some(av) => {
                        if ID_KEYS.contains(&k.as_str()) {
                            let (et, at) = (id_text(ev), id_text(av));
                            let mapped = et.as_ref().and_then(|t| ids.forward.get(t));
                            if mapped.is_some() && mapped == at.as_ref() {
                                continue;
                            }
                        }
                        if let Some(d) = diff(ev, av, ids, &p) {
                            return Some(d);
                        }
                    }
                }
            }
            for (k, av) in a {
                if !e.contains_key(k) {
                    return Some(format!("{path}.{k}: unexpected {}", short(av)));
                }
            }
            None
        }
        (Json::Array(e), Json::Array(a)) => {
            if e.len() != a.len() {
                return Some(format!(
                    "{path}: {} items recorded, {} served ({} vs {})",
                    e.len(),
                    a.len(),
                    short(expected),
                    short(actual)
                ));
            }
            e.iter().zip(a).enumerate().find_map(|(i, (ev, av))| diff(ev, av, ids, &format!("{path}[{i}]")))
        }
        (Json::Number(e), Json::Number(a)) => {
            (e.as_f64() != a.as_f64()).then(|| format!("{path}: recorded {e}, served {a}"))
        }
        _ => (expected != actual)
            .then(|| format!("{path}: recorded {}, served {}", short(expected), short(actual))),
    }
}

fn short(v: &Json) -> String {
    let t = v.to_string();
    if t.len() > 160 {
        format!("{}…", &t[..t.char_indices().nth(160).map_or(t.len(), |(i, _)| i)])
    } else {
        t
    }
}

fn body_text(v: &Json) -> Option<String> {
    match v {
        Json::String(s) => Some(s.clone()),
        Json::Null => None,
        other => Some(other.to_string()),
    }
}

/// `/drive/v3/files/ID...` → ID
fn drive_file_id(path: &str) -> Option<&str> {
    let rest = path.split("/files/").nth(1)?;
    Some(rest.split(['/', '?']).next().unwrap_or(rest))
}

/// Rewrites known ids in a URL path's developerMetadata segment.
fn rewrite_target(target: &str, ids: &Ids) -> String {
    if let Some((head, tail)) = target.split_once("/developerMetadata/") {
        let (id, rest) = tail.split_at(tail.find(['?', '/']).unwrap_or(tail.len()));
        if let Some(mapped) = ids.forward.get(id) {
            return format!("{head}/developerMetadata/{mapped}{rest}");
        }
    }
    target.to_owned()
}

/// The spreadsheet id a Sheets path names.
fn sheets_spreadsheet_id(path: &str) -> Option<String> {
    let rest = path.strip_prefix("/v4/spreadsheets/")?;
    let id = rest.split(['/', '?', ':']).next()?;
    Some(id.to_owned())
}

#[derive(Default)]
struct Outcome {
    passed: usize,
    total: usize,
    failures: Vec<String>,
}

fn replay(text: &str) -> Outcome {
    let cassette: Json = serde_json::from_str(text).expect("cassette JSON");
    let quota = Quota {
        reads_per_user: 1_000_000,
        writes_per_user: 1_000_000,
        reads_per_project: 1_000_000,
        writes_per_project: 1_000_000,
    };
    let emulator = Emulator::start(Options { quota, ..Options::default() }).expect("start emulator");
    let token = emulator.issue_token(
        RECORDED_USER,
        &["https://www.googleapis.com/auth/spreadsheets", "https://www.googleapis.com/auth/drive"],
    );
    let mut ids = Ids::default();
    let mut outcome = Outcome::default();
    let mut known: Vec<String> = Vec::new();
    let interactions = cassette["interactions"].as_array().cloned().unwrap_or_default();
    for (n, it) in interactions.iter().enumerate() {
        let request = &it["request"];
        let method = request["method"].as_str().unwrap_or("GET");
        let uri = request["uri"].as_str().unwrap_or("");
        let Some(after_scheme) = uri.strip_prefix("https://") else { continue };
        let (host, target) = after_scheme.split_at(after_scheme.find('/').unwrap_or(after_scheme.len()));
        let response_body = it["response"]["body"]["string"].as_str().unwrap_or("");
        let status = it["response"]["status"]["code"].as_u64().unwrap_or(0) as u16;
        if host != "sheets.googleapis.com" {
            drive(&emulator, method, target, request, response_body, status, &mut known);
            continue;
        }
        outcome.total += 1;
        if let Some(id) = sheets_spreadsheet_id(target) {
            let exists = emulator.with_sheets(|s| s.spreadsheet(&id).is_some());
            if !exists && !known.contains(&id) && id.len() == 44 {
                // A spreadsheet made outside the recording, which the recorded
                // account could not open.
                emulator.with_sheets(|s| {
                    s.create_spreadsheet(Some(&id), "Private");
                    s.set_owner(&id, Some("someone-else@example.com"));
                });
            }
        }
        let body = request.get("body").and_then(body_text).map(|b| match serde_json::from_str::<Json>(&b) {
            Ok(mut j) => {
                ids.rewrite(&mut j);
                j.to_string()
            }
            Err(_) => b,
        });
        let target = rewrite_target(target, &ids);
        let reply = http::send(&emulator, method, &target, Some(&token), body.as_deref());
        let expected: Json = serde_json::from_str(response_body).unwrap_or(Json::Null);
        let actual: Json = serde_json::from_str(&reply.body).unwrap_or(Json::Null);
        ids.learn(&expected, &actual);
        let difference = if reply.status != status {
            Some(format!("status: recorded {status}, served {} ({})", reply.status, short(&actual)))
        } else {
            diff(&expected, &actual, &ids, "$")
        };
        match difference {
            None => outcome.passed += 1,
            Some(d) => outcome.failures.push(format!("#{n} {method} {}: {d}", short_target(&target))),
        }
    }
    outcome
}

fn short_target(target: &str) -> String {
    let decoded = percent_encoding::percent_decode_str(target).decode_utf8_lossy().into_owned();
    let t = match decoded.find("/spreadsheets/") {
        Some(pos) => {
            let rest = &decoded[pos + 14..];
            let cut = rest.find(['/', '?', ':']).unwrap_or(rest.len());
            format!("…{}", &rest[cut..])
        }
        None => decoded,
    };
    t.chars().take(140).collect()
}

/// Turns a recorded Drive call into the same change to the emulator's state.
fn drive(
    emulator: &Emulator,
    method: &str,
    target: &str,
    request: &Json,
    response: &str,
    status: u16,
    known: &mut Vec<String>,
) {
    if status >= 300 {
        return;
    }
    let path = target.split('?').next().unwrap_or(target);
    let reply: Json = serde_json::from_str(response).unwrap_or(Json::Null);
    match method {
        "POST" if path == "/drive/v3/files" => {
            let (Some(id), Some(name)) = (reply["id"].as_str(), reply["name"].as_str()) else { return };
            emulator.with_sheets(|s| s.create_spreadsheet(Some(id), name));
            known.push(id.to_owned());
        }
        "POST" if path.ends_with("/copy") => {
            let (Some(from), Some(id), Some(name)) =
                (drive_file_id(path), reply["id"].as_str(), reply["name"].as_str())
            else {
                return;
            };
            emulator.with_sheets(|s| s.copy_spreadsheet(from, Some(id), name));
            known.push(id.to_owned());
        }
        "GET" if path == "/drive/v3/files" => {
            // Listed files exist in the account and can be opened.
            for f in reply["files"].as_array().into_iter().flatten() {
                let (Some(id), Some(name)) = (f["id"].as_str(), f["name"].as_str()) else { continue };
                emulator.with_sheets(|s| {
                    if s.spreadsheet(id).is_none() {
                        s.create_spreadsheet(Some(id), name);
                    }
                });
                known.push(id.to_owned());
            }
        }
        "DELETE" => {
            if let Some(id) = drive_file_id(path) {
                emulator.with_sheets(|s| s.delete_spreadsheet(id));
            }
        }
        "PUT" if path.starts_with("/upload/drive/") => {
            // A CSV converted into the spreadsheet: one new tab named after the
            // file, holding the rows as typed, and Drive's conversion time zone.
            let Some(id) = drive_file_id(path) else { return };
            let csv = request.get("body").and_then(body_text).unwrap_or_default();
            let rows: Vec<Vec<Json>> =
                csv.lines().map(|l| l.split(',').map(|c| Json::String(c.to_owned())).collect()).collect();
            emulator.with_sheets(|s| {
                let Some(title) = s.spreadsheet(id).map(|ss| ss.title().to_owned()) else { return };
                let old: Vec<i64> =
                    s.spreadsheet(id).map(|ss| ss.sheets.iter().map(|sh| i64::from(sh.id)).collect()).unwrap_or_default();
                let mut requests = vec![json!({"addSheet": {"properties": {"title": format!("{title} (import)")}}})];
                requests.extend(old.iter().map(|o| json!({"deleteSheet": {"sheetId": o}})));
                requests.push(json!({"updateSpreadsheetProperties": {"properties": {"timeZone": "America/Los_Angeles"}, "fields": "timeZone"}}));
                if s.batch_update(id, &requests).is_err() {
                    return;
                }
                let new_id = s.spreadsheet(id).map(|ss| ss.sheets[0].id).unwrap_or(0);
                let _ = s.batch_update(
                    id,
                    &[json!({"updateSheetProperties": {"properties": {"sheetId": new_id, "title": title}, "fields": "title"}})],
                );
                let _ = s.set_values(id, &format!("'{}'!A1", title.replace('\'', "''")), rows);
            });
        }
        _ => {}
    }
}

/// The pass rate the README records: a line `Conformance pass rate: NN.N%`.
fn recorded_rate() -> f64 {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap_or_default();
    readme
        .lines()
        .find_map(|l| l.split("Conformance pass rate: ").nth(1))
        .and_then(|rest| rest.split('%').next())
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0.0)
}

#[test]
fn recorded_google_traffic_is_answered_the_same_way() {
    let files = cassettes();
    assert_eq!(files.len(), 124, "cassettes in tests/conformance/gspread-cassettes.zip");
    let mut passed = 0;
    let mut total = 0;
    let mut classes: BTreeMap<String, usize> = BTreeMap::new();
    let verbose = std::env::var_os("CONFORMANCE_VERBOSE").is_some();
    for (name, text) in &files {
        let outcome = replay(text);
        passed += outcome.passed;
        total += outcome.total;
        println!("{name}: {}/{}", outcome.passed, outcome.total);
        for f in &outcome.failures {
            if verbose {
                println!("    {f}");
            }
            let class = f.split_once(' ').map_or(f.as_str(), |(_, rest)| rest);
            let class: String = class.split(": ").take(2).collect::<Vec<_>>().join(": ");
            *classes
                .entry(format!("{name}: {}", class.chars().take(150).collect::<String>()))
                .or_default() += 1;
        }
    }
    let rate = 100.0 * passed as f64 / total.max(1) as f64;
    println!("differences:");
    for (class, n) in &classes {
        println!("  {n:4} {class}");
    }
    println!("conformance: {passed} of {total} Sheets interactions ({rate:.1}%)");
    assert_eq!(total, 1508, "the cassettes hold 1,508 Sheets interactions");
    let floor = recorded_rate();
    assert!(
        rate + 1e-9 >= floor,
        "conformance fell to {rate:.1}% ({passed} of {total}); the README records {floor:.1}%"
    );
}
