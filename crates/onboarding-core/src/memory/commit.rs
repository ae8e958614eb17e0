//! The unit of work: a change set applied to the locked state, all or nothing.

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::audit::{AuditEvent, ChainHead};
use crate::ids::*;
use crate::pipeline::{PhaseKind, Subscription};
use crate::ports::*;
use crate::project::{Environment, Project};
use crate::webhook::Delivery;
use crate::workspace::JoinRequestStatus;

use super::{MemoryStore, State, conflict};

/// Another live (not rejected) subscription of the same project to the same plan.
fn live_duplicate(all: &BTreeMap<SubscriptionId, Subscription>, x: &Subscription) -> bool {
    x.phase.kind() != PhaseKind::Rejected
        && all.values().any(|o| {
            o.id != x.id
                && o.project_id == x.project_id
                && o.plan_id == x.plan_id
                && o.phase.kind() != PhaseKind::Rejected
        })
}

impl MemoryStore {
    /// An empty store: no accounts, workspaces, plans or audit events.
    pub fn new() -> Self {
        Self::default()
    }

    /// Outbox messages written so far (what the webhook worker would deliver).
    pub fn outbox(&self) -> Vec<OutboxMessage> {
        self.state.lock().unwrap().outbox.clone()
    }

    /// Every audit event of every chain.
    pub fn audit_events(&self) -> Vec<AuditEvent> {
        self.state
            .lock()
            .unwrap()
            .audit
            .values()
            .flatten()
            .cloned()
            .collect()
    }

    /// Records a signed test delivery result (the webhooks adapter's job in the server).
    pub fn record_test_delivery(&self, project: ProjectId, at: DateTime<Utc>, ok: bool) {
        self.state
            .lock()
            .unwrap()
            .test_deliveries
            .insert(project, (at, ok));
    }

    fn apply(s: &mut State, c: Change) -> StoreResult<()> {
        match c {
            Change::InsertAccount(a) => {
                if s.accounts.values().any(|x| x.email == a.email) {
                    return Err(conflict("account e-mail"));
                }
                s.accounts.insert(a.id, a);
            }
            Change::InsertStaff(a) => {
                if s.staff.values().any(|x| x.email == a.email) {
                    return Err(conflict("staff e-mail"));
                }
                s.staff.insert(a.id, a);
            }
            Change::InsertWorkspace(w) => {
                s.workspaces.insert(w.id, w);
            }
            Change::UpdateWorkspace {
                value,
                expected_version,
            } => versioned_update!(s.workspaces, value, expected_version, "workspace"),
            Change::PutMembership(m) => {
                s.memberships.insert((m.workspace_id, m.account_id), m);
            }
            Change::RemoveMembership {
                workspace_id,
                account_id,
            } => {
                s.memberships.remove(&(workspace_id, account_id));
            }
            Change::InsertInvitation(i) => {
                // At most one usable invitation per address and workspace (checked at commit,
                // as the SQL adapter does, so a race is refused too).
                if s.invitations.values().any(|x| {
                    x.workspace_id == i.workspace_id
                        && x.email == i.email
                        && x.usable(i.created_at).is_ok()
                }) {
                    return Err(conflict("pending invitation"));
                }
                s.invitations.insert(i.id, i);
            }
            Change::UpdateInvitation {
                value,
                expected_version,
            } => versioned_update!(s.invitations, value, expected_version, "invitation"),
            Change::InsertJoinRequest(j) => {
                if s.join_requests.values().any(|x| {
                    x.workspace_id == j.workspace_id
                        && x.account_id == j.account_id
                        && x.status == JoinRequestStatus::Pending
                }) {
                    return Err(conflict("pending join request"));
                }
                s.join_requests.insert(j.id, j);
            }
            Change::UpdateJoinRequest {
                value,
                expected_version,
            } => versioned_update!(s.join_requests, value, expected_version, "join request"),
            Change::InsertProduct(p) => {
                s.products.insert(p.id, p);
            }
            Change::InsertPlan(p) => {
                s.plans.insert(p.id, p);
            }
            Change::UpdatePlan {
                value,
                expected_version,
            } => versioned_update!(s.plans, value, expected_version, "plan"),
            Change::InsertProject(p) => {
                let production = |x: &Project| {
                    x.environment == Environment::Production && x.subscription_id.is_some()
                };
                if production(&p)
                    && s.projects
                        .values()
                        .any(|x| production(x) && x.subscription_id == p.subscription_id)
                {
                    return Err(conflict("production project of the subscription"));
                }
                s.projects.insert(p.id, p);
            }
            Change::UpdateProject {
                value,
                expected_version,
            } => versioned_update!(s.projects, value, expected_version, "project"),
            Change::InsertSubscription(x) => {
                if live_duplicate(&s.subscriptions, &x) {
                    return Err(conflict("live subscription of the project to the plan"));
                }
                s.subscriptions.insert(x.id, x);
            }
            Change::UpdateSubscription {
                value,
                expected_version,
            } => {
                if live_duplicate(&s.subscriptions, &value) {
                    return Err(conflict("live subscription of the project to the plan"));
                }
                versioned_update!(s.subscriptions, value, expected_version, "subscription")
            }
            Change::InsertCredential(c) => {
                s.credentials.insert(c.id, c);
            }
            Change::UpdateCredential {
                value,
                expected_version,
            } => versioned_update!(s.credentials, value, expected_version, "credential"),
            Change::InsertAccessToken(t) => {
                s.tokens.insert(t.hash.clone(), t);
            }
            Change::EndAccessTokens(id) => s.tokens.retain(|_, t| t.credential_id != id),
            Change::InsertWebhookEndpoint(e) => {
                s.endpoints.insert(e.id, e);
            }
            Change::UpdateWebhookEndpoint {
                value,
                expected_version,
            } => versioned_update!(s.endpoints, value, expected_version, "webhook endpoint"),
            Change::PutAlertThreshold(t) => {
                s.thresholds.insert(t.id, t);
            }
            Change::FireAlert { threshold, window } => match s.thresholds.get_mut(&threshold) {
                Some(t) if t.last_fired_window.as_deref() != Some(window.as_str()) => {
                    t.last_fired_window = Some(window);
                }
                _ => return Err(StoreError::Conflict("alert threshold".into())),
            },
            Change::DeleteAlertThreshold(id) => {
                s.thresholds.remove(&id);
            }
            Change::RecordPayment(p) => s.payments.push(p),
        }
        Ok(())
    }
}

#[async_trait]
impl UnitOfWork for MemoryStore {
    async fn commit(&self, set: ChangeSet) -> StoreResult<()> {
        let mut guard = self.state.lock().unwrap();
        Self::commit_locked(&mut guard, set)
    }
}

impl MemoryStore {
    /// Applies a change set to locked state: all of it, or (on a conflict) none of it.
    pub(super) fn commit_locked(state: &mut State, set: ChangeSet) -> StoreResult<()> {
        // Only changes can fail; snapshot when there are some so a conflict half way leaves
        // nothing behind.
        let snapshot = (!set.changes.is_empty()).then(|| clone_state(state));
        for c in set.changes {
            if let Err(e) = Self::apply(state, c) {
                *state = snapshot.expect("snapshot taken when there are changes");
                return Err(e);
            }
        }
        for draft in set.audit {
            let ws = draft.workspace_id;
            let chain = state.audit.entry(ws).or_default();
            let prev = chain.last().map(|e| (e.seq, e.hash.as_str()));
            let sealed = AuditEvent::seal(draft, prev);
            let head = ChainHead::of(&sealed);
            chain.push(sealed);
            state.heads.insert(ws, head);
        }
        state.outbox.extend(set.outbox);
        Ok(())
    }

    /// Every delivery (for tests).
    pub fn all_deliveries(&self) -> Vec<Delivery> {
        self.state
            .lock()
            .unwrap()
            .deliveries
            .values()
            .cloned()
            .collect()
    }
}

fn clone_state(s: &State) -> State {
    State {
        accounts: s.accounts.clone(),
        staff: s.staff.clone(),
        workspaces: s.workspaces.clone(),
        memberships: s.memberships.clone(),
        invitations: s.invitations.clone(),
        join_requests: s.join_requests.clone(),
        products: s.products.clone(),
        plans: s.plans.clone(),
        projects: s.projects.clone(),
        subscriptions: s.subscriptions.clone(),
        credentials: s.credentials.clone(),
        tokens: s.tokens.clone(),
        endpoints: s.endpoints.clone(),
        test_deliveries: s.test_deliveries.clone(),
        thresholds: s.thresholds.clone(),
        payments: s.payments.clone(),
        usage: s.usage.clone(),
        audit: s.audit.clone(),
        heads: s.heads.clone(),
        outbox: s.outbox.clone(),
        dispatched: s.dispatched.clone(),
        deliveries: s.deliveries.clone(),
        attempts: s.attempts.clone(),
        auth_tokens: s.auth_tokens.clone(),
        idempotency: s.idempotency.clone(),
    }
}
