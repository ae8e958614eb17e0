//! Webhooks end to end: a local receiver on 127.0.0.1:0 (allowed by the server's configuration,
//! or not, for the SSRF case), the real server's worker stepped one pass at a time
//! (`run_webhooks_once`) on the steppable clock: nothing sleeps.

use std::sync::{Arc, Mutex};

use onboarding_core::ports::Clock;
use poem::listener::{Acceptor, Listener, TcpListener};
use poem::web::Data;
use poem::{EndpointExt, Response, Route, Server, handler, http::HeaderMap, post};

use super::*;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Reply {
    /// 200; a verification challenge is echoed as `{"challenge": ...}`.
    Echo,
    /// 500 to everything.
    Fail,
}

#[derive(Clone, Debug)]
struct Received {
    headers: HeaderMap,
    body: String,
}

impl Received {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap()
    }
    fn event_type(&self) -> String {
        self.json()["type"].as_str().unwrap_or_default().to_owned()
    }
    fn header(&self, name: &str) -> String {
        self.headers[name].to_str().unwrap().to_owned()
    }
}

#[derive(Clone)]
struct Receiver {
    received: Arc<Mutex<Vec<Received>>>,
    reply: Arc<Mutex<Reply>>,
    url: String,
}

impl Receiver {
    fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
    fn of_type(&self, t: &str) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|r| r.event_type() == t)
            .collect()
    }
    fn reply(&self, r: Reply) {
        *self.reply.lock().unwrap() = r;
    }
}

#[handler]
async fn hook(req: &poem::Request, body: String, Data(rx): Data<&Receiver>) -> Response {
    rx.received.lock().unwrap().push(Received {
        headers: req.headers().clone(),
        body: body.clone(),
    });
    match *rx.reply.lock().unwrap() {
        Reply::Fail => Response::builder()
            .status(poem::http::StatusCode::INTERNAL_SERVER_ERROR)
            .finish(),
        Reply::Echo => {
            let v: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
            let challenge = v["data"]["challenge"].as_str().unwrap_or_default();
            Response::builder()
                .content_type("application/json")
                .body(json!({ "challenge": challenge }).to_string())
        }
    }
}

async fn receiver() -> Receiver {
    let acceptor = TcpListener::bind("127.0.0.1:0")
        .into_acceptor()
        .await
        .unwrap();
    let port = acceptor.local_addr()[0].as_socket_addr().unwrap().port();
    let rx = Receiver {
        received: Arc::default(),
        reply: Arc::new(Mutex::new(Reply::Echo)),
        url: format!("http://127.0.0.1:{port}/hook"),
    };
    let app = Route::new().at("/hook", post(hook)).data(rx.clone());
    tokio::spawn(Server::new_with_acceptor(acceptor).run(app));
    rx
}

async fn allowed_app() -> TestApp {
    spawn_app_with(|c| c.webhook_allowed_cidrs = vec!["127.0.0.1/32".into()]).await
}

impl TestApp {
    /// One worker pass; everything due at the clock's time is settled when it returns.
    async fn deliver(&self) {
        self.server.run_webhooks_once().await.expect("webhook pass");
    }
}

/// Registers an endpoint for the project of the subscription; answers (endpoint id, secret).
async fn register(dev: &User, project: &str, url: &str, events: Value) -> (String, String) {
    let r = dev
        .post(
            &format!("/api/v1/projects/{project}/webhook-endpoints"),
            json!({ "url": url, "events": events }),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let id = r.body["endpoint"]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        r.headers["location"].to_str().unwrap(),
        format!("/api/v1/webhook-endpoints/{id}")
    );
    assert_eq!(r.body["endpoint"]["status"], "pending");
    let secret = r.body["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"), "{secret}");
    // Shown once: reading the endpoint never shows it.
    let got = dev.get(&format!("/api/v1/webhook-endpoints/{id}")).await;
    assert_eq!(got.status, StatusCode::OK, "{}", got.body);
    assert!(!got.body.to_string().contains(&secret[6..]));
    (id, secret)
}

async fn project_of(o: &Onboarded) -> String {
    let view = o.dev.get(&format!("/api/v1/subscriptions/{}", o.sub)).await;
    view.body["subscription"]["project_id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn deliveries(dev: &User, endpoint: &str) -> Vec<Value> {
    let r = dev
        .get(&format!("/api/v1/webhook-endpoints/{endpoint}/deliveries"))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.body["items"].as_array().unwrap().clone()
}

fn of_type<'a>(ds: &'a [Value], t: &str) -> Vec<&'a Value> {
    ds.iter().filter(|d| d["event_type"] == t).collect()
}

async fn webhook_gate(o: &Onboarded) -> String {
    let view = o.dev.get(&format!("/api/v1/subscriptions/{}", o.sub)).await;
    view.body["gates"]["gates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["gate"] == "webhook_verification")
        .map(|g| g["state"].as_str().unwrap().to_owned())
        .expect("the plan has the webhook gate")
}

fn verify_signed(r: &Received, secret: &str) {
    let wh = standardwebhooks::Webhook::new(secret).unwrap();
    wh.verify(r.body.as_bytes(), &r.headers)
        .unwrap_or_else(|e| panic!("{} does not verify: {e:?}", r.event_type()));
    assert!(r.header("webhook-id").starts_with("msg_"));
}

/// The demo's paid plan, unmodified (it has the webhook verification gate).
async fn demo_paid_plan(app: &TestApp) -> String {
    portal_server::seed_demo(&app.server.wiring.portal)
        .await
        .unwrap();
    let plans = app.admin.get("/api/v1/plans?limit=200").await.body;
    let plan = plans["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "Standard")
        .expect("the demo's paid plan")
        .clone();
    assert!(
        plan["gates"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g == "webhook_verification"),
        "{plan}"
    );
    plan["id"].as_str().unwrap().to_owned()
}

/// A developer (owner, technical lead, billing) with a sandbox project on the plan's first
/// endpoint, subscribed, with a sandbox credential (its secret returned).
async fn onboard_on(
    app: &TestApp,
    email: &str,
    plan: &str,
    endpoint: &str,
) -> (Onboarded, String, String) {
    let dev = app.developer(email).await;
    let ws = dev.ok("/api/v1/workspaces", json!({"name": "Acme"})).await;
    let ws = ws["id"].as_str().unwrap().to_owned();
    let me = dev.get("/api/v1/me").await.body;
    let me_id = me["account"]["id"].as_str().unwrap().to_owned();
    let r = dev
        .put(
            &format!("/api/v1/workspaces/{ws}/members/{me_id}/roles"),
            json!({"roles": ["owner", "technical_lead", "billing"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let project = dev
        .ok(
            &format!("/api/v1/workspaces/{ws}/projects"),
            json!({"name": "Ledger sync", "purpose": "Nightly balance sync", "endpoints": [endpoint]}),
        )
        .await;
    let project = project["id"].as_str().unwrap().to_owned();
    let sub = dev
        .ok(
            &format!("/api/v1/projects/{project}/subscriptions"),
            json!({"plan_id": plan}),
        )
        .await;
    let sub = sub["id"].as_str().unwrap().to_owned();
    let cred = dev
        .ok(
            &format!("/api/v1/subscriptions/{sub}/credentials"),
            json!({"environment": "sandbox", "name": "CI"}),
        )
        .await;
    let secret = cred["secret"].as_str().unwrap().to_owned();
    (Onboarded { dev, ws, sub }, secret, project)
}

#[tokio::test]
async fn endpoints_verify_receive_signed_pipeline_events_and_pass_the_webhook_gate() {
    let app = allowed_app().await;
    let rx = receiver().await;
    let plan = demo_paid_plan(&app).await;
    let (o, key, project) = onboard_on(&app, "hook@acme.example", &plan, "GET /v1/accounts").await;
    assert_eq!(webhook_gate(&o).await, "pending");
    // Events raised before the endpoint existed are fanned out (to nobody) first.
    app.deliver().await;

    // Register: the verification challenge goes out and comes back echoed.
    let (ep, secret) = register(&o.dev, &project, &rx.url, json!(["subscription.*"])).await;
    app.deliver().await;
    let challenge = rx.of_type("endpoint.verification");
    assert_eq!(challenge.len(), 1, "{:?}", rx.received());
    verify_signed(&challenge[0], &secret);
    let got = o.dev.get(&format!("/api/v1/webhook-endpoints/{ep}")).await;
    assert_eq!(got.body["status"], "verified", "{}", got.body);
    assert!(got.headers.contains_key("etag"));
    let listed = o
        .dev
        .get(&format!("/api/v1/projects/{project}/webhook-endpoints"))
        .await;
    assert_eq!(
        listed.body["items"][0]["id"],
        ep.as_str(),
        "{}",
        listed.body
    );

    // "Send test event": a signed `test` delivery; the gate passes once it succeeded.
    let t = o
        .dev
        .post(&format!("/api/v1/webhook-endpoints/{ep}/test"), json!({}))
        .await;
    assert_eq!(t.status, StatusCode::ACCEPTED, "{}", t.body);
    assert_eq!(webhook_gate(&o).await, "pending", "not delivered yet");
    app.deliver().await;
    let test = rx.of_type("test");
    assert_eq!(test.len(), 1);
    verify_signed(&test[0], &secret);
    assert_eq!(
        test[0].header("webhook-id"),
        t.body["message_id"].as_str().unwrap()
    );
    let ds = deliveries(&o.dev, &ep).await;
    let td = of_type(&ds, "test");
    assert_eq!(
        (td[0]["status"].as_str(), td[0]["attempts"].as_u64()),
        (Some("succeeded"), Some(1))
    );
    let one = o
        .dev
        .get(&format!(
            "/api/v1/webhook-deliveries/{}",
            td[0]["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(one.body["last_response_status"], 200, "{}", one.body);
    assert_eq!(webhook_gate(&o).await, "passed");
    let health = o
        .dev
        .get(&format!("/api/v1/webhook-endpoints/{ep}/health"))
        .await;
    assert_eq!(health.body["success_rate"], 1.0, "{}", health.body);

    // The pipeline to production, as in the happy path, on the demo plan.
    for _ in 0..25 {
        assert_eq!(verify(&app, &key, "GET /v1/accounts").await["valid"], true);
    }
    app.server.flush_usage().await;
    name_responsibles(&app, &o, "sec@hook.example").await;
    let answers = typed_answers(&o).await;
    let s = o
        .dev
        .ok(
            &format!("/api/v1/subscriptions/{}/submit", o.sub),
            json!({ "answers": answers }),
        )
        .await;
    assert_eq!(s["phase"], "in_review");
    app.deliver().await;
    let submitted = rx.of_type("subscription.submitted");
    assert_eq!(submitted.len(), 1, "{:?}", rx.received());
    verify_signed(&submitted[0], &secret);
    assert_eq!(
        submitted[0].json()["data"]["subscription_id"],
        o.sub.as_str()
    );

    app.admin
        .ok(
            &format!(
                "/api/v1/subscriptions/{}/gates/consent_handling/sign-off",
                o.sub
            ),
            json!({}),
        )
        .await;
    let approved = app
        .admin
        .post(
            &format!("/api/v1/subscriptions/{}/approve", o.sub),
            json!({}),
        )
        .await;
    assert_eq!(approved.status, StatusCode::OK, "{}", approved.body);
    assert_eq!(approved.body["phase"], "production");
    app.deliver().await;
    let approved = rx.of_type("subscription.approved");
    assert_eq!(approved.len(), 1);
    verify_signed(&approved[0], &secret);
    // Not subscribed to credential events: none arrived.
    assert!(
        rx.received()
            .iter()
            .all(|r| !r.event_type().starts_with("credential."))
    );
    app.stop().await;
}

#[tokio::test]
async fn a_failing_receiver_is_retried_on_schedule_and_a_failed_test_by_hand() {
    let app = allowed_app().await;
    let rx = receiver().await;
    let plan = app.plan(json!(["declared_use_case"]), false, 0).await;
    let (o, _) = onboard(&app, "retry@acme.example", &plan).await;
    let project = project_of(&o).await;
    app.deliver().await;
    let (ep, secret) = register(&o.dev, &project, &rx.url, json!([])).await;
    app.deliver().await;
    assert_eq!(rx.of_type("endpoint.verification").len(), 1);

    // The receiver starts failing: the submitted event fails and is scheduled again.
    rx.reply(Reply::Fail);
    submit(&o).await;
    app.deliver().await;
    let first = rx.of_type("subscription.submitted");
    assert_eq!(first.len(), 1);
    let ds = deliveries(&o.dev, &ep).await;
    let d = of_type(&ds, "subscription.submitted")[0].clone();
    assert_eq!(d["status"], "pending", "{d}");
    assert_eq!(d["attempts"], 1);
    assert_eq!(d["last_response_status"], 500);
    let next: chrono::DateTime<Utc> = d["next_attempt_at"].as_str().unwrap().parse().unwrap();
    assert!(next > app.clock.now(), "retried later, not at once");

    // Not due yet: another pass sends nothing.
    app.deliver().await;
    assert_eq!(rx.of_type("subscription.submitted").len(), 1);

    // The clock reaches the retry: the second attempt, same webhook-id, succeeds.
    rx.reply(Reply::Echo);
    app.clock
        .advance(next - app.clock.now() + TimeDelta::seconds(1));
    app.deliver().await;
    let again = rx.of_type("subscription.submitted");
    assert_eq!(again.len(), 2);
    assert_eq!(again[0].header("webhook-id"), again[1].header("webhook-id"));
    verify_signed(&again[1], &secret);
    let d = o
        .dev
        .get(&format!(
            "/api/v1/webhook-deliveries/{}",
            d["id"].as_str().unwrap()
        ))
        .await
        .body;
    assert_eq!(
        (d["status"].as_str(), d["attempts"].as_u64()),
        (Some("succeeded"), Some(2))
    );

    // A test event is attempted once; a failed one is retried by hand.
    rx.reply(Reply::Fail);
    o.dev
        .ok(&format!("/api/v1/webhook-endpoints/{ep}/test"), json!({}))
        .await;
    app.deliver().await;
    let ds = deliveries(&o.dev, &ep).await;
    let t = of_type(&ds, "test")[0].clone();
    assert_eq!(t["status"], "failed", "{t}");
    rx.reply(Reply::Echo);
    let retried = o
        .dev
        .post(
            &format!(
                "/api/v1/webhook-deliveries/{}/retry",
                t["id"].as_str().unwrap()
            ),
            json!({}),
        )
        .await;
    assert_eq!(retried.status, StatusCode::OK, "{}", retried.body);
    assert_eq!(retried.body["status"], "pending");
    app.deliver().await;
    assert_eq!(rx.of_type("test").len(), 2);
    let again = o
        .dev
        .post(
            &format!(
                "/api/v1/webhook-deliveries/{}/retry",
                t["id"].as_str().unwrap()
            ),
            json!({}),
        )
        .await;
    problem(&again, "conflict", 409);
    let health = o
        .dev
        .get(&format!("/api/v1/webhook-endpoints/{ep}/health"))
        .await
        .body;
    assert_eq!(health["attempts"], 5, "{health}");
    assert_eq!(health["successes"], 3, "{health}");
    app.stop().await;
}

#[tokio::test]
async fn without_the_allow_setting_loopback_never_receives_a_byte() {
    let app = spawn_app().await;
    let rx = receiver().await;
    let plan = app.plan(json!(["declared_use_case"]), false, 0).await;
    let (o, _) = onboard(&app, "ssrf@acme.example", &plan).await;
    let project = project_of(&o).await;
    app.deliver().await;
    // A literal loopback address is refused when it is saved; a name is resolved (and
    // refused) only at delivery, since what it resolves to can change.
    let by_name = rx.url.replace("127.0.0.1", "localhost");
    let (ep, _) = register(&o.dev, &project, &by_name, json!([])).await;
    app.deliver().await;
    o.dev
        .ok(&format!("/api/v1/webhook-endpoints/{ep}/test"), json!({}))
        .await;
    app.deliver().await;
    assert!(rx.received().is_empty(), "{:?}", rx.received());
    let ds = deliveries(&o.dev, &ep).await;
    assert_eq!(ds.len(), 2, "{ds:?}");
    for d in &ds {
        assert_eq!(d["status"], "failed", "{d}");
        assert_eq!(d["last_response_status"], Value::Null);
        let err = d["last_error"].as_str().unwrap();
        assert!(err.contains("refused") && err.contains("loopback"), "{err}");
    }
    let got = o.dev.get(&format!("/api/v1/webhook-endpoints/{ep}")).await;
    assert_eq!(got.body["status"], "pending");
    assert_eq!(webhook_gate_or_none(&o).await, None);
    app.stop().await;
}

/// The webhook gate's state, when the plan has it.
async fn webhook_gate_or_none(o: &Onboarded) -> Option<String> {
    let view = o.dev.get(&format!("/api/v1/subscriptions/{}", o.sub)).await;
    view.body["gates"]["gates"]
        .as_array()?
        .iter()
        .find(|g| g["gate"] == "webhook_verification")
        .map(|g| g["state"].as_str().unwrap().to_owned())
}

/// Answers of the right kind for every field of the plan's form (the demo plan's form has
/// URLs, e-mails, options and a checkbox).
async fn typed_answers(o: &Onboarded) -> Value {
    let view = o
        .dev
        .get(&format!("/api/v1/subscriptions/{}", o.sub))
        .await
        .body;
    let texts = answers();
    let mut out = serde_json::Map::new();
    for step in view["form"]["steps"].as_array().into_iter().flatten() {
        for f in step["fields"].as_array().into_iter().flatten() {
            let key = f["key"].as_str().unwrap();
            let first = f["options"][0].clone();
            let v = match f["kind"].as_str().unwrap() {
                "url" => json!("https://acme.example/privacy"),
                "email" => json!("privacy@acme.example"),
                "select" => first,
                "multiselect" => json!([first]),
                "checkbox" => json!(true),
                _ => texts
                    .get(key)
                    .cloned()
                    .unwrap_or(json!("Nightly balance sync")),
            };
            out.insert(key.into(), v);
        }
    }
    Value::Object(out)
}

/// A receiver on IPv6 loopback.
async fn receiver_v6() -> Receiver {
    let acceptor = TcpListener::bind("[::1]:0").into_acceptor().await.unwrap();
    let port = acceptor.local_addr()[0].as_socket_addr().unwrap().port();
    let rx = Receiver {
        received: Arc::default(),
        reply: Arc::new(Mutex::new(Reply::Echo)),
        url: format!("http://[::1]:{port}/hook"),
    };
    let app = Route::new().at("/hook", post(hook)).data(rx.clone());
    tokio::spawn(Server::new_with_acceptor(acceptor).run(app));
    rx
}

#[tokio::test]
async fn literal_addresses_deliveries_cannot_reach_are_refused_naming_url() {
    let app = spawn_app().await;
    let plan = app.plan(json!(["declared_use_case"]), false, 0).await;
    let (o, _) = onboard(&app, "literal@acme.example", &plan).await;
    let project = project_of(&o).await;
    let path = format!("/api/v1/projects/{project}/webhook-endpoints");
    for url in [
        "http://169.254.169.254/latest/meta-data",
        "http://127.0.0.1:9/hook",
        "http://0.0.0.0/hook",
        "http://[::1]/hook",
        "http://[fc00::1]/hook",
        "http://[fd12:3456::1]/hook",
        "http://[fe80::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://[::ffff:169.254.169.254]/hook",
    ] {
        let r = o.dev.post(&path, json!({ "url": url })).await;
        problem(&r, "validation", 422);
        assert_eq!(r.body["field"], "url", "{url}: {}", r.body);
        let detail = r.body["detail"].as_str().unwrap();
        assert!(!detail.contains("a unspecified"), "{detail}");
    }
    let listed = o.dev.get(&path).await.body;
    assert_eq!(listed["items"], json!([]), "nothing was saved: {listed}");

    // A public IPv6 literal is an address like any other.
    let (ep, _) = register(
        &o.dev,
        &project,
        "https://[2606:4700::1111]/hook",
        json!([]),
    )
    .await;
    // Updating to an unreachable literal is refused the same way, and changes nothing.
    let before = o
        .dev
        .get(&format!("/api/v1/webhook-endpoints/{ep}"))
        .await
        .body;
    let r = o
        .dev
        .send(
            Method::PATCH,
            &format!("/api/v1/webhook-endpoints/{ep}"),
            Some(json!({"url": "http://[::1]:8080/x"})),
            &[],
        )
        .await;
    problem(&r, "validation", 422);
    assert_eq!(r.body["field"], "url", "{}", r.body);
    let after = o
        .dev
        .get(&format!("/api/v1/webhook-endpoints/{ep}"))
        .await
        .body;
    assert_eq!(before, after);
    app.stop().await;
}

#[tokio::test]
async fn an_ipv6_endpoint_the_operator_allows_is_verified_over_ipv6() {
    let app = spawn_app_with(|c| c.webhook_allowed_cidrs = vec!["::1/128".into()]).await;
    let rx = receiver_v6().await;
    let plan = app.plan(json!(["declared_use_case"]), false, 0).await;
    let (o, _) = onboard(&app, "ipv6@acme.example", &plan).await;
    let project = project_of(&o).await;
    app.deliver().await;
    let (ep, secret) = register(&o.dev, &project, &rx.url, json!([])).await;
    app.deliver().await;
    let challenges = rx.of_type("endpoint.verification");
    assert_eq!(challenges.len(), 1, "{:?}", rx.received());
    verify_signed(&challenges[0], &secret);
    let got = o.dev.get(&format!("/api/v1/webhook-endpoints/{ep}")).await;
    assert_eq!(got.body["status"], "verified", "{}", got.body);
    app.stop().await;
}

/// A developer on a free plan with one gate, approved; the sandbox project's id.
async fn approved(app: &TestApp, email: &str) -> (Onboarded, String) {
    let plan = app.plan(json!(["declared_use_case"]), false, 0).await;
    let (o, _) = onboard(app, email, &plan).await;
    let project = project_of(&o).await;
    let s = submit(&o).await;
    assert_eq!(s["phase"], "in_review", "{s}");
    app.admin
        .ok(
            &format!("/api/v1/subscriptions/{}/approve", o.sub),
            json!({}),
        )
        .await;
    (o, project)
}

#[tokio::test]
async fn clone_refuses_a_plain_http_endpoint_naming_it_and_changes_nothing() {
    let app = spawn_app().await;
    let (o, sandbox) = approved(&app, "clonehttp@acme.example").await;
    let (good, _) = register(&o.dev, &sandbox, "https://hooks.acme.example/a", json!([])).await;
    let (bad, _) = register(&o.dev, &sandbox, "http://hooks.acme.example/b", json!([])).await;
    let clone = format!("/api/v1/subscriptions/{}/clone-to-production", o.sub);
    let r = o.dev.post(&clone, json!({})).await;
    problem(&r, "validation", 422);
    let field = format!("webhook_endpoints[{bad}].url");
    assert_eq!(r.body["field"], field.as_str(), "{}", r.body);
    assert!(!r.body.to_string().contains(&good), "{}", r.body);
    assert!(
        r.body["detail"].as_str().unwrap().contains("HTTPS"),
        "{}",
        r.body
    );
    let projects = o
        .dev
        .get(&format!("/api/v1/workspaces/{}/projects", o.ws))
        .await
        .body;
    assert_eq!(projects["items"].as_array().unwrap().len(), 1, "{projects}");

    // Once the endpoint uses HTTPS the clone goes through.
    let r = o
        .dev
        .send(
            Method::PATCH,
            &format!("/api/v1/webhook-endpoints/{bad}"),
            Some(json!({"url": "https://hooks.acme.example/b"})),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = o.dev.post(&clone, json!({})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    app.stop().await;
}

#[tokio::test]
async fn a_cloned_endpoints_signing_secret_is_shown_once_in_the_clones_answer() {
    let app = spawn_app().await;
    let (o, sandbox) = approved(&app, "clonesecret@acme.example").await;
    let url = "https://hooks.acme.example/portal";
    let (_, sandbox_secret) = register(&o.dev, &sandbox, url, json!([])).await;
    let clone = format!("/api/v1/subscriptions/{}/clone-to-production", o.sub);
    let once = [("Idempotency-Key", "clone-once")];
    let r = o
        .dev
        .send(Method::POST, &clone, Some(json!({})), &once)
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let production = r.body["id"].as_str().unwrap().to_owned();
    assert_eq!(r.body["environment"], "production");
    let cloned = r.body["webhook_endpoints"].as_array().unwrap();
    assert_eq!(cloned.len(), 1, "{}", r.body);
    assert_eq!(cloned[0]["endpoint"]["project_id"], production.as_str());
    assert_eq!(cloned[0]["endpoint"]["url"], url);
    assert_eq!(cloned[0]["endpoint"]["status"], "pending");
    let secret = cloned[0]["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"), "{secret}");
    assert_ne!(secret, sandbox_secret, "never the sandbox's secret");

    // Shown once: not on reads, not in a replay of the same request.
    let got = o.dev.get(&format!("/api/v1/projects/{production}")).await;
    assert_eq!(got.status, StatusCode::OK, "{}", got.body);
    let eps = o
        .dev
        .get(&format!("/api/v1/projects/{production}/webhook-endpoints"))
        .await;
    for body in [&got.body, &eps.body] {
        assert!(!body.to_string().contains(&secret[6..]), "{body}");
    }
    let replay = o
        .dev
        .send(Method::POST, &clone, Some(json!({})), &once)
        .await;
    assert_eq!(replay.status, StatusCode::CREATED, "{}", replay.body);
    assert_eq!(replay.headers["idempotent-replayed"], "true");
    assert!(
        !replay.body.to_string().contains(&secret[6..]),
        "{}",
        replay.body
    );
    assert_eq!(replay.body["id"], production.as_str());
    app.stop().await;
}
