//! Integration tests against a real throwaway Postgres cluster.

mod apply;
mod import;
mod introspect;
mod lock;
mod migrate;
mod snapshot;
mod state;
mod tls;

use sheetbridge_core::{Source, TableName, Value};
use sheetbridge_postgres::PgConn;

pub fn name(text: &str) -> TableName {
    TableName::parse(text).expect("a valid table name")
}

/// Every row of a table, in key order (the first column).
pub async fn rows(conn: &mut PgConn, table: &str) -> Vec<Vec<Value>> {
    let mut out = Vec::new();
    conn.table(name(table))
        .scan(&mut |r: &[Value]| {
            out.push(r.to_vec());
            Ok(())
        })
        .await
        .expect("scan");
    out.sort_by_key(|r| format!("{:?}", r[0]));
    out
}

/// Asserts two row sets are equal, naming the first differing cell.
pub fn assert_rows_eq(expected: &[Vec<Value>], actual: &[Vec<Value>]) {
    for (r, (e, a)) in expected.iter().zip(actual).enumerate() {
        for (c, (ev, av)) in e.iter().zip(a).enumerate() {
            assert_eq!(ev, av, "row {r} column {c}: expected {ev:?}, got {av:?}");
        }
        assert_eq!(e.len(), a.len(), "row {r} length");
    }
    assert_eq!(expected.len(), actual.len(), "row count");
}
