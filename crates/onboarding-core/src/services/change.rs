//! The one way a use case writes: a [`Draft`] collects the rows, audit events and outbox
//! messages of one change, stamped with one actor, time and scope, and commits them as one
//! [`ChangeSet`] (docs/decisions/0001).

use super::*;
use crate::webhook::EventType;

/// One change in the making. Start it with [`Context::change`], add rows, audit events and
/// webhook events, then [`Draft::commit`].
#[must_use = "a draft changes nothing until it is committed"]
pub(crate) struct Draft<'a> {
    cx: &'a Context,
    actor: Actor,
    at: DateTime<Utc>,
    workspace: Option<WorkspaceId>,
    project: Option<ProjectId>,
    set: ChangeSet,
    unscoped_event: bool,
}

impl Context {
    /// A change made by `actor` at `at`, outside any workspace (accounts, staff, the catalog).
    pub(crate) fn change(&self, actor: Actor, at: DateTime<Utc>) -> Draft<'_> {
        Draft {
            cx: self,
            actor,
            at,
            workspace: None,
            project: None,
            set: ChangeSet::default(),
            unscoped_event: false,
        }
    }

    /// A change made by `actor` at `at` inside a workspace (and one of its projects).
    pub(crate) fn change_in(
        &self,
        actor: Actor,
        at: DateTime<Utc>,
        workspace: WorkspaceId,
        project: Option<ProjectId>,
    ) -> Draft<'_> {
        Draft {
            workspace: Some(workspace),
            project,
            ..self.change(actor, at)
        }
    }
}

impl<'a> Draft<'a> {
    /// Adds a row change as it is (inserts, deletes, memberships).
    pub(crate) fn with(mut self, change: Change) -> Self {
        self.set.changes.push(change);
        self
    }

    /// Stores `next` over the row it was read from: expects the version it carries and bumps
    /// it, so the caller keeps the value as stored.
    pub(crate) fn update<T: Versioned>(mut self, next: &mut T) -> Self {
        let expected = next.version();
        next.set_version(expected + 1);
        self.set.changes.push(next.clone().into_update(expected));
        self
    }

    /// Records an audit event of the change.
    pub(crate) fn audit(mut self, action: &str, target: impl ToString, details: Value) -> Self {
        self.set.audit.push(AuditDraft {
            id: AuditEventId::from_ulid(self.cx.ulid()),
            at: self.at,
            actor: self.actor,
            workspace_id: self.workspace,
            project_id: self.project,
            action: action.to_owned(),
            target: target.to_string(),
            details,
        });
        self
    }

    /// Raises a webhook event for the workspace's endpoints that want it.
    pub(crate) fn event(self, event: EventType, payload: Value) -> Self {
        self.message(event, payload, None)
    }

    /// Raises a webhook event for one endpoint only (verification, test).
    pub(crate) fn event_to(
        self,
        endpoint: WebhookEndpointId,
        event: EventType,
        payload: Value,
    ) -> Self {
        self.message(event, payload, Some(endpoint))
    }

    fn message(
        mut self,
        event: EventType,
        payload: Value,
        target: Option<WebhookEndpointId>,
    ) -> Self {
        let Some(workspace) = self.workspace else {
            self.unscoped_event = true;
            return self;
        };
        self.set.outbox.push(OutboxMessage {
            id: MessageId::from_ulid(self.cx.ulid()),
            workspace_id: workspace,
            project_id: self.project,
            event_type: event.as_str().to_owned(),
            payload,
            target_endpoint: target,
            created_at: self.at,
        });
        self
    }

    /// Queues a notification of `kind` to each of `to`, in this change set: a committed
    /// change has its notifications, a refused one none. `data` feeds the templates and must
    /// hold no secret in clear (a link token goes sealed under `sealed_token`).
    pub(crate) fn notify(
        mut self,
        kind: crate::notification::NotificationKind,
        to: Vec<crate::notification::Addressee>,
        data: Value,
    ) -> Self {
        for to in to {
            self.set.changes.push(Change::QueueNotification(
                crate::notification::Notification {
                    id: NotificationId::from_ulid(self.cx.ulid()),
                    kind,
                    to,
                    workspace_id: self.workspace,
                    data: data.clone(),
                    created_at: self.at,
                    read_at: None,
                    mail_status: crate::notification::MailStatus::Pending,
                    attempts: 0,
                    next_attempt_at: self.at,
                    last_error: None,
                },
            ));
        }
        self
    }

    /// Notifies the workspace's members, by the audience rule of its kind, of the webhook
    /// event raised last (credential rotated, alert crossed, ...): its payload, with the
    /// workspace's and project's names, feeds the templates.
    pub(crate) async fn notify_event(self) -> ServiceResult<Draft<'a>> {
        let (Some(ws), Some(msg)) = (self.workspace, self.set.outbox.last()) else {
            return Ok(self);
        };
        let Some(kind) = msg
            .event_type
            .parse()
            .ok()
            .and_then(crate::notification::NotificationKind::for_event)
        else {
            return Ok(self);
        };
        let mut data = msg.payload.clone();
        let to = self.cx.members_to_notify(kind, ws, self.actor).await?;
        data["workspace"] = self.cx.workspace_name(ws).await?.into();
        data["workspace_id"] = ws.to_string().into();
        if let Some(p) = self.project {
            let name = self
                .cx
                .p
                .projects
                .project(p)
                .await?
                .map(|p| p.name.as_str().to_owned());
            data["project"] = name.into();
        }
        Ok(self.notify(kind, to, data))
    }

    /// Who makes the change.
    pub(crate) fn actor(&self) -> Actor {
        self.actor
    }

    /// The type of the webhook event raised last, if any.
    pub(crate) fn last_event_type(&self) -> Option<EventType> {
        self.set.outbox.last()?.event_type.parse().ok()
    }

    /// The id of the webhook event raised last, for a use case that answers it or cites it
    /// in a later audit event; `None` if none was raised.
    pub(crate) fn last_message_id(&self) -> Option<MessageId> {
        self.set.outbox.last().map(|m| m.id)
    }

    /// The change set as built, for callers that commit it elsewhere.
    pub(crate) fn into_set(self) -> ServiceResult<ChangeSet> {
        if self.unscoped_event {
            return Err(ServiceError::Internal(
                "a webhook event was raised outside any workspace".into(),
            ));
        }
        Ok(self.set)
    }

    /// Commits the change: every row, audit event and outbox message, or none.
    pub(crate) async fn commit(self) -> ServiceResult<()> {
        let cx = self.cx;
        let set = self.into_set()?;
        cx.commit(set).await
    }
}
