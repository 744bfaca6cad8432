//! Reaching Google: the endpoints and credentials the config file and the
//! environment name, turned into a Sheets client.

use std::path::Path;

use sheetbridge_google_sheets::auth::CredentialSource;
use sheetbridge_google_sheets::{Endpoints, SheetsClient, TokenSource};

use crate::config::{ConfigFile, GoogleSettings};

/// The `[google]` section of the config file (`--config`, `SHEETBRIDGE_CONFIG`
/// or `./sheetbridge.toml`), or defaults when there is none.
pub fn settings(config: Option<&Path>) -> anyhow::Result<GoogleSettings> {
    match ConfigFile::locate(config)? {
        Some(file) => Ok(file.google(|name| std::env::var(name).ok())?),
        None => Ok(GoogleSettings::default()),
    }
}

/// The endpoints to use: the config's `endpoint`, else `SHEETBRIDGE_GOOGLE_ENDPOINT`, else Google.
pub fn endpoints(settings: &GoogleSettings) -> Endpoints {
    Endpoints::resolve(settings.endpoint.as_deref())
}

/// A Sheets client with the credential found the usual way (see
/// `sheetbridge auth --help`); an error telling how to log in when there is none.
pub fn client(config: Option<&Path>) -> anyhow::Result<(SheetsClient, CredentialSource)> {
    let settings = settings(config)?;
    let endpoints = endpoints(&settings);
    let (tokens, source) = TokenSource::discover(
        &endpoints,
        settings.credentials_file.as_deref(),
        settings.token_file.as_deref(),
    )?;
    let client = SheetsClient::new(endpoints, tokens)?;
    Ok((client, source))
}
