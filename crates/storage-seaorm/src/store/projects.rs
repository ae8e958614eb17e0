//! Projects.

use async_trait::async_trait;
use onboarding_core::ids::*;
use onboarding_core::ports::*;
use onboarding_core::project::Project;
use sea_orm::{
    ColumnTrait, DatabaseTransaction, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder,
};

use super::{TxErr, all, all_set, one, tx_err};
use crate::SeaOrmStore;
use crate::entities::*;
use crate::map;

/// Applies a change to the projects inside the committing transaction.
pub(super) async fn apply(c: &DatabaseTransaction, change: &Change) -> Result<(), TxErr> {
    match change {
        Change::InsertProject(p) => {
            insert!(c, project, map::project_model(p), "project");
        }
        Change::UpdateProject {
            value,
            expected_version,
        } => versioned!(
            c,
            project,
            map::project_model(value),
            *expected_version,
            "project"
        ),
        other => unreachable!("not a projects change: {other:?}"),
    }
    Ok(())
}

#[async_trait]
impl ProjectStore for SeaOrmStore {
    async fn project(&self, id: ProjectId) -> StoreResult<Option<Project>> {
        let r = project::Entity::find_by_id(id.to_string())
            .one(&self.db)
            .await;
        one(r, "read project", map::project)
    }
    async fn projects(&self, ws: WorkspaceId) -> StoreResult<Vec<Project>> {
        let r = project::Entity::find()
            .filter(project::Column::WorkspaceId.eq(ws.to_string()))
            .order_by_asc(project::Column::Id)
            .all(&self.db)
            .await;
        all(r, "read projects", map::project)
    }
}
