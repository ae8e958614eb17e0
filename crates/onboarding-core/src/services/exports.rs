//! Exports of usage and of the audit log (spec §9), the project's report history, and the
//! project's recent alerts (the in-portal notice).
//!
//! An export is authorized once ([`Portal::authorize_export`] hands back an [`ExportGrant`]),
//! then read page by page ([`Portal::export_usage_page`], [`Portal::export_audit_page`]) so
//! that an adapter can stream it without holding the period in memory, and finally recorded
//! ([`Portal::record_export`]): one `export.created` audit event per export, which is what the
//! report history lists. The event goes through [`UnitOfWork::commit`] with no change.

use serde::Serialize;
use serde_json::json;

use super::*;
use crate::audit::AuditEvent;
use crate::usage::UsageBucket;

/// What an export holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExportKind {
    /// A project's minute usage buckets.
    Usage,
    /// A workspace's audit events.
    AuditLog,
}

impl ExportKind {
    /// The snake_case name, as recorded in the report history (`usage`, `audit_log`).
    pub fn as_str(self) -> &'static str {
        match self {
            ExportKind::Usage => "usage",
            ExportKind::AuditLog => "audit_log",
        }
    }
}

/// The file format of an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExportFormat {
    /// Comma-separated values with a header row.
    Csv,
    /// JSON lines: one JSON object per line.
    Jsonl,
}

impl ExportFormat {
    /// The format named `csv` or `jsonl`; `None` otherwise.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "csv" => Some(ExportFormat::Csv),
            "jsonl" => Some(ExportFormat::Jsonl),
            _ => None,
        }
    }
    /// The format's name and file extension (`csv`, `jsonl`).
    pub fn as_str(self) -> &'static str {
        match self {
            ExportFormat::Csv => "csv",
            ExportFormat::Jsonl => "jsonl",
        }
    }
}

/// What an export is about: a project's usage, or a workspace's audit log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportScope {
    /// The usage of one project.
    ProjectUsage(ProjectId),
    /// The audit log of one workspace.
    WorkspaceAudit(WorkspaceId),
}

/// An authorized export: only [`Portal::authorize_export`] makes one, so holding it proves
/// the caller may read what the pages return.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportGrant {
    caller: Caller,
    kind: ExportKind,
    workspace_id: WorkspaceId,
    project_id: Option<ProjectId>,
    period: String,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
}

impl ExportGrant {
    /// Usage or audit log.
    pub fn kind(&self) -> ExportKind {
        self.kind
    }
    /// The workspace whose data is exported.
    pub fn workspace_id(&self) -> WorkspaceId {
        self.workspace_id
    }
    /// The project, for a usage export.
    pub fn project_id(&self) -> Option<ProjectId> {
        self.project_id
    }
    /// The exported period (`2026-11` or `2026-11-22`).
    pub fn period(&self) -> &str {
        &self.period
    }
    /// The period's first instant, and the next period's.
    pub fn bounds(&self) -> (DateTime<Utc>, DateTime<Utc>) {
        (self.from, self.to)
    }
    /// The first usage page's cursor: the start of the period.
    pub fn first_usage_cursor(&self) -> DateTime<Utc> {
        self.from
    }
    /// How many usage pages the period has (one per UTC day), for progress bars.
    pub fn usage_pages(&self) -> u64 {
        (self.to - self.from).num_days().max(0) as u64
    }
}

/// One entry of a project's report history: an `export.created` audit event.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReportRecord {
    /// The `export.created` audit event's ULID.
    pub id: AuditEventId,
    /// When the export was made.
    pub at: DateTime<Utc>,
    /// Who made it.
    pub actor: Actor,
    /// Usage or audit log.
    pub kind: ExportKind,
    /// `csv` or `jsonl`.
    pub format: String,
    /// The exported period.
    pub period: String,
    /// How many rows the export held.
    pub rows: u64,
    /// The project, for a usage export.
    pub project_id: Option<ProjectId>,
}

/// Audit events read per page when a history is assembled from the chain.
const HISTORY_PAGE: u64 = 500;

impl Exports {
    /// Authorizes an export of `scope` for a `YYYY-MM` period. Usage: members whose roles
    /// allow [`Action::ExportUsage`], or billing staff; audit log: [`Action::ExportAuditLog`],
    /// or staff who read the queue.
    pub async fn authorize_export(
        &self,
        caller: Caller,
        scope: ExportScope,
        period: &str,
    ) -> ServiceResult<ExportGrant> {
        let (from, to) = period_bounds(period)?;
        let (kind, workspace_id, project_id) = match scope {
            ExportScope::ProjectUsage(project) => {
                let p = self.cx.load_project(project).await?;
                (ExportKind::Usage, p.workspace_id, Some(project))
            }
            ExportScope::WorkspaceAudit(ws) => (ExportKind::AuditLog, ws, None),
        };
        let (action, staff_action) = match kind {
            ExportKind::Usage => (Action::ExportUsage, StaffAction::ConfirmPayment),
            ExportKind::AuditLog => (Action::ExportAuditLog, StaffAction::ReadQueue),
        };
        match caller {
            Caller::Staff { role, .. } if staff_allowed(role, staff_action) => {
                self.cx.load_workspace(workspace_id).await?;
            }
            _ => {
                let entity = if project_id.is_some() {
                    "project"
                } else {
                    "workspace"
                };
                self.cx
                    .require_on(entity, caller, workspace_id, action)
                    .await?;
            }
        }
        Ok(ExportGrant {
            caller,
            kind,
            workspace_id,
            project_id,
            period: period.to_owned(),
            from,
            to,
        })
    }

    /// One page of a usage export: the minute buckets of one UTC day starting at `cursor`,
    /// and the next page's cursor (`None` after the period's last day).
    pub async fn export_usage_page(
        &self,
        grant: &ExportGrant,
        cursor: DateTime<Utc>,
    ) -> ServiceResult<(Vec<UsageBucket>, Option<DateTime<Utc>>)> {
        let Some(project) = grant.project_id.filter(|_| grant.kind == ExportKind::Usage) else {
            return Err(ServiceError::Internal(
                "a usage page was asked of a grant that is not for usage".into(),
            ));
        };
        if cursor < grant.from || cursor >= grant.to {
            return Ok((Vec::new(), None));
        }
        let end = (cursor + chrono::TimeDelta::days(1)).min(grant.to);
        let rows = self.cx.p.usage.buckets(project, cursor, end).await?;
        Ok((rows, (end < grant.to).then_some(end)))
    }

    /// One page of an audit-log export: the workspace's events after `after_seq` whose time
    /// falls in the period, and the next cursor (`None` once the chain is read).
    pub async fn export_audit_page(
        &self,
        grant: &ExportGrant,
        after_seq: i64,
        limit: u64,
    ) -> ServiceResult<(Vec<AuditEvent>, Option<i64>)> {
        if grant.kind != ExportKind::AuditLog {
            return Err(ServiceError::Internal(
                "an audit page was asked of a grant that is not for the audit log".into(),
            ));
        }
        let limit = limit.clamp(1, 1000);
        let page = self
            .cx
            .p
            .audit
            .events(Some(grant.workspace_id), after_seq.max(0), limit)
            .await?;
        let next = (page.len() as u64 == limit)
            .then(|| page.last().map(|e| e.seq))
            .flatten();
        let rows = page
            .into_iter()
            .filter(|e| e.draft.at >= grant.from && e.draft.at < grant.to)
            .collect();
        Ok((rows, next))
    }

    /// Records a finished export in the report history: one `export.created` audit event
    /// (who, when, what, format, period, row count), committed with no state change.
    pub async fn record_export(
        &self,
        grant: &ExportGrant,
        format: ExportFormat,
        rows: u64,
    ) -> ServiceResult<ReportRecord> {
        let now = self.cx.now();
        let target = grant
            .project_id
            .map_or_else(|| grant.workspace_id.to_string(), |p| p.to_string());
        let set = self
            .cx
            .change_in(
                grant.caller.actor(),
                now,
                grant.workspace_id,
                grant.project_id,
            )
            .audit(
                "export.created",
                target,
                json!({
                    "kind": grant.kind,
                    "format": format.as_str(),
                    "period": grant.period,
                    "rows": rows,
                }),
            )
            .into_set()?;
        // The record is the audit event just drafted: same id and actor.
        let draft = &set.audit[0];
        let record = ReportRecord {
            id: draft.id,
            at: now,
            actor: draft.actor,
            kind: grant.kind,
            format: format.as_str().to_owned(),
            period: grant.period.clone(),
            rows,
            project_id: grant.project_id,
        };
        self.cx.commit(set).await?;
        Ok(record)
    }

    /// The project's report history: its exports, newest first. Members of the workspace,
    /// and staff who read the queue.
    pub async fn report_history(
        &self,
        caller: Caller,
        project: ProjectId,
        limit: usize,
    ) -> ServiceResult<Vec<ReportRecord>> {
        let p = self.cx.load_project(project).await?;
        self.cx
            .require_read_on("project", caller, p.workspace_id)
            .await?;
        self.cx
            .reports_of(p.workspace_id, Some(project), limit)
            .await
    }

    /// The workspace's report history: every export of its projects' usage and of its audit
    /// log, newest first.
    pub async fn workspace_report_history(
        &self,
        caller: Caller,
        ws: WorkspaceId,
        limit: usize,
    ) -> ServiceResult<Vec<ReportRecord>> {
        self.cx.require_read(caller, ws).await?;
        self.cx.reports_of(ws, None, limit).await
    }
}

impl Metering {
    /// The project's recent alerts (the in-portal notice): its `alert.triggered` audit
    /// events, newest first. Members who read usage, and staff who read the queue.
    pub async fn recent_alerts(
        &self,
        caller: Caller,
        project: ProjectId,
        limit: usize,
    ) -> ServiceResult<Vec<AuditEvent>> {
        let p = self.cx.load_project(project).await?;
        match caller {
            Caller::Staff { .. } => {
                self.cx
                    .require_read_on("project", caller, p.workspace_id)
                    .await?;
            }
            _ => {
                self.cx
                    .require_on("project", caller, p.workspace_id, Action::ReadUsage)
                    .await?;
            }
        }
        self.cx
            .chain_events(p.workspace_id, Some(project), "alert.triggered", limit)
            .await
    }
}

impl Context {
    /// Every event of a workspace's chain with this action (and project, when given), newest
    /// first, at most `limit`. Reads the chain page by page.
    pub(super) async fn chain_events(
        &self,
        ws: WorkspaceId,
        project: Option<ProjectId>,
        action: &str,
        limit: usize,
    ) -> ServiceResult<Vec<AuditEvent>> {
        let mut out = Vec::new();
        let mut after = 0;
        loop {
            let page = self.p.audit.events(Some(ws), after, HISTORY_PAGE).await?;
            let Some(last) = page.last() else { break };
            after = last.seq;
            let n = page.len() as u64;
            out.extend(page.into_iter().filter(|e| {
                e.draft.action == action && (project.is_none() || e.draft.project_id == project)
            }));
            if n < HISTORY_PAGE {
                break;
            }
        }
        out.reverse();
        out.truncate(limit);
        Ok(out)
    }

    pub(super) async fn reports_of(
        &self,
        ws: WorkspaceId,
        project: Option<ProjectId>,
        limit: usize,
    ) -> ServiceResult<Vec<ReportRecord>> {
        let events = self
            .chain_events(ws, project, "export.created", limit)
            .await?;
        Ok(events
            .into_iter()
            .map(|e| {
                let d = &e.draft.details;
                ReportRecord {
                    id: e.draft.id,
                    at: e.draft.at,
                    actor: e.draft.actor,
                    kind: serde_json::from_value(d["kind"].clone()).unwrap_or(ExportKind::Usage),
                    format: d["format"].as_str().unwrap_or_default().to_owned(),
                    period: d["period"].as_str().unwrap_or_default().to_owned(),
                    rows: d["rows"].as_u64().unwrap_or(0),
                    project_id: e.draft.project_id,
                }
            })
            .collect())
    }
}
