//! Usage views, alert evaluation and invoices (spec §9). Counting itself happens in the
//! [`UsageSink`] adapter; these use cases read the flushed buckets.

use chrono::{Datelike, TimeZone};
use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::json;

use super::*;
use crate::billing::{BillableUsage, Invoice, compute_invoice, to_cents};
use crate::plan::Pricing;
use crate::project::{Environment, Project};
use crate::usage::{
    AlertMetric, AlertThreshold, Granularity, UsageBucket, error_rate_percent, roll_up,
};
use crate::webhook::EventType;

/// A project's usage over a window.
#[derive(Debug, Clone, Serialize)]
pub struct UsageView {
    /// The project.
    pub project_id: ProjectId,
    /// The project's environment.
    pub environment: Environment,
    /// The window's first instant.
    pub from: DateTime<Utc>,
    /// The end of the window (exclusive).
    pub to: DateTime<Utc>,
    /// The bucket size the view is rolled up to.
    pub granularity: Granularity,
    /// The buckets in the window, rolled up to `granularity`.
    pub buckets: Vec<UsageBucket>,
    /// Requests in the window, successful or not.
    pub requests: u64,
    /// Failed requests in the window.
    pub errors: u64,
    /// Production projects on a paid plan: what the window's requests cost above the quota,
    /// counting the quota from the start of the calendar month. `None` for sandbox projects.
    pub spend: Option<String>,
    /// The currency of `spend`, when there is one (`EUR`).
    pub currency: Option<String>,
}

/// An alert raised by a threshold crossing.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RaisedAlert {
    /// The threshold crossed.
    pub threshold: AlertThreshold,
    /// The value observed in the window (requests, percent or money).
    pub observed: Decimal,
    /// The window it fired in (`2026-11-22` for daily metrics, `2026-11` for spend); it fires once
    /// per window.
    pub window: String,
}

/// The first instant of the calendar month holding `t`, and of the next month.
pub fn month_bounds(t: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
    let start = Utc
        .with_ymd_and_hms(t.year(), t.month(), 1, 0, 0, 0)
        .single()
        .unwrap_or(t);
    let (y, m) = if t.month() == 12 {
        (t.year() + 1, 1)
    } else {
        (t.year(), t.month() + 1)
    };
    (
        start,
        Utc.with_ymd_and_hms(y, m, 1, 0, 0, 0).single().unwrap_or(t),
    )
}

/// Parses a billing period `YYYY-MM` into its bounds.
pub fn period_bounds(period: &str) -> Result<(DateTime<Utc>, DateTime<Utc>), FieldError> {
    let bad = || FieldError::new("period", "a period is written YYYY-MM");
    let (y, m) = period.split_once('-').ok_or_else(bad)?;
    if y.len() != 4 || m.len() != 2 || !(y.bytes().chain(m.bytes())).all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let (y, m): (i32, u32) = (y.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if !(2000..=9999).contains(&y) || !(1..=12).contains(&m) {
        return Err(bad());
    }
    let t = Utc
        .with_ymd_and_hms(y, m, 1, 0, 0, 0)
        .single()
        .ok_or_else(bad)?;
    Ok(month_bounds(t))
}

fn totals(buckets: &[UsageBucket]) -> (u64, u64) {
    buckets
        .iter()
        .fold((0, 0), |(r, e), b| (r + b.requests, e + b.errors))
}

impl Metering {
    /// The project's usage view: requests, errors and spend in `[from, to)` (at most the last
    /// 400 days of it; an inverted window is empty).
    pub async fn project_usage(
        &self,
        caller: Caller,
        project: ProjectId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        granularity: Granularity,
    ) -> ServiceResult<UsageView> {
        let p = self.cx.load_project(project).await?;
        self.cx
            .require_on("project", caller, p.workspace_id, Action::ReadUsage)
            .await?;
        // A window longer than 400 days keeps its last 400; an inverted one is empty. The
        // view names the window it covers, so the caller sees what was cut.
        let from = from.max(to - chrono::TimeDelta::days(400)).min(to);
        let minute = self.cx.p.usage.buckets(project, from, to).await?;
        let buckets = if granularity == Granularity::Minute {
            minute.clone()
        } else {
            roll_up(&minute, granularity)
        };
        let (requests, errors) = totals(&minute);
        let (mut spend, mut currency) = (None, None);
        if p.environment == Environment::Production
            && let Some((pricing, _)) = self.cx.production_pricing(&p).await?
        {
            let (month_start, _) = month_bounds(from);
            let before = totals(&self.cx.p.usage.buckets(project, month_start, from).await?).0;
            if let Some((s, c)) = Context::spend(&pricing, before, requests) {
                spend = Some(s.to_string());
                currency = Some(c);
            }
        }
        Ok(UsageView {
            project_id: project,
            environment: p.environment,
            from,
            to,
            granularity,
            buckets,
            requests,
            errors,
            spend,
            currency,
        })
    }

    /// Evaluates a project's thresholds at `now` and raises each crossing once per window: the
    /// threshold records the window, an audit event and an `alert.triggered` webhook event are
    /// written with it. Run by the server after each usage flush.
    pub async fn evaluate_alerts(&self, project: ProjectId) -> ServiceResult<Vec<RaisedAlert>> {
        let p = self.cx.load_project(project).await?;
        let now = self.cx.now();
        let day_start = Granularity::Day.floor(now);
        let (month_start, _) = month_bounds(now);
        let mut raised = Vec::new();
        for th in self.cx.p.alerts.thresholds(project).await? {
            let observed = match th.metric {
                AlertMetric::RequestsPerDay => Decimal::from(
                    totals(
                        &self
                            .cx
                            .p
                            .usage
                            .buckets(project, day_start, now + chrono::TimeDelta::minutes(1))
                            .await?,
                    )
                    .0,
                ),
                AlertMetric::ErrorRatePercent => {
                    let (r, e) = totals(
                        &self
                            .cx
                            .p
                            .usage
                            .buckets(project, day_start, now + chrono::TimeDelta::minutes(1))
                            .await?,
                    );
                    error_rate_percent(r, e)
                }
                AlertMetric::SpendPerMonth => {
                    let requests = totals(
                        &self
                            .cx
                            .p
                            .usage
                            .buckets(project, month_start, now + chrono::TimeDelta::minutes(1))
                            .await?,
                    )
                    .0;
                    match self.cx.production_pricing(&p).await? {
                        Some((pricing, _)) if p.environment == Environment::Production => {
                            Context::spend(&pricing, 0, requests).map_or(Decimal::ZERO, |(s, _)| s)
                        }
                        _ => Decimal::ZERO,
                    }
                }
            };
            let Some(window) = th.crossing(observed, now) else {
                continue;
            };
            let details = json!({ "metric": th.metric, "limit": th.limit.to_string(), "observed": observed.to_string(), "window": window });
            let mut payload = details.clone();
            payload["project_id"] = json!(project);
            let set = self
                .cx
                .change_in(Actor::System, now, p.workspace_id, Some(project))
                .with(Change::FireAlert {
                    threshold: th.id,
                    window: window.clone(),
                })
                .audit("alert.triggered", th.id, details)
                .event(EventType::AlertTriggered, payload)
                .into_set()?;
            match self.cx.p.uow.commit(set).await {
                Ok(()) => {}
                // Another replica raised it in this window first: once per window holds.
                Err(StoreError::Conflict(_)) => continue,
                Err(e) => return Err(e.into()),
            }
            raised.push(RaisedAlert {
                threshold: th,
                observed,
                window,
            });
        }
        Ok(raised)
    }
}

impl Billing {
    /// The workspace's invoice for a period: one line per production project on a paid plan
    /// (monthly fee plus the requests above the included quota).
    pub async fn invoice(
        &self,
        caller: Caller,
        ws: WorkspaceId,
        period: &str,
    ) -> ServiceResult<Invoice> {
        match caller {
            Caller::Staff { role, .. } if staff_allowed(role, StaffAction::ConfirmPayment) => {}
            _ => {
                self.cx.require(caller, ws, Action::ReadInvoices).await?;
            }
        }
        self.cx.period_statement(ws, period).await
    }
}

impl Context {
    /// The period's statement of usage and fees, per production project on a paid plan.
    pub(super) async fn period_statement(
        &self,
        ws: WorkspaceId,
        period: &str,
    ) -> ServiceResult<Invoice> {
        let (from, to) = period_bounds(period)?;
        let mut usage = Vec::new();
        for project in self.p.projects.projects(ws).await? {
            if project.environment != Environment::Production || project.created_at >= to {
                continue;
            }
            let Some((pricing, plan_name)) = self.production_pricing(&project).await? else {
                continue;
            };
            let requests = totals(&self.p.usage.buckets(project.id, from, to).await?).0;
            usage.push(BillableUsage {
                project_id: project.id,
                project_name: project.name.to_string(),
                plan_name,
                pricing,
                requests,
            });
        }
        Ok(compute_invoice(ws, period, &usage))
    }
}

impl Context {
    /// The pricing that applies to a production project (through its subscription's plan).
    pub(super) async fn production_pricing(
        &self,
        project: &Project,
    ) -> ServiceResult<Option<(Pricing, String)>> {
        let Some(sub) = project.subscription_id else {
            return Ok(None);
        };
        let Some(s) = self.p.subscriptions.subscription(sub).await? else {
            return Ok(None);
        };
        let plan = self.catalog().plan(s.plan_id).await?;
        Ok(Some((plan.pricing, plan.name.to_string())))
    }

    /// Spend of a production project for `requests_before` + `requests` in one month: only the
    /// requests above the included quota cost money.
    pub(super) fn spend(
        pricing: &Pricing,
        requests_before: u64,
        requests: u64,
    ) -> Option<(Decimal, String)> {
        match pricing {
            Pricing::Paid {
                currency,
                included_requests,
                price_per_request,
                ..
            } => {
                let billable_total =
                    (requests_before + requests).saturating_sub(*included_requests);
                let billable_before = requests_before.saturating_sub(*included_requests);
                Some((
                    to_cents(Decimal::from(billable_total - billable_before) * price_per_request),
                    currency.as_str().to_owned(),
                ))
            }
            Pricing::Free => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_parse_and_bound_a_month() {
        let (a, b) = period_bounds("2026-12").unwrap();
        assert_eq!(
            (a.to_rfc3339(), b.to_rfc3339()),
            (
                "2026-12-01T00:00:00+00:00".into(),
                "2027-01-01T00:00:00+00:00".into()
            )
        );
        for bad in ["2026-13", "26-01", "2026-1", "x", "2026-00"] {
            assert!(period_bounds(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn spend_counts_only_requests_above_the_quota() {
        let pricing = Pricing::Paid {
            currency: crate::plan::Currency::new("EUR").unwrap(),
            monthly_fee: Decimal::new(4900, 2),
            included_requests: 100,
            price_per_request: Decimal::new(25, 4),
            payment_grace_days: 14,
        };
        assert_eq!(
            Context::spend(&pricing, 0, 100),
            Some((Decimal::ZERO, "EUR".into()))
        );
        assert_eq!(
            Context::spend(&pricing, 90, 20).unwrap().0,
            Decimal::new(3, 2)
        ); // 10 * 0.0025 = 0.025 -> 0.03
        assert_eq!(
            Context::spend(&pricing, 200, 400).unwrap().0,
            Decimal::new(100, 2)
        );
    }
}
