//! The rows both xlsx benches write: 9 columns shaped like the speed benchmark's
//! `bench.orders` (see benches/ at the root), made on the fly from the row number.

use chrono::{DateTime, NaiveDate, Utc};
use sheetbridge_core::schema::RelationKind;
use sheetbridge_core::{Column, ColumnType, TableName, TableSchema, Value};

pub fn schema() -> TableSchema {
    let c = |n: &str, ty, t: &str| Column::new(n, ty, t);
    let mut id = c("id", ColumnType::Int64, "int8");
    id.key = true;
    TableSchema {
        name: TableName::new(Some("bench"), "orders"),
        kind: RelationKind::Table,
        columns: vec![
            id,
            c("customer", ColumnType::Text, "text"),
            c("email", ColumnType::Text, "text"),
            c("amount", ColumnType::Numeric { precision: Some(12), scale: Some(2) }, "numeric(12,2)"),
            c("quantity", ColumnType::Int32, "int4"),
            c("ordered_at", ColumnType::TimestampTz, "timestamptz"),
            c("ship_date", ColumnType::Date, "date"),
            c("paid", ColumnType::Bool, "bool"),
            c("notes", ColumnType::Text, "text"),
        ],
    }
}

fn h(id: u64, k: u64) -> u64 {
    let mut x = id.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ k.wrapping_mul(0xC2B2_AE3D_27D4_EB4F);
    x ^= x >> 31;
    x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x ^ (x >> 29)
}

/// Row `id`, filled into `row` (reused, as a source's rows are).
pub fn fill(id: u64, row: &mut [Value]) {
    const NAMES: [&str; 6] =
        ["Alice Martin", "Bob Dupont", "Zoë Müller", "李 小龍", "Ivan Petrov", "Grace O'Neil"];
    let base = NaiveDate::from_ymd_opt(2020, 1, 1).and_then(|d| d.and_hms_opt(0, 0, 0)).unwrap_or_default();
    row[0] = Value::Int(id as i64);
    row[1] = Value::Text(NAMES[(h(id, 1) % 6) as usize].to_owned());
    row[2] =
        if h(id, 2).is_multiple_of(50) { Value::Null } else { Value::Text(format!("user{id}@example.com")) };
    let cents = h(id, 3) % 10_000_000;
    row[3] = Value::Numeric(format!("{}.{:02}", cents / 100, cents % 100));
    row[4] = Value::Int((h(id, 4) % 100) as i64 + 1);
    let t = base + chrono::Duration::seconds((h(id, 5) % 150_000_000) as i64);
    row[5] = Value::TimestampTz(DateTime::<Utc>::from_naive_utc_and_offset(t, Utc));
    row[6] = if h(id, 6).is_multiple_of(10) {
        Value::Null
    } else {
        Value::Date(t.date() + chrono::Duration::days(3))
    };
    row[7] = Value::Bool(h(id, 7).is_multiple_of(2));
    row[8] = match h(id, 8) % 100 {
        0..=34 => Value::Null,
        35..=42 => Value::Text("Livraison prévue — 配送予定 🙂".to_owned()),
        43..=47 => Value::Text("x".repeat(150 + (h(id, 9) % 150) as usize)),
        48 => Value::Text("y".repeat(1000 + (h(id, 9) % 3000) as usize)),
        _ => Value::Text(format!("note {}", h(id, 9) % 1000)),
    };
}
