//! Two replicas of the real `portal-server` binary, each with its own data directory, on one
//! database (a fresh PostgreSQL database when `PORTAL_TEST_DATABASE_URL` is set: an unreachable
//! server fails the suite, it never skips; else one SQLite file), with the vault key configured
//! as docs/operations.md says (`PORTAL_VAULT_KEY_FILE`, the same file for both):
//! - webhook deliveries sent by either replica's worker verify with the endpoint's secret,
//!   checked by the independent `standardwebhooks` crate;
//! - a replica started with another key, or with none (its own data directory's), refuses to
//!   start and says why;
//! - `vault rotate-key` re-encrypts what is stored: a server still running on the old key logs
//!   an error for the delivery it cannot sign (without the secret), the old key is refused at
//!   start-up, and both replicas deliver again, verifiably, once restarted with the new key.

mod common;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use poem::http::HeaderMap;
use poem::listener::{Acceptor, Listener, TcpListener};
use poem::web::Data;
use poem::{EndpointExt, Response, Route, Server, handler, post};
use serde_json::{Value, json};

#[derive(Clone, Default)]
struct Inbox(Arc<Mutex<Vec<(HeaderMap, String)>>>);

#[handler]
async fn hook(req: &poem::Request, body: String, Data(inbox): Data<&Inbox>) -> Response {
    inbox
        .0
        .lock()
        .unwrap()
        .push((req.headers().clone(), body.clone()));
    // Echo a verification challenge; any other event just gets a 200.
    let v: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    let challenge = v["data"]["challenge"].as_str().unwrap_or_default();
    Response::builder()
        .content_type("application/json")
        .body(json!({ "challenge": challenge }).to_string())
}

async fn receiver() -> (Inbox, String) {
    let acceptor = TcpListener::bind("127.0.0.1:0")
        .into_acceptor()
        .await
        .unwrap();
    let port = acceptor.local_addr()[0].as_socket_addr().unwrap().port();
    let inbox = Inbox::default();
    let app = Route::new().at("/hook", post(hook)).data(inbox.clone());
    tokio::spawn(Server::new_with_acceptor(acceptor).run(app));
    (inbox, format!("http://127.0.0.1:{port}/hook"))
}

impl Inbox {
    /// Waits (bounded polling) until the message `id` has arrived; answers its request.
    async fn wait_for(&self, id: &str) -> (HeaderMap, String) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let got = self
                .0
                .lock()
                .unwrap()
                .iter()
                .find(|(h, _)| h.get("webhook-id").and_then(|v| v.to_str().ok()) == Some(id))
                .cloned();
            if let Some(g) = got {
                return g;
            }
            assert!(Instant::now() < deadline, "message {id} never arrived");
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

fn write_key(path: &Path) {
    let key: String = (0..32).map(|_| format!("{:02x}", rand_byte())).collect();
    std::fs::write(path, key).unwrap();
}

fn rand_byte() -> u8 {
    // ULIDs carry 80 random bits; one byte of one is enough for a test key.
    (ulid::Ulid::generate().random() & 0xff) as u8
}

fn replica(url: &str, dir: &Path, key_file: Option<&Path>) -> ServerSpec {
    std::fs::create_dir_all(dir).unwrap();
    let mut spec = ServerSpec::new(url, dir);
    spec.env
        .push(("PORTAL_WEBHOOK_ALLOWED_CIDRS".into(), "127.0.0.1/32".into()));
    if let Some(k) = key_file {
        spec.env
            .push(("PORTAL_VAULT_KEY_FILE".into(), k.display().to_string()));
    }
    spec
}

/// Sends a test event through `base`; answers its message id.
async fn send_test(dev: &mut Api, base: &str, ep: &str) -> String {
    dev.rebase(base);
    let r = dev
        .post(&format!("/api/v1/webhook-endpoints/{ep}/test"), json!({}))
        .await;
    assert_eq!(r.status, reqwest::StatusCode::ACCEPTED, "{}", r.body);
    r.body["message_id"].as_str().unwrap().to_owned()
}

fn verifies(secret: &str, (headers, body): &(HeaderMap, String)) {
    let wh = standardwebhooks::Webhook::new(secret).unwrap();
    wh.verify(body.as_bytes(), headers)
        .unwrap_or_else(|e| panic!("delivery does not verify: {e:?}\n{body}"));
}

/// Waits (bounded polling) until the delivery of message `id` is settled; answers it.
async fn settled(dev: &Api, ep: &str, id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let r = dev
            .get(&format!("/api/v1/webhook-endpoints/{ep}/deliveries"))
            .await;
        let d = r.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["message_id"] == id)
            .cloned();
        if let Some(d) = d
            && d["status"] != "pending"
            && d["status"] != "retrying"
        {
            return d;
        }
        assert!(Instant::now() < deadline, "delivery of {id} never settled");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test]
async fn replicas_sharing_the_configured_vault_key_deliver_verifiably_and_rotate_it() {
    let root = temp_dir("replicas");
    let url = fresh_database(&root).await;
    let (key1, key2, wrong) = (
        root.join("vault-1.key"),
        root.join("vault-2.key"),
        root.join("wrong.key"),
    );
    write_key(&key1);
    write_key(&wrong);
    let spec_a = replica(&url, &root.join("a"), Some(&key1));
    let spec_b = replica(&url, &root.join("b"), Some(&key1));
    let (inbox, hook_url) = receiver().await;

    // Replica A alone: sign-up to a registered endpoint, verified by A's worker.
    let mut a = spec_a.start(0).await;
    let email = "replicas@acme.example";
    let mut dev = Api::new(&a.base);
    dev.ok(
        "/api/v1/auth/sign-up",
        json!({"email": email, "name": "Rep", "password": PASSWORD}),
    )
    .await;
    dev.ok(
        "/api/v1/auth/sign-in",
        json!({"email": email, "password": PASSWORD}),
    )
    .await;
    let ws = dev
        .ok("/api/v1/workspaces", json!({"name": "Replicas"}))
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let project = dev
        .ok(
            &format!("/api/v1/workspaces/{ws}/projects"),
            json!({"name": "Ledger", "purpose": "Sync", "endpoints": ["GET /accounts"]}),
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let created = dev
        .ok(
            &format!("/api/v1/projects/{project}/webhook-endpoints"),
            json!({"url": hook_url}),
        )
        .await;
    let ep = created["endpoint"]["id"].as_str().unwrap().to_owned();
    let secret = created["secret"].as_str().unwrap().to_owned();
    let by_a = send_test(&mut dev, &a.base, &ep).await;
    verifies(&secret, &inbox.wait_for(&by_a).await);

    // Replica B alone (A stopped): its own data directory, the same key file.
    let mut b = spec_b.start(0).await;
    a.terminate();
    let by_b = send_test(&mut dev, &b.base, &ep).await;
    verifies(&secret, &inbox.wait_for(&by_b).await);
    assert_eq!(settled(&dev, &ep, &by_b).await["status"], "succeeded");

    // Both at once: whichever worker takes a delivery, it verifies.
    let mut a = spec_a.start(1).await;
    let mut ids = vec![];
    for i in 0..6 {
        let base = if i % 2 == 0 { &a.base } else { &b.base };
        ids.push(send_test(&mut dev, base, &ep).await);
    }
    for id in &ids {
        verifies(&secret, &inbox.wait_for(id).await);
    }

    // Another key, or none at all (the data directory's own), is refused at start-up.
    for (name, key) in [("wrong", Some(wrong.as_path())), ("nokey", None)] {
        let (code, err) = replica(&url, &root.join(name), key).start_refused().await;
        assert_ne!(code, 0, "{name}: {err}");
        assert!(
            err.contains("cannot open") && err.contains("same key"),
            "{name}: the refusal says why: {err}"
        );
    }

    // Rotation, with B stopped and A still running on the old key.
    b.terminate();
    let (code, out, err) = spec_a.run(&[
        "vault",
        "rotate-key",
        "--new-key-file",
        &key2.display().to_string(),
    ]);
    assert_eq!(code, 0, "rotate-key: {out}{err}");
    assert!(
        out.contains("re-encrypted 1 signing secret(s) of 1 endpoint(s)"),
        "{out}"
    );
    assert!(key2.exists(), "the new key was generated into the file");
    // A's key no longer opens the secret: the delivery it takes is not sent, and said so.
    let stale = send_test(&mut dev, &a.base, &ep).await;
    let d = settled(&dev, &ep, &stale).await;
    assert_eq!(d["status"], "failed", "{d}");
    a.terminate();
    let log = a.stderr_text();
    assert!(
        log.contains("ERROR") && log.contains("vault key"),
        "a failed unseal is logged as an error:\n{log}"
    );
    assert!(
        !log.contains(&secret[6..]),
        "the log never holds the secret"
    );
    // The old key is refused now; the new one opens everything, on both replicas.
    let (code, err) = spec_a.start_refused().await;
    assert_ne!(code, 0, "{err}");
    let spec_a = replica(&url, &root.join("a"), Some(&key2));
    let spec_b = replica(&url, &root.join("b"), Some(&key2));
    let a = spec_a.start(2).await;
    let b = spec_b.start(1).await;
    let mut ids = vec![];
    for i in 0..4 {
        let base = if i % 2 == 0 { &a.base } else { &b.base };
        ids.push(send_test(&mut dev, base, &ep).await);
    }
    for id in &ids {
        verifies(&secret, &inbox.wait_for(id).await);
        assert_eq!(settled(&dev, &ep, id).await["status"], "succeeded");
    }
    let (code, out, err) = spec_a.audit_verify();
    assert_eq!(code, 0, "{out}{err}");
    drop((a, b));
    std::fs::remove_dir_all(&root).ok();
}
