//! The contract every sheetbridge connector speaks.
//!
//! A Postgres table and a spreadsheet tab meet here as the same things: a
//! [`TableSchema`] of typed [`Column`]s, rows of [`Value`]s matched by their
//! [`Key`], and [`ChangeSet`]s that say which rows to insert, which cells to
//! update (with the value each cell held when it was read) and which rows to
//! delete. Connectors implement [`Source`] and [`Target`]; the engine in the
//! root crate moves rows between them, and [`merge()`] decides, cell by cell,
//! what two-way sync writes to each side. This crate does no IO.
//!
//! ```
//! use sheetbridge_core::{Column, ColumnType, Value, convert};
//!
//! let quantity = Column::new("quantity", ColumnType::Int32, "int4");
//! assert_eq!(convert::parse_text(&quantity.ty, "42"), Ok(Value::Int(42)));
//! assert!(convert::parse_text(&quantity.ty, "abc").is_err());
//! ```

pub mod a1;
pub mod change;
pub mod contract;
pub mod convert;
pub mod error;
pub mod layout;
pub mod merge;
pub mod schema;
#[cfg(feature = "testing")]
pub mod testing;
pub mod value;

pub use change::{CellChange, ChangeSet, Delete, Update};
pub use contract::{ApplyOptions, ApplyReport, Conflict, OnConflict, RowSink, Source, Target};
pub use error::{CellProblem, Error, ErrorKind, Problems};
pub use merge::{merge, MergePlan, MergeSettings};
pub use schema::{Column, ColumnType, Key, TableName, TableSchema};
pub use value::Value;
