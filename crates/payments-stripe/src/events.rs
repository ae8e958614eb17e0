//! Stripe's webhook events, as the portal receives them: verified, parsed, and applied to the
//! invoices once per event id (the database refuses a second one).

use chrono::{DateTime, Utc};
use onboarding_core::ServiceError;
use onboarding_core::ids::InvoiceId;
use onboarding_core::invoicing::from_minor_units;
use onboarding_core::plan::Currency;
use onboarding_core::services::{Billing, ProcessorOutcome};
use serde_json::Value;

use crate::StripeConfig;
use crate::signature::{self, SignatureError};

/// The events the portal acts on.
#[derive(Debug, Clone, PartialEq)]
pub enum StripeEvent {
    /// A Checkout Session was paid (`checkout.session.completed` with `payment_status` paid,
    /// or `checkout.session.async_payment_succeeded`).
    Paid {
        /// Stripe's event id (`evt_…`).
        id: String,
        /// `metadata[invoice_id]`.
        invoice: InvoiceId,
        /// `amount_total`, in minor units.
        amount: i64,
        /// `currency`, upper-cased.
        currency: String,
        /// The PaymentIntent (`pi_…`): the payment's reference, which refunds name.
        reference: String,
    },
    /// A charge was refunded, in part or in full (`charge.refunded`).
    Refunded {
        /// Stripe's event id.
        id: String,
        /// The charge's PaymentIntent.
        payment: String,
        /// `amount_refunded` so far, in minor units.
        refunded: i64,
        /// `currency`, upper-cased.
        currency: String,
        /// The charge (`ch_…`).
        charge: String,
    },
    /// Anything else (including a session completed but not paid yet): acknowledged, ignored.
    Ignored {
        /// Stripe's event id.
        id: String,
        /// The event type.
        kind: String,
    },
}

/// Why an event is refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum WebhookError {
    /// The signature does not verify: answered 400, so Stripe shows the failure.
    #[error("signature: {0}")]
    Signature(#[from] SignatureError),
    /// The body is not an event the portal can read.
    #[error("event: {0}")]
    Malformed(String),
    /// The portal could not apply it (unknown invoice, amount refused, store down).
    #[error("{0}")]
    Service(ServiceError),
}

/// What receiving an event did.
#[derive(Debug, Clone, PartialEq)]
pub enum Handled {
    /// It changed an invoice.
    Applied,
    /// Its id was handled before.
    Duplicate,
    /// Nothing to do for it.
    Ignored,
}

fn text<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter().try_fold(v, |v, k| v.get(*k))?.as_str()
}

fn int(v: &Value, path: &[&str]) -> Option<i64> {
    path.iter().try_fold(v, |v, k| v.get(*k))?.as_i64()
}

/// Reads an event body.
pub fn parse_event(body: &[u8]) -> Result<StripeEvent, WebhookError> {
    let bad = |w: &str| WebhookError::Malformed(w.to_owned());
    let v: Value =
        serde_json::from_slice(body).map_err(|e| WebhookError::Malformed(e.to_string()))?;
    let id = text(&v, &["id"]).ok_or_else(|| bad("no id"))?.to_owned();
    let kind = text(&v, &["type"])
        .ok_or_else(|| bad("no type"))?
        .to_owned();
    let o = v
        .pointer("/data/object")
        .ok_or_else(|| bad("no data.object"))?;
    let currency = || {
        text(o, &["currency"])
            .map(str::to_uppercase)
            .ok_or_else(|| bad("no currency"))
    };
    Ok(match kind.as_str() {
        "checkout.session.completed" | "checkout.session.async_payment_succeeded"
            if text(o, &["payment_status"]) == Some("paid") =>
        {
            StripeEvent::Paid {
                invoice: text(o, &["metadata", "invoice_id"])
                    .and_then(|s| s.parse().ok())
                    .ok_or_else(|| bad("no metadata.invoice_id"))?,
                amount: int(o, &["amount_total"]).ok_or_else(|| bad("no amount_total"))?,
                currency: currency()?,
                reference: text(o, &["payment_intent"])
                    .or(text(o, &["id"]))
                    .ok_or_else(|| bad("no payment_intent"))?
                    .to_owned(),
                id,
            }
        }
        "charge.refunded" => StripeEvent::Refunded {
            payment: text(o, &["payment_intent"])
                .ok_or_else(|| bad("no payment_intent"))?
                .to_owned(),
            refunded: int(o, &["amount_refunded"]).ok_or_else(|| bad("no amount_refunded"))?,
            currency: currency()?,
            charge: text(o, &["id"]).unwrap_or_default().to_owned(),
            id,
        },
        _ => StripeEvent::Ignored { id, kind },
    })
}

/// Verifies, parses and applies one delivery of Stripe's webhook.
pub async fn receive(
    billing: &Billing,
    config: &StripeConfig,
    signature_header: Option<&str>,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<Handled, WebhookError> {
    let secrets: Vec<&str> = config.webhook_secrets.iter().map(|s| s.expose()).collect();
    signature::verify(
        signature_header,
        body,
        &secrets,
        now,
        config.tolerance_seconds,
    )?;
    let outcome = match parse_event(body)? {
        StripeEvent::Paid {
            id,
            invoice,
            amount,
            currency,
            reference,
        } => {
            let c = Currency::new(&currency).map_err(|e| WebhookError::Malformed(e.reason))?;
            billing
                .processor_payment(
                    &id,
                    invoice,
                    from_minor_units(amount, &c),
                    &currency,
                    &reference,
                )
                .await
        }
        StripeEvent::Refunded {
            id,
            payment,
            refunded,
            currency,
            charge,
        } => {
            let c = Currency::new(&currency).map_err(|e| WebhookError::Malformed(e.reason))?;
            billing
                .processor_refund(&id, &payment, from_minor_units(refunded, &c), &charge)
                .await
        }
        StripeEvent::Ignored { .. } => return Ok(Handled::Ignored),
    };
    match outcome {
        Ok(ProcessorOutcome::Applied(_)) => Ok(Handled::Applied),
        Ok(ProcessorOutcome::Duplicate) => Ok(Handled::Duplicate),
        Err(e) => Err(WebhookError::Service(e)),
    }
}
