//! A minimal HTTP/1.1 client for the tests: one request per connection.

use std::io::{Read, Write};
use std::net::TcpStream;

use sheetbridge_sheets_emulator::Emulator;

pub struct Reply {
    pub status: u16,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

/// Sends `method path_and_query` with an optional bearer token and JSON body.
pub fn send(
    emulator: &Emulator,
    method: &str,
    target: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> Reply {
    let mut stream = TcpStream::connect(emulator.addr()).expect("connect to the emulator");
    let mut head =
        format!("{method} {target} HTTP/1.1\r\nHost: sheets.googleapis.com\r\nConnection: close\r\n");
    if let Some(t) = token {
        head.push_str(&format!("Authorization: Bearer {t}\r\n"));
    }
    let body = body.unwrap_or("");
    if !body.is_empty() || method != "GET" {
        head.push_str(&format!("Content-Type: application/json\r\nContent-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).expect("write head");
    stream.write_all(body.as_bytes()).expect("write body");
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = match text.split_once("\r\n\r\n") {
        Some((head, rest)) if head.to_ascii_lowercase().contains("transfer-encoding: chunked") => {
            dechunk(rest)
        }
        Some((_, rest)) => rest.to_owned(),
        None => String::new(),
    };
    Reply { status, body }
}

fn dechunk(mut rest: &str) -> String {
    let mut out = String::new();
    while let Some((size, tail)) = rest.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || tail.len() < n {
            break;
        }
        out.push_str(&tail[..n]);
        rest = tail[n..].trim_start_matches("\r\n");
    }
    out
}

pub fn get(emulator: &Emulator, target: &str, token: &str) -> Reply {
    send(emulator, "GET", target, Some(token), None)
}

pub fn post(emulator: &Emulator, target: &str, token: &str, body: &serde_json::Value) -> Reply {
    send(emulator, "POST", target, Some(token), Some(&body.to_string()))
}

pub fn put(emulator: &Emulator, target: &str, token: &str, body: &serde_json::Value) -> Reply {
    send(emulator, "PUT", target, Some(token), Some(&body.to_string()))
}
