//! Request and response bodies of projects, alert thresholds and the project page.

use crate::text::{Amount, Entry, Name};
use chrono::{DateTime, Utc};
use onboarding_core::project::Project;
use onboarding_core::services::ProjectOverview;
use onboarding_core::usage::AlertThreshold;
use poem_openapi::Object;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::dto::{CredentialDto, NextStepDto, SubscriptionDto, page, tag};

#[derive(Object, Debug, Clone)]
#[oai(example)]
pub struct ProjectDto {
    pub id: String,
    pub workspace_id: String,
    pub name: String,
    pub purpose: String,
    /// `sandbox` or `production`.
    pub environment: String,
    pub endpoints: Vec<String>,
    pub events: Vec<String>,
    pub cloned_from: Option<String>,
    /// A sandbox project: its latest subscription (null until it subscribes). A production
    /// project: the subscription whose approval it serves.
    pub subscription_id: Option<String>,
    pub live_audit_reviewed_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub version: i64,
}

impl From<&Project> for ProjectDto {
    fn from(p: &Project) -> Self {
        Self {
            id: p.id.to_string(),
            workspace_id: p.workspace_id.to_string(),
            name: p.name.to_string(),
            purpose: p.purpose.to_string(),
            environment: p.environment.as_str().into(),
            endpoints: p.endpoints.clone(),
            events: p.events.clone(),
            cloned_from: p.cloned_from.map(|x| x.to_string()),
            subscription_id: p.subscription_id.map(|x| x.to_string()),
            live_audit_reviewed_at: p.live_audit_reviewed_at,
            created_at: p.created_at,
            version: p.version,
        }
    }
}

#[derive(Object, Debug, Clone)]
#[oai(example)]
pub struct CreateProjectRequest {
    pub name: Name,
    /// What the workload is for ("Nightly statement sync").
    pub purpose: Name,
    #[oai(validator(max_items = 200), default)]
    pub endpoints: Vec<Entry>,
    #[oai(validator(max_items = 200), default)]
    pub events: Vec<Entry>,
}

#[derive(Object, Debug, Clone)]
pub struct AlertThresholdDto {
    pub id: String,
    pub project_id: String,
    /// `requests_per_day`, `error_rate_percent` or `spend_per_month`.
    pub metric: String,
    /// A decimal string.
    pub limit: String,
    pub created_at: DateTime<Utc>,
}

impl From<&AlertThreshold> for AlertThresholdDto {
    fn from(t: &AlertThreshold) -> Self {
        Self {
            id: t.id.to_string(),
            project_id: t.project_id.to_string(),
            metric: tag(&t.metric),
            limit: t.limit.to_string(),
            created_at: t.created_at,
        }
    }
}

#[derive(Object, Debug, Clone)]
pub struct SetThresholdRequest {
    /// A decimal string (`"10000"`, `"2.5"`); an error rate is at most 100.
    pub limit: Amount,
}

#[derive(Object, Debug, Clone, Serialize, Deserialize)]
pub struct OperatingCheckDto {
    pub item: String,
    #[serde(default)]
    pub title: String,
    pub done: bool,
}

/// The project page: environment posture, subscriptions, credentials, thresholds, the
/// operating pass and drift from the sandbox source.
#[derive(Object, Debug, Clone)]
pub struct ProjectOverviewDto {
    pub project: ProjectDto,
    pub subscriptions: Vec<SubscriptionDto>,
    pub credentials: Vec<CredentialDto>,
    pub alert_thresholds: Vec<AlertThresholdDto>,
    pub operating_checklist: Option<Vec<OperatingCheckDto>>,
    /// Differences from the sandbox project it was cloned from (`{kind, ...}` objects).
    pub drift: Vec<Value>,
    pub next_step: NextStepDto,
}

impl From<&ProjectOverview> for ProjectOverviewDto {
    fn from(o: &ProjectOverview) -> Self {
        Self {
            project: (&o.project).into(),
            subscriptions: o.subscriptions.iter().map(Into::into).collect(),
            credentials: o.credentials.iter().map(Into::into).collect(),
            alert_thresholds: o.alert_thresholds.iter().map(Into::into).collect(),
            operating_checklist: o.operating_checklist.as_ref().map(|c| {
                c.iter()
                    .map(|i| OperatingCheckDto {
                        item: tag(&i.item),
                        title: i.item.title().into(),
                        done: i.done,
                    })
                    .collect()
            }),
            drift: o
                .drift
                .iter()
                .map(|d| serde_json::to_value(d).unwrap_or(Value::Null))
                .collect(),
            next_step: (&o.next_step).into(),
        }
    }
}

page!(ProjectPage, ProjectDto);
