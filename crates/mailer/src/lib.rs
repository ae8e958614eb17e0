//! E-mail delivery of the portal's notifications (issue 21).
//!
//! - [`Sender`]: SMTP through `lettre` over rustls with ring (`smtps://` for TLS,
//!   `smtp://...?tls=required` for STARTTLS, user and password in the URL), or, with no SMTP
//!   configured, each message written as `<dir>/<notification id>.eml` with one log line.
//! - [`templates`]: the words of each kind, as plain text and HTML.
//! - [`MailWorker`]: leases due notifications through the core, renders, sends, and records
//!   each attempt; the core decides the retries.
//!
//! Every message's `Message-ID` is `<notification id@host of the public URL>`: a message sent
//! again after a crash (sent, but its outcome not recorded) carries the same id, so receivers
//! and tests recognise the duplicate. The `.eml` file of a retry overwrites its first.

pub mod templates;
mod worker;

use std::path::PathBuf;
use std::time::Duration;

use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use onboarding_core::services::OutgoingMail;

pub use lettre;
pub use templates::{Rendered, Site};
pub use worker::{MailReport, MailWorker, MailWorkerConfig};

/// Why the mail configuration is refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The sender address does not parse.
    #[error("mail_from `{0}` is not an e-mail address (e.g. `Acme <portal@acme.example>`)")]
    From(String),
    /// The SMTP URL does not parse; the URL is not repeated (it may hold a password).
    #[error("smtp_url is not a valid SMTP URL (smtp://, smtps://): {0}")]
    Smtp(String),
}

/// Where messages go.
#[derive(Clone)]
pub enum Sender {
    /// An SMTP relay.
    Smtp {
        /// The pooled transport.
        transport: AsyncSmtpTransport<Tokio1Executor>,
        /// Host and port, for logs (never the credentials).
        server: String,
    },
    /// `.eml` files in this directory.
    Files(PathBuf),
}

impl std::fmt::Debug for Sender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Sender::Smtp { server, .. } => write!(f, "Smtp({server})"),
            Sender::Files(dir) => write!(f, "Files({})", dir.display()),
        }
    }
}

impl Sender {
    /// SMTP at `url` (`smtps://user:pass@host:465`, `smtp://host:587?tls=required`,
    /// `smtp://localhost:2525` unencrypted for a local relay), with a timeout per command.
    pub fn smtp(url: &str) -> Result<Sender, ConfigError> {
        let parsed = url::Url::parse(url).map_err(|e| ConfigError::Smtp(e.to_string()))?;
        let server = format!(
            "{}:{}",
            parsed.host_str().unwrap_or(""),
            parsed.port().map(|p| p.to_string()).unwrap_or_default()
        );
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| ConfigError::Smtp(e.to_string()))?
            .timeout(Some(Duration::from_secs(20)))
            .build();
        Ok(Sender::Smtp { transport, server })
    }

    /// Sends one message (or writes its file). The error text is for operators' logs and
    /// the notification's `last_error`; it never holds the message or a credential.
    pub async fn send(&self, id: &str, message: &Message) -> Result<(), String> {
        match self {
            Sender::Smtp { transport, .. } => transport
                .send(message.clone())
                .await
                .map(|_| ())
                .map_err(|e| e.to_string()),
            Sender::Files(dir) => {
                let bytes = message.formatted();
                let path = dir.join(format!("{id}.eml"));
                let tmp = dir.join(format!(".{id}.eml.tmp"));
                // Written whole, then renamed: a reader never sees half a message.
                let write = async {
                    tokio::fs::create_dir_all(dir).await?;
                    tokio::fs::write(&tmp, &bytes).await?;
                    tokio::fs::rename(&tmp, &path).await
                };
                write
                    .await
                    .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
                tracing::info!(notification = id, file = %path.display(), "e-mail written");
                Ok(())
            }
        }
    }
}

/// Builds the message of a notification: multipart text and HTML, the stable Message-ID, and
/// for optional kinds the RFC 8058 one-click unsubscribe headers.
pub fn message(
    mail: &OutgoingMail,
    from: &Mailbox,
    site: &Site,
    message_domain: &str,
) -> Result<Message, String> {
    let r = templates::render(mail, site);
    let to: Mailbox = mail
        .notification
        .to
        .email
        .as_str()
        .parse()
        .map_err(|e| format!("recipient address refused: {e}"))?;
    let mut m = Message::builder()
        .from(from.clone())
        .to(to)
        .subject(r.subject.clone())
        .message_id(Some(format!("<{}@{message_domain}>", mail.notification.id)))
        .date(mail.notification.created_at.into())
        .multipart(MultiPart::alternative_plain_html(r.text, r.html))
        .map_err(|e| format!("cannot build the message: {e}"))?;
    if let Some(u) = &r.unsubscribe {
        let h = m.headers_mut();
        h.insert_raw(HeaderValue::new(
            HeaderName::new_from_ascii_str("List-Unsubscribe"),
            format!("<{u}>"),
        ));
        h.insert_raw(HeaderValue::new(
            HeaderName::new_from_ascii_str("List-Unsubscribe-Post"),
            "List-Unsubscribe=One-Click".into(),
        ));
    }
    Ok(m)
}

/// Parses the sender address (`Acme Portal <portal@acme.example>` or a bare address).
pub fn parse_from(from: &str) -> Result<Mailbox, ConfigError> {
    from.parse().map_err(|_| ConfigError::From(from.to_owned()))
}
