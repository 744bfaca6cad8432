//! Snapshots: a table (or an export query) streamed with binary COPY.
//!
//! A scan runs `COPY (SELECT ...) TO STDOUT (FORMAT binary)` inside one
//! `REPEATABLE READ READ ONLY` transaction and decodes the stream in place:
//! one reused row buffer, strings reused where the column's previous value
//! was a string, no per-row allocation otherwise. Types without a native
//! [`Value`] are cast to text in the select list (see [`crate::convert`]).

use std::time::Instant;

use sheetbridge_core::{Error, ErrorKind, RowSink, Source, TableName, TableSchema, Value};
use tokio_postgres::IsolationLevel;

use crate::convert::quote_ident;
use crate::copy::{copy_out_rows, CopyDecoder};
use crate::error::Context;
use crate::introspect::{describe, describe_query_on, ColInfo, Described};
use crate::PgConn;

/// A table or view, read as a [`Source`] and written as a
/// [`sheetbridge_core::Target`].
pub struct PgTable<'c> {
    pub(crate) conn: &'c mut PgConn,
    pub(crate) name: TableName,
    columns: Option<Vec<String>>,
    filter: Option<String>,
    pub(crate) described: Option<Described>,
}

impl PgConn {
    /// The table `name` as a source and target.
    pub fn table(&mut self, name: TableName) -> PgTable<'_> {
        PgTable { conn: self, name, columns: None, filter: None, described: None }
    }

    /// The result of an export query as a source. It runs in a read-only
    /// transaction, so it can never write.
    pub fn query(&mut self, sql: &str) -> PgQuery<'_> {
        PgQuery { conn: self, sql: sql.to_owned(), described: None }
    }
}

impl<'c> PgTable<'c> {
    /// Reads only these columns, in this order.
    pub fn with_columns(mut self, columns: Vec<String>) -> Self {
        self.columns = Some(columns);
        self
    }

    /// Reads only rows matching this SQL predicate (the user's `--where`
    /// text, run as written inside the read-only snapshot transaction).
    pub fn with_filter(mut self, predicate: impl Into<String>) -> Self {
        self.filter = Some(predicate.into());
        self
    }

    pub(crate) async fn described(&mut self) -> Result<&Described, Error> {
        if self.described.is_none() {
            self.described = Some(describe(&self.conn.client, &self.name).await?);
        }
        // Invariant: set just above.
        self.described.as_ref().ok_or_else(|| Error::new(ErrorKind::Other, "table description missing"))
    }

    /// The schema scanned: the table's, projected to the chosen columns.
    async fn projected(&mut self) -> Result<(TableSchema, Vec<ColInfo>), Error> {
        let columns = self.columns.clone();
        let d = self.described().await?;
        let Some(names) = columns else { return Ok((d.schema.clone(), d.cols.clone())) };
        let mut schema = d.schema.clone();
        schema.project(&names).map_err(|unknown| {
            Error::new(
                ErrorKind::SchemaMismatch,
                format!("table `{}` has no column {}", d.schema.name, unknown_list(&unknown)),
            )
        })?;
        let cols = names.iter().filter_map(|n| d.info(n).map(|(_, _, info)| info.clone())).collect();
        Ok((schema, cols))
    }
}

pub(crate) fn unknown_list(names: &[String]) -> String {
    names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
}

impl Source for PgTable<'_> {
    async fn schema(&mut self) -> Result<TableSchema, Error> {
        Ok(self.projected().await?.0)
    }

    async fn scan<S: RowSink + Send>(&mut self, sink: &mut S) -> Result<u64, Error> {
        let (schema, cols) = self.projected().await?;
        let rel = match &self.described {
            Some(d) => d.rel.clone(),
            None => return Err(Error::new(ErrorKind::Other, "table description missing")),
        };
        let list: Vec<String> = schema
            .columns
            .iter()
            .zip(&cols)
            .map(|(c, i)| i.wire.select_expr(&quote_ident(&c.name)))
            .collect();
        let mut sql = format!("COPY (SELECT {} FROM {rel}", list.join(", "));
        if let Some(filter) = &self.filter {
            sql.push_str(&format!(" WHERE ({filter}\n)"));
        }
        // Rows in key order: a sheet people read, and the same order every run.
        let key: Vec<String> = match &self.described {
            Some(d) => d.schema.columns.iter().filter(|c| c.key).map(|c| quote_ident(&c.name)).collect(),
            None => Vec::new(),
        };
        if !key.is_empty() {
            sql.push_str(&format!(" ORDER BY {}", key.join(", ")));
        }
        sql.push_str(") TO STDOUT (FORMAT binary)");
        let name = schema.name.to_string();
        let what = move || format!("read table `{name}`");
        scan_copy(self.conn, &sql, &schema, &cols, &what, sink).await
    }
}

async fn scan_copy<S: RowSink + Send>(
    conn: &mut PgConn,
    sql: &str,
    schema: &TableSchema,
    cols: &[ColInfo],
    what: &(dyn Fn() -> String + Sync),
    sink: &mut S,
) -> Result<u64, Error> {
    let started = Instant::now();
    let tx = conn
        .client
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await
        .context(what)?;
    let mut decoder = CopyDecoder::new(
        cols.iter().map(|c| c.wire).collect(),
        schema.columns.iter().map(|c| c.name.clone()).collect(),
    );
    let rows = copy_out_rows(tx.client(), sql, &mut decoder, what, |row: &[Value]| sink.row(row)).await?;
    tx.commit().await.context(what)?;
    tracing::info!(relation = %schema.name, rows, elapsed_ms = started.elapsed().as_millis() as u64, "snapshot read");
    Ok(rows)
}

/// An export query as a [`Source`].
pub struct PgQuery<'c> {
    conn: &'c mut PgConn,
    sql: String,
    described: Option<(TableSchema, Vec<ColInfo>)>,
}

impl PgQuery<'_> {
    async fn described(&mut self) -> Result<(TableSchema, Vec<ColInfo>), Error> {
        if let Some(d) = &self.described {
            return Ok(d.clone());
        }
        let what = || "describe the export query".to_owned();
        let tx = self.conn.client.build_transaction().read_only(true).start().await.context(what)?;
        let d = describe_query_on(tx.client(), &self.sql).await?;
        tx.rollback().await.context(what)?;
        self.described = Some(d.clone());
        Ok(d)
    }
}

impl Source for PgQuery<'_> {
    async fn schema(&mut self) -> Result<TableSchema, Error> {
        Ok(self.described().await?.0)
    }

    async fn scan<S: RowSink + Send>(&mut self, sink: &mut S) -> Result<u64, Error> {
        let (schema, cols) = self.described().await?;
        let body = crate::introspect::check_query(&self.sql)?;
        let aliases: Vec<String> = (1..=cols.len()).map(|i| quote_ident(&format!("c{i}"))).collect();
        let list: Vec<String> =
            aliases.iter().zip(&cols).map(|(a, c)| c.wire.select_expr(&format!("q.{a}"))).collect();
        let sql = format!(
            "COPY (SELECT {} FROM (\n{body}\n) AS q({})) TO STDOUT (FORMAT binary)",
            list.join(", "),
            aliases.join(", ")
        );
        let what = || "run the export query".to_owned();
        scan_copy(self.conn, &sql, &schema, &cols, &what, sink).await
    }
}
