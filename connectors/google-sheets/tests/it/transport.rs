//! The HTTP layer: retries, Retry-After, giving up, Google's statuses, the shared quota.

use std::time::{Duration, Instant};

use sheetbridge_core::ErrorKind;
use sheetbridge_google_sheets::{ClientOptions, Endpoints, Quota, RetryPolicy, SheetsClient, TokenSource};
use sheetbridge_sheets_emulator::{Fault, Route};

use crate::*;

/// A spreadsheet id the emulator does not hold: a call that gets through is a 404.
const MISSING: &str = "1missingMissingMissingMissingMissingMissing0";

fn sheets_calls(emu: &sheetbridge_sheets_emulator::Emulator) -> Vec<u16> {
    emu.requests().iter().filter(|r| r.path.starts_with("/v4/")).map(|r| r.status).collect()
}

fn existing(emu: &sheetbridge_sheets_emulator::Emulator) -> String {
    emu.with_sheets(|st| st.create_spreadsheet(None, "Retries"))
}

#[tokio::test]
async fn a_429_with_retry_after_is_waited_out_then_the_call_succeeds() {
    let emu = emulator();
    let c = client(&emu, "ada@example.com");
    let id = existing(&emu);
    emu.faults().push(Fault::rate_limited(Route::Sheets, 1, 1));
    let started = Instant::now();
    let info = c.spreadsheet(&id).await.expect("succeeds after the wait");
    assert_eq!(info.title, "Retries");
    // Retry-After: 1 is honoured although the policy's own delays are milliseconds.
    assert!(started.elapsed() >= Duration::from_millis(950), "{:?}", started.elapsed());
    assert_eq!(sheets_calls(&emu), vec![429, 200]);
    let stats = c.stats();
    assert_eq!((stats.calls, stats.retries), (2, 1));
}

#[tokio::test]
async fn a_503_and_a_dropped_connection_are_retried_then_the_call_succeeds() {
    let emu = emulator();
    let c = client(&emu, "ada@example.com");
    let id = existing(&emu);
    emu.faults().push(Fault::status(Route::Sheets, 503, 2));
    emu.faults().push(Fault::drop_connection(Route::Sheets, 1));
    c.spreadsheet(&id).await.expect("succeeds on the fourth attempt");
    assert_eq!(sheets_calls(&emu), vec![503, 503, 0, 200]);
    assert_eq!(c.stats().retries, 3);
}

#[tokio::test]
async fn an_export_rides_out_faults_on_its_value_writes() {
    let emu = emulator();
    let c = client(&emu, "ada@example.com");
    let id = existing(&emu);
    let s = schema("t", vec![key("id", sheetbridge_core::ColumnType::Int32, "int4")]);
    let target = sheetbridge_google_sheets::SheetRef::new(id, Some("T"));
    let mut w = c.export(Some(&target), &s, &Default::default()).await.expect("export");
    sheetbridge_core::RowSink::row(&mut w, &[sheetbridge_core::Value::Int(1)]).expect("row");
    // The structural batch goes through; the values write meets a 500, a drop and a 429.
    emu.faults().push(Fault::latency(Route::Sheets, Duration::ZERO, 1));
    emu.faults().push(Fault::status(Route::Sheets, 500, 1));
    emu.faults().push(Fault::drop_connection(Route::Sheets, 1));
    emu.faults().push(Fault::rate_limited(Route::Sheets, 0, 1));
    let report = w.finish().await.expect("the values write is idempotent, so it is retried");
    assert_eq!(report.rows, 1);
    let (_, rows) = read_all(&c, &target, &s).await.expect("read");
    assert_eq!(rows, vec![(2, vec![sheetbridge_core::Value::Int(1)])]);
}

#[tokio::test]
async fn giving_up_after_the_last_attempt_is_an_error_that_says_retry() {
    let emu = emulator();
    let c = client(&emu, "ada@example.com");
    emu.faults().push(Fault::status(Route::Sheets, 503, 10));
    let e = c.spreadsheet(MISSING).await.expect_err("never answered");
    assert_eq!(e.kind(), &ErrorKind::Retryable, "{e}");
    assert!(e.is_retryable());
    assert!(e.to_string().contains("gave up after 4 attempts"), "{e}");
    assert!(e.to_string().contains(MISSING), "{e}");
    assert_eq!(sheets_calls(&emu).len(), 4);

    emu.faults().clear();
    emu.faults().push(Fault::rate_limited(Route::Sheets, 0, 10));
    let e = c.spreadsheet(MISSING).await.expect_err("rate limited throughout");
    assert!(matches!(e.kind(), ErrorKind::RateLimited { .. }), "{e}");
}

#[tokio::test]
async fn a_retry_after_beyond_the_time_allowed_fails_at_once() {
    let emu = emulator();
    let mut options = fast_options();
    options.retry.max_elapsed = Duration::from_secs(2);
    let c = client_with(&emu, "ada@example.com", options);
    emu.faults().push(Fault::rate_limited(Route::Sheets, 60, 1));
    let started = Instant::now();
    let e = c.spreadsheet(MISSING).await.expect_err("would wait a minute");
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_eq!(e.kind(), &ErrorKind::RateLimited { retry_after: Some(Duration::from_secs(60)) }, "{e}");
}

#[tokio::test]
async fn a_401_gets_one_fresh_token_then_is_unauthorized_without_the_token_in_the_message() {
    let emu = emulator();
    let tokens = TokenSource::fixed(unique_key("ada@example.com"), "ya29.not-a-live-token");
    let c =
        SheetsClient::with_options(Endpoints::at(emu.base_url()), tokens, fast_options()).expect("client");
    let e = c.spreadsheet(MISSING).await.expect_err("no such token");
    assert_eq!(e.kind(), &ErrorKind::Unauthorized, "{e}");
    assert!(!format!("{e:?} {e}").contains("ya29.not-a-live-token"), "{e}");
    assert!(e.to_string().contains("ada@example.com"), "{e}");
    assert_eq!(sheets_calls(&emu), vec![401, 401]);
}

#[tokio::test]
async fn google_statuses_map_to_kinds_that_name_the_spreadsheet() {
    let emu = emulator();
    let c = client(&emu, "ada@example.com");
    for (code, kind) in
        [(403, ErrorKind::Unauthorized), (404, ErrorKind::NotFound), (400, ErrorKind::InvalidInput)]
    {
        emu.faults().push(Fault::status(Route::Sheets, code, 1));
        let e = c.spreadsheet(MISSING).await.expect_err("fault");
        assert_eq!(e.kind(), &kind, "{code}: {e}");
        assert!(e.to_string().contains(MISSING), "{code}: {e}");
        if code == 403 {
            assert!(e.to_string().contains("share the spreadsheet with ada@example.com"), "{e}");
        }
    }
}

#[tokio::test]
async fn clients_of_one_credential_share_one_quota_bucket() {
    let emu = emulator();
    // 600 reads a minute is one every 100 ms; a burst of 2.
    let options = ClientOptions {
        quota: Quota { reads_per_minute: 600, writes_per_minute: 600, burst: Some(2) },
        retry: RetryPolicy { max_attempts: 1, ..RetryPolicy::default() },
        ..ClientOptions::default()
    };
    let key = unique_key("ada@example.com");
    let token = emu.issue_token("ada@example.com", &[SCOPE]);
    let make = |key: &str| {
        SheetsClient::with_options(
            Endpoints::at(emu.base_url()),
            TokenSource::fixed(key, token.clone()),
            options.clone(),
        )
        .expect("client")
    };
    let (a, b, other) = (make(&key), make(&key), make(&unique_key("bob@example.com")));
    let started = Instant::now();
    for _ in 0..2 {
        let _ = a.spreadsheet(MISSING).await;
    }
    assert_eq!(a.stats().quota_wait, Duration::ZERO);
    // The bucket `a` emptied is `b`'s too: its calls wait.
    let _ = b.spreadsheet(MISSING).await;
    let _ = b.spreadsheet(MISSING).await;
    assert!(b.stats().quota_wait >= Duration::from_millis(120), "{:?}", b.stats());
    assert!(started.elapsed() >= Duration::from_millis(180), "{:?}", started.elapsed());
    // Another credential has its own bucket.
    let _ = other.spreadsheet(MISSING).await;
    assert_eq!(other.stats().quota_wait, Duration::ZERO);
}

#[tokio::test]
async fn a_write_whose_connection_dropped_is_not_repeated_blindly() {
    let emu = emulator();
    let c = client(&emu, "ada@example.com");
    let s = schema("t", vec![key("id", sheetbridge_core::ColumnType::Int32, "int4")]);
    let options = sheetbridge_google_sheets::ExportOptions { create: true, ..Default::default() };
    let mut w = c.export(None, &s, &options).await.expect("export");
    sheetbridge_core::RowSink::row(&mut w, &[sheetbridge_core::Value::Int(1)]).expect("row");
    emu.faults().push(Fault::drop_connection(Route::Sheets, 1));
    let e = w.finish().await.expect_err("the create may or may not have happened");
    assert_eq!(e.kind(), &ErrorKind::Retryable, "{e}");
    assert!(e.to_string().contains("may or may not have been applied"), "{e}");
    // Sent once: a second spreadsheets.create could make a second spreadsheet.
    assert_eq!(sheets_calls(&emu), vec![0]);
}

#[tokio::test]
async fn a_counted_clone_counts_its_own_calls_and_waits_and_shares_the_rest() {
    let emu = emulator();
    let c = client(&emu, "ada@example.com");
    let id = existing(&emu);
    let (one, two) = (c.counted(), c.counted());
    emu.faults().push(Fault::status(Route::Sheets, 503, 1));
    one.spreadsheet(&id).await.expect("after one retry");
    one.spreadsheet(&id).await.expect("a second call");
    two.spreadsheet(&id).await.expect("a call of the other");
    assert_eq!((one.stats().calls, one.stats().retries), (3, 1));
    assert_eq!((two.stats().calls, two.stats().retries), (1, 0));
    // The client they were made from counts neither; its clones share its counters.
    assert_eq!(c.stats().calls, 0);
    let same = c.clone();
    same.spreadsheet(&id).await.expect("a call of a plain clone");
    assert_eq!(c.stats().calls, 1);
}
