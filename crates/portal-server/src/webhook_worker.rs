//! The webhook delivery worker of the running server: built from the configuration (the SSRF
//! guard's address policy), run in the background until graceful shutdown, and steppable one
//! pass at a time by tests ([`WebhookRunner::run_once`]; the pass waits for a background pass
//! in progress, so a test finds every effect complete when it returns, and never sleeps).

use std::sync::{Arc, Mutex};

use onboarding_core::Portal;
use onboarding_core::ports::{Clock, DeliveryStore};
use tokio::sync::watch;
use webhooks::{AddressPolicy, ClientConfig, DeliveryClient, RunReport, Worker};

use crate::config::Config;

/// The SSRF guard's policy from the configuration.
pub fn address_policy(config: &Config) -> Result<AddressPolicy, String> {
    let mut p = AddressPolicy::allowing(&config.webhook_allowed_cidrs)
        .map_err(|e| format!("webhook_allowed_cidrs: {e}"))?;
    p.allow_private = config.webhook_allow_private;
    Ok(p)
}

/// The worker and its background task.
pub struct WebhookRunner {
    worker: Worker,
    clock: Arc<dyn Clock>,
    stop: watch::Sender<bool>,
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl WebhookRunner {
    /// Builds the delivery client (installing the TLS crypto provider first) and the worker,
    /// without starting it.
    pub fn new(
        portal: Portal,
        deliveries: Arc<dyn DeliveryStore>,
        clock: Arc<dyn Clock>,
        config: &Config,
    ) -> Result<Self, String> {
        webhooks::install_crypto_provider();
        let client = DeliveryClient::new(ClientConfig {
            policy: address_policy(config)?,
            ..ClientConfig::default()
        })
        .map_err(|e| format!("cannot build the webhook HTTP client: {e}"))?;
        let worker = Worker::new(portal, deliveries, clock.clone(), client);
        let (stop, _) = watch::channel(false);
        Ok(Self {
            worker,
            clock,
            stop,
            task: Mutex::new(None),
        })
    }

    /// Starts the background loop (`Worker::run`) until [`Self::shutdown`].
    pub fn spawn(&self) {
        let worker = self.worker.clone();
        let mut stop = self.stop.subscribe();
        let task = tokio::spawn(async move {
            worker
                .run(async move {
                    let _ = stop.wait_for(|s| *s).await;
                })
                .await;
            tracing::debug!("webhook worker stopped");
        });
        *self.task.lock().expect("webhook task lock") = Some(task);
    }

    /// One pass at the clock's time: fan out new outbox messages, send what is due.
    pub async fn run_once(&self) -> Result<RunReport, String> {
        self.worker
            .run_once(self.clock.now())
            .await
            .map_err(|e| e.to_string())
    }

    /// Stops the background loop after the pass in progress (leases of deliveries it had not
    /// reached expire and another worker sends them).
    pub async fn shutdown(&self) {
        let _ = self.stop.send(true);
        let task = self.task.lock().expect("webhook task lock").take();
        if let Some(t) = task {
            let _ = t.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_address_policy_comes_from_the_configuration() {
        let env = |k: &str| match k {
            "PORTAL_WEBHOOK_ALLOW_PRIVATE" => Some("true".to_owned()),
            "PORTAL_WEBHOOK_ALLOWED_CIDRS" => Some("127.0.0.1/32, 10.20.0.0/16".to_owned()),
            _ => None,
        };
        let c = Config::load(None, env).unwrap();
        assert!(c.webhook_allow_private);
        assert_eq!(c.webhook_allowed_cidrs, ["127.0.0.1/32", "10.20.0.0/16"]);
        let p = address_policy(&c).unwrap();
        assert!(p.allow_private);
        assert_eq!(p.allowed.len(), 2);

        let strict = address_policy(&Config::default()).unwrap();
        assert_eq!(strict, AddressPolicy::strict());
        let bad = |k: &str| (k == "PORTAL_WEBHOOK_ALLOWED_CIDRS").then(|| "10.0.0.0/99".to_owned());
        assert!(Config::load(None, bad).is_err());
        let bad = |k: &str| (k == "PORTAL_WEBHOOK_ALLOW_PRIVATE").then(|| "maybe".to_owned());
        assert!(Config::load(None, bad).is_err());
    }
}
