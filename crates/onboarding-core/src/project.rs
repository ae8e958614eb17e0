//! Projects (spec §4): one workload in one environment, owning its credentials, webhook
//! endpoints, usage, alert thresholds and report history.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{AccountId, ProjectId, SubscriptionId, WorkspaceId};
use crate::values::Label;

/// Sandbox or production. Production traffic never mixes into a sandbox project.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Environment {
    /// Test traffic with sandbox credentials (secrets prefixed `sbx`).
    Sandbox,
    /// Live traffic with production credentials (secrets prefixed `prod`).
    Production,
}

impl Environment {
    /// The snake_case name (`sandbox`, `production`).
    pub fn as_str(self) -> &'static str {
        match self {
            Environment::Sandbox => "sandbox",
            Environment::Production => "production",
        }
    }

    /// The inverse of [`as_str`](Self::as_str); `None` for an unknown name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "sandbox" => Some(Environment::Sandbox),
            "production" => Some(Environment::Production),
            _ => None,
        }
    }
}

impl fmt::Display for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A project.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Project {
    /// The project's ULID.
    pub id: ProjectId,
    /// The workspace that owns the project.
    pub workspace_id: WorkspaceId,
    /// The workload's name ("Checkout service").
    pub name: Label,
    /// What this workload is for, in the team's words ("Nightly balance sync").
    pub purpose: Label,
    /// Sandbox or production; a project only ever holds credentials of its own environment.
    pub environment: Environment,
    /// The endpoints (`METHOD /path`) and events it uses: a subset of its plan's.
    pub endpoints: Vec<String>,
    /// The webhook event types it uses: a subset of its plan's.
    pub events: Vec<String>,
    /// For a production project: the sandbox project it was cloned from.
    pub cloned_from: Option<ProjectId>,
    /// For a sandbox project, its latest subscription (set when it subscribes); for a
    /// production project, the subscription whose approval it serves.
    pub subscription_id: Option<SubscriptionId>,
    /// Operating pass: when a member confirmed the first live audit entries were reviewed.
    pub live_audit_reviewed_at: Option<DateTime<Utc>>,
    /// When the project was created (or cloned).
    pub created_at: DateTime<Utc>,
    /// The member who created or cloned it.
    pub created_by: AccountId,
    /// Optimistic concurrency: an update is stored only if nobody changed the row since.
    pub version: i64,
}

impl Project {
    /// The production twin of this sandbox project: same shape, new id, nothing secret copied.
    /// Webhook endpoints and alert thresholds are cloned by the service (they are their own rows);
    /// endpoints arrive unverified.
    pub fn clone_to_production(
        &self,
        id: ProjectId,
        subscription_id: SubscriptionId,
        by: AccountId,
        now: DateTime<Utc>,
    ) -> Project {
        Project {
            id,
            workspace_id: self.workspace_id,
            name: Label::new(&format!(
                "{} (production)",
                crate::values::truncate(self.name.as_str(), 100)
            ))
            .unwrap_or_else(|_| self.name.clone()),
            purpose: self.purpose.clone(),
            environment: Environment::Production,
            endpoints: self.endpoints.clone(),
            events: self.events.clone(),
            cloned_from: Some(self.id),
            subscription_id: Some(subscription_id),
            live_audit_reviewed_at: None,
            created_at: now,
            created_by: by,
            version: 0,
        }
    }
}

/// One difference between a production project and the sandbox project it was cloned from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Drift {
    /// The sandbox project uses an endpoint the production project does not.
    EndpointOnlyInSandbox {
        /// `METHOD /path`.
        endpoint: String,
    },
    /// The production project uses an endpoint the sandbox project does not.
    EndpointOnlyInProduction {
        /// `METHOD /path`.
        endpoint: String,
    },
    /// The sandbox project subscribes to an event the production project does not.
    EventOnlyInSandbox {
        /// The event type.
        event: String,
    },
    /// The production project subscribes to an event the sandbox project does not.
    EventOnlyInProduction {
        /// The event type.
        event: String,
    },
    /// The two projects' purposes differ.
    PurposeChanged {
        /// The sandbox project's purpose.
        sandbox: String,
        /// The production project's purpose.
        production: String,
    },
}

/// The drift between a sandbox project and its production clone.
pub fn drift(sandbox: &Project, production: &Project) -> Vec<Drift> {
    let mut out = Vec::new();
    let diff = |a: &[String], b: &[String]| {
        a.iter()
            .filter(|x| !b.contains(x))
            .cloned()
            .collect::<Vec<_>>()
    };
    out.extend(
        diff(&sandbox.endpoints, &production.endpoints)
            .into_iter()
            .map(|endpoint| Drift::EndpointOnlyInSandbox { endpoint }),
    );
    out.extend(
        diff(&production.endpoints, &sandbox.endpoints)
            .into_iter()
            .map(|endpoint| Drift::EndpointOnlyInProduction { endpoint }),
    );
    out.extend(
        diff(&sandbox.events, &production.events)
            .into_iter()
            .map(|event| Drift::EventOnlyInSandbox { event }),
    );
    out.extend(
        diff(&production.events, &sandbox.events)
            .into_iter()
            .map(|event| Drift::EventOnlyInProduction { event }),
    );
    if sandbox.purpose != production.purpose {
        out.push(Drift::PurposeChanged {
            sandbox: sandbox.purpose.to_string(),
            production: production.purpose.to_string(),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_fixtures::*;

    #[test]
    fn clone_keeps_the_shape_and_records_its_source() {
        let sbx = sandbox_project();
        let prod = sbx.clone_to_production(
            ProjectId::from_ulid(ulid::Ulid::from_parts(9, 9)),
            subscription_id(),
            dev(),
            t0(),
        );
        assert_eq!(prod.environment, Environment::Production);
        assert_eq!(prod.cloned_from, Some(sbx.id));
        assert_eq!(
            (prod.endpoints.clone(), prod.events.clone()),
            (sbx.endpoints.clone(), sbx.events.clone())
        );
        assert!(drift(&sbx, &prod).is_empty());
        let mut changed = prod.clone();
        changed.endpoints.pop();
        changed.events.push("x.y".into());
        let d = drift(&sbx, &changed);
        assert!(d.contains(&Drift::EventOnlyInProduction {
            event: "x.y".into()
        }));
        assert!(
            d.iter()
                .any(|x| matches!(x, Drift::EndpointOnlyInSandbox { .. }))
        );
    }
}
