//! `portal-server`: serve (default), migrate, create-admin, demo, audit verify, export, vault
//! rotate-key. Only `serve` and `migrate` change the database's schema.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use portal_server::{Config, LogFormat, SchemaMode};

#[derive(Parser)]
#[command(
    name = "portal-server",
    version,
    about = "The onboarding portal server"
)]
struct Cli {
    /// A TOML configuration file (also `PORTAL_CONFIG`).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// Log format (also `PORTAL_LOG_FORMAT`).
    #[arg(long, global = true, value_enum)]
    log_format: Option<LogFormat>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the portal (the default); applies pending migrations first.
    Serve,
    /// Create or update the database schema, then exit (the other commands refuse a database
    /// that needs it).
    Migrate,
    /// Add an admin; prints a generated password once.
    CreateAdmin {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
    },
    /// Seed the demo product and plans, a demo developer and workspace (idempotent).
    Demo,
    /// The audit log.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Export usage or the audit log for a period to a file (recorded in the report history).
    Export {
        #[command(subcommand)]
        what: ExportCommand,
    },
    /// The key sealing webhook signing secrets.
    Vault {
        #[command(subcommand)]
        command: VaultCommand,
    },
}

#[derive(Subcommand)]
enum VaultCommand {
    /// Re-encrypt every stored signing secret under a new key, in one transaction. Stop every
    /// replica first; restart them all with the new key.
    RotateKey {
        /// The new key: read from this file, or generated into it (mode 0600) if it does not
        /// exist.
        #[arg(long)]
        new_key_file: PathBuf,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum FileFormat {
    Csv,
    Jsonl,
}

impl From<FileFormat> for onboarding_core::services::ExportFormat {
    fn from(f: FileFormat) -> Self {
        match f {
            FileFormat::Csv => Self::Csv,
            FileFormat::Jsonl => Self::Jsonl,
        }
    }
}

#[derive(Subcommand)]
enum ExportCommand {
    /// A project's usage (one row per credential, endpoint and minute).
    Usage {
        #[arg(long)]
        project: String,
        /// `YYYY-MM`.
        #[arg(long)]
        period: String,
        #[arg(long, value_enum, default_value = "csv")]
        format: FileFormat,
        #[arg(long)]
        out: PathBuf,
    },
    /// A workspace's audit log, in chain order.
    Audit {
        #[arg(long)]
        workspace: String,
        /// `YYYY-MM`.
        #[arg(long)]
        period: String,
        #[arg(long, value_enum, default_value = "csv")]
        format: FileFormat,
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Verify every hash chain; exits non-zero naming the first bad event.
    Verify,
}

fn init_logging(format: LogFormat) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let b = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => b.json().init(),
        LogFormat::Pretty => b.init(),
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}

fn fail(msg: impl std::fmt::Display) -> ! {
    eprintln!("error: {msg}");
    std::process::exit(1)
}

#[tokio::main]
async fn main() {
    portal_server::return_large_allocations_to_the_os();
    // Before any reqwest client exists (the webhook worker's): see `install_crypto_provider`.
    portal_server::install_crypto_provider();
    let cli = Cli::parse();
    let mut config =
        Config::load(cli.config.as_deref(), |k| std::env::var(k).ok()).unwrap_or_else(|e| fail(e));
    if let Some(f) = cli.log_format {
        config.log_format = f;
    }
    init_logging(config.log_format);
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            let server = portal_server::start(config, Some(Box::pin(shutdown_signal())))
                .await
                .unwrap_or_else(|e| fail(e));
            if let Err(e) = server.wait().await {
                fail(e);
            }
        }
        Command::Migrate => {
            portal_server::migrate(&config)
                .await
                .unwrap_or_else(|e| fail(e));
            println!("database is up to date: {}", config.database_url_redacted());
        }
        Command::CreateAdmin { email, name } => {
            let w = portal_server::connect_with(&config, SchemaMode::Current)
                .await
                .unwrap_or_else(|e| fail(e));
            let password = portal_server::create_admin(&w.portal, &email, &name)
                .await
                .unwrap_or_else(|e| fail(e));
            println!("admin {email} created; password (shown once): {password}");
        }
        Command::Demo => {
            let w = portal_server::connect_with(&config, SchemaMode::Current)
                .await
                .unwrap_or_else(|e| fail(e));
            let r = portal_server::seed_demo(&w.portal)
                .await
                .unwrap_or_else(|e| fail(e));
            println!(
                "demo: product {}, {} plan(s) created",
                if r.product_created {
                    "created"
                } else {
                    "already there"
                },
                r.plans_created
            );
            match r.developer {
                Some((email, pw)) => {
                    println!(
                        "demo developer {email} (password, shown once: {pw}) with workspace \"Demo Organization\""
                    )
                }
                None => println!("demo developer already exists"),
            }
        }
        Command::Audit {
            command: AuditCommand::Verify,
        } => {
            let w = portal_server::connect_with(&config, SchemaMode::Current)
                .await
                .unwrap_or_else(|e| fail(e));
            match portal_server::verify_audit(&w.portal).await {
                Ok(lines) => {
                    for l in lines {
                        println!("{l}");
                    }
                }
                Err(e) => fail(e),
            }
        }
        Command::Vault {
            command: VaultCommand::RotateKey { new_key_file },
        } => {
            let store = portal_server::current_store(&config)
                .await
                .unwrap_or_else(|e| fail(e));
            let current = portal_server::vault::configured_vault(&config, false)
                .unwrap_or_else(|e| fail(e))
                .unwrap_or_else(|| {
                    fail("no vault key: set PORTAL_VAULT_KEY_FILE (or PORTAL_VAULT_KEY) to the current key")
                });
            let r = portal_server::vault::rotate_key(&store, &current, &new_key_file)
                .await
                .unwrap_or_else(|e| fail(e));
            println!(
                "re-encrypted {} signing secret(s) of {} endpoint(s) under the {} key in {}",
                r.secrets,
                r.endpoints,
                if r.generated { "new generated" } else { "new" },
                r.new_key_file.display()
            );
            println!(
                "now start every replica with PORTAL_VAULT_KEY_FILE={} (or PORTAL_VAULT_KEY set to its contents)",
                r.new_key_file.display()
            );
        }
        Command::Export { what } => {
            use onboarding_core::services::ExportScope;
            let (scope, period, format, out) = match what {
                ExportCommand::Usage {
                    project,
                    period,
                    format,
                    out,
                } => (
                    ExportScope::ProjectUsage(
                        project
                            .parse()
                            .unwrap_or_else(|_| fail(format!("not a project id: {project}"))),
                    ),
                    period,
                    format,
                    out,
                ),
                ExportCommand::Audit {
                    workspace,
                    period,
                    format,
                    out,
                } => (
                    ExportScope::WorkspaceAudit(
                        workspace
                            .parse()
                            .unwrap_or_else(|_| fail(format!("not a workspace id: {workspace}"))),
                    ),
                    period,
                    format,
                    out,
                ),
            };
            let w = portal_server::connect_with(&config, SchemaMode::Current)
                .await
                .unwrap_or_else(|e| fail(e));
            let s = portal_server::export::export_to_file(
                &w.portal,
                scope,
                &period,
                format.into(),
                &out,
            )
            .await
            .unwrap_or_else(|e| fail(e));
            println!(
                "{} rows ({} bytes) written to {}",
                s.rows,
                s.bytes,
                out.display()
            );
        }
    }
}
