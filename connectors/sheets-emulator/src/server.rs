//! The HTTP server: accepts connections, records each request, applies
//! injected faults, and hands the request to the Sheets or OAuth side.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{HeaderMap, Method, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use crate::faults::{FaultKind, Route};
use crate::{lock, oauth, sheets, RequestRecord, Shared};

/// A request, read whole.
#[derive(Debug)]
pub struct HttpRequest {
    pub method: Method,
    /// The path as sent, still percent-encoded.
    pub path: String,
    pub query: Option<String>,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl HttpRequest {
    /// The bearer token of the `Authorization` header, if any.
    pub fn bearer(&self) -> Option<&str> {
        let value = self.headers.get(hyper::header::AUTHORIZATION)?.to_str().ok()?;
        value.strip_prefix("Bearer ").or_else(|| value.strip_prefix("bearer ")).map(str::trim)
    }
}

/// A response to send.
#[derive(Debug)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    pub fn json(status: u16, body: &serde_json::Value) -> HttpResponse {
        // Google pretty-prints its JSON with two-space indentation.
        let mut text = serde_json::to_vec_pretty(body).unwrap_or_default();
        text.push(b'\n');
        HttpResponse {
            status,
            headers: vec![("content-type", "application/json; charset=UTF-8".to_owned())],
            body: text,
        }
    }

    pub fn html(status: u16, body: String) -> HttpResponse {
        HttpResponse {
            status,
            headers: vec![("content-type", "text/html; charset=utf-8".to_owned())],
            body: body.into_bytes(),
        }
    }

    pub fn redirect(location: &str) -> HttpResponse {
        HttpResponse { status: 302, headers: vec![("location", location.to_owned())], body: Vec::new() }
    }

    pub fn header(mut self, name: &'static str, value: String) -> HttpResponse {
        self.headers.push((name, value));
        self
    }
}

/// Google's error body: `{"error": {"code", "message", "status"}}`.
pub fn google_error(code: u16, message: &str) -> HttpResponse {
    let status = match code {
        400 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        409 => "ABORTED",
        429 => "RESOURCE_EXHAUSTED",
        500 => "INTERNAL",
        503 => "UNAVAILABLE",
        _ => "UNKNOWN",
    };
    HttpResponse::json(
        code,
        &serde_json::json!({"error": {"code": code, "message": message, "status": status}}),
    )
}

/// The request was answered by closing the connection.
#[derive(Debug)]
struct Dropped;

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by an injected fault")
    }
}

impl std::error::Error for Dropped {}

pub(crate) struct Running {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Running {
    pub fn start(shared: Arc<Shared>) -> std::io::Result<Running> {
        let std_listener = std::net::TcpListener::bind(shared.options.listen)?;
        std_listener.set_nonblocking(true)?;
        let addr = std_listener.local_addr()?;
        let (stop, stopped) = oneshot::channel::<()>();
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
        let thread = std::thread::Builder::new().name("sheets-emulator".into()).spawn(move || {
            runtime.block_on(async move {
                let listener = match TcpListener::from_std(std_listener) {
                    Ok(l) => l,
                    Err(e) => {
                        eprintln!("sheets-emulator: {e}");
                        return;
                    }
                };
                tokio::select! {
                    _ = accept_loop(listener, shared) => {}
                    _ = stopped => {}
                }
            });
            // Dropping the runtime here ends every connection task.
        })?;
        Ok(Running { addr, stop: Some(stop), thread: Some(thread) })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else { continue };
        let _ = stream.set_nodelay(true);
        let shared = shared.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| serve(shared.clone(), req));
            let _ =
                http1::Builder::new().keep_alive(true).serve_connection(TokioIo::new(stream), service).await;
        });
    }
}

async fn serve(
    shared: Arc<Shared>,
    req: hyper::Request<Incoming>,
) -> Result<hyper::Response<Full<Bytes>>, Dropped> {
    let (parts, body) = req.into_parts();
    let body = match body.collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return Err(Dropped),
    };
    let request = HttpRequest {
        method: parts.method,
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().map(str::to_owned),
        headers: parts.headers,
        body,
    };
    let route = if request.path.starts_with("/v4/") {
        Route::Sheets
    } else if request.path == "/token" {
        Route::Token
    } else {
        Route::Any
    };
    let mut fault = if request.path.starts_with("/__emulator/") { None } else { shared.faults.take(route) };
    if let Some(FaultKind::Latency(delay)) = fault {
        tokio::time::sleep(delay).await;
        fault = None;
    }
    let response = match fault {
        Some(FaultKind::Drop) => {
            record(&shared, &request, 0);
            return Err(Dropped);
        }
        Some(FaultKind::Status { code, retry_after }) => {
            let mut response = injected(code);
            if let Some(seconds) = retry_after {
                response = response.header("retry-after", seconds.to_string());
            }
            response
        }
        _ => dispatch(&shared, &request),
    };
    record(&shared, &request, response.status);
    Ok(to_hyper(response))
}

fn injected(code: u16) -> HttpResponse {
    match code {
        429 => google_error(
            429,
            "Quota exceeded for quota metric 'Read requests' and limit 'Read requests per minute per user' \
             of service 'sheets.googleapis.com'.",
        ),
        500 => google_error(500, "Internal error encountered."),
        503 => google_error(503, "The service is currently unavailable."),
        other => google_error(other, "Injected fault."),
    }
}

fn dispatch(shared: &Shared, request: &HttpRequest) -> HttpResponse {
    let path = request.path.as_str();
    if path.starts_with("/v4/") {
        let identity = request.bearer().and_then(|token| lock(&shared.oauth).identity_for(token));
        sheets::handle(shared, request, identity)
    } else if let Some(rest) = path.strip_prefix("/__emulator/") {
        admin(shared, request, rest)
    } else if oauth::handles(path) {
        oauth::handle(shared, request)
    } else {
        google_error(404, "Not Found")
    }
}

/// The admin API (`/__emulator/...`), for a test that runs the emulator as a
/// separate process.
fn admin(shared: &Shared, request: &HttpRequest, rest: &str) -> HttpResponse {
    match (request.method.clone(), rest) {
        (Method::POST, "faults") => match serde_json::from_slice::<crate::faults::FaultSpec>(&request.body) {
            Ok(spec) => {
                shared.faults.push(spec.into());
                HttpResponse::json(200, &serde_json::json!({}))
            }
            Err(e) => google_error(400, &format!("bad fault: {e}")),
        },
        (Method::DELETE, "faults") => {
            shared.faults.clear();
            HttpResponse::json(200, &serde_json::json!({}))
        }
        (Method::GET, "requests") => {
            let log = lock(&shared.log);
            let rows: Vec<_> = log
                .iter()
                .map(|r| {
                    serde_json::json!({"method": r.method, "path": r.path, "query": r.query,
                        "bodyBytes": r.body_bytes, "status": r.status})
                })
                .collect();
            HttpResponse::json(200, &serde_json::Value::Array(rows))
        }
        (_, rest) if rest.starts_with("oauth/") => oauth::admin(shared, request, &rest["oauth/".len()..]),
        (_, rest) if rest.starts_with("sheets/") => sheets::admin(shared, request, &rest["sheets/".len()..]),
        _ => google_error(404, "Not Found"),
    }
}

fn record(shared: &Shared, request: &HttpRequest, status: u16) {
    if request.path.starts_with("/__emulator/") {
        return;
    }
    lock(&shared.log).push(RequestRecord {
        method: request.method.to_string(),
        path: request.path.clone(),
        query: request.query.clone(),
        body_bytes: request.body.len(),
        status,
    });
}

fn to_hyper(response: HttpResponse) -> hyper::Response<Full<Bytes>> {
    let mut out = hyper::Response::new(Full::new(Bytes::from(response.body)));
    *out.status_mut() = StatusCode::from_u16(response.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    for (name, value) in response.headers {
        if let Ok(v) = HeaderValue::from_str(&value) {
            out.headers_mut().append(name, v);
        }
    }
    if !out.headers().contains_key(CONTENT_TYPE) {
        out.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    }
    out
}
