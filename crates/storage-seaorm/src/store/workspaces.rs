//! Workspaces, memberships, invitations and join requests.

use async_trait::async_trait;
use onboarding_core::ids::*;
use onboarding_core::ports::*;
use onboarding_core::values::Email;
use onboarding_core::workspace::{
    Invitation, InvitationStatus, JoinRequest, Membership, Workspace,
};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, DbBackend, EntityTrait, IntoActiveModel,
    PaginatorTrait, QueryFilter, QueryOrder, Statement,
};

use super::{TxErr, all, all_set, one, tx_err};
use crate::SeaOrmStore;
use crate::entities::*;
use crate::map;

/// At most one usable (pending, unexpired) invitation per address and workspace. Usable
/// depends on the time, which no index can hold, so the rule is checked here, inside the
/// committing transaction: SQLite runs one writer at a time, and on PostgreSQL a lock on the
/// (workspace, address) pair makes a concurrent twin wait for this transaction's outcome.
async fn usable_invitation_absent(c: &DatabaseTransaction, i: &Invitation) -> Result<(), TxErr> {
    let ws = i.workspace_id.to_string();
    let email = i.email.as_str().to_owned();
    if c.get_database_backend() == DbBackend::Postgres {
        c.query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT pg_advisory_xact_lock(hashtext($1))::text",
            [format!("invitation {ws} {email}").into()],
        ))
        .await?;
    }
    let usable = invitation::Entity::find()
        .filter(invitation::Column::WorkspaceId.eq(ws))
        .filter(invitation::Column::Email.eq(email))
        .filter(invitation::Column::Status.eq(map::s(&InvitationStatus::Pending)))
        .filter(invitation::Column::ExpiresAt.gt(i.created_at))
        .count(c)
        .await?;
    if usable > 0 {
        return Err(TxErr::Conflict("pending invitation".into()));
    }
    Ok(())
}

/// Applies a change to the workspaces inside the committing transaction.
pub(super) async fn apply(c: &DatabaseTransaction, change: &Change) -> Result<(), TxErr> {
    match change {
        Change::InsertWorkspace(w) => {
            insert!(c, workspace, map::workspace_model(w), "workspace");
        }
        Change::UpdateWorkspace {
            value,
            expected_version,
        } => versioned!(
            c,
            workspace,
            map::workspace_model(value),
            *expected_version,
            "workspace"
        ),
        Change::PutMembership(m) => {
            membership::Entity::insert(all_set(map::membership_model(m).into_active_model()))
                .on_conflict(
                    OnConflict::columns([
                        membership::Column::WorkspaceId,
                        membership::Column::AccountId,
                    ])
                    .update_columns([membership::Column::Roles, membership::Column::JoinedAt])
                    .to_owned(),
                )
                .exec_without_returning(c)
                .await
                .map_err(tx_err("membership"))?;
        }
        Change::RemoveMembership {
            workspace_id,
            account_id,
        } => {
            membership::Entity::delete_many()
                .filter(membership::Column::WorkspaceId.eq(workspace_id.to_string()))
                .filter(membership::Column::AccountId.eq(account_id.to_string()))
                .exec(c)
                .await?;
        }
        Change::InsertInvitation(i) => {
            usable_invitation_absent(c, i).await?;
            insert!(c, invitation, map::invitation_model(i), "invitation");
        }
        Change::UpdateInvitation {
            value,
            expected_version,
        } => versioned!(
            c,
            invitation,
            map::invitation_model(value),
            *expected_version,
            "invitation"
        ),
        Change::InsertJoinRequest(j) => {
            insert!(c, join_request, map::join_request_model(j), "join request");
        }
        Change::UpdateJoinRequest {
            value,
            expected_version,
        } => versioned!(
            c,
            join_request,
            map::join_request_model(value),
            *expected_version,
            "join request"
        ),
        other => unreachable!("not a workspaces change: {other:?}"),
    }
    Ok(())
}

#[async_trait]
impl WorkspaceStore for SeaOrmStore {
    async fn workspace(&self, id: WorkspaceId) -> StoreResult<Option<Workspace>> {
        let r = workspace::Entity::find_by_id(id.to_string())
            .one(&self.db)
            .await;
        one(r, "read workspace", map::workspace)
    }
    async fn members(&self, ws: WorkspaceId) -> StoreResult<Vec<Membership>> {
        let r = membership::Entity::find()
            .filter(membership::Column::WorkspaceId.eq(ws.to_string()))
            .order_by_asc(membership::Column::AccountId)
            .all(&self.db)
            .await;
        all(r, "read members", map::membership)
    }
    async fn memberships_of(&self, account: AccountId) -> StoreResult<Vec<Membership>> {
        let r = membership::Entity::find()
            .filter(membership::Column::AccountId.eq(account.to_string()))
            .order_by_asc(membership::Column::WorkspaceId)
            .all(&self.db)
            .await;
        all(r, "read memberships", map::membership)
    }
    async fn invitation(&self, id: InvitationId) -> StoreResult<Option<Invitation>> {
        let r = invitation::Entity::find_by_id(id.to_string())
            .one(&self.db)
            .await;
        one(r, "read invitation", map::invitation)
    }
    async fn invitations(&self, ws: WorkspaceId) -> StoreResult<Vec<Invitation>> {
        let r = invitation::Entity::find()
            .filter(invitation::Column::WorkspaceId.eq(ws.to_string()))
            .order_by_asc(invitation::Column::Id)
            .all(&self.db)
            .await;
        all(r, "read invitations", map::invitation)
    }
    async fn invitations_for(&self, email: &Email) -> StoreResult<Vec<Invitation>> {
        let r = invitation::Entity::find()
            .filter(invitation::Column::Email.eq(email.as_str()))
            .filter(invitation::Column::Status.eq(map::s(&InvitationStatus::Pending)))
            .order_by_asc(invitation::Column::Id)
            .all(&self.db)
            .await;
        all(r, "read invitations", map::invitation)
    }
    async fn join_request(&self, id: JoinRequestId) -> StoreResult<Option<JoinRequest>> {
        let r = join_request::Entity::find_by_id(id.to_string())
            .one(&self.db)
            .await;
        one(r, "read join request", map::join_request)
    }
    async fn join_requests(&self, ws: WorkspaceId) -> StoreResult<Vec<JoinRequest>> {
        let r = join_request::Entity::find()
            .filter(join_request::Column::WorkspaceId.eq(ws.to_string()))
            .order_by_asc(join_request::Column::Id)
            .all(&self.db)
            .await;
        all(r, "read join requests", map::join_request)
    }
    async fn join_requests_of(&self, account: AccountId) -> StoreResult<Vec<JoinRequest>> {
        let r = join_request::Entity::find()
            .filter(join_request::Column::AccountId.eq(account.to_string()))
            .order_by_asc(join_request::Column::Id)
            .all(&self.db)
            .await;
        all(r, "read join requests", map::join_request)
    }
}
