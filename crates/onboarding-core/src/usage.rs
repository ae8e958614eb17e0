//! Usage counters and alert thresholds (spec §9).

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::ids::{AlertThresholdId, CredentialId, ProjectId};
use crate::project::Environment;
use crate::values::FieldError;

/// One counted call, as the hot path and the ingestion endpoint report it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageEvent {
    /// The credential that made the call.
    pub credential_id: CredentialId,
    /// The credential's project.
    pub project_id: ProjectId,
    /// The credential's environment: sandbox and production usage are never mixed.
    pub environment: Environment,
    /// `METHOD /path`, or `verify` when only the key check is known.
    pub endpoint: String,
    /// When the call was verified.
    pub at: DateTime<Utc>,
    /// Whether the call succeeded (errors count as requests too).
    pub success: bool,
}

/// A counter row: one (credential, endpoint, bucket) with its totals.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageBucket {
    /// The credential counted.
    pub credential_id: CredentialId,
    /// The credential's project.
    pub project_id: ProjectId,
    /// Sandbox or production.
    pub environment: Environment,
    /// `METHOD /path`, or `verify`.
    pub endpoint: String,
    /// The start of the bucket (a whole UTC minute, hour or day).
    pub bucket_start: DateTime<Utc>,
    /// Calls in the bucket, successful or not.
    pub requests: u64,
    /// Failed calls in the bucket (a subset of `requests`).
    pub errors: u64,
}

/// Bucket granularity: minute rows roll up to hour and day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Granularity {
    /// One UTC minute: the unit counters are stored in.
    Minute,
    /// One UTC hour, rolled up from minutes.
    Hour,
    /// One UTC day, rolled up from minutes.
    Day,
}

impl Granularity {
    /// The length of one bucket.
    pub fn span(self) -> TimeDelta {
        match self {
            Granularity::Minute => TimeDelta::minutes(1),
            Granularity::Hour => TimeDelta::hours(1),
            Granularity::Day => TimeDelta::days(1),
        }
    }

    /// The start of the bucket holding `t`.
    pub fn floor(self, t: DateTime<Utc>) -> DateTime<Utc> {
        t.duration_trunc(self.span()).unwrap_or(t)
    }
}

/// Adds events into minute buckets (the in-memory aggregation the flusher writes in batches).
pub fn aggregate(events: &[UsageEvent]) -> Vec<UsageBucket> {
    let mut map: std::collections::BTreeMap<(CredentialId, String, DateTime<Utc>), UsageBucket> =
        Default::default();
    for e in events {
        let start = Granularity::Minute.floor(e.at);
        let b = map
            .entry((e.credential_id, e.endpoint.clone(), start))
            .or_insert_with(|| UsageBucket {
                credential_id: e.credential_id,
                project_id: e.project_id,
                environment: e.environment,
                endpoint: e.endpoint.clone(),
                bucket_start: start,
                requests: 0,
                errors: 0,
            });
        b.requests += 1;
        b.errors += u64::from(!e.success);
    }
    map.into_values().collect()
}

/// Rolls buckets up to a coarser granularity.
pub fn roll_up(buckets: &[UsageBucket], to: Granularity) -> Vec<UsageBucket> {
    let mut map: std::collections::BTreeMap<(CredentialId, String, DateTime<Utc>), UsageBucket> =
        Default::default();
    for b in buckets {
        let start = to.floor(b.bucket_start);
        let e = map
            .entry((b.credential_id, b.endpoint.clone(), start))
            .or_insert_with(|| UsageBucket {
                bucket_start: start,
                requests: 0,
                errors: 0,
                ..b.clone()
            });
        e.requests += b.requests;
        e.errors += b.errors;
    }
    map.into_values().collect()
}

/// What an alert threshold watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertMetric {
    /// Requests in one UTC day.
    RequestsPerDay,
    /// Errors as a percentage of requests in one UTC day.
    ErrorRatePercent,
    /// Spend in the current calendar month, in the plan's currency.
    SpendPerMonth,
}

/// An alert threshold of a project.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertThreshold {
    /// The threshold's ULID.
    pub id: AlertThresholdId,
    /// The project watched (thresholds belong to a project, not the workspace).
    pub project_id: ProjectId,
    /// What is watched.
    pub metric: AlertMetric,
    /// The value that, once crossed, raises the alert (requests, percent, or money in the plan's
    /// currency); a decimal string in JSON.
    #[serde(with = "rust_decimal::serde::str")]
    pub limit: Decimal,
    /// The window (`2026-11-22` or `2026-11`) in which it last fired: once per window.
    pub last_fired_window: Option<String>,
    /// When the threshold was set.
    pub created_at: DateTime<Utc>,
}

impl AlertThreshold {
    /// Checks a limit: greater than zero, and at most 100 for an error rate.
    pub fn validate_limit(metric: AlertMetric, limit: Decimal) -> Result<(), FieldError> {
        if limit <= Decimal::ZERO {
            return Err(FieldError::new(
                "limit",
                "a threshold must be greater than zero",
            ));
        }
        if metric == AlertMetric::ErrorRatePercent && limit > Decimal::ONE_HUNDRED {
            return Err(FieldError::new(
                "limit",
                "an error rate is a percentage up to 100",
            ));
        }
        Ok(())
    }

    /// The window key of `now` for this threshold's metric.
    pub fn window(&self, now: DateTime<Utc>) -> String {
        match self.metric {
            AlertMetric::SpendPerMonth => now.format("%Y-%m").to_string(),
            _ => now.format("%Y-%m-%d").to_string(),
        }
    }

    /// Returns the window to record when `observed` crosses the limit and the threshold has not
    /// fired in this window yet: a crossing alerts once per window.
    pub fn crossing(&self, observed: Decimal, now: DateTime<Utc>) -> Option<String> {
        let window = self.window(now);
        (observed >= self.limit && self.last_fired_window.as_deref() != Some(window.as_str()))
            .then_some(window)
    }
}

/// The error rate as a percentage (0 when there were no requests).
pub fn error_rate_percent(requests: u64, errors: u64) -> Decimal {
    if requests == 0 {
        Decimal::ZERO
    } else {
        Decimal::from(errors) * Decimal::ONE_HUNDRED / Decimal::from(requests)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_fixtures::*;

    #[test]
    fn events_aggregate_per_minute_and_roll_up() {
        let ev = |secs: i64, ok: bool| UsageEvent {
            credential_id: credential_id(),
            project_id: sandbox_project().id,
            environment: Environment::Sandbox,
            endpoint: "GET /v1/accounts".into(),
            at: t0() + TimeDelta::seconds(secs),
            success: ok,
        };
        let buckets = aggregate(&[ev(0, true), ev(30, false), ev(61, true), ev(3700, true)]);
        assert_eq!(buckets.len(), 3);
        assert_eq!((buckets[0].requests, buckets[0].errors), (2, 1));
        let hours = roll_up(&buckets, Granularity::Hour);
        assert_eq!(hours.iter().map(|b| b.requests).collect::<Vec<_>>(), [3, 1]);
        let days = roll_up(&hours, Granularity::Day);
        assert_eq!((days[0].requests, days[0].errors), (4, 1));
    }

    #[test]
    fn a_crossing_fires_once_per_window() {
        let mut th = AlertThreshold {
            id: AlertThresholdId::from_ulid(ulid::Ulid::from_parts(1, 1)),
            project_id: sandbox_project().id,
            metric: AlertMetric::RequestsPerDay,
            limit: Decimal::from(100),
            last_fired_window: None,
            created_at: t0(),
        };
        assert_eq!(th.crossing(Decimal::from(99), t0()), None);
        let w = th.crossing(Decimal::from(100), t0()).unwrap();
        th.last_fired_window = Some(w);
        assert_eq!(
            th.crossing(Decimal::from(500), t0()),
            None,
            "already fired today"
        );
        assert!(
            th.crossing(Decimal::from(100), t0() + TimeDelta::days(1))
                .is_some(),
            "next day fires again"
        );
    }

    #[test]
    fn limits_are_validated() {
        assert!(
            AlertThreshold::validate_limit(AlertMetric::ErrorRatePercent, Decimal::from(101))
                .is_err()
        );
        assert!(AlertThreshold::validate_limit(AlertMetric::SpendPerMonth, Decimal::ZERO).is_err());
        assert_eq!(error_rate_percent(8, 2), Decimal::from(25));
    }
}
