//! Browser sessions, CSRF tokens and sign-in throttling.
//!
//! The contract shared with the REST API: cookie `portal_session` = 32 random bytes in
//! base64url; stored only as `SecretHash::of(cookie)` through `AuthTokenStore::insert_token`
//! with kind `Session`, the principal, a random CSRF token and a 12-hour expiry. A new session
//! id at every sign-in; sign-out deletes the token.

use std::collections::{HashMap, VecDeque};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, TimeDelta, Utc};
use onboarding_core::Caller;
use onboarding_core::credential::SecretHash;
use onboarding_core::ports::{AuthToken, AuthTokenKind, Principal};
use onboarding_core::roles::StaffRole;
use poem::Request;

use crate::WebState;

/// The session cookie (shared with the REST API).
pub const SESSION_COOKIE: &str = "portal_session";
/// Before sign-in, forms carry a token that must match this cookie (double submit).
pub const PRESESSION_COOKIE: &str = "portal_csrf";
/// The hidden form field that carries the CSRF token.
pub const CSRF_FIELD: &str = "_csrf";
/// How long a session lasts.
pub const SESSION_TTL_HOURS: i64 = 12;

const EMAIL_WINDOW: TimeDelta = TimeDelta::minutes(15);
const EMAIL_LIMIT: usize = 10;
const ADDR_WINDOW: TimeDelta = TimeDelta::hours(1);
const ADDR_LIMIT: usize = 100;

/// 32 random bytes, base64url without padding.
pub fn random_token() -> String {
    let mut buf = [0u8; 32];
    getrandom::fill(&mut buf).expect("the operating system's random source");
    URL_SAFE_NO_PAD.encode(buf)
}

/// Compares two strings in time that depends only on their lengths.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The value of a cookie in the request's `Cookie` headers.
pub fn cookie_value(req: &Request, name: &str) -> Option<String> {
    req.headers()
        .get_all(poem::http::header::COOKIE)
        .iter()
        .filter_map(|h| h.to_str().ok())
        .flat_map(|h| h.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// A `Set-Cookie` value with the portal's attributes.
pub fn set_cookie(state: &WebState, name: &str, value: &str, max_age: i64) -> String {
    let secure = if state.secure_cookies { "; Secure" } else { "" };
    format!("{name}={value}; HttpOnly; SameSite=Lax; Path=/; Max-Age={max_age}{secure}")
}

/// Who is signed in.
#[derive(Debug, Clone)]
pub struct Session {
    pub token_hash: SecretHash,
    pub caller: Caller,
    pub csrf: String,
    pub name: String,
}

impl Session {
    pub fn staff_role(&self) -> Option<StaffRole> {
        match self.caller {
            Caller::Staff { role, .. } => Some(role),
            Caller::Account(_) => None,
        }
    }
}

/// The session the request's cookie names, if it is a live browser session.
pub async fn load(state: &WebState, req: &Request) -> Option<Session> {
    let value = cookie_value(req, SESSION_COOKIE)?;
    let hash = SecretHash::of(&value);
    let token = state.tokens.find_token(&hash).await.ok()??;
    if token.kind != AuthTokenKind::Session {
        return None;
    }
    if token.expires_at <= state.clock.now() {
        let _ = state.tokens.delete_token(&hash).await;
        return None;
    }
    let csrf = token.csrf_token.clone()?;
    match token.principal {
        Principal::Account(id) => {
            let a = state.portal.accounts().account(id).await.ok()?;
            Some(Session {
                token_hash: hash,
                caller: Caller::Account(id),
                csrf,
                name: a.name.to_string(),
            })
        }
        Principal::Staff(id) => {
            let s = state.portal.accounts().staff_member(id).await.ok()?;
            Some(Session {
                token_hash: hash,
                caller: Caller::Staff { id, role: s.role },
                csrf,
                name: s.name.to_string(),
            })
        }
    }
}

/// Starts a new session (a fresh id at every sign-in) and answers its `Set-Cookie` value.
pub async fn start(state: &WebState, principal: Principal) -> Result<String, String> {
    let value = random_token();
    let now = state.clock.now();
    state
        .tokens
        .insert_token(AuthToken {
            token_hash: SecretHash::of(&value),
            principal,
            kind: AuthTokenKind::Session,
            name: String::new(),
            csrf_token: Some(random_token()),
            created_at: now,
            expires_at: now + TimeDelta::hours(SESSION_TTL_HOURS),
        })
        .await
        .map_err(|e| e.to_string())?;
    Ok(set_cookie(
        state,
        SESSION_COOKIE,
        &value,
        SESSION_TTL_HOURS * 3600,
    ))
}

/// Failed sign-ins, per e-mail and per client address, in sliding windows.
#[derive(Default)]
pub struct Throttle {
    by_email: HashMap<String, VecDeque<DateTime<Utc>>>,
    by_addr: HashMap<String, VecDeque<DateTime<Utc>>>,
}

fn prune(q: &mut VecDeque<DateTime<Utc>>, now: DateTime<Utc>, window: TimeDelta) {
    while q.front().is_some_and(|t| *t + window <= now) {
        q.pop_front();
    }
}

fn wait(
    map: &mut HashMap<String, VecDeque<DateTime<Utc>>>,
    key: &str,
    now: DateTime<Utc>,
    window: TimeDelta,
    limit: usize,
) -> Option<i64> {
    let q = map.get_mut(key)?;
    prune(q, now, window);
    if q.len() >= limit {
        let free_at = q[q.len() - limit] + window;
        Some((free_at - now).num_seconds().max(1))
    } else {
        None
    }
}

impl Throttle {
    /// Seconds to wait before trying again, if either limit is reached. The same answer
    /// whether the account exists or not: only failures are counted, per e-mail typed.
    pub fn retry_after(&mut self, email: &str, addr: &str, now: DateTime<Utc>) -> Option<i64> {
        let e = wait(&mut self.by_email, email, now, EMAIL_WINDOW, EMAIL_LIMIT);
        let a = wait(&mut self.by_addr, addr, now, ADDR_WINDOW, ADDR_LIMIT);
        e.max(a)
    }

    pub fn failed(&mut self, email: &str, addr: &str, now: DateTime<Utc>) {
        if self.by_email.len() > 100_000 {
            self.by_email.retain(|_, q| {
                prune(q, now, EMAIL_WINDOW);
                !q.is_empty()
            });
        }
        if self.by_addr.len() > 100_000 {
            self.by_addr.retain(|_, q| {
                prune(q, now, ADDR_WINDOW);
                !q.is_empty()
            });
        }
        self.by_email
            .entry(email.to_owned())
            .or_default()
            .push_back(now);
        self.by_addr
            .entry(addr.to_owned())
            .or_default()
            .push_back(now);
    }

    pub fn succeeded(&mut self, email: &str) {
        self.by_email.remove(email);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_32_bytes_of_base64url() {
        let t = random_token();
        assert_eq!(URL_SAFE_NO_PAD.decode(&t).unwrap().len(), 32);
        assert_ne!(t, random_token());
    }

    #[test]
    fn constant_time_eq_compares() {
        assert!(constant_time_eq("abc", "abc"));
        assert!(!constant_time_eq("abc", "abd"));
        assert!(!constant_time_eq("abc", "ab"));
    }

    #[test]
    fn ten_failures_per_email_then_wait() {
        let mut t = Throttle::default();
        let now = Utc::now();
        for i in 0..10 {
            assert_eq!(t.retry_after("a@x.test", &format!("ip{i}"), now), None);
            t.failed("a@x.test", &format!("ip{i}"), now);
        }
        let wait = t.retry_after("a@x.test", "ip99", now).unwrap();
        assert_eq!(wait, 15 * 60);
        assert_eq!(t.retry_after("b@x.test", "ip99", now), None);
        assert_eq!(
            t.retry_after("a@x.test", "ip99", now + TimeDelta::minutes(15)),
            None
        );
    }

    #[test]
    fn a_hundred_failures_per_address_per_hour() {
        let mut t = Throttle::default();
        let now = Utc::now();
        for i in 0..100 {
            t.failed(&format!("u{i}@x.test"), "10.0.0.1", now);
        }
        assert!(t.retry_after("new@x.test", "10.0.0.1", now).is_some());
        assert!(t.retry_after("new@x.test", "10.0.0.2", now).is_none());
    }
}
