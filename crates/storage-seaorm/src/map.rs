//! Domain values to rows and back. Ids travel in their prefixed text form, simple enums as
//! their serde names, nested values as JSON text, money as decimal text.

use std::str::FromStr;

use onboarding_core::audit::{AuditDraft, AuditEvent};
use onboarding_core::billing::Payment;
use onboarding_core::credential::{Credential, CredentialKind, CredentialStatus, SecretHash};
use onboarding_core::pipeline::{Phase, Subscription};
use onboarding_core::plan::{ApiProduct, Plan};
use onboarding_core::ports::{AuthToken, OutboxMessage, Principal, StoreError};
use onboarding_core::project::Project;
use onboarding_core::usage::{AlertThreshold, UsageBucket};
use onboarding_core::webhook::{EndpointStatus, WebhookEndpoint};
use rust_decimal::Decimal;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::entities::*;

mod accounts;
pub use accounts::*;

pub type R<T> = Result<T, StoreError>;

fn corrupt(what: &str, detail: impl std::fmt::Display) -> StoreError {
    tracing::error!(%detail, "unreadable {what} row");
    StoreError::Unavailable(format!("unreadable {what} row"))
}

/// JSON text of a nested value.
pub fn js<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("domain values always serialize")
}

pub fn from_js<T: DeserializeOwned>(s: &str) -> R<T> {
    serde_json::from_str(s).map_err(|e| corrupt("json", e))
}

/// The serde string form of an enum or string newtype (`in_review`, an e-mail...).
pub fn s<T: Serialize>(v: &T) -> String {
    match serde_json::to_value(v).expect("domain values always serialize") {
        Value::String(s) => s,
        other => other.to_string(),
    }
}

/// Parses an id, e-mail, label or simple enum from its text column.
pub fn de<T: DeserializeOwned>(text: &str) -> R<T> {
    serde_json::from_value(Value::String(text.to_owned())).map_err(|e| corrupt("text", e))
}

fn de_opt<T: DeserializeOwned>(text: &Option<String>) -> R<Option<T>> {
    text.as_deref().map(de).transpose()
}

fn dec(text: &str) -> R<Decimal> {
    Decimal::from_str(text).map_err(|e| corrupt("decimal", e))
}

fn opt_id<T: ToString>(v: &Option<T>) -> Option<String> {
    v.as_ref().map(ToString::to_string)
}
pub fn product_model(p: &ApiProduct) -> product::Model {
    product::Model {
        id: p.id.to_string(),
        name: p.name.to_string(),
        description: p.description.clone(),
        created_at: p.created_at,
    }
}

pub fn product(m: product::Model) -> R<ApiProduct> {
    Ok(ApiProduct {
        id: de(&m.id)?,
        name: de(&m.name)?,
        description: m.description,
        created_at: m.created_at,
    })
}

pub fn plan_model(p: &Plan) -> plan::Model {
    plan::Model {
        id: p.id.to_string(),
        product_id: p.product_id.to_string(),
        name: p.name.to_string(),
        has_sandbox: p.has_sandbox,
        sandbox_access: s(&p.sandbox_access),
        endpoints: js(&p.endpoints),
        events: js(&p.events),
        test_data: js(&p.test_data),
        form: p.form.as_ref().map(js),
        pricing: js(&p.pricing),
        gates: js(&p.gates),
        integration_min_calls: p.integration_min_calls as i64,
        waive_separation_of_duties: p.waive_separation_of_duties,
        created_at: p.created_at,
        version: p.version,
    }
}

pub fn plan(m: plan::Model) -> R<Plan> {
    Ok(Plan {
        id: de(&m.id)?,
        product_id: de(&m.product_id)?,
        name: de(&m.name)?,
        has_sandbox: m.has_sandbox,
        sandbox_access: de(&m.sandbox_access)?,
        endpoints: from_js(&m.endpoints)?,
        events: from_js(&m.events)?,
        test_data: from_js(&m.test_data)?,
        form: m.form.as_deref().map(from_js).transpose()?,
        pricing: from_js(&m.pricing)?,
        gates: from_js(&m.gates)?,
        integration_min_calls: m.integration_min_calls as u64,
        waive_separation_of_duties: m.waive_separation_of_duties,
        created_at: m.created_at,
        version: m.version,
    })
}

pub fn project_model(p: &Project) -> project::Model {
    project::Model {
        id: p.id.to_string(),
        workspace_id: p.workspace_id.to_string(),
        name: p.name.to_string(),
        purpose: p.purpose.to_string(),
        environment: p.environment.as_str().to_owned(),
        endpoints: js(&p.endpoints),
        events: js(&p.events),
        cloned_from: opt_id(&p.cloned_from),
        subscription_id: opt_id(&p.subscription_id),
        live_audit_reviewed_at: p.live_audit_reviewed_at,
        created_at: p.created_at,
        created_by: p.created_by.to_string(),
        version: p.version,
    }
}

pub fn project(m: project::Model) -> R<Project> {
    Ok(Project {
        id: de(&m.id)?,
        workspace_id: de(&m.workspace_id)?,
        name: de(&m.name)?,
        purpose: de(&m.purpose)?,
        environment: de(&m.environment)?,
        endpoints: from_js(&m.endpoints)?,
        events: from_js(&m.events)?,
        cloned_from: de_opt(&m.cloned_from)?,
        subscription_id: de_opt(&m.subscription_id)?,
        live_audit_reviewed_at: m.live_audit_reviewed_at,
        created_at: m.created_at,
        created_by: de(&m.created_by)?,
        version: m.version,
    })
}

pub fn subscription_model(x: &Subscription) -> subscription::Model {
    let submitted_at = match &x.phase {
        Phase::InReview { submitted_at, .. } => Some(*submitted_at),
        _ => None,
    };
    let waiting = onboarding_core::inbox::InboxQueue::candidate(x);
    subscription::Model {
        id: x.id.to_string(),
        workspace_id: x.workspace_id.to_string(),
        project_id: x.project_id.to_string(),
        plan_id: x.plan_id.to_string(),
        phase: x.phase.kind().as_str().to_owned(),
        submitted_at,
        phase_data: js(&x.phase),
        sandbox_access: js(&x.sandbox_access),
        answers: x.answers.as_ref().map(js),
        sign_offs: js(&x.sign_offs),
        history: js(&x.history),
        production_project_id: opt_id(&x.production_project_id),
        created_at: x.created_at,
        created_by: x.created_by.to_string(),
        version: x.version,
        waiting_on: waiting.map(|(q, _)| q.as_str().to_owned()),
        waiting_since: waiting.map(|(_, at)| at),
    }
}

pub fn subscription(m: subscription::Model) -> R<Subscription> {
    Ok(Subscription {
        id: de(&m.id)?,
        workspace_id: de(&m.workspace_id)?,
        project_id: de(&m.project_id)?,
        plan_id: de(&m.plan_id)?,
        phase: from_js(&m.phase_data)?,
        sandbox_access: from_js(&m.sandbox_access)?,
        answers: m.answers.as_deref().map(from_js).transpose()?,
        sign_offs: from_js(&m.sign_offs)?,
        history: from_js(&m.history)?,
        production_project_id: de_opt(&m.production_project_id)?,
        created_at: m.created_at,
        created_by: de(&m.created_by)?,
        version: m.version,
    })
}

pub fn credential_model(c: &Credential) -> credential::Model {
    let (kind, client_id) = match &c.kind {
        CredentialKind::ApiKey => ("api_key", None),
        CredentialKind::OauthClient { client_id } => ("oauth_client", Some(client_id.clone())),
    };
    let status = match c.status {
        CredentialStatus::Active => "active",
        CredentialStatus::Revoked { .. } => "revoked",
    };
    credential::Model {
        id: c.id.to_string(),
        workspace_id: c.workspace_id.to_string(),
        project_id: c.project_id.to_string(),
        subscription_id: c.subscription_id.to_string(),
        environment: c.environment.as_str().to_owned(),
        kind: kind.to_owned(),
        client_id,
        name: c.name.to_string(),
        status: status.to_owned(),
        status_data: js(&c.status),
        secret: js(&c.secret),
        previous: c.previous.as_ref().map(js),
        created_at: c.created_at,
        created_by: js(&c.created_by),
        version: c.version,
    }
}

pub fn credential(m: credential::Model) -> R<Credential> {
    let kind = match (m.kind.as_str(), m.client_id) {
        ("api_key", _) => CredentialKind::ApiKey,
        ("oauth_client", Some(client_id)) => CredentialKind::OauthClient { client_id },
        (other, _) => return Err(corrupt("credential", format!("kind {other}"))),
    };
    Ok(Credential {
        id: de(&m.id)?,
        workspace_id: de(&m.workspace_id)?,
        project_id: de(&m.project_id)?,
        subscription_id: de(&m.subscription_id)?,
        environment: de(&m.environment)?,
        kind,
        name: de(&m.name)?,
        status: from_js(&m.status_data)?,
        secret: from_js(&m.secret)?,
        previous: m.previous.as_deref().map(from_js).transpose()?,
        created_at: m.created_at,
        created_by: from_js(&m.created_by)?,
        version: m.version,
    })
}

pub fn endpoint_model(e: &WebhookEndpoint) -> webhook_endpoint::Model {
    let status = match e.status {
        EndpointStatus::Pending => "pending",
        EndpointStatus::Verified { .. } => "verified",
        EndpointStatus::Disabled { .. } => "disabled",
    };
    webhook_endpoint::Model {
        id: e.id.to_string(),
        workspace_id: e.workspace_id.to_string(),
        project_id: e.project_id.to_string(),
        url: e.url.clone(),
        events: js(&e.events),
        status: status.to_owned(),
        status_data: js(&e.status),
        signing_secrets: js(&e.signing_secrets),
        failing_since: e.failing_since,
        created_at: e.created_at,
        version: e.version,
    }
}

pub fn endpoint(m: webhook_endpoint::Model) -> R<WebhookEndpoint> {
    Ok(WebhookEndpoint {
        id: de(&m.id)?,
        workspace_id: de(&m.workspace_id)?,
        project_id: de(&m.project_id)?,
        url: m.url,
        events: from_js(&m.events)?,
        status: from_js(&m.status_data)?,
        signing_secrets: from_js(&m.signing_secrets)?,
        failing_since: m.failing_since,
        created_at: m.created_at,
        version: m.version,
    })
}

pub fn threshold_model(t: &AlertThreshold) -> alert_threshold::Model {
    alert_threshold::Model {
        id: t.id.to_string(),
        project_id: t.project_id.to_string(),
        metric: s(&t.metric),
        limit_value: t.limit.to_string(),
        last_fired_window: t.last_fired_window.clone(),
        created_at: t.created_at,
    }
}

pub fn threshold(m: alert_threshold::Model) -> R<AlertThreshold> {
    Ok(AlertThreshold {
        id: de(&m.id)?,
        project_id: de(&m.project_id)?,
        metric: de(&m.metric)?,
        limit: dec(&m.limit_value)?,
        last_fired_window: m.last_fired_window,
        created_at: m.created_at,
    })
}

pub fn payment_model(p: &Payment) -> payment::Model {
    payment::Model {
        id: p.id.to_string(),
        workspace_id: p.workspace_id.to_string(),
        subscription_id: p.subscription_id.to_string(),
        amount: p.amount.to_string(),
        currency: p.currency.as_str().to_owned(),
        reference: p.reference.clone(),
        confirmed_by: p.confirmed_by.to_string(),
        at: p.at,
    }
}

pub fn payment(m: payment::Model) -> R<Payment> {
    Ok(Payment {
        id: de(&m.id)?,
        workspace_id: de(&m.workspace_id)?,
        subscription_id: de(&m.subscription_id)?,
        amount: dec(&m.amount)?,
        currency: de(&m.currency)?,
        reference: m.reference,
        confirmed_by: de(&m.confirmed_by)?,
        at: m.at,
    })
}

pub fn usage_model(b: &UsageBucket) -> usage_bucket::Model {
    usage_bucket::Model {
        credential_id: b.credential_id.to_string(),
        endpoint: b.endpoint.clone(),
        bucket_start: b.bucket_start,
        project_id: b.project_id.to_string(),
        environment: b.environment.as_str().to_owned(),
        requests: b.requests as i64,
        errors: b.errors as i64,
    }
}

pub fn usage(m: usage_bucket::Model) -> R<UsageBucket> {
    Ok(UsageBucket {
        credential_id: de(&m.credential_id)?,
        project_id: de(&m.project_id)?,
        environment: de(&m.environment)?,
        endpoint: m.endpoint,
        bucket_start: m.bucket_start,
        requests: m.requests as u64,
        errors: m.errors as u64,
    })
}

/// The chain an event belongs to: its workspace's, or the provider's.
pub fn chain_key(workspace: Option<onboarding_core::ids::WorkspaceId>) -> String {
    workspace.map_or_else(|| "provider".to_owned(), |w| w.to_string())
}

pub fn audit_model(e: &AuditEvent) -> audit_event::Model {
    audit_event::Model {
        id: e.draft.id.to_string(),
        chain: chain_key(e.draft.workspace_id),
        seq: e.seq,
        at: e.draft.at,
        actor: js(&e.draft.actor),
        workspace_id: opt_id(&e.draft.workspace_id),
        project_id: opt_id(&e.draft.project_id),
        action: e.draft.action.clone(),
        target: e.draft.target.clone(),
        details: js(&e.draft.details),
        prev_hash: e.prev_hash.clone(),
        hash: e.hash.clone(),
    }
}

pub fn audit(m: audit_event::Model) -> R<AuditEvent> {
    Ok(AuditEvent {
        draft: AuditDraft {
            id: de(&m.id)?,
            at: m.at,
            actor: from_js(&m.actor)?,
            workspace_id: de_opt(&m.workspace_id)?,
            project_id: de_opt(&m.project_id)?,
            action: m.action,
            target: m.target,
            details: from_js(&m.details)?,
        },
        seq: m.seq,
        prev_hash: m.prev_hash,
        hash: m.hash,
    })
}

pub fn outbox_model(o: &OutboxMessage) -> outbox_message::Model {
    outbox_message::Model {
        id: o.id.to_string(),
        workspace_id: o.workspace_id.to_string(),
        project_id: opt_id(&o.project_id),
        event_type: o.event_type.clone(),
        payload: js(&o.payload),
        target_endpoint: opt_id(&o.target_endpoint),
        created_at: o.created_at,
    }
}

pub fn outbox(m: outbox_message::Model) -> R<OutboxMessage> {
    Ok(OutboxMessage {
        id: de(&m.id)?,
        workspace_id: de(&m.workspace_id)?,
        project_id: de_opt(&m.project_id)?,
        event_type: m.event_type,
        payload: from_js(&m.payload)?,
        target_endpoint: de_opt(&m.target_endpoint)?,
        created_at: m.created_at,
    })
}

/// `("account" | "staff", id)` of a principal.
pub fn principal_parts(p: Principal) -> (String, String) {
    match p {
        Principal::Account(id) => ("account".to_owned(), id.to_string()),
        Principal::Staff(id) => ("staff".to_owned(), id.to_string()),
    }
}

pub fn auth_token_model(t: &AuthToken) -> auth_token::Model {
    let (principal_kind, principal_id) = principal_parts(t.principal);
    auth_token::Model {
        token_hash: t.token_hash.as_str().to_owned(),
        principal_kind,
        principal_id,
        kind: s(&t.kind),
        name: t.name.clone(),
        csrf_token: t.csrf_token.clone(),
        created_at: t.created_at,
        expires_at: t.expires_at,
    }
}

pub fn auth_token(m: auth_token::Model) -> R<AuthToken> {
    let principal = match m.principal_kind.as_str() {
        "account" => Principal::Account(de(&m.principal_id)?),
        "staff" => Principal::Staff(de(&m.principal_id)?),
        other => return Err(corrupt("auth token", format!("principal {other}"))),
    };
    Ok(AuthToken {
        token_hash: SecretHash::from_stored(m.token_hash),
        principal,
        kind: de(&m.kind)?,
        name: m.name,
        csrf_token: m.csrf_token,
        created_at: m.created_at,
        expires_at: m.expires_at,
    })
}
