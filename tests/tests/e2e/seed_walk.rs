//! The seed walk through the typed client (`portal-client`, generated from
//! `docs/openapi.json`): sign up → workspace → project → subscribe → credential → submit →
//! approve, on a paid plan with every gate, to production credentials. No hand-written
//! request: a change to the API that breaks its contract (a renamed operation, a changed
//! body or answer) breaks this build, or this test where only the wire can tell.

use futures_util::StreamExt;
use portal_client::types::{self, RoleName};
use portal_client::{ByteStream, Client as Api, Error as ApiError};

use super::*;

/// A client with a cookie jar of its own, for the session its sign-in sets.
fn api(app: &TestApp) -> Api {
    let http = Client::builder().cookie_store(true).build().unwrap();
    Api::new_with_client(&app.base, http)
}

/// The gateway's client: the operator's gateway token on every request.
fn gateway(app: &TestApp) -> Api {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::AUTHORIZATION,
        format!("Bearer {GATEWAY_TOKEN}").parse().unwrap(),
    );
    let http = Client::builder().default_headers(headers).build().unwrap();
    Api::new_with_client(&app.base, http)
}

/// A string the document constrains (a name, an e-mail address, an id, an amount): the
/// client's type checks the document's pattern before anything is sent.
fn typed<T: std::str::FromStr>(v: &str) -> T
where
    T::Err: std::fmt::Display,
{
    v.parse()
        .unwrap_or_else(|e| panic!("{v:?} refused by the client: {e}"))
}

/// A refused request's problem: its status and body.
async fn refusal(e: ApiError<ByteStream>) -> (u16, Value) {
    let ApiError::ErrorResponse(r) = e else {
        panic!("expected a documented refusal, got {e}");
    };
    let status = r.status().as_u16();
    let mut stream = r.into_inner().into_inner();
    let mut body = Vec::new();
    while let Some(chunk) = stream.next().await {
        body.extend_from_slice(&chunk.unwrap());
    }
    (status, serde_json::from_slice(&body).unwrap())
}

async fn signed_up(app: &TestApp, email: &str) -> Api {
    let client = api(app);
    let password = "correct horse battery";
    client
        .sign_up(&types::SignUpRequest {
            email: typed(email),
            name: typed("Dev"),
            password: typed(password),
        })
        .await
        .unwrap();
    client
        .sign_in(&types::SignInRequest {
            email: email.into(),
            password: password.into(),
        })
        .await
        .unwrap();
    client
}

async fn my_id(client: &Api) -> String {
    let me = client.get_me().await.unwrap().into_inner();
    me.account.expect("an account").id
}

async fn verify_key(app: &TestApp, secret: &str) -> types::VerifyAnswerDto {
    gateway(app)
        .verify_credential(&types::VerifyRequest {
            secret: secret.into(),
            endpoint: Some("GET /accounts".into()),
            environment: None,
            success: None,
        })
        .await
        .unwrap()
        .into_inner()
}

#[tokio::test]
async fn happy_path_to_production_credentials_on_a_paid_plan() {
    let app = spawn_app().await;

    // The provider's admin: a product and a paid plan with every gate.
    let admin = api(&app);
    let (email, password) = app.server.admin.clone().unwrap();
    admin
        .staff_sign_in(&types::SignInRequest { email, password })
        .await
        .unwrap();
    let product = admin
        .create_product(&types::CreateProductRequest {
            name: typed("Account Data API"),
            description: Some("Balances".into()),
        })
        .await
        .unwrap();
    let gates = [
        "declared_use_case",
        "consent_handling",
        "integration_verification",
        "billing_ownership",
        "audit_readiness",
        "internal_access_controls",
    ];
    let plan = admin
        .create_plan(
            &product.id,
            &types::PlanInputDto {
                name: typed("Business"),
                sandbox_access: "open".into(),
                endpoints: vec!["GET /accounts".into()],
                events: Some(vec![]),
                test_data: Some(vec![types::TestDataDto {
                    type_: "string".into(),
                    name: "iban".into(),
                    description: "A test IBAN".into(),
                    value: "DE89370400440532013000".into(),
                }]),
                pricing: types::PricingDto {
                    kind: "paid".into(),
                    currency: Some("EUR".into()),
                    monthly_fee: Some("499.00".into()),
                    included_requests: Some(100_000),
                    price_per_request: Some("0.0010".into()),
                    payment_grace_days: Some(14),
                },
                gates: Some(gates.map(String::from).to_vec()),
                integration_min_calls: Some(2),
                has_sandbox: None,
                submission_form: None,
                version: None,
                waive_separation_of_duties: None,
            },
        )
        .await
        .unwrap();

    // The developer: sign up, a workspace (owner, technical lead, billing), a sandbox project
    // subscribed to the plan, a sandbox key.
    let dev = signed_up(&app, "ada@acme.example").await;
    let ws = dev
        .create_workspace(&types::CreateWorkspaceRequest {
            name: typed("Acme"),
        })
        .await
        .unwrap();
    assert_eq!(ws.status(), StatusCode::CREATED);
    let me = my_id(&dev).await;
    dev.set_member_roles(
        &ws.id,
        &me,
        &types::SetRolesRequest {
            roles: vec![RoleName::Owner, RoleName::TechnicalLead, RoleName::Billing],
        },
    )
    .await
    .unwrap();
    let project = dev
        .create_project(
            &ws.id,
            &types::CreateProjectRequest {
                name: typed("Ledger sync"),
                purpose: typed("Nightly balance sync"),
                endpoints: Some(vec![typed("GET /accounts")]),
                events: None,
            },
        )
        .await
        .unwrap();
    let sub = dev
        .create_subscription(
            &project.id,
            &types::SubscribeRequest {
                plan_id: typed(&plan.id),
            },
        )
        .await
        .unwrap()
        .into_inner();
    let key = dev
        .create_credential(
            &sub.id,
            &types::CreateCredentialRequest {
                environment: types::EnvironmentName::Sandbox,
                kind: None,
                name: typed("CI"),
            },
        )
        .await
        .unwrap();
    assert_eq!(key.headers()["cache-control"], "no-store");
    let secret = key.into_inner().secret;

    // Test data shows once sandbox access is granted (open plan: at once).
    let view = dev.get_subscription(&sub.id).await.unwrap();
    assert!(view.headers().contains_key("etag"));
    assert_eq!(view.test_data[0].name, "iban");

    // Integration verification: successful calls on the plan's endpoint.
    for _ in 0..2 {
        assert!(verify_key(&app, &secret).await.valid);
    }
    app.server.flush_usage().await;

    // A colleague for separation of duties, named security owner and audit contact; the
    // developer is billing owner.
    let invitation = dev
        .create_invitation(
            &ws.id,
            &types::InviteRequest {
                email: typed("sec@acme.example"),
                roles: vec![RoleName::SecurityOwner, RoleName::Compliance],
                expires_in_days: None,
            },
        )
        .await
        .unwrap();
    let colleague = signed_up(&app, "sec@acme.example").await;
    colleague.accept_invitation(&invitation.id).await.unwrap();
    let colleague_id = my_id(&colleague).await;
    for (what, who) in [
        ("billing_owner", &me),
        ("security_owner", &colleague_id),
        ("audit_contact", &colleague_id),
    ] {
        let named = types::NameResponsibleRequest {
            account_id: Some(typed(who)),
        };
        dev.name_responsible(&ws.id, what, &named).await.unwrap();
    }

    // Submit the answers the plan's form asks for.
    let form = dev
        .get_subscription(&sub.id)
        .await
        .unwrap()
        .into_inner()
        .form;
    let all = answers();
    let answers: serde_json::Map<String, Value> = form
        .into_iter()
        .flat_map(|f| f.steps)
        .flat_map(|s| s.fields)
        .map(|f| {
            let v = all.get(&f.key).cloned().unwrap_or(json!("n/a"));
            (f.key, v)
        })
        .collect();
    let submitted = dev
        .submit_subscription(
            &sub.id,
            None,
            &types::SubmitRequest {
                answers: Some(answers),
                version: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(submitted.phase, "in_review");

    // The go-live queue names the remaining gate: consent handling needs a sign-off.
    let queue = admin.list_review_queue(None, None).await.unwrap();
    assert_eq!(queue.items[0].subscription_id, sub.id);
    assert_eq!(
        queue.items[0].gates.remaining_gate.as_deref(),
        Some("consent_handling")
    );
    admin
        .sign_off_gate(&sub.id, "consent_handling")
        .await
        .unwrap();
    let approved = admin
        .approve_subscription(
            &sub.id,
            None,
            &types::TransitionRequest {
                version: None,
                notes: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(approved.phase, "production");

    // Paid plan: production credentials wait for payment (and a production project).
    let clone = dev.clone_to_production(&sub.id).await.unwrap();
    assert_eq!(clone.status(), StatusCode::CREATED);
    let live = types::CreateCredentialRequest {
        environment: types::EnvironmentName::Production,
        kind: None,
        name: typed("Live"),
    };
    let locked = dev.create_credential(&sub.id, &live).await.unwrap_err();
    let (status, problem) = refusal(locked).await;
    assert_eq!(status, 409, "{problem}");
    assert_eq!(
        problem["type"],
        "https://onboarding-portal.dev/problems/locked"
    );
    assert_eq!(problem["code"], "payment_required");
    let paid = admin
        .confirm_payment(
            &sub.id,
            &types::ConfirmPaymentRequest {
                amount: typed("499.00"),
                currency: typed("EUR"),
                reference: "INV-1".into(),
            },
        )
        .await
        .unwrap();
    assert_eq!(paid.status(), StatusCode::CREATED);
    let prod = dev.create_credential(&sub.id, &live).await.unwrap();
    assert!(
        prod.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with("/api/v1/credentials/cred_")
    );
    let prod = prod.into_inner();
    assert!(prod.secret.starts_with("sk_prod_"));
    let v = verify_key(&app, &prod.secret).await;
    assert!(v.valid);
    assert_eq!(v.environment.as_deref(), Some("production"));

    // Reading the credential never shows the secret.
    let got = dev.get_credential(&prod.credential.id).await.unwrap();
    let shown = serde_json::to_string(&*got).unwrap();
    assert!(!shown.contains(&prod.secret));
    app.stop().await;
}
