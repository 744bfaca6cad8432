//! Errors with a kind a caller can act on.

use std::fmt;
use std::time::Duration;

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
