//! The demo catalog (spec §13): a realistic API product with a paid and a free plan, read from
//! `fixtures/demo-plan.json`, so that a new portal shows something believable.

use serde::Deserialize;

use crate::form::SubmissionForm;
use crate::gates::Gate;
use crate::plan::{Pricing, SandboxAccessMode, TestDataEntry};
use crate::services::PlanInput;

/// The demo fixture, as shipped.
pub const DEMO_PLAN_JSON: &str = include_str!("../fixtures/demo-plan.json");

#[derive(Debug, Deserialize)]
struct Fixture {
    product: ProductSpec,
    plans: Vec<PlanSpec>,
}

/// The demo product.
#[derive(Debug, Clone, Deserialize)]
pub struct ProductSpec {
    /// The product's display name, shown in the catalog.
    pub name: String,
    /// A short description of what the product's API does.
    pub description: String,
}

#[derive(Debug, Deserialize)]
struct PlanSpec {
    name: String,
    has_sandbox: bool,
    sandbox_access: SandboxAccessMode,
    endpoints: Vec<String>,
    events: Vec<String>,
    pricing: Pricing,
    gates: Vec<Gate>,
    integration_verification_min_calls: u64,
    #[serde(default)]
    sandbox_test_data: Vec<TestDataEntry>,
    #[serde(default)]
    submission_form: Option<SubmissionForm>,
}

/// The demo product and its plans, ready for [`Portal::create_plan`](crate::Portal::create_plan).
pub fn demo_catalog() -> (ProductSpec, Vec<PlanInput>) {
    let f: Fixture =
        serde_json::from_str(DEMO_PLAN_JSON).expect("the bundled demo fixture is valid");
    let plans = f
        .plans
        .into_iter()
        .map(|p| PlanInput {
            name: p.name,
            has_sandbox: p.has_sandbox,
            sandbox_access: p.sandbox_access,
            endpoints: p.endpoints,
            events: p.events,
            test_data: p.sandbox_test_data,
            form: p.submission_form,
            pricing: p.pricing,
            gates: p.gates,
            integration_min_calls: p.integration_verification_min_calls,
            waive_separation_of_duties: false,
        })
        .collect();
    (f.product, plans)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_fixture_parses_into_a_paid_and_a_free_plan() {
        let (product, plans) = super::demo_catalog();
        assert_eq!(product.name, "Account Data API");
        assert_eq!(plans.len(), 2);
        assert!(plans[0].pricing.is_paid());
        assert_eq!(plans[0].form.as_ref().unwrap().steps.len(), 3);
        assert_eq!(plans[0].gates.len(), 7);
        assert!(!plans[1].pricing.is_paid());
    }
}
