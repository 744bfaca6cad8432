//! Faults injected by tests: error statuses, latency and dropped connections.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use crate::lock;

/// Which requests a fault applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// The Sheets API (`/v4/...`).
    Sheets,
    /// The OAuth token endpoint (`/token`).
    Token,
    /// Any request.
    Any,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaultKind {
    /// Answer with this status and Google's error body for it; `retry_after`
    /// (seconds) adds a `Retry-After` header.
    Status { code: u16, retry_after: Option<u64> },
    /// Wait this long, then answer normally.
    Latency(Duration),
    /// Close the connection without answering.
    Drop,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    pub route: Route,
    pub kind: FaultKind,
    /// How many matching requests it applies to.
    pub times: u32,
}

impl Fault {
    pub fn status(route: Route, code: u16, times: u32) -> Fault {
        Fault { route, kind: FaultKind::Status { code, retry_after: None }, times }
    }

    pub fn rate_limited(route: Route, retry_after: u64, times: u32) -> Fault {
        Fault { route, kind: FaultKind::Status { code: 429, retry_after: Some(retry_after) }, times }
    }

    pub fn latency(route: Route, delay: Duration, times: u32) -> Fault {
        Fault { route, kind: FaultKind::Latency(delay), times }
    }

    pub fn drop_connection(route: Route, times: u32) -> Fault {
        Fault { route, kind: FaultKind::Drop, times }
    }
}

/// The queue of pending faults, consumed in order by matching requests.
#[derive(Debug, Default)]
pub struct Faults {
    queue: Mutex<VecDeque<Fault>>,
}

impl Faults {
    pub fn push(&self, fault: Fault) {
        if fault.times > 0 {
            lock(&self.queue).push_back(fault);
        }
    }

    pub fn clear(&self) {
        lock(&self.queue).clear();
    }

    /// Faults not yet used up.
    pub fn pending(&self) -> usize {
        lock(&self.queue).len()
    }

    /// Takes the first fault that applies to a request on `route`.
    pub(crate) fn take(&self, route: Route) -> Option<FaultKind> {
        let mut queue = lock(&self.queue);
        let at = queue.iter().position(|f| f.route == Route::Any || f.route == route)?;
        let fault = &mut queue[at];
        let kind = fault.kind.clone();
        fault.times -= 1;
        if fault.times == 0 {
            queue.remove(at);
        }
        Some(kind)
    }
}

/// A fault as the admin endpoint takes it:
/// `{"route": "sheets"|"token"|"any", "status": 429, "retryAfter": 2, "latencyMs": 0, "drop": false, "times": 1}`.
#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct FaultSpec {
    #[serde(default)]
    route: Option<String>,
    #[serde(default)]
    status: Option<u16>,
    #[serde(default)]
    retry_after: Option<u64>,
    #[serde(default)]
    latency_ms: Option<u64>,
    #[serde(default)]
    drop: bool,
    #[serde(default)]
    times: Option<u32>,
}

impl From<FaultSpec> for Fault {
    fn from(spec: FaultSpec) -> Fault {
        let route = match spec.route.as_deref() {
            Some("sheets") => Route::Sheets,
            Some("token") => Route::Token,
            _ => Route::Any,
        };
        let kind = if spec.drop {
            FaultKind::Drop
        } else if let Some(code) = spec.status {
            FaultKind::Status { code, retry_after: spec.retry_after }
        } else {
            FaultKind::Latency(Duration::from_millis(spec.latency_ms.unwrap_or(0)))
        };
        Fault { route, kind, times: spec.times.unwrap_or(1) }
    }
}
