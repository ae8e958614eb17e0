//! Roles and the permission table (spec §1). Permissions are a pure function of a member's
//! *set* of roles; this file is the one place that says who may do what.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::values::FieldError;

/// A consumer-side role inside one workspace.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    strum::VariantArray,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Everything in the workspace: invite and remove members, assign roles.
    Owner,
    /// Create projects, sandbox credentials and webhook endpoints; read usage.
    Developer,
    /// What a developer may, plus submit for review and create production credentials.
    TechnicalLead,
    /// Revoke or rotate any credential, manage access controls, read the audit log.
    SecurityOwner,
    /// Billing ownership, payment, invoices, usage and spend, spend alert thresholds.
    Billing,
    /// Audit log, exports and reports, consent declarations.
    Compliance,
}

impl Role {
    /// Every role, in the order of the permission table.
    pub const ALL: &'static [Role] = <Role as strum::VariantArray>::VARIANTS;

    /// The snake_case name used in the API and storage (`technical_lead`).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Developer => "developer",
            Role::TechnicalLead => "technical_lead",
            Role::SecurityOwner => "security_owner",
            Role::Billing => "billing",
            Role::Compliance => "compliance",
        }
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = FieldError;
    fn from_str(s: &str) -> Result<Self, FieldError> {
        Role::ALL.iter().copied().find(|r| r.as_str() == s).ok_or_else(|| {
            FieldError::new(
                "roles",
                format!(
                    "unknown role `{}`; expected one of owner, developer, technical_lead, security_owner, billing, compliance",
                    crate::values::truncate(s, 40)
                ),
            )
        })
    }
}

/// The set of roles one membership carries. Never empty once validated by
/// [`RoleSet::parse`]; an empty set is only used while building one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct RoleSet(u8);

impl RoleSet {
    /// A set with no role (only while building one: a membership never has an empty set).
    pub fn empty() -> Self {
        Self(0)
    }

    /// The set of exactly these roles (duplicates are harmless).
    pub fn of(roles: &[Role]) -> Self {
        Self(roles.iter().fold(0, |acc, r| acc | r.bit()))
    }

    /// Parses role names as they arrive from a request; refuses unknown names and an empty list.
    pub fn parse<S: AsRef<str>>(names: &[S]) -> Result<Self, FieldError> {
        let mut set = Self::empty();
        for n in names {
            set = set.with(n.as_ref().parse()?);
        }
        if set.is_empty() {
            return Err(FieldError::new("roles", "at least one role is required"));
        }
        Ok(set)
    }

    /// This set plus `role`.
    pub fn with(self, role: Role) -> Self {
        Self(self.0 | role.bit())
    }

    /// Whether the set holds `role`.
    pub fn contains(self, role: Role) -> bool {
        self.0 & role.bit() != 0
    }

    /// Whether the set holds no role.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// True when this one set holds every role.
    pub fn holds_every_role(self) -> bool {
        Role::ALL.iter().all(|r| self.contains(*r))
    }

    /// The roles of the set, in [`Role::ALL`] order.
    pub fn iter(self) -> impl Iterator<Item = Role> {
        Role::ALL.iter().copied().filter(move |r| self.contains(*r))
    }

    /// The snake_case names of the roles, in [`Role::ALL`] order.
    pub fn names(self) -> Vec<&'static str> {
        self.iter().map(Role::as_str).collect()
    }
}

impl Serialize for RoleSet {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

impl<'de> Deserialize<'de> for RoleSet {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let names = Vec::<String>::deserialize(d)?;
        RoleSet::parse(&names).map_err(serde::de::Error::custom)
    }
}

/// Everything a workspace member may ask to do. Each variant is one row of the permission table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, strum::VariantArray)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Read the workspace, its lanes, projects, subscriptions and test data.
    ViewWorkspace,
    /// Invite and remove members, assign roles, decide join requests.
    ManageMembers,
    /// Name the billing owner, audit contact and security owner.
    NameResponsibles,
    /// Create a sandbox project.
    CreateProject,
    /// Subscribe a sandbox project to a plan (requesting sandbox access).
    Subscribe,
    /// Create a sandbox credential.
    CreateSandboxCredential,
    /// Regenerate, rotate or revoke a sandbox credential.
    ManageSandboxCredential,
    /// Register, verify, test and remove webhook endpoints.
    ManageWebhooks,
    /// Read a project's usage view.
    ReadUsage,
    /// Submit a subscription for review, or withdraw it.
    SubmitForReview,
    /// Clone a sandbox project's shape into production.
    CloneToProduction,
    /// Create a production credential (once the production lock is lifted).
    CreateProductionCredential,
    /// Regenerate, rotate or revoke a production credential.
    ManageProductionCredential,
    /// Manage internal access controls.
    ManageAccessControls,
    /// Read the workspace's audit log.
    ReadAuditLog,
    /// Export the audit log (CSV or JSON lines).
    ExportAuditLog,
    /// Export a project's usage.
    ExportUsage,
    /// Billing ownership and payment, spend alert thresholds.
    ManageBilling,
    /// Read invoices.
    ReadInvoices,
    /// Alert thresholds on requests and error rate.
    SetOperationalAlerts,
    /// Alert thresholds on spend.
    SetSpendAlerts,
    /// Tick the "first live audit entries reviewed" item of the operating pass.
    ReviewLiveAudit,
}

impl Action {
    /// Every workspace action.
    pub const ALL: &'static [Action] = <Action as strum::VariantArray>::VARIANTS;

    /// The action in words, for messages ("submit for review").
    pub fn describe(self) -> &'static str {
        match self {
            Action::ViewWorkspace => "view this workspace",
            Action::ManageMembers => "manage the workspace's members",
            Action::NameResponsibles => "name the billing owner, audit contact or security owner",
            Action::CreateProject => "create a project",
            Action::Subscribe => "subscribe to a plan",
            Action::CreateSandboxCredential => "create a sandbox credential",
            Action::ManageSandboxCredential => "regenerate, rotate or revoke a sandbox credential",
            Action::ManageWebhooks => "manage webhook endpoints",
            Action::ReadUsage => "read usage",
            Action::SubmitForReview => "submit for review",
            Action::CloneToProduction => "clone a project to production",
            Action::CreateProductionCredential => "create a production credential",
            Action::ManageProductionCredential => {
                "regenerate, rotate or revoke a production credential"
            }
            Action::ManageAccessControls => "manage access controls",
            Action::ReadAuditLog => "read the audit log",
            Action::ExportAuditLog => "export the audit log",
            Action::ExportUsage => "export usage",
            Action::ManageBilling => "manage billing",
            Action::ReadInvoices => "read invoices",
            Action::SetOperationalAlerts => "set request and error alerts",
            Action::SetSpendAlerts => "set spend alerts",
            Action::ReviewLiveAudit => "confirm the live audit review",
        }
    }

    /// The roles that grant this action (besides `owner`, who may do everything).
    pub fn granted_to(self) -> &'static [Role] {
        use Role::*;
        match self {
            Action::ViewWorkspace => {
                &[Developer, TechnicalLead, SecurityOwner, Billing, Compliance]
            }
            Action::ManageMembers | Action::NameResponsibles => &[],
            Action::CreateProject
            | Action::Subscribe
            | Action::CreateSandboxCredential
            | Action::ManageWebhooks
            | Action::SetOperationalAlerts => &[Developer, TechnicalLead],
            Action::ManageSandboxCredential => &[Developer, TechnicalLead, SecurityOwner],
            Action::ReadUsage => &[Developer, TechnicalLead, Billing],
            Action::SubmitForReview
            | Action::CloneToProduction
            | Action::CreateProductionCredential => &[TechnicalLead],
            Action::ManageProductionCredential => &[TechnicalLead, SecurityOwner],
            Action::ManageAccessControls => &[SecurityOwner],
            Action::ReadAuditLog | Action::ExportAuditLog | Action::ReviewLiveAudit => {
                &[SecurityOwner, Compliance]
            }
            Action::ExportUsage => &[Billing, Compliance],
            Action::ManageBilling | Action::ReadInvoices | Action::SetSpendAlerts => &[Billing],
        }
    }
}

/// The permission rule: may a member holding `roles` perform `action`?
pub fn allowed(roles: RoleSet, action: Action) -> bool {
    roles.contains(Role::Owner) || action.granted_to().iter().any(|r| roles.contains(*r))
}

/// A role in the provider's own staff directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StaffRole {
    /// Configures plans, test data, submission forms and pricing; manages staff; may also review.
    Admin,
    /// Works the review queue and signs off manual gates.
    Reviewer,
}

impl StaffRole {
    /// The snake_case name (`admin`, `reviewer`).
    pub fn as_str(self) -> &'static str {
        match self {
            StaffRole::Admin => "admin",
            StaffRole::Reviewer => "reviewer",
        }
    }
}

impl FromStr for StaffRole {
    type Err = FieldError;
    fn from_str(s: &str) -> Result<Self, FieldError> {
        match s {
            "admin" => Ok(StaffRole::Admin),
            "reviewer" => Ok(StaffRole::Reviewer),
            _ => Err(FieldError::new(
                "role",
                "unknown staff role; expected admin or reviewer",
            )),
        }
    }
}

/// What provider staff may ask to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, strum::VariantArray)]
pub enum StaffAction {
    /// Approve, reject, request changes; grant or decline sandbox access.
    Review,
    /// Sign off a manual gate.
    SignOffGate,
    /// Read the go-live queue and any workspace's subscriptions.
    ReadQueue,
    /// Create and change API products and plans (test data, forms, pricing, gates).
    ConfigurePlans,
    /// Add staff members.
    ManageStaff,
    /// Reopen a rejected subscription to sandbox.
    Reopen,
    /// Confirm a payment received for a paid plan (the bundled payment adapter).
    ConfirmPayment,
}

impl StaffAction {
    /// The action in words, for messages ("review submissions").
    pub fn describe(self) -> &'static str {
        match self {
            StaffAction::Review => "review submissions",
            StaffAction::SignOffGate => "sign off a gate",
            StaffAction::ReadQueue => "read the go-live queue",
            StaffAction::ConfigurePlans => "configure products and plans",
            StaffAction::ManageStaff => "manage staff",
            StaffAction::Reopen => "reopen a rejected subscription",
            StaffAction::ConfirmPayment => "confirm a payment",
        }
    }

    /// Every staff action.
    pub const ALL: &'static [StaffAction] = <StaffAction as strum::VariantArray>::VARIANTS;
}

/// Admins may do what a reviewer does, and configure the portal.
pub fn staff_allowed(role: StaffRole, action: StaffAction) -> bool {
    match role {
        StaffRole::Admin => true,
        StaffRole::Reviewer => matches!(
            action,
            StaffAction::Review | StaffAction::SignOffGate | StaffAction::ReadQueue
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The permission table as the spec writes it, restated independently of `granted_to` so a
    /// change to either side shows up here.
    fn expected(role: Role, action: Action) -> bool {
        use Action::*;
        match role {
            Role::Owner => true,
            Role::Developer => matches!(
                action,
                ViewWorkspace
                    | CreateProject
                    | Subscribe
                    | CreateSandboxCredential
                    | ManageSandboxCredential
                    | ManageWebhooks
                    | ReadUsage
                    | SetOperationalAlerts
            ),
            Role::TechnicalLead => {
                expected(Role::Developer, action)
                    || matches!(
                        action,
                        SubmitForReview
                            | CloneToProduction
                            | CreateProductionCredential
                            | ManageProductionCredential
                    )
            }
            Role::SecurityOwner => matches!(
                action,
                ViewWorkspace
                    | ManageSandboxCredential
                    | ManageProductionCredential
                    | ManageAccessControls
                    | ReadAuditLog
                    | ExportAuditLog
                    | ReviewLiveAudit
            ),
            Role::Billing => {
                matches!(
                    action,
                    ViewWorkspace
                        | ManageBilling
                        | ReadInvoices
                        | ReadUsage
                        | SetSpendAlerts
                        | ExportUsage
                )
            }
            Role::Compliance => {
                matches!(
                    action,
                    ViewWorkspace | ReadAuditLog | ExportAuditLog | ExportUsage | ReviewLiveAudit
                )
            }
        }
    }

    #[test]
    fn every_role_set_and_action_pair_follows_the_table() {
        // All 63 non-empty role sets times every action: a set may do what any of its roles may.
        for bits in 1u8..64 {
            let set = RoleSet(bits);
            for action in Action::ALL.iter().copied() {
                let want = set.iter().any(|r| expected(r, action));
                assert_eq!(allowed(set, action), want, "{:?} {:?}", set.names(), action);
            }
        }
    }

    #[test]
    fn the_empty_set_may_do_nothing() {
        for action in Action::ALL.iter().copied() {
            assert!(!allowed(RoleSet::empty(), action));
        }
    }

    #[test]
    fn staff_table() {
        for action in StaffAction::ALL.iter().copied() {
            assert!(staff_allowed(StaffRole::Admin, action));
            let reviewer = matches!(
                action,
                StaffAction::Review | StaffAction::SignOffGate | StaffAction::ReadQueue
            );
            assert_eq!(
                staff_allowed(StaffRole::Reviewer, action),
                reviewer,
                "{action:?}"
            );
        }
    }

    #[test]
    fn role_names_parse_and_unknown_ones_are_refused() {
        let set = RoleSet::parse(&["developer", "billing"]).unwrap();
        assert_eq!(set.names(), vec!["developer", "billing"]);
        assert_eq!(RoleSet::parse(&["janitor"]).unwrap_err().field, "roles");
        assert!(RoleSet::parse::<&str>(&[]).is_err());
        assert!(RoleSet::of(Role::ALL).holds_every_role());
        assert!(!RoleSet::of(&[Role::Owner]).holds_every_role());
    }
}

/// What a caller was refused, for the `Forbidden` answer: a permission-table action, a staff
/// action, or one of the few rules about who acts where.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Attempt {
    /// A workspace action the member's roles do not grant.
    Member(Action),
    /// A staff action the caller (a consumer account, or a staff role without it) may not take.
    Staff(StaffAction),
    /// Provider staff acting inside a workspace as if they were a member.
    ActInWorkspaceAsStaff,
    /// Provider staff creating a workspace.
    CreateWorkspaceAsStaff,
    /// Withdrawing a submission another member made.
    WithdrawOthersSubmission,
    /// Creating a staff member without being an admin (after the first one exists).
    CreateStaff,
}

impl Attempt {
    /// The attempt in words, completing "your roles do not allow you to …".
    pub fn describe(self) -> &'static str {
        match self {
            Attempt::Member(a) => a.describe(),
            Attempt::Staff(a) => a.describe(),
            Attempt::ActInWorkspaceAsStaff => "act inside a workspace as provider staff",
            Attempt::CreateWorkspaceAsStaff => "create a workspace as provider staff",
            Attempt::WithdrawOthersSubmission => "withdraw another member's submission",
            Attempt::CreateStaff => "create staff",
        }
    }
}

impl fmt::Display for Attempt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.describe())
    }
}
