//! # sso-oidc
//!
//! OpenID Connect sign-in for the onboarding portal, on the `openidconnect` crate: discovery
//! from the issuer URL, the authorization code flow with PKCE, `state` and `nonce`, and an ID
//! token whose signature, issuer, audience, expiry and nonce are checked before its claims
//! become an [`ExternalIdentity`]. What the identity may do is the core's to decide
//! ([`onboarding_core::sso`]); this crate only proves who it is.
//!
//! Tokens are never logged; the client secret is an [`openidconnect::ClientSecret`], whose
//! `Debug` does not print it.

mod http;
mod state;
mod verify;

use std::sync::{Arc, Mutex};

use chrono::{DateTime, TimeDelta, Utc};
use onboarding_core::sso::{ExternalIdentity, RoleMapping};
use openidconnect::core::CoreAuthenticationFlow;
use openidconnect::{
    AuthorizationCode, ClientId, CsrfToken, IssuerUrl, Nonce, PkceCodeChallenge, PkceCodeVerifier,
    RedirectUrl, Scope, TokenResponse as _,
};

pub use http::{Http, HttpError};
pub use openidconnect::ClientSecret;
pub use state::{PENDING_TTL_SECONDS, Pending};
use verify::{Client, Metadata, TokenResponse};
pub use verify::{identity_from_token, parse_id_token};

/// Who signs in through a provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Audience {
    /// Provider staff (admins and reviewers): one staff provider per portal.
    Staff,
    /// Partner developers (consumer accounts).
    Partners,
}

/// One configured identity provider.
#[derive(Debug, Clone)]
pub struct ProviderSettings {
    /// A short id for URLs (`/sso/<id>/start`): lowercase letters, digits and dashes.
    pub id: String,
    /// The button's text ("Sign in with Google").
    pub label: String,
    pub audience: Audience,
    /// The issuer URL; discovery reads `<issuer>/.well-known/openid-configuration`.
    pub issuer: String,
    pub client_id: String,
    pub client_secret: ClientSecret,
    /// Requested besides `openid` (default `email profile`).
    pub scopes: Vec<String>,
    /// The claim that carries groups or roles (`groups`, `roles`, `realm_access.roles`).
    pub role_claim: String,
    /// Which claim values grant which staff role (staff providers only).
    pub roles: RoleMapping,
    /// Staff: refuse an `email` the provider does not mark `email_verified` (default true).
    pub require_verified_email: bool,
}

/// Why a sign-in through the provider failed (nothing about the person: see the core's
/// `SsoRefusal` for that).
#[derive(Debug, thiserror::Error)]
pub enum SsoError {
    #[error("identity provider discovery failed: {0}")]
    Discovery(String),
    #[error("the sign-in expired or did not start here; start again")]
    BadState,
    #[error("the identity provider answered with an error: {0}")]
    Provider(String),
    #[error("the code exchange failed: {0}")]
    Exchange(String),
    #[error("the identity provider sent no ID token")]
    NoIdToken,
    #[error("the ID token was refused: {0}")]
    Token(String),
    #[error("configuration: {0}")]
    Config(String),
}

/// How long discovery (endpoints and signing keys) is kept before it is read again.
const METADATA_TTL: TimeDelta = TimeDelta::hours(1);

/// A configured provider, with its discovery document read on first use and kept an hour
/// (signing keys rotate; a token signed by an unknown key re-reads it once).
pub struct Provider {
    pub settings: ProviderSettings,
    redirect: RedirectUrl,
    http: Http,
    metadata: Mutex<Option<(Arc<Metadata>, DateTime<Utc>)>>,
}

impl Provider {
    /// A provider whose callback is `redirect_url` (`<public URL>/sso/<id>/callback`).
    pub fn new(
        settings: ProviderSettings,
        redirect_url: &str,
        http: Http,
    ) -> Result<Self, SsoError> {
        IssuerUrl::new(settings.issuer.clone())
            .map_err(|e| SsoError::Config(format!("issuer `{}`: {e}", settings.issuer)))?;
        let redirect = RedirectUrl::new(redirect_url.to_owned())
            .map_err(|e| SsoError::Config(format!("redirect URL `{redirect_url}`: {e}")))?;
        Ok(Self {
            settings,
            redirect,
            http,
            metadata: Mutex::new(None),
        })
    }

    async fn metadata(&self, now: DateTime<Utc>, refresh: bool) -> Result<Arc<Metadata>, SsoError> {
        if !refresh
            && let Some((m, at)) = self.metadata.lock().expect("not poisoned").as_ref()
            && now - *at < METADATA_TTL
        {
            return Ok(m.clone());
        }
        let issuer = IssuerUrl::new(self.settings.issuer.clone())
            .map_err(|e| SsoError::Config(e.to_string()))?;
        let m = Arc::new(
            Metadata::discover_async(issuer, &self.http)
                .await
                .map_err(|e| SsoError::Discovery(error_chain(&e)))?,
        );
        *self.metadata.lock().expect("not poisoned") = Some((m.clone(), now));
        Ok(m)
    }

    fn client(&self, m: &Metadata) -> Client {
        Client::from_provider_metadata(
            m.clone(),
            ClientId::new(self.settings.client_id.clone()),
            Some(self.settings.client_secret.clone()),
        )
        .set_redirect_uri(self.redirect.clone())
    }

    /// Where to send the browser, and what to keep (sealed in a cookie) until it returns.
    pub async fn begin(&self, now: DateTime<Utc>) -> Result<(url::Url, Pending), SsoError> {
        let m = self.metadata(now, false).await?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let client = self.client(&m);
        let mut req = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .set_pkce_challenge(challenge);
        for s in &self.settings.scopes {
            req = req.add_scope(Scope::new(s.clone()));
        }
        let (url, state, nonce) = req.url();
        Ok((
            url,
            Pending {
                provider: self.settings.id.clone(),
                state: state.secret().clone(),
                nonce: nonce.secret().clone(),
                pkce_verifier: verifier.secret().clone(),
                started_at: now.timestamp(),
            },
        ))
    }

    /// Finishes the sign-in the provider sent back with `code` and `state`: the state must be
    /// the pending one; the code is exchanged (with the PKCE verifier) for an ID token, which
    /// must verify at `now`.
    pub async fn finish(
        &self,
        pending: &Pending,
        state: &str,
        code: &str,
        now: DateTime<Utc>,
    ) -> Result<ExternalIdentity, SsoError> {
        if pending.provider != self.settings.id || !constant_time_eq(&pending.state, state) {
            return Err(SsoError::BadState);
        }
        let m = self.metadata(now, false).await?;
        let response: TokenResponse = self
            .client(&m)
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|e| SsoError::Config(e.to_string()))?
            .set_pkce_verifier(PkceCodeVerifier::new(pending.pkce_verifier.clone()))
            .request_async(&self.http)
            .await
            .map_err(|e| SsoError::Exchange(error_chain(&e)))?;
        let token = response.id_token().ok_or(SsoError::NoIdToken)?;
        let nonce = Nonce::new(pending.nonce.clone());
        let check = |m: &Metadata| {
            let client = self.client(m);
            let verifier = client.id_token_verifier().set_time_fn(move || now);
            identity_from_token(token, &verifier, &nonce, &self.settings.role_claim)
        };
        match check(&m) {
            // A key the cached set does not have: the provider rotated its keys; read again.
            Err(SsoError::Token(why)) if why.contains("key") => {
                check(&*self.metadata(now, true).await?)
            }
            other => other,
        }
    }
}

/// Compares two strings in time that depends only on their lengths.
fn constant_time_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// An error and its sources, on one line (the provider's own words included).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}
