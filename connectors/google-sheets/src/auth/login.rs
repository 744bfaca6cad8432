//! The installed-app flow: a loopback redirect on 127.0.0.1 and PKCE (RFC 8252, RFC 7636).
//!
//! [`start`] binds a free port and builds the authorization URL; the caller
//! shows it (and may open a browser); [`PendingLogin::finish`] waits for the
//! browser's redirect, checks its `state`, exchanges the code with the
//! verifier, and returns the [`AuthorizedUser`] to store.
//!
//! ```no_run
//! # async fn f() -> Result<(), sheetbridge_core::Error> {
//! use sheetbridge_google_sheets::auth::login::{self, OAuthClient};
//! use sheetbridge_google_sheets::Endpoints;
//! let client = OAuthClient::from_file(std::path::Path::new("client_secret.json"))?;
//! let pending = login::start(client, &Endpoints::google(), None).await?;
//! eprintln!("Open {}", pending.url());
//! let user = pending.finish(std::time::Duration::from_secs(300)).await?;
//! # let _ = user; Ok(()) }
//! ```

use std::path::Path;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ring::rand::SecureRandom;
use sheetbridge_core::{Error, ErrorKind};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::google::{Failure, OAuthHttp};
use super::{AuthorizedUser, Secret};
use crate::config::{Endpoints, SCOPE};

/// An OAuth client (a "Desktop app" made in the Cloud console).
#[derive(Clone, Debug)]
pub struct OAuthClient {
    pub client_id: String,
    pub client_secret: Secret,
}

impl OAuthClient {
    /// The `installed` (or `web`) client of a downloaded `client_secret.json`;
    /// `what` names the input in errors.
    pub fn from_json(text: &str, what: &str) -> Result<OAuthClient, Error> {
        let bad = |why: &str| Error::new(ErrorKind::InvalidInput, format!("{what} {why}"));
        let json: serde_json::Value = serde_json::from_str(text).map_err(|_| bad("is not JSON"))?;
        let client = json.get("installed").or_else(|| json.get("web")).ok_or_else(|| {
            bad("has no `installed` (or `web`) client; download the JSON of a Desktop app client")
        })?;
        let field = |name: &str| client.get(name).and_then(|v| v.as_str()).filter(|v| !v.is_empty());
        Ok(OAuthClient {
            client_id: field("client_id").ok_or_else(|| bad("has no `client_id`"))?.to_owned(),
            client_secret: Secret::new(field("client_secret").ok_or_else(|| bad("has no `client_secret`"))?),
        })
    }

    pub fn from_file(path: &Path) -> Result<OAuthClient, Error> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::new(
                ErrorKind::InvalidInput,
                format!("cannot read the client secret file `{}`: {e}", path.display()),
            )
        })?;
        OAuthClient::from_json(&text, &format!("the client secret file `{}`", path.display()))
    }
}

/// A login waiting for the browser.
pub struct PendingLogin {
    listener: TcpListener,
    url: String,
    redirect_uri: String,
    state: Secret,
    verifier: Secret,
    client: OAuthClient,
    endpoints: Endpoints,
    http: OAuthHttp,
}

impl std::fmt::Debug for PendingLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingLogin").field("redirect_uri", &self.redirect_uri).finish_non_exhaustive()
    }
}

fn random(rng: &ring::rand::SystemRandom, bytes: usize) -> Result<String, Error> {
    let mut buf = vec![0u8; bytes];
    rng.fill(&mut buf).map_err(|_| Error::new(ErrorKind::Other, "the system's random source failed"))?;
    Ok(URL_SAFE_NO_PAD.encode(buf))
}

/// `BASE64URL(SHA256(verifier))`.
fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes()).as_ref())
}

/// Listens on a free port of 127.0.0.1 and builds the authorization URL
/// (the spreadsheets scope, offline access, PKCE S256, a random state).
pub async fn start(
    client: OAuthClient,
    endpoints: &Endpoints,
    login_hint: Option<&str>,
) -> Result<PendingLogin, Error> {
    let listener = TcpListener::bind(("127.0.0.1", 0)).await.map_err(|e| {
        Error::new(ErrorKind::Other, format!("cannot listen on 127.0.0.1 for the browser's redirect: {e}"))
    })?;
    let port = listener
        .local_addr()
        .map_err(|e| Error::new(ErrorKind::Other, format!("cannot read the loopback listener's port: {e}")))?
        .port();
    let redirect_uri = format!("http://127.0.0.1:{port}");
    let rng = ring::rand::SystemRandom::new();
    // 32 random bytes make a 43-character verifier, the least RFC 7636 allows, with 256 bits of entropy.
    let verifier = Secret::new(random(&rng, 32)?);
    let state = Secret::new(random(&rng, 24)?);
    let mut url = url::Url::parse(&endpoints.authorize).map_err(|e| {
        Error::new(
            ErrorKind::InvalidInput,
            format!("the authorization endpoint `{}` is not a URL: {e}", endpoints.authorize),
        )
    })?;
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("client_id", &client.client_id)
            .append_pair("redirect_uri", &redirect_uri)
            .append_pair("response_type", "code")
            .append_pair("scope", SCOPE)
            .append_pair("state", state.expose())
            .append_pair("code_challenge", &challenge(verifier.expose()))
            .append_pair("code_challenge_method", "S256")
            .append_pair("access_type", "offline")
            .append_pair("prompt", "consent");
        if let Some(hint) = login_hint {
            q.append_pair("login_hint", hint);
        }
    }
    Ok(PendingLogin {
        listener,
        url: url.into(),
        redirect_uri,
        state,
        verifier,
        client,
        endpoints: endpoints.clone(),
        http: OAuthHttp::new()?,
    })
}

/// What the browser's redirect carried.
enum Redirect {
    Code(String),
    Refused(String),
}

impl PendingLogin {
    /// The URL to open in a browser.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// `http://127.0.0.1:PORT`, where the browser comes back.
    pub fn redirect_uri(&self) -> &str {
        &self.redirect_uri
    }

    /// Waits up to `timeout` for the redirect, then exchanges the code.
    pub async fn finish(self, timeout: Duration) -> Result<AuthorizedUser, Error> {
        let (code, stream) = match tokio::time::timeout(timeout, self.wait()).await {
            Err(_) => {
                return Err(Error::new(
                    ErrorKind::Unauthorized,
                    format!(
                    "no answer from the browser within {}: the login was abandoned and nothing was stored; \
                         run `sheetbridge auth login` again (--timeout SECS gives more time)",
                    human_duration(timeout)
                ),
                ))
            }
            Ok(result) => result?,
        };
        let mut stream = stream;
        let result = self.exchange(&code).await;
        let page = match &result {
            Ok(_) => page("sheetbridge is signed in", "You can close this tab and return to the terminal."),
            Err(e) => page("sheetbridge could not sign in", &e.to_string()),
        };
        respond(&mut stream, if result.is_ok() { 200 } else { 400 }, &page).await;
        result
    }

    /// Accepts connections until one brings the redirect; answers the others.
    /// Each connection is read on its own task, so a browser's speculative
    /// connection that sends nothing does not hold up the one that matters.
    async fn wait(&self) -> Result<(String, TcpStream), Error> {
        let (send, mut requests) = tokio::sync::mpsc::channel::<(String, TcpStream)>(8);
        loop {
            let (target, mut stream) = tokio::select! {
                accepted = self.listener.accept() => {
                    if let Ok((mut stream, _)) = accepted {
                        let send = send.clone();
                        tokio::spawn(async move {
                            if let Some(target) = read_target(&mut stream).await {
                                let _ = send.send((target, stream)).await;
                            }
                        });
                    }
                    continue;
                }
                Some(request) = requests.recv() => request,
            };
            let (path, query) = target.split_once('?').unwrap_or((&target, ""));
            let params: std::collections::HashMap<String, String> =
                url::form_urlencoded::parse(query.as_bytes()).into_owned().collect();
            if path != "/" || !["state", "code", "error"].iter().any(|k| params.contains_key(*k)) {
                let text = "This is sheetbridge's login listener; it waits for Google's redirect.";
                respond(&mut stream, 404, &page("Not found", text)).await;
                continue;
            }
            if params.get("state").map(String::as_str) != Some(self.state.expose()) {
                let message = "the browser came back with a `state` that is not this login's (an old tab, \
                               or a request this login did not make); nothing was stored; run \
                               `sheetbridge auth login` again";
                respond(&mut stream, 400, &page("sheetbridge could not sign in", message)).await;
                return Err(Error::new(ErrorKind::Unauthorized, message));
            }
            match redirect(&params) {
                Redirect::Code(code) => return Ok((code, stream)),
                Redirect::Refused(error) => {
                    let message = if error == "access_denied" {
                        "access was denied in the browser (error=access_denied); nothing was stored"
                            .to_owned()
                    } else {
                        format!(
                            "Google refused the authorization request (error={error}); nothing was stored"
                        )
                    };
                    respond(&mut stream, 400, &page("sheetbridge was not signed in", &message)).await;
                    return Err(Error::new(ErrorKind::Unauthorized, message));
                }
            }
        }
    }

    async fn exchange(&self, code: &str) -> Result<AuthorizedUser, Error> {
        let url = &self.endpoints.token;
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code),
            ("client_id", self.client.client_id.as_str()),
            ("client_secret", self.client.client_secret.expose()),
            ("redirect_uri", self.redirect_uri.as_str()),
            ("code_verifier", self.verifier.expose()),
        ];
        let issued_at = chrono::Utc::now();
        let response = self.http.token(url, &form).await.map_err(|f| match f {
            Failure::Failed(e) => e,
            Failure::Refused(r) => Error::new(
                ErrorKind::Unauthorized,
                format!(
                    "the Google token endpoint {url} refused the authorization code ({r}); nothing was stored; \
                     run `sheetbridge auth login` again"
                ),
            ),
        })?;
        let Some(refresh_token) = response.refresh_token else {
            return Err(Error::new(
                ErrorKind::Unauthorized,
                format!("the Google token endpoint {url} gave no refresh token; nothing was stored"),
            ));
        };
        let granted: Vec<&str> = response.scope.as_deref().unwrap_or(SCOPE).split_whitespace().collect();
        if !granted.contains(&SCOPE) {
            return Err(Error::new(
                ErrorKind::Unauthorized,
                format!(
                    "access to Google Sheets was not granted (granted: {}); nothing was stored; run \
                     `sheetbridge auth login` again and allow sheetbridge to see and edit spreadsheets",
                    granted.join(" ")
                ),
            ));
        }
        let info = self.http.token_info(&self.endpoints, &response.access_token).await.ok();
        Ok(AuthorizedUser {
            client_id: self.client.client_id.clone(),
            client_secret: self.client.client_secret.clone(),
            refresh_token,
            account: info.and_then(|i| i.email),
            issued_at: Some(issued_at),
            refresh_token_expires_at: response
                .refresh_token_expires_in
                .map(|s| issued_at + chrono::TimeDelta::seconds(s)),
        })
    }
}

fn redirect(params: &std::collections::HashMap<String, String>) -> Redirect {
    if let Some(error) = params.get("error") {
        return Redirect::Refused(error.clone());
    }
    match params.get("code").filter(|c| !c.is_empty()) {
        Some(code) => Redirect::Code(code.clone()),
        None => Redirect::Refused("no code".to_owned()),
    }
}

/// The request target of an HTTP request (`/?state=...&code=...`); None for a
/// connection that sends no request line within 10 seconds.
async fn read_target(stream: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::with_capacity(2048);
    let read = async {
        let mut chunk = [0u8; 2048];
        while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < 16 * 1024 {
            let n = stream.read(&mut chunk).await.ok()?;
            if n == 0 {
                break;
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        Some(())
    };
    tokio::time::timeout(Duration::from_secs(10), read).await.ok()??;
    let head = String::from_utf8_lossy(&buf);
    let line = head.lines().next()?;
    let mut parts = line.split_whitespace();
    let (method, target) = (parts.next()?, parts.next()?);
    (method == "GET").then(|| target.to_owned())
}

fn page(title: &str, text: &str) -> String {
    let escape = |s: &str| s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
    format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{t}</title></head>\
         <body><h1 id=\"title\">{t}</h1><p id=\"message\">{m}</p></body></html>\n",
        t = escape(title),
        m = escape(text)
    )
}

async fn respond(stream: &mut TcpStream, status: u16, body: &str) {
    let reason = match status {
        200 => "OK",
        404 => "Not Found",
        _ => "Bad Request",
    };
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\n\
         Cache-Control: no-store\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes()).await;
    let _ = stream.write_all(body.as_bytes()).await;
    let _ = stream.shutdown().await;
}

/// A login's timeout as its messages say it: `5m`, `90s`, `1m30s`.
pub fn human_duration(d: Duration) -> String {
    let s = d.as_secs();
    match (s / 60, s % 60) {
        (0, s) => format!("{s}s"),
        (m, 0) => format!("{m}m"),
        (m, s) => format!("{m}m{s}s"),
    }
}
