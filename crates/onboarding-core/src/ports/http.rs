//! Ports only the HTTP adapter uses: sessions and tokens, idempotency keys.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::ids::*;

use super::{ChangeSet, StoreResult};

/// Who a session or personal access token signs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum Principal {
    /// A member of workspaces (consumer side).
    Account(AccountId),
    /// Provider staff (admin or reviewer).
    Staff(StaffId),
}

/// A browser session (cookie) or a personal access token (bearer). Only the token's hash is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthToken {
    /// The SHA-256 of the token: the bearer value itself is never stored.
    pub token_hash: crate::credential::SecretHash,
    /// Who the token signs in.
    pub principal: Principal,
    /// Browser session or personal access token.
    pub kind: AuthTokenKind,
    /// A label for personal access tokens ("CI deploy"); empty for sessions.
    pub name: String,
    /// The CSRF token of a browser session (compared in constant time by the web adapter).
    pub csrf_token: Option<String>,
    /// When the token was issued.
    pub created_at: DateTime<Utc>,
    /// After this instant the token is refused.
    pub expires_at: DateTime<Utc>,
}

/// What kind of sign-in an [`AuthToken`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthTokenKind {
    /// A browser session, carried in a cookie and protected by a CSRF token.
    Session,
    /// A named token for scripts and CI, sent as a bearer token.
    PersonalAccessToken,
}

/// Sessions and personal access tokens.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait AuthTokenStore: Send + Sync {
    /// Stores a new token.
    async fn insert_token(&self, token: AuthToken) -> StoreResult<()>;
    /// The token with this hash, if any (expired ones included: the caller checks `expires_at`).
    async fn find_token(
        &self,
        hash: &crate::credential::SecretHash,
    ) -> StoreResult<Option<AuthToken>>;
    /// Deletes the token (sign-out, or revoking a personal access token).
    async fn delete_token(&self, hash: &crate::credential::SecretHash) -> StoreResult<()>;
    /// Every token of the principal, for listing personal access tokens.
    async fn tokens_of(&self, principal: Principal) -> StoreResult<Vec<AuthToken>>;
}

/// A stored response for an `Idempotency-Key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    /// The HTTP status of the first response (replayed as is).
    pub status: u16,
    /// The response body of the first response.
    pub body: String,
    /// The `Location` header of a 201, if any.
    pub location: Option<String>,
}

/// How long an unanswered claim protects its key: past it, with nothing committed, the claim
/// is abandoned (its holder died) and the next request with the key runs (docs/decisions/0016).
pub const IDEMPOTENCY_LEASE_SECONDS: i64 = 30;

/// One request's hold on an idempotency key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyHold {
    /// The caller's scope (the principal's id, or the gateway's).
    pub scope: String,
    /// The client's `Idempotency-Key`.
    pub key: String,
    /// The server run that claimed it: a restarted server releases its previous run's claims.
    pub run: String,
    /// Unique to this claim: only its holder commits under it, answers or releases it.
    pub token: String,
}

/// What a claimed request committed, named to a retry whose answer was lost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommittedRequest {
    /// The audit action of the commit (`subscription.created`).
    pub action: String,
    /// The id of what it created or changed.
    pub target: String,
}

impl CommittedRequest {
    /// The first audit event of a change set names what it did.
    pub fn of(set: &ChangeSet) -> Self {
        set.audit.first().map_or(
            Self {
                action: String::new(),
                target: String::new(),
            },
            |a| Self {
                action: a.action.clone(),
                target: a.target.clone(),
            },
        )
    }
}

/// The outcome of claiming an idempotency key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdempotencyClaim {
    /// First use, or an abandoned claim taken over: go ahead, commit through
    /// [`IdempotencyStore::commit_claimed`], then `complete` (or `release` on failure).
    Claimed,
    /// Same key, same request, already answered: replay this.
    Replay(StoredResponse),
    /// Same key, same request, still being processed by a live holder (its lease holds; it
    /// may have committed, its answer on the way).
    InProgress,
    /// Same key, same request: it committed, but its holder is gone (its lease passed, or its
    /// run was released) and its answer was never stored. It must not run again.
    Committed(CommittedRequest),
    /// Same key used with a different request.
    Mismatch,
}

/// Idempotency keys, scoped per caller (`scope` is the principal's id).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait IdempotencyStore: Send + Sync {
    /// Atomically claims `(hold.scope, hold.key)` for a request whose fingerprint is
    /// `request_hash`. An unanswered claim nobody holds any more (its `lease` passed by `now`,
    /// or its run was released) is taken over when nothing committed under it.
    async fn claim(
        &self,
        hold: &IdempotencyHold,
        request_hash: &str,
        now: DateTime<Utc>,
        lease: chrono::TimeDelta,
    ) -> StoreResult<IdempotencyClaim>;
    /// [`UnitOfWork::commit`](super::UnitOfWork::commit), and in the same transaction marks the
    /// claim committed (naming `what`); `Conflict` and nothing applied when `hold` no longer holds
    /// the claim.
    async fn commit_claimed(
        &self,
        hold: &IdempotencyHold,
        changes: ChangeSet,
        what: CommittedRequest,
        at: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// Stores the response of a claimed request, so retries with the same key replay it (a
    /// no-op when `hold` no longer holds the claim).
    async fn complete(&self, hold: &IdempotencyHold, response: StoredResponse) -> StoreResult<()>;
    /// Forgets a claim whose request failed without committing anything (a no-op when `hold`
    /// no longer holds it, or when it committed).
    async fn release(&self, hold: &IdempotencyHold) -> StoreResult<()>;
    /// Server run `run` has stopped: forgets its claims that neither committed nor were
    /// answered, and lets go of those that committed unanswered. Answers how many.
    async fn release_run(&self, run: &str) -> StoreResult<u64>;
}
