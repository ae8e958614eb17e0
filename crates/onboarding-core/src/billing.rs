//! Invoices (spec §9): lines per project and plan, computed with `Decimal` and rounded to the
//! cent once per line (half away from zero, as invoices are usually rounded).

use chrono::{DateTime, Utc};
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

use crate::ids::{PaymentId, ProjectId, StaffId, SubscriptionId, WorkspaceId};
use crate::plan::{Currency, Pricing};

/// What one project used under one plan in the period.
#[derive(Debug, Clone, PartialEq)]
pub struct BillableUsage {
    pub project_id: ProjectId,
    pub project_name: String,
    pub plan_name: String,
    pub pricing: Pricing,
    /// Production requests in the period.
    pub requests: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InvoiceLine {
    pub project_id: ProjectId,
    pub description: String,
    pub requests: u64,
    pub billable_requests: u64,
    pub currency: Currency,
    #[serde(with = "rust_decimal::serde::str")]
    pub monthly_fee: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    pub usage_amount: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    pub amount: Decimal,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Invoice {
    pub workspace_id: WorkspaceId,
    /// `2026-11`.
    pub period: String,
    pub lines: Vec<InvoiceLine>,
    /// One total per currency (a workspace may subscribe to plans priced in several).
    pub totals: Vec<(Currency, String)>,
}

/// Rounds money to the cent, always written with two decimals (`0.00`, not `0`).
pub fn to_cents(d: Decimal) -> Decimal {
    let mut cents = d.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
    cents.rescale(2);
    cents
}

/// Computes an invoice. Free plans produce no line.
pub fn compute_invoice(
    workspace_id: WorkspaceId,
    period: &str,
    usage: &[BillableUsage],
) -> Invoice {
    let mut lines = Vec::new();
    for u in usage {
        if let Pricing::Paid {
            currency,
            monthly_fee,
            included_requests,
            price_per_request,
        } = &u.pricing
        {
            let billable = u.requests.saturating_sub(*included_requests);
            let usage_amount = to_cents(Decimal::from(billable) * price_per_request);
            let fee = to_cents(*monthly_fee);
            lines.push(InvoiceLine {
                project_id: u.project_id,
                description: format!("{} on plan {}", u.project_name, u.plan_name),
                requests: u.requests,
                billable_requests: billable,
                currency: currency.clone(),
                monthly_fee: fee,
                usage_amount,
                amount: fee + usage_amount,
            });
        }
    }
    let mut totals: Vec<(Currency, Decimal)> = Vec::new();
    for l in &lines {
        match totals.iter_mut().find(|(c, _)| c == &l.currency) {
            Some((_, t)) => *t += l.amount,
            None => totals.push((l.currency.clone(), l.amount)),
        }
    }
    Invoice {
        workspace_id,
        period: period.to_owned(),
        lines,
        totals: totals
            .into_iter()
            .map(|(c, t)| (c, t.to_string()))
            .collect(),
    }
}

/// A payment an admin confirmed (the bundled payment adapter) or a processor reported.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Payment {
    pub id: PaymentId,
    pub workspace_id: WorkspaceId,
    pub subscription_id: SubscriptionId,
    #[serde(with = "rust_decimal::serde::str")]
    pub amount: Decimal,
    pub currency: Currency,
    pub reference: String,
    pub confirmed_by: StaffId,
    pub at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_fixtures::*;
    use rust_decimal_macros::dec;

    fn paid(fee: Decimal, included: u64, per: Decimal) -> Pricing {
        Pricing::Paid {
            currency: Currency::new("EUR").unwrap(),
            monthly_fee: fee,
            included_requests: included,
            price_per_request: per,
        }
    }

    #[test]
    fn monthly_fee_plus_requests_above_the_quota_to_the_cent() {
        let inv = compute_invoice(
            workspace_id(),
            "2026-11",
            &[
                BillableUsage {
                    project_id: sandbox_project().id,
                    project_name: "Sync".into(),
                    plan_name: "Standard".into(),
                    pricing: paid(dec!(49.00), 10_000, dec!(0.0025)),
                    requests: 12_345,
                },
                BillableUsage {
                    project_id: sandbox_project().id,
                    project_name: "Free".into(),
                    plan_name: "Explorer".into(),
                    pricing: Pricing::Free,
                    requests: 99_999,
                },
            ],
        );
        // 2345 billable * 0.0025 = 5.8625 -> 5.86; 49.00 + 5.86 = 54.86
        assert_eq!(inv.lines.len(), 1);
        assert_eq!(inv.lines[0].billable_requests, 2_345);
        assert_eq!(inv.lines[0].usage_amount, dec!(5.86));
        assert_eq!(inv.lines[0].amount, dec!(54.86));
        assert_eq!(
            inv.totals,
            vec![(Currency::new("EUR").unwrap(), "54.86".to_owned())]
        );
    }

    #[test]
    fn half_cents_round_away_from_zero_and_the_quota_is_not_billed() {
        let l = |requests| {
            compute_invoice(
                workspace_id(),
                "2026-11",
                &[BillableUsage {
                    project_id: sandbox_project().id,
                    project_name: "p".into(),
                    plan_name: "x".into(),
                    pricing: paid(dec!(0), 100, dec!(0.005)),
                    requests,
                }],
            )
            .lines[0]
                .amount
        };
        assert_eq!(l(101), dec!(0.01));
        assert_eq!(l(100), dec!(0.00));
        assert_eq!(l(50), dec!(0.00));
    }
}
