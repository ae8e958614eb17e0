//! The pipeline: subscribe, the subscription page, submit, withdraw, the reviewers'
//! decisions, reopen, sandbox access and payments. Transitions take the version they expect
//! (`If-Match` or `version`); a stale one answers 412 (If-Match) or 409 with the current phase.

pub mod dto;

use onboarding_core::ids::*;
use poem_openapi::OpenApi;
use poem_openapi::param::{Header, Path, Query};
use poem_openapi::payload::Json;

use super::*;
use crate::auth::Auth;
use crate::dto::*;
use crate::state::AppState;

pub struct SubscriptionsApi {
    pub state: AppState,
}

type Transition = ApiResult<Tagged<SubscriptionDto>>;

fn done(s: onboarding_core::pipeline::Subscription) -> Transition {
    tagged((&s).into(), s.version)
}

/// One pipeline transition: the subscription id from the path, the version it expects (from
/// `If-Match` or the body), the use case, and a stale version as 412 or 409.
async fn transition(
    id: &str,
    if_match: Option<IfMatch>,
    body_version: Option<i64>,
    act: impl AsyncFnOnce(
        SubscriptionId,
        Option<i64>,
    )
        -> onboarding_core::ServiceResult<onboarding_core::pipeline::Subscription>,
) -> Transition {
    let id: SubscriptionId = path_id(id, "subscription")?;
    let (version, strict) = expected_version(if_match, body_version);
    done(
        act(id, version)
            .await
            .map_err(|e| precondition(e, strict))?,
    )
}

#[OpenApi(prefix_path = "/api/v1", tag = "Tag::Subscriptions")]
impl SubscriptionsApi {
    /// Subscribe a sandbox project to a plan (requests sandbox access on
    /// `approval_required` plans).
    #[oai(
        path = "/projects/:id/subscriptions",
        method = "post",
        operation_id = "create_subscription"
    )]
    async fn subscribe(
        &self,
        auth: Auth,
        id: Path<String>,
        body: Json<SubscribeRequest>,
    ) -> ApiResult<Created<SubscriptionDto>> {
        let project: ProjectId = path_id(&id, "project")?;
        let plan: PlanId = body_id(&body.plan_id, "plan_id")?;
        let s = self
            .state
            .portal()
            .pipeline()
            .subscribe(auth.caller(), project, plan)
            .await?;
        created((&s).into(), format!("/api/v1/subscriptions/{}", s.id))
    }

    /// The workspace's subscriptions.
    #[oai(
        path = "/workspaces/:id/subscriptions",
        method = "get",
        operation_id = "list_subscriptions"
    )]
    async fn list(
        &self,
        auth: Auth,
        id: Path<String>,
        cursor: Query<Option<String>>,
        #[oai(validator(minimum(value = "1"), maximum(value = "200")))] limit: Query<Option<u32>>,
    ) -> ApiResult<Ok200<SubscriptionPage>> {
        let ws: WorkspaceId = path_id(&id, "workspace")?;
        let all = self
            .state
            .portal()
            .pipeline()
            .subscriptions(auth.caller(), ws)
            .await?;
        let (items, next_cursor) = page(all, |s| s.id.to_string(), cursor.0, limit.0);
        ok(SubscriptionPage {
            items: items.iter().map(Into::into).collect(),
            next_cursor,
        })
    }

    /// The subscription page: phase, stepper, notice, form, test data, credentials, the
    /// production lock, gates and the next step.
    #[oai(
        path = "/subscriptions/:id",
        method = "get",
        operation_id = "get_subscription"
    )]
    async fn get(&self, auth: Auth, id: Path<String>) -> ApiResult<Tagged<SubscriptionViewDto>> {
        let id: SubscriptionId = path_id(&id, "subscription")?;
        let v = self
            .state
            .portal()
            .pipeline()
            .subscription_view(auth.caller(), id)
            .await?;
        tagged((&v).into(), v.subscription.version)
    }

    /// Submit for Review with the answers to the plan's form (technical lead or owner).
    #[oai(
        path = "/subscriptions/:id/submit",
        method = "post",
        operation_id = "submit_subscription"
    )]
    async fn submit(
        &self,
        auth: Auth,
        id: Path<String>,
        #[oai(name = "If-Match")] if_match: Header<Option<IfMatch>>,
        body: Json<SubmitRequest>,
    ) -> Transition {
        let SubmitRequest { answers, version } = body.0;
        let portal = self.state.portal();
        transition(&id, if_match.0, version, async |id, v| {
            portal
                .pipeline()
                .submit(auth.caller(), id, answers, v)
                .await
        })
        .await
    }

    /// Withdraw a submission before a decision (the submitter).
    #[oai(
        path = "/subscriptions/:id/withdraw",
        method = "post",
        operation_id = "withdraw_subscription"
    )]
    async fn withdraw(
        &self,
        auth: Auth,
        id: Path<String>,
        #[oai(name = "If-Match")] if_match: Header<Option<IfMatch>>,
        body: Json<TransitionRequest>,
    ) -> Transition {
        let portal = self.state.portal();
        transition(&id, if_match.0, body.version, async |id, v| {
            portal.pipeline().withdraw(auth.caller(), id, v).await
        })
        .await
    }

    /// Approve (reviewers): only when every applicable gate has passed.
    #[oai(
        path = "/subscriptions/:id/approve",
        method = "post",
        operation_id = "approve_subscription"
    )]
    async fn approve(
        &self,
        auth: Auth,
        id: Path<String>,
        #[oai(name = "If-Match")] if_match: Header<Option<IfMatch>>,
        body: Json<TransitionRequest>,
    ) -> Transition {
        let portal = self.state.portal();
        transition(&id, if_match.0, body.version, async |id, v| {
            portal.pipeline().approve(auth.caller(), id, v).await
        })
        .await
    }

    /// Reject (reviewers); notes optional, shown to the developer.
    #[oai(
        path = "/subscriptions/:id/reject",
        method = "post",
        operation_id = "reject_subscription"
    )]
    async fn reject(
        &self,
        auth: Auth,
        id: Path<String>,
        #[oai(name = "If-Match")] if_match: Header<Option<IfMatch>>,
        body: Json<TransitionRequest>,
    ) -> Transition {
        let portal = self.state.portal();
        transition(&id, if_match.0, body.version, async |id, v| {
            portal
                .pipeline()
                .reject(auth.caller(), id, body.notes.as_deref(), v)
                .await
        })
        .await
    }

    /// Request changes (reviewers); notes are required.
    #[oai(
        path = "/subscriptions/:id/request-changes",
        method = "post",
        operation_id = "request_subscription_changes"
    )]
    async fn request_changes(
        &self,
        auth: Auth,
        id: Path<String>,
        #[oai(name = "If-Match")] if_match: Header<Option<IfMatch>>,
        body: Json<TransitionRequest>,
    ) -> Transition {
        let portal = self.state.portal();
        transition(&id, if_match.0, body.version, async |id, v| {
            portal
                .pipeline()
                .request_changes(auth.caller(), id, body.notes.as_deref().unwrap_or(""), v)
                .await
        })
        .await
    }

    /// Reopen a rejected subscription to sandbox (admins).
    #[oai(
        path = "/subscriptions/:id/reopen",
        method = "post",
        operation_id = "reopen_subscription"
    )]
    async fn reopen(
        &self,
        auth: Auth,
        id: Path<String>,
        #[oai(name = "If-Match")] if_match: Header<Option<IfMatch>>,
        body: Json<TransitionRequest>,
    ) -> Transition {
        let portal = self.state.portal();
        transition(&id, if_match.0, body.version, async |id, v| {
            portal.pipeline().reopen(auth.caller(), id, v).await
        })
        .await
    }

    /// Grant requested sandbox access (reviewers).
    #[oai(
        path = "/subscriptions/:id/sandbox-access/grant",
        method = "post",
        operation_id = "grant_sandbox_access"
    )]
    async fn grant_sandbox(&self, auth: Auth, id: Path<String>) -> Transition {
        let id: SubscriptionId = path_id(&id, "subscription")?;
        let s = self
            .state
            .portal()
            .pipeline()
            .decide_sandbox_access(auth.caller(), id, true, None)
            .await?;
        done(s)
    }

    /// Decline requested sandbox access (reviewers): the subscription ends as `rejected`.
    #[oai(
        path = "/subscriptions/:id/sandbox-access/decline",
        method = "post",
        operation_id = "decline_sandbox_access"
    )]
    async fn decline_sandbox(
        &self,
        auth: Auth,
        id: Path<String>,
        body: Json<TransitionRequest>,
    ) -> Transition {
        let id: SubscriptionId = path_id(&id, "subscription")?;
        let s = self
            .state
            .portal()
            .pipeline()
            .decide_sandbox_access(auth.caller(), id, false, body.notes.as_deref())
            .await?;
        done(s)
    }

    /// Record a payment an admin confirmed (paid plans unlock production credentials).
    #[oai(
        path = "/subscriptions/:id/payments",
        method = "post",
        operation_id = "confirm_payment"
    )]
    async fn confirm_payment(
        &self,
        auth: Auth,
        id: Path<String>,
        body: Json<ConfirmPaymentRequest>,
    ) -> ApiResult<Created<PaymentDto>> {
        let id: SubscriptionId = path_id(&id, "subscription")?;
        let amount = super::projects::decimal("amount", &body.amount)?;
        let p = self
            .state
            .portal()
            .billing()
            .confirm_payment(auth.caller(), id, amount, &body.currency, &body.reference)
            .await?;
        created((&p).into(), format!("/api/v1/subscriptions/{id}"))
    }
}
