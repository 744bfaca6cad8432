//! Target::apply on a keyed tab: by key, deletes from the bottom, no blank rows, guarded.

use sheetbridge_core::{
    ApplyOptions, CellChange, ChangeSet, ColumnType, Delete, ErrorKind, Key, OnConflict, TableSchema, Target,
    Update, Value,
};
use sheetbridge_google_sheets::SheetRef;

use crate::roundtrip::export_new;
use crate::*;

fn items() -> TableSchema {
    schema(
        "items",
        vec![
            key("id", ColumnType::Int32, "int4"),
            col("name", ColumnType::Text, "text"),
            col("qty", ColumnType::Int32, "int4"),
        ],
    )
}

fn row(id: i64, name: &str, qty: i64) -> Vec<Value> {
    vec![Value::Int(id), text(name), Value::Int(qty)]
}

async fn seeded(c: &sheetbridge_google_sheets::SheetsClient) -> SheetRef {
    let rows: Vec<Vec<Value>> = (1..=6).map(|i| row(i, &format!("item {i}"), i * 10)).collect();
    export_new(c, &items(), &rows, None).await
}

fn k(id: i64) -> Key {
    Key(vec![Value::Int(id)])
}

fn update(id: i64, column: usize, old: Value, new: Value) -> Update {
    Update { key: k(id), cells: vec![CellChange { column, old, new }] }
}

async fn tab_rows(c: &sheetbridge_google_sheets::SheetsClient, at: &SheetRef) -> Vec<Vec<Value>> {
    let (_, rows) = read_all(c, at, &items()).await.expect("read");
    // Row numbers must be 2, 3, 4, ... : no blank row anywhere.
    for (i, (n, _)) in rows.iter().enumerate() {
        assert_eq!(*n, i as u32 + 2, "a blank row was left before sheet row {n}");
    }
    rows.into_iter().map(|(_, v)| v).collect()
}

#[tokio::test]
async fn updates_inserts_and_deletes_land_by_key_without_blank_rows() {
    let emu = emulator();
    let c = client(&emu, "ada@example.com");
    let at = seeded(&c).await;
    let s = items();
    let changes = ChangeSet {
        inserts: vec![row(7, "seven", 70), row(8, "", 80)],
        updates: vec![
            update(5, 2, Value::Int(50), Value::Int(55)),
            update(2, 1, text("item 2"), text("=not a formula")),
            update(6, 1, text("item 6"), Value::Null),
        ],
        deletes: vec![
            Delete { key: k(3), old: Some(row(3, "item 3", 30)) },
            Delete { key: k(1), old: None },
            Delete { key: k(4), old: None },
            Delete { key: k(99), old: None },
        ],
    };
    emu.clear_requests();
    let mut target = c.tab_target(&at);
    let report = target.apply(&s, &changes, &ApplyOptions::default()).await.expect("apply");
    assert_eq!((report.inserted, report.updated_rows, report.updated_cells, report.deleted), (2, 3, 3, 3));
    assert!(report.conflicts.is_empty(), "{:?}", report.conflicts);
    let writes: Vec<_> = emu.requests().into_iter().filter(|r| r.method == "POST").collect();
    // One structural batch, one RAW values batch, one for the empty string.
    assert_eq!(writes.len(), 3, "{writes:?}");
    assert_eq!(
        tab_rows(&c, &at).await,
        vec![
            row(2, "=not a formula", 20),
            row(5, "item 5", 55),
            vec![Value::Int(6), Value::Null, Value::Int(60)],
            row(7, "seven", 70),
            row(8, "", 80),
        ]
    );

    // Applying it again changes nothing and sends no write.
    emu.clear_requests();
    let again = target.apply(&s, &changes, &ApplyOptions::default()).await.expect("again");
    assert_eq!((again.inserted, again.updated_cells, again.deleted), (0, 0, 0), "{again:?}");
    assert!(emu.requests().iter().all(|r| r.method == "GET"), "{:?}", emu.requests());
}

#[tokio::test]
async fn a_cell_edited_since_it_was_read_is_a_conflict() {
    let emu = emulator();
    let c = client(&emu, "ada@example.com");
    let at = seeded(&c).await;
    let s = items();
    // Someone edits B3 (item 2's name) and C4 (item 3's qty) in the browser.
    emu.with_sheets(|st| {
        st.set_values(&at.spreadsheet_id, "'items'!B3", vec![vec![serde_json::json!("renamed")]])
            .expect("edit");
        st.set_values(&at.spreadsheet_id, "'items'!C4", vec![vec![serde_json::json!(31)]]).expect("edit");
    });
    let changes = ChangeSet {
        inserts: vec![row(9, "nine", 90)],
        updates: vec![
            update(2, 1, text("item 2"), text("two")),
            update(5, 2, Value::Int(50), Value::Int(51)),
        ],
        deletes: vec![Delete { key: k(3), old: Some(row(3, "item 3", 30)) }],
    };
    let before = tab_rows(&c, &at).await;

    // Dry run: the report, nothing written.
    let mut target = c.tab_target(&at);
    let dry = ApplyOptions { dry_run: true, on_conflict: OnConflict::Skip };
    let report = target.apply(&s, &changes, &dry).await.expect("dry run");
    assert_eq!(report.conflicts.len(), 2);
    assert_eq!(tab_rows(&c, &at).await, before);

    // Abort: an error naming both, nothing written.
    let e = target.apply(&s, &changes, &ApplyOptions::default()).await.expect_err("conflicts");
    assert_eq!(e.kind(), &ErrorKind::Conflict);
    let m = e.to_string();
    assert!(m.contains("key 2 column `name`: read \"item 2\", now \"renamed\""), "{m}");
    assert!(m.contains("key 3 column `qty`: read 30, now 31"), "{m}");
    assert_eq!(tab_rows(&c, &at).await, before);

    // Skip: the rest lands, the edits stay.
    let skip = ApplyOptions { dry_run: false, on_conflict: OnConflict::Skip };
    let report = target.apply(&s, &changes, &skip).await.expect("skip");
    assert_eq!(report.conflicts.len(), 2);
    assert_eq!((report.inserted, report.updated_cells, report.deleted), (1, 1, 0));
    let after = tab_rows(&c, &at).await;
    assert_eq!(after[1], row(2, "renamed", 20));
    assert_eq!(after[2], row(3, "item 3", 31));
    assert_eq!(after[4], row(5, "item 5", 51));
    assert_eq!(after[6], row(9, "nine", 90));
}

#[tokio::test]
async fn a_value_too_long_for_a_cell_is_refused_before_anything_is_written() {
    let emu = emulator();
    let c = client(&emu, "ada@example.com");
    let at = seeded(&c).await;
    let changes = ChangeSet {
        inserts: vec![row(7, &"x".repeat(50_001), 1)],
        updates: vec![update(1, 2, Value::Int(10), Value::Int(11))],
        deletes: vec![],
    };
    emu.clear_requests();
    let e =
        c.tab_target(&at).apply(&items(), &changes, &ApplyOptions::default()).await.expect_err("too long");
    assert_eq!(e.kind(), &ErrorKind::LimitExceeded);
    assert!(e.to_string().contains("column `name` for key 7 has 50001 characters"), "{e}");
    assert!(emu.requests().iter().all(|r| r.method == "GET"));

    // An update too long is named by its row's key.
    let changes = ChangeSet {
        inserts: vec![],
        updates: vec![update(4, 1, text("item 4"), text(&"y".repeat(50_002)))],
        deletes: vec![],
    };
    let e =
        c.tab_target(&at).apply(&items(), &changes, &ApplyOptions::default()).await.expect_err("too long");
    assert!(e.to_string().contains("column `name` for key 4 has 50002 characters"), "{e}");
    assert!(emu.requests().iter().all(|r| r.method == "GET"));
}

/// Rows a person typed with an empty key match nothing: two of them used to be reported as a
/// repeated key and stopped every apply to the tab.
#[tokio::test]
async fn rows_without_a_key_are_left_alone_and_can_be_given_one() {
    let emu = emulator();
    let c = client(&emu, "ada@example.com");
    let at = seeded(&c).await;
    let s = items();
    let id = at.spreadsheet_id.clone();
    let tab = match &at.tab {
        sheetbridge_google_sheets::Tab::Name(n) => n.clone(),
        other => panic!("a named tab, not {other:?}"),
    };
    emu.with_sheets(|st| {
        st.set_values(
            &id,
            &format!("'{tab}'!A8:C9"),
            vec![
                vec![serde_json::json!(""), serde_json::json!("typed one"), serde_json::json!(1)],
                vec![serde_json::json!(""), serde_json::json!("typed two"), serde_json::json!(2)],
            ],
        )
    })
    .expect("a person types two rows without an id");
    let changes =
        ChangeSet { updates: vec![update(2, 2, Value::Int(20), Value::Int(21))], ..ChangeSet::default() };
    let mut target = c.tab_target(&at);
    let report = target.apply(&s, &changes, &ApplyOptions::default()).await.expect("apply");
    assert_eq!(report.updated_cells, 1);

    // The table made keys 100 and 101; the second row was edited meanwhile, so only the first gets one.
    emu.with_sheets(|st| {
        st.set_values(&id, &format!("'{tab}'!B9"), vec![vec![serde_json::json!("typed 2!")]])
    })
    .expect("an edit");
    let wanted = vec![
        (8, vec![Value::Null, text("typed one"), Value::Int(1)], k(100)),
        (9, vec![Value::Null, text("typed two"), Value::Int(2)], k(101)),
    ];
    let written = target.assign_keys(&s, &wanted).await.expect("assign keys");
    assert_eq!(written, vec![8]);
    let values = emu.with_sheets(|st| st.values_unformatted(&id, &format!("'{tab}'!A8:A9"))).expect("values");
    assert_eq!(values[0], vec![serde_json::json!(100)]);
    assert!(values.get(1).is_none_or(|r| r.first().is_none_or(|v| v == "")), "{values:?}");
}
