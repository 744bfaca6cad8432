//! `sheetbridge auth`: the real binary against an in-process Sheets emulator,
//! the consent page clicked in headless Chromium.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sheetbridge_google_sheets::auth::{Credentials, TokenSource};
use sheetbridge_google_sheets::{Endpoints, SheetsClient};
use sheetbridge_sheets_emulator::oauth::Client;
use sheetbridge_sheets_emulator::testing as emulator_testing;
use sheetbridge_sheets_emulator::Emulator;

const SCOPE: &str = "https://www.googleapis.com/auth/spreadsheets";
const CLIENT_ID: &str = "123-desktop.apps.googleusercontent.com";
const CLIENT_SECRET: &str = "GOCSPX-cl1ent-s3cret-value";

/// An emulator with a Desktop-app client (PKCE required) and ada@ as the user who signs in.
fn emulator(auto_approve: bool, testing: bool) -> Emulator {
    let client = Client {
        app_name: "sheetbridge (ledger)".into(),
        project: "ledger-prod".into(),
        require_pkce: true,
        testing,
        ..Client::installed(CLIENT_ID, CLIENT_SECRET)
    };
    emulator_testing::oauth_emulator(auto_approve, client, "ada@example.com")
}

/// A private folder for one test's config and token file.
struct Home {
    dir: tempfile::TempDir,
}

impl Home {
    fn new() -> Home {
        Home { dir: tempfile::tempdir().expect("a temporary folder") }
    }

    fn token_file(&self) -> PathBuf {
        self.dir.path().join("config/sheetbridge/google-token.json")
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

/// `sheetbridge` pointed at `emulator`, its config under `home`, no desktop, no credential from the environment.
fn command(emulator: &Emulator, home: &Home, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sheetbridge"));
    cmd.args(args)
        .env("SHEETBRIDGE_GOOGLE_ENDPOINT", emulator.base_url())
        .env("XDG_CONFIG_HOME", home.path("config"))
        .env("HOME", home.dir.path())
        .env_remove("SHEETBRIDGE_GOOGLE_TOKEN_FILE")
        .env_remove("SHEETBRIDGE_GOOGLE_CREDENTIALS")
        .env_remove("SHEETBRIDGE_GOOGLE_CREDENTIALS_FILE")
        .env_remove("SHEETBRIDGE_GOOGLE_CLIENT_ID")
        .env_remove("SHEETBRIDGE_GOOGLE_CLIENT_SECRET")
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .env("SHEETBRIDGE_NO_PROGRESS", "1");
    cmd
}

fn run(emulator: &Emulator, home: &Home, args: &[&str]) -> Output {
    command(emulator, home, args).output().expect("running the sheetbridge binary")
}

fn text(out: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A `sheetbridge auth login` running in the background; its stderr is read line by line.
struct Login {
    child: Child,
    lines: Receiver<String>,
    stderr: Arc<Mutex<String>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

/// A login left running by a failed test is ended with it.
impl Drop for Login {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

impl Login {
    fn spawn(emulator: &Emulator, home: &Home, extra: &[&str]) -> Login {
        let mut args = vec!["--log", "trace", "auth", "login", "--no-browser", "--client-id", CLIENT_ID];
        args.extend_from_slice(extra);
        let mut child = command(emulator, home, &args)
            .env("SHEETBRIDGE_GOOGLE_CLIENT_SECRET", CLIENT_SECRET)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting sheetbridge auth login");
        let (send, lines) = mpsc::channel();
        let stderr = Arc::new(Mutex::new(String::new()));
        let pipe = child.stderr.take().expect("stderr is piped");
        let all = stderr.clone();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                if let Ok(mut all) = all.lock() {
                    all.push_str(&line);
                    all.push('\n');
                }
                let _ = send.send(line);
            }
        });
        Login { child, lines, stderr, reader: Some(reader) }
    }

    /// The authorization URL it prints.
    fn url(&self) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        while let Ok(line) = self.lines.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            if let Some(url) = line.trim().strip_prefix("http") {
                return format!("http{url}");
            }
        }
        panic!(
            "sheetbridge auth login printed no URL:\n{}",
            self.stderr.lock().map(|s| s.clone()).unwrap_or_default()
        );
    }

    /// Waits for the process to end (at most `limit`); its exit code, stdout and stderr.
    fn wait(mut self, limit: Duration) -> (Option<i32>, String, String) {
        let deadline = Instant::now() + limit;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("sheetbridge auth login still runs after {limit:?}");
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let mut stdout = String::new();
        if let Some(mut out) = self.child.stdout.take() {
            let _ = out.read_to_string(&mut stdout);
        }
        // The reader thread ends when the process's stderr closes, having read all of it.
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
        let stderr = self.stderr.lock().map(|s| s.clone()).unwrap_or_default();
        (status.code(), stdout, stderr)
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime")
}

/// The browser's part without a browser: follows the URL through the emulator's
/// immediate approval to the CLI's loopback listener.
fn follow(url: &str) -> (u16, String) {
    runtime().block_on(async {
        let response = reqwest::get(url).await.expect("the redirect chain");
        (response.status().as_u16(), response.text().await.unwrap_or_default())
    })
}

/// Logs in through the binary with an auto-approving emulator; returns everything it printed.
fn login(emulator: &Emulator, home: &Home) -> String {
    let login = Login::spawn(emulator, home, &[]);
    let (status, page) = follow(&login.url());
    assert_eq!(status, 200, "{page}");
    let (code, stdout, stderr) = login.wait(Duration::from_secs(30));
    assert_eq!(code, Some(0), "login failed:\n{stdout}\n{stderr}");
    format!("{stdout}{stderr}")
}

fn mode_of(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).permissions().mode() & 0o777
}

fn stored(home: &Home) -> Credentials {
    let text = std::fs::read_to_string(home.token_file()).expect("the token file");
    Credentials::from_json(&text, "the token file").expect("a credential")
}

// ---- headless Chromium through chromedriver's WebDriver API ----

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// chromedriver on a free port; killed when dropped.
struct Driver {
    child: Child,
    base: String,
    http: reqwest::Client,
    runtime: tokio::runtime::Runtime,
    profile: tempfile::TempDir,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Driver {
    fn start() -> Driver {
        for program in [CHROMIUM, CHROMEDRIVER] {
            assert!(
                Path::new(program).exists(),
                "{program} is missing: this test drives a real browser; install it with \
                 `apt-get install -y --no-install-recommends chromium chromium-driver` (.ci/test does)"
            );
        }
        let port =
            std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a port").port();
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting chromedriver");
        let driver = Driver {
            child,
            base: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::new(),
            runtime: runtime(),
            profile: tempfile::tempdir().expect("a profile folder"),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let ready = driver.call("GET", "/status", None).ok().and_then(|v| v["value"]["ready"].as_bool());
            if ready == Some(true) {
                return driver;
            }
            assert!(Instant::now() < deadline, "chromedriver did not become ready on port {port}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> Result<serde_json::Value, String> {
        let url = format!("{}{path}", self.base);
        self.runtime.block_on(async {
            let request = match method {
                "GET" => self.http.get(&url),
                "DELETE" => self.http.delete(&url),
                _ => self.http.post(&url).json(&body.unwrap_or_else(|| serde_json::json!({}))),
            };
            let response = request.send().await.map_err(|e| e.to_string())?;
            let status = response.status();
            let json: serde_json::Value = response.json().await.map_err(|e| e.to_string())?;
            if status.is_success() {
                Ok(json)
            } else {
                Err(format!("{method} {path}: {status}: {json}"))
            }
        })
    }

    fn session(&self) -> Session<'_> {
        let capabilities = serde_json::json!({"capabilities": {"alwaysMatch": {
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    "--disable-dev-shm-usage",
                    format!("--user-data-dir={}", self.profile.path().display()),
                ],
            },
        }}});
        let created = self.call("POST", "/session", Some(capabilities)).expect("a Chromium session");
        let id = created["value"]["sessionId"].as_str().expect("a session id").to_owned();
        Session { driver: self, id }
    }
}

struct Session<'a> {
    driver: &'a Driver,
    id: String,
}

impl Drop for Session<'_> {
    fn drop(&mut self) {
        let _ = self.driver.call("DELETE", &format!("/session/{}", self.id), None);
    }
}

impl Session<'_> {
    fn go(&self, url: &str) {
        self.driver
            .call("POST", &format!("/session/{}/url", self.id), Some(serde_json::json!({"url": url})))
            .expect("navigating");
    }

    fn source(&self) -> String {
        let v = self.driver.call("GET", &format!("/session/{}/source", self.id), None).expect("page source");
        v["value"].as_str().unwrap_or_default().to_owned()
    }

    fn click(&self, css: &str) {
        let found = self
            .driver
            .call(
                "POST",
                &format!("/session/{}/element", self.id),
                Some(serde_json::json!({"using": "css selector", "value": css})),
            )
            .unwrap_or_else(|e| panic!("no `{css}` on the page ({e}):\n{}", self.source()));
        // The W3C WebDriver element reference key.
        let element = found["value"]["element-6066-11e4-a52e-4f735466cecf"]
            .as_str()
            .unwrap_or_else(|| panic!("no element reference in {found}"));
        self.driver
            .call("POST", &format!("/session/{}/element/{element}/click", self.id), None)
            .expect("clicking");
    }

    /// Waits until the page holds `text`.
    fn wait_for(&self, text: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let source = self.source();
            if source.contains(text) {
                return source;
            }
            assert!(Instant::now() < deadline, "the page never showed {text:?}:\n{source}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

#[test]
fn login_clicked_through_in_chromium_stores_a_private_token_that_works() {
    // First, so a machine without Chromium fails here, saying what to install.
    let driver = Driver::start();
    let emulator = emulator(false, false);
    let home = Home::new();
    let login = Login::spawn(&emulator, &home, &[]);
    let url = login.url();
    assert!(url.starts_with(&format!("{}/o/oauth2/v2/auth?", emulator.base_url())), "{url}");
    for part in ["code_challenge_method=S256", "access_type=offline", "response_type=code"] {
        assert!(url.contains(part), "{part} missing from {url}");
    }
    assert!(
        url.contains(&format!("scope={}", "https%3A%2F%2Fwww.googleapis.com%2Fauth%2Fspreadsheets")),
        "{url}"
    );

    let browser = driver.session();
    browser.go(&url);
    let consent = browser.wait_for("id=\"allow\"");
    assert!(consent.contains("sheetbridge (ledger)") && consent.contains("ada@example.com"), "{consent}");
    browser.click("#allow");
    browser.wait_for("sheetbridge is signed in");

    let (code, stdout, stderr) = login.wait(Duration::from_secs(30));
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("Signed in to Google with the OAuth client 123-desktop"), "{stdout}");
    assert_eq!(mode_of(&home.token_file()), 0o600, "the token file is its owner's only");
    let Credentials::AuthorizedUser(user) = stored(&home) else { panic!("not a user's credential") };
    assert_eq!(user.client_id, CLIENT_ID);
    let all = format!("{stdout}{stderr}");
    assert!(
        !all.contains(user.refresh_token.expose()) && !all.contains(CLIENT_SECRET),
        "a secret was printed"
    );

    // The first API call with the stored credential: a Sheets spreadsheets.get.
    let endpoints = Endpoints::at(emulator.base_url());
    let id = emulator.with_sheets(|s| s.create_spreadsheet(None, "Ledger"));
    let (identity, title) = runtime().block_on(async {
        let tokens = TokenSource::from_credentials(stored(&home), &endpoints).expect("a token source");
        let token = tokens.token().await.expect("an access token");
        let client = SheetsClient::new(endpoints.clone(), tokens).expect("a Sheets client");
        let info = client.spreadsheet(&id).await.expect("the Sheets API answers the stored credential");
        (emulator.with_oauth(|o| o.identity_for(&token)), info.title)
    });
    assert_eq!(title, "Ledger");
    let identity = identity.expect("the token is live at the emulator");
    assert_eq!((identity.user.as_str(), identity.project.as_str()), ("ada@example.com", "ledger-prod"));
    assert_eq!(identity.scopes, [SCOPE]);
    let status = run(&emulator, &home, &["auth", "status"]);
    assert_eq!(status.status.code(), Some(0), "{}", text(&status));
    assert!(String::from_utf8_lossy(&status.stdout).contains("refresh: ok"), "{}", text(&status));
}

#[test]
fn a_redirect_with_another_state_stores_nothing() {
    let emulator = emulator(true, false);
    let home = Home::new();
    let login = Login::spawn(&emulator, &home, &[]);
    let url = login.url();
    let redirect = url::Url::parse(&url)
        .expect("a URL")
        .query_pairs()
        .find(|(k, _)| k == "redirect_uri")
        .map(|(_, v)| v.into_owned())
        .expect("a redirect_uri");
    let (status, _) = follow(&format!("{redirect}/?state=forged&code=4/0Aforged&scope={SCOPE}"));
    assert_eq!(status, 400);
    let (code, stdout, stderr) = login.wait(Duration::from_secs(30));
    assert_eq!(code, Some(7), "{stdout}\n{stderr}");
    assert!(stderr.contains("the browser came back with a `state` that is not this login's"), "{stderr}");
    assert!(!home.token_file().exists(), "nothing is stored");
    assert!(emulator.requests().iter().all(|r| r.path != "/token"), "no code was exchanged");
}

#[test]
fn a_login_nobody_finishes_times_out_and_says_how_to_go_on() {
    let emulator = emulator(true, false);
    let home = Home::new();
    let login = Login::spawn(&emulator, &home, &["--timeout", "1"]);
    let _ = login.url();
    let (code, stdout, stderr) = login.wait(Duration::from_secs(20));
    assert_eq!(code, Some(7), "{stdout}\n{stderr}");
    assert!(
        stderr.contains(
            "error: no answer from the browser within 1s: the login was abandoned and nothing was stored; \
             run `sheetbridge auth login` again (--timeout SECS gives more time)"
        ),
        "{stderr}"
    );
    assert!(!home.token_file().exists());
}

#[test]
fn a_code_obtained_with_another_pkce_challenge_is_refused_by_the_token_endpoint() {
    let emulator = emulator(true, false);
    let home = Home::new();
    let login = Login::spawn(&emulator, &home, &[]);
    let mut url = url::Url::parse(&login.url()).expect("a URL");
    // Someone else's challenge: the code it yields does not match the CLI's verifier.
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| {
            let v =
                if k == "code_challenge" { "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".into() } else { v };
            (k.into_owned(), v.into_owned())
        })
        .collect();
    url.query_pairs_mut().clear().extend_pairs(pairs);
    let (status, page) = follow(url.as_str());
    assert_eq!(status, 400, "{page}");
    let (code, stdout, stderr) = login.wait(Duration::from_secs(30));
    assert_eq!(code, Some(7), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("(invalid_grant: Invalid code verifier. (HTTP 400)); nothing was stored"),
        "{stderr}"
    );
    assert!(!home.token_file().exists());
}

#[test]
fn status_and_logout_after_a_login_and_no_secret_is_ever_printed() {
    let emulator = emulator(true, false);
    let home = Home::new();
    let mut printed = login(&emulator, &home);
    let Credentials::AuthorizedUser(user) = stored(&home) else { panic!("not a user's credential") };

    let status = run(&emulator, &home, &["--log", "trace", "auth", "status"]);
    printed.push_str(&text(&status));
    assert_eq!(status.status.code(), Some(0), "{}", text(&status));
    let out = String::from_utf8_lossy(&status.stdout);
    for line in ["Google: a user (", &format!("OAuth client: {CLIENT_ID}"), "scopes: ", "refresh: ok"] {
        assert!(out.contains(line), "no {line:?} in\n{out}");
    }
    let json = run(&emulator, &home, &["auth", "status", "--json"]);
    printed.push_str(&text(&json));
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).expect("JSON");
    assert_eq!(v["client_id"], CLIENT_ID);
    assert_eq!(v["type"], "authorized_user");
    assert_eq!(v["refresh_ok"], true);
    assert_eq!(v["scopes"], serde_json::json!([SCOPE]));

    let logout = run(&emulator, &home, &["--log", "trace", "auth", "logout"]);
    printed.push_str(&text(&logout));
    assert_eq!(logout.status.code(), Some(0), "{}", text(&logout));
    assert!(String::from_utf8_lossy(&logout.stdout).contains("Revoked sheetbridge's access at Google."));
    assert!(!home.token_file().exists());
    assert!(emulator.with_oauth(|o| o.live_grants()).is_empty(), "the grant was revoked at the emulator");
    let after = run(&emulator, &home, &["auth", "status"]);
    assert_eq!(after.status.code(), Some(7), "{}", text(&after));
    assert!(String::from_utf8_lossy(&after.stdout).contains("not signed in"), "{}", text(&after));

    for (name, secret) in [("client secret", CLIENT_SECRET), ("refresh token", user.refresh_token.expose())] {
        assert!(!printed.contains(secret), "the {name} was printed:\n{printed}");
    }
    assert!(!printed.contains("ya29."), "an access token was printed:\n{printed}");
}

#[test]
fn a_revoked_grant_is_reported_with_what_to_do() {
    let emulator = emulator(true, false);
    let home = Home::new();
    login(&emulator, &home);
    emulator.with_oauth(|o| o.revoke_grants_of("ada@example.com"));
    let status = run(&emulator, &home, &["auth", "status"]);
    assert_eq!(status.status.code(), Some(7), "{}", text(&status));
    let out = String::from_utf8_lossy(&status.stdout);
    assert!(
        out.contains(
            "refresh: FAILED: Google refused the stored grant (invalid_grant: Token has been \
             expired or revoked. (HTTP 400)): it was revoked or has expired"
        ),
        "{out}"
    );
    assert!(out.contains("run `sheetbridge auth login` again"), "{out}");
}

#[test]
fn a_token_file_others_can_read_is_refused_with_the_fix() {
    use std::os::unix::fs::PermissionsExt;
    let emulator = emulator(true, false);
    let home = Home::new();
    login(&emulator, &home);
    let path = home.token_file();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let status = run(&emulator, &home, &["auth", "status"]);
    assert_eq!(status.status.code(), Some(7), "{}", text(&status));
    let p = path.display();
    let expected = format!(
        "the token file `{p}` has mode 0644: other users can read the Google credential in it; \
         sheetbridge refuses to use it until only its owner can: chmod 600 {p}"
    );
    assert!(String::from_utf8_lossy(&status.stdout).contains(&expected), "{}", text(&status));
}

#[test]
fn a_testing_apps_sign_in_is_warned_about_as_its_seven_days_end() {
    let emulator = emulator(true, true);
    let home = Home::new();
    let printed = login(&emulator, &home);
    assert!(printed.contains("the OAuth app is in testing, so Google ends this sign-in on"), "{printed}");
    let status = run(&emulator, &home, &["auth", "status"]);
    assert_eq!(status.status.code(), Some(0), "{}", text(&status));
    assert!(
        !String::from_utf8_lossy(&status.stderr).contains("warning"),
        "a fresh sign-in is not warned about"
    );

    // Six days later (the stored issue and expiry times moved back).
    let Credentials::AuthorizedUser(mut user) = stored(&home) else { panic!("not a user's credential") };
    let six_days = chrono::TimeDelta::days(6);
    user.issued_at = user.issued_at.map(|t| t - six_days);
    user.refresh_token_expires_at = user.refresh_token_expires_at.map(|t| t - six_days);
    sheetbridge_google_sheets::auth::write_token_file(&home.token_file(), &Credentials::AuthorizedUser(user))
        .expect("rewrite");
    let status = run(&emulator, &home, &["auth", "status"]);
    let err = String::from_utf8_lossy(&status.stderr);
    assert!(err.contains("warning: the sign-in ends on"), "{}", text(&status));
    assert!(err.contains("the OAuth app is in testing, whose grants last 7 days"), "{err}");
}

#[test]
fn a_service_account_key_is_checked_stored_and_its_sharing_explained() {
    let emulator = emulator(true, false);
    let home = Home::new();
    let pem = emulator_testing::rsa_key_pem();
    let email = "sync@ledger-prod.iam.gserviceaccount.com";
    let key = emulator_testing::service_account_key(email, "ledger-prod");
    let key_file = home.path(&format!("ledger-prod-{}.json", emulator_testing::KEY_ID));
    std::fs::write(&key_file, &key).expect("write the key");

    // Not registered yet: Google refuses, nothing is stored.
    let refused =
        run(&emulator, &home, &["auth", "service-account", "--key", key_file.to_str().expect("utf-8")]);
    assert_eq!(refused.status.code(), Some(7), "{}", text(&refused));
    assert!(!home.token_file().exists());

    emulator.with_oauth(|o| o.register_service_account(&key)).expect("register");
    let added = run(
        &emulator,
        &home,
        &["--log", "trace", "auth", "service-account", "--key", key_file.to_str().expect("utf-8")],
    );
    assert_eq!(added.status.code(), Some(0), "{}", text(&added));
    let out = String::from_utf8_lossy(&added.stdout);
    assert!(out.contains(&format!("Share each spreadsheet sheetbridge should use with {email}")), "{out}");
    assert_eq!(mode_of(&home.token_file()), 0o600);
    assert!(matches!(stored(&home), Credentials::ServiceAccount(k) if k.client_email == email));

    let status = run(&emulator, &home, &["--log", "trace", "auth", "status"]);
    assert_eq!(status.status.code(), Some(0), "{}", text(&status));
    assert!(String::from_utf8_lossy(&status.stdout).contains(&format!("Google: service account {email}")));
    assert!(
        String::from_utf8_lossy(&status.stderr).contains(&format!(
            "warning: a service account sees only the spreadsheets shared with it: share each one with {email}"
        )),
        "{}",
        text(&status)
    );
    let key_body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect::<Vec<_>>().join("");
    for out in [&refused, &added, &status] {
        let all = text(out);
        assert!(
            !all.contains("PRIVATE KEY") && !all.contains(&key_body[..40]),
            "the key was printed:\n{all}"
        );
    }

    // The same key from the environment, as a container passes it.
    let env_home = Home::new();
    let from_env = command(&emulator, &env_home, &["auth", "status", "--json"])
        .env("SHEETBRIDGE_GOOGLE_CREDENTIALS", &key)
        .output()
        .expect("run");
    assert_eq!(from_env.status.code(), Some(0), "{}", text(&from_env));
    let v: serde_json::Value = serde_json::from_slice(&from_env.stdout).expect("JSON");
    assert_eq!(v["source"], "SHEETBRIDGE_GOOGLE_CREDENTIALS");
    assert_eq!(v["account"], email);
}

#[test]
fn every_auth_command_has_examples_and_a_login_without_a_client_says_which_flags() {
    let emulator = emulator(true, false);
    let home = Home::new();
    for args in [
        &["auth", "--help"][..],
        &["auth", "login", "--help"],
        &["auth", "service-account", "--help"],
        &["auth", "status", "--help"],
        &["auth", "logout", "--help"],
    ] {
        let out = run(&emulator, &home, args);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        let help = String::from_utf8_lossy(&out.stdout);
        assert!(help.contains("Examples:") && help.contains("sheetbridge auth"), "{args:?}:\n{help}");
    }
    let out = run(&emulator, &home, &["auth", "login", "--no-browser"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("pass --client-secret client_secret.json"),
        "{}",
        text(&out)
    );
    let out = run(&emulator, &home, &["auth", "logout"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("Not signed in: there is no token file at"),
        "{}",
        text(&out)
    );
}
