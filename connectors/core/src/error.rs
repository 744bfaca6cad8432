//! Errors with a kind a caller can act on.

use std::collections::HashSet;
use std::fmt;
use std::time::Duration;

use crate::Conflict;

/// Conflicts listed one a line by [`Error::conflicts`]; more are counted.
pub const LISTED_CONFLICTS: usize = 20;

/// What went wrong, as far as deciding what to do next is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A passing fault (connection reset, 5xx, serialization failure): the
    /// same call may succeed later.
    Retryable,
    /// The service asked us to slow down; retry after the given time.
    RateLimited { retry_after: Option<Duration> },
    /// Credentials are missing, wrong, expired or revoked.
    Unauthorized,
    /// The table, file, sheet or spreadsheet does not exist.
    NotFound,
    /// The two sides do not have the columns, types or keys the operation
    /// needs (missing columns, no primary key, a view that is not updatable).
    SchemaMismatch,
    /// One or more values cannot be converted; see [`Error::problems`].
    Conversion,
    /// A size limit (rows, columns, characters, cells, deletes) was exceeded.
    LimitExceeded,
    /// A row changed between read and write; nothing of it was overwritten.
    Conflict,
    /// A file is held open by another program (Excel's `~$` or LibreOffice's
    /// `.~lock` file).
    Locked,
    /// The request is malformed (bad argument, unreadable file).
    InvalidInput,
    /// Anything else.
    Other,
}

/// A connector error. The message names the thing, the value and the limit;
/// [`Error::problems`] lists every bad cell when there are several.
#[derive(Debug, thiserror::Error)]
pub struct Error {
    kind: ErrorKind,
    message: String,
    problems: Vec<CellProblem>,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error { kind, message: message.into(), problems: Vec::new(), source: None }
    }

    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    /// A conversion error carrying every bad cell of an input.
    pub fn conversion(what: impl Into<String>, problems: Vec<CellProblem>) -> Self {
        Error { kind: ErrorKind::Conversion, message: what.into(), problems, source: None }
    }

    /// The [`ErrorKind::Conflict`] error of a guarded apply that found rows
    /// changed since they were read and so wrote nothing, headed by `what`
    /// (`` apply to `shop.orders` ``): how many rows, then the first
    /// [`LISTED_CONFLICTS`] changes one a line, the rest counted.
    pub fn conflicts(what: &str, conflicts: &[Conflict]) -> Self {
        let rows: HashSet<_> = conflicts.iter().map(|c| &c.key).collect();
        let mut message = format!(
            "{what}: {} row{} changed since {} read, nothing was written",
            rows.len(),
            if rows.len() == 1 { "" } else { "s" },
            if rows.len() == 1 { "it was" } else { "they were" },
        );
        if conflicts.len() > LISTED_CONFLICTS {
            message.push_str(&format!(
                " (the first {LISTED_CONFLICTS} of {} changes are listed)",
                conflicts.len()
            ));
        }
        for c in conflicts.iter().take(LISTED_CONFLICTS) {
            message.push_str(&format!("\n  {c}"));
        }
        Error::new(ErrorKind::Conflict, message)
    }

    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    pub fn problems(&self) -> &[CellProblem] {
        &self.problems
    }

    pub fn is_retryable(&self) -> bool {
        matches!(self.kind, ErrorKind::Retryable | ErrorKind::RateLimited { .. })
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        for p in &self.problems {
            write!(f, "\n  {p}")?;
        }
        Ok(())
    }
}

/// One bad cell of an input, located precisely enough to fix it:
/// `` cell C7: "abc" is not an integer (column `quantity`, int4) ``.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CellProblem {
    /// Where: `C7` for a sheet cell, `row 7` when there is no cell reference.
    pub at: String,
    /// The column's name (in the table).
    pub column: String,
    /// The column's type as Postgres names it.
    pub type_name: String,
    /// The value as it was read, quoted where it was text.
    pub value: String,
    /// What is wrong, phrased to follow the value: `is not an integer`.
    pub reason: String,
}

impl fmt::Display for CellProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cell {}: {} {} (column `{}`, {})",
            self.at, self.value, self.reason, self.column, self.type_name
        )
    }
}

/// Collects the problems of an input so the user sees all of them at once.
#[derive(Debug, Default)]
pub struct Problems {
    items: Vec<CellProblem>,
    /// How many problems were found beyond those kept.
    dropped: usize,
}

impl Problems {
    /// Problems kept in full; more are counted, not stored, so a wholly
    /// wrong million-row file does not fill memory with messages.
    pub const KEEP: usize = 1000;

    pub fn push(&mut self, p: CellProblem) {
        if self.items.len() < Self::KEEP {
            self.items.push(p);
        } else {
            self.dropped += 1;
        }
    }

    pub fn len(&self) -> usize {
        self.items.len() + self.dropped
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// `Ok` when nothing was collected, else a [`ErrorKind::Conversion`]
    /// error headed by `what` (`` import `orders.xlsx` sheet `Orders` ``).
    pub fn into_result(self, what: &str) -> Result<(), Error> {
        if self.items.is_empty() {
            return Ok(());
        }
        let total = self.len();
        let mut head =
            format!("{what}: {total} bad cell{}, nothing was written", if total == 1 { "" } else { "s" });
        if self.dropped > 0 {
            head.push_str(&format!(" (the first {} are listed)", self.items.len()));
        }
        Err(Error::conversion(head, self.items))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Key, Value};

    #[test]
    fn conflicts_count_rows_and_list_changes() {
        let moved = |k: i64, col: &str| Conflict {
            key: Key(vec![Value::Int(k)]),
            column: Some(col.into()),
            expected: Value::Int(3),
            found: Value::Int(4),
        };
        let gone = Conflict {
            key: Key(vec![Value::Int(9)]),
            column: None,
            expected: Value::Null,
            found: Value::Null,
        };
        let e = Error::conflicts("apply to `shop.orders`", &[moved(7, "qty"), moved(7, "price"), gone]);
        assert_eq!(e.kind(), &ErrorKind::Conflict);
        assert_eq!(
            e.to_string(),
            "apply to `shop.orders`: 2 rows changed since they were read, nothing was written\n  \
             key 7 column `qty`: read 3, now 4\n  key 7 column `price`: read 3, now 4\n  key 9: the row is gone"
        );
        let many: Vec<Conflict> = (0..25).map(|k| moved(k, "qty")).collect();
        let e = Error::conflicts("apply to `t`", &many);
        assert!(e.to_string().starts_with(
            "apply to `t`: 25 rows changed since they were read, nothing was written \
             (the first 20 of 25 changes are listed)\n"
        ));
        assert_eq!(e.to_string().lines().count(), 21);
        let one = Error::conflicts("apply to `t`", &[moved(1, "qty")]);
        assert!(one.to_string().starts_with("apply to `t`: 1 row changed since it was read,"), "{one}");
    }

    #[test]
    fn problems_render_with_cell_column_and_type() {
        let mut p = Problems::default();
        p.push(CellProblem {
            at: "C7".into(),
            column: "quantity".into(),
            type_name: "int4".into(),
            value: "\"abc\"".into(),
            reason: "is not an integer".into(),
        });
        let e = p.into_result("import `orders.xlsx` sheet `Orders`").unwrap_err();
        assert_eq!(e.kind(), &ErrorKind::Conversion);
        assert_eq!(
            e.to_string(),
            "import `orders.xlsx` sheet `Orders`: 1 bad cell, nothing was written\n  \
             cell C7: \"abc\" is not an integer (column `quantity`, int4)"
        );
    }
}
