//! The mail worker: each tick leases the due notifications through the core, sends them one
//! by one, and records each outcome (the core schedules retries). Several workers may run
//! (on several replicas): the lease keeps each message with one of them, and a worker killed
//! mid-send loses its lease at expiry, so another sends the message again with the same
//! Message-ID. Tests call [`MailWorker::run_once`] with a stepped clock.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::TimeDelta;
use lettre::message::Mailbox;
use onboarding_core::notification::MailOutcome;
use onboarding_core::{Notifications, ServiceError};

use crate::{Sender, Site};

/// How the worker runs.
#[derive(Debug, Clone)]
pub struct MailWorkerConfig {
    /// Names this worker's leases; unique per process.
    pub owner: String,
    /// Messages leased per tick.
    pub batch: u64,
    /// Longer than a send can take (the SMTP timeout is 20 s a command).
    pub lease: TimeDelta,
    /// Pause between ticks that found nothing to do.
    pub idle_poll: Duration,
}

impl Default for MailWorkerConfig {
    fn default() -> Self {
        MailWorkerConfig {
            owner: format!("mail-{}", ulid::Ulid::generate()),
            batch: 50,
            lease: TimeDelta::seconds(120),
            idle_poll: Duration::from_millis(500),
        }
    }
}

/// What one tick did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MailReport {
    /// Messages handed to the server (or written).
    pub sent: usize,
    /// Failed attempts that will be tried again.
    pub retrying: usize,
    /// Messages given up on.
    pub failed: usize,
    /// Outcomes not recorded because the lease was lost meanwhile.
    pub lost_leases: usize,
}

/// The mail worker. Cheap to clone; clones take turns (their ticks never overlap).
#[derive(Clone)]
pub struct MailWorker {
    notifications: Notifications,
    sender: Sender,
    from: Mailbox,
    site: Site,
    domain: String,
    cfg: MailWorkerConfig,
    tick: Arc<tokio::sync::Mutex<()>>,
}

impl MailWorker {
    /// A worker sending as `from`, with links and Message-IDs from `site`'s public URL.
    pub fn new(notifications: Notifications, sender: Sender, from: Mailbox, site: Site) -> Self {
        let domain = url::Url::parse(&site.base_url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or_else(|| "portal.local".into());
        MailWorker {
            notifications,
            sender,
            from,
            site,
            domain,
            cfg: MailWorkerConfig::default(),
            tick: Arc::new(tokio::sync::Mutex::new(())),
        }
    }

    /// The same worker with another configuration.
    pub fn with_config(mut self, cfg: MailWorkerConfig) -> Self {
        self.cfg = cfg;
        self
    }

    /// Where messages go.
    pub fn sender(&self) -> &Sender {
        &self.sender
    }

    /// One tick at the clock's time: lease what is due, send it, record each outcome.
    pub async fn run_once(&self) -> Result<MailReport, ServiceError> {
        let _turn = self.tick.lock().await;
        let mut report = MailReport::default();
        let due = self
            .notifications
            .claim_mail(&self.cfg.owner, self.cfg.lease, self.cfg.batch)
            .await?;
        for mail in due {
            let id = mail.notification.id.to_string();
            let result = match crate::message(&mail, &self.from, &self.site, &self.domain) {
                Ok(m) => self.sender.send(&id, &m).await,
                Err(e) => Err(e),
            };
            if let Err(e) = &result {
                tracing::warn!(notification = %id, kind = mail.notification.kind.as_str(), error = %e, "e-mail not sent");
            }
            match self
                .notifications
                .settle_mail(&mail, &self.cfg.owner, result)
                .await
            {
                Ok(MailOutcome::Sent) => report.sent += 1,
                Ok(MailOutcome::Retry { .. }) => report.retrying += 1,
                Ok(MailOutcome::Failed { .. }) => report.failed += 1,
                Ok(MailOutcome::Skipped) => {}
                Err(ServiceError::Conflict { .. }) => report.lost_leases += 1,
                Err(e) => return Err(e),
            }
        }
        Ok(report)
    }

    /// Ticks until `stop` resolves: at once again after a busy tick, after `idle_poll`
    /// otherwise. A failing tick (database away) is logged and retried.
    pub async fn run(&self, stop: impl Future<Output = ()>) {
        tokio::pin!(stop);
        loop {
            let busy = match self.run_once().await {
                Ok(r) => r.sent + r.retrying + r.failed > 0,
                Err(e) => {
                    tracing::warn!(error = %e, "mail worker tick failed");
                    false
                }
            };
            let pause = if busy {
                Duration::ZERO
            } else {
                self.cfg.idle_poll
            };
            tokio::select! {
                _ = &mut stop => return,
                _ = tokio::time::sleep(pause) => {}
            }
        }
    }
}
