//! Accounts and staff, and the API's sessions and tokens.

use async_trait::async_trait;
use onboarding_core::credential::SecretHash;
use onboarding_core::ids::*;
use onboarding_core::ports::*;
use onboarding_core::values::Email;
use onboarding_core::workspace::{Account, Staff};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ColumnTrait, DatabaseTransaction, EntityTrait, IntoActiveModel, PaginatorTrait, QueryFilter,
    QueryOrder,
};

use super::{TxErr, all, all_set, one, store_err, tx_err};
use crate::SeaOrmStore;
use crate::entities::*;
use crate::map;

/// Applies a change to the accounts inside the committing transaction.
pub(super) async fn apply(c: &DatabaseTransaction, change: &Change) -> Result<(), TxErr> {
    match change {
        Change::InsertAccount(a) => {
            insert!(c, account, map::account_model(a), "account e-mail");
        }
        Change::InsertStaff(a) => {
            insert!(c, staff, map::staff_model(a), "staff e-mail");
        }
        other => unreachable!("not a accounts change: {other:?}"),
    }
    Ok(())
}

#[async_trait]
impl AccountStore for SeaOrmStore {
    async fn account(&self, id: AccountId) -> StoreResult<Option<Account>> {
        let r = account::Entity::find_by_id(id.to_string())
            .one(&self.db)
            .await;
        one(r, "read account", map::account)
    }
    async fn account_by_email(&self, email: &Email) -> StoreResult<Option<Account>> {
        let r = account::Entity::find()
            .filter(account::Column::Email.eq(email.as_str()))
            .one(&self.db)
            .await;
        one(r, "read account", map::account)
    }
    async fn staff(&self, id: StaffId) -> StoreResult<Option<Staff>> {
        let r = staff::Entity::find_by_id(id.to_string())
            .one(&self.db)
            .await;
        one(r, "read staff", map::staff)
    }
    async fn staff_by_email(&self, email: &Email) -> StoreResult<Option<Staff>> {
        let r = staff::Entity::find()
            .filter(staff::Column::Email.eq(email.as_str()))
            .one(&self.db)
            .await;
        one(r, "read staff", map::staff)
    }
    async fn staff_count(&self) -> StoreResult<u64> {
        staff::Entity::find()
            .count(&self.db)
            .await
            .map_err(store_err("count staff"))
    }
}

#[async_trait]
impl AuthTokenStore for SeaOrmStore {
    async fn insert_token(&self, token: AuthToken) -> StoreResult<()> {
        use auth_token::Column as C;
        auth_token::Entity::insert(all_set(map::auth_token_model(&token).into_active_model()))
            .on_conflict(
                OnConflict::column(C::TokenHash)
                    .update_columns([
                        C::PrincipalKind,
                        C::PrincipalId,
                        C::Kind,
                        C::Name,
                        C::CsrfToken,
                        C::CreatedAt,
                        C::ExpiresAt,
                    ])
                    .to_owned(),
            )
            .exec_without_returning(&self.db)
            .await
            .map_err(store_err("insert token"))?;
        Ok(())
    }
    async fn find_token(&self, hash: &SecretHash) -> StoreResult<Option<AuthToken>> {
        let r = auth_token::Entity::find_by_id(hash.as_str().to_owned())
            .one(&self.db)
            .await;
        one(r, "read token", map::auth_token)
    }
    async fn delete_token(&self, hash: &SecretHash) -> StoreResult<()> {
        auth_token::Entity::delete_by_id(hash.as_str().to_owned())
            .exec(&self.db)
            .await
            .map_err(store_err("delete token"))?;
        Ok(())
    }
    async fn tokens_of(&self, principal: Principal) -> StoreResult<Vec<AuthToken>> {
        let (kind, id) = map::principal_parts(principal);
        let r = auth_token::Entity::find()
            .filter(auth_token::Column::PrincipalKind.eq(kind))
            .filter(auth_token::Column::PrincipalId.eq(id))
            .order_by_asc(auth_token::Column::CreatedAt)
            .order_by_asc(auth_token::Column::TokenHash)
            .all(&self.db)
            .await;
        all(r, "read tokens", map::auth_token)
    }
}
