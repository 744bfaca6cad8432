//! Calls to Google's OAuth endpoints (token, revoke, tokeninfo), retried
//! with backoff when they fail in passing.

use std::time::Duration;

use reqwest::header::RETRY_AFTER;
use sheetbridge_core::{Error, ErrorKind};

use super::Secret;
use crate::config::Endpoints;

/// How calls to the OAuth endpoints are retried after 429, 5xx or a failed
/// connection: `attempts` in all, waiting `initial_delay` doubling up to
/// `max_delay` between them, or what `Retry-After` asks (up to a minute).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenRetry {
    pub attempts: u32,
    pub initial_delay: Duration,
    pub max_delay: Duration,
}

impl Default for TokenRetry {
    fn default() -> Self {
        TokenRetry {
            attempts: 5,
            initial_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(8),
        }
    }
}

/// The most a `Retry-After` is waited for before the call gives up.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// What Google's OAuth endpoints answer when they refuse: `{"error", "error_description"}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refusal {
    pub status: u16,
    pub error: String,
    pub description: String,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.description.is_empty() {
            write!(f, "{} (HTTP {})", self.error, self.status)
        } else {
            write!(f, "{}: {} (HTTP {})", self.error, self.description, self.status)
        }
    }
}

/// Why a call to an OAuth endpoint did not succeed.
#[derive(Debug)]
pub(crate) enum Failure {
    /// Google answered with an OAuth error (4xx): retrying will not help.
    Refused(Refusal),
    /// The endpoint could not be reached or kept failing; the error says which.
    Failed(Error),
}

/// A token endpoint's success: `{"access_token", "expires_in", "refresh_token"?, "scope"?, ...}`.
#[derive(serde::Deserialize)]
pub(crate) struct TokenResponse {
    pub access_token: Secret,
    #[serde(default)]
    pub expires_in: Option<u64>,
    #[serde(default)]
    pub refresh_token: Option<Secret>,
    #[serde(default)]
    pub scope: Option<String>,
    /// Set when the refresh token expires (an app in testing status).
    #[serde(default)]
    pub refresh_token_expires_in: Option<i64>,
}

/// What tokeninfo says about an access token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenInfo {
    /// The user's or service account's e-mail, when Google tells it.
    pub email: Option<String>,
    pub scopes: Vec<String>,
    /// The OAuth client (or service account id) the token was issued to.
    pub azp: Option<String>,
    /// Seconds the token has left.
    pub expires_in: Option<u64>,
    /// `offline` (a refresh token stands behind it) or `online`.
    pub access_type: Option<String>,
}

/// One HTTP client for the OAuth endpoints, with the retry policy.
#[derive(Clone)]
pub(crate) struct OAuthHttp {
    http: reqwest::Client,
    pub retry: TokenRetry,
}

impl OAuthHttp {
    pub fn new() -> Result<OAuthHttp, Error> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(30))
            .user_agent(concat!("sheetbridge/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::new(ErrorKind::Other, format!("cannot set up an HTTP client: {e}")))?;
        Ok(OAuthHttp { http, retry: TokenRetry::default() })
    }

    /// POSTs `form` to `url` and returns the JSON answer; `what` names the call
    /// in messages (`the Google token endpoint`). Secrets travel in the body
    /// only, so no URL in an error carries one.
    pub async fn post_form(
        &self,
        url: &str,
        form: &[(&str, &str)],
        what: &str,
    ) -> Result<serde_json::Value, Failure> {
        let attempts = self.retry.attempts.max(1);
        let mut delay = self.retry.initial_delay;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let last = attempt >= attempts;
            let (said, retry_after, rate_limited) = match self.http.post(url).form(form).send().await {
                Err(e) => (format!("cannot reach {what} {url}: {}", e.without_url()), None, false),
                Ok(response) => {
                    let status = response.status().as_u16();
                    let retry_after = response
                        .headers()
                        .get(RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.trim().parse::<u64>().ok())
                        .map(Duration::from_secs);
                    let body = response.bytes().await.unwrap_or_default();
                    let json = serde_json::from_slice::<serde_json::Value>(&body).ok();
                    if (200..300).contains(&status) {
                        return json.ok_or_else(|| {
                            Failure::Failed(Error::new(
                                ErrorKind::Other,
                                format!("{what} {url} answered HTTP {status} with a body that is not JSON"),
                            ))
                        });
                    }
                    if status == 429 || matches!(status, 500 | 502 | 503 | 504) {
                        (format!("{what} {url} answered HTTP {status}"), retry_after, status == 429)
                    } else {
                        let field = |name: &str| {
                            json.as_ref()
                                .and_then(|j| j.get(name))
                                .and_then(|v| v.as_str())
                                .unwrap_or_default()
                        };
                        return Err(Failure::Refused(Refusal {
                            status,
                            error: match field("error") {
                                "" => format!("HTTP {status}"),
                                e => e.to_owned(),
                            },
                            description: field("error_description").to_owned(),
                        }));
                    }
                }
            };
            let wait = retry_after.unwrap_or(delay);
            if last || wait > MAX_RETRY_AFTER {
                let kind =
                    if rate_limited { ErrorKind::RateLimited { retry_after } } else { ErrorKind::Retryable };
                let tries = if attempt == 1 { String::new() } else { format!(" (after {attempt} attempts)") };
                return Err(Failure::Failed(Error::new(kind, format!("{said}{tries}"))));
            }
            tracing::debug!(what, attempt, wait_ms = wait.as_millis() as u64, "retrying an OAuth call");
            tokio::time::sleep(wait).await;
            delay = (delay * 2).min(self.retry.max_delay);
        }
    }

    pub async fn token(&self, url: &str, form: &[(&str, &str)]) -> Result<TokenResponse, Failure> {
        let json = self.post_form(url, form, "the Google token endpoint").await?;
        serde_json::from_value(json).map_err(|_| {
            Failure::Failed(Error::new(
                ErrorKind::Other,
                format!("the Google token endpoint {url} answered without an access_token"),
            ))
        })
    }

    /// tokeninfo of `access_token` (POSTed, so the token stays out of URLs and logs).
    pub async fn token_info(&self, endpoints: &Endpoints, access_token: &Secret) -> Result<TokenInfo, Error> {
        let url = &endpoints.tokeninfo;
        match self.post_form(url, &[("access_token", access_token.expose())], "Google's tokeninfo").await {
            Ok(json) => {
                let text = |name: &str| json.get(name).and_then(|v| v.as_str()).map(str::to_owned);
                Ok(TokenInfo {
                    email: text("email"),
                    scopes: text("scope").unwrap_or_default().split_whitespace().map(str::to_owned).collect(),
                    azp: text("azp"),
                    expires_in: text("expires_in").and_then(|s| s.parse().ok()),
                    access_type: text("access_type"),
                })
            }
            Err(Failure::Refused(r)) => Err(Error::new(
                ErrorKind::Unauthorized,
                format!("Google's tokeninfo {url} does not know the access token ({r})"),
            )),
            Err(Failure::Failed(e)) => Err(e),
        }
    }

    /// Revokes `token` (a refresh token revokes its whole grant). `Ok(false)`
    /// when Google says it was already expired or revoked.
    pub async fn revoke(&self, endpoints: &Endpoints, token: &Secret) -> Result<bool, Error> {
        let url = &endpoints.revoke;
        match self.post_form(url, &[("token", token.expose())], "Google's revocation endpoint").await {
            Ok(_) => Ok(true),
            Err(Failure::Refused(r)) if r.error == "invalid_token" => Ok(false),
            Err(Failure::Refused(r)) => Err(Error::new(
                ErrorKind::Unauthorized,
                format!("Google's revocation endpoint {url} refused: {r}"),
            )),
            Err(Failure::Failed(e)) => Err(e),
        }
    }
}
