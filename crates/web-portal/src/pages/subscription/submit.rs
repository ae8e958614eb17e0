//! Submit for Review: the multi-step form, its steps and the final review.

use maud::{Markup, html};
use onboarding_core::ServiceError;
use onboarding_core::form::{Answers, FieldKind, FormField, SubmissionForm};
use onboarding_core::ids::SubscriptionId;
use onboarding_core::services::SubscriptionView;
use poem::http::StatusCode;
use poem::{Request, Response};
use serde_json::Value;

use super::render;
use crate::WebState;
use crate::http::{Ctx, Errs, FormData, FormErrors, param, redirect};
use crate::pages::macros::{caller_or_redirect, post_ctx};
use crate::ui::{Field, csrf, form_errors};

fn input_name(f: &FormField) -> String {
    format!("answers.{}", f.key)
}

/// The answers typed so far, as the core expects them.
fn answers_from(form: &SubmissionForm, data: &FormData) -> Answers {
    let mut a = Answers::new();
    for f in form.fields() {
        let name = input_name(f);
        let vals: Vec<&str> = data.all(&name);
        match f.kind {
            FieldKind::Multiselect => {
                let picked: Vec<Value> = vals
                    .iter()
                    .filter(|v| !v.trim().is_empty())
                    .map(|v| Value::String((*v).to_owned()))
                    .collect();
                if !picked.is_empty() {
                    a.insert(f.key.clone(), Value::Array(picked));
                }
            }
            FieldKind::Checkbox => {
                if vals.contains(&"true") {
                    a.insert(f.key.clone(), Value::Bool(true));
                }
            }
            _ => {
                if let Some(v) = vals.into_iter().find(|v| !v.trim().is_empty()) {
                    a.insert(f.key.clone(), Value::String(v.to_owned()));
                }
            }
        }
    }
    a
}

/// Form data from stored answers (to prefill a resubmission).
fn data_from(answers: &Answers) -> FormData {
    let mut d = Vec::new();
    for (k, v) in answers {
        let name = format!("answers.{k}");
        match v {
            Value::Array(items) => {
                for i in items {
                    if let Some(s) = i.as_str() {
                        d.push((name.clone(), s.to_owned()));
                    }
                }
            }
            Value::Bool(true) => d.push((name, "true".into())),
            Value::String(s) => d.push((name, s.clone())),
            _ => {}
        }
    }
    FormData(d)
}

fn hidden_answers(form: &SubmissionForm, data: &FormData, except_step: Option<usize>) -> Markup {
    html! {
        @for (i, step) in form.steps.iter().enumerate() {
            @if Some(i) != except_step {
                @for f in &step.fields {
                    @let name = input_name(f);
                    @for v in data.all(&name) {
                        input type="hidden" name=(name) value=(v);
                    }
                }
            }
        }
    }
}

fn step_indicator(form: &SubmissionForm, current: usize) -> Markup {
    let total = form.steps.len() + 1;
    html! {
        nav.form-steps aria-label="Form steps" {
            p.visually-hidden { "Step " (current + 1) " of " (total) }
            ol {
                @for (i, s) in form.steps.iter().enumerate() {
                    li.done[i < current].current[i == current] aria-current=[(i == current).then_some("step")] { (s.title) }
                }
                li.current[current == form.steps.len()] aria-current=[(current == form.steps.len()).then_some("step")] { "Review" }
            }
        }
    }
}

fn render_field(f: &FormField, e: Errs) -> Markup {
    let name = input_name(f);
    let mut field = Field::new("submit", &name, &f.label);
    if f.required {
        field = field.required();
    }
    if let Some(h) = &f.help {
        field = field.help(h);
    }
    match f.kind {
        FieldKind::Text => field.input(e),
        FieldKind::Url => field.kind("url").input(e),
        FieldKind::Email => field.kind("email").input(e),
        FieldKind::Textarea => field.textarea(e, 4),
        FieldKind::Select => {
            let mut opts = vec![(String::new(), "Choose…".to_owned())];
            opts.extend(f.options.iter().map(|o| (o.clone(), o.clone())));
            field.select(e, &opts)
        }
        FieldKind::Multiselect => {
            let opts: Vec<_> = f.options.iter().map(|o| (o.clone(), o.clone())).collect();
            field.checkboxes(e, &opts, &[])
        }
        FieldKind::Checkbox => field.checkbox(e, false),
    }
}

fn display_answer(f: &FormField, data: &FormData) -> String {
    let vals = data.all(&input_name(f));
    match f.kind {
        FieldKind::Checkbox => if vals.contains(&"true") { "Yes" } else { "No" }.to_owned(),
        _ => {
            let v: Vec<&str> = vals.into_iter().filter(|v| !v.trim().is_empty()).collect();
            if v.is_empty() {
                "—".to_owned()
            } else {
                v.join(", ")
            }
        }
    }
}

/// One page of the form: step `step` (or the review step when `step == steps.len()`).
fn render_step(
    ctx: &Ctx,
    v: &SubscriptionView,
    form: &SubmissionForm,
    step: usize,
    fe: &FormErrors,
) -> Response {
    let id = v.subscription.id;
    let e = Errs(Some(fe));
    let review = step >= form.steps.len();
    let body = html! {
        p.breadcrumb { a href=(format!("/subscriptions/{id}")) { "Subscription to " (v.plan_name) } " / Submit for Review" }
        (step_indicator(form, step))
        form.submission method="post" action=(format!("/subscriptions/{id}/submit")) novalidate {
            (csrf(ctx))
            input type="hidden" name="_step" value=(step);
            (form_errors(e))
            @if review {
                h2 { "Review your answers" }
                p { "Check everything before you submit. The API provider's reviewers read these answers." }
                @for (i, s) in form.steps.iter().enumerate() {
                    section.review-step {
                        h3 { (s.title) }
                        dl.facts {
                            @for f in &s.fields {
                                div { dt { (f.label) } dd { (display_answer(f, &fe.values)) } }
                            }
                        }
                        button.link-button type="submit" name="_go" value=(format!("edit-{i}")) { "Change " (s.title.to_lowercase()) }
                    }
                }
                (hidden_answers(form, &fe.values, None))
                div.actions {
                    button.button.secondary type="submit" name="_go" value="back" { "Back" }
                    " "
                    button.button type="submit" name="_go" value="submit" { "Submit for Review" }
                }
            } @else {
                @let s = &form.steps[step];
                h2 { (s.title) }
                @for f in &s.fields { (render_field(f, e)) }
                (hidden_answers(form, &fe.values, Some(step)))
                div.actions {
                    @if step > 0 {
                        button.button.secondary type="submit" name="_go" value="back" { "Back" }
                        " "
                    }
                    button.button type="submit" name="_go" value="next" { "Continue" }
                }
            }
        }
    };
    let status = if fe.fields.is_empty() && fe.general.is_none() {
        StatusCode::OK
    } else {
        fe.status()
    };
    ctx.page(status, "Submit for Review", body)
}

async fn load_for_submit(ctx: &Ctx, id: SubscriptionId) -> Result<SubscriptionView, Response> {
    let caller = ctx.require_caller()?;
    let v = ctx
        .state
        .portal
        .pipeline()
        .subscription_view(caller, id)
        .await
        .map_err(|e| ctx.error(e))?;
    if let Some(reason) = &v.submit_blocked_by {
        return Err(ctx.message(StatusCode::CONFLICT, "Submit for Review", reason));
    }
    Ok(v)
}

pub async fn submit_page(state: WebState, req: Request) -> Response {
    let ctx = Ctx::load(&state, &req).await;
    let Some(id) = param::<SubscriptionId>(&req, "id") else {
        return ctx.not_found();
    };
    let v = match load_for_submit(&ctx, id).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    match &v.form {
        Some(form) => {
            // A resubmission starts from the previous answers.
            let prefill = v
                .subscription
                .answers
                .as_ref()
                .map(|a| data_from(a.as_map()))
                .unwrap_or_default();
            let fe = FormErrors::new("submit", prefill);
            render_step(&ctx, &v, form, 0, &fe)
        }
        None => {
            let body = html! {
                p { "This plan has no submission form: the subscription goes straight to review." }
                form method="post" action=(format!("/subscriptions/{id}/submit")) {
                    (csrf(&ctx))
                    button.button type="submit" name="_go" value="submit" { "Submit for Review" }
                }
            };
            ctx.ok("Submit for Review", body)
        }
    }
}

pub async fn submit_step(state: WebState, req: Request) -> Response {
    let id = param::<SubscriptionId>(&req, "id");
    let (ctx, data) = post_ctx!(state, req);
    let caller = caller_or_redirect!(ctx);
    let Some(id) = id else { return ctx.not_found() };
    let v = match load_for_submit(&ctx, id).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let go = data.text("_go").to_owned();
    let Some(form) = v.form.clone() else {
        return match state.portal.pipeline().submit(caller, id, None, None).await {
            Ok(_) => redirect(&format!("/subscriptions/{id}")),
            Err(e) => match FormErrors::from_service("submit", data, e) {
                Ok(fe) => render(&ctx, id, Some(fe)).await,
                Err(e) => ctx.error(e),
            },
        };
    };
    let n = form.steps.len();
    let step = data.text("_step").parse::<usize>().unwrap_or(0).min(n);
    let answers = answers_from(&form, &data);
    // Carry only the answers (not the control fields) from page to page.
    let carried = FormData(
        data.0
            .iter()
            .filter(|(k, _)| k.starts_with("answers."))
            .cloned()
            .collect(),
    );
    let mut fe = FormErrors::new("submit", carried);
    let step_of = |field: &str| {
        form.steps.iter().position(|s| {
            s.fields
                .iter()
                .any(|f| field == format!("answers.{}", f.key))
        })
    };
    match go.as_str() {
        "back" => render_step(&ctx, &v, &form, step.saturating_sub(1), &fe),
        g if g.starts_with("edit-") => {
            let to = g[5..].parse::<usize>().unwrap_or(0).min(n);
            render_step(&ctx, &v, &form, to, &fe)
        }
        "next" => {
            // The core validates the answers; this page shows only the current step's errors.
            if let Err(errs) = form.validate_answers(&answers) {
                fe.fields = errs
                    .0
                    .into_iter()
                    .filter(|f| step_of(&f.field) == Some(step))
                    .collect();
            }
            if fe.fields.is_empty() {
                render_step(&ctx, &v, &form, (step + 1).min(n), &fe)
            } else {
                render_step(&ctx, &v, &form, step, &fe)
            }
        }
        _ => match state
            .portal
            .pipeline()
            .submit(caller, id, Some(answers), None)
            .await
        {
            Ok(_) => redirect(&format!("/subscriptions/{id}")),
            Err(ServiceError::InvalidFields(fields)) => {
                let first = fields
                    .iter()
                    .filter_map(|f| step_of(&f.field))
                    .min()
                    .unwrap_or(n);
                fe.fields = fields
                    .into_iter()
                    .filter(|f| first == n || step_of(&f.field) == Some(first))
                    .collect();
                render_step(&ctx, &v, &form, first, &fe)
            }
            Err(e) => match FormErrors::from_service("submit", fe.values.clone(), e) {
                Ok(mut err) => {
                    err.values = fe.values.clone();
                    render_step(&ctx, &v, &form, n, &err)
                }
                Err(e) => ctx.error(e),
            },
        },
    }
}
