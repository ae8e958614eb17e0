//! Ports to the world outside storage: time, ids, secrets, hashing, encryption, addresses, usage counting.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ulid::Ulid;

/// The time. Tests use a fixed or steppable clock; nothing in the core reads the system clock.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait Clock: Send + Sync {
    /// The current time, in UTC.
    fn now(&self) -> DateTime<Utc>;
}

/// New ULIDs for ids.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait IdGenerator: Send + Sync {
    /// A fresh ULID, unique and increasing with time.
    fn ulid(&self) -> Ulid;
}

/// Randomness for secrets: `len` characters of base62 from a cryptographic source.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait SecretGenerator: Send + Sync {
    /// `len` random base62 characters (`[0-9A-Za-z]`) from a cryptographic source.
    fn base62(&self, len: usize) -> String;
}

/// Password hashing (argon2id in the bundled adapter). Slow by design, so async.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait PasswordHasher: Send + Sync {
    /// Hashes a password into a PHC string (`$argon2id$...`), salted.
    async fn hash(&self, password: &str) -> String;
    /// Whether `password` matches a PHC hash made by [`hash`](Self::hash); `false` for a malformed
    /// hash.
    async fn verify(&self, password: &str, phc_hash: &str) -> bool;
}

/// Which addresses webhook deliveries may reach: the operator's SSRF setting. Registration
/// asks it about literal IP hosts, so an endpoint that could never be delivered to is refused
/// when it is saved; names are checked by the delivery client once resolved.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait DestinationPolicy: Send + Sync {
    /// `Err(why)` ("a loopback address") when deliveries to `ip` are refused.
    fn check_ip(&self, ip: std::net::IpAddr) -> Result<(), String>;
}

/// Where counted calls go. Non-blocking: the bundled adapter buffers in memory and flushes batched
/// upserts to the [`UsageStore`](super::UsageStore); the hot path never waits on the database.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait UsageSink: Send + Sync {
    /// Counts one verified call; must not block (the hot path calls it).
    fn record(&self, event: crate::usage::UsageEvent);
}

/// Encrypts secrets that must be used again later (webhook signing secrets). The bundled
/// adapter uses an AEAD with the operator's key; only sealed text reaches the database.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait SecretVault: Send + Sync {
    /// Encrypts `plaintext`; the result is safe to store and only this vault's key opens it.
    fn seal(&self, plaintext: &str) -> String;
    /// `None` when the text was not sealed with this vault's key (or was tampered with).
    fn open(&self, sealed: &str) -> Option<String>;
}
