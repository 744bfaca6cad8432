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

/// The exit code for an error chain: the first connector error in it decides.
pub fn code_for(err: &anyhow::Error) -> Code {
    for cause in err.chain() {
        if cause.downcast_ref::<NeedsConfirmation>().is_some() {
            return Code::NeedsConfirmation;
        }
        if let Some(e) = cause.downcast_ref::<sheetbridge_core::Error>() {
            return match e.kind() {
                ErrorKind::Conversion | ErrorKind::InvalidInput | ErrorKind::SchemaMismatch => Code::BadInput,
                ErrorKind::LimitExceeded | ErrorKind::NotFound => Code::BadInput,
                ErrorKind::Conflict => Code::Conflict,
                ErrorKind::Locked => Code::Locked,
                ErrorKind::Unauthorized => Code::Connection,
                _ => Code::Failure,
            };
        }
    }
    Code::Failure
}
