//! Cells ⇄ values for .xlsx, on top of [`sheetbridge_core::convert`].
//!
//! Reading: every cell goes through core's `parse_text` / `from_number` /
//! `from_bool`, then numeric values are brought to Postgres' canonical text
//! for the column's scale (`1.5` in a `numeric(12,2)` column is `1.50`).
//!
//! Writing: a value becomes a native cell only when reading that cell back
//! gives the same value; otherwise it is written as text (see the crate docs
//! for the rule).

use chrono::{NaiveTime, Timelike};
use sheetbridge_core::convert::{
    self, canonical, date_text, datetime_to_serial, fifteen_digits, from_bool, from_number, keeps_empty_text,
    parse_text, significant_digits, timestamp_text, timestamptz_text, Reason, SerialEpoch,
};
use sheetbridge_core::{ColumnType, Value};

/// 2^53: integers up to this magnitude are exact in a double.
const EXACT_INT: u64 = 1 << 53;
const US_PER_DAY: f64 = 86_400_000_000.0;

/// A cell as read from a sheet, before conversion.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Raw<'a> {
    Text(&'a str),
    Number(f64),
    Bool(bool),
    /// An ISO 8601 date/time cell (`t="d"`).
    Iso(&'a str),
    /// A spreadsheet error value (`#DIV/0!`).
    Error(&'a str),
}

impl Raw<'_> {
    /// The cell as messages show it: text quoted, numbers plain.
    pub(crate) fn shown(&self) -> String {
        match self {
            Raw::Text(s) | Raw::Iso(s) => format!("{s:?}"),
            Raw::Number(f) => convert::number_text(*f),
            Raw::Bool(b) => if *b { "TRUE" } else { "FALSE" }.into(),
            Raw::Error(e) => (*e).to_owned(),
        }
    }
}

/// The value of `raw` in a column of type `ty`, in a workbook using `epoch`.
pub(crate) fn cell_to_value(ty: &ColumnType, raw: Raw<'_>, epoch: SerialEpoch) -> Result<Value, Reason> {
    let v = match raw {
        Raw::Text(s) | Raw::Iso(s) => {
            if !keeps_empty_text(ty) && s.trim().is_empty() {
                return Ok(Value::Null);
            }
            parse_text(ty, s)?
        }
        Raw::Number(f) => match ty {
            ColumnType::Date | ColumnType::Timestamp | ColumnType::TimestampTz => {
                from_number(ty, snap_serial(f), epoch)?
            }
            ColumnType::Numeric { precision, scale: Some(scale) } => {
                match scaled_decimal(f, *scale, *precision) {
                    Some(text) => Value::Numeric(text),
                    None => from_number(ty, fifteen_digits(f), epoch)?,
                }
            }
            ColumnType::Numeric { .. } => from_number(ty, fifteen_digits(f), epoch)?,
            _ => from_number(ty, f, epoch)?,
        },
        Raw::Bool(b) => from_bool(ty, b)?,
        Raw::Error(_) => return Err(Reason("is a spreadsheet error, not a value".into())),
    };
    Ok(canonical(ty, v))
}

/// Excel and LibreOffice write serials with 15 significant digits, openpyxl
/// with 16, after float arithmetic of their own; so a time of day read from
/// them can be off by a few microseconds (LibreOffice writes 13:45:30 as
/// 45306.5732638889, which is 13:45:30.000001). A serial of 15 or 16 digits
/// is snapped to the whole second, or else the whole millisecond, when it is
/// that close: within half a unit of its last digit, and at least 1 µs.
/// Serials with 17 digits (sheetbridge writes exact ones) and short ones (a
/// typed `45306.123` is exactly 02:57:07.2) are taken as they are. The writer
/// checks every serial it writes reads back exactly, so this never changes a
/// value sheetbridge wrote.
fn snap_serial(f: f64) -> f64 {
    if !f.is_finite() || f <= 0.0 || f.fract() == 0.0 {
        return f;
    }
    // A serial already on a whole millisecond stays there: the tolerance
    // below is a few microseconds, far from the next whole second.
    if ((f - f.floor()) * US_PER_DAY).round() as i64 % 1000 == 0 {
        return f;
    }
    let Some((digits, exponent)) = significant_digits(f) else { return f };
    if !(15..=16).contains(&digits) {
        return f;
    }
    let tolerance_us = (0.5 * 10f64.powi(exponent - (digits as i32 - 1)) * US_PER_DAY).max(1.0);
    let days = f.floor();
    let us = (f - days) * US_PER_DAY;
    for unit in [1_000_000.0, 1_000.0] {
        let snapped = (us / unit).round() * unit;
        if (us - snapped).abs() <= tolerance_us {
            return days + snapped / US_PER_DAY;
        }
    }
    f
}

/// The common case of a number in a `numeric(p, s)` column, without
/// formatting the double: `f` is exactly the double nearest to `units / 10^s`
/// for a whole `units` of at most 15 digits, so that decimal is the number
/// the sheet shows (Excel shows 15 digits) and fits the column's scale. Gives
/// the text padded to the scale (`1234.50`), or `None` for the general path
/// (more decimals than the scale, more than 15 digits, too large).
fn scaled_decimal(f: f64, scale: u32, precision: Option<u32>) -> Option<String> {
    const POW10: [f64; 10] = [1.0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9];
    let factor = *POW10.get(scale as usize)?;
    let units = (f * factor).round();
    if !units.is_finite() || units.abs() >= 1e15 || units / factor != f {
        return None;
    }
    let digits = (units.abs() as u64).to_string();
    let s = scale as usize;
    let int_digits = digits.len().saturating_sub(s);
    if let Some(p) = precision {
        if int_digits > p.saturating_sub(scale) as usize {
            return None; // the general path words the error
        }
    }
    let mut out = String::with_capacity(digits.len() + 3);
    if units < 0.0 {
        out.push('-');
    }
    if int_digits == 0 {
        out.push('0');
    } else {
        out.push_str(&digits[..int_digits]);
    }
    if s > 0 {
        out.push('.');
        for _ in digits.len()..s {
            out.push('0');
        }
        out.push_str(&digits[int_digits..]);
    }
    Some(out)
}

/// What the writer puts in a cell for one value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Out<'a> {
    /// NULL: no cell at all.
    Blank,
    /// A number cell, shown with the column's number format.
    Number(f64),
    /// A date/time serial, shown with the column's format; `subsecond`
    /// asks for the format with milliseconds.
    Serial {
        serial: f64,
        subsecond: bool,
    },
    Bool(bool),
    /// A text cell (never a formula, whatever it starts with).
    Text(&'a str),
    /// A text cell of text made here (dates out of Excel's range, big integers).
    Owned(String),
    /// The empty string: a formula `=""` whose cached value is `""`,
    /// because a constant empty text cell is no cell at all to Excel.
    EmptyText,
}

/// How `v` is written in a column of type `ty`.
pub(crate) fn value_to_cell<'a>(ty: &ColumnType, v: &'a Value, epoch: SerialEpoch) -> Out<'a> {
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
            if f.is_finite() {
                Out::Number(*f)
            } else {
                Out::Owned(convert::number_text(*f))
            }
        }
        Value::Numeric(s) => match s.parse::<f64>() {
            Ok(f) if f.is_finite() && reads_back(ty, f, epoch, v) => Out::Number(f),
            _ => Out::Text(s),
        },
        Value::Text(s) | Value::Json(s) | Value::Error(s) => {
            if s.is_empty() {
                Out::EmptyText
            } else {
                Out::Text(s)
            }
        }
        Value::Date(d) => match datetime_to_serial(d.and_time(NaiveTime::MIN), epoch) {
            Some(serial) => Out::Serial { serial, subsecond: false },
            None => Out::Owned(date_text(*d)),
        },
        Value::Timestamp(t) => match datetime_to_serial(*t, epoch) {
            Some(serial) if reads_back(&ColumnType::Timestamp, serial, epoch, v) => {
                Out::Serial { serial, subsecond: t.nanosecond() != 0 }
            }
            _ => Out::Owned(timestamp_text(*t)),
        },
        Value::TimestampTz(t) => match datetime_to_serial(t.naive_utc(), epoch) {
            Some(serial) if reads_back(&ColumnType::TimestampTz, serial, epoch, v) => {
                Out::Serial { serial, subsecond: t.nanosecond() != 0 }
            }
            _ => Out::Owned(timestamptz_text(*t)),
        },
        Value::Time(t) => {
            let us = (*t - NaiveTime::MIN).num_microseconds().unwrap_or(-1);
            let serial = us as f64 / US_PER_DAY;
            if us >= 0 && reads_back(&ColumnType::Time, serial, epoch, v) {
                Out::Serial { serial, subsecond: t.nanosecond() != 0 }
            } else {
                Out::Owned(t.format("%H:%M:%S%.f").to_string())
            }
        }
    }
}

/// Whether a number cell holding `f` reads back as exactly `v`.
fn reads_back(ty: &ColumnType, f: f64, epoch: SerialEpoch, v: &Value) -> bool {
    cell_to_value(ty, Raw::Number(f), epoch).is_ok_and(|back| &back == v)
}

#[cfg(test)]
mod tests {
    use super::*;

    const E: SerialEpoch = SerialEpoch::Excel1900;

    #[test]
    fn the_scaled_fast_path_agrees_with_the_general_one() {
        let general = |f: f64, s: u32| {
            let ty = ColumnType::Numeric { precision: Some(18), scale: Some(s) };
            from_number(&ty, fifteen_digits(f), E).map(|v| canonical(&ty, v))
        };
        let mut checked = 0;
        for s in 0..=4u32 {
            let mut units: i64 = -3_000_000_000_123;
            while units < 3_000_000_000_000 {
                let f = units as f64 / 10f64.powi(s as i32);
                for g in [f, f + 1e-9, -f, f * 1.000_000_1] {
                    if let Some(fast) = scaled_decimal(g, s, Some(18)) {
                        assert_eq!(Ok(Value::Numeric(fast)), general(g, s), "{g} at scale {s}");
                        checked += 1;
                    }
                }
                units += 999_999_937;
            }
        }
        assert!(checked > 20_000, "the fast path was taken only {checked} times");
        assert_eq!(scaled_decimal(-0.5, 2, None).as_deref(), Some("-0.50"));
        assert_eq!(scaled_decimal(7.0, 0, None).as_deref(), Some("7"));
        assert_eq!(scaled_decimal(0.001, 2, None), None);
    }

    fn num(p: u32, s: u32) -> ColumnType {
        ColumnType::Numeric { precision: Some(p), scale: Some(s) }
    }

    #[test]
    fn numeric_is_a_number_only_when_it_reads_back_exactly() {
        let plain = ColumnType::Numeric { precision: None, scale: None };
        let n = |s: &str| Value::Numeric(s.into());
        // numeric(12,2) 1.50: the number 1.5 reads back as 1.50.
        assert_eq!(value_to_cell(&num(12, 2), &n("1.50"), E), Out::Number(1.5));
        assert_eq!(cell_to_value(&num(12, 2), Raw::Number(1.5), E), Ok(n("1.50")));
        assert_eq!(cell_to_value(&num(12, 2), Raw::Number(7.0), E), Ok(n("7.00")));
        // 0.1 + 0.2 is 0.30000000000000004; a sheet shows (and Excel keeps) 0.3.
        assert_eq!(cell_to_value(&num(4, 2), Raw::Number(0.1 + 0.2), E), Ok(n("0.30")));
        assert_eq!(value_to_cell(&plain, &n("0.1234567890123456"), E), Out::Text("0.1234567890123456"));
        // plain numeric 1.50 would read back as 1.5: text.
        assert_eq!(value_to_cell(&plain, &n("1.50"), E), Out::Text("1.50"));
        assert_eq!(value_to_cell(&plain, &n("0.1"), E), Out::Number(0.1));
        let big = n("12345678901234567890.123456789");
        assert!(matches!(value_to_cell(&plain, &big, E), Out::Text(_)));
        assert!(matches!(value_to_cell(&plain, &n("NaN"), E), Out::Text("NaN")));
        assert!(matches!(value_to_cell(&plain, &n("9007199254740993"), E), Out::Text(_)));
    }

    #[test]
    fn bigint_beyond_2_pow_53_is_text() {
        assert_eq!(value_to_cell(&ColumnType::Int64, &Value::Int(1 << 53), E), Out::Number(2f64.powi(53)));
        assert_eq!(
            value_to_cell(&ColumnType::Int64, &Value::Int(i64::MAX), E),
            Out::Owned(i64::MAX.to_string())
        );
    }

    #[test]
    fn empty_text_is_null_outside_text_columns() {
        assert_eq!(cell_to_value(&ColumnType::Int32, Raw::Text(" "), E), Ok(Value::Null));
        assert_eq!(cell_to_value(&ColumnType::Text, Raw::Text(""), E), Ok(Value::Text(String::new())));
        assert!(cell_to_value(&ColumnType::Int32, Raw::Error("#DIV/0!"), E).is_err());
    }

    #[test]
    fn fifteen_digit_serials_snap_to_the_second_they_stand_for() {
        let ts = |f| cell_to_value(&ColumnType::Timestamp, Raw::Number(f), E);
        let at = |h, m, s, us| {
            Value::Timestamp(
                chrono::NaiveDate::from_ymd_opt(2024, 1, 15)
                    .and_then(|d| d.and_hms_micro_opt(h, m, s, us))
                    .unwrap_or_default(),
            )
        };
        // As LibreOffice writes 2024-01-15 13:45:30.
        assert_eq!(ts(45306.5732638889), Ok(at(13, 45, 30, 0)));
        // As openpyxl writes 2024-01-15 06:30 (in the 1900 system).
        assert_eq!(ts(45306.27083333334), Ok(at(6, 30, 0, 0)));
        // A short serial is exact as typed.
        assert_eq!(ts(45306.123), Ok(at(2, 57, 7, 200_000)));
        // Exact serials of microsecond timestamps are kept.
        let exact = at(13, 45, 30, 1);
        match value_to_cell(&ColumnType::Timestamp, &exact, E) {
            Out::Serial { serial, .. } => assert_eq!(ts(serial), Ok(exact.clone())),
            Out::Owned(_) => {} // written as text when no serial reads back exactly
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn times_with_microseconds_are_serials() {
        let t = NaiveTime::from_hms_micro_opt(13, 45, 7, 123_456).unwrap_or(NaiveTime::MIN);
        match value_to_cell(&ColumnType::Time, &Value::Time(t), E) {
            Out::Serial { serial, subsecond: true } => {
                assert_eq!(cell_to_value(&ColumnType::Time, Raw::Number(serial), E), Ok(Value::Time(t)))
            }
            other => panic!("{other:?}"),
        }
    }
}
