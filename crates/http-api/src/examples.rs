//! Examples in the OpenAPI document for the bodies of the seed walk (sign up, create a
//! workspace and a project, subscribe, create a credential, submit, approve): one consistent
//! story, so a reader of the explorer can follow the ids from one answer to the next.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use poem_openapi::types::Example;
use serde_json::json;

use crate::dto::*;
use crate::text::{EmailAddress, Entry, Name, Password, PlanRef};

const ACCOUNT: &str = "acct_01JF3Z8Q6M4W2Y7T9V5X1C0B8N";
const WORKSPACE: &str = "ws_01JF3Z9A2B3C4D5E6F7G8H9J0K";
const PROJECT: &str = "proj_01JF3ZA0M1N2P3Q4R5S6T7V8W9";
const PLAN: &str = "plan_01JF3Z7X8Y9Z0A1B2C3D4E5F6G";
const SUBSCRIPTION: &str = "sub_01JF3ZB4H5J6K7M8N9P0Q1R2S3";
const CREDENTIAL: &str = "cred_01JF3ZC9T0V1W2X3Y4Z5A6B7C8";
const REVIEWER: &str = "staff_01JF3Z6D7E8F9G0H1J2K3M4N5P";

fn at(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339)
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default()
}

impl Example for SignUpRequest {
    fn example() -> Self {
        Self {
            email: EmailAddress("ada@acme.example".into()),
            name: Name("Ada Lovelace".into()),
            password: Password("correct horse battery staple".into()),
        }
    }
}

impl Example for AccountDto {
    fn example() -> Self {
        Self {
            id: ACCOUNT.into(),
            email: "ada@acme.example".into(),
            name: "Ada Lovelace".into(),
            created_at: at("2026-12-01T09:00:00Z"),
        }
    }
}

impl Example for CreateWorkspaceRequest {
    fn example() -> Self {
        Self {
            name: Name("Acme".into()),
        }
    }
}

impl Example for WorkspaceDto {
    fn example() -> Self {
        Self {
            id: WORKSPACE.into(),
            name: "Acme".into(),
            billing_owner: None,
            audit_contact: None,
            security_owner: None,
            created_at: at("2026-12-01T09:01:00Z"),
            created_by: ACCOUNT.into(),
            version: 1,
            my_roles: None,
        }
    }
}

impl Example for CreateProjectRequest {
    fn example() -> Self {
        Self {
            name: Name("Ledger sync".into()),
            purpose: Name("Nightly balance sync".into()),
            endpoints: vec![Entry("GET /accounts".into())],
            events: vec![],
        }
    }
}

impl Example for ProjectDto {
    fn example() -> Self {
        Self {
            id: PROJECT.into(),
            workspace_id: WORKSPACE.into(),
            name: "Ledger sync".into(),
            purpose: "Nightly balance sync".into(),
            environment: "sandbox".into(),
            endpoints: vec!["GET /accounts".into()],
            events: vec![],
            cloned_from: None,
            subscription_id: None,
            live_audit_reviewed_at: None,
            created_at: at("2026-12-01T09:02:00Z"),
            version: 1,
        }
    }
}

impl Example for SubscribeRequest {
    fn example() -> Self {
        Self {
            plan_id: PlanRef(PLAN.into()),
        }
    }
}

impl Example for SubscriptionDto {
    fn example() -> Self {
        Self {
            id: SUBSCRIPTION.into(),
            workspace_id: WORKSPACE.into(),
            project_id: PROJECT.into(),
            plan_id: PLAN.into(),
            phase: "in_review".into(),
            phase_detail: PhaseDto {
                phase: "in_review".into(),
                changes_requested: None,
                submitted_at: Some(at("2026-12-02T14:00:00Z")),
                submitted_by: Some(ACCOUNT.into()),
                approved_at: None,
                approved_by: None,
                notes: None,
                at: None,
                by: None,
            },
            sandbox_access: SandboxAccessDto {
                state: "granted".into(),
                at: at("2026-12-01T09:03:00Z"),
                by: None,
            },
            answers: Some(json!({
                "use_case": "Accounting sync",
                "data_usage": "Balances kept 30 days"
            })),
            sign_offs: vec![SignOffDto {
                gate: "consent_handling".into(),
                by: REVIEWER.into(),
                at: at("2026-12-02T15:00:00Z"),
            }],
            history: vec![],
            production_project_id: None,
            created_at: at("2026-12-01T09:03:00Z"),
            created_by: ACCOUNT.into(),
            version: 3,
        }
    }
}

impl Example for CreateCredentialRequest {
    fn example() -> Self {
        Self {
            environment: EnvironmentName::Sandbox,
            kind: Some(CredentialKindName::ApiKey),
            name: Name("CI".into()),
        }
    }
}

impl Example for CredentialDto {
    fn example() -> Self {
        Self {
            id: CREDENTIAL.into(),
            workspace_id: WORKSPACE.into(),
            project_id: PROJECT.into(),
            subscription_id: SUBSCRIPTION.into(),
            environment: "sandbox".into(),
            kind: "api_key".into(),
            client_id: None,
            name: "CI".into(),
            status: "active".into(),
            revoked_at: None,
            prefix: "sk_sbx_".into(),
            last4: "9fQ2".into(),
            secret_created_at: at("2026-12-01T09:04:00Z"),
            previous: None,
            created_at: at("2026-12-01T09:04:00Z"),
            version: 1,
        }
    }
}

impl Example for CreatedCredentialDto {
    fn example() -> Self {
        Self {
            credential: CredentialDto::example(),
            secret: "sk_sbx_Zx8Kq2Lm9Np4Rt6Vw1Yb3Cd5Fg7Hj0Ks2A7e9fQ2".into(),
        }
    }
}

impl Example for SubmitRequest {
    fn example() -> Self {
        let answers = BTreeMap::from([
            ("use_case".to_owned(), json!("Accounting sync")),
            ("data_usage".to_owned(), json!("Balances kept 30 days")),
        ]);
        Self {
            answers: Some(answers),
            version: Some(2),
        }
    }
}

impl Example for TransitionRequest {
    fn example() -> Self {
        Self {
            version: Some(3),
            notes: None,
        }
    }
}
