//! The sync state: base rows, the journal, conflicts and held deletions.

use sheetbridge_core::testing::{edge_rows, edge_schema};
use sheetbridge_core::Key;
use sheetbridge_postgres::migrate::migrate;
use sheetbridge_postgres::state::{self, ConflictRecord, RunStatus};
use sheetbridge_postgres::testing::fresh_db;

#[tokio::test]
async fn the_base_keeps_every_value_exactly_and_forgets_dropped_keys() {
    let db = fresh_db().await;
    let mut conn = db.connect().await;
    migrate(&mut conn).await.unwrap();
    let schema = edge_schema();
    let rows = edge_rows();
    let keyed: Vec<(Key, Vec<_>)> = rows.iter().map(|r| (schema.key_of(r), r.clone())).collect();
    let client = conn.client();
    let saved = state::save_base(client, "edge", &schema, keyed.iter().map(|(k, r)| (k, r.as_slice())), &[])
        .await
        .unwrap();
    assert_eq!(saved as usize, rows.len());
    let base = state::load_base(client, "edge", &schema).await.unwrap();
    assert_eq!(base.len(), rows.len());
    for (key, row) in &keyed {
        let stored = base.get(key).unwrap_or_else(|| panic!("key {key} missing from the base"));
        for (c, (a, b)) in schema.columns.iter().zip(stored.iter().zip(row)) {
            assert_eq!(a, b, "key {key}, column `{}`: the base changed the value", c.name);
        }
    }
    // Another pair's base is separate; dropping keys forgets them.
    let other = state::load_base(client, "other", &schema).await.unwrap();
    assert!(other.is_empty());
    let dropped = vec![keyed[0].0.clone()];
    state::save_base(client, "edge", &schema, std::iter::empty(), &dropped).await.unwrap();
    let base = state::load_base(client, "edge", &schema).await.unwrap();
    assert_eq!(base.len(), rows.len() - 1);
    assert!(!base.contains_key(&keyed[0].0));
    // Saving the same rows again is an upsert, not a duplicate.
    state::save_base(client, "edge", &schema, keyed.iter().map(|(k, r)| (k, r.as_slice())), &[])
        .await
        .unwrap();
    assert_eq!(state::load_base(client, "edge", &schema).await.unwrap().len(), rows.len());
    assert_eq!(state::clear_base(client, "edge").await.unwrap() as usize, rows.len());
}

#[tokio::test]
async fn runs_conflicts_and_held_deletes_are_journaled_and_settled_once() {
    let db = fresh_db().await;
    let mut conn = db.connect().await;
    migrate(&mut conn).await.unwrap();
    let client = conn.client();
    let run = state::start_run(client, "orders", "sync").await.unwrap();
    let abandoned = state::start_run(client, "orders", "sync").await.unwrap();
    assert_ne!(run, abandoned);
    let key = Key(vec![sheetbridge_core::Value::Int(7)]);
    let conflict = |resolution| ConflictRecord {
        key: key.clone(),
        column: Some("quantity".into()),
        base: Some("1".into()),
        table: Some("2".into()),
        sheet: Some("3".into()),
        resolution,
    };
    // An open conflict found twice is recorded once; a settled one each time.
    assert_eq!(state::record_conflicts(client, "orders", Some(run), &[conflict("held")]).await.unwrap(), 1);
    assert_eq!(state::record_conflicts(client, "orders", Some(run), &[conflict("held")]).await.unwrap(), 0);
    // A run's conflicts go in one statement; the same open cell twice in it is still recorded once.
    let other = |column: &str| ConflictRecord { column: Some(column.into()), ..conflict("held") };
    assert_eq!(
        state::record_conflicts(client, "orders", Some(run), &[other("sku"), other("sku"), other("notes")])
            .await
            .unwrap(),
        2
    );
    assert_eq!(state::record_conflicts(client, "orders", Some(run), &[conflict("table")]).await.unwrap(), 1);
    let open = state::open_conflicts(client, Some("orders")).await.unwrap();
    assert_eq!(open.len(), 3);
    let open: Vec<_> = open.into_iter().filter(|c| c.column.as_deref() == Some("quantity")).collect();
    assert_eq!((open[0].table.as_str(), open[0].sheet.as_str()), (Some("2"), Some("3")));
    assert!(state::resolve_conflict(client, open[0].id, "sheet").await.unwrap());
    assert!(!state::resolve_conflict(client, open[0].id, "sheet").await.unwrap(), "settled twice");
    assert!(state::resolve_conflict(client, open[0].id, "both").await.is_err());
    assert_eq!(state::open_conflicts(client, None).await.unwrap().len(), 2, "sku and notes stay open");

    let held = vec![(key.clone(), "sheet", Some(serde_json::json!({"quantity": "1"})))];
    assert_eq!(state::hold_deletes(client, "orders", Some(run), &held).await.unwrap(), 1);
    assert_eq!(
        state::hold_deletes(client, "orders", Some(run), &held).await.unwrap(),
        0,
        "one open hold per key"
    );
    let waiting = state::held_deletes(client, Some("orders")).await.unwrap();
    assert_eq!((waiting.len(), waiting[0].deleted_on.as_str()), (1, "sheet"));
    assert!(state::decide_held_delete(client, waiting[0].id, true).await.unwrap());
    assert!(state::held_deletes(client, None).await.unwrap().is_empty());

    let counts = serde_json::json!({"to_table": {"cells": 1}, "to_sheet": {"cells": 2}});
    state::finish_run(client, run, RunStatus::Success, &counts, None).await.unwrap();
    // A run left `running` by a process that died is closed as failed, never as success.
    assert_eq!(state::close_abandoned_runs(client, "orders").await.unwrap(), 1);
    let statuses: Vec<(i64, String, bool)> = client
        .query("SELECT id, status, error IS NOT NULL FROM sheetbridge.run ORDER BY id", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!(statuses, vec![(run, "success".into(), false), (abandoned, "failed".into(), true)]);
}
