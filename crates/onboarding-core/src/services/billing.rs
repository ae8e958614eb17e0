//! Payments an admin confirms (the bundled payment adapter's flow).

use rust_decimal::Decimal;
use serde_json::json;

use super::*;
use crate::billing::Payment;
use crate::plan::Currency;
use crate::webhook::EventType;

impl Billing {
    /// Records a payment an admin confirmed (the bundled payment adapter's flow).
    pub async fn confirm_payment(
        &self,
        caller: Caller,
        id: SubscriptionId,
        amount: Decimal,
        currency: &str,
        reference: &str,
    ) -> ServiceResult<Payment> {
        let (staff, s) = self
            .cx
            .require_staff_on(caller, StaffAction::ConfirmPayment, id)
            .await?;
        let plan = self.cx.catalog().plan(s.plan_id).await?;
        let currency = Currency::new(currency)?;
        if amount <= Decimal::ZERO {
            return Err(
                FieldError::new("amount", "a payment amount must be greater than zero").into(),
            );
        }
        match &plan.pricing {
            crate::plan::Pricing::Paid { currency: c, .. } if c != &currency => {
                return Err(FieldError::new(
                    "currency",
                    format!("this plan is priced in {}", c.as_str()),
                )
                .into());
            }
            crate::plan::Pricing::Free => {
                return Err(ServiceError::Refused {
                    code: RefusalCode::FreePlan,
                    message: "free plans take no payment".into(),
                });
            }
            _ => {}
        }
        let reference = reference.trim();
        if reference.is_empty() || reference.len() > 200 {
            return Err(
                FieldError::new("reference", "a payment reference is 1-200 characters").into(),
            );
        }
        let now = self.cx.now();
        let payment = Payment {
            id: PaymentId::from_ulid(self.cx.ulid()),
            workspace_id: s.workspace_id,
            subscription_id: id,
            amount,
            currency,
            reference: reference.to_owned(),
            confirmed_by: staff,
            at: now,
        };
        let details = json!({ "amount": amount.to_string(), "currency": payment.currency, "subscription": id });
        self.cx
            .change_in(Actor::Staff(staff), now, s.workspace_id, Some(s.project_id))
            .with(Change::RecordPayment(payment.clone()))
            .audit("payment.confirmed", payment.id, details)
            .event(
                EventType::PaymentConfirmed,
                json!({ "subscription_id": id, "payment_id": payment.id }),
            )
            .commit()
            .await?;
        Ok(payment)
    }
}
