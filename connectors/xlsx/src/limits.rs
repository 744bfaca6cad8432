//! Excel's hard limits, checked before anything is written where they can be.

use sheetbridge_core::{Error, ErrorKind};

/// Rows in a sheet, the header row included.
pub const MAX_ROWS: u32 = 1_048_576;
/// Columns in a sheet.
pub const MAX_COLUMNS: usize = 16_384;
/// Characters (UTF-16 code units, as Excel counts them) in one cell.
pub const MAX_CELL_CHARS: usize = 32_767;
/// Characters in a sheet name.
pub const MAX_SHEET_NAME_CHARS: usize = 31;
/// Characters Excel refuses in a sheet name.
pub const SHEET_NAME_FORBIDDEN: &[char] = &['[', ']', ':', '*', '?', '/', '\\'];
/// Characters of an inline data-validation list (`a,b,c`).
pub const MAX_VALIDATION_LIST_CHARS: usize = 255;

/// Checks a sheet name against Excel's rules, naming the rule broken.
pub fn check_sheet_name(name: &str) -> Result<(), Error> {
    let bad = |why: String| Err(Error::new(ErrorKind::LimitExceeded, format!("sheet name `{name}` {why}")));
    if name.trim().is_empty() {
        return Err(Error::new(ErrorKind::InvalidInput, "the sheet name is blank; Excel needs a name"));
    }
    let chars = name.chars().count();
    if chars > MAX_SHEET_NAME_CHARS {
        return bad(format!("has {chars} characters, more than Excel's limit of {MAX_SHEET_NAME_CHARS}"));
    }
    if let Some(c) = name.chars().find(|c| SHEET_NAME_FORBIDDEN.contains(c)) {
        return bad(format!("contains `{c}`, which Excel does not allow in sheet names ([ ] : * ? / \\)"));
    }
    if name.starts_with('\'') || name.ends_with('\'') {
        return bad("starts or ends with an apostrophe, which Excel does not allow".into());
    }
    Ok(())
}

/// The length of `s` as Excel counts it (UTF-16 code units).
pub fn excel_len(s: &str) -> usize {
    s.encode_utf16().count()
}

/// `Some(length)` when `s` is longer than a cell may hold. Cheap for the
/// usual short text: a UTF-16 unit needs at least one UTF-8 byte, so text of
/// at most [`MAX_CELL_CHARS`] bytes always fits.
pub fn too_long_for_cell(s: &str) -> Option<usize> {
    if s.len() <= MAX_CELL_CHARS {
        return None;
    }
    let n = excel_len(s);
    (n > MAX_CELL_CHARS).then_some(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sheet_names_follow_excel_rules() {
        assert!(check_sheet_name("Orders 2024").is_ok());
        assert!(check_sheet_name(&"x".repeat(31)).is_ok());
        let e = check_sheet_name(&"x".repeat(32)).unwrap_err();
        assert_eq!(e.kind(), &ErrorKind::LimitExceeded);
        assert!(e.to_string().contains("32 characters"), "{e}");
        assert!(check_sheet_name("a/b").unwrap_err().to_string().contains("`/`"));
        assert!(check_sheet_name("'quoted'").is_err());
        assert!(check_sheet_name("  ").is_err());
    }

    #[test]
    fn excel_counts_utf16_units() {
        assert_eq!(excel_len("abc"), 3);
        assert_eq!(excel_len("🙂"), 2);
        assert_eq!(excel_len(&"🙂".repeat(10_000)), 20_000);
        assert_eq!(too_long_for_cell(&"ü".repeat(32_767)), None);
        assert_eq!(too_long_for_cell(&"x".repeat(32_768)), Some(32_768));
    }
}
