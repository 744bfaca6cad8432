//! Where the database is and how to reach it: [`PgConfig`], TLS, [`connect`].
//!
//! A config comes from a URL (`postgres://user:pw@host:5432/db?sslmode=require`),
//! a libpq key=value string (`host=db port=5432 user=app`), the usual `PG*`
//! environment variables ([`PgConfig::from_env`]), or parts
//! ([`PgConfig::new`]). Its `Display` shows user, host, port and database and
//! never the password; the password itself is a [`Secret`] whose `Debug`
//! prints `_`.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use sheetbridge_core::{Error, ErrorKind};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc::UnboundedSender;
use tokio_postgres::{AsyncMessage, Client, Notification};

use crate::error::pg_error;

/// A secret string (a password). `Debug` and `Display` print `_`, so it
/// cannot reach a log, an error or a panic message by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(secret: impl Into<String>) -> Self {
        Secret(secret.into())
    }

    /// The secret itself, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("_")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("_")
    }
}

/// libpq's `sslmode`, with libpq's meaning.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SslMode {
    /// Never encrypt.
    Disable,
    /// Encrypt when the server offers it; the certificate is not checked.
    #[default]
    Prefer,
    /// Always encrypt; the certificate is not checked (unless a root
    /// certificate file is given, as in libpq: then it is, as `verify-ca`).
    Require,
    /// Encrypt and check the certificate chain against the trusted roots.
    VerifyCa,
    /// As `verify-ca`, and the certificate must name the host.
    VerifyFull,
}

impl FromStr for SslMode {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        Ok(match s {
            "disable" => SslMode::Disable,
            "allow" | "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            other => {
                return Err(Error::new(
                    ErrorKind::InvalidInput,
                    format!(
                    "sslmode `{other}` is not one of disable, allow, prefer, require, verify-ca, verify-full"
                ),
                ))
            }
        })
    }
}

impl fmt::Display for SslMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SslMode::Disable => "disable",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        })
    }
}

/// How to reach one Postgres database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgConfig {
    /// Host name, IP address, or a Unix socket directory (starting with `/`).
    pub host: String,
    pub port: u16,
    /// Empty means the OS user's name, as in libpq.
    pub user: String,
    pub password: Option<Secret>,
    /// Empty means the same as the user name, as in libpq.
    pub dbname: String,
    pub sslmode: SslMode,
    /// PEM file of the certificates to trust instead of the built-in web roots.
    pub sslrootcert: Option<PathBuf>,
    /// Shown in `pg_stat_activity`; `sheetbridge` when not set.
    pub application_name: Option<String>,
    pub connect_timeout: Option<Duration>,
    /// Server options sent at startup (`-c search_path=app`).
    pub options: Option<String>,
}

impl Default for PgConfig {
    fn default() -> Self {
        PgConfig {
            host: "localhost".into(),
            port: 5432,
            user: String::new(),
            password: None,
            dbname: String::new(),
            sslmode: SslMode::Prefer,
            sslrootcert: None,
            application_name: None,
            connect_timeout: None,
            options: None,
        }
    }
}

fn invalid(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidInput, message)
}

impl PgConfig {
    /// A config from its parts (as a config file gives them).
    pub fn new(host: &str, port: u16, user: &str, dbname: &str) -> Self {
        PgConfig {
            host: host.to_owned(),
            port,
            user: user.to_owned(),
            dbname: dbname.to_owned(),
            ..PgConfig::default()
        }
    }

    pub fn with_password(mut self, password: Secret) -> Self {
        self.password = Some(password);
        self
    }

    pub fn with_sslmode(mut self, sslmode: SslMode) -> Self {
        self.sslmode = sslmode;
        self
    }

    pub fn with_dbname(mut self, dbname: &str) -> Self {
        self.dbname = dbname.to_owned();
        self
    }

    /// Parses a `postgres://` / `postgresql://` URL or a libpq key=value
    /// string. Errors never repeat the text (it may hold a password).
    pub fn parse(text: &str) -> Result<Self, Error> {
        let text = text.trim();
        let (rest, mut ours) = if text.starts_with("postgres://") || text.starts_with("postgresql://") {
            split_url(text)?
        } else {
            split_conninfo(text)?
        };
        let parsed = tokio_postgres::Config::from_str(&rest)
            .map_err(|e| invalid(format!("connection string: {e}")).with_source(e))?;
        let mut config = PgConfig::default();
        match parsed.get_hosts().first() {
            Some(tokio_postgres::config::Host::Tcp(h)) => config.host = h.clone(),
            Some(tokio_postgres::config::Host::Unix(p)) => config.host = p.display().to_string(),
            None => {}
        }
        if let Some(p) = parsed.get_ports().first() {
            config.port = *p;
        }
        if let Some(u) = parsed.get_user() {
            config.user = u.to_owned();
        }
        if let Some(pw) = parsed.get_password() {
            let pw = String::from_utf8(pw.to_vec()).map_err(|_| invalid("the password is not UTF-8"))?;
            config.password = Some(Secret(pw));
        }
        if let Some(d) = parsed.get_dbname() {
            config.dbname = d.to_owned();
        }
        config.application_name = parsed.get_application_name().map(str::to_owned);
        config.connect_timeout = parsed.get_connect_timeout().copied();
        config.options = parsed.get_options().map(str::to_owned);
        if let Some(mode) = ours.sslmode.take() {
            config.sslmode = mode.parse()?;
        }
        config.sslrootcert = ours.sslrootcert.take().map(PathBuf::from);
        Ok(config)
    }

    /// A config from the `PG*` environment variables (PGHOST, PGPORT,
    /// PGUSER, PGPASSWORD, PGDATABASE, PGSSLMODE, PGSSLROOTCERT, PGAPPNAME,
    /// PGCONNECT_TIMEOUT); unset ones keep libpq's defaults.
    pub fn from_env() -> Result<Self, Error> {
        Self::from_vars(|name| std::env::var(name).ok())
    }

    /// [`PgConfig::from_env`] over any variable lookup (for tests).
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Self, Error> {
        let mut config = PgConfig::default();
        let var = |name: &str| var(name).filter(|v| !v.is_empty());
        if let Some(h) = var("PGHOST") {
            config.host = h;
        }
        if let Some(p) = var("PGPORT") {
            config.port = p.parse().map_err(|_| invalid(format!("PGPORT `{p}` is not a port number")))?;
        }
        if let Some(u) = var("PGUSER") {
            config.user = u;
        }
        config.password = var("PGPASSWORD").map(Secret);
        if let Some(d) = var("PGDATABASE") {
            config.dbname = d;
        }
        if let Some(m) = var("PGSSLMODE") {
            config.sslmode = m.parse()?;
        }
        config.sslrootcert = var("PGSSLROOTCERT").map(PathBuf::from);
        config.application_name = var("PGAPPNAME");
        if let Some(t) = var("PGCONNECT_TIMEOUT") {
            let secs: u64 = t
                .parse()
                .map_err(|_| invalid(format!("PGCONNECT_TIMEOUT `{t}` is not a number of seconds")))?;
            config.connect_timeout = Some(Duration::from_secs(secs));
        }
        Ok(config)
    }

    /// The user name that will be sent: the configured one, else the OS user.
    pub fn effective_user(&self) -> String {
        if !self.user.is_empty() {
            return self.user.clone();
        }
        std::env::var("USER").ok().filter(|u| !u.is_empty()).unwrap_or_else(|| "postgres".into())
    }

    /// The database that will be opened: the configured one, else the user's.
    pub fn effective_dbname(&self) -> String {
        if self.dbname.is_empty() {
            self.effective_user()
        } else {
            self.dbname.clone()
        }
    }

    /// Whether `host` is a Unix socket directory.
    pub fn is_unix_socket(&self) -> bool {
        self.host.starts_with('/')
    }

    fn to_tokio(&self) -> tokio_postgres::Config {
        let mut c = tokio_postgres::Config::new();
        if self.is_unix_socket() {
            c.host_path(&self.host);
        } else {
            c.host(&self.host);
        }
        c.port(self.port);
        c.user(self.effective_user());
        if let Some(pw) = &self.password {
            c.password(pw.expose());
        }
        c.dbname(self.effective_dbname());
        c.application_name(self.application_name.as_deref().unwrap_or("sheetbridge"));
        if let Some(t) = self.connect_timeout {
            c.connect_timeout(t);
        }
        if let Some(o) = &self.options {
            c.options(o);
        }
        c.ssl_mode(match self.sslmode {
            SslMode::Disable => tokio_postgres::config::SslMode::Disable,
            SslMode::Prefer => tokio_postgres::config::SslMode::Prefer,
            _ => tokio_postgres::config::SslMode::Require,
        });
        c
    }
}

/// `postgres://user@host:5432/db`, plus the sslmode when it is not the
/// default. Never the password.
impl fmt::Display for PgConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (user, port, db) = (self.effective_user(), self.port, self.effective_dbname());
        if self.is_unix_socket() {
            // libpq's form for a socket directory: the host as a parameter.
            return write!(f, "postgres://{user}@:{port}/{db}?host={}", self.host);
        }
        let host = if self.host.contains(':') { format!("[{}]", self.host) } else { self.host.clone() };
        write!(f, "postgres://{user}@{host}:{port}/{db}")?;
        if self.sslmode != SslMode::Prefer {
            write!(f, "?sslmode={}", self.sslmode)?;
        }
        Ok(())
    }
}

#[derive(Default)]
struct OurParams {
    sslmode: Option<String>,
    sslrootcert: Option<String>,
}

/// Takes `sslmode` and `sslrootcert` out of a URL's query (tokio-postgres
/// knows neither verify-ca/verify-full nor root files).
fn split_url(url: &str) -> Result<(String, OurParams), Error> {
    let mut ours = OurParams::default();
    let Some((base, query)) = url.split_once('?') else {
        return Ok((url.to_owned(), ours));
    };
    let mut kept = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        match percent_decode(k)?.as_str() {
            "sslmode" => ours.sslmode = Some(percent_decode(v)?),
            "sslrootcert" => ours.sslrootcert = Some(percent_decode(v)?),
            _ => kept.push(pair),
        }
    }
    let rest = if kept.is_empty() { base.to_owned() } else { format!("{base}?{}", kept.join("&")) };
    Ok((rest, ours))
}

fn percent_decode(s: &str) -> Result<String, Error> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3).ok_or_else(|| invalid("connection URL has a bad %-escape"))?;
            let b = u8::from_str_radix(hex, 16).map_err(|_| invalid("connection URL has a bad %-escape"))?;
            out.push(b);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| invalid("connection URL is not UTF-8 after %-decoding"))
}

/// Splits a libpq key=value string, taking out `sslmode` and `sslrootcert`.
fn split_conninfo(text: &str) -> Result<(String, OurParams), Error> {
    let mut ours = OurParams::default();
    let mut kept = String::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.peek().is_none() {
            break;
        }
        let mut key = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' || c.is_whitespace() {
                break;
            }
            key.push(c);
            chars.next();
        }
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.next() != Some('=') {
            return Err(invalid(format!("connection string: `{key}` has no `=value`")));
        }
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let mut value = String::new();
        if chars.peek() == Some(&'\'') {
            chars.next();
            loop {
                match chars.next() {
                    Some('\\') => value.extend(chars.next()),
                    Some('\'') => break,
                    Some(c) => value.push(c),
                    None => return Err(invalid(format!("connection string: `{key}` has an unclosed quote"))),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                chars.next();
                if c == '\\' {
                    value.extend(chars.next());
                } else {
                    value.push(c);
                }
            }
        }
        match key.as_str() {
            "sslmode" => ours.sslmode = Some(value),
            "sslrootcert" => ours.sslrootcert = Some(value),
            _ => {
                let escaped = value.replace('\\', "\\\\").replace('\'', "\\'");
                kept.push_str(&format!("{key}='{escaped}' "));
            }
        }
    }
    Ok((kept, ours))
}

/// An open connection. Its background task ends when it is dropped.
pub struct PgConn {
    pub(crate) client: Client,
    pub(crate) target: String,
}

impl fmt::Debug for PgConn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgConn").field("target", &self.target).finish_non_exhaustive()
    }
}

impl PgConn {
    /// The tokio-postgres client, for what this crate does not wrap.
    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn client_mut(&mut self) -> &mut Client {
        &mut self.client
    }

    /// `postgres://user@host:port/db` (no password), for messages.
    pub fn target(&self) -> &str {
        &self.target
    }
}

/// Connects and spawns the connection's background task on the current
/// Tokio runtime.
pub async fn connect(config: &PgConfig) -> Result<PgConn, Error> {
    connect_forwarding(config, None).await
}

/// [`connect`], sending the notifications the server delivers (LISTEN) to
/// `notifications` when given.
pub(crate) async fn connect_forwarding(
    config: &PgConfig,
    notifications: Option<UnboundedSender<Notification>>,
) -> Result<PgConn, Error> {
    let target = config.to_string();
    let with_password;
    let config = match fallback_password(config) {
        Some(password) => {
            with_password = PgConfig { password: Some(password), ..config.clone() };
            &with_password
        }
        None => config,
    };
    let pg = config.to_tokio();
    let what = || format!("connect to {target}");
    // Like libpq, a Unix socket never carries TLS: the connection stays on this machine.
    let client = if config.sslmode == SslMode::Disable || config.is_unix_socket() {
        let (client, connection) =
            pg.connect(tokio_postgres::NoTls).await.map_err(|e| pg_error(&what(), e))?;
        spawn_connection(connection, notifications.clone());
        client
    } else {
        let tls = tls_config(config.sslmode, config.sslrootcert.as_deref())
            .map_err(|e| Error::new(e.kind().clone(), format!("{}: {}", what(), e.message())))?;
        let tls = tokio_postgres_rustls::MakeRustlsConnect::new(tls);
        let (client, connection) = pg.connect(tls).await.map_err(|e| pg_error(&what(), e))?;
        spawn_connection(connection, notifications.clone());
        client
    };
    Ok(PgConn { client, target })
}

/// libpq's password for a config that names none: `PGPASSWORD`, else the
/// first matching line of the password file (`PGPASSFILE`, else
/// `~/.pgpass`), which is ignored, with a warning, when group or others may
/// read it.
fn fallback_password(config: &PgConfig) -> Option<Secret> {
    if config.password.is_some() {
        return None;
    }
    if let Some(p) = std::env::var("PGPASSWORD").ok().filter(|p| !p.is_empty()) {
        return Some(Secret(p));
    }
    let path = match std::env::var_os("PGPASSFILE").filter(|p| !p.is_empty()) {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(std::env::var_os("HOME")?).join(".pgpass"),
    };
    let meta = std::fs::metadata(&path).ok()?;
    if !meta.is_file() {
        return None;
    }
    {
        use std::os::unix::fs::PermissionsExt;
        if meta.permissions().mode() & 0o077 != 0 {
            tracing::warn!(
                file = %path.display(),
                "the password file may be read by others and is ignored; make it private: chmod 0600"
            );
            return None;
        }
    }
    let text = std::fs::read_to_string(&path).ok()?;
    let user = config.effective_user();
    let db = if config.dbname.is_empty() { user.clone() } else { config.dbname.clone() };
    pgpass_lookup(&text, &config.host, config.port, &db, &user).map(Secret)
}

/// The password of the first line of a password file (`host:port:db:user:password`,
/// `*` matching anything, `\` escaping `:` and `\`) that matches. A Unix socket
/// connection also matches the host `localhost`.
pub(crate) fn pgpass_lookup(text: &str, host: &str, port: u16, db: &str, user: &str) -> Option<String> {
    let port = port.to_string();
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let mut fields: Vec<String> = vec![String::new()];
        let mut chars = line.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => {
                    if let Some(next) = chars.next() {
                        fields.last_mut()?.push(next);
                    }
                }
                ':' if fields.len() < 5 => fields.push(String::new()),
                c => fields.last_mut()?.push(c),
            }
        }
        if fields.len() != 5 {
            continue;
        }
        let matches = |field: &str, value: &str| field == "*" || field == value;
        let host_matches = matches(&fields[0], host) || (host.starts_with('/') && fields[0] == "localhost");
        if host_matches && matches(&fields[1], &port) && matches(&fields[2], db) && matches(&fields[3], user)
        {
            return Some(fields.swap_remove(4));
        }
    }
    None
}

fn spawn_connection<S, T>(
    mut connection: tokio_postgres::Connection<S, T>,
    notifications: Option<UnboundedSender<Notification>>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    tokio::spawn(async move {
        loop {
            match std::future::poll_fn(|cx| connection.poll_message(cx)).await {
                Some(Ok(AsyncMessage::Notification(n))) => {
                    if let Some(tx) = &notifications {
                        // A receiver that is gone no longer wants them.
                        let _ = tx.send(n);
                    }
                }
                Some(Ok(AsyncMessage::Notice(n))) => {
                    tracing::debug!(severity = n.severity(), message = n.message(), "postgres notice");
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => {
                    tracing::debug!(error = %crate::error::describe(&e), "postgres connection ended");
                    break;
                }
                None => break,
            }
        }
    });
}

fn tls_config(mode: SslMode, rootcert: Option<&Path>) -> Result<ClientConfig, Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::new(ErrorKind::Other, format!("TLS setup: {e}")))?;
    let verify = match (mode, rootcert) {
        (SslMode::VerifyFull, _) => Some(true),
        (SslMode::VerifyCa, _) | (SslMode::Require, Some(_)) => Some(false),
        _ => None,
    };
    let Some(check_name) = verify else {
        return Ok(builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoCertificateCheck(provider)))
            .with_no_client_auth());
    };
    let roots = Arc::new(root_store(rootcert)?);
    let webpki = WebPkiServerVerifier::builder_with_provider(roots, provider)
        .build()
        .map_err(|e| Error::new(ErrorKind::InvalidInput, format!("TLS roots: {e}")))?;
    let verifier: Arc<dyn ServerCertVerifier> = if check_name { webpki } else { Arc::new(ChainOnly(webpki)) };
    Ok(builder.dangerous().with_custom_certificate_verifier(verifier).with_no_client_auth())
}

fn root_store(rootcert: Option<&Path>) -> Result<RootCertStore, Error> {
    let mut roots = RootCertStore::empty();
    match rootcert {
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        Some(path) => {
            let certs = CertificateDer::pem_file_iter(path)
                .map_err(|e| invalid(format!("sslrootcert `{}`: {e}", path.display())))?;
            for cert in certs {
                let cert = cert.map_err(|e| invalid(format!("sslrootcert `{}`: {e}", path.display())))?;
                roots.add(cert).map_err(|e| invalid(format!("sslrootcert `{}`: {e}", path.display())))?;
            }
            if roots.is_empty() {
                return Err(invalid(format!("sslrootcert `{}` holds no certificate", path.display())));
            }
        }
    }
    Ok(roots)
}

/// `sslmode=prefer/require`: encrypt, but accept any certificate (libpq's
/// behaviour). Handshake signatures are still verified.
#[derive(Debug)]
struct NoCertificateCheck(Arc<CryptoProvider>);

impl ServerCertVerifier for NoCertificateCheck {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// `sslmode=verify-ca`: the chain must lead to a trusted root; the name on
/// the certificate is not compared with the host.
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self.0.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

#[cfg(test)]
mod pgpass_tests {
    use super::pgpass_lookup;

    const FILE: &str = "# comment\n\
        db.example.com:5432:shop:app:first\n\
        db.example.com:5432:*:app:second\n\
        *:*:*:reader:wild\\:card\\\\x\n\
        localhost:5433:app:sheetbridge:socket\n\
        short:line\n";

    #[test]
    fn the_first_matching_line_wins_and_stars_match_anything() {
        assert_eq!(pgpass_lookup(FILE, "db.example.com", 5432, "shop", "app").as_deref(), Some("first"));
        assert_eq!(pgpass_lookup(FILE, "db.example.com", 5432, "other", "app").as_deref(), Some("second"));
        assert_eq!(pgpass_lookup(FILE, "db.example.com", 5433, "shop", "app"), None);
        assert_eq!(pgpass_lookup(FILE, "other", 1, "x", "app"), None);
    }

    #[test]
    fn escapes_keep_colons_and_backslashes_in_a_password() {
        assert_eq!(pgpass_lookup(FILE, "h", 1, "d", "reader").as_deref(), Some("wild:card\\x"));
    }

    #[test]
    fn a_unix_socket_matches_localhost() {
        assert_eq!(
            pgpass_lookup(FILE, "/run/postgresql", 5433, "app", "sheetbridge").as_deref(),
            Some("socket")
        );
        assert_eq!(pgpass_lookup(FILE, "127.0.0.1", 5433, "app", "sheetbridge"), None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_and_display_without_the_password() {
        let c = PgConfig::parse(
            "postgresql://app:s%40cret@db.example:6543/sales?sslmode=verify-full&application_name=x",
        )
        .unwrap();
        assert_eq!(
            (c.host.as_str(), c.port, c.user.as_str(), c.dbname.as_str()),
            ("db.example", 6543, "app", "sales")
        );
        assert_eq!(c.password.as_ref().map(Secret::expose), Some("s@cret"));
        assert_eq!(c.sslmode, SslMode::VerifyFull);
        assert_eq!(c.application_name.as_deref(), Some("x"));
        let shown = format!("{c} {c:?}");
        assert!(!shown.contains("s@cret") && !shown.contains("s%40cret"), "{shown}");
        assert_eq!(c.to_string(), "postgres://app@db.example:6543/sales?sslmode=verify-full");
    }

    #[test]
    fn conninfo_parses_with_quotes() {
        let c = PgConfig::parse("host=/run/pg port=5433 user=me dbname=x sslmode=disable").unwrap();
        assert_eq!(c.host, "/run/pg");
        assert_eq!(c.port, 5433);
        assert_eq!(c.sslmode, SslMode::Disable);
        let c = PgConfig::parse(r"host=h user=me password='it\'s x' sslrootcert=/tmp/ca.pem").unwrap();
        assert_eq!(c.password.as_ref().map(Secret::expose), Some("it's x"));
        assert_eq!(c.sslrootcert.as_deref(), Some(Path::new("/tmp/ca.pem")));
    }

    #[test]
    fn env_vars_fill_the_config() {
        let vars = |k: &str| {
            Some(
                match k {
                    "PGHOST" => "h",
                    "PGPORT" => "7000",
                    "PGUSER" => "u",
                    "PGPASSWORD" => "pw",
                    "PGDATABASE" => "d",
                    "PGSSLMODE" => "require",
                    "PGCONNECT_TIMEOUT" => "5",
                    _ => return None,
                }
                .to_owned(),
            )
        };
        let c = PgConfig::from_vars(vars).unwrap();
        assert_eq!(c.to_string(), "postgres://u@h:7000/d?sslmode=require");
        assert_eq!(c.connect_timeout, Some(Duration::from_secs(5)));
        assert!(!format!("{c:?}").contains("pw"));
        assert!(PgConfig::from_vars(|k| (k == "PGPORT").then(|| "x".into())).is_err());
    }

    #[test]
    fn parse_errors_do_not_repeat_the_text() {
        let e = PgConfig::parse("postgres://u:hunter2@h/d?sslmode=sometimes").unwrap_err();
        assert!(!e.to_string().contains("hunter2"), "{e}");
        let e = PgConfig::parse("postgres://u:hunter2@h:notaport/d").unwrap_err();
        assert!(!e.to_string().contains("hunter2"), "{e}");
    }
}
