//! The vault's key check value (issue 19): one row holding a constant sealed under the vault
//! key, so a server started with another key refuses to start instead of failing every
//! webhook delivery. Written at the first start that finds none.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum VaultCheck {
    Table,
    Id,
    Sealed,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(VaultCheck::Table)
                .col(
                    ColumnDef::new(VaultCheck::Id)
                        .integer()
                        .not_null()
                        .primary_key(),
                )
                .col(ColumnDef::new(VaultCheck::Sealed).text().not_null())
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(VaultCheck::Table).to_owned())
            .await
    }
}
