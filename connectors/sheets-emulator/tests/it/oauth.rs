//! The OAuth endpoints: authorization page, code + PKCE, refresh, JWT bearer,
//! revocation, tokeninfo, expiry; answered with Google's statuses and bodies.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpStream;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use sheetbridge_sheets_emulator::oauth::Client;
use sheetbridge_sheets_emulator::testing::{self, KEY_ID};
use sheetbridge_sheets_emulator::Emulator;

const SCOPE: &str = "https://www.googleapis.com/auth/spreadsheets";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

struct Reply {
    status: u16,
    headers: HashMap<String, String>,
    body: String,
}

impl Reply {
    fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    fn location(&self) -> &str {
        self.headers
            .get("location")
            .map(String::as_str)
            .unwrap_or_else(|| panic!("no location: {}", self.body))
    }
}

fn http(emulator: &Emulator, method: &str, target: &str, body: &str) -> Reply {
    let mut stream = TcpStream::connect(emulator.addr()).expect("connect");
    write!(
        stream,
        "{method} {target} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        emulator.addr(),
        body.len()
    )
    .expect("write");
    let mut text = String::new();
    stream.read_to_string(&mut text).expect("read");
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
    let headers = head
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Reply { status, headers, body: body.to_owned() }
}

fn enc(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).to_string()
}

fn form(pairs: &[(&str, &str)]) -> String {
    pairs.iter().map(|(n, v)| format!("{n}={}", enc(v))).collect::<Vec<_>>().join("&")
}

/// The query parameters of a redirect.
fn query_of(location: &str) -> HashMap<String, String> {
    let query = location.split_once('?').map(|(_, q)| q).unwrap_or_default();
    query
        .split('&')
        .filter_map(|p| p.split_once('='))
        .map(|(n, v)| {
            let v =
                percent_encoding::percent_decode_str(&v.replace('+', " ")).decode_utf8_lossy().into_owned();
            (n.to_owned(), v)
        })
        .collect()
}

fn emulator(auto_approve: bool) -> Emulator {
    let client = Client {
        app_name: "Ledger Sync".into(),
        project: "ledger-prod".into(),
        ..Client::installed("123-app.apps.googleusercontent.com", "GOCSPX-secret")
    };
    testing::oauth_emulator(auto_approve, client, "ada@example.com")
}

const REDIRECT: &str = "http://127.0.0.1:53682";

fn auth_target(extra: &[(&str, &str)]) -> String {
    let mut pairs = vec![
        ("client_id", "123-app.apps.googleusercontent.com"),
        ("redirect_uri", REDIRECT),
        ("response_type", "code"),
        ("scope", SCOPE),
        ("state", "st4te"),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
        ("access_type", "offline"),
    ];
    for (name, value) in extra {
        pairs.retain(|(n, _)| n != name);
        if !value.is_empty() {
            pairs.push((name, value));
        }
    }
    format!("/o/oauth2/v2/auth?{}", form(&pairs))
}

/// Authorizes (auto-approve) and returns the code.
fn code(emulator: &Emulator) -> String {
    let reply = http(emulator, "GET", &auth_target(&[]), "");
    assert_eq!(reply.status, 302, "{}", reply.body);
    let q = query_of(reply.location());
    assert!(reply.location().starts_with(&format!("{REDIRECT}?state=st4te&code=")), "{}", reply.location());
    assert_eq!(q["scope"], SCOPE);
    q["code"].clone()
}

fn exchange(emulator: &Emulator, code: &str, verifier: &str) -> Reply {
    let body = form(&[
        ("grant_type", "authorization_code"),
        ("code", code),
        ("client_id", "123-app.apps.googleusercontent.com"),
        ("client_secret", "GOCSPX-secret"),
        ("redirect_uri", REDIRECT),
        ("code_verifier", verifier),
    ]);
    http(emulator, "POST", "/token", &body)
}

fn refresh(emulator: &Emulator, refresh_token: &str) -> Reply {
    let body = form(&[
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token),
        ("client_id", "123-app.apps.googleusercontent.com"),
        ("client_secret", "GOCSPX-secret"),
    ]);
    http(emulator, "POST", "/token", &body)
}

fn assert_error(reply: &Reply, status: u16, error: &str, description: &str) {
    assert_eq!(reply.status, status, "{}", reply.body);
    let json = reply.json();
    assert_eq!(json["error"], error, "{}", reply.body);
    assert_eq!(json["error_description"], description, "{}", reply.body);
}

#[test]
fn the_code_flow_with_pkce_gives_tokens_for_the_user_and_the_clients_project() {
    let emulator = emulator(true);
    let code = code(&emulator);
    let reply = exchange(&emulator, &code, VERIFIER);
    assert_eq!(reply.status, 200, "{}", reply.body);
    let json = reply.json();
    assert_eq!(json["expires_in"], 3599);
    assert_eq!(json["token_type"], "Bearer");
    assert_eq!(json["scope"], SCOPE);
    assert!(json["refresh_token"].as_str().is_some_and(|t| t.starts_with("1//")), "{json}");
    assert!(
        json.get("refresh_token_expires_in").is_none(),
        "a production app's token does not expire: {json}"
    );
    let access = json["access_token"].as_str().expect("access_token");
    let identity = emulator.with_oauth(|o| o.identity_for(access)).expect("a live token");
    assert_eq!(identity.user, "ada@example.com");
    assert_eq!(identity.project, "ledger-prod");
    assert_eq!(identity.scopes, [SCOPE]);

    let info = http(&emulator, "GET", &format!("/tokeninfo?access_token={}", enc(access)), "");
    assert_eq!(info.status, 200, "{}", info.body);
    let info = info.json();
    assert_eq!(info["azp"], "123-app.apps.googleusercontent.com");
    assert_eq!(info["aud"], "123-app.apps.googleusercontent.com");
    assert_eq!(info["scope"], SCOPE);
    assert_eq!(info["access_type"], "offline");
    assert!(info.get("email").is_none(), "no e-mail without the email scope, as at Google: {info}");
    let expires_in: i64 = info["expires_in"].as_str().and_then(|s| s.parse().ok()).expect("expires_in");
    assert!((3590..=3599).contains(&expires_in), "{info}");

    let with_email = emulator.issue_token("ada@example.com", &[SCOPE, "email"]);
    let info = http(&emulator, "GET", &format!("/tokeninfo?access_token={}", enc(&with_email)), "").json();
    assert_eq!(
        (info["email"].as_str(), info["email_verified"].as_str()),
        (Some("ada@example.com"), Some("true"))
    );

    // A code is single-use.
    assert_error(&exchange(&emulator, &code, VERIFIER), 400, "invalid_grant", "Bad Request");
}

#[test]
fn a_wrong_or_missing_pkce_verifier_is_refused() {
    let emulator = emulator(true);
    let wrong = exchange(&emulator, &code(&emulator), "not-the-verifier-not-the-verifier-not-the-verifier");
    assert_error(&wrong, 400, "invalid_grant", "Invalid code verifier.");
    let body = form(&[
        ("grant_type", "authorization_code"),
        ("code", &code(&emulator)),
        ("client_id", "123-app.apps.googleusercontent.com"),
        ("client_secret", "GOCSPX-secret"),
        ("redirect_uri", REDIRECT),
    ]);
    assert_error(&http(&emulator, "POST", "/token", &body), 400, "invalid_grant", "Missing code verifier.");
}

#[test]
fn the_exchange_checks_the_secret_the_redirect_and_the_codes_age() {
    let emulator = emulator(true);
    let body = form(&[
        ("grant_type", "authorization_code"),
        ("code", &code(&emulator)),
        ("client_id", "123-app.apps.googleusercontent.com"),
        ("client_secret", "wrong"),
        ("redirect_uri", REDIRECT),
        ("code_verifier", VERIFIER),
    ]);
    assert_error(&http(&emulator, "POST", "/token", &body), 401, "invalid_client", "Unauthorized");
    let body = form(&[
        ("grant_type", "authorization_code"),
        ("code", &code(&emulator)),
        ("client_id", "123-app.apps.googleusercontent.com"),
        ("client_secret", "GOCSPX-secret"),
        ("redirect_uri", "http://127.0.0.1:9999"),
        ("code_verifier", VERIFIER),
    ]);
    assert_error(&http(&emulator, "POST", "/token", &body), 400, "redirect_uri_mismatch", "Bad Request");
    let old = code(&emulator);
    emulator.with_oauth(|o| o.advance_clock(601));
    assert_error(&exchange(&emulator, &old, VERIFIER), 400, "invalid_grant", "Bad Request");
    let reply = http(&emulator, "POST", "/token", "grant_type=password");
    assert_error(&reply, 400, "unsupported_grant_type", "Invalid grant_type: password");
}

#[test]
fn the_authorization_page_refuses_like_google() {
    let emulator = emulator(true);
    let reply =
        http(&emulator, "GET", &auth_target(&[("client_id", "nobody.apps.googleusercontent.com")]), "");
    assert_eq!(reply.status, 401);
    assert!(reply.body.contains("Error 401: invalid_client"), "{}", reply.body);
    for bad in ["https://evil.example.com/cb", "http://example.com:8080", "https://127.0.0.1:8080"] {
        let reply = http(&emulator, "GET", &auth_target(&[("redirect_uri", bad)]), "");
        assert_eq!(reply.status, 400, "{bad}");
        assert!(reply.body.contains("Error 400: redirect_uri_mismatch"), "{bad}: {}", reply.body);
    }
    let reply = http(&emulator, "GET", &auth_target(&[("redirect_uri", "http://localhost:8080/cb")]), "");
    assert_eq!(reply.status, 302, "localhost with a path is a loopback redirect: {}", reply.body);

    let reply = http(&emulator, "GET", &auth_target(&[("scope", "https://evil.example.com/all")]), "");
    assert_eq!(reply.location(), format!("{REDIRECT}?error=invalid_scope&state=st4te"));

    emulator.with_oauth(|o| {
        let mut strict = Client::installed("strict.apps.googleusercontent.com", "s");
        strict.require_pkce = true;
        o.register_client(strict);
    });
    let target = auth_target(&[
        ("client_id", "strict.apps.googleusercontent.com"),
        ("code_challenge", ""),
        ("code_challenge_method", ""),
    ]);
    let reply = http(&emulator, "GET", &target, "");
    assert_eq!(reply.status, 400);
    assert!(reply.body.contains("Missing required parameter: code_challenge"), "{}", reply.body);
}

#[test]
fn the_consent_page_names_the_app_the_user_and_the_scopes_and_both_buttons_work() {
    let emulator = emulator(false);
    let page = http(&emulator, "GET", &auth_target(&[]), "");
    assert_eq!(page.status, 200, "{}", page.body);
    for text in [
        "Ledger Sync",
        "ada@example.com",
        "See, edit, create, and delete all your Google Sheets",
        "id=\"allow\"",
    ] {
        assert!(page.body.contains(text), "no {text:?} in {}", page.body);
    }
    let request = page.body.split("name=\"request\" value=\"").nth(1).and_then(|s| s.split('"').next());
    let request = request.expect("a request id in the form");
    let allow =
        http(&emulator, "POST", "/o/oauth2/approval", &form(&[("request", request), ("decision", "allow")]));
    let q = query_of(allow.location());
    assert_eq!(q["state"], "st4te");
    assert_eq!(exchange(&emulator, &q["code"], VERIFIER).status, 200);
    // The same request cannot be answered twice.
    let again =
        http(&emulator, "POST", "/o/oauth2/approval", &form(&[("request", request), ("decision", "allow")]));
    assert_eq!(again.status, 400);

    let page = http(&emulator, "GET", &auth_target(&[]), "");
    let request = page.body.split("name=\"request\" value=\"").nth(1).and_then(|s| s.split('"').next());
    let deny = http(
        &emulator,
        "POST",
        "/o/oauth2/approval",
        &form(&[("request", request.expect("id")), ("decision", "deny")]),
    );
    assert_eq!(deny.location(), format!("{REDIRECT}?error=access_denied&state=st4te"));
}

#[test]
fn refresh_works_until_the_grant_is_revoked_and_revoking_kills_its_access_tokens() {
    let emulator = emulator(true);
    let json = exchange(&emulator, &code(&emulator), VERIFIER).json();
    let refresh_token = json["refresh_token"].as_str().expect("refresh_token").to_owned();
    let first = json["access_token"].as_str().expect("access_token").to_owned();
    let reply = refresh(&emulator, &refresh_token);
    assert_eq!(reply.status, 200, "{}", reply.body);
    let second = reply.json()["access_token"].as_str().expect("access_token").to_owned();
    assert!(reply.json().get("refresh_token").is_none(), "a refresh does not rotate the token");

    let revoked = http(&emulator, "POST", "/revoke", &form(&[("token", &refresh_token)]));
    assert_eq!(revoked.status, 200, "{}", revoked.body);
    for token in [&first, &second] {
        let info = http(&emulator, "GET", &format!("/tokeninfo?access_token={}", enc(token)), "");
        assert_error(&info, 400, "invalid_token", "Invalid Value");
        assert!(emulator.with_oauth(|o| o.identity_for(token)).is_none());
    }
    assert_error(
        &refresh(&emulator, &refresh_token),
        400,
        "invalid_grant",
        "Token has been expired or revoked.",
    );
    let again = http(&emulator, "POST", "/revoke", &form(&[("token", &refresh_token)]));
    assert_error(&again, 400, "invalid_token", "Token expired or revoked");
}

#[test]
fn a_grant_revoked_by_the_user_and_a_testing_apps_week_old_token_are_expired_or_revoked() {
    let emulator = emulator(true);
    let json = exchange(&emulator, &code(&emulator), VERIFIER).json();
    let refresh_token = json["refresh_token"].as_str().expect("refresh_token").to_owned();
    let admin = http(&emulator, "POST", "/__emulator/oauth/revoke", r#"{"user": "ada@example.com"}"#);
    assert_eq!(admin.json()["revoked"], 1);
    assert_error(
        &refresh(&emulator, &refresh_token),
        400,
        "invalid_grant",
        "Token has been expired or revoked.",
    );

    let spec = r#"{"id": "123-app.apps.googleusercontent.com", "secret": "GOCSPX-secret", "testing": true}"#;
    assert_eq!(http(&emulator, "POST", "/__emulator/oauth/clients", spec).status, 200);
    let json = exchange(&emulator, &code(&emulator), VERIFIER).json();
    assert_eq!(json["refresh_token_expires_in"], 604800, "{json}");
    let refresh_token = json["refresh_token"].as_str().expect("refresh_token").to_owned();
    http(&emulator, "POST", "/__emulator/oauth/clock", r#"{"advanceSeconds": 518400}"#);
    assert_eq!(refresh(&emulator, &refresh_token).status, 200, "six days on it still works");
    http(&emulator, "POST", "/__emulator/oauth/clock", r#"{"advanceSeconds": 86400}"#);
    assert_error(
        &refresh(&emulator, &refresh_token),
        400,
        "invalid_grant",
        "Token has been expired or revoked.",
    );
}

#[test]
fn access_tokens_expire_by_the_emulators_clock() {
    let emulator = emulator(true);
    let token = emulator.issue_token("ada@example.com", &[SCOPE]);
    emulator.with_oauth(|o| o.advance_clock(3598));
    assert!(emulator.with_oauth(|o| o.identity_for(&token)).is_some());
    emulator.with_oauth(|o| o.advance_clock(2));
    assert!(emulator.with_oauth(|o| o.identity_for(&token)).is_none());
    let other = emulator.issue_token("ada@example.com", &[SCOPE]);
    assert_eq!(http(&emulator, "POST", "/__emulator/oauth/expire-access-tokens", "").status, 200);
    assert!(emulator.with_oauth(|o| o.identity_for(&other)).is_none());
}

fn sign(pem: &str, kid: &str, claims: &serde_json::Value) -> String {
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let der = STANDARD.decode(body).expect("base64");
    let pair = ring::signature::RsaKeyPair::from_pkcs8(&der).expect("a PKCS#8 key");
    let header = serde_json::json!({"alg": "RS256", "typ": "JWT", "kid": kid});
    let signed = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let mut signature = vec![0; pair.public().modulus_len()];
    pair.sign(
        &ring::signature::RSA_PKCS1_SHA256,
        &ring::rand::SystemRandom::new(),
        signed.as_bytes(),
        &mut signature,
    )
    .expect("sign");
    format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature))
}

#[test]
fn a_service_accounts_jwt_is_checked_signature_audience_issuer_and_lifetime() {
    let emulator = emulator(true);
    let pem = testing::rsa_key_pem();
    let email = "sync@ledger-prod.iam.gserviceaccount.com";
    let key = testing::service_account_key(email, "ledger-prod");
    let registered = http(&emulator, "POST", "/__emulator/oauth/service-accounts", &key);
    assert_eq!(registered.json()["email"], email, "{}", registered.body);
    let now = chrono::Utc::now().timestamp();
    let aud = format!("{}/token", emulator.base_url());
    let claims = |iss: &str, aud: &str, iat: i64, exp: i64| serde_json::json!({"iss": iss, "scope": SCOPE, "aud": aud, "iat": iat, "exp": exp});
    let grant = |assertion: &str| {
        http(
            &emulator,
            "POST",
            "/token",
            &form(&[("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"), ("assertion", assertion)]),
        )
    };

    let reply = grant(&sign(pem, KEY_ID, &claims(email, &aud, now, now + 3600)));
    assert_eq!(reply.status, 200, "{}", reply.body);
    let json = reply.json();
    assert_eq!(json["expires_in"], 3599);
    assert_eq!(json["token_type"], "Bearer");
    assert!(json.get("refresh_token").is_none());
    let identity = emulator
        .with_oauth(|o| o.identity_for(json["access_token"].as_str().unwrap_or_default()))
        .expect("live");
    assert_eq!((identity.user.as_str(), identity.project.as_str()), (email, "ledger-prod"));

    let other_key = testing::new_rsa_key_pem();
    let forged = grant(&sign(&other_key, KEY_ID, &claims(email, &aud, now, now + 3600)));
    assert_error(&forged, 400, "invalid_grant", "Invalid JWT Signature.");
    let stranger = grant(&sign(pem, KEY_ID, &claims("who@x.iam.gserviceaccount.com", &aud, now, now + 60)));
    assert_error(&stranger, 400, "invalid_grant", "Invalid grant: account not found");
    let elsewhere = grant(&sign(pem, KEY_ID, &claims(email, "https://example.com/token", now, now + 60)));
    assert_eq!(elsewhere.json()["error"], "invalid_grant");
    assert!(elsewhere.body.contains("Failed audience check"), "{}", elsewhere.body);
    let long = grant(&sign(pem, KEY_ID, &claims(email, &aud, now, now + 7200)));
    assert!(long.body.contains("Token must be a short-lived token (60 minutes)"), "{}", long.body);
    let stale = grant(&sign(pem, KEY_ID, &claims(email, &aud, now - 7200, now - 3600)));
    assert!(stale.body.contains("Check your iat and exp values"), "{}", stale.body);
    let google_aud =
        grant(&sign(pem, KEY_ID, &claims(email, "https://oauth2.googleapis.com/token", now, now + 60)));
    assert_eq!(google_aud.status, 200, "Google's own token URL is accepted too: {}", google_aud.body);
}

#[test]
fn the_admin_api_sets_who_logs_in_and_whether_the_page_approves_at_once() {
    let emulator = emulator(false);
    assert_eq!(http(&emulator, "GET", &auth_target(&[]), "").status, 200, "the consent page");
    assert_eq!(http(&emulator, "POST", "/__emulator/oauth/auto-approve", r#"{"enabled": true}"#).status, 200);
    assert_eq!(
        http(&emulator, "POST", "/__emulator/oauth/login", r#"{"email": "grace@example.com"}"#).status,
        200
    );
    let json = exchange(&emulator, &code(&emulator), VERIFIER).json();
    let access = json["access_token"].as_str().expect("access_token");
    assert_eq!(emulator.with_oauth(|o| o.identity_for(access)).expect("live").user, "grace@example.com");
    let grants = http(&emulator, "GET", "/__emulator/oauth/grants", "").json();
    assert_eq!(
        grants,
        serde_json::json!([{"clientId": "123-app.apps.googleusercontent.com", "user": "grace@example.com"}])
    );
    let hinted = http(&emulator, "GET", &auth_target(&[("login_hint", "ada@example.com")]), "");
    let q = query_of(hinted.location());
    let json = exchange(&emulator, &q["code"], VERIFIER).json();
    let access = json["access_token"].as_str().expect("access_token");
    assert_eq!(emulator.with_oauth(|o| o.identity_for(access)).expect("live").user, "ada@example.com");
}
