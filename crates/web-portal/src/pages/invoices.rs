//! Invoices (issue 22): what is due on the locked production card (a Pay button, or the
//! provider's payment instructions), the workspace's invoices by project and plan, one
//! invoice's printable page, the Pay action, and the staff's list of invoices by state.

use maud::{Markup, html};
use onboarding_core::ids::{InvoiceId, WorkspaceId};
use onboarding_core::invoicing::{InvoiceState, IssuedInvoice};
use onboarding_core::ports::{CheckoutUrls, PaymentMethod};
use poem::http::StatusCode;
use poem::{Request, Response};

use super::macros::{caller_or_redirect, post_ctx};
use crate::WebState;
use crate::http::{Ctx, param, redirect};
use crate::ui::csrf;

fn money(amount: rust_decimal::Decimal, i: &IssuedInvoice) -> String {
    format!("{amount} {}", i.currency.as_str())
}

/// What is due, and how to pay it: shown on the locked production card.
pub fn due(ctx: &Ctx, invoice: Option<&IssuedInvoice>, method: &PaymentMethod) -> Markup {
    let Some(i) = invoice else {
        return html! { p { "No invoice has been issued yet: the API provider issues it at approval." } };
    };
    html! {
        div.payment-due {
            p { strong { (money(i.amount_due(), i)) } " due on invoice "
                a href=(format!("/invoices/{}", i.id)) { code { (i.reference()) } }
                @if i.amount_paid > i.amount_refunded { " (" (money(i.net_paid(), i)) " of " (money(i.total, i)) " paid)" } "." }
            (pay_action(ctx, i, method))
        }
    }
}

fn pay_action(ctx: &Ctx, i: &IssuedInvoice, method: &PaymentMethod) -> Markup {
    html! {
        @match method {
            PaymentMethod::Checkout { provider } => {
                form method="post" action=(format!("/invoices/{}/pay", i.id)) {
                    (csrf(ctx))
                    button.button type="submit" { "Pay " (money(i.amount_due(), i)) }
                    " " span.muted { "You pay on " (provider) "'s secure page." }
                }
            }
            PaymentMethod::Manual { instructions } => {
                p { (instructions) }
                p.muted { "Quote the reference " code { (i.reference()) } ". The API provider records the payment when it arrives; production credentials unlock then." }
            }
        }
    }
}

/// The workspace's issued invoices: one row per invoice line, by project and plan.
pub fn list(invoices: &[IssuedInvoice]) -> Markup {
    html! {
        @if invoices.is_empty() {
            p { "No invoice yet: paid plans issue their first invoice when the subscription is approved." }
        } @else {
            table {
                caption.visually-hidden { "Invoices" }
                thead { tr { th scope="col" { "Invoice" } th scope="col" { "Period" } th scope="col" { "Project" } th scope="col" { "Plan" } th scope="col" { "Total" } th scope="col" { "Due" } th scope="col" { "State" } } }
                tbody {
                    @for i in invoices {
                        tr {
                            td { a href=(format!("/invoices/{}", i.id)) { code { (i.reference()) } } }
                            td { (i.period) }
                            td { @for l in &i.lines { (l.project_name) br; } }
                            td { @for l in &i.lines { (l.plan_name) br; } }
                            td { (money(i.total, i)) }
                            td { (money(i.amount_due(), i)) }
                            td { (state_badge(i.state)) }
                        }
                    }
                }
            }
        }
    }
}

fn state_badge(s: InvoiceState) -> Markup {
    let class = match s {
        InvoiceState::Paid | InvoiceState::Void => "badge badge-passed",
        _ => "badge badge-locked",
    };
    html! { span class=(class) { (s.as_str()) } }
}

/// One invoice: printable (the stylesheet hides navigation when printed).
pub async fn page(state: WebState, req: Request) -> Response {
    let ctx = Ctx::load(&state, &req).await;
    let caller = caller_or_redirect!(ctx);
    let Some(id) = param::<InvoiceId>(&req, "id") else {
        return ctx.not_found();
    };
    let v = match state.portal.billing().invoice_view(caller, id).await {
        Ok(v) => v,
        Err(e) => return ctx.error(e),
    };
    let i = &v.invoice;
    let ws: WorkspaceId = i.workspace_id;
    let returned = req
        .uri()
        .query()
        .is_some_and(|q| q.contains("checkout=done"));
    let body = html! {
        p.breadcrumb.no-print { a href=(format!("/workspaces/{ws}/billing")) { "Billing and usage" } " / Invoice" }
        @if returned && !i.amount_due().is_zero() {
            p.notice role="status" { "Thank you: the payment is being confirmed by the payment processor. This page shows it once it arrives." }
        }
        article.card.invoice aria-labelledby="inv-title" {
            h2 #inv-title { "Invoice " code { (i.reference()) } }
            dl {
                div { dt { "State" } dd { (state_badge(i.state)) } }
                div { dt { "Period" } dd { (i.period) } }
                div { dt { "Issued" } dd { (i.issued_at.format("%Y-%m-%d")) } }
                div { dt { "Due" } dd { (i.due_at.format("%Y-%m-%d")) } }
                @if let Some(p) = i.paid_at { div { dt { "Paid" } dd { (p.format("%Y-%m-%d")) } } }
            }
            table {
                caption.visually-hidden { "Invoice lines" }
                thead { tr { th scope="col" { "Project" } th scope="col" { "Plan" } th scope="col" { "Description" } th scope="col" { "Amount" } } }
                tbody {
                    @for l in &i.lines {
                        tr { td { (l.project_name) } td { (l.plan_name) } td { (l.description) } td { (money(l.amount, i)) } }
                    }
                }
            }
            p { "Total " strong { (money(i.total, i)) } "; paid " (money(i.amount_paid, i))
                @if !i.amount_refunded.is_zero() { ", refunded " (money(i.amount_refunded, i)) }
                "; due " strong { (money(i.amount_due(), i)) } "." }
            @if !v.payments.is_empty() {
                h3 { "Payments" }
                ul { @for p in &v.payments { li { (p.at.format("%Y-%m-%d")) ": " (p.amount) " " (p.currency.as_str()) ", reference " code { (p.reference) } } } }
            }
            @if !v.refunds.is_empty() {
                h3 { "Refunds" }
                ul { @for r in &v.refunds { li { (r.at.format("%Y-%m-%d")) ": " (r.amount) " " (r.currency.as_str()) ", " (r.reference) } } }
            }
        }
        @if !i.amount_due().is_zero() && (v.can_pay || matches!(v.method, PaymentMethod::Manual { .. })) {
            section.card.no-print aria-labelledby="howto" {
                h2 #howto { "How to pay" }
                (pay_action(&ctx, i, &v.method))
            }
        }
        p.no-print { button.button type="button" onclick="window.print()" { "Print" } }
    };
    ctx.ok("Invoice", body)
}

/// Pay: the processor's hosted checkout for what is due.
pub async fn pay(state: WebState, req: Request) -> Response {
    let id = param::<InvoiceId>(&req, "id");
    let (ctx, _form) = post_ctx!(state, req);
    let caller = caller_or_redirect!(ctx);
    let Some(id) = id else { return ctx.not_found() };
    let urls = CheckoutUrls {
        success: format!("/invoices/{id}?checkout=done"),
        cancel: format!("/invoices/{id}"),
    };
    match state.portal.billing().checkout(caller, id, &urls).await {
        Ok(session) => redirect(&session.url),
        Err(e) => ctx.error(e),
    }
}

/// Staff: invoices by state, oldest first.
pub async fn staff_list(state: WebState, req: Request) -> Response {
    let ctx = Ctx::load(&state, &req).await;
    let caller = caller_or_redirect!(ctx);
    let wanted = req
        .uri()
        .query()
        .and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("state=")))
        .and_then(|s| s.parse::<InvoiceState>().ok())
        .unwrap_or(InvoiceState::Open);
    let invoices = match state
        .portal
        .billing()
        .invoices_in_state(caller, wanted, None, 200)
        .await
    {
        Ok(v) => v,
        Err(e) => return ctx.error(e),
    };
    let body = html! {
        nav aria-label="Invoice states" {
            ul.tabs { @for s in InvoiceState::all() {
                li { @if s == wanted { strong aria-current="page" { (s.as_str()) } } @else { a href=(format!("/staff/invoices?state={}", s.as_str())) { (s.as_str()) } } }
            } }
        }
        (list(&invoices))
    };
    ctx.page(
        StatusCode::OK,
        &format!("Invoices: {}", wanted.as_str()),
        body,
    )
}
