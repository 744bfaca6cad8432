//! A1 notation: parsing ranges as Google reads them and writing them back the
//! way Google echoes them (`Sheet1!A1:B2`, `'Q&A #1'!A1`).

/// One corner of a range: either part may be left open (`A`, `5`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Corner {
    pub col: Option<u32>,
    pub row: Option<u32>,
}

/// The cell part of an A1 range (after the `!`), zero-based, ends inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CellRange {
    pub start: Corner,
    pub end: Corner,
}

/// A parsed A1 string: an optional sheet name and an optional cell part.
/// `Sheet1` has no cell part; `A1:B2` has no sheet; `Sheet1!Name` names a
/// named range (kept as text in `name`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct A1 {
    pub sheet: Option<String>,
    pub cells: Option<CellRange>,
    /// The part after `!` (or the whole text) when it is not a cell range.
    pub name: Option<String>,
}

/// Parses an A1 string; `None` when it cannot be read at all.
pub fn parse(text: &str) -> Option<A1> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    if let Some(rest) = text.strip_prefix('\'') {
        // Quoted sheet name; '' stands for one quote.
        let mut name = String::new();
        let mut chars = rest.char_indices().peekable();
        let mut end = None;
        while let Some((i, c)) = chars.next() {
            if c == '\'' {
                if let Some((_, '\'')) = chars.peek() {
                    name.push('\'');
                    chars.next();
                } else {
                    end = Some(i + 1);
                    break;
                }
            } else {
                name.push(c);
            }
        }
        let end = end?;
        let tail = &rest[end..];
        if tail.is_empty() {
            return Some(A1 { sheet: Some(name), cells: None, name: None });
        }
        let cell_text = tail.strip_prefix('!')?;
        return Some(with_sheet(name, cell_text));
    }
    if let Some(pos) = text.rfind('!') {
        let sheet = &text[..pos];
        let cell_text = &text[pos + 1..];
        if sheet.is_empty() {
            return None;
        }
        return Some(with_sheet(sheet.to_owned(), cell_text));
    }
    match parse_cells(text) {
        Some(cells) => Some(A1 { sheet: None, cells: Some(cells), name: None }),
        None => Some(A1 { sheet: None, cells: None, name: Some(text.to_owned()) }),
    }
}

fn with_sheet(sheet: String, cell_text: &str) -> A1 {
    match parse_cells(cell_text) {
        Some(cells) => A1 { sheet: Some(sheet), cells: Some(cells), name: None },
        None => A1 { sheet: Some(sheet), cells: None, name: Some(cell_text.to_owned()) },
    }
}

/// `A1`, `A1:B2`, `A:B`, `2:5`, `A2:C`, `A2:2`, with optional `$` signs.
pub fn parse_cells(text: &str) -> Option<CellRange> {
    let text = text.trim();
    let (a, b) = match text.split_once(':') {
        Some((a, b)) => (a, Some(b)),
        None => (text, None),
    };
    let start = parse_corner(a)?;
    match b {
        None => {
            // A lone corner must be a whole cell.
            if start.col.is_none() || start.row.is_none() {
                return None;
            }
            Some(CellRange { start, end: start })
        }
        Some(b) => {
            let end = parse_corner(b)?;
            // `A:5` and `5:A` mix a column with a row: not a range.
            let only_col = |c: Corner| c.col.is_some() && c.row.is_none();
            let only_row = |c: Corner| c.col.is_none() && c.row.is_some();
            if (only_col(start) && only_row(end)) || (only_row(start) && only_col(end)) {
                return None;
            }
            Some(CellRange { start, end })
        }
    }
}

fn parse_corner(text: &str) -> Option<Corner> {
    let bytes = text.as_bytes();
    let mut i = 0;
    if bytes.get(i) == Some(&b'$') {
        i += 1;
    }
    let col_start = i;
    let mut col: u64 = 0;
    while i < bytes.len() && bytes[i].is_ascii_alphabetic() {
        col = col * 26 + u64::from(bytes[i].to_ascii_uppercase() - b'A' + 1);
        if col > 18_278 {
            return None; // beyond ZZZ
        }
        i += 1;
    }
    let has_col = i > col_start;
    if bytes.get(i) == Some(&b'$') {
        i += 1;
    }
    let row_start = i;
    let mut row: u64 = 0;
    while i < bytes.len() && bytes[i].is_ascii_digit() {
        row = row * 10 + u64::from(bytes[i] - b'0');
        if row > 100_000_000 {
            return None;
        }
        i += 1;
    }
    let has_row = i > row_start;
    if i != bytes.len() || (!has_col && !has_row) {
        return None;
    }
    if has_row && row == 0 {
        return None;
    }
    Some(Corner {
        col: if has_col { Some((col - 1) as u32) } else { None },
        row: if has_row { Some((row - 1) as u32) } else { None },
    })
}

/// The column letters of a zero-based index: 0 → `A`, 26 → `AA`.
pub fn column_name(mut index: u32) -> String {
    let mut out = Vec::with_capacity(3);
    loop {
        out.push(b'A' + (index % 26) as u8);
        if index < 26 {
            break;
        }
        index = index / 26 - 1;
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

/// A sheet name as Google writes it in a range: bare when it is a plain word
/// that cannot be read as a cell, quoted (with `''`) otherwise.
pub fn quote_sheet(name: &str) -> String {
    let plain = !name.is_empty()
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && parse_cells(name).is_none()
        && !looks_like_r1c1(name);
    if plain {
        name.to_owned()
    } else {
        format!("'{}'", name.replace('\'', "''"))
    }
}

fn looks_like_r1c1(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    let Some(rest) = upper.strip_prefix('R') else { return false };
    let digits = rest.trim_start_matches(|c: char| c.is_ascii_digit());
    match digits.strip_prefix('C') {
        Some(tail) => tail.chars().all(|c| c.is_ascii_digit()),
        None => digits.is_empty(),
    }
}

/// `A1` or `A1:B2` for a bounded rectangle (ends exclusive).
pub fn cells_text(r0: u32, c0: u32, r1: u32, c1: u32) -> String {
    let first = format!("{}{}", column_name(c0), u64::from(r0) + 1);
    if u64::from(r1) == u64::from(r0) + 1 && u64::from(c1) == u64::from(c0) + 1 {
        first
    } else {
        format!("{first}:{}{}", column_name(c1.saturating_sub(1)), r1.max(1))
    }
}

/// `Sheet1!A1:B2`, as Google echoes a range.
pub fn range_text(sheet: &str, r0: u32, c0: u32, r1: u32, c1: u32) -> String {
    format!("{}!{}", quote_sheet(sheet), cells_text(r0, c0, r1, c1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_names_and_open_ranges() {
        let a = parse("'Q&A #1'!A1:B2").expect("parse");
        assert_eq!(a.sheet.as_deref(), Some("Q&A #1"));
        let a = parse("'It''s'!A:A").expect("parse");
        assert_eq!(a.sheet.as_deref(), Some("It's"));
        let c = a.cells.expect("cells");
        assert_eq!(c.start, Corner { col: Some(0), row: None });
        let c = parse_cells("A2:C").expect("cells");
        assert_eq!(c.end, Corner { col: Some(2), row: None });
        assert!(parse_cells("2:5").is_some());
        assert!(parse_cells("A").is_none());
        assert_eq!(parse("Sheet1").map(|a| a.name), Some(Some("Sheet1".into())));
    }

    #[test]
    fn names_are_quoted_like_google() {
        assert_eq!(quote_sheet("Sheet1"), "Sheet1");
        assert_eq!(quote_sheet("D3"), "'D3'");
        assert_eq!(quote_sheet("a b"), "'a b'");
        assert_eq!(quote_sheet("it's"), "'it''s'");
        assert_eq!(column_name(0), "A");
        assert_eq!(column_name(25), "Z");
        assert_eq!(column_name(26), "AA");
        assert_eq!(column_name(701), "ZZ");
        assert_eq!(column_name(702), "AAA");
    }
}
