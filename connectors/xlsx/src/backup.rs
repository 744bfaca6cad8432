//! Backup copies of a workbook, kept beside it before it is replaced:
//! `.orders.xlsx.sheetbridge-backup-20261125T180725.123456Z`. The names sort
//! by time; the oldest beyond the number to keep are removed.

use std::fs;
use std::path::{Path, PathBuf};

use sheetbridge_core::Error;

use crate::error;

fn prefix(name: &str) -> String {
    format!(".{name}.sheetbridge-backup-")
}

fn dir_of(path: &Path) -> &Path {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    }
}

/// The backup copies of the workbook at `path`, oldest first.
pub fn backups_of(path: &Path) -> Vec<PathBuf> {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else { return Vec::new() };
    let prefix = prefix(name);
    let dir = dir_of(path);
    let mut found: Vec<String> = match fs::read_dir(dir) {
        Ok(rd) => rd
            .filter_map(|e| e.ok())
            .filter_map(|e| e.file_name().to_str().map(str::to_owned))
            .filter(|n| n.starts_with(&prefix) && n.ends_with('Z'))
            .collect(),
        Err(_) => Vec::new(),
    };
    found.sort();
    found.into_iter().map(|n| dir.join(n)).collect()
}

/// Keeps the file now at `path` under a new backup name. A hard link: the
/// backup is the old file itself once the new one is renamed over `path`,
/// and costs no copy; where links are not possible, a copy renamed into place
/// (so a backup is never half written).
pub(crate) fn make(path: &Path) -> Result<PathBuf, Error> {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("workbook.xlsx");
    let dir = dir_of(path);
    let mut last_err = None;
    for _ in 0..5 {
        let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%.6fZ");
        let backup = dir.join(format!("{}{stamp}", prefix(name)));
        if backup.exists() {
            std::thread::sleep(std::time::Duration::from_micros(2));
            continue;
        }
        match fs::hard_link(path, &backup) {
            Ok(()) => return Ok(backup),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(_) => {
                let partial = dir.join(format!("{}{stamp}.partial", prefix(name)));
                let copied = fs::copy(path, &partial).and_then(|_| fs::rename(&partial, &backup));
                match copied {
                    Ok(()) => return Ok(backup),
                    Err(e) => {
                        let _ = fs::remove_file(&partial);
                        last_err = Some(e);
                    }
                }
            }
        }
    }
    let e = last_err.unwrap_or_else(|| std::io::Error::other("every backup name was taken"));
    Err(error::io(path, "keep a backup copy of it", e))
}

/// Removes all but the newest `keep` backups of `path`; returns those removed.
pub(crate) fn prune(path: &Path, keep: usize) -> Vec<PathBuf> {
    let all = backups_of(path);
    let excess = all.len().saturating_sub(keep);
    all.into_iter().take(excess).filter(|p| fs::remove_file(p).is_ok()).collect()
}
