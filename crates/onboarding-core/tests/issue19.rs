//! Issue 19 through the public API over the in-memory adapters: what a clone to production
//! copies, which destinations registration refuses, what regenerate ends, and that another
//! tenant's id is answered exactly like an id that exists nowhere.

use std::net::IpAddr;
use std::sync::Arc;

use chrono::{TimeZone, Utc};
use onboarding_core::gates::Gate;
use onboarding_core::ids::*;
use onboarding_core::memory::{
    DeterministicSecrets, ManualClock, MemoryStore, SequentialIds, TestPasswordHasher, TestVault,
    in_memory_portal,
};
use onboarding_core::ports::{DestinationPolicy, SecretVault};
use onboarding_core::project::Environment;
use onboarding_core::services::NewCredentialKind;
use onboarding_core::usage::AlertMetric;
use onboarding_core::{Caller, Infrastructure, Portal, Ports, ServiceError};
use rust_decimal_macros::dec;
use test_support::*;

/// Refuses loopback addresses (IPv4-mapped ones too), as the server's SSRF guard does by default.
struct NoLoopback;

impl DestinationPolicy for NoLoopback {
    fn check_ip(&self, ip: IpAddr) -> Result<(), String> {
        match ip.to_canonical().is_loopback() {
            true => Err(format!("{ip} is a loopback address")),
            false => Ok(()),
        }
    }
}

fn start() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 1, 8, 0, 0).unwrap()
}

/// An in-memory portal whose registration asks `policy`.
fn portal_with(policy: Arc<dyn DestinationPolicy>) -> Portal {
    let store = Arc::new(MemoryStore::new());
    Portal::new(Ports::over_store(
        store.clone(),
        Infrastructure {
            clock: Arc::new(ManualClock::new(start())),
            ids: Arc::new(SequentialIds::default()),
            secrets: Arc::new(DeterministicSecrets::default()),
            passwords: Arc::new(TestPasswordHasher),
            meter: store,
            vault: Arc::new(TestVault),
            destinations: policy,
        },
    ))
}

/// A partner on the paid demo plan, approved (not cloned yet); its subscription.
async fn approved(portal: &Portal) -> (Partner, Provider, SubscriptionId) {
    let prov = provider(portal, false).await.unwrap();
    let p = partner(
        portal,
        "lena@fintech.example",
        "Fintech Ltd",
        &prov.standard,
    )
    .await
    .unwrap();
    let sub = portal
        .pipeline()
        .subscribe(p.caller, p.project.id, prov.standard.id)
        .await
        .unwrap();
    let key = portal
        .credentials()
        .create_credential(
            p.caller,
            sub.id,
            Environment::Sandbox,
            NewCredentialKind::ApiKey,
            "dev",
        )
        .await
        .unwrap();
    for _ in 0..prov.standard.integration_min_calls {
        portal
            .credentials()
            .verify_secret(
                key.secret.expose(),
                Some(Environment::Sandbox),
                Some(&prov.standard.endpoints[0]),
                true,
            )
            .await
            .unwrap();
    }
    portal
        .pipeline()
        .submit(p.caller, sub.id, Some(demo_answers()), None)
        .await
        .unwrap();
    name_all_responsibles(portal, &p).await.unwrap();
    portal
        .pipeline()
        .sign_off_gate(prov.reviewer, sub.id, Gate::ConsentHandling)
        .await
        .unwrap();
    portal
        .pipeline()
        .approve(prov.reviewer, sub.id, None)
        .await
        .unwrap();
    (p, prov, sub.id)
}

#[tokio::test]
async fn a_clone_shows_each_copied_endpoints_new_secret_once_and_it_opens_the_sealed_one() {
    let (portal, _store, _clock) = in_memory_portal(start());
    let (p, _prov, sub) = approved(&portal).await;
    let sandbox = portal
        .endpoints()
        .create_webhook_endpoint(
            p.caller,
            p.project.id,
            "https://hooks.fintech.example/a",
            &[],
        )
        .await
        .unwrap();
    let cloned = portal
        .projects()
        .clone_to_production(p.caller, sub)
        .await
        .unwrap();
    assert_eq!(cloned.project.environment, Environment::Production);
    assert_eq!(cloned.webhook_endpoints.len(), 1);
    let copy = &cloned.webhook_endpoints[0];
    assert_eq!(copy.endpoint.project_id, cloned.project.id);
    assert_eq!(copy.endpoint.url, sandbox.endpoint.url);
    assert_ne!(copy.secret, sandbox.secret, "never the sandbox's secret");
    // What the production receiver is shown is what deliveries are signed with.
    let stored = portal
        .endpoints()
        .webhook_endpoints(p.caller, cloned.project.id)
        .await
        .unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(
        TestVault.open(&stored[0].signing_secrets[0].sealed),
        Some(copy.secret.clone())
    );
}

#[tokio::test]
async fn a_clone_refuses_an_endpoint_production_would_refuse_naming_it_and_writes_nothing() {
    let portal = portal_with(Arc::new(NoLoopback));
    let (p, _prov, sub) = approved(&portal).await;
    let fine = portal
        .endpoints()
        .create_webhook_endpoint(
            p.caller,
            p.project.id,
            "https://hooks.fintech.example/a",
            &[],
        )
        .await
        .unwrap();
    let plain = portal
        .endpoints()
        .create_webhook_endpoint(
            p.caller,
            p.project.id,
            "http://hooks.fintech.example/b",
            &[],
        )
        .await
        .unwrap();
    let r = portal.projects().clone_to_production(p.caller, sub).await;
    let Err(ServiceError::InvalidFields(errors)) = r else {
        panic!("{:?}", r.map(|c| c.project.id));
    };
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(
        errors[0].field,
        format!("webhook_endpoints[{}].url", plain.endpoint.id)
    );
    assert!(errors[0].reason.contains("HTTPS"), "{errors:?}");
    let projects = portal
        .projects()
        .projects(p.caller, p.workspace.id)
        .await
        .unwrap();
    assert_eq!(projects.len(), 1, "no production project was written");
    let view = portal
        .pipeline()
        .subscription_view(p.caller, sub)
        .await
        .unwrap();
    assert_eq!(view.subscription.production_project_id, None);

    // Fixed to HTTPS, the clone goes through with both endpoints.
    portal
        .endpoints()
        .update_webhook_endpoint(
            p.caller,
            plain.endpoint.id,
            Some("https://hooks.fintech.example/b"),
            None,
        )
        .await
        .unwrap();
    let cloned = portal
        .projects()
        .clone_to_production(p.caller, sub)
        .await
        .unwrap();
    let mut urls: Vec<&str> = cloned
        .webhook_endpoints
        .iter()
        .map(|e| e.endpoint.url.as_str())
        .collect();
    urls.sort();
    assert_eq!(
        urls,
        [
            fine.endpoint.url.as_str(),
            "https://hooks.fintech.example/b"
        ]
    );
}

#[tokio::test]
async fn registration_and_update_ask_the_destination_policy_about_literal_addresses() {
    let portal = portal_with(Arc::new(NoLoopback));
    let prov = provider(&portal, false).await.unwrap();
    let p = partner(
        &portal,
        "lena@fintech.example",
        "Fintech Ltd",
        &prov.standard,
    )
    .await
    .unwrap();
    for url in [
        "http://127.0.0.1:8080/in",
        "http://[::1]/in",
        "http://[::ffff:127.0.0.1]/in",
    ] {
        let r = portal
            .endpoints()
            .create_webhook_endpoint(p.caller, p.project.id, url, &[])
            .await;
        match r {
            Err(ServiceError::Invalid(f)) => {
                assert_eq!(f.field, "url", "{url}");
                assert!(f.reason.contains("loopback"), "{url}: {}", f.reason);
            }
            other => panic!("{url}: {:?}", other.map(|c| c.endpoint.id)),
        }
    }
    let ok = portal
        .endpoints()
        .create_webhook_endpoint(p.caller, p.project.id, "http://[2606:4700::1111]/in", &[])
        .await
        .unwrap();
    let r = portal
        .endpoints()
        .update_webhook_endpoint(p.caller, ok.endpoint.id, Some("http://127.0.0.1/in"), None)
        .await;
    assert!(
        matches!(&r, Err(ServiceError::Invalid(f)) if f.field == "url"),
        "{:?}",
        r.map(|e| e.id)
    );
    let after = portal
        .endpoints()
        .webhook_endpoints(p.caller, p.project.id)
        .await
        .unwrap();
    assert_eq!(after, vec![ok.endpoint]);
}

#[tokio::test]
async fn regenerate_and_revoke_end_the_access_tokens_the_client_obtained() {
    let (portal, _store, _clock) = in_memory_portal(start());
    let prov = provider(&portal, false).await.unwrap();
    let p = partner(
        &portal,
        "lena@fintech.example",
        "Fintech Ltd",
        &prov.standard,
    )
    .await
    .unwrap();
    let sub = portal
        .pipeline()
        .subscribe(p.caller, p.project.id, prov.standard.id)
        .await
        .unwrap();
    let client = portal
        .credentials()
        .create_credential(
            p.caller,
            sub.id,
            Environment::Sandbox,
            NewCredentialKind::OauthClient,
            "svc",
        )
        .await
        .unwrap();
    let onboarding_core::credential::CredentialKind::OauthClient { client_id } =
        client.credential.kind.clone()
    else {
        panic!("an OAuth client")
    };
    let valid = |token: String| {
        let portal = portal.clone();
        async move {
            portal
                .credentials()
                .verify_secret(&token, None, None, true)
                .await
                .unwrap()
                .valid
        }
    };
    let old = portal
        .credentials()
        .issue_access_token(&client_id, client.secret.expose())
        .await
        .unwrap();
    assert!(valid(old.token.expose().to_owned()).await);
    let regenerated = portal
        .credentials()
        .regenerate_credential(p.caller, client.credential.id, None)
        .await
        .unwrap();
    assert!(
        !valid(old.token.expose().to_owned()).await,
        "a token minted with the old secret outlived it"
    );
    let new = portal
        .credentials()
        .issue_access_token(&client_id, regenerated.secret.expose())
        .await
        .unwrap();
    assert!(valid(new.token.expose().to_owned()).await);
    portal
        .credentials()
        .revoke_credential(p.caller, client.credential.id)
        .await
        .unwrap();
    assert!(!valid(new.token.expose().to_owned()).await);
}

/// Runs `f` with a foreign id and a missing one of the same kind: both answers are equal.
macro_rules! same_not_found {
    ($what:expr, |$id:ident| $call:expr, $foreign:expr, $missing:expr) => {{
        let foreign = {
            let $id = $foreign;
            $call.await.map(|_| ())
        };
        let missing = {
            let $id = $missing;
            $call.await.map(|_| ())
        };
        assert!(
            matches!(foreign, Err(ServiceError::NotFound { .. })),
            "{}: {foreign:?}",
            $what
        );
        assert_eq!(foreign, missing, "{}: a foreign id is told apart", $what);
    }};
}

#[tokio::test]
async fn another_tenants_ids_are_answered_like_ids_that_exist_nowhere() {
    let (portal, store, _clock) = in_memory_portal(start());
    let prov = provider(&portal, false).await.unwrap();
    let a = partner(&portal, "ann@alpha.example", "Alpha", &prov.standard)
        .await
        .unwrap();
    let b = partner(&portal, "bob@beta.example", "Beta", &prov.standard)
        .await
        .unwrap();
    let sub = portal
        .pipeline()
        .subscribe(a.caller, a.project.id, prov.standard.id)
        .await
        .unwrap();
    let cred = portal
        .credentials()
        .create_credential(
            a.caller,
            sub.id,
            Environment::Sandbox,
            NewCredentialKind::ApiKey,
            "ci",
        )
        .await
        .unwrap();
    let ep = portal
        .endpoints()
        .create_webhook_endpoint(a.caller, a.project.id, "https://hooks.alpha.example/", &[])
        .await
        .unwrap();
    portal
        .projects()
        .set_alert_threshold(
            a.caller,
            a.project.id,
            AlertMetric::RequestsPerDay,
            dec!(5000),
        )
        .await
        .unwrap();
    let inv = portal
        .workspaces()
        .invite(
            a.caller,
            a.workspace.id,
            "new@alpha.example",
            onboarding_core::roles::RoleSet::of(&[onboarding_core::roles::Role::Developer]),
            None,
        )
        .await
        .unwrap();
    let carl = portal
        .accounts()
        .sign_up("carl@gamma.example", "Carl", PASSWORD)
        .await
        .unwrap();
    let jr = portal
        .workspaces()
        .request_to_join(Caller::Account(carl.id), a.workspace.id, None)
        .await
        .unwrap();
    let wh = onboarding_core::Webhooks::new(portal.clone(), store.clone());
    wh.dispatch(100).await.unwrap();
    let delivery = store.all_deliveries()[0].id;
    let u = || ulid::Ulid::from_parts(1, 424_242);
    let bc = b.caller;

    let c = portal.credentials();
    same_not_found!(
        "credential",
        |id| c.credential(bc, id),
        cred.credential.id,
        CredentialId::from_ulid(u())
    );
    same_not_found!(
        "regenerate",
        |id| c.regenerate_credential(bc, id, None),
        cred.credential.id,
        CredentialId::from_ulid(u())
    );
    same_not_found!(
        "revoke",
        |id| c.revoke_credential(bc, id),
        cred.credential.id,
        CredentialId::from_ulid(u())
    );
    same_not_found!(
        "project credentials",
        |id| c.credentials_of_project(bc, id),
        a.project.id,
        ProjectId::from_ulid(u())
    );
    let pr = portal.projects();
    same_not_found!(
        "project",
        |id| pr.project_overview(bc, id),
        a.project.id,
        ProjectId::from_ulid(u())
    );
    same_not_found!(
        "threshold",
        |id| pr.delete_alert_threshold_of_metric(bc, id, AlertMetric::RequestsPerDay),
        a.project.id,
        ProjectId::from_ulid(u())
    );
    same_not_found!(
        "clone",
        |id| pr.clone_to_production(bc, id),
        sub.id,
        SubscriptionId::from_ulid(u())
    );
    let pl = portal.pipeline();
    same_not_found!(
        "subscription",
        |id| pl.subscription_view(bc, id),
        sub.id,
        SubscriptionId::from_ulid(u())
    );
    same_not_found!(
        "subscribe",
        |id| pl.subscribe(bc, id, prov.standard.id),
        a.project.id,
        ProjectId::from_ulid(u())
    );
    let e = portal.endpoints();
    same_not_found!(
        "endpoint",
        |id| e.webhook_endpoint(bc, id),
        ep.endpoint.id,
        WebhookEndpointId::from_ulid(u())
    );
    same_not_found!(
        "rotate",
        |id| e.rotate_webhook_secret(bc, id, None),
        ep.endpoint.id,
        WebhookEndpointId::from_ulid(u())
    );
    same_not_found!(
        "deliveries",
        |id| wh.deliveries_of_endpoint(bc, id, None, 10),
        ep.endpoint.id,
        WebhookEndpointId::from_ulid(u())
    );
    same_not_found!(
        "delivery",
        |id| wh.delivery(bc, id),
        delivery,
        DeliveryId::from_ulid(u())
    );
    same_not_found!(
        "retry delivery",
        |id| wh.retry_delivery(bc, id),
        delivery,
        DeliveryId::from_ulid(u())
    );
    let w = portal.workspaces();
    same_not_found!(
        "workspace",
        |id| w.workspace_overview(bc, id),
        a.workspace.id,
        WorkspaceId::from_ulid(u())
    );
    same_not_found!(
        "accept invitation",
        |id| w.accept_invitation(bc, id),
        inv.id,
        InvitationId::from_ulid(u())
    );
    same_not_found!(
        "revoke invitation",
        |id| w.revoke_invitation(bc, id),
        inv.id,
        InvitationId::from_ulid(u())
    );
    same_not_found!(
        "approve join request",
        |id| w.decide_join_request(bc, id, true, None),
        jr.id,
        JoinRequestId::from_ulid(u())
    );
    same_not_found!(
        "decline join request",
        |id| w.decide_join_request(bc, id, false, None),
        jr.id,
        JoinRequestId::from_ulid(u())
    );
}
