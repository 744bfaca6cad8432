use sheetbridge_core::ErrorKind;
use sheetbridge_postgres::migrate::{migrate, MIGRATIONS};
use sheetbridge_postgres::testing::fresh_db;

#[tokio::test]
async fn migrations_apply_once_and_refuse_an_edited_file() {
    let db = fresh_db().await;
    let mut conn = db.connect().await;
    let first = migrate(&mut conn).await.unwrap();
    let all: Vec<i32> = MIGRATIONS.iter().map(|m| m.version).collect();
    assert_eq!(first.applied, all);
    let second = migrate(&mut conn).await.unwrap();
    assert!(second.applied.is_empty());
    assert_eq!(second.already, all);
    // The schema is usable.
    conn.client()
        .batch_execute(
            "INSERT INTO sheetbridge.run (pair, command, status, finished_at) VALUES ('p', 'sync', 'success', now());
             INSERT INTO sheetbridge.base_row (pair, key, row) VALUES ('p', '[\"1\"]', '{\"qty\": \"5\"}');",
        )
        .await
        .unwrap();
    // An applied migration whose checksum differs from the file is refused.
    conn.client()
        .execute("UPDATE sheetbridge.schema_migrations SET checksum = 'edited' WHERE version = 1", &[])
        .await
        .unwrap();
    let e = migrate(&mut conn).await.unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::SchemaMismatch);
    assert!(e.to_string().contains(MIGRATIONS[0].name), "{e}");
}

#[tokio::test]
async fn two_runners_at_once_apply_each_migration_once() {
    let db = fresh_db().await;
    let (mut a, mut b) = (db.connect().await, db.connect().await);
    let (ra, rb) = tokio::join!(migrate(&mut a), migrate(&mut b));
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    assert_eq!(ra.applied.len() + rb.applied.len(), MIGRATIONS.len());
}
