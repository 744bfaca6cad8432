//! Google's OAuth 2.0 endpoints: the authorization page, the token endpoint
//! (authorization code + PKCE, refresh token, JWT bearer), revocation and
//! token info.
//!
//! The state lives in [`Store`]: registered OAuth clients (installed or web
//! apps) and service accounts, the grants users gave, pending authorization
//! codes, and live access tokens. Time is the system clock plus an offset a
//! test can move ([`Store::advance_clock`]) so expiry is testable without
//! waiting.

mod form;
mod http;
mod jwt;

use std::collections::HashMap;

use ring::rand::{SecureRandom, SystemRandom};

pub(crate) use http::{admin, handle};

/// How long an access token lives, as Google answers `expires_in`.
pub const ACCESS_TOKEN_SECONDS: i64 = 3599;
/// How long an authorization code can be exchanged.
pub const CODE_SECONDS: i64 = 600;
/// How long a refresh token of an app in "testing" publishing status lives.
pub const TESTING_REFRESH_SECONDS: i64 = 7 * 24 * 3600;
/// The longest a service account's JWT may live (`exp - iat`).
pub const MAX_ASSERTION_SECONDS: i64 = 3600;

/// Who an access token speaks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The user's e-mail, or the service account's.
    pub user: String,
    /// The Cloud project (OAuth client or service account) the request is billed to.
    pub project: String,
    pub scopes: Vec<String>,
}

/// The kind of OAuth client, as the Cloud console creates them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientKind {
    /// "Desktop app": any loopback redirect (`http://127.0.0.1:PORT`, `http://localhost:PORT`).
    Installed,
    /// "Web application": only the registered redirect URIs.
    Web,
}

/// A registered OAuth client.
#[derive(Clone, PartialEq, Eq)]
pub struct Client {
    pub id: String,
    pub secret: String,
    pub kind: ClientKind,
    /// The name the consent page shows.
    pub app_name: String,
    /// The Cloud project its requests are billed to.
    pub project: String,
    /// The app's publishing status is "Testing": refresh tokens expire after 7 days.
    pub testing: bool,
    /// Authorization requests without a `code_challenge` are refused.
    pub require_pkce: bool,
    /// For web clients: the exact redirect URIs allowed.
    pub redirect_uris: Vec<String>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("id", &self.id)
            .field("secret", &"_")
            .field("kind", &self.kind)
            .field("app_name", &self.app_name)
            .field("project", &self.project)
            .field("testing", &self.testing)
            .field("require_pkce", &self.require_pkce)
            .finish()
    }
}

impl Client {
    /// A desktop-app client in production status, billed to the project `emulator`.
    pub fn installed(id: &str, secret: &str) -> Client {
        Client {
            id: id.to_owned(),
            secret: secret.to_owned(),
            kind: ClientKind::Installed,
            app_name: "sheetbridge".to_owned(),
            project: "emulator".to_owned(),
            testing: false,
            require_pkce: false,
            redirect_uris: Vec::new(),
        }
    }
}

/// A registered service account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceAccount {
    pub email: String,
    pub project: String,
    pub key_id: String,
    /// A numeric id, as tokeninfo's `azp`.
    pub unique_id: String,
    /// DER `RSAPublicKey` of its key.
    public_key: Vec<u8>,
}

/// What a user allowed a client to do; its refresh token stands for it.
#[derive(Debug, Clone)]
struct Grant {
    client_id: String,
    user: String,
    scopes: Vec<String>,
    refresh_token: String,
    /// Set for apps in testing status.
    expires_at: Option<i64>,
    revoked: bool,
}

#[derive(Debug, Clone)]
struct Code {
    client_id: String,
    redirect_uri: String,
    scopes: Vec<String>,
    user: String,
    challenge: Option<Challenge>,
    created_at: i64,
    offline: bool,
}

/// A PKCE code challenge (RFC 7636) and whether it is `S256` (else `plain`).
#[derive(Debug, Clone)]
struct Challenge {
    value: String,
    s256: bool,
}

/// An authorization request waiting on the consent page.
#[derive(Debug, Clone)]
struct Pending {
    client_id: String,
    redirect_uri: String,
    scopes: Vec<String>,
    state: Option<String>,
    challenge: Option<Challenge>,
    offline: bool,
    user: String,
}

#[derive(Debug, Clone)]
struct AccessToken {
    identity: Identity,
    /// The client id, or the service account's unique id.
    azp: String,
    expires_at: i64,
    /// The grant it was issued under (none for service accounts).
    grant: Option<usize>,
    offline: bool,
}

/// Clients, service accounts, grants and tokens.
pub struct Store {
    auto_approve: bool,
    login_email: String,
    clients: HashMap<String, Client>,
    service_accounts: HashMap<String, ServiceAccount>,
    grants: Vec<Grant>,
    refresh: HashMap<String, usize>,
    codes: HashMap<String, Code>,
    pending: HashMap<String, Pending>,
    tokens: HashMap<String, AccessToken>,
    clock_offset: i64,
    next: u64,
    rng: SystemRandom,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("auto_approve", &self.auto_approve)
            .field("login_email", &self.login_email)
            .field("clients", &self.clients.len())
            .field("service_accounts", &self.service_accounts.len())
            .field("grants", &self.grants.len())
            .field("tokens", &self.tokens.len())
            .field("clock_offset", &self.clock_offset)
            .finish()
    }
}

/// The result of a token request: Google's JSON and status.
pub(crate) type TokenResult = Result<serde_json::Value, (u16, &'static str, String)>;

impl Store {
    pub fn new(auto_approve: bool) -> Store {
        Store {
            auto_approve,
            login_email: "user@example.com".to_owned(),
            clients: HashMap::new(),
            service_accounts: HashMap::new(),
            grants: Vec::new(),
            refresh: HashMap::new(),
            codes: HashMap::new(),
            pending: HashMap::new(),
            tokens: HashMap::new(),
            clock_offset: 0,
            next: 1,
            rng: SystemRandom::new(),
        }
    }

    pub fn auto_approve(&self) -> bool {
        self.auto_approve
    }

    /// Whether the authorization page approves at once (else it shows the consent page).
    pub fn set_auto_approve(&mut self, on: bool) {
        self.auto_approve = on;
    }

    /// The e-mail of the user who "logs in" on the authorization page.
    pub fn set_login_email(&mut self, email: &str) {
        self.login_email = email.to_owned();
    }

    pub fn login_email(&self) -> &str {
        &self.login_email
    }

    pub fn register_client(&mut self, client: Client) {
        self.clients.insert(client.id.clone(), client);
    }

    pub fn client(&self, id: &str) -> Option<&Client> {
        self.clients.get(id)
    }

    /// Registers the service account of a Google key file (`"type": "service_account"`);
    /// its public key is derived from `private_key`. Returns its e-mail.
    pub fn register_service_account(&mut self, key_json: &str) -> Result<String, String> {
        let key: serde_json::Value =
            serde_json::from_str(key_json).map_err(|e| format!("the key is not JSON ({e})"))?;
        let field = |name: &str| -> Result<String, String> {
            key.get(name)
                .and_then(|v| v.as_str())
                .map(str::to_owned)
                .ok_or_else(|| format!("the key has no `{name}`"))
        };
        let email = field("client_email")?;
        let public_key = jwt::public_key_of(&field("private_key")?)?;
        let unique_id = match field("client_id") {
            Ok(id) => id,
            Err(_) => format!("1{:020}", self.next),
        };
        self.next += 1;
        let account = ServiceAccount {
            email: email.clone(),
            project: field("project_id").unwrap_or_else(|_| "emulator".to_owned()),
            key_id: field("private_key_id").unwrap_or_default(),
            unique_id,
            public_key,
        };
        self.service_accounts.insert(email.clone(), account);
        Ok(email)
    }

    pub fn service_account(&self, email: &str) -> Option<&ServiceAccount> {
        self.service_accounts.get(email)
    }

    /// An access token for `user`, billed to the project `emulator`.
    pub fn issue_token(&mut self, user: &str, scopes: &[&str]) -> String {
        let token = format!("ya29.emulator-{}", self.next);
        self.next += 1;
        let identity = Identity {
            user: user.to_owned(),
            project: "emulator".to_owned(),
            scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
        };
        let expires_at = self.now() + ACCESS_TOKEN_SECONDS;
        self.tokens.insert(
            token.clone(),
            AccessToken { identity, azp: "emulator".to_owned(), expires_at, grant: None, offline: false },
        );
        token
    }

    /// The identity behind a live access token (not expired, its grant not revoked).
    pub fn identity_for(&self, token: &str) -> Option<Identity> {
        self.live(token).map(|t| t.identity.clone())
    }

    fn live(&self, token: &str) -> Option<&AccessToken> {
        let t = self.tokens.get(token)?;
        if t.expires_at <= self.now() {
            return None;
        }
        if let Some(g) = t.grant {
            if self.grants.get(g).is_none_or(|g| g.revoked) {
                return None;
            }
        }
        Some(t)
    }

    /// The emulator's time, in Unix seconds: the system clock plus the offset.
    pub fn now(&self) -> i64 {
        chrono::Utc::now().timestamp() + self.clock_offset
    }

    /// Moves the emulator's clock (codes, access and refresh tokens expire by it).
    pub fn advance_clock(&mut self, seconds: i64) {
        self.clock_offset += seconds;
    }

    /// Every access token issued so far expires now (refresh tokens stay).
    pub fn expire_access_tokens(&mut self) {
        let now = self.now();
        for t in self.tokens.values_mut() {
            t.expires_at = t.expires_at.min(now);
        }
    }

    /// Revokes every grant `user` gave (as if they removed the app's access
    /// in their Google account). Returns how many were live.
    pub fn revoke_grants_of(&mut self, user: &str) -> usize {
        let mut n = 0;
        for g in self.grants.iter_mut().filter(|g| g.user == user && !g.revoked) {
            g.revoked = true;
            n += 1;
        }
        n
    }

    /// Revokes what `token` stands for, as `POST /revoke` does: a refresh
    /// token's grant with all its access tokens, or an access token (with its
    /// grant, as Google does). False when the token is unknown or dead.
    pub fn revoke(&mut self, token: &str) -> bool {
        if let Some(&g) = self.refresh.get(token) {
            let grant = &mut self.grants[g];
            if grant.revoked {
                return false;
            }
            grant.revoked = true;
            return true;
        }
        let Some(grant) = self.live(token).map(|t| t.grant) else { return false };
        self.tokens.remove(token);
        if let Some(g) = grant {
            self.grants[g].revoked = true;
        }
        true
    }

    /// Live grants (not revoked, not expired): `(client id, user, refresh token)`.
    pub fn live_grants(&self) -> Vec<(String, String, String)> {
        let now = self.now();
        self.grants
            .iter()
            .filter(|g| !g.revoked && g.expires_at.is_none_or(|at| at > now))
            .map(|g| (g.client_id.clone(), g.user.clone(), g.refresh_token.clone()))
            .collect()
    }

    fn random(&mut self, prefix: &str, bytes: usize) -> String {
        use base64::Engine;
        let mut buf = vec![0u8; bytes];
        // SystemRandom fails only when the OS has no entropy source; a counter keeps tokens unique then.
        if self.rng.fill(&mut buf).is_err() {
            buf = self.next.to_be_bytes().to_vec();
            self.next += 1;
        }
        format!("{prefix}{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf))
    }

    fn access_token(
        &mut self,
        identity: Identity,
        azp: String,
        grant: Option<usize>,
        offline: bool,
    ) -> String {
        let token = self.random("ya29.a0", 48);
        let expires_at = self.now() + ACCESS_TOKEN_SECONDS;
        self.tokens.insert(token.clone(), AccessToken { identity, azp, expires_at, grant, offline });
        token
    }

    fn new_code(&mut self, pending: &Pending) -> String {
        let code = self.random("4/0A", 40);
        self.codes.insert(
            code.clone(),
            Code {
                client_id: pending.client_id.clone(),
                redirect_uri: pending.redirect_uri.clone(),
                scopes: pending.scopes.clone(),
                user: pending.user.clone(),
                challenge: pending.challenge.clone(),
                created_at: self.now(),
                offline: pending.offline,
            },
        );
        code
    }

    fn client_auth(
        &self,
        id: Option<&str>,
        secret: Option<&str>,
    ) -> Result<&Client, (u16, &'static str, String)> {
        let id = id.ok_or((400, "invalid_request", "Missing required parameter: client_id".to_owned()))?;
        let client =
            self.clients.get(id).ok_or((401, "invalid_client", "The OAuth client was not found.".into()))?;
        if secret != Some(client.secret.as_str()) {
            return Err((401, "invalid_client", "Unauthorized".into()));
        }
        Ok(client)
    }

    /// `grant_type=authorization_code`.
    pub(crate) fn exchange_code(
        &mut self,
        client_id: Option<&str>,
        secret: Option<&str>,
        code: Option<&str>,
        redirect_uri: Option<&str>,
        verifier: Option<&str>,
    ) -> TokenResult {
        let client = self.client_auth(client_id, secret)?.clone();
        let code = code.ok_or((400, "invalid_request", "Missing required parameter: code".to_owned()))?;
        let bad = || (400, "invalid_grant", "Bad Request".to_owned());
        // A code is single-use: taken out whatever happens next.
        let issued = self.codes.remove(code).ok_or_else(bad)?;
        if issued.client_id != client.id {
            return Err((401, "unauthorized_client", "Unauthorized".into()));
        }
        if self.now() - issued.created_at > CODE_SECONDS {
            return Err(bad());
        }
        if redirect_uri != Some(issued.redirect_uri.as_str()) {
            return Err((400, "redirect_uri_mismatch", "Bad Request".into()));
        }
        if let Some(challenge) = &issued.challenge {
            let verifier = verifier.ok_or((400, "invalid_grant", "Missing code verifier.".to_owned()))?;
            let derived = if challenge.s256 { s256(verifier) } else { verifier.to_owned() };
            if derived != challenge.value {
                return Err((400, "invalid_grant", "Invalid code verifier.".into()));
            }
        }
        let now = self.now();
        let refresh_token = self.random("1//0", 64);
        let expires_at = client.testing.then_some(now + TESTING_REFRESH_SECONDS);
        self.grants.push(Grant {
            client_id: client.id.clone(),
            user: issued.user.clone(),
            scopes: issued.scopes.clone(),
            refresh_token: refresh_token.clone(),
            expires_at,
            revoked: false,
        });
        let g = self.grants.len() - 1;
        self.refresh.insert(refresh_token.clone(), g);
        let identity = Identity { user: issued.user, project: client.project.clone(), scopes: issued.scopes };
        let scope = identity.scopes.join(" ");
        let offline = issued.offline || client.kind == ClientKind::Installed;
        let access = self.access_token(identity, client.id.clone(), Some(g), offline);
        let mut body = serde_json::json!({
            "access_token": access,
            "expires_in": ACCESS_TOKEN_SECONDS,
            "scope": scope,
            "token_type": "Bearer",
        });
        if offline {
            body["refresh_token"] = refresh_token.into();
            if let Some(at) = expires_at {
                body["refresh_token_expires_in"] = (at - now).into();
            }
        }
        Ok(body)
    }

    /// `grant_type=refresh_token`.
    pub(crate) fn refresh(
        &mut self,
        client_id: Option<&str>,
        secret: Option<&str>,
        refresh_token: Option<&str>,
    ) -> TokenResult {
        let client = self.client_auth(client_id, secret)?.clone();
        let token = refresh_token.ok_or((
            400,
            "invalid_request",
            "Missing required parameter: refresh_token".to_owned(),
        ))?;
        let g = *self.refresh.get(token).ok_or((400, "invalid_grant", "Bad Request".to_owned()))?;
        let grant = self.grants[g].clone();
        if grant.client_id != client.id {
            return Err((401, "unauthorized_client", "Unauthorized".into()));
        }
        let now = self.now();
        if grant.revoked || grant.expires_at.is_some_and(|at| at <= now) {
            return Err((400, "invalid_grant", "Token has been expired or revoked.".into()));
        }
        let identity = Identity { user: grant.user, project: client.project.clone(), scopes: grant.scopes };
        let scope = identity.scopes.join(" ");
        let access = self.access_token(identity, client.id.clone(), Some(g), true);
        let mut body = serde_json::json!({
            "access_token": access,
            "expires_in": ACCESS_TOKEN_SECONDS,
            "scope": scope,
            "token_type": "Bearer",
        });
        if let Some(at) = grant.expires_at {
            body["refresh_token_expires_in"] = (at - now).into();
        }
        Ok(body)
    }

    /// `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer` (RFC 7523),
    /// `aud` checked against `token_urls` (the URLs this server answers as).
    pub(crate) fn jwt_bearer(&mut self, assertion: Option<&str>, token_urls: &[String]) -> TokenResult {
        let invalid = |text: &str| (400, "invalid_grant", text.to_owned());
        let assertion =
            assertion.ok_or((400, "invalid_request", "Missing required parameter: assertion".to_owned()))?;
        let peeked = jwt::peek(assertion).map_err(|e| match e {
            jwt::Refused::Malformed(text) => invalid(&text),
            jwt::Refused::Signature => invalid("Invalid JWT Signature."),
        })?;
        let iss = peeked.claims.get("iss").and_then(|v| v.as_str()).unwrap_or_default();
        let account = self
            .service_accounts
            .get(iss)
            .cloned()
            .ok_or_else(|| invalid("Invalid grant: account not found"))?;
        if let Some(kid) = peeked.header.get("kid").and_then(|v| v.as_str()) {
            if !account.key_id.is_empty() && kid != account.key_id {
                return Err(invalid("Invalid JWT Signature."));
            }
        }
        let verified = jwt::verify(assertion, &account.public_key).map_err(|e| match e {
            jwt::Refused::Malformed(text) => invalid(&text),
            jwt::Refused::Signature => invalid("Invalid JWT Signature."),
        })?;
        let claims = verified.claims;
        let aud = claims.get("aud").and_then(|v| v.as_str()).unwrap_or_default();
        if !token_urls.iter().any(|u| u == aud) {
            let right = token_urls.first().map(String::as_str).unwrap_or_default();
            return Err(invalid(&format!(
                "Invalid JWT: Failed audience check. The right audience is {right}"
            )));
        }
        let now = self.now();
        let iat = claims.get("iat").and_then(|v| v.as_i64());
        let exp = claims.get("exp").and_then(|v| v.as_i64());
        let sane = match (iat, exp) {
            (Some(iat), Some(exp)) => {
                exp > iat && exp - iat <= MAX_ASSERTION_SECONDS && iat <= now + 300 && exp > now - 300
            }
            _ => false,
        };
        if !sane {
            return Err(invalid(
                "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. \
                 Check your iat and exp values in the JWT claim.",
            ));
        }
        let scopes: Vec<String> = claims
            .get("scope")
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .split_whitespace()
            .map(str::to_owned)
            .collect();
        if scopes.is_empty() {
            return Err((400, "invalid_scope", "Invalid OAuth scope or ID token audience provided.".into()));
        }
        let identity = Identity { user: account.email.clone(), project: account.project.clone(), scopes };
        let access = self.access_token(identity, account.unique_id.clone(), None, false);
        Ok(serde_json::json!({
            "access_token": access,
            "expires_in": ACCESS_TOKEN_SECONDS,
            "token_type": "Bearer",
        }))
    }

    /// tokeninfo's answer for a live access token. As at Google, `email` and
    /// `email_verified` are there only when the token carries the `email`
    /// (or `userinfo.email`) scope: a token for the spreadsheets scope alone
    /// does not say whose it is.
    pub(crate) fn token_info(&self, token: &str) -> Option<serde_json::Value> {
        let t = self.live(token)?;
        let exp = t.expires_at;
        let mut info = serde_json::json!({
            "azp": t.azp,
            "aud": t.azp,
            "scope": t.identity.scopes.join(" "),
            "exp": exp.to_string(),
            "expires_in": (exp - self.now()).to_string(),
        });
        let email_scope = |s: &String| s == "email" || s == "https://www.googleapis.com/auth/userinfo.email";
        if t.identity.scopes.iter().any(email_scope) {
            info["email"] = t.identity.user.clone().into();
            info["email_verified"] = "true".into();
        }
        info["access_type"] = (if t.offline { "offline" } else { "online" }).into();
        Some(info)
    }
}

/// `BASE64URL(SHA256(verifier))`, the S256 code challenge of RFC 7636.
pub(crate) fn s256(verifier: &str) -> String {
    use base64::Engine;
    let digest = ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest.as_ref())
}

/// Whether `path` is one of the OAuth endpoints.
pub(crate) fn handles(path: &str) -> bool {
    matches!(path, "/token" | "/revoke" | "/tokeninfo") || path.starts_with("/o/oauth2/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_s256_challenge_of_rfc_7636_appendix_b() {
        assert_eq!(
            s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }
}
