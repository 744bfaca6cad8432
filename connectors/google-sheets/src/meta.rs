//! A spreadsheet's metadata: its tabs, their sizes, its time zone.

use reqwest::Method;
use sheetbridge_core::{Error, ErrorKind};

use crate::a1;
use crate::client::{Call, SheetsClient};
use crate::quota::Class;
use crate::sheet_ref::{SheetRef, Tab};
use crate::wire;

/// What sheetbridge needs to know about a spreadsheet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpreadsheetInfo {
    pub spreadsheet_id: String,
    pub title: String,
    /// The browser link.
    pub url: String,
    /// The IANA zone the spreadsheet shows times in (`Europe/Berlin`);
    /// date-time serials of timestamptz columns are local time there.
    pub time_zone: String,
    pub locale: String,
    /// The tabs, in the order the spreadsheet shows them.
    pub tabs: Vec<TabInfo>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TabInfo {
    /// The `gid` of browser links.
    pub sheet_id: i64,
    pub title: String,
    pub index: u32,
    /// The grid's size (cells exist up to here, filled or not).
    pub rows: u32,
    pub columns: u32,
    pub frozen_rows: u32,
    /// Protected ranges sheetbridge added (their ids), found by their description.
    pub(crate) own_protections: Vec<i64>,
}

impl SpreadsheetInfo {
    pub(crate) fn from_wire(s: wire::Spreadsheet, asked: &str) -> SpreadsheetInfo {
        let id = if s.spreadsheet_id.is_empty() { asked.to_owned() } else { s.spreadsheet_id };
        let mut tabs: Vec<TabInfo> = s
            .sheets
            .into_iter()
            .enumerate()
            .map(|(i, sheet)| {
                let own_protections = sheet
                    .protected_ranges
                    .iter()
                    .filter(|p| p.description.starts_with(crate::target::PROTECTION_PREFIX))
                    .map(|p| p.protected_range_id)
                    .collect();
                let p = sheet.properties;
                let g = p.grid_properties.unwrap_or_default();
                TabInfo {
                    sheet_id: p.sheet_id.unwrap_or(0),
                    title: p.title.unwrap_or_default(),
                    index: p.index.unwrap_or(i as u32),
                    rows: g.row_count.unwrap_or(0),
                    columns: g.column_count.unwrap_or(0),
                    frozen_rows: g.frozen_row_count.unwrap_or(0),
                    own_protections,
                }
            })
            .collect();
        tabs.sort_by_key(|t| t.index);
        SpreadsheetInfo {
            url: s
                .spreadsheet_url
                .unwrap_or_else(|| format!("https://docs.google.com/spreadsheets/d/{id}/edit")),
            spreadsheet_id: id,
            title: s.properties.title.unwrap_or_default(),
            time_zone: s.properties.time_zone.unwrap_or_else(|| "Etc/GMT".to_owned()),
            locale: s.properties.locale.unwrap_or_default(),
            tabs,
        }
    }

    /// The tab `tab` names, or a [`ErrorKind::NotFound`] error listing the tabs there are.
    pub fn tab(&self, tab: &Tab) -> Result<&TabInfo, Error> {
        let found = match tab {
            Tab::First => self.tabs.first(),
            Tab::Name(name) => self.tab_named(name),
            Tab::Gid(gid) => self.tabs.iter().find(|t| t.sheet_id == *gid),
        };
        found.ok_or_else(|| {
            let list: Vec<String> =
                self.tabs.iter().map(|t| format!("`{}` (gid {})", t.title, t.sheet_id)).collect();
            let r = SheetRef { spreadsheet_id: self.spreadsheet_id.clone(), tab: tab.clone() };
            Error::new(
                ErrorKind::NotFound,
                format!(
                    "spreadsheet `{}` ({}) has no tab {}; its tabs are {}",
                    self.spreadsheet_id,
                    self.title,
                    r.tab_label(),
                    if list.is_empty() { "none".to_owned() } else { list.join(", ") }
                ),
            )
        })
    }

    /// The tab of this name: exactly, else ignoring case (Google refuses two
    /// tabs whose names differ only in case).
    pub fn tab_named(&self, name: &str) -> Option<&TabInfo> {
        self.tabs
            .iter()
            .find(|t| t.title == name)
            .or_else(|| self.tabs.iter().find(|t| t.title.to_lowercase() == name.to_lowercase()))
    }
}

impl SheetsClient {
    /// Reads a spreadsheet's metadata (one `spreadsheets.get` with a fields mask).
    pub async fn spreadsheet(&self, spreadsheet_id: &str) -> Result<SpreadsheetInfo, Error> {
        let path = format!(
            "{}?fields={}",
            SheetsClient::spreadsheet_path(spreadsheet_id),
            a1::query_value(wire::METADATA_FIELDS)
        );
        let s: wire::Spreadsheet = self
            .call_json(Call {
                method: Method::GET,
                path,
                body: None,
                class: Class::Read,
                idempotent: true,
                what: "read of the spreadsheet's tabs",
                spreadsheet: spreadsheet_id,
            })
            .await?;
        Ok(SpreadsheetInfo::from_wire(s, spreadsheet_id))
    }
}
