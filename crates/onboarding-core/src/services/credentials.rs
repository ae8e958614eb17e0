//! Credentials: create (sandbox and production), list, regenerate, rotate, revoke; the
//! verification hot path; the OAuth client-credentials grant.

use serde::Serialize;
use serde_json::json;

use super::*;
use crate::credential::{
    ACCESS_TOKEN_TTL, AccessToken, Credential, CredentialError, CredentialKind, CredentialStatus,
    GracePeriod, IssuedSecret, SECRET_BODY_LEN, SecretKind, SecretRecord, VerifyRefusal, decide,
    precheck, production_lock,
};
use crate::pipeline::PhaseKind;
use crate::project::Environment;
use crate::usage::UsageEvent;
use crate::values::Label;
use crate::webhook::EventType;

/// The kind of credential to create.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NewCredentialKind {
    /// An API key: one secret.
    ApiKey,
    /// An OAuth client: a public client id and a secret, exchanged for short-lived access tokens.
    OauthClient,
}

/// A created (or re-keyed) credential with its secret: the only time the secret is shown.
#[derive(Debug, Clone)]
pub struct CreatedCredential {
    /// The stored credential (hashes only).
    pub credential: Credential,
    /// The secret in clear: show it in this response, once; it cannot be recovered later.
    pub secret: IssuedSecret,
}

/// The answer of the verification endpoint.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VerifyAnswer {
    /// Whether the presented secret is accepted.
    pub valid: bool,
    /// Why not, when it is refused.
    pub reason: Option<VerifyRefusal>,
    /// The credential's workspace, when valid.
    pub workspace_id: Option<WorkspaceId>,
    /// The credential's project, when valid.
    pub project_id: Option<ProjectId>,
    /// The credential's environment, when valid.
    pub environment: Option<Environment>,
    /// The subscription's plan, when valid.
    pub plan_id: Option<PlanId>,
    /// The subscription's phase, when valid.
    pub phase: Option<PhaseKind>,
    /// The subscription the credential was created under, when valid.
    pub subscription_id: Option<SubscriptionId>,
    /// The credential, when valid.
    pub credential_id: Option<CredentialId>,
}

impl VerifyAnswer {
    fn refused(reason: VerifyRefusal) -> Self {
        Self {
            valid: false,
            reason: Some(reason),
            workspace_id: None,
            project_id: None,
            environment: None,
            plan_id: None,
            phase: None,
            subscription_id: None,
            credential_id: None,
        }
    }
}

/// What a verification is counted on.
enum Metered<'a> {
    /// The endpoint a gateway names (`verify` when it names none).
    Named(Option<&'a str>),
    /// The method and path of the call a gateway forwards, matched to the plan's endpoints.
    Call { method: &'a str, path: &'a str },
}

/// The method as counted: one of the methods a plan endpoint may name, `OTHER` otherwise.
fn known_method(method: &str) -> &'static str {
    ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
        .into_iter()
        .find(|m| m.eq_ignore_ascii_case(method))
        .unwrap_or("OTHER")
}

/// An access token from the client-credentials grant.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    /// The bearer token in clear, shown once to the client.
    pub token: IssuedSecret,
    /// Its lifetime in seconds (the OAuth `expires_in`).
    pub expires_in_seconds: i64,
}

fn credential_error(e: CredentialError) -> ServiceError {
    ServiceError::Conflict {
        message: e.to_string(),
        current: Some("revoked".into()),
    }
}

impl Credentials {
    /// Creates a credential for a subscription. Sandbox credentials need granted sandbox access;
    /// production ones need an approved (and, on paid plans, paid) subscription cloned into a
    /// production project. A sandbox project only ever holds sandbox credentials and vice versa.
    pub async fn create_credential(
        &self,
        caller: Caller,
        sub: SubscriptionId,
        environment: Environment,
        kind: NewCredentialKind,
        name: &str,
    ) -> ServiceResult<CreatedCredential> {
        let s = self.cx.load_subscription(sub).await?;
        let action = match environment {
            Environment::Sandbox => Action::CreateSandboxCredential,
            Environment::Production => Action::CreateProductionCredential,
        };
        let (account, _) = self
            .cx
            .require_on("subscription", caller, s.workspace_id, action)
            .await?;
        let name = Label::for_field("name", name)?;
        let project = match environment {
            Environment::Sandbox => {
                if !s.sandbox_access.is_granted() {
                    return Err(ServiceError::Refused {
                        code: RefusalCode::SandboxAccessNotGranted,
                        message: "sandbox access has not been granted yet".into(),
                    });
                }
                if s.phase.kind() == PhaseKind::Rejected {
                    return Err(ServiceError::Conflict {
                        message: "the subscription was rejected".into(),
                        current: Some("rejected".into()),
                    });
                }
                s.project_id
            }
            Environment::Production => {
                let plan = self.cx.catalog().plan(s.plan_id).await?;
                let standing = self.cx.payment_standing(&s, &plan).await?;
                if let Some(reason) = production_lock(&s, &standing) {
                    return Err(ServiceError::Locked(reason));
                }
                s.production_project_id.ok_or(ServiceError::Refused {
                    code: RefusalCode::CloneToProductionFirst,
                    message: "clone the sandbox project into production before creating production credentials".into(),
                })?
            }
        };
        let now = self.cx.now();
        let id = CredentialId::from_ulid(self.cx.ulid());
        let kind = match kind {
            NewCredentialKind::ApiKey => CredentialKind::ApiKey,
            NewCredentialKind::OauthClient => CredentialKind::OauthClient {
                client_id: format!("client_{}", id.ulid().to_string().to_lowercase()),
            },
        };
        let secret = self.cx.mint(kind.secret_kind(), environment)?;
        let credential = Credential {
            id,
            workspace_id: s.workspace_id,
            project_id: project,
            subscription_id: sub,
            environment,
            kind,
            name,
            status: CredentialStatus::Active,
            secret: SecretRecord::of(&secret, now),
            previous: None,
            created_at: now,
            created_by: Actor::Account(account),
            version: 0,
        };
        let details = json!({ "environment": environment, "kind": credential.kind, "prefix": credential.secret.prefix, "last4": credential.secret.last4 });
        self.cx
            .change_in(caller.actor(), now, s.workspace_id, Some(project))
            .with(Change::InsertCredential(credential.clone()))
            .audit("credential.created", id, details)
            .event(
                EventType::CredentialCreated,
                json!({ "credential_id": id, "environment": environment }),
            )
            .commit()
            .await?;
        Ok(CreatedCredential { credential, secret })
    }

    /// Every credential of the project (members of its workspace only).
    pub async fn credentials_of_project(
        &self,
        caller: Caller,
        project: ProjectId,
    ) -> ServiceResult<Vec<Credential>> {
        let p = self.cx.load_project(project).await?;
        self.cx
            .require_read_on("project", caller, p.workspace_id)
            .await?;
        Ok(self
            .cx
            .p
            .credentials
            .credentials_of_project(project)
            .await?)
    }

    /// One credential (members of its workspace only; `NotFound` otherwise).
    pub async fn credential(&self, caller: Caller, id: CredentialId) -> ServiceResult<Credential> {
        let c = self.cx.load_credential(id).await?;
        self.cx
            .require_read_on("credential", caller, c.workspace_id)
            .await?;
        Ok(c)
    }

    /// Regenerate: a new secret; the old one stops working at once.
    pub async fn regenerate_credential(
        &self,
        caller: Caller,
        id: CredentialId,
        expected_version: Option<i64>,
    ) -> ServiceResult<CreatedCredential> {
        self.cx.rekey(caller, id, None, expected_version).await
    }

    /// Rotate Secret: a new secret; the old one keeps working until the grace deadline.
    pub async fn rotate_credential(
        &self,
        caller: Caller,
        id: CredentialId,
        grace: GracePeriod,
        expected_version: Option<i64>,
    ) -> ServiceResult<CreatedCredential> {
        self.cx
            .rekey(caller, id, Some(grace), expected_version)
            .await
    }

    /// Revoke: stops at once.
    pub async fn revoke_credential(
        &self,
        caller: Caller,
        id: CredentialId,
    ) -> ServiceResult<Credential> {
        let c = self.cx.load_credential(id).await?;
        self.cx
            .require_on(
                "credential",
                caller,
                c.workspace_id,
                Context::manage_action(c.environment),
            )
            .await?;
        let now = self.cx.now();
        let mut next = c.revoke(caller.actor(), now).map_err(credential_error)?;
        self.cx
            .change_in(caller.actor(), now, c.workspace_id, Some(c.project_id))
            .update(&mut next)
            // What the client obtained with its secret ends with it.
            .with(Change::EndAccessTokens(id))
            .audit("credential.revoked", id, json!({}))
            .event(EventType::CredentialRevoked, json!({ "credential_id": id }))
            .commit()
            .await?;
        Ok(next)
    }

    /// The verification decision for a presented secret (API key or access token). Malformed
    /// and wrong-checksum secrets are refused before any look-up. Every answer with a known
    /// credential is counted as usage on `endpoint` (`verify` when the gateway names none).
    pub async fn verify_secret(
        &self,
        presented: &str,
        expected: Option<Environment>,
        endpoint: Option<&str>,
        success: bool,
    ) -> ServiceResult<VerifyAnswer> {
        self.verify_metered(presented, expected, Metered::Named(endpoint), success)
            .await
    }

    /// The verification decision for a call a gateway is about to forward (forward auth): as
    /// [`verify_secret`](Self::verify_secret), counted as a successful call on the plan
    /// endpoint that `method` and `path` match ([`crate::plan::matching_endpoint`]), or on
    /// `METHOD *` when none does (so a key cannot grow the usage table with made-up paths).
    pub async fn verify_call(
        &self,
        presented: &str,
        expected: Option<Environment>,
        method: &str,
        path: &str,
    ) -> ServiceResult<VerifyAnswer> {
        self.verify_metered(presented, expected, Metered::Call { method, path }, true)
            .await
    }

    async fn verify_metered(
        &self,
        presented: &str,
        expected: Option<Environment>,
        metered: Metered<'_>,
        success: bool,
    ) -> ServiceResult<VerifyAnswer> {
        let parsed = match precheck(presented, expected) {
            Ok(p) => p,
            Err(r) => return Ok(VerifyAnswer::refused(r)),
        };
        let Some((c, matched)) = self
            .cx
            .p
            .credentials
            .find_by_secret_hash(&parsed.hash)
            .await?
        else {
            return Ok(VerifyAnswer::refused(VerifyRefusal::Unknown));
        };
        let now = self.cx.now();
        if let Err(r) = decide(&c, matched, now) {
            return Ok(VerifyAnswer::refused(r));
        }
        let s = self
            .cx
            .p
            .subscriptions
            .plan_and_phase(c.subscription_id)
            .await?;
        let endpoint = match metered {
            Metered::Named(endpoint) => endpoint
                .map(str::trim)
                .filter(|e| !e.is_empty() && e.len() <= 200)
                .unwrap_or("verify")
                .to_owned(),
            Metered::Call { method, path } => {
                let endpoints = match s {
                    Some((plan, _)) => self.cx.p.plans.plan_endpoints(plan).await?,
                    None => None,
                };
                let matched = endpoints
                    .as_deref()
                    .and_then(|e| crate::plan::matching_endpoint(e, method, path));
                match matched {
                    Some(e) => e.to_owned(),
                    None => format!("{} *", known_method(method)),
                }
            }
        };
        self.cx.p.meter.record(UsageEvent {
            credential_id: c.id,
            project_id: c.project_id,
            environment: c.environment,
            endpoint,
            at: now,
            success,
        });
        Ok(VerifyAnswer {
            valid: true,
            reason: None,
            workspace_id: Some(c.workspace_id),
            project_id: Some(c.project_id),
            environment: Some(c.environment),
            plan_id: s.map(|(plan, _)| plan),
            phase: s.map(|(_, phase)| phase),
            subscription_id: Some(c.subscription_id),
            credential_id: Some(c.id),
        })
    }

    /// The OAuth 2.0 client-credentials grant (RFC 6749 §4.4): a short-lived bearer token.
    /// Any failure answers `Unauthenticated` (the HTTP layer says `invalid_client`).
    pub async fn issue_access_token(
        &self,
        client_id: &str,
        client_secret: &str,
    ) -> ServiceResult<IssuedToken> {
        let parsed = crate::credential::parse_secret(client_secret)
            .map_err(|_| ServiceError::Unauthenticated)?;
        if parsed.kind != SecretKind::ClientSecret {
            return Err(ServiceError::Unauthenticated);
        }
        let Some((c, matched)) = self
            .cx
            .p
            .credentials
            .find_by_secret_hash(&parsed.hash)
            .await?
        else {
            return Err(ServiceError::Unauthenticated);
        };
        let now = self.cx.now();
        let id_matches =
            matches!(&c.kind, CredentialKind::OauthClient { client_id: id } if id == client_id);
        if !id_matches || decide(&c, matched, now).is_err() {
            return Err(ServiceError::Unauthenticated);
        }
        let token = self.cx.mint(SecretKind::AccessToken, c.environment)?;
        let record = AccessToken {
            hash: token.hash(),
            credential_id: c.id,
            created_at: now,
            expires_at: now + ACCESS_TOKEN_TTL,
        };
        let details = json!({ "expires_at": record.expires_at });
        self.cx
            .change_in(
                Actor::Credential(c.id),
                now,
                c.workspace_id,
                Some(c.project_id),
            )
            .with(Change::InsertAccessToken(record))
            .audit("credential.token_issued", c.id, details)
            .commit()
            .await?;
        Ok(IssuedToken {
            token,
            expires_in_seconds: ACCESS_TOKEN_TTL.num_seconds(),
        })
    }
}

impl Context {
    pub(super) fn mint(&self, kind: SecretKind, env: Environment) -> ServiceResult<IssuedSecret> {
        IssuedSecret::new(kind, env, &self.p.secrets.base62(SECRET_BODY_LEN))
            .map_err(|e| ServiceError::Internal(e.to_string()))
    }

    pub(super) async fn load_credential(&self, id: CredentialId) -> ServiceResult<Credential> {
        self.p
            .credentials
            .credential(id)
            .await?
            .ok_or(ServiceError::NotFound {
                entity: "credential",
            })
    }

    pub(super) fn manage_action(env: Environment) -> Action {
        match env {
            Environment::Sandbox => Action::ManageSandboxCredential,
            Environment::Production => Action::ManageProductionCredential,
        }
    }

    pub(super) async fn rekey(
        &self,
        caller: Caller,
        id: CredentialId,
        grace: Option<GracePeriod>,
        expected_version: Option<i64>,
    ) -> ServiceResult<CreatedCredential> {
        let c = self.load_credential(id).await?;
        self.require_on(
            "credential",
            caller,
            c.workspace_id,
            Context::manage_action(c.environment),
        )
        .await?;
        if expected_version.is_some_and(|v| v != c.version) {
            return Err(ServiceError::Stale {
                message: "the credential changed since you loaded it".into(),
                current: Some(format!("version {}", c.version)),
            });
        }
        let now = self.now();
        let secret = self.mint(c.kind.secret_kind(), c.environment)?;
        let (mut next, event) = match grace {
            Some(g) => (
                c.rotate(&secret, g, now).map_err(credential_error)?,
                EventType::CredentialRotated,
            ),
            None => (
                c.regenerate(&secret, now).map_err(credential_error)?,
                EventType::CredentialRegenerated,
            ),
        };
        let details = json!({ "last4": next.secret.last4, "previous_expires_at": next.previous.as_ref().map(|p| p.expires_at) });
        let payload = json!({ "credential_id": id, "previous_expires_at": next.previous.as_ref().map(|p| p.expires_at) });
        let mut draft = self
            .change_in(caller.actor(), now, c.workspace_id, Some(c.project_id))
            .update(&mut next);
        if grace.is_none() {
            // Regenerate ends the old secret at once, and the access tokens it minted with it
            // (a rotation's old secret, and its tokens, live out the grace period).
            draft = draft.with(Change::EndAccessTokens(id));
        }
        draft
            .audit(event.as_str(), id, details)
            .event(event, payload)
            .commit()
            .await?;
        Ok(CreatedCredential {
            credential: next,
            secret,
        })
    }
}
