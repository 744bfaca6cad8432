//! Credentials, access tokens and the login flow, against the emulator's OAuth endpoints.

use std::time::Duration;

use sheetbridge_core::ErrorKind;
use sheetbridge_google_sheets::auth::login::{self, OAuthClient};
use sheetbridge_google_sheets::auth::{
    AuthorizedUser, Credentials, Secret, ServiceAccountKey, TokenRetry, TokenSource,
};
use sheetbridge_google_sheets::Endpoints;
use sheetbridge_sheets_emulator::oauth::Client;
use sheetbridge_sheets_emulator::testing as emulator_testing;
use sheetbridge_sheets_emulator::{Emulator, Fault, Route};

use crate::SCOPE;

const CLIENT_ID: &str = "123-desktop.apps.googleusercontent.com";
const CLIENT_SECRET: &str = "GOCSPX-client-s3cret";

fn oauth_emulator(testing: bool) -> Emulator {
    let client = Client {
        project: "ledger-prod".into(),
        testing,
        require_pkce: true,
        ..Client::installed(CLIENT_ID, CLIENT_SECRET)
    };
    emulator_testing::oauth_emulator(true, client, "ada@example.com")
}

fn oauth_client() -> OAuthClient {
    OAuthClient { client_id: CLIENT_ID.into(), client_secret: Secret::new(CLIENT_SECRET) }
}

fn fast() -> TokenRetry {
    TokenRetry { attempts: 4, initial_delay: Duration::from_millis(5), max_delay: Duration::from_millis(20) }
}

/// The browser's part: follows the authorization URL (the emulator approves
/// at once) to the loopback listener; returns its status and page.
async fn browse(url: &str) -> (u16, String) {
    let response = reqwest::get(url).await.expect("the browser's request");
    let status = response.status().as_u16();
    (status, response.text().await.unwrap_or_default())
}

/// A user logged in through the whole installed-app flow.
async fn logged_in(emulator: &Emulator) -> AuthorizedUser {
    let endpoints = Endpoints::at(emulator.base_url());
    let pending = login::start(oauth_client(), &endpoints, None).await.expect("start");
    let url = pending.url().to_owned();
    let finish = tokio::spawn(pending.finish(Duration::from_secs(20)));
    let (status, page) = browse(&url).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("sheetbridge is signed in"), "{page}");
    finish.await.expect("join").expect("login")
}

fn token_requests(emulator: &Emulator) -> usize {
    emulator.requests().iter().filter(|r| r.path == "/token").count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_stores_a_refresh_token_whose_access_tokens_speak_for_the_user() {
    let emulator = oauth_emulator(false);
    let user = logged_in(&emulator).await;
    assert_eq!(user.client_id, CLIENT_ID);
    assert_eq!(user.account, None, "a token for the spreadsheets scope alone does not say whose it is");
    assert!(user.issued_at.is_some());
    assert_eq!(user.refresh_token_expires_at, None, "a production app's grant does not expire");
    let debug = format!("{user:?}");
    assert!(!debug.contains(CLIENT_SECRET) && !debug.contains(user.refresh_token.expose()), "{debug}");

    let endpoints = Endpoints::at(emulator.base_url());
    let tokens =
        TokenSource::from_credentials(Credentials::AuthorizedUser(user), &endpoints).expect("source");
    assert!(tokens.key().starts_with(&format!("{CLIENT_ID}:refresh-")), "{}", tokens.key());
    let token = tokens.token().await.expect("a token");
    let identity = emulator.with_oauth(|o| o.identity_for(&token)).expect("live");
    assert_eq!((identity.user.as_str(), identity.project.as_str()), ("ada@example.com", "ledger-prod"));
    assert_eq!(identity.scopes, [SCOPE]);
    let info = tokens.info().await.expect("tokeninfo");
    assert_eq!(info.email, None);
    assert_eq!(info.azp.as_deref(), Some(CLIENT_ID));
    assert_eq!(info.scopes, [SCOPE]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_testing_apps_login_records_when_its_refresh_token_expires() {
    let emulator = oauth_emulator(true);
    let user = logged_in(&emulator).await;
    let (issued, expires) =
        (user.issued_at.expect("issued_at"), user.refresh_token_expires_at.expect("expiry"));
    let days = (expires - issued).num_seconds() as f64 / 86400.0;
    assert!((6.99..=7.01).contains(&days), "{days} days");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_callers_share_one_refresh_and_the_token_is_cached() {
    let emulator = oauth_emulator(false);
    let user = logged_in(&emulator).await;
    emulator.clear_requests();
    // Slow the token endpoint so every caller arrives while the refresh is in flight.
    emulator.faults().push(Fault::latency(Route::Token, Duration::from_millis(300), 1));
    let endpoints = Endpoints::at(emulator.base_url());
    let tokens =
        TokenSource::from_credentials(Credentials::AuthorizedUser(user), &endpoints).expect("source");
    let calls: Vec<_> = (0..8)
        .map(|_| {
            tokio::spawn({
                let tokens = tokens.clone();
                async move { tokens.token().await }
            })
        })
        .collect();
    let mut got = Vec::new();
    for call in calls {
        got.push(call.await.expect("join").expect("token"));
    }
    got.dedup();
    assert_eq!(got.len(), 1, "every caller got the one token");
    assert_eq!(tokens.token().await.expect("token"), got[0]);
    assert_eq!(token_requests(&emulator), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_is_refreshed_once_it_is_within_the_margin_of_its_expiry() {
    let emulator = oauth_emulator(false);
    let user = logged_in(&emulator).await;
    emulator.clear_requests();
    let endpoints = Endpoints::at(emulator.base_url());
    // Google's tokens live 3599 s; a margin of 3598 s makes one due for refresh after a second.
    let tokens = TokenSource::from_credentials(Credentials::AuthorizedUser(user), &endpoints)
        .expect("source")
        .with_refresh_margin(Duration::from_secs(3598));
    let first = tokens.token().await.expect("token");
    assert_eq!(tokens.token().await.expect("token"), first, "still well before the margin");
    tokio::time::sleep(Duration::from_millis(1300)).await;
    let second = tokens.token().await.expect("token");
    assert_ne!(second, first, "refreshed before it expired");
    assert_eq!(token_requests(&emulator), 2);
    assert!(emulator.with_oauth(|o| o.identity_for(&first)).is_some(), "the old one had not expired yet");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_endpoints_429_5xx_and_dropped_connections_are_retried() {
    let emulator = oauth_emulator(false);
    let user = logged_in(&emulator).await;
    emulator.clear_requests();
    emulator.faults().push(Fault::rate_limited(Route::Token, 0, 1));
    emulator.faults().push(Fault::status(Route::Token, 503, 1));
    emulator.faults().push(Fault::drop_connection(Route::Token, 1));
    let endpoints = Endpoints::at(emulator.base_url());
    let tokens = TokenSource::from_credentials(Credentials::AuthorizedUser(user.clone()), &endpoints)
        .expect("source")
        .with_retry(fast());
    let token = tokens.token().await.expect("a token after three passing failures");
    assert!(emulator.with_oauth(|o| o.identity_for(&token)).is_some());
    assert_eq!(token_requests(&emulator), 4);

    emulator.faults().push(Fault::status(Route::Token, 503, 10));
    let tokens = TokenSource::from_credentials(Credentials::AuthorizedUser(user), &endpoints)
        .expect("source")
        .with_retry(fast());
    let e = tokens.token().await.expect_err("503 every time");
    assert_eq!(e.kind(), &ErrorKind::Retryable);
    assert_eq!(
        e.to_string(),
        format!(
            "the Google token endpoint {}/token answered HTTP 503 (after 4 attempts)",
            emulator.base_url()
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_grant_says_so_and_how_to_log_in_again_without_the_secret() {
    let emulator = oauth_emulator(false);
    let user = logged_in(&emulator).await;
    let refresh = user.refresh_token.expose().to_owned();
    emulator.with_oauth(|o| o.revoke_grants_of("ada@example.com"));
    let endpoints = Endpoints::at(emulator.base_url());
    let tokens =
        TokenSource::from_credentials(Credentials::AuthorizedUser(user), &endpoints).expect("source");
    let e = tokens.token().await.expect_err("revoked");
    assert_eq!(e.kind(), &ErrorKind::Unauthorized);
    let text = e.to_string();
    assert!(
        text.starts_with(
            "Google refused the stored grant (invalid_grant: Token has been \
                              expired or revoked. (HTTP 400)): it was revoked or has expired"
        ),
        "{text}"
    );
    assert!(text.ends_with("run `sheetbridge auth login` again"), "{text}");
    assert!(!text.contains(&refresh) && !text.contains(CLIENT_SECRET), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_with_another_state_is_refused_and_nothing_is_returned() {
    let emulator = oauth_emulator(false);
    let endpoints = Endpoints::at(emulator.base_url());
    let pending = login::start(oauth_client(), &endpoints, None).await.expect("start");
    let forged = format!("{}/?state=not-ours&code=4/0Aforged&scope={SCOPE}", pending.redirect_uri());
    let finish = tokio::spawn(pending.finish(Duration::from_secs(20)));
    let (status, page) = browse(&forged).await;
    assert_eq!(status, 400, "{page}");
    let e = finish.await.expect("join").expect_err("a forged redirect");
    assert_eq!(e.kind(), &ErrorKind::Unauthorized);
    assert!(
        e.to_string().starts_with("the browser came back with a `state` that is not this login's"),
        "{e}"
    );
    assert_eq!(token_requests(&emulator), 0, "no code was exchanged");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_nobody_answers_times_out_with_a_clear_message() {
    let emulator = oauth_emulator(false);
    let endpoints = Endpoints::at(emulator.base_url());
    let pending = login::start(oauth_client(), &endpoints, None).await.expect("start");
    let started = std::time::Instant::now();
    let e = pending.finish(Duration::from_secs(1)).await.expect_err("nobody came");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(
        e.to_string(),
        "no answer from the browser within 1s: the login was abandoned and nothing was stored; \
         run `sheetbridge auth login` again (--timeout SECS gives more time)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_denied_in_the_browser_is_an_error_that_says_so() {
    let emulator = oauth_emulator(false);
    emulator.with_oauth(|o| o.set_auto_approve(false));
    let endpoints = Endpoints::at(emulator.base_url());
    let pending = login::start(oauth_client(), &endpoints, None).await.expect("start");
    let consent = reqwest::get(pending.url()).await.expect("page").text().await.expect("text");
    let request = consent.split("name=\"request\" value=\"").nth(1).and_then(|s| s.split('"').next());
    let finish = tokio::spawn(pending.finish(Duration::from_secs(20)));
    let response = reqwest::Client::new()
        .post(format!("{}/o/oauth2/approval", emulator.base_url()))
        .form(&[("request", request.expect("a request id")), ("decision", "deny")])
        .send()
        .await
        .expect("deny");
    assert_eq!(response.status().as_u16(), 400, "the listener's page for a refusal");
    let e = finish.await.expect("join").expect_err("denied");
    assert_eq!(e.to_string(), "access was denied in the browser (error=access_denied); nothing was stored");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_account_signs_its_way_to_tokens_and_a_deleted_key_is_explained() {
    let emulator = oauth_emulator(false);
    let key = ServiceAccountKey {
        client_email: "sync@ledger-prod.iam.gserviceaccount.com".into(),
        private_key: Secret::new(emulator_testing::rsa_key_pem()),
        private_key_id: "0123abcd".into(),
        project_id: Some("ledger-prod".into()),
        client_id: None,
        token_uri: Some("https://oauth2.googleapis.com/token".into()),
    };
    let json = Credentials::ServiceAccount(key.clone()).to_json();
    emulator.with_oauth(|o| o.register_service_account(&json)).expect("register");
    let endpoints = Endpoints::at(emulator.base_url());
    let tokens =
        TokenSource::from_credentials(Credentials::ServiceAccount(key.clone()), &endpoints).expect("source");
    assert_eq!(tokens.key(), "sync@ledger-prod.iam.gserviceaccount.com");
    assert!(!format!("{tokens:?} {key:?}").contains("PRIVATE KEY"));
    let token = tokens.token().await.expect("token");
    let identity = emulator.with_oauth(|o| o.identity_for(&token)).expect("live");
    assert_eq!(identity.user, "sync@ledger-prod.iam.gserviceaccount.com");
    assert_eq!(identity.project, "ledger-prod");
    assert_eq!(identity.scopes, [SCOPE], "only the spreadsheets scope is asked for");

    // Another key of the same account (the registered one deleted): the signature fails.
    let mut other = key.clone();
    other.private_key = Secret::new(emulator_testing::new_rsa_key_pem());
    let tokens =
        TokenSource::from_credentials(Credentials::ServiceAccount(other), &endpoints).expect("source");
    let e = tokens.token().await.expect_err("unknown key");
    assert_eq!(e.kind(), &ErrorKind::Unauthorized);
    assert!(
        e.to_string().starts_with(
            "Google refused the key of the service account sync@ledger-prod.iam.gserviceaccount.com \
             (key 0123abcd) (invalid_grant: Invalid JWT Signature. (HTTP 400))"
        ),
        "{e}"
    );

    let mut damaged = key;
    damaged.private_key = Secret::new("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n");
    let e =
        TokenSource::from_credentials(Credentials::ServiceAccount(damaged), &endpoints).expect_err("damaged");
    assert_eq!(e.kind(), &ErrorKind::InvalidInput);
    assert!(e.to_string().starts_with("the private_key of the service account sync@"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_google_stopped_taking_early_is_replaced_after_invalidate() {
    let emulator = oauth_emulator(false);
    let user = logged_in(&emulator).await;
    let endpoints = Endpoints::at(emulator.base_url());
    let tokens =
        TokenSource::from_credentials(Credentials::AuthorizedUser(user), &endpoints).expect("source");
    let first = tokens.token().await.expect("token");
    emulator.with_oauth(|o| o.expire_access_tokens());
    assert_eq!(tokens.token().await.expect("token"), first, "the cache does not know yet");
    tokens.invalidate("some other token").await;
    assert_eq!(tokens.token().await.expect("token"), first, "only the cached token is forgotten");
    tokens.invalidate(&first).await;
    let second = tokens.token().await.expect("token");
    assert_ne!(second, first);
    assert!(emulator.with_oauth(|o| o.identity_for(&second)).is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_connection_and_stray_requests_do_not_hold_up_the_redirect() {
    let emulator = oauth_emulator(false);
    let endpoints = Endpoints::at(emulator.base_url());
    let pending = login::start(oauth_client(), &endpoints, None).await.expect("start");
    let listener = pending.redirect_uri().trim_start_matches("http://").to_owned();
    let url = pending.url().to_owned();
    let base = pending.redirect_uri().to_owned();
    let finish = tokio::spawn(pending.finish(Duration::from_secs(20)));
    // A browser's speculative connection: opened, nothing sent.
    let _silent = tokio::net::TcpStream::connect(&listener).await.expect("connect");
    for stray in ["/favicon.ico", "/"] {
        let (status, _) = browse(&format!("{base}{stray}")).await;
        assert_eq!(status, 404, "{stray}");
    }
    let started = std::time::Instant::now();
    let (status, page) = browse(&url).await;
    assert_eq!(status, 200, "{page}");
    assert!(started.elapsed() < Duration::from_secs(5), "the redirect waited {:?}", started.elapsed());
    finish.await.expect("join").expect("login");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callers_waiting_on_a_failed_refresh_share_its_error_instead_of_each_retrying() {
    let emulator = oauth_emulator(false);
    let user = logged_in(&emulator).await;
    emulator.clear_requests();
    emulator.faults().push(Fault::status(Route::Token, 503, 100));
    let endpoints = Endpoints::at(emulator.base_url());
    let retry = TokenRetry {
        attempts: 2,
        initial_delay: Duration::from_millis(200),
        max_delay: Duration::from_millis(200),
    };
    let tokens = TokenSource::from_credentials(Credentials::AuthorizedUser(user), &endpoints)
        .expect("source")
        .with_retry(retry);
    let calls: Vec<_> = (0..6)
        .map(|_| {
            let tokens = tokens.clone();
            tokio::spawn(async move { tokens.token().await })
        })
        .collect();
    for call in calls {
        let e = call.await.expect("join").expect_err("503 every time");
        assert_eq!(e.kind(), &ErrorKind::Retryable, "{e}");
    }
    assert_eq!(token_requests(&emulator), 2, "one refresh of two attempts served every caller");
    // A later caller tries again.
    assert!(tokens.token().await.is_err());
    assert_eq!(token_requests(&emulator), 4);
}
