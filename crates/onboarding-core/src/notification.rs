//! Notifications (PRODUCT §14): what people are told of a change, and who. A use case that
//! raises one writes it in the same [`ChangeSet`](crate::ports::ChangeSet) as its change
//! (`Change::QueueNotification`), so a committed change always has its notifications and a
//! refused one has none. Each notification is one row per recipient: shown in the portal's
//! notification centre, and its e-mail sent from the same row by a leased worker.
//!
//! The rules here are pure: who receives each kind ([`audience`], [`workspace_recipients`]),
//! which kinds may be turned off ([`NotificationKind::required`]), and when a failed e-mail is
//! tried again ([`mail_retry_delay`]).

use std::collections::BTreeSet;

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use serde_json::Value;

use crate::ids::*;
use crate::ports::{Principal, StoreResult};
use crate::roles::Role;
use crate::values::Email;
use crate::workspace::{Membership, Staff};

/// What a notification is about. The wire name (`changes_requested`) is also the preference key.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    strum::IntoStaticStr,
    strum::EnumString,
    strum::VariantArray,
)]
#[strum(serialize_all = "snake_case")]
#[non_exhaustive]
pub enum NotificationKind {
    /// Someone was invited to a workspace (to the invited address, with the accept link).
    Invitation,
    /// An account asked to join a workspace (to its owners).
    JoinRequested,
    /// A join request was approved or declined (to the account that asked).
    JoinDecided,
    /// A subscription was submitted for review (to the provider's reviewers).
    Submitted,
    /// A reviewer asked for changes, with notes.
    ChangesRequested,
    /// A subscription was approved for production.
    Approved,
    /// A subscription was rejected.
    Rejected,
    /// Sandbox access was granted.
    SandboxAccessGranted,
    /// Sandbox access was declined.
    SandboxAccessDeclined,
    /// A credential's secret was rotated; the old one works until the grace deadline.
    CredentialRotated,
    /// An alert threshold on usage or spend was crossed.
    AlertCrossed,
    /// A webhook endpoint was disabled after failing deliveries.
    EndpointDisabled,
    /// A member's roles changed (to that member).
    RolesChanged,
    /// Payment is required before production credentials unlock (payments engineer: to raise).
    PaymentRequired,
    /// A payment was received (payments engineer: to raise).
    PaymentReceived,
    /// A password reset was asked for (the link carries a single-use token).
    PasswordReset,
    /// The account's password was changed (security notice).
    PasswordChanged,
    /// Confirm the account's e-mail address (the link carries a single-use token).
    VerifyEmail,
    /// The sign-in address is about to change (notice to the old address).
    EmailChanged,
}

impl NotificationKind {
    /// The wire name (`changes_requested`).
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// Every kind.
    pub const ALL: &'static [NotificationKind] =
        <NotificationKind as strum::VariantArray>::VARIANTS;

    /// Required kinds are always e-mailed: security, account and access notices, and the
    /// invitation (its address may have no account to hold preferences). The others may be
    /// turned off; the portal's notification centre shows them whatever the setting.
    pub fn required(self) -> bool {
        use NotificationKind::*;
        matches!(
            self,
            Invitation
                | CredentialRotated
                | RolesChanged
                | PasswordReset
                | PasswordChanged
                | VerifyEmail
                | EmailChanged
        )
    }
}

/// Who receives a kind of notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// Members of the workspace holding any of these roles.
    Members(&'static [Role]),
    /// The provider's staff who work the review queue.
    Reviewers,
    /// One person the use case names (the invitee, the member concerned, the account itself).
    Direct,
}

/// The audience of each kind: the roles that act on it or answer for it (PRODUCT §1).
pub fn audience(kind: NotificationKind) -> Audience {
    use NotificationKind::*;
    use Role::*;
    match kind {
        JoinRequested => Audience::Members(&[Owner]),
        Submitted => Audience::Reviewers,
        // Whoever may submit again or act on the decision.
        ChangesRequested | Approved | Rejected => Audience::Members(&[Owner, TechnicalLead]),
        SandboxAccessGranted | SandboxAccessDeclined => {
            Audience::Members(&[Owner, TechnicalLead, Developer])
        }
        CredentialRotated => Audience::Members(&[Owner, SecurityOwner, TechnicalLead]),
        AlertCrossed | PaymentRequired | PaymentReceived => Audience::Members(&[Owner, Billing]),
        EndpointDisabled => Audience::Members(&[Owner, TechnicalLead, Developer]),
        Invitation | JoinDecided | RolesChanged | PasswordReset | PasswordChanged | VerifyEmail
        | EmailChanged => Audience::Direct,
    }
}

/// The members of a workspace who receive `kind`: those holding a role of its audience, except
/// `actor` (nobody is told of their own action). Sorted by account, no duplicates.
pub fn workspace_recipients(
    kind: NotificationKind,
    members: &[Membership],
    actor: Option<AccountId>,
) -> Vec<AccountId> {
    let Audience::Members(roles) = audience(kind) else {
        return Vec::new();
    };
    let ids: BTreeSet<AccountId> = members
        .iter()
        .filter(|m| Some(m.account_id) != actor)
        .filter(|m| roles.iter().any(|r| m.roles.contains(*r)))
        .map(|m| m.account_id)
        .collect();
    ids.into_iter().collect()
}

/// The staff who receive a reviewers' notification: everyone who may review (admins and
/// reviewers alike), in directory order.
pub fn reviewer_recipients(staff: &[Staff]) -> Vec<&Staff> {
    staff
        .iter()
        .filter(|s| crate::roles::staff_allowed(s.role, crate::roles::StaffAction::Review))
        .collect()
}

/// Where a notification goes: a person of the portal (its centre shows it) and the address
/// its e-mail is sent to. An invitation to an address with no account has no principal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Addressee {
    /// The account or staff member, when there is one.
    pub principal: Option<Principal>,
    /// The address the e-mail goes to.
    pub email: Email,
}

/// Where a notification's e-mail stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::IntoStaticStr, strum::EnumString)]
#[strum(serialize_all = "snake_case")]
pub enum MailStatus {
    /// Waiting to be sent (or to be tried again at `next_attempt_at`).
    Pending,
    /// Handed to the mail server (or written as a file).
    Sent,
    /// Not sent: the recipient turned this kind off.
    Skipped,
    /// Given up after the last retry.
    Failed,
}

impl MailStatus {
    /// The stored name (`pending`).
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// One notification to one person.
#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    /// The notification's ULID; also the e-mail's stable `Message-ID`, so a retry after a
    /// crash is recognisable as the same message.
    pub id: NotificationId,
    /// What it is about.
    pub kind: NotificationKind,
    /// Who it goes to.
    pub to: Addressee,
    /// The workspace it concerns, if any.
    pub workspace_id: Option<WorkspaceId>,
    /// What the templates show (names, ids, notes). Never a secret in clear: a link token is
    /// carried sealed by the [`SecretVault`](crate::ports::SecretVault) under `sealed_token`.
    pub data: Value,
    /// When the change that raised it was committed.
    pub created_at: DateTime<Utc>,
    /// When its reader marked it read in the portal.
    pub read_at: Option<DateTime<Utc>>,
    /// Where its e-mail stands.
    pub mail_status: MailStatus,
    /// E-mail attempts made so far.
    pub attempts: u32,
    /// When the e-mail is next due (pending only).
    pub next_attempt_at: DateTime<Utc>,
    /// The last delivery error, for operators (never shown to the recipient).
    pub last_error: Option<String>,
}

/// How long to wait after the `attempts`-th failed e-mail attempt; `None`: give up. About a
/// day in all, so a mail server down overnight still gets every message.
pub fn mail_retry_delay(attempts: u32) -> Option<TimeDelta> {
    const MINUTES: [i64; 10] = [1, 2, 5, 10, 30, 60, 120, 240, 480, 600];
    MINUTES
        .get(attempts.saturating_sub(1) as usize)
        .map(|m| TimeDelta::minutes(*m))
}

/// The optional kinds a person turned off.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MailPreferences {
    /// Kinds not e-mailed (required kinds are e-mailed whatever this holds).
    pub off: BTreeSet<NotificationKind>,
}

impl MailPreferences {
    /// Whether a notification of `kind` is e-mailed to this person.
    pub fn wants_email(&self, kind: NotificationKind) -> bool {
        kind.required() || !self.off.contains(&kind)
    }
}

/// How one e-mail attempt ended, as the worker records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailOutcome {
    /// Sent (the server accepted it).
    Sent,
    /// Not sent: the recipient turned the kind off.
    Skipped,
    /// Failed; try again at `next_attempt_at`.
    Retry {
        /// When it is due again.
        next_attempt_at: DateTime<Utc>,
        /// What went wrong, for operators.
        error: String,
    },
    /// Failed for the last time.
    Failed {
        /// What went wrong, for operators.
        error: String,
    },
}

/// Notification rows: the centre's reads and writes, the staff directory the reviewers'
/// rule reads, preferences, and the e-mail queue the worker leases from. Rows are inserted
/// only by `Change::QueueNotification` in a committed change set.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait NotificationStore: Send + Sync {
    /// Every staff member, oldest first.
    async fn staff_members(&self) -> StoreResult<Vec<Staff>>;
    /// The notification with this id, if any.
    async fn notification(&self, id: NotificationId) -> StoreResult<Option<Notification>>;
    /// A person's notifications, newest first, before the cursor (keyset paging).
    async fn notifications_of(
        &self,
        principal: Principal,
        before: Option<NotificationId>,
        limit: u64,
    ) -> StoreResult<Vec<Notification>>;
    /// How many of a person's notifications are unread.
    async fn unread_count(&self, principal: Principal) -> StoreResult<u64>;
    /// Marks the person's notifications read at `at`: these ids, or all with `None`. Answers
    /// how many changed (ids of other people's notifications change nothing).
    async fn mark_read(
        &self,
        principal: Principal,
        ids: Option<Vec<NotificationId>>,
        at: DateTime<Utc>,
    ) -> StoreResult<u64>;
    /// The kinds a person turned off.
    async fn preferences(&self, principal: Principal) -> StoreResult<MailPreferences>;
    /// Turns e-mail of an optional kind on or off for a person.
    async fn set_preference(
        &self,
        principal: Principal,
        kind: NotificationKind,
        email: bool,
    ) -> StoreResult<()>;
    /// Leases up to `limit` pending e-mails due at `now` (no live lease) to `owner` until
    /// `lease_until`, oldest due first (`FOR UPDATE SKIP LOCKED` on PostgreSQL).
    async fn claim_due_mail(
        &self,
        now: DateTime<Utc>,
        owner: &str,
        lease_until: DateTime<Utc>,
        limit: u64,
    ) -> StoreResult<Vec<Notification>>;
    /// Lets go of every lease `owner` holds (a previous run of this server, which stopped):
    /// its messages are due again at once instead of when the leases end. Answers how many.
    async fn release_mail_leases(&self, owner: &str) -> StoreResult<u64>;
    /// Records an attempt and releases the lease: `Conflict` (nothing written) when `owner`
    /// no longer holds it. A final outcome (sent, skipped, failed) also drops the sealed link
    /// token from `data`: once the e-mail is out, nothing can reopen it.
    async fn settle_mail(
        &self,
        id: NotificationId,
        owner: &str,
        outcome: MailOutcome,
        at: DateTime<Utc>,
    ) -> StoreResult<()>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::roles::RoleSet;

    fn m(n: u64, roles: &[Role]) -> Membership {
        Membership {
            workspace_id: WorkspaceId::from_ulid(ulid::Ulid::from_parts(1, 1)),
            account_id: AccountId::from_ulid(ulid::Ulid::from_parts(n, 1)),
            roles: RoleSet::of(roles),
            joined_at: chrono::DateTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn each_kind_reaches_its_roles_and_never_the_actor() {
        use NotificationKind::*;
        use Role::*;
        let members = [
            m(1, &[Owner]),
            m(2, &[Developer]),
            m(3, &[TechnicalLead, Billing]),
            m(4, &[SecurityOwner]),
            m(5, &[Billing]),
            m(6, &[Compliance]),
        ];
        let ids = |kind, actor: Option<u64>| -> Vec<u64> {
            workspace_recipients(
                kind,
                &members,
                actor.map(|a| AccountId::from_ulid(ulid::Ulid::from_parts(a, 1))),
            )
            .iter()
            .map(|a| a.ulid().timestamp_ms())
            .collect()
        };
        assert_eq!(ids(JoinRequested, None), [1]);
        assert_eq!(ids(ChangesRequested, None), [1, 3]);
        assert_eq!(ids(Approved, None), [1, 3]);
        assert_eq!(ids(Rejected, None), [1, 3]);
        assert_eq!(ids(SandboxAccessGranted, None), [1, 2, 3]);
        assert_eq!(ids(CredentialRotated, None), [1, 3, 4]);
        assert_eq!(ids(CredentialRotated, Some(4)), [1, 3]);
        assert_eq!(ids(AlertCrossed, None), [1, 3, 5]);
        assert_eq!(ids(EndpointDisabled, Some(2)), [1, 3]);
        assert_eq!(ids(PaymentReceived, None), [1, 3, 5]);
        // Direct and staff kinds name no member by role.
        assert!(ids(Invitation, None).is_empty());
        assert!(ids(RolesChanged, None).is_empty());
        assert!(ids(Submitted, None).is_empty());
    }

    #[test]
    fn required_kinds_ignore_preferences() {
        let prefs = MailPreferences {
            off: NotificationKind::ALL.iter().copied().collect(),
        };
        for k in NotificationKind::ALL {
            assert_eq!(prefs.wants_email(*k), k.required(), "{k:?}");
            assert!(MailPreferences::default().wants_email(*k));
        }
        assert!(NotificationKind::PasswordReset.required());
        assert!(!NotificationKind::ChangesRequested.required());
    }

    #[test]
    fn retries_back_off_for_about_a_day_then_stop() {
        let delays: Vec<_> = (1..).map_while(mail_retry_delay).collect();
        assert!(delays.windows(2).all(|w| w[0] < w[1]));
        let total: TimeDelta = delays.iter().sum();
        assert!(total >= TimeDelta::hours(20) && total <= TimeDelta::hours(30));
        assert_eq!(mail_retry_delay(1), Some(TimeDelta::minutes(1)));
    }

    #[test]
    fn wire_names_round_trip() {
        for k in NotificationKind::ALL {
            assert_eq!(k.as_str().parse::<NotificationKind>().unwrap(), *k);
        }
        assert_eq!(
            NotificationKind::ChangesRequested.as_str(),
            "changes_requested"
        );
    }
}
