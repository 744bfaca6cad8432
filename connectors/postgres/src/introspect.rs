//! Table and query descriptions, read from `pg_catalog` only.

use sheetbridge_core::schema::{Generated, RelationKind};
use sheetbridge_core::{Column, ColumnType, Error, ErrorKind, TableName, TableSchema};
use tokio_postgres::Client;

use crate::convert::{quote_ident, Wire};
use crate::error::Context;
use crate::PgConn;

/// What this crate needs beyond the [`Column`]: how to cast to the real type,
/// and how values travel.
#[derive(Debug, Clone)]
pub(crate) struct ColInfo {
    /// `format_type()` of the column's type: what `::` casts back to.
    pub cast: String,
    /// The base type's name (a domain's base; `jsonb`, `uuid`, ...).
    pub base: String,
    pub wire: Wire,
}

/// A table as this crate sees it.
#[derive(Debug, Clone)]
pub(crate) struct Described {
    pub schema: TableSchema,
    pub cols: Vec<ColInfo>,
    /// `"schema"."name"`, quoted.
    pub rel: String,
}

impl Described {
    pub fn info(&self, name: &str) -> Option<(usize, &Column, &ColInfo)> {
        let (i, c) = self.schema.column(name)?;
        Some((i, c, &self.cols[i]))
    }
}

/// A type resolved through its domains.
struct TypeInfo {
    /// The declared type's name (a domain's own name).
    name: String,
    is_domain: bool,
    cast: String,
    base_name: String,
    base_typtype: String,
    base_category: String,
    base_typmod: i32,
    elem_name: Option<String>,
    labels: Option<Vec<String>>,
}

const RESOLVE_TYPES: &str = "
WITH RECURSIVE input AS (
    SELECT i.ord, i.oid, i.typmod
    FROM unnest($1::oid[], $2::int4[]) WITH ORDINALITY AS i(oid, typmod, ord)
), base(ord, oid, typmod, depth) AS (
    SELECT ord, oid, typmod, 0 FROM input
    UNION ALL
    SELECT b.ord, t.typbasetype, t.typtypmod, b.depth + 1
    FROM base b JOIN pg_catalog.pg_type t ON t.oid = b.oid
    WHERE t.typtype = 'd'
), resolved AS (
    SELECT DISTINCT ON (ord) ord, oid, typmod FROM base ORDER BY ord, depth DESC
)
SELECT t.typname::text, t.typtype::text = 'd', pg_catalog.format_type(i.oid, i.typmod),
       bt.typname::text, bt.typtype::text, bt.typcategory::text, r.typmod,
       et.typname::text,
       (SELECT array_agg(e.enumlabel::text ORDER BY e.enumsortorder)
          FROM pg_catalog.pg_enum e WHERE e.enumtypid = bt.oid)
FROM input i
JOIN pg_catalog.pg_type t ON t.oid = i.oid
JOIN resolved r ON r.ord = i.ord
JOIN pg_catalog.pg_type bt ON bt.oid = r.oid
LEFT JOIN pg_catalog.pg_type et ON et.oid = bt.typelem AND bt.typcategory = 'A'
ORDER BY i.ord";

async fn resolve_types(client: &Client, oids: Vec<u32>, typmods: Vec<i32>) -> Result<Vec<TypeInfo>, Error> {
    let rows =
        client.query(RESOLVE_TYPES, &[&oids, &typmods]).await.context(|| "resolve column types".into())?;
    Ok(rows
        .iter()
        .map(|r| TypeInfo {
            name: r.get(0),
            is_domain: r.get(1),
            cast: r.get(2),
            base_name: r.get(3),
            base_typtype: r.get(4),
            base_category: r.get(5),
            base_typmod: r.get(6),
            elem_name: r.get(7),
            labels: r.get(8),
        })
        .collect())
}

impl TypeInfo {
    fn column_type(&self) -> ColumnType {
        match self.base_name.as_str() {
            "bool" => ColumnType::Bool,
            "int2" => ColumnType::Int16,
            "int4" => ColumnType::Int32,
            "int8" => ColumnType::Int64,
            "numeric" => {
                let (precision, scale) = numeric_typmod(self.base_typmod);
                ColumnType::Numeric { precision, scale }
            }
            "float4" => ColumnType::Float32,
            "float8" => ColumnType::Float64,
            "text" | "varchar" | "bpchar" | "name" | "citext" => ColumnType::Text,
            "date" => ColumnType::Date,
            "time" => ColumnType::Time,
            "timestamp" => ColumnType::Timestamp,
            "timestamptz" => ColumnType::TimestampTz,
            "json" | "jsonb" => ColumnType::Json,
            "uuid" => ColumnType::Uuid,
            _ if self.base_typtype == "e" => ColumnType::Enum(self.labels.clone().unwrap_or_default()),
            _ => ColumnType::Other,
        }
    }

    /// The type as Postgres people write it: `int4`, `numeric(12,2)`,
    /// `varchar(20)`, `int4[]`, an enum's or a domain's own name.
    fn display_name(&self) -> String {
        if self.is_domain {
            return self.name.clone();
        }
        if self.base_category == "A" {
            if let Some(elem) = &self.elem_name {
                return format!("{elem}[]");
            }
        }
        let m = self.base_typmod;
        match self.base_name.as_str() {
            "numeric" => match numeric_typmod(m) {
                (Some(p), Some(s)) => format!("numeric({p},{s})"),
                _ => "numeric".into(),
            },
            "varchar" | "bpchar" if m >= 4 => format!("{}({})", self.base_name, m - 4),
            _ => self.base_name.clone(),
        }
    }
}

fn numeric_typmod(typmod: i32) -> (Option<u32>, Option<u32>) {
    if typmod < 4 {
        return (None, None);
    }
    let t = typmod - 4;
    let precision = ((t >> 16) & 0xffff) as u32;
    // The scale is an 11-bit signed number (negative scales exist since PG 15).
    let raw = t & 0x7ff;
    let scale = if raw & 0x400 != 0 { raw - 0x800 } else { raw };
    (Some(precision), u32::try_from(scale).ok())
}

const RELATION: &str = "
SELECT c.oid, n.nspname::text, c.relname::text, c.relkind::text,
       pg_catalog.pg_relation_is_updatable(c.oid, false)
FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.oid = pg_catalog.to_regclass($1)";

const COLUMNS: &str = "
SELECT a.attname::text, a.attnotnull, a.attidentity::text, a.attgenerated::text, a.atttypid, a.atttypmod,
       pg_catalog.pg_get_expr(d.adbin, d.adrelid),
       pg_catalog.pg_column_is_updatable(a.attrelid, a.attnum, false),
       COALESCE((SELECT a.attnum = ANY (i.indkey) FROM pg_catalog.pg_index i
                 WHERE i.indrelid = a.attrelid AND i.indisprimary), false)
FROM pg_catalog.pg_attribute a
LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum";

/// `"schema"."name"` or `"name"`.
pub(crate) fn qualified(name: &TableName) -> String {
    match &name.schema {
        Some(s) => format!("{}.{}", quote_ident(s), quote_ident(&name.name)),
        None => quote_ident(&name.name),
    }
}

pub(crate) async fn describe(client: &Client, name: &TableName) -> Result<Described, Error> {
    let what = || format!("describe table `{name}`");
    let rel = client.query_opt(RELATION, &[&qualified(name)]).await.context(what)?;
    let Some(rel) = rel else {
        let path: String = client
            .query_one("SELECT array_to_string(current_schemas(false), ', ')", &[])
            .await
            .context(what)?
            .get(0);
        let place = if name.schema.is_some() { String::new() } else { format!(" (search_path: {path})") };
        return Err(Error::new(ErrorKind::NotFound, format!("table `{name}` does not exist{place}")));
    };
    let oid: u32 = rel.get(0);
    let schema_name: String = rel.get(1);
    let rel_name: String = rel.get(2);
    let relkind: String = rel.get(3);
    let updatable: i32 = rel.get(4);
    const INSERT_UPDATE_DELETE: i32 = (1 << 3) | (1 << 2) | (1 << 4);
    let kind = match relkind.as_str() {
        "r" | "p" => RelationKind::Table,
        "v" | "m" | "f" if updatable & INSERT_UPDATE_DELETE == INSERT_UPDATE_DELETE => {
            RelationKind::UpdatableView
        }
        "v" | "m" | "f" => RelationKind::ReadOnlyView,
        other => {
            return Err(Error::new(
                ErrorKind::SchemaMismatch,
                format!("`{name}` is not a table or view (relkind {other})"),
            ))
        }
    };
    let rows = client.query(COLUMNS, &[&oid]).await.context(what)?;
    let oids: Vec<u32> = rows.iter().map(|r| r.get(4)).collect();
    let typmods: Vec<i32> = rows.iter().map(|r| r.get(5)).collect();
    let types = resolve_types(client, oids, typmods).await?;
    let mut columns = Vec::with_capacity(rows.len());
    let mut cols = Vec::with_capacity(rows.len());
    for (r, t) in rows.iter().zip(&types) {
        let col_name: String = r.get(0);
        let not_null: bool = r.get(1);
        let identity: String = r.get(2);
        let generated_kind: String = r.get(3);
        let default: Option<String> = r.get(6);
        let col_updatable: bool = r.get(7);
        let is_key: bool = r.get(8);
        let ty = t.column_type();
        let mut column = Column::new(&col_name, ty.clone(), &t.display_name());
        column.nullable = !not_null;
        column.key = is_key;
        column.has_default = default.is_some() || !identity.is_empty();
        column.generated = match (identity.as_str(), generated_kind.as_str()) {
            ("a", _) => Generated::Always,
            ("d", _) => Generated::ByDefault,
            (_, "s") => Generated::Stored,
            _ if default.as_deref().is_some_and(|d| d.starts_with("nextval(")) => Generated::ByDefault,
            _ => Generated::No,
        };
        column.read_only = column.generated == Generated::Stored
            || kind == RelationKind::ReadOnlyView
            || (kind == RelationKind::UpdatableView && !col_updatable);
        columns.push(column);
        cols.push(ColInfo { cast: t.cast.clone(), base: t.base_name.clone(), wire: Wire::of(&ty) });
    }
    let table = TableName::new(Some(&schema_name), &rel_name);
    let rel = qualified(&table);
    Ok(Described { schema: TableSchema { name: table, kind, columns }, cols, rel })
}

/// The first keyword of an SQL text, skipping blanks, comments and parentheses.
fn first_keyword(sql: &str) -> String {
    let mut rest = sql;
    loop {
        rest = rest.trim_start_matches(|c: char| c.is_whitespace() || c == '(');
        if let Some(r) = rest.strip_prefix("--") {
            rest = r.split_once('\n').map_or("", |(_, after)| after);
        } else if let Some(r) = rest.strip_prefix("/*") {
            rest = r.split_once("*/").map_or("", |(_, after)| after);
        } else {
            break;
        }
    }
    rest.chars().take_while(|c| c.is_ascii_alphabetic()).collect::<String>().to_ascii_uppercase()
}

/// Checks an export query is one read-only statement, and returns it with
/// trailing semicolons removed.
pub(crate) fn check_query(sql: &str) -> Result<&str, Error> {
    let trimmed = sql.trim().trim_end_matches(|c: char| c == ';' || c.is_whitespace());
    match first_keyword(trimmed).as_str() {
        "SELECT" | "WITH" | "VALUES" | "TABLE" => Ok(trimmed),
        other => Err(Error::new(
            ErrorKind::InvalidInput,
            format!(
                "an export query must be one SELECT, WITH, VALUES or TABLE statement; this one starts with `{}`",
                if other.is_empty() { "?" } else { other }
            ),
        )),
    }
}

pub(crate) async fn describe_query_on(
    client: &Client,
    sql: &str,
) -> Result<(TableSchema, Vec<ColInfo>), Error> {
    let sql = check_query(sql)?;
    let what = || "describe the export query".to_owned();
    let stmt = client.prepare(sql).await.context(what)?;
    let oids: Vec<u32> = stmt.columns().iter().map(|c| c.type_().oid()).collect();
    let typmods: Vec<i32> = stmt.columns().iter().map(|c| c.type_modifier()).collect();
    let types = resolve_types(client, oids, typmods).await?;
    let mut columns = Vec::new();
    let mut cols = Vec::new();
    for (c, t) in stmt.columns().iter().zip(&types) {
        let ty = t.column_type();
        let mut column = Column::new(c.name(), ty.clone(), &t.display_name());
        column.read_only = true;
        columns.push(column);
        cols.push(ColInfo { cast: t.cast.clone(), base: t.base_name.clone(), wire: Wire::of(&ty) });
    }
    Ok((TableSchema { name: TableName::new(None, "query"), kind: RelationKind::Query, columns }, cols))
}

impl PgConn {
    /// Describes a table or view: columns in their order, types, NOT NULL,
    /// defaults, identity and generated columns, the primary key, and
    /// whether it can be written. An unqualified name is looked up through
    /// the `search_path`; the schema returned names the schema it was found in.
    pub async fn describe_table(&self, name: &TableName) -> Result<TableSchema, Error> {
        Ok(describe(&self.client, name).await?.schema)
    }

    /// Describes the result columns of an export query (kind `Query`, no
    /// key), inside a read-only transaction.
    pub async fn describe_query(&mut self, sql: &str) -> Result<TableSchema, Error> {
        let what = || "describe the export query".to_owned();
        let tx = self.client.build_transaction().read_only(true).start().await.context(what)?;
        let (schema, _) = describe_query_on(tx.client(), sql).await?;
        tx.rollback().await.context(what)?;
        Ok(schema)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_typmods_decode() {
        assert_eq!(numeric_typmod(-1), (None, None));
        assert_eq!(numeric_typmod(((12 << 16) | 2) + 4), (Some(12), Some(2)));
        assert_eq!(numeric_typmod(((5 << 16) | 0x7fe) + 4), (Some(5), None), "scale -2");
    }

    #[test]
    fn only_read_statements_are_export_queries() {
        assert!(check_query("  select 1;").is_ok());
        assert!(check_query("-- c\n(VALUES (1))").is_ok());
        assert!(check_query("/* x */ with a as (select 1) select * from a").is_ok());
        assert!(check_query("delete from t").is_err());
        assert_eq!(check_query("select 1 ;; ").unwrap(), "select 1");
    }
}
