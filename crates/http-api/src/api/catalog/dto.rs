//! Request and response bodies of products, plans, forms and pricing.

use crate::text::{Name, Text};
use chrono::{DateTime, Utc};
use onboarding_core::plan::{ApiProduct, Plan};
use poem_openapi::Object;
use serde::{Deserialize, Serialize};

use crate::dto::{page, tag, via};

#[derive(Object, Debug, Clone)]
pub struct ProductDto {
    pub id: String,
    pub name: String,
    pub description: String,
    pub created_at: DateTime<Utc>,
}

impl From<&ApiProduct> for ProductDto {
    fn from(p: &ApiProduct) -> Self {
        Self {
            id: p.id.to_string(),
            name: p.name.to_string(),
            description: p.description.clone(),
            created_at: p.created_at,
        }
    }
}

#[derive(Object, Debug, Clone)]
pub struct CreateProductRequest {
    pub name: Name,
    #[oai(default)]
    pub description: Text,
}

/// One read-only sandbox test data entry.
#[derive(Object, Debug, Clone, Serialize, Deserialize)]
pub struct TestDataDto {
    /// `string`, `number`, `boolean`, `json` or `url`.
    #[oai(rename = "type")]
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
    pub description: String,
    pub value: String,
}

#[derive(Object, Debug, Clone, Serialize, Deserialize)]
pub struct FormFieldDto {
    pub key: Text,
    pub label: Text,
    /// `text`, `textarea`, `select`, `multiselect`, `checkbox`, `url` or `email`.
    pub kind: Text,
    #[oai(default)]
    #[serde(default)]
    pub required: bool,
    #[oai(default)]
    #[serde(default)]
    pub options: Vec<Text>,
    #[oai(skip_serializing_if_is_none)]
    pub help: Option<Text>,
}

#[derive(Object, Debug, Clone, Serialize, Deserialize)]
pub struct FormStepDto {
    pub title: Text,
    pub fields: Vec<FormFieldDto>,
}

/// A submission form: ordered steps of fields (the portal appends the review step).
#[derive(Object, Debug, Clone, Serialize, Deserialize)]
pub struct FormDto {
    pub steps: Vec<FormStepDto>,
}

/// Free, or paid with money as decimal strings (`"499.00"`).
#[derive(Object, Debug, Clone, Serialize, Deserialize)]
pub struct PricingDto {
    /// `free` or `paid`.
    pub kind: Text,
    #[oai(skip_serializing_if_is_none)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub currency: Option<Text>,
    #[oai(skip_serializing_if_is_none)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub monthly_fee: Option<Text>,
    #[oai(skip_serializing_if_is_none)]
    #[serde(skip_serializing_if = "Option::is_none")]
    #[oai(validator(minimum(value = "0"), maximum(value = "1000000000000000")))]
    pub included_requests: Option<u64>,
    #[oai(skip_serializing_if_is_none)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub price_per_request: Option<Text>,
}

#[derive(Object, Debug, Clone)]
pub struct PlanDto {
    pub id: String,
    pub product_id: String,
    pub name: String,
    pub has_sandbox: bool,
    /// `open` or `approval_required`.
    pub sandbox_access: String,
    pub endpoints: Vec<String>,
    pub events: Vec<String>,
    pub submission_form: Option<FormDto>,
    pub pricing: PricingDto,
    /// The production gates that apply, in canonical order.
    pub gates: Vec<String>,
    pub integration_min_calls: u64,
    pub waive_separation_of_duties: bool,
    /// Number of sandbox test data entries; the values are shown on a subscription once its
    /// sandbox access is granted.
    pub test_data_count: u64,
    /// Only in the admin's create/update answers.
    #[oai(skip_serializing_if_is_none)]
    pub test_data: Option<Vec<TestDataDto>>,
    pub created_at: DateTime<Utc>,
    pub version: i64,
}

impl PlanDto {
    pub fn public(p: &Plan) -> Self {
        Self {
            id: p.id.to_string(),
            product_id: p.product_id.to_string(),
            name: p.name.to_string(),
            has_sandbox: p.has_sandbox,
            sandbox_access: tag(&p.sandbox_access),
            endpoints: p.endpoints.clone(),
            events: p.events.clone(),
            submission_form: p.form.as_ref().map(via),
            pricing: via(&p.pricing),
            gates: p.gates.iter().map(|g| g.as_str().into()).collect(),
            integration_min_calls: p.integration_min_calls,
            waive_separation_of_duties: p.waive_separation_of_duties,
            test_data_count: p.test_data.len() as u64,
            test_data: None,
            created_at: p.created_at,
            version: p.version,
        }
    }

    pub fn admin(p: &Plan) -> Self {
        Self {
            test_data: Some(p.test_data.iter().map(via).collect()),
            ..Self::public(p)
        }
    }
}

/// Everything an admin sets on a plan.
#[derive(Object, Debug, Clone, Serialize)]
pub struct PlanInputDto {
    pub name: Name,
    #[oai(default = "yes")]
    pub has_sandbox: bool,
    /// `open` or `approval_required`.
    pub sandbox_access: Text,
    pub endpoints: Vec<Text>,
    #[oai(default)]
    pub events: Vec<Text>,
    #[oai(default)]
    pub test_data: Vec<TestDataDto>,
    #[serde(rename = "form")]
    pub submission_form: Option<FormDto>,
    pub pricing: PricingDto,
    /// Default: all seven gates.
    pub gates: Option<Vec<Text>>,
    #[oai(
        validator(minimum(value = "0"), maximum(value = "1000000000")),
        default
    )]
    pub integration_min_calls: u64,
    #[oai(default)]
    pub waive_separation_of_duties: bool,
    /// Updates: the version the admin loaded (or `If-Match`).
    #[serde(skip)]
    #[oai(validator(minimum(value = "0"), maximum(value = "1000000000000000")))]
    pub version: Option<i64>,
}

fn yes() -> bool {
    true
}

page!(PlanPage, PlanDto);

page!(ProductPage, ProductDto);
