//! The go-live queue and gate sign-off (provider staff).

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

/// The queue cursor is `<submitted_at RFC 3339>~<subscription id>` of the last row seen: the
/// same key the store pages by, so a page never skips or repeats a row.
fn parse_cursor(c: &str) -> ApiResult<(DateTime<Utc>, SubscriptionId)> {
    let bad = || Problem::field("cursor", "not a cursor returned by this endpoint");
    let (at, id) = c.split_once('~').ok_or_else(bad)?;
    let at = DateTime::parse_from_rfc3339(at)
        .map_err(|_| bad())?
        .to_utc();
    Ok((at, id.parse().map_err(|_| bad())?))
}

#[OpenApi(prefix_path = "/api/v1", tag = "Tag::Review")]
impl ReviewApi {
    /// The go-live queue: every submission in review, oldest first, with its gate summary,
    /// remaining gate and age.
    #[oai(path = "/review-queue", method = "get")]
    async fn queue(
        &self,
        auth: Auth,
        cursor: Query<Option<String>>,
        #[oai(validator(minimum(value = "1"), maximum(value = "200")))] limit: Query<Option<u32>>,
    ) -> ApiResult<Ok200<QueuePage>> {
        let after = cursor.0.as_deref().map(parse_cursor).transpose()?;
        let limit = u64::from(limit.0.unwrap_or(50).clamp(1, 200));
        let rows = self
            .state
            .portal()
            .review_queue(auth.caller(), after, limit)
            .await?;
        let next_cursor = (rows.len() as u64 == limit)
            .then(|| rows.last())
            .flatten()
            .map(|q| {
                format!(
                    "{}~{}",
                    q.submitted_at
                        .to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
                    q.subscription.id
                )
            });
        ok(QueuePage {
            items: rows.iter().map(Into::into).collect(),
            next_cursor,
        })
    }

    /// Sign off a manual gate (`consent_handling`) of a submission in review.
    #[oai(path = "/subscriptions/:id/gates/:gate/sign-off", method = "post")]
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
            .sign_off_gate(auth.caller(), id, gate)
            .await?;
        tagged((&s).into(), s.version)
    }
}
