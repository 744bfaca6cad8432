//! Reading tabs people made: every bad cell at once, ragged rows, headers, Source.

use serde_json::json;
use sheetbridge_core::{ColumnType, ErrorKind, Source, Value};
use sheetbridge_google_sheets::{SheetRef, Tab};

use crate::*;

fn people_tab(emu: &sheetbridge_sheets_emulator::Emulator, rows: Vec<Vec<serde_json::Value>>) -> SheetRef {
    let id = emu.with_sheets(|st| {
        let id = st.create_spreadsheet(None, "People");
        st.add_sheet(&id, "Q&A #1", None, None).expect("tab");
        st.set_values(&id, "'Q&A #1'!A1", rows).expect("values");
        id
    });
    SheetRef::new(id, Some("Q&A #1"))
}

#[tokio::test]
async fn every_bad_cell_is_reported_at_once_with_its_a1_name() {
    let emu = emulator();
    let c = client(&emu, "ada@example.com");
    let at = people_tab(
        &emu,
        vec![
            vec![json!("id"), json!("qty"), json!("day"), json!("ok")],
            vec![json!(1), json!(5), json!("2024-05-01"), json!(true)],
            vec![json!(2), json!("abc"), json!("2024-05-02"), json!(false)],
            vec![json!(3.5), json!(7), json!("not a date"), json!("maybe")],
            vec![json!(""), json!(1), json!("2024-05-04")],
        ],
    );
    let s = schema(
        "people",
        vec![
            key("id", ColumnType::Int32, "int4"),
            col("qty", ColumnType::Int32, "int4"),
            col("day", ColumnType::Date, "date"),
            col("ok", ColumnType::Bool, "bool"),
        ],
    );
    let e = read_all(&c, &at, &s).await.expect_err("bad cells");
    assert_eq!(e.kind(), &ErrorKind::Conversion);
    let where_: Vec<&str> = e.problems().iter().map(|p| p.at.as_str()).collect();
    let base = at.to_string();
    assert_eq!(
        where_,
        vec![
            format!("{base} B3"),
            format!("{base} A4"),
            format!("{base} C4"),
            format!("{base} D4"),
            format!("{base} A5"),
        ],
        "{e}"
    );
    let p = &e.problems()[0];
    assert_eq!((p.column.as_str(), p.type_name.as_str(), p.value.as_str()), ("qty", "int4", "\"abc\""));
    assert!(e.to_string().contains("5 bad cells"), "{e}");
}

#[tokio::test]
async fn ragged_rows_headers_in_any_order_and_blank_rows() {
    let emu = emulator();
    let c = client(&emu, "ada@example.com");
    let at = people_tab(
        &emu,
        vec![
            vec![json!("Name "), json!("ID"), json!("extra")],
            vec![json!("Ada"), json!(1)],
            vec![],
            vec![json!(""), json!(2), json!("x")],
            vec![json!("Bob"), json!(3)],
        ],
    );
    let s = schema(
        "people",
        vec![
            key("id", ColumnType::Int32, "int4"),
            col("name", ColumnType::Text, "text"),
            col("age", ColumnType::Int32, "int4"),
        ],
    );
    let mut tab = c.open_tab(&at).await.expect("open");
    let layout = tab.layout(&s).expect("layout");
    assert_eq!(layout.columns, vec![0, 1]);
    assert_eq!(layout.unknown, vec!["extra".to_owned()]);
    assert_eq!(layout.missing, vec!["age".to_owned()]);
    let mut rows = Vec::new();
    let summary = tab
        .read(&layout, &s, |n, v| {
            rows.push((n, v.to_vec()));
            Ok(())
        })
        .await
        .expect("read");
    assert_eq!(summary.blank_rows_skipped, 1);
    assert_eq!(
        rows,
        vec![
            (2, vec![Value::Int(1), text("Ada")]),
            (4, vec![Value::Int(2), Value::Null]),
            (5, vec![Value::Int(3), text("Bob")]),
        ]
    );

    // The same tab through core's Source, found by its gid.
    let gid = tab.tab().sheet_id;
    let by_gid = SheetRef { spreadsheet_id: at.spreadsheet_id.clone(), tab: Tab::Gid(gid) };
    let mut source = c.open_tab(&by_gid).await.expect("open").with_schema(s.clone());
    let projected = source.schema().await.expect("schema");
    assert_eq!(projected.columns.len(), 2);
    let mut seen = Vec::new();
    let n = source
        .scan(&mut |row: &[Value]| {
            seen.push(row.to_vec());
            Ok(())
        })
        .await
        .expect("scan");
    assert_eq!(n, 3);
    assert_eq!(seen[2], vec![Value::Int(3), text("Bob")]);
}

#[tokio::test]
async fn a_missing_tab_or_spreadsheet_is_not_found_and_says_which() {
    let emu = emulator();
    let c = client(&emu, "ada@example.com");
    let at = people_tab(&emu, vec![vec![json!("id")], vec![json!(1)]]);
    let e = c.open_tab(&at.with_tab("Nope")).await.expect_err("no such tab");
    assert_eq!(e.kind(), &ErrorKind::NotFound);
    assert!(e.to_string().contains("`Q&A #1`"), "{e}");
    let e = c
        .open_tab(&SheetRef::new("1nosuchsheetnosuchsheetnosuchsheetnosuchsh", None))
        .await
        .expect_err("none");
    assert_eq!(e.kind(), &ErrorKind::NotFound);
    assert!(e.to_string().contains("1nosuchsheet"), "{e}");
    // Another user's spreadsheet: 403, share it.
    emu.with_sheets(|st| st.set_owner(&at.spreadsheet_id, Some("bob@example.com")));
    let e = c.open_tab(&at).await.expect_err("not shared");
    assert_eq!(e.kind(), &ErrorKind::Unauthorized);
    assert!(e.to_string().contains("share the spreadsheet with ada@example.com"), "{e}");
}
