//! Cells ⇄ values for Google Sheets, on top of [`sheetbridge_core::convert`].
//!
//! Reading: a tab is read with `UNFORMATTED_VALUE` and `SERIAL_NUMBER`, so a
//! cell is a string, a number (dates and times as serials counted from
//! 1899-12-30) or a boolean; each goes through core's `parse_text` /
//! `from_number` / `from_bool`. A timestamptz serial is wall time in the
//! spreadsheet's time zone (its `timeZone` property, an IANA name).
//!
//! Writing (values are sent `RAW`, so nothing is parsed: a text that starts
//! with `=` or `'` or looks like a number or date stays that text): a value
//! becomes a number, serial or boolean only when reading that cell back gives
//! exactly the same value; otherwise it is written as a string holding the
//! value's canonical text, which reads back exactly. The rules are the xlsx
//! writer's: integers beyond ±2^53, numerics a double would change, `NaN`,
//! infinities, dates outside the serials' range and timestamps whose
//! microseconds a serial cannot hold are text.
//!
//! # NULL and the empty string
//!
//! Google has no empty text cell: writing `""` clears the cell, and the
//! values API returns `""` both for an empty cell inside a row and for a
//! formula whose result is empty. So sheetbridge writes the empty string as
//! the formula `=""` (sent `USER_ENTERED`, in a request of its own, only for
//! those cells) and NULL as no value. When a read finds `""` in a text column
//! it asks for those columns once more with the `FORMULA` render option
//! (`values.batchGet` takes one render option a call) and reads `=""` as the
//! empty string, anything else as NULL. In other columns an empty cell is NULL.

use chrono::{DateTime, LocalResult, NaiveDateTime, NaiveTime, TimeZone, Timelike, Utc};
use sheetbridge_core::convert::{
    self, canonical, date_text, datetime_to_serial, fifteen_digits, from_bool, from_number, keeps_empty_text,
    parse_text, serial_to_datetime, timestamp_text, timestamptz_text, Reason, SerialEpoch,
};
use sheetbridge_core::{ColumnType, Value};

use crate::wire::WireCell;

/// 2^53: integers up to this magnitude are exact in a double.
const EXACT_INT: u64 = 1 << 53;
const US_PER_DAY: f64 = 86_400_000_000.0;
const EPOCH: SerialEpoch = SerialEpoch::Sheets;

/// The formula that stands for the empty string.
pub(crate) const EMPTY_TEXT_FORMULA: &str = "=\"\"";

/// A spreadsheet's time zone.
#[derive(Debug, Clone, PartialEq)]
pub struct Zone {
    name: String,
    tz: Option<chrono_tz::Tz>,
}

impl Zone {
    /// The zone of Google's `timeZone` name (`Europe/Berlin`, `GMT`, `Etc/GMT+5`).
    pub fn named(name: &str) -> Zone {
        let fallback = match name {
            "" | "GMT" | "UTC" | "Z" => Some(chrono_tz::Tz::UTC),
            _ => None,
        };
        let tz = name.parse::<chrono_tz::Tz>().ok().or(fallback);
        Zone { name: name.to_owned(), tz }
    }

    pub fn utc() -> Zone {
        Zone::named("Etc/UTC")
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn is_known(&self) -> bool {
        self.tz.is_some()
    }

    /// The wall time of `t` here.
    fn local(&self, t: DateTime<Utc>) -> Option<NaiveDateTime> {
        Some(t.with_timezone(&self.tz?).naive_local())
    }

    /// The instant of wall time `t` here; an hour the clocks repeat is read
    /// as its first occurrence, an hour they skip is an error.
    fn instant(&self, t: NaiveDateTime) -> Result<DateTime<Utc>, Reason> {
        let Some(tz) = self.tz else {
            return Err(Reason(format!(
                "cannot be placed in time: the spreadsheet's time zone `{}` is unknown",
                self.name
            )));
        };
        match tz.from_local_datetime(&t) {
            LocalResult::Single(d) => Ok(d.with_timezone(&Utc)),
            LocalResult::Ambiguous(first, _) => Ok(first.with_timezone(&Utc)),
            LocalResult::None => Err(Reason(format!(
                "is a time that does not exist in {} (the clocks moved forward over it)",
                self.name
            ))),
        }
    }
}

/// The cell as messages show it: text quoted, numbers plain.
pub(crate) fn shown(cell: &WireCell) -> String {
    match cell {
        WireCell::Empty => "an empty cell".into(),
        WireCell::Text(s) => format!("{s:?}"),
        WireCell::Number(f) => convert::number_text(*f),
        WireCell::Bool(b) => if *b { "TRUE" } else { "FALSE" }.into(),
    }
}

/// The value of `cell` in a column of type `ty`. An empty string is the
/// empty string here; the reader decides beforehand whether it was one.
pub(crate) fn cell_to_value(ty: &ColumnType, cell: &WireCell, zone: &Zone) -> Result<Value, Reason> {
    let v = match cell {
        WireCell::Empty => return Ok(Value::Null),
        WireCell::Text(s) => {
            if !keeps_empty_text(ty) && s.trim().is_empty() {
                return Ok(Value::Null);
            }
            if s.starts_with('#') && is_error_text(s) {
                return Err(Reason("is a spreadsheet error, not a value".into()));
            }
            parse_text(ty, s)?
        }
        WireCell::Number(f) => match ty {
            ColumnType::TimestampTz => {
                let local = serial_to_datetime(*f, EPOCH)
                    .ok_or_else(|| Reason("is not a date serial number".into()))?;
                Value::TimestampTz(zone.instant(local)?)
            }
            ColumnType::Numeric { .. } => match from_number(ty, *f, EPOCH) {
                Ok(v) => v,
                // A formula's 0.1 + 0.2 is 0.30000000000000004; the sheet shows 0.3.
                Err(e) => from_number(ty, fifteen_digits(*f), EPOCH).map_err(|_| e)?,
            },
            _ => from_number(ty, *f, EPOCH)?,
        },
        WireCell::Bool(b) => from_bool(ty, *b)?,
    };
    Ok(canonical(ty, v))
}

/// Google's error values as `UNFORMATTED_VALUE` shows them.
fn is_error_text(s: &str) -> bool {
    matches!(s, "#N/A" | "#DIV/0!" | "#VALUE!" | "#REF!" | "#NAME?" | "#NUM!" | "#NULL!" | "#ERROR!")
}

/// What a cell is written as.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Out<'a> {
    /// NULL: no value (the cell is cleared).
    Blank,
    Number(f64),
    Bool(bool),
    /// A string, never parsed (`RAW`).
    Text(&'a str),
    Owned(String),
    /// The empty string: the formula `=""`, written `USER_ENTERED` apart.
    EmptyText,
}

/// How `v` is written in a column of type `ty` of a spreadsheet in `zone`.
pub(crate) fn value_to_cell<'a>(ty: &ColumnType, v: &'a Value, zone: &Zone) -> Out<'a> {
    match v {
        Value::Null => Out::Blank,
        Value::Bool(b) => Out::Bool(*b),
        Value::Int(i) => {
            if i.unsigned_abs() <= EXACT_INT {
                Out::Number(*i as f64)
            } else {
                Out::Owned(i.to_string())
            }
        }
        Value::Float(f) => {
            if *f == 0.0 && f.is_sign_negative() {
                // A sheet keeps no negative zero.
                Out::Owned("-0".into())
            } else if f.is_finite() {
                Out::Number(*f)
            } else {
                Out::Owned(convert::number_text(*f))
            }
        }
        Value::Numeric(s) => match s.parse::<f64>() {
            Ok(f) if f.is_finite() && reads_back(ty, f, zone, v) => Out::Number(f),
            _ => Out::Text(s),
        },
        Value::Text(s) | Value::Json(s) | Value::Error(s) => {
            if s.is_empty() {
                Out::EmptyText
            } else {
                Out::Text(s)
            }
        }
        Value::Date(d) => match datetime_to_serial(d.and_time(NaiveTime::MIN), EPOCH) {
            Some(serial) => Out::Number(serial),
            None => Out::Owned(date_text(*d)),
        },
        Value::Timestamp(t) => match datetime_to_serial(*t, EPOCH) {
            Some(serial) if serial >= 0.0 && reads_back(&ColumnType::Timestamp, serial, zone, v) => {
                Out::Number(serial)
            }
            _ => Out::Owned(timestamp_text(*t)),
        },
        Value::TimestampTz(t) => match zone.local(*t).and_then(|local| datetime_to_serial(local, EPOCH)) {
            Some(serial) if serial >= 0.0 && reads_back(&ColumnType::TimestampTz, serial, zone, v) => {
                Out::Number(serial)
            }
            _ => Out::Owned(timestamptz_text(*t)),
        },
        Value::Time(t) => {
            let us = (*t - NaiveTime::MIN).num_microseconds().unwrap_or(-1);
            let serial = us as f64 / US_PER_DAY;
            if us >= 0 && reads_back(&ColumnType::Time, serial, zone, v) {
                Out::Number(serial)
            } else {
                Out::Owned(t.format("%H:%M:%S%.f").to_string())
            }
        }
    }
}

/// Whether a number cell holding `f` reads back as exactly `v`.
fn reads_back(ty: &ColumnType, f: f64, zone: &Zone, v: &Value) -> bool {
    cell_to_value(ty, &WireCell::Number(f), zone).is_ok_and(|back| &back == v)
}

/// The number format a column's cells get: `(type, pattern)`.
pub(crate) fn number_format(ty: &ColumnType, sample_subsecond: bool) -> Option<(&'static str, String)> {
    let frac = if sample_subsecond { ".000" } else { "" };
    Some(match ty {
        ColumnType::Date => ("DATE", "yyyy-mm-dd".into()),
        ColumnType::Timestamp | ColumnType::TimestampTz => {
            ("DATE_TIME", format!("yyyy-mm-dd hh:mm:ss{frac}"))
        }
        ColumnType::Time => ("TIME", format!("hh:mm:ss{frac}")),
        ColumnType::Int16 | ColumnType::Int32 | ColumnType::Int64 => ("NUMBER", "0".into()),
        ColumnType::Numeric { scale: Some(s), .. } if *s > 0 => {
            ("NUMBER", format!("0.{}", "0".repeat((*s).min(30) as usize)))
        }
        ColumnType::Numeric { scale: Some(_), .. } => ("NUMBER", "0".into()),
        // Plain numerics and floats keep Google's automatic format (all digits).
        _ => return None,
    })
}

/// Whether a timestamp or time value has a fraction of a second.
pub(crate) fn has_subsecond(v: &Value) -> bool {
    match v {
        Value::Timestamp(t) => t.nanosecond() != 0,
        Value::TimestampTz(t) => t.nanosecond() != 0,
        Value::Time(t) => t.nanosecond() != 0,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn dt(y: i32, m: u32, d: u32, h: u32, mi: u32, s: u32, us: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(y, m, d).and_then(|d| d.and_hms_micro_opt(h, mi, s, us)).unwrap_or_default()
    }

    fn round_trip(ty: &ColumnType, v: &Value, zone: &Zone) -> Value {
        let cell = match value_to_cell(ty, v, zone) {
            Out::Blank => WireCell::Empty,
            Out::Number(f) => WireCell::Number(f),
            Out::Bool(b) => WireCell::Bool(b),
            Out::Text(s) => WireCell::Text(s.to_owned()),
            Out::Owned(s) => WireCell::Text(s),
            Out::EmptyText => WireCell::Text(String::new()),
        };
        cell_to_value(ty, &cell, zone).unwrap_or(Value::Error("unreadable".into()))
    }

    #[test]
    fn timestamptz_serials_are_wall_time_in_the_spreadsheets_zone() {
        let berlin = Zone::named("Europe/Berlin");
        let instant = dt(2024, 7, 1, 10, 0, 0, 0).and_utc();
        // 12:00 in Berlin in summer.
        let serial = match value_to_cell(&ColumnType::TimestampTz, &Value::TimestampTz(instant), &berlin) {
            Out::Number(f) => f,
            other => panic!("{other:?}"),
        };
        assert_eq!(serial_to_datetime(serial, EPOCH), Some(dt(2024, 7, 1, 12, 0, 0, 0)));
        assert_eq!(
            round_trip(&ColumnType::TimestampTz, &Value::TimestampTz(instant), &berlin),
            Value::TimestampTz(instant)
        );
        // In winter the same wall time is an hour later in UTC.
        let winter = datetime_to_serial(dt(2024, 1, 15, 12, 0, 0, 0), EPOCH).unwrap_or_default();
        assert_eq!(
            cell_to_value(&ColumnType::TimestampTz, &WireCell::Number(winter), &berlin),
            Ok(Value::TimestampTz(dt(2024, 1, 15, 11, 0, 0, 0).and_utc()))
        );
        // 02:30 on the morning clocks go forward does not exist.
        let gap = datetime_to_serial(dt(2024, 3, 31, 2, 30, 0, 0), EPOCH).unwrap_or_default();
        assert!(cell_to_value(&ColumnType::TimestampTz, &WireCell::Number(gap), &berlin).is_err());
        // The second 02:30 of the night clocks go back is written as text, exactly.
        let second = dt(2024, 10, 27, 1, 30, 0, 0).and_utc();
        assert!(matches!(
            value_to_cell(&ColumnType::TimestampTz, &Value::TimestampTz(second), &berlin),
            Out::Owned(_)
        ));
        assert_eq!(
            round_trip(&ColumnType::TimestampTz, &Value::TimestampTz(second), &berlin),
            Value::TimestampTz(second)
        );
        assert_eq!(Zone::named("GMT"), Zone::named("GMT"));
        assert!(Zone::named("Etc/GMT+5").is_known());
        assert!(!Zone::named("Mars/Olympus").is_known());
    }

    #[test]
    fn values_that_a_number_would_change_are_text() {
        let z = Zone::utc();
        let plain = ColumnType::Numeric { precision: None, scale: None };
        let money = ColumnType::Numeric { precision: Some(12), scale: Some(2) };
        let n = |s: &str| Value::Numeric(s.into());
        assert_eq!(value_to_cell(&money, &n("1.50"), &z), Out::Number(1.5));
        assert_eq!(value_to_cell(&plain, &n("1.50"), &z), Out::Text("1.50"));
        assert_eq!(
            value_to_cell(&plain, &n("12345678901234567890.123456789"), &z),
            Out::Text("12345678901234567890.123456789")
        );
        assert_eq!(
            value_to_cell(&ColumnType::Int64, &Value::Int(i64::MAX), &z),
            Out::Owned(i64::MAX.to_string())
        );
        assert_eq!(value_to_cell(&ColumnType::Text, &Value::Text("=1+1".into()), &z), Out::Text("=1+1"));
        assert_eq!(value_to_cell(&ColumnType::Text, &Value::Text(String::new()), &z), Out::EmptyText);
        for v in [
            n("0.1"),
            n("NaN"),
            Value::Int(-9_007_199_254_740_993),
            Value::Date(NaiveDate::MAX),
            Value::Date(NaiveDate::from_ymd_opt(1850, 1, 1).unwrap_or_default()),
            Value::Timestamp(dt(1899, 12, 31, 23, 59, 59, 999_999)),
            Value::Timestamp(dt(2024, 5, 1, 13, 45, 7, 123_456)),
        ] {
            let ty = match &v {
                Value::Int(_) => ColumnType::Int64,
                Value::Date(_) => ColumnType::Date,
                Value::Timestamp(_) => ColumnType::Timestamp,
                _ => plain.clone(),
            };
            assert_eq!(round_trip(&ty, &v, &z), v);
        }
        assert_eq!(cell_to_value(&money, &WireCell::Number(0.1 + 0.2), &z), Ok(n("0.30")));
        assert!(cell_to_value(&ColumnType::Int32, &WireCell::Text("#DIV/0!".into()), &z).is_err());
        assert_eq!(cell_to_value(&ColumnType::Int32, &WireCell::Text(String::new()), &z), Ok(Value::Null));
    }
}
