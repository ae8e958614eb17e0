//! Usage, alerts, invoices, exports and the report history (spec §9), and the gateways'
//! usage ingestion endpoint.

use crate::text::Text;
use chrono::{DateTime, Utc};
use onboarding_core::ids::*;
use onboarding_core::services::{ExportFormat, ExportScope, ReportedCall};
use onboarding_core::usage::Granularity;
use poem::IntoResponse;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::registry::{
    MetaHeader, MetaMediaType, MetaResponse, MetaResponses, MetaSchema, MetaSchemaRef, Registry,
};
use poem_openapi::{ApiResponse, Object, OpenApi};
use serde::{Deserialize, Serialize};

use super::*;
use crate::auth::{Auth, GatewayToken};
use crate::dto::{ActorDto, via};
use crate::state::AppState;

pub struct MeteringApi {
    pub state: AppState,
}

// ---------------------------------------------------------------- bodies

/// One counter: a credential's calls of one endpoint in one bucket.
#[derive(Object, Debug, Clone, Serialize, Deserialize)]
pub struct UsageBucketDto {
    pub credential_id: String,
    /// `sandbox` or `production`.
    pub environment: String,
    /// `METHOD /path`, or `verify`.
    pub endpoint: String,
    pub bucket_start: DateTime<Utc>,
    pub requests: u64,
    pub errors: u64,
}

/// A project's usage over a window: requests, errors and spend.
#[derive(Object, Debug, Clone)]
pub struct UsageViewDto {
    pub project_id: String,
    pub environment: String,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// `minute`, `hour` or `day`.
    pub granularity: String,
    pub buckets: Vec<UsageBucketDto>,
    pub requests: u64,
    pub errors: u64,
    /// Production projects on a paid plan: what the window's requests cost above the
    /// included quota (a decimal string); absent otherwise.
    pub spend: Option<String>,
    pub currency: Option<String>,
}

/// One call outcome reported by a gateway.
#[derive(Object, Debug, Clone, Deserialize)]
pub struct ReportedCallDto {
    /// The `credential_id` of the verification answer.
    pub credential_id: Text,
    /// `METHOD /path` (at most 200 characters).
    pub endpoint: Text,
    /// The upstream HTTP status: 400 and above count as errors.
    #[oai(validator(minimum(value = "0"), maximum(value = "65535")))]
    pub status: u16,
    /// How long the call took (accepted, not aggregated yet).
    #[oai(validator(minimum(value = "0"), maximum(value = "1000000000000000")))]
    #[serde(default, deserialize_with = "latency_within_bound")]
    pub latency_ms: Option<u64>,
    /// When the call happened (default: now). At most 24 hours back, 5 minutes ahead.
    #[serde(default)]
    pub at: Option<DateTime<Utc>>,
}

/// The documented maximum of `latency_ms` (the `maximum` validator above says the same).
const MAX_LATENCY_MS: u64 = 1_000_000_000_000_000;

/// `latency_ms` read by serde under the bound the OpenAPI validator enforces.
fn latency_within_bound<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    match Option::<u64>::deserialize(d)? {
        Some(n) if n > MAX_LATENCY_MS => Err(serde::de::Error::custom(format!(
            "latency_ms: {n} is above the maximum {MAX_LATENCY_MS}"
        ))),
        v => Ok(v),
    }
}

/// Counts a batch of reported call outcomes: the one meaning of `POST /api/v1/usage/events`,
/// shared by the documented operation and the gateway hot path. Events whose credential id is
/// not even an id are refused here; the core refuses the rest by reason, and the answer gives
/// each refusal its position in the batch.
pub(crate) async fn ingest_batch(
    state: &AppState,
    events: Vec<ReportedCallDto>,
) -> Result<UsageEventsAnswer, Problem> {
    let mut rejected = Vec::new();
    let mut calls = Vec::with_capacity(events.len());
    let mut index_of = Vec::with_capacity(events.len());
    for (i, e) in events.into_iter().enumerate() {
        match e.credential_id.parse::<CredentialId>() {
            Ok(credential_id) => {
                index_of.push(i);
                calls.push(ReportedCall {
                    credential_id,
                    endpoint: e.endpoint.into(),
                    status: e.status,
                    latency_ms: e.latency_ms,
                    at: e.at,
                });
            }
            Err(_) => rejected.push(RejectedEventDto {
                index: i as u64,
                reason: "unknown_credential".into(),
            }),
        }
    }
    let report = state.portal().metering().ingest_usage(calls).await?;
    rejected.extend(report.rejected.iter().map(|r| RejectedEventDto {
        index: index_of[r.index] as u64,
        reason: r.reason.to_owned(),
    }));
    rejected.sort_by_key(|r| r.index);
    Ok(UsageEventsAnswer {
        accepted: report.accepted as u64,
        rejected,
    })
}

// Also `Deserialize` (as is `ReportedCallDto`): the gateway hot path (`crate::gateway_first`)
// reads the same body with `serde_json` directly; both readings accept and refuse the same
// documents (its tests send each case to both).
/// A batch of call outcomes (at most 1000).
#[derive(Object, Debug, Clone, Deserialize)]
pub struct UsageEventsRequest {
    pub events: Vec<ReportedCallDto>,
}

#[derive(Object, Debug, Clone, Serialize)]
pub struct RejectedEventDto {
    /// Position in the batch, from 0.
    pub index: u64,
    /// `unknown_credential`, `invalid_endpoint`, `invalid_status` or `out_of_window`.
    pub reason: String,
}

/// What the batch counted: accepted events are flushed with the next usage flush.
#[derive(Object, Debug, Clone, Serialize)]
pub struct UsageEventsAnswer {
    pub accepted: u64,
    pub rejected: Vec<RejectedEventDto>,
}

/// An alert raised by a threshold crossing (once per window).
#[derive(Object, Debug, Clone)]
pub struct AlertNoticeDto {
    /// The audit event that records it.
    pub id: String,
    pub at: DateTime<Utc>,
    pub threshold_id: String,
    /// `requests_per_day`, `error_rate_percent` or `spend_per_month`.
    pub metric: String,
    pub limit: String,
    pub observed: String,
    /// `2026-11-22` (daily metrics) or `2026-11` (spend).
    pub window: String,
}

#[derive(Object, Debug, Clone, Serialize, Deserialize)]
pub struct InvoiceLineDto {
    pub project_id: String,
    pub description: String,
    pub requests: u64,
    pub billable_requests: u64,
    pub currency: String,
    pub monthly_fee: String,
    pub usage_amount: String,
    pub amount: String,
}

#[derive(Object, Debug, Clone)]
pub struct MoneyDto {
    pub currency: String,
    /// A decimal string with two decimals.
    pub amount: String,
}

/// A workspace's invoice for a period: lines per production project and plan.
#[derive(Object, Debug, Clone)]
pub struct InvoiceDto {
    pub workspace_id: String,
    /// `YYYY-MM`.
    pub period: String,
    pub lines: Vec<InvoiceLineDto>,
    /// One total per currency.
    pub totals: Vec<MoneyDto>,
}

/// An export in the report history.
#[derive(Object, Debug, Clone)]
pub struct ReportDto {
    /// The `export.created` audit event.
    pub id: String,
    pub at: DateTime<Utc>,
    pub actor: ActorDto,
    /// `usage` or `audit_log`.
    pub kind: String,
    /// `csv` or `jsonl`.
    pub format: String,
    pub period: String,
    pub rows: u64,
    pub project_id: Option<String>,
}

#[derive(ApiResponse)]
pub enum Accepted202<
    T: poem_openapi::types::ToJSON + poem_openapi::types::ParseFromJSON + Send + Sync,
> {
    #[oai(status = 202)]
    Accepted(Json<T>),
}

/// A streamed export file: CSV (with a header row) or JSON lines.
pub struct ExportDownload {
    body: poem::Body,
    format: ExportFormat,
    file_name: String,
}

impl IntoResponse for ExportDownload {
    fn into_response(self) -> poem::Response {
        poem::Response::builder()
            .content_type(crate::export::content_type(self.format))
            .header(
                "Content-Disposition",
                format!("attachment; filename=\"{}\"", self.file_name),
            )
            .header("Cache-Control", "no-store")
            .body(self.body)
    }
}

impl ApiResponse for ExportDownload {
    fn meta() -> MetaResponses {
        let file =
            || MetaSchemaRef::Inline(Box::new(MetaSchema::new_with_format("string", "binary")));
        MetaResponses {
            responses: vec![MetaResponse {
                description: "The export file, streamed: CSV with a header row, or one JSON object per line.",
                status: Some(200),
                status_range: None,
                content: vec![
                    MetaMediaType {
                        content_type: "text/csv; charset=utf-8",
                        schema: file(),
                    },
                    MetaMediaType {
                        content_type: "application/x-ndjson",
                        schema: file(),
                    },
                ],
                headers: vec![MetaHeader {
                    name: "Content-Disposition".into(),
                    description: Some("`attachment; filename=\"...\"`".into()),
                    required: true,
                    deprecated: false,
                    schema: String::schema_ref(),
                }],
            }],
        }
    }

    fn register(_registry: &mut Registry) {}
}

use poem_openapi::types::Type as _;

fn report_dto(r: &onboarding_core::services::ReportRecord) -> ReportDto {
    ReportDto {
        id: r.id.to_string(),
        at: r.at,
        actor: via(&r.actor),
        kind: r.kind.as_str().to_owned(),
        format: r.format.clone(),
        period: r.period.clone(),
        rows: r.rows,
        project_id: r.project_id.map(|p| p.to_string()),
    }
}

/// The `format` of an export.
#[derive(poem_openapi::Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[oai(rename_all = "lowercase")]
pub enum ExportFormatParam {
    Csv,
    Jsonl,
}

/// The bucket size of a usage view.
#[derive(poem_openapi::Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[oai(rename_all = "lowercase")]
pub enum GranularityParam {
    Minute,
    Hour,
    Day,
}

fn export_format(format: Option<ExportFormatParam>) -> ExportFormat {
    match format.unwrap_or(ExportFormatParam::Csv) {
        ExportFormatParam::Csv => ExportFormat::Csv,
        ExportFormatParam::Jsonl => ExportFormat::Jsonl,
    }
}

fn granularity(g: Option<GranularityParam>) -> Granularity {
    match g.unwrap_or(GranularityParam::Hour) {
        GranularityParam::Minute => Granularity::Minute,
        GranularityParam::Hour => Granularity::Hour,
        GranularityParam::Day => Granularity::Day,
    }
}

#[OpenApi(prefix_path = "/api/v1", tag = "Tag::Usage")]
impl MeteringApi {
    /// A project's usage view: requests, errors and spend in `[from, to)`, in buckets of
    /// `granularity` (`minute`, `hour` by default, or `day`). The window defaults to the last
    /// 24 hours and spans at most 400 days. Developers, technical leads and billing members.
    #[oai(
        path = "/projects/:id/usage",
        method = "get",
        operation_id = "get_project_usage"
    )]
    async fn usage(
        &self,
        auth: Auth,
        id: Path<String>,
        from: Query<Option<DateTime<Utc>>>,
        to: Query<Option<DateTime<Utc>>>,
        granularity: Query<Option<GranularityParam>>,
    ) -> ApiResult<Ok200<UsageViewDto>> {
        let project: ProjectId = path_id(&id, "project")?;
        let g = self::granularity(granularity.0);
        let now = self.state.portal().ports().clock.now();
        let to =
            to.0.unwrap_or_else(|| Granularity::Minute.floor(now) + chrono::TimeDelta::minutes(1));
        let from = from.0.unwrap_or(to - chrono::TimeDelta::hours(24));
        let v = self
            .state
            .portal()
            .metering()
            .project_usage(auth.caller(), project, from, to, g)
            .await?;
        ok(UsageViewDto {
            project_id: v.project_id.to_string(),
            environment: v.environment.as_str().to_owned(),
            from: v.from,
            to: v.to,
            granularity: crate::dto::tag(&v.granularity),
            buckets: v.buckets.iter().map(via).collect(),
            requests: v.requests,
            errors: v.errors,
            spend: v.spend,
            currency: v.currency,
        })
    }

    /// The project's recent alerts (the in-portal notice), newest first: each threshold
    /// crossing once per window. The same crossing is sent as an `alert.triggered` webhook.
    #[oai(
        path = "/projects/:id/alerts",
        method = "get",
        operation_id = "list_project_alerts"
    )]
    async fn alerts(
        &self,
        auth: Auth,
        id: Path<String>,
        #[oai(validator(minimum(value = "1"), maximum(value = "200")))] limit: Query<Option<u32>>,
    ) -> ApiResult<Ok200<Vec<AlertNoticeDto>>> {
        let project: ProjectId = path_id(&id, "project")?;
        let limit = limit.0.unwrap_or(50).clamp(1, 200) as usize;
        let events = self
            .state
            .portal()
            .metering()
            .recent_alerts(auth.caller(), project, limit)
            .await?;
        let s = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_owned();
        ok(events
            .iter()
            .map(|e| {
                let d = &e.draft.details;
                AlertNoticeDto {
                    id: e.draft.id.to_string(),
                    at: e.draft.at,
                    threshold_id: e.draft.target.clone(),
                    metric: s(&d["metric"]),
                    limit: s(&d["limit"]),
                    observed: s(&d["observed"]),
                    window: s(&d["window"]),
                }
            })
            .collect())
    }

    /// Report gateway call outcomes (gateway token). Each accepted event counts one request
    /// (an error when `status` ≥ 400) in the credential's minute bucket of `at`; events are
    /// counted in memory and flushed with the usage flush, never written one by one.
    #[oai(
        path = "/usage/events",
        method = "post",
        operation_id = "ingest_usage_events"
    )]
    async fn ingest(
        &self,
        _gateway: GatewayToken,
        body: Json<UsageEventsRequest>,
    ) -> ApiResult<Accepted202<UsageEventsAnswer>> {
        let answer = ingest_batch(&self.state, body.0.events).await?;
        Ok(Accepted202::Accepted(Json(answer)))
    }

    /// The workspace's invoice for a period (`YYYY-MM`): one line per production project on a
    /// paid plan (monthly fee plus requests above the included quota), totals per currency.
    /// Billing members, and staff who confirm payments.
    #[oai(
        path = "/workspaces/:id/invoices/:period",
        method = "get",
        operation_id = "get_invoice",
        tag = "Tag::Billing"
    )]
    async fn invoice(
        &self,
        auth: Auth,
        id: Path<String>,
        #[oai(validator(pattern = r"^(2[0-9]{3}|[3-9][0-9]{3})-(0[1-9]|1[0-2])$"))] period: Path<
            String,
        >,
    ) -> ApiResult<Ok200<InvoiceDto>> {
        let ws: WorkspaceId = path_id(&id, "workspace")?;
        let inv = self
            .state
            .portal()
            .billing()
            .invoice(auth.caller(), ws, &period)
            .await?;
        ok(InvoiceDto {
            workspace_id: inv.workspace_id.to_string(),
            period: inv.period.clone(),
            lines: inv.lines.iter().map(via).collect(),
            totals: inv
                .totals
                .iter()
                .map(|(c, a)| MoneyDto {
                    currency: c.as_str().to_owned(),
                    amount: a.clone(),
                })
                .collect(),
        })
    }

    /// The project's report history: every export of its usage, newest first (who, when,
    /// what, format, period, rows).
    #[oai(
        path = "/projects/:id/reports",
        method = "get",
        operation_id = "list_project_reports"
    )]
    async fn reports(
        &self,
        auth: Auth,
        id: Path<String>,
        #[oai(validator(minimum(value = "1"), maximum(value = "200")))] limit: Query<Option<u32>>,
    ) -> ApiResult<Ok200<Vec<ReportDto>>> {
        let project: ProjectId = path_id(&id, "project")?;
        let limit = limit.0.unwrap_or(50).clamp(1, 200) as usize;
        let records = self
            .state
            .portal()
            .exports()
            .report_history(auth.caller(), project, limit)
            .await?;
        ok(records.iter().map(report_dto).collect())
    }

    /// The workspace's report history: every export of its projects' usage and of its audit
    /// log, newest first.
    #[oai(
        path = "/workspaces/:id/reports",
        method = "get",
        operation_id = "list_workspace_reports"
    )]
    async fn workspace_reports(
        &self,
        auth: Auth,
        id: Path<String>,
        #[oai(validator(minimum(value = "1"), maximum(value = "200")))] limit: Query<Option<u32>>,
    ) -> ApiResult<Ok200<Vec<ReportDto>>> {
        let ws: WorkspaceId = path_id(&id, "workspace")?;
        let limit = limit.0.unwrap_or(50).clamp(1, 200) as usize;
        let records = self
            .state
            .portal()
            .exports()
            .workspace_report_history(auth.caller(), ws, limit)
            .await?;
        ok(records.iter().map(report_dto).collect())
    }

    /// Export a project's usage for a period (`YYYY-MM`) as `csv` (default) or `jsonl`,
    /// streamed: one row per credential, endpoint and minute. Billing and compliance members.
    /// The export is recorded in the project's report history.
    #[oai(
        path = "/projects/:id/exports/usage",
        method = "get",
        operation_id = "export_project_usage"
    )]
    async fn export_usage(
        &self,
        auth: Auth,
        id: Path<String>,
        #[oai(validator(pattern = r"^(2[0-9]{3}|[3-9][0-9]{3})-(0[1-9]|1[0-2])$"))] period: Query<
            String,
        >,
        format: Query<Option<ExportFormatParam>>,
    ) -> ApiResult<ExportDownload> {
        let project: ProjectId = path_id(&id, "project")?;
        let format = export_format(format.0);
        self.download(auth, ExportScope::ProjectUsage(project), &period, format)
            .await
    }

    /// Export a workspace's audit log for a period (`YYYY-MM`) as `csv` (default) or
    /// `jsonl`, streamed in chain order. Security owners and compliance members.
    #[oai(
        path = "/workspaces/:id/exports/audit",
        method = "get",
        operation_id = "export_audit_events",
        tag = "Tag::Audit"
    )]
    async fn export_audit(
        &self,
        auth: Auth,
        id: Path<String>,
        #[oai(validator(pattern = r"^(2[0-9]{3}|[3-9][0-9]{3})-(0[1-9]|1[0-2])$"))] period: Query<
            String,
        >,
        format: Query<Option<ExportFormatParam>>,
    ) -> ApiResult<ExportDownload> {
        let ws: WorkspaceId = path_id(&id, "workspace")?;
        let format = export_format(format.0);
        self.download(auth, ExportScope::WorkspaceAudit(ws), &period, format)
            .await
    }
}

impl MeteringApi {
    async fn download(
        &self,
        auth: Auth,
        scope: ExportScope,
        period: &str,
        format: ExportFormat,
    ) -> ApiResult<ExportDownload> {
        let portal = self.state.portal().clone();
        let grant = portal
            .exports()
            .authorize_export(auth.caller(), scope, period)
            .await?;
        let file_name = crate::export::file_name(&grant, format);
        Ok(ExportDownload {
            body: crate::export::export_body(portal, grant, format),
            format,
            file_name,
        })
    }
}
