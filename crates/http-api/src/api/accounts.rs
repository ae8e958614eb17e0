//! Sign up, sign in and out (accounts and staff separately), the access page, tokens, staff.

pub mod dto;

use chrono::TimeDelta;
use onboarding_core::Caller;
use onboarding_core::credential::SecretHash;
use onboarding_core::ports::{AuthToken, AuthTokenKind, Principal};
use onboarding_core::roles::StaffRole;
use poem::web::RemoteAddr;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, OpenApi};

use super::*;
use crate::auth::{self, Auth};
use crate::dto::*;
use crate::state::AppState;

pub struct AccountsApi {
    pub state: AppState,
}

#[derive(ApiResponse)]
pub enum SignedIn {
    /// Signed in: the session cookie is set (the answer carries it and the CSRF token: no-store).
    #[oai(status = 200)]
    Ok(
        Json<SessionDto>,
        #[oai(header = "Set-Cookie")] String,
        #[oai(header = "Cache-Control")] String,
    ),
}

#[derive(ApiResponse)]
pub enum SignedOut {
    /// Signed out: the session is deleted and the cookie cleared.
    #[oai(status = 204)]
    Ok(#[oai(header = "Set-Cookie")] String),
}

/// The client address the throttle counts by. Behind a proxy the operator terminates
/// connections there; the peer address is what this server can trust.
fn client_address(addr: &RemoteAddr) -> String {
    addr.as_socket_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_else(|| addr.to_string())
}

impl AccountsApi {
    fn throttled(&self, email: &str, address: &str) -> ApiResult<()> {
        self.state.throttle().check(email, address).map_err(|secs| {
            Problem::new(
                "too-many-requests",
                "too many failed sign-ins; try again later",
            )
            .header("Retry-After", secs.to_string())
        })
    }

    async fn sign_in_as(
        &self,
        email: &str,
        password: &str,
        addr: &RemoteAddr,
        staff: bool,
    ) -> ApiResult<SignedIn> {
        let address = client_address(addr);
        self.throttled(email, &address)?;
        let portal = self.state.portal();
        let principal = if staff {
            portal
                .accounts()
                .authenticate_staff(email, password)
                .await
                .map(|s| Principal::Staff(s.id))
        } else {
            portal
                .accounts()
                .authenticate(email, password)
                .await
                .map(|a| Principal::Account(a.id))
        };
        let principal = match principal {
            Ok(p) => p,
            Err(onboarding_core::ServiceError::Unauthenticated) => {
                self.state.throttle().record_failure(email, &address);
                return Err(Problem::new(
                    "unauthenticated",
                    "the e-mail or password is not right",
                ));
            }
            Err(e) => return Err(e.into()),
        };
        self.state.throttle().record_success(email);
        let (token, record) = auth::start_session(&self.state, principal).await?;
        let max_age = self.state.config().session_ttl.num_seconds();
        Ok(SignedIn::Ok(
            Json(SessionDto {
                kind: if staff { "staff" } else { "account" }.into(),
                expires_at: record.expires_at,
                csrf_token: record.csrf_token.unwrap_or_default(),
            }),
            auth::session_cookie(&self.state, &token, max_age),
            NO_STORE.into(),
        ))
    }
}

#[OpenApi(prefix_path = "/api/v1", tag = "Tag::Accounts")]
impl AccountsApi {
    /// Create an account.
    #[oai(path = "/auth/sign-up", method = "post", operation_id = "sign_up")]
    async fn sign_up(&self, body: Json<SignUpRequest>) -> ApiResult<Created<AccountDto>> {
        let a = self
            .state
            .portal()
            .accounts()
            .sign_up(&body.email, &body.name, &body.password)
            .await?;
        created((&a).into(), "/api/v1/me".into())
    }

    /// Sign in as a consumer account; sets the session cookie.
    ///
    /// Failed attempts are throttled per e-mail and per client address (429 with
    /// `Retry-After`), the same way whether the account exists or not.
    #[oai(path = "/auth/sign-in", method = "post", operation_id = "sign_in")]
    async fn sign_in(&self, body: Json<SignInRequest>, addr: &RemoteAddr) -> ApiResult<SignedIn> {
        self.sign_in_as(&body.email, &body.password, addr, false)
            .await
    }

    /// Sign in as provider staff (a separate directory from accounts).
    #[oai(
        path = "/staff/sign-in",
        method = "post",
        operation_id = "staff_sign_in"
    )]
    async fn staff_sign_in(
        &self,
        body: Json<SignInRequest>,
        addr: &RemoteAddr,
    ) -> ApiResult<SignedIn> {
        self.sign_in_as(&body.email, &body.password, addr, true)
            .await
    }

    /// Sign out: deletes the session (or the personal access token used) and clears the cookie.
    #[oai(path = "/auth/sign-out", method = "post", operation_id = "sign_out")]
    async fn sign_out(&self, auth: Auth) -> ApiResult<SignedOut> {
        self.state
            .tokens()
            .delete_token(&auth.authed().token_hash)
            .await
            .map_err(Problem::internal)?;
        Ok(SignedOut::Ok(auth::session_cookie(&self.state, "", 0)))
    }

    /// The access page: who you are, your access state and the exact next step.
    #[oai(path = "/me", method = "get", operation_id = "get_me")]
    async fn me(&self, auth: Auth) -> ApiResult<Ok200<MeDto>> {
        let portal = self.state.portal();
        match auth.caller() {
            c @ Caller::Account(id) => {
                let overview = portal.accounts().me(c).await?;
                let account = portal.accounts().account(id).await?;
                ok(MeDto::account(&overview, account.created_at))
            }
            Caller::Staff { id, .. } => {
                let s = portal.accounts().staff_member(id).await?;
                ok(MeDto {
                    kind: "staff".into(),
                    account: None,
                    access: None,
                    next_step: None,
                    staff: Some((&s).into()),
                })
            }
        }
    }

    /// Create a personal access token for API access; the token is shown once.
    #[oai(
        path = "/tokens",
        method = "post",
        operation_id = "create_personal_access_token"
    )]
    async fn create_token(
        &self,
        auth: Auth,
        body: Json<CreateTokenRequest>,
    ) -> ApiResult<CreatedSecret<CreatedTokenDto>> {
        let days = body.expires_in_days.unwrap_or(90);
        if !(1..=365).contains(&days) {
            return Err(Problem::field(
                "expires_in_days",
                "a token lasts between 1 and 365 days",
            ));
        }
        let name = onboarding_core::values::Label::for_field("name", &body.name)
            .map_err(|e| Problem::validation(vec![e]))?;
        let principal = match auth.caller() {
            Caller::Account(id) => Principal::Account(id),
            Caller::Staff { id, .. } => Principal::Staff(id),
        };
        let token = auth::mint_token(&self.state, "pat");
        let now = self.state.portal().ports().clock.now();
        let record = AuthToken {
            token_hash: SecretHash::of(&token),
            principal,
            kind: AuthTokenKind::PersonalAccessToken,
            name: name.to_string(),
            csrf_token: None,
            created_at: now,
            expires_at: now + TimeDelta::days(days),
        };
        self.state
            .tokens()
            .insert_token(record.clone())
            .await
            .map_err(Problem::internal)?;
        created_secret(
            CreatedTokenDto {
                name: record.name,
                token,
                created_at: now,
                expires_at: record.expires_at,
            },
            "/api/v1/me".into(),
        )
    }

    /// Add a staff member (admins).
    #[oai(
        path = "/staff",
        method = "post",
        operation_id = "create_staff_account"
    )]
    async fn create_staff(
        &self,
        auth: Auth,
        body: Json<CreateStaffRequest>,
    ) -> ApiResult<Created<StaffDto>> {
        let role = match body.role {
            StaffRoleName::Admin => StaffRole::Admin,
            StaffRoleName::Reviewer => StaffRole::Reviewer,
        };
        let s = self
            .state
            .portal()
            .accounts()
            .create_staff(
                Some(auth.caller()),
                &body.email,
                &body.name,
                role,
                &body.password,
            )
            .await?;
        created((&s).into(), "/api/v1/me".into())
    }
}
