//! Background workers of the server: the usage flusher with alert evaluation, and the
//! credential invalidation feeds of the verification cache.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use onboarding_core::ids::CredentialId;
use storage_seaorm::{CredentialSignal, SeaOrmStore};
use tokio::task::JoinHandle;

use crate::Wiring;
use crate::cache::VerifyCache;

/// How often the polling fallback reads `credential_change`.
pub const POLL_INTERVAL: Duration = Duration::from_millis(250);
/// How far back each poll looks (by the database's clock): covers a commit that lands a
/// little after its update statement, and a poll that ran late.
const POLL_WINDOW: Duration = Duration::from_secs(5);

/// Flushes counted usage, then evaluates the alert thresholds of every project whose
/// counters moved (a crossing can only follow new usage). One cycle at a time.
pub async fn flush_and_alert(w: &Wiring) {
    let _cycle = w.usage.cycle_lock().await;
    for project in w.usage.flush().await {
        match w.portal.metering().evaluate_alerts(project).await {
            Ok(raised) => {
                for a in raised {
                    tracing::info!(%project, metric = ?a.threshold.metric, window = %a.window, observed = %a.observed, "alert raised");
                }
            }
            Err(e) => tracing::warn!(%project, error = %e, "alert evaluation failed"),
        }
    }
}

/// The usage worker: [`flush_and_alert`] every `every`.
pub fn spawn_usage_worker(w: Wiring, every: Duration) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            flush_and_alert(&w).await;
        }
    })
}

/// The invalidation feeds of the verification cache: `LISTEN credential_changed` on
/// PostgreSQL, and the polling read of `credential_change` on every backend.
pub fn spawn_invalidation(store: SeaOrmStore, cache: Arc<VerifyCache>) -> Vec<JoinHandle<()>> {
    let mut tasks = Vec::new();
    let (s, c) = (store.clone(), cache.clone());
    tasks.push(tokio::spawn(async move { listen(s, c).await }));
    tasks.push(tokio::spawn(async move { poll(store, cache).await }));
    tasks
}

async fn listen(store: SeaOrmStore, cache: Arc<VerifyCache>) {
    loop {
        let mut listener = match store.credential_listener().await {
            Ok(Some(l)) => l,
            Ok(None) => return, // not PostgreSQL: polling only
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for credential changes; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        // Changes made before LISTEN took effect are the poller's.
        loop {
            match listener.next().await {
                Ok(CredentialSignal::Changed(id)) => cache.invalidate_credential(id),
                Ok(CredentialSignal::Reconnected) => cache.invalidate_all(),
                Err(e) => {
                    tracing::warn!(error = %e, "credential listener failed; reconnecting");
                    cache.invalidate_all();
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    break;
                }
            }
        }
    }
}

async fn poll(store: SeaOrmStore, cache: Arc<VerifyCache>) {
    let mut seen: HashMap<CredentialId, i64> = HashMap::new();
    let mut tick = tokio::time::interval(POLL_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match store.recent_credential_changes(POLL_WINDOW).await {
            Ok(changes) => {
                let mut now_seen = HashMap::with_capacity(changes.len());
                let mut changed = Vec::new();
                for (id, version) in changes {
                    if seen.get(&id) != Some(&version) {
                        changed.push(id);
                    }
                    now_seen.insert(id, version);
                }
                cache.invalidate_credentials(&changed);
                seen = now_seen;
            }
            Err(e) => tracing::warn!(error = %e, "cannot poll credential changes"),
        }
    }
}
