//! The staff inbox: every queue that waits on provider staff, with counts (provider staff).

use chrono::{DateTime, Utc};
use onboarding_core::ids::*;
use onboarding_core::inbox::InboxQueue;
use onboarding_core::services::{InboxCounts, InboxEntry, InboxFilter};
use poem_openapi::param::{Path, Query};
use poem_openapi::{Enum, Object, OpenApi};

use super::review::{cursor_of, parse_cursor};
use super::*;
use crate::auth::Auth;
use crate::dto::{GateSummaryDto, PricingDto, via};
use crate::state::AppState;

pub struct InboxApi {
    pub state: AppState,
}

/// A queue of the staff inbox.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[oai(rename_all = "snake_case")]
pub enum InboxQueueName {
    /// Submitted, waiting for a decision (the go-live queue).
    InReview,
    /// Sandbox access requested on an `approval_required` plan.
    SandboxAccess,
    /// Approved on a paid plan, no payment recorded.
    AwaitingPayment,
    /// Sent back with Changes Requested, not resubmitted yet.
    ChangesRequested,
}

impl InboxQueueName {
    fn core(self) -> InboxQueue {
        match self {
            Self::InReview => InboxQueue::InReview,
            Self::SandboxAccess => InboxQueue::SandboxAccess,
            Self::AwaitingPayment => InboxQueue::AwaitingPayment,
            Self::ChangesRequested => InboxQueue::ChangesRequested,
        }
    }
}

/// One row of an inbox queue.
#[derive(Object, Debug, Clone)]
pub struct InboxEntryDto {
    /// The queue (`in_review`, `sandbox_access`, `awaiting_payment`, `changes_requested`).
    pub queue: String,
    pub subscription_id: String,
    pub workspace_id: String,
    pub workspace_name: String,
    pub project_id: String,
    pub project_name: String,
    pub product_id: String,
    pub product_name: String,
    pub plan_id: String,
    pub plan_name: String,
    /// Since when it has waited in this queue; queues list oldest first.
    pub waiting_since: DateTime<Utc>,
    pub age_seconds: i64,
    pub version: i64,
    /// The gate summary (`in_review` only).
    #[oai(skip_serializing_if_is_none)]
    pub gates: Option<GateSummaryDto>,
    /// The reviewer's notes (`changes_requested` only).
    #[oai(skip_serializing_if_is_none)]
    pub notes: Option<String>,
    /// The plan's price (`awaiting_payment` only).
    #[oai(skip_serializing_if_is_none)]
    pub pricing: Option<PricingDto>,
}

impl InboxEntryDto {
    fn of(e: &InboxEntry, product_id: String) -> Self {
        let s = &e.subscription;
        Self {
            queue: e.queue.as_str().into(),
            subscription_id: s.id.to_string(),
            workspace_id: s.workspace_id.to_string(),
            workspace_name: e.workspace_name.clone(),
            project_id: s.project_id.to_string(),
            project_name: e.project_name.clone(),
            product_id,
            product_name: e.product_name.clone(),
            plan_id: s.plan_id.to_string(),
            plan_name: e.plan_name.clone(),
            waiting_since: e.waiting_since,
            age_seconds: e.age_seconds,
            version: s.version,
            gates: e.gates.as_ref().map(Into::into),
            notes: e.notes.as_ref().map(|n| n.as_str().to_owned()),
            pricing: e.pricing.as_ref().map(via),
        }
    }
}

/// One page of an inbox queue; pass `next_cursor` as `cursor` for the next.
#[derive(Object, Debug, Clone)]
pub struct InboxPage {
    pub items: Vec<InboxEntryDto>,
    pub next_cursor: Option<String>,
}

/// How many subscriptions wait in one queue.
#[derive(Object, Debug, Clone)]
pub struct InboxCountDto {
    pub queue: InboxQueueName,
    /// The queue's title, as the staff navigation shows it.
    pub title: String,
    pub count: u64,
}

/// Every queue of the inbox with its count, in the staff navigation's order.
#[derive(Object, Debug, Clone)]
pub struct InboxCountsDto {
    pub queues: Vec<InboxCountDto>,
}

fn name_of(q: InboxQueue) -> InboxQueueName {
    [
        InboxQueueName::InReview,
        InboxQueueName::SandboxAccess,
        InboxQueueName::AwaitingPayment,
        InboxQueueName::ChangesRequested,
    ]
    .into_iter()
    .find(|n| n.core() == q)
    .unwrap_or(InboxQueueName::InReview)
}

impl From<&InboxCounts> for InboxCountsDto {
    fn from(c: &InboxCounts) -> Self {
        Self {
            queues: c
                .queues
                .iter()
                .map(|(q, n)| InboxCountDto {
                    queue: name_of(*q),
                    title: q.title().into(),
                    count: *n,
                })
                .collect(),
        }
    }
}

/// A filter id from the query string: a malformed one is bad input naming its parameter.
fn filter_id<T: std::str::FromStr>(
    v: Option<&str>,
    field: &str,
    what: &str,
) -> ApiResult<Option<T>> {
    v.map(|s| {
        s.parse()
            .map_err(|_| Problem::field(field, format!("not {what} id")))
    })
    .transpose()
}

fn filter(
    product: Option<&str>,
    plan: Option<&str>,
    workspace: Option<&str>,
) -> ApiResult<InboxFilter> {
    Ok(InboxFilter {
        product: filter_id(product, "product", "an API product")?,
        plan: filter_id(plan, "plan", "a plan")?,
        workspace: filter_id(workspace, "workspace", "a workspace")?,
    })
}

#[OpenApi(prefix_path = "/api/v1", tag = "Tag::Review")]
impl InboxApi {
    /// How many subscriptions wait in each queue of the staff inbox, under the same filters
    /// as the queues.
    #[oai(path = "/inbox", method = "get", operation_id = "get_inbox_counts")]
    async fn counts(
        &self,
        auth: Auth,
        /// Only plans of this API product (`prod_...`).
        product: Query<Option<String>>,
        /// Only this plan (`plan_...`).
        plan: Query<Option<String>>,
        /// Only this workspace (`ws_...`).
        workspace: Query<Option<String>>,
    ) -> ApiResult<Ok200<InboxCountsDto>> {
        let f = filter(product.as_deref(), plan.as_deref(), workspace.as_deref())?;
        let c = self
            .state
            .portal()
            .pipeline()
            .inbox_counts(auth.caller(), f)
            .await?;
        ok((&c).into())
    }

    /// One queue of the staff inbox, oldest first (by the moment each subscription started
    /// waiting in it), keyset-paged, filterable by product, plan and workspace.
    #[oai(
        path = "/inbox/:queue",
        method = "get",
        operation_id = "list_inbox_queue"
    )]
    #[allow(clippy::too_many_arguments)]
    async fn queue(
        &self,
        auth: Auth,
        /// `in_review`, `sandbox_access`, `awaiting_payment` or `changes_requested`; any
        /// other name is a 404, like any other unknown resource.
        queue: Path<String>,
        /// Only plans of this API product (`prod_...`).
        product: Query<Option<String>>,
        /// Only this plan (`plan_...`).
        plan: Query<Option<String>>,
        /// Only this workspace (`ws_...`).
        workspace: Query<Option<String>>,
        #[oai(validator(pattern = r"^[0-8]?[0-9]{1,18}~sub_[0-7][0-9A-HJKMNP-TV-Z]{25}$"))]
        cursor: Query<Option<String>>,
        #[oai(validator(minimum(value = "1"), maximum(value = "200")))] limit: Query<Option<u32>>,
    ) -> ApiResult<Ok200<InboxPage>> {
        let queue = InboxQueue::parse(&queue).ok_or_else(|| Problem::not_found("inbox queue"))?;
        let f = filter(product.as_deref(), plan.as_deref(), workspace.as_deref())?;
        let after = cursor.0.as_deref().map(parse_cursor).transpose()?;
        let limit = u64::from(limit.0.unwrap_or(50).clamp(1, 200));
        let portal = self.state.portal();
        let rows = portal
            .pipeline()
            .inbox(auth.caller(), queue, f, after, limit)
            .await?;
        let plans = portal.catalog().plans().await?;
        let product_of = |id: PlanId| {
            plans
                .iter()
                .find(|p| p.id == id)
                .map(|p| p.product_id.to_string())
                .unwrap_or_default()
        };
        let next_cursor = (rows.len() as u64 == limit)
            .then(|| rows.last())
            .flatten()
            .map(|e| cursor_of(e.waiting_since, e.subscription.id));
        ok(InboxPage {
            items: rows
                .iter()
                .map(|e| InboxEntryDto::of(e, product_of(e.subscription.plan_id)))
                .collect(),
            next_cursor,
        })
    }
}
