//! Adapters of the ports that belong to the running process: the system clock, ULIDs, OS
//! randomness and the buffered usage meter.

use std::sync::Arc;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use onboarding_core::ports::{Clock, IdGenerator, SecretGenerator, UsageSink, UsageStore};
use onboarding_core::usage::{UsageEvent, aggregate};
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

/// Counts calls in memory and flushes aggregated buckets to the store every second (and on
/// shutdown), so the verification hot path never waits on the database.
pub struct BufferedUsage {
    pending: Mutex<Vec<UsageEvent>>,
    store: Arc<dyn UsageStore>,
}

impl BufferedUsage {
    pub fn new(store: Arc<dyn UsageStore>) -> Self {
        Self {
            pending: Mutex::new(Vec::new()),
            store,
        }
    }

    /// Writes what has been counted so far. On a store failure the events are put back, to
    /// be retried on the next tick.
    pub async fn flush(&self) {
        let events = std::mem::take(&mut *self.pending.lock().expect("usage lock"));
        if events.is_empty() {
            return;
        }
        let buckets = aggregate(&events);
        if let Err(e) = self.store.add(buckets).await {
            tracing::warn!(error = %e, events = events.len(), "usage flush failed; will retry");
            self.pending.lock().expect("usage lock").extend(events);
        }
    }
}

impl UsageSink for BufferedUsage {
    fn record(&self, event: UsageEvent) {
        self.pending.lock().expect("usage lock").push(event);
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

/// Seals secrets that must be used again (webhook signing secrets) with ChaCha20-Poly1305
/// under the operator's 32-byte key; the text stored is `v1.<base64 nonce ‖ ciphertext>`.
pub struct AeadVault {
    cipher: chacha20poly1305::ChaCha20Poly1305,
}

impl AeadVault {
    pub fn new(key: &[u8; 32]) -> Self {
        use chacha20poly1305::KeyInit;
        Self {
            cipher: chacha20poly1305::ChaCha20Poly1305::new(&(*key).into()),
        }
    }

    /// The key from `<data_dir>/vault.key` (hex), created on first use.
    pub fn from_data_dir(dir: &std::path::Path) -> Result<Self, String> {
        let file = dir.join("vault.key");
        let key = match std::fs::read_to_string(&file) {
            Ok(hex) => decode_hex32(hex.trim())
                .ok_or_else(|| format!("{} is not 64 hex characters", file.display()))?,
            Err(_) => {
                let mut key = [0u8; 32];
                getrandom::fill(&mut key).map_err(|e| e.to_string())?;
                let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
                std::fs::create_dir_all(dir)
                    .and_then(|()| std::fs::write(&file, hex))
                    .map_err(|e| format!("cannot write {}: {e}", file.display()))?;
                key
            }
        };
        Ok(Self::new(&key))
    }
}

fn decode_hex32(s: &str) -> Option<[u8; 32]> {
    if s.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

impl onboarding_core::ports::SecretVault for AeadVault {
    fn seal(&self, plaintext: &str) -> String {
        use base64::Engine;
        use chacha20poly1305::aead::Aead;
        let mut nonce = [0u8; 12];
        getrandom::fill(&mut nonce).expect("the OS random source is available");
        let ct = self
            .cipher
            .encrypt(&nonce.into(), plaintext.as_bytes())
            .expect("sealing in memory cannot fail");
        let mut raw = nonce.to_vec();
        raw.extend(ct);
        format!(
            "v1.{}",
            base64::engine::general_purpose::STANDARD_NO_PAD.encode(raw)
        )
    }

    fn open(&self, sealed: &str) -> Option<String> {
        use base64::Engine;
        use chacha20poly1305::aead::Aead;
        let raw = base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(sealed.strip_prefix("v1.")?)
            .ok()?;
        if raw.len() < 12 {
            return None;
        }
        let (nonce, ct) = raw.split_at(12);
        let nonce: [u8; 12] = nonce.try_into().ok()?;
        let pt = self.cipher.decrypt(&nonce.into(), ct).ok()?;
        String::from_utf8(pt).ok()
    }
}

#[cfg(test)]
mod vault_tests {
    use super::*;
    use onboarding_core::ports::SecretVault;

    #[test]
    fn seals_and_opens_and_refuses_tampering() {
        let v = AeadVault::new(&[7; 32]);
        let s = v.seal("whsec_abc");
        assert_ne!(s, "whsec_abc");
        assert_eq!(v.open(&s).as_deref(), Some("whsec_abc"));
        let mut t = s.clone();
        t.pop();
        t.push(if s.ends_with('A') { 'B' } else { 'A' });
        assert_eq!(v.open(&t), None);
        assert_eq!(AeadVault::new(&[8; 32]).open(&s), None);
    }
}
