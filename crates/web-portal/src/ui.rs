//! The page shell and the components every page shares: the next-step panel, the lanes,
//! the stepper, notices and accessible form fields with their errors beside them.

use chrono::{DateTime, Utc};
use maud::{DOCTYPE, Markup, html};
use onboarding_core::Caller;
use onboarding_core::gates::{GateActor, GateState, GateStatus};
use onboarding_core::next_step::{Lane, NextStep, StepAction, StepActor};
use onboarding_core::pipeline::{Notice, Step, StepState};
use onboarding_core::roles::{Role, StaffRole};

use crate::http::{Ctx, Errs};
use crate::session::CSRF_FIELD;

pub fn layout(ctx: &Ctx, title: &str, body: Markup) -> Markup {
    let session = ctx.session.as_ref();
    let staff = session.and_then(|s| s.staff_role());
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · API Portal" }
                link rel="stylesheet" href="/static/portal.css";
            }
            body {
                a.skip-link href="#main" { "Skip to main content" }
                header.site-header {
                    div.wrap {
                        a.brand href=(if staff.is_some() { "/staff" } else { "/" }) { "API Portal" }
                        nav aria-label="Main" {
                            ul {
                                @match (session, staff) {
                                    (None, _) => {
                                        li { a href="/sign-in" aria-current=[current(ctx, "/sign-in")] { "Sign in" } }
                                        li { a href="/sign-up" aria-current=[current(ctx, "/sign-up")] { "Create an account" } }
                                        li { a href="/staff/sign-in" aria-current=[current(ctx, "/staff/sign-in")] { "Provider staff" } }
                                    }
                                    (Some(_), Some(role)) => {
                                        (crate::pages::inbox::nav(ctx))
                                        @if role == StaffRole::Admin {
                                            li { a href="/staff/plans" aria-current=[current(ctx, "/staff/plans")] { "Plans" } }
                                        }
                                    }
                                    (Some(_), None) => {
                                        li { a href="/" aria-current=[current(ctx, "/")] { "Access" } }
                                    }
                                }
                            }
                        }
                        @if let Some(s) = session {
                            form.sign-out method="post" action="/sign-out" {
                                (csrf(ctx))
                                span.who { (s.name) @if let Some(r) = staff { " (" (r.as_str()) ")" } }
                                button.link-button type="submit" { "Sign out" }
                            }
                        }
                    }
                }
                main #main tabindex="-1" {
                    div.wrap {
                        h1 { (title) }
                        (body)
                    }
                }
                footer.site-footer {
                    div.wrap { p { "Lanes: Docs → Sandbox → Production. " a href="/docs" { "API reference" } } }
                }
            }
        }
    }
}

fn current(ctx: &Ctx, path: &str) -> Option<&'static str> {
    (ctx.path == path).then_some("page")
}

pub fn csrf(ctx: &Ctx) -> Markup {
    html! { input type="hidden" name=(CSRF_FIELD) value=(ctx.csrf); }
}

pub fn role_label(r: Role) -> &'static str {
    match r {
        Role::Owner => "Owner",
        Role::Developer => "Developer",
        Role::TechnicalLead => "Technical lead",
        Role::SecurityOwner => "Security owner",
        Role::Billing => "Billing",
        Role::Compliance => "Compliance",
    }
}

pub fn lane_label(l: Lane) -> &'static str {
    match l {
        Lane::Docs => "Docs",
        Lane::Sandbox => "Sandbox",
        Lane::Production => "Production",
    }
}

pub fn actor_label(a: StepActor) -> String {
    match a {
        StepActor::You => "You".into(),
        StepActor::Member(r) => format!(
            "A workspace member with the {} role (or an owner)",
            role_label(r).to_lowercase()
        ),
        StepActor::Reviewer => "The API provider's reviewers".into(),
        StepActor::Admin => "An API provider admin".into(),
    }
}

pub fn gate_actor_label(a: GateActor) -> String {
    match a {
        GateActor::Member(r) => format!("a member with the {} role", role_label(r).to_lowercase()),
        GateActor::Reviewer => "the provider's reviewers".into(),
    }
}

pub fn action_label(a: StepAction) -> &'static str {
    use StepAction::*;
    match a {
        SignIn => "Sign in",
        CreateOrJoinWorkspace => "Create or join a workspace",
        AcceptInvitation => "Accept the invitation",
        AwaitJoinApproval => "Wait for an owner to approve your request",
        CreateSandboxProject => "Create a sandbox project",
        Subscribe => "Subscribe the project to a plan",
        AwaitSandboxAccess => "Wait for sandbox access",
        CreateSandboxCredential => "Create a sandbox credential",
        MakeFirstCall => "Make a first protected call",
        VerifyWebhookEndpoint => "Connect and verify a webhook endpoint",
        SubmitForReview => "Submit for Review",
        ClearGate => "Clear the remaining gate",
        AwaitReview => "Production review in progress",
        CloneToProduction => "Clone to production",
        CompletePayment => "Complete payment",
        CreateProductionCredential => "Create the production credential",
        CompleteOperatingPass => "Complete the first live operating pass",
        OpenDashboard => "Open the dashboard",
        ReadRejection => "Read the rejection notes",
    }
}

/// The prominent "Next step" panel: lane, action, who must act, and a link to act.
pub fn next_step(ns: &NextStep, go: Option<(&str, String)>) -> Markup {
    html! {
        section.next-step aria-labelledby="next-step-title" {
            h2 #next-step-title { "Next step" }
            p.next-step-title { (ns.title) }
            dl.next-step-facts {
                div { dt { "Lane" } dd { (lane_label(ns.lane)) } }
                div { dt { "Action" } dd { (action_label(ns.action)) } }
                div { dt { "Who must act" } dd { (actor_label(ns.actor)) } }
                @if let Some(g) = ns.blocking_gate {
                    div { dt { "Remaining gate" } dd { (g.title()) } }
                }
            }
            @if let Some((label, href)) = go {
                p { a.button href=(href) { (label) } }
            }
        }
    }
}

/// The lanes Docs → Sandbox → Production, with the current posture marked.
pub fn lanes(current: Lane) -> Markup {
    let all = [Lane::Docs, Lane::Sandbox, Lane::Production];
    let idx = all.iter().position(|l| *l == current).unwrap_or(0);
    html! {
        nav.lanes aria-label="Lanes" {
            ol {
                @for (i, l) in all.iter().enumerate() {
                    li.lane.done[i < idx].current[i == idx] aria-current=[(i == idx).then_some("step")] {
                        span.lane-name { (lane_label(*l)) }
                        span.visually-hidden {
                            @if i < idx { " (done)" } @else if i == idx { " (current lane)" } @else { " (ahead)" }
                        }
                    }
                }
            }
        }
    }
}

/// The subscription's stepper: Sandbox, In Review, Production; a rejected review is marked.
pub fn stepper(steps: &[Step]) -> Markup {
    html! {
        nav.stepper aria-label="Pipeline" {
            ol {
                @for s in steps {
                    @let (class, text) = match s.state {
                        StepState::Complete => ("complete", "complete"),
                        StepState::Current => ("current", "current step"),
                        StepState::Upcoming => ("upcoming", "upcoming"),
                        StepState::Rejected => ("rejected", "rejected"),
                    };
                    li class=(format!("step {class}")) aria-current=[(s.state == StepState::Current).then_some("step")] {
                        span.step-label { (s.label) }
                        span.step-state { (text) }
                    }
                }
            }
        }
    }
}

pub fn notice(n: &Notice) -> Markup {
    let (class, notes) = match n {
        Notice::Approved => ("notice-ok", None),
        Notice::SubmissionRejected { notes } => ("notice-error", notes.as_ref()),
        Notice::ChangesRequested { notes } => ("notice-warn", Some(notes)),
    };
    html! {
        div class=(format!("notice {class}")) role="alert" {
            h2 { (n.title()) }
            @match n {
                Notice::Approved => p { "Your integration was approved. Production credentials can be created once the production card below unlocks." },
                Notice::SubmissionRejected { .. } => p { "The API provider turned this submission down." },
                Notice::ChangesRequested { .. } => p { "The reviewer asked for changes. Adjust the integration in sandbox and submit for review again." },
            }
            @if let Some(n) = notes {
                h3 { "Reviewer's notes" }
                p.notes { (n.as_str()) }
            }
        }
    }
}

pub fn gate_list(gates: &[GateStatus]) -> Markup {
    html! {
        ol.gates {
            @for g in gates {
                @let (class, state) = match &g.state {
                    GateState::Passed => ("passed", "Passed"),
                    GateState::Pending { .. } => ("pending", "Pending"),
                    GateState::Failed { .. } => ("failed", "Failed"),
                };
                li class=(format!("gate {class}")) {
                    span.gate-title { (g.gate.title()) }
                    " "
                    span class=(format!("badge badge-{class}")) { (state) }
                    @match &g.state {
                        GateState::Passed => {},
                        GateState::Pending { missing, actor } => {
                            p.gate-missing { "Missing: " (missing) ". Who must act: " (gate_actor_label(*actor)) "." }
                        }
                        GateState::Failed { reason, actor } => {
                            p.gate-missing { "Failed: " (reason) ". Who must act: " (gate_actor_label(*actor)) "." }
                        }
                    }
                }
            }
        }
    }
}

/// A general error at the top of a form, and a summary of the field errors.
pub fn form_errors(e: Errs) -> Markup {
    let Some(fe) = e.0 else { return html! {} };
    if fe.fields.is_empty() && fe.general.is_none() {
        return html! {};
    }
    html! {
        div.error-summary role="alert" {
            h3 { "There is a problem" }
            ul {
                @if let Some(g) = &fe.general { li { (g) } }
                @for f in &fe.fields {
                    li { a href=(format!("#{}", field_id(&fe.form, &f.field))) { (f.reason) } }
                }
            }
        }
    }
}

/// The id of an input: the form's id and the field name, with characters ids dislike replaced.
pub fn field_id(form: &str, name: &str) -> String {
    let clean: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    format!("{form}-{clean}")
}

fn error_lines(id: &str, errs: &[&str]) -> Markup {
    html! {
        @if !errs.is_empty() {
            p.field-error id=(format!("{id}-error")) {
                span.visually-hidden { "Error: " }
                @for (i, e) in errs.iter().enumerate() { @if i > 0 { " " } (e) }
            }
        }
    }
}

pub struct Field<'a> {
    pub form: &'a str,
    pub name: &'a str,
    pub label: &'a str,
    pub kind: &'a str,
    pub value: &'a str,
    pub help: Option<&'a str>,
    pub required: bool,
    /// Also show errors for these core field names (e.g. `grace_period_seconds`).
    pub aliases: &'a [&'a str],
}

impl<'a> Field<'a> {
    pub fn new(form: &'a str, name: &'a str, label: &'a str) -> Self {
        Field {
            form,
            name,
            label,
            kind: "text",
            value: "",
            help: None,
            required: false,
            aliases: &[],
        }
    }
    pub fn kind(mut self, k: &'a str) -> Self {
        self.kind = k;
        self
    }
    pub fn value(mut self, v: &'a str) -> Self {
        self.value = v;
        self
    }
    pub fn help(mut self, h: &'a str) -> Self {
        self.help = Some(h);
        self
    }
    pub fn required(mut self) -> Self {
        self.required = true;
        self
    }
    pub fn aliases(mut self, a: &'a [&'a str]) -> Self {
        self.aliases = a;
        self
    }

    fn errors(&self, e: Errs<'a>) -> Vec<&'a str> {
        let mut v = e.for_input(self.name);
        for a in self.aliases {
            v.extend(e.for_input(a));
        }
        v
    }

    fn described_by(&self, id: &str, has_err: bool) -> Option<String> {
        let mut ids = Vec::new();
        if self.help.is_some() {
            ids.push(format!("{id}-help"));
        }
        if has_err {
            ids.push(format!("{id}-error"));
        }
        (!ids.is_empty()).then(|| ids.join(" "))
    }

    /// `<label>` + `<input>` with help and errors.
    pub fn input(&self, e: Errs<'a>) -> Markup {
        let id = field_id(self.form, self.name);
        let errs = self.errors(e);
        let value = if self.kind == "password" {
            ""
        } else {
            e.value(self.name).unwrap_or(self.value)
        };
        html! {
            div.field.has-error[!errs.is_empty()] {
                label for=(id) { (self.label) @if self.required { span.req aria-hidden="true" { " *" } } }
                @if let Some(h) = self.help { p.help id=(format!("{id}-help")) { (h) } }
                (error_lines(&id, &errs))
                input id=(id) name=(self.name) type=(self.kind) value=(value)
                    required[self.required]
                    aria-invalid=[(!errs.is_empty()).then_some("true")]
                    aria-describedby=[self.described_by(&id, !errs.is_empty())]
                    autocomplete=[match self.kind { "password" => Some("current-password"), "email" => Some("email"), _ => None }];
            }
        }
    }

    pub fn textarea(&self, e: Errs<'a>, rows: u32) -> Markup {
        let id = field_id(self.form, self.name);
        let errs = self.errors(e);
        let value = e.value(self.name).unwrap_or(self.value);
        html! {
            div.field.has-error[!errs.is_empty()] {
                label for=(id) { (self.label) @if self.required { span.req aria-hidden="true" { " *" } } }
                @if let Some(h) = self.help { p.help id=(format!("{id}-help")) { (h) } }
                (error_lines(&id, &errs))
                textarea id=(id) name=(self.name) rows=(rows)
                    required[self.required]
                    aria-invalid=[(!errs.is_empty()).then_some("true")]
                    aria-describedby=[self.described_by(&id, !errs.is_empty())] { (value) }
            }
        }
    }

    /// A `<select>` of (value, label) options.
    pub fn select(&self, e: Errs<'a>, options: &[(String, String)]) -> Markup {
        let id = field_id(self.form, self.name);
        let errs = self.errors(e);
        let value = e.value(self.name).unwrap_or(self.value);
        html! {
            div.field.has-error[!errs.is_empty()] {
                label for=(id) { (self.label) @if self.required { span.req aria-hidden="true" { " *" } } }
                @if let Some(h) = self.help { p.help id=(format!("{id}-help")) { (h) } }
                (error_lines(&id, &errs))
                select id=(id) name=(self.name) required[self.required]
                    aria-invalid=[(!errs.is_empty()).then_some("true")]
                    aria-describedby=[self.described_by(&id, !errs.is_empty())] {
                    @for (v, l) in options {
                        option value=(v) selected[v == value] { (l) }
                    }
                }
            }
        }
    }

    /// A group of checkboxes sharing one name, in a fieldset with a legend.
    pub fn checkboxes(
        &self,
        e: Errs<'a>,
        options: &[(String, String)],
        checked: &[String],
    ) -> Markup {
        let id = field_id(self.form, self.name);
        let errs = self.errors(e);
        let posted = e.values(self.name);
        html! {
            fieldset.field.checkbox-group.has-error[!errs.is_empty()] id=(id)
                aria-describedby=[self.described_by(&id, !errs.is_empty())] {
                legend { (self.label) @if self.required { span.req aria-hidden="true" { " *" } } }
                @if let Some(h) = self.help { p.help id=(format!("{id}-help")) { (h) } }
                (error_lines(&id, &errs))
                @for (i, (v, l)) in options.iter().enumerate() {
                    @let cid = format!("{id}-{i}");
                    @let on = match &posted { Some(p) => p.contains(&v.as_str()), None => checked.contains(v) };
                    div.check {
                        input type="checkbox" id=(cid) name=(self.name) value=(v) checked[on];
                        label for=(cid) { (l) }
                    }
                }
            }
        }
    }

    /// One checkbox with its own label (value `true`).
    pub fn checkbox(&self, e: Errs<'a>, checked: bool) -> Markup {
        let id = field_id(self.form, self.name);
        let errs = self.errors(e);
        let on = match e.0 {
            Some(fe) => fe.values.has(self.name),
            None => checked,
        };
        html! {
            div.field.check.has-error[!errs.is_empty()] {
                (error_lines(&id, &errs))
                input type="checkbox" id=(id) name=(self.name) value="true" checked[on]
                    aria-invalid=[(!errs.is_empty()).then_some("true")]
                    aria-describedby=[self.described_by(&id, !errs.is_empty())];
                label for=(id) { (self.label) @if self.required { span.req aria-hidden="true" { " *" } } }
                @if let Some(h) = self.help { p.help id=(format!("{id}-help")) { (h) } }
            }
        }
    }
}

pub fn when(t: DateTime<Utc>) -> Markup {
    html! { time datetime=(t.to_rfc3339()) { (t.format("%Y-%m-%d %H:%M UTC")) } }
}

pub fn age(seconds: i64) -> String {
    let s = seconds.max(0);
    if s < 3600 {
        format!("{} min", s / 60)
    } else if s < 86_400 {
        format!("{} h", s / 3600)
    } else {
        format!("{} d {} h", s / 86_400, (s % 86_400) / 3600)
    }
}

pub fn is_staff(c: Caller) -> bool {
    matches!(c, Caller::Staff { .. })
}

/// A POST button in its own small form (revoke, approve...).
pub fn action_button(ctx: &Ctx, action: &str, label: &str, class: &str) -> Markup {
    html! {
        form.inline method="post" action=(action) {
            (csrf(ctx))
            button type="submit" class=(class) { (label) }
        }
    }
}
