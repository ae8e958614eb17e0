//! Single sign-on rules (spec §15, docs/decisions/0045): which staff role an identity
//! provider's claim grants, when an external identity may sign in, be created or link to an
//! existing record, and who may still use a local staff password.
//!
//! Pure: the OpenID Connect adapter verifies the ID token (signature, issuer, audience, expiry,
//! nonce) and hands over the claims it read as an [`ExternalIdentity`]; these functions decide.

use serde::{Deserialize, Serialize};

use crate::roles::StaffRole;
use crate::values::Email;
use crate::workspace::{Account, Staff};

/// What a verified ID token said about the person signing in.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ExternalIdentity {
    /// The token's `iss`.
    pub issuer: String,
    /// The token's `sub`: stable at this issuer.
    pub subject: String,
    /// The `email` claim, if the provider sent one.
    pub email: Option<String>,
    /// The `email_verified` claim; absent counts as not verified.
    pub email_verified: bool,
    /// The `name` claim (or what the adapter built from given and family names).
    pub name: Option<String>,
    /// The values of the provider's configured role claim (`groups`, `roles`, ...).
    pub claim_values: Vec<String>,
}

/// Which claim values grant which staff role. Values match exactly (case-sensitive), as
/// identity providers emit group and role names verbatim.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RoleMapping {
    /// Values that make the person an admin.
    #[serde(default)]
    pub admin: Vec<String>,
    /// Values that make the person a reviewer.
    #[serde(default)]
    pub reviewer: Vec<String>,
}

impl RoleMapping {
    /// The role the claim values grant: admin wins over reviewer; none when no value matches.
    pub fn role_for(&self, values: &[String]) -> Option<StaffRole> {
        let has = |granting: &[String]| values.iter().any(|v| granting.contains(v));
        if has(&self.admin) {
            Some(StaffRole::Admin)
        } else if has(&self.reviewer) {
            Some(StaffRole::Reviewer)
        } else {
            None
        }
    }
}

/// Why a single sign-on was refused. Every refusal is audited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SsoRefusal {
    /// The provider sent no (valid) `email` claim.
    NoEmail,
    /// The provider did not assert `email_verified`.
    EmailNotVerified,
    /// The configured claim grants no staff role (never did, or no longer does).
    NoStaffRole,
}

impl SsoRefusal {
    /// The wire and audit name.
    pub fn as_str(self) -> &'static str {
        match self {
            SsoRefusal::NoEmail => "no_email",
            SsoRefusal::EmailNotVerified => "email_not_verified",
            SsoRefusal::NoStaffRole => "no_staff_role",
        }
    }

    /// What the person is told.
    pub fn message(self) -> &'static str {
        match self {
            SsoRefusal::NoEmail => "Your identity provider did not share an e-mail address.",
            SsoRefusal::EmailNotVerified => {
                "Your identity provider has not verified your e-mail address, so it cannot be \
                 used to sign in here."
            }
            SsoRefusal::NoStaffRole => {
                "Your identity provider grants you no role in this portal's staff. Ask your \
                 administrator to add you to the admin or reviewer group."
            }
        }
    }
}

impl std::fmt::Display for SsoRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.message())
    }
}

/// What a staff sign-in through the identity provider does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StaffDecision {
    /// No staff member has this e-mail: create one just in time, with this role.
    Create {
        /// The verified address the record is created with.
        email: Email,
        /// The role the claim grants.
        role: StaffRole,
    },
    /// The staff member signs in; their stored role follows the claim.
    SignIn {
        /// `Some((from, to))` when the claim now grants another role.
        role_change: Option<(StaffRole, StaffRole)>,
    },
    /// Refused: nobody signs in, and an existing staff member's sessions end.
    Refuse(SsoRefusal),
}

/// Decides a staff sign-in. The staff directory is keyed by e-mail, so the address must be
/// one the provider vouches for unless the operator said its addresses are all verified
/// (`require_verified_email = false`, for providers such as Entra ID that omit the claim).
pub fn decide_staff(
    identity: &ExternalIdentity,
    mapping: &RoleMapping,
    require_verified_email: bool,
    existing: Option<&Staff>,
) -> StaffDecision {
    let Some(email) = identity.email.as_deref().and_then(|e| Email::new(e).ok()) else {
        return StaffDecision::Refuse(SsoRefusal::NoEmail);
    };
    if require_verified_email && !identity.email_verified {
        return StaffDecision::Refuse(SsoRefusal::EmailNotVerified);
    }
    let Some(role) = mapping.role_for(&identity.claim_values) else {
        return StaffDecision::Refuse(SsoRefusal::NoStaffRole);
    };
    match existing {
        None => StaffDecision::Create { email, role },
        Some(s) if s.role == role => StaffDecision::SignIn { role_change: None },
        Some(s) => StaffDecision::SignIn {
            role_change: Some((s.role, role)),
        },
    }
}

/// What a partner's sign-in through a configured provider does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountDecision {
    /// No account has this e-mail: create one (it has no local password).
    Create(Email),
    /// Sign in to the existing account with this verified e-mail.
    Link,
    /// Refused; nothing changes.
    Refuse(SsoRefusal),
}

/// Decides a partner sign-in: an external identity reaches an account only through an e-mail
/// address its provider verified, whether the account exists already or is created now.
pub fn decide_account(identity: &ExternalIdentity, existing: Option<&Account>) -> AccountDecision {
    let Some(email) = identity.email.as_deref().and_then(|e| Email::new(e).ok()) else {
        return AccountDecision::Refuse(SsoRefusal::NoEmail);
    };
    if !identity.email_verified {
        return AccountDecision::Refuse(SsoRefusal::EmailNotVerified);
    }
    match existing {
        Some(_) => AccountDecision::Link,
        None => AccountDecision::Create(email),
    }
}

/// Who may sign in to the staff side with a local password.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum StaffPasswords {
    /// Every staff member with a password (the default).
    #[default]
    Allowed,
    /// Only these break-glass addresses (the first-run admin): the rest use single sign-on.
    BreakGlassOnly(Vec<Email>),
}

impl StaffPasswords {
    /// Whether this address may sign in with a password.
    pub fn allows(&self, email: &Email) -> bool {
        match self {
            StaffPasswords::Allowed => true,
            StaffPasswords::BreakGlassOnly(list) => list.contains(email),
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;
    use crate::ids::{AccountId, StaffId};
    use crate::values::Label;

    fn mapping() -> RoleMapping {
        RoleMapping {
            admin: vec!["portal-admins".into()],
            reviewer: vec!["portal-reviewers".into(), "api-review".into()],
        }
    }

    fn identity(groups: &[&str]) -> ExternalIdentity {
        ExternalIdentity {
            issuer: "https://idp.test".into(),
            subject: "u1".into(),
            email: Some("Rui@Provider.test".into()),
            email_verified: true,
            name: Some("Rui".into()),
            claim_values: groups.iter().map(|g| g.to_string()).collect(),
        }
    }

    fn staff(role: StaffRole) -> Staff {
        Staff {
            id: StaffId::from_ulid(ulid::Ulid::generate()),
            email: Email::new("rui@provider.test").unwrap(),
            name: Label::new("Rui").unwrap(),
            role,
            password_hash: String::new(),
            created_at: Utc.with_ymd_and_hms(2026, 12, 7, 9, 0, 0).unwrap(),
        }
    }

    #[test]
    fn claim_values_map_to_roles_admin_first() {
        let m = mapping();
        let v = |g: &[&str]| g.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(m.role_for(&v(&["portal-admins"])), Some(StaffRole::Admin));
        assert_eq!(m.role_for(&v(&["api-review"])), Some(StaffRole::Reviewer));
        assert_eq!(
            m.role_for(&v(&["portal-reviewers", "portal-admins"])),
            Some(StaffRole::Admin)
        );
        assert_eq!(m.role_for(&v(&["everyone"])), None);
        assert_eq!(m.role_for(&v(&["Portal-Admins"])), None, "exact match");
        assert_eq!(m.role_for(&[]), None);
        assert_eq!(RoleMapping::default().role_for(&v(&["x"])), None);
    }

    #[test]
    fn a_new_staff_member_is_created_with_the_claimed_role() {
        let d = decide_staff(&identity(&["api-review"]), &mapping(), true, None);
        assert_eq!(
            d,
            StaffDecision::Create {
                email: Email::new("rui@provider.test").unwrap(),
                role: StaffRole::Reviewer
            }
        );
    }

    #[test]
    fn the_stored_role_follows_the_claim() {
        let s = staff(StaffRole::Reviewer);
        let same = decide_staff(&identity(&["api-review"]), &mapping(), true, Some(&s));
        assert_eq!(same, StaffDecision::SignIn { role_change: None });
        let up = decide_staff(&identity(&["portal-admins"]), &mapping(), true, Some(&s));
        assert_eq!(
            up,
            StaffDecision::SignIn {
                role_change: Some((StaffRole::Reviewer, StaffRole::Admin))
            }
        );
    }

    #[test]
    fn a_claim_that_no_longer_grants_a_role_is_refused() {
        let s = staff(StaffRole::Admin);
        let d = decide_staff(&identity(&["everyone"]), &mapping(), true, Some(&s));
        assert_eq!(d, StaffDecision::Refuse(SsoRefusal::NoStaffRole));
        let d = decide_staff(&identity(&[]), &mapping(), true, None);
        assert_eq!(d, StaffDecision::Refuse(SsoRefusal::NoStaffRole));
    }

    #[test]
    fn staff_need_an_email_verified_unless_the_operator_vouches() {
        let mut id = identity(&["portal-admins"]);
        id.email_verified = false;
        assert_eq!(
            decide_staff(&id, &mapping(), true, None),
            StaffDecision::Refuse(SsoRefusal::EmailNotVerified)
        );
        assert!(matches!(
            decide_staff(&id, &mapping(), false, None),
            StaffDecision::Create { .. }
        ));
        id.email = Some("not an address".into());
        assert_eq!(
            decide_staff(&id, &mapping(), false, None),
            StaffDecision::Refuse(SsoRefusal::NoEmail)
        );
        id.email = None;
        assert_eq!(
            decide_staff(&id, &mapping(), false, None),
            StaffDecision::Refuse(SsoRefusal::NoEmail)
        );
    }

    #[test]
    fn partners_link_only_through_a_verified_email() {
        let account = Account {
            id: AccountId::from_ulid(ulid::Ulid::generate()),
            email: Email::new("rui@provider.test").unwrap(),
            name: Label::new("Rui").unwrap(),
            password_hash: "phc".into(),
            created_at: Utc.with_ymd_and_hms(2026, 12, 7, 9, 0, 0).unwrap(),
        };
        let mut id = identity(&[]);
        assert_eq!(decide_account(&id, Some(&account)), AccountDecision::Link);
        assert_eq!(
            decide_account(&id, None),
            AccountDecision::Create(Email::new("rui@provider.test").unwrap())
        );
        id.email_verified = false;
        assert_eq!(
            decide_account(&id, Some(&account)),
            AccountDecision::Refuse(SsoRefusal::EmailNotVerified)
        );
        assert_eq!(
            decide_account(&id, None),
            AccountDecision::Refuse(SsoRefusal::EmailNotVerified)
        );
        id.email = None;
        assert_eq!(
            decide_account(&id, None),
            AccountDecision::Refuse(SsoRefusal::NoEmail)
        );
    }

    #[test]
    fn break_glass_only_lets_the_listed_addresses_use_passwords() {
        let first = Email::new("admin@portal.local").unwrap();
        let other = Email::new("ada@provider.test").unwrap();
        assert!(StaffPasswords::Allowed.allows(&other));
        let p = StaffPasswords::BreakGlassOnly(vec![first.clone()]);
        assert!(p.allows(&first));
        assert!(!p.allows(&other));
    }
}
