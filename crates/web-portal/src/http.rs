//! Request context, form bodies, responses and the mapping of core errors to pages.

use std::str::FromStr;

use maud::{Markup, html};
use onboarding_core::services::{InboxCounts, InboxFilter};
use onboarding_core::values::FieldError;
use onboarding_core::{Caller, ServiceError};
use poem::http::{StatusCode, header};
use poem::{Request, Response};

use crate::WebState;
use crate::session::{self, CSRF_FIELD, PRESESSION_COOKIE, Session};
use crate::ui;

/// Bodies above this size are refused before they are read.
const MAX_BODY: usize = 256 * 1024;

/// One request's view of the portal: the state, who is signed in, the CSRF token to embed.
pub struct Ctx {
    pub state: WebState,
    pub session: Option<Session>,
    pub csrf: String,
    /// A pre-session CSRF cookie to set on the response (first visit, signed out).
    new_presession: bool,
    pub path: String,
    /// The staff inbox's counts for the staff navigation (staff sessions only); an error is
    /// shown there, in words.
    pub inbox: Option<Result<InboxCounts, String>>,
}

/// A parsed `application/x-www-form-urlencoded` body; keys may repeat (checkboxes).
#[derive(Debug, Default, Clone)]
pub struct FormData(pub Vec<(String, String)>);

impl FormData {
    pub fn parse(bytes: &[u8]) -> Self {
        Self(url::form_urlencoded::parse(bytes).into_owned().collect())
    }
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
    /// The value, or the empty string.
    pub fn text(&self, key: &str) -> &str {
        self.get(key).unwrap_or("")
    }
    pub fn all(&self, key: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    }
    pub fn has(&self, key: &str) -> bool {
        self.get(key).is_some()
    }
}

impl Ctx {
    pub async fn load(state: &WebState, req: &Request) -> Ctx {
        let session = session::load(state, req).await;
        let (csrf, new_presession) = match &session {
            Some(s) => (s.csrf.clone(), false),
            None => match session::cookie_value(req, PRESESSION_COOKIE) {
                Some(v) => (v, false),
                None => (session::random_token(), true),
            },
        };
        let inbox = match session.as_ref().map(|s| s.caller) {
            Some(c @ Caller::Staff { .. }) => Some(
                state
                    .portal
                    .pipeline()
                    .inbox_counts(c, InboxFilter::default())
                    .await
                    .map_err(|e| e.to_string()),
            ),
            _ => None,
        };
        Ctx {
            state: state.clone(),
            session,
            csrf,
            new_presession,
            path: req.uri().path().to_owned(),
            inbox,
        }
    }

    /// Loads the context of a form POST: reads the body and checks its CSRF token in constant
    /// time against the session's (or, before sign-in, the pre-session cookie's). A POST
    /// without a matching token is answered with a 403 page.
    pub async fn post(state: &WebState, mut req: Request) -> Result<(Ctx, FormData), Response> {
        let ctx = Ctx::load(state, &req).await;
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok())
            .unwrap_or(0);
        if declared > MAX_BODY {
            return Err(ctx.message(
                StatusCode::PAYLOAD_TOO_LARGE,
                "Too much data",
                "The form sent more data than the portal accepts.",
            ));
        }
        let bytes = match req.take_body().into_bytes_limit(MAX_BODY).await {
            Ok(b) => b,
            Err(_) => {
                return Err(ctx.message(
                    StatusCode::BAD_REQUEST,
                    "The form could not be read",
                    "Please go back and try again.",
                ));
            }
        };
        let form = FormData::parse(&bytes);
        // A fresh pre-session token was never handed out, so it cannot match.
        let expected_ok = ctx.session.is_some() || !ctx.new_presession;
        let ok = expected_ok
            && form
                .get(CSRF_FIELD)
                .is_some_and(|t| session::constant_time_eq(t, &ctx.csrf));
        if !ok {
            return Err(ctx.message(
                StatusCode::FORBIDDEN,
                "This form has expired",
                "The form was missing its security token or the token did not match your session. Go back, reload the page and send the form again.",
            ));
        }
        Ok((ctx, form))
    }

    pub fn caller(&self) -> Option<Caller> {
        self.session.as_ref().map(|s| s.caller)
    }

    /// A complete HTML page.
    pub fn page(&self, status: StatusCode, title: &str, body: Markup) -> Response {
        let markup = ui::layout(self, title, body);
        let mut resp = Response::builder()
            .status(status)
            .content_type("text/html; charset=utf-8")
            .header(header::CACHE_CONTROL, "no-store")
            .header("X-Content-Type-Options", "nosniff")
            .header("X-Frame-Options", "DENY")
            .header("Referrer-Policy", "same-origin")
            .header(
                "Content-Security-Policy",
                "default-src 'self'; script-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
            )
            .body(markup.into_string());
        if self.new_presession {
            self.add_cookie(
                &mut resp,
                &session::set_cookie(&self.state, PRESESSION_COOKIE, &self.csrf, 12 * 3600),
            );
        }
        resp
    }

    pub fn ok(&self, title: &str, body: Markup) -> Response {
        self.page(StatusCode::OK, title, body)
    }

    pub fn add_cookie(&self, resp: &mut Response, value: &str) {
        if let Ok(v) = value.parse() {
            resp.headers_mut().append(header::SET_COOKIE, v);
        }
    }

    /// A page with one message (errors, refusals).
    pub fn message(&self, status: StatusCode, title: &str, text: &str) -> Response {
        let body = html! {
            div.notice.notice-error role="alert" {
                p { (text) }
            }
            p { a href="/" { "Back to your access page" } }
        };
        self.page(status, title, body)
    }

    /// The page for a core error on a GET (or a POST that has no form to re-render).
    pub fn error(&self, e: ServiceError) -> Response {
        match e {
            ServiceError::Unauthenticated => redirect("/sign-in"),
            ServiceError::NotFound { entity } => self.message(
                StatusCode::NOT_FOUND,
                "Not found",
                &format!("There is no {entity} here that you can see."),
            ),
            ServiceError::Forbidden { action } => self.message(
                StatusCode::FORBIDDEN,
                "Not allowed",
                &format!(
                    "Your roles do not allow you to {}. Ask an owner of the workspace for the role you need.",
                    action.describe()
                ),
            ),
            ServiceError::Internal(m) => {
                tracing::error!(error = %m, "portal page failed");
                self.message(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Something went wrong",
                    "The portal could not complete this request. Please try again in a moment.",
                )
            }
            other => self.message(StatusCode::CONFLICT, "Not possible right now", &other.to_string()),
        }
    }

    pub fn not_found(&self) -> Response {
        self.error(ServiceError::NotFound { entity: "page" })
    }

    /// The signed-in caller, or the redirect to sign in.
    pub fn require_caller(&self) -> Result<Caller, Response> {
        self.caller().ok_or_else(|| redirect("/sign-in"))
    }
}

/// 303 See Other: the redirect after a successful POST.
pub fn redirect(to: &str) -> Response {
    Response::builder()
        .status(StatusCode::SEE_OTHER)
        .header(header::LOCATION, to)
        .header(header::CACHE_CONTROL, "no-store")
        .finish()
}

/// A typed path parameter.
pub fn param<T: FromStr>(req: &Request, name: &str) -> Option<T> {
    req.raw_path_param(name).and_then(|v| v.parse().ok())
}

/// A refused form: which form, the errors (by the core's field names), what was typed.
#[derive(Debug, Clone, Default)]
pub struct FormErrors {
    pub form: String,
    pub fields: Vec<FieldError>,
    /// A refusal that belongs to no field (a conflict, a gate, a lock).
    pub general: Option<String>,
    pub values: FormData,
    pub status: u16,
}

impl FormErrors {
    pub fn new(form: &str, values: FormData) -> Self {
        Self {
            form: form.to_owned(),
            values,
            status: 422,
            ..Default::default()
        }
    }

    pub fn field(mut self, field: &str, reason: &str) -> Self {
        self.fields.push(FieldError::new(field, reason));
        self
    }

    /// The form errors of a core refusal, or `None` for errors that have no form to go back to.
    pub fn from_service(
        form: &str,
        values: FormData,
        e: ServiceError,
    ) -> Result<Self, ServiceError> {
        let mut fe = Self::new(form, values);
        match e {
            ServiceError::Invalid(f) => fe.fields.push(f),
            ServiceError::InvalidFields(fs) => fe.fields = fs,
            ServiceError::Conflict { message, .. } | ServiceError::Stale { message, .. } => {
                fe.general = Some(message);
                fe.status = 409;
            }
            ServiceError::Refused { message, .. } => {
                fe.general = Some(message);
                fe.status = 409;
            }
            ServiceError::GateNotPassed { gate, missing } => {
                fe.general = Some(format!("{}: {missing}", gate.title()));
                fe.status = 409;
            }
            ServiceError::Locked(r) => {
                fe.general = Some(r.message().to_owned());
                fe.status = 409;
            }
            other => return Err(other),
        }
        Ok(fe)
    }

    pub fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::UNPROCESSABLE_ENTITY)
    }

    /// The errors shown beside the input named `name`: the core's field equals it, or is
    /// inside it (`answers.website` is inside `answers`? no: exact names, or `name.` / `name[`).
    pub fn for_input(&self, name: &str) -> Vec<&str> {
        self.fields
            .iter()
            .filter(|f| {
                f.field == name
                    || f.field.starts_with(&format!("{name}."))
                    || f.field.starts_with(&format!("{name}["))
            })
            .map(|f| f.reason.as_str())
            .collect()
    }
}

/// The errors of one form, if the refused form is this one.
#[derive(Clone, Copy)]
pub struct Errs<'a>(pub Option<&'a FormErrors>);

impl<'a> Errs<'a> {
    pub fn of(all: Option<&'a FormErrors>, form: &str) -> Errs<'a> {
        Errs(all.filter(|e| e.form == form))
    }
    pub fn none() -> Errs<'static> {
        Errs(None)
    }
    pub fn for_input(&self, name: &str) -> Vec<&'a str> {
        self.0.map(|e| e.for_input(name)).unwrap_or_default()
    }
    /// What was typed into `name` before the form was refused.
    pub fn value(&self, name: &str) -> Option<&'a str> {
        self.0.and_then(|e| e.values.get(name))
    }
    pub fn values(&self, name: &str) -> Option<Vec<&'a str>> {
        self.0.map(|e| e.values.all(name))
    }
}
