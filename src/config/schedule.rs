//! When a pair runs: a 5-field cron expression (in UTC) or a fixed interval.
//!
//! ```
//! use chrono::{TimeZone, Utc};
//! use sheetbridge::config::Schedule;
//!
//! let every_five: Schedule = "*/5 * * * *".parse().unwrap();
//! let t = Utc.with_ymd_and_hms(2026, 3, 1, 9, 2, 30).unwrap();
//! assert_eq!(every_five.next_after(t), Utc.with_ymd_and_hms(2026, 3, 1, 9, 5, 0).unwrap());
//! let interval: Schedule = "90s".parse().unwrap();
//! assert_eq!(interval.next_after(t), Utc.with_ymd_and_hms(2026, 3, 1, 9, 4, 0).unwrap());
//! ```

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Datelike, Duration as Span, NaiveDate, TimeZone, Timelike, Utc};

/// A pair's schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Schedule {
    /// Every so long, counted from the end of the previous run's start.
    Every(Duration),
    /// At the minutes a cron expression names, in UTC.
    Cron(Cron),
}

/// A standard 5-field cron expression: minute, hour, day of month, month,
/// day of week. Fields take `*`, numbers, ranges `a-b`, steps `*/n` and
/// `a-b/n`, lists `a,b`, month names (`jan`) and day names (`mon`; 0 and 7
/// are Sunday). As in Vixie cron, when both the day of month and the day of
/// week are restricted a day matching either runs. `@hourly`, `@daily`,
/// `@weekly`, `@monthly` and `@yearly` are accepted too.
#[derive(Clone, PartialEq, Eq)]
pub struct Cron {
    text: String,
    minutes: u64,
    hours: u32,
    days: u32,
    months: u16,
    weekdays: u8,
    days_restricted: bool,
    weekdays_restricted: bool,
}

impl fmt::Debug for Cron {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Cron({:?})", self.text)
    }
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Schedule::Every(d) => write!(f, "every {}", format_duration(*d)),
            Schedule::Cron(c) => write!(f, "cron `{}` (UTC)", c.text),
        }
    }
}

fn format_duration(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        _ if s.is_multiple_of(86_400) => format!("{}d", s / 86_400),
        _ if s.is_multiple_of(3_600) => format!("{}h", s / 3_600),
        _ if s.is_multiple_of(60) => format!("{}m", s / 60),
        _ => format!("{s}s"),
    }
}

impl FromStr for Schedule {
    type Err = String;

    /// A cron expression (five fields, or `@daily`-style), or an interval:
    /// `30s`, `5m`, `1h`, `1d`, or a sum like `1h30m`.
    fn from_str(text: &str) -> Result<Schedule, String> {
        let t = text.trim();
        if t.is_empty() {
            return Err(
                "the schedule is empty: give a cron expression (`*/5 * * * *`) or an interval (`5m`)"
                    .to_owned(),
            );
        }
        if t.starts_with(|c: char| c.is_ascii_digit()) && !t.contains(char::is_whitespace) {
            return parse_interval(t).map(Schedule::Every);
        }
        t.parse().map(Schedule::Cron)
    }
}

fn parse_interval(text: &str) -> Result<Duration, String> {
    let mut total: u64 = 0;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        if digits == 0 {
            return Err(format!("interval `{text}`: expected a number before `{rest}`"));
        }
        let n: u64 = rest[..digits].parse().map_err(|_| format!("interval `{text}` is too long"))?;
        let unit_len = rest[digits..].find(|c: char| c.is_ascii_digit()).unwrap_or(rest.len() - digits);
        let unit = &rest[digits..digits + unit_len];
        let seconds = match unit {
            "s" => 1,
            "m" => 60,
            "h" => 3_600,
            "d" => 86_400,
            "" => {
                return Err(format!("interval `{text}` needs a unit: s, m, h or d (e.g. `{n}m`)"));
            }
            other => return Err(format!("interval `{text}`: unknown unit `{other}` (use s, m, h or d)")),
        };
        total = n
            .checked_mul(seconds)
            .and_then(|s| total.checked_add(s))
            .ok_or_else(|| format!("interval `{text}` is too long"))?;
        rest = &rest[digits + unit_len..];
    }
    if total == 0 {
        return Err(format!("interval `{text}` is zero; a pair needs time between runs"));
    }
    Ok(Duration::from_secs(total))
}

impl Schedule {
    /// The first time after `after` the pair is due. For a cron schedule
    /// that is the next whole minute the expression names (strictly later
    /// than `after`); for an interval, `after` plus the interval.
    pub fn next_after(&self, after: DateTime<Utc>) -> DateTime<Utc> {
        match self {
            Schedule::Every(d) => Span::from_std(*d)
                .ok()
                .and_then(|d| after.checked_add_signed(d))
                .unwrap_or(DateTime::<Utc>::MAX_UTC),
            // Parsing refused expressions that never fire; every other one fires within
            // nine years (a February 29th can be eight years away: 2096 → 2104).
            Schedule::Cron(c) => c.next(after).unwrap_or(DateTime::<Utc>::MAX_UTC),
        }
    }
}

const MONTHS: [&str; 12] =
    ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
const WEEKDAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

/// One field's allowed values as bits; whether it was `*`-like.
fn parse_field(field: &str, what: &str, min: u32, max: u32, names: &[&str]) -> Result<(u64, bool), String> {
    let value = |s: &str| -> Result<u32, String> {
        let lower = s.to_ascii_lowercase();
        if let Some(i) = names.iter().position(|n| *n == lower) {
            // Month names count from 1 (`min`), day names from 0 (Sunday).
            return Ok(i as u32 + min);
        }
        let n: u32 = s.parse().map_err(|_| format!("{what} `{s}` is not a number"))?;
        if n < min || n > max {
            return Err(format!("{what} {n} is outside {min}-{max}"));
        }
        Ok(n)
    };
    let mut bits = 0u64;
    for part in field.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => {
                let step: u32 = s.parse().map_err(|_| format!("{what} step `{s}` is not a number"))?;
                if step == 0 {
                    return Err(format!("{what} step is zero in `{part}`"));
                }
                (r, step)
            }
            None => (part, 1),
        };
        let (lo, hi) = if range == "*" {
            (min, max)
        } else if let Some((a, b)) = range.split_once('-') {
            let (a, b) = (value(a)?, value(b)?);
            if a > b {
                return Err(format!("{what} range `{range}` runs backwards"));
            }
            (a, b)
        } else if range.is_empty() {
            return Err(format!("{what} has an empty part in `{field}`"));
        } else {
            let a = value(range)?;
            // `5/15` means from 5 to the end, every 15.
            (a, if step > 1 { max } else { a })
        };
        let mut v = lo;
        while v <= hi {
            bits |= 1 << v;
            v += step;
        }
    }
    Ok((bits, field == "*" || field == "?"))
}

impl FromStr for Cron {
    type Err = String;

    fn from_str(text: &str) -> Result<Cron, String> {
        let expanded = match text.trim() {
            "@hourly" => "0 * * * *",
            "@daily" | "@midnight" => "0 0 * * *",
            "@weekly" => "0 0 * * 0",
            "@monthly" => "0 0 1 * *",
            "@yearly" | "@annually" => "0 0 1 1 *",
            t if t.starts_with('@') => {
                return Err(format!(
                    "cron `{text}`: unknown shorthand (use @hourly, @daily, @weekly, @monthly or @yearly)"
                ))
            }
            t => t,
        };
        let fields: Vec<&str> = expanded.split_whitespace().collect();
        if fields.len() != 5 {
            return Err(format!(
                "cron `{text}` has {} fields; it needs 5: minute hour day-of-month month day-of-week \
                 (e.g. `*/5 * * * *`), or use an interval such as `5m`",
                fields.len()
            ));
        }
        let err = |e: String| format!("cron `{text}`: {e}");
        let (minutes, _) = parse_field(fields[0], "minute", 0, 59, &[]).map_err(err)?;
        let (hours, _) = parse_field(fields[1], "hour", 0, 23, &[]).map_err(err)?;
        let (days, days_any) = parse_field(fields[2], "day of month", 1, 31, &[]).map_err(err)?;
        let (months, _) = parse_field(fields[3], "month", 1, 12, &MONTHS).map_err(err)?;
        let (mut weekdays, weekdays_any) =
            parse_field(fields[4], "day of week", 0, 7, &WEEKDAYS).map_err(err)?;
        if weekdays & (1 << 7) != 0 {
            weekdays = (weekdays | 1) & 0x7f;
        }
        let cron = Cron {
            text: text.trim().to_owned(),
            minutes,
            hours: hours as u32,
            days: days as u32,
            months: months as u16,
            weekdays: weekdays as u8,
            days_restricted: !days_any,
            weekdays_restricted: !weekdays_any,
        };
        // Only a day of month no chosen month has can make an expression never fire.
        if cron.days_restricted && !cron.weekdays_restricted {
            let possible = (1..=12u32)
                .filter(|m| cron.months & (1 << m) != 0)
                .any(|m| (1..=max_days(m)).any(|d| cron.days & (1 << d) != 0));
            if !possible {
                return Err(format!("cron `{text}` never fires: no chosen month has that day"));
            }
        }
        Ok(cron)
    }
}

/// The most days month `m` can have (February: 29).
fn max_days(m: u32) -> u32 {
    match m {
        2 => 29,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

impl Cron {
    /// The expression as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    fn day_matches(&self, date: NaiveDate) -> bool {
        let dom = self.days & (1 << date.day()) != 0;
        let dow = self.weekdays & (1 << date.weekday().num_days_from_sunday()) != 0;
        match (self.days_restricted, self.weekdays_restricted) {
            (true, true) => dom || dow,
            (true, false) => dom,
            (false, true) => dow,
            (false, false) => true,
        }
    }

    /// The next matching minute strictly after `after`, searching nine years ahead.
    fn next(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let start = after.with_second(0)?.with_nanosecond(0)? + Span::minutes(1);
        let limit = start + Span::days(9 * 366);
        let mut date = start.date_naive();
        let (mut hour, mut minute) = (start.hour(), start.minute());
        while date.and_hms_opt(0, 0, 0)?.and_utc() < limit {
            if self.months & (1 << date.month()) == 0 {
                // The first day of the next month.
                let (y, m) =
                    if date.month() == 12 { (date.year() + 1, 1) } else { (date.year(), date.month() + 1) };
                date = NaiveDate::from_ymd_opt(y, m, 1)?;
                (hour, minute) = (0, 0);
                continue;
            }
            if self.day_matches(date) {
                for h in hour..24 {
                    if self.hours & (1 << h) == 0 {
                        continue;
                    }
                    let from = if h == hour { minute } else { 0 };
                    if let Some(m) = (from..60).find(|m| self.minutes & (1 << m) != 0) {
                        return Some(Utc.from_utc_datetime(&date.and_hms_opt(h, m, 0)?));
                    }
                }
            }
            date = date.succ_opt()?;
            (hour, minute) = (0, 0);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
    }

    fn next(expr: &str, after: DateTime<Utc>) -> DateTime<Utc> {
        expr.parse::<Schedule>().unwrap_or_else(|e| panic!("{expr}: {e}")).next_after(after)
    }

    #[test]
    fn intervals_add_to_the_time_given() {
        let t = at(2026, 1, 1, 0, 0);
        for (text, secs) in [("30s", 30), ("5m", 300), ("1h", 3600), ("1d", 86_400), ("1h30m", 5400)] {
            let s: Schedule = text.parse().unwrap();
            assert_eq!(s, Schedule::Every(Duration::from_secs(secs)), "{text}");
            assert_eq!(s.next_after(t), t + Span::seconds(secs as i64), "{text}");
        }
        assert_eq!("90s".parse::<Schedule>().unwrap().to_string(), "every 90s");
        assert_eq!("120m".parse::<Schedule>().unwrap().to_string(), "every 2h");
    }

    #[test]
    fn bad_intervals_say_why() {
        for (text, why) in [
            ("0s", "zero"),
            ("5", "needs a unit"),
            ("5w", "unknown unit `w`"),
            ("5m3", "needs a unit"),
            ("99999999999999999999s", "too long"),
        ] {
            let e = text.parse::<Schedule>().unwrap_err();
            assert!(e.contains(why), "{text}: {e}");
        }
    }

    #[test]
    fn cron_next_times() {
        let t = at(2026, 3, 1, 9, 2);
        // 2026-03-01 is a Sunday.
        for (expr, after, want) in [
            ("*/5 * * * *", t, at(2026, 3, 1, 9, 5)),
            ("*/5 * * * *", at(2026, 3, 1, 9, 5), at(2026, 3, 1, 9, 10)),
            ("* * * * *", t, at(2026, 3, 1, 9, 3)),
            ("0 * * * *", t, at(2026, 3, 1, 10, 0)),
            ("30 6 * * *", t, at(2026, 3, 2, 6, 30)),
            ("0 6 * * mon-fri", t, at(2026, 3, 2, 6, 0)),
            ("0 6 * * 1-5", at(2026, 3, 6, 7, 0), at(2026, 3, 9, 6, 0)),
            ("0 0 1 * *", t, at(2026, 4, 1, 0, 0)),
            ("15 10 * jan,jul *", t, at(2026, 7, 1, 10, 15)),
            ("0 12 31 * *", at(2026, 4, 1, 0, 0), at(2026, 5, 31, 12, 0)),
            ("0 0 29 2 *", t, at(2028, 2, 29, 0, 0)),
            ("0 0 29 2 *", at(2096, 3, 1, 0, 0), at(2104, 2, 29, 0, 0)),
            ("0 0 * * 7", t, at(2026, 3, 8, 0, 0)),
            ("0 0 * * 0", at(2026, 2, 28, 23, 59), at(2026, 3, 1, 0, 0)),
            // Both day fields restricted: either one matches (Vixie cron).
            ("0 0 13 * fri", t, at(2026, 3, 6, 0, 0)),
            ("0 0 13 * fri", at(2026, 3, 12, 0, 0), at(2026, 3, 13, 0, 0)),
            ("5/20 * * * *", t, at(2026, 3, 1, 9, 5)),
            ("5/20 * * * *", at(2026, 3, 1, 9, 45), at(2026, 3, 1, 10, 5)),
            ("0-10/5 8-9 * * *", t, at(2026, 3, 1, 9, 5)),
            ("59 23 31 12 *", t, at(2026, 12, 31, 23, 59)),
            ("@hourly", t, at(2026, 3, 1, 10, 0)),
            ("@daily", t, at(2026, 3, 2, 0, 0)),
            ("@weekly", t, at(2026, 3, 8, 0, 0)),
            ("@monthly", t, at(2026, 4, 1, 0, 0)),
            ("@yearly", t, at(2027, 1, 1, 0, 0)),
        ] {
            assert_eq!(next(expr, after), want, "`{expr}` after {after}");
        }
        // Seconds are dropped: the next whole minute strictly after.
        let t = Utc.with_ymd_and_hms(2026, 3, 1, 9, 4, 59).unwrap();
        assert_eq!(next("*/5 * * * *", t), at(2026, 3, 1, 9, 5));
        // A year's end rolls over.
        assert_eq!(next("0 0 * * *", at(2026, 12, 31, 23, 30)), at(2027, 1, 1, 0, 0));
    }

    #[test]
    fn bad_cron_expressions_say_why() {
        for (text, why) in [
            ("* * * *", "has 4 fields; it needs 5"),
            ("* * * * * *", "has 6 fields"),
            ("60 * * * *", "minute 60 is outside 0-59"),
            ("* 24 * * *", "hour 24 is outside 0-23"),
            ("* * 0 * *", "day of month 0 is outside 1-31"),
            ("* * * 13 *", "month 13 is outside 1-12"),
            ("* * * * 8", "day of week 8 is outside 0-7"),
            ("*/0 * * * *", "step is zero"),
            ("5-1 * * * *", "runs backwards"),
            ("x * * * *", "minute `x` is not a number"),
            ("* * * smarch *", "month `smarch`"),
            ("1,,2 * * * *", "empty part"),
            ("0 0 30 2 *", "never fires"),
            ("0 0 31 apr,jun *", "never fires"),
            ("@fortnightly", "unknown shorthand"),
            ("", "empty"),
        ] {
            let e = text.parse::<Schedule>().unwrap_err();
            assert!(e.contains(why), "`{text}`: {e}");
        }
        // With a day of week as well, February 30th is only one of the days: fine.
        assert!("0 0 30 2 mon".parse::<Schedule>().is_ok());
    }

    #[test]
    fn cron_shows_as_written() {
        let s: Schedule = "*/5 * * * *".parse().unwrap();
        assert_eq!(s.to_string(), "cron `*/5 * * * *` (UTC)");
        let Schedule::Cron(c) = s else { panic!("not cron") };
        assert_eq!(c.as_str(), "*/5 * * * *");
    }
}
