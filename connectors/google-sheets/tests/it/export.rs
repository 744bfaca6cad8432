//! Export: few requests, a prepared tab, names Google needs quoted, limits, replace.

use sheetbridge_core::{ColumnType, ErrorKind, RowSink, Value};
use sheetbridge_google_sheets::{ExportOptions, SheetRef};

use crate::roundtrip::export_new;
use crate::*;

#[tokio::test]
async fn a_100k_by_10_export_takes_a_handful_of_requests_each_within_2_mb() {
    let emu = emulator();
    let c = client(&emu, "ada@example.com");
    let s = schema(
        "wide",
        (0..10)
            .map(|i| match i {
                0 => key("id", ColumnType::Int64, "int8"),
                1..=3 => col(&format!("t{i}"), ColumnType::Text, "text"),
                4..=6 => col(&format!("n{i}"), numeric(12, 2), "numeric(12,2)"),
                7 => col("day", ColumnType::Date, "date"),
                8 => col("flag", ColumnType::Bool, "bool"),
                _ => col("f", ColumnType::Float64, "float8"),
            })
            .collect(),
    );
    let options = ExportOptions { create: true, ..ExportOptions::default() };
    let mut w = c.export(None, &s, &options).await.expect("export");
    let mut row = Vec::with_capacity(10);
    for i in 0..100_000i64 {
        row.clear();
        row.push(Value::Int(i));
        for t in 1..=3 {
            row.push(Value::Text(format!("text {t} of row {i}")));
        }
        for n in 4..=6 {
            row.push(Value::Numeric(format!("{}.{:02}", i * n, i % 100)));
        }
        row.push(Value::Date(date(2024, 1, 1) + chrono::Days::new((i % 365) as u64)));
        row.push(Value::Bool(i % 2 == 0));
        row.push(Value::Float(i as f64 / 7.0));
        w.row(&row).expect("row");
    }
    let report = w.finish().await.expect("finish");
    assert_eq!((report.rows, report.columns), (100_000, 10));
    let log: Vec<_> = emu.requests().into_iter().filter(|r| r.path.starts_with("/v4/")).collect();
    let methods: Vec<String> =
        log.iter().map(|r| format!("{} {} {}", r.method, r.path, r.body_bytes)).collect();
    assert!(log.len() <= 12, "{} requests:\n{}", log.len(), methods.join("\n"));
    assert_eq!(report.requests, log.len() as u64);
    for r in &log {
        assert!(r.body_bytes <= 2_000_000, "{} {} has {} bytes", r.method, r.path, r.body_bytes);
        assert_eq!(r.status, 200, "{} {}", r.method, r.path);
    }
    let structural =
        log.iter().filter(|r| r.path.ends_with(":batchUpdate") && !r.path.contains("/values")).count();
    assert_eq!(structural, 1, "{}", methods.join("\n"));
    let last = emu
        .with_sheets(|st| st.values_unformatted(&report.spreadsheet_id, "'wide'!A100001:J100001"))
        .expect("values");
    assert_eq!(last[0][0], serde_json::json!(99_999));
    assert_eq!(last[0][1], serde_json::json!("text 1 of row 99999"));
}

#[tokio::test]
async fn a_new_tab_is_prepared_in_one_structural_request() {
    let emu = emulator();
    let c = client(&emu, "ada@example.com");
    let mut note = col("note", ColumnType::Text, "text");
    note.read_only = true;
    let s = schema(
        "orders",
        vec![
            key("id", ColumnType::Int32, "int4"),
            col("status", ColumnType::Enum(vec!["new".into(), "paid".into()]), "order_status"),
            col("paid", ColumnType::Bool, "bool"),
            col("day", ColumnType::Date, "date"),
            col("amount", numeric(12, 2), "numeric(12,2)"),
            note,
        ],
    );
    let id = emu.with_sheets(|st| st.create_spreadsheet(None, "Book"));
    let target = SheetRef::new(id.clone(), Some("Orders"));
    let mut w = c.export(Some(&target), &s, &ExportOptions::default()).await.expect("export");
    w.row(&[
        Value::Int(1),
        text("paid"),
        Value::Bool(true),
        Value::Date(date(2024, 5, 1)),
        num("19.99"),
        text("x"),
    ])
    .expect("row");
    let report = w.finish().await.expect("finish");
    assert_eq!(report.tab, "Orders");
    // get, batchUpdate, values.batchUpdate.
    assert_eq!(report.requests, 3);
    emu.with_sheets(|st| {
        let ss = st.spreadsheet(&id).expect("spreadsheet");
        let sheet = ss.sheets.iter().find(|s| s.title == "Orders").expect("the tab");
        assert_eq!(sheet.grid_props.get("frozenRowCount"), Some(&serde_json::json!(1)));
        // Room for people to type new rows, as a tab made in the browser has.
        assert_eq!((sheet.row_count, sheet.col_count), (1000, 6));
        assert_eq!(sheet.protected_ranges.len(), 2, "{:?}", sheet.protected_ranges);
        for p in &sheet.protected_ranges {
            assert_eq!(p.get("warningOnly"), Some(&serde_json::json!(true)), "{p}");
        }
        let extra = |r, c| sheet.grid.get(r, c).and_then(|cell| cell.extra.clone());
        let header = extra(0, 0).and_then(|e| e.format).expect("header format");
        assert_eq!(header.pointer("/textFormat/bold"), Some(&serde_json::json!(true)), "{header}");
        for c in [1, 2] {
            let v = extra(1, c).and_then(|e| e.validation).expect("validation");
            let spare = extra(999, c).and_then(|e| e.validation).expect("validation on a spare row");
            assert_eq!(spare, v, "the dropdown reaches the last row of the grid");
            assert_eq!(v.pointer("/condition/type"), Some(&serde_json::json!("ONE_OF_LIST")), "{v}");
            assert_eq!(v.get("strict"), Some(&serde_json::json!(true)), "{v}");
        }
        let day = extra(1, 3).and_then(|e| e.format).expect("date format");
        assert_eq!(day.pointer("/numberFormat/type"), Some(&serde_json::json!("DATE")), "{day}");
    });
    let (_, back) = read_all(&c, &target, &s).await.expect("read");
    assert_eq!(back[0].1[4], num("19.99"));
}

#[tokio::test]
async fn tab_names_google_must_quote_work_everywhere() {
    let emu = emulator();
    let c = client(&emu, "ada@example.com");
    let s = schema("t", vec![key("id", ColumnType::Int32, "int4"), col("v", ColumnType::Text, "text")]);
    let id = emu.with_sheets(|st| st.create_spreadsheet(None, "Names"));
    for (i, name) in ["Q&A #1", "'quoted'", "Bob's", "Ünïcödé 🙂", "a/b?c=d", "A1", "100%"].iter().enumerate()
    {
        let target = SheetRef::new(id.clone(), Some(name));
        let mut w = c.export(Some(&target), &s, &ExportOptions::default()).await.expect(name);
        w.row(&[Value::Int(i as i64), text(name)]).expect("row");
        let report = w.finish().await.unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(report.tab, *name);
        // Through the gsheet:// form and back.
        let again = SheetRef::parse(&target.to_string()).expect("parse");
        let (_, rows) = read_all(&c, &again, &s).await.unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(rows, vec![(2, vec![Value::Int(i as i64), text(name)])], "{name}");
    }
}

#[tokio::test]
async fn an_existing_tab_is_replaced_only_when_asked() {
    let emu = emulator();
    let c = client(&emu, "ada@example.com");
    let s = schema("t", vec![key("id", ColumnType::Int32, "int4"), col("v", ColumnType::Text, "text")]);
    let rows: Vec<Vec<Value>> = (0..5).map(|i| vec![Value::Int(i), text("first")]).collect();
    let at = export_new(&c, &s, &rows, None).await;
    let e = c.export(Some(&at), &s, &ExportOptions::default()).await.expect_err("exists");
    assert_eq!(e.kind(), &ErrorKind::InvalidInput);
    assert!(e.to_string().contains("already exists"), "{e}");

    let options = ExportOptions { replace: true, ..ExportOptions::default() };
    let mut w = c.export(Some(&at), &s, &options).await.expect("replace");
    w.row(&[Value::Int(9), Value::Null]).expect("row");
    w.finish().await.expect("finish");
    let (_, back) = read_all(&c, &at, &s).await.expect("read");
    assert_eq!(back, vec![(2, vec![Value::Int(9), Value::Null])]);
    let protections = emu.with_sheets(|st| {
        st.spreadsheet(&at.spreadsheet_id).map(|ss| ss.sheets[0].protected_ranges.len()).unwrap_or(0)
    });
    assert_eq!(protections, 1, "the old key protection is replaced, not doubled");
}

#[tokio::test]
async fn limits_are_checked_before_anything_is_written() {
    let emu = emulator();
    let c = client(&emu, "ada@example.com");
    let s = schema("t", vec![key("id", ColumnType::Int32, "int4"), col("note", ColumnType::Text, "text")]);
    let options = ExportOptions { create: true, ..ExportOptions::default() };
    let mut w = c.export(None, &s, &options).await.expect("export");
    w.row(&[Value::Int(1), text("fine")]).expect("row");
    let e = w.row(&[Value::Int(2), Value::Text("x".repeat(50_001))]).expect_err("too long");
    assert_eq!(e.kind(), &ErrorKind::LimitExceeded);
    let m = e.to_string();
    assert!(m.contains("column `note`") && m.contains("B3") && m.contains("50001 characters"), "{m}");
    assert!(emu.requests().is_empty(), "nothing was sent");

    let wide =
        schema("wide", (0..18_279).map(|i| col(&format!("c{i}"), ColumnType::Int32, "int4")).collect());
    let e = c.export(None, &wide, &options).await.expect_err("too wide");
    assert_eq!(e.kind(), &ErrorKind::LimitExceeded);
    assert!(e.to_string().contains("table `wide` has 18279 columns"), "{e}");
}
