//! Compact hand-written entities, one per table of `migrations/`. Columns mirror the
//! migration; the mapping to domain types lives in `map.rs`.

macro_rules! entity {
    ($module:ident, $table:tt, { $($body:tt)* }) => {
        pub mod $module {
            use sea_orm::entity::prelude::*;

            #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
            #[sea_orm(table_name = $table)]
            pub struct Model {
                $($body)*
            }

            #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
            pub enum Relation {}

            impl ActiveModelBehavior for ActiveModel {}
        }
    };
}

entity!(account, "account", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub email: String,
    pub name: String,
    pub password_hash: String,
    pub created_at: DateTimeUtc,
});

entity!(staff, "staff", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub email: String,
    pub name: String,
    pub role: String,
    pub password_hash: String,
    pub created_at: DateTimeUtc,
});

entity!(workspace, "workspace", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub name: String,
    pub billing_owner: Option<String>,
    pub audit_contact: Option<String>,
    pub security_owner: Option<String>,
    pub created_at: DateTimeUtc,
    pub created_by: String,
    pub version: i64,
});

entity!(membership, "membership", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub workspace_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub account_id: String,
    pub roles: String,
    pub joined_at: DateTimeUtc,
});

entity!(invitation, "invitation", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub workspace_id: String,
    pub email: String,
    pub roles: String,
    pub invited_by: String,
    pub created_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
    pub status: String,
    pub version: i64,
});

entity!(join_request, "join_request", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub workspace_id: String,
    pub account_id: String,
    pub message: Option<String>,
    pub created_at: DateTimeUtc,
    pub status: String,
    pub decided_by: Option<String>,
    pub decided_at: Option<DateTimeUtc>,
    pub version: i64,
});

entity!(product, "product", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub name: String,
    pub description: String,
    pub created_at: DateTimeUtc,
});

entity!(plan, "plan", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub product_id: String,
    pub name: String,
    pub has_sandbox: bool,
    pub sandbox_access: String,
    pub endpoints: String,
    pub events: String,
    pub test_data: String,
    pub form: Option<String>,
    pub pricing: String,
    pub gates: String,
    pub integration_min_calls: i64,
    pub waive_separation_of_duties: bool,
    pub created_at: DateTimeUtc,
    pub version: i64,
});

entity!(project, "project", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub workspace_id: String,
    pub name: String,
    pub purpose: String,
    pub environment: String,
    pub endpoints: String,
    pub events: String,
    pub cloned_from: Option<String>,
    pub subscription_id: Option<String>,
    pub live_audit_reviewed_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub created_by: String,
    pub version: i64,
});

entity!(subscription, "subscription", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub workspace_id: String,
    pub project_id: String,
    pub plan_id: String,
    pub phase: String,
    pub submitted_at: Option<DateTimeUtc>,
    pub phase_data: String,
    pub sandbox_access: String,
    pub answers: Option<String>,
    pub sign_offs: String,
    pub history: String,
    pub production_project_id: Option<String>,
    pub created_at: DateTimeUtc,
    pub created_by: String,
    pub version: i64,
    pub waiting_on: Option<String>,
    pub waiting_since: Option<DateTimeUtc>,
});

entity!(credential, "credential", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub workspace_id: String,
    pub project_id: String,
    pub subscription_id: String,
    pub environment: String,
    pub kind: String,
    pub client_id: Option<String>,
    pub name: String,
    pub status: String,
    pub status_data: String,
    pub secret: String,
    pub previous: Option<String>,
    pub created_at: DateTimeUtc,
    pub created_by: String,
    pub version: i64,
});

entity!(credential_secret, "credential_secret", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub hash: String,
    pub credential_id: String,
    pub kind: String,
    pub expires_at: Option<DateTimeUtc>,
});

entity!(webhook_endpoint, "webhook_endpoint", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub workspace_id: String,
    pub project_id: String,
    pub url: String,
    pub events: String,
    pub status: String,
    pub status_data: String,
    pub signing_secrets: String,
    pub failing_since: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub version: i64,
});

entity!(webhook_test_delivery, "webhook_test_delivery", {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub project_id: String,
    pub endpoint_id: Option<String>,
    pub at: DateTimeUtc,
    pub ok: bool,
});

entity!(alert_threshold, "alert_threshold", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub project_id: String,
    pub metric: String,
    pub limit_value: String,
    pub last_fired_window: Option<String>,
    pub created_at: DateTimeUtc,
});

entity!(payment, "payment", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub workspace_id: String,
    pub subscription_id: String,
    pub amount: String,
    pub currency: String,
    pub reference: String,
    pub confirmed_by: String,
    pub at: DateTimeUtc,
});

entity!(usage_bucket, "usage_bucket", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub credential_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub endpoint: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub bucket_start: DateTimeUtc,
    pub project_id: String,
    pub environment: String,
    pub requests: i64,
    pub errors: i64,
});

entity!(audit_event, "audit_event", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub chain: String,
    pub seq: i64,
    pub at: DateTimeUtc,
    pub actor: String,
    pub workspace_id: Option<String>,
    pub project_id: Option<String>,
    pub action: String,
    pub target: String,
    pub details: String,
    pub prev_hash: String,
    pub hash: String,
});

entity!(audit_chain_head, "audit_chain_head", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub chain: String,
    pub seq: i64,
    pub hash: String,
    pub event_id: String,
});

entity!(outbox_message, "outbox_message", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub workspace_id: String,
    pub project_id: Option<String>,
    pub event_type: String,
    pub payload: String,
    pub target_endpoint: Option<String>,
    pub created_at: DateTimeUtc,
});

entity!(auth_token, "auth_token", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub token_hash: String,
    pub principal_kind: String,
    pub principal_id: String,
    pub kind: String,
    pub name: String,
    pub csrf_token: Option<String>,
    pub created_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
});

entity!(idempotency_key, "idempotency_key", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub scope: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub key: String,
    pub request_hash: String,
    pub status: Option<i32>,
    pub body: Option<String>,
    pub location: Option<String>,
    pub created_at: DateTimeUtc,
    pub run: Option<String>,
    pub token: Option<String>,
    pub claimed_at: Option<DateTimeUtc>,
    pub committed_at: Option<DateTimeUtc>,
    pub committed_action: Option<String>,
    pub committed_target: Option<String>,
});
