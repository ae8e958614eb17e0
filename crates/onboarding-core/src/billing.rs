//! Invoices (spec §9): lines per project and plan, computed with `Decimal` and rounded to the
//! cent once per line (half away from zero, as invoices are usually rounded).

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

use crate::ids::{ProjectId, WorkspaceId};
use crate::plan::{Currency, Pricing};

/// What one project used under one plan in the period.
#[derive(Debug, Clone, PartialEq)]
pub struct BillableUsage {
    /// The project that carried the traffic; it gets its own invoice line.
    pub project_id: ProjectId,
    /// The project's display name, used in the line description.
    pub project_name: String,
    /// The plan's display name, used in the line description.
    pub plan_name: String,
    /// The plan's pricing at invoicing time; free plans produce no line.
    pub pricing: Pricing,
    /// Production requests in the period.
    pub requests: u64,
}

/// One line of an invoice: one project under one paid plan, for the period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InvoiceLine {
    /// The project this line bills.
    pub project_id: ProjectId,
    /// Human-readable description: `"<project> on plan <plan>"`.
    pub description: String,
    /// All production requests in the period, included quota and beyond.
    pub requests: u64,
    /// Requests beyond the plan's included quota: the ones charged per request.
    pub billable_requests: u64,
    /// Currency of every amount on this line (the plan's currency).
    pub currency: Currency,
    /// The plan's monthly fee, rounded to the cent; serialized as a decimal string (`"49.00"`).
    #[serde(with = "rust_decimal::serde::str")]
    pub monthly_fee: Decimal,
    /// `billable_requests × price_per_request`, rounded to the cent once; a decimal string in JSON.
    #[serde(with = "rust_decimal::serde::str")]
    pub usage_amount: Decimal,
    /// `monthly_fee + usage_amount`: what this line charges; a decimal string in JSON.
    #[serde(with = "rust_decimal::serde::str")]
    pub amount: Decimal,
}

/// A workspace's invoice for one period: one line per project and paid plan, totals per currency.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Invoice {
    /// The billed workspace (its billing owner receives the invoice).
    pub workspace_id: WorkspaceId,
    /// `2026-11`.
    pub period: String,
    /// One line per project billed under a paid plan; empty when every plan is free.
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
///
/// # Examples
///
/// ```
/// use onboarding_core::billing::{compute_invoice, BillableUsage};
/// use onboarding_core::ids::{ProjectId, WorkspaceId};
/// use onboarding_core::plan::{Currency, Pricing};
/// use rust_decimal::Decimal;
/// use ulid::Ulid;
///
/// let eur = Currency::new("EUR").unwrap();
/// let usage = BillableUsage {
///     project_id: ProjectId::from_ulid(Ulid::from_parts(1, 1)),
///     project_name: "Balance sync".into(),
///     plan_name: "Growth".into(),
///     pricing: Pricing::Paid {
///         currency: eur.clone(),
///         monthly_fee: Decimal::new(49, 0),             // 49.00
///         included_requests: 10_000,
///         price_per_request: Decimal::new(2, 3),        // 0.002
///         payment_grace_days: 14,
///     },
///     requests: 12_345,
/// };
/// let free = BillableUsage { pricing: Pricing::Free, ..usage.clone() };
///
/// let ws = WorkspaceId::from_ulid(Ulid::from_parts(1, 2));
/// let invoice = compute_invoice(ws, "2026-11", &[usage, free]);
///
/// // The free plan produces no line; 2,345 requests beyond the quota cost 4.69.
/// assert_eq!(invoice.lines.len(), 1);
/// let line = &invoice.lines[0];
/// assert_eq!(line.billable_requests, 2_345);
/// assert_eq!(line.usage_amount.to_string(), "4.69");
/// assert_eq!(line.amount.to_string(), "53.69");
/// assert_eq!(invoice.totals, vec![(eur, "53.69".to_string())]);
/// ```
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
            ..
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

pub use crate::invoicing::Payment;

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
            payment_grace_days: 14,
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
