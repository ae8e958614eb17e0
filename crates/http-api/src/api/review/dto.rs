//! Request and response bodies of the review queue.

use chrono::{DateTime, Utc};
use onboarding_core::services::QueueEntry;
use poem_openapi::Object;

use crate::dto::{GateSummaryDto, page};

#[derive(Object, Debug, Clone)]
pub struct QueueEntryDto {
    pub subscription_id: String,
    pub workspace_id: String,
    pub workspace_name: String,
    pub project_id: String,
    pub project_name: String,
    pub plan_id: String,
    pub plan_name: String,
    pub submitted_at: DateTime<Utc>,
    pub age_seconds: i64,
    pub version: i64,
    pub gates: GateSummaryDto,
}

impl From<&QueueEntry> for QueueEntryDto {
    fn from(q: &QueueEntry) -> Self {
        Self {
            subscription_id: q.subscription.id.to_string(),
            workspace_id: q.subscription.workspace_id.to_string(),
            workspace_name: q.workspace_name.clone(),
            project_id: q.subscription.project_id.to_string(),
            project_name: q.project_name.clone(),
            plan_id: q.subscription.plan_id.to_string(),
            plan_name: q.plan_name.clone(),
            submitted_at: q.submitted_at,
            age_seconds: q.age_seconds,
            version: q.subscription.version,
            gates: (&q.gates).into(),
        }
    }
}

page!(QueuePage, QueueEntryDto);
