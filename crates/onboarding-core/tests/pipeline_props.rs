//! Property test over the public service API with in-memory adapters: random sequences of
//! pipeline actions by random actors. Whatever the sequence:
//! - a refused action changes nothing and writes no audit event;
//! - a successful pipeline transition writes exactly one audit event;
//! - production credentials exist only for approved and paid subscriptions;
//! - a sandbox project holds only sandbox credentials, a production project only production ones.

use chrono::{TimeDelta, TimeZone, Utc};
use onboarding_core::credential::GracePeriod;
use onboarding_core::gates::Gate;
use onboarding_core::ids::*;
use onboarding_core::memory::{ManualClock, MemoryStore, in_memory_portal};
use onboarding_core::pipeline::PhaseKind;
use onboarding_core::plan::{Currency, Pricing, SandboxAccessMode};
use onboarding_core::project::Environment;
use onboarding_core::roles::{Role, RoleSet, StaffRole};
use onboarding_core::services::{NewCredentialKind, PlanInput};
use onboarding_core::{Caller, Portal};
use proptest::prelude::*;
use rust_decimal_macros::dec;
use std::sync::Arc;

#[derive(Debug, Clone, Copy)]
enum Step {
    CreateSandboxCredential(Who),
    RevokeFirstCredential(Who),
    Submit(Who),
    Withdraw(Who),
    Approve(Who),
    Reject(Who),
    RequestChanges(Who, bool),
    Reopen(Who),
    SignOffConsent(Who),
    Pay(Who),
    Clone(Who),
    CreateProductionCredential(Who),
    RotateFirst(Who),
    AdvanceClock,
}

#[derive(Debug, Clone, Copy)]
enum Who {
    Lead,
    Developer,
    Reviewer,
    Admin,
    Outsider,
}

fn who() -> impl Strategy<Value = Who> {
    // Weighted toward the actors who may act, so that random walks often reach production.
    prop_oneof![3 => Just(Who::Lead), 1 => Just(Who::Developer), 2 => Just(Who::Reviewer), 2 => Just(Who::Admin), 1 => Just(Who::Outsider)]
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        who().prop_map(Step::CreateSandboxCredential),
        who().prop_map(Step::RevokeFirstCredential),
        who().prop_map(Step::Submit),
        who().prop_map(Step::Withdraw),
        who().prop_map(Step::Approve),
        who().prop_map(Step::Reject),
        (who(), any::<bool>()).prop_map(|(w, n)| Step::RequestChanges(w, n)),
        who().prop_map(Step::Reopen),
        who().prop_map(Step::SignOffConsent),
        who().prop_map(Step::Pay),
        who().prop_map(Step::Clone),
        who().prop_map(Step::CreateProductionCredential),
        who().prop_map(Step::RotateFirst),
        Just(Step::AdvanceClock),
    ]
}

struct World {
    portal: Portal,
    store: Arc<MemoryStore>,
    clock: Arc<ManualClock>,
    lead: Caller,
    developer: Caller,
    reviewer: Caller,
    admin: Caller,
    outsider: Caller,
    sub: SubscriptionId,
}

impl World {
    fn caller(&self, w: Who) -> Caller {
        match w {
            Who::Lead => self.lead,
            Who::Developer => self.developer,
            Who::Reviewer => self.reviewer,
            Who::Admin => self.admin,
            Who::Outsider => self.outsider,
        }
    }
}

async fn world() -> World {
    let (portal, store, clock) =
        in_memory_portal(Utc.with_ymd_and_hms(2026, 11, 2, 9, 0, 0).unwrap());
    let admin = portal
        .accounts()
        .create_staff(
            None,
            "admin@provider.example",
            "Admin",
            StaffRole::Admin,
            "correct horse battery",
        )
        .await
        .unwrap();
    let admin = Caller::Staff {
        id: admin.id,
        role: StaffRole::Admin,
    };
    let rev = portal
        .accounts()
        .create_staff(
            Some(admin),
            "rev@provider.example",
            "Rev",
            StaffRole::Reviewer,
            "correct horse battery",
        )
        .await
        .unwrap();
    let reviewer = Caller::Staff {
        id: rev.id,
        role: StaffRole::Reviewer,
    };
    let product = portal
        .catalog()
        .create_product(admin, "Account Data API", "balances")
        .await
        .unwrap();
    let plan = portal
        .catalog()
        .create_plan(
            admin,
            product.id,
            PlanInput {
                name: "Standard".into(),
                has_sandbox: true,
                sandbox_access: SandboxAccessMode::Open,
                endpoints: vec!["GET /v1/accounts".into()],
                events: vec![],
                test_data: vec![],
                form: None,
                pricing: Pricing::Paid {
                    currency: Currency::new("EUR").unwrap(),
                    monthly_fee: dec!(49),
                    included_requests: 10,
                    price_per_request: dec!(0.01),
                    payment_grace_days: 14,
                },
                gates: vec![
                    Gate::DeclaredUseCase,
                    Gate::ConsentHandling,
                    Gate::BillingOwnership,
                ],
                integration_min_calls: 0,
                waive_separation_of_duties: false,
            },
        )
        .await
        .unwrap();
    let lead = portal
        .accounts()
        .sign_up("lead@acme.example", "Lead", "correct horse battery")
        .await
        .unwrap();
    let lead_c = Caller::Account(lead.id);
    let ws = portal
        .workspaces()
        .create_workspace(lead_c, "Acme")
        .await
        .unwrap();
    portal
        .workspaces()
        .set_roles(
            lead_c,
            ws.id,
            lead.id,
            RoleSet::of(&[Role::Owner, Role::TechnicalLead]),
        )
        .await
        .unwrap();
    let dev = portal
        .accounts()
        .sign_up("dev@acme.example", "Dev", "correct horse battery")
        .await
        .unwrap();
    let inv = portal
        .workspaces()
        .invite(
            lead_c,
            ws.id,
            "dev@acme.example",
            RoleSet::of(&[Role::Developer, Role::Billing]),
            None,
        )
        .await
        .unwrap();
    portal
        .workspaces()
        .accept_invitation(Caller::Account(dev.id), inv.id)
        .await
        .unwrap();
    portal
        .workspaces()
        .name_responsible(
            lead_c,
            ws.id,
            onboarding_core::workspace::Responsibility::BillingOwner,
            Some(dev.id),
        )
        .await
        .unwrap();
    let outsider = portal
        .accounts()
        .sign_up("eve@evil.example", "Eve", "correct horse battery")
        .await
        .unwrap();
    portal
        .workspaces()
        .create_workspace(Caller::Account(outsider.id), "Evil")
        .await
        .unwrap();
    let project = portal
        .projects()
        .create_project(
            lead_c,
            ws.id,
            "Sync",
            "Balance sync",
            &["GET /v1/accounts".into()],
            &[],
        )
        .await
        .unwrap();
    let sub = portal
        .pipeline()
        .subscribe(lead_c, project.id, plan.id)
        .await
        .unwrap();
    World {
        portal,
        store,
        clock,
        lead: lead_c,
        developer: Caller::Account(dev.id),
        reviewer,
        admin,
        outsider: Caller::Account(outsider.id),
        sub: sub.id,
    }
}

async fn run(w: &World, step: Step) -> Result<bool, ()> {
    let p = &w.portal;
    let answers = serde_json::from_value(serde_json::json!({
        "use_case": "bookkeeping", "data_usage": "balances for 30 days",
        "consent_capture": "consent screen", "consent_withdrawal": "settings page"
    }))
    .unwrap();
    let first = |env: Environment| async move {
        w.store_credentials()
            .await
            .into_iter()
            .find(|c| c.environment == env)
            .map(|c| c.id)
    };
    let r = match step {
        Step::CreateSandboxCredential(x) => p
            .credentials()
            .create_credential(
                w.caller(x),
                w.sub,
                Environment::Sandbox,
                NewCredentialKind::ApiKey,
                "k",
            )
            .await
            .map(|_| false),
        Step::RevokeFirstCredential(x) => match first(Environment::Sandbox).await {
            Some(id) => p
                .credentials()
                .revoke_credential(w.caller(x), id)
                .await
                .map(|_| false),
            None => return Err(()),
        },
        Step::RotateFirst(x) => match first(Environment::Sandbox).await {
            Some(id) => p
                .credentials()
                .rotate_credential(w.caller(x), id, GracePeriod::DEFAULT, None)
                .await
                .map(|_| false),
            None => return Err(()),
        },
        Step::Submit(x) => p
            .pipeline()
            .submit(w.caller(x), w.sub, Some(answers), None)
            .await
            .map(|_| true),
        Step::Withdraw(x) => p
            .pipeline()
            .withdraw(w.caller(x), w.sub, None)
            .await
            .map(|_| true),
        Step::Approve(x) => p
            .pipeline()
            .approve(w.caller(x), w.sub, None)
            .await
            .map(|_| true),
        Step::Reject(x) => p
            .pipeline()
            .reject(w.caller(x), w.sub, Some("no"), None)
            .await
            .map(|_| true),
        Step::RequestChanges(x, notes) => p
            .pipeline()
            .request_changes(
                w.caller(x),
                w.sub,
                if notes { "fix it" } else { "  " },
                None,
            )
            .await
            .map(|_| true),
        Step::Reopen(x) => p
            .pipeline()
            .reopen(w.caller(x), w.sub, None)
            .await
            .map(|_| true),
        Step::SignOffConsent(x) => p
            .pipeline()
            .sign_off_gate(w.caller(x), w.sub, Gate::ConsentHandling)
            .await
            .map(|_| false),
        Step::Pay(x) => p
            .billing()
            .confirm_payment(w.caller(x), w.sub, dec!(49), "EUR", "INV-1")
            .await
            .map(|_| false),
        Step::Clone(x) => p
            .projects()
            .clone_to_production(w.caller(x), w.sub)
            .await
            .map(|_| false),
        Step::CreateProductionCredential(x) => p
            .credentials()
            .create_credential(
                w.caller(x),
                w.sub,
                Environment::Production,
                NewCredentialKind::ApiKey,
                "live",
            )
            .await
            .map(|_| false),
        Step::AdvanceClock => {
            w.clock.advance(TimeDelta::hours(13));
            return Err(());
        }
    };
    r.map_err(|_| ())
}

impl World {
    async fn store_credentials(&self) -> Vec<onboarding_core::credential::Credential> {
        use onboarding_core::ports::CredentialStore;
        self.store
            .credentials_of_subscription(self.sub)
            .await
            .unwrap()
    }
}

async fn snapshot(w: &World) -> (String, usize, usize) {
    use onboarding_core::ports::SubscriptionStore;
    let s = w.store.subscription(w.sub).await.unwrap().unwrap();
    (
        format!("{s:?}"),
        w.store.audit_events().len(),
        w.store_credentials().await.len(),
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    #[test]
    fn no_illegal_state_is_reachable(steps in proptest::collection::vec(step(), 1..40)) {
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        rt.block_on(async {
            let w = world().await;
            for s in steps {
                let before = snapshot(&w).await;
                match run(&w, s).await {
                    Err(()) => {
                        let after = snapshot(&w).await;
                        assert_eq!(before, after, "a refused {s:?} changed state");
                    }
                    Ok(is_transition) => {
                        let after = snapshot(&w).await;
                        assert_ne!(before, after, "{s:?} succeeded without a change");
                        // A paid plan's approval also records the up-front invoice it issues.
                        let audited = if matches!(s, Step::Approve(_)) { 2 } else { 1 };
                        assert_eq!(after.1, before.1 + audited, "{s:?} must write exactly {audited} audit event(s)");
                        if is_transition {
                            assert_ne!(before.0, after.0);
                        }
                    }
                }
                use onboarding_core::ports::{InvoiceStore, SubscriptionStore, ProjectStore};
                let sub = w.store.subscription(w.sub).await.unwrap().unwrap();
                let paid = w.store.invoices_of_subscription(w.sub).await.unwrap().iter().any(|i| {
                    i.kind == onboarding_core::invoicing::InvoiceKind::UpFront
                        && i.state == onboarding_core::invoicing::InvoiceState::Paid
                });
                for c in w.store_credentials().await {
                    let project = w.store.project(c.project_id).await.unwrap().unwrap();
                    prop_assert_eq!(project.environment, c.environment, "credential in a project of the other environment");
                    if c.environment == Environment::Production {
                        prop_assert_eq!(sub.phase.kind(), PhaseKind::Production);
                        prop_assert!(paid, "production credential on an unpaid paid plan");
                    }
                }
            }
            let chains = w.portal.audit().verify_all_audit_chains().await.unwrap();
            prop_assert!(chains.iter().all(|(_, r)| r.is_ok()));
            Ok(())
        })?;
    }
}

/// The harness is not vacuous: the directed happy sequence reaches a production credential.
#[test]
fn the_happy_sequence_reaches_production_credentials() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async {
        let w = world().await;
        for s in [
            Step::CreateSandboxCredential(Who::Developer),
            Step::Submit(Who::Lead),
            Step::SignOffConsent(Who::Reviewer),
            Step::Approve(Who::Reviewer),
            Step::Clone(Who::Lead),
            Step::Pay(Who::Admin),
            Step::CreateProductionCredential(Who::Lead),
        ] {
            assert_eq!(
                run(&w, s).await,
                Ok(matches!(s, Step::Submit(_) | Step::Approve(_))),
                "{s:?}"
            );
        }
        assert!(
            w.store_credentials()
                .await
                .iter()
                .any(|c| c.environment == Environment::Production)
        );
        // And the refusals the property relies on really are refusals.
        assert_eq!(run(&w, Step::Approve(Who::Lead)).await, Err(()));
        assert_eq!(
            run(&w, Step::CreateProductionCredential(Who::Outsider)).await,
            Err(())
        );
    });
}
