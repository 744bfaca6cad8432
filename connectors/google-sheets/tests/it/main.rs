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

pub use sheetbridge_core::testing::{
    assert_rows_eq, col, date, key, num, numeric, schema, sheet_rows, text, ts, Rows,
};
use sheetbridge_core::{Error, TableSchema};
use sheetbridge_google_sheets::{SheetLayout, SheetRef};

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
