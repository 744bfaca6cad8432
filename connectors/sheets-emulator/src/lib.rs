//! A local stand-in for Google Sheets v4 and Google's OAuth endpoints.
//!
//! sheetbridge's tests and `sheetbridge demo` talk to this server instead of
//! Google, which these machines cannot reach. It is held to Google's real
//! behaviour by the conformance test (`tests/it/conformance.rs`), which replays
//! recorded Google traffic against it. It is never the product: it keeps
//! everything in memory and trusts its admin endpoints.
//!
//! ```no_run
//! use sheetbridge_sheets_emulator::{Emulator, Options};
//!
//! let emulator = Emulator::start(Options::default()).expect("start");
//! let token = emulator.issue_token("ada@example.com", &["https://www.googleapis.com/auth/spreadsheets"]);
//! println!("Sheets at {} (Bearer {token})", emulator.base_url());
//! ```

pub mod faults;
pub mod oauth;
mod server;
pub mod sheets;
#[cfg(feature = "testing")]
pub mod testing;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

pub use faults::{Fault, FaultKind, Faults, Route};

/// How the emulator runs.
#[derive(Debug, Clone)]
pub struct Options {
    /// Where to listen; port 0 picks a free one.
    pub listen: SocketAddr,
    /// Per-minute request quotas, as Google counts them.
    pub quota: Quota,
    /// The authorization page approves at once and redirects (for tests);
    /// otherwise it shows a consent page with Allow and Deny buttons.
    pub auto_approve: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            quota: Quota::default(),
            auto_approve: false,
        }
    }
}

/// Google's per-minute quotas for the Sheets API: a batch counts as one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    pub reads_per_user: u32,
    pub writes_per_user: u32,
    pub reads_per_project: u32,
    pub writes_per_project: u32,
}

impl Default for Quota {
    fn default() -> Self {
        Quota { reads_per_user: 60, writes_per_user: 60, reads_per_project: 300, writes_per_project: 300 }
    }
}

/// One request as the emulator received it, for tests that count calls.
#[derive(Debug, Clone)]
pub struct RequestRecord {
    pub method: String,
    /// The path as sent (still percent-encoded).
    pub path: String,
    pub query: Option<String>,
    pub body_bytes: usize,
    pub status: u16,
}

/// State shared by every connection.
pub(crate) struct Shared {
    pub options: Options,
    pub sheets: Mutex<sheets::Store>,
    pub oauth: Mutex<oauth::Store>,
    pub faults: Faults,
    pub log: Mutex<Vec<RequestRecord>>,
}

/// Locks a mutex, carrying on after a panic elsewhere (the state is plain data).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A running emulator; dropping it stops the server.
pub struct Emulator {
    shared: Arc<Shared>,
    base_url: String,
    server: server::Running,
}

impl Emulator {
    /// Binds, starts serving on its own thread and returns once it accepts connections.
    pub fn start(options: Options) -> std::io::Result<Emulator> {
        let shared = Arc::new(Shared {
            sheets: Mutex::new(sheets::Store::new(options.quota)),
            oauth: Mutex::new(oauth::Store::new(options.auto_approve)),
            faults: Faults::default(),
            log: Mutex::new(Vec::new()),
            options,
        });
        let server = server::Running::start(shared.clone())?;
        let base_url = format!("http://{}", server.addr());
        Ok(Emulator { shared, base_url, server })
    }

    /// `http://127.0.0.1:PORT`, to give sheetbridge as its Google endpoint.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// Faults to inject into the next requests.
    pub fn faults(&self) -> &Faults {
        &self.shared.faults
    }

    /// Every request received so far, oldest first.
    pub fn requests(&self) -> Vec<RequestRecord> {
        lock(&self.shared.log).clone()
    }

    /// Forgets the request log (the state stays).
    pub fn clear_requests(&self) {
        lock(&self.shared.log).clear();
    }

    /// An access token for `user` with `scopes`, as if the user had logged in.
    pub fn issue_token(&self, user: &str, scopes: &[&str]) -> String {
        lock(&self.shared.oauth).issue_token(user, scopes)
    }

    /// Runs `f` on the spreadsheets, for tests that set up or inspect state directly.
    pub fn with_sheets<R>(&self, f: impl FnOnce(&mut sheets::Store) -> R) -> R {
        f(&mut lock(&self.shared.sheets))
    }

    /// Runs `f` on the OAuth state (clients, service accounts, grants).
    pub fn with_oauth<R>(&self, f: impl FnOnce(&mut oauth::Store) -> R) -> R {
        f(&mut lock(&self.shared.oauth))
    }
}
