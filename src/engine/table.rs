//! The table side of a pair: a keyed snapshot, and keys made ahead of an insert.

use sheetbridge_core::{Error, ErrorKind, Key, Source, TableName, TableSchema, Value};
use sheetbridge_postgres::{quote_ident, PgConn};

/// The schema of the pair's columns of the table, with the pair's key.
pub async fn schema(
    conn: &mut PgConn,
    name: &TableName,
    columns: &[String],
    key: &[String],
) -> Result<TableSchema, Error> {
    let mut schema = conn.table(name.clone()).with_columns(columns.to_vec()).schema().await?;
    if !key.is_empty() {
        schema.set_key(key).map_err(|unknown| {
            Error::new(
                ErrorKind::SchemaMismatch,
                format!("the key names columns `{name}` does not sync: {}", unknown.join(", ")),
            )
        })?;
    }
    if !schema.has_key() {
        return Err(Error::new(
            ErrorKind::SchemaMismatch,
            format!("`{name}` has no primary key among the synced columns; name the key columns with `key`"),
        ));
    }
    Ok(schema)
}

/// Streams the pair's columns of the table, read in one snapshot, into `f`
/// with each row's key (rows in `schema`'s column order); how many rows.
pub async fn scan<F>(
    conn: &mut PgConn,
    name: &TableName,
    schema: &TableSchema,
    columns: &[String],
    mut f: F,
) -> Result<u64, Error>
where
    F: FnMut(Key, &[Value]) -> Result<(), Error> + Send,
{
    let keys = schema.key_indices();
    let mut table = conn.table(name.clone()).with_columns(columns.to_vec());
    let mut sink =
        |row: &[Value]| -> Result<(), Error> { f(Key(keys.iter().map(|&k| row[k].clone()).collect()), row) };
    table.scan(&mut sink).await
}

/// `n` new keys from the table's own key default (an identity, a serial, a
/// `DEFAULT gen_random_uuid()`), taken now so they can be written into the
/// sheet before the rows are inserted: a crash in between leaves rows with
/// keys in the sheet, which the next run inserts, never twice.
pub async fn make_keys(conn: &PgConn, schema: &TableSchema, n: usize) -> Result<Vec<Key>, Error> {
    if n == 0 {
        return Ok(Vec::new());
    }
    let keys = schema.key_indices();
    let qualified = match &schema.name.schema {
        Some(s) => format!("{}.{}", quote_ident(s), quote_ident(&schema.name.name)),
        None => quote_ident(&schema.name.name),
    };
    let mut exprs = Vec::new();
    for &k in &keys {
        let column = &schema.columns[k];
        let row = conn
            .client()
            .query_one(
                "SELECT pg_get_serial_sequence($1, $2),
                        (SELECT pg_get_expr(d.adbin, d.adrelid) FROM pg_attrdef d
                          JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum
                          WHERE d.adrelid = $1::regclass AND a.attname = $2)",
                &[&qualified, &column.name],
            )
            .await
            .map_err(|e| {
                Error::new(ErrorKind::Other, format!("reading the default of `{}`: {e}", column.name))
            })?;
        let sequence: Option<String> = row.get(0);
        let default: Option<String> = row.get(1);
        let expr = match (sequence, default) {
            (Some(seq), _) => format!("nextval({})::text", quote_literal(&seq)),
            (None, Some(d)) => format!("({d})::text"),
            (None, None) => {
                return Err(Error::new(
                    ErrorKind::InvalidInput,
                    format!(
                    "rows of the sheet have an empty `{}`, and `{}` has no default to make one; fill it in",
                    column.name, schema.name
                ),
                ))
            }
        };
        exprs.push(expr);
    }
    let sql = format!("SELECT {} FROM generate_series(1, $1::int)", exprs.join(", "));
    let rows = conn.client().query(&sql, &[&(n as i32)]).await.map_err(|e| {
        Error::new(ErrorKind::Other, format!("making keys for new rows of `{}`: {e}", schema.name))
    })?;
    rows.iter()
        .map(|r| {
            let values = keys
                .iter()
                .enumerate()
                .map(|(i, &k)| {
                    let text: String = r.get(i);
                    sheetbridge_core::convert::parse_text(&schema.columns[k].ty, &text).map_err(|reason| {
                        Error::new(
                            ErrorKind::Other,
                            format!("a key made for `{}` reads back as {text:?}: {}", schema.name, reason.0),
                        )
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Key(values))
        })
        .collect()
}

fn quote_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}
