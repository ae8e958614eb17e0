//! The webhooks section of the project page and its actions: create, verify, test, rotate, enable, disable, retry.

use chrono::{DateTime, TimeDelta, Utc};
use maud::{Markup, html};
use onboarding_core::ServiceError;
use onboarding_core::ids::{DeliveryId, ProjectId, WebhookEndpointId};
use onboarding_core::webhook::EndpointStatus;
use onboarding_core::webhook::{
    Delivery, DeliveryStatus, EVENT_TYPES, EndpointHealth, WebhookEndpoint, is_targeted_event,
};
use poem::{Request, Response};

use super::{ShownSecret, after, render};
use crate::WebState;
use crate::http::{Ctx, Errs, FormErrors, param};
use crate::pages::macros::{caller_or_redirect, post_ctx};
use crate::ui::{self, Field, csrf, form_errors};

pub async fn create_webhook(state: WebState, req: Request) -> Response {
    let id = param::<ProjectId>(&req, "id");
    let (ctx, form) = post_ctx!(state, req);
    let caller = caller_or_redirect!(ctx);
    let Some(id) = id else { return ctx.not_found() };
    let events: Vec<String> = form.all("events").into_iter().map(str::to_owned).collect();
    match state
        .portal
        .endpoints().create_webhook_endpoint(caller, id, form.text("url"), &events)
        .await
    {
        // The signing secret is shown once, in this response (never in a URL or the session).
        Ok(created) => {
            render(
                &ctx,
                id,
                None,
                Some(ShownSecret {
                    title: format!("Webhook endpoint added: {}", created.endpoint.url),
                    secret: created.secret,
                    note: Some("The endpoint is pending until it answers the verification challenge the portal has just sent.".into()),
                }),
            )
            .await
        }
        Err(e) => after(&ctx, id, "webhook", form, Err(e)).await,
    }
}

fn health_facts(h: &EndpointHealth) -> Markup {
    html! {
        dl.facts.health {
            div { dt { "Success rate (7 days)" } dd { @match h.success_rate {
                Some(r) => { (format!("{:.0} %", r * 100.0)) " of " (h.attempts) " attempts" },
                None => "no attempts yet",
            } } }
            div { dt { "Last success" } dd { @match h.last_success_at { Some(t) => (ui::when(t)), None => "never" } } }
            div { dt { "Last failure" } dd { @match h.last_failure_at {
                Some(t) => { (ui::when(t)) @if let Some(r) = &h.last_failure_reason { " — " (r) } },
                None => "never",
            } } }
            div { dt { "Latency" } dd { @match (h.avg_latency_ms, h.p95_latency_ms) {
                (Some(a), Some(p)) => { (a) " ms average, " (p) " ms p95" },
                (Some(a), None) => { (a) " ms average" },
                _ => "no responses yet",
            } } }
            @if let Some(t) = h.failing_since { div { dt { "Failing since" } dd { (ui::when(t)) } } }
        }
    }
}

fn deliveries_table(
    ctx: &Ctx,
    ep: &WebhookEndpoint,
    list: &[Delivery],
    manage: bool,
    now: DateTime<Utc>,
) -> Markup {
    html! {
        h4 { "Latest deliveries" }
        @if list.is_empty() { p { "No deliveries yet." } }
        @else {
            table.deliveries {
                caption.visually-hidden { "Latest deliveries to " (ep.url) }
                thead { tr { th scope="col" { "Event" } th scope="col" { "Created" } th scope="col" { "Status" } th scope="col" { "Attempts" } th scope="col" { "Next attempt" } th scope="col" { "Last response" } th scope="col" { span.visually-hidden { "Actions" } } } }
                tbody {
                    @for d in list {
                        tr {
                            td { code { (d.event_type) } }
                            td { (ui::when(d.created_at)) }
                            td { span class=(format!("badge badge-{}", match d.status { DeliveryStatus::Succeeded => "passed", DeliveryStatus::Failed => "failed", DeliveryStatus::Pending => "pending" })) { (d.status.as_str()) } }
                            td { (d.attempts) }
                            td { @match d.next_attempt_at { Some(t) if t <= now => "due now", Some(t) => (ui::when(t)), None => "—" } }
                            td {
                                @if let Some(s) = d.last_response_status { "HTTP " (s) }
                                @if let Some(e) = &d.last_error { @if d.last_response_status.is_some() { " — " } (e) }
                                @if d.last_response_status.is_none() && d.last_error.is_none() { "—" }
                            }
                            td {
                                @if manage && d.status == DeliveryStatus::Failed {
                                    (ui::action_button(ctx, &format!("/deliveries/{}/retry", d.id), "Retry", "button small secondary"))
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
pub(super) fn webhooks_section(
    ctx: &Ctx,
    id: ProjectId,
    cloned: bool,
    eps: &[WebhookEndpoint],
    deliveries: Option<&[(Option<EndpointHealth>, Vec<Delivery>)]>,
    manage: bool,
    fe: Option<&FormErrors>,
    now: DateTime<Utc>,
) -> Markup {
    // The portal's own event types (the core refuses others); verification and test events
    // go to one endpoint on request, never through a filter.
    let event_options: Vec<(String, String)> = EVENT_TYPES
        .iter()
        .filter(|t| !is_targeted_event(t))
        .map(|t| ((*t).to_owned(), (*t).to_owned()))
        .collect();
    html! {
        section.card aria-labelledby="wh-title" {
            h2 #wh-title { "Webhook endpoints" }
            p.muted { "Endpoints belong to this project. A new or changed endpoint is pending until it echoes the challenge the portal sends it; deliveries are signed with its whsec_ secret." }
            @if cloned && !eps.is_empty() {
                p #cloned-secrets-note { "The endpoints copied from the sandbox project have signing secrets of their own, shown once in the answer to the clone. If one was not kept, rotate it with an overlap of 0 and give the receiver the new secret; each endpoint is pending until it answers its verification challenge." }
            }
            @if eps.is_empty() { p { "No webhook endpoints yet." } }
            @for (i, ep) in eps.iter().enumerate() {
                @let base = format!("ep-{}", ep.id);
                @let rotate_form = format!("rotate-{}", ep.id);
                @let events_form = format!("events-{}", ep.id);
                article.endpoint aria-labelledby=(format!("{base}-title")) id=(base) {
                    h3 id=(format!("{base}-title")) { code { (ep.url) } }
                    (form_errors(Errs::of(fe, &base)))
                    dl.facts {
                        div { dt { "Status" } dd {
                            @match &ep.status {
                                EndpointStatus::Pending => span.badge.badge-pending { "pending verification" },
                                EndpointStatus::Verified { at } => { span.badge.badge-passed { "verified" } " " (ui::when(*at)) },
                                EndpointStatus::Disabled { reason, at } => { span.badge.badge-failed { "disabled" } " " (reason) " (" (ui::when(*at)) ")" },
                            }
                        } }
                        div { dt { "Events" } dd { (if ep.events.is_empty() { "all of the project's".to_owned() } else { ep.events.join(", ") }) } }
                        @for s in ep.signing_secrets.iter().filter(|s| s.expires_at.is_some_and(|e| e > now)) {
                            div { dt { "Previous secret" } dd { "still signs until " (ui::when(s.expires_at.unwrap_or(now))) } }
                        }
                    }
                    @match deliveries.and_then(|d| d.get(i)) {
                        Some((health, list)) => {
                            h4 { "Health" }
                            @match health { Some(h) => (health_facts(h)), None => p { "Health is not available right now." } }
                            (deliveries_table(ctx, ep, list, manage, now))
                        }
                        None => p.muted { "Delivery history and health are not available on this server." },
                    }
                    @if manage {
                        div.actions {
                            @if ep.is_enabled() {
                                (ui::action_button(ctx, &format!("/webhooks/{}/verify", ep.id), "Verify (send the challenge)", "button small secondary"))
                                (ui::action_button(ctx, &format!("/webhooks/{}/test", ep.id), "Send test event", "button small secondary"))
                                (ui::action_button(ctx, &format!("/webhooks/{}/disable", ep.id), "Disable", "button small secondary"))
                            } @else {
                                (ui::action_button(ctx, &format!("/webhooks/{}/enable", ep.id), "Enable", "button small secondary"))
                            }
                        }
                        @let e = Errs::of(fe, &rotate_form);
                        form.rotate method="post" action=(format!("/webhooks/{}/rotate", ep.id)) novalidate {
                            (csrf(ctx))
                            (form_errors(e))
                            (Field::new(&rotate_form, "overlap_hours", "Overlap (hours)").kind("number").value("24").aliases(&["overlap"])
                                .help("The previous secret keeps signing for this many hours (0 to 168), so receivers can switch without losing deliveries.").input(e))
                            button.button.small.secondary type="submit" { "Rotate signing secret" }
                        }
                        @let e = Errs::of(fe, &events_form);
                        form.events method="post" action=(format!("/webhooks/{}/events", ep.id)) novalidate {
                            (csrf(ctx))
                            (form_errors(e))
                            (Field::new(&events_form, "events", "Events sent to this endpoint")
                                .help("None checked: every event the portal sends for this project. A changed endpoint must verify again.")
                                .checkboxes(e, &event_options, &ep.events))
                            button.button.small.secondary type="submit" { "Save events" }
                        }
                    }
                }
            }
            @if manage {
                @let e = Errs::of(fe, "webhook");
                h3 { "Add an endpoint" }
                form #add-webhook method="post" action=(format!("/projects/{id}/webhooks")) novalidate {
                    (csrf(ctx))
                    (form_errors(e))
                    (Field::new("webhook", "url", "Endpoint URL").kind("url").required().input(e))
                    (Field::new("webhook", "events", "Events").help("None checked: every event the portal sends for this project.").checkboxes(e, &event_options, &[]))
                    button.button.secondary type="submit" { "Add webhook endpoint" }
                }
            } @else {
                p.muted { "Developers, technical leads and owners manage webhook endpoints." }
            }
        }
    }
}

/// Verify, test, rotate, enable, disable, events: one endpoint's actions.
pub async fn webhook_action(state: WebState, req: Request) -> Response {
    let ep_id = param::<WebhookEndpointId>(&req, "id");
    let op = req.raw_path_param("op").unwrap_or("").to_owned();
    let (ctx, form) = post_ctx!(state, req);
    let caller = caller_or_redirect!(ctx);
    let Some(ep_id) = ep_id else {
        return ctx.not_found();
    };
    let p = &state.portal;
    let ep = match p.endpoints().webhook_endpoint(caller, ep_id).await {
        Ok(ep) => ep,
        Err(e) => return ctx.error(e),
    };
    let pid = ep.project_id;
    let back = format!("/projects/{pid}#ep-{ep_id}-title");
    let base = format!("ep-{ep_id}");
    let (form_id, r): (String, Result<(), ServiceError>) = match op.as_str() {
        "verify" => (
            base,
            p.endpoints()
                .start_webhook_verification(caller, ep_id)
                .await
                .map(|_| ()),
        ),
        "test" => (
            base,
            p.endpoints()
                .send_webhook_test(caller, ep_id)
                .await
                .map(|_| ()),
        ),
        "enable" | "disable" => (
            base,
            p.endpoints()
                .set_webhook_endpoint_enabled(caller, ep_id, op == "enable")
                .await
                .map(|_| ()),
        ),
        "events" => {
            let events: Vec<String> = form.all("events").into_iter().map(str::to_owned).collect();
            (
                format!("events-{ep_id}"),
                p.endpoints()
                    .update_webhook_endpoint(caller, ep_id, None, Some(&events))
                    .await
                    .map(|_| ()),
            )
        }
        "rotate" => {
            let form_id = format!("rotate-{ep_id}");
            let raw = form.text("overlap_hours").trim();
            let overlap = if raw.is_empty() {
                None
            } else {
                match raw.parse::<i64>() {
                    Ok(h) if (0..=168).contains(&h) => Some(TimeDelta::hours(h)),
                    _ => {
                        let fe = FormErrors::new(&form_id, form)
                            .field("overlap_hours", "enter whole hours between 0 and 168");
                        return render(&ctx, pid, Some(fe), None).await;
                    }
                }
            };
            match p
                .endpoints()
                .rotate_webhook_secret(caller, ep_id, overlap)
                .await
            {
                // The new secret is shown once, in this response.
                Ok(rotated) => {
                    let note = rotated
                        .endpoint
                        .signing_secrets
                        .get(1)
                        .and_then(|s| s.expires_at)
                        .map(|t| {
                            format!(
                                "The previous secret keeps signing until {}; switch your receiver to the new one before then.",
                                t.format("%Y-%m-%d %H:%M UTC")
                            )
                        })
                        .unwrap_or_else(|| "The previous secret no longer signs.".into());
                    let shown = ShownSecret {
                        title: format!("New signing secret for {}", rotated.endpoint.url),
                        secret: rotated.secret,
                        note: Some(note),
                    };
                    return render(&ctx, pid, None, Some(shown)).await;
                }
                Err(e) => (form_id, Err(e)),
            }
        }
        _ => return ctx.not_found(),
    };
    after(&ctx, pid, &form_id, form, r.map(|_| back)).await
}

/// Retries a failed delivery now.
pub async fn retry_delivery(state: WebState, req: Request) -> Response {
    let id = param::<DeliveryId>(&req, "id");
    let (ctx, form) = post_ctx!(state, req);
    let caller = caller_or_redirect!(ctx);
    let (Some(id), Some(wh)) = (id, state.webhooks.as_ref()) else {
        return ctx.not_found();
    };
    let d = match wh.delivery(caller, id).await {
        Ok(d) => d,
        Err(e) => return ctx.error(e),
    };
    let r = wh
        .retry_delivery(caller, id)
        .await
        .map(|_| format!("/projects/{}#ep-{}-title", d.project_id, d.endpoint_id));
    after(
        &ctx,
        d.project_id,
        &format!("ep-{}", d.endpoint_id),
        form,
        r,
    )
    .await
}
