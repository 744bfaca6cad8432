//! Where a sheet lives: the one place that names every kind of sheet
//! sheetbridge reads and writes. A new connector is a variant here, and the
//! compiler then points at every command that must handle it.

use std::fmt;
use std::path::PathBuf;

use sheetbridge_google_sheets::SheetRef;

/// A sheet named on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SheetLocation {
    /// A local .xlsx workbook.
    Workbook(PathBuf),
    /// A Google Sheet tab: `gsheet://SPREADSHEET_ID/Tab` or a browser link.
    Google(SheetRef),
}

impl SheetLocation {
    /// A `gsheet://` reference or a Google Sheets link is a Google Sheet;
    /// anything else is a workbook path.
    pub fn parse(text: &str) -> Result<SheetLocation, sheetbridge_core::Error> {
        if SheetRef::looks_like(text) {
            Ok(SheetLocation::Google(SheetRef::parse(text)?))
        } else {
            Ok(SheetLocation::Workbook(PathBuf::from(text)))
        }
    }
}

impl fmt::Display for SheetLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SheetLocation::Workbook(path) => write!(f, "{}", path.display()),
            SheetLocation::Google(sheet) => write!(f, "{sheet}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn google_references_and_links_are_sheets_everything_else_a_path() {
        let id = "1BxiMVs0XRA5nFMdKvBdBZjgmUUqptlbs74OgvE2upms";
        for text in [
            format!("gsheet://{id}/Orders"),
            format!("https://docs.google.com/spreadsheets/d/{id}/edit#gid=0"),
        ] {
            assert!(
                matches!(SheetLocation::parse(&text), Ok(SheetLocation::Google(r)) if r.spreadsheet_id == id),
                "{text}"
            );
        }
        assert_eq!(
            SheetLocation::parse("orders.xlsx").unwrap(),
            SheetLocation::Workbook("orders.xlsx".into())
        );
        assert!(SheetLocation::parse("gsheet://").is_err());
    }
}
