//! The staff inbox over the real server (issue 20): a sandbox-access request, a submission in
//! review, one sent back with Changes Requested and one approved awaiting payment each show up
//! in their queue, oldest first and paged, filtered by workspace, plan and product, counted in
//! the API and the staff navigation, and leave it when someone acts; the pages reach each
//! subscription by a link.

use super::*;

fn ids(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["subscription_id"].as_str().unwrap().to_owned())
        .collect()
}

fn counts(v: &Value) -> Vec<(String, u64)> {
    v["queues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| {
            (
                q["queue"].as_str().unwrap().to_owned(),
                q["count"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn every_queue_lists_what_waits_on_staff_and_staff_reach_it_by_links() {
    let app = spawn_app().await;
    let paid = app.plan(json!(["declared_use_case"]), true, 0).await;
    let plan = app.admin.get(&format!("/api/v1/plans/{paid}")).await.body;
    let product = plan["product_id"].as_str().unwrap().to_owned();
    let gated = app
        .admin
        .ok(
            &format!("/api/v1/products/{product}/plans"),
            json!({
                "name": "Partner preview", "sandbox_access": "approval_required",
                "endpoints": ["GET /accounts"], "events": [], "test_data": [],
                "pricing": {"kind": "free"}, "gates": ["declared_use_case"], "integration_min_calls": 0
            }),
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // Acme submits on the paid plan; ten minutes later Beta asks for sandbox access.
    let (acme, _) = onboard(&app, "lena@acme.example", &paid).await;
    submit(&acme).await;
    app.clock.advance(TimeDelta::minutes(10));
    let beta = app.developer("bo@beta.example").await;
    let beta_ws = beta.ok("/api/v1/workspaces", json!({"name": "Beta"})).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let project = beta
        .ok(
            &format!("/api/v1/workspaces/{beta_ws}/projects"),
            json!({"name": "Preview", "purpose": "Try the preview", "endpoints": ["GET /accounts"]}),
        )
        .await;
    let beta_sub = beta
        .ok(
            &format!(
                "/api/v1/projects/{}/subscriptions",
                project["id"].as_str().unwrap()
            ),
            json!({"plan_id": gated}),
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let q = app.admin.get("/api/v1/inbox/in_review").await;
    assert_eq!(q.status, StatusCode::OK, "{}", q.body);
    assert_eq!(ids(&q.body), vec![acme.sub.clone()]);
    assert_eq!(q.body["items"][0]["gates"]["all_passed"], true);
    assert_eq!(q.body["items"][0]["age_seconds"], 600);
    let q = app.admin.get("/api/v1/inbox/sandbox_access").await.body;
    assert_eq!(ids(&q), vec![beta_sub.clone()]);
    assert_eq!(q["items"][0]["workspace_name"], "Beta");
    assert_eq!(q["items"][0]["plan_name"], "Partner preview");
    let all = app.admin.get("/api/v1/inbox").await.body;
    assert_eq!(
        counts(&all),
        [
            ("in_review".into(), 1),
            ("sandbox_access".into(), 1),
            ("awaiting_payment".into(), 0),
            ("changes_requested".into(), 0)
        ]
    );

    // Filters narrow every queue; a filter naming nothing is bad input that names its field.
    let only_beta = app
        .admin
        .get(&format!("/api/v1/inbox?workspace={beta_ws}"))
        .await
        .body;
    assert_eq!(counts(&only_beta)[0].1, 0);
    assert_eq!(counts(&only_beta)[1].1, 1);
    let q = app
        .admin
        .get(&format!("/api/v1/inbox/sandbox_access?plan={paid}"))
        .await
        .body;
    assert!(ids(&q).is_empty());
    let q = app
        .admin
        .get(&format!("/api/v1/inbox/in_review?product={product}"))
        .await
        .body;
    assert_eq!(ids(&q), vec![acme.sub.clone()]);
    let r = app
        .admin
        .get("/api/v1/inbox/in_review?product=prod_01JDQ000000000000000000000")
        .await;
    problem(&r, "validation", 422);
    assert_eq!(r.body["field"], "product");
    let r = app
        .admin
        .get("/api/v1/inbox/in_review?workspace=acme")
        .await;
    assert_eq!(r.body["field"], "workspace", "{}", r.body);
    let r = app
        .admin
        .get("/api/v1/inbox/in_review?cursor=yesterday")
        .await;
    assert_eq!(r.body["field"], "cursor", "{}", r.body);
    let r = app.admin.get("/api/v1/inbox/paid").await;
    problem(&r, "not-found", 404);
    let r = acme.dev.get("/api/v1/inbox/in_review").await;
    problem(&r, "forbidden", 403);

    // Changes Requested moves Acme's submission to its own queue, with the notes.
    app.admin
        .ok(
            &format!("/api/v1/subscriptions/{}/request-changes", acme.sub),
            json!({"notes": "Describe retention"}),
        )
        .await;
    let q = app.admin.get("/api/v1/inbox/changes_requested").await.body;
    assert_eq!(ids(&q), vec![acme.sub.clone()]);
    assert_eq!(q["items"][0]["notes"], "Describe retention");
    assert!(ids(&app.admin.get("/api/v1/inbox/in_review").await.body).is_empty());

    // The staff pages: the navigation counts each queue, every row links to the review page.
    let page = app.admin.get("/staff/inbox/sandbox_access").await;
    assert_eq!(page.status, StatusCode::OK);
    let html = page.body.as_str().unwrap().to_owned();
    assert!(
        html.contains("Sandbox access <span class=\"count\">(1)</span>"),
        "{html}"
    );
    assert!(
        html.contains("Changes requested <span class=\"count\">(1)</span>"),
        "{html}"
    );
    assert!(
        html.contains(&format!("href=\"/staff/subscriptions/{beta_sub}\"")),
        "{html}"
    );
    assert!(!html.contains("paste"), "no page asks staff for an id");
    let page = app
        .admin
        .get(&format!(
            "/staff/inbox/changes_requested?workspace={beta_ws}"
        ))
        .await;
    let html = page.body.as_str().unwrap().to_owned();
    assert!(
        html.contains("Organization: <strong>Beta</strong>"),
        "{html}"
    );
    assert!(html.contains("(with these filters)"), "{html}");
    let page = app
        .admin
        .get("/staff/inbox/changes_requested?plan=nope")
        .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.body.as_str().unwrap().contains("not a plan id"));

    // Granted, resubmitted, approved: Acme waits for payment until the admin confirms it.
    app.admin
        .ok(
            &format!("/api/v1/subscriptions/{beta_sub}/sandbox-access/grant"),
            json!({}),
        )
        .await;
    assert!(ids(&app.admin.get("/api/v1/inbox/sandbox_access").await.body).is_empty());
    submit(&acme).await;
    // The decision history keeps the first round's notes, on both sides.
    for (who, path) in [
        (&acme.dev, format!("/subscriptions/{}", acme.sub)),
        (&app.admin, format!("/staff/subscriptions/{}", acme.sub)),
    ] {
        let page = who.get(&path).await;
        let html = page.body.as_str().unwrap();
        assert!(html.contains("Decision history"), "{html}");
        assert!(
            html.contains("Round 1") && html.contains("Round 2"),
            "{html}"
        );
        assert!(
            html.contains("<blockquote>Describe retention</blockquote>"),
            "{html}"
        );
    }
    app.admin
        .ok(
            &format!("/api/v1/subscriptions/{}/approve", acme.sub),
            json!({}),
        )
        .await;
    let q = app
        .admin
        .get("/api/v1/inbox/awaiting_payment?limit=1")
        .await
        .body;
    assert_eq!(ids(&q), vec![acme.sub.clone()]);
    assert_eq!(q["items"][0]["pricing"]["monthly_fee"], "499.00");
    // A full page carries a cursor; the page after the last row is empty.
    let next = q["next_cursor"].as_str().unwrap();
    let rest = app
        .admin
        .get(&format!(
            "/api/v1/inbox/awaiting_payment?limit=1&cursor={next}"
        ))
        .await;
    assert_eq!(rest.status, StatusCode::OK, "{}", rest.body);
    assert!(ids(&rest.body).is_empty());
    let page = app.admin.get("/staff/inbox/awaiting_payment").await.body;
    assert!(page.as_str().unwrap().contains("Confirm payment"));
    app.admin
        .ok(
            &format!("/api/v1/subscriptions/{}/payments", acme.sub),
            json!({"amount": "499.00", "currency": "EUR", "reference": "INV-1"}),
        )
        .await;
    let all = app.admin.get("/api/v1/inbox").await.body;
    assert!(counts(&all).iter().all(|(_, n)| *n == 0), "{all}");
    app.stop().await;
}
