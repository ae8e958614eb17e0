//! Layered configuration: defaults → optional TOML file (`--config` / `PORTAL_CONFIG`) →
//! `PORTAL_*` environment variables. Secrets are wrapped so `Debug` never prints them.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use onboarding_core::ports::Clock;
use serde::Deserialize;

/// A secret value: `Debug` and `Display` print `***`.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Pretty,
    Json,
}

/// The server's configuration.
#[derive(Clone)]
pub struct Config {
    /// Address to listen on (`127.0.0.1:8080`; `127.0.0.1:0` picks a free port).
    pub bind: String,
    /// Where the default SQLite database and the gateway token hash live.
    pub data_dir: PathBuf,
    /// `sqlite://...`, `postgres://...`, or `memory:` (nothing kept; for trials). Default:
    /// `sqlite://<data_dir>/portal.db?mode=rwc`. May carry a password, hence a secret.
    pub database_url: Option<Secret>,
    /// The provider service token gateways present to `/api/v1/verify`.
    pub gateway_token: Option<Secret>,
    /// The vault key sealing webhook signing secrets (32 bytes as 64 hex characters or
    /// base64), `PORTAL_VAULT_KEY`. Every replica must use the same key.
    pub vault_key: Option<Secret>,
    /// A file holding the vault key, `PORTAL_VAULT_KEY_FILE`; never created. Without either,
    /// `<data_dir>/vault.key` (created at the first `serve`).
    pub vault_key_file: Option<PathBuf>,
    pub log_format: LogFormat,
    /// The URL users reach the portal at (printed at start-up); default from `bind`.
    pub public_url: Option<String>,
    /// `Secure` session cookies (set when the portal is served over TLS).
    pub secure_cookies: bool,
    /// How long shutdown waits for in-flight requests.
    pub shutdown_grace_seconds: u64,
    /// How often counted usage is written to the database (and alerts evaluated): the most
    /// the usage view and alerts lag behind verifications, and what a crash can lose. 1-60;
    /// `PORTAL_USAGE_FLUSH_SECONDS`. See docs/decisions/0013-usage-flush-interval.md.
    pub usage_flush_seconds: u64,
    /// Tests: a steppable clock instead of the system clock.
    pub clock: Option<Arc<dyn Clock>>,
    /// Print the start-up banner (first admin, gateway token, URLs) to stdout.
    pub print_banner: bool,
    /// Webhook deliveries may reach loopback, private, link-local and CGNAT addresses (a lab
    /// or a test rig; never the metadata service). `PORTAL_WEBHOOK_ALLOW_PRIVATE`.
    pub webhook_allow_private: bool,
    /// CIDR blocks (or addresses) webhook deliveries may always reach, e.g. `10.20.0.0/16`.
    /// `PORTAL_WEBHOOK_ALLOWED_CIDRS`, comma-separated.
    pub webhook_allowed_cidrs: Vec<String>,
    /// The header forward auth reads the API key from (`x-api-key`; `authorization` reads a
    /// `Bearer` token). Unset: `Authorization: Bearer`, else `X-Api-Key`.
    /// `PORTAL_FORWARD_AUTH_KEY_HEADER`.
    pub forward_auth_key_header: Option<String>,
    /// The payment processor: manual (default) or Stripe, from `PORTAL_PAYMENTS` and friends
    /// (`payments.rs`).
    pub payments: crate::payments::Payments,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("bind", &self.bind)
            .field("data_dir", &self.data_dir)
            .field("database_url", &self.database_url_redacted())
            .field("gateway_token", &self.gateway_token)
            .field("vault_key", &self.vault_key)
            .field("vault_key_file", &self.vault_key_file)
            .field("log_format", &self.log_format)
            .field("public_url", &self.public_url)
            .field("secure_cookies", &self.secure_cookies)
            .field("shutdown_grace_seconds", &self.shutdown_grace_seconds)
            .field("usage_flush_seconds", &self.usage_flush_seconds)
            .field("webhook_allow_private", &self.webhook_allow_private)
            .field("webhook_allowed_cidrs", &self.webhook_allowed_cidrs)
            .field("forward_auth_key_header", &self.forward_auth_key_header)
            .field("payments", &self.payments)
            .finish_non_exhaustive()
    }
}

/// Usage is written every 5 s by default (decision 0013): well inside what usage dashboards
/// promise, and a fifth of the writes of a per-second flush under many busy keys.
pub const DEFAULT_USAGE_FLUSH_SECONDS: u64 = 5;
const USAGE_FLUSH_RANGE: std::ops::RangeInclusive<u64> = 1..=60;

impl Default for Config {
    fn default() -> Self {
        Self {
            bind: "127.0.0.1:8080".into(),
            data_dir: PathBuf::from("./data"),
            database_url: None,
            gateway_token: None,
            vault_key: None,
            vault_key_file: None,
            log_format: LogFormat::Pretty,
            public_url: None,
            secure_cookies: false,
            shutdown_grace_seconds: 30,
            usage_flush_seconds: DEFAULT_USAGE_FLUSH_SECONDS,
            clock: None,
            print_banner: true,
            webhook_allow_private: false,
            webhook_allowed_cidrs: Vec::new(),
            forward_auth_key_header: None,
            payments: Default::default(),
        }
    }
}

/// The TOML file's shape: every key optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    bind: Option<String>,
    data_dir: Option<PathBuf>,
    database_url: Option<Secret>,
    gateway_token: Option<Secret>,
    vault_key_file: Option<PathBuf>,
    log_format: Option<LogFormat>,
    public_url: Option<String>,
    secure_cookies: Option<bool>,
    shutdown_grace_seconds: Option<u64>,
    usage_flush_seconds: Option<u64>,
    webhook_allow_private: Option<bool>,
    webhook_allowed_cidrs: Option<Vec<String>>,
    forward_auth_key_header: Option<String>,
}

impl Config {
    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(u) => u.expose().to_owned(),
            None => format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join("portal.db").display()
            ),
        }
    }

    pub fn database_url_redacted(&self) -> String {
        storage_seaorm::redact_url(&self.database_url())
    }

    /// Defaults, then the file (if any), then the environment.
    pub fn load(file: Option<&Path>, env: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let mut c = Config::default();
        let file = file
            .map(Path::to_path_buf)
            .or_else(|| env("PORTAL_CONFIG").map(PathBuf::from));
        if let Some(path) = file {
            let text = std::fs::read_to_string(&path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            let f: FileConfig =
                toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
            if let Some(v) = f.bind {
                c.bind = v;
            }
            if let Some(v) = f.data_dir {
                c.data_dir = v;
            }
            if f.database_url.is_some() {
                c.database_url = f.database_url;
            }
            if f.gateway_token.is_some() {
                c.gateway_token = f.gateway_token;
            }
            if f.vault_key_file.is_some() {
                c.vault_key_file = f.vault_key_file;
            }
            if let Some(v) = f.log_format {
                c.log_format = v;
            }
            if f.public_url.is_some() {
                c.public_url = f.public_url;
            }
            if let Some(v) = f.secure_cookies {
                c.secure_cookies = v;
            }
            if let Some(v) = f.shutdown_grace_seconds {
                c.shutdown_grace_seconds = v;
            }
            if let Some(v) = f.usage_flush_seconds {
                c.usage_flush_seconds = v;
            }
            if let Some(v) = f.webhook_allow_private {
                c.webhook_allow_private = v;
            }
            if let Some(v) = f.webhook_allowed_cidrs {
                c.webhook_allowed_cidrs = v;
            }
            if f.forward_auth_key_header.is_some() {
                c.forward_auth_key_header = f.forward_auth_key_header;
            }
        }
        if let Some(v) = env("PORTAL_BIND") {
            c.bind = v;
        }
        if let Some(v) = env("PORTAL_DATA_DIR") {
            c.data_dir = v.into();
        }
        if let Some(v) = env("PORTAL_DATABASE_URL") {
            c.database_url = Some(Secret::new(v));
        }
        if let Some(v) = env("PORTAL_GATEWAY_TOKEN") {
            c.gateway_token = Some(Secret::new(v));
        }
        if let Some(v) = env("PORTAL_VAULT_KEY").filter(|v| !v.trim().is_empty()) {
            c.vault_key = Some(Secret::new(v));
        }
        if let Some(v) = env("PORTAL_VAULT_KEY_FILE").filter(|v| !v.trim().is_empty()) {
            c.vault_key_file = Some(v.into());
        }
        if c.vault_key.is_some() && c.vault_key_file.is_some() {
            return Err(
                "PORTAL_VAULT_KEY and PORTAL_VAULT_KEY_FILE (vault_key_file) are both set: set one"
                    .into(),
            );
        }
        if let Some(v) = env("PORTAL_LOG_FORMAT") {
            c.log_format = match v.as_str() {
                "json" => LogFormat::Json,
                "pretty" => LogFormat::Pretty,
                other => return Err(format!("PORTAL_LOG_FORMAT: `{other}` is not json|pretty")),
            };
        }
        if let Some(v) = env("PORTAL_PUBLIC_URL") {
            c.public_url = Some(v);
        }
        if let Some(v) = env("PORTAL_SECURE_COOKIES") {
            c.secure_cookies = matches!(v.as_str(), "1" | "true" | "yes");
        }
        if let Some(v) = env("PORTAL_SHUTDOWN_GRACE_SECONDS") {
            c.shutdown_grace_seconds = v
                .parse()
                .map_err(|_| format!("PORTAL_SHUTDOWN_GRACE_SECONDS: `{v}` is not a number"))?;
        }
        if let Some(v) = env("PORTAL_USAGE_FLUSH_SECONDS") {
            c.usage_flush_seconds = v
                .trim()
                .parse()
                .map_err(|_| format!("PORTAL_USAGE_FLUSH_SECONDS: `{v}` is not a number"))?;
        }
        if !USAGE_FLUSH_RANGE.contains(&c.usage_flush_seconds) {
            return Err(format!(
                "usage_flush_seconds: {} is outside {}-{}",
                c.usage_flush_seconds,
                USAGE_FLUSH_RANGE.start(),
                USAGE_FLUSH_RANGE.end()
            ));
        }
        if let Some(v) = env("PORTAL_WEBHOOK_ALLOW_PRIVATE") {
            c.webhook_allow_private = match v.trim() {
                "1" | "true" | "yes" => true,
                "0" | "false" | "no" | "" => false,
                other => {
                    return Err(format!(
                        "PORTAL_WEBHOOK_ALLOW_PRIVATE: `{other}` is not true|false"
                    ));
                }
            };
        }
        if let Some(v) = env("PORTAL_WEBHOOK_ALLOWED_CIDRS") {
            c.webhook_allowed_cidrs = v
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect();
        }
        if let Some(v) = env("PORTAL_FORWARD_AUTH_KEY_HEADER") {
            c.forward_auth_key_header = Some(v.trim().to_owned()).filter(|v| !v.is_empty());
        }
        if let Some(h) = &c.forward_auth_key_header {
            http_api::forward_auth::KeyHeader::parse(h)
                .map_err(|e| format!("forward_auth_key_header: {e}"))?;
        }
        // Refuse a bad block at start-up rather than at the first delivery.
        webhooks::AddressPolicy::allowing(&c.webhook_allowed_cidrs)
            .map_err(|e| format!("webhook_allowed_cidrs: {e}"))?;
        c.payments = crate::payments::Payments::from_env(&env)?;
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_overrides_file_overrides_defaults_and_secrets_stay_hidden() {
        let dir = std::env::temp_dir().join(format!("portal-cfg-{}", ulid::Ulid::generate()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("portal.toml");
        std::fs::write(
            &file,
            "bind = \"0.0.0.0:9000\"\ndatabase_url = \"postgres://u:hunter2@db/portal\"\n",
        )
        .unwrap();
        let env = |k: &str| (k == "PORTAL_BIND").then(|| "127.0.0.1:7000".to_owned());
        let c = Config::load(Some(&file), env).unwrap();
        assert_eq!(c.bind, "127.0.0.1:7000");
        assert!(c.database_url().contains("hunter2"));
        let debug = format!("{c:?}");
        assert!(!debug.contains("hunter2"), "{debug}");
        assert!(c.database_url_redacted().contains("***"));
        assert_eq!(Config::load(None, |_| None).unwrap().bind, "127.0.0.1:8080");
    }

    #[test]
    fn the_vault_key_comes_from_one_variable_or_the_other_and_never_prints() {
        let key = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
        let c = Config::load(None, |k| (k == "PORTAL_VAULT_KEY").then(|| key.to_owned())).unwrap();
        assert_eq!(c.vault_key.as_ref().map(Secret::expose), Some(key));
        assert!(!format!("{c:?}").contains("aabbcc"));
        let c = Config::load(None, |k| {
            (k == "PORTAL_VAULT_KEY_FILE").then(|| "/etc/portal/vault.key".to_owned())
        })
        .unwrap();
        assert_eq!(
            c.vault_key_file.as_deref(),
            Some(Path::new("/etc/portal/vault.key"))
        );
        let both = |k: &str| match k {
            "PORTAL_VAULT_KEY" => Some(key.to_owned()),
            "PORTAL_VAULT_KEY_FILE" => Some("/etc/portal/vault.key".to_owned()),
            _ => None,
        };
        assert!(Config::load(None, both).unwrap_err().contains("both set"));
    }

    #[test]
    fn the_usage_flush_interval_defaults_to_five_seconds_and_refuses_out_of_range_values() {
        assert_eq!(Config::load(None, |_| None).unwrap().usage_flush_seconds, 5);
        let with = |v: &'static str| {
            move |k: &str| (k == "PORTAL_USAGE_FLUSH_SECONDS").then(|| v.to_owned())
        };
        assert_eq!(
            Config::load(None, with("1")).unwrap().usage_flush_seconds,
            1
        );
        assert_eq!(
            Config::load(None, with(" 60 "))
                .unwrap()
                .usage_flush_seconds,
            60
        );
        for bad in ["0", "61", "-1", "soon", ""] {
            let e = Config::load(None, with(bad)).unwrap_err();
            assert!(
                e.contains("usage_flush_seconds") || e.contains("PORTAL_USAGE_FLUSH_SECONDS"),
                "{bad}: {e}"
            );
        }
        let dir = std::env::temp_dir().join(format!("portal-cfg-{}", ulid::Ulid::generate()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("portal.toml");
        std::fs::write(&file, "usage_flush_seconds = 0\n").unwrap();
        assert!(
            Config::load(Some(&file), |_| None)
                .unwrap_err()
                .contains("1-60")
        );
    }

    #[test]
    fn the_forward_auth_key_header_is_checked_at_start_up() {
        let with = |v: &'static str| {
            move |k: &str| (k == "PORTAL_FORWARD_AUTH_KEY_HEADER").then(|| v.to_owned())
        };
        assert_eq!(
            Config::load(None, |_| None)
                .unwrap()
                .forward_auth_key_header,
            None
        );
        assert_eq!(
            Config::load(None, with(" X-Api-Key "))
                .unwrap()
                .forward_auth_key_header
                .as_deref(),
            Some("X-Api-Key")
        );
        for bad in ["X Api Key", "x-api-key:", "ключ"] {
            let e = Config::load(None, with(bad)).unwrap_err();
            assert!(e.contains("forward_auth_key_header"), "{bad}: {e}");
        }
    }
}
