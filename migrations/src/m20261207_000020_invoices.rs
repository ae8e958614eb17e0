//! Issue 22: invoices that payments are made against, refunds, and the payment processor's
//! events handled once per id (docs/decisions/0040-0042).
//!
//! Payments recorded before invoices existed each stood for "this subscription is paid"; each
//! such subscription gets one paid up-front invoice for the sum of its payments (in the first
//! payment's currency, for the month of the first payment), so that what was unlocked stays
//! unlocked.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Invoice {
    Table,
    Id,
    WorkspaceId,
    SubscriptionId,
    Kind,
    Period,
    Lines,
    Currency,
    Total,
    AmountPaid,
    AmountRefunded,
    State,
    IssuedAt,
    DueAt,
    GraceDays,
    PaidAt,
    Version,
}

#[derive(DeriveIden)]
enum Refund {
    Table,
    Id,
    WorkspaceId,
    InvoiceId,
    PaymentId,
    Amount,
    Currency,
    Reference,
    RecordedBy,
    At,
}

#[derive(DeriveIden)]
enum ProcessorEvent {
    Table,
    Id,
    At,
}

#[derive(DeriveIden)]
enum Payment {
    Table,
    InvoiceId,
    Reference,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Invoice::Table)
                .col(string(Invoice::Id).primary_key())
                .col(string(Invoice::WorkspaceId))
                .col(string(Invoice::SubscriptionId))
                .col(string(Invoice::Kind))
                .col(string(Invoice::Period))
                .col(text(Invoice::Lines))
                .col(string(Invoice::Currency))
                // Money as text: SQLite would read a decimal back through f64.
                .col(string(Invoice::Total))
                .col(string(Invoice::AmountPaid))
                .col(string(Invoice::AmountRefunded))
                .col(string(Invoice::State))
                .col(timestamp_with_time_zone(Invoice::IssuedAt))
                .col(timestamp_with_time_zone(Invoice::DueAt))
                .col(integer(Invoice::GraceDays))
                .col(timestamp_with_time_zone_null(Invoice::PaidAt))
                .col(big_integer(Invoice::Version))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Refund::Table)
                .col(string(Refund::Id).primary_key())
                .col(string(Refund::WorkspaceId))
                .col(string(Refund::InvoiceId))
                .col(string(Refund::PaymentId))
                .col(string(Refund::Amount))
                .col(string(Refund::Currency))
                .col(text(Refund::Reference))
                .col(string(Refund::RecordedBy))
                .col(timestamp_with_time_zone(Refund::At))
                .to_owned(),
        )
        .await?;
        // The primary key is what makes a processor's event change state once.
        m.create_table(
            Table::create()
                .table(ProcessorEvent::Table)
                .col(string(ProcessorEvent::Id).primary_key())
                .col(timestamp_with_time_zone(ProcessorEvent::At))
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Payment::Table)
                .add_column(string_null(Payment::InvoiceId))
                .to_owned(),
        )
        .await?;
        for (name, table, cols) in [
            (
                "idx_invoice_subscription",
                Invoice::Table,
                vec![Invoice::SubscriptionId, Invoice::IssuedAt],
            ),
            (
                "idx_invoice_workspace",
                Invoice::Table,
                vec![Invoice::WorkspaceId, Invoice::IssuedAt],
            ),
            (
                "idx_invoice_state",
                Invoice::Table,
                vec![Invoice::State, Invoice::Id],
            ),
        ] {
            let mut i = Index::create().name(name).table(table).to_owned();
            for c in cols {
                i.col(c);
            }
            m.create_index(i).await?;
        }
        m.create_index(
            Index::create()
                .name("idx_payment_invoice")
                .table(Payment::Table)
                .col(Payment::InvoiceId)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_payment_reference")
                .table(Payment::Table)
                .col(Payment::Reference)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_refund_invoice")
                .table(Refund::Table)
                .col(Refund::InvoiceId)
                .to_owned(),
        )
        .await?;

        let month = match m.get_database_backend() {
            DbBackend::Postgres => "to_char(f.at AT TIME ZONE 'UTC', 'YYYY-MM')",
            _ => "strftime('%Y-%m', f.at)",
        };
        let c = m.get_connection();
        c.execute_unprepared(&format!(
            "INSERT INTO invoice (id, workspace_id, subscription_id, kind, period, lines, currency, \
             total, amount_paid, amount_refunded, state, issued_at, due_at, grace_days, paid_at, version) \
             SELECT 'inv_' || substr(f.id, 5), f.workspace_id, f.subscription_id, 'up_front', {month}, \
             '[]', f.currency, t.total, t.total, '0', 'paid', f.at, f.at, 14, f.at, 0 \
             FROM payment f JOIN (SELECT subscription_id, MIN(id) AS first_id, \
             CAST(SUM(CAST(amount AS DECIMAL(30, 10))) AS VARCHAR(64)) AS total FROM payment \
             GROUP BY subscription_id) t ON t.first_id = f.id"
        ))
        .await?;
        c.execute_unprepared(
            "UPDATE payment SET invoice_id = (SELECT 'inv_' || substr(MIN(x.id), 5) \
             FROM payment x WHERE x.subscription_id = payment.subscription_id)",
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for name in ["idx_payment_invoice", "idx_payment_reference"] {
            m.drop_index(Index::drop().name(name).table(Payment::Table).to_owned())
                .await?;
        }
        m.alter_table(
            Table::alter()
                .table(Payment::Table)
                .drop_column(Payment::InvoiceId)
                .to_owned(),
        )
        .await?;
        for t in ["invoice", "refund", "processor_event"] {
            m.drop_table(Table::drop().table(Alias::new(t)).to_owned())
                .await?;
        }
        Ok(())
    }
}
