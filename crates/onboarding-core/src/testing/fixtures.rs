//! Values for tests: a fixed start time, well-known ids, and aggregates in the states tests
//! start from (a standard paid plan, a sandbox project and subscription, an approved one).

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use ulid::Ulid;

use crate::audit::Actor;
use crate::credential::{Credential, CredentialKind, CredentialStatus, IssuedSecret, SecretRecord};
use crate::gates::GateEvaluation;
use crate::ids::*;
use crate::pipeline::{Phase, SandboxAccess, Subscription};
use crate::plan::Plan;
use crate::project::{Environment, Project};
use crate::values::Label;

/// The fixed start time every fixture uses.
pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 2, 9, 30, 0).unwrap()
}

/// A clock a test moves by hand.
pub struct SteppingClock(DateTime<Utc>);

impl SteppingClock {
    /// A clock standing at `t`.
    pub fn at(t: DateTime<Utc>) -> Self {
        Self(t)
    }
    /// The time it shows.
    pub fn now(&self) -> DateTime<Utc> {
        self.0
    }
    /// Moves it forward.
    pub fn advance(&mut self, d: TimeDelta) {
        self.0 += d;
    }
}

/// The developer account the fixtures act as.
pub fn dev() -> AccountId {
    AccountId::from_ulid(Ulid::from_parts(1, 1))
}
/// A second member of the fixture workspace.
pub fn other_account() -> AccountId {
    AccountId::from_ulid(Ulid::from_parts(1, 2))
}
/// A provider reviewer.
pub fn reviewer() -> StaffId {
    StaffId::from_ulid(Ulid::from_parts(1, 3))
}
/// The fixture workspace.
pub fn workspace_id() -> WorkspaceId {
    WorkspaceId::from_ulid(Ulid::from_parts(1, 4))
}
/// The fixture subscription.
pub fn subscription_id() -> SubscriptionId {
    SubscriptionId::from_ulid(Ulid::from_parts(1, 5))
}
/// The fixture credential.
pub fn credential_id() -> CredentialId {
    CredentialId::from_ulid(Ulid::from_parts(1, 6))
}

/// A paid plan with the demo form and every gate.
pub fn standard_plan() -> Plan {
    let (_, plans) = crate::demo::demo_catalog();
    let input = plans.into_iter().next().unwrap();
    Plan {
        id: PlanId::from_ulid(Ulid::from_parts(1, 7)),
        product_id: ProductId::from_ulid(Ulid::from_parts(1, 8)),
        name: Label::new(&input.name).unwrap(),
        has_sandbox: input.has_sandbox,
        sandbox_access: input.sandbox_access,
        endpoints: input.endpoints,
        events: input.events,
        test_data: input.test_data,
        form: input.form,
        pricing: input.pricing,
        gates: input.gates,
        integration_min_calls: input.integration_min_calls,
        waive_separation_of_duties: false,
        created_at: t0(),
        version: 0,
    }
}

/// The fixture workspace's sandbox project.
pub fn sandbox_project() -> Project {
    Project {
        id: ProjectId::from_ulid(Ulid::from_parts(1, 10)),
        workspace_id: workspace_id(),
        name: Label::new("Balance sync").unwrap(),
        purpose: Label::new("Nightly balance sync for bookkeeping").unwrap(),
        environment: Environment::Sandbox,
        endpoints: vec![
            "GET /v1/accounts".into(),
            "GET /v1/accounts/{id}/balance".into(),
        ],
        events: vec!["consent.revoked".into()],
        cloned_from: None,
        subscription_id: None,
        live_audit_reviewed_at: None,
        created_at: t0(),
        created_by: dev(),
        version: 0,
    }
}

/// The sandbox project's subscription to the standard plan, in sandbox with access granted.
pub fn sandbox_subscription() -> Subscription {
    Subscription {
        id: subscription_id(),
        workspace_id: workspace_id(),
        project_id: sandbox_project().id,
        plan_id: standard_plan().id,
        phase: Phase::Sandbox {
            changes_requested: None,
        },
        sandbox_access: SandboxAccess::Granted { at: t0(), by: None },
        answers: None,
        sign_offs: vec![],
        history: vec![],
        production_project_id: None,
        created_at: t0(),
        created_by: dev(),
        version: 0,
    }
}

/// The same subscription, approved into production.
pub fn approved_subscription() -> Subscription {
    sandbox_subscription()
        .submit(dev(), t0(), 1, None)
        .unwrap()
        .approve(reviewer(), t0(), &GateEvaluation { gates: vec![] })
        .unwrap()
}

/// An active credential of the fixture subscription holding `secret`.
pub fn credential(env: Environment, secret: &IssuedSecret) -> Credential {
    Credential {
        id: credential_id(),
        workspace_id: workspace_id(),
        project_id: sandbox_project().id,
        subscription_id: subscription_id(),
        environment: env,
        kind: CredentialKind::ApiKey,
        name: Label::new("ci key").unwrap(),
        status: CredentialStatus::Active,
        secret: SecretRecord::of(secret, t0()),
        previous: None,
        created_at: t0(),
        created_by: Actor::Account(dev()),
        version: 0,
    }
}

/// Answers that satisfy the demo's three-step form (and the gate evidence keys).
pub fn demo_answers() -> crate::form::Answers {
    serde_json::from_value(serde_json::json!({
        "legal_name": "Fintech Ltd",
        "website": "https://fintech.example",
        "contact_email": "lena@fintech.example",
        "use_case": "accounting integration",
        "data_usage": "Balances are kept 30 days and seen by the finance team only.",
        "data_categories": ["balances", "transactions"],
        "consent_capture": "An OAuth consent screen before the first read.",
        "consent_withdrawal": "A settings page and a support e-mail; we delete data within 24 h.",
        "privacy_policy_url": "https://fintech.example/privacy",
        "accepts_terms": true
    }))
    .expect("static JSON")
}
