//! The bare pipelines sheetbridge's speed is measured against.
//!
//! ```text
//! bare export [--zip-level N] URL TABLE OUT.xlsx
//!                                  COPY (SELECT * FROM TABLE) TO STDOUT (FORMAT binary)
//!                                  -> rust_xlsxwriter constant-memory worksheet
//!                                  (deflate level N, default rust_xlsxwriter's 6)
//! bare import URL IN.xlsx DEST     calamine streaming cell reader
//!                                  -> COPY DEST FROM STDIN (FORMAT binary)
//! ```
//!
//! Written the way one would write a one-off job for exactly the benchmark's table
//! (`bench.orders`, see ../shared/bench/gen.sql): the nine column types are fixed, there is
//! no configuration, no schema discovery, no type inference, no diagnostics beyond the first
//! error. Whatever sheetbridge spends above these numbers is the price of being a product.
//!
//! Both directions are exact for that table: numeric(12,2) travels as a double (Excel has
//! nothing else) and comes back rounded to 2 decimals; timestamps are UTC Excel serials,
//! rounded to the millisecond on the way back (Excel's own resolution).

use std::error::Error as StdError;
use std::thread;

use anyhow::{bail, ensure, Context, Result};
use bytes::{BufMut, Bytes, BytesMut};
use calamine::{open_workbook, DataRef, Reader, Xlsx};
use futures_util::{pin_mut, SinkExt, StreamExt};
use rust_xlsxwriter::{Format, Workbook};
use tokio_postgres::binary_copy::BinaryCopyOutStream;
use tokio_postgres::types::{FromSql, Type};
use tokio_postgres::{Client, NoTls};

const COLUMNS: [&str; 9] =
    ["id", "customer", "email", "amount", "quantity", "ordered_at", "ship_date", "paid", "notes"];
const TYPES: [Type; 9] = [
    Type::INT8,
    Type::TEXT,
    Type::TEXT,
    Type::NUMERIC,
    Type::INT4,
    Type::TIMESTAMPTZ,
    Type::DATE,
    Type::BOOL,
    Type::TEXT,
];
/// Scale of `amount numeric(12,2)`.
const AMOUNT_SCALE: u16 = 2;

/// Excel serial day number of 2000-01-01, the Postgres epoch (1900 date system).
const PG_EPOCH_SERIAL: f64 = 36526.0;
const MICROS_PER_DAY: f64 = 86_400_000_000.0;
const MILLIS_PER_DAY: f64 = 86_400_000.0;

/// Bytes of binary COPY data handed to the server at a time.
const CHUNK: usize = 256 * 1024;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build()?;
    let rows = match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["export", url, table, out] => rt.block_on(export(url, table, out, None))?,
        ["export", "--zip-level", level, url, table, out] => {
            let level = level.parse().ok().filter(|l| (1..=9).contains(l)).context("zip level 1-9")?;
            rt.block_on(export(url, table, out, Some(level)))?
        }
        ["import", url, xlsx, dest] => rt.block_on(import(url, xlsx, dest))?,
        _ => bail!("usage: bare export [--zip-level N] URL TABLE OUT.xlsx | bare import URL IN.xlsx DEST"),
    };
    println!("{rows}");
    Ok(())
}

async fn connect(url: &str) -> Result<Client> {
    let (client, conn) = tokio_postgres::connect(url, NoTls).await.context("connect")?;
    tokio::spawn(async move {
        if let Err(e) = conn.await {
            eprintln!("connection: {e}");
        }
    });
    Ok(client)
}

/// `schema.table` -> `"schema"."table"`.
fn quote_table(name: &str) -> String {
    name.split('.').map(|p| format!("\"{}\"", p.replace('"', "\"\""))).collect::<Vec<_>>().join(".")
}

// ---------------------------------------------------------------- export

/// numeric (binary) as the nearest double.
struct Numeric(f64);

impl<'a> FromSql<'a> for Numeric {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn StdError + Sync + Send>> {
        // ndigits, weight, sign, dscale, then ndigits base-10000 digits, most significant first.
        let be16 = |i: usize| u16::from_be_bytes([raw[i], raw[i + 1]]);
        if raw.len() < 8 {
            return Err("short numeric".into());
        }
        let ndigits = be16(0) as usize;
        let weight = be16(2) as i16 as i32;
        let sign = be16(4);
        if sign == 0xC000 {
            return Ok(Numeric(f64::NAN));
        }
        if raw.len() < 8 + 2 * ndigits || ndigits > 4 {
            return Err("numeric wider than 16 digits".into());
        }
        let mut acc: i64 = 0;
        for i in 0..ndigits {
            acc = acc * 10_000 + be16(8 + 2 * i) as i64;
        }
        // value = acc * 10000^(weight - ndigits + 1); one rounding when dividing.
        let exp = 4 * (weight - ndigits as i32 + 1);
        let v = if exp >= 0 { acc as f64 * 10f64.powi(exp) } else { acc as f64 / 10f64.powi(-exp) };
        Ok(Numeric(if sign == 0x4000 { -v } else { v }))
    }
    fn accepts(ty: &Type) -> bool {
        *ty == Type::NUMERIC
    }
}

/// timestamptz (binary): microseconds since 2000-01-01 00:00 UTC.
struct Micros(i64);

impl<'a> FromSql<'a> for Micros {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn StdError + Sync + Send>> {
        Ok(Micros(i64::from_be_bytes(raw.try_into()?)))
    }
    fn accepts(ty: &Type) -> bool {
        *ty == Type::TIMESTAMPTZ || *ty == Type::TIMESTAMP
    }
}

/// date (binary): days since 2000-01-01.
struct Days(i32);

impl<'a> FromSql<'a> for Days {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn StdError + Sync + Send>> {
        Ok(Days(i32::from_be_bytes(raw.try_into()?)))
    }
    fn accepts(ty: &Type) -> bool {
        *ty == Type::DATE
    }
}

async fn export(url: &str, table: &str, out: &str, zip_level: Option<u8>) -> Result<u64> {
    let client = connect(url).await?;
    let mut workbook = Workbook::new();
    if let Some(level) = zip_level {
        workbook.set_zip_compression_level(level);
    }
    let ts_format = Format::new().set_num_format("yyyy-mm-dd hh:mm:ss");
    let date_format = Format::new().set_num_format("yyyy-mm-dd");
    let sheet = workbook.add_worksheet_with_constant_memory()?;
    sheet.set_name("orders")?;
    for (c, name) in COLUMNS.iter().enumerate() {
        sheet.write_string(0, c as u16, *name)?;
    }

    let sql = format!("COPY (SELECT * FROM {}) TO STDOUT (FORMAT binary)", quote_table(table));
    let stream = client.copy_out(&sql).await.context("COPY TO")?;
    let rows = BinaryCopyOutStream::new(stream, &TYPES);
    pin_mut!(rows);
    let mut r: u32 = 0;
    while let Some(row) = rows.next().await {
        let row = row?;
        r += 1;
        ensure!(r < 1_048_576, "more rows than an Excel sheet holds");
        sheet.write_number(r, 0, row.try_get::<i64>(0)? as f64)?;
        sheet.write_string(r, 1, row.try_get::<&str>(1)?)?;
        if let Some(s) = row.try_get::<Option<&str>>(2)? {
            sheet.write_string(r, 2, s)?;
        }
        sheet.write_number(r, 3, row.try_get::<Numeric>(3)?.0)?;
        sheet.write_number(r, 4, row.try_get::<i32>(4)?)?;
        let ts = row.try_get::<Micros>(5)?.0 as f64 / MICROS_PER_DAY + PG_EPOCH_SERIAL;
        sheet.write_number_with_format(r, 5, ts, &ts_format)?;
        if let Some(d) = row.try_get::<Option<Days>>(6)? {
            sheet.write_number_with_format(r, 6, d.0 as f64 + PG_EPOCH_SERIAL, &date_format)?;
        }
        sheet.write_boolean(r, 7, row.try_get::<bool>(7)?)?;
        if let Some(s) = row.try_get::<Option<&str>>(8)? {
            sheet.write_string(r, 8, s)?;
        }
    }
    workbook.save(out).with_context(|| format!("write {out}"))?;
    Ok(r as u64)
}

// ---------------------------------------------------------------- import

async fn import(url: &str, xlsx: &str, dest: &str) -> Result<u64> {
    let client = connect(url).await?;
    let sql = format!("COPY {} ({}) FROM STDIN (FORMAT binary)", quote_table(dest), COLUMNS.join(", "));
    let sink = client.copy_in::<_, Bytes>(&sql).await.context("COPY FROM")?;
    pin_mut!(sink);

    // Parse on a thread of its own; the server works on the previous chunks meanwhile.
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Bytes>(4);
    let path = xlsx.to_owned();
    let parser = thread::spawn(move || encode_sheet(&path, &tx));
    while let Some(chunk) = rx.recv().await {
        sink.feed(chunk).await?;
    }
    let rows = parser.join().map_err(|_| anyhow::anyhow!("parser thread panicked"))??;
    let copied = sink.finish().await.context("COPY FROM")?;
    ensure!(copied == rows, "server took {copied} rows of {rows}");
    Ok(rows)
}

/// Reads the first sheet (row 1 = header) and sends it as binary COPY data in chunks.
fn encode_sheet(path: &str, tx: &tokio::sync::mpsc::Sender<Bytes>) -> Result<u64> {
    let mut workbook: Xlsx<_> = open_workbook(path).with_context(|| format!("open {path}"))?;
    let name = workbook.sheet_names().first().cloned().context("workbook has no sheet")?;
    let mut cells = workbook.worksheet_cells_reader(&name)?;

    let mut buf = BytesMut::with_capacity(2 * CHUNK);
    buf.put_slice(b"PGCOPY\n\xff\r\n\0");
    buf.put_i32(0); // flags
    buf.put_i32(0); // header extension length
    let send = |buf: &mut BytesMut| -> Result<()> {
        tx.blocking_send(buf.split().freeze()).map_err(|_| anyhow::anyhow!("COPY stopped"))
    };

    let mut rows: u64 = 0;
    let mut row: u32 = 0; // current sheet row (0 = header)
    let mut next_col: usize = COLUMNS.len(); // next column of the current row to write
    while let Some(cell) = cells.next_cell()? {
        let (r, c) = cell.get_position();
        let c = c as usize;
        if r == 0 || c >= COLUMNS.len() {
            continue;
        }
        if r != row {
            for _ in next_col..COLUMNS.len() {
                buf.put_i32(-1);
            }
            if buf.len() >= CHUNK {
                send(&mut buf)?;
            }
            buf.put_i16(COLUMNS.len() as i16);
            rows += 1;
            row = r;
            next_col = 0;
        }
        for _ in next_col..c {
            buf.put_i32(-1); // blank cell: NULL
        }
        next_col = c + 1;
        encode_cell(&mut buf, c, cell.get_value())
            .with_context(|| format!("sheet `{name}` row {} column `{}`", r + 1, COLUMNS[c]))?;
    }
    if rows > 0 {
        for _ in next_col..COLUMNS.len() {
            buf.put_i32(-1);
        }
    }
    buf.put_i16(-1); // trailer
    send(&mut buf)?;
    Ok(rows)
}

fn encode_cell(buf: &mut BytesMut, col: usize, v: &DataRef<'_>) -> Result<()> {
    if matches!(v, DataRef::Empty) {
        buf.put_i32(-1);
        return Ok(());
    }
    match (&TYPES[col], v) {
        (t, DataRef::SharedString(s)) if *t == Type::TEXT => put_text(buf, s),
        (t, DataRef::String(s)) if *t == Type::TEXT => put_text(buf, s),
        (t, _) if *t == Type::INT8 => {
            buf.put_i32(8);
            buf.put_i64(whole(v)?);
        }
        (t, _) if *t == Type::INT4 => {
            buf.put_i32(4);
            buf.put_i32(i32::try_from(whole(v)?)?);
        }
        (t, _) if *t == Type::NUMERIC => put_numeric(buf, (number(v)? * 100.0).round() as i64),
        (t, DataRef::DateTime(d)) if *t == Type::TIMESTAMPTZ => {
            let ms = ((d.as_f64() - PG_EPOCH_SERIAL) * MILLIS_PER_DAY).round() as i64;
            buf.put_i32(8);
            buf.put_i64(ms * 1000);
        }
        (t, DataRef::DateTime(d)) if *t == Type::DATE => {
            buf.put_i32(4);
            buf.put_i32((d.as_f64().floor() - PG_EPOCH_SERIAL) as i32);
        }
        (t, DataRef::Bool(b)) if *t == Type::BOOL => {
            buf.put_i32(1);
            buf.put_u8(*b as u8);
        }
        (t, v) => bail!("{v:?} does not fit {t}"),
    }
    Ok(())
}

fn put_text(buf: &mut BytesMut, s: &str) {
    buf.put_i32(s.len() as i32);
    buf.put_slice(s.as_bytes());
}

fn number(v: &DataRef<'_>) -> Result<f64> {
    match v {
        DataRef::Float(f) => Ok(*f),
        DataRef::Int(i) => Ok(*i as f64),
        _ => bail!("{v:?} is not a number"),
    }
}

fn whole(v: &DataRef<'_>) -> Result<i64> {
    let f = number(v)?;
    ensure!(f.fract() == 0.0 && f.abs() < 9.007e15, "{f} is not an integer");
    Ok(f as i64)
}

/// numeric binary form of `units` × 10^-AMOUNT_SCALE: ndigits, weight, sign, dscale, then
/// base-10000 digits, most significant first, without leading or trailing zero digits.
fn put_numeric(buf: &mut BytesMut, units: i64) {
    const _: () = assert!(AMOUNT_SCALE == 2, "one fractional base-10000 digit holds 2 decimals");
    let mut int = units.unsigned_abs() / 100;
    let frac = (units.unsigned_abs() % 100) as i16 * 100;
    let mut digits = [0i16; 6];
    let mut n = 0;
    while int > 0 {
        digits[n] = (int % 10_000) as i16;
        int /= 10_000;
        n += 1;
    }
    digits[..n].reverse();
    let mut weight = n as i16 - 1;
    if frac != 0 {
        digits[n] = frac;
        n += 1;
    }
    while n > 0 && digits[n - 1] == 0 {
        n -= 1;
    }
    if n == 0 {
        weight = 0;
    }
    // Below 1 there are no integer digits: the fraction digit alone, at weight -1.
    buf.put_i32(8 + 2 * n as i32);
    buf.put_i16(n as i16);
    buf.put_i16(weight);
    buf.put_u16(if units < 0 { 0x4000 } else { 0 });
    buf.put_u16(AMOUNT_SCALE);
    for d in &digits[..n] {
        buf.put_i16(*d);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Expected bytes are Postgres 15's `numeric_send(x::numeric(12,2))`.
    #[test]
    fn numeric_encoding_matches_numeric_send() {
        for (units, hex) in [
            (0, "0000000000000002"),
            (5, "0001ffff0000000201f4"),
            (50, "0001ffff000000021388"),
            (100, "00010000000000020001"),
            (1_000_000, "00010001000000020001"),
            (1_234_567, "0003000100000002000109291a2c"),
            (-50, "0001ffff400000021388"),
            (9_999_999, "00030001000000020009270f26ac"),
            (123_456_789_012, "0004000200000002000c0d801ed204b0"),
            (10_000_000_001, "00040002000000020001000000000064"),
        ] {
            let mut buf = BytesMut::new();
            put_numeric(&mut buf, units);
            let got: String = buf[4..].iter().map(|b| format!("{b:02x}")).collect();
            assert_eq!(got, hex, "units {units}");
            assert_eq!(buf[..4], ((hex.len() / 2) as i32).to_be_bytes(), "length of {units}");
            let back = Numeric::from_sql(&Type::NUMERIC, &buf[4..]).unwrap().0;
            assert_eq!(back, units as f64 / 100.0, "decoding {units}");
        }
    }
}
