//! The staff inbox (spec §6): every queue that waits on provider staff or that they chase,
//! oldest first, keyset-paged, filterable by product, plan and workspace, with counts for the
//! staff navigation.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use serde::Serialize;

use super::*;
use crate::gates::GateEvaluation;
use crate::inbox::{InboxQuery, InboxQueue};
use crate::pipeline::{Phase, Subscription};
use crate::plan::{Plan, Pricing};
use crate::values::Notes;
use crate::workspace::Workspace;

/// What staff narrowed a queue to; every field optional.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InboxFilter {
    /// Only plans of this API product.
    pub product: Option<ProductId>,
    /// Only this plan.
    pub plan: Option<PlanId>,
    /// Only this workspace (organization).
    pub workspace: Option<WorkspaceId>,
}

/// One row of a staff inbox queue.
#[derive(Debug, Clone, Serialize)]
pub struct InboxEntry {
    /// The queue the row is in.
    pub queue: InboxQueue,
    /// The subscription.
    pub subscription: Subscription,
    /// The organization's name.
    pub workspace_name: String,
    /// The sandbox project's name.
    pub project_name: String,
    /// The API product's name.
    pub product_name: String,
    /// The plan's name.
    pub plan_name: String,
    /// Since when it has waited in this queue; the queue lists oldest first.
    pub waiting_since: DateTime<Utc>,
    /// How long it has waited, in seconds.
    pub age_seconds: i64,
    /// The gate summary, in the `in_review` queue only.
    pub gates: Option<GateEvaluation>,
    /// The reviewer's notes, in the `changes_requested` queue only.
    pub notes: Option<Notes>,
    /// The plan's price, in the `awaiting_payment` queue only.
    pub pricing: Option<Pricing>,
}

/// How many subscriptions wait in each queue.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct InboxCounts {
    /// One count per queue, in [`InboxQueue::ALL`] order.
    pub queues: Vec<(InboxQueue, u64)>,
}

impl InboxCounts {
    /// The count of one queue.
    pub fn of(&self, q: InboxQueue) -> u64 {
        self.queues
            .iter()
            .find(|(x, _)| *x == q)
            .map_or(0, |(_, n)| *n)
    }
}

impl Pipeline {
    /// One queue of the staff inbox, oldest first, after the cursor (waiting since, id).
    pub async fn inbox(
        &self,
        caller: Caller,
        queue: InboxQueue,
        filter: InboxFilter,
        after: Option<QueueCursor>,
        limit: u64,
    ) -> ServiceResult<Vec<InboxEntry>> {
        self.cx.require_staff(caller, StaffAction::ReadQueue)?;
        let plans = self.inbox_plans(filter).await?;
        let query = inbox_query(queue, &plans, filter, after, limit.clamp(1, 200));
        let products: HashMap<ProductId, String> = self
            .cx
            .p
            .plans
            .products()
            .await?
            .into_iter()
            .map(|p| (p.id, p.name.to_string()))
            .collect();
        let now = self.cx.now();
        // Rows of one workspace share their reads within a page.
        let mut workspaces: HashMap<WorkspaceId, (Workspace, Vec<Membership>)> = HashMap::new();
        let mut out = Vec::new();
        for s in self.cx.p.subscriptions.inbox(&query).await? {
            let Some((_, since)) = InboxQueue::candidate(&s) else {
                continue;
            };
            let Some(plan) = plans.iter().find(|p| p.id == s.plan_id) else {
                continue;
            };
            let (ws, members) = match workspaces.entry(s.workspace_id) {
                Entry::Occupied(e) => e.into_mut(),
                Entry::Vacant(e) => e.insert(self.cx.workspace_with_members(s.workspace_id).await?),
            };
            let project = self.cx.p.projects.project(s.project_id).await?;
            let gates = match queue {
                InboxQueue::InReview => {
                    Some(self.cx.evaluate_gates_in(&s, plan, ws, members).await?)
                }
                _ => None,
            };
            let notes = match &s.phase {
                Phase::Sandbox {
                    changes_requested: Some(c),
                } => Some(c.notes.clone()),
                _ => None,
            };
            out.push(InboxEntry {
                queue,
                workspace_name: ws.name.to_string(),
                project_name: project.map(|p| p.name.to_string()).unwrap_or_default(),
                product_name: products.get(&plan.product_id).cloned().unwrap_or_default(),
                plan_name: plan.name.to_string(),
                waiting_since: since,
                age_seconds: (now - since).num_seconds(),
                gates,
                notes,
                pricing: (queue == InboxQueue::AwaitingPayment).then(|| plan.pricing.clone()),
                subscription: s,
            });
        }
        Ok(out)
    }

    /// How many subscriptions wait in each queue under the filter (the staff navigation's
    /// counts use no filter).
    pub async fn inbox_counts(
        &self,
        caller: Caller,
        filter: InboxFilter,
    ) -> ServiceResult<InboxCounts> {
        self.cx.require_staff(caller, StaffAction::ReadQueue)?;
        let plans = self.inbox_plans(filter).await?;
        let mut queues = Vec::with_capacity(InboxQueue::ALL.len());
        for q in InboxQueue::ALL {
            let query = inbox_query(*q, &plans, filter, None, 0);
            queues.push((*q, self.cx.p.subscriptions.inbox_count(&query).await?));
        }
        Ok(InboxCounts { queues })
    }

    /// The plans the filter admits; an unknown product, plan or workspace is bad input that
    /// names its field.
    async fn inbox_plans(&self, f: InboxFilter) -> ServiceResult<Vec<Plan>> {
        let unknown = |field: &str, what: &str| {
            ServiceError::Invalid(FieldError::new(field, format!("no {what} has this id")))
        };
        if let Some(p) = f.product
            && self.cx.p.plans.product(p).await?.is_none()
        {
            return Err(unknown("product", "API product"));
        }
        if let Some(w) = f.workspace
            && self.cx.p.workspaces.workspace(w).await?.is_none()
        {
            return Err(unknown("workspace", "workspace"));
        }
        let plans = self.cx.p.plans.plans().await?;
        if let Some(p) = f.plan
            && !plans.iter().any(|x| x.id == p)
        {
            return Err(unknown("plan", "plan"));
        }
        Ok(plans
            .into_iter()
            .filter(|p| f.product.is_none_or(|x| x == p.product_id))
            .filter(|p| f.plan.is_none_or(|x| x == p.id))
            .collect())
    }
}

/// The store query for one queue: the payment queue names only paid plans, since a free plan
/// never waits for payment.
fn inbox_query(
    queue: InboxQueue,
    plans: &[Plan],
    f: InboxFilter,
    after: Option<QueueCursor>,
    limit: u64,
) -> InboxQuery {
    let narrowed = f.product.is_some() || f.plan.is_some();
    let plans = match queue {
        InboxQueue::AwaitingPayment => Some(
            plans
                .iter()
                .filter(|p| p.pricing.is_paid())
                .map(|p| p.id)
                .collect(),
        ),
        _ if narrowed => Some(plans.iter().map(|p| p.id).collect()),
        _ => None,
    };
    InboxQuery {
        queue,
        plans,
        workspace: f.workspace,
        after,
        limit,
    }
}
