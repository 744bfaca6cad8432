//! A1 cell names, as Excel and Google Sheets both write them: column letters
//! (`A`, `Z`, `AA`, ...) and a row number from 1. Positions are zero-based
//! `(row, col)` everywhere else in sheetbridge.
//!
//! ```
//! use sheetbridge_core::a1;
//!
//! assert_eq!(a1::cell(6, 2), "C7");
//! assert_eq!(a1::parse_cell("AB1"), Some((0, 27)));
//! ```

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_follow_excel_and_google() {
        assert_eq!(column_letters(0), "A");
        assert_eq!(column_letters(25), "Z");
        assert_eq!(column_letters(26), "AA");
        assert_eq!(column_letters(16_383), "XFD");
        assert_eq!(column_letters(18_277), "ZZZ");
        assert_eq!(column_letters(u32::MAX), "MWLQKWV");
        for c in [0, 1, 25, 26, 701, 702, 18_277, 100_000] {
            assert_eq!(column_index(&column_letters(c)), Some(c), "{c}");
        }
        assert_eq!(column_index("a"), Some(0));
        assert_eq!(column_index("A1"), None);
        assert_eq!(cell(6, 2), "C7");
        assert_eq!(cell(u32::MAX, 0), "A4294967296");
        assert_eq!(parse_cell("C7"), Some((6, 2)));
        assert_eq!(parse_cell("C0"), None);
        assert_eq!(parse_cell("C07"), None);
        assert_eq!(parse_cell("7"), None);
    }
}
