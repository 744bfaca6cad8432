use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use sheetbridge_core::{ApplyOptions, ChangeSet, Source, Target, Value};
use sheetbridge_postgres::testing::fresh_db;

use crate::{assert_rows_eq, name, rows};

const EDGE_TABLE: &str = r#"
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE DOMAIN short_text AS varchar(40);
CREATE TABLE edge (
  id int PRIMARY KEY, n numeric, f8 float8, f4 float4, big int8, d date, ts timestamp, tz timestamptz,
  t text, j jsonb, a int4[], u uuid, m mood, tm time, st short_text, b bool, c bpchar(4));
INSERT INTO edge VALUES
  (1, 12345678901234567890.123456789, 'NaN', 'Infinity', -9223372036854775808, '1850-03-01',
   '0099-01-01 12:00', '2024-05-01 13:45:00.123456+02', '', '{"b": [1, 2], "a": null}',
   '{1,NULL,3}', 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11', 'happy', '23:59:59.999999', 'abc', true, 'ab'),
  (2, 'NaN', '-Infinity', '-0', 9223372036854775807, '12000-06-30', 'infinity', '-infinity',
   NULL, '"x"', '{}', NULL, 'sad', '00:00', NULL, false, NULL),
  (3, 'Infinity', 1e308, 1.5, 0, 'infinity', '-infinity', 'infinity',
   'ünï 🙂 =SUM(A1)', '[]', NULL, NULL, NULL, NULL, '', NULL, 'abcd'),
  (4, '-Infinity', -0.1, NULL, NULL, '-infinity', '1999-12-31 23:59:59.999999', '1970-01-01 00:00:00+00',
   repeat('x', 32767), 'null', NULL, NULL, NULL, NULL, NULL, NULL, NULL),
  (5, -0.000001, NULL, NULL, NULL, '0001-01-01', NULL, NULL, repeat('é', 10), NULL, NULL, NULL, NULL, NULL,
   NULL, NULL, NULL);
CREATE TABLE edge_copy (LIKE edge INCLUDING ALL);
"#;

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

#[tokio::test]
async fn edge_values_decode_exactly() {
    let db = fresh_db().await;
    db.exec(EDGE_TABLE).await;
    let mut conn = db.connect().await;
    let r = rows(&mut conn, "edge").await;
    assert_eq!(r.len(), 5);
    let one = &r[0];
    assert_eq!(one[1], Value::Numeric("12345678901234567890.123456789".into()));
    assert!(matches!(one[2], Value::Float(f) if f.is_nan()));
    assert_eq!(one[3], Value::Float(f64::INFINITY));
    assert_eq!(one[4], Value::Int(i64::MIN));
    assert_eq!(one[5], Value::Date(date(1850, 3, 1)));
    assert_eq!(one[6], Value::Timestamp(date(99, 1, 1).and_hms_opt(12, 0, 0).unwrap()));
    assert_eq!(
        one[7],
        Value::TimestampTz(date(2024, 5, 1).and_hms_micro_opt(11, 45, 0, 123_456).unwrap().and_utc())
    );
    assert_eq!(one[8], Value::Text(String::new()), "empty text is not NULL");
    assert_eq!(one[9], Value::Json(r#"{"a": null, "b": [1, 2]}"#.into()));
    assert_eq!(one[10], Value::Text("{1,NULL,3}".into()));
    assert_eq!(one[11], Value::Text("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11".into()));
    assert_eq!(one[12], Value::Text("happy".into()));
    assert_eq!(one[14], Value::Text("abc".into()));
    assert_eq!(one[15], Value::Bool(true));
    assert_eq!(one[16], Value::Text("ab  ".into()), "bpchar keeps its padding");
    let two = &r[1];
    assert_eq!(two[1], Value::Numeric("NaN".into()));
    assert_eq!(two[3], Value::Float(-0.0));
    assert_eq!(two[4], Value::Int(i64::MAX));
    assert_eq!(two[5], Value::Date(date(12000, 6, 30)));
    assert_eq!(two[6], Value::Timestamp(NaiveDateTime::MAX));
    assert_eq!(two[7], Value::TimestampTz(DateTime::<Utc>::MIN_UTC));
    assert_eq!(two[8], Value::Null);
    assert_eq!(r[2][1], Value::Numeric("Infinity".into()));
    assert_eq!(r[2][5], Value::Date(NaiveDate::MAX));
    assert_eq!(r[2][8], Value::Text("ünï 🙂 =SUM(A1)".into()));
    assert_eq!(r[3][5], Value::Date(NaiveDate::MIN));
    assert!(matches!(&r[3][8], Value::Text(t) if t.len() == 32767));
    assert_eq!(r[4][1], Value::Numeric("-0.000001".into()));
}

#[tokio::test]
async fn a_snapshot_inserted_into_a_copy_reads_back_equal() {
    let db = fresh_db().await;
    db.exec(EDGE_TABLE).await;
    let mut conn = db.connect().await;
    let original = rows(&mut conn, "edge").await;
    let schema = conn.table(name("edge_copy")).schema().await.unwrap();
    let changes = ChangeSet { inserts: original.clone(), ..ChangeSet::default() };
    let report =
        conn.table(name("edge_copy")).apply(&schema, &changes, &ApplyOptions::default()).await.unwrap();
    assert_eq!(report.inserted, 5);
    let copied = rows(&mut conn, "edge_copy").await;
    assert_rows_eq(&original, &copied);
}

#[tokio::test]
async fn columns_filters_and_queries() {
    let db = fresh_db().await;
    db.exec("CREATE TABLE t (id int PRIMARY KEY, a text, n numeric(6,2)); INSERT INTO t SELECT g, 'r' || g, g / 4.0 FROM generate_series(1, 1000) g;").await;
    let mut conn = db.connect().await;
    let mut seen = Vec::new();
    let mut table =
        conn.table(name("t")).with_columns(vec!["n".into(), "id".into()]).with_filter("id % 100 = 0");
    let schema = table.schema().await.unwrap();
    assert_eq!(schema.columns.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(), ["n", "id"]);
    let n = table
        .scan(&mut |r: &[Value]| {
            seen.push(r.to_vec());
            Ok(())
        })
        .await
        .unwrap();
    assert_eq!(n, 10);
    assert_eq!(seen[0], vec![Value::Numeric("25.00".into()), Value::Int(100)]);
    let e = conn.table(name("t")).with_columns(vec!["nope".into()]).schema().await.unwrap_err();
    assert!(e.to_string().contains("`nope`"), "{e}");

    let mut total = 0;
    let mut q = conn.query("SELECT id, id AS id, a FROM t WHERE id <= 3 -- trailing comment");
    q.scan(&mut |r: &[Value]| {
        assert_eq!(r.len(), 3);
        total += 1;
        Ok(())
    })
    .await
    .unwrap();
    assert_eq!(total, 3);
    // A query cannot write: not through a data-modifying CTE, not through a function.
    assert!(conn
        .query("WITH x AS (DELETE FROM t RETURNING id) SELECT * FROM x")
        .scan(&mut |_: &[Value]| Ok(()))
        .await
        .is_err());
    db.exec("CREATE FUNCTION w() RETURNS int LANGUAGE sql AS 'INSERT INTO t VALUES (5000) RETURNING id'")
        .await;
    let e = conn.query("SELECT w()").scan(&mut |_: &[Value]| Ok(())).await.unwrap_err();
    assert!(e.to_string().contains("read-only"), "{e}");
    assert_eq!(rows(&mut conn, "t").await.len(), 1000);
}
