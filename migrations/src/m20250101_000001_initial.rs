//! Every table of the first release. Ids are text (their prefixed form), money is text (never
//! through a float), nested domain values are JSON text; anything a query filters or sorts on
//! has its own plain column.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Account {
    Table,
    Id,
    Email,
    Name,
    PasswordHash,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Staff {
    Table,
    Id,
    Email,
    Name,
    Role,
    PasswordHash,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Workspace {
    Table,
    Id,
    Name,
    BillingOwner,
    AuditContact,
    SecurityOwner,
    CreatedAt,
    CreatedBy,
    Version,
}

#[derive(DeriveIden)]
enum Membership {
    Table,
    WorkspaceId,
    AccountId,
    Roles,
    JoinedAt,
}

#[derive(DeriveIden)]
enum Invitation {
    Table,
    Id,
    WorkspaceId,
    Email,
    Roles,
    InvitedBy,
    CreatedAt,
    ExpiresAt,
    Status,
    Version,
}

#[derive(DeriveIden)]
enum JoinRequest {
    Table,
    Id,
    WorkspaceId,
    AccountId,
    Message,
    CreatedAt,
    Status,
    DecidedBy,
    DecidedAt,
    Version,
}

#[derive(DeriveIden)]
enum Product {
    Table,
    Id,
    Name,
    Description,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Plan {
    Table,
    Id,
    ProductId,
    Name,
    HasSandbox,
    SandboxAccess,
    Endpoints,
    Events,
    TestData,
    Form,
    Pricing,
    Gates,
    IntegrationMinCalls,
    WaiveSeparationOfDuties,
    CreatedAt,
    Version,
}

#[derive(DeriveIden)]
enum Project {
    Table,
    Id,
    WorkspaceId,
    Name,
    Purpose,
    Environment,
    Endpoints,
    Events,
    ClonedFrom,
    SubscriptionId,
    LiveAuditReviewedAt,
    CreatedAt,
    CreatedBy,
    Version,
}

#[derive(DeriveIden)]
enum Subscription {
    Table,
    Id,
    WorkspaceId,
    ProjectId,
    PlanId,
    Phase,
    SubmittedAt,
    PhaseData,
    SandboxAccess,
    Answers,
    SignOffs,
    History,
    ProductionProjectId,
    CreatedAt,
    CreatedBy,
    Version,
}

#[derive(DeriveIden)]
enum Credential {
    Table,
    Id,
    WorkspaceId,
    ProjectId,
    SubscriptionId,
    Environment,
    Kind,
    ClientId,
    Name,
    Status,
    StatusData,
    Secret,
    Previous,
    CreatedAt,
    CreatedBy,
    Version,
}

#[derive(DeriveIden)]
enum CredentialSecret {
    Table,
    Hash,
    CredentialId,
    Kind,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum WebhookEndpoint {
    Table,
    Id,
    WorkspaceId,
    ProjectId,
    Url,
    Events,
    Status,
    StatusData,
    SigningSecrets,
    FailingSince,
    CreatedAt,
    Version,
}

#[derive(DeriveIden)]
enum WebhookTestDelivery {
    Table,
    Id,
    ProjectId,
    EndpointId,
    At,
    Ok,
}

#[derive(DeriveIden)]
enum AlertThreshold {
    Table,
    Id,
    ProjectId,
    Metric,
    LimitValue,
    LastFiredWindow,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Payment {
    Table,
    Id,
    WorkspaceId,
    SubscriptionId,
    Amount,
    Currency,
    Reference,
    ConfirmedBy,
    At,
}

#[derive(DeriveIden)]
enum UsageBucket {
    Table,
    CredentialId,
    Endpoint,
    BucketStart,
    ProjectId,
    Environment,
    Requests,
    Errors,
}

#[derive(DeriveIden)]
enum AuditEvent {
    Table,
    Id,
    Chain,
    Seq,
    At,
    Actor,
    WorkspaceId,
    ProjectId,
    Action,
    Target,
    Details,
    PrevHash,
    Hash,
}

#[derive(DeriveIden)]
enum OutboxMessage {
    Table,
    Id,
    WorkspaceId,
    ProjectId,
    EventType,
    Payload,
    TargetEndpoint,
    CreatedAt,
}

#[derive(DeriveIden)]
enum AuthToken {
    Table,
    TokenHash,
    PrincipalKind,
    PrincipalId,
    Kind,
    Name,
    CsrfToken,
    CreatedAt,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum IdempotencyKey {
    Table,
    Scope,
    Key,
    RequestHash,
    Status,
    Body,
    Location,
    CreatedAt,
}

fn id<T: IntoIden>(col: T) -> ColumnDef {
    string(col).primary_key().take()
}

macro_rules! idx {
    ($name:literal, $table:expr, [$($col:expr),+]) => {
        Index::create().name($name).table($table)$(.col($col))+.take()
    };
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let tables = vec![
            Table::create()
                .table(Account::Table)
                .col(id(Account::Id))
                .col(string_uniq(Account::Email))
                .col(string(Account::Name))
                .col(text(Account::PasswordHash))
                .col(timestamp_with_time_zone(Account::CreatedAt))
                .take(),
            Table::create()
                .table(Staff::Table)
                .col(id(Staff::Id))
                .col(string_uniq(Staff::Email))
                .col(string(Staff::Name))
                .col(string(Staff::Role))
                .col(text(Staff::PasswordHash))
                .col(timestamp_with_time_zone(Staff::CreatedAt))
                .take(),
            Table::create()
                .table(Workspace::Table)
                .col(id(Workspace::Id))
                .col(string(Workspace::Name))
                .col(string_null(Workspace::BillingOwner))
                .col(string_null(Workspace::AuditContact))
                .col(string_null(Workspace::SecurityOwner))
                .col(timestamp_with_time_zone(Workspace::CreatedAt))
                .col(string(Workspace::CreatedBy))
                .col(big_integer(Workspace::Version))
                .take(),
            Table::create()
                .table(Membership::Table)
                .col(string(Membership::WorkspaceId))
                .col(string(Membership::AccountId))
                .col(text(Membership::Roles))
                .col(timestamp_with_time_zone(Membership::JoinedAt))
                .primary_key(
                    Index::create()
                        .col(Membership::WorkspaceId)
                        .col(Membership::AccountId),
                )
                .take(),
            Table::create()
                .table(Invitation::Table)
                .col(id(Invitation::Id))
                .col(string(Invitation::WorkspaceId))
                .col(string(Invitation::Email))
                .col(text(Invitation::Roles))
                .col(string(Invitation::InvitedBy))
                .col(timestamp_with_time_zone(Invitation::CreatedAt))
                .col(timestamp_with_time_zone(Invitation::ExpiresAt))
                .col(string(Invitation::Status))
                .col(big_integer(Invitation::Version))
                .take(),
            Table::create()
                .table(JoinRequest::Table)
                .col(id(JoinRequest::Id))
                .col(string(JoinRequest::WorkspaceId))
                .col(string(JoinRequest::AccountId))
                .col(text_null(JoinRequest::Message))
                .col(timestamp_with_time_zone(JoinRequest::CreatedAt))
                .col(string(JoinRequest::Status))
                .col(string_null(JoinRequest::DecidedBy))
                .col(timestamp_with_time_zone_null(JoinRequest::DecidedAt))
                .col(big_integer(JoinRequest::Version))
                .take(),
            Table::create()
                .table(Product::Table)
                .col(id(Product::Id))
                .col(string(Product::Name))
                .col(text(Product::Description))
                .col(timestamp_with_time_zone(Product::CreatedAt))
                .take(),
            Table::create()
                .table(Plan::Table)
                .col(id(Plan::Id))
                .col(string(Plan::ProductId))
                .col(string(Plan::Name))
                .col(boolean(Plan::HasSandbox))
                .col(string(Plan::SandboxAccess))
                .col(text(Plan::Endpoints))
                .col(text(Plan::Events))
                .col(text(Plan::TestData))
                .col(text_null(Plan::Form))
                .col(text(Plan::Pricing))
                .col(text(Plan::Gates))
                .col(big_integer(Plan::IntegrationMinCalls))
                .col(boolean(Plan::WaiveSeparationOfDuties))
                .col(timestamp_with_time_zone(Plan::CreatedAt))
                .col(big_integer(Plan::Version))
                .take(),
            Table::create()
                .table(Project::Table)
                .col(id(Project::Id))
                .col(string(Project::WorkspaceId))
                .col(string(Project::Name))
                .col(string(Project::Purpose))
                .col(string(Project::Environment))
                .col(text(Project::Endpoints))
                .col(text(Project::Events))
                .col(string_null(Project::ClonedFrom))
                .col(string_null(Project::SubscriptionId))
                .col(timestamp_with_time_zone_null(Project::LiveAuditReviewedAt))
                .col(timestamp_with_time_zone(Project::CreatedAt))
                .col(string(Project::CreatedBy))
                .col(big_integer(Project::Version))
                .take(),
            Table::create()
                .table(Subscription::Table)
                .col(id(Subscription::Id))
                .col(string(Subscription::WorkspaceId))
                .col(string(Subscription::ProjectId))
                .col(string(Subscription::PlanId))
                .col(string(Subscription::Phase))
                .col(timestamp_with_time_zone_null(Subscription::SubmittedAt))
                .col(text(Subscription::PhaseData))
                .col(text(Subscription::SandboxAccess))
                .col(text_null(Subscription::Answers))
                .col(text(Subscription::SignOffs))
                .col(text(Subscription::History))
                .col(string_null(Subscription::ProductionProjectId))
                .col(timestamp_with_time_zone(Subscription::CreatedAt))
                .col(string(Subscription::CreatedBy))
                .col(big_integer(Subscription::Version))
                .take(),
            Table::create()
                .table(Credential::Table)
                .col(id(Credential::Id))
                .col(string(Credential::WorkspaceId))
                .col(string(Credential::ProjectId))
                .col(string(Credential::SubscriptionId))
                .col(string(Credential::Environment))
                .col(string(Credential::Kind))
                .col(string_null(Credential::ClientId))
                .col(string(Credential::Name))
                .col(string(Credential::Status))
                .col(text(Credential::StatusData))
                .col(text(Credential::Secret))
                .col(text_null(Credential::Previous))
                .col(timestamp_with_time_zone(Credential::CreatedAt))
                .col(text(Credential::CreatedBy))
                .col(big_integer(Credential::Version))
                .take(),
            Table::create()
                .table(CredentialSecret::Table)
                .col(id(CredentialSecret::Hash))
                .col(string(CredentialSecret::CredentialId))
                .col(string(CredentialSecret::Kind))
                .col(timestamp_with_time_zone_null(CredentialSecret::ExpiresAt))
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_credential_secret_credential")
                        .from(CredentialSecret::Table, CredentialSecret::CredentialId)
                        .to(Credential::Table, Credential::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .take(),
            Table::create()
                .table(WebhookEndpoint::Table)
                .col(id(WebhookEndpoint::Id))
                .col(string(WebhookEndpoint::WorkspaceId))
                .col(string(WebhookEndpoint::ProjectId))
                .col(text(WebhookEndpoint::Url))
                .col(text(WebhookEndpoint::Events))
                .col(string(WebhookEndpoint::Status))
                .col(text(WebhookEndpoint::StatusData))
                .col(text(WebhookEndpoint::SigningSecrets))
                .col(timestamp_with_time_zone_null(WebhookEndpoint::FailingSince))
                .col(timestamp_with_time_zone(WebhookEndpoint::CreatedAt))
                .col(big_integer(WebhookEndpoint::Version))
                .take(),
            Table::create()
                .table(WebhookTestDelivery::Table)
                .col(big_pk_auto(WebhookTestDelivery::Id))
                .col(string(WebhookTestDelivery::ProjectId))
                .col(string_null(WebhookTestDelivery::EndpointId))
                .col(timestamp_with_time_zone(WebhookTestDelivery::At))
                .col(boolean(WebhookTestDelivery::Ok))
                .take(),
            Table::create()
                .table(AlertThreshold::Table)
                .col(id(AlertThreshold::Id))
                .col(string(AlertThreshold::ProjectId))
                .col(string(AlertThreshold::Metric))
                .col(string(AlertThreshold::LimitValue))
                .col(string_null(AlertThreshold::LastFiredWindow))
                .col(timestamp_with_time_zone(AlertThreshold::CreatedAt))
                .take(),
            Table::create()
                .table(Payment::Table)
                .col(id(Payment::Id))
                .col(string(Payment::WorkspaceId))
                .col(string(Payment::SubscriptionId))
                .col(string(Payment::Amount))
                .col(string(Payment::Currency))
                .col(text(Payment::Reference))
                .col(string(Payment::ConfirmedBy))
                .col(timestamp_with_time_zone(Payment::At))
                .take(),
            Table::create()
                .table(UsageBucket::Table)
                .col(string(UsageBucket::CredentialId))
                .col(string(UsageBucket::Endpoint))
                .col(timestamp_with_time_zone(UsageBucket::BucketStart))
                .col(string(UsageBucket::ProjectId))
                .col(string(UsageBucket::Environment))
                .col(big_integer(UsageBucket::Requests))
                .col(big_integer(UsageBucket::Errors))
                .primary_key(
                    Index::create()
                        .col(UsageBucket::CredentialId)
                        .col(UsageBucket::Endpoint)
                        .col(UsageBucket::BucketStart),
                )
                .take(),
            Table::create()
                .table(AuditEvent::Table)
                .col(id(AuditEvent::Id))
                .col(string(AuditEvent::Chain))
                .col(big_integer(AuditEvent::Seq))
                .col(timestamp_with_time_zone(AuditEvent::At))
                .col(text(AuditEvent::Actor))
                .col(string_null(AuditEvent::WorkspaceId))
                .col(string_null(AuditEvent::ProjectId))
                .col(string(AuditEvent::Action))
                .col(text(AuditEvent::Target))
                .col(text(AuditEvent::Details))
                .col(string(AuditEvent::PrevHash))
                .col(string(AuditEvent::Hash))
                .take(),
            Table::create()
                .table(OutboxMessage::Table)
                .col(id(OutboxMessage::Id))
                .col(string(OutboxMessage::WorkspaceId))
                .col(string_null(OutboxMessage::ProjectId))
                .col(string(OutboxMessage::EventType))
                .col(text(OutboxMessage::Payload))
                .col(string_null(OutboxMessage::TargetEndpoint))
                .col(timestamp_with_time_zone(OutboxMessage::CreatedAt))
                .take(),
            Table::create()
                .table(AuthToken::Table)
                .col(id(AuthToken::TokenHash))
                .col(string(AuthToken::PrincipalKind))
                .col(string(AuthToken::PrincipalId))
                .col(string(AuthToken::Kind))
                .col(text(AuthToken::Name))
                .col(string_null(AuthToken::CsrfToken))
                .col(timestamp_with_time_zone(AuthToken::CreatedAt))
                .col(timestamp_with_time_zone(AuthToken::ExpiresAt))
                .take(),
            Table::create()
                .table(IdempotencyKey::Table)
                .col(string(IdempotencyKey::Scope))
                .col(string(IdempotencyKey::Key))
                .col(string(IdempotencyKey::RequestHash))
                .col(integer_null(IdempotencyKey::Status))
                .col(text_null(IdempotencyKey::Body))
                .col(text_null(IdempotencyKey::Location))
                .col(timestamp_with_time_zone(IdempotencyKey::CreatedAt))
                .primary_key(
                    Index::create()
                        .col(IdempotencyKey::Scope)
                        .col(IdempotencyKey::Key),
                )
                .take(),
        ];
        for t in tables {
            m.create_table(t).await?;
        }

        let indexes = vec![
            idx!(
                "idx_membership_account",
                Membership::Table,
                [Membership::AccountId]
            ),
            idx!(
                "idx_invitation_workspace",
                Invitation::Table,
                [Invitation::WorkspaceId]
            ),
            idx!(
                "idx_invitation_email",
                Invitation::Table,
                [Invitation::Email]
            ),
            idx!(
                "idx_join_request_workspace",
                JoinRequest::Table,
                [JoinRequest::WorkspaceId]
            ),
            idx!(
                "idx_join_request_account",
                JoinRequest::Table,
                [JoinRequest::AccountId]
            ),
            idx!(
                "idx_project_workspace",
                Project::Table,
                [Project::WorkspaceId]
            ),
            idx!(
                "idx_subscription_workspace",
                Subscription::Table,
                [Subscription::WorkspaceId]
            ),
            idx!(
                "idx_subscription_queue",
                Subscription::Table,
                [
                    Subscription::Phase,
                    Subscription::SubmittedAt,
                    Subscription::Id
                ]
            ),
            idx!(
                "idx_credential_project",
                Credential::Table,
                [Credential::ProjectId]
            ),
            idx!(
                "idx_credential_subscription",
                Credential::Table,
                [Credential::SubscriptionId]
            ),
            idx!(
                "idx_credential_client_id",
                Credential::Table,
                [Credential::ClientId]
            ),
            idx!(
                "idx_credential_secret_credential",
                CredentialSecret::Table,
                [CredentialSecret::CredentialId]
            ),
            idx!(
                "idx_webhook_endpoint_project",
                WebhookEndpoint::Table,
                [WebhookEndpoint::ProjectId]
            ),
            idx!(
                "idx_webhook_test_delivery_project",
                WebhookTestDelivery::Table,
                [WebhookTestDelivery::ProjectId, WebhookTestDelivery::At]
            ),
            idx!(
                "idx_alert_threshold_project",
                AlertThreshold::Table,
                [AlertThreshold::ProjectId]
            ),
            idx!(
                "idx_payment_subscription",
                Payment::Table,
                [Payment::SubscriptionId]
            ),
            idx!(
                "idx_usage_bucket_project",
                UsageBucket::Table,
                [UsageBucket::ProjectId, UsageBucket::BucketStart]
            ),
            idx!(
                "idx_audit_event_chain_seq",
                AuditEvent::Table,
                [AuditEvent::Chain, AuditEvent::Seq]
            )
            .unique()
            .take(),
            idx!(
                "idx_outbox_message_created",
                OutboxMessage::Table,
                [OutboxMessage::CreatedAt]
            ),
            idx!(
                "idx_auth_token_principal",
                AuthToken::Table,
                [AuthToken::PrincipalKind, AuthToken::PrincipalId]
            ),
        ];
        for i in indexes {
            m.create_index(i).await?;
        }

        // The audit log is evidence: the database itself refuses to rewrite it, whatever the
        // application (or an operator with a SQL prompt and the app's role) tries.
        let db = m.get_connection();
        match m.get_database_backend() {
            DbBackend::Sqlite => {
                for op in ["UPDATE", "DELETE"] {
                    db.execute_unprepared(&format!(
                        "CREATE TRIGGER audit_event_no_{} BEFORE {op} ON audit_event \
                         BEGIN SELECT RAISE(ABORT, 'audit_event is append-only'); END",
                        op.to_lowercase()
                    ))
                    .await?;
                }
            }
            DbBackend::Postgres => {
                db.execute_unprepared(
                    "CREATE FUNCTION audit_event_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ \
                     BEGIN RAISE EXCEPTION 'audit_event is append-only'; END $$",
                )
                .await?;
                db.execute_unprepared(
                    "CREATE TRIGGER audit_event_no_rewrite BEFORE UPDATE OR DELETE ON audit_event \
                     FOR EACH ROW EXECUTE FUNCTION audit_event_append_only()",
                )
                .await?;
                db.execute_unprepared(
                    "CREATE TRIGGER audit_event_no_truncate BEFORE TRUNCATE ON audit_event \
                     FOR EACH STATEMENT EXECUTE FUNCTION audit_event_append_only()",
                )
                .await?;
            }
            other => {
                return Err(DbErr::Migration(format!(
                    "unsupported database backend {other:?}"
                )));
            }
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        if m.get_database_backend() == DbBackend::Postgres {
            m.get_connection()
                .execute_unprepared("DROP FUNCTION IF EXISTS audit_event_append_only() CASCADE")
                .await?;
        }
        let tables: Vec<DynIden> = vec![
            IdempotencyKey::Table.into_iden(),
            AuthToken::Table.into_iden(),
            OutboxMessage::Table.into_iden(),
            AuditEvent::Table.into_iden(),
            UsageBucket::Table.into_iden(),
            Payment::Table.into_iden(),
            AlertThreshold::Table.into_iden(),
            WebhookTestDelivery::Table.into_iden(),
            WebhookEndpoint::Table.into_iden(),
            CredentialSecret::Table.into_iden(),
            Credential::Table.into_iden(),
            Subscription::Table.into_iden(),
            Project::Table.into_iden(),
            Plan::Table.into_iden(),
            Product::Table.into_iden(),
            JoinRequest::Table.into_iden(),
            Invitation::Table.into_iden(),
            Membership::Table.into_iden(),
            Workspace::Table.into_iden(),
            Staff::Table.into_iden(),
            Account::Table.into_iden(),
        ];
        for t in tables {
            m.drop_table(Table::drop().table(t).to_owned()).await?;
        }
        Ok(())
    }
}
