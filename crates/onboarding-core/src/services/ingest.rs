//! Usage ingestion: gateways report the outcome of the calls they let through, and each call
//! is counted like a verification, through the [`UsageSink`] (never a database write on this
//! path, and never a credential change).

use std::collections::HashMap;

use serde::Serialize;

use super::*;
use crate::project::Environment;
use crate::usage::UsageEvent;

/// A call outcome a gateway reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportedCall {
    /// The credential the verification answer named.
    pub credential_id: CredentialId,
    /// `METHOD /path`.
    pub endpoint: String,
    /// The HTTP status the upstream answered: 400 and above count as errors.
    pub status: u16,
    /// How long the call took (accepted; not aggregated yet).
    pub latency_ms: Option<u64>,
    /// When the call happened; now when absent.
    pub at: Option<DateTime<Utc>>,
}

/// Why one reported call was not counted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RejectedCall {
    /// Its position in the batch, from 0.
    pub index: usize,
    /// `unknown_credential`, `invalid_endpoint`, `invalid_status`, `out_of_window`.
    pub reason: &'static str,
}

/// What an ingestion batch counted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IngestReport {
    /// Calls counted.
    pub accepted: usize,
    /// Calls refused, each with its position and reason; the rest of the batch still counts.
    pub rejected: Vec<RejectedCall>,
}

/// Most calls in one batch.
pub const MAX_BATCH: usize = 1000;
/// How far back a reported call may lie: usage already flushed and invoiced stays put.
const MAX_AGE: chrono::TimeDelta = chrono::TimeDelta::hours(24);
/// How far ahead of the portal's clock a gateway's clock may run.
const MAX_SKEW: chrono::TimeDelta = chrono::TimeDelta::minutes(5);

impl Metering {
    /// Counts reported call outcomes. The caller is a gateway (authenticated by the adapter
    /// with the provider's gateway token). Each distinct credential's project and environment
    /// are read once per batch ([`CredentialStore::credential_scope`]).
    pub async fn ingest_usage(&self, calls: Vec<ReportedCall>) -> ServiceResult<IngestReport> {
        if calls.len() > MAX_BATCH {
            return Err(
                FieldError::new("events", format!("at most {MAX_BATCH} events per batch")).into(),
            );
        }
        let now = self.cx.now();
        let mut known: HashMap<CredentialId, Option<(ProjectId, Environment)>> = HashMap::new();
        let mut report = IngestReport {
            accepted: 0,
            rejected: Vec::new(),
        };
        for (index, call) in calls.into_iter().enumerate() {
            let reject = |reason| RejectedCall { index, reason };
            let endpoint = call.endpoint.trim();
            if endpoint.is_empty() || endpoint.len() > 200 {
                report.rejected.push(reject("invalid_endpoint"));
                continue;
            }
            if !(100..=599).contains(&call.status) {
                report.rejected.push(reject("invalid_status"));
                continue;
            }
            let at = call.at.unwrap_or(now);
            if at < now - MAX_AGE || at > now + MAX_SKEW {
                report.rejected.push(reject("out_of_window"));
                continue;
            }
            let scope = match known.get(&call.credential_id) {
                Some(c) => *c,
                None => {
                    let c = self
                        .cx
                        .p
                        .credentials
                        .credential_scope(call.credential_id)
                        .await?;
                    known.insert(call.credential_id, c);
                    c
                }
            };
            let Some((project_id, environment)) = scope else {
                report.rejected.push(reject("unknown_credential"));
                continue;
            };
            self.cx.p.meter.record(UsageEvent {
                credential_id: call.credential_id,
                project_id,
                environment,
                endpoint: endpoint.to_owned(),
                at,
                success: call.status < 400,
            });
            report.accepted += 1;
        }
        Ok(report)
    }
}
