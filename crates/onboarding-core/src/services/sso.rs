//! Sign-in through an identity provider (issue 26): just-in-time staff records whose role
//! follows the provider's claim, refusals that end sessions, partner accounts reached only
//! through a verified e-mail. The rules are in [`crate::sso`]; this loads, decides, commits.

use serde_json::json;

use super::*;
use crate::sso::{
    AccountDecision, ExternalIdentity, RoleMapping, SsoRefusal, StaffDecision, StaffPasswords,
    decide_account, decide_staff,
};
use crate::values::{Email, Label};
use crate::workspace::{Account, Staff};

/// A sign-in the identity provider vouched for, answered: who signed in, or why not.
pub type SsoOutcome<T> = Result<T, SsoRefusal>;

/// The display name: the provider's `name`, else the address's local part.
fn display_name(identity: &ExternalIdentity, email: &Email) -> Label {
    identity
        .name
        .as_deref()
        .and_then(|n| Label::for_field("name", n).ok())
        .or_else(|| {
            let local = email.as_str().split('@').next().unwrap_or("staff");
            Label::for_field("name", local).ok()
        })
        .unwrap_or_else(|| Label::for_field("name", "Unnamed").expect("a valid label"))
}

impl Portal {
    /// The same portal, with local staff passwords limited by `policy` (single sign-on
    /// deployments keep only the first-run admin as break-glass).
    pub fn with_staff_passwords(self, policy: StaffPasswords) -> Self {
        Self::over(Context {
            staff_passwords: policy,
            ..self.cx.clone()
        })
    }
}

impl Accounts {
    /// Signs a staff member in through the provider whose claim `mapping` reads. Creates the
    /// staff record on first sign-in, moves its role with the claim, and, when the claim no
    /// longer grants a role, refuses and ends every session the staff member still has.
    pub async fn sign_in_staff_sso(
        &self,
        identity: &ExternalIdentity,
        mapping: &RoleMapping,
        require_verified_email: bool,
    ) -> ServiceResult<SsoOutcome<Staff>> {
        let existing = match identity.email.as_deref().map(Email::new) {
            Some(Ok(email)) => self.cx.p.accounts.staff_by_email(&email).await?,
            _ => None,
        };
        let now = self.cx.now();
        let via = json!({ "via": "sso", "issuer": identity.issuer, "subject": identity.subject });
        match decide_staff(identity, mapping, require_verified_email, existing.as_ref()) {
            StaffDecision::Refuse(why) => {
                let mut details = via;
                details["reason"] = why.as_str().into();
                let draft = match &existing {
                    Some(s) => self
                        .cx
                        .change(Actor::System, now)
                        .with(Change::EndStaffSessions(s.id))
                        .audit("staff.sso_refused", s.id, details),
                    None => self.cx.change(Actor::System, now).audit(
                        "staff.sso_refused",
                        format!("{}@{}", identity.subject, identity.issuer),
                        details,
                    ),
                };
                self.cx.p.uow.commit(draft.into_set()?).await?;
                Ok(Err(why))
            }
            StaffDecision::Create { email, role } => {
                let staff = Staff {
                    id: StaffId::from_ulid(self.cx.ulid()),
                    name: display_name(identity, &email),
                    email,
                    role,
                    // No local password: this staff member signs in through the provider.
                    password_hash: String::new(),
                    created_at: now,
                };
                let mut details = via;
                details["role"] = role.as_str().into();
                let set = self
                    .cx
                    .change(Actor::System, now)
                    .with(Change::InsertStaff(staff.clone()))
                    .audit("staff.created", staff.id, details)
                    .into_set()?;
                self.cx
                    .commit_checked(set, || self.cx.staff_email_free(&staff.email))
                    .await?;
                Ok(Ok(staff))
            }
            StaffDecision::SignIn { role_change } => {
                let mut staff = existing.expect("decide_staff signs in only existing staff");
                if let Some((from, to)) = role_change {
                    let mut details = via;
                    details["from"] = from.as_str().into();
                    details["to"] = to.as_str().into();
                    let set = self
                        .cx
                        .change(Actor::System, now)
                        .with(Change::SetStaffRole {
                            id: staff.id,
                            role: to,
                        })
                        .audit("staff.role_changed", staff.id, details)
                        .into_set()?;
                    self.cx.p.uow.commit(set).await?;
                    staff.role = to;
                }
                Ok(Ok(staff))
            }
        }
    }

    /// Signs a partner in through a configured provider: to the account with the verified
    /// e-mail, or to a new account (without a local password). Refusals change nothing.
    pub async fn sign_in_account_sso(
        &self,
        identity: &ExternalIdentity,
    ) -> ServiceResult<SsoOutcome<Account>> {
        let existing = match identity.email.as_deref().map(Email::new) {
            Some(Ok(email)) => self.cx.p.accounts.account_by_email(&email).await?,
            _ => None,
        };
        match decide_account(identity, existing.as_ref()) {
            AccountDecision::Refuse(why) => Ok(Err(why)),
            AccountDecision::Link => Ok(Ok(existing.expect("linked to an existing account"))),
            AccountDecision::Create(email) => {
                let now = self.cx.now();
                let account = Account {
                    id: AccountId::from_ulid(self.cx.ulid()),
                    name: display_name(identity, &email),
                    email,
                    password_hash: String::new(),
                    created_at: now,
                };
                let set = self
                    .cx
                    .change(Actor::Account(account.id), now)
                    .with(Change::InsertAccount(account.clone()))
                    .audit(
                        "account.created",
                        account.id,
                        json!({ "via": "sso", "issuer": identity.issuer }),
                    )
                    .into_set()?;
                self.cx
                    .commit_checked(set, || self.cx.account_email_free(&account.email))
                    .await?;
                Ok(Ok(account))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;
    use crate::memory::in_memory_portal;
    use crate::ports::{AuthToken, AuthTokenKind, AuthTokenStore, Principal};
    use crate::roles::StaffRole;

    fn mapping() -> RoleMapping {
        RoleMapping {
            admin: vec!["admins".into()],
            reviewer: vec!["reviewers".into()],
        }
    }

    fn identity(groups: &[&str]) -> ExternalIdentity {
        ExternalIdentity {
            issuer: "http://idp.test".into(),
            subject: "rui".into(),
            email: Some("rui@provider.test".into()),
            email_verified: true,
            name: Some("Rui Reviewer".into()),
            claim_values: groups.iter().map(|g| g.to_string()).collect(),
        }
    }

    #[tokio::test]
    async fn staff_are_created_follow_the_claim_and_are_refused_with_sessions_ended() {
        let now = Utc.with_ymd_and_hms(2026, 12, 7, 9, 0, 0).unwrap();
        let (portal, store, _clock) = in_memory_portal(now);
        let acc = portal.accounts();

        let s = acc
            .sign_in_staff_sso(&identity(&["reviewers"]), &mapping(), true)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(s.role, StaffRole::Reviewer);
        assert_eq!(s.name.to_string(), "Rui Reviewer");
        // No local password for a just-in-time staff member.
        assert!(matches!(
            acc.authenticate_staff("rui@provider.test", "").await,
            Err(ServiceError::Unauthenticated)
        ));

        let again = acc
            .sign_in_staff_sso(&identity(&["admins"]), &mapping(), true)
            .await
            .unwrap()
            .unwrap();
        assert_eq!((again.id, again.role), (s.id, StaffRole::Admin));
        assert_eq!(acc.staff_member(s.id).await.unwrap().role, StaffRole::Admin);

        store
            .insert_token(AuthToken {
                token_hash: crate::credential::SecretHash::of("a session"),
                principal: Principal::Staff(s.id),
                kind: AuthTokenKind::Session,
                name: String::new(),
                csrf_token: Some("csrf".into()),
                created_at: now,
                expires_at: now + chrono::TimeDelta::hours(12),
            })
            .await
            .unwrap();
        let refused = acc
            .sign_in_staff_sso(&identity(&["everyone"]), &mapping(), true)
            .await
            .unwrap();
        assert_eq!(refused, Err(SsoRefusal::NoStaffRole));
        assert!(
            store
                .tokens_of(Principal::Staff(s.id))
                .await
                .unwrap()
                .is_empty()
        );
        let audit: Vec<String> = store
            .audit_events()
            .iter()
            .map(|e| e.draft.action.clone())
            .collect();
        assert_eq!(
            audit,
            ["staff.created", "staff.role_changed", "staff.sso_refused"]
        );
    }

    #[tokio::test]
    async fn partners_reach_accounts_only_through_a_verified_email() {
        let now = Utc.with_ymd_and_hms(2026, 12, 7, 9, 0, 0).unwrap();
        let (portal, _store, _clock) = in_memory_portal(now);
        let acc = portal.accounts();
        let local = acc
            .sign_up("rui@provider.test", "Rui", "correct-horse-battery")
            .await
            .unwrap();
        let mut id = identity(&[]);
        id.email_verified = false;
        assert_eq!(
            acc.sign_in_account_sso(&id).await.unwrap(),
            Err(SsoRefusal::EmailNotVerified)
        );
        id.email_verified = true;
        let linked = acc.sign_in_account_sso(&id).await.unwrap().unwrap();
        assert_eq!(linked.id, local.id);
        // The local password keeps working.
        acc.authenticate("rui@provider.test", "correct-horse-battery")
            .await
            .unwrap();

        id.email = Some("new@partner.test".into());
        let created = acc.sign_in_account_sso(&id).await.unwrap().unwrap();
        assert!(created.password_hash.is_empty());
        assert!(matches!(
            acc.authenticate("new@partner.test", "").await,
            Err(ServiceError::Unauthenticated)
        ));
    }

    #[tokio::test]
    async fn passwords_off_leaves_only_break_glass() {
        let now = Utc.with_ymd_and_hms(2026, 12, 7, 9, 0, 0).unwrap();
        let (portal, _store, _clock) = in_memory_portal(now);
        let pw = "correct-horse-battery";
        portal
            .accounts()
            .create_staff(None, "admin@portal.local", "Admin", StaffRole::Admin, pw)
            .await
            .unwrap();
        let portal = portal.with_staff_passwords(StaffPasswords::BreakGlassOnly(vec![
            Email::new("admin@portal.local").unwrap(),
        ]));
        let first = portal
            .accounts()
            .authenticate_staff("admin@portal.local", pw)
            .await
            .unwrap();
        let caller = Caller::Staff {
            id: first.id,
            role: StaffRole::Admin,
        };
        portal
            .accounts()
            .create_staff(
                Some(caller),
                "ada@provider.test",
                "Ada",
                StaffRole::Admin,
                pw,
            )
            .await
            .unwrap();
        assert!(matches!(
            portal
                .accounts()
                .authenticate_staff("ada@provider.test", pw)
                .await,
            Err(ServiceError::Refused {
                code: RefusalCode::PasswordSignInOff,
                ..
            })
        ));
    }
}
