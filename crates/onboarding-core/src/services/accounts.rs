//! Sign-up, sign-in and the account's own view (access state and next step).

use serde::Serialize;
use serde_json::json;

use super::*;
use crate::next_step::NextStep;
use crate::values::{Email, Label};
use crate::workspace::{
    AccessState, Account, AttachmentVia, InvitationStatus, JoinRequestStatus, PendingAttachment,
    Staff, access_state,
};

/// Passwords: at least 10 characters (a passphrase beats complexity rules), at most 1024.
fn check_password(password: &str) -> Result<(), FieldError> {
    let n = password.chars().count();
    if n < 10 {
        return Err(FieldError::new(
            "password",
            "a password needs at least 10 characters",
        ));
    }
    if n > 1024 {
        return Err(FieldError::new(
            "password",
            "a password is at most 1024 characters",
        ));
    }
    Ok(())
}

/// What the access page shows.
#[derive(Debug, Clone, Serialize)]
pub struct AccountOverview {
    /// Who the account is, without its password hash.
    pub account: AccountSummary,
    /// Signed up, awaiting attachment, or attached.
    pub access: AccessState,
    /// The one next step for the account.
    pub next_step: NextStep,
}

/// An account as its owner and the other members of its workspaces see it (no password hash).
#[derive(Debug, Clone, Serialize)]
pub struct AccountSummary {
    /// The account.
    pub id: AccountId,
    /// Its sign-in address.
    pub email: String,
    /// Its display name.
    pub name: String,
}

impl From<&Account> for AccountSummary {
    fn from(a: &Account) -> Self {
        Self {
            id: a.id,
            email: a.email.to_string(),
            name: a.name.to_string(),
        }
    }
}

impl Accounts {
    /// Creates an account. The e-mail must be unused.
    pub async fn sign_up(&self, email: &str, name: &str, password: &str) -> ServiceResult<Account> {
        let email = Email::new(email)?;
        let name = Label::for_field("name", name)?;
        check_password(password)?;
        self.cx.account_email_free(&email).await?;
        let now = self.cx.now();
        let account = Account {
            id: AccountId::from_ulid(self.cx.ulid()),
            email,
            name,
            password_hash: self.cx.p.passwords.hash(password).await,
            created_at: now,
        };
        let set = self
            .cx
            .change(Actor::Account(account.id), now)
            .with(Change::InsertAccount(account.clone()))
            .audit("account.created", account.id, json!({}))
            .into_set()?;
        self.cx
            .commit_checked(set, || self.cx.account_email_free(&account.email))
            .await?;
        Ok(account)
    }

    /// Checks a consumer's e-mail and password. Unknown e-mail and wrong password answer the
    /// same, after the same amount of hashing work.
    pub async fn authenticate(&self, email: &str, password: &str) -> ServiceResult<Account> {
        let Ok(email) = Email::new(email) else {
            return Err(ServiceError::Unauthenticated);
        };
        match self.cx.p.accounts.account_by_email(&email).await? {
            // An empty hash: the account signs in only through single sign-on.
            Some(a)
                if !a.password_hash.is_empty()
                    && self.cx.p.passwords.verify(password, &a.password_hash).await =>
            {
                Ok(a)
            }
            Some(_) => Err(ServiceError::Unauthenticated),
            None => {
                let _ = self.cx.p.passwords.hash(password).await;
                Err(ServiceError::Unauthenticated)
            }
        }
    }

    /// Checks a staff member's e-mail and password (a separate directory from accounts).
    pub async fn authenticate_staff(&self, email: &str, password: &str) -> ServiceResult<Staff> {
        let Ok(email) = Email::new(email) else {
            return Err(ServiceError::Unauthenticated);
        };
        if !self.cx.staff_passwords.allows(&email) {
            return Err(ServiceError::Refused {
                code: RefusalCode::PasswordSignInOff,
                message: "staff sign in through single sign-on; passwords are turned off".into(),
            });
        }
        match self.cx.p.accounts.staff_by_email(&email).await? {
            Some(s)
                if !s.password_hash.is_empty()
                    && self.cx.p.passwords.verify(password, &s.password_hash).await =>
            {
                Ok(s)
            }
            Some(_) => Err(ServiceError::Unauthenticated),
            None => {
                let _ = self.cx.p.passwords.hash(password).await;
                Err(ServiceError::Unauthenticated)
            }
        }
    }

    /// Adds a staff member. With no staff yet, `caller` may be `None` (the first admin, created
    /// by the operator's command); afterwards only admins may add staff.
    pub async fn create_staff(
        &self,
        caller: Option<Caller>,
        email: &str,
        name: &str,
        role: StaffRole,
        password: &str,
    ) -> ServiceResult<Staff> {
        let actor = match caller {
            Some(c) => Actor::Staff(self.cx.require_staff(c, StaffAction::ManageStaff)?),
            None if self.cx.p.accounts.staff_count().await? == 0 => Actor::System,
            None => {
                return Err(ServiceError::Forbidden {
                    action: Attempt::CreateStaff,
                });
            }
        };
        let email = Email::new(email)?;
        let name = Label::for_field("name", name)?;
        check_password(password)?;
        self.cx.staff_email_free(&email).await?;
        let now = self.cx.now();
        let staff = Staff {
            id: StaffId::from_ulid(self.cx.ulid()),
            email,
            name,
            role,
            password_hash: self.cx.p.passwords.hash(password).await,
            created_at: now,
        };
        let set = self
            .cx
            .change(actor, now)
            .with(Change::InsertStaff(staff.clone()))
            .audit("staff.created", staff.id, json!({ "role": role.as_str() }))
            .into_set()?;
        self.cx
            .commit_checked(set, || self.cx.staff_email_free(&staff.email))
            .await?;
        Ok(staff)
    }

    /// The signed-in account; `Unauthenticated` if it no longer exists.
    pub async fn account(&self, id: AccountId) -> ServiceResult<Account> {
        self.cx
            .p
            .accounts
            .account(id)
            .await?
            .ok_or(ServiceError::Unauthenticated)
    }

    /// The signed-in staff member; `Unauthenticated` if they no longer exist.
    pub async fn staff_member(&self, id: StaffId) -> ServiceResult<Staff> {
        self.cx
            .p
            .accounts
            .staff(id)
            .await?
            .ok_or(ServiceError::Unauthenticated)
    }

    /// The account's access state, with which organization and who must act while it waits.
    pub async fn access_state(&self, account: &Account) -> ServiceResult<AccessState> {
        let now = self.cx.now();
        let memberships = self.cx.p.workspaces.memberships_of(account.id).await?;
        let mut pending = Vec::new();
        for inv in self.cx.p.workspaces.invitations_for(&account.email).await? {
            if inv.status == InvitationStatus::Pending
                && inv.usable(now).is_ok()
                && let Some(ws) = self.cx.p.workspaces.workspace(inv.workspace_id).await?
            {
                pending.push(PendingAttachment {
                    workspace_id: ws.id,
                    organization: ws.name.to_string(),
                    via: AttachmentVia::Invitation {
                        invitation_id: inv.id,
                        who_must_act: "you: accept the invitation".into(),
                    },
                });
            }
        }
        for jr in self.cx.p.workspaces.join_requests_of(account.id).await? {
            if jr.status == JoinRequestStatus::Pending
                && let Some(ws) = self.cx.p.workspaces.workspace(jr.workspace_id).await?
            {
                pending.push(PendingAttachment {
                    workspace_id: ws.id,
                    organization: ws.name.to_string(),
                    via: AttachmentVia::JoinRequest {
                        join_request_id: jr.id,
                        who_must_act: format!("an owner of {}", ws.name),
                    },
                });
            }
        }
        Ok(access_state(&memberships, pending))
    }

    /// The access page: state and the exact next step.
    pub async fn me(&self, caller: Caller) -> ServiceResult<AccountOverview> {
        let Caller::Account(id) = caller else {
            return Err(ServiceError::Unauthenticated);
        };
        let account = self.account(id).await?;
        let access = self.access_state(&account).await?;
        let next_step = self.cx.account_next_step(&account, &access).await?;
        Ok(AccountOverview {
            account: (&account).into(),
            access,
            next_step,
        })
    }
}

impl Context {
    /// One account per e-mail address.
    pub(super) async fn account_email_free(&self, email: &Email) -> ServiceResult<()> {
        if self.p.accounts.account_by_email(email).await?.is_some() {
            return Err(ServiceError::Conflict {
                message: "an account with this e-mail already exists".into(),
                current: None,
            });
        }
        Ok(())
    }

    /// One staff member per e-mail address.
    pub(super) async fn staff_email_free(&self, email: &Email) -> ServiceResult<()> {
        if self.p.accounts.staff_by_email(email).await?.is_some() {
            return Err(ServiceError::Conflict {
                message: "a staff member with this e-mail already exists".into(),
                current: None,
            });
        }
        Ok(())
    }
}
