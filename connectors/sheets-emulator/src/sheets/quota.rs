//! Google's per-minute request quotas, per user and per project, over a real
//! rolling minute. A batch is one request; GETs are reads, the rest writes.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use serde_json::json;

use super::ApiError;
use crate::oauth::Identity;
use crate::Quota;

const WINDOW: Duration = Duration::from_secs(60);

#[derive(Debug, Default)]
pub struct Usage {
    windows: HashMap<(String, bool), VecDeque<Instant>>,
}

/// `project_number:N` for a project: its own digits, or a stable number made from its name.
pub fn project_number(project: &str) -> String {
    if !project.is_empty() && project.bytes().all(|b| b.is_ascii_digit()) {
        return project.to_owned();
    }
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in project.bytes() {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    (hash % 900_000_000_000 + 100_000_000_000).to_string()
}

impl Usage {
    /// Counts the request, or refuses it when a window is full.
    pub fn admit(&mut self, quota: &Quota, who: &Identity, read: bool) -> Result<(), ApiError> {
        let now = Instant::now();
        let (user_limit, project_limit) = if read {
            (quota.reads_per_user, quota.reads_per_project)
        } else {
            (quota.writes_per_user, quota.writes_per_project)
        };
        let user_key = (format!("user:{}:{}", who.project, who.user), read);
        let project_key = (format!("project:{}", who.project), read);
        for (key, limit, per_user) in [(&user_key, user_limit, true), (&project_key, project_limit, false)] {
            let window = self.windows.entry(key.clone()).or_default();
            while window.front().is_some_and(|t| now.duration_since(*t) >= WINDOW) {
                window.pop_front();
            }
            if window.len() >= limit as usize {
                return Err(exceeded(read, per_user, limit, &who.project));
            }
        }
        for key in [user_key, project_key] {
            self.windows.entry(key).or_default().push_back(now);
        }
        Ok(())
    }
}

fn exceeded(read: bool, per_user: bool, limit: u32, project: &str) -> ApiError {
    let metric = if read { "Read requests" } else { "Write requests" };
    let limit_name =
        if per_user { format!("{metric} per minute per user") } else { format!("{metric} per minute") };
    let consumer = format!("project_number:{}", project_number(project));
    let message = format!(
        "Quota exceeded for quota metric '{metric}' and limit '{limit_name}' of service \
         'sheets.googleapis.com' for consumer '{consumer}'."
    );
    let metric_id =
        if read { "sheets.googleapis.com/read_requests" } else { "sheets.googleapis.com/write_requests" };
    let limit_id = match (read, per_user) {
        (true, true) => "ReadRequestsPerMinutePerUser",
        (true, false) => "ReadRequestsPerMinutePerProject",
        (false, true) => "WriteRequestsPerMinutePerUser",
        (false, false) => "WriteRequestsPerMinutePerProject",
    };
    ApiError {
        code: 429,
        message,
        details: Some(json!([
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "RATE_LIMIT_EXCEEDED",
                "domain": "googleapis.com",
                "metadata": {
                    "quota_metric": metric_id,
                    "quota_limit": limit_id,
                    "quota_limit_value": limit.to_string(),
                    "quota_location": "global",
                    "service": "sheets.googleapis.com",
                    "consumer": consumer,
                }
            },
            {
                "@type": "type.googleapis.com/google.rpc.Help",
                "links": [{
                    "description": "Request a higher quota limit.",
                    "url": "https://cloud.google.com/docs/quotas/help/request_increase"
                }]
            }
        ])),
    }
}
