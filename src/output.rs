//! What commands print: progress on a terminal, plans as readable tables.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A progress bar on stderr when it is a terminal; silent otherwise.
pub struct Progress {
    bar: ProgressBar,
}

impl Progress {
    /// `total` is the expected number of rows when known.
    pub fn rows(label: &str, total: Option<u64>) -> Self {
        let visible =
            std::io::stderr().is_terminal() && std::env::var_os("SHEETBRIDGE_NO_PROGRESS").is_none();
        let bar = match total {
            Some(n) if visible => {
                let bar = ProgressBar::new(n);
                bar.set_style(
                    ProgressStyle::with_template(
                        "{prefix} [{bar:30}] {human_pos}/{human_len} rows ({eta} left)",
                    )
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
                );
                bar
            }
            _ if visible => {
                let bar = ProgressBar::new_spinner();
                bar.set_style(
                    ProgressStyle::with_template("{prefix} {spinner} {human_pos} rows ({elapsed})")
                        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                );
                bar
            }
            _ => ProgressBar::hidden(),
        };
        if visible {
            bar.set_draw_target(ProgressDrawTarget::stderr_with_hz(4));
            bar.enable_steady_tick(Duration::from_millis(250));
        }
        bar.set_prefix(label.to_owned());
        Progress { bar }
    }

    pub fn inc(&self, n: u64) {
        self.bar.inc(n);
    }

    /// Renames the stage shown before the bar (`exporting` → `compressing`).
    pub fn set_stage(&self, stage: &str) {
        self.bar.set_prefix(stage.to_owned());
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}

/// Lays out rows as an aligned text table with a header line.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &mut dyn Iterator<Item = &str>| -> String {
        let mut out = String::from("  ");
        for (i, (cell, w)) in cells.zip(&widths).enumerate() {
            if i > 0 {
                out.push_str("  ");
            }
            out.push_str(cell);
            if i + 1 < widths.len() {
                out.extend(std::iter::repeat_n(' ', w - cell.chars().count()));
            }
        }
        out.trim_end().to_owned() + "\n"
    };
    let mut out = line(&mut header.iter().copied());
    for row in rows {
        out.push_str(&line(&mut row.iter().map(String::as_str)));
    }
    out
}

/// Shortens a value for a table cell, keeping the start and saying how long it was.
pub fn clip(text: String, max: usize) -> String {
    let n = text.chars().count();
    if n <= max {
        return text;
    }
    let head: String = text.chars().take(max.saturating_sub(12)).collect();
    format!("{head}… ({n} chars)")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_and_clip() {
        let t = table(
            &["key", "column"],
            &[vec!["1".into(), "quantity".into()], vec!["1234".into(), "x".into()]],
        );
        assert_eq!(t, "  key   column\n  1     quantity\n  1234  x\n");
        let long = clip("a".repeat(100), 40);
        assert!(long.ends_with("(100 chars)"), "{long}");
        assert!(long.chars().count() <= 41);
    }
}
