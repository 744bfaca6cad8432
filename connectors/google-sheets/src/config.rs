//! Where Google is: the real endpoints, or one base URL for all of them (the
//! emulator, set by `SHEETBRIDGE_GOOGLE_ENDPOINT` or the config file).

/// The environment variable that points every Google endpoint at one base URL.
pub const ENDPOINT_ENV: &str = "SHEETBRIDGE_GOOGLE_ENDPOINT";

/// The only scope sheetbridge asks for.
pub const SCOPE: &str = "https://www.googleapis.com/auth/spreadsheets";

/// The URLs of the Google services sheetbridge talks to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    /// Sheets v4 API root; requests go to `{sheets}/v4/spreadsheets/...`.
    pub sheets: String,
    /// OAuth authorization page.
    pub authorize: String,
    /// OAuth token endpoint.
    pub token: String,
    /// OAuth revocation endpoint.
    pub revoke: String,
    /// Token information (scopes, e-mail, expiry of an access token).
    pub tokeninfo: String,
}

impl Endpoints {
    /// Google's own endpoints.
    pub fn google() -> Endpoints {
        Endpoints {
            sheets: "https://sheets.googleapis.com".to_owned(),
            authorize: "https://accounts.google.com/o/oauth2/v2/auth".to_owned(),
            token: "https://oauth2.googleapis.com/token".to_owned(),
            revoke: "https://oauth2.googleapis.com/revoke".to_owned(),
            tokeninfo: "https://oauth2.googleapis.com/tokeninfo".to_owned(),
        }
    }

    /// Every endpoint under one base URL, the way the emulator serves them.
    pub fn at(base: &str) -> Endpoints {
        let base = base.trim_end_matches('/');
        Endpoints {
            sheets: base.to_owned(),
            authorize: format!("{base}/o/oauth2/v2/auth"),
            token: format!("{base}/token"),
            revoke: format!("{base}/revoke"),
            tokeninfo: format!("{base}/tokeninfo"),
        }
    }

    /// `at(value)` when `value` (the config key or the environment) is set, else Google's.
    pub fn resolve(configured: Option<&str>) -> Endpoints {
        match configured.map(str::trim).filter(|s| !s.is_empty()) {
            Some(base) => Endpoints::at(base),
            None => match std::env::var(ENDPOINT_ENV) {
                Ok(base) if !base.trim().is_empty() => Endpoints::at(&base),
                _ => Endpoints::google(),
            },
        }
    }
}

/// How a [`crate::SheetsClient`] retries a call that failed in passing.
///
/// A call is retried after 429 (rate limited), 500/502/503/504, or a
/// transport failure (connection refused, reset or dropped, timeout), with
/// exponential backoff and full jitter: before retry `n` (from 1) it waits a
/// random time between 0 and `min(max_delay, initial_delay * 2^(n-1))`, or
/// what Google's `Retry-After` says when it says so. It gives up after
/// `max_attempts` attempts or when the next wait would end after `max_elapsed`
/// from the first attempt; the error is then [`sheetbridge_core::ErrorKind::RateLimited`]
/// (the last failure was a 429) or [`sheetbridge_core::ErrorKind::Retryable`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (at least 1).
    pub max_attempts: u32,
    pub initial_delay: std::time::Duration,
    pub max_delay: std::time::Duration,
    /// The time a call may take with its retries and waits.
    pub max_elapsed: std::time::Duration,
}

impl Default for RetryPolicy {
    /// 7 attempts, 1 s doubling to at most 32 s, 5 minutes in all (Google's
    /// advice for its APIs: truncated exponential backoff to 32–64 s).
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 7,
            initial_delay: std::time::Duration::from_secs(1),
            max_delay: std::time::Duration::from_secs(32),
            max_elapsed: std::time::Duration::from_secs(300),
        }
    }
}

/// The request rate a credential keeps to, so that a busy schedule waits
/// instead of running into Google's quota (a batch counts as one request).
///
/// Every client of one credential ([`crate::TokenSource::key`]) in the
/// process shares one bucket of read tokens and one of write tokens; the
/// first client made for a credential sizes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    /// Google's per-user limit is 60 read requests a minute.
    pub reads_per_minute: u32,
    /// Google's per-user limit is 60 write requests a minute.
    pub writes_per_minute: u32,
    /// How many requests may go at once after a quiet spell (the bucket's
    /// size); `None` is a minute's worth.
    pub burst: Option<u32>,
}

impl Default for Quota {
    fn default() -> Self {
        Quota { reads_per_minute: 60, writes_per_minute: 60, burst: None }
    }
}

/// How a [`crate::SheetsClient`] runs: retries, quota, timeouts, batch size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientOptions {
    pub retry: RetryPolicy,
    pub quota: Quota,
    /// One HTTP request's time limit (Google stops processing at 180 s).
    pub request_timeout: std::time::Duration,
    /// The largest request body a write sends; Google recommends at most 2 MB.
    pub max_payload_bytes: usize,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            retry: RetryPolicy::default(),
            quota: Quota::default(),
            request_timeout: std::time::Duration::from_secs(200),
            max_payload_bytes: 2_000_000,
        }
    }
}
