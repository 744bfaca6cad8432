//! How long `merge` takes on a pair of N rows × 10 columns (a key and nine
//! values, text and integers): a first sync, a sync where nothing changed,
//! and one where 1% of rows changed on each side.
//!
//! `cargo bench -p sheetbridge-core --bench merge [-- ROWS...]` (default 10000 100000 1000000).

use std::collections::HashMap;
use std::hint::black_box;
use std::time::Instant;

use sheetbridge_core::merge::{merge, ConflictPolicy, DeletePolicy, Direction, MergeSettings, Snapshot};
use sheetbridge_core::schema::RelationKind;
use sheetbridge_core::{Column, ColumnType, Key, TableName, TableSchema, Value};

fn schema() -> TableSchema {
    let mut id = Column::new("id", ColumnType::Int64, "int8");
    id.key = true;
    let mut columns = vec![id];
    for i in 0..9 {
        columns.push(if i % 2 == 0 {
            Column::new(&format!("t{i}"), ColumnType::Text, "text")
        } else {
            Column::new(&format!("n{i}"), ColumnType::Int64, "int8")
        });
    }
    TableSchema { name: TableName::new(None, "bench"), kind: RelationKind::Table, columns }
}

fn rows(n: i64) -> Snapshot {
    let mut map = HashMap::with_capacity(n as usize);
    for id in 0..n {
        let mut row = vec![Value::Int(id)];
        for i in 0..9 {
            row.push(if i % 2 == 0 { Value::Text(format!("value {id} {i}")) } else { Value::Int(id * i) });
        }
        map.insert(Key(vec![Value::Int(id)]), row);
    }
    map
}

/// Changes one cell in every hundredth row (offset by `shift` so the two
/// sides change different rows).
fn change_one_percent(snapshot: &mut Snapshot, shift: i64) {
    for (k, row) in snapshot.iter_mut() {
        if let Value::Int(id) = k.0[0] {
            if (id + shift) % 100 == 0 {
                row[2] = Value::Int(-id);
            }
        }
    }
}

fn time(label: &str, n: i64, f: impl FnOnce() -> usize) {
    let start = Instant::now();
    let out = f();
    let took = start.elapsed();
    println!(
        "{label:>14} {n:>9} rows: {:>8.1} ms ({:.0} ns/row), {out} changes",
        took.as_secs_f64() * 1e3,
        took.as_nanos() as f64 / n as f64
    );
}

fn main() {
    let sizes: Vec<i64> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let sizes = if sizes.is_empty() { vec![10_000, 100_000, 1_000_000] } else { sizes };
    let schema = schema();
    let settings = MergeSettings::new(Direction::Both, ConflictPolicy::TableWins, DeletePolicy::Propagate);
    for n in sizes {
        let base = rows(n);
        let table = base.clone();
        let mut sheet = base.clone();
        let empty = Snapshot::new();
        time("first sync", n, || {
            let plan = merge(&schema, &settings, &empty, &table, &sheet).expect("rows fit");
            black_box(plan.base.set.len())
        });
        time("no change", n, || {
            let plan = merge(&schema, &settings, &base, &table, &sheet).expect("rows fit");
            black_box(plan.to_table.updated_cells() + plan.to_sheet.updated_cells())
        });
        let mut table = table;
        change_one_percent(&mut table, 0);
        change_one_percent(&mut sheet, 50);
        time("1% each side", n, || {
            let plan = merge(&schema, &settings, &base, &table, &sheet).expect("rows fit");
            black_box(plan.to_table.updated_cells() + plan.to_sheet.updated_cells())
        });
    }
}
