//! Issued invoices and what is owed (spec §9, docs/decisions/0040): an invoice bills one
//! subscription for one period in its plan's currency; payments and refunds move its state
//! through pure methods that return the next value or an [`InvoiceError`]; the payment
//! standing of a subscription, which the production lock reads, is a pure function of its
//! invoices and the time.

use chrono::{DateTime, Datelike, Duration, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::audit::Actor;
use crate::billing::to_cents;
use crate::ids::{InvoiceId, PaymentId, ProjectId, RefundId, SubscriptionId, WorkspaceId};
use crate::plan::{Currency, Plan, Pricing};

/// Where an invoice is in its life, as in Stripe's dashboard.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    strum::IntoStaticStr,
    strum::EnumString,
    strum::EnumIter,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
#[non_exhaustive]
pub enum InvoiceState {
    /// Issued and awaiting (the rest of) its payment.
    Open,
    /// Paid in full, net of refunds.
    Paid,
    /// Cancelled by the provider: nothing is owed.
    Void,
    /// Written off by the provider; still owed, and still payable.
    Uncollectible,
}

impl InvoiceState {
    /// The wire name (`open`).
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// Every state, in lifecycle order (derived from the enum).
    pub fn all() -> impl Iterator<Item = InvoiceState> {
        <Self as strum::IntoEnumIterator>::iter()
    }
}

/// Which invoice of its subscription this is.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    strum::IntoStaticStr,
    strum::EnumString,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum InvoiceKind {
    /// Issued at approval: what the plan says is due up front; it opens the production lock.
    UpFront,
    /// A later period's invoice; left unpaid past the plan's grace, it locks new production
    /// credentials again.
    Period,
}

impl InvoiceKind {
    /// The wire name (`up_front`).
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// One line of an issued invoice: one project under one plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IssuedLine {
    /// The project billed.
    pub project_id: ProjectId,
    /// The project's name when the invoice was issued.
    pub project_name: String,
    /// The plan's name when the invoice was issued.
    pub plan_name: String,
    /// What the line charges for ("Monthly fee, 2026-12").
    pub description: String,
    /// The line's amount in the invoice's currency; a decimal string in JSON.
    #[serde(with = "rust_decimal::serde::str")]
    pub amount: Decimal,
}

/// An invoice as issued and kept: the record payments are made against.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IssuedInvoice {
    /// The invoice's ULID; its string form (`inv_…`) is the reference a payment quotes.
    pub id: InvoiceId,
    /// The billed workspace.
    pub workspace_id: WorkspaceId,
    /// The subscription billed.
    pub subscription_id: SubscriptionId,
    /// Up front (opens the lock) or a later period.
    pub kind: InvoiceKind,
    /// `2026-12`.
    pub period: String,
    /// The lines, one per project and plan.
    pub lines: Vec<IssuedLine>,
    /// The currency of every amount.
    pub currency: Currency,
    /// The sum of the lines.
    pub total: Decimal,
    /// Paid so far (before refunds).
    pub amount_paid: Decimal,
    /// Refunded so far.
    pub amount_refunded: Decimal,
    /// Open, paid, void or uncollectible.
    pub state: InvoiceState,
    /// When it was issued.
    pub issued_at: DateTime<Utc>,
    /// When it is due; later periods lock new production credentials `grace_days` after this.
    pub due_at: DateTime<Utc>,
    /// The plan's grace when the invoice was issued.
    pub grace_days: u32,
    /// When it was last settled in full, if it is paid.
    pub paid_at: Option<DateTime<Utc>>,
    /// Optimistic concurrency: two payments of the same invoice cannot both apply.
    pub version: i64,
}

/// Why a payment, refund, void or write-off is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvoiceError {
    /// Amounts are greater than zero.
    #[error("an amount must be greater than zero")]
    NotPositive,
    /// The payment is in another currency than the invoice.
    #[error("this invoice is in {expected}, not {got}")]
    WrongCurrency {
        /// The invoice's currency.
        expected: String,
        /// The currency offered.
        got: String,
    },
    /// More than is due.
    #[error("{due} {currency} is due on this invoice; {offered} is more than that")]
    Overpayment {
        /// What is due.
        due: Decimal,
        /// What was offered.
        offered: Decimal,
        /// The invoice's currency.
        currency: String,
    },
    /// More than was paid and not yet refunded.
    #[error("{refundable} {currency} can be refunded on this invoice")]
    OverRefund {
        /// What may still be refunded.
        refundable: Decimal,
        /// The invoice's currency.
        currency: String,
    },
    /// The invoice's state does not allow it.
    #[error("the invoice is {}", .state.as_str())]
    State {
        /// The current state.
        state: InvoiceState,
    },
    /// Money was received on the invoice: refund it before voiding.
    #[error("the invoice has payments; refund them before voiding it")]
    HasPayments,
}

impl IssuedInvoice {
    /// What the partner still owes: the total less what was paid net of refunds.
    pub fn amount_due(&self) -> Decimal {
        match self.state {
            InvoiceState::Void => Decimal::ZERO,
            _ => (self.total - self.net_paid()).max(Decimal::ZERO),
        }
    }

    /// Paid less refunded.
    pub fn net_paid(&self) -> Decimal {
        self.amount_paid - self.amount_refunded
    }

    /// The reference shown to the partner and quoted on a transfer (`INV-2026-12-01JE…`).
    pub fn reference(&self) -> String {
        format!("INV-{}-{}", self.period, self.id.ulid())
    }

    /// Applies a payment: the next invoice, paid when the payment settles what was due. Partial
    /// payments leave it open; another currency, an overpayment or a void invoice are refused.
    pub fn pay(
        &self,
        amount: Decimal,
        currency: &Currency,
        at: DateTime<Utc>,
    ) -> Result<IssuedInvoice, InvoiceError> {
        if amount <= Decimal::ZERO {
            return Err(InvoiceError::NotPositive);
        }
        if currency != &self.currency {
            return Err(InvoiceError::WrongCurrency {
                expected: self.currency.as_str().to_owned(),
                got: currency.as_str().to_owned(),
            });
        }
        if !matches!(self.state, InvoiceState::Open | InvoiceState::Uncollectible) {
            return Err(InvoiceError::State { state: self.state });
        }
        let due = self.amount_due();
        if amount > due {
            return Err(InvoiceError::Overpayment {
                due,
                offered: amount,
                currency: self.currency.as_str().to_owned(),
            });
        }
        let mut next = self.clone();
        next.amount_paid += amount;
        if next.amount_due().is_zero() {
            next.state = InvoiceState::Paid;
            next.paid_at = Some(at);
        }
        Ok(next)
    }

    /// Applies a refund: money paid goes back; an invoice no longer paid in full opens again
    /// (so a refunded up-front invoice locks new production credentials again).
    pub fn refund(&self, amount: Decimal) -> Result<IssuedInvoice, InvoiceError> {
        if amount <= Decimal::ZERO {
            return Err(InvoiceError::NotPositive);
        }
        if self.state == InvoiceState::Void {
            return Err(InvoiceError::State { state: self.state });
        }
        let refundable = self.net_paid();
        if amount > refundable {
            return Err(InvoiceError::OverRefund {
                refundable,
                currency: self.currency.as_str().to_owned(),
            });
        }
        let mut next = self.clone();
        next.amount_refunded += amount;
        if next.state == InvoiceState::Paid && !next.amount_due().is_zero() {
            next.state = InvoiceState::Open;
            next.paid_at = None;
        }
        Ok(next)
    }

    /// Voids an open or uncollectible invoice on which nothing is held: nothing is owed any more.
    pub fn void(&self) -> Result<IssuedInvoice, InvoiceError> {
        if !matches!(self.state, InvoiceState::Open | InvoiceState::Uncollectible) {
            return Err(InvoiceError::State { state: self.state });
        }
        if !self.net_paid().is_zero() {
            return Err(InvoiceError::HasPayments);
        }
        let mut next = self.clone();
        next.state = InvoiceState::Void;
        Ok(next)
    }

    /// Writes an open invoice off: still owed and payable, and it keeps its lock.
    pub fn mark_uncollectible(&self) -> Result<IssuedInvoice, InvoiceError> {
        if self.state != InvoiceState::Open {
            return Err(InvoiceError::State { state: self.state });
        }
        let mut next = self.clone();
        next.state = InvoiceState::Uncollectible;
        Ok(next)
    }

    /// Whether this invoice is owed and its grace has ended at `now`.
    pub fn lapsed(&self, now: DateTime<Utc>) -> bool {
        self.owed() && now > self.due_at + Duration::days(i64::from(self.grace_days))
    }

    fn owed(&self) -> bool {
        matches!(self.state, InvoiceState::Open | InvoiceState::Uncollectible)
    }
}

/// A payment against an invoice, recorded by an admin (manual adapter) or reported by a
/// processor (Stripe).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Payment {
    /// The payment's ULID.
    pub id: PaymentId,
    /// The workspace that paid.
    pub workspace_id: WorkspaceId,
    /// The subscription the invoice bills.
    pub subscription_id: SubscriptionId,
    /// The invoice paid.
    pub invoice_id: InvoiceId,
    /// Amount paid, exact; a decimal string in JSON.
    #[serde(with = "rust_decimal::serde::str")]
    pub amount: Decimal,
    /// Currency of `amount` (the invoice's).
    pub currency: Currency,
    /// The external reference: bank transfer id, or the processor's payment id.
    pub reference: String,
    /// The admin who recorded it, or the system for a processor's report.
    pub recorded_by: Actor,
    /// When it was recorded.
    pub at: DateTime<Utc>,
}

/// Money given back on a payment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Refund {
    /// The refund's ULID.
    pub id: RefundId,
    /// The workspace refunded.
    pub workspace_id: WorkspaceId,
    /// The invoice whose payment is refunded.
    pub invoice_id: InvoiceId,
    /// The payment refunded.
    pub payment_id: PaymentId,
    /// Amount refunded, exact.
    #[serde(with = "rust_decimal::serde::str")]
    pub amount: Decimal,
    /// Currency of `amount`.
    pub currency: Currency,
    /// The processor's refund reference, or the admin's note.
    pub reference: String,
    /// Who refunded it.
    pub recorded_by: Actor,
    /// When.
    pub at: DateTime<Utc>,
}

/// Where a subscription stands with its invoices, as the production lock reads it.
#[derive(Debug, Clone, PartialEq)]
pub enum PaymentStanding {
    /// Nothing blocks production credentials (a free plan, or every invoice settled in time).
    Settled,
    /// The up-front invoice is not paid in full (or was never issued: `invoice` is `None`).
    Due {
        /// The invoice to pay.
        invoice: Option<IssuedInvoice>,
    },
    /// A later invoice is unpaid past its grace: no new production credentials.
    Overdue {
        /// The oldest lapsed invoice.
        invoice: IssuedInvoice,
    },
}

impl PaymentStanding {
    /// Whether production credentials may be created as far as payment is concerned.
    pub fn is_settled(&self) -> bool {
        matches!(self, PaymentStanding::Settled)
    }

    /// The invoice the partner must pay to unlock, if any.
    pub fn invoice(&self) -> Option<&IssuedInvoice> {
        match self {
            PaymentStanding::Settled => None,
            PaymentStanding::Due { invoice } => invoice.as_ref(),
            PaymentStanding::Overdue { invoice } => Some(invoice),
        }
    }
}

/// A subscription's payment standing from its own invoices (others' are ignored): the up-front
/// invoice paid in full (or voided by the provider) and no later one lapsed at `now`.
pub fn payment_standing(
    subscription: SubscriptionId,
    pricing: &Pricing,
    invoices: &[IssuedInvoice],
    now: DateTime<Utc>,
) -> PaymentStanding {
    if !pricing.is_paid() {
        return PaymentStanding::Settled;
    }
    let own = || {
        invoices
            .iter()
            .filter(|i| i.subscription_id == subscription)
    };
    let first = own()
        .filter(|i| i.kind == InvoiceKind::UpFront)
        .min_by_key(|i| i.issued_at);
    match first {
        Some(i) if matches!(i.state, InvoiceState::Paid | InvoiceState::Void) => {}
        other => {
            return PaymentStanding::Due {
                invoice: other.cloned(),
            };
        }
    }
    match own()
        .filter(|i| i.kind == InvoiceKind::Period && i.lapsed(now))
        .min_by_key(|i| i.issued_at)
    {
        Some(i) => PaymentStanding::Overdue { invoice: i.clone() },
        None => PaymentStanding::Settled,
    }
}

/// The month `at` falls in (`2026-12`).
pub fn period_of(at: DateTime<Utc>) -> String {
    format!("{:04}-{:02}", at.year(), at.month())
}

/// What is issued for one subscription: the facts the invoice is computed from.
#[derive(Debug, Clone)]
pub struct InvoiceSubject {
    /// The workspace billed.
    pub workspace_id: WorkspaceId,
    /// The subscription billed.
    pub subscription_id: SubscriptionId,
    /// The project the line names (the production project once cloned, else the sandbox one).
    pub project_id: ProjectId,
    /// Its name.
    pub project_name: String,
}

/// The up-front invoice a paid plan issues at approval: its monthly fee for the approval's
/// month, due at once. `None` for a free plan, or a paid plan with no fee (nothing up front).
pub fn up_front_invoice(
    id: InvoiceId,
    subject: &InvoiceSubject,
    plan: &Plan,
    at: DateTime<Utc>,
) -> Option<IssuedInvoice> {
    let Pricing::Paid {
        currency,
        monthly_fee,
        payment_grace_days,
        ..
    } = &plan.pricing
    else {
        return None;
    };
    let fee = to_cents(*monthly_fee);
    if fee.is_zero() {
        return None;
    }
    let period = period_of(at);
    Some(IssuedInvoice {
        id,
        workspace_id: subject.workspace_id,
        subscription_id: subject.subscription_id,
        kind: InvoiceKind::UpFront,
        lines: vec![IssuedLine {
            project_id: subject.project_id,
            project_name: subject.project_name.clone(),
            plan_name: plan.name.to_string(),
            description: format!("Monthly fee, {period} (due up front)"),
            amount: fee,
        }],
        period,
        currency: currency.clone(),
        total: fee,
        amount_paid: Decimal::ZERO,
        amount_refunded: Decimal::ZERO,
        state: InvoiceState::Open,
        issued_at: at,
        due_at: at,
        grace_days: *payment_grace_days,
        paid_at: None,
        version: 0,
    })
}

/// A later period's invoice: the monthly fee for `period` plus the previous period's usage
/// beyond the quota (`usage_amount`, already rounded), due at issue. `None` when it comes to
/// zero or the plan is free.
pub fn period_invoice(
    id: InvoiceId,
    subject: &InvoiceSubject,
    plan: &Plan,
    period: &str,
    usage_amount: Decimal,
    at: DateTime<Utc>,
) -> Option<IssuedInvoice> {
    let Pricing::Paid {
        currency,
        monthly_fee,
        payment_grace_days,
        ..
    } = &plan.pricing
    else {
        return None;
    };
    let mut lines = Vec::new();
    let fee = to_cents(*monthly_fee);
    let line = |description: String, amount| IssuedLine {
        project_id: subject.project_id,
        project_name: subject.project_name.clone(),
        plan_name: plan.name.to_string(),
        description,
        amount,
    };
    if !fee.is_zero() {
        lines.push(line(format!("Monthly fee, {period}"), fee));
    }
    let usage_amount = to_cents(usage_amount);
    if !usage_amount.is_zero() {
        lines.push(line(
            "Requests beyond the included quota, previous period".into(),
            usage_amount,
        ));
    }
    if lines.is_empty() {
        return None;
    }
    let total = lines.iter().map(|l| l.amount).sum();
    Some(IssuedInvoice {
        id,
        workspace_id: subject.workspace_id,
        subscription_id: subject.subscription_id,
        kind: InvoiceKind::Period,
        period: period.to_owned(),
        lines,
        currency: currency.clone(),
        total,
        amount_paid: Decimal::ZERO,
        amount_refunded: Decimal::ZERO,
        state: InvoiceState::Open,
        issued_at: at,
        due_at: at,
        grace_days: *payment_grace_days,
        paid_at: None,
        version: 0,
    })
}

/// The amount in the currency's minor units, as payment processors take it (`49.00 EUR` is
/// `4900`; zero-decimal currencies such as JPY are not scaled). `None` when it does not fit.
pub fn minor_units(amount: Decimal, currency: &Currency) -> Option<i64> {
    use rust_decimal::prelude::ToPrimitive;
    // Stripe's list of zero-decimal currencies.
    const ZERO_DECIMAL: [&str; 16] = [
        "BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX", "VND", "VUV",
        "XAF", "XOF", "XPF",
    ];
    let scale = if ZERO_DECIMAL.contains(&currency.as_str()) {
        Decimal::ONE
    } else {
        Decimal::ONE_HUNDRED
    };
    let units = amount * scale;
    if units.fract().is_zero() {
        units.to_i64()
    } else {
        None
    }
}

/// Minor units back to an amount (the inverse of [`minor_units`]).
pub fn from_minor_units(units: i64, currency: &Currency) -> Decimal {
    let m = minor_units(Decimal::ONE, currency).unwrap_or(100);
    let mut d = Decimal::from(units) / Decimal::from(m);
    if m == 100 {
        d.rescale(2);
    }
    d
}

pub mod ports;

#[cfg(test)]
mod tests;
