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
