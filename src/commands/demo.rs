//! `sheetbridge demo`: the whole loop on a throwaway local Postgres.
//!
//! Export a table, edit the workbook as a colleague would (one edit with a
//! mistake first), import it with a dry-run plan, apply it, and show the
//! table afterwards. Needs nothing but the system's PostgreSQL binaries.

use std::path::{Path, PathBuf};

use anyhow::Context;
use sheetbridge_core::{Error, ErrorKind, TableName, TableSchema, Value};
use sheetbridge_google_sheets::{Endpoints, SheetRef, SheetsClient, TokenSource};
use sheetbridge_postgres::local::LocalCluster;
use sheetbridge_postgres::PgConn;
use sheetbridge_sheets_emulator::{Emulator, Options as EmulatorOptions};
use sheetbridge_xlsx::{WriteOptions, XlsxSource, XlsxWriter};

use crate::cli::{DbArgs, DemoArgs, ExportArgs, ImportArgs, Mode};
use crate::exit::Code;

/// The example data the demo loads.
pub const SCHEMA_SQL: &str = include_str!("../../examples/demo/schema.sql");

pub async fn run(args: DemoArgs) -> anyhow::Result<Code> {
    let temp;
    let dir: PathBuf = match &args.keep {
        Some(dir) => {
            std::fs::create_dir_all(dir).with_context(|| format!("creating `{}`", dir.display()))?;
            dir.clone()
        }
        None => {
            temp = tempfile::tempdir().context("creating a temporary folder")?;
            temp.path().to_owned()
        }
    };

    step("Starting a throwaway PostgreSQL from the system's binaries");
    let cluster = LocalCluster::start().context("starting a local PostgreSQL for the demo")?;
    cluster.create_database("demo").await?;
    let url = cluster.url("demo");
    let db = || DbArgs { db: Some(url.clone()), config: None };
    let conn = super::connect(&db()).await?;
    conn.client().batch_execute(SCHEMA_SQL).await.context("loading examples/demo/schema.sql")?;
    println!("  loaded examples/demo/schema.sql: shop.customers, shop.orders, shop.open_orders");

    step("Exporting shop.orders to a workbook");
    let exported = dir.join("orders.xlsx");
    let export = ExportArgs {
        db: db(),
        table: Some("shop.orders".into()),
        query: None,
        to: Some(exported.display().to_string()),
        create: false,
        title: None,
        sheet: Some("Orders".into()),
        replace: false,
        columns: Vec::new(),
        filter: None,
        force: false,
        json: false,
    };
    let summary = super::export::export(&export).await?;
    println!("  wrote {} rows to {}", summary.rows, exported.display());

    let schema = conn.describe_table(&TableName::new(Some("shop"), "orders")).await?;
    let rows = read_rows(&exported, &schema).await?;

    step("A colleague edits the workbook, with a few mistakes");
    let bad = dir.join("orders-with-mistakes.xlsx");
    let mut bad_rows = rows.clone();
    set(&schema, &mut bad_rows[2], "quantity", Value::Text("a dozen".into()));
    set(&schema, &mut bad_rows[4], "amount", Value::Text("12.345".into()));
    set(&schema, &mut bad_rows[6], "status", Value::Text("lost".into()));
    write_rows(&bad, &schema, &bad_rows)?;
    println!("  row 4: quantity \"a dozen\"; row 6: amount 12.345; row 8: status \"lost\"");
    let import =
        |from: &Path, dry_run: bool| import_args(db(), from.display().to_string(), "shop.orders", dry_run);
    step("Importing it: every mistake is listed and nothing is written");
    match super::import::import(&import(&bad, false)).await {
        Err(e) => print!("{}", indent(&crate::exit::render(&e))),
        Ok(_) => anyhow::bail!("the demo's bad workbook was accepted"),
    }

    step("The colleague fixes the mistakes, changes two orders and adds one");
    let edited = dir.join("orders-edited.xlsx");
    let mut edited_rows = rows.clone();
    set(&schema, &mut edited_rows[2], "quantity", Value::Int(12));
    set(&schema, &mut edited_rows[4], "status", Value::Text("shipped".into()));
    set(&schema, &mut edited_rows[4], "ship_date", Value::Date(date(2024, 2, 1)));
    set(&schema, &mut edited_rows[6], "notes", Value::Text("=call the customer first".into()));
    let mut new_row = edited_rows[0].clone();
    set(&schema, &mut new_row, "id", Value::Null);
    set(&schema, &mut new_row, "sku", Value::Text("00042".into()));
    set(&schema, &mut new_row, "quantity", Value::Int(3));
    set(&schema, &mut new_row, "amount", Value::Numeric("1234567.89".into()));
    set(&schema, &mut new_row, "notes", Value::Text("new order, id left empty".into()));
    edited_rows.push(new_row);
    write_rows(&edited, &schema, &edited_rows)?;

    step("Dry run: the plan, nothing written");
    let plan = super::import::import(&import(&edited, true)).await?;
    print!("{}", indent(&super::import::render(&plan)));

    step("Applying it");
    let done = super::import::import(&import(&edited, false)).await?;
    print!("{}", indent(&super::import::render(&done)));

    step("The table now");
    print_query(
        &conn,
        "SELECT id::text, sku, status::text, quantity::text, amount::text, \
                coalesce(ship_date::text, ''), coalesce(notes, 'NULL') \
         FROM shop.orders WHERE id IN (3, 5, 7) OR sku = '00042' ORDER BY orders.id",
        &["id", "sku", "status", "quantity", "amount", "ship_date", "notes"],
    )
    .await?;

    google_round_trip(&db(), &conn).await?;

    drop(conn);
    drop(cluster);
    match &args.keep {
        Some(dir) => println!("\nDone. The workbooks are in {}.", dir.display()),
        None => println!("\nDone. The throwaway database and workbooks were removed."),
    }
    Ok(Code::Success)
}

/// The same loop through a Google Sheet tab, on a Sheets emulator started here
/// (Google's API, run locally: no account needed; `sheetbridge auth` sets up the real thing).
async fn google_round_trip(db: &DbArgs, conn: &PgConn) -> anyhow::Result<()> {
    step("Starting a local Sheets emulator (Google's Sheets API, run locally: no account needed)");
    let emulator = Emulator::start(EmulatorOptions::default()).context("starting the Sheets emulator")?;
    let token = emulator.issue_token("demo@example.com", &[sheetbridge_google_sheets::config::SCOPE]);
    let client = SheetsClient::new(Endpoints::at(emulator.base_url()), TokenSource::fixed("demo", token))?;
    println!("  listening on {}", emulator.base_url());

    step("Exporting shop.customers to a new spreadsheet");
    let export = ExportArgs {
        db: db.clone(),
        table: Some("shop.customers".into()),
        query: None,
        to: None,
        create: true,
        title: Some("Shop customers".into()),
        sheet: Some("Customers".into()),
        replace: false,
        columns: Vec::new(),
        filter: None,
        force: false,
        json: false,
    };
    let destination = super::export::Destination::Google { client: client.clone(), target: None };
    let summary = super::export::export_to(&export, destination).await?;
    println!(
        "  wrote {} rows to {} in {} API requests",
        summary.rows,
        summary.file,
        summary.requests.unwrap_or(0)
    );
    let sheet = SheetRef::parse(&summary.file)?;
    let id = sheet.spreadsheet_id.clone();

    step("A colleague edits the tab in the browser: a new e-mail, a new customer with no id");
    let typed = |range: &str, rows: Vec<Vec<serde_json::Value>>| {
        emulator
            .with_sheets(|s| s.set_values(&id, range, rows))
            .map_err(|e| anyhow::anyhow!("editing the demo tab: {e:?}"))
    };
    typed("Customers!C5", vec![vec!["olga.ivanova@example.net".into()]])?;
    typed(
        "Customers!A7:E7",
        vec![vec![
            "".into(),
            "Ada Lovelace".into(),
            "ada@example.com".into(),
            "GB".into(),
            "2024-05-01 10:00".into(),
        ]],
    )?;
    println!("  C5: olga.ivanova@example.net   row 7: Ada Lovelace, ada@example.com, GB");

    let import = |dry_run: bool| import_args(db.clone(), sheet.to_string(), "shop.customers", dry_run);
    step("Dry run from the tab: the plan, nothing written");
    let plan = super::import::import_with(&import(true), Some(client.clone())).await?;
    print!("{}", indent(&super::import::render(&plan)));

    step("Applying it");
    let done = super::import::import_with(&import(false), Some(client.clone())).await?;
    print!("{}", indent(&super::import::render(&done)));

    step("shop.customers now");
    print_query(
        conn,
        "SELECT id::text, name, coalesce(email, 'NULL'), country FROM shop.customers ORDER BY id",
        &["id", "name", "email", "country"],
    )
    .await?;
    let stats = client.stats();
    println!("\n  {} Sheets API calls in all, {} retried", stats.calls, stats.retries);
    Ok(())
}

/// The demo's imports: upsert into `table` by its primary key, at most 10
/// deletes, plans of up to 20 rows.
fn import_args(db: DbArgs, from: String, table: &str, dry_run: bool) -> ImportArgs {
    ImportArgs {
        db,
        from,
        sheet: None,
        table: table.into(),
        mode: Mode::Upsert,
        key: Vec::new(),
        dry_run,
        yes: false,
        max_deletes: 10,
        ignore_unknown: false,
        show: 20,
        json: false,
    }
}

/// Prints the rows of `sql`, whose columns are all text, as a table under `header`.
async fn print_query(conn: &PgConn, sql: &str, header: &[&str]) -> anyhow::Result<()> {
    let rows: Vec<Vec<String>> = conn
        .client()
        .query(sql, &[])
        .await?
        .iter()
        .map(|row| (0..row.len()).map(|i| row.get::<_, String>(i)).collect())
        .collect();
    print!("{}", crate::output::table(header, &rows));
    Ok(())
}

fn step(title: &str) {
    println!("\n== {title}");
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("  {l}\n")).collect()
}

fn date(y: i32, m: u32, d: u32) -> chrono::NaiveDate {
    // Invariant: only called with valid constant dates.
    chrono::NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default()
}

fn set(schema: &TableSchema, row: &mut [Value], column: &str, value: Value) {
    if let Some((i, _)) = schema.column(column) {
        row[i] = value;
    }
}

async fn read_rows(path: &Path, schema: &TableSchema) -> anyhow::Result<Vec<Vec<Value>>> {
    let path = path.to_owned();
    let schema = schema.clone();
    tokio::task::spawn_blocking(move || -> Result<Vec<Vec<Value>>, Error> {
        let mut source = XlsxSource::open(&path, None)?;
        let layout = source.layout(&schema)?;
        if layout.columns.len() != schema.columns.len() {
            return Err(Error::new(ErrorKind::SchemaMismatch, "the exported sheet lacks columns"));
        }
        let mut rows = Vec::new();
        source.read(&layout, &schema, |_, row: &mut [Value]| {
            let mut full = vec![Value::Null; schema.columns.len()];
            for (value, &i) in row.iter().zip(&layout.columns) {
                full[i] = value.clone();
            }
            rows.push(full);
            Ok(())
        })?;
        Ok(rows)
    })
    .await?
    .map_err(Into::into)
}

fn write_rows(path: &Path, schema: &TableSchema, rows: &[Vec<Value>]) -> anyhow::Result<()> {
    use sheetbridge_core::RowSink;
    let options = WriteOptions { sheet: "Orders".into(), ..WriteOptions::default() };
    let mut writer = XlsxWriter::create(path, schema, &options)?;
    for row in rows {
        writer.row(row)?;
    }
    writer.finish()?;
    Ok(())
}
