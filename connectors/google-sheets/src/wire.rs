//! The Sheets v4 wire format, for the calls sheetbridge makes.
//!
//! Field names follow Google's discovery document (`sheets-v4-discovery.json`).
//! These are hand-written rather than google-sheets4's generated `api` types:
//! those serialize every unset `Option` as `null` (no `skip_serializing_if`
//! in 7.0), so one `Request` carries some seventy null members, and the crate
//! pulls in hyper-rustls, serde_with and google-apis-common even without its
//! hub, for a 148 s clean build on two cores. sheetbridge needs about fifteen
//! of its hundreds of types.
//!
//! Cell values are not `serde_json::Value`s: reading deserializes each cell
//! straight into a [`WireCell`]; writing serializes each value straight into
//! the request body (see `target.rs`).

use std::fmt;

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};

// ---- spreadsheets.get / create -------------------------------------------------

/// The fields mask of a metadata read: only what sheetbridge uses.
pub(crate) const METADATA_FIELDS: &str = "spreadsheetId,spreadsheetUrl,properties(title,locale,timeZone),\
     sheets(properties(sheetId,title,index,gridProperties(rowCount,columnCount,frozenRowCount)),\
     protectedRanges(protectedRangeId,description))";

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Spreadsheet {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub spreadsheet_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spreadsheet_url: Option<String>,
    #[serde(default)]
    pub properties: SpreadsheetProperties,
    #[serde(default)]
    pub sheets: Vec<Sheet>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SpreadsheetProperties {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Sheet {
    #[serde(default)]
    pub properties: SheetProperties,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub protected_ranges: Vec<ProtectedRangeInfo>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ProtectedRangeInfo {
    #[serde(default)]
    pub protected_range_id: i64,
    #[serde(default)]
    pub description: String,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SheetProperties {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sheet_id: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grid_properties: Option<GridProperties>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct GridProperties {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub row_count: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column_count: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frozen_row_count: Option<u32>,
}

// ---- values.batchGet -------------------------------------------------------------

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct BatchGetResponse {
    #[serde(default)]
    pub value_ranges: Vec<ValueRange>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ValueRange {
    #[serde(default)]
    pub values: Vec<Vec<WireCell>>,
}

/// One cell as `values.batchGet` returns it with `UNFORMATTED_VALUE`.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) enum WireCell {
    /// Nothing (a cell past the end of a ragged row, or JSON `null`).
    #[default]
    Empty,
    /// A string; Google also gives `""` for an empty cell inside a row.
    Text(String),
    Number(f64),
    Bool(bool),
}

impl<'de> Deserialize<'de> for WireCell {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = WireCell;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a cell value (string, number, boolean or null)")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<WireCell, E> {
                Ok(WireCell::Text(v.to_owned()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<WireCell, E> {
                Ok(WireCell::Text(v))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<WireCell, E> {
                Ok(WireCell::Number(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<WireCell, E> {
                Ok(WireCell::Number(v as f64))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<WireCell, E> {
                Ok(WireCell::Number(v as f64))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<WireCell, E> {
                Ok(WireCell::Bool(v))
            }
            fn visit_unit<E: de::Error>(self) -> Result<WireCell, E> {
                Ok(WireCell::Empty)
            }
            fn visit_none<E: de::Error>(self) -> Result<WireCell, E> {
                Ok(WireCell::Empty)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<WireCell, A::Error> {
                while seq.next_element::<de::IgnoredAny>()?.is_some() {}
                Err(de::Error::custom("a cell holds a list"))
            }
        }
        d.deserialize_any(V)
    }
}

// ---- spreadsheets.batchUpdate ------------------------------------------------------

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct BatchUpdate {
    pub requests: Vec<Request>,
    pub include_spreadsheet_in_response: bool,
}

/// One structural request; serialized as `{"addSheet": {...}}`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) enum Request {
    AddSheet(AddSheet),
    UpdateSheetProperties(UpdateSheetProperties),
    DeleteDimension(DeleteDimension),
    RepeatCell(RepeatCell),
    SetDataValidation(SetDataValidation),
    AddProtectedRange(AddProtectedRange),
    DeleteProtectedRange(DeleteProtectedRange),
    UpdateCells(UpdateCells),
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DeleteProtectedRange {
    pub protected_range_id: i64,
}

/// With no `rows`, clears the `fields` of every cell of `range`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct UpdateCells {
    pub range: GridRange,
    pub fields: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AddSheet {
    pub properties: SheetProperties,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct UpdateSheetProperties {
    pub properties: SheetProperties,
    /// Field mask of what to change (`gridProperties.rowCount,gridProperties.columnCount`).
    pub fields: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DeleteDimension {
    pub range: DimensionRange,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DimensionRange {
    pub sheet_id: i64,
    /// `ROWS` or `COLUMNS`.
    pub dimension: &'static str,
    pub start_index: u32,
    pub end_index: u32,
}

#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct GridRange {
    pub sheet_id: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_row_index: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_row_index: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_column_index: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_column_index: Option<u32>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RepeatCell {
    pub range: GridRange,
    pub cell: CellData,
    pub fields: String,
}

#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CellData {
    pub user_entered_format: CellFormat,
}

#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CellFormat {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub number_format: Option<NumberFormat>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text_format: Option<TextFormat>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct NumberFormat {
    /// `TEXT`, `NUMBER`, `DATE`, `TIME`, `DATE_TIME`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub pattern: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TextFormat {
    pub bold: bool,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SetDataValidation {
    pub range: GridRange,
    pub rule: DataValidationRule,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DataValidationRule {
    pub condition: BooleanCondition,
    pub strict: bool,
    pub show_custom_ui: bool,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct BooleanCondition {
    /// `ONE_OF_LIST`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub values: Vec<ConditionValue>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ConditionValue {
    pub user_entered_value: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AddProtectedRange {
    pub protected_range: ProtectedRange,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ProtectedRange {
    pub range: GridRange,
    pub description: String,
    pub warning_only: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_serialize_as_google_names_them_without_nulls() {
        let r = Request::DeleteDimension(DeleteDimension {
            range: DimensionRange { sheet_id: 7, dimension: "ROWS", start_index: 4, end_index: 5 },
        });
        assert_eq!(
            serde_json::to_string(&r).unwrap_or_default(),
            r#"{"deleteDimension":{"range":{"sheetId":7,"dimension":"ROWS","startIndex":4,"endIndex":5}}}"#
        );
        let r = Request::RepeatCell(RepeatCell {
            range: GridRange { sheet_id: 0, end_row_index: Some(1), ..GridRange::default() },
            cell: CellData {
                user_entered_format: CellFormat {
                    text_format: Some(TextFormat { bold: true }),
                    ..Default::default()
                },
            },
            fields: "userEnteredFormat.textFormat.bold".into(),
        });
        let text = serde_json::to_string(&r).unwrap_or_default();
        assert!(!text.contains("null"), "{text}");
        assert!(text.starts_with(r#"{"repeatCell":{"range":{"sheetId":0,"endRowIndex":1}"#), "{text}");
    }

    #[test]
    fn cells_read_without_an_intermediate_tree() {
        let r: BatchGetResponse = serde_json::from_str(
            r#"{"valueRanges": [{"range": "'A'!A1:C2", "values": [["id", "", 1.5], [2, true]]}]}"#,
        )
        .unwrap_or_default();
        assert_eq!(
            r.value_ranges[0].values,
            vec![
                vec![WireCell::Text("id".into()), WireCell::Text(String::new()), WireCell::Number(1.5)],
                vec![WireCell::Number(2.0), WireCell::Bool(true)],
            ]
        );
    }
}
