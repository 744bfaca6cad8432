//! Exit codes, as `sheetbridge --help` lists them.

use std::process::ExitCode;

use sheetbridge_core::ErrorKind;

/// A process outcome a script can act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    Success = 0,
    Failure = 1,
    Usage = 2,
    BadInput = 3,
    Conflict = 4,
    NeedsConfirmation = 5,
    Locked = 6,
    Connection = 7,
}

impl From<Code> for ExitCode {
    fn from(c: Code) -> Self {
        ExitCode::from(c as u8)
    }
}

/// An error that is not a connector's: the plan needs `--yes`.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct NeedsConfirmation(pub String);

/// The database could not be reached (or refused the credentials).
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct CannotConnect(#[from] pub sheetbridge_core::Error);

/// The exit code for an error chain: the first connector error in it decides.
pub fn code_for(err: &anyhow::Error) -> Code {
    for cause in err.chain() {
        if cause.downcast_ref::<NeedsConfirmation>().is_some() {
            return Code::NeedsConfirmation;
        }
        if cause.downcast_ref::<CannotConnect>().is_some() {
            return Code::Connection;
        }
        if let Some(e) = cause.downcast_ref::<sheetbridge_core::Error>() {
            return code_for_kind(e.kind());
        }
    }
    Code::Failure
}

/// The exit code for a connector error of this kind.
pub fn code_for_kind(kind: &ErrorKind) -> Code {
    match kind {
        ErrorKind::Conversion | ErrorKind::InvalidInput | ErrorKind::SchemaMismatch => Code::BadInput,
        ErrorKind::LimitExceeded | ErrorKind::NotFound => Code::BadInput,
        ErrorKind::Conflict => Code::Conflict,
        ErrorKind::Locked => Code::Locked,
        ErrorKind::Unauthorized => Code::Connection,
        _ => Code::Failure,
    }
}

/// The error chain as one message: each cause once, skipping a cause whose
/// text the message already holds (connector errors quote their source).
pub fn render(err: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in err.chain() {
        let part = cause.to_string();
        if text.contains(&part) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&part);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quoted_cause_is_not_repeated() {
        let inner = std::io::Error::other("invalid Zip archive");
        let err = anyhow::Error::new(
            sheetbridge_core::Error::new(
                ErrorKind::InvalidInput,
                "`a.xlsx` is damaged (invalid Zip archive)",
            )
            .with_source(inner),
        )
        .context("import `a.xlsx`");
        assert_eq!(render(&err), "import `a.xlsx`: `a.xlsx` is damaged (invalid Zip archive)");
        assert_eq!(code_for(&err), Code::BadInput);
    }
}
