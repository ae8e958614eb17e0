//! Authentication: argon2id password hashing (the core's `PasswordHasher` port), browser
//! sessions by cookie, personal access tokens by bearer, and the gateways' service token.
//! Only the SHA-256 of a session or token is stored; the plaintext lives in the cookie or in
//! the one response that shows it.

use argon2::{Algorithm, Argon2, Params, PasswordHasher as _, PasswordVerifier as _, Version};
use async_trait::async_trait;
use onboarding_core::Caller;
use onboarding_core::credential::SecretHash;
use onboarding_core::ports::{AuthToken, AuthTokenKind, PasswordHasher, Principal};
use poem::Request;
use poem_openapi::SecurityScheme;
use poem_openapi::auth::{ApiKey, Bearer};
use std::sync::Arc;
use tokio::sync::Semaphore;

use crate::problem::Problem;
use crate::state::AppState;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "portal_session";

/// argon2id with the OWASP parameters (19 MiB, 2 passes, 1 lane), run on the blocking pool
/// so a sign-in never stalls the async workers, and at most one hash per core at a time: each
/// hash holds 19 MiB and a core for tens of milliseconds, so a burst of sign-ins (or a client
/// hammering sign-up) waits in line instead of starting hundreds of hashes on hundreds of
/// blocking threads, which would take gigabytes and starve every other request.
#[derive(Clone)]
pub struct Argon2Hasher {
    params: Params,
    permits: Arc<Semaphore>,
    #[cfg(test)]
    probe: Arc<probe::InFlight>,
}

impl Default for Argon2Hasher {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Self::with_concurrency(cores)
    }
}

impl Argon2Hasher {
    /// A hasher running at most `concurrent` hashes at once (at least one).
    pub fn with_concurrency(concurrent: usize) -> Self {
        Self {
            params: Params::new(19_456, 2, 1, None).expect("OWASP argon2 parameters are valid"),
            permits: Arc::new(Semaphore::new(concurrent.max(1))),
            #[cfg(test)]
            probe: Arc::default(),
        }
    }

    fn argon(&self) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, self.params.clone())
    }

    /// Runs `work` on the blocking pool once a permit is free.
    async fn bounded<T: Send + 'static>(
        &self,
        work: impl FnOnce(Argon2<'static>) -> T + Send + 'static,
    ) -> Option<T> {
        let _permit = self.permits.acquire().await.ok()?;
        let argon = self.argon();
        #[cfg(test)]
        let probe = self.probe.clone();
        tokio::task::spawn_blocking(move || {
            #[cfg(test)]
            let _in = probe.enter();
            work(argon)
        })
        .await
        .ok()
    }
}

#[async_trait]
impl PasswordHasher for Argon2Hasher {
    async fn hash(&self, password: &str) -> String {
        let password = password.to_owned();
        self.bounded(move |argon| {
            argon
                .hash_password(password.as_bytes())
                .map(|h| h.to_string())
                .expect("argon2 hashing with OS randomness")
        })
        .await
        .expect("hashing task")
    }

    async fn verify(&self, password: &str, phc_hash: &str) -> bool {
        let password = password.to_owned();
        let phc = phc_hash.to_owned();
        // The parameters come from the stored PHC string, so raising them later still
        // verifies old hashes.
        self.bounded(move |argon| {
            argon
                .verify_password(password.as_bytes(), phc.as_str())
                .is_ok()
        })
        .await
        .unwrap_or(false)
    }
}

#[cfg(test)]
mod probe {
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Counts hashes running at once and remembers the most seen.
    #[derive(Default)]
    pub struct InFlight {
        now: AtomicUsize,
        pub most: AtomicUsize,
    }

    pub struct Inside<'a>(&'a InFlight);

    impl InFlight {
        pub fn enter(&self) -> Inside<'_> {
            let n = self.now.fetch_add(1, Ordering::SeqCst) + 1;
            self.most.fetch_max(n, Ordering::SeqCst);
            Inside(self)
        }
    }

    impl Drop for Inside<'_> {
        fn drop(&mut self) {
            self.0.now.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

#[cfg(test)]
mod hasher_tests {
    use super::*;
    use std::sync::atomic::Ordering;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn hashes_beyond_the_limit_wait_their_turn_and_all_verify() {
        let hasher = Argon2Hasher::with_concurrency(2);
        let tasks: Vec<_> = (0..6)
            .map(|i| {
                let h = hasher.clone();
                tokio::spawn(async move {
                    let password = format!("correct horse {i}");
                    let phc = h.hash(&password).await;
                    (
                        h.verify(&password, &phc).await,
                        h.verify("wrong", &phc).await,
                    )
                })
            })
            .collect();
        for t in tasks {
            assert_eq!(t.await.unwrap(), (true, false));
        }
        let most = hasher.probe.most.load(Ordering::SeqCst);
        assert!((1..=2).contains(&most), "{most} hashes ran at once");
    }
}

/// A signed-in caller and the token that signed them in.
#[derive(Debug, Clone)]
pub struct Authed {
    pub caller: Caller,
    pub token_hash: SecretHash,
    pub kind: AuthTokenKind,
}

impl Authed {
    /// The scope of idempotency keys: the principal, not the token, so a key survives a new
    /// session of the same person.
    pub fn scope(&self) -> String {
        match self.caller {
            Caller::Account(id) => id.to_string(),
            Caller::Staff { id, .. } => id.to_string(),
        }
    }
}

fn state(req: &Request) -> poem::Result<&AppState> {
    req.data::<AppState>()
        .ok_or_else(|| Problem::internal("application state missing").into())
}

/// Resolves a session or personal access token to its caller; expired and unknown tokens
/// answer 401.
pub async fn resolve_token(state: &AppState, token: &str) -> Result<Authed, Problem> {
    let hash = SecretHash::of(token);
    let found = state
        .tokens()
        .find_token(&hash)
        .await
        .map_err(Problem::internal)?
        .ok_or_else(Problem::unauthenticated)?;
    if found.expires_at <= state.portal().ports().clock.now() {
        return Err(Problem::new(
            "unauthenticated",
            "the session or token has expired; sign in again",
        ));
    }
    let caller = match found.principal {
        Principal::Account(id) => {
            state.portal().accounts().account(id).await?;
            Caller::Account(id)
        }
        Principal::Staff(id) => {
            let staff = state.portal().accounts().staff_member(id).await?;
            Caller::Staff {
                id,
                role: staff.role,
            }
        }
    };
    Ok(Authed {
        caller,
        token_hash: hash,
        kind: found.kind,
    })
}

/// A request that presents both a session cookie and a bearer token is refused unless both
/// sign in the same principal: an invalid credential is never papered over by another one.
async fn check_session(req: &Request, key: ApiKey) -> poem::Result<Authed> {
    let st = state(req)?;
    let authed = resolve_token(st, &key.key).await?;
    if let Some(other) = presented_bearer(req) {
        same_principal(&authed, &resolve_token(st, &other).await?)?;
    }
    Ok(authed)
}

async fn check_bearer(req: &Request, bearer: Bearer) -> poem::Result<Authed> {
    let st = state(req)?;
    let authed = resolve_token(st, &bearer.token).await?;
    if let Some(cookie) = presented_session(req) {
        same_principal(&authed, &resolve_token(st, &cookie).await?)?;
    }
    Ok(authed)
}

fn same_principal(a: &Authed, b: &Authed) -> Result<(), Problem> {
    if a.scope() == b.scope() {
        Ok(())
    } else {
        Err(Problem::new(
            "unauthenticated",
            "the session cookie and the bearer token belong to different principals",
        ))
    }
}

fn presented_bearer(req: &Request) -> Option<String> {
    req.headers()
        .get(poem::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(|t| t.trim().to_owned())
}

fn presented_session(req: &Request) -> Option<String> {
    req.headers()
        .get_all(poem::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == SESSION_COOKIE)
        .map(|(_, v)| v.to_owned())
}

/// Browser session: the `portal_session` cookie set by the sign-in endpoints.
#[derive(SecurityScheme)]
#[oai(
    ty = "api_key",
    key_name = "portal_session",
    key_in = "cookie",
    checker = "check_session"
)]
pub struct SessionCookie(pub Authed);

/// Personal access token (`POST /api/v1/tokens`), as `Authorization: Bearer pat_...`.
#[derive(SecurityScheme)]
#[oai(ty = "bearer", bearer_format = "pat", checker = "check_bearer")]
pub struct PersonalAccessToken(pub Authed);

/// A signed-in account or staff member, by session cookie or personal access token.
#[derive(SecurityScheme)]
pub enum Auth {
    Session(SessionCookie),
    Token(PersonalAccessToken),
}

impl Auth {
    pub fn authed(&self) -> &Authed {
        match self {
            Auth::Session(SessionCookie(a)) | Auth::Token(PersonalAccessToken(a)) => a,
        }
    }
    pub fn caller(&self) -> Caller {
        self.authed().caller
    }
}

async fn check_gateway(req: &Request, bearer: Bearer) -> poem::Result<()> {
    Ok(gateway_token_accepted(state(req)?, &bearer.token)?)
}

/// Whether `token` is the operator's gateway token: the one check of both the documented
/// gateway operations and their hot path ([`crate::gateway_first`]).
pub fn gateway_token_accepted(state: &AppState, token: &str) -> Result<(), Problem> {
    let Some(expected) = &state.config().gateway_token_hash else {
        return Err(Problem::new(
            "unauthenticated",
            "no gateway token is configured on this portal",
        ));
    };
    // Compare hashes in constant time: the token is a long random string, its hash leaks nothing.
    let got = SecretHash::of(token);
    if constant_time_eq(got.as_str().as_bytes(), expected.as_str().as_bytes()) {
        Ok(())
    } else {
        Err(Problem::new("unauthenticated", "unknown gateway token"))
    }
}

/// The provider service token that API gateways present to the verification endpoint.
#[derive(SecurityScheme)]
#[oai(
    ty = "bearer",
    bearer_format = "gateway token",
    checker = "check_gateway"
)]
pub struct GatewayToken(pub ());

pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A new random token with a readable prefix (`ps_` session, `pat_` personal access token).
pub fn mint_token(state: &AppState, prefix: &str) -> String {
    format!("{prefix}_{}", state.portal().ports().secrets.base62(40))
}

/// Starts a browser session: a new random id at every sign-in (no fixation), hash stored.
pub async fn start_session(
    state: &AppState,
    principal: Principal,
) -> Result<(String, AuthToken), Problem> {
    let token = mint_token(state, "ps");
    let now = state.portal().ports().clock.now();
    let record = AuthToken {
        token_hash: SecretHash::of(&token),
        principal,
        kind: AuthTokenKind::Session,
        name: String::new(),
        csrf_token: Some(state.portal().ports().secrets.base62(32)),
        created_at: now,
        expires_at: now + state.config().session_ttl,
    };
    state
        .tokens()
        .insert_token(record.clone())
        .await
        .map_err(Problem::internal)?;
    Ok((token, record))
}

/// The `Set-Cookie` value of a session.
pub fn session_cookie(state: &AppState, token: &str, max_age: i64) -> String {
    let secure = if state.config().secure_cookies {
        "; Secure"
    } else {
        ""
    };
    format!("{SESSION_COOKIE}={token}; HttpOnly; SameSite=Lax; Path=/; Max-Age={max_age}{secure}")
}
