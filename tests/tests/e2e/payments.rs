//! Issue 22 end to end: a paid plan's production credentials unlock when the partner pays
//! through Stripe Checkout (the adapter against a local server that speaks Stripe's
//! endpoints and signs its events as Stripe documents), or when an admin records a payment
//! that matches the invoice (manual payments). Either way the invoice reads paid, the audit
//! log records the payment and a `payment.confirmed` webhook event is queued.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use hmac::{Hmac, KeyInit, Mac};
use poem::listener::{Acceptor, Listener, TcpListener};
use poem::web::{Data, Form, Path};
use poem::{EndpointExt, Route, Server, handler};
use portal_server::payments::{Payments, PaymentsConfig};
use sha2::Sha256;

use super::*;

const API_KEY: &str = "sk_test_e2e_0123456789";
const WEBHOOK_SECRET: &str = "whsec_e2e_0123456789";

/// What the local Stripe remembers.
#[derive(Default)]
struct Stripe {
    base: String,
    portal: String,
    /// Idempotency-Key → session id.
    keys: HashMap<String, String>,
    /// Session id → the form it was created with.
    sessions: HashMap<String, HashMap<String, String>>,
    /// Events delivered, by id (for replays).
    events: HashMap<String, String>,
}

type Shared = Arc<Mutex<Stripe>>;

/// `POST /v1/checkout/sessions`, as Stripe answers it (the fields the adapter reads).
#[handler]
fn create_session(
    req: &poem::Request,
    Form(form): Form<Vec<(String, String)>>,
    Data(s): Data<&Shared>,
) -> poem::Response {
    let auth = req.header("authorization").unwrap_or_default();
    if auth != format!("Bearer {API_KEY}") {
        return poem::Response::builder()
            .status(StatusCode::UNAUTHORIZED)
            .finish();
    }
    let Some(key) = req.header("idempotency-key").map(str::to_owned) else {
        return poem::Response::builder()
            .status(StatusCode::BAD_REQUEST)
            .finish();
    };
    let form: HashMap<String, String> = form.into_iter().collect();
    let mut st = s.lock().unwrap();
    let id = match st.keys.get(&key) {
        Some(id) => id.clone(),
        None => {
            let id = format!("cs_test_{}", st.sessions.len() + 1);
            st.keys.insert(key, id.clone());
            st.sessions.insert(id.clone(), form);
            id
        }
    };
    let body = json!({
        "id": id, "object": "checkout.session", "mode": "payment", "status": "open",
        "url": format!("{}/pay/{id}", st.base),
    });
    poem::Response::builder()
        .content_type("application/json")
        .body(body.to_string())
}

/// Stripe's `Stripe-Signature`: HMAC-SHA256 over `"{t}.{payload}"`, hex, as `t=…,v1=…`.
fn signature(payload: &str, t: i64) -> String {
    let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(WEBHOOK_SECRET.as_bytes()).unwrap();
    m.update(format!("{t}.{payload}").as_bytes());
    format!("t={t},v1={}", hex::encode(m.finalize().into_bytes()))
}

async fn deliver(s: &Shared, event_id: &str) -> (u16, String) {
    let (portal, payload) = {
        let st = s.lock().unwrap();
        (st.portal.clone(), st.events[event_id].clone())
    };
    let r = Client::new()
        .post(format!("{portal}/api/stripe/events"))
        .header("content-type", "application/json")
        .header(
            "stripe-signature",
            signature(&payload, Utc::now().timestamp()),
        )
        .body(payload)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// The customer pays on the hosted page: Stripe posts `checkout.session.completed`.
#[handler]
async fn customer_pays(Path(id): Path<String>, Data(s): Data<&Shared>) -> poem::Response {
    let event_id = format!("evt_paid_{id}");
    {
        let mut st = s.lock().unwrap();
        let f = st.sessions[&id].clone();
        let event = json!({
            "id": event_id, "object": "event", "type": "checkout.session.completed",
            "api_version": "2024-06-20", "created": Utc::now().timestamp(),
            "data": {"object": {
                "id": id, "object": "checkout.session", "mode": "payment",
                "status": "complete", "payment_status": "paid",
                "amount_total": f["line_items[0][price_data][unit_amount]"].parse::<i64>().unwrap(),
                "currency": f["line_items[0][price_data][currency]"],
                "client_reference_id": f["client_reference_id"],
                "metadata": {"invoice_id": f["metadata[invoice_id]"]},
                "payment_intent": format!("pi_{id}"),
            }}
        });
        st.events.insert(event_id.clone(), event.to_string());
    }
    let (status, text) = deliver(s, &event_id).await;
    poem::Response::builder()
        .status(StatusCode::from_u16(status).unwrap())
        .body(text)
}

async fn start_stripe() -> Shared {
    let s: Shared = Arc::default();
    let acceptor = TcpListener::bind("127.0.0.1:0")
        .into_acceptor()
        .await
        .unwrap();
    let addr = acceptor.local_addr()[0].as_socket_addr().copied().unwrap();
    s.lock().unwrap().base = format!("http://{addr}");
    let app = Route::new()
        .at("/v1/checkout/sessions", poem::post(create_session))
        .at("/pay/:id", poem::get(customer_pays))
        .data(s.clone());
    tokio::spawn(Server::new_with_acceptor(acceptor).run(app));
    s
}

/// A partner approved on a paid plan and cloned to production: its production credential
/// is locked for payment; answers the onboarded partner and the up-front invoice.
async fn approved_and_locked(app: &TestApp, email: &str) -> (Onboarded, Value) {
    let plan = app.plan(json!(["declared_use_case"]), true, 0).await;
    let (o, _) = onboard(app, email, &plan).await;
    submit(&o).await;
    let s = app
        .admin
        .ok(
            &format!("/api/v1/subscriptions/{}/approve", o.sub),
            json!({}),
        )
        .await;
    assert_eq!(s["phase"], "production");
    o.dev
        .ok(
            &format!("/api/v1/subscriptions/{}/clone-to-production", o.sub),
            json!({}),
        )
        .await;
    let r = create_live(&o).await;
    problem(&r, "locked", 409);
    assert_eq!(r.body["code"], "payment_required");
    let invoices = o
        .dev
        .get(&format!("/api/v1/workspaces/{}/invoices", o.ws))
        .await;
    assert_eq!(invoices.status, StatusCode::OK, "{}", invoices.body);
    let invoices = invoices.body.as_array().unwrap().clone();
    assert_eq!(invoices.len(), 1, "{invoices:?}");
    let inv = invoices[0].clone();
    assert_eq!(inv["kind"], "up_front");
    assert_eq!(inv["state"], "open");
    assert_eq!(
        (inv["amount_due"].as_str(), inv["currency"].as_str()),
        (Some("499.00"), Some("EUR"))
    );
    assert_eq!(inv["lines"][0]["plan_name"], "Business");
    (o, inv)
}

async fn create_live(o: &Onboarded) -> Resp {
    o.dev
        .post(
            &format!("/api/v1/subscriptions/{}/credentials", o.sub),
            json!({"environment": "production", "name": "Live"}),
        )
        .await
}

/// The invoice reads paid, the audit log and the webhook outbox record the payment.
async fn paid_and_recorded(app: &TestApp, o: &Onboarded, invoice: &str, by: &str) {
    let r = create_live(o).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let detail = o.dev.get(&format!("/api/v1/invoices/{invoice}")).await.body;
    assert_eq!(detail["invoice"]["state"], "paid", "{detail}");
    assert_eq!(detail["invoice"]["amount_due"], "0.00", "{detail}");
    let last = detail["payments"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert!(
        last["confirmed_by"].as_str().unwrap().starts_with(by),
        "{last}"
    );
    let events = o
        .dev
        .get(&format!(
            "/api/v1/workspaces/{}/audit-events?limit=500",
            o.ws
        ))
        .await
        .body;
    let recorded: Vec<&Value> = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "payment.recorded")
        .collect();
    assert!(!recorded.is_empty(), "{events}");
    assert_eq!(recorded.last().unwrap()["details"]["invoice_state"], "paid");
    let db = sea_orm::Database::connect(&app.database_url).await.unwrap();
    use sea_orm::ConnectionTrait;
    let rows = db
        .query_all_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            format!(
                "SELECT event_type FROM outbox_message WHERE workspace_id = '{}'",
                o.ws
            ),
        ))
        .await
        .unwrap();
    let types: Vec<String> = rows
        .iter()
        .map(|r| r.try_get_by_index::<String>(0).unwrap())
        .collect();
    for t in ["invoice.issued", "payment.confirmed", "invoice.paid"] {
        assert!(types.iter().any(|x| x == t), "{t} in {types:?}");
    }
    db.close().await.ok();
}

#[tokio::test]
async fn the_partner_pays_through_stripe_checkout_and_production_unlocks() {
    let stripe = start_stripe().await;
    let api_base = stripe.lock().unwrap().base.clone();
    let app = spawn_app_with(|c| {
        c.payments = Payments {
            processor: PaymentsConfig::Stripe {
                api_base,
                api_key: payments_stripe::Secret::new(API_KEY),
                webhook_secrets: vec![
                    payments_stripe::Secret::new("whsec_new_not_yet_used"),
                    payments_stripe::Secret::new(WEBHOOK_SECRET),
                ],
            },
            instructions: None,
        }
    })
    .await;
    stripe.lock().unwrap().portal = app.base.clone();
    let (o, inv) = approved_and_locked(&app, "pay@acme.example").await;
    let id = inv["id"].as_str().unwrap().to_owned();

    let detail = o.dev.get(&format!("/api/v1/invoices/{id}")).await.body;
    assert_eq!(detail["payment_method"]["kind"], "checkout");
    assert_eq!(detail["can_pay"], true);
    // Pay: a Checkout Session for the invoice's amount in minor units, and the same one again
    // when the partner presses twice (the idempotency key).
    let a = o
        .dev
        .ok(&format!("/api/v1/invoices/{id}/checkout"), json!({}))
        .await;
    let b = o
        .dev
        .ok(&format!("/api/v1/invoices/{id}/checkout"), json!({}))
        .await;
    assert_eq!(a["session_id"], b["session_id"]);
    let session = a["session_id"].as_str().unwrap().to_owned();
    {
        let st = stripe.lock().unwrap();
        let f = &st.sessions[&session];
        assert_eq!(f["line_items[0][price_data][unit_amount]"], "49900");
        assert_eq!(f["line_items[0][price_data][currency]"], "eur");
        assert_eq!(f["metadata[invoice_id]"], id);
        assert_eq!(f["mode"], "payment");
        assert!(f["success_url"].starts_with("http"), "{f:?}");
    }
    let card = o
        .dev
        .get(&format!("/subscriptions/{}", o.sub))
        .await
        .body
        .to_string();
    assert!(card.contains("Pay 499.00 EUR"), "{card}");
    // The customer pays; Stripe posts the signed event; the portal applies it.
    let paid = Client::new()
        .get(a["url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(paid.status(), StatusCode::OK);
    assert_eq!(paid.text().await.unwrap(), "applied");
    paid_and_recorded(&app, &o, &id, "system").await;

    // The same event again (Stripe retries): acknowledged, applied once.
    assert_eq!(
        deliver(&stripe, &format!("evt_paid_{session}")).await,
        (200, "already applied".to_owned())
    );
    let detail = o.dev.get(&format!("/api/v1/invoices/{id}")).await.body;
    assert_eq!(detail["payments"].as_array().unwrap().len(), 1);
    // A forged event (wrong secret) is refused and changes nothing.
    let forged =
        json!({"id": "evt_forged", "type": "charge.refunded", "data": {"object": {}}}).to_string();
    let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(b"whsec_wrong").unwrap();
    let t = Utc::now().timestamp();
    m.update(format!("{t}.{forged}").as_bytes());
    let r = Client::new()
        .post(format!("{}/api/stripe/events", app.base))
        .header(
            "stripe-signature",
            format!("t={t},v1={}", hex::encode(m.finalize().into_bytes())),
        )
        .body(forged)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    app.stop().await;
}

#[tokio::test]
async fn an_admin_records_a_matching_payment_and_production_unlocks() {
    let app = spawn_app_with(|c| {
        c.payments.instructions =
            Some("IBAN DE89 3704 0044 0532 0130 00, quote the reference".into());
    })
    .await;
    let (o, inv) = approved_and_locked(&app, "manual@acme.example").await;
    let id = inv["id"].as_str().unwrap().to_owned();
    let detail = o.dev.get(&format!("/api/v1/invoices/{id}")).await.body;
    assert_eq!(detail["payment_method"]["kind"], "manual");
    assert!(
        detail["payment_method"]["instructions"]
            .as_str()
            .unwrap()
            .contains("IBAN")
    );
    assert_eq!(detail["can_pay"], false);
    // The pages say what is due, with the instructions, by project and plan.
    let card = o
        .dev
        .get(&format!("/subscriptions/{}", o.sub))
        .await
        .body
        .to_string();
    assert!(card.contains("499.00 EUR"), "{card}");
    assert!(card.contains("IBAN DE89"), "{card}");
    let reference = inv["reference"].as_str().unwrap();
    assert!(card.contains(reference), "{card}");
    let billing = o
        .dev
        .get(&format!("/workspaces/{}/billing", o.ws))
        .await
        .body
        .to_string();
    assert!(
        billing.contains(reference) && billing.contains("Business"),
        "{billing}"
    );
    let printable = o.dev.get(&format!("/invoices/{id}")).await.body.to_string();
    assert!(
        printable.contains("Ledger sync") && printable.contains("window.print()"),
        "{printable}"
    );
    let r = o
        .dev
        .post(&format!("/api/v1/invoices/{id}/checkout"), json!({}))
        .await;
    problem(&r, "refused", 409);
    assert_eq!(r.body["code"], "no_checkout");

    let pay = |amount: &str, currency: &str| json!({"amount": amount, "currency": currency, "reference": "TR-2026-12-07"});
    let path = format!("/api/v1/invoices/{id}/payments");
    // Another currency, or more than is due, names the field and records nothing.
    let r = app.admin.post(&path, pay("499.00", "USD")).await;
    problem(&r, "validation", 422);
    assert!(r.body.to_string().contains("currency"), "{}", r.body);
    let r = app.admin.post(&path, pay("499.01", "EUR")).await;
    problem(&r, "validation", 422);
    // The partner cannot record a payment.
    let r = o.dev.post(&path, pay("499.00", "EUR")).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    // A partial payment leaves it open and locked.
    let part = app.admin.ok(&path, pay("100.00", "EUR")).await;
    assert_eq!(part["invoice"]["state"], "open");
    assert_eq!(part["invoice"]["amount_due"], "399.00");
    problem(&create_live(&o).await, "locked", 409);
    let rest = app.admin.ok(&path, pay("399.00", "EUR")).await;
    assert_eq!(rest["invoice"]["state"], "paid");
    paid_and_recorded(&app, &o, &id, "staff_").await;
    let open = app
        .admin
        .get("/api/v1/staff/invoices?state=paid")
        .await
        .body;
    assert!(
        open.as_array()
            .unwrap()
            .iter()
            .any(|i| i["id"] == id.as_str()),
        "{open}"
    );
    app.stop().await;
}
