//! Usage counters and alert thresholds.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::ids::*;
use crate::ports::*;
use crate::usage::{AlertThreshold, UsageBucket, UsageEvent, aggregate};

use super::MemoryStore;

#[async_trait]
impl UsageStore for MemoryStore {
    async fn add(&self, buckets: Vec<UsageBucket>) -> StoreResult<()> {
        let mut s = self.state.lock().unwrap();
        for b in buckets {
            let e = s
                .usage
                .entry((b.credential_id, b.endpoint.clone(), b.bucket_start))
                .or_insert_with(|| UsageBucket {
                    requests: 0,
                    errors: 0,
                    ..b.clone()
                });
            e.requests += b.requests;
            e.errors += b.errors;
        }
        Ok(())
    }
    async fn successful_calls(
        &self,
        project: ProjectId,
        endpoints: Vec<String>,
    ) -> StoreResult<u64> {
        Ok(self
            .state
            .lock()
            .unwrap()
            .usage
            .values()
            .filter(|b| b.project_id == project && endpoints.contains(&b.endpoint))
            .map(|b| b.requests - b.errors)
            .sum())
    }
    async fn buckets(
        &self,
        project: ProjectId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreResult<Vec<UsageBucket>> {
        Ok(self
            .state
            .lock()
            .unwrap()
            .usage
            .values()
            .filter(|b| b.project_id == project && b.bucket_start >= from && b.bucket_start < to)
            .cloned()
            .collect())
    }
}

#[async_trait]
impl AlertStore for MemoryStore {
    async fn thresholds(&self, project: ProjectId) -> StoreResult<Vec<AlertThreshold>> {
        Ok(self
            .state
            .lock()
            .unwrap()
            .thresholds
            .values()
            .filter(|t| t.project_id == project)
            .cloned()
            .collect())
    }
}

/// Counts usage straight into the store (no buffering): fine in memory.
impl UsageSink for MemoryStore {
    fn record(&self, event: UsageEvent) {
        let mut s = self.state.lock().unwrap();
        for b in aggregate(&[event]) {
            let e = s
                .usage
                .entry((b.credential_id, b.endpoint.clone(), b.bucket_start))
                .or_insert_with(|| UsageBucket {
                    requests: 0,
                    errors: 0,
                    ..b.clone()
                });
            e.requests += b.requests;
            e.errors += b.errors;
        }
    }
}
