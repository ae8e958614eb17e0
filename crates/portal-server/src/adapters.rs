//! Adapters of the ports that belong to the running process: the system clock, ULIDs, OS
//! randomness and the buffered usage meter.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use onboarding_core::ids::{CredentialId, ProjectId};
use onboarding_core::ports::{Clock, IdGenerator, SecretGenerator, UsageSink, UsageStore};
use onboarding_core::usage::{Granularity, UsageBucket, UsageEvent};
use ulid::Ulid;

pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

pub struct UlidIds;

impl IdGenerator for UlidIds {
    fn ulid(&self) -> Ulid {
        Ulid::generate()
    }
}

/// base62 from the operating system's CSPRNG, by rejection sampling (no modulo bias).
pub struct OsSecrets;

impl SecretGenerator for OsSecrets {
    fn base62(&self, len: usize) -> String {
        const A: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
        let mut out = String::with_capacity(len);
        let mut buf = [0u8; 64];
        while out.len() < len {
            getrandom::fill(&mut buf).expect("the OS random source is available");
            for b in buf {
                // 248 = 4 × 62: bytes above it would favour the first characters.
                if b < 248 && out.len() < len {
                    out.push(A[(b % 62) as usize] as char);
                }
            }
        }
        out
    }
}

/// Counts calls in memory per (credential, minute, endpoint) and flushes the counters to the
/// store as batched upserts every `usage_flush_seconds` (and on shutdown), so the verification hot path never
/// waits on the database. Memory grows with distinct keys, not with calls.
pub struct BufferedUsage {
    pending: Mutex<Pending>,
    store: Arc<dyn UsageStore>,
    /// Held by one flush-and-evaluate cycle at a time (see [`crate::workers`]).
    cycle: tokio::sync::Mutex<()>,
}

type Pending = HashMap<(CredentialId, DateTime<Utc>), HashMap<String, UsageBucket>>;

fn add_bucket(pending: &mut Pending, b: UsageBucket) {
    let e = pending
        .entry((b.credential_id, b.bucket_start))
        .or_default()
        .entry(b.endpoint.clone())
        .or_insert_with(|| UsageBucket {
            requests: 0,
            errors: 0,
            ..b.clone()
        });
    e.requests += b.requests;
    e.errors += b.errors;
}

impl BufferedUsage {
    pub fn new(store: Arc<dyn UsageStore>) -> Self {
        Self {
            pending: Mutex::new(HashMap::new()),
            store,
            cycle: tokio::sync::Mutex::new(()),
        }
    }

    /// Writes what has been counted so far, in one batched upsert, and answers the projects
    /// whose counters moved. On a store failure the counters are put back, to be retried on
    /// the next tick.
    pub async fn flush(&self) -> Vec<ProjectId> {
        let taken = std::mem::take(&mut *self.pending.lock().expect("usage lock"));
        if taken.is_empty() {
            return Vec::new();
        }
        let buckets: Vec<UsageBucket> = taken.into_values().flat_map(|m| m.into_values()).collect();
        let projects: BTreeSet<ProjectId> = buckets.iter().map(|b| b.project_id).collect();
        let started = std::time::Instant::now();
        match self.store.add(buckets.clone()).await {
            Ok(()) => {
                // The load benchmarks (issue 7, D) read this line for the flush rate.
                tracing::debug!(
                    buckets = buckets.len(),
                    elapsed_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
                    "usage flushed"
                );
                projects.into_iter().collect()
            }
            Err(e) => {
                tracing::warn!(error = %e, buckets = buckets.len(), "usage flush failed; will retry");
                let mut pending = self.pending.lock().expect("usage lock");
                for b in buckets {
                    add_bucket(&mut pending, b);
                }
                Vec::new()
            }
        }
    }

    /// One flush-and-evaluate cycle at a time: a caller that flushes on demand (shutdown,
    /// tests) waits for the worker's cycle in progress to finish.
    pub async fn cycle_lock(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.cycle.lock().await
    }
}

impl UsageSink for BufferedUsage {
    fn record(&self, event: UsageEvent) {
        let minute = Granularity::Minute.floor(event.at);
        let mut pending = self.pending.lock().expect("usage lock");
        let per_endpoint = pending.entry((event.credential_id, minute)).or_default();
        let bucket = match per_endpoint.get_mut(event.endpoint.as_str()) {
            Some(b) => b,
            None => per_endpoint
                .entry(event.endpoint.clone())
                .or_insert_with(|| UsageBucket {
                    credential_id: event.credential_id,
                    project_id: event.project_id,
                    environment: event.environment,
                    endpoint: event.endpoint,
                    bucket_start: minute,
                    requests: 0,
                    errors: 0,
                }),
        };
        bucket.requests += 1;
        bucket.errors += u64::from(!event.success);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_base62_of_the_asked_length_and_differ() {
        let a = OsSecrets.base62(32);
        let b = OsSecrets.base62(32);
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(a, b);
    }
}

/// The vault sealing webhook signing secrets: [`webhooks::ChaChaVault`] (XChaCha20-Poly1305)
/// keyed from `<data_dir>/vault.key`, which is created on first use. The file holds the
/// 32-byte key as 64 hex characters (the format this file has always had); a base64 key (what
/// `ChaChaVault::generate_key()` prints) is accepted too.
pub fn vault_from_data_dir(dir: &std::path::Path) -> Result<webhooks::ChaChaVault, String> {
    let file = dir.join("vault.key");
    match std::fs::read_to_string(&file) {
        Ok(text) => {
            let text = text.trim();
            match decode_hex32(text) {
                Some(key) => Ok(webhooks::ChaChaVault::new(key)),
                None => webhooks::ChaChaVault::from_base64(text).map_err(|_| {
                    format!(
                        "{} holds neither 64 hex characters nor a base64 32-byte key",
                        file.display()
                    )
                }),
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut key = [0u8; 32];
            getrandom::fill(&mut key).map_err(|e| e.to_string())?;
            let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
            std::fs::create_dir_all(dir)
                .and_then(|()| std::fs::write(&file, hex))
                .map_err(|e| format!("cannot write {}: {e}", file.display()))?;
            Ok(webhooks::ChaChaVault::new(key))
        }
        Err(e) => Err(format!("cannot read {}: {e}", file.display())),
    }
}

pub(crate) fn decode_hex32(s: &str) -> Option<[u8; 32]> {
    if s.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod vault_tests {
    use super::*;
    use onboarding_core::ports::SecretVault;

    #[test]
    fn the_vault_key_file_is_created_once_and_read_back_in_either_format() {
        let dir = std::env::temp_dir().join(format!("portal-vault-{}", Ulid::generate()));
        let v = vault_from_data_dir(&dir).unwrap();
        let sealed = v.seal("whsec_abc");
        assert_ne!(sealed, "whsec_abc");
        let hex = std::fs::read_to_string(dir.join("vault.key")).unwrap();
        assert_eq!(hex.len(), 64, "the key file keeps its hex format");
        // The same file opens what was sealed before (a restart).
        let again = vault_from_data_dir(&dir).unwrap();
        assert_eq!(again.open(&sealed).as_deref(), Some("whsec_abc"));
        // A base64 key works too; a malformed file is an error, never a silent new key.
        std::fs::write(dir.join("vault.key"), webhooks::ChaChaVault::generate_key()).unwrap();
        let b64 = vault_from_data_dir(&dir).unwrap();
        assert_eq!(b64.open(&sealed), None);
        std::fs::write(dir.join("vault.key"), "nonsense").unwrap();
        assert!(vault_from_data_dir(&dir).is_err());
        std::fs::remove_dir_all(dir).ok();
    }
}
