//! Values on the wire: how each column travels in binary COPY, both ways.
//!
//! Every column has a [`Wire`] form. Types with a native [`Value`] travel in
//! their own binary format (bool, integers, floats, text-like, date, time,
//! timestamps). The rest are cast to `text` on the server (`numeric`, `json`,
//! `uuid`, enums, arrays, everything else) and cast back with the column's
//! real type when written, so nothing depends on binary formats this crate
//! does not know.

use bytes::{BufMut, BytesMut};
use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, Timelike, Utc};
use sheetbridge_core::{convert, ColumnType, Value};

/// Quotes an identifier for SQL, always: `orders` → `"orders"`, `a"b` → `"a""b"`.
pub fn quote_ident(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 2);
    out.push('"');
    for c in name.chars() {
        if c == '"' {
            out.push('"');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// Quotes a string as an SQL literal (for the few statements that cannot take
/// parameters, such as `CREATE DATABASE`).
pub fn quote_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// How a column's values travel between the server and this crate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wire {
    Bool,
    Int2,
    Int4,
    Int8,
    Float4,
    Float8,
    /// text, varchar, bpchar, name, citext: their binary form is UTF-8 text.
    Text,
    /// numeric as `::text` → [`Value::Numeric`].
    Numeric,
    /// json/jsonb as `::text` → [`Value::Json`].
    Json,
    /// uuid, enums, arrays and every other type as `::text` → [`Value::Text`].
    TextOther,
    Date,
    Time,
    Timestamp,
    TimestampTz,
}

impl Wire {
    pub fn of(ty: &ColumnType) -> Wire {
        match ty {
            ColumnType::Bool => Wire::Bool,
            ColumnType::Int16 => Wire::Int2,
            ColumnType::Int32 => Wire::Int4,
            ColumnType::Int64 => Wire::Int8,
            ColumnType::Numeric { .. } => Wire::Numeric,
            ColumnType::Float32 => Wire::Float4,
            ColumnType::Float64 => Wire::Float8,
            ColumnType::Text => Wire::Text,
            ColumnType::Date => Wire::Date,
            ColumnType::Time => Wire::Time,
            ColumnType::Timestamp => Wire::Timestamp,
            ColumnType::TimestampTz => Wire::TimestampTz,
            ColumnType::Json => Wire::Json,
            ColumnType::Uuid | ColumnType::Enum(_) | ColumnType::Other => Wire::TextOther,
        }
    }

    /// The server casts the value to text for the trip.
    pub fn is_text_cast(self) -> bool {
        matches!(self, Wire::Numeric | Wire::Json | Wire::TextOther)
    }

    /// The SQL type a staging column of this wire form has.
    pub fn stage_type(self) -> &'static str {
        match self {
            Wire::Bool => "bool",
            Wire::Int2 => "int2",
            Wire::Int4 => "int4",
            Wire::Int8 => "int8",
            Wire::Float4 => "float4",
            Wire::Float8 => "float8",
            Wire::Text | Wire::Numeric | Wire::Json | Wire::TextOther => "text",
            Wire::Date => "date",
            Wire::Time => "time",
            Wire::Timestamp => "timestamp",
            Wire::TimestampTz => "timestamptz",
        }
    }

    /// The select-list expression that puts `expr` on the wire.
    pub fn select_expr(self, expr: &str) -> String {
        if self.is_text_cast() {
            format!("({expr})::text")
        } else {
            expr.to_owned()
        }
    }

    fn name(self) -> &'static str {
        match self {
            Wire::Numeric => "numeric",
            Wire::Json => "json",
            other => other.stage_type(),
        }
    }
}

fn epoch_date() -> NaiveDate {
    // Invariant: a constant, valid date.
    NaiveDate::from_ymd_opt(2000, 1, 1).unwrap_or(NaiveDate::MIN)
}

fn epoch_datetime() -> NaiveDateTime {
    epoch_date().and_time(NaiveTime::MIN)
}

fn be<const N: usize>(raw: &[u8]) -> Result<[u8; N], String> {
    raw.try_into().map_err(|_| format!("has {} bytes on the wire, expected {N}", raw.len()))
}

/// Decodes one non-NULL binary field into `slot`, reusing its string buffer
/// when the slot already holds one of the same variant.
pub fn decode(wire: Wire, raw: &[u8], slot: &mut Value) -> Result<(), String> {
    match wire {
        Wire::Bool => *slot = Value::Bool(be::<1>(raw)?[0] != 0),
        Wire::Int2 => *slot = Value::Int(i16::from_be_bytes(be(raw)?).into()),
        Wire::Int4 => *slot = Value::Int(i32::from_be_bytes(be(raw)?).into()),
        Wire::Int8 => *slot = Value::Int(i64::from_be_bytes(be(raw)?)),
        Wire::Float4 => *slot = Value::Float(f32::from_be_bytes(be(raw)?).into()),
        Wire::Float8 => *slot = Value::Float(f64::from_be_bytes(be(raw)?)),
        Wire::Text | Wire::TextOther => {
            let text = std::str::from_utf8(raw).map_err(|_| "is not UTF-8".to_owned())?;
            match slot {
                Value::Text(s) => {
                    s.clear();
                    s.push_str(text);
                }
                _ => *slot = Value::Text(text.to_owned()),
            }
        }
        Wire::Numeric => {
            let text = std::str::from_utf8(raw).map_err(|_| "is not UTF-8".to_owned())?;
            match slot {
                Value::Numeric(s) => {
                    s.clear();
                    s.push_str(text);
                }
                _ => *slot = Value::Numeric(text.to_owned()),
            }
        }
        Wire::Json => {
            let text = std::str::from_utf8(raw).map_err(|_| "is not UTF-8".to_owned())?;
            match slot {
                Value::Json(s) => {
                    s.clear();
                    s.push_str(text);
                }
                _ => *slot = Value::Json(text.to_owned()),
            }
        }
        Wire::Date => {
            let days = i32::from_be_bytes(be(raw)?);
            *slot = Value::Date(match days {
                i32::MAX => NaiveDate::MAX,
                i32::MIN => NaiveDate::MIN,
                d => epoch_date()
                    .checked_add_signed(TimeDelta::days(d.into()))
                    .ok_or_else(|| "is a date beyond what sheetbridge can hold".to_owned())?,
            });
        }
        Wire::Time => {
            let us = i64::from_be_bytes(be(raw)?);
            let secs =
                u32::try_from(us.div_euclid(1_000_000)).map_err(|_| "is not a time of day".to_owned())?;
            let nanos = (us.rem_euclid(1_000_000) * 1000) as u32;
            *slot = Value::Time(
                NaiveTime::from_num_seconds_from_midnight_opt(secs, nanos)
                    .ok_or_else(|| "is 24:00:00, which sheetbridge cannot hold".to_owned())?,
            );
        }
        Wire::Timestamp => *slot = Value::Timestamp(decode_timestamp(raw)?),
        Wire::TimestampTz => {
            let ts = decode_timestamp(raw)?;
            *slot = Value::TimestampTz(if ts == NaiveDateTime::MAX {
                DateTime::<Utc>::MAX_UTC
            } else if ts == NaiveDateTime::MIN {
                DateTime::<Utc>::MIN_UTC
            } else {
                ts.and_utc()
            });
        }
    }
    Ok(())
}

fn decode_timestamp(raw: &[u8]) -> Result<NaiveDateTime, String> {
    Ok(match i64::from_be_bytes(be(raw)?) {
        i64::MAX => NaiveDateTime::MAX,
        i64::MIN => NaiveDateTime::MIN,
        us => epoch_datetime()
            .checked_add_signed(TimeDelta::microseconds(us))
            .ok_or_else(|| "is a timestamp beyond what sheetbridge can hold".to_owned())?,
    })
}

/// Why a value cannot go into a column of this wire form.
fn mismatch(wire: Wire, v: &Value) -> String {
    format!("is a {}, but the column holds {}", v.kind(), wire.name())
}

/// Appends one field (length + bytes, or -1 for NULL) of the staging wire form.
pub fn encode(wire: Wire, v: &Value, buf: &mut BytesMut) -> Result<(), String> {
    if let Value::Null = v {
        buf.put_i32(-1);
        return Ok(());
    }
    if let Value::Error(e) = v {
        return Err(format!("is the spreadsheet error {e}, which a table cannot hold"));
    }
    match wire {
        Wire::Bool => match v {
            Value::Bool(b) => {
                buf.put_i32(1);
                buf.put_u8(u8::from(*b));
            }
            _ => return Err(mismatch(wire, v)),
        },
        Wire::Int2 | Wire::Int4 | Wire::Int8 => {
            let Value::Int(i) = v else { return Err(mismatch(wire, v)) };
            match wire {
                Wire::Int2 => {
                    let x = i16::try_from(*i).map_err(|_| "is out of range for int2".to_owned())?;
                    buf.put_i32(2);
                    buf.put_i16(x);
                }
                Wire::Int4 => {
                    let x = i32::try_from(*i).map_err(|_| "is out of range for int4".to_owned())?;
                    buf.put_i32(4);
                    buf.put_i32(x);
                }
                _ => {
                    buf.put_i32(8);
                    buf.put_i64(*i);
                }
            }
        }
        Wire::Float4 | Wire::Float8 => {
            let f = match v {
                Value::Float(f) => *f,
                Value::Int(i) if i.unsigned_abs() <= 1 << 53 => *i as f64,
                _ => return Err(mismatch(wire, v)),
            };
            if wire == Wire::Float4 {
                let x = f as f32;
                if !(f.is_nan() || f64::from(x) == f) {
                    return Err(format!("{f} has more digits than float4 keeps"));
                }
                buf.put_i32(4);
                buf.put_f32(x);
            } else {
                buf.put_i32(8);
                buf.put_f64(f);
            }
        }
        Wire::Text | Wire::Numeric | Wire::Json | Wire::TextOther => {
            let text: std::borrow::Cow<'_, str> = match v {
                Value::Text(s) | Value::Numeric(s) | Value::Json(s) => s.as_str().into(),
                other => match convert::value_text(other) {
                    Some(t) => t.into(),
                    None => return Err(mismatch(wire, v)),
                },
            };
            put_bytes(buf, text.as_bytes())?;
        }
        Wire::Date => {
            let Value::Date(d) = v else { return Err(mismatch(wire, v)) };
            buf.put_i32(4);
            buf.put_i32(encode_date(*d)?);
        }
        Wire::Time => {
            let Value::Time(t) = v else { return Err(mismatch(wire, v)) };
            let us = i64::from(t.num_seconds_from_midnight()) * 1_000_000 + i64::from(t.nanosecond() / 1000);
            buf.put_i32(8);
            buf.put_i64(us);
        }
        Wire::Timestamp => {
            let Value::Timestamp(t) = v else { return Err(mismatch(wire, v)) };
            buf.put_i32(8);
            buf.put_i64(encode_timestamp(*t)?);
        }
        Wire::TimestampTz => {
            let us = match v {
                Value::TimestampTz(t) if *t == DateTime::<Utc>::MAX_UTC => i64::MAX,
                Value::TimestampTz(t) if *t == DateTime::<Utc>::MIN_UTC => i64::MIN,
                Value::TimestampTz(t) => encode_timestamp(t.naive_utc())?,
                _ => return Err(mismatch(wire, v)),
            };
            buf.put_i32(8);
            buf.put_i64(us);
        }
    }
    Ok(())
}

fn put_bytes(buf: &mut BytesMut, bytes: &[u8]) -> Result<(), String> {
    let len = i32::try_from(bytes.len()).map_err(|_| "is longer than a field can be (1 GB)".to_owned())?;
    buf.put_i32(len);
    buf.put_slice(bytes);
    Ok(())
}

fn encode_date(d: NaiveDate) -> Result<i32, String> {
    if d == NaiveDate::MAX {
        return Ok(i32::MAX);
    }
    if d == NaiveDate::MIN {
        return Ok(i32::MIN);
    }
    i32::try_from((d - epoch_date()).num_days()).map_err(|_| "is out of range for date".to_owned())
}

fn encode_timestamp(t: NaiveDateTime) -> Result<i64, String> {
    if t == NaiveDateTime::MAX {
        return Ok(i64::MAX);
    }
    if t == NaiveDateTime::MIN {
        return Ok(i64::MIN);
    }
    (t - epoch_datetime()).num_microseconds().ok_or_else(|| "is out of range for timestamp".to_owned())
}

/// How a column is written by a binary COPY straight into its table (the
/// fast import path): the real type's binary format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direct {
    /// Same bytes as the staging wire form.
    Same(Wire),
    /// numeric's base-10000 form.
    Numeric,
    /// json: the text. jsonb: version 1, then the text.
    Json { jsonb: bool },
    /// uuid: 16 bytes.
    Uuid,
    /// An enum: its label.
    Label,
}

impl Direct {
    /// The direct form for a column, or `None` when its binary format is not
    /// one this crate writes (arrays, intervals, ...).
    pub fn of(wire: Wire, ty: &ColumnType, base_type: &str) -> Option<Direct> {
        Some(match wire {
            Wire::Numeric => Direct::Numeric,
            Wire::Json => Direct::Json { jsonb: base_type == "jsonb" },
            Wire::TextOther => match ty {
                ColumnType::Uuid => Direct::Uuid,
                ColumnType::Enum(_) => Direct::Label,
                _ => return None,
            },
            other => Direct::Same(other),
        })
    }

    pub fn encode(self, v: &Value, buf: &mut BytesMut) -> Result<(), String> {
        if v.is_null() {
            buf.put_i32(-1);
            return Ok(());
        }
        match self {
            Direct::Same(w) => encode(w, v, buf),
            Direct::Numeric => match v {
                Value::Numeric(s) | Value::Text(s) => encode_numeric(s, buf),
                Value::Int(i) => encode_numeric(&i.to_string(), buf),
                _ => Err(mismatch(Wire::Numeric, v)),
            },
            Direct::Json { jsonb } => {
                let text = match v {
                    Value::Json(s) | Value::Text(s) => s.as_str(),
                    _ => return Err(mismatch(Wire::Json, v)),
                };
                if jsonb {
                    let len = i32::try_from(text.len() + 1)
                        .map_err(|_| "is longer than a field can be (1 GB)".to_owned())?;
                    buf.put_i32(len);
                    buf.put_u8(1);
                    buf.put_slice(text.as_bytes());
                    Ok(())
                } else {
                    put_bytes(buf, text.as_bytes())
                }
            }
            Direct::Uuid => {
                let Value::Text(s) = v else { return Err(mismatch(Wire::TextOther, v)) };
                let hex: Vec<u8> = s.bytes().filter(|b| !matches!(b, b'-' | b'{' | b'}')).collect();
                if hex.len() != 32 {
                    return Err("is not a UUID".into());
                }
                buf.put_i32(16);
                for pair in hex.chunks(2) {
                    let text = std::str::from_utf8(pair).map_err(|_| "is not a UUID".to_owned())?;
                    buf.put_u8(u8::from_str_radix(text, 16).map_err(|_| "is not a UUID".to_owned())?);
                }
                Ok(())
            }
            Direct::Label => match v {
                Value::Text(s) => put_bytes(buf, s.as_bytes()),
                _ => Err(mismatch(Wire::TextOther, v)),
            },
        }
    }
}

/// Writes decimal text (`-12.50`, `NaN`, `Infinity`) in numeric's binary form.
pub fn encode_numeric(text: &str, buf: &mut BytesMut) -> Result<(), String> {
    const POS: u16 = 0x0000;
    const NEG: u16 = 0x4000;
    let special = match text {
        "NaN" => Some(0xC000u16),
        "Infinity" => Some(0xD000),
        "-Infinity" => Some(0xF000),
        _ => None,
    };
    if let Some(sign) = special {
        buf.put_i32(8);
        buf.put_i16(0);
        buf.put_i16(0);
        buf.put_u16(sign);
        buf.put_u16(0);
        return Ok(());
    }
    let bad = || format!("{text:?} is not a decimal number");
    let (negative, body) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let (int_part, frac_part) = body.split_once('.').unwrap_or((body, ""));
    if (int_part.is_empty() && frac_part.is_empty())
        || !int_part.bytes().all(|b| b.is_ascii_digit())
        || !frac_part.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(bad());
    }
    let int_part = int_part.trim_start_matches('0');
    let dscale = u16::try_from(frac_part.len()).map_err(|_| bad())?;
    // Base-10000 groups: the integer part padded on the left, the fraction on the right.
    let int_pad = (4 - int_part.len() % 4) % 4;
    let frac_pad = (4 - frac_part.len() % 4) % 4;
    let mut digits_text = String::with_capacity(int_pad + int_part.len() + frac_part.len() + frac_pad);
    digits_text.extend(std::iter::repeat_n('0', int_pad));
    digits_text.push_str(int_part);
    let int_groups = digits_text.len() / 4;
    digits_text.push_str(frac_part);
    digits_text.extend(std::iter::repeat_n('0', frac_pad));
    let mut groups: Vec<i16> = digits_text
        .as_bytes()
        .chunks(4)
        .map(|g| g.iter().fold(0i16, |acc, d| acc * 10 + i16::from(d - b'0')))
        .collect();
    let mut weight = int_groups as i64 - 1;
    let leading = groups.iter().take_while(|g| **g == 0).count();
    groups.drain(..leading);
    weight -= leading as i64;
    while groups.last() == Some(&0) {
        groups.pop();
    }
    if groups.is_empty() {
        weight = 0;
    }
    let weight = i16::try_from(weight).map_err(|_| format!("{text} is out of range for numeric"))?;
    let ndigits = i16::try_from(groups.len()).map_err(|_| format!("{text} is out of range for numeric"))?;
    buf.put_i32(8 + 2 * i32::from(ndigits));
    buf.put_i16(ndigits);
    buf.put_i16(weight);
    buf.put_u16(if negative && !groups.is_empty() { NEG } else { POS });
    buf.put_u16(dscale);
    for g in groups {
        buf.put_i16(g);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_always_quoted() {
        assert_eq!(quote_ident("orders"), "\"orders\"");
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(quote_literal("it's"), "'it''s'");
    }

    #[test]
    fn numeric_binary_form() {
        let enc = |t: &str| {
            let mut b = BytesMut::new();
            encode_numeric(t, &mut b).unwrap();
            b.to_vec()
        };
        // 12345.678: ndigits 3, weight 1, pos, dscale 3, digits 1 2345 6780
        assert_eq!(enc("12345.678"), [0, 0, 0, 14, 0, 3, 0, 1, 0, 0, 0, 3, 0, 1, 0x09, 0x29, 0x1a, 0x7c]);
        assert_eq!(enc("0"), [0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(enc("-0.01"), [0, 0, 0, 10, 0, 1, 0xff, 0xff, 0x40, 0, 0, 2, 0, 100]);
        assert!(encode_numeric("1.2.3", &mut BytesMut::new()).is_err());
    }

    #[test]
    fn dates_round_trip_with_infinities() {
        for d in [NaiveDate::MAX, NaiveDate::MIN, epoch_date(), NaiveDate::from_ymd_opt(1850, 3, 1).unwrap()]
        {
            let mut b = BytesMut::new();
            encode(Wire::Date, &Value::Date(d), &mut b).unwrap();
            let mut slot = Value::Null;
            decode(Wire::Date, &b[4..], &mut slot).unwrap();
            assert_eq!(slot, Value::Date(d));
        }
    }
}
