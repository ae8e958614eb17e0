//! # webhooks
//!
//! Outbound webhook delivery for the onboarding portal (spec §8):
//!
//! - [`signing`]: Standard Webhooks signatures (`webhook-id`, `webhook-timestamp`,
//!   `webhook-signature`) and a verifier for receivers and tests;
//! - [`ssrf`]: which addresses a delivery may reach, checked on the resolved address at
//!   connect time;
//! - [`client`]: the HTTP client (15 s timeout, no redirects, no proxies, bounded response);
//! - [`schedule`]: the retry schedule, a pure function of the attempt number, a jitter sample
//!   and `Retry-After`;
//! - [`vault`]: [`vault::ChaChaVault`], the AEAD adapter of the core's `SecretVault` port;
//! - [`worker`]: dispatches the outbox and delivers due deliveries, one `run_once(now)` at a
//!   time (tests step it with a manual clock) or in a `run(shutdown)` loop (the server).

pub mod client;
pub mod schedule;
pub mod signing;
pub mod ssrf;
pub mod vault;
pub mod worker;

pub use client::{ClientConfig, DeliveryClient, Outcome};
pub use schedule::{FixedJitter, Jitter, RandomJitter, RetrySchedule};
pub use ssrf::AddressPolicy;
pub use vault::ChaChaVault;
pub use worker::{RunReport, Worker, WorkerConfig};

/// Installs ring as rustls' process-wide crypto provider. reqwest is built without a provider
/// (ring is already compiled for sqlx; aws-lc-rs would be a second stack) and panics when it
/// builds a client without one, so the server and every test call this once before. Calling it
/// again is harmless.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
