//! Usage counters and alert thresholds.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::ids::*;
use crate::usage::{AlertThreshold, UsageBucket};

use super::StoreResult;

/// Usage counters, per credential, endpoint and minute bucket.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait UsageStore: Send + Sync {
    /// Adds the buckets' counts to the stored counters (an upsert per bucket).
    async fn add(&self, buckets: Vec<UsageBucket>) -> StoreResult<()>;
    /// Successful calls of the project's credentials on any of these endpoints.
    async fn successful_calls(
        &self,
        project: ProjectId,
        endpoints: Vec<String>,
    ) -> StoreResult<u64>;
    /// Minute buckets of a project in `[from, to)`.
    async fn buckets(
        &self,
        project: ProjectId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreResult<Vec<UsageBucket>>;
}

/// Alert thresholds on a project's usage and spend.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait AlertStore: Send + Sync {
    /// Every alert threshold of the project.
    async fn thresholds(&self, project: ProjectId) -> StoreResult<Vec<AlertThreshold>>;
}
