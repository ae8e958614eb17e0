//! Invoices and payments (issue 22): a workspace's invoices, one invoice with its payments,
//! refunds and how to pay it, the Pay action (a hosted checkout), and the admin's record of
//! a payment, a refund, a void or a write-off; staff list invoices by state.

use chrono::{DateTime, Utc};
use onboarding_core::ids::*;
use onboarding_core::invoicing::{InvoiceState, IssuedInvoice, Refund};
use onboarding_core::ports::{CheckoutUrls, PaymentMethod};
use onboarding_core::services::InvoiceView;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};

use super::*;
use crate::auth::Auth;
use crate::dto::PaymentDto;
use crate::state::AppState;
use crate::text::{Amount, CurrencyCode, Text};

pub struct InvoicesApi {
    pub state: AppState,
}

/// One line of an issued invoice: a project under a plan.
#[derive(Object, Debug, Clone)]
pub struct IssuedLineDto {
    pub project_id: String,
    pub project_name: String,
    pub plan_name: String,
    pub description: String,
    /// A decimal string (`"49.00"`).
    pub amount: String,
}

/// An issued invoice: what was billed, what is paid and what is due.
#[derive(Object, Debug, Clone)]
pub struct IssuedInvoiceDto {
    pub id: String,
    /// The reference to quote on a transfer (`INV-2026-12-…`).
    pub reference: String,
    pub workspace_id: String,
    pub subscription_id: String,
    /// `up_front` (issued at approval; unlocks production) or `period`.
    pub kind: String,
    /// `YYYY-MM`.
    pub period: String,
    /// `open`, `paid`, `void` or `uncollectible`.
    pub state: String,
    pub currency: String,
    pub total: String,
    pub amount_paid: String,
    pub amount_refunded: String,
    pub amount_due: String,
    pub lines: Vec<IssuedLineDto>,
    pub issued_at: DateTime<Utc>,
    pub due_at: DateTime<Utc>,
    /// Days after `due_at` before an unpaid later invoice locks new production credentials.
    pub grace_days: u32,
    pub paid_at: Option<DateTime<Utc>>,
    pub version: i64,
}

impl From<&IssuedInvoice> for IssuedInvoiceDto {
    fn from(i: &IssuedInvoice) -> Self {
        Self {
            id: i.id.to_string(),
            reference: i.reference(),
            workspace_id: i.workspace_id.to_string(),
            subscription_id: i.subscription_id.to_string(),
            kind: i.kind.as_str().into(),
            period: i.period.clone(),
            state: i.state.as_str().into(),
            currency: i.currency.as_str().into(),
            total: i.total.to_string(),
            amount_paid: i.amount_paid.to_string(),
            amount_refunded: i.amount_refunded.to_string(),
            amount_due: i.amount_due().to_string(),
            lines: i
                .lines
                .iter()
                .map(|l| IssuedLineDto {
                    project_id: l.project_id.to_string(),
                    project_name: l.project_name.clone(),
                    plan_name: l.plan_name.clone(),
                    description: l.description.clone(),
                    amount: l.amount.to_string(),
                })
                .collect(),
            issued_at: i.issued_at,
            due_at: i.due_at,
            grace_days: i.grace_days,
            paid_at: i.paid_at,
            version: i.version,
        }
    }
}

#[derive(Object, Debug, Clone)]
pub struct RefundDto {
    pub id: String,
    pub payment_id: String,
    pub amount: String,
    pub currency: String,
    pub reference: String,
    /// A staff id, or `system` for the processor's report.
    pub recorded_by: String,
    pub at: DateTime<Utc>,
}

impl From<&Refund> for RefundDto {
    fn from(r: &Refund) -> Self {
        Self {
            id: r.id.to_string(),
            payment_id: r.payment_id.to_string(),
            amount: r.amount.to_string(),
            currency: r.currency.as_str().into(),
            reference: r.reference.clone(),
            recorded_by: r.recorded_by.to_string(),
            at: r.at,
        }
    }
}

/// How the partner pays.
#[derive(Object, Debug, Clone)]
pub struct PaymentMethodDto {
    /// `manual` (follow `instructions`; an admin records the payment) or `checkout` (Pay).
    pub kind: String,
    pub instructions: Option<String>,
    pub provider: Option<String>,
}

impl From<&PaymentMethod> for PaymentMethodDto {
    fn from(m: &PaymentMethod) -> Self {
        match m {
            PaymentMethod::Manual { instructions } => Self {
                kind: "manual".into(),
                instructions: Some(instructions.clone()),
                provider: None,
            },
            PaymentMethod::Checkout { provider } => Self {
                kind: "checkout".into(),
                instructions: None,
                provider: Some(provider.clone()),
            },
        }
    }
}

/// An invoice with its payments, refunds and how to pay it.
#[derive(Object, Debug, Clone)]
pub struct InvoiceDetailDto {
    pub invoice: IssuedInvoiceDto,
    pub payments: Vec<PaymentDto>,
    pub refunds: Vec<RefundDto>,
    pub payment_method: PaymentMethodDto,
    /// Whether the reader may press Pay (billing members, something due, a checkout method).
    pub can_pay: bool,
}

impl From<&InvoiceView> for InvoiceDetailDto {
    fn from(v: &InvoiceView) -> Self {
        Self {
            invoice: (&v.invoice).into(),
            payments: v.payments.iter().map(Into::into).collect(),
            refunds: v.refunds.iter().map(Into::into).collect(),
            payment_method: (&v.method).into(),
            can_pay: v.can_pay && matches!(v.method, PaymentMethod::Checkout { .. }),
        }
    }
}

/// An admin's record of money received against an invoice.
#[derive(Object, Debug, Clone)]
pub struct RecordPaymentRequest {
    /// A decimal string (`"49.00"`); at most what is due.
    pub amount: Amount,
    /// ISO 4217 code: the invoice's currency.
    pub currency: CurrencyCode,
    /// The bank's or processor's reference.
    pub reference: Text,
}

#[derive(Object, Debug, Clone)]
pub struct RecordedPaymentDto {
    pub payment: PaymentDto,
    pub invoice: IssuedInvoiceDto,
}

#[derive(Object, Debug, Clone)]
pub struct RefundRequest {
    /// A decimal string; at most what was paid and not refunded.
    pub amount: Amount,
    /// Why, or the bank's reference of the returned transfer.
    pub reference: Text,
}

/// A hosted checkout to send the partner to.
#[derive(Object, Debug, Clone)]
pub struct CheckoutDto {
    /// The processor's session id (`cs_…`).
    pub session_id: String,
    /// Where the partner pays.
    pub url: String,
}

fn invoice_id(s: &str) -> ApiResult<InvoiceId> {
    path_id(s, "invoice")
}

#[OpenApi(prefix_path = "/api/v1", tag = "Tag::Billing")]
impl InvoicesApi {
    /// A workspace's issued invoices, newest first (billing members and owners, admins).
    #[oai(
        path = "/workspaces/:id/invoices",
        method = "get",
        operation_id = "list_invoices"
    )]
    async fn list(&self, auth: Auth, id: Path<String>) -> ApiResult<Ok200<Vec<IssuedInvoiceDto>>> {
        let ws: WorkspaceId = path_id(&id, "workspace")?;
        let v = self
            .state
            .portal()
            .billing()
            .invoices(auth.caller(), ws)
            .await?;
        ok(v.iter().map(Into::into).collect())
    }

    /// One invoice with its payments, refunds and how to pay it.
    #[oai(
        path = "/invoices/:id",
        method = "get",
        operation_id = "get_issued_invoice"
    )]
    async fn get(&self, auth: Auth, id: Path<String>) -> ApiResult<Ok200<InvoiceDetailDto>> {
        let v = self
            .state
            .portal()
            .billing()
            .invoice_view(auth.caller(), invoice_id(&id)?)
            .await?;
        ok((&v).into())
    }

    /// Pay: start the processor's hosted checkout for what is due (billing members). With
    /// manual payments this answers `no_checkout`: follow the payment instructions.
    #[oai(
        path = "/invoices/:id/checkout",
        method = "post",
        operation_id = "start_checkout"
    )]
    async fn checkout(&self, auth: Auth, id: Path<String>) -> ApiResult<Ok200<CheckoutDto>> {
        let id = invoice_id(&id)?;
        let urls = CheckoutUrls {
            success: format!("/invoices/{id}?checkout=done"),
            cancel: format!("/invoices/{id}"),
        };
        let s = self
            .state
            .portal()
            .billing()
            .checkout(auth.caller(), id, &urls)
            .await?;
        ok(CheckoutDto {
            session_id: s.id,
            url: s.url,
        })
    }

    /// Record a payment received against an invoice (admins): amount and currency must fit
    /// what is due; a partial payment is recorded and leaves the invoice open.
    #[oai(
        path = "/invoices/:id/payments",
        method = "post",
        operation_id = "record_invoice_payment"
    )]
    async fn record(
        &self,
        auth: Auth,
        id: Path<String>,
        body: Json<RecordPaymentRequest>,
    ) -> ApiResult<Created<RecordedPaymentDto>> {
        let id = invoice_id(&id)?;
        let amount = super::projects::decimal("amount", &body.amount)?;
        let (p, inv) = self
            .state
            .portal()
            .billing()
            .record_payment(auth.caller(), id, amount, &body.currency, &body.reference)
            .await?;
        created(
            RecordedPaymentDto {
                payment: (&p).into(),
                invoice: (&inv).into(),
            },
            format!("/api/v1/invoices/{id}"),
        )
    }

    /// Refund part or all of a payment (admins); an invoice no longer paid in full opens again.
    #[oai(
        path = "/payments/:id/refunds",
        method = "post",
        operation_id = "refund_payment"
    )]
    async fn refund(
        &self,
        auth: Auth,
        id: Path<String>,
        body: Json<RefundRequest>,
    ) -> ApiResult<Ok200<IssuedInvoiceDto>> {
        let id: PaymentId = path_id(&id, "payment")?;
        let amount = super::projects::decimal("amount", &body.amount)?;
        let inv = self
            .state
            .portal()
            .billing()
            .refund(auth.caller(), id, amount, &body.reference)
            .await?;
        ok((&inv).into())
    }

    /// Void an invoice nothing is paid on (admins): nothing is owed on it any more.
    #[oai(
        path = "/invoices/:id/void",
        method = "post",
        operation_id = "void_invoice"
    )]
    async fn void(&self, auth: Auth, id: Path<String>) -> ApiResult<Ok200<IssuedInvoiceDto>> {
        let inv = self
            .state
            .portal()
            .billing()
            .void(auth.caller(), invoice_id(&id)?)
            .await?;
        ok((&inv).into())
    }

    /// Write an open invoice off as uncollectible (admins): still owed and payable.
    #[oai(
        path = "/invoices/:id/uncollectible",
        method = "post",
        operation_id = "mark_invoice_uncollectible"
    )]
    async fn uncollectible(
        &self,
        auth: Auth,
        id: Path<String>,
    ) -> ApiResult<Ok200<IssuedInvoiceDto>> {
        let inv = self
            .state
            .portal()
            .billing()
            .mark_uncollectible(auth.caller(), invoice_id(&id)?)
            .await?;
        ok((&inv).into())
    }

    /// Invoices in one state, oldest first, paged by `after` (admins).
    #[oai(
        path = "/staff/invoices",
        method = "get",
        operation_id = "list_invoices_by_state"
    )]
    async fn by_state(
        &self,
        auth: Auth,
        /// `open` (default), `paid`, `void` or `uncollectible`.
        state: Query<Option<String>>,
        /// The last invoice id of the previous page.
        after: Query<Option<String>>,
        /// At most this many (1-200, default 50).
        limit: Query<Option<u64>>,
    ) -> ApiResult<Ok200<Vec<IssuedInvoiceDto>>> {
        let st: InvoiceState = match state.0.as_deref() {
            None => InvoiceState::Open,
            Some(s) => s
                .parse()
                .map_err(|_| Problem::field("state", "one of open, paid, void, uncollectible"))?,
        };
        let after = after
            .0
            .as_deref()
            .map(|a| body_id::<InvoiceId>(a, "after"))
            .transpose()?;
        let v = self
            .state
            .portal()
            .billing()
            .invoices_in_state(auth.caller(), st, after, limit.0.unwrap_or(50))
            .await?;
        ok(v.iter().map(Into::into).collect())
    }
}
