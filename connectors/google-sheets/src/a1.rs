//! A1 notation as Google writes it, and ranges made safe for a URL path.
//!
//! A sheet name is always quoted in a range (`'Q&A #1'!A1:C3`), an apostrophe
//! doubled (`'Bob''s'!A1`): Google accepts a quoted name everywhere, and a
//! name that looks like a cell (`A1`, `R1C1`) or holds a space must be quoted.
//! Ranges travel in URL paths (`values/{range}`) and queries
//! (`values:batchGet?ranges=`); [`path_segment`] and [`query_value`] encode
//! everything but the unreserved characters, so `&`, `#`, `/`, `?`, `%`,
//! quotes and non-ASCII names reach Google intact.

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// Everything but RFC 3986's unreserved characters (`A-Z a-z 0-9 - . _ ~`).
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// The column letters of a zero-based column index (`0` → `A`, `27` → `AB`).
pub fn column_letters(col: u32) -> String {
    let mut n = u64::from(col) + 1;
    let mut out = Vec::with_capacity(4);
    while n > 0 {
        let rem = (n - 1) % 26;
        out.push(b'A' + rem as u8);
        n = (n - 1) / 26;
    }
    out.reverse();
    // Only ASCII letters were pushed.
    String::from_utf8(out).unwrap_or_default()
}

/// The zero-based column of `letters` (`A` → 0, `AB` → 27), `None` when it is
/// not a column name.
pub fn column_index(letters: &str) -> Option<u32> {
    if letters.is_empty() || letters.len() > 7 {
        return None;
    }
    let mut n: u64 = 0;
    for b in letters.bytes() {
        if !b.is_ascii_alphabetic() {
            return None;
        }
        n = n * 26 + u64::from(b.to_ascii_uppercase() - b'A' + 1);
    }
    u32::try_from(n - 1).ok()
}

/// `C7` for zero-based `(row, col)`.
pub fn cell(row: u32, col: u32) -> String {
    format!("{}{}", column_letters(col), u64::from(row) + 1)
}

/// Splits `C7` into zero-based `(row, col)`.
pub fn parse_cell(text: &str) -> Option<(u32, u32)> {
    let split = text.find(|c: char| c.is_ascii_digit())?;
    let (letters, digits) = text.split_at(split);
    let col = column_index(letters)?;
    if !digits.bytes().all(|b| b.is_ascii_digit()) || digits.starts_with('0') {
        return None;
    }
    let row: u32 = digits.parse().ok()?;
    Some((row.checked_sub(1)?, col))
}

/// A sheet name quoted for A1 notation: `'Q&A #1'`, `'Bob''s'`.
pub fn quote_sheet(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 2);
    out.push('\'');
    for c in name.chars() {
        if c == '\'' {
            out.push('\'');
        }
        out.push(c);
    }
    out.push('\'');
    out
}

/// The whole tab: `'Orders'`.
pub fn whole_sheet(name: &str) -> String {
    quote_sheet(name)
}

/// `'Tab'!A1:C3` for the zero-based, inclusive rectangle `(row, col)`–`(last_row, last_col)`.
pub fn range(name: &str, row: u32, col: u32, last_row: u32, last_col: u32) -> String {
    format!("{}!{}:{}", quote_sheet(name), cell(row, col), cell(last_row, last_col))
}

/// `'Tab'!C7` for one zero-based cell.
pub fn cell_in(name: &str, row: u32, col: u32) -> String {
    format!("{}!{}", quote_sheet(name), cell(row, col))
}

/// `'Tab'!5:9` for the zero-based, inclusive rows `row..=last_row`, every column.
pub fn rows(name: &str, row: u32, last_row: u32) -> String {
    format!("{}!{}:{}", quote_sheet(name), u64::from(row) + 1, u64::from(last_row) + 1)
}

/// `text` encoded to stand as one URL path segment.
pub fn path_segment(text: &str) -> String {
    utf8_percent_encode(text, UNRESERVED).to_string()
}

/// `text` encoded to stand as a query parameter's value.
pub fn query_value(text: &str) -> String {
    utf8_percent_encode(text, UNRESERVED).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_follow_google() {
        assert_eq!(column_letters(0), "A");
        assert_eq!(column_letters(25), "Z");
        assert_eq!(column_letters(26), "AA");
        assert_eq!(column_letters(18_277), "ZZZ");
        for c in [0, 1, 25, 26, 701, 702, 18_277, 100_000] {
            assert_eq!(column_index(&column_letters(c)), Some(c), "{c}");
        }
        assert_eq!(column_index("a"), Some(0));
        assert_eq!(column_index("A1"), None);
        assert_eq!(cell(6, 2), "C7");
        assert_eq!(parse_cell("C7"), Some((6, 2)));
        assert_eq!(parse_cell("C0"), None);
        assert_eq!(parse_cell("C07"), None);
        assert_eq!(parse_cell("7"), None);
    }

    #[test]
    fn sheet_names_are_quoted_and_apostrophes_doubled() {
        assert_eq!(quote_sheet("Q&A #1"), "'Q&A #1'");
        assert_eq!(quote_sheet("'quoted'"), "'''quoted'''");
        assert_eq!(quote_sheet("Bob's"), "'Bob''s'");
        assert_eq!(range("Q&A #1", 0, 0, 2, 2), "'Q&A #1'!A1:C3");
        assert_eq!(rows("Orders", 4, 8), "'Orders'!5:9");
        assert_eq!(cell_in("Ünï", 0, 27), "'Ünï'!AB1");
    }

    #[test]
    fn ranges_are_percent_encoded_for_paths() {
        assert_eq!(path_segment("'Q&A #1'!A1:C3"), "%27Q%26A%20%231%27%21A1%3AC3");
        assert_eq!(path_segment("a/b?c"), "a%2Fb%3Fc");
        assert_eq!(path_segment("Ü"), "%C3%9C");
        assert_eq!(query_value("100%"), "100%25");
        assert_eq!(path_segment("ok-._~"), "ok-._~");
    }
}
