//! Google Sheets' hard limits, checked before anything is written.

use sheetbridge_core::{Error, ErrorKind};

/// Cells in a spreadsheet, all tabs together (filled or not: the grid counts).
pub const MAX_CELLS: u64 = 10_000_000;
/// Characters in one cell.
pub const MAX_CELL_CHARS: usize = 50_000;
/// Columns in a tab (`ZZZ`).
pub const MAX_COLUMNS: usize = 18_278;
/// Characters in a tab name.
pub const MAX_TAB_NAME_CHARS: usize = 100;

/// `Some(length)` when `s` is longer than a cell may hold. Cheap for short text.
pub fn too_long_for_cell(s: &str) -> Option<usize> {
    if s.len() <= MAX_CELL_CHARS {
        return None;
    }
    let n = s.chars().count();
    (n > MAX_CELL_CHARS).then_some(n)
}

/// Checks a table's width against the column limit.
pub fn check_columns(what: &str, columns: usize) -> Result<(), Error> {
    if columns > MAX_COLUMNS {
        return Err(Error::new(
            ErrorKind::LimitExceeded,
            format!("{what} has {columns} columns, more than the {MAX_COLUMNS} a Google Sheets tab can hold"),
        ));
    }
    Ok(())
}

/// Checks a tab name: not blank, at most 100 characters.
pub fn check_tab_name(name: &str) -> Result<(), Error> {
    if name.trim().is_empty() {
        return Err(Error::new(ErrorKind::InvalidInput, "the tab name is blank; Google Sheets needs a name"));
    }
    let n = name.chars().count();
    if n > MAX_TAB_NAME_CHARS {
        return Err(Error::new(
            ErrorKind::LimitExceeded,
            format!("tab name `{name}` has {n} characters, more than Google's limit of {MAX_TAB_NAME_CHARS}"),
        ));
    }
    Ok(())
}

/// Checks the spreadsheet's cell count once the tab has `rows` × `columns`
/// cells and the other tabs `others`.
pub fn check_cells(what: &str, rows: u64, columns: u64, others: u64) -> Result<(), Error> {
    let ours = rows.saturating_mul(columns);
    let total = ours.saturating_add(others);
    if total > MAX_CELLS {
        let rest = if others > 0 {
            format!(" (the spreadsheet's other tabs hold {others} more)")
        } else {
            String::new()
        };
        return Err(Error::new(
            ErrorKind::LimitExceeded,
            format!(
                "{what} needs {rows} rows × {columns} columns = {ours} cells{rest}, more than the \
                 {MAX_CELLS} cells a Google spreadsheet can hold; nothing was written"
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_name_what_exceeds_them() {
        assert!(check_columns("table `t`", MAX_COLUMNS).is_ok());
        let e = check_columns("table `t`", MAX_COLUMNS + 1).unwrap_err();
        assert_eq!(e.kind(), &ErrorKind::LimitExceeded);
        assert!(e.to_string().contains("18279 columns"), "{e}");
        let e = check_cells("tab `Orders`", 1_000_001, 10, 5).unwrap_err();
        assert!(e.to_string().contains("10000010 cells"), "{e}");
        assert!(e.to_string().contains("5 more"), "{e}");
        assert!(check_cells("tab", 1_000_000, 10, 0).is_ok());
        assert_eq!(too_long_for_cell(&"ü".repeat(50_000)), None);
        assert_eq!(too_long_for_cell(&"x".repeat(50_001)), Some(50_001));
        assert!(check_tab_name(" ").is_err());
        assert!(check_tab_name(&"x".repeat(101)).is_err());
    }
}
