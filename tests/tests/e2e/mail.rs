//! Notifications by e-mail (issue 21), with the embedded default: no SMTP configured, each
//! message is written as `<data dir>/mail/<notification id>.eml`. The mail worker is stepped
//! (`run_mail_once`) and the clock moved; nothing sleeps.

use super::*;

/// One message as a reader sees it.
#[derive(Debug, Clone)]
pub struct Mail {
    pub message_id: String,
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
    pub list_unsubscribe: Option<String>,
    pub list_unsubscribe_post: Option<String>,
}

/// Parses a raw RFC 5322 message.
pub fn parse(raw: &[u8]) -> Mail {
    let m = mail_parser::MessageParser::default()
        .parse(raw)
        .expect("a parsable message");
    let header = |name: &str| m.header_raw(name).map(|v| v.trim().to_owned());
    Mail {
        message_id: m.message_id().unwrap_or_default().to_owned(),
        to: m
            .to()
            .and_then(|a| a.first())
            .and_then(|a| a.address())
            .unwrap_or_default()
            .to_owned(),
        subject: m.subject().unwrap_or_default().to_owned(),
        text: m.body_text(0).unwrap_or_default().into_owned(),
        html: m.body_html(0).unwrap_or_default().into_owned(),
        list_unsubscribe: header("List-Unsubscribe"),
        list_unsubscribe_post: header("List-Unsubscribe-Post"),
    }
}

/// Every `.eml` file in `dir`, oldest notification first.
pub fn read_dir(dir: &std::path::Path) -> Vec<Mail> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|e| e == "eml"));
    files.sort();
    files
        .iter()
        .map(|p| parse(&std::fs::read(p).unwrap()))
        .collect()
}

/// The first link in `text` that starts with `prefix`.
pub fn link(text: &str, prefix: &str) -> String {
    let at = text
        .find(prefix)
        .unwrap_or_else(|| panic!("no link {prefix} in:\n{text}"));
    text[at..]
        .split(|c: char| c.is_whitespace() || c == '>' || c == '"')
        .next()
        .unwrap()
        .to_owned()
}

fn mails_to(app: &TestApp, to: &str) -> Vec<Mail> {
    read_dir(&app.dir.join("mail"))
        .into_iter()
        .filter(|m| m.to == to)
        .collect()
}

#[tokio::test]
async fn an_invitation_email_is_written_and_its_link_lets_the_colleague_join() {
    let app = spawn_app().await;
    let plan = app.plan(json!(["declared_use_case"]), false, 0).await;
    let (o, _) = onboard(&app, "owner@mail.example", &plan).await;
    let inv = o
        .dev
        .ok(
            &format!("/api/v1/workspaces/{}/invitations", o.ws),
            json!({"email": "colleague@mail.example", "roles": ["developer"]}),
        )
        .await;
    let report = app.server.run_mail_once().await.unwrap();
    // The background worker may have sent it first; either way it is written once.
    assert!(report.failed == 0 && report.retrying == 0, "{report:?}");
    let mails = mails_to(&app, "colleague@mail.example");
    assert_eq!(mails.len(), 1, "{mails:?}");
    let m = &mails[0];
    assert!(
        m.subject.contains("You are invited to join Acme"),
        "{}",
        m.subject
    );
    assert!(m.text.contains("as developer"), "{}", m.text);
    assert!(m.html.contains("Accept the invitation"));
    // Required: no unsubscribe. The Message-ID names the notification.
    assert!(m.list_unsubscribe.is_none());
    assert!(m.message_id.starts_with("ntf_"), "{}", m.message_id);
    let url = link(&m.text, &format!("{}/invitations/", app.base));
    assert_eq!(
        url,
        format!("{}/invitations/{}", app.base, inv["id"].as_str().unwrap())
    );

    // The colleague follows the link: signed out it asks to sign in; signed in it accepts.
    let colleague = User::new(&app.base);
    let page = colleague.get(&url[app.base.len()..]).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.as_str().unwrap().contains("Sign in"));
    let colleague = app.developer("colleague@mail.example").await;
    let page = colleague.get(&url[app.base.len()..]).await;
    assert!(
        page.body
            .as_str()
            .unwrap()
            .contains("Accept the invitation")
    );
    let id = url.rsplit('/').next().unwrap();
    colleague
        .ok(&format!("/api/v1/invitations/{id}/accept"), json!({}))
        .await;
    let me = colleague.get("/api/v1/me").await.body;
    assert_eq!(me["access"]["state"], "attached", "{me}");
    // Sent once: another tick writes nothing more.
    app.server.run_mail_once().await.unwrap();
    assert_eq!(mails_to(&app, "colleague@mail.example").len(), 1);
    app.stop().await;
}

#[tokio::test]
async fn review_decisions_reach_reviewers_and_the_team_with_the_notes() {
    let app = spawn_app().await;
    let plan = app.plan(json!(["declared_use_case"]), false, 0).await;
    let (o, _) = onboard(&app, "lead@mail.example", &plan).await;
    submit(&o).await;
    app.server.run_mail_once().await.unwrap();
    let staff = mails_to(&app, portal_server::FIRST_ADMIN_EMAIL);
    assert_eq!(staff.len(), 1);
    assert!(
        staff[0].subject.contains("New submission"),
        "{}",
        staff[0].subject
    );
    assert!(
        staff[0]
            .text
            .contains(&format!("/staff/subscriptions/{}", o.sub))
    );

    app.admin
        .ok(
            &format!("/api/v1/subscriptions/{}/request-changes", o.sub),
            json!({"notes": "Describe how long you keep balances"}),
        )
        .await;
    app.server.run_mail_once().await.unwrap();
    let team = mails_to(&app, "lead@mail.example");
    let cr = team
        .iter()
        .find(|m| m.subject.contains("Changes Requested"))
        .expect("a Changes Requested e-mail");
    assert!(
        cr.text.contains("> Describe how long you keep balances"),
        "{}",
        cr.text
    );
    assert!(
        cr.text
            .contains(&format!("{}/subscriptions/{}", app.base, o.sub))
    );
    // Optional: RFC 8058 one-click unsubscribe, working.
    assert_eq!(
        cr.list_unsubscribe_post.as_deref(),
        Some("List-Unsubscribe=One-Click")
    );
    let unsub = cr.list_unsubscribe.clone().expect("List-Unsubscribe");
    let unsub = unsub.trim_start_matches('<').trim_end_matches('>');
    assert!(
        unsub.starts_with(&format!("{}/unsubscribe?token=", app.base)),
        "{unsub}"
    );
    let r = reqwest::Client::new()
        .post(unsub)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let bad = reqwest::Client::new()
        .post(format!("{}/unsubscribe?token=forged", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::NOT_FOUND);

    // Turned off: the next Changes Requested is not e-mailed, but the centre shows both.
    submit(&o).await;
    app.admin
        .ok(
            &format!("/api/v1/subscriptions/{}/request-changes", o.sub),
            json!({"notes": "Second round"}),
        )
        .await;
    app.server.run_mail_once().await.unwrap();
    let team = mails_to(&app, "lead@mail.example");
    assert!(!team.iter().any(|m| m.text.contains("Second round")));
    let centre = o.dev.get("/notifications").await;
    let html = centre.body.as_str().unwrap();
    assert!(html.contains("Second round") && html.contains("Describe how long"));
    assert!(html.contains("2 unread"), "{html}");
    // Marked read: the header's badge goes.
    let csrf = html
        .split("name=\"_csrf\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("a CSRF token");
    let r = o
        .dev
        .http
        .post(format!("{}/notifications/read", app.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("_csrf={csrf}"))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success() || r.status().is_redirection());
    let html = o.dev.get("/notifications").await.body;
    assert!(html.as_str().unwrap().contains("0 unread"));
    app.stop().await;
}

#[tokio::test]
async fn a_failed_write_is_retried_with_backoff_and_survives_a_restart() {
    // A mail directory that cannot be created (a file stands in its way): every write fails.
    let blocked =
        std::env::temp_dir().join(format!("portal-mail-blocked-{}", ulid::Ulid::generate()));
    std::fs::write(&blocked, b"not a directory").unwrap();
    let app = spawn_app_with(|c| c.mail.dir = Some(blocked.join("mail"))).await;
    let plan = app.plan(json!(["declared_use_case"]), false, 0).await;
    let (o, _) = onboard(&app, "retry@mail.example", &plan).await;
    o.dev
        .ok(
            &format!("/api/v1/workspaces/{}/invitations", o.ws),
            json!({"email": "late@mail.example", "roles": ["developer"]}),
        )
        .await;
    app.server.run_mail_once().await.unwrap();
    // Due again only after the backoff: a tick now sends nothing.
    let r = app.server.run_mail_once().await.unwrap();
    assert_eq!(r.sent + r.retrying, 0, "{r:?}");
    let (dir, url, clock) = (app.dir.clone(), app.database_url.clone(), app.clock.clone());
    app.stop().await;

    // A new server over the same database, now able to write: the message is still queued.
    let server = portal_server::spawn(Config {
        data_dir: dir.clone(),
        database_url: Some(Secret::new(url)),
        gateway_token: Some(Secret::new(GATEWAY_TOKEN)),
        clock: Some(clock.clone()),
        ..Config::default()
    })
    .await
    .unwrap();
    clock.advance(TimeDelta::minutes(2));
    server.run_mail_once().await.unwrap();
    let mails: Vec<_> = read_dir(&dir.join("mail"))
        .into_iter()
        .filter(|m| m.to == "late@mail.example")
        .collect();
    assert_eq!(mails.len(), 1);
    server.stop().await.unwrap();
    std::fs::remove_file(&blocked).ok();
}

#[tokio::test]
async fn optional_kinds_are_turned_off_and_on_in_the_centre() {
    let app = spawn_app().await;
    let plan = app.plan(json!(["declared_use_case"]), false, 0).await;
    let (o, _) = onboard(&app, "prefs@mail.example", &plan).await;
    let html = o.dev.get("/notifications").await.body;
    let html = html.as_str().unwrap();
    assert!(
        html.contains("value=\"changes_requested\" checked"),
        "{html}"
    );
    let csrf = html
        .split("name=\"_csrf\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap()
        .to_owned();
    // Everything optional off but approvals; required kinds stay on whatever is sent.
    let r = o
        .dev
        .http
        .post(format!("{}/notifications/preferences", app.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("_csrf={csrf}&email=approved"))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success() || r.status().is_redirection());
    let html = o.dev.get("/notifications").await.body;
    let html = html.as_str().unwrap();
    assert!(!html.contains("value=\"changes_requested\" checked"));
    assert!(html.contains("value=\"approved\" checked"));
    assert!(html.contains("value=\"password_reset\" checked"));
    submit(&o).await;
    app.admin
        .ok(
            &format!("/api/v1/subscriptions/{}/request-changes", o.sub),
            json!({"notes": "Not e-mailed"}),
        )
        .await;
    app.server.run_mail_once().await.unwrap();
    assert!(
        !mails_to(&app, "prefs@mail.example")
            .iter()
            .any(|m| m.text.contains("Not e-mailed"))
    );
    app.stop().await;
}
