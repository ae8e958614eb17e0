//! Invoices and payments (spec §9, docs/decisions/0040-0042): the up-front invoice issued at
//! approval, later periods' invoices, payments recorded by an admin (manual) or reported by a
//! processor (Stripe, once per event id), refunds, voids and write-offs, and the payment
//! standing the production lock reads.

use rust_decimal::Decimal;
use serde_json::json;

use super::change::Draft;
use super::*;
use crate::audit::Actor;
use crate::invoicing::{
    InvoiceError, InvoiceState, InvoiceSubject, IssuedInvoice, Payment, PaymentStanding, Refund,
    payment_standing, period_invoice, up_front_invoice,
};
use crate::pipeline::{PhaseKind, Subscription};
use crate::plan::{Currency, Plan};
use crate::project::Environment;
use crate::webhook::EventType;

/// An invoice as its page shows it: the invoice, its history and how to pay it.
#[derive(Debug, Clone, PartialEq)]
pub struct InvoiceView {
    /// The invoice.
    pub invoice: IssuedInvoice,
    /// Its payments, oldest first.
    pub payments: Vec<Payment>,
    /// Its refunds, oldest first.
    pub refunds: Vec<Refund>,
    /// How the partner pays (instructions, or a Pay button).
    pub method: PaymentMethod,
    /// Whether the reader may start a checkout (billing members, on an owed invoice).
    pub can_pay: bool,
}

/// What a processor's event did.
#[derive(Debug, Clone, PartialEq)]
pub enum ProcessorOutcome {
    /// The event changed the invoice.
    Applied(Box<IssuedInvoice>),
    /// This event id was handled before: nothing changed.
    Duplicate,
}

impl Billing {
    /// A workspace's invoices, newest first: billing members and owners, and admins.
    pub async fn invoices(
        &self,
        caller: Caller,
        ws: WorkspaceId,
    ) -> ServiceResult<Vec<IssuedInvoice>> {
        self.cx.require_invoices(caller, ws).await?;
        Ok(self.cx.p.invoices.invoices_of_workspace(ws).await?)
    }

    /// One invoice with its payments, refunds and the way to pay it.
    pub async fn invoice_view(&self, caller: Caller, id: InvoiceId) -> ServiceResult<InvoiceView> {
        let invoice = self.cx.load_invoice(id).await?;
        let can_pay = match self.cx.require_invoices(caller, invoice.workspace_id).await {
            Ok(roles) => roles.is_some_and(|r| allowed(r, Action::ManageBilling)),
            Err(e) => return Err(not_found_as("invoice")(e)),
        };
        let can_pay = can_pay && !invoice.amount_due().is_zero();
        Ok(InvoiceView {
            payments: self.cx.p.invoices.payments_of_invoice(id).await?,
            refunds: self.cx.p.invoices.refunds_of_invoice(id).await?,
            method: self.cx.p.payments.method(),
            can_pay,
            invoice,
        })
    }

    /// Invoices in one state, oldest first, for staff chasing them (admins).
    pub async fn invoices_in_state(
        &self,
        caller: Caller,
        state: InvoiceState,
        after: Option<InvoiceId>,
        limit: u64,
    ) -> ServiceResult<Vec<IssuedInvoice>> {
        self.cx.require_staff(caller, StaffAction::ConfirmPayment)?;
        Ok(self
            .cx
            .p
            .invoices
            .invoices_in_state(state, after, limit.clamp(1, 200))
            .await?)
    }

    /// Starts the processor's hosted checkout for what is due (billing members).
    pub async fn checkout(
        &self,
        caller: Caller,
        id: InvoiceId,
        urls: &CheckoutUrls,
    ) -> ServiceResult<CheckoutSession> {
        let invoice = self.cx.load_invoice(id).await?;
        self.cx
            .require_on(
                "invoice",
                caller,
                invoice.workspace_id,
                Action::ManageBilling,
            )
            .await?;
        if invoice.amount_due().is_zero() {
            return Err(nothing_due(&invoice));
        }
        self.cx
            .p
            .payments
            .checkout(&invoice, urls)
            .await
            .map_err(|e| match e {
                GatewayError::NoCheckout => ServiceError::Refused {
                    code: RefusalCode::NoCheckout,
                    message: e.to_string(),
                },
                GatewayError::Amount => ServiceError::Invalid(FieldError::new(
                    "amount",
                    "this amount cannot be charged in the currency's minor units",
                )),
                GatewayError::Unavailable(m) => ServiceError::Internal(m),
            })
    }

    /// Records a payment an admin received (the manual adapter): the amount and currency must
    /// fit what is due; a partial payment is recorded and leaves the invoice open.
    pub async fn record_payment(
        &self,
        caller: Caller,
        id: InvoiceId,
        amount: Decimal,
        currency: &str,
        reference: &str,
    ) -> ServiceResult<(Payment, IssuedInvoice)> {
        let staff = self.cx.require_staff(caller, StaffAction::ConfirmPayment)?;
        let invoice = self.cx.load_invoice(id).await?;
        let currency =
            Currency::new(currency).map_err(|e| FieldError::new("currency", e.reason))?;
        let reference = reference.trim();
        if reference.is_empty() || reference.chars().count() > 200 {
            return Err(
                FieldError::new("reference", "a payment reference is 1-200 characters").into(),
            );
        }
        self.cx
            .apply_payment(
                Actor::Staff(staff),
                &invoice,
                amount,
                currency,
                reference,
                None,
            )
            .await
    }

    /// The pre-invoice flow kept for clients of `POST /subscriptions/{id}/payments`: records
    /// the payment against the subscription's oldest owed invoice.
    pub async fn confirm_payment(
        &self,
        caller: Caller,
        id: SubscriptionId,
        amount: Decimal,
        currency: &str,
        reference: &str,
    ) -> ServiceResult<Payment> {
        let (_, s) = self
            .cx
            .require_staff_on(caller, StaffAction::ConfirmPayment, id)
            .await?;
        let plan = self.cx.catalog().plan(s.plan_id).await?;
        if !plan.pricing.is_paid() {
            return Err(ServiceError::Refused {
                code: RefusalCode::FreePlan,
                message: "free plans take no payment".into(),
            });
        }
        let owed = self
            .cx
            .p
            .invoices
            .invoices_of_subscription(id)
            .await?
            .into_iter()
            .find(|i| !i.amount_due().is_zero())
            .ok_or(ServiceError::Refused {
                code: RefusalCode::NothingDue,
                message: "nothing is due on this subscription".into(),
            })?;
        Ok(self
            .record_payment(caller, owed.id, amount, currency, reference)
            .await?
            .0)
    }

    /// A payment a processor reported (`checkout.session.completed`): applied once per event
    /// id, by the system.
    pub async fn processor_payment(
        &self,
        event_id: &str,
        id: InvoiceId,
        amount: Decimal,
        currency: &str,
        reference: &str,
    ) -> ServiceResult<ProcessorOutcome> {
        if self.cx.p.invoices.processor_event_seen(event_id).await? {
            return Ok(ProcessorOutcome::Duplicate);
        }
        let invoice = self.cx.load_invoice(id).await?;
        let currency =
            Currency::new(currency).map_err(|e| FieldError::new("currency", e.reason))?;
        let r = self
            .cx
            .apply_payment(
                Actor::System,
                &invoice,
                amount,
                currency,
                reference,
                Some(event_id),
            )
            .await;
        self.cx.once(event_id, r.map(|(_, inv)| inv)).await
    }

    /// A refund a processor reported (`charge.refunded`): `refunded_total` is what the
    /// processor has refunded on the payment so far; the difference from what is recorded is
    /// refunded now, once per event id.
    pub async fn processor_refund(
        &self,
        event_id: &str,
        payment_reference: &str,
        refunded_total: Decimal,
        refund_reference: &str,
    ) -> ServiceResult<ProcessorOutcome> {
        if self.cx.p.invoices.processor_event_seen(event_id).await? {
            return Ok(ProcessorOutcome::Duplicate);
        }
        let payment = self
            .cx
            .p
            .invoices
            .payment_by_reference(payment_reference)
            .await?
            .ok_or(ServiceError::NotFound { entity: "payment" })?;
        let invoice = self.cx.load_invoice(payment.invoice_id).await?;
        let already: Decimal = self
            .cx
            .p
            .invoices
            .refunds_of_invoice(invoice.id)
            .await?
            .iter()
            .filter(|r| r.payment_id == payment.id)
            .map(|r| r.amount)
            .sum();
        let amount = refunded_total - already;
        let r = self
            .cx
            .apply_refund(
                Actor::System,
                &invoice,
                &payment,
                amount,
                refund_reference,
                Some(event_id),
            )
            .await;
        self.cx.once(event_id, r).await
    }

    /// Refunds part or all of a payment (admins), e.g. after a manual transfer was returned.
    pub async fn refund(
        &self,
        caller: Caller,
        payment_id: PaymentId,
        amount: Decimal,
        reference: &str,
    ) -> ServiceResult<IssuedInvoice> {
        let staff = self.cx.require_staff(caller, StaffAction::ConfirmPayment)?;
        let reference = reference.trim();
        if reference.is_empty() || reference.chars().count() > 200 {
            return Err(
                FieldError::new("reference", "a refund reference is 1-200 characters").into(),
            );
        }
        let payment = self
            .cx
            .p
            .invoices
            .payment_by_id(payment_id)
            .await?
            .ok_or(ServiceError::NotFound { entity: "payment" })?;
        let invoice = self.cx.load_invoice(payment.invoice_id).await?;
        self.cx
            .apply_refund(
                Actor::Staff(staff),
                &invoice,
                &payment,
                amount,
                reference,
                None,
            )
            .await
    }

    /// Voids an invoice nothing was paid on (admins): nothing is owed any more.
    pub async fn void(&self, caller: Caller, id: InvoiceId) -> ServiceResult<IssuedInvoice> {
        self.settle_by_staff(
            caller,
            id,
            "invoice.voided",
            EventType::InvoiceVoided,
            |i| i.void(),
        )
        .await
    }

    /// Writes an open invoice off as uncollectible (admins): still owed, still locking.
    pub async fn mark_uncollectible(
        &self,
        caller: Caller,
        id: InvoiceId,
    ) -> ServiceResult<IssuedInvoice> {
        self.settle_by_staff(
            caller,
            id,
            "invoice.marked_uncollectible",
            EventType::InvoiceMarkedUncollectible,
            |i| i.mark_uncollectible(),
        )
        .await
    }

    async fn settle_by_staff(
        &self,
        caller: Caller,
        id: InvoiceId,
        action: &str,
        event: EventType,
        rule: impl FnOnce(&IssuedInvoice) -> Result<IssuedInvoice, InvoiceError>,
    ) -> ServiceResult<IssuedInvoice> {
        let staff = self.cx.require_staff(caller, StaffAction::ConfirmPayment)?;
        let invoice = self.cx.load_invoice(id).await?;
        let mut next = rule(&invoice).map_err(invoice_error)?;
        let now = self.cx.now();
        self.cx
            .invoice_change(Actor::Staff(staff), now, &invoice)
            .await?
            .update(&mut next)
            .audit(
                action,
                id,
                json!({ "state": next.state.as_str(), "total": next.total.to_string(), "currency": next.currency }),
            )
            .event(event, invoice_payload(&next))
            .commit()
            .await
            .map_err(stale_invoice)?;
        Ok(next)
    }

    /// Issues the `period` invoice of every production subscription on a paid plan that has
    /// none for it yet (the monthly fee plus the previous period's usage beyond the quota).
    /// Run by the billing worker at the start of each month; returns what it issued.
    pub async fn issue_period_invoices(&self, period: &str) -> ServiceResult<Vec<IssuedInvoice>> {
        let (from, _) = period_bounds(period)?;
        let previous = crate::invoicing::period_of(from - chrono::Duration::days(1));
        let now = self.cx.now();
        let mut issued = Vec::new();
        for s in self.cx.p.invoices.production_subscriptions().await? {
            if s.phase.kind() != PhaseKind::Production {
                continue;
            }
            let plan = self.cx.catalog().plan(s.plan_id).await?;
            if !plan.pricing.is_paid() {
                continue;
            }
            let existing = self.cx.p.invoices.invoices_of_subscription(s.id).await?;
            if existing.iter().any(|i| i.period.as_str() >= period) {
                continue;
            }
            let subject = self.cx.invoice_subject(&s).await?;
            let usage = match &subject.1 {
                Some(project) => {
                    let inv = self.cx.period_statement(s.workspace_id, &previous).await?;
                    inv.lines
                        .iter()
                        .filter(|l| l.project_id == project.id)
                        .map(|l| l.usage_amount)
                        .sum()
                }
                None => Decimal::ZERO,
            };
            let id = InvoiceId::from_ulid(self.cx.ulid());
            let Some(invoice) = period_invoice(id, &subject.0, &plan, period, usage, now) else {
                continue;
            };
            self.cx
                .change_in(
                    Actor::System,
                    now,
                    s.workspace_id,
                    Some(subject.0.project_id),
                )
                .with(Change::InsertInvoice(invoice.clone()))
                .audit("invoice.issued", invoice.id, issued_details(&invoice))
                .event(EventType::InvoiceIssued, invoice_payload(&invoice))
                .commit()
                .await?;
            issued.push(invoice);
        }
        Ok(issued)
    }
}

impl Context {
    /// Where a subscription stands with its invoices now.
    pub(crate) async fn payment_standing(
        &self,
        s: &Subscription,
        plan: &Plan,
    ) -> ServiceResult<PaymentStanding> {
        if !plan.pricing.is_paid() {
            return Ok(PaymentStanding::Settled);
        }
        let invoices = self.p.invoices.invoices_of_subscription(s.id).await?;
        Ok(payment_standing(s.id, &plan.pricing, &invoices, self.now()))
    }

    /// Adds the up-front invoice of a paid plan to an approval's change (docs/decisions/0040).
    pub(crate) async fn with_up_front_invoice<'a>(
        &'a self,
        draft: Draft<'a>,
        s: &Subscription,
        plan: &Plan,
        at: DateTime<Utc>,
    ) -> ServiceResult<Draft<'a>> {
        if !plan.pricing.is_paid() {
            return Ok(draft);
        }
        let existing = self.p.invoices.invoices_of_subscription(s.id).await?;
        if existing
            .iter()
            .any(|i| i.kind == crate::invoicing::InvoiceKind::UpFront)
        {
            return Ok(draft);
        }
        let (subject, _) = self.invoice_subject(s).await?;
        let id = InvoiceId::from_ulid(self.ulid());
        Ok(match up_front_invoice(id, &subject, plan, at) {
            Some(invoice) => draft
                .with(Change::InsertInvoice(invoice.clone()))
                .audit("invoice.issued", invoice.id, issued_details(&invoice))
                .event(EventType::InvoiceIssued, invoice_payload(&invoice)),
            None => draft,
        })
    }

    async fn invoice_subject(
        &self,
        s: &Subscription,
    ) -> ServiceResult<(InvoiceSubject, Option<crate::project::Project>)> {
        let production = match s.production_project_id {
            Some(p) => Some(self.load_project(p).await?),
            None => None,
        };
        let project = match &production {
            Some(p) => p.clone(),
            None => self.load_project(s.project_id).await?,
        };
        let production = production.filter(|p| p.environment == Environment::Production);
        Ok((
            InvoiceSubject {
                workspace_id: s.workspace_id,
                subscription_id: s.id,
                project_id: project.id,
                project_name: project.name.to_string(),
            },
            production,
        ))
    }

    async fn load_invoice(&self, id: InvoiceId) -> ServiceResult<IssuedInvoice> {
        self.p
            .invoices
            .invoice(id)
            .await?
            .ok_or(ServiceError::NotFound { entity: "invoice" })
    }

    /// Billing members and owners of the workspace, and admins (`None` roles).
    async fn require_invoices(
        &self,
        caller: Caller,
        ws: WorkspaceId,
    ) -> ServiceResult<Option<RoleSet>> {
        match caller {
            Caller::Staff { role, .. } if staff_allowed(role, StaffAction::ConfirmPayment) => {
                self.load_workspace(ws).await?;
                Ok(None)
            }
            _ => Ok(Some(
                self.require(caller, ws, Action::ReadInvoices).await?.1,
            )),
        }
    }

    async fn invoice_change(
        &self,
        actor: Actor,
        at: DateTime<Utc>,
        invoice: &IssuedInvoice,
    ) -> ServiceResult<Draft<'_>> {
        let project = invoice.lines.first().map(|l| l.project_id);
        Ok(self.change_in(actor, at, invoice.workspace_id, project))
    }

    async fn apply_payment(
        &self,
        actor: Actor,
        invoice: &IssuedInvoice,
        amount: Decimal,
        currency: Currency,
        reference: &str,
        event_id: Option<&str>,
    ) -> ServiceResult<(Payment, IssuedInvoice)> {
        let now = self.now();
        let mut next = invoice.pay(amount, &currency, now).map_err(invoice_error)?;
        let payment = Payment {
            id: PaymentId::from_ulid(self.ulid()),
            workspace_id: invoice.workspace_id,
            subscription_id: invoice.subscription_id,
            invoice_id: invoice.id,
            amount,
            currency,
            reference: reference.to_owned(),
            recorded_by: actor,
            at: now,
        };
        let mut draft = self.invoice_change(actor, now, invoice).await?;
        if let Some(e) = event_id {
            draft = draft.with(Change::RecordProcessorEvent {
                id: e.to_owned(),
                at: now,
            });
        }
        let mut draft = draft
            .update(&mut next)
            .with(Change::RecordPayment(payment.clone()))
            .audit(
                "payment.recorded",
                payment.id,
                json!({
                    "invoice": invoice.id, "amount": amount.to_string(),
                    "currency": payment.currency, "reference": payment.reference,
                    "subscription": invoice.subscription_id, "processor_event": event_id,
                    "invoice_state": next.state.as_str(), "amount_due": next.amount_due().to_string(),
                }),
            )
            .event(
                EventType::PaymentConfirmed,
                json!({
                    "subscription_id": invoice.subscription_id, "payment_id": payment.id,
                    "invoice_id": invoice.id, "amount": amount.to_string(),
                    "currency": payment.currency,
                }),
            );
        // One audit event per use case: it names the invoice's state after the payment.
        if next.state == InvoiceState::Paid {
            draft = draft.event(EventType::InvoicePaid, invoice_payload(&next));
        }
        draft.commit().await.map_err(stale_invoice)?;
        Ok((payment, next))
    }

    async fn apply_refund(
        &self,
        actor: Actor,
        invoice: &IssuedInvoice,
        payment: &Payment,
        amount: Decimal,
        reference: &str,
        event_id: Option<&str>,
    ) -> ServiceResult<IssuedInvoice> {
        let now = self.now();
        let mut next = invoice.refund(amount).map_err(invoice_error)?;
        let refund = Refund {
            id: RefundId::from_ulid(self.ulid()),
            workspace_id: invoice.workspace_id,
            invoice_id: invoice.id,
            payment_id: payment.id,
            amount,
            currency: invoice.currency.clone(),
            reference: reference.to_owned(),
            recorded_by: actor,
            at: now,
        };
        let mut draft = self.invoice_change(actor, now, invoice).await?;
        if let Some(e) = event_id {
            draft = draft.with(Change::RecordProcessorEvent {
                id: e.to_owned(),
                at: now,
            });
        }
        draft
            .update(&mut next)
            .with(Change::RecordRefund(refund.clone()))
            .audit(
                "payment.refunded",
                refund.id,
                json!({
                    "invoice": invoice.id, "payment": payment.id, "amount": amount.to_string(),
                    "currency": refund.currency, "reference": refund.reference,
                    "state": next.state.as_str(), "processor_event": event_id,
                }),
            )
            .event(
                EventType::PaymentRefunded,
                json!({
                    "invoice_id": invoice.id, "payment_id": payment.id, "refund_id": refund.id,
                    "amount": amount.to_string(), "currency": refund.currency,
                    "invoice_state": next.state.as_str(),
                }),
            )
            .commit()
            .await
            .map_err(stale_invoice)?;
        Ok(next)
    }

    /// A processor event's outcome: when a concurrent delivery of the same event id won the
    /// commit (the database refused the id), this one is a `Duplicate`, not an error.
    async fn once(
        &self,
        event_id: &str,
        r: ServiceResult<IssuedInvoice>,
    ) -> ServiceResult<ProcessorOutcome> {
        match r {
            Ok(inv) => Ok(ProcessorOutcome::Applied(Box::new(inv))),
            Err(ServiceError::Stale { .. })
                if self.p.invoices.processor_event_seen(event_id).await? =>
            {
                Ok(ProcessorOutcome::Duplicate)
            }
            Err(e) => Err(e),
        }
    }
}

fn nothing_due(invoice: &IssuedInvoice) -> ServiceError {
    ServiceError::Conflict {
        message: "nothing is due on this invoice".into(),
        current: Some(invoice.state.as_str().into()),
    }
}

/// A lost race on the invoice row (or an event id already recorded) is reported as stale.
fn stale_invoice(e: ServiceError) -> ServiceError {
    match e {
        ServiceError::Conflict { message, .. } => ServiceError::Stale {
            message,
            current: None,
        },
        other => other,
    }
}

fn invoice_error(e: InvoiceError) -> ServiceError {
    match &e {
        InvoiceError::NotPositive
        | InvoiceError::Overpayment { .. }
        | InvoiceError::OverRefund { .. } => {
            ServiceError::Invalid(FieldError::new("amount", e.to_string()))
        }
        InvoiceError::WrongCurrency { .. } => {
            ServiceError::Invalid(FieldError::new("currency", e.to_string()))
        }
        InvoiceError::State { state } => ServiceError::Conflict {
            message: e.to_string(),
            current: Some(state.as_str().into()),
        },
        InvoiceError::HasPayments => ServiceError::Conflict {
            message: e.to_string(),
            current: Some("has_payments".into()),
        },
    }
}

fn issued_details(i: &IssuedInvoice) -> Value {
    json!({
        "kind": i.kind.as_str(), "period": i.period, "total": i.total.to_string(),
        "currency": i.currency, "subscription": i.subscription_id,
    })
}

fn invoice_payload(i: &IssuedInvoice) -> Value {
    json!({
        "invoice_id": i.id, "subscription_id": i.subscription_id, "kind": i.kind.as_str(),
        "period": i.period, "state": i.state.as_str(), "total": i.total.to_string(),
        "amount_due": i.amount_due().to_string(), "currency": i.currency,
    })
}
