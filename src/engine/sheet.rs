//! The sheet side of a pair: a Google Sheet tab or a workbook sheet, read as
//! keyed rows and written with a change set.

use std::collections::HashMap;
use std::path::PathBuf;

use sheetbridge_core::{Error, ErrorKind, Key, TableSchema, Value};
use sheetbridge_google_sheets::{SheetRef, SheetsClient};
use sheetbridge_xlsx::XlsxSource;

/// A sheet row's number (1-based) and its values.
type NumberedRow = (u32, Vec<Value>);

/// Where a pair's sheet lives.
#[derive(Debug, Clone)]
pub enum SheetSide {
    Workbook { path: PathBuf, tab: String },
    Google { client: SheetsClient, sheet: SheetRef },
}

/// A sheet as read for a sync.
#[derive(Debug, Default)]
pub struct SheetSnapshot {
    /// False when the tab (or the workbook) does not exist yet.
    pub exists: bool,
    /// Rows with a complete key, in schema column order.
    pub rows: HashMap<Key, Vec<Value>>,
    /// The keys in the sheet's row order, with their sheet row numbers (a
    /// workbook's; a Google tab is written by key, so its order is not kept).
    pub order: Vec<(Key, u32)>,
    /// Rows whose key is empty (typed by a person; the table gives them one).
    pub keyless: Vec<(u32, Vec<Value>)>,
}

impl SheetSide {
    /// The same sheet, with a Google client that counts its calls apart (see
    /// [`SheetsClient::counted`]).
    pub fn counted(&self) -> SheetSide {
        match self {
            SheetSide::Google { client, sheet } => {
                SheetSide::Google { client: client.counted(), sheet: sheet.clone() }
            }
            workbook => workbook.clone(),
        }
    }

    /// How messages name the sheet.
    pub fn label(&self) -> String {
        match self {
            SheetSide::Workbook { path, tab } => format!("`{}` sheet `{tab}`", path.display()),
            SheetSide::Google { sheet, .. } => format!("`{sheet}`"),
        }
    }

    /// Reads every row. A sheet that lacks a column of `schema` is an error
    /// (the sync would not know that column's value); extra columns are left alone.
    pub async fn read(&self, schema: &TableSchema) -> Result<SheetSnapshot, Error> {
        let mut rows: Vec<NumberedRow> = Vec::new();
        match self {
            SheetSide::Google { client, sheet } => {
                let mut tab = match client.open_tab(sheet).await {
                    Ok(tab) => tab,
                    Err(e) if e.kind() == &ErrorKind::NotFound && spreadsheet_exists(client, sheet).await => {
                        return Ok(SheetSnapshot::default());
                    }
                    Err(e) => return Err(e),
                };
                tab.allow_empty(true);
                let layout = tab.layout(schema)?;
                check_columns(&self.label(), schema, &layout.missing)?;
                let columns = layout.columns.clone();
                // The tab's cells are freed as their rows are converted.
                let mut reader = tab.into_rows(&layout, schema).await?;
                let mut values = vec![Value::Null; columns.len()];
                while let Some(n) = reader.next_row(&mut values) {
                    rows.push((n, full_row(schema, &columns, &mut values)));
                }
                reader.finish()?;
            }
            SheetSide::Workbook { path, tab } => {
                if !path.exists() {
                    return Ok(SheetSnapshot::default());
                }
                let (path, tab, schema) = (path.clone(), tab.clone(), schema.clone());
                let label = self.label();
                let read = tokio::task::spawn_blocking(move || -> Result<Option<Vec<NumberedRow>>, Error> {
                    let mut source = match XlsxSource::open(&path, Some(&tab)) {
                        Ok(source) => source,
                        // The workbook has no such sheet yet.
                        Err(e) if e.kind() == &ErrorKind::NotFound => return Ok(None),
                        Err(e) => return Err(e),
                    };
                    source.allow_empty(true);
                    let layout = source.layout(&schema)?;
                    check_columns(&label, &schema, &layout.missing)?;
                    if !layout.unknown.is_empty() {
                        // The sheet is rewritten whole: columns it does not sync would be lost.
                        return Err(Error::new(
                            ErrorKind::SchemaMismatch,
                            format!(
                                "{label} has columns the pair does not sync ({}); a synced workbook sheet is \
                                 rewritten whole, so move them to another sheet or add them to the pair",
                                layout.unknown.join(", ")
                            ),
                        ));
                    }
                    let mut rows = Vec::new();
                    let columns = layout.columns.clone();
                    source.read(&layout, &schema, |n, values| {
                        rows.push((n, full_row(&schema, &columns, values)));
                        Ok(())
                    })?;
                    Ok(Some(rows))
                })
                .await
                .map_err(|e| Error::new(ErrorKind::Other, format!("reading the workbook: {e}")))??;
                match read {
                    Some(read) => rows = read,
                    None => return Ok(SheetSnapshot::default()),
                }
            }
        }
        let mut snapshot = keyed(&self.label(), schema, rows)?;
        if matches!(self, SheetSide::Google { .. }) {
            // A tab is written by key, never by its order: the keys need not be held twice.
            snapshot.order = Vec::new();
        }
        Ok(snapshot)
    }
}

async fn spreadsheet_exists(client: &SheetsClient, sheet: &SheetRef) -> bool {
    client.spreadsheet(&sheet.spreadsheet_id).await.is_ok()
}

fn check_columns(label: &str, schema: &TableSchema, missing: &[String]) -> Result<(), Error> {
    if missing.is_empty() {
        return Ok(());
    }
    Err(Error::new(
        ErrorKind::SchemaMismatch,
        format!(
            "{label} lacks the column(s) {} of `{}`; add them to the header (or remove them from the pair)",
            missing.iter().map(|m| format!("`{m}`")).collect::<Vec<_>>().join(", "),
            schema.name
        ),
    ))
}

/// A row of the layout's columns as a row of every schema column.
fn full_row(schema: &TableSchema, columns: &[usize], values: &mut [Value]) -> Vec<Value> {
    let mut row = vec![Value::Null; schema.columns.len()];
    for (v, &i) in values.iter_mut().zip(columns) {
        row[i] = std::mem::take(v);
    }
    row
}

/// Splits rows into keyed and keyless ones; a key on two rows is an error naming both.
fn keyed(label: &str, schema: &TableSchema, rows: Vec<(u32, Vec<Value>)>) -> Result<SheetSnapshot, Error> {
    let mut snapshot = SheetSnapshot {
        exists: true,
        rows: HashMap::with_capacity(rows.len()),
        order: Vec::with_capacity(rows.len()),
        keyless: Vec::new(),
    };
    let mut repeated = Vec::new();
    for (n, row) in rows {
        let key = schema.key_of(&row);
        if key.is_incomplete() {
            snapshot.keyless.push((n, row));
            continue;
        }
        if snapshot.rows.contains_key(&key) {
            // Only on the way to an error: the first row of the key, by a scan.
            let first = snapshot.order.iter().find(|(k, _)| *k == key).map_or(0, |(_, n)| *n);
            repeated.push(format!("key {key} on rows {first} and {n}"));
            continue;
        }
        snapshot.order.push((key.clone(), n));
        snapshot.rows.insert(key, row);
    }
    if !repeated.is_empty() {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            format!("{label}: a key may stand on one row only: {}; nothing was written", repeated.join("; ")),
        ));
    }
    Ok(snapshot)
}
