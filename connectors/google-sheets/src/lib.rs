//! sheetbridge's Google Sheets connector.
//!
//! A Sheets v4 client built on reqwest that asks only for the `spreadsheets`
//! scope, retries 429/5xx with backoff honouring `Retry-After`, and shares a
//! token bucket per credential; a tab read in one `values.batchGet` and
//! converted by header name; writes batched into as few requests as Google's
//! recommended 2 MB payload allows; and the OAuth flows behind
//! `sheetbridge auth` (installed-app loopback with PKCE, service-account JWT
//! bearer) with a token store only its owner can read.

pub mod auth;
pub mod config;

pub use auth::TokenSource;
pub use config::Endpoints;
