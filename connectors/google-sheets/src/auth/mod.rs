//! Google credentials and access tokens.
//!
//! A [`TokenSource`] hands out access tokens for one credential (a stored
//! refresh token, a service-account key, or a fixed token from the
//! environment), refreshing them before they expire. Clones share the cache.
//!
//! [`Credentials`] are Google's own JSON shapes (`authorized_user`,
//! `service_account`), found by [`discover`] in the environment, a mounted
//! file or the token file `sheetbridge auth login` writes; [`login`] runs the
//! installed-app flow (loopback redirect + PKCE) that makes one.

mod credentials;
mod google;
mod jwt;
pub mod login;
mod secret;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sheetbridge_core::{Error, ErrorKind};

pub use credentials::{
    default_token_file, delete_token_file, discover, read_token_file, token_file_path, write_token_file,
    AuthorizedUser, CredentialSource, Credentials, ServiceAccountKey, CREDENTIALS_ENV, CREDENTIALS_FILE_ENV,
    TESTING_REFRESH_LIFETIME, TOKEN_FILE_ENV,
};
pub use google::{TokenInfo, TokenRetry};
pub use secret::Secret;

use crate::config::Endpoints;
use google::{Failure, OAuthHttp};

/// How long before its expiry an access token is replaced.
pub const REFRESH_MARGIN: Duration = Duration::from_secs(60);

/// Access tokens for one credential. Cheap to clone; clones share the cache.
#[derive(Clone)]
pub struct TokenSource {
    inner: Arc<Inner>,
}

struct Inner {
    key: String,
    kind: Kind,
    /// The token endpoint (also the JWT's audience).
    token_url: String,
    endpoints: Endpoints,
    http: Option<OAuthHttp>,
    margin: Duration,
    /// The live token; the lock is held across a refresh, so concurrent
    /// callers wait for that one refresh instead of starting their own.
    cache: tokio::sync::Mutex<State>,
    /// Refreshes finished, successful or not.
    refreshes: AtomicU64,
}

#[derive(Default)]
struct State {
    token: Option<Cached>,
    /// The last refresh's failure and its number in `refreshes`: callers that
    /// waited for that refresh get its error instead of trying again each.
    failure: Option<(u64, ErrorKind, String)>,
}

enum Kind {
    Fixed(Secret),
    User(AuthorizedUser),
    Service(jwt::Signer),
}

struct Cached {
    token: Secret,
    expires_at: Instant,
}

impl std::fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSource").field("key", &self.inner.key).field("token", &"_").finish()
    }
}

impl TokenSource {
    /// A token that is used as it is and never refreshed (tests, short scripts).
    pub fn fixed(key: impl Into<String>, token: impl Into<String>) -> TokenSource {
        TokenSource {
            inner: Arc::new(Inner {
                key: key.into(),
                kind: Kind::Fixed(Secret::new(token)),
                token_url: String::new(),
                endpoints: Endpoints::google(),
                http: None,
                margin: REFRESH_MARGIN,
                cache: tokio::sync::Mutex::new(State::default()),
                refreshes: AtomicU64::new(0),
            }),
        }
    }

    /// Tokens for `credentials` from `endpoints.token`. A service account's
    /// key is parsed here, so a damaged key fails now, not at the first call.
    pub fn from_credentials(credentials: Credentials, endpoints: &Endpoints) -> Result<TokenSource, Error> {
        let (key, kind) = match credentials {
            Credentials::AuthorizedUser(user) => {
                let who = match &user.account {
                    Some(account) => account.clone(),
                    None => format!("refresh-{}", fingerprint(user.refresh_token.expose())),
                };
                (format!("{}:{who}", user.client_id), Kind::User(user))
            }
            Credentials::ServiceAccount(key) => {
                let signer = jwt::Signer::new(&key)?;
                (key.client_email.clone(), Kind::Service(signer))
            }
        };
        Ok(TokenSource {
            inner: Arc::new(Inner {
                key,
                kind,
                token_url: endpoints.token.clone(),
                endpoints: endpoints.clone(),
                http: Some(OAuthHttp::new()?),
                margin: REFRESH_MARGIN,
                cache: tokio::sync::Mutex::new(State::default()),
                refreshes: AtomicU64::new(0),
            }),
        })
    }

    /// The credential [`discover`] finds, with where it was found; an
    /// Unauthorized error telling how to log in when there is none.
    pub fn discover(
        endpoints: &Endpoints,
        credentials_file: Option<&std::path::Path>,
        token_file: Option<&std::path::Path>,
    ) -> Result<(TokenSource, CredentialSource), Error> {
        match discover(credentials_file, token_file)? {
            Some((credentials, source)) => {
                Ok((TokenSource::from_credentials(credentials, endpoints)?, source))
            }
            None => {
                let path = token_file_path(token_file)?;
                Err(Error::new(
                    ErrorKind::Unauthorized,
                    format!(
                        "no Google credential: the token file `{}` does not exist and neither {CREDENTIALS_ENV} \
                         nor {CREDENTIALS_FILE_ENV} is set; run `sheetbridge auth login` (or \
                         `sheetbridge auth service-account --key KEY.json`)",
                        path.display()
                    ),
                ))
            }
        }
    }

    /// Changes how token-endpoint calls are retried (before the source is cloned).
    pub fn with_retry(mut self, retry: TokenRetry) -> TokenSource {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            if let Some(http) = &mut inner.http {
                http.retry = retry;
            }
        }
        self
    }

    /// Changes how long before expiry a token is replaced (default [`REFRESH_MARGIN`]).
    pub fn with_refresh_margin(mut self, margin: Duration) -> TokenSource {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.margin = margin;
        }
        self
    }

    /// What identifies the credential (client id + user, or service account e-mail);
    /// requests made with the same key share one quota bucket.
    pub fn key(&self) -> &str {
        &self.inner.key
    }

    /// The service account's e-mail, for a source made from a key.
    pub fn service_account(&self) -> Option<&str> {
        match &self.inner.kind {
            Kind::Service(signer) => Some(&signer.email),
            _ => None,
        }
    }

    /// A live access token, refreshed first when it expires within a minute.
    pub async fn token(&self) -> Result<String, Error> {
        let inner = &*self.inner;
        if let Kind::Fixed(token) = &inner.kind {
            return Ok(token.expose().to_owned());
        }
        let seen = inner.refreshes.load(Ordering::Acquire);
        let mut state = inner.cache.lock().await;
        if let Some(cached) = &state.token {
            if cached.expires_at.saturating_duration_since(Instant::now()) > inner.margin {
                return Ok(cached.token.expose().to_owned());
            }
        }
        if let Some((n, kind, message)) = &state.failure {
            if *n > seen {
                // The refresh this caller waited for failed: its answer holds for this caller too.
                return Err(Error::new(kind.clone(), message.clone()));
            }
        }
        let result = self.fetch().await;
        let n = inner.refreshes.fetch_add(1, Ordering::AcqRel) + 1;
        match result {
            Ok(fresh) => {
                let token = fresh.token.expose().to_owned();
                *state = State { token: Some(fresh), failure: None };
                Ok(token)
            }
            Err(e) => {
                state.failure = Some((n, e.kind().clone(), e.to_string()));
                Err(e)
            }
        }
    }

    /// Forgets `token` when it is the cached one, so the next [`TokenSource::token`]
    /// gets a new one (after Google refused it with 401 before its time).
    pub async fn invalidate(&self, token: &str) {
        let mut state = self.inner.cache.lock().await;
        if state.token.as_ref().is_some_and(|c| c.token.expose() == token) {
            state.token = None;
        }
    }

    /// What tokeninfo says about a live token of this credential.
    pub async fn info(&self) -> Result<TokenInfo, Error> {
        let token = Secret::new(self.token().await?);
        let http = match &self.inner.http {
            Some(http) => http.clone(),
            None => OAuthHttp::new()?,
        };
        http.token_info(&self.inner.endpoints, &token).await
    }

    async fn fetch(&self) -> Result<Cached, Error> {
        let inner = &*self.inner;
        let Some(http) = &inner.http else {
            return Err(Error::new(ErrorKind::Other, "a fixed token cannot be refreshed"));
        };
        let url = &inner.token_url;
        let started = Instant::now();
        let result = match &inner.kind {
            Kind::Fixed(_) => return Err(Error::new(ErrorKind::Other, "a fixed token cannot be refreshed")),
            Kind::User(user) => {
                let form = [
                    ("grant_type", "refresh_token"),
                    ("refresh_token", user.refresh_token.expose()),
                    ("client_id", user.client_id.as_str()),
                    ("client_secret", user.client_secret.expose()),
                ];
                http.token(url, &form).await.map_err(|f| user_failure(f, user, url))
            }
            Kind::Service(signer) => {
                let assertion = signer.assertion(url, chrono::Utc::now().timestamp())?;
                let form = [
                    ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
                    ("assertion", assertion.expose()),
                ];
                http.token(url, &form).await.map_err(|f| service_failure(f, signer, url))
            }
        };
        let response = result?;
        let lifetime = Duration::from_secs(response.expires_in.unwrap_or(3599));
        tracing::debug!(key = %inner.key, expires_in = lifetime.as_secs(), "got a Google access token");
        Ok(Cached { token: response.access_token, expires_at: started + lifetime })
    }
}

/// A short, stable, non-reversible name for a secret (the quota key of a user with no known e-mail).
fn fingerprint(secret: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, secret.as_bytes());
    digest.as_ref()[..6].iter().map(|b| format!("{b:02x}")).collect()
}

fn user_failure(failure: Failure, user: &AuthorizedUser, url: &str) -> Error {
    let refusal = match failure {
        Failure::Failed(e) => return e,
        Failure::Refused(r) => r,
    };
    let who = user.account.as_deref().map(|a| format!(" of {a}")).unwrap_or_default();
    let message = match refusal.error.as_str() {
        "invalid_grant" => format!(
            "Google refused the stored grant{who} ({refusal}): it was revoked or has expired \
             (revoked in the Google account, unused for six months, a password change, or the 7-day \
             limit of an app in testing); run `sheetbridge auth login` again"
        ),
        "invalid_client" | "unauthorized_client" => format!(
            "Google refused the OAuth client {} ({refusal}): the client was deleted or its secret \
             changed; run `sheetbridge auth login` with the app's current client_secret.json",
            user.client_id
        ),
        _ => format!("the Google token endpoint {url} refused to refresh the grant{who} ({refusal})"),
    };
    Error::new(ErrorKind::Unauthorized, message)
}

fn service_failure(failure: Failure, signer: &jwt::Signer, url: &str) -> Error {
    let refusal = match failure {
        Failure::Failed(e) => return e,
        Failure::Refused(r) => r,
    };
    let key_id = if signer.key_id.is_empty() { String::new() } else { format!(" (key {})", signer.key_id) };
    let message = match refusal.error.as_str() {
        "invalid_grant" => format!(
            "Google refused the key of the service account {}{key_id} ({refusal}): the key or the \
             account was deleted or disabled, or this machine's clock is off; create a key and run \
             `sheetbridge auth service-account --key KEY.json`",
            signer.email
        ),
        _ => format!(
            "the Google token endpoint {url} refused the service account {}{key_id} ({refusal})",
            signer.email
        ),
    };
    Error::new(ErrorKind::Unauthorized, message)
}

/// Revokes `token` at Google (a refresh token revokes its grant and every
/// access token of it). `Ok(false)` when it was already expired or revoked.
pub async fn revoke(endpoints: &Endpoints, token: &Secret) -> Result<bool, Error> {
    OAuthHttp::new()?.revoke(endpoints, token).await
}

/// What Google's tokeninfo says about an access token.
pub async fn token_info(endpoints: &Endpoints, access_token: &Secret) -> Result<TokenInfo, Error> {
    OAuthHttp::new()?.token_info(endpoints, access_token).await
}
