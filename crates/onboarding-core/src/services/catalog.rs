//! The provider's catalog: API products and plans, configured by admins.

use serde::Deserialize;
use serde_json::json;

use super::*;
use crate::form::SubmissionForm;
use crate::plan::{ApiProduct, Plan, Pricing, SandboxAccessMode, TestDataEntry};
use crate::values::Label;

/// Everything an admin sets on a plan (server-owned fields such as id and version excluded).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct PlanInput {
    /// The plan's display name.
    pub name: String,
    /// Whether the plan offers a sandbox.
    pub has_sandbox: bool,
    /// Whether sandbox access is granted at once or needs a reviewer.
    pub sandbox_access: SandboxAccessMode,
    /// The endpoints the plan grants (`METHOD /path`).
    pub endpoints: Vec<String>,
    /// The webhook event types the plan grants.
    pub events: Vec<String>,
    /// Read-only sandbox test data.
    pub test_data: Vec<TestDataEntry>,
    /// The submission form, if the plan has one.
    pub form: Option<SubmissionForm>,
    /// Free, or paid.
    pub pricing: Pricing,
    /// The production gates that apply (each at most once; the demo's paid plan lists all seven).
    pub gates: Vec<Gate>,
    /// Minimum successful sandbox calls for the integration verification gate.
    pub integration_min_calls: u64,
    /// Waive the separation-of-duties half of the internal access controls gate.
    pub waive_separation_of_duties: bool,
}

impl PlanInput {
    fn into_plan(
        self,
        id: PlanId,
        product_id: ProductId,
        created_at: DateTime<Utc>,
        version: i64,
    ) -> ServiceResult<Plan> {
        let plan = Plan {
            id,
            product_id,
            name: Label::for_field("name", &self.name)?,
            has_sandbox: self.has_sandbox,
            sandbox_access: self.sandbox_access,
            endpoints: self.endpoints.iter().map(|e| e.trim().to_owned()).collect(),
            events: self.events.iter().map(|e| e.trim().to_owned()).collect(),
            test_data: self.test_data,
            form: self.form,
            pricing: self.pricing,
            gates: self.gates,
            integration_min_calls: self.integration_min_calls,
            waive_separation_of_duties: self.waive_separation_of_duties,
            created_at,
            version,
        };
        plan.validate()?;
        Ok(plan)
    }
}

impl Catalog {
    /// Creates an API product (admins only; audited in the provider chain).
    pub async fn create_product(
        &self,
        caller: Caller,
        name: &str,
        description: &str,
    ) -> ServiceResult<ApiProduct> {
        let staff = self.cx.require_staff(caller, StaffAction::ConfigurePlans)?;
        let now = self.cx.now();
        let product = ApiProduct {
            id: ProductId::from_ulid(self.cx.ulid()),
            name: Label::for_field("name", name)?,
            description: description.trim().chars().take(2000).collect(),
            created_at: now,
        };
        self.cx
            .change(Actor::Staff(staff), now)
            .with(Change::InsertProduct(product.clone()))
            .audit(
                "product.created",
                product.id,
                json!({ "name": product.name }),
            )
            .commit()
            .await?;
        Ok(product)
    }

    /// Every API product.
    pub async fn products(&self) -> ServiceResult<Vec<ApiProduct>> {
        Ok(self.cx.p.plans.products().await?)
    }

    /// Creates a plan under `product` after validating it (admins only; audited in the provider
    /// chain).
    pub async fn create_plan(
        &self,
        caller: Caller,
        product: ProductId,
        input: PlanInput,
    ) -> ServiceResult<Plan> {
        let staff = self.cx.require_staff(caller, StaffAction::ConfigurePlans)?;
        self.cx
            .p
            .plans
            .product(product)
            .await?
            .ok_or(ServiceError::NotFound { entity: "product" })?;
        let now = self.cx.now();
        let plan = input.into_plan(PlanId::from_ulid(self.cx.ulid()), product, now, 0)?;
        self.cx
            .change(Actor::Staff(staff), now)
            .with(Change::InsertPlan(plan.clone()))
            .audit("plan.created", plan.id, json!({ "name": plan.name }))
            .commit()
            .await?;
        Ok(plan)
    }

    /// Replaces a plan's configuration. `expected_version` guards against two admins editing at once.
    pub async fn update_plan(
        &self,
        caller: Caller,
        id: PlanId,
        input: PlanInput,
        expected_version: Option<i64>,
    ) -> ServiceResult<Plan> {
        let staff = self.cx.require_staff(caller, StaffAction::ConfigurePlans)?;
        let current = self.plan(id).await?;
        if expected_version.is_some_and(|v| v != current.version) {
            return Err(ServiceError::Stale {
                message: "the plan changed since you loaded it".into(),
                current: Some(format!("version {}", current.version)),
            });
        }
        let now = self.cx.now();
        let mut plan =
            input.into_plan(id, current.product_id, current.created_at, current.version)?;
        self.cx
            .change(Actor::Staff(staff), now)
            .update(&mut plan)
            .audit("plan.updated", id, json!({ "version": plan.version }))
            .commit()
            .await?;
        Ok(plan)
    }

    /// The plan with this id; `NotFound` if none.
    pub async fn plan(&self, id: PlanId) -> ServiceResult<Plan> {
        self.cx
            .p
            .plans
            .plan(id)
            .await?
            .ok_or(ServiceError::NotFound { entity: "plan" })
    }

    /// Every plan of every product.
    pub async fn plans(&self) -> ServiceResult<Vec<Plan>> {
        Ok(self.cx.p.plans.plans().await?)
    }
}
