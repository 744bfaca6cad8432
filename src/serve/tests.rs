//! The daemon with a fake pass, on a real Postgres (locks, migrations, NOTIFY)
//! and over real HTTP. Waits are on conditions, each with a timeout.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sheetbridge_postgres::testing::{cluster, fresh_db};
use sheetbridge_postgres::PgConfig;
use tokio::sync::{broadcast, watch};
use tokio::time::{timeout, Instant};

use super::*;

const PATIENCE: Duration = Duration::from_secs(20);

/// What the fake does on one pass of a pair.
#[derive(Debug, Clone)]
enum Step {
    Return(RunOutcome),
    Panic,
    /// Waits until the test releases it, then succeeds.
    Hold,
}

/// A pass that sleeps `pass_time`, then follows the pair's script (success
/// when it is empty), counting overlapping passes of one pair.
struct Fake {
    pass_time: Duration,
    script: Mutex<HashMap<String, VecDeque<Step>>>,
    active: Mutex<HashMap<String, usize>>,
    overlaps: AtomicUsize,
    starts: watch::Sender<Vec<(String, Instant)>>,
    finished: AtomicUsize,
    release: watch::Receiver<bool>,
    release_tx: watch::Sender<bool>,
}

impl Fake {
    fn new(pass_time: Duration) -> Arc<Fake> {
        let (release_tx, release) = watch::channel(false);
        Arc::new(Fake {
            pass_time,
            script: Mutex::new(HashMap::new()),
            active: Mutex::new(HashMap::new()),
            overlaps: AtomicUsize::new(0),
            starts: watch::Sender::new(Vec::new()),
            finished: AtomicUsize::new(0),
            release,
            release_tx,
        })
    }

    fn script(self: &Arc<Fake>, pair: &str, steps: impl IntoIterator<Item = Step>) -> Arc<Fake> {
        self.script.lock().unwrap().insert(pair.to_owned(), steps.into_iter().collect());
        self.clone()
    }

    fn release(&self) {
        self.release_tx.send_replace(true);
    }

    fn starts_of(&self, pair: &str) -> Vec<Instant> {
        self.starts.borrow().iter().filter(|(p, _)| p == pair).map(|(_, t)| *t).collect()
    }

    async fn wait_for_starts(&self, pair: &str, n: usize) {
        let mut rx = self.starts.subscribe();
        let waited =
            timeout(PATIENCE, rx.wait_for(|s| s.iter().filter(|(p, _)| p == pair).count() >= n)).await;
        assert!(waited.is_ok(), "pair `{pair}` did not start {n} passes in {PATIENCE:?}");
    }
}

impl PairRunner for Fake {
    async fn run(&self, pair: &str) -> RunOutcome {
        self.starts.send_modify(|s| s.push((pair.to_owned(), Instant::now())));
        {
            let mut active = self.active.lock().unwrap();
            let n = active.entry(pair.to_owned()).or_default();
            *n += 1;
            if *n > 1 {
                self.overlaps.fetch_add(1, Ordering::SeqCst);
            }
        }
        let step = self.script.lock().unwrap().get_mut(pair).and_then(|s| s.pop_front());
        tokio::time::sleep(self.pass_time).await;
        let outcome = match step {
            None => RunOutcome::success(),
            Some(Step::Return(o)) => o,
            Some(Step::Hold) => {
                let mut release = self.release.clone();
                let _ = release.wait_for(|r| *r).await;
                RunOutcome::success()
            }
            Some(Step::Panic) => {
                *self.active.lock().unwrap().entry(pair.to_owned()).or_default() -= 1;
                panic!("the fake pass of `{pair}` panics");
            }
        };
        *self.active.lock().unwrap().entry(pair.to_owned()).or_default() -= 1;
        self.finished.fetch_add(1, Ordering::SeqCst);
        outcome
    }
}

fn options(database: PgConfig) -> ServeOptions {
    ServeOptions {
        listen: "127.0.0.1:0".parse().unwrap(),
        debounce: Duration::from_millis(200),
        backoff: Duration::from_millis(40),
        backoff_max: Duration::from_millis(100),
        reconnect: Duration::from_millis(50),
        reconnect_max: Duration::from_millis(200),
        ..ServeOptions::new(database)
    }
}

fn every(ms: u64) -> Schedule {
    Schedule::Every(Duration::from_millis(ms))
}

fn table(name: &str) -> sheetbridge_core::TableName {
    sheetbridge_core::TableName::parse(name).unwrap()
}

/// Reports until `done` says the ones seen are enough.
async fn reports_until(
    rx: &mut broadcast::Receiver<RunReport>,
    mut done: impl FnMut(&[RunReport]) -> bool,
) -> Vec<RunReport> {
    let mut seen = Vec::new();
    let deadline = Instant::now() + PATIENCE;
    while !done(&seen) {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Ok(r)) => seen.push(r),
            Ok(Err(e)) => panic!("reports: {e}"),
            Err(_) => panic!("waited {PATIENCE:?}; the reports so far: {seen:#?}"),
        }
    }
    seen
}

fn of<'a>(reports: &'a [RunReport], pair: &str) -> Vec<&'a RunReport> {
    reports.iter().filter(|r| r.pair == pair).collect()
}

#[test]
fn backoff_doubles_up_to_its_cap() {
    let (base, max) = (Duration::from_secs(10), Duration::from_secs(600));
    let waits: Vec<u64> = (0..9).map(|n| backoff(base, max, n).as_secs()).collect();
    assert_eq!(waits, [0, 10, 20, 40, 80, 160, 320, 600, 600]);
    assert_eq!(backoff(base, max, u32::MAX), max);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pair_runs_on_its_interval_and_never_overlaps_itself() {
    let db = fresh_db().await;
    // Passes take longer than the interval: the next waits for the last.
    let fake = Fake::new(Duration::from_millis(50));
    let daemon =
        Daemon::start(fake.clone(), vec![PairSpec::new("orders", every(20))], options(db.config.clone()))
            .await
            .unwrap();
    let mut rx = daemon.reports();
    let reports = reports_until(&mut rx, |r| r.len() >= 5).await;
    assert!(reports.iter().all(|r| r.outcome.status == RunStatus::Success && r.trigger == Trigger::Schedule));
    assert_eq!(fake.overlaps.load(Ordering::SeqCst), 0, "passes of one pair overlapped");
    for pair in fake.starts_of("orders").windows(2) {
        assert!(pair[1] - pair[0] >= Duration::from_millis(50), "a pass started before the last ended");
    }
    daemon.stop();
    daemon.wait().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pairs_run_independently_of_a_stuck_or_failing_pair() {
    let db = fresh_db().await;
    let fake = Fake::new(Duration::from_millis(5))
        .script("stuck", [Step::Hold])
        .script("failing", (0..100).map(|_| Step::Return(RunOutcome::failed("the sheet is gone"))));
    let pairs = ["stuck", "failing", "fine"].map(|p| PairSpec::new(p, every(10))).to_vec();
    let daemon = Daemon::start(fake.clone(), pairs, options(db.config.clone())).await.unwrap();
    let mut rx = daemon.reports();
    let reports = reports_until(&mut rx, |r| of(r, "fine").len() >= 5 && of(r, "failing").len() >= 3).await;
    assert!(of(&reports, "stuck").is_empty(), "the stuck pass ended");
    assert!(of(&reports, "fine").iter().all(|r| r.outcome.status == RunStatus::Success));
    let failing = of(&reports, "failing");
    assert!(failing.iter().all(|r| r.outcome.status == RunStatus::Failed));
    assert_eq!(failing[2].consecutive_failures, 3);
    fake.release();
    daemon.stop();
    let last = daemon.wait().await;
    assert_eq!(last["stuck"], Some(RunStatus::Success));
    assert_eq!(last["failing"], Some(RunStatus::Failed));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_back_off_exponentially_and_a_success_resets_the_backoff() {
    let db = fresh_db().await;
    let fail = || Step::Return(RunOutcome::failed("quota exhausted"));
    let partial = Step::Return(RunOutcome { status: RunStatus::Partial, ..RunOutcome::success() });
    let fake =
        Fake::new(Duration::ZERO).script("p", [fail(), partial, Step::Panic, fail(), Step::Hold, fail()]);
    let opts = options(db.config.clone());
    let (base, max) = (opts.backoff, opts.backoff_max);
    let daemon = Daemon::start(fake.clone(), vec![PairSpec::new("p", every(10))], opts).await.unwrap();
    let mut rx = daemon.reports();
    fake.release();
    let reports = reports_until(&mut rx, |r| r.len() >= 7).await;
    let failures: Vec<u32> = reports.iter().map(|r| r.consecutive_failures).collect();
    assert_eq!(failures, [1, 2, 3, 4, 0, 1, 0]);
    let statuses: Vec<RunStatus> = reports.iter().map(|r| r.outcome.status).collect();
    use RunStatus::{Failed, Partial, Success};
    assert_eq!(statuses, [Failed, Partial, Failed, Failed, Success, Failed, Success]);
    let panicked = reports[2].outcome.error.as_deref().unwrap_or("");
    assert!(panicked.contains("panicked") && panicked.contains("the fake pass of `p` panics"), "{panicked}");
    for r in &reports {
        let expected = backoff(base, max, r.consecutive_failures);
        if r.consecutive_failures > 0 {
            assert!(
                r.next_in >= expected,
                "after {} failures: next in {:?}",
                r.consecutive_failures,
                r.next_in
            );
        } else {
            assert!(r.next_in <= Duration::from_millis(10), "after a success: next in {:?}", r.next_in);
        }
    }
    assert_eq!(backoff(base, max, 4), max, "the test reaches the cap");
    // The waits really were waited (with a millisecond for clock rounding).
    let starts = fake.starts_of("p");
    for (i, r) in reports.iter().enumerate().take(4) {
        let gap = starts[i + 1] - starts[i];
        assert!(gap + Duration::from_millis(1) >= r.next_in, "pass {i}: {gap:?} < {:?}", r.next_in);
    }
    daemon.stop();
    daemon.wait().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_lets_the_running_pass_finish_and_starts_no_other() {
    let db = fresh_db().await;
    let fake = Fake::new(Duration::ZERO).script("p", [Step::Hold]);
    let daemon = Daemon::start(fake.clone(), vec![PairSpec::new("p", every(10))], options(db.config.clone()))
        .await
        .unwrap();
    fake.wait_for_starts("p", 1).await;
    daemon.stop();
    let waiting = tokio::spawn(daemon.wait());
    fake.release();
    let last = timeout(PATIENCE, waiting).await.expect("wait returns").expect("wait");
    assert_eq!(last["p"], Some(RunStatus::Success), "the running pass did not finish");
    assert_eq!(fake.finished.load(Ordering::SeqCst), 1);
    assert_eq!(fake.starts_of("p").len(), 1, "a pass started after the stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn once_runs_every_pair_one_time() {
    let db = fresh_db().await;
    let fake = Fake::new(Duration::ZERO).script("b", [Step::Return(RunOutcome::failed("no such sheet"))]);
    let pairs = vec![PairSpec::new("a", every(10)), PairSpec::new("b", every(10))];
    let daemon =
        Daemon::start(fake.clone(), pairs, ServeOptions { once: true, ..options(db.config.clone()) })
            .await
            .unwrap();
    let last = timeout(PATIENCE, daemon.wait()).await.expect("--once ends");
    let expected: BTreeMap<String, Option<RunStatus>> =
        [("a".to_owned(), Some(RunStatus::Success)), ("b".to_owned(), Some(RunStatus::Failed))].into();
    assert_eq!(last, expected);
    assert_eq!(fake.finished.load(Ordering::SeqCst), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_daemons_on_one_database_never_run_a_pair_at_once() {
    let db = fresh_db().await;
    // One fake behind both "processes", so it sees every pass of the pair.
    let fake = Fake::new(Duration::from_millis(5)).script("orders", [Step::Hold]);
    let start =
        || Daemon::start(fake.clone(), vec![PairSpec::new("orders", every(10))], options(db.config.clone()));
    let (a, b) = (start().await.unwrap(), start().await.unwrap());
    let (mut ra, mut rb) = (a.reports(), b.reports());
    // The first pass holds the lock until one of the daemons found it taken.
    fake.wait_for_starts("orders", 1).await;
    let skipped = tokio::select! {
        r = reports_until(&mut ra, |r| r.iter().any(|r| r.outcome.status == RunStatus::Skipped)) => r,
        r = reports_until(&mut rb, |r| r.iter().any(|r| r.outcome.status == RunStatus::Skipped)) => r,
    };
    let skip = skipped.iter().find(|r| r.outcome.status == RunStatus::Skipped).unwrap();
    assert!(skip.outcome.error.as_deref().unwrap_or("").contains("another process"), "{skip:?}");
    assert_eq!(skip.consecutive_failures, 0, "a skipped turn counted as a failure");
    fake.release();
    // Both keep taking turns; the pair never runs twice at once.
    fake.wait_for_starts("orders", 20).await;
    assert_eq!(fake.overlaps.load(Ordering::SeqCst), 0, "two daemons ran the pair at once");
    for daemon in [&a, &b] {
        let metrics = parse(&daemon.metrics_text());
        assert_eq!(
            metrics.get(&series("sheetbridge_runs_total", &[("pair", "orders"), ("status", "failed")])),
            Some(&0.0)
        );
    }
    let skips: f64 = [&a, &b]
        .iter()
        .map(|d| {
            parse(&d.metrics_text())
                [&series("sheetbridge_runs_total", &[("pair", "orders"), ("status", "skipped")])]
        })
        .sum();
    assert!(skips >= 1.0);
    a.stop();
    b.stop();
    a.wait().await;
    b.wait().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_inserts_wakes_the_pair_once_after_the_debounce() {
    let db = fresh_db().await;
    db.exec("CREATE TABLE orders (id int PRIMARY KEY, qty int); CREATE TABLE other (id int)").await;
    let fake = Fake::new(Duration::ZERO);
    let pairs = vec![
        PairSpec::new("orders", every(3_600_000)).watching(table("orders")),
        PairSpec::new("other", every(3_600_000)).watching(table("public.other")),
    ];
    let daemon = Daemon::start(fake.clone(), pairs, options(db.config.clone())).await.unwrap();
    let mut rx = daemon.reports();
    // The first passes run at the start; then only changes can wake a pair.
    reports_until(&mut rx, |r| r.len() >= 2).await;
    let conn = db.connect().await;
    for i in 0..100 {
        conn.client().execute("INSERT INTO orders VALUES ($1, 1)", &[&i]).await.unwrap();
    }
    let woken = reports_until(&mut rx, |r| r.iter().map(|r| r.changes).sum::<u64>() >= 100).await;
    assert_eq!(woken.len(), 1, "100 inserts gave {} passes: {woken:#?}", woken.len());
    assert_eq!(
        (woken[0].pair.as_str(), woken[0].trigger, woken[0].changes),
        ("orders", Trigger::Change, 100)
    );

    // The listener's connection dies: it reconnects and wakes its pairs (it
    // may have missed changes); later changes still wake them.
    db.exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'sheetbridge serve listener'")
        .await;
    let caught_up =
        reports_until(&mut rx, |r| !of(r, "orders").is_empty() && !of(r, "other").is_empty()).await;
    assert!(caught_up.iter().all(|r| r.trigger == Trigger::Change), "{caught_up:#?}");
    conn.client().execute("UPDATE other SET id = 1", &[]).await.unwrap();
    let again = reports_until(&mut rx, |r| !r.is_empty()).await;
    assert_eq!((again[0].pair.as_str(), again[0].trigger, again[0].changes), ("other", Trigger::Change, 1));
    daemon.stop();
    daemon.wait().await;
}

async fn get(addr: std::net::SocketAddr, path: &str) -> (u16, String, String) {
    let response = reqwest::get(format!("http://{addr}{path}")).await.unwrap();
    let status = response.status().as_u16();
    let content_type =
        response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    (status, content_type, response.text().await.unwrap())
}

/// `name{label="value",...}` → value, from exposition text; the comments checked on the way.
fn parse(text: &str) -> BTreeMap<String, f64> {
    let mut samples = BTreeMap::new();
    for line in text.lines() {
        if let Some(comment) = line.strip_prefix("# ") {
            assert!(comment.starts_with("HELP ") || comment.starts_with("TYPE "), "{line}");
            continue;
        }
        let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("not a sample: {line}"));
        let value = match value {
            "+Inf" => f64::INFINITY,
            v => v.parse().unwrap_or_else(|_| panic!("not a value: {line}")),
        };
        assert!(samples.insert(series.to_owned(), value).is_none(), "twice: {series}");
    }
    samples
}

fn series(name: &str, labels: &[(&str, &str)]) -> String {
    if labels.is_empty() {
        return name.to_owned();
    }
    let labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
    format!("{name}{{{}}}", labels.join(","))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_readiness_and_metrics_over_http() {
    // The database does not exist yet: up, but not ready.
    let name = format!("serve_http_{}", std::process::id());
    let config = cluster().config(&name);
    let counted = RunOutcome {
        cells_to_table: 3,
        cells_to_sheet: 2,
        conflicts: 1,
        held_deletes: 4,
        api_calls: 5,
        quota_wait: Duration::from_millis(1500),
        ..RunOutcome::success()
    };
    let fake = Fake::new(Duration::ZERO)
        .script("orders", [Step::Return(RunOutcome::failed("boom")), Step::Return(counted)]);
    let pairs =
        vec![PairSpec::new("orders", every(3_600_000)), PairSpec::new("quiet \"one\"", every(3_600_000))];
    let daemon = Daemon::start(fake.clone(), pairs, options(config)).await.unwrap();
    let addr = daemon.local_addr();
    assert_eq!(get(addr, "/healthz").await.0, 200);
    let (status, _, body) = get(addr, "/readyz").await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains(&name), "the reason names the database: {body}");
    assert_eq!(get(addr, "/nope").await.0, 404);
    let before = parse(&get(addr, "/metrics").await.2);
    assert_eq!(before["sheetbridge_up"], 1.0);
    assert_eq!(before["sheetbridge_ready"], 0.0);

    // Once the database exists it is migrated, and the pairs run.
    cluster().create_database(&name).await.unwrap();
    let mut rx = daemon.reports();
    reports_until(&mut rx, |r| of(r, "orders").len() >= 2).await;
    assert_eq!(get(addr, "/readyz").await.0, 200);

    let (status, content_type, text) = get(addr, "/metrics").await;
    assert_eq!(status, 200);
    assert_eq!(content_type, "text/plain; version=0.0.4; charset=utf-8");
    let m = parse(&text);
    let p = [("pair", "orders")];
    let v = |name: &str, labels: &[(&str, &str)]| {
        *m.get(&series(name, labels)).unwrap_or_else(|| panic!("no {} in\n{text}", series(name, labels)))
    };
    assert_eq!(v("sheetbridge_ready", &[]), 1.0);
    for (status, n) in [("success", 1.0), ("failed", 1.0), ("partial", 0.0), ("skipped", 0.0)] {
        assert_eq!(v("sheetbridge_runs_total", &[("pair", "orders"), ("status", status)]), n, "{status}");
    }
    assert_eq!(v("sheetbridge_run_duration_seconds_count", &p), 2.0);
    assert_eq!(v("sheetbridge_run_duration_seconds_bucket", &[("pair", "orders"), ("le", "+Inf")]), 2.0);
    assert!(v("sheetbridge_run_duration_seconds_sum", &p) >= 0.0);
    assert_eq!(v("sheetbridge_cells_synced_total", &[("pair", "orders"), ("direction", "to_table")]), 3.0);
    assert_eq!(v("sheetbridge_cells_synced_total", &[("pair", "orders"), ("direction", "to_sheet")]), 2.0);
    assert_eq!(v("sheetbridge_conflicts_total", &p), 1.0);
    assert_eq!(v("sheetbridge_held_deletes", &p), 4.0);
    assert_eq!(v("sheetbridge_api_calls_total", &p), 5.0);
    assert_eq!(v("sheetbridge_quota_wait_seconds_total", &p), 1.5);
    assert_eq!(v("sheetbridge_consecutive_failures", &p), 0.0);
    let now = chrono::Utc::now().timestamp() as f64;
    assert!((now - v("sheetbridge_last_success_timestamp_seconds", &p)).abs() < 60.0);
    // A label value with quotes is escaped; a pair that never succeeded has no last success.
    let quiet = [("pair", "quiet \\\"one\\\"")];
    assert_eq!(v("sheetbridge_runs_total", &[quiet[0], ("status", "success")]), 1.0);
    assert!(m.contains_key(&series("sheetbridge_last_success_timestamp_seconds", &quiet)));
    daemon.stop();
    daemon.wait().await;
}

#[test]
fn metrics_render_every_family_with_zero_series_before_any_run() {
    let m = metrics::Metrics::new(["a"]);
    let text = m.render(false);
    let samples = parse(&text);
    for family in [
        "sheetbridge_runs_total",
        "sheetbridge_run_duration_seconds",
        "sheetbridge_cells_synced_total",
        "sheetbridge_conflicts_total",
        "sheetbridge_held_deletes",
        "sheetbridge_api_calls_total",
        "sheetbridge_quota_wait_seconds_total",
        "sheetbridge_last_success_timestamp_seconds",
        "sheetbridge_up",
    ] {
        assert!(text.contains(&format!("# TYPE {family} ")), "no {family}");
    }
    assert_eq!(samples[&series("sheetbridge_runs_total", &[("pair", "a"), ("status", "success")])], 0.0);
    assert!(!samples.keys().any(|k| k.starts_with("sheetbridge_last_success_timestamp_seconds")));
    // Buckets are cumulative and end with +Inf.
    m.record("a", &RunOutcome::success(), Duration::from_millis(300), 0, 1.0);
    let samples = parse(&m.render(true));
    let bucket =
        |le: &str| samples[&series("sheetbridge_run_duration_seconds_bucket", &[("pair", "a"), ("le", le)])];
    assert_eq!((bucket("0.25"), bucket("0.5"), bucket("+Inf")), (0.0, 1.0, 1.0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn once_gives_up_when_the_database_cannot_be_reached() {
    let config = cluster().config("serve_no_such_database");
    let fake = Fake::new(Duration::ZERO);
    let daemon = Daemon::start(
        fake.clone(),
        vec![PairSpec::new("a", every(10))],
        ServeOptions { once: true, ..options(config) },
    )
    .await
    .unwrap();
    let last = timeout(PATIENCE, daemon.wait()).await.expect("--once gives up");
    assert_eq!(last["a"], None);
    assert_eq!(fake.starts_of("a").len(), 0);
}
