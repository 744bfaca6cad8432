//! `[[pair]]` and `[serve]`: what to keep in sync, and how the service listens.
//!
//! The raw sections are what the TOML says ([`PairSection`], [`ServeSection`]);
//! [`super::ConfigFile::pairs`] and [`super::ConfigFile::serve`] resolve
//! `${VAR}`s and check them without touching the network or the disk,
//! reporting every problem at once with its line and pair. `sheetbridge check`
//! then reaches the endpoints.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::Path;

use serde::Deserialize;
use sheetbridge_core::merge::{self, MergeSettings};
use sheetbridge_core::TableName;
use sheetbridge_google_sheets::Tab;
use toml::Spanned;

use super::schedule::Schedule;
use super::{interpolate, line_of, ConfigProblem};
use crate::endpoint::SheetLocation;

/// A number or boolean given as itself, or as text (so it can come from `${VAR}`).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum OrText<T> {
    Value(T),
    Text(String),
}

type Names = Spanned<Vec<Spanned<String>>>;

/// One `[[pair]]`: a table and a sheet kept in agreement. Every string may use
/// `${VAR}` or `${VAR:-default}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PairSection {
    /// Names the pair in commands (`sheetbridge sync orders`), logs and metrics:
    /// lower-case letters, digits, `_` and `-`; unique in the file.
    pub name: Option<Spanned<String>>,
    /// The table or updatable view: `schema.name` (or `name`, found through the search_path).
    pub table: Option<Spanned<String>>,
    /// The sheet: `gsheet://SPREADSHEET_ID/Tab`, a Google Sheets link from the browser, or an
    /// .xlsx workbook's path (relative paths start at this file's folder).
    pub sheet: Option<Spanned<String>>,
    /// The workbook sheet or Google tab, when `sheet` does not name one (default: the table's name).
    pub tab: Option<Spanned<String>>,
    /// Columns rows are matched by (default: the table's primary key).
    pub key: Option<Names>,
    /// Only these columns are synced, in this order (the key among them).
    pub columns: Option<Names>,
    /// Every column but these is synced (instead of `columns`).
    pub exclude: Option<Names>,
    /// Columns the sheet may show but not change: an edit there is put back
    /// from the table, never written to it.
    pub read_only: Option<Names>,
    /// `both` (default), `to_sheet` (the table is the source; sheet edits are
    /// overwritten) or `to_table` (the sheet is the source).
    pub direction: Option<Spanned<String>>,
    /// Who wins when both sides changed one cell differently since the last sync:
    /// `table_wins` (default), `sheet_wins`, or `flag` (keep both as they are, record the
    /// conflict, and wait for `sheetbridge resolve`). Every conflict is recorded either way.
    pub conflict: Option<Spanned<String>>,
    /// Per-column exceptions to `conflict`: `{ notes = "sheet_wins", status = "flag" }`.
    pub conflict_columns: Option<BTreeMap<String, Spanned<String>>>,
    /// What a row deleted on one side does: `propagate` (default: deleted on the other side
    /// too), `ignore` (the other side keeps it; it comes back on the next sync) or
    /// `hold` (nothing is deleted until `sheetbridge resolve` approves).
    pub deletes: Option<Spanned<String>>,
    /// A run that would delete more rows than this (a count, or `"10%"` of the
    /// pair's rows) deletes nothing and asks (default `"10%"`).
    pub max_deletes: Option<Spanned<OrText<i64>>>,
    /// When `sheetbridge serve` runs the pair: a 5-field cron expression in UTC
    /// (`"*/5 * * * *"`, `"0 6 * * mon-fri"`, `"@hourly"`) or an interval
    /// (`"30s"`, `"5m"`, `"1h"`, `"1h30m"`). Default `"5m"`.
    pub schedule: Option<Spanned<String>>,
    /// `false` keeps the pair in the file but out of `sync` and `serve` (default `true`).
    pub enabled: Option<Spanned<OrText<bool>>>,
}

/// `[serve]`: how `sheetbridge serve` presents itself.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServeSection {
    /// The address of `/healthz`, `/readyz` and `/metrics` (default `127.0.0.1:9464`;
    /// `0.0.0.0:9464` in a container).
    pub listen: Option<Spanned<String>>,
    /// `text` (default) or `json` (one JSON object a line, for log collectors).
    pub log_format: Option<Spanned<String>>,
}

/// Which way changes travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    Both,
    ToSheet,
    ToTable,
}

/// What settles a cell both sides changed differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConflictRule {
    TableWins,
    SheetWins,
    /// Neither side is changed; the conflict waits for `sheetbridge resolve`.
    Flag,
}

/// The pair's conflict rule and its per-column exceptions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConflictPolicy {
    pub default: ConflictRule,
    pub per_column: BTreeMap<String, ConflictRule>,
}

impl ConflictPolicy {
    /// The rule for `column`.
    pub fn for_column(&self, column: &str) -> ConflictRule {
        self.per_column.get(column).copied().unwrap_or(self.default)
    }
}

/// What a row deleted on one side does to the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeletePolicy {
    Propagate,
    Ignore,
    Hold,
}

/// How many deletes a run may make before it stops and asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Threshold {
    Count(u64),
    /// Hundredths of a percent of the pair's rows (`"2.5%"` is 250).
    Percent(u32),
}

impl Threshold {
    /// The most deletes allowed among `rows` rows (a percentage rounds up, so
    /// `10%` of 5 rows allows one).
    pub fn limit(&self, rows: u64) -> u64 {
        match *self {
            Threshold::Count(n) => n,
            Threshold::Percent(p) => (u128::from(rows) * u128::from(p)).div_ceil(10_000) as u64,
        }
    }

    /// Whether deleting `deletes` of `rows` rows is more than allowed.
    pub fn exceeded(&self, deletes: u64, rows: u64) -> bool {
        deletes > self.limit(rows)
    }
}

impl fmt::Display for Threshold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Threshold::Count(n) => write!(f, "{n}"),
            Threshold::Percent(p) if p % 100 == 0 => write!(f, "{}%", p / 100),
            Threshold::Percent(p) => write!(f, "{}.{:02}%", p / 100, p % 100),
        }
    }
}

/// A `[[pair]]` resolved and checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PairConfig {
    pub name: String,
    /// The line of its `[[pair]]`, for messages.
    pub line: usize,
    pub table: TableName,
    /// The sheet; a Google one carries the tab in `tab`.
    pub sheet: SheetLocation,
    /// The workbook sheet or Google tab (never [`Tab::First`]; by gid only from a browser link).
    pub tab: Tab,
    /// Empty: the primary key.
    pub key: Vec<String>,
    /// Empty: every column (less `exclude`).
    pub columns: Vec<String>,
    pub exclude: Vec<String>,
    pub read_only: Vec<String>,
    pub direction: Direction,
    pub conflict: ConflictPolicy,
    pub deletes: DeletePolicy,
    pub max_deletes: Threshold,
    pub schedule: Schedule,
    pub enabled: bool,
    /// The line of each field the file gives (`"table"`, `"columns"`, ...), for messages.
    pub lines: BTreeMap<&'static str, usize>,
}

impl PairConfig {
    /// The line `field` is on, else the pair's own.
    pub fn line_of(&self, field: &str) -> usize {
        self.lines.get(field).copied().unwrap_or(self.line)
    }

    /// Whether `column` is synced, by `columns`/`exclude` alone.
    pub fn selects(&self, column: &str) -> bool {
        (self.columns.is_empty() || self.columns.iter().any(|c| c == column))
            && !self.exclude.iter().any(|c| c == column)
    }
}

// The merge in connectors/core has its own enums (it knows nothing of the
// config); these are the one place the two meet.
impl From<Direction> for merge::Direction {
    fn from(d: Direction) -> Self {
        match d {
            Direction::Both => merge::Direction::Both,
            Direction::ToSheet => merge::Direction::ToSheet,
            Direction::ToTable => merge::Direction::ToTable,
        }
    }
}

impl From<ConflictRule> for merge::ConflictPolicy {
    fn from(r: ConflictRule) -> Self {
        match r {
            ConflictRule::TableWins => merge::ConflictPolicy::TableWins,
            ConflictRule::SheetWins => merge::ConflictPolicy::SheetWins,
            ConflictRule::Flag => merge::ConflictPolicy::Flag,
        }
    }
}

impl From<DeletePolicy> for merge::DeletePolicy {
    fn from(d: DeletePolicy) -> Self {
        match d {
            DeletePolicy::Propagate => merge::DeletePolicy::Propagate,
            DeletePolicy::Ignore => merge::DeletePolicy::Ignore,
            DeletePolicy::Hold => merge::DeletePolicy::Hold,
        }
    }
}

impl PairConfig {
    /// What the merge needs of this pair: direction, conflict rules (with the
    /// per-column ones) and deletes.
    pub fn merge_settings(&self) -> MergeSettings {
        let mut settings =
            MergeSettings::new(self.direction.into(), self.conflict.default.into(), self.deletes.into());
        for (column, rule) in &self.conflict.per_column {
            settings = settings.with_column(column, (*rule).into());
        }
        settings
    }
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// `[serve]` resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServeSettings {
    pub listen: SocketAddr,
    pub log_format: LogFormat,
}

/// `127.0.0.1:9464`, Prometheus' port for exporters not yet registered elsewhere.
pub const DEFAULT_LISTEN: SocketAddr =
    SocketAddr::V4(std::net::SocketAddrV4::new(std::net::Ipv4Addr::LOCALHOST, 9464));

impl Default for ServeSettings {
    fn default() -> Self {
        ServeSettings { listen: DEFAULT_LISTEN, log_format: LogFormat::Text }
    }
}

/// Every five minutes.
pub const DEFAULT_SCHEDULE: Schedule = Schedule::Every(std::time::Duration::from_secs(300));
pub const DEFAULT_MAX_DELETES: Threshold = Threshold::Percent(1_000);

/// Collects a section's problems while its values are resolved.
pub(super) struct Resolver<'a, E: Fn(&str) -> Option<String>> {
    pub text: &'a str,
    pub file: &'a Path,
    pub env: &'a E,
    pub pair: Option<String>,
    pub problems: Vec<ConfigProblem>,
}

impl<E: Fn(&str) -> Option<String>> Resolver<'_, E> {
    fn line_at(&self, offset: usize) -> usize {
        line_of(self.text, offset)
    }

    pub(super) fn problem(&mut self, line: Option<usize>, message: impl Into<String>) {
        self.problems.push(ConfigProblem {
            file: self.file.to_owned(),
            line,
            pair: self.pair.clone(),
            message: message.into(),
        });
    }

    /// A string with its `${VAR}`s resolved; `None` (and a problem) when one is unset.
    pub(super) fn string(&mut self, value: &Spanned<String>, key: &str) -> Option<String> {
        match interpolate(value.get_ref(), self.env) {
            Ok(v) => Some(v),
            Err(missing) => {
                let line = self.line_at(value.span().start);
                self.problem(
                    Some(line),
                    format!("`{key}` uses ${{{missing}}}, which is not set in the environment"),
                );
                None
            }
        }
    }

    /// Parses a keyword among `choices` (`(word, value)`).
    fn keyword<T: Copy>(&mut self, value: &Spanned<String>, key: &str, choices: &[(&str, T)]) -> Option<T> {
        let text = self.string(value, key)?;
        match choices.iter().find(|(w, _)| *w == text.trim()) {
            Some((_, v)) => Some(*v),
            None => {
                let words: Vec<String> = choices.iter().map(|(w, _)| format!("`{w}`")).collect();
                let line = self.line_at(value.span().start);
                self.problem(Some(line), format!("`{key}` is `{text}`; use {}", words.join(", ")));
                None
            }
        }
    }

    /// A list of column names: each resolved, none empty, none twice.
    fn names(&mut self, list: &Option<Names>, key: &str) -> Vec<String> {
        let Some(list) = list else { return Vec::new() };
        let mut out: Vec<String> = Vec::new();
        for item in list.get_ref() {
            let Some(name) = self.string(item, key) else { continue };
            let line = self.line_at(item.span().start);
            if name.trim().is_empty() {
                self.problem(Some(line), format!("`{key}` has an empty column name"));
            } else if out.contains(&name) {
                self.problem(Some(line), format!("`{key}` names column `{name}` twice"));
            } else {
                out.push(name);
            }
        }
        if list.get_ref().is_empty() {
            let line = self.line_at(list.span().start);
            let hint = match key {
                "key" => "; leave it out to use the primary key",
                "columns" => "; leave it out to sync every column",
                _ => "; leave it out",
            };
            self.problem(Some(line), format!("`{key}` is empty{hint}"));
        }
        out
    }
}

const DIRECTIONS: [(&str, Direction); 3] =
    [("both", Direction::Both), ("to_sheet", Direction::ToSheet), ("to_table", Direction::ToTable)];
const RULES: [(&str, ConflictRule); 3] = [
    ("table_wins", ConflictRule::TableWins),
    ("sheet_wins", ConflictRule::SheetWins),
    ("flag", ConflictRule::Flag),
];
const DELETES: [(&str, DeletePolicy); 3] =
    [("propagate", DeletePolicy::Propagate), ("ignore", DeletePolicy::Ignore), ("hold", DeletePolicy::Hold)];

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// Parses `"10%"`, `"2.5%"` or `"25"`.
pub fn parse_threshold(text: &str) -> Result<Threshold, String> {
    let t = text.trim();
    if let Some(number) = t.strip_suffix('%') {
        let number = number.trim();
        let (whole, frac) = number.split_once('.').unwrap_or((number, ""));
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(whole) || !(frac.is_empty() || digits(frac)) || frac.len() > 2 {
            return Err(format!(
                "`max_deletes` is `{text}`; a percentage is a number with at most two decimals, like `10%` or `2.5%`"
            ));
        }
        let whole: u32 = whole.parse().map_err(|_| format!("`max_deletes` `{text}` is over 100%"))?;
        let frac: u32 = format!("{frac:0<2}").parse().unwrap_or(0);
        let hundredths = whole.saturating_mul(100).saturating_add(frac);
        if hundredths > 10_000 {
            return Err(format!("`max_deletes` is `{text}`, over 100%"));
        }
        return Ok(Threshold::Percent(hundredths));
    }
    t.parse::<u64>().map(Threshold::Count).map_err(|_| {
        format!("`max_deletes` is `{text}`; give a count of rows (`25`) or a percentage of them (`\"10%\"`)")
    })
}

/// Resolves and checks one `[[pair]]` (its name first, so every message carries it).
/// `None` when its table or sheet could not be resolved; other fields that are
/// wrong take their defaults (the problems say so).
pub(super) fn resolve_pair<E: Fn(&str) -> Option<String>>(
    r: &mut Resolver<'_, E>,
    section: &Spanned<PairSection>,
    index: usize,
    base_dir: &Path,
) -> Option<PairConfig> {
    let line = r.line_at(section.span().start);
    let p = section.get_ref();
    let text = r.text;
    let at = |v: &Spanned<String>| line_of(text, v.span().start);
    let name = p.name.as_ref().and_then(|n| r.string(n, "name"));
    r.pair = Some(name.clone().unwrap_or_else(|| format!("#{}", index + 1)));
    let name = match (&p.name, name) {
        (None, _) => {
            r.problem(Some(line), "the pair has no `name`");
            None
        }
        (Some(spanned), Some(n)) if !valid_name(&n) => {
            let l = at(spanned);
            r.problem(Some(l), format!("name `{n}` may hold only lower-case letters, digits, `_` and `-`"));
            None
        }
        (_, n) => n,
    };

    let table = match &p.table {
        None => {
            r.problem(Some(line), "the pair has no `table` (`schema.name`)");
            None
        }
        Some(t) => r.string(t, "table").and_then(|text| match TableName::parse(&text) {
            Ok(name) => Some(name),
            Err(e) => {
                let l = at(t);
                r.problem(Some(l), format!("`table`: {e}"));
                None
            }
        }),
    };

    let tab_given = p.tab.as_ref().and_then(|t| {
        let text = r.string(t, "tab")?;
        if text.trim().is_empty() {
            let l = at(t);
            r.problem(Some(l), "`tab` is empty");
            None
        } else {
            Some(text)
        }
    });
    let sheet = match &p.sheet {
        None => {
            r.problem(Some(line), "the pair has no `sheet` (`gsheet://ID/Tab` or a workbook path)");
            None
        }
        Some(s) => r.string(s, "sheet").and_then(|text| {
            let l = at(s);
            match SheetLocation::parse(&text) {
                Ok(SheetLocation::Workbook(path)) => {
                    let ext = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
                    if ext.as_deref() != Some("xlsx") {
                        r.problem(
                            Some(l),
                            format!(
                                "`sheet` `{text}` is neither a Google Sheet (`gsheet://ID/Tab` or a link) \
                                 nor an .xlsx workbook"
                            ),
                        );
                        return None;
                    }
                    let path = if path.is_relative() { base_dir.join(path) } else { path };
                    Some((SheetLocation::Workbook(path), Tab::First, l))
                }
                Ok(SheetLocation::Google(sheet)) => {
                    let tab = sheet.tab.clone();
                    Some((SheetLocation::Google(sheet), tab, l))
                }
                Err(e) => {
                    r.problem(Some(l), format!("`sheet`: {}", e.message()));
                    None
                }
            }
        }),
    };
    let (sheet, tab) = match sheet {
        Some((location, in_sheet, sheet_line)) => {
            let tab = match (in_sheet, tab_given) {
                (Tab::First, Some(t)) => Tab::Name(t),
                (Tab::First, None) => Tab::Name(table.as_ref().map(|t| t.name.clone()).unwrap_or_default()),
                (Tab::Name(a), Some(b)) if a != b => {
                    r.problem(
                        Some(sheet_line),
                        format!("`sheet` names tab `{a}` and `tab` says `{b}`; keep one"),
                    );
                    Tab::Name(a)
                }
                (Tab::Gid(g), Some(b)) => {
                    r.problem(
                        Some(sheet_line),
                        format!("`sheet` names tab gid {g} and `tab` says `{b}`; keep one"),
                    );
                    Tab::Gid(g)
                }
                (t, _) => t,
            };
            let location = match location {
                SheetLocation::Google(mut s) => {
                    s.tab = tab.clone();
                    SheetLocation::Google(s)
                }
                w => w,
            };
            (Some(location), tab)
        }
        None => (None, Tab::First),
    };

    let key = r.names(&p.key, "key");
    let columns = r.names(&p.columns, "columns");
    let exclude = r.names(&p.exclude, "exclude");
    let read_only = r.names(&p.read_only, "read_only");
    let list_line = |l: &Option<Names>| l.as_ref().map(|l| line_of(text, l.span().start));
    if p.columns.is_some() && p.exclude.is_some() {
        let l = list_line(&p.exclude);
        r.problem(l, "`columns` and `exclude` both choose the columns; keep one");
    }
    let selected = |c: &String| (columns.is_empty() || columns.contains(c)) && !exclude.contains(c);
    for k in key.iter().filter(|k| !selected(k)) {
        let l = list_line(&p.key);
        r.problem(l, format!("key column `{k}` is not among the synced columns (see `columns`/`exclude`)"));
    }
    for c in read_only.iter().filter(|c| !selected(c)) {
        let l = list_line(&p.read_only);
        r.problem(l, format!("read-only column `{c}` is not among the synced columns"));
    }

    let direction = match &p.direction {
        Some(d) => r.keyword(d, "direction", &DIRECTIONS),
        None => Some(Direction::Both),
    };
    let default_rule = match &p.conflict {
        Some(c) => r.keyword(c, "conflict", &RULES),
        None => Some(ConflictRule::TableWins),
    };
    let mut per_column = BTreeMap::new();
    for (column, rule) in p.conflict_columns.iter().flatten() {
        if let Some(v) = r.keyword(rule, &format!("conflict_columns.{column}"), &RULES) {
            if !selected(column) {
                let l = at(rule);
                r.problem(Some(l), format!("`conflict_columns` names `{column}`, which is not synced"));
            }
            per_column.insert(column.clone(), v);
        }
    }
    let deletes = match &p.deletes {
        Some(d) => r.keyword(d, "deletes", &DELETES),
        None => Some(DeletePolicy::Propagate),
    };
    let max_deletes = match &p.max_deletes {
        None => Some(DEFAULT_MAX_DELETES),
        Some(m) => {
            let l = line_of(text, m.span().start);
            let parsed = match m.get_ref() {
                OrText::Value(n) => u64::try_from(*n)
                    .map(Threshold::Count)
                    .map_err(|_| format!("`max_deletes` is {n}; it cannot be negative")),
                OrText::Text(t) => match interpolate(t, r.env) {
                    Ok(t) => parse_threshold(&t),
                    Err(missing) => {
                        Err(format!("`max_deletes` uses ${{{missing}}}, which is not set in the environment"))
                    }
                },
            };
            parsed.map_err(|e| r.problem(Some(l), e)).ok()
        }
    };
    let schedule = match &p.schedule {
        None => Some(DEFAULT_SCHEDULE),
        Some(s) => r.string(s, "schedule").and_then(|text| match text.parse::<Schedule>() {
            Ok(s) => Some(s),
            Err(e) => {
                let l = at(s);
                r.problem(Some(l), format!("`schedule`: {e}"));
                None
            }
        }),
    };
    let enabled = match &p.enabled {
        None => Some(true),
        Some(e) => {
            let l = line_of(text, e.span().start);
            match e.get_ref() {
                OrText::Value(b) => Some(*b),
                OrText::Text(t) => match interpolate(t, r.env).as_deref().map(str::trim) {
                    Ok("true") => Some(true),
                    Ok("false") => Some(false),
                    Ok(other) => {
                        r.problem(Some(l), format!("`enabled` is `{other}`; use true or false"));
                        None
                    }
                    Err(missing) => {
                        r.problem(
                            Some(l),
                            format!("`enabled` uses ${{{missing}}}, which is not set in the environment"),
                        );
                        None
                    }
                },
            }
        }
    };

    // Where a field is wrong its default stands in: the problem is recorded, and
    // `sheetbridge check` can still reach the table and the sheet.
    let mut lines = BTreeMap::new();
    let mut mark = |field: &'static str, span: Option<std::ops::Range<usize>>| {
        if let Some(span) = span {
            lines.insert(field, line_of(text, span.start));
        }
    };
    mark("name", p.name.as_ref().map(Spanned::span));
    mark("table", p.table.as_ref().map(Spanned::span));
    mark("sheet", p.sheet.as_ref().map(Spanned::span));
    mark("tab", p.tab.as_ref().map(Spanned::span));
    mark("key", p.key.as_ref().map(Spanned::span));
    mark("columns", p.columns.as_ref().map(Spanned::span));
    mark("exclude", p.exclude.as_ref().map(Spanned::span));
    mark("read_only", p.read_only.as_ref().map(Spanned::span));
    mark("conflict_columns", p.conflict_columns.as_ref().and_then(|m| m.values().next()).map(Spanned::span));
    Some(PairConfig {
        name: name.unwrap_or_else(|| r.pair.clone().unwrap_or_default()),
        line,
        lines,
        table: table?,
        sheet: sheet?,
        tab,
        key,
        columns,
        exclude,
        read_only,
        direction: direction.unwrap_or(Direction::Both),
        conflict: ConflictPolicy { default: default_rule.unwrap_or(ConflictRule::TableWins), per_column },
        deletes: deletes.unwrap_or(DeletePolicy::Propagate),
        max_deletes: max_deletes.unwrap_or(DEFAULT_MAX_DELETES),
        schedule: schedule.unwrap_or(DEFAULT_SCHEDULE),
        enabled: enabled.unwrap_or(true),
    })
}

/// Resolves `[serve]`.
pub(super) fn resolve_serve<E: Fn(&str) -> Option<String>>(
    r: &mut Resolver<'_, E>,
    section: &ServeSection,
) -> ServeSettings {
    let mut settings = ServeSettings::default();
    if let Some(listen) = &section.listen {
        if let Some(text) = r.string(listen, "listen") {
            match text.trim().parse::<SocketAddr>() {
                Ok(addr) => settings.listen = addr,
                Err(_) => {
                    let l = line_of(r.text, listen.span().start);
                    r.problem(
                        Some(l),
                        format!("`listen` is `{text}`; give an IP address and port, like `0.0.0.0:9464`"),
                    );
                }
            }
        }
    }
    if let Some(format) = &section.log_format {
        if let Some(f) =
            r.keyword(format, "log_format", &[("text", LogFormat::Text), ("json", LogFormat::Json)])
        {
            settings.log_format = f;
        }
    }
    settings
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::time::Duration;

    use super::*;
    use crate::config::ConfigFile;

    const ID: &str = "1BxiMVs0XRA5nFMdKvBdBZjgmUUqptlbs74OgvE2upms";

    fn env(name: &str) -> Option<String> {
        match name {
            "SHEET_ID" => Some(ID.into()),
            "MAX_DEL" => Some("2.5%".into()),
            "ORDERS_ON" => Some("false".into()),
            _ => None,
        }
    }

    fn pairs(text: &str) -> Result<Vec<PairConfig>, Vec<ConfigProblem>> {
        ConfigFile::parse(Path::new("/etc/sb/x.toml"), text).unwrap().pairs(env)
    }

    fn problems(text: &str) -> Vec<String> {
        pairs(text).unwrap_err().iter().map(ToString::to_string).collect()
    }

    #[test]
    fn every_field_resolves() {
        let p = pairs(
            r#"
[[pair]]
name = "orders"
table = "shop.orders"
sheet = "gsheet://${SHEET_ID}/Orders"
key = ["id"]
columns = ["id", "customer", "quantity", "notes", "status"]
read_only = ["customer"]
direction = "both"
conflict = "flag"
deletes = "hold"
max_deletes = "${MAX_DEL}"
schedule = "*/5 * * * *"
enabled = "${ORDERS_ON}"

[pair.conflict_columns]
notes = "sheet_wins"
status = "table_wins"

[[pair]]
name = "prices_2"
table = "prices"
sheet = "books/prices.xlsx"
tab = "Current"
exclude = ["internal_cost"]
direction = "to_sheet"
max_deletes = 25
schedule = "1h"
enabled = true
"#,
        )
        .unwrap();
        let [orders, prices] = &p[..] else { panic!("two pairs: {p:?}") };
        assert_eq!(orders.name, "orders");
        assert_eq!(orders.line, 2);
        assert_eq!(orders.table, TableName::new(Some("shop"), "orders"));
        let Tab::Name(tab) = &orders.tab else { panic!("{:?}", orders.tab) };
        assert_eq!(tab, "Orders");
        assert!(
            matches!(&orders.sheet, SheetLocation::Google(s) if s.spreadsheet_id == ID && s.tab == orders.tab)
        );
        assert_eq!(orders.key, ["id"]);
        assert_eq!(orders.columns, ["id", "customer", "quantity", "notes", "status"]);
        assert_eq!(orders.read_only, ["customer"]);
        assert_eq!(orders.direction, Direction::Both);
        assert_eq!(orders.conflict.default, ConflictRule::Flag);
        assert_eq!(orders.conflict.for_column("notes"), ConflictRule::SheetWins);
        assert_eq!(orders.conflict.for_column("status"), ConflictRule::TableWins);
        assert_eq!(orders.conflict.for_column("quantity"), ConflictRule::Flag);
        assert_eq!(orders.deletes, DeletePolicy::Hold);
        assert_eq!(orders.max_deletes, Threshold::Percent(250));
        assert!(matches!(orders.schedule, Schedule::Cron(_)));
        assert!(!orders.enabled);

        assert_eq!(prices.sheet, SheetLocation::Workbook(PathBuf::from("/etc/sb/books/prices.xlsx")));
        assert_eq!(prices.tab, Tab::Name("Current".into()));
        assert_eq!(prices.exclude, ["internal_cost"]);
        assert!(prices.selects("amount") && !prices.selects("internal_cost"));
        assert_eq!(prices.direction, Direction::ToSheet);
        assert_eq!(prices.max_deletes, Threshold::Count(25));
        assert_eq!(prices.schedule, Schedule::Every(Duration::from_secs(3600)));
        assert!(prices.enabled);
    }

    #[test]
    fn defaults() {
        let p = pairs("[[pair]]\nname = \"a\"\ntable = \"t\"\nsheet = \"/data/t.xlsx\"\n").unwrap();
        let a = &p[0];
        assert_eq!(a.tab, Tab::Name("t".into()), "the tab is named after the table");
        assert!(a.key.is_empty() && a.columns.is_empty() && a.exclude.is_empty() && a.read_only.is_empty());
        assert_eq!(a.direction, Direction::Both);
        assert_eq!(
            a.conflict,
            ConflictPolicy { default: ConflictRule::TableWins, per_column: BTreeMap::new() }
        );
        assert_eq!(a.deletes, DeletePolicy::Propagate);
        assert_eq!(a.max_deletes, Threshold::Percent(1000));
        assert_eq!(a.schedule, Schedule::Every(Duration::from_secs(300)));
        assert!(a.enabled);
        assert!(pairs("").unwrap().is_empty(), "a file without pairs has none");
    }

    #[test]
    fn google_links_keep_their_tab_or_gid() {
        let link = format!("https://docs.google.com/spreadsheets/d/{ID}/edit#gid=42");
        let p = pairs(&format!("[[pair]]\nname = \"a\"\ntable = \"t\"\nsheet = \"{link}\"\n")).unwrap();
        assert_eq!(p[0].tab, Tab::Gid(42));
        let p = pairs(&format!(
            "[[pair]]\nname = \"a\"\ntable = \"t\"\nsheet = \"gsheet://{ID}\"\ntab = \"Q3\"\n"
        ))
        .unwrap();
        assert!(matches!(&p[0].sheet, SheetLocation::Google(s) if s.tab == Tab::Name("Q3".into())));
    }

    #[test]
    fn every_problem_is_reported_with_its_line_and_pair() {
        let text = r#"[[pair]]
name = "orders"
table = "shop.orders"
sheet = "gsheet://${NOPE}/Orders"
direction = "sideways"
conflict = "loudest_wins"
deletes = "maybe"
max_deletes = "150%"
schedule = "*/5 * * *"
columns = ["id", "qty"]
exclude = ["qty"]
key = ["code"]
read_only = ["notes", "notes"]
enabled = "yes"

[pair.conflict_columns]
notes = "sheet_wins"
qty = "coin_toss"

[[pair]]
table = "a.b.c"
sheet = "prices.csv"

[[pair]]
name = "Bad Name"
table = "t"
sheet = "t.xlsx"
max_deletes = -1
key = []

[[pair]]
name = "orders"
table = "t"
sheet = "t.xlsx"
"#;
        let got = problems(text);
        let want = [
            "line 4, pair `orders`: `sheet` uses ${NOPE}, which is not set in the environment",
            "line 11, pair `orders`: `columns` and `exclude` both choose the columns; keep one",
            "line 12, pair `orders`: key column `code` is not among the synced columns",
            "line 13, pair `orders`: `read_only` names column `notes` twice",
            "line 13, pair `orders`: read-only column `notes` is not among the synced columns",
            "line 5, pair `orders`: `direction` is `sideways`; use `both`, `to_sheet`, `to_table`",
            "line 6, pair `orders`: `conflict` is `loudest_wins`; use `table_wins`, `sheet_wins`, `flag`",
            "line 17, pair `orders`: `conflict_columns` names `notes`, which is not synced",
            "line 18, pair `orders`: `conflict_columns.qty` is `coin_toss`",
            "line 7, pair `orders`: `deletes` is `maybe`; use `propagate`, `ignore`, `hold`",
            "line 8, pair `orders`: `max_deletes` is `150%`, over 100%",
            "line 9, pair `orders`: `schedule`: cron `*/5 * * *` has 4 fields",
            "line 14, pair `orders`: `enabled` is `yes`; use true or false",
            "line 20, pair `#2`: the pair has no `name`",
            "line 21, pair `#2`: `table`: table name `a.b.c` has more than two parts",
            "line 22, pair `#2`: `sheet` `prices.csv` is neither a Google Sheet",
            "line 25, pair `Bad Name`: name `Bad Name` may hold only lower-case letters",
            "line 29, pair `Bad Name`: `key` is empty; leave it out to use the primary key",
            "line 28, pair `Bad Name`: `max_deletes` is -1; it cannot be negative",
            "line 31, pair `orders`: the name is taken already by the pair at line 1",
        ];
        for w in want {
            let w = format!("config `/etc/sb/x.toml` {w}");
            assert!(got.iter().any(|g| g.starts_with(&w)), "missing {w:?} among:\n{}", got.join("\n"));
        }
        assert_eq!(got.len(), want.len(), "{}", got.join("\n"));
    }

    #[test]
    fn check_gets_every_pair_it_can_reach_despite_problems() {
        let f = ConfigFile::parse(
            Path::new("x.toml"),
            "[[pair]]\nname = \"a\"\ntable = \"t\"\nsheet = \"t.xlsx\"\nschedule = \"soon\"\n\
             columns = [\"id\"]\n\n[[pair]]\nname = \"b\"\ntable = \"a.b.c\"\nsheet = \"t.xlsx\"\n",
        )
        .unwrap();
        let (pairs, problems) = f.resolve_pairs(env);
        assert_eq!(pairs.len(), 1, "the pair with a bad table cannot be reached: {pairs:?}");
        assert_eq!((pairs[0].name.as_str(), &pairs[0].schedule), ("a", &DEFAULT_SCHEDULE));
        assert_eq!(
            (pairs[0].line_of("sheet"), pairs[0].line_of("columns"), pairs[0].line_of("tab")),
            (4, 6, 1)
        );
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(f.pairs(env).is_err());
    }

    #[test]
    fn unknown_keys_name_their_line() {
        let e = ConfigFile::parse(
            Path::new("x.toml"),
            "[[pair]]\nname = \"a\"\ntable = \"t\"\nsheet = \"t.xlsx\"\nconflicts = \"flag\"\n",
        )
        .unwrap_err();
        assert!(e.to_string().contains("x.toml` line 5") && e.to_string().contains("conflicts"), "{e}");
        let e = ConfigFile::parse(Path::new("x.toml"), "[serve]\nport = 1\n").unwrap_err();
        assert!(e.to_string().contains("line 2") && e.to_string().contains("port"), "{e}");
    }

    #[test]
    fn tab_given_twice_must_agree() {
        let got = problems(&format!(
            "[[pair]]\nname = \"a\"\ntable = \"t\"\nsheet = \"gsheet://{ID}/One\"\ntab = \"Two\"\n"
        ));
        assert_eq!(got.len(), 1, "{got:?}");
        assert!(got[0].contains("line 4, pair `a`: `sheet` names tab `One` and `tab` says `Two`"), "{got:?}");
    }

    #[test]
    fn merge_settings_follow_the_pair() {
        let p = pairs(
            "[[pair]]\nname = \"a\"\ntable = \"t\"\nsheet = \"t.xlsx\"\ndirection = \"to_table\"\n\
             conflict = \"sheet_wins\"\ndeletes = \"ignore\"\nconflict_columns = { note = \"flag\" }\n",
        )
        .unwrap();
        let want = MergeSettings::new(
            merge::Direction::ToTable,
            merge::ConflictPolicy::SheetWins,
            merge::DeletePolicy::Ignore,
        )
        .with_column("note", merge::ConflictPolicy::Flag);
        assert_eq!(p[0].merge_settings(), want);
        for (d, m) in DIRECTIONS.iter().zip([
            merge::Direction::Both,
            merge::Direction::ToSheet,
            merge::Direction::ToTable,
        ]) {
            assert_eq!(merge::Direction::from(d.1), m);
        }
        for (r, m) in RULES.iter().zip([
            merge::ConflictPolicy::TableWins,
            merge::ConflictPolicy::SheetWins,
            merge::ConflictPolicy::Flag,
        ]) {
            assert_eq!(merge::ConflictPolicy::from(r.1), m);
        }
        for (d, m) in DELETES.iter().zip([
            merge::DeletePolicy::Propagate,
            merge::DeletePolicy::Ignore,
            merge::DeletePolicy::Hold,
        ]) {
            assert_eq!(merge::DeletePolicy::from(d.1), m);
        }
    }

    #[test]
    fn thresholds() {
        assert_eq!(parse_threshold("10%"), Ok(Threshold::Percent(1000)));
        assert_eq!(parse_threshold("2.5%"), Ok(Threshold::Percent(250)));
        assert_eq!(parse_threshold("0.05%"), Ok(Threshold::Percent(5)));
        assert_eq!(parse_threshold("100%"), Ok(Threshold::Percent(10_000)));
        assert_eq!(parse_threshold(" 7 "), Ok(Threshold::Count(7)));
        for bad in ["101%", "1.234%", "%", "-1%", "ten", "1e3", "5 %%"] {
            assert!(parse_threshold(bad).is_err(), "{bad}");
        }
        assert_eq!(Threshold::Percent(1000).limit(5), 1, "a percentage rounds up");
        assert_eq!(Threshold::Percent(1000).limit(100), 10);
        assert_eq!(Threshold::Percent(1000).limit(0), 0);
        assert_eq!(Threshold::Percent(250).limit(1_000_000), 25_000);
        assert!(Threshold::Percent(1000).exceeded(11, 100));
        assert!(!Threshold::Percent(1000).exceeded(10, 100));
        assert!(Threshold::Count(3).exceeded(4, 1_000_000));
        assert_eq!(Threshold::Percent(250).to_string(), "2.50%");
        assert_eq!(Threshold::Percent(1000).to_string(), "10%");
    }

    #[test]
    fn serve_section() {
        let f = ConfigFile::parse(Path::new("x.toml"), "").unwrap();
        assert_eq!(f.serve(env).unwrap(), ServeSettings::default());
        assert_eq!(ServeSettings::default().listen.to_string(), "127.0.0.1:9464");
        let f = ConfigFile::parse(
            Path::new("x.toml"),
            "[serve]\nlisten = \"${LISTEN:-0.0.0.0:9100}\"\nlog_format = \"json\"\n",
        )
        .unwrap();
        let s = f.serve(env).unwrap();
        assert_eq!((s.listen.to_string().as_str(), s.log_format), ("0.0.0.0:9100", LogFormat::Json));
        let f =
            ConfigFile::parse(Path::new("x.toml"), "[serve]\nlisten = \"localhost\"\nlog_format = \"xml\"\n")
                .unwrap();
        let got: Vec<String> = f.serve(env).unwrap_err().iter().map(ToString::to_string).collect();
        assert_eq!(got.len(), 2, "{got:?}");
        assert!(got[0].starts_with("config `x.toml` line 2: `listen` is `localhost`"), "{got:?}");
        assert!(got[1].starts_with("config `x.toml` line 3: `log_format` is `xml`"), "{got:?}");
    }

    #[test]
    fn validate_gathers_every_section() {
        let f = ConfigFile::parse(
            Path::new("x.toml"),
            "[database]\nurl = \"${NO_DB}\"\n[serve]\nlog_format = \"xml\"\n[[pair]]\nname = \"a\"\n",
        )
        .unwrap();
        let got: Vec<String> = f.validate(env).unwrap_err().iter().map(ToString::to_string).collect();
        assert!(got.iter().any(|g| g.contains("[database]") && g.contains("${NO_DB}")), "{got:?}");
        assert!(got.iter().any(|g| g.contains("log_format")), "{got:?}");
        assert!(got.iter().any(|g| g.contains("pair `a`: the pair has no `table`")), "{got:?}");
        assert!(got.iter().any(|g| g.contains("pair `a`: the pair has no `sheet`")), "{got:?}");
    }
}
