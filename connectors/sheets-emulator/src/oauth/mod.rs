//! Google's OAuth 2.0 endpoints: the authorization page, the token endpoint
//! (authorization code + PKCE, refresh token, JWT bearer), revocation and
//! token info.

use std::collections::HashMap;

use crate::server::{google_error, HttpRequest, HttpResponse};
use crate::Shared;

/// Who an access token speaks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The user's e-mail, or the service account's.
    pub user: String,
    /// The Cloud project (OAuth client or service account) the request is billed to.
    pub project: String,
    pub scopes: Vec<String>,
}

/// Clients, service accounts, grants and tokens.
#[derive(Debug)]
pub struct Store {
    auto_approve: bool,
    tokens: HashMap<String, Identity>,
    next: u64,
}

impl Store {
    pub fn new(auto_approve: bool) -> Store {
        Store { auto_approve, tokens: HashMap::new(), next: 1 }
    }

    pub fn auto_approve(&self) -> bool {
        self.auto_approve
    }

    /// An access token for `user`, billed to the project `emulator`.
    pub fn issue_token(&mut self, user: &str, scopes: &[&str]) -> String {
        let token = format!("ya29.emulator-{}", self.next);
        self.next += 1;
        self.tokens.insert(
            token.clone(),
            Identity {
                user: user.to_owned(),
                project: "emulator".to_owned(),
                scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
            },
        );
        token
    }

    /// The identity behind a live access token.
    pub fn identity_for(&self, token: &str) -> Option<Identity> {
        self.tokens.get(token).cloned()
    }
}

/// Whether `path` is one of the OAuth endpoints.
pub(crate) fn handles(path: &str) -> bool {
    matches!(path, "/token" | "/revoke" | "/tokeninfo") || path.starts_with("/o/oauth2/")
}

pub(crate) fn handle(_shared: &Shared, _request: &HttpRequest) -> HttpResponse {
    google_error(404, "Not Found")
}

pub(crate) fn admin(_shared: &Shared, _request: &HttpRequest, _rest: &str) -> HttpResponse {
    google_error(404, "Not Found")
}
