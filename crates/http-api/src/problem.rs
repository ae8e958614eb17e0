//! RFC 9457 problem details: the one error shape of the API, for use-case refusals and for
//! framework errors alike (bad JSON, unknown route, wrong method, body too large).

use onboarding_core::ServiceError;
use onboarding_core::values::FieldError;
use poem::http::{HeaderValue, StatusCode, header};
use poem::{IntoResponse, Response};
use poem_openapi::registry::{MetaMediaType, MetaResponse, MetaResponses, Registry};
use poem_openapi::types::Type;
use poem_openapi::{ApiResponse, Object};

/// Base of every problem `type` URI. The URIs are stable: clients may switch on them.
pub const TYPE_BASE: &str = "https://onboarding-portal.dev/problems/";

pub const PROBLEM_JSON: &str = "application/problem+json";

/// One refused field of a validation problem.
#[derive(Debug, Clone, Object, serde::Serialize)]
pub struct FieldProblem {
    /// The field at fault (`email`, `answers.website`, ...).
    pub field: String,
    /// What is wrong, in a sentence a user can act on.
    pub reason: String,
}

/// An RFC 9457 problem document (`application/problem+json`).
#[derive(Debug, Clone, Object, serde::Serialize)]
#[oai(rename = "Problem")]
pub struct ProblemBody {
    /// Stable URI naming the kind of problem (see docs/api.md).
    #[oai(rename = "type")]
    #[serde(rename = "type")]
    pub type_: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// Validation: the (first) field at fault.
    #[oai(skip_serializing_if_is_none)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Validation: every refused field.
    #[oai(skip_serializing_if_is_none)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<FieldProblem>>,
    /// Conflicts: the current state (a phase such as `in_review`, a status).
    #[oai(skip_serializing_if_is_none)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current: Option<String>,
    /// Business-rule refusals and locks: a stable snake_case code (`no_sandbox_credential`).
    #[oai(skip_serializing_if_is_none)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// Gate refusals: the remaining gate.
    #[oai(skip_serializing_if_is_none)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gate: Option<String>,
    /// `idempotency-key-answer-lost`: the id of what the committed request created or changed.
    #[oai(skip_serializing_if_is_none)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
}

/// A problem response. Handlers return `Result<_, Problem>`; `?` on a core call maps through
/// the one `From<ServiceError>` below.
#[derive(Debug, Clone)]
pub struct Problem {
    /// Boxed: handlers return `Result<_, Problem>` everywhere, so the error stays small.
    pub body: Box<ProblemBody>,
    /// Extra headers (`Retry-After` on 429, `Allow` on 405, `WWW-Authenticate` on 401).
    pub headers: Vec<(&'static str, String)>,
}

/// Every problem type: (slug, status, title). docs/api.md lists the same table.
pub const TYPES: &[(&str, u16, &str)] = &[
    ("bad-request", 400, "Bad request"),
    ("unauthenticated", 401, "Authentication required"),
    ("forbidden", 403, "Forbidden"),
    ("not-found", 404, "Not found"),
    ("method-not-allowed", 405, "Method not allowed"),
    ("conflict", 409, "Conflict"),
    ("refused", 409, "Refused by a business rule"),
    ("gate-not-passed", 409, "A production gate has not passed"),
    ("locked", 409, "Production credentials are locked"),
    ("idempotency-key-in-use", 409, "Idempotency key in use"),
    (
        "idempotency-key-answer-lost",
        409,
        "Idempotent request carried out; its answer was lost",
    ),
    ("precondition-failed", 412, "Precondition failed"),
    ("payload-too-large", 413, "Payload too large"),
    ("unsupported-media-type", 415, "Unsupported media type"),
    ("validation", 422, "Validation failed"),
    (
        "idempotency-key-mismatch",
        422,
        "Idempotency key reused with another request",
    ),
    ("too-many-requests", 429, "Too many requests"),
    ("internal", 500, "Internal server error"),
    ("http-error", 0, "HTTP error"),
];

/// The problem statuses every operation documents (RFC 9457 bodies; see docs/api.md for the
/// `type`s behind each).
pub const DOCUMENTED: &[(u16, &str)] = &[
    (400, "`bad-request`: malformed JSON, parameters or headers."),
    (
        401,
        "`unauthenticated`: no, unknown or expired session or token.",
    ),
    (403, "`forbidden`: your roles do not allow the action."),
    (
        404,
        "`not-found`: unknown resource, or another workspace's (never told apart).",
    ),
    (
        409,
        "`conflict`, `refused`, `gate-not-passed`, `locked` or `idempotency-key-in-use`.",
    ),
    (
        412,
        "`precondition-failed`: `If-Match` names a version that is no longer current.",
    ),
    (413, "`payload-too-large`: the body exceeds 1 MiB."),
    (
        415,
        "`unsupported-media-type`: not JSON where JSON is expected.",
    ),
    (
        422,
        "`validation` (`field`, `errors[]`) or `idempotency-key-mismatch`.",
    ),
    (429, "`too-many-requests`: throttled (`Retry-After`)."),
    (
        500,
        "`internal`: logged with the request id; a generic detail.",
    ),
];

impl Problem {
    /// A problem of a known slug; status and title come from [`TYPES`].
    pub fn new(slug: &str, detail: impl Into<String>) -> Self {
        let (status, title) = TYPES
            .iter()
            .find(|(s, _, _)| *s == slug)
            .map(|(_, st, t)| (*st, *t))
            .unwrap_or((500, "Internal server error"));
        Self {
            body: Box::new(ProblemBody {
                type_: format!("{TYPE_BASE}{slug}"),
                title: title.into(),
                status,
                detail: detail.into(),
                field: None,
                errors: None,
                current: None,
                code: None,
                gate: None,
                resource: None,
            }),
            headers: vec![],
        }
    }

    pub fn with_status(mut self, status: u16) -> Self {
        self.body.status = status;
        self
    }

    pub fn current(mut self, current: Option<String>) -> Self {
        self.body.current = current;
        self
    }

    pub fn code(mut self, code: impl Into<String>) -> Self {
        self.body.code = Some(code.into());
        self
    }

    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    pub fn validation(errors: Vec<FieldError>) -> Self {
        let detail = errors
            .iter()
            .map(|e| format!("{}: {}", e.field, e.reason))
            .collect::<Vec<_>>()
            .join("; ");
        let mut p = Self::new("validation", detail);
        p.body.field = errors.first().map(|e| e.field.clone());
        p.body.errors = Some(
            errors
                .into_iter()
                .map(|e| FieldProblem {
                    field: e.field,
                    reason: e.reason,
                })
                .collect(),
        );
        p
    }

    pub fn field(field: &str, reason: impl Into<String>) -> Self {
        Self::validation(vec![FieldError::new(field, reason)])
    }

    pub fn not_found(what: &str) -> Self {
        Self::new("not-found", format!("{what} not found"))
    }

    pub fn unauthenticated() -> Self {
        Self::new(
            "unauthenticated",
            "sign in (session cookie) or present a personal access token (Authorization: Bearer)",
        )
    }

    /// A 500: the cause goes to the log with the request's span, never to the client.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        Self::new(
            "internal",
            "the server could not complete the request; it has been logged",
        )
    }

    pub fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.body.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    pub fn to_response(&self) -> Response {
        let body = serde_json::to_vec(&self.body).unwrap_or_default();
        let mut resp = Response::builder()
            .status(self.status())
            .header(header::CONTENT_TYPE, PROBLEM_JSON)
            .body(body);
        for (name, value) in &self.headers {
            if let Ok(v) = HeaderValue::from_str(value) {
                resp.headers_mut().insert(*name, v);
            }
        }
        resp
    }
}

impl From<ServiceError> for Problem {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::NotFound { entity } => Problem::not_found(entity),
            ServiceError::Forbidden { action } => Problem::new(
                "forbidden",
                format!("your roles do not allow you to {action}"),
            ),
            ServiceError::Conflict { message, current }
            | ServiceError::Stale { message, current } => {
                Problem::new("conflict", message).current(current)
            }
            ServiceError::Refused { code, message } => {
                Problem::new("refused", message).code(code.as_str())
            }
            ServiceError::Invalid(f) => Problem::validation(vec![f]),
            ServiceError::InvalidFields(fs) => Problem::validation(fs),
            ServiceError::GateNotPassed { gate, missing } => {
                let mut p = Problem::new(
                    "gate-not-passed",
                    format!("{} has not passed: {missing}", gate.title()),
                );
                p.body.gate = Some(gate.as_str().to_owned());
                p.body.current = Some("in_review".into());
                p
            }
            ServiceError::Locked(reason) => Problem::new("locked", reason.message()).code(
                serde_json::to_value(reason)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default(),
            ),
            ServiceError::Unauthenticated => Problem::unauthenticated(),
            ServiceError::Internal(cause) => Problem::internal(cause),
        }
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.body.title, self.body.detail)
    }
}

impl std::error::Error for Problem {}

impl poem::error::ResponseError for Problem {
    fn status(&self) -> StatusCode {
        Problem::status(self)
    }
    fn as_response(&self) -> Response {
        self.to_response()
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        self.to_response()
    }
}

impl ApiResponse for Problem {
    // Request parsing errors (bad JSON, missing parameters) become a 400 problem here, with
    // the parser's message, rather than poem's plain-text answer.
    const BAD_REQUEST_HANDLER: bool = true;

    fn meta() -> MetaResponses {
        // Every problem an operation can answer, declared once here for all of them: an
        // operation returns `Result<_, Problem>`, so the document lists each status explicitly
        // (clients and fuzzers can check an answer against it) rather than a catch-all default.
        MetaResponses {
            responses: DOCUMENTED
                .iter()
                .map(|(status, description)| MetaResponse {
                    description,
                    status: Some(*status),
                    status_range: None,
                    content: vec![MetaMediaType {
                        content_type: PROBLEM_JSON,
                        schema: ProblemBody::schema_ref(),
                    }],
                    headers: vec![],
                })
                .collect(),
        }
    }

    fn register(registry: &mut Registry) {
        ProblemBody::register(registry);
    }

    fn from_parse_request_error(err: poem::Error) -> Self {
        problem_from_poem_error(&err)
    }
}

/// Converts any framework error into the problem shape, keeping problems as they are.
pub fn problem_from_poem_error(err: &poem::Error) -> Problem {
    if let Some(p) = err.downcast_ref::<Problem>() {
        return p.clone();
    }
    // A parameter the server cannot read, or outside its documented pattern or range, is a
    // validation problem that names it, like every field the core refuses.
    if let Some(e) = err.downcast_ref::<poem_openapi::error::ParseParamError>() {
        let reason = match e.reason.strip_prefix("verification failed. ") {
            Some(rule) => format!("does not meet the documented rule: {rule}"),
            None => e.reason.clone(),
        };
        return Problem::field(e.name, reason);
    }
    let status = err.status();
    let detail = err.to_string();
    match status.as_u16() {
        400 => Problem::new("bad-request", detail),
        401 => Problem::unauthenticated(),
        404 => Problem::new("not-found", "no such resource or route"),
        405 => Problem::new(
            "method-not-allowed",
            "this route does not accept that method",
        ),
        413 => Problem::new(
            "payload-too-large",
            "the request body exceeds the limit of 1 MiB",
        ),
        415 => Problem::new("unsupported-media-type", detail),
        s if s >= 500 => Problem::internal(detail),
        s => {
            let mut p = Problem::new("http-error", detail).with_status(s);
            p.body.title = status.canonical_reason().unwrap_or("HTTP error").into();
            p
        }
    }
}
