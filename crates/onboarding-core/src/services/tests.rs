//! Use cases against `mockall` mocks of the ports: no database. Each test pins down what the
//! use case reads, and asserts on the one `ChangeSet` it commits: the state change and its
//! audit event travel together, and a refusal commits nothing.

use chrono::TimeDelta;

use super::*;
use crate::credential::{CredentialKind, CredentialStatus, IssuedSecret, SecretKind, SecretRecord};
use crate::pipeline::{Phase, PhaseKind, Subscription};
use crate::plan::{Plan, Pricing};
use crate::project::Environment;
use crate::roles::Role;
use crate::testing::MockPorts as Mocks;
use crate::testing::fixtures::*;
use crate::workspace::Workspace;

/// A plan with no form and only the integration gate: submission goes straight through.
fn simple_plan(min_calls: u64) -> Plan {
    let mut p = standard_plan();
    p.form = None;
    p.gates = vec![crate::gates::Gate::IntegrationVerification];
    p.integration_min_calls = min_calls;
    p
}

fn in_review() -> Subscription {
    sandbox_subscription().submit(dev(), t0(), 1, None).unwrap()
}

fn staff() -> Caller {
    Caller::Staff {
        id: reviewer(),
        role: StaffRole::Reviewer,
    }
}

fn updated_subscription(set: &ChangeSet) -> Option<&Subscription> {
    set.changes.iter().find_map(|c| match c {
        Change::UpdateSubscription { value, .. } => Some(value),
        _ => None,
    })
}

/// The committed set holds exactly one change, the subscription now in `phase`, and exactly
/// one audit event named `action` about it.
fn transition_committed(set: &ChangeSet, phase: PhaseKind, action: &str) -> bool {
    set.changes.len() == 1
        && updated_subscription(set).is_some_and(|s| s.phase.kind() == phase)
        && set.audit.len() == 1
        && set.audit[0].action == action
        && set.audit[0].target == subscription_id().to_string()
}

#[tokio::test]
async fn submit_commits_the_transition_and_its_audit_event_together() {
    let mut m = Mocks::new()
        .member(&[Role::TechnicalLead])
        .subscription(sandbox_subscription())
        .plan(simple_plan(0))
        .sandbox_credentials(1);
    m.uow
        .expect_commit()
        .withf(|set| {
            transition_committed(set, PhaseKind::InReview, "subscription.submitted")
                && set.outbox.len() == 1
        })
        .times(1)
        .returning(|_| Ok(()));
    let s = m
        .into_portal()
        .pipeline()
        .submit(Caller::Account(dev()), subscription_id(), None, Some(0))
        .await
        .unwrap();
    assert_eq!(s.phase.kind(), PhaseKind::InReview);
    assert_eq!(s.version, 1);
}

#[tokio::test]
async fn submit_without_a_sandbox_credential_is_refused_and_writes_nothing() {
    let mut m = Mocks::new()
        .member(&[Role::TechnicalLead])
        .subscription(sandbox_subscription())
        .plan(simple_plan(0))
        .sandbox_credentials(0);
    m.uow.expect_commit().never();
    let err = m
        .into_portal()
        .pipeline()
        .submit(Caller::Account(dev()), subscription_id(), None, None)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            ServiceError::Refused {
                code: RefusalCode::NoSandboxCredential,
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_developer_may_not_submit() {
    let mut m = Mocks::new()
        .member(&[Role::Developer])
        .subscription(sandbox_subscription());
    m.uow.expect_commit().never();
    let err = m
        .into_portal()
        .pipeline()
        .submit(Caller::Account(dev()), subscription_id(), None, None)
        .await
        .unwrap_err();
    assert!(matches!(err, ServiceError::Forbidden { .. }));
}

#[tokio::test]
async fn a_stale_version_is_a_conflict_naming_the_current_phase() {
    let mut moved_on = in_review();
    moved_on.version = 3;
    let mut m = Mocks::new()
        .member(&[Role::TechnicalLead])
        .subscription(moved_on);
    m.uow.expect_commit().never();
    let err = m
        .into_portal()
        .pipeline()
        .submit(Caller::Account(dev()), subscription_id(), None, Some(2))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        ServiceError::Stale {
            message: "the subscription changed since version 2; it is now in_review at version 3"
                .into(),
            current: Some("in_review".into())
        }
    );
}

#[tokio::test]
async fn submit_validates_answers_against_the_plans_form() {
    let mut m = Mocks::new()
        .member(&[Role::TechnicalLead])
        .subscription(sandbox_subscription())
        .plan(standard_plan())
        .sandbox_credentials(1);
    m.uow.expect_commit().never();
    let err = m
        .into_portal()
        .pipeline()
        .submit(Caller::Account(dev()), subscription_id(), None, None)
        .await
        .unwrap_err();
    let ServiceError::InvalidFields(fields) = err else {
        panic!("{err:?}")
    };
    assert!(fields.iter().any(|f| f.field == "answers.legal_name"));
}

#[tokio::test]
async fn approve_commits_production_with_its_audit_event_and_webhook_message() {
    let mut m = Mocks::new()
        .subscription(in_review())
        .plan(simple_plan(25))
        .member(&[Role::Owner])
        .gate_facts(25);
    // A paid plan's approval issues its up-front invoice in the same change.
    m.invoices
        .expect_invoices_of_subscription()
        .returning(|_| Ok(vec![]));
    m.projects
        .expect_project()
        .returning(|_| Ok(Some(sandbox_project())));
    m.uow
        .expect_commit()
        .withf(|set| {
            let (issued, transition) = set.changes.split_at(1);
            let set = ChangeSet {
                changes: transition.to_vec(),
                audit: set.audit[..1].to_vec(),
                outbox: set.outbox.clone(),
            };
            transition_committed(&set, PhaseKind::Production, "subscription.approved")
                && set.outbox[0].event_type == "subscription.approved"
                && matches!(issued, [Change::InsertInvoice(i)] if i.total == rust_decimal::Decimal::new(4900, 2))
                && set.outbox[1].event_type == "invoice.issued"
        })
        .times(1)
        .returning(|_| Ok(()));
    let s = m
        .into_portal()
        .pipeline()
        .approve(staff(), subscription_id(), None)
        .await
        .unwrap();
    assert_eq!(s.notice().unwrap().title(), "Approved");
}

#[tokio::test]
async fn approve_is_refused_while_a_gate_is_pending() {
    let mut m = Mocks::new()
        .subscription(in_review())
        .plan(simple_plan(25))
        .member(&[Role::Owner])
        .gate_facts(24);
    m.uow.expect_commit().never();
    let err = m
        .into_portal()
        .pipeline()
        .approve(staff(), subscription_id(), None)
        .await
        .unwrap_err();
    assert_eq!(
        err,
        ServiceError::GateNotPassed {
            gate: crate::gates::Gate::IntegrationVerification,
            missing: "24 of 25 successful sandbox calls made".into()
        }
    );
}

#[tokio::test]
async fn a_member_calling_a_reviewer_action_is_forbidden() {
    let mut m = Mocks::new()
        .member(&[Role::Owner])
        .subscription(in_review());
    m.uow.expect_commit().never();
    let err = m
        .into_portal()
        .pipeline()
        .approve(Caller::Account(dev()), subscription_id(), None)
        .await
        .unwrap_err();
    assert!(matches!(err, ServiceError::Forbidden { .. }));
}

/// Another tenant's account learns nothing from a staff action: the id answers as unknown,
/// exactly as for an id that does not exist.
#[tokio::test]
async fn another_tenants_account_calling_a_reviewer_action_gets_not_found() {
    let mut m = Mocks::new().subscription(in_review());
    m.workspaces.expect_members().returning(|_| Ok(vec![]));
    m.uow.expect_commit().never();
    let outsider = Caller::Account(other_account());
    let p = m.into_portal();
    // The answer a subscription id that exists nowhere gets.
    let not_found = |e: ServiceError| {
        matches!(
            e,
            ServiceError::NotFound {
                entity: "subscription"
            }
        )
    };
    assert!(not_found(
        p.pipeline()
            .approve(outsider, subscription_id(), None)
            .await
            .unwrap_err()
    ));
    assert!(not_found(
        p.pipeline()
            .reject(outsider, subscription_id(), None, None)
            .await
            .unwrap_err()
    ));
    assert!(not_found(
        p.pipeline()
            .request_changes(outsider, subscription_id(), "x", None)
            .await
            .unwrap_err()
    ));
    assert!(not_found(
        p.pipeline()
            .reopen(outsider, subscription_id(), None)
            .await
            .unwrap_err()
    ));
    assert!(not_found(
        p.pipeline()
            .decide_sandbox_access(outsider, subscription_id(), true, None)
            .await
            .unwrap_err()
    ));
    assert!(not_found(
        p.pipeline()
            .sign_off_gate(
                outsider,
                subscription_id(),
                crate::gates::Gate::ConsentHandling
            )
            .await
            .unwrap_err()
    ));
    assert!(not_found(
        p.billing()
            .confirm_payment(
                outsider,
                subscription_id(),
                rust_decimal::Decimal::ONE,
                "EUR",
                "ref"
            )
            .await
            .unwrap_err()
    ));
}

#[tokio::test]
async fn losing_a_concurrent_decision_reports_the_winners_phase() {
    let mut m = Mocks::new()
        .plan(simple_plan(0))
        .member(&[Role::Owner])
        .gate_facts(0);
    let mut seq = mockall::Sequence::new();
    let approved = in_review()
        .approve(
            reviewer(),
            t0(),
            &crate::gates::GateEvaluation { gates: vec![] },
        )
        .unwrap();
    m.subscriptions
        .expect_subscription()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(Some(in_review())));
    m.subscriptions
        .expect_subscription()
        .times(1)
        .in_sequence(&mut seq)
        .returning(move |_| Ok(Some(approved.clone())));
    m.uow
        .expect_commit()
        .times(1)
        .returning(|_| Err(StoreError::Conflict("subscription".into())));
    let err = m
        .into_portal()
        .pipeline()
        .reject(staff(), subscription_id(), Some("no"), None)
        .await
        .unwrap_err();
    assert!(
        matches!(err, ServiceError::Stale { current: Some(ref c), .. } if c == "production"),
        "{err:?}"
    );
}

#[tokio::test]
async fn request_changes_requires_notes_and_commits_them() {
    let mut m = Mocks::new().subscription(in_review());
    m.uow.expect_commit().never();
    let err = m
        .into_portal()
        .pipeline()
        .request_changes(staff(), subscription_id(), "   ", None)
        .await
        .unwrap_err();
    assert!(matches!(err, ServiceError::Invalid(ref f) if f.field == "notes"));

    let mut m = Mocks::new().subscription(in_review());
    m.uow
        .expect_commit()
        .withf(|set| {
            transition_committed(set, PhaseKind::Sandbox, "subscription.changes_requested")
                && matches!(&updated_subscription(set).unwrap().phase, Phase::Sandbox { changes_requested: Some(c) } if c.notes.as_str() == "Explain data retention")
                && set.audit[0].details["notes"] == "Explain data retention"
        })
        .times(1)
        .returning(|_| Ok(()));
    let s = m
        .into_portal()
        .pipeline()
        .request_changes(staff(), subscription_id(), " Explain data retention ", None)
        .await
        .unwrap();
    assert_eq!(s.notice().unwrap().title(), "Changes Requested");
}

fn approved_and_cloned() -> Subscription {
    let mut s = approved_subscription();
    s.production_project_id = Some(ProjectId::from_ulid(ulid::Ulid::from_parts(5, 5)));
    s
}

/// The fixture subscription's up-front invoice, paid in full.
fn paid_up_front() -> crate::invoicing::IssuedInvoice {
    let subject = crate::invoicing::InvoiceSubject {
        workspace_id: workspace_id(),
        subscription_id: subscription_id(),
        project_id: sandbox_project().id,
        project_name: "p".into(),
    };
    let id = InvoiceId::from_ulid(ulid::Ulid::from_parts(6, 6));
    let i = crate::invoicing::up_front_invoice(id, &subject, &standard_plan(), t0()).unwrap();
    i.pay(i.total, &i.currency, t0()).unwrap()
}

#[tokio::test]
async fn production_credentials_stay_locked_until_payment_on_a_paid_plan() {
    let mut m = Mocks::new()
        .member(&[Role::TechnicalLead])
        .subscription(approved_and_cloned())
        .plan(standard_plan());
    m.invoices
        .expect_invoices_of_subscription()
        .returning(|_| Ok(vec![]));
    m.uow.expect_commit().never();
    let err = m
        .into_portal()
        .credentials()
        .create_credential(
            Caller::Account(dev()),
            subscription_id(),
            Environment::Production,
            NewCredentialKind::ApiKey,
            "live",
        )
        .await
        .unwrap_err();
    assert_eq!(
        err,
        ServiceError::Locked(crate::credential::LockReason::PaymentRequired)
    );
}

#[tokio::test]
async fn production_credentials_are_refused_before_approval() {
    let mut m = Mocks::new()
        .member(&[Role::TechnicalLead])
        .subscription(in_review())
        .plan(standard_plan());
    m.invoices
        .expect_invoices_of_subscription()
        .returning(|_| Ok(vec![]));
    m.uow.expect_commit().never();
    let err = m
        .into_portal()
        .credentials()
        .create_credential(
            Caller::Account(dev()),
            subscription_id(),
            Environment::Production,
            NewCredentialKind::ApiKey,
            "live",
        )
        .await
        .unwrap_err();
    assert_eq!(
        err,
        ServiceError::Locked(crate::credential::LockReason::NotApproved)
    );
}

#[tokio::test]
async fn a_production_credential_is_created_with_its_audit_event_and_only_its_hash_is_stored() {
    let mut m = Mocks::new()
        .member(&[Role::TechnicalLead])
        .subscription(approved_and_cloned())
        .plan(standard_plan());
    m.invoices
        .expect_invoices_of_subscription()
        .returning(|_| Ok(vec![paid_up_front()]));
    let secret =
        IssuedSecret::new(SecretKind::ApiKey, Environment::Production, &"Q".repeat(32)).unwrap();
    let plaintext = secret.expose().to_owned();
    m.uow
        .expect_commit()
        .withf(move |set| {
            let stored = format!("{set:?}");
            matches!(&set.changes[..], [Change::InsertCredential(c)]
                if c.environment == Environment::Production
                && c.project_id == ProjectId::from_ulid(ulid::Ulid::from_parts(5, 5))
                && c.secret.hash == SecretHash::of(&plaintext))
                && set.audit.len() == 1
                && set.audit[0].action == "credential.created"
                && !stored.contains(&plaintext)
        })
        .times(1)
        .returning(|_| Ok(()));
    let created = m
        .into_portal()
        .credentials()
        .create_credential(
            Caller::Account(dev()),
            subscription_id(),
            Environment::Production,
            NewCredentialKind::ApiKey,
            "live",
        )
        .await
        .unwrap();
    assert!(created.secret.expose().starts_with("sk_prod_"));
    assert_eq!(created.credential.status, CredentialStatus::Active);
}

use crate::credential::SecretHash;

#[tokio::test]
async fn rotate_keeps_the_old_hash_until_the_deadline() {
    let old = IssuedSecret::new(SecretKind::ApiKey, Environment::Sandbox, &"b".repeat(32)).unwrap();
    let cred = credential(Environment::Sandbox, &old);
    let mut m = Mocks::new().member(&[Role::Developer]);
    let c2 = cred.clone();
    m.credentials
        .expect_credential()
        .returning(move |_| Ok(Some(c2.clone())));
    let old_hash = old.hash();
    m.uow
        .expect_commit()
        .withf(move |set| {
            matches!(&set.changes[..], [Change::UpdateCredential { value, expected_version: 0 }]
                if value.previous.as_ref().is_some_and(|p| p.hash == old_hash && p.expires_at == t0() + TimeDelta::hours(2))
                && value.secret.hash != old_hash)
                && set.audit[0].action == "credential.rotated"
        })
        .times(1)
        .returning(|_| Ok(()));
    let grace = crate::credential::GracePeriod::new(TimeDelta::hours(2)).unwrap();
    m.into_portal()
        .credentials()
        .rotate_credential(Caller::Account(dev()), credential_id(), grace, None)
        .await
        .unwrap();
}

#[tokio::test]
async fn verify_refuses_a_one_character_change_without_a_lookup() {
    let mut m = Mocks::new();
    m.credentials.expect_find_by_secret_hash().never();
    let good =
        IssuedSecret::new(SecretKind::ApiKey, Environment::Sandbox, &"c".repeat(32)).unwrap();
    let mut bad = good.expose().to_owned();
    bad.replace_range(10..11, "d");
    let answer = m
        .into_portal()
        .credentials()
        .verify_secret(&bad, None, None, true)
        .await
        .unwrap();
    assert_eq!(
        answer.reason,
        Some(crate::credential::VerifyRefusal::BadChecksum)
    );
}

#[tokio::test]
async fn verify_answers_the_full_identity_of_a_valid_secret() {
    let secret =
        IssuedSecret::new(SecretKind::ApiKey, Environment::Sandbox, &"c".repeat(32)).unwrap();
    let cred = credential(Environment::Sandbox, &secret);
    let mut m = Mocks::new();
    let s = sandbox_subscription();
    m.subscriptions
        .expect_plan_and_phase()
        .withf(move |id| *id == s.id)
        .times(1)
        .returning(move |_| Ok(Some((s.plan_id, s.phase.kind()))));
    m.subscriptions.expect_subscription().never();
    m.credentials
        .expect_find_by_secret_hash()
        .returning(move |_| {
            Ok(Some((
                cred.clone(),
                crate::credential::SecretMatch::Current,
            )))
        });
    let a = m
        .into_portal()
        .credentials()
        .verify_secret(
            secret.expose(),
            Some(Environment::Sandbox),
            Some("GET /v1/accounts"),
            true,
        )
        .await
        .unwrap();
    assert!(a.valid);
    assert_eq!(
        (a.workspace_id, a.environment, a.phase, a.credential_id),
        (
            Some(workspace_id()),
            Some(Environment::Sandbox),
            Some(PhaseKind::Sandbox),
            Some(credential_id())
        )
    );
    let _ = (
        CredentialKind::ApiKey,
        SecretRecord::of(&secret, t0()),
        Pricing::Free,
    );
}

#[tokio::test]
async fn the_queue_reads_a_shared_plan_and_workspace_once_per_page() {
    let three: Vec<Subscription> = (0..3)
        .map(|i| Subscription {
            id: SubscriptionId::from_ulid(ulid::Ulid::from_parts(2, i)),
            ..in_review()
        })
        .collect();
    let mut m = Mocks::new().member(&[Role::Owner]).gate_facts(25);
    m.subscriptions
        .expect_review_queue()
        .times(1)
        .returning(move |_, _| Ok(three.clone()));
    let plan = simple_plan(25);
    m.plans
        .expect_plan()
        .times(1)
        .returning(move |_| Ok(Some(plan.clone())));
    m.projects
        .expect_project()
        .times(3)
        .returning(|_| Ok(Some(sandbox_project())));
    // gate_facts answers any number of workspace reads; this one counts them.
    m.workspaces.checkpoint();
    let ws = Workspace {
        id: workspace_id(),
        name: crate::values::Label::new("Acme").unwrap(),
        billing_owner: None,
        audit_contact: None,
        security_owner: None,
        created_at: t0(),
        created_by: dev(),
        version: 0,
    };
    m.workspaces
        .expect_workspace()
        .times(1)
        .returning(move |_| Ok(Some(ws.clone())));
    m.workspaces
        .expect_members()
        .times(1)
        .returning(|_| Ok(vec![]));
    let rows = m
        .into_portal()
        .pipeline()
        .review_queue(staff(), None, 50)
        .await
        .unwrap();
    assert_eq!(rows.len(), 3);
    assert!(rows.iter().all(|r| r.workspace_name == "Acme"));
    assert!(
        rows.iter()
            .all(|r| r.plan_name == simple_plan(25).name.to_string())
    );
}
