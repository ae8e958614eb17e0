//! Webhook deliveries (issue 5): the outbox learns which messages were fanned out, and each
//! fan-out becomes one `webhook_delivery` per endpoint, leased by workers and settled attempt by
//! attempt (`webhook_delivery_attempt`). See `docs/webhooks.md`, "Wiring checklist".

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum OutboxMessage {
    Table,
    DispatchedAt,
}

#[derive(DeriveIden)]
enum WebhookDelivery {
    Table,
    Id,
    MessageId,
    EndpointId,
    WorkspaceId,
    ProjectId,
    EventType,
    Body,
    Status,
    Attempts,
    NextAttemptAt,
    LeaseOwner,
    LeaseUntil,
    LastAttemptAt,
    LastResponseStatus,
    LastError,
    CreatedAt,
}

#[derive(DeriveIden)]
enum WebhookDeliveryAttempt {
    Table,
    DeliveryId,
    Attempt,
    EndpointId,
    At,
    ResponseStatus,
    Error,
    LatencyMs,
    Succeeded,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(OutboxMessage::Table)
                .add_column(timestamp_with_time_zone_null(OutboxMessage::DispatchedAt))
                .take(),
        )
        .await?;
        // The dispatcher reads undispatched messages oldest first: a partial index keeps that
        // cheap however long the outbox grows (both SQLite and PostgreSQL have them).
        m.get_connection()
            .execute_unprepared(
                "CREATE INDEX idx_outbox_message_undispatched ON outbox_message (created_at) \
                 WHERE dispatched_at IS NULL",
            )
            .await?;

        m.create_table(
            Table::create()
                .table(WebhookDelivery::Table)
                .col(string(WebhookDelivery::Id).primary_key())
                .col(string(WebhookDelivery::MessageId))
                .col(string(WebhookDelivery::EndpointId))
                .col(string(WebhookDelivery::WorkspaceId))
                .col(string(WebhookDelivery::ProjectId))
                .col(string(WebhookDelivery::EventType))
                .col(text(WebhookDelivery::Body))
                .col(string(WebhookDelivery::Status))
                .col(integer(WebhookDelivery::Attempts))
                .col(timestamp_with_time_zone_null(
                    WebhookDelivery::NextAttemptAt,
                ))
                .col(string_null(WebhookDelivery::LeaseOwner))
                .col(timestamp_with_time_zone_null(WebhookDelivery::LeaseUntil))
                .col(timestamp_with_time_zone_null(
                    WebhookDelivery::LastAttemptAt,
                ))
                .col(integer_null(WebhookDelivery::LastResponseStatus))
                .col(text_null(WebhookDelivery::LastError))
                .col(timestamp_with_time_zone(WebhookDelivery::CreatedAt))
                .take(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(WebhookDeliveryAttempt::Table)
                .col(string(WebhookDeliveryAttempt::DeliveryId))
                .col(integer(WebhookDeliveryAttempt::Attempt))
                .col(string(WebhookDeliveryAttempt::EndpointId))
                .col(timestamp_with_time_zone(WebhookDeliveryAttempt::At))
                .col(integer_null(WebhookDeliveryAttempt::ResponseStatus))
                .col(text_null(WebhookDeliveryAttempt::Error))
                .col(big_integer(WebhookDeliveryAttempt::LatencyMs))
                .col(boolean(WebhookDeliveryAttempt::Succeeded))
                .primary_key(
                    Index::create()
                        .col(WebhookDeliveryAttempt::DeliveryId)
                        .col(WebhookDeliveryAttempt::Attempt),
                )
                .take(),
        )
        .await?;

        let indexes = [
            // Claiming due rows: status = 'pending' AND next_attempt_at <= now.
            Index::create()
                .name("idx_webhook_delivery_due")
                .table(WebhookDelivery::Table)
                .col(WebhookDelivery::Status)
                .col(WebhookDelivery::NextAttemptAt)
                .take(),
            // An endpoint's history, newest first (keyset on id).
            Index::create()
                .name("idx_webhook_delivery_endpoint")
                .table(WebhookDelivery::Table)
                .col(WebhookDelivery::EndpointId)
                .col((WebhookDelivery::Id, IndexOrder::Desc))
                .take(),
            // The webhook gate's last test delivery of a project.
            Index::create()
                .name("idx_webhook_delivery_project_event")
                .table(WebhookDelivery::Table)
                .col(WebhookDelivery::ProjectId)
                .col(WebhookDelivery::EventType)
                .col(WebhookDelivery::LastAttemptAt)
                .take(),
            // Endpoint health over the last days.
            Index::create()
                .name("idx_webhook_delivery_attempt_endpoint")
                .table(WebhookDeliveryAttempt::Table)
                .col(WebhookDeliveryAttempt::EndpointId)
                .col(WebhookDeliveryAttempt::At)
                .take(),
        ];
        for i in indexes {
            m.create_index(i).await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(
            Table::drop()
                .table(WebhookDeliveryAttempt::Table)
                .to_owned(),
        )
        .await?;
        m.drop_table(Table::drop().table(WebhookDelivery::Table).to_owned())
            .await?;
        m.get_connection()
            .execute_unprepared("DROP INDEX IF EXISTS idx_outbox_message_undispatched")
            .await?;
        m.alter_table(
            Table::alter()
                .table(OutboxMessage::Table)
                .drop_column(OutboxMessage::DispatchedAt)
                .take(),
        )
        .await
    }
}
