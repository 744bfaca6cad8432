//! Noticing a workbook another program holds open.
//!
//! Excel keeps an owner file `~$name.xlsx` beside a workbook it has open;
//! LibreOffice keeps `.~lock.name.xlsx#`. Replacing the file underneath
//! either program loses work: it keeps showing the old content and saves it
//! back over ours.

use std::path::{Path, PathBuf};

use sheetbridge_core::{Error, ErrorKind};

/// The program holding a workbook open and its lock file, if any.
pub fn holder(path: &Path) -> Option<(&'static str, PathBuf)> {
    let name = path.file_name()?.to_str()?;
    let dir = path.parent().unwrap_or(Path::new(""));
    let candidates =
        [("Excel", dir.join(format!("~${name}"))), ("LibreOffice", dir.join(format!(".~lock.{name}#")))];
    candidates.into_iter().find(|(_, lock)| lock.exists())
}

/// [`ErrorKind::Locked`] when a program holds `path`, unless `force`.
pub fn check(path: &Path, force: bool) -> Result<(), Error> {
    if force {
        return Ok(());
    }
    match holder(path) {
        None => Ok(()),
        Some((program, lock)) => Err(Error::new(
            ErrorKind::Locked,
            format!(
                "`{}` is open in {program} (its lock file `{}` is beside it); close it there, \
                 or use --force to replace it anyway",
                path.display(),
                lock.file_name().map(|n| n.to_string_lossy()).unwrap_or_default()
            ),
        )),
    }
}
