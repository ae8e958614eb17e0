//! Seeds verification keys in bulk, as SQL for `sqlite3` or `psql` (seeding 1e6 keys over HTTP
//! is far too slow). `bench-seed <keys> <out-dir> [<workspace> <project> <subscription>]`
//! writes (the keys belong to the given subscription, made through the API by `owner.py`, so
//! that a hit answers its plan and phase as a real one does; without them, to made-up ids):
//! - `keys.sql`: one transaction inserting `<keys>` API keys (credential + credential_secret
//!   rows, in the storage layer's row format); key 0 is revoked;
//! - `hit.txt` (up to 20 000 stored active secrets), `miss.txt` (200 000 well-formed unknown
//!   secrets), `bad.txt` (one secret with a wrong checksum), `revoked.txt`, `cred.txt` (the
//!   id of an active key, for usage events), `creds.txt` (the ids of up to 20 000 active keys,
//!   for usage events spread over many counters);
//! - `nginx-map.conf`: the same keys as an nginx `map` body (peer C).
use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;

use chrono::{TimeZone, Utc};
use onboarding_core::audit::Actor;
use onboarding_core::credential::{CredentialStatus, IssuedSecret, SecretKind, SecretRecord};
use onboarding_core::project::Environment;

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const BATCH: usize = 500;

/// splitmix64: deterministic, fast, good enough for key bodies.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn body(&mut self) -> String {
        (0..32)
            .map(|_| BASE62[(self.next() % 62) as usize] as char)
            .collect()
    }
    fn secret(&mut self) -> IssuedSecret {
        IssuedSecret::new(SecretKind::ApiKey, Environment::Sandbox, &self.body())
            .expect("32 base62 characters")
    }
}

fn ulid_str(prefix: &str, rng: &mut Rng) -> String {
    let u = ulid::Ulid::from_parts(
        1_700_000_000_000,
        ((rng.next() as u128) << 64) | rng.next() as u128,
    );
    format!("{prefix}_{u}")
}

fn q(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let n: usize = args
        .next()
        .and_then(|a| a.parse().ok())
        .expect("usage: bench-seed <keys> <out-dir>");
    let out = PathBuf::from(args.next().expect("usage: bench-seed <keys> <out-dir>"));
    std::fs::create_dir_all(&out)?;
    let mut rng = Rng(0x5EED ^ n as u64);
    let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    let ts = now.to_rfc3339();
    let owner: Vec<String> = args.collect();
    let (ws, pr, sub) = match owner.as_slice() {
        [ws, pr, sub] => (ws.clone(), pr.clone(), sub.clone()),
        [] => (
            ulid_str("ws", &mut rng),
            ulid_str("proj", &mut rng),
            ulid_str("sub", &mut rng),
        ),
        _ => panic!("usage: bench-seed <keys> <out-dir> [<workspace> <project> <subscription>]"),
    };
    let active = serde_json::to_string(&CredentialStatus::Active).unwrap();
    let revoked = serde_json::to_string(&CredentialStatus::Revoked {
        at: now,
        by: Actor::System,
    })
    .unwrap();
    let by = serde_json::to_string(&Actor::System).unwrap();

    let mut sql = BufWriter::new(File::create(out.join("keys.sql"))?);
    let mut hit = BufWriter::new(File::create(out.join("hit.txt"))?);
    let mut cred_ids = BufWriter::new(File::create(out.join("creds.txt"))?);
    let mut nginx = BufWriter::new(File::create(out.join("nginx-map.conf"))?);
    writeln!(sql, "BEGIN;")?;
    let mut creds = String::new();
    let mut secrets = String::new();
    for i in 0..n {
        let secret = rng.secret();
        let id = ulid_str("cred", &mut rng);
        let record = serde_json::to_string(&SecretRecord::of(&secret, now)).unwrap();
        let (status, data) = if i == 0 {
            ("revoked", &revoked)
        } else {
            ("active", &active)
        };
        if i % BATCH == 0 {
            creds.push_str("INSERT INTO credential (id, workspace_id, project_id, subscription_id, environment, kind, client_id, name, status, status_data, secret, previous, created_at, created_by, version) VALUES\n");
            secrets.push_str(
                "INSERT INTO credential_secret (hash, credential_id, kind, expires_at) VALUES\n",
            );
        } else {
            creds.push_str(",\n");
            secrets.push_str(",\n");
        }
        let _ = write!(
            creds,
            "({}, {}, {}, {}, 'sandbox', 'api_key', NULL, {}, {}, {}, {}, NULL, {}, {}, 1)",
            q(&id),
            q(&ws),
            q(&pr),
            q(&sub),
            q(&format!("bench key {i}")),
            q(status),
            q(data),
            q(&record),
            q(&ts),
            q(&by)
        );
        let _ = write!(
            secrets,
            "({}, {}, 'current', NULL)",
            q(secret.hash().as_str()),
            q(&id)
        );
        if i % BATCH == BATCH - 1 || i == n - 1 {
            writeln!(sql, "{creds};\n{secrets};")?;
            creds.clear();
            secrets.clear();
        }
        if i == 1 {
            std::fs::write(out.join("cred.txt"), format!("{id}\n"))?;
        }
        if i == 0 {
            std::fs::write(out.join("revoked.txt"), format!("{}\n", secret.expose()))?;
        } else {
            if i <= 20_000 {
                writeln!(hit, "{}", secret.expose())?;
                writeln!(cred_ids, "{id}")?;
            }
            writeln!(nginx, "    \"{}\" 1;", secret.expose())?;
        }
    }
    writeln!(sql, "COMMIT;")?;
    let mut miss = BufWriter::new(File::create(out.join("miss.txt"))?);
    for _ in 0..200_000 {
        writeln!(miss, "{}", rng.secret().expose())?;
    }
    let good = rng.secret();
    let mut bad = good.expose().to_owned();
    let last = bad.pop().unwrap();
    bad.push(if last == 'A' { 'B' } else { 'A' });
    std::fs::write(out.join("bad.txt"), format!("{bad}\n"))?;
    sql.flush()?;
    hit.flush()?;
    cred_ids.flush()?;
    nginx.flush()?;
    miss.flush()?;
    Ok(())
}
