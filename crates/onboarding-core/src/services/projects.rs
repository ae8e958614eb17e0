//! Projects: create, view (with environment posture and the production hand-off), clone to
//! production, alert thresholds and the operating pass.

use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::json;

use super::*;
use crate::credential::Credential;
use crate::gates::{OperatingCheck, OperatingFacts, operating_checklist};
use crate::pipeline::{PhaseKind, Subscription};
use crate::project::{Drift, Environment, Project, drift};
use crate::roles::Role;
use crate::usage::{AlertMetric, AlertThreshold};
use crate::values::Label;
use crate::webhook::{EventType, WebhookEndpoint};

/// The project page.
#[derive(Debug, Clone, Serialize)]
pub struct ProjectOverview {
    /// The project.
    pub project: Project,
    /// Subscriptions of the project (for a production project: those it was cloned for).
    pub subscriptions: Vec<Subscription>,
    /// The project's credentials.
    pub credentials: Vec<Credential>,
    /// The project's webhook endpoints.
    pub webhook_endpoints: Vec<WebhookEndpoint>,
    /// The project's alert thresholds.
    pub alert_thresholds: Vec<AlertThreshold>,
    /// Production projects: the first live operating pass.
    pub operating_checklist: Option<Vec<OperatingCheck>>,
    /// Production projects: differences from the sandbox project they were cloned from.
    pub drift: Vec<Drift>,
    /// The one next step for the project.
    pub next_step: crate::next_step::NextStep,
}

/// A production project just cloned and its webhook endpoints, each with the new signing
/// secret it was given: shown this once (the production receivers need them to verify).
#[derive(Clone)]
pub struct ClonedProject {
    /// The production project.
    pub project: Project,
    /// The copied endpoints (pending verification) and their secrets.
    pub webhook_endpoints: Vec<super::CreatedEndpoint>,
}

fn clean_list(field: &str, items: &[String]) -> Result<Vec<String>, FieldError> {
    if items.len() > 200 {
        return Err(FieldError::new(field, "at most 200 entries"));
    }
    let mut out: Vec<String> = Vec::new();
    for i in items {
        let t = i.trim();
        if t.is_empty() || t.chars().count() > 200 {
            return Err(FieldError::new(field, "entries are 1-200 characters"));
        }
        if !out.iter().any(|o| o == t) {
            out.push(t.to_owned());
        }
    }
    Ok(out)
}

impl Projects {
    /// Creates a sandbox project with a clear purpose and the endpoints and events it uses.
    pub async fn create_project(
        &self,
        caller: Caller,
        ws: WorkspaceId,
        name: &str,
        purpose: &str,
        endpoints: &[String],
        events: &[String],
    ) -> ServiceResult<Project> {
        let (account, _) = self.cx.require(caller, ws, Action::CreateProject).await?;
        let now = self.cx.now();
        let project = Project {
            id: ProjectId::from_ulid(self.cx.ulid()),
            workspace_id: ws,
            name: Label::for_field("name", name)?,
            purpose: Label::for_field("purpose", purpose)?,
            environment: Environment::Sandbox,
            endpoints: clean_list("endpoints", endpoints)?,
            events: clean_list("events", events)?,
            cloned_from: None,
            subscription_id: None,
            live_audit_reviewed_at: None,
            created_at: now,
            created_by: account,
            version: 0,
        };
        self.cx
            .change_in(caller.actor(), now, ws, Some(project.id))
            .with(Change::InsertProject(project.clone()))
            .audit(
                "project.created",
                project.id,
                json!({ "name": project.name, "purpose": project.purpose }),
            )
            .commit()
            .await?;
        Ok(project)
    }

    /// Every project of the workspace (members only).
    pub async fn projects(&self, caller: Caller, ws: WorkspaceId) -> ServiceResult<Vec<Project>> {
        self.cx.require_read(caller, ws).await?;
        Ok(self.cx.p.projects.projects(ws).await?)
    }

    /// The operating checklist of a production project; `None` for sandbox projects.
    pub async fn operating_pass(
        &self,
        project: &Project,
    ) -> ServiceResult<Option<Vec<OperatingCheck>>> {
        if project.environment != Environment::Production {
            return Ok(None);
        }
        Ok(Some(operating_checklist(
            &self.cx.operating_facts(project).await?,
        )))
    }

    /// The project page: credentials, endpoints, thresholds, operating pass, drift and next step.
    pub async fn project_overview(
        &self,
        caller: Caller,
        id: ProjectId,
    ) -> ServiceResult<ProjectOverview> {
        let project = self.cx.load_project(id).await?;
        self.cx
            .require_read_on("project", caller, project.workspace_id)
            .await?;
        let all_subs = self
            .cx
            .p
            .subscriptions
            .subscriptions(project.workspace_id)
            .await?;
        let subscriptions: Vec<Subscription> = all_subs
            .into_iter()
            .filter(|s| s.project_id == id || s.production_project_id == Some(id))
            .collect();
        let drift = match project.cloned_from {
            Some(src) => match self.cx.p.projects.project(src).await? {
                Some(sbx) => drift(&sbx, &project),
                None => vec![],
            },
            None => vec![],
        };
        let next_step = self
            .cx
            .project_next_step(&project, subscriptions.first())
            .await?;
        Ok(ProjectOverview {
            credentials: self.cx.p.credentials.credentials_of_project(id).await?,
            webhook_endpoints: self.cx.p.webhooks.endpoints(id).await?,
            alert_thresholds: self.cx.p.alerts.thresholds(id).await?,
            operating_checklist: self.operating_pass(&project).await?,
            drift,
            subscriptions,
            next_step,
            project,
        })
    }

    /// Clones an approved subscription's sandbox project into a new production project: shape,
    /// webhook targets (unverified) and alert thresholds; never a credential.
    pub async fn clone_to_production(
        &self,
        caller: Caller,
        sub: SubscriptionId,
    ) -> ServiceResult<ClonedProject> {
        let s = self.cx.load_subscription(sub).await?;
        let (account, _) = self
            .cx
            .require_on(
                "subscription",
                caller,
                s.workspace_id,
                Action::CloneToProduction,
            )
            .await?;
        clonable(&s)?;
        let sandbox = self.cx.load_project(s.project_id).await?;
        let endpoints = self.cx.p.webhooks.endpoints(sandbox.id).await?;
        // Production takes only what registering there would (decision 0025): HTTPS, and an
        // address deliveries may reach. Each endpoint that fails is named; nothing is written.
        let refused: Vec<FieldError> = endpoints
            .iter()
            .filter_map(|ep| {
                crate::webhook::validate_endpoint_url(&ep.url, Environment::Production)
                    .and_then(|u| crate::webhook::check_destination(&u, &*self.cx.p.destinations))
                    .err()
                    .map(|e| {
                        FieldError::new(
                            format!("webhook_endpoints[{}].url", ep.id),
                            format!(
                                "{} cannot be copied to production: {}; change its URL or delete it, then clone again",
                                ep.url, e.reason
                            ),
                        )
                    })
            })
            .collect();
        if !refused.is_empty() {
            return Err(ServiceError::InvalidFields(refused));
        }
        let now = self.cx.now();
        let production =
            sandbox.clone_to_production(ProjectId::from_ulid(self.cx.ulid()), s.id, account, now);
        let mut draft = self
            .cx
            .change_in(caller.actor(), now, s.workspace_id, Some(production.id))
            .with(Change::InsertProject(production.clone()));
        let mut copies = Vec::new();
        for ep in &endpoints {
            // Never copy a secret: the production endpoint gets its own signing secret, shown
            // once in the answer.
            let (plaintext, secret) = self.cx.new_signing_secret(now);
            let copy = ep.clone_for(
                WebhookEndpointId::from_ulid(self.cx.ulid()),
                production.id,
                secret,
                now,
            );
            draft = draft.with(Change::InsertWebhookEndpoint(copy.clone()));
            copies.push(super::CreatedEndpoint {
                endpoint: copy,
                secret: plaintext,
            });
        }
        for th in self.cx.p.alerts.thresholds(sandbox.id).await? {
            draft = draft.with(Change::PutAlertThreshold(AlertThreshold {
                id: AlertThresholdId::from_ulid(self.cx.ulid()),
                project_id: production.id,
                last_fired_window: None,
                created_at: now,
                ..th
            }));
        }
        let mut next = s.clone();
        next.production_project_id = Some(production.id);
        let set = draft
            .update(&mut next)
            .audit(
                "project.cloned_to_production",
                production.id,
                json!({ "source": sandbox.id, "subscription": s.id }),
            )
            .event(
                EventType::ProjectCloned,
                json!({ "project_id": production.id, "source_project_id": sandbox.id }),
            )
            .into_set()?;
        self.cx
            .commit_checked(set, || async {
                clonable(&self.cx.load_subscription(sub).await?)
            })
            .await?;
        Ok(ClonedProject {
            project: production,
            webhook_endpoints: copies,
        })
    }

    /// Sets an alert threshold (one per metric per project; setting it again replaces the limit).
    pub async fn set_alert_threshold(
        &self,
        caller: Caller,
        project: ProjectId,
        metric: AlertMetric,
        limit: Decimal,
    ) -> ServiceResult<AlertThreshold> {
        let p = self.cx.load_project(project).await?;
        let action = if metric == AlertMetric::SpendPerMonth {
            Action::SetSpendAlerts
        } else {
            Action::SetOperationalAlerts
        };
        self.cx
            .require_on("project", caller, p.workspace_id, action)
            .await?;
        AlertThreshold::validate_limit(metric, limit)?;
        let now = self.cx.now();
        let existing = self
            .cx
            .p
            .alerts
            .thresholds(project)
            .await?
            .into_iter()
            .find(|t| t.metric == metric);
        let th = AlertThreshold {
            id: existing
                .as_ref()
                .map_or_else(|| AlertThresholdId::from_ulid(self.cx.ulid()), |e| e.id),
            project_id: project,
            metric,
            limit,
            last_fired_window: existing.and_then(|e| e.last_fired_window),
            created_at: now,
        };
        self.cx
            .change_in(caller.actor(), now, p.workspace_id, Some(project))
            .with(Change::PutAlertThreshold(th.clone()))
            .audit(
                "alert_threshold.set",
                th.id,
                json!({ "metric": metric, "limit": limit.to_string() }),
            )
            .commit()
            .await?;
        Ok(th)
    }

    /// Deletes an alert threshold of the project (audited).
    pub async fn delete_alert_threshold(
        &self,
        caller: Caller,
        project: ProjectId,
        id: AlertThresholdId,
    ) -> ServiceResult<()> {
        self.cx
            .delete_threshold_where(caller, project, |t| t.id == id)
            .await
    }

    /// Deletes the project's threshold on this metric (a project has at most one per
    /// metric, as [`set_alert_threshold`](Self::set_alert_threshold) keeps it).
    pub async fn delete_alert_threshold_of_metric(
        &self,
        caller: Caller,
        project: ProjectId,
        metric: AlertMetric,
    ) -> ServiceResult<()> {
        self.cx
            .delete_threshold_where(caller, project, |t| t.metric == metric)
            .await
    }

    /// Ticks "review the first live audit entries" on a production project's operating pass.
    pub async fn confirm_live_audit_reviewed(
        &self,
        caller: Caller,
        project: ProjectId,
    ) -> ServiceResult<Project> {
        let p = self.cx.load_project(project).await?;
        self.cx
            .require_on("project", caller, p.workspace_id, Action::ReviewLiveAudit)
            .await?;
        if p.environment != Environment::Production {
            return Err(ServiceError::Conflict {
                message: "the operating pass belongs to production projects".into(),
                current: Some("sandbox".into()),
            });
        }
        let now = self.cx.now();
        let mut next = p.clone();
        next.live_audit_reviewed_at = Some(now);
        self.cx
            .change_in(caller.actor(), now, p.workspace_id, Some(project))
            .update(&mut next)
            .audit("project.live_audit_reviewed", project, json!({}))
            .commit()
            .await?;
        Ok(next)
    }
}

impl Context {
    pub(super) async fn load_project(&self, id: ProjectId) -> ServiceResult<Project> {
        self.p
            .projects
            .project(id)
            .await?
            .ok_or(ServiceError::NotFound { entity: "project" })
    }

    pub(super) async fn operating_facts(&self, project: &Project) -> ServiceResult<OperatingFacts> {
        let endpoints = self.p.webhooks.endpoints(project.id).await?;
        let last = self.p.webhooks.last_test_delivery(project.id).await?;
        let members = self.p.workspaces.members(project.workspace_id).await?;
        Ok(OperatingFacts {
            alert_thresholds: self.p.alerts.thresholds(project.id).await?.len(),
            webhook_healthy: endpoints.iter().any(WebhookEndpoint::is_verified)
                && last.is_some_and(|(_, ok)| ok),
            live_audit_reviewed: project.live_audit_reviewed_at.is_some(),
            billing_members: members
                .iter()
                .filter(|m| m.roles.contains(Role::Billing))
                .count(),
        })
    }

    pub(super) async fn delete_threshold_where(
        &self,
        caller: Caller,
        project: ProjectId,
        which: impl Fn(&AlertThreshold) -> bool,
    ) -> ServiceResult<()> {
        let p = self.load_project(project).await?;
        // Membership before the threshold is looked up: another tenant learns nothing of it.
        let (_, m) = self
            .membership(caller, p.workspace_id)
            .await
            .map_err(not_found_as("project"))?;
        let th = self
            .p
            .alerts
            .thresholds(project)
            .await?
            .into_iter()
            .find(|t| which(t))
            .ok_or(ServiceError::NotFound {
                entity: "alert threshold",
            })?;
        let action = if th.metric == AlertMetric::SpendPerMonth {
            Action::SetSpendAlerts
        } else {
            Action::SetOperationalAlerts
        };
        if !allowed(m.roles, action) {
            return Err(ServiceError::Forbidden {
                action: crate::roles::Attempt::Member(action),
            });
        }
        let now = self.now();
        self.change_in(caller.actor(), now, p.workspace_id, Some(project))
            .with(Change::DeleteAlertThreshold(th.id))
            .audit(
                "alert_threshold.deleted",
                th.id,
                json!({ "metric": th.metric }),
            )
            .commit()
            .await
    }
}

/// Approved, and not cloned yet: one production project per subscription.
fn clonable(s: &Subscription) -> ServiceResult<()> {
    if s.phase.kind() != PhaseKind::Production {
        return Err(ServiceError::Conflict {
            message: "only an approved subscription can be cloned into production".into(),
            current: Some(s.phase.kind().as_str().into()),
        });
    }
    if let Some(existing) = s.production_project_id {
        return Err(ServiceError::Conflict {
            message: format!("already cloned into {existing}"),
            current: Some("cloned".into()),
        });
    }
    Ok(())
}
