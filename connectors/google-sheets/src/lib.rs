//! sheetbridge's Google Sheets connector.
//!
//! A Sheets v4 client built on reqwest that asks only for the `spreadsheets`
//! scope, retries 429/5xx with backoff honouring `Retry-After`, and shares a
//! token bucket per credential; a tab read in one `values.batchGet` and
//! converted by header name; writes batched into as few requests as Google's
//! recommended 2 MB payload allows; and the OAuth flows behind
//! `sheetbridge auth` (installed-app loopback with PKCE, service-account JWT
//! bearer) with a token store only its owner can read.
//!
//! ```no_run
//! use sheetbridge_core::{Column, ColumnType, RowSink, Source, TableName, TableSchema, Value};
//! use sheetbridge_core::schema::RelationKind;
//! use sheetbridge_google_sheets::{Endpoints, ExportOptions, SheetRef, SheetsClient, TokenSource};
//!
//! # async fn demo() -> Result<(), sheetbridge_core::Error> {
//! let schema = TableSchema {
//!     name: TableName::new(None, "orders"),
//!     kind: RelationKind::Table,
//!     columns: vec![
//!         Column::new("id", ColumnType::Int64, "int8"),
//!         Column::new("note", ColumnType::Text, "text"),
//!     ],
//! };
//! let tokens = TokenSource::fixed("ada@example.com", "ya29.token");
//! let client = SheetsClient::new(Endpoints::resolve(None), tokens)?;
//!
//! // Export: a table to a tab (here a new spreadsheet).
//! let options = ExportOptions { create: true, title: Some("Orders".into()), ..ExportOptions::default() };
//! let mut writer = client.export(None, &schema, &options).await?;
//! writer.row(&[Value::Int(1), Value::Text("=not a formula".into())])?;
//! let report = writer.finish().await?;
//! println!("{} rows in {} requests: {}", report.rows, report.requests, report.url);
//!
//! // Import: a tab read by header name, every bad cell reported at once.
//! let sheet = SheetRef::parse(&format!("gsheet://{}/{}", report.spreadsheet_id, report.tab))?;
//! let mut tab = client.open_tab(&sheet).await?;
//! let layout = tab.layout(&schema)?;
//! tab.read(&layout, &schema, |row_number, values| {
//!     println!("row {row_number}: {values:?}");
//!     Ok(())
//! })
//! .await?;
//! # Ok(())
//! # }
//! ```
//!
//! # The API
//!
//! - [`SheetRef::parse`] / [`SheetRef::looks_like`] / `Display`: `gsheet://ID/Tab`,
//!   `gsheet://ID#gid=N`, and browser links.
//! - [`SheetsClient::new`] / [`SheetsClient::with_options`] ([`ClientOptions`]:
//!   [`RetryPolicy`], [`Quota`], timeout, payload size); [`SheetsClient::stats`].
//! - Reading: [`SheetsClient::open_tab`] → [`TabSource`]: [`TabSource::layout`]
//!   ([`SheetLayout`]: columns, unknown, missing), [`TabSource::read`] (rows
//!   with their sheet row numbers), or core's [`sheetbridge_core::Source`]
//!   after [`TabSource::with_schema`]. [`SheetsClient::spreadsheet`] gives the
//!   metadata alone.
//! - Export: [`SheetsClient::export`] → [`TabWriter`] (core's
//!   [`sheetbridge_core::RowSink`]) → [`TabWriter::finish`] → [`ExportReport`].
//! - Two-way sync: [`SheetsClient::tab_target`] → [`TabTarget`], core's
//!   [`sheetbridge_core::Target`].
//!
//! # Values
//!
//! Dates and times are serial numbers (days since 1899-12-30) with number
//! formats; timestamptz is wall time in the spreadsheet's time zone. Values
//! are written `RAW`, so text is never parsed into a number, date or formula;
//! values a double would change (integers beyond 2^53, long numerics, `NaN`,
//! `-0`) are written as text and read back exactly. NULL is an empty cell and
//! the empty string the formula `=""`; see `convert.rs` for how a read tells
//! them apart.
//!
//! # Errors
//!
//! Every error is a [`sheetbridge_core::Error`] whose kind a caller acts on:
//! `RateLimited`/`Retryable` when Google could not be reached or kept
//! refusing after the retries (a run that ends so has failed), `Unauthorized`
//! (401 after one token refresh; 403 with the account to share the
//! spreadsheet with), `NotFound` (naming the spreadsheet or the tab and the
//! tabs there are), `InvalidInput` (Google's 400 message), `Conversion` (every
//! bad cell, with `gsheet://ID/Tab` and its A1 name), `LimitExceeded`,
//! `Conflict`. No message holds an access token.

pub mod a1;
mod apply;
pub mod auth;
mod client;
pub mod config;
mod convert;
mod error;
pub mod limits;
mod meta;
mod quota;
mod sheet_ref;
mod source;
mod target;
mod wire;

pub use apply::TabTarget;
pub use auth::TokenSource;
pub use client::{ClientStats, SheetsClient};
pub use config::{ClientOptions, Endpoints, Quota, RetryPolicy};
pub use convert::Zone;
pub use meta::{SpreadsheetInfo, TabInfo};
pub use sheet_ref::{SheetRef, Tab};
pub use source::{ReadSummary, SheetLayout, TabRows, TabSource};
pub use target::{ExportOptions, ExportReport, TabWriter};
