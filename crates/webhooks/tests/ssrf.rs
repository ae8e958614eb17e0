//! The SSRF guard from the outside: the real delivery client aims at a loopback listener in
//! every spelling an attacker might register, and the listener counts the connections it
//! accepts. With the default policy not one arrives. Complements the unit tests in
//! `src/ssrf.rs` (classification) and `delivery.rs` (a few spellings through the worker).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::Utc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use webhooks::signing::SignedHeaders;
use webhooks::{AddressPolicy, ClientConfig, DeliveryClient, install_crypto_provider};

/// A TCP listener that counts accepted connections and answers each with `reply`.
async fn counting_listener(addr: &str, reply: String) -> Option<(SocketAddr, Arc<AtomicUsize>)> {
    let l = TcpListener::bind(addr).await.ok()?;
    let local = l.local_addr().unwrap();
    let n = Arc::new(AtomicUsize::new(0));
    let count = n.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            let reply = reply.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf).await;
                let _ = s.write_all(reply.as_bytes()).await;
                let _ = s.shutdown().await;
            });
        }
    });
    Some((local, n))
}

const OK: &str = "HTTP/1.1 204 No Content\r\nconnection: close\r\n\r\n";

fn client(policy: AddressPolicy) -> DeliveryClient {
    install_crypto_provider();
    DeliveryClient::new(ClientConfig {
        policy,
        ..ClientConfig::default()
    })
    .unwrap()
}

fn signed() -> SignedHeaders {
    SignedHeaders::new(
        &["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_owned()],
        "msg_1",
        Utc::now().timestamp(),
        b"{}",
    )
    .unwrap()
}

/// Every spelling of "this machine" or "an internal network" we know of; `{p}` is the port.
fn internal_urls(p: u16) -> Vec<String> {
    let v: Vec<String> = [
        "http://127.0.0.1:{p}/hook",
        "http://127.0.0.2:{p}/hook",
        "http://localhost:{p}/hook",
        "http://LOCALHOST.:{p}/hook",
        "http://2130706433:{p}/hook",
        "http://0177.0.0.1:{p}/hook",
        "http://0x7f000001:{p}/hook",
        "http://0x7f.0x0.0x0.0x1:{p}/hook",
        "http://127.1:{p}/hook",
        "http://127.0.1:{p}/hook",
        "http://0.0.0.0:{p}/hook",
        "http://0:{p}/hook",
        "http://[::1]:{p}/hook",
        "http://[::]:{p}/hook",
        "http://[::ffff:127.0.0.1]:{p}/hook",
        "http://[::ffff:7f00:1]:{p}/hook",
        "http://[0:0:0:0:0:ffff:127.0.0.1]:{p}/hook",
        "http://[::127.0.0.1]:{p}/hook",
        "http://[64:ff9b::7f00:1]:{p}/hook",
        "http://169.254.169.254:{p}/latest/meta-data/",
        "http://[::ffff:169.254.169.254]:{p}/latest/meta-data/",
        "http://[fd00:ec2::254]:{p}/latest/meta-data/",
        "http://10.0.0.1:{p}/hook",
        "http://172.16.0.1:{p}/hook",
        "http://192.168.1.1:{p}/hook",
        "http://100.64.0.1:{p}/hook",
        "http://[fd12:3456::1]:{p}/hook",
        "http://[fe80::1]:{p}/hook",
        "https://127.0.0.1:{p}/hook",
        "http://user:pass@127.0.0.1:{p}/hook",
    ]
    .iter()
    .map(|u| u.replace("{p}", &p.to_string()))
    .collect();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_spelling_of_an_internal_address_reaches_a_loopback_listener() {
    let (v4, hits_v4) = counting_listener("127.0.0.1:0", OK.into()).await.unwrap();
    // The same port on ::1 when IPv6 loopback exists, so `[::1]` would have somewhere to go.
    let hits_v6 = counting_listener(&format!("[::1]:{}", v4.port()), OK.into())
        .await
        .map(|(_, n)| n);
    let strict = client(AddressPolicy::strict());
    let mut urls = internal_urls(v4.port());
    // A name other than `localhost` that this machine resolves to internal addresses only,
    // when it has one (its own host name usually does).
    if let Ok(h) = std::fs::read_to_string("/etc/hostname") {
        let h = h.trim().to_owned();
        if let Ok(addrs) = tokio::net::lookup_host((h.as_str(), 0)).await {
            let addrs: Vec<_> = addrs.collect();
            if !addrs.is_empty()
                && addrs
                    .iter()
                    .all(|a| webhooks::ssrf::classify(a.ip()).is_some())
            {
                urls.push(format!("http://{h}:{}/hook", v4.port()));
            }
        }
    }
    let mut refused = 0;
    for url in &urls {
        let o = strict.send(url, &signed(), "{}", Utc::now()).await;
        assert_eq!(o.status, None, "{url} got an answer: {o:?}");
        let err = o.error.unwrap_or_default();
        // Refused by the guard, or (`localhost.` on some resolvers) not resolvable at all.
        assert!(
            err.contains("refused") || err.contains("no address") || err.contains("dns error"),
            "{url}: {err}"
        );
        refused += 1;
    }
    let v6 = hits_v6.as_ref().map_or(0, |n| n.load(Ordering::SeqCst));
    assert_eq!(
        hits_v4.load(Ordering::SeqCst) + v6,
        0,
        "connections reached"
    );
    eprintln!(
        "SSRF: {refused} URL forms refused, 0 connections accepted (IPv6 listener: {})",
        hits_v6.is_some()
    );

    // The control: the operator's allow-list opens exactly the listener, and it counts.
    let open = client(AddressPolicy::allowing(&["127.0.0.1/32"]).unwrap());
    let o = open
        .send(
            &format!("http://127.0.0.1:{}/hook", v4.port()),
            &signed(),
            "{}",
            Utc::now(),
        )
        .await;
    assert_eq!(o.status, Some(204), "{o:?}");
    assert_eq!(hits_v4.load(Ordering::SeqCst), 1);
    // ... and nothing else: 127.0.0.2 and the metadata service stay shut.
    for url in [
        format!("http://127.0.0.2:{}/hook", v4.port()),
        format!("http://169.254.169.254:{}/", v4.port()),
    ] {
        assert!(
            open.send(&url, &signed(), "{}", Utc::now())
                .await
                .error
                .is_some()
        );
    }
    // allow_private opens loopback but never the metadata service.
    let private = client(AddressPolicy {
        allow_private: true,
        allowed: vec![],
    });
    let o = private
        .send(
            &format!("http://[::ffff:169.254.169.254]:{}/", v4.port()),
            &signed(),
            "{}",
            Utc::now(),
        )
        .await;
    assert!(o.error.unwrap().contains("cloud metadata"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_from_an_allowed_host_to_an_internal_one_is_not_followed() {
    // The internal target: 127.0.0.1, never allowed here.
    let (internal, hits) = counting_listener("127.0.0.1:0", OK.into()).await.unwrap();
    // The "allowed external" receiver: 127.0.0.3, opened by the operator's allow-list; it
    // answers every delivery with a redirect to the internal one.
    for (code, target) in [
        (302, format!("http://127.0.0.1:{}/admin", internal.port())),
        (307, format!("http://localhost:{}/admin", internal.port())),
        (308, format!("http://[::1]:{}/admin", internal.port())),
        (301, "http://169.254.169.254/latest/meta-data/".to_owned()),
    ] {
        let reply = format!(
            "HTTP/1.1 {code} Found\r\nlocation: {target}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
        );
        let Some((external, redirects)) = counting_listener("127.0.0.3:0", reply).await else {
            panic!("127.0.0.3 is loopback on Linux and must bind");
        };
        let c = client(AddressPolicy::allowing(&["127.0.0.3/32"]).unwrap());
        let o = c
            .send(
                &format!("http://127.0.0.3:{}/hook", external.port()),
                &signed(),
                "{}",
                Utc::now(),
            )
            .await;
        assert_eq!(o.status, Some(code), "{o:?}");
        assert_eq!(
            redirects.load(Ordering::SeqCst),
            1,
            "the allowed host was asked"
        );
    }
    assert_eq!(hits.load(Ordering::SeqCst), 0, "no redirect was followed");
}
