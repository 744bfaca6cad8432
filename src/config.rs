//! `sheetbridge.toml`: where the database is, how Google is reached, what to
//! keep in sync (`[[pair]]`) and how the service listens (`[serve]`).
//!
//! Parse, then validate (pure), then build: [`ConfigFile::parse`] reads the
//! TOML and refuses unknown keys; [`ConfigFile::database`],
//! [`ConfigFile::google`], [`ConfigFile::serve`] and [`ConfigFile::pairs`]
//! (or [`ConfigFile::validate`] for all of them) interpolate `${VAR}` /
//! `${VAR:-default}` from the environment and check the values, naming the
//! file, line and pair of every problem at once; `sheetbridge check` and the
//! connectors then reach the endpoints. Secrets belong in the environment or
//! a mounted secret, never in the file:
//!
//! ```toml
//! [database]
//! url = "postgres://app@db.example.com:5432/shop?sslmode=require"
//! password = "${SHOP_DB_PASSWORD}"
//!
//! [[pair]]
//! name = "orders"
//! table = "shop.orders"
//! sheet = "gsheet://1BxiMVs0XRA5nFMdKvBdBZjgmUUqptlbs74OgvE2upms/Orders"
//! conflict = "table_wins"
//! conflict_columns = { notes = "sheet_wins" }
//! max_deletes = "10%"
//! schedule = "*/5 * * * *"
//! ```
//!
//! `examples/sheetbridge.toml` shows every key with its default.

mod pair;
mod schedule;

use std::fmt;
use std::path::{Path, PathBuf};

pub use pair::{
    parse_threshold, ConflictPolicy, ConflictRule, DeletePolicy, Direction, LogFormat, OrText, PairConfig,
    PairSection, ServeSection, ServeSettings, Threshold, DEFAULT_LISTEN, DEFAULT_MAX_DELETES,
    DEFAULT_SCHEDULE,
};
pub use schedule::{Cron, Schedule};

use serde::Deserialize;
use sheetbridge_core::{Error, ErrorKind};
use sheetbridge_postgres::{PgConfig, Secret};
use toml::Spanned;

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// The Postgres database sheetbridge reads and writes.
    pub database: Option<DatabaseSection>,
    /// How sheetbridge reaches Google.
    pub google: Option<GoogleSection>,
    /// How `sheetbridge serve` listens and logs.
    pub serve: Option<ServeSection>,
    /// The pairs to keep in sync (`[[pair]]`, one table and one sheet each).
    #[serde(default, rename = "pair")]
    pub pairs: Vec<Spanned<PairSection>>,
    #[serde(skip)]
    path: PathBuf,
    #[serde(skip)]
    text: String,
}

/// `[database]`: a URL, or its parts; any value may be `${ENV_VAR}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSection {
    /// `postgres://user@host:port/db?sslmode=require` (a password in it is
    /// allowed but better given by `password` from the environment).
    pub url: Option<Spanned<String>>,
    pub host: Option<Spanned<String>>,
    pub port: Option<Spanned<u16>>,
    pub user: Option<Spanned<String>>,
    /// Usually `"${SOME_ENV_VAR}"`.
    pub password: Option<Spanned<String>>,
    pub dbname: Option<Spanned<String>>,
    /// disable, prefer, require, verify-ca or verify-full.
    pub sslmode: Option<Spanned<String>>,
    /// A CA certificate file for verify-ca / verify-full.
    pub sslrootcert: Option<Spanned<String>>,
    pub application_name: Option<Spanned<String>>,
}

/// `[google]`: where Google is and where its credentials are.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GoogleSection {
    /// One base URL for every Google endpoint, e.g. a local Sheets emulator
    /// (`http://127.0.0.1:8085`). The environment's `SHEETBRIDGE_GOOGLE_ENDPOINT`
    /// is used when this is absent; Google itself when neither is set.
    pub endpoint: Option<Spanned<String>>,
    /// Where `sheetbridge auth` keeps the token (default:
    /// `$XDG_CONFIG_HOME/sheetbridge/google-token.json`). Readable by its owner only.
    pub token_file: Option<Spanned<String>>,
    /// A service-account key or authorized-user JSON file, such as a mounted
    /// secret in a container; used instead of the token file.
    pub credentials_file: Option<Spanned<String>>,
}

/// `[google]` with its `${VAR}`s resolved.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GoogleSettings {
    pub endpoint: Option<String>,
    pub token_file: Option<PathBuf>,
    pub credentials_file: Option<PathBuf>,
}

impl ConfigFile {
    /// The file named by `--config`/`SHEETBRIDGE_CONFIG`, else
    /// `./sheetbridge.toml` when there is one, else none.
    pub fn locate(explicit: Option<&Path>) -> Result<Option<ConfigFile>, Error> {
        match explicit {
            Some(path) => Self::load(path).map(Some),
            None => {
                let default = Path::new("sheetbridge.toml");
                if default.is_file() {
                    Self::load(default).map(Some)
                } else {
                    Ok(None)
                }
            }
        }
    }

    pub fn load(path: &Path) -> Result<ConfigFile, Error> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            let kind =
                if e.kind() == std::io::ErrorKind::NotFound { ErrorKind::NotFound } else { ErrorKind::Other };
            Error::new(kind, format!("cannot read the config file `{}`: {e}", path.display()))
        })?;
        Self::parse(path, &text)
    }

    /// Parses `text` (read from `path`, which messages name).
    pub fn parse(path: &Path, text: &str) -> Result<ConfigFile, Error> {
        let mut file: ConfigFile = toml::from_str(text).map_err(|e| {
            let at = e.span().map(|s| format!(" line {}", line_of(text, s.start))).unwrap_or_default();
            Error::new(ErrorKind::InvalidInput, format!("config `{}`{at}: {}", path.display(), e.message()))
        })?;
        file.path = path.to_owned();
        file.text = text.to_owned();
        Ok(file)
    }

    /// The database connection the file describes, with `${VAR}`s resolved
    /// through `env`. `None` when the file has no `[database]`.
    pub fn database(&self, env: impl Fn(&str) -> Option<String>) -> Result<Option<PgConfig>, Error> {
        let Some(db) = &self.database else { return Ok(None) };
        let mut problems = Vec::new();
        let mut text = |field: &Option<Spanned<String>>, key: &str| -> Option<String> {
            let value = field.as_ref()?;
            match interpolate(value.get_ref(), &env) {
                Ok(v) => Some(v),
                Err(missing) => {
                    problems.push(format!(
                        "line {}: `{key}` uses ${{{missing}}}, which is not set in the environment",
                        line_of(&self.text, value.span().start)
                    ));
                    None
                }
            }
        };
        let url = text(&db.url, "url");
        let host = text(&db.host, "host");
        let user = text(&db.user, "user");
        let password = text(&db.password, "password");
        let dbname = text(&db.dbname, "dbname");
        let sslmode = text(&db.sslmode, "sslmode");
        let sslrootcert = text(&db.sslrootcert, "sslrootcert");
        let application_name = text(&db.application_name, "application_name");

        let mut config = match &url {
            Some(url) => match PgConfig::parse(url) {
                Ok(c) => c,
                Err(e) => {
                    problems.push(format!("line {}: `url`: {}", self.line(&db.url), e.message()));
                    PgConfig::default()
                }
            },
            None => PgConfig::default(),
        };
        if url.is_some() {
            for (field, key) in [(&db.host, "host"), (&db.user, "user"), (&db.dbname, "dbname")] {
                if field.is_some() {
                    problems
                        .push(format!("line {}: `{key}` and `url` both say it; keep one", self.line(field)));
                }
            }
        }
        if let Some(h) = host {
            config.host = h;
        }
        if let Some(p) = &db.port {
            config.port = *p.get_ref();
        }
        if let Some(u) = user {
            config.user = u;
        }
        if let Some(d) = dbname {
            config.dbname = d;
        }
        if let Some(p) = password {
            config.password = Some(Secret::new(p));
        }
        if let Some(m) = sslmode {
            match m.parse() {
                Ok(m) => config.sslmode = m,
                Err(e) => problems.push(format!("line {}: {}", self.line(&db.sslmode), e.message())),
            }
        }
        if let Some(c) = sslrootcert {
            config.sslrootcert = Some(PathBuf::from(c));
        }
        if let Some(a) = application_name {
            config.application_name = Some(a);
        }
        if url.is_none() && db.host.is_none() {
            problems.push("`[database]` needs `url`, or `host` (with `user`, `dbname`, ...)".to_owned());
        }
        if problems.is_empty() {
            Ok(Some(config))
        } else {
            Err(Error::new(
                ErrorKind::InvalidInput,
                format!("config `{}` [database]: {}", self.path.display(), problems.join("; ")),
            ))
        }
    }

    /// The `[google]` section with `${VAR}`s resolved through `env`
    /// (all unset when the file has none).
    pub fn google(&self, env: impl Fn(&str) -> Option<String>) -> Result<GoogleSettings, Error> {
        let Some(google) = &self.google else { return Ok(GoogleSettings::default()) };
        let mut problems = Vec::new();
        let mut text = |field: &Option<Spanned<String>>, key: &str| -> Option<String> {
            let value = field.as_ref()?;
            match interpolate(value.get_ref(), &env) {
                Ok(v) => Some(v).filter(|v| !v.trim().is_empty()),
                Err(missing) => {
                    problems.push(format!(
                        "line {}: `{key}` uses ${{{missing}}}, which is not set in the environment",
                        line_of(&self.text, value.span().start)
                    ));
                    None
                }
            }
        };
        let settings = GoogleSettings {
            endpoint: text(&google.endpoint, "endpoint"),
            token_file: text(&google.token_file, "token_file").map(PathBuf::from),
            credentials_file: text(&google.credentials_file, "credentials_file").map(PathBuf::from),
        };
        if let Some(endpoint) = &settings.endpoint {
            if !(endpoint.starts_with("http://") || endpoint.starts_with("https://")) {
                problems.push(format!(
                    "line {}: `endpoint` must be an http:// or https:// URL, not `{endpoint}`",
                    self.line(&google.endpoint)
                ));
            }
        }
        if problems.is_empty() {
            Ok(settings)
        } else {
            Err(Error::new(
                ErrorKind::InvalidInput,
                format!("config `{}` [google]: {}", self.path.display(), problems.join("; ")),
            ))
        }
    }

    /// The file's path, as messages name it.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every `[[pair]]` resolved through `env` and checked (pure: nothing is
    /// reached), or every problem found in any of them.
    pub fn pairs(&self, env: impl Fn(&str) -> Option<String>) -> Result<Vec<PairConfig>, Vec<ConfigProblem>> {
        let (pairs, problems) = self.resolve_pairs(env);
        if problems.is_empty() {
            Ok(pairs)
        } else {
            Err(problems)
        }
    }

    /// Every pair whose table and sheet resolved (with defaults standing in for
    /// fields that are wrong), and every problem of every pair: for `sheetbridge
    /// check`, which reaches what it can and reports everything.
    pub fn resolve_pairs(
        &self,
        env: impl Fn(&str) -> Option<String>,
    ) -> (Vec<PairConfig>, Vec<ConfigProblem>) {
        let mut r = pair::Resolver {
            text: &self.text,
            file: &self.path,
            env: &env,
            pair: None,
            problems: Vec::new(),
        };
        let base = self.path.parent().map(Path::to_owned).unwrap_or_default();
        let mut pairs: Vec<PairConfig> = Vec::new();
        let mut seen: Vec<(String, usize)> = Vec::new();
        for (i, section) in self.pairs.iter().enumerate() {
            let resolved = pair::resolve_pair(&mut r, section, i, &base);
            // The name as resolved (even when the rest of the pair is not).
            let line = line_of(&self.text, section.span().start);
            if let (Some(_), Some(name)) = (&section.get_ref().name, r.pair.clone()) {
                if let Some((_, first)) = seen.iter().find(|(n, _)| *n == name) {
                    let message = format!("the name is taken already by the pair at line {first}");
                    r.problem(Some(line), message);
                    continue;
                }
                seen.push((name, line));
            }
            pairs.extend(resolved);
        }
        (pairs, r.problems)
    }

    /// The `[serve]` section resolved through `env` (defaults when absent).
    pub fn serve(&self, env: impl Fn(&str) -> Option<String>) -> Result<ServeSettings, Vec<ConfigProblem>> {
        let Some(section) = &self.serve else { return Ok(ServeSettings::default()) };
        let mut r = pair::Resolver {
            text: &self.text,
            file: &self.path,
            env: &env,
            pair: None,
            problems: Vec::new(),
        };
        let settings = pair::resolve_serve(&mut r, section);
        if r.problems.is_empty() {
            Ok(settings)
        } else {
            Err(r.problems)
        }
    }

    /// The whole file resolved and checked: every problem of every section at once.
    pub fn validate(&self, env: impl Fn(&str) -> Option<String>) -> Result<Config, Vec<ConfigProblem>> {
        let whole = |e: Error| {
            // `database()`/`google()` name the file and section themselves.
            vec![ConfigProblem {
                file: self.path.clone(),
                line: None,
                pair: None,
                message: e.message().to_owned(),
            }]
        };
        let database = self.database(&env).map_err(whole);
        let google = self.google(&env).map_err(whole);
        let serve = self.serve(&env);
        let pairs = self.pairs(&env);
        match (database, google, serve, pairs) {
            (Ok(database), Ok(google), Ok(serve), Ok(pairs)) => Ok(Config { database, google, serve, pairs }),
            (d, g, s, p) => {
                Err([d.err(), g.err(), s.err(), p.err()].into_iter().flatten().flatten().collect())
            }
        }
    }

    fn line<T>(&self, field: &Option<Spanned<T>>) -> usize {
        field.as_ref().map(|f| line_of(&self.text, f.span().start)).unwrap_or(0)
    }
}

/// The whole file, resolved and checked.
#[derive(Debug, Clone)]
pub struct Config {
    pub database: Option<PgConfig>,
    pub google: GoogleSettings,
    pub serve: ServeSettings,
    pub pairs: Vec<PairConfig>,
}

/// One problem of a config file, where it is and which pair it concerns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    pub file: PathBuf,
    /// The line it comes from, when one does.
    pub line: Option<usize>,
    /// The pair's name (or `#3` for a pair without one).
    pub pair: Option<String>,
    pub message: String,
}

impl fmt::Display for ConfigProblem {
    /// ``config `x.toml` line 12, pair `orders`: ...``
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.message.starts_with("config `") {
            return f.write_str(&self.message);
        }
        write!(f, "config `{}`", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, " line {line}")?;
        }
        if let Some(pair) = &self.pair {
            write!(f, ", pair `{pair}`")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Problems as one error (a line each) whose kind makes the exit code 3.
pub fn problems_error(problems: &[ConfigProblem]) -> Error {
    let lines: Vec<String> = problems.iter().map(ToString::to_string).collect();
    Error::new(ErrorKind::InvalidInput, lines.join("\n"))
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].bytes().filter(|b| *b == b'\n').count() + 1
}

/// Replaces `${NAME}` and `${NAME:-default}`; `$$` is a literal `$`.
/// Returns the name of the first unset variable without a default.
fn interpolate(text: &str, env: &impl Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(stripped) = after.strip_prefix('$') {
            out.push('$');
            rest = stripped;
        } else if let Some(body) = after.strip_prefix('{') {
            let Some(end) = body.find('}') else {
                out.push_str(&rest[i..]);
                return Ok(out);
            };
            let inner = &body[..end];
            let (name, default) = match inner.split_once(":-") {
                Some((n, d)) => (n, Some(d)),
                None => (inner, None),
            };
            match env(name).or_else(|| default.map(str::to_owned)) {
                Some(v) => out.push_str(&v),
                None => return Err(name.to_owned()),
            }
            rest = &body[end + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "DB_PASSWORD" => Some("s3cret".into()),
            "DB_HOST" => Some("db.internal".into()),
            _ => None,
        }
    }

    #[test]
    fn url_and_password_from_the_environment() {
        let f = ConfigFile::parse(
            Path::new("sheetbridge.toml"),
            "[database]\nurl = \"postgres://app@${DB_HOST}:6432/shop?sslmode=require\"\npassword = \"${DB_PASSWORD}\"\n",
        )
        .unwrap();
        let c = f.database(env).unwrap().unwrap();
        assert_eq!(
            (c.host.as_str(), c.port, c.user.as_str(), c.dbname.as_str()),
            ("db.internal", 6432, "app", "shop")
        );
        assert_eq!(c.password.as_ref().map(|p| p.expose()), Some("s3cret"));
        assert!(!format!("{c} {c:?}").contains("s3cret"));
    }

    #[test]
    fn unknown_keys_and_unset_variables_name_the_line() {
        let e = ConfigFile::parse(
            Path::new("x.toml"),
            "[database]\nurl = \"postgres://a@b/c\"\nsslmod = \"require\"\n",
        )
        .unwrap_err();
        assert!(e.to_string().contains("x.toml` line 3") && e.to_string().contains("sslmod"), "{e}");
        let f = ConfigFile::parse(Path::new("x.toml"), "[database]\nhost = \"h\"\npassword = \"${NOPE}\"\n")
            .unwrap();
        let e = f.database(env).unwrap_err();
        assert!(e.to_string().contains("line 3") && e.to_string().contains("${NOPE}"), "{e}");
    }

    #[test]
    fn interpolation_defaults_and_dollars() {
        assert_eq!(interpolate("a${X:-b}c$$d", &|_: &str| None).unwrap(), "abc$d");
        assert_eq!(interpolate("${DB_HOST}", &env).unwrap(), "db.internal");
        assert_eq!(interpolate("${MISSING}", &env).unwrap_err(), "MISSING");
    }

    #[test]
    fn the_example_config_parses() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/sheetbridge.toml");
        let file = ConfigFile::load(&path).unwrap();
        let c = file.database(|n| (n == "SHEETBRIDGE_DB_PASSWORD").then(|| "x".to_owned())).unwrap().unwrap();
        assert_eq!(c.dbname, "shop");
        let google = file.google(|_| None).unwrap();
        assert_eq!(
            google.endpoint, None,
            "the example talks to Google unless the environment says otherwise"
        );
        assert_eq!(file.serve(|_| None).unwrap(), ServeSettings::default());
        let pairs = file.pairs(|_| None).unwrap();
        let [orders, customers] = &pairs[..] else { panic!("two pairs: {pairs:?}") };
        assert_eq!((orders.name.as_str(), orders.table.to_string().as_str()), ("orders", "shop.orders"));
        assert!(matches!(&orders.sheet, crate::endpoint::SheetLocation::Google(s) if s.tab == orders.tab));
        assert_eq!(orders.conflict.for_column("notes"), ConflictRule::SheetWins);
        assert_eq!(orders.conflict.for_column("quantity"), ConflictRule::TableWins);
        assert_eq!((orders.deletes, orders.max_deletes), (DeletePolicy::Hold, Threshold::Percent(1000)));
        assert_eq!(orders.read_only, ["amount"]);
        assert!(matches!(orders.schedule, Schedule::Cron(_)));
        assert_eq!(
            customers.sheet,
            crate::endpoint::SheetLocation::Workbook(path.parent().unwrap().join("exports/customers.xlsx"))
        );
        assert_eq!((customers.direction, customers.enabled), (Direction::ToSheet, true));
        assert!(!customers.selects("created_at"));
        let off = file.pairs(|n| (n == "CUSTOMERS_SYNC").then(|| "false".to_owned())).unwrap();
        assert!(!off[1].enabled);
    }

    #[test]
    fn google_section_resolves_variables_and_checks_the_endpoint() {
        let f = ConfigFile::parse(
            Path::new("x.toml"),
            "[google]\nendpoint = \"${EMU:-http://127.0.0.1:8085}\"\ncredentials_file = \"/run/secrets/google\"\n",
        )
        .unwrap();
        let g = f.google(|_| None).unwrap();
        assert_eq!(g.endpoint.as_deref(), Some("http://127.0.0.1:8085"));
        assert_eq!(g.credentials_file, Some(PathBuf::from("/run/secrets/google")));
        let f = ConfigFile::parse(Path::new("x.toml"), "[google]\nendpoint = \"sheets.local\"\n").unwrap();
        let e = f.google(|_| None).unwrap_err();
        assert!(e.to_string().contains("line 2") && e.to_string().contains("sheets.local"), "{e}");
    }
}
