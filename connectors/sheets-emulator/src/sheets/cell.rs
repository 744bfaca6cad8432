//! One cell: its value, kept compact, and what a person typed (USER_ENTERED)
//! turned into a value and a number format the way Sheets does in en_US.

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, Timelike};
use serde_json::{json, Map, Value as Json};

/// A cell's effective value (a formula's value is computed when read).
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Value {
    #[default]
    Empty,
    Number(f64),
    Text(Box<str>),
    Bool(bool),
    /// An error such as `#DIV/0!`.
    Error(Box<str>),
}

/// The parts of a cell most cells do not have.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Extra {
    /// `=A1+1`, as entered.
    pub formula: Option<Box<str>>,
    /// `userEnteredFormat`, as Google returns it (number formats included).
    pub format: Option<Json>,
    pub note: Option<Box<str>>,
    /// `dataValidation`.
    pub validation: Option<Json>,
}

/// One cell of a grid: 32 bytes when it carries no formula, format or note.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Cell {
    pub value: Value,
    pub extra: Option<Box<Extra>>,
}

impl Cell {
    pub fn is_empty(&self) -> bool {
        matches!(self.value, Value::Empty) && self.extra.is_none()
    }

    /// Whether the cell holds a value or a formula (formats and notes aside).
    pub fn has_content(&self) -> bool {
        !matches!(self.value, Value::Empty) || self.formula().is_some()
    }

    pub fn formula(&self) -> Option<&str> {
        self.extra.as_ref().and_then(|e| e.formula.as_deref())
    }

    pub fn format(&self) -> Option<&Json> {
        self.extra.as_ref().and_then(|e| e.format.as_ref())
    }

    pub fn note(&self) -> Option<&str> {
        self.extra.as_ref().and_then(|e| e.note.as_deref())
    }

    pub fn extra_mut(&mut self) -> &mut Extra {
        self.extra.get_or_insert_with(Box::default)
    }

    /// Drops `extra` when nothing is left in it.
    pub fn tidy(&mut self) {
        if let Some(e) = &self.extra {
            if e.formula.is_none() && e.format.is_none() && e.note.is_none() && e.validation.is_none() {
                self.extra = None;
            }
        }
    }

    /// Sets the content (value and formula), keeping format, note and validation.
    pub fn set_content(&mut self, entered: Entered) {
        self.value = entered.value;
        if entered.formula.is_some() || self.extra.is_some() {
            self.extra_mut().formula = entered.formula;
        }
        if let Some(number_format) = entered.number_format {
            let format = self.extra_mut().format.get_or_insert_with(|| json!({}));
            if let Some(map) = format.as_object_mut() {
                map.insert("numberFormat".into(), number_format);
            }
        }
        self.tidy();
    }

    /// Clears the value and formula, keeping formats (what values.clear does).
    pub fn clear_content(&mut self) {
        self.value = Value::Empty;
        if let Some(e) = &mut self.extra {
            e.formula = None;
        }
        self.tidy();
    }

    pub fn number_format(&self) -> Option<(&str, &str)> {
        let nf = self.format()?.get("numberFormat")?;
        Some((nf.get("type")?.as_str()?, nf.get("pattern").and_then(Json::as_str).unwrap_or("")))
    }
}

/// What an input turns into.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Entered {
    pub value: Value,
    pub formula: Option<Box<str>>,
    pub number_format: Option<Json>,
}

impl Entered {
    fn value(value: Value) -> Entered {
        Entered { value, formula: None, number_format: None }
    }
}

/// valueInputOption RAW: stored as given.
pub fn raw(input: &Json) -> Entered {
    Entered::value(match input {
        Json::Null => Value::Empty,
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => Value::Number(n.as_f64().unwrap_or(0.0)),
        Json::String(s) if s.is_empty() => Value::Empty,
        Json::String(s) => Value::Text(s.as_str().into()),
        other => Value::Text(other.to_string().into()),
    })
}

/// Like [`raw`], moving the text instead of copying it.
pub fn raw_owned(input: Json) -> Entered {
    match input {
        Json::String(s) if !s.is_empty() => Entered::value(Value::Text(s.into_boxed_str())),
        other => raw(&other),
    }
}

/// valueInputOption USER_ENTERED: parsed as if typed into the UI (en_US).
pub fn user_entered(input: &Json) -> Entered {
    match input {
        Json::String(s) => parse_typed(s),
        other => raw(other),
    }
}

fn number_format(kind: &str, pattern: &str) -> Option<Json> {
    Some(json!({"type": kind, "pattern": pattern}))
}

/// Parses what a person typed.
pub fn parse_typed(text: &str) -> Entered {
    if text.is_empty() {
        return Entered::default();
    }
    if let Some(rest) = text.strip_prefix('\'') {
        return Entered::value(if rest.is_empty() { Value::Empty } else { Value::Text(rest.into()) });
    }
    if text.len() > 1 && text.starts_with('=') {
        return Entered { value: Value::Empty, formula: Some(text.into()), number_format: None };
    }
    let trimmed = text.trim();
    if trimmed.eq_ignore_ascii_case("true") {
        return Entered::value(Value::Bool(true));
    }
    if trimmed.eq_ignore_ascii_case("false") {
        return Entered::value(Value::Bool(false));
    }
    if let Some(e) = parse_number(trimmed) {
        return e;
    }
    if let Some(e) = parse_date_time(trimmed) {
        return e;
    }
    Entered::value(Value::Text(text.into()))
}

/// `42`, `-1.5e3`, `1,000`, `2,000,000.01`, `12%`, `$1,234.50`, `(5)` is not handled.
fn parse_number(text: &str) -> Option<Entered> {
    let (negative, body) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let (currency, body) = match body.strip_prefix('$') {
        Some(rest) => (true, rest.trim_start()),
        None => (false, body),
    };
    let (percent, body) = match body.strip_suffix('%') {
        Some(rest) => (true, rest.trim_end()),
        None => (false, body),
    };
    if body.is_empty() || (currency && percent) {
        return None;
    }
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(pos) => (&body[..pos], Some(&body[pos + 1..])),
        None => (body, None),
    };
    let (int_part, frac_part) = match mantissa.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (mantissa, None),
    };
    if int_part.is_empty() && frac_part.is_none_or(str::is_empty) {
        return None;
    }
    let grouped = int_part.contains(',');
    if grouped {
        let mut groups = int_part.split(',');
        let first = groups.next()?;
        if first.is_empty() || first.len() > 3 || !first.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        if !groups.all(|g| g.len() == 3 && g.bytes().all(|b| b.is_ascii_digit())) {
            return None;
        }
    } else if !int_part.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if let Some(f) = frac_part {
        if !f.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
    }
    if let Some(e) = exponent {
        let digits = e.strip_prefix(['+', '-']).unwrap_or(e);
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) || grouped {
            return None;
        }
    }
    let plain: String = mantissa.chars().filter(|c| *c != ',').collect();
    let text_number = match exponent {
        Some(e) => format!("{plain}e{e}"),
        None => plain,
    };
    let mut number: f64 = text_number.parse().ok()?;
    if negative {
        number = -number;
    }
    let decimals = frac_part.map_or(0, str::len);
    let zeros = "0".repeat(decimals);
    let dot = if decimals > 0 { "." } else { "" };
    let format = if percent {
        number /= 100.0;
        number_format("PERCENT", &format!("0{dot}{zeros}%"))
    } else if currency {
        number_format("CURRENCY", "\"$\"#,##0.00")
    } else if exponent.is_some() {
        number_format("SCIENTIFIC", "0.00E+00")
    } else if grouped {
        number_format("NUMBER", &format!("#,##0{dot}{zeros}"))
    } else {
        None
    };
    Some(Entered { value: Value::Number(number), formula: None, number_format: format })
}

fn epoch() -> NaiveDate {
    NaiveDate::from_ymd_opt(1899, 12, 30).unwrap_or_default()
}

/// Days since 1899-12-30, with the time of day as the fraction.
pub fn serial_of(dt: NaiveDateTime) -> f64 {
    let days = (dt.date() - epoch()).num_days() as f64;
    let seconds = f64::from(dt.time().num_seconds_from_midnight());
    days + seconds / 86_400.0
}

/// Like [`serial_of`], keeping milliseconds.
pub fn serial_of_millis(dt: NaiveDateTime) -> f64 {
    serial_of(dt) + f64::from(dt.nanosecond() / 1_000_000) / 86_400_000.0
}

pub fn date_of_serial(serial: f64) -> Option<NaiveDateTime> {
    if !serial.is_finite() || serial.abs() > 3_000_000.0 {
        return None;
    }
    let days = serial.floor();
    let millis = ((serial - days) * 86_400_000.0).round() as i64;
    let date = epoch().checked_add_signed(Duration::days(days as i64))?;
    date.and_hms_opt(0, 0, 0)?.checked_add_signed(Duration::milliseconds(millis))
}

fn parse_date(text: &str) -> Option<(NaiveDate, &'static str)> {
    if let Ok(d) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Some((d, "yyyy-mm-dd"));
    }
    if let Ok(d) = NaiveDate::parse_from_str(text, "%Y/%m/%d") {
        return Some((d, "yyyy/mm/dd"));
    }
    if let Ok(d) = NaiveDate::parse_from_str(text, "%m/%d/%Y") {
        return Some((d, "M/d/yyyy"));
    }
    // Month names, as the Sheets UI reads them: `Mar 1 2016`, `March 1, 2016`, `1-Mar-2016`.
    for (fmt, pattern) in [
        ("%b %d %Y", "mmm d yyyy"),
        ("%b %d, %Y", "mmm d, yyyy"),
        ("%B %d %Y", "mmmm d yyyy"),
        ("%B %d, %Y", "mmmm d, yyyy"),
        ("%d-%b-%Y", "d-mmm-yyyy"),
        ("%d %B %Y", "d mmmm yyyy"),
    ] {
        if let Ok(d) = NaiveDate::parse_from_str(text, fmt) {
            return Some((d, pattern));
        }
    }
    None
}

fn parse_time(text: &str) -> Option<(NaiveTime, &'static str)> {
    let upper = text.to_ascii_uppercase();
    for (fmt, pattern) in [
        ("%H:%M:%S", "h:mm:ss"),
        ("%H:%M", "h:mm"),
        ("%I:%M:%S %p", "h:mm:ss am/pm"),
        ("%I:%M %p", "h:mm am/pm"),
        ("%H:%M:%S%.f", "h:mm:ss.000"),
    ] {
        if let Ok(t) = NaiveTime::parse_from_str(&upper, fmt) {
            return Some((t, pattern));
        }
    }
    None
}

fn parse_date_time(text: &str) -> Option<Entered> {
    // Cheap checks first: dates and times are short and hold a digit.
    if text.len() > 40 || !text.bytes().any(|b| b.is_ascii_digit()) {
        return None;
    }
    if let Some((d, pattern)) = parse_date(text) {
        let serial = serial_of(d.and_hms_opt(0, 0, 0)?);
        return Some(Entered {
            value: Value::Number(serial),
            formula: None,
            number_format: number_format("DATE", pattern),
        });
    }
    if let Some((t, pattern)) = parse_time(text) {
        let serial = f64::from(t.num_seconds_from_midnight()) / 86_400.0;
        return Some(Entered {
            value: Value::Number(serial),
            formula: None,
            number_format: number_format("TIME", pattern),
        });
    }
    let (date_text, time_text) = text.split_once([' ', 'T'])?;
    let (d, date_pattern) = parse_date(date_text.trim())?;
    let (t, time_pattern) = parse_time(time_text.trim())?;
    let serial = serial_of(NaiveDateTime::new(d, t));
    Some(Entered {
        value: Value::Number(serial),
        formula: None,
        number_format: number_format("DATE_TIME", &format!("{date_pattern} {time_pattern}")),
    })
}

/// How values.get renders values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Render {
    Formatted,
    Unformatted,
    Formula,
}

/// Whether date/time cells come back as serial numbers or formatted text
/// (only for UNFORMATTED_VALUE and FORMULA).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateRender {
    Serial,
    FormattedString,
}

/// A number as JSON the way Google writes it: whole numbers without `.0`.
pub fn number_json(n: f64) -> Json {
    if n.fract() == 0.0 && n.abs() < 9.0e15 {
        Json::from(n as i64)
    } else {
        serde_json::Number::from_f64(n).map(Json::Number).unwrap_or(Json::Null)
    }
}

/// Renders a value (already evaluated) with the cell's number format.
pub fn render(value: &Value, format: Option<(&str, &str)>, render: Render, dates: DateRender) -> Json {
    match value {
        Value::Empty => Json::String(String::new()),
        Value::Text(s) => Json::String(s.to_string()),
        Value::Error(e) => Json::String(e.to_string()),
        Value::Bool(b) => match render {
            Render::Formatted => Json::String(if *b { "TRUE" } else { "FALSE" }.into()),
            _ => Json::Bool(*b),
        },
        Value::Number(n) => {
            let is_date = matches!(format, Some((k, _)) if matches!(k, "DATE" | "TIME" | "DATE_TIME"));
            match render {
                Render::Formatted => Json::String(format_number(*n, format)),
                _ if is_date && dates == DateRender::FormattedString => {
                    Json::String(format_number(*n, format))
                }
                _ => number_json(*n),
            }
        }
    }
}

/// The text Sheets shows for a number.
pub fn format_number(n: f64, format: Option<(&str, &str)>) -> String {
    match format {
        Some(("DATE" | "TIME" | "DATE_TIME", pattern)) => match date_of_serial(n) {
            Some(dt) => format_date(dt, pattern),
            None => general(n),
        },
        Some(("PERCENT", pattern)) => {
            let decimals = decimals_of(pattern);
            format!("{}%", fixed(n * 100.0, decimals, false))
        }
        Some(("CURRENCY", pattern)) => {
            let decimals = decimals_of(pattern);
            let body = fixed(n.abs(), decimals, true);
            if n < 0.0 {
                format!("-${body}")
            } else {
                format!("${body}")
            }
        }
        Some(("NUMBER", pattern)) if !pattern.is_empty() => {
            fixed(n, decimals_of(pattern), pattern.contains(','))
        }
        Some(("SCIENTIFIC", _)) => {
            let s = format!("{n:.2E}");
            match s.split_once('E') {
                Some((m, e)) => {
                    let exp: i32 = e.parse().unwrap_or(0);
                    format!("{m}E{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs())
                }
                None => s,
            }
        }
        _ => general(n),
    }
}

fn decimals_of(pattern: &str) -> usize {
    match pattern.split_once('.') {
        Some((_, rest)) => rest.chars().take_while(|c| *c == '0' || *c == '#').count(),
        None => 0,
    }
}

fn fixed(n: f64, decimals: usize, grouping: bool) -> String {
    let text = format!("{:.*}", decimals, n);
    if !grouping {
        return text;
    }
    let (sign, digits) = match text.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", text.as_str()),
    };
    let (int_part, frac) = match digits.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (digits, None),
    };
    let mut grouped = String::with_capacity(int_part.len() + int_part.len() / 3);
    for (i, c) in int_part.chars().enumerate() {
        if i > 0 && (int_part.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    match frac {
        Some(f) => format!("{sign}{grouped}.{f}"),
        None => format!("{sign}{grouped}"),
    }
}

/// Sheets' automatic format: up to 10 decimals for ordinary numbers, E
/// notation for very large or small ones.
pub fn general(n: f64) -> String {
    if n == 0.0 {
        return "0".into();
    }
    if n.fract() == 0.0 && n.abs() < 1e15 {
        return format!("{}", n as i64);
    }
    let magnitude = n.abs();
    if !(1e-10..1e15).contains(&magnitude) {
        let s = format!("{n:.2E}");
        return match s.split_once('E') {
            Some((m, e)) => {
                let exp: i32 = e.parse().unwrap_or(0);
                format!("{m}E{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs())
            }
            None => s,
        };
    }
    let digits_before = if magnitude >= 1.0 { magnitude.log10().floor() as usize + 1 } else { 1 };
    let decimals = 15usize.saturating_sub(digits_before).min(10);
    let text = format!("{:.*}", decimals, n);
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text == "-0" || text.is_empty() {
        "0".into()
    } else {
        text.into()
    }
}

fn format_date(dt: NaiveDateTime, pattern: &str) -> String {
    let lower = pattern.to_ascii_lowercase();
    let twelve_hour = lower.contains("am/pm");
    let bytes = lower.as_bytes();
    let mut out = String::new();
    let mut i = 0;
    let mut last_was_hour = false;
    while i < bytes.len() {
        let c = bytes[i];
        if !c.is_ascii() {
            // `i` only ever moves by whole characters, so it is on a boundary.
            let ch = lower[i..].chars().next().unwrap_or('?');
            out.push(ch);
            i += ch.len_utf8().max(1);
            last_was_hour = false;
            continue;
        }
        let run = bytes[i..].iter().take_while(|b| **b == c).count();
        match c {
            b'y' => {
                if run >= 3 {
                    out.push_str(&format!("{:04}", dt.year()));
                } else {
                    out.push_str(&format!("{:02}", dt.year() % 100));
                }
                last_was_hour = false;
            }
            b'm' if last_was_hour || lower[i + run..].trim_start_matches(':').starts_with('s') => {
                out.push_str(&pad(dt.minute(), run));
                last_was_hour = false;
            }
            b'm' => {
                const MONTHS: [&str; 12] = [
                    "January",
                    "February",
                    "March",
                    "April",
                    "May",
                    "June",
                    "July",
                    "August",
                    "September",
                    "October",
                    "November",
                    "December",
                ];
                let name = MONTHS[(dt.month0() as usize) % 12];
                match run {
                    1 | 2 => out.push_str(&pad(dt.month(), run)),
                    3 => out.push_str(&name[..3]),
                    _ => out.push_str(name),
                }
                last_was_hour = false;
            }
            b'd' => {
                out.push_str(&pad(dt.day(), run));
                last_was_hour = false;
            }
            b'h' => {
                let hour = if twelve_hour {
                    let h = dt.hour() % 12;
                    if h == 0 {
                        12
                    } else {
                        h
                    }
                } else {
                    dt.hour()
                };
                out.push_str(&pad(hour, run));
                last_was_hour = true;
            }
            b's' => {
                out.push_str(&pad(dt.second(), run));
                last_was_hour = false;
                // `ss.000`: fractions of a second, as many digits as zeros.
                let zeros = lower[i + run..]
                    .strip_prefix('.')
                    .map_or(0, |z| z.bytes().take_while(|b| *b == b'0').count());
                if zeros > 0 {
                    let millis = format!("{:03}", dt.nanosecond() / 1_000_000 % 1000);
                    let digits: String = millis.chars().chain(std::iter::repeat('0')).take(zeros).collect();
                    out.push('.');
                    out.push_str(&digits);
                    i += run + 1 + zeros;
                    continue;
                }
            }
            b'a' if lower[i..].starts_with("am/pm") => {
                out.push_str(if dt.hour() < 12 { "AM" } else { "PM" });
                i += 5;
                continue;
            }
            _ => {
                out.push(c as char);
                if c != b':' {
                    last_was_hour = false;
                }
            }
        }
        i += run;
    }
    out
}

fn pad(n: u32, width: usize) -> String {
    if width >= 2 {
        format!("{n:02}")
    } else {
        n.to_string()
    }
}

/// `effectiveValue` / `userEnteredValue` objects of CellData.
pub fn extended_value(value: &Value) -> Option<Json> {
    let mut map = Map::new();
    match value {
        Value::Empty => return None,
        Value::Number(n) => {
            map.insert("numberValue".into(), number_json(*n));
        }
        Value::Text(s) => {
            map.insert("stringValue".into(), Json::String(s.to_string()));
        }
        Value::Bool(b) => {
            map.insert("boolValue".into(), Json::Bool(*b));
        }
        Value::Error(e) => {
            let kind = match &**e {
                "#DIV/0!" => "DIVIDE_BY_ZERO",
                "#VALUE!" => "VALUE",
                "#REF!" => "REF",
                "#NAME?" => "NAME",
                "#NUM!" => "NUM",
                "#N/A" => "N_A",
                "#NULL!" => "NULL_VALUE",
                _ => "ERROR",
            };
            map.insert("errorValue".into(), json!({"type": kind, "message": e.to_string()}));
        }
    }
    Some(Json::Object(map))
}

/// Reads an ExtendedValue (`{"numberValue": 1}` …) given in updateCells.
pub fn from_extended(value: &Json) -> Entered {
    if let Some(f) = value.get("formulaValue").and_then(Json::as_str) {
        return Entered { value: Value::Empty, formula: Some(f.into()), number_format: None };
    }
    if let Some(n) = value.get("numberValue").and_then(Json::as_f64) {
        return Entered::value(Value::Number(n));
    }
    if let Some(s) = value.get("stringValue").and_then(Json::as_str) {
        return Entered::value(if s.is_empty() { Value::Empty } else { Value::Text(s.into()) });
    }
    if let Some(b) = value.get("boolValue").and_then(Json::as_bool) {
        return Entered::value(Value::Bool(b));
    }
    Entered::default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_numbers_dates_and_text() {
        assert_eq!(parse_typed("0042").value, Value::Number(42.0));
        let e = parse_typed("2,000,000.01");
        assert_eq!(e.value, Value::Number(2_000_000.01));
        let Value::Number(n) = e.value else { panic!() };
        let nf = e.number_format.expect("format");
        let pattern = nf["pattern"].as_str().unwrap_or("");
        assert_eq!(format_number(n, Some(("NUMBER", pattern))), "2,000,000.01");
        assert_eq!(parse_typed("2020-01-01").value, Value::Number(43831.0));
        assert_eq!(parse_typed("1999-01-02").value, Value::Number(36162.0));
        assert_eq!(parse_typed("12%").value, Value::Number(0.12));
        assert_eq!(parse_typed("'007").value, Value::Text("007".into()));
        assert_eq!(parse_typed("TRUE").value, Value::Bool(true));
        assert_eq!(parse_typed("=1+1").formula.as_deref(), Some("=1+1"));
        assert_eq!(parse_typed("1,00").value, Value::Text("1,00".into()));
        assert_eq!(general(0.0009765625), "0.0009765625");
        assert_eq!(general(1.5), "1.5");
        let with_millis = NaiveDate::from_ymd_opt(2020, 1, 1)
            .and_then(|d| d.and_hms_milli_opt(1, 2, 3, 450))
            .map(serial_of_millis)
            .unwrap_or_default();
        assert_eq!(
            format_number(with_millis, Some(("DATE_TIME", "yyyy-mm-dd hh:mm:ss.000"))),
            "2020-01-01 01:02:03.450"
        );
        assert_eq!(format_number(0.5, Some(("TIME", "hh:mm:ss"))), "12:00:00");
        let march = parse_typed("Mar 1 2016");
        assert_eq!(march.value, Value::Number(42430.0));
        let pattern = march.number_format.as_ref().and_then(|f| f["pattern"].as_str()).unwrap_or("");
        assert_eq!(format_number(42430.0, Some(("DATE", pattern))), "Mar 1 2016");
        assert_eq!(format_number(42430.0, Some(("DATE", "mmmm d, yyyy"))), "March 1, 2016");
        assert_eq!(
            format_date(
                NaiveDate::from_ymd_opt(2020, 1, 1).and_then(|d| d.and_hms_opt(13, 5, 0)).unwrap_or_default(),
                "yyyy-mm-dd h:mm:ss"
            ),
            "2020-01-01 13:05:00"
        );
    }
}
