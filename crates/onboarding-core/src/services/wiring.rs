//! What a [`Portal`] runs on: the store ports and the infrastructure beside them.

use crate::ports::*;
use std::sync::Arc;

/// The ports a [`Portal`] runs on.
#[derive(Clone)]
pub struct Ports {
    /// The time.
    pub clock: Arc<dyn Clock>,
    /// New ULIDs.
    pub ids: Arc<dyn IdGenerator>,
    /// Randomness for secrets.
    pub secrets: Arc<dyn SecretGenerator>,
    /// Password hashing.
    pub passwords: Arc<dyn PasswordHasher>,
    /// Accounts and staff.
    pub accounts: Arc<dyn AccountStore>,
    /// Workspaces, memberships, invitations, join requests.
    pub workspaces: Arc<dyn WorkspaceStore>,
    /// Products and plans.
    pub plans: Arc<dyn PlanStore>,
    /// Projects.
    pub projects: Arc<dyn ProjectStore>,
    /// Subscriptions and the go-live queue.
    pub subscriptions: Arc<dyn SubscriptionStore>,
    /// Credentials, by id and by secret hash.
    pub credentials: Arc<dyn CredentialStore>,
    /// Webhook endpoints.
    pub webhooks: Arc<dyn WebhookStore>,
    /// Usage counters.
    pub usage: Arc<dyn UsageStore>,
    /// Alert thresholds.
    pub alerts: Arc<dyn AlertStore>,
    /// Reads of the audit log.
    pub audit: Arc<dyn AuditLog>,
    /// Payment status of subscriptions.
    pub payments: Arc<dyn PaymentGateway>,
    /// The one way to write: a change set, atomically.
    pub uow: Arc<dyn UnitOfWork>,
    /// Where verified calls are counted, without blocking.
    pub meter: Arc<dyn UsageSink>,
    /// Encryption of webhook signing secrets.
    pub vault: Arc<dyn SecretVault>,
    /// Which addresses webhook deliveries may reach (registration refuses the others).
    pub destinations: Arc<dyn DestinationPolicy>,
}

/// Every store port at once: what one database adapter provides.
pub trait Store:
    AccountStore
    + WorkspaceStore
    + PlanStore
    + ProjectStore
    + SubscriptionStore
    + CredentialStore
    + WebhookStore
    + UsageStore
    + AlertStore
    + AuditLog
    + PaymentGateway
    + UnitOfWork
    + 'static
{
}

impl<T> Store for T where
    T: AccountStore
        + WorkspaceStore
        + PlanStore
        + ProjectStore
        + SubscriptionStore
        + CredentialStore
        + WebhookStore
        + UsageStore
        + AlertStore
        + AuditLog
        + PaymentGateway
        + UnitOfWork
        + 'static
{
}

/// The ports that are not storage: time, ids, randomness, hashing, metering, sealing.
#[derive(Clone)]
pub struct Infrastructure {
    /// The time.
    pub clock: Arc<dyn Clock>,
    /// New ULIDs.
    pub ids: Arc<dyn IdGenerator>,
    /// Randomness for secrets.
    pub secrets: Arc<dyn SecretGenerator>,
    /// Password hashing.
    pub passwords: Arc<dyn PasswordHasher>,
    /// Where verified calls are counted, without blocking.
    pub meter: Arc<dyn UsageSink>,
    /// Encryption of webhook signing secrets.
    pub vault: Arc<dyn SecretVault>,
    /// Which addresses webhook deliveries may reach (registration refuses the others).
    pub destinations: Arc<dyn DestinationPolicy>,
}

impl Ports {
    /// Every store port served by one adapter, plus the infrastructure ports.
    pub fn over_store<S: Store>(store: Arc<S>, infra: Infrastructure) -> Ports {
        Ports {
            clock: infra.clock,
            ids: infra.ids,
            secrets: infra.secrets,
            passwords: infra.passwords,
            accounts: store.clone(),
            workspaces: store.clone(),
            plans: store.clone(),
            projects: store.clone(),
            subscriptions: store.clone(),
            credentials: store.clone(),
            webhooks: store.clone(),
            usage: store.clone(),
            alerts: store.clone(),
            audit: store.clone(),
            payments: store.clone(),
            uow: store,
            meter: infra.meter,
            vault: infra.vault,
            destinations: infra.destinations,
        }
    }
}
