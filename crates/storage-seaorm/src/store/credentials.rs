//! Credentials, their secret lookup rows and access tokens.

use async_trait::async_trait;
use onboarding_core::credential::{Credential, SecretHash, SecretMatch};
use onboarding_core::ids::*;
use onboarding_core::ports::*;
use sea_orm::{
    ColumnTrait, DatabaseTransaction, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder,
};

use super::{TxErr, all, all_set, one, store_err, tx_err};
use crate::SeaOrmStore;
use crate::entities::*;
use crate::map;

fn secret_rows(c: &Credential) -> Vec<credential_secret::Model> {
    let id = c.id.to_string();
    let mut rows = vec![credential_secret::Model {
        hash: c.secret.hash.as_str().to_owned(),
        credential_id: id.clone(),
        kind: "current".into(),
        expires_at: None,
    }];
    if let Some(p) = &c.previous {
        rows.push(credential_secret::Model {
            hash: p.hash.as_str().to_owned(),
            credential_id: id,
            kind: "previous".into(),
            expires_at: Some(p.expires_at),
        });
    }
    rows
}

async fn insert_secrets(c: &DatabaseTransaction, cred: &Credential) -> Result<(), TxErr> {
    for row in secret_rows(cred) {
        insert!(c, credential_secret, row, "credential secret");
    }
    Ok(())
}

/// Applies a change to the credentials inside the committing transaction.
pub(super) async fn apply(c: &DatabaseTransaction, change: &Change) -> Result<(), TxErr> {
    match change {
        Change::InsertCredential(cred) => {
            insert!(c, credential, map::credential_model(cred), "credential");
            insert_secrets(c, cred).await?;
        }
        Change::UpdateCredential {
            value,
            expected_version,
        } => {
            versioned!(
                c,
                credential,
                map::credential_model(value),
                *expected_version,
                "credential"
            );
            // The lookup rows follow the credential: a regenerate replaces the current
            // secret, a rotation adds the retiring one, a revoke drops it.
            credential_secret::Entity::delete_many()
                .filter(credential_secret::Column::CredentialId.eq(value.id.to_string()))
                .filter(credential_secret::Column::Kind.is_in(["current", "previous"]))
                .exec(c)
                .await?;
            insert_secrets(c, value).await?;
        }
        Change::InsertAccessToken(t) => {
            let row = credential_secret::Model {
                hash: t.hash.as_str().to_owned(),
                credential_id: t.credential_id.to_string(),
                kind: "access_token".into(),
                expires_at: Some(t.expires_at),
            };
            insert!(c, credential_secret, row, "access token");
        }
        Change::EndAccessTokens(id) => {
            credential_secret::Entity::delete_many()
                .filter(credential_secret::Column::CredentialId.eq(id.to_string()))
                .filter(credential_secret::Column::Kind.eq("access_token"))
                .exec(c)
                .await?;
        }
        other => unreachable!("not a credentials change: {other:?}"),
    }
    Ok(())
}

#[async_trait]
impl CredentialStore for SeaOrmStore {
    async fn credential(&self, id: CredentialId) -> StoreResult<Option<Credential>> {
        let r = credential::Entity::find_by_id(id.to_string())
            .one(&self.db)
            .await;
        one(r, "read credential", map::credential)
    }
    async fn credentials_of_project(&self, project: ProjectId) -> StoreResult<Vec<Credential>> {
        let r = credential::Entity::find()
            .filter(credential::Column::ProjectId.eq(project.to_string()))
            .order_by_asc(credential::Column::Id)
            .all(&self.db)
            .await;
        all(r, "read credentials", map::credential)
    }
    async fn credentials_of_subscription(
        &self,
        subscription: SubscriptionId,
    ) -> StoreResult<Vec<Credential>> {
        let r = credential::Entity::find()
            .filter(credential::Column::SubscriptionId.eq(subscription.to_string()))
            .order_by_asc(credential::Column::Id)
            .all(&self.db)
            .await;
        all(r, "read credentials", map::credential)
    }
    async fn find_by_secret_hash(
        &self,
        hash: &SecretHash,
    ) -> StoreResult<Option<(Credential, SecretMatch)>> {
        let Some(row) = credential_secret::Entity::find_by_id(hash.as_str().to_owned())
            .one(&self.db)
            .await
            .map_err(store_err("find secret"))?
        else {
            return Ok(None);
        };
        let Some(cred) = self.credential(map::de(&row.credential_id)?).await? else {
            return Ok(None);
        };
        let expiry = || {
            row.expires_at.ok_or_else(|| {
                tracing::error!("secret row without expiry");
                StoreError::Unavailable("unreadable credential secret row".into())
            })
        };
        let m = match row.kind.as_str() {
            "current" => SecretMatch::Current,
            "previous" => SecretMatch::Previous {
                expires_at: expiry()?,
            },
            "access_token" => SecretMatch::AccessToken {
                expires_at: expiry()?,
            },
            other => {
                tracing::error!(kind = other, "unknown credential secret kind");
                return Err(StoreError::Unavailable(
                    "unreadable credential secret row".into(),
                ));
            }
        };
        Ok(Some((cred, m)))
    }
    async fn find_by_client_id(&self, client_id: &str) -> StoreResult<Option<Credential>> {
        let r = credential::Entity::find()
            .filter(credential::Column::Kind.eq("oauth_client"))
            .filter(credential::Column::ClientId.eq(client_id))
            .order_by_asc(credential::Column::Id)
            .one(&self.db)
            .await;
        one(r, "read credential", map::credential)
    }
}
