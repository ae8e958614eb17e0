//! Shared values for the core's unit tests.

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

pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 2, 9, 30, 0).unwrap()
}

pub struct SteppingClock(DateTime<Utc>);

impl SteppingClock {
    pub fn at(t: DateTime<Utc>) -> Self {
        Self(t)
    }
    pub fn now(&self) -> DateTime<Utc> {
        self.0
    }
    pub fn advance(&mut self, d: TimeDelta) {
        self.0 += d;
    }
}

pub fn dev() -> AccountId {
    AccountId::from_ulid(Ulid::from_parts(1, 1))
}
pub fn other_account() -> AccountId {
    AccountId::from_ulid(Ulid::from_parts(1, 2))
}
pub fn reviewer() -> StaffId {
    StaffId::from_ulid(Ulid::from_parts(1, 3))
}
pub fn workspace_id() -> WorkspaceId {
    WorkspaceId::from_ulid(Ulid::from_parts(1, 4))
}
pub fn subscription_id() -> SubscriptionId {
    SubscriptionId::from_ulid(Ulid::from_parts(1, 5))
}
pub fn credential_id() -> CredentialId {
    CredentialId::from_ulid(Ulid::from_parts(1, 6))
}

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

pub fn approved_subscription() -> Subscription {
    sandbox_subscription()
        .submit(dev(), t0(), 1, None)
        .unwrap()
        .approve(reviewer(), t0(), &GateEvaluation { gates: vec![] })
        .unwrap()
}

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
