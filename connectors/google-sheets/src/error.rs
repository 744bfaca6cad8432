//! How Google's answers become [`sheetbridge_core::Error`]s.
//!
//! | Google says | kind | the message tells the user |
//! |---|---|---|
//! | 400 | `InvalidInput` | Google's own message |
//! | 401 (after one token refresh) | `Unauthorized` | to log in again |
//! | 403 | `Unauthorized` | to share the spreadsheet with the account (named when the credential is an e-mail) |
//! | 404 | `NotFound` | the spreadsheet id, and that it may not be shared with the account |
//! | 429, 5xx, dropped connections, after the retries | `RateLimited` / `Retryable` | how many attempts were made |
//!
//! No message ever holds the access token: requests are described by what
//! they do and the spreadsheet id, never by their headers.

use std::time::Duration;

use serde::Deserialize;
use sheetbridge_core::{Error, ErrorKind};

/// Google's error body: `{"error": {"code", "message", "status", "details"}}`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct GoogleError {
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub details: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
struct Envelope {
    error: GoogleError,
}

impl GoogleError {
    /// The error in a response body, or the body's first line when it is not Google's JSON.
    pub fn parse(body: &[u8]) -> GoogleError {
        match serde_json::from_slice::<Envelope>(body) {
            Ok(e) => e.error,
            Err(_) => {
                let text = String::from_utf8_lossy(body);
                let first = text.lines().next().unwrap_or("").trim();
                GoogleError { message: first.chars().take(300).collect(), ..GoogleError::default() }
            }
        }
    }

    /// `RetryInfo.retryDelay` (`"30s"`) among the details, when Google sent one.
    pub fn retry_delay(&self) -> Option<Duration> {
        self.details.iter().find_map(|d| {
            let delay = d.get("retryDelay")?.as_str()?;
            let secs: f64 = delay.strip_suffix('s')?.parse().ok()?;
            (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs))
        })
    }

    /// `403 PERMISSION_DENIED: The caller does not have permission`.
    pub fn describe(&self, code: u16) -> String {
        match (self.status.is_empty(), self.message.is_empty()) {
            (true, true) => format!("HTTP {code}"),
            (true, false) => format!("{code}: {}", self.message),
            (false, true) => format!("{code} {}", self.status),
            (false, false) => format!("{code} {}: {}", self.status, self.message),
        }
    }
}

/// The e-mail address in a credential's key (`client-id:ada@example.com`), if there is one.
pub(crate) fn account_email(key: &str) -> Option<&str> {
    key.split([':', ' ', '|', '/', ',', ';', '<', '>'])
        .rev()
        .find(|part| part.contains('@') && !part.starts_with('@') && !part.ends_with('@'))
}

/// The error for a final (not retried) HTTP status.
pub(crate) fn for_status(code: u16, google: &GoogleError, what: &str, spreadsheet: &str, key: &str) -> Error {
    let said = google.describe(code);
    let on = if spreadsheet.is_empty() { String::new() } else { format!(" of spreadsheet `{spreadsheet}`") };
    let account = match account_email(key) {
        Some(email) => email.to_owned(),
        None => "the Google account sheetbridge uses (`sheetbridge auth status` shows it)".to_owned(),
    };
    match code {
        400 => Error::new(ErrorKind::InvalidInput, format!("Google rejected the {what}{on}: {said}")),
        401 => Error::new(
            ErrorKind::Unauthorized,
            format!(
                "Google did not accept the credentials of {account} for the {what}{on} ({said}); \
                 run `sheetbridge auth login` (or check the service-account key) and try again"
            ),
        ),
        403 => {
            let lower = google.message.to_ascii_lowercase();
            let hint = if lower.contains("scope") {
                "the access token lacks the spreadsheets scope; run `sheetbridge auth login` again".to_owned()
            } else if lower.contains("has not been used") || lower.contains("is disabled") {
                "enable the Google Sheets API for the Cloud project of the credentials".to_owned()
            } else if spreadsheet.is_empty() {
                format!("check that {account} may use Google Sheets")
            } else {
                format!("share the spreadsheet with {account} (Editor to write, Viewer to read)")
            };
            Error::new(ErrorKind::Unauthorized, format!("Google denied the {what}{on} ({said}): {hint}"))
        }
        404 => {
            let thing = if spreadsheet.is_empty() {
                "the resource".to_owned()
            } else {
                format!("spreadsheet `{spreadsheet}`")
            };
            Error::new(
                ErrorKind::NotFound,
                format!(
                    "{thing} was not found ({said}); check the id, and that the spreadsheet is shared with {account}"
                ),
            )
        }
        409 => {
            Error::new(ErrorKind::Conflict, format!("Google refused the {what}{on} as conflicting: {said}"))
        }
        413 => {
            Error::new(ErrorKind::LimitExceeded, format!("the {what}{on} is too large for Google: {said}"))
        }
        _ => Error::new(ErrorKind::Other, format!("the {what}{on} failed: {said}")),
    }
}

/// Whether a status is worth another attempt: rate limits and server faults.
pub(crate) fn is_retryable_status(code: u16, google: &GoogleError) -> bool {
    match code {
        429 | 500 | 502 | 503 | 504 => true,
        // Some Google front ends still answer a rate limit with 403.
        403 => {
            let m = google.message.to_ascii_lowercase();
            google.status == "RESOURCE_EXHAUSTED" || m.contains("rate limit") || m.contains("quota exceeded")
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn google_bodies_are_read() {
        let body = br#"{"error": {"code": 429, "message": "Quota exceeded", "status": "RESOURCE_EXHAUSTED",
            "details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "12s"}]}}"#;
        let g = GoogleError::parse(body);
        assert_eq!(g.status, "RESOURCE_EXHAUSTED");
        assert_eq!(g.retry_delay(), Some(Duration::from_secs(12)));
        assert_eq!(g.describe(429), "429 RESOURCE_EXHAUSTED: Quota exceeded");
        assert_eq!(GoogleError::parse(b"<html>\nbad gateway").message, "<html>");
    }

    #[test]
    fn permission_errors_name_the_account() {
        let g = GoogleError { message: "The caller does not have permission".into(), ..Default::default() };
        let e = for_status(403, &g, "read", "abc", "123.apps.googleusercontent.com:ada@example.com");
        assert_eq!(e.kind(), &ErrorKind::Unauthorized);
        assert!(e.to_string().contains("share the spreadsheet with ada@example.com"), "{e}");
        let e = for_status(403, &g, "read", "abc", "env");
        assert!(e.to_string().contains("sheetbridge auth status"), "{e}");
        let e = for_status(404, &g, "read", "abc", "env");
        assert_eq!(e.kind(), &ErrorKind::NotFound);
        assert!(e.to_string().contains("spreadsheet `abc`"), "{e}");
    }
}
