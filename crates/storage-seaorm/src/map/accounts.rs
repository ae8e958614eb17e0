//! Rows of accounts, staff, workspaces, memberships, invitations and join requests.

use onboarding_core::workspace::{Account, Invitation, JoinRequest, Membership, Staff, Workspace};

use super::{R, de, de_opt, from_js, js, opt_id, s};
use crate::entities::*;

pub fn account_model(a: &Account) -> account::Model {
    account::Model {
        id: a.id.to_string(),
        email: a.email.to_string(),
        name: a.name.to_string(),
        password_hash: a.password_hash.clone(),
        created_at: a.created_at,
    }
}

pub fn account(m: account::Model) -> R<Account> {
    Ok(Account {
        id: de(&m.id)?,
        email: de(&m.email)?,
        name: de(&m.name)?,
        password_hash: m.password_hash,
        created_at: m.created_at,
    })
}

pub fn staff_model(a: &Staff) -> staff::Model {
    staff::Model {
        id: a.id.to_string(),
        email: a.email.to_string(),
        name: a.name.to_string(),
        role: s(&a.role),
        password_hash: a.password_hash.clone(),
        created_at: a.created_at,
    }
}

pub fn staff(m: staff::Model) -> R<Staff> {
    Ok(Staff {
        id: de(&m.id)?,
        email: de(&m.email)?,
        name: de(&m.name)?,
        role: de(&m.role)?,
        password_hash: m.password_hash,
        created_at: m.created_at,
    })
}

pub fn workspace_model(w: &Workspace) -> workspace::Model {
    workspace::Model {
        id: w.id.to_string(),
        name: w.name.to_string(),
        billing_owner: opt_id(&w.billing_owner),
        audit_contact: opt_id(&w.audit_contact),
        security_owner: opt_id(&w.security_owner),
        created_at: w.created_at,
        created_by: w.created_by.to_string(),
        version: w.version,
    }
}

pub fn workspace(m: workspace::Model) -> R<Workspace> {
    Ok(Workspace {
        id: de(&m.id)?,
        name: de(&m.name)?,
        billing_owner: de_opt(&m.billing_owner)?,
        audit_contact: de_opt(&m.audit_contact)?,
        security_owner: de_opt(&m.security_owner)?,
        created_at: m.created_at,
        created_by: de(&m.created_by)?,
        version: m.version,
    })
}

pub fn membership_model(x: &Membership) -> membership::Model {
    membership::Model {
        workspace_id: x.workspace_id.to_string(),
        account_id: x.account_id.to_string(),
        roles: js(&x.roles),
        joined_at: x.joined_at,
    }
}

pub fn membership(m: membership::Model) -> R<Membership> {
    Ok(Membership {
        workspace_id: de(&m.workspace_id)?,
        account_id: de(&m.account_id)?,
        roles: from_js(&m.roles)?,
        joined_at: m.joined_at,
    })
}

pub fn invitation_model(i: &Invitation) -> invitation::Model {
    invitation::Model {
        id: i.id.to_string(),
        workspace_id: i.workspace_id.to_string(),
        email: i.email.to_string(),
        roles: js(&i.roles),
        invited_by: i.invited_by.to_string(),
        created_at: i.created_at,
        expires_at: i.expires_at,
        status: s(&i.status),
        version: i.version,
    }
}

pub fn invitation(m: invitation::Model) -> R<Invitation> {
    Ok(Invitation {
        id: de(&m.id)?,
        workspace_id: de(&m.workspace_id)?,
        email: de(&m.email)?,
        roles: from_js(&m.roles)?,
        invited_by: de(&m.invited_by)?,
        created_at: m.created_at,
        expires_at: m.expires_at,
        status: de(&m.status)?,
        version: m.version,
    })
}

pub fn join_request_model(j: &JoinRequest) -> join_request::Model {
    join_request::Model {
        id: j.id.to_string(),
        workspace_id: j.workspace_id.to_string(),
        account_id: j.account_id.to_string(),
        message: j.message.clone(),
        created_at: j.created_at,
        status: s(&j.status),
        decided_by: opt_id(&j.decided_by),
        decided_at: j.decided_at,
        version: j.version,
    }
}

pub fn join_request(m: join_request::Model) -> R<JoinRequest> {
    Ok(JoinRequest {
        id: de(&m.id)?,
        workspace_id: de(&m.workspace_id)?,
        account_id: de(&m.account_id)?,
        message: m.message,
        created_at: m.created_at,
        status: de(&m.status)?,
        decided_by: de_opt(&m.decided_by)?,
        decided_at: m.decided_at,
        version: m.version,
    })
}
