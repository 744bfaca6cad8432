//! Applying a change set to a table: one transaction, staged with binary
//! COPY, written with set-based SQL, every update and delete guarded.
//!
//! 1. The change set is staged into temporary tables (`ON COMMIT DROP`),
//!    typed like the snapshot's wire forms.
//! 2. One query per kind of change joins the stage with the table, locks the
//!    rows it finds (`FOR UPDATE`), and says per cell whether the row still
//!    holds the value read (`old`) or already holds the new one; the rows
//!    are decoded with the snapshot's decoder.
//! 3. Rows that moved are [`Conflict`]s. Under [`OnConflict::Abort`] the
//!    transaction is rolled back and an [`ErrorKind::Conflict`] error lists
//!    them; under [`OnConflict::Skip`] they are left out and reported.
//! 4. `DELETE ... USING`, `UPDATE ... FROM` and `INSERT ... SELECT` write the
//!    rest, each guarded again by the old values, and their counts are
//!    checked against what step 2 found.
//!
//! Re-applying a change set finds every row already as it should be and
//! writes nothing (inserts whose row exists with the same values, updates
//! already made, deletes of missing rows are no-ops).

use bytes::BytesMut;
use sheetbridge_core::schema::Generated;
use sheetbridge_core::{
    ApplyOptions, ApplyReport, CellProblem, ChangeSet, Column, Conflict, Error, ErrorKind, Key, OnConflict,
    Problems, TableSchema, Target, Value,
};
use tokio_postgres::types::{FromSql, Type};
use tokio_postgres::Client;

use crate::convert::{decode, encode, quote_ident, Wire};
use crate::copy::{copy_out_rows, CopyDecoder, CopyWriter};
use crate::error::Context;
use crate::introspect::ColInfo;
use crate::source::{unknown_list, PgTable};

/// One column of the schema being applied, with what the catalog says.
#[derive(Clone)]
pub(crate) struct Col {
    pub column: Column,
    pub info: ColInfo,
    /// Quoted name.
    pub q: String,
}

impl Col {
    /// The staged value `s` as the column's real type.
    pub fn cast(&self, s: &str) -> String {
        format!("({s})::{}", self.info.cast)
    }

    /// `t` still holds the value `s` read (both in wire form): exact, as read.
    pub fn holds_read(&self, t: &str, s: &str) -> String {
        if self.info.wire.is_text_cast() {
            format!("({t})::text IS NOT DISTINCT FROM {s}")
        } else {
            format!("{t} IS NOT DISTINCT FROM {}", self.cast(s))
        }
    }

    /// `t` equals the staged new value `s` as the type sees it (`1.5` and
    /// `1.50` in a `numeric(12,2)`, upper- and lower-case UUIDs, jsonb's
    /// key order are the same).
    pub fn holds_new(&self, t: &str, s: &str) -> String {
        if self.info.wire.is_text_cast() {
            format!("({t})::text IS NOT DISTINCT FROM ({})::text", self.cast(s))
        } else {
            format!("{t} IS NOT DISTINCT FROM {}", self.cast(s))
        }
    }

    pub fn wire(&self) -> Wire {
        self.info.wire
    }
}

/// The schema's columns joined with the catalog's; errors name unknown columns.
pub(crate) fn resolve_columns(
    described: &crate::introspect::Described,
    schema: &TableSchema,
) -> Result<Vec<Col>, Error> {
    let mut cols = Vec::with_capacity(schema.columns.len());
    let mut unknown = Vec::new();
    for c in &schema.columns {
        match described.info(&c.name) {
            Some((_, _, info)) => {
                cols.push(Col { column: c.clone(), info: info.clone(), q: quote_ident(&c.name) })
            }
            None => unknown.push(c.name.clone()),
        }
    }
    if !unknown.is_empty() {
        return Err(Error::new(
            ErrorKind::SchemaMismatch,
            format!("table `{}` has no column {}", described.schema.name, unknown_list(&unknown)),
        ));
    }
    Ok(cols)
}

/// Any field, as its raw binary bytes (decoded by [`crate::convert::decode`]).
pub(crate) struct Raw<'a>(pub &'a [u8]);

impl<'a> FromSql<'a> for Raw<'a> {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(Raw(raw))
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

/// Decodes the first `wires.len()` fields of a result row.
pub(crate) fn decode_row(row: &tokio_postgres::Row, wires: &[Wire]) -> Result<Vec<Value>, Error> {
    let mut out = vec![Value::Null; wires.len()];
    for (i, w) in wires.iter().enumerate() {
        let raw: Option<Raw<'_>> =
            row.try_get(i).map_err(|e| Error::new(ErrorKind::Other, format!("read a returned row: {e}")))?;
        if let Some(Raw(bytes)) = raw {
            decode(*w, bytes, &mut out[i])
                .map_err(|r| Error::new(ErrorKind::Conversion, format!("a returned value {r}")))?;
        }
    }
    Ok(out)
}

/// Appends a field; a value that cannot be encoded becomes a problem (and a
/// NULL, so the row stays well-formed; nothing is committed with problems).
pub(crate) fn put(
    buf: &mut BytesMut,
    col: &Col,
    v: &Value,
    problems: &mut Problems,
    at: &dyn Fn() -> String,
) {
    let mark = buf.len();
    if let Err(reason) = encode(col.wire(), v, buf) {
        buf.truncate(mark);
        encode(col.wire(), &Value::Null, buf).ok();
        problems.push(CellProblem {
            at: at(),
            column: col.column.name.clone(),
            type_name: col.column.type_name.clone(),
            value: v.to_string(),
            reason,
        });
    }
}

pub(crate) fn put_plain(buf: &mut BytesMut, wire: Wire, v: &Value) {
    // Invariant: only for values this crate made (row numbers, flags, masks).
    encode(wire, v, buf).ok();
}

/// Creates a temporary staging table and starts a binary COPY into it.
pub(crate) async fn start_stage(
    client: &Client,
    table: &str,
    defs: &[(String, &'static str)],
    what: &(dyn Fn() -> String + Sync),
) -> Result<CopyWriter, Error> {
    let list: Vec<String> = defs.iter().map(|(n, t)| format!("{} {t}", quote_ident(n))).collect();
    client
        .batch_execute(&format!(
            "DROP TABLE IF EXISTS pg_temp.{table}; CREATE TEMP TABLE {table} ({}) ON COMMIT DROP",
            list.join(", ")
        ))
        .await
        .context(what)?;
    CopyWriter::start(client, &format!("COPY pg_temp.{table} FROM STDIN (FORMAT binary)"), what).await
}

fn key_match(cols: &[Col], key_idx: &[usize], t: &str, s: &str) -> String {
    key_idx
        .iter()
        .enumerate()
        .map(|(j, &i)| format!("{t}.{} = {}", cols[i].q, cols[i].cast(&format!("{s}.k{j}"))))
        .collect::<Vec<_>>()
        .join(" AND ")
}

fn key_defs(cols: &[Col], key_idx: &[usize]) -> Vec<(String, &'static str)> {
    key_idx.iter().enumerate().map(|(j, &i)| (format!("k{j}"), cols[i].wire().stage_type())).collect()
}

/// The conflicts as an error: the first ones listed, the rest counted.
pub(crate) fn conflict_error(table: &str, conflicts: &[Conflict]) -> Error {
    Error::conflicts(&format!("apply to `{table}`"), conflicts)
}

impl Target for PgTable<'_> {
    async fn apply(
        &mut self,
        schema: &TableSchema,
        changes: &ChangeSet,
        options: &ApplyOptions,
    ) -> Result<ApplyReport, Error> {
        let described = self.described().await?.clone();
        let table = described.schema.name.to_string();
        if !described.schema.writable() {
            return Err(Error::new(
                ErrorKind::SchemaMismatch,
                format!("`{table}` is a view that cannot be written (it is not automatically updatable)"),
            ));
        }
        if changes.is_empty() {
            return Ok(ApplyReport::default());
        }
        let cols = resolve_columns(&described, schema)?;
        let key_idx = schema.key_indices();
        if key_idx.is_empty() {
            return Err(Error::new(
                ErrorKind::SchemaMismatch,
                format!("`{table}` has no primary key; name the key columns to match rows by"),
            ));
        }
        let what = move || format!("apply to `{table}`");
        let started = std::time::Instant::now();
        let tx = self.conn.client.transaction().await.context(&what)?;
        let mut run = Apply {
            client: tx.client(),
            rel: &described.rel,
            cols: &cols,
            key_idx: &key_idx,
            what: &what,
            report: ApplyReport::default(),
        };
        let result = run.run(changes, options).await;
        let report = match result {
            Ok(report) => report,
            Err(e) => {
                tx.rollback().await.ok();
                return Err(e);
            }
        };
        if options.dry_run {
            tx.rollback().await.context(&what)?;
        } else {
            tx.commit().await.context(&what)?;
        }
        tracing::info!(
            relation = %described.schema.name,
            inserted = report.inserted,
            updated_rows = report.updated_rows,
            updated_cells = report.updated_cells,
            deleted = report.deleted,
            conflicts = report.conflicts.len(),
            dry_run = options.dry_run,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "change set applied"
        );
        Ok(report)
    }
}

struct Apply<'a> {
    client: &'a Client,
    rel: &'a str,
    cols: &'a [Col],
    key_idx: &'a [usize],
    what: &'a (dyn Fn() -> String + Sync),
    report: ApplyReport,
}

/// What step 2 found for one staged change.
struct Found {
    ord: usize,
    /// Per flag column of the query.
    flags: Vec<bool>,
    /// The row's current values of the queried columns.
    values: Vec<Value>,
}

impl Apply<'_> {
    async fn run(&mut self, changes: &ChangeSet, options: &ApplyOptions) -> Result<ApplyReport, Error> {
        let mut problems = Problems::default();
        self.stage_deletes(changes, &mut problems).await?;
        let touched = self.stage_updates(changes, &mut problems).await?;
        let masks = self.stage_inserts(changes, &mut problems).await?;
        problems.into_result(&format!("apply to `{}`", self.rel))?;

        let mut conflicts = Vec::new();
        let del_skip = self.check_deletes(changes, &mut conflicts).await?;
        let (upd_skip, upd_rows, upd_cells) = self.check_updates(changes, &touched, &mut conflicts).await?;
        let ins_skip = self.check_inserts(changes, &mut conflicts).await?;

        if !conflicts.is_empty() && options.on_conflict == OnConflict::Abort {
            return Err(conflict_error(self.rel, &conflicts));
        }
        self.write_deletes(changes, &del_skip).await?;
        self.write_updates(changes, &touched, &upd_skip, upd_rows).await?;
        self.report.updated_cells = upd_cells;
        self.write_inserts(changes, &masks, &ins_skip, options.dry_run).await?;
        self.report.conflicts = conflicts;
        Ok(std::mem::take(&mut self.report))
    }

    fn key_defs(&self) -> Vec<(String, &'static str)> {
        key_defs(self.cols, self.key_idx)
    }

    fn put_key(&self, buf: &mut BytesMut, key: &Key, problems: &mut Problems) -> Result<(), Error> {
        if key.0.len() != self.key_idx.len() {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                format!(
                    "key {key} has {} values, the table's key has {} columns",
                    key.0.len(),
                    self.key_idx.len()
                ),
            ));
        }
        for (v, &i) in key.0.iter().zip(self.key_idx) {
            put(buf, &self.cols[i], v, problems, &|| format!("key {key}"));
        }
        Ok(())
    }

    fn check_column(&self, index: usize, writing: bool) -> Result<&Col, Error> {
        let col = self.cols.get(index).ok_or_else(|| {
            Error::new(
                ErrorKind::InvalidInput,
                format!("a change names column {index}, the schema has {}", self.cols.len()),
            )
        })?;
        if writing && col.column.read_only {
            return Err(Error::new(
                ErrorKind::SchemaMismatch,
                format!(
                    "column `{}` of `{}` cannot be written (generated or read-only)",
                    col.column.name, self.rel
                ),
            ));
        }
        Ok(col)
    }

    /// Runs a step-2 query: `SELECT s.ord, flags..., values... FROM ... FOR UPDATE OF t`.
    async fn find(
        &self,
        select: &str,
        flags: usize,
        value_cols: &[usize],
        from: &str,
    ) -> Result<Vec<Found>, Error> {
        self.client
            .execute(&format!("SELECT 1 FROM {from} FOR UPDATE OF t"), &[])
            .await
            .context(self.what)?;
        let mut wires = vec![Wire::Int8];
        wires.extend(std::iter::repeat_n(Wire::Bool, flags));
        wires.extend(value_cols.iter().map(|&i| self.cols[i].wire()));
        let names = (0..wires.len()).map(|i| format!("field {i}")).collect();
        let mut decoder = CopyDecoder::new(wires, names);
        let mut found: Vec<Found> = Vec::new();
        let sql = format!("COPY (SELECT {select} FROM {from}) TO STDOUT (FORMAT binary)");
        copy_out_rows(self.client, &sql, &mut decoder, self.what, |row| {
            let Value::Int(ord) = row[0] else { return Ok(()) };
            let flag_values = row[1..=flags].iter().map(|v| matches!(v, Value::Bool(true))).collect();
            let values = row[1 + flags..].to_vec();
            found.push(Found { ord: ord as usize, flags: flag_values, values });
            Ok(())
        })
        .await?;
        found.sort_by_key(|f| f.ord);
        if let Some(w) = found.windows(2).find(|w| w[0].ord == w[1].ord) {
            return Err(Error::new(
                ErrorKind::SchemaMismatch,
                format!(
                    "`{}`: a key matches more than one row (change {}); the key columns are not unique",
                    self.rel, w[0].ord
                ),
            ));
        }
        Ok(found)
    }

    // ----- deletes

    async fn stage_deletes(&self, changes: &ChangeSet, problems: &mut Problems) -> Result<(), Error> {
        if changes.deletes.is_empty() {
            return Ok(());
        }
        let mut defs = vec![("ord".to_owned(), "int8"), ("guarded".to_owned(), "bool")];
        defs.extend(self.key_defs());
        defs.extend(self.cols.iter().enumerate().map(|(i, c)| (format!("o{i}"), c.wire().stage_type())));
        let mut w = start_stage(self.client, "sheetbridge_del", &defs, self.what).await?;
        for (ord, d) in changes.deletes.iter().enumerate() {
            w.begin_row(defs.len());
            put_plain(w.buf(), Wire::Int8, &Value::Int(ord as i64));
            put_plain(w.buf(), Wire::Bool, &Value::Bool(d.old.is_some()));
            self.put_key(w.buf(), &d.key, problems)?;
            for (i, c) in self.cols.iter().enumerate() {
                let v = d.old.as_ref().and_then(|o| o.get(i)).unwrap_or(&Value::Null);
                put(w.buf(), c, v, problems, &|| format!("key {}", d.key));
            }
            w.end_row(self.what).await?;
        }
        w.finish(self.what).await?;
        Ok(())
    }

    fn all_columns(&self) -> Vec<usize> {
        (0..self.cols.len()).collect()
    }

    /// Ords of deletes not to run (row gone: a no-op; row changed: a conflict).
    async fn check_deletes(
        &self,
        changes: &ChangeSet,
        conflicts: &mut Vec<Conflict>,
    ) -> Result<Vec<i64>, Error> {
        if changes.deletes.is_empty() {
            return Ok(Vec::new());
        }
        let all = self.all_columns();
        let flags: Vec<String> = self
            .cols
            .iter()
            .enumerate()
            .map(|(i, c)| c.holds_read(&format!("t.{}", c.q), &format!("s.o{i}")))
            .collect();
        let values: Vec<String> =
            self.cols.iter().map(|c| c.wire().select_expr(&format!("t.{}", c.q))).collect();
        let select = format!("s.ord, {}, {}", flags.join(", "), values.join(", "));
        let from = format!(
            "pg_temp.sheetbridge_del s JOIN {} t ON {}",
            self.rel,
            key_match(self.cols, self.key_idx, "t", "s")
        );
        let found = self.find(&select, all.len(), &all, &from).await?;
        let mut present = vec![false; changes.deletes.len()];
        let mut skip = Vec::new();
        for f in found {
            present[f.ord] = true;
            let d = &changes.deletes[f.ord];
            if d.old.is_none() {
                continue;
            }
            let mut moved = false;
            for (i, holds) in f.flags.iter().enumerate() {
                if !holds {
                    moved = true;
                    let expected = d.old.as_ref().and_then(|o| o.get(i)).cloned().unwrap_or(Value::Null);
                    conflicts.push(Conflict {
                        key: d.key.clone(),
                        column: Some(self.cols[i].column.name.clone()),
                        expected,
                        found: f.values[i].clone(),
                    });
                }
            }
            if moved {
                skip.push(f.ord as i64);
            }
        }
        skip.extend(present.iter().enumerate().filter(|(_, p)| !**p).map(|(i, _)| i as i64));
        Ok(skip)
    }

    async fn write_deletes(&mut self, changes: &ChangeSet, skip: &[i64]) -> Result<(), Error> {
        if changes.deletes.is_empty() {
            return Ok(());
        }
        let guards: Vec<String> = self
            .cols
            .iter()
            .enumerate()
            .map(|(i, c)| c.holds_read(&format!("t.{}", c.q), &format!("s.o{i}")))
            .collect();
        let sql = format!(
            "DELETE FROM {} t USING pg_temp.sheetbridge_del s WHERE {} AND s.ord <> ALL($1) AND (NOT s.guarded OR ({}))",
            self.rel,
            key_match(self.cols, self.key_idx, "t", "s"),
            guards.join(" AND ")
        );
        let n = self.client.execute(&sql, &[&skip]).await.context(self.what)?;
        let expected = (changes.deletes.len() - skip.len()) as u64;
        self.expect_count("deleted", n, expected)?;
        self.report.deleted = n;
        Ok(())
    }

    fn expect_count(&self, verb: &str, n: u64, expected: u64) -> Result<(), Error> {
        if n != expected {
            return Err(Error::new(
                ErrorKind::Retryable,
                format!(
                    "apply to `{}`: {verb} {n} rows, expected {expected}; rows changed meanwhile",
                    self.rel
                ),
            ));
        }
        Ok(())
    }

    // ----- updates

    /// Stages updates; returns the columns any update touches.
    async fn stage_updates(&self, changes: &ChangeSet, problems: &mut Problems) -> Result<Vec<usize>, Error> {
        if changes.updates.is_empty() {
            return Ok(Vec::new());
        }
        let mut touched = Vec::new();
        for u in &changes.updates {
            for c in &u.cells {
                self.check_column(c.column, true)?;
                if !touched.contains(&c.column) {
                    touched.push(c.column);
                }
            }
        }
        touched.sort_unstable();
        let mut defs = vec![("ord".to_owned(), "int8")];
        defs.extend(self.key_defs());
        for &i in &touched {
            let t = self.cols[i].wire().stage_type();
            defs.extend([(format!("u{i}"), "bool"), (format!("n{i}"), t), (format!("o{i}"), t)]);
        }
        let mut w = start_stage(self.client, "sheetbridge_upd", &defs, self.what).await?;
        for (ord, u) in changes.updates.iter().enumerate() {
            w.begin_row(defs.len());
            put_plain(w.buf(), Wire::Int8, &Value::Int(ord as i64));
            self.put_key(w.buf(), &u.key, problems)?;
            for &i in &touched {
                let cell = u.cells.iter().find(|c| c.column == i);
                put_plain(w.buf(), Wire::Bool, &Value::Bool(cell.is_some()));
                let (new, old) = cell.map_or((&Value::Null, &Value::Null), |c| (&c.new, &c.old));
                put(w.buf(), &self.cols[i], new, problems, &|| format!("key {}", u.key));
                put(w.buf(), &self.cols[i], old, problems, &|| format!("key {}", u.key));
            }
            w.end_row(self.what).await?;
        }
        w.finish(self.what).await?;
        Ok(touched)
    }

    /// Returns the ords to skip, the rows to update and the cells that change.
    async fn check_updates(
        &self,
        changes: &ChangeSet,
        touched: &[usize],
        conflicts: &mut Vec<Conflict>,
    ) -> Result<(Vec<i64>, u64, u64), Error> {
        if changes.updates.is_empty() {
            return Ok((Vec::new(), 0, 0));
        }
        let mut flags = Vec::new();
        for &i in touched {
            let c = &self.cols[i];
            let t = format!("t.{}", c.q);
            flags.push(c.holds_read(&t, &format!("s.o{i}")));
            flags.push(c.holds_new(&t, &format!("s.n{i}")));
        }
        let values: Vec<String> = touched
            .iter()
            .map(|&i| self.cols[i].wire().select_expr(&format!("t.{}", self.cols[i].q)))
            .collect();
        let select = format!("s.ord, {}, {}", flags.join(", "), values.join(", "));
        let from = format!(
            "pg_temp.sheetbridge_upd s JOIN {} t ON {}",
            self.rel,
            key_match(self.cols, self.key_idx, "t", "s")
        );
        let found = self.find(&select, flags.len(), touched, &from).await?;
        let mut present = vec![false; changes.updates.len()];
        let mut skip = Vec::new();
        let (mut rows, mut cells) = (0u64, 0u64);
        for f in found {
            present[f.ord] = true;
            let u = &changes.updates[f.ord];
            let mut moved = false;
            let mut changing = 0u64;
            for cell in &u.cells {
                let Some(pos) = touched.iter().position(|&i| i == cell.column) else { continue };
                let (holds_old, holds_new) = (f.flags[2 * pos], f.flags[2 * pos + 1]);
                if holds_new {
                    continue;
                }
                if holds_old {
                    changing += 1;
                } else {
                    moved = true;
                    conflicts.push(Conflict {
                        key: u.key.clone(),
                        column: Some(self.cols[cell.column].column.name.clone()),
                        expected: cell.old.clone(),
                        found: f.values[pos].clone(),
                    });
                }
            }
            if moved || changing == 0 {
                skip.push(f.ord as i64);
            } else {
                rows += 1;
                cells += changing;
            }
        }
        for (ord, _) in present.iter().enumerate().filter(|(_, p)| !**p) {
            let u = &changes.updates[ord];
            conflicts.push(Conflict {
                key: u.key.clone(),
                column: None,
                expected: Value::Null,
                found: Value::Null,
            });
            skip.push(ord as i64);
        }
        Ok((skip, rows, cells))
    }

    async fn write_updates(
        &mut self,
        changes: &ChangeSet,
        touched: &[usize],
        skip: &[i64],
        expected: u64,
    ) -> Result<(), Error> {
        if changes.updates.is_empty() || expected == 0 {
            return Ok(());
        }
        let mut sets = Vec::new();
        let mut guards = Vec::new();
        for &i in touched {
            let c = &self.cols[i];
            let t = format!("t.{}", c.q);
            sets.push(format!("{} = CASE WHEN s.u{i} THEN {} ELSE {t} END", c.q, c.cast(&format!("s.n{i}"))));
            guards.push(format!(
                "(NOT s.u{i} OR {} OR {})",
                c.holds_read(&t, &format!("s.o{i}")),
                c.holds_new(&t, &format!("s.n{i}"))
            ));
        }
        let sql = format!(
            "UPDATE {} t SET {} FROM pg_temp.sheetbridge_upd s WHERE {} AND s.ord <> ALL($1) AND {}",
            self.rel,
            sets.join(", "),
            key_match(self.cols, self.key_idx, "t", "s"),
            guards.join(" AND ")
        );
        let n = self.client.execute(&sql, &[&skip]).await.context(self.what)?;
        self.expect_count("updated", n, expected)?;
        self.report.updated_rows = n;
        Ok(())
    }

    // ----- inserts

    /// Columns an insert writes: all but generated-stored and read-only ones.
    fn insert_columns(&self) -> Vec<usize> {
        self.cols
            .iter()
            .enumerate()
            .filter(|(_, c)| !c.column.read_only && c.column.generated != Generated::Stored)
            .map(|(i, _)| i)
            .collect()
    }

    /// Which key columns an insert leaves to the database: a bit per key
    /// column that is empty and fills itself.
    fn mask_of(&self, row: &[Value]) -> u32 {
        let mut mask = 0;
        for (j, &i) in self.key_idx.iter().enumerate() {
            let v = row.get(i).unwrap_or(&Value::Null);
            let empty = v.is_null() || matches!(v, Value::Text(t) if t.is_empty());
            if empty && self.cols[i].column.fills_itself() {
                mask |= 1 << j;
            }
        }
        mask
    }

    /// Stages inserts; returns the distinct masks, in first-seen order.
    async fn stage_inserts(&self, changes: &ChangeSet, problems: &mut Problems) -> Result<Vec<u32>, Error> {
        if changes.inserts.is_empty() {
            return Ok(Vec::new());
        }
        let ins = self.insert_columns();
        let mut defs = vec![("ord".to_owned(), "int8"), ("mask".to_owned(), "int4")];
        defs.extend(ins.iter().map(|&i| (format!("c{i}"), self.cols[i].wire().stage_type())));
        let mut w = start_stage(self.client, "sheetbridge_ins", &defs, self.what).await?;
        let mut masks = Vec::new();
        for (ord, row) in changes.inserts.iter().enumerate() {
            if row.len() != self.cols.len() {
                return Err(Error::new(
                    ErrorKind::InvalidInput,
                    format!(
                        "insert {} has {} values, the schema has {} columns",
                        ord + 1,
                        row.len(),
                        self.cols.len()
                    ),
                ));
            }
            let mask = self.mask_of(row);
            if !masks.contains(&mask) {
                masks.push(mask);
            }
            w.begin_row(defs.len());
            put_plain(w.buf(), Wire::Int8, &Value::Int(ord as i64));
            put_plain(w.buf(), Wire::Int4, &Value::Int(mask.into()));
            for &i in &ins {
                let v = if self.key_idx.iter().position(|&k| k == i).is_some_and(|j| mask & (1 << j) != 0) {
                    &Value::Null
                } else {
                    &row[i]
                };
                put(w.buf(), &self.cols[i], v, problems, &|| format!("insert {}", ord + 1));
            }
            w.end_row(self.what).await?;
        }
        w.finish(self.what).await?;
        Ok(masks)
    }

    /// Ords of inserts whose key already exists (same values: a no-op; other
    /// values: a conflict).
    async fn check_inserts(
        &self,
        changes: &ChangeSet,
        conflicts: &mut Vec<Conflict>,
    ) -> Result<Vec<i64>, Error> {
        if changes.inserts.is_empty() {
            return Ok(Vec::new());
        }
        let ins = self.insert_columns();
        let flags: Vec<String> = ins
            .iter()
            .map(|&i| self.cols[i].holds_new(&format!("t.{}", self.cols[i].q), &format!("s.c{i}")))
            .collect();
        let values: Vec<String> =
            ins.iter().map(|&i| self.cols[i].wire().select_expr(&format!("t.{}", self.cols[i].q))).collect();
        let matches: Vec<String> = self
            .key_idx
            .iter()
            .map(|&i| format!("t.{} = {}", self.cols[i].q, self.cols[i].cast(&format!("s.c{i}"))))
            .collect();
        let select = format!("s.ord, {}, {}", flags.join(", "), values.join(", "));
        let from = format!(
            "pg_temp.sheetbridge_ins s JOIN {} t ON {} WHERE s.mask = 0 \
             AND NOT EXISTS (SELECT 1 FROM pg_temp.sheetbridge_del d WHERE {})",
            self.rel,
            matches.join(" AND "),
            self.deleted_key_match()
        );
        let from = if changes.deletes.is_empty() {
            format!(
                "pg_temp.sheetbridge_ins s JOIN {} t ON {} WHERE s.mask = 0",
                self.rel,
                matches.join(" AND ")
            )
        } else {
            from
        };
        let found = self.find(&select, flags.len(), &ins, &from).await?;
        let mut skip = Vec::new();
        for f in found {
            skip.push(f.ord as i64);
            let row = &changes.inserts[f.ord];
            for (pos, &i) in ins.iter().enumerate() {
                if !f.flags[pos] {
                    conflicts.push(Conflict {
                        key: Key(self.key_idx.iter().map(|&k| row[k].clone()).collect()),
                        column: Some(self.cols[i].column.name.clone()),
                        expected: row[i].clone(),
                        found: f.values[pos].clone(),
                    });
                }
            }
        }
        Ok(skip)
    }

    /// The staged insert `s` has the key of a staged delete `d`.
    fn deleted_key_match(&self) -> String {
        self.key_idx
            .iter()
            .enumerate()
            .map(|(j, &i)| {
                format!(
                    "{} = {}",
                    self.cols[i].cast(&format!("d.k{j}")),
                    self.cols[i].cast(&format!("s.c{i}"))
                )
            })
            .collect::<Vec<_>>()
            .join(" AND ")
    }

    async fn write_inserts(
        &mut self,
        changes: &ChangeSet,
        masks: &[u32],
        skip: &[i64],
        dry_run: bool,
    ) -> Result<(), Error> {
        let ins = self.insert_columns();
        let mut generated: Vec<(i64, Key)> = Vec::new();
        for &mask in masks {
            let cols: Vec<usize> = ins
                .iter()
                .copied()
                .filter(|i| self.key_idx.iter().position(|k| k == i).is_none_or(|j| mask & (1 << j) == 0))
                .collect();
            let names: Vec<&str> = cols.iter().map(|&i| self.cols[i].q.as_str()).collect();
            let values: Vec<String> = cols.iter().map(|&i| self.cols[i].cast(&format!("s.c{i}"))).collect();
            let overriding = cols.iter().any(|&i| self.cols[i].column.generated == Generated::Always);
            let returning: Vec<String> =
                self.key_idx.iter().map(|&i| self.cols[i].wire().select_expr(&self.cols[i].q)).collect();
            let sql = format!(
                "INSERT INTO {} ({}) {}SELECT {} FROM pg_temp.sheetbridge_ins s \
                 WHERE s.mask = {mask} AND s.ord <> ALL($1) ORDER BY s.ord{}",
                self.rel,
                names.join(", "),
                if overriding { "OVERRIDING SYSTEM VALUE " } else { "" },
                values.join(", "),
                if mask == 0 { String::new() } else { format!(" RETURNING {}", returning.join(", ")) },
            );
            if mask == 0 {
                self.report.inserted += self.client.execute(&sql, &[&skip]).await.context(self.what)?;
            } else {
                // RETURNING yields rows in the order INSERT ... SELECT ... ORDER BY
                // inserted them, which is change-set order.
                let rows = self.client.query(&sql, &[&skip]).await.context(self.what)?;
                let ords: Vec<i64> = changes
                    .inserts
                    .iter()
                    .enumerate()
                    .filter(|(o, r)| self.mask_of(r) == mask && !skip.contains(&(*o as i64)))
                    .map(|(o, _)| o as i64)
                    .collect();
                if ords.len() != rows.len() {
                    return Err(Error::new(
                        ErrorKind::Other,
                        format!("apply to `{}`: insert count mismatch", self.rel),
                    ));
                }
                let wires: Vec<Wire> = self.key_idx.iter().map(|&i| self.cols[i].wire()).collect();
                for (ord, row) in ords.into_iter().zip(&rows) {
                    generated.push((ord, Key(decode_row(row, &wires)?)));
                }
                self.report.inserted += rows.len() as u64;
            }
        }
        generated.sort_by_key(|(o, _)| *o);
        if !dry_run {
            self.report.generated_keys = generated.into_iter().map(|(_, k)| k).collect();
        }
        Ok(())
    }
}
