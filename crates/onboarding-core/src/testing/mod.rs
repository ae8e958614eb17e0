//! A kit for tests of code built on the core (feature `testing`; the core's own tests use it
//! too): every port as a strict mock, turned into a ready [`Portal`] in one call, and
//! [`fixtures`] for the usual aggregates. docs/embedding.md shows it in use.

pub mod fixtures;

use std::sync::Arc;

use crate::credential::{IssuedSecret, SecretKind};
use crate::pipeline::Subscription;
use crate::plan::Plan;
use crate::ports::*;
use crate::project::Environment;
use crate::roles::{Role, RoleSet};
use crate::workspace::{Membership, Workspace};
use crate::{Portal, Ports};
use fixtures::*;

/// Every port as a strict `mockall` mock with nothing expected but the clock (fixed at
/// [`fixtures::t0`]), sequential ids and a constant secret generator. Add expectations to the
/// fields (or with the helpers), then [`MockPorts::into_portal`]: a call the test did not expect
/// fails it.
pub struct MockPorts {
    /// The `clock` port.
    pub clock: MockClock,
    /// The `ids` port.
    pub ids: MockIdGenerator,
    /// The `secrets` port.
    pub secrets: MockSecretGenerator,
    /// The `accounts` port.
    pub accounts: MockAccountStore,
    /// The `workspaces` port.
    pub workspaces: MockWorkspaceStore,
    /// The `plans` port.
    pub plans: MockPlanStore,
    /// The `projects` port.
    pub projects: MockProjectStore,
    /// The `subscriptions` port.
    pub subscriptions: MockSubscriptionStore,
    /// The `credentials` port.
    pub credentials: MockCredentialStore,
    /// The `webhooks` port.
    pub webhooks: MockWebhookStore,
    /// The `usage` port.
    pub usage: MockUsageStore,
    /// The `alerts` port.
    pub alerts: MockAlertStore,
    /// The `audit` port.
    pub audit: MockAuditLog,
    /// The `invoices` port.
    pub invoices: MockInvoiceStore,
    /// The `payments` port (the processor).
    pub payments: MockPaymentGateway,
    /// The `uow` port.
    pub uow: MockUnitOfWork,
}

impl MockPorts {
    /// Every port mocked, nothing expected.
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self {
        let mut clock = MockClock::new();
        clock.expect_now().returning(t0);
        let mut ids = MockIdGenerator::new();
        let counter = std::sync::atomic::AtomicU64::new(100);
        ids.expect_ulid().returning(move || {
            ulid::Ulid::from_parts(counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst), 1)
        });
        let mut secrets = MockSecretGenerator::new();
        secrets.expect_base62().returning(|n| "Q".repeat(n));
        Self {
            clock,
            ids,
            secrets,
            accounts: MockAccountStore::new(),
            workspaces: MockWorkspaceStore::new(),
            plans: MockPlanStore::new(),
            projects: MockProjectStore::new(),
            subscriptions: MockSubscriptionStore::new(),
            credentials: MockCredentialStore::new(),
            webhooks: MockWebhookStore::new(),
            usage: MockUsageStore::new(),
            alerts: MockAlertStore::new(),
            audit: MockAuditLog::new(),
            invoices: MockInvoiceStore::new(),
            payments: MockPaymentGateway::new(),
            uow: MockUnitOfWork::new(),
        }
    }

    /// The developer ([`fixtures::dev`]) is a member of the fixture workspace with `roles`,
    /// beside a billing member.
    pub fn member(mut self, roles: &[Role]) -> Self {
        let m = Membership {
            workspace_id: workspace_id(),
            account_id: dev(),
            roles: RoleSet::of(roles),
            joined_at: t0(),
        };
        let other = Membership {
            workspace_id: workspace_id(),
            account_id: other_account(),
            roles: RoleSet::of(&[Role::Billing]),
            joined_at: t0(),
        };
        self.workspaces
            .expect_members()
            .returning(move |_| Ok(vec![m.clone(), other.clone()]));
        self
    }

    /// Every subscription look-up answers `s`.
    pub fn subscription(mut self, s: Subscription) -> Self {
        self.subscriptions
            .expect_subscription()
            .returning(move |_| Ok(Some(s.clone())));
        self
    }

    /// Every plan look-up answers `p`.
    pub fn plan(mut self, p: Plan) -> Self {
        self.plans
            .expect_plan()
            .returning(move |_| Ok(Some(p.clone())));
        self
    }

    /// The subscription holds `n` active sandbox credentials.
    pub fn sandbox_credentials(mut self, n: usize) -> Self {
        let secret =
            IssuedSecret::new(SecretKind::ApiKey, Environment::Sandbox, &"a".repeat(32)).unwrap();
        let c = credential(Environment::Sandbox, &secret);
        self.credentials
            .expect_credentials_of_subscription()
            .returning(move |_| Ok(vec![c.clone(); n]));
        self
    }

    /// Facts for gate evaluation: a workspace with every responsible named, nothing else.
    pub fn gate_facts(mut self, calls: u64) -> Self {
        let ws = Workspace {
            id: workspace_id(),
            name: crate::values::Label::new("Acme").unwrap(),
            billing_owner: Some(other_account()),
            audit_contact: None,
            security_owner: None,
            created_at: t0(),
            created_by: dev(),
            version: 0,
        };
        self.workspaces
            .expect_workspace()
            .returning(move |_| Ok(Some(ws.clone())));
        self.webhooks.expect_endpoints().returning(|_| Ok(vec![]));
        self.webhooks
            .expect_last_test_delivery()
            .returning(|_| Ok(None));
        self.usage
            .expect_successful_calls()
            .returning(move |_, _| Ok(calls));
        self
    }

    /// A ready portal over these mocks (argon2-free hashing, a test vault, any webhook
    /// destination allowed, a meter that accepts every call).
    pub fn into_portal(self) -> Portal {
        let meter = {
            let mut m = MockUsageSink::new();
            m.expect_record().returning(|_| ());
            m
        };
        Portal::new(Ports {
            clock: Arc::new(self.clock),
            ids: Arc::new(self.ids),
            secrets: Arc::new(self.secrets),
            passwords: Arc::new(crate::memory::TestPasswordHasher),
            accounts: Arc::new(self.accounts),
            workspaces: Arc::new(self.workspaces),
            plans: Arc::new(self.plans),
            projects: Arc::new(self.projects),
            subscriptions: Arc::new(self.subscriptions),
            credentials: Arc::new(self.credentials),
            webhooks: Arc::new(self.webhooks),
            usage: Arc::new(self.usage),
            alerts: Arc::new(self.alerts),
            audit: Arc::new(self.audit),
            invoices: Arc::new(self.invoices),
            payments: Arc::new(self.payments),
            uow: Arc::new(self.uow),
            meter: Arc::new(meter),
            vault: Arc::new(crate::memory::TestVault),
            destinations: Arc::new(crate::memory::AnyDestination),
        })
    }
}
