//! The secret format: `<kind>_<env>_<32 base62 random><6 base62 CRC-32>`, issued and parsed; only its SHA-256 is stored.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::project::Environment;
use crate::values::FieldError;

/// Length of the random part of a secret (base62: about 190 bits).
pub const SECRET_BODY_LEN: usize = 32;
const CHECKSUM_LEN: usize = 6;
const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// What a secret is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SecretKind {
    /// An API key (`sk_`): the one secret of an API-key credential.
    ApiKey,
    /// An OAuth client secret (`cs_`): only exchanged for access tokens, never accepted as a bearer
    /// credential.
    ClientSecret,
    /// An OAuth access token (`at_`): a short-lived bearer token from the client-credentials grant.
    AccessToken,
}

impl SecretKind {
    fn tag(self) -> &'static str {
        match self {
            SecretKind::ApiKey => "sk",
            SecretKind::ClientSecret => "cs",
            SecretKind::AccessToken => "at",
        }
    }
}

fn env_tag(env: Environment) -> &'static str {
    match env {
        Environment::Sandbox => "sbx",
        Environment::Production => "prod",
    }
}

/// The SHA-256 of a secret, lower-case hex. The only form in which a secret is stored.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SecretHash(String);

impl SecretHash {
    /// Hashes a presented or issued secret.
    pub fn of(secret: &str) -> Self {
        Self(hex(&Sha256::digest(secret.as_bytes())))
    }
    /// Wraps a hash read back from storage (trusted to be lower-case hex SHA-256).
    pub fn from_stored(hex: String) -> Self {
        Self(hex)
    }
    /// The lower-case hex digest.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    const H: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(H[(b >> 4) as usize] as char);
        s.push(H[(b & 15) as usize] as char);
    }
    s
}

fn checksum(prefix_and_body: &str) -> String {
    let mut n = crc32fast::hash(prefix_and_body.as_bytes()) as u64;
    let mut out = [b'0'; CHECKSUM_LEN];
    for slot in out.iter_mut().rev() {
        *slot = BASE62[(n % 62) as usize];
        n /= 62;
    }
    String::from_utf8(out.to_vec()).expect("base62 is ascii")
}

/// A freshly minted secret. Its plaintext exists only here and in the one response that shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct IssuedSecret {
    plaintext: String,
    /// What the secret is for (and the prefix it carries).
    pub kind: SecretKind,
    /// The environment the secret works in (`sbx` or `prod` in its prefix).
    pub environment: Environment,
}

impl std::fmt::Debug for IssuedSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "IssuedSecret({}…{})",
            self.display_prefix(),
            self.last4()
        )
    }
}

impl IssuedSecret {
    /// Builds a secret from random base62 text supplied by the
    /// [`SecretGenerator`](crate::ports::SecretGenerator) port.
    pub fn new(
        kind: SecretKind,
        environment: Environment,
        random_body: &str,
    ) -> Result<Self, FieldError> {
        if random_body.len() != SECRET_BODY_LEN
            || !random_body.bytes().all(|b| b.is_ascii_alphanumeric())
        {
            return Err(FieldError::new(
                "secret",
                "the generator must give 32 base62 characters",
            ));
        }
        let head = format!("{}_{}_{}", kind.tag(), env_tag(environment), random_body);
        let plaintext = format!("{head}{}", checksum(&head));
        Ok(Self {
            plaintext,
            kind,
            environment,
        })
    }

    /// The secret itself, to be shown exactly once.
    pub fn expose(&self) -> &str {
        &self.plaintext
    }

    /// The hash to store in place of the secret.
    pub fn hash(&self) -> SecretHash {
        SecretHash::of(&self.plaintext)
    }

    /// `sk_sbx_`: what listings show before the last four characters.
    pub fn display_prefix(&self) -> String {
        format!("{}_{}_", self.kind.tag(), env_tag(self.environment))
    }

    /// The last four characters, shown in listings next to the prefix.
    pub fn last4(&self) -> String {
        self.plaintext[self.plaintext.len() - 4..].to_owned()
    }
}

/// A presented secret whose shape and checksum are right. Parsing needs no database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedSecret {
    /// The kind read from the prefix.
    pub kind: SecretKind,
    /// The environment read from the prefix.
    pub environment: Environment,
    /// The hash to look the secret up by.
    pub hash: SecretHash,
}

/// Why a presented secret was refused before any look-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SecretFormatError {
    /// Wrong prefix, length or alphabet: not something this portal issued.
    #[error("not a secret issued by this portal")]
    Malformed,
    /// The shape is right but the checksum is not: a typo or a truncated copy.
    #[error("the secret's checksum does not match (a typo or a truncated copy)")]
    BadChecksum,
}

/// Parses a presented secret: prefix, length, alphabet, checksum. Never panics.
///
/// # Examples
///
/// ```
/// use onboarding_core::credential::{parse_secret, IssuedSecret, SecretFormatError, SecretKind};
/// use onboarding_core::project::Environment;
///
/// let issued = IssuedSecret::new(
///     SecretKind::ApiKey,
///     Environment::Sandbox,
///     "abcdefghijklmnopqrstuvwxyz012345",
/// )
/// .unwrap();
/// assert!(issued.expose().starts_with("sk_sbx_"));
///
/// let parsed = parse_secret(issued.expose()).unwrap();
/// assert_eq!(parsed.environment, Environment::Sandbox);
/// assert_eq!(parsed.hash, issued.hash());
///
/// // A typo is caught by the checksum, without any look-up.
/// let typo = issued.expose().replacen("abc", "abd", 1);
/// assert_eq!(parse_secret(&typo), Err(SecretFormatError::BadChecksum));
/// assert_eq!(parse_secret("hunter2"), Err(SecretFormatError::Malformed));
/// ```
pub fn parse_secret(presented: &str) -> Result<ParsedSecret, SecretFormatError> {
    let mut parts = presented.splitn(3, '_');
    let (kind, env, rest) = match (parts.next(), parts.next(), parts.next()) {
        (Some(k), Some(e), Some(r)) => (k, e, r),
        _ => return Err(SecretFormatError::Malformed),
    };
    let kind = match kind {
        "sk" => SecretKind::ApiKey,
        "cs" => SecretKind::ClientSecret,
        "at" => SecretKind::AccessToken,
        _ => return Err(SecretFormatError::Malformed),
    };
    let environment = match env {
        "sbx" => Environment::Sandbox,
        "prod" => Environment::Production,
        _ => return Err(SecretFormatError::Malformed),
    };
    if rest.len() != SECRET_BODY_LEN + CHECKSUM_LEN
        || !rest.bytes().all(|b| b.is_ascii_alphanumeric())
    {
        return Err(SecretFormatError::Malformed);
    }
    let split = presented.len() - CHECKSUM_LEN;
    if checksum(&presented[..split]) != presented[split..] {
        return Err(SecretFormatError::BadChecksum);
    }
    Ok(ParsedSecret {
        kind,
        environment,
        hash: SecretHash::of(presented),
    })
}
