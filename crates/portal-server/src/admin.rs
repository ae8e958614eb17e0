//! Operator tasks of the command line: the first admin, more admins, the demo seed and
//! audit verification.

use onboarding_core::ports::*;
use onboarding_core::roles::StaffRole;
use onboarding_core::{Caller, Portal};

use crate::adapters::OsSecrets;

/// The e-mail of the first admin created at start-up.
pub const FIRST_ADMIN_EMAIL: &str = "admin@portal.local";

/// Creates the first admin when the staff directory is empty; returns (e-mail, password).
pub async fn ensure_first_admin(portal: &Portal) -> Result<Option<(String, String)>, String> {
    let count = portal
        .ports()
        .accounts
        .staff_count()
        .await
        .map_err(|e| e.to_string())?;
    if count > 0 {
        return Ok(None);
    }
    let password = OsSecrets.base62(24);
    portal
        .accounts()
        .create_staff(
            None,
            FIRST_ADMIN_EMAIL,
            "Portal admin",
            StaffRole::Admin,
            &password,
        )
        .await
        .map_err(|e| e.to_string())?;
    Ok(Some((FIRST_ADMIN_EMAIL.to_owned(), password)))
}

/// An operator acting from the command line: the core's staff use cases take a caller, and
/// the CLI has no session. Its id is the nil ULID, which no staff member can have.
pub fn operator() -> Caller {
    Caller::Staff {
        id: onboarding_core::ids::StaffId::from_ulid(ulid::Ulid::nil()),
        role: StaffRole::Admin,
    }
}

/// `create-admin`: adds an admin with a generated password (returned once, for printing).
pub async fn create_admin(portal: &Portal, email: &str, name: &str) -> Result<String, String> {
    let password = OsSecrets.base62(24);
    let empty = portal
        .ports()
        .accounts
        .staff_count()
        .await
        .map_err(|e| e.to_string())?
        == 0;
    let caller = (!empty).then(operator);
    portal
        .accounts()
        .create_staff(caller, email, name, StaffRole::Admin, &password)
        .await
        .map_err(|e| e.to_string())?;
    Ok(password)
}

/// What `demo` created.
#[derive(Debug, Default)]
pub struct DemoReport {
    pub product_created: bool,
    pub plans_created: usize,
    /// (e-mail, password) of the demo developer, when created now.
    pub developer: Option<(String, String)>,
}

pub const DEMO_DEVELOPER: &str = "dev@demo.example";

/// `demo`: the demo product and plans, a demo developer and workspace. Idempotent: what
/// exists (by name or e-mail) is left alone.
pub async fn seed_demo(portal: &Portal) -> Result<DemoReport, String> {
    let err = |e: onboarding_core::ServiceError| e.to_string();
    let mut report = DemoReport::default();
    let (product, plans) = onboarding_core::demo::demo_catalog();
    let op = operator();
    let existing = portal.catalog().products().await.map_err(err)?;
    let product_id = match existing.iter().find(|p| p.name.as_str() == product.name) {
        Some(p) => p.id,
        None => {
            report.product_created = true;
            portal
                .catalog()
                .create_product(op, &product.name, &product.description)
                .await
                .map_err(err)?
                .id
        }
    };
    let have = portal.catalog().plans().await.map_err(err)?;
    for plan in plans {
        if have
            .iter()
            .any(|p| p.product_id == product_id && p.name.as_str() == plan.name)
        {
            continue;
        }
        portal
            .catalog()
            .create_plan(op, product_id, plan)
            .await
            .map_err(err)?;
        report.plans_created += 1;
    }
    let email = onboarding_core::values::Email::new(DEMO_DEVELOPER).map_err(|e| e.to_string())?;
    if portal
        .ports()
        .accounts
        .account_by_email(&email)
        .await
        .map_err(|e| e.to_string())?
        .is_none()
    {
        let password = OsSecrets.base62(20);
        let account = portal
            .accounts()
            .sign_up(DEMO_DEVELOPER, "Demo Developer", &password)
            .await
            .map_err(err)?;
        portal
            .workspaces()
            .create_workspace(Caller::Account(account.id), "Demo Organization")
            .await
            .map_err(err)?;
        report.developer = Some((DEMO_DEVELOPER.into(), password));
    }
    Ok(report)
}

/// `audit verify`: every chain; `Err` names the first bad event.
pub async fn verify_audit(portal: &Portal) -> Result<Vec<String>, String> {
    let mut lines = Vec::new();
    for (chain, result) in portal
        .audit()
        .verify_all_audit_chains()
        .await
        .map_err(|e| e.to_string())?
    {
        let name = chain.map_or("provider".to_owned(), |w| w.to_string());
        match result {
            Ok(n) => lines.push(format!("{name}: ok ({n} events)")),
            Err(b) => {
                return Err(format!(
                    "{name}: chain broken at seq {} (event {}): {:?}",
                    b.seq, b.event_id, b.problem
                ));
            }
        }
    }
    Ok(lines)
}
