//! The transport: one HTTP call to the Sheets API, with quota, retries and
//! Google's errors turned into ones a caller can act on.

use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use reqwest::header::{HeaderMap, AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use sheetbridge_core::{Error, ErrorKind};

use crate::a1;
use crate::config::{ClientOptions, Endpoints};
use crate::error::{for_status, is_retryable_status, GoogleError};
use crate::quota::{buckets_for, Buckets, Class};
use crate::TokenSource;

/// A Sheets v4 client for one credential. Cheap to clone; clones share the
/// connection pool, the counters and (with every client of the same
/// credential in the process) the quota buckets. [`SheetsClient::counted`]
/// makes a clone with counters of its own, to count one piece of work.
#[derive(Clone)]
pub struct SheetsClient {
    inner: Arc<Inner>,
    counters: Arc<Counters>,
}

/// What [`ClientStats`] reads.
#[derive(Default)]
struct Counters {
    calls: AtomicU64,
    retries: AtomicU64,
    quota_wait_us: AtomicU64,
}

struct Inner {
    http: reqwest::Client,
    endpoints: Endpoints,
    tokens: TokenSource,
    options: ClientOptions,
    buckets: Arc<Buckets>,
}

impl std::fmt::Debug for SheetsClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SheetsClient")
            .field("sheets", &self.inner.endpoints.sheets)
            .field("tokens", &self.inner.tokens)
            .finish_non_exhaustive()
    }
}

/// What a client has done so far (it and its clones).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClientStats {
    /// HTTP requests sent to the Sheets API, retries included.
    pub calls: u64,
    /// Of those, repeats of a call that had failed in passing.
    pub retries: u64,
    /// Time spent waiting for the credential's quota bucket.
    pub quota_wait: Duration,
}

/// One call to make.
pub(crate) struct Call<'a> {
    pub method: Method,
    /// The path under `{sheets}/v4/spreadsheets`, already encoded (`/ID/values:batchGet?...`).
    pub path: String,
    pub body: Option<Bytes>,
    pub class: Class,
    /// Whether sending it twice does no harm. A call that is not is retried
    /// only where Google certainly did not act on it (a 429 or 503 answer, a
    /// refused connection); after a dropped connection its outcome is unknown.
    pub idempotent: bool,
    /// What the call does, for messages (`read of the tab's values`).
    pub what: &'a str,
    pub spreadsheet: &'a str,
}

/// Why an attempt failed, when another may succeed.
struct Passing {
    kind: ErrorKind,
    retry_after: Option<Duration>,
    said: String,
}

impl SheetsClient {
    /// A client with the default [`ClientOptions`].
    pub fn new(endpoints: Endpoints, tokens: TokenSource) -> Result<SheetsClient, Error> {
        SheetsClient::with_options(endpoints, tokens, ClientOptions::default())
    }

    pub fn with_options(
        endpoints: Endpoints,
        tokens: TokenSource,
        options: ClientOptions,
    ) -> Result<SheetsClient, Error> {
        let http = reqwest::Client::builder()
            .timeout(options.request_timeout)
            .connect_timeout(Duration::from_secs(30))
            .user_agent(concat!("sheetbridge/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::new(ErrorKind::Other, format!("cannot set up the HTTP client: {e}")))?;
        let buckets = buckets_for(tokens.key(), &options.quota);
        Ok(SheetsClient {
            inner: Arc::new(Inner { http, endpoints, tokens, options, buckets }),
            counters: Arc::new(Counters::default()),
        })
    }

    /// What this client and its clones have done; a [`SheetsClient::counted`]
    /// clone counts apart from the client it was made from.
    pub fn stats(&self) -> ClientStats {
        let c = &self.counters;
        ClientStats {
            calls: c.calls.load(Ordering::Relaxed),
            retries: c.retries.load(Ordering::Relaxed),
            quota_wait: Duration::from_micros(c.quota_wait_us.load(Ordering::Relaxed)),
        }
    }

    /// A clone that shares the connections, the token and the quota buckets,
    /// with its own counters starting at zero: what one sync pass did, while
    /// other passes use the same client.
    pub fn counted(&self) -> SheetsClient {
        SheetsClient { inner: self.inner.clone(), counters: Arc::new(Counters::default()) }
    }

    pub fn options(&self) -> &ClientOptions {
        &self.inner.options
    }

    pub fn tokens(&self) -> &TokenSource {
        &self.inner.tokens
    }

    pub(crate) fn spreadsheet_path(id: &str) -> String {
        format!("/{}", a1::path_segment(id))
    }

    /// Sends `call` and parses the answer as `T`.
    pub(crate) async fn call_json<T: DeserializeOwned>(&self, call: Call<'_>) -> Result<T, Error> {
        let (what, spreadsheet) = (call.what.to_owned(), call.spreadsheet.to_owned());
        let body = self.call(call).await?;
        serde_json::from_slice(&body).map_err(|e| {
            Error::new(
                ErrorKind::Other,
                format!("Google's answer to the {what} of spreadsheet `{spreadsheet}` cannot be read: {e}"),
            )
        })
    }

    /// Sends `call`, waiting for quota, retrying passing failures; the answer's body.
    pub(crate) async fn call(&self, call: Call<'_>) -> Result<Bytes, Error> {
        let inner = &*self.inner;
        let url = format!("{}/v4/spreadsheets{}", inner.endpoints.sheets.trim_end_matches('/'), call.path);
        let started = Instant::now();
        let mut attempt: u32 = 0;
        let mut refreshed = false;
        let key = inner.tokens.key().to_owned();
        loop {
            attempt += 1;
            let wait = inner.buckets.reserve(call.class);
            if !wait.is_zero() {
                self.counters.quota_wait_us.fetch_add(wait.as_micros() as u64, Ordering::Relaxed);
                tracing::debug!(wait_ms = wait.as_millis() as u64, what = call.what, "waiting for quota");
                tokio::time::sleep(wait).await;
            }
            let token = inner.tokens.token().await?;
            let mut request = inner
                .http
                .request(call.method.clone(), &url)
                .header(AUTHORIZATION, format!("Bearer {token}"));
            if let Some(body) = &call.body {
                request = request.header(CONTENT_TYPE, "application/json").body(body.clone());
            }
            self.counters.calls.fetch_add(1, Ordering::Relaxed);
            let passing = match request.send().await {
                Ok(response) => {
                    let status = response.status();
                    let headers = response.headers().clone();
                    let body = match response.bytes().await {
                        Ok(b) => b,
                        Err(e) => {
                            let p = transport(&e);
                            if !call.idempotent {
                                return Err(unknown_outcome(&call, &p.said));
                            }
                            self.backoff_or_fail(&call, p, attempt, started).await?;
                            continue;
                        }
                    };
                    if status.is_success() {
                        return Ok(body);
                    }
                    let code = status.as_u16();
                    let google = GoogleError::parse(&body);
                    if status == StatusCode::UNAUTHORIZED && !refreshed {
                        // One fresh token, then the credentials are wrong.
                        refreshed = true;
                        inner.tokens.invalidate(&token).await;
                        self.counters.retries.fetch_add(1, Ordering::Relaxed);
                        tracing::debug!(what = call.what, "401 from Google; trying a fresh token once");
                        continue;
                    }
                    if !is_retryable_status(code, &google) {
                        return Err(for_status(code, &google, call.what, call.spreadsheet, &key));
                    }
                    let retry_after = retry_after(&headers).or_else(|| google.retry_delay());
                    let kind = if code == 429 || code == 403 {
                        ErrorKind::RateLimited { retry_after }
                    } else {
                        ErrorKind::Retryable
                    };
                    // A 500 may come after Google acted; 429/503/403-quota were refused up front.
                    if !call.idempotent && !matches!(code, 429 | 503 | 403) {
                        return Err(unknown_outcome(&call, &google.describe(code)));
                    }
                    Passing { kind, retry_after, said: google.describe(code) }
                }
                Err(e) => {
                    let p = transport(&e);
                    if !call.idempotent && !e.is_connect() {
                        return Err(unknown_outcome(&call, &p.said));
                    }
                    p
                }
            };
            self.backoff_or_fail(&call, passing, attempt, started).await?;
        }
    }

    /// Sleeps before the next attempt, or gives up with the last failure's kind.
    async fn backoff_or_fail(
        &self,
        call: &Call<'_>,
        passing: Passing,
        attempt: u32,
        started: Instant,
    ) -> Result<(), Error> {
        let policy = &self.inner.options.retry;
        let backoff = {
            let exp = policy.initial_delay.saturating_mul(1u32 << (attempt - 1).min(20));
            jitter(exp.min(policy.max_delay))
        };
        let delay = passing.retry_after.unwrap_or(backoff);
        let elapsed = started.elapsed();
        let out_of_time = elapsed + delay > policy.max_elapsed;
        if attempt >= policy.max_attempts.max(1) || out_of_time {
            let why = if out_of_time && attempt < policy.max_attempts {
                format!(
                    "gave up after {attempt} attempt{} in {:.1} s: the next wait ({:.1} s) would pass the {} s allowed",
                    if attempt == 1 { "" } else { "s" },
                    elapsed.as_secs_f64(),
                    delay.as_secs_f64(),
                    policy.max_elapsed.as_secs()
                )
            } else {
                format!("gave up after {attempt} attempts in {:.1} s", elapsed.as_secs_f64())
            };
            return Err(Error::new(
                passing.kind,
                format!(
                    "the {} of spreadsheet `{}` did not complete: {why}; the last answer was {}",
                    call.what, call.spreadsheet, passing.said
                ),
            ));
        }
        self.counters.retries.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(
            what = call.what,
            attempt,
            delay_ms = delay.as_millis() as u64,
            failure = passing.said.as_str(),
            "retrying a Sheets API call"
        );
        tokio::time::sleep(delay).await;
        Ok(())
    }
}

fn transport(e: &reqwest::Error) -> Passing {
    let what = if e.is_timeout() {
        "a timeout"
    } else if e.is_connect() {
        "a refused connection"
    } else {
        "a dropped connection"
    };
    // reqwest's text names the URL, never the headers, so no token can leak.
    let mut said = format!("{what} ({e}");
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        said.push_str(&format!(": {s}"));
        source = s.source();
    }
    said.push(')');
    Passing { kind: ErrorKind::Retryable, retry_after: None, said }
}

fn unknown_outcome(call: &Call<'_>, said: &str) -> Error {
    Error::new(
        ErrorKind::Retryable,
        format!(
            "the {} of spreadsheet `{}` may or may not have been applied ({said}); it is not repeated \
             blindly: the next run reads the sheet again and completes it",
            call.what, call.spreadsheet
        ),
    )
}

/// `Retry-After` as seconds or an HTTP date.
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    parse_retry_after(value, chrono::Utc::now())
}

pub(crate) fn parse_retry_after(value: &str, now: chrono::DateTime<chrono::Utc>) -> Option<Duration> {
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    Some((at.with_timezone(&chrono::Utc) - now).to_std().unwrap_or(Duration::ZERO))
}

/// A random duration from zero to `max` ("full jitter").
fn jitter(max: Duration) -> Duration {
    // RandomState is seeded randomly per process and differs per instance.
    let r = std::collections::hash_map::RandomState::new().build_hasher().finish();
    let max_us = max.as_micros().min(u128::from(u64::MAX)) as u64;
    Duration::from_micros(if max_us == 0 { 0 } else { r % (max_us + 1) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_takes_seconds_or_a_date() {
        let now = chrono::DateTime::parse_from_rfc3339("2015-10-21T07:27:30Z").map(|d| d.to_utc());
        let now = now.unwrap_or_default();
        assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now), Some(Duration::from_secs(30)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn jitter_stays_within_its_bound() {
        for _ in 0..1000 {
            assert!(jitter(Duration::from_millis(5)) <= Duration::from_millis(5));
        }
        assert_eq!(jitter(Duration::ZERO), Duration::ZERO);
    }
}
