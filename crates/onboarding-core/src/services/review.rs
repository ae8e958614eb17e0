//! The go-live queue: what reviewers see first.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use serde::Serialize;

use super::*;
use crate::gates::GateEvaluation;
use crate::pipeline::Subscription;
use crate::plan::Plan;
use crate::workspace::Workspace;

/// One row of the go-live queue.
#[derive(Debug, Clone, Serialize)]
pub struct QueueEntry {
    /// The subscription under review.
    pub subscription: Subscription,
    /// The organization's name.
    pub workspace_name: String,
    /// The sandbox project's name.
    pub project_name: String,
    /// The plan's name.
    pub plan_name: String,
    /// When it was submitted; the queue lists oldest first.
    pub submitted_at: DateTime<Utc>,
    /// How long it has waited, in seconds.
    pub age_seconds: i64,
    /// The gate summary; the first gate not passed is the remaining gate.
    pub gates: GateEvaluation,
}

impl Pipeline {
    /// The go-live queue: every `in_review` subscription, oldest first, with gate summary,
    /// remaining gate and age. Keyset paging by (submitted at, id).
    pub async fn review_queue(
        &self,
        caller: Caller,
        after: Option<QueueCursor>,
        limit: u64,
    ) -> ServiceResult<Vec<QueueEntry>> {
        self.cx.require_staff(caller, StaffAction::ReadQueue)?;
        let now = self.cx.now();
        // Submissions on one plan, or from one workspace, share their reads within a page:
        // the plan, the workspace and its members are read once each.
        let mut plans: HashMap<PlanId, Plan> = HashMap::new();
        let mut workspaces: HashMap<WorkspaceId, (Workspace, Vec<Membership>)> = HashMap::new();
        let mut out = Vec::new();
        for s in self
            .cx
            .p
            .subscriptions
            .review_queue(after, limit.clamp(1, 200))
            .await?
        {
            let crate::pipeline::Phase::InReview { submitted_at, .. } = s.phase else {
                continue;
            };
            let plan = match plans.entry(s.plan_id) {
                Entry::Occupied(e) => e.into_mut(),
                Entry::Vacant(e) => e.insert(self.cx.catalog().plan(s.plan_id).await?),
            };
            let (ws, members) = match workspaces.entry(s.workspace_id) {
                Entry::Occupied(e) => e.into_mut(),
                Entry::Vacant(e) => e.insert(self.cx.workspace_with_members(s.workspace_id).await?),
            };
            let project = self.cx.p.projects.project(s.project_id).await?;
            out.push(QueueEntry {
                gates: self.cx.evaluate_gates_in(&s, plan, ws, members).await?,
                workspace_name: ws.name.to_string(),
                project_name: project.map(|p| p.name.to_string()).unwrap_or_default(),
                plan_name: plan.name.to_string(),
                submitted_at,
                age_seconds: (now - submitted_at).num_seconds(),
                subscription: s,
            });
        }
        Ok(out)
    }
}
