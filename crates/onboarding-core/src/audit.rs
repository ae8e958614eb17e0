//! The audit log (spec §10): append-only, one hash chain per workspace (plus one for
//! provider-level events), verifiable by a pure function.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::credential::hex;
use crate::ids::{AccountId, AuditEventId, CredentialId, ProjectId, StaffId, WorkspaceId};

/// Who did something.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum Actor {
    /// A member or invited person acting through their own account (no shared logins).
    Account(AccountId),
    /// Provider staff (admin or reviewer), e.g. a review decision or a plan change.
    Staff(StaffId),
    /// An API credential acting on its own, e.g. an OAuth client obtaining a token.
    Credential(CredentialId),
    /// The portal itself: background workers (delivery outbox, grace expiry, alerts) and
    /// migrations.
    System,
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Actor::Account(id) => write!(f, "{id}"),
            Actor::Staff(id) => write!(f, "{id}"),
            Actor::Credential(id) => write!(f, "{id}"),
            Actor::System => f.write_str("system"),
        }
    }
}

/// An audit event as a use case writes it; storage seals it into the chain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditDraft {
    /// The event's ULID; sortable by creation time, stable across export and verification.
    pub id: AuditEventId,
    /// When the change was committed (the `Clock` port's time, in UTC).
    pub at: DateTime<Utc>,
    /// Who made the change.
    pub actor: Actor,
    /// `None` for provider-level events (plans, staff): they chain in the provider chain.
    pub workspace_id: Option<WorkspaceId>,
    /// The project the change concerns, when it concerns one (credentials, webhooks, usage,
    /// exports).
    pub project_id: Option<ProjectId>,
    /// `subscription.submitted`, `credential.rotated`, ...
    pub action: String,
    /// The id of what changed.
    pub target: String,
    /// Action-specific facts (notes, old and new values); hashed as canonical JSON, so key order
    /// does not matter.
    pub details: Value,
}

/// A sealed audit event: its place in the chain and the hashes that link it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// The event's content, as the use case wrote it.
    #[serde(flatten)]
    pub draft: AuditDraft,
    /// Position in its chain, from 1, without gaps.
    pub seq: i64,
    /// The `hash` of the previous event in the same chain, or [`GENESIS_HASH`] for the first one.
    pub prev_hash: String,
    /// SHA-256 (lowercase hex) of this event's content, `seq` and `prev_hash`; see [`event_hash`].
    pub hash: String,
}

/// The `prev_hash` of the first event of a chain.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The hash of an event: SHA-256 over its previous hash, its sequence number and a canonical
/// JSON rendering of its content (serde_json sorts no keys, so the field order is fixed here).
pub fn event_hash(draft: &AuditDraft, seq: i64, prev_hash: &str) -> String {
    let canonical = serde_json::json!([
        prev_hash,
        seq,
        draft.id.to_string(),
        draft.at.timestamp_micros(),
        draft.actor,
        draft.workspace_id,
        draft.project_id,
        draft.action,
        draft.target,
        canonical_json(&draft.details),
    ]);
    hex(&Sha256::digest(canonical.to_string().as_bytes()))
}

/// JSON with object keys sorted, so a database that reorders keys (PostgreSQL `jsonb`) does
/// not break the chain.
fn canonical_json(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            Value::Array(
                keys.into_iter()
                    .map(|k| Value::Array(vec![Value::String(k.clone()), canonical_json(&m[k])]))
                    .collect(),
            )
        }
        Value::Array(a) => Value::Array(a.iter().map(canonical_json).collect()),
        other => other.clone(),
    }
}

impl AuditEvent {
    /// Seals a draft as the next event after `prev` (or as the first of its chain).
    pub fn seal(draft: AuditDraft, prev: Option<(i64, &str)>) -> AuditEvent {
        let (seq, prev_hash) = match prev {
            Some((s, h)) => (s + 1, h.to_owned()),
            None => (1, GENESIS_HASH.to_owned()),
        };
        let hash = event_hash(&draft, seq, &prev_hash);
        AuditEvent {
            draft,
            seq,
            prev_hash,
            hash,
        }
    }
}

/// What is wrong at the first bad event of a chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChainProblem {
    /// The event's content no longer matches its hash.
    Edited,
    /// The sequence skips a number: an event was deleted.
    Missing,
    /// The event does not link to the one before it: reordered or replaced.
    BrokenLink,
    /// The chain's stored head names a later event than the last one left: the newest events
    /// were deleted. The break names the head's event.
    Truncated,
    /// The last event is not the one the stored head names (or the head is gone): events were
    /// replaced or appended behind the portal's back.
    HeadMismatch,
}

/// The newest event of a chain as the adapter records it, in the same transaction as each
/// append, apart from the events themselves: a chain whose tail was cut still verifies link by
/// link, but no longer ends where its head says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainHead {
    /// The sequence number of the newest event.
    pub seq: i64,
    /// Its hash.
    pub hash: String,
    /// Its ULID, in its string form (`evt_...`), to name it when it is missing.
    pub event_id: String,
}

impl ChainHead {
    /// The head after appending `event`.
    pub fn of(event: &AuditEvent) -> ChainHead {
        ChainHead {
            seq: event.seq,
            hash: event.hash.clone(),
            event_id: event.draft.id.to_string(),
        }
    }
}

/// The first bad event of a chain.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[error("audit chain broken at event {event_id} (sequence {seq}): {problem:?}")]
pub struct ChainBreak {
    /// Sequence number of the first bad event.
    pub seq: i64,
    /// The ULID of the first bad event, in its string form (`evt_...`).
    pub event_id: String,
    /// What is wrong with it.
    pub problem: ChainProblem,
}

/// Verifies one chain, given its events in storage order (by `seq`).
///
/// # Examples
///
/// ```
/// use chrono::{TimeZone, Utc};
/// use onboarding_core::audit::{verify_chain, Actor, AuditDraft, AuditEvent, ChainProblem};
/// use onboarding_core::ids::{AuditEventId, WorkspaceId};
/// use serde_json::json;
/// use ulid::Ulid;
///
/// let draft = |n: u64, action: &str| AuditDraft {
///     id: AuditEventId::from_ulid(Ulid::from_parts(n, 1)),
///     at: Utc.with_ymd_and_hms(2026, 11, 2, 9, 30, 0).unwrap(),
///     actor: Actor::System,
///     workspace_id: Some(WorkspaceId::from_ulid(Ulid::from_parts(1, 9))),
///     project_id: None,
///     action: action.into(),
///     target: "sub_01".into(),
///     details: json!({ "notes": null }),
/// };
/// let first = AuditEvent::seal(draft(1, "subscription.submitted"), None);
/// let second = AuditEvent::seal(
///     draft(2, "subscription.approved"),
///     Some((first.seq, first.hash.as_str())),
/// );
/// let mut chain = vec![first, second];
/// assert_eq!(verify_chain(&chain), Ok(()));
///
/// // Editing a stored event breaks the chain at that event.
/// chain[1].draft.action = "subscription.rejected".into();
/// let broken = verify_chain(&chain).unwrap_err();
/// assert_eq!((broken.seq, broken.problem), (2, ChainProblem::Edited));
/// ```
pub fn verify_chain(events: &[AuditEvent]) -> Result<(), ChainBreak> {
    let mut prev_hash = GENESIS_HASH.to_owned();
    for (i, e) in events.iter().enumerate() {
        let brk = |problem| ChainBreak {
            seq: e.seq,
            event_id: e.draft.id.to_string(),
            problem,
        };
        let expected_seq = i as i64 + 1;
        if e.seq != expected_seq {
            return Err(brk(if e.seq > expected_seq {
                ChainProblem::Missing
            } else {
                ChainProblem::BrokenLink
            }));
        }
        if event_hash(&e.draft, e.seq, &e.prev_hash) != e.hash {
            return Err(brk(ChainProblem::Edited));
        }
        if e.prev_hash != prev_hash {
            return Err(brk(ChainProblem::BrokenLink));
        }
        prev_hash = e.hash.clone();
    }
    Ok(())
}

/// Verifies one chain as [`verify_chain`] does, then that it ends where its stored head says.
pub fn verify_chain_with_head(
    events: &[AuditEvent],
    head: Option<&ChainHead>,
) -> Result<(), ChainBreak> {
    verify_chain(events)?;
    match (events.last(), head) {
        (None, None) => Ok(()),
        (Some(last), Some(h)) if last.seq == h.seq && last.hash == h.hash => Ok(()),
        (last, Some(h)) if last.is_none_or(|l| l.seq < h.seq) => Err(ChainBreak {
            seq: h.seq,
            event_id: h.event_id.clone(),
            problem: ChainProblem::Truncated,
        }),
        (Some(last), _) => Err(ChainBreak {
            seq: last.seq,
            event_id: last.draft.id.to_string(),
            problem: ChainProblem::HeadMismatch,
        }),
        (None, Some(_)) => unreachable!("an empty chain with a head is truncated"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_fixtures::*;
    use serde_json::json;

    fn chain(n: usize) -> Vec<AuditEvent> {
        let mut out: Vec<AuditEvent> = Vec::new();
        for i in 0..n {
            let draft = AuditDraft {
                id: AuditEventId::from_ulid(ulid::Ulid::from_parts(i as u64, 7)),
                at: t0(),
                actor: Actor::Account(dev()),
                workspace_id: Some(workspace_id()),
                project_id: None,
                action: "subscription.submitted".into(),
                target: format!("sub_{i}"),
                details: json!({"b": i, "a": [1, 2]}),
            };
            let prev = out.last().map(|e| (e.seq, e.hash.as_str()));
            out.push(AuditEvent::seal(draft, prev));
        }
        out
    }

    #[test]
    fn an_intact_chain_verifies() {
        assert_eq!(verify_chain(&chain(5)), Ok(()));
        assert_eq!(verify_chain(&[]), Ok(()));
    }

    #[test]
    fn an_edited_event_is_named() {
        let mut c = chain(5);
        c[2].draft.target = "sub_other".into();
        let e = verify_chain(&c).unwrap_err();
        assert_eq!((e.seq, e.problem), (3, ChainProblem::Edited));
    }

    #[test]
    fn a_deleted_event_is_named() {
        let mut c = chain(5);
        c.remove(1);
        let e = verify_chain(&c).unwrap_err();
        assert_eq!((e.seq, e.problem), (3, ChainProblem::Missing));
        let mut c = chain(5);
        c.pop();
        assert!(
            verify_chain(&c).is_ok(),
            "truncating the tail is only visible against the stored head"
        );
    }

    #[test]
    fn a_cut_tail_is_named_against_the_head() {
        let full = chain(5);
        let head = ChainHead::of(&full[4]);
        assert_eq!(verify_chain_with_head(&full, Some(&head)), Ok(()));
        assert_eq!(verify_chain_with_head(&[], None), Ok(()));
        for keep in [0, 3, 4] {
            let e = verify_chain_with_head(&full[..keep], Some(&head)).unwrap_err();
            assert_eq!(
                (e.seq, e.event_id.as_str(), e.problem),
                (5, head.event_id.as_str(), ChainProblem::Truncated),
                "kept {keep}"
            );
        }
        // A head that lags the events, or names another hash, or is gone.
        let stale = ChainHead::of(&full[3]);
        let mut other = head.clone();
        other.hash = full[3].hash.clone();
        for h in [Some(&stale), Some(&other), None] {
            let e = verify_chain_with_head(&full, h).unwrap_err();
            assert_eq!((e.seq, e.problem), (5, ChainProblem::HeadMismatch), "{h:?}");
        }
    }

    #[test]
    fn a_reordered_chain_is_named() {
        let mut c = chain(5);
        c.swap(1, 2);
        // Renumbering to hide the swap still breaks the hashes.
        let e = verify_chain(&c).unwrap_err();
        assert_eq!(e.seq, 3);
        let mut c = chain(5);
        c.swap(1, 2);
        c[1].seq = 2;
        c[2].seq = 3;
        assert_eq!(verify_chain(&c).unwrap_err().problem, ChainProblem::Edited);
    }

    #[test]
    fn key_order_of_details_does_not_matter() {
        let c = chain(1);
        let mut reordered = c[0].clone();
        reordered.draft.details = serde_json::from_str(r#"{"a":[1,2],"b":0}"#).unwrap();
        assert_eq!(verify_chain(&[reordered]), Ok(()));
    }
}
