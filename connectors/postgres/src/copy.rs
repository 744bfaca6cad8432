//! Binary COPY, both directions, decoded and encoded by hand.
//!
//! The format (PostgreSQL docs, "COPY ... Binary Format"): an 11-byte
//! signature, a 4-byte flags word and a header extension; then per tuple a
//! 2-byte field count followed by each field as a 4-byte length (-1 = NULL)
//! and its bytes; then a field count of -1 as the trailer.

use std::pin::pin;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use futures_util::{SinkExt, StreamExt};
use sheetbridge_core::{Error, ErrorKind, Value};
use tokio_postgres::{Client, CopyInSink};

use crate::convert::{decode, Wire};
use crate::error::Context;

const SIGNATURE: &[u8; 11] = b"PGCOPY\n\xff\r\n\0";

/// Decodes a binary COPY stream into rows of [`Value`]s, one reused row
/// buffer for the whole stream.
pub(crate) struct CopyDecoder {
    wires: Vec<Wire>,
    names: Vec<String>,
    row: Vec<Value>,
    pending: BytesMut,
    header_done: bool,
    finished: bool,
    rows: u64,
}

impl CopyDecoder {
    /// `names` are for messages; `wires` say how each field decodes.
    pub fn new(wires: Vec<Wire>, names: Vec<String>) -> Self {
        let row = vec![Value::Null; wires.len()];
        CopyDecoder {
            wires,
            names,
            row,
            pending: BytesMut::new(),
            header_done: false,
            finished: false,
            rows: 0,
        }
    }

    /// Feeds one chunk; calls `on_row` for each complete tuple in it.
    pub fn feed(
        &mut self,
        chunk: &[u8],
        on_row: &mut impl FnMut(&[Value]) -> Result<(), Error>,
    ) -> Result<(), Error> {
        if self.pending.is_empty() {
            let used = self.parse(chunk, on_row)?;
            if used < chunk.len() {
                self.pending.extend_from_slice(&chunk[used..]);
            }
        } else {
            self.pending.extend_from_slice(chunk);
            let pending = std::mem::take(&mut self.pending);
            let used = self.parse(&pending, on_row)?;
            let mut pending = pending;
            pending.advance(used);
            self.pending = pending;
        }
        Ok(())
    }

    /// Checks the stream ended with its trailer.
    pub fn finish(&self) -> Result<u64, Error> {
        if !self.finished || !self.pending.is_empty() {
            return Err(Error::new(ErrorKind::Retryable, "binary COPY stream ended early"));
        }
        Ok(self.rows)
    }

    fn bad(&self, what: String) -> Error {
        Error::new(ErrorKind::Other, format!("binary COPY stream: {what}"))
    }

    /// Parses whole tuples from `buf`; returns how many bytes were used.
    fn parse(
        &mut self,
        buf: &[u8],
        on_row: &mut impl FnMut(&[Value]) -> Result<(), Error>,
    ) -> Result<usize, Error> {
        let mut at = 0;
        if !self.header_done {
            if buf.len() < 19 {
                return Ok(0);
            }
            if &buf[..11] != SIGNATURE {
                return Err(self.bad("bad signature".into()));
            }
            let ext = u32::from_be_bytes([buf[15], buf[16], buf[17], buf[18]]) as usize;
            if buf.len() < 19 + ext {
                return Ok(0);
            }
            at = 19 + ext;
            self.header_done = true;
        }
        let n = self.wires.len();
        loop {
            if self.finished {
                if at < buf.len() {
                    return Err(self.bad("data after the trailer".into()));
                }
                return Ok(at);
            }
            let start = at;
            let Some(count) = buf.get(at..at + 2) else { return Ok(start) };
            let count = i16::from_be_bytes([count[0], count[1]]);
            at += 2;
            if count == -1 {
                self.finished = true;
                continue;
            }
            if count as usize != n {
                return Err(self.bad(format!("a tuple has {count} fields, expected {n}")));
            }
            for i in 0..n {
                let Some(len) = buf.get(at..at + 4) else { return Ok(start) };
                let len = i32::from_be_bytes([len[0], len[1], len[2], len[3]]);
                at += 4;
                if len < 0 {
                    self.row[i] = Value::Null;
                    continue;
                }
                let len = len as usize;
                let Some(raw) = buf.get(at..at + len) else { return Ok(start) };
                at += len;
                if let Err(reason) = decode(self.wires[i], raw, &mut self.row[i]) {
                    return Err(Error::new(
                        ErrorKind::Conversion,
                        format!("row {} column `{}`: the value {reason}", self.rows + 1, self.names[i]),
                    ));
                }
            }
            self.rows += 1;
            on_row(&self.row)?;
        }
    }
}

/// Runs `COPY (...) TO STDOUT (FORMAT binary)` and hands each row to `on_row`.
pub(crate) async fn copy_out_rows(
    client: &Client,
    copy_sql: &str,
    decoder: &mut CopyDecoder,
    what: &(dyn Fn() -> String + Sync),
    mut on_row: impl FnMut(&[Value]) -> Result<(), Error>,
) -> Result<u64, Error> {
    let stream = client.copy_out(copy_sql).await.context(what)?;
    let mut stream = pin!(stream);
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.context(what)?;
        decoder.feed(&chunk, &mut on_row)?;
    }
    decoder.finish()
}

/// Builds a binary COPY stream and sends it in chunks.
pub(crate) struct CopyWriter {
    sink: std::pin::Pin<Box<CopyInSink<Bytes>>>,
    buf: BytesMut,
}

/// Chunk size sent to the server: large enough that per-message costs vanish.
const CHUNK: usize = 256 * 1024;

impl CopyWriter {
    /// Starts `COPY ... FROM STDIN (FORMAT binary)` (the statement is given whole).
    pub async fn start(
        client: &Client,
        copy_sql: &str,
        what: &(dyn Fn() -> String + Sync),
    ) -> Result<Self, Error> {
        let sink = client.copy_in::<_, Bytes>(copy_sql).await.context(what)?;
        let mut buf = BytesMut::with_capacity(CHUNK + 64 * 1024);
        buf.put_slice(SIGNATURE);
        buf.put_u32(0);
        buf.put_u32(0);
        Ok(CopyWriter { sink: Box::pin(sink), buf })
    }

    /// The buffer to append a tuple to: call [`CopyWriter::begin_row`] first,
    /// then encode each field, then [`CopyWriter::end_row`].
    pub fn buf(&mut self) -> &mut BytesMut {
        &mut self.buf
    }

    /// Writes the field count; returns the buffer length before it, so a row
    /// that fails to encode can be taken back with [`CopyWriter::truncate`].
    pub fn begin_row(&mut self, fields: usize) -> usize {
        let mark = self.buf.len();
        self.buf.put_i16(fields as i16);
        mark
    }

    pub fn truncate(&mut self, mark: usize) {
        self.buf.truncate(mark);
    }

    pub async fn end_row(&mut self, what: &(dyn Fn() -> String + Sync)) -> Result<(), Error> {
        if self.buf.len() >= CHUNK {
            self.flush(what).await?;
        }
        Ok(())
    }

    async fn flush(&mut self, what: &(dyn Fn() -> String + Sync)) -> Result<(), Error> {
        let chunk = self.buf.split().freeze();
        self.sink.send(chunk).await.context(what)
    }

    /// Sends the trailer and completes the COPY; returns the rows the server took.
    pub async fn finish(mut self, what: &(dyn Fn() -> String + Sync)) -> Result<u64, Error> {
        self.buf.put_i16(-1);
        self.flush(what).await?;
        self.sink.as_mut().finish().await.context(what)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(rows: &[&[Option<&[u8]>]]) -> Vec<u8> {
        let mut b = BytesMut::new();
        b.put_slice(SIGNATURE);
        b.put_u32(0);
        b.put_u32(0);
        for row in rows {
            b.put_i16(row.len() as i16);
            for f in *row {
                match f {
                    None => b.put_i32(-1),
                    Some(bytes) => {
                        b.put_i32(bytes.len() as i32);
                        b.put_slice(bytes);
                    }
                }
            }
        }
        b.put_i16(-1);
        b.to_vec()
    }

    #[test]
    fn rows_split_across_chunks_decode_whole() {
        let data = stream(&[
            &[Some(&7i32.to_be_bytes()), Some(b"seven")],
            &[None, Some(b"")],
            &[Some(&(-1i32).to_be_bytes()), Some("ü🙂".as_bytes())],
        ]);
        for split in 1..data.len() {
            let mut d = CopyDecoder::new(vec![Wire::Int4, Wire::Text], vec!["a".into(), "b".into()]);
            let mut seen = Vec::new();
            let mut on_row = |r: &[Value]| {
                seen.push(r.to_vec());
                Ok(())
            };
            for chunk in data.chunks(split) {
                d.feed(chunk, &mut on_row).unwrap();
            }
            assert_eq!(d.finish().unwrap(), 3, "split {split}");
            assert_eq!(
                seen,
                vec![
                    vec![Value::Int(7), Value::Text("seven".into())],
                    vec![Value::Null, Value::Text(String::new())],
                    vec![Value::Int(-1), Value::Text("ü🙂".into())],
                ],
                "split {split}"
            );
        }
    }

    #[test]
    fn a_truncated_stream_is_an_error() {
        let data = stream(&[&[Some(&7i32.to_be_bytes())]]);
        let mut d = CopyDecoder::new(vec![Wire::Int4], vec!["a".into()]);
        d.feed(&data[..data.len() - 2], &mut |_| Ok(())).unwrap();
        assert!(d.finish().is_err());
    }
}
