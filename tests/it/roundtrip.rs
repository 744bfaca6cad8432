//! Every supported type, with edge values, survives table → workbook → table.

use crate::{dump, fresh_db, psql, sheetbridge_ok};

pub(crate) const ALL_TYPES: &str = r#"
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE DOMAIN positive AS integer CHECK (VALUE > 0);
CREATE TABLE edge (
    id      integer PRIMARY KEY,
    b       boolean,
    i2      smallint,
    i4      integer,
    i8      bigint,
    n       numeric,
    n2      numeric(12,2),
    f4      real,
    f8      double precision,
    t       text,
    vc      varchar(10),
    d       date,
    tm      time,
    ts      timestamp,
    tz      timestamptz,
    j       json,
    jb      jsonb,
    u       uuid,
    e       mood,
    arr     integer[],
    tarr    text[],
    dom     positive,
    iv      interval
);
INSERT INTO edge VALUES
 (1, true, -32768, -2147483648, -9223372036854775808, 12345678901234567890.123456789, 1.50, 1.5, 0.1,
  '', '007', '1850-01-01', '00:00:00', '1899-12-31 23:59:59.999999', '2024-03-31 01:30:00+01',
  '{"a": [1, 2.50, "x"]}', '{"b": {"c": null}, "a": 1}', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 'sad',
  '{1,2,3}', '{"a b","c,d",NULL}', 1, '1 year 2 mons 3 days 04:05:06.5'),
 (2, false, 32767, 2147483647, 9223372036854775807, 'NaN', -99999.99, 'NaN', 'Infinity',
  '=SUM(A1:A2)', '+1', '10000-01-01', '23:59:59.999999', '2024-02-29 12:00:00', '1970-01-01 00:00:00+00',
  '"just a string"', '[]', '00000000-0000-0000-0000-000000000000', 'happy',
  '{}', '{}', 2147483647, '-1 days'),
 (3, NULL, NULL, NULL, 9007199254740993, 'Infinity', 0.00, '-Infinity', '-Infinity',
  '-1', '@home', '1900-02-28', '12:34:56', '9999-12-31 23:59:59', '2024-07-01 12:00:00.123456-07',
  'null', '{"emoji": "🙂"}', NULL, NULL, NULL, NULL, NULL, NULL),
 (4, NULL, 0, 0, 9007199254740992, '-0.000000000000000000001', 0.01, 3.4028235e38, 5e-324,
  'unicode ü 山田 🙂 and a tab	here', NULL, '1900-03-01', NULL, '2024-01-01 00:00:00', '-infinity',
  NULL, NULL, NULL, 'ok', '{{1,2},{3,4}}', '{"quote\"d"}', NULL, NULL),
 (5, true, 1, 1, 1, '0', NULL, 0, -0.0, NULL, '', 'infinity', NULL, 'infinity', '2024-11-25 10:00:00+05:30',
  NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
 (6, NULL, NULL, NULL, NULL, '-Infinity', NULL, NULL, 1e308, repeat('x', 32767), NULL, '0044-03-15 BC',
  NULL, '1900-01-01 00:00:00', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
"#;

#[test]
fn every_type_round_trips_exactly() {
    let url = fresh_db();
    psql(&url, ALL_TYPES);
    psql(&url, "CREATE TABLE edge_copy (LIKE edge INCLUDING ALL)");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("edge.xlsx");
    let f = file.to_str().unwrap();
    sheetbridge_ok(&["export", "--db", &url, "--table", "edge", "--to", f]);

    // Into an empty copy: every value identical.
    sheetbridge_ok(&["import", "--db", &url, "--from", f, "--table", "edge_copy", "--mode", "insert"]);
    // Row by row in Postgres' own text form: exact digits, scales, zones, NULL vs "".
    let (before, after) = (dump(&url, "edge"), dump(&url, "edge_copy"));
    for (b, a) in before.lines().zip(after.lines()) {
        assert_eq!(b, a, "a row changed on the way through the workbook");
    }
    assert_eq!(before.lines().count(), after.lines().count());

    // Back into the original: nothing to change.
    let out = sheetbridge_ok(&["import", "--db", &url, "--from", f, "--table", "edge", "--json"]);
    let plan: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(plan["unchanged"], 6, "an unchanged workbook planned changes: {plan}");
    assert_eq!(plan["updates"], 0, "{plan}");
}

#[test]
fn a_query_exports_read_only() {
    let url = fresh_db();
    psql(&url, "CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t VALUES (1, 'a'), (2, 'b');");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("q.xlsx");
    let out = sheetbridge_ok(&[
        "export",
        "--db",
        &url,
        "--query",
        "SELECT v, id * 10 AS tens FROM t ORDER BY id",
        "--to",
        file.to_str().unwrap(),
        "--json",
    ]);
    let summary: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(summary["rows"], 2);
    assert_eq!(summary["columns"], 2);
    let write = crate::sheetbridge(&[
        "export",
        "--db",
        &url,
        "--query",
        "WITH gone AS (DELETE FROM t RETURNING *) SELECT * FROM gone",
        "--to",
        file.to_str().unwrap(),
    ]);
    assert!(!write.status.success(), "a writing query was run");
    assert_eq!(psql(&url, "SELECT count(*) FROM t"), "2", "the export query deleted rows");
}

#[test]
fn columns_and_where_narrow_the_export() {
    let url = fresh_db();
    crate::load_examples(&url);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("some.xlsx");
    let out = sheetbridge_ok(&[
        "export",
        "--db",
        &url,
        "--table",
        "shop.orders",
        "--columns",
        "id,sku,amount",
        "--where",
        "status = 'paid'",
        "--to",
        file.to_str().unwrap(),
        "--json",
    ]);
    let summary: serde_json::Value = serde_json::from_str(&out).unwrap();
    let paid: u64 = psql(&url, "SELECT count(*) FROM shop.orders WHERE status = 'paid'").parse().unwrap();
    assert_eq!(summary["rows"], paid);
    assert_eq!(summary["columns"], 3);
}

#[test]
fn tables_export_in_key_order() {
    let url = fresh_db();
    // Updated rows move in the heap; the sheet still lists them by key.
    psql(&url, "CREATE TABLE k (a int, b text, PRIMARY KEY (b, a)); INSERT INTO k VALUES (2, 'x'), (1, 'y'), (1, 'x');");
    psql(&url, "UPDATE k SET a = a WHERE b = 'x'");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("k.xlsx");
    sheetbridge_ok(&["export", "--db", &url, "--table", "k", "--to", file.to_str().unwrap()]);
    let schema = sheetbridge_core::TableSchema {
        name: sheetbridge_core::TableName::new(None, "k"),
        kind: sheetbridge_core::schema::RelationKind::Table,
        columns: vec![
            sheetbridge_core::Column::new("a", sheetbridge_core::ColumnType::Int32, "int4"),
            sheetbridge_core::Column::new("b", sheetbridge_core::ColumnType::Text, "text"),
        ],
    };
    let mut source = sheetbridge_xlsx::XlsxSource::open(&file, None).unwrap();
    let layout = source.layout(&schema).unwrap();
    let mut rows = Vec::new();
    source
        .read(&layout, &schema, |_, row: &mut [sheetbridge_core::Value]| {
            rows.push(format!("{}{}", row[0], row[1]));
            Ok(())
        })
        .unwrap();
    // By the key columns, in the order the table lists them.
    assert_eq!(rows, ["1\"x\"", "1\"y\"", "2\"x\""]);
}
