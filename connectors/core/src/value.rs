//! The one cell model both worlds share.

use std::fmt;
use std::hash::{Hash, Hasher};

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};

/// One cell: a Postgres field or a spreadsheet cell.
///
/// The variants are chosen so that every Postgres value survives a trip
/// through a spreadsheet and back without loss:
///
/// - [`Value::Null`] is distinct from `Text("")`.
/// - [`Value::Numeric`] carries exact decimal text (`"12345678901234567890.123456789"`,
///   `"NaN"`, `"Infinity"`, `"-Infinity"`), never a float.
/// - [`Value::TimestampTz`] is an instant (UTC); the zone it was shown in is
///   presentation, not data.
/// - [`Value::Text`] is text even when it starts with `=`: no connector may
///   turn it into a formula.
/// - [`Value::Error`] is a spreadsheet error such as `#DIV/0!`; it can be
///   read but never written to a table.
///
/// Equality is exact: floats compare by bit pattern (so `NaN == NaN`, and
/// `0.0 != -0.0`), which is what change detection needs.
#[derive(Debug, Clone)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    /// Exact decimal text in Postgres' canonical form.
    Numeric(String),
    Float(f64),
    Text(String),
    Date(NaiveDate),
    Time(NaiveTime),
    Timestamp(NaiveDateTime),
    TimestampTz(DateTime<Utc>),
    /// JSON document text (as Postgres prints it).
    Json(String),
    /// A spreadsheet error value (`#N/A`, `#DIV/0!`, ...).
    Error(String),
}

/// `Null`: the value of a cell nobody filled.
impl Default for Value {
    fn default() -> Self {
        Value::Null
    }
}

impl Value {
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The variant's name, for messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Int(_) => "integer",
            Value::Numeric(_) => "numeric",
            Value::Float(_) => "float",
            Value::Text(_) => "text",
            Value::Date(_) => "date",
            Value::Time(_) => "time",
            Value::Timestamp(_) => "timestamp",
            Value::TimestampTz(_) => "timestamptz",
            Value::Json(_) => "json",
            Value::Error(_) => "error",
        }
    }

    /// The kind of value as a number, in the order kinds sort (null first).
    pub(crate) fn tag(&self) -> u8 {
        match self {
            Value::Null => 0,
            Value::Bool(_) => 1,
            Value::Int(_) => 2,
            Value::Numeric(_) => 3,
            Value::Float(_) => 4,
            Value::Text(_) => 5,
            Value::Date(_) => 6,
            Value::Time(_) => 7,
            Value::Timestamp(_) => 8,
            Value::TimestampTz(_) => 9,
            Value::Json(_) => 10,
            Value::Error(_) => 11,
        }
    }
}

impl PartialEq for Value {
    fn eq(&self, other: &Self) -> bool {
        use Value::*;
        match (self, other) {
            (Null, Null) => true,
            (Bool(a), Bool(b)) => a == b,
            (Int(a), Int(b)) => a == b,
            (Numeric(a), Numeric(b)) => a == b,
            (Float(a), Float(b)) => a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()),
            (Text(a), Text(b)) => a == b,
            (Date(a), Date(b)) => a == b,
            (Time(a), Time(b)) => a == b,
            (Timestamp(a), Timestamp(b)) => a == b,
            (TimestampTz(a), TimestampTz(b)) => a == b,
            (Json(a), Json(b)) => a == b,
            (Error(a), Error(b)) => a == b,
            _ => false,
        }
    }
}

impl Eq for Value {}

impl Hash for Value {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.tag().hash(state);
        match self {
            Value::Null => {}
            Value::Bool(v) => v.hash(state),
            Value::Int(v) => v.hash(state),
            Value::Float(v) => {
                // All NaNs are equal, so they must hash alike.
                let bits = if v.is_nan() { f64::NAN.to_bits() } else { v.to_bits() };
                bits.hash(state)
            }
            Value::Numeric(s) | Value::Text(s) | Value::Json(s) | Value::Error(s) => s.hash(state),
            Value::Date(v) => v.hash(state),
            Value::Time(v) => v.hash(state),
            Value::Timestamp(v) => v.hash(state),
            Value::TimestampTz(v) => v.hash(state),
        }
    }
}

/// The value as a person reads it in a plan or an error message. Text is
/// quoted so that `""` and NULL (shown as `NULL`) are told apart.
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("NULL"),
            Value::Bool(v) => write!(f, "{v}"),
            Value::Int(v) => write!(f, "{v}"),
            Value::Numeric(v) => f.write_str(v),
            Value::Float(v) => write!(f, "{v}"),
            Value::Text(v) => write!(f, "{v:?}"),
            Value::Date(v) => write!(f, "{v}"),
            Value::Time(v) => write!(f, "{v}"),
            Value::Timestamp(v) => write!(f, "{}", v.format("%Y-%m-%d %H:%M:%S%.f")),
            Value::TimestampTz(v) => write!(f, "{}", v.format("%Y-%m-%d %H:%M:%S%.f+00")),
            Value::Json(v) => f.write_str(v),
            Value::Error(v) => f.write_str(v),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn nan_equals_nan_and_hashes_alike() {
        let a = Value::Float(f64::NAN);
        let b = Value::Float(-f64::NAN);
        assert_eq!(a, b);
        let set: HashSet<Value> = [a, b].into_iter().collect();
        assert_eq!(set.len(), 1);
    }

    #[test]
    fn null_is_not_empty_text() {
        assert_ne!(Value::Null, Value::Text(String::new()));
        assert_eq!(Value::Text(String::new()).to_string(), "\"\"");
        assert_eq!(Value::Null.to_string(), "NULL");
    }

    #[test]
    fn numeric_text_is_compared_exactly() {
        assert_ne!(Value::Numeric("1.0".into()), Value::Numeric("1.00".into()));
        assert_ne!(Value::Numeric("1".into()), Value::Int(1));
    }
}
