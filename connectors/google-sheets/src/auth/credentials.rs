//! Google credentials in Google's own JSON shapes, and the token file that
//! keeps them: where it is, written atomically with mode 0600, refused when
//! other users could read it.

use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use sheetbridge_core::{Error, ErrorKind};

use super::Secret;

/// The environment variable holding a credential's JSON (a container's secret).
pub const CREDENTIALS_ENV: &str = "SHEETBRIDGE_GOOGLE_CREDENTIALS";
/// The environment variable naming a mounted credential file.
pub const CREDENTIALS_FILE_ENV: &str = "SHEETBRIDGE_GOOGLE_CREDENTIALS_FILE";
/// The environment variable naming the token file (`--token-file` wins over it).
pub const TOKEN_FILE_ENV: &str = "SHEETBRIDGE_GOOGLE_TOKEN_FILE";

/// How long Google keeps a refresh token of an app in "testing" publishing status.
pub const TESTING_REFRESH_LIFETIME: chrono::TimeDelta = chrono::TimeDelta::days(7);

/// A user's consent, as Google's `authorized_user` JSON (what `gcloud auth
/// application-default login` writes), plus what sheetbridge records about it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AuthorizedUser {
    pub client_id: String,
    pub client_secret: Secret,
    pub refresh_token: Secret,
    /// The user's e-mail, as tokeninfo gave it at login.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// When the refresh token was issued (sheetbridge's addition).
    #[serde(default, skip_serializing_if = "Option::is_none", with = "rfc3339")]
    pub issued_at: Option<DateTime<Utc>>,
    /// When Google said the refresh token expires: set for an OAuth app in
    /// "testing" publishing status, whose refresh tokens live 7 days.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "rfc3339")]
    pub refresh_token_expires_at: Option<DateTime<Utc>>,
}

/// A service account's key, as the Cloud console downloads it (`service_account` JSON).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ServiceAccountKey {
    pub client_email: String,
    pub private_key: Secret,
    #[serde(default)]
    pub private_key_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_uri: Option<String>,
}

/// Any credential sheetbridge can get access tokens with; the JSON's `type` says which.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Credentials {
    AuthorizedUser(AuthorizedUser),
    ServiceAccount(ServiceAccountKey),
}

/// Where a credential was found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CredentialSource {
    /// The JSON in `SHEETBRIDGE_GOOGLE_CREDENTIALS`.
    Env,
    /// A mounted credential file (`SHEETBRIDGE_GOOGLE_CREDENTIALS_FILE` or the config's).
    File(PathBuf),
    /// The token file `sheetbridge auth` wrote.
    TokenFile(PathBuf),
}

impl std::fmt::Display for CredentialSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CredentialSource::Env => write!(f, "the environment variable {CREDENTIALS_ENV}"),
            CredentialSource::File(p) => write!(f, "the credential file `{}`", p.display()),
            CredentialSource::TokenFile(p) => write!(f, "the token file `{}`", p.display()),
        }
    }
}

impl Credentials {
    /// Parses Google's JSON (`authorized_user` or `service_account`); `what`
    /// names the input in errors, which never quote it.
    pub fn from_json(text: &str, what: &str) -> Result<Credentials, Error> {
        let value: serde_json::Value = serde_json::from_str(text)
            .map_err(|e| invalid(format!("{what} is not JSON (line {}, column {})", e.line(), e.column())))?;
        match value.get("type").and_then(|t| t.as_str()) {
            Some("authorized_user" | "service_account") => {}
            Some(other) => {
                return Err(invalid(format!(
                    "{what} holds a `{other}` credential; sheetbridge takes `authorized_user` (from \
                     `sheetbridge auth login`) or `service_account` (a key downloaded from the Cloud console)"
                )))
            }
            None if value.get("installed").is_some() || value.get("web").is_some() => {
                return Err(invalid(format!(
                    "{what} is an OAuth client (client_secret.json), not a credential; pass it to \
                     `sheetbridge auth login --client-secret FILE`"
                )))
            }
            None => {
                return Err(invalid(format!("{what} has no `type` (authorized_user or service_account)")))
            }
        }
        // The message names the missing or mistyped field, never a value.
        serde_json::from_value(value)
            .map_err(|e| invalid(format!("{what}: {}", strip_values(&e.to_string()))))
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default() + "\n"
    }

    /// Who the credential speaks for: the user's or the service account's e-mail, when known.
    pub fn account(&self) -> Option<&str> {
        match self {
            Credentials::AuthorizedUser(u) => u.account.as_deref(),
            Credentials::ServiceAccount(k) => Some(&k.client_email),
        }
    }
}

/// serde's messages quote the offending value (`invalid type: string "…"`); keep the field only.
fn strip_values(message: &str) -> String {
    match message.find('"') {
        Some(at) if message.contains("invalid") => message[..at].trim_end().to_owned() + " (value not shown)",
        _ => message.to_owned(),
    }
}

fn invalid(message: String) -> Error {
    Error::new(ErrorKind::InvalidInput, message)
}

/// `$XDG_CONFIG_HOME/sheetbridge/google-token.json`, else `~/.config/sheetbridge/google-token.json`.
pub fn default_token_file() -> Result<PathBuf, Error> {
    let config = match std::env::var_os("XDG_CONFIG_HOME").filter(|v| !v.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => match std::env::var_os("HOME").filter(|v| !v.is_empty()) {
            Some(home) => PathBuf::from(home).join(".config"),
            None => {
                return Err(invalid(format!(
                    "cannot place the token file: neither XDG_CONFIG_HOME nor HOME is set; \
                     pass --token-file or set {TOKEN_FILE_ENV}"
                )))
            }
        },
    };
    Ok(config.join("sheetbridge").join("google-token.json"))
}

/// The token file: `explicit` (a flag or the config file), else `SHEETBRIDGE_GOOGLE_TOKEN_FILE`,
/// else [`default_token_file`].
pub fn token_file_path(explicit: Option<&Path>) -> Result<PathBuf, Error> {
    if let Some(path) = explicit {
        return Ok(path.to_owned());
    }
    match std::env::var_os(TOKEN_FILE_ENV).filter(|v| !v.is_empty()) {
        Some(path) => Ok(PathBuf::from(path)),
        None => default_token_file(),
    }
}

/// Reads the token file; `Ok(None)` when it does not exist. A file that
/// group or others can read is refused, naming its mode and the fix.
pub fn read_token_file(path: &Path) -> Result<Option<Credentials>, Error> {
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(Error::new(
                ErrorKind::Unauthorized,
                format!("cannot read the token file `{}`: {e}", path.display()),
            )
            .with_source(e))
        }
    };
    check_private(&file, path)?;
    let text = std::io::read_to_string(file).map_err(|e| {
        Error::new(ErrorKind::Unauthorized, format!("cannot read the token file `{}`: {e}", path.display()))
    })?;
    Credentials::from_json(&text, &format!("the token file `{}`", path.display())).map(Some)
}

#[cfg(unix)]
fn check_private(file: &std::fs::File, path: &Path) -> Result<(), Error> {
    use std::os::unix::fs::PermissionsExt;
    let mode = file
        .metadata()
        .map_err(|e| {
            Error::new(
                ErrorKind::Unauthorized,
                format!("cannot stat the token file `{}`: {e}", path.display()),
            )
        })?
        .permissions()
        .mode()
        & 0o777;
    if mode & 0o077 != 0 {
        return Err(Error::new(
            ErrorKind::Unauthorized,
            format!(
                "the token file `{p}` has mode {mode:04o}: other users can read the Google credential in it; \
                 sheetbridge refuses to use it until only its owner can: chmod 600 {p}",
                p = path.display()
            ),
        ));
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private(_file: &std::fs::File, _path: &Path) -> Result<(), Error> {
    Ok(())
}

/// Writes the token file atomically (a temporary file in the same folder,
/// mode 0600, synced, then renamed over), creating its folder with mode 0700.
pub fn write_token_file(path: &Path, credentials: &Credentials) -> Result<(), Error> {
    let fail = |what: &str, e: std::io::Error| {
        Error::new(ErrorKind::Other, format!("cannot write the token file `{}`: {what}: {e}", path.display()))
    };
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    create_private_dir(dir).map_err(|e| fail(&format!("creating `{}`", dir.display()), e))?;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("google-token.json");
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut file = open_private(&tmp)?;
        file.write_all(credentials.to_json().as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(fail("writing", e));
    }
    Ok(())
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)
}

#[cfg(unix)]
fn open_private(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(path)
}

#[cfg(not(unix))]
fn open_private(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new().write(true).create(true).truncate(true).open(path)
}

/// Deletes the token file; false when there was none.
pub fn delete_token_file(path: &Path) -> Result<bool, Error> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(Error::new(
            ErrorKind::Other,
            format!("cannot delete the token file `{}`: {e}", path.display()),
        )),
    }
}

/// Finds the credential to use, first match wins:
/// 1. the JSON in `SHEETBRIDGE_GOOGLE_CREDENTIALS`;
/// 2. the file named by `SHEETBRIDGE_GOOGLE_CREDENTIALS_FILE`, else `credentials_file` (the config's);
/// 3. the token file ([`token_file_path`] of `token_file`).
///
/// A mounted credential file is not checked for its mode: container runtimes
/// mount secrets readable by all (0444) inside a container only its process
/// shares. The token file on a workstation is checked.
pub fn discover(
    credentials_file: Option<&Path>,
    token_file: Option<&Path>,
) -> Result<Option<(Credentials, CredentialSource)>, Error> {
    if let Some(json) = std::env::var(CREDENTIALS_ENV).ok().filter(|v| !v.trim().is_empty()) {
        let what = format!("the environment variable {CREDENTIALS_ENV}");
        return Ok(Some((Credentials::from_json(&json, &what)?, CredentialSource::Env)));
    }
    let mounted = std::env::var_os(CREDENTIALS_FILE_ENV)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| credentials_file.map(Path::to_owned));
    if let Some(path) = mounted {
        let text = std::fs::read_to_string(&path).map_err(|e| {
            Error::new(
                ErrorKind::Unauthorized,
                format!("cannot read the credential file `{}`: {e}", path.display()),
            )
        })?;
        let credentials =
            Credentials::from_json(&text, &format!("the credential file `{}`", path.display()))?;
        return Ok(Some((credentials, CredentialSource::File(path))));
    }
    let path = token_file_path(token_file)?;
    Ok(read_token_file(&path)?.map(|c| (c, CredentialSource::TokenFile(path))))
}

mod rfc3339 {
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(at) => s.serialize_str(&at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
        let text: Option<String> = Option::deserialize(d)?;
        match text {
            None => Ok(None),
            Some(text) => DateTime::parse_from_rfc3339(&text)
                .map(|at| Some(at.with_timezone(&Utc)))
                .map_err(|e| serde::de::Error::custom(format!("not an RFC 3339 time ({e})"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn googles_shapes_parse_and_extra_fields_are_ignored() {
        let user = r#"{"type": "authorized_user", "client_id": "c.apps.googleusercontent.com",
            "client_secret": "GOCSPX-s3cret", "refresh_token": "1//0-r3fresh", "universe_domain": "googleapis.com"}"#;
        let Credentials::AuthorizedUser(u) = Credentials::from_json(user, "x").unwrap() else { panic!() };
        assert_eq!(u.client_id, "c.apps.googleusercontent.com");
        assert_eq!(u.refresh_token.expose(), "1//0-r3fresh");
        assert!(!format!("{u:?}").contains("s3cret") && !format!("{u:?}").contains("r3fresh"));

        let missing = r#"{"type": "service_account", "private_key": "-----BEGIN PRIVATE KEY-----x"}"#;
        let e = Credentials::from_json(missing, "`key.json`").unwrap_err();
        assert_eq!(e.to_string(), "`key.json`: missing field `client_email`");
        let client = r#"{"installed": {"client_id": "c", "client_secret": "s"}}"#;
        assert!(Credentials::from_json(client, "`c.json`")
            .unwrap_err()
            .to_string()
            .contains("auth login --client-secret"));
        let bad = r#"{"type": "authorized_user", "client_id": "c", "client_secret": 5, "refresh_token": "1//0-r3fresh"}"#;
        let e = Credentials::from_json(bad, "x").unwrap_err().to_string();
        assert!(!e.contains("r3fresh"), "{e}");
    }

    #[test]
    fn the_token_file_is_written_0600_and_read_back_and_refused_when_others_can_read_it() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("sheetbridge-token-test-{}", std::process::id()));
        let path = dir.join("deeper/google-token.json");
        let creds = Credentials::AuthorizedUser(AuthorizedUser {
            client_id: "c".into(),
            client_secret: Secret::new("s"),
            refresh_token: Secret::new("r"),
            account: Some("ada@example.com".into()),
            issued_at: Some(
                DateTime::parse_from_rfc3339("2026-01-02T03:04:05Z").unwrap().with_timezone(&Utc),
            ),
            refresh_token_expires_at: None,
        });
        write_token_file(&path, &creds).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let dir_mode = std::fs::metadata(path.parent().unwrap()).unwrap().permissions().mode() & 0o777;
        assert_eq!(dir_mode, 0o700);
        assert_eq!(read_token_file(&path).unwrap(), Some(creds));
        assert!(std::fs::read_to_string(&path).unwrap().contains("\"issued_at\": \"2026-01-02T03:04:05Z\""));

        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = read_token_file(&path).unwrap_err();
        assert_eq!(e.kind(), &ErrorKind::Unauthorized);
        let p = path.display();
        assert_eq!(
            e.to_string(),
            format!(
                "the token file `{p}` has mode 0644: other users can read the Google credential in it; \
                 sheetbridge refuses to use it until only its owner can: chmod 600 {p}"
            )
        );
        assert_eq!(read_token_file(&dir.join("none.json")).unwrap(), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
