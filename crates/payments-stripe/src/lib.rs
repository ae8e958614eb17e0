//! The Stripe adapter of [`PaymentGateway`] (docs/decisions/0042): a Checkout Session per
//! invoice through Stripe's REST API (`POST /v1/checkout/sessions`, form-encoded, amounts in
//! the currency's minor units, the invoice id in `metadata[invoice_id]`, an `Idempotency-Key`),
//! and the webhook events that report payment (`checkout.session.completed`) and refunds
//! (`charge.refunded`), verified by their `Stripe-Signature` and applied once per event id.
//!
//! The API base URL is configuration, so tests point the adapter at a local server that
//! speaks the same endpoints.

mod events;
pub mod signature;

use async_trait::async_trait;
use onboarding_core::invoicing::{IssuedInvoice, minor_units};
use onboarding_core::ports::{
    CheckoutSession, CheckoutUrls, GatewayError, PaymentGateway, PaymentMethod,
};

pub use events::{Handled, StripeEvent, WebhookError, parse_event, receive};

/// A secret from configuration: `Debug` never prints it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }
    /// The secret itself, for the one place that uses it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// How to reach Stripe.
#[derive(Debug, Clone)]
pub struct StripeConfig {
    /// `https://api.stripe.com` (a local server in tests).
    pub api_base: String,
    /// The secret API key (`sk_live_…` / `sk_test_…`).
    pub api_key: Secret,
    /// The webhook endpoint's signing secrets (`whsec_…`): the current one, and the previous
    /// one while a rotation is under way.
    pub webhook_secrets: Vec<Secret>,
    /// How far a signature's timestamp may be from now, in seconds (300).
    pub tolerance_seconds: i64,
    /// The portal's public URL: Stripe sends the partner back to pages under it.
    pub return_base: String,
}

/// Checkout Sessions through Stripe's REST API.
pub struct StripeCheckout {
    config: StripeConfig,
    http: reqwest::Client,
}

impl StripeCheckout {
    /// An adapter over `config`. Needs a rustls crypto provider installed (the binary does).
    pub fn new(config: StripeConfig) -> Result<Self, String> {
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(20))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Self { config, http })
    }

    /// The configuration (the webhook receiver reads the secrets from it).
    pub fn config(&self) -> &StripeConfig {
        &self.config
    }
}

#[derive(serde::Deserialize)]
struct SessionAnswer {
    id: String,
    url: Option<String>,
}

/// The form of `POST /v1/checkout/sessions` for what is due on `invoice`.
pub fn checkout_form(
    invoice: &IssuedInvoice,
    urls: &CheckoutUrls,
) -> Result<Vec<(String, String)>, GatewayError> {
    let due = invoice.amount_due();
    let units = minor_units(due, &invoice.currency).ok_or(GatewayError::Amount)?;
    let name = match invoice.lines.first() {
        Some(l) => format!("{} — {} ({})", l.plan_name, l.project_name, invoice.period),
        None => format!("Invoice {}", invoice.reference()),
    };
    let id = invoice.id.to_string();
    Ok([
        ("mode", "payment".to_owned()),
        ("success_url", urls.success.clone()),
        ("cancel_url", urls.cancel.clone()),
        ("client_reference_id", id.clone()),
        ("metadata[invoice_id]", id.clone()),
        ("payment_intent_data[metadata][invoice_id]", id),
        ("line_items[0][quantity]", "1".to_owned()),
        (
            "line_items[0][price_data][currency]",
            invoice.currency.as_str().to_lowercase(),
        ),
        ("line_items[0][price_data][unit_amount]", units.to_string()),
        ("line_items[0][price_data][product_data][name]", name),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect())
}

/// One key per invoice, version and amount: a retry of the same Pay press reuses the session
/// Stripe created; after a partial payment the amount differs and a new session is made.
pub fn idempotency_key(invoice: &IssuedInvoice) -> String {
    format!(
        "checkout-{}-v{}-{}",
        invoice.id,
        invoice.version,
        invoice.amount_due()
    )
}

#[async_trait]
impl PaymentGateway for StripeCheckout {
    fn method(&self) -> PaymentMethod {
        PaymentMethod::Checkout {
            provider: "Stripe".into(),
        }
    }

    async fn checkout(
        &self,
        invoice: &IssuedInvoice,
        urls: &CheckoutUrls,
    ) -> Result<CheckoutSession, GatewayError> {
        // The use case names pages of the portal; Stripe needs absolute URLs.
        let absolute = |u: &str| match u.starts_with('/') {
            true => format!("{}{u}", self.config.return_base.trim_end_matches('/')),
            false => u.to_owned(),
        };
        let urls = CheckoutUrls {
            success: absolute(&urls.success),
            cancel: absolute(&urls.cancel),
        };
        let form = checkout_form(invoice, &urls)?;
        let url = format!(
            "{}/v1/checkout/sessions",
            self.config.api_base.trim_end_matches('/')
        );
        let res = self
            .http
            .post(url)
            .bearer_auth(self.config.api_key.expose())
            .header("Idempotency-Key", idempotency_key(invoice))
            .form(&form)
            .send()
            .await
            .map_err(|e| GatewayError::Unavailable(format!("stripe: {e}")))?;
        let status = res.status();
        if !status.is_success() {
            // Stripe's error body names the problem; it carries no secret.
            let body = res.text().await.unwrap_or_default();
            tracing::error!(%status, body = %body.chars().take(500).collect::<String>(), "stripe refused the checkout session");
            return Err(GatewayError::Unavailable(format!(
                "stripe answered {status}"
            )));
        }
        let s: SessionAnswer = res
            .json()
            .await
            .map_err(|e| GatewayError::Unavailable(format!("stripe: {e}")))?;
        Ok(CheckoutSession {
            url: s
                .url
                .ok_or_else(|| GatewayError::Unavailable("stripe: no session url".into()))?,
            id: s.id,
        })
    }
}
