//! Failed sign-in throttling: a sliding window per e-mail and per client address, in memory,
//! with time from the `Clock` port (so tests step it instead of sleeping).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, TimeDelta, Utc};
use onboarding_core::ports::Clock;

/// 10 failures per 15 minutes per e-mail (guessing one account's password) and 100 per hour
/// per client address (spraying many accounts), as OWASP suggests.
pub const PER_EMAIL: (usize, TimeDelta) = (10, TimeDelta::minutes(15));
pub const PER_ADDRESS: (usize, TimeDelta) = (100, TimeDelta::hours(1));

/// Keys kept before old ones are swept, so an attacker cycling addresses cannot grow memory
/// without bound.
const MAX_KEYS: usize = 100_000;

pub struct Throttle {
    clock: Arc<dyn Clock>,
    failures: Mutex<HashMap<String, VecDeque<DateTime<Utc>>>>,
}

impl Throttle {
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            clock,
            failures: Mutex::new(HashMap::new()),
        }
    }

    fn keys(email: &str, address: &str) -> [(String, (usize, TimeDelta)); 2] {
        [
            (format!("e:{}", email.trim().to_lowercase()), PER_EMAIL),
            (format!("a:{address}"), PER_ADDRESS),
        ]
    }

    /// `Err(seconds)` to wait when either window is full. Known and unknown e-mails are
    /// counted the same way, so the answer reveals nothing about which accounts exist.
    pub fn check(&self, email: &str, address: &str) -> Result<(), i64> {
        let now = self.clock.now();
        let mut map = self.failures.lock().expect("throttle lock");
        let mut wait = 0;
        for (key, (max, window)) in Self::keys(email, address) {
            if let Some(q) = map.get_mut(&key) {
                while q.front().is_some_and(|t| *t <= now - window) {
                    q.pop_front();
                }
                if q.len() >= max {
                    let oldest = *q.front().expect("non-empty");
                    wait = wait.max((oldest + window - now).num_seconds().max(1));
                }
            }
        }
        if wait > 0 { Err(wait) } else { Ok(()) }
    }

    pub fn record_failure(&self, email: &str, address: &str) {
        let now = self.clock.now();
        let mut map = self.failures.lock().expect("throttle lock");
        if map.len() > MAX_KEYS {
            let horizon = now - PER_ADDRESS.1;
            map.retain(|_, q| q.back().is_some_and(|t| *t > horizon));
        }
        for (key, (max, _)) in Self::keys(email, address) {
            let q = map.entry(key).or_default();
            q.push_back(now);
            while q.len() > max {
                q.pop_front();
            }
        }
    }

    /// A successful sign-in clears the e-mail's window (not the address's).
    pub fn record_success(&self, email: &str) {
        let key = format!("e:{}", email.trim().to_lowercase());
        self.failures.lock().expect("throttle lock").remove(&key);
    }
}
