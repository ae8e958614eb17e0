//! Projects, clone to production, alert thresholds and the operating pass.

pub mod dto;

use onboarding_core::ids::*;
use onboarding_core::usage::AlertMetric;
use poem_openapi::OpenApi;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;

use super::*;
use crate::auth::Auth;
use crate::dto::*;
use crate::state::AppState;
use crate::text::strings;

/// A metric path segment (`requests_per_day`, `error_rate_percent`, `spend_per_month`).
fn alert_metric(segment: &str) -> ApiResult<AlertMetric> {
    serde_json::from_value(serde_json::json!(segment))
        .map_err(|_| Problem::not_found("alert metric"))
}

pub struct ProjectsApi {
    pub state: AppState,
}

/// A production project just cloned, and its webhook endpoints with their new signing
/// secrets (shown this once: configure the production receivers with them now).
#[derive(poem_openapi::Object, Debug, Clone)]
pub struct ClonedProjectDto {
    #[oai(flatten)]
    pub project: ProjectDto,
    pub webhook_endpoints: Vec<super::webhooks::EndpointWithSecretDto>,
}

pub fn decimal(field: &str, s: &str) -> ApiResult<rust_decimal::Decimal> {
    s.trim().parse().map_err(|_| {
        Problem::field(
            field,
            "expected a decimal number as a string, e.g. \"12.50\"",
        )
    })
}

#[OpenApi(prefix_path = "/api/v1", tag = "Tag::Projects")]
impl ProjectsApi {
    /// Create a sandbox project with a clear purpose and the endpoints and events it uses.
    #[oai(
        path = "/workspaces/:id/projects",
        method = "post",
        operation_id = "create_project"
    )]
    async fn create(
        &self,
        auth: Auth,
        id: Path<String>,
        body: Json<CreateProjectRequest>,
    ) -> ApiResult<Created<ProjectDto>> {
        let ws: WorkspaceId = path_id(&id, "workspace")?;
        let p = self
            .state
            .portal()
            .projects()
            .create_project(
                auth.caller(),
                ws,
                &body.name,
                &body.purpose,
                &strings(&body.endpoints),
                &strings(&body.events),
            )
            .await?;
        created((&p).into(), format!("/api/v1/projects/{}", p.id))
    }

    /// The workspace's projects.
    #[oai(
        path = "/workspaces/:id/projects",
        method = "get",
        operation_id = "list_projects"
    )]
    async fn list(
        &self,
        auth: Auth,
        id: Path<String>,
        cursor: Query<Option<String>>,
        #[oai(validator(minimum(value = "1"), maximum(value = "200")))] limit: Query<Option<u32>>,
    ) -> ApiResult<Ok200<ProjectPage>> {
        let ws: WorkspaceId = path_id(&id, "workspace")?;
        let all = self
            .state
            .portal()
            .projects()
            .projects(auth.caller(), ws)
            .await?;
        let (items, next_cursor) = page(all, |p| p.id.to_string(), cursor.0, limit.0);
        ok(ProjectPage {
            items: items.iter().map(Into::into).collect(),
            next_cursor,
        })
    }

    /// The project page.
    #[oai(path = "/projects/:id", method = "get", operation_id = "get_project")]
    async fn get(&self, auth: Auth, id: Path<String>) -> ApiResult<Tagged<ProjectOverviewDto>> {
        let id: ProjectId = path_id(&id, "project")?;
        let o = self
            .state
            .portal()
            .projects()
            .project_overview(auth.caller(), id)
            .await?;
        tagged((&o).into(), o.project.version)
    }

    /// The project's credentials (prefix and last four characters only).
    #[oai(
        path = "/projects/:id/credentials",
        method = "get",
        operation_id = "list_project_credentials"
    )]
    async fn credentials(
        &self,
        auth: Auth,
        id: Path<String>,
        cursor: Query<Option<String>>,
        #[oai(validator(minimum(value = "1"), maximum(value = "200")))] limit: Query<Option<u32>>,
    ) -> ApiResult<Ok200<CredentialPage>> {
        let id: ProjectId = path_id(&id, "project")?;
        let all = self
            .state
            .portal()
            .credentials()
            .credentials_of_project(auth.caller(), id)
            .await?;
        let (items, next_cursor) = page(all, |c| c.id.to_string(), cursor.0, limit.0);
        ok(CredentialPage {
            items: items.iter().map(Into::into).collect(),
            next_cursor,
        })
    }

    /// Clone an approved subscription's sandbox project into a new production project. Its
    /// webhook endpoints are copied with signing secrets of their own, shown this once in
    /// `webhook_endpoints`; an endpoint production would refuse (plain HTTP, an address
    /// deliveries may not reach) refuses the clone with 422 naming it.
    #[oai(
        path = "/subscriptions/:id/clone-to-production",
        method = "post",
        operation_id = "clone_to_production"
    )]
    async fn clone_to_production(
        &self,
        auth: Auth,
        id: Path<String>,
    ) -> ApiResult<CreatedSecret<ClonedProjectDto>> {
        let id: SubscriptionId = path_id(&id, "subscription")?;
        let c = self
            .state
            .portal()
            .projects()
            .clone_to_production(auth.caller(), id)
            .await?;
        let location = format!("/api/v1/projects/{}", c.project.id);
        // The copied endpoints' signing secrets are shown this once.
        created_secret(
            ClonedProjectDto {
                project: (&c.project).into(),
                webhook_endpoints: c.webhook_endpoints.iter().map(Into::into).collect(),
            },
            location,
        )
    }

    /// Set an alert threshold: `requests_per_day`, `error_rate_percent` or `spend_per_month`
    /// (setting it again replaces the limit).
    #[oai(
        path = "/projects/:id/alert-thresholds/:metric",
        method = "put",
        operation_id = "set_alert_threshold"
    )]
    async fn set_threshold(
        &self,
        auth: Auth,
        id: Path<String>,
        metric: Path<String>,
        body: Json<SetThresholdRequest>,
    ) -> ApiResult<Ok200<AlertThresholdDto>> {
        let id: ProjectId = path_id(&id, "project")?;
        let metric = alert_metric(&metric)?;
        let limit = decimal("limit", &body.limit)?;
        let t = self
            .state
            .portal()
            .projects()
            .set_alert_threshold(auth.caller(), id, metric, limit)
            .await?;
        ok((&t).into())
    }

    /// Delete the project's alert threshold on this metric.
    #[oai(
        path = "/projects/:id/alert-thresholds/:metric",
        method = "delete",
        operation_id = "delete_alert_threshold"
    )]
    async fn delete_threshold(
        &self,
        auth: Auth,
        id: Path<String>,
        metric: Path<String>,
    ) -> ApiResult<NoContent> {
        let id: ProjectId = path_id(&id, "project")?;
        let metric = alert_metric(&metric)?;
        self.state
            .portal()
            .projects()
            .delete_alert_threshold_of_metric(auth.caller(), id, metric)
            .await?;
        Ok(NoContent::NoContent)
    }

    /// Tick "review the first live audit entries" on a production project's operating pass.
    #[oai(
        path = "/projects/:id/live-audit-reviewed",
        method = "post",
        operation_id = "mark_live_audit_reviewed"
    )]
    async fn live_audit_reviewed(
        &self,
        auth: Auth,
        id: Path<String>,
    ) -> ApiResult<Ok200<ProjectDto>> {
        let id: ProjectId = path_id(&id, "project")?;
        let p = self
            .state
            .portal()
            .projects()
            .confirm_live_audit_reviewed(auth.caller(), id)
            .await?;
        ok((&p).into())
    }
}
