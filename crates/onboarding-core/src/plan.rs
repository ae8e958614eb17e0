//! API products and their plans (spec §3), configured by provider admins.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::form::{FieldKind, FormField, FormStep, SubmissionForm};
use crate::gates::Gate;
use crate::ids::{PlanId, ProductId};
use crate::values::{FieldError, Label};

/// An API product the provider offers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiProduct {
    /// The product's ULID.
    pub id: ProductId,
    /// The product's display name.
    pub name: Label,
    /// What the API does, for the catalog.
    pub description: String,
    /// When the product was created.
    pub created_at: DateTime<Utc>,
}

/// Whether a new subscription gets sandbox access at once or waits for a reviewer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SandboxAccessMode {
    /// Sandbox access is granted at once on subscribing.
    Open,
    /// A reviewer must grant sandbox access before any credential can be created.
    ApprovalRequired,
}

/// The type of a sandbox test data entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TestDataType {
    /// Any text.
    String,
    /// A finite number, written as text (`42`, `0.25`).
    Number,
    /// `true` or `false`.
    Boolean,
    /// A JSON document.
    Json,
    /// An absolute URL.
    Url,
}

/// One read-only sandbox test data entry. The value is kept as text (as the developer copies it)
/// and checked against its type when the admin saves it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TestDataEntry {
    /// How `value` is to be read (and is validated).
    #[serde(rename = "type")]
    pub kind: TestDataType,
    /// The entry's name, as developers refer to it (`test_account_iban`).
    pub name: String,
    /// What the entry is for, in a sentence.
    pub description: String,
    /// The value, as text, in the format `kind` says.
    pub value: String,
}

impl TestDataEntry {
    /// Checks name and value; `at` is the field path to report errors under (`test_data[2]`).
    pub fn validate(&self, at: &str) -> Result<(), FieldError> {
        let name_ok = !self.name.is_empty()
            && self.name.len() <= 64
            && self
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.');
        if !name_ok {
            return Err(FieldError::new(
                format!("{at}.name"),
                "a name is 1-64 characters of letters, digits, _ - .",
            ));
        }
        if self.value.len() > 65_536 {
            return Err(FieldError::new(
                format!("{at}.value"),
                "a value is at most 64 KiB",
            ));
        }
        let ok = match self.kind {
            TestDataType::String => true,
            TestDataType::Number => self.value.trim().parse::<f64>().is_ok_and(f64::is_finite),
            TestDataType::Boolean => matches!(self.value.as_str(), "true" | "false"),
            TestDataType::Json => serde_json::from_str::<serde_json::Value>(&self.value).is_ok(),
            TestDataType::Url => url::Url::parse(&self.value).is_ok(),
        };
        if ok {
            Ok(())
        } else {
            Err(FieldError::new(
                format!("{at}.value"),
                format!("the value is not a valid {:?}", self.kind).to_lowercase(),
            ))
        }
    }
}

/// An ISO 4217 currency code (three upper-case letters).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Currency(String);

impl Currency {
    /// A currency from a code such as `EUR`; refused unless three upper-case ASCII letters.
    pub fn new(code: &str) -> Result<Self, FieldError> {
        if code.len() == 3 && code.chars().all(|c| c.is_ascii_uppercase()) {
            Ok(Self(code.to_owned()))
        } else {
            Err(FieldError::new(
                "pricing.currency",
                "a currency is a three-letter ISO 4217 code such as EUR",
            ))
        }
    }
    /// The three-letter code.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Currency {
    type Error = FieldError;
    fn try_from(s: String) -> Result<Self, FieldError> {
        Self::new(&s)
    }
}

impl From<Currency> for String {
    fn from(c: Currency) -> String {
        c.0
    }
}

/// A plan's price. Money is `Decimal`, never a float; the JSON form carries it as strings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Pricing {
    /// No fee, no per-request price, no payment gate.
    Free,
    /// A monthly fee plus a price per request beyond the included quota; production credentials
    /// wait for payment.
    Paid {
        /// The currency of every amount.
        currency: Currency,
        /// Charged each month; a decimal string in JSON (`"49.00"`).
        #[serde(with = "rust_decimal::serde::str")]
        monthly_fee: Decimal,
        /// Production requests per month included in the fee.
        included_requests: u64,
        /// Charged per request beyond the included quota; a decimal string in JSON (`"0.002"`).
        #[serde(with = "rust_decimal::serde::str")]
        price_per_request: Decimal,
        /// Days a later period's invoice may stay unpaid before new production credentials
        /// lock again (docs/decisions/0041); plans stored before it existed read the default.
        #[serde(default = "default_grace_days")]
        payment_grace_days: u32,
    },
}

/// The grace a paid plan gives a later period's invoice unless it says otherwise.
pub const DEFAULT_GRACE_DAYS: u32 = 14;

fn default_grace_days() -> u32 {
    DEFAULT_GRACE_DAYS
}

impl Pricing {
    /// Whether the plan is paid (and so locks production credentials until payment).
    pub fn is_paid(&self) -> bool {
        matches!(self, Pricing::Paid { .. })
    }

    /// Checks a paid plan: no negative price, and not both the fee and the per-request price zero.
    pub fn validate(&self) -> Result<(), FieldError> {
        if let Pricing::Paid {
            monthly_fee,
            price_per_request,
            payment_grace_days,
            ..
        } = self
        {
            if *payment_grace_days > 90 {
                return Err(FieldError::new(
                    "pricing.payment_grace_days",
                    "a grace is at most 90 days",
                ));
            }
            if monthly_fee.is_sign_negative() {
                return Err(FieldError::new(
                    "pricing.monthly_fee",
                    "a price must not be negative",
                ));
            }
            if price_per_request.is_sign_negative() {
                return Err(FieldError::new(
                    "pricing.price_per_request",
                    "a price must not be negative",
                ));
            }
            if monthly_fee.is_zero() && price_per_request.is_zero() {
                return Err(FieldError::new(
                    "pricing",
                    "a paid plan charges something; use kind `free` instead",
                ));
            }
        }
        Ok(())
    }
}

/// A plan of an API product.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// The plan's ULID.
    pub id: PlanId,
    /// The API product the plan belongs to.
    pub product_id: ProductId,
    /// The plan's display name ("Growth").
    pub name: Label,
    /// Whether the plan offers a sandbox.
    pub has_sandbox: bool,
    /// Whether sandbox access is granted at once or needs a reviewer.
    pub sandbox_access: SandboxAccessMode,
    /// The endpoints the plan grants, as `METHOD /path`.
    pub endpoints: Vec<String>,
    /// The webhook event types the plan grants.
    pub events: Vec<String>,
    /// Read-only sandbox test data shown to subscribers.
    pub test_data: Vec<TestDataEntry>,
    /// The submission form; `None` asks only what the gates need (see [`Plan::effective_form`]).
    pub form: Option<SubmissionForm>,
    /// Free, or paid with its fee and prices.
    pub pricing: Pricing,
    /// Which production gates apply, in any order; evaluation always uses the canonical order.
    pub gates: Vec<Gate>,
    /// Integration verification: successful sandbox calls required.
    pub integration_min_calls: u64,
    /// Internal access controls: waive the separation-of-duties half of the gate.
    pub waive_separation_of_duties: bool,
    /// When the plan was created.
    pub created_at: DateTime<Utc>,
    /// Optimistic concurrency: an update is stored only if nobody changed the row since.
    pub version: i64,
}

/// The answer keys that carry gate evidence. A form that applies the declared-use-case or
/// consent gate must collect these; [`Plan::effective_form`] adds what a form lacks, so that a
/// plan without a form still asks the questions its gates need (docs/decisions/0003).
pub mod evidence {
    /// The use case the submission declares (declared use case gate).
    pub const USE_CASE: &str = "use_case";
    /// How the returned data is used (declared use case gate).
    pub const DATA_USAGE: &str = "data_usage";
    /// How end-user consent is captured (consent handling gate).
    pub const CONSENT_CAPTURE: &str = "consent_capture";
    /// How end-user consent is withdrawn (consent handling gate).
    pub const CONSENT_WITHDRAWAL: &str = "consent_withdrawal";
}

impl Plan {
    /// Validates everything an admin can set, naming the first field at fault.
    pub fn validate(&self) -> Result<(), FieldError> {
        for (field, list) in [("endpoints", &self.endpoints), ("events", &self.events)] {
            if list.len() > 200 || list.iter().any(|e| e.trim().is_empty() || e.len() > 200) {
                return Err(FieldError::new(
                    field,
                    "entries must be 1-200 characters, at most 200 entries",
                ));
            }
        }
        for e in &self.endpoints {
            let ok = e.split_once(' ').is_some_and(|(m, p)| {
                matches!(
                    m,
                    "GET" | "POST" | "PUT" | "PATCH" | "DELETE" | "HEAD" | "OPTIONS"
                ) && p.starts_with('/')
            });
            if !ok {
                return Err(FieldError::new(
                    "endpoints",
                    format!("`{e}` is not of the form `METHOD /path`"),
                ));
            }
        }
        let mut names = std::collections::HashSet::new();
        for (i, t) in self.test_data.iter().enumerate() {
            t.validate(&format!("sandbox_test_data[{i}]"))?;
            if !names.insert(t.name.as_str()) {
                return Err(FieldError::new(
                    format!("sandbox_test_data[{i}].name"),
                    "names must be unique",
                ));
            }
        }
        if let Some(form) = &self.form {
            form.validate_schema()?;
        }
        self.pricing.validate()?;
        if !self.has_sandbox {
            return Err(FieldError::new(
                "has_sandbox",
                "plans without a sandbox have no review pipeline; this portal onboards through sandbox",
            ));
        }
        if self.integration_min_calls > 1_000_000 {
            return Err(FieldError::new("integration_min_calls", "at most 1000000"));
        }
        let mut seen = Vec::new();
        for g in &self.gates {
            if seen.contains(g) {
                return Err(FieldError::new(
                    "gates",
                    format!("gate `{}` is listed twice", g.as_str()),
                ));
            }
            seen.push(*g);
        }
        Ok(())
    }

    /// Whether the plan applies `gate`.
    pub fn applies(&self, gate: Gate) -> bool {
        self.gates.contains(&gate)
    }

    /// The form a developer fills in on submit: the plan's own steps, plus a "Production review"
    /// step with the evidence questions of the applicable gates that the plan's form does not ask.
    /// `None` when there is nothing to ask: the submission then goes straight through.
    pub fn effective_form(&self) -> Option<SubmissionForm> {
        let mut form = self.form.clone().unwrap_or_default();
        let mut extra = Vec::new();
        let mut need = |key: &str, label: &str, kind: FieldKind, options: Vec<String>| {
            if form.field(key).is_none() {
                extra.push(FormField {
                    key: key.into(),
                    label: label.into(),
                    kind,
                    required: true,
                    options,
                    help: None,
                });
            }
        };
        if self.applies(Gate::DeclaredUseCase) {
            need(
                evidence::USE_CASE,
                "Declared use case",
                FieldKind::Text,
                vec![],
            );
            need(
                evidence::DATA_USAGE,
                "How you use the returned data",
                FieldKind::Textarea,
                vec![],
            );
        }
        if self.applies(Gate::ConsentHandling) {
            need(
                evidence::CONSENT_CAPTURE,
                "How end customers give consent",
                FieldKind::Textarea,
                vec![],
            );
            need(
                evidence::CONSENT_WITHDRAWAL,
                "How end customers withdraw consent",
                FieldKind::Textarea,
                vec![],
            );
        }
        if !extra.is_empty() {
            form.steps.push(FormStep {
                title: "Production review".into(),
                fields: extra,
            });
        }
        (!form.steps.is_empty()).then_some(form)
    }
}

/// The plan endpoint (`METHOD /path`) a call to `method` and `path` is counted on: the same
/// method and path, where a `{name}` segment of the endpoint matches any one non-empty segment
/// (`GET /accounts/{id}` matches `GET /accounts/42`). A query string on `path` is ignored; the
/// first endpoint in the plan's order that matches wins.
pub fn matching_endpoint<'a>(endpoints: &'a [String], method: &str, path: &str) -> Option<&'a str> {
    let path = path.split(['?', '#']).next().unwrap_or_default();
    endpoints
        .iter()
        .find(|e| {
            e.split_once(' ').is_some_and(|(m, pattern)| {
                m.eq_ignore_ascii_case(method) && path_matches(pattern.trim(), path)
            })
        })
        .map(String::as_str)
}

fn path_matches(pattern: &str, path: &str) -> bool {
    let mut want = pattern.split('/');
    let mut got = path.split('/');
    loop {
        match (want.next(), got.next()) {
            (None, None) => return true,
            (Some(w), Some(g)) if w.starts_with('{') && w.ends_with('}') && !g.is_empty() => {}
            (Some(w), Some(g)) if w == g => {}
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_fixtures::standard_plan;

    #[test]
    fn a_call_is_matched_to_the_plan_endpoint_it_names() {
        let eps: Vec<String> = ["GET /accounts", "GET /accounts/{id}", "POST /payments"]
            .map(String::from)
            .to_vec();
        let m = |method, path| matching_endpoint(&eps, method, path);
        assert_eq!(m("GET", "/accounts"), Some("GET /accounts"));
        assert_eq!(m("GET", "/accounts?page=2"), Some("GET /accounts"));
        assert_eq!(m("get", "/accounts/42"), Some("GET /accounts/{id}"));
        assert_eq!(m("POST", "/payments"), Some("POST /payments"));
        for (method, path) in [
            ("POST", "/accounts"),
            ("GET", "/accounts/"),
            ("GET", "/accounts/42/balances"),
            ("GET", "/account"),
            ("GET", "/"),
            ("GET", ""),
            ("DELETE", "/payments"),
        ] {
            assert_eq!(m(method, path), None, "{method} {path}");
        }
    }

    #[test]
    fn the_demo_plan_is_valid() {
        standard_plan().validate().unwrap();
    }

    #[test]
    fn negative_prices_are_refused() {
        let mut p = standard_plan();
        if let Pricing::Paid { monthly_fee, .. } = &mut p.pricing {
            *monthly_fee = Decimal::new(-1, 2);
        }
        assert_eq!(p.validate().unwrap_err().field, "pricing.monthly_fee");
    }

    #[test]
    fn test_data_values_must_match_their_type() {
        let mut p = standard_plan();
        p.test_data[0] = TestDataEntry {
            kind: TestDataType::Number,
            name: "n".into(),
            description: String::new(),
            value: "twelve".into(),
        };
        assert_eq!(
            p.validate().unwrap_err().field,
            "sandbox_test_data[0].value"
        );
        p.test_data[0].kind = TestDataType::Json;
        p.test_data[0].value = "{\"a\":1}".into();
        p.validate().unwrap();
    }

    #[test]
    fn a_plan_without_a_form_still_asks_what_its_gates_need() {
        let mut p = standard_plan();
        p.form = None;
        let form = p.effective_form().unwrap();
        assert_eq!(form.steps.len(), 1);
        assert!(form.field(evidence::USE_CASE).is_some());
        assert!(form.field(evidence::CONSENT_WITHDRAWAL).is_some());
        p.gates = vec![Gate::WebhookVerification];
        assert!(
            p.effective_form().is_none(),
            "nothing to ask: straight through"
        );
    }

    #[test]
    fn a_form_that_asks_the_evidence_gets_no_extra_step() {
        let p = standard_plan();
        assert_eq!(
            p.effective_form().unwrap().steps.len(),
            p.form.as_ref().unwrap().steps.len()
        );
    }
}
