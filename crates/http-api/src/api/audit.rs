//! The tamper-evident audit log: a workspace's events, and chain verification for admins.

pub mod dto;

use onboarding_core::Caller;
use onboarding_core::ids::*;
use onboarding_core::roles::{StaffAction, staff_allowed};
use poem_openapi::OpenApi;
use poem_openapi::param::{Path, Query};

use super::*;
use crate::auth::Auth;
use crate::dto::*;
use crate::state::AppState;

pub struct AuditApi {
    pub state: AppState,
}

#[OpenApi(prefix_path = "/api/v1", tag = "Tag::Audit")]
impl AuditApi {
    /// A workspace's audit events in chain order (security owner, compliance, owners, staff).
    /// The cursor is the `seq` of the last event seen.
    #[oai(
        path = "/workspaces/:id/audit-events",
        method = "get",
        operation_id = "list_audit_events"
    )]
    async fn events(
        &self,
        auth: Auth,
        id: Path<String>,
        /// The `next_cursor` of the previous page.
        #[oai(validator(minimum(value = "0"), maximum(value = "1000000000000000")))]
        cursor: Query<Option<i64>>,
        #[oai(validator(minimum(value = "1"), maximum(value = "500")))] limit: Query<Option<u32>>,
    ) -> ApiResult<Ok200<AuditPage>> {
        let ws: WorkspaceId = path_id(&id, "workspace")?;
        let after = cursor.0.unwrap_or(0);
        let limit = u64::from(limit.0.unwrap_or(100).clamp(1, 500));
        let events = self
            .state
            .portal()
            .audit()
            .audit_events(auth.caller(), ws, after, limit)
            .await?;
        let next_cursor = (events.len() as u64 == limit)
            .then(|| events.last().map(|e| e.seq.to_string()))
            .flatten();
        ok(AuditPage {
            items: events
                .iter()
                .map(|e| {
                    let mut v = serde_json::to_value(e).unwrap_or_default();
                    v["id"] = serde_json::json!(e.draft.id.to_string());
                    serde_json::from_value(v).expect("audit event shape")
                })
                .collect(),
            next_cursor,
        })
    }

    /// Verify every hash chain of the audit log (admins).
    #[oai(
        path = "/admin/audit/verify",
        method = "post",
        operation_id = "verify_audit_chains"
    )]
    async fn verify(&self, auth: Auth) -> ApiResult<Ok200<Vec<ChainReportDto>>> {
        // The core's verification use case is the operator's command and takes no caller;
        // the HTTP door to it is closed by the core's own staff permission table.
        match auth.caller() {
            Caller::Staff { role, .. } if staff_allowed(role, StaffAction::ManageStaff) => {}
            _ => {
                return Err(Problem::new(
                    "forbidden",
                    "your roles do not allow you to verify the audit log",
                ));
            }
        }
        let reports = self
            .state
            .portal()
            .audit()
            .verify_all_audit_chains()
            .await?;
        ok(reports
            .into_iter()
            .map(|(chain, r)| {
                let chain = chain.map_or("provider".to_owned(), |w| w.to_string());
                match r {
                    Ok(n) => ChainReportDto {
                        chain,
                        ok: true,
                        events: n,
                        broken_at_seq: None,
                        broken_event_id: None,
                        problem: None,
                    },
                    Err(b) => ChainReportDto {
                        chain,
                        ok: false,
                        events: 0,
                        broken_at_seq: Some(b.seq),
                        broken_event_id: Some(b.event_id.clone()),
                        problem: Some(tag(&b.problem)),
                    },
                }
            })
            .collect())
    }
}
