//! The OAuth endpoints over HTTP, answered the way Google answers them, and
//! their admin API (`/__emulator/oauth/...`).

use std::collections::HashMap;

use hyper::Method;

use super::form::{self, html};
use super::{Challenge, Client, ClientKind, Pending, Store, TokenResult};
use crate::server::{google_error, HttpRequest, HttpResponse};
use crate::{lock, Shared};

/// Where the consent page's form posts.
const APPROVAL_PATH: &str = "/o/oauth2/approval";

pub(crate) fn handle(shared: &Shared, request: &HttpRequest) -> HttpResponse {
    let path = request.path.as_str();
    match (&request.method, path) {
        (&Method::GET, "/o/oauth2/v2/auth" | "/o/oauth2/auth") => authorize(shared, request),
        (&Method::POST, APPROVAL_PATH) => approval(shared, request),
        (&Method::POST, "/token") => token(shared, request),
        (_, "/token") => HttpResponse::html(405, "<p>Error 405 (Method Not Allowed)</p>".into()),
        (&Method::POST, "/revoke") => revoke(shared, request),
        (&Method::GET | &Method::POST, "/tokeninfo") => tokeninfo(shared, request),
        _ => google_error(404, "Not Found"),
    }
}

/// The query's and (for a form POST) the body's parameters; the body wins.
fn params(request: &HttpRequest) -> HashMap<String, String> {
    let mut out = form::parse(request.query.as_deref().unwrap_or(""));
    if !request.body.is_empty() {
        out.extend(form::parse(&String::from_utf8_lossy(&request.body)));
    }
    out
}

/// Google's "Access blocked" page for a request it will not redirect back.
fn error_page(status: u16, error: &str, detail: &str) -> HttpResponse {
    HttpResponse::html(
        status,
        format!(
            "<!doctype html><html><head><meta charset=\"utf-8\"><title>Error {status}: {error}</title></head>\
             <body><h1>Access blocked: Authorization Error</h1>\
             <p id=\"detail\">{}</p><p id=\"error\"><b>Error {status}: {error}</b></p></body></html>\n",
            html(detail),
        ),
    )
}

/// `uri` with `pairs` appended to its query.
fn with_query(uri: &str, pairs: &[(&str, &str)]) -> String {
    let sep = if uri.contains('?') { '&' } else { '?' };
    format!("{uri}{sep}{}", form::serialize(pairs))
}

/// A loopback redirect an installed app may use: `http://127.0.0.1[:PORT][/path]`,
/// `http://localhost...` or `http://[::1]...`.
fn is_loopback(uri: &str) -> bool {
    let Some(rest) = uri.strip_prefix("http://") else { return false };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = if let Some(v6) = authority.strip_prefix("[::1]") {
        return v6.is_empty() || v6.strip_prefix(':').is_some_and(|p| p.parse::<u16>().is_ok());
    } else {
        authority
    };
    let (name, port) = match host.split_once(':') {
        Some((name, port)) => (name, Some(port)),
        None => (host, None),
    };
    matches!(name, "127.0.0.1" | "localhost") && port.is_none_or(|p| p.parse::<u16>().is_ok())
}

fn known_scope(scope: &str) -> bool {
    scope.starts_with("https://www.googleapis.com/auth/") || matches!(scope, "openid" | "email" | "profile")
}

fn authorize(shared: &Shared, request: &HttpRequest) -> HttpResponse {
    let p = params(request);
    let get = |name: &str| p.get(name).map(String::as_str).filter(|v| !v.is_empty());
    let mut store = lock(&shared.oauth);
    let Some(client_id) = get("client_id") else {
        return error_page(400, "invalid_request", "Missing required parameter: client_id");
    };
    let Some(client) = store.client(client_id).cloned() else {
        return error_page(401, "invalid_client", "The OAuth client was not found.");
    };
    let Some(redirect_uri) = get("redirect_uri") else {
        return error_page(400, "invalid_request", "Missing required parameter: redirect_uri");
    };
    let allowed = match client.kind {
        ClientKind::Installed => is_loopback(redirect_uri),
        ClientKind::Web => client.redirect_uris.iter().any(|u| u == redirect_uri),
    };
    if !allowed {
        return error_page(
            400,
            "redirect_uri_mismatch",
            &format!(
                "You can't sign in to this app because it doesn't comply with Google's OAuth 2.0 policy. \
                 If you're the app developer, register the redirect URI in the Google Cloud Console. \
                 Request details: redirect_uri={redirect_uri}"
            ),
        );
    }
    let state = get("state").map(str::to_owned);
    // From here on errors go back to the app, as RFC 6749 section 4.1.2.1 says.
    let refuse = |error: &str| {
        let mut pairs = vec![("error", error)];
        if let Some(s) = &state {
            pairs.push(("state", s.as_str()));
        }
        HttpResponse::redirect(&with_query(redirect_uri, &pairs))
    };
    if get("response_type") != Some("code") {
        return refuse("unsupported_response_type");
    }
    let scopes: Vec<String> =
        get("scope").unwrap_or_default().split_whitespace().map(str::to_owned).collect();
    if scopes.is_empty() || !scopes.iter().all(|s| known_scope(s)) {
        return refuse("invalid_scope");
    }
    let challenge = match (get("code_challenge"), get("code_challenge_method")) {
        (None, _) if client.require_pkce => {
            return error_page(400, "invalid_request", "Missing required parameter: code_challenge")
        }
        (None, _) => None,
        (Some(value), None | Some("plain")) => Some(Challenge { value: value.to_owned(), s256: false }),
        (Some(value), Some("S256")) => Some(Challenge { value: value.to_owned(), s256: true }),
        (Some(_), Some(_)) => return error_page(400, "invalid_request", "Invalid code_challenge_method"),
    };
    let pending = Pending {
        client_id: client.id.clone(),
        redirect_uri: redirect_uri.to_owned(),
        scopes,
        state,
        challenge,
        offline: get("access_type") == Some("offline"),
        user: get("login_hint").unwrap_or(store.login_email()).to_owned(),
    };
    if store.auto_approve() {
        return approved(&mut store, &pending);
    }
    let id = store.random("", 18);
    store.pending.insert(id.clone(), pending.clone());
    consent_page(&client, &pending, &id)
}

fn approved(store: &mut Store, pending: &Pending) -> HttpResponse {
    let code = store.new_code(pending);
    let scope = pending.scopes.join(" ");
    let mut pairs = Vec::new();
    if let Some(s) = &pending.state {
        pairs.push(("state", s.as_str()));
    }
    pairs.push(("code", code.as_str()));
    pairs.push(("scope", scope.as_str()));
    HttpResponse::redirect(&with_query(&pending.redirect_uri, &pairs))
}

fn describe(scope: &str) -> &str {
    match scope {
        "https://www.googleapis.com/auth/spreadsheets" => {
            "See, edit, create, and delete all your Google Sheets spreadsheets"
        }
        "https://www.googleapis.com/auth/spreadsheets.readonly" => "See all your Google Sheets spreadsheets",
        "https://www.googleapis.com/auth/drive" => {
            "See, edit, create, and delete all of your Google Drive files"
        }
        other => other,
    }
}

fn consent_page(client: &Client, pending: &Pending, id: &str) -> HttpResponse {
    let scopes: String = pending
        .scopes
        .iter()
        .map(|s| format!("<li title=\"{}\">{}</li>", html(s), html(describe(s))))
        .collect();
    let testing = if client.testing {
        "<p id=\"testing\">Google hasn't verified this app. The app is being tested.</p>"
    } else {
        ""
    };
    HttpResponse::html(
        200,
        format!(
            "<!doctype html><html><head><meta charset=\"utf-8\"><title>Sign in - Google Accounts</title></head>\
             <body><h1 id=\"app\">{app} wants access to your Google Account</h1>\
             <p id=\"email\">{email}</p>{testing}\
             <p>This will allow {app} to:</p><ul id=\"scopes\">{scopes}</ul>\
             <form method=\"post\" action=\"{APPROVAL_PATH}\">\
             <input type=\"hidden\" name=\"request\" value=\"{id}\">\
             <button type=\"submit\" name=\"decision\" value=\"deny\" id=\"deny\">Deny</button> \
             <button type=\"submit\" name=\"decision\" value=\"allow\" id=\"allow\">Allow</button>\
             </form></body></html>\n",
            app = html(&client.app_name),
            email = html(&pending.user),
            id = html(id),
        ),
    )
}

fn approval(shared: &Shared, request: &HttpRequest) -> HttpResponse {
    let p = form::parse(&String::from_utf8_lossy(&request.body));
    let mut store = lock(&shared.oauth);
    let Some(pending) = p.get("request").and_then(|id| store.pending.remove(id)) else {
        return error_page(
            400,
            "invalid_request",
            "This authorization request is unknown or was already answered.",
        );
    };
    if p.get("decision").map(String::as_str) == Some("allow") {
        approved(&mut store, &pending)
    } else {
        let mut pairs = vec![("error", "access_denied")];
        if let Some(s) = &pending.state {
            pairs.push(("state", s.as_str()));
        }
        HttpResponse::redirect(&with_query(&pending.redirect_uri, &pairs))
    }
}

/// `client_id`/`client_secret` from the form, or HTTP Basic authentication.
fn client_credentials(
    request: &HttpRequest,
    p: &HashMap<String, String>,
) -> (Option<String>, Option<String>) {
    use base64::Engine;
    let basic = request
        .headers
        .get(hyper::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b.trim()).ok())
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|text| text.split_once(':').map(|(id, secret)| (form_decode(id), form_decode(secret))));
    match basic {
        Some((id, secret)) => (Some(id), Some(secret)),
        None => (p.get("client_id").cloned(), p.get("client_secret").cloned()),
    }
}

fn form_decode(text: &str) -> String {
    form::parse(&format!("v={text}")).remove("v").unwrap_or_default()
}

fn token_response(result: TokenResult) -> HttpResponse {
    match result {
        Ok(body) => HttpResponse::json(200, &body).header("cache-control", "no-cache, no-store".into()),
        Err((status, error, description)) => {
            HttpResponse::json(status, &serde_json::json!({"error": error, "error_description": description}))
        }
    }
}

fn token(shared: &Shared, request: &HttpRequest) -> HttpResponse {
    let p = form::parse(&String::from_utf8_lossy(&request.body));
    let get = |name: &str| p.get(name).map(String::as_str).filter(|v| !v.is_empty());
    let (id, secret) = client_credentials(request, &p);
    let mut store = lock(&shared.oauth);
    let result = match get("grant_type") {
        None => Err((400, "invalid_request", "Missing required parameter: grant_type".to_owned())),
        Some("authorization_code") => store.exchange_code(
            id.as_deref(),
            secret.as_deref(),
            get("code"),
            get("redirect_uri"),
            get("code_verifier"),
        ),
        Some("refresh_token") => store.refresh(id.as_deref(), secret.as_deref(), get("refresh_token")),
        Some("urn:ietf:params:oauth:grant-type:jwt-bearer") => {
            let mut urls = Vec::new();
            if let Some(host) = request.headers.get(hyper::header::HOST).and_then(|h| h.to_str().ok()) {
                urls.push(format!("http://{host}/token"));
            }
            urls.push("https://oauth2.googleapis.com/token".to_owned());
            store.jwt_bearer(get("assertion"), &urls)
        }
        Some(other) => Err((400, "unsupported_grant_type", format!("Invalid grant_type: {other}"))),
    };
    token_response(result)
}

fn revoke(shared: &Shared, request: &HttpRequest) -> HttpResponse {
    let p = params(request);
    let Some(token) = p.get("token").filter(|t| !t.is_empty()) else {
        return HttpResponse::json(
            400,
            &serde_json::json!({"error": "invalid_request", "error_description": "Missing required parameter: token"}),
        );
    };
    if lock(&shared.oauth).revoke(token) {
        HttpResponse::json(200, &serde_json::json!({}))
    } else {
        HttpResponse::json(
            400,
            &serde_json::json!({"error": "invalid_token", "error_description": "Token expired or revoked"}),
        )
    }
}

fn tokeninfo(shared: &Shared, request: &HttpRequest) -> HttpResponse {
    let p = params(request);
    let info = p.get("access_token").and_then(|t| lock(&shared.oauth).token_info(t));
    match info {
        Some(body) => HttpResponse::json(200, &body),
        None => HttpResponse::json(
            400,
            &serde_json::json!({"error": "invalid_token", "error_description": "Invalid Value"}),
        ),
    }
}

/// A client as `POST /__emulator/oauth/clients` takes it.
#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ClientSpec {
    id: String,
    secret: String,
    #[serde(default)]
    r#type: Option<String>,
    #[serde(default)]
    app_name: Option<String>,
    #[serde(default)]
    project: Option<String>,
    #[serde(default)]
    testing: bool,
    #[serde(default)]
    require_pkce: bool,
    #[serde(default)]
    redirect_uris: Vec<String>,
}

fn ok() -> HttpResponse {
    HttpResponse::json(200, &serde_json::json!({}))
}

/// `/__emulator/oauth/...`:
/// - `POST clients` `{"id", "secret", "type": "installed"|"web", "appName", "project", "testing", "requirePkce", "redirectUris"}`
/// - `POST service-accounts` with a Google key file as the body → `{"email"}`
/// - `POST login` `{"email"}`: who logs in on the authorization page
/// - `POST auto-approve` `{"enabled": bool}`
/// - `POST revoke` `{"user"}` or `{"token"}`: the user removes the app's access
/// - `POST clock` `{"advanceSeconds"}`; `POST expire-access-tokens`
/// - `GET grants` → `[{"clientId", "user"}]` (live grants)
pub(crate) fn admin(shared: &Shared, request: &HttpRequest, rest: &str) -> HttpResponse {
    let body = || serde_json::from_slice::<serde_json::Value>(&request.body).unwrap_or_default();
    let mut store = lock(&shared.oauth);
    match (&request.method, rest) {
        (&Method::POST, "clients") => match serde_json::from_slice::<ClientSpec>(&request.body) {
            Ok(spec) => {
                let mut client = Client::installed(&spec.id, &spec.secret);
                client.kind = if spec.r#type.as_deref() == Some("web") {
                    ClientKind::Web
                } else {
                    ClientKind::Installed
                };
                if let Some(name) = spec.app_name {
                    client.app_name = name;
                }
                if let Some(project) = spec.project {
                    client.project = project;
                }
                client.testing = spec.testing;
                client.require_pkce = spec.require_pkce;
                client.redirect_uris = spec.redirect_uris;
                store.register_client(client);
                ok()
            }
            Err(e) => google_error(400, &format!("bad client: {e}")),
        },
        (&Method::POST, "service-accounts") => {
            match store.register_service_account(&String::from_utf8_lossy(&request.body)) {
                Ok(email) => HttpResponse::json(200, &serde_json::json!({"email": email})),
                Err(e) => google_error(400, &format!("bad service account key: {e}")),
            }
        }
        (&Method::POST, "login") => match body().get("email").and_then(|v| v.as_str()) {
            Some(email) => {
                store.set_login_email(email);
                ok()
            }
            None => google_error(400, "expected {\"email\": ...}"),
        },
        (&Method::POST, "auto-approve") => {
            store.set_auto_approve(body().get("enabled").and_then(|v| v.as_bool()).unwrap_or(true));
            ok()
        }
        (&Method::POST, "revoke") => {
            let b = body();
            let n = match (b.get("user").and_then(|v| v.as_str()), b.get("token").and_then(|v| v.as_str())) {
                (Some(user), _) => store.revoke_grants_of(user),
                (None, Some(token)) => usize::from(store.revoke(token)),
                (None, None) => return google_error(400, "expected {\"user\": ...} or {\"token\": ...}"),
            };
            HttpResponse::json(200, &serde_json::json!({"revoked": n}))
        }
        (&Method::POST, "clock") => match body().get("advanceSeconds").and_then(|v| v.as_i64()) {
            Some(seconds) => {
                store.advance_clock(seconds);
                ok()
            }
            None => google_error(400, "expected {\"advanceSeconds\": ...}"),
        },
        (&Method::POST, "expire-access-tokens") => {
            store.expire_access_tokens();
            ok()
        }
        (&Method::GET, "grants") => {
            let rows: Vec<_> = store
                .live_grants()
                .into_iter()
                .map(|(client, user, _)| serde_json::json!({"clientId": client, "user": user}))
                .collect();
            HttpResponse::json(200, &serde_json::Value::Array(rows))
        }
        _ => google_error(404, "Not Found"),
    }
}

#[cfg(test)]
mod tests {
    use super::is_loopback;

    #[test]
    fn loopback_redirects_are_the_installed_app_kind() {
        for ok in
            ["http://127.0.0.1:8080", "http://127.0.0.1:1/cb", "http://localhost:5000/", "http://[::1]:9"]
        {
            assert!(is_loopback(ok), "{ok}");
        }
        for bad in [
            "https://127.0.0.1:8080",
            "http://example.com:80",
            "http://127.0.0.1.evil:80",
            "http://localhost:x",
        ] {
            assert!(!is_loopback(bad), "{bad}");
        }
    }
}
