use std::io::{Read, Write};
use std::net::TcpStream;

use sheetbridge_sheets_emulator::{Emulator, Fault, Options, Route};

fn get(emulator: &Emulator, path: &str, token: Option<&str>) -> (u16, String) {
    let mut stream = TcpStream::connect(emulator.addr()).expect("connect");
    let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: x\r\n{auth}Connection: close\r\n\r\n").expect("write");
    let mut text = String::new();
    let _ = stream.read_to_string(&mut text);
    let status = text.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, text)
}

#[test]
fn a_request_without_a_token_is_refused_like_google_does() {
    let emulator = Emulator::start(Options::default()).expect("start");
    let (status, body) = get(&emulator, "/v4/spreadsheets/abc", None);
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("\"status\": \"UNAUTHENTICATED\""), "{body}");
}

#[test]
fn injected_faults_are_served_in_order_then_stop() {
    let emulator = Emulator::start(Options::default()).expect("start");
    emulator.faults().push(Fault::rate_limited(Route::Sheets, 3, 1));
    emulator.faults().push(Fault::drop_connection(Route::Sheets, 1));
    let (status, body) = get(&emulator, "/v4/spreadsheets/abc", None);
    assert_eq!(status, 429, "{body}");
    assert!(body.to_ascii_lowercase().contains("retry-after: 3"), "{body}");
    let (status, body) = get(&emulator, "/v4/spreadsheets/abc", None);
    assert_eq!(status, 0, "a dropped connection sends nothing: {body}");
    let (status, _) = get(&emulator, "/v4/spreadsheets/abc", None);
    assert_eq!(status, 401);
    assert_eq!(emulator.faults().pending(), 0);
    let statuses: Vec<u16> = emulator.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [429, 0, 401]);
}

#[test]
fn the_binary_prints_its_base_url_and_serves_there() {
    use std::io::BufRead;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_sheets-emulator"))
        .args(["--listen", "127.0.0.1:0", "--reads-per-user", "5"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("starting sheets-emulator");
    let mut line = String::new();
    let stdout = child.stdout.take().expect("stdout");
    std::io::BufReader::new(stdout).read_line(&mut line).expect("the first line");
    let base = line.trim().to_owned();
    let addr = base.strip_prefix("http://").expect("an http:// URL").to_owned();
    let mut stream = TcpStream::connect(&addr).expect("connect to the printed address");
    write!(stream, "GET /__emulator/sheets/spreadsheets HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .expect("write");
    let mut text = String::new();
    let _ = stream.read_to_string(&mut text);
    child.kill().expect("stop the emulator");
    let _ = child.wait();
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(text.contains("\"spreadsheetIds\""), "{text}");
}
