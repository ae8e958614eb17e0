//! The port implementations: reads, the unit of work, and the few direct writes (usage
//! counters, sessions, idempotency keys) that live outside change sets.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use onboarding_core::audit::{AuditEvent, ChainHead};
use onboarding_core::billing::Payment;
use onboarding_core::credential::{Credential, SecretHash, SecretMatch};
use onboarding_core::ids::*;
use onboarding_core::pipeline::Subscription;
use onboarding_core::plan::{ApiProduct, Plan};
use onboarding_core::ports::*;
use onboarding_core::project::Project;
use onboarding_core::usage::{AlertThreshold, UsageBucket};
use onboarding_core::values::Email;
use onboarding_core::webhook::WebhookEndpoint;
use onboarding_core::workspace::{
    Account, Invitation, InvitationStatus, JoinRequest, Membership, Staff, Workspace,
};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseTransaction, DbBackend,
    DbErr, EntityTrait, IntoActiveModel, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
    RuntimeErr, Set, SqlErr, Statement, TransactionOptions, TransactionTrait, TryInsertResult,
};

use crate::SeaOrmStore;
use crate::entities::*;
use crate::map::{self, R};

/// Whole-transaction attempts before a busy database is reported as unavailable.
const MAX_ATTEMPTS: u32 = 6;
/// Rows per multi-row usage upsert: far below both backends' bind-parameter limits.
const USAGE_CHUNK: usize = 500;

enum ErrKind {
    Unique,
    Transient,
    Other,
}

fn classify(e: &DbErr) -> ErrKind {
    if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) {
        return ErrKind::Unique;
    }
    let code = match e {
        DbErr::Exec(RuntimeErr::SqlxError(x))
        | DbErr::Query(RuntimeErr::SqlxError(x))
        | DbErr::Conn(RuntimeErr::SqlxError(x)) => match &**x {
            sea_orm::sqlx::Error::Database(d) => d.code().map(|c| c.into_owned()),
            _ => None,
        },
        _ => None,
    };
    match code.as_deref() {
        // PostgreSQL serialization failure and deadlock; SQLite BUSY, LOCKED and their
        // extended codes (BUSY_RECOVERY, BUSY_SNAPSHOT, LOCKED_SHAREDCACHE).
        Some("40001" | "40P01" | "5" | "6" | "261" | "517" | "262") => ErrKind::Transient,
        _ if e.to_string().contains("database is locked") => ErrKind::Transient,
        _ => ErrKind::Other,
    }
}

/// A failure outside a change set: unique keys are conflicts, anything else is logged and
/// reported as unavailable without the driver's text.
pub(crate) fn store_err(op: &'static str) -> impl FnOnce(DbErr) -> StoreError {
    move |e| match classify(&e) {
        ErrKind::Unique => StoreError::Conflict(format!("{op}: key already taken")),
        _ => {
            tracing::error!(error = %e, op, "database error");
            StoreError::Unavailable(format!("database error during {op}"))
        }
    }
}

pub(crate) enum TxErr {
    Conflict(String),
    Db(DbErr),
}

impl From<DbErr> for TxErr {
    fn from(e: DbErr) -> Self {
        TxErr::Db(e)
    }
}

pub(crate) fn tx_err(what: &'static str) -> impl FnOnce(DbErr) -> TxErr {
    move |e| match classify(&e) {
        ErrKind::Unique => TxErr::Conflict(what.to_owned()),
        _ => TxErr::Db(e),
    }
}

fn all_set<A: ActiveModelTrait>(a: A) -> A {
    a.reset_all()
}

macro_rules! insert {
    ($c:expr, $ent:ident, $model:expr, $what:literal) => {
        $ent::Entity::insert(all_set($model.into_active_model()))
            .exec_without_returning($c)
            .await
            .map_err(tx_err($what))?
    };
}

/// `UPDATE ... SET ..., version = expected + 1 WHERE id = ? AND version = expected`; no row
/// updated means somebody else changed it first.
macro_rules! versioned {
    ($c:expr, $ent:ident, $model:expr, $expected:expr, $what:literal) => {{
        let mut m = $model;
        m.version = $expected + 1;
        let id = m.id.clone();
        let res = $ent::Entity::update_many()
            .set(all_set(m.into_active_model()))
            .filter($ent::Column::Id.eq(id))
            .filter($ent::Column::Version.eq($expected))
            .exec($c)
            .await
            .map_err(tx_err($what))?;
        if res.rows_affected == 0 {
            return Err(TxErr::Conflict($what.to_owned()));
        }
    }};
}

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

async fn apply(c: &DatabaseTransaction, change: &Change) -> Result<(), TxErr> {
    match change {
        Change::InsertAccount(a) => {
            insert!(c, account, map::account_model(a), "account e-mail");
        }
        Change::InsertStaff(a) => {
            insert!(c, staff, map::staff_model(a), "staff e-mail");
        }
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
        Change::InsertProduct(p) => {
            insert!(c, product, map::product_model(p), "product");
        }
        Change::InsertPlan(p) => {
            insert!(c, plan, map::plan_model(p), "plan");
        }
        Change::UpdatePlan {
            value,
            expected_version,
        } => versioned!(c, plan, map::plan_model(value), *expected_version, "plan"),
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
        Change::InsertSubscription(s) => {
            insert!(c, subscription, map::subscription_model(s), "subscription");
        }
        Change::UpdateSubscription {
            value,
            expected_version,
        } => versioned!(
            c,
            subscription,
            map::subscription_model(value),
            *expected_version,
            "subscription"
        ),
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
        Change::InsertWebhookEndpoint(e) => {
            insert!(
                c,
                webhook_endpoint,
                map::endpoint_model(e),
                "webhook endpoint"
            );
        }
        Change::UpdateWebhookEndpoint {
            value,
            expected_version,
        } => versioned!(
            c,
            webhook_endpoint,
            map::endpoint_model(value),
            *expected_version,
            "webhook endpoint"
        ),
        Change::FireAlert { threshold, window } => {
            // Conditional, so of two replicas evaluating at once only the first records the
            // window: the other's whole change set (audit and outbox included) rolls back.
            let res = alert_threshold::Entity::update_many()
                .col_expr(
                    alert_threshold::Column::LastFiredWindow,
                    Expr::value(window.clone()),
                )
                .filter(alert_threshold::Column::Id.eq(threshold.to_string()))
                .filter(
                    Condition::any()
                        .add(alert_threshold::Column::LastFiredWindow.is_null())
                        .add(alert_threshold::Column::LastFiredWindow.ne(window.clone())),
                )
                .exec(c)
                .await
                .map_err(tx_err("alert threshold"))?;
            if res.rows_affected == 0 {
                return Err(TxErr::Conflict(
                    "alert already raised in this window".into(),
                ));
            }
        }
        Change::PutAlertThreshold(t) => {
            alert_threshold::Entity::insert(all_set(map::threshold_model(t).into_active_model()))
                .on_conflict(
                    OnConflict::column(alert_threshold::Column::Id)
                        .update_columns([
                            alert_threshold::Column::ProjectId,
                            alert_threshold::Column::Metric,
                            alert_threshold::Column::LimitValue,
                            alert_threshold::Column::LastFiredWindow,
                            alert_threshold::Column::CreatedAt,
                        ])
                        .to_owned(),
                )
                .exec_without_returning(c)
                .await
                .map_err(tx_err("alert threshold"))?;
        }
        Change::DeleteAlertThreshold(id) => {
            alert_threshold::Entity::delete_by_id(id.to_string())
                .exec(c)
                .await?;
        }
        Change::RecordPayment(p) => {
            insert!(c, payment, map::payment_model(p), "payment");
        }
    }
    Ok(())
}

impl SeaOrmStore {
    pub(crate) async fn begin(&self) -> Result<DatabaseTransaction, DbErr> {
        let mut options = TransactionOptions::default();
        if self.backend() == DbBackend::Sqlite {
            // Take the write lock up front: a deferred transaction that reads the chain head
            // and then writes can be refused mid-way (SQLITE_BUSY_SNAPSHOT).
            options.sqlite_transaction_mode = Some(sea_orm::SqliteTransactionMode::Immediate);
        }
        self.db.begin_with_options(options).await
    }

    async fn try_commit(&self, set: &ChangeSet, step: &dyn TxStep) -> Result<(), TxErr> {
        let txn = self.begin().await?;
        let applied = match step.run(&txn).await {
            Ok(()) => Self::apply_set(&txn, set).await,
            Err(e) => Err(e),
        };
        match applied {
            Ok(()) => Ok(txn.commit().await?),
            Err(e) => {
                if let Err(rb) = txn.rollback().await {
                    tracing::warn!(error = %rb, "rollback failed");
                }
                Err(e)
            }
        }
    }

    async fn apply_set(txn: &DatabaseTransaction, set: &ChangeSet) -> Result<(), TxErr> {
        for change in &set.changes {
            apply(txn, change).await?;
        }
        let chains: BTreeSet<String> = set
            .audit
            .iter()
            .map(|d| map::chain_key(d.workspace_id))
            .collect();
        if txn.get_database_backend() == DbBackend::Postgres {
            // One writer per chain: the lock is held until this transaction ends, so the
            // head read below is the true head. Locks are taken in a fixed order.
            for chain in &chains {
                txn.query_one_raw(Statement::from_sql_and_values(
                    DbBackend::Postgres,
                    "SELECT pg_advisory_xact_lock(hashtext($1))::text",
                    [chain.clone().into()],
                ))
                .await?;
            }
        }
        // The stored head, not the last event, is where the chain continues: an append after
        // a cut tail then leaves a gap that verification names instead of hiding the cut.
        let mut heads: HashMap<String, Option<(i64, String)>> = HashMap::new();
        for chain in chains {
            let stored = audit_chain_head::Entity::find_by_id(chain.clone())
                .one(txn)
                .await?
                .map(|h| (h.seq, h.hash));
            let head = match stored {
                Some(h) => Some(h),
                None => audit_event::Entity::find()
                    .filter(audit_event::Column::Chain.eq(chain.clone()))
                    .order_by_desc(audit_event::Column::Seq)
                    .one(txn)
                    .await?
                    .map(|e| (e.seq, e.hash)),
            };
            heads.insert(chain, head);
        }
        let mut last: BTreeMap<String, audit_chain_head::Model> = BTreeMap::new();
        for draft in &set.audit {
            let chain = map::chain_key(draft.workspace_id);
            let head = heads.get_mut(&chain).expect("every chain's head was read");
            let sealed =
                AuditEvent::seal(draft.clone(), head.as_ref().map(|(s, h)| (*s, h.as_str())));
            *head = Some((sealed.seq, sealed.hash.clone()));
            insert!(txn, audit_event, map::audit_model(&sealed), "audit event");
            last.insert(
                chain.clone(),
                audit_chain_head::Model {
                    chain,
                    seq: sealed.seq,
                    hash: sealed.hash,
                    event_id: sealed.draft.id.to_string(),
                },
            );
        }
        for head in last.into_values() {
            audit_chain_head::Entity::insert(all_set(head.into_active_model()))
                .on_conflict(
                    OnConflict::column(audit_chain_head::Column::Chain)
                        .update_columns([
                            audit_chain_head::Column::Seq,
                            audit_chain_head::Column::Hash,
                            audit_chain_head::Column::EventId,
                        ])
                        .to_owned(),
                )
                .exec_without_returning(txn)
                .await
                .map_err(tx_err("audit chain head"))?;
        }
        for msg in &set.outbox {
            insert!(
                txn,
                outbox_message,
                map::outbox_model(msg),
                "outbox message"
            );
        }
        Ok(())
    }

    /// Records a signed test delivery result (the webhooks worker's job).
    pub async fn record_test_delivery(
        &self,
        project: ProjectId,
        endpoint: Option<WebhookEndpointId>,
        at: DateTime<Utc>,
        ok: bool,
    ) -> StoreResult<()> {
        webhook_test_delivery::Entity::insert(webhook_test_delivery::ActiveModel {
            project_id: Set(project.to_string()),
            endpoint_id: Set(endpoint.map(|e| e.to_string())),
            at: Set(at),
            ok: Set(ok),
            ..Default::default()
        })
        .exec_without_returning(&self.db)
        .await
        .map_err(store_err("record test delivery"))?;
        Ok(())
    }

    /// Outbox messages in the order they were written (oldest first).
    pub async fn outbox_messages(&self) -> StoreResult<Vec<OutboxMessage>> {
        outbox_message::Entity::find()
            .order_by_asc(outbox_message::Column::CreatedAt)
            .order_by_asc(outbox_message::Column::Id)
            .all(&self.db)
            .await
            .map_err(store_err("read outbox"))?
            .into_iter()
            .map(map::outbox)
            .collect()
    }

    /// Payments of a subscription, oldest first.
    pub async fn payments_of(&self, subscription: SubscriptionId) -> StoreResult<Vec<Payment>> {
        payment::Entity::find()
            .filter(payment::Column::SubscriptionId.eq(subscription.to_string()))
            .order_by_asc(payment::Column::At)
            .order_by_asc(payment::Column::Id)
            .all(&self.db)
            .await
            .map_err(store_err("read payments"))?
            .into_iter()
            .map(map::payment)
            .collect()
    }
}

fn all<M, T>(rows: Result<Vec<M>, DbErr>, op: &'static str, f: fn(M) -> R<T>) -> R<Vec<T>> {
    rows.map_err(store_err(op))?.into_iter().map(f).collect()
}

fn one<M, T>(row: Result<Option<M>, DbErr>, op: &'static str, f: fn(M) -> R<T>) -> R<Option<T>> {
    row.map_err(store_err(op))?.map(f).transpose()
}

/// Writes of another port that must land in the same transaction as a [`ChangeSet`] (the
/// delivery store's conditional updates): run first, then the change set is applied, by the
/// same code and with the same retries as [`UnitOfWork::commit`]. A step may run more than
/// once (a transient failure retries the whole transaction).
#[async_trait]
pub(crate) trait TxStep: Send + Sync {
    async fn run(&self, txn: &DatabaseTransaction) -> Result<(), TxErr>;
}

struct NoStep;

#[async_trait]
impl TxStep for NoStep {
    async fn run(&self, _txn: &DatabaseTransaction) -> Result<(), TxErr> {
        Ok(())
    }
}

#[async_trait]
impl UnitOfWork for SeaOrmStore {
    async fn commit(&self, set: ChangeSet) -> StoreResult<()> {
        self.transact(&set, &NoStep).await
    }
}

impl SeaOrmStore {
    /// `step`, then `set`, in one transaction: what [`UnitOfWork::commit`] does, with a step
    /// of another port in front. Conflicts (a step's, a version check's, a unique key) roll
    /// everything back and answer `Conflict`; transient failures retry the whole.
    pub(crate) async fn transact(&self, set: &ChangeSet, step: &dyn TxStep) -> StoreResult<()> {
        let _writer = match &self.write_lock {
            Some(l) => Some(l.lock().await),
            None => None,
        };
        let mut attempt = 1;
        loop {
            match self.try_commit(set, step).await {
                Ok(()) => return Ok(()),
                Err(TxErr::Conflict(what)) => return Err(StoreError::Conflict(what)),
                Err(TxErr::Db(e)) => match classify(&e) {
                    ErrKind::Unique => {
                        return Err(StoreError::Conflict("a unique key is taken".into()));
                    }
                    ErrKind::Transient if attempt < MAX_ATTEMPTS => {
                        tracing::debug!(error = %e, attempt, "transient failure, retrying commit");
                        tokio::time::sleep(Duration::from_millis(5 << attempt)).await;
                        attempt += 1;
                    }
                    _ => {
                        tracing::error!(error = %e, attempt, "commit failed");
                        return Err(StoreError::Unavailable(
                            "database error during commit".into(),
                        ));
                    }
                },
            }
        }
    }
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

#[async_trait]
impl PlanStore for SeaOrmStore {
    async fn product(&self, id: ProductId) -> StoreResult<Option<ApiProduct>> {
        let r = product::Entity::find_by_id(id.to_string())
            .one(&self.db)
            .await;
        one(r, "read product", map::product)
    }
    async fn products(&self) -> StoreResult<Vec<ApiProduct>> {
        let r = product::Entity::find()
            .order_by_asc(product::Column::Id)
            .all(&self.db)
            .await;
        all(r, "read products", map::product)
    }
    async fn plan(&self, id: PlanId) -> StoreResult<Option<Plan>> {
        let r = plan::Entity::find_by_id(id.to_string()).one(&self.db).await;
        one(r, "read plan", map::plan)
    }
    async fn plans(&self) -> StoreResult<Vec<Plan>> {
        let r = plan::Entity::find()
            .order_by_asc(plan::Column::Id)
            .all(&self.db)
            .await;
        all(r, "read plans", map::plan)
    }
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

#[async_trait]
impl SubscriptionStore for SeaOrmStore {
    async fn subscription(&self, id: SubscriptionId) -> StoreResult<Option<Subscription>> {
        let r = subscription::Entity::find_by_id(id.to_string())
            .one(&self.db)
            .await;
        one(r, "read subscription", map::subscription)
    }
    async fn subscriptions(&self, ws: WorkspaceId) -> StoreResult<Vec<Subscription>> {
        let r = subscription::Entity::find()
            .filter(subscription::Column::WorkspaceId.eq(ws.to_string()))
            .order_by_asc(subscription::Column::Id)
            .all(&self.db)
            .await;
        all(r, "read subscriptions", map::subscription)
    }
    async fn review_queue(
        &self,
        after: Option<QueueCursor>,
        limit: u64,
    ) -> StoreResult<Vec<Subscription>> {
        use subscription::Column as C;
        let mut q = subscription::Entity::find().filter(C::Phase.eq("in_review"));
        if let Some((at, id)) = after {
            // `submitted_at >= at` is implied by the OR below, and spelled out for SQLite's
            // planner: without it, SQLite seeks the index on `phase` only and scans every row
            // in review before the cursor (a last page at 1 M rows took 5× the first; issue 7).
            q = q.filter(
                Condition::all().add(C::SubmittedAt.gte(at)).add(
                    Condition::any().add(C::SubmittedAt.gt(at)).add(
                        Condition::all()
                            .add(C::SubmittedAt.eq(at))
                            .add(C::Id.gt(id.to_string())),
                    ),
                ),
            );
        }
        let r = q
            .order_by_asc(C::SubmittedAt)
            .order_by_asc(C::Id)
            .limit(limit)
            .all(&self.db)
            .await;
        all(r, "read review queue", map::subscription)
    }
    async fn inbox(
        &self,
        q: &onboarding_core::inbox::InboxQuery,
    ) -> StoreResult<Vec<Subscription>> {
        self.inbox_page(q).await
    }
    async fn inbox_count(&self, q: &onboarding_core::inbox::InboxQuery) -> StoreResult<u64> {
        self.inbox_total(q).await
    }
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

#[async_trait]
impl WebhookStore for SeaOrmStore {
    async fn endpoint(&self, id: WebhookEndpointId) -> StoreResult<Option<WebhookEndpoint>> {
        let r = webhook_endpoint::Entity::find_by_id(id.to_string())
            .one(&self.db)
            .await;
        one(r, "read endpoint", map::endpoint)
    }
    async fn endpoints(&self, project: ProjectId) -> StoreResult<Vec<WebhookEndpoint>> {
        let r = webhook_endpoint::Entity::find()
            .filter(webhook_endpoint::Column::ProjectId.eq(project.to_string()))
            .order_by_asc(webhook_endpoint::Column::Id)
            .all(&self.db)
            .await;
        all(r, "read endpoints", map::endpoint)
    }
    async fn last_test_delivery(
        &self,
        project: ProjectId,
    ) -> StoreResult<Option<(DateTime<Utc>, bool)>> {
        // The newest by delivery time; of equal times, the one recorded last.
        let recorded = webhook_test_delivery::Entity::find()
            .filter(webhook_test_delivery::Column::ProjectId.eq(project.to_string()))
            .order_by_desc(webhook_test_delivery::Column::At)
            .order_by_desc(webhook_test_delivery::Column::Id)
            .one(&self.db)
            .await
            .map_err(store_err("read test delivery"))?
            .map(|d| (d.at, d.ok));
        // The newest of a hand-recorded result and a real `test` delivery (as the reference
        // store answers).
        let delivered = DeliveryStore::last_test_delivery(self, project).await?;
        Ok(recorded
            .into_iter()
            .chain(delivered)
            .max_by_key(|(at, _)| *at))
    }
}

#[async_trait]
impl UsageStore for SeaOrmStore {
    async fn add(&self, buckets: Vec<UsageBucket>) -> StoreResult<()> {
        // One row per key per statement: PostgreSQL refuses to update a row twice in one
        // ON CONFLICT statement.
        let mut merged: BTreeMap<(CredentialId, String, DateTime<Utc>), UsageBucket> =
            BTreeMap::new();
        for b in buckets {
            merged
                .entry((b.credential_id, b.endpoint.clone(), b.bucket_start))
                .and_modify(|e| {
                    e.requests += b.requests;
                    e.errors += b.errors;
                })
                .or_insert(b);
        }
        let rows: Vec<usage_bucket::ActiveModel> = merged
            .values()
            .map(|b| all_set(map::usage_model(b).into_active_model()))
            .collect();
        // All chunks in one transaction: a failed flush is retried whole by the meter, so a
        // partly applied one would count twice.
        let _writer = match &self.write_lock {
            Some(l) => Some(l.lock().await),
            None => None,
        };
        let txn = self.begin().await.map_err(store_err("add usage"))?;
        for chunk in rows.chunks(USAGE_CHUNK) {
            usage_bucket::Entity::insert_many(chunk.to_vec())
                .on_conflict(
                    OnConflict::columns([
                        usage_bucket::Column::CredentialId,
                        usage_bucket::Column::Endpoint,
                        usage_bucket::Column::BucketStart,
                    ])
                    .value(
                        usage_bucket::Column::Requests,
                        Expr::cust("usage_bucket.requests + excluded.requests"),
                    )
                    .value(
                        usage_bucket::Column::Errors,
                        Expr::cust("usage_bucket.errors + excluded.errors"),
                    )
                    .to_owned(),
                )
                .exec_without_returning(&txn)
                .await
                .map_err(store_err("add usage"))?;
        }
        txn.commit().await.map_err(store_err("add usage"))
    }
    async fn successful_calls(
        &self,
        project: ProjectId,
        endpoints: Vec<String>,
    ) -> StoreResult<u64> {
        if endpoints.is_empty() {
            return Ok(0);
        }
        let total: Option<i64> = usage_bucket::Entity::find()
            .select_only()
            .column_as(
                Expr::cust("COALESCE(CAST(SUM(requests - errors) AS BIGINT), 0)"),
                "total",
            )
            .filter(usage_bucket::Column::ProjectId.eq(project.to_string()))
            .filter(usage_bucket::Column::Endpoint.is_in(endpoints))
            .into_tuple()
            .one(&self.db)
            .await
            .map_err(store_err("count calls"))?;
        Ok(total.unwrap_or(0).max(0) as u64)
    }
    async fn buckets(
        &self,
        project: ProjectId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreResult<Vec<UsageBucket>> {
        use usage_bucket::Column as C;
        let r = usage_bucket::Entity::find()
            .filter(C::ProjectId.eq(project.to_string()))
            .filter(C::BucketStart.gte(from))
            .filter(C::BucketStart.lt(to))
            .order_by_asc(C::CredentialId)
            .order_by_asc(C::Endpoint)
            .order_by_asc(C::BucketStart)
            .all(&self.db)
            .await;
        all(r, "read usage", map::usage)
    }
}

#[async_trait]
impl AlertStore for SeaOrmStore {
    async fn thresholds(&self, project: ProjectId) -> StoreResult<Vec<AlertThreshold>> {
        let r = alert_threshold::Entity::find()
            .filter(alert_threshold::Column::ProjectId.eq(project.to_string()))
            .order_by_asc(alert_threshold::Column::Id)
            .all(&self.db)
            .await;
        all(r, "read thresholds", map::threshold)
    }
}

#[async_trait]
impl AuditLog for SeaOrmStore {
    async fn events(
        &self,
        workspace: Option<WorkspaceId>,
        after_seq: i64,
        limit: u64,
    ) -> StoreResult<Vec<AuditEvent>> {
        let r = audit_event::Entity::find()
            .filter(audit_event::Column::Chain.eq(map::chain_key(workspace)))
            .filter(audit_event::Column::Seq.gt(after_seq))
            .order_by_asc(audit_event::Column::Seq)
            .limit(limit)
            .all(&self.db)
            .await;
        all(r, "read audit events", map::audit)
    }
    async fn chains(&self) -> StoreResult<Vec<Option<WorkspaceId>>> {
        let keys: Vec<String> = audit_event::Entity::find()
            .select_only()
            .column(audit_event::Column::Chain)
            .distinct()
            .into_tuple()
            .all(&self.db)
            .await
            .map_err(store_err("read audit chains"))?;
        // A chain whose every event was deleted still has its head.
        let headed: Vec<String> = audit_chain_head::Entity::find()
            .select_only()
            .column(audit_chain_head::Column::Chain)
            .into_tuple()
            .all(&self.db)
            .await
            .map_err(store_err("read audit chain heads"))?;
        let keys: BTreeSet<String> = keys.into_iter().chain(headed).collect();
        let mut out = keys
            .iter()
            .map(|k| match k.as_str() {
                "provider" => Ok(None),
                ws => map::de(ws).map(Some),
            })
            .collect::<R<Vec<Option<WorkspaceId>>>>()?;
        out.sort();
        Ok(out)
    }
    async fn head(&self, workspace: Option<WorkspaceId>) -> StoreResult<Option<ChainHead>> {
        let r = audit_chain_head::Entity::find_by_id(map::chain_key(workspace))
            .one(&self.db)
            .await
            .map_err(store_err("read audit chain head"))?;
        Ok(r.map(|h| ChainHead {
            seq: h.seq,
            hash: h.hash,
            event_id: h.event_id,
        }))
    }
}

#[async_trait]
impl PaymentGateway for SeaOrmStore {
    async fn is_paid(&self, subscription: SubscriptionId) -> StoreResult<bool> {
        Ok(payment::Entity::find()
            .filter(payment::Column::SubscriptionId.eq(subscription.to_string()))
            .count(&self.db)
            .await
            .map_err(store_err("read payments"))?
            > 0)
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

/// Marks an idempotency claim committed inside the change's transaction; refuses (rolling
/// the change back) when the claim is no longer this request's (its lease passed and a retry
/// took it over).
struct MarkClaim<'a> {
    hold: &'a IdempotencyHold,
    what: &'a CommittedRequest,
    at: DateTime<Utc>,
}

#[async_trait]
impl TxStep for MarkClaim<'_> {
    async fn run(&self, txn: &DatabaseTransaction) -> Result<(), TxErr> {
        use idempotency_key::Column as C;
        use sea_orm::sea_query::Func;
        // The first commit of a request names it; a later one keeps that name.
        let res = idempotency_key::Entity::update_many()
            .col_expr(C::CommittedAt, Expr::value(self.at))
            .col_expr(
                C::CommittedAction,
                Func::coalesce([
                    Expr::col(C::CommittedAction),
                    Expr::value(self.what.action.clone()),
                ])
                .into(),
            )
            .col_expr(
                C::CommittedTarget,
                Func::coalesce([
                    Expr::col(C::CommittedTarget),
                    Expr::value(self.what.target.clone()),
                ])
                .into(),
            )
            .filter(C::Scope.eq(self.hold.scope.as_str()))
            .filter(C::Key.eq(self.hold.key.as_str()))
            .filter(C::Token.eq(self.hold.token.as_str()))
            .exec(txn)
            .await?;
        if res.rows_affected == 0 {
            return Err(TxErr::Conflict(
                "idempotency key claimed by another request".into(),
            ));
        }
        Ok(())
    }
}

#[async_trait]
impl IdempotencyStore for SeaOrmStore {
    async fn claim(
        &self,
        hold: &IdempotencyHold,
        request_hash: &str,
        now: DateTime<Utc>,
        lease: chrono::TimeDelta,
    ) -> StoreResult<IdempotencyClaim> {
        use idempotency_key::Column as C;
        // Insert-if-absent decides the race; a loser reads the winner's row. The row can
        // vanish (released) or change hands (taken over) in between, hence the loop.
        for _ in 0..MAX_ATTEMPTS {
            let inserted = idempotency_key::Entity::insert(idempotency_key::ActiveModel {
                scope: Set(hold.scope.clone()),
                key: Set(hold.key.clone()),
                request_hash: Set(request_hash.to_owned()),
                status: Set(None),
                body: Set(None),
                location: Set(None),
                created_at: Set(now),
                run: Set(Some(hold.run.clone())),
                token: Set(Some(hold.token.clone())),
                claimed_at: Set(Some(now)),
                committed_at: Set(None),
                committed_action: Set(None),
                committed_target: Set(None),
            })
            .on_conflict_do_nothing_on([C::Scope, C::Key])
            .exec_without_returning(&self.db)
            .await
            .map_err(store_err("claim idempotency key"))?;
            if matches!(inserted, TryInsertResult::Inserted(n) if n > 0) {
                return Ok(IdempotencyClaim::Claimed);
            }
            let row = idempotency_key::Entity::find_by_id((hold.scope.clone(), hold.key.clone()))
                .one(&self.db)
                .await
                .map_err(store_err("read idempotency key"))?;
            let Some(row) = row else { continue };
            if row.request_hash != request_hash {
                return Ok(IdempotencyClaim::Mismatch);
            }
            if let (Some(status), Some(body)) = (row.status, row.body) {
                return Ok(IdempotencyClaim::Replay(StoredResponse {
                    status: status as u16,
                    body,
                    location: row.location,
                }));
            }
            // Nobody holds it any more when its run was released, or when its lease passed.
            let abandoned =
                row.token.is_none() || row.claimed_at.unwrap_or(row.created_at) + lease <= now;
            if !abandoned {
                return Ok(IdempotencyClaim::InProgress);
            }
            if row.committed_at.is_some() {
                return Ok(IdempotencyClaim::Committed(CommittedRequest {
                    action: row.committed_action.unwrap_or_default(),
                    target: row.committed_target.unwrap_or_default(),
                }));
            }
            // Abandoned: take it over unless its holder committed or answered meanwhile, or
            // another retry took it first (the holder's token is the fence).
            let holder = match row.token {
                Some(t) => C::Token.eq(t),
                None => C::Token.is_null(),
            };
            let taken = idempotency_key::Entity::update_many()
                .col_expr(C::Run, Expr::value(hold.run.clone()))
                .col_expr(C::Token, Expr::value(hold.token.clone()))
                .col_expr(C::ClaimedAt, Expr::value(now))
                .filter(C::Scope.eq(hold.scope.as_str()))
                .filter(C::Key.eq(hold.key.as_str()))
                .filter(holder)
                .filter(C::CommittedAt.is_null())
                .filter(C::Status.is_null())
                .exec(&self.db)
                .await
                .map_err(store_err("take over idempotency key"))?;
            if taken.rows_affected == 1 {
                return Ok(IdempotencyClaim::Claimed);
            }
        }
        Err(StoreError::Unavailable(
            "idempotency key claimed and released repeatedly".into(),
        ))
    }
    async fn commit_claimed(
        &self,
        hold: &IdempotencyHold,
        changes: ChangeSet,
        what: CommittedRequest,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        self.transact(
            &changes,
            &MarkClaim {
                hold,
                what: &what,
                at,
            },
        )
        .await
    }
    async fn complete(&self, hold: &IdempotencyHold, response: StoredResponse) -> StoreResult<()> {
        use idempotency_key::Column as C;
        idempotency_key::Entity::update_many()
            .col_expr(C::Status, Expr::value(i32::from(response.status)))
            .col_expr(C::Body, Expr::value(response.body))
            .col_expr(C::Location, Expr::value(response.location))
            .filter(C::Scope.eq(hold.scope.as_str()))
            .filter(C::Key.eq(hold.key.as_str()))
            .filter(C::Token.eq(hold.token.as_str()))
            .exec(&self.db)
            .await
            .map_err(store_err("complete idempotency key"))?;
        Ok(())
    }
    async fn release(&self, hold: &IdempotencyHold) -> StoreResult<()> {
        use idempotency_key::Column as C;
        idempotency_key::Entity::delete_many()
            .filter(C::Scope.eq(hold.scope.as_str()))
            .filter(C::Key.eq(hold.key.as_str()))
            .filter(C::Token.eq(hold.token.as_str()))
            .filter(C::CommittedAt.is_null())
            .exec(&self.db)
            .await
            .map_err(store_err("release idempotency key"))?;
        Ok(())
    }
    async fn release_run(&self, run: &str) -> StoreResult<u64> {
        use idempotency_key::Column as C;
        let gone = idempotency_key::Entity::delete_many()
            .filter(C::Run.eq(run))
            .filter(C::CommittedAt.is_null())
            .filter(C::Status.is_null())
            .exec(&self.db)
            .await
            .map_err(store_err("release idempotency keys"))?;
        // Committed but unanswered: kept, with nobody holding it (its answer is lost).
        let orphaned = idempotency_key::Entity::update_many()
            .col_expr(C::Token, Expr::value(Option::<String>::None))
            .filter(C::Run.eq(run))
            .filter(C::Token.is_not_null())
            .filter(C::Status.is_null())
            .exec(&self.db)
            .await
            .map_err(store_err("release idempotency keys"))?;
        Ok(gone.rows_affected + orphaned.rows_affected)
    }
}
