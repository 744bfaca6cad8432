//! Turning what a spreadsheet holds into a column's value, exactly or not at all.
//!
//! Every connector reads cells as text, numbers or booleans; these functions
//! turn them into the [`Value`] of a column's type, or say why they cannot,
//! in words that follow the value in an error (`"abc"` *is not an integer*).
//! Nothing is rounded, truncated or guessed: a value that would change on
//! the way in is refused.
//!
//! Dates travel as spreadsheet serial numbers (days since an epoch, the day's
//! fraction for the time). Excel counts from 1900 and keeps Lotus 1-2-3's
//! nonexistent 1900-02-29 (serial 60); Google Sheets counts from 1899-12-30.
//! `±infinity` dates and timestamps map to chrono's `MIN`/`MAX`.

use std::fmt;

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, Utc};

use crate::{ColumnType, Value};

/// Why a cell cannot become a value, phrased to follow the value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reason(pub String);

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn reason(text: impl Into<String>) -> Reason {
    Reason(text.into())
}

/// Which day serial number 0 is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SerialEpoch {
    /// Excel's default: serial 1 is 1900-01-01 and serial 60 the fictitious 1900-02-29.
    Excel1900,
    /// Excel's 1904 date system (old Mac workbooks): serial 0 is 1904-01-01.
    Excel1904,
    /// Google Sheets (and LibreOffice's default): serial 0 is 1899-12-30.
    Sheets,
}

const US_PER_DAY: f64 = 86_400_000_000.0;

fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
    // Invariant: only called with constant, valid dates.
    NaiveDate::from_ymd_opt(y, m, d).unwrap_or(NaiveDate::MIN)
}

/// The date-time a serial number stands for, to the microsecond.
/// `None` for serials the epoch has no day for (negative in Excel, Excel's
/// 1900-02-29, beyond year 9999).
pub fn serial_to_datetime(serial: f64, epoch: SerialEpoch) -> Option<NaiveDateTime> {
    if !serial.is_finite() || serial >= 2_958_466.0 {
        return None;
    }
    let mut days = serial.floor();
    let mut us = ((serial - days) * US_PER_DAY).round() as i64;
    if us >= US_PER_DAY as i64 {
        days += 1.0;
        us = 0;
    }
    let days = days as i64;
    let date = match epoch {
        SerialEpoch::Excel1900 => {
            if days < 0 || days == 60 {
                return None;
            }
            if days < 60 {
                ymd(1899, 12, 31) + Duration::days(days)
            } else {
                ymd(1899, 12, 30) + Duration::days(days)
            }
        }
        SerialEpoch::Excel1904 => {
            if days < 0 {
                return None;
            }
            ymd(1904, 1, 1) + Duration::days(days)
        }
        SerialEpoch::Sheets => ymd(1899, 12, 30).checked_add_signed(Duration::days(days))?,
    };
    Some(date.and_time(NaiveTime::MIN) + TimeDelta::microseconds(us))
}

/// The serial number of a date-time, or `None` when the epoch cannot show it
/// (before 1900 in Excel, after 9999) or a double cannot hold its
/// microseconds exactly. Callers write such values as text.
pub fn datetime_to_serial(dt: NaiveDateTime, epoch: SerialEpoch) -> Option<f64> {
    let date = dt.date();
    if date > ymd(9999, 12, 31) {
        return None;
    }
    let days = match epoch {
        SerialEpoch::Excel1900 => {
            if date < ymd(1900, 1, 1) {
                return None;
            }
            if date < ymd(1900, 3, 1) {
                (date - ymd(1899, 12, 31)).num_days()
            } else {
                (date - ymd(1899, 12, 30)).num_days()
            }
        }
        SerialEpoch::Excel1904 => {
            if date < ymd(1904, 1, 1) {
                return None;
            }
            (date - ymd(1904, 1, 1)).num_days()
        }
        SerialEpoch::Sheets => (date - ymd(1899, 12, 30)).num_days(),
    };
    let us = (dt.time() - NaiveTime::MIN).num_microseconds()?;
    let serial = days as f64 + us as f64 / US_PER_DAY;
    (serial_to_datetime(serial, epoch) == Some(dt)).then_some(serial)
}

/// The shortest decimal text that reads back as the same double (`5`, `0.1`,
/// `1234567.89`), never in exponent form.
pub fn number_text(f: f64) -> String {
    if f.is_nan() {
        "NaN".into()
    } else if f.is_infinite() {
        if f > 0.0 {
            "Infinity".into()
        } else {
            "-Infinity".into()
        }
    } else if f == 0.0 {
        "0".into()
    } else {
        format!("{f}")
    }
}

/// Canonical text of a date for sheets and messages; `infinity` for the sentinels.
pub fn date_text(d: NaiveDate) -> String {
    if d == NaiveDate::MAX {
        "infinity".into()
    } else if d == NaiveDate::MIN {
        "-infinity".into()
    } else {
        d.format("%Y-%m-%d").to_string()
    }
}

/// Canonical text of a timestamp (`2024-05-01 13:45:00.25`).
pub fn timestamp_text(t: NaiveDateTime) -> String {
    if t == NaiveDateTime::MAX {
        "infinity".into()
    } else if t == NaiveDateTime::MIN {
        "-infinity".into()
    } else {
        t.format("%Y-%m-%d %H:%M:%S%.f").to_string()
    }
}

/// Canonical text of an instant, in UTC (`2024-05-01 11:45:00Z`).
pub fn timestamptz_text(t: DateTime<Utc>) -> String {
    if t == DateTime::<Utc>::MAX_UTC {
        "infinity".into()
    } else if t == DateTime::<Utc>::MIN_UTC {
        "-infinity".into()
    } else {
        format!("{}Z", t.format("%Y-%m-%d %H:%M:%S%.f"))
    }
}

/// A value as sheet text: what a text cell holds when the value cannot be a
/// native cell (or the column is text). Null is `None`.
pub fn value_text(v: &Value) -> Option<String> {
    Some(match v {
        Value::Null => return None,
        Value::Bool(b) => {
            if *b {
                "TRUE".into()
            } else {
                "FALSE".into()
            }
        }
        Value::Int(i) => i.to_string(),
        Value::Float(f) => number_text(*f),
        Value::Numeric(s) | Value::Text(s) | Value::Json(s) | Value::Error(s) => s.clone(),
        Value::Date(d) => date_text(*d),
        Value::Time(t) => t.format("%H:%M:%S%.f").to_string(),
        Value::Timestamp(t) => timestamp_text(*t),
        Value::TimestampTz(t) => timestamptz_text(*t),
    })
}

/// Converts a text cell to a value of `ty`. Text columns take the text as
/// it is (no trimming); other types ignore surrounding blanks.
pub fn parse_text(ty: &ColumnType, text: &str) -> Result<Value, Reason> {
    let t = text.trim();
    match ty {
        ColumnType::Text | ColumnType::Other => Ok(Value::Text(text.to_owned())),
        ColumnType::Bool => {
            parse_bool(t).map(Value::Bool).ok_or_else(|| reason("is not a boolean (TRUE or FALSE)"))
        }
        ColumnType::Int16 => parse_int(t, i16::MIN.into(), i16::MAX.into(), "int2"),
        ColumnType::Int32 => parse_int(t, i32::MIN.into(), i32::MAX.into(), "int4"),
        ColumnType::Int64 => parse_int(t, i64::MIN, i64::MAX, "int8"),
        ColumnType::Numeric { precision, scale } => {
            normalize_decimal(t, *precision, *scale).map(Value::Numeric)
        }
        ColumnType::Float32 => parse_float(t).map(|f| Value::Float(f as f32 as f64)),
        ColumnType::Float64 => parse_float(t).map(Value::Float),
        ColumnType::Date => parse_date(t).map(Value::Date),
        ColumnType::Time => parse_time(t).map(Value::Time),
        ColumnType::Timestamp => parse_timestamp(t).map(Value::Timestamp),
        ColumnType::TimestampTz => parse_timestamptz(t).map(Value::TimestampTz),
        ColumnType::Json => match serde_json::from_str::<serde_json::Value>(text) {
            Ok(_) => Ok(Value::Json(text.to_owned())),
            Err(e) => Err(reason(format!("is not JSON ({e})"))),
        },
        ColumnType::Uuid => {
            if is_uuid(t) {
                Ok(Value::Text(t.to_owned()))
            } else {
                Err(reason("is not a UUID"))
            }
        }
        ColumnType::Enum(labels) => {
            if labels.iter().any(|l| l == text) {
                Ok(Value::Text(text.to_owned()))
            } else {
                Err(reason(format!("is not one of {}", labels.join(", "))))
            }
        }
    }
}

/// Converts a number cell to a value of `ty`.
pub fn from_number(ty: &ColumnType, f: f64, epoch: SerialEpoch) -> Result<Value, Reason> {
    const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
    match ty {
        ColumnType::Bool => match f {
            1.0 => Ok(Value::Bool(true)),
            0.0 => Ok(Value::Bool(false)),
            _ => Err(reason("is not a boolean (TRUE or FALSE)")),
        },
        ColumnType::Int16 | ColumnType::Int32 | ColumnType::Int64 => {
            if f.fract() != 0.0 || !f.is_finite() {
                return Err(reason("is not an integer"));
            }
            if f.abs() > EXACT {
                return Err(reason(
                    "is beyond 2^53, where a spreadsheet number is no longer exact; enter it as text",
                ));
            }
            let (min, max, name) = match ty {
                ColumnType::Int16 => (i16::MIN as f64, i16::MAX as f64, "int2"),
                ColumnType::Int32 => (i32::MIN as f64, i32::MAX as f64, "int4"),
                _ => (i64::MIN as f64, i64::MAX as f64, "int8"),
            };
            if f < min || f > max {
                return Err(reason(format!("is out of range for {name}")));
            }
            // Exact: f is integral and within ±2^53.
            Ok(Value::Int(f as i64))
        }
        ColumnType::Numeric { .. } => {
            if f.is_finite() && f.fract() == 0.0 && f.abs() > EXACT {
                return Err(reason(
                    "is beyond 2^53, where a spreadsheet number is no longer exact; enter it as text",
                ));
            }
            parse_text(ty, &number_text(f))
        }
        ColumnType::Float32 => Ok(Value::Float(f as f32 as f64)),
        ColumnType::Float64 => Ok(Value::Float(f)),
        ColumnType::Date => {
            let dt = serial_to_datetime(f, epoch).ok_or_else(|| reason("is not a date serial number"))?;
            if dt.time() != NaiveTime::MIN {
                return Err(reason("has a time of day, but the column holds dates"));
            }
            Ok(Value::Date(dt.date()))
        }
        ColumnType::Time => {
            if !(0.0..1.0).contains(&f) {
                return Err(reason("is not a time of day (a fraction of a day from 0 to 1)"));
            }
            let dt =
                serial_to_datetime(f, SerialEpoch::Sheets).ok_or_else(|| reason("is not a time of day"))?;
            Ok(Value::Time(dt.time()))
        }
        ColumnType::Timestamp => serial_to_datetime(f, epoch)
            .map(Value::Timestamp)
            .ok_or_else(|| reason("is not a date serial number")),
        ColumnType::TimestampTz => serial_to_datetime(f, epoch)
            .map(|dt| Value::TimestampTz(dt.and_utc()))
            .ok_or_else(|| reason("is not a date serial number")),
        ColumnType::Json => Ok(Value::Json(number_text(f))),
        ColumnType::Text | ColumnType::Other | ColumnType::Uuid | ColumnType::Enum(_) => {
            parse_text(ty, &number_text(f))
        }
    }
}

/// Converts a boolean cell to a value of `ty`.
pub fn from_bool(ty: &ColumnType, b: bool) -> Result<Value, Reason> {
    match ty {
        ColumnType::Bool => Ok(Value::Bool(b)),
        ColumnType::Json => Ok(Value::Json(b.to_string())),
        ColumnType::Text | ColumnType::Other => Ok(Value::Text(if b { "TRUE" } else { "FALSE" }.into())),
        ColumnType::Enum(_) => parse_text(ty, if b { "TRUE" } else { "FALSE" }),
        _ => Err(reason("is a boolean")),
    }
}

fn parse_bool(t: &str) -> Option<bool> {
    match t.to_ascii_lowercase().as_str() {
        "true" | "t" | "yes" | "y" | "on" | "1" => Some(true),
        "false" | "f" | "no" | "n" | "off" | "0" => Some(false),
        _ => None,
    }
}

fn parse_int(t: &str, min: i64, max: i64, name: &str) -> Result<Value, Reason> {
    // "42", "+42", "-42"; "42.0" (numbers stored as text often carry a zero fraction).
    let whole = match t.split_once('.') {
        Some((w, frac)) if !w.is_empty() && !frac.is_empty() && frac.bytes().all(|b| b == b'0') => w,
        _ => t,
    };
    let digits = whole.strip_prefix(['+', '-']).unwrap_or(whole);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(reason("is not an integer"));
    }
    match whole.parse::<i128>() {
        Ok(v) if v >= min as i128 && v <= max as i128 => Ok(Value::Int(v as i64)),
        _ => Err(reason(format!("is out of range for {name}"))),
    }
}

fn parse_float(t: &str) -> Result<f64, Reason> {
    let lower = t.to_ascii_lowercase();
    match lower.as_str() {
        "nan" => return Ok(f64::NAN),
        "infinity" | "inf" | "+infinity" | "+inf" => return Ok(f64::INFINITY),
        "-infinity" | "-inf" => return Ok(f64::NEG_INFINITY),
        _ => {}
    }
    if !t.bytes().any(|b| b.is_ascii_digit()) {
        return Err(reason("is not a number"));
    }
    t.parse::<f64>().map_err(|_| reason("is not a number"))
}

/// Brings decimal text (`+1.50`, `1e3`, `-0.5`, `NaN`) to Postgres' plain form
/// (`1.50`, `1000`, `-0.5`, `NaN`), checking it fits `numeric(precision, scale)`.
/// Significant digits are kept exactly; trailing zeros past the scale are dropped.
pub fn normalize_decimal(t: &str, precision: Option<u32>, scale: Option<u32>) -> Result<String, Reason> {
    match plain_decimal(t, precision, scale) {
        Some(done) => done,
        None => general_decimal(t, precision, scale),
    }
}

fn general_decimal(t: &str, precision: Option<u32>, scale: Option<u32>) -> Result<String, Reason> {
    match t.to_ascii_lowercase().as_str() {
        "nan" => return Ok("NaN".into()),
        "infinity" | "inf" | "+infinity" | "+inf" => return special_numeric("Infinity", precision),
        "-infinity" | "-inf" => return special_numeric("-Infinity", precision),
        _ => {}
    }
    let not_a_number = || reason("is not a number");
    let (negative, rest) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let (mantissa, exponent) = match rest.find(['e', 'E']) {
        Some(i) => (&rest[..i], rest[i + 1..].parse::<i32>().map_err(|_| not_a_number())?),
        None => (rest, 0),
    };
    let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if (int_part.is_empty() && frac_part.is_empty())
        || !int_part.bytes().all(|b| b.is_ascii_digit())
        || !frac_part.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(not_a_number());
    }
    if exponent.unsigned_abs() > 1000 {
        return Err(reason("is out of range for numeric"));
    }
    // Shift the decimal point by the exponent over the digit string.
    let digits: String = format!("{int_part}{frac_part}");
    let point = int_part.len() as i64 + exponent as i64;
    let (mut int_digits, mut frac_digits) = if point <= 0 {
        (String::new(), format!("{}{}", "0".repeat((-point) as usize), digits))
    } else if point as usize >= digits.len() {
        (format!("{}{}", digits, "0".repeat(point as usize - digits.len())), String::new())
    } else {
        (digits[..point as usize].to_owned(), digits[point as usize..].to_owned())
    };
    if exponent != 0 {
        // An exponent form has no meaningful trailing zeros.
        while frac_digits.ends_with('0') {
            frac_digits.pop();
        }
    }
    let trimmed = int_digits.trim_start_matches('0').len();
    int_digits.drain(..int_digits.len() - trimmed);
    if let Some(scale) = scale {
        let scale = scale as usize;
        if frac_digits.len() > scale {
            if frac_digits[scale..].bytes().all(|b| b == b'0') {
                frac_digits.truncate(scale);
            } else {
                return Err(reason(format!(
                    "has {} decimal places, more than the column's {scale}",
                    frac_digits.len()
                )));
            }
        }
    }
    if let (Some(p), Some(s)) = (precision, scale) {
        if int_digits.len() > (p - s.min(p)) as usize {
            return Err(reason(format!("is too large for numeric({p},{s})")));
        }
    }
    let zero = int_digits.is_empty() && frac_digits.bytes().all(|b| b == b'0');
    let mut out = String::with_capacity(int_digits.len() + frac_digits.len() + 3);
    if negative && !zero {
        out.push('-');
    }
    out.push_str(if int_digits.is_empty() { "0" } else { &int_digits });
    if !frac_digits.is_empty() {
        out.push('.');
        out.push_str(&frac_digits);
    }
    Ok(out)
}

/// The common case, without allocating twice: `-?digits(.digits)?` with no
/// superfluous leading zero. `None` sends other forms to the general path.
fn plain_decimal(t: &str, precision: Option<u32>, scale: Option<u32>) -> Option<Result<String, Reason>> {
    let body = t.strip_prefix('-').unwrap_or(t);
    let (int_part, frac_part) = body.split_once('.').unwrap_or((body, ""));
    let plain = !int_part.is_empty()
        && int_part.bytes().all(|b| b.is_ascii_digit())
        && frac_part.bytes().all(|b| b.is_ascii_digit())
        && (int_part.len() == 1 || !int_part.starts_with('0'))
        && !(body.contains('.') && frac_part.is_empty())
        // A negative zero loses its sign: the general path knows how.
        && !(body.len() < t.len() && int_part == "0" && frac_part.bytes().all(|b| b == b'0'));
    if !plain {
        return None;
    }
    let mut keep = frac_part.len();
    if let Some(scale) = scale {
        let scale = scale as usize;
        if frac_part.len() > scale {
            if !frac_part[scale..].bytes().all(|b| b == b'0') {
                return Some(Err(reason(format!(
                    "has {} decimal places, more than the column's {scale}",
                    frac_part.len()
                ))));
            }
            keep = scale;
        }
    }
    if let (Some(p), Some(s)) = (precision, scale) {
        if int_part.len() > (p - s.min(p)) as usize {
            return Some(Err(reason(format!("is too large for numeric({p},{s})"))));
        }
    }
    let end = t.len() - (frac_part.len() - keep) - usize::from(keep == 0 && !frac_part.is_empty());
    Some(Ok(t[..end].to_owned()))
}

fn special_numeric(text: &str, precision: Option<u32>) -> Result<String, Reason> {
    if precision.is_some() {
        Err(reason("is infinite, which a numeric column with a precision cannot hold"))
    } else {
        Ok(text.into())
    }
}

fn parse_date(t: &str) -> Result<NaiveDate, Reason> {
    match t.to_ascii_lowercase().as_str() {
        "infinity" => return Ok(NaiveDate::MAX),
        "-infinity" => return Ok(NaiveDate::MIN),
        _ => {}
    }
    for fmt in ["%Y-%m-%d", "%Y/%m/%d"] {
        if let Ok(d) = NaiveDate::parse_from_str(t, fmt) {
            return Ok(d);
        }
    }
    // A timestamp at midnight is a date too.
    match parse_timestamp(t) {
        Ok(ts) if ts.time() == NaiveTime::MIN => Ok(ts.date()),
        Ok(_) => Err(reason("has a time of day, but the column holds dates")),
        Err(_) => Err(reason("is not a date (YYYY-MM-DD)")),
    }
}

fn parse_time(t: &str) -> Result<NaiveTime, Reason> {
    for fmt in ["%H:%M:%S%.f", "%H:%M"] {
        if let Ok(v) = NaiveTime::parse_from_str(t, fmt) {
            return Ok(v);
        }
    }
    Err(reason("is not a time of day (HH:MM:SS)"))
}

fn parse_timestamp(t: &str) -> Result<NaiveDateTime, Reason> {
    match t.to_ascii_lowercase().as_str() {
        "infinity" => return Ok(NaiveDateTime::MAX),
        "-infinity" => return Ok(NaiveDateTime::MIN),
        _ => {}
    }
    for fmt in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M"] {
        if let Ok(v) = NaiveDateTime::parse_from_str(t, fmt) {
            return Ok(v);
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        return Ok(d.and_time(NaiveTime::MIN));
    }
    Err(reason("is not a timestamp (YYYY-MM-DD HH:MM:SS)"))
}

/// An instant: with an offset (`Z`, `+02`, `+02:00`, `+0200`) it is exact;
/// without one it is read as UTC, the zone sheetbridge writes instants in.
fn parse_timestamptz(t: &str) -> Result<DateTime<Utc>, Reason> {
    match t.to_ascii_lowercase().as_str() {
        "infinity" => return Ok(DateTime::<Utc>::MAX_UTC),
        "-infinity" => return Ok(DateTime::<Utc>::MIN_UTC),
        _ => {}
    }
    let bad = || reason("is not a timestamp with time zone (YYYY-MM-DD HH:MM:SS+00)");
    let body = t.strip_suffix(['Z', 'z']);
    if let Some(body) = body {
        return parse_timestamp(body.trim_end()).map(|n| n.and_utc()).map_err(|_| bad());
    }
    // An offset is a sign after the time part (a '-' inside the date is not one).
    let time_start = t.find([' ', 'T']).map(|i| i + 1);
    if let Some(start) = time_start {
        if let Some(rel) = t[start..].rfind(['+', '-']) {
            let (local, offset) = t.split_at(start + rel);
            let local = parse_timestamp(local.trim_end()).map_err(|_| bad())?;
            let secs = parse_offset(offset).ok_or_else(bad)?;
            return Ok((local - TimeDelta::seconds(secs)).and_utc());
        }
    }
    parse_timestamp(t).map(|n| n.and_utc()).map_err(|_| bad())
}

/// `+02`, `-05:30`, `+0530` → seconds east of UTC.
fn parse_offset(o: &str) -> Option<i64> {
    let sign = match o.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let digits: String = o[1..].chars().filter(|c| *c != ':').collect();
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (h, m) = match digits.len() {
        2 => (digits.parse::<i64>().ok()?, 0),
        4 => (digits[..2].parse::<i64>().ok()?, digits[2..].parse::<i64>().ok()?),
        _ => return None,
    };
    (h <= 15 && m < 60).then_some(sign * (h * 3600 + m * 60))
}

fn is_uuid(t: &str) -> bool {
    let t = t.strip_prefix('{').and_then(|s| s.strip_suffix('}')).unwrap_or(t);
    let hex: String = t.chars().filter(|c| *c != '-').collect();
    hex.len() == 32
        && hex.bytes().all(|b| b.is_ascii_hexdigit())
        && (t.len() == 32 || [8, 13, 18, 23].iter().all(|&i| t.as_bytes().get(i) == Some(&b'-')))
}

/// Whether an empty text cell is a value of a column of type `ty` (`""`)
/// rather than no value (NULL). Only text-like types can hold an empty
/// string; in any other column an empty or blank text cell is NULL.
pub fn keeps_empty_text(ty: &ColumnType) -> bool {
    matches!(ty, ColumnType::Text | ColumnType::Other)
}

/// `v` as Postgres prints it in a column of type `ty`: a `numeric(p, s)`
/// value with exactly `s` decimals (`1.5` → `1.50`); any other value as it is.
pub fn canonical(ty: &ColumnType, v: Value) -> Value {
    match (ty, v) {
        (ColumnType::Numeric { scale: Some(scale), .. }, Value::Numeric(mut s)) => {
            pad_scale(&mut s, *scale as usize);
            Value::Numeric(s)
        }
        (_, v) => v,
    }
}

fn pad_scale(s: &mut String, scale: usize) {
    if scale == 0 || !s.bytes().all(|b| b.is_ascii_digit() || b == b'.' || b == b'-') {
        return;
    }
    let decimals = match s.find('.') {
        Some(i) => s.len() - i - 1,
        None => {
            s.push('.');
            0
        }
    };
    for _ in decimals..scale {
        s.push('0');
    }
}

/// `f` to the 15 significant digits a spreadsheet keeps and shows. A sheet
/// holds the double nearest to what was typed, and a formula's result as
/// the arithmetic left it (0.1 + 0.2 is 0.30000000000000004, shown as 0.3);
/// a numeric column takes the number the sheet shows.
pub fn fifteen_digits(f: f64) -> f64 {
    match significant_digits(f) {
        Some((digits, _)) if digits > 15 => format!("{f:.14e}").parse().unwrap_or(f),
        _ => f,
    }
}

/// The number of significant digits of `f`'s shortest decimal form, and its
/// decimal exponent (`45306.57` → (7, 4)); `None` for NaN and the infinities.
pub fn significant_digits(f: f64) -> Option<(u32, i32)> {
    use std::io::Write as _;
    let mut buf = [0u8; 40];
    let mut cursor = std::io::Cursor::new(&mut buf[..]);
    write!(cursor, "{f:e}").ok()?;
    let len = cursor.position() as usize;
    let text = std::str::from_utf8(&buf[..len]).ok()?;
    let (mantissa, exponent) = text.split_once('e')?;
    let digits = mantissa.bytes().filter(u8::is_ascii_digit).count() as u32;
    Some((digits, exponent.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn num(p: Option<u32>, s: Option<u32>) -> ColumnType {
        ColumnType::Numeric { precision: p, scale: s }
    }

    #[test]
    fn integers_are_exact_or_refused() {
        assert_eq!(parse_text(&ColumnType::Int32, " 42 "), Ok(Value::Int(42)));
        assert_eq!(parse_text(&ColumnType::Int32, "0042"), Ok(Value::Int(42)));
        assert_eq!(parse_text(&ColumnType::Int32, "42.00"), Ok(Value::Int(42)));
        assert_eq!(parse_text(&ColumnType::Int32, "abc"), Err(reason("is not an integer")));
        assert_eq!(parse_text(&ColumnType::Int32, "42.5"), Err(reason("is not an integer")));
        assert_eq!(parse_text(&ColumnType::Int16, "40000"), Err(reason("is out of range for int2")));
        assert_eq!(parse_text(&ColumnType::Int64, "-9223372036854775808"), Ok(Value::Int(i64::MIN)));
        assert!(parse_text(&ColumnType::Int64, "9223372036854775808").is_err());
        assert!(from_number(&ColumnType::Int64, 2f64.powi(60), SerialEpoch::Excel1900).is_err());
        assert_eq!(from_number(&ColumnType::Int64, 7.0, SerialEpoch::Excel1900), Ok(Value::Int(7)));
    }

    #[test]
    fn decimals_keep_every_digit_and_refuse_rounding() {
        let n = |t| normalize_decimal(t, None, None);
        assert_eq!(n("12345678901234567890.123456789").unwrap(), "12345678901234567890.123456789");
        assert_eq!(n("+001.50").unwrap(), "1.50");
        assert_eq!(n("-0.0").unwrap(), "0.0");
        assert_eq!(n("1.5e3").unwrap(), "1500");
        assert_eq!(n("15e-4").unwrap(), "0.0015");
        assert_eq!(n(".5").unwrap(), "0.5");
        assert_eq!(n("nan").unwrap(), "NaN");
        assert!(n("1.2.3").is_err());
        assert!(n("").is_err());
        assert!(n("e5").is_err());
        assert_eq!(parse_text(&num(Some(12), Some(2)), "19.990"), Ok(Value::Numeric("19.99".into())));
        assert_eq!(
            parse_text(&num(Some(12), Some(2)), "19.999"),
            Err(reason("has 3 decimal places, more than the column's 2"))
        );
        assert_eq!(parse_text(&num(Some(4), Some(2)), "123.4"), Err(reason("is too large for numeric(4,2)")));
        assert_eq!(
            from_number(&num(Some(12), Some(2)), 19.99, SerialEpoch::Excel1900),
            Ok(Value::Numeric("19.99".into()))
        );
    }

    #[test]
    fn numerics_get_their_scale_and_sheets_their_fifteen_digits() {
        assert_eq!(
            canonical(&num(Some(12), Some(2)), Value::Numeric("1.5".into())),
            Value::Numeric("1.50".into())
        );
        assert_eq!(
            canonical(&num(Some(12), Some(2)), Value::Numeric("-7".into())),
            Value::Numeric("-7.00".into())
        );
        assert_eq!(
            canonical(&num(Some(12), Some(2)), Value::Numeric("NaN".into())),
            Value::Numeric("NaN".into())
        );
        assert_eq!(canonical(&num(None, None), Value::Numeric("1.5".into())), Value::Numeric("1.5".into()));
        assert_eq!(fifteen_digits(0.1 + 0.2), 0.3);
        assert_eq!(fifteen_digits(45306.5732638889), 45306.5732638889);
        assert!(fifteen_digits(f64::NAN).is_nan());
        assert_eq!(significant_digits(45306.57), Some((7, 4)));
        assert_eq!(significant_digits(f64::INFINITY), None);
        assert!(keeps_empty_text(&ColumnType::Text) && keeps_empty_text(&ColumnType::Other));
        assert!(!keeps_empty_text(&ColumnType::Json) && !keeps_empty_text(&ColumnType::Int32));
    }

    proptest::proptest! {
        /// Rounding only doubles of more than 15 digits is rounding them all:
        /// a double of at most 15 digits is the nearest to its 15-digit form.
        #[test]
        fn fifteen_digits_is_rounding_every_double_to_15_digits(bits in proptest::num::u64::ANY) {
            let f = f64::from_bits(bits);
            let all: f64 = format!("{f:.14e}").parse().unwrap_or(f);
            proptest::prop_assert!(fifteen_digits(f).to_bits() == all.to_bits() || f.is_nan());
        }
    }

    proptest::proptest! {
        #[test]
        fn the_fast_decimal_path_agrees_with_the_general_one(
            t in "-?[0-9]{1,22}(\\.[0-9]{0,12})?",
            p in proptest::option::of(1u32..30),
            s in proptest::option::of(0u32..8),
        ) {
            let p = p.map(|p| p.max(s.unwrap_or(0)));
            let s = if p.is_some() { Some(s.unwrap_or(0)) } else { s };
            if let Some(fast) = plain_decimal(&t, p, s) {
                proptest::prop_assert_eq!(fast, general_decimal(&t, p, s));
            }
        }
    }

    #[test]
    fn excel_serials_follow_the_1900_leap_year_bug() {
        let d = |s| serial_to_datetime(s, SerialEpoch::Excel1900).map(|d| d.date());
        assert_eq!(d(1.0), Some(ymd(1900, 1, 1)));
        assert_eq!(d(59.0), Some(ymd(1900, 2, 28)));
        assert_eq!(d(60.0), None, "1900-02-29 does not exist");
        assert_eq!(d(61.0), Some(ymd(1900, 3, 1)));
        assert_eq!(d(45_292.0), Some(ymd(2024, 1, 1)));
        assert_eq!(d(2_958_465.0), Some(ymd(9999, 12, 31)));
        assert_eq!(d(2_958_466.0), None);
        let s = |dt| datetime_to_serial(dt, SerialEpoch::Excel1900);
        assert_eq!(s(ymd(1900, 2, 28).and_time(NaiveTime::MIN)), Some(59.0));
        assert_eq!(s(ymd(1900, 3, 1).and_time(NaiveTime::MIN)), Some(61.0));
        assert_eq!(s(ymd(1899, 12, 31).and_time(NaiveTime::MIN)), None);
        assert_eq!(
            serial_to_datetime(45_292.5, SerialEpoch::Sheets),
            Some(ymd(2024, 1, 1).and_hms_opt(12, 0, 0).unwrap())
        );
        assert_eq!(serial_to_datetime(0.0, SerialEpoch::Excel1904).map(|d| d.date()), Some(ymd(1904, 1, 1)));
    }

    #[test]
    fn microseconds_survive_a_serial_or_the_value_stays_text() {
        let dt = ymd(2024, 5, 1).and_hms_micro_opt(13, 45, 7, 123_456).unwrap();
        let s = datetime_to_serial(dt, SerialEpoch::Excel1900).expect("exact in 2024");
        assert_eq!(serial_to_datetime(s, SerialEpoch::Excel1900), Some(dt));
        let far = ymd(9999, 12, 31).and_hms_micro_opt(23, 59, 59, 999_999).unwrap();
        if let Some(s) = datetime_to_serial(far, SerialEpoch::Excel1900) {
            assert_eq!(serial_to_datetime(s, SerialEpoch::Excel1900), Some(far));
        }
        assert_eq!(datetime_to_serial(ymd(10000, 1, 1).and_time(NaiveTime::MIN), SerialEpoch::Sheets), None);
    }

    #[test]
    fn timestamptz_text_keeps_the_instant() {
        let utc = ymd(2024, 5, 1).and_hms_opt(11, 45, 0).unwrap().and_utc();
        for t in [
            "2024-05-01 13:45:00+02",
            "2024-05-01T13:45:00+02:00",
            "2024-05-01 11:45:00Z",
            "2024-05-01 06:45:00-0500",
            "2024-05-01 11:45",
        ] {
            assert_eq!(parse_text(&ColumnType::TimestampTz, t), Ok(Value::TimestampTz(utc)), "{t}");
        }
        assert_eq!(parse_text(&ColumnType::TimestampTz, &timestamptz_text(utc)), Ok(Value::TimestampTz(utc)));
    }

    #[test]
    fn dates_parse_and_print_back() {
        for d in [
            ymd(1850, 1, 1),
            ymd(2024, 2, 29),
            ymd(12000, 6, 30),
            ymd(-44, 3, 15),
            NaiveDate::MAX,
            NaiveDate::MIN,
        ] {
            assert_eq!(parse_text(&ColumnType::Date, &date_text(d)), Ok(Value::Date(d)), "{d}");
        }
        assert!(parse_text(&ColumnType::Date, "2024-02-30").is_err());
        assert!(from_number(&ColumnType::Date, 45_292.25, SerialEpoch::Excel1900).is_err());
    }

    #[test]
    fn text_is_kept_verbatim() {
        for t in ["", " padded ", "=SUM(A1:A2)", "+1", "-1", "@x", "007", "🙂 ü"] {
            assert_eq!(parse_text(&ColumnType::Text, t), Ok(Value::Text(t.into())));
        }
        assert_eq!(
            from_number(&ColumnType::Text, 12.5, SerialEpoch::Excel1900),
            Ok(Value::Text("12.5".into()))
        );
        assert_eq!(from_number(&ColumnType::Text, 3.0, SerialEpoch::Excel1900), Ok(Value::Text("3".into())));
    }

    #[test]
    fn uuid_enum_json_and_bool_are_checked() {
        assert!(parse_text(&ColumnType::Uuid, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11").is_ok());
        assert!(parse_text(&ColumnType::Uuid, "a0eebc999c0b4ef8bb6d6bb9bd380a11").is_ok());
        assert!(parse_text(&ColumnType::Uuid, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1").is_err());
        let e = ColumnType::Enum(vec!["new".into(), "paid".into()]);
        assert_eq!(parse_text(&e, "paid"), Ok(Value::Text("paid".into())));
        assert_eq!(parse_text(&e, "Paid"), Err(reason("is not one of new, paid")));
        assert!(parse_text(&ColumnType::Json, "{\"a\": [1, 2]}").is_ok());
        assert!(parse_text(&ColumnType::Json, "{a}").is_err());
        assert_eq!(parse_text(&ColumnType::Bool, "yes"), Ok(Value::Bool(true)));
        assert!(parse_text(&ColumnType::Bool, "maybe").is_err());
    }

    #[test]
    fn floats_keep_nan_and_infinities() {
        assert!(matches!(parse_text(&ColumnType::Float64, "NaN"), Ok(Value::Float(f)) if f.is_nan()));
        assert_eq!(parse_text(&ColumnType::Float64, "-Infinity"), Ok(Value::Float(f64::NEG_INFINITY)));
        assert_eq!(number_text(0.1), "0.1");
        assert_eq!(number_text(1e21), "1000000000000000000000");
        assert!(parse_text(&ColumnType::Float64, "x").is_err());
    }
}
