//! The .xlsx connector: a table written to a workbook sheet, and a workbook
//! sheet read as a table's rows, without losing a value either way.
//!
//! [`XlsxWriter`] streams rows into one sheet of a new workbook
//! (rust_xlsxwriter's constant-memory mode: a million rows do not sit in
//! memory) and renames it over the target only when everything was written.
//! [`XlsxSource`] streams a sheet's cells (calamine's cell reader) and
//! converts each to its column's type, reporting every bad cell at once.
//!
//! ```no_run
//! use std::path::Path;
//! use sheetbridge_core::{Column, ColumnType, RowSink, TableName, TableSchema, Value};
//! use sheetbridge_core::schema::RelationKind;
//! use sheetbridge_xlsx::{WriteOptions, XlsxSource, XlsxWriter};
//!
//! # fn main() -> Result<(), sheetbridge_core::Error> {
//! let schema = TableSchema {
//!     name: TableName::new(None, "orders"),
//!     kind: RelationKind::Table,
//!     columns: vec![
//!         Column::new("id", ColumnType::Int64, "int8"),
//!         Column::new("note", ColumnType::Text, "text"),
//!     ],
//! };
//! let path = Path::new("orders.xlsx");
//! let mut writer = XlsxWriter::create(path, &schema, &WriteOptions::default())?;
//! writer.row(&[Value::Int(1), Value::Text("=not a formula".into())])?;
//! writer.finish()?;
//!
//! let mut source = XlsxSource::open(path, None)?;
//! let layout = source.layout(&schema)?;
//! source.read(&layout, &schema, |row_number, values| {
//!     println!("row {row_number}: {values:?}");
//!     Ok(())
//! })?;
//! # Ok(())
//! # }
//! ```
//!
//! # Rewriting one sheet of a workbook someone also uses
//!
//! Two-way sync replaces only its sheet: [`rewrite_sheet`] (or
//! [`SheetRewriter`], a [`sheetbridge_core::RowSink`]) writes the rows as
//! [`XlsxWriter`] would, splices that sheet into a copy of the workbook at
//! the zip level (every other part copied byte for byte, styles appended to
//! the workbook's own), keeps the previous file as a backup beside it
//! ([`backups_of`]), and renames the copy over it. A workbook open in Excel
//! or LibreOffice is refused with [`sheetbridge_core::ErrorKind::Locked`].
//!
//! ```no_run
//! # use std::path::Path;
//! # use sheetbridge_core::{TableSchema, Value};
//! # fn f(schema: &TableSchema, rows: &[Vec<Value>]) -> Result<(), sheetbridge_core::Error> {
//! use sheetbridge_xlsx::{rewrite_sheet, RewriteOptions};
//! let report = rewrite_sheet(Path::new("shop.xlsx"), "Orders", schema, rows, &RewriteOptions::default())?;
//! println!("{} rows; previous file kept as {:?}", report.rows, report.backup);
//! # Ok(())
//! # }
//! ```
//!
//! # Exactness: which values are written as text
//!
//! A value is written as a native cell (number, date, boolean) only when
//! reading that cell back gives exactly the same value; otherwise it is
//! written as a text cell holding the value's canonical text, which reads
//! back exactly. So:
//!
//! - integers beyond ±2^53 (9,007,199,254,740,992), which a double cannot
//!   hold, are text;
//! - a numeric is a number when the shortest decimal form of the double
//!   nearest to it, with the column's scale applied, is the same text
//!   (`19.99` and, in a `numeric(12,2)` column, `1.50` are numbers; in a plain
//!   `numeric` column `1.50` is text, as the number would read back as `1.5`;
//!   `12345678901234567890.123456789`, `NaN` and `Infinity` are text);
//! - dates and timestamps before 1900 or after 9999, and timestamps whose
//!   microseconds a date serial cannot hold, are ISO text
//!   (`1850-01-01`, `2024-05-01 13:45:00.123456`); timestamptz is written in UTC;
//! - text is always a text cell, even when it starts with `=`, `+`, `-` or `@`:
//!   it never becomes a formula. The empty string is the one exception: Excel
//!   has no empty text cell, so `""` is written as the formula `=""` with the
//!   cached value `""`, which keeps it distinct from NULL (no cell at all);
//! - json, uuid, enum and every other type are text.
//!
//! Numbers get the column's number format (`0.00` for `numeric(12,2)`),
//! dates `yyyy-mm-dd`, timestamps `yyyy-mm-dd hh:mm:ss` (`.000` added when
//! there are sub-second parts), times `hh:mm:ss`.
//!
//! # Reading
//!
//! Text cells (shared or inline), numbers (dates as serials in the
//! workbook's 1900 or 1904 date system), booleans, and formulas through
//! their cached values are converted by `sheetbridge_core::convert`. An
//! empty cell is NULL; an empty text cell is `""` in text columns and NULL
//! in others. Error cells (`#DIV/0!`) and formulas without a cached value are
//! bad cells. Memory stays bounded as sheets grow: only the workbook's
//! shared-strings table is held whole (see [`ReadLimits`]).

mod backup;
mod config;
mod convert;
mod error;
pub mod limits;
mod lock;
mod ooxml;
mod source;
mod splice;
mod target;
#[cfg(feature = "testing")]
pub mod testing;

pub use backup::backups_of;
pub use config::{ReadLimits, RewriteOptions, WriteOptions};
pub use lock::holder as lock_holder;
pub use source::{Cell, ReadSummary, RowConverter, SheetLayout, XlsxSource};
pub use splice::{rewrite_sheet, RewriteReport, SheetRewriter};
pub use target::{default_sheet_name, WriteReport, XlsxWriter};
