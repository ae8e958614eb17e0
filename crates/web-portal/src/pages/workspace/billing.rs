//! The workspace's billing page: plans, payments and this month's usage.

use maud::html;
use onboarding_core::ServiceError;
use onboarding_core::ids::WorkspaceId;
use onboarding_core::services::month_bounds;
use poem::http::StatusCode;
use poem::{Request, Response};

use crate::WebState;
use crate::http::{Ctx, param};
use crate::pages::macros::caller_or_redirect;

pub async fn billing(state: WebState, req: Request) -> Response {
    let ctx = Ctx::load(&state, &req).await;
    let caller = caller_or_redirect!(ctx);
    let Some(id) = param::<WorkspaceId>(&req, "id") else {
        return ctx.not_found();
    };
    let p = &state.portal;
    let (from, _) = month_bounds(state.clock.now());
    let period = from.format("%Y-%m").to_string();
    let invoice = match p.billing().invoice(caller, id, &period).await {
        Ok(i) => i,
        Err(ServiceError::Forbidden { .. }) => {
            return ctx.message(
                StatusCode::FORBIDDEN,
                "Billing and usage",
                "Billing and invoices are for members with the billing role, and owners.",
            );
        }
        Err(e) => return ctx.error(e),
    };
    let subs = match p.pipeline().subscriptions(caller, id).await {
        Ok(s) => s,
        Err(e) => return ctx.error(e),
    };
    let mut rows = Vec::new();
    for s in &subs {
        match p.pipeline().subscription_view(caller, s.id).await {
            Ok(v) => rows.push(v),
            Err(e) => return ctx.error(e),
        }
    }
    let body = html! {
        p.breadcrumb { a href=(format!("/workspaces/{id}")) { "Workspace" } " / Billing and usage" }
        section.card aria-labelledby="pay-title" {
            h2 #pay-title { "Payment status per subscription" }
            p { "On a paid plan the production credential stays locked until payment is complete. Payments are confirmed by the API provider's admins." }
            @if rows.is_empty() { p { "No subscriptions yet." } }
            @else {
                table {
                    caption.visually-hidden { "Subscriptions and payment" }
                    thead { tr { th scope="col" { "Subscription" } th scope="col" { "Plan" } th scope="col" { "Phase" } th scope="col" { "Payment" } } }
                    tbody {
                        @for v in &rows {
                            tr {
                                td { a href=(format!("/subscriptions/{}", v.subscription.id)) { code { (v.subscription.id) } } }
                                td { (v.plan_name) }
                                td { (v.subscription.phase.kind().as_str().replace('_', " ")) }
                                td { @if v.paid { "Paid" } @else { "No payment recorded" } }
                            }
                        }
                    }
                }
            }
        }
        section.card aria-labelledby="inv-title" {
            h2 #inv-title { "Invoice for " (invoice.period) " (so far)" }
            @if invoice.lines.is_empty() {
                p { "No billable lines this period: invoices list production projects on paid plans." }
            } @else {
                table {
                    caption.visually-hidden { "Invoice lines" }
                    thead { tr { th scope="col" { "Line" } th scope="col" { "Requests" } th scope="col" { "Billable" } th scope="col" { "Monthly fee" } th scope="col" { "Usage" } th scope="col" { "Amount" } } }
                    tbody {
                        @for l in &invoice.lines {
                            tr {
                                td { (l.description) }
                                td { (l.requests) }
                                td { (l.billable_requests) }
                                td { (l.monthly_fee) " " (l.currency.as_str()) }
                                td { (l.usage_amount) " " (l.currency.as_str()) }
                                td { (l.amount) " " (l.currency.as_str()) }
                            }
                        }
                    }
                }
                @for (c, total) in &invoice.totals { p { strong { "Total: " (total) " " (c.as_str()) } } }
            }
        }
    };
    ctx.ok("Billing and usage", body)
}
