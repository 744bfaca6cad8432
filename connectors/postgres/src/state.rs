//! Two-way sync state in the `sheetbridge` schema: the base of each pair
//! (the last values both sides agreed on, one row per synced row), the run
//! journal, the conflict log and deletions held for approval.
//!
//! Values are kept in sheetbridge's text form ([`value_text`]) and read back
//! with the column's type ([`parse_text`]), the same exact round trip a text
//! cell of a sheet makes; NULL is JSON `null`, distinct from `""`.

use std::collections::HashMap;

use bytes::BufMut;
use futures_util::StreamExt;
use serde::Serialize;
use sheetbridge_core::convert::{parse_text, value_text};
use sheetbridge_core::{Column, Error, ErrorKind, Key, TableSchema, Value};
use tokio_postgres::Client;

use crate::copy::CopyWriter;
use crate::error::Context;

/// The base of a pair: per key, the agreed value of each column of the schema
/// it was loaded with (in that schema's column order).
pub type BaseRows = HashMap<Key, Vec<Value>>;

/// How a run ended, as the journal records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    Success,
    /// Some of the work was done (for example the table, not the sheet); the
    /// next run finishes it.
    Partial,
    Failed,
    /// Not run: another process held the pair, or the sheet was locked.
    Skipped,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Success => "success",
            RunStatus::Partial => "partial",
            RunStatus::Failed => "failed",
            RunStatus::Skipped => "skipped",
        }
    }
}

/// A key as stored: a JSON array of the key values' text forms.
pub fn key_json(key: &Key) -> serde_json::Value {
    serde_json::Value::Array(key.0.iter().map(text_json).collect())
}

fn text_json(v: &Value) -> serde_json::Value {
    // A sheet shows negative zero as `0`; the base keeps the sign.
    if let Value::Float(f) = v {
        if *f == 0.0 && f.is_sign_negative() {
            return serde_json::Value::String("-0".into());
        }
    }
    match value_text(v) {
        Some(t) => serde_json::Value::String(t),
        None => serde_json::Value::Null,
    }
}

/// A row as stored: each column's name with its text form (or null).
pub fn row_json(columns: &[Column], row: &[Value]) -> serde_json::Value {
    serde_json::Value::Object(columns.iter().zip(row).map(|(c, v)| (c.name.clone(), text_json(v))).collect())
}

fn parse_value(column: &Column, text: &serde_json::Value, what: &dyn Fn() -> String) -> Result<Value, Error> {
    match text {
        serde_json::Value::Null => Ok(Value::Null),
        serde_json::Value::String(t) => parse_stored(column, t, what),
        other => Err(Error::new(
            ErrorKind::Other,
            format!("{}: column `{}` holds {other} where a text was stored", what(), column.name),
        )),
    }
}

/// A stored text form read back as `column`'s type.
fn parse_stored(column: &Column, t: &str, what: &dyn Fn() -> String) -> Result<Value, Error> {
    parse_text(&column.ty, t).map_err(|r| {
        Error::new(
            ErrorKind::SchemaMismatch,
            format!(
                "{}: the stored value {t:?} of column `{}` no longer reads as {}: {}",
                what(),
                column.name,
                column.type_name,
                r.0
            ),
        )
    })
}

/// Reads a stored key back with the types of `schema`'s key columns.
pub fn parse_key(schema: &TableSchema, stored: &serde_json::Value) -> Result<Key, Error> {
    let what = || format!("the base of `{}`", schema.name);
    let parts = stored
        .as_array()
        .ok_or_else(|| Error::new(ErrorKind::Other, format!("{}: a stored key is not an array", what())))?;
    let key_columns = key_columns(schema, parts.len(), &what)?;
    let values =
        key_columns.iter().zip(parts).map(|(c, t)| parse_value(c, t, &what)).collect::<Result<_, _>>()?;
    Ok(Key(values))
}

/// The key columns of `schema`, when a stored key of `parts` parts fits them.
fn key_columns<'s>(
    schema: &'s TableSchema,
    parts: usize,
    what: &dyn Fn() -> String,
) -> Result<Vec<&'s Column>, Error> {
    let key_columns: Vec<&Column> = schema.key_indices().into_iter().map(|i| &schema.columns[i]).collect();
    if parts != key_columns.len() {
        return Err(Error::new(
            ErrorKind::SchemaMismatch,
            format!(
                "{}: a stored key has {} parts, the key now has {} columns",
                what(),
                parts,
                key_columns.len()
            ),
        ));
    }
    Ok(key_columns)
}

/// A `json` or `jsonb` column's text, borrowed from the row as it arrived.
struct JsonText<'a>(&'a [u8]);

impl<'a> tokio_postgres::types::FromSql<'a> for JsonText<'a> {
    fn from_sql(
        ty: &tokio_postgres::types::Type,
        raw: &'a [u8],
    ) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        if *ty == tokio_postgres::types::Type::JSONB {
            // jsonb's binary form: a version byte (1), then the text.
            match raw.split_first() {
                Some((1, text)) => Ok(JsonText(text)),
                _ => Err("unsupported jsonb version".into()),
            }
        } else {
            Ok(JsonText(raw))
        }
    }

    fn accepts(ty: &tokio_postgres::types::Type) -> bool {
        matches!(*ty, tokio_postgres::types::Type::JSONB | tokio_postgres::types::Type::JSON)
    }
}

/// A stored text form or null, borrowed where it holds no escapes.
#[derive(serde::Deserialize)]
struct Stored<'a>(#[serde(borrow)] Option<std::borrow::Cow<'a, str>>);

/// A column name of a stored row.
#[derive(serde::Deserialize, PartialEq, Eq, Hash)]
struct Name<'a>(#[serde(borrow)] std::borrow::Cow<'a, str>);

/// Loads the base of `pair` for the columns of `schema`. A column the base
/// has no value for (added to the pair since) reads as NULL.
pub async fn load_base(client: &Client, pair: &str, schema: &TableSchema) -> Result<BaseRows, Error> {
    let mut base = HashMap::new();
    scan_base(client, pair, schema, |key, row| {
        base.insert(key, row);
        Ok(())
    })
    .await?;
    Ok(base)
}

/// Streams the base of `pair` row by row into `f` (key, values in `schema`'s
/// column order), holding one row at a time; how many rows. A column the base
/// has no value for (added to the pair since) reads as NULL.
pub async fn scan_base<F>(client: &Client, pair: &str, schema: &TableSchema, mut f: F) -> Result<u64, Error>
where
    F: FnMut(Key, Vec<Value>) -> Result<(), Error>,
{
    let what = || format!("reading the base of pair `{pair}`");
    let rows = client
        .query_raw("SELECT key, row FROM sheetbridge.base_row WHERE pair = $1", [pair])
        .await
        .context(what)?;
    futures_util::pin_mut!(rows);
    let bad = |e: serde_json::Error| {
        Error::new(ErrorKind::Other, format!("{}: a stored row is not in sheetbridge's form: {e}", what()))
    };
    let mut n = 0u64;
    while let Some(r) = rows.next().await {
        let r = r.context(what)?;
        // Parsed in place, no JSON tree: the base of a large pair is read on every pass.
        let key: Vec<Stored> = serde_json::from_slice(r.get::<_, JsonText>(0).0).map_err(bad)?;
        let row: HashMap<Name, Stored> = serde_json::from_slice(r.get::<_, JsonText>(1).0).map_err(bad)?;
        let columns = key_columns(schema, key.len(), &what)?;
        let key = columns
            .iter()
            .zip(&key)
            .map(|(c, t)| match &t.0 {
                Some(t) => parse_stored(c, t, &what),
                None => Ok(Value::Null),
            })
            .collect::<Result<Vec<_>, _>>()?;
        let values = schema
            .columns
            .iter()
            .map(|c| match row.get(&Name(std::borrow::Cow::Borrowed(c.name.as_str()))) {
                Some(Stored(Some(t))) => parse_stored(c, t, &what),
                _ => Ok(Value::Null),
            })
            .collect::<Result<Vec<_>, _>>()?;
        f(Key(key), values)?;
        n += 1;
    }
    Ok(n)
}

/// Whether `pair` has a base at all (it was synced before).
pub async fn has_base(client: &Client, pair: &str) -> Result<bool, Error> {
    let row = client
        .query_one("SELECT EXISTS (SELECT 1 FROM sheetbridge.base_row WHERE pair = $1)", &[&pair])
        .await
        .context(|| format!("reading the base of pair `{pair}`"))?;
    Ok(row.get(0))
}

/// Writes base rows of `pair` (whole rows in `schema`'s column order) and
/// forgets the keys in `drop`, in bulk. Call it inside the transaction that
/// makes them true, or after both sides hold them.
pub async fn save_base<'r>(
    client: &Client,
    pair: &str,
    schema: &TableSchema,
    rows: impl IntoIterator<Item = (&'r Key, &'r [Value])>,
    drop: &[Key],
) -> Result<u64, Error> {
    let what = || format!("writing the base of pair `{pair}`");
    client
        .batch_execute(
            "CREATE TEMP TABLE IF NOT EXISTS sheetbridge_base_stage (key text NOT NULL, row text);
             TRUNCATE sheetbridge_base_stage",
        )
        .await
        .context(what)?;
    let mut writer =
        CopyWriter::start(client, "COPY sheetbridge_base_stage (key, row) FROM STDIN (FORMAT binary)", &what)
            .await?;
    let field = |w: &mut CopyWriter, text: &str| {
        w.buf().put_i32(text.len() as i32);
        w.buf().put_slice(text.as_bytes());
    };
    let mut staged = 0u64;
    for (key, row) in rows {
        writer.begin_row(2);
        field(&mut writer, &key_json(key).to_string());
        field(&mut writer, &row_json(&schema.columns, row).to_string());
        writer.end_row(&what).await?;
        staged += 1;
    }
    for key in drop {
        writer.begin_row(2);
        field(&mut writer, &key_json(key).to_string());
        writer.buf().put_i32(-1);
        writer.end_row(&what).await?;
    }
    writer.finish(&what).await?;
    client
        .execute(
            "INSERT INTO sheetbridge.base_row (pair, key, row)
             SELECT $1, key::jsonb, row::jsonb FROM sheetbridge_base_stage WHERE row IS NOT NULL
             ON CONFLICT (pair, key) DO UPDATE SET row = EXCLUDED.row, updated_at = now()
             WHERE base_row.row IS DISTINCT FROM EXCLUDED.row",
            &[&pair],
        )
        .await
        .context(what)?;
    client
        .execute(
            "DELETE FROM sheetbridge.base_row b USING sheetbridge_base_stage s
             WHERE b.pair = $1 AND s.row IS NULL AND b.key = s.key::jsonb",
            &[&pair],
        )
        .await
        .context(what)?;
    client.execute("TRUNCATE sheetbridge_base_stage", &[]).await.context(what)?;
    Ok(staged)
}

/// Forgets the whole base of `pair` (its next sync is a first sync).
pub async fn clear_base(client: &Client, pair: &str) -> Result<u64, Error> {
    client
        .execute("DELETE FROM sheetbridge.base_row WHERE pair = $1", &[&pair])
        .await
        .context(|| format!("forgetting the base of pair `{pair}`"))
}

/// Opens a journal row for a run of `command` on `pair`; its id.
pub async fn start_run(client: &Client, pair: &str, command: &str) -> Result<i64, Error> {
    let row = client
        .query_one(
            "INSERT INTO sheetbridge.run (pair, command) VALUES ($1, $2) RETURNING id",
            &[&pair, &command],
        )
        .await
        .context(|| format!("starting the journal of a run of pair `{pair}`"))?;
    Ok(row.get(0))
}

/// Closes a run's journal row: its status, its counts, its error.
pub async fn finish_run(
    client: &Client,
    run_id: i64,
    status: RunStatus,
    counts: &serde_json::Value,
    error: Option<&str>,
) -> Result<(), Error> {
    client
        .execute(
            "UPDATE sheetbridge.run SET status = $2, finished_at = clock_timestamp(), counts = $3, error = $4
             WHERE id = $1",
            &[&run_id, &status.as_str(), counts, &error],
        )
        .await
        .context(|| format!("closing the journal of run {run_id}"))?;
    Ok(())
}

/// Marks runs of `pair` still `running` from a process that died as failed
/// (their work converges on the next run); how many.
pub async fn close_abandoned_runs(client: &Client, pair: &str) -> Result<u64, Error> {
    client
        .execute(
            "UPDATE sheetbridge.run SET status = 'failed', finished_at = clock_timestamp(),
                    error = coalesce(error, 'the process ended before the run finished')
             WHERE pair = $1 AND status = 'running'",
            &[&pair],
        )
        .await
        .context(|| format!("closing abandoned runs of pair `{pair}`"))
}

/// One conflict to record: what the base was, what each side held, what won.
#[derive(Debug, Clone, PartialEq)]
pub struct ConflictRecord {
    pub key: Key,
    /// None for a row-level conflict (a delete on one side, an edit on the other).
    pub column: Option<String>,
    pub base: Option<String>,
    pub table: Option<String>,
    pub sheet: Option<String>,
    /// `table`, `sheet`, or `held` (left open for `sheetbridge resolve`).
    pub resolution: &'static str,
}

/// Records conflicts of a run; one still open for the same cell is not recorded twice.
pub async fn record_conflicts(
    client: &Client,
    pair: &str,
    run_id: Option<i64>,
    conflicts: &[ConflictRecord],
) -> Result<u64, Error> {
    let what = || format!("recording the conflicts of pair `{pair}`");
    if conflicts.is_empty() {
        return Ok(0);
    }
    // One statement for the whole run's conflicts: the columns go as arrays.
    let keys: Vec<serde_json::Value> = conflicts.iter().map(|c| key_json(&c.key)).collect();
    let columns: Vec<Option<&str>> = conflicts.iter().map(|c| c.column.as_deref()).collect();
    let bases: Vec<Option<&str>> = conflicts.iter().map(|c| c.base.as_deref()).collect();
    let tables: Vec<Option<&str>> = conflicts.iter().map(|c| c.table.as_deref()).collect();
    let sheets: Vec<Option<&str>> = conflicts.iter().map(|c| c.sheet.as_deref()).collect();
    let resolutions: Vec<&str> = conflicts.iter().map(|c| c.resolution).collect();
    client
        .execute(
            "INSERT INTO sheetbridge.conflict
                    (pair, run_id, key, \"column\", base, table_value, sheet_value, resolution, resolved_at, settled_by, applied_at)
             SELECT $1, $2, k, c, to_jsonb(b), to_jsonb(t), to_jsonb(s), r, settled, by, settled
             FROM unnest($3::jsonb[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[]) AS u(k, c, b, t, s, r),
                  LATERAL (SELECT CASE WHEN r = 'held' THEN NULL ELSE clock_timestamp() END AS settled,
                                  CASE WHEN r = 'held' THEN NULL ELSE 'policy' END AS by) n
             ON CONFLICT DO NOTHING",
            &[&pair, &run_id, &keys, &columns, &bases, &tables, &sheets, &resolutions],
        )
        .await
        .context(what)
}

/// A conflict still waiting for a person.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OpenConflict {
    pub id: i64,
    pub pair: String,
    pub key: serde_json::Value,
    pub column: Option<String>,
    pub base: serde_json::Value,
    pub table: serde_json::Value,
    pub sheet: serde_json::Value,
    pub created_at: String,
}

/// Conflicts left open (policy `flag`), oldest first; of one pair, or all.
pub async fn open_conflicts(client: &Client, pair: Option<&str>) -> Result<Vec<OpenConflict>, Error> {
    let rows = client
        .query(
            "SELECT id, pair, key, \"column\", coalesce(base, 'null'), coalesce(table_value, 'null'),
                    coalesce(sheet_value, 'null'), to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')
             FROM sheetbridge.conflict WHERE resolved_at IS NULL AND ($1::text IS NULL OR pair = $1)
             ORDER BY id",
            &[&pair],
        )
        .await
        .context(|| "reading the open conflicts".to_owned())?;
    Ok(rows
        .iter()
        .map(|r| OpenConflict {
            id: r.get(0),
            pair: r.get(1),
            key: r.get(2),
            column: r.get(3),
            base: r.get(4),
            table: r.get(5),
            sheet: r.get(6),
            created_at: r.get(7),
        })
        .collect())
}

/// Settles an open conflict for `side` (`table` or `sheet`): the next sync
/// writes that side's value to the other. False when there is no such open conflict.
pub async fn resolve_conflict(client: &Client, id: i64, side: &str) -> Result<bool, Error> {
    if side != "table" && side != "sheet" {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            format!("a conflict is settled for `table` or `sheet`, not `{side}`"),
        ));
    }
    let n = client
        .execute(
            "UPDATE sheetbridge.conflict SET resolution = $2, resolved_at = clock_timestamp(), settled_by = 'person'
             WHERE id = $1 AND resolved_at IS NULL",
            &[&id, &side],
        )
        .await
        .context(|| format!("settling conflict {id}"))?;
    Ok(n == 1)
}

/// A deletion held for approval.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HeldDelete {
    pub id: i64,
    pub pair: String,
    pub key: serde_json::Value,
    /// `table` or `sheet`: where the row was deleted.
    pub deleted_on: String,
    pub row: Option<serde_json::Value>,
    pub created_at: String,
}

/// Holds deletions of a run (one open hold per key).
pub async fn hold_deletes(
    client: &Client,
    pair: &str,
    run_id: Option<i64>,
    held: &[(Key, &'static str, Option<serde_json::Value>)],
) -> Result<u64, Error> {
    let what = || format!("holding deletions of pair `{pair}`");
    if held.is_empty() {
        return Ok(0);
    }
    let keys: Vec<serde_json::Value> = held.iter().map(|(k, _, _)| key_json(k)).collect();
    let sides: Vec<&str> = held.iter().map(|(_, side, _)| *side).collect();
    let rows: Vec<Option<&serde_json::Value>> = held.iter().map(|(_, _, row)| row.as_ref()).collect();
    client
        .execute(
            "INSERT INTO sheetbridge.held_delete (pair, run_id, key, deleted_on, row)
             SELECT $1, $2, k, d, r FROM unnest($3::jsonb[], $4::text[], $5::jsonb[]) AS u(k, d, r)
             ON CONFLICT DO NOTHING",
            &[&pair, &run_id, &keys, &sides, &rows],
        )
        .await
        .context(what)
}

/// Deletions waiting for approval, oldest first; of one pair, or all.
pub async fn held_deletes(client: &Client, pair: Option<&str>) -> Result<Vec<HeldDelete>, Error> {
    let rows = client
        .query(
            "SELECT id, pair, key, deleted_on, row,
                    to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')
             FROM sheetbridge.held_delete WHERE decided_at IS NULL AND ($1::text IS NULL OR pair = $1)
             ORDER BY id",
            &[&pair],
        )
        .await
        .context(|| "reading the held deletions".to_owned())?;
    Ok(rows
        .iter()
        .map(|r| HeldDelete {
            id: r.get(0),
            pair: r.get(1),
            key: r.get(2),
            deleted_on: r.get(3),
            row: r.get(4),
            created_at: r.get(5),
        })
        .collect())
}

/// Approves or rejects a held deletion; false when it is not open.
pub async fn decide_held_delete(client: &Client, id: i64, approve: bool) -> Result<bool, Error> {
    let decision = if approve { "approved" } else { "rejected" };
    let n = client
        .execute(
            "UPDATE sheetbridge.held_delete SET decision = $2, decided_at = clock_timestamp()
             WHERE id = $1 AND decided_at IS NULL",
            &[&id, &decision],
        )
        .await
        .context(|| format!("deciding held deletion {id}"))?;
    Ok(n == 1)
}

/// A person's decision the next sync of the pair carries out.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Conflict `id` on `key` (`column`, or the whole row when `None`) settled for `side`.
    Conflict { id: i64, key: serde_json::Value, column: Option<String>, side: String },
    /// Held deletion `id` of `key` (deleted on `deleted_on`): approved, or rejected (the row comes back).
    HeldDelete { id: i64, key: serde_json::Value, deleted_on: String, approved: bool },
}

/// The decisions on `pair` no sync has carried out yet, oldest first.
pub async fn pending_decisions(client: &Client, pair: &str) -> Result<Vec<Decision>, Error> {
    let what = || format!("reading the decisions on pair `{pair}`");
    let mut out = Vec::new();
    for r in client
        .query(
            "SELECT id, key, \"column\", resolution FROM sheetbridge.conflict
             WHERE pair = $1 AND settled_by = 'person' AND applied_at IS NULL ORDER BY id",
            &[&pair],
        )
        .await
        .context(what)?
    {
        out.push(Decision::Conflict { id: r.get(0), key: r.get(1), column: r.get(2), side: r.get(3) });
    }
    for r in client
        .query(
            "SELECT id, key, deleted_on, decision = 'approved' FROM sheetbridge.held_delete
             WHERE pair = $1 AND decided_at IS NOT NULL AND applied_at IS NULL ORDER BY id",
            &[&pair],
        )
        .await
        .context(what)?
    {
        out.push(Decision::HeldDelete {
            id: r.get(0),
            key: r.get(1),
            deleted_on: r.get(2),
            approved: r.get(3),
        });
    }
    Ok(out)
}

/// Marks decisions as carried out.
pub async fn decisions_applied(client: &Client, decisions: &[Decision]) -> Result<(), Error> {
    let (mut conflicts, mut holds) = (Vec::new(), Vec::new());
    for d in decisions {
        match d {
            Decision::Conflict { id, .. } => conflicts.push(*id),
            Decision::HeldDelete { id, .. } => holds.push(*id),
        }
    }
    let what = || "recording decisions as carried out".to_owned();
    client
        .execute(
            "UPDATE sheetbridge.conflict SET applied_at = clock_timestamp() WHERE id = ANY($1)",
            &[&conflicts],
        )
        .await
        .context(what)?;
    client
        .execute(
            "UPDATE sheetbridge.held_delete SET applied_at = clock_timestamp() WHERE id = ANY($1)",
            &[&holds],
        )
        .await
        .context(what)?;
    Ok(())
}

/// The last runs of each pair (newest first, at most `per_pair` each).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunRow {
    pub id: i64,
    pub pair: String,
    pub command: String,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub status: String,
    pub counts: serde_json::Value,
    pub error: Option<String>,
}

pub async fn recent_runs(client: &Client, pair: Option<&str>, per_pair: i64) -> Result<Vec<RunRow>, Error> {
    let rows = client
        .query(
            "SELECT id, pair, command, to_char(started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),
                    to_char(finished_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), status, counts, error
             FROM (SELECT r.*, row_number() OVER (PARTITION BY pair ORDER BY id DESC) AS n FROM sheetbridge.run r
                   WHERE $1::text IS NULL OR pair = $1) r
             WHERE n <= $2 ORDER BY pair, id DESC",
            &[&pair, &per_pair],
        )
        .await
        .context(|| "reading the run journal".to_owned())?;
    Ok(rows
        .iter()
        .map(|r| RunRow {
            id: r.get(0),
            pair: r.get(1),
            command: r.get(2),
            started_at: r.get(3),
            finished_at: r.get(4),
            status: r.get(5),
            counts: r.get(6),
            error: r.get(7),
        })
        .collect())
}
