//! Bulk import of a whole file into a table, memory flat, one transaction.
//!
//! - **Insert**: rows are streamed by binary COPY straight into the table
//!   (the fast path). Rows whose key is empty and fills itself go to a
//!   staging table in batches and are inserted with the database's keys. A
//!   key that already exists is an error naming the key and the sheet row;
//!   nothing is written.
//! - **Upsert** / **Mirror**: rows are staged with their sheet row number;
//!   then, in SQL, duplicate keys in the file are refused (`key 17 is on rows
//!   5 and 9`), the stage is compared with the table (new keys are inserts,
//!   rows whose supplied columns differ are updates, identical rows are left
//!   alone; Mirror also deletes table rows absent from the file), and the
//!   table values read are kept in a temporary diff table. The writes are
//!   guarded by those values, so a row an application changed meanwhile is
//!   reported as a conflict, never overwritten. Columns the file does not
//!   supply keep their values.
//! - **Empty cells**: an empty cell is NULL, except in a column that is NOT
//!   NULL and has a default (or fills itself): there a new row takes the
//!   default (the column is left out of its insert; in insert mode such rows
//!   take the side path), and an existing row is an error naming the sheet
//!   row and column, since its default only applies to new rows. A not-null
//!   violation Postgres raises names the column and, where known, the sheet
//!   rows, not the server's text.
//!
//! [`Importer::plan`] counts what would happen and shows a sample;
//! [`Importer::commit`] writes; [`Importer::rollback`] (or dropping the
//! importer) leaves the table as it was: a dry run is `plan` then `rollback`.

use std::fmt;

use bytes::BytesMut;
use sheetbridge_core::schema::{Generated, RelationKind};
use sheetbridge_core::{
    ApplyReport, CellProblem, Conflict, Error, ErrorKind, Key, Problems, TableSchema, Value,
};
use tokio_postgres::error::SqlState;
use tokio_postgres::Transaction;

use crate::convert::{quote_ident, Direct, Wire};
use crate::copy::{copy_out_rows, CopyDecoder, CopyWriter};
use crate::error::{describe_db, Context};
use crate::introspect::describe;
use crate::target::{conflict_error, decode_row, put_plain, resolve_columns, Col};
use crate::PgConn;

/// How an import treats the rows already in the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportMode {
    /// Add the file's rows; a key already in the table is an error.
    Insert,
    /// Insert new keys, update rows whose supplied columns differ.
    Upsert,
    /// As upsert, and delete table rows whose key is not in the file.
    Mirror,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlannedAction {
    Insert,
    Update,
    Delete,
}

/// One change of a plan's sample: a row inserted or deleted, or one cell updated.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedChange {
    pub key: Key,
    pub action: PlannedAction,
    /// The cell's column, for updates.
    pub column: Option<String>,
    pub old: Value,
    pub new: Value,
}

/// What an import will do.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ImportPlan {
    /// Rows in the file.
    pub rows: u64,
    pub inserts: u64,
    /// Rows that differ in at least one supplied column.
    pub updates: u64,
    pub updated_cells: u64,
    /// Rows of the file identical to the table's.
    pub unchanged: u64,
    pub deletes: u64,
    /// The first changes, in sheet row order (deletes last).
    pub sample: Vec<PlannedChange>,
}

impl fmt::Display for PlannedChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.action {
            PlannedAction::Insert => write!(f, "insert key {}", self.key),
            PlannedAction::Delete => write!(f, "delete key {}", self.key),
            PlannedAction::Update => write!(
                f,
                "update key {} column `{}`: {} → {}",
                self.key,
                self.column.as_deref().unwrap_or("?"),
                self.old,
                self.new
            ),
        }
    }
}

/// Side-path rows gathered before they are staged in one go.
const SIDE_BATCH: usize = 10_000;
/// Keys kept for an insert plan's sample.
const SAMPLE_KEEP: usize = 1_000;
/// Duplicate keys listed in an error.
const LISTED_DUPLICATES: i64 = 50;
/// Existing rows with empty cells in NOT NULL columns listed in an error.
const LISTED_EMPTY_EXISTING: i64 = 50;
/// Sheet rows kept per NOT NULL column whose cell was empty, to name them
/// when Postgres refuses the null.
const LISTED_EMPTY_ROWS: usize = 10;
/// Columns a row's `fill` bits can mark (an `int8`).
const FILL_BITS: usize = 64;

/// A written NOT NULL column an empty cell cannot fill, with the first sheet
/// rows where its cell was empty.
struct EmptyCells {
    /// Position in `supplied`.
    pos: usize,
    /// Schema index.
    col: usize,
    rows: Vec<u32>,
    count: u64,
}

/// An import in progress, inside its own transaction.
pub struct Importer<'c> {
    tx: Transaction<'c>,
    table: String,
    rel: String,
    /// The schema's columns, joined with the catalog's.
    cols: Vec<Col>,
    /// Schema indices the file supplies, in row order.
    supplied: Vec<usize>,
    /// Positions in `supplied` that are written (not generated or read-only).
    written: Vec<usize>,
    key_idx: Vec<usize>,
    mode: ImportMode,
    /// Encoders for the direct COPY into the table (Insert mode on a table
    /// whose written columns all have a known binary form).
    direct: Option<Vec<Direct>>,
    direct_writer: Option<CopyWriter>,
    /// Sheet row numbers of the current direct COPY, to name a failing row.
    segment_rows: Vec<u32>,
    stage_writer: Option<CopyWriter>,
    /// Side-path rows: sheet row, key mask, fill bits, values.
    side: Vec<(u32, u32, u64, Vec<Value>)>,
    /// The distinct (key mask, fill bits) of the rows: one insert each.
    masks: Vec<(u32, u64)>,
    /// Written non-key columns that are NOT NULL and fill themselves, as
    /// (position in `supplied`, schema index): an empty cell there means the
    /// default in a new row. Bit n of a row's fill bits marks `defaults[n]`
    /// empty; past [`FILL_BITS`] columns an empty cell stays NULL.
    defaults: Vec<(usize, usize)>,
    empties: Vec<EmptyCells>,
    problems: Problems,
    rows: u64,
    direct_rows: u64,
    first_keys: Vec<Key>,
    plan: Option<ImportPlan>,
    generated: Vec<Key>,
}

impl PgConn {
    /// Starts an import of rows supplying `columns` (indices into `schema`)
    /// in `mode`, in a transaction of its own.
    pub async fn begin_import(
        &mut self,
        schema: &TableSchema,
        columns: &[usize],
        mode: ImportMode,
    ) -> Result<Importer<'_>, Error> {
        let described = describe(&self.client, &schema.name).await?;
        let table = described.schema.name.to_string();
        if !described.schema.writable() {
            return Err(Error::new(
                ErrorKind::SchemaMismatch,
                format!("import into `{table}`: it is a view that cannot be written"),
            ));
        }
        let cols = resolve_columns(&described, schema)?;
        if let Some(bad) = columns.iter().find(|&&i| i >= cols.len()) {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                format!("import: column index {bad} is not in the schema"),
            ));
        }
        let key_idx = schema.key_indices();
        if mode != ImportMode::Insert {
            if key_idx.is_empty() {
                return Err(Error::new(
                    ErrorKind::SchemaMismatch,
                    format!("import into `{table}`: upsert and mirror match rows by key, and the table has no primary key; name the key columns, or import in insert mode"),
                ));
            }
            let missing: Vec<String> = key_idx
                .iter()
                .filter(|k| !columns.contains(k))
                .map(|&k| format!("`{}`", cols[k].column.name))
                .collect();
            if !missing.is_empty() {
                return Err(Error::new(
                    ErrorKind::InvalidInput,
                    format!("import into `{table}`: the file has no key column {}", missing.join(", ")),
                ));
            }
        }
        let written: Vec<usize> = (0..columns.len())
            .filter(|&p| {
                let c = &cols[columns[p]].column;
                !c.read_only && c.generated != Generated::Stored
            })
            .collect();
        let mut defaults: Vec<(usize, usize)> = written
            .iter()
            .map(|&p| (p, columns[p]))
            .filter(|&(_, i)| {
                let c = &cols[i].column;
                !key_idx.contains(&i) && !c.nullable && c.fills_itself()
            })
            .collect();
        defaults.truncate(FILL_BITS);
        let empties = written
            .iter()
            .map(|&p| (p, columns[p]))
            .filter(|&(_, i)| {
                let c = &cols[i].column;
                let fills = if key_idx.contains(&i) {
                    c.fills_itself()
                } else {
                    defaults.iter().any(|&(_, d)| d == i)
                };
                !c.nullable && !fills
            })
            .map(|(pos, col)| EmptyCells { pos, col, rows: Vec::new(), count: 0 })
            .collect();
        let direct = if mode == ImportMode::Insert && described.schema.kind == RelationKind::Table {
            written
                .iter()
                .map(|&p| {
                    let c = &cols[columns[p]];
                    Direct::of(c.wire(), &c.column.ty, &c.info.base)
                })
                .collect::<Option<Vec<_>>>()
        } else {
            None
        };
        let what_text = format!("import into `{table}`");
        let what = || what_text.clone();
        let tx = self.client.transaction().await.context(what)?;
        let mut importer = Importer {
            tx,
            table,
            rel: described.rel.clone(),
            cols,
            supplied: columns.to_vec(),
            written,
            key_idx,
            mode,
            direct,
            direct_writer: None,
            segment_rows: Vec::new(),
            stage_writer: None,
            side: Vec::new(),
            masks: Vec::new(),
            defaults,
            empties,
            problems: Problems::default(),
            rows: 0,
            direct_rows: 0,
            first_keys: Vec::new(),
            plan: None,
            generated: Vec::new(),
        };
        importer.create_stage().await?;
        Ok(importer)
    }
}

impl<'c> Importer<'c> {
    fn what(&self) -> impl Fn() -> String + Sync + 'static {
        let text = format!("import into `{}`", self.table);
        move || text.clone()
    }

    fn stage_defs(&self) -> Vec<(String, &'static str)> {
        let mut defs =
            vec![("row_number".to_owned(), "int4"), ("mask".to_owned(), "int4"), ("fill".to_owned(), "int8")];
        defs.extend(self.written.iter().map(|&p| {
            let i = self.supplied[p];
            (format!("c{i}"), self.cols[i].wire().stage_type())
        }));
        defs
    }

    async fn create_stage(&mut self) -> Result<(), Error> {
        let what = self.what();
        let list: Vec<String> =
            self.stage_defs().iter().map(|(n, t)| format!("{} {t}", quote_ident(n))).collect();
        self.tx
            .batch_execute(&format!(
                "DROP TABLE IF EXISTS pg_temp.sheetbridge_import; \
                 CREATE TEMP TABLE sheetbridge_import ({}) ON COMMIT DROP",
                list.join(", ")
            ))
            .await
            .context(&what)?;
        Ok(())
    }

    async fn start_stage_copy(&mut self) -> Result<(), Error> {
        if self.stage_writer.is_none() {
            let what = self.what();
            let w = CopyWriter::start(
                self.tx.client(),
                "COPY pg_temp.sheetbridge_import FROM STDIN (FORMAT binary)",
                &what,
            )
            .await?;
            self.stage_writer = Some(w);
        }
        Ok(())
    }

    async fn finish_stage_copy(&mut self) -> Result<(), Error> {
        if let Some(w) = self.stage_writer.take() {
            let what = self.what();
            w.finish(&what).await?;
        }
        Ok(())
    }

    async fn finish_direct_copy(&mut self) -> Result<(), Error> {
        if let Some(w) = self.direct_writer.take() {
            let what = self.what();
            let result = w.finish(&what).await;
            self.map_copy_error(result)?;
            self.segment_rows.clear();
        }
        Ok(())
    }

    /// A unique or not-null violation during the direct COPY names the key
    /// or column, and the sheet row.
    fn map_copy_error<T>(&self, result: Result<T, Error>) -> Result<T, Error> {
        let e = match result {
            Ok(v) => return Ok(v),
            Err(e) => e,
        };
        let Some(db) = std::error::Error::source(&e)
            .and_then(|s| s.downcast_ref::<tokio_postgres::Error>())
            .and_then(|pg| pg.as_db_error())
        else {
            return Err(e);
        };
        let line = db
            .where_()
            .and_then(|w| w.rsplit("line ").next())
            .and_then(|n| n.split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|n| n.parse::<usize>().ok());
        let row = line.and_then(|l| self.segment_rows.get(l.wrapping_sub(1)));
        if let Some(not_null) = self.not_null_error(db, row.copied()) {
            return Err(not_null);
        }
        if db.code() != &SqlState::UNIQUE_VIOLATION {
            return Err(e);
        }
        let key = db
            .detail()
            .and_then(|d| d.strip_prefix("Key "))
            .and_then(|d| d.strip_suffix(" already exists."))
            .map_or_else(|| describe_db(db), str::to_owned);
        let place = row.map(|r| format!(" on row {r}")).unwrap_or_default();
        Err(Error::new(
            ErrorKind::InvalidInput,
            format!(
                "import into `{}`: key {key}{place} is already in the table (or earlier in the file); \
                 insert mode only adds new rows (use upsert to update existing ones), nothing was written",
                self.table
            ),
        ))
    }

    /// A not-null violation, told by the column and the sheet rows whose
    /// cell was empty (`row` when the failing row is known, else the first
    /// rows noted), not by the server's text. `None` for other errors, and
    /// for a violation naming no column (a domain's NOT NULL).
    fn not_null_error(&self, db: &tokio_postgres::error::DbError, row: Option<u32>) -> Option<Error> {
        if db.code() != &SqlState::NOT_NULL_VIOLATION {
            return None;
        }
        let name = db.column()?;
        let table = &self.table;
        let i = self.cols.iter().position(|c| c.column.name == name);
        let supplied = i.is_some_and(|i| self.written.iter().any(|&p| self.supplied[p] == i));
        let message = if !supplied {
            format!(
                "import into `{table}`: column `{name}` is NOT NULL and has no default, and the file has no such \
                 column, so new rows get no value for it; nothing was written"
            )
        } else {
            let noted = self.empties.iter().find(|e| Some(e.col) == i);
            let (rows, count) = match (row, noted) {
                (Some(r), _) => (vec![r], 1),
                (None, Some(e)) => (e.rows.clone(), e.count),
                (None, None) => (Vec::new(), 0),
            };
            let default =
                if i.is_some_and(|i| self.cols[i].column.fills_itself()) { "" } else { ", no default" };
            let rows: Vec<String> = rows.iter().map(u32::to_string).collect();
            let place = match rows.split_last() {
                None => String::new(),
                Some((only, [])) => format!(" row {only}:"),
                Some((last, rest)) => {
                    let more = count.saturating_sub(rows.len() as u64);
                    let more = if more > 0 { format!(" (and {more} more)") } else { String::new() };
                    format!(" rows {} and {last}{more}:", rest.join(", "))
                }
            };
            if place.is_empty() {
                format!(
                    "import into `{table}`: a row got no value for `{name}` (NOT NULL{default}); nothing was written"
                )
            } else {
                format!(
                    "import into `{table}`{place} an empty cell is not allowed in `{name}` (NOT NULL{default}); \
                     nothing was written"
                )
            }
        };
        Some(Error::new(ErrorKind::InvalidInput, message))
    }

    fn mask_of(&self, row: &[Value]) -> u32 {
        let mut mask = 0;
        for (j, k) in self.key_idx.iter().enumerate() {
            let Some(p) = self.supplied.iter().position(|s| s == k) else { continue };
            let v = &row[p];
            let empty = v.is_null() || matches!(v, Value::Text(t) if t.is_empty());
            if empty && self.cols[*k].column.fills_itself() {
                mask |= 1 << j;
            }
        }
        mask
    }

    /// Bit n set: the cell of `defaults[n]` is empty, so a new row takes the
    /// column's default.
    fn fill_of(&self, row: &[Value]) -> u64 {
        let mut fill = 0;
        for (n, &(p, _)) in self.defaults.iter().enumerate() {
            if row[p].is_null() {
                fill |= 1 << n;
            }
        }
        fill
    }

    /// Remembers the first rows whose cell is empty in a NOT NULL column
    /// nothing fills, to name them if Postgres refuses the null.
    fn note_empties(&mut self, row_number: u32, row: &[Value]) {
        for e in &mut self.empties {
            if row[e.pos].is_null() {
                e.count += 1;
                if e.rows.len() < LISTED_EMPTY_ROWS {
                    e.rows.push(row_number);
                }
            }
        }
    }

    /// Whether column `i` is left out of the insert of rows with `mask` and
    /// `fill`, so the database fills it.
    fn omitted(&self, i: usize, mask: u32, fill: u64) -> bool {
        (mask != 0 && self.key_idx.iter().position(|&k| k == i).is_some_and(|j| mask & (1 << j) != 0))
            || (fill != 0
                && self.defaults.iter().position(|&(_, d)| d == i).is_some_and(|n| fill & (1 << n) != 0))
    }

    fn key_of(&self, row: &[Value]) -> Key {
        Key(self
            .key_idx
            .iter()
            .map(|k| self.supplied.iter().position(|s| s == k).map_or(Value::Null, |p| row[p].clone()))
            .collect())
    }

    /// Encodes the written fields of `row`; returns false (and records
    /// problems) when a value does not fit its column.
    fn encode_row(
        &mut self,
        buf: &mut BytesMut,
        row_number: u32,
        row: &[Value],
        mask: u32,
        fill: u64,
        direct: bool,
    ) -> bool {
        let before = self.problems.len();
        for (n, &p) in self.written.iter().enumerate() {
            let i = self.supplied[p];
            let v = if self.omitted(i, mask, fill) { &Value::Null } else { &row[p] };
            let result = match (&self.direct, direct) {
                (Some(d), true) => d[n].encode(v, buf),
                _ => crate::convert::encode(self.cols[i].wire(), v, buf),
            };
            if let Err(reason) = result {
                let c = &self.cols[i].column;
                self.problems.push(CellProblem {
                    at: format!("row {row_number}"),
                    column: c.name.clone(),
                    type_name: c.type_name.clone(),
                    value: v.to_string(),
                    reason,
                });
                crate::convert::encode(Wire::Int4, &Value::Null, buf).ok();
            }
        }
        self.problems.len() == before
    }

    /// Adds one row: values for the supplied columns, in their order.
    /// `row_number` is the sheet row, for messages.
    pub async fn write(&mut self, row_number: u32, row: &[Value]) -> Result<(), Error> {
        if row.len() != self.supplied.len() {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                format!(
                    "import into `{}` row {row_number}: {} values for {} columns",
                    self.table,
                    row.len(),
                    self.supplied.len()
                ),
            ));
        }
        if self.plan.is_some() {
            return Err(Error::new(ErrorKind::InvalidInput, "import: rows cannot be written after the plan"));
        }
        self.rows += 1;
        let mask = self.mask_of(row);
        let fill = self.fill_of(row);
        self.note_empties(row_number, row);
        if self.mode == ImportMode::Insert && self.first_keys.len() < SAMPLE_KEEP {
            let key = self.key_of(row);
            self.first_keys.push(key);
        }
        if !self.masks.contains(&(mask, fill)) {
            self.masks.push((mask, fill));
        }
        let what = self.what();
        if self.direct.is_some() && mask == 0 && fill == 0 {
            if self.direct_writer.is_none() {
                let columns: Vec<&str> =
                    self.written.iter().map(|&p| self.cols[self.supplied[p]].q.as_str()).collect();
                let sql = format!("COPY {} ({}) FROM STDIN (FORMAT binary)", self.rel, columns.join(", "));
                self.direct_writer = Some(CopyWriter::start(self.tx.client(), &sql, &what).await?);
            }
            let Some(mut w) = self.direct_writer.take() else { return Ok(()) };
            let mark = w.begin_row(self.written.len());
            let ok = self.encode_row(w.buf(), row_number, row, 0, 0, true);
            if ok && self.problems.is_empty() {
                self.segment_rows.push(row_number);
                self.direct_rows += 1;
                let result = w.end_row(&what).await;
                self.direct_writer = Some(w);
                return self.map_copy_error(result);
            }
            w.truncate(mark);
            self.direct_writer = Some(w);
            return Ok(());
        }
        if self.direct.is_some() {
            self.side.push((row_number, mask, fill, row.to_vec()));
            if self.side.len() >= SIDE_BATCH {
                self.flush_side().await?;
            }
            return Ok(());
        }
        self.start_stage_copy().await?;
        self.stage_row(row_number, mask, fill, row, &what).await
    }

    async fn stage_row(
        &mut self,
        row_number: u32,
        mask: u32,
        fill: u64,
        row: &[Value],
        what: &(dyn Fn() -> String + Sync),
    ) -> Result<(), Error> {
        let Some(mut w) = self.stage_writer.take() else { return Ok(()) };
        let mark = w.begin_row(3 + self.written.len());
        put_plain(w.buf(), Wire::Int4, &Value::Int(row_number.into()));
        put_plain(w.buf(), Wire::Int4, &Value::Int(mask.into()));
        // The bits as a signed int8, as the SQL below compares them.
        put_plain(w.buf(), Wire::Int8, &Value::Int(fill as i64));
        let ok = self.encode_row(w.buf(), row_number, row, mask, fill, false);
        let result = if ok && self.problems.is_empty() {
            w.end_row(what).await
        } else {
            w.truncate(mark);
            Ok(())
        };
        self.stage_writer = Some(w);
        result
    }

    /// Stages the gathered side-path rows (pausing the direct COPY).
    async fn flush_side(&mut self) -> Result<(), Error> {
        if self.side.is_empty() {
            return Ok(());
        }
        self.finish_direct_copy().await?;
        self.start_stage_copy().await?;
        let what = self.what();
        let side = std::mem::take(&mut self.side);
        for (row_number, mask, fill, row) in &side {
            self.stage_row(*row_number, *mask, *fill, row, &what).await?;
        }
        self.finish_stage_copy().await
    }

    /// Ends the streams; refuses bad cells (all of them) and duplicate keys.
    async fn finish_input(&mut self) -> Result<(), Error> {
        if self.direct.is_some() {
            self.finish_direct_copy().await?;
            self.flush_side().await?;
        }
        self.finish_stage_copy().await?;
        let problems = std::mem::take(&mut self.problems);
        problems.into_result(&format!("import into `{}`", self.table))?;
        let what = self.what();
        self.tx.batch_execute("ANALYZE pg_temp.sheetbridge_import").await.context(&what)?;
        // With the direct COPY the stage holds only the side rows (few, or
        // none); the direct rows' duplicates are unique violations.
        self.check_duplicates().await
    }

    fn stage_key(&self, j: usize, s: &str) -> String {
        let i = self.key_idx[j];
        self.cols[i].cast(&format!("{s}.c{i}"))
    }

    fn key_match_stage(&self, t: &str, s: &str) -> String {
        (0..self.key_idx.len())
            .map(|j| format!("{t}.{} = {}", self.cols[self.key_idx[j]].q, self.stage_key(j, s)))
            .collect::<Vec<_>>()
            .join(" AND ")
    }

    fn key_wires(&self) -> Vec<Wire> {
        self.key_idx.iter().map(|&i| self.cols[i].wire()).collect()
    }

    async fn check_duplicates(&mut self) -> Result<(), Error> {
        if self.key_idx.is_empty() {
            return Ok(());
        }
        let what = self.what();
        let keys: Vec<String> = (0..self.key_idx.len()).map(|j| self.stage_key(j, "s")).collect();
        let shown: Vec<String> =
            self.key_idx.iter().zip(&keys).map(|(&i, k)| self.cols[i].wire().select_expr(k)).collect();
        let sql = format!(
            "SELECT {}, array_agg(s.row_number ORDER BY s.row_number), count(*) OVER () \
             FROM pg_temp.sheetbridge_import s WHERE s.mask = 0 GROUP BY {} HAVING count(*) > 1 \
             ORDER BY min(s.row_number) LIMIT {LISTED_DUPLICATES}",
            shown.join(", "),
            keys.join(", ")
        );
        let rows = self.tx.query(&sql, &[]).await.context(&what)?;
        if rows.is_empty() {
            return Ok(());
        }
        let n = self.key_idx.len();
        let total: i64 = rows[0].get(n + 1);
        let mut message = format!(
            "import into `{}`: {total} key{} appear{} on more than one row, nothing was written",
            self.table,
            if total == 1 { "" } else { "s" },
            if total == 1 { "s" } else { "" }
        );
        if total > LISTED_DUPLICATES {
            message.push_str(&format!(" (the first {LISTED_DUPLICATES} are listed)"));
        }
        let wires = self.key_wires();
        for row in &rows {
            let key = Key(decode_row(row, &wires)?);
            let numbers: Vec<i32> = row.get(n);
            let numbers: Vec<String> = numbers.iter().map(i32::to_string).collect();
            let list = match numbers.split_last() {
                Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
                _ => numbers.join(""),
            };
            message.push_str(&format!("\n  key {key} is on rows {list}"));
        }
        Err(Error::new(ErrorKind::InvalidInput, message))
    }

    /// Written non-key columns (schema indices).
    fn value_columns(&self) -> Vec<usize> {
        self.written.iter().map(|&p| self.supplied[p]).filter(|i| !self.key_idx.contains(i)).collect()
    }

    /// The diff's type for a column's old value: text for text-cast wires,
    /// else the column's own type.
    fn old_type(&self, i: usize) -> String {
        let c = &self.cols[i];
        if c.wire().is_text_cast() {
            "text".into()
        } else {
            c.info.cast.clone()
        }
    }

    fn old_expr(&self, i: usize, t: &str) -> String {
        let c = &self.cols[i];
        let e = format!("{t}.{}", c.q);
        if c.wire().is_text_cast() {
            format!("({e})::text")
        } else {
            e
        }
    }

    async fn build_diff(&mut self) -> Result<(), Error> {
        let what = self.what();
        let all: Vec<usize> = (0..self.cols.len()).collect();
        let vals = self.value_columns();
        let mut defs = vec!["row_number int4".to_owned(), "action text".to_owned()];
        defs.extend(
            self.key_idx
                .iter()
                .enumerate()
                .map(|(j, &i)| format!("k{j} {}", self.cols[i].wire().stage_type())),
        );
        defs.extend(all.iter().map(|&i| format!("o{i} {}", self.old_type(i))));
        defs.extend(vals.iter().map(|&i| format!("d{i} bool")));
        let key_from =
            |s: &str| -> Vec<String> { self.key_idx.iter().map(|&i| format!("{s}.c{i}")).collect() };
        let key_from_t: Vec<String> = self
            .key_idx
            .iter()
            .map(|&i| {
                let c = &self.cols[i];
                let e = format!("t.{}", c.q);
                if c.wire().is_text_cast() {
                    format!("({e})::text")
                } else {
                    e
                }
            })
            .collect();
        let olds: Vec<String> = all.iter().map(|&i| self.old_expr(i, "t")).collect();
        let nulls_old: Vec<String> = all.iter().map(|&i| format!("NULL::{}", self.old_type(i))).collect();
        let differs: Vec<String> = vals
            .iter()
            .map(|&i| {
                let c = &self.cols[i];
                format!("NOT ({})", c.holds_new(&format!("t.{}", c.q), &format!("s.c{i}")))
            })
            .collect();
        let false_flags: Vec<String> = vals.iter().map(|_| "false".to_owned()).collect();
        let cols_list =
            |parts: &[&[String]]| parts.iter().flat_map(|p| p.iter().cloned()).collect::<Vec<_>>().join(", ");
        let mut sql = format!("CREATE TEMP TABLE sheetbridge_diff ({}) ON COMMIT DROP;\n", defs.join(", "));
        // Inserts: a key that fills itself, or a key not in the table.
        sql.push_str(&format!(
            "INSERT INTO sheetbridge_diff SELECT s.row_number, 'i', {} FROM pg_temp.sheetbridge_import s \
             WHERE s.mask <> 0 OR NOT EXISTS (SELECT 1 FROM {} t WHERE {});\n",
            cols_list(&[&key_from("s"), &nulls_old, &false_flags]),
            self.rel,
            self.key_match_stage("t", "s")
        ));
        if !vals.is_empty() {
            sql.push_str(&format!(
                "INSERT INTO sheetbridge_diff SELECT s.row_number, 'u', {} FROM pg_temp.sheetbridge_import s \
                 JOIN {} t ON {} WHERE s.mask = 0 AND ({});\n",
                cols_list(&[&key_from("s"), &olds, &differs]),
                self.rel,
                self.key_match_stage("t", "s"),
                differs.join(" OR ")
            ));
        }
        if self.mode == ImportMode::Mirror {
            sql.push_str(&format!(
                "INSERT INTO sheetbridge_diff SELECT NULL, 'd', {} FROM {} t \
                 WHERE NOT EXISTS (SELECT 1 FROM pg_temp.sheetbridge_import s WHERE s.mask = 0 AND {});\n",
                cols_list(&[&key_from_t, &olds, &false_flags]),
                self.rel,
                self.key_match_stage("t", "s")
            ));
        }
        self.tx.batch_execute(&sql).await.context(&what)
    }

    /// Counts what the import will do and shows the first `sample` changes.
    /// Call once all rows are written; rows cannot be added afterwards.
    pub async fn plan(&mut self, sample: usize) -> Result<ImportPlan, Error> {
        if let Some(p) = &self.plan {
            let mut p = p.clone();
            p.sample.truncate(sample);
            return Ok(p);
        }
        self.finish_input().await?;
        let what = self.what();
        let mut plan = ImportPlan { rows: self.rows, ..ImportPlan::default() };
        if self.mode == ImportMode::Insert {
            self.check_existing_keys().await?;
            // The direct rows are in the table already; the side rows go in now,
            // so a dry run sees every constraint checked.
            self.insert_staged(false).await?;
            plan.inserts = self.rows;
            plan.sample = self
                .first_keys
                .iter()
                .take(sample)
                .map(|k| PlannedChange {
                    key: k.clone(),
                    action: PlannedAction::Insert,
                    column: None,
                    old: Value::Null,
                    new: Value::Null,
                })
                .collect();
        } else {
            self.refuse_empty_defaults_of_existing_rows().await?;
            self.build_diff().await?;
            let vals = self.value_columns();
            let cells = if vals.is_empty() {
                "0".to_owned()
            } else {
                vals.iter().map(|i| format!("d{i}::int")).collect::<Vec<_>>().join(" + ")
            };
            let row = self
                .tx
                .query_one(
                    &format!(
                        "SELECT count(*) FILTER (WHERE action = 'i'), count(*) FILTER (WHERE action = 'u'), \
                         count(*) FILTER (WHERE action = 'd'), \
                         COALESCE(sum({cells}) FILTER (WHERE action = 'u'), 0)::int8 FROM pg_temp.sheetbridge_diff"
                    ),
                    &[],
                )
                .await
                .context(&what)?;
            let n = |i: usize| row.get::<_, i64>(i) as u64;
            plan.inserts = n(0);
            plan.updates = n(1);
            plan.deletes = n(2);
            plan.updated_cells = n(3);
            plan.sample = self.sample(sample).await?;
        }
        plan.unchanged = plan.rows - plan.inserts - plan.updates;
        tracing::info!(
            table = %self.table, rows = plan.rows, inserts = plan.inserts, updates = plan.updates,
            updated_cells = plan.updated_cells, unchanged = plan.unchanged, deletes = plan.deletes,
            "import planned"
        );
        self.plan = Some(plan.clone());
        Ok(plan)
    }

    async fn sample(&mut self, sample: usize) -> Result<Vec<PlannedChange>, Error> {
        if sample == 0 {
            return Ok(Vec::new());
        }
        let what = self.what();
        let vals = self.value_columns();
        let mut select = vec!["d.action".to_owned()];
        let mut wires = vec![Wire::Text];
        for (j, &i) in self.key_idx.iter().enumerate() {
            select.push(self.cols[i].wire().select_expr(&self.cols[i].cast(&format!("d.k{j}"))));
            wires.push(self.cols[i].wire());
        }
        for &i in &vals {
            select.push(format!("d.o{i}"));
            select.push(self.cols[i].wire().select_expr(&self.cols[i].cast(&format!("s.c{i}"))));
            select.push(format!("d.d{i}"));
            wires.extend([self.cols[i].wire(), self.cols[i].wire(), Wire::Bool]);
        }
        let sql = format!(
            "SELECT {} FROM pg_temp.sheetbridge_diff d LEFT JOIN pg_temp.sheetbridge_import s \
             ON s.row_number = d.row_number ORDER BY d.action = 'd', d.row_number LIMIT {sample}",
            select.join(", ")
        );
        let rows = self.tx.query(&sql, &[]).await.context(&what)?;
        let n = self.key_idx.len();
        let mut out = Vec::new();
        for row in &rows {
            let v = decode_row(row, &wires)?;
            let key = Key(v[1..=n].to_vec());
            let action = match &v[0] {
                Value::Text(a) if a == "i" => PlannedAction::Insert,
                Value::Text(a) if a == "d" => PlannedAction::Delete,
                _ => PlannedAction::Update,
            };
            if action != PlannedAction::Update {
                out.push(PlannedChange { key, action, column: None, old: Value::Null, new: Value::Null });
                continue;
            }
            for (m, &i) in vals.iter().enumerate() {
                let base = 1 + n + 3 * m;
                if v[base + 2] == Value::Bool(true) {
                    out.push(PlannedChange {
                        key: key.clone(),
                        action,
                        column: Some(self.cols[i].column.name.clone()),
                        old: v[base].clone(),
                        new: v[base + 1].clone(),
                    });
                }
            }
        }
        out.truncate(sample);
        Ok(out)
    }

    /// Insert mode through the stage: a key already in the table is an error.
    /// With the direct COPY the stage holds the side rows, and the table the
    /// direct rows already.
    async fn check_existing_keys(&mut self) -> Result<(), Error> {
        if self.key_idx.is_empty() || self.key_idx.iter().any(|k| !self.supplied.contains(k)) {
            return Ok(());
        }
        let what = self.what();
        let shown: Vec<String> = (0..self.key_idx.len())
            .map(|j| self.cols[self.key_idx[j]].wire().select_expr(&self.stage_key(j, "s")))
            .collect();
        let sql = format!(
            "SELECT {}, s.row_number FROM pg_temp.sheetbridge_import s JOIN {} t ON {} WHERE s.mask = 0 \
             ORDER BY s.row_number LIMIT 20",
            shown.join(", "),
            self.rel,
            self.key_match_stage("t", "s")
        );
        let rows = self.tx.query(&sql, &[]).await.context(&what)?;
        if rows.is_empty() {
            return Ok(());
        }
        let wires = self.key_wires();
        let earlier = if self.direct.is_some() { " (or on another row of the file)" } else { "" };
        let mut message = format!(
            "import into `{}`: keys already in the table{earlier}, nothing was written; insert mode only adds new rows (use upsert to update existing ones)",
            self.table
        );
        for row in &rows {
            let key = Key(decode_row(row, &wires)?);
            let n: i32 = row.get(self.key_idx.len());
            message.push_str(&format!("\n  key {key} (row {n})"));
        }
        Err(Error::new(ErrorKind::InvalidInput, message))
    }

    /// Upsert and mirror: an empty cell in a NOT NULL column with a default
    /// means the default only in a new row. An existing row cannot be given
    /// it (it would not be "unchanged" either), so such rows are an error
    /// naming each row and column.
    async fn refuse_empty_defaults_of_existing_rows(&mut self) -> Result<(), Error> {
        if self.defaults.is_empty() {
            return Ok(());
        }
        let what = self.what();
        let sql = format!(
            "SELECT s.row_number, s.fill, count(*) OVER () FROM pg_temp.sheetbridge_import s \
             WHERE s.mask = 0 AND s.fill <> 0 AND EXISTS (SELECT 1 FROM {} t WHERE {}) \
             ORDER BY s.row_number LIMIT {LISTED_EMPTY_EXISTING}",
            self.rel,
            self.key_match_stage("t", "s")
        );
        let rows = self.tx.query(&sql, &[]).await.context(&what)?;
        let Some(first) = rows.first() else { return Ok(()) };
        let total: i64 = first.get(2);
        let mut message = format!(
            "import into `{}`: {total} existing row{} {} empty cells in NOT NULL columns, nothing was written",
            self.table,
            if total == 1 { "" } else { "s" },
            if total == 1 { "has" } else { "have" }
        );
        if total > LISTED_EMPTY_EXISTING {
            message.push_str(&format!(" (the first {LISTED_EMPTY_EXISTING} are listed)"));
        }
        for row in &rows {
            let n: i32 = row.get(0);
            let fill = row.get::<_, i64>(1) as u64;
            for (b, &(_, i)) in self.defaults.iter().enumerate() {
                if fill & (1 << b) != 0 {
                    message.push_str(&format!(
                        "\n  row {n}: an empty cell is not allowed in `{}` (NOT NULL) for an existing row; \
                         its default only applies to new rows",
                        self.cols[i].column.name
                    ));
                }
            }
        }
        Err(Error::new(ErrorKind::InvalidInput, message))
    }

    /// Inserts staged rows: the side path in insert mode, or the diff's
    /// inserts (`via_diff`). Keys the database fills are kept in row order.
    async fn insert_staged(&mut self, via_diff: bool) -> Result<u64, Error> {
        let what = self.what();
        let mut inserted = 0;
        let mut generated: Vec<(i32, Key)> = Vec::new();
        let masks = self.masks.clone();
        for (mask, fill) in masks {
            if mask == 0 && fill == 0 && self.direct.is_some() {
                continue;
            }
            let group = format!("s.mask = {mask} AND s.fill = {}", fill as i64);
            let cols: Vec<usize> = self
                .written
                .iter()
                .map(|&p| self.supplied[p])
                .filter(|&i| !self.omitted(i, mask, fill))
                .collect();
            let names: Vec<&str> = cols.iter().map(|&i| self.cols[i].q.as_str()).collect();
            let values: Vec<String> = cols.iter().map(|&i| self.cols[i].cast(&format!("s.c{i}"))).collect();
            let overriding = cols.iter().any(|&i| self.cols[i].column.generated == Generated::Always);
            let join = if via_diff {
                " JOIN pg_temp.sheetbridge_diff d ON d.row_number = s.row_number AND d.action = 'i'"
            } else {
                ""
            };
            let mut returning: Vec<String> =
                self.key_idx.iter().map(|&i| self.cols[i].wire().select_expr(&self.cols[i].q)).collect();
            // No column left: a zero-column SELECT, every column its default.
            let names = if names.is_empty() { String::new() } else { format!("({})", names.join(", ")) };
            let sql = format!(
                "INSERT INTO {} {names} {}SELECT {} FROM pg_temp.sheetbridge_import s{join} WHERE {group} \
                 ORDER BY s.row_number",
                self.rel,
                if overriding { "OVERRIDING SYSTEM VALUE " } else { "" },
                values.join(", "),
            );
            if mask == 0 {
                inserted += self.tx.execute(&sql, &[]).await.map_err(|e| self.insert_error(e))?;
                continue;
            }
            // RETURNING yields rows in the order INSERT ... SELECT ... ORDER BY
            // inserted them: sheet row order.
            returning.push("0".into());
            let rows = self
                .tx
                .query(&format!("{sql} RETURNING {}", returning.join(", ")), &[])
                .await
                .map_err(|e| self.insert_error(e))?;
            let numbers: Vec<i32> = self
                .tx
                .query(
                    &format!("SELECT s.row_number FROM pg_temp.sheetbridge_import s{join} WHERE {group} ORDER BY s.row_number"),
                    &[],
                )
                .await
                .context(&what)?
                .iter()
                .map(|r| r.get(0))
                .collect();
            let wires = self.key_wires();
            for (row, n) in rows.iter().zip(numbers) {
                generated.push((n, Key(decode_row(row, &wires)?)));
            }
            inserted += rows.len() as u64;
        }
        generated.sort_by_key(|(n, _)| *n);
        self.generated.extend(generated.into_iter().map(|(_, k)| k));
        Ok(inserted)
    }

    fn insert_error(&self, e: tokio_postgres::Error) -> Error {
        if let Some(not_null) = e.as_db_error().and_then(|db| self.not_null_error(db, None)) {
            return not_null;
        }
        if e.code() == Some(&SqlState::UNIQUE_VIOLATION) {
            let detail = e.as_db_error().map(describe_db).unwrap_or_default();
            return Error::new(
                ErrorKind::Conflict,
                format!("import into `{}`: a row with the same key was added meanwhile ({detail}); nothing was written", self.table),
            );
        }
        crate::error::pg_error(&format!("import into `{}`", self.table), e)
    }

    /// Locks the rows to change and checks they still hold what the plan
    /// read; a row changed since is a conflict.
    async fn check_conflicts(&mut self) -> Result<(), Error> {
        let what = self.what();
        let key_match: String = self
            .key_idx
            .iter()
            .enumerate()
            .map(|(j, &i)| format!("t.{} = {}", self.cols[i].q, self.cols[i].cast(&format!("d.k{j}"))))
            .collect::<Vec<_>>()
            .join(" AND ");
        self.tx
            .execute(
                &format!(
                    "SELECT 1 FROM pg_temp.sheetbridge_diff d JOIN {} t ON {key_match} \
                     WHERE d.action IN ('u', 'd') FOR UPDATE OF t",
                    self.rel
                ),
                &[],
            )
            .await
            .context(&what)?;
        let all: Vec<usize> = (0..self.cols.len()).collect();
        let written: Vec<usize> = self.written.iter().map(|&p| self.supplied[p]).collect();
        let holds = |i: usize| self.cols[i].holds_read(&format!("t.{}", self.cols[i].q), &format!("d.o{i}"));
        let guard = |set: &[usize]| {
            if set.is_empty() {
                "true".to_owned()
            } else {
                set.iter().map(|&i| holds(i)).collect::<Vec<_>>().join(" AND ")
            }
        };
        let first_key = &self.cols[self.key_idx[0]].q;
        let mut select = vec!["d.action".to_owned(), format!("t.{first_key} IS NULL")];
        let mut wires = vec![Wire::Text, Wire::Bool];
        for (j, &i) in self.key_idx.iter().enumerate() {
            select.push(self.cols[i].wire().select_expr(&self.cols[i].cast(&format!("d.k{j}"))));
            wires.push(self.cols[i].wire());
        }
        for &i in &all {
            select.push(holds(i));
            select.push(self.cols[i].wire().select_expr(&format!("t.{}", self.cols[i].q)));
            select.push(self.cols[i].wire().select_expr(&self.cols[i].cast(&format!("d.o{i}"))));
            wires.extend([Wire::Bool, self.cols[i].wire(), self.cols[i].wire()]);
        }
        let sql = format!(
            "COPY (SELECT {} FROM pg_temp.sheetbridge_diff d LEFT JOIN {} t ON {key_match} \
             WHERE d.action IN ('u', 'd') AND (t.{first_key} IS NULL OR NOT \
             (CASE WHEN d.action = 'u' THEN {} ELSE {} END))) TO STDOUT (FORMAT binary)",
            select.join(", "),
            self.rel,
            guard(&written),
            guard(&all)
        );
        let names = (0..wires.len()).map(|i| format!("field {i}")).collect();
        let mut decoder = CopyDecoder::new(wires, names);
        let n = self.key_idx.len();
        let mut conflicts = Vec::new();
        let cols = &self.cols;
        copy_out_rows(self.tx.client(), &sql, &mut decoder, &what, |row| {
            let key = Key(row[2..2 + n].to_vec());
            if row[1] == Value::Bool(true) {
                conflicts.push(Conflict { key, column: None, expected: Value::Null, found: Value::Null });
                return Ok(());
            }
            let update = row[0] == Value::Text("u".into());
            for &i in &all {
                let base = 2 + n + 3 * i;
                if (update && !written.contains(&i)) || row[base] == Value::Bool(true) {
                    continue;
                }
                conflicts.push(Conflict {
                    key: key.clone(),
                    column: Some(cols[i].column.name.clone()),
                    expected: row[base + 2].clone(),
                    found: row[base + 1].clone(),
                });
            }
            Ok(())
        })
        .await?;
        if conflicts.is_empty() {
            Ok(())
        } else {
            Err(conflict_error(&self.table, &conflicts))
        }
    }

    async fn write_diff(&mut self) -> Result<ApplyReport, Error> {
        let what = self.what();
        let plan = self.plan.clone().unwrap_or_default();
        self.check_conflicts().await?;
        let key_match: String = self
            .key_idx
            .iter()
            .enumerate()
            .map(|(j, &i)| format!("t.{} = {}", self.cols[i].q, self.cols[i].cast(&format!("d.k{j}"))))
            .collect::<Vec<_>>()
            .join(" AND ");
        let holds = |i: usize| self.cols[i].holds_read(&format!("t.{}", self.cols[i].q), &format!("d.o{i}"));
        let mut report = ApplyReport::default();
        if plan.deletes > 0 {
            let guards: Vec<String> = (0..self.cols.len()).map(holds).collect();
            let n = self
                .tx
                .execute(
                    &format!(
                        "DELETE FROM {} t USING pg_temp.sheetbridge_diff d WHERE d.action = 'd' AND {key_match} AND {}",
                        self.rel,
                        guards.join(" AND ")
                    ),
                    &[],
                )
                .await
                .context(&what)?;
            report.deleted = n;
        }
        let vals = self.value_columns();
        if plan.updates > 0 && !vals.is_empty() {
            let sets: Vec<String> = vals
                .iter()
                .map(|&i| {
                    let c = &self.cols[i];
                    format!(
                        "{} = CASE WHEN d.d{i} THEN {} ELSE t.{} END",
                        c.q,
                        c.cast(&format!("s.c{i}")),
                        c.q
                    )
                })
                .collect();
            let guards: Vec<String> = vals.iter().map(|&i| holds(i)).collect();
            let n = self
                .tx
                .execute(
                    &format!(
                        "UPDATE {} t SET {} FROM pg_temp.sheetbridge_diff d JOIN pg_temp.sheetbridge_import s \
                         ON s.row_number = d.row_number WHERE d.action = 'u' AND {key_match} AND {}",
                        self.rel,
                        sets.join(", "),
                        guards.join(" AND ")
                    ),
                    &[],
                )
                .await
                .map_err(|e| match e.as_db_error().and_then(|db| self.not_null_error(db, None)) {
                    Some(not_null) => not_null,
                    None => crate::error::pg_error(&what(), e),
                })?;
            report.updated_rows = n;
            report.updated_cells = plan.updated_cells;
        }
        if report.deleted != plan.deletes || report.updated_rows != plan.updates {
            return Err(Error::new(
                ErrorKind::Conflict,
                format!(
                    "import into `{}`: rows changed while the import ran; nothing was written",
                    self.table
                ),
            ));
        }
        report.inserted = self.insert_staged(true).await?;
        Ok(report)
    }

    /// Writes everything and commits. Returns what was done; the keys the
    /// database generated for rows with an empty key are in sheet row order.
    pub async fn commit(mut self) -> Result<ApplyReport, Error> {
        let plan = self.plan(0).await?;
        let mut report = if self.mode == ImportMode::Insert {
            ApplyReport { inserted: plan.inserts, ..ApplyReport::default() }
        } else {
            self.write_diff().await?
        };
        report.generated_keys = std::mem::take(&mut self.generated);
        let what = self.what();
        self.tx.commit().await.context(&what)?;
        tracing::info!(
            inserted = report.inserted,
            updated_rows = report.updated_rows,
            deleted = report.deleted,
            "import committed"
        );
        Ok(report)
    }

    /// Leaves the table as it was.
    pub async fn rollback(self) -> Result<(), Error> {
        let what = self.what();
        drop(self.direct_writer);
        drop(self.stage_writer);
        self.tx.rollback().await.context(&what)
    }

    pub fn rows(&self) -> u64 {
        self.rows
    }
}
