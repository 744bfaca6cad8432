//! Token buckets per credential, shared by every client in the process.
//!
//! Google counts requests per user and per project a minute; a schedule that
//! runs several pairs with one credential would burn the quota in a burst and
//! then fail on 429s. Each call takes a token from its credential's read or
//! write bucket first and waits when the bucket is empty, so the calls spread
//! over the minute instead.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::config::Quota;

/// Whether a call counts against the read or the write quota.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Class {
    Read,
    Write,
}

#[derive(Debug)]
struct Bucket {
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    /// May go below zero: each waiting caller has reserved its token.
    tokens: f64,
    capacity: f64,
    per_second: f64,
    last: Instant,
}

impl Bucket {
    fn new(per_minute: u32, burst: Option<u32>) -> Bucket {
        let per_minute = per_minute.max(1);
        let capacity = f64::from(burst.unwrap_or(per_minute).max(1));
        Bucket {
            state: Mutex::new(State {
                tokens: capacity,
                capacity,
                per_second: f64::from(per_minute) / 60.0,
                last: Instant::now(),
            }),
        }
    }

    /// Takes a token; the time to wait before using it.
    fn reserve(&self) -> Duration {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        let refill = now.duration_since(s.last).as_secs_f64() * s.per_second;
        s.tokens = (s.tokens + refill).min(s.capacity);
        s.last = now;
        s.tokens -= 1.0;
        if s.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-s.tokens / s.per_second)
        }
    }
}

/// The read and write buckets of one credential.
#[derive(Debug)]
pub(crate) struct Buckets {
    read: Bucket,
    write: Bucket,
}

impl Buckets {
    /// Takes a token of `class`; the time to wait before the call may go.
    pub fn reserve(&self, class: Class) -> Duration {
        match class {
            Class::Read => self.read.reserve(),
            Class::Write => self.write.reserve(),
        }
    }
}

fn registry() -> &'static Mutex<HashMap<String, Arc<Buckets>>> {
    static REGISTRY: OnceLock<Mutex<HashMap<String, Arc<Buckets>>>> = OnceLock::new();
    REGISTRY.get_or_init(|| Mutex::new(HashMap::new()))
}

/// The buckets of credential `key`, made with `quota` if this is the first client for it.
pub(crate) fn buckets_for(key: &str, quota: &Quota) -> Arc<Buckets> {
    let mut map = registry().lock().unwrap_or_else(|p| p.into_inner());
    map.entry(key.to_owned())
        .or_insert_with(|| {
            Arc::new(Buckets {
                read: Bucket::new(quota.reads_per_minute, quota.burst),
                write: Bucket::new(quota.writes_per_minute, quota.burst),
            })
        })
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_bucket_lets_a_burst_through_then_spaces_calls() {
        let b = Bucket::new(60, Some(2));
        assert_eq!(b.reserve(), Duration::ZERO);
        assert_eq!(b.reserve(), Duration::ZERO);
        let third = b.reserve();
        assert!(third > Duration::from_millis(900) && third <= Duration::from_secs(1), "{third:?}");
        let fourth = b.reserve();
        assert!(fourth > Duration::from_millis(1900), "{fourth:?}");
    }

    #[test]
    fn one_credential_one_bucket() {
        let q = Quota { reads_per_minute: 60, writes_per_minute: 60, burst: Some(1) };
        let a = buckets_for("quota-unit-test-key", &q);
        let b = buckets_for("quota-unit-test-key", &Quota::default());
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(a.reserve(Class::Write), Duration::ZERO);
        assert!(b.reserve(Class::Write) > Duration::ZERO);
        assert_eq!(b.reserve(Class::Read), Duration::ZERO);
        assert!(!Arc::ptr_eq(&a, &buckets_for("another-key", &q)));
    }
}
