//! Notifications: each event reaches exactly its recipients, in the change set of its change;
//! a refused change queues nothing; the centre, preferences and the e-mail queue.

use chrono::TimeDelta;

use super::*;
use crate::memory::{MemoryStore, in_memory_portal};
use crate::notification::{MailStatus, Notification, NotificationKind};
use crate::roles::Role;
use crate::testing::MockPorts as Mocks;
use crate::testing::fixtures::*;

fn queued(set: &ChangeSet) -> Vec<&Notification> {
    set.changes
        .iter()
        .filter_map(|c| match c {
            Change::QueueNotification(n) => Some(n),
            _ => None,
        })
        .collect()
}

fn staff() -> Caller {
    Caller::Staff {
        id: reviewer(),
        role: StaffRole::Reviewer,
    }
}

fn plan() -> crate::plan::Plan {
    let mut p = standard_plan();
    p.form = None;
    p.gates = vec![crate::gates::Gate::IntegrationVerification];
    p.integration_min_calls = 0;
    p
}

#[tokio::test]
async fn a_submission_notifies_the_reviewers_and_nobody_else() {
    let mut m = Mocks::new()
        .member(&[Role::TechnicalLead])
        .subscription(sandbox_subscription())
        .plan(plan())
        .sandbox_credentials(1)
        .notices();
    m.uow
        .expect_commit()
        .withf(|set| {
            let n = queued(set);
            n.len() == 1
                && n[0].kind == NotificationKind::Submitted
                && n[0].to.principal == Some(Principal::Staff(reviewer()))
                && n[0].to.email.as_str() == "reviewer@provider.example"
                && n[0].data["plan"] == "Standard"
                && n[0].workspace_id == Some(workspace_id())
        })
        .times(1)
        .returning(|_| Ok(()));
    m.into_portal()
        .pipeline()
        .submit(Caller::Account(dev()), subscription_id(), None, None)
        .await
        .unwrap();
}

#[tokio::test]
async fn changes_requested_reach_owners_and_leads_with_the_notes() {
    let in_review = sandbox_subscription().submit(dev(), t0(), 1, None).unwrap();
    let mut m = Mocks::new()
        .subscription(in_review)
        .plan(plan())
        .member(&[Role::Owner])
        .notices();
    m.uow
        .expect_commit()
        .withf(|set| {
            let n = queued(set);
            // The billing member (`other_account`) is not told; the owner is.
            n.len() == 1
                && n[0].kind == NotificationKind::ChangesRequested
                && n[0].to.principal == Some(Principal::Account(dev()))
                && n[0].data["notes"] == "Explain data retention"
        })
        .times(1)
        .returning(|_| Ok(()));
    m.into_portal()
        .pipeline()
        .request_changes(staff(), subscription_id(), "Explain data retention", None)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_refused_operation_queues_nothing() {
    // Submit without a sandbox credential: refused before anything is committed.
    let mut m = Mocks::new()
        .member(&[Role::TechnicalLead])
        .subscription(sandbox_subscription())
        .plan(plan())
        .sandbox_credentials(0)
        .notices();
    m.uow.expect_commit().never();
    let err = m
        .into_portal()
        .pipeline()
        .submit(Caller::Account(dev()), subscription_id(), None, None)
        .await
        .unwrap_err();
    assert!(matches!(err, ServiceError::Refused { .. }));

    // A commit that loses a race writes the whole set or nothing: the in-memory store.
    let (portal, store, _) = in_memory_portal(t0());
    let owner = portal
        .accounts()
        .sign_up("owner@example.com", "Olive", "correct horse battery staple")
        .await
        .unwrap();
    let ws = portal
        .workspaces()
        .create_workspace(Caller::Account(owner.id), "Acme")
        .await
        .unwrap();
    let roles = crate::roles::RoleSet::of(&[Role::Developer]);
    let w = portal.workspaces();
    w.invite(
        Caller::Account(owner.id),
        ws.id,
        "dev@example.com",
        roles,
        None,
    )
    .await
    .unwrap();
    assert_eq!(store.notifications().len(), 1);
    // A second pending invitation to the same address is refused: nothing more queued.
    w.invite(
        Caller::Account(owner.id),
        ws.id,
        "dev@example.com",
        roles,
        None,
    )
    .await
    .unwrap_err();
    // Blank roles: refused as bad input.
    w.invite(
        Caller::Account(owner.id),
        ws.id,
        "x@example.com",
        crate::roles::RoleSet::of(&[]),
        None,
    )
    .await
    .unwrap_err();
    assert_eq!(store.notifications().len(), 1);
}

struct World {
    portal: Portal,
    store: std::sync::Arc<MemoryStore>,
    clock: std::sync::Arc<crate::memory::ManualClock>,
    owner: AccountId,
    dev: AccountId,
    ws: WorkspaceId,
}

async fn world() -> World {
    let (portal, store, clock) = in_memory_portal(t0());
    let a = portal.accounts();
    let owner = a
        .sign_up("owner@example.com", "Olive", "correct horse battery staple")
        .await
        .unwrap()
        .id;
    let dev = a
        .sign_up("dev@example.com", "Dev", "correct horse battery staple")
        .await
        .unwrap()
        .id;
    let ws = portal
        .workspaces()
        .create_workspace(Caller::Account(owner), "Acme")
        .await
        .unwrap()
        .id;
    World {
        portal,
        store,
        clock,
        owner,
        dev,
        ws,
    }
}

#[tokio::test]
async fn membership_events_reach_the_right_people() {
    let w = world().await;
    let ws = w.portal.workspaces();
    let inv = ws
        .invite(
            Caller::Account(w.owner),
            w.ws,
            "Dev@Example.com",
            crate::roles::RoleSet::of(&[Role::Developer]),
            None,
        )
        .await
        .unwrap();
    let n = w.store.notifications();
    assert_eq!(n.len(), 1);
    assert_eq!(n[0].kind, NotificationKind::Invitation);
    assert_eq!(n[0].to.email.as_str(), "dev@example.com");
    // The address has an account: the centre shows it there too.
    assert_eq!(n[0].to.principal, Some(Principal::Account(w.dev)));
    assert_eq!(n[0].data["invitation_id"], inv.id.to_string());
    assert_eq!(n[0].data["workspace"], "Acme");
    ws.accept_invitation(Caller::Account(w.dev), inv.id)
        .await
        .unwrap();
    // Accepting tells nobody; a role change tells the member, not the owner who made it.
    assert_eq!(w.store.notifications().len(), 1);
    ws.set_roles(
        Caller::Account(w.owner),
        w.ws,
        w.dev,
        crate::roles::RoleSet::of(&[Role::TechnicalLead]),
    )
    .await
    .unwrap();
    let last = w.store.notifications().pop().unwrap();
    assert_eq!(last.kind, NotificationKind::RolesChanged);
    assert_eq!(last.to.principal, Some(Principal::Account(w.dev)));

    // A join request goes to the owners only; its decision to the one who asked.
    let third = w
        .portal
        .accounts()
        .sign_up("third@example.com", "Third", "correct horse battery staple")
        .await
        .unwrap()
        .id;
    let jr = ws
        .request_to_join(Caller::Account(third), w.ws, Some("hi".into()))
        .await
        .unwrap();
    let last = w.store.notifications().pop().unwrap();
    assert_eq!(last.kind, NotificationKind::JoinRequested);
    assert_eq!(last.to.principal, Some(Principal::Account(w.owner)));
    assert_eq!(w.store.notifications().len(), 3);
    ws.decide_join_request(Caller::Account(w.owner), jr.id, false, None)
        .await
        .unwrap();
    let last = w.store.notifications().pop().unwrap();
    assert_eq!(last.kind, NotificationKind::JoinDecided);
    assert_eq!(last.to.principal, Some(Principal::Account(third)));
    assert_eq!(last.data["approved"], false);
}

#[tokio::test]
async fn the_centre_counts_lists_and_marks_read_per_person() {
    let w = world().await;
    let ws = w.portal.workspaces();
    for role in [Role::TechnicalLead, Role::Billing, Role::Developer] {
        // Joining first so the role changes have a member to notify.
        if role == Role::TechnicalLead {
            let inv = ws
                .invite(
                    Caller::Account(w.owner),
                    w.ws,
                    "dev@example.com",
                    crate::roles::RoleSet::of(&[Role::Developer]),
                    None,
                )
                .await
                .unwrap();
            ws.accept_invitation(Caller::Account(w.dev), inv.id)
                .await
                .unwrap();
        }
        ws.set_roles(
            Caller::Account(w.owner),
            w.ws,
            w.dev,
            crate::roles::RoleSet::of(&[role]),
        )
        .await
        .unwrap();
    }
    let n = w.portal.notifications();
    let dev = Caller::Account(w.dev);
    assert_eq!(n.unread_count(dev).await.unwrap(), 4);
    assert_eq!(n.unread_count(Caller::Account(w.owner)).await.unwrap(), 0);
    let page = n.list(dev, None, 3).await.unwrap();
    assert_eq!(page.items.len(), 3);
    assert!(page.items[0].id > page.items[1].id, "newest first");
    let rest = n.list(dev, page.next_before, 3).await.unwrap();
    assert_eq!(rest.items.len(), 1);
    assert_eq!(rest.items[0].kind, NotificationKind::Invitation);
    assert!(n.list(dev, None, 0).await.is_err());

    // The owner cannot mark the developer's notifications.
    let first = page.items[0].id;
    assert_eq!(
        n.mark_read(Caller::Account(w.owner), Some(vec![first]))
            .await
            .unwrap(),
        0
    );
    assert_eq!(n.mark_read(dev, Some(vec![first])).await.unwrap(), 1);
    assert_eq!(n.unread_count(dev).await.unwrap(), 3);
    assert_eq!(n.mark_read(dev, None).await.unwrap(), 3);
    assert_eq!(n.unread_count(dev).await.unwrap(), 0);
}

#[tokio::test]
async fn the_mail_queue_leases_retries_with_backoff_and_honours_preferences() {
    let w = world().await;
    let ws = w.portal.workspaces();
    let third = w
        .portal
        .accounts()
        .sign_up("third@example.com", "Third", "correct horse battery staple")
        .await
        .unwrap()
        .id;
    ws.request_to_join(Caller::Account(third), w.ws, None)
        .await
        .unwrap();
    let n = w.portal.notifications();
    let lease = TimeDelta::seconds(60);
    let mails = n.claim_mail("a", lease, 10).await.unwrap();
    assert_eq!(mails.len(), 1);
    let mail = &mails[0];
    assert_eq!(mail.notification.kind, NotificationKind::JoinRequested);
    // Optional: it carries a one-click unsubscribe token; no link token.
    assert!(mail.unsubscribe_token.is_some());
    assert!(mail.link_token.is_none());
    // Leased: another worker finds nothing until the lease passes.
    assert!(n.claim_mail("b", lease, 10).await.unwrap().is_empty());

    let outcome = n
        .settle_mail(mail, "a", Err("connection refused".into()))
        .await
        .unwrap();
    assert!(matches!(
        outcome,
        crate::notification::MailOutcome::Retry { .. }
    ));
    assert!(n.claim_mail("b", lease, 10).await.unwrap().is_empty());
    w.clock.advance(TimeDelta::minutes(1));
    let again = n.claim_mail("b", lease, 10).await.unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].notification.id, mail.notification.id);
    assert_eq!(again[0].notification.attempts, 1);
    // The first worker's lease is gone: its late answer is refused.
    assert!(n.settle_mail(mail, "a", Ok(())).await.is_err());
    n.settle_mail(&again[0], "b", Ok(())).await.unwrap();
    let row = w.store.notifications().pop().unwrap();
    assert_eq!(row.mail_status, MailStatus::Sent);
    assert_eq!(row.attempts, 2);

    // One click turns the kind off: the next one is skipped by e-mail, still in the centre.
    let kind = n
        .unsubscribe(mail.unsubscribe_token.as_deref().unwrap())
        .await
        .unwrap();
    assert_eq!(kind, NotificationKind::JoinRequested);
    assert!(n.unsubscribe("forged").await.is_err());
    let fourth = w
        .portal
        .accounts()
        .sign_up(
            "fourth@example.com",
            "Fourth",
            "correct horse battery staple",
        )
        .await
        .unwrap()
        .id;
    ws.request_to_join(Caller::Account(fourth), w.ws, None)
        .await
        .unwrap();
    assert!(n.claim_mail("a", lease, 10).await.unwrap().is_empty());
    let row = w.store.notifications().pop().unwrap();
    assert_eq!(row.mail_status, MailStatus::Skipped);
    assert_eq!(
        n.unread_count(Caller::Account(w.owner)).await.unwrap(),
        2,
        "the centre shows it whatever the e-mail setting"
    );

    // Required kinds cannot be turned off; optional ones can be turned back on.
    let owner = Caller::Account(w.owner);
    assert!(
        n.set_preference(owner, NotificationKind::PasswordReset, false)
            .await
            .is_err()
    );
    n.set_preference(owner, NotificationKind::JoinRequested, true)
        .await
        .unwrap();
    let prefs = n.preferences(owner).await.unwrap();
    assert!(prefs.contains(&(NotificationKind::JoinRequested, true, true)));
    assert!(prefs.contains(&(NotificationKind::PasswordReset, true, false)));
}

#[tokio::test]
async fn a_mail_is_given_up_after_the_last_retry() {
    let w = world().await;
    w.portal
        .workspaces()
        .invite(
            Caller::Account(w.owner),
            w.ws,
            "new@example.com",
            crate::roles::RoleSet::of(&[Role::Developer]),
            None,
        )
        .await
        .unwrap();
    let n = w.portal.notifications();
    let mut attempts = 0;
    loop {
        let mails = n.claim_mail("a", TimeDelta::seconds(60), 10).await.unwrap();
        let Some(mail) = mails.first() else { break };
        // No account at that address: no unsubscribe, it is required anyway.
        assert!(mail.unsubscribe_token.is_none());
        attempts += 1;
        n.settle_mail(mail, "a", Err("550".into())).await.unwrap();
        w.clock.advance(TimeDelta::hours(11));
    }
    assert_eq!(attempts, 11);
    let row = w.store.notifications().pop().unwrap();
    assert_eq!(row.mail_status, MailStatus::Failed);
    assert_eq!(row.last_error.as_deref(), Some("550"));
}
