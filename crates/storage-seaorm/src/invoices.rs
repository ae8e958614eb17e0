//! Invoices, refunds and processor events (issue 22): the tables of
//! `m20261207_000020_invoices`, their mapping and the [`InvoiceStore`] port.

use std::str::FromStr;

use async_trait::async_trait;
use onboarding_core::audit::Actor;
use onboarding_core::ids::*;
use onboarding_core::invoicing::{InvoiceState, IssuedInvoice, Payment, Refund};
use onboarding_core::pipeline::Subscription;
use onboarding_core::ports::{Change, InvoiceStore, StoreError, StoreResult};
use rust_decimal::Decimal;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseTransaction, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, QuerySelect,
};

use crate::SeaOrmStore;
use crate::entities::{payment, subscription};
use crate::map::{self, R, de, from_js, js};
use crate::store::{TxErr, store_err, tx_err};

pub mod invoice {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "invoice")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub workspace_id: String,
        pub subscription_id: String,
        pub kind: String,
        pub period: String,
        pub lines: String,
        pub currency: String,
        pub total: String,
        pub amount_paid: String,
        pub amount_refunded: String,
        pub state: String,
        pub issued_at: DateTimeUtc,
        pub due_at: DateTimeUtc,
        pub grace_days: i32,
        pub paid_at: Option<DateTimeUtc>,
        pub version: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod refund {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "refund")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub workspace_id: String,
        pub invoice_id: String,
        pub payment_id: String,
        pub amount: String,
        pub currency: String,
        pub reference: String,
        pub recorded_by: String,
        pub at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod processor_event {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "processor_event")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

fn corrupt(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(format!("stored {what} unreadable: {e}"))
}

fn dec(text: &str) -> R<Decimal> {
    Decimal::from_str(text).map_err(|e| corrupt("amount", e))
}

/// An actor in its display form (`staff_…`, `acct_…`, `cred_…`, `system`).
pub(crate) fn actor(text: &str) -> R<Actor> {
    if text == "system" {
        return Ok(Actor::System);
    }
    if let Ok(id) = StaffId::from_str(text) {
        return Ok(Actor::Staff(id));
    }
    if let Ok(id) = AccountId::from_str(text) {
        return Ok(Actor::Account(id));
    }
    CredentialId::from_str(text)
        .map(Actor::Credential)
        .map_err(|e| corrupt("actor", e))
}

fn invoice_model(i: &IssuedInvoice) -> invoice::Model {
    invoice::Model {
        id: i.id.to_string(),
        workspace_id: i.workspace_id.to_string(),
        subscription_id: i.subscription_id.to_string(),
        kind: i.kind.as_str().to_owned(),
        period: i.period.clone(),
        lines: js(&i.lines),
        currency: i.currency.as_str().to_owned(),
        total: i.total.to_string(),
        amount_paid: i.amount_paid.to_string(),
        amount_refunded: i.amount_refunded.to_string(),
        state: i.state.as_str().to_owned(),
        issued_at: i.issued_at,
        due_at: i.due_at,
        grace_days: i32::try_from(i.grace_days).unwrap_or(i32::MAX),
        paid_at: i.paid_at,
        version: i.version,
    }
}

fn invoice_of(m: invoice::Model) -> R<IssuedInvoice> {
    Ok(IssuedInvoice {
        id: de(&m.id)?,
        workspace_id: de(&m.workspace_id)?,
        subscription_id: de(&m.subscription_id)?,
        kind: m.kind.parse().map_err(|e| corrupt("invoice kind", e))?,
        period: m.period,
        lines: from_js(&m.lines)?,
        currency: de(&m.currency)?,
        total: dec(&m.total)?,
        amount_paid: dec(&m.amount_paid)?,
        amount_refunded: dec(&m.amount_refunded)?,
        state: m.state.parse().map_err(|e| corrupt("invoice state", e))?,
        issued_at: m.issued_at,
        due_at: m.due_at,
        grace_days: u32::try_from(m.grace_days).unwrap_or(0),
        paid_at: m.paid_at,
        version: m.version,
    })
}

fn refund_model(r: &Refund) -> refund::Model {
    refund::Model {
        id: r.id.to_string(),
        workspace_id: r.workspace_id.to_string(),
        invoice_id: r.invoice_id.to_string(),
        payment_id: r.payment_id.to_string(),
        amount: r.amount.to_string(),
        currency: r.currency.as_str().to_owned(),
        reference: r.reference.clone(),
        recorded_by: r.recorded_by.to_string(),
        at: r.at,
    }
}

fn refund_of(m: refund::Model) -> R<Refund> {
    Ok(Refund {
        id: de(&m.id)?,
        workspace_id: de(&m.workspace_id)?,
        invoice_id: de(&m.invoice_id)?,
        payment_id: de(&m.payment_id)?,
        amount: dec(&m.amount)?,
        currency: de(&m.currency)?,
        reference: m.reference,
        recorded_by: actor(&m.recorded_by)?,
        at: m.at,
    })
}

/// Applies invoicing's changes inside the change set's transaction.
pub(crate) async fn apply(c: &DatabaseTransaction, change: &Change) -> Result<(), TxErr> {
    match change {
        Change::InsertInvoice(i) => {
            invoice::Entity::insert(invoice_model(i).into_active_model().reset_all())
                .exec_without_returning(c)
                .await
                .map_err(tx_err("invoice"))?;
        }
        Change::UpdateInvoice {
            value,
            expected_version,
        } => {
            let mut m = invoice_model(value);
            m.version = expected_version + 1;
            let res = invoice::Entity::update_many()
                .set(m.into_active_model().reset_all())
                .filter(invoice::Column::Id.eq(value.id.to_string()))
                .filter(invoice::Column::Version.eq(*expected_version))
                .exec(c)
                .await
                .map_err(tx_err("invoice"))?;
            if res.rows_affected == 0 {
                return Err(TxErr::Conflict("invoice".into()));
            }
        }
        Change::RecordRefund(r) => {
            refund::Entity::insert(refund_model(r).into_active_model().reset_all())
                .exec_without_returning(c)
                .await
                .map_err(tx_err("refund"))?;
        }
        Change::RecordProcessorEvent { id, at } => {
            let m = processor_event::Model {
                id: id.clone(),
                at: *at,
            };
            processor_event::Entity::insert(m.into_active_model().reset_all())
                .exec_without_returning(c)
                .await
                .map_err(tx_err("processor event"))?;
        }
        _ => unreachable!("not an invoicing change"),
    }
    Ok(())
}

#[async_trait]
impl InvoiceStore for SeaOrmStore {
    async fn invoice(&self, id: InvoiceId) -> StoreResult<Option<IssuedInvoice>> {
        invoice::Entity::find_by_id(id.to_string())
            .one(&self.db)
            .await
            .map_err(store_err("read invoice"))?
            .map(invoice_of)
            .transpose()
    }

    async fn invoices_of_subscription(
        &self,
        subscription: SubscriptionId,
    ) -> StoreResult<Vec<IssuedInvoice>> {
        invoice::Entity::find()
            .filter(invoice::Column::SubscriptionId.eq(subscription.to_string()))
            .order_by_asc(invoice::Column::IssuedAt)
            .order_by_asc(invoice::Column::Id)
            .all(&self.db)
            .await
            .map_err(store_err("read invoices"))?
            .into_iter()
            .map(invoice_of)
            .collect()
    }

    async fn invoices_of_workspace(
        &self,
        workspace: WorkspaceId,
    ) -> StoreResult<Vec<IssuedInvoice>> {
        invoice::Entity::find()
            .filter(invoice::Column::WorkspaceId.eq(workspace.to_string()))
            .order_by_desc(invoice::Column::IssuedAt)
            .order_by_desc(invoice::Column::Id)
            .all(&self.db)
            .await
            .map_err(store_err("read invoices"))?
            .into_iter()
            .map(invoice_of)
            .collect()
    }

    async fn invoices_in_state(
        &self,
        state: InvoiceState,
        after: Option<InvoiceId>,
        limit: u64,
    ) -> StoreResult<Vec<IssuedInvoice>> {
        let mut q = invoice::Entity::find().filter(invoice::Column::State.eq(state.as_str()));
        if let Some(a) = after {
            q = q.filter(invoice::Column::Id.gt(a.to_string()));
        }
        q.order_by_asc(invoice::Column::Id)
            .limit(limit)
            .all(&self.db)
            .await
            .map_err(store_err("read invoices"))?
            .into_iter()
            .map(invoice_of)
            .collect()
    }

    async fn payments_of_invoice(&self, invoice: InvoiceId) -> StoreResult<Vec<Payment>> {
        payment::Entity::find()
            .filter(payment::Column::InvoiceId.eq(invoice.to_string()))
            .order_by_asc(payment::Column::At)
            .order_by_asc(payment::Column::Id)
            .all(&self.db)
            .await
            .map_err(store_err("read payments"))?
            .into_iter()
            .map(map::payment)
            .collect()
    }

    async fn payment_by_reference(&self, reference: &str) -> StoreResult<Option<Payment>> {
        payment::Entity::find()
            .filter(payment::Column::Reference.eq(reference))
            .order_by_asc(payment::Column::Id)
            .one(&self.db)
            .await
            .map_err(store_err("read payment"))?
            .map(map::payment)
            .transpose()
    }

    async fn refunds_of_invoice(&self, invoice: InvoiceId) -> StoreResult<Vec<Refund>> {
        refund::Entity::find()
            .filter(refund::Column::InvoiceId.eq(invoice.to_string()))
            .order_by_asc(refund::Column::At)
            .order_by_asc(refund::Column::Id)
            .all(&self.db)
            .await
            .map_err(store_err("read refunds"))?
            .into_iter()
            .map(refund_of)
            .collect()
    }

    async fn payment_by_id(&self, id: PaymentId) -> StoreResult<Option<Payment>> {
        payment::Entity::find_by_id(id.to_string())
            .one(&self.db)
            .await
            .map_err(store_err("read payment"))?
            .map(map::payment)
            .transpose()
    }

    async fn processor_event_seen(&self, id: &str) -> StoreResult<bool> {
        Ok(processor_event::Entity::find_by_id(id.to_owned())
            .one(&self.db)
            .await
            .map_err(store_err("read processor event"))?
            .is_some())
    }

    async fn production_subscriptions(&self) -> StoreResult<Vec<Subscription>> {
        subscription::Entity::find()
            .filter(subscription::Column::Phase.eq("production"))
            .order_by_asc(subscription::Column::Id)
            .all(&self.db)
            .await
            .map_err(store_err("read subscriptions"))?
            .into_iter()
            .map(map::subscription)
            .collect()
    }
}
