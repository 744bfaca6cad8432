//! How this connector's failures become [`sheetbridge_core::Error`]s.
//!
//! Every message names the file (as the caller gave its path), and the sheet,
//! cell, column and value where there is one. The error kinds are the ones a
//! caller acts on: [`ErrorKind::NotFound`] for a missing file or sheet,
//! [`ErrorKind::Locked`] for a workbook open in Excel or LibreOffice,
//! [`ErrorKind::LimitExceeded`] for Excel's limits and zip bombs,
//! [`ErrorKind::InvalidInput`] for files that are not readable workbooks,
//! [`ErrorKind::Conversion`] for bad cells.

use std::io;
use std::path::Path;

use sheetbridge_core::{Error, ErrorKind};

/// `` `orders.xlsx` `` as messages show a file.
pub(crate) fn file(path: &Path) -> String {
    format!("`{}`", path.display())
}

/// An IO failure on `path` while doing `what` (`create the temporary file`).
pub(crate) fn io(path: &Path, what: &str, e: io::Error) -> Error {
    let kind = match e.kind() {
        io::ErrorKind::NotFound => ErrorKind::NotFound,
        io::ErrorKind::Interrupted | io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => {
            ErrorKind::Retryable
        }
        _ => ErrorKind::Other,
    };
    Error::new(kind, format!("{}: cannot {what}: {e}", file(path))).with_source(e)
}

/// A failure inside rust_xlsxwriter while writing `path`.
pub(crate) fn writer(path: &Path, what: &str, e: rust_xlsxwriter::XlsxError) -> Error {
    use rust_xlsxwriter::XlsxError as X;
    let kind = match &e {
        X::RowColumnLimitError | X::MaxStringLengthExceeded => ErrorKind::LimitExceeded,
        X::IoError(_) | X::TempFileError(..) => ErrorKind::Other,
        X::SheetnameCannotBeBlank(_)
        | X::SheetnameLengthExceeded(_)
        | X::SheetnameContainsInvalidCharacter(_)
        | X::SheetnameStartsOrEndsWithApostrophe(_)
        | X::SheetnameReused(_) => ErrorKind::InvalidInput,
        _ => ErrorKind::Other,
    };
    Error::new(kind, format!("{}: cannot {what}: {e}", file(path))).with_source(e)
}

/// A failure inside calamine while reading `path`.
pub(crate) fn reader(path: &Path, sheet: Option<&str>, e: calamine::XlsxError) -> Error {
    use calamine::XlsxError as X;
    let at = match sheet {
        Some(s) => format!("{} sheet `{s}`", file(path)),
        None => file(path),
    };
    let (kind, what) = match &e {
        X::Password => (
            ErrorKind::InvalidInput,
            "is password-protected (encrypted); remove the password in Excel and save it again".to_owned(),
        ),
        X::Zip(_) => (
            ErrorKind::InvalidInput,
            format!("is damaged or truncated (its zip archive cannot be read: {e})"),
        ),
        X::Io(io) if io.kind() == io::ErrorKind::InvalidData => (
            ErrorKind::InvalidInput,
            format!("is damaged or truncated (a part of it cannot be inflated: {e})"),
        ),
        X::WorksheetNotFound(name) => (ErrorKind::NotFound, format!("has no sheet `{name}`")),
        _ => (ErrorKind::InvalidInput, format!("cannot be read as an .xlsx workbook: {e}")),
    };
    Error::new(kind, format!("{at} {what}")).with_source(e)
}
