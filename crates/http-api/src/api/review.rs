//! The go-live queue and gate sign-off (provider staff).

pub mod dto;

use chrono::{DateTime, Utc};
use onboarding_core::gates::Gate;
use onboarding_core::ids::*;
use poem_openapi::OpenApi;
use poem_openapi::param::{Path, Query};

use super::*;
use crate::auth::Auth;
use crate::dto::*;
use crate::state::AppState;

pub struct ReviewApi {
    pub state: AppState,
}

/// The queue cursor is `<submitted_at, nanoseconds since 1970>~<subscription id>` of the
/// last row seen: the same key the store pages by, so a page never skips or repeats a row.
/// Every string of the documented pattern is a valid cursor (the digits fit an `i64`, the id
/// is a ULID), so the pattern on the parameter is the whole rule.
pub(super) fn parse_cursor(c: &str) -> ApiResult<(DateTime<Utc>, SubscriptionId)> {
    let bad = || Problem::field("cursor", "not a cursor returned by this endpoint");
    let (at, id) = c.split_once('~').ok_or_else(bad)?;
    let at = DateTime::from_timestamp_nanos(at.parse().map_err(|_| bad())?);
    Ok((at, id.parse().map_err(|_| bad())?))
}

pub(super) fn cursor_of(at: DateTime<Utc>, id: SubscriptionId) -> String {
    // Submissions are stamped by the server clock, after 1970 and before 2262.
    format!("{}~{id}", at.timestamp_nanos_opt().unwrap_or(0))
}

#[OpenApi(prefix_path = "/api/v1", tag = "Tag::Review")]
impl ReviewApi {
    /// The go-live queue: every submission in review, oldest first, with its gate summary,
    /// remaining gate and age.
    #[oai(
        path = "/review-queue",
        method = "get",
        operation_id = "list_review_queue"
    )]
    async fn queue(
        &self,
        auth: Auth,
        #[oai(validator(pattern = r"^[0-8]?[0-9]{1,18}~sub_[0-7][0-9A-HJKMNP-TV-Z]{25}$"))]
        cursor: Query<Option<String>>,
        #[oai(validator(minimum(value = "1"), maximum(value = "200")))] limit: Query<Option<u32>>,
    ) -> ApiResult<Ok200<QueuePage>> {
        let after = cursor.0.as_deref().map(parse_cursor).transpose()?;
        let limit = u64::from(limit.0.unwrap_or(50).clamp(1, 200));
        let rows = self
            .state
            .portal()
            .pipeline()
            .review_queue(auth.caller(), after, limit)
            .await?;
        let next_cursor = (rows.len() as u64 == limit)
            .then(|| rows.last())
            .flatten()
            .map(|q| cursor_of(q.submitted_at, q.subscription.id));
        ok(QueuePage {
            items: rows.iter().map(Into::into).collect(),
            next_cursor,
        })
    }

    /// Sign off a manual gate (`consent_handling`) of a submission in review.
    #[oai(
        path = "/subscriptions/:id/gates/:gate/sign-off",
        method = "post",
        operation_id = "sign_off_gate"
    )]
    async fn sign_off(
        &self,
        auth: Auth,
        id: Path<String>,
        gate: Path<String>,
    ) -> ApiResult<Tagged<SubscriptionDto>> {
        let id: SubscriptionId = path_id(&id, "subscription")?;
        let gate = Gate::parse(&gate).ok_or_else(|| Problem::not_found("gate"))?;
        let s = self
            .state
            .portal()
            .pipeline()
            .sign_off_gate(auth.caller(), id, gate)
            .await?;
        tagged((&s).into(), s.version)
    }
}
