//! sheetbridge's Google Sheets connector.
//!
//! A Sheets v4 client built on reqwest that asks only for the `spreadsheets`
//! scope, retries 429/5xx with backoff honouring `Retry-After`, and shares a
//! token bucket per credential; a tab read in one `values.batchGet` and
//! converted by header name; writes batched into as few requests as Google's
//! recommended 2 MB payload allows; and the OAuth flows behind
//! `sheetbridge auth` (installed-app loopback with PKCE, service-account JWT
//! bearer) with a token store only its owner can read.

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
pub use source::{ReadSummary, SheetLayout, TabSource};
pub use target::{ExportOptions, ExportReport, TabWriter};
