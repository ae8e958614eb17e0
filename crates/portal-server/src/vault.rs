//! The secret vault's key: where it comes from (`PORTAL_VAULT_KEY`, `PORTAL_VAULT_KEY_FILE`,
//! else `<data_dir>/vault.key`), the start-up check that it opens what the database holds, and
//! its rotation (`portal-server vault rotate-key`). Replicas share one database, so they must
//! share this key: a replica with another one could open no signing secret.

use std::path::{Path, PathBuf};

use onboarding_core::ports::SecretVault;
use storage_seaorm::{ResealError, SeaOrmStore, VAULT_SAMPLE};
use webhooks::ChaChaVault;

use crate::adapters::{decode_hex32, vault_from_data_dir};
use crate::config::Config;

/// What the key check value seals: a constant, so any key can be tested against it.
const CHECK: &str = "onboarding-portal vault key check";

/// The configured vault and a description of where its key came from (for messages).
pub struct ConfiguredVault {
    pub vault: ChaChaVault,
    pub source: String,
}

/// A key in either format the key file has: 64 hex characters, or base64 of 32 bytes.
pub fn parse_key(text: &str, what: &str) -> Result<ChaChaVault, String> {
    let text = text.trim();
    match decode_hex32(text) {
        Some(key) => Ok(ChaChaVault::new(key)),
        None => ChaChaVault::from_base64(text).map_err(|_| {
            format!("{what} holds neither 64 hex characters nor a base64 32-byte key")
        }),
    }
}

fn read_key_file(file: &Path) -> Result<ChaChaVault, String> {
    let text = std::fs::read_to_string(file).map_err(|e| {
        format!(
            "cannot read the vault key file {} (PORTAL_VAULT_KEY_FILE): {e}",
            file.display()
        )
    })?;
    parse_key(&text, &file.display().to_string())
}

/// The configured key. `create_default`: the data directory's `vault.key` is created when
/// missing (`serve`); otherwise a missing one answers `None`. A configured key or file is
/// never generated.
pub fn configured_vault(
    config: &Config,
    create_default: bool,
) -> Result<Option<ConfiguredVault>, String> {
    if let Some(k) = &config.vault_key {
        return Ok(Some(ConfiguredVault {
            vault: parse_key(k.expose(), "PORTAL_VAULT_KEY")?,
            source: "PORTAL_VAULT_KEY".into(),
        }));
    }
    if let Some(file) = &config.vault_key_file {
        return Ok(Some(ConfiguredVault {
            vault: read_key_file(file)?,
            source: file.display().to_string(),
        }));
    }
    let file = config.data_dir.join("vault.key");
    if !create_default && !file.exists() {
        return Ok(None);
    }
    Ok(Some(ConfiguredVault {
        vault: vault_from_data_dir(&config.data_dir)?,
        source: file.display().to_string(),
    }))
}

fn wrong_key(source: &str, what: &str) -> String {
    format!(
        "the vault key ({source}) cannot open {what} stored in this database: it is not the key \
         they were sealed with. Every replica must use the same key: set PORTAL_VAULT_KEY_FILE \
         (or PORTAL_VAULT_KEY) to the key the other servers use (docs/operations.md, Replicas)"
    )
}

/// Start-up: the key must open the stored key check value and a sample of the stored signing
/// secrets. A database with no check value yet (new, or from before the check existed) gets
/// one, once its secrets are seen to open; of two replicas writing it at once, the first wins
/// and the other is checked against it.
pub async fn check_vault(store: &SeaOrmStore, v: &ConfiguredVault) -> Result<(), String> {
    let err = |e: onboarding_core::ports::StoreError| e.to_string();
    let check = match store.vault_check().await.map_err(err)? {
        Some(c) => c,
        None => {
            if let Some((endpoint, _)) = first_unopenable(store, v).await? {
                return Err(wrong_key(
                    &v.source,
                    &format!("the signing secrets (endpoint {endpoint})"),
                ));
            }
            store
                .init_vault_check(&v.vault.seal(CHECK))
                .await
                .map_err(err)?
        }
    };
    if v.vault.open(&check).as_deref() != Some(CHECK) {
        return Err(wrong_key(
            &v.source,
            "the key check value and the signing secrets",
        ));
    }
    if let Some((endpoint, _)) = first_unopenable(store, v).await? {
        return Err(wrong_key(
            &v.source,
            &format!("the signing secrets (endpoint {endpoint})"),
        ));
    }
    Ok(())
}

async fn first_unopenable(
    store: &SeaOrmStore,
    v: &ConfiguredVault,
) -> Result<Option<(String, String)>, String> {
    Ok(store
        .sealed_signing_secrets(VAULT_SAMPLE)
        .await
        .map_err(|e| e.to_string())?
        .into_iter()
        .find(|(_, sealed)| v.vault.open(sealed).is_none()))
}

/// What `vault rotate-key` did.
pub struct Rotation {
    pub secrets: usize,
    pub endpoints: usize,
    pub new_key_file: PathBuf,
    pub generated: bool,
}

/// `vault rotate-key --new-key-file FILE`: re-encrypts every stored signing secret and the
/// key check value under the key in `FILE` (generated there, readable by its owner only, when
/// the file does not exist), in one transaction. The current key must open all of them.
pub async fn rotate_key(
    store: &SeaOrmStore,
    current: &ConfiguredVault,
    new_key_file: &Path,
) -> Result<Rotation, String> {
    check_vault(store, current).await?;
    let generated = !new_key_file.exists();
    let new = if generated {
        let key = ChaChaVault::generate_key();
        write_private(new_key_file, &format!("{key}\n"))?;
        parse_key(&key, "the generated key")?
    } else {
        read_key_file(new_key_file)?
    };
    let old = &current.vault;
    let reseal = |sealed: &str| old.open(sealed).map(|plain| new.seal(&plain));
    let (secrets, endpoints) = store.reseal_vault(&reseal).await.map_err(|e| match e {
        ResealError::Unopenable(what) => wrong_key(&current.source, &what),
        ResealError::Store(e) => e.to_string(),
    })?;
    Ok(Rotation {
        secrets,
        endpoints,
        new_key_file: new_key_file.to_owned(),
        generated,
    })
}

fn write_private(file: &Path, text: &str) -> Result<(), String> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    opts.open(file)
        .and_then(|mut f| f.write_all(text.as_bytes()).and_then(|()| f.sync_all()))
        .map_err(|e| format!("cannot write the new vault key to {}: {e}", file.display()))
}
