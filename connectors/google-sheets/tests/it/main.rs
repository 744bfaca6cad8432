//! The connector's tests, against the Sheets emulator: one binary, one module a subject.

mod apply;
mod auth;
mod export;
mod read;
mod roundtrip;
mod transport;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use sheetbridge_google_sheets::{ClientOptions, Endpoints, Quota, RetryPolicy, SheetsClient, TokenSource};
use sheetbridge_sheets_emulator::{Emulator, Options};

pub const SCOPE: &str = "https://www.googleapis.com/auth/spreadsheets";

/// A credential key no other test shares (quota buckets are per key and process-wide).
pub fn unique_key(user: &str) -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    format!("test-{}-{}:{user}", std::process::id(), N.fetch_add(1, Ordering::Relaxed))
}

pub fn emulator() -> Emulator {
    Emulator::start(Options::default()).expect("the emulator starts")
}

/// Retries that take milliseconds, and a quota no test runs into.
pub fn fast_options() -> ClientOptions {
    ClientOptions {
        retry: RetryPolicy {
            max_attempts: 4,
            initial_delay: Duration::from_millis(5),
            max_delay: Duration::from_millis(20),
            max_elapsed: Duration::from_secs(20),
        },
        quota: Quota { reads_per_minute: 60_000, writes_per_minute: 60_000, burst: None },
        ..ClientOptions::default()
    }
}

/// A client of `user` on `emu`, with fast retries.
pub fn client(emu: &Emulator, user: &str) -> SheetsClient {
    client_with(emu, user, fast_options())
}

pub fn client_with(emu: &Emulator, user: &str, options: ClientOptions) -> SheetsClient {
    let token = emu.issue_token(user, &[SCOPE]);
    let tokens = TokenSource::fixed(unique_key(user), token);
    SheetsClient::with_options(Endpoints::at(emu.base_url()), tokens, options).expect("client")
}

use chrono::{NaiveDate, NaiveDateTime};
use sheetbridge_core::schema::RelationKind;
use sheetbridge_core::{Column, ColumnType, Error, TableName, TableSchema, Value};
use sheetbridge_google_sheets::{SheetLayout, SheetRef};

pub fn col(name: &str, ty: ColumnType, type_name: &str) -> Column {
    Column::new(name, ty, type_name)
}

pub fn key(name: &str, ty: ColumnType, type_name: &str) -> Column {
    let mut c = Column::new(name, ty, type_name);
    c.key = true;
    c.nullable = false;
    c
}

pub fn schema(name: &str, columns: Vec<Column>) -> TableSchema {
    TableSchema { name: TableName::new(None, name), kind: RelationKind::Table, columns }
}

pub fn numeric(p: u32, s: u32) -> ColumnType {
    ColumnType::Numeric { precision: Some(p), scale: Some(s) }
}

pub fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("valid test date")
}

pub fn ts(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32, us: u32) -> NaiveDateTime {
    date(y, mo, d).and_hms_micro_opt(h, mi, s, us).expect("valid test time")
}

pub fn text(s: &str) -> Value {
    Value::Text(s.into())
}

pub fn num(s: &str) -> Value {
    Value::Numeric(s.into())
}

/// Rows as read: (sheet row number, values).
pub type Rows = Vec<(u32, Vec<Value>)>;

/// Opens `at` and reads every row as `schema`.
pub async fn read_all(
    c: &SheetsClient,
    at: &SheetRef,
    schema: &TableSchema,
) -> Result<(SheetLayout, Rows), Error> {
    let mut tab = c.open_tab(at).await?;
    tab.allow_empty(true);
    let layout = tab.layout(schema)?;
    let mut rows = Vec::new();
    tab.read(&layout, schema, |n, values| {
        rows.push((n, values.to_vec()));
        Ok(())
    })
    .await?;
    Ok((layout, rows))
}

/// Compares rows, naming the first differing row and column.
pub fn assert_rows(actual: &Rows, expected: &Rows, names: &[&str]) {
    for (i, (a, e)) in actual.iter().zip(expected).enumerate() {
        assert_eq!(a.0, e.0, "row {i}: sheet row number");
        for (c, (av, ev)) in a.1.iter().zip(&e.1).enumerate() {
            assert_eq!(av, ev, "sheet row {}, column `{}`", a.0, names.get(c).copied().unwrap_or("?"));
        }
        assert_eq!(a.1.len(), e.1.len(), "sheet row {}: number of values", a.0);
    }
    assert_eq!(actual.len(), expected.len(), "number of rows");
}
