//! The staff inbox: the go-live queue (`/staff`) and the other queues that wait on provider
//! staff (`/staff/inbox/:queue`), each oldest first, filterable by product, plan and
//! organization, paged; and the counts in the staff navigation. Staff reach every
//! subscription from a row: nobody types an id.

use chrono::{DateTime, Utc};
use maud::{Markup, html};
use onboarding_core::Caller;
use onboarding_core::gates::GateState;
use onboarding_core::ids::{PlanId, ProductId, SubscriptionId, WorkspaceId};
use onboarding_core::inbox::InboxQueue;
use onboarding_core::plan::Pricing;
use onboarding_core::ports::QueueCursor;
use onboarding_core::roles::StaffRole;
use onboarding_core::services::{InboxEntry, InboxFilter};
use onboarding_core::values::FieldError;
use poem::{Request, Response};

use super::exports::query_form;
use super::staff::staff_caller;
use crate::WebState;
use crate::http::{Ctx, Errs, FormData, FormErrors};
use crate::ui::{self, Field, form_errors};

/// Rows per page.
const PAGE: u64 = 50;

fn href(q: InboxQueue) -> String {
    match q {
        InboxQueue::InReview => "/staff".into(),
        q => format!("/staff/inbox/{}", q.as_str()),
    }
}

fn nav_label(q: InboxQueue) -> &'static str {
    match q {
        InboxQueue::InReview => "Go-live queue",
        InboxQueue::SandboxAccess => "Sandbox access",
        InboxQueue::AwaitingPayment => "Awaiting payment",
        InboxQueue::ChangesRequested => "Changes requested",
        _ => q.title(),
    }
}

/// The staff navigation's queue links, each with its count.
pub fn nav(ctx: &Ctx) -> Markup {
    html! {
        @for q in InboxQueue::ALL {
            @let to = href(*q);
            li { a href=(to) aria-current=[(ctx.path == to).then_some("page")] {
                (nav_label(*q))
                @if let Some(Ok(c)) = &ctx.inbox { " " span.count { "(" (c.of(*q)) ")" } }
            } }
        }
        @if let Some(Err(e)) = &ctx.inbox {
            li { span.error role="status" { "Queue counts unavailable: " (e) } }
        }
    }
}

/// The keyset cursor of a row: `<nanoseconds since 1970>~<subscription id>`, as the API's.
fn cursor_of(at: DateTime<Utc>, id: SubscriptionId) -> String {
    format!("{}~{id}", at.timestamp_nanos_opt().unwrap_or(0))
}

fn parse_cursor(c: &str) -> Option<QueueCursor> {
    let (at, id) = c.split_once('~')?;
    Some((
        DateTime::from_timestamp_nanos(at.parse().ok()?),
        id.parse().ok()?,
    ))
}

/// The filters and cursor of the query string; a malformed one is refused beside its field.
fn read_query(q: &FormData) -> Result<(InboxFilter, Option<QueueCursor>), FormErrors> {
    let mut fe = FormErrors::new("filter", q.clone());
    fn id<T: std::str::FromStr>(
        q: &FormData,
        errs: &mut Vec<FieldError>,
        name: &str,
        what: &str,
    ) -> Option<T> {
        match q.text(name).trim() {
            "" => None,
            v => v.parse().ok().or_else(|| {
                errs.push(FieldError::new(name, format!("not {what} id")));
                None
            }),
        }
    }
    let filter = InboxFilter {
        product: id::<ProductId>(q, &mut fe.fields, "product", "an API product"),
        plan: id::<PlanId>(q, &mut fe.fields, "plan", "a plan"),
        workspace: id::<WorkspaceId>(q, &mut fe.fields, "workspace", "an organization"),
    };
    let after = match q.text("after").trim() {
        "" => None,
        c => parse_cursor(c).or_else(|| {
            fe.fields.push(FieldError::new(
                "after",
                "not a page link of this queue; start from the first page",
            ));
            None
        }),
    };
    if fe.fields.is_empty() {
        Ok((filter, after))
    } else {
        Err(fe)
    }
}

/// A link to this queue with these filters (and a cursor).
fn link(queue: InboxQueue, f: &InboxFilter, after: Option<&str>) -> String {
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    if let Some(p) = f.product {
        q.append_pair("product", &p.to_string());
    }
    if let Some(p) = f.plan {
        q.append_pair("plan", &p.to_string());
    }
    if let Some(w) = f.workspace {
        q.append_pair("workspace", &w.to_string());
    }
    if let Some(a) = after {
        q.append_pair("after", a);
    }
    let q = q.finish();
    match q.is_empty() {
        true => href(queue),
        false => format!("{}?{q}", href(queue)),
    }
}

/// `/staff`: the go-live queue.
pub async fn go_live(state: WebState, req: Request) -> Response {
    show(state, req, Some(InboxQueue::InReview)).await
}

/// `/staff/inbox/:queue`.
pub async fn queue(state: WebState, req: Request) -> Response {
    let q = req.raw_path_param("queue").and_then(InboxQueue::parse);
    show(state, req, q).await
}

async fn show(state: WebState, req: Request, queue: Option<InboxQueue>) -> Response {
    let ctx = Ctx::load(&state, &req).await;
    let caller = match staff_caller(&ctx) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let Some(queue) = queue else {
        return ctx.not_found();
    };
    let query = query_form(&req);
    let (filter, after, fe) = match read_query(&query) {
        Ok((f, a)) => (f, a, None),
        Err(fe) => (InboxFilter::default(), None, Some(fe)),
    };
    let p = &state.portal;
    let (entries, counts) = match (
        p.pipeline().inbox(caller, queue, filter, after, PAGE).await,
        p.pipeline().inbox_counts(caller, filter).await,
    ) {
        (Ok(e), Ok(c)) => (e, c),
        (Err(e), _) | (_, Err(e)) => match FormErrors::from_service("filter", query, e) {
            Ok(fe) => return render_refused(&ctx, queue, fe),
            Err(e) => return ctx.error(e),
        },
    };
    let (products, plans) = match (p.catalog().products().await, p.catalog().plans().await) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => return ctx.error(e),
    };
    let workspace_name = match filter.workspace {
        Some(w) => match p.workspaces().workspace_overview(caller, w).await {
            Ok(o) => Some(o.workspace.name.to_string()),
            Err(e) => return ctx.error(e),
        },
        None => None,
    };
    // The go-live queue leads with the oldest submission's next step.
    let oldest = match (queue, entries.first()) {
        (InboxQueue::InReview, Some(e)) if after.is_none() => {
            match p
                .pipeline()
                .subscription_view(caller, e.subscription.id)
                .await
            {
                Ok(v) => Some((v.next_step, e)),
                Err(e) => return ctx.error(e),
            }
        }
        _ => None,
    };
    let admin = matches!(
        caller,
        Caller::Staff {
            role: StaffRole::Admin,
            ..
        }
    );
    let total = counts.of(queue);
    let next = (entries.len() as u64 == PAGE)
        .then(|| entries.last())
        .flatten()
        .map(|e| cursor_of(e.waiting_since, e.subscription.id));
    let filtered = filter != InboxFilter::default();
    let fe = fe.as_ref();
    let e = Errs::of(fe, "filter");
    let product_options: Vec<(String, String)> =
        std::iter::once((String::new(), "All products".into()))
            .chain(
                products
                    .iter()
                    .map(|x| (x.id.to_string(), x.name.to_string())),
            )
            .collect();
    let plan_options: Vec<(String, String)> = std::iter::once((String::new(), "All plans".into()))
        .chain(plans.iter().map(|x| {
            let product = products
                .iter()
                .find(|p| p.id == x.product_id)
                .map_or("", |p| p.name.as_str());
            (x.id.to_string(), format!("{product} — {}", x.name))
        }))
        .collect();
    let product_value = filter.product.map(|x| x.to_string()).unwrap_or_default();
    let plan_value = filter.plan.map(|x| x.to_string()).unwrap_or_default();
    let body = html! {
        p { (queue.describe()) }
        @if let Some((ns, e)) = &oldest {
            p.muted { "The oldest submission: " (e.workspace_name) " / " (e.project_name) "." }
            (ui::next_step(ns, Some(("Review the oldest submission", format!("/staff/subscriptions/{}", e.subscription.id)))))
        }
        form.filters method="get" action=(href(queue)) aria-label="Filter the queue" {
            (form_errors(e))
            (Field::new("filter", "product", "API product").value(&product_value).select(e, &product_options))
            (Field::new("filter", "plan", "Plan").value(&plan_value).select(e, &plan_options))
            @if let (Some(w), Some(name)) = (filter.workspace, &workspace_name) {
                input type="hidden" name="workspace" value=(w);
                p.filter-chip { "Organization: " strong { (name) } " "
                    a href=(link(queue, &InboxFilter { workspace: None, ..filter }, None)) { "Show every organization" } }
            }
            button.button.secondary type="submit" { "Filter" }
            @if filtered { " " a href=(href(queue)) { "Clear filters" } }
        }
        section.card aria-labelledby="queue-title" {
            h2 #queue-title { (queue.title()) " (" (total) ")" }
            @if entries.is_empty() {
                p { (empty_text(queue)) @if filtered { " (with these filters)" } }
            } @else {
                table.queue {
                    caption.visually-hidden { (queue.title()) ", oldest first" }
                    thead { tr {
                        th scope="col" { "Waiting" } th scope="col" { "Organization" } th scope="col" { "Project" }
                        th scope="col" { "Plan" }
                        @match queue {
                            InboxQueue::InReview => { th scope="col" { "Gates" } th scope="col" { "Remaining gate" } }
                            InboxQueue::AwaitingPayment => { th scope="col" { "Monthly fee" } }
                            InboxQueue::ChangesRequested => { th scope="col" { "Reviewer's notes" } }
                            _ => {}
                        }
                        th scope="col" { span.visually-hidden { "Open" } }
                    } }
                    tbody {
                        @for r in &entries { (row(queue, r, &filter, admin)) }
                    }
                }
            }
            @if after.is_some() || next.is_some() {
                nav.pager aria-label="Pages" {
                    @if after.is_some() { a href=(link(queue, &filter, None)) { "First page" } " " }
                    @if let Some(c) = &next { a rel="next" href=(link(queue, &filter, Some(c))) { "Next page" } }
                }
            }
        }
    };
    let status = fe.map_or(poem::http::StatusCode::OK, |f| f.status());
    ctx.page(status, nav_label(queue), body)
}

/// A filter the core refused (an id of nothing): the page says which, and lists nothing.
fn render_refused(ctx: &Ctx, queue: InboxQueue, fe: FormErrors) -> Response {
    let e = Errs::of(Some(&fe), "filter");
    let body = html! {
        p { (queue.describe()) }
        (form_errors(e))
        p { a href=(href(queue)) { "Show the whole queue" } }
    };
    ctx.page(fe.status(), nav_label(queue), body)
}

fn empty_text(q: InboxQueue) -> &'static str {
    match q {
        InboxQueue::InReview => "The queue is empty: no submission is waiting for review.",
        InboxQueue::SandboxAccess => "No sandbox access request is waiting for a decision.",
        InboxQueue::AwaitingPayment => "No approved subscription is waiting for payment.",
        InboxQueue::ChangesRequested => {
            "No submission sent back with Changes Requested is waiting for the partner."
        }
        _ => "Nothing is waiting here.",
    }
}

fn row(queue: InboxQueue, r: &InboxEntry, filter: &InboxFilter, admin: bool) -> Markup {
    let s = &r.subscription;
    let open = format!("/staff/subscriptions/{}", s.id);
    let action = match queue {
        InboxQueue::InReview => "Review",
        InboxQueue::SandboxAccess => "Grant or decline",
        InboxQueue::AwaitingPayment if admin => "Confirm payment",
        _ => "Open",
    };
    let only = InboxFilter {
        workspace: Some(s.workspace_id),
        ..*filter
    };
    html! {
        tr {
            td { (ui::age(r.age_seconds)) br; small { (ui::when(r.waiting_since)) } }
            td {
                (r.workspace_name)
                @if filter.workspace.is_none() {
                    br; small { a href=(link(queue, &only, None)) { "Only this organization" span.visually-hidden { ": " (r.workspace_name) } } }
                }
            }
            td { (r.project_name) }
            td { (r.plan_name) br; small.muted { (r.product_name) } }
            @match queue {
                InboxQueue::InReview => {
                    @if let Some(g) = &r.gates {
                        td { (g.passed_count()) "/" (g.gates.len()) " passed" }
                        td {
                            @match g.remaining_gate() {
                                Some(g) => {
                                    strong { (g.gate.title()) }
                                    @match &g.state {
                                        GateState::Pending { missing, actor } | GateState::Failed { reason: missing, actor } => {
                                            br; small { (missing) " — " (ui::gate_actor_label(*actor)) }
                                        }
                                        GateState::Passed => {}
                                    }
                                }
                                None => span.badge.badge-passed { "all passed: ready to approve" },
                            }
                        }
                    } @else { td {} td {} }
                }
                InboxQueue::AwaitingPayment => {
                    td { @match &r.pricing {
                        Some(Pricing::Paid { currency, monthly_fee, .. }) => { (monthly_fee) " " (currency.as_str()) }
                        _ => "—",
                    } }
                }
                InboxQueue::ChangesRequested => {
                    td { @if let Some(n) = &r.notes { (n.as_str()) } }
                }
                _ => {}
            }
            td { a href=(open) { (action) span.visually-hidden { " " (r.workspace_name) " / " (r.project_name) } } }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_link_round_trips_its_cursor() {
        let id: SubscriptionId = "sub_01JDQ000000000000000000000".parse().unwrap();
        let at = DateTime::from_timestamp_nanos(1_790_000_000_123_456_789);
        assert_eq!(parse_cursor(&cursor_of(at, id)), Some((at, id)));
        assert_eq!(parse_cursor("yesterday"), None);
    }
}
