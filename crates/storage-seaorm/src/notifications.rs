//! The [`NotificationStore`] port (issue 21): notification rows, written by the unit of work
//! (`Change::QueueNotification`), read by the centre, leased by the mail worker exactly as
//! webhook deliveries are (`FOR UPDATE SKIP LOCKED` on PostgreSQL, a conditional update of
//! the lease columns on SQLite); and the e-mail preferences.

use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use onboarding_core::ids::{AccountId, NotificationId, StaffId, WorkspaceId};
use onboarding_core::notification::{
    Addressee, MailOutcome, MailPreferences, MailStatus, Notification, NotificationKind,
    NotificationStore,
};
use onboarding_core::ports::{ChangeSet, Principal, StoreError, StoreResult};
use onboarding_core::values::Email;
use onboarding_core::workspace::Staff;
use sea_orm::sea_query::{Expr, LockBehavior, LockType, OnConflict};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseTransaction, DbBackend,
    EntityTrait, IntoActiveModel, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};

use crate::SeaOrmStore;
use crate::entities::staff;
use crate::map;
use crate::store::{TxErr, TxStep, store_err, tx_err};

pub(crate) mod notification {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "notification")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub kind: String,
        pub principal: Option<String>,
        pub email: String,
        pub workspace_id: Option<String>,
        pub data: String,
        pub created_at: DateTimeUtc,
        pub read_at: Option<DateTimeUtc>,
        pub mail_status: String,
        pub attempts: i32,
        pub next_attempt_at: DateTimeUtc,
        pub last_error: Option<String>,
        pub lease_owner: Option<String>,
        pub lease_until: Option<DateTimeUtc>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub(crate) mod notification_preference {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "notification_preference")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub principal: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub kind: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

use notification::Column as N;
use notification_preference::Column as P;

fn principal_key(p: Principal) -> String {
    match p {
        Principal::Account(a) => a.to_string(),
        Principal::Staff(s) => s.to_string(),
    }
}

fn principal_of(s: &str) -> Option<Principal> {
    s.parse::<AccountId>()
        .map(Principal::Account)
        .or_else(|_| s.parse::<StaffId>().map(Principal::Staff))
        .ok()
}

fn unreadable(detail: impl std::fmt::Display) -> StoreError {
    tracing::error!(%detail, "unreadable notification row");
    StoreError::Unavailable("unreadable notification row".into())
}

fn model(n: &Notification) -> notification::Model {
    notification::Model {
        id: n.id.to_string(),
        kind: n.kind.as_str().to_owned(),
        principal: n.to.principal.map(principal_key),
        email: n.to.email.as_str().to_owned(),
        workspace_id: n.workspace_id.map(|w| w.to_string()),
        data: n.data.to_string(),
        created_at: n.created_at,
        read_at: n.read_at,
        mail_status: n.mail_status.as_str().to_owned(),
        attempts: n.attempts as i32,
        next_attempt_at: n.next_attempt_at,
        last_error: n.last_error.clone(),
        lease_owner: None,
        lease_until: None,
    }
}

fn row(m: notification::Model) -> StoreResult<Notification> {
    Ok(Notification {
        id: m.id.parse().map_err(unreadable)?,
        kind: m.kind.parse().map_err(unreadable)?,
        to: Addressee {
            principal: match m.principal.as_deref() {
                Some(p) => Some(principal_of(p).ok_or_else(|| unreadable(p))?),
                None => None,
            },
            email: Email::new(&m.email).map_err(unreadable)?,
        },
        workspace_id: m
            .workspace_id
            .map(|w| w.parse::<WorkspaceId>())
            .transpose()
            .map_err(unreadable)?,
        data: serde_json::from_str(&m.data).map_err(unreadable)?,
        created_at: m.created_at,
        read_at: m.read_at,
        mail_status: m.mail_status.parse().map_err(unreadable)?,
        attempts: m.attempts.max(0) as u32,
        next_attempt_at: m.next_attempt_at,
        last_error: m.last_error,
    })
}

fn rows(r: Result<Vec<notification::Model>, sea_orm::DbErr>) -> StoreResult<Vec<Notification>> {
    r.map_err(store_err("read notifications"))?
        .into_iter()
        .map(row)
        .collect()
}

/// The unit of work's arm for `Change::QueueNotification`.
pub(crate) async fn insert(c: &DatabaseTransaction, n: &Notification) -> Result<(), TxErr> {
    notification::Entity::insert(model(n).into_active_model().reset_all())
        .exec_without_returning(c)
        .await
        .map_err(tx_err("notification"))?;
    Ok(())
}

struct Claim<'a> {
    now: DateTime<Utc>,
    owner: &'a str,
    until: DateTime<Utc>,
    limit: u64,
    out: Mutex<Vec<Notification>>,
}

impl Claim<'_> {
    fn due(&self) -> Condition {
        Condition::all()
            .add(N::MailStatus.eq(MailStatus::Pending.as_str()))
            .add(N::NextAttemptAt.lte(self.now))
            .add(
                Condition::any()
                    .add(N::LeaseUntil.is_null())
                    .add(N::LeaseUntil.lte(self.now)),
            )
    }
}

#[async_trait]
impl TxStep for Claim<'_> {
    async fn run(&self, txn: &DatabaseTransaction) -> Result<(), TxErr> {
        let mut q = notification::Entity::find()
            .select_only()
            .column(N::Id)
            .filter(self.due())
            .order_by_asc(N::NextAttemptAt)
            .order_by_asc(N::Id)
            .limit(self.limit);
        if txn.get_database_backend() == DbBackend::Postgres {
            q = q.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
        }
        let ids: Vec<String> = q.into_tuple().all(txn).await?;
        if ids.is_empty() {
            self.out.lock().expect("claim lock").clear();
            return Ok(());
        }
        notification::Entity::update_many()
            .col_expr(N::LeaseOwner, Expr::value(self.owner))
            .col_expr(N::LeaseUntil, Expr::value(self.until))
            .filter(N::Id.is_in(ids.clone()))
            .filter(self.due())
            .exec(txn)
            .await?;
        let claimed = notification::Entity::find()
            .filter(N::Id.is_in(ids))
            .filter(N::LeaseOwner.eq(self.owner))
            .filter(N::LeaseUntil.eq(self.until))
            .order_by_asc(N::NextAttemptAt)
            .order_by_asc(N::Id)
            .all(txn)
            .await?;
        let claimed = claimed
            .into_iter()
            .map(row)
            .collect::<StoreResult<Vec<_>>>()
            .map_err(|e| TxErr::Conflict(e.to_string()))?;
        *self.out.lock().expect("claim lock") = claimed;
        Ok(())
    }
}

/// Records one attempt, only while `owner` holds the lease.
struct Settle<'a> {
    id: NotificationId,
    owner: &'a str,
    outcome: &'a MailOutcome,
}

#[async_trait]
impl TxStep for Settle<'_> {
    async fn run(&self, txn: &DatabaseTransaction) -> Result<(), TxErr> {
        let Some(cur) = notification::Entity::find_by_id(self.id.to_string())
            .filter(N::LeaseOwner.eq(self.owner))
            .one(txn)
            .await?
        else {
            return Err(TxErr::Conflict("notification lease".into()));
        };
        let mut next = cur.clone();
        next.lease_owner = None;
        next.lease_until = None;
        if *self.outcome != MailOutcome::Skipped {
            next.attempts += 1;
        }
        let finished = match self.outcome {
            MailOutcome::Sent => Some(MailStatus::Sent),
            MailOutcome::Skipped => Some(MailStatus::Skipped),
            MailOutcome::Failed { error } => {
                next.last_error = Some(error.clone());
                Some(MailStatus::Failed)
            }
            MailOutcome::Retry {
                next_attempt_at,
                error,
            } => {
                next.next_attempt_at = *next_attempt_at;
                next.last_error = Some(error.clone());
                None
            }
        };
        if let Some(status) = finished {
            next.mail_status = status.as_str().to_owned();
            // Once the e-mail is out (or never will be), its sealed link token goes.
            if let Ok(mut data) = serde_json::from_str::<serde_json::Value>(&next.data)
                && let Some(o) = data.as_object_mut()
                && o.remove("sealed_token").is_some()
            {
                next.data = data.to_string();
            }
        }
        let mut am = next.into_active_model();
        for c in [
            N::LeaseOwner,
            N::LeaseUntil,
            N::Attempts,
            N::LastError,
            N::NextAttemptAt,
            N::MailStatus,
            N::Data,
        ] {
            am.reset(c);
        }
        let updated = notification::Entity::update_many()
            .set(am)
            .filter(N::Id.eq(self.id.to_string()))
            .filter(N::LeaseOwner.eq(self.owner))
            .exec(txn)
            .await?;
        if updated.rows_affected == 0 {
            return Err(TxErr::Conflict("notification lease".into()));
        }
        Ok(())
    }
}

#[async_trait]
impl NotificationStore for SeaOrmStore {
    async fn staff_members(&self) -> StoreResult<Vec<Staff>> {
        staff::Entity::find()
            .order_by_asc(staff::Column::CreatedAt)
            .order_by_asc(staff::Column::Id)
            .all(&self.db)
            .await
            .map_err(store_err("read staff"))?
            .into_iter()
            .map(map::staff)
            .collect()
    }

    async fn notification(&self, id: NotificationId) -> StoreResult<Option<Notification>> {
        notification::Entity::find_by_id(id.to_string())
            .one(&self.db)
            .await
            .map_err(store_err("read notification"))?
            .map(row)
            .transpose()
    }

    async fn notifications_of(
        &self,
        principal: Principal,
        before: Option<NotificationId>,
        limit: u64,
    ) -> StoreResult<Vec<Notification>> {
        let mut q = notification::Entity::find().filter(N::Principal.eq(principal_key(principal)));
        if let Some(b) = before {
            q = q.filter(N::Id.lt(b.to_string()));
        }
        rows(q.order_by_desc(N::Id).limit(limit).all(&self.db).await)
    }

    async fn unread_count(&self, principal: Principal) -> StoreResult<u64> {
        notification::Entity::find()
            .filter(N::Principal.eq(principal_key(principal)))
            .filter(N::ReadAt.is_null())
            .count(&self.db)
            .await
            .map_err(store_err("count notifications"))
    }

    async fn mark_read(
        &self,
        principal: Principal,
        ids: Option<Vec<NotificationId>>,
        at: DateTime<Utc>,
    ) -> StoreResult<u64> {
        let mut q = notification::Entity::update_many()
            .col_expr(N::ReadAt, Expr::value(at))
            .filter(N::Principal.eq(principal_key(principal)))
            .filter(N::ReadAt.is_null());
        if let Some(ids) = ids {
            if ids.is_empty() {
                return Ok(0);
            }
            q = q.filter(N::Id.is_in(ids.iter().map(|i| i.to_string())));
        }
        Ok(q.exec(&self.db)
            .await
            .map_err(store_err("mark notifications read"))?
            .rows_affected)
    }

    async fn preferences(&self, principal: Principal) -> StoreResult<MailPreferences> {
        let rows = notification_preference::Entity::find()
            .filter(P::Principal.eq(principal_key(principal)))
            .all(&self.db)
            .await
            .map_err(store_err("read preferences"))?;
        // A kind this binary does not know (a newer release's) is ignored, not an error.
        Ok(MailPreferences {
            off: rows
                .iter()
                .filter_map(|r| r.kind.parse::<NotificationKind>().ok())
                .collect(),
        })
    }

    async fn set_preference(
        &self,
        principal: Principal,
        kind: NotificationKind,
        email: bool,
    ) -> StoreResult<()> {
        let key = principal_key(principal);
        if email {
            notification_preference::Entity::delete_many()
                .filter(P::Principal.eq(key))
                .filter(P::Kind.eq(kind.as_str()))
                .exec(&self.db)
                .await
                .map_err(store_err("write preference"))?;
        } else {
            let m = notification_preference::Model {
                principal: key,
                kind: kind.as_str().to_owned(),
            };
            notification_preference::Entity::insert(m.into_active_model().reset_all())
                .on_conflict(
                    OnConflict::columns([P::Principal, P::Kind])
                        .do_nothing()
                        .to_owned(),
                )
                .exec_without_returning(&self.db)
                .await
                .map_err(store_err("write preference"))?;
        }
        Ok(())
    }

    async fn claim_due_mail(
        &self,
        now: DateTime<Utc>,
        owner: &str,
        lease_until: DateTime<Utc>,
        limit: u64,
    ) -> StoreResult<Vec<Notification>> {
        if limit == 0 {
            return Ok(vec![]);
        }
        let step = Claim {
            now,
            owner,
            until: lease_until,
            limit,
            out: Mutex::new(vec![]),
        };
        self.transact(&ChangeSet::default(), &step).await?;
        Ok(step.out.into_inner().expect("claim lock"))
    }

    async fn release_mail_leases(&self, owner: &str) -> StoreResult<u64> {
        Ok(notification::Entity::update_many()
            .col_expr(N::LeaseOwner, Expr::value(Option::<String>::None))
            .col_expr(N::LeaseUntil, Expr::value(Option::<DateTime<Utc>>::None))
            .filter(N::LeaseOwner.eq(owner))
            .exec(&self.db)
            .await
            .map_err(store_err("release mail leases"))?
            .rows_affected)
    }

    async fn settle_mail(
        &self,
        id: NotificationId,
        owner: &str,
        outcome: MailOutcome,
        _at: DateTime<Utc>,
    ) -> StoreResult<()> {
        let step = Settle {
            id,
            owner,
            outcome: &outcome,
        };
        self.transact(&ChangeSet::default(), &step).await
    }
}
