//! Plan configuration for provider admins: products, plans, test data rows, the submission
//! form (JSON), pricing with decimal strings, gates and thresholds.

use maud::{Markup, html};
use onboarding_core::Caller;
use onboarding_core::form::SubmissionForm;
use onboarding_core::gates::Gate;
use onboarding_core::ids::PlanId;
use onboarding_core::plan::{
    Currency, Plan, Pricing, SandboxAccessMode, TestDataEntry, TestDataType,
};
use onboarding_core::roles::StaffRole;
use onboarding_core::services::PlanInput;
use onboarding_core::values::FieldError;
use poem::http::StatusCode;
use poem::{Request, Response};
use rust_decimal::Decimal;

use super::macros::post_ctx;
use crate::WebState;
use crate::http::{Ctx, Errs, FormData, FormErrors, param, redirect};
use crate::ui::{Field, csrf, field_id, form_errors};

fn admin(ctx: &Ctx) -> Result<Caller, Response> {
    match ctx.caller() {
        Some(
            c @ Caller::Staff {
                role: StaffRole::Admin,
                ..
            },
        ) => Ok(c),
        Some(_) => Err(ctx.message(
            StatusCode::FORBIDDEN,
            "Admins only",
            "Plan configuration is for the API provider's admins.",
        )),
        None => Err(redirect("/staff/sign-in")),
    }
}

const TYPES: [(TestDataType, &str); 5] = [
    (TestDataType::String, "string"),
    (TestDataType::Number, "number"),
    (TestDataType::Boolean, "boolean"),
    (TestDataType::Json, "json"),
    (TestDataType::Url, "url"),
];

fn type_code(t: TestDataType) -> &'static str {
    TYPES
        .iter()
        .find(|(x, _)| *x == t)
        .map_or("string", |(_, c)| c)
}

/// The form's fields from a stored plan (for the edit page).
fn plan_values(plan: &Plan) -> FormData {
    let mut d: Vec<(String, String)> = vec![
        ("name".into(), plan.name.to_string()),
        (
            "sandbox_access".into(),
            match plan.sandbox_access {
                SandboxAccessMode::Open => "open".into(),
                SandboxAccessMode::ApprovalRequired => "approval_required".into(),
            },
        ),
        ("endpoints".into(), plan.endpoints.join("\n")),
        ("events".into(), plan.events.join("\n")),
        (
            "integration_min_calls".into(),
            plan.integration_min_calls.to_string(),
        ),
        (
            "submission_form".into(),
            plan.form
                .as_ref()
                .map(|f| serde_json::to_string_pretty(f).unwrap_or_default())
                .unwrap_or_default(),
        ),
    ];
    if plan.has_sandbox {
        d.push(("has_sandbox".into(), "true".into()));
    }
    if plan.waive_separation_of_duties {
        d.push(("waive_separation_of_duties".into(), "true".into()));
    }
    match &plan.pricing {
        Pricing::Free => d.push(("pricing.kind".into(), "free".into())),
        Pricing::Paid {
            currency,
            monthly_fee,
            included_requests,
            price_per_request,
        } => {
            d.push(("pricing.kind".into(), "paid".into()));
            d.push(("pricing.currency".into(), currency.as_str().into()));
            d.push(("pricing.monthly_fee".into(), monthly_fee.to_string()));
            d.push((
                "pricing.included_requests".into(),
                included_requests.to_string(),
            ));
            d.push((
                "pricing.price_per_request".into(),
                price_per_request.to_string(),
            ));
        }
    }
    for g in &plan.gates {
        d.push(("gates".into(), g.as_str().into()));
    }
    for t in &plan.test_data {
        d.push(("td_type".into(), type_code(t.kind).into()));
        d.push(("td_name".into(), t.name.clone()));
        d.push(("td_description".into(), t.description.clone()));
        d.push(("td_value".into(), t.value.clone()));
    }
    FormData(d)
}

fn blank_values() -> FormData {
    let mut d = vec![
        ("has_sandbox".to_owned(), "true".to_owned()),
        ("sandbox_access".into(), "open".into()),
        ("pricing.kind".into(), "free".into()),
        ("integration_min_calls".into(), "5".into()),
    ];
    for g in Gate::ALL.iter().copied() {
        d.push(("gates".into(), g.as_str().into()));
    }
    FormData(d)
}

/// Parses the editor's fields into the core's input; the core validates the rest.
fn parse_plan(f: &FormData) -> Result<PlanInput, Vec<FieldError>> {
    let mut errs = Vec::new();
    let lines = |k: &str| -> Vec<String> {
        f.text(k)
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect()
    };
    let dec = |k: &str, errs: &mut Vec<FieldError>| -> Decimal {
        match f.text(k).trim().parse::<Decimal>() {
            Ok(d) => d,
            Err(_) => {
                errs.push(FieldError::new(k, "enter a decimal number such as 49.00"));
                Decimal::ZERO
            }
        }
    };
    let pricing = if f.text("pricing.kind") == "paid" {
        let currency = match Currency::new(f.text("pricing.currency").trim()) {
            Ok(c) => Some(c),
            Err(e) => {
                errs.push(e);
                None
            }
        };
        let monthly_fee = dec("pricing.monthly_fee", &mut errs);
        let price_per_request = dec("pricing.price_per_request", &mut errs);
        let included_requests = match f.text("pricing.included_requests").trim().parse::<u64>() {
            Ok(n) => n,
            Err(_) => {
                errs.push(FieldError::new(
                    "pricing.included_requests",
                    "enter a whole number",
                ));
                0
            }
        };
        currency.map(|currency| Pricing::Paid {
            currency,
            monthly_fee,
            included_requests,
            price_per_request,
        })
    } else {
        Some(Pricing::Free)
    };
    let min_calls = match f.text("integration_min_calls").trim().parse::<u64>() {
        Ok(n) => n,
        Err(_) => {
            errs.push(FieldError::new(
                "integration_min_calls",
                "enter a whole number",
            ));
            0
        }
    };
    let form_json = f.text("submission_form").trim();
    let form: Option<SubmissionForm> = if form_json.is_empty() {
        None
    } else {
        match serde_json::from_str(form_json) {
            Ok(v) => Some(v),
            Err(e) => {
                errs.push(FieldError::new(
                    "submission_form",
                    format!("not a valid form: {e}"),
                ));
                None
            }
        }
    };
    let mut gates = Vec::new();
    for g in f.all("gates") {
        match Gate::parse(g) {
            Some(g) => gates.push(g),
            None => errs.push(FieldError::new("gates", "unknown gate")),
        }
    }
    let (types, names, descs, values) = (
        f.all("td_type"),
        f.all("td_name"),
        f.all("td_description"),
        f.all("td_value"),
    );
    let mut test_data = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let name = name.trim();
        let value = values.get(i).copied().unwrap_or("");
        if name.is_empty() && value.trim().is_empty() {
            continue; // a blank row
        }
        let kind = TYPES
            .iter()
            .find(|(_, c)| Some(*c) == types.get(i).copied())
            .map_or(TestDataType::String, |(t, _)| *t);
        test_data.push(TestDataEntry {
            kind,
            name: name.to_owned(),
            description: descs.get(i).copied().unwrap_or("").trim().to_owned(),
            value: value.to_owned(),
        });
    }
    if !errs.is_empty() {
        return Err(errs);
    }
    Ok(PlanInput {
        name: f.text("name").to_owned(),
        has_sandbox: f.has("has_sandbox"),
        sandbox_access: if f.text("sandbox_access") == "approval_required" {
            SandboxAccessMode::ApprovalRequired
        } else {
            SandboxAccessMode::Open
        },
        endpoints: lines("endpoints"),
        events: lines("events"),
        test_data,
        form,
        pricing: pricing.unwrap_or(Pricing::Free),
        gates,
        integration_min_calls: min_calls,
        waive_separation_of_duties: f.has("waive_separation_of_duties"),
    })
}

fn test_data_rows(e: Errs, values: &FormData) -> Markup {
    let (types, names, descs, vals) = (
        values.all("td_type"),
        values.all("td_name"),
        values.all("td_description"),
        values.all("td_value"),
    );
    let rows = names.len() + 2;
    html! {
        fieldset.field #plan-test_data {
            legend { "Sandbox test data" }
            p.help { "Read-only entries developers see under View Test Data. Leave a row blank to drop it; save to get more blank rows." }
            @for err in e.for_input("test_data") { p.field-error { (err) } }
            table.rows {
                thead { tr { th scope="col" { "Type" } th scope="col" { "Name" } th scope="col" { "Description" } th scope="col" { "Value" } } }
                tbody {
                    @for i in 0..rows {
                        tr {
                            td {
                                label.visually-hidden for=(format!("td-type-{i}")) { "Type of row " (i + 1) }
                                select id=(format!("td-type-{i}")) name="td_type" {
                                    @for (_, c) in TYPES { option value=(c) selected[types.get(i) == Some(&c)] { (c) } }
                                }
                            }
                            td {
                                label.visually-hidden for=(format!("td-name-{i}")) { "Name of row " (i + 1) }
                                input id=(format!("td-name-{i}")) name="td_name" value=(names.get(i).copied().unwrap_or(""));
                            }
                            td {
                                label.visually-hidden for=(format!("td-desc-{i}")) { "Description of row " (i + 1) }
                                input id=(format!("td-desc-{i}")) name="td_description" value=(descs.get(i).copied().unwrap_or(""));
                            }
                            td {
                                label.visually-hidden for=(format!("td-value-{i}")) { "Value of row " (i + 1) }
                                input id=(format!("td-value-{i}")) name="td_value" value=(vals.get(i).copied().unwrap_or(""));
                            }
                        }
                    }
                }
            }
        }
    }
}

fn plan_editor(
    ctx: &Ctx,
    action: &str,
    e: Errs,
    values: &FormData,
    products: Option<&[(String, String)]>,
    version: Option<i64>,
) -> Markup {
    let f = "plan";
    let v = |k: &str| values.get(k).unwrap_or("").to_owned();
    let gates_checked: Vec<String> = values.all("gates").into_iter().map(str::to_owned).collect();
    html! {
        form.plan-editor method="post" action=(action) novalidate {
            (csrf(ctx))
            (form_errors(e))
            @if let Some(v) = version { input type="hidden" name="version" value=(v); }
            @if let Some(products) = products {
                (Field::new(f, "product_id", "API product").required().select(e, products))
            }
            (Field::new(f, "name", "Plan name").required().value(&v("name")).input(e))
            (Field::new(f, "has_sandbox", "The plan has a sandbox").checkbox(e, values.has("has_sandbox")))
            (Field::new(f, "sandbox_access", "Sandbox access").value(&v("sandbox_access")).select(e, &[("open".into(), "Open: granted at once".into()), ("approval_required".into(), "Approval required".into())]))
            (Field::new(f, "endpoints", "Endpoints (one per line, METHOD /path)").value(&v("endpoints")).textarea(e, 5))
            (Field::new(f, "events", "Events (one per line)").value(&v("events")).textarea(e, 3))
            (test_data_rows(e, values))
            (Field::new(f, "submission_form", "Submission form (JSON; blank for none)").value(&v("submission_form"))
                .help("{\"steps\": [{\"title\": \"Company\", \"fields\": [{\"key\": \"legal_name\", \"label\": \"Legal entity name\", \"kind\": \"text\", \"required\": true}]}]}. Kinds: text, textarea, select, multiselect, checkbox, url, email. The form always ends in a review step.")
                .textarea(e, 10))
            fieldset.field {
                legend { "Pricing" }
                @let kind = v("pricing.kind");
                div.check { input #plan-pricing-free type="radio" name="pricing.kind" value="free" checked[kind != "paid"]; label for="plan-pricing-free" { "Free" } }
                div.check { input #plan-pricing-paid type="radio" name="pricing.kind" value="paid" checked[kind == "paid"]; label for="plan-pricing-paid" { "Paid" } }
                @for err in e.0.map(|fe| fe.fields.iter().filter(|x| x.field == "pricing").map(|x| x.reason.clone()).collect::<Vec<_>>()).unwrap_or_default() {
                    p.field-error id=(field_id(f, "pricing")) { (err) }
                }
                (Field::new(f, "pricing.currency", "Currency (ISO 4217)").value(&v("pricing.currency")).input(e))
                (Field::new(f, "pricing.monthly_fee", "Monthly fee").value(&v("pricing.monthly_fee")).help("A decimal string, e.g. 49.00").input(e))
                (Field::new(f, "pricing.included_requests", "Included requests per month").kind("number").value(&v("pricing.included_requests")).input(e))
                (Field::new(f, "pricing.price_per_request", "Price per request above the quota").value(&v("pricing.price_per_request")).help("A decimal string, e.g. 0.0025").input(e))
            }
            (Field::new(f, "gates", "Production gates that apply").checkboxes(e, &Gate::ALL.iter().map(|g| (g.as_str().to_owned(), g.title().to_owned())).collect::<Vec<_>>(), &gates_checked))
            (Field::new(f, "integration_min_calls", "Minimum successful sandbox calls (integration verification)").kind("number").value(&v("integration_min_calls")).input(e))
            (Field::new(f, "waive_separation_of_duties", "Waive the separation-of-duties check").checkbox(e, values.has("waive_separation_of_duties")))
            button.button type="submit" { "Save plan" }
        }
    }
}

pub async fn plans(state: WebState, req: Request) -> Response {
    let ctx = Ctx::load(&state, &req).await;
    render_plans(&ctx, None).await
}

async fn render_plans(ctx: &Ctx, fe: Option<FormErrors>) -> Response {
    if let Err(r) = admin(ctx) {
        return r;
    }
    let p = &ctx.state.portal;
    let (products, plans) = match (p.catalog().products().await, p.catalog().plans().await) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => return ctx.error(e),
    };
    let status = fe.as_ref().map_or(StatusCode::OK, |f| f.status());
    let fe = fe.as_ref();
    let product_opts: Vec<(String, String)> = products
        .iter()
        .map(|p| (p.id.to_string(), p.name.to_string()))
        .collect();
    let plan_e = Errs::of(fe, "plan");
    let plan_values = plan_e
        .0
        .map(|f| f.values.clone())
        .unwrap_or_else(blank_values);
    let body = html! {
        section.card aria-labelledby="catalog-title" {
            h2 #catalog-title { "Catalog" }
            @if products.is_empty() { p { "No API products yet." } }
            @for prod in &products {
                h3 { (prod.name) }
                p.muted { (prod.description) }
                ul.plain {
                    @for pl in plans.iter().filter(|pl| pl.product_id == prod.id) {
                        li {
                            a href=(format!("/staff/plans/{}", pl.id)) { (pl.name) }
                            " — " @match &pl.pricing { Pricing::Free => "free", Pricing::Paid { currency, monthly_fee, .. } => { "paid, " (monthly_fee) " " (currency.as_str()) " per month" } }
                            " — " (pl.gates.len()) " gates, " (pl.test_data.len()) " test data entries"
                            @if pl.form.is_some() { ", submission form" }
                        }
                    }
                }
            }
        }
        section.card aria-labelledby="product-title" {
            h2 #product-title { "Create an API product" }
            @let e = Errs::of(fe, "product");
            form method="post" action="/staff/products" novalidate {
                (csrf(ctx))
                (form_errors(e))
                (Field::new("product", "name", "Product name").required().input(e))
                (Field::new("product", "description", "Description").textarea(e, 3))
                button.button.secondary type="submit" { "Create product" }
            }
        }
        @if !products.is_empty() {
            section.card aria-labelledby="plan-title" {
                h2 #plan-title { "Create a plan" }
                (plan_editor(ctx, "/staff/plans", plan_e, &plan_values, Some(&product_opts), None))
            }
        }
    };
    ctx.page(status, "Plans", body)
}

pub async fn create_product(state: WebState, req: Request) -> Response {
    let (ctx, form) = post_ctx!(state, req);
    let caller = match admin(&ctx) {
        Ok(c) => c,
        Err(r) => return r,
    };
    match state
        .portal
        .catalog()
        .create_product(caller, form.text("name"), form.text("description"))
        .await
    {
        Ok(_) => redirect("/staff/plans"),
        Err(e) => match FormErrors::from_service("product", form, e) {
            Ok(fe) => render_plans(&ctx, Some(fe)).await,
            Err(e) => ctx.error(e),
        },
    }
}

pub async fn create_plan(state: WebState, req: Request) -> Response {
    let (ctx, form) = post_ctx!(state, req);
    let caller = match admin(&ctx) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let Ok(product) = form.text("product_id").parse() else {
        let fe = FormErrors::new("plan", form).field("product_id", "choose a product");
        return render_plans(&ctx, Some(fe)).await;
    };
    let input = match parse_plan(&form) {
        Ok(i) => i,
        Err(errs) => {
            let mut fe = FormErrors::new("plan", form);
            fe.fields = errs;
            return render_plans(&ctx, Some(fe)).await;
        }
    };
    match state
        .portal
        .catalog()
        .create_plan(caller, product, input)
        .await
    {
        Ok(plan) => redirect(&format!("/staff/plans/{}", plan.id)),
        Err(e) => match FormErrors::from_service("plan", form, e) {
            Ok(fe) => render_plans(&ctx, Some(fe)).await,
            Err(e) => ctx.error(e),
        },
    }
}

pub async fn edit_plan(state: WebState, req: Request) -> Response {
    let ctx = Ctx::load(&state, &req).await;
    let Some(id) = param::<PlanId>(&req, "id") else {
        return ctx.not_found();
    };
    render_edit(&ctx, id, None).await
}

async fn render_edit(ctx: &Ctx, id: PlanId, fe: Option<FormErrors>) -> Response {
    if let Err(r) = admin(ctx) {
        return r;
    }
    let plan = match ctx.state.portal.catalog().plan(id).await {
        Ok(p) => p,
        Err(e) => return ctx.error(e),
    };
    let status = fe.as_ref().map_or(StatusCode::OK, |f| f.status());
    let e = Errs::of(fe.as_ref(), "plan");
    let values =
        e.0.map(|f| f.values.clone())
            .unwrap_or_else(|| plan_values(&plan));
    let body = html! {
        p.breadcrumb { a href="/staff/plans" { "Plans" } " / " (plan.name) }
        p.muted { "Version " (plan.version) ". Saving refuses if another admin changed the plan meanwhile." }
        (plan_editor(ctx, &format!("/staff/plans/{id}"), e, &values, None, Some(plan.version)))
    };
    ctx.page(status, &format!("Plan: {}", plan.name), body)
}

pub async fn update_plan(state: WebState, req: Request) -> Response {
    let id = param::<PlanId>(&req, "id");
    let (ctx, form) = post_ctx!(state, req);
    let caller = match admin(&ctx) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let Some(id) = id else { return ctx.not_found() };
    let input = match parse_plan(&form) {
        Ok(i) => i,
        Err(errs) => {
            let mut fe = FormErrors::new("plan", form);
            fe.fields = errs;
            return render_edit(&ctx, id, Some(fe)).await;
        }
    };
    let version = form.text("version").parse().ok();
    match state
        .portal
        .catalog()
        .update_plan(caller, id, input, version)
        .await
    {
        Ok(_) => redirect(&format!("/staff/plans/{id}")),
        Err(e) => match FormErrors::from_service("plan", form, e) {
            Ok(fe) => render_edit(&ctx, id, Some(fe)).await,
            Err(e) => ctx.error(e),
        },
    }
}
