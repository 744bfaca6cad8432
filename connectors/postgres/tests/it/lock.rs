//! Pair locks and change notifications on a real server.

use std::time::Duration;

use sheetbridge_postgres::lock::{advisory_unlock, pair_lock_key, try_advisory_lock};
use sheetbridge_postgres::migrate::migrate;
use sheetbridge_postgres::notify::{watch_table, Listener, CHANGE_CHANNEL};
use sheetbridge_postgres::testing::fresh_db;

use crate::name;

#[tokio::test]
async fn a_pair_lock_is_held_by_one_session_until_released_or_closed() {
    let db = fresh_db().await;
    let (a, b) = (db.connect().await, db.connect().await);
    let key = pair_lock_key("orders");
    assert!(try_advisory_lock(&a, key).await.unwrap());
    assert!(!try_advisory_lock(&b, key).await.unwrap(), "a second session took a held lock");
    // Another pair's lock is free.
    assert!(try_advisory_lock(&b, pair_lock_key("customers")).await.unwrap());
    assert!(advisory_unlock(&a, key).await.unwrap());
    assert!(try_advisory_lock(&b, key).await.unwrap());
    // Closing the holder's session frees its locks.
    drop(b);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !try_advisory_lock(&a, key).await.unwrap() {
        assert!(tokio::time::Instant::now() < deadline, "the lock outlived its closed session");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Not held by this session any more: unlocking says so.
    assert!(advisory_unlock(&a, key).await.unwrap());
    assert!(!advisory_unlock(&a, key).await.unwrap());
}

#[tokio::test]
async fn a_watched_table_notifies_each_change_statement() {
    let db = fresh_db().await;
    let mut conn = db.connect().await;
    migrate(&mut conn).await.unwrap();
    db.exec(r#"CREATE SCHEMA "Shop"; CREATE TABLE "Shop"."Order Lines" (id int PRIMARY KEY, qty int);"#)
        .await;
    let payloads = watch_table(&conn, &name(r#""Shop"."Order Lines""#)).await.unwrap();
    assert_eq!(payloads, ["Shop.Order Lines"]);
    let payload = payloads[0].as_str();
    // Watching twice installs one trigger.
    assert_eq!(watch_table(&conn, &name(r#""Shop"."Order Lines""#)).await.unwrap(), payloads);
    let triggers = conn
        .client()
        .query_one(
            r#"SELECT count(*) FROM pg_trigger WHERE tgrelid = '"Shop"."Order Lines"'::regclass AND NOT tgisinternal"#,
            &[],
        )
        .await
        .unwrap();
    assert_eq!(triggers.get::<_, i64>(0), 1);

    let mut listener = Listener::connect(&db.config, CHANGE_CHANNEL).await.unwrap();
    for sql in [
        r#"INSERT INTO "Shop"."Order Lines" VALUES (1, 1), (2, 2)"#,
        r#"UPDATE "Shop"."Order Lines" SET qty = 3"#,
        r#"BEGIN; DELETE FROM "Shop"."Order Lines" WHERE id = 1; DELETE FROM "Shop"."Order Lines"; COMMIT"#,
        r#"TRUNCATE "Shop"."Order Lines""#,
    ] {
        conn.client().batch_execute(sql).await.unwrap();
    }
    // One per transaction (equal notifications of one transaction fold into one).
    for what in ["insert", "update", "deletes", "truncate"] {
        let n = tokio::time::timeout(Duration::from_secs(10), listener.recv())
            .await
            .unwrap_or_else(|_| panic!("no notification for the {what}"))
            .expect("the listener's connection ended");
        assert_eq!(n.channel(), CHANGE_CHANNEL);
        assert_eq!(n.payload(), payload, "{what}");
    }
    // A table that does not exist is named in the error.
    let e = watch_table(&conn, &name("nope")).await.unwrap_err();
    assert!(e.to_string().contains("nope"), "{e}");
}

#[tokio::test]
async fn a_listener_sees_its_connection_end() {
    let db = fresh_db().await;
    let mut listener = Listener::connect(&db.config, CHANGE_CHANNEL).await.unwrap();
    let pid: i32 = listener.conn().client().query_one("SELECT pg_backend_pid()", &[]).await.unwrap().get(0);
    db.exec(&format!("SELECT pg_terminate_backend({pid})")).await;
    let end = tokio::time::timeout(Duration::from_secs(10), listener.recv()).await;
    assert!(matches!(end, Ok(None)), "the listener did not report its lost connection: {end:?}");
}

#[tokio::test]
async fn a_view_is_watched_through_the_tables_it_reads() {
    let db = fresh_db().await;
    let mut conn = db.connect().await;
    migrate(&mut conn).await.unwrap();
    db.exec(
        "CREATE TABLE t (id int PRIMARY KEY); CREATE TABLE u (id int);
         CREATE VIEW v AS SELECT id FROM t;
         CREATE VIEW w AS SELECT v.id FROM v JOIN u USING (id);",
    )
    .await;
    // An updatable view: writes through it fire the base table's triggers.
    assert_eq!(watch_table(&conn, &name("v")).await.unwrap(), ["public.v", "public.t"]);
    // Views of views of several tables: all of them.
    assert_eq!(
        watch_table(&conn, &name("w")).await.unwrap(),
        ["public.w", "public.t", "public.u", "public.v"]
    );
    let mut listener = Listener::connect(&db.config, CHANGE_CHANNEL).await.unwrap();
    conn.client().batch_execute("INSERT INTO v VALUES (1)").await.unwrap();
    conn.client().batch_execute("INSERT INTO u VALUES (1)").await.unwrap();
    for expected in ["public.t", "public.u"] {
        let n = tokio::time::timeout(Duration::from_secs(10), listener.recv()).await.expect("a notification");
        assert_eq!(n.expect("the listener's connection ended").payload(), expected);
    }
    // A sequence is not a table.
    db.exec("CREATE SEQUENCE s").await;
    let e = watch_table(&conn, &name("s")).await.unwrap_err();
    assert!(e.to_string().contains("not a table or view"), "{e}");
}
