//! Reads a table with the snapshot path and copies it back with insert-mode
//! import, printing the time of each: `throughput URL SOURCE DEST`
//! (DEST is created empty `LIKE` SOURCE).

use std::time::Instant;

use sheetbridge_core::{Source, TableName, Value};
use sheetbridge_postgres::{connect, ImportMode, PgConfig};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, url, source, dest] = args.as_slice() else {
        return Err("usage: throughput URL SOURCE DEST".into());
    };
    let mut conn = connect(&PgConfig::parse(url)?).await?;
    let started = Instant::now();
    let mut cells = 0usize;
    let rows = conn
        .table(TableName::parse(source)?)
        .scan(&mut |r: &[Value]| {
            cells += r.iter().filter(|v| !v.is_null()).count();
            Ok(())
        })
        .await?;
    println!("snapshot: {rows} rows, {cells} cells in {:.2?}", started.elapsed());

    conn.client()
        .batch_execute(&format!(
            "DROP TABLE IF EXISTS {dest}; CREATE TABLE {dest} (LIKE {source} INCLUDING ALL)"
        ))
        .await?;
    let schema = conn.describe_table(&TableName::parse(dest)?).await?;
    let columns: Vec<usize> = (0..schema.columns.len()).collect();
    let mut all = Vec::with_capacity(rows as usize);
    conn.table(TableName::parse(source)?)
        .scan(&mut |r: &[Value]| {
            all.push(r.to_vec());
            Ok(())
        })
        .await?;
    let started = Instant::now();
    let mut import = conn.begin_import(&schema, &columns, ImportMode::Insert).await?;
    for (n, row) in all.iter().enumerate() {
        import.write(n as u32 + 2, row).await?;
    }
    let report = import.commit().await?;
    println!("import (insert): {} rows in {:.2?}", report.inserted, started.elapsed());
    Ok(())
}
