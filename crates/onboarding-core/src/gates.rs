//! The production review's gates (spec §6): evaluated by one pure function from a snapshot of
//! facts, in canonical order; the first one not passed is "the remaining gate".

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use crate::form::ValidAnswers;
use crate::plan::{Plan, evidence};
use crate::roles::Role;

/// The seven production gates, declared in canonical order.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    strum::VariantArray,
)]
#[serde(rename_all = "snake_case")]
pub enum Gate {
    /// Gate 1: The submission states the use case and how the returned data is used; a reviewer signs it
    /// off.
    DeclaredUseCase,
    /// Gate 2: How end-user consent is captured and withdrawn; a reviewer signs it off.
    ConsentHandling,
    /// Gate 3: A verified webhook endpoint and a successful signed test delivery in the last 7 days.
    WebhookVerification,
    /// Gate 4: The sandbox credentials made at least the plan's minimum of successful calls on its
    /// endpoints.
    IntegrationVerification,
    /// Gate 5: A member with the `billing` role is named billing owner.
    BillingOwnership,
    /// Gate 6: A `compliance` member is named audit contact.
    AuditReadiness,
    /// Gate 7: A `security_owner` is named, and it is neither the account that submitted nor an
    /// `owner` (separation of duties, unless the plan waives it).
    InternalAccessControls,
}

impl Gate {
    /// Canonical order: evaluation and "the remaining gate" follow it.
    pub const ALL: &'static [Gate] = <Gate as strum::VariantArray>::VARIANTS;

    /// The snake_case name used in plans, the API and audit details (`webhook_verification`).
    pub fn as_str(self) -> &'static str {
        match self {
            Gate::DeclaredUseCase => "declared_use_case",
            Gate::ConsentHandling => "consent_handling",
            Gate::WebhookVerification => "webhook_verification",
            Gate::IntegrationVerification => "integration_verification",
            Gate::BillingOwnership => "billing_ownership",
            Gate::AuditReadiness => "audit_readiness",
            Gate::InternalAccessControls => "internal_access_controls",
        }
    }

    /// The label users see.
    pub fn title(self) -> &'static str {
        match self {
            Gate::DeclaredUseCase => "Declared use case",
            Gate::ConsentHandling => "Consent handling",
            Gate::WebhookVerification => "Webhook verification",
            Gate::IntegrationVerification => "Integration verification",
            Gate::BillingOwnership => "Billing ownership",
            Gate::AuditReadiness => "Audit readiness",
            Gate::InternalAccessControls => "Internal access controls",
        }
    }

    /// Gates a reviewer must sign off by hand once their evidence is in.
    pub fn needs_sign_off(self) -> bool {
        matches!(self, Gate::ConsentHandling)
    }

    /// The inverse of [`as_str`](Self::as_str); `None` for an unknown name.
    pub fn parse(s: &str) -> Option<Gate> {
        Gate::ALL.iter().copied().find(|g| g.as_str() == s)
    }
}

/// Who must act to move a pending gate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "role", rename_all = "snake_case")]
pub enum GateActor {
    /// A workspace member holding this role (or an owner).
    Member(Role),
    /// The provider's reviewers.
    Reviewer,
}

/// The state of one gate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum GateState {
    /// The gate is satisfied.
    Passed,
    /// Not yet satisfied, but can be: something is missing and someone must act.
    Pending {
        /// What is missing, in a sentence for the go-live queue.
        missing: String,
        /// Who must act to clear it.
        actor: GateActor,
    },
    /// Not satisfied in a way that needs fixing, not just waiting (e.g. a failed test delivery).
    Failed {
        /// Why it failed.
        reason: String,
        /// Who must act to fix it.
        actor: GateActor,
    },
}

/// One gate and where it stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GateStatus {
    /// Which gate.
    pub gate: Gate,
    /// Passed, pending or failed; flattened into the gate's JSON object.
    #[serde(flatten)]
    pub state: GateState,
}

impl GateStatus {
    /// Whether the gate passed.
    pub fn passed(&self) -> bool {
        self.state == GateState::Passed
    }
}

/// How long a successful signed test delivery counts for the webhook gate.
pub const WEBHOOK_TEST_DELIVERY_WINDOW: TimeDelta = TimeDelta::days(7);

/// A named responsible (billing owner, audit contact, security owner) and whether that member
/// still holds the role the gate asks of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Responsible {
    /// Nobody is named.
    #[default]
    NotNamed,
    /// Named, but no longer holds the role (or left the workspace).
    LacksRole,
    /// Named, and holds the required role.
    Named,
}

/// Everything gate evaluation reads, gathered through the ports by the service.
#[derive(Debug, Clone, Default)]
pub struct GateFacts {
    /// The submitted answers, if any.
    pub answers: Option<ValidAnswers>,
    /// Gates a reviewer has signed off for the current submission.
    pub signed_off: Vec<Gate>,
    /// The project has at least one verified webhook endpoint.
    pub verified_webhook_endpoint: bool,
    /// The latest signed test delivery and whether it succeeded.
    pub last_test_delivery: Option<(DateTime<Utc>, bool)>,
    /// Successful calls made with the subscription's sandbox credentials.
    pub successful_sandbox_calls: u64,
    /// The named billing owner (gate 5, needs the `billing` role).
    pub billing_owner: Responsible,
    /// The named audit contact (gate 6, needs the `compliance` role).
    pub audit_contact: Responsible,
    /// The named security owner (gate 7, needs the `security_owner` role).
    pub security_owner: Responsible,
    /// The named security owner is the account that submitted (the current submission, or
    /// the latest one).
    pub security_owner_submitted: bool,
    /// The named security owner holds the `owner` role: an owner may do everything, so it
    /// cannot be the check on itself.
    pub security_owner_is_owner: bool,
}

/// The result of evaluating a plan's gates: one status per applicable gate, canonical order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GateEvaluation {
    /// One status per gate the plan applies, in canonical order.
    pub gates: Vec<GateStatus>,
}

impl GateEvaluation {
    /// The first gate not passed, in canonical order.
    pub fn remaining_gate(&self) -> Option<&GateStatus> {
        self.gates.iter().find(|g| !g.passed())
    }

    /// Whether every applicable gate passed: the condition for approval.
    pub fn all_passed(&self) -> bool {
        self.remaining_gate().is_none()
    }

    /// How many applicable gates passed (the go-live queue's "5 of 7").
    pub fn passed_count(&self) -> usize {
        self.gates.iter().filter(|g| g.passed()).count()
    }
}

/// Evaluates every gate the plan applies, in canonical order.
///
/// # Examples
///
/// ```
/// use chrono::{TimeZone, Utc};
/// use onboarding_core::demo::demo_catalog;
/// use onboarding_core::gates::{evaluate, Gate, GateFacts, Responsible};
/// use onboarding_core::ids::{PlanId, ProductId};
/// use onboarding_core::plan::Plan;
/// use onboarding_core::values::Label;
/// use ulid::Ulid;
///
/// let now = Utc.with_ymd_and_hms(2026, 11, 2, 9, 30, 0).unwrap();
/// // The demo's paid plan applies all seven gates.
/// let input = demo_catalog().1.remove(0);
/// let plan = Plan {
///     id: PlanId::from_ulid(Ulid::from_parts(1, 1)),
///     product_id: ProductId::from_ulid(Ulid::from_parts(1, 2)),
///     name: Label::new(&input.name).unwrap(),
///     has_sandbox: input.has_sandbox,
///     sandbox_access: input.sandbox_access,
///     endpoints: input.endpoints,
///     events: input.events,
///     test_data: input.test_data,
///     form: input.form,
///     pricing: input.pricing,
///     gates: input.gates,
///     integration_min_calls: input.integration_min_calls,
///     waive_separation_of_duties: false,
///     created_at: now,
///     version: 0,
/// };
///
/// // Nothing done yet: the first gate in canonical order is the remaining gate.
/// let facts = GateFacts::default();
/// let evaluation = evaluate(&plan, &facts, now);
/// assert_eq!(evaluation.gates.len(), 7);
/// assert_eq!(evaluation.remaining_gate().unwrap().gate, Gate::DeclaredUseCase);
/// assert!(!evaluation.all_passed());
///
/// // Naming a billing owner who holds the `billing` role passes gate 5.
/// let facts = GateFacts { billing_owner: Responsible::Named, ..GateFacts::default() };
/// let evaluation = evaluate(&plan, &facts, now);
/// let billing = evaluation.gates.iter().find(|g| g.gate == Gate::BillingOwnership).unwrap();
/// assert!(billing.passed());
/// ```
pub fn evaluate(plan: &Plan, facts: &GateFacts, now: DateTime<Utc>) -> GateEvaluation {
    let gates = Gate::ALL
        .iter()
        .copied()
        .filter(|g| plan.applies(*g))
        .map(|gate| GateStatus {
            gate,
            state: evaluate_one(gate, plan, facts, now),
        })
        .collect();
    GateEvaluation { gates }
}

fn pending(missing: impl Into<String>, actor: GateActor) -> GateState {
    GateState::Pending {
        missing: missing.into(),
        actor,
    }
}

fn responsible(who: Responsible, what: &str, role: Role) -> GateState {
    match who {
        Responsible::Named => GateState::Passed,
        Responsible::NotNamed => pending(
            format!("an owner must name the {what} (a member with the {role} role)"),
            GateActor::Member(Role::Owner),
        ),
        Responsible::LacksRole => GateState::Failed {
            reason: format!("the named {what} no longer holds the {role} role"),
            actor: GateActor::Member(Role::Owner),
        },
    }
}

fn evaluate_one(gate: Gate, plan: &Plan, f: &GateFacts, now: DateTime<Utc>) -> GateState {
    let answered = |keys: &[&str]| {
        f.answers
            .as_ref()
            .is_some_and(|a| keys.iter().all(|k| a.text(k).is_some()))
    };
    let lead = GateActor::Member(Role::TechnicalLead);
    match gate {
        Gate::DeclaredUseCase => {
            if answered(&[evidence::USE_CASE, evidence::DATA_USAGE]) {
                GateState::Passed
            } else {
                pending(
                    "the submission must state the use case and how the returned data is used",
                    lead,
                )
            }
        }
        Gate::ConsentHandling => {
            if !answered(&[evidence::CONSENT_CAPTURE, evidence::CONSENT_WITHDRAWAL]) {
                pending(
                    "the submission must describe how consent is captured and withdrawn",
                    lead,
                )
            } else if f.signed_off.contains(&Gate::ConsentHandling) {
                GateState::Passed
            } else {
                pending(
                    "a reviewer must sign off the consent handling",
                    GateActor::Reviewer,
                )
            }
        }
        Gate::WebhookVerification => {
            let recent = |at: DateTime<Utc>| now - at <= WEBHOOK_TEST_DELIVERY_WINDOW;
            if !f.verified_webhook_endpoint {
                pending(
                    "the project needs a verified webhook endpoint",
                    GateActor::Member(Role::Developer),
                )
            } else {
                match f.last_test_delivery {
                    Some((at, true)) if recent(at) => GateState::Passed,
                    Some((at, false)) if recent(at) => GateState::Failed {
                        reason: "the latest signed test delivery failed".into(),
                        actor: GateActor::Member(Role::Developer),
                    },
                    _ => pending(
                        "send a signed test event that the endpoint accepts (within the last 7 days)",
                        GateActor::Member(Role::Developer),
                    ),
                }
            }
        }
        Gate::IntegrationVerification => {
            if f.successful_sandbox_calls >= plan.integration_min_calls {
                GateState::Passed
            } else {
                pending(
                    format!(
                        "{} of {} successful sandbox calls made",
                        f.successful_sandbox_calls, plan.integration_min_calls
                    ),
                    GateActor::Member(Role::Developer),
                )
            }
        }
        Gate::BillingOwnership => responsible(f.billing_owner, "billing owner", Role::Billing),
        Gate::AuditReadiness => responsible(f.audit_contact, "audit contact", Role::Compliance),
        Gate::InternalAccessControls => {
            let named = responsible(f.security_owner, "security owner", Role::SecurityOwner);
            if named != GateState::Passed || plan.waive_separation_of_duties {
                return named;
            }
            let reason = if f.security_owner_submitted {
                "separation of duties: the security owner submitted this request; name another \
                 member as security owner, or have another member submit"
            } else if f.security_owner_is_owner {
                "separation of duties: the security owner holds the owner role; name a member \
                 who is not an owner (an owner can do everything, so cannot be the check on it)"
            } else {
                return GateState::Passed;
            };
            GateState::Failed {
                reason: reason.into(),
                actor: GateActor::Member(Role::Owner),
            }
        }
    }
}

/// One item of the first live operating pass (spec §6), shown on the production project.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, strum::VariantArray)]
#[serde(rename_all = "snake_case")]
pub enum OperatingItem {
    /// Set at least one alert threshold on the production project.
    SetAlertThresholds,
    /// Confirm a verified endpoint receives deliveries successfully.
    ConfirmWebhookHealth,
    /// Review the first audit entries written in production.
    ReviewFirstLiveAuditEntries,
    /// Give billing members access to usage and invoicing.
    GiveBillingAccess,
}

impl OperatingItem {
    /// Every item, in checklist order.
    pub const ALL: &'static [OperatingItem] = <OperatingItem as strum::VariantArray>::VARIANTS;

    /// The item's line on the checklist.
    pub fn title(self) -> &'static str {
        match self {
            OperatingItem::SetAlertThresholds => "Set alert thresholds",
            OperatingItem::ConfirmWebhookHealth => "Confirm webhook health",
            OperatingItem::ReviewFirstLiveAuditEntries => "Review the first live audit entries",
            OperatingItem::GiveBillingAccess => {
                "Give billing members access to usage and invoicing"
            }
        }
    }
}

/// Facts the operating pass reads.
#[derive(Debug, Clone, Copy, Default)]
pub struct OperatingFacts {
    /// Alert thresholds set on the production project.
    pub alert_thresholds: usize,
    /// At least one enabled, verified endpoint whose latest delivery succeeded.
    pub webhook_healthy: bool,
    /// A member has marked the first live audit entries as reviewed.
    pub live_audit_reviewed: bool,
    /// Members holding the billing role.
    pub billing_members: usize,
}

/// One checklist item and whether it is done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperatingCheck {
    /// The item.
    pub item: OperatingItem,
    /// Whether it is done.
    pub done: bool,
}

/// The operating checklist; it stays on the project page until every item is done.
pub fn operating_checklist(f: &OperatingFacts) -> Vec<OperatingCheck> {
    OperatingItem::ALL
        .iter()
        .copied()
        .map(|item| OperatingCheck {
            item,
            done: match item {
                OperatingItem::SetAlertThresholds => f.alert_thresholds > 0,
                OperatingItem::ConfirmWebhookHealth => f.webhook_healthy,
                OperatingItem::ReviewFirstLiveAuditEntries => f.live_audit_reviewed,
                OperatingItem::GiveBillingAccess => f.billing_members > 0,
            },
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::form::Answers;
    use crate::test_fixtures::{standard_plan, t0};
    use serde_json::json;

    fn all_evidence() -> ValidAnswers {
        let a: Answers = serde_json::from_value(json!({
            "use_case": "accounting integration", "data_usage": "balances kept 30 days",
            "consent_capture": "OAuth consent screen", "consent_withdrawal": "settings page"
        }))
        .unwrap();
        ValidAnswers::from_stored(a)
    }

    fn passing() -> GateFacts {
        GateFacts {
            answers: Some(all_evidence()),
            signed_off: vec![Gate::ConsentHandling],
            verified_webhook_endpoint: true,
            last_test_delivery: Some((t0(), true)),
            successful_sandbox_calls: 25,
            billing_owner: Responsible::Named,
            audit_contact: Responsible::Named,
            security_owner: Responsible::Named,
            security_owner_submitted: false,
            security_owner_is_owner: false,
        }
    }

    fn state(f: &GateFacts, gate: Gate) -> GateState {
        evaluate(&standard_plan(), f, t0())
            .gates
            .into_iter()
            .find(|g| g.gate == gate)
            .unwrap()
            .state
    }

    fn is_pending(s: &GateState) -> bool {
        matches!(s, GateState::Pending { .. })
    }

    #[test]
    fn all_gates_pass_on_complete_facts() {
        let e = evaluate(&standard_plan(), &passing(), t0());
        assert_eq!(e.gates.len(), 7);
        assert!(e.all_passed());
        assert_eq!(e.passed_count(), 7);
    }

    #[test]
    fn declared_use_case() {
        let mut f = passing();
        f.answers = None;
        assert!(matches!(
            state(&f, Gate::DeclaredUseCase),
            GateState::Pending {
                actor: GateActor::Member(Role::TechnicalLead),
                ..
            }
        ));
    }

    #[test]
    fn consent_handling_needs_answers_then_a_sign_off() {
        let mut f = passing();
        f.signed_off.clear();
        assert_eq!(
            state(&f, Gate::ConsentHandling),
            GateState::Pending {
                missing: "a reviewer must sign off the consent handling".into(),
                actor: GateActor::Reviewer
            }
        );
        f.answers = None;
        assert!(matches!(
            state(&f, Gate::ConsentHandling),
            GateState::Pending {
                actor: GateActor::Member(_),
                ..
            }
        ));
    }

    #[test]
    fn webhook_verification_in_each_state() {
        let mut f = passing();
        f.last_test_delivery = Some((t0() - TimeDelta::days(8), true));
        assert!(
            is_pending(&state(&f, Gate::WebhookVerification)),
            "older than 7 days"
        );
        f.last_test_delivery = Some((t0() - TimeDelta::days(7), true));
        assert_eq!(
            state(&f, Gate::WebhookVerification),
            GateState::Passed,
            "exactly 7 days still counts"
        );
        f.last_test_delivery = Some((t0(), false));
        assert!(matches!(
            state(&f, Gate::WebhookVerification),
            GateState::Failed { .. }
        ));
        f.verified_webhook_endpoint = false;
        assert!(is_pending(&state(&f, Gate::WebhookVerification)));
    }

    #[test]
    fn integration_verification_counts_calls_against_the_plan_minimum() {
        let mut f = passing();
        f.successful_sandbox_calls = 24;
        assert_eq!(
            state(&f, Gate::IntegrationVerification),
            GateState::Pending {
                missing: "24 of 25 successful sandbox calls made".into(),
                actor: GateActor::Member(Role::Developer)
            }
        );
    }

    #[test]
    fn responsibles_pending_when_unnamed_and_failed_when_role_lost() {
        for (gate, set) in [
            (
                Gate::BillingOwnership,
                (|f: &mut GateFacts, r| f.billing_owner = r) as fn(&mut GateFacts, Responsible),
            ),
            (Gate::AuditReadiness, |f, r| f.audit_contact = r),
            (Gate::InternalAccessControls, |f, r| f.security_owner = r),
        ] {
            let mut f = passing();
            set(&mut f, Responsible::NotNamed);
            assert!(
                matches!(
                    state(&f, gate),
                    GateState::Pending {
                        actor: GateActor::Member(Role::Owner),
                        ..
                    }
                ),
                "{gate:?}"
            );
            set(&mut f, Responsible::LacksRole);
            assert!(
                matches!(state(&f, gate), GateState::Failed { .. }),
                "{gate:?}"
            );
        }
    }

    #[test]
    fn separation_of_duties_fails_for_a_submitting_or_owning_security_owner_unless_waived() {
        let mut waived = standard_plan();
        waived.waive_separation_of_duties = true;
        // (submitted, holds owner) → passes without the waiver?
        for (submitted, owner, passes) in [
            (false, false, true),
            (true, false, false),
            (false, true, false),
            (true, true, false),
        ] {
            let f = GateFacts {
                security_owner_submitted: submitted,
                security_owner_is_owner: owner,
                ..passing()
            };
            let got = state(&f, Gate::InternalAccessControls);
            assert_eq!(
                got == GateState::Passed,
                passes,
                "{submitted} {owner}: {got:?}"
            );
            if !passes {
                let GateState::Failed { reason, actor } = got else {
                    panic!("a violation is failed, not pending: {got:?}")
                };
                assert!(reason.contains(if submitted { "submitted" } else { "owner role" }));
                assert_eq!(actor, GateActor::Member(Role::Owner));
            }
            assert!(
                evaluate(&waived, &f, t0()).all_passed(),
                "the plan waives it"
            );
        }
        // The waiver never excuses an unnamed security owner.
        let f = GateFacts {
            security_owner: Responsible::NotNamed,
            ..passing()
        };
        assert!(!evaluate(&waived, &f, t0()).all_passed());
    }

    #[test]
    fn the_remaining_gate_is_the_first_not_passed_in_canonical_order() {
        let mut f = passing();
        f.audit_contact = Responsible::NotNamed;
        f.successful_sandbox_calls = 0;
        let e = evaluate(&standard_plan(), &f, t0());
        assert_eq!(
            e.remaining_gate().unwrap().gate,
            Gate::IntegrationVerification
        );
        f.successful_sandbox_calls = 100;
        let e = evaluate(&standard_plan(), &f, t0());
        assert_eq!(e.remaining_gate().unwrap().gate, Gate::AuditReadiness);
    }

    #[test]
    fn only_the_plans_gates_are_evaluated_whatever_order_it_lists_them() {
        let mut plan = standard_plan();
        plan.gates = vec![Gate::IntegrationVerification, Gate::DeclaredUseCase];
        let e = evaluate(&plan, &GateFacts::default(), t0());
        let order: Vec<Gate> = e.gates.iter().map(|g| g.gate).collect();
        assert_eq!(
            order,
            [Gate::DeclaredUseCase, Gate::IntegrationVerification]
        );
    }

    #[test]
    fn operating_checklist_items() {
        let none = operating_checklist(&OperatingFacts::default());
        assert!(none.iter().all(|c| !c.done));
        let all = operating_checklist(&OperatingFacts {
            alert_thresholds: 1,
            webhook_healthy: true,
            live_audit_reviewed: true,
            billing_members: 1,
        });
        assert!(all.iter().all(|c| c.done));
    }
}
