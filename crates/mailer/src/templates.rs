//! The e-mail of each notification kind: one [`Content`] per kind, rendered as plain text and
//! as HTML (maud escapes every value). Links are built from the configured public URL; the
//! only secrets a message carries are the single-use tokens of its own links.

use maud::{DOCTYPE, html};
use onboarding_core::notification::NotificationKind;
use onboarding_core::services::OutgoingMail;
use serde_json::Value;

/// Who sends, and where links point.
#[derive(Debug, Clone)]
pub struct Site {
    /// The provider's name, shown in every subject and signature.
    pub provider: String,
    /// The portal's public URL, without a trailing slash (`https://developers.example.com`).
    pub base_url: String,
}

/// One message's words, before rendering.
#[derive(Debug, Clone, PartialEq)]
pub struct Content {
    /// The subject line.
    pub subject: String,
    /// Paragraphs of the body.
    pub paragraphs: Vec<String>,
    /// Text quoted as it was written (a reviewer's notes).
    pub quote: Option<String>,
    /// The one thing to do: a label and an absolute URL.
    pub action: Option<(String, String)>,
}

/// A rendered message.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    /// The subject line.
    pub subject: String,
    /// The `text/plain` part.
    pub text: String,
    /// The `text/html` part.
    pub html: String,
    /// The one-click unsubscribe URL of an optional kind (RFC 8058).
    pub unsubscribe: Option<String>,
}

fn s<'a>(d: &'a Value, key: &str) -> &'a str {
    d.get(key).and_then(Value::as_str).unwrap_or("")
}

fn roles(d: &Value) -> String {
    match d.get("roles").and_then(Value::as_array) {
        Some(r) => r
            .iter()
            .filter_map(Value::as_str)
            .map(|r| r.replace('_', " "))
            .collect::<Vec<_>>()
            .join(", "),
        None => String::new(),
    }
}

/// The words of a notification's e-mail.
pub fn content(mail: &OutgoingMail, site: &Site) -> Content {
    use NotificationKind::*;
    let n = &mail.notification;
    let d = &n.data;
    let base = &site.base_url;
    let ws = s(d, "workspace");
    let sub = format!("{base}/subscriptions/{}", s(d, "subscription_id"));
    let plan_line = format!(
        "Project {} on plan {} ({ws}).",
        s(d, "project"),
        s(d, "plan")
    );
    let token_link = |path: &str| {
        mail.link_token
            .as_deref()
            .map(|t| format!("{base}{path}?token={t}"))
    };
    let c = |subject: String, paragraphs: Vec<String>, quote, action| Content {
        subject,
        paragraphs,
        quote,
        action,
    };
    let notes = d.get("notes").and_then(Value::as_str).map(str::to_owned);
    match n.kind {
        Invitation => c(
            format!("You are invited to join {ws}"),
            vec![
                format!(
                    "{} invited you to the {ws} workspace as {}.",
                    d.get("invited_by")
                        .and_then(Value::as_str)
                        .unwrap_or("An owner"),
                    roles(d)
                ),
                format!(
                    "Sign in (or sign up) as {} to accept. The invitation expires on {}.",
                    n.to.email,
                    s(d, "expires_at").get(..10).unwrap_or("")
                ),
            ],
            None,
            Some((
                "Accept the invitation".into(),
                format!("{base}/invitations/{}", s(d, "invitation_id")),
            )),
        ),
        JoinRequested => c(
            format!("{} asks to join {ws}", s(d, "member")),
            vec![format!(
                "{} ({}) asked to join the {ws} workspace. As an owner you approve or decline.",
                s(d, "member"),
                s(d, "member_email")
            )],
            None,
            Some((
                "Review the request".into(),
                format!("{base}/workspaces/{}", s(d, "workspace_id")),
            )),
        ),
        JoinDecided => {
            let approved = d.get("approved").and_then(Value::as_bool) == Some(true);
            c(
                if approved {
                    format!("You joined {ws}")
                } else {
                    format!("Your request to join {ws} was declined")
                },
                vec![if approved {
                    format!("An owner approved your request; your roles: {}.", roles(d))
                } else {
                    "An owner declined your request to join.".into()
                }],
                None,
                Some(("Open the portal".into(), format!("{base}/"))),
            )
        }
        RolesChanged => c(
            format!("Your roles in {ws} changed"),
            vec![format!(
                "An owner changed your roles in {ws} to: {}. If you did not expect this, \
                 contact the workspace's owners.",
                roles(d)
            )],
            None,
            Some((
                "Open the workspace".into(),
                format!("{base}/workspaces/{}", s(d, "workspace_id")),
            )),
        ),
        Submitted => c(
            format!("New submission for review: {} ({ws})", s(d, "plan")),
            vec![plan_line, "It waits in the go-live queue.".into()],
            None,
            Some((
                "Review it".into(),
                format!("{base}/staff/subscriptions/{}", s(d, "subscription_id")),
            )),
        ),
        ChangesRequested => c(
            format!("Changes Requested: {} ({ws})", s(d, "plan")),
            vec![
                plan_line,
                "A reviewer asked for changes before production:".into(),
            ],
            notes,
            Some(("See what to change".into(), sub)),
        ),
        Approved => c(
            format!("Approved for production: {} ({ws})", s(d, "plan")),
            vec![
                plan_line,
                "Your subscription is approved: you can now clone to production and create \
                 production credentials."
                    .into(),
            ],
            None,
            Some(("Go to production".into(), sub)),
        ),
        Rejected => c(
            format!("Rejected: {} ({ws})", s(d, "plan")),
            vec![plan_line, "A reviewer rejected the submission.".into()],
            notes,
            Some(("See the decision".into(), sub)),
        ),
        SandboxAccessGranted => c(
            format!("Sandbox access granted: {} ({ws})", s(d, "plan")),
            vec![plan_line, "You can now create sandbox credentials.".into()],
            None,
            Some(("Create a sandbox key".into(), sub)),
        ),
        SandboxAccessDeclined => c(
            format!("Sandbox access declined: {} ({ws})", s(d, "plan")),
            vec![plan_line],
            notes,
            Some(("See the decision".into(), sub)),
        ),
        PasswordReset => c(
            format!("Reset your {} password", site.provider),
            vec![
                "Someone (hopefully you) asked to reset the password of this account. The link \
                 works once, within an hour."
                    .into(),
                "If you did not ask, ignore this e-mail: your password stays as it is.".into(),
            ],
            None,
            token_link("/reset-password").map(|u| ("Choose a new password".into(), u)),
        ),
        VerifyEmail => c(
            format!("Confirm your e-mail address for {}", site.provider),
            vec!["Confirm that this address is yours. The link works once.".into()],
            None,
            token_link("/verify-email").map(|u| ("Confirm my address".into(), u)),
        ),
        PasswordChanged => c(
            format!("Your {} password was changed", site.provider),
            vec![
                "The password of this account was changed and every session was signed out. \
                 If this was not you, reset your password now."
                    .into(),
            ],
            None,
            Some((
                "Reset my password".into(),
                format!("{base}/forgot-password"),
            )),
        ),
        EmailChanged => c(
            format!("Your {} sign-in address is changing", site.provider),
            vec![format!(
                "A change of this account's sign-in address to {} was asked for. If this was \
                 not you, reset your password now.",
                s(d, "new_email")
            )],
            None,
            Some((
                "Reset my password".into(),
                format!("{base}/forgot-password"),
            )),
        ),
        // Raised by the credential, metering, webhook and payment use cases; their data
        // names the project.
        other => c(
            format!("{}: {}", title(other), ws),
            vec![format!("{} in the {ws} workspace.", title(other))],
            None,
            Some(("Open the portal".into(), format!("{base}/"))),
        ),
    }
}

fn title(kind: NotificationKind) -> &'static str {
    use NotificationKind::*;
    match kind {
        CredentialRotated => "A credential was rotated",
        AlertCrossed => "An alert threshold was crossed",
        EndpointDisabled => "A webhook endpoint was disabled",
        PaymentRequired => "Payment is required",
        PaymentReceived => "Payment received",
        _ => "Notification",
    }
}

/// Renders a notification's e-mail: text and HTML from the same words.
pub fn render(mail: &OutgoingMail, site: &Site) -> Rendered {
    let c = content(mail, site);
    let unsubscribe = mail
        .unsubscribe_token
        .as_deref()
        .map(|t| format!("{}/unsubscribe?token={t}", site.base_url));
    let mut text = String::new();
    for p in &c.paragraphs {
        text.push_str(p);
        text.push_str("\n\n");
    }
    if let Some(q) = &c.quote {
        for line in q.lines() {
            text.push_str("> ");
            text.push_str(line);
            text.push('\n');
        }
        text.push('\n');
    }
    if let Some((label, url)) = &c.action {
        text.push_str(&format!("{label}: {url}\n\n"));
    }
    text.push_str(&format!("-- \n{}\n", site.provider));
    if let Some(u) = &unsubscribe {
        text.push_str(&format!(
            "You get this e-mail because of your notification settings. Stop these: {u}\n"
        ));
    }
    let html = html! {
        (DOCTYPE)
        html lang="en" {
            head { meta charset="utf-8"; title { (c.subject) } }
            body style="font-family: sans-serif; max-width: 40em; color: #1b1b1b" {
                @for p in &c.paragraphs { p { (p) } }
                @if let Some(q) = &c.quote {
                    blockquote style="border-left: 3px solid #999; margin: 0; padding-left: 1em; white-space: pre-wrap" { (q) }
                }
                @if let Some((label, url)) = &c.action {
                    p { a href=(url) style="font-weight: bold" { (label) } }
                    p style="font-size: small; color: #555" { "Or paste this address in your browser: " (url) }
                }
                hr;
                p style="font-size: small; color: #555" {
                    (site.provider)
                    @if let Some(u) = &unsubscribe {
                        " · " a href=(u) { "Stop e-mails like this one" }
                    }
                }
            }
        }
    }
    .into_string();
    Rendered {
        subject: format!("[{}] {}", site.provider, c.subject),
        text,
        html,
        unsubscribe,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, Utc};
    use onboarding_core::ids::NotificationId;
    use onboarding_core::notification::{Addressee, MailStatus, Notification};
    use onboarding_core::values::Email;

    fn mail(kind: NotificationKind, data: Value, token: Option<&str>) -> OutgoingMail {
        OutgoingMail {
            notification: Notification {
                id: NotificationId::from_ulid(ulid::Ulid::from_parts(1, 1)),
                kind,
                to: Addressee {
                    principal: None,
                    email: Email::new("ada@example.com").unwrap(),
                },
                workspace_id: None,
                data,
                created_at: DateTime::<Utc>::UNIX_EPOCH,
                read_at: None,
                mail_status: MailStatus::Pending,
                attempts: 0,
                next_attempt_at: DateTime::<Utc>::UNIX_EPOCH,
                last_error: None,
            },
            link_token: token.map(str::to_owned),
            unsubscribe_token: None,
        }
    }

    fn site() -> Site {
        Site {
            provider: "Acme Pay".into(),
            base_url: "https://dev.example.com".into(),
        }
    }

    #[test]
    fn changes_requested_quotes_the_notes_escaped_in_html() {
        let m = mail(
            NotificationKind::ChangesRequested,
            serde_json::json!({ "workspace": "Globex", "plan": "Gold", "project": "shop",
                "subscription_id": "sub_1", "notes": "Explain <retention> & consent" }),
            None,
        );
        let r = render(&m, &site());
        assert_eq!(r.subject, "[Acme Pay] Changes Requested: Gold (Globex)");
        assert!(r.text.contains("> Explain <retention> & consent"));
        assert!(r.html.contains("Explain &lt;retention&gt; &amp; consent"));
        assert!(
            r.text
                .contains("https://dev.example.com/subscriptions/sub_1")
        );
        assert!(r.unsubscribe.is_none());
    }

    #[test]
    fn a_reset_link_carries_its_token_and_nothing_else_does() {
        let m = mail(
            NotificationKind::PasswordReset,
            serde_json::json!({}),
            Some("tok123"),
        );
        let r = render(&m, &site());
        assert!(
            r.text
                .contains("https://dev.example.com/reset-password?token=tok123")
        );
        let inv = mail(
            NotificationKind::Invitation,
            serde_json::json!({ "workspace": "Globex", "invitation_id": "inv_9",
                "roles": ["technical_lead"], "invited_by": "Olive", "expires_at": "2026-12-14T00:00:00Z" }),
            None,
        );
        let r = render(&inv, &site());
        assert!(
            r.text
                .contains("Olive invited you to the Globex workspace as technical lead.")
        );
        assert!(r.text.contains("https://dev.example.com/invitations/inv_9"));
        assert!(r.text.contains("2026-12-14"));
    }
}
