//! The mail worker of the running server (issue 21): SMTP when `PORTAL_SMTP_URL` is set,
//! else `.eml` files under `<data_dir>/mail/`; run in the background until graceful shutdown,
//! and steppable one tick at a time by tests ([`MailRunner::run_once`] waits for a background
//! tick in progress, so its effects are complete when it returns).

use std::path::PathBuf;
use std::sync::Mutex;

use mailer::{MailReport, MailWorker, Sender, Site};
use onboarding_core::Portal;
use tokio::sync::watch;

use crate::config::Secret;

/// E-mail settings, from `PORTAL_SMTP_URL`, `PORTAL_MAIL_FROM`, `PORTAL_MAIL_DIR` and
/// `PORTAL_PROVIDER_NAME`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MailConfig {
    /// `smtps://user:pass@host:465`, `smtp://user:pass@host:587?tls=required`, or
    /// `smtp://127.0.0.1:2525` for a local relay without TLS. Unset: `.eml` files. May carry
    /// a password, hence a secret.
    pub smtp_url: Option<Secret>,
    /// The sender: `Acme Developers <developers@acme.example>`.
    pub from: String,
    /// Where `.eml` files go without SMTP; default `<data_dir>/mail`.
    pub dir: Option<PathBuf>,
    /// The provider's name in subjects and signatures.
    pub provider_name: String,
}

impl Default for MailConfig {
    fn default() -> Self {
        MailConfig {
            smtp_url: None,
            from: "Developer portal <portal@localhost>".into(),
            dir: None,
            provider_name: "Developer portal".into(),
        }
    }
}

impl MailConfig {
    /// The defaults overridden by the environment; a bad sender or SMTP URL is refused here,
    /// at start-up, not at the first message.
    pub fn from_env(env: &impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let mut c = MailConfig::default();
        let set = |k: &str| {
            env(k)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        if let Some(v) = set("PORTAL_SMTP_URL") {
            c.smtp_url = Some(Secret::new(v));
        }
        if let Some(v) = set("PORTAL_MAIL_FROM") {
            c.from = v;
        }
        if let Some(v) = set("PORTAL_MAIL_DIR") {
            c.dir = Some(v.into());
        }
        if let Some(v) = set("PORTAL_PROVIDER_NAME") {
            c.provider_name = v;
        }
        mailer::parse_from(&c.from).map_err(|e| format!("PORTAL_MAIL_FROM: {e}"))?;
        if let Some(u) = &c.smtp_url {
            mailer::Sender::smtp(u.expose()).map_err(|e| format!("PORTAL_SMTP_URL: {e}"))?;
        }
        Ok(c)
    }

    /// Where messages go.
    pub fn sender(&self, data_dir: &std::path::Path) -> Result<Sender, String> {
        match &self.smtp_url {
            Some(u) => Sender::smtp(u.expose()).map_err(|e| format!("PORTAL_SMTP_URL: {e}")),
            None => Ok(Sender::Files(
                self.dir.clone().unwrap_or_else(|| data_dir.join("mail")),
            )),
        }
    }
}

/// This run's lease owner, kept in `<data_dir>/mail-worker`, and the previous run's.
fn worker_owner(data_dir: &std::path::Path) -> Result<(String, Option<String>), String> {
    let file = data_dir.join("mail-worker");
    let previous = std::fs::read_to_string(&file)
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty());
    let owner = format!("mail-{}", ulid::Ulid::generate());
    std::fs::create_dir_all(data_dir)
        .and_then(|()| std::fs::write(&file, &owner))
        .map_err(|e| format!("cannot write {}: {e}", file.display()))?;
    Ok((owner, previous))
}

/// The worker and its background task.
pub struct MailRunner {
    worker: MailWorker,
    /// The lease owner of this data directory's previous run, if there was one.
    previous: Option<String>,
    stop: watch::Sender<bool>,
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl MailRunner {
    /// Builds the sender and the worker, with links from `base_url`, without starting it.
    pub fn new(
        portal: &Portal,
        config: &MailConfig,
        data_dir: &std::path::Path,
        base_url: &str,
    ) -> Result<Self, String> {
        let sender = config.sender(data_dir)?;
        let from = mailer::parse_from(&config.from).map_err(|e| e.to_string())?;
        match &sender {
            Sender::Smtp { server, .. } => tracing::info!(%server, "e-mail through SMTP"),
            Sender::Files(dir) => {
                tracing::info!(dir = %dir.display(), "no SMTP configured: e-mails written as .eml files")
            }
        }
        let site = Site {
            provider: config.provider_name.clone(),
            base_url: base_url.trim_end_matches('/').to_owned(),
        };
        let (owner, previous) = worker_owner(data_dir)?;
        let worker = MailWorker::new(portal.notifications().clone(), sender, from, site)
            .with_config(mailer::MailWorkerConfig {
                owner,
                ..Default::default()
            });
        let (stop, _) = watch::channel(false);
        Ok(Self {
            worker,
            previous,
            stop,
            task: Mutex::new(None),
        })
    }

    /// Takes back what this data directory's previous run had leased (it stopped, perhaps
    /// killed mid-send): those messages are sent again now, under their same Message-ID,
    /// rather than when the lease ends.
    pub async fn recover(&self, portal: &Portal) -> Result<(), String> {
        let Some(previous) = self.previous.clone() else {
            return Ok(());
        };
        let n = portal
            .notifications()
            .release_mail_leases(&previous)
            .await
            .map_err(|e| format!("cannot release the previous run's e-mail leases: {e}"))?;
        if n > 0 {
            tracing::info!(
                released = n,
                "e-mails the previous run was sending are due again"
            );
        }
        Ok(())
    }

    /// Starts the background loop until [`Self::shutdown`].
    pub fn spawn(&self) {
        let worker = self.worker.clone();
        let mut stop = self.stop.subscribe();
        let task = tokio::spawn(async move {
            worker
                .run(async move {
                    let _ = stop.wait_for(|s| *s).await;
                })
                .await;
            tracing::debug!("mail worker stopped");
        });
        *self.task.lock().expect("mail task lock") = Some(task);
    }

    /// One tick at the clock's time: send every e-mail due.
    pub async fn run_once(&self) -> Result<MailReport, String> {
        self.worker.run_once().await.map_err(|e| e.to_string())
    }

    /// Stops the background loop after the tick in progress (leases of messages it had not
    /// reached expire, and another worker sends them).
    pub async fn shutdown(&self) {
        let _ = self.stop.send(true);
        let task = self.task.lock().expect("mail task lock").take();
        if let Some(t) = task {
            let _ = t.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mail_settings_come_from_the_environment_and_are_checked() {
        let env = |k: &str| match k {
            "PORTAL_SMTP_URL" => Some("smtps://u:hunter2@mail.example.com:465".to_owned()),
            "PORTAL_MAIL_FROM" => Some("Acme <dev@acme.example>".to_owned()),
            "PORTAL_PROVIDER_NAME" => Some("Acme".to_owned()),
            _ => None,
        };
        let c = MailConfig::from_env(&env).unwrap();
        assert_eq!(c.from, "Acme <dev@acme.example>");
        assert!(!format!("{c:?}").contains("hunter2"));
        let bad = |k: &str| (k == "PORTAL_MAIL_FROM").then(|| "not an address".to_owned());
        assert!(MailConfig::from_env(&bad).is_err());
        let bad = |k: &str| (k == "PORTAL_SMTP_URL").then(|| "http://x".to_owned());
        let e = MailConfig::from_env(&bad).unwrap_err();
        assert!(e.contains("PORTAL_SMTP_URL"), "{e}");
        let files = MailConfig::default()
            .sender(std::path::Path::new("/data"))
            .unwrap();
        assert!(matches!(files, Sender::Files(d) if d == std::path::Path::new("/data/mail")));
    }
}
