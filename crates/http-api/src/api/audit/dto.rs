//! Request and response bodies of the audit trail.

use chrono::{DateTime, Utc};
use poem_openapi::Object;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::dto::{ActorDto, page};

#[derive(Object, Debug, Clone, Serialize, Deserialize)]
pub struct AuditEventDto {
    pub id: String,
    pub seq: i64,
    pub at: DateTime<Utc>,
    pub actor: ActorDto,
    pub workspace_id: Option<String>,
    pub project_id: Option<String>,
    /// `subscription.submitted`, `credential.rotated`, ...
    pub action: String,
    pub target: String,
    pub details: Value,
    pub prev_hash: String,
    pub hash: String,
}

#[derive(Object, Debug, Clone)]
pub struct ChainReportDto {
    /// The workspace id, or `provider` for the provider's chain.
    pub chain: String,
    pub ok: bool,
    pub events: u64,
    /// The first bad event, if any.
    pub broken_at_seq: Option<i64>,
    pub broken_event_id: Option<String>,
    pub problem: Option<String>,
}

page!(AuditPage, AuditEventDto);
