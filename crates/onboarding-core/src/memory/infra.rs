//! Clock, ids, secrets, vault, password hasher and destination policy for tests and examples.

use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use sha2::{Digest, Sha256};
use ulid::Ulid;

use crate::ports::*;

/// A clock that only moves when told to.
pub struct ManualClock(Mutex<DateTime<Utc>>);

impl ManualClock {
    /// A clock standing still at `at` until [`advance`](Self::advance) or [`set`](Self::set) moves
    /// it.
    pub fn new(at: DateTime<Utc>) -> Self {
        Self(Mutex::new(at))
    }
    /// Moves the clock forward by `by` (e.g. past a rotation grace deadline or an invitation's
    /// expiry).
    pub fn advance(&self, by: TimeDelta) {
        *self.0.lock().unwrap() += by;
    }
    /// Sets the clock to `at`, forward or backward.
    pub fn set(&self, at: DateTime<Utc>) {
        *self.0.lock().unwrap() = at;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}

/// Deterministic, increasing ULIDs.
#[derive(Default)]
pub struct SequentialIds(Mutex<u64>);

impl IdGenerator for SequentialIds {
    fn ulid(&self) -> Ulid {
        let mut n = self.0.lock().unwrap();
        *n += 1;
        Ulid::from_parts(1_700_000_000_000 + *n, u128::from(*n))
    }
}

/// Deterministic base62 text (a hash chain over a counter): distinct, repeatable, not secret.
#[derive(Default)]
pub struct DeterministicSecrets(Mutex<u64>);

impl SecretGenerator for DeterministicSecrets {
    fn base62(&self, len: usize) -> String {
        const A: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
        let mut n = self.0.lock().unwrap();
        *n += 1;
        let mut out = String::with_capacity(len);
        let mut block = Sha256::digest(n.to_le_bytes());
        while out.len() < len {
            for b in block.iter() {
                if out.len() < len {
                    out.push(A[(*b as usize) % 62] as char);
                }
            }
            block = Sha256::digest(block);
        }
        out
    }
}

/// A vault for tests and examples: reversible encoding with a tag so that `open` refuses text it
/// did not seal. Not encryption; the server uses an AEAD with the operator's key.
pub struct TestVault;

impl SecretVault for TestVault {
    fn seal(&self, plaintext: &str) -> String {
        format!("testvault:{}", plaintext.chars().rev().collect::<String>())
    }
    fn open(&self, sealed: &str) -> Option<String> {
        sealed
            .strip_prefix("testvault:")
            .map(|s| s.chars().rev().collect())
    }
}

/// A fast salted SHA-256 hasher for tests and examples. The server uses argon2id.
pub struct TestPasswordHasher;

#[async_trait]
impl PasswordHasher for TestPasswordHasher {
    async fn hash(&self, password: &str) -> String {
        format!(
            "test${}",
            crate::credential::hex(&Sha256::digest(format!("salt:{password}").as_bytes()))
        )
    }
    async fn verify(&self, password: &str, phc_hash: &str) -> bool {
        self.hash(password).await == phc_hash
    }
}

/// Every address may be a webhook's: nothing is delivered from memory. An embedder that
/// delivers passes its delivery guard's policy instead (the server passes its SSRF setting).
#[derive(Debug, Clone, Copy, Default)]
pub struct AnyDestination;

impl DestinationPolicy for AnyDestination {
    fn check_ip(&self, _ip: std::net::IpAddr) -> Result<(), String> {
        Ok(())
    }
}
