//! The notification centre (list, unread count, mark read), e-mail preferences with one-click
//! unsubscribe, the e-mail queue's use cases for the mail worker, and the helpers use cases
//! call to address a notification by the rules of [`crate::notification`].

use chrono::TimeDelta;

use super::*;
use crate::notification::{
    Addressee, MailOutcome, MailPreferences, Notification, NotificationKind, NotificationStore,
    reviewer_recipients, workspace_recipients,
};

/// The notification centre, preferences, and the e-mail queue's use cases.
#[derive(Clone)]
pub struct Notifications {
    pub(super) cx: Context,
}

/// One page of a person's notifications, newest first.
#[derive(Debug, Clone, PartialEq)]
pub struct NotificationPage {
    /// The notifications of the page.
    pub items: Vec<Notification>,
    /// How many of the person's notifications are unread (all pages).
    pub unread: u64,
    /// The cursor of the next page, when there may be one.
    pub next_before: Option<NotificationId>,
}

/// One e-mail to send, as the mail worker gets it: the notification and the secrets its
/// links need, opened from their sealed form only now (they never reach a log or a row).
#[derive(Clone, PartialEq)]
pub struct OutgoingMail {
    /// The notification (its id is the Message-ID).
    pub notification: Notification,
    /// The single-use token of a reset or verification link, if the kind has one.
    pub link_token: Option<String>,
    /// The one-click unsubscribe token of an optional kind sent to a person of the portal.
    pub unsubscribe_token: Option<String>,
}

impl std::fmt::Debug for OutgoingMail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutgoingMail")
            .field("notification", &self.notification.id)
            .field("kind", &self.notification.kind)
            .finish_non_exhaustive()
    }
}

/// The person a caller is.
pub(crate) fn principal(caller: Caller) -> Principal {
    match caller {
        Caller::Account(id) => Principal::Account(id),
        Caller::Staff { id, .. } => Principal::Staff(id),
    }
}

const UNSUBSCRIBE: &str = "unsubscribe";

impl Notifications {
    fn store(&self) -> &dyn NotificationStore {
        self.cx.p.notifications.as_ref()
    }

    /// The caller's notifications, newest first, `limit` at a time (1 to 100).
    pub async fn list(
        &self,
        caller: Caller,
        before: Option<NotificationId>,
        limit: u64,
    ) -> ServiceResult<NotificationPage> {
        if !(1..=100).contains(&limit) {
            return Err(FieldError::new("limit", "between 1 and 100").into());
        }
        let who = principal(caller);
        let items = self.store().notifications_of(who, before, limit).await?;
        let unread = self.store().unread_count(who).await?;
        let next_before = (items.len() as u64 == limit)
            .then(|| items.last().map(|n| n.id))
            .flatten();
        Ok(NotificationPage {
            items,
            unread,
            next_before,
        })
    }

    /// How many of the caller's notifications are unread (the header's badge).
    pub async fn unread_count(&self, caller: Caller) -> ServiceResult<u64> {
        Ok(self.store().unread_count(principal(caller)).await?)
    }

    /// Marks the caller's notifications read: these, or all of them with `None`. Another
    /// person's ids change nothing. Answers how many were marked.
    pub async fn mark_read(
        &self,
        caller: Caller,
        ids: Option<Vec<NotificationId>>,
    ) -> ServiceResult<u64> {
        let now = self.cx.now();
        Ok(self.store().mark_read(principal(caller), ids, now).await?)
    }

    /// Every kind with whether the caller gets it by e-mail, and whether it may be turned off.
    pub async fn preferences(
        &self,
        caller: Caller,
    ) -> ServiceResult<Vec<(NotificationKind, bool, bool)>> {
        let prefs = self.store().preferences(principal(caller)).await?;
        Ok(NotificationKind::ALL
            .iter()
            .map(|k| (*k, prefs.wants_email(*k), !k.required()))
            .collect())
    }

    /// Turns e-mail of an optional kind on or off; required kinds are refused.
    pub async fn set_preference(
        &self,
        caller: Caller,
        kind: NotificationKind,
        email: bool,
    ) -> ServiceResult<()> {
        if kind.required() && !email {
            return Err(FieldError::new(
                "kind",
                "security and account notifications cannot be turned off",
            )
            .into());
        }
        Ok(self
            .store()
            .set_preference(principal(caller), kind, email)
            .await?)
    }

    /// RFC 8058 one-click unsubscribe: the token of an e-mail's `List-Unsubscribe` link turns
    /// that kind off for its recipient, without sign-in. Answers the kind turned off; a token
    /// this portal did not seal is `NotFound`.
    pub async fn unsubscribe(&self, token: &str) -> ServiceResult<NotificationKind> {
        let not_found = ServiceError::NotFound {
            entity: "unsubscribe link",
        };
        let opened = self.cx.p.vault.open(token).ok_or(not_found.clone())?;
        let mut parts = opened.splitn(3, ' ');
        let (Some(UNSUBSCRIBE), Some(who), Some(kind)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(not_found);
        };
        let who = parse_principal(who).ok_or(not_found.clone())?;
        let kind: NotificationKind = kind.parse().map_err(|_| not_found.clone())?;
        if kind.required() {
            return Err(not_found);
        }
        self.store().set_preference(who, kind, false).await?;
        Ok(kind)
    }

    /// Leases the e-mails due now to `owner` for `lease`, opening each one's sealed link
    /// token. Those whose recipient turned the kind off are settled `skipped` here and not
    /// returned: the centre still shows them.
    pub async fn claim_mail(
        &self,
        owner: &str,
        lease: TimeDelta,
        limit: u64,
    ) -> ServiceResult<Vec<OutgoingMail>> {
        let now = self.cx.now();
        let claimed = self
            .store()
            .claim_due_mail(now, owner, now + lease, limit)
            .await?;
        let mut out = Vec::with_capacity(claimed.len());
        for n in claimed {
            let prefs = match n.to.principal {
                Some(p) => self.store().preferences(p).await?,
                None => MailPreferences::default(),
            };
            if !prefs.wants_email(n.kind) {
                self.store()
                    .settle_mail(n.id, owner, MailOutcome::Skipped, now)
                    .await?;
                continue;
            }
            let link_token = n
                .data
                .get("sealed_token")
                .and_then(Value::as_str)
                .and_then(|s| self.cx.p.vault.open(s));
            let unsubscribe_token = match (n.to.principal, n.kind.required()) {
                (Some(p), false) => Some(self.cx.p.vault.seal(&format!(
                    "{UNSUBSCRIBE} {} {}",
                    principal_str(p),
                    n.kind.as_str()
                ))),
                _ => None,
            };
            out.push(OutgoingMail {
                notification: n,
                link_token,
                unsubscribe_token,
            });
        }
        Ok(out)
    }

    /// A restarted server takes back what its previous run (worker `owner`) had leased.
    pub async fn release_mail_leases(&self, owner: &str) -> ServiceResult<u64> {
        Ok(self.store().release_mail_leases(owner).await?)
    }

    /// Records how an e-mail attempt ended: a failure is tried again by the backoff of
    /// [`crate::notification::mail_retry_delay`], then given up. `Conflict` when the lease
    /// was lost meanwhile (another worker owns the message now).
    pub async fn settle_mail(
        &self,
        mail: &OutgoingMail,
        owner: &str,
        result: Result<(), String>,
    ) -> ServiceResult<MailOutcome> {
        let now = self.cx.now();
        let attempts = mail.notification.attempts + 1;
        let outcome = match result {
            Ok(()) => MailOutcome::Sent,
            Err(error) => match crate::notification::mail_retry_delay(attempts) {
                Some(d) => MailOutcome::Retry {
                    next_attempt_at: now + d,
                    error,
                },
                None => MailOutcome::Failed { error },
            },
        };
        self.store()
            .settle_mail(mail.notification.id, owner, outcome.clone(), now)
            .await?;
        Ok(outcome)
    }
}

fn principal_str(p: Principal) -> String {
    match p {
        Principal::Account(a) => a.to_string(),
        Principal::Staff(s) => s.to_string(),
    }
}

fn parse_principal(s: &str) -> Option<Principal> {
    s.parse::<AccountId>()
        .map(Principal::Account)
        .or_else(|_| s.parse::<StaffId>().map(Principal::Staff))
        .ok()
}

impl Context {
    /// The members of `ws` who receive `kind` by the audience rule, except `actor`.
    pub(crate) async fn members_to_notify(
        &self,
        kind: NotificationKind,
        ws: WorkspaceId,
        actor: Actor,
    ) -> ServiceResult<Vec<Addressee>> {
        let members = self.p.workspaces.members(ws).await?;
        let actor = match actor {
            Actor::Account(a) => Some(a),
            _ => None,
        };
        let mut out = Vec::new();
        for id in workspace_recipients(kind, &members, actor) {
            out.push(self.account_addressee(id).await?);
        }
        Ok(out)
    }

    /// The provider's reviewers (admins and reviewers).
    pub(crate) async fn reviewers_to_notify(&self) -> ServiceResult<Vec<Addressee>> {
        let staff = self.p.notifications.staff_members().await?;
        Ok(reviewer_recipients(&staff)
            .into_iter()
            .map(|s| Addressee {
                principal: Some(Principal::Staff(s.id)),
                email: s.email.clone(),
            })
            .collect())
    }

    /// One account, addressed at its sign-in e-mail.
    pub(crate) async fn account_addressee(&self, id: AccountId) -> ServiceResult<Addressee> {
        let a = self.accounts().account(id).await?;
        Ok(Addressee {
            principal: Some(Principal::Account(a.id)),
            email: a.email,
        })
    }

    /// The workspace's display name, for templates.
    pub(crate) async fn workspace_name(&self, ws: WorkspaceId) -> ServiceResult<String> {
        Ok(self
            .p
            .workspaces
            .workspace(ws)
            .await?
            .map(|w| w.name.as_str().to_owned())
            .unwrap_or_default())
    }
}

impl NotificationKind {
    /// The notification a pipeline event raises, if any (webhook events and notifications
    /// name the same transitions).
    pub fn for_event(event: crate::webhook::EventType) -> Option<NotificationKind> {
        use crate::webhook::EventType as E;
        Some(match event {
            E::SubscriptionSubmitted => NotificationKind::Submitted,
            E::ChangesRequested => NotificationKind::ChangesRequested,
            E::SubscriptionApproved => NotificationKind::Approved,
            E::SubscriptionRejected => NotificationKind::Rejected,
            E::SandboxAccessGranted => NotificationKind::SandboxAccessGranted,
            E::SandboxAccessDeclined => NotificationKind::SandboxAccessDeclined,
            E::CredentialRotated => NotificationKind::CredentialRotated,
            E::AlertTriggered => NotificationKind::AlertCrossed,
            E::EndpointDisabled => NotificationKind::EndpointDisabled,
            _ => return None,
        })
    }
}

impl Context {
    /// Adds to a pipeline transition's draft the notification its event raises: to the
    /// reviewers for a submission, to the workspace's members by role otherwise.
    pub(crate) async fn notify_transition<'a>(
        &self,
        s: &crate::pipeline::Subscription,
        draft: Draft<'a>,
    ) -> ServiceResult<Draft<'a>> {
        let Some(kind) = draft
            .last_event_type()
            .and_then(NotificationKind::for_event)
        else {
            return Ok(draft);
        };
        let to = match kind {
            NotificationKind::Submitted => self.reviewers_to_notify().await?,
            _ => {
                self.members_to_notify(kind, s.workspace_id, draft.actor())
                    .await?
            }
        };
        let plan = self.p.plans.plan(s.plan_id).await?;
        let project = self.p.projects.project(s.project_id).await?;
        let notes = match &s.phase {
            crate::pipeline::Phase::Sandbox {
                changes_requested: Some(c),
            } => Some(c.notes.as_str().to_owned()),
            crate::pipeline::Phase::Rejected { notes, .. } => {
                notes.as_ref().map(|n| n.as_str().to_owned())
            }
            _ => None,
        };
        let data = serde_json::json!({
            "workspace": self.workspace_name(s.workspace_id).await?,
            "workspace_id": s.workspace_id,
            "subscription_id": s.id,
            "project_id": s.project_id,
            "project": project.map(|p| p.name.as_str().to_owned()),
            "plan": plan.map(|p| p.name.as_str().to_owned()),
            "notes": notes,
        });
        Ok(draft.notify(kind, to, data))
    }
}

impl Context {
    /// The invitee (with their account, when the address has one) and what the invitation
    /// e-mail shows: no token, since accepting needs the invited address signed in.
    pub(crate) async fn invitation_notice(
        &self,
        inv: &crate::workspace::Invitation,
    ) -> ServiceResult<(Addressee, Value)> {
        let account = self.p.accounts.account_by_email(&inv.email).await?;
        let inviter = self.p.accounts.account(inv.invited_by).await?;
        let to = Addressee {
            principal: account.map(|a| Principal::Account(a.id)),
            email: inv.email.clone(),
        };
        let data = serde_json::json!({
            "workspace": self.workspace_name(inv.workspace_id).await?,
            "workspace_id": inv.workspace_id,
            "invitation_id": inv.id,
            "invited_by": inviter.map(|a| a.name.as_str().to_owned()),
            "roles": inv.roles,
            "expires_at": inv.expires_at,
        });
        Ok((to, data))
    }

    /// What a membership notice shows: the workspace, the member, their roles.
    pub(crate) async fn member_notice(
        &self,
        ws: WorkspaceId,
        account: AccountId,
        roles: Option<crate::roles::RoleSet>,
    ) -> ServiceResult<Value> {
        let a = self.accounts().account(account).await?;
        Ok(serde_json::json!({
            "workspace": self.workspace_name(ws).await?,
            "workspace_id": ws,
            "member": a.name.as_str(),
            "member_email": a.email,
            "roles": roles,
        }))
    }
}
