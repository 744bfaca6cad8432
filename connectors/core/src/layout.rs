//! How a sheet's header row lines up with a table's columns: the same rules
//! for every spreadsheet connector.
//!
//! The header is the row of names above the data. A name matches a column
//! exactly first; a name left over then matches a column left over ignoring
//! case and surrounding blanks, where only one column and one name fold
//! alike. Columns may stand in any order. Two cells of the same name, two
//! names that fold to the same column, and a blank cell between names are
//! errors; names no column has are `unknown`, columns no name has are
//! `missing` (what to do about either is the caller's choice).
//!
//! ```
//! use sheetbridge_core::layout::match_header;
//! use sheetbridge_core::schema::RelationKind;
//! use sheetbridge_core::{Column, ColumnType, TableName, TableSchema};
//!
//! let schema = TableSchema {
//!     name: TableName::new(None, "orders"),
//!     kind: RelationKind::Table,
//!     columns: vec![
//!         Column::new("id", ColumnType::Int32, "int4"),
//!         Column::new("Qty", ColumnType::Int32, "int4"),
//!     ],
//! };
//! let header = [(0, "qty ".to_string()), (1, "id".to_string()), (2, "note".to_string())];
//! let layout = match_header("`orders.xlsx`", 0, &header, &schema).unwrap();
//! assert_eq!(layout.columns, [0, 1]);
//! assert_eq!(layout.sheet_columns, [1, 0]);
//! assert_eq!(layout.unknown, ["note"]);
//! ```

use crate::{a1, Column, Error, ErrorKind, TableSchema};

/// How a sheet's columns line up with a table's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SheetLayout {
    /// Schema indices of the columns the sheet supplies, ascending: the values
    /// of every row a connector reads are these columns, in this order.
    pub columns: Vec<usize>,
    /// Header names that match no column of the schema (their cells are not read).
    pub unknown: Vec<String>,
    /// Schema columns the sheet has no header for.
    pub missing: Vec<String>,
    /// The header's row number (1-based, as the sheet shows it).
    pub header_row: u32,
    /// Per entry of `columns`: the zero-based sheet column it is read from.
    pub sheet_columns: Vec<u32>,
}

/// Matches the header row `header_row` (zero-based), whose non-blank cells
/// are `header` (zero-based column and text, in column order), to
/// `schema`'s columns. Errors are [`ErrorKind::InvalidInput`] and name the
/// cells, prefixed by `at` (the sheet as messages name it).
pub fn match_header(
    at: &str,
    header_row: u32,
    header: &[(u32, String)],
    schema: &TableSchema,
) -> Result<SheetLayout, Error> {
    let refs = |c: u32| a1::cell(header_row, c);
    for pair in header.windows(2) {
        if pair[1].0 != pair[0].0 + 1 {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                format!(
                    "{at}: header cell {} is blank but {} (`{}`) follows it; name the column or delete it",
                    refs(pair[0].0 + 1),
                    refs(pair[1].0),
                    pair[1].1
                ),
            ));
        }
    }

    // Which header cell each schema column matched, and the reverse.
    let mut matched: Vec<Option<usize>> = vec![None; schema.columns.len()];
    let mut header_match: Vec<Option<usize>> = vec![None; header.len()];
    for (h, (c, name)) in header.iter().enumerate() {
        if let Some(dup) = header[..h].iter().find(|(_, n)| n == name) {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                format!("{at}: header cells {} and {} are both named `{name}`", refs(dup.0), refs(*c)),
            ));
        }
        if let Some((i, _)) = schema.column(name) {
            matched[i] = Some(h);
            header_match[h] = Some(i);
        }
    }
    let fold = |s: &str| s.trim().to_lowercase();
    for h in 0..header.len() {
        if header_match[h].is_some() {
            continue;
        }
        let key = fold(&header[h].1);
        let candidates: Vec<usize> = schema
            .columns
            .iter()
            .enumerate()
            .filter(|(i, col)| matched[*i].is_none() && fold(&col.name) == key)
            .map(|(i, _)| i)
            .collect();
        if let [i] = candidates.as_slice() {
            if let Some(o) =
                (0..header.len()).find(|&o| o != h && header_match[o].is_none() && fold(&header[o].1) == key)
            {
                let (a, b) = (h.min(o), h.max(o));
                return Err(Error::new(
                    ErrorKind::InvalidInput,
                    format!(
                        "{at}: header cells {} (`{}`) and {} (`{}`) both match column `{}`; rename one",
                        refs(header[a].0),
                        header[a].1,
                        refs(header[b].0),
                        header[b].1,
                        schema.columns[*i].name
                    ),
                ));
            }
            matched[*i] = Some(h);
            header_match[h] = Some(*i);
        }
    }

    let columns: Vec<usize> = (0..schema.columns.len()).filter(|&i| matched[i].is_some()).collect();
    let sheet_columns = columns.iter().filter_map(|&i| matched[i].map(|h| header[h].0)).collect();
    Ok(SheetLayout {
        columns,
        unknown: header
            .iter()
            .zip(&header_match)
            .filter(|(_, m)| m.is_none())
            .map(|((_, n), _)| n.clone())
            .collect(),
        missing: schema
            .columns
            .iter()
            .zip(&matched)
            .filter(|(_, m)| m.is_none())
            .map(|(c, _)| c.name.clone())
            .collect(),
        header_row: header_row + 1,
        sheet_columns,
    })
}

/// The columns of `schema` that a layout's `columns` (schema indices) name,
/// in that order; an [`ErrorKind::InvalidInput`] error, prefixed by `at`,
/// when the layout was made for another schema.
pub fn layout_columns(at: &str, columns: &[usize], schema: &TableSchema) -> Result<Vec<Column>, Error> {
    columns
        .iter()
        .map(|&i| {
            schema.columns.get(i).cloned().ok_or_else(|| {
                Error::new(
                    ErrorKind::InvalidInput,
                    format!("{at}: the layout does not belong to this schema"),
                )
            })
        })
        .collect()
}

/// An [`ErrorKind::SchemaMismatch`] error, prefixed by `at`, when a key
/// column of `schema` is among a layout's `missing` columns: rows cannot be
/// matched without it.
pub fn check_keys(at: &str, schema: &TableSchema, missing: &[String]) -> Result<(), Error> {
    let missing_keys: Vec<String> = schema
        .columns
        .iter()
        .filter(|c| c.key && missing.contains(&c.name))
        .map(|c| format!("`{}`", c.name))
        .collect();
    if missing_keys.is_empty() {
        return Ok(());
    }
    Err(Error::new(
        ErrorKind::SchemaMismatch,
        format!(
            "{at}: the header has no key column {}; rows cannot be matched without it",
            missing_keys.join(", ")
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::RelationKind;
    use crate::{Column, ColumnType, TableName};

    fn schema(names: &[&str]) -> TableSchema {
        TableSchema {
            name: TableName::new(None, "t"),
            kind: RelationKind::Table,
            columns: names.iter().map(|n| Column::new(n, ColumnType::Text, "text")).collect(),
        }
    }

    fn header(row: &[&str]) -> Vec<(u32, String)> {
        row.iter()
            .enumerate()
            .filter(|(_, n)| !n.is_empty())
            .map(|(c, n)| (c as u32, n.to_string()))
            .collect()
    }

    fn error(row: &[&str], names: &[&str]) -> String {
        let e = match_header("`t.xlsx`", 2, &header(row), &schema(names)).unwrap_err();
        assert_eq!(e.kind(), &ErrorKind::InvalidInput);
        e.to_string()
    }

    #[test]
    fn exact_names_first_then_case_and_blanks_when_unambiguous() {
        let s = schema(&["id", "Qty", "qty", "Note", "gone"]);
        let layout = match_header("`t`", 2, &header(&["QTY", "qty", "id", " note ", "extra"]), &s).unwrap();
        // `qty` is exact; `QTY` then folds to `Qty`, the only column left that folds alike.
        assert_eq!(layout.columns, [0, 1, 2, 3]);
        assert_eq!(layout.sheet_columns, [2, 0, 1, 3]);
        assert_eq!(layout.unknown, ["extra"]);
        assert_eq!(layout.missing, ["gone"]);
        assert_eq!(layout.header_row, 3);
    }

    #[test]
    fn duplicates_rivals_and_gaps_are_refused_naming_the_cells() {
        assert_eq!(
            error(&["id", "qty", "id"], &["id"]),
            "`t.xlsx`: header cells A3 and C3 are both named `id`"
        );
        assert_eq!(
            error(&["id", "qty", "QTY "], &["id", "Qty"]),
            "`t.xlsx`: header cells B3 (`qty`) and C3 (`QTY `) both match column `Qty`; rename one"
        );
        assert_eq!(
            error(&["id", "", "Qty"], &["id", "Qty"]),
            "`t.xlsx`: header cell B3 is blank but C3 (`Qty`) follows it; name the column or delete it"
        );
    }

    #[test]
    fn a_layout_of_another_schema_and_missing_keys_are_refused() {
        let mut s = schema(&["id", "region", "note"]);
        s.columns[0].key = true;
        s.columns[1].key = true;
        let cols = layout_columns("`t`", &[2, 0], &s).unwrap();
        assert_eq!(cols.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(), ["note", "id"]);
        let e = layout_columns("`t`", &[3], &s).unwrap_err();
        assert_eq!(e.to_string(), "`t`: the layout does not belong to this schema");
        assert!(check_keys("`t`", &s, &["note".into()]).is_ok());
        let e = check_keys("`t`", &s, &["id".into(), "region".into()]).unwrap_err();
        assert_eq!(e.kind(), &ErrorKind::SchemaMismatch);
        assert_eq!(
            e.to_string(),
            "`t`: the header has no key column `id`, `region`; rows cannot be matched without it"
        );
    }
}
