//! The pair loops, the daemon that owns them, and signal handling.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use sheetbridge_postgres::lock::{advisory_unlock, pair_lock_key, try_advisory_lock};
use sheetbridge_postgres::{connect, PgConfig, PgConn};
use tokio::net::TcpListener;
use tokio::sync::{broadcast, watch, Notify};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::metrics::Metrics;
use super::{backoff, first_due, PairRunner, PairSpec, RunOutcome, RunStatus, ServeOptions};
use crate::exit::Code;

/// What made a pass start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// The pair's schedule (or the end of its backoff).
    Schedule,
    /// Its table changed (after the debounce).
    Change,
    /// `--once`: every pair once, at start.
    Once,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Schedule => "schedule",
            Trigger::Change => "change",
            Trigger::Once => "once",
        }
    }
}

/// One finished pass, as the log line and the metrics tell it.
#[derive(Debug, Clone)]
pub struct RunReport {
    pub pair: String,
    pub trigger: Trigger,
    /// Change notifications of the pair's table this pass covers.
    pub changes: u64,
    pub outcome: RunOutcome,
    pub duration: Duration,
    /// Failed or partial passes in a row, this one included (0 after a success).
    pub consecutive_failures: u32,
    /// How long until the pair is next due (schedule, or backoff after failures).
    pub next_in: Duration,
}

pub(super) struct PairState {
    pub spec: PairSpec,
    /// Woken by the change listener; holds one wake-up when nobody waits.
    pub changed: Notify,
    /// Notifications not yet covered by a pass.
    pub pending_changes: AtomicU64,
}

/// What the tasks of one daemon share.
pub(super) struct Shared {
    pub options: ServeOptions,
    pub pairs: Vec<PairState>,
    pub metrics: Metrics,
    ready: watch::Sender<bool>,
    not_ready: Mutex<String>,
    reports: broadcast::Sender<RunReport>,
    /// Stops the daemon from inside (`once` with a database that cannot be reached).
    pub stop: Stopper,
}

impl Shared {
    pub fn set_ready(&self, state: Result<(), String>) {
        match state {
            Ok(()) => {
                self.ready.send_replace(true);
            }
            Err(why) => {
                *self.not_ready.lock().unwrap_or_else(|p| p.into_inner()) = why;
                self.ready.send_replace(false);
            }
        }
    }

    /// `Err(why)` while the database is not reached, migrated and listened to.
    pub fn readiness(&self) -> Result<(), String> {
        if *self.ready.borrow() {
            Ok(())
        } else {
            Err(self.not_ready.lock().unwrap_or_else(|p| p.into_inner()).clone())
        }
    }

    /// The database config with an `application_name` that says what the connection is for.
    pub fn database_for(&self, what: &str) -> PgConfig {
        let mut config = self.options.database.clone();
        if config.application_name.is_none() {
            config.application_name = Some(format!("sheetbridge serve {what}"));
        }
        config
    }
}

/// Ends a daemon's passes; clone it into a signal handler.
#[derive(Debug, Clone)]
pub struct Stopper(Arc<watch::Sender<bool>>);

impl Stopper {
    /// No pass starts any more; running ones finish.
    pub fn stop(&self) {
        self.0.send_replace(true);
    }
}

/// A running `serve`: pair loops, the database and change listener, the HTTP endpoints.
pub struct Daemon {
    shared: Arc<Shared>,
    stop: Stopper,
    addr: SocketAddr,
    pairs: Vec<(String, JoinHandle<Option<RunStatus>>)>,
    background: Vec<JoinHandle<()>>,
    first_reports: Mutex<Option<broadcast::Receiver<RunReport>>>,
}

impl Daemon {
    /// Binds the HTTP address and starts every task. Pairs run once the
    /// database is reached and migrated.
    pub async fn start<R: PairRunner>(
        runner: Arc<R>,
        pairs: Vec<PairSpec>,
        options: ServeOptions,
    ) -> anyhow::Result<Daemon> {
        for (i, p) in pairs.iter().enumerate() {
            if pairs[..i].iter().any(|q| q.name == p.name) {
                anyhow::bail!("pair `{}` is configured twice", p.name);
            }
        }
        let listener = TcpListener::bind(options.listen)
            .await
            .with_context(|| format!("listen for HTTP on {}", options.listen))?;
        let addr = listener.local_addr().with_context(|| format!("listen for HTTP on {}", options.listen))?;
        let (stop, stopped) = watch::channel(false);
        let stop = Stopper(Arc::new(stop));
        let (reports, first) = broadcast::channel(1024);
        let shared = Arc::new(Shared {
            metrics: Metrics::new(pairs.iter().map(|p| p.name.as_str())),
            pairs: pairs
                .into_iter()
                .map(|spec| PairState { spec, changed: Notify::new(), pending_changes: AtomicU64::new(0) })
                .collect(),
            ready: watch::Sender::new(false),
            not_ready: Mutex::new(format!("connecting to {}", options.database)),
            reports,
            stop: stop.clone(),
            options,
        });
        let background = vec![
            tokio::spawn(super::http::serve(listener, shared.clone(), stopped.clone())),
            tokio::spawn(super::database::maintain(shared.clone(), stopped.clone())),
        ];
        let pairs = (0..shared.pairs.len())
            .map(|i| {
                let task = pair_loop(shared.clone(), runner.clone(), i, stopped.clone());
                (shared.pairs[i].spec.name.clone(), tokio::spawn(task))
            })
            .collect();
        tracing::info!(listen = %addr, pairs = shared.pairs.len(), "serving");
        Ok(Daemon { shared, stop, addr, pairs, background, first_reports: Mutex::new(Some(first)) })
    }

    /// The address the HTTP endpoints listen on (the bound port when 0 was asked).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every finished pass from now on; the first call also gets those since the start.
    pub fn reports(&self) -> broadcast::Receiver<RunReport> {
        match self.first_reports.lock().unwrap_or_else(|p| p.into_inner()).take() {
            Some(first) => first,
            None => self.shared.reports.subscribe(),
        }
    }

    /// Whether `/readyz` answers 200.
    pub fn is_ready(&self) -> bool {
        self.shared.readiness().is_ok()
    }

    /// The `/metrics` text.
    pub fn metrics_text(&self) -> String {
        self.shared.metrics.render(self.is_ready())
    }

    pub fn stopper(&self) -> Stopper {
        self.stop.clone()
    }

    /// No pass starts any more; running ones finish ([`Daemon::wait`] waits for them).
    pub fn stop(&self) {
        self.stop.stop();
    }

    /// Waits for every pair loop to end (after [`Daemon::stop`], or after
    /// one pass each with `once`), then ends the listener and the HTTP
    /// endpoints. Returns each pair's last status (`None`: it never ran).
    pub async fn wait(self) -> BTreeMap<String, Option<RunStatus>> {
        let mut last = BTreeMap::new();
        for (name, task) in self.pairs {
            let status = match task.await {
                Ok(status) => status,
                Err(e) => {
                    tracing::error!(pair = %name, error = %e, "the pair's loop ended abnormally");
                    Some(RunStatus::Failed)
                }
            };
            last.insert(name, status);
        }
        self.stop.stop();
        for task in self.background {
            if let Err(e) = task.await {
                tracing::error!(error = %e, "a serve task ended abnormally");
            }
        }
        last
    }
}

/// Runs `daemon` until SIGTERM or SIGINT, then lets running passes finish
/// and returns; a second signal exits the process at once (128 + signal).
/// With `once`, returns when every pair ran: [`Code::Failure`] when one
/// failed, an error when the database could not be reached and migrated.
pub async fn run_until_signal(daemon: Daemon) -> anyhow::Result<Code> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).context("install the SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("install the SIGINT handler")?;
    let once = daemon.shared.options.once;
    let stopper = daemon.stopper();
    let shared = daemon.shared.clone();
    let wait = daemon.wait();
    tokio::pin!(wait);
    let code = |last: BTreeMap<String, Option<RunStatus>>| -> anyhow::Result<Code> {
        if !once {
            return Ok(Code::Success);
        }
        if last.values().any(Option::is_none) {
            // Only a database that could not be prepared keeps `once` from running a pair.
            let why = shared.readiness().err().unwrap_or_default();
            return Err(anyhow::anyhow!("no pair ran: {why}"));
        }
        let failed = last.values().any(|s| matches!(s, Some(RunStatus::Failed | RunStatus::Partial)));
        Ok(if failed { Code::Failure } else { Code::Success })
    };
    tokio::select! {
        last = &mut wait => return code(last),
        _ = term.recv() => tracing::info!(signal = "SIGTERM", "stopping: running passes finish first"),
        _ = int.recv() => tracing::info!(signal = "SIGINT", "stopping: running passes finish first"),
    }
    stopper.stop();
    let signo = tokio::select! {
        last = &mut wait => return code(last),
        _ = term.recv() => libc_signal::SIGTERM,
        _ = int.recv() => libc_signal::SIGINT,
    };
    tracing::warn!(signal = signo, "second signal: exiting without waiting for running passes");
    std::process::exit(128 + signo);
}

mod libc_signal {
    pub const SIGINT: i32 = 2;
    pub const SIGTERM: i32 = 15;
}

/// The monotonic instant of `due` (now when it is past; a century ahead at most,
/// for a schedule that never fires again).
fn instant_at(due: DateTime<Utc>) -> Instant {
    const CENTURY: Duration = Duration::from_secs(100 * 366 * 86_400);
    let wait = (due - Utc::now()).to_std().unwrap_or(Duration::ZERO).min(CENTURY);
    Instant::now() + wait
}

/// Waits until the pair is due: `None` when the daemon stops first.
async fn wait_turn(
    pair: &PairState,
    due: DateTime<Utc>,
    wake_on_change: bool,
    debounce: Duration,
    stop: &mut watch::Receiver<bool>,
) -> Option<Trigger> {
    let deadline = instant_at(due);
    tokio::select! {
        _ = stop.wait_for(|s| *s) => return None,
        _ = tokio::time::sleep_until(deadline) => return Some(Trigger::Schedule),
        _ = pair.changed.notified(), if wake_on_change => {}
    }
    // A burst of changes gives one pass, `debounce` after its last change
    // (or at the schedule, if that comes first).
    loop {
        tokio::select! {
            _ = stop.wait_for(|s| *s) => return None,
            _ = tokio::time::sleep_until(deadline) => return Some(Trigger::Schedule),
            _ = tokio::time::sleep(debounce) => return Some(Trigger::Change),
            _ = pair.changed.notified() => {}
        }
    }
}

async fn pair_loop<R: PairRunner>(
    shared: Arc<Shared>,
    runner: Arc<R>,
    index: usize,
    mut stop: watch::Receiver<bool>,
) -> Option<RunStatus> {
    let pair = &shared.pairs[index];
    let name = pair.spec.name.as_str();
    let mut ready = shared.ready.subscribe();
    tokio::select! {
        _ = stop.wait_for(|s| *s) => return None,
        r = ready.wait_for(|r| *r) => if r.is_err() { return None },
    }
    let options = &shared.options;
    let mut failures = 0u32;
    let mut lock_conn: Option<PgConn> = None;
    let mut last = None;
    let mut due = first_due(&pair.spec.schedule, Utc::now());
    loop {
        let trigger = if options.once {
            Trigger::Once
        } else {
            match wait_turn(pair, due, failures == 0, options.debounce, &mut stop).await {
                Some(t) => t,
                None => break,
            }
        };
        if *stop.borrow() {
            break;
        }
        let changes = pair.pending_changes.swap(0, Ordering::SeqCst);
        let started_at = Utc::now();
        let started = Instant::now();
        let outcome = run_locked(&shared, &runner, name, &mut lock_conn).await;
        let duration = started.elapsed();
        match outcome.status {
            RunStatus::Success => failures = 0,
            RunStatus::Partial | RunStatus::Failed => failures = failures.saturating_add(1),
            RunStatus::Skipped => {}
        }
        let now = Utc::now();
        // After a failure the pair retries after its backoff, sooner or later
        // than the schedule would: a passing fault heals fast, a lasting one
        // is not hammered.
        due = if failures > 0 {
            let wait = backoff(options.backoff, options.backoff_max, failures);
            let after_backoff = chrono::Duration::from_std(wait).ok().and_then(|w| now.checked_add_signed(w));
            after_backoff.unwrap_or(DateTime::<Utc>::MAX_UTC)
        } else {
            pair.spec.schedule.next_after(started_at)
        };
        let next_in = (due - now).to_std().unwrap_or(Duration::ZERO);
        let finished = now.timestamp_millis() as f64 / 1000.0;
        shared.metrics.record(name, &outcome, duration, failures, finished);
        let report = RunReport {
            pair: name.to_owned(),
            trigger,
            changes,
            outcome,
            duration,
            consecutive_failures: failures,
            next_in,
        };
        log(&report);
        last = Some(report.outcome.status);
        // Nobody listening is fine.
        let _ = shared.reports.send(report);
        if options.once {
            break;
        }
    }
    last
}

fn log(r: &RunReport) {
    let o = &r.outcome;
    macro_rules! line {
        ($level:ident) => {
            tracing::$level!(
                pair = %r.pair,
                status = o.status.as_str(),
                trigger = r.trigger.as_str(),
                duration_ms = r.duration.as_millis() as u64,
                cells_to_table = o.cells_to_table,
                cells_to_sheet = o.cells_to_sheet,
                conflicts = o.conflicts,
                held_deletes = o.held_deletes,
                api_calls = o.api_calls,
                quota_wait_ms = o.quota_wait.as_millis() as u64,
                changes = r.changes,
                consecutive_failures = r.consecutive_failures,
                next_in_s = r.next_in.as_secs(),
                error = o.error.as_deref().unwrap_or(""),
                "pass finished"
            )
        };
    }
    match o.status {
        RunStatus::Success | RunStatus::Skipped => line!(info),
        RunStatus::Partial | RunStatus::Failed => line!(warn),
    }
}

/// One pass under the pair's advisory lock, held by `lock_conn` (opened
/// when missing, dropped after an error: closing the session frees the lock).
async fn run_locked<R: PairRunner>(
    shared: &Shared,
    runner: &Arc<R>,
    name: &str,
    lock_conn: &mut Option<PgConn>,
) -> RunOutcome {
    let key = pair_lock_key(name);
    if lock_conn.as_ref().is_some_and(|c| c.client().is_closed()) {
        *lock_conn = None;
    }
    let conn = match lock_conn {
        Some(conn) => conn,
        None => match connect(&shared.database_for("lock")).await {
            Ok(conn) => lock_conn.insert(conn),
            Err(e) => return RunOutcome::failed(format!("take the lock of pair `{name}`: {e}")),
        },
    };
    match try_advisory_lock(conn, key).await {
        Ok(true) => {}
        Ok(false) => return RunOutcome::skipped("another process is running the pair"),
        Err(e) => {
            *lock_conn = None;
            return RunOutcome::failed(format!("take the lock of pair `{name}`: {e}"));
        }
    }
    let outcome = run_guarded(runner, name).await;
    if let Err(e) = advisory_unlock(conn, key).await {
        tracing::warn!(pair = name, error = %e, "releasing the pair's lock; closing its connection instead");
        *lock_conn = None;
    }
    outcome
}

/// `runner.run` on a task of its own, so a panic becomes a failed pass.
async fn run_guarded<R: PairRunner>(runner: &Arc<R>, name: &str) -> RunOutcome {
    let runner = runner.clone();
    let pair = name.to_owned();
    match tokio::spawn(async move { runner.run(&pair).await }).await {
        Ok(outcome) => outcome,
        Err(e) if e.is_panic() => {
            let payload = e.into_panic();
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "no message".to_owned());
            RunOutcome::failed(format!("the pass panicked: {message}"))
        }
        Err(e) => RunOutcome::failed(format!("the pass was cancelled: {e}")),
    }
}
