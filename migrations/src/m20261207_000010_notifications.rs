//! Issue 21: notifications. One row per recipient, written in the transaction of the change
//! that raised it: the portal's notification centre reads it, and the mail worker leases it
//! (`lease_owner`, `lease_until`) to send its e-mail, retrying by `next_attempt_at`. People's
//! e-mail preferences: one row per optional kind turned off.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Notification {
    Table,
    Id,
    Kind,
    Principal,
    Email,
    WorkspaceId,
    Data,
    CreatedAt,
    ReadAt,
    MailStatus,
    Attempts,
    NextAttemptAt,
    LastError,
    LeaseOwner,
    LeaseUntil,
}

#[derive(DeriveIden)]
enum NotificationPreference {
    Table,
    Principal,
    Kind,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Notification::Table)
                .col(string(Notification::Id).primary_key())
                .col(string(Notification::Kind))
                .col(string_null(Notification::Principal))
                .col(string(Notification::Email))
                .col(string_null(Notification::WorkspaceId))
                .col(text(Notification::Data))
                .col(timestamp_with_time_zone(Notification::CreatedAt))
                .col(timestamp_with_time_zone_null(Notification::ReadAt))
                .col(string(Notification::MailStatus))
                .col(integer(Notification::Attempts))
                .col(timestamp_with_time_zone(Notification::NextAttemptAt))
                .col(text_null(Notification::LastError))
                .col(string_null(Notification::LeaseOwner))
                .col(timestamp_with_time_zone_null(Notification::LeaseUntil))
                .to_owned(),
        )
        .await?;
        // The centre: a person's notifications, newest first.
        m.create_index(
            Index::create()
                .name("ix_notification_principal")
                .table(Notification::Table)
                .col(Notification::Principal)
                .col(Notification::Id)
                .to_owned(),
        )
        .await?;
        // The mail worker: pending e-mails, oldest due first.
        m.create_index(
            Index::create()
                .name("ix_notification_due")
                .table(Notification::Table)
                .col(Notification::MailStatus)
                .col(Notification::NextAttemptAt)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(NotificationPreference::Table)
                .col(string(NotificationPreference::Principal))
                .col(string(NotificationPreference::Kind))
                .primary_key(
                    Index::create()
                        .col(NotificationPreference::Principal)
                        .col(NotificationPreference::Kind),
                )
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(
            Table::drop()
                .table(NotificationPreference::Table)
                .to_owned(),
        )
        .await?;
        m.drop_table(Table::drop().table(Notification::Table).to_owned())
            .await
    }
}
