//! # portal-server
//!
//! The binary's library: configuration, wiring of the core to its adapters, the background
//! usage flusher, start-up bootstrap (first admin, gateway token) and the operator commands.
//! [`spawn`] starts the real server on a chosen address, for `main` and for the end-to-end tests.

pub mod adapters;
pub mod cache;
pub mod config;
pub mod export;
mod routes;
pub mod vault;
pub mod webhook_worker;
pub mod workers;

use std::sync::Arc;
use std::time::Duration;

use http_api::{ApiConfig, AppState, Argon2Hasher, Metrics};
use onboarding_core::credential::SecretHash;
use onboarding_core::ports::*;
use onboarding_core::{Portal, Ports};
use poem::listener::{Acceptor, Listener, TcpListener};
use poem::{Route, handler, web::Data};
use tokio::sync::oneshot;

use adapters::{BufferedUsage, OsSecrets, SystemClock, UlidIds};
pub use config::{Config, LogFormat, Secret};

pub mod admin;
pub use admin::{
    DEMO_DEVELOPER, DemoReport, FIRST_ADMIN_EMAIL, create_admin, ensure_first_admin, operator,
    seed_demo, verify_audit,
};
/// Installs rustls' crypto provider (ring), once per process: reqwest is built without one in
/// this workspace, so every reqwest client (the webhook worker's, a test's) needs it first.
pub use webhooks::install_crypto_provider;

/// Serves every allocation of 1 MiB or more from its own mapping, returned to the system when
/// freed. glibc otherwise raises that threshold to the largest block freed so far, so after the
/// first sign-in each 19 MiB argon2 block came from a thread's heap arena and stayed there:
/// a few dozen sign-ins on the blocking pool's threads left the process at 500 MB. Called
/// first thing in `main`, before the runtime's threads allocate.
pub fn return_large_allocations_to_the_os() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator parameter; M_MMAP_THRESHOLD takes a byte count.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1024 * 1024);
    }
}

/// Gives the memory start-up used and freed back to the system. Building the application
/// generates the OpenAPI document and walks it as a JSON tree (hundreds of thousands of small
/// allocations); glibc keeps freed small blocks in the heap for reuse, so the idle server
/// would otherwise hold several megabytes it never touches again (issue 7, H).
fn release_start_up_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free heap pages to the system; 0 keeps no padding.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Every store port, from whichever adapter the URL names: the core's, plus the sessions and
/// tokens, idempotency records and delivery queue of the HTTP adapter and the webhook worker.
pub trait Store:
    onboarding_core::Store + AuthTokenStore + IdempotencyStore + DeliveryStore
{
}

impl<T> Store for T where
    T: onboarding_core::Store + AuthTokenStore + IdempotencyStore + DeliveryStore
{
}

/// The core wired to its adapters, plus what the HTTP adapter and the workers need.
#[derive(Clone)]
pub struct Wiring {
    pub portal: Portal,
    pub tokens: Arc<dyn AuthTokenStore>,
    pub idempotency: Arc<dyn IdempotencyStore>,
    pub usage: Arc<BufferedUsage>,
    /// Webhook deliveries (the worker's queue, history and health).
    pub deliveries: Arc<dyn DeliveryStore>,
    /// The verification cache (decorating the credential store and the unit of work).
    pub verify_cache: Arc<cache::VerifyCache>,
    /// The SQL store, when the database is one: its credential change feed drives the
    /// cache's invalidation across replicas.
    pub sql: Option<storage_seaorm::SeaOrmStore>,
}

fn wire<S: Store>(
    store: Arc<S>,
    clock: Arc<dyn Clock>,
    vault: Arc<dyn SecretVault>,
    destinations: Arc<dyn onboarding_core::ports::DestinationPolicy>,
    sql: Option<storage_seaorm::SeaOrmStore>,
) -> Wiring {
    let usage = Arc::new(BufferedUsage::new(store.clone()));
    // Commits under an `Idempotency-Key` mark their claim in the same transaction.
    let claimed_commits = Arc::new(http_api::idempotency::ClaimedCommits::new(
        store.clone(),
        store.clone(),
        clock.clone(),
    ));
    let verify_cache = Arc::new(cache::VerifyCache::new(
        store.clone(),
        store.clone(),
        store.clone(),
        claimed_commits,
        cache::CacheConfig::default(),
    ));
    let mut ports = Ports::over_store(
        store.clone(),
        onboarding_core::Infrastructure {
            clock,
            ids: Arc::new(UlidIds),
            secrets: Arc::new(OsSecrets),
            passwords: Arc::new(Argon2Hasher::default()),
            meter: usage.clone(),
            vault,
            destinations,
        },
    );
    // The verification cache stands in for the ports it decorates.
    ports.subscriptions = verify_cache.clone();
    ports.plans = verify_cache.clone();
    ports.credentials = verify_cache.clone();
    ports.uow = verify_cache.clone();
    Wiring {
        portal: Portal::new(ports),
        tokens: store.clone(),
        deliveries: store.clone(),
        idempotency: store,
        usage,
        verify_cache,
        sql,
    }
}

/// What a command may do to the database's schema: only `serve` and `migrate` change it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchemaMode {
    /// Apply pending migrations (`serve`, `migrate`).
    Migrate,
    /// Refuse a database that needs migration (every other command); nothing is changed.
    Current,
}

/// Opens (and migrates) the configured database, checks the vault key against what it holds,
/// and wires the core to it: what `serve` does.
pub async fn connect(config: &Config) -> Result<Wiring, String> {
    connect_with(config, SchemaMode::Migrate).await
}

/// `migrate`: brings the schema up to date and nothing else.
pub async fn migrate(config: &Config) -> Result<(), String> {
    let url = config.database_url();
    if url != "memory:" {
        storage_seaorm::connect_and_migrate(&url)
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// The SQL store of a database already at this binary's schema (operator commands).
pub async fn current_store(config: &Config) -> Result<storage_seaorm::SeaOrmStore, String> {
    storage_seaorm::connect_current(&config.database_url())
        .await
        .map_err(|e| e.to_string())
}

/// [`connect`] for any command: `Current` refuses a database that needs migration, and
/// neither creates the data directory's vault key nor checks it (those commands seal nothing).
pub async fn connect_with(config: &Config, mode: SchemaMode) -> Result<Wiring, String> {
    let clock = config
        .clock
        .clone()
        .unwrap_or_else(|| Arc::new(SystemClock));
    let configured = vault::configured_vault(config, mode == SchemaMode::Migrate)?;
    // Registration refuses what the delivery worker's SSRF guard would: one policy for both.
    let destinations = Arc::new(webhook_worker::address_policy(config)?);
    let url = config.database_url();
    let store = match (url.as_str(), mode) {
        ("memory:", _) => None,
        (_, SchemaMode::Migrate) => Some(
            storage_seaorm::connect_and_migrate(&url)
                .await
                .map_err(|e| e.to_string())?,
        ),
        (_, SchemaMode::Current) => Some(current_store(config).await?),
    };
    if let (Some(store), Some(v), SchemaMode::Migrate) = (&store, &configured, mode) {
        vault::check_vault(store, v).await?;
    }
    let vault: Arc<dyn SecretVault> = Arc::new(match configured {
        Some(v) => v.vault,
        // No key anywhere, and the command seals nothing: a throwaway one, never stored.
        None => webhooks::ChaChaVault::from_base64(&webhooks::ChaChaVault::generate_key())
            .map_err(|e| e.to_string())?,
    });
    Ok(match store {
        None => wire(
            Arc::new(onboarding_core::memory::MemoryStore::new()),
            clock,
            vault,
            destinations,
            None,
        ),
        Some(store) => wire(
            Arc::new(store.clone()),
            clock,
            vault,
            destinations,
            Some(store),
        ),
    })
}

/// A running server: where it listens, how to stop it, and what start-up created.
pub struct RunningServer {
    pub addr: std::net::SocketAddr,
    pub base_url: String,
    /// The first admin created at start-up (e-mail, password), if one was.
    pub admin: Option<(String, String)>,
    /// The gateway token generated at start-up, if none was configured.
    pub generated_gateway_token: Option<String>,
    pub wiring: Wiring,
    shutdown: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    /// Background workers (usage flusher, cache invalidation), stopped after the last flush.
    workers: Vec<tokio::task::JoinHandle<()>>,
    /// The webhook delivery worker, stopped at shutdown after its pass in progress.
    webhooks: webhook_worker::WebhookRunner,
}

impl RunningServer {
    /// Writes counted usage now and evaluates the alert thresholds of the projects it moved
    /// (the worker does both every `usage_flush_seconds`).
    pub async fn flush_usage(&self) {
        workers::flush_and_alert(&self.wiring).await;
    }

    /// One webhook worker pass at the clock's time (tests step the clock instead of sleeping):
    /// fans out new outbox messages and sends every delivery due. It waits for a background
    /// pass in progress, so whatever was due is settled when it returns.
    pub async fn run_webhooks_once(&self) -> Result<webhooks::RunReport, String> {
        self.webhooks.run_once().await
    }

    /// The final flush, then the workers stop.
    async fn finish(&mut self) {
        self.webhooks.shutdown().await;
        workers::flush_and_alert(&self.wiring).await;
        for w in self.workers.drain(..) {
            w.abort();
        }
    }

    /// Stops accepting, drains in-flight requests, flushes usage.
    pub async fn stop(mut self) -> std::io::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let r = (&mut self.task).await.unwrap_or(Ok(()));
        self.finish().await;
        r
    }

    /// Waits until the server stops (after a signal, for `main`).
    pub async fn wait(mut self) -> std::io::Result<()> {
        let r = (&mut self.task).await.unwrap_or(Ok(()));
        self.finish().await;
        r
    }
}

/// A new id for this server run, kept in `<data_dir>/server-run`. A server restarts on its own
/// data directory, so the run named there before has stopped: the idempotency claims it left
/// neither committed nor answered are released now rather than when their lease ends
/// (docs/decisions/0016). Were that run somehow still alive, its commits would be refused:
/// a claim's token fences them.
async fn start_run(
    data_dir: &std::path::Path,
    claims: &dyn IdempotencyStore,
) -> Result<String, String> {
    let file = data_dir.join("server-run");
    let previous = std::fs::read_to_string(&file)
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty());
    let run = ulid::Ulid::generate().to_string();
    std::fs::create_dir_all(data_dir)
        .and_then(|()| std::fs::write(&file, &run))
        .map_err(|e| format!("cannot write {}: {e}", file.display()))?;
    if let Some(previous) = previous {
        let released = claims
            .release_run(&previous)
            .await
            .map_err(|e| format!("cannot release the previous run's idempotency claims: {e}"))?;
        if released > 0 {
            tracing::info!(
                released,
                "released the idempotency claims the previous run left unanswered"
            );
        }
    }
    Ok(run)
}

/// The gateway token's hash: from the configuration, else from `<data_dir>/gateway-token.sha256`,
/// else a new token (returned once, for printing) whose hash is stored there.
fn gateway_token(config: &Config) -> Result<(SecretHash, Option<String>), String> {
    if let Some(t) = &config.gateway_token {
        return Ok((SecretHash::of(t.expose()), None));
    }
    let file = config.data_dir.join("gateway-token.sha256");
    if let Ok(hex) = std::fs::read_to_string(&file) {
        let hex = hex.trim().to_owned();
        if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok((SecretHash::from_stored(hex), None));
        }
    }
    let token = format!("gw_{}", OsSecrets.base62(40));
    let hash = SecretHash::of(&token);
    std::fs::create_dir_all(&config.data_dir)
        .and_then(|()| std::fs::write(&file, format!("{}\n", hash.as_str())))
        .map_err(|e| {
            format!(
                "cannot store the gateway token hash in {}: {e}",
                file.display()
            )
        })?;
    Ok((hash, Some(token)))
}

#[handler]
fn healthz() -> &'static str {
    "ok"
}

#[handler]
async fn readyz(state: Data<&AppState>) -> poem::Response {
    // A cheap read through a store port: answers only when the database does.
    match state.portal().ports().accounts.staff_count().await {
        Ok(_) => poem::Response::builder().body("ready"),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            poem::Response::builder()
                .status(poem::http::StatusCode::SERVICE_UNAVAILABLE)
                .body("database unavailable")
        }
    }
}

/// Connects, bootstraps and starts serving on `config.bind`; returns once listening.
/// `shutdown_signal` (if any) stops the server like [`RunningServer::stop`].
pub async fn start(
    config: Config,
    shutdown_signal: Option<std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>>,
) -> Result<RunningServer, String> {
    tracing::info!(database = %config.database_url_redacted(), bind = %config.bind, "starting");
    install_crypto_provider();
    let wiring = connect(&config).await?;
    let webhook_runner = webhook_worker::WebhookRunner::new(
        wiring.portal.clone(),
        wiring.deliveries.clone(),
        wiring.portal.ports().clock.clone(),
        &config,
    )?;
    let admin = ensure_first_admin(&wiring.portal).await?;
    let (gateway_hash, generated_gateway_token) = gateway_token(&config)?;
    let server_run = start_run(&config.data_dir, wiring.idempotency.as_ref()).await?;
    let state = AppState::new(
        wiring.portal.clone(),
        wiring.tokens.clone(),
        wiring.idempotency.clone(),
        ApiConfig {
            secure_cookies: config.secure_cookies,
            gateway_token_hash: Some(gateway_hash),
            forward_auth_key: config
                .forward_auth_key_header
                .as_deref()
                .map(http_api::forward_auth::KeyHeader::parse)
                .transpose()
                .map_err(|e| format!("forward_auth_key_header: {e}"))?
                .unwrap_or_default(),
            server_run,
            ..ApiConfig::default()
        },
    )
    .with_webhooks(wiring.deliveries.clone());
    let metrics = Arc::new(Metrics::default());
    let m = metrics.clone();
    let ops = Route::new()
        .at("/healthz", healthz)
        .at("/readyz", readyz)
        .at(
            "/metrics",
            poem::endpoint::make_sync(move |_| {
                poem::Response::builder()
                    .content_type("text/plain; version=0.0.4")
                    .body(m.render())
            }),
        );
    let web = web_portal::WebState::new(
        wiring.portal.clone(),
        wiring.tokens.clone(),
        config.secure_cookies,
    )
    .with_webhooks(wiring.deliveries.clone());
    let app = routes::mount(http_api::app(state, ops, metrics), web_portal::routes(web));
    release_start_up_memory();

    let acceptor = TcpListener::bind(config.bind.clone())
        .into_acceptor()
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", config.bind))?;
    let addr = acceptor
        .local_addr()
        .into_iter()
        .find_map(|a| a.as_socket_addr().copied())
        .ok_or("no local address")?;
    let base_url = config
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{addr}"));

    // The usage flusher with alert evaluation: every `usage_flush_seconds`, and once more at
    // shutdown (in stop/wait); the verification cache's invalidation feeds on a SQL database.
    let mut workers = vec![workers::spawn_usage_worker(
        wiring.clone(),
        std::time::Duration::from_secs(config.usage_flush_seconds),
    )];
    if let Some(sql) = &wiring.sql {
        workers.extend(workers::spawn_invalidation(
            sql.clone(),
            wiring.verify_cache.clone(),
        ));
    }
    webhook_runner.spawn();

    // The banner comes before the first request is served: whoever sees `/readyz` answer
    // (a script, a test reading the first admin's password) finds it complete. The listener is
    // bound already, so early connections wait in its backlog.
    if config.print_banner {
        println!("Onboarding portal listening on {base_url}");
        println!("  Portal:        {base_url}/   (developers sign up here)");
        println!("  API docs:      {base_url}/docs   (OpenAPI document: {base_url}/openapi.json)");
        println!(
            "  Staff sign-in: {base_url}/staff/sign-in   (API: POST {base_url}/api/v1/staff/sign-in)"
        );
        if let Some((email, password)) = &admin {
            println!("  First admin created (shown once):");
            println!("    e-mail:   {email}");
            println!("    password: {password}");
        }
        if let Some(t) = &generated_gateway_token {
            println!(
                "  Gateway token for POST /api/v1/verify (shown once; only its hash is kept):"
            );
            println!("    {t}");
        }
    }

    let (tx, rx) = oneshot::channel::<()>();
    let grace = Duration::from_secs(config.shutdown_grace_seconds);
    let task = tokio::spawn(async move {
        poem::Server::new_with_acceptor(acceptor)
            .run_with_graceful_shutdown(
                app,
                async move {
                    match shutdown_signal {
                        Some(sig) => {
                            tokio::select! {
                                _ = sig => {}
                                _ = rx => {}
                            }
                        }
                        None => {
                            let _ = rx.await;
                        }
                    }
                    tracing::info!("shutting down: draining in-flight requests");
                },
                Some(grace),
            )
            .await
    });

    Ok(RunningServer {
        addr,
        base_url,
        admin,
        generated_gateway_token,
        wiring,
        shutdown: Some(tx),
        task,
        workers,
        webhooks: webhook_runner,
    })
}

/// Starts the real server for tests: binds `127.0.0.1:0` unless `config.bind` says otherwise
/// (the default `127.0.0.1:8080` is replaced), without a banner.
pub async fn spawn(mut config: Config) -> Result<RunningServer, String> {
    if config.bind == Config::default().bind {
        config.bind = "127.0.0.1:0".into();
    }
    config.print_banner = false;
    install_crypto_provider();
    start(config, None).await
}
