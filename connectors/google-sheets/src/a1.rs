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

pub use sheetbridge_core::a1::{cell, column_index, column_letters, parse_cell};

/// Everything but RFC 3986's unreserved characters (`A-Z a-z 0-9 - . _ ~`).
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

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
