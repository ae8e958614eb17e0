//! One head per audit chain (issue 19): the newest event's sequence number, hash and id,
//! written in the same transaction as every append. The events alone cannot show a cut tail
//! (deleting the newest events leaves a chain that verifies link by link); `audit verify`
//! compares the last event with this head. Existing chains start from their last event.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum AuditChainHead {
    Table,
    Chain,
    Seq,
    Hash,
    EventId,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(AuditChainHead::Table)
                .col(
                    ColumnDef::new(AuditChainHead::Chain)
                        .string()
                        .not_null()
                        .primary_key(),
                )
                .col(ColumnDef::new(AuditChainHead::Seq).big_integer().not_null())
                .col(ColumnDef::new(AuditChainHead::Hash).string().not_null())
                .col(ColumnDef::new(AuditChainHead::EventId).string().not_null())
                .to_owned(),
        )
        .await?;
        m.get_connection()
            .execute_unprepared(
                "INSERT INTO audit_chain_head (chain, seq, hash, event_id) \
                 SELECT e.chain, e.seq, e.hash, e.id FROM audit_event e \
                 WHERE e.seq = (SELECT MAX(x.seq) FROM audit_event x WHERE x.chain = e.chain)",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(AuditChainHead::Table).to_owned())
            .await
    }
}
