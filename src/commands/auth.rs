//! `sheetbridge auth`: give sheetbridge access to Google Sheets and check it.
//!
//! `login` runs Google's installed-app flow (a loopback redirect on
//! 127.0.0.1 with PKCE) and stores the refresh token; `service-account`
//! stores a service account's key; `status` says which identity is in use
//! and whether refreshing works; `logout` revokes the grant and deletes the
//! token file. The token file is written with mode 0600; secrets are never
//! printed.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Subcommand};
use sheetbridge_core::{Error, ErrorKind};
use sheetbridge_google_sheets::auth::login::{self, OAuthClient};
use sheetbridge_google_sheets::auth::{
    self, CredentialSource, Credentials, Secret, TokenSource, CREDENTIALS_ENV, CREDENTIALS_FILE_ENV,
};
use sheetbridge_google_sheets::config::SCOPE;
use sheetbridge_google_sheets::Endpoints;

use crate::exit::Code;

/// Google access: sign in, use a service account, check, sign out.
#[derive(Debug, Args)]
pub struct AuthArgs {
    #[command(subcommand)]
    pub command: AuthCommand,

    /// The config file whose [google] section names the endpoint, the token file and a
    /// mounted credentials file (default: ./sheetbridge.toml when present).
    #[arg(long, global = true, env = "SHEETBRIDGE_CONFIG")]
    pub config: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum AuthCommand {
    /// Sign in with a Google account in the browser and store the refresh token.
    #[command(after_help = "\
Examples:
  sheetbridge auth login --client-secret ~/Downloads/client_secret_123.json
  sheetbridge auth login --client-secret client_secret.json --no-browser
  SHEETBRIDGE_GOOGLE_CLIENT_ID=123.apps.googleusercontent.com \\
  SHEETBRIDGE_GOOGLE_CLIENT_SECRET=... sheetbridge auth login --no-browser --timeout 600

The client is a \"Desktop app\" OAuth client of your Cloud project (APIs & Services →
Credentials). The browser comes back to http://127.0.0.1:PORT on this machine; from
another machine, forward that port (ssh -L PORT:127.0.0.1:PORT) or use a service account.
Only the spreadsheets scope is asked for.")]
    Login(LoginArgs),

    /// Use a service account's key instead of a person's account.
    #[command(after_help = "\
Examples:
  sheetbridge auth service-account --key ~/Downloads/ledger-prod-0123abcd.json

The key is checked with Google, then copied into the token file (mode 0600).
Share each spreadsheet with the service account's e-mail. In a container, set
SHEETBRIDGE_GOOGLE_CREDENTIALS (the key's JSON) or SHEETBRIDGE_GOOGLE_CREDENTIALS_FILE
(a mounted secret) instead.")]
    ServiceAccount(ServiceAccountArgs),

    /// Which Google identity is in use, its scopes, and whether refreshing works.
    #[command(after_help = "\
Examples:
  sheetbridge auth status
  sheetbridge auth status --json

Exits with 7 when there is no credential or Google refuses it.")]
    Status(StatusArgs),

    /// Revoke the stored grant at Google and delete the token file.
    #[command(after_help = "\
Examples:
  sheetbridge auth logout
  sheetbridge auth logout --token-file ./ci-token.json")]
    Logout(LogoutArgs),
}

#[derive(Debug, Args)]
pub struct TokenFileArg {
    /// Where the token is kept (default: $XDG_CONFIG_HOME/sheetbridge/google-token.json,
    /// else ~/.config/sheetbridge/google-token.json).
    #[arg(long, value_name = "PATH", env = "SHEETBRIDGE_GOOGLE_TOKEN_FILE")]
    pub token_file: Option<PathBuf>,
}

fn secret(text: &str) -> Result<Secret, std::convert::Infallible> {
    Ok(Secret::new(text))
}

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// The OAuth client's JSON as the Cloud console downloads it (`installed` or `web`).
    #[arg(long, value_name = "FILE")]
    pub client_secret: Option<PathBuf>,

    /// The OAuth client's id (with --client-secret-value), instead of a JSON file.
    #[arg(long, env = "SHEETBRIDGE_GOOGLE_CLIENT_ID")]
    pub client_id: Option<String>,

    /// The OAuth client's secret; prefer the environment variable to a flag,
    /// which other users can see in the process list.
    #[arg(long, env = "SHEETBRIDGE_GOOGLE_CLIENT_SECRET", hide_env_values = true, value_parser = secret)]
    pub client_secret_value: Option<Secret>,

    /// Print the link only; do not try to open a browser.
    #[arg(long)]
    pub no_browser: bool,

    /// How long to wait for the browser, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 300)]
    pub timeout: u64,

    /// The account to suggest on Google's sign-in page.
    #[arg(long, value_name = "EMAIL")]
    pub login_hint: Option<String>,

    #[command(flatten)]
    pub token: TokenFileArg,
}

#[derive(Debug, Args)]
pub struct ServiceAccountArgs {
    /// The service account's key (JSON) as the Cloud console downloads it.
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,

    #[command(flatten)]
    pub token: TokenFileArg,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Print the status as JSON on stdout.
    #[arg(long)]
    pub json: bool,

    #[command(flatten)]
    pub token: TokenFileArg,
}

#[derive(Debug, Args)]
pub struct LogoutArgs {
    #[command(flatten)]
    pub token: TokenFileArg,
}

pub async fn run(args: AuthArgs) -> anyhow::Result<Code> {
    let settings = crate::google::settings(args.config.as_deref())?;
    let endpoints = crate::google::endpoints(&settings);
    // --token-file (or its variable) first, then the config's `token_file`.
    let with_file = |token: &mut TokenFileArg| {
        if token.token_file.is_none() {
            token.token_file.clone_from(&settings.token_file);
        }
    };
    match args.command {
        AuthCommand::Login(mut a) => {
            with_file(&mut a.token);
            login(a, &endpoints).await
        }
        AuthCommand::ServiceAccount(mut a) => {
            with_file(&mut a.token);
            service_account(a, &endpoints).await
        }
        AuthCommand::Status(mut a) => {
            with_file(&mut a.token);
            status(a, &endpoints, settings.credentials_file.as_deref()).await
        }
        AuthCommand::Logout(mut a) => {
            with_file(&mut a.token);
            logout(a, &endpoints).await
        }
    }
}

fn oauth_client(args: &LoginArgs) -> Result<OAuthClient, Error> {
    if let Some(path) = &args.client_secret {
        return OAuthClient::from_file(path);
    }
    match (&args.client_id, &args.client_secret_value) {
        (Some(id), Some(secret)) => Ok(OAuthClient { client_id: id.clone(), client_secret: secret.clone() }),
        (Some(_), None) => Err(Error::new(
            ErrorKind::InvalidInput,
            "--client-id needs the client's secret too: --client-secret-value or SHEETBRIDGE_GOOGLE_CLIENT_SECRET",
        )),
        _ => Err(Error::new(
            ErrorKind::InvalidInput,
            "which OAuth client? pass --client-secret client_secret.json (a Desktop app client downloaded \
             from the Cloud console), or --client-id with SHEETBRIDGE_GOOGLE_CLIENT_SECRET",
        )),
    }
}

async fn login(args: LoginArgs, endpoints: &Endpoints) -> anyhow::Result<Code> {
    let client = oauth_client(&args)?;
    let path = auth::token_file_path(args.token.token_file.as_deref())?;
    let pending = login::start(client, endpoints, args.login_hint.as_deref()).await?;
    let timeout = Duration::from_secs(args.timeout.max(1));
    eprintln!("To let sheetbridge see and edit your Google Sheets, open this link in a browser:\n");
    eprintln!("  {}\n", pending.url());
    if !args.no_browser && open_browser(pending.url()) {
        eprintln!("(A browser was asked to open it.)");
    }
    eprintln!(
        "Waiting up to {} for the browser to come back to {} ...",
        login::human_duration(timeout),
        pending.redirect_uri()
    );
    let user = pending.finish(timeout).await?;
    let who = match &user.account {
        Some(account) => format!("as {account}"),
        None => format!("to Google with the OAuth client {}", user.client_id),
    };
    let expires = user.refresh_token_expires_at;
    auth::write_token_file(&path, &Credentials::AuthorizedUser(user))?;
    println!("Signed in {who}; the token is in {} (readable by you only).", path.display());
    if let Some(at) = expires {
        println!(
            "note: the OAuth app is in testing, so Google ends this sign-in on {} (7 days); publish the app \
             in the Cloud console (OAuth consent screen) to keep it, or run `sheetbridge auth login` again then.",
            at.format("%Y-%m-%d %H:%M UTC")
        );
    }
    env_note();
    Ok(Code::Success)
}

/// Opens `url` in the desktop's browser when there is a desktop; never fails.
fn open_browser(url: &str) -> bool {
    let program = if cfg!(target_os = "macos") {
        "open"
    } else if std::env::var_os("DISPLAY").is_some() || std::env::var_os("WAYLAND_DISPLAY").is_some() {
        "xdg-open"
    } else {
        return false;
    };
    std::process::Command::new(program)
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .is_ok()
}

async fn service_account(args: ServiceAccountArgs, endpoints: &Endpoints) -> anyhow::Result<Code> {
    let text = std::fs::read_to_string(&args.key)
        .with_context(|| format!("reading the service account key `{}`", args.key.display()))?;
    let what = format!("the service account key `{}`", args.key.display());
    let credentials = Credentials::from_json(&text, &what)?;
    let Credentials::ServiceAccount(key) = &credentials else {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            format!("{what} is a user's credential, not a service account key; use `sheetbridge auth login`"),
        )
        .into());
    };
    let email = key.client_email.clone();
    let path = auth::token_file_path(args.token.token_file.as_deref())?;
    let tokens = TokenSource::from_credentials(credentials.clone(), endpoints)?;
    tokens.token().await.with_context(|| format!("checking {what} with Google; nothing was stored"))?;
    auth::write_token_file(&path, &credentials)?;
    println!("Using the service account {email}; its key is in {} (readable by you only).", path.display());
    println!(
        "Share each spreadsheet sheetbridge should use with {email} (Share → add it as an Editor); \
         it sees nothing else."
    );
    println!("You can delete the downloaded key `{}` now.", args.key.display());
    Ok(Code::Success)
}

/// What `auth status` found, as `--json` prints it.
#[derive(Debug, Default, serde::Serialize)]
struct Status {
    signed_in: bool,
    /// `authorized_user` or `service_account`.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    kind: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    source: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    account: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_id: Option<String>,
    scopes: Vec<String>,
    /// Whether a fresh access token could be had.
    refresh_ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    issued_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token_expires_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    warnings: Vec<String>,
}

/// How close to its end a testing app's grant is warned about.
const EXPIRY_WARNING: chrono::TimeDelta = chrono::TimeDelta::days(2);

async fn status(
    args: StatusArgs,
    endpoints: &Endpoints,
    credentials_file: Option<&std::path::Path>,
) -> anyhow::Result<Code> {
    let mut st = Status::default();
    let token_file = args.token.token_file.as_deref();
    let found = match auth::discover(credentials_file, token_file) {
        Ok(found) => found,
        Err(e) => {
            st.error = Some(e.to_string());
            return Ok(print_status(&st, args.json));
        }
    };
    let Some((credentials, source)) = found else {
        let path = auth::token_file_path(token_file)?;
        st.error = Some(format!(
            "not signed in: no token file at `{}`, and neither {CREDENTIALS_ENV} nor {CREDENTIALS_FILE_ENV} is set; \
             run `sheetbridge auth login`",
            path.display()
        ));
        return Ok(print_status(&st, args.json));
    };
    st.signed_in = true;
    st.source = Some(source_text(&source));
    st.account = credentials.account().map(str::to_owned);
    let now = chrono::Utc::now();
    match &credentials {
        Credentials::AuthorizedUser(user) => {
            st.kind = Some("authorized_user");
            st.client_id = Some(user.client_id.clone());
            st.issued_at = user.issued_at.map(rfc3339);
            st.refresh_token_expires_at = user.refresh_token_expires_at.map(rfc3339);
            if let Some(at) = user.refresh_token_expires_at {
                let left = at - now;
                if left <= chrono::TimeDelta::zero() {
                    st.warnings.push(format!(
                        "the sign-in ended on {}: the OAuth app is in testing, whose grants last 7 days; \
                         run `sheetbridge auth login` again (publish the app to stop this)",
                        at.format("%Y-%m-%d %H:%M UTC")
                    ));
                } else if left <= EXPIRY_WARNING {
                    st.warnings.push(format!(
                        "the sign-in ends on {} (in {} hours): the OAuth app is in testing, whose grants last \
                         7 days; run `sheetbridge auth login` again before then, or publish the app",
                        at.format("%Y-%m-%d %H:%M UTC"),
                        left.num_hours()
                    ));
                }
            }
        }
        Credentials::ServiceAccount(key) => {
            st.kind = Some("service_account");
            st.warnings.push(format!(
                "a service account sees only the spreadsheets shared with it: share each one with {}",
                key.client_email
            ));
        }
    }
    let tokens = match TokenSource::from_credentials(credentials, endpoints) {
        Ok(t) => t,
        Err(e) => {
            st.error = Some(e.to_string());
            return Ok(print_status(&st, args.json));
        }
    };
    if let Err(e) = tokens.token().await {
        st.error = Some(e.to_string());
        return Ok(print_status(&st, args.json));
    }
    st.refresh_ok = true;
    match tokens.info().await {
        Ok(info) => {
            if let Some(email) = info.email {
                st.account = Some(email);
            }
            if !info.scopes.iter().any(|s| s == SCOPE) {
                st.warnings.push(format!(
                    "the access does not include Google Sheets ({SCOPE}); run `sheetbridge auth login` again"
                ));
            }
            st.scopes = info.scopes;
        }
        Err(e) => st.warnings.push(format!("cannot read the token's scopes: {e}")),
    }
    Ok(print_status(&st, args.json))
}

fn rfc3339(at: chrono::DateTime<chrono::Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn source_text(source: &CredentialSource) -> String {
    match source {
        CredentialSource::Env => CREDENTIALS_ENV.to_owned(),
        CredentialSource::File(p) | CredentialSource::TokenFile(p) => p.display().to_string(),
    }
}

fn print_status(st: &Status, json: bool) -> Code {
    let ok = st.signed_in && st.refresh_ok;
    if json {
        println!("{}", serde_json::to_string_pretty(st).unwrap_or_default());
    } else if !st.signed_in {
        println!("Google: not signed in");
        if let Some(e) = &st.error {
            println!("  {e}");
        }
    } else {
        match (st.kind, &st.account) {
            (Some("service_account"), account) => {
                println!("Google: service account {}", account.as_deref().unwrap_or("(unknown)"))
            }
            (_, Some(account)) => println!("Google: user {account}"),
            (_, None) => {
                println!("Google: a user (Google does not tell the e-mail for the spreadsheets scope alone)")
            }
        }
        if let Some(source) = &st.source {
            println!("  credential: {source}");
        }
        if let Some(client) = &st.client_id {
            println!("  OAuth client: {client}");
        }
        if let Some(at) = &st.issued_at {
            println!("  signed in: {at}");
        }
        if let Some(at) = &st.refresh_token_expires_at {
            println!("  sign-in ends: {at} (the OAuth app is in testing: 7 days)");
        }
        if !st.scopes.is_empty() {
            println!("  scopes: {}", st.scopes.join(" "));
        }
        match &st.error {
            None => println!("  refresh: ok"),
            Some(e) => println!("  refresh: FAILED: {e}"),
        }
    }
    if !json {
        for w in &st.warnings {
            eprintln!("warning: {w}");
        }
    }
    if ok {
        Code::Success
    } else {
        Code::Connection
    }
}

async fn logout(args: LogoutArgs, endpoints: &Endpoints) -> anyhow::Result<Code> {
    let path = auth::token_file_path(args.token.token_file.as_deref())?;
    let Some(credentials) = auth::read_token_file(&path)? else {
        println!("Not signed in: there is no token file at {}.", path.display());
        env_note();
        return Ok(Code::Success);
    };
    match &credentials {
        Credentials::AuthorizedUser(user) => {
            let revoked = auth::revoke(endpoints, &user.refresh_token).await.map_err(|e| {
                anyhow::Error::new(e).context(format!(
                    "revoking the grant at Google failed, so the token file `{}` was kept; run \
                     `sheetbridge auth logout` again, or delete the file and remove sheetbridge at \
                     https://myaccount.google.com/permissions",
                    path.display()
                ))
            })?;
            if revoked {
                println!("Revoked sheetbridge's access at Google.");
            } else {
                println!("Google had already revoked or expired this sign-in.");
            }
        }
        Credentials::ServiceAccount(key) => println!(
            "A service account key cannot be revoked by signing out: delete key {} of {} in the Cloud \
             console (IAM → Service accounts → Keys) if it should stop working everywhere.",
            if key.private_key_id.is_empty() { "(unknown id)" } else { &key.private_key_id },
            key.client_email
        ),
    }
    auth::delete_token_file(&path)?;
    println!("Deleted {}.", path.display());
    env_note();
    Ok(Code::Success)
}

/// Says so when a credential in the environment is used instead of the token file.
fn env_note() {
    for var in [CREDENTIALS_ENV, CREDENTIALS_FILE_ENV] {
        if std::env::var_os(var).is_some_and(|v| !v.is_empty()) {
            println!("note: {var} is set; sheetbridge uses that credential, not the token file.");
        }
    }
}
